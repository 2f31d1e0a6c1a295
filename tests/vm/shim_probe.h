/*
 * tests/vm/shim_probe.h - what a test program asks a running shim (through
 * vmshim_stats_json, found with dlsym so the program also runs natively)
 * and the kernel's view to check it against.  Header-only: included by
 * tests/vm/vm_swap.c and tests/reliab/reliab_probe.c.
 */
#ifndef VMS_TESTS_SHIM_PROBE_H
#define VMS_TESTS_SHIM_PROBE_H

#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

#endif
