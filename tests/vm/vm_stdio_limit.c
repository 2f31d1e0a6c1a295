/*
 * tests/vm/vm_stdio_limit.c - libc's own stdio buffers under a resident
 * limit: a stream is written and then read line by line (libc write()s
 * and read()s the FILE's buffer, which it malloc'ed, inside libc where no
 * wrapper sees it) while the program touches more memory than
 * VMSHIM_MEM_LIMIT between calls, so reclaim evicts the idle buffer page.
 * Natively every line is written and read; the shim must give the same:
 * the kernel does not fault into the shim, so an evicted stdio buffer
 * makes libc's write or read fail with EFAULT and the stream report an
 * error (sort in the corpus: "write failed: 'standard output': Bad
 * address", "read failed: ...: Bad address").  vm_stdio_limit.test runs it natively and under the
 * shim with VMSHIM_MEM_LIMIT=64M and compares.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int main(void)
{
	FILE *f = tmpfile();
	if (f == NULL) {
		return 99;
	}
	size_t big = (size_t)96 << 20; /* 1.5 times the limit the test sets */
	char *m = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		return 99;
	}
	for (int i = 0; i < 100000; i++) {
		fprintf(f, "line %d\n", i);
		if (i % 20000 == 19999) {
			for (size_t o = 0; o < big; o += 4096) {
				m[o] = (char)o;
			}
		}
	}
	int werr = fflush(f) != 0 || ferror(f);
	printf("written %ld bytes, error %d (%s)\n", ftell(f), werr, werr ? strerror(errno) : "none");
	if (werr) {
		return 1;
	}
	rewind(f);
	char line[64];
	long sum = 0;
	int n = 0;
	while (fgets(line, sizeof line, f) != NULL) {
		sum += atol(line + 5);
		if (++n % 20000 == 0) {
			for (size_t o = 0; o < big; o += 4096) {
				m[o] = (char)o;
			}
		}
	}
	int err = ferror(f);
	printf("lines %d sum %ld error %d (%s)\n", n, sum, err, err ? strerror(errno) : "none");
	return err ? 1 : 0;
}
