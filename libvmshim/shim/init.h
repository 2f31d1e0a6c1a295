/*
 * shim/init.h - library initialisation, safe whenever the first call comes.
 *
 * The dynamic loader and other libraries' constructors may call malloc or
 * mmap before our constructor runs, so every exported entry point calls
 * vms_ensure_init() first.  Initialisation allocates nothing.
 */
#ifndef VMS_SHIM_INIT_H
#define VMS_SHIM_INIT_H

#include "config.h"

#define VMS_EXPORT __attribute__((visibility("default")))

extern int vms_initialised;
void vms_init_slow(void);

static inline void vms_ensure_init(void)
{
	if (__builtin_expect(!__atomic_load_n(&vms_initialised, __ATOMIC_ACQUIRE), 0)) {
		vms_init_slow();
	}
}

/* Called in the child after fork: per-process state starts afresh. */
void vms_init_after_fork_child(void);

#endif
