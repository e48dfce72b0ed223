/* Peers by static public key, as WireGuard's pubkey_hashtable: SipHash with a random key,
 * chained through peer.hash_next, the final match compared in constant time. The handshake
 * path looks up every initiation's sender here, so the cost is flat in the number of peers.
 * Does not own the peers. */
#ifndef SEALNET_PEER_TABLE_H
#define SEALNET_PEER_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "key.h"

struct peer;

struct peer_table {
	struct peer **buckets; /* n_buckets, a power of two */
	size_t n_buckets, count;
	uint8_t hash_key[16];
};

/* 0 or -ENOMEM. */
int peer_table_init(struct peer_table *t);
void peer_table_free(struct peer_table *t);
/* Makes room so that `count` peers in all keep the chains short. 0 or -ENOMEM; after it,
 * inserting up to that many cannot fail. */
int peer_table_reserve(struct peer_table *t, size_t count);
/* The key must not be in the table yet. */
void peer_table_insert(struct peer_table *t, struct peer *p);
void peer_table_remove(struct peer_table *t, struct peer *p);
struct peer *peer_table_lookup(const struct peer_table *t, const uint8_t key[KEY_LEN]);

#endif
