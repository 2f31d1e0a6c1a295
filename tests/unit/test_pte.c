/*
 * tests/unit/test_pte.c - the software page table (vm/pte.c), without
 * LD_PRELOAD: PTE bit helpers, lookup/ensure/span, node accounting, range
 * release (partial, huge and sparse), out-of-table addresses, ENOMEM
 * injection and concurrent ensure from several threads.
 *
 * Layout facts used below (see the top of vm/pte.c): arenas up to 128 GiB
 * use top -> leaf, larger ones top -> middle -> leaf; a leaf covers 512
 * pages (2 MiB), a middle 2^18 pages (1 GiB).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <cmocka.h>

#include "vm/pte.h"

#define PG 4096ULL
#define LEAF_PAGES 512ULL
#define MID_PAGES (512ULL * 512ULL)
#define GiB (1ULL << 30)
#define TiB (1ULL << 40)
/* An arbitrary page-aligned base; the table never touches the arena. */
#define BASE ((uintptr_t)0x200000000000ULL)

static uintptr_t page(uint64_t pn) { return BASE + pn * PG; }

static vms_pte_t val(uint64_t pn)
{
	return vms_pte_with_slot(VMS_PTE_PRESENT | PROT_READ, pn + 1);
}

static void init_table(struct vms_pte_table *t, uintptr_t base, uint64_t len)
{
	assert_int_equal(vms_pte_table_init(t, base, (size_t)len), 0);
	assert_int_equal(vms_pte_node_count(t), 0);
}

/* Node count and pool agree (no leaked loser node, no double free). */
static void assert_nodes(struct vms_pte_table *t, size_t n)
{
	assert_int_equal(vms_pte_node_count(t), n);
	assert_int_equal(vms_pool_in_use(&t->pool), n);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- PTE format helpers ---- */

static void test_bits_slot_and_prot(void **state)
{
	(void)state;
	vms_pte_t p = VMS_PTE_PRESENT | VMS_PTE_DIRTY | PROT_READ | PROT_WRITE;
	assert_int_equal(vms_pte_slot(p), 0);
	vms_pte_t q = vms_pte_with_slot(p, 12345);
	assert_int_equal(vms_pte_slot(q), 12345);
	assert_int_equal(q & 0xffff, p);
	assert_int_equal(vms_pte_prot(q), PROT_READ | PROT_WRITE);
	/* Replacing a slot keeps the flags and drops the old slot. */
	q = vms_pte_with_slot(q, 7);
	assert_int_equal(vms_pte_slot(q), 7);
	assert_int_equal(q & 0xffff, p);
	q = vms_pte_with_slot(q, VMS_PTE_SLOT_MAX);
	assert_int_equal(vms_pte_slot(q), VMS_PTE_SLOT_MAX);
	assert_int_equal(q, p | ~0xffffULL);
	q = vms_pte_with_slot(q, 0);
	assert_int_equal(q, p);
	/* Flag bits in the slot argument's way are replaced, not ORed. */
	assert_int_equal(vms_pte_with_slot(~0ULL, 1), (1ULL << 16) | 0xffff);
	assert_int_equal(vms_pte_prot(PROT_EXEC | VMS_PTE_SWAPPED | VMS_PTE_COW), PROT_EXEC);
	assert_int_equal(vms_pte_prot(VMS_PTE_PRESENT), 0);
	assert_int_equal(VMS_PTE_PROT_MASK, PROT_READ | PROT_WRITE | PROT_EXEC);
}

static void test_bits_are_distinct(void **state)
{
	(void)state;
	const vms_pte_t flags[] = { VMS_PTE_PRESENT, VMS_PTE_DIRTY, VMS_PTE_ACCESSED,
				    VMS_PTE_COW, VMS_PTE_LOCKED, VMS_PTE_SWAPPED,
				    VMS_PTE_BUSY, VMS_PTE_FILE, VMS_PTE_SWAPCACHE };
	vms_pte_t all = VMS_PTE_PROT_MASK;
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		assert_int_equal(__builtin_popcountll(flags[i]), 1);
		assert_int_equal(all & flags[i], 0);
		all |= flags[i];
		assert_int_equal(vms_pte_slot(flags[i]), 0);
	}
	assert_int_equal(all, 0xfff);  /* bits 12-15 reserved */
}

static void test_bits_atomic_helpers(void **state)
{
	(void)state;
	vms_pte_t w = 0;
	vms_pte_store(&w, VMS_PTE_PRESENT);
	assert_int_equal(vms_pte_load(&w), VMS_PTE_PRESENT);
	vms_pte_t exp = 0;
	assert_false(vms_pte_cas(&w, &exp, VMS_PTE_DIRTY));
	assert_int_equal(exp, VMS_PTE_PRESENT);  /* failure loads the current value */
	assert_true(vms_pte_cas(&w, &exp, VMS_PTE_DIRTY));
	assert_int_equal(w, VMS_PTE_DIRTY);
}

/* ---- init ---- */

static void test_init_sizes_and_errors(void **state)
{
	(void)state;
	static const struct {
		uint64_t len;
		size_t top;
	} cases[] = {
		{ PG, 1 },                      /* top -> leaf */
		{ 1000 * PG, 2 },
		{ GiB, 512 },
		{ 128 * GiB, 65536 },           /* largest two-level table */
		{ 128 * GiB + PG, 129 },        /* top -> middle -> leaf */
		{ TiB, 1024 },
		{ 64 * TiB, 65536 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct vms_pte_table t;
		init_table(&t, BASE, cases[i].len);
		assert_int_equal(t.npages, cases[i].len / PG);
		assert_int_equal(t.top_entries, cases[i].top);
		assert_int_equal(t.base, BASE);
		assert_non_null(t.top);
		vms_pte_table_destroy(&t);
	}
	struct vms_pte_table t;
	assert_int_not_equal(vms_pte_table_init(&t, BASE + 1, GiB), 0);
	assert_int_not_equal(vms_pte_table_init(&t, BASE, GiB + 1), 0);
	assert_int_not_equal(vms_pte_table_init(&t, BASE, 0), 0);
	assert_int_not_equal(vms_pte_table_init(&t, UINTPTR_MAX - PG + 1, 2 * PG), 0);
	assert_int_equal(vms_pte_table_init(&t, BASE, 64 * TiB + PG), ENOMEM);
}

/* ---- lookup, ensure, span ---- */

static void test_lookup_empty(void **state)
{
	(void)state;
	const uint64_t lens[] = { GiB, 64 * TiB };
	for (size_t i = 0; i < 2; i++) {
		struct vms_pte_table t;
		init_table(&t, BASE, lens[i]);
		uint64_t np = lens[i] / PG;
		assert_null(vms_pte_lookup(&t, page(0)));
		assert_null(vms_pte_lookup(&t, page(np / 2) + 123));
		assert_null(vms_pte_lookup(&t, page(np - 1)));
		vms_pte_t *first = (vms_pte_t *)1;
		/* A missing leaf spans its 512 pages; a missing middle node (the
		 * 3-level table) spans its whole gibibyte. */
		assert_int_equal(vms_pte_span(&t, page(0), &first), lens[i] == GiB ? 512 : MID_PAGES);
		assert_null(first);
		first = (vms_pte_t *)1;
		assert_int_equal(vms_pte_span(&t, page(np - 3), &first), 3);
		assert_null(first);
		assert_nodes(&t, 0);
		vms_pte_table_destroy(&t);
	}
}

static void test_ensure_two_levels(void **state)
{
	(void)state;
	struct vms_pte_table t;
	init_table(&t, BASE, GiB);
	vms_pte_t *p = vms_pte_ensure(&t, page(0));
	assert_non_null(p);
	assert_int_equal(*p, 0);
	assert_nodes(&t, 1);
	assert_ptr_equal(vms_pte_lookup(&t, page(0)), p);
	assert_ptr_equal(vms_pte_lookup(&t, page(0) + 100), p);  /* inside the page */
	assert_ptr_equal(vms_pte_ensure(&t, page(1)), p + 1);
	assert_ptr_equal(vms_pte_ensure(&t, page(511)), p + 511);
	assert_ptr_equal(vms_pte_lookup(&t, page(300)), p + 300);
	assert_nodes(&t, 1);
	/* The next page is in the next leaf. */
	assert_null(vms_pte_lookup(&t, page(512)));
	vms_pte_t *q = vms_pte_ensure(&t, page(512));
	assert_non_null(q);
	assert_true(q < p || q >= p + 512);
	assert_nodes(&t, 2);
	assert_ptr_equal(vms_pte_lookup(&t, page(513)), q + 1);
	/* Stores through one pointer are seen through the other. */
	vms_pte_store(p + 5, val(5));
	assert_int_equal(vms_pte_load(vms_pte_lookup(&t, page(5))), val(5));
	/* Last page of the arena. */
	vms_pte_t *z = vms_pte_ensure(&t, page(GiB / PG - 1));
	assert_non_null(z);
	assert_ptr_equal(vms_pte_lookup(&t, page(GiB / PG - 1)), z);
	assert_nodes(&t, 3);
	vms_pte_table_destroy(&t);
	assert_int_equal(vms_pool_in_use(&t.pool), 0);
	assert_int_equal(vms_pte_node_count(&t), 0);
}

static void test_ensure_three_levels(void **state)
{
	(void)state;
	struct vms_pte_table t;
	init_table(&t, BASE, TiB);
	vms_pte_t *p = vms_pte_ensure(&t, page(0));
	assert_non_null(p);
	assert_nodes(&t, 2);  /* middle + leaf */
	assert_ptr_equal(vms_pte_ensure(&t, page(3)), p + 3);
	assert_nodes(&t, 2);
	vms_pte_t *q = vms_pte_ensure(&t, page(LEAF_PAGES));  /* same middle */
	assert_non_null(q);
	assert_nodes(&t, 3);
	assert_null(vms_pte_lookup(&t, page(2 * LEAF_PAGES)));  /* middle, no leaf */
	assert_null(vms_pte_lookup(&t, page(MID_PAGES)));       /* no middle */
	vms_pte_t *r = vms_pte_ensure(&t, page(MID_PAGES + 7)); /* new middle */
	assert_non_null(r);
	assert_nodes(&t, 5);
	vms_pte_t *z = vms_pte_ensure(&t, page(TiB / PG - 1));
	assert_non_null(z);
	assert_nodes(&t, 7);
	assert_ptr_equal(vms_pte_lookup(&t, page(0)), p);
	assert_ptr_equal(vms_pte_lookup(&t, page(LEAF_PAGES + 9)), q + 9);
	assert_ptr_equal(vms_pte_lookup(&t, page(MID_PAGES + 7)), r);
	assert_ptr_equal(vms_pte_lookup(&t, page(MID_PAGES)), r - 7);
	assert_ptr_equal(vms_pte_lookup(&t, page(TiB / PG - 1)), z);
	vms_pte_table_destroy(&t);
	assert_int_equal(vms_pool_in_use(&t.pool), 0);
}

static void test_span_boundaries_and_holes(void **state)
{
	(void)state;
	struct vms_pte_table t;
	vms_pte_t *first;
	/* 1000 pages: leaf 0 full, leaf 1 holds pages 512..999 only. */
	init_table(&t, BASE, 1000 * PG);
	vms_pte_t *p = vms_pte_ensure(&t, page(3));
	assert_non_null(p);
	p -= 3;
	assert_int_equal(vms_pte_span(&t, page(0), &first), 512);
	assert_ptr_equal(first, p);  /* the leaf exists though PTE 0 is zero */
	assert_int_equal(vms_pte_span(&t, page(5) + 17, &first), 507);
	assert_ptr_equal(first, p + 5);
	assert_int_equal(vms_pte_span(&t, page(511), &first), 1);
	assert_ptr_equal(first, p + 511);
	first = p;
	assert_int_equal(vms_pte_span(&t, page(512), &first), 488);  /* hole, ends with table */
	assert_null(first);
	assert_int_equal(vms_pte_span(&t, page(999), &first), 1);
	assert_null(first);
	vms_pte_t *q = vms_pte_ensure(&t, page(700));
	assert_int_equal(vms_pte_span(&t, page(512), &first), 488);
	assert_ptr_equal(first, q - 188);
	assert_int_equal(vms_pte_span(&t, page(998), &first), 2);
	assert_ptr_equal(first, q + 298);
	/* A walk over the whole table visits each page exactly once. */
	uint64_t pages = 0, leaves = 0;
	for (uintptr_t a = page(0); a < page(1000);) {
		size_t n = vms_pte_span(&t, a, &first);
		assert_true(n >= 1);
		leaves += first != NULL;
		pages += n;
		a += n * PG;
	}
	assert_int_equal(pages, 1000);
	assert_int_equal(leaves, 2);
	vms_pte_table_destroy(&t);

	/* Three levels: hole with no middle, and hole under a middle. */
	init_table(&t, BASE, TiB);
	assert_non_null(vms_pte_ensure(&t, page(0)));
	assert_int_equal(vms_pte_span(&t, page(LEAF_PAGES + 10), &first), 502);
	assert_null(first);
	assert_int_equal(vms_pte_span(&t, page(5 * MID_PAGES + 511), &first), MID_PAGES - 511);
	assert_null(first);
	assert_int_equal(vms_pte_span(&t, page(0) + 1, &first), 512);
	assert_ptr_equal(first, vms_pte_lookup(&t, page(0)));
	vms_pte_table_destroy(&t);
}

/* ---- release ---- */

static void test_release_partial_keeps_nonzero_leaves(void **state)
{
	(void)state;
	struct vms_pte_table t;
	init_table(&t, BASE, TiB);
	const uint64_t set[] = { 10, 20, 30 };
	for (size_t i = 0; i < 3; i++) {
		vms_pte_store(vms_pte_ensure(&t, page(set[i])), val(set[i]));
	}
	assert_nodes(&t, 2);
	vms_pte_release_range(&t, page(10), page(21));
	assert_nodes(&t, 2);  /* page 30 still set */
	assert_int_equal(*vms_pte_lookup(&t, page(10)), 0);
	assert_int_equal(*vms_pte_lookup(&t, page(20)), 0);
	assert_int_equal(*vms_pte_lookup(&t, page(30)), val(30));
	/* A range widened to whole pages: 100..200 bytes into page 30. */
	vms_pte_release_range(&t, page(30) + 100, page(30) + 200);
	assert_null(vms_pte_lookup(&t, page(30)));  /* leaf and middle freed */
	assert_nodes(&t, 0);

	/* Two leaves under one middle: freeing one keeps the middle. */
	vms_pte_store(vms_pte_ensure(&t, page(0)), val(0));
	vms_pte_store(vms_pte_ensure(&t, page(LEAF_PAGES + 1)), val(1));
	assert_nodes(&t, 3);
	vms_pte_release_range(&t, page(0), page(LEAF_PAGES));
	assert_nodes(&t, 2);
	assert_null(vms_pte_lookup(&t, page(0)));
	assert_int_equal(*vms_pte_lookup(&t, page(LEAF_PAGES + 1)), val(1));
	/* Releasing a page next to it (same leaf) changes nothing. */
	vms_pte_release_range(&t, page(LEAF_PAGES + 2), page(LEAF_PAGES + 3));
	assert_nodes(&t, 2);
	assert_int_equal(*vms_pte_lookup(&t, page(LEAF_PAGES + 1)), val(1));

	/* A leaf that was ensured but never set is freed when a release
	 * touches any part of it, even pages other than the ensured one. */
	assert_non_null(vms_pte_ensure(&t, page(3 * LEAF_PAGES + 100)));
	assert_nodes(&t, 3);
	vms_pte_release_range(&t, page(3 * LEAF_PAGES + 400), page(3 * LEAF_PAGES + 401));
	assert_nodes(&t, 2);
	assert_null(vms_pte_lookup(&t, page(3 * LEAF_PAGES + 100)));

	/* A range across middles, with the ends inside leaves. */
	const uint64_t far[] = { MID_PAGES - 1, MID_PAGES, 2 * MID_PAGES + 5,
				 7 * MID_PAGES + 3, 7 * MID_PAGES + 600 };
	for (size_t i = 0; i < 5; i++) {
		vms_pte_store(vms_pte_ensure(&t, page(far[i])), val(far[i]));
	}
	/* leaf 1 of middle 0 (+ its middle), leaf of MID_PAGES-1, 4 nodes in
	 * middles 1 and 2, 3 nodes in middle 7. */
	assert_nodes(&t, 2 + 1 + 4 + 3);
	vms_pte_release_range(&t, page(LEAF_PAGES + 2), page(7 * MID_PAGES + 4));
	/* Kept: middle 0 with leaf 1 (page LEAF_PAGES+1), middle 7 with the
	 * leaf of 7*MID+600; the leaf of 7*MID+3 is all zero now. */
	assert_nodes(&t, 4);
	assert_int_equal(*vms_pte_lookup(&t, page(LEAF_PAGES + 1)), val(1));
	assert_int_equal(*vms_pte_lookup(&t, page(7 * MID_PAGES + 600)), val(7 * MID_PAGES + 600));
	assert_null(vms_pte_lookup(&t, page(7 * MID_PAGES + 3)));
	assert_null(vms_pte_lookup(&t, page(MID_PAGES - 1)));
	assert_null(vms_pte_lookup(&t, page(MID_PAGES)));
	assert_null(vms_pte_lookup(&t, page(2 * MID_PAGES + 5)));

	vms_pte_release_range(&t, BASE, BASE + TiB);
	assert_nodes(&t, 0);
	vms_pte_table_destroy(&t);
}

static void test_release_everything_then_reuse(void **state)
{
	(void)state;
	const uint64_t lens[] = { 4 * GiB, 4 * TiB };
	for (size_t k = 0; k < 2; k++) {
		struct vms_pte_table t;
		init_table(&t, BASE, lens[k]);
		uint64_t np = lens[k] / PG;
		/* Fill 3 whole leaves and scatter a few pages. */
		for (uint64_t pn = 0; pn < 3 * LEAF_PAGES; pn++) {
			vms_pte_store(vms_pte_ensure(&t, page(pn)), val(pn));
		}
		for (uint64_t pn = 5000; pn < np; pn += np / 7) {
			vms_pte_store(vms_pte_ensure(&t, page(pn)), val(pn));
		}
		assert_true(vms_pte_node_count(&t) > 3);
		assert_int_equal(vms_pool_in_use(&t.pool), vms_pte_node_count(&t));
		vms_pte_release_range(&t, BASE, BASE + lens[k]);
		assert_nodes(&t, 0);
		for (uint64_t pn = 0; pn < np; pn += np / 64) {
			assert_null(vms_pte_lookup(&t, page(pn)));
		}
		/* Recycled nodes come back zeroed. */
		for (uint64_t pn = 0; pn < 3 * LEAF_PAGES; pn += 17) {
			vms_pte_t *p = vms_pte_ensure(&t, page(pn));
			assert_non_null(p);
			assert_int_equal(*p, 0);
		}
		assert_nodes(&t, k == 0 ? 3 : 4);
		vms_pte_table_destroy(&t);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static size_t count_distinct(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_u64);
	size_t d = 0;
	for (size_t i = 0; i < n; i++) {
		d += i == 0 || v[i] != v[i - 1];
	}
	return d;
}

#define SPARSE_N 3000

static void check_huge_sparse(uint64_t len)
{
	struct vms_pte_table t;
	init_table(&t, BASE, len);
	uint64_t np = len / PG;
	static uint64_t pns[SPARSE_N], leaves[SPARSE_N], mids[SPARSE_N];
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	for (size_t i = 0; i < SPARSE_N; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		pns[i] = (x >> 11) % np;
	}
	pns[0] = 0;
	pns[1] = np - 1;
	pns[2] = 1;  /* a second page in pns[0]'s leaf */
	for (size_t i = 0; i < SPARSE_N; i++) {
		vms_pte_t *p = vms_pte_ensure(&t, page(pns[i]));
		assert_non_null(p);
		vms_pte_store(p, val(pns[i]));
		leaves[i] = pns[i] / LEAF_PAGES;
		mids[i] = pns[i] / MID_PAGES;
	}
	size_t expect = count_distinct(leaves, SPARSE_N) + count_distinct(mids, SPARSE_N);
	assert_nodes(&t, expect);
	for (size_t i = 0; i < SPARSE_N; i++) {
		vms_pte_t *p = vms_pte_lookup(&t, page(pns[i]));
		assert_non_null(p);
		assert_int_equal(*p, val(pns[i]));
	}
	/* One release over the whole arena: proportional to nodes and top
	 * entries, not to the 2^28 / 2^34 pages.  A per-page walk would take
	 * many seconds; the bound is generous for ASan and loaded machines. */
	double t0 = now();
	vms_pte_release_range(&t, BASE, BASE + len);
	double dt = now() - t0;
	assert_true(dt < 1.0);
	assert_nodes(&t, 0);
	for (size_t i = 0; i < SPARSE_N; i += 97) {
		assert_null(vms_pte_lookup(&t, page(pns[i])));
	}
	/* Releasing an empty huge table is fast too, repeatedly. */
	t0 = now();
	for (int i = 0; i < 10; i++) {
		vms_pte_release_range(&t, 0, UINTPTR_MAX);
	}
	assert_true(now() - t0 < 1.0);
	vms_pte_table_destroy(&t);
}

static void test_huge_sparse_1tib(void **state)
{
	(void)state;
	check_huge_sparse(TiB);
}

static void test_huge_sparse_64tib(void **state)
{
	(void)state;
	check_huge_sparse(64 * TiB);
}

/* ---- out of the table ---- */

static void test_outside_addresses(void **state)
{
	(void)state;
	struct vms_pte_table t;
	init_table(&t, BASE, GiB);
	const uintptr_t out[] = { 0, BASE - 1, BASE - PG, BASE + GiB, BASE + GiB + 5,
				  UINTPTR_MAX };
	for (size_t i = 0; i < sizeof out / sizeof out[0]; i++) {
		assert_null(vms_pte_lookup(&t, out[i]));
		assert_null(vms_pte_ensure(&t, out[i]));
	}
	assert_nodes(&t, 0);
	vms_pte_store(vms_pte_ensure(&t, page(0)), val(0));
	uint64_t last = GiB / PG - 1;
	vms_pte_store(vms_pte_ensure(&t, page(last)), val(last));
	assert_nodes(&t, 2);
	/* Ranges entirely outside, empty or reversed change nothing. */
	vms_pte_release_range(&t, 0, BASE);
	vms_pte_release_range(&t, BASE + GiB, UINTPTR_MAX);
	vms_pte_release_range(&t, page(0), page(0));
	vms_pte_release_range(&t, page(1), page(0));
	assert_nodes(&t, 2);
	assert_int_equal(*vms_pte_lookup(&t, page(0)), val(0));
	/* Ranges sticking out at either end are clamped. */
	vms_pte_release_range(&t, 0, page(1));
	assert_null(vms_pte_lookup(&t, page(0)));
	vms_pte_release_range(&t, page(last), UINTPTR_MAX);
	assert_nodes(&t, 0);
	vms_pte_table_destroy(&t);

	/* A table at address 0: no overflow when end is UINTPTR_MAX. */
	init_table(&t, 0, TiB);
	vms_pte_store(vms_pte_ensure(&t, 0), val(0));
	vms_pte_store(vms_pte_ensure(&t, TiB - PG), val(1));
	assert_null(vms_pte_ensure(&t, TiB));
	assert_nodes(&t, 4);
	vms_pte_release_range(&t, 0, UINTPTR_MAX);
	assert_nodes(&t, 0);
	vms_pte_table_destroy(&t);
}

/* ---- ENOMEM ---- */

static void test_enomem_two_levels(void **state)
{
	(void)state;
	struct vms_pte_table t;
	init_table(&t, BASE, GiB);
	vms_pte_fail_alloc_after(&t, 0);
	assert_null(vms_pte_ensure(&t, page(0)));
	assert_nodes(&t, 0);
	assert_null(vms_pte_lookup(&t, page(0)));
	/* The injected failure is one-shot. */
	vms_pte_t *p = vms_pte_ensure(&t, page(0));
	assert_non_null(p);
	vms_pte_store(p, val(0));
	assert_nodes(&t, 1);
	/* (n+1)-th allocation fails: two new leaves succeed, the third not. */
	vms_pte_fail_alloc_after(&t, 2);
	assert_non_null(vms_pte_ensure(&t, page(LEAF_PAGES)));
	assert_non_null(vms_pte_ensure(&t, page(2 * LEAF_PAGES)));
	assert_non_null(vms_pte_ensure(&t, page(5)));  /* existing leaf: no allocation */
	assert_null(vms_pte_ensure(&t, page(3 * LEAF_PAGES)));
	assert_nodes(&t, 3);
	assert_int_equal(*vms_pte_lookup(&t, page(0)), val(0));
	vms_pte_release_range(&t, BASE, BASE + GiB);
	assert_nodes(&t, 0);
	vms_pte_table_destroy(&t);
}

static void test_enomem_three_levels(void **state)
{
	(void)state;
	struct vms_pte_table t;
	vms_pte_t *first;
	init_table(&t, BASE, TiB);
	/* The middle allocation fails: nothing installed. */
	vms_pte_fail_alloc_after(&t, 0);
	assert_null(vms_pte_ensure(&t, page(0)));
	assert_nodes(&t, 0);
	/* The leaf allocation fails: the middle stays, empty. */
	vms_pte_fail_alloc_after(&t, 1);
	assert_null(vms_pte_ensure(&t, page(0)));
	assert_nodes(&t, 1);
	assert_null(vms_pte_lookup(&t, page(0)));
	assert_int_equal(vms_pte_span(&t, page(0), &first), 512);
	assert_null(first);
	/* A retry reuses that middle. */
	vms_pte_t *p = vms_pte_ensure(&t, page(0));
	assert_non_null(p);
	vms_pte_store(p, val(0));
	assert_nodes(&t, 2);
	/* Leaf failure under an existing middle leaves the rest intact. */
	vms_pte_fail_alloc_after(&t, 0);
	assert_null(vms_pte_ensure(&t, page(LEAF_PAGES)));
	assert_nodes(&t, 2);
	assert_ptr_equal(vms_pte_lookup(&t, page(0)), p);
	assert_int_equal(*p, val(0));
	/* An empty middle left by a failure is reclaimed by a release that
	 * reaches it, and destroy copes with one too. */
	vms_pte_fail_alloc_after(&t, 1);
	assert_null(vms_pte_ensure(&t, page(3 * MID_PAGES)));
	assert_nodes(&t, 3);
	vms_pte_release_range(&t, page(3 * MID_PAGES + 1000), page(3 * MID_PAGES + 1001));
	assert_nodes(&t, 2);
	vms_pte_fail_alloc_after(&t, 1);
	assert_null(vms_pte_ensure(&t, page(9 * MID_PAGES)));
	assert_nodes(&t, 3);
	vms_pte_table_destroy(&t);
	assert_int_equal(vms_pool_in_use(&t.pool), 0);
}

/* ---- threads ---- */

/*
 * Worker threads stay alive across iterations; the main thread joins the
 * start and done barriers of each one and, between them, checks the counts
 * and empties the table, so each iteration races to install fresh nodes.
 */
#define NTHREADS 8
#define ITERATIONS 2000
#define ROUNDS 10
#define NMID 3
#define NLEAF 4
static const uint64_t thread_offsets[] = { 0, 1, 7, 255, 511 };
#define NOFF (sizeof thread_offsets / sizeof thread_offsets[0])
#define NADDR (NMID * NLEAF * NOFF)

struct thread_ctx {
	struct vms_pte_table *t;
	pthread_barrier_t *start, *done;
	const uintptr_t *addrs;
	int id;
	int errors;
};

static void *thread_main(void *arg)
{
	struct thread_ctx *c = arg;
	for (int it = 0; it < ITERATIONS; it++) {
		pthread_barrier_wait(c->start);
		for (int r = 0; r < ROUNDS; r++) {
			for (size_t k = 0; k < NADDR; k++) {
				/* Round 0: all threads in the same order, to
				 * collide on installs; then each its own. */
				size_t i = r == 0 ? k :
					   (k * (c->id % 2 ? 1 : NADDR - 1) +
					    (size_t)c->id * 7) % NADDR;
				vms_pte_t *p = vms_pte_ensure(c->t, c->addrs[i]);
				if (p == NULL || vms_pte_lookup(c->t, c->addrs[i]) != p) {
					c->errors++;
					continue;
				}
				vms_pte_t old = vms_pte_load(p);
				while (!vms_pte_cas(p, &old, old + 1)) {
				}
			}
		}
		pthread_barrier_wait(c->done);
	}
	return NULL;
}

static void test_threads_ensure_and_cas(void **state)
{
	(void)state;
	static uintptr_t addrs[NADDR];
	size_t n = 0;
	for (uint64_t m = 0; m < NMID; m++) {
		for (uint64_t l = 0; l < NLEAF; l++) {
			for (size_t o = 0; o < NOFF; o++) {
				/* middles 0, 2, 4; leaves 0, 3, 6, 9 of each */
				addrs[n++] = page(2 * m * MID_PAGES + 3 * l * LEAF_PAGES +
						  thread_offsets[o]);
			}
		}
	}
	struct vms_pte_table t;
	init_table(&t, BASE, TiB);
	pthread_barrier_t start, done;
	pthread_barrier_init(&start, NULL, NTHREADS + 1);
	pthread_barrier_init(&done, NULL, NTHREADS + 1);
	pthread_t th[NTHREADS];
	struct thread_ctx ctx[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		ctx[i] = (struct thread_ctx){ .t = &t, .start = &start, .done = &done,
					      .addrs = addrs, .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, thread_main, &ctx[i]), 0);
	}
	int bad = 0;
	for (int it = 0; it < ITERATIONS; it++) {
		pthread_barrier_wait(&start);
		pthread_barrier_wait(&done);
		/* Workers wait at the next start barrier: the table is ours.
		 * Record failures and keep going so the workers can finish. */
		for (size_t i = 0; i < NADDR; i++) {
			vms_pte_t *p = vms_pte_lookup(&t, addrs[i]);
			bad += p == NULL || *p != NTHREADS * ROUNDS;
		}
		/* Exactly one node per distinct leaf and middle; losers freed. */
		bad += vms_pte_node_count(&t) != NMID + NMID * NLEAF;
		bad += vms_pool_in_use(&t.pool) != NMID + NMID * NLEAF;
		vms_pte_release_range(&t, BASE, BASE + TiB);
		bad += vms_pte_node_count(&t) != 0;
	}
	for (int i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(ctx[i].errors, 0);
	}
	pthread_barrier_destroy(&start);
	pthread_barrier_destroy(&done);
	assert_int_equal(bad, 0);
	assert_nodes(&t, 0);
	vms_pte_table_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bits_slot_and_prot),
		cmocka_unit_test(test_bits_are_distinct),
		cmocka_unit_test(test_bits_atomic_helpers),
		cmocka_unit_test(test_init_sizes_and_errors),
		cmocka_unit_test(test_lookup_empty),
		cmocka_unit_test(test_ensure_two_levels),
		cmocka_unit_test(test_ensure_three_levels),
		cmocka_unit_test(test_span_boundaries_and_holes),
		cmocka_unit_test(test_release_partial_keeps_nonzero_leaves),
		cmocka_unit_test(test_release_everything_then_reuse),
		cmocka_unit_test(test_huge_sparse_1tib),
		cmocka_unit_test(test_huge_sparse_64tib),
		cmocka_unit_test(test_outside_addresses),
		cmocka_unit_test(test_enomem_two_levels),
		cmocka_unit_test(test_enomem_three_levels),
		cmocka_unit_test(test_threads_ensure_and_cas),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
