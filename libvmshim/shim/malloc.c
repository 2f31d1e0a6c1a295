/*
 * shim/malloc.c - the exported malloc family.
 *
 * Owns: every allocator symbol a program can call, so that no program ever
 * sees half an allocator.  Each one reads the thread's heap, counts the
 * call (per thread: alloc/alloc.h), and hands over to the allocator
 * (alloc/), which gives glibc's semantics, errno included.  No allocator
 * logic lives here.
 *
 * Allocating calls make sure the shim is initialised (one load on the fast
 * path), so that the allocator's first region lands in the arena; the
 * first call may come before the library's constructor (ld.so allocates
 * early), and initialisation allocates nothing.
 *
 * Calls made from inside libc (malloc, calloc, realloc, reallocarray whose
 * return address lies in libc's text) are served from pinned memory
 * (alloc/pinned.c): libc hands some of it to the kernel through internal
 * calls no wrapper sees (stdio buffers, directory streams).  libc's text is
 * found once, at the first allocation, as the mapping of /proc/self/maps
 * that holds _IO_file_doallocate (the function that allocates stdio
 * buffers), read with raw calls; until then the range is empty.  The test
 * costs the fast path one subtraction and one compare.  The memalign family
 * is not routed (libc does not use it for memory it gives the kernel).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "os/raw.h"
#include "shim/init.h"

/* libc's text: [libc_lo, libc_lo + libc_len); empty until found. */
static uintptr_t libc_lo, libc_len;
static int libc_state; /* 0 not looked up, 1 looking, 2 done */

extern int _IO_file_doallocate(FILE *f);

/* Parses "start-end " at the head of a maps line; 0 on success. */
static int maps_range(const char *line, uintptr_t *lo, uintptr_t *hi)
{
	uintptr_t v[2] = { 0, 0 };
	int i = 0;
	for (const char *c = line;; c++) {
		int d = *c >= '0' && *c <= '9' ? *c - '0' : *c >= 'a' && *c <= 'f' ? *c - 'a' + 10 : -1;
		if (d >= 0) {
			v[i] = v[i] * 16 + (uintptr_t)d;
		} else if (*c == '-' && i == 0) {
			i = 1;
		} else {
			break;
		}
	}
	*lo = v[0];
	*hi = v[1];
	return i == 1 ? 0 : -1;
}

/* Finds libc's text in /proc/self/maps (raw calls: may run before libc is
 * ready, allocates nothing). */
static void libc_text_find(void)
{
	int expected = 0;
	if (!__atomic_compare_exchange_n(&libc_state, &expected, 1, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		return; /* another thread looks, or looked */
	}
	uintptr_t want = (uintptr_t)&_IO_file_doallocate;
	long fd = vms_raw_open("/proc/self/maps", O_RDONLY | O_CLOEXEC, 0);
	char buf[4096];
	size_t have = 0;
	bool eof = fd < 0;
	while (!eof || have > 0) {
		if (!eof && have < sizeof buf) {
			long n = vms_raw_read((int)fd, buf + have, sizeof buf - have);
			if (n <= 0) {
				eof = true;
			} else {
				have += (size_t)n;
			}
		}
		char *nl = memchr(buf, '\n', have);
		if (nl == NULL) {
			if (eof || have == sizeof buf) {
				break; /* a line longer than the buffer: give up */
			}
			continue;
		}
		*nl = '\0';
		uintptr_t lo, hi;
		if (maps_range(buf, &lo, &hi) == 0 && want >= lo && want < hi) {
			__atomic_store_n(&libc_len, hi - lo, __ATOMIC_RELAXED);
			__atomic_store_n(&libc_lo, lo, __ATOMIC_RELAXED);
			break;
		}
		size_t used = (size_t)(nl + 1 - buf);
		memmove(buf, nl + 1, have - used);
		have -= used;
	}
	if (fd >= 0) {
		vms_raw_close((int)fd);
	}
	__atomic_store_n(&libc_state, 2, __ATOMIC_RELEASE);
}

/* Whether a call returns into libc.  libc_len is written before libc_lo,
 * both once: a racing reader sees an empty range or the right one. */
static inline bool from_libc(const void *ret)
{
	return (uintptr_t)ret - __atomic_load_n(&libc_lo, __ATOMIC_RELAXED) <
	       __atomic_load_n(&libc_len, __ATOMIC_RELAXED);
}
#define FROM_LIBC() vms_unlikely(from_libc(__builtin_return_address(0)))

/* A thread's first malloc (it has no heap yet): the first of the process
 * also initialises the shim.  Kept out of line so that malloc's fast path
 * saves no register and tests one pointer. */
static __attribute__((noinline)) void *malloc_first(size_t size, const void *ret)
{
	vms_ensure_init();
	if (__atomic_load_n(&libc_state, __ATOMIC_ACQUIRE) == 0) {
		libc_text_find();
	}
	struct vms_heap *h = vms_tls_heap;
	vms_heap_count(h, VMS_AC_malloc);
	if (from_libc(ret)) {
		return vms_pinned_alloc(size, false);
	}
	return vms_malloc(h, size);
}

VMS_EXPORT void *malloc(size_t size)
{
	struct vms_heap *h = vms_tls_heap;
	if (vms_unlikely(h == &vms_empty_heap)) {
		return malloc_first(size, __builtin_return_address(0));
	}
	vms_bump(&h->calls[VMS_AC_malloc]);
	if (FROM_LIBC()) {
		return vms_pinned_alloc(size, false);
	}
	return vms_malloc(h, size);
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
	if (FROM_LIBC()) {
		return vms_pinned_calloc(n, size);
	}
	return vms_calloc(h, n, size);
}

VMS_EXPORT void *realloc(void *ptr, size_t size)
{
	vms_ensure_init();
	struct vms_heap *h = vms_tls_heap;
	vms_heap_count(h, VMS_AC_realloc);
	if (FROM_LIBC()) {
		return vms_pinned_realloc(h, ptr, size);
	}
	return vms_realloc(h, ptr, size);
}

VMS_EXPORT void *reallocarray(void *ptr, size_t n, size_t size)
{
	vms_ensure_init();
	struct vms_heap *h = vms_tls_heap;
	vms_heap_count(h, VMS_AC_reallocarray);
	if (FROM_LIBC()) {
		size_t bytes;
		if (__builtin_mul_overflow(n, size, &bytes)) {
			errno = ENOMEM;
			return NULL;
		}
		return vms_pinned_realloc(h, ptr, bytes);
	}
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

/* glibc extension: returns free memory to the system (here, to the VM). */
VMS_EXPORT int malloc_trim(size_t pad)
{
	(void)pad;
	return vms_trim(vms_tls_heap);
}
