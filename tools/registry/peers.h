/* The peers this registry put into the daemon: only they are ever updated or removed, so a
 * peer configured by hand is left alone. Found by key in constant time. */
#ifndef SEALNET_TOOLS_REGISTRY_PEERS_H
#define SEALNET_TOOLS_REGISTRY_PEERS_H

#include "registry.h"

/* A new peer of key, zeroed but for its key, in *out (valid until the next add or remove).
 * Returns 0 or -ENOMEM. */
int peers_add(struct registry_peers *p, const uint8_t key[KEY_LEN], struct managed **out);
/* The peer of key, or NULL. */
struct managed *peers_find(struct registry_peers *p, const uint8_t key[KEY_LEN]);
/* Forgets peer i: the last one moves into its place. */
void peers_remove(struct registry_peers *p, size_t i);
void peers_free(struct registry_peers *p);

#endif
