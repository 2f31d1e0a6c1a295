/*
 * vm/mmap.c - mmap for the mappings the shim serves: anonymous memory and
 * regular files, private or shared, placed in the arena.
 *
 * What is the shim's (mapping_kind): MAP_PRIVATE or MAP_SHARED (for files
 * also MAP_SHARED_VALIDATE) of anonymous memory, of /dev/zero (which is
 * anonymous memory) or of a regular file (memfd and tmpfs files included),
 * any prot (only PROT_READ, PROT_WRITE and PROT_EXEC count: Linux ignores
 * the other bits), a page-aligned offset (which
 * anonymous memory ignores, as Linux does), and flags among FIXED, FIXED_NOREPLACE, NORESERVE,
 * POPULATE, NONBLOCK, STACK, UNINITIALIZED, LOCKED (present and locked at
 * once when the kernel allows the lock), DENYWRITE and EXECUTABLE (which
 * Linux ignores).  Everything else (devices, HUGETLB,
 * GROWSDOWN, 32BIT, bits the kernel knows and the shim does not, zero or
 * unaligned arguments) passes through, so the kernel gives its own answer.
 * Bits the running kernel does not know are ignored, as the kernel ignores
 * them (except under MAP_SHARED_VALIDATE: EOPNOTSUPP from the kernel).
 *
 * File mappings: the kernel's page cache is the store.  The shim asks the
 * kernel to map the file at the chosen arena address with the caller's own
 * prot, flags and offset (so every check and errno is the kernel's: EACCES,
 * ENODEV, EOVERFLOW...), then drops it to PROT_NONE: the first touch is a
 * file fault (vm/fault.c).  Shared writes land in the page cache, visible
 * to read() at once and kept if the process dies; private pages not yet
 * written see later changes to the file, as on Linux.
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
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "os/raw.h"
#include "util/inject.h"
#include "util/log.h"
#include "util/stats.h"
#include "vm/mm.h"

__thread uintptr_t vms_mmap_caller __attribute__((tls_model("initial-exec")));

#define VMS_MMAP_OURS_FLAGS                                                                \
	(MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_FIXED_NOREPLACE |       \
	 MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK | MAP_STACK | MAP_UNINITIALIZED |       \
	 MAP_LOCKED | MAP_DENYWRITE | MAP_EXECUTABLE /* both ignored by Linux */)

enum mapping_kind { NOT_OURS, ANON, FILE_MAP };

/* Flag bits the running kernel does not know (bit set) or does (bit set in
 * probed): learnt once per bit by asking MAP_SHARED_VALIDATE, which refuses
 * unknown bits with EOPNOTSUPP.  MAP_SHARED and MAP_PRIVATE ignore them. */
static unsigned unknown_bits, probed_bits;

/* The bits of flags a MAP_SHARED or MAP_PRIVATE mmap on this kernel
 * ignores because the kernel does not know them. */
static int ignored_flags(int flags)
{
	int type = flags & MAP_TYPE;
	unsigned extra = (unsigned)flags & ~(unsigned)(VMS_MMAP_OURS_FLAGS | MAP_SHARED_VALIDATE);
	if (extra == 0 || (type != MAP_SHARED && type != MAP_PRIVATE)) {
		return 0;
	}
	unsigned unknown = __atomic_load_n(&unknown_bits, __ATOMIC_RELAXED);
	unsigned probed = __atomic_load_n(&probed_bits, __ATOMIC_RELAXED);
	if ((extra & ~probed) != 0) {
		/* Validation is for file mappings: /dev/zero is one. */
		long fd = vms_raw_open("/dev/zero", O_RDWR | O_CLOEXEC, 0);
		for (unsigned todo = extra & ~probed; todo != 0 && !vms_raw_failed(fd);
		     todo &= todo - 1) {
			unsigned bit = todo & -todo;
			long r = vms_raw_mmap(NULL, VMS_PAGE_SIZE, PROT_NONE,
					      MAP_SHARED_VALIDATE | (int)bit, (int)fd, 0);
			if (!vms_raw_failed(r)) {
				vms_raw_munmap((void *)r, VMS_PAGE_SIZE);
			} else if (r == -EOPNOTSUPP) {
				unknown |= bit;
				__atomic_fetch_or(&unknown_bits, bit, __ATOMIC_RELAXED);
			}
			__atomic_fetch_or(&probed_bits, bit, __ATOMIC_RELAXED);
		}
		if (!vms_raw_failed(fd)) {
			vms_raw_close((int)fd);
		}
	}
	return (extra & ~unknown) == 0 ? (int)extra : 0;
}

/* Which kind of mapping the request is for the shim; *writable_fd says
 * whether a file's descriptor allows shared writes. */
static enum mapping_kind mapping_kind(size_t len, int flags, int fd, off_t off,
				      bool *writable_fd, struct stat *st)
{
	int type = flags & MAP_TYPE;
	flags &= ~ignored_flags(flags);
	if (vms_mm.base == 0 || len == 0 || len > vms_mm.end - vms_mm.base ||
	    (flags & ~(VMS_MMAP_OURS_FLAGS | MAP_SHARED_VALIDATE)) ||
	    (off & ~(off_t)VMS_PAGE_MASK)) {
		return NOT_OURS;
	}
	if (flags & MAP_ANONYMOUS) {
		/* Linux ignores the offset of anonymous memory (pgoff is the
		 * address for private memory, 0 for shared), once it is aligned
		 * and pgoff + pages does not overflow (EOVERFLOW). */
		uint64_t pgoff = (uint64_t)off >> VMS_PAGE_SHIFT;
		return (type == MAP_SHARED || type == MAP_PRIVATE) && off >= 0 &&
				       pgoff + vms_page_up(len) / VMS_PAGE_SIZE >= pgoff
			       ? ANON
			       : NOT_OURS;
	}
	if (type != MAP_SHARED && type != MAP_PRIVATE && type != MAP_SHARED_VALIDATE) {
		return NOT_OURS;
	}
	if (vms_raw_failed(vms_raw_fstat(fd, st))) {
		return NOT_OURS; /* the kernel says EBADF */
	}
	if (S_ISCHR(st->st_mode) && st->st_rdev == makedev(1, 5) && type != MAP_SHARED_VALIDATE) {
		return ANON; /* /dev/zero */
	}
	if (!S_ISREG(st->st_mode)) {
		return NOT_OURS;
	}
	long fl = vms_raw_fcntl(fd, F_GETFL, 0);
	*writable_fd = !vms_raw_failed(fl) && (fl & O_ACCMODE) == O_RDWR;
	return FILE_MAP;
}

/* Whether a mapping ending at end would lie in the stack guard gap (256
 * pages, Linux's default) below a MAP_GROWSDOWN mapping (vm/stack.c):
 * Linux does not place a mapping there (vm_start_gap). */
static bool below_stack(uintptr_t end)
{
	struct vms_vma *next = vms_vma_first_in(&vms_mm.vmas, end, vms_mm.end);
	return next != NULL && (next->flags & VMS_VMA_GROWSDOWN) &&
	       end + 256 * VMS_PAGE_SIZE > next->start;
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
		if (vms_vma_range_free(&vms_mm.vmas, h, h + len) && !below_stack(h + len)) {
			*at = h;
			return 0;
		}
	}
	if (vms_vma_find_gap(&vms_mm.vmas, vms_mm.base, vms_mm.end, len, VMS_PAGE_SIZE, at) != 0) {
		return VMS_PASSTHROUGH; /* the arena is full: the kernel serves it */
	}
	return 0;
}

/*
 * Maps the file under v (not yet linked): the kernel maps it with the
 * caller's arguments at v's range, then it becomes PROT_NONE.  0, or the
 * kernel's errno with v freed (and a range the kernel may have emptied
 * turned back into reservation).
 */
static int map_file(struct vms_vma *v, int prot, int flags, int fd, off_t off)
{
	uintptr_t at = v->start;
	size_t len = v->end - v->start;
	bool fixed = (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) != 0;
	int kflags = (flags & ~(MAP_FIXED_NOREPLACE | MAP_POPULATE)) | MAP_FIXED;
	long r = vms_inject_mmap((void *)at, len, prot, kflags, fd, off);
	if (vms_raw_failed(r)) {
		if (!fixed) {
			vms_arena_reserve(at, at + len);
		}
		vms_vma_free(&vms_mm.vmas, v);
		return (int)-r;
	}
	if (fixed) {
		vm_forget_locked(at, at + len); /* the kernel replaced it */
	}
	r = vms_raw_mprotect((void *)at, len, PROT_NONE);
	if (vms_raw_failed(r)) {
		vms_fatal("cannot protect the new file mapping at %p: errno %ld", (void *)at, -r);
	}
	v->object = (void *)(uintptr_t)vms_mm.next_object_id++;
	v->pgoff = (uint64_t)off >> VMS_PAGE_SHIFT;
	return 0;
}

/* A pass-through MAP_FIXED request that lands in the arena. */
static int mmap_foreign(uintptr_t at, size_t len, int prot, int flags, int fd, off_t off,
			void **out)
{
	uint64_t saved;
	int err = 0;
	vms_map_write_lock(&saved);
	vms_anon_settle(at, at + len);
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
	v->flags = VMS_VMA_FOREIGN | ((flags & MAP_TYPE) == MAP_PRIVATE ? 0 : VMS_VMA_SHARED) |
		   ((flags & MAP_GROWSDOWN) ? VMS_VMA_GROWSDOWN : 0); /* vm/stack.c */
	v->object = (void *)(uintptr_t)vms_mm.next_object_id++;
	v->caller = vms_mmap_caller;
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
	/* x86 Linux's mmap ignores every protection bit but these three
	 * (PROT_SEM, PROT_GROWSDOWN/UP, unknown bits: no error, no effect). */
	prot &= PROT_READ | PROT_WRITE | PROT_EXEC;
	bool writable_fd = false;
	struct stat st;
	enum mapping_kind kind = mapping_kind(len, flags, fd, off, &writable_fd, &st);
	if (kind == ANON && !(flags & MAP_ANONYMOUS)) {
		/* /dev/zero: private is anonymous memory, shared is shared memory. */
		flags |= MAP_ANONYMOUS;
		fd = -1;
	}
	if (kind == ANON) {
		off = 0;
	}
	if (kind == NOT_OURS) {
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
	vms_anon_settle(at, at + alen);
	struct vms_vma *v = vms_vma_new(&vms_mm.vmas, at, at + alen);
	if (v == NULL) {
		err = ENOMEM;
		goto out;
	}
	if ((flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) && kind == ANON) {
		err = vm_unmap_locked(at, at + alen);
		if (err != 0) {
			vms_vma_free(&vms_mm.vmas, v);
			goto out;
		}
	}
	v->prot = prot;
	bool shared = (flags & MAP_TYPE) != MAP_PRIVATE;
	v->flags = (kind == FILE_MAP ? VMS_VMA_FILE : VMS_VMA_ANON) |
		   (shared ? VMS_VMA_SHARED : 0) |
		   ((flags & MAP_NORESERVE) ? VMS_VMA_NORESERVE : 0) |
		   (kind == FILE_MAP && shared && !writable_fd ? VMS_VMA_NOWRITE : 0) |
		   /* accountable_mapping(): private, writable, not NORESERVE */
		   (!shared && (prot & PROT_WRITE) && !(flags & MAP_NORESERVE) ? VMS_VMA_ACCOUNT
									       : 0);
	long before = vms_kmaps_boundaries(at, at + alen);
	if (kind == FILE_MAP) {
		err = map_file(v, prot, flags, fd, off);
		if (err != 0) {
			goto out;
		}
		v->dev = st.st_dev;
		v->ino = st.st_ino;
	} else if (v->flags & VMS_VMA_SHARED) {
		long r = vms_inject_mmap((void *)at, alen, PROT_NONE,
				      MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
		if (vms_raw_failed(r)) {
			vms_vma_free(&vms_mm.vmas, v);
			err = (int)-r;
			goto out;
		}
		v->object = (void *)(uintptr_t)vms_mm.next_object_id++;
	}
	v->caller = vms_mmap_caller;
	if ((flags & MAP_STACK) &&
	    !vms_raw_failed(vms_raw_madvise((void *)at, alen, MADV_NOHUGEPAGE))) {
		/* Linux (6.7+, with THP) maps MAP_STACK as VM_NOHUGEPAGE. */
		v->flags |= VMS_VMA_NOHUGEPAGE;
	}
	/* Born locked or not: it merges only with mappings alike. */
	v->flags |= vms_new_lock_bits((flags & MAP_LOCKED) != 0);
	vms_vma_insert(&vms_mm.vmas, v);
	vms_kmaps_adjust(before, vms_kmaps_boundaries(at, at + alen));
	v = vms_vma_merge_new(&vms_mm.vmas, v);
	if (flags & MAP_POPULATE) {
		/* As the kernel: population failures do not fail mmap. */
		vms_populate_locked(v, at, at + alen, (prot & PROT_WRITE) != 0);
	}
	err = vm_lock_new_locked(at, at + alen, (flags & MAP_LOCKED) != 0);
	if (err != 0) {
		vm_unmap_locked(at, at + alen);
		goto out;
	}
	*out = (void *)at;
out:
	vms_vmas_gauge_sync();
	vms_map_write_unlock(&saved);
	return err;
}
