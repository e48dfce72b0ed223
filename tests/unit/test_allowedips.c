/* Allowed-IPs trie: hand-written cases, then a randomized comparison against a deliberately
 * naive reference (a flat array scanned bit by bit for the longest matching prefix).
 *
 * The allocator is wrapped to count the trie's live allocations (the table is one calloc,
 * each node one aligned_alloc) and to inject allocation failures.
 *
 * LINK-WRAP: -Wl,--wrap=calloc -Wl,--wrap=aligned_alloc -Wl,--wrap=free
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "allowedips.h"

void *__real_calloc(size_t n, size_t size);
void *__real_aligned_alloc(size_t align, size_t size);
void __real_free(void *p);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_aligned_alloc(size_t align, size_t size);
void __wrap_free(void *p);

static long live_allocs;
static long fail_alloc_in = -1; /* fail the Nth allocation from now (0 = next); -1 = never */

static bool should_fail(void)
{
	if (fail_alloc_in == 0) {
		fail_alloc_in = -1;
		return true;
	}
	if (fail_alloc_in > 0)
		fail_alloc_in--;
	return false;
}

void *__wrap_calloc(size_t n, size_t size)
{
	void *p = should_fail() ? NULL : __real_calloc(n, size);

	live_allocs += p != NULL;
	return p;
}

void *__wrap_aligned_alloc(size_t align, size_t size)
{
	void *p = should_fail() ? NULL : __real_aligned_alloc(align, size);

	live_allocs += p != NULL;
	return p;
}

void __wrap_free(void *p)
{
	if (p)
		live_allocs--;
	__real_free(p);
}

static char peers[64];
#define A (&peers[0])
#define B (&peers[1])
#define C (&peers[2])
#define D (&peers[3])

static struct ip_prefix pfx(const char *s)
{
	struct ip_prefix p;

	if (addr_parse_prefix(s, &p))
		fail_msg("bad prefix in test: %s", s);
	return p;
}

static int ins(struct allowedips *t, const char *s, void *peer)
{
	struct ip_prefix p = pfx(s);

	return allowedips_insert(t, &p, peer);
}

static int rem(struct allowedips *t, const char *s, void *peer)
{
	struct ip_prefix p = pfx(s);

	return allowedips_remove(t, &p, peer);
}

static void *look(struct allowedips *t, const char *s)
{
	struct ip_prefix p = pfx(s);

	return allowedips_lookup(t, p.addr.family, p.addr.bytes);
}

static int setup(void **state)
{
	struct allowedips *t;

	live_allocs = 0;
	fail_alloc_in = -1;
	if (allowedips_new(&t))
		return -1;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	allowedips_free(*state);
	/* Every node and the table itself went back. */
	assert_int_equal(live_allocs, 0);
	return 0;
}

static void test_empty(void **state)
{
	struct allowedips *t = *state;

	assert_null(look(t, "100.64.0.1"));
	assert_null(look(t, "fd00::1"));
	assert_null(look(t, "0.0.0.0"));
	assert_null(allowedips_lookup(t, AF_UNIX, (const uint8_t *)"0123456789abcdef"));
	assert_int_equal(rem(t, "100.64.0.0/10", A), -ENOENT);
	allowedips_remove_by_peer(t, A);
}

static void test_invalid(void **state)
{
	struct allowedips *t = *state;
	struct ip_prefix p = pfx("100.64.0.0/10");

	assert_int_equal(allowedips_insert(t, &p, NULL), -EINVAL);
	p.cidr = 33;
	assert_int_equal(allowedips_insert(t, &p, A), -EINVAL);
	p = pfx("fd00::/8");
	p.cidr = 129;
	assert_int_equal(allowedips_insert(t, &p, A), -EINVAL);
	p.cidr = 8;
	p.addr.family = AF_UNIX;
	assert_int_equal(allowedips_insert(t, &p, A), -EINVAL);
	assert_int_equal(allowedips_remove(t, &p, A), -ENOENT);
	assert_int_equal(live_allocs, 1);
}

static void test_overlapping(void **state)
{
	struct allowedips *t = *state;

	assert_int_equal(ins(t, "100.64.0.0/10", A), 0);
	assert_int_equal(ins(t, "100.64.1.0/24", B), 0);
	assert_int_equal(ins(t, "100.64.1.128/25", C), 0);
	assert_int_equal(ins(t, "100.64.1.200/32", D), 0);

	assert_ptr_equal(look(t, "100.64.0.1"), A);
	assert_ptr_equal(look(t, "100.127.255.255"), A);
	assert_null(look(t, "100.128.0.0"));
	assert_null(look(t, "100.63.255.255"));
	assert_ptr_equal(look(t, "100.64.1.0"), B);
	assert_ptr_equal(look(t, "100.64.1.127"), B);
	assert_ptr_equal(look(t, "100.64.1.128"), C);
	assert_ptr_equal(look(t, "100.64.1.199"), C);
	assert_ptr_equal(look(t, "100.64.1.200"), D);
	assert_ptr_equal(look(t, "100.64.1.201"), C);
	assert_ptr_equal(look(t, "100.64.2.1"), A);

	/* Inserted in the other order, shorter ones last: same answers. */
	allowedips_remove_by_peer(t, A);
	allowedips_remove_by_peer(t, B);
	allowedips_remove_by_peer(t, C);
	allowedips_remove_by_peer(t, D);
	assert_int_equal(live_allocs, 1);
	assert_int_equal(ins(t, "100.64.1.200/32", D), 0);
	assert_int_equal(ins(t, "100.64.1.128/25", C), 0);
	assert_int_equal(ins(t, "100.64.1.0/24", B), 0);
	assert_int_equal(ins(t, "100.64.0.0/10", A), 0);
	assert_ptr_equal(look(t, "100.64.0.1"), A);
	assert_ptr_equal(look(t, "100.64.1.127"), B);
	assert_ptr_equal(look(t, "100.64.1.201"), C);
	assert_ptr_equal(look(t, "100.64.1.200"), D);
	assert_null(look(t, "100.128.0.0"));
}

static void test_siblings(void **state)
{
	struct allowedips *t = *state;

	/* Disjoint prefixes that need glue nodes to branch. */
	assert_int_equal(ins(t, "198.18.0.0/24", A), 0);
	assert_int_equal(ins(t, "198.18.1.0/24", B), 0);
	assert_int_equal(ins(t, "198.19.0.0/16", C), 0);
	assert_ptr_equal(look(t, "198.18.0.9"), A);
	assert_ptr_equal(look(t, "198.18.1.9"), B);
	assert_ptr_equal(look(t, "198.19.200.9"), C);
	assert_null(look(t, "198.18.2.9"));
	assert_null(look(t, "198.17.0.0"));
	/* 3 prefixes need at most 2 glue nodes. */
	assert_true(live_allocs - 1 <= 5);

	assert_int_equal(rem(t, "198.18.0.0/24", A), 0);
	assert_null(look(t, "198.18.0.9"));
	assert_ptr_equal(look(t, "198.18.1.9"), B);
	assert_ptr_equal(look(t, "198.19.200.9"), C);
	assert_int_equal(rem(t, "198.18.1.0/24", B), 0);
	assert_int_equal(live_allocs, 2); /* only C's node is left: the glue went too */
	assert_ptr_equal(look(t, "198.19.200.9"), C);
}

static void test_default_routes(void **state)
{
	struct allowedips *t = *state;

	assert_int_equal(ins(t, "0.0.0.0/0", A), 0);
	assert_ptr_equal(look(t, "1.2.3.4"), A);
	assert_ptr_equal(look(t, "255.255.255.255"), A);
	assert_ptr_equal(look(t, "0.0.0.0"), A);
	assert_null(look(t, "::1")); /* families are separate */

	assert_int_equal(ins(t, "::/0", B), 0);
	assert_ptr_equal(look(t, "fd00::1"), B);
	assert_ptr_equal(look(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), B);
	assert_ptr_equal(look(t, "1.2.3.4"), A);

	/* Host bits of a /0 are ignored. */
	assert_int_equal(ins(t, "100.64.1.2/0", C), 0);
	assert_ptr_equal(look(t, "1.2.3.4"), C);
	assert_int_equal(rem(t, "0.0.0.0/0", C), 0);
	assert_null(look(t, "1.2.3.4"));
	assert_ptr_equal(look(t, "fd00::1"), B);
}

static void test_host_routes(void **state)
{
	struct allowedips *t = *state;

	assert_int_equal(ins(t, "100.64.0.1/32", A), 0);
	assert_int_equal(ins(t, "100.64.0.0/32", B), 0);
	assert_int_equal(ins(t, "255.255.255.255/32", C), 0);
	assert_ptr_equal(look(t, "100.64.0.1"), A);
	assert_ptr_equal(look(t, "100.64.0.0"), B);
	assert_null(look(t, "100.64.0.2"));
	assert_ptr_equal(look(t, "255.255.255.255"), C);
	assert_null(look(t, "255.255.255.254"));

	assert_int_equal(ins(t, "fd00::1/128", A), 0);
	assert_int_equal(ins(t, "fd00::/128", B), 0);
	assert_int_equal(ins(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", C), 0);
	assert_int_equal(ins(t, "fd00::/127", D), 0);
	assert_ptr_equal(look(t, "fd00::1"), A);
	assert_ptr_equal(look(t, "fd00::"), B);
	assert_null(look(t, "fd00::2"));
	assert_ptr_equal(look(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), C);
	assert_null(look(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"));
	assert_int_equal(rem(t, "fd00::1/128", A), 0);
	assert_ptr_equal(look(t, "fd00::1"), D);
	/* Bits past the first 64 matter. */
	assert_int_equal(ins(t, "fd00::8000:0:0:0/65", A), 0);
	assert_ptr_equal(look(t, "fd00::8000:0:0:1"), A);
	assert_null(look(t, "fd00::4000:0:0:1"));
}

static void test_family_separation(void **state)
{
	struct allowedips *t = *state;
	uint8_t v6[16] = { 100, 64, 0, 1 };

	/* Same leading bytes in both families must not leak across. */
	assert_int_equal(ins(t, "100.64.0.0/10", A), 0);
	assert_null(allowedips_lookup(t, AF_INET6, v6));
	assert_ptr_equal(allowedips_lookup(t, AF_INET, v6), A);
	assert_int_equal(ins(t, "6440::/10", B), 0);
	assert_ptr_equal(allowedips_lookup(t, AF_INET6, v6), B);
	assert_ptr_equal(allowedips_lookup(t, AF_INET, v6), A);
	/* Removing from one family leaves the other. */
	assert_int_equal(rem(t, "6440::/10", A), -ENOENT);
	assert_int_equal(rem(t, "100.64.0.0/10", A), 0);
	assert_null(allowedips_lookup(t, AF_INET, v6));
	assert_ptr_equal(allowedips_lookup(t, AF_INET6, v6), B);
}

static void test_reinsert_moves(void **state)
{
	struct allowedips *t = *state;
	long before;

	assert_int_equal(ins(t, "100.64.0.0/16", A), 0);
	before = live_allocs;
	/* Different host bits, same prefix: moved, no new node. */
	assert_int_equal(ins(t, "100.64.9.9/16", B), 0);
	assert_int_equal(live_allocs, before);
	assert_ptr_equal(look(t, "100.64.1.1"), B);
	assert_int_equal(rem(t, "100.64.0.0/16", A), -ENOENT);
	assert_ptr_equal(look(t, "100.64.1.1"), B);
	assert_int_equal(rem(t, "100.64.0.0/16", B), 0);
	assert_null(look(t, "100.64.1.1"));

	/* A prefix landing on an existing glue node turns it into a real one. */
	assert_int_equal(ins(t, "100.64.0.0/24", A), 0);
	assert_int_equal(ins(t, "100.64.1.0/24", B), 0);
	before = live_allocs;
	assert_int_equal(ins(t, "100.64.0.0/23", C), 0);
	assert_int_equal(live_allocs, before);
	assert_ptr_equal(look(t, "100.64.0.1"), A);
	assert_ptr_equal(look(t, "100.64.1.1"), B);
	assert_null(look(t, "100.64.2.1"));
	assert_int_equal(rem(t, "100.64.0.0/24", A), 0);
	assert_ptr_equal(look(t, "100.64.0.1"), C);
}

static void test_remove(void **state)
{
	struct allowedips *t = *state;

	assert_int_equal(ins(t, "100.64.0.0/10", A), 0);
	assert_int_equal(ins(t, "100.64.1.0/24", B), 0);
	assert_int_equal(ins(t, "100.64.1.0/25", C), 0);
	/* Wrong peer, wrong length, absent prefix. */
	assert_int_equal(rem(t, "100.64.1.0/24", A), -ENOENT);
	assert_int_equal(rem(t, "100.64.1.0/23", B), -ENOENT);
	assert_int_equal(rem(t, "100.64.1.0/26", C), -ENOENT);
	assert_int_equal(rem(t, "198.18.0.0/15", A), -ENOENT);
	assert_int_equal(rem(t, "100.64.1.0/24", NULL), -ENOENT);
	/* Host bits ignored on removal too. */
	assert_int_equal(rem(t, "100.64.1.77/24", B), 0);
	assert_ptr_equal(look(t, "100.64.1.1"), C);
	assert_ptr_equal(look(t, "100.64.1.200"), A);
	assert_int_equal(rem(t, "100.64.1.0/24", B), -ENOENT);
	assert_int_equal(rem(t, "100.64.0.0/10", A), 0);
	assert_ptr_equal(look(t, "100.64.1.1"), C);
	assert_null(look(t, "100.64.1.200"));
	assert_int_equal(live_allocs, 2);
	assert_int_equal(rem(t, "100.64.1.0/25", C), 0);
	assert_int_equal(live_allocs, 1);
	assert_null(look(t, "100.64.1.1"));
}

struct collected {
	char text[16][ADDR_STRLEN];
	int n;
	int stop_at; /* return 7 on this call, 0 = never */
};

static int collect(void *ctx, const struct ip_prefix *p)
{
	struct collected *c = ctx;

	assert_true(c->n < 16);
	addr_prefix_str(p, c->text[c->n++]);
	return c->n == c->stop_at ? 7 : 0;
}

static bool collected_has(const struct collected *c, const char *s)
{
	for (int i = 0; i < c->n; i++)
		if (!strcmp(c->text[i], s))
			return true;
	return false;
}

static void test_walk_and_remove_by_peer(void **state)
{
	struct allowedips *t = *state;
	struct collected c = { 0 };

	assert_int_equal(ins(t, "100.64.0.0/10", A), 0);
	assert_int_equal(ins(t, "100.64.1.77/24", B), 0);
	assert_int_equal(ins(t, "100.64.1.0/25", A), 0);
	assert_int_equal(ins(t, "198.18.0.1/32", A), 0);
	assert_int_equal(ins(t, "fd00::/8", A), 0);
	assert_int_equal(ins(t, "fd00:1::1/128", B), 0);
	assert_int_equal(ins(t, "0.0.0.0/0", C), 0);

	assert_int_equal(allowedips_walk_by_peer(t, A, collect, &c), 0);
	assert_int_equal(c.n, 4);
	assert_true(collected_has(&c, "100.64.0.0/10"));
	assert_true(collected_has(&c, "100.64.1.0/25"));
	assert_true(collected_has(&c, "198.18.0.1/32"));
	assert_true(collected_has(&c, "fd00::/8"));

	memset(&c, 0, sizeof(c));
	assert_int_equal(allowedips_walk_by_peer(t, B, collect, &c), 0);
	assert_int_equal(c.n, 2);
	assert_true(collected_has(&c, "100.64.1.0/24")); /* masked */
	assert_true(collected_has(&c, "fd00:1::1/128"));

	memset(&c, 0, sizeof(c));
	assert_int_equal(allowedips_walk_by_peer(t, D, collect, &c), 0);
	assert_int_equal(c.n, 0);

	/* A non-zero return stops the walk and is passed back. */
	memset(&c, 0, sizeof(c));
	c.stop_at = 2;
	assert_int_equal(allowedips_walk_by_peer(t, A, collect, &c), 7);
	assert_int_equal(c.n, 2);

	allowedips_remove_by_peer(t, A);
	memset(&c, 0, sizeof(c));
	assert_int_equal(allowedips_walk_by_peer(t, A, collect, &c), 0);
	assert_int_equal(c.n, 0);
	assert_ptr_equal(look(t, "100.64.1.1"), B);
	assert_ptr_equal(look(t, "100.64.2.1"), C);
	assert_ptr_equal(look(t, "198.18.0.1"), C);
	assert_null(look(t, "fd00::1"));
	assert_ptr_equal(look(t, "fd00:1::1"), B);
	/* B's two and C's one; 0/0 covers 100.64.1.0/24, so no glue is needed. */
	assert_int_equal(live_allocs, 1 + 3);

	allowedips_remove_by_peer(t, B);
	allowedips_remove_by_peer(t, NULL); /* no-op; must not touch glue nodes */
	assert_ptr_equal(look(t, "100.64.1.1"), C);
	assert_null(look(t, "fd00:1::1"));
	assert_int_equal(live_allocs, 1 + 1);
	allowedips_remove_by_peer(t, C);
	assert_int_equal(live_allocs, 1);
}

static void test_enomem(void **state)
{
	struct allowedips *t = *state;

	assert_int_equal(ins(t, "100.64.0.0/24", A), 0);
	/* Diverging prefix needs two nodes; fail either one. */
	fail_alloc_in = 0;
	assert_int_equal(ins(t, "100.64.1.0/24", B), -ENOMEM);
	fail_alloc_in = 1;
	assert_int_equal(ins(t, "100.64.1.0/24", B), -ENOMEM);
	assert_int_equal(live_allocs, 2);
	assert_ptr_equal(look(t, "100.64.0.1"), A);
	assert_null(look(t, "100.64.1.1"));
	assert_int_equal(ins(t, "100.64.1.0/24", B), 0);
	assert_ptr_equal(look(t, "100.64.1.1"), B);
	fail_alloc_in = -1;
}

/* ---- randomized comparison against a naive reference ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: deterministic across libcs, unlike rand(). */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static unsigned rng_below(unsigned n)
{
	return (unsigned)(rng() % n);
}

struct ref_entry {
	int family;
	uint8_t bytes[16];
	uint8_t cidr;
	void *peer;
};

#define REF_MAX 20000
static struct ref_entry ref[REF_MAX];
static size_t ref_n;

static int bit_at(const uint8_t *b, unsigned i)
{
	return (b[i / 8] >> (7 - i % 8)) & 1;
}

static bool ref_covers(const uint8_t *pfx_bytes, unsigned cidr, const uint8_t *addr)
{
	for (unsigned i = 0; i < cidr; i++)
		if (bit_at(pfx_bytes, i) != bit_at(addr, i))
			return false;
	return true;
}

static void ref_mask(uint8_t *b, int family, unsigned cidr)
{
	for (unsigned i = cidr; i < (family == AF_INET ? 32u : 128u); i++)
		b[i / 8] &= (uint8_t) ~(1u << (7 - i % 8));
}

static struct ref_entry *ref_find(int family, const uint8_t *masked, unsigned cidr)
{
	for (size_t i = 0; i < ref_n; i++)
		if (ref[i].family == family && ref[i].cidr == cidr &&
		    !memcmp(ref[i].bytes, masked, 16))
			return &ref[i];
	return NULL;
}

static void ref_insert(const struct ip_prefix *p, void *peer)
{
	struct ref_entry e = { .family = p->addr.family, .cidr = p->cidr, .peer = peer };
	struct ref_entry *old;

	memcpy(e.bytes, p->addr.bytes, addr_len(e.family));
	ref_mask(e.bytes, e.family, e.cidr);
	old = ref_find(e.family, e.bytes, e.cidr);
	if (old) {
		old->peer = peer;
		return;
	}
	assert_true(ref_n < REF_MAX);
	ref[ref_n++] = e;
}

static void ref_delete(struct ref_entry *e)
{
	*e = ref[--ref_n];
}

static void *ref_lookup(int family, const uint8_t *addr)
{
	void *best = NULL;
	int best_cidr = -1;

	for (size_t i = 0; i < ref_n; i++) {
		if (ref[i].family != family || (int)ref[i].cidr <= best_cidr)
			continue;
		if (ref_covers(ref[i].bytes, ref[i].cidr, addr)) {
			best = ref[i].peer;
			best_cidr = ref[i].cidr;
		}
	}
	return best;
}

/* A few fixed bases with random bits flipped keep the prefixes overlapping and nested
 * instead of spread thinly over the whole address space. */
static uint8_t bases[2][8][16];

static void random_addr(int family, uint8_t *out)
{
	unsigned len = family == AF_INET ? 4 : 16, bits = len * 8;

	memset(out, 0, 16);
	if (rng_below(4) == 0) {
		for (unsigned i = 0; i < len; i++)
			out[i] = (uint8_t)rng();
		return;
	}
	memcpy(out, bases[family == AF_INET6][rng_below(8)], len);
	for (unsigned flips = rng_below(4); flips; flips--) {
		unsigned i = rng_below(bits);

		out[i / 8] ^= (uint8_t)(1u << (7 - i % 8));
	}
	/* Often scramble the tail, so lookups land below inserted prefixes. */
	if (rng_below(2)) {
		for (unsigned i = rng_below(bits); i < bits; i++)
			if (rng() & 1)
				out[i / 8] ^= (uint8_t)(1u << (7 - i % 8));
	}
}

static void random_prefix(int family, struct ip_prefix *p)
{
	unsigned bits = family == AF_INET ? 32 : 128;

	memset(p, 0, sizeof(*p));
	p->addr.family = family;
	random_addr(family, p->addr.bytes);
	/* Mostly longer prefixes: short ones collide and mostly test re-insertion. */
	p->cidr = (uint8_t)(rng_below(3) ? bits / 2 + rng_below(bits / 2 + 1)
					 : rng_below(bits + 1));
}

static int random_family(void)
{
	return rng_below(2) ? AF_INET : AF_INET6;
}

static void check_lookups(struct allowedips *t, unsigned n)
{
	uint8_t addr[16];

	for (unsigned i = 0; i < n; i++) {
		int family = random_family();

		random_addr(family, addr);
		/* Sometimes look up an inserted prefix's own address exactly. */
		if (ref_n && rng_below(4) == 0) {
			struct ref_entry *e = &ref[rng_below((unsigned)ref_n)];

			family = e->family;
			memcpy(addr, e->bytes, 16);
			if (rng_below(2) && e->cidr < (family == AF_INET ? 32 : 128))
				addr[(family == AF_INET ? 3 : 15)] ^= 1;
		}
		assert_ptr_equal(allowedips_lookup(t, family, addr), ref_lookup(family, addr));
	}
}

/* Glue nodes always branch in two, so n prefixes need fewer than 2n nodes per family. */
static void check_node_bound(void)
{
	assert_true(live_allocs - 1 <= (long)(2 * ref_n));
}

struct walk_check {
	void *peer;
	size_t seen;
};

static int walk_check_fn(void *ctx, const struct ip_prefix *p)
{
	struct walk_check *w = ctx;
	struct ref_entry *e = ref_find(p->addr.family, p->addr.bytes, p->cidr);
	uint8_t masked[16] = { 0 };

	memcpy(masked, p->addr.bytes, addr_len(p->addr.family));
	ref_mask(masked, p->addr.family, p->cidr);
	assert_memory_equal(masked, p->addr.bytes, 16); /* the walk hands out masked prefixes */
	assert_non_null(e);
	assert_ptr_equal(e->peer, w->peer);
	w->seen++;
	return 0;
}

static void check_walks(struct allowedips *t)
{
	for (size_t i = 0; i < sizeof(peers); i++) {
		struct walk_check w = { .peer = &peers[i] };
		size_t expect = 0;

		for (size_t j = 0; j < ref_n; j++)
			expect += ref[j].peer == &peers[i];
		assert_int_equal(allowedips_walk_by_peer(t, &peers[i], walk_check_fn, &w), 0);
		assert_int_equal(w.seen, expect);
	}
}

static void test_random(void **state)
{
	struct allowedips *t = *state;
	struct ip_prefix p;

	rng_state = 0x5ea1ed5eedULL;
	ref_n = 0;
	for (int f = 0; f < 2; f++)
		for (int i = 0; i < 8; i++)
			for (int j = 0; j < 16; j++)
				bases[f][i][j] = (uint8_t)rng();

	/* Fill: thousands of random prefixes of both families, checking as we go. */
	for (unsigned i = 0; i < 6000; i++) {
		void *peer = &peers[rng_below(sizeof(peers))];

		random_prefix(random_family(), &p);
		assert_int_equal(allowedips_insert(t, &p, peer), 0);
		ref_insert(&p, peer);
		if (i % 500 == 0)
			check_lookups(t, 200);
	}
	check_node_bound();
	check_lookups(t, 20000);
	check_walks(t);

	/* Mixed churn: inserts, removals of present and absent prefixes, wrong-peer removals. */
	for (unsigned i = 0; i < 20000; i++) {
		unsigned op = rng_below(10);
		void *peer = &peers[rng_below(sizeof(peers))];

		if (op < 4) {
			random_prefix(random_family(), &p);
			assert_int_equal(allowedips_insert(t, &p, peer), 0);
			ref_insert(&p, peer);
		} else if (op < 8 && ref_n) {
			struct ref_entry *e = &ref[rng_below((unsigned)ref_n)];

			memset(&p, 0, sizeof(p));
			p.addr.family = e->family;
			memcpy(p.addr.bytes, e->bytes, 16);
			p.cidr = e->cidr;
			if (peer != e->peer)
				assert_int_equal(allowedips_remove(t, &p, peer), -ENOENT);
			assert_int_equal(allowedips_remove(t, &p, e->peer), 0);
			ref_delete(e);
		} else {
			struct ref_entry *e;

			uint8_t masked[16];

			random_prefix(random_family(), &p);
			memcpy(masked, p.addr.bytes, 16);
			ref_mask(masked, p.addr.family, p.cidr);
			e = ref_find(p.addr.family, masked, p.cidr);
			if (e) {
				assert_int_equal(allowedips_remove(t, &p, e->peer), 0);
				ref_delete(e);
			} else {
				assert_int_equal(allowedips_remove(t, &p, peer), -ENOENT);
			}
		}
		if (i % 1000 == 0) {
			check_lookups(t, 300);
			check_node_bound();
		}
	}
	check_node_bound();
	check_lookups(t, 20000);
	check_walks(t);

	/* Drop peers one by one; the rest must be untouched. */
	for (size_t i = 0; i < sizeof(peers); i++) {
		allowedips_remove_by_peer(t, &peers[i]);
		for (size_t j = 0; j < ref_n;) {
			if (ref[j].peer == &peers[i])
				ref_delete(&ref[j]);
			else
				j++;
		}
		check_node_bound();
		if (i % 8 == 0) {
			check_lookups(t, 2000);
			check_walks(t);
		}
	}
	assert_int_equal(ref_n, 0);
	assert_int_equal(live_allocs, 1);
	check_lookups(t, 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlapping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_siblings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_routes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_routes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_family_separation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reinsert_moves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_and_remove_by_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enomem, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random, setup, teardown),
	};

	return cmocka_run_group_tests_name("allowedips", tests, NULL, NULL);
}
