/* The keys read from etcd (PREFIX/nodes/ and PREFIX/rules/), as last read: put by the range
 * at connect, then kept by the watch's events. Every decision is made from the whole of it,
 * so a transaction that deletes one key and puts another (a key rotation) is one change. */
#ifndef SEALNET_TOOLS_REGISTRY_ENTRIES_H
#define SEALNET_TOOLS_REGISTRY_ENTRIES_H

#include "../etcd.h"
#include "registry.h"

/* Frees every entry and empties l. */
void entries_free(struct entry_list *l);
/* The entry under key, or NULL. */
struct entry *entries_find(const struct entry_list *l, const char *key);
/* Removes e, which is in l: the last entry moves into its place. */
void entries_drop(struct entry_list *l, struct entry *e);
/* Puts kv into l: a new entry, or the new revision of one (to be parsed again). 0 or -ENOMEM,
 * l then as it was. */
int entries_store(struct entry_list *l, const struct etcd_kv *kv);
/* Logs a refusal or a clash once per revision of the entry and reason. The key and the
 * reason (which quotes the value) are whatever was written to etcd: escaped, so that no
 * newline in them can end the line and forge the next. */
void entries_report(const struct registry *r, struct entry *e, int level, const char *what);

#endif
