/* The keys read from etcd (entries.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entries.h"
#include "log.h"

void entries_free(struct entry_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->e[i].key);
		free(l->e[i].value);
	}
	free(l->e);
	l->e = NULL;
	l->n = 0;
}

struct entry *entries_find(const struct entry_list *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->e[i].key, key))
			return &l->e[i];
	return NULL;
}

void entries_drop(struct entry_list *l, struct entry *e)
{
	free(e->key);
	free(e->value);
	*e = l->e[--l->n];
}

int entries_store(struct entry_list *l, const struct etcd_kv *kv)
{
	struct entry *e = entries_find(l, kv->key), *grown;
	char *value = strdup(kv->value), *key;

	if (!value)
		return -ENOMEM;
	if (!e) {
		key = strdup(kv->key);
		grown = key ? realloc(l->e, (l->n + 1) * sizeof(*grown)) : NULL;
		if (!grown) {
			free(key);
			free(value);
			return -ENOMEM;
		}
		l->e = grown;
		e = &l->e[l->n++];
		memset(e, 0, sizeof(*e));
		e->key = key;
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
