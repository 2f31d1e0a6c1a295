/*
 * shim/libc_alloc.c - libc's own calls to the malloc family go to the
 * pinned heap (alloc/pinned.c), at no cost to the program's calls.
 *
 * Owns: finding libc.so.6 in memory and pointing the GOT slots through
 * which libc calls malloc, calloc, realloc and reallocarray at entry points
 * of their own (shim/malloc.c: vms_libc_malloc...).  libc calls these
 * functions through its GOT (they are interposable), so after the patch
 * every allocation libc makes for itself (stdio buffers, FILE objects,
 * directory streams, getcwd(NULL)...) comes from the pinned heap, tail
 * calls included, and the program's own calls, which go through the
 * program's GOT, are untouched: malloc's fast path tests nothing more.
 *
 * How: libc is the object holding _IO_file_doallocate (the function that
 * allocates stdio buffers); /proc/self/maps gives its text mapping and its
 * first mapping (the ELF header); from there, the program headers
 * (PT_DYNAMIC, PT_GNU_RELRO), the dynamic section (symbol and string
 * tables, RELA and JMPREL relocations: ld.so has already made their
 * addresses absolute on this architecture; both forms are accepted) and
 * the GLOB_DAT and JUMP_SLOT relocations naming those four symbols.  A
 * slot inside the RELRO segment is made writable for the store and read-
 * only again.  Raw system calls and no allocation: this runs inside the
 * first malloc of the process, before libc may be ready.
 *
 * Also keeps libc's text range, so that the first malloc of each thread
 * (which may come through a slot not yet patched) can tell a call from
 * libc by its return address (vms_libc_text_contains).
 *
 * If anything does not look as expected (another libc, a static program),
 * nothing is patched and libc's allocations are ordinary ones: said once
 * at VMSHIM_LOG=info.
 *
 * The memalign family (memalign, posix_memalign, aligned_alloc, valloc,
 * pvalloc) is not patched: libc does not call it for its own memory (glibc
 * 2.36 here has no GOT slot for any of them, and no call to them outside
 * its malloc), and the pinned heap has no aligned allocation.  A libc that
 * has such a slot is said so at VMSHIM_LOG=info: what it allocates there is
 * the program's ordinary memory.
 */
#include "config.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "os/raw.h"
#include "shim/libc_alloc.h"
#include "util/log.h"

#if defined(__x86_64__)
#define R_GLOB_DAT R_X86_64_GLOB_DAT
#define R_JUMP_SLOT R_X86_64_JUMP_SLOT
#elif defined(__aarch64__)
#define R_GLOB_DAT R_AARCH64_GLOB_DAT
#define R_JUMP_SLOT R_AARCH64_JUMP_SLOT
#endif

extern int _IO_file_doallocate(FILE *f);

static uintptr_t text_lo, text_len;   /* written once, text_len first */
static int state;                     /* 0 not done, 1 running, 2 done */
static int patched;                   /* slots pointed at the pinned entry points */
static const char *unrouted;          /* a memalign-family slot libc has, or NULL */

bool vms_libc_text_contains(const void *ret)
{
	return (uintptr_t)ret - __atomic_load_n(&text_lo, __ATOMIC_RELAXED) <
	       __atomic_load_n(&text_len, __ATOMIC_RELAXED);
}

/* Hexadecimal digits at s; *end is where they stop. */
static uintptr_t hex(const char *s, const char **end)
{
	uintptr_t v = 0;
	for (;; s++) {
		int d = *s >= '0' && *s <= '9' ? *s - '0' : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10 : -1;
		if (d < 0) {
			break;
		}
		v = v * 16 + (uintptr_t)d;
	}
	*end = s;
	return v;
}

/* Parses "start-end perms offset dev inode   path" in place: 0 on success. */
static int maps_line(char *line, uintptr_t *lo, uintptr_t *hi, uintptr_t *off, const char **path)
{
	char *field[5];
	char *c = line;
	for (int n = 0; n < 5; n++) {
		while (*c == ' ') {
			c++;
		}
		if (*c == '\0') {
			return -1;
		}
		field[n] = c;
		while (*c != '\0' && *c != ' ') {
			c++;
		}
		if (*c != '\0') {
			*c++ = '\0';
		}
	}
	while (*c == ' ') {
		c++;
	}
	const char *e;
	*lo = hex(field[0], &e);
	if (*e != '-') {
		return -1;
	}
	*hi = hex(e + 1, &e);
	*off = hex(field[2], &e);
	*path = c;
	return 0;
}

/* libc's text mapping and the start of its first mapping (its ELF
 * header); false if not found. */
static bool find_libc(uintptr_t want, uintptr_t *lo, uintptr_t *hi, uintptr_t *base)
{
	long fd = vms_raw_open("/proc/self/maps", O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		return false;
	}
	char buf[4096], first_path[512] = "";
	uintptr_t first_start = 0;
	size_t have = 0;
	bool eof = false, found = false;
	while (!found && (!eof || have > 0)) {
		if (!eof && have < sizeof buf) {
			long n = vms_raw_read((int)fd, buf + have, sizeof buf - have);
			if (n <= 0) {
				eof = true;
			} else {
				have += (size_t)n;
			}
		}
		char *nl = memchr(buf, '\n', have);
		if (nl == NULL) {
			if (eof || have == sizeof buf) {
				break; /* a line longer than the buffer: give up */
			}
			continue;
		}
		*nl = '\0';
		uintptr_t l, h, off;
		const char *path;
		if (maps_line(buf, &l, &h, &off, &path) == 0 && path[0] == '/') {
			if (off == 0 && strlen(path) < sizeof first_path) {
				first_start = l;
				memcpy(first_path, path, strlen(path) + 1);
			}
			if (want >= l && want < h && strcmp(path, first_path) == 0) {
				*lo = l;
				*hi = h;
				*base = first_start;
				found = true;
			}
		}
		size_t used = (size_t)(nl + 1 - buf);
		memmove(buf, nl + 1, have - used);
		have -= used;
	}
	vms_raw_close((int)fd);
	return found;
}

struct target {
	const char *name;
	void *fn;
};

/* Points one GOT slot at fn; relro says the slot's page is read-only. */
static void patch_slot(void **slot, void *fn, bool relro)
{
	uintptr_t page = (uintptr_t)slot & ~(uintptr_t)4095;
	if (relro && vms_raw_failed(vms_raw_mprotect((void *)page, 4096, PROT_READ | PROT_WRITE))) {
		return;
	}
	__atomic_store_n(slot, fn, __ATOMIC_RELEASE);
	if (relro) {
		vms_raw_mprotect((void *)page, 4096, PROT_READ);
	}
	patched++;
}

#ifdef R_GLOB_DAT
static void patch_relocs(uintptr_t l_addr, const ElfW(Rela) *rela, size_t bytes,
			 const ElfW(Sym) *symtab, const char *strtab, uintptr_t relro_lo,
			 uintptr_t relro_hi, const struct target *t, size_t nt)
{
	for (size_t i = 0; rela != NULL && i < bytes / sizeof *rela; i++) {
		unsigned long type = ELF64_R_TYPE(rela[i].r_info);
		if (type != R_GLOB_DAT && type != R_JUMP_SLOT) {
			continue;
		}
		const char *name = strtab + symtab[ELF64_R_SYM(rela[i].r_info)].st_name;
		static const char *const aligned[] = { "memalign", "posix_memalign", "aligned_alloc",
						       "valloc", "pvalloc" };
		for (size_t k = 0; k < sizeof aligned / sizeof aligned[0]; k++) {
			if (strcmp(name, aligned[k]) == 0) {
				unrouted = aligned[k];
			}
		}
		for (size_t k = 0; k < nt; k++) {
			if (strcmp(name, t[k].name) == 0) {
				uintptr_t slot = l_addr + rela[i].r_offset;
				patch_slot((void **)slot, t[k].fn, slot >= relro_lo && slot < relro_hi);
			}
		}
	}
}
#endif

/* Reads libc's dynamic section from memory and patches its slots. */
static void patch_libc(uintptr_t base)
{
#ifdef R_GLOB_DAT
	const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)base;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_phentsize != sizeof(ElfW(Phdr))) {
		return;
	}
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)(base + eh->e_phoff);
	uintptr_t l_addr = 0, dyn = 0, relro_lo = 0, relro_hi = 0;
	bool have_load = false;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0 && !have_load) {
			l_addr = base - (ph[i].p_vaddr & ~(uintptr_t)4095);
			have_load = true;
		}
	}
	if (!have_load) {
		return;
	}
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_DYNAMIC) {
			dyn = l_addr + ph[i].p_vaddr;
		} else if (ph[i].p_type == PT_GNU_RELRO) {
			/* What ld.so made read-only: whole pages, the last
			 * partial one left writable. */
			relro_lo = (l_addr + ph[i].p_vaddr) & ~(uintptr_t)4095;
			relro_hi = (l_addr + ph[i].p_vaddr + ph[i].p_memsz) & ~(uintptr_t)4095;
		}
	}
	if (dyn == 0) {
		return;
	}
	uintptr_t symtab = 0, strtab = 0, rela = 0, jmprel = 0;
	size_t relasz = 0, pltrelsz = 0;
	for (const ElfW(Dyn) *d = (const ElfW(Dyn) *)dyn; d->d_tag != DT_NULL; d++) {
		switch (d->d_tag) {
		case DT_SYMTAB: symtab = d->d_un.d_ptr; break;
		case DT_STRTAB: strtab = d->d_un.d_ptr; break;
		case DT_RELA: rela = d->d_un.d_ptr; break;
		case DT_RELASZ: relasz = d->d_un.d_val; break;
		case DT_JMPREL: jmprel = d->d_un.d_ptr; break;
		case DT_PLTRELSZ: pltrelsz = d->d_un.d_val; break;
		default: break;
		}
	}
	/* ld.so makes these absolute in place; an object it left alone has
	 * offsets from its load address. */
#define ABS(p) ((p) != 0 && (p) < l_addr ? (p) + l_addr : (p))
	symtab = ABS(symtab);
	strtab = ABS(strtab);
	rela = ABS(rela);
	jmprel = ABS(jmprel);
#undef ABS
	if (symtab == 0 || strtab == 0) {
		return;
	}
	const struct target t[] = {
		{ "malloc", (void *)vms_libc_malloc },
		{ "calloc", (void *)vms_libc_calloc },
		{ "realloc", (void *)vms_libc_realloc },
		{ "reallocarray", (void *)vms_libc_reallocarray },
	};
	patch_relocs(l_addr, (const ElfW(Rela) *)rela, relasz, (const ElfW(Sym) *)symtab,
		     (const char *)strtab, relro_lo, relro_hi, t, sizeof t / sizeof t[0]);
	patch_relocs(l_addr, (const ElfW(Rela) *)jmprel, pltrelsz, (const ElfW(Sym) *)symtab,
		     (const char *)strtab, relro_lo, relro_hi, t, sizeof t / sizeof t[0]);
#else
	(void)base;
#endif
}

void vms_libc_alloc_init(void)
{
	int expected = 0;
	if (__atomic_load_n(&state, __ATOMIC_ACQUIRE) != 0 ||
	    !__atomic_compare_exchange_n(&state, &expected, 1, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		return; /* done, or another thread does it */
	}
	uintptr_t lo, hi, base;
	if (find_libc((uintptr_t)&_IO_file_doallocate, &lo, &hi, &base)) {
		__atomic_store_n(&text_len, hi - lo, __ATOMIC_RELAXED);
		__atomic_store_n(&text_lo, lo, __ATOMIC_RELAXED);
		patch_libc(base);
	}
	if (patched == 0) {
		vms_log(VMS_LOG_INFO, "libc's own allocations are not pinned: its GOT was not found");
	} else if (unrouted != NULL) {
		vms_log(VMS_LOG_INFO, "libc calls %s through its GOT: what it allocates so is not pinned",
			unrouted);
	}
	__atomic_store_n(&state, 2, __ATOMIC_RELEASE);
}

int vms_libc_alloc_patched(void)
{
	return __atomic_load_n(&patched, __ATOMIC_RELAXED);
}
