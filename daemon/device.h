/* The device: one TUN interface, its UDP sockets, our identity, the peers and every table the
 * datapath looks things up in. Single-threaded on one libevent base. Its life is device.c's,
 * the apply apply.c's, the addresses and routes we add routes.c's, changes in slices job.c's
 * (device_priv.h is what those four share). struct peer is peer.h's. */
#ifndef SEALNET_DEVICE_H
#define SEALNET_DEVICE_H

#include <net/if.h>
#include <stdint.h>
#include <sys/queue.h>

#include "addr.h"
#include "cookie.h"
#include "load.h"
#include "noise.h"
#include "peer_table.h"
#include "udp.h"

struct event_base;
struct event;
struct config;
struct config_peer;
struct datapath;
struct netlink;
struct allowedips;
struct ratelimiter;
struct index_table;
struct firewall;
struct index_entry;
struct workers;
struct peer;

/* Why a packet was dropped. The names (device_drop_name) appear in logs and later in metrics. */
enum device_drop {
	DROP_BAD_SIZE,         /* datagram too short or of the wrong size for its type */
	DROP_UNKNOWN_TYPE,     /* not one of WireGuard's four message types */
	DROP_BAD_MAC1,         /* handshake message without a valid mac1 */
	DROP_COOKIE,           /* under load and no valid mac2: answered with a cookie */
	DROP_RATELIMIT,        /* too many handshakes from that address */
	DROP_HANDSHAKE,        /* handshake did not decrypt or came from an unknown key */
	DROP_HANDSHAKE_REPLAY, /* initiation whose timestamp is not newer */
	DROP_UNKNOWN_INDEX,    /* receiver index names no session of ours */
	DROP_EXPIRED,          /* session too old to receive on */
	DROP_DECRYPT,          /* transport data that does not authenticate */
	DROP_REPLAY,           /* counter seen before or behind the window */
	DROP_BAD_INNER,        /* decrypted packet is not IPv4/IPv6 of a sane length */
	DROP_ALLOWEDIPS,       /* inner source address not in the sender's AllowedIPs */
	DROP_NO_ROUTE,         /* TUN packet to an address no peer's AllowedIPs covers */
	DROP_LINK_LOCAL,       /* the same, to link-scope multicast (ff02::/16, 224.0.0.0/24):
			      * what the kernel sends on any fresh link (router solicitations,
			      * MLD reports), harmless, so not a no_route */
	DROP_NO_ENDPOINT,      /* peer has no known endpoint yet */
	DROP_STAGED_FULL,      /* staged queue overflowed while a handshake ran */
	DROP_TUN_WRITE,        /* the kernel refused the decrypted packet */
	DROP_UDP_SEND,         /* the kernel refused the datagram */
	DROP_FIREWALL,         /* an access rule (or the default deny) refused the inner packet */
	DROP_MAX
};

struct device_stats {
	uint64_t drops[DROP_MAX];
	uint64_t rx_datagrams, tx_datagrams;
	uint64_t cookie_replies_sent;
	uint64_t handshake_messages;
};

/* Where a walk over the peers that spans turns of the event loop is (a get written as the
 * socket drains): the next peer to visit, NULL at the end. A peer that goes moves the
 * cursors on it to the one after; peers added meanwhile come at the end. */
struct device_cursor {
	struct peer *next;
	LIST_ENTRY(device_cursor) link;
};

struct device {
	struct event_base *base;
	char ifname[IFNAMSIZ];
	int ifindex;
	int tun_fd;
	struct udp udp;
	unsigned mtu;
	uint32_t fwmark;
	struct noise_local local;
	struct cookie_checker cookie_checker;
	struct ratelimiter *ratelimiter;
	struct allowedips *allowedips;
	struct firewall *firewall;
	struct index_table *index;
	TAILQ_HEAD(peer_list, peer) peers;
	size_t n_peers;
	struct peer_table peer_table;       /* the same peers by public key */
	LIST_HEAD(, device_cursor) cursors; /* open device_cursor_open()s */
	unsigned apply_mark;                /* last peer.apply_mark handed out */
	struct netlink *nl;
	struct event *tun_ev, *udp4_ev, *udp6_ev;
	/* Keys of peers an apply made, still to be greeted with an initiation (kick_cb). */
	struct event *kick_ev;
	uint8_t (*kick)[KEY_LEN];
	size_t n_kick, kick_done, kick_cap;
	bool job_running; /* a device_job between two slices: the greetings wait for its end */
	struct device_stats stats;
	struct load load;        /* handshake work: when to answer with cookies (load.h) */
	unsigned offload;        /* CONFIG_OFFLOAD_* */
	unsigned tun_features;   /* TUN_* the kernel granted */
	struct datapath *dp;     /* the datapath's own state (datapath.h) */
	struct workers *workers; /* NULL: every packet on the event loop's thread */
	unsigned threads;        /* Threads = as configured at start, 0 = auto */
	/* Where metrics_open() serves the Prometheus page, sa_family 0 = nowhere: it cannot
	 * move while running, so a reload (device_reload_job()) only says when the file asks for another. */
	union endpoint metrics_listen;
	/* From a config file, the addresses, the MTU, the link state and the AllowedIPs routes
	 * are ours to set (the routes as its Table = says). Without one the daemon is what
	 * wireguard-go is: only the control socket's settings, never a netlink change after
	 * startup, so the TUN may move to another namespace. */
	bool manage_net;
	bool link_set_up; /* brought up once; later changes to the link are the admin's */
	/* What we added to the system, so exit removes exactly that; routes in route_table
	 * (0 while Table = off), sorted by peer_prefix_cmp() with room for routes_cap. */
	struct ip_prefix *routes, *addresses;
	size_t n_routes, routes_cap, n_addresses;
	uint32_t route_table;
};

/* Opens the TUN device and netlink. offload: CONFIG_OFFLOAD_* allowed (fixed for the
 * device's life). Returns 0 or -errno; *out owned by the caller. */
int device_new(struct event_base *base, const char *ifname, unsigned offload, struct device **out);
/* Which of the device's peers that a config does not name an apply removes. */
enum device_scope {
	DEVICE_REPLACE_ALL,  /* all of them: startup, `wg setconf` (replace_peers=true) */
	DEVICE_REPLACE_FILE, /* those a config file named (a reload): not the control socket's */
	DEVICE_NAMED,        /* only those in named[] (a set that removed them): not the rest */
};

struct device_change {
	enum device_scope scope;
	bool from_file; /* the config is the file's: its peers are the file's from now on */
	const uint8_t (*named)[KEY_LEN]; /* DEVICE_NAMED only */
	size_t n_named;
};

/* Makes the device what the config says: identity, port, MTU, addresses, rules, the peers
 * it holds, routes; the peers it does not hold go or stay as `how` says. All or nothing;
 * peers that stay keep their sessions; costs what changes (a set of one peer does not
 * depend on how many there are), but for finding what a replacing scope removes. A peer
 * made with an endpoint gets a handshake initiation at once. Returns 0 or -errno (logged). */
int device_apply_change(struct device *dev, const struct config *c,
			const struct device_change *how);
/* device_apply_change() of a whole config file: DEVICE_REPLACE_ALL (startup). */
int device_apply(struct device *dev, const struct config *c);
/* The running state as a config (current endpoints, the addresses we manage), for the
 * control socket to edit and hand back to device_apply(). *out freed with config_free(). */
int device_to_config(struct device *dev, struct config **out);
/* The interface's part only (no peers), with room for peers_room peers in c->peers, for a
 * set that names a few: device_to_config_peer() fills them. *out freed with config_free(). */
int device_interface_config(struct device *dev, size_t peers_room, struct config **out);
/* One peer's state into *cp (zeroed first); cp->allowed_ips is allocated, freed with the
 * config that holds cp. 0 or -ENOMEM. */
int device_to_config_peer(struct device *dev, const struct peer *p, struct config_peer *cp);
/* A change, in slices that each take a turn of the event loop, so that nothing holds the
 * loop more than a few milliseconds however many peers a change names (issue 14). A change
 * of at most DEVICE_SLICE peers (in the config and removed) is one device_apply_change(),
 * all or nothing. A bigger one is the interface's part first, then the config's peers a
 * slice at a time (made or updated, none removed), then the peers the scope removes, a
 * slice at a time; a slice is 1 to DEVICE_SLICE peers, as many as the last one's pace says
 * fit in DEVICE_TURN_NS. Each slice is all or nothing, so every state in between is one
 * an apply could make; a peer the change leaves alone keeps working throughout, and no
 * packet reaches a peer before its slice is in force. A failure stops the job: the slices
 * applied stay (as a `wg setconf` split over several netlink messages), the error says
 * how far it got. */
#define DEVICE_SLICE 32
/* How long a turn of the event loop may spend on a job before the loop gets its turn. */
#define DEVICE_TURN_NS (2 * NSEC_PER_MSEC)
struct device_job;
/* Takes c (freed with the job, also on error) and copies how->named. 0 or -ENOMEM. */
int device_job_new(struct device *dev, struct config *c, const struct device_change *how,
		   struct device_job **out);
/* Applies slices until budget_ns have gone by (0: to the end). Returns 1 while some are
 * left, 0 when done, -errno when a slice failed (the job is then done; device_job_err()
 * says why). */
int device_job_step(struct device_job *j, uint64_t budget_ns);
const char *device_job_err(const struct device_job *j);
/* Stops where it is: the slices applied stay. NULL is fine. */
void device_job_free(struct device_job *j);
/* Reads the config file again into a job that parses it in its first turns (a slice of
 * lines each, config_load_step()), then applies it with DEVICE_REPLACE_FILE (the registry's
 * peers stay) and logs its notices once done. A file that cannot be read changes nothing:
 * -errno with the reason in err (also logged); one that does not parse ends the job with
 * the same before anything is applied (device_job_step(), device_job_err()). */
int device_reload_job(struct device *dev, const char *config_path, struct device_job **out,
		      char *err, size_t errlen);
/* Starts a cursor at the first peer; every cursor opened is closed before the device
 * goes. */
void device_cursor_open(struct device *dev, struct device_cursor *cur);
void device_cursor_close(struct device_cursor *cur);
/* Starts the threads that share the crypto of big batches (threads: Threads =, 0 = auto).
 * Call after privdrop_apply(): threads inherit the credentials and the filter of the
 * thread that makes them. 0 or -errno. */
int device_start_threads(struct device *dev, unsigned threads);
/* Removes routes and addresses we added, closes everything, wipes keys. NULL is fine. */
void device_free(struct device *dev);

/* qsort() for the daemon: never calls sysinfo(), which the seccomp filter refuses. Not
 * stable. */
void device_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));

uint64_t device_now(void);      /* monotonic ns */
uint64_t device_realtime(void); /* ns since the epoch */
const char *device_drop_name(enum device_drop d);
void device_log_counters(struct device *dev);
struct peer *device_peer_by_key(struct device *dev, const uint8_t pub[KEY_LEN]);

#endif
