/*
 * vm/reclaim.c - the resident limit: charging pages, reclaim, eviction and
 * swap-in.
 *
 * Owns: the resident charge against *vms_limit_word, the clock (victim
 * choice), eviction of every kind of page, swap-in with read-ahead,
 * MADV_PAGEOUT / COLD / WILLNEED, and forgetting pages for good.
 *
 * Charging.  Every page that becomes present is charged first
 * (vms_mem_charge): the resident gauge grows, and when it passes the limit
 * (the high watermark) the charging thread reclaims down to the low
 * watermark, limit - max(limit / 32, 32) pages.  Reclaim runs in the
 * faulting thread (direct reclaim), not in a background thread: the limit
 * is a hard cap that only the thread about to exceed it can enforce in
 * time, a library must not add threads to programs that do not expect
 * them (fork of a multi-threaded process, thread counts, seccomp), and the
 * work is batched (a cluster of up to 64 pages per write), so its cost per
 * page is the I/O's.  If nothing can be evicted (all locked, pinned or
 * busy, or swap unusable), the pages are filled anyway: the overshoot is
 * counted and said once on stderr.  Nothing ever fails for the limit.
 *
 * The clock (second chance with software reference bits).  A hand sweeps
 * the arena's present pages in address order.  A page with ACCESSED set is
 * deactivated: ACCESSED cleared and its kernel protection dropped to
 * PROT_NONE (one mprotect per run), so that its next touch traps (a
 * "minor" fault, vm/fault.c) and sets ACCESSED again.  A page found still
 * inactive on the next pass is evicted.  So "present and not ACCESSED"
 * always means "kernel protection PROT_NONE" (vms_hw_prot): the victims are
 * already inaccessible, and eviction reads them through /proc/self/mem
 * (FOLL_FORCE), which needs no protection change.  Pages of locked
 * (mlock), pinned (vm/pin.c) or foreign mappings are never deactivated or
 * evicted; pages inside a system call's pin are skipped.
 *
 * Eviction, by kind (statistics "evictions"):
 *   shared       MAP_SHARED anonymous pages: dropped from this process
 *                (MADV_DONTNEED); the shared memory object keeps them
 *   file_clean   file pages never written, shared or private: dropped,
 *                the file is their store
 *   file_dirty   written pages of MAP_SHARED files: dropped; the kernel's
 *                page cache holds them dirty and writes them back
 *   swapcache    swapped in and not written since: dropped, the copy in
 *                swap is still good (the PTE keeps its slot)
 *   anon         anonymous and private written pages: written to swap
 *                slots (vm/swap.c), consecutive victims in one write, then
 *                dropped
 * A page being evicted is BUSY (other threads touching it wait) and stays
 * PROT_NONE; its PTE becomes SWAPPED with the slot, or zero.  A failed
 * swap write keeps the pages resident (nothing is lost), counts the error
 * and says it once.
 *
 * Swap-in (a fault on a SWAPPED page).  The page and the following pages
 * whose slots follow its slot (read-ahead: 8 pages, or none while fewer
 * than a quarter of the pages read ahead are used; doubling to 128 while a
 * thread swaps in sequentially; 128 under MADV_SEQUENTIAL, 1 under
 * MADV_RANDOM; never more than a 16th of the limit) are claimed, read with one pread into a bounce buffer and
 * written into place through /proc/self/mem, so that no other thread sees
 * a half-filled page.  The faulting page becomes accessible; the pages
 * read ahead stay PROT_NONE and inactive with READAHEAD set: the first
 * touch of one makes it and the read-ahead pages after it accessible
 * (counted as read-ahead hits).  A swapped-in page keeps its slot
 * (SWAPCACHE) and stays write-protected until written: then the slot is
 * freed; if it is evicted before, it is dropped without a write.  A failed
 * read delivers SIGBUS (BUS_MCEERR_AR) for that access, like a memory
 * error, and is said once; the page stays in swap.
 *
 * Locking and signal safety.  Callers hold the map lock (either mode), so
 * the VMA set does not change, with every signal blocked.  The reclaim
 * lock (a spinlock) serialises reclaim and guards the clock hand and the
 * write bounce buffer; swap-in does not take it (its bounce buffers are
 * claimed by CAS).  Nothing here waits for a BUSY page, touches arena
 * memory directly, allocates, or calls libc: raw system calls only.  Lock
 * order: map lock > reclaim lock > page-table pool.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <sys/mman.h>

#include "os/fmt.h"
#include "os/pool.h"
#include "os/raw.h"
#include "util/log.h"
#include "util/stats.h"
#include "vm/mm.h"
#include "vm/swap.h"

#define CLUSTER 64u             /* pages per swap write */
#define RA_DEFAULT 8u
#define RA_MAX 128u
#define IN_BUFFERS 2

/* ---------------------------------------------------------------------
 * Kernel access to inaccessible pages: /proc/self/mem (FOLL_FORCE).
 * The descriptor belongs to the process that opened it (it names that
 * process's memory), so a forked child opens its own.
 */
static int mem_fd = -1;
static long mem_fd_pid;

/*
 * The descriptor of this process's memory.  The address space's owner
 * (vms_mm.owner_pid) keeps one open.  A process that shares the address
 * space without being its owner (a vfork child; its descriptor table is
 * its own) opens one for the call: *temp is then set, and the caller
 * closes it.
 */
static int mem_open(bool *temp)
{
	long pid = vms_raw_getpid();
	*temp = pid != vms_mm.owner_pid;
	int fd = __atomic_load_n(&mem_fd, __ATOMIC_ACQUIRE);
	if (!*temp && fd >= 0 && __atomic_load_n(&mem_fd_pid, __ATOMIC_ACQUIRE) == pid) {
		return fd;
	}
	long nfd = vms_raw_open("/proc/self/mem", 02 /* O_RDWR */ | 02000000 /* O_CLOEXEC */, 0);
	if (vms_raw_failed(nfd)) {
		vms_fatal("cannot open /proc/self/mem (errno %ld): swap needs it to move pages "
			  "the program cannot access",
			  -nfd);
	}
	if (*temp) {
		return (int)nfd;
	}
	/* Racing threads: the winner's descriptor stays, the loser's is closed. */
	if (__atomic_compare_exchange_n(&mem_fd, &fd, (int)nfd, 0, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE)) {
		__atomic_store_n(&mem_fd_pid, pid, __ATOMIC_RELEASE);
		if (fd >= 0) {
			vms_raw_close(fd); /* the parent's, inherited through fork */
		}
		return (int)nfd;
	}
	vms_raw_close((int)nfd);
	return mem_open(temp);
}

/* Copies up to len bytes between buf and arena memory at addr, whatever
 * its kernel protection; returns the bytes copied, fewer when the kernel
 * has no page to give (*err: its errno).  The only such pages are those of
 * a private file mapping past the end of its file (never filled, or
 * truncated since): a kernel access there is SIGBUS, /proc/self/mem EIO. */
static size_t mem_copy_upto(uintptr_t addr, void *buf, size_t len, bool to_arena, long *err)
{
	bool temp;
	int fd = mem_open(&temp);
	char *p = buf;
	size_t done = 0;
	*err = 0;
	while (done < len) {
		long r = to_arena ? vms_raw_pwrite(fd, p + done, len - done, (off_t)(addr + done))
				  : vms_raw_pread(fd, p + done, len - done, (off_t)(addr + done));
		if (r == -EINTR) {
			continue;
		}
		if (vms_raw_failed(r) || r == 0) {
			*err = r == 0 ? 0 : -r;
			break;
		}
		done += (size_t)r;
	}
	if (temp) {
		vms_raw_close(fd);
	}
	return done;
}

/* The same where every page must be there: fatal on failure. */
static void mem_copy(uintptr_t addr, void *buf, size_t len, bool to_arena)
{
	long err;
	size_t done = mem_copy_upto(addr, buf, len, to_arena, &err);
	if (done < len) {
		vms_fatal("cannot %s arena page %p through /proc/self/mem: errno %ld",
			  to_arena ? "fill" : "read", (void *)(addr + done), err);
	}
}

/* ---------------------------------------------------------------------
 * Bounce buffers, outside the arena, made once.
 */
static char *out_buffer;                 /* CLUSTER pages, reclaim lock */

/* A swap-in's buffer and the PTEs it fills; claimed by CAS. */
struct in_slot {
	int busy;
	char *buf;                 /* RA_MAX pages, mapped at first use */
	vms_pte_t *pts[RA_MAX];
};
static struct in_slot in_slots[IN_BUFFERS];

static char *map_buffer(size_t pages)
{
	long m = vms_raw_mmap(NULL, pages * VMS_PAGE_SIZE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vms_raw_failed(m)) {
		vms_fatal("no memory for a swap buffer (errno %ld)", -m);
	}
	vms_raw_madvise((void *)m, pages * VMS_PAGE_SIZE, MADV_DONTDUMP); /* copies of any page */
	return (char *)m;
}

static struct in_slot *in_slot_get(void)
{
	for (;;) {
		for (int i = 0; i < IN_BUFFERS; i++) {
			int zero = 0;
			if (__atomic_compare_exchange_n(&in_slots[i].busy, &zero, 1, 0,
							__ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
				if (in_slots[i].buf == NULL) {
					in_slots[i].buf = map_buffer(RA_MAX);
				}
				return &in_slots[i];
			}
		}
		vms_raw_sched_yield();
	}
}

static void in_slot_put(struct in_slot *slot)
{
	__atomic_store_n(&slot->busy, 0, __ATOMIC_RELEASE);
}

/* ---------------------------------------------------------------------
 * The reclaim lock.
 */
static int reclaim_lock_word;
static uintptr_t clock_hand;

static void reclaim_lock(void) { vms_spin_lock(&reclaim_lock_word); }
static void reclaim_unlock(void) { vms_spin_unlock(&reclaim_lock_word); }

/* Messages said once per process. */
static int said_overshoot, said_write_error, said_read_error;

/* what: a message with one %ld, for detail. */
static void say_once(int *flag, const char *what, long detail)
{
	int zero = 0;
	if (__atomic_compare_exchange_n(flag, &zero, 1, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
		char line[256];
		vms_fmt(line, sizeof line, what, detail);
		vms_log(VMS_LOG_WARN, "%s", line);
	}
}

/* ---------------------------------------------------------------------
 * Eviction.
 */
static bool evictable_vma(const struct vms_vma *v)
{
	return !(v->flags & (VMS_VMA_FOREIGN | VMS_VMA_LOCKED | VMS_VMA_LOCKONFAULT));
}

struct victim {
	uintptr_t addr;
	vms_pte_t *pt;
	vms_pte_t old;  /* the PTE before it was claimed (without BUSY) */
	vms_pte_t now;  /* what it becomes */
	bool past_end;  /* a private file page past its file's end: nothing to write */
};

/* Working arrays of one reclaim pass, under the reclaim lock: static, not
 * on the stack, because reclaim runs in the fault handler, maybe on a
 * small alternate signal stack. */
static struct {
	bool deact[VMS_PTE_PER_LEAF];
	vms_pte_t old[VMS_PTE_PER_LEAF];
	struct victim vs[CLUSTER];
	bool gone[CLUSTER], need[CLUSTER], wanted[CLUSTER];
	size_t idx[CLUSTER];
} scratch;

/* Drops the kernel's pages for the victims marked to go, by address run. */
static void drop_runs(const struct victim *vs, size_t n, const bool *gone)
{
	for (size_t i = 0; i < n;) {
		if (!gone[i]) {
			i++;
			continue;
		}
		size_t j = i + 1;
		while (j < n && gone[j] && vs[j].addr == vs[j - 1].addr + VMS_PAGE_SIZE) {
			j++;
		}
		long r = vms_raw_madvise((void *)vs[i].addr, (j - i) * VMS_PAGE_SIZE, MADV_DONTNEED);
		if (vms_raw_failed(r)) {
			vms_fatal("cannot drop evicted pages at %p: errno %ld", (void *)vs[i].addr, -r);
		}
		i = j;
	}
}

/*
 * Writes the victims that need it (marked in need) to swap, reading their
 * contents through /proc/self/mem; sets their new PTE.  Returns false (and
 * clears need[] for the pages left resident) when swap cannot take them.
 */
static bool write_out(struct victim *vs, size_t n, bool *need)
{
	size_t count = 0;
	size_t *idx = scratch.idx;
	for (size_t i = 0; i < n; i++) {
		if (need[i]) {
			idx[count++] = i;
		}
	}
	if (count == 0) {
		return true;
	}
	if (out_buffer == NULL) {
		out_buffer = map_buffer(CLUSTER);
	}
	/* Contents, one read per address run.  A private file page past the
	 * end of its file has none: it goes as a clean file page would (its
	 * next access refaults and gets the kernel's SIGBUS). */
	size_t kept = 0;
	for (size_t k = 0; k < count;) {
		size_t l = k + 1;
		while (l < count && vs[idx[l]].addr == vs[idx[l - 1]].addr + VMS_PAGE_SIZE) {
			l++;
		}
		long err;
		size_t done = mem_copy_upto(vs[idx[k]].addr, out_buffer + kept * VMS_PAGE_SIZE,
					    (l - k) * VMS_PAGE_SIZE, false, &err);
		size_t whole = done / VMS_PAGE_SIZE;
		for (size_t m = 0; m < whole; m++) {
			idx[kept++] = idx[k + m];
		}
		if (k + whole == l) {
			k = l;
			continue;
		}
		struct victim *bad = &vs[idx[k + whole]];
		if (!(bad->old & VMS_PTE_FILE)) {
			vms_fatal("cannot read arena page %p through /proc/self/mem: errno %ld",
				  (void *)bad->addr, err);
		}
		need[idx[k + whole]] = false;
		bad->now = 0;
		bad->past_end = true;
		vms_count_evict(VMS_EVICT_file_clean, 1);
		k += whole + 1;
	}
	count = kept;
	bool ok = true;
	for (size_t k = 0; k < count;) {
		uint64_t first;
		size_t got = vms_swap_alloc(count - k, &first);
		int err = got == 0 ? ENOSPC : vms_swap_write(first, out_buffer + k * VMS_PAGE_SIZE, got);
		if (err != 0) {
			for (size_t s = 0; s < got; s++) {
				vms_swap_put(first + s);
			}
			vms_count_add(&vms_stats.swap_write_errors, 1);
			say_once(&said_write_error,
				 "swap write failed or swap is full (errno %ld): pages stay resident, "
				 "above the memory limit if need be",
				 err);
			for (; k < count; k++) {
				need[idx[k]] = false;
			}
			ok = false;
			break;
		}
		vms_count_add(&vms_stats.swap_clusters_out, 1);
		vms_count_add(&vms_stats.swap_out_pages, got);
		vms_count_evict(VMS_EVICT_anon, got);
		vms_trace_event(VMS_TRACE_SWAP_OUT, vs[idx[k]].addr, (uint32_t)got);
		for (size_t s = 0; s < got; s++, k++) {
			struct victim *v = &vs[idx[k]];
			v->now = vms_pte_with_slot(VMS_PTE_SWAPPED | (v->old & (VMS_PTE_FILE | VMS_PTE_DIRTY)),
						   first + s);
			vms_trace_event(VMS_TRACE_EVICT_ANON, v->addr, 1);
		}
	}
	return ok;
}

/*
 * Evicts claimed victims (all of v, ascending, kernel protection NONE).
 * Returns the pages freed; pages that cannot go get their old PTE back.
 */
static size_t evict(struct vms_vma *v, struct victim *vs, size_t n, bool *swap_failed)
{
	bool *gone = scratch.gone, *need = scratch.need, *wanted = scratch.wanted;
	bool shared = (v->flags & VMS_VMA_SHARED) != 0;
	for (size_t i = 0; i < n; i++) {
		vms_pte_t old = vs[i].old;
		gone[i] = true;
		need[i] = false;
		if (shared) {
			vs[i].now = 0;
			if (v->flags & VMS_VMA_FILE) {
				bool dirty = (old & VMS_PTE_DIRTY) != 0;
				vms_count_evict(dirty ? VMS_EVICT_file_dirty : VMS_EVICT_file_clean, 1);
				vms_trace_event(dirty ? VMS_TRACE_EVICT_FILE_DIRTY : VMS_TRACE_EVICT_FILE, vs[i].addr, 1);
				if (dirty) {
					vms_gauge_add(&vms_stats.file_dirty, -1);
					vms_count_add(&vms_stats.written_back_pages, 1);
				}
			} else {
				vms_count_evict(VMS_EVICT_shared, 1);
				vms_trace_event(VMS_TRACE_EVICT_SHARED, vs[i].addr, 1);
			}
		} else if ((old & VMS_PTE_FILE) && !(old & VMS_PTE_DIRTY)) {
			vs[i].now = 0;
			vms_count_evict(VMS_EVICT_file_clean, 1);
			vms_trace_event(VMS_TRACE_EVICT_FILE, vs[i].addr, 1);
		} else if (old & VMS_PTE_SWAPCACHE) {
			vs[i].now = vms_pte_with_slot(VMS_PTE_SWAPPED |
							      (old & (VMS_PTE_FILE | VMS_PTE_DIRTY)),
						      vms_pte_slot(old));
			vms_count_evict(VMS_EVICT_swapcache, 1);
			vms_trace_event(VMS_TRACE_EVICT_SWAPCACHE, vs[i].addr, 1);
		} else if (*swap_failed) {
			gone[i] = false;
		} else {
			need[i] = true;
		}
	}
	for (size_t i = 0; i < n; i++) {
		wanted[i] = need[i];
	}
	if (!write_out(vs, n, need)) {
		*swap_failed = true;
	}
	size_t freed = 0;
	for (size_t i = 0; i < n; i++) {
		if (wanted[i] && !need[i] && !vs[i].past_end) {
			gone[i] = false; /* its write failed: it stays */
		}
	}
	vms_chaos();
	drop_runs(vs, n, gone);
	vms_chaos();
	for (size_t i = 0; i < n; i++) {
		if (gone[i]) {
			vms_pte_store(vs[i].pt, vs[i].now);
			freed++;
		} else {
			vms_pte_store(vs[i].pt, vs[i].old);
		}
	}
	vms_gauge_add(&vms_stats.resident_pages, -(int64_t)freed);
	return freed;
}

/* Deactivates the claimed pages of [start, end) marked in deact (kernel
 * protection to NONE by runs, ACCESSED and READAHEAD cleared); they stay
 * claimed (BUSY) when keep_busy. */
static void deactivate(uintptr_t start, vms_pte_t *pt, size_t npages, const bool *deact,
		       const vms_pte_t *old, bool keep_busy)
{
	for (size_t i = 0; i < npages;) {
		if (!deact[i]) {
			i++;
			continue;
		}
		size_t j = i + 1;
		while (j < npages && deact[j]) {
			j++;
		}
		uintptr_t a = start + i * VMS_PAGE_SIZE;
		long r = vms_raw_mprotect((void *)a, (j - i) * VMS_PAGE_SIZE, PROT_NONE);
		if (vms_raw_failed(r)) {
			vms_fatal("cannot deactivate [%p, +%zu pages): errno %ld", (void *)a, j - i, -r);
		}
		for (size_t k = i; k < j; k++) {
			vms_pte_store(&pt[k], (old[k] & ~(VMS_PTE_ACCESSED | VMS_PTE_PROT_MASK |
							  VMS_PTE_READAHEAD | VMS_PTE_BUSY)) |
						      (keep_busy ? VMS_PTE_BUSY : 0));
		}
		vms_count_evict(VMS_EVICT_deactivated, j - i);
		vms_trace_event(VMS_TRACE_DEACTIVATE, a, (uint32_t)(j - i));
		i = j;
	}
}

/*
 * One page-table leaf's worth of v, [start, end) with PTEs from pt: claims
 * the evictable present pages, deactivates the referenced ones and evicts
 * up to quota of the others (all of them when force: MADV_PAGEOUT).  *looked counts the
 * pages considered.  Returns the pages freed.
 */
static size_t scan_chunk(struct vms_vma *v, uintptr_t start, uintptr_t end, vms_pte_t *pt,
			 bool force, size_t quota, size_t *looked, bool *swap_failed)
{
	size_t npages = (end - start) / VMS_PAGE_SIZE;
	bool *deact = scratch.deact;
	vms_pte_t *old = scratch.old;
	bool claimed_any = false;
	for (size_t i = 0; i < npages; i++) {
		vms_pte_t pte = vms_pte_load(&pt[i]);
		deact[i] = false;
		old[i] = 0;
		if ((pte & (VMS_PTE_PRESENT | VMS_PTE_BUSY | VMS_PTE_LOCKED)) != VMS_PTE_PRESENT) {
			continue;
		}
		(*looked)++;
		vms_chaos();
		if (!vms_pte_cas(&pt[i], &pte, pte | VMS_PTE_BUSY)) {
			continue;
		}
		old[i] = pte | VMS_PTE_PRESENT; /* nonzero: claimed */
		claimed_any = true;
		/* Referenced, or (defensively) accessible: deactivate first. */
		deact[i] = (pte & VMS_PTE_ACCESSED) != 0 || vms_pte_prot(pte) != PROT_NONE;
	}
	if (!claimed_any) {
		return 0;
	}
	if (vms_pinned(start, end)) {
		for (size_t i = 0; i < npages; i++) {
			if (old[i] != 0) {
				vms_pte_store(&pt[i], old[i]);
			}
		}
		return 0;
	}
	/* Only deactivation changes protection (eviction keeps PROT_NONE). */
	vms_kmaps_lock();
	long before = vms_kmaps_boundaries(start, end);
	deactivate(start, pt, npages, deact, old, force);
	vms_kmaps_adjust(before, vms_kmaps_boundaries(start, end));
	vms_kmaps_unlock();
	size_t freed = 0, chosen = 0;
	struct victim *vs = scratch.vs;
	size_t n = 0;
	for (size_t i = 0; i <= npages; i++) {
		bool victim = i < npages && old[i] != 0 && (force || !deact[i]);
		if (victim && chosen >= quota) {
			vms_pte_store(&pt[i], old[i] & ~VMS_PTE_BUSY); /* enough: it stays */
			victim = false;
		}
		if (victim) {
			chosen++;
			vs[n].addr = start + i * VMS_PAGE_SIZE;
			vs[n].pt = &pt[i];
			vs[n].past_end = false;
			/* Deactivated just now (force): its PTE says so, still BUSY. */
			vs[n].old = deact[i] ? vms_pte_load(&pt[i]) & ~VMS_PTE_BUSY
					     : old[i] & ~VMS_PTE_BUSY;
			n++;
		}
		if (n > 0 && (n == CLUSTER || i == npages)) {
			freed += evict(v, vs, n, swap_failed);
			n = 0;
		}
	}
	return freed;
}

/* Sweeps [lo, hi) of the arena from the clock hand.  Returns pages freed. */
static size_t sweep(size_t want, size_t budget, bool *swap_failed)
{
	struct vms_mm *mm = &vms_mm;
	uintptr_t hand = clock_hand < mm->base || clock_hand >= mm->end ? mm->base : clock_hand;
	size_t freed = 0, looked = 0;
	unsigned wraps = 0;
	while (freed < want && looked < budget) {
		struct vms_vma *v = vms_vma_first_in(&mm->vmas, hand, mm->end);
		if (v == NULL) {
			if (++wraps > 2) {
				break;
			}
			hand = mm->base;
			continue;
		}
		if (hand < v->start) {
			hand = v->start;
		}
		if (!evictable_vma(v)) {
			hand = v->end;
			continue;
		}
		vms_pte_t *pt;
		uintptr_t stop = hand + vms_pte_span(&mm->ptes, hand, &pt) * VMS_PAGE_SIZE;
		stop = stop < v->end ? stop : v->end;
		if (pt != NULL) {
			freed += scan_chunk(v, hand, stop, pt, false, want - freed, &looked,
					    swap_failed);
		}
		hand = stop;
	}
	clock_hand = hand;
	return freed;
}

/* Reclaims about want pages.  Map lock held, signals blocked. */
static size_t reclaim(size_t want)
{
	reclaim_lock();
	bool swap_failed = false;
	int64_t resident = vms_gauge_now(&vms_stats.resident_pages);
	size_t budget = 2 * (size_t)(resident > 0 ? resident : 0) + 2 * want + VMS_PTE_PER_LEAF;
	size_t freed = sweep(want, budget, &swap_failed);
	reclaim_unlock();
	return freed;
}

void vms_mem_charge(size_t n)
{
	if (n == 0) {
		return;
	}
	struct vms_gauge *g = &vms_stats.resident_pages;
	/* Reclaim until the charge fits; other threads may take the room a
	 * reclaim made, so only reclaims that free nothing count toward
	 * giving up (an overshoot). */
	for (unsigned fruitless = 0;;) {
		uint64_t limit = __atomic_load_n(vms_limit_word, __ATOMIC_RELAXED);
		int64_t now = __atomic_load_n(&g->now, __ATOMIC_RELAXED);
		int64_t after = now + (int64_t)n;
		if (limit == 0 || after <= (int64_t)limit || fruitless >= 2) {
			if (!__atomic_compare_exchange_n(&g->now, &now, after, 0, __ATOMIC_RELAXED,
							 __ATOMIC_RELAXED)) {
				continue; /* another thread charged: look again */
			}
			vms_gauge_add(g, 0); /* the peak follows */
			if (limit != 0 && after > (int64_t)limit) {
				uint64_t over = (uint64_t)after - limit;
				vms_count_add(&vms_stats.overshoot_pages, over < n ? over : n);
				say_once(&said_overshoot,
					 "resident memory is %ld pages above the memory limit: "
					 "nothing more can be evicted now",
					 (long)over);
			}
			return;
		}
		uint64_t batch = limit / 32 > 32 ? limit / 32 : 32;
		uint64_t low = limit > batch ? limit - batch : 0;
		if (reclaim((size_t)((uint64_t)after - low)) == 0) {
			/* Maybe every page is claimed by threads filling them:
			 * let them finish before looking again. */
			fruitless++;
			vms_raw_sched_yield();
		}
	}
}

void vms_mem_uncharge(size_t n)
{
	vms_gauge_add(&vms_stats.resident_pages, -(int64_t)n);
}

unsigned vms_mem_window_cap(unsigned w)
{
	uint64_t limit = __atomic_load_n(vms_limit_word, __ATOMIC_RELAXED);
	if (limit == 0) {
		return w;
	}
	uint64_t cap = limit / 16;
	unsigned c = 1;
	while ((uint64_t)c * 2 <= cap && c < w) {
		c *= 2;
	}
	return c < w ? c : w;
}

/* ---------------------------------------------------------------------
 * Swap-in.
 */
static __thread uintptr_t ra_next __attribute__((tls_model("initial-exec")));
static __thread unsigned ra_window __attribute__((tls_model("initial-exec")));

/*
 * The read-ahead window outside sequential runs follows its success: when
 * fewer than a quarter of the pages read ahead lately were touched, only
 * the page itself is read (the hits are counted by vm/fault.c's upgrade);
 * sequential runs still grow their window.
 */
static unsigned ra_default = RA_DEFAULT;
static uint64_t ra_seen_pages, ra_seen_hits;

static void readahead_adapt(void)
{
	uint64_t pages = __atomic_load_n(&vms_stats.swap_readahead_pages, __ATOMIC_RELAXED);
	uint64_t hits = __atomic_load_n(&vms_stats.swap_readahead_hits, __ATOMIC_RELAXED);
	uint64_t seen = __atomic_load_n(&ra_seen_pages, __ATOMIC_RELAXED);
	if (pages - seen < 256) {
		return;
	}
	uint64_t dh = hits - __atomic_load_n(&ra_seen_hits, __ATOMIC_RELAXED);
	__atomic_store_n(&ra_default, dh * 4 < pages - seen ? 1u : RA_DEFAULT, __ATOMIC_RELAXED);
	__atomic_store_n(&ra_seen_pages, pages, __ATOMIC_RELAXED);
	__atomic_store_n(&ra_seen_hits, hits, __ATOMIC_RELAXED);
}

static unsigned readahead_for(const struct vms_vma *v, uintptr_t page)
{
	unsigned w = __atomic_load_n(&ra_default, __ATOMIC_RELAXED);
	if (v->advice == VMS_ADV_RANDOM) {
		w = 1;
	} else if (v->advice == VMS_ADV_SEQUENTIAL) {
		w = RA_MAX;
	} else if (page == ra_next && ra_window != 0) {
		w = ra_window * 2 < RA_MAX ? ra_window * 2 : RA_MAX;
		w = w < RA_DEFAULT ? RA_DEFAULT : w;
	}
	ra_window = w;
	return vms_mem_window_cap(w);
}

enum vms_fault_result vms_swap_in(struct vms_vma *v, uintptr_t page, vms_pte_t *pt, vms_pte_t pte,
				  enum vms_access access)
{
	vms_chaos();
	if (!vms_pte_cas(pt, &pte, pte | VMS_PTE_BUSY)) {
		return VMS_FAULT_RESOLVED; /* changed under us: retry the access */
	}
	readahead_adapt();
	struct in_slot *slot_buf = in_slot_get();
	vms_pte_t **pts = slot_buf->pts;
	uint64_t slot = vms_pte_slot(pte);
	vms_pte_t keep = pte & (VMS_PTE_FILE | VMS_PTE_DIRTY);
	/* Read-ahead: following pages whose slots follow. */
	unsigned window = readahead_for(v, page);
	pts[0] = pt;
	size_t n = 1;
	while (n < window && page + n * VMS_PAGE_SIZE < v->end) {
		vms_pte_t *q = vms_pte_lookup(&vms_mm.ptes, page + n * VMS_PAGE_SIZE);
		vms_pte_t qp = q != NULL ? vms_pte_load(q) : 0;
		if ((qp & (VMS_PTE_SWAPPED | VMS_PTE_BUSY)) != VMS_PTE_SWAPPED ||
		    vms_pte_slot(qp) != slot + n || (qp & (VMS_PTE_FILE | VMS_PTE_DIRTY)) != keep ||
		    !vms_pte_cas(q, &qp, qp | VMS_PTE_BUSY)) {
			break;
		}
		pts[n++] = q;
	}
	vms_mem_charge(n);
	int err = vms_swap_read(slot, slot_buf->buf, n);
	if (err != 0) {
		for (size_t i = 0; i < n; i++) {
			vms_pte_store(pts[i], vms_pte_load(pts[i]) & ~VMS_PTE_BUSY);
		}
		in_slot_put(slot_buf);
		vms_mem_uncharge(n);
		vms_count_add(&vms_stats.swap_read_errors, 1);
		say_once(&said_read_error,
			 "a swap read failed (errno %ld): the access gets SIGBUS, as for a "
			 "memory error",
			 err);
		return VMS_FAULT_HWPOISON;
	}
	mem_copy(page, slot_buf->buf, n * VMS_PAGE_SIZE, true);
	vms_chaos();
	vms_kmaps_lock();
	long before = vms_kmaps_boundaries(page, page + n * VMS_PAGE_SIZE);
	bool writing = access == VMS_ACCESS_WRITE ||
		       (access == VMS_ACCESS_UNKNOWN && (v->prot & PROT_WRITE));
	vms_pte_t first = VMS_PTE_PRESENT | VMS_PTE_ACCESSED | keep;
	if (writing) {
		vms_swap_put(slot); /* about to be written: the copy in swap is stale */
		first |= VMS_PTE_DIRTY;
	} else {
		first = vms_pte_with_slot(first | VMS_PTE_SWAPCACHE, slot);
	}
	int hw = vms_hw_prot(v, first);
	if (hw != PROT_NONE) {
		long r = vms_raw_mprotect((void *)page, VMS_PAGE_SIZE, hw);
		if (vms_raw_failed(r)) {
			vms_fatal("cannot make swapped-in page %p accessible: errno %ld", (void *)page,
				  -r);
		}
	}
	for (size_t i = 1; i < n; i++) {
		vms_pte_store(pts[i], vms_pte_with_slot(VMS_PTE_PRESENT | VMS_PTE_SWAPCACHE |
								VMS_PTE_READAHEAD | keep,
							slot + i));
	}
	vms_pte_store(pt, first | (vms_pte_t)hw);
	in_slot_put(slot_buf);
	vms_kmaps_adjust(before, vms_kmaps_boundaries(page, page + n * VMS_PAGE_SIZE));
	vms_kmaps_unlock();
	vms_count_fault(VMS_FAULT_swap_in);
	vms_trace_event(VMS_TRACE_SWAP_IN, page, (uint32_t)n);
	vms_count_add(&vms_stats.swap_in_pages, n);
	vms_count_add(&vms_stats.swap_clusters_in, 1);
	vms_count_add(&vms_stats.swap_readahead_pages, n - 1);
	ra_next = page + n * VMS_PAGE_SIZE;
	return VMS_FAULT_RESOLVED;
}

/* Calls fn on each page-table leaf piece of [s, e) that exists: its first
 * address, its PTEs and their number. */
static void each_leaf(uintptr_t s, uintptr_t e,
		      void (*fn)(uintptr_t x, vms_pte_t *pt, size_t n, void *ctx), void *ctx)
{
	for (uintptr_t x = s; x < e;) {
		vms_pte_t *pt;
		uintptr_t stop = x + vms_pte_span(&vms_mm.ptes, x, &pt) * VMS_PAGE_SIZE;
		stop = stop < e ? stop : e;
		if (pt != NULL) {
			fn(x, pt, (stop - x) / VMS_PAGE_SIZE, ctx);
		}
		x = stop;
	}
}

/* ---------------------------------------------------------------------
 * madvise and the end of pages.
 */
struct pageout {
	struct vms_vma *v;
	bool cold;
	bool swap_failed;
	size_t looked;
};

static void pageout_leaf(uintptr_t x, vms_pte_t *pt, size_t npages, void *ctx)
{
	struct pageout *po = ctx;
	uintptr_t stop = x + npages * VMS_PAGE_SIZE;
	if (!po->cold) {
		scan_chunk(po->v, x, stop, pt, true, SIZE_MAX, &po->looked, &po->swap_failed);
		return;
	}
	/* Deactivate only: reclaim takes them first. */
	bool *deact = scratch.deact;
	vms_pte_t *old = scratch.old;
	for (size_t i = 0; i < npages; i++) {
		vms_pte_t pte = vms_pte_load(&pt[i]);
		deact[i] = (pte & (VMS_PTE_PRESENT | VMS_PTE_ACCESSED | VMS_PTE_BUSY | VMS_PTE_LOCKED)) ==
				   (VMS_PTE_PRESENT | VMS_PTE_ACCESSED) &&
			   vms_pte_cas(&pt[i], &pte, pte | VMS_PTE_BUSY);
		old[i] = pte;
	}
	vms_kmaps_lock();
	long before = vms_kmaps_boundaries(x, stop);
	deactivate(x, pt, npages, deact, old, false);
	vms_kmaps_adjust(before, vms_kmaps_boundaries(x, stop));
	vms_kmaps_unlock();
}

int vms_pageout_range(struct vms_vma *v, uintptr_t s, uintptr_t e, bool cold)
{
	if (v->flags & (VMS_VMA_LOCKED | VMS_VMA_LOCKONFAULT)) {
		return EINVAL; /* Linux: not for locked mappings */
	}
	if (!evictable_vma(v)) {
		return 0;
	}
	struct pageout po = { v, cold, false, 0 };
	reclaim_lock();
	each_leaf(s, e, pageout_leaf, &po);
	reclaim_unlock();
	return 0;
}

void vms_willneed_range(struct vms_vma *v, uintptr_t s, uintptr_t e)
{
	for (uintptr_t x = s; x < e; x += VMS_PAGE_SIZE) {
		vms_pte_t *pt = vms_pte_lookup(&vms_mm.ptes, x);
		vms_pte_t pte = pt != NULL ? vms_pte_load(pt) : 0;
		if ((pte & (VMS_PTE_SWAPPED | VMS_PTE_BUSY)) == VMS_PTE_SWAPPED) {
			vms_swap_in(v, x, pt, pte, VMS_ACCESS_READ);
		}
	}
}

/* Counts present pages and drops swap references of one leaf's PTEs. */
static void release_leaf(uintptr_t x, vms_pte_t *pt, size_t n, void *ctx)
{
	size_t *present = ctx;
	(void)x;
	for (size_t i = 0; i < n; i++) {
		vms_pte_t pte = vms_pte_load(&pt[i]);
		*present += (pte & VMS_PTE_PRESENT) != 0;
		if (pte & (VMS_PTE_SWAPPED | VMS_PTE_SWAPCACHE)) {
			vms_swap_put(vms_pte_slot(pte));
		}
	}
}

void vms_pages_release(uintptr_t s, uintptr_t e)
{
	size_t present = 0;
	each_leaf(s, e, release_leaf, &present);
	vms_mem_uncharge(present);
	vms_pte_release_range(&vms_mm.ptes, s, e);
}

static void swap_entries_leaf(uintptr_t x, vms_pte_t *pt, size_t n, void *ctx)
{
	void (*fn)(uint64_t) = *(void (**)(uint64_t))ctx;
	(void)x;
	for (size_t i = 0; i < n; i++) {
		vms_pte_t pte = vms_pte_load(&pt[i]);
		if (pte & (VMS_PTE_SWAPPED | VMS_PTE_SWAPCACHE)) {
			fn(vms_pte_slot(pte));
		}
	}
}

/* Calls fn on the slot of every PTE of the arena that holds a swap entry. */
static void each_swap_entry(void (*fn)(uint64_t slot))
{
	for (struct vms_vma *v = vms_vma_first(&vms_mm.vmas); v != NULL; v = vms_vma_next(v)) {
		each_leaf(v->start, v->end, swap_entries_leaf, &fn);
	}
}

/* The reference is the child's: the gauge (this process's references)
 * does not move; the child's copy of it, one per entry, is already right. */
void vms_swap_fork_ref(void)
{
	if (vms_swap_ready()) {
		each_swap_entry(vms_swap_ref);
	}
}

void vms_swap_release_all(void)
{
	/* A vfork child (or a raw clone sharing the memory) ending with _exit
	 * shares its parent's page table: the references are the parent's. */
	if (!vms_swap_ready() || vms_raw_getpid() != vms_mm.owner_pid) {
		return;
	}
	uint64_t saved;
	vms_map_write_lock(&saved); /* kept: nothing may fault in after this */
	each_swap_entry(vms_swap_put);
}
