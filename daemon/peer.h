/* A peer: its identity, handshake, up to three sessions (previous, current, next, so a
 * rekey loses no packet), endpoint, timers, counters, and the packets waiting for a session.
 * Owned by its device; created and freed by device_apply(). */
#ifndef SEALNET_PEER_H
#define SEALNET_PEER_H

#include <stdint.h>
#include <sys/queue.h>

#include "addr.h"
#include "config.h"
#include "cookie.h"
#include "noise.h"
#include "peer_stats.h"
#include "timers.h"
#include "udp.h"

struct device;
struct event;
struct config_peer;

/* Packets from the TUN wait here while a handshake runs; the oldest is dropped when full. */
#define PEER_STAGED_MAX 32
#define PEER_STAGED_ANY_SIZE 65535

struct peer {
	TAILQ_ENTRY(peer) link;
	struct peer *hash_next; /* in the device's peer_table, by public key */
	struct device *dev;
	struct noise_handshake handshake;
	struct noise_keypair *current, *previous, *next;
	struct cookie_maker cookie;
	struct timers timers;
	union endpoint endpoint; /* sa_family 0 until known */
	/* Our address the peer last wrote to, learnt with the endpoint from authenticated
	 * datagrams only: what we send from. Cleared when the config moves the endpoint, when
	 * a handshake is retried, and by udp_send() when the kernel refuses it. */
	struct udp_src endpoint_src;
	struct event *timer_ev;
	uint64_t timer_scheduled;         /* deadline timer_ev is set for, 0 = none */
	uint64_t last_handshake_realtime; /* ns since the epoch, 0 = never */
	struct peer_stats stats;
	/* PEER_STAGED_MAX slots of staged_size bytes, NULL while none waits (peer_stage()),
	 * the first staged_touched of them written since made. */
	uint8_t *staged;
	size_t staged_size;
	unsigned staged_touched;
	uint16_t staged_len[PEER_STAGED_MAX];
	unsigned staged_head, staged_count;
	char name[12];               /* short base64 prefix of the public key, for logs */
	char label[CONFIG_NAME_MAX]; /* the config's Name =, "" when none */
	/* Access-rule groups: names as configured, and their bits in the firewall's table. */
	char groups[CONFIG_MAX_GROUPS][FIREWALL_GROUP_NAME_MAX];
	unsigned n_groups;
	uint64_t group_mask;
	/* Its AllowedIPs as the trie holds them, sorted by addr_prefix order (peer_prefix_cmp),
	 * no two alike: what get shows and what device_apply() diffs against. Owned. */
	struct ip_prefix *allowed_ips;
	size_t n_allowed_ips;
	/* Named by the config file (startup or reload), not only by the control socket: a
	 * reload removes only such peers when the file stops naming them. */
	bool from_file;
	unsigned apply_mark; /* device_apply's scratch */
};

/* The order of peer.allowed_ips: family, address bytes, then length. */
int peer_prefix_cmp(const struct ip_prefix *a, const struct ip_prefix *b);
/* Where pfx is in p->allowed_ips, or -1. O(log n). */
long peer_prefix_find(const struct peer *p, const struct ip_prefix *pfx);
/* Takes the prefix at position i out of the list (no allocation). */
void peer_prefix_drop(struct peer *p, size_t i);

/* Returns 0 or -ENOMEM/-EINVAL; the peer is not yet in any table. */
int peer_new(struct device *dev, const struct config_peer *cp, struct peer **out);
/* Updates what the config says of an existing peer, keeping its sessions. */
void peer_update(struct peer *p, const struct config_peer *cp);
/* Removes its indexes and routes nothing; wipes and frees. NULL is fine. */
void peer_free(struct peer *p);

const uint8_t *peer_public_key(const struct peer *p);

/* Session bookkeeping (see the WireGuard driver's noise.c). */
void peer_keypair_install(struct peer *p, struct noise_keypair *kp);
/* A packet authenticated with kp: if kp is the responder's unconfirmed next session it now
 * becomes current. Returns true when that happened. */
bool peer_keypair_confirm(struct peer *p, struct noise_keypair *kp);
void peer_keypairs_zero(struct peer *p);
/* Our identity changed: the current session sends no more but still receives (as previous),
 * the next and the handshake go, and a new initiation may leave at once. */
void peer_keypairs_expire(struct peer *p);

/* Staging: copy a packet in (its slots are allocated by the first packet that waits);
 * iterate with peer_staged_pop. */
void peer_stage(struct peer *p, const uint8_t *pkt, size_t len);
/* Returns the oldest staged packet (valid until the next stage or pop call) or NULL; the
 * NULL that ends the queue releases the slots. */
const uint8_t *peer_staged_pop(struct peer *p, size_t *len);
void peer_staged_clear(struct peer *p);

/* Re-arms the peer's libevent timer for the earliest deadline of its timers. */
void peer_timers_schedule(struct peer *p);

#endif
