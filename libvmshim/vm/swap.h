/*
 * vm/swap.h - the swap device (vm/swap.c): slots of one swap file shared
 * by a process and its forked children, with shared reference counts and
 * the record of which process holds them.
 */
#ifndef VMS_VM_SWAP_H
#define VMS_VM_SWAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* $TMPDIR, recorded at initialisation (NULL: unset). */
extern const char *vms_swap_tmpdir;

/* Whether the swap file exists (the first allocation creates it). */
bool vms_swap_ready(void);
/*
 * Allocates up to want consecutive slots, each with one reference; returns
 * how many (at least 1) with *first set, or 0 when the swap file cannot be
 * created or is full (VMSHIM_SWAP_MAX).  Callers serialise (reclaim lock).
 */
size_t vms_swap_alloc(size_t want, uint64_t *first);
/* One more reference on slot, for the child being forked (between
 * vms_swap_fork_prepare and the fork); untracked outside a fork. */
void vms_swap_ref(uint64_t slot);
/* Drops one of this process's references; the slot is free at zero. */
void vms_swap_put(uint64_t slot);
/* Drops the references held by processes that share the file and have
 * ended (exit, exec, a signal) without dropping them; returns how many.
 * The allocator calls it before growing the file; async-signal-safe. */
size_t vms_swap_reap(void);
/* Fork handlers (vm/fork.c), map lock held for writing: prepare gives
 * the child a participant index and a locked description of the swap
 * file of its own (before vms_swap_ref is called for it); parent closes
 * its copy; child switches to it. */
void vms_swap_fork_prepare(void);
void vms_swap_fork_parent(void);
void vms_swap_fork_child(void);
/* The current count (tests, statistics). */
uint32_t vms_swap_refcount(uint64_t slot);
/* Writes npages pages from buf to the slots from first: 0 or errno
 * (ENOSPC for a short write that made no progress). */
int vms_swap_write(uint64_t first, const void *buf, size_t npages);
/* Reads npages slots from first into buf: 0 or errno. */
int vms_swap_read(uint64_t first, void *buf, size_t npages);

#endif
