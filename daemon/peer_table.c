#include "peer_table.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cipher.h"
#include "peer.h"

int peer_table_init(struct peer_table *t)
{
	memset(t, 0, sizeof(*t));
	cipher_random(t->hash_key, sizeof(t->hash_key));
	return peer_table_reserve(t, 0);
}

void peer_table_free(struct peer_table *t)
{
	free(t->buckets);
	t->buckets = NULL;
	t->n_buckets = t->count = 0;
}

static size_t key_bucket(const struct peer_table *t, const uint8_t key[KEY_LEN])
{
	uint64_t h;

	_Static_assert(crypto_shorthash_BYTES == sizeof(h), "SipHash gives 64 bits");
	_Static_assert(crypto_shorthash_KEYBYTES == sizeof(t->hash_key), "SipHash takes 128");
	crypto_shorthash((uint8_t *)&h, key, KEY_LEN, t->hash_key);
	return (size_t)h & (t->n_buckets - 1);
}

/* At most one peer per bucket on average; the table only grows. */
int peer_table_reserve(struct peer_table *t, size_t count)
{
	struct peer **grown, *p, *next;
	size_t n = t->n_buckets ? t->n_buckets : 64, old = t->n_buckets;

	while (n < count)
		n *= 2;
	if (n == old)
		return 0;
	grown = calloc(n, sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	t->n_buckets = n;
	for (size_t i = 0; i < old; i++) {
		for (p = t->buckets[i]; p; p = next) {
			size_t b = key_bucket(t, peer_public_key(p));

			next = p->hash_next;
			p->hash_next = grown[b];
			grown[b] = p;
		}
	}
	free(t->buckets);
	t->buckets = grown;
	return 0;
}

void peer_table_insert(struct peer_table *t, struct peer *p)
{
	size_t b = key_bucket(t, peer_public_key(p));

	p->hash_next = t->buckets[b];
	t->buckets[b] = p;
	t->count++;
}

void peer_table_remove(struct peer_table *t, struct peer *p)
{
	struct peer **pp = &t->buckets[key_bucket(t, peer_public_key(p))];

	for (; *pp; pp = &(*pp)->hash_next) {
		if (*pp == p) {
			*pp = p->hash_next;
			p->hash_next = NULL;
			t->count--;
			return;
		}
	}
}

struct peer *peer_table_lookup(const struct peer_table *t, const uint8_t key[KEY_LEN])
{
	struct peer *p;

	for (p = t->buckets[key_bucket(t, key)]; p; p = p->hash_next)
		if (key_equal(peer_public_key(p), key))
			return p;
	return NULL;
}
