/*
 * tests/vm/vm_swap.c - programs whose working set is larger than the
 * resident limit: anonymous scans, threads, fork, mlock, file mappings and
 * the madvise calls that drive swap.
 *
 * Usage: vm_swap MIB [checks]
 *   MIB     the resident limit the run is meant for, in MiB: the working
 *           sets are multiples of it (the program reads no VMSHIM_*
 *           variable: natively the same sizes run without a limit)
 *   checks  also check what only the shim can say, through
 *           vmshim_stats_json: pages went to swap and came back, VmHWM
 *           stayed within the limit, mlock'ed pages were never evicted,
 *           MADV_PAGEOUT emptied its range, the swap file is unlinked and
 *           private (mode 0600)
 *
 * Every line printed without "checks" is the same natively and under the
 * shim (vm_swap.test compares them); a wrong byte anywhere prints BAD.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shim_probe.h"

#define P 4096UL

static size_t limit_bytes;
static int checks;
static int failures;

static void check(int ok, const char *what)
{
	if (!ok) {
		printf("FAIL: %s\n", what);
		failures++;
	}
}

static long status_kib(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	while (f != NULL && fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, field, strlen(field)) == 0) {
			v = atol(line + strlen(field) + 1);
		}
	}
	if (f != NULL) {
		fclose(f);
	}
	return v;
}

static size_t resident_pages(void *m, size_t len)
{
	unsigned char vec[4096];
	size_t n = 0;
	for (size_t off = 0; off < len; off += sizeof vec * P) {
		size_t chunk = len - off < sizeof vec * P ? len - off : sizeof vec * P;
		if (mincore((char *)m + off, chunk, vec) != 0) {
			return (size_t)-1;
		}
		for (size_t i = 0; i < chunk / P; i++) {
			n += vec[i] & 1;
		}
	}
	return n;
}

/* The shim's count of kernel mappings in its arena is the kernel's. */
static void kmaps_check(const char *when)
{
	long long shim = 0, real = 0;
	if (!checks) {
		return;
	}
	if (!probe_kmaps_match(&shim, &real)) {
		printf("kernel mappings %s: shim %lld, /proc/self/maps %lld\n", when, shim, real);
	}
	check(shim == real, "the kernel-mapping count matches /proc/self/maps");
}

/* 1. Sequential and random scans of four times the limit. */
static void scans(void)
{
	size_t len = 4 * limit_bytes;
	unsigned char *m = probe_anon(len);
	probe_fill(m, len, 1);
	size_t bad = probe_verify(m, len, 1) + probe_verify(m, len, 1);
	srand(7);
	for (int k = 0; k < 20000; k++) {
		size_t i = (size_t)rand() % (len / P);
		m[i * P + 100] = (unsigned char)k;
		bad += m[i * P] != probe_pattern(i, 1);
	}
	bad += probe_verify(m, len, 1);
	printf("scans: %zu pages, %s\n", len / P, bad ? "BAD" : "ok");
	munmap(m, len);
}

/* 1b. Second chance, not FIFO: a hot set touched between the pages of a
 * stream three times the limit stays resident. */
static void hot_and_cold(void)
{
	size_t hot_len = limit_bytes / 4, cold_len = 3 * limit_bytes;
	unsigned char *hot = probe_anon(hot_len), *cold = probe_anon(cold_len);
	probe_fill(hot, hot_len, 11);
	size_t bad = 0;
	for (size_t i = 0; i < cold_len / P; i++) {
		cold[i * P] = (unsigned char)i;
		if (i % 64 == 0) {
			bad += probe_verify(hot, hot_len, 11); /* every hot page, often */
		}
	}
	size_t resident = resident_pages(hot, hot_len);
	printf("hot and cold: %s\n", bad ? "BAD" : "ok");
	if (checks) {
		if (resident * 10 < hot_len / P * 9) {
			printf("hot set resident: %zu of %zu pages\n", resident, hot_len / P);
		}
		check(resident * 10 >= hot_len / P * 9, "90% of the hot set stays resident");
	}
	munmap(hot, hot_len);
	munmap(cold, cold_len);
}

/* 2. MADV_PAGEOUT, MADV_COLD and MADV_WILLNEED keep the contents. */
static void advice(void)
{
	size_t len = 64 * P;
	unsigned char *m = probe_anon(len);
	probe_fill(m, len, 2);
	long long out0 = probe_stat("swap", "out_pages");
	int r1 = madvise(m, len, MADV_PAGEOUT);
	if (checks) {
		check(resident_pages(m, len) == 0, "MADV_PAGEOUT leaves no page resident");
		check(probe_stat("swap", "out_pages") >= out0 + 64, "MADV_PAGEOUT wrote 64 pages");
	}
	int r2 = madvise(m, len, MADV_WILLNEED);
	if (checks) {
		check(resident_pages(m, len) == 64, "MADV_WILLNEED brings the pages back");
	}
	int r3 = madvise(m, len, MADV_COLD);
	size_t bad = probe_verify(m, len, 2);
	printf("advice: pageout=%d willneed=%d cold=%d %s\n", r1, r2, r3, bad ? "BAD" : "ok");
	check(mlock(m, P) == 0, "mlock");
	errno = 0;
	int r4 = madvise(m, P, MADV_PAGEOUT);
	printf("advice: pageout on locked memory: %d errno=%d\n", r4, errno);
	munlock(m, P);
	munmap(m, len);
}

struct worker {
	size_t len;
	unsigned salt;
	size_t bad;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	unsigned char *m = probe_anon(w->len);
	probe_fill(m, w->len, w->salt);
	for (int pass = 0; pass < 3; pass++) {
		w->bad += probe_verify(m, w->len, w->salt);
	}
	munmap(m, w->len);
	return NULL;
}

/* 3. Four threads, each with a working set of the limit. */
static void threads(void)
{
	pthread_t t[4];
	struct worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ limit_bytes, 10u + (unsigned)i, 0 };
		pthread_create(&t[i], NULL, work, &w[i]);
	}
	size_t bad = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		bad += w[i].bad;
	}
	printf("threads: %s\n", bad ? "BAD" : "ok");
}

/* 4. Fork with most of the memory in swap: both see the contents at fork,
 * and neither sees the other's writes. */
static void forked(void)
{
	size_t len = 3 * limit_bytes;
	unsigned char *m = probe_anon(len);
	probe_fill(m, len, 3);
	pid_t c = fork();
	if (c == 0) {
		size_t bad = probe_verify(m, len, 3);
		probe_fill(m, len / 2, 4);
		bad += probe_verify(m, len / 2, 4);
		_exit(bad ? 1 : 0);
	}
	probe_fill(m + len / 2, len - len / 2, 5);
	int st = 0;
	waitpid(c, &st, 0);
	size_t bad = probe_verify(m, len / 2, 3);
	/* the second half was rewritten with salt 5 at page offsets from its start */
	bad += probe_verify(m + len / 2, len - len / 2, 5);
	printf("fork: child %s, parent %s\n", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "ok" : "BAD",
	       bad ? "BAD" : "ok");
	munmap(m, len);
}

/* 4b. A vfork child that ends with _exit shares the parent's memory: its
 * end must leave the parent's swap alone. */
static void vforked(void)
{
	size_t len = 2 * limit_bytes;
	unsigned char *m = probe_anon(len);
	probe_fill(m, len, 12);
	pid_t c = vfork();
	if (c == 0) {
		_exit(m[0] == probe_pattern(0, 12) ? 0 : 1);
	}
	int st = 0;
	waitpid(c, &st, 0);
	size_t bad = probe_verify(m, len, 12) + probe_verify(m, len, 12);
	printf("vfork: child %s, parent %s\n", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "ok" : "BAD",
	       bad ? "BAD" : "ok");
	munmap(m, len);
}

/* 5. mlock'ed pages stay resident while everything else is evicted. */
static void locked(void)
{
	size_t llen = 16 * P, len = 3 * limit_bytes;
	unsigned char *l = probe_anon(llen);
	probe_fill(l, llen, 6);
	int r = mlock(l, llen);
	unsigned char *m = probe_anon(len);
	probe_fill(m, len, 7);
	size_t bad = probe_verify(m, len, 7);
	printf("mlock: %d, resident %zu of 16, %s\n", r, resident_pages(l, llen),
	       bad + probe_verify(l, llen, 6) ? "BAD" : "ok");
	munlock(l, llen);
	munmap(l, llen);
	munmap(m, len);
}

/* 6. File mappings: clean pages are dropped and read again, private
 * written pages go to swap, shared written pages reach the file. */
static void files(const char *dir)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/vm_swap.XXXXXX", dir);
	int fd = mkstemp(path);
	if (fd < 0) {
		perror("mkstemp");
		exit(2);
	}
	unlink(path);
	size_t len = 2 * limit_bytes;
	unsigned char *buf = malloc(P);
	for (size_t i = 0; i < len / P; i++) {
		memset(buf, probe_pattern(i, 8), P);
		if (pwrite(fd, buf, P, (off_t)(i * P)) != (ssize_t)P) {
			perror("pwrite");
			exit(2);
		}
	}
	unsigned char *priv = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	unsigned char *shared = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	size_t bad = 0;
	for (size_t i = 0; i < len / P; i++) {
		bad += priv[i * P + 7] != probe_pattern(i, 8);
	}
	for (size_t i = 0; i < len / P; i += 2) {
		priv[i * P + 9] = 0xAA; /* private copies of half the pages */
	}
	for (size_t i = 1; i < len / P; i += 2) {
		shared[i * P + 11] = 0x55; /* the file itself changes here */
	}
	unsigned char *m = probe_anon(2 * limit_bytes); /* push everything out */
	probe_fill(m, 2 * limit_bytes, 9);
	for (size_t i = 0; i < len / P; i++) {
		unsigned char want9 = (i % 2 == 0) ? 0xAA : probe_pattern(i, 8);
		unsigned char want11 = (i % 2 == 1) ? 0x55 : probe_pattern(i, 8);
		bad += priv[i * P + 9] != want9 || shared[i * P + 11] != want11;
		/* the private copy sees the file's change only where it has no copy */
		bad += priv[i * P + 11] != ((i % 2 == 0) ? probe_pattern(i, 8) : 0x55);
	}
	munmap(priv, len);
	munmap(shared, len);
	munmap(m, 2 * limit_bytes);
	for (size_t i = 0; i < len / P; i++) {
		if (pread(fd, buf, P, (off_t)(i * P)) != (ssize_t)P) {
			bad++;
			continue;
		}
		bad += buf[11] != ((i % 2 == 1) ? 0x55 : probe_pattern(i, 8)) || buf[9] != probe_pattern(i, 8);
	}
	free(buf);
	close(fd);
	printf("files: %s\n", bad ? "BAD" : "ok");
}

static void check_swap_file(int fd, const char *target, const struct stat *st, void *ctx)
{
	(void)fd;
	(void)target;
	if (st->st_size > 0) {
		++*(int *)ctx;
		check((st->st_mode & 0777) == 0600, "the swap file has mode 0600");
		check(st->st_uid == getuid(), "the swap file belongs to the user");
	}
}

/* The swap file: open in this process, unlinked, mode 0600. */
static void swap_file_checks(void)
{
	int found = 0;
	probe_unlinked_files(check_swap_file, &found);
	check(found == 1, "exactly one unlinked swap file is open");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: vm_swap MIB [checks]\n");
		return 2;
	}
	limit_bytes = (size_t)atol(argv[1]) << 20;
	checks = argc > 2 && strcmp(argv[2], "checks") == 0;
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	long base_kib = status_kib("VmRSS");
	setvbuf(stdout, NULL, _IOLBF, 0);
	scans();
	kmaps_check("after the scans");
	hot_and_cold();
	advice();
	kmaps_check("after madvise");
	threads();
	kmaps_check("after the threads");
	forked();
	kmaps_check("after fork");
	vforked();
	locked();
	kmaps_check("after mlock");
	files(dir);
	if (checks) {
		check(probe_stat("swap", "out_pages") > 0, "pages went to swap");
		check(probe_stat("swap", "in_pages") > 0, "pages came back from swap");
		check(probe_stat("swap", "clusters_out") < probe_stat("swap", "out_pages"),
		      "swap writes carry clusters of pages");
		check(probe_stat("evictions", "file_clean") > 0, "clean file pages were dropped");
		check(probe_stat("evictions", "file_dirty") > 0, "dirty shared file pages were evicted");
		check(probe_stat("swap", "write_errors") == 0, "no swap write failed");
		check(probe_stat("swap", "overshoot_pages") == 0, "the limit held");
		long long peak = probe_stat("resident", "peak_pages");
		check(peak > 0 && (size_t)peak <= limit_bytes / P, "resident peak within the limit");
		/* The kernel's count: the limit, what the process held before the
		 * work began, and the shim's own buffers and tables (README). */
		long hwm = status_kib("VmHWM");
		long allowed = (long)(limit_bytes >> 10) + base_kib + 4096;
		if (hwm > allowed) {
			printf("VmHWM %ld KiB > allowed %ld KiB (base %ld)\n", hwm, allowed, base_kib);
		}
		check(hwm <= allowed, "VmHWM within limit + start-up RSS + 4 MiB");
		swap_file_checks();
		kmaps_check("at the end");
		printf("checks: %s\n", failures ? "FAILED" : "passed");
	}
	return failures ? 1 : 0;
}
