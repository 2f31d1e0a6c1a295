/*
 * tests/vm/vm_stdio_limit.c - libc's own stdio buffer under a resident
 * limit: a stream is read line by line (libc read()s into the FILE's
 * buffer, which it malloc'ed, inside libc where no wrapper sees it) while
 * the program touches more memory than VMSHIM_MEM_LIMIT between reads, so
 * reclaim evicts the idle buffer page.  Natively every line is read; the
 * shim must give the same: the kernel does not fault into the shim, so an
 * evicted stdio buffer makes libc's read fail with EFAULT and the stream
 * report an error.  vm_stdio_limit.test runs it natively and under the
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
	for (int i = 0; i < 100000; i++) {
		fprintf(f, "line %d\n", i);
	}
	rewind(f);
	size_t big = (size_t)96 << 20; /* 1.5 times the limit the test sets */
	char *m = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		return 99;
	}
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
