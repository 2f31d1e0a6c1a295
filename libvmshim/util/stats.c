/*
 * util/stats.c - counters and their exit reports; see util/stats.h.
 *
 * Reports are rendered into a stack buffer with vms_fmt and written with
 * raw calls, so they work at any point of the process's life.
 */
#include "config.h"
#include "util/stats.h"

#include <errno.h>
#include <fcntl.h>

#include "os/fmt.h"
#include "os/raw.h"
#include "util/log.h"
#include "util/options.h"

struct vms_stats vms_stats;
void (*vms_stats_collect_hook)(void);
size_t (*vms_stats_alloc_json_hook)(char *buf, size_t cap);

static void collect(void)
{
	void (*hook)(void) = __atomic_load_n(&vms_stats_collect_hook, __ATOMIC_ACQUIRE);
	if (hook != NULL) {
		hook();
	}
}

static const char *const call_names[VMS_CALL_COUNT] = {
#define X(name) #name,
	VMS_CALL_LIST(X)
#undef X
};

static const char *const fault_names[VMS_FAULT_COUNT] = {
#define X(name) #name,
	VMS_FAULT_LIST(X)
#undef X
};

static const char *const evict_names[VMS_EVICT_COUNT] = {
#define X(name) #name,
	VMS_EVICT_LIST(X)
#undef X
};

const char *vms_evict_name(enum vms_evict_id id) { return evict_names[id]; }
const char *vms_call_name(enum vms_call_id id) { return call_names[id]; }
const char *vms_fault_name(enum vms_fault_id id) { return fault_names[id]; }

void vms_gauge_add(struct vms_gauge *g, int64_t delta)
{
	int64_t now = __atomic_add_fetch(&g->now, delta, __ATOMIC_RELAXED);
	int64_t peak = __atomic_load_n(&g->peak, __ATOMIC_RELAXED);
	while (now > peak &&
	       !__atomic_compare_exchange_n(&g->peak, &peak, now, 1, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED)) {
	}
}

int64_t vms_gauge_now(const struct vms_gauge *g)
{
	return __atomic_load_n(&g->now, __ATOMIC_RELAXED);
}

static uint64_t load(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static int64_t load_peak(const struct vms_gauge *g)
{
	return __atomic_load_n(&g->peak, __ATOMIC_RELAXED);
}

void vms_stats_reset_events(void)
{
	for (int i = 0; i < VMS_CALL_COUNT; i++) {
		__atomic_store_n(&vms_stats.calls[i], 0, __ATOMIC_RELAXED);
	}
	for (int i = 0; i < VMS_FAULT_COUNT; i++) {
		__atomic_store_n(&vms_stats.faults[i], 0, __ATOMIC_RELAXED);
	}
	for (int i = 0; i < VMS_EVICT_COUNT; i++) {
		__atomic_store_n(&vms_stats.evictions[i], 0, __ATOMIC_RELAXED);
	}
	uint64_t *events[] = { &vms_stats.swap_out_pages,      &vms_stats.swap_in_pages,
			       &vms_stats.swap_clusters_out,   &vms_stats.swap_clusters_in,
			       &vms_stats.swap_readahead_pages, &vms_stats.swap_readahead_hits,
			       &vms_stats.swap_write_errors,   &vms_stats.swap_read_errors,
			       &vms_stats.overshoot_pages,     &vms_stats.written_back_pages,
			       &vms_stats.efault_retries,      &vms_stats.efault_returned,
			       &vms_stats.swap_reaped_refs };
	for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
		__atomic_store_n(events[i], 0, __ATOMIC_RELAXED);
	}
}

/* Appends to a buffer, tracking the length; output is truncated at cap. */
struct sink {
	char *buf;
	size_t cap;
	size_t len;
};

#define SINK(s, ...) \
	((s)->len += vms_fmt((s)->buf + (s)->len, (s)->cap - (s)->len, __VA_ARGS__))

size_t vms_stats_format_json(char *buf, size_t cap)
{
	collect();
	return vms_stats_format_json_of(&vms_stats, vms_raw_getpid(), buf, cap);
}

size_t vms_stats_format_json_of(const struct vms_stats *st, long pid, char *buf, size_t cap)
{
	struct sink s = { buf, cap, 0 };
	SINK(&s, "{\"version\": 1, \"pid\": %ld, \"calls\": {", pid);
	for (int i = 0; i < VMS_CALL_COUNT; i++) {
		SINK(&s, "%s\"%s\": %llu", i ? ", " : "", call_names[i],
		     (unsigned long long)load(&st->calls[i]));
	}
	SINK(&s, "}, \"faults\": {");
	for (int i = 0; i < VMS_FAULT_COUNT; i++) {
		SINK(&s, "%s\"%s\": %llu", i ? ", " : "", fault_names[i],
		     (unsigned long long)load(&st->faults[i]));
	}
	SINK(&s, "}, \"swap\": {\"out_pages\": %llu, \"in_pages\": %llu, \"slots_peak\": %lld, "
		 "\"slots\": %lld, \"clusters_out\": %llu, \"clusters_in\": %llu, "
		 "\"readahead_pages\": %llu, \"readahead_hits\": %llu, \"write_errors\": %llu, "
		 "\"read_errors\": %llu, \"overshoot_pages\": %llu, \"reaped_refs\": %llu}",
	     (unsigned long long)load(&st->swap_out_pages),
	     (unsigned long long)load(&st->swap_in_pages), (long long)load_peak(&st->swap_slots),
	     (long long)vms_gauge_now(&st->swap_slots),
	     (unsigned long long)load(&st->swap_clusters_out),
	     (unsigned long long)load(&st->swap_clusters_in),
	     (unsigned long long)load(&st->swap_readahead_pages),
	     (unsigned long long)load(&st->swap_readahead_hits),
	     (unsigned long long)load(&st->swap_write_errors),
	     (unsigned long long)load(&st->swap_read_errors),
	     (unsigned long long)load(&st->overshoot_pages),
	     (unsigned long long)load(&st->swap_reaped_refs));
	SINK(&s, ", \"evictions\": {");
	for (int i = 0; i < VMS_EVICT_COUNT; i++) {
		SINK(&s, "%s\"%s\": %llu", i ? ", " : "", evict_names[i],
		     (unsigned long long)load(&st->evictions[i]));
	}
	SINK(&s, "}");
	SINK(&s, ", \"resident\": {\"pages\": %lld, \"peak_pages\": %lld, \"limit_pages\": %llu}",
	     (long long)vms_gauge_now(&st->resident_pages),
	     (long long)load_peak(&st->resident_pages), (unsigned long long)load(&st->limit_pages));
	SINK(&s, ", \"vmas\": {\"count\": %lld, \"peak\": %lld}",
	     (long long)vms_gauge_now(&st->vmas), (long long)load_peak(&st->vmas));
	SINK(&s, ", \"kernel\": {\"mappings\": %lld, \"mappings_peak\": %lld}",
	     (long long)vms_gauge_now(&st->kernel_mappings),
	     (long long)load_peak(&st->kernel_mappings));
	SINK(&s, ", \"file\": {\"dirty_pages\": %lld, \"dirty_peak\": %lld, "
		 "\"written_back_pages\": %llu}",
	     (long long)vms_gauge_now(&st->file_dirty), (long long)load_peak(&st->file_dirty),
	     (unsigned long long)load(&st->written_back_pages));
	SINK(&s, ", \"arena\": {\"start\": %llu, \"end\": %llu}",
	     (unsigned long long)st->arena_start, (unsigned long long)st->arena_end);
	SINK(&s, ", \"kernel_io\": {\"efault_retries\": %llu, \"efault_returned\": %llu}",
	     (unsigned long long)load(&st->efault_retries),
	     (unsigned long long)load(&st->efault_returned));
	size_t (*alloc_json)(char *, size_t) =
		__atomic_load_n(&vms_stats_alloc_json_hook, __ATOMIC_ACQUIRE);
	/* The allocator's section describes this process only. */
	if (st == &vms_stats && alloc_json != NULL && s.len + 3 < s.cap) {
		SINK(&s, ", ");
		s.len += alloc_json(s.buf + s.len, s.cap - s.len);
	}
	SINK(&s, "}\n");
	return s.len;
}

size_t vms_stats_format_table(char *buf, size_t cap, const char *title)
{
	collect();
	return vms_stats_format_table_of(&vms_stats, vms_raw_getpid(), title, buf, cap);
}

size_t vms_stats_format_table_of(const struct vms_stats *st, long pid, const char *title,
				 char *buf, size_t cap)
{
	struct sink s = { buf, cap, 0 };
	SINK(&s, "libvmshim statistics: %s (pid %ld)\n", title, pid);
	SINK(&s, "  calls:");
	int shown = 0;
	for (int i = 0; i < VMS_CALL_COUNT; i++) {
		uint64_t v = load(&st->calls[i]);
		if (v == 0) {
			continue;
		}
		SINK(&s, "%s %s=%llu", (shown && shown % 6 == 0) ? "\n        " : "", call_names[i],
		     (unsigned long long)v);
		shown++;
	}
	SINK(&s, "%s\n", shown ? "" : " none");
	SINK(&s, "  faults:");
	for (int i = 0; i < VMS_FAULT_COUNT; i++) {
		SINK(&s, " %s=%llu", fault_names[i], (unsigned long long)load(&st->faults[i]));
	}
	SINK(&s, "\n  resident pages: %lld (peak %lld, limit %llu)\n",
	     (long long)vms_gauge_now(&st->resident_pages),
	     (long long)load_peak(&st->resident_pages), (unsigned long long)load(&st->limit_pages));
	SINK(&s, "  swap: out=%llu in=%llu slots=%lld (peak %lld) clusters out=%llu in=%llu\n",
	     (unsigned long long)load(&st->swap_out_pages),
	     (unsigned long long)load(&st->swap_in_pages), (long long)vms_gauge_now(&st->swap_slots),
	     (long long)load_peak(&st->swap_slots), (unsigned long long)load(&st->swap_clusters_out),
	     (unsigned long long)load(&st->swap_clusters_in));
	SINK(&s, "        read-ahead=%llu (hits %llu) errors write=%llu read=%llu overshoot=%llu\n",
	     (unsigned long long)load(&st->swap_readahead_pages),
	     (unsigned long long)load(&st->swap_readahead_hits),
	     (unsigned long long)load(&st->swap_write_errors),
	     (unsigned long long)load(&st->swap_read_errors),
	     (unsigned long long)load(&st->overshoot_pages));
	if (load(&st->swap_reaped_refs) != 0) {
		SINK(&s, "        references of ended processes dropped=%llu\n",
		     (unsigned long long)load(&st->swap_reaped_refs));
	}
	SINK(&s, "  evictions:");
	for (int i = 0; i < VMS_EVICT_COUNT; i++) {
		SINK(&s, " %s=%llu", evict_names[i], (unsigned long long)load(&st->evictions[i]));
	}
	SINK(&s, "\n");
	SINK(&s, "  file: dirty pages=%lld (peak %lld) written back=%llu\n",
	     (long long)vms_gauge_now(&st->file_dirty), (long long)load_peak(&st->file_dirty),
	     (unsigned long long)load(&st->written_back_pages));
	SINK(&s, "  vmas: %lld (peak %lld)   kernel mappings: %lld (peak %lld)\n",
	     (long long)vms_gauge_now(&st->vmas), (long long)load_peak(&st->vmas),
	     (long long)vms_gauge_now(&st->kernel_mappings),
	     (long long)load_peak(&st->kernel_mappings));
	SINK(&s, "  kernel I/O: EFAULT retries=%llu returned=%llu\n",
	     (unsigned long long)load(&st->efault_retries),
	     (unsigned long long)load(&st->efault_returned));
	return s.len;
}

int vms_stats_expand_path(const char *pattern, long pid, char *out, size_t cap)
{
	size_t n = 0;
	for (const char *p = pattern; *p; p++) {
		char piece[32];
		size_t len;
		if (p[0] == '%' && p[1] == 'p') {
			len = vms_fmt(piece, sizeof piece, "%ld", pid);
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			piece[0] = '%';
			len = 1;
			p++;
		} else {
			piece[0] = *p;
			len = 1;
		}
		if (n + len + 1 > cap) {
			return -1;
		}
		for (size_t i = 0; i < len; i++) {
			out[n++] = piece[i];
		}
	}
	out[n] = '\0';
	return 0;
}

/* The program's name from /proc/self/comm, for the table's title. */
static void program_name(char *buf, size_t cap)
{
	long fd = vms_raw_open("/proc/self/comm", O_RDONLY | O_CLOEXEC, 0);
	long n = vms_raw_failed(fd) ? -1 : vms_raw_read((int)fd, buf, cap - 1);
	if (!vms_raw_failed(fd)) {
		vms_raw_close((int)fd);
	}
	if (n <= 0) {
		vms_fmt(buf, cap, "?");
		return;
	}
	buf[n] = '\0';
	if (buf[n - 1] == '\n') {
		buf[n - 1] = '\0';
	}
}

static int table_fd = 2;

int vms_stats_table_fd(void)
{
	return table_fd;
}

void vms_stats_init(void)
{
	if (vms_option_num(VMS_OPT_STATS) || vms_option_num(VMS_OPT_MAPS)) {
		long fd = vms_raw_dup_cloexec(2, 100);
		if (!vms_raw_failed(fd)) {
			table_fd = (int)fd;
		}
	}
}

void vms_stats_report_at_exit(void)
{
	char buf[8192];
	if (vms_option_num(VMS_OPT_STATS)) {
		char name[64];
		program_name(name, sizeof name);
		size_t n = vms_stats_format_table(buf, sizeof buf, name);
		vms_raw_write_all(table_fd, buf, n);
	}
	int fd = vms_report_open(VMS_OPT_STATS_FILE);
	if (fd >= 0) {
		size_t n = vms_stats_format_json(buf, sizeof buf);
		vms_report_close(fd, vms_raw_write_all(fd, buf, n));
	}
}

int vms_report_open(enum vms_option_id id)
{
	const char *pattern = vms_option_str(id);
	if (pattern == NULL) {
		return -1;
	}
	char path[VMS_OPTION_PATH_MAX + 32];
	if (vms_stats_expand_path(pattern, vms_raw_getpid(), path, sizeof path) != 0) {
		vms_log(VMS_LOG_ERROR, "%s=%s: path too long", vms_option_desc(id)->env, pattern);
		return -1;
	}
	long fd = vms_raw_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (vms_raw_failed(fd)) {
		vms_log(VMS_LOG_ERROR, "cannot write %s: errno %ld", path, -fd);
		return -1;
	}
	return (int)fd;
}

void vms_report_close(int fd, long written)
{
	if (vms_raw_failed(written)) {
		vms_log(VMS_LOG_ERROR, "cannot write an exit report: errno %ld", -written);
	}
	vms_raw_close(fd);
}
