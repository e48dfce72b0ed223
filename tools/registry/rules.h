/* Lists of access rules as the daemon writes them, and the value of a rules key in etcd
 * (PREFIX/rules/all, PREFIX/rules/<node>) read into one. Pure: no etcd, no daemon, no log. */
#ifndef SEALNET_TOOLS_REGISTRY_RULES_H
#define SEALNET_TOOLS_REGISTRY_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "registry.h"

/* Per rules key: far more than a cluster's policy needs, few enough that the daemon's list
 * stays short to walk for the first packet of every flow. */
#define MAX_RULES 128
#define MAX_RULES_LEN (32 * 1024)

/* Empties l. */
void rules_free(struct rule_list *l);
/* Appends one rule's text. Returns 0, -EINVAL (too long) or -ENOMEM. */
int rules_add(struct rule_list *l, const char *text);
/* Appends src's rules to dst. Returns 0 or -ENOMEM (dst then has some of them). */
int rules_append(struct rule_list *dst, const struct rule_list *src);
/* Replaces dst with a copy of src; dst is left as it was on failure. 0 or -ENOMEM. */
int rules_copy(struct rule_list *dst, const struct rule_list *src);
/* Whether the first a->n rules of b are a's (a prefix of b, or b itself). */
bool rules_prefix_of(const struct rule_list *a, const struct rule_list *b);
bool rules_equal(const struct rule_list *a, const struct rule_list *b);
/* Checks the value of a rules key: a JSON list of at most MAX_RULES strings, each
 * `allow|deny PROTO[/PORT[-PORT]] [from SOURCE]` as firewall_parse_rule() reads it (the
 * daemon's own parser, so what passes here passes there). Fills out with the normalised
 * texts. Returns 0, or -EINVAL with the reason in why, out then empty: all or nothing. */
int rules_parse(const char *value, size_t len, struct rule_list *out, char *why, size_t why_len);

#endif
