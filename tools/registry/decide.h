/* Which entries become which peers: the registry's decision, a pure function of the entries
 * (as read from etcd and parsed by entry.h) and of this node (its key, claims, cluster ranges,
 * the addresses no claim may take), with no etcd, daemon or log, so that
 * tests/unit/test_registry_decide.c can give it every case and time it at 10,000 entries.
 *
 * The rules (docs/cluster.md, "Validation"), in the order they are applied:
 *  - an entry that does not parse is refused (DECIDE_INVALID);
 *  - in order of creation (create_revision, then key), an entry whose claims overlap those of
 *    an entry accepted before it is refused: the later claimant never wins, so every node
 *    refuses the same (DECIDE_CLAIMED);
 *  - an accepted entry that is ours (our key, or the key we published under before a rotation)
 *    is no peer of ours (DECIDE_SELF), nor one that claims this node's own addresses
 *    (DECIDE_OWN_CLAIMS);
 *  - an accepted entry whose claims would route into the tunnel the way to etcd, to this
 *    node's endpoints or host addresses, to a peer's endpoint, or that would take a prefix
 *    of a peer the registry does not manage, is refused here alone (DECIDE_CLASH), and still
 *    holds its claims against later entries, as it does on every other node.
 *
 * Claims are found overlapping through an index of prefixes (a hash per prefix and length),
 * not by comparing entries pairwise: a decision over n entries costs O(n log n). */
#ifndef SEALNET_TOOLS_REGISTRY_DECIDE_H
#define SEALNET_TOOLS_REGISTRY_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "entry.h"
#include "key.h"

/* One entry, parsed. The pointers are the caller's and must outlive the call. */
struct decide_entry {
	const char *key;         /* its etcd key */
	int64_t create_revision; /* etcd's: the older claimant wins */
	bool valid;              /* registry_parse_entry() took it */
	const char *why;         /* !valid: the reason it gave */
	const struct node *node; /* valid: what it says */
};

/* What the daemon's peers hold that no claim may take: their endpoints, and the allowed IPs of
 * the peers the registry does not manage. The keys name the peer in messages. */
struct decide_held_addr {
	struct ip_addr a;
	const uint8_t *key;
};
struct decide_held_prefix {
	struct ip_prefix p;
	const uint8_t *key;
};

/* This node, as its configuration, the daemon and the host describe it. */
struct decide_self {
	uint8_t key[KEY_LEN];      /* the daemon's public key */
	const char *published_key; /* where our entry was put last; "" none yet */
	const struct node *claims; /* our own entry's claims */
	const struct cluster_cidrs *cidrs;
	const struct ip_addr *etcd_addr; /* NULL when etcd's URL names no address */
	const struct ip_addr *endpoints; /* this node's --endpoint addresses */
	size_t n_endpoints;
	const struct ip_addr *local; /* this host's addresses, but the tunnel's and our claims' */
	size_t n_local;
	const struct decide_held_addr *held_endpoints;
	size_t n_held_endpoints;
	const struct decide_held_prefix *held_prefixes;
	size_t n_held_prefixes;
};

enum decide_verdict {
	DECIDE_PEER,       /* accepted, and a peer here */
	DECIDE_SELF,       /* accepted, and ours */
	DECIDE_OWN_CLAIMS, /* accepted, but claims this node's own addresses: no peer here */
	DECIDE_INVALID,    /* refused: does not parse */
	DECIDE_CLAIMED,    /* refused: an older entry claims the same */
	DECIDE_CLASH,      /* refused here: takes what this node must keep out of the tunnel */
};

struct decide_verdict_of {
	enum decide_verdict verdict;
	char *what; /* what to log ("refused: ..."), owned by the decision; NULL for DECIDE_PEER
	             * and DECIDE_SELF */
};

/* The decision. Zero-initialised is empty; registry_decision_free() releases it. */
struct decision {
	struct decide_verdict_of *v; /* per entry, in the caller's order */
	size_t *order;               /* the caller's indexes in order of creation */
	size_t n;
	size_t n_valid;   /* accepted, less those refused here */
	size_t n_refused; /* DECIDE_INVALID, DECIDE_CLAIMED and DECIDE_CLASH */
};

/* Decides entries[0..n) for self into *d. Returns 0 or -ENOMEM (d then empty). The what of a
 * verdict quotes etcd's keys and values: escape it (registry_escape) before logging it. */
int registry_decide(const struct decide_entry *entries, size_t n, const struct decide_self *self,
		    struct decision *d);
void registry_decision_free(struct decision *d);

#endif
