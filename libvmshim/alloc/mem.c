/*
 * alloc/mem.c - where the allocator's memory comes from.
 *
 * Owns: every request the allocator makes for memory.  Inside the arena
 * they go through the internal VM API (vm_mmap, vm_munmap, vm_madvise,
 * vm_mremap), never through the interposed symbols; when the arena is
 * unavailable (no arena, arena full: VMS_PASSTHROUGH) they go to the kernel
 * through os/raw.h, so the program still runs.  Takes no lock of its own;
 * callers hold none of the allocator's locks across these calls, so the
 * VM's map lock never nests inside an allocator lock.
 *
 * Populate policy.  A system call writing into an arena page never touched
 * fails with EFAULT instead of faulting.  The wrapped calls make their
 * buffers present (shim/kernel_io.c) and libc's own allocations come from
 * the pinned heap (alloc/pinned.c, the kernel's memory); with those two alone
 * every program of the issue-9 runs (tests/vm/vm_kaccess, python3, gcc,
 * sqlite3, git, tar, xz, perl, coreutils) ran without one EFAULT.  Ordinary
 * memory is still populated when committed (spans) or mapped (big blocks),
 * per kind (vms_mem_populate_ordinary, VMS_POPULATE_ORDINARY at build
 * time), because the calls no wrapper covers (ioctl, raw syscall(2),
 * io_uring, AIO, recvmmsg) are exactly those given large fresh buffers.
 * The cost (README, "Populate policy"): nothing measurable for small
 * blocks; for blocks of 256 KiB and more grown with realloc, 1.5x the CPU
 * time and 1.3x the peak RSS of not populating them.  It guards only
 * memory never touched: under a resident limit reclaim may take any
 * ordinary page, and only the wrappers and the pinned heap protect
 * kernel-side accesses then.
 * Big mappings are populated up to their first POPULATE_MAX bytes only;
 * past that, pages fault in on first touch as natively: programs size
 * huge buffers from the machine's memory and use a fraction (sort mallocs
 * 13 GiB on a 24 GiB machine to sort a 200 MiB file and touches 460 MiB
 * of it), and populating them whole made the process that much resident.
 * Memory outside the arena is the kernel's and needs none of this.
 */
#include "config.h"
#include "alloc/internal.h"

#include <errno.h>
#include <sys/mman.h>

#include "os/raw.h"
#include "vm/mm.h"

#define PAGE VMS_PAGE_SIZE
/* Bytes of a big mapping populated when it is made or grown (interim). */
#define POPULATE_MAX ((size_t)64 << 20)

struct vms_mem_counts vms_mem_counts;

static void count(uint64_t *calls, uint64_t *bytes, size_t len)
{
	__atomic_fetch_add(calls, 1, __ATOMIC_RELAXED);
	if (bytes != NULL) {
		__atomic_fetch_add(bytes, len, __ATOMIC_RELAXED);
	}
}

static bool arena_ready(void)
{
	return __atomic_load_n(&vms_mm.base, __ATOMIC_RELAXED) != 0;
}

/* Unmaps [a, b) wherever it lives. */
static void unmap_range(uintptr_t a, uintptr_t b, bool raw)
{
	if (a >= b) {
		return;
	}
	if (!raw) {
		int r = vm_munmap((void *)a, b - a);
		if (r != VMS_PASSTHROUGH) {
			return;
		}
	}
	vms_raw_munmap((void *)a, b - a);
}

/* Maps len bytes aligned to align (a power of two >= PAGE) without
 * populating; 0 and *out, or an errno.  *raw tells where it went; with
 * kernel_only, always the kernel's memory. */
static int map_aligned(size_t len, size_t align, int extra_flags, bool kernel_only, uintptr_t *out,
		       bool *raw)
{
	size_t want = len + (align > PAGE ? align - PAGE : 0);
	if (want < len) {
		return ENOMEM;
	}
	uintptr_t at = 0;
	*raw = true;
	if (arena_ready() && !kernel_only) {
		void *p;
		int r = vm_mmap(NULL, want, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | extra_flags, -1, 0, &p);
		if (r == 0) {
			at = (uintptr_t)p;
			*raw = false;
		} else if (r != VMS_PASSTHROUGH) {
			return r;
		}
	}
	if (*raw) {
		long r = vms_raw_mmap(NULL, want, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS | extra_flags, -1, 0);
		if (vms_raw_failed(r)) {
			return (int)-r;
		}
		at = (uintptr_t)r;
	}
	uintptr_t aligned = (at + align - 1) & ~(uintptr_t)(align - 1);
	unmap_range(at, aligned, *raw);
	unmap_range(aligned + len, at + want, *raw);
	*out = aligned;
	return 0;
}

uintptr_t vms_mem_reserve_region(size_t size, bool kernel_only, bool *raw)
{
	uintptr_t at;
	if (map_aligned(size, VMS_REGION_GRAIN, MAP_NORESERVE, kernel_only, &at, raw) != 0) {
		return 0;
	}
	return at;
}

int vms_mem_commit(uintptr_t p, size_t len, bool raw, bool populate)
{
	if (raw || len == 0 || !populate) {
		return 0; /* filled on first touch: the kernel's pages, or the VM's */
	}
	count(&vms_mem_counts.commits, &vms_mem_counts.commit_bytes, len);
	int r = vm_madvise((void *)p, len, MADV_POPULATE_WRITE);
	return r == VMS_PASSTHROUGH ? 0 : r;
}

void vms_mem_decommit(uintptr_t p, size_t len, bool raw)
{
	if (len == 0) {
		return;
	}
	count(&vms_mem_counts.decommits, &vms_mem_counts.decommit_bytes, len);
	if (!raw) {
		int r = vm_madvise((void *)p, len, MADV_DONTNEED);
		if (r != VMS_PASSTHROUGH) {
			return;
		}
	}
	vms_raw_madvise((void *)p, len, MADV_DONTNEED);
}

int vms_mem_map(size_t len, size_t align, bool populate, uintptr_t *out, bool *raw)
{
	count(&vms_mem_counts.maps, &vms_mem_counts.map_bytes, len);
	if (align <= PAGE && arena_ready()) {
		/* The common case in one VM call: map and populate together. */
		void *p;
		bool whole = populate && len <= POPULATE_MAX;
		int r = vm_mmap(NULL, len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | (whole ? MAP_POPULATE : 0), -1, 0, &p);
		if (r == 0) {
			*out = (uintptr_t)p;
			*raw = false;
			if (populate && !whole) {
				vms_mem_commit(*out, POPULATE_MAX, false, true);
			}
			return 0;
		}
		if (r != VMS_PASSTHROUGH) {
			return r;
		}
	}
	int r = map_aligned(len, align < PAGE ? PAGE : align, 0, false, out, raw);
	if (r == 0 && !*raw) {
		vms_mem_commit(*out, len < POPULATE_MAX ? len : POPULATE_MAX, false, populate);
	}
	return r;
}

int vms_mem_map_kernel(size_t len, uintptr_t *out)
{
	count(&vms_mem_counts.maps, &vms_mem_counts.map_bytes, len);
	bool raw;
	return map_aligned(len, PAGE, 0, true, out, &raw);
}

void vms_mem_unmap(uintptr_t p, size_t len, bool raw)
{
	count(&vms_mem_counts.unmaps, NULL, len);
	unmap_range(p, p + len, raw);
}

int vms_mem_remap(uintptr_t p, size_t old_len, size_t new_len, bool raw, bool populate,
		  uintptr_t *out)
{
	count(&vms_mem_counts.remaps, NULL, 0);
	if (!raw) {
		void *q;
		int r = vm_mremap((void *)p, old_len, new_len, MREMAP_MAYMOVE, NULL, &q);
		if (r == 0) {
			*out = (uintptr_t)q;
			size_t end = new_len < POPULATE_MAX ? new_len : POPULATE_MAX;
			if (end > old_len) {
				vms_mem_commit((uintptr_t)q + old_len, end - old_len, false, populate);
			}
			return 0;
		}
		if (r != VMS_PASSTHROUGH) {
			return r;
		}
	}
	long r = vms_raw_mremap((void *)p, old_len, new_len, MREMAP_MAYMOVE, NULL);
	if (vms_raw_failed(r)) {
		return (int)-r;
	}
	*out = (uintptr_t)r;
	return 0;
}

bool vms_mem_many_kmaps(void)
{
	if (!arena_ready()) {
		return false;
	}
	return __atomic_load_n(&vms_mm.kmaps, __ATOMIC_RELAXED) > vms_mm.kmaps_budget / 2;
}

/* Bit k: populate ordinary memory of segment kind k (VMS_SEG_SMALL,
 * MEDIUM, LARGE) and, bit VMS_SEG_KINDS, big blocks.  See the header. */
#ifndef VMS_POPULATE_ORDINARY
#define VMS_POPULATE_ORDINARY 0xfu
#endif

bool vms_mem_populate_ordinary(int kind)
{
	return (VMS_POPULATE_ORDINARY >> kind) & 1u;
}
