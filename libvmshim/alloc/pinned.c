/*
 * alloc/pinned.c - the pinned heap: memory libc hands to the kernel itself.
 *
 * Owns: the one heap that serves allocations made from inside libc
 * (shim/malloc.c tells them by the caller's return address): stdio
 * buffers, FILE objects, directory streams, the resolver's answer buffers,
 * getcwd(NULL) and the like.  libc passes that memory to the kernel through
 * internal calls (read(2) into a stdio buffer, getdents64(2) into a
 * directory stream...) where no wrapper of shim/kernel_io.c can make it
 * present first, so it must never be absent, write-protected or taken.
 *
 * Where it lives: the kernel's own memory, outside the arena (pinned
 * regions of alloc/segment.c, big blocks mapped by vms_mem_map_kernel), so
 * the kernel pages it, copies it on write after fork and resolves its own
 * accesses to it like any memory of a program without the shim; reclaim
 * never sees it.  Not arena memory marked pinned, as first designed,
 * because the VM write-protects every private writable page of the arena
 * at fork (vm/fork.c), pinned mappings included: (1) a libc read into a
 * stdio buffer after fork then fails with EFAULT until the program's own
 * write to that page happens to break the sharing (measured: a stream
 * opened before fork reads nothing in the child); (2) glibc's fork, in the
 * child of a multi-threaded process, resets the lock of every open FILE
 * (fresetlockfiles) before any atfork handler runs, while the VM's map lock
 * is still held by the forking thread: a FILE in write-protected arena
 * memory kills the child with SIGSEGV (measured, also before this heap
 * existed, when FILEs were ordinary heap blocks); (3) another thread's
 * libc-internal call in flight during a fork would fail the same way.  Memory
 * the kernel owns has none of these problems.  It is counted as
 * alloc.pinned_committed, not as arena pages, and the resident limit does
 * not cover it (libc's memory is small: a few hundred KiB per process).
 *
 * Design: one heap (struct vms_heap with pinned set) shared by every
 * thread under vms_pinned_lock.  libc allocates rarely compared with
 * programs (a fopen, an opendir, a strdup), so a lock costs little, and a
 * single heap keeps pinned memory in as few pages as possible.  The usual
 * heap machinery runs unchanged on it (spans, bins, decay, decommit); it
 * is never abandoned, never adopts, and no thread heap owns its segments,
 * so free() of one of its blocks from anywhere comes here (vms_free_other)
 * and is a local free under the lock.  realloc from libc moves a block here
 * when it must move; realloc from the program of a pinned block keeps it
 * while it fits, else moves it to the program's heap.
 *
 * Locks: vms_pinned_lock ranks above every other allocator lock (taken
 * first, also by fork) and may be held across VM calls: the VM never
 * allocates, and fork takes allocator locks before the VM's map lock.
 */
#include "config.h"
#include "alloc/alloc.h"

#include <string.h>

#include "util/debug.h"

struct vms_heap vms_pinned_heap;
int vms_pinned_lock;
static bool pinned_ready;  /* (p) */

/* The pinned heap, set up on first use.  Lock held. */
static struct vms_heap *pinned_heap(void)
{
	if (!pinned_ready) {
		vms_alloc_init_once();
		for (unsigned c = 0; c < VMS_NCLASS; c++) {
			vms_pinned_heap.cur[c] = &vms_empty_span;
		}
		vms_pinned_heap.pinned = true;
		vms_heap_register(&vms_pinned_heap);
		pinned_ready = true;
	}
	return &vms_pinned_heap;
}

void *vms_pinned_alloc(size_t size, bool zero)
{
	if (size > VMS_LARGE_MAX) {
		return vms_big_alloc_pinned(size, zero);
	}
	vms_alloc_lock(&vms_pinned_lock);
	void *p = vms_alloc_class(pinned_heap(), vms_size_class(size), zero);
	vms_alloc_unlock(&vms_pinned_lock);
	return p;
}

void *vms_pinned_calloc(size_t n, size_t size)
{
	size_t bytes;
	if (__builtin_mul_overflow(n, size, &bytes)) {
		errno = ENOMEM;
		return NULL;
	}
	return vms_pinned_alloc(bytes, true);
}

bool vms_is_pinned_block(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	if (vms_in_heap_region(a)) {
		return vms_segment_of(p)->pinned;
	}
	return false;
}

void vms_pinned_free(void *p)
{
	vms_alloc_lock(&vms_pinned_lock);
	vms_free(&vms_pinned_heap, p);
	vms_alloc_unlock(&vms_pinned_lock);
}

void *vms_pinned_realloc(struct vms_heap *h, void *p, size_t size)
{
	if (p == NULL) {
		return vms_pinned_alloc(size, false);
	}
	if (size == 0) {
		vms_free(h, p);
		return NULL;
	}
	if (size > PTRDIFF_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	size_t old = vms_usable_size(p);
	if (vms_is_pinned_block(p) && size <= old && (size >= old / 2 || old <= 64)) {
		return p;
	}
	void *q = vms_pinned_alloc(size, false);
	if (q == NULL) {
		return NULL;
	}
	memcpy(q, p, size < old ? size : old);
	vms_free(h, p);
	return q;
}

size_t vms_pinned_committed(void)
{
	return __atomic_load_n(&vms_pinned_heap.committed, __ATOMIC_RELAXED);
}

void vms_pinned_prefork(void)
{
	vms_spin_lock(&vms_pinned_lock);
}

void vms_pinned_postfork(bool child)
{
	if (child) {
		vms_pinned_lock = 0;
	} else {
		vms_spin_unlock(&vms_pinned_lock);
	}
}
