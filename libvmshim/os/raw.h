/*
 * os/raw.h - the "hardware" interface: every kernel request libvmshim makes.
 *
 * Owns: raw system calls issued with inline assembly (x86_64, aarch64) or,
 * elsewhere, libc's syscall(2) with errno saved and restored.
 *
 * Contract (stated once for every function here):
 *  - Results follow the kernel convention: a value >= 0 (or a pointer) on
 *    success, -errno on failure.  Test failure with vms_raw_failed().
 *  - Nothing here touches errno, allocates, takes a lock or calls an
 *    interposed symbol, so every function is async-signal-safe and usable
 *    before libc is initialised.
 *  - Nothing above os/ issues a system call any other way.
 */
#ifndef VMS_OS_RAW_H
#define VMS_OS_RAW_H

#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/types.h>

long vms_syscall6(long nr, long a, long b, long c, long d, long e, long f);

/* True when a raw result encodes an error (-4095 .. -1). */
static inline int vms_raw_failed(long r) { return (unsigned long)r > -4096UL; }

/* Memory management. */
long vms_raw_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
long vms_raw_munmap(void *addr, size_t len);
long vms_raw_mprotect(void *addr, size_t len, int prot);
long vms_raw_madvise(void *addr, size_t len, int advice);
long vms_raw_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr);
long vms_raw_msync(void *addr, size_t len, int flags);
long vms_raw_mlock(const void *addr, size_t len);
long vms_raw_mlock2(const void *addr, size_t len, unsigned int flags);
long vms_raw_munlock(const void *addr, size_t len);
long vms_raw_mlockall(int flags);
long vms_raw_munlockall(void);
long vms_raw_mincore(void *addr, size_t len, unsigned char *vec);
long vms_raw_brk(void *addr);

/* Files and processes. */
long vms_raw_read(int fd, void *buf, size_t n);
long vms_raw_write(int fd, const void *buf, size_t n);
long vms_raw_open(const char *path, int flags, int mode);
long vms_raw_close(int fd);
long vms_raw_pread(int fd, void *buf, size_t n, off_t off);
long vms_raw_pwrite(int fd, const void *buf, size_t n, off_t off);
long vms_raw_unlink(const char *path);
long vms_raw_mkdir(const char *path, int mode);
long vms_raw_ftruncate(int fd, off_t len);
/* sync_file_range(2): starts (or waits for) writeback of a file range. */
long vms_raw_sync_file_range(int fd, off_t off, off_t n, unsigned int flags);
long vms_raw_getuid(void);
struct stat;
long vms_raw_fstat(int fd, struct stat *st);
long vms_raw_fcntl(int fd, int cmd, long arg);
/* fcntl(fd, F_DUPFD_CLOEXEC, min_fd). */
long vms_raw_dup_cloexec(int fd, int min_fd);
long vms_raw_getpid(void);
struct rlimit;
long vms_raw_getrlimit(int resource, struct rlimit *rl);
long vms_raw_gettid(void);
long vms_raw_tgkill(int tgid, int tid, int sig);
long vms_raw_sched_yield(void);
long vms_raw_futex(void *uaddr, int op, int val, const void *timeout);
long vms_raw_clock_gettime(int clk, void *ts);
_Noreturn void vms_raw_exit_group(int status);

/* Signals: the kernel's struct k_sigaction layout, not libc's. */
struct vms_ksigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};
long vms_raw_rt_sigaction(int sig, const struct vms_ksigaction *act, struct vms_ksigaction *old);
long vms_raw_rt_sigprocmask(int how, const uint64_t *set, uint64_t *old);

/* A pause for spin loops. */
static inline void vms_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#else
	__asm__ volatile("" ::: "memory");
#endif
}

/* Write all of buf, retrying short writes and EINTR; -errno on failure. */
long vms_raw_write_all(int fd, const void *buf, size_t n);

#endif
