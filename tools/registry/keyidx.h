/* A hash of public keys to indexes, so that finding a peer by its key costs the same at 10
 * peers as at 10,000 (the registry looks up every entry's key among the daemon's peers and
 * its own). Keys are random: their first bytes are the hash. */
#ifndef SEALNET_TOOLS_REGISTRY_KEYIDX_H
#define SEALNET_TOOLS_REGISTRY_KEYIDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "key.h"

struct keyidx_slot {
	uint8_t key[KEY_LEN];
	size_t idx;
	bool used;
};

/* Zero-initialised is empty; keyidx_free() releases it. */
struct keyidx {
	struct keyidx_slot *s;
	size_t cap, n;
};

/* key -> idx, replacing what key had. Returns 0 or -ENOMEM (ix then as it was). */
int keyidx_put(struct keyidx *ix, const uint8_t key[KEY_LEN], size_t idx);
/* key's idx, or SIZE_MAX. */
size_t keyidx_get(const struct keyidx *ix, const uint8_t key[KEY_LEN]);
/* Empties ix, keeping its room. */
void keyidx_clear(struct keyidx *ix);
void keyidx_free(struct keyidx *ix);

#endif
