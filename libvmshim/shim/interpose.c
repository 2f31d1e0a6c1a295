/*
 * shim/interpose.c - the exported memory-management symbols.
 *
 * Owns: the mmap family, brk/sbrk, fork and the mlock family as the program
 * sees them.  Each entry point initialises the library if needed, counts
 * the call, converts arguments, and either calls into vm/ or passes the
 * request through the raw-call layer; only this layer touches errno, and it
 * leaves errno alone on success.  No VM logic lives here.
 *
 * vm_* answers VMS_PASSTHROUGH for what is not the shim's (outside the
 * arena, or a kind of mapping it does not serve); those results are
 * exactly the kernel's (or glibc's, where glibc adds behaviour:
 * posix_madvise, mlock2 fallback, brk's ENOMEM).  A range call (munmap,
 * mprotect, madvise, msync, mlock, munlock) whose range straddles an edge of
 * the arena is cut in pieces, each served by its owner, in address order;
 * mincore and mremap across the edge go to the kernel.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "os/raw.h"
#include "shim/init.h"
#include "util/stats.h"
#include "vm/mm.h"

/* glibc's own entry points, used where pass-through must keep its behaviour. */
extern pid_t __fork(void);
extern void *__sbrk(intptr_t increment);
extern void *__curbrk;

/* Converts a raw result to the libc convention: sets errno on failure. */
static long set_errno(long r)
{
	if (vms_raw_failed(r)) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

static void *map_result(long r)
{
	return vms_raw_failed(r) ? (errno = (int)-r, MAP_FAILED) : (void *)r;
}

/* Result of a vm_* call returning 0, an errno, or VMS_PASSTHROUGH (with
 * the kernel's answer computed by the caller in that case). */
static int vm_result(int r)
{
	if (r != 0) {
		errno = r;
		return -1;
	}
	return 0;
}

/*
 * Runs a range call piecewise when [start, start + len) straddles an arena
 * edge: below the arena, inside it, above it, stopping at the first error.
 * Returns VMS_PASSTHROUGH when the range does not straddle.
 */
static int split_at_arena(uintptr_t start, size_t len, int (*inside)(void *, size_t, int),
			  long (*outside)(void *, size_t, int), int arg)
{
	uintptr_t end = start + len;
	if (end < start || vms_arena_where(start, end) != VMS_ACROSS) {
		return VMS_PASSTHROUGH;
	}
	uintptr_t cut[4] = { start, vms_mm.base, vms_mm.end, end };
	for (int i = 0; i < 3; i++) {
		uintptr_t s = cut[i] > start ? cut[i] : start;
		uintptr_t e = cut[i + 1] < end ? cut[i + 1] : end;
		if (s >= e) {
			continue;
		}
		int r = i == 1 ? inside((void *)s, e - s, arg) : 0;
		if (i != 1) {
			long k = outside((void *)s, e - s, arg);
			r = vms_raw_failed(k) ? (int)-k : 0;
		}
		if (r != 0) {
			return r;
		}
	}
	return 0;
}

static int vm_munmap3(void *a, size_t l, int unused) { (void)unused; return vm_munmap(a, l); }
static long raw_munmap3(void *a, size_t l, int unused) { (void)unused; return vms_raw_munmap(a, l); }
static int vm_mlock3(void *a, size_t l, int lock) { return vm_mlock(a, l, 0, lock); }
static long raw_mlock3(void *a, size_t l, int lock)
{
	return lock ? vms_raw_mlock(a, l) : vms_raw_munlock(a, l);
}

/* A range call: the shim's answer, or the pieces on each side of the
 * arena's edge, or the kernel's alone. */
static int range_call(void *addr, size_t len, int arg, int (*inside)(void *, size_t, int),
		      long (*outside)(void *, size_t, int))
{
	int r = inside(addr, len, arg);
	if (r == VMS_PASSTHROUGH && ((uintptr_t)addr & 4095) == 0) {
		r = split_at_arena((uintptr_t)addr, (len + 4095) & ~(size_t)4095, inside, outside,
				   arg);
	}
	if (r == VMS_PASSTHROUGH) {
		long k = outside(addr, len, arg);
		r = vms_raw_failed(k) ? (int)-k : 0;
	}
	return r;
}

static void *do_mmap(enum vms_call_id id, void *addr, size_t len, int prot, int flags, int fd,
		     off_t off, const void *caller)
{
	vms_ensure_init();
	vms_count_call(id);
	void *out;
	vms_mmap_caller = (uintptr_t)caller;
	int r = vm_mmap(addr, len, prot, flags, fd, off, &out);
	vms_mmap_caller = 0;
	if (r == VMS_PASSTHROUGH) {
		return map_result(vms_raw_mmap(addr, len, prot, flags, fd, off));
	}
	if (r == 0) {
		/* Attribution: who made this mapping (util/trace.h). */
		vms_trace_caller(VMS_TRACE_MAP, (uintptr_t)out, len, caller);
	}
	return r != 0 ? (errno = r, MAP_FAILED) : out;
}

VMS_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return do_mmap(VMS_CALL_mmap, addr, len, prot, flags, fd, off, __builtin_return_address(0));
}

VMS_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return do_mmap(VMS_CALL_mmap64, addr, len, prot, flags, fd, off,
		       __builtin_return_address(0));
}

VMS_EXPORT int munmap(void *addr, size_t len)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_munmap);
	int r = vm_munmap(addr, len);
	if (r == 0) {
		vms_trace_caller(VMS_TRACE_UNMAP, (uintptr_t)addr, len, NULL);
	}
	if (r == VMS_PASSTHROUGH && ((uintptr_t)addr & 4095) == 0) {
		r = split_at_arena((uintptr_t)addr, (len + 4095) & ~(size_t)4095, vm_munmap3,
				   raw_munmap3, 0);
	}
	if (r == VMS_PASSTHROUGH) {
		return (int)set_errno(vms_raw_munmap(addr, len));
	}
	return vm_result(r);
}

VMS_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr = NULL;
	vms_ensure_init();
	vms_count_call(VMS_CALL_mremap);
	if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) {
		va_list ap;
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	void *out;
	int r = vm_mremap(old, old_len, new_len, flags, new_addr, &out);
	if (r == VMS_PASSTHROUGH) {
		return map_result(vms_raw_mremap(old, old_len, new_len, flags, new_addr));
	}
	return r != 0 ? (errno = r, MAP_FAILED) : out;
}

VMS_EXPORT int mprotect(void *addr, size_t len, int prot)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_mprotect);
	int r = vm_mprotect(addr, len, prot);
	if (r == VMS_PASSTHROUGH && ((uintptr_t)addr & 4095) == 0) {
		r = split_at_arena((uintptr_t)addr, (len + 4095) & ~(size_t)4095, vm_mprotect,
				   vms_raw_mprotect, prot);
	}
	if (r == VMS_PASSTHROUGH) {
		return (int)set_errno(vms_raw_mprotect(addr, len, prot));
	}
	return vm_result(r);
}

VMS_EXPORT int msync(void *addr, size_t len, int flags)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_msync);
	return vm_result(range_call(addr, len, flags, vm_msync, vms_raw_msync));
}

VMS_EXPORT int madvise(void *addr, size_t len, int advice)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_madvise);
	return vm_result(range_call(addr, len, advice, vm_madvise, vms_raw_madvise));
}

/* glibc: POSIX_MADV_DONTNEED is ignored (it would discard data); errors are
 * returned, not stored in errno. */
VMS_EXPORT int posix_madvise(void *addr, size_t len, int advice)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_posix_madvise);
	if (advice == POSIX_MADV_DONTNEED) {
		return 0;
	}
	return range_call(addr, len, advice, vm_madvise, vms_raw_madvise);
}

/* The break the program sees: emulated in the arena (vm/brk.c), or the
 * kernel's when there is no arena.  Returns the new or the current break. */
static uintptr_t program_brk(uintptr_t want)
{
	if (vms_mm.base != 0) {
		return vm_brk(want);
	}
	__curbrk = (void *)vms_raw_brk((void *)want);
	return (uintptr_t)__curbrk;
}

/* As glibc's: the break moves or stays; ENOMEM when it could not reach addr. */
VMS_EXPORT int brk(void *addr)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_brk);
	if (program_brk((uintptr_t)addr) < (uintptr_t)addr) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* As glibc's: the old break, or (void *)-1 with ENOMEM. */
VMS_EXPORT void *sbrk(intptr_t increment)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_sbrk);
	if (vms_mm.base == 0) {
		return __sbrk(increment);
	}
	uintptr_t old = vm_brk(0); /* below the start: fails, returns the break */
	if (increment == 0) {
		return (void *)old;
	}
	if ((increment > 0 && old + (uintptr_t)increment < old) ||
	    (increment < 0 && old < (uintptr_t)-increment)) {
		errno = ENOMEM;
		return (void *)-1;
	}
	uintptr_t want = old + (uintptr_t)increment;
	if (vm_brk(want) != want) {
		errno = ENOMEM;
		return (void *)-1;
	}
	return (void *)old;
}

VMS_EXPORT pid_t fork(void)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_fork);
	vms_alloc_prefork();
	pid_t pid = __fork();
	int saved = errno;
	if (pid == 0) {
		vms_alloc_postfork_child();
		vms_init_after_fork_child();
	} else {
		vms_alloc_postfork_parent();
	}
	errno = saved;
	return pid;
}

VMS_EXPORT int mlock(const void *addr, size_t len)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_mlock);
	return vm_result(range_call((void *)addr, len, 1, vm_mlock3, raw_mlock3));
}

VMS_EXPORT int mlock2(const void *addr, size_t len, unsigned int flags)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_mlock2);
	int v = vm_mlock(addr, len, flags, true);
	if (v != VMS_PASSTHROUGH) {
		return vm_result(v);
	}
	long r = vms_raw_mlock2(addr, len, flags);
	/* glibc falls back to mlock on kernels without mlock2. */
	if (r == -ENOSYS) {
		r = flags == 0 ? vms_raw_mlock(addr, len) : -EINVAL;
	}
	return (int)set_errno(r);
}

VMS_EXPORT int munlock(const void *addr, size_t len)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_munlock);
	return vm_result(range_call((void *)addr, len, 0, vm_mlock3, raw_mlock3));
}

VMS_EXPORT int mlockall(int flags)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_mlockall);
	return vm_result(vm_mlockall(flags));
}

VMS_EXPORT int munlockall(void)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_munlockall);
	return vm_result(vm_munlockall());
}

VMS_EXPORT int mincore(void *addr, size_t len, unsigned char *vec)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_mincore);
	int r = vm_mincore(addr, len, vec);
	if (r == VMS_PASSTHROUGH) {
		return (int)set_errno(vms_raw_mincore(addr, len, vec));
	}
	return vm_result(r);
}
