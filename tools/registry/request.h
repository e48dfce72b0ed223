/* The requests `sealnet registry` sends on the control socket (daemon/uapi.h): one set=1 that
 * adds, updates and removes any number of peers at once, and one that replaces the access
 * rules. Lines through the tool's one serializer (tools/request.h), so nothing is ever cut
 * short: a line that could not be added leaves the request without text, never sent.
 * tests/unit/test_registry_entry.c hands what it builds to the daemon's own parser
 * (uapi_parse_set). */
#ifndef SEALNET_TOOLS_REGISTRY_REQUEST_H
#define SEALNET_TOOLS_REGISTRY_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../request.h"
#include "entry.h"
#include "firewall.h"
#include "key.h"

/* Zero-initialised is empty and ready; registry_request_free() releases it. */
struct registry_request {
	struct request req; /* "set=1\n" and the lines */
	size_t n_peers;     /* peers added or updated */
	size_t n_removed;
};

/* A peer added, or updated with its claims (overlay address and pod subnets) replacing its
 * allowed IPs: public_key, then endpoint= when endpoint is set (the caller sends it only when
 * it is new, so an endpoint the daemon learnt by roaming is not reset), then the allowed IPs,
 * then the groups with replace_groups=true when groups is set. Returns 0 or -ENOMEM. */
int registry_request_peer(struct registry_request *q, const struct node *n, bool endpoint,
			  bool groups);
/* public_key=..., remove=true. Returns 0 or -ENOMEM. */
int registry_request_remove(struct registry_request *q, const uint8_t key[KEY_LEN]);
/* replace_rules=true, then one allow= or deny= line per rule, each as the daemon writes it
 * ("allow tcp/5201 from group:web"). Returns 0 or -ENOMEM. */
int registry_request_rules(struct registry_request *q, char (*const text)[FIREWALL_RULE_TEXT_MAX],
			   size_t n);
/* The request; NULL when empty or when a line could not be added. Owned by q. */
const char *registry_request_text(const struct registry_request *q);
/* Frees the buffer and empties q. NULL is fine. */
void registry_request_free(struct registry_request *q);

#endif
