/*
 * alloc/segment.c - regions, segments and slots.
 *
 * Owns: reserving regions (address space for segments), carving 4 MiB
 * segments out of them, taking and freeing a segment's slots for spans,
 * the decommit policy for free slots, releasing empty segments, and the
 * list of segments abandoned by exited threads.
 *
 * Regions are reserved once and never returned: address space is cheap,
 * and a region is one VMA however many segments live in it.  A segment
 * released by its heap is decommitted whole (its memory goes back to the
 * VM) and its address goes on a free stack kept outside the arena (its
 * header is decommitted with it).
 *
 * Decommit policy (vms_slot_free, vms_heap_decay, vms_heap_purge):
 *   - a slot freed by its span keeps its committed memory for a while, so
 *     a heap that frees and allocates spans does not populate again;
 *   - decay: a slot free for VMS_DECAY_MS (100 ms) is decommitted the next
 *     time its heap takes a slow path (looked at every 50 ms at most);
 *   - an empty span stays with its class while it is the one the class
 *     allocates from; the decay check retires such spans of medium and
 *     large classes (up to 1 MiB each), so their slots decay too;
 *   - cap: when a heap's committed-but-free bytes exceed
 *     vms_purge_threshold (1/8 of what it has committed, at least 32 MiB:
 *     less made a 16 MiB batch of 64 KiB blocks populate again each round),
 *     free slots are decommitted at once, those free longest first, until
 *     half of that is left;
 *   - a thread that exits decommits the free slots of the segments it
 *     leaves to others;
 *   - a segment with no span in use is released by the same decay (or
 *     the cap), except one of each kind per heap kept as a spare, and at
 *     once when the heap has more than VMS_MAX_EMPTY (4) empty ones of
 *     its kind;
 *   - when the arena's kernel-mapping count is past half its budget,
 *     decommitting single slots stops (each hole can cost two kernel
 *     mappings); whole segments are still released.
 *
 * Region kinds: arena regions (memory the VM serves and reclaim may take),
 * raw regions (the kernel's, before the arena exists or once it is full),
 * and pinned regions (1 GiB each, the kernel's memory even when there is
 * an arena) for the pinned heap's segments (alloc/pinned.c explains why).
 * A segment never changes kind; each kind has its own free stack.
 *
 * Locks: vms_region_lock (regions, free stacks), vms_abandoned_lock (the
 * abandoned lists).  Neither is held across a VM call or with the other.
 */
#include "config.h"
#include "alloc/internal.h"

#include <errno.h>
#include <sys/mman.h>
#include <time.h>

#include "os/pool.h"
#include "os/raw.h"
#include "util/debug.h"
#include "util/options.h"
#include "vm/mm.h"

#define MAX_REGIONS 64
#define ARENA_REGION_MAX (64UL << 30)
#define RAW_REGION_SIZE (4UL << 30)
#define FREE_STACK_ENTRIES (1UL << 20)
#define PINNED_REGION_SIZE VMS_REGION_GRAIN

/* Region kinds: index of the free stacks. */
enum { KIND_ARENA = 0, KIND_RAW = 1, KIND_PINNED = 2, NKINDS = 3 };

uint64_t vms_region_map[1u << (VMS_ADDR_BITS - VMS_REGION_SHIFT - 6)];
struct vms_gauge vms_seg_committed;
int vms_region_lock;
int vms_abandoned_lock;

struct region {
	uintptr_t base, end, bump;
	int kind;
};

static struct region regions[MAX_REGIONS];     /* (r) */
static int nregions;                           /* (r) */
static uintptr_t *free_stack[NKINDS];          /* (r) released segments, per kind */
static size_t free_top[NKINDS];                /* (r) */
static struct vms_segment *abandoned[VMS_SEG_KINDS]; /* (x) */
static size_t abandoned_count;                 /* (x) */
static size_t segments_live;                   /* (a) */

static uintptr_t seg_magic(const struct vms_segment *seg)
{
	return ((uintptr_t)seg ^ vms_alloc_secret) | 1;
}

/* ---- regions ---- */

static bool want_raw(void);

static size_t region_size(bool pinned)
{
	if (pinned) {
		return PINNED_REGION_SIZE;
	}
	if (want_raw()) {
		return RAW_REGION_SIZE;
	}
	size_t s = (vms_mm.end - vms_mm.base) / 8;
	s = s > ARENA_REGION_MAX ? ARENA_REGION_MAX : s & ~(VMS_REGION_GRAIN - 1);
	/* An arena too small for a region: segments come from the kernel. */
	return s == 0 ? RAW_REGION_SIZE : s;
}

/* The kind of memory new segments come from: the arena once the shim has
 * one, unless it has refused a region (full); before the shim is
 * initialised (ld.so's first calls) or without an arena, the kernel's. */
static bool arena_refused;  /* (r) */

static bool want_raw(void)
{
	return __atomic_load_n(&vms_mm.base, __ATOMIC_RELAXED) == 0 ||
	       __atomic_load_n(&arena_refused, __ATOMIC_RELAXED);
}

/* Pops a released segment or bumps a region of that kind; 0 if none.
 * Region lock held. */
static uintptr_t carve_locked(int kind)
{
	if (free_top[kind] > 0) {
		return free_stack[kind][--free_top[kind]];
	}
	for (int i = 0; i < nregions; i++) {
		struct region *r = &regions[i];
		if (r->kind == kind && r->end - r->bump >= VMS_SEG_SIZE) {
			uintptr_t at = r->bump;
			r->bump += VMS_SEG_SIZE;
			return at;
		}
	}
	return 0;
}

static bool install_region(uintptr_t base, size_t size, int kind)
{
	if (free_stack[kind] == NULL) {
		long r = vms_raw_mmap(NULL, FREE_STACK_ENTRIES * sizeof(uintptr_t),
				      PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (vms_raw_failed(r)) {
			return false;
		}
		free_stack[kind] = (uintptr_t *)r;
	}
	if (nregions == MAX_REGIONS) {
		return false;
	}
	regions[nregions++] = (struct region){ base, base + size, base, kind };
	for (uintptr_t g = base; g < base + size; g += VMS_REGION_GRAIN) {
		uintptr_t i = g >> VMS_REGION_SHIFT;
		__atomic_fetch_or(&vms_region_map[i >> 6], 1ULL << (i & 63), __ATOMIC_RELEASE);
	}
	return true;
}

/* A segment's address: *kind tells where it lives (KIND_*); pinned asks
 * for the pinned heap's kind of memory. */
static uintptr_t carve(int *kind, bool pinned)
{
	for (int tries = 0; tries < 4; tries++) {
		bool raw = want_raw();
		*kind = pinned ? KIND_PINNED : raw ? KIND_RAW : KIND_ARENA;
		vms_alloc_lock(&vms_region_lock);
		uintptr_t at = carve_locked(*kind);
		vms_alloc_unlock(&vms_region_lock);
		if (at != 0) {
			return at;
		}
		/* A new region, reserved without the lock held (a VM call). */
		size_t size = region_size(pinned);
		bool rraw;
		uintptr_t base = vms_mem_reserve_region(size, pinned, &rraw);
		if (base == 0) {
			return 0;
		}
		int rkind = pinned ? KIND_PINNED : rraw ? KIND_RAW : KIND_ARENA;
		vms_alloc_lock(&vms_region_lock);
		bool ok = install_region(base, size, rkind);
		if (rraw && !raw && !pinned) {
			arena_refused = true; /* the arena is full: the kernel's from now on */
		}
		vms_alloc_unlock(&vms_region_lock);
		if (!ok) {
			vms_mem_unmap(base, size, rraw);
			return 0;
		}
	}
	return 0;
}

/* ---- the heap's segment lists: segments with a free slot come first ---- */

void vms_seglist_push(struct vms_heap *h, struct vms_segment *seg)
{
	struct vms_segment **head = &h->segs[seg->kind];
	seg->prev = NULL;
	seg->next = *head;
	if (*head != NULL) {
		(*head)->prev = seg;
	}
	*head = seg;
}

void vms_seglist_remove(struct vms_heap *h, struct vms_segment *seg)
{
	if (seg->prev != NULL) {
		seg->prev->next = seg->next;
	} else {
		h->segs[seg->kind] = seg->next;
	}
	if (seg->next != NULL) {
		seg->next->prev = seg->prev;
	}
	seg->next = seg->prev = NULL;
}

/* A segment that just became full goes to the tail; one that just got a
 * free slot to the head. */
void vms_seglist_update(struct vms_heap *h, struct vms_segment *seg)
{
	vms_seglist_remove(h, seg);
	if (seg->free_mask != 0) {
		vms_seglist_push(h, seg);
		return;
	}
	struct vms_segment **pp = &h->segs[seg->kind];
	struct vms_segment *prev = NULL;
	while (*pp != NULL) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	seg->prev = prev;
	*pp = seg;
}

/* ---- segments ---- */

static uint64_t all_slots(unsigned nslots)
{
	uint64_t m = nslots == 64 ? ~0ULL : (1ULL << nslots) - 1;
	return m & ~1ULL; /* slot 0 is the header */
}

struct vms_segment *vms_segment_new(struct vms_heap *h, enum vms_seg_kind kind)
{
	int rkind;
	uintptr_t at = carve(&rkind, h->pinned);
	if (at == 0) {
		return NULL;
	}
	bool raw = rkind != KIND_ARENA;
	/* The header is the allocator's own: present from the start. */
	if (vms_mem_commit(at, VMS_HEADER_COMMIT, raw, true) != 0) {
		vms_alloc_lock(&vms_region_lock);
		free_stack[rkind][free_top[rkind]++] = at;
		vms_alloc_unlock(&vms_region_lock);
		return NULL;
	}
	/* Fresh or decommitted memory: the header reads zero. */
	struct vms_segment *seg = (struct vms_segment *)at;
	seg->kind = (uint8_t)kind;
	seg->span_shift = kind == VMS_SEG_SMALL	   ? VMS_SMALL_SPAN_SHIFT
			  : kind == VMS_SEG_MEDIUM ? VMS_MEDIUM_SPAN_SHIFT
						   : VMS_LARGE_SPAN_SHIFT;
	seg->nslots = (uint8_t)(VMS_SEG_SIZE >> seg->span_shift);
	seg->raw = raw;
	seg->pinned = h->pinned;
	seg->used_spans = 0;
	seg->free_mask = all_slots(seg->nslots);
	for (unsigned i = 0; i < seg->nslots; i++) {
		struct vms_span *s = &seg->spans[i];
		s->start = at + ((uintptr_t)i << seg->span_shift);
		s->slot = i;
		s->commit = s->dirty = 0;
		s->block_size = 0;
	}
	seg->magic = seg_magic(seg);
	__atomic_store_n(&seg->heap, h, __ATOMIC_RELEASE);
	vms_seglist_push(h, seg);
	h->committed += VMS_HEADER_COMMIT;
	vms_gauge_add(&vms_seg_committed, VMS_HEADER_COMMIT);
	h->empty_segs[kind]++;
	__atomic_fetch_add(&segments_live, 1, __ATOMIC_RELAXED);
	return seg;
}

void vms_segment_release(struct vms_heap *h, struct vms_segment *seg)
{
	vms_assert(seg->used_spans == 0);
	vms_seglist_remove(h, seg);
	size_t committed = VMS_HEADER_COMMIT;
	for (unsigned i = 1; i < seg->nslots; i++) {
		committed += seg->spans[i].commit;
		h->free_committed -= seg->spans[i].commit;
	}
	h->committed -= committed;
	vms_gauge_add(&vms_seg_committed, -(int64_t)committed);
	h->empty_segs[seg->kind]--;
	bool raw = seg->raw;
	int rkind = seg->pinned ? KIND_PINNED : raw ? KIND_RAW : KIND_ARENA;
	seg->magic = 0;
	__atomic_store_n(&seg->heap, NULL, __ATOMIC_RELEASE);
	vms_mem_decommit((uintptr_t)seg, VMS_SEG_SIZE, raw);
	vms_alloc_lock(&vms_region_lock);
	free_stack[rkind][free_top[rkind]++] = (uintptr_t)seg;
	vms_alloc_unlock(&vms_region_lock);
	__atomic_fetch_sub(&segments_live, 1, __ATOMIC_RELAXED);
}

void vms_segment_abandon(struct vms_segment *seg)
{
	__atomic_store_n(&seg->heap, NULL, __ATOMIC_RELEASE);
	vms_alloc_lock(&vms_abandoned_lock);
	seg->prev = NULL;
	seg->next = abandoned[seg->kind];
	if (seg->next != NULL) {
		seg->next->prev = seg;
	}
	abandoned[seg->kind] = seg;
	__atomic_store_n(&abandoned_count, abandoned_count + 1, __ATOMIC_RELAXED);
	vms_alloc_unlock(&vms_abandoned_lock);
}

/* Takes one abandoned segment of kind into h: true if there was one, with
 * *out the segment, or NULL when it held nothing in use any more and was
 * released. */
static bool adopt_one(struct vms_heap *h, enum vms_seg_kind kind, struct vms_segment **out)
{
	if (h->pinned) {
		return false; /* ordinary segments never become pinned */
	}
	vms_alloc_lock(&vms_abandoned_lock);
	struct vms_segment *seg = abandoned[kind];
	if (seg != NULL) {
		abandoned[kind] = seg->next;
		if (seg->next != NULL) {
			seg->next->prev = NULL;
		}
		__atomic_store_n(&abandoned_count, abandoned_count - 1, __ATOMIC_RELAXED);
	}
	vms_alloc_unlock(&vms_abandoned_lock);
	if (seg == NULL) {
		return false;
	}
	__atomic_store_n(&seg->heap, h, __ATOMIC_RELEASE);
	vms_seglist_push(h, seg);
	h->committed += VMS_HEADER_COMMIT;
	if (seg->used_spans == 0) {
		h->empty_segs[kind]++;
	}
	for (unsigned i = 1; i < seg->nslots; i++) {
		struct vms_span *s = &seg->spans[i];
		h->committed += s->commit;
		if (seg->free_mask & (1ULL << i)) {
			h->free_committed += s->commit;
		}
	}
	/* Spans in use join h's bins; the empty ones free their slots, the
	 * last of which may release the segment. */
	uint64_t used = all_slots(seg->nslots) & ~seg->free_mask;
	bool released = false;
	for (; used != 0 && !released; used &= used - 1) {
		struct vms_span *s = &seg->spans[__builtin_ctzll(used)];
		if (vms_span_adopted(h, s)) {
			released = vms_slot_free(h, s);
		}
	}
	if (!released) {
		vms_seglist_update(h, seg);
	}
	*out = released ? NULL : seg;
	return true;
}

struct vms_segment *vms_segment_adopt(struct vms_heap *h, enum vms_seg_kind kind)
{
	struct vms_segment *seg;
	while (adopt_one(h, kind, &seg)) {
		if (seg != NULL && seg->free_mask != 0) {
			return seg;
		}
	}
	return NULL;
}

size_t vms_segment_adopt_some(struct vms_heap *h, size_t max)
{
	size_t n = 0;
	struct vms_segment *seg;
	for (int kind = 0; kind < VMS_SEG_KINDS; kind++) {
		while (n < max && adopt_one(h, (enum vms_seg_kind)kind, &seg)) {
			n++;
		}
	}
	return n;
}

bool vms_segment_abandoned_pending(void)
{
	return __atomic_load_n(&abandoned_count, __ATOMIC_RELAXED) != 0;
}

/* ---- slots ---- */

struct vms_span *vms_slot_take(struct vms_heap *h, struct vms_segment *seg)
{
	uint64_t fm = seg->free_mask;
	vms_assert(fm != 0);
	unsigned pick = (unsigned)__builtin_ctzll(fm);
	/* A committed slot first: no populate. */
	for (uint64_t m = fm; m != 0; m &= m - 1) {
		unsigned i = (unsigned)__builtin_ctzll(m);
		if (seg->spans[i].commit != 0) {
			pick = i;
			break;
		}
	}
	struct vms_span *s = &seg->spans[pick];
	seg->free_mask &= ~(1ULL << pick);
	if (seg->used_spans++ == 0) {
		h->empty_segs[seg->kind]--;
	}
	h->free_committed -= s->commit;
	if (seg->free_mask == 0) {
		vms_seglist_update(h, seg);
	}
	return s;
}

size_t vms_purge_threshold(const struct vms_heap *h)
{
	size_t t = h->committed / 8;
	return t < (32UL << 20) ? (32UL << 20) : t;
}

bool vms_slot_free(struct vms_heap *h, struct vms_span *s)
{
	struct vms_segment *seg = vms_segment_of(s);
	s->block_size = 0;
	s->div_inv = 1;
	s->div_lim = 0;
	s->div_shift = 0;
	s->free = s->local_free = NULL;
	s->used = s->capacity = s->reserved = 0;
	s->in_full = 0;
	s->next = s->prev = NULL;
	__atomic_store_n(&s->xfree, 0, __ATOMIC_RELAXED);
	s->freed_ms = vms_now_ms();
	bool was_full = seg->free_mask == 0;
	seg->free_mask |= 1ULL << s->slot;
	h->free_committed += s->commit;
	if (was_full) {
		vms_seglist_update(h, seg);
	}
	if (--seg->used_spans == 0) {
		/* Empty segments decay like free slots (one of each kind stays
		 * as a spare); beyond VMS_MAX_EMPTY of a kind they go at once. */
		seg->empty_ms = vms_now_ms();
		if (++h->empty_segs[seg->kind] > VMS_MAX_EMPTY || h->exiting) {
			vms_segment_release(h, seg);
			return true;
		}
	}
	/* Only the cap here: slot frees happen inside loops over segments
	 * (collect, adopt), which decay (run on allocation slow paths) must
	 * not disturb; the cap frees no span and releases no segment in use. */
	if (!h->exiting && h->free_committed > vms_purge_threshold(h)) {
		vms_heap_purge(h, vms_purge_threshold(h) / 2, 0);
	}
	return false;
}

uint32_t vms_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint32_t)((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* Decommits the free committed slots of seg freed at least min_age_ms ago,
 * in runs of neighbours (one VM call each); stops once h keeps at most
 * keep bytes. */
static void purge_segment(struct vms_heap *h, struct vms_segment *seg, size_t keep,
			  uint32_t min_age_ms, uint32_t now)
{
	unsigned n = seg->nslots;
	for (unsigned i = 1; i < n && h->free_committed > keep;) {
		struct vms_span *s = &seg->spans[i];
		if (!(seg->free_mask & (1ULL << i)) || s->commit == 0 ||
		    now - s->freed_ms < min_age_ms) {
			i++;
			continue;
		}
		unsigned j = i;
		size_t bytes = 0;
		while (j < n && (seg->free_mask & (1ULL << j)) && seg->spans[j].commit != 0 &&
		       now - seg->spans[j].freed_ms >= min_age_ms) {
			bytes += seg->spans[j].commit;
			j++;
		}
		struct vms_span *last = &seg->spans[j - 1];
		vms_mem_decommit(s->start, last->start + last->commit - s->start, seg->raw);
		for (unsigned k = i; k < j; k++) {
			seg->spans[k].commit = seg->spans[k].dirty = 0;
		}
		h->free_committed -= bytes;
		h->committed -= bytes;
		vms_gauge_add(&vms_seg_committed, -(int64_t)bytes);
		i = j;
	}
}

static void purge_pass(struct vms_heap *h, size_t keep, uint32_t min_age_ms, uint32_t now)
{
	for (int kind = 0; kind < VMS_SEG_KINDS; kind++) {
		struct vms_segment *seg = h->segs[kind];
		while (seg != NULL && h->free_committed > keep) {
			struct vms_segment *next = seg->next;
			if (seg->used_spans == 0 && h->empty_segs[kind] > 1 &&
			    now - seg->empty_ms >= min_age_ms) {
				vms_segment_release(h, seg);
			} else if (seg->raw || !vms_mem_many_kmaps()) {
				purge_segment(h, seg, keep, min_age_ms, now);
			}
			seg = next;
		}
	}
}

/* Oldest first, roughly: passes over slots free for at least 100, 25, 5
 * and then 0 ms (no older than min_age_ms), until keep is reached. */
void vms_heap_purge(struct vms_heap *h, size_t keep, uint32_t min_age_ms)
{
	static const uint32_t ages[] = { VMS_DECAY_MS, 25, 5, 0 };
	uint32_t now = vms_now_ms();
	for (size_t i = 0; i < sizeof ages / sizeof ages[0] && h->free_committed > keep; i++) {
		if (ages[i] >= min_age_ms) {
			purge_pass(h, keep, ages[i], now);
		}
	}
}

void vms_heap_purge_segment(struct vms_heap *h, struct vms_segment *seg)
{
	if (seg->raw || !vms_mem_many_kmaps()) {
		purge_segment(h, seg, 0, 0, vms_now_ms());
	}
}

void vms_heap_decay(struct vms_heap *h)
{
	uint32_t now = vms_now_ms();
	if ((int32_t)(now - h->next_decay_ms) < 0) {
		return;
	}
	h->next_decay_ms = now + VMS_DECAY_MS / 2;
	vms_heap_retire_idle(h);
	if (h->free_committed > 0) {
		vms_heap_purge(h, 0, VMS_DECAY_MS);
	}
}

void vms_segment_stats(struct vms_seg_stats *st)
{
	vms_alloc_lock(&vms_region_lock);
	st->regions = (size_t)nregions;
	st->region_bytes = 0;
	for (int i = 0; i < nregions; i++) {
		st->region_bytes += regions[i].end - regions[i].base;
	}
	st->free_segments = free_top[KIND_ARENA] + free_top[KIND_RAW] + free_top[KIND_PINNED];
	vms_alloc_unlock(&vms_region_lock);
	vms_alloc_lock(&vms_abandoned_lock);
	st->abandoned = abandoned_count;
	vms_alloc_unlock(&vms_abandoned_lock);
	st->segments = __atomic_load_n(&segments_live, __ATOMIC_RELAXED);
}

void vms_segment_fork_child(void)
{
	vms_region_lock = 0;
	vms_abandoned_lock = 0;
}
