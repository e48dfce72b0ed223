/* `sealnet registry`: joins a cluster whose peers are listed in etcd (docs/cluster.md, "Peer
 * registry"). The state every part shares, one struct per concern; main.c tells the story.
 *
 * The files, each a concern:
 *   entry.c     what a node's entry says, and whether it may be believed (pure)
 *   decide.c    which entries become which peers (pure)
 *   request.c   the set=1 requests, through the tool's one serializer (../request.c)
 *   rules.c     lists of access rules, and a rules key's value parsed (pure)
 *   entries.c   the keys read from etcd, as last read, and the log of their refusals
 *   own.c       this node's own entry
 *   session.c   etcd: lease, publishing, range and watch, backoff
 *   daemon.c    talking to the daemon: what it has, what it takes
 *   access.c    the daemon's access rules: its own, then etcd's
 *   peers.c     the peers the registry put into the daemon
 *   keyidx.c    a hash of public keys, for peers.c and daemon.c
 *   reconcile.c bringing the daemon's peers to the decision
 *   state.c     the state file and the metrics file
 *   main.c      command line and loop */
#ifndef SEALNET_TOOLS_REGISTRY_H
#define SEALNET_TOOLS_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "addr.h"
#include "entry.h"
#include "firewall.h"
#include "key.h"
#include "keyidx.h"

#define DEFAULT_PREFIX "/sealnet/default"
#define DEFAULT_TTL 10
/* Unary requests to etcd: long enough for a loaded server, short enough that a dead one
 * is noticed well within a lease. */
#define ETCD_TIMEOUT_MS 2000
#define BACKOFF_MIN 0.5
#define BACKOFF_MAX 10.0
/* How often the daemon is asked for its key, port and peers: every second, or, when its
 * answer takes long (a get of every peer, on the daemon's event loop), seldom enough that the
 * asking takes at most 1/TICK_SHARE of the daemon's time. */
#define TICK_SEC 1.0
#define TICK_SHARE 20
/* How long after the first change seen in the watch the peers are decided again: the changes
 * of a burst (nodes joining one after another, a lease of many entries expiring) then go to
 * the daemon in one set, each of which costs the daemon a pass over its peers. Short beside
 * a lease, the time a node takes to be dropped. */
#define BATCH_WINDOW_SEC 0.1
/* Changes per set=1 at most: a set of many new peers costs the daemon of today (which applies
 * its whole configuration again for each set, issue 14) about as much per peer as the peers it
 * has, and a set must end well within the control socket's timeout and a third of a lease. */
#define SET_MAX_CHANGES 100

/* One key under PREFIX/nodes/ or PREFIX/rules/, as last read. */
struct entry {
	char *key, *value;
	uint64_t hash; /* of key */
	int64_t create_revision, mod_revision, lease;
	int64_t parsed_revision; /* the mod_revision that valid, why and node describe */
	bool valid;
	char why[256];
	struct node node;
	/* Refusals and hand-configured clashes are logged once per revision and reason. */
	int64_t reported_revision;
	char reported[640];
	bool wanted; /* accepted, and to be a peer here (last decision) */
};

/* The keys, found by name through an open-addressing hash (entries.c): a range of 10,000
 * keys, and each watch event, cost the same per key as a range of 10. */
struct entry_list {
	struct entry *e;
	size_t n, cap_e;
	size_t *slot; /* place in e + 1; 0 empty */
	size_t cap;   /* slots: a power of two, at most half used */
};

/* Access rules as the daemon writes them ("allow tcp/5201 from group:web"), in order. */
struct rule_list {
	char (*text)[FIREWALL_RULE_TEXT_MAX];
	size_t n;
};

/* A list of rules in its three parts, in the order they apply. */
struct rule_set {
	struct rule_list own, node, cluster;
};

/* PREFIX/rules/<this node> or PREFIX/rules/all. */
struct rules_source {
	const char *what;       /* "node", "cluster": in logs */
	char key[512];          /* the key last looked at ("": none yet) */
	int64_t revision;       /* its mod_revision last looked at; 0 absent */
	struct rule_list rules; /* as last accepted: a refused revision leaves them */
	bool refused;           /* the key's current revision was refused */
};

/* A peer this registry put into the daemon. */
struct managed {
	uint8_t public_key[KEY_LEN];
	struct node applied;
	bool known;  /* applied is what we set (false: named by the state file, or lost) */
	bool wanted; /* an accepted entry wants it (during reconcile) */
};

/* What the command line says; set once. */
struct registry_config {
	const char *ifname, *etcd_url, *metrics_path;
	const char *cacert, *cert, *key; /* TLS to etcd */
	char state_path[256];
	char base[256];         /* PREFIX/: what is read and watched */
	char prefix[256];       /* PREFIX/nodes/ */
	char rules_prefix[256]; /* PREFIX/rules/ */
	unsigned ttl;
	/* This node. */
	char *endpoints[REGISTRY_MAX_ENDPOINTS];
	struct ip_addr endpoint_addrs[REGISTRY_MAX_ENDPOINTS];
	size_t n_endpoints;
	char overlay[ADDR_STRLEN];
	char pod_subnets[REGISTRY_MAX_POD_SUBNETS][ADDR_STRLEN]; /* one per family */
	size_t n_pod_subnets;
	char *groups[REGISTRY_MAX_GROUPS];
	size_t n_groups;
	struct node self_claims; /* our entry as parsed: its overlay and pod subnets */
	/* What the claims of every entry must lie in: configuration, never etcd's. */
	struct cluster_cidrs cidrs;
	/* etcd's address, when the URL gives one: no claim may take the route to it. */
	struct ip_addr etcd_addr;
	bool has_etcd_addr;
};

/* This node, as the daemon describes it. */
struct registry_daemon {
	bool have_self, up, reported, no_key_reported;
	bool groups_unsupported; /* it refused group=: peers go without their groups */
	uint8_t self_key[KEY_LEN];
	uint16_t port;
};

/* etcd. */
struct registry_session {
	struct etcd *etcd;
	int64_t lease;
	char published_key[512]; /* where our entry is; "" before the first put */
	struct node published;   /* what it says, as every node parses it */
	bool published_valid;    /* and it does parse: only then can a change be told */
	bool up, synced, down_reported, need_publish, no_endpoint_reported;
	bool resync; /* entries lost an event: read them whole again */
	unsigned long reconnects;
	double backoff, next_try, next_keepalive;
};

/* The peers this registry put into the daemon (peers.h). */
struct registry_peers {
	struct managed *m;
	size_t n;
	struct keyidx idx; /* public key -> place in m */
	bool stale;        /* idx is to be made again (a removal moved a peer) */
};

/* Access rules. seen is the daemon's list as last read; sent what we last sent (or, before
 * that, what the state file says a previous run sent); own the daemon's own rules, from its
 * config file or set by hand; refused a list the daemon refused, not to be sent again. */
struct registry_rules {
	struct rule_list own, seen, refused;
	struct rule_set sent;
	bool have_seen, has_refused, unsupported_reported;
	struct rules_source node, cluster;
};

/* What the metrics file says beyond the state above. */
struct registry_stats {
	size_t n_valid, n_refused;
	unsigned long applies, apply_errors;
};

struct registry {
	struct registry_config cfg;
	struct registry_daemon dmn;
	struct registry_session sess;
	struct entry_list nodes;     /* under cfg.prefix */
	struct entry_list rule_keys; /* under cfg.rules_prefix */
	struct registry_peers peers;
	struct registry_rules rules;
	struct registry_stats stats;
	bool dirty;            /* the peers or rules are to be decided again */
	double next_reconcile; /* not before */
	char *metrics_written;
};

static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline const char *key_text(char b64[KEY_B64_LEN], const uint8_t key[KEY_LEN])
{
	key_to_base64(b64, key);
	return b64;
}

#endif
