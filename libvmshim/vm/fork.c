/*
 * vm/fork.c - the VM across fork.
 *
 * Today the kernel copies the arena at fork as it copies any private
 * mapping (its own copy-on-write), MAP_SHARED arena memory stays shared
 * (its kernel mapping is shared), and MADV_WIPEONFORK is applied by the
 * kernel to the child's copy.  What the shim must do itself:
 *
 *   - No thread may be inside a mapping change or a fault while the
 *     address space is copied: fork takes the map lock for writing
 *     (vms_fork_prepare) and releases it in the parent; the child, which
 *     has only the forking thread, starts the lock afresh.
 *   - MADV_DONTFORK ranges are absent from the child: the kernel does not
 *     copy them, leaving real holes in the child's arena, so the child
 *     drops those VMAs and turns the holes back into reservation.
 *
 * The handlers are registered with pthread_atfork once the library is
 * initialised, first of all handlers, so the lock is taken after every
 * other prepare handler has run (they may touch arena memory) and released
 * before any other parent or child handler runs.
 */
#include "config.h"

#include <string.h>

#include "util/log.h"
#include "util/stats.h"
#include "vm/mm.h"

static uint64_t fork_saved_mask;

void vms_fork_prepare(void)
{
	if (vms_mm.base != 0) {
		vms_map_write_lock(&fork_saved_mask);
	}
}

void vms_fork_parent(void)
{
	if (vms_mm.base != 0) {
		vms_map_write_unlock(&fork_saved_mask);
	}
}

/* Removes the VMAs the kernel did not copy into this child. */
static void drop_dontfork_vmas(void)
{
	struct vms_vma_set *set = &vms_mm.vmas;
	for (struct vms_vma *v = vms_vma_first(set); v != NULL;) {
		struct vms_vma *next = vms_vma_next(v);
		if (v->flags & VMS_VMA_DONTFORK) {
			uintptr_t s = v->start, e = v->end;
			long before = vms_kmaps_boundaries(s, e);
			vms_gauge_add(&vms_stats.resident_pages, -(int64_t)vms_present_pages(s, e));
			vms_vma_remove(set, v);
			vms_vma_free(set, v);
			if (vms_arena_reserve(s, e) != 0) {
				vms_fatal("fork: cannot restore the reservation of [%p, %p)",
					  (void *)s, (void *)e);
			}
			vms_pte_release_range(&vms_mm.ptes, s, e);
			vms_kmaps_adjust(before, vms_kmaps_boundaries(s, e));
		}
		v = next;
	}
	vms_vmas_gauge_sync();
}

void vms_fork_child(void)
{
	if (vms_mm.base == 0) {
		return;
	}
	/* Only this thread exists: the lock's holder is this thread. */
	drop_dontfork_vmas();
	memset(&vms_mm.lock, 0, sizeof vms_mm.lock);
	vms_map_write_unlock(&fork_saved_mask);
}
