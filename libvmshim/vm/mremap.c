/*
 * vm/mremap.c - resizing, moving and duplicating arena mappings.
 *
 * Contents move, bytes are never copied: a move hands each run of present
 * pages (equal kernel protection) to the kernel's mremap(MREMAP_FIXED),
 * which moves page-table entries, and moves the shim's PTEs with them,
 * every bit verbatim (swap slots and guard pages included); the old range
 * becomes reservation again.  A shared or file mapping is first made
 * uniformly PROT_NONE in the kernel (its pages stay present for the shim,
 * which raises the protection again on the next touch) so that it moves,
 * and grows, with its memory object (move_object copes with the several
 * kernel mappings such a range can still be).
 *
 *   shrink        the tail is unmapped (vm_unmap_locked)
 *   grow in place when the range ends its VMA and the space after it is free
 *   move          MREMAP_MAYMOVE when growing in place is impossible, or
 *                 MREMAP_FIXED; MREMAP_DONTUNMAP leaves the old range mapped
 *                 and empty: private memory reads zero, shared and file
 *                 memory read their object again; the old range is no
 *                 longer locked
 *   multi-VMA     MREMAP_FIXED with old_len == new_len moves every VMA of
 *                 the range (holes allowed, not at its start), as Linux 6.17+
 *   duplicate     old_len 0 on a shared mapping: a second mapping of its
 *                 object (EINVAL for private mappings)
 *
 * Errors, in the kernel's order (check_mremap_params, then the VMA):
 *   EINVAL  unknown flags; old address unaligned; new size 0; FIXED
 *           without MAYMOVE; DONTUNMAP without MAYMOVE or with a size
 *           change; FIXED target unaligned or overlapping the old range;
 *           a new size beyond the address space (TASK_SIZE); old size 0
 *           on a private mapping
 *   EFAULT  no mapping at the old address; or, except for a shrink, a
 *           same-size call or a FIXED move, an old range that is not
 *           inside one mapping
 *   ENOMEM  cannot grow in place without MAYMOVE (old size 0 included);
 *           no room in the arena
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

/*
 * Kernel-moves the object mapping [a, a + keep) to dst, grown to nlen
 * (extra: MREMAP_DONTUNMAP or 0).  The range may hold several kernel
 * mappings even after flatten: private file pages copied at different
 * times carry anon_vmas the kernel will not merge.  The kernel moves
 * several mappings at once only when the size does not change (Linux
 * 6.17), so: one call if it can, else same-size moves of pieces (halved
 * until each lies in one kernel mapping), then the last one grows in place.
 */
static void move_object(uintptr_t a, size_t keep, size_t nlen, uintptr_t dst, int extra)
{
	int fl = MREMAP_MAYMOVE | MREMAP_FIXED | extra;
	long r = vms_raw_mremap((void *)a, keep, nlen, fl, (void *)dst);
	if (!vms_raw_failed(r)) {
		return;
	}
	for (uintptr_t x = a; x < a + keep;) {
		size_t n = a + keep - x;
		for (;;) {
			r = vms_raw_mremap((void *)x, n, n, fl, (void *)(dst + (x - a)));
			if (!vms_raw_failed(r)) {
				break;
			}
			if (n == VMS_PAGE_SIZE) {
				vms_fatal("mremap of a shared mapping failed at %p: errno %ld",
					  (void *)x, -r);
			}
			n = vms_page_up(n / 2);
		}
		x += n;
	}
	if (nlen > keep) {
		uintptr_t last = dst + keep - VMS_PAGE_SIZE;
		vms_raw_munmap((void *)(dst + keep), nlen - keep);
		r = vms_raw_mremap((void *)last, VMS_PAGE_SIZE, VMS_PAGE_SIZE + nlen - keep, 0, NULL);
		if (vms_raw_failed(r)) {
			vms_fatal("mremap: cannot grow the moved mapping at %p: errno %ld",
				  (void *)last, -r);
		}
		vms_raw_mprotect((void *)(dst + keep), nlen - keep, PROT_NONE);
	}
}

/*
 * [s, e) of the locked VMA v is new to the kernel's view of it (moved
 * there, or grown): Linux keeps such a range locked and, unless the lock
 * is MLOCK_ONFAULT, populated.  Lock it in the kernel too; its population
 * may fail (PROT_NONE, past the end of a file) after the lock is set, as
 * natively.
 */
static void lock_moved(struct vms_vma *v, uintptr_t s, uintptr_t e)
{
	if (!(v->flags & VMS_VMA_LOCKED)) {
		return;
	}
	if (v->flags & VMS_VMA_LOCKONFAULT) {
		vms_raw_mlock2((void *)s, e - s, 1 /* MLOCK_ONFAULT */);
		return;
	}
	if (v->prot != PROT_NONE) {
		vms_populate_locked(v, s, e, (v->prot & PROT_WRITE) != 0);
		vms_reprotect(v, s, e, NULL); /* present pages a move left PROT_NONE */
	}
	vms_raw_mlock((void *)s, e - s);
}

/*
 * [s, e) of v is a fresh kernel mapping now (reservation again under a
 * VMA that stays): give it back the advice the kernel keeps per mapping
 * and v carries (DONTFORK, WIPEONFORK...), which the fresh mapping lost.
 */
static void keep_kernel_advice(const struct vms_vma *v, uintptr_t s, uintptr_t e)
{
	static const struct {
		unsigned flag;
		int advice;
	} kept[] = {
		{ VMS_VMA_DONTFORK, MADV_DONTFORK },	 { VMS_VMA_WIPEONFORK, MADV_WIPEONFORK },
		{ VMS_VMA_DONTDUMP, MADV_DONTDUMP },	 { VMS_VMA_NOHUGEPAGE, MADV_NOHUGEPAGE },
		{ VMS_VMA_MERGEABLE, MADV_MERGEABLE },
	};
	for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
		if (v->flags & kept[i].flag) {
			vms_raw_madvise((void *)s, e - s, kept[i].advice);
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
		 * extend its mapping into a hole punched in the reservation.
		 * Only the last kernel mapping of the range grows (there may
		 * be several: see move_object); the new pages are untouched
		 * for the shim, so PROT_NONE. */
		vms_raw_munmap((void *)old_end, new_end - old_end);
		long r = vms_raw_mremap((void *)(old_end - VMS_PAGE_SIZE), VMS_PAGE_SIZE,
					VMS_PAGE_SIZE + (new_end - old_end), 0, NULL);
		if (!vms_raw_failed(r)) {
			r = vms_raw_mprotect((void *)old_end, new_end - old_end, PROT_NONE);
		}
		if (vms_raw_failed(r)) {
			vms_arena_reserve(old_end, new_end);
			vms_kmaps_adjust(before, vms_kmaps_boundaries(a, new_end));
			return ENOMEM;
		}
	}
	resize_vma(v, new_end);
	vms_kmaps_adjust(before, vms_kmaps_boundaries(a, new_end));
	if (!vms_vma_has_object(v)) {
		keep_kernel_advice(v, old_end, new_end); /* the tail was reservation */
	}
	lock_moved(v, old_end, new_end);
	vms_vma_merge_grown(&vms_mm.vmas, v);
	return 0;
}

/*
 * A locked mapping moved with MREMAP_DONTUNMAP next to what it left
 * behind, q (locked, merged at the target) and the old mapping
 * [old_start, old_end) (unlocked now): Linux's copy_vma merged the target
 * with the old mapping before the unlock, so it unlocked the merged whole.
 * Does the same when q, unlocked, would have merged with the old mapping.
 */
static void unlock_merged_with_old(struct vms_vma *q, uintptr_t old_start, uintptr_t old_end)
{
	struct vms_vma *o = q->end == old_start ? vms_vma_next(q)
			    : q->start == old_end ? vms_vma_prev(q) : NULL;
	if (o == NULL || (o->flags & VMS_VMA_LOCKED)) {
		return;
	}
	struct vms_vma t = *q; /* q as if the unlock had come first */
	t.flags &= ~(VMS_VMA_LOCKED | VMS_VMA_LOCKONFAULT);
	if (!(o == vms_vma_next(q) ? vms_vma_would_merge(&t, o) : vms_vma_would_merge(o, &t))) {
		return;
	}
	uintptr_t s = q->start < old_start ? q->start : old_start;
	uintptr_t e = q->end > old_end ? q->end : old_end;
	vms_unlock_range(s, e);
}

static int move(struct vms_vma *v, uintptr_t a, size_t olen, size_t nlen, uintptr_t dst,
		bool dontunmap, uint64_t hard_id)
{
	struct vms_vma_set *set = &vms_mm.vmas;
	bool shared = vms_vma_has_object(v);
	vms_anon_settle(dst, dst + nlen); /* the neighbours it may merge with */
	/* DONTUNMAP unlocks the whole old mapping, not just the range. */
	uintptr_t whole_start = v->start, whole_end = v->end;
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
		move_object(a, keep, nlen, dst, dontunmap ? MREMAP_DONTUNMAP : 0);
		for (uintptr_t x = a; x < a + keep; x += VMS_PAGE_SIZE) {
			vms_pte_t *pt = vms_pte_lookup(&vms_mm.ptes, x);
			vms_pte_t pte = pt != NULL ? vms_pte_load(pt) : 0;
			if (pte == 0) {
				continue;
			}
			vms_pte_t *to = vms_pte_ensure(&vms_mm.ptes, dst + (x - a));
			if (to == NULL) {
				vms_fatal("mremap: no memory for the page table");
			}
			vms_pte_store(to, pte); /* every bit, verbatim */
			if (dontunmap && (pte == VMS_PTE_GUARD || !(v->flags & VMS_VMA_SHARED))) {
				/* The kernel moved the page tables: the old range
				 * keeps its mapping but no guard, and a private file
				 * mapping none of its pages (private copies, swapped
				 * or not, went with the move: their swap slot is the
				 * target's now); they fault back in from the file. */
				vms_pte_store(pt, 0);
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
	q->dev = v->dev;
	q->ino = v->ino;
	q->anon = v->anon; /* copy_vma */
	q->anon_forked = v->anon_forked;
	/* A moved private mapping that has pages keeps its anon_vma and its
	 * page offset (Linux's copy_vma): it merges with nothing at the
	 * target, nor with a mapping later placed inside it, except its own
	 * pieces.  Without an anon_vma (never written: pages only read are
	 * the zero page), it takes the target's offset and merges. */
	q->apart = !shared && v->anon != 0
			   ? (hard_id != 0 ? hard_id : VMS_APART_HARD | vms_mm.next_object_id++)
			   : 0;
	if (dontunmap && (v->flags & VMS_VMA_LOCKED)) {
		/* Linux clears VM_LOCKED on the whole mapping DONTUNMAP leaves
		 * behind, unsplit and unmerged (the kernel-mapping count follows
		 * below); the shim's kernel mapping there may be split by page
		 * protections, so it is unlocked whole too.  (VM_ACCOUNT stays,
		 * measured on 6.18.) */
		long b = vms_kmaps_boundaries(whole_start, a) +
			 vms_kmaps_boundaries(a + keep, whole_end);
		uint64_t id = vms_mm.next_object_id++;
		if (v->flags & VMS_VMA_LOCKED) {
			/* Around the moved range, which a private move left a
			 * hole for now (munlock stops at holes). */
			vms_raw_munlock((void *)whole_start, a - whole_start);
			vms_raw_munlock((void *)(a + keep), whole_end - (a + keep));
			if (shared) {
				vms_raw_munlock((void *)a, keep);
			}
		}
		for (struct vms_vma *w = vms_vma_first_in(set, whole_start, whole_end);
		     w != NULL && w->start < whole_end; w = vms_vma_next(w)) {
			w->flags &= ~(VMS_VMA_LOCKED | VMS_VMA_LOCKONFAULT);
			w->apart = id;
		}
		vms_kmaps_adjust(b, vms_kmaps_boundaries(whole_start, a) +
					    vms_kmaps_boundaries(a + keep, whole_end));
	}
	if (!(dontunmap && shared)) {
		vms_pte_release_range(&vms_mm.ptes, a, a + keep);
	}
	if (!dontunmap) {
		vms_vma_remove(set, v);
		vms_vma_free(set, v);
		vms_arena_reserve(a, a + keep);
	} else if (!shared) {
		vms_arena_reserve(a, a + keep); /* private: the old range reads zero */
		keep_kernel_advice(v, a, a + keep);
	}
	/* A shared or file mapping left by DONTUNMAP keeps its kernel mapping,
	 * emptied by the kernel: its pages, present for the shim with no
	 * kernel protection, fault back in from their object.  The kernel
	 * never split it: the pieces the clip made merge again. */
	if (dontunmap) {
		vms_vma_merge(set, vms_vma_find(set, a));
	}
	vms_vma_insert(set, q);
	vms_kmaps_adjust(before,
			 vms_kmaps_boundaries(a, a + keep) + vms_kmaps_boundaries(dst, dst + nlen));
	lock_moved(q, dst, dst + nlen);
	if (!shared) {
		/* Only present runs moved with their kernel mapping: the rest
		 * of the target is reservation without the kernel-kept advice. */
		keep_kernel_advice(q, dst, dst + nlen);
	}
	bool was_locked = (q->flags & VMS_VMA_LOCKED) != 0;
	if (q->apart != 0) {
		q = vms_vma_merge(set, q); /* its own pieces only */
	} else {
		q = vms_vma_merge_new(set, q);
	}
	if (dontunmap && was_locked && !shared) {
		unlock_merged_with_old(q, whole_start, whole_end);
	}
	return 0;
}

static int mremap_foreign(struct vms_vma *v, uintptr_t a, size_t olen, size_t nlen, int flags,
			  uintptr_t dst, void **out);

/*
 * old_len 0: a second mapping at dst (free reservation), nlen long, of the
 * object of the shared mapping at a, from a's offset on (beyond the object's
 * end, SIGBUS as natively).  Its pages start untouched.
 */
static int dup_shared(uintptr_t a, size_t nlen, uintptr_t dst)
{
	struct vms_vma_set *set = &vms_mm.vmas;
	struct vms_vma *v = vms_vma_find(set, a);
	struct vms_vma *q = vms_vma_new(set, dst, dst + nlen);
	if (q == NULL) {
		return ENOMEM;
	}
	long before = vms_kmaps_boundaries(dst, dst + nlen);
	long r = vms_raw_mremap((void *)a, 0, nlen, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)dst);
	if (vms_raw_failed(r)) {
		vms_vma_free(set, q);
		return (int)-r;
	}
	/* The kernel copied the protection a's page has now. */
	r = vms_raw_mprotect((void *)dst, nlen, PROT_NONE);
	if (vms_raw_failed(r)) {
		vms_fatal("mremap: cannot protect the new mapping at %p: errno %ld", (void *)dst, -r);
	}
	q->prot = v->prot;
	q->flags = v->flags;
	q->advice = v->advice;
	q->object = v->object;
	q->pgoff = v->pgoff + (a - v->start) / VMS_PAGE_SIZE;
	q->dev = v->dev;
	q->ino = v->ino;
	vms_vma_insert(set, q);
	vms_kmaps_adjust(before, vms_kmaps_boundaries(dst, dst + nlen));
	vms_vma_merge_new(set, q); /* a new mapping of the object */
	return 0;
}

/*
 * MREMAP_FIXED with old_len == new_len: Linux (6.17) moves every VMA of
 * [a, a + len) to the same offset from dst, splitting the first and last;
 * holes are allowed except at a (EFAULT), and the target is replaced only
 * where a VMA lands: what lies at dst under a hole stays.  DONTUNMAP too.
 */
static int move_range(uintptr_t a, size_t len, uintptr_t dst, int flags, void **out)
{
	struct vms_vma_set *set = &vms_mm.vmas;
	uintptr_t end = a + len;
	struct vms_vma *v = vms_vma_find(set, a);
	if (v == NULL || end < a) {
		return EFAULT;
	}
	if (v->end >= end && (v->flags & VMS_VMA_FOREIGN)) {
		return mremap_foreign(v, a, len, len, flags, dst, out);
	}
	if (vms_arena_where(dst, dst + len) != VMS_INSIDE) {
		return ENOMEM;
	}
	/* The pieces moved by one call most likely split from one mapping:
	 * one anon_vma, so they may merge again at the target. */
	uint64_t hard_id = VMS_APART_HARD | vms_mm.next_object_id++;
	for (uintptr_t at = a; at < end;) {
		v = vms_vma_first_in(set, at, end);
		if (v == NULL) {
			break;
		}
		uintptr_t s = v->start > at ? v->start : at;
		uintptr_t e = v->end < end ? v->end : end;
		uintptr_t t = dst + (s - a);
		int err;
		if (v->flags & VMS_VMA_FOREIGN) {
			void *ignored;
			err = mremap_foreign(v, s, e - s, e - s, flags, t, &ignored);
		} else {
			err = vm_unmap_locked(t, t + (e - s));
			if (err == 0) {
				err = move(vms_vma_find(set, s), s, e - s, e - s, t,
					   (flags & MREMAP_DONTUNMAP) != 0, hard_id);
			}
		}
		if (err != 0) {
			return err;
		}
		at = e;
	}
	*out = (void *)dst;
	return 0;
}

/* A foreign (kernel-served) mapping: the kernel remaps it, the table
 * follows: holes it leaves in the arena become reservation again, a target
 * inside the arena becomes a foreign VMA. */
static int mremap_foreign(struct vms_vma *v, uintptr_t a, size_t olen, size_t nlen, int flags,
			  uintptr_t dst, void **out)
{
	struct vms_vma copy = *v;
	uintptr_t old_end = a + olen, new_end = a + nlen;
	/* Growing in place: natively the space after it is free, in the
	 * arena it is reservation; open a hole the kernel can grow into. */
	bool hole = nlen > olen && olen != 0 && !(flags & MREMAP_FIXED) && old_end == v->end &&
		    new_end > old_end && vms_arena_where(old_end, new_end) == VMS_INSIDE &&
		    vms_vma_range_free(&vms_mm.vmas, old_end, new_end) &&
		    !vms_raw_failed(vms_raw_munmap((void *)old_end, new_end - old_end));
	long r = vms_raw_mremap((void *)a, olen, nlen, flags, (void *)dst);
	if (hole && (vms_raw_failed(r) || (uintptr_t)r != a)) {
		vms_arena_reserve(old_end, new_end);
	}
	if (vms_raw_failed(r)) {
		return (int)-r;
	}
	uintptr_t res = (uintptr_t)r;
	if (hole && res == a) {
		long b = vms_kmaps_boundaries(a, new_end);
		resize_vma(v, new_end);
		vms_kmaps_adjust(b, vms_kmaps_boundaries(a, new_end));
		*out = (void *)a;
		return 0;
	}
	long before = vms_kmaps_boundaries(a, a + olen);
	if (res == a && nlen < olen) {
		vm_forget_locked(a + nlen, a + olen);
		vms_arena_reserve(a + nlen, a + olen);
	} else if (res != a && !(flags & MREMAP_DONTUNMAP)) {
		vm_forget_locked(a, a + olen);
		vms_arena_reserve(a, a + olen);
	} else if (res != a) {
		/* DONTUNMAP: the kernel cleared VM_LOCKED on the old mapping,
		 * which stays apart from its neighbours. */
		if (copy.flags & VMS_VMA_LOCKED) {
			uint64_t id = vms_mm.next_object_id++;
			for (struct vms_vma *w = vms_vma_first_in(&vms_mm.vmas, copy.start, copy.end);
			     w != NULL && w->start < copy.end; w = vms_vma_next(w)) {
				w->flags &= ~(VMS_VMA_LOCKED | VMS_VMA_LOCKONFAULT);
				w->apart = id;
			}
		}
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
	/* A stack keeps growing down in the arena (vm/stack.c). */
	bool growsdown = vms_kernel_growsdown(a);
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
	q->flags = VMS_VMA_FOREIGN | (growsdown ? VMS_VMA_GROWSDOWN : 0);
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
	uint64_t saved;
	int err = 0;
	vms_map_write_lock(&saved);
	vms_anon_settle(a, a + (olen > nlen ? olen : nlen));
	if (fixed && olen == nlen) {
		/* A move: it may span several VMAs and holes (Linux 6.17). */
		err = move_range(a, olen, dst, flags, out);
		goto out;
	}
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
	/* A FIXED shrink needs only the part that moves inside one mapping:
	 * the tail is unmapped, whatever it holds. */
	size_t span = fixed && nlen < olen ? nlen : olen;
	struct vms_vma *v = vms_vma_find(&vms_mm.vmas, a);
	if (v != NULL && (v->flags & VMS_VMA_FOREIGN)) {
		/* The kernel knows its own mapping's extent (the shim's record
		 * of it may be split where the kernel's is not). */
		err = mremap_foreign(v, a, olen, nlen, flags, dst, out);
		goto out;
	}
	if (v != NULL && a + span > v->end) {
		v = vms_vma_merge(&vms_mm.vmas, v); /* neighbours Linux would have merged */
	}
	if (v == NULL || a + span > v->end || a + olen < a) {
		err = EFAULT;
		goto out;
	}
	if (olen == 0) {
		/* A second mapping of a shared one; private ones: EINVAL.  With
		 * MREMAP_FIXED, Linux unmaps the target first (mremap_to), which
		 * may take the old mapping with it: EFAULT. */
		if (!(v->flags & VMS_VMA_SHARED)) {
			err = EINVAL;
			goto out;
		}
		if (fixed) {
			err = vms_arena_where(dst, dst + nlen) != VMS_INSIDE ? ENOMEM
			      : vm_unmap_locked(dst, dst + nlen);
			v = err == 0 ? vms_vma_find(&vms_mm.vmas, a) : v;
			err = err == 0 && v == NULL ? EFAULT : err;
			if (err != 0) {
				goto out;
			}
		}
		if (!(flags & MREMAP_MAYMOVE)) {
			err = ENOMEM; /* nothing to grow in place */
		} else if (fixed) {
			err = dup_shared(a, nlen, dst);
			*out = (void *)dst;
		} else if (vms_vma_find_gap(&vms_mm.vmas, vms_mm.base, vms_mm.end, nlen,
					    VMS_PAGE_SIZE, &dst) != 0) {
			err = ENOMEM;
		} else {
			err = dup_shared(a, nlen, dst);
			*out = (void *)dst;
		}
		goto out;
	}
	if (fixed) {
		if (vms_arena_where(dst, dst + nlen) != VMS_INSIDE) {
			err = ENOMEM;
			goto out;
		}
		/* Linux's order: the target goes, then the shrunk tail. */
		err = vm_unmap_locked(dst, dst + nlen);
		if (err == 0 && nlen < olen) {
			err = vm_unmap_locked(a + nlen, a + olen);
			olen = nlen;
		}
		if (err == 0) {
			v = vms_vma_find(&vms_mm.vmas, a);
			err = move(v, a, olen, nlen, dst, flags & MREMAP_DONTUNMAP, 0);
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
	err = move(vms_vma_find(&vms_mm.vmas, a), a, olen, nlen, dst, flags & MREMAP_DONTUNMAP, 0);
	*out = (void *)dst;
out:
	vms_vmas_gauge_sync();
	vms_map_write_unlock(&saved);
	return err;
}
