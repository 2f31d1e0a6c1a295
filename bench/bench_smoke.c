/*
 * bench/bench_smoke.c - bench/vmshim-bench-smoke, the functional smoke
 * test of the benchmark kernels (make check, through bench/smoke.test).
 *
 * Owns: a second, minimal implementation of the registration and state API
 * of bench/bench.h, without google-benchmark: every registered kernel runs
 * exactly one iteration for each of its argument sets and thread counts,
 * with the --quick sizes (the out-of-core and swap kernels shrink further,
 * see vms_bench_smoke()).  A kernel passes when it returns; one that stops
 * with an error passes too when the error starts with "unavailable:" (a
 * machine without swap), and fails otherwise.  Timings are printed for
 * the curious and never judged.
 *
 * Usage: vmshim-bench-smoke [PREFIX...]   runs the kernels whose name
 * starts with one of the prefixes (all without any).
 */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define MAX_BENCH 128
#define MAX_ARGS 16
#define MAX_THREADS 4

struct vms_bench {
	const char *name;
	vms_bench_fn *fn;
	int64_t args[MAX_ARGS][2];
	int nargs;          /* argument sets */
	int arity;          /* 0, 1 or 2 */
	int threads[MAX_THREADS];
	int nthreads;
};

struct vms_bench_state {
	const int64_t *args;
	int thread_index, threads;
	int64_t iterations;
	int64_t items;
	const char *unit;
	double time;        /* manual time, if set */
	char error[400];
};

static struct vms_bench benches[MAX_BENCH];
static int nbenches;

struct vms_bench *vms_bench_register(const char *name, vms_bench_fn *fn)
{
	struct vms_bench *b;

	if (nbenches == MAX_BENCH) {
		fprintf(stderr, "vmshim-bench-smoke: more than %d benchmarks\n", MAX_BENCH);
		exit(2);
	}
	b = &benches[nbenches++];
	memset(b, 0, sizeof(*b));
	b->name = name;
	b->fn = fn;
	return b;
}

static struct vms_bench *add_args(struct vms_bench *b, int arity, int64_t a0, int64_t a1)
{
	if (b->nargs < MAX_ARGS) {
		b->args[b->nargs][0] = a0;
		b->args[b->nargs][1] = a1;
		b->nargs++;
		b->arity = arity;
	}
	return b;
}

struct vms_bench *vms_bench_arg(struct vms_bench *b, int64_t arg)
{
	return add_args(b, 1, arg, 0);
}

struct vms_bench *vms_bench_args2(struct vms_bench *b, int64_t a0, int64_t a1)
{
	return add_args(b, 2, a0, a1);
}

struct vms_bench *vms_bench_range(struct vms_bench *b, int64_t lo, int64_t hi, int mult)
{
	if (lo < 1)
		lo = 1;
	for (int64_t x = lo; x <= hi; x *= mult > 1 ? mult : 2)
		add_args(b, 1, x, 0);
	return b;
}

struct vms_bench *vms_bench_arg_name(struct vms_bench *b, const char *names)
{
	(void)names;
	return b;
}

struct vms_bench *vms_bench_threads(struct vms_bench *b, int threads)
{
	if (b->nthreads < MAX_THREADS)
		b->threads[b->nthreads++] = threads;
	return b;
}

struct vms_bench *vms_bench_manual_time(struct vms_bench *b) { return b; }
struct vms_bench *vms_bench_real_time(struct vms_bench *b) { return b; }
struct vms_bench *vms_bench_unit(struct vms_bench *b, enum vms_bench_unit u)
{
	(void)u;
	return b;
}
struct vms_bench *vms_bench_min_time(struct vms_bench *b, double s)
{
	(void)s;
	return b;
}
struct vms_bench *vms_bench_fixed_iterations(struct vms_bench *b, int64_t n)
{
	(void)n;
	return b;
}
struct vms_bench *vms_bench_repetitions(struct vms_bench *b, int n)
{
	(void)n;
	return b;
}

int vms_bench_keep_running(struct vms_bench_state *st)
{
	if (st->error[0] != '\0' || st->iterations >= 1)
		return 0;
	st->iterations++;
	return 1;
}

int64_t vms_bench_range_arg(struct vms_bench_state *st, int index)
{
	return st->args[index];
}

int vms_bench_thread_index(struct vms_bench_state *st) { return st->thread_index; }
int vms_bench_thread_count(struct vms_bench_state *st) { return st->threads; }
int64_t vms_bench_iterations(struct vms_bench_state *st) { return st->iterations; }
void vms_bench_pause(struct vms_bench_state *st) { (void)st; }
void vms_bench_resume(struct vms_bench_state *st) { (void)st; }

void vms_bench_set_iteration_time(struct vms_bench_state *st, double seconds)
{
	st->time += seconds;
}

void vms_bench_set_items_processed(struct vms_bench_state *st, int64_t n)
{
	st->items = n;
}

void vms_bench_set_bytes_processed(struct vms_bench_state *st, int64_t n)
{
	(void)st;
	(void)n;
}

void vms_bench_set_label(struct vms_bench_state *st, const char *label)
{
	(void)st;
	(void)label;
}

void vms_bench_counter(struct vms_bench_state *st, const char *name, double value,
		       unsigned flags)
{
	(void)st;
	(void)name;
	(void)value;
	(void)flags;
}

void vms_bench_skip_with_error(struct vms_bench_state *st, const char *msg)
{
	snprintf(st->error, sizeof(st->error), "%s", msg);
}

void vms_bench_report_per(struct vms_bench_state *st, const char *unit, int64_t items)
{
	st->items = items;
	st->unit = unit;
}

int vms_bench_quick(void)
{
	return 1;
}

int vms_bench_smoke(void)
{
	return 1;
}

struct job {
	vms_bench_fn *fn;
	struct vms_bench_state st;
};

static void *run_job(void *arg)
{
	struct job *j = arg;
	j->fn(&j->st);
	return NULL;
}

static int selected(const char *name, int argc, char **argv)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (strncmp(name, argv[i], strlen(argv[i])) == 0)
			return 1;
	return 0;
}

/* Runs one argument set with n threads; returns 0 on success. */
static int run_one(const struct vms_bench *b, const int64_t *args, int n)
{
	struct job jobs[MAX_THREADS * 4];
	pthread_t tids[MAX_THREADS * 4];
	char label[200];
	int len, bad = 0;
	double t0;

	if (n < 1 || n > (int)(sizeof(jobs) / sizeof(jobs[0])))
		n = 1;
	len = snprintf(label, sizeof(label), "%s", b->name);
	for (int a = 0; a < b->arity && len < (int)sizeof(label); a++)
		len += snprintf(label + len, sizeof(label) - (size_t)len, "/%" PRId64, args[a]);
	if (n > 1 && len < (int)sizeof(label))
		snprintf(label + len, sizeof(label) - (size_t)len, "/threads:%d", n);
	t0 = vms_now();
	for (int i = 0; i < n; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].fn = b->fn;
		jobs[i].st.args = args;
		jobs[i].st.thread_index = i;
		jobs[i].st.threads = n;
	}
	for (int i = 1; i < n; i++)
		if (pthread_create(&tids[i], NULL, run_job, &jobs[i]) != 0)
			vms_die("pthread_create");
	run_job(&jobs[0]);
	for (int i = 1; i < n; i++)
		pthread_join(tids[i], NULL);
	for (int i = 0; i < n; i++) {
		const struct vms_bench_state *st = &jobs[i].st;
		if (st->error[0] != '\0') {
			int skip = strncmp(st->error, "unavailable:", 12) == 0;
			printf("%s: %s (%s)\n", skip ? "SKIP" : "FAIL", label, st->error);
			bad |= !skip;
			return bad;
		}
		if (st->iterations != 1 || st->unit == NULL) {
			printf("FAIL: %s (ran %" PRId64 " iterations, reported %s)\n", label,
			       st->iterations, st->unit != NULL ? st->unit : "no cost per unit");
			return 1;
		}
	}
	printf("PASS: %s (%.1f ms, %" PRId64 " %s%s)\n", label, (vms_now() - t0) * 1e3,
	       jobs[0].st.items, jobs[0].st.unit, jobs[0].st.items == 1 ? "" : "s");
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	int failed = 0, ran = 0;
	static const int64_t none[2];

	vms_bench_register_fault();
	vms_bench_register_vmcall();
	vms_bench_register_fork();
	vms_bench_register_malloc();
	vms_bench_register_ooc();
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < nbenches; i++) {
		const struct vms_bench *b = &benches[i];
		int nsets = b->nargs > 0 ? b->nargs : 1;
		int nthr = b->nthreads > 0 ? b->nthreads : 1;

		if (!selected(b->name, argc, argv))
			continue;
		for (int a = 0; a < nsets; a++) {
			for (int t = 0; t < nthr; t++) {
				failed += run_one(b, b->nargs > 0 ? b->args[a] : none,
						  b->nthreads > 0 ? b->threads[t] : 1);
				ran++;
			}
		}
	}
	if (ran == 0) {
		fprintf(stderr, "vmshim-bench-smoke: no kernel matches\n");
		return 2;
	}
	printf("%d of %d kernel runs failed\n", failed, ran);
	return failed != 0;
}
