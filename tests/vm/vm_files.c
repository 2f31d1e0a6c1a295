/*
 * tests/vm/vm_files.c - file mappings behave as on Linux: run natively and
 * under the shim by vm_files.test, which compares the outputs.
 *
 * Covers MAP_SHARED writes seen by read() and by a second view, private
 * copies that never reach the file and unwritten private pages that see
 * later file changes, msync, SIGBUS past end of file and after truncation,
 * permissions (EACCES, ENODEV, EBADF), mappings that outlive their
 * descriptor, a child writing through an inherited shared mapping, another
 * process mapping the same file, mremap of a file mapping, a file mapped
 * over anonymous memory, and several processes appending to and mapping
 * one file at once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define P 4096L
static char dir[] = "/tmp/vmshim-files-XXXXXX";
static char path[256];
static sigjmp_buf jb;
static volatile int sig_seen, code_seen;
static volatile long off_seen;
static char *base;

static void handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	sig_seen = sig;
	code_seen = si->si_code;
	off_seen = (char *)si->si_addr - base;
	siglongjmp(jb, 1);
}

static const char *en(int e)
{
	switch (e) {
	case 0: return "0";
	case EACCES: return "EACCES";
	case ENODEV: return "ENODEV";
	case EBADF: return "EBADF";
	case EINVAL: return "EINVAL";
	case ENOMEM: return "ENOMEM";
	default: return "other";
	}
}

static int make_file(const char *name, long size, int pattern)
{
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	char *buf = malloc((size_t)size);
	for (long i = 0; i < size; i++) {
		buf[i] = (char)(pattern + i % 251);
	}
	if (write(fd, buf, (size_t)size) != size) {
		abort();
	}
	free(buf);
	return fd;
}

static unsigned sum(const char *p, long n)
{
	unsigned s = 0;
	for (long i = 0; i < n; i++) {
		s = s * 31 + (unsigned char)p[i];
	}
	return s;
}

static void probe(const char *what, volatile char *p, int write)
{
	sig_seen = 0;
	if (!sigsetjmp(jb, 1)) {
		if (write) {
			*p = 1;
		} else {
			(void)*p;
		}
	}
	printf(" %s=%s", what, sig_seen == 0 ? "ok" : sig_seen == SIGBUS ? "SIGBUS" : "SIGSEGV");
	if (sig_seen) {
		printf("/%d@%ld", code_seen, off_seen);
	}
}

static void shared_writes(void)
{
	int fd = make_file("shared", 3 * P, 1);
	char *a = mmap(NULL, 3 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *b = mmap(NULL, 3 * P, PROT_READ, MAP_SHARED, fd, 0);
	memcpy(a + P + 10, "hello", 5);
	char buf[8] = { 0 };
	pread(fd, buf, 5, P + 10);
	printf("shared: read=%s view2=%.5s", buf, b + P + 10);
	pwrite(fd, "WORLD", 5, 2 * P);
	printf(" sees_pwrite=%.5s", a + 2 * P);
	printf(" msync=%s", en(msync(a, 3 * P, MS_SYNC) ? errno : 0));
	munmap(a, 3 * P);
	munmap(b, 3 * P);
	pread(fd, buf, 5, P + 10);
	printf(" after_munmap=%.5s\n", buf);
	close(fd);
}

static void private_copies(void)
{
	int fd = make_file("private", 2 * P, 2);
	char *a = mmap(NULL, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	unsigned before = sum(a + P, P);
	memcpy(a, "mine", 4);
	char buf[8] = { 0 };
	pread(fd, buf, 4, 0);
	pwrite(fd, "THEIRS", 6, P);
	pwrite(fd, "zzzz", 4, 0);
	printf("private: file_kept=%d own=%.4s unwritten_sees_file=%.6s changed=%d\n",
	       memcmp(buf, "mine", 4) != 0, a, a + P, sum(a + P, P) != before);
	munmap(a, 2 * P);
	close(fd);
}

static void end_of_file(void)
{
	int fd = make_file("short", 100, 3);
	base = mmap(NULL, 3 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	printf("eof: tail_zero=%d", base[100] == 0 && base[P - 1] == 0);
	probe("page2", base + P + 17, 0);
	probe("page3w", base + 2 * P + 5, 1);
	ftruncate(fd, 0);
	probe("after_truncate", base + 3, 0);
	ftruncate(fd, 2 * P);
	probe("regrown", base + P + 9, 0);
	struct stat st;
	fstat(fd, &st);
	printf(" size=%ld\n", (long)st.st_size);
	munmap(base, 3 * P);
	close(fd);
}

static void permissions(void)
{
	int fd = make_file("perm", 2 * P, 4);
	close(fd);
	int ro = open(path, O_RDONLY), wo = open(path, O_WRONLY);
	void *p = mmap(NULL, P, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0);
	printf("perm: shared_rw_on_ro=%s", p == MAP_FAILED ? en(errno) : "ok");
	char *q = mmap(NULL, P, PROT_READ, MAP_SHARED, ro, 0);
	printf(" mprotect_w=%s", en(mprotect(q, P, PROT_READ | PROT_WRITE) ? errno : 0));
	char *r = mmap(NULL, P, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
	printf(" private_rw_on_ro=%s", r == MAP_FAILED ? en(errno) : "ok");
	r[0] = 9;
	p = mmap(NULL, P, PROT_READ, MAP_SHARED, wo, 0);
	printf(" wronly=%s", p == MAP_FAILED ? en(errno) : "ok");
	int d = open(dir, O_RDONLY);
	p = mmap(NULL, P, PROT_READ, MAP_PRIVATE, d, 0);
	printf(" dir=%s", p == MAP_FAILED ? en(errno) : "ok");
	close(d);
	p = mmap(NULL, P, PROT_READ, MAP_PRIVATE, 1000, 0);
	printf(" closed=%s", p == MAP_FAILED ? en(errno) : "ok");
	p = mmap(NULL, P, PROT_READ, MAP_PRIVATE, ro, 100);
	printf(" unaligned=%s", p == MAP_FAILED ? en(errno) : "ok");
	close(ro);
	printf(" after_close=%u private_kept=%d\n", sum(q, 64), r[0] == 9);
	close(wo);
	munmap(q, P);
	munmap(r, P);
}

static void inherited_and_foreign(void)
{
	int fd = make_file("fork", 2 * P, 5);
	char *a = mmap(NULL, 2 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *pv = mmap(NULL, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	pv[0] = 'p';
	pid_t c = fork();
	if (c == 0) {
		memcpy(a + P, "child", 5);
		pv[1] = 'c';
		/* another mapping of the same file, made in the child */
		char *b = mmap(NULL, 2 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		memcpy(b + 2, "kid", 3);
		_exit(pv[0] == 'p' ? 0 : 3);
	}
	int st;
	waitpid(c, &st, 0);
	printf("fork: status=%d parent_sees=%.5s second=%.3s private=%c%c\n", WEXITSTATUS(st),
	       a + P, a + 2, pv[0], pv[1] == 'c' ? 'C' : '-');
	munmap(a, 2 * P);
	munmap(pv, 2 * P);
	close(fd);
}

static void remap_and_replace(void)
{
	int fd = make_file("remap", 8 * P, 6);
	char *a = mmap(NULL, 2 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	a[0] = 'x';
	char *b = mremap(a, 2 * P, 6 * P, MREMAP_MAYMOVE);
	printf("remap: ok=%d kept=%c tail=%u", b != MAP_FAILED, b[0], sum(b + 5 * P, P));
	b[5 * P] = 'y';
	char c;
	pread(fd, &c, 1, 5 * P);
	printf(" tail_write_in_file=%c", c);
	munmap(b, 6 * P);
	/* A file mapped over anonymous memory, then unmapped: the anonymous
	 * memory mapped there next reads zero. */
	char *anon = mmap(NULL, 4 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(anon, 7, 4 * P);
	char *f = mmap(anon + P, 2 * P, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
	printf(" fixed_file=%d first=%d", f == anon + P, f[0]);
	munmap(anon, 4 * P);
	char *z = mmap(anon, 4 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		       -1, 0);
	printf(" reused_zero=%d\n", sum(z, 4 * P) == sum(memset(malloc(4 * P), 0, 4 * P), 4 * P));
	munmap(z, 4 * P);
	close(fd);
}

static void memfd_shm_devzero(void)
{
	int m = memfd_create("vmshim-test", 0);
	ftruncate(m, 2 * P);
	char *a = mmap(NULL, 2 * P, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	char *b = mmap(NULL, 2 * P, PROT_READ, MAP_SHARED, m, 0);
	a[P + 1] = 'm';
	char c = 0;
	pread(m, &c, 1, P + 1);
	printf("memfd: view2=%c read=%c", b[P + 1], c);
	munmap(a, 2 * P);
	munmap(b, 2 * P);
	close(m);
	int s = shm_open("/vmshim-test", O_RDWR | O_CREAT | O_TRUNC, 0600);
	ftruncate(s, P);
	char *q = mmap(NULL, P, PROT_READ | PROT_WRITE, MAP_SHARED, s, 0);
	q[3] = 's';
	pread(s, &c, 1, 3);
	printf(" shm=%c", c);
	munmap(q, P);
	close(s);
	shm_unlink("/vmshim-test");
	int z = open("/dev/zero", O_RDWR);
	char *zp = mmap(NULL, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, z, 0);
	char *zs = mmap(NULL, 2 * P, PROT_READ | PROT_WRITE, MAP_SHARED, z, 0);
	zp[0] = 1;
	zs[0] = 1;
	pid_t pid = fork();
	if (pid == 0) {
		zs[P] = 'k';
		zp[P] = 'k';
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	printf(" devzero: private_zero=%d shared_from_child=%c private_isolated=%d\n",
	       zp[5] == 0, zs[P], zp[P] == 0);
	munmap(zp, 2 * P);
	munmap(zs, 2 * P);
	close(z);
}

#define WRITERS 4
#define RECORDS 300

static void appenders(void)
{
	snprintf(path, sizeof path, "%s/log", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0644);
	for (int w = 0; w < WRITERS; w++) {
		if (fork() == 0) {
			char rec[64];
			unsigned seen = 0;
			for (int i = 0; i < RECORDS; i++) {
				int n = snprintf(rec, sizeof rec, "w%d r%04d\n", w, i);
				if (write(fd, rec, (size_t)n) != n) {
					_exit(2);
				}
				if (i % 50 == 49) {
					struct stat st;
					fstat(fd, &st);
					char *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
					if (m == MAP_FAILED) {
						_exit(3);
					}
					for (off_t k = 0; k < st.st_size; k++) {
						seen += m[k] == '\n';
					}
					munmap(m, (size_t)st.st_size);
				}
			}
			_exit(seen > 0 ? 0 : 4);
		}
	}
	int bad = 0, st;
	for (int w = 0; w < WRITERS; w++) {
		wait(&st);
		bad += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	struct stat sb;
	fstat(fd, &sb);
	char *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
	int count[WRITERS] = { 0 };
	for (char *p = m; p < m + sb.st_size; p = strchr(p, '\n') + 1) {
		count[p[1] - '0']++;
	}
	printf("appenders: bad=%d lines=%d,%d,%d,%d\n", bad, count[0], count[1], count[2],
	       count[3]);
	munmap(m, (size_t)sb.st_size);
	close(fd);
}

int main(void)
{
	if (mkdtemp(dir) == NULL) {
		return 99;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	setvbuf(stdout, NULL, _IONBF, 0);
	shared_writes();
	private_copies();
	end_of_file();
	permissions();
	inherited_and_foreign();
	remap_and_replace();
	memfd_shm_devzero();
	appenders();
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}
