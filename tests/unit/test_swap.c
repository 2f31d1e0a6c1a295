/*
 * tests/unit/test_swap.c - the swap device (vm/swap.c) without LD_PRELOAD:
 * the swap file's creation and privacy, the slot allocator (runs kept
 * together, reuse of freed runs, a full file), reference counts, and data
 * written and read back with O_DIRECT-sized buffers, and the references of
 * forked children that end without dropping theirs (a failed fork, exit,
 * exec, SIGKILL; a grandchild that outlives its parent keeps its own).
 *
 * The device is a process-wide singleton, so the tests run in order on one
 * device: a swap file of VMSHIM_SWAP_MAX=1M (256 slots) in a fresh
 * directory.
 */
#include "config.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/options.h"
#include "vm/mm.h"
#include "vm/swap.h"

static char dir[] = "/tmp/vmshim-test-swap.XXXXXX";

static int setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL) {
		return -1;
	}
	static char dir_env[64], *envp[4];
	snprintf(dir_env, sizeof dir_env, "VMSHIM_SWAP_DIR=%s", dir);
	envp[0] = dir_env;
	envp[1] = "VMSHIM_SWAP_MAX=1M";
	envp[2] = "VMSHIM_LOG=error";
	envp[3] = NULL;
	vms_options_load(envp);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return rmdir(dir);
}

/* The descriptor of the unlinked swap file this process holds, or -1. */
static int swap_fd(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int found = -1;
	while ((e = readdir(d)) != NULL) {
		char link[300], target[4096];
		snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(link, target, sizeof target - 1);
		if (n > 0) {
			target[n] = '\0';
			if (strncmp(target, dir, strlen(dir)) == 0) {
				found = atoi(e->d_name);
			}
		}
	}
	closedir(d);
	return found;
}

static void test_first_allocation_makes_a_private_unlinked_file(void **state)
{
	(void)state;
	assert_false(vms_swap_ready());
	uint64_t first = 99;
	assert_int_equal(vms_swap_alloc(8, &first), 8);
	assert_int_equal(first, 0);
	assert_true(vms_swap_ready());
	int fd = swap_fd();
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_nlink, 0);
	/* Nothing is left in the directory. */
	DIR *d = opendir(dir);
	int entries = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		entries += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	}
	closedir(d);
	assert_int_equal(entries, 0);
}

static void test_runs_are_consecutive(void **state)
{
	(void)state;
	uint64_t a, b;
	assert_int_equal(vms_swap_alloc(16, &a), 16);
	assert_int_equal(a, 8);
	assert_int_equal(vms_swap_alloc(4, &b), 4);
	assert_int_equal(b, 24);
	for (uint64_t s = 0; s < 28; s++) {
		assert_int_equal(vms_swap_refcount(s), 1);
	}
}

static void test_freed_runs_are_reused_short_ones_are_not(void **state)
{
	(void)state;
	for (uint64_t s = 2; s < 6; s++) {
		vms_swap_put(s); /* a run of 4 free slots at 2 */
	}
	vms_swap_put(12); /* a single free slot at 12 */
	assert_int_equal(vms_swap_refcount(3), 0);
	uint64_t a;
	assert_int_equal(vms_swap_alloc(4, &a), 4);
	assert_int_equal(a, 2);
	/* A cluster of 16 does not go into the single hole: fresh slots. */
	assert_int_equal(vms_swap_alloc(16, &a), 16);
	assert_int_equal(a, 28);
	assert_int_equal(vms_swap_refcount(12), 0);
}

static void test_references(void **state)
{
	(void)state;
	vms_swap_ref(20);
	assert_int_equal(vms_swap_refcount(20), 2);
	vms_swap_put(20);
	assert_int_equal(vms_swap_refcount(20), 1);
	vms_swap_put(20);
	assert_int_equal(vms_swap_refcount(20), 0);
}

static void test_data_round_trip(void **state)
{
	(void)state;
	size_t n = 4;
	unsigned char *buf = mmap(NULL, n * 4096, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(buf != MAP_FAILED);
	for (size_t i = 0; i < n * 4096; i++) {
		buf[i] = (unsigned char)(i * 7 + 3);
	}
	uint64_t first;
	assert_int_equal(vms_swap_alloc(n, &first), n);
	assert_int_equal(vms_swap_write(first, buf, n), 0);
	memset(buf, 0, n * 4096);
	assert_int_equal(vms_swap_read(first, buf, n), 0);
	for (size_t i = 0; i < n * 4096; i++) {
		if (buf[i] != (unsigned char)(i * 7 + 3)) {
			fail_msg("byte %zu read back wrong", i);
		}
	}
	/* Slots never written read as an error, not as stale data. */
	assert_int_not_equal(vms_swap_read(200, buf, 1), 0);
	munmap(buf, n * 4096);
}

/* Refcounts of [first, first + n) all equal to want. */
static void assert_counts(uint64_t first, size_t n, uint32_t want)
{
	for (uint64_t s = first; s < first + n; s++) {
		assert_int_equal(vms_swap_refcount(s), want);
	}
}

/* A fork that failed: the references taken for a child that never was
 * are reaped once the parent's handler closed the child's description. */
static void test_references_of_a_failed_fork_are_reaped(void **state)
{
	(void)state;
	uint64_t a;
	assert_int_equal(vms_swap_alloc(4, &a), 4);
	vms_swap_fork_prepare();
	for (uint64_t s = a; s < a + 4; s++) {
		vms_swap_ref(s);
	}
	assert_counts(a, 4, 2);
	vms_swap_fork_parent();
	assert_int_equal(vms_swap_reap(), 4);
	assert_counts(a, 4, 1);
	assert_int_equal(vms_swap_reap(), 0);
	for (uint64_t s = a; s < a + 4; s++) {
		vms_swap_put(s);
	}
	assert_counts(a, 4, 0);
}

enum child_end { END_EXIT, END_EXEC, END_KILL, END_GRANDCHILD };

/*
 * A child shares 4 of our slots, allocates 2 of its own, and ends: with
 * exit(3) (no _exit hook runs here), by exec, or SIGKILL; or it forks a
 * grandchild that shares them too, and ends.  While it lives nothing is
 * reaped; once it ended, its references are, and a grandchild's are not.
 */
static void child_ends(enum child_end how)
{
	uint64_t a;
	assert_int_equal(vms_swap_alloc(4, &a), 4);
	int up[2], down[2];
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	vms_swap_fork_prepare();
	for (uint64_t s = a; s < a + 4; s++) {
		vms_swap_ref(s);
	}
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		vms_swap_fork_child();
		uint64_t own[2];
		if (vms_swap_alloc(1, &own[0]) != 1 || vms_swap_alloc(1, &own[1]) != 1) {
			_exit(3);
		}
		if (how == END_GRANDCHILD) {
			vms_swap_fork_prepare();
			for (uint64_t s = a; s < a + 4; s++) {
				vms_swap_ref(s);
			}
			int ready[2];
			if (pipe(ready) != 0) {
				_exit(3);
			}
			pid_t g = fork();
			if (g == 0) {
				vms_swap_fork_child();
				/* Until now it held its parent's description
				 * too, keeping its parent alive. */
				if (write(ready[1], "r", 1) != 1) {
					_exit(3);
				}
				char c;
				/* Lives until the test says; then ends. */
				if (read(down[0], &c, 1) != 1) {
					_exit(3);
				}
				exit(0);
			}
			vms_swap_fork_parent();
			char r;
			if (read(ready[0], &r, 1) != 1) {
				_exit(3);
			}
		}
		if (write(up[1], own, sizeof own) != (ssize_t)sizeof own) {
			_exit(3);
		}
		if (how == END_EXEC) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		if (how == END_KILL) {
			for (;;) {
				pause();
			}
		}
		exit(0);
	}
	vms_swap_fork_parent();
	uint64_t own[2];
	assert_int_equal(read(up[0], own, sizeof own), (ssize_t)sizeof own);
	if (how == END_KILL) {
		/* Alive: nothing of it is reaped. */
		assert_int_equal(vms_swap_reap(), 0);
		assert_counts(a, 4, 2);
		assert_int_equal(vms_swap_refcount(own[0]), 1);
		kill(pid, SIGKILL);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(how == END_KILL ? WIFSIGNALED(st) : WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(vms_swap_reap(), 6);
	assert_int_equal(vms_swap_refcount(own[0]), 0);
	assert_int_equal(vms_swap_refcount(own[1]), 0);
	if (how == END_GRANDCHILD) {
		/* The grandchild still holds them. */
		assert_counts(a, 4, 2);
		assert_int_equal(write(down[1], "g", 1), 1);
		/* Not our child: wait until its references go. */
		size_t got = 0;
		for (int i = 0; i < 5000 && got == 0; i++) {
			usleep(1000);
			got = vms_swap_reap();
		}
		assert_int_equal(got, 4);
	}
	assert_counts(a, 4, 1);
	for (uint64_t s = a; s < a + 4; s++) {
		vms_swap_put(s);
	}
	assert_counts(a, 4, 0);
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
}

static void test_references_of_a_child_that_exits_are_reaped(void **state)
{
	(void)state;
	child_ends(END_EXIT);
}

static void test_references_of_a_child_that_execs_are_reaped(void **state)
{
	(void)state;
	child_ends(END_EXEC);
}

static void test_references_of_a_killed_child_are_reaped(void **state)
{
	(void)state;
	child_ends(END_KILL);
}

static void test_a_grandchild_keeps_its_references(void **state)
{
	(void)state;
	child_ends(END_GRANDCHILD);
}

/* A child that dies in its own fork prepare, with references taken for a
 * grandchild that never was: both its references and those are reaped. */
static void test_a_child_dying_in_its_fork_prepare_is_reaped(void **state)
{
	(void)state;
	uint64_t a;
	assert_int_equal(vms_swap_alloc(4, &a), 4);
	vms_swap_fork_prepare();
	for (uint64_t s = a; s < a + 4; s++) {
		vms_swap_ref(s);
	}
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		vms_swap_fork_child();
		vms_swap_fork_prepare();
		for (uint64_t s = a; s < a + 2; s++) {
			vms_swap_ref(s);
		}
		kill(getpid(), SIGKILL);
		_exit(3);
	}
	vms_swap_fork_parent();
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(vms_swap_reap(), 6);
	assert_counts(a, 4, 1);
	for (uint64_t s = a; s < a + 4; s++) {
		vms_swap_put(s);
	}
}

static void test_a_full_file_says_so(void **state)
{
	(void)state;
	uint64_t first;
	size_t got;
	while ((got = vms_swap_alloc(64, &first)) > 0) {
		assert_true(first + got <= 256);
	}
	assert_int_equal(vms_swap_alloc(1, &first), 0);
	/* Everything free was taken, holes included (slot 12, and 20). */
	for (uint64_t s = 0; s < 256; s++) {
		assert_true(vms_swap_refcount(s) >= 1);
	}
	vms_swap_put(100);
	assert_int_equal(vms_swap_alloc(8, &first), 1);
	assert_int_equal(first, 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_allocation_makes_a_private_unlinked_file),
		cmocka_unit_test(test_runs_are_consecutive),
		cmocka_unit_test(test_freed_runs_are_reused_short_ones_are_not),
		cmocka_unit_test(test_references),
		cmocka_unit_test(test_data_round_trip),
		cmocka_unit_test(test_references_of_a_failed_fork_are_reaped),
		cmocka_unit_test(test_references_of_a_child_that_exits_are_reaped),
		cmocka_unit_test(test_references_of_a_child_that_execs_are_reaped),
		cmocka_unit_test(test_references_of_a_killed_child_are_reaped),
		cmocka_unit_test(test_a_grandchild_keeps_its_references),
		cmocka_unit_test(test_a_child_dying_in_its_fork_prepare_is_reaped),
		cmocka_unit_test(test_a_full_file_says_so),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
