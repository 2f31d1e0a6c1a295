/*
 * tests/alloc/alloc_api.c - the malloc family's semantics as a program
 * sees them, printed one result per line so that a run under the shim can
 * be compared with a native (glibc) run: errno values, NULL results,
 * alignment, usable sizes, realloc contents, calloc zeroing, free(NULL),
 * errno preserved, cross-thread frees, fork while threads allocate, and
 * the abort on a double free.
 *
 * With --shim, checks only the shim can pass instead: malloc is
 * libvmshim's (dladdr), blocks live in the arena, the calls are counted,
 * and resident memory falls after a peak.  Exits non-zero on a failed
 * check; alloc_api.test runs both modes.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

#define CHECK(cond)                                                               \
	do {                                                                      \
		if (!(cond)) {                                                    \
			printf("FAIL line %d: %s\n", __LINE__, #cond);            \
			failures++;                                               \
		}                                                                 \
	} while (0)

/* Keeps the compiler from reasoning about malloc's results. */
static void *volatile sink;
static size_t opaque(size_t n)
{
	return *(volatile size_t *)&n;
}

static const char *err_name(int e)
{
	switch (e) {
	case 0: return "0";
	case ENOMEM: return "ENOMEM";
	case EINVAL: return "EINVAL";
	default: return "other";
	}
}

static void pattern(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		p[i] = (unsigned char)(seed + i * 131);
	}
}

static int pattern_ok(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != (unsigned char)(seed + i * 131)) {
			return 0;
		}
	}
	return 1;
}

static void impossible_sizes(void)
{
	size_t sizes[] = { SIZE_MAX, SIZE_MAX - 4096, (size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX,
			   (size_t)1 << 62 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		errno = 0;
		void *p = malloc(opaque(sizes[i]));
		printf("malloc(%#zx): %s errno %s\n", sizes[i], p ? "ptr" : "NULL", err_name(errno));
		free(p);
	}
	errno = 0;
	void *p = calloc(opaque(SIZE_MAX / 2), 3);
	printf("calloc overflow: %s errno %s\n", p ? "ptr" : "NULL", err_name(errno));
	errno = 0;
	p = calloc(opaque((size_t)1 << 32), (size_t)1 << 32);
	printf("calloc 2^64: %s errno %s\n", p ? "ptr" : "NULL", err_name(errno));
	errno = 0;
	p = reallocarray(NULL, opaque(SIZE_MAX / 4), 8);
	printf("reallocarray overflow: %s errno %s\n", p ? "ptr" : "NULL", err_name(errno));
	char *q = malloc(100);
	memset(q, 7, 100);
	errno = 0;
	p = realloc(q, opaque(SIZE_MAX));
	printf("realloc(p, SIZE_MAX): %s errno %s, p intact %d\n", p ? "ptr" : "NULL",
	       err_name(errno), q[99] == 7);
	errno = 0;
	p = reallocarray(q, opaque(SIZE_MAX / 2), 4);
	printf("reallocarray(p, overflow): %s errno %s, p intact %d\n", p ? "ptr" : "NULL",
	       err_name(errno), q[0] == 7);
	free(q);
}

static void zero_and_unique(void)
{
	void *a = malloc(opaque(0)), *b = malloc(opaque(0));
	printf("malloc(0): %s %s, distinct %d\n", a ? "ptr" : "NULL", b ? "ptr" : "NULL", a != b);
	free(a);
	free(b);
	a = calloc(opaque(0), 0);
	printf("calloc(0, 0): %s\n", a ? "ptr" : "NULL");
	free(a);
	a = realloc(NULL, opaque(0));
	printf("realloc(NULL, 0): %s\n", a ? "ptr" : "NULL");
	errno = 0;
	void *r = realloc(a, opaque(0));
	printf("realloc(p, 0): %s errno %s\n", r ? "ptr" : "NULL", err_name(errno));
	free(r);
	errno = 1234;
	free(NULL);
	printf("free(NULL) keeps errno: %d\n", errno == 1234);
	a = malloc(100);
	errno = 1234;
	free(a);
	printf("free keeps errno: %d\n", errno == 1234);
	errno = 1234;
	a = malloc(100);
	void *big = malloc(1 << 22);
	printf("successful malloc keeps errno: %d\n", errno == 1234);
	free(a);
	free(big);
	printf("malloc_usable_size(NULL): %zu\n", malloc_usable_size(NULL));
}

static void sizes_and_contents(void)
{
	int bad_usable = 0, bad_align = 0, bad_content = 0;
	/* Every size to 2 KiB, then a geometric walk to 64 MiB. */
	for (size_t n = 0; n < (24u << 20); n = n < 2048 ? n + 1 : n + n / 5) {
		unsigned char *p = malloc(n);
		if (p == NULL) {
			printf("malloc(%zu) failed\n", n);
			failures++;
			continue;
		}
		bad_usable += malloc_usable_size(p) < n;
		bad_align += ((uintptr_t)p & 15) != 0;
		pattern(p, n, (unsigned)n);
		sink = p;
		bad_content += !pattern_ok(p, n, (unsigned)n);
		free(p);
	}
	printf("malloc sizes: usable>=n failures %d, 16-alignment failures %d, content %d\n",
	       bad_usable, bad_align, bad_content);

	/* calloc is zero, also when it reuses memory freed dirty. */
	int nonzero = 0;
	for (int round = 0; round < 3; round++) {
		for (size_t n = 1; n < (4u << 20); n = n * 3 + 1) {
			unsigned char *p = calloc(1, n);
			for (size_t i = 0; i < n; i++) {
				nonzero += p[i] != 0;
			}
			memset(p, 0xA5, n);
			free(p);
			p = calloc(n, 1);
			for (size_t i = 0; i < n; i++) {
				nonzero += p[i] != 0;
			}
			memset(p, 0x5A, n);
			free(p);
		}
	}
	printf("calloc nonzero bytes: %d\n", nonzero);

	/* realloc keeps contents growing and shrinking through every kind. */
	size_t steps[] = { 1, 24, 100, 129, 1000, 4096, 8193, 70000, 131072, 131073, 262144,
			   1 << 20, 5 << 20, 64 << 20, 3 << 20, 200000, 150000, 5000, 10, 100000,
			   40 << 20, 1 };
	unsigned char *p = NULL;
	size_t have = 0;
	int lost = 0;
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		size_t n = steps[i];
		unsigned char *q = realloc(p, n);
		if (q == NULL) {
			printf("realloc to %zu failed\n", n);
			failures++;
			break;
		}
		size_t keep = have < n ? have : n;
		lost += !pattern_ok(q, keep, 77);
		pattern(q, n, 77);
		p = q;
		have = n;
	}
	free(p);
	printf("realloc contents lost: %d\n", lost);
}

static void alignment_rules(void)
{
	size_t aligns[] = { 0, 1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 100, 128, 4096, 4097, 65536,
			    1 << 20, 1 << 21, 1 << 26, 1 << 30 };
	size_t sizes[] = { 0, 1, 100, 5000, 200000 };
	for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
		size_t a = aligns[i];
		for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
			size_t n = sizes[j];
			void *p = (void *)0x1;
			errno = 0;
			int r = posix_memalign(&p, a, n);
			int ok = r == 0 && p != NULL && (uintptr_t)p % a == 0 && malloc_usable_size(p) >= n;
			printf("posix_memalign(%zu, %zu): %s %s errno %s\n", a, n, err_name(r),
			       r == 0 ? (ok ? "aligned" : "MISALIGNED") : (p == (void *)0x1 ? "untouched" : "CHANGED"),
			       err_name(errno));
			if (r == 0) {
				memset(p, 1, n);
				free(p);
			}
			errno = 0;
			p = memalign(a, n);
			size_t eff = 1;
			while (eff < a) {
				eff <<= 1;
			}
			printf("memalign(%zu, %zu): %s %s errno %s\n", a, n, p ? "ptr" : "NULL",
			       p == NULL ? "-" : (uintptr_t)p % eff == 0 ? "aligned" : "MISALIGNED",
			       err_name(errno));
			free(p);
			errno = 0;
			p = aligned_alloc(a, n);
			printf("aligned_alloc(%zu, %zu): %s %s errno %s\n", a, n, p ? "ptr" : "NULL",
			       p == NULL ? "-" : (uintptr_t)p % eff == 0 ? "aligned" : "MISALIGNED",
			       err_name(errno));
			free(p);
		}
	}
	errno = 0;
	void *p = memalign(SIZE_MAX / 2 + 2, 8);
	printf("memalign(huge alignment): %s errno %s\n", p ? "ptr" : "NULL", err_name(errno));
	errno = 0;
	p = memalign(64, opaque(SIZE_MAX - 10));
	printf("memalign(64, SIZE_MAX-10): %s errno %s\n", p ? "ptr" : "NULL", err_name(errno));
	errno = 0;
	int r = posix_memalign(&p, 64, opaque(SIZE_MAX - 10));
	printf("posix_memalign(64, SIZE_MAX-10): %s errno %s\n", err_name(r), err_name(errno));
	size_t vs[] = { 0, 1, 4095, 4096, 4097, 100000, 1 << 20 };
	for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) {
		void *v = valloc(vs[i]);
		void *pv = pvalloc(vs[i]);
		size_t up = (vs[i] + 4095) & ~(size_t)4095;
		printf("valloc(%zu): %s; pvalloc: %s usable>=page_up %d\n", vs[i],
		       v && (uintptr_t)v % 4096 == 0 ? "page-aligned" : "BAD",
		       pv && (uintptr_t)pv % 4096 == 0 ? "page-aligned" : "BAD",
		       pv && malloc_usable_size(pv) >= up);
		free(v);
		free(pv);
	}
	errno = 0;
	p = pvalloc(opaque(SIZE_MAX - 100));
	printf("pvalloc(SIZE_MAX-100): %s errno %s\n", p ? "ptr" : "NULL", err_name(errno));
}

/* ---- threads ---- */

#define XN 20000
static void *xblocks[XN];

static void *alloc_many(void *arg)
{
	(void)arg;
	for (int i = 0; i < XN; i++) {
		xblocks[i] = malloc(16 + (size_t)(i % 500) * 8);
		pattern(xblocks[i], 16, (unsigned)i);
	}
	return NULL;
}

static void *free_many(void *arg)
{
	int *bad = arg;
	for (int i = 0; i < XN; i++) {
		*bad += !pattern_ok(xblocks[i], 16, (unsigned)i);
		free(xblocks[i]);
	}
	return NULL;
}

static void cross_thread(void)
{
	pthread_t t;
	int bad = 0;
	for (int round = 0; round < 5; round++) {
		/* Allocated there, freed here; then allocated here, freed there. */
		pthread_create(&t, NULL, alloc_many, NULL);
		pthread_join(t, NULL);
		free_many(&bad);
		alloc_many(NULL);
		pthread_create(&t, NULL, free_many, &bad);
		pthread_join(t, NULL);
	}
	printf("cross-thread frees: bad blocks %d\n", bad);
}

static volatile int stop;

static void *churn(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	void *keep[64] = { 0 };
	while (!stop) {
		seed = seed * 1103515245u + 12345u;
		int k = (int)(seed >> 10) % 64;
		free(keep[k]);
		size_t n = (seed >> 16) % 4 == 0 ? (seed >> 8) % 300000 : (seed >> 8) % 2000;
		keep[k] = malloc(n + 1);
		memset(keep[k], 1, n + 1 < 256 ? n + 1 : 256);
		((char *)keep[k])[n] = 1;
	}
	for (int k = 0; k < 64; k++) {
		free(keep[k]);
	}
	return NULL;
}

static void fork_with_threads(void)
{
	pthread_t t[3];
	stop = 0;
	for (int i = 0; i < 3; i++) {
		pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1));
	}
	int ok = 0;
	for (int round = 0; round < 12; round++) {
		pid_t pid = fork();
		if (pid == 0) {
			/* The child allocates in every size range, also on a thread. */
			void *p[200];
			for (int i = 0; i < 200; i++) {
				p[i] = malloc((size_t)i * 997 + (i % 10 == 0 ? 300000 : 0));
				memset(p[i], 2, (size_t)i * 997);
			}
			for (int i = 0; i < 200; i++) {
				free(p[i]);
			}
			pthread_t ct;
			stop = 0;
			if (pthread_create(&ct, NULL, churn, (void *)7) != 0) {
				_exit(3);
			}
			usleep(2000);
			stop = 1;
			pthread_join(ct, NULL);
			_exit(0);
		}
		int status = -1;
		waitpid(pid, &status, 0);
		ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
	}
	stop = 1;
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
	}
	printf("fork with threads allocating: %d/12 children fine\n", ok);
}

static void double_free_aborts(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = dup(2);
		(void)fd;
		freopen("/dev/null", "w", stderr);
		void *p = malloc(opaque(40));
		free(p);
		free(p);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	printf("double free: %s\n", WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT ? "SIGABRT"
				    : "survived");
}

/* ---- shim-only checks ---- */

static size_t (*stats_json)(char *, size_t);

static unsigned long long stat_num(const char *key)
{
	static char buf[65536];
	stats_json(buf, sizeof buf);
	char *k = strstr(buf, key);
	return k ? strtoull(k + strlen(key), NULL, 10) : 0;
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, res = 0;
	if (f != NULL) {
		if (fscanf(f, "%ld %ld", &size, &res) != 2) {
			res = 0;
		}
		fclose(f);
	}
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static void shim_checks(void)
{
	Dl_info info;
	CHECK(dladdr((void *)malloc, &info) != 0 && strstr(info.dli_fname, "libvmshim") != NULL);
	printf("malloc is defined by %s\n", info.dli_fname);
	stats_json = (size_t(*)(char *, size_t))dlsym(RTLD_DEFAULT, "vmshim_stats_json");
	CHECK(stats_json != NULL);
	if (stats_json == NULL) {
		return;
	}
	uintptr_t lo = stat_num("\"start\": "), hi = stat_num("\"end\": ");
	CHECK(lo != 0 && hi > lo);
	size_t sizes[] = { 1, 100, 5000, 100000, 200000, 5 << 20 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		void *p = malloc(sizes[i]), *c = calloc(1, sizes[i]), *a = NULL;
		CHECK(posix_memalign(&a, 1 << 16, sizes[i]) == 0);
		CHECK((uintptr_t)p >= lo && (uintptr_t)p < hi);
		CHECK((uintptr_t)c >= lo && (uintptr_t)c < hi);
		CHECK((uintptr_t)a >= lo && (uintptr_t)a < hi);
		free(p);
		free(c);
		free(a);
	}
	unsigned long long m0 = stat_num("\"malloc\": ");
	for (int i = 0; i < 1000; i++) {
		sink = malloc(opaque(10));
		free(sink);
	}
	unsigned long long m1 = stat_num("\"malloc\": ");
	CHECK(m1 >= m0 + 1000);
	printf("malloc calls counted: %llu -> %llu\n", m0, m1);

	/* Resident memory falls after a peak: 256 MiB of small blocks, and
	 * 128 MiB of big ones. */
	long base = rss_kib();
	enum { N = 256 * 1024 };
	static void *blocks[N];
	for (int i = 0; i < N; i++) {
		blocks[i] = malloc(1000);
		memset(blocks[i], 3, 1000);
	}
	void *bigs[64];
	for (int i = 0; i < 64; i++) {
		bigs[i] = malloc(2 << 20);
		memset(bigs[i], 4, 2 << 20);
	}
	long peak = rss_kib();
	for (int i = 0; i < N; i++) {
		free(blocks[i]);
	}
	for (int i = 0; i < 64; i++) {
		free(bigs[i]);
	}
	long after = rss_kib();
	printf("rss: base %ld KiB, peak %ld KiB, after free %ld KiB\n", base, peak, after);
	CHECK(peak > base + 300 * 1024);
	CHECK(after < base + 96 * 1024);
	malloc_trim(0);
	long trimmed = rss_kib();
	printf("rss after malloc_trim: %ld KiB\n", trimmed);
	CHECK(trimmed < base + 16 * 1024);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && strcmp(argv[1], "--shim") == 0) {
		shim_checks();
		printf("%s\n", failures ? "shim checks FAILED" : "shim checks ok");
		return failures != 0;
	}
	impossible_sizes();
	zero_and_unique();
	sizes_and_contents();
	alignment_rules();
	cross_thread();
	fork_with_threads();
	double_free_aborts();
	return failures != 0;
}
