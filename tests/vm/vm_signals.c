/*
 * tests/vm/vm_signals.c - the signal a program sees for a bad access, and
 * the signal calls it makes, are the kernel's: run natively and under the
 * shim by vm_signals.test, which compares the two outputs line by line.
 *
 * Each case runs in a forked child and prints one line: how it ended and
 * what its handlers saw (signal, si_code, si_addr as an offset into the
 * test mapping).  Under the shim, fresh anonymous pages fault lazily, so
 * every case also proves that lazy faults do not disturb the program's
 * own signal handling.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
static char *map;
static sigjmp_buf jb;
static volatile int seen_sig, seen_code, depth, calls;
static volatile long seen_off;

static void record(int sig, siginfo_t *si)
{
	seen_sig = sig;
	seen_code = si->si_code;
	seen_off = (long)((char *)si->si_addr - map);
	calls++;
}

static void jump_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	record(sig, si);
	siglongjmp(jb, 1);
}

static void install(int sig, void (*fn)(int, siginfo_t *, void *), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO | flags;
	sigaction(sig, &sa, NULL);
}

static char *fresh(size_t pages, int prot)
{
	return mmap(NULL, pages * PAGE, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void poke(volatile char *p) { *p = 1; }
static char peek(volatile char *p) { return *p; }

/* --- cases: each returns normally or dies; the parent reports --- */

static void hole_is_maperr(void)
{
	install(SIGSEGV, jump_handler, 0);
	map = fresh(4, PROT_READ | PROT_WRITE);
	map[0] = 1;
	munmap(map + PAGE, PAGE);
	if (!sigsetjmp(jb, 1)) {
		poke(map + PAGE + 5);
	}
	printf("sig=%d code=%d off=%ld", seen_sig, seen_code, seen_off);
}

static void readonly_write_is_accerr(void)
{
	install(SIGSEGV, jump_handler, 0);
	map = fresh(4, PROT_READ);
	if (!sigsetjmp(jb, 1)) {
		poke(map + 2 * PAGE + 7);
	}
	printf("sig=%d code=%d off=%ld read=%d", seen_sig, seen_code, seen_off, peek(map + 9));
}

static void prot_none_read_is_accerr(void)
{
	install(SIGSEGV, jump_handler, 0);
	map = fresh(4, PROT_READ | PROT_WRITE);
	map[3 * PAGE] = 5;
	mprotect(map + 3 * PAGE, PAGE, PROT_NONE);
	if (!sigsetjmp(jb, 1)) {
		peek(map + 3 * PAGE + 9);
	}
	mprotect(map + 3 * PAGE, PAGE, PROT_READ);
	printf("sig=%d code=%d off=%ld kept=%d", seen_sig, seen_code, seen_off, map[3 * PAGE]);
}

static void resethand_second_fault_kills(void)
{
	install(SIGSEGV, jump_handler, SA_RESETHAND);
	map = fresh(2, PROT_READ);
	if (!sigsetjmp(jb, 1)) {
		poke(map + 1);
	}
	printf("calls=%d ", calls);
	fflush(stdout);
	poke(map + 2);
}

static void nested_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	record(sig, si);
	if (++depth == 1) {
		poke(map + 100); /* faults again inside the handler */
	}
	siglongjmp(jb, 1);
}

static void nodefer_allows_nested_fault(void)
{
	install(SIGSEGV, nested_handler, SA_NODEFER);
	map = fresh(1, PROT_READ);
	if (!sigsetjmp(jb, 1)) {
		poke(map + 1);
	}
	printf("calls=%d depth=%d off=%ld", calls, depth, seen_off);
}

static void nested_fault_without_nodefer_kills(void)
{
	install(SIGSEGV, nested_handler, 0);
	map = fresh(1, PROT_READ);
	if (!sigsetjmp(jb, 1)) {
		poke(map + 1);
	}
	printf("unreachable");
}

static void plain_handler(int sig)
{
	seen_sig = sig;
	calls++;
	siglongjmp(jb, 1);
}

static void signal_function_handler(void)
{
	signal(SIGSEGV, plain_handler);
	map = fresh(1, PROT_NONE);
	for (volatile int i = 0; i < 3; i++) {
		if (!sigsetjmp(jb, 1)) {
			peek(map);
		}
	}
	printf("sig=%d calls=%d", seen_sig, calls);
}

static void default_action_kills(void)
{
	map = fresh(2, PROT_READ | PROT_WRITE);
	memset(map, 1, 2 * PAGE);
	munmap(map, PAGE);
	poke(map);
}

static void ignored_fault_still_kills(void)
{
	signal(SIGSEGV, SIG_IGN);
	map = fresh(1, PROT_READ);
	poke(map);
}

static void blocked_segv_lazy_pages_work(void)
{
	sigset_t s, o;
	sigemptyset(&s);
	sigaddset(&s, SIGSEGV);
	sigaddset(&s, SIGBUS);
	sigprocmask(SIG_BLOCK, &s, NULL);
	map = fresh(256, PROT_READ | PROT_WRITE);
	long sum = 0;
	for (int i = 0; i < 256; i++) {
		map[i * PAGE + i] = (char)i;
	}
	for (int i = 0; i < 256; i++) {
		sum += map[i * PAGE + i];
	}
	sigprocmask(SIG_SETMASK, NULL, &o);
	printf("sum=%ld segv_blocked=%d bus_blocked=%d", sum, sigismember(&o, SIGSEGV),
	       sigismember(&o, SIGBUS));
}

static void blocked_segv_genuine_fault_kills(void)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGSEGV);
	install(SIGSEGV, jump_handler, 0);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	map = fresh(1, PROT_READ);
	poke(map);
}

static void usr1_handler(int sig) { (void)sig; }

static void sigaction_reports_what_was_set(void)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = usr1_handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGSEGV);
	sigaddset(&sa.sa_mask, SIGUSR2);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR1, NULL, &old);
	int usr1_ok = old.sa_handler == usr1_handler && sigismember(&old.sa_mask, SIGSEGV) &&
		      sigismember(&old.sa_mask, SIGUSR2) && (old.sa_flags & SA_RESTART);
	install(SIGSEGV, jump_handler, SA_NODEFER);
	sigaction(SIGSEGV, NULL, &old);
	int segv_ok = old.sa_sigaction == jump_handler && (old.sa_flags & SA_NODEFER) &&
		      (old.sa_flags & SA_SIGINFO);
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGSEGV, &dfl, &old);
	int swap_ok = old.sa_sigaction == jump_handler;
	sigaction(SIGSEGV, NULL, &old);
	printf("usr1=%d segv=%d swap=%d dfl=%d", usr1_ok, segv_ok, swap_ok,
	       old.sa_handler == SIG_DFL);
}

static void sent_segv_reaches_handler(void)
{
	install(SIGSEGV, jump_handler, 0);
	map = NULL;
	if (!sigsetjmp(jb, 1)) {
		kill(getpid(), SIGSEGV);
	}
	printf("sig=%d code=%d", seen_sig, seen_code);
}

static char altstack[64 * 1024];
static volatile int on_alt;

static void alt_handler(int sig, siginfo_t *si, void *uc)
{
	char here;
	(void)uc;
	record(sig, si);
	on_alt = &here >= altstack && &here < altstack + sizeof altstack;
	siglongjmp(jb, 1);
}

static void altstack_handler(void)
{
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0 };
	sigaltstack(&ss, NULL);
	install(SIGSEGV, alt_handler, SA_ONSTACK);
	map = fresh(1, PROT_NONE);
	if (!sigsetjmp(jb, 1)) {
		peek(map + 3);
	}
	printf("on_alt=%d code=%d off=%ld", on_alt, seen_code, seen_off);
}

static void *thread_touch(void *arg)
{
	char *p = arg;
	long sum = 0;
	for (int i = 0; i < 64; i++) {
		p[i * PAGE] = 2;
		sum += p[i * PAGE];
	}
	return (void *)sum;
}

static void thread_with_all_signals_blocked(void)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	map = fresh(64, PROT_READ | PROT_WRITE);
	pthread_t t;
	void *sum;
	pthread_create(&t, NULL, thread_touch, map);
	pthread_join(t, &sum);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	printf("sum=%ld", (long)sum);
}

static void repeated_genuine_faults_after_longjmp(void)
{
	install(SIGSEGV, jump_handler, 0);
	map = fresh(8, PROT_READ);
	for (volatile int i = 0; i < 8; i++) {
		if (!sigsetjmp(jb, 1)) {
			poke(map + i * PAGE + i);
		}
	}
	printf("calls=%d off=%ld", calls, seen_off);
}

/* Recurses depth frames deep, then touches p: a fault far below the frame
 * of the handler that was left with siglongjmp. */
static __attribute__((noinline)) int deep_poke(volatile char *p, int depth)
{
	volatile char pad[256];
	pad[0] = (char)depth;
	if (depth > 0) {
		return deep_poke(p, depth - 1) + pad[0];
	}
	*p = 1;
	return 0;
}

static void fault_deeper_after_longjmp(void)
{
	install(SIGSEGV, jump_handler, 0);
	map = fresh(4, PROT_READ);
	if (!sigsetjmp(jb, 1)) {
		poke(map + 1);
	}
	for (volatile int i = 1; i < 4; i++) {
		if (!sigsetjmp(jb, 1)) {
			deep_poke(map + i * PAGE, 40 * i);
		}
	}
	printf("calls=%d off=%ld", calls, seen_off);
}

/* sigsetjmp without saving the mask: leaving the handler with siglongjmp
 * keeps SIGSEGV blocked, so the next fault kills (as natively). */
static void longjmp_without_mask_restore_kills(void)
{
	install(SIGSEGV, jump_handler, 0);
	map = fresh(2, PROT_READ);
	if (!sigsetjmp(jb, 0)) {
		poke(map + 1);
	}
	printf("calls=%d ", calls);
	fflush(stdout);
	poke(map + PAGE + 1);
}

struct test_case {
	const char *name;
	void (*fn)(void);
};

static const struct test_case cases[] = {
	{ "hole_is_maperr", hole_is_maperr },
	{ "readonly_write_is_accerr", readonly_write_is_accerr },
	{ "prot_none_read_is_accerr", prot_none_read_is_accerr },
	{ "resethand_second_fault_kills", resethand_second_fault_kills },
	{ "nodefer_allows_nested_fault", nodefer_allows_nested_fault },
	{ "nested_fault_without_nodefer_kills", nested_fault_without_nodefer_kills },
	{ "signal_function_handler", signal_function_handler },
	{ "default_action_kills", default_action_kills },
	{ "ignored_fault_still_kills", ignored_fault_still_kills },
	{ "blocked_segv_lazy_pages_work", blocked_segv_lazy_pages_work },
	{ "blocked_segv_genuine_fault_kills", blocked_segv_genuine_fault_kills },
	{ "sigaction_reports_what_was_set", sigaction_reports_what_was_set },
	{ "sent_segv_reaches_handler", sent_segv_reaches_handler },
	{ "altstack_handler", altstack_handler },
	{ "thread_with_all_signals_blocked", thread_with_all_signals_blocked },
	{ "repeated_genuine_faults_after_longjmp", repeated_genuine_faults_after_longjmp },
	{ "fault_deeper_after_longjmp", fault_deeper_after_longjmp },
	{ "longjmp_without_mask_restore_kills", longjmp_without_mask_restore_kills },
};

int main(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		printf("%s: ", cases[i].name);
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			cases[i].fn();
			fflush(stdout);
			_exit(0);
		}
		int st;
		waitpid(pid, &st, 0);
		if (WIFSIGNALED(st)) {
			printf(" [killed by %d]\n", WTERMSIG(st));
		} else {
			printf(" [exit %d]\n", WEXITSTATUS(st));
		}
	}
	return 0;
}
