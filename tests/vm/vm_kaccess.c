/*
 * tests/vm/vm_kaccess.c - the kernel-side access probe (issue 9): every
 * way a program or libc hands heap memory to the kernel, with memory that
 * is fresh (never touched), reused after memory pressure (under a
 * resident limit: deactivated or swapped out), shared copy-on-write with a
 * forked child (in the child, and in the parent after the fork).
 *
 * Each round runs the same operations and prints one line per operation:
 * counts and checksums of what moved, or the errno a call failed with, so
 * vm_kaccess.test can compare the run under the shim with the native run
 * (with no limit and with VMSHIM_MEM_LIMIT=8M).  Nothing here depends on
 * timing or on addresses.
 *
 * Operations: read, pread, readv, preadv into never-touched malloc memory,
 * pread into a never-touched anonymous mapping;
 * write from a fresh calloc buffer through a pipe; fread of a large block
 * and fgets (stdio's buffer is libc's own), fgets again on a stream opened
 * before everything (after fork, its buffer is shared copy-on-write); send, recv, sendmsg, recvmsg on
 * a stream socket pair; poll and epoll_wait on heap arrays; fstat into a
 * heap struct; readdir (libc's directory buffer) and getdents64 into the
 * heap; a pthread mutex in the heap contended by four threads.
 *
 * Then: send, recv, recvfrom, recvmsg on a datagram socket pair into
 * heap buffers (a datagram the kernel could not store would be lost);
 * sendmmsg and recvmmsg with their message arrays, iovecs and buffers in
 * the heap; ioctl with heap arguments (a pseudo-terminal's TCGETS,
 * TIOCSWINSZ/TIOCGWINSZ, an encoded command: TIOCGPTN, one outside the
 * shim's table: TIOCGSOFTCAR; FIONREAD, FIONBIO and SIOCGIFCONF on
 * sockets); raw syscall(2) (read, pread64, fstat, getdents64, recvfrom,
 * ioctl, futex wait and wake on a word in calloc memory); stdio streams
 * reading and writing through buffers the program gave them (setvbuf,
 * setbuffer), one given a heap buffer at start and read in every round
 * (after fork, that buffer is shared copy-on-write; under the limit it
 * would be reclaimed but for the shim keeping it), and one given a heap
 * buffer at start and written in every round.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define DATA_SIZE (3u << 20)  /* the data file */
#define LINES 2000u           /* the text file */
#define NFILES 40u            /* the directory */
#define PRESSURE (32u << 20)  /* written between rounds: 4x an 8M limit */

static char dir[256], data_path[300], text_path[300], out_path[300], out2_path[300];

static void die(const char *what)
{
	printf("setup failed: %s: %s\n", what, strerror(errno));
	exit(99);
}

static uint64_t gen(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Order-independent checksum pieces: sum of per-item hashes. */
static uint64_t hash(const void *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ULL;
	}
	return h;
}

static void setup(void)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(dir, sizeof dir, "%s/vm_kaccess.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		die("mkdtemp");
	}
	snprintf(data_path, sizeof data_path, "%s/data", dir);
	snprintf(text_path, sizeof text_path, "%s/text", dir);
	snprintf(out_path, sizeof out_path, "%s/out", dir);
	snprintf(out2_path, sizeof out2_path, "%s/out2", dir);
	/* Built on the stack in pieces, so setup itself hands no heap to the kernel. */
	int fd = open(data_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		die("open data");
	}
	uint64_t s = 88172645463325252ULL;
	for (unsigned off = 0; off < DATA_SIZE; off += 4096) {
		uint64_t chunk[512];
		for (int i = 0; i < 512; i++) {
			chunk[i] = gen(&s);
		}
		if (write(fd, chunk, sizeof chunk) != (ssize_t)sizeof chunk) {
			die("write data");
		}
	}
	close(fd);
	FILE *f = fopen(text_path, "w");
	if (f == NULL) {
		die("fopen text");
	}
	for (unsigned i = 0; i < LINES; i++) {
		fprintf(f, "line %u of the text file, %llu\n", i, (unsigned long long)gen(&s));
	}
	fclose(f);
	for (unsigned i = 0; i < NFILES; i++) {
		char p[400];
		snprintf(p, sizeof p, "%s/entry-%02u", dir, i);
		int e = open(p, O_WRONLY | O_CREAT, 0600);
		if (e < 0) {
			die("open entry");
		}
		close(e);
	}
}

static void cleanup(void)
{
	char p[400];
	for (unsigned i = 0; i < NFILES; i++) {
		snprintf(p, sizeof p, "%s/entry-%02u", dir, i);
		unlink(p);
	}
	unlink(data_path);
	unlink(text_path);
	unlink(out_path);
	unlink(out2_path);
	rmdir(dir);
}

/* Heap buffers of one round; allocated fresh, or kept from an earlier round. */
struct bufs {
	char *rd;               /* 1 MiB */
	char *rd2;              /* 256 KiB */
	struct iovec *iov;      /* 2 */
	char *v1, *v2;          /* 64 KiB, 96 KiB */
	char *wr;               /* 48 KiB, calloc */
	char *back;             /* 48 KiB */
	char *fr;               /* 2 MiB, fread */
	char *line;             /* 4 KiB, fgets */
	char *sbuf, *rbuf;      /* 32 KiB each */
	struct msghdr *mh;
	struct iovec *miov;     /* 2 */
	struct pollfd *pfd;     /* 2 */
	struct epoll_event *ev; /* 4 */
	struct stat *st;
	char *dents;            /* 32 KiB */
	char *map;              /* 256 KiB, a fresh anonymous mapping */
	struct counter *ctr;
	char *dgs, *dgr;        /* 8 KiB each: datagrams */
	struct sockaddr_storage *from;
	socklen_t *fromlen;
	struct mmsghdr *mm;     /* 2, sendmmsg */
	struct mmsghdr *mmr;    /* 2, recvmmsg */
	struct iovec *mmiov;    /* 4 */
	struct winsize *ws;
	int *ival;              /* 4 ints */
	struct ifconf *ifc;
	char *sysrd;            /* 64 KiB */
	char *sdents;           /* 16 KiB */
	struct timespec *fto;
	/* A fresh mapping, one page each, that only the kernel writes (the
	 * program reads them): never present before the first call, shared
	 * copy-on-write after fork. */
	char *kout;
	unsigned char *kterm;   /* the kernel's struct termios */
	struct winsize *ws2;
	unsigned *ptn;
	int *iout;              /* 2 ints */
	char *ifbuf;            /* 4 KiB */
	uint32_t *fut;          /* futex words, 0 */
	struct stat *sst;
	char *mmbuf;            /* 8 KiB: recvmmsg */
	char *vb;               /* 16 KiB, a setvbuf buffer */
	char *vbw;              /* 8 KiB, a setbuffer buffer */
};

struct counter {
	pthread_mutex_t m;
	long n;
};

static struct bufs *bufs_new(void)
{
	struct bufs *b = malloc(sizeof *b);
	if (b == NULL) {
		die("malloc");
	}
	b->rd = malloc(1u << 20);
	b->rd2 = malloc(256u << 10);
	b->iov = malloc(2 * sizeof *b->iov);
	b->v1 = malloc(64u << 10);
	b->v2 = malloc(96u << 10);
	b->wr = calloc(1, 48u << 10);
	b->back = malloc(48u << 10);
	b->fr = malloc(2u << 20);
	b->line = malloc(4096);
	b->sbuf = malloc(32u << 10);
	b->rbuf = malloc(32u << 10);
	b->mh = malloc(sizeof *b->mh);
	b->miov = malloc(2 * sizeof *b->miov);
	b->pfd = malloc(2 * sizeof *b->pfd);
	b->ev = malloc(4 * sizeof *b->ev);
	b->st = malloc(sizeof *b->st);
	b->dents = malloc(32u << 10);
	b->ctr = malloc(sizeof *b->ctr);
	b->map = mmap(NULL, 256u << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b->map == MAP_FAILED) {
		die("mmap");
	}
	if (!b->rd || !b->rd2 || !b->iov || !b->v1 || !b->v2 || !b->wr || !b->back || !b->fr ||
	    !b->line || !b->sbuf || !b->rbuf || !b->mh || !b->miov || !b->pfd || !b->ev ||
	    !b->st || !b->dents || !b->ctr) {
		die("malloc");
	}
	b->dgs = malloc(8192);
	b->dgr = malloc(8192);
	b->from = malloc(sizeof *b->from);
	b->fromlen = malloc(sizeof *b->fromlen);
	b->mm = malloc(2 * sizeof *b->mm);
	b->mmr = malloc(2 * sizeof *b->mmr);
	b->mmiov = malloc(4 * sizeof *b->mmiov);
	b->ws = malloc(sizeof *b->ws);
	b->ival = malloc(4 * sizeof *b->ival);
	b->ifc = malloc(sizeof *b->ifc);
	b->sysrd = malloc(64u << 10);
	b->sdents = malloc(16u << 10);
	b->fto = malloc(sizeof *b->fto);
	b->kout = mmap(NULL, 9 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b->kout == MAP_FAILED) {
		die("mmap");
	}
	b->kterm = (unsigned char *)b->kout;
	b->ws2 = (struct winsize *)(b->kout + 4096);
	b->ptn = (unsigned *)(b->kout + 2 * 4096);
	b->iout = (int *)(b->kout + 3 * 4096);
	b->ifbuf = b->kout + 4 * 4096;
	b->fut = (uint32_t *)(b->kout + 5 * 4096);
	b->sst = (struct stat *)(b->kout + 6 * 4096);
	b->mmbuf = b->kout + 7 * 4096;
	b->vb = malloc(16u << 10);
	b->vbw = malloc(8u << 10);
	if (!b->dgs || !b->dgr || !b->from || !b->fromlen || !b->mm || !b->mmr || !b->mmiov ||
	    !b->ws || !b->ival || !b->ifc || !b->sysrd || !b->sdents || !b->fto || !b->vb ||
	    !b->vbw) {
		die("malloc");
	}
	pthread_mutex_init(&b->ctr->m, NULL);
	b->ctr->n = 0;
	return b;
}

static const char *tag;
/* A stream opened at start and read again in every round: after fork its
 * buffer (libc's, allocated before the fork) is shared copy-on-write. */
static FILE *kept;
/* The same, reading through a heap buffer the program gave it (setvbuf). */
static FILE *kept_vb;
/* And one writing through a heap buffer (after fork, libc's stores into
 * it break the sharing; the kernel only reads it). */
static FILE *kept_out;

static void result(const char *op, long n, uint64_t sum)
{
	if (n < 0) {
		printf("%s %s: failed: %s\n", tag, op, strerror(errno));
	} else {
		printf("%s %s: %ld %016llx\n", tag, op, n, (unsigned long long)sum);
	}
}

static void *bump(void *arg)
{
	struct counter *c = arg;
	for (int i = 0; i < 20000; i++) {
		pthread_mutex_lock(&c->m);
		c->n++;
		pthread_mutex_unlock(&c->m);
	}
	return NULL;
}

/* Datagrams: one the kernel could not store would be lost. */
static void datagrams(struct bufs *b)
{
	int dv[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, dv) != 0) {
		die("socketpair");
	}
	for (unsigned i = 0; i < 8192; i++) {
		b->dgs[i] = (char)(i * 11 + 1);
	}
	ssize_t n = send(dv[0], b->dgs, 3000, 0);
	result("dgram_send", n, 0);
	n = recv(dv[1], b->dgr, 8192, 0);
	result("dgram_recv", n, n > 0 ? hash(b->dgr, (size_t)n) : 0);
	send(dv[0], b->dgs + 100, 2000, 0);
	*b->fromlen = sizeof *b->from;
	n = recvfrom(dv[1], b->dgr + 100, 4000, 0, (struct sockaddr *)b->from, b->fromlen);
	result("dgram_recvfrom", n, n > 0 ? hash(b->dgr + 100, (size_t)n) + *b->fromlen : 0);
	send(dv[0], b->dgs + 3000, 5000, 0);
	b->mmiov[0] = (struct iovec){ b->dgr + 4000, 1000 };
	b->mmiov[1] = (struct iovec){ b->dgr + 6000, 2000 };
	memset(b->mh, 0, sizeof *b->mh);
	b->mh->msg_iov = b->mmiov;
	b->mh->msg_iovlen = 2;
	n = recvmsg(dv[1], b->mh, 0);
	result("dgram_recvmsg", n,
	       n > 0 ? hash(b->dgr + 4000, 1000) ^ hash(b->dgr + 6000, 2000) ^ (uint64_t)b->mh->msg_flags : 0);

	/* sendmmsg, recvmmsg: two messages each. */
	memset(b->mm, 0, 2 * sizeof *b->mm);
	b->mmiov[0] = (struct iovec){ b->dgs, 1500 };
	b->mmiov[1] = (struct iovec){ b->dgs + 2000, 700 };
	b->mm[0].msg_hdr.msg_iov = &b->mmiov[0];
	b->mm[0].msg_hdr.msg_iovlen = 1;
	b->mm[1].msg_hdr.msg_iov = &b->mmiov[1];
	b->mm[1].msg_hdr.msg_iovlen = 1;
	n = sendmmsg(dv[0], b->mm, 2, 0);
	result("sendmmsg", n, n > 0 ? (uint64_t)b->mm[0].msg_len * 65536 + b->mm[1].msg_len : 0);
	memset(b->mmr, 0, 2 * sizeof *b->mmr);
	b->mmiov[2] = (struct iovec){ b->mmbuf + 100, 2000 };
	b->mmiov[3] = (struct iovec){ b->mmbuf + 5000, 3000 };
	b->mmr[0].msg_hdr.msg_iov = &b->mmiov[2];
	b->mmr[0].msg_hdr.msg_iovlen = 1;
	b->mmr[1].msg_hdr.msg_iov = &b->mmiov[3];
	b->mmr[1].msg_hdr.msg_iovlen = 1;
	n = recvmmsg(dv[1], b->mmr, 2, 0, NULL);
	result("recvmmsg", n,
	       n == 2 ? ((uint64_t)b->mmr[0].msg_len * 65536 + b->mmr[1].msg_len) ^
				hash(b->mmbuf + 100, b->mmr[0].msg_len) ^
				hash(b->mmbuf + 5000, b->mmr[1].msg_len)
		      : 0);
	/* FIONREAD: the next datagram's size; FIONBIO reads an int. */
	send(dv[0], b->dgs, 1234, 0);
	n = ioctl(dv[1], FIONREAD, &b->iout[0]);
	result("ioctl_fionread", n, n == 0 ? (uint64_t)b->iout[0] : 0);
	b->ival[1] = 1;
	n = ioctl(dv[1], FIONBIO, &b->ival[1]);
	result("ioctl_fionbio", n, 0);
	n = recv(dv[1], b->dgr, 8192, 0);
	n = recv(dv[1], b->dgr, 8192, 0);
	result("dgram_nonblocking", n, 0);
	/* Raw recvfrom. */
	send(dv[0], b->dgs + 50, 777, 0);
	n = syscall(SYS_recvfrom, dv[1], b->sysrd + 1000, 4000, 0, NULL, NULL);
	result("syscall_recvfrom", n, n > 0 ? hash(b->sysrd + 1000, (size_t)n) : 0);
	close(dv[0]);
	close(dv[1]);
}

/* ioctl with heap arguments: a pseudo-terminal, and sockets. */
static void ioctls(struct bufs *b)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	char name[128];
	int s = -1;
	if (m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0 && ptsname_r(m, name, sizeof name) == 0) {
		s = open(name, O_RDWR | O_NOCTTY);
	}
	if (s < 0) {
		result("ioctl_pty", -1, 0);
	} else {
		int n = ioctl(s, TCGETS, b->kterm);
		result("ioctl_tcgets", n, n == 0 ? hash(b->kterm, 36) : 0);
		n = ioctl(s, TCSETS, b->kterm);
		result("ioctl_tcsets", n, 0);
		*b->ws = (struct winsize){ .ws_row = 33, .ws_col = 101 };
		n = ioctl(m, TIOCSWINSZ, b->ws);
		result("ioctl_tiocswinsz", n, 0);
		n = ioctl(s, TIOCGWINSZ, b->ws2);
		result("ioctl_tiocgwinsz", n, n == 0 ? (uint64_t)b->ws2->ws_row * 1000 + b->ws2->ws_col : 0);
		n = ioctl(m, TIOCGPTN, b->ptn); /* encoded: _IOR('T', 0x30, unsigned int) */
		result("ioctl_tiocgptn", n, 0);
		n = ioctl(s, TIOCGSOFTCAR, &b->iout[1]); /* not in the shim's table */
		result("ioctl_tiocgsoftcar", n, n == 0 ? (uint64_t)b->iout[1] : 0);
		n = (int)syscall(SYS_ioctl, s, TIOCGWINSZ, b->ws2);
		result("syscall_ioctl", n, n == 0 ? (uint64_t)b->ws2->ws_row * 1000 + b->ws2->ws_col : 0);
	}
	if (s >= 0) {
		close(s);
	}
	if (m >= 0) {
		close(m);
	}
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	if (u < 0) {
		result("ioctl_socket", -1, 0);
		return;
	}
	b->ifc->ifc_len = 4096;
	b->ifc->ifc_buf = b->ifbuf;
	int n = ioctl(u, SIOCGIFCONF, b->ifc);
	result("ioctl_siocgifconf", n, n == 0 ? (uint64_t)b->ifc->ifc_len : 0);
	close(u);
}

/* Raw syscall(2) with heap buffers. */
static void raw_syscalls(struct bufs *b)
{
	int fd = open(data_path, O_RDONLY);
	if (fd < 0) {
		die("open");
	}
	long n = syscall(SYS_read, fd, b->sysrd, 64u << 10);
	result("syscall_read", n, n > 0 ? hash(b->sysrd, (size_t)n) : 0);
	n = syscall(SYS_pread64, fd, b->sysrd + 32768, 30000, 99999);
	result("syscall_pread64", n, n > 0 ? hash(b->sysrd + 32768, (size_t)n) : 0);
	n = syscall(SYS_fstat, fd, b->sst);
	result("syscall_fstat", n, n == 0 ? (uint64_t)b->sst->st_size : 0);
	close(fd);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	long entries = 0;
	uint64_t dsum = 0;
	for (;;) {
		n = syscall(SYS_getdents64, dfd, b->sdents, 16u << 10);
		if (n <= 0) {
			break;
		}
		for (long off = 0; off < n;) {
			struct dirent64 *x = (struct dirent64 *)(b->sdents + off);
			entries++;
			dsum += hash(x->d_name, strlen(x->d_name));
			off += x->d_reclen;
		}
	}
	result("syscall_getdents64", n < 0 ? n : entries, dsum);
	close(dfd);
	/* The word is 0 (calloc, never written): waiting for 1 fails at once,
	 * waiting for 0 times out; nobody waits to be woken. */
	n = syscall(SYS_futex, b->fut, FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0);
	result("syscall_futex_wait_other", n, 0);
	*b->fto = (struct timespec){ 0, 1000000 };
	n = syscall(SYS_futex, b->fut + 4, FUTEX_WAIT, 0, b->fto, NULL, 0);
	result("syscall_futex_wait_timeout", n, 0);
	n = syscall(SYS_futex, b->fut + 8, FUTEX_WAKE, 1, NULL, NULL, 0);
	result("syscall_futex_wake", n, 0);
}

/* Streams whose buffer is the program's. */
static void stream_buffers(struct bufs *b)
{
	FILE *f = fopen(text_path, "r");
	if (f == NULL) {
		die("fopen");
	}
	long lines = 0;
	uint64_t lsum = 0;
	if (setvbuf(f, b->vb, _IOFBF, 16u << 10) != 0) {
		die("setvbuf");
	}
	while (fgets(b->line, 4096, f) != NULL) {
		lines++;
		lsum += hash(b->line, strlen(b->line));
	}
	result(ferror(f) ? "setvbuf_fgets_error" : "setvbuf_fgets", lines, lsum);
	fclose(f);
	f = fopen(out_path, "w");
	if (f == NULL) {
		die("fopen");
	}
	setbuffer(f, b->vbw, 8u << 10);
	for (unsigned i = 0; i < 3000; i++) {
		fprintf(f, "output line %u\n", i);
	}
	int e = ferror(f);
	result(fclose(f) != 0 || e ? "setbuffer_write_error" : "setbuffer_write", 3000, 0);
	struct stat st;
	result("setbuffer_size", stat(out_path, &st) == 0 ? (long)st.st_size : -1, 0);
	rewind(kept_vb);
	lines = 0;
	lsum = 0;
	while (fgets(b->line, 4096, kept_vb) != NULL) {
		lines++;
		lsum += hash(b->line, strlen(b->line));
	}
	result(ferror(kept_vb) ? "setvbuf_kept_error" : "setvbuf_kept", lines, lsum);
	clearerr(kept_vb);
	for (unsigned i = 0; i < 700; i++) {
		fprintf(kept_out, "kept output line %u\n", i);
	}
	int bad = fflush(kept_out) != 0 || ferror(kept_out);
	result(bad ? "setvbuf_kept_out_error" : "setvbuf_kept_out", ftell(kept_out), 0);
}

static void round_(const char *name, struct bufs *b)
{
	tag = name;
	int fd = open(data_path, O_RDONLY);
	if (fd < 0) {
		die("open");
	}
	ssize_t n = read(fd, b->rd, 1u << 20);
	result("read", n, n > 0 ? hash(b->rd, (size_t)n) : 0);
	n = pread(fd, b->rd2, 256u << 10, 12345);
	result("pread", n, n > 0 ? hash(b->rd2, (size_t)n) : 0);
	b->iov[0] = (struct iovec){ b->v1, 64u << 10 };
	b->iov[1] = (struct iovec){ b->v2, 96u << 10 };
	n = readv(fd, b->iov, 2);
	result("readv", n, n > 0 ? hash(b->v1, 64u << 10) ^ hash(b->v2, 96u << 10) : 0);
	n = preadv(fd, b->iov, 2, 777777);
	result("preadv", n, n > 0 ? hash(b->v1, 64u << 10) ^ hash(b->v2, 96u << 10) : 0);
	n = pread(fd, b->map, 256u << 10, 4096);
	result("pread_mmap", n, n > 0 ? hash(b->map, (size_t)n) : 0);
	n = fstat(fd, b->st);
	result("fstat", n, n == 0 ? (uint64_t)b->st->st_size : 0);
	close(fd);

	/* A fresh calloc buffer through a pipe, back into the heap. */
	int p[2];
	if (pipe(p) != 0) {
		die("pipe");
	}
	n = write(p[1], b->wr, 48u << 10);
	result("write_calloc", n, 0);
	size_t got = 0;
	while (n > 0 && got < 48u << 10) {
		ssize_t r = read(p[0], b->back + got, (48u << 10) - got);
		if (r <= 0) {
			n = r;
			break;
		}
		got += (size_t)r;
	}
	result("pipe_read", n < 0 ? n : (long)got, hash(b->back, got));
	close(p[0]);
	close(p[1]);

	/* stdio: a large fread goes straight into the program's buffer; fgets
	 * through stdio's own. */
	FILE *f = fopen(data_path, "r");
	if (f == NULL) {
		die("fopen");
	}
	size_t fn = fread(b->fr, 1, 2u << 20, f);
	result(ferror(f) ? "fread_error" : "fread", (long)fn, hash(b->fr, fn));
	fclose(f);
	f = fopen(text_path, "r");
	if (f == NULL) {
		die("fopen");
	}
	long lines = 0;
	uint64_t lsum = 0;
	while (fgets(b->line, 4096, f) != NULL) {
		lines++;
		lsum += hash(b->line, strlen(b->line));
	}
	result(ferror(f) ? "fgets_error" : "fgets", lines, lsum);
	fclose(f);
	rewind(kept);
	lines = 0;
	lsum = 0;
	while (fgets(b->line, 4096, kept) != NULL) {
		lines++;
		lsum += hash(b->line, strlen(b->line));
	}
	result(ferror(kept) ? "fgets_kept_error" : "fgets_kept", lines, lsum);
	clearerr(kept);

	/* A stream socket pair. */
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
		die("socketpair");
	}
	for (unsigned i = 0; i < 32u << 10; i++) {
		b->sbuf[i] = (char)(i * 7 + 3);
	}
	n = send(sv[0], b->sbuf, 32u << 10, 0);
	result("send", n, 0);
	n = recv(sv[1], b->rbuf, 32u << 10, MSG_WAITALL);
	result("recv", n, n > 0 ? hash(b->rbuf, (size_t)n) : 0);
	b->miov[0] = (struct iovec){ b->sbuf, 1000 };
	b->miov[1] = (struct iovec){ b->sbuf + 5000, 3000 };
	memset(b->mh, 0, sizeof *b->mh);
	b->mh->msg_iov = b->miov;
	b->mh->msg_iovlen = 2;
	n = sendmsg(sv[1], b->mh, 0);
	result("sendmsg", n, 0);
	b->miov[0] = (struct iovec){ b->rbuf + 10000, 4000 };
	b->miov[1] = (struct iovec){ b->rbuf, 0 };
	n = recvmsg(sv[0], b->mh, MSG_WAITALL);
	result("recvmsg", n, n > 0 ? hash(b->rbuf + 10000, (size_t)n) : 0);

	/* poll and epoll_wait on heap arrays. */
	send(sv[0], "x", 1, 0);
	b->pfd[0] = (struct pollfd){ .fd = sv[1], .events = POLLIN };
	b->pfd[1] = (struct pollfd){ .fd = sv[0], .events = POLLOUT };
	n = poll(b->pfd, 2, 1000);
	result("poll", n, (uint64_t)(b->pfd[0].revents & POLLIN) * 2 + (b->pfd[1].revents & POLLOUT ? 1 : 0));
	int ep = epoll_create1(0);
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = 42 };
	epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &e);
	n = epoll_wait(ep, b->ev, 4, 1000);
	result("epoll_wait", n, n > 0 ? b->ev[0].data.u64 : 0);
	close(ep);
	close(sv[0]);
	close(sv[1]);

	/* Directories: readdir (libc's buffer) and getdents64 (the heap). */
	DIR *d = opendir(dir);
	if (d == NULL) {
		die("opendir");
	}
	long entries = 0;
	uint64_t dsum = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		entries++;
		dsum += hash(de->d_name, strlen(de->d_name));
	}
	result("readdir", entries, dsum);
	closedir(d);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	entries = 0;
	dsum = 0;
	for (;;) {
		n = getdents64(dfd, b->dents, 32u << 10);
		if (n <= 0) {
			break;
		}
		for (ssize_t off = 0; off < n;) {
			struct dirent64 *x = (struct dirent64 *)(b->dents + off);
			entries++;
			dsum += hash(x->d_name, strlen(x->d_name));
			off += x->d_reclen;
		}
	}
	result("getdents64", n < 0 ? n : entries, dsum);
	close(dfd);

	/* A mutex in the heap, contended by four threads. */
	pthread_t t[4];
	long before = b->ctr->n;
	for (int i = 0; i < 4; i++) {
		pthread_create(&t[i], NULL, bump, b->ctr);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
	}
	result("mutex", b->ctr->n - before, 0);

	datagrams(b);
	ioctls(b);
	raw_syscalls(b);
	stream_buffers(b);
	fflush(stdout);
}

/* Writes every page of a large block: under a limit, what came before is
 * deactivated or swapped out. */
static void pressure(void)
{
	char *p = malloc(PRESSURE);
	if (p == NULL) {
		die("malloc");
	}
	for (size_t i = 0; i < PRESSURE; i += 4096) {
		p[i] = (char)i;
	}
	free(p);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	setup();
	kept = fopen(text_path, "r");
	kept_vb = fopen(text_path, "r");
	if (kept == NULL || kept_vb == NULL) {
		die("fopen");
	}
	/* Its own pages, which only the kernel writes. */
	char *kept_buf = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (kept_buf == MAP_FAILED || setvbuf(kept_vb, kept_buf, _IOFBF, 8192) != 0) {
		die("setvbuf");
	}
	kept_out = fopen(out2_path, "w");
	char *out_buf = malloc(16u << 10);
	if (kept_out == NULL || out_buf == NULL || setvbuf(kept_out, out_buf, _IOFBF, 16u << 10) != 0) {
		die("setvbuf");
	}
	struct bufs *first = bufs_new();
	round_("fresh", first);
	pressure();
	round_("reused", first);
	round_("fresh2", bufs_new());
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		die("fork");
	}
	if (pid == 0) {
		round_("child", first);
		pressure();
		round_("child-reused", first);
		round_("child-fresh", bufs_new());
		fflush(stdout);
		exit(0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	printf("child exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	round_("parent", first);
	pressure();
	round_("parent-reused", first);
	cleanup();
	return 0;
}
