/*
 * os/pool.c - fixed-size object pool on raw mmap; see os/pool.h.
 *
 * Chunks are never returned to the kernel: metadata peaks are small next
 * to the memory they describe, and keeping chunks means a free never makes
 * a system call.
 */
#include "config.h"
#include "os/pool.h"

#include <string.h>
#include <sys/mman.h>

#include "os/raw.h"
#include "util/inject.h"

struct vms_pool_free {
	struct vms_pool_free *next;
};

void vms_spin_lock(int *lock)
{
	unsigned spins = 0;
	while (__atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE) != 0) {
		while (__atomic_load_n(lock, __ATOMIC_RELAXED) != 0) {
			if (++spins % 128 == 0) {
				vms_raw_sched_yield();
			} else {
				vms_cpu_relax();
			}
		}
	}
}

void vms_spin_unlock(int *lock)
{
	__atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}

void vms_pool_init(struct vms_pool *p, size_t obj_size)
{
	memset(p, 0, sizeof *p);
	p->obj_size = (obj_size + 15) & ~(size_t)15;
	p->chunk_size = 1u << 20;
	p->fail_after = -1;
}

void *vms_pool_alloc(struct vms_pool *p)
{
	void *obj = NULL;
	vms_spin_lock(&p->lock);
	if (p->fail_after == 0) {
		p->fail_after = -1;
		goto out;
	}
	if (vms_inject_fail(VMS_INJ_POOL)) {
		goto out; /* VMSHIM_FAULT_INJECT=pool:... */
	}
	if (p->fail_after > 0) {
		p->fail_after--;
	}
	if (p->free != NULL) {
		obj = p->free;
		p->free = p->free->next;
		memset(obj, 0, p->obj_size);
	} else {
		size_t size = (p->obj_size + 15) & ~(size_t)15;
		if (p->bump == NULL || (size_t)(p->bump_end - p->bump) < size) {
			long r = vms_raw_mmap(NULL, p->chunk_size, PROT_READ | PROT_WRITE,
					      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (vms_raw_failed(r)) {
				goto out;
			}
			p->bump = (char *)r;
			p->bump_end = p->bump + p->chunk_size;
			p->chunks++;
		}
		/* Fresh anonymous memory is already zero. */
		obj = p->bump;
		p->bump += size;
	}
	p->in_use++;
out:
	vms_spin_unlock(&p->lock);
	return obj;
}

void vms_pool_free(struct vms_pool *p, void *obj)
{
	if (obj == NULL) {
		return;
	}
	vms_spin_lock(&p->lock);
	struct vms_pool_free *f = obj;
	f->next = p->free;
	p->free = f;
	p->in_use--;
	vms_spin_unlock(&p->lock);
}

size_t vms_pool_in_use(struct vms_pool *p)
{
	vms_spin_lock(&p->lock);
	size_t n = p->in_use;
	vms_spin_unlock(&p->lock);
	return n;
}

void vms_pool_fail_after(struct vms_pool *p, long n)
{
	vms_spin_lock(&p->lock);
	p->fail_after = n;
	vms_spin_unlock(&p->lock);
}
