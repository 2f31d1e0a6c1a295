/*
 * util/log.c - see util/log.h.  Must not allocate or use stdio.
 */
#include "config.h"
#include "util/log.h"

#include <signal.h>
#include <stdarg.h>

#include "os/fmt.h"
#include "os/raw.h"

static int log_level = VMS_LOG_WARN;

void vms_log_set_level(int level) { log_level = level; }

int vms_log_enabled(int level) { return level <= log_level; }

static void vlog_line(const char *fmt, va_list ap)
{
	char line[1024];
	size_t n = vms_fmt(line, sizeof line, "libvmshim[%ld]: ", vms_raw_getpid());
	n += vms_vfmt(line + n, sizeof line - n - 1, fmt, ap);
	line[n++] = '\n';
	vms_raw_write_all(2, line, n);
}

void vms_log(int level, const char *fmt, ...)
{
	if (!vms_log_enabled(level)) {
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	vlog_line(fmt, ap);
	va_end(ap);
}

_Noreturn void vms_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog_line(fmt, ap);
	va_end(ap);
	/* Default SIGABRT action, unblocked, then deliver it to this thread. */
	struct vms_ksigaction dfl = { 0 };
	vms_raw_rt_sigaction(SIGABRT, &dfl, NULL);
	uint64_t abrt = 1ULL << (SIGABRT - 1);
	vms_raw_rt_sigprocmask(SIG_UNBLOCK, &abrt, NULL);
	vms_raw_tgkill((int)vms_raw_getpid(), (int)vms_raw_gettid(), SIGABRT);
	vms_raw_exit_group(134);
}
