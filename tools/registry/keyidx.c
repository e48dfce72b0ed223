/* Public keys to indexes (keyidx.h): open addressing, at most half full. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "keyidx.h"

static size_t home(const uint8_t key[KEY_LEN], size_t cap)
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	return (size_t)(h ^ (h >> 31)) & (cap - 1);
}

static struct keyidx_slot *probe(struct keyidx_slot *s, size_t cap, const uint8_t key[KEY_LEN])
{
	size_t i = home(key, cap);

	while (s[i].used && memcmp(s[i].key, key, KEY_LEN))
		i = (i + 1) & (cap - 1);
	return &s[i];
}

static int grow(struct keyidx *ix)
{
	size_t cap = ix->cap ? ix->cap * 2 : 64;
	struct keyidx_slot *s = calloc(cap, sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < ix->cap; i++)
		if (ix->s[i].used)
			*probe(s, cap, ix->s[i].key) = ix->s[i];
	free(ix->s);
	ix->s = s;
	ix->cap = cap;
	return 0;
}

int keyidx_put(struct keyidx *ix, const uint8_t key[KEY_LEN], size_t idx)
{
	struct keyidx_slot *slot;

	if ((ix->n + 1) * 2 > ix->cap && grow(ix))
		return -ENOMEM;
	slot = probe(ix->s, ix->cap, key);
	if (!slot->used) {
		slot->used = true;
		memcpy(slot->key, key, KEY_LEN);
		ix->n++;
	}
	slot->idx = idx;
	return 0;
}

size_t keyidx_get(const struct keyidx *ix, const uint8_t key[KEY_LEN])
{
	const struct keyidx_slot *slot;

	if (!ix->cap)
		return SIZE_MAX;
	slot = probe(ix->s, ix->cap, key);
	return slot->used ? slot->idx : SIZE_MAX;
}

void keyidx_clear(struct keyidx *ix)
{
	if (ix->s)
		memset(ix->s, 0, ix->cap * sizeof(*ix->s));
	ix->n = 0;
}

void keyidx_free(struct keyidx *ix)
{
	free(ix->s);
	memset(ix, 0, sizeof(*ix));
}
