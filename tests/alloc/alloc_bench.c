/*
 * tests/alloc/alloc_bench.c - allocator workloads for side-by-side timing
 * (native glibc, jemalloc preloaded, the shim preloaded); run by
 * alloc_bench.sh, never by make check (timings are not pass/fail).
 *
 *   simple    one thread, malloc+free pairs and batches of 16..512 bytes
 *             (the shape of glibc's bench-malloc-simple)
 *   larson    threads replace random blocks of 16..1000 bytes in their own
 *             table and exit; the next generation of threads takes the
 *             tables over and frees blocks of threads that are gone
 *   xmalloc   producer threads allocate, consumer threads free (every free
 *             is remote)
 *   scratch   each thread frees a block the main thread allocated, then
 *             allocates and writes small blocks in a loop (false sharing)
 *   mstress   threads allocate random sizes up to 16 KiB (a few up to
 *             1 MiB), keep a window, free out of order
 *   large     one thread: blocks of 256 KiB to 8 MiB, touched, grown with
 *             realloc, freed
 *
 * Usage: alloc_bench NAME [threads]; prints "NAME seconds maxrss_kib".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static int nthreads = 2;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void run_threads(void *(*fn)(void *), int n)
{
	pthread_t t[64];
	for (int i = 0; i < n; i++) {
		pthread_create(&t[i], NULL, fn, (void *)(intptr_t)i);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
	}
}

static void *volatile sink;

/* ---- simple ---- */
static void bench_simple(void)
{
	uint64_t s = 42;
	size_t sizes[1024];
	for (int i = 0; i < 1024; i++) {
		sizes[i] = 16 + rnd(&s) % 497;
	}
	for (int i = 0; i < 20000000; i++) {
		void *p = malloc(sizes[i & 1023]);
		sink = p;
		free(p);
	}
	static void *batch[1000];
	for (int r = 0; r < 12000; r++) {
		for (int i = 0; i < 1000; i++) {
			batch[i] = malloc(sizes[(i + r) & 1023]);
		}
		for (int i = 0; i < 1000; i++) {
			free(batch[i]);
		}
	}
}

/* ---- larson: threads churn their table, then exit; the next
 * generation of threads takes the tables over and frees the blocks of
 * threads that are gone (as larson does) ---- */
#define LSLOTS 2000
static void *lslots[64][LSLOTS];

static void *larson_thread(void *arg)
{
	int me = (int)(intptr_t)arg;
	uint64_t s = 1234567 + (uint64_t)me * 7919 + (uint64_t)(uintptr_t)&s;
	void **t = lslots[me];
	for (int i = 0; i < 200000; i++) {
		int k = (int)(rnd(&s) % LSLOTS);
		free(t[k]);
		t[k] = malloc(16 + rnd(&s) % 985);
		*(char *)t[k] = 1;
	}
	return NULL;
}

static void bench_larson(void)
{
	for (int gen = 0; gen < 20; gen++) {
		run_threads(larson_thread, nthreads);
	}
	for (int i = 0; i < nthreads; i++) {
		for (int k = 0; k < LSLOTS; k++) {
			free(lslots[i][k]);
		}
	}
}

/* ---- xmalloc: producers and consumers through a locked batch queue ---- */
#define XBATCH 256
struct xbatch {
	struct xbatch *next;
	void *p[XBATCH];
};
static struct xbatch *xq;
static pthread_mutex_t xlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t xcond = PTHREAD_COND_INITIALIZER;
static int xproducers_left;

static void *xproducer(void *arg)
{
	uint64_t s = 99 + (uint64_t)(intptr_t)arg;
	for (int b = 0; b < 12000; b++) {
		struct xbatch *x = malloc(sizeof *x);
		for (int i = 0; i < XBATCH; i++) {
			x->p[i] = malloc(16 + rnd(&s) % 240);
			*(char *)x->p[i] = 1;
		}
		pthread_mutex_lock(&xlock);
		x->next = xq;
		xq = x;
		pthread_cond_signal(&xcond);
		pthread_mutex_unlock(&xlock);
	}
	pthread_mutex_lock(&xlock);
	xproducers_left--;
	pthread_cond_broadcast(&xcond);
	pthread_mutex_unlock(&xlock);
	return NULL;
}

static void *xconsumer(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&xlock);
		while (xq == NULL && xproducers_left > 0) {
			pthread_cond_wait(&xcond, &xlock);
		}
		struct xbatch *x = xq;
		if (x != NULL) {
			xq = x->next;
		}
		pthread_mutex_unlock(&xlock);
		if (x == NULL) {
			return NULL;
		}
		for (int i = 0; i < XBATCH; i++) {
			free(x->p[i]);
		}
		free(x);
	}
}

static void *xrole(void *arg)
{
	int me = (int)(intptr_t)arg;
	return me % 2 == 0 ? xproducer(arg) : xconsumer(arg);
}

static void bench_xmalloc(void)
{
	int n = nthreads < 2 ? 2 : nthreads;
	xproducers_left = (n + 1) / 2;
	run_threads(xrole, n);
}

/* ---- cache-scratch ---- */
static void *scratch_first[64];

static void *scratch_thread(void *arg)
{
	int me = (int)(intptr_t)arg;
	free(scratch_first[me]);
	for (int i = 0; i < 30000000; i++) {
		char *p = malloc(8);
		for (int k = 0; k < 8; k++) {
			p[k % 8] = (char)k;
		}
		sink = p;
		free(p);
	}
	return NULL;
}

static void bench_scratch(void)
{
	for (int i = 0; i < nthreads; i++) {
		scratch_first[i] = malloc(8);
	}
	run_threads(scratch_thread, nthreads);
}

/* ---- mstress ---- */
static void *mstress_thread(void *arg)
{
	uint64_t s = 5555 + (uint64_t)(intptr_t)arg * 31;
	enum { W = 4096 };
	static __thread void *win[W];
	for (int i = 0; i < 1500000; i++) {
		int k = (int)(rnd(&s) % W);
		free(win[k]);
		uint64_t r = rnd(&s);
		size_t n = r % 1000 == 0 ? (size_t)(r >> 20) % (1 << 20) : (size_t)(r >> 20) % ((r >> 8) % 4 == 0 ? 16384 : 512);
		win[k] = malloc(n + 1);
		((char *)win[k])[n] = 1;
	}
	for (int k = 0; k < W; k++) {
		free(win[k]);
		win[k] = NULL;
	}
	return NULL;
}

static void bench_mstress(void)
{
	run_threads(mstress_thread, nthreads);
}

/* ---- large ---- */
static void bench_large(void)
{
	uint64_t s = 777;
	void *keep[16] = { 0 };
	for (int i = 0; i < 6000; i++) {
		int k = (int)(rnd(&s) % 16);
		free(keep[k]);
		size_t n = (256u << 10) + rnd(&s) % (8u << 20);
		char *p = malloc(n);
		for (size_t off = 0; off < n; off += 4096) {
			p[off] = 1;
		}
		if (i % 4 == 0) {
			p = realloc(p, n * 2);
			p[n * 2 - 1] = 1;
		}
		keep[k] = p;
	}
	for (int k = 0; k < 16; k++) {
		free(keep[k]);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: alloc_bench simple|larson|xmalloc|scratch|mstress|large [threads]\n");
		return 2;
	}
	if (argc > 2) {
		nthreads = atoi(argv[2]);
		nthreads = nthreads < 1 ? 1 : nthreads > 64 ? 64 : nthreads;
	}
	struct {
		const char *name;
		void (*fn)(void);
	} b[] = { { "simple", bench_simple }, { "larson", bench_larson }, { "xmalloc", bench_xmalloc },
		  { "scratch", bench_scratch }, { "mstress", bench_mstress }, { "large", bench_large } };
	for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) {
		if (strcmp(argv[1], b[i].name) == 0) {
			double t0 = now();
			b[i].fn();
			double t = now() - t0;
			struct rusage ru;
			getrusage(RUSAGE_SELF, &ru);
			printf("%s %.3f %ld\n", b[i].name, t, ru.ru_maxrss);
			return 0;
		}
	}
	fprintf(stderr, "alloc_bench: unknown workload %s\n", argv[1]);
	return 2;
}
