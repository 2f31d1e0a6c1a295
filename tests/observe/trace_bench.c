/*
 * tests/observe/trace_bench.c - first touch of anonymous memory, timed in
 * process CPU time (the machine may be shared; CPU time moves less):
 * the cost per page that tracing adds (trace_bench.sh runs it untraced and
 * traced, side by side).  Not a pass/fail test.
 *
 * usage: trace_bench PAGES seq|random  -> prints "ns/page"
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	size_t pages = argc > 1 ? strtoul(argv[1], NULL, 0) : 65536;
	int random_order = argc > 2 && strcmp(argv[2], "random") == 0;
	size_t *order = malloc(pages * sizeof *order);
	if (order == NULL)
		return 1;
	for (size_t i = 0; i < pages; i++)
		order[i] = i;
	if (random_order) {
		uint64_t x = 88172645463325252ULL;
		for (size_t i = pages - 1; i > 0; i--) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			size_t j = x % (i + 1), t = order[i];
			order[i] = order[j], order[j] = t;
		}
	}
	char *m = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return 1;
	double t0 = now();
	for (size_t i = 0; i < pages; i++)
		m[order[i] * 4096] = 1;
	double t1 = now();
	printf("%.1f\n", (t1 - t0) / (double)pages);
	return 0;
}
