/*
 * vm/pte.h - the software page table: one 64-bit PTE per arena page.
 *
 * Owns: the radix table covering the arena and the PTE format.  Table nodes
 * come from an os/pool.h pool (outside the arena) and are freed when they
 * hold only zero entries.  A zero PTE means "never touched": not present,
 * nothing in swap.
 *
 * PTE format:
 *   bits 0-2   PROT_READ/PROT_WRITE/PROT_EXEC granted in the kernel
 *              ("hardware" protection) for this page right now
 *   bit  3     PRESENT    the page holds contents in the arena
 *   bit  4     DIRTY      written since it was last clean (file, swap cache)
 *   bit  5     ACCESSED   software reference bit for reclaim
 *   bit  6     COW        shared with another process; first write copies
 *   bit  7     LOCKED     mlock'ed: never evicted
 *   bit  8     SWAPPED    contents live in swap slot SLOT
 *   bit  9     BUSY       a fault or an eviction owns this page right now
 *   bit  10    FILE       contents come from the VMA's file
 *   bit  11    SWAPCACHE  present and an identical copy is in slot SLOT
 *   bit  12    READAHEAD  read ahead of a swap-in, not touched yet
 *   bit  13    GUARD      a guard page (MADV_GUARD_INSTALL): the PTE holds
 *              this bit alone; any access is SIGSEGV (vm/guard.c)
 *   bits 14-15 reserved
 *   bits 16-63 SLOT       swap slot number (SWAPPED or SWAPCACHE)
 *
 * Concurrency: lookups and vms_pte_ensure() are lock-free and safe from
 * the fault handler (async-signal-safe); nodes are freed only by
 * vms_pte_release_range(), which the caller runs with the map lock held for
 * writing, so no lookup is running then.  PTE words are read and changed
 * with the atomic helpers below.
 */
#ifndef VMS_VM_PTE_H
#define VMS_VM_PTE_H

#include <stddef.h>
#include <stdint.h>

#include "os/pool.h"

typedef uint64_t vms_pte_t;

#define VMS_PTE_PROT_MASK  0x7ULL
#define VMS_PTE_PRESENT    (1ULL << 3)
#define VMS_PTE_DIRTY      (1ULL << 4)
#define VMS_PTE_ACCESSED   (1ULL << 5)
#define VMS_PTE_COW        (1ULL << 6)
#define VMS_PTE_LOCKED     (1ULL << 7)
#define VMS_PTE_SWAPPED    (1ULL << 8)
#define VMS_PTE_BUSY       (1ULL << 9)
#define VMS_PTE_FILE       (1ULL << 10)
#define VMS_PTE_SWAPCACHE  (1ULL << 11)
#define VMS_PTE_READAHEAD  (1ULL << 12)
#define VMS_PTE_GUARD      (1ULL << 13)
#define VMS_PTE_SLOT_SHIFT 16
#define VMS_PTE_SLOT_MAX   ((1ULL << 48) - 1)

static inline uint64_t vms_pte_slot(vms_pte_t pte) { return pte >> VMS_PTE_SLOT_SHIFT; }
static inline vms_pte_t vms_pte_with_slot(vms_pte_t pte, uint64_t slot)
{
	return (pte & ((1ULL << VMS_PTE_SLOT_SHIFT) - 1)) | (slot << VMS_PTE_SLOT_SHIFT);
}
static inline int vms_pte_prot(vms_pte_t pte) { return (int)(pte & VMS_PTE_PROT_MASK); }

#ifdef VMS_CHAOS
/*
 * Race hunting (off by default; build with CFLAGS=-DVMS_CHAOS=N, N a power
 * of two): about one call in N yields the CPU.  The calls sit in the
 * windows of the fault path and reclaim between a thread's look at a PTE
 * and its claim of it, or between the steps of an eviction or a swap-in
 * (vm/fault.c, vm/reclaim.c), so that other threads run in them: races
 * that need a preemption there become frequent (with 8 threads under
 * VMSHIM_MEM_LIMIT=1M and N=4, a missing re-check in upgrade() loses
 * pages within seconds).
 */
long vms_raw_sched_yield(void);
static inline void vms_chaos(void)
{
	static __thread uint32_t s __attribute__((tls_model("initial-exec")));
	if (s == 0) {
		s = (uint32_t)(uintptr_t)&s | 1u;
	}
	s ^= s << 13;
	s ^= s >> 17;
	s ^= s << 5;
	if ((s & ((VMS_CHAOS) - 1u)) == 0) {
		vms_raw_sched_yield();
	}
}
#else
static inline void vms_chaos(void) {}
#endif

static inline vms_pte_t vms_pte_load(const vms_pte_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline void vms_pte_store(vms_pte_t *p, vms_pte_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}
/* Replaces *p with desired if it holds *expected; else loads it into *expected. */
static inline int vms_pte_cas(vms_pte_t *p, vms_pte_t *expected, vms_pte_t desired)
{
	return __atomic_compare_exchange_n(p, expected, desired, 0, __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE);
}

#define VMS_PTE_PER_LEAF 512

struct vms_pte_table {
	uintptr_t base;        /* (c) first arena address, page aligned */
	size_t npages;         /* (c) pages covered */
	void **top;            /* (c) top-level node array, raw mmap'ed */
	size_t top_entries;    /* (c) */
	struct vms_pool pool;  /* interior and leaf nodes */
	size_t nodes;          /* (a) nodes allocated now */
};

/* Covers [base, base + len); len a multiple of the page size.  0 or ENOMEM. */
int vms_pte_table_init(struct vms_pte_table *t, uintptr_t base, size_t len);
/* Frees every node and the top array (tests, shutdown). */
void vms_pte_table_destroy(struct vms_pte_table *t);

/* The PTE of addr, or NULL when addr is outside or its leaf does not exist
 * (the PTE is then zero). */
vms_pte_t *vms_pte_lookup(const struct vms_pte_table *t, uintptr_t addr);
/* The PTE of addr, allocating missing nodes (concurrently safe: the loser
 * of an installation race frees its node).  NULL if outside or on ENOMEM. */
vms_pte_t *vms_pte_ensure(struct vms_pte_table *t, uintptr_t addr);
/*
 * For walks: the number of pages from addr to the end of addr's leaf (at
 * least 1), with *first set to addr's PTE; or, when that leaf does not
 * exist, *first NULL and the number of pages to the end of the largest
 * missing subtree holding addr (its leaf, or its whole middle node): all
 * those PTEs are zero.  addr must be inside the table.
 */
size_t vms_pte_span(const struct vms_pte_table *t, uintptr_t addr, vms_pte_t **first);
/*
 * Zeroes the PTEs of [start, end) and frees every node left holding only
 * zero entries.  Caller holds the map lock for writing.
 */
void vms_pte_release_range(struct vms_pte_table *t, uintptr_t start, uintptr_t end);

/* Nodes allocated now (tests). */
size_t vms_pte_node_count(const struct vms_pte_table *t);
/* Makes the (n+1)-th next node allocation fail (tests of ENOMEM paths). */
void vms_pte_fail_alloc_after(struct vms_pte_table *t, long n);

#endif
