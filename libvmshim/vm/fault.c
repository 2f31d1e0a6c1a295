/*
 * vm/fault.c - the fault path: what happens when the program touches an
 * arena page the kernel does not let it touch.
 *
 * Decision tree (vms_fault):
 *   1. address outside the arena                -> NOT_OURS (the kernel's own fault)
 *   2. no VMA at the address                    -> MAPERR   (genuine SIGSEGV, SEGV_MAPERR)
 *      a FOREIGN VMA (the kernel serves it)     -> NOT_OURS (the kernel's signal stands)
 *   3. access not allowed by the VMA's prot     -> ACCERR   (genuine SIGSEGV, SEGV_ACCERR)
 *   4. page BUSY (another thread is filling it) -> wait until it is not, RESOLVED
 *   5. write to a page COW-shared since fork    -> end the sharing of its block, RESOLVED
 *   6. page present, kernel grants the access   -> RESOLVED (another thread won the race)
 *   7. page present, kernel protection lower    -> raise it to the VMA's prot, RESOLVED
 *      (claimed by CAS on the PTE loaded again: if reclaim evicted the page
 *      since the dispatch above looked, it is not present any more and the access is
 *      retried, so that it swaps the page in)
 *   8. page never touched                       -> fill its block, RESOLVED:
 *      anonymous memory is zero-filled, file pages come from the page cache
 *      write-protected, so that their first write comes back here (7):
 *      shared pages become dirty, private ones are copied (COW)
 *   9. a guard page (vm/guard.c)                -> MAPERR   (as Linux's guard markers)
 *
 * Zero-fill with fault-around: one trap claims every untouched page of an
 * aligned block around the address (CAS 0 -> BUSY on each PTE), makes each
 * claimed run accessible with one mprotect and populates it with one
 * MADV_POPULATE_WRITE (POPULATE_READ for read faults), so one trap and two
 * kernel calls serve the whole block.  The block is VMSHIM_FAULT_AROUND
 * pages (1 turns fault-around off), 1 under MADV_RANDOM, doubling up to 512
 * while a thread faults
 * sequentially (per-thread detection); when the kernel-mapping count passes
 * its budget, blocks widen (512 pages, then 8192, then 131072) so that
 * protection runs merge and the count stays under vm.max_map_count
 * whatever the access pattern; beyond 512 pages only the 16 pages around
 * the address are populated, the rest is just made accessible (huge pages
 * are turned off for the arena first: see vm/arena.c).  A whole aligned
 * 512-page block populated at once gets a huge page.
 *
 * Async-signal safety: called from the SIGSEGV handler with every signal
 * blocked.  No malloc, no stdio; the only lock is the map lock for reading
 * (writers never hold it on this thread: they block signals first) and the
 * page-table pool's spinlock (same rule).  Kernel calls go through os/raw.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <sys/mman.h>

#include "os/raw.h"
#include "util/inject.h"
#include "util/log.h"
#include "util/stats.h"
#include "vm/mm.h"
#include "vm/swap.h"

#define MAX_ADAPTIVE_WINDOW 512u

/* Per-thread sequential-fault detection (initial-exec TLS: no allocation). */
static __thread uintptr_t seq_next __attribute__((tls_model("initial-exec")));
static __thread unsigned seq_window __attribute__((tls_model("initial-exec")));
/* Consecutive faults at one page the table says is accessible. */
static __thread uintptr_t spurious_page __attribute__((tls_model("initial-exec")));
static __thread unsigned spurious_count __attribute__((tls_model("initial-exec")));
/* Consecutive faults whose page-table leaf could not be allocated. */
static __thread unsigned table_failures __attribute__((tls_model("initial-exec")));
/* Faults since this thread last checked the kernel-mapping count. */
static __thread unsigned since_resync __attribute__((tls_model("initial-exec")));

#define SPURIOUS_LIMIT 10000u

#ifdef VMS_TEST_HOOKS
void (*vms_test_upgrade_hook)(struct vms_vma *vma, uintptr_t page);
#endif

/*
 * A present page whose kernel protection allows the access faulted
 * anyway.  Once, it is a race with another thread that just filled it; a
 * thousand times in a row, the kernel and the table disagree (a kernel
 * mapping changed behind the shim's back): report it and abort rather
 * than spin forever.
 */
static enum vms_fault_result spurious(uintptr_t page)
{
	if (page != spurious_page) {
		spurious_page = page;
		spurious_count = 0;
	}
	if (++spurious_count >= SPURIOUS_LIMIT) {
		vms_fatal("the kernel refuses an access to %p that the shim's page table allows "
			  "(the kernel mapping changed behind the shim)",
			  (void *)page);
	}
	return VMS_FAULT_RESOLVED;
}

static unsigned window_for(const struct vms_vma *vma, uintptr_t page)
{
	struct vms_mm *mm = &vms_mm;
	unsigned w = mm->fault_around;
	if (vma->advice == VMS_ADV_RANDOM || w == 1) {
		/* MADV_RANDOM, or VMSHIM_FAULT_AROUND=1: fault-around is off. */
		w = 1;
	} else if (vma->advice == VMS_ADV_SEQUENTIAL) {
		w = MAX_ADAPTIVE_WINDOW;
	} else if (page == seq_next && seq_window != 0) {
		w = seq_window * 2 > MAX_ADAPTIVE_WINDOW ? MAX_ADAPTIVE_WINDOW : seq_window * 2;
		if (w < mm->fault_around) {
			w = mm->fault_around;
		}
	}
	seq_window = w;
	long kmaps = __atomic_load_n(&mm->kmaps, __ATOMIC_RELAXED);
	if (kmaps > mm->kmaps_budget) {
		/* Widening costs: first make sure the count has not drifted. */
		if (since_resync++ % 4096 == 0) {
			vms_kmaps_resync();
			kmaps = __atomic_load_n(&mm->kmaps, __ATOMIC_RELAXED);
		}
	}
	if (kmaps > mm->kmaps_budget + mm->kmaps_budget / 2) {
		w = w < 131072u ? 131072u : w;
	} else if (kmaps > mm->kmaps_budget + mm->kmaps_budget / 4) {
		w = w < 8192u ? 8192u : w;
	} else if (kmaps > mm->kmaps_budget) {
		w = w < 512u ? 512u : w;
	}
	return vms_mem_window_cap(w);
}

static bool access_allowed(int prot, enum vms_access access)
{
	switch (access) {
	case VMS_ACCESS_WRITE:
		return (prot & PROT_WRITE) != 0;
	case VMS_ACCESS_EXEC:
		return (prot & PROT_EXEC) != 0;
	default:
		/* x86 and arm64 page tables make every accessible page readable. */
		return prot != PROT_NONE;
	}
}

/* Claims the untouched pages of [start, end): CAS 0 -> BUSY.  Returns the
 * number claimed; stops (returning what it has) if a leaf cannot be
 * allocated. */
static size_t claim(uintptr_t start, uintptr_t end)
{
	size_t n = 0;
	for (uintptr_t x = start; x < end;) {
		vms_pte_t *pt = vms_pte_ensure(&vms_mm.ptes, x);
		if (pt == NULL) {
			break;
		}
		vms_pte_t *first;
		uintptr_t stop = x + vms_pte_span(&vms_mm.ptes, x, &first) * VMS_PAGE_SIZE;
		if (stop > end) {
			stop = end;
		}
		for (; x < stop; x += VMS_PAGE_SIZE, pt++) {
			vms_pte_t expected = 0;
			n += vms_pte_cas(pt, &expected, VMS_PTE_BUSY);
		}
	}
	return n;
}

/* Whether x's PTE is BUSY (claimed by us: callers only ask about their own). */
static bool claimed(uintptr_t x)
{
	vms_pte_t *pt = vms_pte_lookup(&vms_mm.ptes, x);
	return pt != NULL && vms_pte_load(pt) == VMS_PTE_BUSY;
}

static void set_run(uintptr_t start, uintptr_t end, vms_pte_t value)
{
	for (uintptr_t x = start; x < end; x += VMS_PAGE_SIZE) {
		vms_pte_store(vms_pte_lookup(&vms_mm.ptes, x), value);
	}
}

/* Runs handled per round of fill_claimed. */
#define FILL_RUNS 64

/*
 * Makes the claimed runs of [start, end) present, populating those inside
 * [pop_start, pop_end): anonymous pages with the VMA's protection (zero
 * fill), file pages from the page cache, write-protected until their first
 * write (vms_hw_prot).  *filled counts the pages made present (they were
 * charged by the caller).  0, or the errno of a failed mprotect (the run's
 * claims are then released).
 *
 * In rounds of up to FILL_RUNS runs: the protection changes happen under
 * the kernel-mapping lock (the count must see them one at a time), the
 * populations after it, with the pages still BUSY, so that threads
 * populate in parallel as the kernel allows.
 */
static int fill_claimed(struct vms_vma *vma, uintptr_t start, uintptr_t end, uintptr_t pop_start,
			uintptr_t pop_end, bool write, int *pop_err, size_t *filled)
{
	bool file = (vma->flags & VMS_VMA_FILE) != 0;
	vms_pte_t base = VMS_PTE_ACCESSED | (file ? VMS_PTE_FILE : (write ? VMS_PTE_DIRTY : 0));
	int prot = vms_hw_prot(vma, base);
	int err = 0;
	vms_pte_t done = VMS_PTE_PRESENT | (vms_pte_t)prot | base;
	uintptr_t runs[FILL_RUNS][2];
	for (uintptr_t x = start; x < end;) {
		size_t n = 0;
		vms_kmaps_lock();
		uintptr_t round_start = x;
		long before = vms_kmaps_boundaries(round_start, end);
		while (x < end && n < FILL_RUNS) {
			if (!claimed(x)) {
				x += VMS_PAGE_SIZE;
				continue;
			}
			uintptr_t run_end = x + VMS_PAGE_SIZE;
			while (run_end < end && claimed(run_end)) {
				run_end += VMS_PAGE_SIZE;
			}
			long r = err != 0 ? -err : vms_inject_mprotect((void *)x, run_end - x, prot);
			if (vms_raw_failed(r)) {
				err = (int)-r;
				set_run(x, run_end, 0);
			} else {
				set_run(x, run_end, done | VMS_PTE_BUSY);
				runs[n][0] = x;
				runs[n][1] = run_end;
				n++;
			}
			x = run_end;
		}
		vms_kmaps_adjust(before, vms_kmaps_boundaries(round_start, end));
		vms_kmaps_unlock();
		vms_chaos();
		for (size_t i = 0; i < n; i++) {
			uintptr_t ps = runs[i][0] > pop_start ? runs[i][0] : pop_start;
			uintptr_t pe = runs[i][1] < pop_end ? runs[i][1] : pop_end;
			if (ps < pe) {
				/* A page left unpopulated is filled by the kernel on
				 * first access, natively; the error (EFAULT past the
				 * end of a file) matters only to MADV_POPULATE_*. */
				long p = vms_raw_madvise((void *)ps, pe - ps,
							 write && (prot & PROT_WRITE)
								 ? MADV_POPULATE_WRITE
								 : MADV_POPULATE_READ);
				if (vms_raw_failed(p) && *pop_err == 0) {
					*pop_err = (int)-p;
				}
			}
			set_run(runs[i][0], runs[i][1], done);
			*filled += (runs[i][1] - runs[i][0]) / VMS_PAGE_SIZE;
		}
	}
	return err;
}

/* Claims and fills [start, end) inside vma, charging the pages against the
 * resident limit first (which may reclaim others: claimed pages are BUSY,
 * so reclaim leaves them alone).  Returns a failed mprotect's errno;
 * *pop_err gets a failed population's. */
static int fill_range(struct vms_vma *vma, uintptr_t start, uintptr_t end, uintptr_t pop_start,
		      uintptr_t pop_end, bool write, int *pop_err)
{
	vms_chaos();
	size_t n = claim(start, end);
	if (n == 0) {
		return 0;
	}
	vms_mem_charge(n);
	size_t filled = 0;
	int err = fill_claimed(vma, start, end, pop_start, pop_end, write, pop_err, &filled);
	vms_mem_uncharge(n - filled);
	return err;
}

static vms_pte_t activate(vms_pte_t pte)
{
	return (pte | VMS_PTE_ACCESSED) & ~VMS_PTE_READAHEAD;
}

int vms_populate_locked(struct vms_vma *vma, uintptr_t start, uintptr_t end, bool write)
{
	int pop_err = 0, err = 0;
	/* Under a resident limit, in pieces the limit can hold: each piece may
	 * push the previous ones out. */
	uintptr_t piece = (uintptr_t)vms_mem_window_cap(1u << 30) * VMS_PAGE_SIZE;
	for (uintptr_t x = start; x < end && err == 0;) {
		uintptr_t stop = end - x > piece ? x + piece : end;
		err = fill_range(vma, x, stop, x, stop, write, &pop_err);
		/* Pages in swap come back too. */
		for (uintptr_t y = x; y < stop && err == 0; y += VMS_PAGE_SIZE) {
			vms_pte_t *pt = vms_pte_lookup(&vms_mm.ptes, y);
			vms_pte_t pte = pt != NULL ? vms_pte_load(pt) : 0;
			if ((pte & (VMS_PTE_SWAPPED | VMS_PTE_BUSY)) == VMS_PTE_SWAPPED &&
			    vms_swap_in(vma, y, pt, pte,
					write ? VMS_ACCESS_WRITE : VMS_ACCESS_READ) == VMS_FAULT_HWPOISON) {
				err = EIO;
			}
		}
		/* Pages reclaim made inaccessible (or read ahead) become
		 * accessible again: populated means usable without a trap. */
		vms_reprotect(vma, x, stop, activate);
		x = stop;
	}
	return err != 0 ? err : pop_err;
}

static vms_pte_t mark_written(vms_pte_t pte)
{
	return pte | VMS_PTE_DIRTY;
}

void vms_mark_written(struct vms_vma *vma, uintptr_t start, uintptr_t end)
{
	if (!(vma->flags & VMS_VMA_FILE)) {
		return;
	}
	size_t n = vms_reprotect(vma, start, end, mark_written);
	if (vma->flags & VMS_VMA_SHARED) {
		vms_gauge_add(&vms_stats.file_dirty, (int64_t)n);
	} else {
		for (size_t i = 0; i < n; i++) {
			vms_count_fault(VMS_FAULT_cow);
		}
	}
}

int vms_populate_kernel(uintptr_t start, uintptr_t end, bool write)
{
	long r = vms_raw_madvise((void *)start, end - start,
				 write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
	if (r == -EINVAL && write) {
		/* Pages the shim keeps write-protected (clean file pages, pages
		 * shared with a fork child until written): the end of the
		 * object is the question, which reading answers too. */
		r = vms_raw_madvise((void *)start, end - start, MADV_POPULATE_READ);
	}
	/* EINVAL now only means protections the shim chose, the VMA's
	 * permission having been checked by the caller. */
	return vms_raw_failed(r) && r != -EINVAL ? (int)-r : 0;
}

static void wait_not_busy(vms_pte_t *pt)
{
	unsigned spins = 0;
	while (vms_pte_load(pt) & VMS_PTE_BUSY) {
		if (++spins % 64 == 0) {
			vms_raw_sched_yield();
		} else {
			vms_cpu_relax();
		}
	}
}

/* A page never touched: zero-fill it (anonymous) or fill it from the page
 * cache (file), with its fault-around block. */
static enum vms_fault_result fill(struct vms_vma *vma, uintptr_t page, enum vms_access access)
{
	unsigned w = window_for(vma, page);
	uintptr_t span = (uintptr_t)w * VMS_PAGE_SIZE;
	uintptr_t start = page & ~(span - 1), end = start + span;
	if (start < vma->start) {
		start = vma->start;
	}
	if (end > vma->end) {
		end = vma->end;
	}
	uintptr_t pop_start = start, pop_end = end;
	if (w > MAX_ADAPTIVE_WINDOW) {
		/* Accessible but unpopulated ranges must not get huge pages. */
		vms_arena_hugepages_off();
		uintptr_t small = (uintptr_t)vms_mm.fault_around * VMS_PAGE_SIZE;
		pop_start = page & ~(small - 1);
		pop_end = pop_start + small;
	}
	bool write = access == VMS_ACCESS_WRITE ||
		     (access == VMS_ACCESS_UNKNOWN && (vma->prot & PROT_WRITE));
	int pop_err = 0;
	int err = fill_range(vma, start, end, pop_start, pop_end, write, &pop_err);
	if (err == 0 && vms_pte_lookup(&vms_mm.ptes, page) == NULL) {
		/* The page table could not grow to hold the page.  Once may be
		 * passing (the access is retried); a hundred times in a row is
		 * the kernel's out-of-memory case, not a loop to spin in. */
		if (++table_failures >= 100) {
			vms_fatal("out of memory for the page table: cannot make %p present",
				  (void *)page);
		}
		return VMS_FAULT_RESOLVED;
	}
	table_failures = 0;
	if (err != 0) {
		vms_fatal("cannot make %p present: mprotect failed with errno %d "
			  "(kernel mappings in the arena: %ld)",
			  (void *)page, err, __atomic_load_n(&vms_mm.kmaps, __ATOMIC_RELAXED));
	}
	vms_count_fault((vma->flags & VMS_VMA_FILE) ? VMS_FAULT_file : VMS_FAULT_zero_fill);
	vms_trace_event((vma->flags & VMS_VMA_FILE) ? VMS_TRACE_FILE : VMS_TRACE_ZERO_FILL, page, (uint32_t)((end - start) / VMS_PAGE_SIZE));
	seq_next = end;
	return VMS_FAULT_RESOLVED;
}

/* Read-ahead pages after page (claimed here, BUSY) that become accessible
 * with it: consecutive, untouched, with the same protection to come. */
static size_t claim_readahead_run(struct vms_vma *vma, uintptr_t page, int prot)
{
	size_t n = 0;
	for (uintptr_t x = page + VMS_PAGE_SIZE; x < vma->end && n < 64; x += VMS_PAGE_SIZE) {
		vms_pte_t *q = vms_pte_lookup(&vms_mm.ptes, x);
		vms_pte_t qp = q != NULL ? vms_pte_load(q) : 0;
		if ((qp & (VMS_PTE_PRESENT | VMS_PTE_READAHEAD | VMS_PTE_BUSY)) !=
			    (VMS_PTE_PRESENT | VMS_PTE_READAHEAD) ||
		    vms_hw_prot(vma, (qp | VMS_PTE_ACCESSED) & ~VMS_PTE_READAHEAD) != prot ||
		    !vms_pte_cas(q, &qp, qp | VMS_PTE_BUSY)) {
			break;
		}
		n++;
	}
	return n;
}

/*
 * A present page whose kernel protection is below what the access needs
 * and its VMA allows: raise it.  Lands here:
 *  - the first write to a file page: a shared page becomes dirty, a
 *    private one is copied by the kernel (a COW fault);
 *  - the first write to a page with a copy in swap (SWAPCACHE): the copy
 *    is stale from now on, its slot is freed;
 *  - a touch of an inactive page (vm/reclaim.c): ACCESSED again (a minor
 *    fault); a page read ahead of a swap-in becomes accessible with the
 *    read-ahead pages after it (read-ahead hits).
 */
static enum vms_fault_result upgrade(struct vms_vma *vma, uintptr_t page, vms_pte_t *pt,
				     enum vms_access access)
{
#ifdef VMS_TEST_HOOKS
	if (vms_test_upgrade_hook != NULL) {
		vms_test_upgrade_hook(vma, page);
	}
#endif
	vms_chaos();
	vms_pte_t old = vms_pte_load(pt);
	if (old & VMS_PTE_BUSY) {
		wait_not_busy(pt);
		return VMS_FAULT_RESOLVED;
	}
	if (!(old & VMS_PTE_PRESENT)) {
		/* The caller saw the page present, but reclaim in another thread
		 * evicted it since (deactivated pages are its victims): its PTE
		 * is SWAPPED now (or zero, a clean file page), its kernel page
		 * gone.  Raising the protection here would make an empty page
		 * accessible under a PTE that still points at swap: the next
		 * read gets zeros.  Retry the access: it faults again and swaps
		 * the page in. */
		return VMS_FAULT_RESOLVED;
	}
	vms_pte_t busy = old | VMS_PTE_BUSY;
	if (!vms_pte_cas(pt, &old, busy)) {
		return VMS_FAULT_RESOLVED; /* changed under us: retry the access */
	}
	vms_pte_t now = (old | VMS_PTE_ACCESSED) & ~VMS_PTE_READAHEAD;
	bool writing = access == VMS_ACCESS_WRITE ||
		       (access == VMS_ACCESS_UNKNOWN && (vma->prot & PROT_WRITE));
	if (writing && (vma->prot & PROT_WRITE) && (old & VMS_PTE_SWAPCACHE)) {
		vms_swap_put(vms_pte_slot(old));
		now = vms_pte_with_slot(now & ~VMS_PTE_SWAPCACHE, 0) | VMS_PTE_DIRTY;
	}
	if ((vma->flags & VMS_VMA_FILE) && writing && !(now & VMS_PTE_DIRTY)) {
		now |= VMS_PTE_DIRTY;
		if (vma->flags & VMS_VMA_SHARED) {
			vms_gauge_add(&vms_stats.file_dirty, 1);
		} else {
			vms_count_fault(VMS_FAULT_cow);
			vms_trace_event(VMS_TRACE_COW, page, 1);
		}
	}
	int prot = vms_hw_prot(vma, now);
	size_t ahead = 0;
	if (old & VMS_PTE_READAHEAD) {
		ahead = claim_readahead_run(vma, page, prot);
		vms_count_add(&vms_stats.swap_readahead_hits, 1 + ahead);
		vms_trace_event(VMS_TRACE_READAHEAD_HIT, page, 1); /* the page touched */
	} else if (!(old & VMS_PTE_ACCESSED)) {
		vms_count_fault(VMS_FAULT_minor);
		vms_trace_event(VMS_TRACE_MINOR, page, 1);
	}
	uintptr_t end = page + (1 + ahead) * VMS_PAGE_SIZE;
	vms_kmaps_lock();
	long before = vms_kmaps_boundaries(page, end);
	long r = vms_raw_mprotect((void *)page, end - page, prot);
	if (vms_raw_failed(r)) {
		vms_fatal("cannot raise the protection of %p: errno %ld", (void *)page, -r);
	}
	for (uintptr_t x = page + VMS_PAGE_SIZE; x < end; x += VMS_PAGE_SIZE) {
		vms_pte_t *q = vms_pte_lookup(&vms_mm.ptes, x);
		vms_pte_t qp = vms_pte_load(q);
		vms_pte_store(q, (qp & ~(VMS_PTE_PROT_MASK | VMS_PTE_READAHEAD | VMS_PTE_BUSY)) |
					 VMS_PTE_ACCESSED | (vms_pte_t)prot);
	}
	vms_pte_store(pt, (now & ~(VMS_PTE_PROT_MASK | VMS_PTE_BUSY)) | (vms_pte_t)prot);
	vms_kmaps_adjust(before, vms_kmaps_boundaries(page, end));
	vms_kmaps_unlock();
	return VMS_FAULT_RESOLVED;
}

/*
 * The first write to a page shared with another process since fork (COW,
 * see vm/fork.c): give write permission back for the COW pages of its
 * aligned block, and count one COW fault.  The kernel copies the pages that
 * are then written (or takes over those no other process still maps).
 */
static enum vms_fault_result break_cow(struct vms_vma *vma, uintptr_t page, vms_pte_t *fpt)
{
	unsigned w = vms_mm.fault_around;
	if (__atomic_load_n(&vms_mm.kmaps, __ATOMIC_RELAXED) > vms_mm.kmaps_budget) {
		w = MAX_ADAPTIVE_WINDOW;
	}
	uintptr_t span = (uintptr_t)w * VMS_PAGE_SIZE;
	uintptr_t start = page & ~(span - 1), end = start + span;
	start = start < vma->start ? vma->start : start;
	end = end > vma->end ? vma->end : end;
	uint64_t mine[MAX_ADAPTIVE_WINDOW / 64] = { 0 };
	vms_chaos();
	vms_kmaps_lock();
	long before = vms_kmaps_boundaries(start, end);
	for (uintptr_t x = start; x < end; x += VMS_PAGE_SIZE) {
		vms_pte_t *pt = vms_pte_lookup(&vms_mm.ptes, x);
		vms_pte_t pte = pt != NULL ? vms_pte_load(pt) : 0;
		if ((pte & (VMS_PTE_PRESENT | VMS_PTE_COW | VMS_PTE_BUSY)) ==
			    (VMS_PTE_PRESENT | VMS_PTE_COW) &&
		    vms_pte_cas(pt, &pte, pte | VMS_PTE_BUSY)) {
			size_t i = (x - start) / VMS_PAGE_SIZE;
			mine[i / 64] |= 1ULL << (i % 64);
		}
	}
	uintptr_t run = 0;
	int run_prot = -1;
	for (uintptr_t x = start; x <= end; x += VMS_PAGE_SIZE) {
		size_t i = (x - start) / VMS_PAGE_SIZE;
		bool claimed_here = x < end && (mine[i / 64] >> (i % 64)) & 1;
		vms_pte_t *pt = claimed_here ? vms_pte_lookup(&vms_mm.ptes, x) : NULL;
		vms_pte_t now = claimed_here ? vms_pte_load(pt) & ~(VMS_PTE_COW | VMS_PTE_BUSY) : 0;
		int hw = claimed_here ? vms_hw_prot(vma, now) : -1;
		if (hw != run_prot && run_prot >= 0) {
			long r = vms_raw_mprotect((void *)run, x - run, run_prot);
			if (vms_raw_failed(r)) {
				vms_fatal("cannot end the COW sharing of [%p, %p): errno %ld",
					  (void *)run, (void *)x, -r);
			}
			for (uintptr_t y = run; y < x; y += VMS_PAGE_SIZE) {
				vms_pte_t *q = vms_pte_lookup(&vms_mm.ptes, y);
				vms_pte_store(q, ((vms_pte_load(q) & ~(VMS_PTE_COW | VMS_PTE_BUSY |
								       VMS_PTE_PROT_MASK)) |
						  (vms_pte_t)run_prot |
						  (run_prot != PROT_NONE ? VMS_PTE_ACCESSED : 0)));
			}
		}
		if (hw != run_prot) {
			run = x;
			run_prot = hw;
		}
	}
	vms_kmaps_adjust(before, vms_kmaps_boundaries(start, end));
	vms_kmaps_unlock();
	vms_count_fault(VMS_FAULT_cow);
	vms_trace_event(VMS_TRACE_COW, page, (uint32_t)((end - start) / VMS_PAGE_SIZE));
	if (vms_pte_load(fpt) & VMS_PTE_BUSY) {
		wait_not_busy(fpt); /* another thread is ending its sharing */
	}
	return VMS_FAULT_RESOLVED;
}

enum vms_fault_result vms_fault(uintptr_t addr, enum vms_access access)
{
	if (!vms_in_arena(addr)) {
		return VMS_FAULT_NOT_OURS;
	}
	uintptr_t page = vms_page_down(addr);
	enum vms_fault_result res;
	vms_map_read_lock();
	struct vms_vma *vma = vms_vma_find(&vms_mm.vmas, addr);
	if (vma == NULL) {
		res = VMS_FAULT_MAPERR;
		goto out;
	}
	if (vma->flags & VMS_VMA_FOREIGN) {
		/* The kernel serves this mapping: its fault is the kernel's answer. */
		res = VMS_FAULT_NOT_OURS;
		goto out;
	}
	if (!access_allowed(vma->prot, access == VMS_ACCESS_UNKNOWN ? VMS_ACCESS_READ : access)) {
		res = VMS_FAULT_ACCERR;
		goto out;
	}
	vms_pte_t *pt = vms_pte_lookup(&vms_mm.ptes, page);
	vms_pte_t pte = pt != NULL ? vms_pte_load(pt) : 0;
	if (pte & VMS_PTE_BUSY) {
		wait_not_busy(pt);
		res = VMS_FAULT_RESOLVED;
	} else if ((pte & VMS_PTE_PRESENT) && (pte & VMS_PTE_COW) &&
		   (access == VMS_ACCESS_WRITE ||
		    (access == VMS_ACCESS_UNKNOWN && (vma->prot & PROT_WRITE)))) {
		res = break_cow(vma, page, pt);
	} else if (pte & VMS_PTE_PRESENT) {
		int hw = vms_pte_prot(pte);
		if (access != VMS_ACCESS_UNKNOWN) {
			/* Allowed by the VMA (checked above): either another thread
			 * resolved it already, or the kernel protection is lower. */
			res = access_allowed(hw, access) ? spurious(page)
							 : upgrade(vma, page, pt, access);
		} else if (hw != (vma->prot & (int)VMS_PTE_PROT_MASK)) {
			res = upgrade(vma, page, pt, access);
		} else {
			/* Access kind unknown (no error code on this architecture) and
			 * nothing left to grant: the access itself is not allowed. */
			res = VMS_FAULT_ACCERR;
		}
	} else if (pte == 0) {
		res = fill(vma, page, access);
		vms_pte_t *fpt = vms_pte_lookup(&vms_mm.ptes, page);
		if ((vma->flags & VMS_VMA_FILE) && access == VMS_ACCESS_WRITE && fpt != NULL) {
			/* Filled write-protected: the write itself is next. */
			res = upgrade(vma, page, fpt, access);
		}
	} else if (pte == VMS_PTE_GUARD) {
		/* A guard page (vm/guard.c): SIGSEGV, SEGV_MAPERR, as on Linux. */
		res = VMS_FAULT_MAPERR;
	} else if (pte & VMS_PTE_SWAPPED) {
		res = vms_swap_in(vma, page, pt, pte, access);
	} else {
		vms_fatal("fault at %p: unexpected PTE state %llx", (void *)addr,
			  (unsigned long long)pte);
	}
out:
	vms_map_read_unlock();
	return res;
}

/* Whether the page of pt already allows access in the kernel. */
static bool page_ready(const vms_pte_t *pt, enum vms_access access)
{
	vms_pte_t pte = pt != NULL ? vms_pte_load(pt) : 0;
	return (pte & VMS_PTE_PRESENT) && !(pte & VMS_PTE_BUSY) &&
	       access_allowed(vms_pte_prot(pte), access);
}

void vms_prefault(uintptr_t addr, size_t len, enum vms_access access)
{
	uintptr_t start = (uintptr_t)addr, end = start + len;
	if (len == 0 || end < start || vms_arena_where(start, end) == VMS_OUTSIDE) {
		return;
	}
	start = start < vms_mm.base ? vms_mm.base : vms_page_down(start);
	end = end > vms_mm.end ? vms_mm.end : end;
	/* Fast path, no lock: every page already allows the access. */
	uintptr_t x = start;
	while (x < end && page_ready(vms_pte_lookup(&vms_mm.ptes, x), access)) {
		x += VMS_PAGE_SIZE;
	}
	if (x >= end) {
		return;
	}
	/* Slow path: fault the rest in as the handler would, with every signal
	 * blocked while the map lock is held (the lock's rule). */
	uint64_t all = ~0ULL, saved;
	vms_raw_rt_sigprocmask(SIG_SETMASK, &all, &saved);
	for (; x < end; x += VMS_PAGE_SIZE) {
		/* One fault may take a page one step only (a swap-in, then the
		 * write that frees its swap copy; a deactivated COW page: the
		 * end of the sharing, then the touch): repeat until it is ready.
		 * A genuine fault is left alone: the kernel answers EFAULT, as
		 * natively. */
		for (int step = 0; step < 8 && !page_ready(vms_pte_lookup(&vms_mm.ptes, x), access);
		     step++) {
			enum vms_fault_result r = vms_fault(x, access);
			if (r == VMS_FAULT_MAPERR && vms_stack_grow(x)) {
				continue; /* below a growing-down mapping: as the kernel grows it */
			}
			if (r != VMS_FAULT_RESOLVED) {
				break;
			}
		}
	}
	vms_raw_rt_sigprocmask(SIG_SETMASK, &saved, NULL);
}
