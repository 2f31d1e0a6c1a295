/*
 * vm/vma.h - the VMA set: the shim's vm_area_structs, ordered by address.
 *
 * Owns: lookup, insert, clip (split), merge, remove and top-down gap search
 * over non-overlapping, page-aligned address ranges.  It is a pure module:
 * no system calls, no signals, no locks of its own (the caller holds the
 * map lock: read for lookups, write for changes); node memory comes from an
 * os/pool.h pool owned by the set, outside the arena.
 *
 * Complexity: find, insert, remove, split, merge and gap search are
 * O(log n); see vma.c for the structure chosen and why.
 *
 * Field annotations: (c) constant while in the set, (m) changed only with
 * the map lock held for writing.  The attribute fields are opaque to vma.c
 * except that two VMAs merge only when vms_vma_compatible() says so.
 */
#ifndef VMS_VM_VMA_H
#define VMS_VM_VMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "os/pool.h"

struct vms_vma {
	uintptr_t start;   /* (m) first byte, page aligned */
	uintptr_t end;     /* (m) one past the last byte, page aligned, > start */
	int prot;          /* (m) PROT_* the program asked for */
	unsigned flags;    /* (m) VMS_VMA_* bits */
	unsigned advice;   /* (m) madvise access pattern (VMS_ADV_*) */
	void *object;      /* (m) backing object, NULL for private anonymous */
	uint64_t pgoff;    /* (m) page offset of start within object */
	uint64_t dev, ino; /* (m) the mapped file's device and inode, for the maps view */
	uintptr_t caller;  /* (m) return address of the program's mmap that made it, for
			    * the maps view (0: made by the shim, brk or the allocator;
			    * after a merge, the lowest part's) */
	uint64_t apart;    /* (m) 0, or the identity of a kernel mapping the kernel
			    * keeps apart from its neighbours although their
			    * attributes match (fork's unlocking, DONTUNMAP's;
			    * with VMS_APART_HARD, a moved mapping's own anon_vma
			    * and page offset): VMAs merge only when these are
			    * equal */
	uint64_t anon;     /* (m) 0, or the identity of the anon_vma Linux gives a
			    * private mapping at its first write (vms_anon_settle):
			    * two mappings merge only if one has none or both the
			    * same (Linux's is_mergeable_anon_vma) */
	bool anon_forked;  /* (m) with anon: made by fork from the parent's (Linux's
			    * anon_vma chain is not singular): merges only with the
			    * same anon */
	/* Tree linkage and augmentation: private to vma.c. */
	struct vms_vma *left, *right, *parent;
	int height;
	uintptr_t subtree_min;  /* lowest start in this subtree */
	uintptr_t subtree_max;  /* highest end in this subtree */
	uintptr_t max_gap;      /* largest free gap between VMAs inside this subtree */
};

/* VMA flags (opaque to vma.c; listed here so every user shares them). */
#define VMS_VMA_SHARED      0x001u  /* MAP_SHARED semantics */
#define VMS_VMA_ANON        0x002u  /* anonymous memory */
#define VMS_VMA_FILE        0x004u  /* file-backed */
#define VMS_VMA_NORESERVE   0x008u
#define VMS_VMA_GROWSDOWN   0x010u
#define VMS_VMA_LOCKED      0x020u  /* mlock */
#define VMS_VMA_LOCKONFAULT 0x040u  /* with LOCKED: mlock2(MLOCK_ONFAULT), MCL_ONFAULT */
#define VMS_VMA_DONTFORK    0x080u
#define VMS_VMA_WIPEONFORK  0x100u
#define VMS_VMA_DONTDUMP    0x200u
#define VMS_VMA_NOHUGEPAGE  0x400u  /* MADV_NOHUGEPAGE */
#define VMS_VMA_MERGEABLE   0x800u  /* MADV_MERGEABLE */
#define VMS_VMA_NOWRITE     0x2000u /* shared file opened read-only: PROT_WRITE is EACCES */
#define VMS_VMA_HUGEPAGE    0x4000u /* MADV_HUGEPAGE from the program (the arena
				      * carries it already: not a kernel split) */
#define VMS_VMA_ACCOUNT     0x10000u /* Linux's VM_ACCOUNT (private writable memory
				       * is committed): it only keeps mappings apart,
				       * as the kernel's merge rule does */
#define VMS_VMA_MODIFIED    0x20000u /* transient, inside one call: its attributes
				       * just changed (vms_vma_settle clears it) */
#define VMS_VMA_FOREIGN     0x1000u /* a kernel mapping placed in the arena by a
				      * pass-through MAP_FIXED: the kernel serves it */
/* Flags the kernel keeps per mapping too: they split kernel mappings. */
#define VMS_VMA_KERNEL_FLAGS                                                   \
	(VMS_VMA_DONTFORK | VMS_VMA_WIPEONFORK | VMS_VMA_DONTDUMP |            \
	 VMS_VMA_NOHUGEPAGE | VMS_VMA_MERGEABLE | VMS_VMA_LOCKED | VMS_VMA_LOCKONFAULT)

/* An apart identity no new neighbour overrides (vms_vma_merge_new). */
#define VMS_APART_HARD (1ULL << 63)

/* Access-pattern advice. */
#define VMS_ADV_NORMAL     0u
#define VMS_ADV_RANDOM     1u
#define VMS_ADV_SEQUENTIAL 2u

struct vms_vma_set {
	struct vms_vma *root;  /* (m) */
	size_t count;          /* (m) */
	struct vms_pool pool;  /* node memory */
};

void vms_vma_set_init(struct vms_vma_set *s);
/* Makes the (n+1)-th next node allocation fail (tests of ENOMEM paths). */
void vms_vma_set_fail_alloc_after(struct vms_vma_set *s, long n);

/* A new, unlinked VMA for [start, end) with zeroed attributes; NULL on ENOMEM. */
struct vms_vma *vms_vma_new(struct vms_vma_set *s, uintptr_t start, uintptr_t end);
/* Links v; [v->start, v->end) must not overlap any VMA of s. */
void vms_vma_insert(struct vms_vma_set *s, struct vms_vma *v);
/* Unlinks v (it stays allocated). */
void vms_vma_remove(struct vms_vma_set *s, struct vms_vma *v);
/* Frees an unlinked VMA. */
void vms_vma_free(struct vms_vma_set *s, struct vms_vma *v);

/* The VMA containing addr, or NULL. */
struct vms_vma *vms_vma_find(const struct vms_vma_set *s, uintptr_t addr);
/* The lowest VMA intersecting [start, end), or NULL. */
struct vms_vma *vms_vma_first_in(const struct vms_vma_set *s, uintptr_t start, uintptr_t end);
struct vms_vma *vms_vma_first(const struct vms_vma_set *s);
struct vms_vma *vms_vma_next(const struct vms_vma *v);
struct vms_vma *vms_vma_prev(const struct vms_vma *v);

/*
 * Splits v at addr (start < addr < end, page aligned): v keeps [start, addr),
 * a new VMA with the same attributes (pgoff advanced) takes [addr, end) and
 * is returned through *high.  0, or ENOMEM with v unchanged.
 */
int vms_vma_split(struct vms_vma_set *s, struct vms_vma *v, uintptr_t addr,
		  struct vms_vma **high);
/*
 * Clips: splits the VMAs that straddle start or end so that every VMA
 * intersecting [start, end) lies inside it.  0, or ENOMEM with the set
 * unchanged.
 */
int vms_vma_clip(struct vms_vma_set *s, uintptr_t start, uintptr_t end);

/* True when a and b may become one VMA if adjacent (a below b). */
bool vms_vma_compatible(const struct vms_vma *a, const struct vms_vma *b);
/* The same for a merge attempt, which apart identities left by earlier
 * calls do not stop (hard ones, an anon_vma of its own, still do). */
bool vms_vma_would_merge(const struct vms_vma *lo, const struct vms_vma *hi);
/* Merges v with its neighbours where adjacent and compatible; returns the
 * VMA that now covers v's range (the others are freed). */
struct vms_vma *vms_vma_merge(struct vms_vma_set *s, struct vms_vma *v);

/* The same for a VMA just created (mmap, the target of mremap): Linux tries
 * to merge a new mapping with both neighbours, so a neighbour's apart
 * identity (left by a flag change the kernel made without merging) gives
 * way where it alone kept them apart. */
struct vms_vma *vms_vma_merge_new(struct vms_vma_set *s, struct vms_vma *v);

/* The same for a VMA that grew at its end (mremap in place): Linux merges
 * the new range with the next mapping, not with the one below. */
struct vms_vma *vms_vma_merge_grown(struct vms_vma_set *s, struct vms_vma *v);

/* The same for a VMA whose attributes a call just changed (mprotect,
 * madvise, mlock): Linux's vma_modify merges it with both neighbours
 * whatever kept them apart before, except a hard apart identity (an
 * anon_vma of its own).  Unless hard, v takes the apart identity fresh
 * (unused elsewhere): a neighbour that is not merged now stays apart, as
 * on Linux, where only a call's own merge attempt joins mappings. */
struct vms_vma *vms_vma_merge_changed(struct vms_vma_set *s, struct vms_vma *v, uint64_t fresh);

/* True when no VMA intersects [start, end). */
bool vms_vma_range_free(const struct vms_vma_set *s, uintptr_t start, uintptr_t end);
/*
 * Top-down gap search, like Linux's unmapped-area-topdown: the highest
 * address a, a multiple of align (a power of two >= 4096), such that
 * [a, a + len) lies inside [lo, hi) and intersects no VMA.  0 with *out, or
 * ENOMEM.
 */
int vms_vma_find_gap(const struct vms_vma_set *s, uintptr_t lo, uintptr_t hi, size_t len,
		     size_t align, uintptr_t *out);

size_t vms_vma_count(const struct vms_vma_set *s);
/* Walks the whole set checking every invariant; 0 if sound, else -1. */
int vms_vma_check(const struct vms_vma_set *s);
/* Draws the VMAs in [lo, hi) as one ASCII row (tests): see vma.c. */
size_t vms_vma_draw(const struct vms_vma_set *s, uintptr_t lo, uintptr_t hi, size_t cols,
		    char *buf, size_t cap);

#endif
