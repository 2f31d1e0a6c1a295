/*
 * vm/brk.c - the program break, emulated in the arena.
 *
 * The break starts at the bottom of the arena and grows up; mmap places
 * mappings top-down from the arena's end, so they meet only when the arena
 * is nearly full (Linux's layout has the same shape).  glibc's own malloc
 * keeps using the kernel's break through its internal __sbrk, which never
 * reaches these symbols, so the two never disturb each other.
 *
 * Semantics of Linux's brk(2) (mm/mmap.c): a request below the start of
 * the break, over the data limit (RLIMIT_DATA), or one that would run into
 * a mapping (keeping one page of gap) fails and returns the current break;
 * otherwise the break moves to exactly the address asked for, memory is
 * mapped up to the next page boundary, a shrink unmaps what is left behind
 * (so regrown memory reads zero), and the new break is returned.  glibc's
 * brk() and sbrk() wrappers, in shim/interpose.c, add ENOMEM and -1.
 *
 * Only the map lock protects the break (it is changed with it held for
 * writing); it is per process state, copied by fork.
 */
#include "config.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "os/raw.h"
#include "util/stats.h"
#include "vm/mm.h"

static uintptr_t start_brk, cur_brk; /* (m) */

static uint64_t data_limit(void)
{
	struct rlimit rl;
	long r = vms_raw_getrlimit(RLIMIT_DATA, &rl);
	return vms_raw_failed(r) || rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : rl.rlim_cur;
}

uintptr_t vm_brk(uintptr_t want)
{
	uint64_t saved;
	vms_map_write_lock(&saved);
	if (start_brk == 0) {
		start_brk = cur_brk = vms_mm.base;
	}
	uintptr_t result = cur_brk;
	uintptr_t newbrk = vms_page_up(want), oldbrk = vms_page_up(cur_brk);
	if (newbrk >= vms_mm.base && newbrk <= vms_mm.end) {
		vms_anon_settle(oldbrk < newbrk ? oldbrk : newbrk, oldbrk < newbrk ? newbrk : oldbrk);
	}
	if (want < start_brk || want - start_brk > data_limit() || newbrk < want) {
		goto out;
	}
	if (newbrk == oldbrk) {
		cur_brk = result = want;
	} else if (want < cur_brk) {
		if (vm_unmap_locked(newbrk, oldbrk) == 0) {
			cur_brk = result = want;
		}
	} else if (newbrk <= vms_mm.end - VMS_PAGE_SIZE &&
		   vms_vma_range_free(&vms_mm.vmas, oldbrk, newbrk + VMS_PAGE_SIZE)) {
		struct vms_vma *v = vms_vma_new(&vms_mm.vmas, oldbrk, newbrk);
		if (v != NULL) {
			long before = vms_kmaps_boundaries(oldbrk, newbrk);
			v->prot = PROT_READ | PROT_WRITE;
			v->flags = VMS_VMA_ANON | VMS_VMA_ACCOUNT; /* as do_brk_flags */
			vms_vma_insert(&vms_mm.vmas, v);
			vms_kmaps_adjust(before, vms_kmaps_boundaries(oldbrk, newbrk));
			vms_vma_merge_new(&vms_mm.vmas, v); /* as do_brk_flags */
			cur_brk = result = want;
		}
	}
out:
	vms_vmas_gauge_sync();
	vms_map_write_unlock(&saved);
	return result;
}
