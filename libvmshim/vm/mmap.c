/*
 * vm/mmap.c - mmap for the mappings the shim serves: anonymous, private or
 * shared, placed in the arena.
 *
 * What is the shim's (vm_mmap_is_ours): MAP_ANONYMOUS with MAP_PRIVATE or
 * MAP_SHARED, prot within PROT_READ|PROT_WRITE|PROT_EXEC, offset 0, and
 * flags among FIXED, FIXED_NOREPLACE, NORESERVE, POPULATE, NONBLOCK, STACK,
 * UNINITIALIZED.  Everything else (files until the file issue, HUGETLB,
 * GROWSDOWN, 32BIT, LOCKED, unknown bits, zero or unaligned arguments)
 * passes through, so the kernel gives its own answer, errno included.
 *
 * Placement: MAP_FIXED inside the arena replaces what is there; a hint
 * inside the arena is honoured when free (rounded down to a page, as x86
 * Linux does); a hint outside the arena passes through (the kernel honours
 * it as natively); otherwise the highest free gap of the arena (top-down,
 * like Linux).  A request that does not fit passes through (invariant 2).
 *
 * A MAP_FIXED request that is not the shim's (a file, say) but lands in the
 * arena is still done here, under the map lock: what the shim had there is
 * unmapped, the kernel maps the request, and a FOREIGN VMA records it, so
 * that nothing else is placed over it and calls on it go to the kernel.
 *
 * A private anonymous mapping costs no system call: the arena is already
 * PROT_NONE reservation, zero-filled on first touch.  A shared one is
 * backed by a kernel MAP_SHARED anonymous mapping placed over its range
 * (PROT_NONE until touched), so it stays shared across fork.
 *
 * Errors returned (others come from the kernel on pass-through):
 *   EEXIST  MAP_FIXED_NOREPLACE over an existing mapping
 *   ENOMEM  metadata allocation failed
 */
#include "config.h"

#include <errno.h>
#include <sys/mman.h>

#include "os/raw.h"
#include "util/log.h"
#include "util/stats.h"
#include "vm/mm.h"

#define VMS_MMAP_OURS_FLAGS                                                                \
	(MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_FIXED_NOREPLACE |       \
	 MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK | MAP_STACK | MAP_UNINITIALIZED)

static bool vm_mmap_is_ours(size_t len, int prot, int flags, off_t off)
{
	int type = flags & MAP_TYPE;
	return vms_mm.base != 0 && (flags & MAP_ANONYMOUS) &&
	       (type == MAP_SHARED || type == MAP_PRIVATE) &&
	       !(flags & ~VMS_MMAP_OURS_FLAGS) &&
	       !(prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) && len != 0 && off == 0 &&
	       len <= vms_mm.end - vms_mm.base;
}

/* Where the mapping goes: 0 and *at, VMS_PASSTHROUGH, or an errno.  Map lock held. */
static int place(uintptr_t hint, size_t len, int flags, uintptr_t *at)
{
	if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
		if ((hint & ~VMS_PAGE_MASK) || vms_arena_where(hint, hint + len) != VMS_INSIDE) {
			return VMS_PASSTHROUGH;
		}
		if ((flags & MAP_FIXED_NOREPLACE) &&
		    !vms_vma_range_free(&vms_mm.vmas, hint, hint + len)) {
			return EEXIST;
		}
		*at = hint;
		return 0;
	}
	if (hint != 0) {
		uintptr_t h = vms_page_down(hint);
		enum vms_where w = vms_arena_where(h, h + len);
		if (w != VMS_INSIDE || h + len < h) {
			return VMS_PASSTHROUGH;
		}
		if (vms_vma_range_free(&vms_mm.vmas, h, h + len)) {
			*at = h;
			return 0;
		}
	}
	if (vms_vma_find_gap(&vms_mm.vmas, vms_mm.base, vms_mm.end, len, VMS_PAGE_SIZE, at) != 0) {
		return VMS_PASSTHROUGH; /* the arena is full: the kernel serves it */
	}
	return 0;
}

/* A pass-through MAP_FIXED request that lands in the arena. */
static int mmap_foreign(uintptr_t at, size_t len, int prot, int flags, int fd, off_t off,
			void **out)
{
	uint64_t saved;
	int err = 0;
	vms_map_write_lock(&saved);
	if ((flags & MAP_FIXED_NOREPLACE) && !vms_vma_range_free(&vms_mm.vmas, at, at + len)) {
		err = EEXIST;
		goto out;
	}
	struct vms_vma *v = vms_vma_new(&vms_mm.vmas, at, at + len);
	if (v == NULL) {
		err = ENOMEM;
		goto out;
	}
	/* The kernel first: a request it refuses changes nothing.  Then the
	 * shim forgets what it had there (the kernel has replaced it). */
	long before = vms_kmaps_boundaries(at, at + len);
	long r = vms_raw_mmap((void *)at, len, prot, flags, fd, off);
	if (vms_raw_failed(r)) {
		vms_vma_free(&vms_mm.vmas, v);
		err = (int)-r;
		goto out;
	}
	vm_forget_locked(at, at + len);
	v->prot = prot & (PROT_READ | PROT_WRITE | PROT_EXEC);
	v->flags = VMS_VMA_FOREIGN | ((flags & MAP_TYPE) == MAP_PRIVATE ? 0 : VMS_VMA_SHARED);
	v->object = (void *)(uintptr_t)vms_mm.next_object_id++;
	vms_vma_insert(&vms_mm.vmas, v);
	vms_kmaps_adjust(before, vms_kmaps_boundaries(at, at + len));
	*out = (void *)at;
out:
	vms_vmas_gauge_sync();
	vms_map_write_unlock(&saved);
	return err;
}

int vm_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off, void **out)
{
	if (!vm_mmap_is_ours(len, prot, flags, off)) {
		uintptr_t at = (uintptr_t)addr;
		size_t alen = vms_page_up(len);
		/* Unaligned or empty requests: the kernel refuses them itself. */
		if ((flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) && vms_mm.base != 0 && len != 0 &&
		    alen >= len && !(at & ~VMS_PAGE_MASK) && !(off & ~(off_t)VMS_PAGE_MASK)) {
			enum vms_where w = vms_arena_where(at, at + alen);
			if (w == VMS_INSIDE) {
				return mmap_foreign(at, alen, prot, flags, fd, off, out);
			}
			if (w == VMS_ACROSS) {
				vms_log(VMS_LOG_WARN, "MAP_FIXED at %p straddles the arena's edge: "
					"passed to the kernel, the shim may lose track of it", addr);
			}
		}
		return VMS_PASSTHROUGH;
	}
	size_t alen = vms_page_up(len);
	uint64_t saved;
	uintptr_t at = 0;
	int err;
	vms_map_write_lock(&saved);
	err = place((uintptr_t)addr, alen, flags, &at);
	if (err != 0) {
		goto out;
	}
	struct vms_vma *v = vms_vma_new(&vms_mm.vmas, at, at + alen);
	if (v == NULL) {
		err = ENOMEM;
		goto out;
	}
	if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
		err = vm_unmap_locked(at, at + alen);
		if (err != 0) {
			vms_vma_free(&vms_mm.vmas, v);
			goto out;
		}
	}
	v->prot = prot;
	v->flags = VMS_VMA_ANON | ((flags & MAP_TYPE) == MAP_SHARED ? VMS_VMA_SHARED : 0) |
		   ((flags & MAP_NORESERVE) ? VMS_VMA_NORESERVE : 0);
	long before = vms_kmaps_boundaries(at, at + alen);
	if (v->flags & VMS_VMA_SHARED) {
		long r = vms_raw_mmap((void *)at, alen, PROT_NONE,
				      MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
		if (vms_raw_failed(r)) {
			vms_vma_free(&vms_mm.vmas, v);
			err = (int)-r;
			goto out;
		}
		v->object = (void *)(uintptr_t)vms_mm.next_object_id++;
	}
	vms_vma_insert(&vms_mm.vmas, v);
	vms_kmaps_adjust(before, vms_kmaps_boundaries(at, at + alen));
	v = vms_vma_merge(&vms_mm.vmas, v);
	if (flags & MAP_POPULATE) {
		/* As the kernel: population failures do not fail mmap. */
		vms_populate_locked(v, at, at + alen, (prot & PROT_WRITE) != 0);
	}
	*out = (void *)at;
out:
	vms_vmas_gauge_sync();
	vms_map_write_unlock(&saved);
	return err;
}
