/*
 * shim/kernel_io.c - libc calls that hand program memory to the kernel.
 *
 * The kernel reads and writes user memory without faulting into the shim:
 * a buffer page that is not present (never touched, deactivated or swapped
 * out by reclaim, write-protected for copy-on-write) makes the call fail
 * with EFAULT where it would succeed natively (DESIGN section 7).  Every
 * wrapper here goes through one helper, struct kio:
 *
 *   kio_buf   for each buffer the kernel will read or write: if it lies in
 *             the arena, pin it against reclaim (vms_pin_begin, before the
 *             prefault: vm/pin.c's ordering) and make it present with the
 *             access the kernel needs (kio_make_present: a lock-free check
 *             of the PTEs when it already is, else vms_prefault until every
 *             page is ready).  Buffers outside the arena cost one compare.
 *   KIO_CALL  calls the real libc function (cancellation points, errno and
 *             every other behaviour stay libc's).  If it fails with EFAULT
 *             while a buffer lies in the arena, and the call is one where
 *             EFAULT means nothing was transferred (enum kio_retry), and every
 *             arena buffer is accessible per the shim's VMAs, the buffers are
 *             made present again and the call is made once more (counted:
 *             efault_retries).  An EFAULT that reaches the program with an
 *             arena buffer is counted (efault_returned) and, with
 *             VMSHIM_EFAULT_REPORT=1, reported on stderr.  Then the pins go.
 *
 * Pages the program may not access are left alone, so the kernel still
 * answers EFAULT where it would natively, and no retry happens.
 *
 * Which calls retry (README "Kernel-side accesses"): the read and write
 * families (read, pread, readv, preadv*, write, pwrite, writev, pwritev*)
 * and the socket send and receive families, only on regular files, pipes
 * and FIFOs, and SOCK_STREAM sockets (there the kernel moves nothing
 * before it reports EFAULT: a datagram would be lost); and the pure
 * queries whose repetition changes nothing: the stat family, getrandom,
 * readlink, getcwd, getsockname, getpeername, getsockopt.  Never: accept
 * (the connection is taken), the wait family (the child is reaped), poll,
 * select, epoll (events are consumed), getdents64 (the directory position
 * may have moved), nanosleep, pipe, socketpair, and stdio (fread/fwrite
 * keep stream state).
 *
 * Not covered (see README): ioctl and other calls whose buffer sizes the
 * shim cannot know, raw syscall(2), and libc's internal calls on memory
 * the program owns (a setvbuf buffer, long strings printf writes straight
 * from the program's memory).  libc's own buffers (stdio, directory
 * streams) come from the pinned heap instead (shim/malloc.c,
 * alloc/pinned.c).
 */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "os/fmt.h"
#include "os/raw.h"
#include "shim/init.h"
#include "util/log.h"
#include "util/options.h"
#include "util/stats.h"
#include "vm/mm.h"

/* Optimising builds of <stdio.h> make these macros; the functions are meant. */
#undef fread_unlocked
#undef fwrite_unlocked

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

/* ---- the helper every wrapper uses ---- */

/* When a failed call may be made again (see the header comment). */
enum kio_retry {
	KIO_NEVER,
	KIO_FD,      /* regular file, pipe/FIFO or SOCK_STREAM socket */
	KIO_ALWAYS,  /* a pure query */
};

/* Buffers tracked one by one; more are folded into the last one (its
 * hull: pinned and made present whole, as one range). */
#define KIO_BUFS 8

struct kio_buf {
	uintptr_t p;
	size_t len;
	enum vms_access access;
	int pin;     /* vms_pin_begin token, -1 for none */
};

struct kio {
	const char *call;
	int fd;
	enum kio_retry retry;
	int n;                    /* buffers in the arena recorded in b[] */
	struct kio_buf b[KIO_BUFS];
};

#define KIO(name, fd_, retry_) { .call = (name), .fd = (fd_), .retry = (retry_), .n = 0 }

static void kio_slow_buf(struct kio *k, uintptr_t p, size_t len, enum vms_access a);

/* Records one buffer the kernel will access; p == 0 or len == 0: none. */
static inline void kio_buf(struct kio *k, uintptr_t p, size_t len, enum vms_access a)
{
	if (p == 0 || len == 0) {
		return;
	}
	uintptr_t end = p + len < p ? UINTPTR_MAX : p + len;
	if (end <= vms_mm.base || p >= vms_mm.end) {
		return; /* outside the arena (also: no arena, base == end == 0) */
	}
	kio_slow_buf(k, p, len, a);
}
#define need(k, p, n, a) kio_buf((k), (uintptr_t)(p), (n), (a))

/* The first page of [p, p + len) in the arena that does not allow access
 * now, or 0. */
static uintptr_t kio_first_missing(uintptr_t p, size_t len, enum vms_access a)
{
	uintptr_t start = p < vms_mm.base ? vms_mm.base : vms_page_down(p);
	uintptr_t end = p + len < p || p + len > vms_mm.end ? vms_mm.end : p + len;
	for (uintptr_t x = start; x < end; x += VMS_PAGE_SIZE) {
		const vms_pte_t *pt = vms_pte_lookup(&vms_mm.ptes, x);
		vms_pte_t pte = pt != NULL ? vms_pte_load(pt) : 0;
		int prot = vms_pte_prot(pte);
		if (!(pte & VMS_PTE_PRESENT) || (pte & VMS_PTE_BUSY) ||
		    (a == W ? !(prot & PROT_WRITE) : prot == PROT_NONE)) {
			return x;
		}
	}
	return 0;
}

/* Makes [p, p + len) present with access a (vms_prefault takes each page
 * through as many steps as it needs: a swap-in, then the write that frees
 * its swap copy...). */
static void kio_make_present(uintptr_t p, size_t len, enum vms_access a)
{
	vms_prefault(p, len, a);
}

static void kio_slow_buf(struct kio *k, uintptr_t p, size_t len, enum vms_access a)
{
	if (k->n < KIO_BUFS) {
		struct kio_buf *b = &k->b[k->n++];
		*b = (struct kio_buf){ p, len, a, vms_pin_begin(p, len) };
		kio_make_present(p, len, a);
		return;
	}
	/* Too many: the last entry becomes the hull of it and this one, pinned
	 * anew before its old pin goes, so the range is never unpinned. */
	struct kio_buf *b = &k->b[KIO_BUFS - 1];
	uintptr_t lo = b->p < p ? b->p : p;
	uintptr_t e1 = b->p + b->len, e2 = p + len < p ? UINTPTR_MAX : p + len;
	uintptr_t hi = e1 > e2 ? e1 : e2;
	int pin = vms_pin_begin(lo, hi - lo);
	vms_pin_end(b->pin);
	*b = (struct kio_buf){ lo, hi - lo, a == W || b->access == W ? W : R, pin };
	kio_make_present(p, len, a);
}

/* Whether [p, p + len) is, inside the arena, covered by VMAs of the shim's
 * own memory that allow the access: then an EFAULT there is the shim's
 * doing, not the program's. */
static bool kio_accessible(uintptr_t p, size_t len, enum vms_access a)
{
	uintptr_t start = p < vms_mm.base ? vms_mm.base : vms_page_down(p);
	uintptr_t end = p + len < p || p + len > vms_mm.end ? vms_mm.end : p + len;
	bool ok = true;
	uint64_t all = ~0ULL, saved;
	vms_raw_rt_sigprocmask(SIG_SETMASK, &all, &saved);
	vms_map_read_lock();
	uintptr_t at = start;
	for (struct vms_vma *v = vms_vma_first_in(&vms_mm.vmas, start, end);
	     ok && at < end; v = vms_vma_next(v)) {
		if (v == NULL || v->start > at || (v->flags & VMS_VMA_FOREIGN)) {
			ok = false;
		} else if (a == W ? !(v->prot & PROT_WRITE) : v->prot == PROT_NONE) {
			ok = false;
		} else {
			at = v->end;
		}
	}
	vms_map_read_unlock();
	vms_raw_rt_sigprocmask(SIG_SETMASK, &saved, NULL);
	return ok;
}

/* Regular files, pipes and FIFOs, stream sockets: an EFAULT there moved
 * no data (README); errno is preserved. */
static bool kio_fd_retryable(int fd)
{
	struct stat st;
	if (vms_raw_fstat(fd, &st) != 0) {
		return false;
	}
	if (S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode)) {
		return true;
	}
	if (!S_ISSOCK(st.st_mode)) {
		return false;
	}
	int saved = errno, type = 0;
	socklen_t len = sizeof type;
	bool ok = REAL(getsockopt)(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
		  type == SOCK_STREAM;
	errno = saved;
	return ok;
}

/* An EFAULT goes back to the program: counted, and reported when asked. */
static void kio_efault_returned(const struct kio *k, bool retried)
{
	vms_count_add(&vms_stats.efault_returned, 1);
	if (!vms_option_num(VMS_OPT_EFAULT_REPORT)) {
		return;
	}
	for (int i = 0; i < k->n; i++) {
		const struct kio_buf *b = &k->b[i];
		char line[256];
		uintptr_t miss = kio_first_missing(b->p, b->len, b->access);
		size_t n = vms_fmt(line, sizeof line - 1,
				   "libvmshim[%ld]: EFAULT: %s: %s buffer %p length %zu%s; ",
				   vms_raw_getpid(), k->call, b->access == W ? "output" : "input",
				   (void *)b->p, b->len, retried ? " (after one retry)" : "");
		if (miss != 0) {
			n += vms_fmt(line + n, sizeof line - 1 - n, "page %p not accessible",
				     (void *)miss);
		} else {
			n += vms_fmt(line + n, sizeof line - 1 - n, "every page accessible now");
		}
		line[n++] = '\n';
		vms_raw_write_all(2, line, n);
	}
}

/* After a call failed with EFAULT and an arena buffer: true when it is to
 * be made again (buffers made present again, counted).  errno preserved. */
static bool kio_efault(struct kio *k)
{
	int saved = errno;
	bool again = k->retry == KIO_ALWAYS || (k->retry == KIO_FD && kio_fd_retryable(k->fd));
	for (int i = 0; again && i < k->n; i++) {
		again = kio_accessible(k->b[i].p, k->b[i].len, k->b[i].access);
	}
	if (again) {
		for (int i = 0; i < k->n; i++) {
			kio_make_present(k->b[i].p, k->b[i].len, k->b[i].access);
		}
		vms_count_add(&vms_stats.efault_retries, 1);
		k->retry = KIO_NEVER; /* once */
	} else {
		kio_efault_returned(k, false);
	}
	errno = saved;
	return again;
}

static inline void kio_end(struct kio *k)
{
	for (int i = 0; i < k->n; i++) {
		vms_pin_end(k->b[i].pin);
	}
}

/*
 * r = call, made through the helper: retried once on EFAULT when allowed,
 * then the buffers unpinned.  call is evaluated again for the retry.
 */
#define KIO_CALL(k, r, call)                                                  \
	do {                                                                  \
		(r) = (call);                                                 \
		if (__builtin_expect((k)->n != 0 && (r) == -1, 0) && errno == EFAULT) { \
			if (kio_efault(k)) {                                  \
				(r) = (call);                                 \
				if ((r) == -1 && errno == EFAULT) {           \
					int e_ = errno;                       \
					kio_efault_returned((k), true);       \
					errno = e_;                           \
				}                                             \
			}                                                     \
		}                                                             \
		kio_end(k);                                                   \
	} while (0)

static void need_iov(struct kio *k, const struct iovec *iov, int cnt, enum vms_access a)
{
	if (iov == NULL || cnt <= 0) {
		return;
	}
	need(k, iov, (size_t)cnt * sizeof *iov, R);
	for (int i = 0; i < cnt; i++) {
		need(k, iov[i].iov_base, iov[i].iov_len, a);
	}
}

/* A message header: the kernel writes name, control and flags on receive. */
static void need_msg(struct kio *k, const struct msghdr *m, enum vms_access a)
{
	if (m == NULL) {
		return;
	}
	need(k, m, sizeof *m, a);
	need(k, m->msg_name, m->msg_namelen, a);
	need(k, m->msg_control, m->msg_controllen, a);
	need_iov(k, m->msg_iov, (int)m->msg_iovlen, a);
}

/* A socket address and its length, written by the kernel. */
static void need_sockaddr(struct kio *k, void *addr, socklen_t *len)
{
	if (len != NULL) {
		need(k, len, sizeof *len, W);
		need(k, addr, *len, W);
	}
}

/* --- read family: the kernel writes the buffers --- */

VMS_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	struct kio k = KIO("read", fd, KIO_FD);
	ssize_t ret_;
	need(&k, buf, n, W);
	KIO_CALL(&k, ret_, REAL(read)(fd, buf, n));
	return ret_;
}

VMS_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	struct kio k = KIO("pread", fd, KIO_FD);
	ssize_t ret_;
	need(&k, buf, n, W);
	KIO_CALL(&k, ret_, REAL(pread)(fd, buf, n, off));
	return ret_;
}

VMS_EXPORT ssize_t pread64(int fd, void *buf, size_t n, off64_t off)
{
	struct kio k = KIO("pread64", fd, KIO_FD);
	ssize_t ret_;
	need(&k, buf, n, W);
	KIO_CALL(&k, ret_, REAL(pread64)(fd, buf, n, off));
	return ret_;
}

VMS_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	struct kio k = KIO("readv", fd, KIO_FD);
	ssize_t ret_;
	need_iov(&k, iov, cnt, W);
	KIO_CALL(&k, ret_, REAL(readv)(fd, iov, cnt));
	return ret_;
}

VMS_EXPORT ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	struct kio k = KIO("preadv", fd, KIO_FD);
	ssize_t ret_;
	need_iov(&k, iov, cnt, W);
	KIO_CALL(&k, ret_, REAL(preadv)(fd, iov, cnt, off));
	return ret_;
}

VMS_EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	struct kio k = KIO("preadv64", fd, KIO_FD);
	ssize_t ret_;
	need_iov(&k, iov, cnt, W);
	KIO_CALL(&k, ret_, REAL(preadv64)(fd, iov, cnt, off));
	return ret_;
}

VMS_EXPORT ssize_t preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	struct kio k = KIO("preadv2", fd, KIO_FD);
	ssize_t ret_;
	need_iov(&k, iov, cnt, W);
	KIO_CALL(&k, ret_, REAL(preadv2)(fd, iov, cnt, off, flags));
	return ret_;
}

VMS_EXPORT ssize_t preadv64v2(int fd, const struct iovec *iov, int cnt, off64_t off, int flags)
{
	struct kio k = KIO("preadv64v2", fd, KIO_FD);
	ssize_t ret_;
	need_iov(&k, iov, cnt, W);
	KIO_CALL(&k, ret_, REAL(preadv64v2)(fd, iov, cnt, off, flags));
	return ret_;
}

/* --- write family: the kernel reads the buffers --- */

VMS_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	struct kio k = KIO("write", fd, KIO_FD);
	ssize_t ret_;
	need(&k, buf, n, R);
	KIO_CALL(&k, ret_, REAL(write)(fd, buf, n));
	return ret_;
}

VMS_EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	struct kio k = KIO("pwrite", fd, KIO_FD);
	ssize_t ret_;
	need(&k, buf, n, R);
	KIO_CALL(&k, ret_, REAL(pwrite)(fd, buf, n, off));
	return ret_;
}

VMS_EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	struct kio k = KIO("pwrite64", fd, KIO_FD);
	ssize_t ret_;
	need(&k, buf, n, R);
	KIO_CALL(&k, ret_, REAL(pwrite64)(fd, buf, n, off));
	return ret_;
}

VMS_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	struct kio k = KIO("writev", fd, KIO_FD);
	ssize_t ret_;
	need_iov(&k, iov, cnt, R);
	KIO_CALL(&k, ret_, REAL(writev)(fd, iov, cnt));
	return ret_;
}

VMS_EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	struct kio k = KIO("pwritev", fd, KIO_FD);
	ssize_t ret_;
	need_iov(&k, iov, cnt, R);
	KIO_CALL(&k, ret_, REAL(pwritev)(fd, iov, cnt, off));
	return ret_;
}

VMS_EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	struct kio k = KIO("pwritev64", fd, KIO_FD);
	ssize_t ret_;
	need_iov(&k, iov, cnt, R);
	KIO_CALL(&k, ret_, REAL(pwritev64)(fd, iov, cnt, off));
	return ret_;
}

VMS_EXPORT ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	struct kio k = KIO("pwritev2", fd, KIO_FD);
	ssize_t ret_;
	need_iov(&k, iov, cnt, R);
	KIO_CALL(&k, ret_, REAL(pwritev2)(fd, iov, cnt, off, flags));
	return ret_;
}

VMS_EXPORT ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt, off64_t off, int flags)
{
	struct kio k = KIO("pwritev64v2", fd, KIO_FD);
	ssize_t ret_;
	need_iov(&k, iov, cnt, R);
	KIO_CALL(&k, ret_, REAL(pwritev64v2)(fd, iov, cnt, off, flags));
	return ret_;
}

/* --- sockets --- */

VMS_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	struct kio k = KIO("recv", fd, KIO_FD);
	ssize_t ret_;
	need(&k, buf, n, W);
	KIO_CALL(&k, ret_, REAL(recv)(fd, buf, n, flags));
	return ret_;
}

VMS_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
			    socklen_t *len)
{
	struct kio k = KIO("recvfrom", fd, KIO_FD);
	ssize_t ret_;
	need(&k, buf, n, W);
	need_sockaddr(&k, addr, len);
	KIO_CALL(&k, ret_, REAL(recvfrom)(fd, buf, n, flags, addr, len));
	return ret_;
}

VMS_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct kio k = KIO("recvmsg", fd, KIO_FD);
	ssize_t ret_;
	need_msg(&k, msg, W);
	KIO_CALL(&k, ret_, REAL(recvmsg)(fd, msg, flags));
	return ret_;
}

VMS_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	struct kio k = KIO("send", fd, KIO_FD);
	ssize_t ret_;
	need(&k, buf, n, R);
	KIO_CALL(&k, ret_, REAL(send)(fd, buf, n, flags));
	return ret_;
}

VMS_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
			  const struct sockaddr *addr, socklen_t len)
{
	struct kio k = KIO("sendto", fd, KIO_FD);
	ssize_t ret_;
	need(&k, buf, n, R);
	need(&k, addr, len, R);
	KIO_CALL(&k, ret_, REAL(sendto)(fd, buf, n, flags, addr, len));
	return ret_;
}

VMS_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct kio k = KIO("sendmsg", fd, KIO_FD);
	ssize_t ret_;
	need_msg(&k, msg, R);
	KIO_CALL(&k, ret_, REAL(sendmsg)(fd, msg, flags));
	return ret_;
}

VMS_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	struct kio k = KIO("accept", fd, KIO_NEVER);
	int ret_;
	need_sockaddr(&k, addr, len);
	KIO_CALL(&k, ret_, REAL(accept)(fd, addr, len));
	return ret_;
}

VMS_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	struct kio k = KIO("accept4", fd, KIO_NEVER);
	int ret_;
	need_sockaddr(&k, addr, len);
	KIO_CALL(&k, ret_, REAL(accept4)(fd, addr, len, flags));
	return ret_;
}

VMS_EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
	struct kio k = KIO("getsockname", fd, KIO_ALWAYS);
	int ret_;
	need_sockaddr(&k, addr, len);
	KIO_CALL(&k, ret_, REAL(getsockname)(fd, addr, len));
	return ret_;
}

VMS_EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
	struct kio k = KIO("getpeername", fd, KIO_ALWAYS);
	int ret_;
	need_sockaddr(&k, addr, len);
	KIO_CALL(&k, ret_, REAL(getpeername)(fd, addr, len));
	return ret_;
}

VMS_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	struct kio k = KIO("getsockopt", fd, KIO_ALWAYS);
	int ret_;
	need_sockaddr(&k, val, len);
	KIO_CALL(&k, ret_, REAL(getsockopt)(fd, level, name, val, len));
	return ret_;
}

VMS_EXPORT int socketpair(int domain, int type, int protocol, int sv[2])
{
	struct kio k = KIO("socketpair", -1, KIO_NEVER);
	int ret_;
	need(&k, sv, 2 * sizeof(int), W);
	KIO_CALL(&k, ret_, REAL(socketpair)(domain, type, protocol, sv));
	return ret_;
}

/* --- files --- */

VMS_EXPORT int pipe(int fds[2])
{
	struct kio k = KIO("pipe", -1, KIO_NEVER);
	int ret_;
	need(&k, fds, 2 * sizeof(int), W);
	KIO_CALL(&k, ret_, REAL(pipe)(fds));
	return ret_;
}

VMS_EXPORT int pipe2(int fds[2], int flags)
{
	struct kio k = KIO("pipe2", -1, KIO_NEVER);
	int ret_;
	need(&k, fds, 2 * sizeof(int), W);
	KIO_CALL(&k, ret_, REAL(pipe2)(fds, flags));
	return ret_;
}

VMS_EXPORT int stat(const char *path, struct stat *st)
{
	struct kio k = KIO("stat", -1, KIO_ALWAYS);
	int ret_;
	need(&k, st, sizeof *st, W);
	KIO_CALL(&k, ret_, REAL(stat)(path, st));
	return ret_;
}

VMS_EXPORT int fstat(int fd, struct stat *st)
{
	struct kio k = KIO("fstat", fd, KIO_ALWAYS);
	int ret_;
	need(&k, st, sizeof *st, W);
	KIO_CALL(&k, ret_, REAL(fstat)(fd, st));
	return ret_;
}

VMS_EXPORT int lstat(const char *path, struct stat *st)
{
	struct kio k = KIO("lstat", -1, KIO_ALWAYS);
	int ret_;
	need(&k, st, sizeof *st, W);
	KIO_CALL(&k, ret_, REAL(lstat)(path, st));
	return ret_;
}

VMS_EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	struct kio k = KIO("fstatat", -1, KIO_ALWAYS);
	int ret_;
	need(&k, st, sizeof *st, W);
	KIO_CALL(&k, ret_, REAL(fstatat)(dirfd, path, st, flags));
	return ret_;
}

VMS_EXPORT int stat64(const char *path, struct stat64 *st)
{
	struct kio k = KIO("stat64", -1, KIO_ALWAYS);
	int ret_;
	need(&k, st, sizeof *st, W);
	KIO_CALL(&k, ret_, REAL(stat64)(path, st));
	return ret_;
}

VMS_EXPORT int fstat64(int fd, struct stat64 *st)
{
	struct kio k = KIO("fstat64", fd, KIO_ALWAYS);
	int ret_;
	need(&k, st, sizeof *st, W);
	KIO_CALL(&k, ret_, REAL(fstat64)(fd, st));
	return ret_;
}

VMS_EXPORT int lstat64(const char *path, struct stat64 *st)
{
	struct kio k = KIO("lstat64", -1, KIO_ALWAYS);
	int ret_;
	need(&k, st, sizeof *st, W);
	KIO_CALL(&k, ret_, REAL(lstat64)(path, st));
	return ret_;
}

VMS_EXPORT int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
{
	struct kio k = KIO("fstatat64", -1, KIO_ALWAYS);
	int ret_;
	need(&k, st, sizeof *st, W);
	KIO_CALL(&k, ret_, REAL(fstatat64)(dirfd, path, st, flags));
	return ret_;
}

VMS_EXPORT int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *st)
{
	struct kio k = KIO("statx", -1, KIO_ALWAYS);
	int ret_;
	need(&k, st, sizeof *st, W);
	KIO_CALL(&k, ret_, REAL(statx)(dirfd, path, flags, mask, st));
	return ret_;
}

VMS_EXPORT ssize_t getdents64(int fd, void *buf, size_t n)
{
	struct kio k = KIO("getdents64", fd, KIO_NEVER);
	ssize_t ret_;
	need(&k, buf, n, W);
	KIO_CALL(&k, ret_, REAL(getdents64)(fd, buf, n));
	return ret_;
}

VMS_EXPORT ssize_t getrandom(void *buf, size_t n, unsigned int flags)
{
	struct kio k = KIO("getrandom", -1, KIO_ALWAYS);
	ssize_t ret_;
	need(&k, buf, n, W);
	KIO_CALL(&k, ret_, REAL(getrandom)(buf, n, flags));
	return ret_;
}

/* --- waiting --- */

VMS_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	struct kio k = KIO("poll", -1, KIO_NEVER);
	int ret_;
	need(&k, fds, n * sizeof *fds, W);
	KIO_CALL(&k, ret_, REAL(poll)(fds, n, timeout));
	return ret_;
}

VMS_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *t, const sigset_t *m)
{
	struct kio k = KIO("ppoll", -1, KIO_NEVER);
	int ret_;
	need(&k, fds, n * sizeof *fds, W);
	need(&k, t, sizeof *t, R);
	need(&k, m, sizeof *m, R);
	KIO_CALL(&k, ret_, REAL(ppoll)(fds, n, t, m));
	return ret_;
}

VMS_EXPORT int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t)
{
	struct kio k = KIO("select", -1, KIO_NEVER);
	int ret_;
	need(&k, r, sizeof *r, W);
	need(&k, w, sizeof *w, W);
	need(&k, e, sizeof *e, W);
	need(&k, t, sizeof *t, W);
	KIO_CALL(&k, ret_, REAL(select)(n, r, w, e, t));
	return ret_;
}

VMS_EXPORT int pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t,
		       const sigset_t *m)
{
	struct kio k = KIO("pselect", -1, KIO_NEVER);
	int ret_;
	need(&k, r, sizeof *r, W);
	need(&k, w, sizeof *w, W);
	need(&k, e, sizeof *e, W);
	need(&k, t, sizeof *t, R);
	need(&k, m, sizeof *m, R);
	KIO_CALL(&k, ret_, REAL(pselect)(n, r, w, e, t, m));
	return ret_;
}

VMS_EXPORT int epoll_wait(int fd, struct epoll_event *ev, int max, int timeout)
{
	struct kio k = KIO("epoll_wait", fd, KIO_NEVER);
	int ret_;
	if (max > 0) {
		need(&k, ev, (size_t)max * sizeof *ev, W);
	}
	KIO_CALL(&k, ret_, REAL(epoll_wait)(fd, ev, max, timeout));
	return ret_;
}

VMS_EXPORT int epoll_pwait(int fd, struct epoll_event *ev, int max, int timeout,
			   const sigset_t *m)
{
	struct kio k = KIO("epoll_pwait", fd, KIO_NEVER);
	int ret_;
	if (max > 0) {
		need(&k, ev, (size_t)max * sizeof *ev, W);
	}
	need(&k, m, sizeof *m, R);
	KIO_CALL(&k, ret_, REAL(epoll_pwait)(fd, ev, max, timeout, m));
	return ret_;
}

VMS_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct kio k = KIO("epoll_ctl", fd, KIO_NEVER);
	int ret_;
	need(&k, ev, sizeof *ev, R);
	KIO_CALL(&k, ret_, REAL(epoll_ctl)(epfd, op, fd, ev));
	return ret_;
}

VMS_EXPORT pid_t waitpid(pid_t pid, int *status, int options)
{
	struct kio k = KIO("waitpid", -1, KIO_NEVER);
	pid_t ret_;
	need(&k, status, sizeof *status, W);
	KIO_CALL(&k, ret_, REAL(waitpid)(pid, status, options));
	return ret_;
}

VMS_EXPORT pid_t wait(int *status)
{
	struct kio k = KIO("wait", -1, KIO_NEVER);
	pid_t ret_;
	need(&k, status, sizeof *status, W);
	KIO_CALL(&k, ret_, REAL(wait)(status));
	return ret_;
}

VMS_EXPORT pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru)
{
	struct kio k = KIO("wait4", -1, KIO_NEVER);
	pid_t ret_;
	need(&k, status, sizeof *status, W);
	need(&k, ru, sizeof *ru, W);
	KIO_CALL(&k, ret_, REAL(wait4)(pid, status, options, ru));
	return ret_;
}

VMS_EXPORT int waitid(idtype_t type, id_t id, siginfo_t *info, int options)
{
	struct kio k = KIO("waitid", -1, KIO_NEVER);
	int ret_;
	need(&k, info, sizeof *info, W);
	KIO_CALL(&k, ret_, REAL(waitid)(type, id, info, options));
	return ret_;
}

VMS_EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
	struct kio k = KIO("nanosleep", -1, KIO_NEVER);
	int ret_;
	need(&k, req, sizeof *req, R);
	need(&k, rem, sizeof *rem, W);
	KIO_CALL(&k, ret_, REAL(nanosleep)(req, rem));
	return ret_;
}

VMS_EXPORT int clock_nanosleep(clockid_t clk, int flags, const struct timespec *req,
			       struct timespec *rem)
{
	struct kio k = KIO("clock_nanosleep", -1, KIO_NEVER);
	int ret_;
	need(&k, req, sizeof *req, R);
	need(&k, rem, sizeof *rem, W);
	KIO_CALL(&k, ret_, REAL(clock_nanosleep)(clk, flags, req, rem));
	return ret_;
}

/* --- paths into program buffers --- */

VMS_EXPORT ssize_t readlink(const char *path, char *buf, size_t n)
{
	struct kio k = KIO("readlink", -1, KIO_ALWAYS);
	ssize_t ret_;
	need(&k, buf, n, W);
	KIO_CALL(&k, ret_, REAL(readlink)(path, buf, n));
	return ret_;
}

VMS_EXPORT ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t n)
{
	struct kio k = KIO("readlinkat", -1, KIO_ALWAYS);
	ssize_t ret_;
	need(&k, buf, n, W);
	KIO_CALL(&k, ret_, REAL(readlinkat)(dirfd, path, buf, n));
	return ret_;
}

VMS_EXPORT char *getcwd(char *buf, size_t n)
{
	struct kio k = KIO("getcwd", -1, KIO_ALWAYS);
	char *ret_;
	need(&k, buf, n, W);
	/* NULL is getcwd's failure value, not -1: the same helper, by hand. */
	ret_ = REAL(getcwd)(buf, n);
	if (ret_ == NULL && k.n != 0 && errno == EFAULT && kio_efault(&k)) {
		ret_ = REAL(getcwd)(buf, n);
		if (ret_ == NULL && errno == EFAULT) {
			kio_efault_returned(&k, true);
			errno = EFAULT;
		}
	}
	kio_end(&k);
	return ret_;
}

/* --- stdio bulk I/O: a large fread or fwrite moves data straight between
 * the program's buffer and the kernel, inside libc --- */

/* errno cleared before a stdio call, so that an EFAULT it sets is told
 * from an old one; restored when the call left it alone. */
#define KIO_STDIO(k, ret, call, failed)                                       \
	do {                                                                  \
		int saved_ = errno;                                           \
		errno = 0;                                                    \
		(ret) = (call);                                               \
		if (errno == 0) {                                             \
			errno = saved_;                                       \
		} else if ((failed) && errno == EFAULT && (k)->n != 0) {      \
			kio_efault_returned((k), false);                      \
			errno = EFAULT;                                       \
		}                                                             \
		kio_end(k);                                                   \
	} while (0)

static size_t kio_bytes(size_t size, size_t n)
{
	size_t bytes;
	return __builtin_mul_overflow(size, n, &bytes) ? SIZE_MAX : bytes;
}

/* Bytes pinned and made present per chunk of an fread or fwrite.  A
 * request is made present a chunk at a time, not whole: programs size
 * buffers generously (sort mallocs half the machine's memory and asks
 * fread for a few hundred MiB to read a file of any size), and pinning
 * the whole request made that much resident, past any resident limit
 * (reclaim cannot take pinned pages).  The stream stays locked across the
 * chunks of fread and fwrite, so the request is still one stdio call. */
#define STDIO_CHUNK ((size_t)4 << 20)

typedef size_t (*stdio_fn)(void *, size_t, size_t, FILE *);

/* Runs fn over n items of size bytes, a chunk of whole items at a time;
 * stops at the first short count, as the single call would.  A chunk
 * boundary falls between items, so a partial item can only be the last. */
static size_t stdio_chunked(const char *name, stdio_fn fn, void *p, size_t size, size_t n,
			    FILE *f, enum vms_access a)
{
	size_t per = size >= STDIO_CHUNK ? 1 : STDIO_CHUNK / size, done = 0;
	while (done < n) {
		size_t c = n - done < per ? n - done : per;
		void *at = (char *)p + done * size;
		struct kio k = KIO(name, -1, KIO_NEVER);
		size_t ret_;
		need(&k, at, kio_bytes(size, c), a);
		KIO_STDIO(&k, ret_, fn(at, size, c, f), ret_ < c);
		done += ret_;
		if (ret_ < c) {
			break;
		}
	}
	return done;
}

static void unlock_stream(void *f)
{
	funlockfile(f);
}

/* locked: fread/fwrite, the stream is locked across the chunks; else the
 * caller holds it (the _unlocked variants). */
static size_t stdio_io(const char *name, stdio_fn unlocked_fn, stdio_fn fn, void *p, size_t size,
		       size_t n, FILE *f, enum vms_access a, bool locked)
{
	size_t bytes;
	if (p == NULL || size == 0 || n == 0 || __builtin_mul_overflow(size, n, &bytes) ||
	    bytes <= STDIO_CHUNK) {
		return stdio_chunked(name, fn, p, size, n, f, a);
	}
	if (!locked) {
		return stdio_chunked(name, unlocked_fn, p, size, n, f, a);
	}
	size_t done;
	flockfile(f);
	pthread_cleanup_push(unlock_stream, f);
	done = stdio_chunked(name, unlocked_fn, p, size, n, f, a);
	pthread_cleanup_pop(1);
	return done;
}

VMS_EXPORT size_t fread(void *p, size_t size, size_t n, FILE *f)
{
	return stdio_io("fread", REAL(fread_unlocked), REAL(fread), p, size, n, f, W, true);
}

VMS_EXPORT size_t fread_unlocked(void *p, size_t size, size_t n, FILE *f)
{
	stdio_fn fn = REAL(fread_unlocked);
	return stdio_io("fread_unlocked", fn, fn, p, size, n, f, W, false);
}

VMS_EXPORT size_t fwrite(const void *p, size_t size, size_t n, FILE *f)
{
	return stdio_io("fwrite", (stdio_fn)REAL(fwrite_unlocked), (stdio_fn)REAL(fwrite),
			(void *)p, size, n, f, R, true);
}

VMS_EXPORT size_t fwrite_unlocked(const void *p, size_t size, size_t n, FILE *f)
{
	stdio_fn fn = (stdio_fn)REAL(fwrite_unlocked);
	return stdio_io("fwrite_unlocked", fn, fn, (void *)p, size, n, f, R, false);
}

/* --- _FORTIFY_SOURCE entry points: programs built with it (most of a
 * distribution) call these instead of the plain functions; each checks
 * the buffer size and does the plain function's work inside libc --- */

ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
		       struct sockaddr *addr, socklen_t *len);
ssize_t __readlink_chk(const char *path, char *buf, size_t n, size_t buflen);
ssize_t __readlinkat_chk(int dirfd, const char *path, char *buf, size_t n, size_t buflen);
char *__getcwd_chk(char *buf, size_t n, size_t buflen);
size_t __fread_chk(void *ptr, size_t ptrlen, size_t size, size_t n, FILE *f);
size_t __fread_unlocked_chk(void *ptr, size_t ptrlen, size_t size, size_t n, FILE *f);
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);
int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *t, const sigset_t *m,
		size_t fdslen);

/* Only the part the kernel may touch is made present: a request larger
 * than the buffer is the _chk function's to refuse. */
static size_t kio_min(size_t a, size_t b) { return a < b ? a : b; }

VMS_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	struct kio k = KIO("read", fd, KIO_FD);
	ssize_t ret_;
	need(&k, buf, kio_min(n, buflen), W);
	KIO_CALL(&k, ret_, REAL(__read_chk)(fd, buf, n, buflen));
	return ret_;
}

VMS_EXPORT ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
	struct kio k = KIO("pread", fd, KIO_FD);
	ssize_t ret_;
	need(&k, buf, kio_min(n, buflen), W);
	KIO_CALL(&k, ret_, REAL(__pread_chk)(fd, buf, n, off, buflen));
	return ret_;
}

VMS_EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen)
{
	struct kio k = KIO("pread64", fd, KIO_FD);
	ssize_t ret_;
	need(&k, buf, kio_min(n, buflen), W);
	KIO_CALL(&k, ret_, REAL(__pread64_chk)(fd, buf, n, off, buflen));
	return ret_;
}

VMS_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	struct kio k = KIO("recv", fd, KIO_FD);
	ssize_t ret_;
	need(&k, buf, kio_min(n, buflen), W);
	KIO_CALL(&k, ret_, REAL(__recv_chk)(fd, buf, n, buflen, flags));
	return ret_;
}

VMS_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
				  struct sockaddr *addr, socklen_t *len)
{
	struct kio k = KIO("recvfrom", fd, KIO_FD);
	ssize_t ret_;
	need(&k, buf, kio_min(n, buflen), W);
	need_sockaddr(&k, addr, len);
	KIO_CALL(&k, ret_, REAL(__recvfrom_chk)(fd, buf, n, buflen, flags, addr, len));
	return ret_;
}

VMS_EXPORT ssize_t __readlink_chk(const char *path, char *buf, size_t n, size_t buflen)
{
	struct kio k = KIO("readlink", -1, KIO_ALWAYS);
	ssize_t ret_;
	need(&k, buf, kio_min(n, buflen), W);
	KIO_CALL(&k, ret_, REAL(__readlink_chk)(path, buf, n, buflen));
	return ret_;
}

VMS_EXPORT ssize_t __readlinkat_chk(int dirfd, const char *path, char *buf, size_t n,
				    size_t buflen)
{
	struct kio k = KIO("readlinkat", -1, KIO_ALWAYS);
	ssize_t ret_;
	need(&k, buf, kio_min(n, buflen), W);
	KIO_CALL(&k, ret_, REAL(__readlinkat_chk)(dirfd, path, buf, n, buflen));
	return ret_;
}

VMS_EXPORT char *__getcwd_chk(char *buf, size_t n, size_t buflen)
{
	struct kio k = KIO("getcwd", -1, KIO_ALWAYS);
	char *ret_;
	need(&k, buf, kio_min(n, buflen), W);
	ret_ = REAL(__getcwd_chk)(buf, n, buflen);
	if (ret_ == NULL && k.n != 0 && errno == EFAULT && kio_efault(&k)) {
		ret_ = REAL(__getcwd_chk)(buf, n, buflen);
		if (ret_ == NULL && errno == EFAULT) {
			kio_efault_returned(&k, true);
			errno = EFAULT;
		}
	}
	kio_end(&k);
	return ret_;
}

VMS_EXPORT size_t __fread_chk(void *ptr, size_t ptrlen, size_t size, size_t n, FILE *f)
{
	struct kio k = KIO("fread", -1, KIO_NEVER);
	size_t ret_;
	need(&k, ptr, kio_min(kio_bytes(size, n), ptrlen), W);
	KIO_STDIO(&k, ret_, REAL(__fread_chk)(ptr, ptrlen, size, n, f), ret_ < n);
	return ret_;
}

VMS_EXPORT size_t __fread_unlocked_chk(void *ptr, size_t ptrlen, size_t size, size_t n, FILE *f)
{
	struct kio k = KIO("fread_unlocked", -1, KIO_NEVER);
	size_t ret_;
	need(&k, ptr, kio_min(kio_bytes(size, n), ptrlen), W);
	KIO_STDIO(&k, ret_, REAL(__fread_unlocked_chk)(ptr, ptrlen, size, n, f), ret_ < n);
	return ret_;
}

VMS_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	struct kio k = KIO("poll", -1, KIO_NEVER);
	int ret_;
	need(&k, fds, kio_min(kio_bytes(n, sizeof *fds), fdslen), W);
	KIO_CALL(&k, ret_, REAL(__poll_chk)(fds, n, timeout, fdslen));
	return ret_;
}

VMS_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *t,
			   const sigset_t *m, size_t fdslen)
{
	struct kio k = KIO("ppoll", -1, KIO_NEVER);
	int ret_;
	need(&k, fds, kio_min(kio_bytes(n, sizeof *fds), fdslen), W);
	need(&k, t, sizeof *t, R);
	need(&k, m, sizeof *m, R);
	KIO_CALL(&k, ret_, REAL(__ppoll_chk)(fds, n, t, m, fdslen));
	return ret_;
}
