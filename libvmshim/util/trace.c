/*
 * util/trace.c - the event trace; the format is in util/trace.h.
 *
 * Owns: the trace file descriptor and the per-thread buffers.
 *
 * Invariants: a buffer is written only by its owner thread, between a
 * successful compare-and-swap of busy from 0 to 1 and the release store of
 * 0, or by the exit flush under the same claim; so a signal handler that
 * interrupts its own thread mid-event finds busy set and drops its event
 * instead of corrupting the buffer.  Buffers come from raw mmap (outside
 * the arena), live on a lock-free list, and are never freed (a thread's
 * records survive its exit and are flushed at process exit).  The file is
 * O_APPEND: each flush lands whole after every earlier one.
 *
 * Which file: VMSHIM_TRACE with %p expanded.  A file already holding the
 * trace of this very pid (the image before an exec) is continued; without
 * %p, a file holding the trace of another live process (a parent, or a
 * program started by it) leaves it alone and writes FILE.PID instead.
 */
#include "config.h"
#include "util/trace.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "os/fmt.h"
#include "os/raw.h"
#include "util/log.h"
#include "util/options.h"
#include "util/stats.h"
#include "vm/mm.h"

#define BUF_RECORDS 1023

struct tbuf {
	struct tbuf *next;
	int busy;
	uint32_t n;
	uint16_t tid;
	char pad[14];
	struct vms_trace_rec rec[BUF_RECORDS];
};

int vms_trace_enabled;
static int trace_fd = -1;
static long trace_pid;  /* the process the trace is of (not a vfork child) */
static struct tbuf *all_bufs;
static uint64_t dropped;
static __thread struct tbuf *my_buf __attribute__((tls_model("initial-exec")));

static uint64_t now_ns(void)
{
	struct timespec ts;
	/* vDSO: no system call, async-signal-safe. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static struct tbuf *new_buf(void)
{
	long r = vms_raw_mmap(NULL, sizeof(struct tbuf), PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vms_raw_failed(r)) {
		return NULL;
	}
	struct tbuf *b = (struct tbuf *)r;
	b->tid = (uint16_t)vms_raw_gettid();
	struct tbuf *head = __atomic_load_n(&all_bufs, __ATOMIC_RELAXED);
	do {
		b->next = head;
	} while (!__atomic_compare_exchange_n(&all_bufs, &head, b, 1, __ATOMIC_RELEASE,
					      __ATOMIC_RELAXED));
	return b;
}

/* Writes out b's records; b claimed.  A failed write loses them (counted). */
static void flush(struct tbuf *b)
{
	if (b->n == 0) {
		return;
	}
	int fd = __atomic_load_n(&trace_fd, __ATOMIC_RELAXED);
	long r = fd < 0 ? -EBADF : vms_raw_write_all(fd, b->rec, b->n * sizeof b->rec[0]);
	if (vms_raw_failed(r)) {
		__atomic_fetch_add(&dropped, b->n, __ATOMIC_RELAXED);
	}
	b->n = 0;
}

static int is_vm_kind(enum vms_trace_kind kind)
{
	return kind < VMS_TRACE_MAP && kind != VMS_TRACE_GENUINE;
}

void vms_trace_emit(enum vms_trace_kind kind, uintptr_t addr, uint32_t npages, uint64_t aux)
{
	struct tbuf *b = my_buf;
	if (b == NULL) {
		b = my_buf = new_buf();
		if (b == NULL) {
			__atomic_fetch_add(&dropped, 1, __ATOMIC_RELAXED);
			return;
		}
	}
	int idle = 0;
	if (!__atomic_compare_exchange_n(&b->busy, &idle, 1, 0, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED)) {
		__atomic_fetch_add(&dropped, 1, __ATOMIC_RELAXED);
		return;
	}
	if (is_vm_kind(kind) && vms_in_arena(addr)) {
		/* The map lock is held (trace.h): the VMA set is stable. */
		const struct vms_vma *v = vms_vma_find(&vms_mm.vmas, addr);
		aux = v != NULL ? v->start : 0;
	}
	if (b->n == BUF_RECORDS) {
		flush(b);
	}
	struct vms_trace_rec *r = &b->rec[b->n];
	r->ns = now_ns();
	r->addr = addr;
	r->aux = aux;
	r->npages = npages;
	r->kind = (uint16_t)kind;
	r->tid = b->tid;
	b->n++;
	__atomic_store_n(&b->busy, 0, __ATOMIC_RELEASE);
}

/* The pid in the trace header of fd, or 0 if it holds no trace. */
static long header_pid(int fd)
{
	struct vms_trace_file_header h;
	long n = vms_raw_pread(fd, &h, sizeof h, 0);
	if (n != (long)sizeof h || memcmp(h.magic, "VMSTRACE", 8) != 0) {
		return 0;
	}
	return (long)h.pid;
}

static int pid_alive(long pid)
{
	return pid > 0 && vms_raw_tgkill((int)pid, (int)pid, 0) != -ESRCH;
}

/* Opens path for this process's trace (see the top of the file): the fd,
 * or -1.  *other is set when the file belongs to another live process. */
static int open_trace(const char *path, int *other)
{
	long pid = vms_raw_getpid();
	*other = 0;
	long fd = vms_raw_open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (vms_raw_failed(fd)) {
		vms_log(VMS_LOG_ERROR, "VMSHIM_TRACE: cannot open %s: errno %ld", path, -fd);
		return -1;
	}
	long owner = header_pid((int)fd);
	if (owner == pid) {
		return (int)fd; /* this process before exec: continue */
	}
	if (owner != 0 && pid_alive(owner)) {
		vms_raw_close((int)fd);
		*other = 1;
		return -1;
	}
	struct vms_trace_file_header h;
	memset(&h, 0, sizeof h);
	memcpy(h.magic, "VMSTRACE", 8);
	h.version = 1;
	h.record_size = sizeof(struct vms_trace_rec);
	h.page_size = VMS_PAGE_SIZE;
	h.fault_around = vms_mm.fault_around;
	h.pid = pid;
	h.start_ns = now_ns();
	h.arena_start = vms_mm.base;
	h.arena_end = vms_mm.end;
	long r = vms_raw_ftruncate((int)fd, 0);
	if (!vms_raw_failed(r)) {
		r = vms_raw_write_all((int)fd, &h, sizeof h);
	}
	if (vms_raw_failed(r)) {
		vms_log(VMS_LOG_ERROR, "VMSHIM_TRACE: cannot write %s: errno %ld", path, -r);
		vms_raw_close((int)fd);
		return -1;
	}
	return (int)fd;
}

static void start(void)
{
	const char *pattern = vms_option_str(VMS_OPT_TRACE);
	if (pattern == NULL) {
		return;
	}
	long pid = vms_raw_getpid();
	char path[VMS_OPTION_PATH_MAX + 32];
	if (vms_stats_expand_path(pattern, pid, path, sizeof path) != 0) {
		vms_log(VMS_LOG_ERROR, "VMSHIM_TRACE=%s: path too long", pattern);
		return;
	}
	int other;
	int fd = open_trace(path, &other);
	if (fd < 0 && other) {
		size_t n = strlen(path);
		vms_fmt(path + n, sizeof path - n, ".%ld", pid);
		fd = open_trace(path, &other);
	}
	if (fd < 0) {
		return;
	}
	trace_pid = pid;
	__atomic_store_n(&trace_fd, fd, __ATOMIC_RELAXED);
	__atomic_store_n(&vms_trace_enabled, 1, __ATOMIC_RELEASE);
}

void vms_trace_init(void)
{
	start();
}

void vms_trace_fork_child(void)
{
	if (trace_fd < 0) {
		return;
	}
	/* Only this thread exists; the buffers hold the parent's events,
	 * which the parent writes itself. */
	__atomic_store_n(&vms_trace_enabled, 0, __ATOMIC_RELAXED);
	vms_raw_close(trace_fd);
	trace_fd = -1;
	for (struct tbuf *b = all_bufs; b != NULL; b = b->next) {
		b->n = 0;
		b->busy = 0;
		b->tid = (uint16_t)vms_raw_gettid();
	}
	dropped = 0;
	start();
}

/* Claims b against its owner thread, giving up after a while. */
static int claim(struct tbuf *b)
{
	for (int spins = 0; spins < 100000; spins++) {
		int idle = 0;
		if (__atomic_compare_exchange_n(&b->busy, &idle, 1, 0, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED)) {
			return 1;
		}
		vms_cpu_relax();
	}
	return 0;
}

/* Appends /proc/self/maps as a maps_text record, to symbolise callers. */
static void write_maps_text(int fd)
{
	const size_t cap = 8u << 20;
	long m = vms_raw_mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vms_raw_failed(m)) {
		return;
	}
	char *text = (char *)m;
	size_t len = 0;
	long mfd = vms_raw_open("/proc/self/maps", O_RDONLY | O_CLOEXEC, 0);
	if (!vms_raw_failed(mfd)) {
		long n;
		while (len < cap - 32 && (n = vms_raw_read((int)mfd, text + len, cap - 32 - len)) > 0) {
			len += (size_t)n;
		}
		vms_raw_close((int)mfd);
	}
	size_t padded = (len + 31) & ~(size_t)31;
	memset(text + len, 0, padded - len);
	struct vms_trace_rec r = { now_ns(), 0, 0, (uint32_t)len, VMS_TRACE_MAPS_TEXT,
				   (uint16_t)vms_raw_gettid() };
	vms_raw_write_all(fd, &r, sizeof r);
	vms_raw_write_all(fd, text, padded);
	vms_raw_munmap(text, cap);
}

void vms_trace_exit(void)
{
	/* A vfork child exiting shares the memory of the traced process. */
	if (trace_pid != vms_raw_getpid()) {
		return;
	}
	if (!__atomic_exchange_n(&vms_trace_enabled, 0, __ATOMIC_ACQ_REL)) {
		return;
	}
	int fd = trace_fd;
	for (struct tbuf *b = __atomic_load_n(&all_bufs, __ATOMIC_ACQUIRE); b != NULL; b = b->next) {
		if (claim(b)) {
			flush(b);
			__atomic_store_n(&b->busy, 0, __ATOMIC_RELEASE);
		} else {
			__atomic_fetch_add(&dropped, b->n, __ATOMIC_RELAXED);
		}
	}
	write_maps_text(fd);
	struct vms_trace_rec end = { now_ns(), 0, __atomic_load_n(&dropped, __ATOMIC_RELAXED), 0,
				     VMS_TRACE_END, (uint16_t)vms_raw_gettid() };
	vms_raw_write_all(fd, &end, sizeof end);
}
