/*
 * tests/reliab/reliab_procs.c - processes sharing one swap file evict at
 * the same time; no page may come back with another process's bytes.
 *
 * Usage: reliab_procs PROCS SECONDS
 *
 * The parent sends one page to swap (MADV_PAGEOUT), so that the swap file
 * and its shared slot counts exist, then forks PROCS children.  Each maps
 * 8 MiB of its own, fills every page with a word naming (process, page,
 * version), and for SECONDS rewrites random pages, checking each page's
 * first and last words before rewriting it.  Under a 1 MiB limit nearly
 * every access is a swap-in and every rewrite an eviction, from all the
 * processes at once, into slots of the one file (vm/swap.c allocates them
 * with shared atomics).  Natively it checks only itself.
 *
 * Output: one line per process, "BAD" lines for wrong pages naming whose
 * bytes they hold; exit 1 if any process saw one.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define P 4096UL
#define LEN (8UL << 20)

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint32_t word(int proc, size_t page, uint32_t ver)
{
	return (uint32_t)proc << 24 | (uint32_t)page << 4 | (ver & 15);
}

static void set_page(uint32_t *m, size_t page, uint32_t w)
{
	for (size_t k = 0; k < P / 4; k++) {
		m[page * P / 4 + k] = w;
	}
}

static int child(int proc, double secs)
{
	size_t n = LEN / P;
	uint32_t *m = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t *ver = calloc(n, sizeof *ver);
	if (m == MAP_FAILED || ver == NULL) {
		perror("reliab_procs");
		return 2;
	}
	for (size_t i = 0; i < n; i++) {
		ver[i] = 1;
		set_page(m, i, word(proc, i, 1));
	}
	uint64_t r = 88172645463325252ULL ^ (uint64_t)(proc + 1) * 7919;
	size_t bad = 0, ops = 0;
	double end = now() + secs;
	while (now() < end) {
		for (int j = 0; j < 256; j++, ops++) {
			r ^= r << 13;
			r ^= r >> 7;
			r ^= r << 17;
			size_t i = r % n;
			uint32_t want = word(proc, i, ver[i]);
			uint32_t a = m[i * P / 4], b = m[i * P / 4 + P / 4 - 1];
			if ((a != want || b != want) && bad++ < 5) {
				printf("BAD: process %d page %zu holds %08x (process %u page %u), "
				       "expected %08x\n",
				       proc, i, a, a >> 24, (a >> 4) & 0xfffff, want);
			}
			ver[i]++;
			set_page(m, i, word(proc, i, ver[i]));
		}
	}
	printf("process %d: %zu pages rewritten, %zu wrong\n", proc, ops, bad);
	return bad != 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int procs = argc > 1 ? atoi(argv[1]) : 4;
	double secs = argc > 2 ? atof(argv[2]) : 3;
	if (procs < 1 || procs > 64 || secs <= 0) {
		fprintf(stderr, "usage: reliab_procs PROCS SECONDS\n");
		return 2;
	}
	unsigned char *seed = mmap(NULL, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				   -1, 0);
	seed[0] = 1;
	madvise(seed, P, MADV_PAGEOUT);
	for (int k = 0; k < procs; k++) {
		pid_t c = fork();
		if (c < 0) {
			perror("fork");
			return 2;
		}
		if (c == 0) {
			_exit(child(k, secs));
		}
	}
	int failed = 0, st;
	while (wait(&st) > 0) {
		failed += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	printf("%d of %d processes saw wrong pages or failed\n", failed, procs);
	return failed != 0;
}
