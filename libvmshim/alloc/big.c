/*
 * alloc/big.c - blocks above VMS_LARGE_MAX (1 MiB): one mapping each.
 *
 * Owns: the table of big blocks (an open-addressing hash table keyed by
 * the block's address, in memory from the kernel, so no big block carries
 * a header: the block is the mapping, page-aligned), a small cache of
 * recently freed mappings, and realloc of big blocks.
 *
 *   alloc    from the cache when it holds a mapping (the closest in size:
 *            shrunk in place when more than a quarter too large, grown by
 *            moving its pages when too small, so only the new tail is
 *            populated), else a new mapping, populated up to its first
 *            64 MiB (interim policy, see mem.c); calloc of a new mapping
 *            does not touch it (fresh pages are zero), a cached one is
 *            cleared.
 *   free     into the cache when it fits (at most 64 mappings, at most
 *            max(8 MiB, min(64 MiB, live big bytes / 2)) bytes; the oldest
 *            are unmapped first), else unmapped at once: the VM gets the
 *            memory back.
 *   pinned   libc's own big blocks (vms_big_alloc_pinned): a new mapping of
 *            the kernel's memory, outside the arena (alloc/pinned.c says
 *            why); never cached, unmapped when freed.
 *   realloc  vm_mremap(MREMAP_MAYMOVE): the kernel moves the pages, nothing
 *            is copied; the grown tail is populated (its part below
 *            64 MiB).  Shrinking by less than half keeps the mapping.
 *
 * Lock: big_lock guards the table, the cache and the counters; never held
 * across a VM call (mappings are made and unmapped outside it).
 */
#include "config.h"
#include "alloc/alloc.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "os/pool.h"
#include "os/raw.h"
#include "util/debug.h"

#define PAGE 4096UL
#define CACHE_SLOTS 64
#define CACHE_MIN (8UL << 20)
#define CACHE_MAX (64UL << 20)

struct big {
	uintptr_t ptr;  /* 0: empty slot */
	size_t len;     /* mapping bytes (pages) */
	bool raw;       /* the kernel's, outside the arena */
	bool pinned;    /* libc's (the kernel's memory): never cached */
};

static int big_lock;
static struct big *table;          /* (b) */
static size_t table_cap, table_n;  /* (b) capacity is a power of two */
static struct big cache[CACHE_SLOTS]; /* (b) oldest first */
static size_t cache_n, cache_bytes;   /* (b) */
static size_t live_bytes, live_blocks, peak_bytes; /* (b) */

static size_t slot_of(uintptr_t p, size_t cap)
{
	return (size_t)(((p >> 12) * 0x9e3779b97f4a7c15ULL) >> 20) & (cap - 1);
}

static bool table_grow(void)
{
	size_t cap = table_cap == 0 ? 1024 : table_cap * 2;
	long r = vms_raw_mmap(NULL, cap * sizeof(struct big), PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vms_raw_failed(r)) {
		return false;
	}
	struct big *t = (struct big *)r;
	for (size_t i = 0; i < table_cap; i++) {
		if (table[i].ptr != 0) {
			size_t j = slot_of(table[i].ptr, cap);
			while (t[j].ptr != 0) {
				j = (j + 1) & (cap - 1);
			}
			t[j] = table[i];
		}
	}
	if (table != NULL) {
		vms_raw_munmap(table, table_cap * sizeof(struct big));
	}
	table = t;
	table_cap = cap;
	return true;
}

static bool table_insert(struct big b)
{
	if ((table_n + 1) * 2 > table_cap && !table_grow()) {
		return false;
	}
	size_t j = slot_of(b.ptr, table_cap);
	while (table[j].ptr != 0) {
		j = (j + 1) & (table_cap - 1);
	}
	table[j] = b;
	table_n++;
	return true;
}

static struct big *table_find(uintptr_t p)
{
	if (table_cap == 0) {
		return NULL;
	}
	for (size_t j = slot_of(p, table_cap);; j = (j + 1) & (table_cap - 1)) {
		if (table[j].ptr == p) {
			return &table[j];
		}
		if (table[j].ptr == 0) {
			return NULL;
		}
	}
}

/* Linear probing deletion by backward shift: no tombstones. */
static void table_remove(struct big *e)
{
	size_t mask = table_cap - 1, i = (size_t)(e - table);
	for (size_t j = (i + 1) & mask; table[j].ptr != 0; j = (j + 1) & mask) {
		size_t home = slot_of(table[j].ptr, table_cap);
		/* Move j into the hole at i unless its home lies in (i, j]. */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			table[i] = table[j];
			i = j;
		}
	}
	table[i].ptr = 0;
	table_n--;
}

static size_t cache_limit(void)
{
	size_t l = live_bytes / 2;
	l = l > CACHE_MAX ? CACHE_MAX : l;
	return l < CACHE_MIN ? CACHE_MIN : l;
}

/* The cached mapping closest to len bytes (the smallest at least as large,
 * else the largest), removed from the cache: any populated page reused is
 * a page not populated again. */
static bool cache_take(size_t len, struct big *out)
{
	size_t best = CACHE_SLOTS;
	for (size_t i = 0; i < cache_n; i++) {
		if (best == CACHE_SLOTS) {
			best = i;
			continue;
		}
		size_t b = cache[best].len, c = cache[i].len;
		bool c_fits = c >= len, b_fits = b >= len;
		if ((c_fits && (!b_fits || c < b)) || (!c_fits && !b_fits && c > b)) {
			best = i;
		}
	}
	if (best == CACHE_SLOTS) {
		return false;
	}
	*out = cache[best];
	cache_bytes -= cache[best].len;
	memmove(&cache[best], &cache[best + 1], (cache_n - best - 1) * sizeof cache[0]);
	cache_n--;
	return true;
}

/* Puts b in the cache; the mappings pushed out go to evicted[] (up to
 * CACHE_SLOTS + 1 of them, b itself if it does not fit). */
static size_t cache_put(struct big b, struct big *evicted)
{
	size_t n = 0, limit = cache_limit();
	if (b.len > limit) {
		evicted[n++] = b;
		return n;
	}
	while (cache_n == CACHE_SLOTS || cache_bytes + b.len > limit) {
		evicted[n++] = cache[0];
		cache_bytes -= cache[0].len;
		memmove(&cache[0], &cache[1], (cache_n - 1) * sizeof cache[0]);
		cache_n--;
	}
	cache[cache_n++] = b;
	cache_bytes += b.len;
	return n;
}

static void account(ssize_t bytes, int blocks)
{
	live_bytes += (size_t)bytes;
	live_blocks += (size_t)blocks;
	if (live_bytes > peak_bytes) {
		peak_bytes = live_bytes;
	}
}

/* Records the new block b in the table, or gives its memory back: the
 * block's address, or NULL with ENOMEM. */
static void *enter(struct big b)
{
	vms_alloc_lock(&big_lock);
	bool ok = table_insert(b);
	if (ok) {
		account((ssize_t)b.len, 1);
	}
	vms_alloc_unlock(&big_lock);
	if (!ok) {
		vms_mem_unmap(b.ptr, b.len, b.raw);
		errno = ENOMEM;
		return NULL;
	}
	return (void *)b.ptr;
}

void *vms_big_alloc(size_t size, size_t align, bool zero)
{
	if (size > PTRDIFF_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	vms_alloc_init_once();
	size_t len = (size + PAGE - 1) & ~(PAGE - 1);
	if (len == 0) {
		len = PAGE;
	}
	struct big b = { 0, 0, false, false };
	bool cached = false;
	if (align <= PAGE) {
		vms_alloc_lock(&big_lock);
		cached = cache_take(len, &b);
		vms_alloc_unlock(&big_lock);
	}
	if (cached && b.len != len && (b.len > len + len / 4 || b.len < len)) {
		/* Shrinking unmaps the tail in place; growing moves the pages
		 * (vm_mremap) and populates only the new tail.  Either way the
		 * pages already there are not populated again. */
		size_t dirty = b.len < len ? b.len : len;
		uintptr_t q;
		if (vms_mem_remap(b.ptr, b.len, len, b.raw, vms_mem_populate_ordinary(VMS_SEG_KINDS),
				  &q) == 0) {
			b.ptr = q;
			b.len = len;
		} else if (b.len < len) {
			vms_mem_unmap(b.ptr, b.len, b.raw);
			cached = false;
		}
		if (cached && zero) {
			memset((void *)b.ptr, 0, dirty);
			zero = false;
		}
	}
	if (!cached) {
		b.len = len;
		int r = vms_mem_map(len, align, vms_mem_populate_ordinary(VMS_SEG_KINDS), &b.ptr,
				    &b.raw);
		if (r != 0) {
			errno = ENOMEM;
			return NULL;
		}
	} else if (zero) {
		memset((void *)b.ptr, 0, b.len);
	}
	return enter(b);
}

void vms_big_free(void *p)
{
	struct big evicted[CACHE_SLOTS + 1];
	vms_alloc_lock(&big_lock);
	struct big *e = table_find((uintptr_t)p);
	if (e == NULL) {
		vms_alloc_unlock(&big_lock);
		vms_alloc_bad_pointer(p, "free(): invalid pointer");
	}
	struct big b = *e;
	table_remove(e);
	account(-(ssize_t)b.len, -1);
	size_t n = 0;
	if (b.pinned) {
		evicted[n++] = b;
	} else {
		n = cache_put(b, evicted);
	}
	vms_alloc_unlock(&big_lock);
	for (size_t i = 0; i < n; i++) {
		vms_mem_unmap(evicted[i].ptr, evicted[i].len, evicted[i].raw);
	}
}

void *vms_big_alloc_pinned(size_t size, bool zero)
{
	(void)zero; /* a new mapping reads zero */
	if (size > PTRDIFF_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	vms_alloc_init_once();
	size_t len = (size + PAGE - 1) & ~(PAGE - 1);
	struct big b = { 0, len, true, true };
	if (vms_mem_map_kernel(len, &b.ptr) != 0) {
		errno = ENOMEM;
		return NULL;
	}
	return enter(b);
}

size_t vms_big_usable(const void *p)
{
	vms_alloc_lock(&big_lock);
	struct big *e = table_find((uintptr_t)p);
	size_t len = e != NULL ? e->len : 0;
	vms_alloc_unlock(&big_lock);
	if (e == NULL) {
		vms_alloc_bad_pointer(p, "malloc_usable_size(): invalid pointer");
	}
	return len;
}

void *vms_big_realloc(void *p, size_t size)
{
	size_t len = (size + PAGE - 1) & ~(PAGE - 1);
	vms_alloc_lock(&big_lock);
	struct big *e = table_find((uintptr_t)p);
	struct big b = e != NULL ? *e : (struct big){ 0, 0, false, false };
	vms_alloc_unlock(&big_lock);
	if (e == NULL) {
		vms_alloc_bad_pointer(p, "realloc(): invalid pointer");
	}
	if (len <= b.len && len >= b.len / 2) {
		return p;
	}
	uintptr_t q;
	if (vms_mem_remap(b.ptr, b.len, len, b.raw, vms_mem_populate_ordinary(VMS_SEG_KINDS),
			  &q) != 0) {
		return NULL;
	}
	vms_alloc_lock(&big_lock);
	e = table_find(b.ptr);
	vms_assert(e != NULL);
	table_remove(e);
	account((ssize_t)len - (ssize_t)b.len, 0);
	bool ok = table_insert((struct big){ q, len, b.raw, b.pinned });
	vms_alloc_unlock(&big_lock);
	if (!ok) {
		vms_fatal("realloc(): no memory for the big-block table");
	}
	return (void *)q;
}

void vms_big_stats(struct vms_big_stats *st)
{
	vms_alloc_lock(&big_lock);
	st->blocks = live_blocks;
	st->bytes = live_bytes;
	st->peak_bytes = peak_bytes;
	st->cached = cache_n;
	st->cached_bytes = cache_bytes;
	vms_alloc_unlock(&big_lock);
}

size_t vms_big_trim(void)
{
	struct big out[CACHE_SLOTS];
	vms_alloc_lock(&big_lock);
	size_t n = cache_n, bytes = cache_bytes;
	memcpy(out, cache, n * sizeof cache[0]);
	cache_n = cache_bytes = 0;
	vms_alloc_unlock(&big_lock);
	for (size_t i = 0; i < n; i++) {
		vms_mem_unmap(out[i].ptr, out[i].len, out[i].raw);
	}
	return bytes;
}

void vms_big_prefork(void)
{
	vms_spin_lock(&big_lock);
}

void vms_big_postfork(bool child)
{
	if (child) {
		big_lock = 0;
	} else {
		vms_spin_unlock(&big_lock);
	}
}
