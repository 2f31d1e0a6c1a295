/*
 * bench/bench_util.c - helpers shared by the benchmark kernels: clock,
 * mappings that abort on failure, page touching, permutations, and a
 * team of threads released together by a barrier.  See bench/bench.h.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

double vms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

size_t vms_page_size(void)
{
	static size_t size;
	if (size == 0)
		size = (size_t)sysconf(_SC_PAGESIZE);
	return size;
}

void vms_die(const char *what)
{
	fprintf(stderr, "vmshim-bench: %s: %s\n", what, strerror(errno));
	abort();
}

void *vms_map_anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		vms_die("mmap");
	return p;
}

void vms_unmap(void *p, size_t len)
{
	if (munmap(p, len) != 0)
		vms_die("munmap");
}

void vms_touch_pages(void *p, size_t len)
{
	volatile char *c = p;
	size_t ps = vms_page_size();
	for (size_t off = 0; off < len; off += ps)
		c[off] = 1;
}

uint32_t *vms_permutation(size_t n, uint64_t seed)
{
	uint32_t *perm = malloc(n * sizeof(*perm));
	uint64_t s = seed | 1;
	if (perm == NULL)
		vms_die("malloc");
	for (size_t i = 0; i < n; i++)
		perm[i] = (uint32_t)i;
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)(vms_rng_next(&s) % i);
		uint32_t t = perm[i - 1];
		perm[i - 1] = perm[j];
		perm[j] = t;
	}
	return perm;
}

struct vms_team {
	int n;
	int stop;
	vms_team_fn *fn;
	void *arg;
	pthread_barrier_t start;
	pthread_barrier_t done;
	pthread_t tid[];
};

struct member {
	struct vms_team *t;
	int index;
};

static void *member_main(void *p)
{
	struct vms_team *t = ((struct member *)p)->t;
	int index = ((struct member *)p)->index;
	free(p);
	for (;;) {
		pthread_barrier_wait(&t->start);
		if (t->stop)
			break;
		t->fn(t->arg, index, t->n);
		pthread_barrier_wait(&t->done);
	}
	return NULL;
}

struct vms_team *vms_team_start(int n)
{
	struct vms_team *t = calloc(1, sizeof(*t) + (size_t)n * sizeof(pthread_t));
	if (t == NULL)
		vms_die("calloc");
	t->n = n;
	pthread_barrier_init(&t->start, NULL, (unsigned)n);
	pthread_barrier_init(&t->done, NULL, (unsigned)n);
	for (int i = 1; i < n; i++) {
		struct member *m = malloc(sizeof(*m));
		if (m == NULL)
			vms_die("malloc");
		m->t = t;
		m->index = i;
		errno = pthread_create(&t->tid[i], NULL, member_main, m);
		if (errno != 0)
			vms_die("pthread_create");
	}
	return t;
}

void vms_team_run(struct vms_team *t, vms_team_fn *fn, void *arg)
{
	t->fn = fn;
	t->arg = arg;
	pthread_barrier_wait(&t->start);
	fn(arg, 0, t->n);
	pthread_barrier_wait(&t->done);
}

void vms_team_stop(struct vms_team *t)
{
	t->stop = 1;
	pthread_barrier_wait(&t->start);
	for (int i = 1; i < t->n; i++)
		pthread_join(t->tid[i], NULL);
	pthread_barrier_destroy(&t->start);
	pthread_barrier_destroy(&t->done);
	free(t);
}

int vms_temp_file(size_t len)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	char buf[65536];
	int fd;

	snprintf(path, sizeof(path), "%s/vmshim-bench.XXXXXX",
		 dir != NULL && dir[0] != '\0' ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		vms_die("mkstemp");
	unlink(path);
	memset(buf, 0x5a, sizeof(buf));
	for (size_t done = 0; done < len; done += sizeof(buf)) {
		size_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);
		if (write(fd, buf, n) != (ssize_t)n)
			vms_die("write");
	}
	return fd;
}

size_t vms_resident_pages(void *p, size_t len)
{
	size_t ps = vms_page_size();
	size_t pages = (len + ps - 1) / ps;
	unsigned char vec[4096];
	size_t resident = 0;

	for (size_t i = 0; i < pages; i += sizeof(vec)) {
		size_t n = pages - i < sizeof(vec) ? pages - i : sizeof(vec);
		if (mincore((char *)p + i * ps, n * ps, vec) != 0)
			vms_die("mincore");
		for (size_t j = 0; j < n; j++)
			resident += vec[j] & 1;
	}
	return resident;
}

size_t vms_parse_size(const char *text)
{
	char *end;
	unsigned long long n;
	unsigned shift = 0;

	if (text == NULL || text[0] < '0' || text[0] > '9')
		return 0;
	errno = 0;
	n = strtoull(text, &end, 10);
	if (errno != 0)
		return 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: break;
	}
	if (shift != 0 && (*end == 'i' || *end == 'I'))
		end++;
	if (shift != 0 && (*end == 'b' || *end == 'B'))
		end++;
	if (*end != '\0' || n > (~0ULL >> shift))
		return 0;
	return (size_t)(n << shift);
}

static size_t limit_flag;

void vms_bench_set_limit(size_t bytes)
{
	limit_flag = bytes;
}

size_t vms_bench_limit(void)
{
	size_t env;

	if (limit_flag != 0)
		return limit_flag;
	env = vms_parse_size(getenv("VMSHIM_MEM_LIMIT"));
	if (env != 0)
		return env;
	if (vms_bench_smoke())
		return 4 * VMS_MIB;
	return (vms_bench_quick() ? 32 : 256) * VMS_MIB;
}
