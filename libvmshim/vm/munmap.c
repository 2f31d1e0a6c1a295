/*
 * vm/munmap.c - removing mappings from the arena.
 *
 * vm_unmap_locked is the one place mappings die: munmap, MAP_FIXED
 * replacement and mremap all use it.  Each VMA's range goes back to plain
 * reservation, which returns its memory to the kernel: private memory with
 * vms_arena_discard (keeping the arena's anon_vma), shared and file memory,
 * and ranges carrying advice the kernel keeps per mapping (MADV_DONTFORK,
 * WIPEONFORK...), with a fresh mapping that replaces them; the PTEs are
 * released and empty page-table nodes freed.
 *
 * Errors (inside the arena; outside, the kernel answers):
 *   EINVAL  addr not page aligned, or length 0
 *   ENOMEM  a VMA had to be split and metadata allocation failed
 * Unmapping a range with holes, or nothing at all, succeeds as on Linux.
 */
#include "config.h"

#include <errno.h>

#include "os/raw.h"

#include "util/log.h"
#include "util/stats.h"
#include "vm/mm.h"

/* Removes the VMAs of [start, end); with kernel_too, also gives their
 * memory back to the kernel (else the kernel has replaced it already). */
static int unmap_locked(uintptr_t start, uintptr_t end, bool kernel_too)
{
	struct vms_vma_set *set = &vms_mm.vmas;
	struct vms_vma *v = vms_vma_first_in(set, start, end);
	if (v == NULL) {
		return 0;
	}
	if (vms_vma_clip(set, start, end) != 0) {
		return ENOMEM;
	}
	long before = vms_kmaps_boundaries(start, end);
	for (v = vms_vma_first_in(set, start, end); v != NULL && v->start < end;) {
		struct vms_vma *next = vms_vma_next(v);
		int err = 0;
		if (kernel_too && (v->flags & VMS_VMA_LOCKED)) {
			vms_raw_munlock((void *)v->start, v->end - v->start);
		}
		if ((v->flags & VMS_VMA_FILE) && (v->flags & VMS_VMA_SHARED)) {
			/* Dirty pages stay in the page cache: the kernel writes them. */
			size_t dirty = vms_dirty_pages(v->start, v->end);
			vms_gauge_add(&vms_stats.file_dirty, -(int64_t)dirty);
			vms_count_add(&vms_stats.written_back_pages, dirty);
		}
		if (kernel_too) {
			/* Advice the kernel keeps on its mapping (DONTFORK...) must not
			 * outlive the VMA: such ranges get a fresh mapping too. */
			bool fresh = vms_vma_has_object(v) || (v->flags & VMS_VMA_KERNEL_FLAGS);
			err = fresh ? vms_arena_reserve(v->start, v->end)
				    : vms_arena_discard(v->start, v->end);
		}
		if (err != 0) {
			vms_fatal("cannot return [%p, %p) to the arena: errno %d",
				  (void *)v->start, (void *)v->end, err);
		}
		vms_pages_release(v->start, v->end);
		vms_vma_remove(set, v);
		vms_vma_free(set, v);
		v = next;
	}
	vms_kmaps_adjust(before, vms_kmaps_boundaries(start, end));
	vms_vmas_gauge_sync();
	return 0;
}

int vm_unmap_locked(uintptr_t start, uintptr_t end)
{
	return unmap_locked(start, end, true);
}

void vm_forget_locked(uintptr_t start, uintptr_t end)
{
	if (unmap_locked(start, end, false) != 0) {
		/* Clipping needs metadata: without it the table would lie. */
		vms_fatal("no memory to update the VMA table for [%p, %p)", (void *)start,
			  (void *)end);
	}
}

int vm_munmap(void *addr, size_t len)
{
	uintptr_t start = (uintptr_t)addr;
	uintptr_t end = start + vms_page_up(len);
	if (vms_arena_where(start, end) != VMS_INSIDE) {
		return VMS_PASSTHROUGH;
	}
	if ((start & ~VMS_PAGE_MASK) || len == 0) {
		return EINVAL;
	}
	uint64_t saved;
	vms_map_write_lock(&saved);
	vms_anon_settle(start, end);
	int err = vm_unmap_locked(start, end);
	vms_map_write_unlock(&saved);
	return err;
}
