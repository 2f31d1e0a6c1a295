/*
 * tests/reliab/reliab_reap.c - processes sharing a swap file end (killed
 * at random moments, or with exit(3)) while the others keep swapping: the
 * references they leave are reaped, and no living process may lose a page.
 *
 * Usage: reliab_reap WORKERS SECONDS
 *
 * The parent fills a region of 4 MiB (under a 1 MiB limit: mostly in
 * swap), then forks WORKERS long-lived children that inherit it.  For
 * SECONDS, every process checks random pages of the inherited region
 * against its pattern and rewrites and checks random pages of 2 MiB of
 * its own (one word per page naming process, page and version), so that
 * pages go to swap and come back all the time, in every process.
 * Meanwhile the parent keeps forking short-lived victims that inherit the
 * region too, churn their own memory the same way, fork grandchildren
 * that end at once, and are killed with SIGKILL after a random delay of
 * up to 20 ms (in the middle of a swap-in, an eviction, a reap, a fork's
 * prepare handler...) or end with exit(3) (not _exit: the shim's _exit
 * hook does not run).  Each of their ends leaves references that the
 * others must reap, and only those.
 *
 * Output: one line per worker and one for the parent, "BAD" lines for
 * wrong pages; exit 1 if any was seen.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../vm/shim_probe.h"

#define P 4096UL
#define SHARED_LEN (4UL << 20)
#define OWN_LEN (2UL << 20)

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint32_t *shared_region;

static uint32_t shared_word(size_t page)
{
	return 0xA5000000u | (uint32_t)page;
}

static uint32_t own_word(int proc, size_t page, uint32_t ver)
{
	return (uint32_t)proc << 24 | (uint32_t)page << 8 | (ver & 255);
}

static void set_page(uint32_t *m, size_t page, uint32_t w)
{
	for (size_t k = 0; k < P / 4; k++) {
		m[page * P / 4 + k] = w;
	}
}

/* 1 if the page's first, middle and last words are w. */
static int page_is(const uint32_t *m, size_t page, uint32_t w)
{
	const uint32_t *p = m + page * P / 4;
	return p[0] == w && p[P / 8] == w && p[P / 4 - 1] == w;
}

struct own {
	uint32_t *m;
	uint32_t *ver;
	int proc;
};

static void own_init(struct own *o, int proc)
{
	o->proc = proc;
	o->m = mmap(NULL, OWN_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	o->ver = calloc(OWN_LEN / P, sizeof *o->ver);
	if (o->m == MAP_FAILED || o->ver == NULL) {
		perror("reliab_reap");
		exit(2);
	}
	for (size_t i = 0; i < OWN_LEN / P; i++) {
		set_page(o->m, i, own_word(proc, i, 0));
	}
}

/* One step: a random inherited page checked, a random own page checked
 * and rewritten.  Returns the wrong pages seen (and says which). */
static unsigned step(struct own *o, unsigned *seed, const char *who)
{
	unsigned bad = 0;
	size_t s = (size_t)rand_r(seed) % (SHARED_LEN / P);
	if (!page_is(shared_region, s, shared_word(s))) {
		printf("BAD: %s %d: inherited page %zu holds %#x\n", who, o->proc, s,
		       shared_region[s * P / 4]);
		bad++;
	}
	size_t i = (size_t)rand_r(seed) % (OWN_LEN / P);
	if (!page_is(o->m, i, own_word(o->proc, i, o->ver[i]))) {
		printf("BAD: %s %d: own page %zu holds %#x, not %#x\n", who, o->proc, i,
		       o->m[i * P / 4], own_word(o->proc, i, o->ver[i]));
		bad++;
	}
	o->ver[i]++;
	set_page(o->m, i, own_word(o->proc, i, o->ver[i]));
	return bad;
}

static int worker(int proc, double secs)
{
	struct own o;
	own_init(&o, proc);
	unsigned seed = (unsigned)proc * 7919u, bad = 0;
	unsigned long steps = 0;
	for (double end = now() + secs; now() < end; steps++) {
		bad += step(&o, &seed, "worker");
	}
	for (size_t i = 0; i < OWN_LEN / P; i++) {
		bad += !page_is(o.m, i, own_word(proc, i, o.ver[i]));
	}
	for (size_t s = 0; s < SHARED_LEN / P; s++) {
		bad += !page_is(shared_region, s, shared_word(s));
	}
	printf("worker %d: %lu steps, %u wrong pages\n", proc, steps, bad);
	return bad ? 1 : 0;
}

static void victim(int proc)
{
	struct own o;
	own_init(&o, proc);
	unsigned seed = (unsigned)proc * 104729u;
	unsigned limit = (unsigned)rand_r(&seed) % 400;
	for (unsigned k = 0; k < limit; k++) {
		if (step(&o, &seed, "victim") != 0) {
			exit(1);
		}
		if (k % 100 == 0) {
			fflush(stdout);
			pid_t g = fork();
			if (g == 0) {
				exit(0);
			}
			if (g > 0) {
				waitpid(g, NULL, 0);
			}
		}
	}
	exit(0);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: reliab_reap WORKERS SECONDS\n");
		return 2;
	}
	int workers = atoi(argv[1]);
	double secs = atof(argv[2]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	shared_region = mmap(NULL, SHARED_LEN, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (shared_region == MAP_FAILED) {
		perror("reliab_reap");
		return 2;
	}
	for (size_t s = 0; s < SHARED_LEN / P; s++) {
		set_page(shared_region, s, shared_word(s));
	}
	pid_t *pids = calloc((size_t)workers, sizeof *pids);
	for (int k = 0; k < workers; k++) {
		pids[k] = fork();
		if (pids[k] < 0) {
			perror("fork");
			return 2;
		}
		if (pids[k] == 0) {
			exit(worker(k + 1, secs));
		}
	}
	struct own o;
	own_init(&o, 0);
	unsigned seed = 12345, bad = 0;
	unsigned long victims = 0, killed = 0, failed = 0;
	for (double end = now() + secs; now() < end;) {
		int proc = 100 + (int)(victims % 100);
		pid_t v = fork();
		if (v < 0) {
			perror("fork");
			return 2;
		}
		if (v == 0) {
			victim(proc);
		}
		victims++;
		/* Work, then kill it unless it ended by itself. */
		unsigned steps = (unsigned)rand_r(&seed) % 20;
		for (unsigned k = 0; k < steps; k++) {
			bad += step(&o, &seed, "parent");
		}
		int st = 0;
		if (rand_r(&seed) % 2 == 0) {
			struct timespec d = { 0, (long)(rand_r(&seed) % 20) * 1000000L };
			nanosleep(&d, NULL);
			killed += kill(v, SIGKILL) == 0;
		}
		while (waitpid(v, &st, 0) < 0 && errno == EINTR) {
		}
		if (WIFEXITED(st) && WEXITSTATUS(st) != 0) {
			printf("BAD: victim %d exited with %d\n", proc, WEXITSTATUS(st));
			failed++;
		}
	}
	int workers_bad = 0;
	for (int k = 0; k < workers; k++) {
		int st = 0;
		waitpid(pids[k], &st, 0);
		workers_bad += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	for (size_t i = 0; i < OWN_LEN / P; i++) {
		bad += !page_is(o.m, i, own_word(0, i, o.ver[i]));
	}
	for (size_t s = 0; s < SHARED_LEN / P; s++) {
		bad += !page_is(shared_region, s, shared_word(s));
	}
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	long long size = probe_swap_file_size(dir);
	printf("parent: %lu victims (%lu killed), %u wrong pages, swap file %lld KiB\n", victims,
	       killed, bad, size >= 0 ? size >> 10 : -1);
	return bad || failed || workers_bad ? 1 : 0;
}
