/*
 * vm/lock.c - the map lock: a readers-writer lock usable from the fault
 * handler.
 *
 * Readers are fault handlers (every signal already blocked); writers are
 * vm_* entry points, which block every signal before locking.  So a thread
 * holding the lock is never interrupted by a signal handler on the same
 * thread, and no self-deadlock is possible.  Writers have preference: a
 * waiting writer stops new readers.  Waiting spins briefly, then yields:
 * hold times are a few system calls long.
 */
#include "config.h"

#include <signal.h>

#include "os/pool.h"
#include "os/raw.h"
#include "vm/mm.h"

#define VMS_RW_WRITER (1 << 30)

static void backoff(unsigned *spins)
{
	if (++*spins % 64 == 0) {
		vms_raw_sched_yield();
	} else {
		vms_cpu_relax();
	}
}

void vms_map_read_lock(void)
{
	struct vms_rwlock *l = &vms_mm.lock;
	unsigned spins = 0;
	for (;;) {
		int s = __atomic_load_n(&l->state, __ATOMIC_RELAXED);
		if (!(s & VMS_RW_WRITER) &&
		    __atomic_compare_exchange_n(&l->state, &s, s + 1, 1, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED)) {
			return;
		}
		backoff(&spins);
	}
}

void vms_map_read_unlock(void)
{
	__atomic_fetch_sub(&vms_mm.lock.state, 1, __ATOMIC_RELEASE);
}

void vms_map_write_lock(uint64_t *saved)
{
	struct vms_rwlock *l = &vms_mm.lock;
	uint64_t all = ~0ULL;
	vms_raw_rt_sigprocmask(SIG_SETMASK, &all, saved);
	vms_spin_lock(&l->writers);
	__atomic_fetch_or(&l->state, VMS_RW_WRITER, __ATOMIC_ACQUIRE);
	unsigned spins = 0;
	while ((__atomic_load_n(&l->state, __ATOMIC_ACQUIRE) & ~VMS_RW_WRITER) != 0) {
		backoff(&spins);
	}
}

void vms_map_write_unlock(const uint64_t *saved)
{
	struct vms_rwlock *l = &vms_mm.lock;
	__atomic_fetch_and(&l->state, ~VMS_RW_WRITER, __ATOMIC_RELEASE);
	vms_spin_unlock(&l->writers);
	vms_raw_rt_sigprocmask(SIG_SETMASK, saved, NULL);
}
