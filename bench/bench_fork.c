/*
 * bench/bench_fork.c - fork kernels:
 *
 *   fork/exit_wait   fork + child _exit(0) + waitpid, with MiB:1, 64, 256
 *                    of anonymous memory resident in the parent (ns per
 *                    op; the resident size is what fork must copy or
 *                    share page tables for)
 *   fork/cow_write   after fork, the child writes one byte in every page
 *                    of a resident region (MiB:64, --quick 16): ns per
 *                    page, timed by the child itself and sent back
 *                    through a pipe, so fork and exit are not included
 *
 * Resident memory is made resident once, before the timed loop.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static void wait_child(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			vms_die("waitpid");
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		errno = 0;
		vms_die("child failed");
	}
}

static void bm_exit_wait(struct vms_bench_state *st)
{
	size_t len = (size_t)vms_bench_range_arg(st, 0) * VMS_MIB;
	char *p = vms_map_anon(len);

	vms_touch_pages(p, len);
	while (vms_bench_keep_running(st)) {
		pid_t pid = fork();
		if (pid < 0)
			vms_die("fork");
		if (pid == 0)
			_exit(0);
		wait_child(pid);
	}
	vms_unmap(p, len);
	vms_bench_report_per(st, "op", vms_bench_iterations(st));
}

static void bm_cow_write(struct vms_bench_state *st)
{
	size_t len = (size_t)vms_bench_range_arg(st, 0) * VMS_MIB;
	size_t ps = vms_page_size();
	char *p = vms_map_anon(len);
	int fds[2];

	vms_touch_pages(p, len);
	if (pipe(fds) != 0)
		vms_die("pipe");
	while (vms_bench_keep_running(st)) {
		double dt;
		pid_t pid = fork();
		if (pid < 0)
			vms_die("fork");
		if (pid == 0) {
			volatile char *c = p;
			double t0 = vms_now();
			for (size_t off = 0; off < len; off += ps)
				c[off] = 2;
			dt = vms_now() - t0;
			_exit(write(fds[1], &dt, sizeof(dt)) == sizeof(dt) ? 0 : 1);
		}
		if (read(fds[0], &dt, sizeof(dt)) != sizeof(dt))
			vms_die("read from child");
		wait_child(pid);
		vms_bench_set_iteration_time(st, dt);
	}
	close(fds[0]);
	close(fds[1]);
	vms_unmap(p, len);
	vms_bench_report_per(st, "page", vms_bench_iterations(st) * (int64_t)(len / ps));
}

void vms_bench_register_fork(void)
{
	struct vms_bench *b;

	b = vms_bench_register("fork/exit_wait", bm_exit_wait);
	vms_bench_real_time(b);
	vms_bench_unit(b, VMS_BENCH_US);
	vms_bench_arg(b, 1);
	vms_bench_arg(b, 64);
	vms_bench_arg(b, 256);
	vms_bench_arg_name(b, "MiB");

	b = vms_bench_register("fork/cow_write", bm_cow_write);
	vms_bench_manual_time(b);
	vms_bench_arg(b, vms_bench_quick() ? 16 : 64);
	vms_bench_arg_name(b, "MiB");
}
