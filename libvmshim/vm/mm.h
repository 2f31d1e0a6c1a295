/*
 * vm/mm.h - the per-process VM state (the shim's mm_struct) and the
 * internal API of vm/.
 *
 * Glossary:
 *   arena   one large kernel reservation (PROT_NONE, MAP_NORESERVE) made at
 *           start; every mapping the shim serves lives inside it.  Requests
 *           it cannot serve pass through to the kernel (DESIGN invariant 2).
 *   VMA     a mapping as the program sees it (vm/vma.h).
 *   PTE     the shim's record of one arena page (vm/pte.h).
 *   present a page the kernel lets the program access with (at most) the
 *           VMA's protection; a page that is not present is PROT_NONE in the
 *           kernel, so the first touch traps into vm/fault.c.
 *   kernel mapping  a kernel VMA inside the arena; every protection
 *           boundary splits one.  The shim counts them (kmaps) to stay under
 *           vm.max_map_count.
 *
 * Locking (rank order: map lock > reclaim lock > kmaps lock > pool locks):
 *   map lock  readers-writer.  The fault handler takes it for reading;
 *             vm_mmap/munmap/mprotect/... take it for writing.  Writers
 *             block every signal while they hold it (vms_map_write_lock
 *             does it), and the fault handler runs with every signal
 *             blocked, so no thread ever waits on a lock it holds itself.
 *   PTE       changed with atomics; a fault claims a page by setting BUSY.
 *
 * Return convention of vm_* entry points: 0 or a positive errno, or
 * VMS_PASSTHROUGH when the request is not the shim's: the shim layer then
 * hands it to the kernel unchanged.
 */
#ifndef VMS_VM_MM_H
#define VMS_VM_MM_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vm/pte.h"
#include "vm/vma.h"

/* Linux values glibc's headers do not always name. */
#ifndef MAP_UNINITIALIZED
#define MAP_UNINITIALIZED 0x4000000
#endif
#ifndef PROT_SEM
#define PROT_SEM 0x8
#endif

#define VMS_PAGE_SIZE 4096UL
#define VMS_PAGE_SHIFT 12
#define VMS_PAGE_MASK (~(VMS_PAGE_SIZE - 1))
#define VMS_PASSTHROUGH (-1)
/* The top of the user address space with 4-level page tables (x86_64). */
#define VMS_TASK_SIZE 0x7ffffffff000UL

static inline uintptr_t vms_page_down(uintptr_t a) { return a & VMS_PAGE_MASK; }
static inline uintptr_t vms_page_up(uintptr_t a) { return (a + VMS_PAGE_SIZE - 1) & VMS_PAGE_MASK; }

struct vms_rwlock {
	int state;    /* readers count | VMS_RW_WRITER */
	int writers;  /* spinlock serialising writers */
};

struct vms_mm {
	uintptr_t base;             /* (c) arena start; 0 if no arena */
	uintptr_t end;              /* (c) arena end */
	struct vms_rwlock lock;
	struct vms_vma_set vmas;    /* (m) */
	struct vms_pte_table ptes;  /* see vm/pte.h */
	long kmaps;                 /* (a) kernel mappings inside the arena */
	long kmaps_budget;          /* (c) above it, faults widen their blocks */
	unsigned fault_around;      /* (c) pages per fault block (power of two) */
	uint64_t next_object_id;    /* (m) identity of shared mappings */
	int lock_future;            /* (m) mlockall(MCL_FUTURE) in force: MCL_FUTURE,
				     * with MCL_ONFAULT if asked; else 0 */
	int hugepage_advice;        /* (a) MADV_HUGEPAGE or MADV_NOHUGEPAGE over the
				     * whole arena; 0 if the kernel has no THP */
	long owner_pid;             /* the process whose address space this is (set at
				     * start and in a fork child): a vfork child shares
				     * it and must not end it as its own */
};

extern struct vms_mm vms_mm;

/*
 * The resident limit of the arena in pages, 0 for none (VMSHIM_MEM_LIMIT).
 * Reclaim reads *vms_limit_word (relaxed atomic) each time pages are
 * charged, so pointing it at a word in shared memory lets another process
 * change a running process's limit.  Set up by vms_mm_init.
 */
extern uint64_t *vms_limit_word;

/*
 * The kernel protection a present page of v gets: the VMA's, except that
 *  - an inactive page (not ACCESSED: deactivated by reclaim, or read ahead
 *    of a swap-in) gets none, so that its next touch traps (vm/reclaim.c);
 *  - a file page stays write-protected until it is written (DIRTY), so
 *    that the first write traps: a shared page becomes dirty, a private
 *    page is copied (a COW fault);
 *  - a page shared with another process since fork (COW) stays
 *    write-protected until its first write (vm/fork.c);
 *  - a page with a copy in swap (SWAPCACHE) stays write-protected until
 *    its first write, which frees the copy.
 */
static inline int vms_hw_prot(const struct vms_vma *v, vms_pte_t pte)
{
	int prot = v->prot & (int)VMS_PTE_PROT_MASK;
	if (!(pte & VMS_PTE_ACCESSED)) {
		return 0;
	}
	if ((prot & 0x2) &&
	    (((v->flags & VMS_VMA_FILE) && !(pte & VMS_PTE_DIRTY)) ||
	     (pte & (VMS_PTE_COW | VMS_PTE_SWAPCACHE)))) {
		/* Without PROT_WRITE; a write-only page is readable (x86, arm64
		 * page tables), so it stays readable. */
		prot = (prot & ~0x2) | 0x1;
	}
	return prot;
}

/* Whether the kernel mapping under v is an object of its own (shared
 * memory, a file, a foreign mapping) rather than the arena's private
 * anonymous memory: such mappings move and grow with the kernel's mremap. */
static inline bool vms_vma_has_object(const struct vms_vma *v)
{
	return (v->flags & (VMS_VMA_SHARED | VMS_VMA_FILE | VMS_VMA_FOREIGN)) != 0;
}

/* Merges v once a call has gone over it: as Linux's vma_modify if the
 * call changed it (VMS_VMA_MODIFIED, cleared here), else only back where
 * the call's clip split it (Linux neither splits nor merges a mapping a
 * call leaves as it was).  Returns the VMA now covering v. */
static inline struct vms_vma *vms_vma_settle(struct vms_vma *v)
{
	if (v->flags & VMS_VMA_MODIFIED) {
		v->flags &= ~VMS_VMA_MODIFIED;
		return vms_vma_merge_changed(&vms_mm.vmas, v, vms_mm.next_object_id++);
	}
	return vms_vma_merge(&vms_mm.vmas, v);
}

/* vm/arena.c */
/* Reserves the arena and builds the tables; failures leave the shim in
 * pure pass-through mode (and say so at VMSHIM_LOG=info). */
void vms_mm_init(void);
static inline bool vms_in_arena(uintptr_t a)
{
	return a >= vms_mm.base && a < vms_mm.end;
}
/* Where [start, end) lies: wholly inside the arena, wholly outside, or across. */
enum vms_where { VMS_OUTSIDE, VMS_INSIDE, VMS_ACROSS };
enum vms_where vms_arena_where(uintptr_t start, uintptr_t end);
/* Kernel-mapping accounting: count protection boundaries in [start, end]
 * before and after a change; vms_kmaps_adjust adds the difference. */
long vms_kmaps_boundaries(uintptr_t start, uintptr_t end);
void vms_kmaps_adjust(long before, long after);
/* Held from vms_kmaps_boundaries before a protection change to
 * vms_kmaps_adjust after it by the paths that run under the map lock's
 * read side (faults, reclaim), so that the count sees changes one at a
 * time.  A spinlock: signals blocked, never held across anything that
 * waits.  Rank: below the reclaim lock, above the pool locks. */
void vms_kmaps_lock(void);
void vms_kmaps_unlock(void);
/* Sets the count from /proc/self/maps (see arena.c: concurrent changes can
 * make the computed count drift). */
void vms_kmaps_resync(void);
/* Makes [start, end) a plain reservation again (PROT_NONE, private, no
 * contents) with a fresh kernel mapping: for ranges that were shared or
 * left empty by mremap.  0 or errno. */
int vms_arena_reserve(uintptr_t start, uintptr_t end);
/* The same for private memory, keeping the arena's anon_vma so that the
 * kernel keeps merging neighbours (see arena.c).  0 or errno. */
int vms_arena_discard(uintptr_t start, uintptr_t end);
/* Turns huge pages off for the whole arena, once (see arena.c). */
void vms_arena_hugepages_off(void);
/* Whether private anonymous memory in [start, end) holds a page the program
 * wrote (so Linux gave its mapping an anon_vma): a dirty or COW PTE, or a
 * present page the kernel maps as a page of its own rather than the zero
 * page (/proc/self/pagemap).  Not for the fault path. */
bool vms_anon_written(uintptr_t start, uintptr_t end);
/* Gives the private mappings of [start, end) and the two next to it that
 * were written since the last call the anon_vma identity Linux gave them
 * at their first write (vms_vma.anon).  Every call that changes mappings
 * does this first, under the map lock for writing: between two such calls
 * no mapping changes, so what a first write would have found next to it
 * is what is there now. */
void vms_anon_settle(uintptr_t start, uintptr_t end);
void vms_anon_settle_all(void);
/* Present and dirty pages in [start, end). */
size_t vms_dirty_pages(uintptr_t start, uintptr_t end);
/*
 * Gives the present pages of [start, end) inside v the kernel protection
 * vms_hw_prot says they should have after change (NULL: no change to the
 * PTE; for instance after v->prot changed), one mprotect per run of pages
 * whose protection changes; the kernel-mapping count follows.  Returns how
 * many PTEs change altered.  Map lock held for writing.  Not for the fault
 * path, which works on the pages it claimed.
 */
size_t vms_reprotect(struct vms_vma *v, uintptr_t start, uintptr_t end,
		     vms_pte_t (*change)(vms_pte_t));
/* Sets the statistics' VMA gauge to the set's size.  Map lock held for writing. */
void vms_vmas_gauge_sync(void);
/* The end of the part of [start, end) that VMAs cover without a hole from
 * start: end itself when there is no hole.  Map lock held. */
uintptr_t vms_mapped_prefix_end(uintptr_t start, uintptr_t end);

/* vm/lock.c */
void vms_map_read_lock(void);
void vms_map_read_unlock(void);
/* Blocks every signal, saving the old mask in *saved, then locks. */
void vms_map_write_lock(uint64_t *saved);
void vms_map_write_unlock(const uint64_t *saved);

/* vm/mmap.c */
/* The return address of the program's mmap call in progress on this
 * thread (shim/interpose.c sets it around vm_mmap; 0 otherwise): recorded
 * in the new VMA for the maps view. */
extern __thread uintptr_t vms_mmap_caller __attribute__((tls_model("initial-exec")));
int vm_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off, void **out);
/* vm/munmap.c; vm_unmap_locked is also used by MAP_FIXED and mremap. */
int vm_munmap(void *addr, size_t len);
int vm_unmap_locked(uintptr_t start, uintptr_t end);
/* Drops the VMAs and PTEs of [start, end) without touching the kernel,
 * which has already replaced that range (foreign MAP_FIXED, mremap). */
void vm_forget_locked(uintptr_t start, uintptr_t end);
/* vm/mprotect.c */
int vm_mprotect(void *addr, size_t len, int prot);
/* vm/madvise.c */
int vm_madvise(void *addr, size_t len, int advice);
/* vm/guard.c: guard regions (MADV_GUARD_INSTALL/REMOVE, Linux 6.13+). */
#define VMS_MADV_GUARD_INSTALL 102
#define VMS_MADV_GUARD_REMOVE 103
/* What vm/madvise.c does to one piece [s, e) of a VMA. */
typedef int (*vms_advise_fn)(struct vms_vma *v, uintptr_t s, uintptr_t e, int advice);
/* Applies advice to the piece [s, e) of v through piece, as Linux does with
 * guard pages in it: installs and removes guards, keeps them through
 * DONTNEED/FREE, stops population at them.  0 or errno.  Map lock held
 * for writing. */
int vms_guard_advise(struct vms_vma *v, uintptr_t s, uintptr_t e, int advice,
		     vms_advise_fn piece);
/* In a forked child: MADV_WIPEONFORK mappings lose their guards. */
void vms_guard_fork_child(void);
/* vm/stack.c: MAP_GROWSDOWN mappings in the arena. */
/* After a fault at addr found no VMA: grows the growing-down foreign
 * mapping just above addr as Linux would; true if the access should be
 * retried.  Async-signal-safe; takes the map lock for writing. */
bool vms_stack_grow(uintptr_t addr);
/* Whether the kernel mapping starting at start is VM_GROWSDOWN
 * (/proc/self/smaps).  Not for the fault handler. */
bool vms_kernel_growsdown(uintptr_t start);
/* vm/mremap.c */
int vm_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr, void **out);
/* vm/brk.c: the emulated break; returns the new break, or the current one
 * when the request fails (Linux's brk(2) convention).  Needs an arena. */
uintptr_t vm_brk(uintptr_t want);

/* vm/range.c: msync, mincore and the mlock family on arena ranges. */
int vm_msync(void *addr, size_t len, int flags);
int vm_mincore(void *addr, size_t len, unsigned char *vec);
/* lock: mlock/mlock2 (flags: MLOCK_ONFAULT) or munlock (flags 0). */
int vm_mlock(const void *addr, size_t len, unsigned int flags, bool lock);
/* mlockall and munlockall: the kernel's, plus the shim's own view (pages
 * made present, VMAs marked locked, MCL_FUTURE remembered).  0 or errno. */
int vm_mlockall(int flags);
int vm_munlockall(void);
/* Locks a new mapping [start, end) when MAP_LOCKED asks or MCL_FUTURE is
 * in force.  0 (locked, as on Linux, even when populating it fails), EAGAIN
 * over RLIMIT_MEMLOCK (Linux's mmap checks it first: the caller unmaps),
 * or ENOMEM for metadata.  Map lock held for writing. */
int vm_lock_new_locked(uintptr_t start, uintptr_t end, bool map_locked);
/* The lock flags a new mapping is born with (MAP_LOCKED, MCL_FUTURE and
 * MCL_ONFAULT in force), 0 if none: set before it merges with anything. */
unsigned vms_new_lock_bits(bool map_locked);
/* Unlocks [start, end), kernel and table (merging as munlock does).  Map
 * lock held for writing. */
void vms_unlock_range(uintptr_t start, uintptr_t end);
/* Makes [s, e) of v present as the kernel's population of locked memory
 * does (writable private file pages copied there and then).  Map lock held
 * for writing. */
void vms_populate_for_lock(struct vms_vma *v, uintptr_t s, uintptr_t e);
/* In a forked child: memory locks and MCL_FUTURE are not inherited
 * (fork(2)), so every VMA is recorded unlocked.  Called by vms_fork_child. */
void vms_mlock_fork_child(void);

/* vm/pin.c: see there. */
/* Pins [addr, addr + len) against reclaim for one system call; returns
 * the token for vms_pin_end (-1: not pinned, table full or no arena).
 * Call before vms_prefault. */
int vms_pin_begin(uintptr_t addr, size_t len);
void vms_pin_end(int token);
/* Whether a pin intersects [start, end) (reclaim, after claiming). */
bool vms_pinned(uintptr_t start, uintptr_t end);

/* vm/maps.c: writes the maps view VMSHIM_MAPS_FILE and VMSHIM_MAPS ask for. */
void vms_maps_report_at_exit(void);
/* From the fault signal handler: if si is a request of `vmshim maps` or
 * `vmshim limit` (util/live.h), writes the view to DIR/PID.maps or
 * reclaims down to the limit, and returns true (the signal is consumed);
 * else false.  Async-signal-safe. */
bool vms_live_serve_request(const siginfo_t *si);

/* vm/fork.c: pthread_atfork handlers. */
void vms_fork_prepare(void);
void vms_fork_parent(void);
void vms_fork_child(void);

/* vm/fault.c */
enum vms_access { VMS_ACCESS_READ, VMS_ACCESS_WRITE, VMS_ACCESS_EXEC, VMS_ACCESS_UNKNOWN };
enum vms_fault_result {
	VMS_FAULT_RESOLVED,  /* retry the access */
	VMS_FAULT_MAPERR,    /* genuine: no mapping (SEGV_MAPERR) */
	VMS_FAULT_ACCERR,    /* genuine: protection (SEGV_ACCERR) */
	VMS_FAULT_NOT_OURS,  /* outside the arena */
	VMS_FAULT_HWPOISON,  /* the page's contents are lost for now (a failed
			      * swap read): SIGBUS, BUS_MCEERR_AR, like a
			      * memory error */
};
/* Resolves a fault at addr; async-signal-safe, takes the map lock for reading. */
enum vms_fault_result vms_fault(uintptr_t addr, enum vms_access access);
#ifdef VMS_TEST_HOOKS
/* Tests only (built with -DVMS_TEST_HOOKS): called as a fault that saw a
 * present page starts to raise its protection, with the map lock held for
 * reading, to run there what another thread could (an eviction). */
extern void (*vms_test_upgrade_hook)(struct vms_vma *vma, uintptr_t page);
#endif
/*
 * Makes the arena pages of [addr, addr + len) allow access before a system
 * call hands them to the kernel, which does not fault into the shim (it
 * returns EFAULT).  Pages the program may not access are left alone, so the
 * kernel still answers EFAULT where it would natively.  Not for the fault
 * handler; may be called from any thread.
 */
void vms_prefault(uintptr_t addr, size_t len, enum vms_access access);
/* Makes [start, end) of vma present and accessible now (MAP_POPULATE,
 * MADV_POPULATE_*, mlock): pages in swap come back, pages reclaim made
 * inaccessible are activated.  Map lock held for writing.  0, or the
 * errno of the population (EFAULT past the end of a file), which only
 * MADV_POPULATE_* reports. */
int vms_populate_locked(struct vms_vma *vma, uintptr_t start, uintptr_t end, bool write);
/* Marks the present pages of [start, end) of a file mapping written, as
 * the kernel's write faults of a population do: dirty (MAP_SHARED) or
 * copied (MAP_PRIVATE: later writes to the file no longer show).  Map lock
 * held for writing. */
void vms_mark_written(struct vms_vma *vma, uintptr_t start, uintptr_t end);
/* Has the kernel populate [start, end) of a mapping with an object (file,
 * shared memory) whose pages the shim made present: private file pages
 * marked written are copied there and then; the answer is the kernel's
 * (EFAULT past the end of the object), or 0. */
int vms_populate_kernel(uintptr_t start, uintptr_t end, bool write);

/* vm/reclaim.c: the resident limit (see there).  Map lock held (either
 * mode), every signal blocked. */
/* Charges n pages about to become present, reclaiming first when the
 * limit needs it (never fails: an overshoot is counted). */
void vms_mem_charge(size_t n);
void vms_mem_uncharge(size_t n);
/* The largest power of two <= w that fits the limit's fault blocks. */
unsigned vms_mem_window_cap(unsigned w);
/* A fault on a SWAPPED page (pte as loaded from pt). */
enum vms_fault_result vms_swap_in(struct vms_vma *v, uintptr_t page, vms_pte_t *pt, vms_pte_t pte,
				  enum vms_access access);
/* MADV_PAGEOUT (cold false) or MADV_COLD on [s, e) of v: 0 or EINVAL
 * (locked mappings, as Linux). */
int vms_pageout_range(struct vms_vma *v, uintptr_t s, uintptr_t e, bool cold);
/* MADV_WILLNEED: swaps in the swapped pages of [s, e) of v. */
void vms_willneed_range(struct vms_vma *v, uintptr_t s, uintptr_t e);
/* The pages of [s, e) are gone for good (unmap, discard, a child's
 * DONTFORK or WIPEONFORK range): uncharges the present ones, drops their
 * swap references and releases the PTEs.  Map lock held for writing. */
void vms_pages_release(uintptr_t s, uintptr_t e);
/* Before fork: one more reference on every swap slot the child inherits. */
void vms_swap_fork_ref(void);
/* At _exit: drops this process's swap references so that the processes
 * it shared them with can reuse the slots at once (those of a process
 * that ends otherwise are reaped later: vm/swap.c).  Takes the map lock
 * for writing and keeps it: call it last, just before the process ends. */
void vms_swap_release_all(void);

#endif
