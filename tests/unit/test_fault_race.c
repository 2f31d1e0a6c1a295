/*
 * tests/unit/test_fault_race.c - races of the fault path with reclaim,
 * replayed deterministically, without LD_PRELOAD: the VM sources are
 * compiled in with -DVMS_TEST_HOOKS, and the test's SIGSEGV handler calls
 * vms_fault.
 *
 * The race (the "open bug" of long reliab_stress runs, a written page
 * reading zero): a thread touches a page reclaim had deactivated (present,
 * not ACCESSED, PROT_NONE).  vms_fault loads its PTE, sees it present with
 * too low a protection and goes to raise it (upgrade).  Before upgrade
 * claims the PTE, reclaim in another thread evicts the page: its contents
 * go to swap, its kernel page is dropped (MADV_DONTNEED), its PTE becomes
 * SWAPPED.  upgrade used to claim whatever PTE it found and give the page
 * its protection back: an empty kernel page, readable and writable, under
 * a PTE still pointing at swap, so the program read zeros.  The hook
 * vms_test_upgrade_hook runs the eviction at exactly that point (with the
 * map lock held for reading, as reclaim in another thread's fault would).
 */
#define _GNU_SOURCE
#include "config.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/options.h"
#include "vm/mm.h"

#define P 4096UL

static void on_segv(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	ucontext_t *uc = ucv;
	enum vms_access acc = VMS_ACCESS_UNKNOWN;
#if defined(__x86_64__)
	acc = (uc->uc_mcontext.gregs[REG_ERR] & 0x2) ? VMS_ACCESS_WRITE : VMS_ACCESS_READ;
#else
	(void)uc;
#endif
	if (vms_fault((uintptr_t)si->si_addr, acc) == VMS_FAULT_RESOLVED) {
		return;
	}
	static const char msg[] = "test_fault_race: a genuine fault\n";
	(void)!write(2, msg, sizeof msg - 1);
	abort();
}

static char dir[] = "/tmp/vmshim-test-fault-race.XXXXXX";

static int setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL) {
		return -1;
	}
	static char dir_env[80];
	snprintf(dir_env, sizeof dir_env, "VMSHIM_SWAP_DIR=%s", dir);
	static char *env[] = { "VMSHIM_ARENA_SIZE=1G", dir_env, "VMSHIM_LOG=error", NULL };
	vms_options_load(env);
	vms_mm_init();
	return vms_mm.base != 0 ? 0 : -1;
}

/* cmocka sets its own SIGSEGV handler around each test: set ours in it. */
static void handle_faults(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigfillset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGSEGV, &sa, NULL), 0);
}

static int teardown(void **state)
{
	(void)state;
	return rmdir(dir);
}

/* The hook: evicts race_page once, the first time a fault goes to raise
 * its protection; race_pte gets its PTE just after. */
static volatile uintptr_t race_page;
static volatile int race_fired;
static volatile vms_pte_t race_pte;

static void evict_now(struct vms_vma *vma, uintptr_t page)
{
	if (page != race_page || race_fired) {
		return;
	}
	race_fired = 1;
	vms_pageout_range(vma, page, page + P, false);
	race_pte = vms_pte_load(vms_pte_lookup(&vms_mm.ptes, page));
}

static vms_pte_t pte_of(const void *p)
{
	vms_pte_t *pt = vms_pte_lookup(&vms_mm.ptes, (uintptr_t)p);
	return pt != NULL ? vms_pte_load(pt) : 0;
}

/* Maps 4 pages, fills them with 0xA5 and deactivates page 1, as reclaim's
 * clock does (MADV_COLD): present, not ACCESSED, PROT_NONE. */
static unsigned char *prepare(void)
{
	handle_faults();
	void *out = NULL;
	assert_int_equal(vm_mmap(NULL, 4 * P, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, &out), 0);
	unsigned char *p = out;
	memset(p, 0xA5, 4 * P);
	assert_int_equal(vm_madvise(p + P, P, MADV_COLD), 0);
	vms_pte_t pte = pte_of(p + P);
	assert_true(pte & VMS_PTE_PRESENT);
	assert_false(pte & (VMS_PTE_ACCESSED | VMS_PTE_BUSY));
	assert_int_equal(vms_pte_prot(pte), PROT_NONE);
	race_page = (uintptr_t)(p + P);
	race_fired = 0;
	race_pte = 0;
	vms_test_upgrade_hook = evict_now;
	return p;
}

static void check_page(const unsigned char *p, unsigned char want, size_t skip)
{
	for (size_t k = 0; k < P; k++) {
		if (k != skip && p[k] != want) {
			fail_msg("byte %zu of the page: %#x, expected %#x (PTE now %#llx)", k, p[k],
				 want, (unsigned long long)pte_of(p));
		}
	}
}

/* A read of the deactivated page, evicted while its fault went to raise
 * its protection: the read must swap it in and see its bytes. */
static void test_read_races_eviction(void **state)
{
	(void)state;
	unsigned char *p = prepare();
	unsigned char first = *(volatile unsigned char *)(p + P); /* the fault, and the race */
	__asm__ volatile("" ::: "memory"); /* the handler changed memory */
	vms_test_upgrade_hook = NULL;
	assert_true(race_fired);
	assert_true(race_pte & VMS_PTE_SWAPPED); /* the eviction did happen */
	assert_int_equal(first, 0xA5);
	check_page(p + P, 0xA5, SIZE_MAX);
	assert_true(pte_of(p + P) & VMS_PTE_PRESENT);
	assert_int_equal(vm_munmap(p, 4 * P), 0);
}

/* The same with a write of one byte: the rest of the page must keep its
 * bytes (not become a fresh zero page). */
static void test_write_races_eviction(void **state)
{
	(void)state;
	unsigned char *p = prepare();
	*(volatile unsigned char *)(p + P + 100) = 0x5A; /* the fault, and the race */
	__asm__ volatile("" ::: "memory"); /* the handler changed memory */
	vms_test_upgrade_hook = NULL;
	assert_true(race_fired);
	assert_true(race_pte & VMS_PTE_SWAPPED);
	assert_int_equal(p[P + 100], 0x5A);
	check_page(p + P, 0xA5, 100);
	vms_pte_t pte = pte_of(p + P);
	assert_true(pte & VMS_PTE_PRESENT);
	assert_true(pte & VMS_PTE_DIRTY);
	assert_false(pte & (VMS_PTE_SWAPPED | VMS_PTE_SWAPCACHE));
	/* Evicted again and read back: the write went to swap with it. */
	assert_int_equal(vm_madvise(p + P, P, MADV_PAGEOUT), 0);
	assert_true(pte_of(p + P) & VMS_PTE_SWAPPED);
	assert_int_equal(p[P + 100], 0x5A);
	check_page(p + P, 0xA5, 100);
	assert_int_equal(vm_munmap(p, 4 * P), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_races_eviction),
		cmocka_unit_test(test_write_races_eviction),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
