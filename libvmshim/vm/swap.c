/*
 * vm/swap.c - the swap device: one swap file, its slots and their
 * reference counts, and who holds them.
 *
 * Owns: creating the swap file (lazily, at the first eviction), the slot
 * allocator, slot reference counts, the record of which process holds
 * which reference (so that the references of a process that ended are
 * dropped), and the reads and writes of slot contents.  What goes to swap
 * and when is vm/reclaim.c's business.
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
 * Participants: references of processes that ended.  A process drops its
 * references as its pages die, and all that are left when it ends with
 * _exit (vms_swap_release_all).  A process that ends otherwise (exit(3),
 * which does not call the interposed _exit; exec; a signal) cannot, so
 * the processes sharing the file drop them for it:
 *
 *   - Each process of the tree that shares the file is a participant with
 *     an index p < PARTICIPANTS (the creator of the file is 0; each fork
 *     child gets a free one), and a bitmap in the shared memory with bit s
 *     set while it holds a reference on slot s.  A process takes at most
 *     one reference per slot (a slot is in one PTE of one process; fork
 *     gives the child its own), so the bit stands for that reference.
 *   - Liveness is an OFD lock (F_OFD_SETLK) on byte p of the swap file,
 *     held through the participant's own open file description of the
 *     file, which is also the descriptor it does its swap I/O with.  The
 *     kernel drops the lock when the last descriptor of that description
 *     closes: when the process ends, however it ends, or execs (the
 *     descriptor is close-on-exec).  A child's description is opened by
 *     its parent in the fork prepare handler (/proc/self/fd/N again) and
 *     locked there, before the child's bits are set; after the fork the
 *     parent closes its copy and the child closes its copy of the
 *     parent's.  So the lock is held without a gap from before the first
 *     bit to the child's end; if the fork fails, the parent's close drops
 *     it and the references taken for the child are dropped like a dead
 *     child's.  A grandchild gets its own index the same way.
 *   - Reaping (vms_swap_reap): a participant in state LIVE whose byte the
 *     reaper can lock (F_OFD_SETLK through its own description: it holds
 *     no other participant's lock, so success means no one does) is dead.
 *     Holding that lock also makes the reaper the only one reaping it; a
 *     reaper that dies mid-way drops it, and another finishes.  Each word
 *     of the dead bitmap is exchanged with 0 and each bit set drops one
 *     count; then the index is FREE again and the lock is released.
 *     Reaping runs when the allocator would grow the file (at most every
 *     10 ms, or after the file grew by an eighth) or finds it full, and
 *     when fork finds no free index.
 *   - Order keeps every race on the safe side (a leaked count, never a
 *     lost one): a reference is counted before its bit is set and its bit
 *     cleared before it is uncounted, so a process dying between the two
 *     steps leaks one count; a count is dropped only by the one that
 *     cleared the bit.  A bit is only set by its holder or, for a child
 *     being forked, by the parent holding the child's lock.
 *   - Untracked references: a fork child that found no free index (more
 *     than PARTICIPANTS - 1 processes at once), or could not reopen or
 *     lock the file, shares its parent's description (it keeps its
 *     parent's index alive, never reaped while it lives) and takes counts
 *     without bits: those are dropped only at _exit, as before.  Without
 *     OFD locks (Linux < 3.15) or the bitmaps' memory, every reference is
 *     untracked.
 *   - A process that closes the shim's descriptors (closefrom) loses its
 *     swap (reads fail) and is reaped as if it had ended.
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
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "os/fmt.h"
#include "os/raw.h"
#include "util/inject.h"
#include "util/log.h"
#include "util/options.h"
#include "util/stats.h"
#include "vm/mm.h"
#include "vm/swap.h"

/* Participant states (struct swap_shared.state). */
enum { PART_FREE, PART_LIVE };
#define PARTICIPANTS 128

/* The part of the shared mapping before the counts. */
struct swap_shared {
	uint64_t high_water;  /* slots below it have been handed out at least once */
	uint64_t in_use;      /* slots with a count above zero, all processes */
	uint32_t tracking;    /* participants are in use (OFD locks work) */
	uint32_t state[PARTICIPANTS]; /* PART_* */
	int32_t pid[PARTICIPANTS];    /* the participant's process (for debugging) */
	uint64_t top[PARTICIPANTS];   /* above every slot its bitmap ever had: a reaper
				       * reads no further (pages of shared memory never
				       * touched would be allocated by reading them) */
};

#define SHARED_HEADER 4096UL
_Static_assert(sizeof(struct swap_shared) <= SHARED_HEADER, "swap header too big");
/* A bounded search for a free run before taking fresh slots. */
#define SCAN_LIMIT 4096u
/* The swap file's descriptors go at or above this number. */
#define FD_HIGH 100

static struct {
	int fd;                       /* the swap file, -1 until created: this
				       * participant's own open file description */
	struct swap_shared *shared;   /* shared header */
	uint32_t *refs;               /* shared reference counts, one per slot */
	uint64_t *bits;               /* shared bitmaps, one per participant */
	size_t bits_words;            /* words per bitmap (a whole number of pages) */
	uint64_t max_slots;           /* VMSHIM_SWAP_MAX in pages */
	uint64_t cursor;              /* next-fit position (this process) */
	uint64_t reap_at;             /* reap before growing past it ... */
	long long reap_ns;            /* ... or REAP_INTERVAL_NS after this (CLOCK_MONOTONIC) */
	int me;                       /* this process's participant index, -1: untracked */
	int child;                    /* index reserved for the child being forked, or -1 */
	int child_fd;                 /* its description (the parent's copy), or -1 */
	int create_errno;             /* why creation failed, once */
} dev = { .fd = -1, .me = -1, .child = -1, .child_fd = -1 };

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

/* The swap file goes only where no one else can swap the directory's
 * contents under us: a directory of the user's, or a sticky one (/tmp).
 * 0, EPERM for any other, or the errno of looking at it. */
static int dir_untrusted(const char *dir)
{
	long fd = vms_raw_open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	struct stat st;
	long r = vms_raw_failed(fd) ? fd : vms_raw_fstat((int)fd, &st);
	if (!vms_raw_failed(fd)) {
		vms_raw_close((int)fd);
	}
	if (vms_raw_failed(r)) {
		return (int)-r;
	}
	return st.st_uid == (uid_t)vms_raw_getuid() || (st.st_mode & S_ISVTX) ? 0 : EPERM;
}

static long ofd_lock(int fd, short type, int p);
static int fd_high(int fd);

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
	int untrusted = dir_untrusted(dir);
	int fd = untrusted != 0 ? -untrusted : open_swap_file(dir, direct);
	if (fd == -EINVAL && direct != 0) {
		direct = 0;
		fd = open_swap_file(dir, 0);
	}
	if (fd < 0) {
		dev.create_errno = -fd;
		vms_log(VMS_LOG_ERROR,
			"cannot create the swap file in %s: %s (errno %d); pages above the memory "
			"limit stay resident",
			dir, untrusted == EPERM ? "neither the user's directory nor sticky" : "error",
			-fd);
		return dev.create_errno;
	}
	fd = fd_high(fd);
	/* The header, the counts, then one bitmap per participant; if that
	 * much cannot be mapped (strict overcommit), the counts alone. */
	size_t counts = vms_page_up(dev.max_slots * sizeof(uint32_t));
	size_t words = vms_page_up((dev.max_slots + 63) / 64 * sizeof(uint64_t)) / sizeof(uint64_t);
	size_t len = SHARED_HEADER + counts + PARTICIPANTS * words * sizeof(uint64_t);
	long m = vms_raw_mmap(NULL, len, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vms_raw_failed(m)) {
		words = 0;
		len = SHARED_HEADER + counts;
		m = vms_raw_mmap(NULL, len, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	}
	if (vms_raw_failed(m)) {
		vms_raw_close(fd);
		dev.create_errno = (int)-m;
		vms_log(VMS_LOG_ERROR, "cannot map the swap reference counts: errno %ld", -m);
		return dev.create_errno;
	}
	dev.shared = (struct swap_shared *)m;
	dev.refs = (uint32_t *)(m + SHARED_HEADER);
	dev.bits = words != 0 ? (uint64_t *)(m + SHARED_HEADER + counts) : NULL;
	dev.bits_words = words;
	/* The creator is participant 0, if OFD locks work here. */
	long lk = words != 0 ? ofd_lock(fd, F_WRLCK, 0) : -ENOMEM;
	if (lk == 0) {
		dev.shared->pid[0] = (int32_t)vms_raw_getpid();
		dev.shared->state[0] = PART_LIVE;
		dev.shared->tracking = 1;
		dev.me = 0;
	} else {
		dev.me = -1;
		vms_log(VMS_LOG_INFO,
			"swap: references of forked children are not tracked (errno %ld): those "
			"of a child that does not end with _exit stay until the file is closed",
			-lk);
	}
	__atomic_store_n(&dev.fd, fd, __ATOMIC_RELEASE);
	vms_log(VMS_LOG_INFO, "swap file created in %s (at most %llu pages, %s I/O)", dir,
		(unsigned long long)dev.max_slots, direct ? "direct" : "buffered");
	return 0;
}

/* F_OFD_SETLK of type (F_WRLCK, F_UNLCK) on byte p of fd: 0 or -errno
 * (-EAGAIN: another open file description holds it). */
static long ofd_lock(int fd, short type, int p)
{
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = p;
	fl.l_len = 1;
	return vms_raw_fcntl(fd, F_OFD_SETLK, (long)&fl);
}

static uint64_t *bitmap_word(int p, uint64_t slot)
{
	return &dev.bits[(size_t)p * dev.bits_words + slot / 64];
}

/* Records that participant p (-1: untracked) holds a reference on slot;
 * after the count was taken. */
static void mark(int p, uint64_t slot)
{
	if (p < 0) {
		return;
	}
	uint64_t top = __atomic_load_n(&dev.shared->top[p], __ATOMIC_RELAXED);
	while (top <= slot && !__atomic_compare_exchange_n(&dev.shared->top[p], &top, slot + 1, 0,
							  __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
	}
	__atomic_fetch_or(bitmap_word(p, slot), 1ULL << (slot % 64), __ATOMIC_RELEASE);
}

/* Drops one count of slot; true if it became free. */
static bool uncount(uint64_t slot)
{
	uint32_t left = __atomic_sub_fetch(&dev.refs[slot], 1, __ATOMIC_ACQ_REL);
	if (left == 0) {
		__atomic_sub_fetch(&dev.shared->in_use, 1, __ATOMIC_RELAXED);
		return true;
	}
	return false;
}

/* Takes slot s if free. */
static bool take(uint64_t s)
{
	uint32_t zero = 0;
	if (__atomic_load_n(&dev.refs[s], __ATOMIC_RELAXED) == 0 &&
	    __atomic_compare_exchange_n(&dev.refs[s], &zero, 1, 0, __ATOMIC_ACQ_REL,
					__ATOMIC_RELAXED)) {
		mark(dev.me, s);
		return true;
	}
	return false;
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

/* ---------------------------------------------------------------------
 * Participants: reaping the references of processes that ended.
 */

/* Drops one count of slot for a bit a reaper cleared; never below zero
 * (which would only be a broken invariant: then the slot is left alone). */
static bool uncount_reaped(uint64_t slot)
{
	uint32_t n = __atomic_load_n(&dev.refs[slot], __ATOMIC_RELAXED);
	do {
		if (n == 0) {
			return false;
		}
	} while (!__atomic_compare_exchange_n(&dev.refs[slot], &n, n - 1, 0, __ATOMIC_ACQ_REL,
					      __ATOMIC_RELAXED));
	if (n == 1) {
		__atomic_sub_fetch(&dev.shared->in_use, 1, __ATOMIC_RELAXED);
		return true;
	}
	return false;
}

/* Reaps participant d if it is dead: returns the references dropped;
 * *lowest becomes the lowest slot freed, if lower. */
static size_t reap_one(int d, uint64_t *lowest)
{
	if (__atomic_load_n(&dev.shared->state[d], __ATOMIC_ACQUIRE) != PART_LIVE ||
	    ofd_lock(dev.fd, F_WRLCK, d) != 0) {
		return 0; /* alive, being reaped, or not in use */
	}
	size_t dropped = 0;
	/* Locked by us: its own lock is gone, so is the process (checked
	 * again now that no one else can reap it). */
	if (__atomic_load_n(&dev.shared->state[d], __ATOMIC_ACQUIRE) == PART_LIVE) {
		uint64_t top = __atomic_load_n(&dev.shared->top[d], __ATOMIC_ACQUIRE);
		uint64_t *row = bitmap_word(d, 0);
		for (uint64_t w = 0; w < (top + 63) / 64; w++) {
			if (__atomic_load_n(&row[w], __ATOMIC_RELAXED) == 0) {
				continue;
			}
			uint64_t set = __atomic_exchange_n(&row[w], 0, __ATOMIC_ACQ_REL);
			for (; set != 0; set &= set - 1) {
				uint64_t slot = w * 64 + (uint64_t)__builtin_ctzll(set);
				dropped++;
				if (uncount_reaped(slot) && slot < *lowest) {
					*lowest = slot;
				}
			}
		}
		__atomic_store_n(&dev.shared->pid[d], 0, __ATOMIC_RELAXED);
		__atomic_store_n(&dev.shared->top[d], 0, __ATOMIC_RELAXED);
		__atomic_store_n(&dev.shared->state[d], PART_FREE, __ATOMIC_RELEASE);
	}
	ofd_lock(dev.fd, F_UNLCK, d);
	return dropped;
}

size_t vms_swap_reap(void)
{
	/* Only through a description that holds no other participant's lock:
	 * an untracked process shares its parent's. */
	if (dev.fd < 0 || dev.me < 0) {
		return 0;
	}
	uint64_t lowest = UINT64_MAX;
	size_t dropped = 0;
	for (int d = 0; d < PARTICIPANTS; d++) {
		if (d != dev.me) {
			dropped += reap_one(d, &lowest);
		}
	}
	if (dropped > 0) {
		vms_count_add(&vms_stats.swap_reaped_refs, dropped);
		vms_log(VMS_LOG_DEBUG, "swap: dropped %zu references of ended processes", dropped);
	}
	if (lowest != UINT64_MAX) {
		dev.cursor = lowest; /* the next scan finds them */
	}
	return dropped;
}

/* Reaps before the file grows (or when it is full), when REAP_INTERVAL_NS
 * have passed since the last time or the file grew by an eighth: true if
 * slots may have come free.  (A reap costs one fcntl per other
 * participant in use.) */
#define REAP_INTERVAL_NS 10000000LL
static bool reap_before_growth(uint64_t hw)
{
	if (dev.me < 0) {
		return false;
	}
	struct timespec ts = { 0, 0 };
	vms_raw_clock_gettime(CLOCK_MONOTONIC, &ts);
	long long now = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	if (hw < dev.reap_at && now - dev.reap_ns < REAP_INTERVAL_NS) {
		return false;
	}
	dev.reap_at = hw + (hw / 8 > 64 ? hw / 8 : 64);
	dev.reap_ns = now;
	return vms_swap_reap() > 0;
}

/* ---------------------------------------------------------------------
 * Allocation.
 */

/* A bounded next-fit scan below the high-water mark for a free run of at
 * least enough slots (want at most): how many were taken, from *first. */
static size_t reuse(size_t want, size_t enough, uint64_t hw, uint64_t *first)
{
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
	return 0;
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
	size_t got = reuse(want, enough, hw, first);
	if (got == 0 && hw < dev.max_slots && reap_before_growth(hw)) {
		got = reuse(want, enough, hw, first);
	}
	if (got > 0) {
		return got;
	}
	/* Fresh slots at the high-water mark, consecutive. */
	while (hw < dev.max_slots) {
		size_t n = want < dev.max_slots - hw ? want : (size_t)(dev.max_slots - hw);
		if (__atomic_compare_exchange_n(&dev.shared->high_water, &hw, hw + n, 0,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			/* Fresh slots, but another process's reuse scan may
			 * have taken one since it read the old mark: take them
			 * like any other, keep the run that was free. */
			got = 0;
			while (got < n && take(hw + got)) {
				got++;
			}
			if (got == 0) {
				hw = __atomic_load_n(&dev.shared->high_water, __ATOMIC_ACQUIRE);
				continue;
			}
			dev.cursor = hw + got;
			*first = hw;
			account(got);
			return got;
		}
	}
	/* The file is at its maximum: any free slot will do, after dropping
	 * the references of processes that ended (every 10 ms at most: while
	 * the file stays full, reclaim keeps asking). */
	reap_before_growth(hw);
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
	mark(dev.child, slot);
}

void vms_swap_put(uint64_t slot)
{
	if (dev.me >= 0) {
		__atomic_fetch_and(bitmap_word(dev.me, slot), ~(1ULL << (slot % 64)),
				   __ATOMIC_ACQ_REL);
	}
	uncount(slot);
	/* This process's gauge: the slots it holds references on. */
	vms_gauge_add(&vms_stats.swap_slots, -1);
}

uint32_t vms_swap_refcount(uint64_t slot)
{
	return dev.fd >= 0 && slot < dev.max_slots
		       ? __atomic_load_n(&dev.refs[slot], __ATOMIC_RELAXED)
		       : 0;
}

/* ---------------------------------------------------------------------
 * Fork: the child's participant index and description.
 */

/* Opens the swap file again: a description of its own.  fd or -errno. */
static long reopen(void)
{
	char path[48];
	vms_fmt(path, sizeof path, "/proc/self/fd/%d", dev.fd);
	long fl = vms_raw_fcntl(dev.fd, F_GETFL, 0);
	int direct = !vms_raw_failed(fl) && (fl & O_DIRECT) ? O_DIRECT : 0;
	return vms_raw_open(path, O_RDWR | O_CLOEXEC | direct, 0);
}

/* Moves fd above the numbers programs pick themselves (dup2 onto 0-2 or
 * a few low ones in a child before exec): fd, or the new one. */
static int fd_high(int fd)
{
	long h = vms_raw_dup_cloexec(fd, FD_HIGH);
	if (vms_raw_failed(h)) {
		return fd;
	}
	vms_raw_close(fd);
	return (int)h;
}

/* Reserves a free index for the child with a description of its own,
 * locked: true, or false when none is free.  The lock is taken before the
 * index is marked LIVE, so a reserver that dies leaves either a FREE
 * index or a LIVE one whose lock is gone (reaped). */
static bool reserve_child(void)
{
	long fd = -1;
	for (int c = 0; c < PARTICIPANTS; c++) {
		if (__atomic_load_n(&dev.shared->state[c], __ATOMIC_ACQUIRE) != PART_FREE) {
			continue;
		}
		if (fd < 0) {
			fd = reopen();
			if (vms_raw_failed(fd)) {
				vms_log(VMS_LOG_DEBUG, "swap: cannot reopen the swap file (errno %ld)",
					-fd);
				return false;
			}
			fd = fd_high((int)fd);
		}
		if (ofd_lock((int)fd, F_WRLCK, c) != 0) {
			continue; /* a reaper that just freed it still holds it */
		}
		uint32_t free_state = PART_FREE;
		if (!__atomic_compare_exchange_n(&dev.shared->state[c], &free_state, PART_LIVE, 0,
						 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
			/* Taken since, and its holder gone already: a reaper's. */
			ofd_lock((int)fd, F_UNLCK, c);
			continue;
		}
		__atomic_store_n(&dev.shared->pid[c], 0, __ATOMIC_RELAXED);
		dev.child = c;
		dev.child_fd = (int)fd;
		return true;
	}
	if (fd >= 0) {
		vms_raw_close((int)fd);
	}
	return false;
}

void vms_swap_fork_prepare(void)
{
	dev.child = -1;
	dev.child_fd = -1;
	if (dev.fd < 0 || !dev.shared->tracking) {
		return;
	}
	if (!reserve_child() && (vms_swap_reap() == 0 || !reserve_child())) {
		vms_log(VMS_LOG_DEBUG, "swap: no participant index free: the child's references "
				       "are dropped only if it ends with _exit");
	}
}

void vms_swap_fork_parent(void)
{
	if (dev.child_fd >= 0) {
		/* The child's copy keeps its lock; if the fork failed, there is
		 * none, and the references taken for it are reaped. */
		vms_raw_close(dev.child_fd);
	}
	dev.child = -1;
	dev.child_fd = -1;
}

void vms_swap_fork_child(void)
{
	if (dev.fd < 0) {
		return;
	}
	if (dev.child_fd >= 0) {
		vms_raw_close(dev.fd); /* the parent's description: its lock is the parent's */
		dev.fd = dev.child_fd;
		dev.me = dev.child;
		__atomic_store_n(&dev.shared->pid[dev.me], (int32_t)vms_raw_getpid(), __ATOMIC_RELAXED);
	} else {
		dev.me = -1; /* untracked: shares the parent's description */
	}
	dev.child = -1;
	dev.child_fd = -1;
	dev.reap_at = 0;
	dev.reap_ns = 0;
}

/* Moves npages pages between buf and the slots from first, retrying short
 * transfers and EINTR: 0 or errno. */
static int transfer(uint64_t first, char *buf, size_t npages, bool write)
{
	size_t len = npages * VMS_PAGE_SIZE;
	off_t off = (off_t)(first * VMS_PAGE_SIZE);
	while (len > 0) {
		long r = write ? vms_inject_pwrite(dev.fd, buf, len, off)
			       : vms_inject_pread(dev.fd, buf, len, off); /* raw, or a fault */
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
