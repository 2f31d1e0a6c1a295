/*
 * shim/libc_alloc.h - routing libc's own allocations to the pinned heap
 * (shim/libc_alloc.c patches libc's GOT; shim/malloc.c has the entry
 * points).
 */
#ifndef VMS_SHIM_LIBC_ALLOC_H
#define VMS_SHIM_LIBC_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

#pragma GCC visibility push(hidden)

/* Once per process, at the first allocation: finds libc and points its
 * GOT slots for malloc, calloc, realloc and reallocarray at the entry
 * points below.  Raw calls only, allocates nothing. */
void vms_libc_alloc_init(void);
/* How many GOT slots were patched (0: libc's allocations are ordinary). */
int vms_libc_alloc_patched(void);
/* Whether a return address lies in libc's text (for calls that came
 * before the patch). */
bool vms_libc_text_contains(const void *ret);

/* shim/malloc.c: the malloc family as libc calls it (pinned memory). */
void *vms_libc_malloc(size_t size);
void *vms_libc_calloc(size_t n, size_t size);
void *vms_libc_realloc(void *ptr, size_t size);
void *vms_libc_reallocarray(void *ptr, size_t n, size_t size);

#pragma GCC visibility pop

#endif
