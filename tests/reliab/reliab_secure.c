/*
 * tests/reliab/reliab_secure.c - security properties a program can check
 * from inside (security.test runs it natively and under the shim).
 *
 * Usage: reliab_secure reuse
 *          a page one mapping freed never shows its bytes to another:
 *          munmap then mmap, MADV_DONTNEED, MAP_FIXED over written pages,
 *          calloc after free, each under a limit that sends pages to swap
 *        reliab_secure slots
 *          pages written to swap and freed: a new mapping of fresh pages
 *          reads zeros, and one evicted into the reused slots reads its
 *          own data back, never the old
 *        reliab_secure swapfile
 *          (under the shim) the swap file is open, unlinked, mode 0600,
 *          owned by the user, in $TMPDIR
 *        reliab_secure live
 *          (under the shim) the live segment DIR/PID is mode 0600 in a
 *          0700 directory, both the user's; as root, another user cannot
 *          open it
 *        reliab_secure dontdump [swap]
 *          writes a marker into a MADV_DONTDUMP region and another into a
 *          normal one (with swap: sends the first to swap and reads it
 *          back), prints its pid, and aborts (the test looks for the
 *          markers in the core)
 *
 * Output: lines "ok ..." or "BAD ..."; exit 1 after any BAD.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../vm/shim_probe.h"

#define P 4096UL
/* The working sets below are several times this: run with VMSHIM_MEM_LIMIT=4M. */
#define LIMIT (4UL << 20)

static int failures;

static void result(int ok, const char *what)
{
	printf("%s %s\n", ok ? "ok" : "BAD", what);
	failures += !ok;
}

static unsigned char *anon(size_t len)
{
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
				0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return p;
}

/* Pages of [p, p + len) with a nonzero byte. */
static size_t dirty_pages(const unsigned char *p, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i += P) {
		for (size_t k = 0; k < P; k += 8) {
			if (*(const unsigned long *)(p + i + k) != 0) {
				n++;
				break;
			}
		}
	}
	return n;
}

static void fill(unsigned char *p, size_t len, unsigned char v)
{
	memset(p, v, len);
}

static void reuse(void)
{
	size_t len = 3 * LIMIT;
	/* munmap then mmap: the kernel places the new mapping at the same spot. */
	unsigned char *a = anon(len);
	fill(a, len, 0xA5);
	munmap(a, len);
	unsigned char *b = anon(len);
	result(dirty_pages(b, len) == 0, "munmap then mmap: the new mapping reads zeros");
	/* MADV_DONTNEED on written (partly swapped) pages. */
	fill(b, len, 0x5A);
	madvise(b, len, MADV_DONTNEED);
	result(dirty_pages(b, len) == 0, "MADV_DONTNEED: the pages read zeros");
	/* MAP_FIXED over written pages. */
	fill(b, len, 0x3C);
	unsigned char *c = mmap(b, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
				-1, 0);
	result(c == b && dirty_pages(c, len) == 0, "MAP_FIXED over written pages: zeros");
	munmap(c, len);
	/* calloc after free of the same sizes, small and big. */
	size_t sizes[] = { 24, 4000, 100000, 3 << 20 };
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		unsigned char *m[16];
		for (int i = 0; i < 16; i++) {
			m[i] = malloc(sizes[s]);
			memset(m[i], 0xEE, sizes[s]);
		}
		for (int i = 0; i < 16; i++) {
			free(m[i]);
		}
		size_t bad = 0;
		for (int i = 0; i < 16; i++) {
			m[i] = calloc(1, sizes[s]);
			for (size_t k = 0; k < sizes[s]; k++) {
				bad += m[i][k] != 0;
			}
		}
		for (int i = 0; i < 16; i++) {
			free(m[i]);
		}
		char what[96];
		snprintf(what, sizeof what, "calloc(%zu) after free: zeros", sizes[s]);
		result(bad == 0, what);
	}
}

static void slots(void)
{
	size_t len = 2 * LIMIT;
	unsigned char *a = anon(len);
	fill(a, len, 0xC3);
	madvise(a, len, MADV_PAGEOUT); /* to swap (under the shim) */
	munmap(a, len);                /* the slots are free again */
	/* Fresh pages never come from swap. */
	unsigned char *b = anon(len);
	result(dirty_pages(b, len) == 0, "fresh pages after freed swap slots: zeros");
	/* Evicted into the reused slots: its own bytes come back. */
	for (size_t i = 0; i < len; i += P) {
		memset(b + i, (int)(1 + (i / P) % 250), P);
	}
	madvise(b, len, MADV_PAGEOUT);
	unsigned char *filler = anon(len); /* and push again, through reclaim */
	fill(filler, len, 0x77);
	size_t wrong = 0;
	for (size_t i = 0; i < len; i += P) {
		for (size_t k = 0; k < P; k++) {
			if (b[i + k] != (unsigned char)(1 + (i / P) % 250)) {
				wrong++;
				break;
			}
		}
	}
	result(wrong == 0, "a mapping evicted into reused slots reads its own bytes");
	munmap(b, len);
	munmap(filler, len);
}

static void check_swap_file(int fd, const char *target, const struct stat *st, void *ctx)
{
	if (st->st_size == 0) {
		return;
	}
	++*(int *)ctx;
	const char *tmpdir = getenv("TMPDIR");
	result((st->st_mode & 07777) == 0600, "the swap file has mode 0600");
	result(st->st_uid == getuid(), "the swap file is the user's");
	result(strstr(target, "(deleted)") != NULL, "the swap file has no name");
	result(tmpdir == NULL || strncmp(target, tmpdir, strlen(tmpdir)) == 0,
	       "the swap file is in $TMPDIR");
	int fl = fcntl(fd, F_GETFD);
	result(fl >= 0 && (fl & FD_CLOEXEC), "the swap file is close-on-exec");
}

static void swapfile(void)
{
	/* Make sure the swap file exists: more than the limit, then read it back. */
	size_t len = 2 * LIMIT;
	unsigned char *a = anon(len);
	fill(a, len, 1);
	madvise(a, len, MADV_PAGEOUT);
	int found = 0;
	probe_unlinked_files(check_swap_file, &found);
	result(found == 1, "exactly one unlinked swap file is open");
	munmap(a, len);
}

static void live(void)
{
	char dir[4096], path[4200];
	const char *env = getenv("VMSHIM_LIVE_DIR");
	if (env != NULL) {
		snprintf(dir, sizeof dir, "%s", env);
	} else {
		snprintf(dir, sizeof dir, "/dev/shm/vmshim-%u", (unsigned)getuid());
	}
	snprintf(path, sizeof path, "%s/%d", dir, (int)getpid());
	struct stat ds, fs;
	if (stat(dir, &ds) != 0 || stat(path, &fs) != 0) {
		printf("BAD live segment %s: %s\n", path, strerror(errno));
		failures++;
		return;
	}
	result(S_ISDIR(ds.st_mode) && (ds.st_mode & 07777) == 0700 && ds.st_uid == getuid(),
	       "the live directory is the user's, mode 0700");
	result(S_ISREG(fs.st_mode) && (fs.st_mode & 07777) == 0600 && fs.st_uid == getuid(),
	       "the live segment is the user's, mode 0600");
	if (getuid() == 0) {
		pid_t c = fork();
		if (c == 0) {
			if (setgid(65534) != 0 || setuid(65534) != 0) {
				_exit(3);
			}
			int fd = open(path, O_RDONLY);
			_exit(fd >= 0 ? 1 : errno == EACCES ? 0 : 2);
		}
		int st = 0;
		waitpid(c, &st, 0);
		result(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		       "another user cannot open the live segment (EACCES)");
	}
}

/* The markers are built at run time from shifted bytes, so that the
 * program's own image never holds them. */
static void put_marker(unsigned char *dst, const char *shifted)
{
	size_t i;
	for (i = 0; shifted[i] != '\0'; i++) {
		dst[i] = (unsigned char)(shifted[i] - 1);
	}
	dst[i] = '\0';
}

static void dontdump(int through_swap)
{
	unsigned char *hidden = anon(16 * P), *shown = anon(16 * P);
	if (madvise(hidden, 16 * P, MADV_DONTDUMP) != 0) {
		perror("madvise(MADV_DONTDUMP)");
		exit(2);
	}
	for (size_t i = 0; i < 16 * P; i += P) {
		put_marker(hidden + i + 100, "SFMJBC.IJEEFO.NBSLFS"); /* RELIAB-HIDDEN-MARKER */
		put_marker(shown + i + 100, "SFMJBC.TIPXO.NBSLFS");   /* RELIAB-SHOWN-MARKER */
	}
	if (through_swap) {
		/* Out to swap and back (under the shim): the pages pass through
		 * the shim's own buffers on the way. */
		madvise(hidden, 16 * P, MADV_PAGEOUT);
		volatile unsigned char sum = 0;
		for (size_t i = 0; i < 16 * P; i += P) {
			sum = (unsigned char)(sum + hidden[i + 100]);
		}
		(void)sum;
	}
	printf("pid %d\n", (int)getpid());
	fflush(stdout);
	abort();
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *cmd = argc > 1 ? argv[1] : "";
	if (strcmp(cmd, "reuse") == 0) {
		reuse();
	} else if (strcmp(cmd, "slots") == 0) {
		slots();
	} else if (strcmp(cmd, "swapfile") == 0) {
		swapfile();
	} else if (strcmp(cmd, "live") == 0) {
		live();
	} else if (strcmp(cmd, "dontdump") == 0) {
		dontdump(argc > 2 && strcmp(argv[2], "swap") == 0);
	} else {
		fprintf(stderr, "usage: reliab_secure reuse|slots|swapfile|live|dontdump [swap]\n");
		return 2;
	}
	return failures ? 1 : 0;
}
