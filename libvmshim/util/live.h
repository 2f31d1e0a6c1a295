/*
 * util/live.h - the live segment: a process's statistics, readable (and its
 * limit writable) by other processes of the same user while it runs.
 *
 * Owns: the segment file and its layout, shared by the library (writer)
 * and the `vmshim stat|top|limit|maps` commands (readers).
 *
 * The segment is the file DIR/PID, DIR being $VMSHIM_LIVE_DIR or
 * /dev/shm/vmshim-UID (created mode 0700, and used only if it belongs to
 * the user); the file is mode 0600.  Layout:
 *
 *   offset 0     struct vms_live_header (one page)
 *   offset 4096  struct vms_stats, the process's very counters: the library
 *                maps this part of the file over its vms_stats object
 *                (page aligned, whole pages), so the fault handler's relaxed
 *                atomic increments land in the shared page directly: no
 *                copy, no lock, no system call on the fault path.
 *
 * vms_stats.limit_pages is the word reclaim reads the resident limit from
 * (vms_limit_word, vm/mm.h): `vmshim limit` stores into it atomically.
 *
 * Life cycle: created at initialisation (magic written last, so a reader
 * never sees a half-built header), re-created for the child after fork
 * (the child gets its own file and maps it over its counters before
 * anything can count), unlinked at exit and _exit.  A process killed by a
 * signal leaves its file behind; readers recognise it (the pid is gone, or
 * its start time differs) and remove it.
 *
 * Requests: a reader bumps maps_request (or reclaim_request) and queues
 * SIGSEGV with si_value VMS_LIVE_SIGVAL (sigqueue, SI_QUEUE: never a real
 * fault); the shim's handler writes the maps view to DIR/PID.maps (or
 * reclaims down to a lowered limit at once, rather than at the next page
 * charged) and stores the request counter into its done word.
 */
#ifndef VMS_UTIL_LIVE_H
#define VMS_UTIL_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/stats.h"

#define VMS_LIVE_MAGIC 0x31564c4d4853564dULL /* "MVSHMLV1" little-endian */
#define VMS_LIVE_VERSION 1
#define VMS_LIVE_STATS_OFFSET 4096
#define VMS_LIVE_SIZE (VMS_LIVE_STATS_OFFSET + sizeof(struct vms_stats))
#define VMS_LIVE_SIGVAL 0x766d7368 /* "vmsh": si_value of a maps request */

struct vms_live_header {
	uint64_t magic;          /* VMS_LIVE_MAGIC once ready (release store, last) */
	uint32_t version;        /* VMS_LIVE_VERSION */
	uint32_t stats_offset;   /* VMS_LIVE_STATS_OFFSET */
	uint32_t stats_size;     /* sizeof(struct vms_stats): layout check */
	uint16_t n_calls, n_faults, n_evictions; /* layout check */
	uint16_t pad;
	int64_t pid;
	uint64_t start_time;     /* field 22 of /proc/PID/stat: clock ticks since boot */
	uint64_t maps_request;   /* (a) bumped by readers */
	uint64_t maps_done;      /* (a) set to maps_request once DIR/PID.maps is written */
	char comm[16];           /* /proc/PID/comm at creation */
	uint64_t reclaim_request; /* (a) bumped by `vmshim limit` */
	uint64_t reclaim_done;    /* (a) set to reclaim_request once reclaimed */
};

/* The segment directory: $VMSHIM_LIVE_DIR (option) or /dev/shm/vmshim-UID.
 * Returns 0, or -1 if it does not fit. */
int vms_live_dir(char *buf, size_t cap, const char *option_value, long uid);
/* DIR/PID followed by suffix ("" or ".maps"); 0 or -1 if too long. */
int vms_live_path(char *buf, size_t cap, const char *dir, long pid, const char *suffix);
/* The start time of pid (field 22 of /proc/PID/stat), 0 if unknown. */
uint64_t vms_live_start_time(long pid);

/* Library side.  Each is a no-op when VMSHIM_LIVE=0 or the segment could
 * not be made (said at VMSHIM_LOG=info). */
void vms_live_init(void);
/* pthread_atfork: prepare snapshots the counters (map lock held by then);
 * child gives the child its own segment, or private memory if that fails. */
void vms_live_fork_prepare(void);
void vms_live_fork_child(void);
/* Removes the segment file (exit, _exit). */
void vms_live_exit(void);
/* The header, NULL when there is no segment. */
struct vms_live_header *vms_live_header(void);
/* The directory in use (valid when vms_live_header() is not NULL). */
const char *vms_live_dir_in_use(void);

#endif
