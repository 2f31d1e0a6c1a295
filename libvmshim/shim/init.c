/*
 * shim/init.c - initialisation and the exit report.
 *
 * Owns: reading the VMSHIM_* options once, the constructor, the destructor
 * that prints statistics, and the per-process reset after fork.
 * Must not allocate: it can run inside the first malloc of the process.
 */
#include "config.h"
#include "shim/init.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "include/vmshim.h"
#include "shim/signal.h"
#include "vm/mm.h"
#include "vm/swap.h"
#include "os/raw.h"
#include "util/log.h"
#include "util/options.h"
#include "util/live.h"
#include "util/stats.h"
#include "util/trace.h"

int vms_initialised;
static int init_claimed;

static void observe_fork_prepare(void)
{
	vms_live_fork_prepare();
}

static void observe_fork_child(void)
{
	vms_live_fork_child();
	vms_trace_fork_child();
}

/* $TMPDIR, the swap file's directory when VMSHIM_SWAP_DIR is unset; copied
 * now because the swap file is made later, inside the fault handler. */
static void record_tmpdir(void)
{
	static char tmpdir[VMS_OPTION_PATH_MAX];
	for (char **e = environ; *e != NULL; e++) {
		if (strncmp(*e, "TMPDIR=", 7) == 0 && strlen(*e + 7) < sizeof tmpdir) {
			strcpy(tmpdir, *e + 7);
			vms_swap_tmpdir = tmpdir;
		}
	}
}

void vms_init_slow(void)
{
	/* environ is set before any code of the program runs; if a caller is
	 * earlier still, stay uninitialised and try again on the next call. */
	if (environ == NULL) {
		return;
	}
	if (__atomic_exchange_n(&init_claimed, 1, __ATOMIC_ACQ_REL)) {
		/* Another thread initialises: wait for it (no allocation). */
		while (!__atomic_load_n(&vms_initialised, __ATOMIC_ACQUIRE)) {
			vms_cpu_relax();
		}
		return;
	}
	vms_options_load(environ);
	record_tmpdir();
	if (vms_option_num(VMS_OPT_VERBOSE)) {
		vms_options_print(2);
	}
	vms_stats_init();
	vms_signals_init();
	vms_mm_init();
	/* The counters move into the live segment; the limit word with them,
	 * so that `vmshim limit` changes what reclaim reads. */
	vms_live_init();
	__atomic_store_n(&vms_limit_word, &vms_stats.limit_pages, __ATOMIC_RELEASE);
	vms_trace_init();
	__atomic_store_n(&vms_initialised, 1, __ATOMIC_RELEASE);
	/* After initialisation: pthread_atfork may allocate.  Registered first,
	 * these child handlers run before any other library's (the observe
	 * ones first of all: the child must stop counting into its parent's
	 * segment before anything counts); prepare handlers run in the reverse
	 * order, so the counters are snapshot with the map lock held. */
	pthread_atfork(observe_fork_prepare, NULL, observe_fork_child);
	pthread_atfork(NULL, NULL, vms_signals_fork_child);
	pthread_atfork(vms_fork_prepare, vms_fork_parent, vms_fork_child);
}

void vms_init_after_fork_child(void)
{
	vms_stats_reset_events();
}

__attribute__((constructor)) static void vms_constructor(void)
{
	vms_ensure_init();
}

/* The exit reports: statistics, and the maps view.  Once per process. */
static void report_at_exit(void)
{
	static long reported_by;
	long pid = vms_raw_getpid();
	if (__atomic_exchange_n(&reported_by, pid, __ATOMIC_ACQ_REL) == pid) {
		return;
	}
	vms_stats_report_at_exit();
	vms_maps_report_at_exit();
	vms_trace_exit();
	vms_live_exit();
}

__attribute__((destructor)) static void vms_destructor(void)
{
	report_at_exit();
}

/* Processes that end with _exit (shells' subshells do) still report. */
VMS_EXPORT _Noreturn void _exit(int status)
{
	if (__atomic_load_n(&vms_initialised, __ATOMIC_ACQUIRE)) {
		report_at_exit();
		vms_swap_release_all();
	}
	vms_raw_exit_group(status);
}

VMS_EXPORT _Noreturn void _Exit(int status)
{
	_exit(status);
}

VMS_EXPORT const char *vmshim_version(void)
{
	return PACKAGE_VERSION;
}

VMS_EXPORT size_t vmshim_stats_json(char *buf, size_t cap)
{
	return vms_stats_format_json(buf, cap);
}
