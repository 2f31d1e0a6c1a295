/*
 * vm/range.c - calls that act on a range of arena mappings without
 * changing them: msync, mincore, mlock, mlock2, munlock.
 *
 * msync of a file mapping is the kernel's (the page cache is the store);
 * after MS_SYNC the shim counts the dirty pages written back and
 * write-protects them again, so its dirty tracking stays exact.
 *
 * The kernel sees the whole arena as mapped, so it cannot tell the holes
 * between the shim's VMAs: the shim finds them and answers as Linux does
 * for holes (ENOMEM, with the part before the first hole processed), and
 * lets the kernel do the rest on the mapped prefix.  mlock first makes the
 * pages present (the kernel would not populate PROT_NONE reservation), so
 * locked memory is resident as the caller expects.
 *
 * Errors, in the kernel's order:
 *   msync    EINVAL unknown flags, unaligned address, MS_SYNC|MS_ASYNC;
 *            ENOMEM overflowing length or a hole in the range; EBUSY
 *            MS_INVALIDATE over locked memory
 *   mincore  EINVAL unaligned address; ENOMEM a hole (the vector is filled
 *            up to it); EFAULT bad vector (from the kernel).  Anonymous
 *            memory is reported from the shim's page table (present pages),
 *            files from the kernel's page cache.
 *   mlock*   EINVAL unknown mlock2 flags; ENOMEM a hole (the prefix is
 *            locked); the kernel's EPERM/ENOMEM/EAGAIN for limits
 *
 * The kernel's mlock sets VM_LOCKED on the whole range first and only then
 * populates it: a population that fails (a PROT_NONE page, a file page
 * past the end of the file, a guard page) makes mlock return ENOMEM (or
 * EAGAIN) with the range locked all the same.  ENOMEM also means "over
 * RLIMIT_MEMLOCK", which locks nothing.  The shim tells the two apart by the
 * kernel's locked-memory count (VmLck) before and after, and records the
 * lock exactly when the kernel has set it.  A new mapping under MAP_LOCKED
 * or MCL_FUTURE is locked whatever its population does, unless over
 * RLIMIT_MEMLOCK without CAP_IPC_LOCK (EAGAIN: Linux's mmap checks first).
 * VMAs record VM_LOCKED and VM_LOCKONFAULT (MLOCK_ONFAULT, MCL_ONFAULT)
 * exactly, since both split mappings.  A forked child inherits no lock and
 * no MCL_FUTURE (vms_mlock_fork_child); fork leaves its unlocked mappings
 * apart from their neighbours (the VMAs' apart identity).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "os/raw.h"
#include "util/log.h"
#include "util/stats.h"
#include "vm/mm.h"

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 0x01
#endif

static vms_pte_t mark_clean(vms_pte_t pte)
{
	return pte & ~VMS_PTE_DIRTY;
}

/*
 * After MS_SYNC wrote [s, e) of the shared file mapping v: its dirty pages
 * are clean again, so they are counted as written back and write-protected
 * to catch their next first write.
 */
static void written_back(struct vms_vma *v, uintptr_t s, uintptr_t e)
{
	size_t n = vms_reprotect(v, s, e, mark_clean);
	vms_gauge_add(&vms_stats.file_dirty, -(int64_t)n);
	vms_count_add(&vms_stats.written_back_pages, n);
}

int vm_msync(void *addr, size_t len, int flags)
{
	uintptr_t start = (uintptr_t)addr;
	if (vms_arena_where(start, start + vms_page_up(len)) != VMS_INSIDE) {
		return VMS_PASSTHROUGH;
	}
	if ((flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) || (start & ~VMS_PAGE_MASK) ||
	    ((flags & MS_ASYNC) && (flags & MS_SYNC))) {
		return EINVAL;
	}
	uintptr_t end = start + vms_page_up(len);
	if (end < start) {
		return ENOMEM;
	}
	if (end == start) {
		return 0;
	}
	uint64_t saved;
	int err = 0;
	vms_map_write_lock(&saved);
	/* Anonymous memory has nothing to write back; foreign (kernel) mappings
	 * are synced by the kernel. */
	for (struct vms_vma *v = vms_vma_first_in(&vms_mm.vmas, start, end);
	     v != NULL && v->start < end && err == 0; v = vms_vma_next(v)) {
		uintptr_t s = v->start > start ? v->start : start;
		uintptr_t e = v->end < end ? v->end : end;
		if ((flags & MS_INVALIDATE) && (v->flags & VMS_VMA_LOCKED)) {
			err = EBUSY;
		} else if (v->flags & (VMS_VMA_FOREIGN | VMS_VMA_FILE)) {
			long r = vms_raw_msync((void *)s, e - s, flags);
			err = vms_raw_failed(r) ? (int)-r : 0;
			if (err == 0 && (flags & MS_SYNC) && (v->flags & VMS_VMA_FILE) &&
			    (v->flags & VMS_VMA_SHARED)) {
				written_back(v, s, e);
			}
		}
	}
	bool hole = vms_mapped_prefix_end(start, end) < end;
	vms_map_write_unlock(&saved);
	return err != 0 ? err : hole ? ENOMEM : 0;
}

int vm_mincore(void *addr, size_t len, unsigned char *vec)
{
	uintptr_t start = (uintptr_t)addr;
	/* The kernel writes the vector: make it present if it is arena
	 * memory, whether the range is the shim's or passes through. */
	if (!(start & ~VMS_PAGE_MASK) && vms_page_up(len) >= len) {
		vms_prefault((uintptr_t)vec, vms_page_up(len) / VMS_PAGE_SIZE, VMS_ACCESS_WRITE);
	}
	if (vms_arena_where(start, start + vms_page_up(len)) != VMS_INSIDE) {
		return VMS_PASSTHROUGH;
	}
	if (start & ~VMS_PAGE_MASK) {
		return EINVAL;
	}
	uintptr_t end = start + vms_page_up(len);
	if (end == start) {
		return 0;
	}
	uint64_t saved;
	vms_map_write_lock(&saved);
	uintptr_t prefix = vms_mapped_prefix_end(start, end);
	/* The kernel first: it checks the vector (EFAULT) and answers for
	 * files; anonymous memory is then reported from the shim's own table. */
	long r = prefix > start ? vms_raw_mincore((void *)start, prefix - start, vec) : 0;
	for (struct vms_vma *v = vms_vma_first_in(&vms_mm.vmas, start, prefix);
	     !vms_raw_failed(r) && v != NULL && v->start < prefix; v = vms_vma_next(v)) {
		if (vms_vma_has_object(v)) {
			continue;
		}
		uintptr_t s = v->start > start ? v->start : start;
		uintptr_t e = v->end < prefix ? v->end : prefix;
		for (uintptr_t x = s; x < e; x += VMS_PAGE_SIZE) {
			vms_pte_t *pt = vms_pte_lookup(&vms_mm.ptes, x);
			vec[(x - start) / VMS_PAGE_SIZE] =
				pt != NULL && (vms_pte_load(pt) & VMS_PTE_PRESENT);
		}
	}
	vms_map_write_unlock(&saved);
	if (vms_raw_failed(r)) {
		return (int)-r;
	}
	return prefix < end ? ENOMEM : 0;
}

/* A field of /proc/self/status ("VmLck", "CapEff") as a number in the
 * given base (10 or 16); -1 when it cannot be read. */
static long status_field(const char *name, unsigned base)
{
	char buf[4096];
	long fd = vms_raw_open("/proc/self/status", O_RDONLY | O_CLOEXEC, 0);
	if (vms_raw_failed(fd)) {
		return -1;
	}
	size_t n = 0;
	for (;;) {
		long r = vms_raw_read((int)fd, buf + n, sizeof buf - 1 - n);
		if (vms_raw_failed(r) || r == 0) {
			break;
		}
		n += (size_t)r;
		if (n == sizeof buf - 1) {
			break;
		}
	}
	vms_raw_close((int)fd);
	buf[n] = '\0';
	size_t k = 0;
	while (name[k] != '\0') {
		k++;
	}
	for (size_t i = 0; i + k < n; i++) {
		if ((i != 0 && buf[i - 1] != '\n') || buf[i + k] != ':') {
			continue;
		}
		size_t j = 0;
		while (j < k && buf[i + j] == name[j]) {
			j++;
		}
		if (j < k) {
			continue;
		}
		long v = 0;
		for (i += k + 1; buf[i] == ' ' || buf[i] == '\t'; i++) {
		}
		for (;; i++) {
			char c = buf[i];
			unsigned d = c >= '0' && c <= '9'		 ? (unsigned)(c - '0')
				     : base == 16 && c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
									   : base;
			if (d >= base) {
				break;
			}
			v = v * (long)base + (long)d;
		}
		return v;
	}
	return -1;
}

/* The kernel's count of locked memory (VmLck), in KiB; -1 if unknown. */
static long kernel_locked_kib(void)
{
	return status_field("VmLck", 10);
}

/*
 * Whether the kernel would let bytes more be locked for a new mapping
 * (mlock_future_ok): always with CAP_IPC_LOCK, else within RLIMIT_MEMLOCK.
 */
static bool may_lock_more(size_t bytes)
{
	long caps = status_field("CapEff", 16);
	if (caps >= 0 && (caps & (1L << 14 /* CAP_IPC_LOCK */))) {
		return true;
	}
	struct rlimit rl;
	long kib = kernel_locked_kib();
	if (vms_raw_failed(vms_raw_getrlimit(RLIMIT_MEMLOCK, &rl)) || rl.rlim_cur == RLIM_INFINITY ||
	    kib < 0) {
		return true;
	}
	return (uint64_t)kib * 1024 + bytes <= rl.rlim_cur;
}

/*
 * Makes [s, e) of v present as the kernel's mlock population does (also
 * when mprotect makes a locked private mapping writable): a
 * writable private mapping is populated for writing, so private file
 * pages become private copies there and then (later writes to the file no
 * longer show).  Pages the shim has present but with a lower kernel
 * protection (a move flattens shared mappings) get it back, or the
 * kernel's own population would fail on them.
 */
void vms_populate_for_lock(struct vms_vma *v, uintptr_t s, uintptr_t e)
{
	bool write = (v->prot & PROT_WRITE) != 0;
	vms_populate_locked(v, s, e, write);
	if (write && (v->flags & (VMS_VMA_FILE | VMS_VMA_SHARED)) == VMS_VMA_FILE) {
		vms_mark_written(v, s, e);
		vms_populate_kernel(s, e, true); /* errors are for MADV_POPULATE_* only */
	}
	vms_reprotect(v, s, e, NULL);
}

/* Whether every VMA of [start, end) is recorded locked already. */
static bool all_locked(uintptr_t start, uintptr_t end)
{
	for (struct vms_vma *v = vms_vma_first_in(&vms_mm.vmas, start, end);
	     v != NULL && v->start < end; v = vms_vma_next(v)) {
		if (!(v->flags & VMS_VMA_LOCKED)) {
			return false;
		}
	}
	return true;
}

/*
 * After a failed kernel mlock of [start, end): whether the kernel locked
 * the range anyway (its population failed after VM_LOCKED was set, see
 * above).  before is kernel_locked_kib() taken before the call.
 */
static bool locked_despite(long r, long before, uintptr_t start, uintptr_t end)
{
	if (r != -ENOMEM && r != -EAGAIN) {
		return false;
	}
	if (all_locked(start, end)) {
		/* Already locked, so not over the limit (the kernel counts
		 * only new pages): the new flags (MLOCK_ONFAULT or not) were
		 * set before the population failed. */
		return true;
	}
	long after = kernel_locked_kib();
	return before >= 0 && after > before;
}

#define LOCK_BITS (VMS_VMA_LOCKED | VMS_VMA_LOCKONFAULT)

/* Records the kernel's VM_LOCKED and VM_LOCKONFAULT on the VMAs of
 * [start, end): lock is 0 (unlocked), VMS_VMA_LOCKED, or both bits. */
static void set_locked(uintptr_t start, uintptr_t end, unsigned lock)
{
	if (vms_vma_clip(&vms_mm.vmas, start, end) != 0) {
		vms_fatal("no memory to record mlock on [%p, %p)", (void *)start, (void *)end);
	}
	long before = vms_kmaps_boundaries(start, end);
	for (struct vms_vma *v = vms_vma_first_in(&vms_mm.vmas, start, end);
	     v != NULL && v->start < end; v = vms_vma_next(v)) {
		if ((v->flags & LOCK_BITS) != lock) {
			v->flags = (v->flags & ~LOCK_BITS) | lock | VMS_VMA_MODIFIED;
		}
	}
	vms_kmaps_adjust(before, vms_kmaps_boundaries(start, end));
	struct vms_vma *v = vms_vma_first_in(&vms_mm.vmas, start, end);
	while (v != NULL && v->start <= end) {
		v = vms_vma_next(vms_vma_settle(v));
	}
	vms_vmas_gauge_sync();
}

int vm_mlock(const void *addr, size_t len, unsigned int flags, bool lock)
{
	uintptr_t start = (uintptr_t)addr;
	/* mlock rounds the address down: the range ends at the page end of
	 * start + len (start + page_up(len) may pass the arena's end). */
	if (vms_arena_where(vms_page_down(start), vms_page_up(start + len)) != VMS_INSIDE) {
		return VMS_PASSTHROUGH;
	}
	if (flags & ~(unsigned)MLOCK_ONFAULT) {
		return EINVAL;
	}
	uintptr_t end = vms_page_up(start + len);
	start = vms_page_down(start);
	if (end < start) {
		return EINVAL;
	}
	if (end == start) {
		return 0;
	}
	uint64_t saved;
	vms_map_write_lock(&saved);
	vms_anon_settle(start, end);
	uintptr_t prefix = vms_mapped_prefix_end(start, end);
	long r = 0;
	if (prefix > start) {
		if (lock && !(flags & MLOCK_ONFAULT)) {
			for (struct vms_vma *v = vms_vma_first_in(&vms_mm.vmas, start, prefix);
			     v != NULL && v->start < prefix; v = vms_vma_next(v)) {
				uintptr_t s = v->start > start ? v->start : start;
				uintptr_t e = v->end < prefix ? v->end : prefix;
				if (v->prot != PROT_NONE && !(v->flags & VMS_VMA_FOREIGN)) {
					vms_populate_for_lock(v, s, e);
				}
			}
		}
		long kib = lock && !(flags & MLOCK_ONFAULT) ? kernel_locked_kib() : -1;
		r = !lock ? vms_raw_munlock((void *)start, prefix - start)
		    : flags ? vms_raw_mlock2((void *)start, prefix - start, flags)
			    : vms_raw_mlock((void *)start, prefix - start);
		if (!vms_raw_failed(r) || (lock && locked_despite(r, kib, start, prefix))) {
			set_locked(start, prefix,
				   !lock ? 0
				   : (flags & MLOCK_ONFAULT) ? LOCK_BITS : VMS_VMA_LOCKED);
		}
	}
	vms_map_write_unlock(&saved);
	if (vms_raw_failed(r)) {
		return (int)-r;
	}
	return prefix < end ? ENOMEM : 0;
}

/*
 * mlockall: the kernel locks every mapping, the arena's reservation
 * included, whose size would then count against RLIMIT_MEMLOCK for every
 * later mlock.  So the reservation between the shim's VMAs is unlocked
 * again at once: the kernel's locked-memory count is what it would be
 * natively, and new arena mappings are locked one by one
 * (vm_lock_new_locked) while MCL_FUTURE is in force.
 */
int vm_mlockall(int flags)
{
	long r = vms_raw_mlockall(flags);
	if (vms_raw_failed(r) || vms_mm.base == 0) {
		return vms_raw_failed(r) ? (int)-r : 0;
	}
	uint64_t saved;
	vms_map_write_lock(&saved);
	vms_anon_settle_all();
	vms_mm.lock_future = (flags & MCL_FUTURE) ? (flags & (MCL_FUTURE | MCL_ONFAULT)) : 0;
	if (flags & MCL_CURRENT) {
		uintptr_t at = vms_mm.base;
		for (struct vms_vma *v = vms_vma_first(&vms_mm.vmas); at < vms_mm.end;
		     v = v != NULL ? vms_vma_next(v) : NULL) {
			uintptr_t gap_end = v != NULL ? v->start : vms_mm.end;
			if (gap_end > at) {
				vms_raw_munlock((void *)at, gap_end - at);
			}
			at = v != NULL ? v->end : vms_mm.end;
		}
		for (struct vms_vma *v = vms_vma_first(&vms_mm.vmas); v != NULL; v = vms_vma_next(v)) {
			/* A MAP_NORESERVE mapping is a sparse reservation (the
			 * allocator's regions are): populating it whole would
			 * exhaust memory, so only its present pages stay. */
			if (!(v->flags & (VMS_VMA_FOREIGN | VMS_VMA_NORESERVE)) &&
			    v->prot != PROT_NONE && !(flags & MCL_ONFAULT)) {
				vms_populate_for_lock(v, v->start, v->end);
			}
		}
		set_locked(vms_mm.base, vms_mm.end,
			   (flags & MCL_ONFAULT) ? LOCK_BITS : VMS_VMA_LOCKED);
	}
	vms_map_write_unlock(&saved);
	return 0;
}

int vm_munlockall(void)
{
	long r = vms_raw_munlockall();
	if (vms_raw_failed(r) || vms_mm.base == 0) {
		return vms_raw_failed(r) ? (int)-r : 0;
	}
	uint64_t saved;
	vms_map_write_lock(&saved);
	vms_anon_settle_all();
	vms_mm.lock_future = 0;
	set_locked(vms_mm.base, vms_mm.end, 0);
	vms_map_write_unlock(&saved);
	return 0;
}

void vms_unlock_range(uintptr_t start, uintptr_t end)
{
	vms_raw_munlock((void *)start, end - start);
	set_locked(start, end, 0);
}

void vms_mlock_fork_child(void)
{
	/* fork clears VM_LOCKED on each of the child's mappings without
	 * merging them: each stays apart from its neighbours (an mremap
	 * across them says EFAULT), which a fresh apart identity keeps so.
	 * The kernel-mapping count is unchanged: the kernel's mappings are. */
	vms_mm.lock_future = 0;
	for (struct vms_vma *v = vms_vma_first(&vms_mm.vmas); v != NULL; v = vms_vma_next(v)) {
		if (v->flags & VMS_VMA_LOCKED) {
			v->flags &= ~LOCK_BITS;
			v->apart = vms_mm.next_object_id++;
		}
	}
}

unsigned vms_new_lock_bits(bool map_locked)
{
	if (!map_locked && !vms_mm.lock_future) {
		return 0;
	}
	/* MCL_FUTURE|MCL_ONFAULT puts VM_LOCKONFAULT in every new mapping's
	 * flags, MAP_LOCKED or not (mm->def_flags). */
	return (vms_mm.lock_future & MCL_ONFAULT) ? LOCK_BITS : VMS_VMA_LOCKED;
}

int vm_lock_new_locked(uintptr_t start, uintptr_t end, bool map_locked)
{
	unsigned bits = vms_new_lock_bits(map_locked);
	if (bits == 0) {
		return 0;
	}
	if (vms_vma_clip(&vms_mm.vmas, start, end) != 0) {
		return ENOMEM;
	}
	struct vms_vma *v = vms_vma_find(&vms_mm.vmas, start);
	bool onfault = (bits & VMS_VMA_LOCKONFAULT) != 0;
	if (!onfault && v->prot != PROT_NONE) {
		vms_populate_for_lock(v, start, end);
	}
	long kib = onfault ? -1 : kernel_locked_kib();
	long r = onfault ? vms_raw_mlock2((void *)start, end - start, MLOCK_ONFAULT)
			 : vms_raw_mlock((void *)start, end - start);
	if (vms_raw_failed(r) && !locked_despite(r, kib, start, end)) {
		/* Linux checks RLIMIT_MEMLOCK before mapping (EAGAIN: the
		 * caller unmaps); past that check a mapping is locked whatever
		 * its population does (PROT_NONE, pages past the end of a file,
		 * which fail the shim's mlock with ENOMEM). */
		if ((r == -ENOMEM || r == -EAGAIN) && !may_lock_more(end - start)) {
			return EAGAIN;
		}
	}
	long before = vms_kmaps_boundaries(start, end);
	v->flags |= bits;
	vms_kmaps_adjust(before, vms_kmaps_boundaries(start, end));
	vms_vma_merge_new(&vms_mm.vmas, v); /* a new mapping, born locked */
	return 0;
}
