/*
 * os/fmt.h - formatting and parsing that never allocate.
 *
 * Owns: a small snprintf (vms_fmt) and the number/size parsers every
 * VMSHIM_* option and launcher option goes through, so the library and the
 * launcher accept exactly the same forms.
 *
 * Everything here is pure, reentrant and async-signal-safe.
 */
#ifndef VMS_OS_FMT_H
#define VMS_OS_FMT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/*
 * snprintf subset: %s %c %d %i %u %x %p %% with the l, ll and z length
 * modifiers, a field width, and the '-' and '0' flags.  Always
 * NUL-terminates when cap > 0; returns the length written (truncated).
 */
size_t vms_fmt(char *buf, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
size_t vms_vfmt(char *buf, size_t cap, const char *fmt, va_list ap);

/* Decimal unsigned integer, no sign, no suffix.  0 on success, -1 if bad. */
int vms_parse_uint(const char *s, uint64_t *out);

/*
 * A size: decimal digits with an optional binary suffix K, M, G or T
 * (either case, optionally followed by "B" or "iB"): "512M", "2G",
 * "65536K", "4096", "0".  0 on success, -1 if malformed or overflowing.
 */
int vms_parse_size(const char *s, uint64_t *out);
#define VMS_SIZE_FORM "a size like 512M, 2G, 65536K or 4096 (bytes; suffixes K, M, G, T)"

/* Prints a byte count as the shortest exact form vms_parse_size accepts. */
size_t vms_fmt_size(char *buf, size_t cap, uint64_t bytes);

int vms_streq(const char *a, const char *b);

#endif
