/*
 * util/trace.h - the event trace (VMSHIM_TRACE=FILE, vmshim --trace FILE).
 *
 * Owns: the trace file format and the emission of events into per-thread
 * buffers.  Disabled (the default), vms_trace_event costs one relaxed load
 * and a not-taken branch.  Enabled, an event is one clock read (vDSO), an
 * uncontended compare-and-swap on the calling thread's own buffer and a
 * 32-byte store into it: no lock, no malloc; a full buffer is written out with
 * one raw write(2) to the trace file (O_APPEND, so threads never
 * interleave inside a buffer).  Everything is async-signal-safe: the fault
 * handler emits events.
 *
 * File format (little-endian), stable; scripts/vmshim_trace.py reads it:
 *
 *   header, 64 bytes:
 *     char     magic[8]     "VMSTRACE"
 *     uint32   version      1
 *     uint32   record_size  32
 *     uint32   page_size    4096
 *     uint32   fault_around VMSHIM_FAULT_AROUND
 *     int64    pid
 *     uint64   start_ns     CLOCK_MONOTONIC when the trace began
 *     uint64   arena_start, arena_end   (0, 0: no arena)
 *     uint64   reserved
 *   then records, 32 bytes each, per thread in time order (threads'
 *   buffers are interleaved: sort by ns for a global order):
 *     uint64   ns      CLOCK_MONOTONIC nanoseconds
 *     uint64   addr    the page of the event (the faulting page; the first
 *                      page of a mapping or an allocation)
 *     uint64   aux     fault and eviction kinds: start of the VMA holding
 *                      addr (0 unknown); map, alloc: the caller's return
 *                      address; end: events dropped
 *     uint32   npages  pages the event covers (a fault: pages made present,
 *                      fault-around included); maps_text: bytes that follow
 *     uint16   kind    enum vms_trace_kind
 *     uint16   tid     low 16 bits of the thread id
 *   A maps_text record is followed by npages bytes of /proc/self/maps text
 *   (written at exit, to symbolise callers), padded to a multiple of 32.
 *   An end record closes a complete trace.
 *
 * Events of a thread interrupted inside vms_trace_event by a signal whose
 * handler emits too are dropped (counted in the end record).
 */
#ifndef VMS_UTIL_TRACE_H
#define VMS_UTIL_TRACE_H

#include <stdint.h>

/* Kinds; numbers are part of the file format. */
#define VMS_TRACE_KIND_LIST(X)                                            \
	X(ZERO_FILL, zero_fill, 1) X(FILE, file, 2) X(COW, cow, 3)            \
	X(SWAP_IN, swap_in, 4) X(MINOR, minor, 5) X(GENUINE, genuine, 6)      \
	X(READAHEAD_HIT, readahead_hit, 7)                                    \
	X(EVICT_ANON, evict_anon, 16) X(EVICT_FILE, evict_file, 17)           \
	X(EVICT_SWAPCACHE, evict_swapcache, 18)                               \
	X(EVICT_SHARED, evict_shared, 19) X(DEACTIVATE, deactivate, 20)       \
	X(SWAP_OUT, swap_out, 21) X(EVICT_FILE_DIRTY, evict_file_dirty, 22)   \
	X(MAP, map, 32) X(UNMAP, unmap, 33) X(ALLOC, alloc, 34)               \
	X(MAPS_TEXT, maps_text, 48) X(END, end, 49)

enum vms_trace_kind {
#define X(upper, lower, n) VMS_TRACE_##upper = n,
	VMS_TRACE_KIND_LIST(X)
#undef X
};

/* Allocations at least this large are traced with their call site. */
#define VMS_TRACE_ALLOC_MIN (64u << 10)

struct vms_trace_rec {
	uint64_t ns;
	uint64_t addr;
	uint64_t aux;
	uint32_t npages;
	uint16_t kind;
	uint16_t tid;
};

struct vms_trace_file_header {
	char magic[8];
	uint32_t version;
	uint32_t record_size;
	uint32_t page_size;
	uint32_t fault_around;
	int64_t pid;
	uint64_t start_ns;
	uint64_t arena_start, arena_end;
	uint64_t reserved;
};

/* Nonzero while a trace is being recorded. */
extern int vms_trace_enabled;

void vms_trace_emit(enum vms_trace_kind kind, uintptr_t addr, uint32_t npages, uint64_t aux);

/*
 * Records one event.  Fault kinds (but genuine) and eviction kinds look up
 * the VMA holding addr, so they must be emitted with the map lock held (in
 * either mode), as the fault path and reclaim hold it.
 */
static inline void vms_trace_event(enum vms_trace_kind kind, uintptr_t addr, uint32_t npages)
{
	if (__builtin_expect(__atomic_load_n(&vms_trace_enabled, __ATOMIC_RELAXED) != 0, 0)) {
		vms_trace_emit(kind, addr, npages, 0);
	}
}

/* A mapping or an allocation with its caller (attribution). */
static inline void vms_trace_caller(enum vms_trace_kind kind, uintptr_t addr, uint64_t bytes,
				    const void *caller)
{
	if (__builtin_expect(__atomic_load_n(&vms_trace_enabled, __ATOMIC_RELAXED) != 0, 0)) {
		uint64_t pages = (bytes + 4095) >> 12;
		vms_trace_emit(kind, addr, pages > UINT32_MAX ? UINT32_MAX : (uint32_t)pages,
			       (uint64_t)(uintptr_t)caller);
	}
}

/* Opens the trace VMSHIM_TRACE names (initialisation). */
void vms_trace_init(void);
/* Child after fork: drops the parent's buffered events, opens its own
 * file (the pattern with %p expanded, or FILE.PID without %p). */
void vms_trace_fork_child(void);
/* Flushes every buffer, appends the maps text and the end record. */
void vms_trace_exit(void);

#endif
