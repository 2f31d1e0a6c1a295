/*
 * tests/unit/test_vma.c - the VMA set (vm/vma.c) in isolation, without
 * LD_PRELOAD: lookups, split/clip/merge shown as before/after ASCII rows
 * (vms_vma_draw), top-down gap search, ENOMEM injection, and a randomized
 * run against a plain array model with a brute-force gap search.
 *
 * Pictures: PIC_PAGES cells, one page each, starting at BASE; '.' is free,
 * letters name the VMAs in address order (see vms_vma_draw in vma.c).
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vm/vma.h"

#define PG ((uintptr_t)4096)
#define BASE ((uintptr_t)0x10000000)   /* 256 MiB: aligned for every align used */
#define P(n) (BASE + (uintptr_t)(n) * PG)
#define PIC_PAGES 16

static char pic_buf[PIC_PAGES + 1];

static const char *pic(const struct vms_vma_set *s)
{
	size_t n = vms_vma_draw(s, P(0), P(PIC_PAGES), PIC_PAGES, pic_buf, sizeof pic_buf);
	assert_int_equal(n, PIC_PAGES);
	return pic_buf;
}

/* Inserts [P(a), P(b)) with the given protection; everything else zero. */
static struct vms_vma *add(struct vms_vma_set *s, unsigned a, unsigned b, int prot)
{
	struct vms_vma *v = vms_vma_new(s, P(a), P(b));
	assert_non_null(v);
	v->prot = prot;
	vms_vma_insert(s, v);
	assert_int_equal(vms_vma_check(s), 0);
	return v;
}

static void set_file(struct vms_vma *v, void *object, uint64_t pgoff)
{
	v->object = object;
	v->pgoff = pgoff;
	v->flags = VMS_VMA_FILE;
}

static uintptr_t gap(const struct vms_vma_set *s, uintptr_t lo, uintptr_t hi, size_t len,
		     size_t align)
{
	uintptr_t out = 0;
	assert_int_equal(vms_vma_find_gap(s, lo, hi, len, align, &out), 0);
	return out;
}

static void no_gap(const struct vms_vma_set *s, uintptr_t lo, uintptr_t hi, size_t len,
		   size_t align)
{
	uintptr_t out = 12345;
	assert_int_equal(vms_vma_find_gap(s, lo, hi, len, align, &out), ENOMEM);
	assert_int_equal(out, 12345);
}

static void test_empty_set(void **state)
{
	(void)state;
	struct vms_vma_set s;
	vms_vma_set_init(&s);
	assert_int_equal(vms_vma_count(&s), 0);
	assert_int_equal(vms_vma_check(&s), 0);
	assert_null(vms_vma_first(&s));
	assert_null(vms_vma_find(&s, P(3)));
	assert_null(vms_vma_first_in(&s, 0, UINTPTR_MAX));
	assert_true(vms_vma_range_free(&s, 0, UINTPTR_MAX));
	assert_string_equal(pic(&s), "................");
	assert_int_equal(gap(&s, P(0), P(16), 3 * PG, PG), P(13));
	assert_int_equal(gap(&s, P(0), P(16), 3 * PG, 8 * PG), P(8));
}

static void test_insert_find_iterate(void **state)
{
	(void)state;
	struct vms_vma_set s;
	vms_vma_set_init(&s);
	/* Inserted out of order. */
	struct vms_vma *c = add(&s, 10, 12, 1);
	struct vms_vma *a = add(&s, 1, 3, 1);
	struct vms_vma *d = add(&s, 12, 15, 3);
	struct vms_vma *b = add(&s, 5, 8, 1);
	assert_string_equal(pic(&s), ".AA..BBB..CCDDD.");
	assert_int_equal(vms_vma_count(&s), 4);

	assert_ptr_equal(vms_vma_find(&s, P(1)), a);
	assert_ptr_equal(vms_vma_find(&s, P(3) - 1), a);
	assert_null(vms_vma_find(&s, P(3)));
	assert_null(vms_vma_find(&s, P(0)));
	assert_ptr_equal(vms_vma_find(&s, P(7) + 17), b);
	assert_ptr_equal(vms_vma_find(&s, P(12)), d);
	assert_ptr_equal(vms_vma_find(&s, P(12) - 1), c);
	assert_null(vms_vma_find(&s, P(15)));

	assert_ptr_equal(vms_vma_first_in(&s, 0, UINTPTR_MAX), a);
	assert_ptr_equal(vms_vma_first_in(&s, P(2), P(6)), a);
	assert_ptr_equal(vms_vma_first_in(&s, P(3), P(6)), b);
	assert_null(vms_vma_first_in(&s, P(3), P(5)));
	assert_null(vms_vma_first_in(&s, P(8), P(10)));
	assert_ptr_equal(vms_vma_first_in(&s, P(8), P(10) + 1), c);
	assert_ptr_equal(vms_vma_first_in(&s, P(11), P(11)+1), c);
	assert_null(vms_vma_first_in(&s, P(15), UINTPTR_MAX));
	assert_null(vms_vma_first_in(&s, P(6), P(6)));
	assert_true(vms_vma_range_free(&s, P(3), P(5)));
	assert_false(vms_vma_range_free(&s, P(3), P(5) + 1));
	assert_true(vms_vma_range_free(&s, P(15), P(100)));

	struct vms_vma *order[] = { a, b, c, d };
	struct vms_vma *v = vms_vma_first(&s);
	for (int i = 0; i < 4; i++, v = vms_vma_next(v)) {
		assert_ptr_equal(v, order[i]);
	}
	assert_null(v);
	v = d;
	for (int i = 3; i >= 0; i--, v = vms_vma_prev(v)) {
		assert_ptr_equal(v, order[i]);
	}
	assert_null(v);

	vms_vma_remove(&s, b);
	assert_int_equal(vms_vma_check(&s), 0);
	assert_string_equal(pic(&s), ".AA.......BBCCC.");
	assert_ptr_equal(vms_vma_next(a), c);
	assert_ptr_equal(vms_vma_prev(c), a);
	/* A removed VMA can be inserted again. */
	vms_vma_insert(&s, b);
	assert_int_equal(vms_vma_check(&s), 0);
	assert_string_equal(pic(&s), ".AA..BBB..CCDDD.");
	vms_vma_remove(&s, b);
	vms_vma_free(&s, b);
	assert_int_equal(vms_vma_count(&s), 3);
	assert_int_equal(vms_pool_in_use(&s.pool), 3);
}

/* Ascending and descending inserts, then removal from the middle out. */
static void test_many_stay_balanced(void **state)
{
	(void)state;
	struct vms_vma_set s;
	vms_vma_set_init(&s);
	enum { N = 2000 };
	for (unsigned i = 0; i < N / 2; i++) {
		struct vms_vma *v = vms_vma_new(&s, P(2 * i), P(2 * i + 1));
		assert_non_null(v);
		vms_vma_insert(&s, v);
		v = vms_vma_new(&s, P(4 * N - 2 * i), P(4 * N - 2 * i + 1));
		assert_non_null(v);
		vms_vma_insert(&s, v);
	}
	assert_int_equal(vms_vma_count(&s), N);
	assert_int_equal(vms_vma_check(&s), 0);
	/* AVL bound: height < 1.4405 log2(n + 2). For n = 2000: <= 15. */
	assert_true(s.root->height <= 15);
	assert_int_equal(s.root->subtree_min, P(0));
	assert_int_equal(s.root->subtree_max, P(4 * N + 1));
	assert_int_equal(s.root->max_gap, P(4 * N - 2 * (N / 2 - 1)) - P(2 * (N / 2 - 1) + 1));
	for (unsigned i = 0; i < N / 2; i += 3) {
		struct vms_vma *v = vms_vma_find(&s, P(2 * i));
		assert_non_null(v);
		vms_vma_remove(&s, v);
		vms_vma_free(&s, v);
		assert_int_equal(vms_vma_check(&s), 0);
	}
	while (s.root != NULL) {
		struct vms_vma *v = s.root;
		vms_vma_remove(&s, v);
		vms_vma_free(&s, v);
	}
	assert_int_equal(vms_vma_count(&s), 0);
	assert_int_equal(vms_vma_check(&s), 0);
	assert_int_equal(vms_pool_in_use(&s.pool), 0);
}

static void test_split_pictures(void **state)
{
	(void)state;
	struct vms_vma_set s;
	vms_vma_set_init(&s);
	struct vms_vma *a = add(&s, 2, 10, 3);
	add(&s, 12, 14, 1);
	set_file(a, (void *)0x5000, 100);
	a->advice = VMS_ADV_RANDOM;
	assert_string_equal(pic(&s), "..AAAAAAAA..BB..");

	struct vms_vma *hi = NULL;
	assert_int_equal(vms_vma_split(&s, a, P(5), &hi), 0);
	assert_int_equal(vms_vma_check(&s), 0);
	assert_string_equal(pic(&s), "..AAABBBBB..CC..");
	assert_int_equal(a->start, P(2));
	assert_int_equal(a->end, P(5));
	assert_int_equal(a->pgoff, 100);
	assert_int_equal(hi->start, P(5));
	assert_int_equal(hi->end, P(10));
	assert_int_equal(hi->prot, 3);
	assert_int_equal(hi->flags, VMS_VMA_FILE);
	assert_int_equal(hi->advice, VMS_ADV_RANDOM);
	assert_ptr_equal(hi->object, (void *)0x5000);
	assert_int_equal(hi->pgoff, 103);
	assert_ptr_equal(vms_vma_next(a), hi);
	assert_int_equal(vms_vma_count(&s), 3);
	assert_true(vms_vma_compatible(a, hi));

	/* Split the upper half again, at its last page. */
	struct vms_vma *top = NULL;
	assert_int_equal(vms_vma_split(&s, hi, P(9), &top), 0);
	assert_string_equal(pic(&s), "..AAABBBBC..DD..");
	assert_int_equal(top->pgoff, 107);
	assert_int_equal(vms_vma_check(&s), 0);

	/* Anonymous VMAs: pgoff advanced all the same. */
	struct vms_vma *anon = vms_vma_find(&s, P(12));
	assert_int_equal(vms_vma_split(&s, anon, P(13), &top), 0);
	assert_string_equal(pic(&s), "..AAABBBBC..DE..");
	assert_int_equal(top->pgoff, 1);
	assert_int_equal(top->prot, 1);
	assert_null(top->object);
}

static void test_split_enomem_leaves_set_unchanged(void **state)
{
	(void)state;
	struct vms_vma_set s;
	vms_vma_set_init(&s);
	struct vms_vma *a = add(&s, 2, 10, 3);
	add(&s, 12, 14, 1);
	size_t in_use = vms_pool_in_use(&s.pool);
	vms_vma_set_fail_alloc_after(&s, 0);
	struct vms_vma *hi = (struct vms_vma *)0x1;
	assert_int_equal(vms_vma_split(&s, a, P(5), &hi), ENOMEM);
	assert_ptr_equal(hi, (struct vms_vma *)0x1);
	assert_string_equal(pic(&s), "..AAAAAAAA..BB..");
	assert_int_equal(a->end, P(10));
	assert_int_equal(vms_vma_count(&s), 2);
	assert_int_equal(vms_vma_check(&s), 0);
	assert_int_equal(vms_pool_in_use(&s.pool), in_use);
	/* The injected failure is one-shot. */
	assert_int_equal(vms_vma_split(&s, a, P(5), &hi), 0);
	assert_string_equal(pic(&s), "..AAABBBBB..CC..");
}

static void test_clip_pictures(void **state)
{
	(void)state;
	struct vms_vma_set s;
	vms_vma_set_init(&s);

	/* One VMA straddling both ends: two splits. */
	struct vms_vma *a = add(&s, 2, 14, 3);
	set_file(a, (void *)0x7000, 10);
	assert_string_equal(pic(&s), "..AAAAAAAAAAAA..");
	assert_int_equal(vms_vma_clip(&s, P(5), P(9)), 0);
	assert_string_equal(pic(&s), "..AAABBBBCCCCC..");
	assert_int_equal(vms_vma_check(&s), 0);
	struct vms_vma *mid = vms_vma_find(&s, P(5));
	assert_int_equal(mid->start, P(5));
	assert_int_equal(mid->end, P(9));
	assert_int_equal(mid->pgoff, 13);
	assert_int_equal(vms_vma_find(&s, P(9))->pgoff, 17);
	assert_int_equal(vms_vma_find(&s, P(2))->pgoff, 10);

	/* Already clipped, or ends in holes / on boundaries: nothing changes. */
	assert_int_equal(vms_vma_clip(&s, P(5), P(9)), 0);
	assert_int_equal(vms_vma_clip(&s, P(0), P(16)), 0);
	assert_int_equal(vms_vma_clip(&s, P(1), P(2)), 0);
	assert_int_equal(vms_vma_clip(&s, P(7), P(7)), 0);
	assert_string_equal(pic(&s), "..AAABBBBCCCCC..");
	assert_int_equal(vms_vma_count(&s), 3);

	/* Two different VMAs straddling start and end. */
	assert_int_equal(vms_vma_clip(&s, P(4), P(12)), 0);
	assert_string_equal(pic(&s), "..AABCCCCDDDEE..");
	assert_int_equal(vms_vma_count(&s), 5);
	assert_int_equal(vms_vma_check(&s), 0);

	/* Only the end straddles. */
	assert_int_equal(vms_vma_clip(&s, P(0), P(13)), 0);
	assert_string_equal(pic(&s), "..AABCCCCDDDEF..");
	/* Only the start straddles. */
	assert_int_equal(vms_vma_clip(&s, P(7), P(16)), 0);
	assert_string_equal(pic(&s), "..AABCCDDEEEFG..");
	assert_int_equal(vms_vma_count(&s), 7);
	assert_int_equal(vms_vma_check(&s), 0);
}

static void test_clip_enomem_leaves_set_unchanged(void **state)
{
	(void)state;
	struct vms_vma_set s;
	vms_vma_set_init(&s);
	add(&s, 2, 14, 3);
	add(&s, 14, 16, 1);
	const char *before = "..AAAAAAAAAAAABB";
	assert_string_equal(pic(&s), before);
	size_t in_use = vms_pool_in_use(&s.pool);

	/* First of two allocations fails, then the second. */
	for (long n = 0; n < 2; n++) {
		vms_vma_set_fail_alloc_after(&s, n);
		assert_int_equal(vms_vma_clip(&s, P(5), P(9)), ENOMEM);
		vms_vma_set_fail_alloc_after(&s, -1);
		assert_string_equal(pic(&s), before);
		assert_int_equal(vms_vma_count(&s), 2);
		assert_int_equal(vms_vma_check(&s), 0);
		assert_int_equal(vms_pool_in_use(&s.pool), in_use);
	}
	/* Straddling VMAs at both ends (two of them), second allocation fails. */
	vms_vma_set_fail_alloc_after(&s, 1);
	assert_int_equal(vms_vma_clip(&s, P(5), P(15)), ENOMEM);
	vms_vma_set_fail_alloc_after(&s, -1);
	assert_string_equal(pic(&s), before);
	assert_int_equal(vms_vma_check(&s), 0);
	assert_int_equal(vms_pool_in_use(&s.pool), in_use);
	/* One split needed, its allocation fails. */
	vms_vma_set_fail_alloc_after(&s, 0);
	assert_int_equal(vms_vma_clip(&s, P(0), P(9)), ENOMEM);
	vms_vma_set_fail_alloc_after(&s, -1);
	assert_string_equal(pic(&s), before);
	assert_int_equal(vms_pool_in_use(&s.pool), in_use);
	/* No split needed: no allocation, so an armed failure does not matter. */
	vms_vma_set_fail_alloc_after(&s, 0);
	assert_int_equal(vms_vma_clip(&s, P(2), P(14)), 0);
	vms_vma_set_fail_alloc_after(&s, -1);
	assert_string_equal(pic(&s), before);

	/* And with memory, it works. */
	assert_int_equal(vms_vma_clip(&s, P(5), P(15)), 0);
	assert_string_equal(pic(&s), "..AAABBBBBBBBBCD");
	assert_int_equal(vms_vma_check(&s), 0);
	assert_int_equal(vms_pool_in_use(&s.pool), in_use + 2);
}

static void test_merge_both_sides(void **state)
{
	(void)state;
	struct vms_vma_set s;
	vms_vma_set_init(&s);
	struct vms_vma *a = add(&s, 1, 4, 3);
	struct vms_vma *b = add(&s, 4, 7, 3);
	add(&s, 7, 10, 3);
	assert_string_equal(pic(&s), ".AAABBBCCC......");
	struct vms_vma *m = vms_vma_merge(&s, b);
	assert_ptr_equal(m, a);
	assert_string_equal(pic(&s), ".AAAAAAAAA......");
	assert_int_equal(m->start, P(1));
	assert_int_equal(m->end, P(10));
	assert_int_equal(vms_vma_count(&s), 1);
	assert_int_equal(vms_vma_check(&s), 0);
	assert_int_equal(vms_pool_in_use(&s.pool), 1);

	/* File-backed with contiguous offsets: split and merge back. */
	set_file(m, (void *)0x9000, 40);
	struct vms_vma *hi, *top;
	assert_int_equal(vms_vma_split(&s, m, P(3), &hi), 0);
	assert_int_equal(vms_vma_split(&s, hi, P(6), &top), 0);
	assert_string_equal(pic(&s), ".AABBBCCCC......");
	m = vms_vma_merge(&s, hi);
	assert_ptr_equal(m, a);
	assert_string_equal(pic(&s), ".AAAAAAAAA......");
	assert_int_equal(m->pgoff, 40);
	assert_int_equal(vms_vma_check(&s), 0);
}

static void test_merge_one_side(void **state)
{
	(void)state;
	struct vms_vma_set s;
	vms_vma_set_init(&s);
	/* Merges with prev only. */
	struct vms_vma *a = add(&s, 0, 3, 3);
	struct vms_vma *b = add(&s, 3, 6, 3);
	struct vms_vma *c = add(&s, 6, 9, 1);
	assert_string_equal(pic(&s), "AAABBBCCC.......");
	assert_ptr_equal(vms_vma_merge(&s, b), a);
	assert_string_equal(pic(&s), "AAAAAABBB.......");
	assert_int_equal(vms_vma_check(&s), 0);
	/* Merges with next only: c survives and grows upward. */
	struct vms_vma *d = add(&s, 9, 12, 1);
	assert_string_equal(pic(&s), "AAAAAABBBCCC....");
	assert_ptr_equal(vms_vma_merge(&s, c), c);
	assert_string_equal(pic(&s), "AAAAAABBBBBB....");
	(void)d;
	assert_int_equal(c->start, P(6));
	assert_int_equal(c->end, P(12));
	assert_int_equal(vms_vma_count(&s), 2);
	assert_int_equal(vms_vma_check(&s), 0);
	assert_int_equal(vms_pool_in_use(&s.pool), 2);
	/* Anonymous VMAs merge whatever their pgoff. */
	struct vms_vma *e = add(&s, 12, 14, 1);
	e->pgoff = 999;
	assert_ptr_equal(vms_vma_merge(&s, e), c);
	assert_string_equal(pic(&s), "AAAAAABBBBBBBB..");
}

static void test_merge_refuses_incompatible(void **state)
{
	(void)state;
	for (int kind = 0; kind < 7; kind++) {
		struct vms_vma_set s;
		vms_vma_set_init(&s);
		struct vms_vma *a = add(&s, 1, 4, 3);
		struct vms_vma *b = add(&s, kind == 6 ? 5 : 4, 7, 3);
		struct vms_vma *c = add(&s, 7, 10, 3);
		set_file(a, (void *)0x3000, 0);
		set_file(b, (void *)0x3000, 3);
		set_file(c, (void *)0x3000, 6);
		switch (kind) {
		case 0: b->prot = 1; break;
		case 1: b->flags |= VMS_VMA_LOCKED; break;
		case 2: b->advice = VMS_ADV_SEQUENTIAL; break;
		case 3: b->object = (void *)0x4000; break;
		case 4: b->pgoff = 4; break;          /* offset gap on both sides */
		case 5: b->object = NULL; break;      /* anonymous next to file */
		case 6: b->pgoff = 4; break;          /* hole below; c contiguous */
		}
		if (kind >= 4) {
			assert_true(vms_vma_compatible(b, c) == (kind == 6));
		}
		const char *before = kind == 6 ? ".AAA.BBCCC......" : ".AAABBBCCC......";
		assert_string_equal(pic(&s), before);
		assert_false(vms_vma_compatible(a, b));
		struct vms_vma *m = vms_vma_merge(&s, b);
		assert_ptr_equal(m, b);
		if (kind == 6) {
			/* Not adjacent to a, but still mergeable with c. */
			assert_string_equal(pic(&s), ".AAA.BBBBB......");
			assert_int_equal(vms_vma_count(&s), 2);
		} else {
			assert_false(vms_vma_compatible(b, c));
			assert_string_equal(pic(&s), before);
			assert_int_equal(vms_vma_count(&s), 3);
		}
		assert_int_equal(vms_vma_check(&s), 0);
	}
}

static void test_find_gap_top_down(void **state)
{
	(void)state;
	struct vms_vma_set s;
	vms_vma_set_init(&s);
	add(&s, 2, 4, 1);
	add(&s, 6, 8, 1);
	add(&s, 12, 14, 1);
	assert_string_equal(pic(&s), "..AA..BB....CC..");
	assert_int_equal(gap(&s, P(0), P(16), PG, PG), P(15));
	assert_int_equal(gap(&s, P(0), P(16), 2 * PG, PG), P(14));
	assert_int_equal(gap(&s, P(0), P(16), 3 * PG, PG), P(9));
	assert_int_equal(gap(&s, P(0), P(16), 4 * PG, PG), P(8));
	no_gap(&s, P(0), P(16), 5 * PG, PG);
	/* Not page-multiple lengths are placed as high as they fit. */
	assert_int_equal(gap(&s, P(0), P(16), PG + 1, PG), P(14));
	/* Below hi the top gap disappears. */
	assert_int_equal(gap(&s, P(0), P(14), PG, PG), P(11));
	assert_int_equal(gap(&s, P(0), P(8), 2 * PG, PG), P(4));
	assert_int_equal(gap(&s, P(0), P(4), 2 * PG, PG), P(0));
	no_gap(&s, P(0), P(4), 3 * PG, PG);
	/* The answer is free and within bounds. */
	assert_true(vms_vma_range_free(&s, P(9), P(12)));
}

static void test_find_gap_alignment(void **state)
{
	(void)state;
	struct vms_vma_set s;
	vms_vma_set_init(&s);
	add(&s, 2, 4, 1);
	add(&s, 6, 8, 1);
	add(&s, 12, 14, 1);
	/* The top gap [14, 16) holds no 16 KiB-aligned page. */
	assert_int_equal(gap(&s, P(0), P(16), PG, 4 * PG), P(8));
	assert_int_equal(gap(&s, P(0), P(16), 2 * PG, 2 * PG), P(14));
	assert_int_equal(gap(&s, P(0), P(16), 3 * PG, 2 * PG), P(8));
	assert_int_equal(gap(&s, P(0), P(16), PG, 8 * PG), P(8));
	assert_int_equal(gap(&s, P(0), P(8), PG, 8 * PG), P(0));
	assert_int_equal(gap(&s, P(0), P(16), 3 * PG, 8 * PG), P(8));
	no_gap(&s, P(0), P(16), 5 * PG, 8 * PG);
	no_gap(&s, P(1), P(8), PG, 8 * PG);
	/* Huge alignment in an empty range. */
	struct vms_vma_set e;
	vms_vma_set_init(&e);
	assert_int_equal(gap(&e, 1, (uintptr_t)3 << 30, PG, (uintptr_t)1 << 30),
			 (uintptr_t)2 << 30);
	no_gap(&e, 1, (uintptr_t)1 << 30, PG, (uintptr_t)1 << 30);
}

static void test_find_gap_exact_fit(void **state)
{
	(void)state;
	struct vms_vma_set s;
	vms_vma_set_init(&s);
	add(&s, 4, 8, 1);
	add(&s, 12, 14, 1);
	/* [8, 12) is exactly 4 pages and 32 KiB-aligned: it beats the lower
	 * gap [0, 4) even though a Linux-style len + align slack would skip
	 * it. */
	assert_int_equal(gap(&s, P(0), P(16), 4 * PG, 8 * PG), P(8));
	assert_int_equal(gap(&s, P(0), P(16), 4 * PG, PG), P(8));
	assert_int_equal(gap(&s, P(0), P(16), 2 * PG, PG), P(14));
	assert_int_equal(gap(&s, P(0), P(16), 2 * PG, 2 * PG), P(14));
	no_gap(&s, P(0), P(16), 5 * PG, PG);
	/* Exactly the whole free range. */
	struct vms_vma_set e;
	vms_vma_set_init(&e);
	assert_int_equal(gap(&e, P(3), P(7), 4 * PG, PG), P(3));
	no_gap(&e, P(3), P(7), 4 * PG + 1, PG);
	no_gap(&e, P(3), P(7), 4 * PG, 2 * PG);
}

static void test_find_gap_lo_hi_boundaries(void **state)
{
	(void)state;
	struct vms_vma_set s;
	vms_vma_set_init(&s);
	/* Only the gap below the lowest VMA, down to lo. */
	add(&s, 4, 16, 1);
	assert_int_equal(gap(&s, P(0), P(16), 4 * PG, PG), P(0));
	no_gap(&s, P(0), P(16), 5 * PG, PG);
	assert_int_equal(gap(&s, P(1), P(16), 3 * PG, PG), P(1));
	no_gap(&s, P(1), P(16), 4 * PG, PG);
	assert_int_equal(gap(&s, P(0), P(40), 5 * PG, PG), P(35));
	/* Only the gap above the highest VMA, up to hi. */
	struct vms_vma_set t;
	vms_vma_set_init(&t);
	add(&t, 0, 10, 1);
	assert_int_equal(gap(&t, P(0), P(16), 6 * PG, PG), P(10));
	assert_int_equal(gap(&t, P(2), P(16), PG, PG), P(15));
	no_gap(&t, P(0), P(15), 6 * PG, PG);
	assert_int_equal(gap(&t, P(0), P(15), 5 * PG, PG), P(10));
	assert_int_equal(gap(&t, 0, P(15), 5 * PG, PG), P(10));
	/* The gap below the lowest VMA reaches down to lo, here 0. */
	assert_int_equal(gap(&t, 0, P(0), 5 * PG, PG), P(0) - 5 * PG);
	/* lo and hi inside VMAs, and not page aligned. */
	struct vms_vma_set u;
	vms_vma_set_init(&u);
	add(&u, 0, 4, 1);
	add(&u, 8, 12, 1);
	add(&u, 14, 20, 1);
	assert_string_equal(pic(&u), "AAAA....BBBB..CC");
	assert_int_equal(gap(&u, P(2), P(16), 2 * PG, PG), P(12));
	assert_int_equal(gap(&u, P(2), P(16), 4 * PG, PG), P(4));
	no_gap(&u, P(4) + 100, P(16), 4 * PG, PG);
	assert_int_equal(gap(&u, P(4) + 100, P(16), 3 * PG, PG), P(5));
	no_gap(&u, P(4) + 100, P(16), 3 * PG, 2 * PG);
	assert_int_equal(gap(&u, P(0), P(13) + 5, PG, PG), P(12));
	assert_int_equal(gap(&u, P(0), P(13) - 5, PG, PG), P(7));
	/* [lo, hi) entirely inside one VMA, or in a gap. */
	no_gap(&u, P(1), P(3), PG, PG);
	assert_int_equal(gap(&u, P(5), P(7), 2 * PG, PG), P(5));
	assert_int_equal(gap(&u, P(20), P(21), PG, PG), P(20));
}

static void test_find_gap_enomem(void **state)
{
	(void)state;
	struct vms_vma_set s;
	vms_vma_set_init(&s);
	add(&s, 0, 16, 1);
	no_gap(&s, P(0), P(16), PG, PG);
	no_gap(&s, P(2), P(5), PG, PG);
	struct vms_vma_set e;
	vms_vma_set_init(&e);
	no_gap(&e, P(5), P(5), PG, PG);   /* empty range */
	no_gap(&e, P(6), P(5), PG, PG);   /* inverted range */
	no_gap(&e, P(0), P(1), 0, PG);    /* nothing to place */
	no_gap(&e, P(0), P(1), PG + 1, PG);
	no_gap(&e, P(0) + 1, P(1), PG, PG);
	no_gap(&e, 1, UINTPTR_MAX, SIZE_MAX, PG);
	/* [0, UINTPTR_MAX) is exactly SIZE_MAX bytes. */
	assert_int_equal(gap(&e, 0, UINTPTR_MAX, SIZE_MAX, PG), 0);
}

static void test_find_gap_extreme_addresses(void **state)
{
	(void)state;
	struct vms_vma_set s;
	vms_vma_set_init(&s);
	uintptr_t top = UINTPTR_MAX & ~(PG - 1);    /* highest page boundary */
	assert_int_equal(gap(&s, 0, UINTPTR_MAX, PG, PG), top - PG);
	assert_int_equal(gap(&s, 0, UINTPTR_MAX, 1, PG), top);
	struct vms_vma *v = vms_vma_new(&s, top - 4 * PG, top);
	assert_non_null(v);
	vms_vma_insert(&s, v);
	v = vms_vma_new(&s, PG, 2 * PG);
	assert_non_null(v);
	vms_vma_insert(&s, v);
	assert_int_equal(vms_vma_check(&s), 0);
	/* [top, UINTPTR_MAX) is free: 4095 bytes above the last VMA. */
	assert_int_equal(gap(&s, 0, UINTPTR_MAX, 1, PG), top);
	assert_int_equal(gap(&s, 0, UINTPTR_MAX, PG, PG), top - 5 * PG);
	assert_int_equal(gap(&s, 0, 4 * PG, 2 * PG, PG), 2 * PG);
	no_gap(&s, 0, 3 * PG, 2 * PG, PG);
	assert_int_equal(gap(&s, 0, 2 * PG, PG, PG), 0);
	no_gap(&s, 0, 2 * PG, 2 * PG, PG);
	no_gap(&s, top - 4 * PG, UINTPTR_MAX, PG, PG);
	assert_true(vms_vma_range_free(&s, top, UINTPTR_MAX));
	assert_ptr_equal(vms_vma_find(&s, top - 1), vms_vma_first_in(&s, top - 1, UINTPTR_MAX));
}

/* The augmentation as vma.c defines it, recomputed from n up to the root. */
static void refresh_to_root(struct vms_vma *n)
{
	for (; n != NULL; n = n->parent) {
		struct vms_vma *l = n->left, *r = n->right;
		int hl = l ? l->height : 0, hr = r ? r->height : 0;
		uintptr_t g = 0;
		n->height = 1 + (hl > hr ? hl : hr);
		n->subtree_min = l ? l->subtree_min : n->start;
		n->subtree_max = r ? r->subtree_max : n->end;
		if (l != NULL) {
			g = l->max_gap > n->start - l->subtree_max ? l->max_gap
								    : n->start - l->subtree_max;
		}
		if (r != NULL) {
			g = g > r->max_gap ? g : r->max_gap;
			g = g > r->subtree_min - n->end ? g : r->subtree_min - n->end;
		}
		n->max_gap = g;
	}
}

static void test_check_detects_corruption(void **state)
{
	(void)state;
	struct vms_vma_set s;
	vms_vma_set_init(&s);
	for (unsigned i = 0; i < 10; i++) {
		add(&s, 3 * i, 3 * i + 2, 1);
	}
	struct vms_vma *r = s.root, *l = vms_vma_first(&s), *n = vms_vma_next(l);
	assert_int_equal(vms_vma_check(&s), 0);

	r->max_gap += PG;
	assert_int_equal(vms_vma_check(&s), -1);
	r->max_gap -= PG;
	l->subtree_max += PG;
	assert_int_equal(vms_vma_check(&s), -1);
	l->subtree_max -= PG;
	r->height++;
	assert_int_equal(vms_vma_check(&s), -1);
	r->height--;
	struct vms_vma *p = l->parent;
	l->parent = NULL;
	assert_int_equal(vms_vma_check(&s), -1);
	l->parent = p;
	s.count++;
	assert_int_equal(vms_vma_check(&s), -1);
	s.count--;
	/* Overlap with the next VMA, augmentation made consistent with it, so
	 * only the order check can catch it. */
	l->end = n->start + PG;
	refresh_to_root(l);
	assert_int_equal(vms_vma_check(&s), -1);
	l->end = l->start + 2 * PG;
	refresh_to_root(l);
	assert_int_equal(vms_vma_check(&s), 0);
	/* Empty range. */
	l->end = l->start;
	refresh_to_root(l);
	assert_int_equal(vms_vma_check(&s), -1);
	/* Misaligned end. */
	l->end = l->start + 2 * PG + 1;
	refresh_to_root(l);
	assert_int_equal(vms_vma_check(&s), -1);
	l->end = l->start + 2 * PG;
	refresh_to_root(l);
	assert_int_equal(vms_vma_check(&s), 0);
	/* Unbalanced but otherwise sound: a right-leaning chain of three. */
	struct vms_vma_set u;
	vms_vma_set_init(&u);
	struct vms_vma *x[3];
	for (int i = 0; i < 3; i++) {
		x[i] = vms_vma_new(&u, P(2 * i), P(2 * i + 1));
		assert_non_null(x[i]);
	}
	u.root = x[0];
	x[0]->right = x[1];
	x[1]->parent = x[0];
	x[1]->right = x[2];
	x[2]->parent = x[1];
	u.count = 3;
	refresh_to_root(x[2]);
	assert_int_equal(x[0]->height, 3);
	assert_int_equal(vms_vma_check(&u), -1);
}

static void test_draw_conventions(void **state)
{
	(void)state;
	struct vms_vma_set s;
	vms_vma_set_init(&s);
	char buf[64];
	/* 30 one-page VMAs side by side: letters run A..Z then a.. */
	for (unsigned i = 0; i < 30; i++) {
		struct vms_vma *v = vms_vma_new(&s, P(i), P(i + 1));
		assert_non_null(v);
		vms_vma_insert(&s, v);
	}
	assert_int_equal(vms_vma_draw(&s, P(0), P(32), 32, buf, sizeof buf), 32);
	assert_string_equal(buf, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcd..");
	/* Letters restart at A for each picture. */
	assert_int_equal(vms_vma_draw(&s, P(28), P(32), 4, buf, sizeof buf), 4);
	assert_string_equal(buf, "AB..");
	/* Two pages per cell: a cell shows the lowest VMA touching it. */
	assert_int_equal(vms_vma_draw(&s, P(24), P(32), 4, buf, sizeof buf), 4);
	assert_string_equal(buf, "ABC.");
	/* A partly covered cell counts as covered. */
	assert_int_equal(vms_vma_draw(&s, P(29), P(33), 2, buf, sizeof buf), 2);
	assert_string_equal(buf, "A.");
	/* Truncation to cap - 1 characters, always terminated. */
	assert_int_equal(vms_vma_draw(&s, P(0), P(32), 32, buf, 6), 5);
	assert_string_equal(buf, "ABCDE");
	assert_int_equal(vms_vma_draw(&s, P(0), P(32), 32, buf, 0), 0);
	assert_int_equal(vms_vma_draw(&s, P(5), P(5), 8, buf, sizeof buf), 0);
	assert_string_equal(buf, "");
	/* Cells of uneven width: 5 pages over 3 cells, boundaries rounded down. */
	assert_int_equal(vms_vma_draw(&s, P(28), P(33), 3, buf, sizeof buf), 3);
	assert_string_equal(buf, "AB.");
	/* No overflow at the top of the address space. */
	uintptr_t top = UINTPTR_MAX & ~(PG - 1);
	struct vms_vma *t = vms_vma_new(&s, top - 2 * PG, top - PG);
	assert_non_null(t);
	vms_vma_insert(&s, t);
	assert_int_equal(vms_vma_draw(&s, top - 4 * PG, top, 4, buf, sizeof buf), 4);
	assert_string_equal(buf, "..A.");
	/* Up to UINTPTR_MAX: cells are about one byte short of a page, so the
	 * third cell starts two bytes below the VMA's end and shows it too. */
	assert_int_equal(vms_vma_draw(&s, top - 3 * PG, UINTPTR_MAX, 4, buf, sizeof buf), 4);
	assert_string_equal(buf, ".AA.");
	/* Sub-page cells. */
	assert_int_equal(vms_vma_draw(&s, P(30) - PG / 2, P(30) + PG / 2, 4, buf, sizeof buf), 4);
	assert_string_equal(buf, "AA..");
}

/*
 * Randomized run.  The model is a sorted array of VMAs over WIN_PAGES pages
 * at BASE; every operation is applied to both, then the set is compared to
 * the model field by field (walking next and prev), vms_vma_check() must
 * pass, and find_gap must return what a brute-force scan of the model's
 * page map returns.
 */
#define WIN_PAGES 512
#define MARGIN 16    /* free pages around the window that gap queries see */
#define MAX_VMAS (WIN_PAGES + 1)
#define OPS 20000

struct mvma {
	uintptr_t start, end;
	int prot;
	unsigned flags, advice;
	void *object;
	uint64_t pgoff;
};

static struct mvma model[MAX_VMAS];
static size_t nmodel;
static uint64_t rng_state;
static int cur_op;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static unsigned rnd_below(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static void model_insert_at(size_t i, const struct mvma *m)
{
	memmove(&model[i + 1], &model[i], (nmodel - i) * sizeof model[0]);
	model[i] = *m;
	nmodel++;
}

static void model_delete_at(size_t i)
{
	memmove(&model[i], &model[i + 1], (nmodel - i - 1) * sizeof model[0]);
	nmodel--;
}

/* Index of the model VMA containing addr, or -1. */
static long model_find(uintptr_t addr)
{
	for (size_t i = 0; i < nmodel; i++) {
		if (model[i].start <= addr && addr < model[i].end) {
			return (long)i;
		}
	}
	return -1;
}

static bool model_compatible(const struct mvma *a, const struct mvma *b)
{
	return a->end == b->start && a->prot == b->prot && a->flags == b->flags &&
	       a->advice == b->advice && a->object == b->object &&
	       (a->object == NULL || a->pgoff + (a->end - a->start) / PG == b->pgoff);
}

static void model_split(size_t i, uintptr_t addr)
{
	struct mvma hi = model[i];
	hi.start = addr;
	hi.pgoff += (addr - model[i].start) / PG;
	model[i].end = addr;
	model_insert_at(i + 1, &hi);
}

static void fail_op(const char *what)
{
	print_error("randomized test: op %d: %s\n", cur_op, what);
	fail();
}

static void compare(const struct vms_vma_set *s)
{
	if (vms_vma_check(s) != 0) {
		fail_op("vms_vma_check failed");
	}
	if (vms_vma_count(s) != nmodel) {
		fail_op("count differs");
	}
	const struct vms_vma *v = vms_vma_first(s), *last = NULL;
	for (size_t i = 0; i < nmodel; i++, last = v, v = vms_vma_next(v)) {
		const struct mvma *m = &model[i];
		if (v == NULL || v->start != m->start || v->end != m->end || v->prot != m->prot ||
		    v->flags != m->flags || v->advice != m->advice || v->object != m->object ||
		    v->pgoff != m->pgoff) {
			fail_op("set differs from model");
		}
	}
	if (v != NULL) {
		fail_op("set longer than model");
	}
	if (cur_op % 64 == 0) {
		for (size_t i = nmodel; i-- > 0; last = vms_vma_prev(last)) {
			if (last == NULL || last->start != model[i].start) {
				fail_op("backward walk differs");
			}
		}
		if (last != NULL) {
			fail_op("backward walk too long");
		}
	}
}

#define REGION_PAGES (WIN_PAGES + 2 * MARGIN)
#define REGION_BASE (BASE - MARGIN * PG)

/* Brute force: highest aligned a in [lo, hi - len] whose pages are all free. */
static int brute_gap(uintptr_t lo, uintptr_t hi, size_t len, size_t align, uintptr_t *out)
{
	static unsigned char used[REGION_PAGES];
	static unsigned run[REGION_PAGES + 1];   /* free pages starting here */

	memset(used, 0, sizeof used);
	for (size_t i = 0; i < nmodel; i++) {
		for (uintptr_t a = model[i].start; a < model[i].end; a += PG) {
			used[(a - REGION_BASE) / PG] = 1;
		}
	}
	run[REGION_PAGES] = 0;
	for (size_t i = REGION_PAGES; i-- > 0;) {
		run[i] = used[i] ? 0 : run[i + 1] + 1;
	}
	if (len == 0 || hi <= lo || len > hi - lo) {
		return ENOMEM;
	}
	size_t pages = (len + PG - 1) / PG;
	for (uintptr_t a = (hi - len) & ~(uintptr_t)(align - 1); a >= lo; a -= align) {
		if (run[(a - REGION_BASE) / PG] >= pages) {
			*out = a;
			return 0;
		}
		if (a < align) {
			break;
		}
	}
	return ENOMEM;
}

static void random_attrs(struct mvma *m)
{
	static void *const objects[] = { NULL, NULL, (void *)0x1000, (void *)0x2000 };
	m->prot = rnd_below(4) == 0 ? 1 : 3;
	m->flags = rnd_below(4) == 0 ? VMS_VMA_LOCKED : 0;
	m->advice = rnd_below(8) == 0 ? VMS_ADV_RANDOM : VMS_ADV_NORMAL;
	m->object = objects[rnd_below(4)];
	/* Mostly the linear offset, so neighbours of one object can merge. */
	m->pgoff = rnd_below(4) == 0 ? rnd_below(1000) : (m->start - BASE) / PG;
}

static void op_merge(struct vms_vma_set *s, size_t i)
{
	struct vms_vma *v = vms_vma_find(s, model[i].start);
	if (v == NULL || v->start != model[i].start) {
		fail_op("merge: VMA not found");
	}
	if (i + 1 < nmodel && model_compatible(&model[i], &model[i + 1])) {
		model[i].end = model[i + 1].end;
		model_delete_at(i + 1);
	}
	if (i > 0 && model_compatible(&model[i - 1], &model[i])) {
		model[i - 1].end = model[i].end;
		model_delete_at(i);
		i--;
	}
	struct vms_vma *m = vms_vma_merge(s, v);
	if (m->start != model[i].start || m->end != model[i].end) {
		fail_op("merge returned the wrong VMA");
	}
}

static void op_insert(struct vms_vma_set *s)
{
	uintptr_t a = P(rnd_below(WIN_PAGES));
	uintptr_t b = a + PG * (1 + rnd_below(rnd_below(4) == 0 ? 64 : 8));
	if (b > P(WIN_PAGES)) {
		b = P(WIN_PAGES);
	}
	size_t i = 0;
	while (i < nmodel && model[i].end <= a) {
		i++;
	}
	if (i < nmodel && model[i].start < b) {
		return;   /* not free */
	}
	struct mvma m = { .start = a, .end = b };
	random_attrs(&m);
	struct vms_vma *v = vms_vma_new(s, a, b);
	assert_non_null(v);
	v->prot = m.prot;
	v->flags = m.flags;
	v->advice = m.advice;
	v->object = m.object;
	v->pgoff = m.pgoff;
	vms_vma_insert(s, v);
	model_insert_at(i, &m);
	if (rnd_below(2) == 0) {
		compare(s);
		op_merge(s, i);
	}
}

static void op_clip(struct vms_vma_set *s, long fail_after)
{
	uintptr_t a = P(rnd_below(WIN_PAGES));
	uintptr_t b = a + PG * (1 + rnd_below(32));
	long ia = model_find(a), ib = model_find(b);
	int need = (ia >= 0 && model[ia].start < a) + (ib >= 0 && model[ib].start < b);
	vms_vma_set_fail_alloc_after(s, fail_after);
	int r = vms_vma_clip(s, a, b);
	vms_vma_set_fail_alloc_after(s, -1);
	if (fail_after >= 0 && fail_after < need) {
		if (r != ENOMEM) {
			fail_op("clip should have failed");
		}
		return;
	}
	if (r != 0) {
		fail_op("clip failed");
	}
	if (ia >= 0 && model[ia].start < a) {
		model_split((size_t)ia, a);
	}
	ib = model_find(b);
	if (ib >= 0 && model[ib].start < b) {
		model_split((size_t)ib, b);
	}
}

static void op_split(struct vms_vma_set *s, bool inject)
{
	size_t i = rnd_below((unsigned)nmodel);
	size_t pages = (model[i].end - model[i].start) / PG;
	if (pages < 2) {
		return;
	}
	uintptr_t addr = model[i].start + PG * (1 + rnd_below((unsigned)pages - 1));
	struct vms_vma *v = vms_vma_find(s, model[i].start), *hi = NULL;
	if (inject) {
		vms_vma_set_fail_alloc_after(s, 0);
	}
	int r = vms_vma_split(s, v, addr, &hi);
	vms_vma_set_fail_alloc_after(s, -1);
	if (inject) {
		if (r != ENOMEM || hi != NULL) {
			fail_op("split should have failed");
		}
		return;
	}
	if (r != 0 || hi == NULL || hi->start != addr || vms_vma_prev(hi) != v) {
		fail_op("split failed");
	}
	model_split(i, addr);
}

static void op_remove(struct vms_vma_set *s)
{
	size_t i = rnd_below((unsigned)nmodel);
	struct vms_vma *v = vms_vma_find(s, model[i].start + PG * rnd_below(
					    (unsigned)((model[i].end - model[i].start) / PG)));
	if (v == NULL || v->start != model[i].start) {
		fail_op("remove: VMA not found");
	}
	vms_vma_remove(s, v);
	vms_vma_free(s, v);
	model_delete_at(i);
}

static void query_gap(const struct vms_vma_set *s)
{
	static const size_t aligns[] = { PG, PG, PG, 2 * PG, 4 * PG, 16 * PG, 256 * PG };
	uintptr_t lo = REGION_BASE + PG * rnd_below(REGION_PAGES);
	uintptr_t hi = REGION_BASE + PG * rnd_below(REGION_PAGES + 1);
	if (rnd_below(4) == 0) {
		lo = REGION_BASE;
		hi = REGION_BASE + REGION_PAGES * PG;
	}
	if (lo > hi) {
		uintptr_t t = lo;
		lo = hi;
		hi = t;
	}
	if (rnd_below(4) == 0) {
		lo += rnd_below(PG);
	}
	if (rnd_below(4) == 0 && hi > REGION_BASE) {
		hi -= rnd_below(PG);
	}
	size_t len = PG * (1 + rnd_below(rnd_below(8) == 0 ? 64 : 6));
	if (rnd_below(8) == 0) {
		len -= rnd_below(PG);
	}
	size_t align = aligns[rnd_below(sizeof aligns / sizeof aligns[0])];
	uintptr_t got = 1, want = 2;
	int r = vms_vma_find_gap(s, lo, hi, len, align, &got);
	int w = brute_gap(lo, hi, len, align, &want);
	if (r != w || (r == 0 && got != want)) {
		print_error("lo=%#lx hi=%#lx len=%#zx align=%#zx: got %d %#lx, want %d %#lx\n",
			    (unsigned long)lo, (unsigned long)hi, len, align, r,
			    (unsigned long)got, w, (unsigned long)want);
		fail_op("find_gap differs from brute force");
	}
}

static void test_randomized_against_model(void **state)
{
	(void)state;
	struct vms_vma_set s;
	vms_vma_set_init(&s);
	nmodel = 0;
	rng_state = 0x9e3779b97f4a7c15ULL;
	unsigned counts[8] = { 0 };
	for (cur_op = 0; cur_op < OPS; cur_op++) {
		unsigned k = rnd_below(100);
		/* Keep the population moving around a few dozen VMAs. */
		if (nmodel < 8 || (k < 30 && nmodel < 120)) {
			op_insert(&s);
			counts[0]++;
		} else if (k < 45) {
			op_remove(&s);
			counts[1]++;
		} else if (k < 60) {
			op_split(&s, false);
			counts[2]++;
		} else if (k < 75) {
			op_merge(&s, rnd_below((unsigned)nmodel));
			counts[3]++;
		} else if (k < 88) {
			op_clip(&s, -1);
			counts[4]++;
		} else if (k < 94) {
			op_split(&s, true);
			counts[5]++;
		} else {
			op_clip(&s, (long)rnd_below(2));
			counts[6]++;
		}
		compare(&s);
		query_gap(&s);
		if (vms_pool_in_use(&s.pool) != nmodel) {
			fail_op("pool leak");
		}
	}
	for (int i = 0; i < 7; i++) {
		assert_true(counts[i] > 500);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_set),
		cmocka_unit_test(test_insert_find_iterate),
		cmocka_unit_test(test_many_stay_balanced),
		cmocka_unit_test(test_split_pictures),
		cmocka_unit_test(test_split_enomem_leaves_set_unchanged),
		cmocka_unit_test(test_clip_pictures),
		cmocka_unit_test(test_clip_enomem_leaves_set_unchanged),
		cmocka_unit_test(test_merge_both_sides),
		cmocka_unit_test(test_merge_one_side),
		cmocka_unit_test(test_merge_refuses_incompatible),
		cmocka_unit_test(test_find_gap_top_down),
		cmocka_unit_test(test_find_gap_alignment),
		cmocka_unit_test(test_find_gap_exact_fit),
		cmocka_unit_test(test_find_gap_lo_hi_boundaries),
		cmocka_unit_test(test_find_gap_enomem),
		cmocka_unit_test(test_find_gap_extreme_addresses),
		cmocka_unit_test(test_check_detects_corruption),
		cmocka_unit_test(test_draw_conventions),
		cmocka_unit_test(test_randomized_against_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
