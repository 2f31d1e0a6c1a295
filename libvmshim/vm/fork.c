/*
 * vm/fork.c - the VM across fork, copy-on-write included.
 *
 * COW model: per-PTE marks.  The kernel is the hardware here: at fork it
 * copies the arena's page tables and write-protects private pages in both
 * processes, and it copies a page when one of them writes it.  The shim
 * keeps its own account of that sharing:
 *
 *   - Before the real fork, every present page of a private writable
 *     mapping (anonymous memory, private copies of file pages) is marked COW
 *     in the page table and write-protected with mprotect, one call per run
 *     of pages.  Only page-table leaves that exist are visited, so the cost
 *     follows what the process holds, not the arena's size.
 *   - After fork, the first write in either process traps into the shim (a
 *     COW fault, counted).  The shim clears COW on the aligned block around
 *     the page (the fault-around block, widened like fault-around when the
 *     kernel-mapping count is high) and gives write permission back; the
 *     kernel then copies exactly the pages that are written, and a page
 *     whose other user is gone is simply taken over, without a copy.
 *   - MAP_SHARED memory (anonymous and file) is not touched: its kernel
 *     mapping is shared by both processes.  MADV_DONTFORK and
 *     MADV_WIPEONFORK ranges are not shared with the child, so they are not
 *     write-protected either; nor are pages a system call in another
 *     thread is using (pinned: vm/pin.c), which would then fail with EFAULT.
 *   - Pages in swap at fork time (SWAPPED, or present with a copy in swap:
 *     SWAPCACHE) are shared through the swap file: the prepare handler
 *     takes one more reference on each of their slots for the child
 *     (vm/swap.c keeps the counts in shared memory, and which process
 *     holds each, so that the references of a child that ends without
 *     dropping them are reaped), and each process drops its own as its
 *     pages die or are rewritten.  Each process evicts on its own after.
 *   - MADV_WIPEONFORK ranges read zero in the child: it forgets their pages
 *     (dropping its swap references) and makes them reservation again.
 *
 * Also:
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
#include <sys/mman.h>

#include "os/raw.h"
#include "util/log.h"
#include "util/stats.h"
#include "vm/mm.h"
#include "vm/swap.h"

static uint64_t fork_saved_mask;

/* A present page the kernel lets the program write becomes COW; so does
 * one reclaim made inaccessible (not ACCESSED) that would be writable
 * when touched again (anonymous, or a private copy of a file page). */
static vms_pte_t mark_cow(vms_pte_t pte)
{
	bool writable = (vms_pte_prot(pte) & PROT_WRITE) != 0;
	bool inactive_writable = !(pte & VMS_PTE_ACCESSED) &&
				 (!(pte & VMS_PTE_FILE) || (pte & VMS_PTE_DIRTY)) &&
				 !(pte & VMS_PTE_SWAPCACHE);
	return writable || inactive_writable ? pte | VMS_PTE_COW : pte;
}

/*
 * Marks v's pages COW, except those a system call in another thread is
 * using (vm/pin.c): write-protecting them would make that call fail with
 * EFAULT.  The kernel copies them at fork anyway; the shim just does not
 * see their first write as a COW fault.
 */
static void mark_cow_unpinned(struct vms_vma *v)
{
	const uintptr_t chunk = VMS_PTE_PER_LEAF * VMS_PAGE_SIZE;
	for (uintptr_t x = v->start; x < v->end;) {
		uintptr_t stop = (x & ~(chunk - 1)) + chunk;
		stop = stop < v->end ? stop : v->end;
		if (!vms_pinned(x, stop)) {
			vms_reprotect(v, x, stop, mark_cow);
		} else {
			for (uintptr_t p = x; p < stop; p += VMS_PAGE_SIZE) {
				if (!vms_pinned(p, p + VMS_PAGE_SIZE)) {
					vms_reprotect(v, p, p + VMS_PAGE_SIZE, mark_cow);
				}
			}
		}
		x = stop;
	}
}

void vms_fork_prepare(void)
{
	if (vms_mm.base == 0) {
		return;
	}
	vms_map_write_lock(&fork_saved_mask);
	vms_anon_settle_all();
	/* The child gives each mapping an anon_vma of its own, after which
	 * two pieces never merge again: no two that are one for Linux may be
	 * apart now (a call's clip left behind would be). */
	for (struct vms_vma *v = vms_vma_first(&vms_mm.vmas); v != NULL;
	     v = vms_vma_next(vms_vma_merge(&vms_mm.vmas, v))) {
	}
	for (struct vms_vma *v = vms_vma_first(&vms_mm.vmas); v != NULL; v = vms_vma_next(v)) {
		if (!(v->flags & (VMS_VMA_SHARED | VMS_VMA_FOREIGN | VMS_VMA_DONTFORK |
				  VMS_VMA_WIPEONFORK)) &&
		    (v->prot & PROT_WRITE)) {
			mark_cow_unpinned(v);
		}
	}
	vms_swap_fork_prepare(); /* the child's participant index, before its references */
	vms_swap_fork_ref();
}

void vms_fork_parent(void)
{
	if (vms_mm.base != 0) {
		vms_swap_fork_parent();
		vms_map_write_unlock(&fork_saved_mask);
	}
}

/* Removes the VMAs the kernel did not copy into this child, and empties
 * the ranges it wiped. */
static void drop_dontfork_vmas(void)
{
	struct vms_vma_set *set = &vms_mm.vmas;
	for (struct vms_vma *v = vms_vma_first(set); v != NULL;) {
		struct vms_vma *next = vms_vma_next(v);
		uintptr_t s = v->start, e = v->end;
		if (v->flags & VMS_VMA_DONTFORK) {
			long before = vms_kmaps_boundaries(s, e);
			vms_pages_release(s, e);
			vms_vma_remove(set, v);
			vms_vma_free(set, v);
			if (vms_arena_reserve(s, e) != 0) {
				vms_fatal("fork: cannot restore the reservation of [%p, %p)",
					  (void *)s, (void *)e);
			}
			vms_kmaps_adjust(before, vms_kmaps_boundaries(s, e));
		} else if ((v->flags & VMS_VMA_WIPEONFORK) && !(v->flags & VMS_VMA_FOREIGN)) {
			/* The kernel gave this child empty memory there; the
			 * mapping keeps its WIPEONFORK flag for grandchildren. */
			long before = vms_kmaps_boundaries(s, e);
			vms_pages_release(s, e);
			long r = vms_raw_mprotect((void *)s, e - s, PROT_NONE);
			if (vms_raw_failed(r)) {
				vms_fatal("fork: cannot empty the wiped range [%p, %p): errno %ld",
					  (void *)s, (void *)e, -r);
			}
			vms_kmaps_adjust(before, vms_kmaps_boundaries(s, e));
		}
		v = next;
	}
	vms_vmas_gauge_sync();
}

/* dup_mmap gives each of the child's mappings that had an anon_vma one of
 * its own, chained to the parent's (anon_vma_fork); WIPEONFORK ones start
 * with none. */
static void fork_anon(void)
{
	for (struct vms_vma *v = vms_vma_first(&vms_mm.vmas); v != NULL; v = vms_vma_next(v)) {
		if (v->flags & VMS_VMA_WIPEONFORK) {
			v->anon = 0;
			v->anon_forked = false;
		} else if (v->anon != 0) {
			v->anon = vms_mm.next_object_id++;
			v->anon_forked = true;
		}
	}
}

void vms_fork_child(void)
{
	if (vms_mm.base == 0) {
		return;
	}
	vms_mm.owner_pid = vms_raw_getpid();
	vms_swap_fork_child(); /* its own swap participant, before it drops pages */
	/* Only this thread exists: the lock's holder is this thread. */
	drop_dontfork_vmas();
	fork_anon();
	vms_mlock_fork_child(); /* vm/range.c: locks are not inherited */
	vms_guard_fork_child(); /* vm/guard.c: WIPEONFORK memory loses its guards */
	memset(&vms_mm.lock, 0, sizeof vms_mm.lock);
	vms_map_write_unlock(&fork_saved_mask);
}
