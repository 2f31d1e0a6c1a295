/*
 * util/live.c - the live segment; see util/live.h.
 *
 * Invariants: after vms_live_init succeeds, the pages of vms_stats are a
 * MAP_SHARED mapping of this process's own segment file (never another
 * process's: the fork child handler replaces the inherited mapping before
 * anything in the child counts); header points at page 0 of the same
 * file.  Raw calls only, no allocation: this runs inside the first malloc
 * and in pthread_atfork handlers.
 */
#include "config.h"
#include "util/live.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "os/fmt.h"
#include "os/raw.h"
#include "util/log.h"
#include "util/options.h"

static struct vms_live_header *header;
static char live_dir[VMS_OPTION_PATH_MAX];
static char live_file[VMS_OPTION_PATH_MAX + 32];
/* The counters at fork (vms_live_fork_prepare), for the child's segment. */
static struct vms_stats fork_snapshot;

int vms_live_dir(char *buf, size_t cap, const char *option_value, long uid)
{
	size_t n = option_value != NULL ? vms_fmt(buf, cap, "%s", option_value)
					: vms_fmt(buf, cap, "/dev/shm/vmshim-%ld", uid);
	return n + 1 < cap ? 0 : -1;
}

int vms_live_path(char *buf, size_t cap, const char *dir, long pid, const char *suffix)
{
	size_t n = vms_fmt(buf, cap, "%s/%ld%s", dir, pid, suffix);
	return n + 1 < cap ? 0 : -1;
}

uint64_t vms_live_start_time(long pid)
{
	char path[64], buf[1024];
	vms_fmt(path, sizeof path, "/proc/%ld/stat", pid);
	long fd = vms_raw_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (vms_raw_failed(fd)) {
		return 0;
	}
	long n = vms_raw_read((int)fd, buf, sizeof buf - 1);
	vms_raw_close((int)fd);
	if (n <= 0) {
		return 0;
	}
	buf[n] = '\0';
	/* After "pid (comm)", which may hold ')' and spaces: the last ')'. */
	char *p = NULL;
	for (long i = 0; i < n; i++) {
		if (buf[i] == ')') {
			p = buf + i;
		}
	}
	if (p == NULL) {
		return 0;
	}
	/* Field 3 (state) follows; start time is field 22. */
	int field = 2;
	for (p++; *p != '\0' && field < 21; p++) {
		if (*p == ' ') {
			field++;
		}
	}
	uint64_t v = 0;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (uint64_t)(*p++ - '0');
	}
	return v;
}

static void read_comm(char *out, size_t cap)
{
	long fd = vms_raw_open("/proc/self/comm", O_RDONLY | O_CLOEXEC, 0);
	long n = vms_raw_failed(fd) ? 0 : vms_raw_read((int)fd, out, cap - 1);
	if (!vms_raw_failed(fd)) {
		vms_raw_close((int)fd);
	}
	n = n < 0 ? 0 : n;
	out[n] = '\0';
	if (n > 0 && out[n - 1] == '\n') {
		out[n - 1] = '\0';
	}
}

/* The directory exists (made if missing) and belongs to us: 0 or -1. */
static int ensure_dir(const char *dir, bool is_default)
{
	long r = vms_raw_mkdir(dir, 0700);
	if (vms_raw_failed(r) && r != -EEXIST) {
		vms_log(VMS_LOG_INFO, "live statistics off: cannot create %s: errno %ld", dir, -r);
		return -1;
	}
	long fd = vms_raw_open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW, 0);
	if (vms_raw_failed(fd)) {
		vms_log(VMS_LOG_INFO, "live statistics off: cannot open %s: errno %ld", dir, -fd);
		return -1;
	}
	struct stat st;
	r = vms_raw_fstat((int)fd, &st);
	vms_raw_close((int)fd);
	if (vms_raw_failed(r) || (long)st.st_uid != vms_raw_getuid() ||
	    (is_default && (st.st_mode & 077) != 0)) {
		vms_log(VMS_LOG_INFO, "live statistics off: %s is not a private directory of this user",
			dir);
		return -1;
	}
	return 0;
}

/*
 * Makes the segment file for this process with contents as its counters
 * and maps it over vms_stats; fills and publishes the header.  0 or -1
 * (nothing mapped over vms_stats then).
 */
static int make_segment(const struct vms_stats *contents)
{
	long pid = vms_raw_getpid();
	if (vms_live_path(live_file, sizeof live_file, live_dir, pid, "") != 0) {
		return -1;
	}
	/* A file of the same pid: left by the image this one exec'd from, or
	 * by a dead process whose pid was reused. */
	vms_raw_unlink(live_file);
	long fd = vms_raw_open(live_file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (vms_raw_failed(fd)) {
		vms_log(VMS_LOG_INFO, "live statistics off: cannot create %s: errno %ld", live_file,
			-fd);
		return -1;
	}
	long r = vms_raw_ftruncate((int)fd, (off_t)VMS_LIVE_SIZE);
	if (!vms_raw_failed(r)) {
		r = vms_raw_pwrite((int)fd, contents, sizeof *contents, VMS_LIVE_STATS_OFFSET);
		r = r == (long)sizeof *contents ? 0 : (vms_raw_failed(r) ? r : -EIO);
	}
	long h = vms_raw_failed(r) ? r
				   : vms_raw_mmap(NULL, VMS_LIVE_STATS_OFFSET, PROT_READ | PROT_WRITE,
						  MAP_SHARED, (int)fd, 0);
	long s = vms_raw_failed(h) ? h
				   : vms_raw_mmap(&vms_stats, sizeof vms_stats, PROT_READ | PROT_WRITE,
						  MAP_SHARED | MAP_FIXED, (int)fd,
						  VMS_LIVE_STATS_OFFSET);
	vms_raw_close((int)fd);
	if (vms_raw_failed(s)) {
		if (!vms_raw_failed(h)) {
			vms_raw_munmap((void *)h, VMS_LIVE_STATS_OFFSET);
		}
		vms_raw_unlink(live_file);
		vms_log(VMS_LOG_INFO, "live statistics off: cannot map %s: errno %ld", live_file, -s);
		return -1;
	}
	struct vms_live_header *hd = (struct vms_live_header *)h;
	hd->version = VMS_LIVE_VERSION;
	hd->stats_offset = VMS_LIVE_STATS_OFFSET;
	hd->stats_size = sizeof(struct vms_stats);
	hd->n_calls = VMS_CALL_COUNT;
	hd->n_faults = VMS_FAULT_COUNT;
	hd->n_evictions = VMS_EVICT_COUNT;
	hd->pid = pid;
	hd->start_time = vms_live_start_time(pid);
	read_comm(hd->comm, sizeof hd->comm);
	__atomic_store_n(&hd->magic, VMS_LIVE_MAGIC, __ATOMIC_RELEASE);
	__atomic_store_n(&header, hd, __ATOMIC_RELEASE);
	return 0;
}

void vms_live_init(void)
{
	if (!vms_option_num(VMS_OPT_LIVE)) {
		return;
	}
	const char *opt = vms_option_str(VMS_OPT_LIVE_DIR);
	if (vms_live_dir(live_dir, sizeof live_dir, opt, vms_raw_getuid()) != 0 ||
	    ensure_dir(live_dir, opt == NULL) != 0) {
		return;
	}
	/* Single-threaded here (initialisation): nothing counts meanwhile. */
	make_segment(&vms_stats);
}

void vms_live_fork_prepare(void)
{
	if (header != NULL) {
		memcpy(&fork_snapshot, &vms_stats, sizeof fork_snapshot);
	}
}

void vms_live_fork_child(void)
{
	struct vms_live_header *parent = header;
	if (parent == NULL) {
		return;
	}
	header = NULL;
	/* The child still maps the parent's header and counters. */
	vms_raw_munmap(parent, VMS_LIVE_STATS_OFFSET);
	if (make_segment(&fork_snapshot) == 0) {
		return;
	}
	/* No segment of its own: private memory, never the parent's page. */
	long r = vms_raw_mmap(&vms_stats, sizeof vms_stats, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (vms_raw_failed(r)) {
		vms_fatal("cannot detach the statistics from the parent's segment: errno %ld", -r);
	}
	memcpy(&vms_stats, &fork_snapshot, sizeof vms_stats);
}

void vms_live_exit(void)
{
	struct vms_live_header *h = __atomic_exchange_n(&header, NULL, __ATOMIC_ACQ_REL);
	if (h == NULL || h->pid != vms_raw_getpid()) {
		return;
	}
	/* The mapping stays: counters may still move until the process is gone. */
	vms_raw_unlink(live_file);
	char maps[VMS_OPTION_PATH_MAX + 40];
	if (vms_live_path(maps, sizeof maps, live_dir, h->pid, ".maps") == 0) {
		vms_raw_unlink(maps);
	}
}

struct vms_live_header *vms_live_header(void)
{
	return __atomic_load_n(&header, __ATOMIC_ACQUIRE);
}

const char *vms_live_dir_in_use(void)
{
	return live_dir;
}
