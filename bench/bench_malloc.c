/*
 * bench/bench_malloc.c - allocator kernels, each reporting ns per op (one
 * malloc and one free), wall time over all threads:
 *
 *   malloc/size_class       per thread, batches of 256 malloc(size), a
 *                           write to each block's first byte, then 256
 *                           frees in allocation order; size:16, 64, 256,
 *                           1024, 4096, 65536, with threads:1 and 2 (each
 *                           thread works alone on its own blocks)
 *   malloc/random_live      one thread keeps 4096 slots of live blocks;
 *                           each op frees a random slot and refills it
 *                           with a block of random size (below)
 *   malloc/producer_consumer  one thread mallocs blocks of random size and
 *                           passes them through a 256-entry queue to a
 *                           second thread, which reads and frees them:
 *                           every free is a cross-thread free
 *
 * Random sizes: 80% in 16-256 bytes, 15% in 257-4096, 5% in 4097-65536,
 * uniform within each band, from a fixed seed.  The binary itself calls
 * malloc like any program, so under LD_PRELOAD these kernels measure the
 * preloaded allocator.
 */
#include "config.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "bench.h"

#define BATCH 256

static void bm_size_class(struct vms_bench_state *st)
{
	size_t size = (size_t)vms_bench_range_arg(st, 0);
	char *p[BATCH];

	while (vms_bench_keep_running(st)) {
		for (int i = 0; i < BATCH; i++) {
			p[i] = malloc(size);
			if (p[i] == NULL)
				vms_die("malloc");
			p[i][0] = (char)i;
			vms_escape(p[i]);
		}
		for (int i = 0; i < BATCH; i++)
			free(p[i]);
	}
	vms_bench_report_per(st, "op", vms_bench_iterations(st) * BATCH);
}

static size_t rand_size(uint64_t *s)
{
	uint64_t r = vms_rng_next(s);
	unsigned band = (unsigned)(r % 100);

	r >>= 8;
	if (band < 80)
		return 16 + (size_t)(r % 241);
	if (band < 95)
		return 257 + (size_t)(r % 3840);
	return 4097 + (size_t)(r % 61440);
}

static char *alloc_random(uint64_t *s)
{
	size_t size = rand_size(s);
	char *p = malloc(size);

	if (p == NULL)
		vms_die("malloc");
	p[0] = 1;
	p[size - 1] = 1;
	vms_escape(p);
	return p;
}

#define LIVE 4096
#define OPS_PER_ITER 1024

static void bm_random_live(struct vms_bench_state *st)
{
	char **slot = malloc(LIVE * sizeof(*slot));
	uint64_t s = 0x9e3779b97f4a7c15ULL;

	if (slot == NULL)
		vms_die("malloc");
	for (int i = 0; i < LIVE; i++)
		slot[i] = alloc_random(&s);
	while (vms_bench_keep_running(st)) {
		for (int i = 0; i < OPS_PER_ITER; i++) {
			size_t k = (size_t)(vms_rng_next(&s) % LIVE);
			free(slot[k]);
			slot[k] = alloc_random(&s);
		}
	}
	for (int i = 0; i < LIVE; i++)
		free(slot[i]);
	free(slot);
	vms_bench_report_per(st, "op", vms_bench_iterations(st) * OPS_PER_ITER);
}

#define QCAP 256
#define PC_BATCH 4096

struct queue {
	_Alignas(64) atomic_size_t head; /* written by the producer */
	_Alignas(64) atomic_size_t tail; /* written by the consumer */
	_Alignas(64) char *slot[QCAP];
	uint64_t seed;
};

static void backoff(unsigned *spins)
{
	if (++*spins >= 64) {
		*spins = 0;
		sched_yield();
	}
}

static void produce_consume(void *arg, int index, int n)
{
	struct queue *q = arg;
	unsigned spins = 0;

	(void)n;
	if (index == 0) {
		size_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
		for (int i = 0; i < PC_BATCH; i++, head++) {
			char *p = alloc_random(&q->seed);
			while (head - atomic_load_explicit(&q->tail,
							   memory_order_acquire) >= QCAP)
				backoff(&spins);
			q->slot[head % QCAP] = p;
			atomic_store_explicit(&q->head, head + 1, memory_order_release);
		}
	} else {
		size_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
		volatile char sink;
		for (int i = 0; i < PC_BATCH; i++, tail++) {
			while (atomic_load_explicit(&q->head,
						    memory_order_acquire) == tail)
				backoff(&spins);
			char *p = q->slot[tail % QCAP];
			sink = p[0];
			(void)sink;
			free(p);
			atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
		}
	}
}

static void bm_producer_consumer(struct vms_bench_state *st)
{
	struct queue *q = aligned_alloc(64, sizeof(*q));
	struct vms_team *team;

	if (q == NULL)
		vms_die("aligned_alloc");
	atomic_init(&q->head, 0);
	atomic_init(&q->tail, 0);
	q->seed = 0x2545f4914f6cdd1dULL;
	team = vms_team_start(2);
	while (vms_bench_keep_running(st)) {
		double t0 = vms_now();
		vms_team_run(team, produce_consume, q);
		vms_bench_set_iteration_time(st, vms_now() - t0);
	}
	vms_team_stop(team);
	free(q);
	vms_bench_report_per(st, "op", vms_bench_iterations(st) * PC_BATCH);
}

void vms_bench_register_malloc(void)
{
	static const int64_t sizes[] = { 16, 64, 256, 1024, 4096, 65536 };
	struct vms_bench *b;

	b = vms_bench_register("malloc/size_class", bm_size_class);
	vms_bench_real_time(b);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		vms_bench_arg(b, sizes[i]);
	vms_bench_arg_name(b, "size");
	vms_bench_threads(b, 1);
	vms_bench_threads(b, 2);

	b = vms_bench_register("malloc/random_live", bm_random_live);
	vms_bench_real_time(b);

	b = vms_bench_register("malloc/producer_consumer", bm_producer_consumer);
	vms_bench_manual_time(b);
}
