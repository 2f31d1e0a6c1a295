/*
 * tests/vm/vm_arena.c - what only the shim can show: anonymous memory is
 * served by the arena, first touches are counted and filled by blocks,
 * memory goes back on munmap, and the kernel mappings the shim causes stay
 * counted and under vm.max_map_count whatever the access pattern.
 *
 * Runs under LD_PRELOAD only (vm_arena.test); reads the shim's statistics
 * in-process through vmshim_stats_json().  Prints "ok NAME" per check and
 * exits non-zero on the first failure.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096L

static size_t (*stats_json)(char *, size_t);

static long long stat_of(const char *section, const char *key)
{
	static char buf[16384];
	char pat[64];
	stats_json(buf, sizeof buf);
	snprintf(pat, sizeof pat, "\"%s\": {", section);
	char *s = strstr(buf, pat);
	if (s == NULL) {
		fprintf(stderr, "no section %s in %s\n", section, buf);
		exit(1);
	}
	snprintf(pat, sizeof pat, "\"%s\": ", key);
	char *k = strstr(s, pat);
	if (k == NULL || k > strchr(s, '}')) {
		fprintf(stderr, "no key %s.%s\n", section, key);
		exit(1);
	}
	return strtoll(k + strlen(pat), NULL, 10);
}

#define CHECK(name, cond)                                                          \
	do {                                                                       \
		if (!(cond)) {                                                     \
			fprintf(stderr, "FAIL %s: %s (line %d)\n", name, #cond, __LINE__); \
			exit(1);                                                   \
		}                                                                  \
		printf("ok %s\n", name);                                           \
	} while (0)

static char *anon(size_t pages)
{
	char *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

static int in_arena(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	return a >= (uintptr_t)stat_of("arena", "start") && a < (uintptr_t)stat_of("arena", "end");
}

static long resident_pages_kernel(void)
{
	long size, rss;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f == NULL || fscanf(f, "%ld %ld", &size, &rss) != 2) {
		exit(1);
	}
	fclose(f);
	return rss;
}

/* Kernel mappings inside the arena, counted from /proc/self/maps. */
static long maps_in_arena(long *total)
{
	uintptr_t lo = (uintptr_t)stat_of("arena", "start"), hi = (uintptr_t)stat_of("arena", "end");
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	long n = 0, all = 0;
	while (fgets(line, sizeof line, f) != NULL) {
		uintptr_t s, e;
		all++;
		if (sscanf(line, "%lx-%lx", &s, &e) == 2 && s >= lo && e <= hi) {
			n++;
		}
	}
	fclose(f);
	if (total != NULL) {
		*total = all;
	}
	return n;
}

static void served_by_arena(void)
{
	long long vmas = stat_of("vmas", "count"), zf = stat_of("faults", "zero_fill");
	char *p = anon(64);
	CHECK("anonymous mmap lands in the arena", in_arena(p));
	CHECK("the mapping is a VMA", stat_of("vmas", "count") >= vmas + (vmas ? 0 : 1));
	p[0] = 1;
	CHECK("first touch is a zero-fill fault", stat_of("faults", "zero_fill") == zf + 1);
	CHECK("fresh memory reads zero", p[PAGE * 5] == 0 && p[PAGE * 63 + 17] == 0);
	munmap(p, 64 * PAGE);
	char *s = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK("shared anonymous mmap lands in the arena", in_arena(s));
	s[1] = 9;
	CHECK("shared anonymous memory holds data", s[1] == 9);
	munmap(s, 4 * PAGE);
}

static void fault_around_fills_blocks(void)
{
	char *p = anon(64);
	long long zf = stat_of("faults", "zero_fill");
	p[3 * PAGE] = 1; /* block of 16 pages: 0..15 */
	for (int i = 0; i < 16; i++) {
		p[i * PAGE + 1] = 2;
	}
	CHECK("one trap fills an aligned block of 16", stat_of("faults", "zero_fill") == zf + 1);
	unsigned char vec[64];
	mincore(p, 64 * PAGE, vec);
	int resident = 0;
	for (int i = 0; i < 64; i++) {
		resident += vec[i] & 1;
	}
	CHECK("the block is populated in the kernel, not beyond", resident == 16);
	munmap(p, 64 * PAGE);

	p = anon(64);
	madvise(p, 64 * PAGE, MADV_RANDOM);
	zf = stat_of("faults", "zero_fill");
	for (int i = 0; i < 16; i++) {
		p[i * PAGE] = 1;
	}
	CHECK("MADV_RANDOM: one page per trap", stat_of("faults", "zero_fill") == zf + 16);
	munmap(p, 64 * PAGE);

	p = anon(8192);
	zf = stat_of("faults", "zero_fill");
	for (long i = 0; i < 8192; i++) {
		p[i * PAGE] = 1;
	}
	long long traps = stat_of("faults", "zero_fill") - zf;
	CHECK("sequential touches widen the block (8192 pages, < 64 traps)", traps < 64);
	munmap(p, 8192 * PAGE);
}

static void memory_goes_back(void)
{
	long before = resident_pages_kernel();
	long long res = stat_of("resident", "pages");
	char *p = anon(16384);
	memset(p, 1, 16384 * PAGE);
	CHECK("touched pages are resident", resident_pages_kernel() >= before + 16000);
	CHECK("the shim counts them", stat_of("resident", "pages") >= res + 16384);
	munmap(p, 16384 * PAGE);
	CHECK("munmap returns them to the kernel", resident_pages_kernel() < before + 1000);
	CHECK("and to the shim's count", stat_of("resident", "pages") == res);
	p = anon(1024);
	memset(p, 7, 1024 * PAGE);
	madvise(p, 1024 * PAGE, MADV_DONTNEED);
	CHECK("MADV_DONTNEED: private memory reads zero", p[5 * PAGE] == 0 && p[1000 * PAGE] == 0);
	munmap(p, 1024 * PAGE);
}

static void kernel_mappings_counted(void)
{
	char *p = anon(256);
	for (int i = 0; i < 256; i += 32) {
		p[i * PAGE] = 1;
	}
	for (int i = 0; i < 256; i += 64) {
		mprotect(p + i * PAGE, PAGE, PROT_READ);
	}
	char *s = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	s[0] = 1;
	long long counted = stat_of("kernel", "mappings");
	long real = maps_in_arena(NULL);
	printf("# kernel mappings: counted %lld, /proc/self/maps %ld\n", counted, real);
	CHECK("the shim's count of kernel mappings matches /proc/self/maps", counted == real);
	munmap(s, 16 * PAGE);
	munmap(p, 256 * PAGE);
	CHECK("and returns to it after munmap", stat_of("kernel", "mappings") == maps_in_arena(NULL));
}

static void scattered_pages_stay_under_the_limit(void)
{
	const long pages = 200000; /* every other page: 100,000 touches */
	char *p = anon(pages);
	madvise(p, pages * PAGE, MADV_RANDOM);
	for (long i = 0; i < pages; i += 2) {
		p[i * PAGE] = (char)i;
	}
	long total;
	long in = maps_in_arena(&total);
	printf("# scattered: %ld kernel mappings in the arena, %ld in the process, shim counts %lld\n",
	       in, total, stat_of("kernel", "mappings"));
	long bad = 0;
	for (long i = 0; i < pages; i += 2) {
		bad += p[i * PAGE] != (char)i || p[i * PAGE + PAGE] != 0;
	}
	CHECK("every scattered page holds its byte, untouched ones read zero", bad == 0);
	CHECK("kernel mappings stay well under vm.max_map_count", total < 65530 * 3 / 4);
	munmap(p, pages * PAGE);
}

#include <setjmp.h>
#include <signal.h>
static sigjmp_buf edge_jb;
static void edge_segv(int sig) { (void)sig; siglongjmp(edge_jb, 1); }

/* 1 if a write at p faults, else 0 (the byte is written). */
static int write_faults(volatile char *p)
{
	if (sigsetjmp(edge_jb, 1) == 0) {
		*p = 1;
		return 0;
	}
	return 1;
}

/* mprotect, madvise and munmap over [lo, lo + 4 pages), whose lower half
 * is outside the arena and upper half inside, or the reverse. */
static void straddle(char *lo, char *outside, char *inside)
{
	outside[0] = inside[0] = 1;
	signal(SIGSEGV, edge_segv);
	CHECK("mprotect across the edge", mprotect(lo, 4 * PAGE, PROT_READ) == 0 &&
						  write_faults(outside + PAGE) &&
						  write_faults(inside + PAGE));
	CHECK("madvise across the edge", madvise(lo, 4 * PAGE, MADV_DONTNEED) == 0 &&
						 outside[0] == 0 && inside[0] == 0);
	CHECK("munmap across the edge", munmap(lo, 4 * PAGE) == 0 &&
						msync(inside, PAGE, MS_SYNC) == -1 && errno == ENOMEM &&
						mmap(outside, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS |
						     MAP_FIXED_NOREPLACE, -1, 0) == outside);
	munmap(outside, PAGE);
	signal(SIGSEGV, SIG_DFL);
}

static char *fixed_anon(char *at)
{
	return mmap(at, 2 * PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
}

static void calls_across_the_arena_edge(void)
{
	char *base = (char *)(uintptr_t)stat_of("arena", "start");
	char *end = (char *)(uintptr_t)stat_of("arena", "end");
	if (fixed_anon(base - 2 * PAGE) == base - 2 * PAGE) {
		CHECK("a fixed mapping at the arena's start is the shim's",
		      fixed_anon(base) == base);
		straddle(base - 2 * PAGE, base - 2 * PAGE, base);
	} else if (fixed_anon(end) == end) {
		CHECK("a fixed mapping at the arena's end is the shim's",
		      fixed_anon(end - 2 * PAGE) == end - 2 * PAGE);
		straddle(end - 2 * PAGE, end, end - 2 * PAGE);
	} else {
		printf("# skipped: the pages on both sides of the arena are taken\n");
	}
}

static void file_dirty_tracking(void)
{
	char path[] = "/tmp/vmshim-arena-XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	if (fd < 0 || ftruncate(fd, 16 * PAGE) != 0) {
		exit(1);
	}
	long long ff = stat_of("faults", "file"), wb = stat_of("file", "written_back_pages");
	long long dirty = stat_of("file", "dirty_pages"), cow = stat_of("faults", "cow");
	char *p = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK("a file mapping lands in the arena", in_arena(p));
	volatile char c = p[0];
	(void)c;
	CHECK("first touch of a file page is a file fault", stat_of("faults", "file") == ff + 1);
	CHECK("reading does not dirty", stat_of("file", "dirty_pages") == dirty);
	p[0] = 1;
	p[5 * PAGE] = 1;
	p[5 * PAGE + 9] = 2;
	CHECK("each first write dirties one page", stat_of("file", "dirty_pages") == dirty + 2);
	msync(p, 16 * PAGE, MS_SYNC);
	CHECK("msync writes the dirty pages back", stat_of("file", "written_back_pages") == wb + 2 &&
						       stat_of("file", "dirty_pages") == dirty);
	p[5 * PAGE] = 3;
	CHECK("a written-back page dirties again", stat_of("file", "dirty_pages") == dirty + 1);
	munmap(p, 16 * PAGE);
	CHECK("munmap hands the dirty page back", stat_of("file", "written_back_pages") == wb + 3 &&
						       stat_of("file", "dirty_pages") == dirty);
	char *q = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	q[0] = 5;
	q[PAGE] = 5;
	CHECK("private file writes are COW faults", stat_of("faults", "cow") == cow + 2);
	munmap(q, 4 * PAGE);
	close(fd);
}

int main(void)
{
	stats_json = (size_t(*)(char *, size_t))dlsym(RTLD_DEFAULT, "vmshim_stats_json");
	if (stats_json == NULL) {
		fprintf(stderr, "not running under libvmshim\n");
		return 1;
	}
	if (stat_of("arena", "start") == 0) {
		fprintf(stderr, "the shim has no arena\n");
		return 1;
	}
	served_by_arena();
	fault_around_fills_blocks();
	memory_goes_back();
	kernel_mappings_counted();
	file_dirty_tracking();
	calls_across_the_arena_edge();
	scattered_pages_stay_under_the_limit();
	return 0;
}
