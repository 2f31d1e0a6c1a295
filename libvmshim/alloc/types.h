/*
 * alloc/types.h - the allocator's structures, constants and invariants.
 *
 * Glossary:
 *   block    what malloc returns: one slot of a span, 16-byte aligned.  A
 *            free block holds struct vms_block (next link and a free tag).
 *   span     a run of memory carved into blocks of one size class: 64 KiB
 *            for small classes, 512 KiB for medium ones, 1 MiB for large.  Its descriptor
 *            (struct vms_span) lives in its segment's header, never in the
 *            span itself.
 *   segment  a 4 MiB, 4 MiB-aligned piece of a region, owned by one heap:
 *            slot 0 holds the header (descriptors), slots 1.. are spans,
 *            all of one kind (small: 63 spans of 64 KiB, medium: 7 of
 *            512 KiB, large: 3 of 1 MiB).  free() finds the header by masking the pointer.
 *   region   address space reserved for segments: 1 GiB-aligned, a whole
 *            number of GiB, marked in a bitmap so free() can tell a segment
 *            pointer from a big one with one load.  Reserved once (never
 *            returned), populated and decommitted span by span.
 *   heap     one thread's allocator state: per class, the spans it
 *            allocates from; the segments it owns.  Reached through an
 *            initial-exec TLS pointer, so the hot paths take no lock.
 *   pinned   memory libc hands to the kernel itself (stdio buffers, directory
 *            streams): served by the one pinned heap (alloc/pinned.c) from
 *            regions of the kernel's memory outside the arena, which the
 *            VM never write-protects, deactivates or evicts.
 *   big      an allocation above VMS_LARGE_MAX: its own mapping, recorded
 *            in a hash table (alloc/big.c).
 *   commit   make memory present (populated) before blocks in it are handed
 *            out (the policy of mem.c; DESIGN section 7); decommit returns
 *            it to the VM.
 *
 * Annotations on fields: (c) constant while the object is in use,
 * (o) owner thread only, (a) atomic, (r) region lock, (x) abandoned-list
 * lock, (g) heap registry lock.
 *
 * Invariants:
 *   span: used = blocks handed out and not yet freed by the owner or
 *         collected from xfree; used + |free| + |local_free| + |xfree|
 *         = capacity <= reserved.
 *   span: the xfree state is WANT only while the span is in its heap's full
 *         list; a span is on its heap's delayed list only while in_full is
 *         set and the state is not WANT.
 *   segment: heap == NULL exactly while it is abandoned or free; a thread
 *         whose tls heap equals segment->heap owns every span of it; the
 *         pinned heap's segments (pinned set) are owned by whoever holds
 *         vms_pinned_lock, are never abandoned, and no other heap adopts or
 *         frees into them locally.
 *   slot: commit and dirty persist while the segment lives; bytes of a slot
 *         below dirty may hold old data, bytes in [dirty, commit) are zero.
 */
#ifndef VMS_ALLOC_TYPES_H
#define VMS_ALLOC_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc/sizeclass.h"
#include "util/stats.h"

#define VMS_SEG_SHIFT 22
#define VMS_SEG_SIZE (1UL << VMS_SEG_SHIFT)
#define VMS_SEG_MASK (VMS_SEG_SIZE - 1)
#define VMS_SMALL_SPAN_SHIFT 16
#define VMS_MEDIUM_SPAN_SHIFT 19
#define VMS_LARGE_SPAN_SHIFT 20
#define VMS_MAX_SLOTS (VMS_SEG_SIZE >> VMS_SMALL_SPAN_SHIFT) /* 64 */
#define VMS_REGION_SHIFT 30
#define VMS_REGION_GRAIN (1UL << VMS_REGION_SHIFT)
#define VMS_ADDR_BITS 48
/* Committed bytes of slot 0 (the header: 64 + 64 * 128 bytes). */
#define VMS_HEADER_COMMIT (12UL << 10)
/* The first commit of a span (later ones double it: heap.c). */
#define VMS_COMMIT_MIN (16UL << 10)

enum vms_seg_kind { VMS_SEG_SMALL = 0, VMS_SEG_MEDIUM = 1, VMS_SEG_LARGE = 2, VMS_SEG_KINDS = 3 };

static inline enum vms_seg_kind vms_class_kind(unsigned cls)
{
	return cls < VMS_NSMALL ? VMS_SEG_SMALL : cls < VMS_NMEDIUM ? VMS_SEG_MEDIUM : VMS_SEG_LARGE;
}

/* State bits in the low bits of span->xfree. */
#define VMS_XF_NONE 0u  /* owner not waiting for remote frees */
#define VMS_XF_WANT 1u  /* span is full: the next remote free notifies */
#define VMS_XF_BUSY 2u  /* a remote freer is notifying */
#define VMS_XF_MASK 3u

struct vms_block {
	struct vms_block *next;
	uintptr_t tag;  /* vms_free_tag(block) while free: double-free check */
};

struct vms_heap;

struct vms_span {
	/* Hot (first cache line): malloc and free fast paths. */
	struct vms_block *free;        /* (o) allocation list */
	struct vms_block *local_free;  /* (o) blocks freed by the owner */
	uintptr_t start;               /* (c) first byte */
	uint32_t used;                 /* (o) see invariants */
	uint32_t block_size;           /* (o) 0 while the slot is free */
	uint32_t div_inv, div_lim;     /* (o) vms_divtest of block_size */
	uint8_t div_shift;             /* (o) */
	uint8_t in_full;               /* (o) in the heap's full list */
	uint8_t free_is_zero;          /* (o) free holds only fresh zero blocks */
	uint8_t cls;                   /* (o) size class */
	uint32_t capacity;             /* (o) blocks carved so far */
	uint32_t reserved;             /* (o) blocks that fit */
	uint32_t slot;                 /* (c) index in the segment */
	/* Second line: remote frees (written by other threads) and the cold
	 * fields. */
	uintptr_t xfree __attribute__((aligned(64))); /* (a) remote frees | VMS_XF_* state */
	struct vms_span *next, *prev;  /* (o) bin list or full list */
	struct vms_span *delayed_next; /* (a) heap->delayed link */
	uint32_t commit;               /* (o) committed bytes of the slot */
	uint32_t dirty;                /* (o) bytes of the slot that may be dirty */
	uint32_t freed_ms;             /* (o) vms_now_ms() when the slot was freed */
};
_Static_assert(sizeof(struct vms_span) == 128, "span descriptors are two cache lines");

struct vms_segment {
	uintptr_t magic;               /* (c) vms_seg_magic(segment) while live */
	struct vms_heap *heap;         /* (a) owner; NULL when abandoned or free */
	uint8_t kind;                  /* (c) enum vms_seg_kind */
	uint8_t span_shift;            /* (c) */
	uint8_t nslots;                /* (c) slots including slot 0 */
	uint8_t raw;                   /* (c) outside the arena (kernel memory) */
	uint32_t used_spans;           /* (o) slots in use */
	uint32_t empty_ms;             /* (o) vms_now_ms() when used_spans became 0 */
	uint8_t pinned;                /* (c) the pinned heap's (pinned region, raw) */
	uint64_t free_mask;            /* (o) bit i: slot i is free */
	struct vms_segment *next, *prev; /* (o) heap list, (x) abandoned, (r) free */
	struct vms_span spans[VMS_MAX_SLOTS];
};

_Static_assert(sizeof(struct vms_segment) <= VMS_HEADER_COMMIT, "the header fits its commit");

struct vms_bin {
	struct vms_span *first, *last; /* (o) spans that may have free blocks */
	struct vms_span *full;         /* (o) spans with none (WANT state) */
};

/* Calls counted per heap (folded into vms_stats.calls at report time). */
#define VMS_ALLOC_CALLS(X)                                                    \
	X(malloc) X(free) X(calloc) X(realloc) X(reallocarray) X(memalign)    \
	X(posix_memalign) X(aligned_alloc) X(valloc) X(pvalloc)               \
	X(malloc_usable_size)

enum vms_alloc_call {
#define X(n) VMS_AC_##n,
	VMS_ALLOC_CALLS(X)
#undef X
	VMS_AC_COUNT
};

struct vms_heap {
	/* Hot: cur[cls] is bins[cls].first, or the empty span. */
	struct vms_span *cur[VMS_NCLASS];       /* (o) */
	uint64_t calls[VMS_AC_COUNT];           /* (o) written by the owner, read by folds */
	uint64_t cls_alloc[VMS_NCLASS];         /* (o) blocks allocated per class */
	uint64_t cls_free[VMS_NCLASS];          /* (o) blocks freed (by this thread) */
	/* Cold. */
	struct vms_bin bins[VMS_NCLASS];        /* (o) */
	struct vms_span *delayed;               /* (a) spans notified by remote frees */
	struct vms_segment *segs[VMS_SEG_KINDS];/* (o) owned segments, ones with free slots first */
	size_t free_committed;                  /* (o) committed bytes in free slots */
	size_t committed;                       /* (o) committed bytes of owned segments */
	uint32_t tick;                          /* (o) slow-path events */
	uint32_t next_decay_ms;                 /* (o) when free slots are looked at next */
	uint32_t empty_segs[VMS_SEG_KINDS];     /* (o) owned segments with no span in use */
	uint64_t folded[VMS_AC_COUNT];          /* (g) calls already folded into vms_stats */
	uint64_t folded_alloc[VMS_NCLASS];      /* (g) */
	uint64_t folded_free[VMS_NCLASS];       /* (g) */
	struct vms_heap *reg_next, *reg_prev;   /* (g) registry of live heaps */
	bool live;                              /* (g) */
	bool exiting;                           /* (o) being abandoned: keep no spare */
	bool pinned;                            /* (c) the pinned heap (alloc/pinned.c) */
};

#endif
