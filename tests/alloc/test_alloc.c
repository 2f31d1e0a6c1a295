/*
 * tests/alloc/test_alloc.c - the allocator's pieces without LD_PRELOAD:
 * size classes and the divisibility test (exhaustively), span carving and
 * accounting, calloc's zero tracking, aligned classes, big blocks and
 * their table, cross-thread frees (the full-span notification included),
 * thread exit and adoption of abandoned segments, the decommit policy,
 * fork-holder lock bypass, misuse detection (in a child process), and
 * the pinned heap for libc's allocations (the kernel's memory, freed from
 * any thread).
 *
 * Built twice from this source: test_alloc runs with no arena (the memory
 * comes from the kernel, as when the shim could not reserve an arena), and
 * test_alloc_arena (VMS_TEST_ARENA) reserves a real arena with vm/ and no
 * fault handler, so any allocator access to memory it did not populate
 * first kills the test with SIGSEGV: the interim populate policy checked.
 * Each is also built with ASan and UBSan.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc/alloc.h"
#include "util/options.h"
#include "vm/mm.h"

#define H() vms_heap_get()

static void *xmalloc(size_t n) { return vms_malloc(H(), n); }
static void xfree(void *p) { vms_free(vms_tls_heap, p); }

static struct vms_span *span_of(void *p)
{
	struct vms_segment *seg;
	return vms_block_span(p, &seg);
}

/* Memory the allocator hands out must be writable as a whole. */
static void fill(void *p, size_t n, unsigned char v)
{
	memset(p, v, n);
}

static __attribute__((unused)) bool in_arena(const void *p)
{
	return vms_mm.base != 0 && vms_in_arena((uintptr_t)p);
}

/* ---- size classes ---- */

static void test_classes_cover_every_size(void **state)
{
	(void)state;
	assert_int_equal(vms_class_size(0), 16);
	assert_int_equal(vms_class_size(7), 128);
	assert_int_equal(vms_class_size(8), 160);
	assert_int_equal(vms_class_size(VMS_NSMALL - 1), VMS_SMALL_MAX);
	assert_int_equal(vms_class_size(VMS_NMEDIUM - 1), VMS_MEDIUM_MAX);
	assert_int_equal(vms_class_size(VMS_NCLASS - 1), VMS_LARGE_MAX);
	for (unsigned c = 1; c < VMS_NCLASS; c++) {
		assert_true(vms_class_size(c) > vms_class_size(c - 1));
		assert_int_equal(vms_class_size(c) % 16, 0);
	}
	assert_int_equal(vms_size_class(0), 0);
	for (size_t s = 1; s <= VMS_LARGE_MAX; s++) {
		unsigned c = vms_size_class(s);
		assert_true(c < VMS_NCLASS);
		size_t bs = vms_class_size(c);
		/* The smallest class that fits, wasting at most 25% (or 15 bytes). */
		if (bs < s || (c > 0 && vms_class_size(c - 1) >= s)) {
			fail_msg("size %zu -> class %u (%zu bytes)", s, c, bs);
		}
		size_t waste = bs - s;
		if (waste > 15 && waste * 4 > s) {
			fail_msg("size %zu wastes %zu bytes in class %zu", s, waste, bs);
		}
	}
}

static void test_divtest_matches_modulo(void **state)
{
	(void)state;
	for (unsigned c = 0; c < VMS_NCLASS; c++) {
		uint32_t d = vms_class_size(c);
		struct vms_divtest t = vms_divtest_make(d);
		for (uint32_t n = 0; n < (1u << 20) + 4096; n++) {
			if (vms_divtest_ok(n, t.inv, t.lim, t.shift) != (n % d == 0)) {
				fail_msg("divisor %u, n %u", d, n);
			}
		}
	}
	/* The state a free slot gets: only offset 0 passes (and block_size 0
	 * rejects that). */
	assert_true(vms_divtest_ok(0, 1, 0, 0));
	assert_false(vms_divtest_ok(16, 1, 0, 0));
}

/* ---- small and medium blocks ---- */

static void test_every_class_carves_aligned_distinct_blocks(void **state)
{
	(void)state;
	for (unsigned c = 0; c < VMS_NCLASS; c++) {
		size_t bs = vms_class_size(c);
		enum { N = 40 };
		unsigned char *p[N];
		for (int i = 0; i < N; i++) {
			p[i] = xmalloc(bs);
			assert_non_null(p[i]);
			assert_int_equal((uintptr_t)p[i] % 16, 0);
			assert_int_equal(vms_usable_size(p[i]), bs);
			assert_true(vms_in_heap_region((uintptr_t)p[i]));
#ifdef VMS_TEST_ARENA
			assert_true(in_arena(p[i]));
#endif
			fill(p[i], bs, (unsigned char)(i + 1));
			struct vms_span *s = span_of(p[i]);
			assert_int_equal(s->block_size, bs);
			assert_int_equal(s->cls, c);
			assert_true(s->used >= 1 && s->used <= s->capacity);
			assert_true(s->capacity <= s->reserved);
			assert_true(s->commit >= (uintptr_t)p[i] + bs - s->start);
		}
		for (int i = 0; i < N; i++) {
			for (size_t k = 0; k < bs; k++) {
				if (p[i][k] != (unsigned char)(i + 1)) {
					fail_msg("class %u block %d byte %zu overwritten", c, i, k);
				}
			}
		}
		for (int i = 0; i < N; i++) {
			xfree(p[i]);
		}
	}
}

static void test_free_then_malloc_reuses_lifo(void **state)
{
	(void)state;
	void *a = xmalloc(40), *b = xmalloc(40);
	struct vms_span *s = span_of(a);
	uint32_t used = s->used;
	xfree(b);
	xfree(a);
	assert_int_equal(s->used, used - 2);
	/* Local frees wait on local_free until free runs dry: drain it. */
	void *got[4096];
	size_t n = 0;
	bool seen_a = false, seen_b = false;
	while (n < 4096) {
		got[n] = xmalloc(40);
		seen_a |= got[n] == a;
		seen_b |= got[n] == b;
		n++;
		if (seen_a && seen_b) {
			break;
		}
	}
	assert_true(seen_a && seen_b);
	for (size_t i = 0; i < n; i++) {
		xfree(got[i]);
	}
}

static void test_calloc_zeroes_recycled_not_fresh(void **state)
{
	(void)state;
	/* A recycled block is cleared. */
	unsigned char *p = vms_calloc(H(), 1, 200);
	fill(p, vms_usable_size(p), 0xAB);
	xfree(p);
	for (int round = 0; round < 3; round++) {
		unsigned char *q = vms_calloc(H(), 2, 100);
		for (size_t k = 0; k < vms_usable_size(q); k++) {
			assert_int_equal(q[k], 0);
		}
		fill(q, vms_usable_size(q), 0xCD);
		xfree(q);
	}
	/* A fresh span: its free list is known zero until something is freed. */
	unsigned cls = vms_size_class(VMS_SMALL_MAX);
	void *blocks[64];
	for (int i = 0; i < 64; i++) {
		blocks[i] = vms_calloc(H(), 1, VMS_SMALL_MAX);
		unsigned char *b = blocks[i];
		for (size_t k = 0; k < VMS_SMALL_MAX; k++) {
			assert_int_equal(b[k], 0);
		}
		fill(blocks[i], VMS_SMALL_MAX, 0xEE);
	}
	struct vms_span *s = span_of(blocks[63]);
	assert_int_equal(s->cls, cls);
	for (int i = 0; i < 64; i++) {
		xfree(blocks[i]);
	}
	for (int i = 0; i < 64; i++) {
		blocks[i] = vms_calloc(H(), 1, VMS_SMALL_MAX);
		unsigned char *b = blocks[i];
		for (size_t k = 0; k < VMS_SMALL_MAX; k++) {
			if (b[k] != 0) {
				fail_msg("recycled calloc block %d byte %zu is %#x", i, k, b[k]);
			}
		}
	}
	for (int i = 0; i < 64; i++) {
		xfree(blocks[i]);
	}
}

static void test_realloc_keeps_contents_across_classes(void **state)
{
	(void)state;
	size_t sizes[] = { 1, 17, 100, 129, 1000, 8192, 8193, 60000, 131072, 131073, 300000,
			   5000000, 700000, 50, 0 };
	unsigned char *p = NULL;
	size_t have = 0;
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t n = sizes[i];
		unsigned char *q = vms_realloc(H(), p, n);
		if (n == 0) {
			assert_null(q);
			break;
		}
		assert_non_null(q);
		assert_true(vms_usable_size(q) >= n);
		size_t keep = have < n ? have : n;
		for (size_t k = 0; k < keep; k++) {
			if (q[k] != (unsigned char)(k * 7 + 3)) {
				fail_msg("realloc to %zu lost byte %zu", n, k);
			}
		}
		for (size_t k = 0; k < n; k++) {
			q[k] = (unsigned char)(k * 7 + 3);
		}
		p = q;
		have = n;
	}
}

static void test_aligned_classes(void **state)
{
	(void)state;
	for (size_t align = 32; align <= (1u << 22); align <<= 1) {
		size_t sizes[] = { 1, align / 2, align, align + 1, 3 * align, 70000, 200000 };
		for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
			void *p = vms_memalign(H(), align, sizes[i]);
			assert_non_null(p);
			if ((uintptr_t)p % align != 0) {
				fail_msg("memalign(%zu, %zu) = %p", align, sizes[i], p);
			}
			assert_true(vms_usable_size(p) >= sizes[i]);
			fill(p, sizes[i], 0x5A);
			xfree(p);
		}
	}
	/* glibc's rules. */
	void *p = (void *)1;
	assert_int_equal(vms_posix_memalign(H(), &p, 24, 8), EINVAL);
	assert_int_equal(vms_posix_memalign(H(), &p, 0, 8), EINVAL);
	assert_int_equal(vms_posix_memalign(H(), &p, 4, 8), EINVAL);
	assert_ptr_equal(p, (void *)1);
	assert_int_equal(vms_posix_memalign(H(), &p, 8, 8), 0);
	xfree(p);
	errno = 0;
	assert_null(vms_memalign(H(), SIZE_MAX / 2 + 2, 8));
	assert_int_equal(errno, EINVAL);
	p = vms_memalign(H(), 48, 8); /* rounded up to 64 */
	assert_int_equal((uintptr_t)p % 64, 0);
	xfree(p);
	p = vms_pvalloc(H(), 0);
	assert_int_equal((uintptr_t)p % 4096, 0);
	assert_true(vms_usable_size(p) >= 4096);
	xfree(p);
	errno = 0;
	assert_null(vms_pvalloc(H(), SIZE_MAX - 10));
	assert_int_equal(errno, ENOMEM);
}

static void test_impossible_sizes(void **state)
{
	(void)state;
	errno = 0;
	assert_null(xmalloc(SIZE_MAX));
	assert_int_equal(errno, ENOMEM);
	errno = 0;
	assert_null(xmalloc((size_t)PTRDIFF_MAX + 1));
	assert_int_equal(errno, ENOMEM);
	errno = 0;
	assert_null(vms_calloc(H(), SIZE_MAX / 2, 3));
	assert_int_equal(errno, ENOMEM);
	errno = 0;
	assert_null(vms_reallocarray(H(), NULL, SIZE_MAX / 2, 3));
	assert_int_equal(errno, ENOMEM);
	void *p = xmalloc(10);
	errno = 0;
	assert_null(vms_realloc(H(), p, SIZE_MAX));
	assert_int_equal(errno, ENOMEM);
	xfree(p);
}

/* ---- big blocks ---- */

static void test_big_blocks_map_remap_and_table(void **state)
{
	(void)state;
	struct vms_big_stats st0, st;
	vms_big_stats(&st0);
	enum { N = 3000 };
	static void *p[N];
	/* Enough blocks to grow the table several times; remove in a
	 * scrambled order to exercise backward-shift deletion. */
	for (int i = 0; i < N; i++) {
		p[i] = xmalloc(VMS_LARGE_MAX + 1 + (size_t)(i % 7) * 4096);
		assert_non_null(p[i]);
		assert_int_equal((uintptr_t)p[i] % 4096, 0);
		*(int *)p[i] = i;
	}
	vms_big_stats(&st);
	assert_int_equal(st.blocks, st0.blocks + N);
	for (int k = 0; k < N; k++) {
		int i = (k * 1237) % N;
		assert_int_equal(*(int *)p[i], i);
		assert_true(vms_usable_size(p[i]) >= VMS_LARGE_MAX + 1 + (size_t)(i % 7) * 4096);
		xfree(p[i]);
	}
	vms_big_stats(&st);
	assert_int_equal(st.blocks, st0.blocks);
	assert_true(st.cached <= 64 && st.cached_bytes <= (64u << 20));

	/* realloc moves pages: contents kept, the grown tail usable. */
	size_t n = 1 << 20;
	unsigned char *a = xmalloc(n);
	for (size_t k = 0; k < n; k++) {
		a[k] = (unsigned char)(k >> 8);
	}
	unsigned char *b = vms_realloc(H(), a, 64 << 20);
	assert_non_null(b);
	for (size_t k = 0; k < n; k++) {
		if (b[k] != (unsigned char)(k >> 8)) {
			fail_msg("byte %zu lost by a big realloc", k);
		}
	}
	fill(b, 64 << 20, 1);
#ifdef VMS_TEST_ARENA
	assert_true(in_arena(b));
#endif
	unsigned char *c = vms_realloc(H(), b, 200000);
	assert_non_null(c);
	assert_int_equal(c[199999], 1);
	xfree(c);
	/* A big calloc reusing a dirty cached mapping, grown (pages moved, tail
	 * populated) and shrunk: zero everywhere. */
	size_t sizes[] = { 3u << 20, 5u << 20, 2u << 20, (2u << 20) + 4096, 9u << 20 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		vms_big_trim();
		unsigned char *d = xmalloc(sizes[i]);
		fill(d, sizes[i], 0xEE);
		xfree(d);
		size_t n = sizes[(i + 1) % (sizeof sizes / sizeof sizes[0])];
		unsigned char *z = vms_calloc(H(), 1, n);
		for (size_t k = 0; k < n; k += 61) {
			if (z[k] != 0) {
				fail_msg("calloc(%zu) after a dirty %zu: byte %zu is %#x", n, sizes[i], k, z[k]);
			}
		}
		assert_int_equal(z[n - 1], 0);
		fill(z, n, 0x11);
		xfree(z);
	}
	/* calloc of a large block: zero whether fresh or from the cache. */
	for (int round = 0; round < 3; round++) {
		unsigned char *z = vms_calloc(H(), 1, 300000);
		for (size_t k = 0; k < 300000; k += 97) {
			assert_int_equal(z[k], 0);
		}
		fill(z, 300000, 0xFF);
		xfree(z);
	}
}

/* ---- cross-thread frees ---- */

struct handoff {
	void **blocks;
	size_t n;
};

static void *free_them(void *arg)
{
	struct handoff *h = arg;
	for (size_t i = 0; i < h->n; i++) {
		vms_free(vms_tls_heap, h->blocks[i]);
	}
	return NULL;
}

static void test_remote_free_of_a_full_span_notifies(void **state)
{
	(void)state;
	struct vms_heap *h = H();
	size_t bs = 2048;
	unsigned cls = vms_size_class(bs);
	/* Fill spans until the first one is in the full list. */
	static void *blocks[256];
	size_t n = 0;
	struct vms_span *first = NULL;
	while (n < 256) {
		blocks[n] = xmalloc(bs);
		if (first == NULL) {
			first = span_of(blocks[0]);
		}
		n++;
		if (first->in_full) {
			break;
		}
		if (n > 40 && h->bins[cls].first != first && first->free == NULL) {
			/* the next allocation moves it to the full list */
		}
	}
	assert_true(first->in_full);
	assert_int_equal(__atomic_load_n(&first->xfree, __ATOMIC_RELAXED) & VMS_XF_MASK,
			 VMS_XF_WANT);
	/* Another thread frees one block of it: the span is notified. */
	struct handoff ho = { &blocks[1], 1 };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, free_them, &ho), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_ptr_equal(__atomic_load_n(&h->delayed, __ATOMIC_ACQUIRE), first);
	assert_int_equal(__atomic_load_n(&first->xfree, __ATOMIC_RELAXED) & VMS_XF_MASK,
			 VMS_XF_NONE);
	/* The owner's next slow path puts it back and reuses the block. */
	bool got_it = false;
	static void *more[256];
	size_t m = 0;
	while (m < 256 && !got_it) {
		more[m] = xmalloc(bs);
		got_it = more[m] == blocks[1];
		m++;
	}
	assert_true(got_it);
	assert_false(first->in_full);
	assert_null(__atomic_load_n(&h->delayed, __ATOMIC_ACQUIRE));
	for (size_t i = 0; i < n; i++) {
		if (i != 1) {
			xfree(blocks[i]);
		}
	}
	for (size_t i = 0; i < m; i++) {
		xfree(more[i]);
	}
}

static void test_local_free_of_full_span_unfulls(void **state)
{
	(void)state;
	size_t bs = 4096;
	static void *blocks[64];
	size_t n = 0;
	struct vms_span *first = NULL;
	while (n < 64) {
		blocks[n] = xmalloc(bs);
		first = first != NULL ? first : span_of(blocks[0]);
		n++;
		if (first->in_full) {
			break;
		}
	}
	assert_true(first->in_full);
	xfree(blocks[0]);
	assert_false(first->in_full);
	assert_int_equal(__atomic_load_n(&first->xfree, __ATOMIC_RELAXED) & VMS_XF_MASK,
			 VMS_XF_NONE);
	for (size_t i = 1; i < n; i++) {
		xfree(blocks[i]);
	}
}

struct churn {
	void **shared;
	size_t n;
	unsigned seed;
};

/* Threads swap blocks through a shared array and free each other's. */
static void *churn_main(void *arg)
{
	struct churn *c = arg;
	unsigned seed = c->seed;
	for (int i = 0; i < 200000; i++) {
		seed = seed * 1103515245u + 12345u;
		size_t k = (seed >> 8) % c->n;
		size_t size = 16 + (seed >> 20) % 3000;
		unsigned char *mine = vms_malloc(vms_heap_get(), size);
		assert_non_null(mine);
		*(size_t *)mine = size;
		mine[size - 1] = (unsigned char)size;
		void *theirs = __atomic_exchange_n(&c->shared[k], mine, __ATOMIC_ACQ_REL);
		if (theirs != NULL) {
			size_t s = *(size_t *)theirs;
			if (((unsigned char *)theirs)[s - 1] != (unsigned char)s) {
				fail_msg("block of %zu bytes corrupted", s);
			}
			vms_free(vms_tls_heap, theirs);
		}
	}
	return NULL;
}

static void test_threads_churn_and_exit(void **state)
{
	(void)state;
	enum { T = 4, SLOTS = 512 };
	static void *shared[SLOTS];
	struct churn c[T];
	pthread_t t[T];
	struct vms_seg_stats before, after;
	vms_segment_stats(&before);
	for (int i = 0; i < T; i++) {
		c[i] = (struct churn){ shared, SLOTS, (unsigned)i * 7919u + 1 };
		assert_int_equal(pthread_create(&t[i], NULL, churn_main, &c[i]), 0);
	}
	for (int i = 0; i < T; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
	}
	/* The threads exited holding blocks: their segments are abandoned.
	 * Free the leftovers here (remote frees), then allocate: this thread
	 * adopts the abandoned segments and releases the empty ones. */
	vms_segment_stats(&after);
	assert_true(after.abandoned > before.abandoned);
	for (int i = 0; i < SLOTS; i++) {
		xfree(shared[i]);
		shared[i] = NULL;
	}
	vms_heap_collect(H(), true);
	vms_segment_stats(&after);
	assert_int_equal(after.abandoned, 0);
	/* Everything is free: adopted segments went back, nothing is left
	 * beyond this thread's own spans and one spare segment. */
	assert_true(after.segments <= before.segments + 1);
}

/* ---- decommit ---- */

static void test_memory_goes_back_after_a_peak(void **state)
{
	(void)state;
	struct vms_heap *h = H();
	size_t base = h->committed;
	enum { N = 60000 };
	static void *p[N];
	for (int i = 0; i < N; i++) {
		p[i] = xmalloc(1000);
		fill(p[i], 1000, 1);
	}
	size_t peak = h->committed;
	assert_true(peak >= base + (size_t)N * 1000);
	for (int i = 0; i < N; i++) {
		xfree(p[i]);
	}
	/* Free memory beyond the cap went back at once (empty segments
	 * released, free slots decommitted)... */
	assert_true(h->committed <= base + vms_purge_threshold(h) + 2 * VMS_SEG_SIZE);
	assert_true(h->free_committed <= vms_purge_threshold(h));
	for (int k = 0; k < VMS_SEG_KINDS; k++) {
		assert_true(h->empty_segs[k] <= VMS_MAX_EMPTY);
	}
	/* ...and after the decay time, the rest goes at the next slow path. */
	usleep((VMS_DECAY_MS + 20) * 1000);
	for (int i = 0; i < 64; i++) {
		xfree(xmalloc(20000 + (size_t)i * 1000)); /* slow paths */
	}
	assert_true(h->free_committed <= (4u << 20));
	vms_heap_collect(h, true);
	for (int k = 0; k < VMS_SEG_KINDS; k++) {
		assert_true(h->empty_segs[k] <= 1);
	}
	assert_true(h->free_committed == 0 || vms_mem_many_kmaps());
#ifdef VMS_TEST_ARENA
	/* The VM saw it: resident pages went down. */
	int64_t resident = vms_gauge_now(&vms_stats.resident_pages);
	assert_true((uint64_t)resident * 4096 < peak / 2 + (16 << 20));
#endif
	/* And the memory can be had again. */
	for (int i = 0; i < N; i++) {
		p[i] = xmalloc(1000);
		fill(p[i], 1000, 2);
	}
	for (int i = 0; i < N; i++) {
		xfree(p[i]);
	}
}

static void test_purge_keeps_accounting(void **state)
{
	(void)state;
	struct vms_heap *h = H();
	void *p[200];
	for (int i = 0; i < 200; i++) {
		p[i] = xmalloc(60000);
	}
	for (int i = 0; i < 200; i += 2) {
		xfree(p[i]);
	}
	vms_heap_purge(h, 0, 0);
	assert_true(h->free_committed == 0 || vms_mem_many_kmaps());
	for (int i = 1; i < 200; i += 2) {
		fill(p[i], 60000, 3);
		xfree(p[i]);
	}
	for (int i = 0; i < 200; i++) {
		p[i] = xmalloc(60000);
		fill(p[i], 60000, 4);
	}
	for (int i = 0; i < 200; i++) {
		xfree(p[i]);
	}
}

/* ---- misuse: each in a child, which must die of SIGABRT ---- */

#define expect_abort(fn) expect_abort_(fn, #fn)
static void expect_abort_(void (*fn)(void), const char *name)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int devnull = open("/dev/null", 1);
		dup2(devnull, 2);
		fn();
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT) {
		fail_msg("%s: status %#x, not SIGABRT", name, status);
	}
}

static void double_free_small(void)
{
	void *p = xmalloc(24);
	xfree(p);
	xfree(p);
}

static void double_free_big(void)
{
	void *p = xmalloc(1 << 20);
	xfree(p);
	xfree(p);
}

static void free_interior(void)
{
	char *p = xmalloc(100);
	xfree(p + 16);
}

static void free_foreign(void)
{
	static char not_ours[64];
	xfree(not_ours + 16);
}

#ifndef VMS_TEST_ARENA
/* Without an arena: a released segment reads zero, so a stale pointer
 * into it fails the magic check.  (In the arena the header is PROT_NONE
 * again and, without the shim's fault handler, reading it would SIGSEGV;
 * under the shim it reads zero too.) */
static void free_released_segment(void)
{
	/* 100000 bytes: class 114688, 4 per medium span, 28 per segment:
	 * three segments, all empty after the frees and the trim, so at
	 * least two are released (one stays as a spare). */
	static void *p[64];
	for (int i = 0; i < 64; i++) {
		p[i] = xmalloc(100000);
	}
	for (int i = 0; i < 64; i++) {
		xfree(p[i]);
	}
	vms_heap_collect(H(), true);
	for (int i = 0; i < 64; i++) {
		if (vms_segment_of(p[i])->magic == 0) {
			xfree(p[i]);
			_exit(4);
		}
	}
	fprintf(stderr, "no segment released\n");
	_exit(3);
}
#endif

static void test_misuse_aborts(void **state)
{
	(void)state;
	expect_abort(double_free_small);
	expect_abort(double_free_big);
	expect_abort(free_interior);
	expect_abort(free_foreign);
#ifndef VMS_TEST_ARENA
	expect_abort(free_released_segment);
#endif
}

/* ---- fork: the forking thread passes through its own held locks ---- */

static void test_fork_holder_can_allocate(void **state)
{
	(void)state;
	vms_alloc_prefork();
	/* As an atfork handler would: allocate small and big, free. */
	void *a = xmalloc(100), *b = xmalloc(1 << 20);
	xfree(a);
	xfree(b);
	vms_alloc_postfork_parent();
	vms_alloc_prefork();
	vms_alloc_postfork_child();
	assert_int_equal(vms_fork_holder, 0);
	void *c = xmalloc(1 << 20);
	xfree(c);
}

/* ---- the pinned heap (libc's own allocations) ---- */

static void *free_in_thread(void *p)
{
	vms_free(vms_heap_get(), p);
	return NULL;
}

/* Pinned memory is the kernel's: outside the arena even when there is one. */
static bool pinned_mapping(const void *p)
{
	return !in_arena(p);
}

static void test_pinned_heap(void **state)
{
	(void)state;
	size_t committed = vms_pinned_committed();
	/* Small, medium, large: pinned segments, the kernel's memory. */
	static const size_t sizes[] = { 16, 100, 4096, 8192, 40000, 131072, 700000 };
	void *p[sizeof sizes / sizeof sizes[0]];
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		p[i] = vms_pinned_alloc(sizes[i], false);
		assert_non_null(p[i]);
		assert_true(vms_is_pinned_block(p[i]));
		assert_true(pinned_mapping(p[i]));
		fill(p[i], sizes[i], 0x5a);
	}
	assert_true(vms_pinned_committed() > committed);
	/* A big block: its own mapping of the kernel's memory. */
	void *big = vms_pinned_alloc(3u << 20, false);
	assert_non_null(big);
	assert_false(vms_is_pinned_block(big));
	assert_true(pinned_mapping(big));
	fill(big, 3u << 20, 1);
	/* Ordinary memory never lands in a pinned segment. */
	void *o = xmalloc(100);
	assert_false(vms_is_pinned_block(o));
#ifdef VMS_TEST_ARENA
	assert_true(in_arena(o));
#endif
	/* calloc is zero. */
	unsigned char *z = vms_pinned_calloc(10, 100);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(z[i], 0);
	}
	/* realloc on libc's behalf moves ordinary blocks to pinned memory
	 * and keeps the contents; the old block is freed. */
	memset(o, 7, 100);
	unsigned char *q = vms_pinned_realloc(vms_heap_get(), o, 5000);
	assert_true(vms_is_pinned_block(q));
	assert_int_equal(q[99], 7);
	/* free from the owner thread's heap and from another thread. */
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, free_in_thread, p[0]), 0);
	pthread_join(t, NULL);
	for (size_t i = 1; i < sizeof sizes / sizeof sizes[0]; i++) {
		xfree(p[i]);
	}
	xfree(big);
	xfree(z);
	xfree(q);
	/* Blocks freed from anywhere are reusable by the pinned heap. */
	void *again = vms_pinned_alloc(16, false);
	assert_true(vms_is_pinned_block(again));
	xfree(again);
}

static void test_stats_json(void **state)
{
	(void)state;
	void *p = xmalloc(100);
	char buf[8192];
	size_t n = vms_alloc_stats_json(buf, sizeof buf);
	assert_true(n > 0 && n < sizeof buf);
	assert_non_null(strstr(buf, "\"alloc\": {\"blocks\": "));
	assert_non_null(strstr(buf, "\"112\": "));
	xfree(p);
}

static int setup(void **state)
{
	(void)state;
#ifdef VMS_TEST_ARENA
	static char *env[] = { "VMSHIM_ARENA_SIZE=256G", NULL };
	vms_options_load(env);
	vms_mm_init();
	if (vms_mm.base == 0) {
		fprintf(stderr, "cannot reserve an arena\n");
		return -1;
	}
#endif
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classes_cover_every_size),
		cmocka_unit_test(test_divtest_matches_modulo),
		cmocka_unit_test(test_every_class_carves_aligned_distinct_blocks),
		cmocka_unit_test(test_free_then_malloc_reuses_lifo),
		cmocka_unit_test(test_calloc_zeroes_recycled_not_fresh),
		cmocka_unit_test(test_realloc_keeps_contents_across_classes),
		cmocka_unit_test(test_aligned_classes),
		cmocka_unit_test(test_impossible_sizes),
		cmocka_unit_test(test_big_blocks_map_remap_and_table),
		cmocka_unit_test(test_remote_free_of_a_full_span_notifies),
		cmocka_unit_test(test_local_free_of_full_span_unfulls),
		cmocka_unit_test(test_threads_churn_and_exit),
		cmocka_unit_test(test_memory_goes_back_after_a_peak),
		cmocka_unit_test(test_purge_keeps_accounting),
		cmocka_unit_test(test_misuse_aborts),
		cmocka_unit_test(test_fork_holder_can_allocate),
		cmocka_unit_test(test_pinned_heap),
		cmocka_unit_test(test_stats_json),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
