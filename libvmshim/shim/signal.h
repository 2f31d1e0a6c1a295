/*
 * shim/signal.h - installs the fault handler (see shim/signal.c).
 */
#ifndef VMS_SHIM_SIGNAL_H
#define VMS_SHIM_SIGNAL_H

void vms_signals_init(void);

#endif
