/*
 * scripts/vmshim_live.c - the launcher's commands on running processes:
 *
 *   vmshim stat [--json] PID     the statistics of PID once
 *   vmshim top [-d SECS] [-n N]  a table of every process under the shim
 *   vmshim limit [--now] PID SIZE  changes PID's resident limit
 *   vmshim maps PID              PID's emulated address space (maps view)
 *
 * Owns: reading and writing other processes' live segments (util/live.h).
 * A segment is trusted only when its header is complete (magic), its
 * layout matches this build's struct vms_stats, and its pid is alive with
 * the recorded start time; otherwise it is stale (its process was killed)
 * and is removed.  Counters are read with relaxed atomic loads; the limit
 * is written with one atomic store, which the process's reclaim reads the
 * next time it charges pages.
 *
 * Exit status: 0; 1 when the process is not under the shim or does not
 * answer; 2 for a usage error.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/live.h"
#include "util/options.h"
#include "util/stats.h"
#include "vmshim_live.h"

static const char cmd_usage[] =
	"usage: vmshim stat [--json] PID | vmshim top [-d SECONDS] [-n COUNT] |\n"
	"       vmshim limit [--now] PID SIZE | vmshim maps PID\n";

struct seg {
	void *map;
	size_t len;
	struct vms_live_header *h;
	struct vms_stats *st;
};

static _Noreturn void cmd_usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "vmshim: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", cmd_usage);
	exit(2);
}

/* The segment directory, as the library computes it. */
static const char *live_dir(void)
{
	static char dir[VMS_OPTION_PATH_MAX];
	const char *env = getenv("VMSHIM_LIVE_DIR");
	if (env != NULL && vms_option_parse(VMS_OPT_LIVE_DIR, env, NULL) != 0) {
		cmd_usage_error("VMSHIM_LIVE_DIR='%s' is not valid: expected a directory path", env);
	}
	if (vms_live_dir(dir, sizeof dir, env, (long)getuid()) != 0) {
		cmd_usage_error("VMSHIM_LIVE_DIR='%s': too long", env);
	}
	return dir;
}

static long parse_pid(const char *text)
{
	char *end;
	errno = 0;
	long pid = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || pid <= 0)
		cmd_usage_error("'%s' is not a process id", text);
	return pid;
}

static void remove_stale(const char *dir, long pid)
{
	char path[VMS_OPTION_PATH_MAX + 40];
	if (vms_live_path(path, sizeof path, dir, pid, "") == 0)
		unlink(path);
	if (vms_live_path(path, sizeof path, dir, pid, ".maps") == 0)
		unlink(path);
}

/*
 * Maps the segment of pid: 0, or -1 with *why set (ENOENT: none; ESRCH:
 * stale, removed; EPROTO: not a segment of this version).
 */
static int seg_open(const char *dir, long pid, int writable, struct seg *s, int *why)
{
	char path[VMS_OPTION_PATH_MAX + 40];
	struct stat st;
	int fd;

	memset(s, 0, sizeof *s);
	*why = ENOENT;
	if (vms_live_path(path, sizeof path, dir, pid, "") != 0)
		return -1;
	fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		*why = errno;
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size < VMS_LIVE_SIZE) {
		close(fd);
		*why = EPROTO;
		return -1;
	}
	s->len = VMS_LIVE_SIZE;
	s->map = mmap(NULL, s->len, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
	close(fd);
	if (s->map == MAP_FAILED) {
		*why = errno;
		return -1;
	}
	s->h = s->map;
	s->st = (struct vms_stats *)((char *)s->map + VMS_LIVE_STATS_OFFSET);
	if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
		/* Killed, perhaps before its header was complete. */
		munmap(s->map, s->len);
		remove_stale(dir, pid);
		*why = ESRCH;
		return -1;
	}
	if (__atomic_load_n(&s->h->magic, __ATOMIC_ACQUIRE) != VMS_LIVE_MAGIC ||
	    s->h->version != VMS_LIVE_VERSION || s->h->stats_size != sizeof(struct vms_stats) ||
	    s->h->n_calls != VMS_CALL_COUNT || s->h->n_faults != VMS_FAULT_COUNT ||
	    s->h->n_evictions != VMS_EVICT_COUNT || s->h->pid != pid) {
		munmap(s->map, s->len);
		*why = EPROTO;
		return -1;
	}
	if (vms_live_start_time(pid) != s->h->start_time) {
		munmap(s->map, s->len);
		remove_stale(dir, pid);
		*why = ESRCH;
		return -1;
	}
	return 0;
}

static void seg_close(struct seg *s)
{
	munmap(s->map, s->len);
}

static int seg_open_or_say(const char *dir, long pid, int writable, struct seg *s)
{
	int why;
	if (seg_open(dir, pid, writable, s, &why) == 0)
		return 0;
	if (why == ESRCH)
		fprintf(stderr, "vmshim: process %ld is gone (its stale segment in %s was removed)\n",
			pid, dir);
	else if (why == EPROTO)
		fprintf(stderr, "vmshim: %s/%ld is not a live segment of this vmshim version\n", dir,
			pid);
	else
		fprintf(stderr, "vmshim: no process %ld under the shim (no segment in %s: %s)\n", pid,
			dir, strerror(why));
	return -1;
}

/* A consistent-enough copy: each counter read atomically. */
static void snapshot(const struct vms_stats *from, struct vms_stats *to)
{
	const uint64_t *f = (const uint64_t *)from;
	uint64_t *t = (uint64_t *)to;
	for (size_t i = 0; i < sizeof *to / sizeof *t; i++)
		t[i] = __atomic_load_n(&f[i], __ATOMIC_RELAXED);
}

static int cmd_stat(int argc, char **argv)
{
	static struct vms_stats copy;
	static char buf[16384];
	int json = 0, i = 1;
	struct seg s;
	size_t n;

	if (i < argc && strcmp(argv[i], "--json") == 0) {
		json = 1;
		i++;
	}
	if (i + 1 != argc)
		cmd_usage_error("stat: expected one process id%s", "");
	long pid = parse_pid(argv[i]);
	const char *dir = live_dir();
	if (seg_open_or_say(dir, pid, 0, &s) != 0)
		return 1;
	snapshot(s.st, &copy);
	char comm[sizeof s.h->comm + 1];
	memcpy(comm, s.h->comm, sizeof s.h->comm);
	comm[sizeof s.h->comm] = '\0';
	seg_close(&s);
	n = json ? vms_stats_format_json_of(&copy, pid, buf, sizeof buf)
		 : vms_stats_format_table_of(&copy, pid, comm, buf, sizeof buf);
	fwrite(buf, 1, n, stdout);
	return 0;
}

/*
 * Queues the request signal to pid and waits (5 s at most) until *done
 * reaches req: 1, or 0 (said on stderr).  The process serves requests
 * from its fault signal handler, normally at once.
 */
static int ask(long pid, const uint64_t *done, uint64_t req)
{
	union sigval v = { .sival_int = VMS_LIVE_SIGVAL };
	if (sigqueue((pid_t)pid, SIGSEGV, v) != 0) {
		fprintf(stderr, "vmshim: cannot signal process %ld: %s\n", pid, strerror(errno));
		return 0;
	}
	for (int waited = 0; waited < 500; waited++) {
		if (__atomic_load_n(done, __ATOMIC_ACQUIRE) >= req)
			return 1;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "vmshim: process %ld did not answer within 5 seconds\n", pid);
	return 0;
}

static int cmd_limit(int argc, char **argv)
{
	uint64_t bytes;
	struct seg s;

	int now = argc > 1 && strcmp(argv[1], "--now") == 0;
	argc -= now;
	argv += now;
	if (argc != 3)
		cmd_usage_error("limit: expected [--now] a process id and a size%s", "");
	long pid = parse_pid(argv[1]);
	if (vms_option_parse(VMS_OPT_MEM_LIMIT, argv[2], &bytes) != 0)
		cmd_usage_error("limit: '%s' is not valid: expected a size (like 512M, 2G), or 0 "
				"for no limit", argv[2]);
	const char *dir = live_dir();
	if (seg_open_or_say(dir, pid, 1, &s) != 0)
		return 1;
	uint64_t pages = bytes / 4096;
	uint64_t old = __atomic_exchange_n(&s.st->limit_pages, pages, __ATOMIC_RELAXED);
	printf("pid %ld: resident limit %llu pages (was %llu)\n", pid, (unsigned long long)pages,
	       (unsigned long long)old);
	int64_t resident = __atomic_load_n(&s.st->resident_pages.now, __ATOMIC_RELAXED);
	if (now && pages != 0 && resident > (int64_t)pages) {
		/* Reclaim now rather than at the next page the process charges:
		 * from a signal handler, like a fault of another thread, so a
		 * buffer the interrupted thread has handed to a blocking system
		 * call may go, and that call fail with EFAULT, until system calls
		 * pin their buffers (vm/pin.c). */
		uint64_t req = __atomic_add_fetch(&s.h->reclaim_request, 1, __ATOMIC_ACQ_REL);
		int served = ask(pid, &s.h->reclaim_done, req);
		resident = __atomic_load_n(&s.st->resident_pages.now, __ATOMIC_RELAXED);
		printf("pid %ld: %s; resident now %lld pages\n", pid,
		       served ? "reclaimed" : "did not answer the reclaim request (it will reclaim "
					    "at its next page)",
		       (long long)resident);
	}
	seg_close(&s);
	return 0;
}

/* The file-backed mappings of a process, to name callers object+offset. */
struct object {
	unsigned long lo, hi, off;
	char path[256];
};
struct objects {
	struct object *v;
	size_t n;
};

static void load_objects(long pid, struct objects *o)
{
	char path[64], line[512];
	size_t cap = 0;
	o->v = NULL;
	o->n = 0;
	snprintf(path, sizeof path, "/proc/%ld/maps", pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL) {
		struct object ob;
		int at = 0;
		if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %n", &ob.lo, &ob.hi, &ob.off, &at) < 3 ||
		    at == 0 || line[at] != '/')
			continue;
		snprintf(ob.path, sizeof ob.path, "%.*s", (int)strcspn(line + at, "\n"), line + at);
		if (o->n == cap) {
			cap = cap ? 2 * cap : 64;
			struct object *nv = realloc(o->v, cap * sizeof *nv);
			if (nv == NULL)
				break;
			o->v = nv;
		}
		o->v[o->n++] = ob;
	}
	fclose(f);
}

static const char *symbolise(const struct objects *o, unsigned long a, char *buf, size_t cap)
{
	for (size_t i = 0; i < o->n; i++) {
		if (o->v[i].lo <= a && a < o->v[i].hi) {
			const char *base = strrchr(o->v[i].path, '/');
			snprintf(buf, cap, "%s+0x%lx", base ? base + 1 : o->v[i].path,
				 a - o->v[i].lo + o->v[i].off);
			return buf;
		}
	}
	snprintf(buf, cap, "not in a file mapping");
	return buf;
}

static int cmd_maps(int argc, char **argv)
{
	char path[VMS_OPTION_PATH_MAX + 40], buf[65536];
	struct seg s;

	if (argc != 2)
		cmd_usage_error("maps: expected one process id%s", "");
	long pid = parse_pid(argv[1]);
	const char *dir = live_dir();
	if (seg_open_or_say(dir, pid, 1, &s) != 0)
		return 1;
	uint64_t req = __atomic_add_fetch(&s.h->maps_request, 1, __ATOMIC_ACQ_REL);
	int served = ask(pid, &s.h->maps_done, req);
	seg_close(&s);
	if (!served)
		return 1;
	vms_live_path(path, sizeof path, dir, pid, ".maps");
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		fprintf(stderr, "vmshim: %s: %s\n", path, strerror(errno));
		return 1;
	}
	FILE *in = fdopen(fd, "r");
	if (in == NULL) {
		perror("vmshim");
		return 1;
	}
	struct objects objs;
	load_objects(pid, &objs);
	char line[1024];
	while (fgets(line, sizeof line, in) != NULL) {
		char *c = strstr(line, " caller=");
		unsigned long caller;
		if (c != NULL && sscanf(c, " caller=%lx", &caller) == 1 && caller != 0) {
			line[strcspn(line, "\n")] = '\0';
			printf("%s (%s)\n", line, symbolise(&objs, caller, buf, sizeof buf));
		} else {
			fputs(line, stdout);
		}
	}
	fclose(in);
	free(objs.v);
	unlink(path);
	return 0;
}

/* --- top ------------------------------------------------------------------ */

struct row {
	long pid;
	char comm[17];
	struct vms_stats st;
};

struct sample {
	struct row *rows;
	size_t n;
};

static void sample_take(const char *dir, struct sample *out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t cap = 0;
	out->rows = NULL;
	out->n = 0;
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		struct seg s;
		int why;
		if (end == e->d_name || *end != '\0' || pid <= 0)
			continue;
		if (seg_open(dir, pid, 0, &s, &why) != 0)
			continue;
		if (out->n == cap) {
			struct row *old = out->rows;
			cap = cap ? 2 * cap : 16;
			out->rows = aligned_alloc(4096, cap * sizeof *out->rows);
			if (out->rows == NULL) {
				perror("vmshim");
				exit(2);
			}
			if (old != NULL)
				memcpy(out->rows, old, out->n * sizeof *old);
			free(old);
		}
		struct row *r = &out->rows[out->n++];
		r->pid = pid;
		memcpy(r->comm, s.h->comm, 16);
		r->comm[16] = '\0';
		snapshot(s.st, &r->st);
		seg_close(&s);
	}
	closedir(d);
}

static const struct row *find_row(const struct sample *s, long pid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->rows[i].pid == pid)
			return &s->rows[i];
	return NULL;
}

static void human_pages(char *buf, size_t cap, int64_t pages)
{
	double b = (double)pages * 4096;
	const char *u = "BKMGTP";
	while (b >= 1024 * 10 && u[1]) {
		b /= 1024;
		u++;
	}
	snprintf(buf, cap, b < 10 ? "%.1f%c" : "%.0f%c", b, *u);
}

static int by_resident(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	return (y->st.resident_pages.now > x->st.resident_pages.now) -
	       (y->st.resident_pages.now < x->st.resident_pages.now);
}

static int cmd_top(int argc, char **argv)
{
	double delay = 1;
	long count = -1;
	for (int i = 1; i < argc; i++) {
		char *end;
		if (strcmp(argv[i], "-d") == 0 && i + 1 < argc) {
			delay = strtod(argv[++i], &end);
			if (*end != '\0' || !(delay > 0 && delay <= 3600))
				cmd_usage_error("top: -d '%s': expected seconds, from 0.01 to 3600",
						argv[i]);
		} else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
			count = strtol(argv[++i], &end, 10);
			if (*end != '\0' || count <= 0)
				cmd_usage_error("top: -n '%s': expected a positive count", argv[i]);
		} else {
			cmd_usage_error("top: unknown argument '%s'", argv[i]);
		}
	}
	const char *dir = live_dir();
	int tty = isatty(1);
	struct sample prev, cur;
	struct timespec t0, t1;
	sample_take(dir, &prev);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long iter = 0; count < 0 || iter < count; iter++) {
		struct timespec ts = { (time_t)delay, (long)((delay - (time_t)delay) * 1e9) };
		nanosleep(&ts, NULL);
		sample_take(dir, &cur);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		if (cur.n > 1)
			qsort(cur.rows, cur.n, sizeof *cur.rows, by_resident);
		if (tty)
			fputs("\033[H\033[2J", stdout);
		printf("vmshim top: %zu process%s under the shim (%s), per second over %.1f s\n", cur.n,
		       cur.n == 1 ? "" : "es", dir, dt);
		printf("%7s %-15s %7s %7s %7s %7s %9s %8s %8s %8s %8s %8s\n", "PID", "COMMAND", "RES",
		       "PEAK", "SWAPPED", "LIMIT", "ZERO/s", "FILE/s", "COW/s", "SWPIN/s", "MINOR/s",
		       "EVICT/s");
		for (size_t i = 0; i < cur.n; i++) {
			const struct row *r = &cur.rows[i], *p = find_row(&prev, r->pid);
			char res[16], peak[16], swp[16], lim[16];
			double rate[VMS_FAULT_COUNT] = { 0 }, ev = 0;
			for (int k = 0; k < VMS_FAULT_COUNT; k++)
				rate[k] = p ? (double)(r->st.faults[k] - p->st.faults[k]) / dt : 0;
			for (int k = 0; k < VMS_EVICT_COUNT; k++)
				ev += p ? (double)(r->st.evictions[k] - p->st.evictions[k]) / dt : 0;
			human_pages(res, sizeof res, r->st.resident_pages.now);
			human_pages(peak, sizeof peak, r->st.resident_pages.peak);
			human_pages(swp, sizeof swp, r->st.swap_slots.now);
			if (r->st.limit_pages)
				human_pages(lim, sizeof lim, (int64_t)r->st.limit_pages);
			else
				snprintf(lim, sizeof lim, "-");
			printf("%7ld %-15s %7s %7s %7s %7s %9.0f %8.0f %8.0f %8.0f %8.0f %8.0f\n", r->pid,
			       r->comm, res, peak, swp, lim, rate[VMS_FAULT_zero_fill],
			       rate[VMS_FAULT_file], rate[VMS_FAULT_cow], rate[VMS_FAULT_swap_in],
			       rate[VMS_FAULT_minor], ev);
		}
		fflush(stdout);
		free(prev.rows);
		prev = cur;
		t0 = t1;
	}
	free(prev.rows);
	return 0;
}

int vms_live_command(int argc, char **argv)
{
	if (strcmp(argv[0], "stat") == 0)
		return cmd_stat(argc, argv);
	if (strcmp(argv[0], "top") == 0)
		return cmd_top(argc, argv);
	if (strcmp(argv[0], "limit") == 0)
		return cmd_limit(argc, argv);
	if (strcmp(argv[0], "maps") == 0)
		return cmd_maps(argc, argv);
	return -1;
}
