/*
 * shim/interpose.c - the exported memory-management symbols.
 *
 * Owns: the mmap family, brk/sbrk, fork and the mlock family as the program
 * sees them.  Each entry point initialises the library if needed, counts
 * the call, converts arguments, and either calls into vm/ or passes the
 * request through the raw-call layer; only this layer touches errno, and it
 * leaves errno alone on success.  No VM logic lives here.
 *
 * Pass-through results are exactly the kernel's (or glibc's, where glibc
 * adds behaviour: posix_madvise, mlock2 fallback, brk's ENOMEM).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "os/raw.h"
#include "shim/init.h"
#include "util/stats.h"

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

static void *do_mmap(enum vms_call_id id, void *addr, size_t len, int prot, int flags, int fd,
		     off_t off)
{
	vms_ensure_init();
	vms_count_call(id);
	return map_result(vms_raw_mmap(addr, len, prot, flags, fd, off));
}

VMS_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return do_mmap(VMS_CALL_mmap, addr, len, prot, flags, fd, off);
}

VMS_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return do_mmap(VMS_CALL_mmap64, addr, len, prot, flags, fd, off);
}

VMS_EXPORT int munmap(void *addr, size_t len)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_munmap);
	return (int)set_errno(vms_raw_munmap(addr, len));
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
	return map_result(vms_raw_mremap(old, old_len, new_len, flags, new_addr));
}

VMS_EXPORT int mprotect(void *addr, size_t len, int prot)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_mprotect);
	return (int)set_errno(vms_raw_mprotect(addr, len, prot));
}

VMS_EXPORT int msync(void *addr, size_t len, int flags)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_msync);
	return (int)set_errno(vms_raw_msync(addr, len, flags));
}

VMS_EXPORT int madvise(void *addr, size_t len, int advice)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_madvise);
	return (int)set_errno(vms_raw_madvise(addr, len, advice));
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
	long r = vms_raw_madvise(addr, len, advice);
	return vms_raw_failed(r) ? (int)-r : 0;
}

VMS_EXPORT int brk(void *addr)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_brk);
	/* As glibc: the kernel returns the new break, unchanged on failure. */
	__curbrk = (void *)vms_raw_brk(addr);
	if ((uintptr_t)__curbrk < (uintptr_t)addr) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

VMS_EXPORT void *sbrk(intptr_t increment)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_sbrk);
	return __sbrk(increment);
}

VMS_EXPORT pid_t fork(void)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_fork);
	pid_t pid = __fork();
	if (pid == 0) {
		int saved = errno;
		vms_init_after_fork_child();
		errno = saved;
	}
	return pid;
}

VMS_EXPORT int mlock(const void *addr, size_t len)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_mlock);
	return (int)set_errno(vms_raw_mlock(addr, len));
}

VMS_EXPORT int mlock2(const void *addr, size_t len, unsigned int flags)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_mlock2);
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
	return (int)set_errno(vms_raw_munlock(addr, len));
}

VMS_EXPORT int mlockall(int flags)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_mlockall);
	return (int)set_errno(vms_raw_mlockall(flags));
}

VMS_EXPORT int munlockall(void)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_munlockall);
	return (int)set_errno(vms_raw_munlockall());
}

VMS_EXPORT int mincore(void *addr, size_t len, unsigned char *vec)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_mincore);
	return (int)set_errno(vms_raw_mincore(addr, len, vec));
}
