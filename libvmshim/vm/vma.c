/*
 * vm/vma.c - the VMA set: an augmented AVL tree of address ranges; see vm/vma.h.
 *
 * Owns: the tree linkage and augmentation fields of struct vms_vma and the
 * node pool of struct vms_vma_set.  Must not: make system calls, touch
 * signals, take locks (the pool's own spinlock aside), call malloc or stdio.
 * The caller holds the map lock: read for lookups, write for changes.
 *
 * Structure: an AVL tree keyed by start address, with intrusive nodes
 * (left, right, parent, height).  Every node also caches, for its subtree:
 *
 *   subtree_min = lowest start         (= start of the leftmost node)
 *   subtree_max = highest end          (= end of the rightmost node)
 *   max_gap     = max over adjacent pairs (p, q) inside the subtree of
 *                 q->start - p->end    (0 with fewer than two nodes)
 *
 * Invariants (all verified by vms_vma_check): in-order starts increase and
 * ranges do not overlap (p->end <= q->start); start < end, both multiples
 * of 4096; height = 1 + max(child heights) (NULL counts 0) and children's
 * heights differ by at most 1; child->parent is the parent, root->parent is
 * NULL; the three cached fields equal their definitions; count = nodes.
 *
 * Why AVL with augmentation: the fault path does a find on every fault and
 * AVL's tighter balance (height <= 1.44 log2 n, against 2 log2 n for a
 * red-black tree) makes those lookups shorter.  RB trees win on updates
 * only through O(1) amortised rebalancing, and that advantage disappears
 * here: any change of a range must refresh the cached fields of every
 * ancestor anyway, so each update walks to the root in O(log n) whatever
 * the tree.  The height field doubles as the balance information, which
 * keeps the code and the checker short.  A sorted array would make insert
 * O(n); a maple tree or skip list would be far more code for no gain at
 * our sizes.  The augmentation is what makes the top-down gap search
 * logarithmic: a subtree whose largest gap cannot hold the request is
 * skipped whole, as in Linux's unmapped_area_topdown().
 *
 * Complexity: find, first_in, insert, remove, split, clip, merge: O(log n).
 * next/prev: O(1) amortised (O(log n) worst) through parent pointers.
 * find_gap: O(log n) when every free gap at least len long inside [lo, hi)
 * can take an aligned block, which holds for align == 4096 and page-sized
 * len; otherwise O((1 + k) log n), k being the gaps that are long enough
 * but cannot hold an aligned block (see the comment above find_gap).
 * check: O(n).  draw: O(cols log n).
 */
#include "config.h"
#include "vm/vma.h"

#include <errno.h>

#include "os/pool.h"
#include "util/debug.h"

#define VMA_PAGE ((uintptr_t)4096)
#define VMA_ALIGNED(x) (((x) & (VMA_PAGE - 1)) == 0)
/* Deeper than any AVL tree that fits in a 64-bit address space. */
#define VMA_MAX_HEIGHT 128

static inline int height(const struct vms_vma *n)
{
	return n != NULL ? n->height : 0;
}

static inline uintptr_t umax(uintptr_t a, uintptr_t b)
{
	return a > b ? a : b;
}

/* Recomputes n's height and cached fields from its children. */
static void update(struct vms_vma *n)
{
	struct vms_vma *l = n->left, *r = n->right;
	int hl = height(l), hr = height(r);
	uintptr_t gap = 0;

	n->height = 1 + (hl > hr ? hl : hr);
	n->subtree_min = l != NULL ? l->subtree_min : n->start;
	n->subtree_max = r != NULL ? r->subtree_max : n->end;
	if (l != NULL) {
		gap = umax(l->max_gap, n->start - l->subtree_max);
	}
	if (r != NULL) {
		gap = umax(gap, umax(r->max_gap, r->subtree_min - n->end));
	}
	n->max_gap = gap;
}

/* Makes parent (or the root when parent is NULL) point at new instead of old. */
static void replace_child(struct vms_vma_set *s, struct vms_vma *parent, struct vms_vma *old,
			  struct vms_vma *new)
{
	if (parent == NULL) {
		s->root = new;
	} else if (parent->left == old) {
		parent->left = new;
	} else {
		parent->right = new;
	}
}

static struct vms_vma *rotate_left(struct vms_vma_set *s, struct vms_vma *x)
{
	struct vms_vma *y = x->right;

	x->right = y->left;
	if (y->left != NULL) {
		y->left->parent = x;
	}
	y->parent = x->parent;
	replace_child(s, x->parent, x, y);
	y->left = x;
	x->parent = y;
	update(x);
	update(y);
	return y;
}

static struct vms_vma *rotate_right(struct vms_vma_set *s, struct vms_vma *x)
{
	struct vms_vma *y = x->left;

	x->left = y->right;
	if (y->right != NULL) {
		y->right->parent = x;
	}
	y->parent = x->parent;
	replace_child(s, x->parent, x, y);
	y->right = x;
	x->parent = y;
	update(x);
	update(y);
	return y;
}

/* Restores the AVL balance at n (children balanced); returns the subtree root. */
static struct vms_vma *rebalance(struct vms_vma_set *s, struct vms_vma *n)
{
	int bf = height(n->left) - height(n->right);

	if (bf > 1) {
		if (height(n->left->left) < height(n->left->right)) {
			rotate_left(s, n->left);
		}
		return rotate_right(s, n);
	}
	if (bf < -1) {
		if (height(n->right->right) < height(n->right->left)) {
			rotate_right(s, n->right);
		}
		return rotate_left(s, n);
	}
	update(n);
	return n;
}

/* Rebalances and refreshes every node from n up to the root. */
static void fixup(struct vms_vma_set *s, struct vms_vma *n)
{
	while (n != NULL) {
		n = rebalance(s, n)->parent;
	}
}

/* Refreshes the cached fields from n up to the root (shape unchanged). */
static void propagate(struct vms_vma *n)
{
	for (; n != NULL; n = n->parent) {
		update(n);
	}
}

void vms_vma_set_init(struct vms_vma_set *s)
{
	s->root = NULL;
	s->count = 0;
	vms_pool_init(&s->pool, sizeof(struct vms_vma));
}

void vms_vma_set_fail_alloc_after(struct vms_vma_set *s, long n)
{
	vms_pool_fail_after(&s->pool, n);
}

struct vms_vma *vms_vma_new(struct vms_vma_set *s, uintptr_t start, uintptr_t end)
{
	vms_assert(start < end && VMA_ALIGNED(start) && VMA_ALIGNED(end));
	struct vms_vma *v = vms_pool_alloc(&s->pool);
	if (v == NULL) {
		return NULL;
	}
	/* The pool hands out zeroed memory: attributes and links are 0/NULL. */
	v->start = start;
	v->end = end;
	v->height = 1;
	return v;
}

void vms_vma_free(struct vms_vma_set *s, struct vms_vma *v)
{
	vms_pool_free(&s->pool, v);
}

/*
 * The descent compares both ends: the leaf position reached lies between
 * its in-order neighbours p and q with p->end <= v->start and v->end <=
 * q->start, so reaching a leaf proves v overlaps nothing.
 */
void vms_vma_insert(struct vms_vma_set *s, struct vms_vma *v)
{
	struct vms_vma *p = NULL, **link = &s->root;

	vms_assert(v->start < v->end && VMA_ALIGNED(v->start) && VMA_ALIGNED(v->end));
	while (*link != NULL) {
		p = *link;
		if (v->end <= p->start) {
			link = &p->left;
		} else {
			vms_assert(v->start >= p->end);
			link = &p->right;
		}
	}
	v->left = v->right = NULL;
	v->parent = p;
	*link = v;
	update(v);
	fixup(s, p);
	s->count++;
}

void vms_vma_remove(struct vms_vma_set *s, struct vms_vma *v)
{
	struct vms_vma *from;

	if (v->left != NULL && v->right != NULL) {
		/* Put the successor (leftmost of the right subtree) in v's place. */
		struct vms_vma *succ = v->right;
		while (succ->left != NULL) {
			succ = succ->left;
		}
		if (succ->parent == v) {
			from = succ;
		} else {
			from = succ->parent;
			from->left = succ->right;
			if (succ->right != NULL) {
				succ->right->parent = from;
			}
			succ->right = v->right;
			v->right->parent = succ;
		}
		succ->left = v->left;
		v->left->parent = succ;
		succ->parent = v->parent;
		replace_child(s, v->parent, v, succ);
	} else {
		struct vms_vma *child = v->left != NULL ? v->left : v->right;
		from = v->parent;
		if (child != NULL) {
			child->parent = from;
		}
		replace_child(s, from, v, child);
	}
	fixup(s, from);
	v->left = v->right = v->parent = NULL;
	v->height = 1;
	s->count--;
}

struct vms_vma *vms_vma_find(const struct vms_vma_set *s, uintptr_t addr)
{
	struct vms_vma *n = s->root;

	while (n != NULL) {
		if (addr < n->start) {
			n = n->left;
		} else if (addr >= n->end) {
			n = n->right;
		} else {
			return n;
		}
	}
	return NULL;
}

struct vms_vma *vms_vma_first_in(const struct vms_vma_set *s, uintptr_t start, uintptr_t end)
{
	struct vms_vma *n = s->root, *best = NULL;

	if (start >= end) {
		return NULL;
	}
	/* Ends increase with starts: find the lowest VMA ending above start. */
	while (n != NULL) {
		if (n->end > start) {
			best = n;
			n = n->left;
		} else {
			n = n->right;
		}
	}
	return best != NULL && best->start < end ? best : NULL;
}

struct vms_vma *vms_vma_first(const struct vms_vma_set *s)
{
	struct vms_vma *n = s->root;

	if (n == NULL) {
		return NULL;
	}
	while (n->left != NULL) {
		n = n->left;
	}
	return n;
}

struct vms_vma *vms_vma_next(const struct vms_vma *v)
{
	struct vms_vma *n;

	if (v->right != NULL) {
		for (n = v->right; n->left != NULL; n = n->left) {
		}
		return n;
	}
	for (n = v->parent; n != NULL && n->right == v; n = n->parent) {
		v = n;
	}
	return n;
}

struct vms_vma *vms_vma_prev(const struct vms_vma *v)
{
	struct vms_vma *n;

	if (v->left != NULL) {
		for (n = v->left; n->right != NULL; n = n->right) {
		}
		return n;
	}
	for (n = v->parent; n != NULL && n->left == v; n = n->parent) {
		v = n;
	}
	return n;
}

/* Splits v at addr into the preallocated node hi; cannot fail. */
static void split_into(struct vms_vma_set *s, struct vms_vma *v, uintptr_t addr,
		       struct vms_vma *hi)
{
	vms_assert(v->start < addr && addr < v->end && VMA_ALIGNED(addr));
	hi->start = addr;
	hi->end = v->end;
	hi->prot = v->prot;
	hi->flags = v->flags;
	hi->advice = v->advice;
	hi->object = v->object;
	hi->dev = v->dev;
	hi->ino = v->ino;
	hi->caller = v->caller;
	hi->apart = v->apart;
	hi->anon = v->anon;
	hi->anon_forked = v->anon_forked;
	/* Kept consistent even for anonymous VMAs, where it means nothing. */
	hi->pgoff = v->pgoff + (addr - v->start) / VMA_PAGE;
	v->end = addr;
	propagate(v);
	vms_vma_insert(s, hi);
}

int vms_vma_split(struct vms_vma_set *s, struct vms_vma *v, uintptr_t addr,
		  struct vms_vma **high)
{
	vms_assert(v->start < addr && addr < v->end && VMA_ALIGNED(addr));
	struct vms_vma *hi = vms_vma_new(s, addr, v->end);
	if (hi == NULL) {
		return ENOMEM;
	}
	split_into(s, v, addr, hi);
	if (high != NULL) {
		*high = hi;
	}
	return 0;
}

/*
 * Allocates every node it needs before changing anything, so ENOMEM leaves
 * the set as it was.  One VMA straddling both ends needs two nodes.
 */
int vms_vma_clip(struct vms_vma_set *s, uintptr_t start, uintptr_t end)
{
	struct vms_vma *a, *b, *node[2] = { NULL, NULL };
	int need = 0;

	if (start >= end) {
		return 0;
	}
	a = vms_vma_find(s, start);
	if (a != NULL && a->start == start) {
		a = NULL;
	}
	b = vms_vma_find(s, end);
	if (b != NULL && b->start == end) {
		b = NULL;
	}
	need = (a != NULL) + (b != NULL);
	for (int i = 0; i < need; i++) {
		/* Zeroed; split_into() fills every field. */
		node[i] = vms_pool_alloc(&s->pool);
		if (node[i] == NULL) {
			vms_pool_free(&s->pool, node[0]);
			return ENOMEM;
		}
	}
	int used = 0;
	if (a != NULL) {
		split_into(s, a, start, node[used++]);
	}
	if (b != NULL) {
		/* b may have been a; its upper half now holds end. */
		b = vms_vma_find(s, end);
		split_into(s, b, end, node[used++]);
	}
	return 0;
}

/* Linux's is_mergeable_anon_vma: both the same, or one none and the other
 * not inherited through fork. */
static bool anon_compatible(const struct vms_vma *a, const struct vms_vma *b)
{
	if (a->anon == b->anon) {
		return true;
	}
	return a->anon == 0 ? !b->anon_forked : b->anon == 0 && !a->anon_forked;
}

bool vms_vma_compatible(const struct vms_vma *a, const struct vms_vma *b)
{
	return a->end == b->start && a->prot == b->prot && a->flags == b->flags &&
	       a->advice == b->advice && a->object == b->object && a->apart == b->apart &&
	       anon_compatible(a, b) &&
	       (a->object == NULL || a->pgoff + (a->end - a->start) / VMA_PAGE == b->pgoff);
}

/* The merged mapping keeps the anon_vma one of the two had. */
static void take_anon(struct vms_vma *into, const struct vms_vma *from)
{
	if (into->anon == 0) {
		into->anon = from->anon;
		into->anon_forked = from->anon_forked;
	}
}

/*
 * The survivor is the lowest VMA of the merged run (prev if v merges down,
 * else v), so its pgoff stays right; v itself is freed when it merges into
 * prev, so callers must continue with the returned pointer.
 */
struct vms_vma *vms_vma_merge(struct vms_vma_set *s, struct vms_vma *v)
{
	struct vms_vma *prev = vms_vma_prev(v), *next = vms_vma_next(v);
	bool with_next = next != NULL && vms_vma_compatible(v, next);
	bool with_prev = prev != NULL && vms_vma_compatible(prev, v);
	if (with_next && with_prev && !anon_compatible(prev, next)) {
		with_next = false; /* Linux merges with the one below */
	}
	if (with_next) {
		vms_vma_remove(s, next);
		v->end = next->end;
		take_anon(v, next);
		propagate(v);
		vms_vma_free(s, next);
	}
	if (with_prev) {
		take_anon(prev, v);
		vms_vma_remove(s, v);
		prev->end = v->end;
		propagate(prev);
		vms_vma_free(s, v);
		v = prev;
	}
	return v;
}

bool vms_vma_would_merge(const struct vms_vma *lo, const struct vms_vma *hi)
{
	if ((lo->apart | hi->apart) & VMS_APART_HARD) {
		return vms_vma_compatible(lo, hi);
	}
	struct vms_vma t = *hi;
	t.apart = lo->apart;
	return vms_vma_compatible(lo, &t);
}

/* Gives n v's apart identity if that alone kept them from merging.  The
 * pieces of n's mapping beyond it that the caller's clip split off (same
 * identity, mergeable with n) go along: Linux never split them. */
static void join_apart(struct vms_vma *n, const struct vms_vma *v, bool below)
{
	if (n == NULL || n->apart == v->apart || (n->apart & VMS_APART_HARD) ||
	    (v->apart & VMS_APART_HARD)) {
		return;
	}
	uint64_t was = n->apart;
	n->apart = v->apart;
	if (!(below ? vms_vma_compatible(n, v) : vms_vma_compatible(v, n))) {
		n->apart = was;
		return;
	}
	for (struct vms_vma *near = n, *m = below ? vms_vma_prev(n) : vms_vma_next(n);
	     m != NULL && m->apart == was &&
	     (below ? vms_vma_would_merge(m, near) : vms_vma_would_merge(near, m));
	     near = m, m = below ? vms_vma_prev(m) : vms_vma_next(m)) {
		m->apart = v->apart;
	}
}

struct vms_vma *vms_vma_merge_new(struct vms_vma_set *s, struct vms_vma *v)
{
	join_apart(vms_vma_prev(v), v, true);
	join_apart(vms_vma_next(v), v, false);
	return vms_vma_merge(s, v);
}

struct vms_vma *vms_vma_merge_grown(struct vms_vma_set *s, struct vms_vma *v)
{
	join_apart(vms_vma_next(v), v, false);
	return vms_vma_merge(s, v);
}

struct vms_vma *vms_vma_merge_changed(struct vms_vma_set *s, struct vms_vma *v, uint64_t fresh)
{
	if (!(v->apart & VMS_APART_HARD)) {
		v->apart = fresh;
	}
	return vms_vma_merge_new(s, v);
}

bool vms_vma_range_free(const struct vms_vma_set *s, uintptr_t start, uintptr_t end)
{
	return vms_vma_first_in(s, start, end) == NULL;
}

/*
 * Gap search.  Every free gap is attributed to the VMA just above it: node
 * n owns [end of n's predecessor, n->start), the lowest VMA owns [0, start);
 * the gap above the highest VMA is looked at first, on its own.  Walking
 * the tree right, node, left visits the owned gaps from the highest down,
 * and the first gap that takes an aligned block holds the answer, since
 * every address of a higher gap is above every address of a lower one.
 *
 * A subtree is entered with pe, the end of its in-order predecessor (0 when
 * there is none); its gaps are then [pe, subtree_min) and the max_gap ones
 * inside it.  It is skipped when
 *  - no gap in it is len long: max(max_gap, subtree_min - pe) < len;
 *  - all its gaps start too high: max(pe, lo) > hi - len;
 *  - all its gaps end too low: they end at starts < subtree_max, so
 *    subtree_max <= lo + len.
 *
 * The threshold is len, not len + align - 4096 as in Linux: a shorter gap
 * can still take an aligned block when it happens to be aligned, and the
 * contract is the highest fitting address, so such gaps are checked
 * exactly.  Linux's slack would skip them and return a lower address.  The
 * price is that gaps long enough but misaligned are visited one by one.
 */
struct gap_query {
	uintptr_t lo, hi, len, mask;
	uintptr_t out;
};

/* Places the block as high as possible in the gap [gs, ge) clipped to [lo, hi). */
static bool gap_fits(struct gap_query *q, uintptr_t gs, uintptr_t ge)
{
	if (gs < q->lo) {
		gs = q->lo;
	}
	if (ge > q->hi) {
		ge = q->hi;
	}
	if (ge <= gs || ge - gs < q->len) {
		return false;
	}
	uintptr_t a = (ge - q->len) & ~q->mask;
	if (a < gs) {
		return false;
	}
	q->out = a;
	return true;
}

static bool gap_search(struct gap_query *q, const struct vms_vma *n, uintptr_t pe)
{
	while (n != NULL) {
		if (umax(n->max_gap, n->subtree_min - pe) < q->len ||
		    umax(pe, q->lo) > q->hi - q->len || n->subtree_max <= q->lo + q->len) {
			return false;
		}
		if (gap_search(q, n->right, n->end)) {
			return true;
		}
		if (gap_fits(q, n->left != NULL ? n->left->subtree_max : pe, n->start)) {
			return true;
		}
		n = n->left;
	}
	return false;
}

/*
 * lo and hi need not be page aligned: the answer is the highest multiple of
 * align in [lo, hi - len] whose [a, a + len) is free, so an unaligned lo
 * only raises the lowest candidate and an unaligned hi only lowers the
 * highest.  The free space below the lowest VMA reaches down to address 0
 * and the space above the highest up to UINTPTR_MAX; both are clipped to
 * [lo, hi) like every gap, so 0 is a possible answer when lo is 0 (callers
 * keep lo above mmap_min_addr).  len need not be a page multiple.  len == 0
 * and lo >= hi give ENOMEM (nothing to place); *out is written only on
 * success.  A bad align is a caller bug and trips vms_assert.
 */
int vms_vma_find_gap(const struct vms_vma_set *s, uintptr_t lo, uintptr_t hi, size_t len,
		     size_t align, uintptr_t *out)
{
	struct gap_query q = { .lo = lo, .hi = hi, .len = len, .mask = align - 1 };

	vms_assert(align >= VMA_PAGE && (align & (align - 1)) == 0);
	if (len == 0 || lo >= hi || len > hi - lo) {
		return ENOMEM;
	}
	if (s->root == NULL ? gap_fits(&q, lo, hi)
			    : gap_fits(&q, s->root->subtree_max, hi) ||
				      gap_search(&q, s->root, 0)) {
		*out = q.out;
		return 0;
	}
	return ENOMEM;
}

size_t vms_vma_count(const struct vms_vma_set *s)
{
	return s->count;
}

struct check_state {
	size_t nodes, limit;
	bool have_prev;
	uintptr_t prev_end;
};

/* Returns the height of the subtree at n, or -1 on any violation. */
static int check_node(struct check_state *c, const struct vms_vma *n, const struct vms_vma *parent,
		      int depth)
{
	if (n == NULL) {
		return 0;
	}
	if (depth > VMA_MAX_HEIGHT || ++c->nodes > c->limit || n->parent != parent) {
		return -1;
	}
	int hl = check_node(c, n->left, n, depth + 1);
	if (hl < 0) {
		return -1;
	}
	if (n->start >= n->end || !VMA_ALIGNED(n->start) || !VMA_ALIGNED(n->end)) {
		return -1;
	}
	if (c->have_prev && c->prev_end > n->start) {
		return -1;
	}
	c->have_prev = true;
	c->prev_end = n->end;
	int hr = check_node(c, n->right, n, depth + 1);
	if (hr < 0 || hl - hr > 1 || hr - hl > 1) {
		return -1;
	}
	struct vms_vma want = *n;
	update(&want);
	if (want.height != n->height || want.subtree_min != n->subtree_min ||
	    want.subtree_max != n->subtree_max || want.max_gap != n->max_gap) {
		return -1;
	}
	return n->height;
}

int vms_vma_check(const struct vms_vma_set *s)
{
	struct check_state c = { .nodes = 0, .limit = s->count, .have_prev = false };

	if (s->root != NULL && s->root->parent != NULL) {
		return -1;
	}
	if (check_node(&c, s->root, NULL, 1) < 0 || c.nodes != s->count) {
		return -1;
	}
	return 0;
}

/*
 * Drawing convention: cell i of cols covers [lo + i*(hi-lo)/cols,
 * lo + (i+1)*(hi-lo)/cols) (at least one byte).  A cell is '.' when no VMA
 * intersects it; otherwise it shows the lowest VMA intersecting it.  The
 * VMAs shown get letters in address order: the first shown is 'A', the
 * next 'B', ... 'Z', then 'a' ... 'z', then 'A' again, so two different
 * VMAs next to each other never share a letter ("AAAABBBB" is two VMAs
 * that touch, "AAAAAAAA" one).  Writes at most cap - 1 characters and a NUL
 * (when cap > 0); returns the characters written.
 */
size_t vms_vma_draw(const struct vms_vma_set *s, uintptr_t lo, uintptr_t hi, size_t cols,
		    char *buf, size_t cap)
{
	static const char letters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	const struct vms_vma *last = NULL;
	size_t n = 0, shown = 0;

	if (cap == 0) {
		return 0;
	}
	if (hi > lo && cols > 0) {
		/* lo + i * (hi - lo) / cols without overflowing (i < cap). */
		uintptr_t q = (hi - lo) / cols, rem = (hi - lo) % cols;
		for (; n < cols && n + 1 < cap; n++) {
			uintptr_t cs = lo + n * q + n * rem / cols;
			uintptr_t ce = lo + (n + 1) * q + (n + 1) * rem / cols;
			if (ce <= cs) {
				ce = cs + 1;
			}
			const struct vms_vma *v = vms_vma_first_in(s, cs, ce);
			if (v == NULL) {
				buf[n] = '.';
				continue;
			}
			if (v != last) {
				last = v;
				shown++;
			}
			buf[n] = letters[(shown - 1) % (sizeof letters - 1)];
		}
	}
	buf[n] = '\0';
	return n;
}
