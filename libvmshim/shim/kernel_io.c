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
 * before it reports EFAULT: a datagram would be lost); the pure queries
 * whose repetition changes nothing: the stat family, getrandom, readlink,
 * getcwd, getsockname, getpeername, getsockopt; the ioctl table's commands
 * so marked; futex waits, wakes and requeues.  Never: accept (the
 * connection is taken), the wait family (the child is reaped), poll,
 * select, epoll (events are consumed), getdents64 (the directory position
 * may have moved), recvmmsg and sendmmsg (msg_len is stored after the
 * data moved), other ioctls, PI futexes, nanosleep, pipe, socketpair, and
 * stdio (fread/fwrite keep stream state).
 *
 * Also here: ioctl (sizes from the command's encoding, a table of the
 * older commands, one page otherwise), raw syscall(2) (the numbers whose
 * libc calls are wrapped, through the same helper), and the stream
 * buffers a program gives stdio (setvbuf, setbuffer, setbuf: pinned until
 * the stream lets them go, made writable again after fork).
 *
 * Not covered (see README): io_uring and AIO, pointers nested in ioctl
 * arguments, other raw syscall numbers, and libc's internal calls on
 * other memory the program owns (long strings printf writes straight from
 * the program's memory).  libc's own buffers (stdio, directory streams)
 * come from the pinned heap instead (shim/malloc.c, alloc/pinned.c).
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
#include <stdarg.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/futex.h>
#include <linux/serial.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <net/route.h>

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

/* Whether the wrapper may read [p, p + len), a structure that points to
 * more buffers (an iovec array, a message header, a length), after need()
 * pinned it: in the arena, only if the program may read it (else reading
 * it here would raise SIGSEGV where the kernel answers EFAULT); outside,
 * it is trusted, as ever (nothing cheap tells). */
static bool deref_ok(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p;
	if (a + len <= vms_mm.base || a >= vms_mm.end) {
		return true;
	}
	vms_prefault(a, len, R);
	return kio_first_missing(a, len, R) == 0;
}

/* The kernel refuses more iovecs (or messages) than this before it reads
 * any (EINVAL, EMSGSIZE). */
#define KIO_MAXIOV 1024

static void need_iov(struct kio *k, const struct iovec *iov, int cnt, enum vms_access a)
{
	if (iov == NULL || cnt <= 0 || cnt > KIO_MAXIOV) {
		return;
	}
	need(k, iov, (size_t)cnt * sizeof *iov, R);
	if (!deref_ok(iov, (size_t)cnt * sizeof *iov)) {
		return;
	}
	for (int i = 0; i < cnt; i++) {
		need(k, iov[i].iov_base, iov[i].iov_len, a);
	}
}

/* What a message header points to: name, control, the iovec array and
 * its buffers (the kernel writes name, control and data on receive). */
static void need_msg_parts(struct kio *k, const struct msghdr *m, enum vms_access a)
{
	need(k, m->msg_name, m->msg_namelen, a);
	need(k, m->msg_control, m->msg_controllen, a);
	need_iov(k, m->msg_iov, (int)m->msg_iovlen, a);
}

/* A message header: the kernel writes name, control and flags on receive. */
static void need_msg(struct kio *k, const struct msghdr *m, enum vms_access a)
{
	if (m == NULL) {
		return;
	}
	need(k, m, sizeof *m, a);
	if (deref_ok(m, sizeof *m)) {
		need_msg_parts(k, m, a);
	}
}

/* The messages of recvmmsg and sendmmsg: the array itself is written
 * either way (the kernel stores each msg_len; on receive also msg_namelen,
 * msg_controllen and msg_flags), then every message's parts.  The kernel
 * takes at most UIO_MAXIOV (1024) messages. */
static void need_mmsg(struct kio *k, const struct mmsghdr *v, unsigned int n, enum vms_access a)
{
	if (v == NULL || n == 0) {
		return;
	}
	if (n > KIO_MAXIOV) {
		n = KIO_MAXIOV;
	}
	need(k, v, (size_t)n * sizeof *v, W);
	if (!deref_ok(v, (size_t)n * sizeof *v)) {
		return;
	}
	for (unsigned int i = 0; i < n; i++) {
		need_msg_parts(k, &v[i].msg_hdr, a);
	}
}

/* A socket address and its length, written by the kernel. */
static void need_sockaddr(struct kio *k, void *addr, socklen_t *len)
{
	if (len != NULL) {
		need(k, len, sizeof *len, W);
		if (deref_ok(len, sizeof *len)) {
			need(k, addr, *len, W);
		}
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

/* recvmmsg and sendmmsg are never retried: the kernel stores each
 * message's msg_len after moving its data, so an EFAULT there (a message
 * array write-protected by a fork in another thread) comes after the
 * data moved; and an error after the first message is kept by the socket
 * for the next call.  With every buffer pinned and present it does not
 * arise but from such races. */
VMS_EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags, struct timespec *t)
{
	struct kio k = KIO("recvmmsg", fd, KIO_NEVER);
	int ret_;
	need_mmsg(&k, v, n, W);
	need(&k, t, sizeof *t, W);
	KIO_CALL(&k, ret_, REAL(recvmmsg)(fd, v, n, flags, t));
	return ret_;
}

VMS_EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags)
{
	struct kio k = KIO("sendmmsg", fd, KIO_NEVER);
	int ret_;
	need_mmsg(&k, v, n, R);
	KIO_CALL(&k, ret_, REAL(sendmmsg)(fd, v, n, flags));
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

/* --- ioctl: the argument's size comes from the command ---
 *
 * Commands that encode their argument (_IOC_DIR not _IOC_NONE): _IOC_SIZE
 * bytes at the argument, read by the kernel for _IOC_WRITE, written for
 * _IOC_READ.  The older commands without an encoded size (terminals,
 * sockets, block devices) come from the table below, with their kernel
 * structures' sizes; a size of 0 says the argument is a value, not a
 * pointer.  Any other command whose argument points into the arena gets
 * one page from the argument made present (for reading, and for writing
 * where the program may write) as a heuristic: the kernel reaches an
 * unknown command's argument through copy_to_user or copy_from_user, and
 * nothing tells how far.  Only what the kernel reads at the argument
 * itself is covered: pointers inside the structure (SIOCETHTOOL's
 * ifr_data, a DRM or V4L2 command's arrays) are not, except SIOCGIFCONF's
 * buffer, which is handled.
 *
 * Retried after EFAULT: only the table's commands marked so (pure queries
 * that repeat harmlessly, and terminal and block settings the kernel
 * copies in before it acts; not the socket settings, which may copy back
 * after they acted); never an encoded or unknown command (a driver may
 * act before it copies). */

/* The kernel's struct termios (asm-generic/termbits.h: four tcflag_t,
 * c_line, c_cc[19]), not glibc's larger one. */
#define KTERMIOS_SIZE (4 * sizeof(unsigned int) + 1 + 19)
/* The kernel's old struct timeval and timespec: two longs. */
#define KTIME_OLD_SIZE (2 * sizeof(long))

#define IN 1  /* the kernel reads the argument */
#define OUT 2 /* the kernel writes it */

struct kio_ioctl {
	unsigned int cmd;
	unsigned short size;   /* bytes at the argument; 0: a value */
	unsigned char dir;     /* IN, OUT or both */
	unsigned char retry;   /* EFAULT retried */
};

static const struct kio_ioctl ioctl_table[] = {
	/* terminals (tty_ioctl(4)) */
	{ TCGETS, KTERMIOS_SIZE, OUT, 1 },
	{ TCSETS, KTERMIOS_SIZE, IN, 1 },
	{ TCSETSW, KTERMIOS_SIZE, IN, 1 },
	{ TCSETSF, KTERMIOS_SIZE, IN, 1 },
	{ TCGETA, sizeof(struct termio), OUT, 1 },
	{ TCSETA, sizeof(struct termio), IN, 1 },
	{ TCSETAW, sizeof(struct termio), IN, 1 },
	{ TCSETAF, sizeof(struct termio), IN, 1 },
	{ TIOCGLCKTRMIOS, KTERMIOS_SIZE, OUT, 1 },
	{ TIOCSLCKTRMIOS, KTERMIOS_SIZE, IN, 1 },
	{ TIOCGWINSZ, sizeof(struct winsize), OUT, 1 },
	{ TIOCSWINSZ, sizeof(struct winsize), IN, 1 },
	{ TIOCINQ, sizeof(int), OUT, 1 },          /* FIONREAD, SIOCINQ */
	{ TIOCOUTQ, sizeof(int), OUT, 1 },         /* SIOCOUTQ */
	{ FIONBIO, sizeof(int), IN, 1 },
	{ FIOASYNC, sizeof(int), IN, 1 },
	{ FIOQSIZE, sizeof(long long), OUT, 1 },
	{ TIOCGPGRP, sizeof(pid_t), OUT, 1 },
	{ TIOCSPGRP, sizeof(pid_t), IN, 1 },
	{ TIOCGSID, sizeof(pid_t), OUT, 1 },
	{ TIOCSTI, 1, IN, 1 },
	{ TIOCMGET, sizeof(int), OUT, 1 },
	{ TIOCMSET, sizeof(int), IN, 1 },
	{ TIOCMBIS, sizeof(int), IN, 1 },
	{ TIOCMBIC, sizeof(int), IN, 1 },
	{ TIOCGETD, sizeof(int), OUT, 1 },
	{ TIOCSETD, sizeof(int), IN, 1 },
	{ TIOCPKT, sizeof(int), IN, 1 },
	{ TIOCGSERIAL, sizeof(struct serial_struct), OUT, 1 },
	{ TIOCSSERIAL, sizeof(struct serial_struct), IN, 1 },
	{ TIOCGICOUNT, sizeof(struct serial_icounter_struct), OUT, 1 },
	{ TIOCSERGETLSR, sizeof(int), OUT, 1 },
	{ TIOCGRS485, sizeof(struct serial_rs485), OUT, 1 },
	{ TIOCSRS485, sizeof(struct serial_rs485), IN | OUT, 0 },
	/* terminal commands whose argument is a value */
	{ TCSBRK, 0, 0, 0 },
	{ TCSBRKP, 0, 0, 0 },
	{ TCXONC, 0, 0, 0 },
	{ TCFLSH, 0, 0, 0 },
	{ TIOCSCTTY, 0, 0, 0 },
	{ TIOCNOTTY, 0, 0, 0 },
	{ TIOCEXCL, 0, 0, 0 },
	{ TIOCNXCL, 0, 0, 0 },
	{ TIOCCONS, 0, 0, 0 },
	{ TIOCSBRK, 0, 0, 0 },
	{ TIOCCBRK, 0, 0, 0 },
	{ TIOCVHANGUP, 0, 0, 0 },
	{ TIOCMIWAIT, 0, 0, 0 },
	{ FIOCLEX, 0, 0, 0 },
	{ FIONCLEX, 0, 0, 0 },
	/* sockets (netdevice(7), socket(7)); a setting may copy its structure
	 * back after it acted: written, not retried */
	{ SIOCGIFNAME, sizeof(struct ifreq), IN | OUT, 1 },
	{ SIOCGIFFLAGS, sizeof(struct ifreq), IN | OUT, 1 },
	{ SIOCSIFFLAGS, sizeof(struct ifreq), IN | OUT, 0 },
	{ SIOCGIFADDR, sizeof(struct ifreq), IN | OUT, 1 },
	{ SIOCSIFADDR, sizeof(struct ifreq), IN | OUT, 0 },
	{ SIOCGIFDSTADDR, sizeof(struct ifreq), IN | OUT, 1 },
	{ SIOCSIFDSTADDR, sizeof(struct ifreq), IN | OUT, 0 },
	{ SIOCGIFBRDADDR, sizeof(struct ifreq), IN | OUT, 1 },
	{ SIOCSIFBRDADDR, sizeof(struct ifreq), IN | OUT, 0 },
	{ SIOCGIFNETMASK, sizeof(struct ifreq), IN | OUT, 1 },
	{ SIOCSIFNETMASK, sizeof(struct ifreq), IN | OUT, 0 },
	{ SIOCGIFMETRIC, sizeof(struct ifreq), IN | OUT, 1 },
	{ SIOCSIFMETRIC, sizeof(struct ifreq), IN | OUT, 0 },
	{ SIOCGIFMTU, sizeof(struct ifreq), IN | OUT, 1 },
	{ SIOCSIFMTU, sizeof(struct ifreq), IN | OUT, 0 },
	{ SIOCSIFNAME, sizeof(struct ifreq), IN | OUT, 0 },
	{ SIOCGIFHWADDR, sizeof(struct ifreq), IN | OUT, 1 },
	{ SIOCSIFHWADDR, sizeof(struct ifreq), IN | OUT, 0 },
	{ SIOCGIFINDEX, sizeof(struct ifreq), IN | OUT, 1 },
	{ SIOCGIFTXQLEN, sizeof(struct ifreq), IN | OUT, 1 },
	{ SIOCSIFTXQLEN, sizeof(struct ifreq), IN | OUT, 0 },
	{ SIOCGIFMAP, sizeof(struct ifreq), IN | OUT, 1 },
	{ SIOCSIFMAP, sizeof(struct ifreq), IN | OUT, 0 },
	{ SIOCGIFPFLAGS, sizeof(struct ifreq), IN | OUT, 1 },
	{ SIOCSIFPFLAGS, sizeof(struct ifreq), IN | OUT, 0 },
	{ SIOCADDMULTI, sizeof(struct ifreq), IN | OUT, 0 },
	{ SIOCDELMULTI, sizeof(struct ifreq), IN | OUT, 0 },
	{ SIOCDIFADDR, sizeof(struct ifreq), IN | OUT, 0 },
	{ SIOCETHTOOL, sizeof(struct ifreq), IN | OUT, 0 },  /* ifr_data: not covered */
	{ SIOCGMIIPHY, sizeof(struct ifreq), IN | OUT, 0 },
	{ SIOCGMIIREG, sizeof(struct ifreq), IN | OUT, 0 },
	{ SIOCSMIIREG, sizeof(struct ifreq), IN | OUT, 0 },
	{ SIOCADDRT, sizeof(struct rtentry), IN, 0 },       /* rt_dev: not covered */
	{ SIOCDELRT, sizeof(struct rtentry), IN, 0 },
	{ SIOCGARP, sizeof(struct arpreq), IN | OUT, 1 },
	{ SIOCSARP, sizeof(struct arpreq), IN | OUT, 0 },
	{ SIOCDARP, sizeof(struct arpreq), IN | OUT, 0 },
	{ SIOCATMARK, sizeof(int), OUT, 1 },
	{ SIOCOUTQNSD, sizeof(int), OUT, 1 },
	{ SIOCGPGRP, sizeof(int), OUT, 1 },
	{ SIOCSPGRP, sizeof(int), IN, 1 },
	{ FIOGETOWN, sizeof(int), OUT, 1 },
	{ FIOSETOWN, sizeof(int), IN, 1 },
	{ SIOCGSTAMP_OLD, KTIME_OLD_SIZE, OUT, 1 },
	{ SIOCGSTAMPNS_OLD, KTIME_OLD_SIZE, OUT, 1 },
	/* block devices and files (ioctl_list(2)) */
	{ BLKROSET, sizeof(int), IN, 1 },
	{ BLKROGET, sizeof(int), OUT, 1 },
	{ BLKGETSIZE, sizeof(unsigned long), OUT, 1 },
	{ BLKSSZGET, sizeof(int), OUT, 1 },
	{ BLKRAGET, sizeof(long), OUT, 1 },
	{ BLKFRAGET, sizeof(long), OUT, 1 },
	{ BLKSECTGET, sizeof(unsigned short), OUT, 1 },
	{ BLKDISCARD, 2 * sizeof(unsigned long long), IN, 1 },
	{ BLKSECDISCARD, 2 * sizeof(unsigned long long), IN, 1 },
	{ BLKZEROOUT, 2 * sizeof(unsigned long long), IN, 1 },
	{ BLKRRPART, 0, 0, 0 },
	{ BLKFLSBUF, 0, 0, 0 },
	{ BLKRASET, 0, 0, 0 },
	{ BLKFRASET, 0, 0, 0 },
	{ FIBMAP, sizeof(int), IN | OUT, 1 },
	{ FIGETBSZ, sizeof(int), OUT, 1 },
};

#undef IN
#undef OUT

/* Records what command cmd makes the kernel access at arg (already known
 * to lie in the arena) and returns the retry policy. */
static enum kio_retry ioctl_needs(struct kio *k, unsigned long request, uintptr_t arg)
{
	/* The kernel's command is 32 bits (a program may pass a negative int). */
	unsigned int cmd = (unsigned int)request;
	unsigned int dir = _IOC_DIR(cmd);
	if (dir != _IOC_NONE) {
		/* _IOC_READ: the kernel writes the argument. */
		need(k, arg, _IOC_SIZE(cmd), (dir & _IOC_READ) ? W : R);
		return KIO_NEVER;
	}
	for (size_t i = 0; i < sizeof ioctl_table / sizeof ioctl_table[0]; i++) {
		const struct kio_ioctl *t = &ioctl_table[i];
		if (t->cmd != cmd) {
			continue;
		}
		need(k, arg, t->size, (t->dir & 2) ? W : R);
		return t->retry ? KIO_ALWAYS : KIO_NEVER;
	}
	if (cmd == SIOCGIFCONF) {
		/* The kernel reads the ifconf, writes up to ifc_len bytes of
		 * ifreqs at ifc_buf (none: only counts) and ifc_len.  Read here
		 * only if the program may (else the kernel's EFAULT, as natively). */
		struct ifconf *c = (struct ifconf *)arg;
		need(k, c, sizeof *c, W);
		if (deref_ok(c, sizeof *c) && c->ifc_buf != NULL && c->ifc_len > 0) {
			need(k, c->ifc_buf, (size_t)c->ifc_len, W);
		}
		return KIO_ALWAYS;
	}
	/* Unknown: one page, writable where the program may write it, and
	 * readable (vms_prefault leaves alone a write it may not make: a
	 * page it may only read is then made readable, under the same pin). */
	need(k, arg, VMS_PAGE_SIZE, W);
	vms_prefault(arg, VMS_PAGE_SIZE, R);
	return KIO_NEVER;
}

static inline bool in_arena(uintptr_t p)
{
	return p >= vms_mm.base && p < vms_mm.end;
}

VMS_EXPORT int ioctl(int fd, unsigned long cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (!in_arena((uintptr_t)arg)) {
		return REAL(ioctl)(fd, cmd, arg);
	}
	struct kio k = KIO("ioctl", fd, KIO_NEVER);
	int ret_;
	k.retry = ioctl_needs(&k, cmd, (uintptr_t)arg);
	KIO_CALL(&k, ret_, REAL(ioctl)(fd, cmd, arg));
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

/* --- stream buffers the program gives stdio (setvbuf, setbuffer, setbuf):
 * libc reads into them and writes from them with its internal read and
 * write, which no wrapper sees, for as long as the stream uses them.  Such
 * a buffer in the arena is pinned (vm/pin.c: reclaim neither deactivates
 * nor evicts it) and made present for writing when it is given, and, if
 * the stream can read, made writable again after every fork (fork write-
 * protects it for copy-on-write in both processes), until the stream lets
 * it go: fclose, freopen, fcloseall, setvbuf or setbuffer with another
 * buffer or unbuffered.  At most VBUF_SLOTS streams at a time, buffers of
 * at most VBUF_MAX bytes (a larger one would stay resident against the
 * limit): others are made present when given, not kept so. --- */

#define VBUF_SLOTS 64
#define VBUF_MAX STDIO_CHUNK

struct vbuf {
	FILE *f;      /* NULL: free */
	uintptr_t p;
	size_t len;
	int pin;
};

static struct vbuf vbufs[VBUF_SLOTS];
static int vbufs_used;   /* entries in use: fclose's only cost when 0 */
static pthread_mutex_t vbufs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t vbufs_once = PTHREAD_ONCE_INIT;

/* fork: the table is stable across it; then, in both processes (after the
 * VM's own handlers, registered before these, so that the map lock is
 * free), every kept buffer of a stream that reads is made writable again
 * (a copy of it: the cost of a fork).  A stream that only writes needs
 * none: the kernel only reads its buffer, and libc's own stores into it
 * fault into the shim as any other. */
static void vbufs_prepare(void)
{
	pthread_mutex_lock(&vbufs_lock);
}

/* glibc's flag for a stream that cannot read (libio.h; part of its ABI,
 * the first word of the public struct _IO_FILE). */
#define VBUF_NO_READS 0x4

static void vbufs_refault(void)
{
	for (int i = 0; i < VBUF_SLOTS; i++) {
		if (vbufs[i].f != NULL && !(vbufs[i].f->_flags & VBUF_NO_READS)) {
			vms_prefault(vbufs[i].p, vbufs[i].len, W);
		}
	}
}

static void vbufs_parent(void)
{
	int saved = errno;
	vbufs_refault();
	pthread_mutex_unlock(&vbufs_lock);
	errno = saved;
}

static void vbufs_child(void)
{
	int saved = errno;
	pthread_mutex_init(&vbufs_lock, NULL);
	vbufs_refault();
	errno = saved;
}

static void vbufs_register(void)
{
	pthread_atfork(vbufs_prepare, vbufs_parent, vbufs_child);
}

/* Takes f's entry out of the table; its pin token, or -1 (none, or not
 * pinned).  *had: whether there was one. */
static int vbuf_take(FILE *f, bool *had)
{
	int pin = -1;
	*had = false;
	pthread_mutex_lock(&vbufs_lock);
	for (int i = 0; i < VBUF_SLOTS; i++) {
		if (vbufs[i].f == f) {
			pin = vbufs[i].pin;
			vbufs[i].f = NULL;
			__atomic_sub_fetch(&vbufs_used, 1, __ATOMIC_RELAXED);
			*had = true;
			break;
		}
	}
	pthread_mutex_unlock(&vbufs_lock);
	return pin;
}

/* Gives f the entry {p, len, pin}; false if the table is full. */
static bool vbuf_put(FILE *f, uintptr_t p, size_t len, int pin)
{
	bool ok = false;
	pthread_mutex_lock(&vbufs_lock);
	for (int i = 0; i < VBUF_SLOTS; i++) {
		if (vbufs[i].f == NULL) {
			vbufs[i] = (struct vbuf){ f, p, len, pin };
			__atomic_add_fetch(&vbufs_used, 1, __ATOMIC_RELAXED);
			ok = true;
			break;
		}
	}
	pthread_mutex_unlock(&vbufs_lock);
	return ok;
}

/* Before a stream is given buf (NULL: none): a buffer in the arena is
 * pinned and made present for writing; returns the pin token (-1: none)
 * and *keep says whether the buffer is to be kept so. */
static int vbuf_begin(char *buf, size_t size, bool *keep)
{
	uintptr_t p = (uintptr_t)buf;
	*keep = false;
	if (buf == NULL || size == 0 || p + size < p || p + size <= vms_mm.base ||
	    p >= vms_mm.end) {
		return -1;
	}
	int pin = -1;
	if (size <= VBUF_MAX) {
		pthread_once(&vbufs_once, vbufs_register);
		pin = vms_pin_begin(p, size);
		*keep = pin >= 0;
	}
	vms_prefault(p, size, W);
	return pin;
}

/* After: ok says the stream took buf (or, buf NULL and not unbuffered,
 * kept what it had). */
static void vbuf_end(FILE *f, char *buf, size_t size, int pin, bool keep, bool ok, bool unbuffered)
{
	int saved = errno;
	bool had;
	if (!ok) {
		vms_pin_end(pin);
	} else if (buf != NULL || unbuffered) {
		/* The stream lets go of its old buffer. */
		if (__atomic_load_n(&vbufs_used, __ATOMIC_RELAXED) != 0) {
			vms_pin_end(vbuf_take(f, &had));
		}
		if (!keep || !vbuf_put(f, (uintptr_t)buf, size, pin)) {
			vms_pin_end(pin);
		}
	}
	errno = saved;
}

VMS_EXPORT int setvbuf(FILE *f, char *buf, int mode, size_t size)
{
	bool keep;
	bool mine = mode != _IONBF;
	int pin = vbuf_begin(mine ? buf : NULL, size, &keep);
	int ret = REAL(setvbuf)(f, buf, mode, size);
	if (pin >= 0 || keep || __atomic_load_n(&vbufs_used, __ATOMIC_RELAXED) != 0) {
		vbuf_end(f, mine ? buf : NULL, size, pin, keep, ret == 0, mode == _IONBF);
	}
	return ret;
}

VMS_EXPORT void setbuffer(FILE *f, char *buf, size_t size)
{
	bool keep;
	int pin = vbuf_begin(buf, size, &keep);
	REAL(setbuffer)(f, buf, size);
	if (pin >= 0 || keep || __atomic_load_n(&vbufs_used, __ATOMIC_RELAXED) != 0) {
		vbuf_end(f, buf, size, pin, keep, true, buf == NULL);
	}
}

VMS_EXPORT void setbuf(FILE *f, char *buf)
{
	bool keep;
	int pin = vbuf_begin(buf, BUFSIZ, &keep);
	REAL(setbuf)(f, buf);
	if (pin >= 0 || keep || __atomic_load_n(&vbufs_used, __ATOMIC_RELAXED) != 0) {
		vbuf_end(f, buf, BUFSIZ, pin, keep, true, buf == NULL);
	}
}

/* The stream's last flush still uses the buffer: its pin ends after. */
VMS_EXPORT int fclose(FILE *f)
{
	if (__atomic_load_n(&vbufs_used, __ATOMIC_RELAXED) == 0) {
		return REAL(fclose)(f);
	}
	bool had;
	int pin = vbuf_take(f, &had);
	int ret = REAL(fclose)(f);
	vms_pin_end(pin);
	return ret;
}

VMS_EXPORT FILE *freopen(const char *path, const char *mode, FILE *f)
{
	if (__atomic_load_n(&vbufs_used, __ATOMIC_RELAXED) == 0) {
		return REAL(freopen)(path, mode, f);
	}
	bool had;
	int pin = vbuf_take(f, &had);
	FILE *ret = REAL(freopen)(path, mode, f);
	vms_pin_end(pin);
	return ret;
}

VMS_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *f)
{
	if (__atomic_load_n(&vbufs_used, __ATOMIC_RELAXED) == 0) {
		return REAL(freopen64)(path, mode, f);
	}
	bool had;
	int pin = vbuf_take(f, &had);
	FILE *ret = REAL(freopen64)(path, mode, f);
	vms_pin_end(pin);
	return ret;
}

VMS_EXPORT int fcloseall(void)
{
	int ret = REAL(fcloseall)();
	if (__atomic_load_n(&vbufs_used, __ATOMIC_RELAXED) != 0) {
		int saved = errno;
		pthread_mutex_lock(&vbufs_lock);
		for (int i = 0; i < VBUF_SLOTS; i++) {
			if (vbufs[i].f != NULL) {
				vms_pin_end(vbufs[i].pin);
				vbufs[i].f = NULL;
			}
		}
		__atomic_store_n(&vbufs_used, 0, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&vbufs_lock);
		errno = saved;
	}
	return ret;
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

/* Only where the shim makes its own system calls without libc's syscall
 * (os/raw.c): elsewhere its raw calls would come through this wrapper. */
#if defined(__x86_64__) || defined(__aarch64__)

/* --- raw syscall(2): the numbers that take buffers the wrappers above
 * know, through the same helper; every other number passes straight
 * through.  The real syscall is what runs, so errno and return values are
 * the raw call's (getcwd returns a length, ppoll writes the remaining
 * time...).  Not covered: io_uring (its rings are shared memory the kernel
 * reads asynchronously) and AIO (io_submit's iocbs, whose buffers the kernel
 * fills after the call returns), and the numbers not listed here. --- */

/* select's fd sets: the kernel touches only the words holding fds < n. */
static size_t fdset_bytes(long n)
{
	if (n <= 0) {
		return 0;
	}
	size_t words = ((size_t)n + 8 * sizeof(long) - 1) / (8 * sizeof(long));
	return words * sizeof(long);
}

/* futex(2): the word (and the second one) the operation reads or writes.
 * A shared (not FUTEX_PRIVATE_FLAG) futex is looked up through its page,
 * and the kernel refuses (EFAULT) an anonymous page it can only read: the
 * word is made writable then, as it is natively (a word the program may
 * only read stays as it is, and fails as natively).  *wait: a waiting operation, whose pins go before the call (the thread
 * may sleep there indefinitely; the kernel reads the word when it starts,
 * and a page taken in between makes it EFAULT without waiting, which is
 * retried). */
static enum kio_retry futex_needs(struct kio *k, const long *a, bool *wait)
{
	int op = (int)a[1] & FUTEX_CMD_MASK;
	bool private_ = ((int)a[1] & FUTEX_PRIVATE_FLAG) != 0;
	enum vms_access key = private_ ? R : W;
	*wait = false;
	switch (op) {
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET:
		need(k, a[0], sizeof(uint32_t), key);
		need(k, a[3], sizeof(struct timespec), R);
		*wait = true;
		return KIO_ALWAYS;
	case FUTEX_WAKE:
	case FUTEX_WAKE_BITSET:
		/* A private futex is keyed by its address alone; a shared one's
		 * page is looked up. */
		if (!private_) {
			need(k, a[0], sizeof(uint32_t), W);
		}
		return KIO_ALWAYS;
	case FUTEX_REQUEUE:
	case FUTEX_CMP_REQUEUE:
		need(k, a[0], sizeof(uint32_t), key);
		if (!private_) {
			need(k, a[4], sizeof(uint32_t), W);
		}
		return KIO_ALWAYS;
	case FUTEX_WAKE_OP:
		need(k, a[0], sizeof(uint32_t), key);
		need(k, a[4], sizeof(uint32_t), W);
		return KIO_ALWAYS;
	case FUTEX_LOCK_PI:
#ifdef FUTEX_LOCK_PI2
	case FUTEX_LOCK_PI2:
#endif
		need(k, a[0], sizeof(uint32_t), W);
		need(k, a[3], sizeof(struct timespec), R);
		*wait = true;
		return KIO_NEVER;
	case FUTEX_TRYLOCK_PI:
	case FUTEX_UNLOCK_PI:
		need(k, a[0], sizeof(uint32_t), W);
		return KIO_NEVER;
	case FUTEX_WAIT_REQUEUE_PI:
		need(k, a[0], sizeof(uint32_t), key);
		need(k, a[3], sizeof(struct timespec), R);
		need(k, a[4], sizeof(uint32_t), W);
		*wait = true;
		return KIO_NEVER;
	case FUTEX_CMP_REQUEUE_PI:
		need(k, a[0], sizeof(uint32_t), key);
		need(k, a[4], sizeof(uint32_t), W);
		return KIO_NEVER;
	default:
		return KIO_NEVER;
	}
}

/* Ends the pins now (before a call that may wait); a retry makes the
 * buffers present again without them. */
static void kio_unpin(struct kio *k)
{
	for (int i = 0; i < k->n; i++) {
		vms_pin_end(k->b[i].pin);
		k->b[i].pin = -1;
	}
}

/* Records the buffers of system call nr; false for a number not handled
 * here.  k->fd and k->retry are set. */
static bool syscall_needs(struct kio *k, long nr, const long *a, bool *wait)
{
	*wait = false;
	switch (nr) {
	case SYS_read:
	case SYS_pread64:
		k->fd = (int)a[0];
		k->retry = KIO_FD;
		need(k, a[1], (size_t)a[2], W);
		return true;
	case SYS_write:
	case SYS_pwrite64:
		k->fd = (int)a[0];
		k->retry = KIO_FD;
		need(k, a[1], (size_t)a[2], R);
		return true;
	case SYS_readv:
	case SYS_preadv:
	case SYS_preadv2:
		k->fd = (int)a[0];
		k->retry = KIO_FD;
		need_iov(k, (const struct iovec *)a[1], (int)a[2], W);
		return true;
	case SYS_writev:
	case SYS_pwritev:
	case SYS_pwritev2:
		k->fd = (int)a[0];
		k->retry = KIO_FD;
		need_iov(k, (const struct iovec *)a[1], (int)a[2], R);
		return true;
	case SYS_recvfrom:
		k->fd = (int)a[0];
		k->retry = KIO_FD;
		need(k, a[1], (size_t)a[2], W);
		need_sockaddr(k, (void *)a[4], (socklen_t *)a[5]);
		return true;
	case SYS_sendto:
		k->fd = (int)a[0];
		k->retry = KIO_FD;
		need(k, a[1], (size_t)a[2], R);
		need(k, a[4], (size_t)(socklen_t)a[5], R);
		return true;
	case SYS_recvmsg:
		k->fd = (int)a[0];
		k->retry = KIO_FD;
		need_msg(k, (const struct msghdr *)a[1], W);
		return true;
	case SYS_sendmsg:
		k->fd = (int)a[0];
		k->retry = KIO_FD;
		need_msg(k, (const struct msghdr *)a[1], R);
		return true;
	case SYS_recvmmsg:
		need_mmsg(k, (const struct mmsghdr *)a[1], (unsigned int)a[2], W);
		need(k, a[4], sizeof(struct timespec), W);
		return true;
	case SYS_sendmmsg:
		need_mmsg(k, (const struct mmsghdr *)a[1], (unsigned int)a[2], R);
		return true;
	case SYS_accept:
	case SYS_accept4:
		need_sockaddr(k, (void *)a[1], (socklen_t *)a[2]);
		return true;
	case SYS_getsockname:
	case SYS_getpeername:
		k->retry = KIO_ALWAYS;
		need_sockaddr(k, (void *)a[1], (socklen_t *)a[2]);
		return true;
	case SYS_getsockopt:
		k->retry = KIO_ALWAYS;
		need_sockaddr(k, (void *)a[3], (socklen_t *)a[4]);
		return true;
	case SYS_socketpair:
		need(k, a[3], 2 * sizeof(int), W);
		return true;
#ifdef SYS_pipe
	case SYS_pipe:
		need(k, a[0], 2 * sizeof(int), W);
		return true;
#endif
	case SYS_pipe2:
		need(k, a[0], 2 * sizeof(int), W);
		return true;
#ifdef SYS_getdents
	case SYS_getdents:
#endif
	case SYS_getdents64:
		need(k, a[1], (size_t)(unsigned int)a[2], W);
		return true;
	case SYS_getrandom:
		k->retry = KIO_ALWAYS;
		need(k, a[0], (size_t)a[1], W);
		return true;
#ifdef SYS_stat
	case SYS_stat:
	case SYS_lstat:
#endif
	case SYS_fstat:
		k->retry = KIO_ALWAYS;
		need(k, a[1], sizeof(struct stat), W);
		return true;
	case SYS_newfstatat:
		k->retry = KIO_ALWAYS;
		need(k, a[2], sizeof(struct stat), W);
		return true;
	case SYS_statx:
		k->retry = KIO_ALWAYS;
		need(k, a[4], sizeof(struct statx), W);
		return true;
#ifdef SYS_readlink
	case SYS_readlink:
		k->retry = KIO_ALWAYS;
		need(k, a[1], (size_t)a[2], W);
		return true;
#endif
	case SYS_readlinkat:
		k->retry = KIO_ALWAYS;
		need(k, a[2], (size_t)a[3], W);
		return true;
	case SYS_getcwd:
		k->retry = KIO_ALWAYS;
		need(k, a[0], (size_t)a[1], W);
		return true;
#ifdef SYS_poll
	case SYS_poll:
		need(k, a[0], (size_t)a[1] * sizeof(struct pollfd), W);
		return true;
#endif
	case SYS_ppoll:
		need(k, a[0], (size_t)a[1] * sizeof(struct pollfd), W);
		need(k, a[2], sizeof(struct timespec), W);
		need(k, a[3], (size_t)a[4], R);
		return true;
#ifdef SYS_select
	case SYS_select:
		need(k, a[1], fdset_bytes(a[0]), W);
		need(k, a[2], fdset_bytes(a[0]), W);
		need(k, a[3], fdset_bytes(a[0]), W);
		need(k, a[4], sizeof(struct timeval), W);
		return true;
#endif
	case SYS_pselect6:
		need(k, a[1], fdset_bytes(a[0]), W);
		need(k, a[2], fdset_bytes(a[0]), W);
		need(k, a[3], fdset_bytes(a[0]), W);
		need(k, a[4], sizeof(struct timespec), W);
		if (a[5] != 0) {
			/* { const sigset_t *ss; size_t ss_len; } */
			const uintptr_t *sig = (const uintptr_t *)a[5];
			need(k, sig, 2 * sizeof *sig, R);
			if (deref_ok(sig, 2 * sizeof *sig)) {
				need(k, sig[0], (size_t)sig[1], R);
			}
		}
		return true;
#ifdef SYS_epoll_wait
	case SYS_epoll_wait:
#endif
	case SYS_epoll_pwait:
		if ((int)a[2] > 0) {
			need(k, a[1], (size_t)(int)a[2] * sizeof(struct epoll_event), W);
		}
		if (nr == SYS_epoll_pwait) {
			need(k, a[4], (size_t)a[5], R);
		}
		return true;
	case SYS_epoll_ctl:
		need(k, a[3], sizeof(struct epoll_event), R);
		return true;
	case SYS_wait4:
		need(k, a[1], sizeof(int), W);
		need(k, a[3], sizeof(struct rusage), W);
		return true;
	case SYS_waitid:
		need(k, a[2], sizeof(siginfo_t), W);
		need(k, a[4], sizeof(struct rusage), W);
		return true;
	case SYS_nanosleep:
		need(k, a[0], sizeof(struct timespec), R);
		need(k, a[1], sizeof(struct timespec), W);
		return true;
	case SYS_clock_nanosleep:
		need(k, a[2], sizeof(struct timespec), R);
		need(k, a[3], sizeof(struct timespec), W);
		return true;
	case SYS_ioctl:
		k->fd = (int)a[0];
		if (in_arena((uintptr_t)a[2])) {
			k->retry = ioctl_needs(k, (unsigned long)a[1], (uintptr_t)a[2]);
		}
		return true;
	case SYS_futex:
		k->retry = futex_needs(k, a, wait);
		return true;
	default:
		return false;
	}
}

VMS_EXPORT long syscall(long nr, ...)
{
	long a[6];
	va_list ap;
	va_start(ap, nr);
	for (int i = 0; i < 6; i++) {
		a[i] = va_arg(ap, long);
	}
	va_end(ap);
	struct kio k = KIO("syscall", -1, KIO_NEVER);
	bool wait;
	if (!syscall_needs(&k, nr, a, &wait) || k.n == 0) {
		return REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	}
	if (wait) {
		kio_unpin(&k);
	}
	long ret_;
	KIO_CALL(&k, ret_, REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]));
	return ret_;
}

#endif /* x86_64, aarch64 */
