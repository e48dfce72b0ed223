/* Talking to the daemon on its control socket: what it has (its key, port, peers and rules,
 * asked every tick) and what it takes (peers and rules, in set=1 requests built by
 * request.h). */
#ifndef SEALNET_TOOLS_REGISTRY_DAEMON_H
#define SEALNET_TOOLS_REGISTRY_DAEMON_H

#include <stdbool.h>

#include "../ipc.h"
#include "registry.h"
#include "request.h"

/* The daemon as one get read it, its peers found by key in constant time. */
struct daemon_view {
	struct ipc_device *dev;
	struct keyidx peers; /* public key -> 1 */
};

/* Reads the daemon into *v. Returns 0 or -errno (ipc_get's; -ENOMEM), v then empty. */
int daemon_view_read(const char *ifname, struct daemon_view *v);
bool daemon_view_has(const struct daemon_view *v, const uint8_t key[KEY_LEN]);
/* NULL-safe; empties v. */
void daemon_view_free(struct daemon_view *v);

/* Asks the daemon for its key and port, its rules (access_track), and whether our peers are
 * still there (a restarted daemon has lost them). A new key means the entry moves: a key
 * rotation. */
void daemon_tick(struct registry *r);
/* Sends q. Returns 0 or -errno: the exchange's, the request's own when it could not be built
 * whole (-ENOMEM), or the daemon's refusal. */
int daemon_send(const struct registry *r, const struct registry_request *q);
/* Whether n's endpoint goes to the daemon: only when it is new, so that one the daemon learnt
 * from the peer (roaming) is not reset each time. m is what we set before, NULL none. */
bool daemon_endpoint_is_new(const struct node *n, const struct managed *m);
/* One set=1 for one peer: added, or updated with its claims replacing what it had. Returns 0
 * or -errno. */
int daemon_apply_peer(struct registry *r, const struct node *n, const struct managed *m);
/* One set=1 that removes a peer. Returns 0 or -errno. */
int daemon_remove_peer(const struct registry *r, const uint8_t key[KEY_LEN]);
/* One set=1 that replaces the daemon's rules with l. Returns 0 or -errno for the exchange;
 * the daemon's answer (0 or -errno) in *daemon_err. */
int daemon_send_rules(const struct registry *r, const struct rule_list *l, int *daemon_err);

#endif
