/*
 * shim/kernel_io.c - libc calls that hand program memory to the kernel.
 *
 * The kernel reads and writes user memory without faulting into the shim:
 * a buffer page that is not present yet (never touched, or later: swapped
 * out, write-protected for copy-on-write) makes the call fail with EFAULT
 * where it would succeed natively (DESIGN section 7).  Each wrapper here
 * makes the buffers it passes present with the access the kernel needs
 * (vms_prefault: a lock-free check when they already are), then calls the
 * real libc function, so cancellation points, errno and every other
 * behaviour stay libc's.  Pages the program may not access are left alone:
 * the kernel still answers EFAULT where it would natively.
 *
 * The fread and fwrite families are covered too: a request larger than
 * the stream's buffer goes between the kernel and the caller's memory
 * inside libc.  Their buffers are made present a chunk at a time (the
 * stream locked across the chunks), so a huge buffer the program sized
 * generously (sort sizes its buffer from the machine's memory and freads
 * a file into it) becomes present only as far as the data goes, as
 * natively.
 *
 * Not covered (see README): calls libc makes internally into its own
 * buffers (stdio's and readdir's), ioctl and other calls whose buffer
 * sizes the shim cannot know, and raw syscall(2).
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* glibc may define these as macros; the wrappers below are the functions. */
#undef fread_unlocked
#undef fwrite_unlocked

#include "shim/init.h"
#include "util/log.h"
#include "vm/mm.h"

/* libc's own definition of a symbol this file interposes. */
static void *real_fn(void **cache, const char *name)
{
	void *fn = __atomic_load_n(cache, __ATOMIC_ACQUIRE);
	if (fn == NULL) {
		int saved = errno;
		fn = dlsym(RTLD_NEXT, name);
		errno = saved;
		if (fn == NULL) {
			vms_fatal("libc does not define %s", name);
		}
		__atomic_store_n(cache, fn, __ATOMIC_RELEASE);
	}
	return fn;
}

#define REAL(name)                                                            \
	({                                                                    \
		static void *cache_;                                          \
		(__typeof__(&name))real_fn(&cache_, #name);                   \
	})

#define W VMS_ACCESS_WRITE
#define R VMS_ACCESS_READ

/* Buffers are passed as addresses: the buffer is not read here, and some
 * libc prototypes mark theirs write-only. */
static inline void need_at(uintptr_t p, size_t n, enum vms_access a)
{
	if (p != 0) {
		vms_prefault(p, n, a);
	}
}
#define need(p, n, a) need_at((uintptr_t)(p), (n), (a))

static void need_iov(const struct iovec *iov, int cnt, enum vms_access a)
{
	if (iov == NULL || cnt <= 0) {
		return;
	}
	need(iov, (size_t)cnt * sizeof *iov, R);
	for (int i = 0; i < cnt; i++) {
		need(iov[i].iov_base, iov[i].iov_len, a);
	}
}

/* A message header: the kernel writes name, control and flags on receive. */
static void need_msg(const struct msghdr *m, enum vms_access a)
{
	if (m == NULL) {
		return;
	}
	need(m, sizeof *m, a);
	need(m->msg_name, m->msg_namelen, a);
	need(m->msg_control, m->msg_controllen, a);
	need_iov(m->msg_iov, (int)m->msg_iovlen, a);
}

/* A socket address and its length, written by the kernel. */
static void need_sockaddr(void *addr, socklen_t *len)
{
	if (len != NULL) {
		need(len, sizeof *len, W);
		need(addr, *len, W);
	}
}

/* --- read family: the kernel writes the buffers --- */

VMS_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	need(buf, n, W);
	return REAL(read)(fd, buf, n);
}

VMS_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	need(buf, n, W);
	return REAL(pread)(fd, buf, n, off);
}

VMS_EXPORT ssize_t pread64(int fd, void *buf, size_t n, off64_t off)
{
	need(buf, n, W);
	return REAL(pread64)(fd, buf, n, off);
}

VMS_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	need_iov(iov, cnt, W);
	return REAL(readv)(fd, iov, cnt);
}

VMS_EXPORT ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	need_iov(iov, cnt, W);
	return REAL(preadv)(fd, iov, cnt, off);
}

VMS_EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	need_iov(iov, cnt, W);
	return REAL(preadv64)(fd, iov, cnt, off);
}

VMS_EXPORT ssize_t preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	need_iov(iov, cnt, W);
	return REAL(preadv2)(fd, iov, cnt, off, flags);
}

VMS_EXPORT ssize_t preadv64v2(int fd, const struct iovec *iov, int cnt, off64_t off, int flags)
{
	need_iov(iov, cnt, W);
	return REAL(preadv64v2)(fd, iov, cnt, off, flags);
}

/* --- write family: the kernel reads the buffers --- */

VMS_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	need(buf, n, R);
	return REAL(write)(fd, buf, n);
}

VMS_EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	need(buf, n, R);
	return REAL(pwrite)(fd, buf, n, off);
}

VMS_EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	need(buf, n, R);
	return REAL(pwrite64)(fd, buf, n, off);
}

VMS_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	need_iov(iov, cnt, R);
	return REAL(writev)(fd, iov, cnt);
}

VMS_EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	need_iov(iov, cnt, R);
	return REAL(pwritev)(fd, iov, cnt, off);
}

VMS_EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	need_iov(iov, cnt, R);
	return REAL(pwritev64)(fd, iov, cnt, off);
}

VMS_EXPORT ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	need_iov(iov, cnt, R);
	return REAL(pwritev2)(fd, iov, cnt, off, flags);
}

VMS_EXPORT ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt, off64_t off, int flags)
{
	need_iov(iov, cnt, R);
	return REAL(pwritev64v2)(fd, iov, cnt, off, flags);
}

/* --- stdio: large requests bypass the stream's buffer --- */

/* Bytes made present per chunk of an fread or fwrite. */
#define STDIO_CHUNK ((size_t)4 << 20)

typedef size_t (*stdio_fn)(void *, size_t, size_t, FILE *);

/* Runs fn (an unlocked libc fread or fwrite) over n items of size bytes a
 * chunk of whole items at a time, each chunk made present first; stops at
 * the first short count, as the single call would.  A chunk boundary
 * always falls between items, so a partial item can only be the last. */
static size_t stdio_chunked(stdio_fn fn, void *p, size_t size, size_t n, FILE *f,
			    enum vms_access a)
{
	size_t per = size >= STDIO_CHUNK ? 1 : STDIO_CHUNK / size, done = 0;
	while (done < n) {
		size_t k = n - done < per ? n - done : per;
		uintptr_t at = (uintptr_t)p + done * size;
		/* Pinned (vm/pin.c) so reclaim leaves the chunk present until
		 * the kernel is done; made present twice, since a page swapped
		 * back in may still need its write access (COW) in a second step. */
		int pin = vms_pin_begin(at, k * size);
		need_at(at, k * size, a);
		need_at(at, k * size, a);
		size_t got = fn((void *)at, size, k, f);
		if (pin >= 0) {
			vms_pin_end(pin);
		}
		done += got;
		if (got < k) {
			break;
		}
	}
	return done;
}

static void unlock_stream(void *f)
{
	funlockfile(f);
}

/* locked: the stream is locked across the chunks (fread, fwrite), else the
 * caller holds it (the _unlocked variants). */
static size_t stdio_io(stdio_fn unlocked_fn, stdio_fn fn, void *p, size_t size, size_t n,
		       FILE *f, enum vms_access a, bool locked)
{
	size_t bytes;
	if (p == NULL || size == 0 || n == 0 || __builtin_mul_overflow(size, n, &bytes)) {
		return fn(p, size, n, f);
	}
	if (bytes <= STDIO_CHUNK) {
		return stdio_chunked(fn, p, size, n, f, a);
	}
	if (!locked) {
		return stdio_chunked(unlocked_fn, p, size, n, f, a);
	}
	size_t done;
	flockfile(f);
	pthread_cleanup_push(unlock_stream, f);
	done = stdio_chunked(unlocked_fn, p, size, n, f, a);
	pthread_cleanup_pop(1);
	return done;
}

VMS_EXPORT size_t fread(void *p, size_t size, size_t n, FILE *f)
{
	return stdio_io(REAL(fread_unlocked), REAL(fread), p, size, n, f, W, true);
}

VMS_EXPORT size_t fread_unlocked(void *p, size_t size, size_t n, FILE *f)
{
	stdio_fn fn = REAL(fread_unlocked);
	return stdio_io(fn, fn, p, size, n, f, W, false);
}

VMS_EXPORT size_t fwrite(const void *p, size_t size, size_t n, FILE *f)
{
	return stdio_io((stdio_fn)REAL(fwrite_unlocked), (stdio_fn)REAL(fwrite), (void *)p,
			size, n, f, R, true);
}

VMS_EXPORT size_t fwrite_unlocked(const void *p, size_t size, size_t n, FILE *f)
{
	stdio_fn fn = (stdio_fn)REAL(fwrite_unlocked);
	return stdio_io(fn, fn, (void *)p, size, n, f, R, false);
}

/* --- sockets --- */

VMS_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	need(buf, n, W);
	return REAL(recv)(fd, buf, n, flags);
}

VMS_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
			    socklen_t *len)
{
	need(buf, n, W);
	need_sockaddr(addr, len);
	return REAL(recvfrom)(fd, buf, n, flags, addr, len);
}

VMS_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	need_msg(msg, W);
	return REAL(recvmsg)(fd, msg, flags);
}

VMS_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	need(buf, n, R);
	return REAL(send)(fd, buf, n, flags);
}

VMS_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
			  const struct sockaddr *addr, socklen_t len)
{
	need(buf, n, R);
	need(addr, len, R);
	return REAL(sendto)(fd, buf, n, flags, addr, len);
}

VMS_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	need_msg(msg, R);
	return REAL(sendmsg)(fd, msg, flags);
}

VMS_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	need_sockaddr(addr, len);
	return REAL(accept)(fd, addr, len);
}

VMS_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	need_sockaddr(addr, len);
	return REAL(accept4)(fd, addr, len, flags);
}

VMS_EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
	need_sockaddr(addr, len);
	return REAL(getsockname)(fd, addr, len);
}

VMS_EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
	need_sockaddr(addr, len);
	return REAL(getpeername)(fd, addr, len);
}

VMS_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	need_sockaddr(val, len);
	return REAL(getsockopt)(fd, level, name, val, len);
}

VMS_EXPORT int socketpair(int domain, int type, int protocol, int sv[2])
{
	need(sv, 2 * sizeof(int), W);
	return REAL(socketpair)(domain, type, protocol, sv);
}

/* --- files --- */

VMS_EXPORT int pipe(int fds[2])
{
	need(fds, 2 * sizeof(int), W);
	return REAL(pipe)(fds);
}

VMS_EXPORT int pipe2(int fds[2], int flags)
{
	need(fds, 2 * sizeof(int), W);
	return REAL(pipe2)(fds, flags);
}

VMS_EXPORT int stat(const char *path, struct stat *st)
{
	need(st, sizeof *st, W);
	return REAL(stat)(path, st);
}

VMS_EXPORT int fstat(int fd, struct stat *st)
{
	need(st, sizeof *st, W);
	return REAL(fstat)(fd, st);
}

VMS_EXPORT int lstat(const char *path, struct stat *st)
{
	need(st, sizeof *st, W);
	return REAL(lstat)(path, st);
}

VMS_EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	need(st, sizeof *st, W);
	return REAL(fstatat)(dirfd, path, st, flags);
}

VMS_EXPORT int stat64(const char *path, struct stat64 *st)
{
	need(st, sizeof *st, W);
	return REAL(stat64)(path, st);
}

VMS_EXPORT int fstat64(int fd, struct stat64 *st)
{
	need(st, sizeof *st, W);
	return REAL(fstat64)(fd, st);
}

VMS_EXPORT int lstat64(const char *path, struct stat64 *st)
{
	need(st, sizeof *st, W);
	return REAL(lstat64)(path, st);
}

VMS_EXPORT int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
{
	need(st, sizeof *st, W);
	return REAL(fstatat64)(dirfd, path, st, flags);
}

VMS_EXPORT int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *st)
{
	need(st, sizeof *st, W);
	return REAL(statx)(dirfd, path, flags, mask, st);
}

VMS_EXPORT ssize_t getdents64(int fd, void *buf, size_t n)
{
	need(buf, n, W);
	return REAL(getdents64)(fd, buf, n);
}

VMS_EXPORT ssize_t getrandom(void *buf, size_t n, unsigned int flags)
{
	need(buf, n, W);
	return REAL(getrandom)(buf, n, flags);
}

/* --- waiting --- */

VMS_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	need(fds, n * sizeof *fds, W);
	return REAL(poll)(fds, n, timeout);
}

VMS_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *t, const sigset_t *m)
{
	need(fds, n * sizeof *fds, W);
	need(t, sizeof *t, R);
	need(m, sizeof *m, R);
	return REAL(ppoll)(fds, n, t, m);
}

VMS_EXPORT int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t)
{
	need(r, sizeof *r, W);
	need(w, sizeof *w, W);
	need(e, sizeof *e, W);
	need(t, sizeof *t, W);
	return REAL(select)(n, r, w, e, t);
}

VMS_EXPORT int pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t,
		       const sigset_t *m)
{
	need(r, sizeof *r, W);
	need(w, sizeof *w, W);
	need(e, sizeof *e, W);
	need(t, sizeof *t, R);
	need(m, sizeof *m, R);
	return REAL(pselect)(n, r, w, e, t, m);
}

VMS_EXPORT int epoll_wait(int fd, struct epoll_event *ev, int max, int timeout)
{
	if (max > 0) {
		need(ev, (size_t)max * sizeof *ev, W);
	}
	return REAL(epoll_wait)(fd, ev, max, timeout);
}

VMS_EXPORT int epoll_pwait(int fd, struct epoll_event *ev, int max, int timeout,
			   const sigset_t *m)
{
	if (max > 0) {
		need(ev, (size_t)max * sizeof *ev, W);
	}
	need(m, sizeof *m, R);
	return REAL(epoll_pwait)(fd, ev, max, timeout, m);
}

VMS_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	need(ev, sizeof *ev, R);
	return REAL(epoll_ctl)(epfd, op, fd, ev);
}

VMS_EXPORT pid_t waitpid(pid_t pid, int *status, int options)
{
	need(status, sizeof *status, W);
	return REAL(waitpid)(pid, status, options);
}

VMS_EXPORT pid_t wait(int *status)
{
	need(status, sizeof *status, W);
	return REAL(wait)(status);
}

VMS_EXPORT pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru)
{
	need(status, sizeof *status, W);
	need(ru, sizeof *ru, W);
	return REAL(wait4)(pid, status, options, ru);
}

VMS_EXPORT int waitid(idtype_t type, id_t id, siginfo_t *info, int options)
{
	need(info, sizeof *info, W);
	return REAL(waitid)(type, id, info, options);
}

VMS_EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
	need(req, sizeof *req, R);
	need(rem, sizeof *rem, W);
	return REAL(nanosleep)(req, rem);
}

VMS_EXPORT int clock_nanosleep(clockid_t clk, int flags, const struct timespec *req,
			       struct timespec *rem)
{
	need(req, sizeof *req, R);
	need(rem, sizeof *rem, W);
	return REAL(clock_nanosleep)(clk, flags, req, rem);
}
