/*
 * vm/swap.c - the swap device: one swap file, its slots and their
 * reference counts.
 *
 * Owns: creating the swap file (lazily, at the first eviction), the slot
 * allocator, slot reference counts, and the reads and writes of slot
 * contents.  What goes to swap and when is vm/reclaim.c's business.
 *
 * The file is made with O_TMPFILE (or created and unlinked at once where
 * the filesystem lacks it) in VMSHIM_SWAP_DIR, $TMPDIR or /tmp, mode 0600,
 * close-on-exec, with O_DIRECT unless VMSHIM_SWAP_DIRECT=0 or the
 * filesystem refuses it (buffers, offsets and lengths are whole pages).
 * It grows as slots are used, up to VMSHIM_SWAP_MAX.
 *
 * Slots and reference counts.  Slot i is the page at offset i * 4096.  Its
 * reference count lives in an array in MAP_SHARED memory, so a forked
 * child shares the file, the array and every slot in use at the fork
 * (vm/fork.c takes one more reference on each), and both processes keep
 * allocating from the same file afterwards.  Every change is an atomic on
 * that shared word: allocation is a compare-and-swap 0 -> 1, so two
 * processes never get the same slot, and there is no lock.  A slot's
 * contents never change while its count is above zero (a page swapped in
 * and written gets a new slot when it is evicted again).
 *
 * Allocation keeps neighbours together: a run of free slots is looked for
 * from a next-fit cursor, a short bounded scan; failing that, fresh slots
 * are taken at the high-water mark (shared), so one cluster of pages gets
 * consecutive slots and goes out in one write.
 *
 * The swap entry stored in a PTE (its SLOT field) is the slot number.
 *
 * Async-signal-safe: raw system calls and atomics only; called from the
 * fault handler.  The caller serialises device creation (reclaim lock).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <time.h>

#include "os/fmt.h"
#include "os/raw.h"
#include "util/log.h"
#include "util/options.h"
#include "util/stats.h"
#include "vm/mm.h"
#include "vm/swap.h"

/* The part of the shared mapping before the counts. */
struct swap_shared {
	uint64_t high_water;  /* slots below it have been handed out at least once */
	uint64_t in_use;      /* slots with a count above zero, all processes */
};

#define SHARED_HEADER 4096UL
/* A bounded search for a free run before taking fresh slots. */
#define SCAN_LIMIT 4096u

static struct {
	int fd;                       /* the swap file, -1 until created */
	struct swap_shared *shared;   /* shared header */
	uint32_t *refs;               /* shared reference counts, one per slot */
	uint64_t max_slots;           /* VMSHIM_SWAP_MAX in pages */
	uint64_t cursor;              /* next-fit position (this process) */
	int create_errno;             /* why creation failed, once */
} dev = { .fd = -1 };

const char *vms_swap_tmpdir;

bool vms_swap_ready(void) { return dev.fd >= 0; }

/* The directory the swap file goes to. */
static const char *swap_dir(void)
{
	const char *dir = vms_option_str(VMS_OPT_SWAP_DIR);
	if (dir == NULL) {
		dir = vms_swap_tmpdir;
	}
	return dir != NULL && dir[0] != '\0' ? dir : "/tmp";
}

static int open_swap_file(const char *dir, int direct)
{
	long fd = vms_raw_open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC | O_EXCL | direct, 0600);
	if (!vms_raw_failed(fd)) {
		return (int)fd;
	}
	if (fd != -EOPNOTSUPP && fd != -EISDIR && fd != -EINVAL) {
		return (int)fd;
	}
	/* No O_TMPFILE on this filesystem: create a fresh name, unlink it at once. */
	char path[VMS_OPTION_PATH_MAX + 64];
	for (unsigned i = 0; i < 100; i++) {
		struct timespec ts = { 0, 0 };
		vms_raw_clock_gettime(CLOCK_MONOTONIC, &ts);
		vms_fmt(path, sizeof path, "%s/.vmshim-swap-%ld-%lx", dir, vms_raw_getpid(),
			(unsigned long)ts.tv_nsec ^ ((unsigned long)ts.tv_sec << 20) ^ i);
		fd = vms_raw_open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW | direct,
				  0600);
		if (fd == -EEXIST) {
			continue;
		}
		if (!vms_raw_failed(fd)) {
			vms_raw_unlink(path);
		}
		return (int)fd;
	}
	return -EEXIST;
}

/* Creates the file and the shared counts.  0 or errno (reported once). */
static int create_device(void)
{
	if (dev.create_errno != 0) {
		return dev.create_errno;
	}
	dev.max_slots = vms_option_num(VMS_OPT_SWAP_MAX) / VMS_PAGE_SIZE;
	const char *dir = swap_dir();
	/* O_DIRECT: swapped pages are not kept a second time in the page
	 * cache, where they would count as the machine's memory again.  A
	 * filesystem without it (EINVAL) gets buffered I/O. */
	int direct = vms_option_num(VMS_OPT_SWAP_DIRECT) ? O_DIRECT : 0;
	int fd = open_swap_file(dir, direct);
	if (fd == -EINVAL && direct != 0) {
		direct = 0;
		fd = open_swap_file(dir, 0);
	}
	if (fd < 0) {
		dev.create_errno = -fd;
		vms_log(VMS_LOG_ERROR,
			"cannot create the swap file in %s: errno %d; pages above the memory "
			"limit stay resident",
			dir, -fd);
		return dev.create_errno;
	}
	size_t len = SHARED_HEADER + vms_page_up(dev.max_slots * sizeof(uint32_t));
	long m = vms_raw_mmap(NULL, len, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vms_raw_failed(m)) {
		vms_raw_close(fd);
		dev.create_errno = (int)-m;
		vms_log(VMS_LOG_ERROR, "cannot map the swap reference counts: errno %ld", -m);
		return dev.create_errno;
	}
	dev.shared = (struct swap_shared *)m;
	dev.refs = (uint32_t *)(m + SHARED_HEADER);
	__atomic_store_n(&dev.fd, fd, __ATOMIC_RELEASE);
	vms_log(VMS_LOG_INFO, "swap file created in %s (at most %llu pages, %s I/O)", dir,
		(unsigned long long)dev.max_slots, direct ? "direct" : "buffered");
	return 0;
}

/* Takes slot s if free. */
static bool take(uint64_t s)
{
	uint32_t zero = 0;
	return __atomic_load_n(&dev.refs[s], __ATOMIC_RELAXED) == 0 &&
	       __atomic_compare_exchange_n(&dev.refs[s], &zero, 1, 0, __ATOMIC_ACQ_REL,
					   __ATOMIC_RELAXED);
}

/* Extends a run taken at first while the next slots are free. */
static size_t extend(uint64_t first, size_t want, uint64_t limit)
{
	size_t n = 1;
	while (n < want && first + n < limit && take(first + n)) {
		n++;
	}
	return n;
}

static void account(size_t n)
{
	__atomic_add_fetch(&dev.shared->in_use, n, __ATOMIC_RELAXED);
	vms_gauge_add(&vms_stats.swap_slots, (int64_t)n);
}

/* The length of the free run at s (up to want), without taking it. */
static size_t free_run(uint64_t s, size_t want, uint64_t limit)
{
	size_t n = 0;
	while (n < want && s + n < limit && __atomic_load_n(&dev.refs[s + n], __ATOMIC_RELAXED) == 0) {
		n++;
	}
	return n;
}

/* Takes the run [s, s + len) found free (or its prefix, if another
 * process raced us); returns how many were taken. */
static size_t take_run(uint64_t s, size_t len)
{
	if (!take(s)) {
		return 0;
	}
	return extend(s, len, s + len);
}

size_t vms_swap_alloc(size_t want, uint64_t *first)
{
	if (dev.fd < 0 && create_device() != 0) {
		return 0;
	}
	/* A run this long is worth reusing: shorter ones would scatter a
	 * cluster over many writes. */
	size_t enough = want < 16 ? want : 16;
	uint64_t hw = __atomic_load_n(&dev.shared->high_water, __ATOMIC_ACQUIRE);
	/* Reuse: a bounded next-fit scan below the high-water mark. */
	uint64_t s = dev.cursor < hw ? dev.cursor : 0;
	for (unsigned scanned = 0; scanned < SCAN_LIMIT && hw > 0;) {
		size_t len = free_run(s, want, hw);
		if (len >= enough) {
			size_t got = take_run(s, len);
			if (got > 0) {
				dev.cursor = s + got;
				*first = s;
				account(got);
				return got;
			}
		}
		scanned += (unsigned)len + 1;
		s += len + 1;
		if (s >= hw) {
			s = 0;
		}
	}
	/* Fresh slots at the high-water mark, consecutive. */
	while (hw < dev.max_slots) {
		size_t n = want < dev.max_slots - hw ? want : (size_t)(dev.max_slots - hw);
		if (__atomic_compare_exchange_n(&dev.shared->high_water, &hw, hw + n, 0,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			for (uint64_t x = hw; x < hw + n; x++) {
				/* Nobody had them: fresh slots are free. */
				__atomic_store_n(&dev.refs[x], 1, __ATOMIC_RELEASE);
			}
			dev.cursor = hw + n;
			*first = hw;
			account(n);
			return n;
		}
	}
	/* The file is at its maximum: any free slot will do. */
	for (uint64_t x = 0; x < hw; x++) {
		if (take(x)) {
			size_t n = extend(x, want, hw);
			dev.cursor = x + n;
			*first = x;
			account(n);
			return n;
		}
	}
	return 0;
}

void vms_swap_ref(uint64_t slot)
{
	__atomic_add_fetch(&dev.refs[slot], 1, __ATOMIC_RELAXED);
}

void vms_swap_put(uint64_t slot)
{
	uint32_t left = __atomic_sub_fetch(&dev.refs[slot], 1, __ATOMIC_ACQ_REL);
	if (left == 0) {
		__atomic_sub_fetch(&dev.shared->in_use, 1, __ATOMIC_RELAXED);
	}
	/* This process's gauge: the slots it holds references on. */
	vms_gauge_add(&vms_stats.swap_slots, -1);
}

uint32_t vms_swap_refcount(uint64_t slot)
{
	return dev.fd >= 0 && slot < dev.max_slots
		       ? __atomic_load_n(&dev.refs[slot], __ATOMIC_RELAXED)
		       : 0;
}

/* Moves npages pages between buf and the slots from first, retrying short
 * transfers and EINTR: 0 or errno. */
static int transfer(uint64_t first, char *buf, size_t npages, bool write)
{
	size_t len = npages * VMS_PAGE_SIZE;
	off_t off = (off_t)(first * VMS_PAGE_SIZE);
	while (len > 0) {
		long r = write ? vms_raw_pwrite(dev.fd, buf, len, off)
			       : vms_raw_pread(dev.fd, buf, len, off);
		if (r == -EINTR) {
			continue;
		}
		if (vms_raw_failed(r)) {
			return (int)-r;
		}
		if (r == 0) {
			/* A write that makes no progress: no room; a read past the
			 * end: the slot was never written. */
			return write ? ENOSPC : EIO;
		}
		buf += r;
		off += r;
		len -= (size_t)r;
	}
	return 0;
}

int vms_swap_write(uint64_t first, const void *buf, size_t npages)
{
	return transfer(first, (char *)(uintptr_t)buf, npages, true);
}

int vms_swap_read(uint64_t first, void *buf, size_t npages)
{
	return transfer(first, buf, npages, false);
}
