/* The registry's peers (peers.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "peers.h"

static int reindex(struct registry_peers *p)
{
	keyidx_clear(&p->idx);
	for (size_t i = 0; i < p->n; i++)
		if (keyidx_put(&p->idx, p->m[i].public_key, i))
			return -ENOMEM;
	p->stale = false;
	return 0;
}

int peers_add(struct registry_peers *p, const uint8_t key[KEY_LEN], struct managed **out)
{
	struct managed *grown = realloc(p->m, (p->n + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	p->m = grown;
	*out = &p->m[p->n];
	memset(*out, 0, sizeof(**out));
	memcpy((*out)->public_key, key, KEY_LEN);
	/* Not indexed: found the slow way until the index is made again. */
	if (p->stale || keyidx_put(&p->idx, key, p->n))
		p->stale = true;
	p->n++;
	return 0;
}

struct managed *peers_find(struct registry_peers *p, const uint8_t key[KEY_LEN])
{
	size_t i;

	if (!p->stale || !reindex(p)) {
		i = keyidx_get(&p->idx, key);
		return i == SIZE_MAX ? NULL : &p->m[i];
	}
	for (i = 0; i < p->n; i++)
		if (key_equal(p->m[i].public_key, key))
			return &p->m[i];
	return NULL;
}

void peers_remove(struct registry_peers *p, size_t i)
{
	p->m[i] = p->m[--p->n];
	p->stale = true;
}

void peers_free(struct registry_peers *p)
{
	free(p->m);
	keyidx_free(&p->idx);
	memset(p, 0, sizeof(*p));
}
