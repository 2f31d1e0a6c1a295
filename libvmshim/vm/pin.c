/*
 * vm/pin.c - memory reclaim must leave alone: pages a system call is using
 * on the program's behalf (pins), and mappings marked pinned.
 *
 * Owns: the pin table.
 *
 * A pin covers a user buffer for the duration of one system call (see
 * shim/kernel_io.c): the wrapper pins, makes the buffer present
 * (vms_prefault), calls the kernel, unpins.  Reclaim (vm/reclaim.c)
 * neither deactivates nor evicts a page inside a pin, so the kernel never
 * finds it gone mid-call and answers EFAULT where the kernel would not.
 *
 * Ordering (a Dekker pair, both sides sequentially consistent): a pinner
 * publishes its range, then looks at the PTEs; reclaim claims a PTE (BUSY),
 * then looks at the pins.  Either reclaim sees the pin and backs off, or the
 * pinner sees the claim (or its outcome) and faults the page back in.
 *
 * Async-signal-safe: atomics only; the table has VMS_PIN_SLOTS entries and
 * a full table just means the call runs unpinned.
 */
#include "config.h"


#include "vm/mm.h"

#define VMS_PIN_SLOTS 256

struct pin_slot {
	int owned;        /* claimed by a pinner */
	int active;       /* start/end are valid */
	uintptr_t start;
	uintptr_t end;
};

static struct pin_slot pins[VMS_PIN_SLOTS];
static int pins_active;      /* how many slots are active: 0 skips the scan */

int vms_pin_begin(uintptr_t addr, size_t len)
{
	if (len == 0 || vms_mm.base == 0) {
		return -1;
	}
	for (int i = 0; i < VMS_PIN_SLOTS; i++) {
		int expected = 0;
		if (__atomic_load_n(&pins[i].owned, __ATOMIC_RELAXED) == 0 &&
		    __atomic_compare_exchange_n(&pins[i].owned, &expected, 1, 0, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED)) {
			uintptr_t end = addr + len < addr ? UINTPTR_MAX : addr + len;
			__atomic_store_n(&pins[i].start, vms_page_down(addr), __ATOMIC_RELAXED);
			__atomic_store_n(&pins[i].end, end, __ATOMIC_RELAXED);
			__atomic_add_fetch(&pins_active, 1, __ATOMIC_SEQ_CST);
			__atomic_store_n(&pins[i].active, 1, __ATOMIC_SEQ_CST);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			return i;
		}
	}
	return -1;
}

void vms_pin_end(int token)
{
	if (token < 0) {
		return;
	}
	__atomic_store_n(&pins[token].active, 0, __ATOMIC_SEQ_CST);
	__atomic_sub_fetch(&pins_active, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&pins[token].owned, 0, __ATOMIC_RELEASE);
}

bool vms_pinned(uintptr_t start, uintptr_t end)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&pins_active, __ATOMIC_SEQ_CST) == 0) {
		return false;
	}
	for (int i = 0; i < VMS_PIN_SLOTS; i++) {
		if (__atomic_load_n(&pins[i].active, __ATOMIC_SEQ_CST) &&
		    __atomic_load_n(&pins[i].start, __ATOMIC_RELAXED) < end &&
		    __atomic_load_n(&pins[i].end, __ATOMIC_RELAXED) > start) {
			return true;
		}
	}
	return false;
}
