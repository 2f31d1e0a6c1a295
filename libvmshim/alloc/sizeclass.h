/*
 * alloc/sizeclass.h - the size classes of small and medium blocks.
 *
 * Owns: the mapping between request sizes and classes, the block size of
 * each class, and the divisibility test free() uses to check that a pointer
 * is the start of a block.  Pure and header-only: the malloc fast path
 * inlines it, and tests/alloc/test_alloc_unit.c checks it exhaustively.
 *
 * Classes (60):
 *   0..7    16, 32, ... 128              (16-byte steps)
 *   8..59   four per doubling above 128: 2^k + j 2^(k-2), j = 1..4, up to
 *           1 MiB; so a block wastes at most 25% of a request (12.5% on
 *           average), like jemalloc's classes.
 * Classes 0..31 (up to 8 KiB) are "small": spans of 64 KiB.  Classes
 * 32..47 (up to 128 KiB) are "medium": spans of 512 KiB.  Classes 48..59
 * (up to 1 MiB) are "large": spans of 1 MiB.  Larger requests are "big"
 * (alloc/big.c).  Every block is a multiple of 16 bytes, so
 * every block is 16-byte aligned (max_align_t), and a class whose size is
 * a multiple of A has every block A-aligned because spans are aligned to
 * their size (alloc/types.h): memalign picks such a class.
 */
#ifndef VMS_ALLOC_SIZECLASS_H
#define VMS_ALLOC_SIZECLASS_H

#include <stddef.h>
#include <stdint.h>

#define VMS_NCLASS 60
#define VMS_NSMALL 32               /* classes 0..31 are small */
#define VMS_NMEDIUM 48              /* classes 32..47 are medium */
#define VMS_SMALL_MAX 8192u         /* largest small block */
#define VMS_MEDIUM_MAX 131072u      /* largest medium block */
#define VMS_LARGE_MAX 1048576u      /* largest large block: above, big */
#define VMS_MIN_ALIGN 16u           /* alignment of every block */

/* The class of a request of size bytes (0 < size <= VMS_LARGE_MAX; size 0
 * is class 0 too). */
static inline unsigned vms_size_class(size_t size)
{
	if (size <= 128) {
		return size == 0 ? 0 : (unsigned)((size - 1) >> 4);
	}
	size_t s = size - 1;
	unsigned k = 63u - (unsigned)__builtin_clzl(s);  /* 2^k <= s < 2^(k+1) */
	unsigned j = (unsigned)(s >> (k - 2)) & 3u;
	return 8u + (k - 7u) * 4u + j;
}

/* The block size of class cls (< VMS_NCLASS). */
static inline uint32_t vms_class_size(unsigned cls)
{
	if (cls < 8) {
		return (cls + 1) * 16u;
	}
	unsigned k = 7 + (cls - 8) / 4, j = (cls - 8) % 4;
	return (1u << k) + (j + 1) * (1u << (k - 2));
}

/*
 * Divisibility by a block size d = 2^shift * m (m odd) without dividing:
 * n is a multiple of d iff rotr32(n * inv, shift) <= lim, where inv is the
 * inverse of m modulo 2^32 and lim = (2^32 - 1) / d (Hacker's Delight
 * 10-17).  Valid for n < 2^32; span offsets are below 2^20.
 */
struct vms_divtest {
	uint32_t inv;
	uint32_t lim;
	uint8_t shift;
};

static inline struct vms_divtest vms_divtest_make(uint32_t d)
{
	struct vms_divtest t;
	unsigned shift = (unsigned)__builtin_ctz(d);
	uint32_t m = d >> shift;
	uint32_t inv = m; /* Newton: each step doubles the correct low bits */
	for (int i = 0; i < 5; i++) {
		inv *= 2u - m * inv;
	}
	t.inv = inv;
	t.lim = UINT32_MAX / d;
	t.shift = (uint8_t)shift;
	return t;
}

static inline int vms_divtest_ok(uint32_t n, uint32_t inv, uint32_t lim, unsigned shift)
{
	uint32_t x = n * inv;
	if (shift != 0) {
		x = (x >> shift) | (x << (32 - shift));
	}
	return x <= lim;
}

#endif
