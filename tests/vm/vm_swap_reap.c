/*
 * tests/vm/vm_swap_reap.c - swap slots shared with forked children come
 * back when the children end without _exit.
 *
 * Usage: vm_swap_reap MIB ROUNDS | vm_swap_reap MIB many CHILDREN
 *   MIB     the resident limit the run is meant for (VMSHIM_MEM_LIMIT)
 *   ROUNDS  rounds of the cycle below (at least 4 to see every kind)
 *   many    CHILDREN children at once, twice (see many() below)
 *
 * Each round, the parent fills a region twice the limit (most of it goes
 * to swap), forks a child that inherits it, and the child ends one of four
 * ways: exit(3) after reading part of its copy (which evicts, so it takes
 * slots of its own too); execl("/bin/true"); SIGKILL while it waits; or
 * exit(3) after forking a grandchild that outlives it.  The parent checks
 * its copy, then unmaps it: only the ended child still holds those slots,
 * and the shim must reap them rather than grow the swap file every round.
 *
 * The grandchild checks what a living process still holds is never
 * reaped: after its parent ended and the parent of all has reused the
 * reaped slots (two more rounds), it reads its whole copy and reports
 * through a pipe.
 *
 * Prints one line per round with the swap file's size, then "ok" or FAIL
 * lines.  Under the shim (found through vmshim_stats_json) it also checks
 * that the file stopped growing and that references were reaped; natively
 * only the data.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shim_probe.h"

#define P 4096UL

static int failures;

static void check(int ok, const char *what)
{
	if (!ok) {
		printf("FAIL: %s\n", what);
		failures++;
	}
}

enum end { END_EXIT, END_EXEC, END_KILL, END_GRANDCHILD };
static const char *end_name[] = { "exit", "exec", "kill", "grandchild" };

/* The grandchild of the last END_GRANDCHILD round: the pipes to start
 * its check and hear its verdict (-1: none waiting). */
static int gc_go = -1, gc_verdict = -1;

/* In the grandchild: waits for the word, checks its copy, reports. */
static void grandchild(int go, int verdict, unsigned char *m, size_t len, unsigned salt)
{
	char c;
	if (read(go, &c, 1) != 1) {
		_exit(3);
	}
	size_t bad = probe_verify(m, len, salt);
	c = bad ? 'B' : 'G';
	if (write(verdict, &c, 1) != 1) {
		_exit(3);
	}
	exit(0); /* exit(3), not _exit: reaped like the others */
}

static void grandchild_report(void)
{
	if (gc_go < 0) {
		return;
	}
	char c = 'g';
	ssize_t w = write(gc_go, &c, 1);
	c = 0;
	ssize_t r = read(gc_verdict, &c, 1);
	printf("grandchild: %s\n", w == 1 && r == 1 && c == 'G' ? "ok" : "BAD");
	check(w == 1 && r == 1 && c == 'G', "the grandchild's copy is intact after its parent ended");
	close(gc_go);
	close(gc_verdict);
	gc_go = gc_verdict = -1;
}

static void round_of(enum end how, size_t len, unsigned salt)
{
	unsigned char *m = probe_anon(len);
	probe_fill(m, len, salt);
	int ready[2], go[2] = { -1, -1 }, verdict[2] = { -1, -1 };
	if (pipe(ready) != 0 || (how == END_GRANDCHILD && (pipe(go) != 0 || pipe(verdict) != 0))) {
		perror("pipe");
		exit(2);
	}
	fflush(stdout);
	pid_t c = fork();
	if (c < 0) {
		perror("fork");
		exit(2);
	}
	if (c == 0) {
		close(ready[0]);
		switch (how) {
		case END_EXIT: {
			/* A quarter of it: evicts in the child, whose own slots
			 * must be reaped too. */
			size_t bad = probe_verify(m, len / 4, salt);
			exit(bad ? 1 : 0);
		}
		case END_EXEC:
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		case END_KILL: {
			char x = 'r';
			if (write(ready[1], &x, 1) != 1) {
				_exit(3);
			}
			for (;;) {
				pause();
			}
		}
		case END_GRANDCHILD: {
			pid_t g = fork();
			if (g == 0) {
				close(go[1]);
				close(verdict[0]);
				grandchild(go[0], verdict[1], m, len, salt);
			}
			exit(g > 0 ? 0 : 1);
		}
		}
		_exit(4);
	}
	close(ready[1]);
	if (how == END_KILL) {
		char x;
		if (read(ready[0], &x, 1) != 1) {
			check(0, "the child to be killed started");
		}
		kill(c, SIGKILL);
	}
	close(ready[0]);
	int st = 0;
	waitpid(c, &st, 0);
	int child_ok = how == END_KILL ? WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL
				       : WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (how == END_GRANDCHILD) {
		close(go[0]);
		close(verdict[1]);
		gc_go = go[1];
		gc_verdict = verdict[0];
	}
	size_t bad = probe_verify(m, len, salt);
	munmap(m, len);
	printf("round %s: child %s, parent %s", end_name[how], child_ok ? "ok" : "BAD",
	       bad ? "BAD" : "ok");
	check(child_ok, "the child ended as asked");
	check(bad == 0, "the parent's copy is intact");
}

/*
 * "many": more children at once than a swap file has participant indices
 * (128): the ones beyond are untracked; then a second wave once the first
 * ended, whose forks find every index taken by a dead child and reap.
 * Each child checks part of the parent's memory and swaps memory of its
 * own; all of them run at once, while the parent checks its copy.
 */
static void many(size_t len, int children)
{
	unsigned char *m = probe_anon(len);
	probe_fill(m, len, 99);
	size_t bad = 0;
	int childbad = 0;
	for (int wave = 0; wave < 2; wave++) {
		int go[2];
		if (pipe(go) != 0) {
			perror("pipe");
			exit(2);
		}
		pid_t *pids = calloc((size_t)children, sizeof *pids);
		for (int i = 0; i < children; i++) {
			fflush(stdout);
			pids[i] = fork();
			if (pids[i] < 0) {
				perror("fork");
				exit(2);
			}
			if (pids[i] == 0) {
				close(go[1]);
				char c;
				if (read(go[0], &c, 1) != 0) {
					_exit(3);
				}
				size_t off = (size_t)i * 16 * P % len;
				size_t n = len - off < 64 * P ? len - off : 64 * P;
				size_t b = 0;
				for (size_t k = 0; k < n / P; k++) {
					size_t page = off / P + k;
					b += m[page * P] != probe_pattern(page, 99);
				}
				size_t own = len / 4;
				unsigned char *o = probe_anon(own);
				probe_fill(o, own, (unsigned)i);
				b += probe_verify(o, own, (unsigned)i);
				if (i % 3 == 0) {
					_exit(b ? 1 : 0);
				}
				exit(b ? 1 : 0);
			}
		}
		close(go[0]);
		close(go[1]); /* all start */
		bad += probe_verify(m, len, 99);
		for (int i = 0; i < children; i++) {
			if (i % 7 == 6) {
				kill(pids[i], SIGKILL);
			}
		}
		for (int i = 0; i < children; i++) {
			int st = 0;
			waitpid(pids[i], &st, 0);
			childbad += i % 7 == 6 ? !(WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) == 0))
					      : !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		}
		free(pids);
		bad += probe_verify(m, len, 99);
	}
	printf("many: %d children twice, children %s, parent %s\n", children,
	       childbad ? "BAD" : "ok", bad ? "BAD" : "ok");
	check(childbad == 0, "every child of many saw its data");
	check(bad == 0, "the parent's copy is intact after many children");
	munmap(m, len);
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[2], "many") == 0) {
		setvbuf(stdout, NULL, _IOLBF, 0);
		many(2 * ((size_t)atol(argv[1]) << 20), atoi(argv[3]));
		if (probe_stat("swap", "out_pages") >= 0) {
			check(probe_stat("swap", "reaped_refs") > 0, "references were reaped");
			check(probe_stat("swap", "write_errors") == 0, "no swap write failed");
		}
		printf("%s\n", failures ? "FAILED" : "ok");
		return failures ? 1 : 0;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: vm_swap_reap MIB ROUNDS | vm_swap_reap MIB many CHILDREN\n");
		return 2;
	}
	size_t len = 2 * ((size_t)atol(argv[1]) << 20);
	int rounds = atoi(argv[2]);
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	setvbuf(stdout, NULL, _IOLBF, 0);
	int shim = probe_stat("swap", "out_pages") >= 0;
	long long first = -1, size = -1;
	int gc_round = -1;
	for (int r = 0; r < rounds; r++) {
		enum end how = (enum end)(r % 4);
		round_of(how, len, 16 + (unsigned)r);
		size = probe_swap_file_size(dir);
		printf(", swap file %lld KiB\n", size >= 0 ? size >> 10 : -1);
		if (r == 0) {
			first = size;
		}
		if (how == END_GRANDCHILD) {
			gc_round = r;
		} else if (gc_round >= 0 && r == gc_round + 2) {
			/* Its parent's slots were reaped and reused by now. */
			grandchild_report();
			gc_round = -1;
		}
	}
	grandchild_report();
	if (shim) {
		long long reaped = probe_stat("swap", "reaped_refs");
		printf("swap file after the first round %lld KiB, after the last %lld KiB; "
		       "references reaped %lld\n",
		       first >> 10, size >> 10, reaped);
		check(reaped > 0, "references of ended children were reaped");
		/* Without reaping each round adds a region's worth (len); with
		 * it, at most an eighth of the file per reap, and the slots the
		 * grandchild keeps. */
		check(first > 0 && size <= first + (long long)len, "the swap file stopped growing");
		check(probe_stat("swap", "write_errors") == 0, "no swap write failed");
	}
	printf("%s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}
