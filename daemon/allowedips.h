/* Cryptokey routing table: a longest-prefix-match trie per address family mapping overlay
 * prefixes to peers. The datapath calls allowedips_lookup() per packet, so lookup never
 * allocates, locks or logs. The table does not own the peers it points to. */
#ifndef SEALNET_ALLOWEDIPS_H
#define SEALNET_ALLOWEDIPS_H

#include <stdint.h>

#include "addr.h"

struct allowedips;

/* Returns 0 or -ENOMEM; *out is owned by the caller and freed with allowedips_free(). */
int allowedips_new(struct allowedips **out);
void allowedips_free(struct allowedips *t);

/* Host bits beyond cidr are ignored. An existing identical prefix is moved to the new peer
 * (WireGuard semantics). Returns 0, -EINVAL (bad family/cidr, NULL peer) or -ENOMEM. */
int allowedips_insert(struct allowedips *t, const struct ip_prefix *p, void *peer);
/* Removes exactly this prefix if it belongs to peer. Returns 0 or -ENOENT. */
int allowedips_remove(struct allowedips *t, const struct ip_prefix *p, void *peer);
void allowedips_remove_by_peer(struct allowedips *t, void *peer);

/* Makes room for this many inserts ahead: until allowedips_release(), that many
 * allowedips_insert() calls cannot fail with -ENOMEM (device_apply's commit). 0 or -ENOMEM. */
int allowedips_reserve(struct allowedips *t, size_t inserts);
/* Frees what allowedips_reserve() set aside and no insert used. */
void allowedips_release(struct allowedips *t);

/* The peer holding exactly this prefix (host bits ignored), NULL if none does. */
void *allowedips_lookup_exact(const struct allowedips *t, const struct ip_prefix *p);

/* addr points to 4 (AF_INET) or 16 (AF_INET6) bytes in network order. NULL if no match. */
void *allowedips_lookup(const struct allowedips *t, int family, const uint8_t *addr);

/* Calls fn for each prefix owned by peer (masked), in no particular order; stops and returns
 * fn's value when it is non-zero. */
int allowedips_walk_by_peer(const struct allowedips *t, const void *peer,
			    int (*fn)(void *ctx, const struct ip_prefix *p), void *ctx);

#endif
