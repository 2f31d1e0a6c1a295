/*
 * tests/vm/vm_kaccess_retry.c - the one retry of a wrapped call after
 * EFAULT (shim/kernel_io.c), made to happen on purpose.
 *
 * The main thread blocks in read() on an empty pipe (then in recv() on an
 * empty stream socket) into a heap buffer it has written, so the wrapper
 * finds the buffer present.  A helper thread waits until the main thread
 * sleeps in the kernel, interrupts it with a signal whose handler
 * (SA_RESTART) discards the buffer with madvise(MADV_DONTNEED), and then
 * writes the data.  Natively the kernel fills the fresh zero page and the
 * call returns the data.  Under the shim the page is no longer present
 * when the restarted call copies into it: the kernel answers EFAULT
 * without taking the data, the wrapper sees the buffer is the program's to
 * write, makes it present and calls again, and the program sees what it
 * sees natively.  vm_kaccess.test compares the output with the native run
 * and checks that the statistics counted the retries.
 *
 * With the argument "dgram": the same on a datagram socket pair, the
 * helper sending datagram A (64 KiB) and then B (100 bytes).  Natively the
 * receive gets A, and a second, non-blocking receive gets B.  Under the
 * shim the kernel drops A when it cannot store it, so the call must not be
 * made again (it would take B in A's place): the program sees EFAULT,
 * reported on stderr, and then B; vm_kaccess.test checks exactly that.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LEN (64u << 10)

static char *buf;
static pid_t main_tid;
static volatile sig_atomic_t discarded;

static void on_usr1(int sig)
{
	(void)sig;
	discarded = madvise(buf, LEN, MADV_DONTNEED) == 0 ? 1 : -1;
}

/* Whether thread tid sleeps (state S) in the kernel. */
static int sleeping(pid_t tid)
{
	char path[64], line[512];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return 0;
	}
	int s = 0;
	if (fgets(line, sizeof line, f) != NULL) {
		char *p = strrchr(line, ')');
		s = p != NULL && p[1] == ' ' && p[2] == 'S';
	}
	fclose(f);
	return s;
}

static int wfd;
static int dgram;

static void *helper(void *arg)
{
	pthread_t main_thread = *(pthread_t *)arg;
	while (!sleeping(main_tid)) {
		usleep(1000);
	}
	pthread_kill(main_thread, SIGUSR1);
	while (discarded == 0) {
		usleep(1000);
	}
	char data[LEN];
	for (unsigned i = 0; i < LEN; i++) {
		data[i] = (char)(i * 13 + 5);
	}
	if (dgram) {
		send(wfd, data, LEN, 0);
		send(wfd, data + 1000, 100, 0);
		return NULL;
	}
	size_t done = 0;
	while (done < LEN) {
		ssize_t n = write(wfd, data + done, LEN - done);
		if (n <= 0) {
			break;
		}
		done += (size_t)n;
	}
	return NULL;
}

static unsigned sum(const char *p, size_t n)
{
	unsigned s = 0;
	for (size_t i = 0; i < n; i++) {
		s = s * 31 + (unsigned char)p[i];
	}
	return s;
}

/* One blocking receive into buf through fds[0], the helper writing fds[1]. */
static void once(const char *what, int fds[2], int use_recv)
{
	memset(buf, 0x77, LEN); /* present and written: the wrapper has nothing to do */
	discarded = 0;
	wfd = fds[1];
	pthread_t self = pthread_self(), t;
	main_tid = (pid_t)syscall(SYS_gettid);
	pthread_create(&t, NULL, helper, &self);
	size_t got = 0;
	ssize_t n = 0;
	while (got < LEN) {
		n = use_recv ? recv(fds[0], buf + got, LEN - got, 0) : read(fds[0], buf + got, LEN - got);
		if (use_recv == 2 && n > 0) {
			got += (size_t)n;
			break; /* one datagram */
		}
		if (n <= 0) {
			break;
		}
		got += (size_t)n;
	}
	pthread_join(t, NULL);
	if (n < 0) {
		printf("%s: failed: %s\n", what, strerror(errno));
	} else {
		printf("%s: %zu bytes, sum %08x, discarded %d\n", what, got, sum(buf, got), (int)discarded);
	}
}

int main(int argc, char **argv)
{
	dgram = argc > 1 && strcmp(argv[1], "dgram") == 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	buf = malloc(LEN + 4096);
	/* Page-aligned inside the block, so the madvise covers whole pages. */
	buf = (char *)(((uintptr_t)buf + 4095) & ~(uintptr_t)4095);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	if (dgram) {
		int dv[2];
		if (socketpair(AF_UNIX, SOCK_DGRAM, 0, dv) != 0) {
			return 99;
		}
		/* Room for both datagrams in the socket's queue. */
		int sz = 4 * LEN;
		setsockopt(dv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
		setsockopt(dv[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
		once("datagram recv", dv, 2);
		ssize_t n = recv(dv[0], buf, LEN, MSG_DONTWAIT);
		if (n < 0) {
			printf("datagram next: failed: %s\n", strerror(errno));
		} else {
			printf("datagram next: %zd bytes, sum %08x\n", n, sum(buf, (size_t)n));
		}
		return 0;
	}
	int p[2];
	if (pipe(p) != 0) {
		return 99;
	}
	once("pipe read", p, 0);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
		return 99;
	}
	once("stream recv", sv, 1);
	return 0;
}
