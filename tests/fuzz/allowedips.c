/* The AllowedIPs trie, driven by a program: the input is a sequence of inserts, removals
 * and lookups, run against allowedips.c and against a deliberately naive reference (a flat
 * array, matched bit by bit), and every answer must agree; abort() on the first that does
 * not. At the end every prefix is looked up (and its neighbours just outside it), and every
 * peer's walk must list exactly its prefixes.
 *
 * Each operation is an op byte and its operands:
 *   op & 7         0, 5, 7: insert; 1: remove; 2: remove all of a peer; 3, 6: lookup;
 *                  4: walk a peer's prefixes
 *   (op >> 3) & 7  the peer (7 is NULL, which insert must refuse)
 *   op & 0x40      IPv6 rather than IPv4
 *   op & 0x80      "near": the address is that of an existing prefix (next byte picks it)
 *                  with one bit flipped (next byte picks it, 0xff none), so that programs
 *                  build deep tries of overlapping prefixes easily
 * then a cidr byte (modulo the family's bits + 2, so a few are invalid) and, unless "near",
 * the 4 or 16 address bytes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "allowedips.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_REFS 1024
#define NULL_PEER 7

static char peers[NULL_PEER];

struct ref {
	int family;
	unsigned cidr;
	uint8_t key[16]; /* masked */
	int peer;
};

static struct ref refs[MAX_REFS];
static size_t n_refs;

static void *peer_ptr(int i)
{
	return i == NULL_PEER ? NULL : &peers[i];
}

static unsigned bits_of(int family)
{
	return family == AF_INET ? 32 : 128;
}

static unsigned bit(const uint8_t *a, unsigned i)
{
	return (a[i / 8] >> (7 - i % 8)) & 1;
}

static void flip(uint8_t *a, unsigned i)
{
	a[i / 8] ^= (uint8_t)(0x80 >> (i % 8));
}

static bool matches(const uint8_t *prefix, unsigned cidr, const uint8_t *addr)
{
	for (unsigned i = 0; i < cidr; i++)
		if (bit(prefix, i) != bit(addr, i))
			return false;
	return true;
}

static void mask(uint8_t *key, int family, unsigned cidr)
{
	for (unsigned i = cidr; i < bits_of(family); i++)
		if (bit(key, i))
			flip(key, i);
}

static struct ref *ref_find(int family, unsigned cidr, const uint8_t *key)
{
	for (size_t i = 0; i < n_refs; i++)
		if (refs[i].family == family && refs[i].cidr == cidr &&
		    !memcmp(refs[i].key, key, bits_of(family) / 8))
			return &refs[i];
	return NULL;
}

static void ref_remove(struct ref *r)
{
	*r = refs[--n_refs];
}

static void *ref_lookup(int family, const uint8_t *addr)
{
	const struct ref *best = NULL;

	for (size_t i = 0; i < n_refs; i++)
		if (refs[i].family == family && matches(refs[i].key, refs[i].cidr, addr) &&
		    (!best || refs[i].cidr > best->cidr))
			best = &refs[i];
	return best ? peer_ptr(best->peer) : NULL;
}

static void mismatch(const char *what, int family, const uint8_t *addr, unsigned cidr, long got,
		     long want)
{
	struct ip_addr a = { .family = family };
	char buf[ADDR_STRLEN];

	memcpy(a.bytes, addr, bits_of(family) / 8);
	fprintf(stderr, "allowedips: %s %s/%u: got %ld, reference says %ld\n", what,
		addr_str(&a, buf), cidr, got, want);
	abort();
}

static long peer_no(void *p)
{
	return p ? (long)((char *)p - peers) : -1;
}

static void check_lookup(struct allowedips *t, int family, const uint8_t *addr)
{
	void *got = allowedips_lookup(t, family, addr), *want = ref_lookup(family, addr);

	if (got != want)
		mismatch("lookup", family, addr, bits_of(family), peer_no(got), peer_no(want));
}

/* The prefix's own address, and the addresses just outside it and deep inside it. */
static void check_around(struct allowedips *t, int family, const uint8_t *key, unsigned cidr)
{
	uint8_t a[16];

	check_lookup(t, family, key);
	memcpy(a, key, sizeof(a));
	if (cidr) {
		flip(a, cidr - 1);
		check_lookup(t, family, a);
		flip(a, cidr - 1);
	}
	flip(a, bits_of(family) - 1);
	check_lookup(t, family, a);
}

struct walked {
	bool seen[MAX_REFS];
	int peer;
	size_t n;
};

static int walk_one(void *ctx, const struct ip_prefix *p)
{
	struct walked *w = ctx;
	struct ref *r = NULL;

	if (p->addr.family == AF_INET || p->addr.family == AF_INET6)
		r = ref_find(p->addr.family, p->cidr, p->addr.bytes);
	if (!r || r->peer != w->peer || w->seen[r - refs])
		mismatch("walk lists", p->addr.family == AF_INET6 ? AF_INET6 : AF_INET,
			 p->addr.bytes, p->cidr, w->peer, r ? r->peer : -1);
	w->seen[r - refs] = true;
	w->n++;
	return 0;
}

static void check_walk(struct allowedips *t, int peer)
{
	static struct walked w;
	size_t want = 0;

	memset(&w, 0, sizeof(w));
	w.peer = peer;
	if (allowedips_walk_by_peer(t, peer_ptr(peer), walk_one, &w))
		abort();
	for (size_t i = 0; i < n_refs; i++)
		want += refs[i].peer == peer;
	if (w.n != want) {
		fprintf(stderr, "allowedips: walk of peer %d: %zu prefixes, reference has %zu\n",
			peer, w.n, want);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct allowedips *t;

	if (allowedips_new(&t))
		abort();
	n_refs = 0;
	while (in.left) {
		uint8_t op = fuzz_u8(&in);
		int peer = (op >> 3) & 7, family = op & 0x40 ? AF_INET6 : AF_INET, ret, want;
		struct ip_prefix p = { 0 };
		unsigned cidr;
		struct ref *r;
		size_t got;

		if (op & 0x80) {
			uint8_t which = fuzz_u8(&in), b = fuzz_u8(&in);

			if (!n_refs)
				continue;
			r = &refs[which % n_refs];
			family = r->family;
			memcpy(p.addr.bytes, r->key, sizeof(r->key));
			if (b != 0xff)
				flip(p.addr.bytes, b % bits_of(family));
			cidr = fuzz_u8(&in) % (bits_of(family) + 2);
		} else {
			cidr = fuzz_u8(&in) % (bits_of(family) + 2);
			memcpy(p.addr.bytes, fuzz_bytes(&in, bits_of(family) / 8, &got), got);
		}
		p.addr.family = family;
		p.cidr = (uint8_t)cidr;

		switch (op & 7) {
		case 0:
		case 5:
		case 7:
			if (n_refs == MAX_REFS)
				break;
			ret = allowedips_insert(t, &p, peer_ptr(peer));
			want = peer == NULL_PEER || cidr > bits_of(family) ? -EINVAL : 0;
			if (ret != want)
				mismatch("insert returns", family, p.addr.bytes, cidr, ret, want);
			if (ret)
				break;
			mask(p.addr.bytes, family, cidr);
			r = ref_find(family, cidr, p.addr.bytes);
			if (!r) {
				r = &refs[n_refs++];
				r->family = family;
				r->cidr = cidr;
				memcpy(r->key, p.addr.bytes, sizeof(r->key));
			}
			r->peer = peer;
			check_around(t, family, p.addr.bytes, cidr);
			break;
		case 1:
			ret = allowedips_remove(t, &p, peer_ptr(peer));
			mask(p.addr.bytes, family, cidr > bits_of(family) ? bits_of(family) : cidr);
			r = cidr > bits_of(family) ? NULL : ref_find(family, cidr, p.addr.bytes);
			want = r && r->peer == peer ? 0 : -ENOENT;
			if (ret != want)
				mismatch("remove returns", family, p.addr.bytes, cidr, ret, want);
			if (!ret)
				ref_remove(r);
			check_around(t, family, p.addr.bytes,
				     cidr > bits_of(family) ? bits_of(family) : cidr);
			break;
		case 2:
			/* The daemon never asks for the prefixes of NULL: glue nodes have none. */
			if (peer == NULL_PEER)
				break;
			allowedips_remove_by_peer(t, peer_ptr(peer));
			for (size_t i = 0; i < n_refs;)
				if (refs[i].peer == peer)
					ref_remove(&refs[i]);
				else
					i++;
			check_around(t, family, p.addr.bytes, 0);
			break;
		case 3:
		case 6:
			check_lookup(t, family, p.addr.bytes);
			break;
		case 4:
			if (peer != NULL_PEER)
				check_walk(t, peer);
			break;
		}
	}
	for (size_t i = 0; i < n_refs; i++)
		check_around(t, refs[i].family, refs[i].key, refs[i].cidr);
	for (int i = 0; i < NULL_PEER; i++)
		check_walk(t, i);
	allowedips_free(t);
	return 0;
}
