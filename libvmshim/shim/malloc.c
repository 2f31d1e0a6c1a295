/*
 * shim/malloc.c - the exported malloc family.
 *
 * Owns: every allocator symbol a program can call, so that no program ever
 * sees half an allocator.  Until the allocator (alloc/) lands, each call
 * passes through to glibc's allocator through its public __libc_* entry
 * points, with glibc's exact semantics (errno included); malloc_usable_size,
 * which glibc exports under no other name, is found with dlsym(RTLD_NEXT).
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "shim/init.h"
#include "util/stats.h"

extern void *__libc_malloc(size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);

VMS_EXPORT void *malloc(size_t size)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_malloc);
	return __libc_malloc(size);
}

VMS_EXPORT void free(void *ptr)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_free);
	__libc_free(ptr);
}

VMS_EXPORT void *calloc(size_t n, size_t size)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_calloc);
	return __libc_calloc(n, size);
}

VMS_EXPORT void *realloc(void *ptr, size_t size)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_realloc);
	return __libc_realloc(ptr, size);
}

VMS_EXPORT void *reallocarray(void *ptr, size_t n, size_t size)
{
	size_t bytes;
	vms_ensure_init();
	vms_count_call(VMS_CALL_reallocarray);
	if (__builtin_mul_overflow(n, size, &bytes)) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_realloc(ptr, bytes);
}

VMS_EXPORT void *memalign(size_t alignment, size_t size)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_memalign);
	return __libc_memalign(alignment, size);
}

VMS_EXPORT int posix_memalign(void **out, size_t alignment, size_t size)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_posix_memalign);
	/* A power of two multiple of sizeof(void *). */
	if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0 ||
	    alignment == 0) {
		return EINVAL;
	}
	void *p = __libc_memalign(alignment, size);
	if (p == NULL) {
		return ENOMEM;
	}
	*out = p;
	return 0;
}

/* glibc 2.36 makes aligned_alloc an alias of memalign. */
VMS_EXPORT void *aligned_alloc(size_t alignment, size_t size)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_aligned_alloc);
	return __libc_memalign(alignment, size);
}

VMS_EXPORT void *valloc(size_t size)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_valloc);
	return __libc_valloc(size);
}

VMS_EXPORT void *pvalloc(size_t size)
{
	vms_ensure_init();
	vms_count_call(VMS_CALL_pvalloc);
	return __libc_pvalloc(size);
}

VMS_EXPORT size_t malloc_usable_size(void *ptr)
{
	static size_t (*libc_usable_size)(void *);
	vms_ensure_init();
	vms_count_call(VMS_CALL_malloc_usable_size);
	size_t (*fn)(void *) = __atomic_load_n(&libc_usable_size, __ATOMIC_ACQUIRE);
	if (fn == NULL) {
		int saved = errno;
		fn = (size_t(*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
		errno = saved;
		if (fn == NULL) {
			return 0;
		}
		__atomic_store_n(&libc_usable_size, fn, __ATOMIC_RELEASE);
	}
	return fn(ptr);
}
