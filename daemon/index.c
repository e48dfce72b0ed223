#include "index.h"

#include <stddef.h>

#include "cipher.h"

/* Indexes are uniformly random, so their low bits are a fine hash. */
static struct index_entry **bucket(struct index_table *t, uint32_t index)
{
	return &t->buckets[index & (INDEX_BUCKETS - 1)];
}

void index_init(struct index_table *t)
{
	for (size_t i = 0; i < INDEX_BUCKETS; i++)
		t->buckets[i] = NULL;
}

static bool index_used(struct index_table *t, uint32_t index)
{
	for (struct index_entry *e = *bucket(t, index); e; e = e->next)
		if (e->index == index)
			return true;
	return false;
}

static void link_entry(struct index_table *t, struct index_entry *e)
{
	struct index_entry **b = bucket(t, e->index);

	e->next = *b;
	*b = e;
	e->hashed = true;
}

uint32_t index_insert(struct index_table *t, struct index_entry *e)
{
	uint32_t index;

	index_remove(t, e);
	do
		cipher_random(&index, sizeof(index));
	while (index_used(t, index));
	e->index = index;
	link_entry(t, e);
	return index;
}

void index_replace(struct index_table *t, struct index_entry *old, struct index_entry *new)
{
	index_remove(t, new);
	if (!old->hashed)
		return;
	index_remove(t, old);
	new->index = old->index;
	link_entry(t, new);
}

void index_remove(struct index_table *t, struct index_entry *e)
{
	if (!e->hashed)
		return;
	for (struct index_entry **p = bucket(t, e->index); *p; p = &(*p)->next) {
		if (*p == e) {
			*p = e->next;
			break;
		}
	}
	e->next = NULL;
	e->hashed = false;
}

struct index_entry *index_lookup(const struct index_table *t, uint32_t index, unsigned type_mask)
{
	for (struct index_entry *e = t->buckets[index & (INDEX_BUCKETS - 1)]; e; e = e->next)
		if (e->index == index && (e->type & type_mask))
			return e;
	return NULL;
}
