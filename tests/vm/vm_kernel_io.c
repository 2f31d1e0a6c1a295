/*
 * tests/vm/vm_kernel_io.c - system calls given memory the program has never
 * touched (fresh anonymous mmap: under the shim, not yet present) work as
 * natively: each libc call that hands a buffer to the kernel is used once
 * with such a buffer, and its result printed.  vm_kernel_io.test runs it
 * natively and under the shim and compares.  The stdio part covers the
 * fread and fwrite families, whose large requests libc passes to the
 * kernel directly.
 *
 * The last lines check what must not change: memory the program may not
 * access (PROT_NONE) still gets the kernel's EFAULT through ioctl, raw
 * syscall(2), futex and recvmmsg, also when it holds a structure the
 * wrappers read to find more buffers (a message header, an iovec array,
 * a message array, an address length); an unknown ioctl still gets
 * ENOTTY; and
 * errno is left alone by calls that succeed (ioctl, syscall, recvmmsg,
 * sendmmsg, setvbuf, fclose).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <linux/futex.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

/* A fresh, never touched buffer of n bytes. */
static void *fresh(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		exit(99);
	}
	return p;
}

static unsigned sum(const void *p, size_t n)
{
	unsigned s = 0;
	for (size_t i = 0; i < n; i++) {
		s = s * 31 + ((const unsigned char *)p)[i];
	}
	return s;
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	int pfd[2];
	int *fds = fresh(4096);
	int rc = pipe(fds);
	printf("pipe=%d ", rc);
	pfd[0] = fds[0];
	pfd[1] = fds[1];
	char *src = fresh(8192);
	ssize_t n = write(pfd[1], src, 8192);
	printf("write_untouched=%zd ", n);
	char *dst = fresh(8192);
	n = read(pfd[0], dst, 8192);
	printf("read=%zd zero=%d\n", n, sum(dst, 8192) == sum(src, 8192));

	int f = open("/proc/self/exe", O_RDONLY);
	char *b = fresh(3 * 4096);
	n = pread(f, b, 3 * 4096, 0);
	printf("pread=%zd ", n);
	printf("elf=%d ", memcmp(b + 1, "ELF", 3) == 0);
	struct iovec *iov = fresh(4096);
	char *v1 = fresh(4096), *v2 = fresh(4096);
	iov[0] = (struct iovec){ v1, 100 };
	iov[1] = (struct iovec){ v2, 200 };
	n = preadv(f, iov, 2, 0);
	printf("preadv=%zd same=%d\n", n, memcmp(v1, b, 100) == 0 && memcmp(v2, b + 100, 200) == 0);

	struct stat *st = fresh(4096);
	int r1 = fstat(f, st), r2 = stat("/proc/self/exe", st), r3 = lstat("/", st);
	printf("fstat=%d stat=%d lstat=%d mode_ok=%d\n", r1, r2, r3, S_ISDIR(st->st_mode));
	close(f);

	int *sv = fresh(4096);
	rc = socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	printf("socketpair=%d ", rc);
	send(sv[0], "hello", 5, 0);
	char *r = fresh(4096);
	n = recv(sv[1], r, 4096, 0);
	printf("recv=%zd data=%.5s ", n, r);
	send(sv[0], "world!", 6, 0);
	struct msghdr *m = fresh(4096);
	struct iovec *mi = fresh(4096);
	char *mb = fresh(4096);
	mi[0] = (struct iovec){ mb, 64 };
	m->msg_iov = mi;
	m->msg_iovlen = 1;
	n = recvmsg(sv[1], m, 0);
	printf("recvmsg=%zd data=%.6s\n", n, mb);

	struct pollfd *pf = fresh(4096);
	pf[0] = (struct pollfd){ .fd = pfd[1], .events = POLLOUT };
	rc = poll(pf, 1, 0);
	printf("poll=%d revents=%d ", rc, pf[0].revents & POLLOUT);
	fd_set *ws = fresh(4096);
	FD_SET(pfd[1], ws);
	rc = select(pfd[1] + 1, NULL, ws, NULL, NULL);
	printf("select=%d ", rc);
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLOUT, .data.fd = pfd[1] };
	epoll_ctl(ep, EPOLL_CTL_ADD, pfd[1], &ev);
	struct epoll_event *evs = fresh(4096);
	rc = epoll_wait(ep, evs, 8, 0);
	printf("epoll_wait=%d fd_ok=%d\n", rc, evs[0].data.fd == pfd[1]);

	int d = open("/", O_RDONLY | O_DIRECTORY);
	char *db = fresh(65536);
	n = getdents64(d, db, 65536);
	printf("getdents64_positive=%d ", n > 0);
	close(d);
	char *rnd = fresh(4096);
	n = getrandom(rnd, 256, 0);
	printf("getrandom=%zd ", n);
	pid_t c = fork();
	if (c == 0) {
		_exit(42);
	}
	int *status = fresh(4096);
	pid_t w = waitpid(c, status, 0);
	printf("waitpid_ok=%d status=%d\n", w == c, WEXITSTATUS(*status));

	/* stdio: requests larger than the stream's buffer go straight between
	 * the kernel and the caller's memory, inside libc. */
	size_t big = 6 << 20;
	FILE *tf = tmpfile();
	char *wsrc = fresh(big);
	size_t k = fwrite(wsrc, 1, big, tf);
	size_t k2 = fwrite_unlocked(wsrc, 4096, 16, tf);
	printf("fwrite_untouched=%zu fwrite_unlocked_untouched=%zu flush=%d\n", k, k2, fflush(tf));
	rewind(tf);
	fputs("stdio", tf);
	rewind(tf);
	char *rdst = fresh(big);
	k = fread(rdst, 1, big, tf);
	printf("fread=%zu data=%.5s zero=%d ", k, rdst, sum(rdst + 5, big - 5) == sum(wsrc, big - 5));
	char *rdst2 = fresh(big);
	k = fread_unlocked(rdst2, 4096, big / 4096, tf);
	printf("fread_unlocked=%zu eof=%d ", k, feof(tf));
	rewind(tf);
	char *rdst3 = fresh(4 * big);
	k = fread(rdst3, 3, 4 * big / 3, tf);
	printf("fread_short=%zu eof=%d\n", k, feof(tf));
	fclose(tf);

	/* Genuine faults stay genuine; errno is kept on success. */
	int dv[2];
	socketpair(AF_UNIX, SOCK_DGRAM, 0, dv);
	char *none = mmap(NULL, 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	send(dv[0], "abc", 3, 0);
	errno = 0;
	int q = ioctl(dv[1], FIONREAD, none);
	printf("ioctl_none=%d errno=%d ", q, errno);
	errno = 0;
	q = ioctl(dv[1], _IOR('z', 99, int), none + 100);
	printf("ioctl_unknown_encoded=%d errno=%d ", q, errno);
	errno = 0;
	q = ioctl(dv[1], 0x54ff, none + 200);
	printf("ioctl_unknown_legacy=%d errno=%d ", q, errno);
	errno = 0;
	write(pfd[1], "0123456789", 10);
	long lr = syscall(SYS_read, pfd[0], none, 10);
	printf("syscall_read_none=%ld errno=%d ", lr, errno);
	errno = 0;
	lr = syscall(SYS_futex, none, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	printf("futex_none=%ld errno=%d\n", lr, errno);
	errno = 0;
	q = (int)recvmsg(dv[1], (struct msghdr *)none, MSG_DONTWAIT);
	printf("recvmsg_hdr_none=%d errno=%d ", q, errno);
	errno = 0;
	q = (int)sendmsg(dv[0], (struct msghdr *)none, 0);
	printf("sendmsg_hdr_none=%d errno=%d ", q, errno);
	errno = 0;
	q = recvmmsg(dv[1], (struct mmsghdr *)none, 2, MSG_DONTWAIT, NULL);
	printf("recvmmsg_vec_none=%d errno=%d ", q, errno);
	errno = 0;
	q = (int)writev(pfd[1], (struct iovec *)none, 2);
	printf("writev_iov_none=%d errno=%d ", q, errno);
	errno = 0;
	q = getsockname(dv[0], (struct sockaddr *)none, (socklen_t *)(none + 64));
	printf("getsockname_len_none=%d errno=%d ", q, errno);
	errno = 0;
	lr = syscall(SYS_readv, pfd[0], none, 2);
	printf("syscall_readv_iov_none=%ld errno=%d\n", lr, errno);
	struct iovec *iv = fresh(4096);
	struct mmsghdr *mm = fresh(4096);
	iv[0] = (struct iovec){ none, 100 };
	mm[0].msg_hdr.msg_iov = &iv[0];
	mm[0].msg_hdr.msg_iovlen = 1;
	errno = 0;
	q = recvmmsg(dv[1], mm, 1, MSG_DONTWAIT, NULL);
	printf("recvmmsg_none=%d errno=%d ", q, errno);
	char *mbuf = fresh(8192);
	iv[0] = (struct iovec){ mbuf, 3000 };
	iv[1] = (struct iovec){ mbuf + 5000, 3000 };
	memset(mm, 0, 2 * sizeof *mm);
	mm[0].msg_hdr.msg_iov = &iv[0];
	mm[0].msg_hdr.msg_iovlen = 1;
	mm[1].msg_hdr.msg_iov = &iv[1];
	mm[1].msg_hdr.msg_iovlen = 1;
	errno = 1234;
	q = sendmmsg(dv[0], mm, 2, 0);
	printf("sendmmsg=%d errno=%d ", q, errno);
	errno = 1234;
	q = recvmmsg(dv[1], mm, 2, 0, NULL);
	printf("recvmmsg=%d len=%u,%u errno=%d ", q, mm[0].msg_len, mm[1].msg_len, errno);
	int *cnt = fresh(4096);
	send(dv[0], "abcde", 5, 0);
	errno = 1234;
	q = ioctl(dv[1], FIONREAD, cnt);
	printf("ioctl=%d count=%d errno=%d ", q, *cnt, errno);
	char *sb = fresh(4096);
	errno = 1234;
	lr = syscall(SYS_recvfrom, dv[1], sb, 4096, 0, NULL, NULL);
	printf("syscall_recvfrom=%ld data=%.5s errno=%d\n", lr, sb, errno);
	FILE *vf = tmpfile();
	char *vb = fresh(8192);
	errno = 1234;
	q = setvbuf(vf, vb, _IOFBF, 8192);
	fputs("through the program's buffer", vf);
	rewind(vf);
	char *line = fresh(4096);
	char *got = fgets(line, 4096, vf);
	int e1 = errno;
	errno = 1234;
	q += fclose(vf);
	printf("setvbuf+fclose=%d line=%s errno=%d,%d\n", q, got ? line : "(null)", e1, errno);
	return 0;
}
