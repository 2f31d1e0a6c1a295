/*
 * bench/bench_fault.c - page-fault kernels, each reporting ns per page:
 *
 *   fault/zero_seq       first touch of fresh anonymous memory, in order
 *   fault/zero_rand      the same, pages in a random order
 *   fault/zero_mt        the same, in order, split between 2 threads
 *                        (wall time / all pages)
 *   fault/dontneed_retouch  madvise(MADV_DONTNEED) of a resident region,
 *                        then one write per page
 *   fault/file_read      one read per page of a MAP_PRIVATE mapping of a
 *                        temporary file already in the page cache
 *   fault/file_read_cold the same with the file dropped from the page cache
 *                        (fsync, then POSIX_FADV_DONTNEED) before each
 *                        pass: every fault waits for the disk (and its
 *                        read-ahead); the file lives in $TMPDIR or /tmp
 *
 * The mapping (and the file) is created and unmapped outside the timed
 * region; only the touching (and the madvise) is timed.  Sizes are in MiB
 * in the benchmark's name (MiB:64); --quick uses 16.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

static size_t region_mib(void)
{
	return vms_bench_quick() ? 16 : 64;
}

static void bm_zero_seq(struct vms_bench_state *st)
{
	size_t len = (size_t)vms_bench_range_arg(st, 0) * VMS_MIB;
	size_t ps = vms_page_size();

	while (vms_bench_keep_running(st)) {
		volatile char *p = vms_map_anon(len);
		double t0 = vms_now();
		for (size_t off = 0; off < len; off += ps)
			p[off] = 1;
		vms_bench_set_iteration_time(st, vms_now() - t0);
		vms_unmap((void *)p, len);
	}
	vms_bench_report_per(st, "page", vms_bench_iterations(st) * (int64_t)(len / ps));
}

static void bm_zero_rand(struct vms_bench_state *st)
{
	size_t len = (size_t)vms_bench_range_arg(st, 0) * VMS_MIB;
	size_t ps = vms_page_size();
	size_t pages = len / ps;
	uint32_t *perm = vms_permutation(pages, 42);

	while (vms_bench_keep_running(st)) {
		volatile char *p = vms_map_anon(len);
		double t0 = vms_now();
		for (size_t i = 0; i < pages; i++)
			p[(size_t)perm[i] * ps] = 1;
		vms_bench_set_iteration_time(st, vms_now() - t0);
		vms_unmap((void *)p, len);
	}
	free(perm);
	vms_bench_report_per(st, "page", vms_bench_iterations(st) * (int64_t)pages);
}

struct mt_touch {
	char *base;
	size_t len;
};

static void touch_share(void *arg, int index, int n)
{
	struct mt_touch *m = arg;
	size_t ps = vms_page_size();
	size_t pages = m->len / ps;
	size_t lo = pages * (size_t)index / (size_t)n;
	size_t hi = pages * (size_t)(index + 1) / (size_t)n;
	volatile char *p = m->base;
	for (size_t i = lo; i < hi; i++)
		p[i * ps] = 1;
}

static void bm_zero_mt(struct vms_bench_state *st)
{
	size_t len = (size_t)vms_bench_range_arg(st, 0) * VMS_MIB;
	int threads = (int)vms_bench_range_arg(st, 1);
	struct vms_team *team = vms_team_start(threads);
	struct mt_touch m = { NULL, len };

	while (vms_bench_keep_running(st)) {
		m.base = vms_map_anon(len);
		double t0 = vms_now();
		vms_team_run(team, touch_share, &m);
		vms_bench_set_iteration_time(st, vms_now() - t0);
		vms_unmap(m.base, len);
	}
	vms_team_stop(team);
	vms_bench_report_per(st, "page",
			     vms_bench_iterations(st) * (int64_t)(len / vms_page_size()));
}

static void bm_dontneed_retouch(struct vms_bench_state *st)
{
	size_t len = (size_t)vms_bench_range_arg(st, 0) * VMS_MIB;
	size_t ps = vms_page_size();
	volatile char *p = vms_map_anon(len);

	vms_touch_pages((void *)p, len);
	while (vms_bench_keep_running(st)) {
		double t0 = vms_now();
		if (madvise((void *)p, len, MADV_DONTNEED) != 0)
			vms_die("madvise");
		for (size_t off = 0; off < len; off += ps)
			p[off] = 1;
		vms_bench_set_iteration_time(st, vms_now() - t0);
	}
	vms_unmap((void *)p, len);
	vms_bench_report_per(st, "page", vms_bench_iterations(st) * (int64_t)(len / ps));
}

static void bm_file_read(struct vms_bench_state *st)
{
	size_t len = (size_t)vms_bench_range_arg(st, 0) * VMS_MIB;
	size_t ps = vms_page_size();
	int fd = vms_temp_file(len);
	unsigned sum = 0;

	while (vms_bench_keep_running(st)) {
		volatile char *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED)
			vms_die("mmap file");
		double t0 = vms_now();
		for (size_t off = 0; off < len; off += ps)
			sum += (unsigned char)p[off];
		vms_bench_set_iteration_time(st, vms_now() - t0);
		vms_unmap((void *)p, len);
	}
	close(fd);
	vms_escape(&sum);
	vms_bench_report_per(st, "page", vms_bench_iterations(st) * (int64_t)(len / ps));
}

static void bm_file_read_cold(struct vms_bench_state *st)
{
	size_t len = (size_t)vms_bench_range_arg(st, 0) * VMS_MIB;
	size_t ps = vms_page_size();
	int fd = vms_temp_file(len);
	unsigned sum = 0;

	if (fsync(fd) != 0)
		vms_die("fsync");
	while (vms_bench_keep_running(st)) {
		int err = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		if (err != 0) {
			errno = err;
			vms_die("posix_fadvise(POSIX_FADV_DONTNEED)");
		}
		volatile char *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED)
			vms_die("mmap file");
		double t0 = vms_now();
		for (size_t off = 0; off < len; off += ps)
			sum += (unsigned char)p[off];
		vms_bench_set_iteration_time(st, vms_now() - t0);
		vms_unmap((void *)p, len);
	}
	close(fd);
	vms_escape(&sum);
	vms_bench_report_per(st, "page", vms_bench_iterations(st) * (int64_t)(len / ps));
}

/* One benchmark timed by hand, with one size argument in MiB. */
static void add(const char *name, vms_bench_fn *fn, int64_t mib)
{
	struct vms_bench *b = vms_bench_register(name, fn);

	vms_bench_manual_time(b);
	vms_bench_arg(b, mib);
	vms_bench_arg_name(b, "MiB");
}

void vms_bench_register_fault(void)
{
	int64_t mib = (int64_t)region_mib();
	struct vms_bench *b;

	add("fault/zero_seq", bm_zero_seq, mib);
	add("fault/zero_rand", bm_zero_rand, mib);
	b = vms_bench_register("fault/zero_mt", bm_zero_mt);
	vms_bench_manual_time(b);
	vms_bench_args2(b, mib, 2);
	vms_bench_arg_name(b, "MiB,threads");
	add("fault/dontneed_retouch", bm_dontneed_retouch, mib / 4);
	add("fault/file_read", bm_file_read, mib);
	add("fault/file_read_cold", bm_file_read_cold, mib);
}
