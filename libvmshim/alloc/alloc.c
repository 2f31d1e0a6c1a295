/*
 * alloc/alloc.c - the malloc family on the shim's own VM.
 *
 * Owns: the semantics of every entry point (glibc's, errno included), the
 * allocator's initialisation, its fork hooks and its statistics.  The
 * mechanisms live beside it: sizeclass.h (classes), heap.c (thread heaps,
 * spans, cross-thread frees), segment.c (regions, segments, decommit),
 * big.c (big blocks), mem.c (the VM API, or the kernel when there is no
 * arena).  Must not call malloc or the interposed mmap family, directly or
 * through libc functions that allocate.
 *
 * Design, in the spirit of mimalloc (free-list sharding per span) with
 * jemalloc-like classes:
 *
 *  - Classes: 60 classes from 16 B to 1 MiB, four per doubling (at most
 *    25% waste).  Small blocks (<= 8 KiB) come from 64 KiB spans, medium
 *    ones (<= 128 KiB) from 512 KiB spans, large ones (<= 1 MiB) from
 *    1 MiB spans; spans live in 4 MiB segments owned by one thread's heap,
 *    so a freed block is reused without asking the VM for anything.  Above
 *    1 MiB, "big" blocks get their own mapping.
 *  - Metadata outside the blocks: a span's descriptor and free-list heads
 *    are in its segment's header (slot 0), found from any block pointer by
 *    masking; big blocks are described in a hash table in memory from the
 *    kernel.  No block carries a header, so small blocks waste nothing but
 *    class rounding, page-aligned requests stay page-sized, and a stray
 *    write before a block cannot corrupt the allocator's own state.
 *    A free block holds its free-list link and a tag (address ^ secret)
 *    that makes the double free of a block cheap to catch.
 *  - Thread-local heaps (initial-exec TLS): malloc pops the first block of
 *    the class's current span, free pushes onto the span's local list: no
 *    lock, no atomic operation.  Each span has three lists (allocation,
 *    local frees, remote frees), so the fast path tests one pointer.
 *  - Cross-thread free: an atomic push onto the span's own xfree list; a
 *    span with no free block is parked in a full list and its owner is
 *    notified once by the first remote free (heap.c), so remote frees to
 *    different spans never contend and the owner never scans full spans.
 *  - Thread exit (pthread key destructor): the heap collects what it can,
 *    releases empty segments and abandons the others to a global list;
 *    a thread needing a fresh span adopts an abandoned segment first.
 *  - Memory goes back (segment.c): the slots of empty spans keep their
 *    pages for reuse for 100 ms (decay), or until the heap holds more than
 *    1/8 of its committed memory free (at least 32 MiB), then are
 *    decommitted (vm_madvise MADV_DONTNEED); a segment with nothing in use
 *    is released the same way (one spare of each kind per heap kept).  Big blocks go back to the VM on free,
 *    except a small cache of recently freed mappings (big.c).
 *  - Big blocks: one mapping each (vm_mmap); realloc moves their pages with
 *    vm_mremap(MREMAP_MAYMOVE), never copying bytes.
 *  - calloc: fresh memory is known zero (per span: the free list holds only
 *    never-used blocks of freshly committed memory; big blocks are fresh
 *    mappings) and is not touched; only recycled blocks are cleared.
 *  - Populate policy (mem.c): every byte handed out is populated first
 *    (ordinary memory: for calls no wrapper covers; pinned memory: always).
 *  - libc's own allocations (shim/malloc.c tells them by return address)
 *    come from the pinned heap (pinned.c): the kernel's memory outside the
 *    arena, because libc hands that memory to the kernel where no wrapper
 *    sees it.
 *  - Misuse caught where cheap: free() of a pointer that is not the start
 *    of a block in use (wrong segment magic, free span, not on a block
 *    boundary, unknown big block) and double frees abort with a message.
 *  - Early calls: the first malloc may come from ld.so before the shim's
 *    constructor; the allocator initialises on its first slow path, using
 *    only raw system calls and libc functions that do not allocate.
 *  - Statistics: call counts and per-class block counts are per heap
 *    (plain stores, no shared cache line) and folded into the process
 *    totals at thread exit and when a report is rendered.
 */
#include "config.h"
#include "alloc/alloc.h"

#include <errno.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "os/fmt.h"
#include "os/pool.h"
#include "os/raw.h"
#include "util/log.h"

#define PAGE 4096UL

void vms_alloc_secret_init(void)
{
	uintptr_t s = 0;
	const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);
	if (rnd != NULL) {
		memcpy(&s, rnd + 8, sizeof s);
	}
	uint64_t ts[2] = { 0, 0 };
	vms_raw_clock_gettime(1 /* CLOCK_MONOTONIC */, ts);
	s ^= ts[1] * 0x9e3779b97f4a7c15ULL ^ (uintptr_t)&s;
	vms_alloc_secret = s;
}

_Noreturn void vms_free_bad(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	if (vms_in_heap_region(a)) {
		struct vms_segment *seg = vms_segment_of(p);
		if (seg->magic == vms_seg_magic(seg)) {
			struct vms_span *s = &seg->spans[(a & VMS_SEG_MASK) >> seg->span_shift];
			if (s->block_size != 0 && (a - s->start) % s->block_size == 0) {
				vms_fatal("free(): double free of %p", p);
			}
		}
	}
	vms_alloc_bad_pointer(p, "free(): invalid pointer");
}

void vms_free_other(struct vms_heap *h, void *p)
{
	struct vms_segment *seg;
	struct vms_span *s = vms_block_span(p, &seg);
	if (vms_unlikely(seg->pinned) && h != &vms_pinned_heap) {
		vms_pinned_free(p); /* no thread owns the pinned heap's segments */
		return;
	}
	struct vms_block *b = p;
	if (vms_unlikely(b->tag == vms_free_tag(b))) {
		vms_free_bad(p);
	}
	b->tag = vms_free_tag(b);
	if (h != &vms_empty_heap) {
		vms_bump(&h->cls_free[s->cls]);
	} else {
		__atomic_fetch_add(&vms_orphan_cls_free[s->cls], 1, __ATOMIC_RELAXED);
	}
	vms_free_remote(seg, s, b);
}

/* ---- the family ---- */

void *vms_calloc(struct vms_heap *h, size_t n, size_t size)
{
	size_t bytes;
	if (vms_unlikely(__builtin_mul_overflow(n, size, &bytes))) {
		errno = ENOMEM;
		return NULL;
	}
	if (vms_likely(bytes <= VMS_LARGE_MAX)) {
		return vms_alloc_class(h, vms_size_class(bytes), true);
	}
	return vms_big_alloc(bytes, 0, true);
}

void *vms_realloc(struct vms_heap *h, void *p, size_t size)
{
	if (p == NULL) {
		return vms_malloc(h, size);
	}
	if (size == 0) {
		/* glibc: realloc(p, 0) frees p and returns NULL. */
		vms_free(h, p);
		return NULL;
	}
	if (size > PTRDIFF_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	size_t old;
	if (vms_in_heap_region((uintptr_t)p)) {
		struct vms_segment *seg;
		struct vms_span *s = vms_block_span(p, &seg);
		old = s->block_size;
		/* Stay when it fits and does not waste more than half. */
		if (size <= old && (size >= old / 2 || old <= 64)) {
			return p;
		}
	} else {
		if (size > VMS_LARGE_MAX) {
			void *q = vms_big_realloc(p, size);
			if (q != NULL) {
				return q;
			}
		}
		old = vms_big_usable(p);
	}
	void *q = vms_malloc(h, size);
	if (q == NULL) {
		return NULL;
	}
	memcpy(q, p, size < old ? size : old);
	vms_free(h, p);
	return q;
}

void *vms_reallocarray(struct vms_heap *h, void *p, size_t n, size_t size)
{
	size_t bytes;
	if (__builtin_mul_overflow(n, size, &bytes)) {
		errno = ENOMEM;
		return NULL;
	}
	return vms_realloc(h, p, bytes);
}

/* A block of size bytes aligned to align (a power of two > 16). */
static void *aligned_block(struct vms_heap *h, size_t align, size_t size)
{
	if (size > PTRDIFF_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	if (size <= VMS_LARGE_MAX && align <= VMS_LARGE_MAX) {
		/* Spans are aligned to their size, so every block of a class whose
		 * size is a multiple of align is aligned. */
		unsigned cls = vms_size_class(size > align ? size : align);
		while (cls < VMS_NCLASS && vms_class_size(cls) % align != 0) {
			cls++;
		}
		if (cls < VMS_NCLASS) {
			return vms_alloc_class(h, cls, false);
		}
	}
	return vms_big_alloc(size, align, false);
}

/* glibc's memalign (and aligned_alloc, its alias in glibc 2.36): small
 * alignments are malloc's; a non-power of two is rounded up; an alignment
 * above SIZE_MAX / 2 + 1 is EINVAL. */
void *vms_memalign(struct vms_heap *h, size_t align, size_t size)
{
	if (align <= VMS_MIN_ALIGN) {
		return vms_malloc(h, size);
	}
	if (align > SIZE_MAX / 2 + 1) {
		errno = EINVAL;
		return NULL;
	}
	if (align & (align - 1)) {
		size_t a = 2 * VMS_MIN_ALIGN;
		while (a < align) {
			a <<= 1;
		}
		align = a;
	}
	return aligned_block(h, align, size);
}

/* EINVAL unless align is a power of two multiple of sizeof(void *);
 * ENOMEM (errno set too, as glibc) when memory cannot be had. */
int vms_posix_memalign(struct vms_heap *h, void **out, size_t align, size_t size)
{
	if (align % sizeof(void *) != 0 || (align & (align - 1)) != 0 || align == 0) {
		return EINVAL;
	}
	void *p = align <= VMS_MIN_ALIGN ? vms_malloc(h, size) : aligned_block(h, align, size);
	if (p == NULL) {
		return ENOMEM;
	}
	*out = p;
	return 0;
}

void *vms_valloc(struct vms_heap *h, size_t size)
{
	return aligned_block(h, PAGE, size);
}

void *vms_pvalloc(struct vms_heap *h, size_t size)
{
	size_t rounded;
	if (__builtin_add_overflow(size, PAGE - 1, &rounded)) {
		errno = ENOMEM;
		return NULL;
	}
	rounded &= ~(PAGE - 1);
	return aligned_block(h, PAGE, rounded == 0 ? PAGE : rounded);
}

size_t vms_usable_size(const void *p)
{
	if (p == NULL) {
		return 0;
	}
	if (vms_in_heap_region((uintptr_t)p)) {
		struct vms_segment *seg;
		return vms_block_span(p, &seg)->block_size;
	}
	return vms_big_usable(p);
}

int vms_trim(struct vms_heap *h)
{
	size_t before = h->committed;
	vms_heap_collect(h, true);
	size_t big = vms_big_trim();
	return big != 0 || h->committed < before;
}

/* ---- fork ---- */

uintptr_t vms_fork_holder;
__thread char vms_thread_anchor __attribute__((tls_model("initial-exec")));

/* Lock order: pinned heap, registry, heap pool, abandoned list, regions,
 * big blocks.  Only the pinned heap's lock is held while others are taken
 * (its heap runs the usual code under it), and it comes first here too.
 * None but it is held across a VM call; it may be, because fork takes
 * these locks before the VM's map lock and the VM never allocates. */
void vms_alloc_prefork(void)
{
	/* The forking thread gets its heap now: atfork handlers that allocate
	 * must not need the heap pool's lock. */
	vms_heap_get();
	vms_pinned_prefork(); /* first: it ranks above the others */
	vms_heap_prefork();
	vms_spin_lock(&vms_abandoned_lock);
	vms_spin_lock(&vms_region_lock);
	vms_big_prefork();
	__atomic_store_n(&vms_fork_holder, vms_self_id(), __ATOMIC_RELAXED);
}

void vms_alloc_postfork_parent(void)
{
	__atomic_store_n(&vms_fork_holder, 0, __ATOMIC_RELAXED);
	vms_big_postfork(false);
	vms_spin_unlock(&vms_region_lock);
	vms_spin_unlock(&vms_abandoned_lock);
	vms_heap_postfork_parent();
	vms_pinned_postfork(false);
}

/* In the child, only the forking thread exists: the locks are reset.  The
 * heaps of the other threads stay as they were (their segments are never
 * reused by the child, only freed into remotely). */
void vms_alloc_postfork_child(void)
{
	__atomic_store_n(&vms_fork_holder, 0, __ATOMIC_RELAXED);
	vms_big_postfork(true);
	vms_segment_fork_child();
	vms_heap_postfork_child();
	vms_pinned_postfork(true);
}

/* ---- statistics ---- */

void vms_alloc_stats_collect(void)
{
	vms_heap_fold_stats();
}

size_t vms_alloc_stats_json(char *buf, size_t cap)
{
	uint64_t blocks[VMS_NCLASS];
	vms_heap_class_usage(blocks);
	uint64_t small_blocks = 0, small_bytes = 0;
	for (unsigned c = 0; c < VMS_NCLASS; c++) {
		small_blocks += blocks[c];
		small_bytes += blocks[c] * vms_class_size(c);
	}
	struct vms_big_stats big;
	vms_big_stats(&big);
	struct vms_seg_stats seg;
	vms_segment_stats(&seg);
	size_t n = vms_fmt(buf, cap,
			   "\"alloc\": {\"blocks\": %llu, \"bytes\": %llu, \"big_blocks\": %zu, "
			   "\"big_bytes\": %zu, \"big_peak_bytes\": %zu, \"big_cached_bytes\": %zu, "
			   "\"segments\": %zu, \"abandoned_segments\": %zu, \"regions\": %zu, "
			   "\"committed\": %lld, \"committed_peak\": %lld, \"pinned_committed\": %zu, ",
			   (unsigned long long)(small_blocks + big.blocks),
			   (unsigned long long)(small_bytes + big.bytes), big.blocks, big.bytes,
			   big.peak_bytes, big.cached_bytes, seg.segments, seg.abandoned, seg.regions,
			   (long long)vms_gauge_now(&vms_seg_committed),
			   (long long)__atomic_load_n(&vms_seg_committed.peak, __ATOMIC_RELAXED),
			   vms_pinned_committed());
	struct vms_mem_counts *mc = &vms_mem_counts;
#define L(f) (unsigned long long)__atomic_load_n(&mc->f, __ATOMIC_RELAXED)
	n += vms_fmt(buf + n, n < cap ? cap - n : 0,
		     "\"vm\": {\"commits\": %llu, \"commit_bytes\": %llu, \"decommits\": %llu, "
		     "\"decommit_bytes\": %llu, \"maps\": %llu, \"map_bytes\": %llu, "
		     "\"unmaps\": %llu, \"remaps\": %llu}, \"classes\": {",
		     L(commits), L(commit_bytes), L(decommits), L(decommit_bytes), L(maps),
		     L(map_bytes), L(unmaps), L(remaps));
#undef L
	bool first = true;
	for (unsigned c = 0; c < VMS_NCLASS && n < cap; c++) {
		if (blocks[c] == 0) {
			continue;
		}
		n += vms_fmt(buf + n, cap - n, "%s\"%u\": %llu", first ? "" : ", ",
			     vms_class_size(c), (unsigned long long)blocks[c]);
		first = false;
	}
	if (n < cap) {
		n += vms_fmt(buf + n, cap - n, "}}");
	}
	return n;
}
