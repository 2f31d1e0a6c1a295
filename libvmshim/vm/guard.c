/*
 * vm/guard.c - guard regions (MADV_GUARD_INSTALL, MADV_GUARD_REMOVE, Linux
 * 6.13+) on arena mappings, with Linux's semantics.
 *
 * Owns: the GUARD state of PTEs.  A guard page is a PTE holding exactly
 * VMS_PTE_GUARD: not present, PROT_NONE in the kernel, nothing in swap.
 * Linux keeps guards as page-table markers, not VMA attributes, and so does
 * the shim: VMAs never split for them.  Their life, as on Linux:
 *   install  every page of the range loses its contents (private memory
 *            reads zero, or its file, after removal; shared memory keeps
 *            its object) and becomes a guard.  EINVAL on a locked mapping.
 *   access   SIGSEGV with SEGV_MAPERR (vm/fault.c: the guard hook), after
 *            the VMA's own protection check (SEGV_ACCERR first); the kernel
 *            answers EFAULT for system calls (the page stays PROT_NONE and
 *            vms_prefault leaves genuine faults alone).
 *   survive  MADV_DONTNEED, DONTNEED_LOCKED, FREE (vms_guard_advise skips
 *            guard pages), mprotect (it only changes present pages), fork
 *            (the child's page table is a copy), mremap (PTEs move
 *            verbatim).  MADV_POPULATE_* stops at the first guard page with
 *            EFAULT; mlock's kernel population fails there (ENOMEM, locked
 *            all the same: vm/range.c).
 *   end      MADV_GUARD_REMOVE (the page is untouched again: it refills on
 *            next access), munmap and MAP_FIXED (PTEs released), and in a
 *            forked child, a MADV_WIPEONFORK mapping (vms_guard_fork_child).
 *   mincore  a guard page is not resident in private memory; shared and
 *            file mappings report the page cache, as the kernel does.
 *
 * vms_guard_ever says whether a guard was ever installed: until then the
 * discarding advice takes its usual path with no page-table walk.  Map lock
 * held for writing by every caller here.
 */
#include "config.h"

#include <errno.h>
#include <sys/mman.h>

#include "os/raw.h"
#include "util/log.h"
#include "util/stats.h"
#include "vm/mm.h"

static bool vms_guard_ever;

static bool is_guard(uintptr_t x)
{
	vms_pte_t *pt = vms_pte_lookup(&vms_mm.ptes, x);
	return pt != NULL && vms_pte_load(pt) == VMS_PTE_GUARD;
}

/* The first guard page in [s, e), or e. */
static uintptr_t next_guard(uintptr_t s, uintptr_t e)
{
	for (uintptr_t x = s; x < e;) {
		vms_pte_t *first;
		size_t n = vms_pte_span(&vms_mm.ptes, x, &first);
		for (size_t i = 0; i < n && x < e; i++, x += VMS_PAGE_SIZE) {
			if (first != NULL && vms_pte_load(&first[i]) == VMS_PTE_GUARD) {
				return x;
			}
		}
	}
	return e;
}

/* The first page in [s, e) that is not a guard, or e. */
static uintptr_t next_unguarded(uintptr_t s, uintptr_t e)
{
	uintptr_t x = s;
	while (x < e && is_guard(x)) {
		x += VMS_PAGE_SIZE;
	}
	return x;
}

/* MADV_GUARD_INSTALL on the piece [s, e) of v. */
static int install(struct vms_vma *v, uintptr_t s, uintptr_t e, vms_advise_fn piece)
{
	if (v->flags & VMS_VMA_LOCKED) {
		return EINVAL; /* as Linux: no guards in locked memory */
	}
	if (v->flags & VMS_VMA_SHARED) {
		/* The object keeps the contents: the pages only stop being
		 * accessible, as if unmapped from the page table. */
		long before = vms_kmaps_boundaries(s, e);
		if (v->flags & VMS_VMA_FILE) {
			size_t dirty = vms_dirty_pages(s, e);
			vms_gauge_add(&vms_stats.file_dirty, -(int64_t)dirty);
			vms_count_add(&vms_stats.written_back_pages, dirty);
		}
		long r = vms_raw_mprotect((void *)s, e - s, PROT_NONE);
		if (vms_raw_failed(r)) {
			vms_fatal("guard: cannot protect [%p, %p): errno %ld", (void *)s, (void *)e, -r);
		}
		vms_pages_release(s, e);
		vms_kmaps_adjust(before, vms_kmaps_boundaries(s, e));
	} else {
		/* Private memory loses its contents, as MADV_DONTNEED does. */
		for (uintptr_t x = next_unguarded(s, e); x < e;) {
			uintptr_t g = next_guard(x, e);
			int err = piece(v, x, g, MADV_DONTNEED);
			if (err != 0) {
				return err;
			}
			x = next_unguarded(g, e);
		}
	}
	vms_guard_ever = true;
	for (uintptr_t x = s; x < e; x += VMS_PAGE_SIZE) {
		vms_pte_t *pt = vms_pte_ensure(&vms_mm.ptes, x);
		if (pt == NULL) {
			return ENOMEM;
		}
		vms_pte_store(pt, VMS_PTE_GUARD);
	}
	return 0;
}

/* MADV_GUARD_REMOVE on [s, e): guard pages become untouched pages. */
static void remove_guards(uintptr_t s, uintptr_t e)
{
	if (!vms_guard_ever) {
		return;
	}
	for (uintptr_t x = next_guard(s, e); x < e;) {
		uintptr_t u = next_unguarded(x, e);
		vms_pte_release_range(&vms_mm.ptes, x, u);
		x = next_guard(u, e);
	}
}

/* Applies a discarding advice to the pages of [s, e) that are not guards. */
static int around_guards(struct vms_vma *v, uintptr_t s, uintptr_t e, int advice,
			 vms_advise_fn piece)
{
	for (uintptr_t x = next_unguarded(s, e); x < e;) {
		uintptr_t g = next_guard(x, e);
		int err = piece(v, x, g, advice);
		if (err != 0) {
			return err;
		}
		x = next_unguarded(g, e);
	}
	return 0;
}

int vms_guard_advise(struct vms_vma *v, uintptr_t s, uintptr_t e, int advice,
		     vms_advise_fn piece)
{
	if (v->flags & VMS_VMA_FOREIGN) {
		return piece(v, s, e, advice); /* the kernel's own guards */
	}
	switch (advice) {
	case VMS_MADV_GUARD_INSTALL:
	case VMS_MADV_GUARD_REMOVE: {
		/* A kernel without guard regions says EINVAL for the advice. */
		long r = vms_raw_madvise((void *)s, 0, advice);
		if (vms_raw_failed(r)) {
			return (int)-r;
		}
		if (advice == VMS_MADV_GUARD_INSTALL) {
			return install(v, s, e, piece);
		}
		remove_guards(s, e);
		return 0;
	}
	case MADV_DONTNEED:
	case 24: /* MADV_DONTNEED_LOCKED */
	case MADV_FREE:
		if (!vms_guard_ever) {
			break;
		}
		/* The advice's own refusals (locked memory, FREE on files) come
		 * first, even when the piece is all guards. */
		if (next_unguarded(s, e) == e) {
			if (advice == MADV_FREE && vms_vma_has_object(v)) {
				return EINVAL;
			}
			if (advice != 24 && (v->flags & VMS_VMA_LOCKED)) {
				return EINVAL;
			}
			return 0;
		}
		return around_guards(v, s, e, advice, piece);
	case MADV_POPULATE_READ:
	case MADV_POPULATE_WRITE: {
		if (!vms_guard_ever) {
			break;
		}
		/* Population stops at the first guard page: EFAULT, after the
		 * permission check the kernel makes first. */
		uintptr_t g = next_guard(s, e);
		if (g == e) {
			break;
		}
		bool write = advice == MADV_POPULATE_WRITE;
		if (!(v->prot & (write ? PROT_WRITE : PROT_READ))) {
			return EINVAL;
		}
		int err = g > s ? piece(v, s, g, advice) : 0;
		return err != 0 ? err : EFAULT;
	}
	default:
		break;
	}
	return piece(v, s, e, advice);
}

void vms_guard_fork_child(void)
{
	if (!vms_guard_ever) {
		return;
	}
	/* The child's MADV_WIPEONFORK memory is a fresh mapping: no guards. */
	for (struct vms_vma *v = vms_vma_first(&vms_mm.vmas); v != NULL; v = vms_vma_next(v)) {
		if (v->flags & VMS_VMA_WIPEONFORK) {
			remove_guards(v->start, v->end);
		}
	}
}
