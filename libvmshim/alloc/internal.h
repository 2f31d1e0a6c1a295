/*
 * alloc/internal.h - what the allocator's files offer each other, grouped
 * by the file that defines it.  The malloc family's entry points and fast
 * paths are in alloc/alloc.h.
 */
#ifndef VMS_ALLOC_INTERNAL_H
#define VMS_ALLOC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc/types.h"
#include "os/pool.h"

#pragma GCC visibility push(hidden)

/*
 * The allocator's spinlocks.  While a thread forks it holds them all
 * (vms_alloc_prefork); atfork handlers run by glibc's fork on that thread
 * may still call malloc, so that thread passes through them instead of
 * waiting for itself (every other thread waits as usual).
 */
extern uintptr_t vms_fork_holder;
extern __thread char vms_thread_anchor __attribute__((tls_model("initial-exec")));
static inline uintptr_t vms_self_id(void)
{
	return (uintptr_t)&vms_thread_anchor;
}
static inline void vms_alloc_lock(int *l)
{
	if (__builtin_expect(__atomic_load_n(&vms_fork_holder, __ATOMIC_RELAXED) == vms_self_id(), 0)) {
		return;
	}
	vms_spin_lock(l);
}
static inline void vms_alloc_unlock(int *l)
{
	if (__builtin_expect(__atomic_load_n(&vms_fork_holder, __ATOMIC_RELAXED) == vms_self_id(), 0)) {
		return;
	}
	vms_spin_unlock(l);
}

/* alloc/mem.c: memory from the arena (VM API) or, failing that, the kernel.
 * Results are 0 or an errno; *raw says the memory is the kernel's. */
struct vms_mem_counts {  /* (a) requests made, for statistics */
	uint64_t commits, commit_bytes, decommits, decommit_bytes;
	uint64_t maps, map_bytes, unmaps, remaps;
};
extern struct vms_mem_counts vms_mem_counts;
/* kernel_only: outside the arena even when there is one (the pinned heap). */
uintptr_t vms_mem_reserve_region(size_t size, bool kernel_only, bool *raw); /* 0 on failure */
/* populate: make the memory present now (MADV_POPULATE_WRITE, MAP_POPULATE);
 * else the VM fills it on first touch.  See mem.c for the policy. */
int vms_mem_commit(uintptr_t p, size_t len, bool raw, bool populate);
void vms_mem_decommit(uintptr_t p, size_t len, bool raw);   /* back to the VM, reads 0 */
int vms_mem_map(size_t len, size_t align, bool populate, uintptr_t *out, bool *raw);
/* A mapping of the kernel's memory, outside the arena (pinned big blocks). */
int vms_mem_map_kernel(size_t len, uintptr_t *out);
void vms_mem_unmap(uintptr_t p, size_t len, bool raw);
int vms_mem_remap(uintptr_t p, size_t old_len, size_t new_len, bool raw, bool populate,
		  uintptr_t *out);
/* The populate policy for ordinary (not pinned) memory: spans of a segment
 * of kind, and big blocks (kind VMS_SEG_KINDS). */
bool vms_mem_populate_ordinary(int kind);
/* True when the arena's kernel-mapping count is high enough that the
 * allocator should stop punching decommitted holes into segments. */
bool vms_mem_many_kmaps(void);

/* alloc/segment.c: regions, segments and their slots. */
extern uint64_t vms_region_map[1u << (VMS_ADDR_BITS - VMS_REGION_SHIFT - 6)];
extern int vms_region_lock;
/* Committed bytes of all segments (headers and spans), with its peak. */
extern struct vms_gauge vms_seg_committed;
extern int vms_abandoned_lock;
struct vms_segment *vms_segment_new(struct vms_heap *h, enum vms_seg_kind kind);
/* Adopts abandoned segments of kind until one has a free slot (NULL: none). */
struct vms_segment *vms_segment_adopt(struct vms_heap *h, enum vms_seg_kind kind);
/* Adopts up to max abandoned segments of any kind; returns how many. */
size_t vms_segment_adopt_some(struct vms_heap *h, size_t max);
bool vms_segment_abandoned_pending(void);
void vms_segment_release(struct vms_heap *h, struct vms_segment *seg);
void vms_segment_abandon(struct vms_segment *seg);
/* Takes a free slot of seg for a span; commit and dirty are the slot's. */
struct vms_span *vms_slot_take(struct vms_heap *h, struct vms_segment *seg);
/* True when freeing the slot released its (now empty) segment. */
bool vms_slot_free(struct vms_heap *h, struct vms_span *s);
/* Decommits free slots, those freed longest ago first, until the heap
 * keeps at most keep committed bytes free; with min_age_ms, only slots
 * free for at least that long. */
void vms_heap_purge(struct vms_heap *h, size_t keep, uint32_t min_age_ms);
size_t vms_purge_threshold(const struct vms_heap *h);
/* Decommits every free committed slot of seg. */
void vms_heap_purge_segment(struct vms_heap *h, struct vms_segment *seg);
/* The decay policy, run on slow paths: decommits slots free for longer
 * than VMS_DECAY_MS. */
void vms_heap_decay(struct vms_heap *h);
#define VMS_DECAY_MS 100u
#define VMS_MAX_EMPTY 4u
/* A coarse monotonic clock in milliseconds (wraps; compare differences). */
uint32_t vms_now_ms(void);
/* The segment list of a heap: link, unlink, move to the front (has a free slot). */
void vms_seglist_push(struct vms_heap *h, struct vms_segment *seg);
void vms_seglist_remove(struct vms_heap *h, struct vms_segment *seg);
void vms_seglist_update(struct vms_heap *h, struct vms_segment *seg);
/* Segments counted for statistics. */
struct vms_seg_stats {
	size_t segments, abandoned, free_segments, regions, region_bytes;
};
void vms_segment_stats(struct vms_seg_stats *st);
void vms_segment_fork_child(void);

static inline struct vms_segment *vms_segment_of(const void *p)
{
	return (struct vms_segment *)((uintptr_t)p & ~VMS_SEG_MASK);
}

static inline size_t vms_span_bytes(const struct vms_segment *seg)
{
	return (size_t)1 << seg->span_shift;
}

/* alloc/heap.c: thread heaps, spans, bins. */
extern struct vms_heap vms_empty_heap;
extern struct vms_span vms_empty_span;
extern uintptr_t vms_alloc_secret;
void *vms_heap_alloc_slow(struct vms_heap *h, unsigned cls, bool zero);
void vms_span_free_slow(struct vms_heap *h, struct vms_span *s);
void vms_free_remote(struct vms_segment *seg, struct vms_span *s, struct vms_block *b);
/* Collects a span's remote and local frees into its allocation list. */
void vms_span_collect(struct vms_span *s);
/* Puts a span taken over with an adopted segment into h's bins; true if
 * it holds no block in use (the caller frees its slot). */
bool vms_span_adopted(struct vms_heap *h, struct vms_span *s);
/* Retires the empty current spans of medium and large classes. */
void vms_heap_retire_idle(struct vms_heap *h);
struct vms_heap *vms_heap_get(void);
/* Adds h to the registry of live heaps (statistics, fork). */
void vms_heap_register(struct vms_heap *h);
void vms_heap_abandon(struct vms_heap *h);
/* Brings h up to date: notified spans back in their bins, remote frees
 * collected, empty spans retired; with force, also every abandoned segment
 * adopted and every free slot decommitted (malloc_trim). */
void vms_heap_collect(struct vms_heap *h, bool force);
void vms_heap_fold_stats(void);
void vms_heap_prefork(void);
void vms_heap_postfork_parent(void);
void vms_heap_postfork_child(void);
/* Blocks and bytes in use per class, summed over heaps (approximate while
 * other threads run). */
void vms_heap_class_usage(uint64_t blocks[VMS_NCLASS]);
_Noreturn void vms_alloc_bad_pointer(const void *p, const char *what);
void vms_alloc_init_once(void);

/* alloc/pinned.c: the pinned heap, for libc's own allocations. */
extern struct vms_heap vms_pinned_heap;
extern int vms_pinned_lock;
void *vms_pinned_alloc(size_t size, bool zero);
void *vms_pinned_calloc(size_t n, size_t size);
/* realloc on behalf of libc: the result is pinned memory. */
void *vms_pinned_realloc(struct vms_heap *h, void *p, size_t size);
/* free() of a block of a pinned segment, from any thread. */
void vms_pinned_free(void *p);
bool vms_is_pinned_block(const void *p);
size_t vms_pinned_committed(void);
void vms_pinned_prefork(void);
void vms_pinned_postfork(bool child);

/* alloc/big.c: allocations above VMS_LARGE_MAX, one mapping each. */
void *vms_big_alloc(size_t size, size_t align, bool zero);
/* A big block for libc: populated, pinned, never cached. */
void *vms_big_alloc_pinned(size_t size, bool zero);
void vms_big_free(void *p);
size_t vms_big_usable(const void *p);
/* Resizes in place or moves pages (vm_mremap); NULL (p intact) on failure. */
void *vms_big_realloc(void *p, size_t size);
struct vms_big_stats {
	size_t blocks, bytes, peak_bytes, cached, cached_bytes;
};
void vms_big_stats(struct vms_big_stats *st);
/* Unmaps every cached mapping; returns the bytes given back. */
size_t vms_big_trim(void);
void vms_big_prefork(void);
void vms_big_postfork(bool child);

#pragma GCC visibility pop

#endif
