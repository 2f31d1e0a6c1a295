/*
 * vm/mremap.c - resizing and moving arena mappings.
 *
 * Contents move, bytes are never copied: a move hands each run of present
 * pages (equal kernel protection) to the kernel's mremap(MREMAP_FIXED),
 * which moves page-table entries, and moves the shim's PTEs with them; the
 * old range becomes reservation again.  A shared or file mapping is first made
 * uniformly PROT_NONE in the kernel (its pages stay present for the shim,
 * which raises the protection again on the next touch) so that it moves,
 * and grows, as one kernel mapping with its shared memory object.
 *
 *   shrink        the tail is unmapped (vm_unmap_locked)
 *   grow in place when the range ends its VMA and the space after it is free
 *   move          MREMAP_MAYMOVE when growing in place is impossible, or
 *                 MREMAP_FIXED; MREMAP_DONTUNMAP leaves the old range mapped
 *                 and empty: private memory reads zero, shared and file
 *                 memory read their object again
 *
 * Errors, in the kernel's order (check_mremap_params, then the VMA):
 *   EINVAL  unknown flags; old address unaligned; new size 0; FIXED
 *           without MAYMOVE; DONTUNMAP without MAYMOVE or with a size
 *           change; FIXED target unaligned or overlapping the old range;
 *           old size 0 (duplicating mappings is not supported in the arena)
 *           or a new size beyond the address space (TASK_SIZE)
 *   EFAULT  no mapping at the old address; or, except for a shrink or a
 *           same-size call (which unmap the tail and succeed), an old
 *           range that is not inside one mapping
 *   ENOMEM  cannot grow in place without MAYMOVE; no room in the arena
 *
 * Not supported (returns ENOMEM where Linux might succeed): moving an
 * arena mapping to a MREMAP_FIXED target outside the arena, or growing
 * when the arena has no gap large enough.
 */
#include "config.h"

#include <errno.h>
#include <sys/mman.h>

#include "os/raw.h"
#include "util/log.h"
#include "util/stats.h"
#include "vm/mm.h"

/* Kernel-moves [src, src + len) to dst, run by run of equal protection;
 * the PTEs follow.  Non-present runs of private memory hold nothing and
 * are not moved. */
static void move_pages(uintptr_t src, uintptr_t len, uintptr_t dst, bool shared)
{
	for (uintptr_t x = src; x < src + len;) {
		vms_pte_t *pt = vms_pte_lookup(&vms_mm.ptes, x);
		vms_pte_t pte = pt != NULL ? vms_pte_load(pt) : 0;
		uintptr_t run = x;
		int hw = vms_pte_prot(pte);
		bool present = (pte & VMS_PTE_PRESENT) != 0;
		do {
			if (pt != NULL && vms_pte_load(pt) != 0) {
				vms_pte_t *to = vms_pte_ensure(&vms_mm.ptes, dst + (x - src));
				if (to == NULL) {
					vms_fatal("mremap: no memory for the page table");
				}
				vms_pte_store(to, vms_pte_load(pt));
			}
			x += VMS_PAGE_SIZE;
			pt = vms_pte_lookup(&vms_mm.ptes, x);
			pte = pt != NULL ? vms_pte_load(pt) : 0;
		} while (x < src + len && vms_pte_prot(pte) == hw &&
			 ((pte & VMS_PTE_PRESENT) != 0) == present);
		if (!present && !shared) {
			continue;
		}
		long r = vms_raw_mremap((void *)run, x - run, x - run, MREMAP_MAYMOVE | MREMAP_FIXED,
					(void *)(dst + (run - src)));
		if (vms_raw_failed(r)) {
			/* Two kernel mappings inside one run: move page by page. */
			for (uintptr_t p = run; p < x; p += VMS_PAGE_SIZE) {
				r = vms_raw_mremap((void *)p, VMS_PAGE_SIZE, VMS_PAGE_SIZE,
						   MREMAP_MAYMOVE | MREMAP_FIXED,
						   (void *)(dst + (p - src)));
				if (vms_raw_failed(r)) {
					vms_fatal("mremap of %p failed: errno %ld", (void *)p, -r);
				}
			}
		}
	}
}

/* Shared mappings: drop the kernel protection of [s, e) to PROT_NONE so it
 * is one kernel mapping; the pages stay present. */
static void flatten(uintptr_t s, uintptr_t e)
{
	long r = vms_raw_mprotect((void *)s, e - s, PROT_NONE);
	if (vms_raw_failed(r)) {
		vms_fatal("mremap: cannot flatten [%p, %p): errno %ld", (void *)s, (void *)e, -r);
	}
	for (uintptr_t x = s; x < e; x += VMS_PAGE_SIZE) {
		vms_pte_t *pt = vms_pte_lookup(&vms_mm.ptes, x);
		if (pt != NULL) {
			vms_pte_store(pt, vms_pte_load(pt) & ~VMS_PTE_PROT_MASK);
		}
	}
}

/* Re-links v after its range changed, keeping the gauge of VMAs. */
static void resize_vma(struct vms_vma *v, uintptr_t new_end)
{
	vms_vma_remove(&vms_mm.vmas, v);
	v->end = new_end;
	vms_vma_insert(&vms_mm.vmas, v);
}

static int grow_in_place(struct vms_vma *v, uintptr_t a, size_t olen, size_t nlen)
{
	uintptr_t old_end = a + olen, new_end = a + nlen;
	if (old_end != v->end || vms_arena_where(a, new_end) != VMS_INSIDE || new_end < a ||
	    !vms_vma_range_free(&vms_mm.vmas, old_end, new_end)) {
		return ENOMEM;
	}
	long before = vms_kmaps_boundaries(a, new_end);
	if (vms_vma_has_object(v)) {
		/* The object (shared memory, file) must grow: let the kernel
		 * extend its mapping into a hole punched in the reservation. */
		flatten(a, old_end);
		vms_raw_munmap((void *)old_end, new_end - old_end);
		long r = vms_raw_mremap((void *)a, olen, nlen, 0, NULL);
		if (vms_raw_failed(r)) {
			vms_arena_reserve(old_end, new_end);
			vms_kmaps_adjust(before, vms_kmaps_boundaries(a, new_end));
			return ENOMEM;
		}
	}
	resize_vma(v, new_end);
	vms_kmaps_adjust(before, vms_kmaps_boundaries(a, new_end));
	vms_vma_merge(&vms_mm.vmas, v);
	return 0;
}

static int move(struct vms_vma *v, uintptr_t a, size_t olen, size_t nlen, uintptr_t dst,
		bool dontunmap)
{
	struct vms_vma_set *set = &vms_mm.vmas;
	bool shared = vms_vma_has_object(v);
	if (vms_vma_clip(set, a, a + olen) != 0) {
		return ENOMEM;
	}
	v = vms_vma_find(set, a);
	struct vms_vma *q = vms_vma_new(set, dst, dst + nlen);
	if (q == NULL) {
		return ENOMEM;
	}
	size_t keep = olen < nlen ? olen : nlen;
	if (olen > nlen) {
		vm_unmap_locked(a + nlen, a + olen);
		v = vms_vma_find(set, a);
	}
	long before = vms_kmaps_boundaries(a, a + keep) + vms_kmaps_boundaries(dst, dst + nlen);
	if (shared) {
		flatten(a, a + keep);
		long r = vms_raw_mremap((void *)a, keep, nlen,
					MREMAP_MAYMOVE | MREMAP_FIXED |
						(dontunmap ? MREMAP_DONTUNMAP : 0),
					(void *)dst);
		if (vms_raw_failed(r)) {
			vms_fatal("mremap of a shared mapping failed: errno %ld", -r);
		}
		for (uintptr_t x = a; x < a + keep; x += VMS_PAGE_SIZE) {
			vms_pte_t *pt = vms_pte_lookup(&vms_mm.ptes, x);
			if (pt != NULL && vms_pte_load(pt) != 0) {
				vms_pte_store(vms_pte_ensure(&vms_mm.ptes, dst + (x - a)),
					      vms_pte_load(pt));
			}
		}
	} else {
		move_pages(a, keep, dst, false);
	}
	q->prot = v->prot;
	q->flags = v->flags;
	q->advice = v->advice;
	q->object = v->object;
	q->pgoff = v->pgoff;
	if (!(dontunmap && shared)) {
		vms_pte_release_range(&vms_mm.ptes, a, a + keep);
	}
	if (!dontunmap) {
		vms_vma_remove(set, v);
		vms_vma_free(set, v);
		vms_arena_reserve(a, a + keep);
	} else if (!shared) {
		vms_arena_reserve(a, a + keep); /* private: the old range reads zero */
	}
	/* A shared or file mapping left by DONTUNMAP keeps its kernel mapping,
	 * emptied by the kernel: its pages, present for the shim with no
	 * kernel protection, fault back in from their object. */
	vms_vma_insert(set, q);
	vms_kmaps_adjust(before,
			 vms_kmaps_boundaries(a, a + keep) + vms_kmaps_boundaries(dst, dst + nlen));
	vms_vma_merge(set, q);
	return 0;
}

/* A foreign (kernel-served) mapping: the kernel remaps it, the table
 * follows: holes it leaves in the arena become reservation again, a target
 * inside the arena becomes a foreign VMA. */
static int mremap_foreign(struct vms_vma *v, uintptr_t a, size_t olen, size_t nlen, int flags,
			  uintptr_t dst, void **out)
{
	struct vms_vma copy = *v;
	long r = vms_raw_mremap((void *)a, olen, nlen, flags, (void *)dst);
	if (vms_raw_failed(r)) {
		return (int)-r;
	}
	uintptr_t res = (uintptr_t)r;
	long before = vms_kmaps_boundaries(a, a + olen);
	if (res == a && nlen < olen) {
		vm_forget_locked(a + nlen, a + olen);
		vms_arena_reserve(a + nlen, a + olen);
	} else if (res != a && !(flags & MREMAP_DONTUNMAP)) {
		vm_forget_locked(a, a + olen);
		vms_arena_reserve(a, a + olen);
	}
	vms_kmaps_adjust(before, vms_kmaps_boundaries(a, a + olen));
	if (res != a && vms_arena_where(res, res + nlen) == VMS_INSIDE) {
		before = vms_kmaps_boundaries(res, res + nlen);
		vm_forget_locked(res, res + nlen);
		struct vms_vma *q = vms_vma_new(&vms_mm.vmas, res, res + nlen);
		if (q == NULL) {
			vms_fatal("no memory to record the mapping at %p", (void *)res);
		}
		q->prot = copy.prot;
		q->flags = copy.flags;
		q->object = copy.object;
		vms_vma_insert(&vms_mm.vmas, q);
		vms_kmaps_adjust(before, vms_kmaps_boundaries(res, res + nlen));
	}
	*out = (void *)res;
	return 0;
}

/* A kernel mapping outside the arena moved by MREMAP_FIXED into it: done
 * here, under the map lock; the target becomes a foreign VMA. */
static int mremap_into_arena(uintptr_t a, size_t olen, size_t nlen, int flags, uintptr_t dst,
			     void **out)
{
	uint64_t saved;
	int err = 0;
	vms_map_write_lock(&saved);
	struct vms_vma *q = vms_vma_new(&vms_mm.vmas, dst, dst + nlen);
	if (q == NULL) {
		err = ENOMEM;
		goto out;
	}
	long before = vms_kmaps_boundaries(dst, dst + nlen);
	long r = vms_raw_mremap((void *)a, olen, nlen, flags, (void *)dst);
	if (vms_raw_failed(r)) {
		vms_vma_free(&vms_mm.vmas, q);
		err = (int)-r;
		goto out;
	}
	vm_forget_locked(dst, dst + nlen); /* the kernel replaced it */
	/* Its protection is the kernel's business: calls on it go there. */
	q->prot = PROT_READ | PROT_WRITE | PROT_EXEC;
	q->flags = VMS_VMA_FOREIGN;
	q->object = (void *)(uintptr_t)vms_mm.next_object_id++;
	vms_vma_insert(&vms_mm.vmas, q);
	vms_kmaps_adjust(before, vms_kmaps_boundaries(dst, dst + nlen));
	*out = (void *)dst;
out:
	vms_vmas_gauge_sync();
	vms_map_write_unlock(&saved);
	return err;
}

int vm_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr, void **out)
{
	uintptr_t a = (uintptr_t)old, dst = (uintptr_t)new_addr;
	if (!vms_in_arena(a)) {
		size_t nlen = vms_page_up(new_len);
		if ((flags & MREMAP_FIXED) && (flags & MREMAP_MAYMOVE) && nlen != 0 &&
		    !(dst & ~VMS_PAGE_MASK) && !(a & ~VMS_PAGE_MASK) && dst + nlen > dst &&
		    vms_arena_where(dst, dst + nlen) == VMS_INSIDE) {
			return mremap_into_arena(a, vms_page_up(old_len), nlen, flags, dst, out);
		}
		return VMS_PASSTHROUGH;
	}
	if (flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP)) {
		return EINVAL;
	}
	if (a & ~VMS_PAGE_MASK) {
		return EINVAL;
	}
	size_t olen = vms_page_up(old_len), nlen = vms_page_up(new_len);
	if (nlen == 0 || ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE))) {
		return EINVAL;
	}
	if ((flags & MREMAP_DONTUNMAP) && (!(flags & MREMAP_MAYMOVE) || olen != nlen)) {
		return EINVAL;
	}
	bool fixed = (flags & MREMAP_FIXED) != 0;
	if (fixed && ((dst & ~VMS_PAGE_MASK) || (dst < a + olen && a < dst + nlen))) {
		return EINVAL;
	}
	if (nlen > VMS_TASK_SIZE) {
		return EINVAL;
	}
	if (olen == 0) {
		return EINVAL;
	}
	uint64_t saved;
	int err = 0;
	vms_map_write_lock(&saved);
	if (!fixed && !(flags & MREMAP_DONTUNMAP) && nlen <= olen) {
		/* Linux allows a shrink whatever the rest of the old range holds
		 * (several mappings, holes): it needs a mapping at addr only,
		 * unmaps the tail and answers addr. */
		if (vms_vma_find(&vms_mm.vmas, a) == NULL) {
			err = EFAULT;
			goto out;
		}
		err = nlen < olen ? vm_unmap_locked(a + nlen, a + olen) : 0;
		*out = (void *)a;
		goto out;
	}
	struct vms_vma *v = vms_vma_find(&vms_mm.vmas, a);
	if (v != NULL && a + olen > v->end) {
		v = vms_vma_merge(&vms_mm.vmas, v); /* neighbours Linux would have merged */
	}
	if (v == NULL || a + olen > v->end || a + olen < a) {
		err = EFAULT;
		goto out;
	}
	if (v->flags & VMS_VMA_FOREIGN) {
		err = mremap_foreign(v, a, olen, nlen, flags, dst, out);
		goto out;
	}
	if (fixed) {
		if (vms_arena_where(dst, dst + nlen) != VMS_INSIDE) {
			err = ENOMEM;
			goto out;
		}
		err = vm_unmap_locked(dst, dst + nlen);
		if (err == 0) {
			v = vms_vma_find(&vms_mm.vmas, a);
			err = move(v, a, olen, nlen, dst, flags & MREMAP_DONTUNMAP);
		}
		*out = (void *)dst;
		goto out;
	}
	if (!(flags & MREMAP_DONTUNMAP)) {
		/* Growing (shrinks were answered above). */
		err = grow_in_place(v, a, olen, nlen);
		if (err == 0 || !(flags & MREMAP_MAYMOVE)) {
			*out = (void *)a;
			goto out;
		}
	}
	if (vms_vma_find_gap(&vms_mm.vmas, vms_mm.base, vms_mm.end, nlen, VMS_PAGE_SIZE, &dst) != 0) {
		err = ENOMEM;
		goto out;
	}
	err = move(vms_vma_find(&vms_mm.vmas, a), a, olen, nlen, dst, flags & MREMAP_DONTUNMAP);
	*out = (void *)dst;
out:
	vms_vmas_gauge_sync();
	vms_map_write_unlock(&saved);
	return err;
}
