/*
 * alloc/heap.c - thread heaps: spans, bins, remote frees, thread exit.
 *
 * Owns: everything a heap does outside the inlined fast paths of
 * alloc/alloc.h: finding or making a span with free blocks, carving blocks
 * out of fresh memory, retiring empty spans, the cross-thread free
 * protocol, abandoning a heap at thread exit, the registry of live heaps
 * (statistics, fork).
 *
 * Cross-thread free (after mimalloc's thread_free/delayed-free design):
 * a block freed by a thread that does not own its segment is pushed with a
 * CAS on its span's xfree list; nothing else is shared, so remote frees to
 * different spans never serialise.  The owner takes the whole list with
 * one CAS when it next looks at the span.  A span with no free block is
 * moved to its bin's full list and its xfree state set to WANT; the first
 * remote free after that (WANT -> BUSY) pushes the span onto the owner's
 * delayed list and sets the state back to NONE, and the owner moves
 * delayed spans back to their bins on its next slow path.  BUSY keeps the
 * owner from forgetting the heap while a notifier is using it.
 *
 * Locks: registry_lock (the list of live heaps and their folded counters)
 * and the heap pool's lock; never held across a VM call or another lock.
 */
#include "config.h"
#include "alloc/alloc.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "os/pool.h"
#include "os/raw.h"
#include "util/debug.h"
#include "util/log.h"

/* Blocks carved per extension of a small span: about a page, at least 8. */
#define EXTEND_BYTES 4096u
#define EXTEND_MIN 8u
#define MEDIUM_EXTEND_MAX 16u

struct vms_span vms_empty_span;
struct vms_heap vms_empty_heap = {
	.cur = { [0 ... VMS_NCLASS - 1] = &vms_empty_span },
};

__thread struct vms_heap *vms_tls_heap
	__attribute__((tls_model("initial-exec"))) = &vms_empty_heap;
uintptr_t vms_alloc_secret;

static struct vms_pool heap_pool = VMS_POOL_INIT(sizeof(struct vms_heap));
static int registry_lock;
static struct vms_heap *registry;           /* (g) */
static pthread_key_t heap_key;
static int heap_key_ok;
/* Counts of threads that had no heap (a thread that only frees), and of
 * heaps gone with their threads' exit. */
static uint64_t orphan_cls_alloc[VMS_NCLASS];  /* (a) */
uint64_t vms_orphan_cls_free[VMS_NCLASS];      /* (a) */
#define orphan_cls_free vms_orphan_cls_free

const enum vms_call_id vms_call_of[VMS_AC_COUNT] = {
#define X(n) VMS_CALL_##n,
	VMS_ALLOC_CALLS(X)
#undef X
};
#define call_of vms_call_of

static void pause_a_little(unsigned *spins)
{
	if (++*spins % 64 == 0) {
		vms_raw_sched_yield();
	} else {
		vms_cpu_relax();
	}
}

/* ---- bins ---- */

static void set_cur(struct vms_heap *h, unsigned cls)
{
	struct vms_span *f = h->bins[cls].first;
	h->cur[cls] = f != NULL ? f : &vms_empty_span;
}

static void bin_remove(struct vms_heap *h, struct vms_span *s)
{
	struct vms_bin *bin = &h->bins[s->cls];
	if (s->prev != NULL) {
		s->prev->next = s->next;
	} else {
		bin->first = s->next;
	}
	if (s->next != NULL) {
		s->next->prev = s->prev;
	} else {
		bin->last = s->prev;
	}
	s->next = s->prev = NULL;
	set_cur(h, s->cls);
}

static void bin_push_front(struct vms_heap *h, struct vms_span *s)
{
	struct vms_bin *bin = &h->bins[s->cls];
	s->prev = NULL;
	s->next = bin->first;
	if (bin->first != NULL) {
		bin->first->prev = s;
	} else {
		bin->last = s;
	}
	bin->first = s;
	set_cur(h, s->cls);
}

static void bin_push_back(struct vms_heap *h, struct vms_span *s)
{
	struct vms_bin *bin = &h->bins[s->cls];
	s->next = NULL;
	s->prev = bin->last;
	if (bin->last != NULL) {
		bin->last->next = s;
	} else {
		bin->first = s;
	}
	bin->last = s;
	set_cur(h, s->cls);
}

static void full_push(struct vms_heap *h, struct vms_span *s)
{
	struct vms_bin *bin = &h->bins[s->cls];
	s->prev = NULL;
	s->next = bin->full;
	if (bin->full != NULL) {
		bin->full->prev = s;
	}
	bin->full = s;
	s->in_full = 1;
}

static void full_remove(struct vms_heap *h, struct vms_span *s)
{
	struct vms_bin *bin = &h->bins[s->cls];
	if (s->prev != NULL) {
		s->prev->next = s->next;
	} else {
		bin->full = s->next;
	}
	if (s->next != NULL) {
		s->next->prev = s->prev;
	}
	s->next = s->prev = NULL;
	s->in_full = 0;
}

/* ---- spans ---- */

void vms_span_collect(struct vms_span *s)
{
	uintptr_t x = __atomic_load_n(&s->xfree, __ATOMIC_RELAXED);
	if (x & ~(uintptr_t)VMS_XF_MASK) {
		while (!__atomic_compare_exchange_n(&s->xfree, &x, x & VMS_XF_MASK, 1,
						    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
		}
		struct vms_block *list = (struct vms_block *)(x & ~(uintptr_t)VMS_XF_MASK);
		struct vms_block *tail = list;
		uint32_t n = 1;
		while (tail->next != NULL) {
			tail = tail->next;
			n++;
		}
		vms_assert(n <= s->used);
		tail->next = s->local_free;
		s->local_free = list;
		s->used -= n;
	}
	if (s->free == NULL && s->local_free != NULL) {
		s->free = s->local_free;
		s->local_free = NULL;
		s->free_is_zero = 0;
	}
}

/* Waits until no remote freer is notifying about s. */
static void wait_not_busy(struct vms_span *s)
{
	unsigned spins = 0;
	while (__atomic_load_n(&s->xfree, __ATOMIC_ACQUIRE) & VMS_XF_BUSY) {
		pause_a_little(&spins);
	}
}

static void span_unfull(struct vms_heap *h, struct vms_span *s)
{
	full_remove(h, s);
	bin_push_back(h, s);
}

/* Moves the spans remote frees notified us about back to their bins. */
static void process_delayed(struct vms_heap *h)
{
	struct vms_span *s = __atomic_exchange_n(&h->delayed, NULL, __ATOMIC_ACQUIRE);
	while (s != NULL) {
		struct vms_span *next = s->delayed_next;
		if (s->in_full) {
			span_unfull(h, s);
		}
		s = next;
	}
}

/* s has no free block: to the full list, state WANT.  Returns true instead
 * when remote frees arrived meanwhile (s then has free blocks). */
static bool span_to_full(struct vms_heap *h, struct vms_span *s)
{
	uintptr_t x = __atomic_load_n(&s->xfree, __ATOMIC_ACQUIRE);
	unsigned spins = 0;
	for (;;) {
		if (x & ~(uintptr_t)VMS_XF_MASK) {
			vms_span_collect(s);
			return true;
		}
		if (x & VMS_XF_BUSY) {
			pause_a_little(&spins);
			x = __atomic_load_n(&s->xfree, __ATOMIC_ACQUIRE);
			continue;
		}
		if (__atomic_compare_exchange_n(&s->xfree, &x, VMS_XF_WANT, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			break;
		}
	}
	bin_remove(h, s);
	full_push(h, s);
	return false;
}

/* The owner freed a block of a span in the full list. */
static void unfull_local(struct vms_heap *h, struct vms_span *s)
{
	uintptr_t x = __atomic_load_n(&s->xfree, __ATOMIC_ACQUIRE);
	unsigned spins = 0;
	for (;;) {
		unsigned st = (unsigned)(x & VMS_XF_MASK);
		if (st == VMS_XF_WANT) {
			if (__atomic_compare_exchange_n(&s->xfree, &x, x & ~(uintptr_t)VMS_XF_MASK, 0,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
				span_unfull(h, s);
				return;
			}
		} else if (st == VMS_XF_BUSY) {
			pause_a_little(&spins);
			x = __atomic_load_n(&s->xfree, __ATOMIC_ACQUIRE);
		} else {
			/* A remote free notified: s is on the delayed list. */
			process_delayed(h);
			vms_assert(!s->in_full);
			return;
		}
	}
}

static void span_init(struct vms_span *s, unsigned cls, size_t span_bytes)
{
	uint32_t bs = vms_class_size(cls);
	struct vms_divtest d = vms_divtest_make(bs);
	s->block_size = bs;
	s->cls = (uint8_t)cls;
	s->div_inv = d.inv;
	s->div_lim = d.lim;
	s->div_shift = d.shift;
	s->capacity = 0;
	s->reserved = (uint32_t)(span_bytes / bs);
	s->free = s->local_free = NULL;
	s->used = 0;
	s->in_full = 0;
	s->free_is_zero = 0;
	__atomic_store_n(&s->xfree, 0, __ATOMIC_RELAXED);
}

/* Carves more blocks of s (free list empty) out of its slot, committing
 * memory as needed.  0 or an errno. */
static int span_extend(struct vms_heap *h, struct vms_span *s)
{
	struct vms_segment *seg = vms_segment_of(s);
	uint32_t bs = s->block_size;
	uint32_t left = s->reserved - s->capacity;
	size_t off = (size_t)s->capacity * bs;
	uint32_t n;
	if (seg->kind == VMS_SEG_SMALL) {
		n = EXTEND_BYTES / bs < EXTEND_MIN ? EXTEND_MIN : EXTEND_BYTES / bs;
	} else {
		/* Whatever is committed already, else one block. */
		n = s->commit > off + bs ? (uint32_t)((s->commit - off) / bs) : 1;
		n = n > MEDIUM_EXTEND_MAX ? MEDIUM_EXTEND_MAX : n;
	}
	n = n > left ? left : n;
	vms_assert(n > 0);
	size_t end = off + (size_t)n * bs;
	if (end > s->commit) {
		/* A VM call per step: the first commits 16 KiB (or four blocks),
		 * each next one doubles what the span has, so a class with few
		 * blocks in use keeps little memory and a busy one gets its
		 * span in a few calls. */
		size_t step = seg->kind == VMS_SEG_LARGE	   ? bs
			      : 4 * (size_t)bs > VMS_COMMIT_MIN ? 4 * (size_t)bs
								  : VMS_COMMIT_MIN;
		size_t want = (end + step - 1) / step * step;
		if (want < 2 * (size_t)s->commit) {
			want = 2 * (size_t)s->commit;
		}
		size_t span_bytes = vms_span_bytes(seg);
		want = want > span_bytes ? span_bytes : want;
		int r = vms_mem_commit(s->start + s->commit, want - s->commit, seg->raw,
				       seg->pinned || vms_mem_populate_ordinary(seg->kind));
		if (r != 0) {
			return r;
		}
		h->committed += want - s->commit;
		vms_gauge_add(&vms_seg_committed, (int64_t)(want - s->commit));
		s->commit = (uint32_t)want;
	}
	s->free_is_zero = off >= s->dirty;
	if (end > s->dirty) {
		s->dirty = (uint32_t)end;
	}
	char *p = (char *)s->start + off;
	for (uint32_t i = 0; i + 1 < n; i++) {
		((struct vms_block *)(p + (size_t)i * bs))->next = (struct vms_block *)(p + (size_t)(i + 1) * bs);
	}
	((struct vms_block *)(p + (size_t)(n - 1) * bs))->next = NULL;
	s->free = (struct vms_block *)p;
	s->capacity += n;
	return 0;
}

/* A span of class cls in a free slot of one of h's segments.  NULL with
 * *adopted set when an adopted segment brought spans to look at first. */
static struct vms_span *span_new(struct vms_heap *h, unsigned cls, bool *adopted)
{
	enum vms_seg_kind kind = vms_class_kind(cls);
	struct vms_segment *seg = h->segs[kind];
	if (seg == NULL || seg->free_mask == 0) {
		seg = vms_segment_adopt(h, kind);
		if (seg != NULL && h->bins[cls].first != NULL && !*adopted) {
			*adopted = true;
			return NULL;
		}
		if (seg == NULL) {
			seg = vms_segment_new(h, kind);
		}
		if (seg == NULL) {
			return NULL;
		}
	}
	struct vms_span *s = vms_slot_take(h, seg);
	span_init(s, cls, vms_span_bytes(seg));
	bin_push_front(h, s);
	if (span_extend(h, s) != 0) {
		bin_remove(h, s);
		vms_slot_free(h, s);
		return NULL;
	}
	return s;
}

#if VMS_DEBUG >= 2
/* The bins and segment lists of h agree with the invariants of types.h. */
static void heap_check(struct vms_heap *h)
{
	for (unsigned c = 0; c < VMS_NCLASS; c++) {
		struct vms_bin *bin = &h->bins[c];
		vms_assert(h->cur[c] == (bin->first != NULL ? bin->first : &vms_empty_span));
		struct vms_span *prev = NULL;
		for (struct vms_span *s = bin->first; s != NULL; prev = s, s = s->next) {
			struct vms_segment *seg = vms_segment_of(s);
			vms_assert(seg->heap == h && seg->magic == vms_seg_magic(seg));
			vms_assert(s->cls == c && s->block_size == vms_class_size(c) && !s->in_full);
			vms_assert(s->prev == prev && s->capacity <= s->reserved && s->used <= s->capacity);
			vms_assert(!(seg->free_mask & (1ULL << s->slot)));
		}
		vms_assert(bin->last == prev);
		for (struct vms_span *s = bin->full; s != NULL; s = s->next) {
			vms_assert(s->in_full && s->cls == c && vms_segment_of(s)->heap == h);
		}
	}
	for (int kind = 0; kind < VMS_SEG_KINDS; kind++) {
		unsigned empty = 0;
		for (struct vms_segment *seg = h->segs[kind]; seg != NULL; seg = seg->next) {
			vms_assert(seg->heap == h && seg->kind == kind);
			vms_assert(seg->next == NULL || seg->next->prev == seg);
			unsigned used = (unsigned)__builtin_popcountll(~seg->free_mask &
				((seg->nslots == 64 ? ~0ULL : (1ULL << seg->nslots) - 1) & ~1ULL));
			vms_assert(used == seg->used_spans);
			empty += seg->used_spans == 0;
		}
		vms_assert(empty == h->empty_segs[kind]);
	}
}
#else
static void heap_check(struct vms_heap *h)
{
	(void)h;
}
#endif

/* A span of class cls with a free block, first in its bin; NULL when
 * memory cannot be had. */
static struct vms_span *find_span(struct vms_heap *h, unsigned cls)
{
	bool adopted = false;
	heap_check(h);
	for (;;) {
		if (__atomic_load_n(&h->delayed, __ATOMIC_RELAXED) != NULL) {
			process_delayed(h);
		}
		struct vms_span *s = h->bins[cls].first;
		while (s != NULL) {
			struct vms_span *next = s->next;
			vms_span_collect(s);
			if (s->free == NULL && s->capacity < s->reserved) {
				if (span_extend(h, s) != 0) {
					return NULL;
				}
			}
			if (s->free != NULL || span_to_full(h, s)) {
				if (h->bins[cls].first != s) {
					bin_remove(h, s);
					bin_push_front(h, s);
				}
				return s;
			}
			s = next;
		}
		s = span_new(h, cls, &adopted);
		if (s != NULL || !adopted) {
			return s;
		}
	}
}

void *vms_heap_alloc_slow(struct vms_heap *h, unsigned cls, bool zero)
{
	if (h == &vms_empty_heap) {
		h = vms_heap_get();
		if (h == NULL) {
			errno = ENOMEM;
			return NULL;
		}
	}
	/* Now and then, take over a segment an exited thread left: its
	 * blocks freed since then become reusable, and it can be released. */
	if ((++h->tick & 255) == 0 && vms_segment_abandoned_pending()) {
		vms_segment_adopt_some(h, 1);
	}
	if ((h->tick & 15) == 0 && h->free_committed != 0) {
		vms_heap_decay(h);
	}
	struct vms_span *s = find_span(h, cls);
	if (s == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	struct vms_block *b = s->free;
	s->free = b->next;
	s->used++;
	if (zero && !s->free_is_zero) {
		memset(b, 0, s->block_size);
	} else {
		b->next = NULL;
		b->tag = 0;
	}
	__atomic_store_n(&h->cls_alloc[cls], h->cls_alloc[cls] + 1, __ATOMIC_RELAXED);
	return b;
}

/* An empty span leaves its bin for its segment, unless it is the span a
 * small or medium class allocates from (kept, so that one malloc/free pair
 * in a loop does not take and free a slot each time; the decay check
 * retires medium ones later).  A large span (one to six blocks) leaves at
 * once: its slot, still committed, serves the next large block of any
 * class. */
static void span_retire(struct vms_heap *h, struct vms_span *s)
{
	if (h->cur[s->cls] == s && s->cls < VMS_NMEDIUM) {
		return;
	}
	wait_not_busy(s);
	bin_remove(h, s);
	vms_slot_free(h, s);
}

void vms_heap_retire_idle(struct vms_heap *h)
{
	for (unsigned c = VMS_NSMALL; c < VMS_NCLASS; c++) {
		struct vms_span *s = h->cur[c];
		if (s == &vms_empty_span || s->in_full) {
			continue;
		}
		vms_span_collect(s);
		if (s->used == 0) {
			wait_not_busy(s);
			bin_remove(h, s);
			vms_slot_free(h, s);
		}
	}
}

void vms_span_free_slow(struct vms_heap *h, struct vms_span *s)
{
	if (s->in_full) {
		unfull_local(h, s);
	}
	if (s->used == 0) {
		span_retire(h, s);
	}
}

void vms_free_remote(struct vms_segment *seg, struct vms_span *s, struct vms_block *b)
{
	uintptr_t old = __atomic_load_n(&s->xfree, __ATOMIC_RELAXED), nw;
	do {
		b->next = (struct vms_block *)(old & ~(uintptr_t)VMS_XF_MASK);
		unsigned st = (unsigned)(old & VMS_XF_MASK);
		nw = (uintptr_t)b | (st == VMS_XF_WANT ? VMS_XF_BUSY : st);
	} while (!__atomic_compare_exchange_n(&s->xfree, &old, nw, 1, __ATOMIC_ACQ_REL,
					      __ATOMIC_RELAXED));
	if ((old & VMS_XF_MASK) != VMS_XF_WANT) {
		return;
	}
	/* We moved the span from WANT to BUSY: tell its owner, who cannot go
	 * away while the state is BUSY (vms_heap_abandon waits). */
	struct vms_heap *h = __atomic_load_n(&seg->heap, __ATOMIC_ACQUIRE);
	vms_assert(h != NULL);
	struct vms_span *head = __atomic_load_n(&h->delayed, __ATOMIC_RELAXED);
	do {
		s->delayed_next = head;
	} while (!__atomic_compare_exchange_n(&h->delayed, &head, s, 1, __ATOMIC_RELEASE,
					      __ATOMIC_RELAXED));
	old = __atomic_load_n(&s->xfree, __ATOMIC_RELAXED);
	while (!__atomic_compare_exchange_n(&s->xfree, &old, old & ~(uintptr_t)VMS_XF_MASK, 1,
					    __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
	}
}

bool vms_span_adopted(struct vms_heap *h, struct vms_span *s)
{
	s->in_full = 0;
	s->next = s->prev = NULL;
	vms_span_collect(s);
	if (s->used == 0) {
		return true;
	}
	bin_push_back(h, s);
	return false;
}

/* ---- heaps ---- */

static void heap_thread_exit(void *arg);

static int init_state; /* 0 none, 1 running, 2 done */

void vms_alloc_init_once(void)
{
	if (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == 2) {
		return;
	}
	int expected = 0;
	if (!__atomic_compare_exchange_n(&init_state, &expected, 1, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		unsigned spins = 0;
		while (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) != 2) {
			pause_a_little(&spins);
		}
		return;
	}
	vms_alloc_secret_init();
	/* pthread_key_create does not allocate; pthread_setspecific may, and
	 * is only called once the thread's heap is installed. */
	heap_key_ok = pthread_key_create(&heap_key, heap_thread_exit) == 0;
	__atomic_store_n(&vms_stats_collect_hook, vms_alloc_stats_collect, __ATOMIC_RELEASE);
	__atomic_store_n(&vms_stats_alloc_json_hook, vms_alloc_stats_json, __ATOMIC_RELEASE);
	__atomic_store_n(&init_state, 2, __ATOMIC_RELEASE);
}

void vms_heap_register(struct vms_heap *h)
{
	vms_alloc_lock(&registry_lock);
	h->live = true;
	h->reg_prev = NULL;
	h->reg_next = registry;
	if (registry != NULL) {
		registry->reg_prev = h;
	}
	registry = h;
	vms_alloc_unlock(&registry_lock);
}

struct vms_heap *vms_heap_get(void)
{
	struct vms_heap *h = vms_tls_heap;
	if (h != &vms_empty_heap) {
		return h;
	}
	vms_alloc_init_once();
	h = vms_pool_alloc(&heap_pool);
	if (h == NULL) {
		return NULL;
	}
	for (unsigned c = 0; c < VMS_NCLASS; c++) {
		h->cur[c] = &vms_empty_span;
	}
	vms_heap_register(h);
	vms_tls_heap = h;
	if (heap_key_ok) {
		/* May call malloc: this thread's heap is ready for it. */
		pthread_setspecific(heap_key, h);
	}
	return h;
}

/* Adds what h counted since the last fold to the totals.  Registry lock held. */
static void fold_heap(struct vms_heap *h)
{
	for (int k = 0; k < VMS_AC_COUNT; k++) {
		uint64_t v = __atomic_load_n(&h->calls[k], __ATOMIC_RELAXED);
		if (v != h->folded[k]) {
			vms_count_add(&vms_stats.calls[call_of[k]], v - h->folded[k]);
			h->folded[k] = v;
		}
	}
	for (unsigned c = 0; c < VMS_NCLASS; c++) {
		uint64_t a = __atomic_load_n(&h->cls_alloc[c], __ATOMIC_RELAXED);
		uint64_t f = __atomic_load_n(&h->cls_free[c], __ATOMIC_RELAXED);
		__atomic_fetch_add(&orphan_cls_alloc[c], a - h->folded_alloc[c], __ATOMIC_RELAXED);
		__atomic_fetch_add(&orphan_cls_free[c], f - h->folded_free[c], __ATOMIC_RELAXED);
		h->folded_alloc[c] = a;
		h->folded_free[c] = f;
	}
}

void vms_heap_fold_stats(void)
{
	/* A report may come from a signal handler interrupting a holder:
	 * give up on live heaps rather than wait forever. */
	unsigned spins = 0;
	while (__atomic_exchange_n(&registry_lock, 1, __ATOMIC_ACQUIRE) != 0) {
		if (++spins > 100000) {
			return;
		}
		vms_cpu_relax();
	}
	for (struct vms_heap *h = registry; h != NULL; h = h->reg_next) {
		fold_heap(h);
	}
	vms_alloc_unlock(&registry_lock);
}

void vms_heap_class_usage(uint64_t blocks[VMS_NCLASS])
{
	vms_heap_fold_stats();
	for (unsigned c = 0; c < VMS_NCLASS; c++) {
		uint64_t a = __atomic_load_n(&orphan_cls_alloc[c], __ATOMIC_RELAXED);
		uint64_t f = __atomic_load_n(&orphan_cls_free[c], __ATOMIC_RELAXED);
		blocks[c] = a > f ? a - f : 0;
	}
}

/* Every span of every segment of h, with a visitor.  The visitor may free
 * the span's slot; it returns true when that released the segment. */
static void for_each_used_span(struct vms_heap *h, bool (*visit)(struct vms_heap *, struct vms_span *))
{
	for (int kind = 0; kind < VMS_SEG_KINDS; kind++) {
		struct vms_segment *seg = h->segs[kind];
		while (seg != NULL) {
			struct vms_segment *next = seg->next;
			uint64_t all = (seg->nslots == 64 ? ~0ULL : (1ULL << seg->nslots) - 1) & ~1ULL;
			uint64_t used = all & ~seg->free_mask;
			for (; used != 0; used &= used - 1) {
				if (visit(h, &seg->spans[__builtin_ctzll(used)])) {
					break;
				}
			}
			seg = next;
		}
	}
}

/* Abandon step 1: no remote free may notify h any more. */
static bool quiesce_span(struct vms_heap *h, struct vms_span *s)
{
	(void)h;
	uintptr_t x = __atomic_load_n(&s->xfree, __ATOMIC_ACQUIRE);
	unsigned spins = 0;
	while (x & (VMS_XF_WANT | VMS_XF_BUSY)) {
		if (x & VMS_XF_BUSY) {
			pause_a_little(&spins);
			x = __atomic_load_n(&s->xfree, __ATOMIC_ACQUIRE);
			continue;
		}
		__atomic_compare_exchange_n(&s->xfree, &x, x & ~(uintptr_t)VMS_XF_MASK, 0,
					    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	}
	return false;
}

/* Abandon step 3: collect, and free the slots of empty spans. */
static bool settle_span(struct vms_heap *h, struct vms_span *s)
{
	s->in_full = 0;
	s->next = s->prev = NULL;
	vms_span_collect(s);
	if (s->used == 0) {
		return vms_slot_free(h, s);
	}
	return false;
}

void vms_heap_abandon(struct vms_heap *h)
{
	h->exiting = true;
	for_each_used_span(h, quiesce_span);
	/* Nobody can push onto the delayed list now: forget it. */
	__atomic_store_n(&h->delayed, NULL, __ATOMIC_RELEASE);
	for (unsigned c = 0; c < VMS_NCLASS; c++) {
		h->bins[c].first = h->bins[c].last = h->bins[c].full = NULL;
		h->cur[c] = &vms_empty_span;
	}
	for_each_used_span(h, settle_span);
	for (int kind = 0; kind < VMS_SEG_KINDS; kind++) {
		struct vms_segment *seg;
		while ((seg = h->segs[kind]) != NULL) {
			if (seg->used_spans == 0) {
				vms_segment_release(h, seg);
				continue;
			}
			/* What the thread freed goes back to the VM with it. */
			vms_heap_purge_segment(h, seg);
			vms_seglist_remove(h, seg);
			for (unsigned i = 1; i < seg->nslots; i++) {
				h->committed -= seg->spans[i].commit;
				if (seg->free_mask & (1ULL << i)) {
					h->free_committed -= seg->spans[i].commit;
				}
			}
			h->committed -= VMS_HEADER_COMMIT;
			vms_segment_abandon(seg);
		}
	}
}

static void heap_thread_exit(void *arg)
{
	struct vms_heap *h = arg;
	if (h == NULL || h == &vms_empty_heap) {
		return;
	}
	if (vms_tls_heap == h) {
		vms_tls_heap = &vms_empty_heap;
	}
	vms_heap_abandon(h);
	vms_alloc_lock(&registry_lock);
	fold_heap(h);
	if (h->reg_prev != NULL) {
		h->reg_prev->reg_next = h->reg_next;
	} else {
		registry = h->reg_next;
	}
	if (h->reg_next != NULL) {
		h->reg_next->reg_prev = h->reg_prev;
	}
	h->live = false;
	vms_alloc_unlock(&registry_lock);
	vms_pool_free(&heap_pool, h);
}

static bool collect_span(struct vms_heap *h, struct vms_span *s)
{
	if (s->in_full) {
		return false; /* its frees come through the delayed list */
	}
	vms_span_collect(s);
	if (s->used == 0) {
		bool last = vms_segment_of(s)->used_spans == 1;
		wait_not_busy(s);
		bin_remove(h, s);
		return vms_slot_free(h, s) || last;
	}
	return false;
}

void vms_heap_collect(struct vms_heap *h, bool force)
{
	if (h == &vms_empty_heap) {
		return;
	}
	if (force) {
		while (vms_segment_adopt_some(h, 64) != 0) {
		}
	}
	process_delayed(h);
	for_each_used_span(h, collect_span);
	if (force) {
		vms_heap_purge(h, 0, 0);
	}
}

/* ---- fork ---- */

void vms_heap_prefork(void)
{
	vms_spin_lock(&registry_lock);
	vms_spin_lock(&heap_pool.lock);
}

void vms_heap_postfork_parent(void)
{
	vms_spin_unlock(&heap_pool.lock);
	vms_spin_unlock(&registry_lock);
}

void vms_heap_postfork_child(void)
{
	heap_pool.lock = 0;
	registry_lock = 0;
	/* The shim zeroes the call counters in the child: count from here. */
	for (struct vms_heap *h = registry; h != NULL; h = h->reg_next) {
		for (int k = 0; k < VMS_AC_COUNT; k++) {
			h->folded[k] = __atomic_load_n(&h->calls[k], __ATOMIC_RELAXED);
		}
	}
}

_Noreturn void vms_alloc_bad_pointer(const void *p, const char *what)
{
	vms_fatal("%s %p: not a block of libvmshim's malloc in use", what, p);
}
