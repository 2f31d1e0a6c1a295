/*
 * shim/malloc.c - the exported malloc family.
 *
 * Owns: every allocator symbol a program can call, so that no program ever
 * sees half an allocator.  Each one reads the thread's heap, counts the
 * call (per thread: alloc/alloc.h), and hands over to the allocator
 * (alloc/), which gives glibc's semantics, errno included.  No allocator
 * logic lives here.  Blocks of VMS_TRACE_ALLOC_MIN bytes and more are
 * traced with their caller when a trace is recorded (util/trace.h): one
 * compare of the size on the fast path.
 *
 * Allocating calls make sure the shim is initialised (one load on the fast
 * path), so that the allocator's first region lands in the arena; the
 * first call may come before the library's constructor (ld.so allocates
 * early), and initialisation allocates nothing.
 *
 * Calls made from inside libc (malloc, calloc, realloc, reallocarray) are
 * served from pinned memory (alloc/pinned.c) by entry points of their own
 * (vms_libc_*), to which libc's GOT is pointed at the first allocation
 * (shim/libc_alloc.c): libc hands some of that memory to the kernel through
 * internal calls no wrapper sees (stdio buffers, directory streams).  So
 * the program's calls test nothing more.  The first allocation of each
 * thread also tells a call from libc by its return address, for calls made
 * before the patch.  The memalign family is not routed (libc does not use
 * it for memory it gives the kernel).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc/alloc.h"
#include "shim/init.h"
#include "shim/libc_alloc.h"
#include "util/trace.h"

/* Attribution of big blocks to their call site. */
static inline void *traced(void *p, size_t size, const void *caller)
{
	if (vms_unlikely(size >= VMS_TRACE_ALLOC_MIN) && p != NULL) {
		vms_trace_caller(VMS_TRACE_ALLOC, (uintptr_t)p, size, caller);
	}
	return p;
}

/* A thread's first malloc (it has no heap yet): the first of the process
 * also initialises the shim.  Kept out of line so that malloc's fast path
 * saves no register and tests one pointer. */
static __attribute__((noinline)) void *malloc_first(size_t size, const void *caller)
{
	vms_ensure_init();
	vms_libc_alloc_init();
	struct vms_heap *h = vms_tls_heap;
	vms_heap_count(h, VMS_AC_malloc);
	if (vms_libc_text_contains(caller)) {
		/* came before the patch */
		return traced(vms_pinned_alloc(size, false), size, caller);
	}
	return traced(vms_malloc(h, size), size, caller);
}

VMS_EXPORT void *malloc(size_t size)
{
	struct vms_heap *h = vms_tls_heap;
	if (vms_unlikely(h == &vms_empty_heap)) {
		return malloc_first(size, __builtin_return_address(0));
	}
	vms_bump(&h->calls[VMS_AC_malloc]);
	return traced(vms_malloc(h, size), size, __builtin_return_address(0));
}

VMS_EXPORT void free(void *ptr)
{
	struct vms_heap *h = vms_tls_heap;
	vms_heap_count(h, VMS_AC_free);
	/* errno is left alone, as glibc's free does: nothing below sets it. */
	vms_free(h, ptr);
}

VMS_EXPORT void *calloc(size_t n, size_t size)
{
	vms_ensure_init();
	struct vms_heap *h = vms_tls_heap;
	vms_heap_count(h, VMS_AC_calloc);
	size_t bytes;
	return traced(vms_calloc(h, n, size), __builtin_mul_overflow(n, size, &bytes) ? 0 : bytes,
		      __builtin_return_address(0));
}

VMS_EXPORT void *realloc(void *ptr, size_t size)
{
	vms_ensure_init();
	struct vms_heap *h = vms_tls_heap;
	vms_heap_count(h, VMS_AC_realloc);
	return traced(vms_realloc(h, ptr, size), size, __builtin_return_address(0));
}

VMS_EXPORT void *reallocarray(void *ptr, size_t n, size_t size)
{
	vms_ensure_init();
	struct vms_heap *h = vms_tls_heap;
	vms_heap_count(h, VMS_AC_reallocarray);
	return vms_reallocarray(h, ptr, n, size);
}

VMS_EXPORT void *memalign(size_t alignment, size_t size)
{
	vms_ensure_init();
	struct vms_heap *h = vms_tls_heap;
	vms_heap_count(h, VMS_AC_memalign);
	return vms_memalign(h, alignment, size);
}

VMS_EXPORT int posix_memalign(void **out, size_t alignment, size_t size)
{
	vms_ensure_init();
	struct vms_heap *h = vms_tls_heap;
	vms_heap_count(h, VMS_AC_posix_memalign);
	return vms_posix_memalign(h, out, alignment, size);
}

/* In glibc 2.36 aligned_alloc is an alias of memalign. */
VMS_EXPORT void *aligned_alloc(size_t alignment, size_t size)
{
	vms_ensure_init();
	struct vms_heap *h = vms_tls_heap;
	vms_heap_count(h, VMS_AC_aligned_alloc);
	return vms_memalign(h, alignment, size);
}

VMS_EXPORT void *valloc(size_t size)
{
	vms_ensure_init();
	struct vms_heap *h = vms_tls_heap;
	vms_heap_count(h, VMS_AC_valloc);
	return vms_valloc(h, size);
}

VMS_EXPORT void *pvalloc(size_t size)
{
	vms_ensure_init();
	struct vms_heap *h = vms_tls_heap;
	vms_heap_count(h, VMS_AC_pvalloc);
	return vms_pvalloc(h, size);
}

VMS_EXPORT size_t malloc_usable_size(void *ptr)
{
	struct vms_heap *h = vms_tls_heap;
	vms_heap_count(h, VMS_AC_malloc_usable_size);
	return vms_usable_size(ptr);
}

/* ---- the family as libc calls it (its GOT points here: libc_alloc.c) ----
 * Counted as the same calls; served from the pinned heap. */

void *vms_libc_malloc(size_t size)
{
	vms_ensure_init();
	struct vms_heap *h = vms_tls_heap;
	vms_heap_count(h, VMS_AC_malloc);
	return traced(vms_pinned_alloc(size, false), size, __builtin_return_address(0));
}

void *vms_libc_calloc(size_t n, size_t size)
{
	vms_ensure_init();
	struct vms_heap *h = vms_tls_heap;
	vms_heap_count(h, VMS_AC_calloc);
	size_t bytes;
	return traced(vms_pinned_calloc(n, size), __builtin_mul_overflow(n, size, &bytes) ? 0 : bytes,
		      __builtin_return_address(0));
}

void *vms_libc_realloc(void *ptr, size_t size)
{
	vms_ensure_init();
	struct vms_heap *h = vms_tls_heap;
	vms_heap_count(h, VMS_AC_realloc);
	return traced(vms_pinned_realloc(h, ptr, size), size, __builtin_return_address(0));
}

void *vms_libc_reallocarray(void *ptr, size_t n, size_t size)
{
	vms_ensure_init();
	struct vms_heap *h = vms_tls_heap;
	vms_heap_count(h, VMS_AC_reallocarray);
	size_t bytes;
	if (__builtin_mul_overflow(n, size, &bytes)) {
		errno = ENOMEM;
		return NULL;
	}
	return vms_pinned_realloc(h, ptr, bytes);
}

/* glibc extension: returns free memory to the system (here, to the VM). */
VMS_EXPORT int malloc_trim(size_t pad)
{
	(void)pad;
	return vms_trim(vms_tls_heap);
}
