/*
 * util/stats.h - counters kept with relaxed atomics, reported at exit.
 *
 * Owns: the counter set and its two renderings, the human table
 * (VMSHIM_STATS=1) and the JSON document (VMSHIM_STATS_FILE), whose shape
 * is a documented, stable interface (README, vmshim(7)):
 *
 *   {"version": 1, "pid": N, "calls": {"mmap": N, ... one per interposed call},
 *    "faults": {"zero_fill": N, "file": N, "cow": N, "swap_in": N, "genuine": N,
 *               "minor": N},
 *    "swap": {"out_pages": N, "in_pages": N, "slots_peak": N, "slots": N,
 *             "clusters_out": N, "clusters_in": N, "readahead_pages": N,
 *             "readahead_hits": N, "write_errors": N, "read_errors": N,
 *             "overshoot_pages": N, "reaped_refs": N},
 *    "evictions": {"anon": N, "swapcache": N, "file_clean": N, "file_dirty": N,
 *                  "shared": N, "deactivated": N},
 *    "resident": {"pages": N, "peak_pages": N, "limit_pages": N},
 *    "vmas": {"count": N, "peak": N},
 *    "kernel": {"mappings": N, "mappings_peak": N},
 *    "file": {"dirty_pages": N, "dirty_peak": N, "written_back_pages": N},
 *    "arena": {"start": N, "end": N},
 *    "kernel_io": {"efault_retries": N, "efault_returned": N},
 *    "alloc": {"blocks": N, "bytes": N, ... , "classes": {"16": N, ...}}}
 *
 * New keys may be added; existing ones keep their meaning.  Updating a
 * counter is async-signal-safe.
 */
#ifndef VMS_UTIL_STATS_H
#define VMS_UTIL_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "util/options.h"
#include "util/trace.h" /* the trace hooks sit next to the counters */

/* Every interposed call, in report order. */
#define VMS_CALL_LIST(X)                                                      \
	X(mmap) X(mmap64) X(munmap) X(mremap) X(mprotect) X(msync) X(madvise) \
	X(posix_madvise) X(brk) X(sbrk) X(fork) X(mlock) X(mlock2)            \
	X(munlock) X(mlockall) X(munlockall) X(mincore)                        \
	X(malloc) X(free) X(calloc) X(realloc) X(reallocarray) X(memalign)    \
	X(posix_memalign) X(aligned_alloc) X(valloc) X(pvalloc)               \
	X(malloc_usable_size)

/* minor: a present page reclaim had deactivated (made inaccessible to see
 * whether it is still used) was touched again. */
#define VMS_FAULT_LIST(X) X(zero_fill) X(file) X(cow) X(swap_in) X(genuine) X(minor)

/* Evictions by kind, in report order: anonymous or private-dirty pages
 * written to swap; pages dropped because an identical copy is in swap
 * (swap cache); clean file pages dropped; dirty shared file pages written
 * back to their file and dropped; shared anonymous pages dropped (the shared
 * object keeps them); pages deactivated (made inaccessible: second chance). */
#define VMS_EVICT_LIST(X) X(anon) X(swapcache) X(file_clean) X(file_dirty) X(shared) X(deactivated)

enum vms_call_id {
#define X(name) VMS_CALL_##name,
	VMS_CALL_LIST(X)
#undef X
	VMS_CALL_COUNT
};

enum vms_fault_id {
#define X(name) VMS_FAULT_##name,
	VMS_FAULT_LIST(X)
#undef X
	VMS_FAULT_COUNT
};

enum vms_evict_id {
#define X(name) VMS_EVICT_##name,
	VMS_EVICT_LIST(X)
#undef X
	VMS_EVICT_COUNT
};

/* A level with its high-water mark. */
struct vms_gauge {
	int64_t now;
	int64_t peak;
};

/*
 * Page aligned and a whole number of pages: util/live.c maps the shared
 * segment over it, so that the counters the fault handler updates are
 * the ones other processes read, at no cost to the fault path.
 */
struct __attribute__((aligned(4096))) vms_stats {
	uint64_t calls[VMS_CALL_COUNT];
	uint64_t faults[VMS_FAULT_COUNT];
	uint64_t evictions[VMS_EVICT_COUNT];
	uint64_t swap_out_pages;
	uint64_t swap_in_pages;
	uint64_t swap_clusters_out;      /* vectored writes to the swap file */
	uint64_t swap_clusters_in;       /* reads from the swap file */
	uint64_t swap_readahead_pages;   /* pages read ahead of a swap-in fault */
	uint64_t swap_readahead_hits;    /* ... of which the program touched */
	uint64_t swap_write_errors;      /* failed or short swap writes (pages kept) */
	uint64_t swap_read_errors;       /* failed swap reads (SIGBUS for the access) */
	uint64_t overshoot_pages;        /* pages filled above the limit: nothing evictable */
	struct vms_gauge swap_slots;
	struct vms_gauge resident_pages;
	uint64_t limit_pages;            /* (a) the limit reclaim reads (vms_limit_word
					  * points here), writable by `vmshim limit` */
	struct vms_gauge vmas;
	struct vms_gauge kernel_mappings;
	struct vms_gauge file_dirty;     /* shared file pages written, not yet synced */
	uint64_t written_back_pages;     /* dirty shared file pages handed back */
	uint64_t arena_start, arena_end;  /* 0, 0 when there is no arena */
	uint64_t efault_retries;         /* wrapped calls retried after EFAULT (shim/kernel_io.c) */
	uint64_t efault_returned;        /* EFAULTs on arena memory returned to the program */
	uint64_t swap_reaped_refs;       /* swap references of ended processes this one dropped */
};

extern struct vms_stats vms_stats;

static inline void vms_count_call(enum vms_call_id id)
{
	__atomic_fetch_add(&vms_stats.calls[id], 1, __ATOMIC_RELAXED);
}

static inline void vms_count_fault(enum vms_fault_id id)
{
	__atomic_fetch_add(&vms_stats.faults[id], 1, __ATOMIC_RELAXED);
}

static inline void vms_count_evict(enum vms_evict_id id, uint64_t n)
{
	__atomic_fetch_add(&vms_stats.evictions[id], n, __ATOMIC_RELAXED);
}

static inline void vms_count_add(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

/*
 * Hooks the allocator sets when it starts (util/ does not depend on
 * alloc/): collect folds its per-thread call counters into vms_stats
 * before a rendering; alloc_json renders its members ("alloc": {...}) for
 * the JSON document.  NULL until then.
 */
extern void (*vms_stats_collect_hook)(void);
extern size_t (*vms_stats_alloc_json_hook)(char *buf, size_t cap);

/* Adds delta to a gauge and raises its peak when exceeded. */
void vms_gauge_add(struct vms_gauge *g, int64_t delta);
int64_t vms_gauge_now(const struct vms_gauge *g);

/* Zeroes the event counters (calls, faults, swap traffic); gauges stay. */
void vms_stats_reset_events(void);

const char *vms_call_name(enum vms_call_id id);
const char *vms_fault_name(enum vms_fault_id id);
const char *vms_evict_name(enum vms_evict_id id);

/* Renderings; each returns the length written into buf (truncated). */
size_t vms_stats_format_json(char *buf, size_t cap);
size_t vms_stats_format_table(char *buf, size_t cap, const char *title);
/* The same for another copy of the counters (`vmshim stat PID`): no
 * collection, no allocator section. */
size_t vms_stats_format_json_of(const struct vms_stats *st, long pid, char *buf, size_t cap);
size_t vms_stats_format_table_of(const struct vms_stats *st, long pid, const char *title,
				 char *buf, size_t cap);
/* The descriptor the table goes to: a private duplicate of stderr when
 * VMSHIM_STATS or VMSHIM_MAPS asks for output there, else 2. */
int vms_stats_table_fd(void);

/* Keeps a private duplicate of stderr for the table (programs such as
 * coreutils close stderr before they exit).  Call once options are loaded. */
void vms_stats_init(void);
/* Writes the exit reports VMSHIM_STATS and VMSHIM_STATS_FILE ask for
 * (shim/init.c calls it once per process). */
void vms_stats_report_at_exit(void);

/* The file an exit report goes to (VMSHIM_STATS_FILE, VMSHIM_MAPS_FILE):
 * the option's path with %p expanded, opened for writing; -1 when the
 * option is unset or the file cannot be opened (said on stderr). */
int vms_report_open(enum vms_option_id id);
/* Closes it, saying on stderr if writing it failed (written < 0). */
void vms_report_close(int fd, long written);

/* Expands %p in pattern to pid (%% to %); 0 on success, -1 if too long. */
int vms_stats_expand_path(const char *pattern, long pid, char *out, size_t cap);

#endif
