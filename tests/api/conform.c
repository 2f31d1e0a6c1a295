/*
 * tests/api/conform.c - conformance checks for the interposed calls.
 *
 * Runs a fixed table of named checks and prints one line per check:
 *
 *     NAME: key=value key=value ...
 *
 * Every value is normalised so that the line is the same on every run of
 * the same kernel and C library: return values as 0/-1 (or MAP_FAILED/ok,
 * NULL/ok), errno as its name, addresses as offsets from the check's base
 * mapping ("+0x1000"), signals as SIGNAME/SI_CODE@offset.  conform.test
 * runs this program natively and under LD_PRELOAD=libvmshim.so and diffs
 * the two outputs: any difference is a place where the shim's semantics are
 * not Linux's.  The program is not linked against the shim.
 *
 * Conventions:
 *  - One rule per check; the name states the rule and ends with the errno
 *    it expects, if any.  Each table entry carries the line this machine's
 *    kernel (Linux 6.x, x86_64, glibc 2.36, 4 KiB pages) prints, so the
 *    source documents the rule; --verify reports any line that differs
 *    from it on stderr (a different kernel, or a wrong rule).
 *  - "r=" is the call's result: "0", "-1/EINVAL", "MAP_FAILED/ENOMEM",
 *    "ok" (a pointer), "+0x1000" (a pointer relative to the base).  If a
 *    successful call changed errno (errno is zeroed before each call), the
 *    value gets "/errno=NAME" appended: a successful call must not touch
 *    errno.
 *  - Checks flagged FORK run in a forked child with SIGSEGV and SIGBUS
 *    handlers (SA_SIGINFO, siglongjmp back to the probe); the child sends
 *    its line through a pipe, and the parent appends " child=killed:SIGX"
 *    or " child=exited:N" if it did not exit 0.  Checks flagged NOHANDLER
 *    keep the default actions, so the child dies of its fault.
 *  - Probes: "wr=ok" (a write succeeded), "rd=0x41" (the byte read), or
 *    "rd=SIGSEGV/SEGV_ACCERR@+0x107b".
 *
 * Usage: conform [--verify] [--list] [NAME-PREFIX...]
 *
 * Kernel-version notes are next to the checks they concern; a check is in
 * the table only if its native result is deterministic on Linux 6.x.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif

/* A mmap flag bit no Linux version assigns (between MAP_FIXED_NOREPLACE
 * 0x100000 and MAP_UNINITIALIZED 0x4000000 on x86_64). */
#define UNKNOWN_MAP_FLAG 0x200000

static size_t P; /* page size */

/* Hidden from the compiler, so it neither folds nor warns about them. */
static volatile size_t huge_half = SIZE_MAX / 2;
static volatile size_t huge_max = SIZE_MAX;

/* ------------------------------------------------------------------ */
/* Output: the current check's line.                                   */

static char line[4096];
static size_t line_len;
static int out_fd = -1; /* in a FORK child: the pipe to the parent */
static char *g_base;    /* offsets are printed relative to this */

static void write_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, n);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w <= 0) {
			return;
		}
		buf += w;
		n -= (size_t)w;
	}
}

/* Appends " " and the formatted text; in a child, sends it at once so a
 * child that dies still reports what it got to. */
__attribute__((format(printf, 1, 2))) static void out(const char *fmt, ...)
{
	char tmp[512];
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp + 1, sizeof tmp - 1, fmt, ap);
	va_end(ap);
	tmp[0] = ' ';
	if (n < 0) {
		n = 0;
	}
	if ((size_t)n > sizeof tmp - 2) {
		n = (int)(sizeof tmp - 2);
	}
	if (out_fd >= 0) {
		write_all(out_fd, tmp, (size_t)n + 1);
	} else if (line_len + (size_t)n + 1 < sizeof line) {
		memcpy(line + line_len, tmp, (size_t)n + 1);
		line_len += (size_t)n + 1;
		line[line_len] = '\0';
	}
	errno = saved;
}

static const char *ename(int e)
{
	static char buf[32];
	const char *n = e ? strerrorname_np(e) : "0";
	if (n == NULL) {
		snprintf(buf, sizeof buf, "errno%d", e);
		return buf;
	}
	return n;
}

static const char *signame(int sig)
{
	static char buf[32];
	const char *a = sigabbrev_np(sig);
	if (a != NULL) {
		snprintf(buf, sizeof buf, "SIG%s", a);
	} else {
		snprintf(buf, sizeof buf, "signal%d", sig);
	}
	return buf;
}

static const char *codename(int sig, int code)
{
	static char buf[32];
	if (sig == SIGSEGV) {
		switch (code) {
		case SEGV_MAPERR: return "SEGV_MAPERR";
		case SEGV_ACCERR: return "SEGV_ACCERR";
		case SEGV_BNDERR: return "SEGV_BNDERR";
		case SEGV_PKUERR: return "SEGV_PKUERR";
		}
	} else if (sig == SIGBUS) {
		switch (code) {
		case BUS_ADRALN: return "BUS_ADRALN";
		case BUS_ADRERR: return "BUS_ADRERR";
		case BUS_OBJERR: return "BUS_OBJERR";
		case BUS_MCEERR_AR: return "BUS_MCEERR_AR";
		case BUS_MCEERR_AO: return "BUS_MCEERR_AO";
		}
	}
	switch (code) {
	case SI_USER: return "SI_USER";
	case SI_KERNEL: return "SI_KERNEL";
	case SI_TKILL: return "SI_TKILL";
	case SI_QUEUE: return "SI_QUEUE";
	}
	snprintf(buf, sizeof buf, "code%d", code);
	return buf;
}

/* An address relative to the check's base: "+0x1000", "-0x2000", "far". */
static const char *rel(const void *p)
{
	static char buf[4][40];
	static int slot;
	char *b = buf[slot++ & 3];
	intptr_t d = (intptr_t)((uintptr_t)p - (uintptr_t)g_base);
	if (g_base == NULL || d > ((intptr_t)1 << 40) || d < -((intptr_t)1 << 40)) {
		snprintf(b, 40, "far");
	} else if (d >= 0) {
		snprintf(b, 40, "+0x%lx", (unsigned long)d);
	} else {
		snprintf(b, 40, "-0x%lx", (unsigned long)-d);
	}
	return b;
}

static void note_ret(const char *key, long r, int e)
{
	if (r == -1) {
		out("%s=-1/%s", key, ename(e));
	} else if (e != 0) {
		out("%s=%ld/errno=%s", key, r, ename(e));
	} else {
		out("%s=%ld", key, r);
	}
}

static void note_map(const char *key, void *p, int e, int relative)
{
	if (p == MAP_FAILED) {
		out("%s=MAP_FAILED/%s", key, ename(e));
		return;
	}
	const char *v = relative ? rel(p) : "ok";
	if (e != 0) {
		out("%s=%s/errno=%s", key, v, ename(e));
	} else {
		out("%s=%s", key, v);
	}
}

static void note_ptr(const char *key, void *p, int e)
{
	if (p == NULL) {
		out("%s=NULL/%s", key, ename(e));
	} else if (e != 0) {
		out("%s=ok/errno=%s", key, ename(e));
	} else {
		out("%s=ok", key);
	}
}

/* R: an int-returning call (0 / -1 + errno).  M: a mapping call printed as
 * ok/MAP_FAILED; MR: printed relative to g_base.  A: an allocation. */
#define R(key, call)                                   \
	do {                                           \
		errno = 0;                             \
		long r_ = (long)(call);                \
		note_ret(key, r_, errno);              \
	} while (0)
#define M(key, var, call)                              \
	do {                                           \
		errno = 0;                             \
		(var) = (call);                        \
		note_map(key, (void *)(var), errno, 0); \
	} while (0)
#define MR(key, var, call)                             \
	do {                                           \
		errno = 0;                             \
		(var) = (call);                        \
		note_map(key, (void *)(var), errno, 1); \
	} while (0)
#define A(key, var, call)                              \
	do {                                           \
		errno = 0;                             \
		(var) = (call);                        \
		note_ptr(key, (void *)(var), errno);   \
	} while (0)

/* ------------------------------------------------------------------ */
/* Set-up helpers.  A set-up failure is printed and ends the check.    */

static int setup_failed(const char *what)
{
	out("SETUP-FAILED:%s/%s", what, ename(errno));
	return 1;
}

#define SETUP(cond, what)                       \
	do {                                    \
		if (!(cond)) {                  \
			setup_failed(what);     \
			return;                 \
		}                               \
	} while (0)

static char *map_anon(size_t pages, int prot, int flags)
{
	void *p = mmap(NULL, pages * P, prot, flags | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

#define RW (PROT_READ | PROT_WRITE)
#define PRIV MAP_PRIVATE
#define SHARED MAP_SHARED

/* A free range of the given size: reserved, then unmapped. */
static char *free_range(size_t pages)
{
	char *p = map_anon(pages, PROT_NONE, PRIV);
	if (p != NULL) {
		munmap(p, pages * P);
	}
	return p;
}

/* The pattern byte at offset i for seed s: never zero. */
static unsigned char pat(size_t i, unsigned s)
{
	return (unsigned char)((i * 7 + (i >> 12) * 13 + s) % 251 + 1);
}

static void fill(char *p, size_t off, size_t n, unsigned s)
{
	for (size_t i = 0; i < n; i++) {
		p[i] = (char)pat(off + i, s);
	}
}

/* 1 if p[0..n) holds the pattern for offsets off.., else 0. */
static int has_pat(const char *p, size_t off, size_t n, unsigned s)
{
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)p[i] != pat(off + i, s)) {
			return 0;
		}
	}
	return 1;
}

/* Hides a pointer's history from the compiler: after a failed realloc the
 * old block is still live, which gcc's -Wuse-after-free cannot know. */
static void *still_live(void *p)
{
	__asm__("" : "+r"(p));
	return p;
}

static int is_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != 0) {
			return 0;
		}
	}
	return 1;
}

/* "pat" if the pattern is there, "zero" if all zero, else "OTHER". */
static const char *content(const char *p, size_t off, size_t n, unsigned s)
{
	if (has_pat(p, off, n, s)) {
		return "pat";
	}
	return is_zero(p, n) ? "zero" : "OTHER";
}

static char tmpdir[1024];

/* An unlinked temporary file of size bytes holding pattern seed s, open
 * O_RDWR; -1 on failure. */
static int make_file(size_t size, unsigned s)
{
	char path[1100];
	snprintf(path, sizeof path, "%s/conform.XXXXXX", tmpdir);
	int fd = mkstemp(path);
	if (fd < 0) {
		return -1;
	}
	unlink(path);
	char buf[4096];
	for (size_t off = 0; off < size; off += sizeof buf) {
		size_t n = size - off < sizeof buf ? size - off : sizeof buf;
		for (size_t i = 0; i < n; i++) {
			buf[i] = (char)pat(off + i, s);
		}
		if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* The same file opened again with other flags (through /proc/self/fd). */
static int reopen(int fd, int flags)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	return open(path, flags);
}

/* The file's bytes [off, off+n) hold pattern s. */
static int file_has_pat(int fd, size_t off, size_t n, unsigned s)
{
	char buf[4096];
	if (n > sizeof buf || pread(fd, buf, n, (off_t)off) != (ssize_t)n) {
		return 0;
	}
	return has_pat(buf, off, n, s);
}

/* mincore residency of pages as a string of 0/1. */
static const char *residency(char *p, size_t pages)
{
	static char buf[128];
	unsigned char vec[64];
	if (pages > sizeof vec || mincore(p, pages * P, vec) != 0) {
		snprintf(buf, sizeof buf, "mincore-failed/%s", ename(errno));
		return buf;
	}
	for (size_t i = 0; i < pages; i++) {
		buf[i] = (char)('0' + (vec[i] & 1));
	}
	buf[pages] = '\0';
	return buf;
}

/* ------------------------------------------------------------------ */
/* Probes: touch memory, report the value or the signal.               */

static sigjmp_buf probe_jb;
static volatile sig_atomic_t probe_armed;
static volatile int probe_sig, probe_code;
static void *volatile probe_addr;
static int in_child;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (!probe_armed) {
		/* Not expected: let the fault kill the child on return. */
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = SIG_DFL;
		sigaction(sig, &sa, NULL);
		return;
	}
	probe_armed = 0;
	probe_sig = sig;
	probe_code = si->si_code;
	probe_addr = si->si_addr;
	siglongjmp(probe_jb, 1);
}

static void install_fault_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

static void note_fault(const char *key)
{
	out("%s=%s/%s@%s", key, signame(probe_sig), codename(probe_sig, probe_code),
	    rel(probe_addr));
}

/* Reads one byte: prints key=0xNN or the signal; returns the byte or -1. */
static int probe_rd(const char *key, const void *addr)
{
	if (!in_child) {
		out("%s=PROBE-OUTSIDE-CHILD", key);
		return -1;
	}
	if (sigsetjmp(probe_jb, 1) == 0) {
		probe_armed = 1;
		int v = *(const volatile unsigned char *)addr;
		probe_armed = 0;
		out("%s=0x%02x", key, v);
		return v;
	}
	note_fault(key);
	return -1;
}

/* Writes one byte: prints key=ok or the signal; returns 0 or -1. */
static int probe_wr(const char *key, void *addr, char v)
{
	if (!in_child) {
		out("%s=PROBE-OUTSIDE-CHILD", key);
		return -1;
	}
	if (sigsetjmp(probe_jb, 1) == 0) {
		probe_armed = 1;
		*(volatile char *)addr = v;
		probe_armed = 0;
		out("%s=ok", key);
		return 0;
	}
	note_fault(key);
	return -1;
}

static const char *status_text(int st)
{
	static char buf[64];
	if (WIFEXITED(st)) {
		snprintf(buf, sizeof buf, "exited:%d", WEXITSTATUS(st));
	} else if (WIFSIGNALED(st)) {
		snprintf(buf, sizeof buf, "killed:%s", signame(WTERMSIG(st)));
	} else {
		snprintf(buf, sizeof buf, "status:0x%x", st);
	}
	return buf;
}

/* Waits for pid, retrying on EINTR; returns the status. */
static int wait_for(pid_t pid)
{
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
	}
	return st;
}

/* ================================================================== */
/* mmap                                                                */

static void mmap_zero_length_EINVAL(void)
{
	void *p;
	M("r", p, mmap(NULL, 0, RW, PRIV | MAP_ANONYMOUS, -1, 0));
}

static void mmap_fixed_unaligned_addr_EINVAL(void)
{
	char *b = map_anon(2, RW, PRIV);
	SETUP(b, "map");
	fill(b, 0, 2 * P, 1);
	void *p;
	M("r", p, mmap(b + 1, P, RW, PRIV | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	out("old=%s", content(b, 0, 2 * P, 1));
	munmap(b, 2 * P);
}

static void mmap_unaligned_offset_EINVAL(void)
{
	int fd = make_file(2 * P, 1);
	SETUP(fd >= 0, "file");
	void *p;
	M("file", p, mmap(NULL, P, PROT_READ, PRIV, fd, 100));
	M("anon", p, mmap(NULL, P, PROT_READ, PRIV | MAP_ANONYMOUS, -1, 100));
	close(fd);
}

static void mmap_neither_shared_nor_private_EINVAL(void)
{
	int fd = make_file(P, 1);
	SETUP(fd >= 0, "file");
	void *p;
	M("anon", p, mmap(NULL, P, RW, MAP_ANONYMOUS, -1, 0));
	M("file", p, mmap(NULL, P, PROT_READ, 0, fd, 0));
	close(fd);
}

/* MAP_SHARED|MAP_PRIVATE is MAP_SHARED_VALIDATE (0x03): valid for a file,
 * EINVAL for anonymous memory (do_mmap's anonymous switch has no case for
 * it).  Linux < 4.15: EINVAL for both. */
static void mmap_shared_and_private_is_validate(void)
{
	int fd = make_file(P, 1);
	SETUP(fd >= 0, "file");
	void *p;
	M("anon", p, mmap(NULL, P, RW, MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	M("file", p, mmap(NULL, P, PROT_READ, MAP_SHARED | MAP_PRIVATE, fd, 0));
	if (p != MAP_FAILED) {
		out("data=%s", content(p, 0, P, 1));
		munmap(p, P);
	}
	close(fd);
}

/* MAP_SHARED ignores unknown flags; MAP_SHARED_VALIDATE rejects them. */
static void mmap_shared_validate_unknown_flag_EOPNOTSUPP(void)
{
	int fd = make_file(P, 1);
	SETUP(fd >= 0, "file");
	void *p;
	M("validate", p, mmap(NULL, P, PROT_READ, MAP_SHARED_VALIDATE | UNKNOWN_MAP_FLAG, fd, 0));
	M("shared", p, mmap(NULL, P, PROT_READ, MAP_SHARED | UNKNOWN_MAP_FLAG, fd, 0));
	if (p != MAP_FAILED) {
		munmap(p, P);
	}
	M("private", p, mmap(NULL, P, PROT_READ, MAP_PRIVATE | UNKNOWN_MAP_FLAG, fd, 0));
	if (p != MAP_FAILED) {
		munmap(p, P);
	}
	close(fd);
}

static void mmap_bad_fd_EBADF(void)
{
	int fd = make_file(P, 1);
	SETUP(fd >= 0, "file");
	close(fd); /* fd is now a closed descriptor */
	void *p;
	M("minus1", p, mmap(NULL, P, PROT_READ, PRIV, -1, 0));
	M("closed", p, mmap(NULL, P, PROT_READ, SHARED, fd, 0));
}

/* mmap needs a readable descriptor, whatever the protection. */
static void mmap_wronly_fd_EACCES(void)
{
	int rw = make_file(P, 1);
	SETUP(rw >= 0, "file");
	int fd = reopen(rw, O_WRONLY);
	SETUP(fd >= 0, "reopen");
	void *p;
	M("shared_rw", p, mmap(NULL, P, RW, SHARED, fd, 0));
	M("shared_w", p, mmap(NULL, P, PROT_WRITE, SHARED, fd, 0));
	M("private_r", p, mmap(NULL, P, PROT_READ, PRIV, fd, 0));
	close(fd);
	close(rw);
}

/* A read-only descriptor: shared writable mappings refused, private ones
 * (copy-on-write) allowed. */
static void mmap_rdonly_fd_shared_write_EACCES(void)
{
	int rw = make_file(P, 1);
	SETUP(rw >= 0, "file");
	int fd = reopen(rw, O_RDONLY);
	SETUP(fd >= 0, "reopen");
	void *p;
	M("shared_rw", p, mmap(NULL, P, RW, SHARED, fd, 0));
	M("shared_r", p, mmap(NULL, P, PROT_READ, SHARED, fd, 0));
	if (p != MAP_FAILED) {
		munmap(p, P);
	}
	M("private_rw", p, mmap(NULL, P, RW, PRIV, fd, 0));
	if (p != MAP_FAILED) {
		munmap(p, P);
	}
	close(fd);
	close(rw);
}

static void mmap_directory_ENODEV(void)
{
	int fd = open(tmpdir, O_RDONLY | O_DIRECTORY);
	SETUP(fd >= 0, "open");
	void *p;
	M("r", p, mmap(NULL, P, PROT_READ, PRIV, fd, 0));
	close(fd);
}

static void mmap_pipe_ENODEV(void)
{
	int pfd[2];
	SETUP(pipe(pfd) == 0, "pipe");
	void *p;
	M("r", p, mmap(NULL, P, PROT_READ, PRIV, pfd[0], 0));
	close(pfd[0]);
	close(pfd[1]);
}

/* Lengths the address space cannot hold; SIZE_MAX page-aligns to 0. */
static void mmap_huge_length_ENOMEM(void)
{
	void *p;
	M("1<<62", p, mmap(NULL, (size_t)1 << 62, RW, PRIV | MAP_ANONYMOUS, -1, 0));
	M("max-4095", p, mmap(NULL, huge_max - 4095, RW, PRIV | MAP_ANONYMOUS, -1, 0));
	M("max", p, mmap(NULL, huge_max, RW, PRIV | MAP_ANONYMOUS, -1, 0));
	M("shared", p, mmap(NULL, (size_t)1 << 62, RW, SHARED | MAP_ANONYMOUS, -1, 0));
	M("noreserve", p,
	  mmap(NULL, (size_t)1 << 62, RW, PRIV | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
}

/* Linux >= 4.17; older kernels treat MAP_FIXED_NOREPLACE as a hint. */
static void mmap_fixed_noreplace_EEXIST(void)
{
	char *b = map_anon(4, RW, PRIV);
	SETUP(b, "map");
	g_base = b;
	fill(b, 0, 4 * P, 2);
	void *p;
	MR("over", p, mmap(b + P, P, RW, PRIV | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0));
	MR("overlap_end", p,
	   mmap(b + 3 * P, 2 * P, RW, PRIV | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0));
	out("old=%s", content(b, 0, 4 * P, 2));
	munmap(b, 4 * P);
	char *f = free_range(4);
	SETUP(f, "range");
	g_base = f;
	MR("free", p, mmap(f + P, P, RW, PRIV | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0));
	if (p != MAP_FAILED) {
		munmap(p, P);
	}
}

static void mmap_hint_in_free_range_honoured(void)
{
	char *f = free_range(32);
	SETUP(f, "range");
	g_base = f;
	char *p;
	MR("r", p, mmap(f + 8 * P, 4 * P, RW, PRIV | MAP_ANONYMOUS, -1, 0));
	if (p != MAP_FAILED) {
		munmap(p, 4 * P);
	}
}

/* An unaligned hint is rounded down to its page (x86 get_unmapped_area). */
static void mmap_unaligned_hint_rounded_down(void)
{
	char *f = free_range(8);
	SETUP(f, "range");
	g_base = f;
	char *p;
	MR("r", p, mmap(f + 2 * P + 1, P, RW, PRIV | MAP_ANONYMOUS, -1, 0));
	if (p != MAP_FAILED) {
		munmap(p, P);
	}
}

/* A hint over an existing mapping is not honoured, and does not harm it. */
static void mmap_hint_over_mapping_moves(void)
{
	char *b = map_anon(2, RW, PRIV);
	SETUP(b, "map");
	fill(b, 0, 2 * P, 3);
	char *p;
	M("r", p, mmap(b, P, RW, PRIV | MAP_ANONYMOUS, -1, 0));
	out("moved=%d old=%s", p != b, content(b, 0, 2 * P, 3));
	if (p != MAP_FAILED && p != b) {
		munmap(p, P);
	}
	munmap(b, 2 * P);
}

static void mmap_anon_reads_zero(void)
{
	char *b = map_anon(16, RW, PRIV);
	char *s = map_anon(4, RW, SHARED);
	SETUP(b && s, "map");
	out("private=%s shared=%s", content(b, 0, 16 * P, 0), content(s, 0, 4 * P, 0));
	munmap(b, 16 * P);
	munmap(s, 4 * P);
}

/* The length is rounded up to whole pages; the next page stays unmapped. */
static void mmap_length_rounded_up_to_page(void)
{
	char *f = free_range(2);
	SETUP(f, "range");
	g_base = f;
	char *p;
	MR("r", p, mmap(f, 100, RW, PRIV | MAP_ANONYMOUS, -1, 0));
	probe_wr("wr_last", f + P - 1, 5);
	probe_rd("rd_next", f + P);
}

static void mmap_prot_none_then_mprotect_rw(void)
{
	char *b = map_anon(2, PROT_NONE, PRIV);
	SETUP(b, "map");
	g_base = b;
	probe_rd("rd_none", b + 0x10);
	R("mprotect", mprotect(b, 2 * P, RW));
	probe_wr("wr", b + P + 7, 0x42);
	probe_rd("rd", b + P + 7);
	probe_rd("rd0", b);
}

/* MAP_FIXED over the middle of a mapping replaces just that part. */
static void mmap_fixed_replaces_part(void)
{
	char *b = map_anon(4, RW, PRIV);
	SETUP(b, "map");
	g_base = b;
	fill(b, 0, 4 * P, 4);
	char *p;
	MR("r", p, mmap(b + P, 2 * P, RW, PRIV | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	out("p0=%s p1=%s p2=%s p3=%s", content(b, 0, P, 4), content(b + P, P, P, 4),
	    content(b + 2 * P, 2 * P, P, 4), content(b + 3 * P, 3 * P, P, 4));
	munmap(b, 4 * P);
}

static void mmap_fixed_prot_none_part_faults(void)
{
	char *b = map_anon(3, RW, PRIV);
	SETUP(b, "map");
	g_base = b;
	fill(b, 0, 3 * P, 5);
	char *p;
	MR("r", p, mmap(b + P, P, PROT_NONE, PRIV | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	probe_rd("rd0", b + 1);
	probe_rd("rd1", b + P + 1);
	probe_rd("rd2", b + 2 * P + 1);
}

/* A fixed mapping of a file over part of an anonymous one. */
static void mmap_fixed_file_over_anon(void)
{
	int fd = make_file(2 * P, 6);
	char *b = map_anon(4, RW, PRIV);
	SETUP(fd >= 0 && b, "setup");
	g_base = b;
	fill(b, 0, 4 * P, 7);
	char *p;
	MR("r", p, mmap(b + P, 2 * P, PROT_READ, SHARED | MAP_FIXED, fd, 0));
	out("p0=%s file=%s p3=%s", content(b, 0, P, 7), content(b + P, 0, 2 * P, 6),
	    content(b + 3 * P, 3 * P, P, 7));
	munmap(b, 4 * P);
	close(fd);
}

static void mmap_populate_resident(void)
{
	char *b = map_anon(4, RW, PRIV | MAP_POPULATE);
	SETUP(b, "map");
	out("resident=%s zero=%d", residency(b, 4), is_zero(b, 4 * P));
	munmap(b, 4 * P);
}

static void mmap_file_private_contents(void)
{
	int fd = make_file(3 * P, 8);
	SETUP(fd >= 0, "file");
	char *p, *q;
	M("r", p, mmap(NULL, 3 * P, PROT_READ, PRIV, fd, 0));
	M("off", q, mmap(NULL, P, PROT_READ, PRIV, fd, (off_t)(2 * P)));
	if (p != MAP_FAILED && q != MAP_FAILED) {
		out("data=%s at_offset=%s", content(p, 0, 3 * P, 8), content(q, 2 * P, P, 8));
		munmap(p, 3 * P);
		munmap(q, P);
	}
	close(fd);
}

static void mmap_private_file_write_not_in_file(void)
{
	int fd = make_file(2 * P, 9);
	SETUP(fd >= 0, "file");
	char *p;
	M("r", p, mmap(NULL, 2 * P, RW, PRIV, fd, 0));
	if (p != MAP_FAILED) {
		memset(p + P, 0x5a, 16);
		out("file=%s", file_has_pat(fd, 0, 2 * P > 4096 ? 4096 : 2 * P, 9) &&
				       file_has_pat(fd, P, P, 9) ? "unchanged" : "CHANGED");
		out("map=%d", (unsigned char)p[P] == 0x5a);
		munmap(p, 2 * P);
	}
	close(fd);
}

/* One page cache: a store through MAP_SHARED is visible to read(2) at once,
 * without msync. */
static void mmap_shared_file_write_visible_to_read(void)
{
	int fd = make_file(2 * P, 10);
	SETUP(fd >= 0, "file");
	char *p;
	M("r", p, mmap(NULL, 2 * P, RW, SHARED, fd, 0));
	if (p != MAP_FAILED) {
		memset(p + P + 10, 0x77, 100);
		char buf[100];
		ssize_t n = pread(fd, buf, sizeof buf, (off_t)(P + 10));
		int same = n == 100;
		for (int i = 0; same && i < 100; i++) {
			same = (unsigned char)buf[i] == 0x77;
		}
		out("read_sees=%d", same);
		munmap(p, 2 * P);
	}
	close(fd);
}

static void mmap_pwrite_visible_in_shared_mapping(void)
{
	int fd = make_file(2 * P, 11);
	SETUP(fd >= 0, "file");
	char *p;
	M("r", p, mmap(NULL, 2 * P, PROT_READ, SHARED, fd, 0));
	if (p != MAP_FAILED) {
		out("before=%s", content(p, 0, 2 * P, 11));
		char buf[64];
		memset(buf, 0x33, sizeof buf);
		R("pwrite", pwrite(fd, buf, sizeof buf, (off_t)P) == (ssize_t)sizeof buf ? 0 : -1);
		out("map_sees=%d", (unsigned char)p[P] == 0x33 && (unsigned char)p[P + 63] == 0x33);
		munmap(p, 2 * P);
	}
	close(fd);
}

/* MAP_PRIVATE on Linux: a page not yet written by the process shows later
 * changes to the file (read faults map the page cache page); a page the
 * process wrote is its own copy. */
static void mmap_private_file_sees_pwrite_until_written(void)
{
	int fd = make_file(2 * P, 12);
	SETUP(fd >= 0, "file");
	char *p;
	M("r", p, mmap(NULL, 2 * P, RW, PRIV, fd, 0));
	if (p != MAP_FAILED) {
		volatile char sink = p[0]; /* read fault on page 0 */
		(void)sink;
		p[P] = 0x44; /* write fault (copy) on page 1 */
		char buf[2] = { 0x55, 0x55 };
		pwrite(fd, buf, 1, 0);
		pwrite(fd, buf, 1, (off_t)P);
		out("read_page=0x%02x written_page=0x%02x", (unsigned char)p[0],
		    (unsigned char)p[P]);
		munmap(p, 2 * P);
	}
	close(fd);
}

/* Explicit mmap64 (on 64-bit glibc the same function as mmap). */
static void mmap64_same_as_mmap(void)
{
	char *p;
	M("r", p, mmap64(NULL, 2 * P, RW, PRIV | MAP_ANONYMOUS, -1, 0));
	if (p != MAP_FAILED) {
		out("zero=%d", is_zero(p, 2 * P));
		munmap(p, 2 * P);
	}
	M("zero_len", p, mmap64(NULL, 0, RW, PRIV | MAP_ANONYMOUS, -1, 0));
	M("bad_off", p, mmap64(NULL, P, RW, PRIV | MAP_ANONYMOUS, -1, 100));
}

/* ================================================================== */
/* SIGBUS: accesses beyond the end of a mapped file                    */

/* A 100-byte file mapped over 2 pages: the rest of page 0 reads zero,
 * page 1 raises SIGBUS/BUS_ADRERR at the exact address. */
static void sigbus_shared_beyond_eof_BUS_ADRERR(void)
{
	int fd = make_file(100, 13);
	SETUP(fd >= 0, "file");
	char *p;
	M("r", p, mmap(NULL, 2 * P, RW, SHARED, fd, 0));
	SETUP(p != MAP_FAILED, "map");
	g_base = p;
	out("data=%s", content(p, 0, 100, 13));
	probe_rd("rd_eof", p + 100);
	probe_rd("rd_end0", p + P - 1);
	probe_wr("wr_tail0", p + 200, 9);
	probe_rd("rd_p1", p + P + 0x10);
	probe_wr("wr_p1", p + P + 0x20, 1);
	struct stat st;
	fstat(fd, &st);
	out("size=%ld", (long)st.st_size);
}

static void sigbus_private_beyond_eof_BUS_ADRERR(void)
{
	int fd = make_file(100, 14);
	SETUP(fd >= 0, "file");
	char *p;
	M("r", p, mmap(NULL, 3 * P, RW, PRIV, fd, 0));
	SETUP(p != MAP_FAILED, "map");
	g_base = p;
	probe_rd("rd_tail0", p + 3000);
	probe_wr("wr_p1", p + P + 0x123, 1);
	probe_rd("rd_p2", p + 2 * P);
}

static void sigbus_after_truncate_BUS_ADRERR(void)
{
	int fd = make_file(2 * P, 15);
	SETUP(fd >= 0, "file");
	char *p;
	M("r", p, mmap(NULL, 2 * P, PROT_READ, SHARED, fd, 0));
	SETUP(p != MAP_FAILED, "map");
	g_base = p;
	probe_rd("rd_before", p + P + 5);
	R("ftruncate", ftruncate(fd, (off_t)P));
	probe_rd("rd_p0", p + 5);
	probe_rd("rd_p1", p + P + 5);
}

/* Mapping at an offset past the end succeeds; touching it does not. */
static void sigbus_offset_beyond_eof(void)
{
	int fd = make_file(P, 16);
	SETUP(fd >= 0, "file");
	char *p;
	M("r", p, mmap(NULL, P, PROT_READ, SHARED, fd, (off_t)(4 * P)));
	SETUP(p != MAP_FAILED, "map");
	g_base = p;
	probe_rd("rd", p + 1);
}

/* ================================================================== */
/* munmap                                                              */

static void munmap_unaligned_EINVAL(void)
{
	char *b = map_anon(2, RW, PRIV);
	SETUP(b, "map");
	fill(b, 0, 2 * P, 17);
	R("r", munmap(b + 1, P));
	out("data=%s", content(b, 0, 2 * P, 17));
	munmap(b, 2 * P);
}

static void munmap_zero_length_EINVAL(void)
{
	char *b = map_anon(1, RW, PRIV);
	SETUP(b, "map");
	R("r", munmap(b, 0));
	munmap(b, P);
}

/* Addresses past the user address space (here: bit 63 set) and lengths
 * that run past it. */
static void munmap_outside_address_space_EINVAL(void)
{
	char *b = map_anon(1, RW, PRIV);
	SETUP(b, "map");
	R("high", munmap((void *)0x8000000000000000UL, P));
	R("long", munmap(b, (size_t)1 << 62));
	munmap(b, P);
}

static void munmap_hole_ok(void)
{
	char *f = free_range(4);
	SETUP(f, "range");
	R("hole", munmap(f, 4 * P));
	char *b = map_anon(2, RW, PRIV);
	SETUP(b, "map");
	R("twice_a", munmap(b, 2 * P));
	R("twice_b", munmap(b, 2 * P));
}

static void munmap_partial_head(void)
{
	char *b = map_anon(4, RW, PRIV);
	SETUP(b, "map");
	g_base = b;
	fill(b, 0, 4 * P, 18);
	R("r", munmap(b, P));
	out("rest=%s", content(b + P, P, 3 * P, 18));
	probe_rd("rd_removed", b + 0x10);
	probe_rd("rd_kept", b + P);
}

static void munmap_partial_tail(void)
{
	char *b = map_anon(4, RW, PRIV);
	SETUP(b, "map");
	g_base = b;
	fill(b, 0, 4 * P, 19);
	R("r", munmap(b + 3 * P, P));
	out("rest=%s", content(b, 0, 3 * P, 19));
	probe_rd("rd_kept", b + 3 * P - 1);
	probe_rd("rd_removed", b + 3 * P);
}

static void munmap_partial_middle(void)
{
	char *b = map_anon(5, RW, PRIV);
	SETUP(b, "map");
	g_base = b;
	fill(b, 0, 5 * P, 20);
	R("r", munmap(b + P, 2 * P));
	out("head=%s tail=%s", content(b, 0, P, 20), content(b + 3 * P, 3 * P, 2 * P, 20));
	probe_rd("rd_removed1", b + P + 0x123);
	probe_rd("rd_removed2", b + 3 * P - 1);
	probe_wr("wr_tail", b + 3 * P, 1);
}

/* munmap(addr, 1) removes the whole page. */
static void munmap_length_rounded_up(void)
{
	char *b = map_anon(2, RW, PRIV);
	SETUP(b, "map");
	g_base = b;
	R("r", munmap(b, 1));
	probe_rd("rd_end0", b + P - 1);
	probe_rd("rd_p1", b + P);
}

/* One call across two mappings of different kinds. */
static void munmap_spanning_two_mappings(void)
{
	char *b = map_anon(4, RW, PRIV);
	SETUP(b, "map");
	g_base = b;
	char *s = mmap(b + 2 * P, 2 * P, PROT_READ, SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	SETUP(s != MAP_FAILED, "fixed");
	R("r", munmap(b + P, 2 * P));
	probe_rd("rd0", b);
	probe_rd("rd1", b + P);
	probe_rd("rd2", b + 2 * P);
	probe_rd("rd3", b + 3 * P);
}

/* ================================================================== */
/* mprotect                                                            */

static void mprotect_unaligned_EINVAL(void)
{
	char *b = map_anon(2, RW, PRIV);
	SETUP(b, "map");
	R("r", mprotect(b + 1, P, PROT_READ));
	munmap(b, 2 * P);
}

/* 0x100 is no protection bit; GROWSDOWN and GROWSUP together are refused
 * before anything else.  PROT_SEM (0x8) is accepted and ignored. */
static void mprotect_bad_prot_EINVAL(void)
{
	char *b = map_anon(1, RW, PRIV);
	SETUP(b, "map");
	R("0x100", mprotect(b, P, 0x100));
	R("grows_both", mprotect(b, P, PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP));
	R("prot_sem", mprotect(b, P, PROT_READ | 0x8));
	munmap(b, P);
}

static void mprotect_unmapped_ENOMEM(void)
{
	char *f = free_range(2);
	SETUP(f, "range");
	R("r", mprotect(f, 2 * P, PROT_READ));
}

static void mprotect_zero_length_ok(void)
{
	char *b = map_anon(1, RW, PRIV);
	SETUP(b, "map");
	R("r", mprotect(b, 0, PROT_READ));
	char *f = free_range(1);
	R("unmapped", mprotect(f, 0, PROT_READ));
	munmap(b, P);
}

/* Linux applies the change up to the hole, then fails with ENOMEM: the
 * pages before the hole ARE changed, those after it are not. */
static void mprotect_hole_ENOMEM_changes_before_hole(void)
{
	char *b = map_anon(3, RW, PRIV);
	SETUP(b, "map");
	g_base = b;
	munmap(b + P, P);
	R("r", mprotect(b, 3 * P, PROT_READ));
	probe_wr("wr_before", b + 0x10, 1);
	probe_rd("rd_before", b + 0x10);
	probe_wr("wr_after", b + 2 * P + 0x10, 1);
	/* Starting in the hole changes nothing. */
	R("from_hole", mprotect(b + P, 2 * P, PROT_READ));
	probe_wr("wr_after2", b + 2 * P + 0x20, 1);
}

static void mprotect_read_only_write_SEGV_ACCERR(void)
{
	char *b = map_anon(3, RW, PRIV);
	SETUP(b, "map");
	g_base = b;
	fill(b, 0, 3 * P, 21);
	R("r", mprotect(b + P, P, PROT_READ));
	probe_wr("wr", b + P + 0x7b, 1);
	probe_rd("rd", b + P + 0x7b);
	probe_wr("wr_next", b + 2 * P, 1);
}

static void mprotect_none_read_SEGV_ACCERR(void)
{
	char *b = map_anon(3, RW, PRIV);
	SETUP(b, "map");
	g_base = b;
	R("r", mprotect(b, 3 * P, PROT_NONE));
	probe_rd("rd", b + 0x2345);
	probe_wr("wr", b + 0x10, 1);
}

static void mprotect_after_munmap_SEGV_MAPERR(void)
{
	char *b = map_anon(2, RW, PRIV);
	SETUP(b, "map");
	g_base = b;
	R("r", munmap(b, 2 * P));
	probe_rd("rd", b + P + 0x42);
	R("mprotect", mprotect(b, 2 * P, RW));
}

static void mprotect_exec_read_ok(void)
{
	char *b = map_anon(1, RW, PRIV);
	SETUP(b, "map");
	g_base = b;
	fill(b, 0, P, 22);
	R("r", mprotect(b, P, PROT_EXEC | PROT_READ));
	out("data=%s", content(b, 0, P, 22));
	probe_wr("wr", b + 8, 1);
}

/* x86 (and arm64): a writable page is readable, even with PROT_WRITE only. */
static void mprotect_write_only_is_readable_x86(void)
{
	char *b = map_anon(1, RW, PRIV);
	SETUP(b, "map");
	g_base = b;
	b[5] = 0x12;
	R("r", mprotect(b, P, PROT_WRITE));
	probe_rd("rd", b + 5);
	probe_wr("wr", b + 6, 1);
}

/* Changing the middle of a mapping splits it in three. */
static void mprotect_middle_splits(void)
{
	char *b = map_anon(4, RW, PRIV);
	SETUP(b, "map");
	g_base = b;
	R("r", mprotect(b + P, 2 * P, PROT_READ));
	probe_wr("wr0", b + P - 1, 1);
	probe_wr("wr1", b + P, 1);
	probe_wr("wr2", b + 3 * P - 1, 1);
	probe_wr("wr3", b + 3 * P, 1);
	R("back", mprotect(b, 4 * P, RW));
	probe_wr("wr1_again", b + P, 1);
}

/* A shared mapping of a read-only descriptor can never become writable. */
static void mprotect_shared_rdonly_file_write_EACCES(void)
{
	int rw = make_file(P, 23);
	SETUP(rw >= 0, "file");
	int fd = reopen(rw, O_RDONLY);
	SETUP(fd >= 0, "reopen");
	char *p;
	M("map", p, mmap(NULL, P, PROT_READ, SHARED, fd, 0));
	SETUP(p != MAP_FAILED, "map");
	R("shared", mprotect(p, P, RW));
	char *q;
	M("map_private", q, mmap(NULL, P, PROT_READ, PRIV, fd, 0));
	SETUP(q != MAP_FAILED, "map");
	R("private", mprotect(q, P, RW));
	munmap(p, P);
	munmap(q, P);
	close(fd);
	close(rw);
}

/* Without a handler, the protection fault kills the process with SIGSEGV. */
static void mprotect_fault_default_action_kills(void)
{
	char *b = map_anon(1, PROT_READ, PRIV);
	SETUP(b, "map");
	out("before=ok");
	*(volatile char *)b = 1;
	out("after=NOT-KILLED");
}

/* ================================================================== */
/* mremap                                                              */

static void mremap_unaligned_old_EINVAL(void)
{
	char *b = map_anon(2, RW, PRIV);
	SETUP(b, "map");
	void *p;
	M("r", p, mremap(b + 1, P, 2 * P, MREMAP_MAYMOVE));
	munmap(b, 2 * P);
}

static void mremap_zero_new_size_EINVAL(void)
{
	char *b = map_anon(2, RW, PRIV);
	SETUP(b, "map");
	void *p;
	M("r", p, mremap(b, 2 * P, 0, MREMAP_MAYMOVE));
	M("no_flags", p, mremap(b, 2 * P, 0, 0));
	munmap(b, 2 * P);
}

static void mremap_bad_flags_EINVAL(void)
{
	char *b = map_anon(2, RW, PRIV);
	SETUP(b, "map");
	void *p;
	M("0x80", p, mremap(b, 2 * P, 3 * P, 0x80));
	M("0x80_maymove", p, mremap(b, 2 * P, 3 * P, MREMAP_MAYMOVE | 0x80));
	munmap(b, 2 * P);
}

static void mremap_fixed_without_maymove_EINVAL(void)
{
	char *b = map_anon(2, RW, PRIV);
	char *f = free_range(4);
	SETUP(b && f, "map");
	void *p;
	M("r", p, mremap(b, 2 * P, 2 * P, MREMAP_FIXED, f));
	munmap(b, 2 * P);
}

/* Linux >= 5.7 (MREMAP_DONTUNMAP). */
static void mremap_dontunmap_without_maymove_EINVAL(void)
{
	char *b = map_anon(2, RW, PRIV);
	SETUP(b, "map");
	void *p;
	M("r", p, mremap(b, 2 * P, 2 * P, MREMAP_DONTUNMAP, NULL));
	munmap(b, 2 * P);
}

/* The new range may not overlap the old one. */
static void mremap_fixed_overlap_EINVAL(void)
{
	char *b = map_anon(4, RW, PRIV);
	SETUP(b, "map");
	void *p;
	M("r", p, mremap(b, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, b + P));
	M("unaligned_new", p, mremap(b, P, P, MREMAP_MAYMOVE | MREMAP_FIXED, b + 2 * P + 1));
	munmap(b, 4 * P);
}

/* Growing in place needs free space behind; without MAYMOVE: ENOMEM. */
static void mremap_grow_in_place_blocked_ENOMEM(void)
{
	char *b = map_anon(3, RW, PRIV);
	SETUP(b, "map");
	fill(b, 0, 2 * P, 24);
	mprotect(b + 2 * P, P, PROT_READ); /* a separate mapping right behind */
	void *p;
	M("r", p, mremap(b, 2 * P, 3 * P, 0));
	out("data=%s", content(b, 0, 2 * P, 24));
	munmap(b, 3 * P);
}

static void mremap_grow_in_place_ok(void)
{
	char *f = free_range(4);
	SETUP(f, "range");
	g_base = f;
	char *b = mmap(f, 2 * P, RW, PRIV | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	SETUP(b != MAP_FAILED, "map");
	fill(b, 0, 2 * P, 25);
	char *p;
	MR("r", p, mremap(b, 2 * P, 4 * P, 0));
	if (p != MAP_FAILED) {
		out("old=%s new=%s", content(p, 0, 2 * P, 25), content(p + 2 * P, 0, 2 * P, 0));
		munmap(p, 4 * P);
	}
}

static void mremap_old_unmapped_EFAULT(void)
{
	char *f = free_range(2);
	SETUP(f, "range");
	void *p;
	M("r", p, mremap(f, P, 2 * P, MREMAP_MAYMOVE));
	M("shrink", p, mremap(f, 2 * P, P, 0));
}

/* The old range must lie inside one mapping. */
static void mremap_spans_two_mappings_EFAULT(void)
{
	char *b = map_anon(4, RW, PRIV);
	SETUP(b, "map");
	mprotect(b + 2 * P, 2 * P, PROT_READ);
	void *p;
	M("r", p, mremap(b, 4 * P, 8 * P, MREMAP_MAYMOVE));
	M("past_end", p, mremap(b + 2 * P, 4 * P, 8 * P, MREMAP_MAYMOVE));
	munmap(b, 4 * P);
}

static void mremap_shrink_ok(void)
{
	char *b = map_anon(4, RW, PRIV);
	SETUP(b, "map");
	g_base = b;
	fill(b, 0, 4 * P, 26);
	char *p;
	MR("r", p, mremap(b, 4 * P, 2 * P, 0));
	out("data=%s", content(b, 0, 2 * P, 26));
	probe_rd("rd_kept", b + 2 * P - 1);
	probe_rd("rd_removed", b + 2 * P);
	probe_rd("rd_removed3", b + 3 * P + 0x10);
}

static void mremap_grow_maymove_preserves(void)
{
	char *b = map_anon(3, RW, PRIV);
	SETUP(b, "map");
	g_base = b;
	fill(b, 0, 2 * P, 27);
	mprotect(b + 2 * P, P, PROT_READ); /* blocks growth in place */
	char *p;
	M("r", p, mremap(b, 2 * P, 64 * P, MREMAP_MAYMOVE));
	SETUP(p != MAP_FAILED, "mremap");
	out("moved=%d data=%s tail=%s", p != b, content(p, 0, 2 * P, 27),
	    content(p + 2 * P, 0, 62 * P, 0));
	probe_rd("rd_old", b + 0x10);
	probe_rd("rd_blocker", b + 2 * P);
	probe_wr("wr_new_end", p + 64 * P - 1, 1);
}

static void mremap_fixed_moves_to_target(void)
{
	char *b = map_anon(2, RW, PRIV);
	char *f = free_range(8);
	SETUP(b && f, "map");
	g_base = f;
	fill(b, 0, 2 * P, 28);
	char *p;
	MR("r", p, mremap(b, 2 * P, 3 * P, MREMAP_MAYMOVE | MREMAP_FIXED, f + 4 * P));
	SETUP(p != MAP_FAILED, "mremap");
	out("data=%s tail=%s", content(p, 0, 2 * P, 28), content(p + 2 * P, 0, P, 0));
	g_base = b;
	probe_rd("rd_old", b + 0x10);
}

/* MREMAP_FIXED replaces whatever was at the target. */
static void mremap_fixed_replaces_target(void)
{
	char *b = map_anon(1, RW, PRIV);
	char *t = map_anon(3, RW, PRIV);
	SETUP(b && t, "map");
	g_base = t;
	fill(b, 0, P, 29);
	fill(t, 0, 3 * P, 30);
	char *p;
	MR("r", p, mremap(b, P, P, MREMAP_MAYMOVE | MREMAP_FIXED, t + P));
	out("t0=%s t1=%s t2=%s", content(t, 0, P, 30), content(t + P, 0, P, 29),
	    content(t + 2 * P, 2 * P, P, 30));
}

/* Linux >= 5.7: the old range stays mapped and reads zero (private anon).
 * The NULL fifth argument is deliberate: glibc 2.36's mremap is a plain
 * five-argument system call stub, so without it the kernel would get
 * whatever is in the register as a placement hint (and may say EINVAL). */
static void mremap_dontunmap_old_reads_zero(void)
{
	char *b = map_anon(2, RW, PRIV);
	SETUP(b, "map");
	g_base = b;
	fill(b, 0, 2 * P, 31);
	char *p;
	M("r", p, mremap(b, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL));
	SETUP(p != MAP_FAILED, "mremap");
	out("new=%s", content(p, 0, 2 * P, 31));
	probe_rd("rd_old", b + 0x10);
	out("old=%s", content(b, 0, 2 * P, 0));
}

/* ================================================================== */
/* madvise, posix_madvise                                              */

static void madvise_bad_advice_EINVAL(void)
{
	char *b = map_anon(1, RW, PRIV);
	SETUP(b, "map");
	R("999", madvise(b, P, 999));
	R("-1", madvise(b, P, -1));
	munmap(b, P);
}

static void madvise_unaligned_EINVAL(void)
{
	char *b = map_anon(2, RW, PRIV);
	SETUP(b, "map");
	R("r", madvise(b + 1, P, MADV_NORMAL));
	R("dontneed", madvise(b + 1, P, MADV_DONTNEED));
	munmap(b, 2 * P);
}

static void madvise_zero_length_ok(void)
{
	char *b = map_anon(1, RW, PRIV);
	SETUP(b, "map");
	R("r", madvise(b, 0, MADV_DONTNEED));
	munmap(b, P);
}

static void madvise_unmapped_ENOMEM(void)
{
	char *f = free_range(2);
	SETUP(f, "range");
	R("normal", madvise(f, 2 * P, MADV_NORMAL));
	R("dontneed", madvise(f, 2 * P, MADV_DONTNEED));
	R("willneed", madvise(f, 2 * P, MADV_WILLNEED));
}

static void madvise_common_advice_ok(void)
{
	char *b = map_anon(4, RW, PRIV);
	SETUP(b, "map");
	fill(b, 0, 4 * P, 32);
	R("normal", madvise(b, 4 * P, MADV_NORMAL));
	R("random", madvise(b, 4 * P, MADV_RANDOM));
	R("sequential", madvise(b, 4 * P, MADV_SEQUENTIAL));
	R("willneed", madvise(b, 4 * P, MADV_WILLNEED));
	R("dofork", madvise(b, 4 * P, MADV_DOFORK));
	out("data=%s", content(b, 0, 4 * P, 32));
	munmap(b, 4 * P);
}

static void madvise_dontneed_private_anon_reads_zero(void)
{
	char *b = map_anon(4, RW, PRIV);
	SETUP(b, "map");
	fill(b, 0, 4 * P, 33);
	R("r", madvise(b + P, 2 * P, MADV_DONTNEED));
	out("p0=%s p12=%s p3=%s", content(b, 0, P, 33), content(b + P, P, 2 * P, 33),
	    content(b + 3 * P, 3 * P, P, 33));
	munmap(b, 4 * P);
}

static void madvise_dontneed_shared_anon_keeps_data(void)
{
	char *b = map_anon(2, RW, SHARED);
	SETUP(b, "map");
	fill(b, 0, 2 * P, 34);
	R("r", madvise(b, 2 * P, MADV_DONTNEED));
	out("data=%s", content(b, 0, 2 * P, 34));
	munmap(b, 2 * P);
}

/* A private file mapping goes back to the file's contents. */
static void madvise_dontneed_private_file_reverts(void)
{
	int fd = make_file(2 * P, 35);
	SETUP(fd >= 0, "file");
	char *p;
	M("map", p, mmap(NULL, 2 * P, RW, PRIV, fd, 0));
	SETUP(p != MAP_FAILED, "map");
	memset(p, 0, 2 * P);
	R("r", madvise(p, 2 * P, MADV_DONTNEED));
	out("data=%s", content(p, 0, 2 * P, 35));
	munmap(p, 2 * P);
	close(fd);
}

/* Unlike mprotect, madvise skips the hole, applies the advice to all the
 * mapped parts, then reports ENOMEM. */
static void madvise_hole_ENOMEM_applies_around(void)
{
	char *b = map_anon(3, RW, PRIV);
	SETUP(b, "map");
	fill(b, 0, 3 * P, 36);
	munmap(b + P, P);
	R("r", madvise(b, 3 * P, MADV_DONTNEED));
	out("before=%s after=%s", content(b, 0, P, 36), content(b + 2 * P, 2 * P, P, 36));
	munmap(b, 3 * P);
}

static void madvise_remove_private_EINVAL(void)
{
	char *b = map_anon(1, RW, PRIV);
	SETUP(b, "map");
	fill(b, 0, P, 37);
	R("anon", madvise(b, P, MADV_REMOVE));
	out("data=%s", content(b, 0, P, 37));
	munmap(b, P);
}

/* A private file mapping is not shared-writable: EACCES. */
static void madvise_remove_private_file_EACCES(void)
{
	int fd = make_file(P, 38);
	SETUP(fd >= 0, "file");
	char *p;
	M("map", p, mmap(NULL, P, RW, PRIV, fd, 0));
	SETUP(p != MAP_FAILED, "map");
	R("r", madvise(p, P, MADV_REMOVE));
	munmap(p, P);
	close(fd);
}

/* Shared anonymous memory (shmem): MADV_REMOVE frees the pages. */
static void madvise_remove_shared_anon_zeroes(void)
{
	char *b = map_anon(2, RW, SHARED);
	SETUP(b, "map");
	fill(b, 0, 2 * P, 39);
	R("r", madvise(b, P, MADV_REMOVE));
	out("p0=%s p1=%s", content(b, 0, P, 39), content(b + P, P, P, 39));
	munmap(b, 2 * P);
}

/* glibc returns the error number and leaves errno alone; it ignores
 * POSIX_MADV_DONTNEED (which would discard data on Linux). */
static void posix_madvise_bad_advice_returns_EINVAL(void)
{
	char *b = map_anon(1, RW, PRIV);
	SETUP(b, "map");
	errno = 0;
	int r = posix_madvise(b, P, 999);
	out("r=%s errno=%s", ename(r), ename(errno));
	munmap(b, P);
}

static void posix_madvise_unaligned_returns_EINVAL(void)
{
	char *b = map_anon(2, RW, PRIV);
	SETUP(b, "map");
	errno = 0;
	int r = posix_madvise(b + 1, P, POSIX_MADV_NORMAL);
	out("r=%s errno=%s", ename(r), ename(errno));
	munmap(b, 2 * P);
}

static void posix_madvise_unmapped_returns_ENOMEM(void)
{
	char *f = free_range(1);
	SETUP(f, "range");
	errno = 0;
	int r = posix_madvise(f, P, POSIX_MADV_WILLNEED);
	out("r=%s errno=%s", ename(r), ename(errno));
}

static void posix_madvise_dontneed_returns_0_keeps_data(void)
{
	char *b = map_anon(2, RW, PRIV);
	SETUP(b, "map");
	fill(b, 0, 2 * P, 40);
	errno = 0;
	int r = posix_madvise(b, 2 * P, POSIX_MADV_DONTNEED);
	out("r=%s errno=%s data=%s", ename(r), ename(errno), content(b, 0, 2 * P, 40));
	munmap(b, 2 * P);
}

static void posix_madvise_valid_advice_returns_0(void)
{
	char *b = map_anon(2, RW, PRIV);
	SETUP(b, "map");
	out("normal=%s sequential=%s random=%s willneed=%s",
	    ename(posix_madvise(b, 2 * P, POSIX_MADV_NORMAL)),
	    ename(posix_madvise(b, 2 * P, POSIX_MADV_SEQUENTIAL)),
	    ename(posix_madvise(b, 2 * P, POSIX_MADV_RANDOM)),
	    ename(posix_madvise(b, 2 * P, POSIX_MADV_WILLNEED)));
	munmap(b, 2 * P);
}

/* ================================================================== */
/* msync                                                               */

static void msync_sync_and_async_EINVAL(void)
{
	char *b = map_anon(1, RW, SHARED);
	SETUP(b, "map");
	R("r", msync(b, P, MS_SYNC | MS_ASYNC));
	munmap(b, P);
}

static void msync_unaligned_EINVAL(void)
{
	char *b = map_anon(2, RW, SHARED);
	SETUP(b, "map");
	R("r", msync(b + 1, P, MS_SYNC));
	munmap(b, 2 * P);
}

static void msync_bad_flags_EINVAL(void)
{
	char *b = map_anon(1, RW, SHARED);
	SETUP(b, "map");
	R("0x100", msync(b, P, 0x100));
	R("0x8", msync(b, P, MS_SYNC | 0x8));
	munmap(b, P);
}

static void msync_unmapped_ENOMEM(void)
{
	char *f = free_range(2);
	SETUP(f, "range");
	R("sync", msync(f, 2 * P, MS_SYNC));
	R("async", msync(f, 2 * P, MS_ASYNC));
	/* Mapped, then a hole: still ENOMEM. */
	char *b = map_anon(3, RW, SHARED);
	SETUP(b, "map");
	munmap(b + P, P);
	R("hole", msync(b, 3 * P, MS_SYNC));
	munmap(b, 3 * P);
}

static void msync_anon_and_zero_length_ok(void)
{
	char *b = map_anon(2, RW, PRIV);
	SETUP(b, "map");
	R("private_anon", msync(b, 2 * P, MS_SYNC));
	R("zero_len", msync(b, 0, MS_SYNC));
	R("flags0", msync(b, 2 * P, 0));
	R("invalidate", msync(b, 2 * P, MS_INVALIDATE));
	munmap(b, 2 * P);
}

static void msync_shared_file_ok(void)
{
	int fd = make_file(2 * P, 41);
	SETUP(fd >= 0, "file");
	char *p;
	M("map", p, mmap(NULL, 2 * P, RW, SHARED, fd, 0));
	SETUP(p != MAP_FAILED, "map");
	p[5] = 0x66;
	R("sync", msync(p, 2 * P, MS_SYNC));
	R("async", msync(p, 2 * P, MS_ASYNC));
	char c = 0;
	pread(fd, &c, 1, 5);
	out("file=0x%02x", (unsigned char)c);
	munmap(p, 2 * P);
	close(fd);
}

static void msync_invalidate_locked_EBUSY(void)
{
	char *b = map_anon(1, RW, SHARED);
	SETUP(b, "map");
	R("mlock", mlock(b, P));
	R("r", msync(b, P, MS_INVALIDATE));
	R("sync", msync(b, P, MS_SYNC));
	munlock(b, P);
	munmap(b, P);
}

/* ================================================================== */
/* mlock family, mincore                                               */

/* mlock populates: every page is resident afterwards. */
static void mlock_lock_unlock_ok(void)
{
	char *b = map_anon(4, RW, PRIV);
	SETUP(b, "map");
	R("mlock", mlock(b, 4 * P));
	out("resident=%s zero=%d", residency(b, 4), is_zero(b, 4 * P));
	R("munlock", munlock(b, 4 * P));
	R("unaligned", mlock(b + 1, P)); /* rounded down, allowed */
	R("munlock_unaligned", munlock(b + 1, P));
	munmap(b, 4 * P);
}

static void mlock_unmapped_ENOMEM(void)
{
	char *f = free_range(2);
	SETUP(f, "range");
	R("mlock", mlock(f, 2 * P));
	R("munlock", munlock(f, 2 * P));
	R("mlock2", mlock2(f, 2 * P, 0));
}

/* Linux >= 4.4 (mlock2). */
static void mlock2_bad_flags_EINVAL(void)
{
	char *b = map_anon(1, RW, PRIV);
	SETUP(b, "map");
	R("2", mlock2(b, P, 2));
	R("0x100", mlock2(b, P, 0x100));
	munmap(b, P);
}

/* MLOCK_ONFAULT locks without populating. */
static void mlock2_onfault_does_not_populate(void)
{
	char *b = map_anon(4, RW, PRIV);
	SETUP(b, "map");
	R("r", mlock2(b, 4 * P, MLOCK_ONFAULT));
	out("after_lock=%s", residency(b, 4));
	b[P] = 1;
	/* Only the touched page is specified: fault-around (the shim's, or
	 * transparent huge pages natively) may bring its neighbours in. */
	out("touched=%c", residency(b, 4)[1]);
	R("munlock", munlock(b, 4 * P));
	munmap(b, 4 * P);
}

static void mlockall_bad_flags_EINVAL(void)
{
	R("0", mlockall(0));
	R("onfault_alone", mlockall(MCL_ONFAULT));
	R("0x100", mlockall(MCL_CURRENT | 0x100));
}

/* In a child: the whole (small) process gets locked and unlocked. */
static void mlockall_current_then_munlockall_ok(void)
{
	R("mlockall", mlockall(MCL_CURRENT));
	char *b = map_anon(2, RW, PRIV);
	SETUP(b, "map");
	R("munlockall", munlockall());
	R("onfault", mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT));
	char *c = map_anon(2, RW, PRIV);
	SETUP(c, "map");
	out("future_onfault_resident=%s", residency(c, 2));
	R("munlockall2", munlockall());
	R("munlockall_again", munlockall());
}

static void mincore_unaligned_EINVAL(void)
{
	char *b = map_anon(2, RW, PRIV);
	SETUP(b, "map");
	unsigned char vec[4];
	R("r", mincore(b + 1, P, vec));
	munmap(b, 2 * P);
}

static void mincore_unmapped_ENOMEM(void)
{
	char *f = free_range(2);
	SETUP(f, "range");
	unsigned char vec[4];
	R("r", mincore(f, 2 * P, vec));
	char *b = map_anon(3, RW, PRIV);
	SETUP(b, "map");
	munmap(b + P, P);
	R("hole", mincore(b, 3 * P, vec));
	munmap(b, 3 * P);
}

/* Anonymous pages are resident once written, not before. */
static void mincore_touched_pages(void)
{
	char *b = map_anon(8, RW, PRIV);
	SETUP(b, "map");
	b[0] = 1;
	b[2 * P + 5] = 1;
	b[5 * P + P - 1] = 1;
	/* Untouched pages are not asserted: fault-around (the shim's, or
	 * transparent huge pages natively) may make them resident. */
	const char *res = residency(b, 8);
	out("touched=%c%c%c", res[0], res[2], res[5]);
	R("dontneed", madvise(b, 8 * P, MADV_DONTNEED));
	out("after_dontneed=%s", residency(b, 8));
	unsigned char vec[2];
	R("zero_len", mincore(b, 0, vec));
	munmap(b, 8 * P);
}

/* The kernel writes the vector: an unwritable vector is EFAULT. */
static void mincore_bad_vector_EFAULT(void)
{
	char *b = map_anon(2, RW, PRIV);
	char *v = map_anon(1, PROT_READ, PRIV);
	SETUP(b && v, "map");
	R("readonly_vec", mincore(b, 2 * P, (unsigned char *)v));
	munmap(v, P);
	R("unmapped_vec", mincore(b, 2 * P, (unsigned char *)v));
	munmap(b, 2 * P);
}

/* ================================================================== */
/* brk, sbrk (run in children: they move the break)                    */

static void brk_sbrk0_consistent(void)
{
	char *cur = sbrk(0);
	g_base = cur;
	R("brk_cur", brk(cur));
	out("sbrk0=%s", rel(sbrk(0)));
}

static void sbrk_grow_then_shrink(void)
{
	/* Page-align the break first so the new page is a fresh one. */
	char *cur = sbrk(0);
	size_t pad = (P - ((uintptr_t)cur & (P - 1))) & (P - 1);
	if (pad) {
		sbrk((intptr_t)pad);
	}
	char *b0 = sbrk(0);
	g_base = b0;
	char *r;
	MR("grow", r, sbrk(4096));
	out("now=%s zero=%d", rel(sbrk(0)), is_zero(b0, 4096));
	probe_wr("wr", b0 + 4095, 1);
	MR("shrink", r, sbrk(-4096));
	out("now=%s", rel(sbrk(0)));
	probe_rd("rd_released", b0 + 0x10);
}

static void brk_absurd_address_ENOMEM(void)
{
	char *cur = sbrk(0);
	g_base = cur;
	R("r", brk((void *)0xfffffffffffff000UL));
	out("sbrk0=%s", rel(sbrk(0)));
	char *r;
	MR("sbrk_huge", r, sbrk((intptr_t)1 << 60));
	MR("sbrk_neg_huge", r, sbrk(-((intptr_t)1 << 60)));
	out("sbrk0=%s", rel(sbrk(0)));
}

/* glibc quirk: the kernel refuses a break below the heap start by returning
 * the current break, which is above the request, so brk() reports success
 * and nothing changes. */
static void brk_below_start_reports_success(void)
{
	char *cur = sbrk(0);
	g_base = cur;
	R("r", brk((void *)4096));
	out("sbrk0=%s", rel(sbrk(0)));
}

/* ================================================================== */
/* fork                                                                */

/* Runs child_fn in a child that exits with its return value; returns the
 * status text. */
static const char *in_grandchild(int (*child_fn)(void *), void *arg)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		return "fork-failed";
	}
	if (pid == 0) {
		exit(child_fn(arg));
	}
	return status_text(wait_for(pid));
}

static int exit_42(void *arg)
{
	(void)arg;
	return 42;
}

static void fork_exit_status(void)
{
	errno = 0;
	out("status=%s", in_grandchild(exit_42, NULL));
}

static int child_checks_pattern(void *arg)
{
	return has_pat(arg, 0, 4 * P, 42) ? 0 : 1;
}

static void fork_child_sees_private_data(void)
{
	char *b = map_anon(4, RW, PRIV);
	SETUP(b, "map");
	fill(b, 0, 4 * P, 42);
	out("status=%s", in_grandchild(child_checks_pattern, b));
}

static int child_overwrites(void *arg)
{
	memset(arg, 0x99, 4 * P);
	return 0;
}

static void fork_child_writes_invisible_to_parent(void)
{
	char *b = map_anon(4, RW, PRIV);
	SETUP(b, "map");
	fill(b, 0, 4 * P, 42);
	out("status=%s parent=%s", in_grandchild(child_overwrites, b), content(b, 0, 4 * P, 42));
}

/* The parent writes after the fork while the child waits on a pipe; the
 * child still sees the old data. */
static void fork_parent_writes_invisible_to_child(void)
{
	char *b = map_anon(2, RW, PRIV);
	int pfd[2];
	SETUP(b && pipe(pfd) == 0, "setup");
	fill(b, 0, 2 * P, 43);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		close(pfd[1]);
		if (read(pfd[0], &c, 1) != 1) {
			exit(3);
		}
		exit(has_pat(b, 0, 2 * P, 43) ? 0 : 1);
	}
	close(pfd[0]);
	memset(b, 0, 2 * P);
	write(pfd[1], "x", 1);
	close(pfd[1]);
	out("status=%s parent=%s", status_text(wait_for(pid)), content(b, 0, 2 * P, 43));
}

/* MAP_SHARED anonymous memory: writes are seen both ways. */
static void fork_shared_anon_both_ways(void)
{
	volatile char *s = (volatile char *)map_anon(1, RW, SHARED);
	int to_child[2], to_parent[2];
	SETUP(s && pipe(to_child) == 0 && pipe(to_parent) == 0, "setup");
	s[0] = 1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		if (s[0] != 1) {
			exit(1);
		}
		s[1] = 2; /* child -> parent */
		write(to_parent[1], "x", 1);
		if (read(to_child[0], &c, 1) != 1) {
			exit(3);
		}
		exit(s[2] == 3 ? 0 : 2); /* parent -> child */
	}
	char c = 0;
	int got = read(to_parent[0], &c, 1) == 1 && s[1] == 2;
	s[2] = 3;
	write(to_child[1], "x", 1);
	out("parent_sees=%d status=%s", got, status_text(wait_for(pid)));
	close(to_child[0]);
	close(to_child[1]);
	close(to_parent[0]);
	close(to_parent[1]);
}

static void fork_shared_file_mapping_both_ways(void)
{
	int fd = make_file(P, 44);
	SETUP(fd >= 0, "file");
	char *p = mmap(NULL, P, RW, SHARED, fd, 0);
	SETUP(p != MAP_FAILED, "map");
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		p[10] = 0x21;
		exit(0);
	}
	const char *st = status_text(wait_for(pid));
	char c = 0;
	pread(fd, &c, 1, 10);
	out("status=%s map=0x%02x file=0x%02x", st, (unsigned char)p[10], (unsigned char)c);
	close(fd);
}

static int child_checks_heap(void *arg)
{
	char **blocks = arg;
	for (int i = 0; i < 64; i++) {
		if (!has_pat(blocks[i], 0, (size_t)(i + 1) * 100, (unsigned)i)) {
			return 1;
		}
		memset(blocks[i], 0, (size_t)(i + 1) * 100);
		free(blocks[i]);
	}
	return 0;
}

/* malloc'd blocks are copied too; the child frees its copies. */
static void fork_heap_copied(void)
{
	char *blocks[64];
	for (int i = 0; i < 64; i++) {
		blocks[i] = malloc((size_t)(i + 1) * 100);
		SETUP(blocks[i], "malloc");
		fill(blocks[i], 0, (size_t)(i + 1) * 100, (unsigned)i);
	}
	const char *st = in_grandchild(child_checks_heap, blocks);
	int ok = 1;
	for (int i = 0; i < 64; i++) {
		ok &= has_pat(blocks[i], 0, (size_t)(i + 1) * 100, (unsigned)i);
		free(blocks[i]);
	}
	out("status=%s parent=%d", st, ok);
}

static int child_probes(void *arg)
{
	char *b = arg;
	probe_rd("child_rd", b + 0x10);
	return 0;
}

/* MADV_DONTFORK: the range is absent in the child. */
static void fork_dontfork_region_absent_in_child(void)
{
	char *b = map_anon(2, RW, PRIV);
	SETUP(b, "map");
	g_base = b;
	fill(b, 0, 2 * P, 45);
	R("r", madvise(b, 2 * P, MADV_DONTFORK));
	out("status=%s parent=%s", in_grandchild(child_probes, b), content(b, 0, 2 * P, 45));
}

static int child_reports_content(void *arg)
{
	char *b = arg;
	out("child=%s", content(b, 0, 2 * P, 46));
	return 0;
}

/* Linux >= 4.14: MADV_WIPEONFORK: the child gets zeroes. */
static void fork_wipeonfork_child_reads_zero(void)
{
	char *b = map_anon(2, RW, PRIV);
	SETUP(b, "map");
	fill(b, 0, 2 * P, 46);
	R("r", madvise(b, 2 * P, MADV_WIPEONFORK));
	out("status=%s parent=%s", in_grandchild(child_reports_content, b),
	    content(b, 0, 2 * P, 46));
	R("shared", madvise(map_anon(1, RW, SHARED), P, MADV_WIPEONFORK));
}

static int child_writes_probe(void *arg)
{
	char *b = arg;
	probe_wr("child_wr", b + 0x30, 1);
	return 0;
}

static void fork_protection_inherited(void)
{
	char *b = map_anon(1, PROT_READ, PRIV);
	SETUP(b, "map");
	g_base = b;
	out("status=%s", in_grandchild(child_writes_probe, b));
}

/* read(2) into a page shared copy-on-write with the child works and breaks
 * the sharing in the parent only. */
static void fork_read_syscall_into_cow_page(void)
{
	char *b = map_anon(1, RW, PRIV);
	int pfd[2], go[2];
	SETUP(b && pipe(pfd) == 0 && pipe(go) == 0, "setup");
	fill(b, 0, P, 47);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		if (read(go[0], &c, 1) != 1) {
			exit(3);
		}
		exit(has_pat(b, 0, P, 47) ? 0 : 1);
	}
	char msg[100];
	memset(msg, 0x3c, sizeof msg);
	write(pfd[1], msg, sizeof msg);
	errno = 0;
	long n = read(pfd[0], b + 50, sizeof msg);
	note_ret("read", n, errno);
	write(go[1], "x", 1);
	out("status=%s parent=0x%02x", status_text(wait_for(pid)), (unsigned char)b[50]);
}

static int child_dies_of_segv(void *arg)
{
	(void)arg;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGSEGV, &sa, NULL);
	char *b = map_anon(1, PROT_READ, PRIV);
	*(volatile char *)b = 1;
	return 0;
}

static void fork_child_killed_by_segv_status(void)
{
	out("status=%s", in_grandchild(child_dies_of_segv, NULL));
}

/* ================================================================== */
/* malloc family (glibc semantics)                                     */

static void malloc_zero_unique(void)
{
	char *a, *b;
	A("a", a, malloc(0));
	A("b", b, malloc(0));
	out("distinct=%d usable=%d", a != b, malloc_usable_size(a) > 0);
	free(a);
	free(b);
}

static void free_null_ok(void)
{
	errno = 0;
	free(NULL);
	out("errno=%s", ename(errno));
}

static void calloc_zeroed(void)
{
	/* Dirty some memory first so calloc may get it back. */
	for (size_t sz = 16; sz <= (1 << 20); sz *= 4) {
		char *d = malloc(sz);
		SETUP(d, "malloc");
		memset(d, 0xff, sz);
		free(d);
	}
	int ok = 1;
	for (size_t sz = 16; sz <= (1 << 20); sz *= 4) {
		char *c = calloc(1, sz);
		SETUP(c, "calloc");
		ok &= is_zero(c, sz);
		free(c);
	}
	char *c;
	A("r", c, calloc(1000, 8));
	out("zero=%d all_sizes_zero=%d", c ? is_zero(c, 8000) : 0, ok);
	free(c);
}

static void calloc_overflow_ENOMEM(void)
{
	void *p;
	A("r", p, calloc(huge_half, 4));
	A("max", p, calloc(huge_max, huge_max));
	A("huge", p, calloc(1, huge_half));
}

static void realloc_grow_preserves(void)
{
	char *p = malloc(100);
	SETUP(p, "malloc");
	fill(p, 0, 100, 48);
	A("r", p, realloc(p, 100000));
	if (p) {
		out("data=%s", has_pat(p, 0, 100, 48) ? "pat" : "LOST");
		fill(p, 0, 100000, 49);
		A("big", p, realloc(p, 4 << 20));
		if (p) {
			out("data=%s", has_pat(p, 0, 100000, 49) ? "pat" : "LOST");
		}
	}
	free(p);
}

static void realloc_shrink_preserves(void)
{
	char *p = malloc(100000);
	SETUP(p, "malloc");
	fill(p, 0, 100000, 50);
	A("r", p, realloc(p, 50));
	out("data=%s", p && has_pat(p, 0, 50, 50) ? "pat" : "LOST");
	free(p);
}

static void realloc_null_is_malloc(void)
{
	char *p;
	A("r", p, realloc(NULL, 200));
	if (p) {
		memset(p, 1, 200);
		out("usable=%d", malloc_usable_size(p) >= 200);
	}
	free(p);
}

/* glibc: realloc(p, 0) frees p and returns NULL (errno untouched). */
static void realloc_zero_frees_returns_NULL(void)
{
	char *p = malloc(100);
	SETUP(p, "malloc");
	char *q;
	errno = 0;
	q = realloc(p, 0);
	out("r=%s errno=%s", q ? "ok" : "NULL", ename(errno));
	free(q);
}

/* A failed realloc leaves the block alone. */
static void realloc_huge_ENOMEM_keeps_block(void)
{
	char *p = malloc(100);
	SETUP(p, "malloc");
	fill(p, 0, 100, 51);
	char *q, *keep = still_live(p);
	A("r", q, realloc(p, huge_half));
	A("max", q, realloc(keep, huge_max));
	keep = still_live(keep);
	out("old=%s", has_pat(keep, 0, 100, 51) ? "pat" : "LOST");
	free(keep);
}

static void reallocarray_overflow_ENOMEM(void)
{
	char *p = malloc(100);
	SETUP(p, "malloc");
	fill(p, 0, 100, 52);
	char *q;
	char *keep = still_live(p);
	A("r", q, reallocarray(p, huge_half, 4));
	out("old=%s", has_pat(keep, 0, 100, 52) ? "pat" : "LOST");
	A("ok", q, reallocarray(keep, 100, 8));
	if (q) {
		out("data=%s", has_pat(q, 0, 100, 52) ? "pat" : "LOST");
	}
	free(q);
}

static void posix_memalign_bad_alignment_EINVAL(void)
{
	static const size_t bad[] = { 3, 0, 24, 4, 1 };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		void *p = (void *)0x1234;
		errno = 0;
		int r = posix_memalign(&p, bad[i], 64);
		out("%zu=%s/ptr_%s/errno=%s", bad[i], ename(r),
		    p == (void *)0x1234 ? "untouched" : "CHANGED", ename(errno));
	}
}

static void posix_memalign_aligned_ok(void)
{
	static const size_t good[] = { 8, 16, 64, 4096, 1 << 20 };
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		void *p = NULL;
		errno = 0;
		int r = posix_memalign(&p, good[i], 100);
		out("%zu=%s/aligned=%d/errno=%s", good[i], ename(r),
		    p != NULL && ((uintptr_t)p & (good[i] - 1)) == 0, ename(errno));
		if (p) {
			memset(p, 1, 100);
		}
		free(p);
	}
}

static void posix_memalign_huge_ENOMEM(void)
{
	void *p = (void *)0x1234;
	int r = posix_memalign(&p, 64, huge_half);
	out("r=%s ptr=%s", ename(r), p == (void *)0x1234 ? "untouched" : "CHANGED");
}

/* aligned_alloc with a non-power-of-two alignment differs between glibc
 * versions (2.38 rejects it); only powers of two are checked. */
static void aligned_alloc_aligned(void)
{
	static const size_t al[] = { 16, 64, 4096, 1 << 16 };
	for (size_t i = 0; i < sizeof al / sizeof al[0]; i++) {
		void *p = aligned_alloc(al[i], al[i] * 2);
		out("%zu=%s", al[i], p == NULL ? "NULL" : ((uintptr_t)p & (al[i] - 1)) ? "MISALIGNED" : "aligned");
		free(p);
	}
}

static void memalign_aligned(void)
{
	static const size_t al[] = { 8, 32, 256, 4096, 1 << 21 };
	for (size_t i = 0; i < sizeof al / sizeof al[0]; i++) {
		void *p = memalign(al[i], 1000);
		out("%zu=%s", al[i], p == NULL ? "NULL" : ((uintptr_t)p & (al[i] - 1)) ? "MISALIGNED" : "aligned");
		free(p);
	}
	void *p;
	A("huge", p, memalign(64, huge_half));
}

static void valloc_page_aligned(void)
{
	void *p;
	A("r", p, valloc(100));
	out("aligned=%d", p && ((uintptr_t)p & (P - 1)) == 0);
	free(p);
}

/* pvalloc rounds the size up to a page. */
static void pvalloc_page_rounded(void)
{
	void *p;
	A("r", p, pvalloc(100));
	out("aligned=%d usable_ge_page=%d", p && ((uintptr_t)p & (P - 1)) == 0,
	    p && malloc_usable_size(p) >= P);
	if (p) {
		memset(p, 1, P);
	}
	free(p);
}

static void malloc_usable_size_at_least_requested(void)
{
	static const size_t sz[] = { 1, 24, 100, 1000, 100000, 1 << 20 };
	int ok = 1;
	for (size_t i = 0; i < sizeof sz / sizeof sz[0]; i++) {
		char *p = malloc(sz[i]);
		SETUP(p, "malloc");
		size_t u = malloc_usable_size(p);
		ok &= u >= sz[i];
		memset(p, 1, u); /* the whole usable size is usable */
		free(p);
	}
	out("ok=%d null=%zu", ok, malloc_usable_size(NULL));
}

static void malloc_huge_ENOMEM(void)
{
	void *p;
	A("half", p, malloc(huge_half));
	A("max", p, malloc(huge_max));
}

/* x86_64 glibc: MALLOC_ALIGNMENT is 16. */
static void malloc_aligned_16(void)
{
	int ok = 1;
	void *ps[64];
	for (int i = 0; i < 64; i++) {
		ps[i] = malloc((size_t)i * 37 + 1);
		ok &= ps[i] != NULL && ((uintptr_t)ps[i] & 15) == 0;
	}
	for (int i = 0; i < 64; i++) {
		free(ps[i]);
	}
	out("ok=%d", ok);
}

/* Many live blocks of mixed sizes keep their own contents. */
static void malloc_many_blocks_distinct(void)
{
	enum { N = 2000 };
	static char *ps[N];
	int ok = 1;
	for (int i = 0; i < N; i++) {
		size_t sz = (size_t)(i * 97) % 5000 + 1;
		ps[i] = malloc(sz);
		SETUP(ps[i], "malloc");
		fill(ps[i], 0, sz, (unsigned)i);
		if (i % 3 == 0 && i > 0) {
			free(ps[i - 1]);
			ps[i - 1] = NULL;
		}
	}
	for (int i = 0; i < N; i++) {
		if (ps[i]) {
			ok &= has_pat(ps[i], 0, (size_t)(i * 97) % 5000 + 1, (unsigned)i);
			free(ps[i]);
		}
	}
	out("ok=%d", ok);
}

static void malloc_large_block_writable(void)
{
	size_t sz = 16 << 20;
	char *p;
	A("r", p, malloc(sz));
	if (p) {
		for (size_t i = 0; i < sz; i += P) {
			p[i] = (char)(i / P);
		}
		int ok = 1;
		for (size_t i = 0; i < sz; i += P) {
			ok &= p[i] == (char)(i / P);
		}
		out("ok=%d", ok);
	}
	free(p);
}

/* ================================================================== */
/* errno is left alone by successful calls                             */

#define KEPT(name, stmt)                                               \
	do {                                                           \
		errno = 12345;                                         \
		stmt;                                                  \
		out("%s=%s", name, errno == 12345 ? "kept" : ename(errno)); \
	} while (0)

static void errno_preserved_on_success(void)
{
	char *b = NULL, *m = NULL;
	void *al = NULL;
	unsigned char vec[4];
	KEPT("mmap", b = mmap(NULL, 4 * P, RW, PRIV | MAP_ANONYMOUS, -1, 0));
	SETUP(b != MAP_FAILED, "mmap");
	KEPT("mprotect", mprotect(b, 4 * P, PROT_READ));
	KEPT("madvise", madvise(b, 4 * P, MADV_DONTNEED));
	KEPT("msync", msync(b, 4 * P, MS_SYNC));
	KEPT("mincore", mincore(b, 4 * P, vec));
	KEPT("mlock", mlock(b, P));
	KEPT("munlock", munlock(b, P));
	KEPT("mremap", b = mremap(b, 4 * P, 2 * P, 0));
	KEPT("posix_madvise", posix_madvise(b, 2 * P, POSIX_MADV_NORMAL));
	KEPT("munmap", munmap(b, 2 * P));
	KEPT("malloc", m = malloc(100));
	KEPT("realloc", m = realloc(m, 10000));
	KEPT("free", free(m));
	KEPT("calloc", m = calloc(10, 10));
	KEPT("free_calloc", free(m));
	KEPT("posix_memalign", posix_memalign(&al, 64, 100));
	KEPT("free_aligned", free(al));
	KEPT("free_null", free(NULL));
	KEPT("sbrk0", sbrk(0));
}

/* ================================================================== */
/* System calls that touch user memory (DESIGN.md section 7)           */

static void kernel_read_into_untouched_anon(void)
{
	char *b = map_anon(4, RW, PRIV);
	int pfd[2];
	SETUP(b && pipe(pfd) == 0, "setup");
	char msg[3000];
	memset(msg, 0x61, sizeof msg);
	write(pfd[1], msg, sizeof msg);
	R("read", read(pfd[0], b + P - 1000, sizeof msg));
	out("data=%d", b[P - 1000] == 0x61 && b[P + 1999] == 0x61 && b[P + 2000] == 0);
	close(pfd[0]);
	close(pfd[1]);
	munmap(b, 4 * P);
}

static void kernel_write_from_untouched_anon(void)
{
	char *b = map_anon(2, RW, PRIV);
	int pfd[2];
	SETUP(b && pipe(pfd) == 0, "setup");
	R("write", write(pfd[1], b, 2 * P));
	char buf[8192];
	ssize_t n = read(pfd[0], buf, sizeof buf);
	out("zero=%d", n == (ssize_t)(2 * P) && is_zero(buf, 2 * P));
	close(pfd[0]);
	close(pfd[1]);
	munmap(b, 2 * P);
}

/* The kernel does not signal: it returns EFAULT. */
static void kernel_read_into_prot_none_EFAULT(void)
{
	char *b = map_anon(1, PROT_NONE, PRIV);
	int pfd[2];
	SETUP(b && pipe(pfd) == 0, "setup");
	write(pfd[1], "hello", 5);
	R("read", read(pfd[0], b, 5));
	R("read_ro", read(pfd[0], (char *)mmap(NULL, P, PROT_READ, PRIV | MAP_ANONYMOUS, -1, 0), 5));
	char buf[8];
	R("data_still_there", read(pfd[0], buf, sizeof buf));
	close(pfd[0]);
	close(pfd[1]);
}

/* A read spanning a writable page and a PROT_NONE page: from a file, cut
 * short at the boundary; from a pipe, EFAULT with the data left in the pipe
 * (pipe_read fails the whole buffer when the copy is partial). */
static void kernel_read_spanning_prot_none(void)
{
	char *b = map_anon(2, RW, PRIV);
	int pfd[2];
	int fd = make_file(1000, 57);
	SETUP(b && fd >= 0 && pipe(pfd) == 0, "setup");
	mprotect(b + P, P, PROT_NONE);
	R("file", pread(fd, b + P - 100, 200, 0));
	out("data=%s", content(b + P - 100, 0, 100, 57));
	char msg[200];
	memset(msg, 0x62, sizeof msg);
	write(pfd[1], msg, sizeof msg);
	R("pipe", read(pfd[0], b + P - 100, sizeof msg));
	R("pipe_again", read(pfd[0], msg, sizeof msg));
	close(pfd[0]);
	close(pfd[1]);
	close(fd);
}

static void kernel_write_from_file_mapping(void)
{
	int fd = make_file(2 * P, 53);
	int pfd[2];
	SETUP(fd >= 0 && pipe(pfd) == 0, "setup");
	char *p;
	M("map", p, mmap(NULL, 2 * P, PROT_READ, PRIV, fd, 0));
	SETUP(p != MAP_FAILED, "map");
	R("write", write(pfd[1], p + P, 1000));
	char buf[1000];
	ssize_t n = read(pfd[0], buf, sizeof buf);
	out("data=%d", n == 1000 && has_pat(buf, P, 1000, 53));
	close(pfd[0]);
	close(pfd[1]);
	munmap(p, 2 * P);
	close(fd);
}

static void kernel_pread_into_private_file_mapping(void)
{
	int src = make_file(P, 54);
	int fd = make_file(2 * P, 55);
	SETUP(src >= 0 && fd >= 0, "file");
	char *p;
	M("map", p, mmap(NULL, 2 * P, RW, PRIV, fd, 0));
	SETUP(p != MAP_FAILED, "map");
	R("pread", pread(src, p + P, P, 0));
	out("map=%s file=%s", content(p + P, 0, P, 54),
	    file_has_pat(fd, P, P, 55) ? "unchanged" : "CHANGED");
	munmap(p, 2 * P);
	close(fd);
	close(src);
}

static void kernel_read_into_malloc(void)
{
	int fd = make_file(100000, 56);
	SETUP(fd >= 0, "file");
	char *m = malloc(100000);
	SETUP(m, "malloc");
	R("pread", pread(fd, m, 100000, 0));
	out("data=%s", content(m, 0, 100000, 56));
	free(m);
	close(fd);
}

/* ================================================================== */
/* The table                                                           */

enum {
	FORK = 1,      /* run in a child with fault handlers */
	NOHANDLER = 2, /* (with FORK) keep the default signal actions */
};

/* ================================================================== */
/* Corners found by the differential fuzzer (tests/fuzz/README.md).    */

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#define MADV_GUARD_REMOVE 103
#endif
#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Linux >= 6.13: a guard page faults SEGV_MAPERR, survives DONTNEED and
 * mprotect, stops MADV_POPULATE_WRITE (EFAULT) and system calls (EFAULT);
 * the rest of private memory keeps its data; GUARD_REMOVE leaves a page
 * that reads zero. */
static void guard_private_install_remove(void)
{
	char *b = map_anon(4, RW, PRIV);
	SETUP(b, "map");
	g_base = b;
	fill(b, 0, 4 * P, 41);
	R("install", madvise(b + P, P, MADV_GUARD_INSTALL));
	probe_rd("rd_guard", b + P + 0x10);
	probe_wr("wr_guard", b + P + 0x20, 1);
	out("next=%s", content(b + 2 * P, 2 * P, P, 41));
	R("dontneed", madvise(b, 4 * P, MADV_DONTNEED));
	probe_rd("rd_after_dontneed", b + P);
	R("mprotect", mprotect(b, 4 * P, PROT_READ));
	probe_rd("rd_after_mprotect", b + P);
	R("mprotect_rw", mprotect(b, 4 * P, RW));
	R("populate", madvise(b, 4 * P, MADV_POPULATE_WRITE));
	int pfd[2];
	SETUP(pipe(pfd) == 0, "pipe");
	SETUP(write(pfd[1], "abc", 3) == 3, "write");
	R("read_into_guard", read(pfd[0], b + P, 3));
	close(pfd[0]);
	close(pfd[1]);
	out("resident=%s", residency(b, 4));
	R("remove", madvise(b, 4 * P, MADV_GUARD_REMOVE));
	probe_rd("rd_removed", b + P);
	probe_wr("wr_removed", b + P, 1);
}

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

/* MADV_POPULATE_WRITE past the end of a file is EFAULT, also when the pages
 * before it were only read (the shim keeps clean file pages write-protected). */
static void populate_write_past_file_end(void)
{
	int fd = make_file(2 * P, 11);
	SETUP(fd >= 0, "file");
	char *s, *q;
	M("shared", s, mmap(NULL, 4 * P, RW, MAP_SHARED, fd, 0));
	M("private", q, mmap(NULL, 4 * P, RW, PRIV, fd, 0));
	if (s != MAP_FAILED && q != MAP_FAILED) {
		out("read=%d", s[0] == (char)pat(0, 11) && q[P] == (char)pat(P, 11));
		R("shared_populate", madvise(s, 4 * P, MADV_POPULATE_WRITE));
		R("private_populate", madvise(q, 4 * P, MADV_POPULATE_WRITE));
		R("inside", madvise(q, 2 * P, MADV_POPULATE_WRITE));
		munmap(s, 4 * P);
		munmap(q, 4 * P);
	}
	char *w;
	M("write_only", w, mmap(NULL, 4 * P, PROT_WRITE, MAP_SHARED, fd, 0));
	if (w != MAP_FAILED) {
		w[1] = 7;
		R("write_only_populate", madvise(w, 4 * P, MADV_POPULATE_WRITE));
		munmap(w, 4 * P);
	}
	close(fd);
}

/* A write past the end of a privately mapped file is SIGBUS; paging the
 * mapping out afterwards keeps what was written before the end. */
static void pageout_private_file_past_end(void)
{
	int fd = make_file(P, 12);
	SETUP(fd >= 0, "file");
	char *q;
	M("private", q, mmap(NULL, 3 * P, RW, PRIV, fd, 0));
	if (q != MAP_FAILED) {
		g_base = q;
		q[7] = 0x5a;
		probe_wr("wr_past_end", q + 2 * P + 9, 1);
		R("pageout", madvise(q, 3 * P, MADV_PAGEOUT));
		out("kept=%d", q[7] == 0x5a && q[8] == (char)pat(8, 12));
		probe_rd("rd_past_end", q + 2 * P);
		munmap(q, 3 * P);
	}
	close(fd);
}

/* MREMAP_DONTUNMAP unlocks the mapping it leaves behind without merging
 * it with its neighbours; a later mprotect that changes a neighbour merges
 * them (Linux's vma_modify), the unchanged rest of the unlocked mapping
 * included. */
static void mprotect_merges_what_dontunmap_left(void)
{
	char *p = map_anon(8, RW, PRIV);
	SETUP(p, "map");
	g_base = p;
	R("mlock", mlock(p + 2 * P, 4 * P));
	char *t = map_anon(8, RW, PRIV);
	SETUP(t, "target");
	M("dontunmap", t, mremap(p, 8 * P, 8 * P, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, t));
	R("ro", mprotect(p + P, 2 * P, PROT_READ));
	char *q;
	MR("across", q, mremap(p + 3 * P, 5 * P, 6 * P, 0));
	R("back", mprotect(p + P, 2 * P, RW));
	MR("grow", q, mremap(p, 6 * P, 7 * P, 0));
	MR("grow_more", q, mremap(p, 7 * P, 9 * P, 0));
	if (t != MAP_FAILED) {
		munmap(t, 8 * P);
	}
	munmap(p, 8 * P);
}

/* A flag bit the kernel does not know is ignored by MAP_PRIVATE and
 * MAP_SHARED: the mapping is like any other and merges with its
 * neighbours (MAP_SHARED_VALIDATE refuses it: EOPNOTSUPP). */
static void mmap_unknown_flag_ignored(void)
{
	char *p = map_anon(5, RW, PRIV);
	SETUP(p, "map");
	g_base = p;
	munmap(p + 4 * P, P);
	char *q;
	MR("fixed", q, mmap(p, 2 * P, RW, PRIV | MAP_ANONYMOUS | MAP_FIXED | 0x800000, -1, 0));
	MR("one_mapping", q, mremap(p, 4 * P, 5 * P, 0));
	int fd = make_file(P, 13);
	SETUP(fd >= 0, "file");
	M("validate", q, mmap(NULL, P, RW, MAP_SHARED_VALIDATE | 0x800000, fd, 0));
	close(fd);
	munmap(p, 5 * P);
}

/* Linux gives a private mapping its anon_vma at its first write, shared
 * with a neighbour only if their flags differ in protection alone, and
 * never merges mappings with different anon_vmas: pieces first written
 * while one was locked stay apart after munlock; untouched ones merge. */
static void merge_needs_one_anon_vma(void)
{
	char *p = map_anon(10, RW, PRIV);
	SETUP(p, "map");
	g_base = p;
	munmap(p + 4 * P, P);
	munmap(p + 9 * P, P);
	char *q = p + 5 * P, *r;
	R("mlock", mlock(p, 2 * P));
	p[0] = 1;
	p[2 * P] = 1;
	R("munlock", munlock(p, 2 * P));
	MR("written_apart", r, mremap(p, 4 * P, 5 * P, 0));
	R("mlock_untouched", mlock(q, 2 * P));
	R("munlock_untouched", munlock(q, 2 * P));
	MR("untouched", r, mremap(q, 4 * P, 5 * P, 0));
	munmap(p, 10 * P);
}

/* fork gives each of the child's mappings an anon_vma of its own: pieces
 * of one written mapping never merge again in the child; in the parent
 * they do. */
static void fork_child_pieces_stay_apart(void)
{
	char *p = map_anon(5, RW, PRIV);
	SETUP(p, "map");
	g_base = p;
	munmap(p + 4 * P, P);
	p[0] = 1;
	R("ro", mprotect(p + 2 * P, 2 * P, PROT_READ));
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		int rc = mprotect(p + 2 * P, 2 * P, RW) != 0 ? 3
			 : mremap(p, 4 * P, 5 * P, 0) != MAP_FAILED ? 1
			 : errno == EFAULT ? 0 : 2;
		_exit(rc);
	}
	out("child=%s", status_text(wait_for(pid)));
	R("rw", mprotect(p + 2 * P, 2 * P, RW));
	char *r;
	MR("parent_grow", r, mremap(p, 4 * P, 5 * P, 0));
	munmap(p, 5 * P);
}

/* mprotect making a locked private file mapping writable copies its pages
 * there and then (mprotect_fixup): later writes to the file do not show. */
static void mprotect_locked_private_copies(void)
{
	int fd = make_file(2 * P, 14);
	SETUP(fd >= 0, "file");
	char *q;
	M("map", q, mmap(NULL, 2 * P, PROT_READ, PRIV, fd, 0));
	if (q != MAP_FAILED) {
		R("mlock", mlock(q, 2 * P));
		R("rw", mprotect(q, 2 * P, RW));
		char z[16];
		memset(z, 0x77, sizeof z);
		SETUP(pwrite(fd, z, sizeof z, (off_t)P) == (ssize_t)sizeof z, "pwrite");
		out("copied=%d", q[P] == (char)pat(P, 14));
		munmap(q, 2 * P);
	}
	close(fd);
}

/* Under mlockall(MCL_FUTURE | MCL_ONFAULT), a mapping placed with
 * MAP_FIXED inside one that mprotect changed merges with it: it is born
 * with the same flags. */
static void mmap_born_locked_merges(void)
{
	R("mlockall", mlockall(MCL_FUTURE | MCL_ONFAULT));
	char *w = map_anon(64, PROT_NONE, PRIV);
	SETUP(w, "map");
	g_base = w;
	R("ro", mprotect(w, 64 * P, PROT_READ));
	char *x, *q;
	MR("fixed", x, mmap(w + 27 * P, 20 * P, PROT_READ, PRIV | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	M("across", q, mremap(w + 25 * P, 14 * P, 16 * P, MREMAP_MAYMOVE));
	munlockall();
	if (q != MAP_FAILED) {
		munmap(q, 16 * P);
	}
	munmap(w, 64 * P);
}

/* A mapping born locked (MCL_FUTURE | MCL_ONFAULT) next to written memory
 * does not merge with it (nor take its anon_vma): moved, it merges again
 * with its untouched neighbour once both are alike. */
static void mmap_born_locked_stays_apart(void)
{
	char *w0 = map_anon(64, RW, PRIV), *w1 = map_anon(64, RW, PRIV);
	SETUP(w0 && w1, "map");
	g_base = w1;
	memset(w0 + 31 * P + 2299, 1, 11664);
	R("mlockall", mlockall(MCL_FUTURE | MCL_ONFAULT));
	char *x, *q;
	g_base = w0;
	MR("fixed1", x, mmap(w0 + 20 * P, 8 * P, RW, PRIV | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	MR("fixed2", x, mmap(w0 + 24 * P, 32 * P, PROT_WRITE, PRIV | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	g_base = w1;
	MR("move", x, mremap(w0, 64 * P, 64 * P, MREMAP_MAYMOVE | MREMAP_FIXED, w1));
	R("rwx", mprotect(w1 + 23 * P, 32 * P, PROT_READ | PROT_WRITE | PROT_EXEC));
	MR("grow", q, mremap(w1 + 23 * P, 4 * P, 26 * P, 0));
	munlockall();
	munmap(w1, 64 * P);
}

/* mprotect stops at a hole (ENOMEM) without splitting the mapping beyond
 * it: in a fork child, where pieces never merge again, it is still one. */
static void mprotect_hole_leaves_rest_whole(void)
{
	char *p = map_anon(12, RW, PRIV);
	SETUP(p, "map");
	g_base = p;
	munmap(p + 3 * P, P);
	munmap(p + 10 * P, 2 * P);
	memset(p + 4 * P, 1, 6 * P);
	R("mprotect", mprotect(p, 8 * P, PROT_READ));
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		_exit(mremap(p + 4 * P, 6 * P, 7 * P, 0) == p + 4 * P ? 0 : errno == EFAULT ? 1 : 2);
	}
	out("child=%s", status_text(wait_for(pid)));
	munmap(p, 12 * P);
}

/* mprotect(PROT_GROWSDOWN) starting in a growing-down mapping goes on,
 * past it, through the mappings that follow up to a hole (ENOMEM). */
static void mprotect_growsdown_goes_on(void)
{
	char *p = map_anon(16, PROT_NONE, PRIV);
	SETUP(p, "map");
	g_base = p;
	munmap(p, 16 * P);
	char *g, *n;
	MR("grows", g, mmap(p, 4 * P, RW, PRIV | MAP_ANONYMOUS | MAP_FIXED | MAP_GROWSDOWN, -1, 0));
	MR("next", n, mmap(p + 4 * P, 4 * P, PROT_READ, PRIV | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	R("mprotect", mprotect(p, 12 * P, RW | PROT_GROWSDOWN));
	probe_wr("wr_next", p + 5 * P, 1);
	munmap(p, 8 * P);
}

/* MREMAP_DONTUNMAP of a private file mapping whose private copy is in
 * swap: the copy goes with the move; the old range reads the file again. */
static void dontunmap_private_file_swapped_copy(void)
{
	int fd = make_file(P, 15);
	SETUP(fd >= 0, "file");
	char *p, *t;
	M("map", p, mmap(NULL, P, RW, PRIV, fd, 0));
	if (p != MAP_FAILED) {
		p[0] = 0x5a;
		R("pageout", madvise(p, P, MADV_PAGEOUT));
		M("dontunmap", t, mremap(p, P, P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP));
		if (t != MAP_FAILED) {
			out("target=%d old=%d", t[0] == 0x5a, p[0] == (char)pat(0, 15));
			t[1] = 0x33;
			R("pageout_target", madvise(t, P, MADV_PAGEOUT));
			p[2] = 0x44;
			R("pageout_old", madvise(p, P, MADV_PAGEOUT));
			out("target_again=%d old_again=%d", t[0] == 0x5a && t[1] == 0x33,
			    p[0] == (char)pat(0, 15) && p[2] == 0x44);
			munmap(t, P);
		}
		munmap(p, P);
	}
	close(fd);
}

/* MREMAP_DONTUNMAP of part of a locked mapping onto another part of it:
 * Linux merges the target with what is around it, the old mapping
 * included, and then unlocks the whole. */
static void dontunmap_onto_own_locked(void)
{
	char *p = map_anon(64, PROT_NONE, PRIV);
	SETUP(p, "map");
	g_base = p;
	R("mlock", mlock(p, 64 * P));
	char *t;
	MR("dontunmap", t, mremap(p + 25 * P, 5 * P, 5 * P,
				  MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, p + 32 * P));
	R("dontneed", madvise(p, 64 * P, MADV_DONTNEED));
	munmap(p, 64 * P);
}

/* Shared memory keeps its contents under a guard; the page comes back. */
static void guard_shared_keeps_object(void)
{
	char *b = map_anon(2, RW, SHARED);
	SETUP(b, "map");
	g_base = b;
	fill(b, 0, 2 * P, 42);
	R("install", madvise(b, P, MADV_GUARD_INSTALL));
	probe_rd("rd_guard", b);
	R("remove", madvise(b, P, MADV_GUARD_REMOVE));
	out("back=%s", content(b, 0, 2 * P, 42));
}

/* Locked memory refuses guards (EINVAL, GUARD_REMOVE is allowed); a hole
 * in the range is ENOMEM; an unaligned address EINVAL. */
static void guard_locked_EINVAL_hole_ENOMEM(void)
{
	char *b = map_anon(4, RW, PRIV);
	SETUP(b, "map");
	R("mlock", mlock(b, P));
	R("locked", madvise(b, 2 * P, MADV_GUARD_INSTALL));
	R("remove_locked", madvise(b, 2 * P, MADV_GUARD_REMOVE));
	R("munlock", munlock(b, P));
	SETUP(munmap(b + 2 * P, P) == 0, "munmap");
	R("hole", madvise(b, 4 * P, MADV_GUARD_INSTALL));
	R("unaligned", madvise(b + 1, P, MADV_GUARD_INSTALL));
	munmap(b, 4 * P);
}

/* Guards go with their pages: fork keeps them (not under WIPEONFORK),
 * mremap moves them, munmap ends them. */
static void guard_fork_mremap_munmap(void)
{
	char *b = map_anon(2, RW, PRIV);
	char *w = map_anon(2, RW, PRIV);
	char *f = free_range(4);
	SETUP(b && w && f, "map");
	g_base = b;
	R("install", madvise(b, P, MADV_GUARD_INSTALL));
	R("wipeonfork", madvise(w, 2 * P, MADV_WIPEONFORK));
	R("install_wipe", madvise(w, P, MADV_GUARD_INSTALL));
	pid_t pid = fork();
	if (pid == 0) {
		probe_rd("child_rd", b);
		g_base = w;
		probe_rd("child_wipe_rd", w);
		exit(0);
	}
	SETUP(pid > 0, "fork");
	out("child=%s", status_text(wait_for(pid)));
	g_base = f;
	char *p;
	MR("moved", p, mremap(b, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, f));
	SETUP(p != MAP_FAILED, "mremap");
	probe_rd("rd_moved", p);
	R("munmap", munmap(p, P));
	char *q = mmap(p, P, RW, PRIV | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	SETUP(q != MAP_FAILED, "mmap");
	probe_rd("rd_remapped", q);
}

/* Linux >= 6.17: MREMAP_FIXED of the same size moves every mapping of the
 * range (holes allowed, not at its start); under a hole the target keeps
 * what it had.  A size change over several mappings is EFAULT. */
static void mremap_fixed_moves_several_mappings(void)
{
	char *s = map_anon(4, RW, PRIV);
	char *t = map_anon(4, RW, PRIV);
	char *g = free_range(5);
	SETUP(s && t && g, "map");
	g_base = g;
	fill(s, 0, 4 * P, 43);
	fill(t, 0, 4 * P, 44);
	R("mprotect", mprotect(s + P, P, PROT_READ));
	R("hole", munmap(s + 2 * P, P));
	char *p;
	MR("grow", p, mremap(s, 4 * P, 5 * P, MREMAP_MAYMOVE | MREMAP_FIXED, g));
	g_base = t;
	MR("r", p, mremap(s, 4 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_FIXED, t));
	out("t0=%s t1=%s t2=%s t3=%s", content(t, 0, 2 * P, 43), content(t + P, P, P, 43),
	    content(t + 2 * P, 2 * P, P, 44), content(t + 3 * P, 3 * P, P, 43));
	probe_wr("wr_t1", t + P, 1);
	g_base = s;
	probe_rd("rd_old", s);
	SETUP(mmap(s + 3 * P, P, RW, PRIV | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED, "mmap");
	g_base = t;
	MR("from_hole", p, mremap(s + 2 * P, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, t));
}

/* The same with MREMAP_DONTUNMAP: the old private pages read zero. */
static void mremap_dontunmap_several_mappings(void)
{
	char *s = map_anon(3, RW, PRIV);
	char *t = free_range(3);
	SETUP(s && t, "map");
	g_base = t;
	fill(s, 0, 3 * P, 45);
	R("mprotect", mprotect(s + P, P, PROT_READ));
	char *p;
	MR("r", p, mremap(s, 3 * P, 3 * P, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, t));
	out("new=%s old=%s", content(t, 0, 3 * P, 45), content(s, 0, 3 * P, 0));
	M("nofixed", p, mremap(s, 3 * P, 3 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL));
}

/* A FIXED shrink needs only the part that moves in one mapping: the rest
 * of the old range is unmapped, whatever it holds. */
static void mremap_fixed_shrink_over_several(void)
{
	char *s = map_anon(4, RW, PRIV);
	char *t = free_range(2);
	SETUP(s && t, "map");
	g_base = t;
	fill(s, 0, 4 * P, 46);
	R("mprotect", mprotect(s + 2 * P, P, PROT_READ));
	char *p;
	MR("r", p, mremap(s, 4 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, t));
	out("data=%s", content(t, 0, 2 * P, 46));
	g_base = s;
	probe_rd("rd_tail", s + 3 * P);
}

/* old_len 0: a second mapping of a shared mapping's object (past the
 * object's end, SIGBUS); EINVAL for private ones, ENOMEM without MAYMOVE,
 * EFAULT with nothing mapped. */
static void mremap_old_len_zero_duplicates_shared(void)
{
	char *s = map_anon(2, RW, SHARED);
	char *b = map_anon(1, RW, PRIV);
	char *f = free_range(3);
	SETUP(s && b && f, "map");
	g_base = f;
	fill(s, 0, 2 * P, 47);
	char *p;
	MR("r", p, mremap(s + P, 0, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, f));
	SETUP(p != MAP_FAILED, "mremap");
	out("dup=%s", content(f, P, P, 47));
	probe_wr("wr_dup", f, 9);
	out("seen=%d", s[P] == 9);
	probe_rd("rd_past_object", f + P);
	M("unmapped", p, mremap(f + 2 * P, 0, P, MREMAP_MAYMOVE));
	M("no_maymove", p, mremap(s, 0, P, 0));
	M("private", p, mremap(b, 0, P, MREMAP_MAYMOVE));
	M("maymove", p, mremap(s, 0, P, MREMAP_MAYMOVE));
	SETUP(p != MAP_FAILED, "mremap");
	out("second=%s", content(p, 0, P, 47));
}

/* A private file mapping whose pages were copied at different times grows
 * and moves with its copies. */
static void mremap_grow_private_file_after_copies(void)
{
	int fd = make_file(6 * P, 48);
	SETUP(fd >= 0, "file");
	char *m = mmap(NULL, 4 * P, RW, PRIV, fd, 0);
	SETUP(m != MAP_FAILED, "mmap");
	/* Page 3 first, then 0, 1, 2: under the shim the kernel's pieces
	 * get copies (anon_vmas) apart and never merge again. */
	m[3 * P] = 4;
	m[0] = 1;
	m[P] = 2;
	m[2 * P] = 3;
	char *p;
	M("r", p, mremap(m, 4 * P, 6 * P, MREMAP_MAYMOVE));
	SETUP(p != MAP_FAILED, "mremap");
	out("copies=%d%d%d%d tail=%s", p[0], p[P], p[2 * P], p[3 * P],
	    content(p + 4 * P, 4 * P, 2 * P, 48));
	munmap(p, 6 * P);
	close(fd);
}

/* mlock of PROT_NONE memory says ENOMEM and locks it all the same: then
 * MADV_DONTNEED is EINVAL. */
static void mlock_prot_none_ENOMEM_but_locked(void)
{
	char *b = map_anon(2, PROT_NONE, PRIV);
	SETUP(b, "map");
	R("mlock", mlock(b, 2 * P));
	R("dontneed", madvise(b, P, MADV_DONTNEED));
	R("munlock", munlock(b, 2 * P));
	R("dontneed_unlocked", madvise(b, P, MADV_DONTNEED));
	munmap(b, 2 * P);
}

/* The same for a shared file mapping past the end of its file: the locked
 * part is a mapping of its own (an mremap across it is EFAULT) and grows
 * and moves as one. */
static void mlock_past_eof_ENOMEM_locks_part(void)
{
	int fd = make_file(2 * P, 49);
	SETUP(fd >= 0, "file");
	char *m = mmap(NULL, 6 * P, RW, SHARED, fd, 0);
	SETUP(m != MAP_FAILED, "mmap");
	R("mlock", mlock(m, 3 * P));
	R("dontneed", madvise(m, P, MADV_DONTNEED));
	char *p;
	M("across", p, mremap(m, 6 * P, 40 * P, MREMAP_MAYMOVE));
	M("grow", p, mremap(m, 3 * P, 40 * P, MREMAP_MAYMOVE));
	SETUP(p != MAP_FAILED, "mremap");
	out("data=%s", content(p, 0, 2 * P, 49));
	munmap(p, 40 * P);
	munmap(m, 6 * P);
	close(fd);
}

/* A forked child inherits no lock, and fork leaves the unlocked mappings
 * apart: mremap across them is EFAULT in the child. */
static void mlock_not_inherited_by_fork(void)
{
	char *b = map_anon(4, RW, PRIV);
	SETUP(b, "map");
	R("mlock", mlock(b + P, P));
	pid_t pid = fork();
	if (pid == 0) {
		R("child_dontneed", madvise(b + P, P, MADV_DONTNEED));
		char *p;
		M("child_mremap", p, mremap(b, 4 * P, 8 * P, MREMAP_MAYMOVE));
		exit(0);
	}
	SETUP(pid > 0, "fork");
	out("child=%s", status_text(wait_for(pid)));
	R("parent_dontneed", madvise(b + P, P, MADV_DONTNEED));
}

/* MREMAP_DONTUNMAP unlocks the whole old mapping; DONTNEED_LOCKED keeps
 * the lock (MADV_COLD is still EINVAL on locked memory). */
static void mlock_dontunmap_and_dontneed_locked(void)
{
	char *b = map_anon(4, RW, SHARED);
	char *c = map_anon(2, RW, PRIV);
	SETUP(b && c, "map");
	R("mlock", mlock(b, 4 * P));
	char *p;
	M("dontunmap", p, mremap(b + P, P, P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL));
	R("invalidate_old", msync(b, 4 * P, MS_INVALIDATE));
	R("mlock_c", mlock(c, 2 * P));
	R("dontneed_locked", madvise(c, 2 * P, MADV_DONTNEED_LOCKED));
	R("cold", madvise(c, 2 * P, MADV_COLD));
	R("invalidate_c", msync(c, 2 * P, MS_INVALIDATE));
}

/* MAP_STACK maps as VM_NOHUGEPAGE (Linux >= 6.7 with THP): it does not
 * merge with a plain neighbour, so mremap across both is EFAULT. */
static void mmap_stack_apart_from_neighbour(void)
{
	char *f = free_range(4);
	SETUP(f, "range");
	char *a = mmap(f, 2 * P, RW, PRIV | MAP_ANONYMOUS | MAP_FIXED | MAP_STACK, -1, 0);
	char *b = mmap(f + 2 * P, 2 * P, RW, PRIV | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	SETUP(a != MAP_FAILED && b != MAP_FAILED, "map");
	char *p;
	M("r", p, mremap(f, 4 * P, 8 * P, MREMAP_MAYMOVE));
	munmap(f, 4 * P);
}

/* A MAP_GROWSDOWN mapping grows down on access below it, as a stack,
 * unless an accessible mapping lies within the stack guard gap (256 pages)
 * below the access.  (The mapping below is PROT_NONE first, so placement
 * around the range does not matter.) */
static void mmap_growsdown_grows_on_access(void)
{
	char *f = free_range(8);
	SETUP(f, "range");
	g_base = f;
	char *low = mmap(f, P, PROT_NONE, PRIV | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	char *g = mmap(f + 6 * P, 2 * P, RW, PRIV | MAP_ANONYMOUS | MAP_FIXED | MAP_GROWSDOWN, -1, 0);
	SETUP(low != MAP_FAILED && g != MAP_FAILED, "mmap");
	probe_wr("wr_below", f + 3 * P, 1);
	probe_rd("rd_between", f + 4 * P);
	R("mprotect_low", mprotect(low, P, PROT_READ));
	probe_rd("rd_near_accessible", f + 2 * P);
	R("munmap", munmap(f, 8 * P));
}

/* mincore on memory the shim does not serve, its vector in fresh arena
 * memory: the vector is written as natively. */
static void mincore_vector_in_fresh_memory(void)
{
	char *v = map_anon(1, RW, SHARED);
	char *m = mmap(NULL, 2 * P, RW, PRIV | MAP_ANONYMOUS | UNKNOWN_MAP_FLAG, -1, 0);
	SETUP(v && m != MAP_FAILED, "map");
	R("r", mincore(m, 2 * P, (unsigned char *)v + 100));
}

/* mlock2 of an unaligned range locks its pages (msync MS_INVALIDATE then
 * says EBUSY). */
static void mlock2_unaligned_onfault_locks(void)
{
	char *b = map_anon(2, RW, PRIV | MAP_POPULATE);
	SETUP(b, "map");
	R("mlock2", mlock2(b + P + 2751, 1345, MLOCK_ONFAULT));
	R("invalidate", msync(b, 2 * P, MS_INVALIDATE));
	munmap(b, 2 * P);
}

/* Linux ignores the offset of anonymous mappings: such a mapping grows in
 * place like any other. */
static void mmap_anon_offset_ignored(void)
{
	char *f = free_range(4);
	SETUP(f, "range");
	g_base = f;
	char *p;
	MR("r", p, mmap(f, P, RW, PRIV | MAP_ANONYMOUS | MAP_FIXED, -1, 5 * (off_t)P));
	MR("grow", p, mremap(f, P, 3 * P, 0));
	munmap(f, 4 * P);
}

/* VM_ACCOUNT keeps private writable memory apart from a read-only
 * neighbour once both are touched, whatever their later protection. */
static void mprotect_account_keeps_apart(void)
{
	char *m = map_anon(8, PROT_READ | PROT_EXEC, PRIV);
	SETUP(m, "map");
	char *n = mmap(m + 4 * P, 3 * P, RW | PROT_EXEC, PRIV | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	SETUP(n != MAP_FAILED, "mmap");
	volatile char sink = m[0];
	(void)sink;
	n[0] = 1;
	R("mprotect", mprotect(m, 8 * P, PROT_NONE));
	char *p;
	M("across", p, mremap(m + 6 * P, 2 * P, 4 * P, MREMAP_MAYMOVE));
	munmap(m, 8 * P);
}

/* A mapping the kernel serves (an unknown flag) grows in place into free
 * space. */
static void mremap_foreign_grows_in_place(void)
{
	char *f = free_range(6);
	SETUP(f, "range");
	g_base = f;
	char *p;
	MR("r", p, mmap(f, 4 * P, RW, PRIV | MAP_ANONYMOUS | MAP_FIXED | UNKNOWN_MAP_FLAG, -1, 0));
	R("munmap", munmap(f + 2 * P, 2 * P));
	MR("grow", p, mremap(f, 2 * P, 5 * P, 0));
	munmap(f, 6 * P);
}

/* Under MCL_FUTURE|MCL_ONFAULT a MAP_LOCKED mapping locks on fault: a
 * later mlock2(MLOCK_ONFAULT) changes nothing, a plain mlock splits it. */
static void mlockall_onfault_map_locked(void)
{
	R("mlockall", mlockall(MCL_FUTURE | MCL_ONFAULT));
	char *b = mmap(NULL, 4 * P, RW, PRIV | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
	SETUP(b != MAP_FAILED, "mmap");
	char *f = free_range(2);
	SETUP(f, "range");
	g_base = f;
	out("resident=%s", residency(b, 4));
	R("onfault", mlock2(b + P, P, MLOCK_ONFAULT));
	char *p;
	MR("shrink_onfault", p, mremap(b, 4 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, f));
	R("munlockall", munlockall());
	char *c = map_anon(4, RW, PRIV);
	SETUP(c, "map");
	R("mlock_onfault", mlock2(c, 4 * P, MLOCK_ONFAULT));
	R("mlock", mlock(c + P, P));
	MR("shrink_split", p, mremap(c, 4 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, f));
	R("munlock", munlock(c, 4 * P));
}

/* The range MREMAP_DONTUNMAP leaves behind keeps MADV_WIPEONFORK: a
 * child reads it as zero. */
static void mremap_dontunmap_keeps_wipeonfork(void)
{
	char *b = map_anon(4, RW, PRIV);
	SETUP(b, "map");
	g_base = b;
	R("wipeonfork", madvise(b, 4 * P, MADV_WIPEONFORK));
	char *p;
	M("r", p, mremap(b + P, P, P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL));
	b[P] = 5;
	pid_t pid = fork();
	if (pid == 0) {
		probe_rd("child_rd", b + P);
		exit(0);
	}
	SETUP(pid > 0, "fork");
	out("child=%s parent=%d", status_text(wait_for(pid)), b[P]);
}

/* DONTUNMAP of a mapping the kernel serves unlocks what it leaves. */
static void mremap_dontunmap_foreign_unlocks(void)
{
	char *f = free_range(4);
	SETUP(f, "range");
	char *b = mmap(f, 4 * P, RW, PRIV | MAP_ANONYMOUS | MAP_FIXED | UNKNOWN_MAP_FLAG, -1, 0);
	SETUP(b != MAP_FAILED, "mmap");
	R("mlock", mlock(b, 4 * P));
	char *p;
	M("r", p, mremap(b + P, P, P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL));
	R("invalidate_old", msync(b, 4 * P, MS_INVALIDATE));
	R("invalidate_new", msync(p, P, MS_INVALIDATE));
	munmap(b, 4 * P);
	munmap(p, P);
}

/* Bits Linux's mmap ignores (unknown protection bits, MAP_DENYWRITE,
 * MAP_EXECUTABLE) leave an ordinary mapping: it merges with a plain
 * neighbour, so mremap across both works. */
static void mmap_ignored_bits_ordinary(void)
{
	char *f = free_range(6);
	SETUP(f, "range");
	g_base = f;
	char *p;
	MR("plain", p, mmap(f, 2 * P, RW, PRIV | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	MR("odd_prot", p, mmap(f + 2 * P, P, RW | 0x40000000, PRIV | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	MR("denywrite", p,
	   mmap(f + 3 * P, P, RW, PRIV | MAP_ANONYMOUS | MAP_FIXED | MAP_DENYWRITE | MAP_EXECUTABLE,
		-1, 0));
	M("across", p, mremap(f, 4 * P, 8 * P, MREMAP_MAYMOVE));
	munmap(p, 8 * P);
	munmap(f, 6 * P);
}

/* A mapping moved with its pages keeps its anon_vma and page offset
 * (copy_vma): it never merges with its new neighbour; moved untouched, it
 * does. */
static void mremap_moved_pages_stay_apart(void)
{
	char *f = free_range(8);
	char *g = free_range(12);
	SETUP(f && g, "range");
	/* Apart from each other and from anything else: nothing merges. */
	char *a = mmap(g + 2 * P, 2 * P, RW, PRIV | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	char *b = mmap(g + 8 * P, 2 * P, RW, PRIV | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	SETUP(a != MAP_FAILED && b != MAP_FAILED, "map");
	g_base = f;
	char *p;
	MR("neighbour", p, mmap(f, 2 * P, RW, PRIV | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	a[0] = 1;
	MR("touched", p, mremap(a, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, f + 2 * P));
	M("across_touched", p, mremap(f + P, 2 * P, 3 * P, MREMAP_MAYMOVE));
	MR("untouched", p, mremap(b, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, f + 6 * P));
	MR("neighbour2", p, mmap(f + 4 * P, 2 * P, RW, PRIV | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	M("across_untouched", p, mremap(f + 5 * P, 2 * P, 3 * P, MREMAP_MAYMOVE));
	munmap(f, 8 * P);
	munmap(g, 12 * P);
	if (p != MAP_FAILED) {
		munmap(p, 3 * P);
	}
}

/* MREMAP_DONTUNMAP of the middle of a locked private mapping unlocks all
 * of what stays, on both sides of the moved range. */
static void mremap_dontunmap_unlocks_private(void)
{
	char *b = map_anon(4, RW, PRIV);
	SETUP(b, "map");
	fill(b, 0, 4 * P, 50);
	R("mlock", mlock(b, 4 * P));
	char *p;
	M("r", p, mremap(b + P, P, P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL));
	R("cold_head", madvise(b, P, MADV_COLD));
	R("cold_tail", madvise(b + 2 * P, 2 * P, MADV_COLD));
	R("cold_new", madvise(p, P, MADV_COLD));
	munmap(b, 4 * P);
	munmap(p, P);
}

struct check {
	const char *name;
	void (*fn)(void);
	unsigned flags;
	const char *expect; /* the line Linux 6.x / glibc 2.36 / x86_64 prints */
};

#define C(name, fn, flags, expect) { name, fn, flags, expect }

static const struct check checks[] = {
	/* mmap */
	C("mmap.zero_length_EINVAL", mmap_zero_length_EINVAL, 0, "r=MAP_FAILED/EINVAL"),
	C("mmap.fixed_unaligned_addr_EINVAL", mmap_fixed_unaligned_addr_EINVAL, 0,
	  "r=MAP_FAILED/EINVAL old=pat"),
	C("mmap.unaligned_offset_EINVAL", mmap_unaligned_offset_EINVAL, 0,
	  "file=MAP_FAILED/EINVAL anon=MAP_FAILED/EINVAL"),
	C("mmap.neither_shared_nor_private_EINVAL", mmap_neither_shared_nor_private_EINVAL, 0,
	  "anon=MAP_FAILED/EINVAL file=MAP_FAILED/EINVAL"),
	C("mmap.shared_and_private_is_validate", mmap_shared_and_private_is_validate, 0,
	  "anon=MAP_FAILED/EINVAL file=ok data=pat"),
	C("mmap.shared_validate_unknown_flag_EOPNOTSUPP",
	  mmap_shared_validate_unknown_flag_EOPNOTSUPP, 0,
	  "validate=MAP_FAILED/EOPNOTSUPP shared=ok private=ok"),
	C("mmap.bad_fd_EBADF", mmap_bad_fd_EBADF, 0,
	  "minus1=MAP_FAILED/EBADF closed=MAP_FAILED/EBADF"),
	C("mmap.wronly_fd_EACCES", mmap_wronly_fd_EACCES, 0,
	  "shared_rw=MAP_FAILED/EACCES shared_w=MAP_FAILED/EACCES private_r=MAP_FAILED/EACCES"),
	C("mmap.rdonly_fd_shared_write_EACCES", mmap_rdonly_fd_shared_write_EACCES, 0,
	  "shared_rw=MAP_FAILED/EACCES shared_r=ok private_rw=ok"),
	C("mmap.directory_ENODEV", mmap_directory_ENODEV, 0, "r=MAP_FAILED/ENODEV"),
	C("mmap.pipe_ENODEV", mmap_pipe_ENODEV, 0, "r=MAP_FAILED/ENODEV"),
	C("mmap.huge_length_ENOMEM", mmap_huge_length_ENOMEM, 0,
	  "1<<62=MAP_FAILED/ENOMEM max-4095=MAP_FAILED/ENOMEM max=MAP_FAILED/ENOMEM "
	  "shared=MAP_FAILED/ENOMEM noreserve=MAP_FAILED/ENOMEM"),
	C("mmap.fixed_noreplace_EEXIST", mmap_fixed_noreplace_EEXIST, 0,
	  "over=MAP_FAILED/EEXIST overlap_end=MAP_FAILED/EEXIST old=pat free=+0x1000"),
	C("mmap.hint_in_free_range_honoured", mmap_hint_in_free_range_honoured, 0, "r=+0x8000"),
	C("mmap.unaligned_hint_rounded_down", mmap_unaligned_hint_rounded_down, 0, "r=+0x2000"),
	C("mmap.hint_over_mapping_moves", mmap_hint_over_mapping_moves, 0,
	  "r=ok moved=1 old=pat"),
	C("mmap.anon_reads_zero", mmap_anon_reads_zero, 0, "private=zero shared=zero"),
	C("mmap.length_rounded_up_to_page", mmap_length_rounded_up_to_page, FORK,
	  "r=+0x0 wr_last=ok rd_next=SIGSEGV/SEGV_MAPERR@+0x1000"),
	C("mmap.prot_none_then_mprotect_rw", mmap_prot_none_then_mprotect_rw, FORK,
	  "rd_none=SIGSEGV/SEGV_ACCERR@+0x10 mprotect=0 wr=ok rd=0x42 rd0=0x00"),
	C("mmap.fixed_replaces_part", mmap_fixed_replaces_part, 0,
	  "r=+0x1000 p0=pat p1=zero p2=zero p3=pat"),
	C("mmap.fixed_prot_none_part_faults", mmap_fixed_prot_none_part_faults, FORK,
	  "r=+0x1000 rd0=0x0d rd1=SIGSEGV/SEGV_ACCERR@+0x1001 rd2=0x9b"),
	C("mmap.fixed_file_over_anon", mmap_fixed_file_over_anon, 0,
	  "r=+0x1000 p0=pat file=pat p3=pat"),
	C("mmap.populate_resident", mmap_populate_resident, 0, "resident=1111 zero=1"),
	C("mmap.file_private_contents", mmap_file_private_contents, 0,
	  "r=ok off=ok data=pat at_offset=pat"),
	C("mmap.private_file_write_not_in_file", mmap_private_file_write_not_in_file, 0,
	  "r=ok file=unchanged map=1"),
	C("mmap.shared_file_write_visible_to_read", mmap_shared_file_write_visible_to_read, 0,
	  "r=ok read_sees=1"),
	C("mmap.pwrite_visible_in_shared_mapping", mmap_pwrite_visible_in_shared_mapping, 0,
	  "r=ok before=pat pwrite=0 map_sees=1"),
	C("mmap.private_file_sees_pwrite_until_written",
	  mmap_private_file_sees_pwrite_until_written, 0,
	  "r=ok read_page=0x55 written_page=0x44"),
	C("mmap64.same_as_mmap", mmap64_same_as_mmap, 0,
	  "r=ok zero=1 zero_len=MAP_FAILED/EINVAL bad_off=MAP_FAILED/EINVAL"),

	/* SIGBUS */
	C("sigbus.shared_beyond_eof_BUS_ADRERR", sigbus_shared_beyond_eof_BUS_ADRERR, FORK,
	  "r=ok data=pat rd_eof=0x00 rd_end0=0x00 wr_tail0=ok "
	  "rd_p1=SIGBUS/BUS_ADRERR@+0x1010 wr_p1=SIGBUS/BUS_ADRERR@+0x1020 size=100"),
	C("sigbus.private_beyond_eof_BUS_ADRERR", sigbus_private_beyond_eof_BUS_ADRERR, FORK,
	  "r=ok rd_tail0=0x00 wr_p1=SIGBUS/BUS_ADRERR@+0x1123 rd_p2=SIGBUS/BUS_ADRERR@+0x2000"),
	C("sigbus.after_truncate_BUS_ADRERR", sigbus_after_truncate_BUS_ADRERR, FORK,
	  "r=ok rd_before=0x7a ftruncate=0 rd_p0=0x33 rd_p1=SIGBUS/BUS_ADRERR@+0x1005"),
	C("sigbus.offset_beyond_eof", sigbus_offset_beyond_eof, FORK,
	  "r=ok rd=SIGBUS/BUS_ADRERR@+0x1"),

	/* munmap */
	C("munmap.unaligned_EINVAL", munmap_unaligned_EINVAL, 0, "r=-1/EINVAL data=pat"),
	C("munmap.zero_length_EINVAL", munmap_zero_length_EINVAL, 0, "r=-1/EINVAL"),
	C("munmap.outside_address_space_EINVAL", munmap_outside_address_space_EINVAL, 0,
	  "high=-1/EINVAL long=-1/EINVAL"),
	C("munmap.hole_ok", munmap_hole_ok, 0, "hole=0 twice_a=0 twice_b=0"),
	C("munmap.partial_head", munmap_partial_head, FORK,
	  "r=0 rest=pat rd_removed=SIGSEGV/SEGV_MAPERR@+0x10 rd_kept=0x5a"),
	C("munmap.partial_tail", munmap_partial_tail, FORK,
	  "r=0 rest=pat rd_kept=0xd5 rd_removed=SIGSEGV/SEGV_MAPERR@+0x3000"),
	C("munmap.partial_middle", munmap_partial_middle, FORK,
	  "r=0 head=pat tail=pat rd_removed1=SIGSEGV/SEGV_MAPERR@+0x1123 "
	  "rd_removed2=SIGSEGV/SEGV_MAPERR@+0x2fff wr_tail=ok"),
	C("munmap.length_rounded_up", munmap_length_rounded_up, FORK,
	  "r=0 rd_end0=SIGSEGV/SEGV_MAPERR@+0xfff rd_p1=0x00"),
	C("munmap.spanning_two_mappings", munmap_spanning_two_mappings, FORK,
	  "r=0 rd0=0x00 rd1=SIGSEGV/SEGV_MAPERR@+0x1000 rd2=SIGSEGV/SEGV_MAPERR@+0x2000 rd3=0x00"),

	/* mprotect */
	C("mprotect.unaligned_EINVAL", mprotect_unaligned_EINVAL, 0, "r=-1/EINVAL"),
	C("mprotect.bad_prot_EINVAL", mprotect_bad_prot_EINVAL, 0,
	  "0x100=-1/EINVAL grows_both=-1/EINVAL prot_sem=0"),
	C("mprotect.unmapped_ENOMEM", mprotect_unmapped_ENOMEM, 0, "r=-1/ENOMEM"),
	C("mprotect.zero_length_ok", mprotect_zero_length_ok, 0, "r=0 unmapped=0"),
	C("mprotect.hole_ENOMEM_changes_before_hole", mprotect_hole_ENOMEM_changes_before_hole,
	  FORK,
	  "r=-1/ENOMEM wr_before=SIGSEGV/SEGV_ACCERR@+0x10 rd_before=0x00 wr_after=ok "
	  "from_hole=-1/ENOMEM wr_after2=ok"),
	C("mprotect.read_only_write_SEGV_ACCERR", mprotect_read_only_write_SEGV_ACCERR, FORK,
	  "r=0 wr=SIGSEGV/SEGV_ACCERR@+0x107b rd=0xc9 wr_next=ok"),
	C("mprotect.none_read_SEGV_ACCERR", mprotect_none_read_SEGV_ACCERR, FORK,
	  "r=0 rd=SIGSEGV/SEGV_ACCERR@+0x2345 wr=SIGSEGV/SEGV_ACCERR@+0x10"),
	C("mprotect.after_munmap_SEGV_MAPERR", mprotect_after_munmap_SEGV_MAPERR, FORK,
	  "r=0 rd=SIGSEGV/SEGV_MAPERR@+0x1042 mprotect=-1/ENOMEM"),
	C("mprotect.exec_read_ok", mprotect_exec_read_ok, FORK,
	  "r=0 data=pat wr=SIGSEGV/SEGV_ACCERR@+0x8"),
	C("mprotect.write_only_is_readable_x86", mprotect_write_only_is_readable_x86, FORK,
	  "r=0 rd=0x12 wr=ok"),
	C("mprotect.middle_splits", mprotect_middle_splits, FORK,
	  "r=0 wr0=ok wr1=SIGSEGV/SEGV_ACCERR@+0x1000 wr2=SIGSEGV/SEGV_ACCERR@+0x2fff wr3=ok "
	  "back=0 wr1_again=ok"),
	C("mprotect.shared_rdonly_file_write_EACCES", mprotect_shared_rdonly_file_write_EACCES, 0,
	  "map=ok shared=-1/EACCES map_private=ok private=0"),
	C("mprotect.fault_default_action_kills", mprotect_fault_default_action_kills,
	  FORK | NOHANDLER, "before=ok child=killed:SIGSEGV"),

	/* mremap */
	C("mremap.unaligned_old_EINVAL", mremap_unaligned_old_EINVAL, 0, "r=MAP_FAILED/EINVAL"),
	C("mremap.zero_new_size_EINVAL", mremap_zero_new_size_EINVAL, 0,
	  "r=MAP_FAILED/EINVAL no_flags=MAP_FAILED/EINVAL"),
	C("mremap.bad_flags_EINVAL", mremap_bad_flags_EINVAL, 0,
	  "0x80=MAP_FAILED/EINVAL 0x80_maymove=MAP_FAILED/EINVAL"),
	C("mremap.fixed_without_maymove_EINVAL", mremap_fixed_without_maymove_EINVAL, 0,
	  "r=MAP_FAILED/EINVAL"),
	C("mremap.dontunmap_without_maymove_EINVAL", mremap_dontunmap_without_maymove_EINVAL, 0,
	  "r=MAP_FAILED/EINVAL"),
	C("mremap.fixed_overlap_EINVAL", mremap_fixed_overlap_EINVAL, 0,
	  "r=MAP_FAILED/EINVAL unaligned_new=MAP_FAILED/EINVAL"),
	C("mremap.grow_in_place_blocked_ENOMEM", mremap_grow_in_place_blocked_ENOMEM, 0,
	  "r=MAP_FAILED/ENOMEM data=pat"),
	C("mremap.grow_in_place_ok", mremap_grow_in_place_ok, 0, "r=+0x0 old=pat new=zero"),
	C("mremap.old_unmapped_EFAULT", mremap_old_unmapped_EFAULT, 0,
	  "r=MAP_FAILED/EFAULT shrink=MAP_FAILED/EFAULT"),
	C("mremap.spans_two_mappings_EFAULT", mremap_spans_two_mappings_EFAULT, 0,
	  "r=MAP_FAILED/EFAULT past_end=MAP_FAILED/EFAULT"),
	C("mremap.shrink_ok", mremap_shrink_ok, FORK,
	  "r=+0x0 data=pat rd_kept=0x95 rd_removed=SIGSEGV/SEGV_MAPERR@+0x2000 "
	  "rd_removed3=SIGSEGV/SEGV_MAPERR@+0x3010"),
	C("mremap.grow_maymove_preserves", mremap_grow_maymove_preserves, FORK,
	  "r=ok moved=1 data=pat tail=zero rd_old=SIGSEGV/SEGV_MAPERR@+0x10 rd_blocker=0x00 "
	  "wr_new_end=ok"),
	C("mremap.fixed_moves_to_target", mremap_fixed_moves_to_target, FORK,
	  "r=+0x4000 data=pat tail=zero rd_old=SIGSEGV/SEGV_MAPERR@+0x10"),
	C("mremap.fixed_replaces_target", mremap_fixed_replaces_target, 0,
	  "r=+0x1000 t0=pat t1=pat t2=pat"),
	C("mremap.dontunmap_old_reads_zero", mremap_dontunmap_old_reads_zero, FORK,
	  "r=ok new=pat rd_old=0x00 old=zero"),

	/* madvise */
	C("madvise.bad_advice_EINVAL", madvise_bad_advice_EINVAL, 0, "999=-1/EINVAL -1=-1/EINVAL"),
	C("madvise.unaligned_EINVAL", madvise_unaligned_EINVAL, 0,
	  "r=-1/EINVAL dontneed=-1/EINVAL"),
	C("madvise.zero_length_ok", madvise_zero_length_ok, 0, "r=0"),
	C("madvise.unmapped_ENOMEM", madvise_unmapped_ENOMEM, 0,
	  "normal=-1/ENOMEM dontneed=-1/ENOMEM willneed=-1/ENOMEM"),
	C("madvise.common_advice_ok", madvise_common_advice_ok, 0,
	  "normal=0 random=0 sequential=0 willneed=0 dofork=0 data=pat"),
	C("madvise.dontneed_private_anon_reads_zero", madvise_dontneed_private_anon_reads_zero, 0,
	  "r=0 p0=pat p12=zero p3=pat"),
	C("madvise.dontneed_shared_anon_keeps_data", madvise_dontneed_shared_anon_keeps_data, 0,
	  "r=0 data=pat"),
	C("madvise.dontneed_private_file_reverts", madvise_dontneed_private_file_reverts, 0,
	  "map=ok r=0 data=pat"),
	C("madvise.hole_ENOMEM_applies_around", madvise_hole_ENOMEM_applies_around, 0,
	  "r=-1/ENOMEM before=zero after=zero"),
	C("madvise.remove_private_EINVAL", madvise_remove_private_EINVAL, 0,
	  "anon=-1/EINVAL data=pat"),
	C("madvise.remove_private_file_EACCES", madvise_remove_private_file_EACCES, 0,
	  "map=ok r=-1/EACCES"),
	C("madvise.remove_shared_anon_zeroes", madvise_remove_shared_anon_zeroes, 0,
	  "r=0 p0=zero p1=pat"),
	C("posix_madvise.bad_advice_returns_EINVAL", posix_madvise_bad_advice_returns_EINVAL, 0,
	  "r=EINVAL errno=0"),
	C("posix_madvise.unaligned_returns_EINVAL", posix_madvise_unaligned_returns_EINVAL, 0,
	  "r=EINVAL errno=0"),
	C("posix_madvise.unmapped_returns_ENOMEM", posix_madvise_unmapped_returns_ENOMEM, 0,
	  "r=ENOMEM errno=0"),
	C("posix_madvise.dontneed_returns_0_keeps_data",
	  posix_madvise_dontneed_returns_0_keeps_data, 0, "r=0 errno=0 data=pat"),
	C("posix_madvise.valid_advice_returns_0", posix_madvise_valid_advice_returns_0, 0,
	  "normal=0 sequential=0 random=0 willneed=0"),

	/* msync */
	C("msync.sync_and_async_EINVAL", msync_sync_and_async_EINVAL, 0, "r=-1/EINVAL"),
	C("msync.unaligned_EINVAL", msync_unaligned_EINVAL, 0, "r=-1/EINVAL"),
	C("msync.bad_flags_EINVAL", msync_bad_flags_EINVAL, 0, "0x100=-1/EINVAL 0x8=-1/EINVAL"),
	C("msync.unmapped_ENOMEM", msync_unmapped_ENOMEM, 0,
	  "sync=-1/ENOMEM async=-1/ENOMEM hole=-1/ENOMEM"),
	C("msync.anon_and_zero_length_ok", msync_anon_and_zero_length_ok, 0,
	  "private_anon=0 zero_len=0 flags0=0 invalidate=0"),
	C("msync.shared_file_ok", msync_shared_file_ok, 0,
	  "map=ok sync=0 async=0 file=0x66"),
	C("msync.invalidate_locked_EBUSY", msync_invalidate_locked_EBUSY, 0,
	  "mlock=0 r=-1/EBUSY sync=0"),

	/* mlock family, mincore */
	C("mlock.lock_unlock_ok", mlock_lock_unlock_ok, 0,
	  "mlock=0 resident=1111 zero=1 munlock=0 unaligned=0 munlock_unaligned=0"),
	C("mlock.unmapped_ENOMEM", mlock_unmapped_ENOMEM, 0,
	  "mlock=-1/ENOMEM munlock=-1/ENOMEM mlock2=-1/ENOMEM"),
	C("mlock2.bad_flags_EINVAL", mlock2_bad_flags_EINVAL, 0, "2=-1/EINVAL 0x100=-1/EINVAL"),
	C("mlock2.onfault_does_not_populate", mlock2_onfault_does_not_populate, 0,
	  "r=0 after_lock=0000 touched=1 munlock=0"),
	C("mlockall.bad_flags_EINVAL", mlockall_bad_flags_EINVAL, 0,
	  "0=-1/EINVAL onfault_alone=-1/EINVAL 0x100=-1/EINVAL"),
	C("mlockall.current_then_munlockall_ok", mlockall_current_then_munlockall_ok, FORK,
	  "mlockall=0 munlockall=0 onfault=0 future_onfault_resident=00 munlockall2=0 "
	  "munlockall_again=0"),
	C("mincore.unaligned_EINVAL", mincore_unaligned_EINVAL, 0, "r=-1/EINVAL"),
	C("mincore.unmapped_ENOMEM", mincore_unmapped_ENOMEM, 0, "r=-1/ENOMEM hole=-1/ENOMEM"),
	C("mincore.touched_pages", mincore_touched_pages, 0,
	  "touched=111 dontneed=0 after_dontneed=00000000 zero_len=0"),
	C("mincore.bad_vector_EFAULT", mincore_bad_vector_EFAULT, 0,
	  "readonly_vec=-1/EFAULT unmapped_vec=-1/EFAULT"),

	/* brk, sbrk */
	C("brk.sbrk0_consistent", brk_sbrk0_consistent, FORK, "brk_cur=0 sbrk0=+0x0"),
	C("sbrk.grow_then_shrink", sbrk_grow_then_shrink, FORK,
	  "grow=+0x0 now=+0x1000 zero=1 wr=ok shrink=+0x1000 now=+0x0 "
	  "rd_released=SIGSEGV/SEGV_MAPERR@+0x10"),
	C("brk.absurd_address_ENOMEM", brk_absurd_address_ENOMEM, FORK,
	  "r=-1/ENOMEM sbrk0=+0x0 sbrk_huge=MAP_FAILED/ENOMEM sbrk_neg_huge=MAP_FAILED/ENOMEM "
	  "sbrk0=+0x0"),
	C("brk.below_start_reports_success", brk_below_start_reports_success, FORK,
	  "r=0 sbrk0=+0x0"),

	/* fork */
	C("fork.exit_status", fork_exit_status, FORK, "status=exited:42"),
	C("fork.child_sees_private_data", fork_child_sees_private_data, FORK, "status=exited:0"),
	C("fork.child_writes_invisible_to_parent", fork_child_writes_invisible_to_parent, FORK,
	  "status=exited:0 parent=pat"),
	C("fork.parent_writes_invisible_to_child", fork_parent_writes_invisible_to_child, FORK,
	  "status=exited:0 parent=zero"),
	C("fork.shared_anon_both_ways", fork_shared_anon_both_ways, FORK,
	  "parent_sees=1 status=exited:0"),
	C("fork.shared_file_mapping_both_ways", fork_shared_file_mapping_both_ways, FORK,
	  "status=exited:0 map=0x21 file=0x21"),
	C("fork.heap_copied", fork_heap_copied, FORK, "status=exited:0 parent=1"),
	C("fork.dontfork_region_absent_in_child", fork_dontfork_region_absent_in_child, FORK,
	  "r=0 child_rd=SIGSEGV/SEGV_MAPERR@+0x10 status=exited:0 parent=pat"),
	C("fork.wipeonfork_child_reads_zero", fork_wipeonfork_child_reads_zero, FORK,
	  "r=0 child=zero status=exited:0 parent=pat shared=-1/EINVAL"),
	C("fork.protection_inherited", fork_protection_inherited, FORK,
	  "child_wr=SIGSEGV/SEGV_ACCERR@+0x30 status=exited:0"),
	C("fork.read_syscall_into_cow_page", fork_read_syscall_into_cow_page, FORK,
	  "read=100 status=exited:0 parent=0x3c"),
	C("fork.child_killed_by_segv_status", fork_child_killed_by_segv_status, FORK,
	  "status=killed:SIGSEGV"),

	/* malloc family */
	C("malloc.zero_unique", malloc_zero_unique, 0, "a=ok b=ok distinct=1 usable=1"),
	C("free.null_ok", free_null_ok, 0, "errno=0"),
	C("calloc.zeroed", calloc_zeroed, 0, "r=ok zero=1 all_sizes_zero=1"),
	C("calloc.overflow_ENOMEM", calloc_overflow_ENOMEM, 0,
	  "r=NULL/ENOMEM max=NULL/ENOMEM huge=NULL/ENOMEM"),
	C("realloc.grow_preserves", realloc_grow_preserves, 0, "r=ok data=pat big=ok data=pat"),
	C("realloc.shrink_preserves", realloc_shrink_preserves, 0, "r=ok data=pat"),
	C("realloc.null_is_malloc", realloc_null_is_malloc, 0, "r=ok usable=1"),
	C("realloc.zero_frees_returns_NULL", realloc_zero_frees_returns_NULL, 0, "r=NULL errno=0"),
	C("realloc.huge_ENOMEM_keeps_block", realloc_huge_ENOMEM_keeps_block, 0,
	  "r=NULL/ENOMEM max=NULL/ENOMEM old=pat"),
	C("reallocarray.overflow_ENOMEM", reallocarray_overflow_ENOMEM, 0,
	  "r=NULL/ENOMEM old=pat ok=ok data=pat"),
	C("posix_memalign.bad_alignment_EINVAL", posix_memalign_bad_alignment_EINVAL, 0,
	  "3=EINVAL/ptr_untouched/errno=0 0=EINVAL/ptr_untouched/errno=0 "
	  "24=EINVAL/ptr_untouched/errno=0 4=EINVAL/ptr_untouched/errno=0 "
	  "1=EINVAL/ptr_untouched/errno=0"),
	C("posix_memalign.aligned_ok", posix_memalign_aligned_ok, 0,
	  "8=0/aligned=1/errno=0 16=0/aligned=1/errno=0 64=0/aligned=1/errno=0 "
	  "4096=0/aligned=1/errno=0 1048576=0/aligned=1/errno=0"),
	C("posix_memalign.huge_ENOMEM", posix_memalign_huge_ENOMEM, 0, "r=ENOMEM ptr=untouched"),
	C("aligned_alloc.aligned", aligned_alloc_aligned, 0,
	  "16=aligned 64=aligned 4096=aligned 65536=aligned"),
	C("memalign.aligned", memalign_aligned, 0,
	  "8=aligned 32=aligned 256=aligned 4096=aligned 2097152=aligned huge=NULL/ENOMEM"),
	C("valloc.page_aligned", valloc_page_aligned, 0, "r=ok aligned=1"),
	C("pvalloc.page_rounded", pvalloc_page_rounded, 0, "r=ok aligned=1 usable_ge_page=1"),
	C("malloc_usable_size.at_least_requested", malloc_usable_size_at_least_requested, 0,
	  "ok=1 null=0"),
	C("malloc.huge_ENOMEM", malloc_huge_ENOMEM, 0, "half=NULL/ENOMEM max=NULL/ENOMEM"),
	C("malloc.aligned_16", malloc_aligned_16, 0, "ok=1"),
	C("malloc.many_blocks_distinct", malloc_many_blocks_distinct, 0, "ok=1"),
	C("malloc.large_block_writable", malloc_large_block_writable, 0, "r=ok ok=1"),

	/* errno */
	C("errno.preserved_on_success", errno_preserved_on_success, 0,
	  "mmap=kept mprotect=kept madvise=kept msync=kept mincore=kept mlock=kept munlock=kept "
	  "mremap=kept posix_madvise=kept munmap=kept malloc=kept realloc=kept free=kept "
	  "calloc=kept free_calloc=kept posix_memalign=kept free_aligned=kept free_null=kept "
	  "sbrk0=kept"),

	/* kernel-side accesses */
	C("kernel.read_into_untouched_anon", kernel_read_into_untouched_anon, 0,
	  "read=3000 data=1"),
	C("kernel.write_from_untouched_anon", kernel_write_from_untouched_anon, 0,
	  "write=8192 zero=1"),
	C("kernel.read_into_prot_none_EFAULT", kernel_read_into_prot_none_EFAULT, FORK,
	  "read=-1/EFAULT read_ro=-1/EFAULT data_still_there=5"),
	C("kernel.read_spanning_prot_none", kernel_read_spanning_prot_none, FORK,
	  "file=100 data=pat pipe=-1/EFAULT pipe_again=200"),
	C("kernel.write_from_file_mapping", kernel_write_from_file_mapping, 0,
	  "map=ok write=1000 data=1"),
	C("kernel.pread_into_private_file_mapping", kernel_pread_into_private_file_mapping, 0,
	  "map=ok pread=4096 map=pat file=unchanged"),
	C("kernel.read_into_malloc", kernel_read_into_malloc, 0, "pread=100000 data=pat"),
	/* corners found by the differential fuzzer */
	C("guard.private_install_remove", guard_private_install_remove, FORK,
	  "install=0 rd_guard=SIGSEGV/SEGV_MAPERR@+0x1010 "
	  "wr_guard=SIGSEGV/SEGV_MAPERR@+0x1020 next=pat dontneed=0 "
	  "rd_after_dontneed=SIGSEGV/SEGV_MAPERR@+0x1000 mprotect=0 "
	  "rd_after_mprotect=SIGSEGV/SEGV_MAPERR@+0x1000 mprotect_rw=0 "
	  "populate=-1/EFAULT read_into_guard=-1/EFAULT resident=1000 remove=0 "
	  "rd_removed=0x00 wr_removed=ok"),
	C("madvise.populate_write_past_file_end", populate_write_past_file_end, FORK,
	  "shared=ok private=ok read=1 shared_populate=-1/EFAULT private_populate=-1/EFAULT "
	  "inside=0 write_only=ok write_only_populate=-1/EFAULT"),
	C("madvise.pageout_private_file_past_end", pageout_private_file_past_end, FORK,
	  "private=ok wr_past_end=SIGBUS/BUS_ADRERR@+0x2009 pageout=0 kept=1 "
	  "rd_past_end=SIGBUS/BUS_ADRERR@+0x2000"),
	C("mprotect.merges_what_dontunmap_left", mprotect_merges_what_dontunmap_left, FORK,
	  "mlock=0 dontunmap=ok ro=0 across=MAP_FAILED/EFAULT back=0 grow=MAP_FAILED/ENOMEM "
	  "grow_more=MAP_FAILED/EFAULT"),
	C("mmap.unknown_flag_ignored", mmap_unknown_flag_ignored, 0,
	  "fixed=+0x0 one_mapping=+0x0 validate=MAP_FAILED/EOPNOTSUPP"),
	C("mremap.merge_needs_one_anon_vma", merge_needs_one_anon_vma, FORK,
	  "mlock=0 munlock=0 written_apart=MAP_FAILED/EFAULT mlock_untouched=0 "
	  "munlock_untouched=0 untouched=+0x5000"),
	C("mremap.fork_child_pieces_stay_apart", fork_child_pieces_stay_apart, FORK,
	  "ro=0 child=exited:0 rw=0 parent_grow=+0x0"),
	C("mprotect.locked_private_copies", mprotect_locked_private_copies, FORK,
	  "map=ok mlock=0 rw=0 copied=1"),
	C("mmap.born_locked_merges", mmap_born_locked_merges, FORK,
	  "mlockall=0 ro=0 fixed=+0x1b000 across=ok"),
	C("mmap.born_locked_stays_apart", mmap_born_locked_stays_apart, FORK,
	  "mlockall=0 fixed1=+0x14000 fixed2=+0x18000 move=+0x0 rwx=0 grow=MAP_FAILED/ENOMEM"),
	C("mprotect.hole_leaves_rest_whole", mprotect_hole_leaves_rest_whole, FORK,
	  "mprotect=-1/ENOMEM child=exited:0"),
	C("mprotect.growsdown_goes_on", mprotect_growsdown_goes_on, FORK,
	  "grows=+0x0 next=+0x4000 mprotect=-1/ENOMEM wr_next=ok"),
	C("mremap.dontunmap_private_file_swapped_copy", dontunmap_private_file_swapped_copy, FORK,
	  "map=ok pageout=0 dontunmap=ok target=1 old=1 pageout_target=0 pageout_old=0 "
	  "target_again=1 old_again=1"),
	C("mremap.dontunmap_onto_own_locked", dontunmap_onto_own_locked, FORK,
	  "mlock=-1/ENOMEM dontunmap=+0x20000 dontneed=0"),
	C("guard.shared_keeps_object", guard_shared_keeps_object, FORK,
	  "install=0 rd_guard=SIGSEGV/SEGV_MAPERR@+0x0 remove=0 back=pat"),
	C("guard.locked_EINVAL_hole_ENOMEM", guard_locked_EINVAL_hole_ENOMEM, 0,
	  "mlock=0 locked=-1/EINVAL remove_locked=0 munlock=0 hole=-1/ENOMEM "
	  "unaligned=-1/EINVAL"),
	C("guard.fork_mremap_munmap", guard_fork_mremap_munmap, FORK,
	  "install=0 wipeonfork=0 install_wipe=0 "
	  "child_rd=SIGSEGV/SEGV_MAPERR@+0x0 child_wipe_rd=0x00 child=exited:0 "
	  "moved=+0x0 rd_moved=SIGSEGV/SEGV_MAPERR@+0x0 munmap=0 rd_remapped=0x00"),
	C("mremap.fixed_moves_several_mappings", mremap_fixed_moves_several_mappings, FORK,
	  "mprotect=0 hole=0 grow=MAP_FAILED/EFAULT r=+0x0 t0=pat t1=pat t2=pat "
	  "t3=pat wr_t1=SIGSEGV/SEGV_ACCERR@+0x1000 "
	  "rd_old=SIGSEGV/SEGV_MAPERR@+0x0 from_hole=MAP_FAILED/EFAULT"),
	C("mremap.dontunmap_several_mappings", mremap_dontunmap_several_mappings, FORK,
	  "mprotect=0 r=+0x0 new=pat old=zero nofixed=MAP_FAILED/EFAULT"),
	C("mremap.fixed_shrink_over_several", mremap_fixed_shrink_over_several, FORK,
	  "mprotect=0 r=+0x0 data=pat rd_tail=SIGSEGV/SEGV_MAPERR@+0x3000"),
	C("mremap.old_len_zero_duplicates_shared", mremap_old_len_zero_duplicates_shared, FORK,
	  "r=+0x0 dup=pat wr_dup=ok seen=1 "
	  "rd_past_object=SIGBUS/BUS_ADRERR@+0x1000 unmapped=MAP_FAILED/EFAULT "
	  "no_maymove=MAP_FAILED/ENOMEM private=MAP_FAILED/EINVAL maymove=ok "
	  "second=pat"),
	C("mremap.grow_private_file_after_copies", mremap_grow_private_file_after_copies, 0,
	  "r=ok copies=1234 tail=pat"),
	C("mlock.prot_none_ENOMEM_but_locked", mlock_prot_none_ENOMEM_but_locked, 0,
	  "mlock=-1/ENOMEM dontneed=-1/EINVAL munlock=0 dontneed_unlocked=0"),
	C("mlock.past_eof_ENOMEM_locks_part", mlock_past_eof_ENOMEM_locks_part, 0,
	  "mlock=-1/ENOMEM dontneed=-1/EINVAL across=MAP_FAILED/EFAULT grow=ok "
	  "data=pat"),
	C("mlock.not_inherited_by_fork", mlock_not_inherited_by_fork, FORK,
	  "mlock=0 child_dontneed=0 child_mremap=MAP_FAILED/EFAULT "
	  "child=exited:0 parent_dontneed=-1/EINVAL"),
	C("mlock.dontunmap_and_dontneed_locked", mlock_dontunmap_and_dontneed_locked, FORK,
	  "mlock=0 dontunmap=ok invalidate_old=0 mlock_c=0 dontneed_locked=0 "
	  "cold=-1/EINVAL invalidate_c=-1/EBUSY"),
	C("mmap.stack_apart_from_neighbour", mmap_stack_apart_from_neighbour, 0, "r=MAP_FAILED/EFAULT"),
	C("mmap.growsdown_grows_on_access", mmap_growsdown_grows_on_access, FORK,
	  "wr_below=ok rd_between=0x00 mprotect_low=0 "
	  "rd_near_accessible=SIGSEGV/SEGV_MAPERR@+0x2000 munmap=0"),
	C("mincore.vector_in_fresh_memory", mincore_vector_in_fresh_memory, 0, "r=0"),
	C("mlock2.unaligned_onfault_locks", mlock2_unaligned_onfault_locks, 0,
	  "mlock2=0 invalidate=-1/EBUSY"),
	C("mmap.anon_offset_ignored", mmap_anon_offset_ignored, 0, "r=+0x0 grow=+0x0"),
	C("mprotect.account_keeps_apart", mprotect_account_keeps_apart, 0,
	  "mprotect=0 across=MAP_FAILED/EFAULT"),
	C("mremap.foreign_grows_in_place", mremap_foreign_grows_in_place, 0, "r=+0x0 munmap=0 grow=+0x0"),
	C("mlockall.onfault_map_locked", mlockall_onfault_map_locked, FORK,
	  "mlockall=0 resident=0000 onfault=0 shrink_onfault=+0x0 munlockall=0 "
	  "mlock_onfault=0 mlock=0 shrink_split=MAP_FAILED/EFAULT munlock=0"),
	C("mremap.dontunmap_keeps_wipeonfork", mremap_dontunmap_keeps_wipeonfork, FORK,
	  "wipeonfork=0 r=ok child_rd=0x00 child=exited:0 parent=5"),
	C("mremap.dontunmap_foreign_unlocks", mremap_dontunmap_foreign_unlocks, 0,
	  "mlock=0 r=ok invalidate_old=0 invalidate_new=-1/EBUSY"),
	C("mmap.ignored_bits_ordinary", mmap_ignored_bits_ordinary, 0,
	  "plain=+0x0 odd_prot=+0x2000 denywrite=+0x3000 across=ok"),
	C("mremap.moved_pages_stay_apart", mremap_moved_pages_stay_apart, 0,
	  "neighbour=+0x0 touched=+0x2000 across_touched=MAP_FAILED/EFAULT "
	  "untouched=+0x6000 neighbour2=+0x4000 across_untouched=ok"),
	C("mremap.dontunmap_unlocks_private", mremap_dontunmap_unlocks_private, 0,
	  "mlock=0 r=ok cold_head=0 cold_tail=0 cold_new=-1/EINVAL"),
};

#define NCHECKS (sizeof checks / sizeof checks[0])

/* Runs c in a child; collects its line through a pipe. */
static void run_forked(const struct check *c)
{
	int pfd[2];
	if (pipe(pfd) != 0) {
		out("SETUP-FAILED:pipe/%s", ename(errno));
		return;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		out("SETUP-FAILED:fork/%s", ename(errno));
		close(pfd[0]);
		close(pfd[1]);
		return;
	}
	if (pid == 0) {
		close(pfd[0]);
		out_fd = pfd[1];
		in_child = 1;
		struct rlimit no_core = { 0, 0 };
		setrlimit(RLIMIT_CORE, &no_core);
		alarm(60); /* a hung child becomes child=killed:SIGALRM */
		if (!(c->flags & NOHANDLER)) {
			install_fault_handlers();
		}
		c->fn();
		exit(0); /* exit, not _exit: the shim writes its statistics */
	}
	close(pfd[1]);
	for (;;) {
		ssize_t n = read(pfd[0], line + line_len, sizeof line - 1 - line_len);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			break;
		}
		line_len += (size_t)n;
	}
	line[line_len] = '\0';
	close(pfd[0]);
	int st = wait_for(pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		out("child=%s", status_text(st));
	}
}

static int selected(const char *name, int argc, char **argv)
{
	int any = 0;
	for (int i = 0; i < argc; i++) {
		if (argv[i][0] == '-') {
			continue;
		}
		any = 1;
		if (strncmp(name, argv[i], strlen(argv[i])) == 0) {
			return 1;
		}
	}
	return !any;
}

int main(int argc, char **argv)
{
	int verify = 0, list = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--verify") == 0) {
			verify = 1;
		} else if (strcmp(argv[i], "--list") == 0) {
			list = 1;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "usage: %s [--verify] [--list] [NAME-PREFIX...]\n", argv[0]);
			return 2;
		}
	}
	P = (size_t)sysconf(_SC_PAGESIZE);
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s", t && *t ? t : "/tmp");
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);

	int mismatches = 0, ran = 0;
	for (size_t i = 0; i < NCHECKS; i++) {
		const struct check *c = &checks[i];
		if (!selected(c->name, argc - 1, argv + 1)) {
			continue;
		}
		if (list) {
			printf("%s\n", c->name);
			continue;
		}
		line_len = 0;
		line[0] = '\0';
		g_base = NULL;
		if (c->flags & FORK) {
			run_forked(c);
		} else {
			c->fn();
		}
		ran++;
		printf("%s:%s\n", c->name, line);
		if (verify && strcmp(line_len ? line + 1 : line, c->expect) != 0) {
			mismatches++;
			fflush(stdout);
			fprintf(stderr, "conform: %s differs from the documented rule\n"
					"    got:      %s\n    expected: %s\n",
				c->name, line_len ? line + 1 : line, c->expect);
		}
	}
	if (verify) {
		fprintf(stderr, "conform: %d checks, %d differ from the documented rules\n", ran,
			mismatches);
	}
	return mismatches ? 1 : 0;
}
