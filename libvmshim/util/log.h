/*
 * util/log.h - diagnostics on stderr, written with write(2) only.
 *
 * Owns: the log level (VMSHIM_LOG) and the one prefix every line carries,
 * "libvmshim[PID]: ".  Every function here is async-signal-safe: lines are
 * formatted on the stack and written with one raw write.
 */
#ifndef VMS_UTIL_LOG_H
#define VMS_UTIL_LOG_H

enum vms_log_level {
	VMS_LOG_ERROR = 0,
	VMS_LOG_WARN = 1,
	VMS_LOG_INFO = 2,
	VMS_LOG_DEBUG = 3,
};

void vms_log_set_level(int level);
int vms_log_enabled(int level);
void vms_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reports an internal bug and aborts the process with SIGABRT. */
_Noreturn void vms_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
