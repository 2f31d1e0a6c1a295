/*
 * bench/bench_vmcall.c - latency of the memory-management calls, each
 * reporting ns per call (or per pair):
 *
 *   vmcall/mmap_munmap   mmap of fresh anonymous memory then munmap,
 *                        never touched (ns per pair); KiB:4 and KiB:1024
 *   vmcall/mprotect      one mprotect of the middle page of a resident
 *                        16-page mapping, toggling between read-only and
 *                        read-write, so calls alternately split the
 *                        mapping in three and merge it back (ns per call)
 *   vmcall/mremap_grow   mremap of a resident mapping to twice its size
 *                        with MREMAP_MAYMOVE; 32 mappings made one below
 *                        the other (MAP_POPULATE, untimed), so most must
 *                        move (ns per call); KiB:4 and KiB:1024 is the old
 *                        size; the 1 MiB case runs a fixed 40 iterations
 *                        (10 with --quick)
 *   vmcall/madvise_dontneed, _free, _cold, _willneed
 *                        one madvise of a resident, dirty mapping of
 *                        pages:N pages (re-touched outside the timed
 *                        region before each call; ns per call); a fixed
 *                        count of 4000 / N calls (20000 / N without
 *                        --quick)
 */
#include "config.h"

#include <sys/mman.h>

#ifndef MADV_COLD
#define MADV_COLD 20
#endif

#include "bench.h"

static void bm_mmap_munmap(struct vms_bench_state *st)
{
	size_t len = (size_t)vms_bench_range_arg(st, 0) * 1024;

	while (vms_bench_keep_running(st)) {
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			vms_die("mmap");
		if (munmap(p, len) != 0)
			vms_die("munmap");
	}
	vms_bench_report_per(st, "op", vms_bench_iterations(st));
}

static void bm_mprotect(struct vms_bench_state *st)
{
	size_t ps = vms_page_size();
	size_t len = 16 * ps;
	char *p = vms_map_anon(len);
	char *mid = p + 8 * ps;
	int ro = 0;

	vms_touch_pages(p, len);
	while (vms_bench_keep_running(st)) {
		ro = !ro;
		if (mprotect(mid, ps, ro ? PROT_READ : PROT_READ | PROT_WRITE) != 0)
			vms_die("mprotect");
	}
	vms_unmap(p, len);
	vms_bench_report_per(st, "call", vms_bench_iterations(st));
}

#define REMAPS 32

static void bm_mremap_grow(struct vms_bench_state *st)
{
	size_t len = (size_t)vms_bench_range_arg(st, 0) * 1024;
	void *p[REMAPS];

	while (vms_bench_keep_running(st)) {
		for (int i = 0; i < REMAPS; i++) {
			p[i] = mmap(NULL, len, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
				    -1, 0);
			if (p[i] == MAP_FAILED)
				vms_die("mmap");
		}
		double t0 = vms_now();
		for (int i = 0; i < REMAPS; i++) {
			p[i] = mremap(p[i], len, 2 * len, MREMAP_MAYMOVE);
			if (p[i] == MAP_FAILED)
				vms_die("mremap");
		}
		vms_bench_set_iteration_time(st, vms_now() - t0);
		for (int i = 0; i < REMAPS; i++)
			vms_unmap(p[i], 2 * len);
	}
	vms_bench_report_per(st, "call", vms_bench_iterations(st) * REMAPS);
}

static void madvise_latency(struct vms_bench_state *st, int advice)
{
	size_t ps = vms_page_size();
	size_t len = (size_t)vms_bench_range_arg(st, 0) * ps;
	char *p = vms_map_anon(len);

	while (vms_bench_keep_running(st)) {
		vms_touch_pages(p, len);
		double t0 = vms_now();
		if (madvise(p, len, advice) != 0)
			vms_die("madvise");
		vms_bench_set_iteration_time(st, vms_now() - t0);
	}
	vms_unmap(p, len);
	vms_bench_report_per(st, "call", vms_bench_iterations(st));
}

static void bm_madvise_dontneed(struct vms_bench_state *st)
{
	madvise_latency(st, MADV_DONTNEED);
}

static void bm_madvise_free(struct vms_bench_state *st)
{
	madvise_latency(st, MADV_FREE);
}

static void bm_madvise_cold(struct vms_bench_state *st)
{
	madvise_latency(st, MADV_COLD);
}

static void bm_madvise_willneed(struct vms_bench_state *st)
{
	madvise_latency(st, MADV_WILLNEED);
}

static void add_madvise(const char *name, vms_bench_fn *fn)
{
	static const int64_t pages[] = { 1, 64 };

	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		struct vms_bench *b = vms_bench_register(name, fn);
		vms_bench_manual_time(b);
		vms_bench_arg(b, pages[i]);
		vms_bench_arg_name(b, "pages");
		/* Only the call is timed, the re-touch is not: a minimum
		 * time would run the untimed part for many times longer. */
		vms_bench_fixed_iterations(b, (vms_bench_quick() ? 4000 : 20000) / pages[i]);
	}
}

void vms_bench_register_vmcall(void)
{
	struct vms_bench *b;

	b = vms_bench_register("vmcall/mmap_munmap", bm_mmap_munmap);
	vms_bench_real_time(b);
	vms_bench_arg(b, 4);
	vms_bench_arg(b, 1024);
	vms_bench_arg_name(b, "KiB");

	b = vms_bench_register("vmcall/mprotect", bm_mprotect);
	vms_bench_real_time(b);

	b = vms_bench_register("vmcall/mremap_grow", bm_mremap_grow);
	vms_bench_manual_time(b);
	vms_bench_arg(b, 4);
	vms_bench_arg_name(b, "KiB");

	/*
	 * Making 32 MiB resident per iteration costs some 25 times the timed
	 * mremaps: a fixed count keeps the wall time bounded.
	 */
	b = vms_bench_register("vmcall/mremap_grow", bm_mremap_grow);
	vms_bench_manual_time(b);
	vms_bench_arg(b, 1024);
	vms_bench_arg_name(b, "KiB");
	vms_bench_fixed_iterations(b, vms_bench_quick() ? 10 : 40);

	add_madvise("vmcall/madvise_dontneed", bm_madvise_dontneed);
	add_madvise("vmcall/madvise_free", bm_madvise_free);
	add_madvise("vmcall/madvise_cold", bm_madvise_cold);
	add_madvise("vmcall/madvise_willneed", bm_madvise_willneed);
}
