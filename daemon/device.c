#include "device.h"

#include <errno.h>
#include <event2/event.h>
#include <linux/rtnetlink.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "allowedips.h"
#include "cipher.h"
#include "config.h"
#include "datapath.h"
#include "firewall.h"
#include "index.h"
#include "key.h"
#include "log.h"
#include "netlink.h"
#include "ratelimiter.h"
#include "tun.h"
#include "workers.h"

static const char *const drop_names[DROP_MAX] = {
	[DROP_BAD_SIZE] = "drop_bad_size",
	[DROP_UNKNOWN_TYPE] = "drop_unknown_type",
	[DROP_BAD_MAC1] = "drop_bad_mac1",
	[DROP_COOKIE] = "drop_cookie",
	[DROP_RATELIMIT] = "drop_ratelimit",
	[DROP_HANDSHAKE] = "drop_handshake",
	[DROP_HANDSHAKE_REPLAY] = "drop_handshake_replay",
	[DROP_UNKNOWN_INDEX] = "drop_unknown_index",
	[DROP_EXPIRED] = "drop_expired",
	[DROP_DECRYPT] = "drop_decrypt",
	[DROP_REPLAY] = "drop_replay",
	[DROP_BAD_INNER] = "drop_bad_inner",
	[DROP_ALLOWEDIPS] = "drop_allowedips",
	[DROP_NO_ROUTE] = "drop_no_route",
	[DROP_LINK_LOCAL] = "drop_link_local",
	[DROP_NO_ENDPOINT] = "drop_no_endpoint",
	[DROP_STAGED_FULL] = "drop_staged_full",
	[DROP_TUN_WRITE] = "drop_tun_write",
	[DROP_UDP_SEND] = "drop_udp_send",
	[DROP_FIREWALL] = "drop_firewall",
};

const char *device_drop_name(enum device_drop d)
{
	return d < DROP_MAX ? drop_names[d] : "drop_unknown";
}

uint64_t device_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t device_realtime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

struct peer *device_peer_by_key(struct device *dev, const uint8_t pub[KEY_LEN])
{
	return peer_table_lookup(&dev->peer_table, pub);
}

static void tun_cb(evutil_socket_t fd, short what, void *arg)
{
	datapath_tun_readable(arg);
}

static void udp_cb(evutil_socket_t fd, short what, void *arg)
{
	datapath_udp_readable(arg, fd);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg);

int device_new(struct event_base *base, const char *ifname, unsigned offload, struct device **out)
{
	struct device *dev;
	unsigned features;
	int ret = -ENOMEM;

	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->base = base;
	dev->tun_fd = -1;
	dev->udp.fd4 = dev->udp.fd6 = -1;
	dev->mtu = CONFIG_DEFAULT_MTU;
	load_init(&dev->load);
	dev->manage_net = true;
	TAILQ_INIT(&dev->peers);
	LIST_INIT(&dev->cursors);
	dev->offload = offload;
	dev->index = malloc(sizeof(*dev->index));
	if (!dev->index)
		goto err;
	index_init(dev->index);
	ret = peer_table_init(&dev->peer_table);
	if (ret)
		goto err;
	ret = allowedips_new(&dev->allowedips);
	if (ret)
		goto err;
	ret = ratelimiter_new(&dev->ratelimiter);
	if (ret)
		goto err;
	ret = firewall_new(&dev->firewall);
	if (ret)
		goto err;
	features = offload & CONFIG_OFFLOAD_TUN ? TUN_VNET_HDR | TUN_TSO | TUN_USO : 0;
	ret = tun_open(ifname, dev->ifname, &features);
	if (ret < 0) {
		/* The kernel's EINVAL for a name another kind of interface holds says nothing. */
		if (ret == -EINVAL && if_nametoindex(ifname))
			log_err("%s: an interface of that name exists and is not a TUN device: "
				"remove it (ip link del %s) or choose another name",
				ifname, ifname);
		else if (ret == -EBUSY)
			log_err("%s: the TUN device is held by another process (another sealnetd, "
				"wireguard-go?)",
				ifname);
		else
			log_err("%s: cannot create TUN device: %s", ifname, strerror(-ret));
		goto err;
	}
	dev->tun_fd = ret;
	dev->tun_features = features;
	ret = datapath_new(features, &dev->dp);
	if (ret)
		goto err;
	log_info("%s: TUN offloads: %s%s%s", ifname, features & TUN_VNET_HDR ? "vnet-hdr" : "none",
		 features & TUN_TSO ? " tso" : "", features & TUN_USO ? " uso" : "");
	dev->ifindex = (int)if_nametoindex(dev->ifname);
	ret = netlink_open(&dev->nl);
	if (ret) {
		log_err("%s: cannot open netlink: %s", dev->ifname, strerror(-ret));
		goto err;
	}
	dev->kick_ev = evtimer_new(base, kick_cb, dev);
	if (!dev->kick_ev) {
		ret = -ENOMEM;
		goto err;
	}
	dev->tun_ev = event_new(base, dev->tun_fd, EV_READ | EV_PERSIST, tun_cb, dev);
	if (!dev->tun_ev || event_add(dev->tun_ev, NULL)) {
		ret = -ENOMEM;
		goto err;
	}
	*out = dev;
	return 0;
err:
	device_free(dev);
	return ret;
}

/* After a change of identity, as after WireGuard's: peers we had a session with hear from
 * us now rather than at their next packet. */
static void kick_rekeys(struct device *dev)
{
	uint64_t now = device_now();
	struct peer *p;

	TAILQ_FOREACH(p, &dev->peers, link)
		if (p->previous && !p->current && p->endpoint.sa.sa_family &&
		    dev->local.private_key)
			datapath_send_initiation(p, false, now);
}

/* New sockets or a new mark change which of our addresses can reach a peer: as WireGuard
 * does then, every peer's remembered source address is forgotten. */
static void forget_sources(struct device *dev)
{
	struct peer *p;

	TAILQ_FOREACH(p, &dev->peers, link)
		memset(&p->endpoint_src, 0, sizeof(p->endpoint_src));
}

static void swap_bytes(uint8_t *a, uint8_t *b, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		uint8_t t = a[i];

		a[i] = b[i];
		b[i] = t;
	}
}

/* Heapsort: glibc's qsort() asks sysinfo() how much memory there is before sorting a large
 * array, and the daemon's seccomp filter kills it for that. */
void device_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	uint8_t *b = base;

	for (size_t end = n, start = n / 2; end > 1;) {
		size_t root, child;

		if (start > 0) {
			start--;
		} else {
			end--;
			swap_bytes(b, b + end * size, size);
		}
		for (root = start; (child = 2 * root + 1) < end; root = child) {
			if (child + 1 < end && cmp(b + child * size, b + (child + 1) * size) < 0)
				child++;
			if (cmp(b + root * size, b + child * size) >= 0)
				break;
			swap_bytes(b + root * size, b + child * size, size);
		}
	}
}

static bool prefix_in(const struct ip_prefix *p, const struct ip_prefix *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (addr_prefix_equal(p, &set[i]))
			return true;
	return false;
}

static int addr_add(struct device *dev, const struct ip_prefix *p)
{
	return netlink_addr_add(dev->nl, dev->ifindex, p);
}

static int addr_del(struct device *dev, const struct ip_prefix *p)
{
	return netlink_addr_del(dev->nl, dev->ifindex, p);
}

static int route_del(struct device *dev, const struct ip_prefix *p)
{
	return netlink_route_del_table(dev->nl, dev->ifindex, p, dev->route_table);
}

/* Brings the system's addresses to `want`, touching only what we added: entries already
 * present that we did not add are left alone and never removed. A device has a handful, so
 * the lists are compared pairwise. Returns 0 or -errno, and in *removed whether anything we
 * had was removed. */
static int sync_addresses(struct device *dev, const struct ip_prefix *want, size_t n_want,
			  bool *removed)
{
	struct ip_prefix *list;
	size_t n = 0;
	char buf[ADDR_STRLEN];
	int ret;

	list = calloc(n_want ? n_want : 1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < dev->n_addresses; i++) {
		if (prefix_in(&dev->addresses[i], want, n_want)) {
			list[n++] = dev->addresses[i];
			continue;
		}
		*removed = true;
		ret = addr_del(dev, &dev->addresses[i]);
		if (ret && ret != -ENOENT && ret != -ESRCH && ret != -EADDRNOTAVAIL)
			log_warn("%s: cannot remove address %s: %s", dev->ifname,
				 addr_prefix_str(&dev->addresses[i], buf), strerror(-ret));
	}
	for (size_t i = 0; i < n_want; i++) {
		if (prefix_in(&want[i], list, n))
			continue;
		ret = addr_add(dev, &want[i]);
		if (ret == -EEXIST) {
			/* Someone else's: it stays theirs, and stays when we stop. */
			log_warn("%s: address %s exists already (not added by sealnetd): left as "
				 "it is",
				 dev->ifname, addr_prefix_str(&want[i], buf));
			continue;
		}
		if (ret) {
			log_err("%s: cannot add address %s: %s", dev->ifname,
				addr_prefix_str(&want[i], buf), strerror(-ret));
			/* Keep what is in place recorded, so it is removed at exit. */
			free(dev->addresses);
			dev->addresses = list;
			dev->n_addresses = n;
			return ret;
		}
		list[n++] = want[i];
	}
	free(dev->addresses);
	dev->addresses = list;
	dev->n_addresses = n;
	return 0;
}

/* --- our routes: dev->routes, sorted (peer_prefix_cmp), one per prefix we added --- */

/* Where pfx is in dev->routes, or where it would go (*found false). */
static size_t route_pos(const struct device *dev, const struct ip_prefix *pfx, bool *found)
{
	size_t lo = 0, hi = dev->n_routes;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = peer_prefix_cmp(&dev->routes[mid], pfx);

		if (!d) {
			*found = true;
			return mid;
		}
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int routes_reserve(struct device *dev, size_t n)
{
	struct ip_prefix *grown;
	size_t cap = dev->routes_cap ? dev->routes_cap : 16;

	if (n <= dev->routes_cap)
		return 0;
	while (cap < n)
		cap *= 2;
	grown = realloc(dev->routes, cap * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	dev->routes = grown;
	dev->routes_cap = cap;
	return 0;
}

/* Within the room routes_reserve() made. */
static void routes_insert(struct device *dev, const struct ip_prefix *pfx)
{
	bool found;
	size_t i = route_pos(dev, pfx, &found);

	if (found)
		return;
	memmove(&dev->routes[i + 1], &dev->routes[i], (dev->n_routes - i) * sizeof(*pfx));
	dev->routes[i] = *pfx;
	dev->n_routes++;
}

static void routes_forget(struct device *dev, const struct ip_prefix *pfx)
{
	bool found;
	size_t i = route_pos(dev, pfx, &found);

	if (!found)
		return;
	memmove(&dev->routes[i], &dev->routes[i + 1], (dev->n_routes - i - 1) * sizeof(*pfx));
	dev->n_routes--;
}

/* A route to add or remove in dev->route_table, and the kernel's answer (routes_run()). */
struct route_job {
	struct ip_prefix pfx;
	bool add;
	int ret;
};

/* Runs jobs[0..n) in order, NETLINK_BATCH_MAX to a netlink_batch(): after the drop a
 * slice's routes are one request to the helper, not one each, so the event loop waits for
 * the helper once, not once per route. With stop, a batch in which an add failed (but for
 * -EEXIST, someone else's route) is the last: what follows is not sent. Returns how many
 * were run, each with its answer in ret. */
static size_t routes_run(struct device *dev, struct route_job *jobs, size_t n, bool stop)
{
	struct netlink_req reqs[NETLINK_BATCH_MAX];
	int results[NETLINK_BATCH_MAX];
	size_t done = 0, k;
	bool failed = false;

	for (; done < n && !failed; done += k) {
		k = n - done < NETLINK_BATCH_MAX ? n - done : NETLINK_BATCH_MAX;
		for (size_t i = 0; i < k; i++)
			netlink_req_route(&reqs[i], jobs[done + i].add, dev->ifindex,
					  &jobs[done + i].pfx, dev->route_table);
		netlink_batch(dev->nl, reqs, k, results);
		for (size_t i = 0; i < k; i++) {
			struct route_job *j = &jobs[done + i];

			j->ret = results[i];
			failed |= stop && j->add && j->ret && j->ret != -EEXIST;
		}
	}
	return done;
}

/* As WireGuard does, a peer with a persistent keepalive is contacted at once rather than
 * at the first packet, so a node behind NAT becomes reachable without sending first. */
static void kick_persistent_keepalive(struct peer *p, uint64_t now)
{
	if (p->timers.persistent_keepalive_interval && p->endpoint.sa.sa_family && !p->current)
		datapath_send_keepalive(p, now);
}

/* The routing table AllowedIPs go to: Table = as wg-quick reads it, none without a file. */
static uint32_t route_table(const struct device *dev, const struct config *c)
{
	if (!dev->manage_net || c->table_mode == CONFIG_TABLE_OFF)
		return 0;
	return c->table_mode == CONFIG_TABLE_ID ? c->table_id : RT_TABLE_MAIN;
}

/* Table = changed on reload: our routes leave the old table before any enter the new. */
static void routes_clear(struct device *dev)
{
	struct route_job jobs[NETLINK_BATCH_MAX];
	char buf[ADDR_STRLEN];
	size_t k;

	for (size_t off = 0; off < dev->n_routes; off += k) {
		k = dev->n_routes - off;
		k = k < NETLINK_BATCH_MAX ? k : NETLINK_BATCH_MAX;
		for (size_t i = 0; i < k; i++)
			jobs[i] = (struct route_job){ dev->routes[off + i], false, 0 };
		routes_run(dev, jobs, k, false);
		for (size_t i = 0; i < k; i++)
			if (jobs[i].ret && jobs[i].ret != -ESRCH && jobs[i].ret != -ENOENT)
				log_warn("%s: cannot remove route %s: %s", dev->ifname,
					 addr_prefix_str(&jobs[i].pfx, buf),
					 strerror(-jobs[i].ret));
	}
	dev->n_routes = 0;
}

/* Removing the last IPv4 address of a link makes the kernel flush every route through it,
 * ours too: after an address change each of ours is added again where it went missing.
 * Returns 0 or the first error (each is logged). */
static int routes_reassert(struct device *dev)
{
	struct route_job jobs[NETLINK_BATCH_MAX];
	char buf[ADDR_STRLEN];
	int first = 0;
	size_t k;

	for (size_t off = 0; off < dev->n_routes; off += k) {
		k = dev->n_routes - off;
		k = k < NETLINK_BATCH_MAX ? k : NETLINK_BATCH_MAX;
		for (size_t i = 0; i < k; i++)
			jobs[i] = (struct route_job){ dev->routes[off + i], true, 0 };
		routes_run(dev, jobs, k, false);
		for (size_t i = 0; i < k; i++) {
			if (!jobs[i].ret || jobs[i].ret == -EEXIST)
				continue;
			log_warn("%s: cannot restore route %s: %s", dev->ifname,
				 addr_prefix_str(&jobs[i].pfx, buf), strerror(-jobs[i].ret));
			first = first ? first : jobs[i].ret;
		}
	}
	return first;
}

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

/* Compared clamped: the key `wg showconf` shows is the file's key clamped, and setting it
 * back must not reset every session. */
static int prepare_identity(struct device *dev, const uint8_t *key, struct apply *a)
{
	if (!key) {
		a->identity_changes = dev->local.private_key != NULL;
		return 0;
	}
	a->private_key = sodium_malloc(KEY_LEN);
	if (!a->private_key)
		return -ENOMEM;
	memcpy(a->private_key, key, KEY_LEN);
	key_clamp_private(a->private_key);
	a->identity_changes = !dev->local.private_key ||
			      !key_equal(dev->local.private_key, a->private_key);
	return 0;
}

/* A new socket when the port changes (or a new random one is asked for), with the new mark:
 * the old one serves until commit(). */
static int prepare_socket(struct device *dev, const struct config *c, struct apply *a)
{
	uint16_t port = c->listen_port;
	int ret;

	if ((dev->udp.fd4 >= 0 || dev->udp.fd6 >= 0) &&
	    ((port == 0 && !c->listen_port_new) || (port && port == dev->udp.port)))
		return 0;
	ret = udp_open(&a->udp, port,
		       (dev->offload & CONFIG_OFFLOAD_UDP_GSO ? UDP_OFFLOAD_GSO : 0) |
			       (dev->offload & CONFIG_OFFLOAD_UDP_GRO ? UDP_OFFLOAD_GRO : 0));
	if (ret) {
		log_err("%s: cannot listen on UDP port %u: %s", dev->ifname, port, strerror(-ret));
		return ret;
	}
	a->new_socket = true;
	if (a->udp.fd4 >= 0)
		a->ev4 = event_new(dev->base, a->udp.fd4, EV_READ | EV_PERSIST, udp_cb, dev);
	if (a->udp.fd6 >= 0)
		a->ev6 = event_new(dev->base, a->udp.fd6, EV_READ | EV_PERSIST, udp_cb, dev);
	if ((a->udp.fd4 >= 0 && (!a->ev4 || event_add(a->ev4, NULL))) ||
	    (a->udp.fd6 >= 0 && (!a->ev6 || event_add(a->ev6, NULL))))
		return -ENOMEM;
	if (c->fwmark && (ret = udp_set_mark(&a->udp, c->fwmark))) {
		log_err("%s: cannot set fwmark %u: %s", dev->ifname, c->fwmark, strerror(-ret));
		return ret;
	}
	return 0;
}

static bool rules_equal(const struct firewall *fw, const struct config *c)
{
	if (firewall_rule_count(fw) != c->n_rules)
		return false;
	for (size_t i = 0; i < c->n_rules; i++) {
		const struct firewall_rule *r = firewall_rule(fw, i, NULL);

		if (r->deny != c->rules[i].deny || strcmp(r->text, c->rules[i].text))
			return false;
	}
	return true;
}

/* The bits of these groups in rs (new rules), or in the rules in force (rs NULL): -ENOENT
 * there for a name they do not know yet, which takes a new rule set. */
static int groups_mask(struct device *dev, struct firewall_rules *rs,
		       const char (*groups)[FIREWALL_GROUP_NAME_MAX], unsigned n, uint64_t *mask)
{
	*mask = 0;
	for (unsigned j = 0; j < n; j++) {
		int id = rs ? firewall_rules_group_id(rs, groups[j])
			    : firewall_group_id(dev->firewall, groups[j]);

		if (id < 0) {
			if (id == -ENOSPC)
				log_err("%s: group %s: more than %d group names", dev->ifname,
					groups[j], FIREWALL_MAX_GROUPS);
			return id;
		}
		*mask |= 1ULL << id;
	}
	return 0;
}

/* The rules stay unless the config changes them or names a group they do not know; new
 * rules intern every staying peer's groups too (other_masks, in the order of dev->peers). */
static int prepare_rules(struct device *dev, const struct config *c, struct apply *a)
{
	struct peer *p;
	size_t k = 0;
	int ret = 0;

	if (rules_equal(dev->firewall, c)) {
		for (size_t i = 0; i < c->n_peers; i++) {
			ret = groups_mask(dev, NULL, c->peers[i].groups, c->peers[i].n_groups,
					  &a->peers[i].mask);
			if (ret == -ENOENT)
				break;
		}
		if (ret != -ENOENT)
			return 0;
	}
	ret = firewall_rules_new(c->rules, c->n_rules, &a->rules);
	if (ret) {
		log_err("%s: cannot apply the access rules: %s", dev->ifname,
			ret == -ENOSPC ? "more than 64 group names" : strerror(-ret));
		return ret;
	}
	for (size_t i = 0; i < c->n_peers; i++) {
		ret = groups_mask(dev, a->rules, c->peers[i].groups, c->peers[i].n_groups,
				  &a->peers[i].mask);
		if (ret)
			return ret;
	}
	a->other_masks = calloc(dev->n_peers ? dev->n_peers : 1, sizeof(*a->other_masks));
	if (!a->other_masks)
		return -ENOMEM;
	TAILQ_FOREACH(p, &dev->peers, link) {
		if (p->apply_mark != a->mark && p->apply_mark != a->mark + 1 &&
		    (ret = groups_mask(dev, a->rules,
				       (const char(*)[FIREWALL_GROUP_NAME_MAX])p->groups,
				       p->n_groups, &a->other_masks[k])))
			return ret;
		k++;
	}
	return 0;
}

static int apply_prefix_cmp(const void *x, const void *y)
{
	const struct apply_prefix *a = x, *b = y;
	int d = peer_prefix_cmp(&a->pfx, &b->pfx);

	return d ? d : (a->seq > b->seq) - (a->seq < b->seq);
}

static int ip_prefix_cmp(const void *x, const void *y)
{
	return peer_prefix_cmp(x, y);
}

/* Sorted by prefix, then keeps the last of each prefix. */
static void sort_unique(struct apply_prefix *list, size_t *n)
{
	size_t k = 0;

	if (!*n)
		return;
	device_sort(list, *n, sizeof(*list), apply_prefix_cmp);
	for (size_t i = 0; i < *n; i++) {
		if (k && !peer_prefix_cmp(&list[k - 1].pfx, &list[i].pfx))
			k--;
		list[k++] = list[i];
	}
	*n = k;
}

static const struct apply_prefix *find_prefix(const struct apply_prefix *list, size_t n,
					      const struct ip_prefix *pfx)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = peer_prefix_cmp(&list[mid].pfx, pfx);

		if (!d)
			return &list[mid];
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Room for more entries in a growing list of apply_prefix. */
static int prefixes_grow(struct apply_prefix **list, size_t n, size_t more, size_t *cap)
{
	struct apply_prefix *grown;
	size_t want = *cap ? *cap : 64;

	if (n + more <= *cap)
		return 0;
	while (want < n + more)
		want *= 2;
	grown = realloc(*list, want * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	*list = grown;
	*cap = want;
	return 0;
}

/* The config peer's AllowedIPs, sorted and without repeats, against what the peer holds:
 * what it gains goes to adds, what it lets go of to dels. */
static int diff_prefixes(const struct config_peer *cp, struct apply_peer *ap, struct apply *a,
			 size_t *cap_adds, size_t *cap_dels)
{
	const struct peer *p = ap->p;
	size_t i = 0, j = 0, k = 0;
	int ret;

	ap->ips = calloc(cp->n_allowed_ips ? cp->n_allowed_ips : 1, sizeof(*ap->ips));
	if (!ap->ips)
		return -ENOMEM;
	if (cp->n_allowed_ips)
		memcpy(ap->ips, cp->allowed_ips, cp->n_allowed_ips * sizeof(*ap->ips));
	device_sort(ap->ips, cp->n_allowed_ips, sizeof(*ap->ips), ip_prefix_cmp);
	for (i = 0; i < cp->n_allowed_ips; i++)
		if (!k || peer_prefix_cmp(&ap->ips[k - 1], &ap->ips[i]))
			ap->ips[k++] = ap->ips[i];
	ap->n_ips = k;
	if ((ret = prefixes_grow(&a->adds, a->n_adds, ap->n_ips, cap_adds)) ||
	    (ret = prefixes_grow(&a->dels, a->n_dels, p->n_allowed_ips, cap_dels)))
		return ret;
	for (i = 0; i < ap->n_ips || j < p->n_allowed_ips;) {
		int d = i == ap->n_ips          ? 1
			: j == p->n_allowed_ips ? -1
						: peer_prefix_cmp(&ap->ips[i], &p->allowed_ips[j]);

		if (d < 0) {
			a->adds[a->n_adds] = (struct apply_prefix){ ap->ips[i], ap->p, a->n_adds };
			a->n_adds++;
			i++;
		} else if (d > 0) {
			a->dels[a->n_dels] = (struct apply_prefix){ p->allowed_ips[j], ap->p, 0 };
			a->n_dels++;
			j++;
		} else {
			i++;
			j++;
		}
	}
	return 0;
}

static int mark_gone(struct peer *p, struct apply *a, size_t *cap_gone, size_t *cap_dels)
{
	struct peer **grown;
	int ret;

	if (p->apply_mark == a->mark || p->apply_mark == a->mark + 1)
		return 0;
	if (a->n_gone == *cap_gone) {
		*cap_gone = *cap_gone ? 2 * *cap_gone : 16;
		grown = realloc(a->gone, *cap_gone * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		a->gone = grown;
	}
	ret = prefixes_grow(&a->dels, a->n_dels, p->n_allowed_ips, cap_dels);
	if (ret)
		return ret;
	for (size_t j = 0; j < p->n_allowed_ips; j++)
		a->dels[a->n_dels++] = (struct apply_prefix){ p->allowed_ips[j], p, 0 };
	p->apply_mark = a->mark + 1;
	a->gone[a->n_gone++] = p;
	return 0;
}

/* Which peers go: those the scope says (see enum device_scope), and one holding the new
 * identity's public key, which could never handshake. */
static int prepare_gone(struct device *dev, const struct config *c, const struct device_change *how,
			struct apply *a, size_t *cap_dels)
{
	size_t cap_gone = 0;
	uint8_t pub[KEY_LEN];
	struct peer *p;
	int ret;

	if (how->scope == DEVICE_REPLACE_ALL || how->scope == DEVICE_REPLACE_FILE) {
		TAILQ_FOREACH(p, &dev->peers, link)
			if ((how->scope == DEVICE_REPLACE_ALL || p->from_file) &&
			    (ret = mark_gone(p, a, &cap_gone, cap_dels)))
				return ret;
	} else {
		for (size_t i = 0; i < how->n_named; i++)
			if ((p = peer_table_lookup(&dev->peer_table, how->named[i])) &&
			    (ret = mark_gone(p, a, &cap_gone, cap_dels)))
				return ret;
	}
	if (a->identity_changes && a->private_key &&
	    !key_public_from_private(pub, a->private_key) &&
	    (p = peer_table_lookup(&dev->peer_table, pub)) &&
	    (ret = mark_gone(p, a, &cap_gone, cap_dels)))
		return ret;
	return 0;
}

/* The peers the config names (found by key, or made here and in no table yet), what each
 * gains and loses of AllowedIPs, the peers that go, the rules, and room in every table that
 * commit() fills, so that it cannot fail. */
static int prepare_peers(struct device *dev, const struct config *c,
			 const struct device_change *how, struct apply *a)
{
	size_t cap_adds = 0, cap_dels = 0, made = 0;
	int ret;

	a->mark = dev->apply_mark += 2;
	a->peers = calloc(c->n_peers ? c->n_peers : 1, sizeof(*a->peers));
	if (!a->peers)
		return -ENOMEM;
	/* Public keys are unique in a config (validated, or made so by uapi_parse_set()). */
	for (size_t i = 0; i < c->n_peers; i++) {
		const struct config_peer *cp = &c->peers[i];
		struct apply_peer *ap = &a->peers[i];

		ap->p = peer_table_lookup(&dev->peer_table, cp->public_key);
		if (!ap->p) {
			ret = peer_new(dev, cp, &ap->p);
			if (ret)
				return ret;
			ap->made = true;
			made++;
		}
		ap->p->apply_mark = a->mark;
		ret = diff_prefixes(cp, ap, a, &cap_adds, &cap_dels);
		if (ret)
			return ret;
	}
	ret = prepare_gone(dev, c, how, a, &cap_dels);
	if (ret)
		return ret;
	sort_unique(a->adds, &a->n_adds);
	sort_unique(a->dels, &a->n_dels);
	ret = prepare_rules(dev, c, a);
	if (ret)
		return ret;
	ret = peer_table_reserve(&dev->peer_table, dev->peer_table.count + made);
	if (ret)
		return ret;
	return allowedips_reserve(dev->allowedips, a->n_adds);
}

/* A route for every prefix of the AllowedIPs but a default route in the main table. */
static bool wants_route(struct device *dev, const struct ip_prefix *pfx, bool log)
{
	/* In the main table a default route through the tunnel would also capture the
	 * tunnel's own datagrams; wg-quick answers that with policy routing, which is the
	 * operator's call here (Table = a number, or their rules). */
	if (pfx->cidr == 0 && dev->route_table == RT_TABLE_MAIN) {
		if (log)
			log_notice("%s: AllowedIPs %s/0: no route added in the main table "
				   "(Table = a number puts it in another; see sealnet.conf(5))",
				   dev->ifname, pfx->addr.family == AF_INET ? "0.0.0.0" : "::");
		return false;
	}
	return true;
}

/* What came of one of apply_routes()'s changes: a route removed is forgotten even if the
 * kernel had lost it; someone else's identical route is left alone (and stays when we stop);
 * any other refusal of an add fails the apply, whose rollback removes every route recorded
 * here as added. Returns 0 or that refusal. */
static int route_op(struct device *dev, struct apply *a, const struct route_job *j)
{
	char buf[ADDR_STRLEN];

	if (!j->add) {
		if (j->ret && j->ret != -ESRCH && j->ret != -ENOENT)
			log_warn("%s: cannot remove route %s: %s", dev->ifname,
				 addr_prefix_str(&j->pfx, buf), strerror(-j->ret));
		routes_forget(dev, &j->pfx);
	} else {
		if (j->ret == -EEXIST) {
			/* Someone else's: it stays theirs, and stays when we stop. */
			log_warn("%s: route %s exists already (not added by sealnetd): left as it is",
				 dev->ifname, addr_prefix_str(&j->pfx, buf));
			return 0;
		}
		if (j->ret) {
			log_err("%s: cannot add route %s: %s", dev->ifname,
				addr_prefix_str(&j->pfx, buf), strerror(-j->ret));
			return j->ret;
		}
		routes_insert(dev, &j->pfx);
	}
	a->route_ops[a->n_route_ops++] = (struct apply_route){ j->pfx, j->add };
	return 0;
}

/* Every prefix the peers hold once the apply is done (sorted, no repeats): for a new
 * table, which takes all of them. *out freed by the caller. */
static int all_prefixes(struct device *dev, struct apply *a, const struct config *c,
			struct ip_prefix **out, size_t *n_out)
{
	struct ip_prefix *list;
	size_t n = 0, total = a->n_adds;
	struct peer *p;

	TAILQ_FOREACH(p, &dev->peers, link)
		total += p->n_allowed_ips;
	list = calloc(total ? total : 1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	TAILQ_FOREACH(p, &dev->peers, link)
		for (size_t j = 0; j < p->n_allowed_ips; j++)
			if (!find_prefix(a->dels, a->n_dels, &p->allowed_ips[j]))
				list[n++] = p->allowed_ips[j];
	for (size_t i = 0; i < a->n_adds; i++)
		list[n++] = a->adds[i].pfx;
	device_sort(list, n, sizeof(*list), ip_prefix_cmp);
	*n_out = 0;
	for (size_t i = 0; i < n; i++)
		if (!*n_out || peer_prefix_cmp(&list[*n_out - 1], &list[i]))
			list[(*n_out)++] = list[i];
	*out = list;
	return 0;
}

/* Routes follow the set of all AllowedIPs: a prefix that enters it (held by no peer before)
 * gets a route, one that leaves it (let go of, and gained by no other peer) loses its route.
 * A new table takes every route from the old one. */
static int apply_routes(struct device *dev, const struct config *c, struct apply *a)
{
	uint32_t table = route_table(dev, c);
	struct ip_prefix *all = NULL;
	struct route_job *jobs = NULL;
	size_t n_all = 0, ops, n = 0;
	char buf[ADDR_STRLEN];
	bool found;
	int ret = 0, err;

	if (table != dev->route_table) {
		if (dev->n_routes) {
			a->old_routes = malloc(dev->n_routes * sizeof(*a->old_routes));
			if (!a->old_routes)
				return -ENOMEM;
			memcpy(a->old_routes, dev->routes, dev->n_routes * sizeof(*dev->routes));
		}
		if (table && (ret = all_prefixes(dev, a, c, &all, &n_all)))
			return ret;
		jobs = calloc(n_all ? n_all : 1, sizeof(*jobs));
		if (!jobs) {
			free(all);
			return -ENOMEM;
		}
		a->n_old_routes = dev->n_routes;
		a->old_route_table = dev->route_table;
		a->table_set = true;
		routes_clear(dev);
		dev->route_table = table;
		ret = routes_reserve(dev, n_all);
		for (size_t i = 0; !ret && i < n_all; i++)
			if (wants_route(dev, &all[i], true))
				jobs[n++] = (struct route_job){ all[i], true, 0 };
		n = ret ? 0 : routes_run(dev, jobs, n, true);
		/* Every route added is recorded, after a failure too: rollback clears them. */
		for (size_t i = 0; i < n; i++) {
			if (!jobs[i].ret) {
				routes_insert(dev, &jobs[i].pfx);
			} else if (jobs[i].ret != -EEXIST) {
				log_err("%s: cannot add route %s: %s", dev->ifname,
					addr_prefix_str(&jobs[i].pfx, buf), strerror(-jobs[i].ret));
				ret = ret ? ret : jobs[i].ret;
			}
		}
		free(jobs);
		free(all);
		return ret;
	}
	if (!table)
		return 0;
	ops = a->n_adds + a->n_dels;
	a->route_ops = calloc(ops ? ops : 1, sizeof(*a->route_ops));
	jobs = calloc(ops ? ops : 1, sizeof(*jobs));
	if (!a->route_ops || !jobs) {
		ret = -ENOMEM;
		goto free_jobs;
	}
	ret = routes_reserve(dev, dev->n_routes + a->n_adds);
	if (ret)
		goto free_jobs;
	/* The removals first, then the additions, in batches: what follows an add the kernel
	 * refused in its batch still ran, and is recorded for the rollback. */
	for (size_t i = 0; i < a->n_dels; i++) {
		if (find_prefix(a->adds, a->n_adds, &a->dels[i].pfx))
			continue;
		route_pos(dev, &a->dels[i].pfx, &found);
		if (found) /* else not ours */
			jobs[n++] = (struct route_job){ a->dels[i].pfx, false, 0 };
	}
	for (size_t i = 0; i < a->n_adds; i++) {
		if (allowedips_lookup_exact(dev->allowedips, &a->adds[i].pfx))
			continue;
		route_pos(dev, &a->adds[i].pfx, &found);
		if (!found && wants_route(dev, &a->adds[i].pfx, true))
			jobs[n++] = (struct route_job){ a->adds[i].pfx, true, 0 };
	}
	n = routes_run(dev, jobs, n, true);
	for (size_t i = 0; i < n; i++)
		if ((err = route_op(dev, a, &jobs[i])) && !ret)
			ret = err;
free_jobs:
	free(jobs);
	return ret;
}

static int copy_list(const struct ip_prefix *list, size_t n, struct ip_prefix **out)
{
	*out = calloc(n ? n : 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	if (n)
		memcpy(*out, list, n * sizeof(*list));
	return 0;
}

static bool addresses_equal(const struct device *dev, const struct config *c)
{
	if (dev->n_addresses != c->n_addresses)
		return false;
	for (size_t i = 0; i < c->n_addresses; i++)
		if (!prefix_in(&c->addresses[i], dev->addresses, dev->n_addresses))
			return false;
	return true;
}

/* The fwmark, the MTU, the addresses, the link and the routes, each only when it changes:
 * each remembered in a as done as soon as it may have changed something, for rollback(). */
static int apply_system(struct device *dev, const struct config *c, struct apply *a)
{
	bool addr_removed = false;
	int ret;

	if (!a->new_socket && c->fwmark != dev->fwmark) {
		ret = udp_set_mark(&dev->udp, c->fwmark);
		if (ret) {
			log_err("%s: cannot set fwmark %u: %s", dev->ifname, c->fwmark,
				strerror(-ret));
			return ret;
		}
		a->mark_set = true;
	}
	/* Only what changed goes to the kernel: a set that moves a peer's endpoint must not
	 * undo what the admin did to the link since, nor fail because it moved away. */
	if (dev->manage_net && (dev->mtu != a->old_mtu || !dev->link_set_up)) {
		ret = netlink_set_mtu(dev->nl, dev->ifindex, dev->mtu);
		if (ret) {
			log_err("%s: cannot set MTU %u: %s", dev->ifname, dev->mtu, strerror(-ret));
			return ret;
		}
		a->mtu_set = dev->mtu != a->old_mtu;
	}
	if (dev->manage_net && !addresses_equal(dev, c)) {
		ret = copy_list(dev->addresses, dev->n_addresses, &a->old_addresses);
		if (ret)
			return ret;
		a->n_old_addresses = dev->n_addresses;
		a->addresses_set = true;
		ret = sync_addresses(dev, c->addresses, c->n_addresses, &addr_removed);
		if (ret)
			return ret;
	}
	if (dev->manage_net && !dev->link_set_up) {
		ret = netlink_set_up(dev->nl, dev->ifindex, true);
		if (ret) {
			log_err("%s: cannot bring the link up: %s", dev->ifname, strerror(-ret));
			return ret;
		}
		dev->link_set_up = true;
		a->link_set = true;
	}
	if (addr_removed && (ret = routes_reassert(dev)))
		return ret;
	return apply_routes(dev, c, a);
}

/* Routes back as they were: the table's, or each one added or removed, in reverse. */
static void rollback_routes(struct device *dev, struct apply *a)
{
	struct route_job jobs[NETLINK_BATCH_MAX];
	char buf[ADDR_STRLEN];
	size_t k, n;

	if (a->table_set) {
		routes_clear(dev);
		dev->route_table = a->old_route_table;
		if (routes_reserve(dev, a->n_old_routes)) {
			log_warn("%s: cannot restore the routes: out of memory", dev->ifname);
			return;
		}
		n = a->n_old_routes;
	} else {
		/* The room routes_reserve() made covers every route that was there before. */
		n = a->n_route_ops;
	}
	for (size_t off = 0; off < n; off += k) {
		k = n - off < NETLINK_BATCH_MAX ? n - off : NETLINK_BATCH_MAX;
		for (size_t i = 0; i < k; i++) {
			if (a->table_set) {
				jobs[i] = (struct route_job){ a->old_routes[off + i], true, 0 };
			} else {
				const struct apply_route *op = &a->route_ops[n - 1 - off - i];

				jobs[i] = (struct route_job){ op->pfx, !op->added, 0 };
			}
		}
		routes_run(dev, jobs, k, false);
		for (size_t i = 0; i < k; i++) {
			if (!jobs[i].add) {
				routes_forget(dev, &jobs[i].pfx);
			} else if (jobs[i].ret && jobs[i].ret != -EEXIST) {
				log_warn("%s: cannot restore route %s: %s", dev->ifname,
					 addr_prefix_str(&jobs[i].pfx, buf),
					 strerror(-jobs[i].ret));
			} else {
				routes_insert(dev, &jobs[i].pfx);
			}
		}
	}
}

/* Puts back what apply_system() did, in reverse, and frees what was built aside. The
 * kernel may refuse to undo too: that is logged, and the device keeps what it has. */
static void rollback(struct device *dev, struct apply *a)
{
	bool removed = false;
	int ret;

	rollback_routes(dev, a);
	if (a->link_set) {
		netlink_set_up(dev->nl, dev->ifindex, false);
		dev->link_set_up = false;
	}
	if (a->addresses_set) {
		ret = sync_addresses(dev, a->old_addresses, a->n_old_addresses, &removed);
		if (ret)
			log_warn("%s: cannot restore the addresses: %s", dev->ifname,
				 strerror(-ret));
		if (removed)
			routes_reassert(dev);
	}
	if (a->mtu_set && (ret = netlink_set_mtu(dev->nl, dev->ifindex, a->old_mtu)))
		log_warn("%s: cannot restore MTU %u: %s", dev->ifname, a->old_mtu, strerror(-ret));
	dev->mtu = a->old_mtu;
	if (a->mark_set && (ret = udp_set_mark(&dev->udp, dev->fwmark)))
		log_warn("%s: cannot restore fwmark %u: %s", dev->ifname, dev->fwmark,
			 strerror(-ret));
	if (a->ev4)
		event_free(a->ev4);
	if (a->ev6)
		event_free(a->ev6);
	if (a->new_socket)
		udp_close(&a->udp);
	allowedips_release(dev->allowedips);
}

static void apply_free(struct apply *a, size_t n_peers)
{
	for (size_t i = 0; a->peers && i < n_peers; i++) {
		if (a->peers[i].made)
			peer_free(a->peers[i].p);
		free(a->peers[i].ips);
	}
	free(a->peers);
	free(a->gone);
	free(a->adds);
	free(a->dels);
	free(a->other_masks);
	firewall_rules_free(a->rules);
	if (a->private_key)
		sodium_free(a->private_key);
	free(a->old_addresses);
	free(a->old_routes);
	free(a->route_ops);
}

/* Our identity changed: sessions were made with the old one, so nothing more goes out with
 * them, but what the peers already sent still decrypts, and a new handshake may start. */
static void commit_identity(struct device *dev, struct apply *a)
{
	struct peer *p;

	if (dev->local.private_key)
		sodium_free(dev->local.private_key);
	dev->local.private_key = a->private_key;
	a->private_key = NULL;
	if (dev->local.private_key)
		key_public_from_private(dev->local.public_key, dev->local.private_key);
	else
		memset(dev->local.public_key, 0, sizeof(dev->local.public_key));
	cookie_checker_init(&dev->cookie_checker, dev->local.public_key);
	TAILQ_FOREACH(p, &dev->peers, link) {
		noise_handshake_set_local(&p->handshake, &dev->local);
		peer_keypairs_expire(p);
	}
}

/* The trie and the peers' lists, in an order that keeps them agreeing: what is let go of
 * leaves the trie, each config peer takes its new list, and each prefix gained is inserted
 * (from the room prepare_peers() made), leaving the list of a peer it is taken from. */
static void commit_prefixes(struct device *dev, struct apply *a, size_t n_peers)
{
	for (size_t i = 0; i < a->n_dels; i++)
		allowedips_remove(dev->allowedips, &a->dels[i].pfx, a->dels[i].peer);
	for (size_t i = 0; i < n_peers; i++) {
		struct apply_peer *ap = &a->peers[i];

		free(ap->p->allowed_ips);
		ap->p->allowed_ips = ap->ips;
		ap->p->n_allowed_ips = ap->n_ips;
		ap->ips = NULL;
	}
	for (size_t i = 0; i < a->n_adds; i++) {
		const struct apply_prefix *ad = &a->adds[i];
		struct peer *from = allowedips_lookup_exact(dev->allowedips, &ad->pfx);
		long at;

		allowedips_insert(dev->allowedips, &ad->pfx, ad->peer);
		if (from && from != ad->peer && (at = peer_prefix_find(from, &ad->pfx)) >= 0)
			peer_prefix_drop(from, (size_t)at);
	}
	allowedips_release(dev->allowedips);
}

/* A get that walks the peers over several turns of the loop must not hold a peer that goes:
 * its cursor moves on to the next. */
static void cursors_skip(struct device *dev, const struct peer *p)
{
	struct device_cursor *cur;

	LIST_FOREACH(cur, &dev->cursors, link)
		if (cur->next == p)
			cur->next = TAILQ_NEXT(p, link);
}

void device_cursor_open(struct device *dev, struct device_cursor *cur)
{
	cur->next = TAILQ_FIRST(&dev->peers);
	LIST_INSERT_HEAD(&dev->cursors, cur, link);
}

void device_cursor_close(struct device_cursor *cur)
{
	LIST_REMOVE(cur, link);
	cur->next = NULL;
}

/* Puts in force what was built aside; cannot fail. */
static void commit(struct device *dev, const struct config *c, const struct device_change *how,
		   struct apply *a)
{
	struct peer *p;
	size_t k = 0;

	if (a->new_socket) {
		if (dev->udp4_ev)
			event_free(dev->udp4_ev);
		if (dev->udp6_ev)
			event_free(dev->udp6_ev);
		udp_close(&dev->udp);
		dev->udp = a->udp;
		dev->udp4_ev = a->ev4;
		dev->udp6_ev = a->ev6;
		a->ev4 = a->ev6 = NULL;
		log_info("%s: listening on UDP port %u", dev->ifname, dev->udp.port);
	}
	if (a->new_socket || c->fwmark != dev->fwmark)
		forget_sources(dev);
	a->new_socket = false;
	dev->fwmark = c->fwmark;
	/* Staged buffers are sized by the MTU: peers made from now on get the new size;
	 * existing ones keep theirs and drop larger packets while a handshake runs. */
	if (dev->mtu != a->old_mtu)
		TAILQ_FOREACH(p, &dev->peers, link)
			peer_staged_clear(p);
	if (a->rules) {
		TAILQ_FOREACH(p, &dev->peers, link) {
			if (p->apply_mark != a->mark && p->apply_mark != a->mark + 1)
				p->group_mask = a->other_masks[k];
			k++;
		}
		firewall_swap_rules(dev->firewall, a->rules);
		a->rules = NULL;
	}
	commit_prefixes(dev, a, c->n_peers);
	for (size_t i = 0; i < a->n_gone; i++) {
		p = a->gone[i];
		log_info("%s: peer %s removed", dev->ifname, p->name);
		cursors_skip(dev, p);
		TAILQ_REMOVE(&dev->peers, p, link);
		peer_table_remove(&dev->peer_table, p);
		dev->n_peers--;
		peer_free(p);
	}
	for (size_t i = 0; i < c->n_peers; i++) {
		if (!a->peers[i].made)
			continue;
		p = a->peers[i].p;
		TAILQ_INSERT_TAIL(&dev->peers, p, link);
		peer_table_insert(&dev->peer_table, p);
		dev->n_peers++;
		a->peers[i].made = false;
		log_info("%s: peer %s added", dev->ifname, p->name);
	}
	/* Before the peers' updates: a keepalive they send goes out with the new identity. */
	if (a->identity_changes)
		commit_identity(dev, a);
	for (size_t i = 0; i < c->n_peers; i++) {
		const struct config_peer *cp = &c->peers[i];

		p = a->peers[i].p;
		peer_update(p, cp);
		p->group_mask = a->peers[i].mask;
		memcpy(p->groups, cp->groups, sizeof(p->groups));
		p->n_groups = cp->n_groups;
		p->from_file |= how->from_file;
	}
}

/* Peers made with an endpoint are greeted with one initiation each, KICK_BATCH per turn of
 * the event loop, a turn every millisecond: a load of thousands never holds the loop (an
 * initiation costs about 100 us of X25519, so a batch about 1.6 ms). The
 * queue holds keys, not peers, so a peer removed meanwhile is simply not found. */
#define KICK_BATCH 16

/* One initiation, not the retries of one that has data waiting: a peer that does not
 * answer (it is down) costs one message, and traffic to it starts the handshake again as
 * usual. */
static void kick_one(struct peer *p, uint64_t now)
{
	if (!p->endpoint.sa.sa_family || !p->dev->local.private_key || p->current ||
	    p->timers.last_sent_handshake)
		return;
	datapath_send_initiation(p, false, now);
	if (!p->staged_count)
		p->timers.retransmit_handshake = 0;
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct device *dev = arg;
	uint64_t now = device_now();
	size_t end = dev->kick_done + KICK_BATCH < dev->n_kick ? dev->kick_done + KICK_BATCH
							       : dev->n_kick;
	struct timeval ms = { 0, 1000 };
	struct peer *p;

	/* A job in slices comes first: its client waits for the last slice, and the greetings
	 * (1 s of X25519 at 10,000 peers) would take every other turn of the loop from it. */
	if (dev->job_running) {
		evtimer_add(dev->kick_ev, &ms);
		return;
	}
	for (; dev->kick_done < end; dev->kick_done++)
		if ((p = peer_table_lookup(&dev->peer_table, dev->kick[dev->kick_done])))
			kick_one(p, now);
	if (dev->kick_done < dev->n_kick) {
		evtimer_add(dev->kick_ev, &ms);
		return;
	}
	dev->n_kick = dev->kick_done = 0;
}

/* Contact at once what the apply made reachable: a peer made with an endpoint gets an
 * initiation, so a restarted node is heard again within one round trip of its registry's
 * re-adding it (the peer's old session toward us died with the restart, and it would
 * otherwise wait out its 15 s new-handshake timer); a peer with a persistent keepalive gets
 * one. Up to KICK_BATCH now, the rest through kick_cb(); out of memory for the queue, the
 * rest are not greeted (traffic still starts their handshakes). */
static void kick_peers(struct device *dev, const struct config *c, const struct apply *a,
		       const bool *made)
{
	uint64_t now = device_now();
	unsigned n = 0;

	for (size_t i = 0; i < c->n_peers; i++) {
		struct peer *p = a->peers[i].p;

		if (!made[i] || !p->endpoint.sa.sa_family) {
			kick_persistent_keepalive(p, now);
			continue;
		}
		/* Behind a queue already waiting (an earlier slice of the same set), in it. */
		if (dev->n_kick == dev->kick_done && n++ < KICK_BATCH) {
			kick_one(p, now);
			continue;
		}
		if (dev->n_kick == dev->kick_cap) {
			size_t cap = dev->kick_cap ? 2 * dev->kick_cap : 256;
			uint8_t(*grown)[KEY_LEN] = realloc(dev->kick, cap * sizeof(*grown));

			if (!grown)
				break;
			dev->kick = grown;
			dev->kick_cap = cap;
		}
		memcpy(dev->kick[dev->n_kick++], peer_public_key(p), KEY_LEN);
	}
	if (dev->n_kick > dev->kick_done && !evtimer_pending(dev->kick_ev, NULL)) {
		struct timeval ms = { 0, 1000 };

		evtimer_add(dev->kick_ev, &ms);
	}
}

int device_apply_change(struct device *dev, const struct config *c, const struct device_change *how)
{
	struct apply a = { .old_mtu = dev->mtu };
	bool *made = NULL;
	int ret;

	/* Peers made here get staged slots of the new MTU; rollback() puts the old back. */
	if (c->mtu)
		dev->mtu = c->mtu;
	ret = prepare_identity(dev, c->private_key, &a);
	if (!ret)
		ret = prepare_peers(dev, c, how, &a);
	if (!ret && !(made = calloc(c->n_peers ? c->n_peers : 1, sizeof(*made))))
		ret = -ENOMEM;
	/* The port next: it is what most often fails (in use, or below 1024 once privileges
	 * are dropped). */
	if (!ret)
		ret = prepare_socket(dev, c, &a);
	if (!ret)
		ret = apply_system(dev, c, &a);
	if (ret) {
		rollback(dev, &a);
		apply_free(&a, c->n_peers);
		free(made);
		return ret;
	}
	for (size_t i = 0; i < c->n_peers; i++)
		made[i] = a.peers[i].made;
	commit(dev, c, how, &a);
	if (a.identity_changes)
		kick_rekeys(dev);
	kick_peers(dev, c, &a, made);
	apply_free(&a, c->n_peers);
	free(made);
	return 0;
}

int device_apply(struct device *dev, const struct config *c)
{
	static const struct device_change whole_file = {
		.scope = DEVICE_REPLACE_ALL,
		.from_file = true,
	};

	return device_apply_change(dev, c, &whole_file);
}

int device_to_config_peer(struct device *dev, const struct peer *p, struct config_peer *cp)
{
	memset(cp, 0, sizeof(*cp));
	cp->allowed_ips = calloc(p->n_allowed_ips ? p->n_allowed_ips : 1, sizeof(*cp->allowed_ips));
	if (!cp->allowed_ips)
		return -ENOMEM;
	if (p->n_allowed_ips)
		memcpy(cp->allowed_ips, p->allowed_ips,
		       p->n_allowed_ips * sizeof(*cp->allowed_ips));
	cp->n_allowed_ips = p->n_allowed_ips;
	memcpy(cp->public_key, peer_public_key(p), KEY_LEN);
	cp->has_public_key = true;
	memcpy(cp->preshared_key, p->handshake.preshared_key, KEY_LEN);
	cp->has_preshared_key = !cipher_is_zero(cp->preshared_key, KEY_LEN);
	cp->endpoint = p->endpoint;
	cp->persistent_keepalive = p->timers.persistent_keepalive_interval;
	memcpy(cp->groups, p->groups, sizeof(cp->groups));
	cp->n_groups = p->n_groups;
	memcpy(cp->name, p->label, sizeof(cp->name));
	return 0;
}

int device_interface_config(struct device *dev, size_t peers_room, struct config **out)
{
	struct config *c;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->peers = calloc(peers_room ? peers_room : 1, sizeof(*c->peers));
	c->addresses = calloc(dev->n_addresses ? dev->n_addresses : 1, sizeof(*c->addresses));
	if (!c->peers || !c->addresses)
		goto nomem;
	if (dev->local.private_key) {
		c->private_key = sodium_malloc(KEY_LEN);
		if (!c->private_key)
			goto nomem;
		memcpy(c->private_key, dev->local.private_key, KEY_LEN);
	}
	c->listen_port = dev->udp.port;
	c->fwmark = dev->fwmark;
	c->mtu = dev->mtu;
	/* The table the routes go to is the file's to say; a set keeps it. */
	c->table_mode = !dev->route_table                   ? CONFIG_TABLE_OFF
			: dev->route_table == RT_TABLE_MAIN ? CONFIG_TABLE_AUTO
							    : CONFIG_TABLE_ID;
	c->table_id = dev->route_table;
	if (dev->n_addresses) /* none without a config file: dev->addresses is NULL then */
		memcpy(c->addresses, dev->addresses, dev->n_addresses * sizeof(*c->addresses));
	c->n_addresses = dev->n_addresses;
	c->n_rules = firewall_rule_count(dev->firewall);
	if (c->n_rules) {
		c->rules = calloc(c->n_rules, sizeof(*c->rules));
		if (!c->rules)
			goto nomem;
		for (size_t i = 0; i < c->n_rules; i++)
			c->rules[i] = *firewall_rule(dev->firewall, i, NULL);
	}
	*out = c;
	return 0;
nomem:
	config_free(c);
	return -ENOMEM;
}

int device_to_config(struct device *dev, struct config **out)
{
	struct config *c;
	struct peer *p;
	int ret;

	ret = device_interface_config(dev, dev->n_peers, &c);
	if (ret)
		return ret;
	TAILQ_FOREACH(p, &dev->peers, link) {
		ret = device_to_config_peer(dev, p, &c->peers[c->n_peers]);
		if (ret) {
			config_free(c);
			return ret;
		}
		c->n_peers++;
	}
	*out = c;
	return 0;
}

/* The file replaces the peers it names or named before; peers only the control socket added
 * (the registry's) stay, with their sessions. */
static const struct device_change file_reload = {
	.scope = DEVICE_REPLACE_FILE,
	.from_file = true,
};

/* A change of many peers in slices (see device.h). Each slice is one device_apply_change()
 * and so all or nothing: the interface first (identity, port, MTU, addresses, rules, the
 * peer that holds the new identity's key), then the config's peers DEVICE_SLICE at a time,
 * added or updated but none removed, then the peers the scope removes, DEVICE_SLICE at a
 * time. Adding before removing keeps a prefix that moves from a peer that goes to one
 * that comes routed throughout (the newcomer takes it over, as in one apply); a prefix
 * that moves between two peers of the config moves when the slice of the later of them
 * is applied, which is the one one apply would give it to. */
enum job_stage {
	JOB_LOAD,  /* a reload's file being parsed, a turn at a time: nothing applied yet */
	JOB_WHOLE, /* small enough for one apply, atomic as ever */
	JOB_INTERFACE,
	JOB_PEERS,
	JOB_GONE,
	JOB_DONE,
};

struct device_job {
	struct device *dev;
	struct config *c;
	struct device_change how;
	uint8_t (*named)[KEY_LEN]; /* how.named, owned */
	uint8_t (*gone)[KEY_LEN];  /* keys of the peers the scope removes */
	size_t n_gone, next_peer, next_gone;
	enum job_stage stage;
	unsigned turns; /* device_job_step() calls, for the log */
	size_t slice;   /* peers in the next slice, 1 to DEVICE_SLICE */
	int ret;
	char *reload_path;          /* a reload's file, for its notices at the end */
	struct config_loader *load; /* JOB_LOAD's parse */
	unsigned load_turns;
	uint64_t longest; /* ns, of the turns so far */
	char err[512];
};

/* Whose peers the scope removes, known once every peer of the config is in the device:
 * O(peers), a hash lookup each. */
static int job_find_gone(struct device_job *j)
{
	struct device *dev = j->dev;
	unsigned mark = dev->apply_mark += 2;
	size_t n = 0, cap;
	struct peer *p;

	for (size_t i = 0; i < j->c->n_peers; i++)
		if ((p = peer_table_lookup(&dev->peer_table, j->c->peers[i].public_key)))
			p->apply_mark = mark;
	cap = j->how.scope == DEVICE_NAMED ? j->how.n_named : dev->n_peers;
	j->gone = calloc(cap ? cap : 1, sizeof(*j->gone));
	if (!j->gone)
		return -ENOMEM;
	if (j->how.scope == DEVICE_NAMED) {
		for (size_t i = 0; i < j->how.n_named; i++)
			if ((p = peer_table_lookup(&dev->peer_table, j->how.named[i])) &&
			    p->apply_mark != mark)
				memcpy(j->gone[n++], j->how.named[i], KEY_LEN);
	} else {
		TAILQ_FOREACH(p, &dev->peers, link)
			if (p->apply_mark != mark &&
			    (j->how.scope == DEVICE_REPLACE_ALL || p->from_file))
				memcpy(j->gone[n++], peer_public_key(p), KEY_LEN);
	}
	j->n_gone = n;
	return 0;
}

/* One apply of the job: its next slice. */
static int job_slice(struct device_job *j)
{
	struct config slice = *j->c;
	struct device_change how = { .scope = DEVICE_NAMED, .from_file = j->how.from_file };
	size_t n;
	int ret;

	slice.peers = NULL;
	slice.n_peers = 0;
	switch (j->stage) {
	case JOB_WHOLE:
		j->stage = JOB_DONE;
		return device_apply_change(j->dev, j->c, &j->how);
	case JOB_INTERFACE:
		j->stage = JOB_PEERS;
		return device_apply_change(j->dev, &slice, &how);
	case JOB_PEERS:
		n = j->c->n_peers - j->next_peer;
		n = n < j->slice ? n : j->slice;
		slice.peers = j->c->peers + j->next_peer;
		slice.n_peers = n;
		ret = device_apply_change(j->dev, &slice, &how);
		if (ret)
			return ret;
		j->next_peer += n;
		if (j->next_peer == j->c->n_peers) {
			j->stage = JOB_GONE;
			return job_find_gone(j);
		}
		return 0;
	case JOB_GONE:
		n = j->n_gone - j->next_gone;
		n = n < j->slice ? n : j->slice;
		how.from_file = false;
		how.named = (const uint8_t(*)[KEY_LEN])(j->gone + j->next_gone);
		how.n_named = n;
		if (n && (ret = device_apply_change(j->dev, &slice, &how)))
			return ret;
		j->next_gone += n;
		if (j->next_gone == j->n_gone)
			j->stage = JOB_DONE;
		return 0;
	case JOB_LOAD: /* device_job_step()'s */
	case JOB_DONE:
		break;
	}
	return 0;
}

static void reload_done(struct device_job *j)
{
	struct device *dev = j->dev;
	const struct config *conf = j->c;

	if ((conf->metrics_listen.sa.sa_family || dev->metrics_listen.sa.sa_family) &&
	    !addr_endpoint_equal(&conf->metrics_listen, &dev->metrics_listen)) {
		char want[ADDR_STRLEN] = "off", have[ADDR_STRLEN] = "off";

		if (conf->metrics_listen.sa.sa_family)
			addr_endpoint_str(&conf->metrics_listen, want);
		if (dev->metrics_listen.sa.sa_family)
			addr_endpoint_str(&dev->metrics_listen, have);
		log_notice("%s: reload: MetricsListen %s takes effect on restart; metrics stay %s",
			   dev->ifname, want, have);
	}
	if (conf->threads != dev->threads)
		log_notice("%s: reload: Threads takes effect on restart", dev->ifname);
	log_notice("%s: reloaded %s", dev->ifname, j->reload_path);
}

static int job_init(struct device_job *j, struct config *c, const struct device_change *how);

/* JOB_LOAD: the file parsed until budget_ns have gone by; once it is whole, the job is
 * what device_job_new() makes of it. 1 while lines are left, 0 or -errno (nothing applied:
 * the running configuration stays). */
static int job_load(struct device_job *j, uint64_t budget_ns)
{
	struct device *dev = j->dev;
	struct config *conf;
	int ret;

	j->load_turns++;
	ret = config_load_step(j->load, budget_ns, &conf, j->err, sizeof(j->err));
	if (ret == 1)
		return 1;
	config_load_free(j->load);
	j->load = NULL;
	if (ret) {
		log_err("%s: reload: %s; keeping the running configuration", dev->ifname, j->err);
		goto fail;
	}
	if (j->load_turns > 1)
		log_info("%s: reload: %s parsed over %u turns of the event loop", dev->ifname,
			 j->reload_path, j->load_turns);
	/* As `wg syncconf` with a file that has no PrivateKey: the key set since (by wg set, a
	 * PostUp) stays. */
	if (!conf->private_key && dev->local.private_key) {
		conf->private_key = sodium_malloc(KEY_LEN);
		if (!conf->private_key) {
			config_free(conf);
			snprintf(j->err, sizeof(j->err), "out of memory");
			ret = -ENOMEM;
			goto fail;
		}
		memcpy(conf->private_key, dev->local.private_key, KEY_LEN);
		log_notice("%s: reload: the file has no PrivateKey: keeping the running one",
			   dev->ifname);
	}
	ret = job_init(j, conf, &file_reload);
	if (ret) {
		snprintf(j->err, sizeof(j->err), "out of memory");
		goto fail;
	}
	return 0;
fail:
	j->stage = JOB_DONE;
	j->ret = ret;
	return ret;
}

/* The turn that began at t0 has ended: the longest so far, for the log. */
static void job_turn(struct device_job *j, uint64_t t0)
{
	uint64_t d = device_now() - t0;

	if (d > j->longest)
		j->longest = d;
}

int device_job_step(struct device_job *j, uint64_t budget_ns)
{
	uint64_t start = device_now(), t0 = start;

	if (j->stage == JOB_LOAD) {
		int ret = job_load(j, budget_ns);
		uint64_t used = device_now() - start;

		if (ret == 1 || (!ret && budget_ns && used >= budget_ns)) {
			job_turn(j, t0);
			return 1;
		}
		if (ret)
			return ret;
		budget_ns -= budget_ns ? used : 0;
		start = device_now();
	}
	j->dev->job_running = true;

	while (j->stage != JOB_DONE) {
		size_t before = j->next_peer + j->next_gone, done;
		uint64_t t = device_now();
		int ret = job_slice(j);

		/* The next slice as big as fits in a turn at the pace of this one: a peer costs
		 * about 80 us on an idle machine (its X25519, a route through the helper), many
		 * times that when the CPUs are shared and the helper waits its turn. */
		done = j->next_peer + j->next_gone - before;
		if (!ret && done && budget_ns) {
			uint64_t per = (device_now() - t) / done + 1;

			j->slice = budget_ns / per;
			j->slice = j->slice < 1              ? 1
				   : j->slice > DEVICE_SLICE ? DEVICE_SLICE
							     : j->slice;
		}

		if (ret) {
			j->stage = JOB_DONE;
			j->ret = ret;
			j->dev->job_running = false;
			if (before)
				snprintf(j->err, sizeof(j->err),
					 "failed after %zu of %zu peers (those stay applied): %s",
					 before, j->c->n_peers + j->n_gone, strerror(-ret));
			else
				snprintf(j->err, sizeof(j->err), "%s", strerror(-ret));
			if (j->reload_path) {
				char why[sizeof(j->err)];

				memcpy(why, j->err, sizeof(why));
				snprintf(j->err, sizeof(j->err), "%s: applying failed: %.200s",
					 j->reload_path, why);
				log_err("%s: reload: %s", j->dev->ifname, j->err);
			} else if (before) {
				log_err("%s: change %s", j->dev->ifname, j->err);
			}
			return ret;
		}
		if (budget_ns && device_now() - start >= budget_ns)
			break;
	}
	j->turns++;
	job_turn(j, t0);
	if (j->stage != JOB_DONE)
		return 1;
	j->dev->job_running = false;
	if (j->turns > 1 || j->next_peer || j->next_gone)
		log_info("%s: %zu peers set, %zu removed, in slices over %u turns of the event loop "
			 "(the longest %.1f ms)",
			 j->dev->ifname, j->next_peer, j->next_gone, j->turns,
			 (double)j->longest / NSEC_PER_MSEC);
	if (j->reload_path && !j->ret)
		reload_done(j);
	return 0;
}

const char *device_job_err(const struct device_job *j)
{
	return j->err;
}

void device_job_free(struct device_job *j)
{
	if (!j)
		return;
	j->dev->job_running = false;
	config_load_free(j->load);
	config_free(j->c);
	free(j->named);
	free(j->gone);
	free(j->reload_path);
	free(j);
}

/* The job of applying c as how says (takes c, also on error). 0 or -ENOMEM. */
static int job_init(struct device_job *j, struct config *c, const struct device_change *how)
{
	size_t removable = how->scope == DEVICE_NAMED ? how->n_named : j->dev->n_peers;

	j->c = c;
	j->how = *how;
	if (how->n_named) {
		j->named = malloc(how->n_named * sizeof(*j->named));
		if (!j->named)
			return -ENOMEM;
		memcpy(j->named, how->named, how->n_named * sizeof(*j->named));
		j->how.named = (const uint8_t(*)[KEY_LEN])j->named;
	}
	/* Small changes, most of all a set of a few peers, stay one apply: all or nothing. */
	j->stage = c->n_peers + removable <= DEVICE_SLICE ? JOB_WHOLE : JOB_INTERFACE;
	j->slice = DEVICE_SLICE / 4;
	return 0;
}

int device_job_new(struct device *dev, struct config *c, const struct device_change *how,
		   struct device_job **out)
{
	struct device_job *j = calloc(1, sizeof(*j));
	int ret;

	if (!j) {
		config_free(c);
		return -ENOMEM;
	}
	j->dev = dev;
	ret = job_init(j, c, how);
	if (ret) {
		device_job_free(j);
		return ret;
	}
	*out = j;
	return 0;
}

/* The file is read now (through the helper, which only the event loop's thread talks to) and
 * parsed in the job's first turns, so that a file of thousands of peers holds the loop no
 * longer than a set of them does. */
int device_reload_job(struct device *dev, const char *config_path, struct device_job **out,
		      char *err, size_t errlen)
{
	struct device_job *j = calloc(1, sizeof(*j));
	int ret;

	if (!j || !(j->reload_path = strdup(config_path))) {
		free(j);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	j->dev = dev;
	j->stage = JOB_LOAD;
	ret = config_load_start(config_path, &j->load, err, errlen);
	if (ret) {
		log_err("%s: reload: %s; keeping the running configuration", dev->ifname, err);
		device_job_free(j);
		return ret;
	}
	*out = j;
	return 0;
}

int device_start_threads(struct device *dev, unsigned threads)
{
	unsigned n = threads ? threads : workers_auto();
	int ret;

	dev->threads = threads;
	if (n > 1) {
		ret = workers_new(n, &dev->workers);
		if (ret) {
			log_err("%s: cannot start %u threads: %s", dev->ifname, n, strerror(-ret));
			return ret;
		}
	}
	log_info("%s: %u thread%s for the datapath%s", dev->ifname, n, n > 1 ? "s" : "",
		 threads ? "" : " (Threads = auto)");
	return 0;
}

void device_free(struct device *dev)
{
	struct peer *p;

	if (!dev)
		return;
	workers_free(dev->workers);
	if (dev->nl) {
		for (size_t i = 0; i < dev->n_routes; i++)
			route_del(dev, &dev->routes[i]);
		for (size_t i = 0; i < dev->n_addresses; i++)
			addr_del(dev, &dev->addresses[i]);
		netlink_close(dev->nl);
	}
	free(dev->routes);
	free(dev->addresses);
	while ((p = TAILQ_FIRST(&dev->peers))) {
		TAILQ_REMOVE(&dev->peers, p, link);
		peer_free(p);
	}
	peer_table_free(&dev->peer_table);
	if (dev->tun_ev)
		event_free(dev->tun_ev);
	if (dev->kick_ev)
		event_free(dev->kick_ev);
	free(dev->kick);
	if (dev->udp4_ev)
		event_free(dev->udp4_ev);
	if (dev->udp6_ev)
		event_free(dev->udp6_ev);
	udp_close(&dev->udp);
	if (dev->tun_fd >= 0)
		close(dev->tun_fd);
	if (dev->local.private_key)
		sodium_free(dev->local.private_key);
	cipher_wipe(&dev->cookie_checker, sizeof(dev->cookie_checker));
	allowedips_free(dev->allowedips);
	firewall_free(dev->firewall);
	ratelimiter_free(dev->ratelimiter);
	datapath_free(dev->dp);
	free(dev->index);
	free(dev);
}

void device_log_counters(struct device *dev)
{
	char line[1024], ep[ADDR_STRLEN], b64[KEY_B64_LEN];
	size_t off;
	struct peer *p;

	off = (size_t)snprintf(line, sizeof(line),
			       "rx_datagrams=%llu tx_datagrams=%llu cookie_replies_sent=%llu",
			       (unsigned long long)dev->stats.rx_datagrams,
			       (unsigned long long)dev->stats.tx_datagrams,
			       (unsigned long long)dev->stats.cookie_replies_sent);
	for (int d = 0; d < DROP_MAX && off < sizeof(line); d++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, " %s=%llu",
					device_drop_name(d),
					(unsigned long long)dev->stats.drops[d]);
	log_notice("counters: %s", line);
	for (size_t i = 0; i < firewall_rule_count(dev->firewall); i++) {
		uint64_t matches;
		const struct firewall_rule *r = firewall_rule(dev->firewall, i, &matches);

		log_notice("counters: rule %zu matches=%llu (%s)", i, (unsigned long long)matches,
			   r->text);
	}
	TAILQ_FOREACH(p, &dev->peers, link) {
		key_to_base64(b64, peer_public_key(p));
		off = (size_t)snprintf(line, sizeof(line), "peer %s endpoint=%s", b64,
				       addr_endpoint_str(&p->endpoint, ep));
		/* peer_stats.h names them. */
		for (size_t i = 0; i < peer_n_counters && off < sizeof(line); i++)
			off += (size_t)snprintf(line + off, sizeof(line) - off, " %s=%llu",
						peer_counters[i].name,
						(unsigned long long)peer_counter_value(&p->stats,
										       i));
		log_notice("counters: %s", line);
	}
}
