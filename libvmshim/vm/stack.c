/*
 * vm/stack.c - MAP_GROWSDOWN mappings inside the arena: the kernel's stack
 * expansion, which the arena's reservation would otherwise prevent.
 *
 * Owns: the growth of FOREIGN VMAs flagged VMS_VMA_GROWSDOWN (a
 * MAP_GROWSDOWN mapping placed in the arena by MAP_FIXED or moved into it
 * by mremap; the kernel serves it).  Natively, an access in the hole below
 * such a mapping expands it down to the accessed page; in the arena there
 * is no hole but reservation, so the access raises SIGSEGV and the fault
 * path finds no VMA.  vms_stack_grow, called by the signal handler for
 * such a fault, applies Linux's rules (expand_downwards) and, when they
 * allow it, gives the range [page, start) back to the kernel as a real hole
 * and records the VMA's new start: the retried access makes the kernel
 * expand its mapping exactly as natively.  The rules:
 *   - the VMA just above the address is a growing-down foreign mapping;
 *   - the mapping below the address, if accessible and not itself growing
 *     down, is at least stack_guard_gap (256 pages, Linux's default) below;
 *   - the grown size stays within RLIMIT_STACK.
 *
 * Async-signal safety: vms_stack_grow runs in the fault handler with
 * every signal blocked; it takes the map lock for writing (writers block
 * signals, so no thread can be interrupted holding it), allocates nothing
 * and makes raw calls only.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "os/raw.h"
#include "util/log.h"
#include "vm/mm.h"

#define STACK_GUARD_GAP (256UL * VMS_PAGE_SIZE)

bool vms_stack_grow(uintptr_t addr)
{
	if (!vms_in_arena(addr)) {
		return false;
	}
	uintptr_t page = vms_page_down(addr);
	bool grown = false;
	uint64_t saved;
	vms_map_write_lock(&saved);
	struct vms_vma *v = vms_vma_first_in(&vms_mm.vmas, page, vms_mm.end);
	if (v == NULL || v->start <= page ||
	    (v->flags & (VMS_VMA_FOREIGN | VMS_VMA_GROWSDOWN)) !=
		    (VMS_VMA_FOREIGN | VMS_VMA_GROWSDOWN)) {
		goto out;
	}
	struct vms_vma *prev = vms_vma_prev(v);
	if (prev != NULL && !(prev->flags & VMS_VMA_GROWSDOWN) && prev->prot != PROT_NONE &&
	    page - prev->end < STACK_GUARD_GAP) {
		goto out;
	}
	struct rlimit rl;
	if (!vms_raw_failed(vms_raw_getrlimit(RLIMIT_STACK, &rl)) && rl.rlim_cur != RLIM_INFINITY &&
	    v->end - page > rl.rlim_cur) {
		goto out;
	}
	long before = vms_kmaps_boundaries(page, v->end);
	if (vms_raw_failed(vms_raw_munmap((void *)page, v->start - page))) {
		goto out;
	}
	/* No PTE lives under a hole of the VMA table: nothing to release. */
	vms_vma_remove(&vms_mm.vmas, v);
	v->start = page;
	vms_vma_insert(&vms_mm.vmas, v);
	vms_kmaps_adjust(before, vms_kmaps_boundaries(page, v->end));
	grown = true;
out:
	vms_map_write_unlock(&saved);
	return grown;
}

/* Whether the line at s (up to e) starts with "VmFlags:" and lists gd. */
static bool vmflags_gd(const char *s, const char *e)
{
	static const char key[] = "VmFlags:";
	for (size_t i = 0; i < sizeof key - 1; i++) {
		if (s + i >= e || s[i] != key[i]) {
			return false;
		}
	}
	for (const char *p = s + sizeof key - 1; p + 2 < e + 1; p++) {
		if (p[-1] == ' ' && p[0] == 'g' && p + 1 < e && p[1] == 'd' &&
		    (p + 2 == e || p[2] == ' ')) {
			return true;
		}
	}
	return false;
}

/* Whether the line at s (up to e) starts the smaps entry of start. */
static bool entry_of(const char *s, const char *e, uintptr_t start)
{
	uintptr_t v = 0;
	const char *p = s;
	for (; p < e; p++) {
		char c = *p;
		unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
			     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
						    : 16;
		if (d == 16) {
			break;
		}
		v = v << 4 | d;
	}
	return p > s && p < e && *p == '-' && v == start;
}

bool vms_kernel_growsdown(uintptr_t start)
{
	char buf[4096];
	long fd = vms_raw_open("/proc/self/smaps", O_RDONLY | O_CLOEXEC, 0);
	if (vms_raw_failed(fd)) {
		return false;
	}
	size_t have = 0;
	bool in_entry = false, found = false, done = false;
	while (!done) {
		long r = vms_raw_read((int)fd, buf + have, sizeof buf - have);
		if (vms_raw_failed(r) || r == 0) {
			break;
		}
		have += (size_t)r;
		size_t at = 0;
		for (;;) {
			size_t nl = at;
			while (nl < have && buf[nl] != '\n') {
				nl++;
			}
			if (nl == have) {
				break;
			}
			const char *s = buf + at, *e = buf + nl;
			if (entry_of(s, e, start)) {
				in_entry = true;
			} else if (in_entry && e - s >= 8 && s[0] == 'V' && s[1] == 'm' &&
				   s[2] == 'F') {
				found = vmflags_gd(s, e);
				done = true;
				break;
			}
			at = nl + 1;
		}
		if (at == 0 && have == sizeof buf) {
			have = 0; /* a line longer than the buffer: not one we need */
		} else {
			for (size_t i = at; i < have; i++) {
				buf[i - at] = buf[i];
			}
			have -= at;
		}
	}
	vms_raw_close((int)fd);
	return found;
}
