/*
 * util/inject.c - fault injection; see util/inject.h.
 *
 * Invariants: rules[] is written once, at option loading, before any
 * hook can run; afterwards only the counters change, with atomics.
 */
#include "config.h"
#include "util/inject.h"

#include <errno.h>
#include <string.h>

#include "os/raw.h"

enum when { OFF, ONCE, ONWARD, EVERY };

struct rule {
	enum when when;
	unsigned long n;
};

static struct rule rules[VMS_INJ_COUNT];
static int armed;                              /* any rule set */
static unsigned long calls[VMS_INJ_COUNT];
static unsigned long failed[VMS_INJ_COUNT];

static const char *const names[VMS_INJ_COUNT] = {
	[VMS_INJ_SWAP_WRITE] = "swap-write",
	[VMS_INJ_SWAP_SHORT] = "swap-short",
	[VMS_INJ_SWAP_ENOSPC] = "swap-enospc",
	[VMS_INJ_SWAP_READ] = "swap-read",
	[VMS_INJ_MMAP] = "mmap",
	[VMS_INJ_MPROTECT] = "mprotect",
	[VMS_INJ_POOL] = "pool",
};

/* Parses a decimal number of [s, e), >= 1. */
static int parse_count(const char *s, const char *e, unsigned long *out)
{
	unsigned long v = 0;
	if (s == e || e - s > 18) {
		return -1;
	}
	for (; s < e; s++) {
		if (*s < '0' || *s > '9') {
			return -1;
		}
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v == 0) {
		return -1;
	}
	*out = v;
	return 0;
}

/* One KIND:WHEN item of [s, e). */
static int parse_item(const char *s, const char *e, struct rule *set)
{
	const char *colon = memchr(s, ':', (size_t)(e - s));
	if (colon == NULL) {
		return -1;
	}
	int k = -1;
	for (int i = 0; i < VMS_INJ_COUNT; i++) {
		size_t len = strlen(names[i]);
		if ((size_t)(colon - s) == len && memcmp(s, names[i], len) == 0) {
			k = i;
		}
	}
	if (k < 0 || set[k].when != OFF) {
		return -1; /* unknown kind, or the same kind twice */
	}
	const char *w = colon + 1;
	struct rule r;
	if (w < e && *w == '%') {
		r.when = EVERY;
		w++;
	} else if (w < e && e[-1] == '+') {
		r.when = ONWARD;
		e--;
	} else {
		r.when = ONCE;
	}
	if (parse_count(w, e, &r.n) != 0) {
		return -1;
	}
	set[k] = r;
	return 0;
}

int vms_inject_parse(const char *text, bool apply)
{
	struct rule set[VMS_INJ_COUNT];
	memset(set, 0, sizeof set);
	if (text == NULL || text[0] == '\0') {
		return -1;
	}
	const char *s = text;
	for (;;) {
		const char *e = strchr(s, ',');
		if (e == NULL) {
			e = s + strlen(s);
		}
		if (parse_item(s, e, set) != 0) {
			return -1;
		}
		if (*e == '\0') {
			break;
		}
		s = e + 1;
	}
	if (apply) {
		__atomic_store_n(&armed, 0, __ATOMIC_RELEASE);
		memcpy(rules, set, sizeof rules);
		memset(calls, 0, sizeof calls);
		memset(failed, 0, sizeof failed);
		__atomic_store_n(&armed, 1, __ATOMIC_RELEASE);
	}
	return 0;
}

void vms_inject_disarm(void)
{
	__atomic_store_n(&armed, 0, __ATOMIC_RELEASE);
}

bool vms_inject_fail(enum vms_inject_kind k)
{
	if (!__atomic_load_n(&armed, __ATOMIC_RELAXED) || rules[k].when == OFF) {
		return false;
	}
	unsigned long c = __atomic_add_fetch(&calls[k], 1, __ATOMIC_RELAXED);
	bool fail = false;
	switch (rules[k].when) {
	case ONCE:
		fail = c == rules[k].n;
		break;
	case ONWARD:
		fail = c >= rules[k].n;
		break;
	case EVERY:
		fail = c % rules[k].n == 0;
		break;
	case OFF:
		break;
	}
	if (fail) {
		__atomic_add_fetch(&failed[k], 1, __ATOMIC_RELAXED);
	}
	return fail;
}

unsigned long vms_inject_failed(enum vms_inject_kind k)
{
	return __atomic_load_n(&failed[k], __ATOMIC_RELAXED);
}

long vms_inject_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (vms_inject_fail(VMS_INJ_SWAP_WRITE)) {
		return -EIO;
	}
	if (vms_inject_fail(VMS_INJ_SWAP_ENOSPC)) {
		return -ENOSPC;
	}
	if (n >= 2 * 4096 && vms_inject_fail(VMS_INJ_SWAP_SHORT)) {
		/* Half, in whole pages (O_DIRECT needs them). */
		n = (n / 2) & ~(size_t)4095;
	}
	return vms_raw_pwrite(fd, buf, n, off);
}

long vms_inject_pread(int fd, void *buf, size_t n, off_t off)
{
	if (vms_inject_fail(VMS_INJ_SWAP_READ)) {
		return -EIO;
	}
	return vms_raw_pread(fd, buf, n, off);
}

long vms_inject_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (vms_inject_fail(VMS_INJ_MMAP)) {
		return -ENOMEM;
	}
	return vms_raw_mmap(addr, len, prot, flags, fd, off);
}

long vms_inject_mprotect(void *addr, size_t len, int prot)
{
	if (vms_inject_fail(VMS_INJ_MPROTECT)) {
		return -ENOMEM;
	}
	return vms_raw_mprotect(addr, len, prot);
}
