/*
 * vm/pte.c - the software page table: a radix tree over the arena; see
 * vm/pte.h for the PTE format and the interface.
 *
 * Owns: the top array (raw mmap'ed, sized for the arena), the interior
 * ("middle") and leaf nodes (4 KiB objects from t->pool) and t->nodes.
 * Must not: call malloc or stdio, take any lock but the pool's, or issue a
 * system call except through os/raw.h (init and destroy only).
 *
 * Levels.  A page number pn = (addr - base) >> 12 is split into 9-bit
 * indices, least significant first:
 *
 *   leaf    pn & 511           512 vms_pte_t          = 4 KiB, 2 MiB of arena
 *   middle  (pn >> 9) & 511    512 pointers to leaves = 4 KiB, 1 GiB of arena
 *   top     pn >> shift        top_entries pointers, raw mmap'ed
 *
 * The number of node levels below the top depends on the arena size: the
 * fewest that keep the top array within PTE_TOP_MAX (2^16) entries, 512 KiB
 * of address space that is MAP_NORESERVE and touched only where used.
 *
 *   arena <= 128 GiB (2^25 pages)  top -> leaf           shift 9,  2 loads
 *   arena <= 64 TiB  (2^34 pages)  top -> middle -> leaf shift 18, 3 loads
 *
 * So top_entries = ceil(npages / 512) for the first form (e.g. 2048 for a
 * 4 GiB arena) and ceil(npages / 2^18) for the second (1024 for 1 TiB,
 * 65536 for 64 TiB).  Populating P distinct pages costs one 4 KiB leaf per
 * distinct 2 MiB block touched, plus, in the second form, one 4 KiB middle
 * per distinct 1 GiB block; 4 KiB of top array is touched per 512 top
 * entries in use.  Larger arenas are refused (ENOMEM): 64 TiB is the limit
 * pte.h states.  A top entry may cover pages past the end of the arena
 * (the last leaf or middle of an arena that is not a multiple of its
 * reach); those PTEs exist in memory but are never handed out.
 *
 * Invariants.
 *  - A leaf exists iff it holds a non-zero PTE, and a middle exists iff it
 *    has a non-NULL child, except transiently: vms_pte_ensure() installs
 *    nodes before its caller stores a non-zero PTE, and an ensure that
 *    fails with ENOMEM after installing a middle leaves that middle empty.
 *    vms_pte_release_range() removes such nodes when its range reaches them.
 *  - t->nodes equals the number of middles plus leaves linked in the tree.
 *  - Node pointers only go NULL -> node outside vms_pte_release_range() and
 *    vms_pte_table_destroy(), so a pointer once loaded stays valid until the
 *    map write lock is taken.
 *
 * Edges of the interface, as chosen here.
 *  - vms_pte_table_init(): EINVAL for arguments outside pte.h's rules
 *    (base or len not page aligned, len 0, range wrapping), ENOMEM above
 *    64 TiB or when the top array cannot be mapped.
 *  - vms_pte_span() stops at the end of the table as well as of the leaf;
 *    for an address outside the table it answers 1 page, *first NULL.
 *  - vms_pte_release_range() widens [start, end) to whole pages and clamps
 *    it to the table.  Its cost is one load per top entry in the range
 *    (65536 at most: 512 KiB of top array, read even where never written)
 *    plus one 4 KiB scan per node found; never a walk over pages.
 *
 * Memory: 8 bytes of PTE per arena page once its 2 MiB block is touched;
 * fully populated, a 64 TiB arena needs 2^25 leaves (128 GiB) and 2^16
 * middles (256 MiB), a 1 GiB arena 512 leaves (2 MiB) and no middle.
 *
 * Concurrency.
 *  - vms_pte_lookup(), vms_pte_span() and vms_pte_ensure() run without locks,
 *    concurrently with each other (fault handlers on several threads).  Node
 *    pointers are read with acquire loads and installed with a compare-and-
 *    swap (acq_rel), so the zeroed contents of a new node are visible before
 *    the pointer; the loser of an installation race frees its node back to
 *    the pool and uses the winner's.  vms_pte_ensure() is async-signal-safe
 *    under the pool's rule (signals blocked while the pool lock is held).
 *  - vms_pte_release_range() and vms_pte_table_destroy() change nodes with
 *    plain stores: the caller holds the map lock for writing, so no lookup
 *    or ensure runs then, and no one holds a PTE pointer across it.
 *  - PTE words themselves belong to the callers (pte.h atomic helpers).
 */
#include "config.h"
#include "vm/pte.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>

#include "os/raw.h"
#include "util/debug.h"

#define PTE_PAGE_SHIFT   12
#define PTE_PAGE_SIZE    (1UL << PTE_PAGE_SHIFT)
#define PTE_BITS         9                        /* index bits per node */
#define PTE_FANOUT       (1UL << PTE_BITS)        /* 512 */
#define PTE_MASK         (PTE_FANOUT - 1)
#define PTE_NODE_SIZE    4096                     /* leaf and middle alike */
#define PTE_TOP_MAX_BITS 16
#define PTE_TOP_MAX      (1UL << PTE_TOP_MAX_BITS)
/* Largest arena served by top -> leaf (2^25 pages, 128 GiB). */
#define PTE_TWO_LEVEL_MAX_PAGES ((uint64_t)PTE_TOP_MAX << PTE_BITS)
/* Largest arena at all (2^34 pages, 64 TiB). */
#define PTE_MAX_PAGES ((uint64_t)PTE_TOP_MAX << (2 * PTE_BITS))

_Static_assert(VMS_PTE_PER_LEAF == PTE_FANOUT, "a leaf is one 512-entry node");
_Static_assert(VMS_PTE_PER_LEAF * sizeof(vms_pte_t) == PTE_NODE_SIZE, "leaf size");
_Static_assert(PTE_FANOUT * sizeof(void *) == PTE_NODE_SIZE, "middle size");

/* True when the table has a middle level (arena above 128 GiB). */
static inline bool pte_has_middle(const struct vms_pte_table *t)
{
	return t->npages > PTE_TWO_LEVEL_MAX_PAGES;
}

/* log2 of the pages one top entry covers. */
static inline unsigned pte_top_shift(const struct vms_pte_table *t)
{
	return pte_has_middle(t) ? 2 * PTE_BITS : PTE_BITS;
}

static inline void *pte_load_child(void *const *slot)
{
	return __atomic_load_n(slot, __ATOMIC_ACQUIRE);
}

/* The page number of addr, or false when addr is outside the table. */
static inline bool pte_pn(const struct vms_pte_table *t, uintptr_t addr, uint64_t *pn)
{
	if (addr < t->base) {
		return false;
	}
	*pn = (uint64_t)(addr - t->base) >> PTE_PAGE_SHIFT;
	return *pn < t->npages;
}

/* The leaf holding page pn, or NULL when it does not exist. */
static inline vms_pte_t *pte_find_leaf(const struct vms_pte_table *t, uint64_t pn)
{
	if (pte_has_middle(t)) {
		void **mid = pte_load_child(&t->top[pn >> (2 * PTE_BITS)]);
		if (mid == NULL) {
			return NULL;
		}
		return pte_load_child(&mid[(pn >> PTE_BITS) & PTE_MASK]);
	}
	return pte_load_child(&t->top[pn >> PTE_BITS]);
}

int vms_pte_table_init(struct vms_pte_table *t, uintptr_t base, size_t len)
{
	memset(t, 0, sizeof *t);
	if ((base & (PTE_PAGE_SIZE - 1)) != 0 || (len & (PTE_PAGE_SIZE - 1)) != 0 ||
	    len == 0 || base + len - 1 < base) {
		return EINVAL;  /* outside pte.h's preconditions */
	}
	uint64_t npages = (uint64_t)len >> PTE_PAGE_SHIFT;
	if (npages > PTE_MAX_PAGES) {
		return ENOMEM;
	}
	t->base = base;
	t->npages = npages;
	unsigned shift = pte_top_shift(t);
	t->top_entries = (npages + (1ULL << shift) - 1) >> shift;
	size_t bytes = (t->top_entries * sizeof(void *) + PTE_PAGE_SIZE - 1) &
		       ~(PTE_PAGE_SIZE - 1);
	long r = vms_raw_mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vms_raw_failed(r)) {
		memset(t, 0, sizeof *t);
		return ENOMEM;
	}
	t->top = (void **)r;
	vms_pool_init(&t->pool, PTE_NODE_SIZE);
	return 0;
}

static void pte_free_node(struct vms_pte_table *t, void *node)
{
	vms_pool_free(&t->pool, node);
	__atomic_fetch_sub(&t->nodes, 1, __ATOMIC_RELAXED);
}

void vms_pte_table_destroy(struct vms_pte_table *t)
{
	if (t->top == NULL) {
		return;
	}
	bool middle = pte_has_middle(t);
	for (size_t i = 0; i < t->top_entries; i++) {
		void **node = t->top[i];
		if (node == NULL) {
			continue;
		}
		if (middle) {
			for (size_t j = 0; j < PTE_FANOUT; j++) {
				if (node[j] != NULL) {
					pte_free_node(t, node[j]);
				}
			}
		}
		pte_free_node(t, node);
	}
	vms_assert(t->nodes == 0);
	size_t bytes = (t->top_entries * sizeof(void *) + PTE_PAGE_SIZE - 1) &
		       ~(PTE_PAGE_SIZE - 1);
	vms_raw_munmap(t->top, bytes);
	t->top = NULL;
	t->top_entries = 0;
	t->npages = 0;
}

vms_pte_t *vms_pte_lookup(const struct vms_pte_table *t, uintptr_t addr)
{
	uint64_t pn;
	if (!pte_pn(t, addr, &pn)) {
		return NULL;
	}
	vms_pte_t *leaf = pte_find_leaf(t, pn);
	return leaf == NULL ? NULL : &leaf[pn & PTE_MASK];
}

/*
 * The child in *slot, installing a fresh zeroed node there if it is NULL.
 * NULL on ENOMEM.  Lock-free but for the pool lock; the loser of a race
 * gives its node back.
 */
static void *pte_install(struct vms_pte_table *t, void **slot)
{
	void *cur = pte_load_child(slot);
	if (cur != NULL) {
		return cur;
	}
	void *fresh = vms_pool_alloc(&t->pool);
	if (fresh == NULL) {
		return NULL;
	}
	if (__atomic_compare_exchange_n(slot, &cur, fresh, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE)) {
		__atomic_fetch_add(&t->nodes, 1, __ATOMIC_RELAXED);
		return fresh;
	}
	/* Lost the race: cur now holds the winner's node. */
	vms_pool_free(&t->pool, fresh);
	return cur;
}

vms_pte_t *vms_pte_ensure(struct vms_pte_table *t, uintptr_t addr)
{
	uint64_t pn;
	if (!pte_pn(t, addr, &pn)) {
		return NULL;
	}
	void **slot;
	if (pte_has_middle(t)) {
		void **mid = pte_install(t, &t->top[pn >> (2 * PTE_BITS)]);
		if (mid == NULL) {
			return NULL;
		}
		slot = &mid[(pn >> PTE_BITS) & PTE_MASK];
	} else {
		slot = &t->top[pn >> PTE_BITS];
	}
	vms_pte_t *leaf = pte_install(t, slot);
	return leaf == NULL ? NULL : &leaf[pn & PTE_MASK];
}

size_t vms_pte_span(const struct vms_pte_table *t, uintptr_t addr, vms_pte_t **first)
{
	uint64_t pn;
	if (!pte_pn(t, addr, &pn)) {
		/* Contract violation; answer "one empty page" so walks advance. */
		vms_assert_internal(!"vms_pte_span: address outside the table");
		*first = NULL;
		return 1;
	}
	uint64_t n = PTE_FANOUT - (pn & PTE_MASK);
	if (pte_has_middle(t) && pte_load_child(&t->top[pn >> (2 * PTE_BITS)]) == NULL) {
		/* A whole middle node is missing: skip all of it at once, so walks
		 * over huge sparse reservations cost what is populated. */
		n = (1ULL << (2 * PTE_BITS)) - (pn & ((1ULL << (2 * PTE_BITS)) - 1));
	}
	if (n > t->npages - pn) {
		n = t->npages - pn;  /* the last node ends with the table */
	}
	vms_pte_t *leaf = pte_find_leaf(t, pn);
	*first = leaf == NULL ? NULL : &leaf[pn & PTE_MASK];
	return (size_t)n;
}

static bool pte_leaf_empty(const vms_pte_t *leaf)
{
	for (size_t i = 0; i < PTE_FANOUT; i++) {
		if (leaf[i] != 0) {
			return false;
		}
	}
	return true;
}

static bool pte_middle_empty(void *const *mid)
{
	for (size_t i = 0; i < PTE_FANOUT; i++) {
		if (mid[i] != NULL) {
			return false;
		}
	}
	return true;
}

/*
 * Zeroes pages [s, e) of the leaf whose first page is first, and frees it
 * (true) if it then holds only zeroes.  [s, e) overlaps the leaf.
 */
static bool pte_release_leaf(struct vms_pte_table *t, vms_pte_t *leaf, uint64_t first,
			     uint64_t s, uint64_t e)
{
	uint64_t lo = s > first ? s - first : 0;
	uint64_t hi = e - first < PTE_FANOUT ? e - first : PTE_FANOUT;
	memset(&leaf[lo], 0, (size_t)(hi - lo) * sizeof(vms_pte_t));
	if ((lo != 0 || hi != PTE_FANOUT) && !pte_leaf_empty(leaf)) {
		return false;
	}
	pte_free_node(t, leaf);
	return true;
}

/* Same for a middle node covering pages [first, first + 2^18). */
static bool pte_release_middle(struct vms_pte_table *t, void **mid, uint64_t first,
			       uint64_t s, uint64_t e)
{
	uint64_t lo = s > first ? (s - first) >> PTE_BITS : 0;
	uint64_t hi = e - first < (PTE_FANOUT << PTE_BITS) ?
			      (e - first + PTE_MASK) >> PTE_BITS : PTE_FANOUT;
	for (uint64_t i = lo; i < hi; i++) {
		if (mid[i] != NULL &&
		    pte_release_leaf(t, mid[i], first + (i << PTE_BITS), s, e)) {
			mid[i] = NULL;
		}
	}
	/* Also reclaims a middle left empty by a failed ensure. */
	if (!pte_middle_empty(mid)) {
		return false;
	}
	pte_free_node(t, mid);
	return true;
}

#if VMS_DEBUG >= 2
/* Nodes reachable from the top array: must equal t->nodes. */
static size_t pte_count_nodes(const struct vms_pte_table *t)
{
	size_t n = 0;
	for (size_t i = 0; i < t->top_entries; i++) {
		void **node = t->top[i];
		if (node == NULL) {
			continue;
		}
		n++;
		if (pte_has_middle(t)) {
			for (size_t j = 0; j < PTE_FANOUT; j++) {
				n += node[j] != NULL;
			}
		}
	}
	return n;
}
#endif

/*
 * Pages partly inside [start, end) count as inside: the range is widened to
 * whole pages.  Work is proportional to the top entries in the range plus
 * the nodes found there; missing subtrees cost one load each.
 */
void vms_pte_release_range(struct vms_pte_table *t, uintptr_t start, uintptr_t end)
{
	if (end <= start || end <= t->base || t->npages == 0) {
		return;
	}
	uint64_t s = start <= t->base ? 0 : (uint64_t)(start - t->base) >> PTE_PAGE_SHIFT;
	uint64_t off = (uint64_t)(end - t->base);  /* no rounding overflow near UINTPTR_MAX */
	uint64_t e = (off >> PTE_PAGE_SHIFT) + ((off & (PTE_PAGE_SIZE - 1)) != 0);
	if (e > t->npages) {
		e = t->npages;
	}
	if (s >= e) {
		return;
	}
	bool middle = pte_has_middle(t);
	unsigned shift = pte_top_shift(t);
	for (uint64_t i = s >> shift; i <= (e - 1) >> shift; i++) {
		void *node = t->top[i];
		if (node == NULL) {
			continue;
		}
		bool freed = middle ? pte_release_middle(t, node, i << shift, s, e) :
				      pte_release_leaf(t, node, i << shift, s, e);
		if (freed) {
			t->top[i] = NULL;
		}
	}
	vms_assert_expensive(pte_count_nodes(t) == t->nodes);
}

size_t vms_pte_node_count(const struct vms_pte_table *t)
{
	return __atomic_load_n(&t->nodes, __ATOMIC_RELAXED);
}

void vms_pte_fail_alloc_after(struct vms_pte_table *t, long n)
{
	vms_pool_fail_after(&t->pool, n);
}
