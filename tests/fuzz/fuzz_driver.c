/*
 * tests/fuzz/fuzz_driver.c - the differential fuzzer's driver.
 *
 * Owns: turning a seed into a deterministic sequence of memory-management
 * operations, executing it, and printing one normalised line per operation,
 * so that a native run and a run under LD_PRELOAD=libvmshim.so can be
 * compared line by line (scripts/fuzz-diff runs both and compares).  It is
 * not linked to the shim: under LD_PRELOAD its calls are the shim's.
 *
 * Determinism.  Operation i draws everything from its own generator,
 * seeded with (seed, i), so any subsequence (--only) replays each kept
 * operation with the same random choices; how the choices map onto the
 * current state (which mapping, which page) depends on what ran before.
 * Addresses never appear raw.  The driver manages:
 *   W0..W3  four windows of 64 pages, holes or the driver's own mappings,
 *           separated by one-page PROT_NONE MAP_SHARED guards (shared, so
 *           they never merge with a window mapping).  The windows sit at
 *           the bottom of a 1 GiB range the driver mapped and unmapped at
 *           start, so the kernel's top-down placement (and the shim's)
 *           never chooses a hole inside a window: kernel-placed mappings
 *           land far above, in the freed range.
 *   Fk      "slots": mappings placed by the kernel (mmap without MAP_FIXED,
 *           mremap MAYMOVE) or at an honoured hint; k counts up.  Only
 *           whole slots are unmapped or moved, so their pages never become
 *           free space that a later placement could reuse differently.
 *   H, X    hint targets: H is free space just above the windows, X a
 *           fixed far address (0x100000000000) outside the shim's arena.
 * An address prints as W1+5 (window 1, page 5), W1+5.17 (byte 17 of it),
 * F3+0, H+2, X+0, G2 (a guard); anything else as "?".
 *
 * What is compared: return values (0/-1 or a normalised address), errno
 * names, signals caught with sigsetjmp/siglongjmp from a SA_SIGINFO
 * handler (signal, si_code, normalised si_addr, bytes done before it),
 * FNV checksums of bytes read, and "layout" lines probing every page of
 * every window and slot ('.' unmapped, '-' PROT_NONE, 'r' read-only, 'w'
 * writable, 'B' SIGBUS) with a content checksum per area.  What is not
 * deterministic natively is left out: contents of pages after MADV_FREE
 * (until rewritten whole), and mincore residency of pages the driver has
 * not itself touched since they were last mapped, dropped or moved (the
 * shim's fault-around makes neighbours resident).
 *
 * Usage: fuzz_driver --seed S --ops N [--only LIST|@FILE]
 *                    [--exclude KIND[,KIND...]] | --list-kinds | --help
 * Exit: 0 done, 2 bad usage, 3 a fault outside a probe, 4 setup failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif
#ifndef MAP_UNINITIALIZED
#define MAP_UNINITIALIZED 0x4000000
#endif
#ifndef PROT_SEM
#define PROT_SEM 0x8
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1U
#endif

#define PG 4096UL
#define NWIN 4
#define WPAGES 64
#define RPAGES (NWIN * (WPAGES + 1) + 1)
#define MAXSLOT 8
#define MAXPAGES 64
#define SPACER (1UL << 30)
#define HGAP (256 * PG)
#define HPAGES 256
#define XBASE 0x100000000000UL
#define XPAGES 256
#define MEMFD_PAGES 8

static uintptr_t page_up(uintptr_t a) { return (a + PG - 1) & ~(PG - 1); }
static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

/* ---- random numbers: splitmix64, one stream per operation ---- */

struct rng {
	uint64_t s;
};

static uint64_t mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnext(struct rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return mix64(r->s);
}

/* Uniform in [0, n); 0 when n is 0. */
static size_t rb(struct rng *r, size_t n) { return n == 0 ? 0 : (size_t)(rnext(r) % n); }
static bool chance(struct rng *r, unsigned pct) { return rb(r, 100) < pct; }

/* ---- output: one line per operation, written whole with write(2) ---- */

static int out_fd = 1;
static char line[16384];
static size_t line_len;
static char label[48];

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line + line_len, sizeof line - line_len - 2, fmt, ap);
	va_end(ap);
	if (n > 0) {
		line_len += min_sz((size_t)n, sizeof line - line_len - 3);
	}
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w <= 0) {
			_exit(5);
		}
		p += w;
		n -= (size_t)w;
	}
}

static void endl(void)
{
	line[line_len++] = '\n';
	write_all(out_fd, line, line_len);
	line_len = 0;
}

/* ---- the driver's memory: windows and slots ---- */

struct area {
	char kind;              /* 'W' window, 'F' slot */
	int id;
	bool live;
	uintptr_t base;
	size_t npages;
	unsigned char indet[MAXPAGES];   /* contents not deterministic (MADV_FREE) */
	unsigned char touched[MAXPAGES]; /* accessed since last mapped/dropped/moved */
};

static struct area win[NWIN];
static struct area slot[MAXSLOT];
static int next_slot_id;
static uintptr_t rbase, hbase;
static int memfd = -1;
static uint64_t seed;

static struct area *area_of(uintptr_t a)
{
	for (int i = 0; i < NWIN; i++) {
		if (a >= win[i].base && a < win[i].base + win[i].npages * PG) {
			return &win[i];
		}
	}
	for (int i = 0; i < MAXSLOT; i++) {
		if (slot[i].live && a >= slot[i].base && a < slot[i].base + slot[i].npages * PG) {
			return &slot[i];
		}
	}
	return NULL;
}

enum { PF_CLEAR, PF_INDET, PF_UNTOUCH };

/*
 * Changes the flags of the pages of [a, e) that lie in area in, and only
 * those: a range picked in one area must never change the model of a
 * neighbour, whose adjacency may differ between the native run and the
 * shim's (slots are placed by the kernel or the shim).
 */
static void page_flags(struct area *in, uintptr_t a, uintptr_t e, int what)
{
	if (in == NULL) {
		return;
	}
	uintptr_t lo = in->base, hi = in->base + in->npages * PG;
	for (a &= ~(PG - 1); a < e; a += PG) {
		if (a < lo || a >= hi) {
			continue;
		}
		size_t p = (a - lo) / PG;
		if (what == PF_CLEAR) {
			in->indet[p] = 0;
			in->touched[p] = 0;
		} else if (what == PF_INDET) {
			in->indet[p] = 1;
		} else {
			in->touched[p] = 0;
		}
	}
}

static bool is_indet(uintptr_t a)
{
	struct area *ar = area_of(a);
	return ar != NULL && ar->indet[(a - ar->base) / PG];
}

static bool is_touched(struct area *in, uintptr_t a)
{
	struct area *ar = area_of(a);
	return ar == in && ar != NULL && ar->touched[(a - ar->base) / PG];
}

static void set_touched(uintptr_t a)
{
	struct area *ar = area_of(a);
	if (ar != NULL) {
		ar->touched[(a - ar->base) / PG] = 1;
	}
}

static int live_slots(void)
{
	int n = 0;
	for (int i = 0; i < MAXSLOT; i++) {
		n += slot[i].live;
	}
	return n;
}

/* The i-th live slot in creation order. */
static struct area *nth_slot(int i)
{
	struct area *order[MAXSLOT];
	int n = 0;
	for (int k = 0; k < MAXSLOT; k++) {
		if (slot[k].live) {
			order[n++] = &slot[k];
		}
	}
	for (int a = 1; a < n; a++) {
		for (int b = a; b > 0 && order[b]->id < order[b - 1]->id; b--) {
			struct area *t = order[b];
			order[b] = order[b - 1];
			order[b - 1] = t;
		}
	}
	return i < n ? order[i] : NULL;
}

/* ---- normalised names ---- */

static char nbuf[16][64];
static int nbuf_next;

static char *nb(void)
{
	char *b = nbuf[nbuf_next];
	nbuf_next = (nbuf_next + 1) % 16;
	return b;
}

static const char *off_str(char *b, const char *name, uintptr_t off)
{
	if (off % PG == 0) {
		snprintf(b, 64, "%s+%lu", name, (unsigned long)(off / PG));
	} else {
		snprintf(b, 64, "%s+%lu.%lu", name, (unsigned long)(off / PG),
			 (unsigned long)(off % PG));
	}
	return b;
}

/* An address as the driver names it: never a raw pointer. */
static const char *A(uintptr_t a)
{
	char *b = nb();
	if (a >= rbase && a < rbase + RPAGES * PG) {
		uintptr_t idx = (a - rbase) / PG;
		unsigned w = (unsigned)(idx / (WPAGES + 1));
		if (idx % (WPAGES + 1) == 0) {
			snprintf(b, 64, "G%u", w);
			return b;
		}
		char name[8];
		snprintf(name, sizeof name, "W%u", w);
		return off_str(b, name, a - win[w].base);
	}
	for (int i = 0; i < MAXSLOT; i++) {
		if (slot[i].live && a >= slot[i].base && a < slot[i].base + slot[i].npages * PG) {
			char name[16];
			snprintf(name, sizeof name, "F%d", slot[i].id);
			return off_str(b, name, a - slot[i].base);
		}
	}
	if (a >= hbase && a < hbase + HPAGES * PG) {
		return off_str(b, "H", a - hbase);
	}
	if (a >= XBASE && a < XBASE + XPAGES * PG) {
		return off_str(b, "X", a - XBASE);
	}
	if (a == 0) {
		return "0";
	}
	if (getenv("FUZZ_RAW") != NULL) {
		snprintf(b, 64, "?%#lx", (unsigned long)a);
		return b;
	}
	return "?";
}

static const char *L(size_t len)
{
	char *b = nb();
	if (len > (1UL << 40)) {
		snprintf(b, 64, "%#lx", (unsigned long)len);
	} else if (len % PG == 0) {
		snprintf(b, 64, "%lup", (unsigned long)(len / PG));
	} else {
		snprintf(b, 64, "%lup+%lu", (unsigned long)(len / PG), (unsigned long)(len % PG));
	}
	return b;
}

static const char *errname(int e)
{
	static const struct {
		int e;
		const char *n;
	} t[] = {
		{ EPERM, "EPERM" },   { ENOENT, "ENOENT" }, { EINTR, "EINTR" },
		{ EIO, "EIO" },       { ENXIO, "ENXIO" },   { EBADF, "EBADF" },
		{ EAGAIN, "EAGAIN" }, { ENOMEM, "ENOMEM" }, { EACCES, "EACCES" },
		{ EFAULT, "EFAULT" }, { EBUSY, "EBUSY" },   { EEXIST, "EEXIST" },
		{ ENODEV, "ENODEV" }, { EINVAL, "EINVAL" }, { ETXTBSY, "ETXTBSY" },
		{ EFBIG, "EFBIG" },   { ENOSPC, "ENOSPC" }, { ENOSYS, "ENOSYS" },
		{ EOVERFLOW, "EOVERFLOW" }, { EOPNOTSUPP, "EOPNOTSUPP" },
		{ EHWPOISON, "EHWPOISON" }, { ENOTSUP, "ENOTSUP" },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		if (t[i].e == e) {
			return t[i].n;
		}
	}
	char *b = nb();
	snprintf(b, 64, "E%d", e);
	return b;
}

static const char *protname(int prot)
{
	char *b = nb();
	snprintf(b, 64, "%c%c%c", prot & PROT_READ ? 'r' : '-', prot & PROT_WRITE ? 'w' : '-',
		 prot & PROT_EXEC ? 'x' : '-');
	int extra = prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC);
	if (extra != 0) {
		snprintf(b + 3, 61, "+%#x", (unsigned)extra);
	}
	return b;
}

static const char *mapflags(int flags)
{
	static const struct {
		int f;
		const char *n;
	} t[] = {
		{ MAP_ANONYMOUS, "anon" },	  { MAP_FIXED, "fixed" },
		{ MAP_FIXED_NOREPLACE, "noreplace" }, { MAP_NORESERVE, "noreserve" },
		{ MAP_POPULATE, "populate" },   { MAP_NONBLOCK, "nonblock" },
		{ MAP_STACK, "stack" },	  { MAP_LOCKED, "locked" },
		{ MAP_GROWSDOWN, "growsdown" }, { MAP_32BIT, "32bit" },
		{ MAP_HUGETLB, "hugetlb" },	  { MAP_SYNC, "sync" },
		{ MAP_UNINITIALIZED, "uninit" }, { MAP_DENYWRITE, "denywrite" },
		{ MAP_EXECUTABLE, "executable" },
	};
	char *b = nb();
	int type = flags & 3;
	const char *tn[] = { "notype", "shared", "private", "shared_validate" };
	int n = snprintf(b, 64, "%s", tn[type]);
	flags &= ~3;
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		if (flags & t[i].f) {
			n += snprintf(b + n, 64 - (size_t)n, "|%s", t[i].n);
			flags &= ~t[i].f;
		}
	}
	if (flags != 0) {
		snprintf(b + n, 64 - (size_t)n, "|%#x", (unsigned)flags);
	}
	return b;
}

/* ---- guarded accesses: faults come back as values ---- */

static sigjmp_buf fault_env;
static volatile sig_atomic_t fault_armed;
static volatile int fault_sig, fault_code;
static volatile uintptr_t fault_addr;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (!fault_armed) {
		char b[256];
		int n = snprintf(b, sizeof b, "%s UNEXPECTED %s code=%d at %s\n", label,
				 sig == SIGBUS ? "SIGBUS" : "SIGSEGV", si->si_code,
				 A((uintptr_t)si->si_addr));
		if (line_len > 0) {
			write_all(out_fd, line, line_len);
			write_all(out_fd, "\n", 1);
		}
		write_all(out_fd, b, (size_t)n);
		_exit(3);
	}
	fault_armed = 0;
	fault_sig = sig;
	fault_code = si->si_code;
	fault_addr = (uintptr_t)si->si_addr;
	siglongjmp(fault_env, 1);
}

/* Runs fn(arg); returns 0, or the signal that interrupted it. */
static int guarded(void (*fn)(void *), void *arg)
{
	if (sigsetjmp(fault_env, 1) != 0) {
		return fault_sig;
	}
	fault_armed = 1;
	fn(arg);
	fault_armed = 0;
	return 0;
}

static const char *sigdesc(int sig)
{
	char *b = nb();
	const char *code = "";
	if (sig == SIGSEGV) {
		code = fault_code == SEGV_MAPERR ? "MAPERR" : fault_code == SEGV_ACCERR ? "ACCERR" : "";
	} else if (sig == SIGBUS) {
		code = fault_code == BUS_ADRERR ? "ADRERR" : fault_code == BUS_OBJERR ? "OBJERR" : "";
	}
	if (*code != '\0') {
		snprintf(b, 64, "%s %s at %s", sig == SIGBUS ? "SIGBUS" : "SIGSEGV", code,
			 A(fault_addr));
	} else {
		snprintf(b, 64, "SIG%d code=%d at %s", sig, fault_code, A(fault_addr));
	}
	return b;
}

static unsigned char pattern(uint64_t salt, size_t off)
{
	return (unsigned char)((((salt >> 8) & 0xffff) + off * 131 + (off >> 9)) % 255 + 1);
}

struct access {
	uintptr_t a;
	size_t len;
	bool write;
	uint64_t salt;
	volatile size_t done;
	volatile uint32_t sum;
	volatile size_t skipped;
};

static void access_fn(void *p)
{
	struct access *x = p;
	while (x->done < x->len) {
		uintptr_t at = x->a + x->done;
		uintptr_t pe = (at | (PG - 1)) + 1;
		size_t chunk = min_sz(pe - at, x->len - x->done);
		struct area *ar = area_of(at);
		size_t off = ar != NULL ? at - ar->base : at - x->a;
		bool indet = ar != NULL && ar->indet[(at - ar->base) / PG];
		uint32_t sum = x->sum;
		for (size_t k = 0; k < chunk; k++) {
			volatile unsigned char *q = (volatile unsigned char *)(at + k);
			if (x->write) {
				*q = pattern(x->salt, off + k);
			} else {
				unsigned char v = *q;
				if (!indet) {
					sum = (sum ^ v) * 16777619u;
				}
			}
			x->done = x->done + 1;
		}
		x->sum = sum;
		if (ar != NULL) {
			size_t pi = (at - ar->base) / PG;
			ar->touched[pi] = 1;
			if (x->write && chunk == PG) {
				ar->indet[pi] = 0;
			}
		}
		if (indet && !x->write) {
			x->skipped = x->skipped + 1;
		}
	}
}

struct probe {
	uintptr_t p;
	uint32_t sum;
};

static void probe_read_fn(void *arg)
{
	struct probe *pr = arg;
	(void)*(volatile unsigned char *)pr->p;
}

static void probe_write_fn(void *arg)
{
	struct probe *pr = arg;
	volatile unsigned char *q = (volatile unsigned char *)pr->p;
	*q = *q;
}

static void probe_sum_fn(void *arg)
{
	struct probe *pr = arg;
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < PG / 8; i++) {
		h = (h ^ ((volatile uint64_t *)pr->p)[i]) * 1099511628211ULL;
	}
	pr->sum = (uint32_t)(h ^ (h >> 32));
}

/* One page: its state as a character, its checksum in *sum when readable. */
static char probe_page(uintptr_t pg, uint32_t *sum, bool *readable)
{
	struct probe pr = { pg, 0 };
	*readable = false;
	int sig = guarded(probe_read_fn, &pr);
	if (sig != 0) {
		if (fault_addr != pg) {
			return 'a';
		}
		if (sig == SIGBUS) {
			return 'B';
		}
		return fault_code == SEGV_MAPERR ? '.' : fault_code == SEGV_ACCERR ? '-' : '?';
	}
	set_touched(pg);
	sig = guarded(probe_write_fn, &pr);
	char c = sig == 0 ? 'w' : (sig == SIGSEGV && fault_code == SEGV_ACCERR) ? 'r' : 'b';
	if (guarded(probe_sum_fn, &pr) != 0) {
		return '!';
	}
	*readable = true;
	*sum = pr.sum;
	return c;
}

static void layout_area(struct area *ar, const char *name)
{
	uint32_t h = 2166136261u;
	say(" %s=", name);
	for (size_t p = 0; p < ar->npages; p++) {
		uint32_t s = 0;
		bool readable;
		char c = probe_page(ar->base + p * PG, &s, &readable);
		say("%c", c);
		if (readable && !ar->indet[p]) {
			h = (h ^ s ^ (uint32_t)p) * 16777619u;
		}
	}
	say(":%08x", h);
}

static void do_layout(void)
{
	char name[16];
	say("%s layout", label);
	for (int i = 0; i < NWIN; i++) {
		snprintf(name, sizeof name, "W%d", i);
		layout_area(&win[i], name);
	}
	for (int i = 0; i < MAXSLOT; i++) {
		struct area *s = nth_slot(i);
		if (s == NULL) {
			break;
		}
		snprintf(name, sizeof name, "F%d", s->id);
		layout_area(s, name);
	}
	endl();
}

/* ---- picking targets ---- */

/* A window mostly; a live slot with probability slot_pct when there is one. */
static struct area *pick_area(struct rng *r, unsigned slot_pct)
{
	int n = live_slots();
	if (n > 0 && chance(r, slot_pct)) {
		return nth_slot((int)rb(r, (size_t)n));
	}
	return &win[rb(r, NWIN)];
}

/*
 * A range inside ar: whole pages [p, p + n), sometimes with an odd length
 * (rounding up to the same pages), an unaligned start (the end stays inside
 * the area) or length 0.
 */
static void pick_range(struct rng *r, struct area *ar, uintptr_t *a, size_t *len,
		       unsigned odd_pct, unsigned unaligned_pct, unsigned zero_pct)
{
	size_t np = ar->npages;
	size_t p = rb(r, np), n;
	unsigned k = (unsigned)rb(r, 100);
	if (k < 50) {
		n = 1 + rb(r, min_sz(4, np - p));
	} else if (k < 90) {
		n = 1 + rb(r, np - p);
	} else {
		p = 0;
		n = np;
	}
	*a = ar->base + p * PG;
	*len = n * PG;
	if (chance(r, odd_pct)) {
		*len -= 1 + rb(r, PG - 1);
	}
	if (chance(r, unaligned_pct)) {
		size_t off = 1 + rb(r, PG - 1);
		*a += off;
		*len = *len > off ? *len - off : 1;
	}
	if (chance(r, zero_pct)) {
		*len = 0;
	}
}

static int pick_prot(struct rng *r, unsigned bad_pct)
{
	static const int good[] = {
		PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE,
		PROT_READ | PROT_WRITE, PROT_READ | PROT_EXEC, PROT_READ | PROT_WRITE | PROT_EXEC,
		PROT_WRITE, PROT_EXEC, PROT_WRITE | PROT_EXEC,
	};
	static const int bad[] = {
		PROT_SEM, 0x10, PROT_GROWSDOWN, PROT_GROWSUP, PROT_GROWSDOWN | PROT_GROWSUP,
		0x40000000,
	};
	int prot = good[rb(r, sizeof good / sizeof good[0])];
	if (chance(r, bad_pct)) {
		prot |= bad[rb(r, sizeof bad / sizeof bad[0])];
	}
	return prot;
}

/* ---- slots ---- */

static void retire(struct area *s)
{
	s->live = false;
}

/* Registers [a, a + pages) as a new slot; retires the oldest beyond MAXSLOT
 * (unmapping it, said on the current line). */
static struct area *new_slot(uintptr_t a, size_t pages)
{
	struct area *free_s = NULL;
	for (int i = 0; i < MAXSLOT && free_s == NULL; i++) {
		if (!slot[i].live) {
			free_s = &slot[i];
		}
	}
	if (free_s == NULL) {
		struct area *old = nth_slot(0);
		int r = munmap((void *)old->base, old->npages * PG);
		say(" retire F%d=%d", old->id, r);
		retire(old);
		free_s = old;
	}
	memset(free_s, 0, sizeof *free_s);
	free_s->kind = 'F';
	free_s->id = next_slot_id++;
	free_s->live = true;
	free_s->base = a;
	free_s->npages = pages;
	return free_s;
}

static bool in_r(uintptr_t a) { return a >= rbase && a < rbase + RPAGES * PG; }

static struct {
	unsigned nsub; /* non-zero in a forked child */
	struct rng r;
	char label[32];
} child;

/*
 * A mapping the kernel (or the shim) made at res, of len bytes (placed: at
 * an address the driver did not ask for): windows and slots it lands in are
 * fresh; anything else becomes a new slot.  Says the result.  In a forked
 * child, a slot may have a hole (MADV_DONTFORK) a placement can pick or
 * not: placement is not compared, so such a mapping prints as "new" and is
 * unmapped at once.
 */
static void took_mapping(uintptr_t res, size_t len, bool placed)
{
	size_t alen = page_up(len);
	struct area *ar = area_of(res);
	if (placed && child.nsub != 0 && !in_r(res)) {
		say(" = new (in a child: unmapped %d)", munmap((void *)res, alen));
		if (ar != NULL) {
			page_flags(ar, res, res + alen, PF_CLEAR);
		}
		return;
	}
	if (in_r(res) || ar != NULL) {
		say(" = %s", A(res));
		page_flags(ar, res, res + alen, PF_CLEAR);
		return;
	}
	const char *where = A(res);
	if (strcmp(where, "?") == 0) {
		where = "new";
	}
	if (alen == 0 || alen > MAXPAGES * PG) {
		say(" = %s (untracked, unmapped: %d)", where, munmap((void *)res, alen));
		return;
	}
	say(" = %s", where);
	struct area *s = new_slot(res, alen / PG);
	say(" F%d", s->id);
}

/* ---- operations ---- */

enum kind {
	K_READ,
	K_WRITE,
	K_LAYOUT,
	K_MMAP_FIXED,
	K_MMAP_NOREPLACE,
	K_MMAP_NULL,
	K_MMAP_HINT,
	K_MMAP_HINTODD,
	K_MMAP_ODD,
	K_MMAP_ODDFIXED,
	K_MMAP_FILE,
	K_MMAP_FILEFIXED,
	K_MMAP_BAD,
	K_MUNMAP,
	K_MUNMAP_SLOT,
	K_MPROTECT,
	K_MPROTECT_BAD,
	K_MREMAP_SHRINK,
	K_MREMAP_GROW,
	K_MREMAP_SAME,
	K_MREMAP_FIXED,
	K_MREMAP_DONTUNMAP,
	K_MREMAP_DUP,
	K_MREMAP_BAD,
	K_MREMAP_HUGE,
	K_MADVISE,
	K_MSYNC,
	K_MLOCK,
	K_MLOCK_ALL,
	K_MINCORE,
	K_MINCORE_VECARENA,
	K_FORK,
	K_NKINDS
};

static const struct {
	const char *name;
	unsigned weight;
} kinds[K_NKINDS] = {
	[K_READ] = { "read", 140 },
	[K_WRITE] = { "write", 140 },
	[K_LAYOUT] = { "layout", 35 },
	[K_MMAP_FIXED] = { "mmap.fixed", 60 },
	[K_MMAP_NOREPLACE] = { "mmap.noreplace", 15 },
	[K_MMAP_NULL] = { "mmap.null", 25 },
	[K_MMAP_HINT] = { "mmap.hint", 22 },
	[K_MMAP_HINTODD] = { "mmap.hintodd", 5 },
	[K_MMAP_ODD] = { "mmap.odd", 10 },
	[K_MMAP_ODDFIXED] = { "mmap.oddfixed", 10 },
	[K_MMAP_FILE] = { "mmap.file", 8 },
	[K_MMAP_FILEFIXED] = { "mmap.filefixed", 8 },
	[K_MMAP_BAD] = { "mmap.bad", 15 },
	[K_MUNMAP] = { "munmap", 60 },
	[K_MUNMAP_SLOT] = { "munmap.slot", 12 },
	[K_MPROTECT] = { "mprotect", 70 },
	[K_MPROTECT_BAD] = { "mprotect.bad", 12 },
	[K_MREMAP_SHRINK] = { "mremap.shrink", 15 },
	[K_MREMAP_GROW] = { "mremap.grow", 22 },
	[K_MREMAP_SAME] = { "mremap.same", 6 },
	[K_MREMAP_FIXED] = { "mremap.fixed", 20 },
	[K_MREMAP_DONTUNMAP] = { "mremap.dontunmap", 12 },
	[K_MREMAP_DUP] = { "mremap.dup", 8 },
	[K_MREMAP_BAD] = { "mremap.bad", 10 },
	[K_MREMAP_HUGE] = { "mremap.huge", 3 },
	[K_MADVISE] = { "madvise", 90 },
	[K_MSYNC] = { "msync", 25 },
	[K_MLOCK] = { "mlock", 25 },
	[K_MLOCK_ALL] = { "mlock.all", 3 },
	[K_MINCORE] = { "mincore", 30 },
	[K_MINCORE_VECARENA] = { "mincore.vecarena", 4 },
	[K_FORK] = { "fork", 20 },
};

static const struct {
	int adv;
	const char *name;
	unsigned weight;
} advices[] = {
	{ MADV_NORMAL, "normal", 3 },	      { MADV_RANDOM, "random", 3 },
	{ MADV_SEQUENTIAL, "sequential", 3 }, { MADV_WILLNEED, "willneed", 3 },
	{ MADV_DONTNEED, "dontneed", 10 },    { MADV_FREE, "free", 5 },
	{ MADV_REMOVE, "remove", 3 },	      { MADV_DONTFORK, "dontfork", 2 },
	{ MADV_DOFORK, "dofork", 2 },	      { MADV_MERGEABLE, "mergeable", 1 },
	{ MADV_UNMERGEABLE, "unmergeable", 1 }, { MADV_HUGEPAGE, "hugepage", 2 },
	{ MADV_NOHUGEPAGE, "nohugepage", 2 }, { MADV_DONTDUMP, "dontdump", 1 },
	{ MADV_DODUMP, "dodump", 1 },	      { MADV_WIPEONFORK, "wipeonfork", 2 },
	{ MADV_KEEPONFORK, "keeponfork", 1 }, { MADV_COLD, "cold", 2 },
	{ MADV_PAGEOUT, "pageout", 2 },	      { MADV_POPULATE_READ, "populate_read", 3 },
	{ MADV_POPULATE_WRITE, "populate_write", 3 }, { 24, "dontneed_locked", 2 },
	{ 25, "collapse", 1 },		      { 102, "guard_install", 1 },
	{ 103, "guard_remove", 1 },	      { 5, "bad5", 1 },
	{ 7, "bad7", 1 },		      { 26, "bad26", 1 },
	{ 99, "bad99", 1 },		      { -1, "badneg", 1 },
};
#define NADV (sizeof advices / sizeof advices[0])

static size_t pick_weighted_advice(struct rng *r)
{
	unsigned total = 0;
	for (size_t i = 0; i < NADV; i++) {
		total += advices[i].weight;
	}
	size_t x = rb(r, total);
	for (size_t i = 0; i < NADV; i++) {
		if (x < advices[i].weight) {
			return i;
		}
		x -= advices[i].weight;
	}
	return 0;
}

static uint64_t op_index;

static void op_access(struct rng *r, bool write)
{
	struct area *ar = pick_area(r, 25);
	size_t span = ar->npages * PG;
	size_t start = rb(r, span), len;
	unsigned k = (unsigned)rb(r, 100);
	if (k < 40) {
		len = 1 + rb(r, 64);
	} else if (k < 70) {
		len = 1 + rb(r, PG);
	} else if (k < 95) {
		len = 1 + rb(r, 3 * PG);
	} else {
		start = 0;
		len = span;
	}
	len = min_sz(len, span - start);
	struct access x = { .a = ar->base + start, .len = len, .write = write,
			    .salt = mix64(seed ^ (op_index * 0x1000193ULL)), .sum = 2166136261u };
	say("%s %s %s len=%lu", label, write ? "write" : "read", A(x.a), (unsigned long)len);
	int sig = guarded(access_fn, &x);
	say(" =");
	if (sig != 0) {
		say(" %s after %lu", sigdesc(sig), (unsigned long)x.done);
	}
	if (!write) {
		say(" sum=%08x", x.sum);
		if (x.skipped) {
			say(" indet=%lu", (unsigned long)x.skipped);
		}
	} else if (sig == 0) {
		say(" ok");
	}
	endl();
}

static void say_mmap(uintptr_t a, size_t len, int prot, int flags, int fd, off_t off)
{
	say("%s mmap %s%s len=%s prot=%s flags=%s", label,
	    (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) || a == 0 ? "" : "hint=", A(a), L(len),
	    protname(prot), mapflags(flags));
	if (fd >= 0 && fd == memfd) {
		say(" fd=memfd");
	} else if (fd != -1) {
		say(" fd=%d", fd);
	}
	if (off != 0) {
		say(" off=%#lx", (unsigned long)off);
	}
}

static void do_mmap(uintptr_t a, size_t len, int prot, int flags, int fd, off_t off)
{
	say_mmap(a, len, prot, flags, fd, off);
	void *res = mmap((void *)a, len, prot, flags, fd, off);
	int e = errno;
	if (res == MAP_FAILED) {
		say(" = -1 %s", errname(e));
	} else {
		took_mapping((uintptr_t)res, len,
			     !(flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) && (uintptr_t)res != a);
	}
	endl();
}

static int pick_type(struct rng *r) { return chance(r, 60) ? MAP_PRIVATE : MAP_SHARED; }

static int pick_extra(struct rng *r)
{
	int f = 0;
	f |= chance(r, 15) ? MAP_NORESERVE : 0;
	f |= chance(r, 15) ? MAP_POPULATE : 0;
	f |= chance(r, 5) ? MAP_STACK : 0;
	f |= chance(r, 5) ? MAP_NONBLOCK : 0;
	return f;
}

/* A fixed target: a window range mostly, sometimes inside a slot. */
static void pick_fixed(struct rng *r, uintptr_t *a, size_t *len)
{
	struct area *ar = pick_area(r, 15);
	pick_range(r, ar, a, len, 20, 0, 0);
}

static void op_mmap_fixed(struct rng *r, bool noreplace)
{
	uintptr_t a;
	size_t len;
	pick_fixed(r, &a, &len);
	int prot = pick_prot(r, 0);
	int flags = pick_type(r) | MAP_ANONYMOUS | pick_extra(r) |
		    (noreplace ? MAP_FIXED_NOREPLACE : MAP_FIXED);
	if (noreplace && chance(r, 10)) {
		flags |= MAP_FIXED;
	}
	do_mmap(a, len, prot, flags, -1, 0);
}

static size_t pick_len(struct rng *r)
{
	size_t n = chance(r, 60) ? 1 + rb(r, 8) : 1 + rb(r, MAXPAGES);
	size_t len = n * PG;
	if (chance(r, 20)) {
		len -= 1 + rb(r, PG - 1);
	}
	return len;
}

static void op_mmap_null(struct rng *r)
{
	size_t len = pick_len(r);
	int prot = pick_prot(r, 0);
	int flags = pick_type(r) | MAP_ANONYMOUS | pick_extra(r);
	do_mmap(0, len, prot, flags, -1, 0);
}

static uintptr_t pick_hint(struct rng *r)
{
	unsigned k = (unsigned)rb(r, 100);
	if (k < 35) {
		return win[rb(r, NWIN)].base + rb(r, WPAGES) * PG;
	} else if (k < 65) {
		return hbase + rb(r, HPAGES - MAXPAGES) * PG;
	} else if (k < 80) {
		return XBASE + rb(r, XPAGES - MAXPAGES) * PG;
	} else if (live_slots() > 0) {
		return nth_slot((int)rb(r, (size_t)live_slots()))->base;
	}
	return hbase + rb(r, HPAGES - MAXPAGES) * PG;
}

/* A hint: page-aligned, or (odd) with a byte offset into the page. */
static void op_mmap_hint(struct rng *r, bool odd)
{
	uintptr_t hint = pick_hint(r);
	if (odd) {
		hint += 1 + rb(r, PG - 1);
	}
	size_t len = pick_len(r);
	int prot = pick_prot(r, 0);
	int flags = pick_type(r) | MAP_ANONYMOUS | pick_extra(r);
	do_mmap(hint, len, prot, flags, -1, 0);
}

/* Flags and arguments the shim does not serve itself but the kernel accepts. */
static void op_mmap_odd(struct rng *r, bool fixed)
{
	uintptr_t a = 0;
	size_t len;
	if (fixed) {
		pick_fixed(r, &a, &len);
	} else {
		len = pick_len(r);
	}
	int prot = pick_prot(r, 30);
	int flags = pick_type(r) | MAP_ANONYMOUS | (fixed ? MAP_FIXED : 0);
	off_t off = 0;
	switch (rb(r, 9)) {
	case 0:
		flags |= MAP_LOCKED;
		break;
	case 1:
		flags |= MAP_GROWSDOWN;
		break;
	case 2:
		flags = (flags & ~3) | MAP_SHARED_VALIDATE;
		break;
	case 3:
		flags |= fixed ? MAP_UNINITIALIZED : MAP_32BIT;
		break;
	case 4:
		off = (off_t)((1 + rb(r, 16)) * PG);
		break;
	case 5:
		flags |= MAP_DENYWRITE | MAP_EXECUTABLE;
		break;
	case 6:
		flags |= 0x800000; /* an unknown bit: ignored by MAP_PRIVATE/MAP_SHARED */
		break;
	case 7:
		flags |= MAP_POPULATE | MAP_LOCKED;
		break;
	default:
		break; /* only the odd protection bits */
	}
	do_mmap(a, len, prot, flags, -1, off);
}

static void op_mmap_file(struct rng *r, bool fixed)
{
	uintptr_t a = 0;
	size_t len;
	if (fixed) {
		pick_fixed(r, &a, &len);
	} else {
		len = chance(r, 50) ? (1 + rb(r, MEMFD_PAGES + 4)) * PG : pick_len(r);
	}
	int prot = pick_prot(r, 0);
	int flags = pick_type(r) | (fixed ? MAP_FIXED : 0);
	off_t off = chance(r, 60) ? 0 : (off_t)(rb(r, MEMFD_PAGES + 2) * PG);
	do_mmap(a, len, prot, flags, memfd, off);
}

static void op_mmap_bad(struct rng *r)
{
	uintptr_t a = 0;
	size_t len = pick_len(r);
	int prot = pick_prot(r, 0);
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	int fd = -1;
	off_t off = 0;
	switch (rb(r, 12)) {
	case 0:
		len = 0;
		break;
	case 1:
		flags = MAP_ANONYMOUS;
		break;
	case 2:
		flags = MAP_PRIVATE;
		break;
	case 3:
		off = (off_t)(1 + rb(r, PG - 1));
		break;
	case 4:
		pick_fixed(r, &a, &len);
		a += 1 + rb(r, PG - 1);
		flags |= MAP_FIXED;
		break;
	case 5:
		len = 1UL << 62;
		break;
	case 6:
		len = (size_t)-PG;
		break;
	case 7:
		flags = MAP_SHARED_VALIDATE | MAP_ANONYMOUS | 0x800000;
		break;
	case 8:
		flags |= MAP_HUGETLB;
		break;
	case 9:
		flags = MAP_SHARED_VALIDATE | MAP_ANONYMOUS | MAP_SYNC;
		break;
	case 10:
		fd = 1000;
		flags = MAP_SHARED;
		break;
	default:
		pick_fixed(r, &a, &len);
		len = 0;
		flags |= MAP_FIXED;
		break;
	}
	do_mmap(a, len, prot, flags, fd, off);
}

static void op_munmap(struct rng *r)
{
	struct area *ar = &win[rb(r, NWIN)];
	uintptr_t a;
	size_t len;
	pick_range(r, ar, &a, &len, 20, 5, 4);
	say("%s munmap %s len=%s", label, A(a), L(len));
	int res = munmap((void *)a, len);
	int e = errno;
	if (res == 0) {
		say(" = 0");
		page_flags(ar, a, a + page_up(len), PF_CLEAR);
	} else {
		say(" = -1 %s", errname(e));
	}
	endl();
}

static void op_munmap_slot(struct rng *r)
{
	int n = live_slots();
	if (n == 0) {
		return;
	}
	struct area *s = nth_slot((int)rb(r, (size_t)n));
	size_t len = s->npages * PG;
	if (chance(r, 20)) {
		len -= 1 + rb(r, PG - 1);
	}
	say("%s munmap %s len=%s", label, A(s->base), L(len));
	int res = munmap((void *)s->base, len);
	int e = errno;
	if (res == 0) {
		say(" = 0");
		retire(s);
	} else {
		say(" = -1 %s", errname(e));
	}
	endl();
}

/* bad: unknown or PROT_GROWS* bits, an unaligned start or length 0 too. */
static void op_mprotect(struct rng *r, bool bad)
{
	struct area *ar = pick_area(r, 20);
	uintptr_t a;
	size_t len;
	pick_range(r, ar, &a, &len, 20, bad ? 15 : 0, bad ? 10 : 0);
	int prot = pick_prot(r, bad ? 60 : 0);
	say("%s mprotect %s len=%s prot=%s", label, A(a), L(len), protname(prot));
	int res = mprotect((void *)a, len, prot);
	int e = errno;
	if (res == 0) {
		say(" = 0");
	} else {
		say(" = -1 %s", errname(e));
	}
	endl();
}

enum { MR_SHRINK, MR_GROW, MR_SAME, MR_FIXED, MR_DONTUNMAP, MR_DUP, MR_BAD, MR_HUGE };

/* A new length: smaller, the same pages, or larger, as variant asks (any
 * of the three for the other variants). */
static size_t pick_newlen(struct rng *r, size_t olen, int variant)
{
	size_t op = page_up(olen) / PG, n;
	unsigned k = (unsigned)rb(r, 100);
	if (variant == MR_SHRINK) {
		k = 0;
	} else if (variant == MR_SAME) {
		k = 40;
	} else if (variant == MR_GROW) {
		k = 99;
	}
	if (k < 35 && op > 1) {
		n = 1 + rb(r, op - 1);
	} else if (k < 45) {
		n = op;
	} else {
		n = op + 1 + rb(r, chance(r, 60) ? 4 : MAXPAGES);
	}
	if (n > MAXPAGES) {
		n = MAXPAGES;
	}
	if (n == 0) {
		n = 1;
	}
	size_t len = n * PG;
	if (chance(r, 20)) {
		len -= 1 + rb(r, PG - 1);
	}
	return len;
}

/* A MREMAP_FIXED target: a window range of len bytes. */
static uintptr_t pick_target(struct rng *r, size_t len)
{
	size_t n = page_up(len) / PG;
	if (n > WPAGES) {
		n = WPAGES;
	}
	return win[rb(r, NWIN)].base + rb(r, WPAGES - n + 1) * PG;
}

static void mremap_flags_str(int flags)
{
	if (flags == 0) {
		say("0");
		return;
	}
	const char *sep = "";
	if (flags & MREMAP_MAYMOVE) {
		say("%smaymove", sep);
		sep = "|";
	}
	if (flags & MREMAP_FIXED) {
		say("%sfixed", sep);
		sep = "|";
	}
	if (flags & MREMAP_DONTUNMAP) {
		say("%sdontunmap", sep);
		sep = "|";
	}
	int rest = flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP);
	if (rest) {
		say("%s%#x", sep, (unsigned)rest);
	}
}

static void op_mremap(struct rng *r, int variant)
{
	struct area *ar = pick_area(r, 30);
	bool whole = ar->kind == 'F';
	uintptr_t old;
	size_t olen;
	if (whole) {
		old = ar->base;
		olen = ar->npages * PG;
		if (chance(r, 20)) {
			olen -= 1 + rb(r, PG - 1);
		}
	} else {
		pick_range(r, ar, &old, &olen, 20, 0, 0);
	}
	size_t nlen = pick_newlen(r, olen, variant);
	int flags = 0;
	uintptr_t target = 0;
	switch (variant) {
	case MR_SHRINK:
	case MR_GROW:
	case MR_SAME:
		flags = chance(r, 50) ? MREMAP_MAYMOVE : 0;
		if (whole && page_up(nlen) > page_up(olen)) {
			/* Growing a slot in place depends on its unknown neighbours. */
			flags = MREMAP_MAYMOVE;
		}
		if ((variant == MR_GROW && page_up(nlen) <= page_up(olen)) ||
		    (variant == MR_SHRINK && page_up(nlen) >= page_up(olen))) {
			return; /* 64 pages cannot grow, 1 page cannot shrink */
		}
		break;
	case MR_HUGE:
		/* Beyond TASK_SIZE, and overflowing.  (Not a size that fits: a
		 * 64 TiB mapping natively, after mlockall(MCL_FUTURE), would be
		 * populated and take the machine down.) */
		flags = MREMAP_MAYMOVE;
		nlen = chance(r, 50) ? 1UL << 47 : (size_t)-PG;
		break;
	case MR_FIXED:
		flags = MREMAP_MAYMOVE | MREMAP_FIXED;
		target = pick_target(r, nlen);
		break;
	case MR_DONTUNMAP:
		flags = MREMAP_MAYMOVE | MREMAP_DONTUNMAP;
		if (chance(r, 85)) {
			nlen = olen;
		}
		if (chance(r, 50)) {
			flags |= MREMAP_FIXED;
			target = pick_target(r, nlen);
		}
		break;
	case MR_DUP:
		olen = 0;
		nlen = (1 + rb(r, 16)) * PG;
		flags = MREMAP_MAYMOVE;
		if (chance(r, 30)) {
			flags |= MREMAP_FIXED;
			target = pick_target(r, nlen);
		}
		break;
	default:
		flags = MREMAP_MAYMOVE;
		switch (rb(r, 9)) {
		case 0:
			flags = MREMAP_FIXED;
			target = pick_target(r, nlen);
			break;
		case 1:
			flags = MREMAP_DONTUNMAP;
			nlen = olen;
			break;
		case 2:
			flags |= 8;
			break;
		case 3:
			old += 1 + rb(r, PG - 1);
			break;
		case 4:
			nlen = 0;
			break;
		case 5:
			flags |= MREMAP_FIXED;
			target = pick_target(r, nlen) + 1 + rb(r, PG - 1);
			break;
		case 6:
			/* Overlapping the old range (and inside its area). */
			flags |= MREMAP_FIXED;
			target = old + (page_up(olen) > PG ? PG * rb(r, 2) : 0);
			break;
		case 7:
			flags |= MREMAP_DONTUNMAP | MREMAP_FIXED;
			nlen = olen + PG;
			target = pick_target(r, nlen);
			break;
		default:
			flags |= MREMAP_DONTUNMAP;
			nlen = olen + PG;
			break;
		}
		break;
	}
	say("%s mremap %s old=%s new=%s flags=", label, A(old), L(olen), L(nlen));
	mremap_flags_str(flags);
	if (flags & (MREMAP_FIXED)) {
		say(" to=%s", A(target));
	}
	/* Which old pages are mapped: a move of several mappings (Linux
	 * 6.17+) leaves the target alone where the old range has holes. */
	unsigned char src_mapped[MAXPAGES];
	for (size_t p = 0; p < page_up(olen) / PG && p < MAXPAGES; p++) {
		unsigned char v;
		src_mapped[p] = mincore((void *)(old + p * PG), PG, &v) == 0 || errno != ENOMEM;
	}
	void *res = mremap((void *)old, olen, nlen, flags, (void *)target);
	int e = errno;
	if (res == MAP_FAILED) {
		say(" = -1 %s", errname(e));
		endl();
		return;
	}
	uintptr_t rr = (uintptr_t)res;
	size_t ol = page_up(olen), nl = page_up(nlen), keep = min_sz(ol, nl);
	unsigned char indet[MAXPAGES] = { 0 };
	for (size_t p = 0; p < keep / PG && p < MAXPAGES; p++) {
		indet[p] = is_indet(old + p * PG);
	}
	bool dontunmap = (flags & MREMAP_DONTUNMAP) != 0;
	if (olen == 0) {
		took_mapping(rr, nlen, !(flags & MREMAP_FIXED));
		endl();
		return;
	}
	if (rr == old) {
		/* A slot prints the same whether it stayed or moved: placement is
		 * not compared. */
		if (whole) {
			say(" = F%d", ar->id);
			ar->npages = nl / PG;
			/* As if moved: residency is not compared across placement. */
			memset(ar->touched, 0, sizeof ar->touched);
		} else {
			say(" = %s", A(rr));
		}
		if (nl < ol) {
			page_flags(ar, old + nl, old + ol, PF_CLEAR);
		} else {
			page_flags(ar, old + ol, old + nl, PF_CLEAR);
		}
		endl();
		return;
	}
	/* Moved: the old range is gone (or empty, with DONTUNMAP). */
	page_flags(ar, old, old + ol, PF_CLEAR);
	struct area *dest;
	if (in_r(rr)) {
		say(" = %s", A(rr));
		if (whole && !dontunmap) {
			retire(ar);
		}
		dest = area_of(rr);
		for (size_t p = 0; p < nl / PG; p++) {
			if (p >= keep / PG || p >= MAXPAGES || src_mapped[p]) {
				page_flags(dest, rr + p * PG, rr + (p + 1) * PG, PF_CLEAR);
			}
		}
	} else if (whole && !dontunmap) {
		if (nl / PG > MAXPAGES) {
			say(" = %s (untracked)", A(rr));
			retire(ar);
			endl();
			return;
		}
		ar->base = rr;
		ar->npages = nl / PG;
		memset(ar->indet, 0, sizeof ar->indet);
		memset(ar->touched, 0, sizeof ar->touched);
		say(" = F%d", ar->id);
		dest = ar;
	} else {
		took_mapping(rr, nl, !(flags & MREMAP_FIXED));
		dest = area_of(rr);
	}
	for (size_t p = 0; p < keep / PG && p < MAXPAGES; p++) {
		if (indet[p]) {
			page_flags(dest, rr + p * PG, rr + (p + 1) * PG, PF_INDET);
		}
	}
	endl();
}

static void op_madvise(struct rng *r, size_t ai)
{
	struct area *ar = pick_area(r, 20);
	uintptr_t a;
	size_t len;
	pick_range(r, ar, &a, &len, 20, 3, 3);
	int adv = advices[ai].adv;
	say("%s madvise %s len=%s %s", label, A(a), L(len), advices[ai].name);
	int res = madvise((void *)a, len, adv);
	int e = errno;
	uintptr_t end = a + page_up(len);
	switch (adv) {
	case MADV_FREE:
		page_flags(ar, a, end, PF_INDET);
		page_flags(ar, a, end, PF_UNTOUCH);
		break;
	case MADV_DONTNEED:
	case 24:
	case MADV_REMOVE:
		page_flags(ar, a, end, res == 0 ? PF_CLEAR : PF_UNTOUCH);
		break;
	case MADV_NORMAL:
	case MADV_RANDOM:
	case MADV_SEQUENTIAL:
	case MADV_WILLNEED:
	case MADV_DONTFORK:
	case MADV_DOFORK:
	case MADV_DONTDUMP:
	case MADV_DODUMP:
	case MADV_WIPEONFORK:
	case MADV_KEEPONFORK:
	case MADV_POPULATE_READ:
	case MADV_POPULATE_WRITE:
		break;
	default:
		page_flags(ar, a, end, PF_UNTOUCH);
		break;
	}
	if (res == 0) {
		say(" = 0");
	} else {
		say(" = -1 %s", errname(e));
	}
	endl();
}

static void op_msync(struct rng *r)
{
	static const int fl[] = {
		MS_ASYNC, MS_SYNC, MS_INVALIDATE, MS_ASYNC | MS_INVALIDATE,
		MS_SYNC | MS_INVALIDATE, 0, MS_ASYNC | MS_SYNC, 8, 0x10,
	};
	struct area *ar = pick_area(r, 20);
	uintptr_t a;
	size_t len;
	pick_range(r, ar, &a, &len, 20, 4, 3);
	int flags = fl[rb(r, sizeof fl / sizeof fl[0])];
	say("%s msync %s len=%s flags=%#x", label, A(a), L(len), (unsigned)flags);
	int res = msync((void *)a, len, flags);
	int e = errno;
	if (res == 0) {
		say(" = 0");
	} else {
		say(" = -1 %s", errname(e));
	}
	endl();
}

static void op_mlock(struct rng *r)
{
	struct area *ar = pick_area(r, 20);
	uintptr_t a;
	size_t len;
	pick_range(r, ar, &a, &len, 20, 5, 3);
	len = min_sz(len, 8 * PG);
	unsigned k = (unsigned)rb(r, 6);
	int res;
	const char *what;
	switch (k) {
	case 0:
	case 1:
		what = "mlock";
		res = mlock((void *)a, len);
		break;
	case 2:
		what = "mlock2";
		res = mlock2((void *)a, len, 0);
		break;
	case 3:
		what = "mlock2.onfault";
		res = mlock2((void *)a, len, MLOCK_ONFAULT);
		break;
	case 4:
		what = "mlock2.bad";
		res = mlock2((void *)a, len, 4);
		break;
	default:
		what = "munlock";
		res = munlock((void *)a, len);
		break;
	}
	int e = errno;
	say("%s %s %s len=%s", label, what, A(a), L(len));
	if (res == 0) {
		say(" = 0");
	} else {
		say(" = -1 %s", errname(e));
	}
	endl();
}

static void op_mlock_all(struct rng *r)
{
	static const int fl[] = {
		MCL_CURRENT, MCL_FUTURE, MCL_CURRENT | MCL_FUTURE, MCL_CURRENT | MCL_ONFAULT,
		MCL_FUTURE | MCL_ONFAULT, 0, 8,
	};
	int res, flags = -1;
	if (chance(r, 50)) {
		res = munlockall();
	} else {
		flags = fl[rb(r, sizeof fl / sizeof fl[0])];
		res = mlockall(flags);
	}
	int e = errno;
	if (flags < 0) {
		say("%s munlockall", label);
	} else {
		say("%s mlockall %#x", label, (unsigned)flags);
	}
	if (res == 0) {
		say(" = 0");
	} else {
		say(" = -1 %s", errname(e));
	}
	endl();
}

static void op_mincore(struct rng *r, bool vec_in_window)
{
	static unsigned char vecbuf[MAXPAGES + 16];
	struct area *ar = pick_area(r, 20);
	uintptr_t a;
	size_t len;
	pick_range(r, ar, &a, &len, 20, 4, 3);
	size_t pages = page_up(len + (a & (PG - 1))) / PG;
	unsigned char *vec = vecbuf;
	uintptr_t vw = 0;
	if (vec_in_window) {
		vw = win[rb(r, NWIN)].base + rb(r, WPAGES - 1) * PG + rb(r, PG - MAXPAGES - 8);
		vec = (unsigned char *)vw;
	} else {
		memset(vecbuf, 0xee, sizeof vecbuf);
	}
	say("%s mincore %s len=%s", label, A(a), L(len));
	if (vec_in_window) {
		say(" vec=%s", A(vw));
	}
	int res = mincore((void *)a, len, vec);
	int e = errno;
	if (res == 0) {
		say(" = 0");
	} else {
		say(" = -1 %s", errname(e));
	}
	if (!vec_in_window && pages <= MAXPAGES) {
		/* Residency is compared only where the driver knows it: pages it
		 * touched; 'x' = left unwritten by the call. */
		say(" [");
		for (size_t p = 0; p < pages; p++) {
			uintptr_t pg = (a & ~(PG - 1)) + p * PG;
			char c = vec[p] == 0xee ? 'x' : !is_touched(ar, pg) ? '?' : (char)('0' + (vec[p] & 1));
			say("%c", c);
		}
		say("]");
	}
	if (vec_in_window) {
		/* Whatever the kernel wrote there is residency: overwrite it so
		 * contents stay deterministic. */
		struct access x = { .a = vw, .len = MAXPAGES + 8, .write = true, .salt = 7 };
		guarded(access_fn, &x);
	}
	endl();
}

static void run_kind(int kind, struct rng *r, size_t ai);
static bool excluded(const char *name);

static const int child_kinds[] = {
	K_READ, K_READ, K_WRITE, K_WRITE, K_LAYOUT, K_MPROTECT, K_MUNMAP, K_MADVISE,
	K_MMAP_FIXED, K_MREMAP_SHRINK, K_MREMAP_GROW,
};

static void op_fork(struct rng *r)
{
	int fds[2];
	if (pipe(fds) != 0) {
		say("%s fork: pipe failed %s", label, errname(errno));
		endl();
		return;
	}
	char parent_label[sizeof label];
	memcpy(parent_label, label, sizeof label);
	say("%s fork", label);
	endl();
	unsigned nsub = 1 + (unsigned)rb(r, 4);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(fds[0]);
		close(fds[1]);
		say("%s fork = -1 %s", label, errname(e));
		endl();
		return;
	}
	if (pid == 0) {
		/* The child runs its operations from main's loop (child_run), at
		 * the stack depth of the parent's: the shim's handling of
		 * siglongjmp depends on it (see README, "signal mask"). */
		close(fds[0]);
		out_fd = fds[1];
		alarm(20);
		child.nsub = nsub;
		child.r = *r;
		snprintf(child.label, sizeof child.label, "%s", parent_label);
		return;
	}
	close(fds[1]);
	char buf[4096];
	ssize_t n;
	while ((n = read(fds[0], buf, sizeof buf)) != 0) {
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			break;
		}
		write_all(out_fd, buf, (size_t)n);
	}
	close(fds[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
	}
	say("%s fork = child ", label);
	if (WIFEXITED(st)) {
		say("exit %d", WEXITSTATUS(st));
	} else if (WIFSIGNALED(st)) {
		say("killed by signal %d", WTERMSIG(st));
	} else {
		say("status %#x", (unsigned)st);
	}
	endl();
}

/* In a forked child: its operations, then exit. */
static void child_run(void)
{
	struct rng *r = &child.r;
	for (unsigned i = 0; i < child.nsub; i++) {
		snprintf(label, sizeof label, "%s.c%u", child.label, i);
		int k = child_kinds[rb(r, sizeof child_kinds / sizeof child_kinds[0])];
		size_t ai = pick_weighted_advice(r);
		char full[64];
		snprintf(full, sizeof full, "madvise.%s", advices[ai].name);
		if (excluded(k == K_MADVISE ? full : kinds[k].name)) {
			continue;
		}
		run_kind(k, r, ai);
	}
	_exit(0);
}

static void run_kind(int kind, struct rng *r, size_t ai)
{
	switch (kind) {
	case K_READ:
		op_access(r, false);
		break;
	case K_WRITE:
		op_access(r, true);
		break;
	case K_LAYOUT:
		do_layout();
		break;
	case K_MMAP_FIXED:
		op_mmap_fixed(r, false);
		break;
	case K_MMAP_NOREPLACE:
		op_mmap_fixed(r, true);
		break;
	case K_MMAP_NULL:
		op_mmap_null(r);
		break;
	case K_MMAP_HINT:
		op_mmap_hint(r, false);
		break;
	case K_MMAP_HINTODD:
		op_mmap_hint(r, true);
		break;
	case K_MMAP_ODD:
		op_mmap_odd(r, false);
		break;
	case K_MMAP_ODDFIXED:
		op_mmap_odd(r, true);
		break;
	case K_MMAP_FILE:
		op_mmap_file(r, false);
		break;
	case K_MMAP_FILEFIXED:
		op_mmap_file(r, true);
		break;
	case K_MMAP_BAD:
		op_mmap_bad(r);
		break;
	case K_MUNMAP:
		op_munmap(r);
		break;
	case K_MUNMAP_SLOT:
		op_munmap_slot(r);
		break;
	case K_MPROTECT:
		op_mprotect(r, false);
		break;
	case K_MPROTECT_BAD:
		op_mprotect(r, true);
		break;
	case K_MREMAP_SHRINK:
		op_mremap(r, MR_SHRINK);
		break;
	case K_MREMAP_GROW:
		op_mremap(r, MR_GROW);
		break;
	case K_MREMAP_SAME:
		op_mremap(r, MR_SAME);
		break;
	case K_MREMAP_HUGE:
		op_mremap(r, MR_HUGE);
		break;
	case K_MREMAP_FIXED:
		op_mremap(r, MR_FIXED);
		break;
	case K_MREMAP_DONTUNMAP:
		op_mremap(r, MR_DONTUNMAP);
		break;
	case K_MREMAP_DUP:
		op_mremap(r, MR_DUP);
		break;
	case K_MREMAP_BAD:
		op_mremap(r, MR_BAD);
		break;
	case K_MADVISE:
		op_madvise(r, ai);
		break;
	case K_MSYNC:
		op_msync(r);
		break;
	case K_MLOCK:
		op_mlock(r);
		break;
	case K_MLOCK_ALL:
		op_mlock_all(r);
		break;
	case K_MINCORE:
		op_mincore(r, false);
		break;
	case K_MINCORE_VECARENA:
		op_mincore(r, true);
		break;
	case K_FORK:
		op_fork(r);
		break;
	default:
		break;
	}
}

/* ---- setup ---- */

static void setup_fail(const char *what)
{
	say("setup: %s failed: %s", what, errname(errno));
	endl();
	exit(4);
}

static void map_fixed_or_die(uintptr_t a, size_t len, int prot, int flags)
{
	if (mmap((void *)a, len, prot, flags | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != (void *)a) {
		setup_fail("mmap");
	}
}

static void setup(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, NULL) != 0 || sigaction(SIGBUS, &sa, NULL) != 0) {
		setup_fail("sigaction");
	}
	void *sp = mmap(NULL, SPACER, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (sp == MAP_FAILED) {
		setup_fail("spacer mmap");
	}
	rbase = (uintptr_t)sp;
	hbase = rbase + RPAGES * PG + HGAP;
	/* Guards: shared PROT_NONE pages, so nothing ever merges with them. */
	for (int g = 0; g <= NWIN; g++) {
		map_fixed_or_die(rbase + (uintptr_t)g * (WPAGES + 1) * PG, PG, PROT_NONE, MAP_SHARED);
	}
	for (int w = 0; w < NWIN; w++) {
		win[w].kind = 'W';
		win[w].id = w;
		win[w].live = true;
		win[w].base = rbase + ((uintptr_t)w * (WPAGES + 1) + 1) * PG;
		win[w].npages = WPAGES;
		if (munmap((void *)win[w].base, WPAGES * PG) != 0) {
			setup_fail("munmap");
		}
	}
	if (munmap((void *)(rbase + RPAGES * PG), SPACER - RPAGES * PG) != 0) {
		setup_fail("spacer munmap");
	}
	int rw = PROT_READ | PROT_WRITE;
	map_fixed_or_die(win[0].base, WPAGES * PG, rw, MAP_PRIVATE);
	map_fixed_or_die(win[1].base, WPAGES * PG, rw, MAP_SHARED);
	map_fixed_or_die(win[2].base, 32 * PG, rw, MAP_PRIVATE);
	map_fixed_or_die(win[2].base + 40 * PG, 16 * PG, PROT_READ, MAP_SHARED);
	memfd = memfd_create("fuzz", 0);
	if (memfd < 0 || ftruncate(memfd, MEMFD_PAGES * PG) != 0) {
		setup_fail("memfd");
	}
	static const char tag[] = "libvmshim fuzz memfd";
	for (unsigned p = 0; p < MEMFD_PAGES; p++) {
		if (pwrite(memfd, tag, sizeof tag, (off_t)(p * PG + p)) != (ssize_t)sizeof tag) {
			setup_fail("memfd write");
		}
	}
	say("setup ok");
	endl();
}

/* ---- options ---- */

static unsigned char *only;  /* NULL: every operation */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fuzz_driver --seed S --ops N [--only LIST|@FILE] [--exclude KIND[,KIND...]]\n"
		"       fuzz_driver --list-kinds | --help\n"
		"Runs N operations generated from seed S, one normalised line each.\n"
		"  --only LIST    run only these operation indices (comma-separated numbers\n"
		"                 or ranges a-b); @FILE reads them from FILE (whitespace too)\n"
		"  --exclude K,.. skip operations of these kinds (a prefix before '.' matches\n"
		"                 every variant: 'mremap' skips mremap.fixed too); madvise\n"
		"                 kinds are madvise.ADVICE\n"
		"  --list-kinds   print every kind name and exit\n");
}

static void bad_usage(const char *msg, const char *arg)
{
	fprintf(stderr, "fuzz_driver: %s%s%s (see --help)\n", msg, arg ? ": " : "", arg ? arg : "");
	exit(2);
}

static uint64_t parse_u64(const char *s, const char *opt)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || *s == '-') {
		bad_usage(opt, s);
	}
	return v;
}

static void parse_only(const char *s, uint64_t nops)
{
	static char filebuf[1 << 20];
	if (*s == '@') {
		FILE *f = fopen(s + 1, "r");
		if (f == NULL) {
			bad_usage("--only: cannot open", s + 1);
		}
		size_t n = fread(filebuf, 1, sizeof filebuf - 1, f);
		fclose(f);
		filebuf[n] = '\0';
		s = filebuf;
	}
	only = calloc(nops + 1, 1);
	if (only == NULL) {
		bad_usage("out of memory", NULL);
	}
	const char *p = s;
	while (*p != '\0') {
		if (*p == ',' || *p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') {
			p++;
			continue;
		}
		char *end;
		unsigned long long a = strtoull(p, &end, 10), b;
		if (end == p) {
			bad_usage("--only: bad list", s);
		}
		b = a;
		p = end;
		if (*p == '-') {
			b = strtoull(p + 1, &end, 10);
			if (end == p + 1) {
				bad_usage("--only: bad list", s);
			}
			p = end;
		}
		for (unsigned long long i = a; i <= b && i < nops; i++) {
			only[i] = 1;
		}
	}
}

static const char *excl[64];
static int nexcl;

static bool excluded(const char *name)
{
	for (int i = 0; i < nexcl; i++) {
		size_t n = strlen(excl[i]);
		if (strncmp(name, excl[i], n) == 0 && (name[n] == '\0' || name[n] == '.')) {
			return true;
		}
	}
	return false;
}

static int pick_kind(struct rng *r)
{
	unsigned total = 0;
	for (int k = 0; k < K_NKINDS; k++) {
		total += kinds[k].weight;
	}
	size_t x = rb(r, total);
	for (int k = 0; k < K_NKINDS; k++) {
		if (x < kinds[k].weight) {
			return k;
		}
		x -= kinds[k].weight;
	}
	return K_READ;
}

int main(int argc, char **argv)
{
	bool have_seed = false, have_ops = false;
	uint64_t nops = 0;
	const char *only_arg = NULL;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(o, "--list-kinds") == 0) {
			for (int k = 0; k < K_NKINDS; k++) {
				if (k == K_MADVISE) {
					for (size_t a = 0; a < NADV; a++) {
						printf("madvise.%s\n", advices[a].name);
					}
				} else {
					printf("%s\n", kinds[k].name);
				}
			}
			return 0;
		}
		if (i + 1 >= argc) {
			bad_usage("unknown option or missing value", o);
		}
		const char *v = argv[++i];
		if (strcmp(o, "--seed") == 0) {
			seed = parse_u64(v, "--seed wants a number");
			have_seed = true;
		} else if (strcmp(o, "--ops") == 0) {
			nops = parse_u64(v, "--ops wants a number");
			have_ops = true;
		} else if (strcmp(o, "--only") == 0) {
			only_arg = v;
		} else if (strcmp(o, "--exclude") == 0) {
			char *copy = strdup(v);
			for (char *t = strtok(copy, ","); t != NULL && nexcl < 64; t = strtok(NULL, ",")) {
				excl[nexcl++] = t;
			}
		} else {
			bad_usage("unknown option", o);
		}
	}
	if (!have_seed || !have_ops) {
		bad_usage("--seed and --ops are required", NULL);
	}
	if (only_arg != NULL) {
		parse_only(only_arg, nops);
	}
	snprintf(label, sizeof label, "#setup");
	setup();
	for (uint64_t i = 0; i < nops; i++) {
		if (only != NULL && !only[i]) {
			continue;
		}
		struct rng r = { mix64(seed * 0x100000001b3ULL) ^ mix64(i + 1) };
		int k = pick_kind(&r);
		size_t ai = 0;
		const char *name = kinds[k].name;
		char full[64];
		if (k == K_MADVISE) {
			ai = pick_weighted_advice(&r);
			snprintf(full, sizeof full, "madvise.%s", advices[ai].name);
			name = full;
		}
		if (excluded(name)) {
			continue;
		}
		op_index = i;
		snprintf(label, sizeof label, "#%lu", (unsigned long)i);
		run_kind(k, &r, ai);
		if (child.nsub != 0) {
			child_run();
		}
	}
	snprintf(label, sizeof label, "#end");
	do_layout();
	say("#end done");
	endl();
	return 0;
}
