/*
 * tests/alloc/alloc_stress.c - threads allocating and freeing random sizes
 * with every byte checked.
 *
 * Waves of threads each keep a table of live blocks and replace them at
 * random with malloc, calloc (checked zero), realloc (checked prefix),
 * posix_memalign (checked alignment) of sizes from 0 to 2 MiB, mostly
 * small.  Every block is filled with a pattern derived from its address,
 * size and a per-block seed, and checked in full (big blocks: a page in
 * every 16 and both ends) before it is freed or resized.  A tenth of the
 * blocks are handed to other threads through a shared exchange table and
 * freed there; threads exit with blocks still in the table, so the next
 * wave frees memory whose owners are gone.  Any mismatch prints where and
 * exits with status 1.
 *
 * Usage: alloc_stress [threads [waves [ops per thread]]]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIVE 600
#define SHARED 1024

struct hdr {
	uint64_t magic;
	size_t size;
	uint64_t seed;
};

#define MAGIC 0x5354524553534b31ULL

static void *shared[SHARED];
static long ops_per_thread = 200000;
static long failures;

static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static unsigned char byte_at(const void *base, uint64_t seed, size_t i)
{
	uint64_t x = (seed + i) * 0x9e3779b97f4a7c15ULL ^ (uintptr_t)base;
	return (unsigned char)(x >> 56);
}

static void fail(const char *what, void *p, size_t size, size_t at)
{
	fprintf(stderr, "FAIL: %s: block %p of %zu bytes, offset %zu\n", what, p, size, at);
	__atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);
	exit(1);
}

/* Which bytes of a block are patterned: all of a small one, a page in 16
 * and the last page of a big one. */
static int checked(size_t size, size_t i)
{
	return size <= 65536 || (i >> 12) % 16 == 0 || i + 4096 >= size;
}

static void fill(void *p, size_t size, uint64_t seed)
{
	unsigned char *b = p;
	if (size >= sizeof(struct hdr)) {
		struct hdr h = { MAGIC, size, seed };
		memcpy(b, &h, sizeof h);
	}
	for (size_t i = size >= sizeof(struct hdr) ? sizeof(struct hdr) : 0; i < size; i++) {
		if (!checked(size, i)) {
			i += 4095;
			continue;
		}
		b[i] = byte_at(p, seed, i);
	}
}

/* Checks the first n bytes of a block filled as (base, size, seed). */
static void check(void *p, const void *base, size_t size, uint64_t seed, size_t n)
{
	unsigned char *b = p;
	size_t start = 0;
	if (size >= sizeof(struct hdr)) {
		struct hdr h;
		memcpy(&h, b, sizeof h);
		if (h.magic != MAGIC || h.size != size || h.seed != seed) {
			fail("header overwritten", p, size, 0);
		}
		start = sizeof h;
	}
	for (size_t i = start; i < n; i++) {
		if (!checked(size, i)) {
			i += 4095;
			continue;
		}
		if (b[i] != byte_at(base, seed, i)) {
			fail("byte changed", p, size, i);
		}
	}
}

struct slot {
	void *p;
	void *base; /* address the pattern was made for */
	size_t size;
	uint64_t seed;
};

static size_t random_size(uint64_t *rng)
{
	uint64_t r = next(rng);
	switch (r % 100) {
	case 0:
		return (size_t)(r >> 12) % (2u << 20);       /* big */
	case 1: case 2: case 3: case 4: case 5: case 6: case 7:
		return 8192 + (size_t)(r >> 12) % 122880;    /* medium */
	default:
		return (size_t)(r >> 12) % ((r >> 40) % 4 == 0 ? 8192 : 256); /* small */
	}
}

/* Blocks that crossed threads carry their own description. */
static void check_and_free_foreign(void *p)
{
	struct hdr h;
	memcpy(&h, p, sizeof h);
	if (h.magic != MAGIC) {
		fail("foreign block header", p, 0, 0);
	}
	check(p, p, h.size, h.seed, h.size);
	free(p);
}

static void *worker(void *arg)
{
	uint64_t rng = (uint64_t)(uintptr_t)arg * 0x2545F4914F6CDD1DULL + 1;
	struct slot live[LIVE];
	memset(live, 0, sizeof live);
	for (long op = 0; op < ops_per_thread; op++) {
		struct slot *s = &live[next(&rng) % LIVE];
		uint64_t kind = next(&rng) % 100;
		if (s->p != NULL && kind < 8) {
			/* realloc: the prefix survives. */
			size_t n = random_size(&rng);
			void *q = realloc(s->p, n);
			if (q == NULL && n != 0) {
				fail("realloc returned NULL", s->p, n, 0);
			}
			if (n != 0) {
				size_t keep = n < s->size ? n : s->size;
				if (keep >= sizeof(struct hdr) || s->size < sizeof(struct hdr)) {
					/* Check what was kept against the old pattern. */
					unsigned char *b = q;
					for (size_t i = s->size >= sizeof(struct hdr) ? sizeof(struct hdr) : 0; i < keep; i++) {
						if (!checked(s->size, i)) {
							i += 4095;
							continue;
						}
						if (b[i] != byte_at(s->base, s->seed, i)) {
							fail("realloc lost a byte", q, n, i);
						}
					}
				}
				if (malloc_usable_size(q) < n) {
					fail("realloc usable size too small", q, n, 0);
				}
				s->seed = next(&rng);
				fill(q, n, s->seed);
				*s = (struct slot){ q, q, n, s->seed };
			} else {
				*s = (struct slot){ 0 };
			}
			continue;
		}
		if (s->p != NULL) {
			check(s->p, s->base, s->size, s->seed, s->size);
			if (kind < 18 && s->size >= sizeof(struct hdr)) {
				/* Hand it over; free whatever was there (another thread's). */
				void *old = __atomic_exchange_n(&shared[next(&rng) % SHARED], s->p,
								__ATOMIC_ACQ_REL);
				if (old != NULL) {
					check_and_free_foreign(old);
				}
			} else {
				free(s->p);
			}
			s->p = NULL;
		}
		size_t n = random_size(&rng);
		void *p;
		if (kind < 30) {
			p = calloc(1, n);
			for (size_t i = 0; p != NULL && i < n; i++) {
				if (!checked(n, i)) {
					i += 4095;
					continue;
				}
				if (((unsigned char *)p)[i] != 0) {
					fail("calloc not zero", p, n, i);
				}
			}
		} else if (kind < 36) {
			size_t align = (size_t)16 << (next(&rng) % 14);
			p = NULL;
			int r = posix_memalign(&p, align, n);
			if (r != 0 || (uintptr_t)p % align != 0) {
				fail("posix_memalign", p, n, align);
			}
		} else {
			p = malloc(n);
		}
		if (p == NULL) {
			fail("allocation failed", NULL, n, 0);
		}
		if (malloc_usable_size(p) < n || ((uintptr_t)p & 15) != 0) {
			fail("usable size or alignment", p, n, 0);
		}
		s->seed = next(&rng);
		fill(p, n, s->seed);
		*s = (struct slot){ p, p, n, s->seed };
	}
	for (int i = 0; i < LIVE; i++) {
		if (live[i].p != NULL) {
			check(live[i].p, live[i].base, live[i].size, live[i].seed, live[i].size);
			free(live[i].p);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 4;
	int waves = argc > 2 ? atoi(argv[2]) : 3;
	if (argc > 3) {
		ops_per_thread = atol(argv[3]);
	}
	for (int w = 0; w < waves; w++) {
		pthread_t t[64];
		for (int i = 0; i < threads && i < 64; i++) {
			if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(w * 100 + i + 1)) != 0) {
				perror("pthread_create");
				return 2;
			}
		}
		for (int i = 0; i < threads && i < 64; i++) {
			pthread_join(t[i], NULL);
		}
	}
	for (int i = 0; i < SHARED; i++) {
		if (shared[i] != NULL) {
			check_and_free_foreign(shared[i]);
		}
	}
	printf("stress: %d threads x %d waves x %ld operations, every byte kept\n", threads, waves,
	       ops_per_thread);
	return failures != 0;
}
