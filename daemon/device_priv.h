/* What the device's own files share (device.c: its life and the greetings; apply.c: the
 * apply; routes.c: the addresses and routes we added; job.c: changes in slices). Only they
 * include this: the rest of the daemon knows the device by device.h. */
#ifndef SEALNET_DEVICE_PRIV_H
#define SEALNET_DEVICE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "addr.h"
#include "device.h"
#include "messages.h"
#include "peer.h"
#include "udp.h"

struct config;
struct firewall_rules;

/* What device_apply() builds aside before it changes anything, and what it did to the system
 * that it must undo when a later step fails: a set, a reload or the startup config takes
 * effect whole or not at all. Everything that can fail happens before commit(), which
 * cannot; what the system was asked to change is put back by rollback().
 *
 * Each concern is diffed on its own, so an apply costs what it changes: a peer's AllowedIPs
 * against its sorted list, the peers by the key table, the routes by what enters or leaves
 * the set of all AllowedIPs, the rules, the MTU, the link and the port only when they differ.
 * Only a replacing apply (startup, reload, `wg setconf`) looks at every peer, to find those
 * it removes. */
struct apply_peer {
	struct peer *p; /* the device's, or made here */
	bool made;
	uint64_t mask;         /* its groups' bits in the rule set in force after the apply */
	struct ip_prefix *ips; /* the config's AllowedIPs sorted, no two alike */
	size_t n_ips;
};

/* A prefix that a peer gains or lets go of. */
struct apply_prefix {
	struct ip_prefix pfx;
	struct peer *peer; /* who lets it go (dels) or gains it (adds) */
	size_t seq;        /* order in the config: of two peers given the same, the later wins */
};

/* A route added (true) or removed for rollback(), in the order done. */
struct apply_route {
	struct ip_prefix pfx;
	bool added;
};

struct apply {
	struct firewall_rules *rules; /* NULL: the rules in force stay */
	uint64_t *other_masks;    /* with new rules: the masks of peers the config leaves alone */
	struct apply_peer *peers; /* one per config peer */
	struct peer **gone;       /* the peers that go */
	size_t n_gone;
	struct apply_prefix *adds, *dels; /* sorted by prefix, one per prefix */
	size_t n_adds, n_dels;
	unsigned mark; /* peer.apply_mark of the config's peers; mark + 1 of those that go */
	bool identity_changes;
	uint8_t *private_key; /* the new identity, clamped; NULL for none */
	bool new_socket;
	struct udp udp;
	struct event *ev4, *ev6;
	unsigned old_mtu;
	/* done to the system so far */
	bool mark_set, mtu_set, addresses_set, link_set, table_set;
	struct ip_prefix *old_addresses, *old_routes; /* old_routes only when the table moved */
	size_t n_old_addresses, n_old_routes;
	uint32_t old_route_table;
	struct apply_route *route_ops;
	size_t n_route_ops;
};

/* qsort()'s form of peer_prefix_cmp(), for device_sort() of struct ip_prefix. */
static inline int ip_prefix_cmp(const void *x, const void *y)
{
	return peer_prefix_cmp(x, y);
}

/* The monotonic clock, in ns: what device_now() returns. The device's files read it here
 * rather than through device_now(), which the fuzz harness replaces with its own clock for
 * the other modules (tests/fuzz/fuzz.h): a job's slices are timed in real time there too. */
static inline uint64_t device_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* device.c */

/* Moves the cursors on p to the peer after it: p is going. */
void device_cursors_skip(struct device *dev, const struct peer *p);
/* After a change of identity: peers we had a session with get an initiation now. */
void device_kick_rekeys(struct device *dev);
/* Greets the peers of c that the apply a made (made[i] for c->peers[i]) and that have an
 * endpoint with an initiation each, some now and the rest from a queue; a peer with a
 * persistent keepalive that was not made gets its keepalive. Cannot fail (see device.c). */
void device_kick_peers(struct device *dev, const struct config *c, const struct apply *a,
		       const bool *made);

/* routes.c: every function logs what it could not do. */

/* Brings the system's addresses to `want`, touching only those we added. 0 or -errno; in
 * *removed whether any of ours went. */
int routes_sync_addresses(struct device *dev, const struct ip_prefix *want, size_t n_want,
			  bool *removed);
/* Whether the config's addresses are the ones we hold (in any order). */
bool routes_addresses_equal(const struct device *dev, const struct config *c);
/* Adds again each of our routes that went missing (the kernel flushes them with the last
 * IPv4 address of the link). 0 or the first error. */
int routes_reassert(struct device *dev);
/* The routes for the AllowedIPs the apply a leaves (and c's Table =), each change recorded
 * in a for routes_rollback(). 0 or -errno. */
int routes_apply(struct device *dev, const struct config *c, struct apply *a);
/* Puts the routes back as they were before routes_apply(dev, c, a). */
void routes_rollback(struct device *dev, struct apply *a);
/* At exit: removes every route and address we added (while netlink is open), frees the
 * lists. */
void routes_remove_all(struct device *dev);

#endif
