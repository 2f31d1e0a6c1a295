/*
 * tests/reliab/reliab_probe.c - what a program sees when the shim's disk
 * or kernel calls fail (VMSHIM_FAULT_INJECT, vmshim_fault_inject()).
 *
 * Usage: reliab_probe swapread MIB [RETRIES]
 *          fills 4 x MIB of anonymous memory with a pattern (under a MIB
 *          limit most of it goes to swap), then reads every page back; a
 *          SIGBUS is caught (si_code and si_addr checked) and the access
 *          tried again up to RETRIES times (default 5); then maps, fills
 *          and checks fresh memory to show the program still works, and
 *          (under the shim) that its count of kernel mappings is right.
 *        reliab_probe faultfail
 *          makes the mprotect of a page fault fail once: under the shim the
 *          process ends with SIGABRT and a message naming the failure
 *        reliab_probe faultpool
 *          makes every metadata allocation fail from a page fault on: a
 *          reproducer (the fault is retried forever at this version)
 *        reliab_probe swapdie MIB
 *          the same fill and read back, without a SIGBUS handler
 *        reliab_probe forkleak
 *          sends 8 MiB to swap, forks a child that exits, unmaps, 8 times,
 *          printing the swap file's size: a reproducer (it grows)
 *        reliab_probe calls
 *          arms one-shot failures with vmshim_fault_inject() right before
 *          the call aimed at (mmap, MADV_POPULATE_WRITE, metadata for
 *          mmap, mprotect and munmap that split a mapping, the page table
 *          of a fault) and checks the program's view: the call fails with
 *          ENOMEM and changes nothing, or succeeds, and every byte written
 *          before is still there.  Natively (no vmshim_fault_inject) it
 *          checks the same calls succeed.
 *
 * Output: one line per finding; "BAD" on any wrong byte or unexpected
 * result; exit status 1 then.  Lines are the same natively and under the
 * shim except where the test says (sigbus counts, injected results).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../vm/shim_probe.h"

#define P 4096UL

static int failures;

static void bad(const char *what)
{
	printf("BAD: %s\n", what);
	failures++;
}

static unsigned char pattern(size_t page, unsigned salt)
{
	return (unsigned char)((page * 2654435761u) >> 13 ^ salt);
}

static void fill(unsigned char *m, size_t len, unsigned salt)
{
	for (size_t i = 0; i < len / P; i++) {
		memset(m + i * P, pattern(i, salt), 64);
		m[i * P + P - 1] = (unsigned char)(pattern(i, salt) + 1);
	}
}

static int page_ok(const volatile unsigned char *m, size_t i, unsigned salt)
{
	unsigned char v = pattern(i, salt);
	for (size_t k = 0; k < 64; k++) {
		if (m[i * P + k] != v) {
			return 0;
		}
	}
	return m[i * P + P - 1] == (unsigned char)(v + 1);
}

/* ---- the shim's count of kernel mappings against the kernel's ---- */

/* Under the shim: its count of kernel mappings in the arena is the
 * kernel's (read without allocating).  Natively: nothing to check. */
static void kmaps_check(const char *when)
{
	long long shim = 0, real = 0;
	if (!probe_kmaps_match(&shim, &real)) {
		printf("BAD: %s: the shim counts %lld kernel mappings in the arena, the kernel %lld\n",
		       when, shim, real);
		failures++;
	}
}

/* ---- swapread ---- */

static sigjmp_buf jump;
static volatile int in_loop;
static volatile uintptr_t expect_lo, expect_hi;
static volatile unsigned long sigbus_count, code_ok, addr_ok, elsewhere;

/*
 * A SIGBUS in the page the loop reads: jump back and try again.  Anywhere
 * else (the program's own heap, stdio buffers: they may be in swap too),
 * return, which runs the access again, as a program that retries would;
 * bounded, so that a read that always fails cannot loop forever.
 */
static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	code_ok += si->si_code == BUS_MCEERR_AR;
	if (in_loop && (uintptr_t)si->si_addr >= expect_lo && (uintptr_t)si->si_addr < expect_hi) {
		sigbus_count++;
		addr_ok++;
		siglongjmp(jump, 1);
	}
	if (++elsewhere > 1000) {
		static const char msg[] = "reliab_probe: 1000 SIGBUS outside the checked pages\n";
		(void)!write(2, msg, sizeof msg - 1);
		_exit(3);
	}
}

static int swapread(size_t limit, int retries)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGBUS, &sa, NULL);
	size_t len = 4 * limit;
	unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				-1, 0);
	if (m == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	fill(m, len, 1);
	size_t unreadable = 0, wrong = 0;
	in_loop = 1;
	for (size_t i = 0; i < len / P; i++) {
		volatile int tries = 0;
		expect_lo = (uintptr_t)(m + i * P);
		expect_hi = expect_lo + P;
		if (sigsetjmp(jump, 1) != 0 && ++tries > retries) {
			unreadable++;
			continue;
		}
		wrong += !page_ok(m, i, 1);
	}
	in_loop = 0;
	printf("swapread: %zu pages, sigbus %lu, si_code BUS_MCEERR_AR %lu, unreadable %zu, "
	       "wrong %zu\n",
	       len / P, sigbus_count + elsewhere, code_ok, unreadable, wrong);
	if (wrong != 0 || code_ok != sigbus_count + elsewhere) {
		bad("swapread: wrong bytes, or a SIGBUS without BUS_MCEERR_AR at the page");
	}
	munmap(m, len);
	/* The program goes on: fresh memory works (a read fault is not a swap read). */
	unsigned char *n = mmap(NULL, limit, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				-1, 0);
	fill(n, limit, 2);
	size_t after = 0;
	for (size_t i = 0; i < limit / P; i++) {
		after += !page_ok(n, i, 2);
	}
	printf("swapread: afterwards %s, SIGBUS outside the checked pages %lu\n", after ? "BAD" : "ok",
	       elsewhere);
	kmaps_check("after the failed reads");
	if (after) {
		failures++;
	}
	munmap(n, limit);
	return failures ? 1 : 0;
}

/* Reads 4 x limit back with no SIGBUS handler: a failed swap read must
 * kill the process with SIGBUS, as a memory error would. */
static int swapdie(size_t limit)
{
	size_t len = 4 * limit;
	unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				-1, 0);
	if (m == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	fill(m, len, 1);
	size_t wrong = 0;
	for (size_t i = 0; i < len / P; i++) {
		wrong += !page_ok(m, i, 1);
	}
	printf("swapdie: %zu pages read, wrong %zu\n", len / P, wrong);
	return wrong != 0;
}

/* ---- calls ---- */

static int (*inject)(const char *);

/* Arms rules (under the shim); returns whether a failure is expected. */
static int arm(const char *rules)
{
	if (inject == NULL) {
		return 0;
	}
	if (inject(rules) != 0) {
		printf("BAD: vmshim_fault_inject(\"%s\") refused\n", rules);
		failures++;
		return 0;
	}
	return 1;
}

static void disarm(void)
{
	if (inject != NULL) {
		inject(NULL);
	}
}

/* r: the call's result (0 or -1 with errno e); expect a failure with ENOMEM
 * when armed, success otherwise. */
static void expect(const char *what, int armed, int r, int e)
{
	if (armed ? (r == -1 && e == ENOMEM) : r == 0) {
		printf("%s: %s\n", what, armed ? "ENOMEM" : "ok");
	} else {
		printf("BAD: %s: result %d errno %d, expected %s\n", what, r, e,
		       armed ? "ENOMEM" : "success");
		failures++;
	}
}

/* Pages [first, first + len / P) of a mapping filled from m with salt. */
static void check_pages(const char *what, unsigned char *m, size_t first, size_t len, unsigned salt)
{
	for (size_t i = first; i < first + len / P; i++) {
		if (!page_ok(m, i, salt)) {
			printf("BAD: %s: page %zu lost its contents\n", what, i);
			failures++;
			return;
		}
	}
}

static void check_range(const char *what, unsigned char *m, size_t len, unsigned salt)
{
	check_pages(what, m, 0, len, salt);
}

static void *map(size_t len, int prot, int flags)
{
	void *p = mmap(NULL, len, prot, flags | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return p;
}

static int calls(void)
{
	inject = (int (*)(const char *))dlsym(RTLD_DEFAULT, "vmshim_fault_inject");
	/* Something to keep: its bytes are checked after every failure. */
	size_t klen = 256 * P;
	unsigned char *keep = map(klen, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	fill(keep, klen, 3);

	/* 1. The kernel's mmap of a new shared mapping fails. */
	int armed = arm("mmap:1");
	void *p = mmap(NULL, 16 * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int e = errno;
	disarm();
	expect("mmap shared (kernel ENOMEM)", armed, p == MAP_FAILED ? -1 : 0, e);
	if (p != MAP_FAILED) {
		munmap(p, 16 * P);
	}
	/* ... and a file mapping. */
	const char *tmpdir = getenv("TMPDIR");
	char tpath[4096];
	snprintf(tpath, sizeof tpath, "%s/reliab_probe.XXXXXX", tmpdir ? tmpdir : "/tmp");
	int fd = mkstemp(tpath);
	if (fd < 0 || ftruncate(fd, 16 * P) != 0) {
		perror("mkstemp");
		return 2;
	}
	unlink(tpath);
	armed = arm("mmap:1");
	p = mmap(NULL, 16 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	e = errno;
	disarm();
	expect("mmap file (kernel ENOMEM)", armed, p == MAP_FAILED ? -1 : 0, e);
	if (p != MAP_FAILED) {
		munmap(p, 16 * P);
	}
	p = mmap(NULL, 16 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		bad("mmap file after the failure");
	} else {
		fill(p, 16 * P, 4);
		check_range("file mapping after a failed one", p, 16 * P, 4);
		munmap(p, 16 * P);
	}
	close(fd);

	/* 2. Metadata for a new mapping cannot be allocated. */
	armed = arm("pool:1");
	p = mmap(NULL, 16 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	e = errno;
	disarm();
	expect("mmap (no metadata)", armed, p == MAP_FAILED ? -1 : 0, e);
	if (p != MAP_FAILED) {
		munmap(p, 16 * P);
	}

	/* 3. Splitting a mapping needs metadata: mprotect and munmap of its middle. */
	unsigned char *s = map(64 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	fill(s, 64 * P, 5);
	armed = arm("pool:1");
	int r = mprotect(s + 16 * P, 16 * P, PROT_READ);
	e = errno;
	disarm();
	expect("mprotect of the middle (no metadata)", armed, r, e);
	/* Whatever happened, the range is readable and, if the call failed,
	 * still writable. */
	check_range("after mprotect", s, 64 * P, 5);
	if (r != 0) {
		s[20 * P + 100] = 1; /* still writable: SIGSEGV here would be the bug */
		s[20 * P + 100] = (unsigned char)pattern(20, 5);
	}
	mprotect(s, 64 * P, PROT_READ | PROT_WRITE);
	armed = arm("pool:1");
	r = munmap(s + 40 * P, 8 * P);
	e = errno;
	disarm();
	expect("munmap of the middle (no metadata)", armed, r, e);
	check_range("after munmap, below", s, 40 * P, 5);
	check_pages("after munmap, above", s, 48, 16 * P, 5);
	if (r != 0) {
		check_pages("after a failed munmap, the middle", s, 40, 8 * P, 5);
	}
	munmap(s, 64 * P);

	/* 4. The page table of a fault cannot grow once: the fault is served anyway. */
	unsigned char *f = map(8UL << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	arm("pool:1");
	f[(4UL << 20) + 5] = 7; /* a leaf of its own */
	disarm();
	printf("fault with one metadata failure: %s\n", f[(4UL << 20) + 5] == 7 ? "ok" : "BAD");
	munmap(f, 8UL << 20);

	/* 5. MADV_POPULATE_WRITE whose mprotect fails: ENOMEM, then the pages work. */
	unsigned char *q = map(64 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	armed = arm("mprotect:1");
	r = madvise(q, 64 * P, MADV_POPULATE_WRITE);
	e = errno;
	disarm();
	expect("MADV_POPULATE_WRITE (kernel ENOMEM)", armed, r, e);
	fill(q, 64 * P, 6);
	check_range("after a failed populate", q, 64 * P, 6);
	munmap(q, 64 * P);

	check_range("the memory kept through it all", keep, klen, 3);
	munmap(keep, klen);
	printf("calls: %s\n", failures ? "FAILED" : "done");
	return failures ? 1 : 0;
}

/* A fault whose mprotect fails: the shim cannot serve it and ends the
 * process with a message (the kernel would kill it for want of memory). */
static int faultfail(void)
{
	inject = (int (*)(const char *))dlsym(RTLD_DEFAULT, "vmshim_fault_inject");
	unsigned char *f = map(64 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	arm("mprotect:1");
	f[5] = 1;
	disarm();
	printf("faultfail: the access went through (%d)\n", f[5]);
	return 0;
}

/* A fault whose page table can never grow (metadata allocation always
 * fails from now on): the shim ends the process, as the kernel's out of
 * memory would (inject.test). */
static int faultpool(void)
{
	inject = (int (*)(const char *))dlsym(RTLD_DEFAULT, "vmshim_fault_inject");
	unsigned char *f = map(64UL << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	arm("pool:1+");
	f[32UL << 20] = 1;
	disarm();
	printf("faultpool: the access went through (%d)\n", f[32UL << 20]);
	return 0;
}

/* The size of this process's unlinked swap file, or -1. */
static long long swap_file_size(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long long size = -1;
	while (d != NULL && (e = readdir(d)) != NULL) {
		char link[300];
		struct stat st;
		snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
		if (stat(link, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 0 && st.st_size > 0) {
			size = st.st_size;
		}
	}
	if (d != NULL) {
		closedir(d);
	}
	return size;
}

/* Rounds of: 8 MiB sent to swap, fork, the child exits at once, the
 * parent unmaps.  The swap file should stay at one round's size; at this
 * version it grows by 8 MiB a round (an exited child's slot references are
 * never dropped: see the reliab report).  A reproducer, not in make check. */
static int forkleak(void)
{
	size_t len = 8UL << 20;
	for (int k = 0; k < 8; k++) {
		unsigned char *m = map(len, PROT_READ | PROT_WRITE, MAP_PRIVATE);
		memset(m, k + 1, len);
		madvise(m, len, MADV_PAGEOUT);
		pid_t c = fork();
		if (c == 0) {
			_exit(0);
		}
		waitpid(c, NULL, 0);
		munmap(m, len);
		printf("forkleak: round %d: swap file %lld KiB\n", k, swap_file_size() >> 10);
	}
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && strcmp(argv[1], "swapread") == 0) {
		return swapread((size_t)atol(argv[2]) << 20, argc > 3 ? atoi(argv[3]) : 5);
	}
	if (argc >= 2 && strcmp(argv[1], "calls") == 0) {
		return calls();
	}
	if (argc >= 3 && strcmp(argv[1], "swapdie") == 0) {
		return swapdie((size_t)atol(argv[2]) << 20);
	}
	if (argc >= 2 && strcmp(argv[1], "faultfail") == 0) {
		return faultfail();
	}
	if (argc >= 2 && strcmp(argv[1], "faultpool") == 0) {
		return faultpool();
	}
	if (argc >= 2 && strcmp(argv[1], "forkleak") == 0) {
		return forkleak();
	}
	fprintf(stderr, "usage: reliab_probe swapread MIB [RETRIES] | swapdie MIB | calls | faultfail | "
			"faultpool | forkleak\n");
	return 2;
}
