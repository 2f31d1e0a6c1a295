/*
 * os/fmt.c - allocation-free formatting and parsing; see os/fmt.h.
 */
#include "config.h"
#include "os/fmt.h"

#include <string.h>

struct out {
	char *buf;
	size_t cap;
	size_t len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->cap) {
		o->buf[o->len] = c;
	}
	o->len++;
}

static void put_padded(struct out *o, const char *s, size_t n, int width, int left, char pad)
{
	int fill = width > (int)n ? width - (int)n : 0;
	if (!left) {
		/* Keep a minus sign in front of zero padding. */
		if (pad == '0' && n > 0 && s[0] == '-') {
			put(o, '-');
			s++;
			n--;
		}
		while (fill-- > 0) {
			put(o, pad);
		}
	}
	for (size_t i = 0; i < n; i++) {
		put(o, s[i]);
	}
	if (left) {
		while (fill-- > 0) {
			put(o, ' ');
		}
	}
}

static size_t utoa(char *tmp, unsigned long long v, unsigned base)
{
	char rev[32];
	size_t n = 0;
	do {
		unsigned d = (unsigned)(v % base);
		rev[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v != 0);
	for (size_t i = 0; i < n; i++) {
		tmp[i] = rev[n - 1 - i];
	}
	return n;
}

size_t vms_vfmt(char *buf, size_t cap, const char *fmt, va_list ap)
{
	struct out o = { buf, cap, 0 };
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			put(&o, *p);
			continue;
		}
		p++;
		int left = 0;
		char pad = ' ';
		for (; *p == '-' || *p == '0'; p++) {
			if (*p == '-') {
				left = 1;
			} else {
				pad = '0';
			}
		}
		int width = 0;
		for (; *p >= '0' && *p <= '9'; p++) {
			width = width * 10 + (*p - '0');
		}
		int longs = 0, size_t_mod = 0;
		for (; *p == 'l' || *p == 'z'; p++) {
			if (*p == 'l') {
				longs++;
			} else {
				size_t_mod = 1;
			}
		}
		char tmp[40];
		size_t n;
		switch (*p) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (s == NULL) {
				s = "(null)";
			}
			put_padded(&o, s, strlen(s), width, left, ' ');
			break;
		}
		case 'c':
			tmp[0] = (char)va_arg(ap, int);
			put_padded(&o, tmp, 1, width, left, ' ');
			break;
		case 'd':
		case 'i': {
			long long v;
			if (size_t_mod) {
				v = va_arg(ap, long);
			} else if (longs >= 2) {
				v = va_arg(ap, long long);
			} else if (longs == 1) {
				v = va_arg(ap, long);
			} else {
				v = va_arg(ap, int);
			}
			unsigned long long mag = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
			size_t off = 0;
			if (v < 0) {
				tmp[off++] = '-';
			}
			n = off + utoa(tmp + off, mag, 10);
			put_padded(&o, tmp, n, width, left, pad);
			break;
		}
		case 'u':
		case 'x': {
			unsigned long long v;
			if (size_t_mod) {
				v = va_arg(ap, size_t);
			} else if (longs >= 2) {
				v = va_arg(ap, unsigned long long);
			} else if (longs == 1) {
				v = va_arg(ap, unsigned long);
			} else {
				v = va_arg(ap, unsigned int);
			}
			n = utoa(tmp, v, *p == 'x' ? 16 : 10);
			put_padded(&o, tmp, n, width, left, pad);
			break;
		}
		case 'p': {
			tmp[0] = '0';
			tmp[1] = 'x';
			n = 2 + utoa(tmp + 2, (unsigned long long)(uintptr_t)va_arg(ap, void *), 16);
			put_padded(&o, tmp, n, width, left, ' ');
			break;
		}
		case '%':
			put(&o, '%');
			break;
		case '\0':
			p--;
			break;
		default:
			put(&o, '%');
			put(&o, *p);
			break;
		}
	}
	if (cap > 0) {
		buf[o.len < cap ? o.len : cap - 1] = '\0';
	}
	return o.len < cap ? o.len : (cap > 0 ? cap - 1 : 0);
}

size_t vms_fmt(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = vms_vfmt(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}

static const char *parse_digits(const char *s, uint64_t *out)
{
	if (s == NULL || *s < '0' || *s > '9') {
		return NULL;
	}
	uint64_t v = 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		uint64_t d = (uint64_t)(*s - '0');
		if (v > (UINT64_MAX - d) / 10) {
			return NULL;
		}
		v = v * 10 + d;
	}
	*out = v;
	return s;
}

int vms_parse_uint(const char *s, uint64_t *out)
{
	uint64_t v;
	const char *end = parse_digits(s, &v);
	if (end == NULL || *end != '\0') {
		return -1;
	}
	*out = v;
	return 0;
}

int vms_parse_size(const char *s, uint64_t *out)
{
	uint64_t v;
	const char *end = parse_digits(s, &v);
	if (end == NULL) {
		return -1;
	}
	unsigned shift = 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	default: break;
	}
	if (shift != 0) {
		end++;
		if (*end == 'i' && (end[1] == 'B' || end[1] == 'b')) {
			end += 2;
		} else if (*end == 'B' || *end == 'b') {
			end++;
		}
	} else if (*end == 'B' || *end == 'b') {
		end++;
	}
	if (*end != '\0') {
		return -1;
	}
	if (shift != 0 && v > (UINT64_MAX >> shift)) {
		return -1;
	}
	*out = v << shift;
	return 0;
}

size_t vms_fmt_size(char *buf, size_t cap, uint64_t bytes)
{
	static const char suffix[] = { 'T', 'G', 'M', 'K' };
	static const unsigned shift[] = { 40, 30, 20, 10 };
	for (int i = 0; i < 4; i++) {
		uint64_t unit = 1ULL << shift[i];
		if (bytes != 0 && bytes % unit == 0) {
			return vms_fmt(buf, cap, "%llu%c", (unsigned long long)(bytes / unit), suffix[i]);
		}
	}
	return vms_fmt(buf, cap, "%llu", (unsigned long long)bytes);
}

int vms_streq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}
