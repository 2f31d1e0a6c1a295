#!/usr/bin/env bash
# tests/corpus/gcc-make.sh - gcc and make -j2 build a small multi-file C
# program (make forks two compilers at a time; cc1 is malloc- and
# mmap-heavy), then the program runs.  The object files' digests are
# printed too: the compiler's output must not depend on the shim.
# needs: gcc make sha256sum
set -euo pipefail
cat >util.h <<'C'
#include <stddef.h>
unsigned long fib(unsigned n);
void sort_ints(int *a, size_t n);
unsigned long checksum(const char *s);
char *repeat(const char *s, int n);
struct tree;
struct tree *tree_insert(struct tree *t, long k);
long tree_sum(const struct tree *t, int *depth);
void tree_free(struct tree *t);
C
cat >fib.c <<'C'
#include "util.h"
unsigned long fib(unsigned n) { unsigned long a = 0, b = 1; while (n--) { unsigned long t = a + b; a = b; b = t; } return a; }
C
cat >sort.c <<'C'
#include <stdlib.h>
#include "util.h"
static int cmp(const void *x, const void *y) { int a = *(const int *)x, b = *(const int *)y; return (a > b) - (a < b); }
void sort_ints(int *a, size_t n) { qsort(a, n, sizeof *a, cmp); }
C
cat >str.c <<'C'
#include <stdlib.h>
#include <string.h>
#include "util.h"
unsigned long checksum(const char *s) { unsigned long h = 5381; while (*s) h = h * 33 + (unsigned char)*s++; return h; }
char *repeat(const char *s, int n) { size_t l = strlen(s); char *r = malloc(l * n + 1); for (int i = 0; i < n; i++) memcpy(r + l * i, s, l); r[l * n] = 0; return r; }
C
cat >tree.c <<'C'
#include <stdlib.h>
#include "util.h"
struct tree { long k; struct tree *l, *r; };
struct tree *tree_insert(struct tree *t, long k)
{
	struct tree **p = &t;
	while (*p) p = k < (*p)->k ? &(*p)->l : &(*p)->r;
	*p = calloc(1, sizeof **p);
	(*p)->k = k;
	return t;
}
static long walk(const struct tree *t, int d, int *depth)
{
	if (!t) return 0;
	if (d > *depth) *depth = d;
	return t->k + walk(t->l, d + 1, depth) + walk(t->r, d + 1, depth);
}
long tree_sum(const struct tree *t, int *depth) { *depth = 0; return walk(t, 1, depth); }
void tree_free(struct tree *t) { if (t) { tree_free(t->l); tree_free(t->r); free(t); } }
C
cat >main.c <<'C'
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "util.h"
int main(void)
{
	int n = 1000000, *a = malloc(n * sizeof *a);
	for (int i = 0; i < n; i++) a[i] = (int)((i * 7919L) % 1000003);
	sort_ints(a, n);
	printf("fib(90)=%lu sorted %d %d %d\n", fib(90), a[0], a[n / 2], a[n - 1]);
	char *r = repeat("abc", 1000000);
	printf("checksum %lu len %zu\n", checksum(r), strlen(r));
	struct tree *t = NULL;
	for (long i = 0; i < 200000; i++) t = tree_insert(t, (i * 7919) % 200003);
	int depth;
	long sum = tree_sum(t, &depth);
	printf("tree sum %ld depth %d\n", sum, depth);
	char *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(m, 7, 1 << 20);
	m = mremap(m, 1 << 20, 16 << 20, MREMAP_MAYMOVE);
	unsigned long s = 0;
	for (int i = 0; i < 16 << 20; i += 4096) s += m[i];
	printf("mapped sum %lu\n", s);
	pid_t pid = fork();
	if (pid == 0) {
		a[0] = 42;
		tree_free(t);
		_exit(a[0] == 42 ? 3 : 4);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("child exit %d, parent still sees %d, tree %ld\n", WEXITSTATUS(st), a[0], tree_sum(t, &depth));
	tree_free(t);
	free(r);
	free(a);
	munmap(m, 16 << 20);
	return 0;
}
C
cat >Makefile <<'M'
CFLAGS = -O2 -g -Wall -Wextra -Werror
OBJS = main.o fib.o sort.o str.o tree.o
prog: $(OBJS)
	$(CC) -o $@ $(OBJS)
$(OBJS): util.h
M
make -s -j2 --no-print-directory CC=gcc
./prog
make -s -j2 --no-print-directory CC=gcc  # nothing to do
sha256sum main.o fib.o sort.o str.o tree.o | cut -c1-16
gcc -O2 -S -o - main.c | grep -c 'call' 
