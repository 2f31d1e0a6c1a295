/*
 * os/raw.c - raw system calls; see os/raw.h for the contract.
 *
 * Must not: touch errno, allocate, call any symbol libvmshim interposes.
 */
#include "config.h"
#include "os/raw.h"

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
long vms_syscall6(long nr, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__aarch64__)
long vms_syscall6(long nr, long a, long b, long c, long d, long e, long f)
{
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;
	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
}
#else
long vms_syscall6(long nr, long a, long b, long c, long d, long e, long f)
{
	int saved = errno;
	long r = syscall(nr, a, b, c, d, e, f);
	if (r == -1) {
		r = -errno;
	}
	errno = saved;
	return r;
}
#endif

#define SC0(nr) vms_syscall6((nr), 0, 0, 0, 0, 0, 0)
#define SC1(nr, a) vms_syscall6((nr), (long)(a), 0, 0, 0, 0, 0)
#define SC2(nr, a, b) vms_syscall6((nr), (long)(a), (long)(b), 0, 0, 0, 0)
#define SC3(nr, a, b, c) vms_syscall6((nr), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define SC4(nr, a, b, c, d) \
	vms_syscall6((nr), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define SC5(nr, a, b, c, d, e) \
	vms_syscall6((nr), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)
#define SC6(nr, a, b, c, d, e, f) \
	vms_syscall6((nr), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

long vms_raw_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return SC6(SYS_mmap, addr, len, prot, flags, fd, off);
}
long vms_raw_munmap(void *addr, size_t len) { return SC2(SYS_munmap, addr, len); }
long vms_raw_mprotect(void *addr, size_t len, int prot)
{
	return SC3(SYS_mprotect, addr, len, prot);
}
long vms_raw_madvise(void *addr, size_t len, int advice)
{
	return SC3(SYS_madvise, addr, len, advice);
}
long vms_raw_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr)
{
	return SC5(SYS_mremap, old, old_len, new_len, flags, new_addr);
}
long vms_raw_msync(void *addr, size_t len, int flags) { return SC3(SYS_msync, addr, len, flags); }
long vms_raw_mlock(const void *addr, size_t len) { return SC2(SYS_mlock, addr, len); }
long vms_raw_mlock2(const void *addr, size_t len, unsigned int flags)
{
#ifdef SYS_mlock2
	return SC3(SYS_mlock2, addr, len, flags);
#else
	(void)addr, (void)len, (void)flags;
	return -ENOSYS;
#endif
}
long vms_raw_munlock(const void *addr, size_t len) { return SC2(SYS_munlock, addr, len); }
long vms_raw_mlockall(int flags) { return SC1(SYS_mlockall, flags); }
long vms_raw_munlockall(void) { return SC0(SYS_munlockall); }
long vms_raw_mincore(void *addr, size_t len, unsigned char *vec)
{
	return SC3(SYS_mincore, addr, len, vec);
}
long vms_raw_brk(void *addr) { return SC1(SYS_brk, addr); }

long vms_raw_read(int fd, void *buf, size_t n) { return SC3(SYS_read, fd, buf, n); }
long vms_raw_write(int fd, const void *buf, size_t n) { return SC3(SYS_write, fd, buf, n); }
long vms_raw_open(const char *path, int flags, int mode)
{
	return SC4(SYS_openat, -100 /* AT_FDCWD */, path, flags, mode);
}
long vms_raw_close(int fd) { return SC1(SYS_close, fd); }
long vms_raw_pread(int fd, void *buf, size_t n, off_t off)
{
	return SC4(SYS_pread64, fd, buf, n, off);
}
long vms_raw_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	return SC4(SYS_pwrite64, fd, buf, n, off);
}
long vms_raw_unlink(const char *path) { return SC3(SYS_unlinkat, -100 /* AT_FDCWD */, path, 0); }
long vms_raw_mkdir(const char *path, int mode) { return SC3(SYS_mkdirat, -100 /* AT_FDCWD */, path, mode); }
long vms_raw_ftruncate(int fd, off_t len) { return SC2(SYS_ftruncate, fd, len); }
long vms_raw_sync_file_range(int fd, off_t off, off_t n, unsigned int flags)
{
	return SC4(SYS_sync_file_range, fd, off, n, flags);
}
long vms_raw_getuid(void) { return SC0(SYS_getuid); }
long vms_raw_fstat(int fd, struct stat *st) { return SC2(SYS_fstat, fd, st); }
long vms_raw_fcntl(int fd, int cmd, long arg) { return SC3(SYS_fcntl, fd, cmd, arg); }
long vms_raw_dup_cloexec(int fd, int min_fd) { return SC3(SYS_fcntl, fd, 1030 /* F_DUPFD_CLOEXEC */, min_fd); }
long vms_raw_getpid(void) { return SC0(SYS_getpid); }
long vms_raw_getrlimit(int resource, struct rlimit *rl)
{
	return SC4(SYS_prlimit64, 0, resource, 0, rl);
}
long vms_raw_gettid(void) { return SC0(SYS_gettid); }
long vms_raw_tgkill(int tgid, int tid, int sig) { return SC3(SYS_tgkill, tgid, tid, sig); }
long vms_raw_sched_yield(void) { return SC0(SYS_sched_yield); }
long vms_raw_futex(void *uaddr, int op, int val, const void *timeout)
{
	return SC6(SYS_futex, uaddr, op, val, timeout, 0, 0);
}
long vms_raw_clock_gettime(int clk, void *ts) { return SC2(SYS_clock_gettime, clk, ts); }
_Noreturn void vms_raw_exit_group(int status)
{
	for (;;) {
		SC1(SYS_exit_group, status);
	}
}

long vms_raw_rt_sigaction(int sig, const struct vms_ksigaction *act, struct vms_ksigaction *old)
{
	return SC4(SYS_rt_sigaction, sig, act, old, 8);
}
long vms_raw_rt_sigprocmask(int how, const uint64_t *set, uint64_t *old)
{
	return SC4(SYS_rt_sigprocmask, how, set, old, 8);
}

long vms_raw_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		long r = vms_raw_write(fd, p, n);
		if (r == -EINTR) {
			continue;
		}
		if (vms_raw_failed(r)) {
			return r;
		}
		if (r == 0) {
			return -EIO;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}
