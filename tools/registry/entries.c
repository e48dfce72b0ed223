/* The keys read from etcd (entries.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entries.h"
#include "log.h"

static uint64_t hash(const char *key)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

/* The slot key is in, or the empty one where it would go. */
static size_t *slot_of(const struct entry_list *l, const char *key, uint64_t h)
{
	size_t i = (size_t)h & (l->cap - 1);

	while (l->slot[i] &&
	       (l->e[l->slot[i] - 1].hash != h || strcmp(l->e[l->slot[i] - 1].key, key)))
		i = (i + 1) & (l->cap - 1);
	return &l->slot[i];
}

static int grow_slots(struct entry_list *l)
{
	size_t cap = l->cap ? l->cap * 2 : 64, *old = l->slot, old_cap = l->cap;

	l->slot = calloc(cap, sizeof(*l->slot));
	if (!l->slot) {
		l->slot = old;
		return -ENOMEM;
	}
	l->cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i])
			*slot_of(l, l->e[old[i] - 1].key, l->e[old[i] - 1].hash) = old[i];
	free(old);
	return 0;
}

/* Empties slot i, moving up the entries after it that would no longer be found (linear
 * probing's deletion: no tombstones). */
static void slot_clear(struct entry_list *l, size_t i)
{
	size_t mask = l->cap - 1, j = i, home;

	for (;;) {
		l->slot[i] = 0;
		for (;;) {
			j = (j + 1) & mask;
			if (!l->slot[j])
				return;
			home = (size_t)l->e[l->slot[j] - 1].hash & mask;
			/* It stays unless its home lies cyclically in (i, j]. */
			if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
				continue;
			break;
		}
		l->slot[i] = l->slot[j];
		i = j;
	}
}

void entries_free(struct entry_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->e[i].key);
		free(l->e[i].value);
	}
	free(l->e);
	free(l->slot);
	memset(l, 0, sizeof(*l));
}

struct entry *entries_find(const struct entry_list *l, const char *key)
{
	size_t *s;

	if (!l->cap)
		return NULL;
	s = slot_of(l, key, hash(key));
	return *s ? &l->e[*s - 1] : NULL;
}

void entries_drop(struct entry_list *l, struct entry *e)
{
	size_t i = (size_t)(e - l->e);

	slot_clear(l, (size_t)(slot_of(l, e->key, e->hash) - l->slot));
	free(e->key);
	free(e->value);
	if (i != --l->n) {
		*e = l->e[l->n];
		*slot_of(l, e->key, e->hash) = i + 1;
	}
}

/* A new entry for key (owned now by l), its slot taken. 0 or -ENOMEM. */
static int add_entry(struct entry_list *l, char *key, uint64_t h, struct entry **out)
{
	struct entry *grown;
	size_t cap;

	if ((l->n + 1) * 2 > l->cap && grow_slots(l))
		return -ENOMEM;
	if (l->n == l->cap_e) {
		cap = l->cap_e ? l->cap_e * 2 : 64;
		grown = realloc(l->e, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		l->e = grown;
		l->cap_e = cap;
	}
	*out = &l->e[l->n];
	memset(*out, 0, sizeof(**out));
	(*out)->key = key;
	(*out)->hash = h;
	*slot_of(l, key, h) = ++l->n;
	return 0;
}

int entries_store(struct entry_list *l, const struct etcd_kv *kv)
{
	struct entry *e = entries_find(l, kv->key);
	char *value = strdup(kv->value), *key = NULL;

	if (!value)
		return -ENOMEM;
	if (!e && (!(key = strdup(kv->key)) || add_entry(l, key, hash(key), &e))) {
		free(key);
		free(value);
		return -ENOMEM;
	}
	free(e->value);
	e->value = value;
	/* A value with a NUL inside is cut there: registry_parse_entry sees the length differ. */
	e->create_revision = kv->create_revision;
	e->mod_revision = kv->mod_revision;
	e->lease = kv->lease;
	e->parsed_revision = 0;
	return 0;
}

void entries_report(const struct registry *r, struct entry *e, int level, const char *what)
{
	char key[4 * 512], text[4 * sizeof(e->reported)];

	if (e->reported_revision == e->mod_revision && !strcmp(e->reported, what))
		return;
	e->reported_revision = e->mod_revision;
	snprintf(e->reported, sizeof(e->reported), "%s", what);
	log_msg(level, "%s: registry: %s: %s", r->cfg.ifname,
		registry_escape(key, sizeof(key), e->key),
		registry_escape(text, sizeof(text), what));
}
