/*
 * shim/signal.h - installs the fault handler (see shim/signal.c).
 */
#ifndef VMS_SHIM_SIGNAL_H
#define VMS_SHIM_SIGNAL_H

void vms_signals_init(void);
/* In the child after fork: the lock of the program's actions starts afresh. */
void vms_signals_fork_child(void);

#endif
