/*
 * bench/bench_ooc.c - out-of-core kernels: working sets larger than the
 * memory limit, and the swap path one page at a time.  Each reports ns
 * per page (MB/s = page size / ns per page * 1000):
 *
 *   ooc/scan_seq/ws_limit_x:N   read every byte of every page of a working
 *                               set of N x the limit, in address order
 *   ooc/scan_rand/ws_limit_x:N  the same, pages in a random order (a pass
 *                               reads a quarter of the pages, distinct)
 *   ooc/scan_zipf/ws_limit_x:N  a quarter as many page reads as the set has
 *                               pages, drawn from a Zipf distribution (theta
 *                               0.99, hot pages scattered over the set)
 *   swap/in_seq, swap/in_rand   pages pushed out with MADV_PAGEOUT, then one
 *                               read per page, in order or at random: the
 *                               cost of a swap-in (read-ahead included)
 *   swap/out                    MADV_PAGEOUT of dirty resident pages: the
 *                               cost of writing a page out (the kernel's
 *                               writeback is asynchronous, so natively this
 *                               is the cost of starting the write)
 *
 * The kernel keeps pages it paged out in its swap cache (resident, for
 * mincore) until memory is short, so natively the swap kernels need a
 * memory limit too: under scripts/compare's kernel-swap they write a
 * region of the limit's size to push them out (untimed).
 *
 * The limit is vms_bench_limit(): the binary's --limit, else
 * VMSHIM_MEM_LIMIT, else a default.  scripts/compare passes --limit to
 * every configuration, so the working sets are the same natively (no
 * limit: everything stays resident), under libvmshim with the limit, and
 * under the kernel's swap in a memory cgroup.
 *
 * The working set is mapped and written (non-uniform data, so no swap can
 * elide pages) once per run, outside the timed region; the Zipf scan makes
 * one untimed pass first so its hot set is loaded.  The scans run a fixed
 * number of passes, each pass one iteration: the sequential scan 1 with
 * --quick and 2 without, the others 1.  Random passes are a quarter of the
 * set because at 4x a page costs a disk read: a full pass would take
 * minutes, and the cost per page of a random access does not depend on
 * how many are made once the resident set is in its steady state (it is
 * from the start: the set was just written in order).
 *
 * When pages stay resident after MADV_PAGEOUT (the kernel has no active
 * swap device, or libvmshim does not swap yet) the swap kernels stop with
 * an error that starts with "unavailable:", which scripts/compare shows
 * as n/a.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "bench.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

enum pattern { SEQ, RAND, ZIPF };

/* Writes every word of every page: distinct, non-uniform contents. */
static void fill(uint64_t *base, size_t pages, size_t ps)
{
	size_t words = ps / sizeof(uint64_t);

	for (size_t i = 0; i < pages; i++) {
		uint64_t *w = base + i * words;
		uint64_t x = (uint64_t)i * 0x9E3779B97F4A7C15ULL + 1;
		for (size_t j = 0; j < words; j++)
			w[j] = x ^ j;
	}
}

static uint64_t sum_page(const uint64_t *w, size_t words)
{
	uint64_t s = 0;

	for (size_t j = 0; j < words; j++)
		s += w[j];
	return s;
}

/*
 * count draws from a Zipf distribution over [0, n) with exponent theta
 * (Gray et al., "Quickly generating billion-record synthetic databases", as
 * YCSB does), mapped through a permutation so the hot pages are scattered.
 */
static uint32_t *zipf_draws(size_t n, size_t count, double theta, uint64_t seed)
{
	uint32_t *perm = vms_permutation(n, seed);
	uint32_t *out = malloc(count * sizeof(*out));
	double zetan = 0, zeta2 = 1 + pow(0.5, theta);
	double alpha = 1 / (1 - theta), eta;
	uint64_t s = seed * 2 + 1;

	if (out == NULL)
		vms_die("malloc");
	for (size_t i = 1; i <= n; i++)
		zetan += pow((double)i, -theta);
	eta = (1 - pow(2.0 / (double)n, 1 - theta)) / (1 - zeta2 / zetan);
	for (size_t k = 0; k < count; k++) {
		double u = (double)(vms_rng_next(&s) >> 11) * 0x1.0p-53;
		double uz = u * zetan;
		size_t r;
		if (uz < 1)
			r = 0;
		else if (uz < zeta2)
			r = 1;
		else
			r = (size_t)((double)n * pow(eta * u - eta + 1, alpha));
		if (r >= n)
			r = n - 1;
		out[k] = perm[r];
	}
	free(perm);
	return out;
}

static uint64_t pass(const uint64_t *base, size_t pages, size_t words,
		     const uint32_t *order)
{
	uint64_t s = 0;

	for (size_t i = 0; i < pages; i++) {
		size_t pg = order != NULL ? order[i] : i;
		s += sum_page(base + pg * words, words);
	}
	return s;
}

static void scan(struct vms_bench_state *st, enum pattern pat)
{
	size_t ps = vms_page_size();
	size_t words = ps / sizeof(uint64_t);
	size_t limit = vms_bench_limit();
	size_t ws = limit / ps * ps * (size_t)vms_bench_range_arg(st, 0);
	size_t pages = ws / ps;
	size_t reads = pat == SEQ ? pages : pages / 4;
	uint32_t *order = NULL;
	uint64_t *base;
	uint64_t sum = 0;

	if (pat == RAND)
		order = vms_permutation(pages, 42);
	else if (pat == ZIPF)
		order = zipf_draws(pages, reads, 0.99, 42);
	base = vms_map_anon(ws);
	fill(base, pages, ps);
	if (pat == ZIPF)
		sum += pass(base, reads, words, order);
	while (vms_bench_keep_running(st)) {
		double t0 = vms_now();
		sum += pass(base, reads, words, order);
		vms_bench_set_iteration_time(st, vms_now() - t0);
	}
	vms_escape(&sum);
	vms_unmap(base, ws);
	free(order);
	vms_bench_counter(st, "limit_MiB", (double)limit / (double)VMS_MIB, 0);
	vms_bench_counter(st, "ws_MiB", (double)ws / (double)VMS_MIB, 0);
	vms_bench_report_per(st, "page", vms_bench_iterations(st) * (int64_t)reads);
}

static void bm_scan_seq(struct vms_bench_state *st)
{
	scan(st, SEQ);
}

static void bm_scan_rand(struct vms_bench_state *st)
{
	scan(st, RAND);
}

static void bm_scan_zipf(struct vms_bench_state *st)
{
	scan(st, ZIPF);
}

/*
 * Memory pressure: writes a fresh region the size of the limit, then
 * unmaps it.  Under a memory cgroup limit the kernel must reclaim the
 * clean pages it keeps in its swap cache after MADV_PAGEOUT (they stay
 * there, counted resident by mincore, until memory is short).
 */
static void squeeze(void)
{
	size_t lim = vms_bench_limit();
	char *q = vms_map_anon(lim);

	vms_touch_pages(q, lim);
	vms_unmap(q, lim);
}

/*
 * MADV_PAGEOUT of [p, p + len); 0 when at most an eighth of the pages
 * stay resident, else -1 with an "unavailable:" message in why.  The
 * kernel writes pages out asynchronously and keeps them in its swap cache
 * until memory is short: retry after a pause, then under pressure (which
 * only works under a memory limit, as in scripts/compare's kernel-swap).
 */
static int page_out(void *p, size_t len, char *why, size_t why_len)
{
	size_t pages = len / vms_page_size();
	size_t res = pages;

	for (int attempt = 0; attempt < 3; attempt++) {
		if (attempt == 2)
			squeeze();
		else if (madvise(p, len, MADV_PAGEOUT) != 0) {
			snprintf(why, why_len, "unavailable: madvise(MADV_PAGEOUT): %s",
				 strerror(errno));
			return -1;
		}
		res = vms_resident_pages(p, len);
		if (res <= pages / 8)
			return 0;
		if (attempt == 0)
			nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	}
	snprintf(why, why_len,
		 "unavailable: %zu of %zu pages stayed resident after MADV_PAGEOUT "
		 "(no active swap device; or the kernel kept them in its swap cache, "
		 "for want of a memory limit; or libvmshim without swap)", res, pages);
	return -1;
}

static size_t swap_region(void)
{
	if (vms_bench_smoke())
		return VMS_MIB;
	return (vms_bench_quick() ? 16 : 64) * VMS_MIB;
}

static void swap_in(struct vms_bench_state *st, enum pattern pat)
{
	size_t len = (size_t)vms_bench_range_arg(st, 0) * VMS_MIB;
	size_t ps = vms_page_size();
	size_t pages = len / ps;
	uint32_t *order = pat == RAND ? vms_permutation(pages, 7) : NULL;
	uint64_t *base = vms_map_anon(len);
	volatile const char *c = (const char *)base;
	char why[320];
	unsigned sum = 0;
	int failed = 0;

	fill(base, pages, ps);
	/* A first round: the writes of dirty pages finish, so the timed
	 * rounds page out clean pages and read them back. */
	if (page_out(base, len, why, sizeof(why)) != 0)
		failed = 1;
	for (size_t i = 0; i < pages && !failed; i++)
		sum += (unsigned char)c[i * ps];
	while (vms_bench_keep_running(st)) {
		if (failed || page_out(base, len, why, sizeof(why)) != 0) {
			vms_bench_skip_with_error(st, why);
			failed = 1;
			break;
		}
		double t0 = vms_now();
		for (size_t i = 0; i < pages; i++)
			sum += (unsigned char)c[(order != NULL ? order[i] : i) * ps];
		vms_bench_set_iteration_time(st, vms_now() - t0);
	}
	vms_escape(&sum);
	vms_unmap(base, len);
	free(order);
	if (!failed)
		vms_bench_report_per(st, "page", vms_bench_iterations(st) * (int64_t)pages);
}

static void bm_swap_in_seq(struct vms_bench_state *st)
{
	swap_in(st, SEQ);
}

static void bm_swap_in_rand(struct vms_bench_state *st)
{
	swap_in(st, RAND);
}

static void bm_swap_out(struct vms_bench_state *st)
{
	size_t len = (size_t)vms_bench_range_arg(st, 0) * VMS_MIB;
	size_t ps = vms_page_size();
	size_t pages = len / ps;
	uint64_t *base = vms_map_anon(len);
	char why[320];
	int failed = 0;

	fill(base, pages, ps);
	while (vms_bench_keep_running(st)) {
		/* Untimed: dirty every page again (reading them back in). */
		for (size_t i = 0; i < pages; i++)
			base[i * (ps / sizeof(uint64_t))] += 1;
		double t0 = vms_now();
		if (madvise(base, len, MADV_PAGEOUT) != 0) {
			snprintf(why, sizeof(why), "unavailable: madvise(MADV_PAGEOUT): %s",
				 strerror(errno));
			failed = 1;
		}
		double dt = vms_now() - t0;
		if (!failed && vms_resident_pages(base, len) > pages / 2) {
			/* The kernel's swap cache may still hold them (see
			 * page_out()). */
			if (page_out(base, len, why, sizeof(why)) != 0)
				failed = 1;
		}
		if (failed) {
			vms_bench_skip_with_error(st, why);
			break;
		}
		vms_bench_set_iteration_time(st, dt);
	}
	vms_unmap(base, len);
	if (!failed)
		vms_bench_report_per(st, "page", vms_bench_iterations(st) * (int64_t)pages);
}

static void add_scan(const char *name, vms_bench_fn *fn, int full_passes)
{
	static const int64_t ratios[] = { 1, 2, 4 };

	for (size_t i = 0; i < sizeof(ratios) / sizeof(ratios[0]); i++) {
		struct vms_bench *b = vms_bench_register(name, fn);
		vms_bench_manual_time(b);
		vms_bench_unit(b, VMS_BENCH_MS);
		vms_bench_arg(b, ratios[i]);
		vms_bench_arg_name(b, "ws_limit_x");
		vms_bench_fixed_iterations(b, vms_bench_quick() || vms_bench_smoke() ? 1 : full_passes);
	}
}

static void add_swap(const char *name, vms_bench_fn *fn)
{
	struct vms_bench *b = vms_bench_register(name, fn);

	vms_bench_manual_time(b);
	vms_bench_arg(b, (int64_t)(swap_region() / VMS_MIB));
	vms_bench_arg_name(b, "MiB");
	vms_bench_fixed_iterations(b, vms_bench_smoke() ? 1 : vms_bench_quick() ? 3 : 5);
}

void vms_bench_register_ooc(void)
{
	add_scan("ooc/scan_seq", bm_scan_seq, 2);
	add_scan("ooc/scan_rand", bm_scan_rand, 1);
	add_scan("ooc/scan_zipf", bm_scan_zipf, 1);
	add_swap("swap/in_seq", bm_swap_in_seq);
	add_swap("swap/in_rand", bm_swap_in_rand);
	add_swap("swap/out", bm_swap_out);
}
