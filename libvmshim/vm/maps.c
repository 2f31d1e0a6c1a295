/*
 * vm/maps.c - the emulated address space as text: VMSHIM_MAPS_FILE.
 *
 * One line per VMA in /proc/PID/maps format (range, permissions with p or
 * s, file offset, device, inode, and a name: [anon], [file], [shared] or
 * [foreign] for a mapping the kernel serves), then an indented line of
 * smaps-like figures in pages: size, present, dirty (file pages written
 * since writeback), cow (shared with another process since fork), locked,
 * and the flags and advice the shim keeps.  Written at exit (and _exit),
 * with the map lock held and raw calls only.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/sysmacros.h>

#include "os/fmt.h"
#include "os/raw.h"
#include "util/log.h"
#include "util/options.h"
#include "util/stats.h"
#include "vm/mm.h"

struct counts {
	size_t present, dirty, cow;
};

static struct counts count_ptes(uintptr_t start, uintptr_t end)
{
	struct counts c = { 0, 0, 0 };
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

/* Writes the view to fd; 0 or a negative errno. */
static long write_maps(int fd)
{
	char line[512];
	for (struct vms_vma *v = vms_vma_first(&vms_mm.vmas); v != NULL; v = vms_vma_next(v)) {
		struct counts c = count_ptes(v->start, v->end);
		size_t n = vms_fmt(line, sizeof line,
				   "%lx-%lx %c%c%c%c %08llx %02x:%02x %llu %s\n"
				   "    size=%zu present=%zu dirty=%zu cow=%zu locked=%d advice=%s%s%s%s\n",
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
				   (v->flags & VMS_VMA_NOHUGEPAGE) ? " nohugepage" : "");
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
	if (fd < 0) {
		return;
	}
	uint64_t saved;
	vms_map_write_lock(&saved);
	long r = write_maps(fd);
	vms_map_write_unlock(&saved);
	vms_report_close(fd, r);
}
