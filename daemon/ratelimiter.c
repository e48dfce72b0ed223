/* Token bucket per source, in a set-associative table: a source hashes to one set of SET_WAYS
 * consecutive entries and lives in any of them. Bounding the probe to one set keeps the cost
 * per packet constant; because the hash is keyed and secret, an attacker flooding from many
 * addresses fills the sets evenly and cannot single out the set of a given legitimate peer.
 *
 * Tokens are counted in nanoseconds of credit: a packet costs PACKET_COST, the bucket holds
 * at most TOKEN_MAX, and credit accrues one nanosecond per nanosecond elapsed. */
#include "ratelimiter.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define NSEC_PER_SEC 1000000000ULL
#define PACKET_COST (NSEC_PER_SEC / RATELIMITER_PACKETS_PER_SECOND)
#define TOKEN_MAX (PACKET_COST * RATELIMITER_BURST)
#define SET_WAYS 8
#define SETS (RATELIMITER_ENTRIES / SET_WAYS)

_Static_assert((SETS & (SETS - 1)) == 0, "the number of sets must be a power of two");
_Static_assert(RATELIMITER_IDLE_NS >= TOKEN_MAX, "an idle entry must have a full bucket");

struct entry {
	uint64_t last_ns;
	uint64_t tokens;
	uint64_t addr;  /* IPv4 address, or the top 64 bits of an IPv6 one */
	uint8_t family; /* 0 = never used */
};

struct ratelimiter {
	uint8_t key[crypto_shorthash_KEYBYTES];
	struct entry table[RATELIMITER_ENTRIES];
};

int ratelimiter_new(struct ratelimiter **out)
{
	struct ratelimiter *rl;

	/* Idempotent; needed before randombytes_buf if nothing else has called it yet. */
	if (sodium_init() < 0)
		return -ENOMEM;
	rl = calloc(1, sizeof(*rl));
	if (!rl)
		return -ENOMEM;
	randombytes_buf(rl->key, sizeof(rl->key));
	*out = rl;
	return 0;
}

void ratelimiter_free(struct ratelimiter *rl)
{
	if (!rl)
		return;
	sodium_memzero(rl->key, sizeof(rl->key));
	free(rl);
}

bool ratelimiter_allow(struct ratelimiter *rl, const struct ip_addr *src, uint64_t now_ns)
{
	uint8_t in[9], hash[crypto_shorthash_BYTES];
	struct entry *set, *e, *free_entry = NULL;
	uint64_t addr = 0, h, elapsed;

	if (src->family == AF_INET)
		memcpy(&addr, src->bytes, 4);
	else if (src->family == AF_INET6)
		memcpy(&addr, src->bytes, 8);
	else
		return false;
	/* The family is hashed too so 10.0.0.1 and 0a00:0001:: stay apart. */
	in[0] = (uint8_t)src->family;
	memcpy(in + 1, &addr, 8);
	crypto_shorthash(hash, in, sizeof(in), rl->key);
	memcpy(&h, hash, sizeof(h));
	set = &rl->table[(h & (SETS - 1)) * SET_WAYS];

	for (int i = 0; i < SET_WAYS; i++) {
		e = &set[i];
		if (e->family == src->family && e->addr == addr)
			goto found;
		if (!free_entry && (!e->family || (now_ns >= e->last_ns &&
						   now_ns - e->last_ns >= RATELIMITER_IDLE_NS)))
			free_entry = e;
	}
	if (!free_entry)
		return false; /* set full of active sources: fail closed */
	/* A new source starts with a full bucket, minus this packet. */
	e = free_entry;
	e->family = (uint8_t)src->family;
	e->addr = addr;
	e->last_ns = now_ns;
	e->tokens = TOKEN_MAX - PACKET_COST;
	return true;

found:
	/* A clock that went backwards earns no credit. */
	elapsed = now_ns > e->last_ns ? now_ns - e->last_ns : 0;
	e->last_ns = now_ns;
	e->tokens = elapsed >= TOKEN_MAX - e->tokens ? TOKEN_MAX : e->tokens + elapsed;
	if (e->tokens < PACKET_COST)
		return false;
	e->tokens -= PACKET_COST;
	return true;
}
