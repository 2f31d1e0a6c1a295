/*
 * tests/vm/vm_fork.c - fork and copy-on-write behave as on Linux: run
 * natively and under the shim by vm_fork.test, which compares the outputs.
 *
 * Isolation in both directions, shared anonymous memory shared both ways,
 * MADV_DONTFORK and MADV_WIPEONFORK, 50 forks while three threads keep
 * writing, a 5-level fork chain, fork+exec, system(), popen(),
 * posix_spawn(), and forks while other threads hammer the allocator and
 * the mapping calls (no deadlock: children have an alarm).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define P 4096L
extern char **environ;

static char *anon(long pages, int flags)
{
	return mmap(NULL, pages * P, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);
}

static const char *how(int st)
{
	static char buf[32];
	if (WIFSIGNALED(st)) {
		snprintf(buf, sizeof buf, "killed:%d", WTERMSIG(st));
	} else {
		snprintf(buf, sizeof buf, "exit:%d", WEXITSTATUS(st));
	}
	return buf;
}

static long sum(const char *p, long pages)
{
	long s = 0;
	for (long i = 0; i < pages; i++) {
		s += p[i * P] + p[i * P + P - 1];
	}
	return s;
}

static void isolation(void)
{
	char *p = anon(256, MAP_PRIVATE), *s = anon(4, MAP_SHARED);
	memset(p, 1, 256 * P);
	int to_child[2], to_parent[2];
	pipe(to_child);
	pipe(to_parent);
	pid_t c = fork();
	if (c == 0) {
		char go;
		for (long i = 0; i < 256; i += 2) {
			p[i * P] = 5;
		}
		s[0] = 'c';
		write(to_parent[1], "x", 1);
		read(to_child[0], &go, 1);
		/* the parent has written after the fork: not visible here */
		_exit(sum(p, 256) == 128 * 5 + 128 * 1 + 256 ? 0 : 1);
	}
	char go;
	read(to_parent[0], &go, 1);
	for (long i = 1; i < 256; i += 2) {
		p[i * P] = 7;
	}
	s[1] = 'p';
	write(to_child[1], "x", 1);
	int st;
	waitpid(c, &st, 0);
	printf("isolation: child=%s parent_sum=%ld shared=%c%c\n", how(st), sum(p, 256), s[0], s[1]);
	munmap(p, 256 * P);
	munmap(s, 4 * P);
}

static sigjmp_buf jb;
static void segv(int sig) { (void)sig; siglongjmp(jb, 1); }

static void dontfork_wipeonfork(void)
{
	char *d = anon(2, MAP_PRIVATE), *w = anon(2, MAP_PRIVATE);
	memset(d, 3, 2 * P);
	memset(w, 4, 2 * P);
	madvise(d, 2 * P, MADV_DONTFORK);
	madvise(w, 2 * P, MADV_WIPEONFORK);
	pid_t c = fork();
	if (c == 0) {
		signal(SIGSEGV, segv);
		int absent = 0;
		if (sigsetjmp(jb, 1) == 0) {
			(void)*(volatile char *)d;
		} else {
			absent = 1;
		}
		_exit(absent * 10 + (w[5] == 0 && w[P + 5] == 0));
	}
	int st;
	waitpid(c, &st, 0);
	printf("dontfork_wipeonfork: child=%s parent=%d%d\n", how(st), d[0], w[0]);
	munmap(d, 2 * P);
	munmap(w, 2 * P);
}

static volatile int stop_writers;

static void *writer(void *arg)
{
	char *region = arg;
	unsigned long n = 0;
	while (!stop_writers) {
		region[(n % 64) * P] = (char)(n / 64);
		n++;
	}
	return NULL;
}

static void forks_while_threads_write(void)
{
	char *fixed = anon(64, MAP_PRIVATE);
	memset(fixed, 9, 64 * P);
	char *regions[3];
	pthread_t t[3];
	for (int i = 0; i < 3; i++) {
		regions[i] = anon(64, MAP_PRIVATE);
		pthread_create(&t[i], NULL, writer, regions[i]);
	}
	int bad = 0;
	for (int f = 0; f < 50; f++) {
		pid_t c = fork();
		if (c == 0) {
			alarm(20);
			long s = sum(fixed, 64);
			for (long i = 0; i < 64; i++) {
				fixed[i * P] = 1;
			}
			_exit(s == 64 * 18 && sum(fixed, 64) == 64 * 10 ? 0 : 1);
		}
		int st;
		waitpid(c, &st, 0);
		bad += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	stop_writers = 1;
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
	}
	printf("forks_while_threads_write: bad=%d parent_kept=%d\n", bad, sum(fixed, 64) == 64 * 18);
}

static void chain(void)
{
	char *p = anon(8, MAP_PRIVATE);
	memset(p, 0, 8 * P);
	int level = 0;
	for (; level < 5; level++) {
		p[level * P] = (char)(level + 1);
		pid_t c = fork();
		if (c != 0) {
			int st;
			waitpid(c, &st, 0);
			int ok = WIFEXITED(st) ? WEXITSTATUS(st) : 100;
			/* this level's own view is untouched by its descendants */
			for (int i = 0; i <= level; i++) {
				ok += p[i * P] != i + 1;
			}
			ok += p[(level + 1) * P] != 0;
			if (level == 0) {
				printf("chain: depth=5 result=%d\n", ok);
				return;
			}
			_exit(ok);
		}
	}
	/* the deepest child: sees every ancestor's write */
	int ok = 0;
	for (int i = 0; i < 5; i++) {
		ok += p[i * P] != i + 1;
	}
	p[7 * P] = 1;
	_exit(ok);
}

static void exec_family(void)
{
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		execl("/bin/echo", "echo", "fork+exec", (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(c, &st, 0);
	fflush(stdout);
	int rs = system("echo system");
	fflush(stdout);
	FILE *f = popen("echo popen", "r");
	char line[64] = { 0 };
	fgets(line, sizeof line, f);
	int pc = pclose(f);
	pid_t sp;
	char *argv[] = { "echo", "posix_spawn", NULL };
	int sr = posix_spawn(&sp, "/bin/echo", NULL, NULL, argv, environ);
	waitpid(sp, &st, 0);
	fflush(stdout);
	printf("exec: system=%d popen=%s pclose=%d spawn=%d\n", rs, strtok(line, "\n"), pc, sr);
}

/* python's multiprocessing with the fork start method, when python3 exists */
static void python_multiprocessing(void)
{
	if (access("/usr/bin/python3", X_OK) != 0) {
		printf("multiprocessing: skipped (no /usr/bin/python3)\n");
		return;
	}
	fflush(stdout);
	int r = system("/usr/bin/python3 -c 'import multiprocessing as mp\n"
		       "mp.set_start_method(\"fork\")\n"
		       "d = {i: str(i) * 3 for i in range(20000)}\n"
		       "with mp.Pool(2) as p: print(\"multiprocessing:\", "
		       "sum(p.map(len, [d[i] for i in range(0, 20000, 7)])))'");
	printf("multiprocessing: status=%d\n", r);
}

static volatile int stop_hammer;

static void *hammer(void *arg)
{
	long id = (long)arg;
	while (!stop_hammer) {
		void *m[16];
		for (int i = 0; i < 16; i++) {
			m[i] = malloc((size_t)(16 << (i % 12)));
			memset(m[i], (int)id, 16);
		}
		char *q = anon(8, MAP_PRIVATE);
		q[0] = 1;
		mprotect(q, P, PROT_READ);
		munmap(q, 8 * P);
		for (int i = 0; i < 16; i++) {
			free(m[i]);
		}
	}
	return NULL;
}

static void forks_while_locks_are_busy(void)
{
	pthread_t t[3];
	for (long i = 0; i < 3; i++) {
		pthread_create(&t[i], NULL, hammer, (void *)i);
	}
	int bad = 0;
	for (int f = 0; f < 50; f++) {
		pid_t c = fork();
		if (c == 0) {
			alarm(20); /* a deadlock in the child shows as SIGALRM */
			char *m = malloc(100000);
			memset(m, 1, 100000);
			char *q = anon(16, MAP_PRIVATE);
			q[5 * P] = 2;
			free(m);
			_exit(0);
		}
		int st;
		waitpid(c, &st, 0);
		bad += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	stop_hammer = 1;
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
	}
	printf("forks_while_locks_are_busy: bad=%d\n", bad);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	isolation();
	dontfork_wipeonfork();
	forks_while_threads_write();
	chain();
	exec_family();
	python_multiprocessing();
	forks_while_locks_are_busy();
	return 0;
}
