/* Cryptokey routing table: one path-compressed binary trie per address family.
 *
 * Every node holds a prefix (key masked to cidr bits). A child always has a longer prefix
 * than its parent and agrees with it on the parent's cidr bits; which child slot it sits in
 * is the bit of its key just past the parent's cidr. Nodes with a peer are the inserted
 * prefixes; nodes without one are "glue" that exist only to branch, and the invariant kept
 * by insert and both removals is that a glue node always has exactly two children. So the
 * trie has fewer than 2n nodes for n prefixes and any path is at most 33 or 129 nodes long.
 *
 * Keys are kept as two host-order 64-bit words (IPv4 in the top 32 bits of the first), with
 * the prefix mask precomputed, so a lookup step is two XOR/AND pairs and a shift instead of
 * a byte-wise memcmp, and a lookup is a single loop from the root down with no backtracking:
 * the deepest matching node with a peer seen on the way is the longest match.
 *
 * Not thread-safe: the daemon mutates and looks up from the same event loop. */
#include "allowedips.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Exactly one cache line, so a lookup step costs at most one miss. There is no parent
 * pointer, to stay within the line: removal records the path it walked instead. */
struct node {
	struct node *child[2];
	void *peer; /* NULL for a glue node */
	uint8_t cidr;
	uint64_t key[2]; /* masked to cidr */
	uint64_t mask[2];
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct node) == 64, "a node should fill one cache line");

/* Longest root-to-node path: one node per prefix length 0..128. */
#define MAX_DEPTH 129

struct allowedips {
	struct node *root4;
	struct node *root6;
	/* Nodes allocated ahead by allowedips_reserve(), linked through child[0]: inserts
	 * take from here first, so an apply's commit cannot run out of memory. */
	struct node *spare;
	size_t n_spare;
};

static unsigned family_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

static struct node **family_root(struct allowedips *t, int family)
{
	return family == AF_INET ? &t->root4 : &t->root6;
}

static void load_key(uint64_t key[2], int family, const uint8_t *addr)
{
	if (family == AF_INET) {
		uint32_t v4;

		memcpy(&v4, addr, 4);
		key[0] = (uint64_t)be32toh(v4) << 32;
		key[1] = 0;
	} else {
		memcpy(&key[0], addr, 8);
		memcpy(&key[1], addr + 8, 8);
		key[0] = be64toh(key[0]);
		key[1] = be64toh(key[1]);
	}
}

static void store_key(uint8_t *addr, int family, const uint64_t key[2])
{
	if (family == AF_INET) {
		uint32_t v4 = htobe32((uint32_t)(key[0] >> 32));

		memcpy(addr, &v4, 4);
	} else {
		uint64_t w0 = htobe64(key[0]), w1 = htobe64(key[1]);

		memcpy(addr, &w0, 8);
		memcpy(addr + 8, &w1, 8);
	}
}

/* Shifting a 64-bit word by 64 is undefined, hence the explicit ends. */
static void make_mask(uint64_t mask[2], unsigned cidr)
{
	mask[0] = cidr == 0 ? 0 : cidr >= 64 ? ~0ULL : ~0ULL << (64 - cidr);
	mask[1] = cidr <= 64 ? 0 : cidr >= 128 ? ~0ULL : ~0ULL << (128 - cidr);
}

/* Bit i (0 = most significant) of a key; i < 128. */
static unsigned key_bit(const uint64_t key[2], unsigned i)
{
	return i < 64 ? (key[0] >> (63 - i)) & 1 : (key[1] >> (127 - i)) & 1;
}

/* Length of the common leading bits of two keys, at most 128. */
static unsigned common_bits(const uint64_t a[2], const uint64_t b[2])
{
	uint64_t x = a[0] ^ b[0];

	if (x)
		return (unsigned)__builtin_clzll(x);
	x = a[1] ^ b[1];
	return x ? 64 + (unsigned)__builtin_clzll(x) : 128;
}

static bool node_matches(const struct node *n, const uint64_t key[2])
{
	return !(((key[0] ^ n->key[0]) & n->mask[0]) | ((key[1] ^ n->key[1]) & n->mask[1]));
}

static struct node *node_new(struct allowedips *t, const uint64_t key[2], unsigned cidr, void *peer)
{
	struct node *n = t->spare;

	if (n) {
		t->spare = n->child[0];
		t->n_spare--;
	} else {
		n = aligned_alloc(_Alignof(struct node), sizeof(*n));
	}
	if (!n)
		return NULL;
	memset(n, 0, sizeof(*n));
	make_mask(n->mask, cidr);
	n->key[0] = key[0] & n->mask[0];
	n->key[1] = key[1] & n->mask[1];
	n->cidr = (uint8_t)cidr;
	n->peer = peer;
	return n;
}

static void free_subtree(struct node *n)
{
	if (!n)
		return;
	free_subtree(n->child[0]);
	free_subtree(n->child[1]);
	free(n);
}

/* Removes useless nodes from the end of a root-to-node path upwards: a node without a peer
 * needs two children to earn its place, otherwise its single child (if any) takes its slot.
 * path[i] is the pointer (a child slot or the family root) holding the i-th node. */
static void prune_path(struct node **path[], int depth)
{
	for (int i = depth; i >= 0; i--) {
		struct node *n = *path[i];

		if (n->peer || (n->child[0] && n->child[1]))
			return;
		*path[i] = n->child[0] ? n->child[0] : n->child[1];
		free(n);
	}
}

int allowedips_new(struct allowedips **out)
{
	struct allowedips *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	*out = t;
	return 0;
}

void allowedips_free(struct allowedips *t)
{
	if (!t)
		return;
	free_subtree(t->root4);
	free_subtree(t->root6);
	allowedips_release(t);
	free(t);
}

/* An insert makes at most two nodes: the prefix's own and a glue node. */
int allowedips_reserve(struct allowedips *t, size_t inserts)
{
	while (t->n_spare < 2 * inserts) {
		struct node *n = aligned_alloc(_Alignof(struct node), sizeof(*n));

		if (!n)
			return -ENOMEM;
		n->child[0] = t->spare;
		t->spare = n;
		t->n_spare++;
	}
	return 0;
}

void allowedips_release(struct allowedips *t)
{
	struct node *n;

	while ((n = t->spare)) {
		t->spare = n->child[0];
		free(n);
	}
	t->n_spare = 0;
}

int allowedips_insert(struct allowedips *t, const struct ip_prefix *p, void *peer)
{
	struct node **slot, *n, *fresh, *glue;
	uint64_t key[2];
	unsigned cidr, common;

	if (!peer || (p->addr.family != AF_INET && p->addr.family != AF_INET6) ||
	    p->cidr > family_bits(p->addr.family))
		return -EINVAL;
	cidr = p->cidr;
	load_key(key, p->addr.family, p->addr.bytes);
	slot = family_root(t, p->addr.family);

	for (;;) {
		n = *slot;
		if (!n) {
			/* Fell off the trie: a new leaf in the empty slot. */
			fresh = node_new(t, key, cidr, peer);
			if (!fresh)
				return -ENOMEM;
			*slot = fresh;
			return 0;
		}
		common = common_bits(key, n->key);
		if (common > cidr)
			common = cidr;
		if (common > n->cidr)
			common = n->cidr;
		if (common < n->cidr)
			break;
		/* n's prefix covers ours. */
		if (n->cidr == cidr) {
			/* Same prefix (or a glue node becoming a real one). */
			n->peer = peer;
			return 0;
		}
		slot = &n->child[key_bit(key, n->cidr)];
	}

	/* Our prefix and n's part ways at bit `common`, before n->cidr. */
	fresh = node_new(t, key, cidr, peer);
	if (!fresh)
		return -ENOMEM;
	if (common == cidr) {
		/* Ours is shorter and covers n: it goes between n's parent and n. */
		fresh->child[key_bit(n->key, cidr)] = n;
		*slot = fresh;
		return 0;
	}
	/* Neither covers the other: a glue node at the common bits branches to both. */
	glue = node_new(t, key, common, NULL);
	if (!glue) {
		free(fresh);
		return -ENOMEM;
	}
	glue->child[key_bit(key, common)] = fresh;
	glue->child[key_bit(n->key, common)] = n;
	*slot = glue;
	return 0;
}

int allowedips_remove(struct allowedips *t, const struct ip_prefix *p, void *peer)
{
	struct node **path[MAX_DEPTH], *n;
	uint64_t key[2], mask[2];
	unsigned cidr;
	int depth = 0;

	if (!peer || (p->addr.family != AF_INET && p->addr.family != AF_INET6) ||
	    p->cidr > family_bits(p->addr.family))
		return -ENOENT;
	cidr = p->cidr;
	load_key(key, p->addr.family, p->addr.bytes);
	make_mask(mask, cidr);
	key[0] &= mask[0];
	key[1] &= mask[1];
	path[0] = family_root(t, p->addr.family);

	/* Each step goes to a strictly longer prefix, so depth stays below MAX_DEPTH. */
	for (;;) {
		n = *path[depth];
		if (!n || n->cidr > cidr || !node_matches(n, key))
			return -ENOENT;
		if (n->cidr == cidr)
			break;
		path[depth + 1] = &n->child[key_bit(key, n->cidr)];
		depth++;
	}
	if (n->peer != peer)
		return -ENOENT;
	n->peer = NULL;
	prune_path(path, depth);
	return 0;
}

/* Post-order so that children are settled before deciding whether n is still needed.
 * Recursion depth is bounded by the path length (at most 129). */
static struct node *drop_peer(struct node *n, const void *peer)
{
	struct node *child;

	for (int i = 0; i < 2; i++)
		if (n->child[i])
			n->child[i] = drop_peer(n->child[i], peer);
	if (n->peer == peer)
		n->peer = NULL;
	if (n->peer || (n->child[0] && n->child[1]))
		return n;
	child = n->child[0] ? n->child[0] : n->child[1];
	free(n);
	return child;
}

void allowedips_remove_by_peer(struct allowedips *t, void *peer)
{
	struct node **roots[2] = { &t->root4, &t->root6 };

	if (!peer)
		return;
	for (int i = 0; i < 2; i++)
		if (*roots[i])
			*roots[i] = drop_peer(*roots[i], peer);
}

void *allowedips_lookup(const struct allowedips *t, int family, const uint8_t *addr)
{
	const struct node *n;
	void *best = NULL;
	uint64_t key[2];
	unsigned bits;

	if (family == AF_INET)
		n = t->root4;
	else if (family == AF_INET6)
		n = t->root6;
	else
		return NULL;
	bits = family_bits(family);
	load_key(key, family, addr);

	while (n && node_matches(n, key)) {
		if (n->peer)
			best = n->peer;
		if (n->cidr >= bits)
			break;
		n = n->child[key_bit(key, n->cidr)];
	}
	return best;
}

void *allowedips_lookup_exact(const struct allowedips *t, const struct ip_prefix *p)
{
	const struct node *n;
	uint64_t key[2], mask[2];

	if ((p->addr.family != AF_INET && p->addr.family != AF_INET6) ||
	    p->cidr > family_bits(p->addr.family))
		return NULL;
	n = p->addr.family == AF_INET ? t->root4 : t->root6;
	load_key(key, p->addr.family, p->addr.bytes);
	make_mask(mask, p->cidr);
	key[0] &= mask[0];
	key[1] &= mask[1];
	while (n && n->cidr <= p->cidr && node_matches(n, key)) {
		if (n->cidr == p->cidr)
			return n->peer;
		n = n->child[key_bit(key, n->cidr)];
	}
	return NULL;
}

static int walk(const struct node *n, int family, const void *peer,
		int (*fn)(void *ctx, const struct ip_prefix *p), void *ctx)
{
	struct ip_prefix p;
	int ret;

	if (!n)
		return 0;
	if (n->peer == peer) {
		memset(&p, 0, sizeof(p));
		p.addr.family = family;
		p.cidr = n->cidr;
		store_key(p.addr.bytes, family, n->key);
		ret = fn(ctx, &p);
		if (ret)
			return ret;
	}
	ret = walk(n->child[0], family, peer, fn, ctx);
	if (ret)
		return ret;
	return walk(n->child[1], family, peer, fn, ctx);
}

int allowedips_walk_by_peer(const struct allowedips *t, const void *peer,
			    int (*fn)(void *ctx, const struct ip_prefix *p), void *ctx)
{
	int ret;

	if (!peer)
		return 0;
	ret = walk(t->root4, AF_INET, peer, fn, ctx);
	if (ret)
		return ret;
	return walk(t->root6, AF_INET6, peer, fn, ctx);
}
