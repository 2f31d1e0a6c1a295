/*
 * vm/maps.c - the emulated address space as text: VMSHIM_MAPS_FILE.
 *
 * One line per VMA in /proc/PID/maps format (range, permissions with p or
 * s, file offset, device, inode, and a name: [anon], [file], [shared] or
 * [foreign] for a mapping the kernel serves), then an indented line of
 * smaps-like figures in pages, read from the PTE bits (vm/pte.h): size,
 * present (resident), dirty (file pages written since writeback), cow
 * (shared with another process since fork), locked (the VMA is mlock'ed),
 * advice and flags, then swapped (contents in the swap file), swapcache
 * (present with a copy in swap), referenced (ACCESSED bit), pinned pages
 * (LOCKED bit), and the return address of the mmap call that made the
 * mapping (caller, 0 when the shim or its allocator made it; `vmshim
 * maps` and vmshim-report turn it into object+offset).  Written at exit (and _exit) to VMSHIM_MAPS_FILE and, with
 * VMSHIM_MAPS=1, to stderr; on request of `vmshim maps PID` from the fault
 * signal handler (see util/live.h), which also serves `vmshim limit`'s
 * request to reclaim down to a lowered limit at once.  Map lock held, raw calls only.
 */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>

#include "os/fmt.h"
#include "os/raw.h"
#include "util/live.h"
#include "util/log.h"
#include "util/options.h"
#include "util/stats.h"
#include "vm/mm.h"

struct counts {
	size_t present, dirty, cow, swapped, swapcache, referenced, locked;
};

static struct counts count_ptes(uintptr_t start, uintptr_t end)
{
	struct counts c = { 0, 0, 0, 0, 0, 0, 0 };
	for (uintptr_t x = start; x < end;) {
		vms_pte_t *pt;
		uintptr_t stop = x + vms_pte_span(&vms_mm.ptes, x, &pt) * VMS_PAGE_SIZE;
		stop = stop < end ? stop : end;
		for (; pt != NULL && x < stop; x += VMS_PAGE_SIZE, pt++) {
			vms_pte_t pte = vms_pte_load(pt);
			if (pte & VMS_PTE_PRESENT) {
				c.present++;
				c.dirty += (pte & VMS_PTE_DIRTY) && (pte & VMS_PTE_FILE);
				c.cow += (pte & VMS_PTE_COW) != 0;
				c.swapcache += (pte & VMS_PTE_SWAPCACHE) != 0;
				c.referenced += (pte & VMS_PTE_ACCESSED) != 0;
				c.locked += (pte & VMS_PTE_LOCKED) != 0;
			} else if (pte & VMS_PTE_SWAPPED) {
				c.swapped++;
			}
		}
		x = stop;
	}
	return c;
}

static const char *name_of(const struct vms_vma *v)
{
	if (v->flags & VMS_VMA_FOREIGN) {
		return "[foreign]";
	}
	if (v->flags & VMS_VMA_FILE) {
		return "[file]";
	}
	return (v->flags & VMS_VMA_SHARED) ? "[shared]" : "[anon]";
}

/* Writes the view to fd; 0 or a negative errno.  Map lock held. */
static long write_maps(int fd)
{
	char line[512];
	for (struct vms_vma *v = vms_vma_first(&vms_mm.vmas); v != NULL; v = vms_vma_next(v)) {
		struct counts c = count_ptes(v->start, v->end);
		size_t n = vms_fmt(line, sizeof line,
				   "%lx-%lx %c%c%c%c %08llx %02x:%02x %llu %s\n"
				   "    size=%zu present=%zu dirty=%zu cow=%zu locked=%d advice=%s%s%s%s"
				   " swapped=%zu swapcache=%zu referenced=%zu locked_pages=%zu"
				   " caller=%lx\n",
				   (unsigned long)v->start, (unsigned long)v->end,
				   (v->prot & PROT_READ) ? 'r' : '-', (v->prot & PROT_WRITE) ? 'w' : '-',
				   (v->prot & PROT_EXEC) ? 'x' : '-',
				   (v->flags & VMS_VMA_SHARED) ? 's' : 'p',
				   (unsigned long long)((v->flags & VMS_VMA_FILE) ? v->pgoff << VMS_PAGE_SHIFT : 0),
				   (unsigned)major(v->dev), (unsigned)minor(v->dev),
				   (unsigned long long)v->ino, name_of(v),
				   (size_t)((v->end - v->start) / VMS_PAGE_SIZE), c.present, c.dirty,
				   c.cow, (v->flags & VMS_VMA_LOCKED) != 0,
				   v->advice == VMS_ADV_RANDOM ? "random"
				   : v->advice == VMS_ADV_SEQUENTIAL ? "sequential" : "normal",
				   (v->flags & VMS_VMA_DONTFORK) ? " dontfork" : "",
				   (v->flags & VMS_VMA_WIPEONFORK) ? " wipeonfork" : "",
				   (v->flags & VMS_VMA_NOHUGEPAGE) ? " nohugepage" : "", c.swapped,
				   c.swapcache, c.referenced, c.locked, (unsigned long)v->caller);
		long r = vms_raw_write_all(fd, line, n);
		if (vms_raw_failed(r)) {
			return r;
		}
	}
	return 0;
}

void vms_maps_report_at_exit(void)
{
	if (vms_mm.base == 0) {
		return;
	}
	int fd = vms_report_open(VMS_OPT_MAPS_FILE);
	bool to_stderr = vms_option_num(VMS_OPT_MAPS) != 0;
	if (fd < 0 && !to_stderr) {
		return;
	}
	uint64_t saved;
	vms_map_write_lock(&saved);
	if (to_stderr) {
		char title[64];
		size_t n = vms_fmt(title, sizeof title, "libvmshim maps: pid %ld\n", vms_raw_getpid());
		vms_raw_write_all(vms_stats_table_fd(), title, n);
		write_maps(vms_stats_table_fd());
	}
	long r = fd >= 0 ? write_maps(fd) : 0;
	vms_map_write_unlock(&saved);
	if (fd >= 0) {
		vms_report_close(fd, r);
	}
}

/* Writes the view to DIR/PID.maps for `vmshim maps`.  Read lock held. */
static void serve_maps(const struct vms_live_header *h)
{
	char path[VMS_OPTION_PATH_MAX + 40];
	if (vms_live_path(path, sizeof path, vms_live_dir_in_use(), (long)h->pid, ".maps") != 0) {
		return;
	}
	long fd = vms_raw_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (!vms_raw_failed(fd)) {
		write_maps((int)fd);
		vms_raw_close((int)fd);
	}
}

bool vms_live_serve_request(const siginfo_t *si)
{
	struct vms_live_header *h = vms_live_header();
	if (h == NULL || si->si_code != SI_QUEUE || si->si_value.sival_int != VMS_LIVE_SIGVAL) {
		return false;
	}
	/* Ours from here on: never delivered to the program.  Only who can
	 * write the segment (the user, root) can post a request. */
	uint64_t maps = __atomic_load_n(&h->maps_request, __ATOMIC_ACQUIRE);
	uint64_t reclaim = __atomic_load_n(&h->reclaim_request, __ATOMIC_ACQUIRE);
	bool want_maps = maps != __atomic_load_n(&h->maps_done, __ATOMIC_RELAXED);
	bool want_reclaim = reclaim != __atomic_load_n(&h->reclaim_done, __ATOMIC_RELAXED);
	if (vms_mm.base != 0 && (want_maps || want_reclaim)) {
		/* A signal handler: every signal is blocked, and every holder of
		 * the map lock blocks signals, so no holder is interrupted here:
		 * the same context as the fault handler, which charges pages. */
		vms_map_read_lock();
		if (want_reclaim) {
			/* Charging one page reclaims down to the (new) limit when
			 * above it; the page is not kept. */
			vms_mem_charge(1);
			vms_mem_uncharge(1);
		}
		if (want_maps) {
			serve_maps(h);
		}
		vms_map_read_unlock();
	}
	__atomic_store_n(&h->reclaim_done, reclaim, __ATOMIC_RELEASE);
	__atomic_store_n(&h->maps_done, maps, __ATOMIC_RELEASE);
	return true;
}
