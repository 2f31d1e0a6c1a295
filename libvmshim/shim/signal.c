/*
 * shim/signal.c - the shim's SIGSEGV/SIGBUS handler and the program's view
 * of those two signals.
 *
 * The shim's handler stays installed in the kernel for SIGSEGV and SIGBUS
 * all the time; what the program installs for them with sigaction() or
 * signal() is recorded here (app_act) and called by the shim when a fault
 * is genuine, with the semantics the kernel would have given it: the
 * corrected siginfo (SEGV_MAPERR for an arena hole even though the arena
 * is mapped underneath), the handler's mask (its sa_mask, plus the signal
 * unless SA_NODEFER), SA_RESETHAND, SA_SIGINFO, and the ucontext, so the
 * handler may change it or siglongjmp out.  With no handler, the default
 * action kills the process with the same signal: the disposition is reset
 * and the faulting instruction runs again.
 *
 * The kernel must never see SIGSEGV or SIGBUS blocked (a blocked fault
 * signal is forced to its default action, which would kill the process on
 * its first lazy page): sigprocmask and pthread_sigmask keep them out of
 * the real mask and remember per thread that the program blocked them;
 * sigaction strips them from every handler's sa_mask and reports them back.
 * A genuine fault while the program has the signal blocked kills the
 * process, as Linux does.
 *
 * Async-signal safety: the handler runs with every signal blocked, saves
 * errno, and uses only raw calls, the fault path and a spinlock that is
 * taken only with every signal blocked.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>

#include "os/pool.h"
#include "os/raw.h"
#include "shim/init.h"
#include "util/log.h"
#include "util/stats.h"
#include "util/live.h"
#include "util/trace.h"
#include "vm/mm.h"

extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);
extern __sighandler_t bsd_signal(int sig, __sighandler_t handler);

#define BIT(sig) (1ULL << ((sig) - 1))
#define SHIM_SIGS (BIT(SIGSEGV) | BIT(SIGBUS))
/* glibc's internal signals (SIGCANCEL, SIGSETXID): never blocked either. */
#define GLIBC_SIGS (BIT(32) | BIT(33))

static struct sigaction app_act[2];  /* program's SIGSEGV, SIGBUS actions */
static int app_act_lock;             /* taken with every signal blocked */
static uint64_t app_mask_shim_bits[_NSIG]; /* SEGV/BUS bits of each handler's sa_mask */
static __thread uint64_t virt_blocked __attribute__((tls_model("initial-exec")));

/*
 * Knowing when the program's handler is over.  While it runs, SIGSEGV (and
 * its sa_mask) count as blocked for the program; a handler that returns
 * gives the mask back through deliver(), but one that leaves with
 * siglongjmp does not come back.  So while it runs, the shim also keeps
 * one marker signal (SIGRTMAX) blocked in the kernel: siglongjmp restores
 * the mask saved by sigsetjmp, unblocking the marker exactly when it
 * would natively unblock SIGSEGV, and a mask change the handler makes
 * itself does the same.  When the shim next sees the thread's mask without
 * the marker, the handler is over and virt_blocked goes back to what it
 * was before it.
 */
#define MARKER_SIG SIGRTMAX

struct handler_frame {
	uint64_t virt_before;    /* virt_blocked before the handler */
	int live;
};
static __thread struct handler_frame hframe __attribute__((tls_model("initial-exec")));

static void forget_finished_handler(uint64_t kernel_mask)
{
	if (hframe.live && !(kernel_mask & BIT(MARKER_SIG))) {
		virt_blocked = hframe.virt_before;
		hframe.live = 0;
	}
}

static int slot_of(int sig) { return sig == SIGSEGV ? 0 : sig == SIGBUS ? 1 : -1; }

static void act_lock(uint64_t *saved)
{
	uint64_t all = ~0ULL;
	vms_raw_rt_sigprocmask(SIG_SETMASK, &all, saved);
	vms_spin_lock(&app_act_lock);
}

static void act_unlock(const uint64_t *saved)
{
	vms_spin_unlock(&app_act_lock);
	vms_raw_rt_sigprocmask(SIG_SETMASK, saved, NULL);
}

static uint64_t mask64(const sigset_t *s)
{
	uint64_t m;
	memcpy(&m, s, sizeof m);
	return m;
}

static void set_mask64(sigset_t *s, uint64_t m) { memcpy(s, &m, sizeof m); }

static enum vms_access access_of(const ucontext_t *uc)
{
#if defined(__x86_64__)
	greg_t err = uc->uc_mcontext.gregs[REG_ERR];
	return (err & 0x10) ? VMS_ACCESS_EXEC : (err & 0x2) ? VMS_ACCESS_WRITE : VMS_ACCESS_READ;
#else
	(void)uc;
	return VMS_ACCESS_UNKNOWN;
#endif
}

/* Kills the process with sig, as the default action would. */
static void die(int sig, siginfo_t *si, ucontext_t *uc)
{
	/* The process ends here: its trace is completed and its live segment
	 * removed, as at exit (both async-signal-safe). */
	vms_trace_exit();
	vms_live_exit();
	struct vms_ksigaction dfl = { 0 };
	vms_raw_rt_sigaction(sig, &dfl, NULL);
	set_mask64(&uc->uc_sigmask, mask64(&uc->uc_sigmask) & ~BIT(sig));
	if (si->si_code <= 0) {
		/* Sent, not a fault: send it again; it arrives when we return. */
		vms_raw_tgkill((int)vms_raw_getpid(), (int)vms_raw_gettid(), sig);
	}
	/* A fault: returning runs the instruction again, which now kills. */
}

static void deliver(int sig, siginfo_t *si, ucontext_t *uc)
{
	int slot = slot_of(sig);
	bool fault = si->si_code > 0;
	uint64_t saved;
	act_lock(&saved);
	struct sigaction act = app_act[slot];
	if ((act.sa_flags & SA_RESETHAND) && act.sa_handler != SIG_DFL &&
	    act.sa_handler != SIG_IGN) {
		app_act[slot].sa_handler = SIG_DFL;
		app_act[slot].sa_flags &= ~SA_SIGINFO;
	}
	act_unlock(&saved);
	if (act.sa_handler == SIG_IGN && !fault) {
		return;
	}
	if (act.sa_handler == SIG_DFL || act.sa_handler == SIG_IGN ||
	    (fault && (virt_blocked & BIT(sig)))) {
		die(sig, si, uc);
		return;
	}
	uint64_t mask = mask64(&uc->uc_sigmask) | virt_blocked | mask64(&act.sa_mask) |
			app_mask_shim_bits[sig];
	if (!(act.sa_flags & SA_NODEFER)) {
		mask |= BIT(sig);
	}
	uint64_t old_virt = virt_blocked;
	struct handler_frame outer = hframe;
	hframe = (struct handler_frame){ old_virt, 1 };
	virt_blocked = mask & SHIM_SIGS;
	uint64_t kmask = (mask & ~SHIM_SIGS) | BIT(MARKER_SIG);
	vms_raw_rt_sigprocmask(SIG_SETMASK, &kmask, NULL);
	if (act.sa_flags & SA_SIGINFO) {
		act.sa_sigaction(sig, si, uc);
	} else {
		act.sa_handler(sig);
	}
	uint64_t all = ~0ULL;
	vms_raw_rt_sigprocmask(SIG_SETMASK, &all, NULL);
	hframe = outer;
	virt_blocked = old_virt;
}

static void shim_handler(int sig, siginfo_t *si, void *ucv)
{
	int saved_errno = errno;
	ucontext_t *uc = ucv;
	forget_finished_handler(mask64(&uc->uc_sigmask));
	if (si->si_code > 0) {
		enum vms_fault_result r = VMS_FAULT_NOT_OURS;
		if (sig == SIGSEGV) {
			r = vms_fault((uintptr_t)si->si_addr, access_of(uc));
		}
		if (r == VMS_FAULT_RESOLVED) {
			errno = saved_errno;
			return;
		}
		if (r == VMS_FAULT_MAPERR) {
			si->si_code = SEGV_MAPERR;
		} else if (r == VMS_FAULT_ACCERR) {
			si->si_code = SEGV_ACCERR;
		} else if (r == VMS_FAULT_HWPOISON) {
			/* Lost contents (a failed swap read): what a memory error
			 * gives, SIGBUS for this access. */
			sig = SIGBUS;
			si->si_signo = SIGBUS;
			si->si_code = BUS_MCEERR_AR;
		}
		vms_count_fault(VMS_FAULT_genuine);
		vms_trace_event(VMS_TRACE_GENUINE, (uintptr_t)si->si_addr, 1);
	} else if (sig == SIGSEGV && si->si_code == SI_QUEUE && vms_live_serve_request(si)) {
		/* `vmshim maps` or `vmshim limit` asked (util/live.h). */
		errno = saved_errno;
		return;
	}
	deliver(sig, si, uc);
	errno = saved_errno;
}

void vms_signals_fork_child(void)
{
	/* Another thread may have held it at fork: only this thread is left. */
	app_act_lock = 0;
}

void vms_signals_init(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = shim_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	if (__sigaction(SIGSEGV, &sa, &app_act[0]) != 0 ||
	    __sigaction(SIGBUS, &sa, &app_act[1]) != 0) {
		vms_fatal("cannot install the fault handler");
	}
	/* A blocked mask inherited across exec: remember it, unblock for real. */
	uint64_t unblock = SHIM_SIGS, old = 0;
	vms_raw_rt_sigprocmask(SIG_UNBLOCK, &unblock, &old);
	virt_blocked = old & SHIM_SIGS;
}

VMS_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	vms_ensure_init();
	int slot = slot_of(sig);
	if (slot < 0) {
		struct sigaction copy;
		uint64_t prev_bits = (sig > 0 && sig < _NSIG) ? app_mask_shim_bits[sig] : 0;
		if (act != NULL) {
			copy = *act;
			if (sig > 0 && sig < _NSIG) {
				uint64_t bits = mask64(&copy.sa_mask) & SHIM_SIGS;
				set_mask64(&copy.sa_mask, mask64(&copy.sa_mask) & ~SHIM_SIGS);
				int r = __sigaction(sig, &copy, old);
				if (r == 0) {
					app_mask_shim_bits[sig] = bits;
				}
				if (r == 0 && old != NULL) {
					set_mask64(&old->sa_mask, mask64(&old->sa_mask) | prev_bits);
				}
				return r;
			}
		}
		int r = __sigaction(sig, act != NULL ? &copy : NULL, old);
		if (r == 0 && old != NULL) {
			set_mask64(&old->sa_mask, mask64(&old->sa_mask) | prev_bits);
		}
		return r;
	}
	struct sigaction copy;
	if (act != NULL) {
		copy = *act;
	}
	uint64_t saved;
	act_lock(&saved);
	if (old != NULL) {
		*old = app_act[slot];
	}
	if (act != NULL) {
		app_act[slot] = copy;
	}
	act_unlock(&saved);
	return 0;
}

VMS_EXPORT __sighandler_t signal(int sig, __sighandler_t handler)
{
	vms_ensure_init();
	if (slot_of(sig) < 0) {
		return bsd_signal(sig, handler);
	}
	if (handler == SIG_ERR) {
		errno = EINVAL;
		return SIG_ERR;
	}
	/* glibc's BSD semantics: SA_RESTART, the signal blocked in its handler. */
	struct sigaction act, old;
	memset(&act, 0, sizeof act);
	act.sa_handler = handler;
	act.sa_flags = SA_RESTART;
	sigaddset(&act.sa_mask, sig);
	sigaction(sig, &act, &old);
	return old.sa_handler;
}

/* The shared part of sigprocmask and pthread_sigmask: 0 or errno. */
static int set_thread_mask(int how, const sigset_t *set, sigset_t *old)
{
	uint64_t want = 0, kset = 0, kold = 0;
	if (hframe.live) {
		uint64_t now;
		vms_raw_rt_sigprocmask(SIG_BLOCK, NULL, &now);
		forget_finished_handler(now);
	}
	if (set != NULL) {
		want = mask64(set);
		kset = want & ~(SHIM_SIGS | GLIBC_SIGS);
	}
	long r = vms_raw_rt_sigprocmask(how, set != NULL ? &kset : NULL, old != NULL ? &kold : NULL);
	if (vms_raw_failed(r)) {
		return (int)-r;
	}
	uint64_t prev_virt = virt_blocked;
	if (set != NULL) {
		if (how == SIG_BLOCK) {
			virt_blocked |= want & SHIM_SIGS;
		} else if (how == SIG_UNBLOCK) {
			virt_blocked &= ~(want & SHIM_SIGS);
		} else {
			virt_blocked = want & SHIM_SIGS;
		}
	}
	if (old != NULL) {
		set_mask64(old, kold | prev_virt);
	}
	return 0;
}

VMS_EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	vms_ensure_init();
	int err = set_thread_mask(how, set, old);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

VMS_EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	vms_ensure_init();
	return set_thread_mask(how, set, old);
}
