/*
 * util/inject.h - fault injection (VMSHIM_FAULT_INJECT), for testing what
 * the shim does when the kernel or the disk refuses it something.
 *
 * Owns: the parsed injection rules and one call counter per kind.  Hooks
 * sit at the call sites (one line each): the swap file's pwrite and pread
 * (vm/swap.c), metadata allocation (os/pool.c), the kernel mmap of a new
 * shared or file mapping and of the arena (vm/mmap.c, vm/arena.c), and the
 * mprotect that makes faulted pages present and the arena's first one
 * (vm/fault.c, vm/arena.c).
 *
 * Form: KIND:WHEN[,KIND:WHEN...], WHEN one of
 *   N    the N-th call of that kind fails, once (N >= 1)
 *   N+   the N-th call and every later one fail (a device that died)
 *   %N   every N-th call fails (N >= 1)
 * KIND one of swap-write (pwrite fails with EIO), swap-short (pwrite
 * writes half of what it was asked, in whole pages; only writes of two
 * pages or more are counted), swap-enospc
 * (pwrite fails with ENOSPC), swap-read (pread fails with EIO), mmap and
 * mprotect (the kernel call fails with ENOMEM), pool (a metadata object
 * cannot be allocated: ENOMEM).  Calls are counted per process from its
 * start (a forked child continues its parent's counts).
 *
 * Invariants: async-signal-safe (atomics only, no allocation, no lock);
 * with no rule set, every hook costs one relaxed load.
 */
#ifndef VMS_UTIL_INJECT_H
#define VMS_UTIL_INJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum vms_inject_kind {
	VMS_INJ_SWAP_WRITE,
	VMS_INJ_SWAP_SHORT,
	VMS_INJ_SWAP_ENOSPC,
	VMS_INJ_SWAP_READ,
	VMS_INJ_MMAP,
	VMS_INJ_MPROTECT,
	VMS_INJ_POOL,
	VMS_INJ_COUNT
};

#define VMS_INJECT_FORM \
	"KIND:N, KIND:N+ or KIND:%N, comma-separated, KIND one of swap-write, swap-short, " \
	"swap-enospc, swap-read, mmap, mprotect, pool"

/* Parses text; 0 when valid (and, if apply, arms the rules), -1 if not. */
int vms_inject_parse(const char *text, bool apply);
/* Disarms every rule (vmshim_fault_inject(NULL)). */
void vms_inject_disarm(void);
/* Counts one call of kind k; true when it must fail. */
bool vms_inject_fail(enum vms_inject_kind k);
/* Calls of kind k failed so far (tests). */
unsigned long vms_inject_failed(enum vms_inject_kind k);

/* The hooked calls: the raw call, or the injected failure. */
long vms_inject_pwrite(int fd, const void *buf, size_t n, off_t off);
long vms_inject_pread(int fd, void *buf, size_t n, off_t off);
long vms_inject_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
long vms_inject_mprotect(void *addr, size_t len, int prot);

#endif
