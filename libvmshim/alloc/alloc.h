/*
 * alloc/alloc.h - the allocator as shim/malloc.c sees it: the fast paths,
 * inlined into the exported symbols, and the entry points of the malloc
 * family with glibc's semantics.  See alloc/alloc.c for the design.
 *
 * Every function takes the calling thread's heap (vms_tls_heap), read once
 * by the exported symbol; a thread that never allocated has the shared
 * empty heap, whose empty spans send malloc to the slow path, which gives
 * the thread a heap of its own.
 */
#ifndef VMS_ALLOC_ALLOC_H
#define VMS_ALLOC_ALLOC_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc/internal.h"

#pragma GCC visibility push(hidden)

#define VMS_TLS_IE __attribute__((tls_model("initial-exec")))
extern __thread struct vms_heap *vms_tls_heap VMS_TLS_IE;

#define vms_likely(c) __builtin_expect(!!(c), 1)
#define vms_unlikely(c) __builtin_expect(!!(c), 0)

/* alloc/heap.c: where threads without a heap count (atomically). */
extern const enum vms_call_id vms_call_of[VMS_AC_COUNT];
extern uint64_t vms_orphan_cls_free[VMS_NCLASS];
/* alloc/alloc.c */
void vms_alloc_secret_init(void);
void *vms_calloc(struct vms_heap *h, size_t n, size_t size);
void *vms_realloc(struct vms_heap *h, void *p, size_t size);
void *vms_reallocarray(struct vms_heap *h, void *p, size_t n, size_t size);
void *vms_memalign(struct vms_heap *h, size_t align, size_t size);
int vms_posix_memalign(struct vms_heap *h, void **out, size_t align, size_t size);
void *vms_valloc(struct vms_heap *h, size_t size);
void *vms_pvalloc(struct vms_heap *h, size_t size);
size_t vms_usable_size(const void *p);
/* malloc_trim: gives back what the calling thread's heap and the big-block
 * cache hold free; 1 if memory was released. */
int vms_trim(struct vms_heap *h);
_Noreturn void vms_free_bad(const void *p);
/* Fork: every allocator lock taken before fork, released (parent) or
 * reset (child) after it. */
void vms_alloc_prefork(void);
void vms_alloc_postfork_parent(void);
void vms_alloc_postfork_child(void);
/* Statistics: folds per-thread counters into vms_stats (util/stats hook). */
void vms_alloc_stats_collect(void);
/* Appends the allocator's statistics as JSON members ("alloc": {...}). */
size_t vms_alloc_stats_json(char *buf, size_t cap);

static inline void vms_heap_count(struct vms_heap *h, enum vms_alloc_call k)
{
	if (vms_likely(h != &vms_empty_heap)) {
		__atomic_store_n(&h->calls[k], __atomic_load_n(&h->calls[k], __ATOMIC_RELAXED) + 1,
				 __ATOMIC_RELAXED);
	} else {
		vms_count_call(vms_call_of[k]);
	}
}

static inline void vms_bump(uint64_t *c)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

static inline bool vms_in_heap_region(uintptr_t a)
{
	if (a >> VMS_ADDR_BITS) {
		return false;
	}
	uintptr_t i = a >> VMS_REGION_SHIFT;
	return (__atomic_load_n(&vms_region_map[i >> 6], __ATOMIC_RELAXED) >> (i & 63)) & 1;
}

static inline uintptr_t vms_seg_magic(const struct vms_segment *seg)
{
	return ((uintptr_t)seg ^ vms_alloc_secret) | 1;
}

static inline uintptr_t vms_free_tag(const struct vms_block *b)
{
	return ~((uintptr_t)b ^ vms_alloc_secret);
}

/* A block of class cls; zero asks for zeroed memory. */
static inline void *vms_alloc_class(struct vms_heap *h, unsigned cls, bool zero)
{
	struct vms_span *s = h->cur[cls];
	struct vms_block *b = s->free;
	if (vms_likely(b != NULL)) {
		s->free = b->next;
		s->used++;
		if (zero && !s->free_is_zero) {
			__builtin_memset(b, 0, s->block_size);
		} else {
			if (zero) {
				b->next = NULL;
			}
			b->tag = 0;
		}
		vms_bump(&h->cls_alloc[cls]);
		return b;
	}
	return vms_heap_alloc_slow(h, cls, zero);
}

static inline void *vms_malloc(struct vms_heap *h, size_t size)
{
	if (vms_likely(size <= VMS_LARGE_MAX)) {
		return vms_alloc_class(h, vms_size_class(size), false);
	}
	return vms_big_alloc(size, 0, false);
}

/* The span of a block pointer inside a region, after the cheap checks
 * (segment magic, span in use, pointer at a block boundary); aborts with a
 * clear message otherwise. */
static inline struct vms_span *vms_block_span(const void *p, struct vms_segment **segp)
{
	uintptr_t a = (uintptr_t)p;
	struct vms_segment *seg = vms_segment_of(p);
	if (vms_unlikely(seg->magic != vms_seg_magic(seg))) {
		vms_free_bad(p);
	}
	struct vms_span *s = &seg->spans[(a & VMS_SEG_MASK) >> seg->span_shift];
	if (vms_unlikely(s->block_size == 0 ||
			 !vms_divtest_ok((uint32_t)(a - s->start), s->div_inv, s->div_lim,
					 s->div_shift))) {
		vms_free_bad(p);
	}
	*segp = seg;
	return s;
}

/* free() of a block whose segment the calling thread does not own. */
void vms_free_other(struct vms_heap *h, void *p);

static inline void vms_free(struct vms_heap *h, void *p)
{
	uintptr_t a = (uintptr_t)p;
	if (vms_unlikely(!vms_in_heap_region(a))) {
		if (p != NULL) {
			vms_big_free(p);
		}
		return;
	}
	struct vms_segment *seg = vms_segment_of(p);
	if (vms_unlikely(__atomic_load_n(&seg->heap, __ATOMIC_RELAXED) != h)) {
		vms_free_other(h, p);
		return;
	}
	/* One of our own segments, so a live one: no magic to check. */
	struct vms_span *s = &seg->spans[(a & VMS_SEG_MASK) >> seg->span_shift];
	if (vms_unlikely(s->block_size == 0 ||
			 !vms_divtest_ok((uint32_t)(a - s->start), s->div_inv, s->div_lim,
					 s->div_shift))) {
		vms_free_bad(p);
	}
	struct vms_block *b = p;
	uintptr_t tag = vms_free_tag(b);
	if (vms_unlikely(b->tag == tag)) {
		vms_free_bad(p);
	}
	b->tag = tag;
	vms_bump(&h->cls_free[s->cls]);
	b->next = s->local_free;
	s->local_free = b;
	/* An empty span leaves its bin, unless it is the one a small or
	 * medium class allocates from. */
	if (vms_unlikely((--s->used == 0 && (s != h->cur[s->cls] || s->cls >= VMS_NMEDIUM)) ||
			 s->in_full)) {
		vms_span_free_slow(h, s);
	}
}

#pragma GCC visibility pop

#endif
