/*
 * vm/arena.c - the arena and what is true of it as a whole.
 *
 * Owns: reserving the arena at start, turning ranges back into plain
 * reservation (locked memory stays locked: MADV_DONTNEED_LOCKED), counting
 * present pages, telling whether private memory was written (which gives
 * the program's mapping an anon_vma on Linux, so it decides which of its
 * mappings merge: vms_anon_written) and giving written mappings the
 * anon_vma identity their first write would have had (vms_anon_settle),
 * and counting the kernel mappings the shim causes inside the arena.
 *
 * Kernel-mapping model: the kernel splits the arena wherever neighbouring
 * pages differ in protection or in backing (each MAP_SHARED anonymous
 * mapping is a kernel mapping of its own), and merges neighbours that
 * agree.  So the number of kernel mappings inside the arena is 1 + the
 * number of page boundaries whose two sides differ in identity =
 * (backing object, hardware protection).  A change to [a, b) can only alter
 * boundaries at x in [a, b]; callers count those before and after
 * (vms_kmaps_boundaries) and add the difference.
 *
 * For that merging to happen, neighbours must share one anon_vma: the
 * kernel never merges two private anonymous mappings whose pages were
 * first faulted in separately.  So the arena gets its anon_vma at start,
 * before any split (it is made writable, one page is populated and
 * discarded, then it goes back to PROT_NONE), every piece split from it
 * inherits that anon_vma, and private memory goes back to reservation with
 * MADV_DONTNEED + PROT_NONE (vms_arena_discard), which keeps it; only
 * ranges that were shared get a fresh mapping (vms_arena_reserve).
 *
 * Huge pages: the whole arena carries MADV_HUGEPAGE, so when a fault fills
 * a whole aligned 2 MiB block at once (a sequential fault-around window of
 * 512 pages) the kernel backs it with one huge page: one allocation instead
 * of 512, and no more memory than the block the shim fills anyway.  Pages
 * the kernel faults in itself would get huge pages too; that only happens
 * when a fault makes a range accessible without populating it, which only
 * the escalation past 512 pages does (vm/fault.c).  Before it first does,
 * the whole arena switches to MADV_NOHUGEPAGE for the rest of the process's
 * life (vms_arena_hugepages_off).  The advice is the same over the whole
 * arena at any time (fresh reservations get it too), so it never splits a
 * kernel mapping.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>

#include "os/fmt.h"
#include "os/pool.h"
#include "os/raw.h"
#include "util/inject.h"
#include "util/log.h"
#include "util/options.h"
#include "util/stats.h"
#include "vm/mm.h"

struct vms_mm vms_mm;

static long read_max_map_count(void)
{
	char buf[32];
	uint64_t v = 65530;
	long fd = vms_raw_open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC, 0);
	if (!vms_raw_failed(fd)) {
		long n = vms_raw_read((int)fd, buf, sizeof buf - 1);
		vms_raw_close((int)fd);
		if (n > 0) {
			buf[n] = '\0';
			if (buf[n - 1] == '\n') {
				buf[n - 1] = '\0';
			}
			if (vms_parse_uint(buf, &v) != 0) {
				v = 65530;
			}
		}
	}
	return (long)v;
}

static uint64_t vms_limit_pages;
uint64_t *vms_limit_word = &vms_limit_pages;

void vms_mm_init(void)
{
	struct vms_mm *mm = &vms_mm;
	size_t size = (size_t)vms_option_num(VMS_OPT_ARENA_SIZE);
	long r = vms_inject_mmap(NULL, size, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!vms_raw_failed(r)) {
		/* Attach the arena's one anon_vma before anything splits it. */
		vms_raw_madvise((void *)r, VMS_PAGE_SIZE, MADV_POPULATE_WRITE);
		vms_raw_madvise((void *)r, VMS_PAGE_SIZE, MADV_DONTNEED);
		long p = vms_inject_mprotect((void *)r, size, PROT_NONE);
		if (vms_raw_failed(p)) {
			vms_raw_munmap((void *)r, size);
			r = p;
		}
	}
	if (vms_raw_failed(r)) {
		vms_log(VMS_LOG_WARN,
			"cannot reserve a %zu-byte arena (errno %ld): every call passes through to "
			"the kernel; set VMSHIM_ARENA_SIZE smaller",
			size, -r);
		return;
	}
	if (vms_pte_table_init(&mm->ptes, (uintptr_t)r, size) != 0) {
		vms_raw_munmap((void *)r, size);
		vms_log(VMS_LOG_WARN, "cannot allocate the page table: pass-through mode");
		return;
	}
	vms_vma_set_init(&mm->vmas);
	if (!vms_raw_failed(vms_raw_madvise((void *)r, size, MADV_HUGEPAGE))) {
		mm->hugepage_advice = MADV_HUGEPAGE;
	}
	mm->fault_around = (unsigned)vms_option_num(VMS_OPT_FAULT_AROUND);
	/* Leave half of the kernel's limit to everything outside the arena. */
	mm->kmaps_budget = read_max_map_count() / 2;
	mm->kmaps = 1;
	mm->next_object_id = 1;
	vms_gauge_add(&vms_stats.kernel_mappings, 1);
	mm->base = (uintptr_t)r;
	mm->end = (uintptr_t)r + size;
	mm->owner_pid = vms_raw_getpid();
	vms_limit_pages = vms_option_num(VMS_OPT_MEM_LIMIT) / VMS_PAGE_SIZE;
	vms_stats.limit_pages = vms_limit_pages;
	if (vms_limit_pages != 0 && vms_limit_pages < 16 * 512) {
		/* Fault blocks are at most a 16th of the limit (vm/reclaim.c):
		 * below 32 MiB they never fill a whole huge page, and a huge page
		 * the kernel made on its own would be 512 pages the limit did
		 * not charge. */
		vms_arena_hugepages_off();
	}
	vms_stats.arena_start = mm->base;
	vms_stats.arena_end = mm->end;
	vms_log(VMS_LOG_INFO, "arena %p-%p (%zu bytes), fault-around %u pages", (void *)mm->base,
		(void *)mm->end, size, mm->fault_around);
}

enum vms_where vms_arena_where(uintptr_t start, uintptr_t end)
{
	if (vms_mm.base == 0 || end <= vms_mm.base || start >= vms_mm.end) {
		return VMS_OUTSIDE;
	}
	if (start >= vms_mm.base && end <= vms_mm.end) {
		return VMS_INSIDE;
	}
	return VMS_ACROSS;
}

int vms_arena_reserve(uintptr_t start, uintptr_t end)
{
	if (end <= start) {
		return 0;
	}
	long r = vms_raw_mmap((void *)start, end - start, PROT_NONE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	int advice = __atomic_load_n(&vms_mm.hugepage_advice, __ATOMIC_ACQUIRE);
	if (!vms_raw_failed(r) && advice != 0) {
		vms_raw_madvise((void *)start, end - start, advice);
	}
	if (!vms_raw_failed(r) && vms_mm.lock_future) {
		/* MCL_FUTURE locked the new mapping: reservation is never locked. */
		vms_raw_munlock((void *)start, end - start);
	}
	return vms_raw_failed(r) ? (int)-r : 0;
}

void vms_arena_hugepages_off(void)
{
	int expected = MADV_HUGEPAGE;
	if (__atomic_compare_exchange_n(&vms_mm.hugepage_advice, &expected, MADV_NOHUGEPAGE, 0,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		vms_raw_madvise((void *)vms_mm.base, vms_mm.end - vms_mm.base, MADV_NOHUGEPAGE);
		vms_log(VMS_LOG_INFO, "huge pages off: the arena holds %ld kernel mappings",
			__atomic_load_n(&vms_mm.kmaps, __ATOMIC_RELAXED));
	}
}

int vms_arena_discard(uintptr_t start, uintptr_t end)
{
	if (end <= start) {
		return 0;
	}
	long r = vms_raw_madvise((void *)start, end - start, MADV_DONTNEED);
	if (r == -EINVAL) {
		/* Locked memory (mlock, MADV_DONTNEED_LOCKED): discard it and
		 * keep it locked, as Linux does (Linux 5.18+). */
		r = vms_raw_madvise((void *)start, end - start, 24 /* MADV_DONTNEED_LOCKED */);
	}
	if (r == -EINVAL) {
		/* Locked by mlockall: unlock, as munmap would. */
		vms_raw_munlock((void *)start, end - start);
		r = vms_raw_madvise((void *)start, end - start, MADV_DONTNEED);
	}
	if (!vms_raw_failed(r)) {
		r = vms_raw_mprotect((void *)start, end - start, PROT_NONE);
	}
	return vms_raw_failed(r) ? (int)-r : 0;
}

/* The mapping's part of a page's kernel identity (the hardware protection
 * fills bits 0-2): the shared object, and the flags the kernel keeps per
 * mapping. */
static uint64_t backing_of(const struct vms_vma *v)
{
	if (v == NULL) {
		return 0;
	}
	uint64_t object = (v->flags & (VMS_VMA_SHARED | VMS_VMA_FOREIGN))
				  ? (uint64_t)(uintptr_t)v->object : 0;
	/* The kernel protects a foreign mapping itself: no PTE says how. */
	uint64_t prot = (v->flags & VMS_VMA_FOREIGN) ? (uint64_t)(v->prot & 7) << 24 : 0;
	return object << 32 | prot | (uint64_t)(v->flags & VMS_VMA_KERNEL_FLAGS) << 3;
}

static uint64_t identity(uintptr_t a)
{
	vms_pte_t *p = vms_pte_lookup(&vms_mm.ptes, a);
	uint64_t hw = p != NULL ? (uint64_t)vms_pte_prot(vms_pte_load(p)) : 0;
	return backing_of(vms_vma_find(&vms_mm.vmas, a)) | hw;
}

long vms_kmaps_boundaries(uintptr_t start, uintptr_t end)
{
	struct vms_mm *mm = &vms_mm;
	uintptr_t lo = start < mm->base + VMS_PAGE_SIZE ? mm->base + VMS_PAGE_SIZE : start;
	uintptr_t hi = end > mm->end - VMS_PAGE_SIZE ? mm->end - VMS_PAGE_SIZE : end;
	if (mm->base == 0 || lo > hi) {
		return 0;
	}
	long n = 0;
	uint64_t prev = identity(lo - VMS_PAGE_SIZE);
	uintptr_t x = lo;
	while (x <= hi) {
		/* A segment of constant backing within one page-table leaf. */
		struct vms_vma *v = vms_vma_find(&mm->vmas, x);
		uintptr_t seg_end;
		if (v != NULL) {
			seg_end = v->end;
		} else {
			struct vms_vma *next = vms_vma_first_in(&mm->vmas, x, mm->end);
			seg_end = next != NULL ? next->start : mm->end;
		}
		vms_pte_t *pt;
		uintptr_t leaf_end = x + vms_pte_span(&mm->ptes, x, &pt) * VMS_PAGE_SIZE;
		if (leaf_end < seg_end) {
			seg_end = leaf_end;
		}
		if (seg_end > hi + VMS_PAGE_SIZE) {
			seg_end = hi + VMS_PAGE_SIZE;
		}
		uint64_t back = backing_of(v);
		if (pt == NULL) {
			n += back != prev;
			prev = back;
			x = seg_end;
			continue;
		}
		for (; x < seg_end; x += VMS_PAGE_SIZE, pt++) {
			uint64_t id = back | (uint64_t)vms_pte_prot(vms_pte_load(pt));
			n += id != prev;
			prev = id;
		}
	}
	return n;
}

static void resync_locked(void);

void vms_kmaps_adjust(long before, long after)
{
	long delta = after - before;
	if (delta != 0) {
		long now = __atomic_add_fetch(&vms_mm.kmaps, delta, __ATOMIC_RELAXED);
		vms_gauge_add(&vms_stats.kernel_mappings, delta);
		if (now < 1) {
			resync_locked(); /* callers hold the kmaps lock or are alone */
		}
	}
}

static int kmaps_lock_word;

void vms_kmaps_lock(void) { vms_spin_lock(&kmaps_lock_word); }

void vms_kmaps_unlock(void) { vms_spin_unlock(&kmaps_lock_word); }

/*
 * The count is exact while one thread changes a range at a time: the map
 * lock's writers are alone, and the paths that run under its read side
 * (faults, reclaim) hold the kernel-mapping lock from counting the
 * boundaries before a protection change to counting them after.  As a
 * safety net, where a drift would matter (near the budget, where fault
 * blocks widen, or below one) the count is set again from /proc/self/maps,
 * under the lock (its static buffer too).  Async-signal-safe: raw calls, a static buffer
 * owned by one thread at a time (the others keep the count they have).
 */
static void resync_locked(void)
{
	static char buf[65536];
	long fd = vms_raw_open("/proc/self/maps", O_RDONLY | O_CLOEXEC, 0);
	if (!vms_raw_failed(fd)) {
		/* Each line starts with its hexadecimal start address, then '-'. */
		long count = 0, n;
		uintptr_t addr = 0;
		bool in_addr = true;
		while ((n = vms_raw_read((int)fd, buf, sizeof buf)) > 0) {
			for (long i = 0; i < n; i++) {
				char c = buf[i];
				if (c == '\n') {
					in_addr = true;
					addr = 0;
				} else if (in_addr && c == '-') {
					count += addr >= vms_mm.base && addr < vms_mm.end;
					in_addr = false;
				} else if (in_addr) {
					addr = addr << 4 | (uintptr_t)(c <= '9' ? c - '0' : c - 'a' + 10);
				}
			}
		}
		vms_raw_close((int)fd);
		if (count > 0) {
			long old = __atomic_exchange_n(&vms_mm.kmaps, count, __ATOMIC_RELAXED);
			vms_gauge_add(&vms_stats.kernel_mappings, count - old);
		}
	}
}

void vms_kmaps_resync(void)
{
	vms_kmaps_lock();
	resync_locked();
	vms_kmaps_unlock();
}

/* Pages of [start, end) whose PTE has all of the bits in mask. */
static size_t count_pages(uintptr_t start, uintptr_t end, vms_pte_t mask)
{
	size_t n = 0;
	for (uintptr_t x = start; x < end;) {
		vms_pte_t *pt;
		size_t span = vms_pte_span(&vms_mm.ptes, x, &pt);
		uintptr_t stop = x + span * VMS_PAGE_SIZE;
		if (stop > end) {
			stop = end;
		}
		if (pt == NULL) {
			x = stop;
			continue;
		}
		for (; x < stop; x += VMS_PAGE_SIZE, pt++) {
			n += (vms_pte_load(pt) & mask) == mask;
		}
	}
	return n;
}

bool vms_anon_written(uintptr_t start, uintptr_t end)
{
	long fd = -1;
	bool written = false;
	for (uintptr_t x = start; x < end && !written;) {
		vms_pte_t *first;
		size_t n = vms_pte_span(&vms_mm.ptes, x, &first);
		if (first == NULL) {
			x += n * VMS_PAGE_SIZE; /* no table: nothing there */
			continue;
		}
		for (size_t i = 0; i < n && x < end && !written; i++, x += VMS_PAGE_SIZE) {
			vms_pte_t pte = vms_pte_load(&first[i]);
			if (pte & (VMS_PTE_SWAPPED | VMS_PTE_SWAPCACHE)) {
				written = true; /* its contents went to swap: anonymous */
				break;
			}
			if (!(pte & VMS_PTE_PRESENT)) {
				continue;
			}
			if (pte & (VMS_PTE_DIRTY | VMS_PTE_COW)) {
				written = true;
				break;
			}
			if (fd < 0) {
				fd = vms_raw_open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC, 0);
				if (vms_raw_failed(fd)) {
					return true; /* cannot tell: assume written */
				}
			}
			uint64_t entry = 0;
			long r = vms_raw_pread((int)fd, &entry, sizeof entry,
					       (off_t)(x / VMS_PAGE_SIZE * sizeof entry));
			/* Present and mapped once (PM_MMAP_EXCLUSIVE): a page of its
			 * own, not the shared zero page a read maps. */
			written = r != (long)sizeof entry ||
				  ((entry >> 63) & 1 && (entry >> 56) & 1 && !((entry >> 61) & 1));
		}
	}
	if (fd >= 0) {
		vms_raw_close((int)fd);
	}
	return written;
}

/* Linux's anon_vma_compatible: lo and hi would merge but for their
 * protection, their anon_vmas and what only kept them apart since (a hard
 * apart identity, a moved mapping's own offset, still counts). */
static bool anon_reusable(const struct vms_vma *lo, const struct vms_vma *hi)
{
	struct vms_vma t = *hi;
	t.prot = lo->prot;
	t.anon = lo->anon;
	t.anon_forked = lo->anon_forked;
	return vms_vma_would_merge(lo, &t);
}

/* Whether v has no anon_vma yet but has been written since the last call:
 * private, writable (making it writable was a call), a page its own. */
static bool written_unsettled(const struct vms_vma *v)
{
	return v->anon == 0 && !(v->flags & (VMS_VMA_SHARED | VMS_VMA_FOREIGN)) &&
	       (v->prot & PROT_WRITE) && vms_anon_written(v->start, v->end);
}

void vms_anon_settle(uintptr_t start, uintptr_t end)
{
	uintptr_t lo = start > vms_mm.base + VMS_PAGE_SIZE ? start - VMS_PAGE_SIZE : vms_mm.base;
	uintptr_t hi = end < vms_mm.end - VMS_PAGE_SIZE ? end + VMS_PAGE_SIZE : vms_mm.end;
	struct vms_vma *v = vms_vma_first_in(&vms_mm.vmas, lo, hi);
	if (v == NULL) {
		return;
	}
	/* A first write looks at the neighbours, which may have been written
	 * in the same interval and not settled yet: settle the whole run of
	 * adjacent written mappings, in address order (the order of the
	 * writes is not known; ascending is the common one). */
	for (struct vms_vma *p = vms_vma_prev(v); p != NULL && p->end == v->start &&
						  written_unsettled(p);
	     p = vms_vma_prev(p)) {
		v = p;
	}
	for (uintptr_t prev_end = v->start; v != NULL; prev_end = v->end, v = vms_vma_next(v)) {
		bool beyond = v->start >= hi;
		if (beyond && v->start != prev_end) {
			break;
		}
		if (!written_unsettled(v)) {
			if (beyond) {
				break;
			}
			continue;
		}
		/* anon_vma_prepare: a neighbour's, if reusable (the next first). */
		struct vms_vma *n = vms_vma_next(v), *p = vms_vma_prev(v);
		if (n != NULL && n->anon != 0 && !n->anon_forked && anon_reusable(v, n)) {
			v->anon = n->anon;
		} else if (p != NULL && p->anon != 0 && !p->anon_forked && anon_reusable(p, v)) {
			v->anon = p->anon;
		} else {
			v->anon = vms_mm.next_object_id++;
		}
	}
}

void vms_anon_settle_all(void)
{
	vms_anon_settle(vms_mm.base, vms_mm.end);
}

size_t vms_dirty_pages(uintptr_t start, uintptr_t end)
{
	return count_pages(start, end, VMS_PTE_PRESENT | VMS_PTE_DIRTY);
}

uintptr_t vms_mapped_prefix_end(uintptr_t start, uintptr_t end)
{
	uintptr_t at = start;
	for (struct vms_vma *v = vms_vma_first_in(&vms_mm.vmas, start, end);
	     v != NULL && at < end && v->start <= at; v = vms_vma_next(v)) {
		at = v->end;
	}
	return at < end ? at : end;
}

/* Sets the kernel protection of [*run, end) if a run is pending. */
static void flush_run(uintptr_t *run, uintptr_t end, int *run_prot)
{
	if (*run_prot >= 0) {
		long r = vms_raw_mprotect((void *)*run, end - *run, *run_prot);
		if (vms_raw_failed(r)) {
			vms_fatal("cannot set the protection of [%p, %p): errno %ld", (void *)*run,
				  (void *)end, -r);
		}
	}
	*run_prot = -1;
}

size_t vms_reprotect(struct vms_vma *v, uintptr_t start, uintptr_t end,
		     vms_pte_t (*change)(vms_pte_t))
{
	long before = vms_kmaps_boundaries(start, end);
	uintptr_t run = 0;
	int run_prot = -1;
	size_t changed = 0;
	for (uintptr_t x = start; x < end;) {
		vms_pte_t *pt;
		uintptr_t stop = x + vms_pte_span(&vms_mm.ptes, x, &pt) * VMS_PAGE_SIZE;
		stop = stop < end ? stop : end;
		if (pt == NULL) {
			flush_run(&run, x, &run_prot);
			x = stop;
			continue;
		}
		for (; x < stop; x += VMS_PAGE_SIZE, pt++) {
			vms_pte_t pte = vms_pte_load(pt);
			vms_pte_t now = (pte & VMS_PTE_PRESENT) && change != NULL ? change(pte) : pte;
			int hw = (pte & VMS_PTE_PRESENT) ? vms_hw_prot(v, now) : -1;
			if (hw < 0 || (now == pte && hw == vms_pte_prot(pte))) {
				flush_run(&run, x, &run_prot);
				continue;
			}
			if (hw != run_prot) {
				flush_run(&run, x, &run_prot);
				run = x;
				run_prot = hw;
			}
			changed += now != pte;
			vms_pte_store(pt, (now & ~VMS_PTE_PROT_MASK) | (vms_pte_t)hw);
		}
	}
	flush_run(&run, end, &run_prot);
	vms_kmaps_adjust(before, vms_kmaps_boundaries(start, end));
	return changed;
}

void vms_vmas_gauge_sync(void)
{
	vms_gauge_add(&vms_stats.vmas,
		      (int64_t)vms_vma_count(&vms_mm.vmas) - vms_gauge_now(&vms_stats.vmas));
}
