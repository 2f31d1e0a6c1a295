/*
 * vm/mprotect.c - changing the protection of arena mappings.
 *
 * The VMA takes the new protection; present pages get it in the kernel at
 * once (one mprotect per run of present pages); pages not present stay
 * PROT_NONE and get it when first touched.  Neighbouring VMAs that become
 * compatible merge again.
 *
 * Errors, checked in the kernel's order (do_mprotect_pkey):
 *   EINVAL  both PROT_GROWSDOWN and PROT_GROWSUP; addr not page aligned;
 *           unknown prot bits; PROT_GROWSDOWN/UP on a mapping that does not
 *           grow (only foreign MAP_GROWSDOWN mappings do: the kernel
 *           applies it from their start, vm/stack.c)
 *   EACCES  PROT_WRITE on a shared mapping of a file opened read-only (the
 *           VMAs before it are changed, as on Linux); or from the kernel,
 *           for a foreign (pass-through) mapping
 *   ENOMEM  length overflows; the range starts in a hole (nothing changes);
 *           a hole further on (the part before the hole IS changed, as on
 *           Linux); metadata allocation failed
 */
#include "config.h"

#include <errno.h>
#include <sys/mman.h>

#include "os/raw.h"
#include "util/log.h"
#include "util/stats.h"
#include "vm/mm.h"

/* Gives v the protection prot, in the table and for its present pages
 * (file pages stay write-protected until written: vms_hw_prot). */
static void change_prot(struct vms_vma *v, int prot)
{
	/* VM_ACCOUNT as mprotect_fixup keeps it: set when private memory
	 * becomes writable, dropped when it stops being writable only for
	 * anonymous memory without an anon_vma (no page written).  It
	 * matters to which mappings merge. */
	if ((prot & PROT_WRITE) && !(v->prot & PROT_WRITE) &&
	    !(v->flags & (VMS_VMA_ACCOUNT | VMS_VMA_SHARED | VMS_VMA_NORESERVE))) {
		v->flags |= VMS_VMA_ACCOUNT;
	} else if (!(prot & PROT_WRITE) && (v->flags & VMS_VMA_ACCOUNT) &&
		   !(v->flags & VMS_VMA_FILE) && v->anon == 0) {
		v->flags &= ~VMS_VMA_ACCOUNT;
	}
	bool cow_now = (v->flags & (VMS_VMA_LOCKED | VMS_VMA_SHARED)) == VMS_VMA_LOCKED &&
		       !(v->prot & PROT_WRITE) && (prot & PROT_WRITE);
	v->prot = prot;
	v->flags |= VMS_VMA_MODIFIED;
	vms_reprotect(v, v->start, v->end, NULL);
	if (cow_now) {
		/* mprotect_fixup: a locked private mapping made writable is
		 * populated for writing, its file pages copied there and then. */
		vms_populate_for_lock(v, v->start, v->end);
	}
}

int vm_mprotect(void *addr, size_t len, int prot)
{
	uintptr_t start = (uintptr_t)addr;
	int grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
	prot &= ~grows;
	if (vms_arena_where(start, start + vms_page_up(len)) != VMS_INSIDE) {
		return VMS_PASSTHROUGH;
	}
	if (grows == (PROT_GROWSDOWN | PROT_GROWSUP) || (start & ~VMS_PAGE_MASK)) {
		return EINVAL;
	}
	if (len == 0) {
		return 0;
	}
	uintptr_t end = start + vms_page_up(len);
	if (end <= start) {
		return ENOMEM;
	}
	if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM)) {
		return EINVAL;
	}
	prot &= PROT_READ | PROT_WRITE | PROT_EXEC;
	uint64_t saved;
	int err = 0;
	vms_map_write_lock(&saved);
	vms_anon_settle(start, end);
	struct vms_vma *v = vms_vma_first_in(&vms_mm.vmas, start, end);
	if ((grows & PROT_GROWSDOWN) && v != NULL && v->start < end &&
	    (v->flags & (VMS_VMA_FOREIGN | VMS_VMA_GROWSDOWN)) ==
		    (VMS_VMA_FOREIGN | VMS_VMA_GROWSDOWN)) {
		/* A MAP_GROWSDOWN mapping the kernel serves (vm/stack.c): the
		 * kernel changes it from its start on; the table follows.  The
		 * kernel sees reservation where Linux has holes: it gets only
		 * the run of foreign mappings, and a range going past it is
		 * ENOMEM, after the change (as Linux at a hole). */
		uintptr_t run_end = v->end;
		for (struct vms_vma *n = vms_vma_next(v);
		     n != NULL && n->start == run_end && (n->flags & VMS_VMA_FOREIGN);
		     n = vms_vma_next(n)) {
			run_end = n->end;
		}
		/* Past the run, Linux goes on through the mappings that follow
		 * (the shim's own included) as a plain mprotect, up to a hole. */
		uintptr_t rest = 0;
		if (end > run_end) {
			struct vms_vma *n = vms_vma_find(&vms_mm.vmas, run_end);
			if (n != NULL) {
				rest = end;
			} else {
				err = ENOMEM;
			}
			end = run_end;
		}
		/* Linux starts at the mapping's start (also from a hole below). */
		uintptr_t lo = v->start;
		long r = vms_raw_mprotect((void *)lo, end - lo, prot | grows);
		if (vms_raw_failed(r)) {
			err = (int)-r;
			goto out;
		}
		long before = vms_kmaps_boundaries(lo, end);
		if (vms_vma_clip(&vms_mm.vmas, lo, end) != 0) {
			vms_fatal("no memory to record mprotect on [%p, %p)", (void *)lo,
				  (void *)end);
		}
		for (v = vms_vma_first_in(&vms_mm.vmas, lo, end); v != NULL && v->start < end;
		     v = vms_vma_next(v)) {
			if (v->flags & VMS_VMA_FOREIGN) {
				v->prot = prot;
			}
		}
		vms_kmaps_adjust(before, vms_kmaps_boundaries(lo, end));
		if (rest == 0) {
			goto out;
		}
		start = run_end;
		end = rest;
		grows = 0;
		v = vms_vma_first_in(&vms_mm.vmas, start, end);
	}
	if (grows & PROT_GROWSDOWN) {
		/* As Linux: no VMA ahead is ENOMEM; one that does not grow is
		 * EINVAL, before any hole check. */
		err = v == NULL || v->start >= end ? ENOMEM : EINVAL;
		goto out;
	}
	if (grows & PROT_GROWSUP) {
		err = v == NULL || v->start > start ? ENOMEM : EINVAL;
		goto out;
	}
	if (v == NULL || v->start > start) {
		err = ENOMEM;
		goto out;
	}
	if (vms_vma_clip(&vms_mm.vmas, start, end) != 0) {
		err = ENOMEM;
		goto out;
	}
	uintptr_t at = start;
	for (v = vms_vma_first_in(&vms_mm.vmas, start, end); v != NULL && v->start < end;
	     v = vms_vma_next(v)) {
		if (v->start != at) {
			break;
		}
		if (v->flags & VMS_VMA_FOREIGN) {
			long before = vms_kmaps_boundaries(v->start, v->end);
			long r = vms_raw_mprotect((void *)v->start, v->end - v->start, prot);
			if (vms_raw_failed(r)) {
				err = (int)-r; /* EACCES: a file opened read-only */
				goto merge;
			}
			if (v->prot != prot) {
				v->prot = prot;
				v->flags |= VMS_VMA_MODIFIED;
			}
			vms_kmaps_adjust(before, vms_kmaps_boundaries(v->start, v->end));
		} else if ((v->flags & VMS_VMA_NOWRITE) && (prot & PROT_WRITE)) {
			err = EACCES; /* a shared file opened read-only */
			goto merge;
		} else if (v->prot != prot) {
			change_prot(v, prot);
		}
		at = v->end;
	}
	if (at < end) {
		err = ENOMEM;
	}
merge:
	/* Merge the changed VMAs with each other and their neighbours, and
	 * the pieces the clip made past a hole back together (Linux stops at
	 * the hole without splitting what lies beyond). */
	v = vms_vma_first_in(&vms_mm.vmas, start, end);
	while (v != NULL && v->start <= end) {
		v = vms_vma_next(vms_vma_settle(v));
	}
out:
	vms_vmas_gauge_sync();
	vms_map_write_unlock(&saved);
	return err;
}
