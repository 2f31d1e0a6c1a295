/*
 * os/pool.h - fixed-size metadata objects allocated outside the arena.
 *
 * Owns: the memory behind VMA nodes, page-table nodes and other shim
 * metadata.  Objects come from chunks obtained with raw mmap (never from
 * malloc, never from the arena) and go back to a free list; memory handed
 * out is zeroed.
 *
 * Locking: one spinlock per pool.  It is async-signal-safe on the condition
 * every shim lock holder honours: whoever allocates or frees has all signals
 * blocked (the fault handler runs with a full mask; vm/ entry points block
 * signals while they hold the map lock), so a holder is never interrupted
 * by code that takes the same lock on the same thread.
 *
 * Failure injection: vms_pool_fail_after(p, n) makes the (n+1)-th next
 * allocation fail, to test ENOMEM paths.
 */
#ifndef VMS_OS_POOL_H
#define VMS_OS_POOL_H

#include <stddef.h>
#include <stdint.h>

struct vms_pool_free;

struct vms_pool {
	size_t obj_size;               /* (c) bytes per object, >= sizeof(void *) */
	size_t chunk_size;             /* (c) bytes per mmap'ed chunk */
	int lock;                      /* spinlock word */
	struct vms_pool_free *free;    /* (l) free objects */
	char *bump, *bump_end;         /* (l) unused tail of the newest chunk */
	size_t in_use;                 /* (l) objects handed out */
	size_t chunks;                 /* (l) chunks mapped */
	long fail_after;               /* (l) < 0: never; else allocations left before one fails */
};

#define VMS_POOL_INIT(type_size) \
	{ .obj_size = (type_size), .chunk_size = 1u << 20, .fail_after = -1 }

void vms_pool_init(struct vms_pool *p, size_t obj_size);
/* A zeroed object, or NULL when the kernel refuses memory (ENOMEM). */
void *vms_pool_alloc(struct vms_pool *p);
void vms_pool_free(struct vms_pool *p, void *obj);
size_t vms_pool_in_use(struct vms_pool *p);
void vms_pool_fail_after(struct vms_pool *p, long n);

/* The spinlock used by the pool, for other structures with the same rules. */
void vms_spin_lock(int *lock);
void vms_spin_unlock(int *lock);

#endif
