/*
 * tests/reliab/reliab_stress.c - threads faulting, mapping, unmapping,
 * mprotecting and forking at once, every byte checked.
 *
 * Usage: reliab_stress SECONDS [THREADS]
 *
 * Each thread owns REGIONS mappings of 1 to 64 pages and a shadow of what
 * every page must hold: a version per page, the page's bytes all equal to
 * a value derived from (region salt, page, version), version 0 meaning a
 * zero page.  For SECONDS it picks at random: rewrite a page, check a
 * whole region, mprotect a region read-only, check it, give write back,
 * replace a region (check, munmap, mmap a new size, fill), MADV_DONTNEED a
 * part (zero from then on), map fresh zero pages over a part with
 * MAP_FIXED.  Thread 0 also forks now and then while the others keep
 * working (at most one fork per 100 ms): the child checks every byte of thread 0's regions, rewrites
 * some and checks them again; the parent then checks its own copy did not
 * change.  At the end every thread checks every byte it owns.
 *
 * Run natively and under the shim with a tight VMSHIM_MEM_LIMIT, so that
 * the working set (up to THREADS x REGIONS x 64 pages) goes through
 * reclaim and swap all the time.
 *
 * Built a second time as test_stress (VMS_UNIT_STRESS): no LD_PRELOAD and
 * no fork; the VM sources are compiled in (with ASan and UBSan in the
 * _asan variant), the calls go to vm_mmap & co directly and a SIGSEGV
 * handler of the test's calls vms_fault.
 *
 * Output: a summary line; "BAD ..." lines for wrong bytes; exit 1 then.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef VMS_UNIT_STRESS
#include <ucontext.h>

#include "util/options.h"
#include "util/stats.h"
#include "vm/mm.h"

static void *xmmap(void *addr, size_t len, int prot, int flags)
{
	void *out = NULL;
	int e = vm_mmap(addr, len, prot, flags | MAP_ANONYMOUS, -1, 0, &out);
	if (e != 0) {
		errno = e == VMS_PASSTHROUGH ? ENOSYS : e;
		return MAP_FAILED;
	}
	return out;
}
static int xmunmap(void *p, size_t len) { return vm_munmap(p, len) == 0 ? 0 : -1; }
static int xmprotect(void *p, size_t len, int prot) { return vm_mprotect(p, len, prot) == 0 ? 0 : -1; }
static int xmadvise(void *p, size_t len, int adv) { return vm_madvise(p, len, adv) == 0 ? 0 : -1; }
#define CAN_FORK 0
#else
static void *xmmap(void *addr, size_t len, int prot, int flags)
{
	return mmap(addr, len, prot, flags | MAP_ANONYMOUS, -1, 0);
}
#define xmunmap munmap
#define xmprotect mprotect
#define xmadvise madvise
#define CAN_FORK 1
#endif

#define P 4096UL
#define REGIONS 8
#define MAX_PAGES 64
#define MAX_THREADS 16

struct region {
	unsigned char *p;
	size_t pages;
	unsigned salt;
	uint8_t ver[MAX_PAGES];
	char last[MAX_PAGES];     /* the last change: n(ew) w(rite) d(ontneed) f(ixed) */
	unsigned long at[MAX_PAGES]; /* the thread's operation count then */
};

struct thread {
	int id;
	uint64_t rng;
	struct region r[REGIONS];
	unsigned long ops, forks, bad;
	pthread_t t;
};

static volatile int stop;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
static unsigned salt_next = 1;

static uint64_t rnd(struct thread *t)
{
	t->rng ^= t->rng << 13;
	t->rng ^= t->rng >> 7;
	t->rng ^= t->rng << 17;
	return t->rng;
}

static unsigned char value(const struct region *r, size_t page)
{
	if (r->ver[page] == 0) {
		return 0;
	}
	unsigned char v = (unsigned char)(r->salt * 31 + page * 7 + r->ver[page] * 13);
	return v == 0 ? 1 : v;
}

/* A new nonzero version for a page. */
static void bump(struct region *r, size_t page)
{
	r->ver[page] = (uint8_t)(r->ver[page] == 255 ? 1 : r->ver[page] + 1);
}

static void write_page(struct region *r, size_t page)
{
	memset(r->p + page * P, value(r, page), P);
}

/* Checks every byte of pages [a, b) of r; returns the wrong pages. */
static void changed(struct thread *t, struct region *r, size_t a, size_t b, char how)
{
	for (size_t i = a; i < b; i++) {
		r->last[i] = how;
		r->at[i] = t->ops;
	}
}

static unsigned long check(struct thread *t, const struct region *r, size_t a, size_t b,
			   const char *when)
{
	unsigned long bad = 0;
	for (size_t i = a; i < b; i++) {
		const uint64_t *w = (const uint64_t *)(r->p + i * P);
		uint64_t want = 0x0101010101010101ULL * value(r, i);
		for (size_t k = 0; k < P / 8; k++) {
			if (w[k] != want) {
				if (bad++ < 3) {
					printf("BAD: thread %d %s: region %p salt %u page %zu/%zu byte %zu: "
					       "%016llx, expected %016llx (last change '%c', %lu "
					       "operations ago; %lu forks so far)\n",
					       t->id, when, (void *)r->p, r->salt, i, r->pages, k * 8,
					       (unsigned long long)w[k], (unsigned long long)want,
					       r->last[i], t->ops - r->at[i], t->forks);
				}
				break;
			}
		}
	}
	return bad;
}

static void new_region(struct thread *t, struct region *r)
{
	r->pages = 1 + rnd(t) % MAX_PAGES;
	r->salt = __atomic_fetch_add(&salt_next, 1, __ATOMIC_RELAXED);
	r->p = xmmap(NULL, r->pages * P, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	if (r->p == MAP_FAILED) {
		printf("BAD: thread %d: mmap of %zu pages: errno %d\n", t->id, r->pages, errno);
		exit(2);
	}
	for (size_t i = 0; i < r->pages; i++) {
		r->ver[i] = (uint8_t)(1 + rnd(t) % 255);
		write_page(r, i);
	}
	changed(t, r, 0, r->pages, 'n');
}

static void do_fork(struct thread *t)
{
#if CAN_FORK
	pid_t c = fork();
	if (c < 0) {
		printf("BAD: fork: errno %d\n", errno);
		t->bad++;
		return;
	}
	if (c == 0) {
		unsigned long bad = 0;
		for (int i = 0; i < REGIONS; i++) {
			bad += check(t, &t->r[i], 0, t->r[i].pages, "child at fork");
		}
		for (int i = 0; i < REGIONS; i++) {
			struct region *r = &t->r[i];
			for (size_t k = 0; k < r->pages; k += 3) {
				bump(r, k);
				write_page(r, k);
			}
			bad += check(t, r, 0, r->pages, "child after writing");
		}
		_exit(bad ? 1 : 0);
	}
	int st = 0;
	while (waitpid(c, &st, 0) < 0 && errno == EINTR) {
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		printf("BAD: thread %d: forked child %s %d\n", t->id,
		       WIFEXITED(st) ? "exited" : "killed by signal",
		       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		t->bad++;
	}
	for (int i = 0; i < REGIONS; i++) {
		t->bad += check(t, &t->r[i], 0, t->r[i].pages, "parent after the child wrote");
	}
	t->forks++;
#else
	(void)t;
#endif
}

static void *work(void *arg)
{
	struct thread *t = arg;
	for (int i = 0; i < REGIONS; i++) {
		new_region(t, &t->r[i]);
	}
	double last_fork = now();
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		struct region *r = &t->r[rnd(t) % REGIONS];
		unsigned op = (unsigned)(rnd(t) % 1000);
		size_t a = rnd(t) % r->pages;
		size_t b = a + 1 + rnd(t) % (r->pages - a);
		t->ops++;
		if (op < 500) {
			bump(r, a);
			write_page(r, a);
			changed(t, r, a, a + 1, 'w');
		} else if (op < 700) {
			t->bad += check(t, r, 0, r->pages, "check");
		} else if (op < 800) {
			if (xmprotect(r->p, r->pages * P, PROT_READ) != 0) {
				printf("BAD: thread %d: mprotect: errno %d\n", t->id, errno);
				t->bad++;
			}
			t->bad += check(t, r, 0, r->pages, "read-only");
			if (xmprotect(r->p, r->pages * P, PROT_READ | PROT_WRITE) != 0) {
				printf("BAD: thread %d: mprotect back: errno %d\n", t->id, errno);
				t->bad++;
			}
		} else if (op < 900) {
			t->bad += check(t, r, 0, r->pages, "before munmap");
			xmunmap(r->p, r->pages * P);
			new_region(t, r);
		} else if (op < 950) {
			if (xmadvise(r->p + a * P, (b - a) * P, MADV_DONTNEED) != 0) {
				printf("BAD: thread %d: MADV_DONTNEED: errno %d\n", t->id, errno);
				t->bad++;
			}
			memset(r->ver + a, 0, b - a);
			changed(t, r, a, b, 'd');
			t->bad += check(t, r, a, b, "after MADV_DONTNEED");
		} else if (op < 995 || t->id != 0 || !CAN_FORK || now() - last_fork < 0.1) {
			void *q = xmmap(r->p + a * P, (b - a) * P, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_FIXED);
			if (q != r->p + a * P) {
				printf("BAD: thread %d: MAP_FIXED: errno %d\n", t->id, errno);
				t->bad++;
			}
			memset(r->ver + a, 0, b - a);
			changed(t, r, a, b, 'f');
			t->bad += check(t, r, 0, r->pages, "after MAP_FIXED");
		} else {
			do_fork(t);
			last_fork = now();
		}
	}
	for (int i = 0; i < REGIONS; i++) {
		t->bad += check(t, &t->r[i], 0, t->r[i].pages, "at the end");
		xmunmap(t->r[i].p, t->r[i].pages * P);
	}
	return NULL;
}

#ifdef VMS_UNIT_STRESS
/* The shim's handler, reduced: faults in the arena go to vms_fault. */
static void on_segv(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	ucontext_t *uc = ucv;
	enum vms_access acc = VMS_ACCESS_UNKNOWN;
#if defined(__x86_64__)
	greg_t err = uc->uc_mcontext.gregs[REG_ERR];
	acc = (err & 0x2) ? VMS_ACCESS_WRITE : VMS_ACCESS_READ;
#else
	(void)uc;
#endif
	if (vms_fault((uintptr_t)si->si_addr, acc) == VMS_FAULT_RESOLVED) {
		return;
	}
	static const char msg[] = "test_stress: a genuine fault\n";
	(void)!write(2, msg, sizeof msg - 1);
	abort();
}

static int setup(void)
{
	/* A small arena: valgrind refuses reservations of many GiB. */
	static char *env[] = { "VMSHIM_ARENA_SIZE=1G", "VMSHIM_MEM_LIMIT=4M", NULL };
	vms_options_load(env);
	vms_mm_init();
	if (vms_mm.base == 0) {
		fprintf(stderr, "test_stress: cannot reserve an arena\n");
		return -1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigfillset(&sa.sa_mask);
	return sigaction(SIGSEGV, &sa, NULL);
}
#endif

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 3;
	int n = argc > 2 ? atoi(argv[2]) : 4;
	if (n < 1 || n > MAX_THREADS || seconds <= 0) {
		fprintf(stderr, "usage: reliab_stress SECONDS [THREADS (1-%d)]\n", MAX_THREADS);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
#ifdef VMS_UNIT_STRESS
	if (setup() != 0) {
		return 2;
	}
#endif
	static struct thread th[MAX_THREADS];
	for (int i = 0; i < n; i++) {
		th[i].id = i;
		th[i].rng = 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1) + (uint64_t)time(NULL);
		pthread_create(&th[i].t, NULL, work, &th[i]);
	}
	struct timespec ts = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	unsigned long ops = 0, forks = 0, bad = 0;
	for (int i = 0; i < n; i++) {
		pthread_join(th[i].t, NULL);
		ops += th[i].ops;
		forks += th[i].forks;
		bad += th[i].bad;
	}
	printf("stress: %d threads, %.1f s, %lu operations, %lu forks, %lu wrong pages\n", n,
	       seconds, ops, forks, bad);
#ifdef VMS_UNIT_STRESS
	/* Under the 4M limit the working set went through swap, else the run
	 * proved little. */
	uint64_t out = __atomic_load_n(&vms_stats.swap_out_pages, __ATOMIC_RELAXED);
	printf("stress: %llu pages went to swap\n", (unsigned long long)out);
	if (out == 0) {
		bad++;
	}
#endif
	return bad ? 1 : 0;
}
