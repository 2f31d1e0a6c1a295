/*
 * vm/madvise.c - madvise on arena mappings.
 *
 * The shim acts itself where the advice changes what it tracks:
 *   DONTNEED, DONTNEED_LOCKED, FREE on private memory: the pages go back to
 *           the kernel and read zero afterwards (reservation again, PTEs
 *           released; FREE is allowed to discard at once);
 *   NORMAL, RANDOM, SEQUENTIAL: recorded in the VMA, they steer fault-around;
 *   POPULATE_READ, POPULATE_WRITE: make the pages present now;
 *   WILLNEED: pages in swap are read back (vm/reclaim.c); the kernel reads
 *           files ahead;
 *   PAGEOUT: the present pages are evicted now (swap, or dropped when
 *           their file or swap holds them); COLD: they are deactivated,
 *           so reclaim takes them first; both EINVAL on locked mappings;
 *   REMOVE on private anonymous memory: EINVAL, as on Linux (on files the
 *           kernel answers: EACCES unless shared and writable);
 *   DONTFORK, WIPEONFORK, DONTDUMP, HUGEPAGE, NOHUGEPAGE, MERGEABLE and
 *           their opposites: applied by the kernel and recorded on the VMA
 *           (splitting it as Linux splits its own), so that fork
 *           (vm/fork.c), mremap and the kernel-mapping count know them.
 * Every other advice, and the three above on shared memory, is applied by
 * the kernel to the mapped pieces of the range.  Each piece goes through
 * vm/guard.c first, which owns GUARD_INSTALL and GUARD_REMOVE and keeps
 * guard pages through the others.
 *
 * Errors, in the kernel's order: EINVAL for an unknown advice (passed to
 * the kernel, which says so), an unaligned address or an overflowing
 * length, POPULATE_READ without PROT_READ or POPULATE_WRITE without
 * PROT_WRITE; ENOMEM when part of the range is not mapped (the advice is still
 * applied to the mapped parts); the kernel's errno for advice it applies.
 */
#include "config.h"

#include <errno.h>
#include <sys/mman.h>

#include "os/raw.h"
#include "util/log.h"
#include "util/stats.h"
#include "vm/mm.h"

static bool known_advice(int advice)
{
	return (advice >= MADV_NORMAL && advice <= MADV_DONTNEED) ||
	       (advice >= MADV_FREE && advice <= 25 /* MADV_COLLAPSE */) ||
	       advice == VMS_MADV_GUARD_INSTALL || advice == VMS_MADV_GUARD_REMOVE;
}

/* Private pages of [s, e) back to plain reservation: they read zero next. */
static void drop_private(uintptr_t s, uintptr_t e)
{
	long before = vms_kmaps_boundaries(s, e);
	int err = vms_arena_discard(s, e);
	if (err != 0) {
		vms_fatal("cannot discard [%p, %p): errno %d", (void *)s, (void *)e, err);
	}
	vms_pages_release(s, e);
	vms_kmaps_adjust(before, vms_kmaps_boundaries(s, e));
}

/* The VMA flag a kernel-kept advice sets or clears (0: not such an advice);
 * *opposite gets the flag it clears at the same time, if any. */
static unsigned kernel_flag_of(int advice, bool *set, unsigned *opposite)
{
	*set = true;
	*opposite = 0;
	switch (advice) {
	case MADV_HUGEPAGE:
		*opposite = VMS_VMA_NOHUGEPAGE;
		return VMS_VMA_HUGEPAGE;
	case MADV_NOHUGEPAGE:
		*opposite = VMS_VMA_HUGEPAGE;
		return VMS_VMA_NOHUGEPAGE;
	case MADV_DOFORK: *set = false; /* fall through */
	case MADV_DONTFORK: return VMS_VMA_DONTFORK;
	case MADV_KEEPONFORK: *set = false; /* fall through */
	case MADV_WIPEONFORK: return VMS_VMA_WIPEONFORK;
	case MADV_DODUMP: *set = false; /* fall through */
	case MADV_DONTDUMP: return VMS_VMA_DONTDUMP;
	case MADV_UNMERGEABLE: *set = false; /* fall through */
	case MADV_MERGEABLE: return VMS_VMA_MERGEABLE;
	default: return 0;
	}
}

/* Advice the kernel records on its mapping: apply it there, then record it
 * on the VMA (clipped to the piece) so both split alike. */
static int advise_kernel_flag(uintptr_t s, uintptr_t e, int advice, unsigned flag, bool set,
			      unsigned opposite)
{
	long r = vms_raw_madvise((void *)s, e - s, advice);
	if (vms_raw_failed(r)) {
		return (int)-r;
	}
	if (vms_vma_clip(&vms_mm.vmas, s, e) != 0) {
		return ENOMEM;
	}
	long before = vms_kmaps_boundaries(s, e);
	struct vms_vma *v = vms_vma_find(&vms_mm.vmas, s);
	unsigned flags = (set ? v->flags | flag : v->flags & ~flag) & ~opposite;
	if (flags != v->flags) {
		v->flags = flags | VMS_VMA_MODIFIED;
	}
	vms_kmaps_adjust(before, vms_kmaps_boundaries(s, e));
	vms_vma_settle(v);
	return 0;
}

/* Applies advice to the piece [s, e) of v.  0 or errno. */
static int advise_piece(struct vms_vma *v, uintptr_t s, uintptr_t e, int advice)
{
	bool shared = (v->flags & VMS_VMA_SHARED) != 0;
	bool set;
	unsigned opposite;
	if (v->flags & VMS_VMA_FOREIGN) {
		long r = vms_raw_madvise((void *)s, e - s, advice);
		if (vms_raw_failed(r)) {
			return (int)-r;
		}
		if (advice == MADV_DONTFORK || advice == MADV_DOFORK) {
			/* The kernel will not copy it into a child: fork's child
			 * must forget it too (vm/fork.c). */
			if (vms_vma_clip(&vms_mm.vmas, s, e) != 0) {
				return ENOMEM;
			}
			long before = vms_kmaps_boundaries(s, e);
			struct vms_vma *p = vms_vma_find(&vms_mm.vmas, s);
			unsigned flags = advice == MADV_DONTFORK ? p->flags | VMS_VMA_DONTFORK
								 : p->flags & ~VMS_VMA_DONTFORK;
			if (flags != p->flags) {
				p->flags = flags | VMS_VMA_MODIFIED;
			}
			vms_kmaps_adjust(before, vms_kmaps_boundaries(s, e));
			vms_vma_settle(p);
		}
		return 0;
	}
	if ((advice == MADV_MERGEABLE || advice == MADV_UNMERGEABLE) && shared) {
		/* KSM leaves shared mappings alone: Linux sets no flag there, so
		 * nothing splits. */
		long r = vms_raw_madvise((void *)s, e - s, advice);
		return vms_raw_failed(r) ? (int)-r : 0;
	}
	unsigned flag = kernel_flag_of(advice, &set, &opposite);
	if (flag != 0) {
		return advise_kernel_flag(s, e, advice, flag, set, opposite);
	}
	switch (advice) {
	case MADV_DONTNEED:
	case 24: /* MADV_DONTNEED_LOCKED */
	case MADV_FREE:
		if (advice == MADV_FREE && vms_vma_has_object(v)) {
			return EINVAL; /* lazy freeing is for anonymous memory only */
		}
		if ((v->flags & VMS_VMA_LOCKED) && advice != 24) {
			return EINVAL; /* Linux refuses to discard locked pages */
		}
		if (!shared) {
			drop_private(s, e);
			return 0;
		}
		break;
	case MADV_NORMAL:
	case MADV_RANDOM:
	case MADV_SEQUENTIAL:
		if (vms_vma_clip(&vms_mm.vmas, s, e) != 0) {
			return ENOMEM;
		}
		v = vms_vma_find(&vms_mm.vmas, s);
		unsigned adv = advice == MADV_RANDOM ? VMS_ADV_RANDOM
			     : advice == MADV_SEQUENTIAL ? VMS_ADV_SEQUENTIAL : VMS_ADV_NORMAL;
		if (adv != v->advice) {
			v->advice = adv;
			v->flags |= VMS_VMA_MODIFIED;
		}
		vms_vma_settle(v);
		return 0;
	case MADV_WILLNEED:
		vms_willneed_range(v, s, e); /* pages in swap come back */
		if (!(v->flags & VMS_VMA_FILE)) {
			return 0;
		}
		break; /* the kernel reads the file ahead */
	case MADV_COLD:
	case MADV_PAGEOUT:
		return vms_pageout_range(v, s, e, advice == MADV_COLD);
	case MADV_POPULATE_READ:
	case MADV_POPULATE_WRITE: {
		bool write = advice == MADV_POPULATE_WRITE;
		/* The kernel wants exactly the permission the population uses. */
		if (!(v->prot & (write ? PROT_WRITE : PROT_READ))) {
			return EINVAL;
		}
		int err = vms_populate_locked(v, s, e, write);
		if (err == 0 && vms_vma_has_object(v)) {
			/* Pages present already were not populated again: file
			 * pages become written, dirty or copied, as natively, and
			 * the kernel says whether the whole range can be (EFAULT
			 * past the end of the file or shared object). */
			if (write) {
				vms_mark_written(v, s, e);
			}
			err = vms_populate_kernel(s, e, write);
		}
		return err;
	}
	case MADV_REMOVE:
		/* Private anonymous memory has no backing store to free; for files
		 * the kernel decides (EACCES unless shared and writable). */
		if (!shared && !(v->flags & VMS_VMA_FILE)) {
			return EINVAL;
		}
		break;
	default:
		break;
	}
	long r = vms_raw_madvise((void *)s, e - s, advice);
	return vms_raw_failed(r) ? (int)-r : 0;
}

int vm_madvise(void *addr, size_t len, int advice)
{
	uintptr_t start = (uintptr_t)addr;
	if (vms_arena_where(start, start + vms_page_up(len)) != VMS_INSIDE || !known_advice(advice)) {
		return VMS_PASSTHROUGH;
	}
	if (start & ~VMS_PAGE_MASK) {
		return EINVAL;
	}
	uintptr_t end = start + vms_page_up(len);
	if (end < start) {
		return EINVAL;
	}
	if (end == start) {
		return 0;
	}
	uint64_t saved;
	int err = 0;
	bool hole = false;
	vms_map_write_lock(&saved);
	vms_anon_settle(start, end);
	uintptr_t at = start;
	while (at < end && err == 0) {
		struct vms_vma *v = vms_vma_first_in(&vms_mm.vmas, at, end);
		if (v == NULL) {
			hole = true;
			break;
		}
		if (v->start > at) {
			hole = true;
			if (advice == MADV_POPULATE_READ || advice == MADV_POPULATE_WRITE) {
				break; /* population stops at the first hole, as on Linux */
			}
			at = v->start;
		}
		uintptr_t e = v->end < end ? v->end : end;
		err = vms_guard_advise(v, at, e, advice, advise_piece); /* vm/guard.c */
		at = e;
	}
	vms_vmas_gauge_sync();
	vms_map_write_unlock(&saved);
	return err != 0 ? err : hole ? ENOMEM : 0;
}
