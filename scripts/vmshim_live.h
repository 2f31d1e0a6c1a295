/*
 * scripts/vmshim_live.h - the launcher's commands on running processes
 * (stat, top, limit, maps; scripts/vmshim_live.c).
 */
#ifndef VMS_SCRIPTS_VMSHIM_LIVE_H
#define VMS_SCRIPTS_VMSHIM_LIVE_H

/* Runs the command argv[0] ("stat", "top", "limit", "maps") and returns its
 * exit status, or -1 when argv[0] is not one of them. */
int vms_live_command(int argc, char **argv);

#endif
