/*
 * tests/vm/shim_probe.h - what a test program asks a running shim (through
 * vmshim_stats_json, found with dlsym so the program also runs natively)
 * and the kernel's view to check it against, and the page patterns the
 * swap tests write and verify.  Header-only: included by tests/vm/vm_swap.c,
 * tests/vm/vm_swap_reap.c, tests/reliab/reliab_probe.c and
 * tests/reliab/reliab_reap.c.
 */
#ifndef VMS_TESTS_SHIM_PROBE_H
#define VMS_TESTS_SHIM_PROBE_H

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* A statistic of the shim ("section.key"), or -1 natively. */
static inline long long probe_stat(const char *section, const char *key)
{
	size_t (*json)(char *, size_t) =
		(size_t(*)(char *, size_t))dlsym(RTLD_DEFAULT, "vmshim_stats_json");
	static char buf[1 << 16];
	if (json == NULL) {
		return -1;
	}
	json(buf, sizeof buf);
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\": {", section);
	char *s = strstr(buf, pat);
	if (s == NULL) {
		return -1;
	}
	snprintf(pat, sizeof pat, "\"%s\": ", key);
	char *k = strstr(s, pat);
	return k != NULL ? atoll(k + strlen(pat)) : -1;
}

/* Kernel mappings starting in [lo, hi), read from /proc/self/maps without
 * allocating (an allocation under a tight limit may itself change them). */
static inline long long probe_maps_in(unsigned long long lo, unsigned long long hi)
{
	static char buf[1 << 20];
	int fd = open("/proc/self/maps", O_RDONLY);
	size_t len = 0;
	ssize_t n;
	while (fd >= 0 && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0) {
		len += (size_t)n;
	}
	if (fd >= 0) {
		close(fd);
	}
	buf[len] = '\0';
	long long count = 0;
	for (char *line = buf; *line != '\0';) {
		unsigned long long a = strtoull(line, NULL, 16);
		count += a >= lo && a < hi;
		char *nl = strchr(line, '\n');
		line = nl != NULL ? nl + 1 : line + strlen(line);
	}
	return count;
}

/* Under the shim: 1 if its count of kernel mappings in the arena is the
 * kernel's, else 0 with both counts in *shim and *real; natively 1. */
static inline int probe_kmaps_match(long long *shim, long long *real)
{
	long long lo = probe_stat("arena", "start"), hi = probe_stat("arena", "end");
	if (lo <= 0) {
		return 1;
	}
	*real = probe_maps_in((unsigned long long)lo, (unsigned long long)hi);
	*shim = probe_stat("kernel", "mappings");
	return *shim == *real;
}

/* Calls fn for each unlinked regular file this process has open (the
 * shim's swap file is one): its descriptor, what /proc/self/fd says it is
 * ("/dir/#123 (deleted)") and its stat.  Returns how many there were. */
static inline int probe_unlinked_files(void (*fn)(int fd, const char *target,
						  const struct stat *st, void *ctx),
				       void *ctx)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int count = 0;
	while (d != NULL && (e = readdir(d)) != NULL) {
		char link[300], target[4096];
		snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(link, target, sizeof target - 1);
		struct stat st;
		if (n <= 0 || stat(link, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 0) {
			continue;
		}
		target[n] = '\0';
		count++;
		fn(atoi(e->d_name), target, &st, ctx);
	}
	if (d != NULL) {
		closedir(d);
	}
	return count;
}

struct probe_size_in {
	const char *dir;
	long long size;
};

static inline void probe_size_in_dir(int fd, const char *target, const struct stat *st, void *ctx)
{
	struct probe_size_in *q = ctx;
	(void)fd;
	if (strncmp(target, q->dir, strlen(q->dir)) == 0) {
		q->size = (long long)st->st_size;
	}
}

/* The size of the unlinked swap file this process has open in dir (its
 * own description of it), or -1 if none. */
static inline long long probe_swap_file_size(const char *dir)
{
	struct probe_size_in q = { dir, -1 };
	probe_unlinked_files(probe_size_in_dir, &q);
	return q.size;
}

/* Page patterns: a byte per page and salt, written at three places of
 * each page (first, middle, last byte). */
#define PROBE_PAGE 4096UL

static inline unsigned char probe_pattern(size_t page, unsigned salt)
{
	return (unsigned char)((page * 2654435761u) >> 13 ^ salt);
}

/* Private anonymous memory of len bytes; exits with 2 if there is none. */
static inline unsigned char *probe_anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return p;
}

static inline void probe_fill(unsigned char *m, size_t len, unsigned salt)
{
	for (size_t i = 0; i < len / PROBE_PAGE; i++) {
		unsigned char v = probe_pattern(i, salt);
		m[i * PROBE_PAGE] = v;
		m[i * PROBE_PAGE + 1234] = (unsigned char)(v + 1);
		m[i * PROBE_PAGE + PROBE_PAGE - 1] = (unsigned char)(v + 2);
	}
}

/* Counts pages whose bytes differ from the pattern. */
static inline size_t probe_verify(const unsigned char *m, size_t len, unsigned salt)
{
	size_t bad = 0;
	for (size_t i = 0; i < len / PROBE_PAGE; i++) {
		unsigned char v = probe_pattern(i, salt);
		bad += m[i * PROBE_PAGE] != v || m[i * PROBE_PAGE + 1234] != (unsigned char)(v + 1) ||
		       m[i * PROBE_PAGE + PROBE_PAGE - 1] != (unsigned char)(v + 2);
	}
	return bad;
}

#endif
