/*
 * bench/bench.h - the C face of google-benchmark, for benchmark kernels
 * written in C.
 *
 * Owns: the registration API (vms_bench_register and its modifiers), the
 * per-run state API used inside a kernel (vms_bench_keep_running, timing,
 * items, counters), the list of kernel modules registered at start, and
 * the small helpers every kernel shares (clock, page size, escape, rng,
 * a team of worker threads).  bench/bench_shim.cc implements the first
 * two on top of google-benchmark; bench/bench_util.c the helpers.
 *
 * A kernel looks like:
 *
 *	static void bm_touch(struct vms_bench_state *st)
 *	{
 *		size_t pages = vms_bench_range_arg(st, 0) << 8;
 *		while (vms_bench_keep_running(st)) {
 *			... untimed set-up ...
 *			double t0 = vms_now();
 *			... the measured work ...
 *			vms_bench_set_iteration_time(st, vms_now() - t0);
 *			... untimed tear-down ...
 *		}
 *		vms_bench_report_per(st, "page", vms_bench_iterations(st) * pages);
 *	}
 *
 * registered with
 *
 *	struct vms_bench *b = vms_bench_register("fault/zero_seq", bm_touch);
 *	vms_bench_manual_time(b);
 *	vms_bench_arg(b, 64);
 *
 * Every kernel reports its cost per unit of work (page, op, call) with
 * vms_bench_report_per(): a counter named "ns_per_<unit>" that
 * scripts/compare reads as the benchmark's figure.  With several threads
 * it is wall time divided by the work of all threads together.
 */
#ifndef VMS_BENCH_H
#define VMS_BENCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A running benchmark (a benchmark::State) and a registered one. */
struct vms_bench_state;
struct vms_bench;

typedef void vms_bench_fn(struct vms_bench_state *st);

/* Time units for the console and JSON times (not for ns_per_* counters). */
enum vms_bench_unit {
	VMS_BENCH_NS,
	VMS_BENCH_US,
	VMS_BENCH_MS,
	VMS_BENCH_S,
};

/* Counter flags; they map one to one to benchmark::Counter::Flags. */
enum {
	VMS_COUNTER_RATE = 1 << 0,      /* divided by the run's time */
	VMS_COUNTER_AVG_THREADS = 1 << 1,
	VMS_COUNTER_PER_ITERATION = 1 << 2, /* multiplied by iterations */
	VMS_COUNTER_AVG_ITERATIONS = 1 << 3,
	VMS_COUNTER_INVERT = 1 << 4,    /* 1 / value, done last */
};

/*
 * Registration.  Each modifier returns its argument so calls nest; all
 * must happen before the benchmarks run (from a vms_bench_register_*
 * module function below).
 */
struct vms_bench *vms_bench_register(const char *name, vms_bench_fn *fn);
struct vms_bench *vms_bench_arg(struct vms_bench *b, int64_t arg);
struct vms_bench *vms_bench_args2(struct vms_bench *b, int64_t a0, int64_t a1);
/* Arguments lo, lo*mult, ... up to hi (hi included). */
struct vms_bench *vms_bench_range(struct vms_bench *b, int64_t lo, int64_t hi,
				  int mult);
/* Names of the arguments, comma-separated ("MiB" or "MiB,threads"). */
struct vms_bench *vms_bench_arg_name(struct vms_bench *b, const char *names);
struct vms_bench *vms_bench_threads(struct vms_bench *b, int threads);
/* Time by vms_bench_set_iteration_time() only. */
struct vms_bench *vms_bench_manual_time(struct vms_bench *b);
/* Time by the wall clock (default here; google-benchmark's is CPU time). */
struct vms_bench *vms_bench_real_time(struct vms_bench *b);
struct vms_bench *vms_bench_unit(struct vms_bench *b, enum vms_bench_unit u);
struct vms_bench *vms_bench_min_time(struct vms_bench *b, double seconds);
struct vms_bench *vms_bench_fixed_iterations(struct vms_bench *b, int64_t n);
struct vms_bench *vms_bench_repetitions(struct vms_bench *b, int n);

/* Inside a kernel. */
int vms_bench_keep_running(struct vms_bench_state *st);
int64_t vms_bench_range_arg(struct vms_bench_state *st, int index);
int vms_bench_thread_index(struct vms_bench_state *st);
int vms_bench_thread_count(struct vms_bench_state *st);
/* Iterations this thread has run so far (all of them after the loop). */
int64_t vms_bench_iterations(struct vms_bench_state *st);
/* Costly (two clock reads each); prefer manual time for short kernels. */
void vms_bench_pause(struct vms_bench_state *st);
void vms_bench_resume(struct vms_bench_state *st);
void vms_bench_set_iteration_time(struct vms_bench_state *st, double seconds);
void vms_bench_set_items_processed(struct vms_bench_state *st, int64_t n);
void vms_bench_set_bytes_processed(struct vms_bench_state *st, int64_t n);
void vms_bench_set_label(struct vms_bench_state *st, const char *label);
void vms_bench_counter(struct vms_bench_state *st, const char *name,
		       double value, unsigned flags);
/* Marks the run failed; the kernel must then leave its loop. */
void vms_bench_skip_with_error(struct vms_bench_state *st, const char *msg);

/*
 * Reports "items" units of work done by this thread over the whole run:
 * sets items_per_second and the counter "ns_per_<unit>" (nanoseconds of
 * the run's time per unit, all threads together).  Call once, after the
 * loop.
 */
void vms_bench_report_per(struct vms_bench_state *st, const char *unit,
			  int64_t items);

/* 1 when the binary runs with --quick: kernels choose smaller sizes. */
int vms_bench_quick(void);
/*
 * 1 under bench/vmshim-bench-smoke (make check): each kernel runs one
 * iteration, and the out-of-core and swap kernels use tiny sizes.
 */
int vms_bench_smoke(void);
/*
 * The memory limit the out-of-core kernels size their working sets by, in
 * bytes: the binary's --limit=SIZE, else VMSHIM_MEM_LIMIT, else 64 MiB
 * (--quick) or 256 MiB (4 MiB under the smoke test).
 */
size_t vms_bench_limit(void);
/* Parses "256M", "1G", "65536" (K, M, G, T suffixes); 0 when malformed. */
size_t vms_parse_size(const char *text);
/* Sets what vms_bench_limit() returns (the binary's --limit flag). */
void vms_bench_set_limit(size_t bytes);

/* Kernel modules; bench_shim.cc calls each once at start. */
void vms_bench_register_fault(void);   /* bench_fault.c */
void vms_bench_register_vmcall(void);  /* bench_vmcall.c */
void vms_bench_register_fork(void);    /* bench_fork.c */
void vms_bench_register_malloc(void);  /* bench_malloc.c */
void vms_bench_register_ooc(void);     /* bench_ooc.c */

/* ---- helpers (bench_util.c) ---- */

#define VMS_MIB ((size_t)1 << 20)

/* CLOCK_MONOTONIC in seconds. */
double vms_now(void);
size_t vms_page_size(void);
/* Anonymous private read-write mapping; aborts the program on failure. */
void *vms_map_anon(size_t len);
void vms_unmap(void *p, size_t len);
/* Writes one byte in every page (makes each page resident). */
void vms_touch_pages(void *p, size_t len);
/* Aborts with a message naming what failed and errno. */
void vms_die(const char *what) __attribute__((noreturn));
/*
 * An unlinked temporary file of len bytes of non-zero data, under
 * $TMPDIR or /tmp, in the page cache; returns its descriptor.
 */
int vms_temp_file(size_t len);
/* Pages of [p, p + len) that mincore() reports resident. */
size_t vms_resident_pages(void *p, size_t len);

/* Keeps the compiler from dropping a value or the memory behind it. */
static inline void vms_escape(const void *p)
{
	__asm__ volatile("" : : "g"(p) : "memory");
}

/* xorshift64*: small, fast, deterministic. */
static inline uint64_t vms_rng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* A random permutation of 0..n-1 (malloc'd; free it). */
uint32_t *vms_permutation(size_t n, uint64_t seed);

/*
 * A team of n threads: the caller is member 0, n - 1 helpers wait on a
 * barrier.  vms_team_run() makes every member call fn(arg, index, n) once
 * and returns when all have returned.
 */
struct vms_team;
typedef void vms_team_fn(void *arg, int index, int n);
struct vms_team *vms_team_start(int n);
void vms_team_run(struct vms_team *t, vms_team_fn *fn, void *arg);
void vms_team_stop(struct vms_team *t);

#ifdef __cplusplus
}
#endif

#endif /* VMS_BENCH_H */
