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

/* Room for the largest IP packet (or GRO train of datagrams) the kernel can hand us, with the
 * data header or vnet header in front and padding and tag behind. */
#define DEVICE_BUF_SIZE (sizeof(struct message_data) + 65535 + MESSAGE_PADDING_MULTIPLE + \
			 NOISE_AUTHTAG_LEN)
/* Two super-packets' worth of encrypted datagrams. */
#define DEVICE_BATCH_SIZE (2 * DEVICE_BUF_SIZE + 4096)

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

struct peer *device_peer_by_key(struct device *dev, const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	struct peer *p;

	TAILQ_FOREACH(p, &dev->peers, link)
		if (cipher_equal(peer_public_key(p), pub, NOISE_PUBLIC_KEY_LEN))
			return p;
	return NULL;
}

static void tun_cb(evutil_socket_t fd, short what, void *arg)
{
	datapath_tun_readable(arg);
}

static void udp_cb(evutil_socket_t fd, short what, void *arg)
{
	datapath_udp_readable(arg, fd);
}

int device_new(struct event_base *base, const char *ifname, unsigned offload,
	       struct device **out)
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
	dev->buf_size = DEVICE_BUF_SIZE;
	dev->batch_cap = DEVICE_BATCH_SIZE;
	dev->offload = offload;
	dev->rx_buf = malloc(dev->buf_size);
	dev->tx_buf = malloc(dev->buf_size);
	dev->seg_buf = malloc(dev->buf_size);
	dev->batch = malloc(dev->batch_cap);
	dev->gro.buf = malloc(OFFLOAD_VNET_HDR_LEN + OFFLOAD_MAX_PACKET);
	dev->index = malloc(sizeof(*dev->index));
	if (!dev->rx_buf || !dev->tx_buf || !dev->seg_buf || !dev->batch || !dev->gro.buf ||
	    !dev->index)
		goto err;
	index_init(dev->index);
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
				"remove it (ip link del %s) or choose another name", ifname, ifname);
		else if (ret == -EBUSY)
			log_err("%s: the TUN device is held by another process (another sealnetd, "
				"wireguard-go?)", ifname);
		else
			log_err("%s: cannot create TUN device: %s", ifname, strerror(-ret));
		goto err;
	}
	dev->tun_fd = ret;
	dev->tun_features = features;
	dev->gro.udp = (features & TUN_USO) != 0;
	log_info("%s: TUN offloads: %s%s%s", ifname, features & TUN_VNET_HDR ? "vnet-hdr" : "none",
		 features & TUN_TSO ? " tso" : "", features & TUN_USO ? " uso" : "");
	dev->ifindex = (int)if_nametoindex(dev->ifname);
	ret = netlink_open(&dev->nl);
	if (ret) {
		log_err("%s: cannot open netlink: %s", dev->ifname, strerror(-ret));
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
		if (p->previous && !p->current && p->endpoint.sa.sa_family && dev->local.private_key)
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

static bool prefix_equal(const struct ip_prefix *a, const struct ip_prefix *b)
{
	return a->addr.family == b->addr.family && a->cidr == b->cidr &&
	       !memcmp(a->addr.bytes, b->addr.bytes, addr_len(a->addr.family));
}

static bool prefix_in(const struct ip_prefix *p, const struct ip_prefix *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (prefix_equal(p, &set[i]))
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

static int route_add(struct device *dev, const struct ip_prefix *p)
{
	return netlink_route_add_table(dev->nl, dev->ifindex, p, dev->route_table);
}

static int route_del(struct device *dev, const struct ip_prefix *p)
{
	return netlink_route_del_table(dev->nl, dev->ifindex, p, dev->route_table);
}

/* Brings the system's list (addresses or routes) to `want`, touching only what we added:
 * entries already present that we did not add are left alone and never removed. Returns
 * 0 or -errno, and in *changed whether anything we had was removed. */
static int sync_list(struct device *dev, struct ip_prefix **have, size_t *n_have,
		     const struct ip_prefix *want, size_t n_want, const char *what,
		     int (*add)(struct device *, const struct ip_prefix *),
		     int (*del)(struct device *, const struct ip_prefix *), bool *removed)
{
	struct ip_prefix *list;
	size_t n = 0;
	char buf[ADDR_STRLEN];
	int ret;

	list = calloc(n_want ? n_want : 1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < *n_have; i++) {
		if (prefix_in(&(*have)[i], want, n_want)) {
			list[n++] = (*have)[i];
			continue;
		}
		*removed = true;
		ret = del(dev, &(*have)[i]);
		if (ret && ret != -ENOENT && ret != -ESRCH && ret != -EADDRNOTAVAIL)
			log_warn("%s: cannot remove %s %s: %s", dev->ifname, what,
				 addr_prefix_str(&(*have)[i], buf), strerror(-ret));
	}
	for (size_t i = 0; i < n_want; i++) {
		if (prefix_in(&want[i], list, n))
			continue;
		ret = add(dev, &want[i]);
		if (ret == -EEXIST) {
			/* Someone else's: it stays theirs, and stays when we stop. */
			log_warn("%s: %s %s exists already (not added by sealnetd): left as it is",
				 dev->ifname, what, addr_prefix_str(&want[i], buf));
			continue;
		}
		if (ret) {
			log_err("%s: cannot add %s %s: %s", dev->ifname, what,
				addr_prefix_str(&want[i], buf), strerror(-ret));
			free(*have);
			*have = list;
			*n_have = n;
			return ret;
		}
		list[n++] = want[i];
	}
	free(*have);
	*have = list;
	*n_have = n;
	return 0;
}

/* As WireGuard does, a peer with a persistent keepalive is contacted at once rather than
 * at the first packet, so a node behind NAT becomes reachable without sending first. */
static void kick_persistent_keepalives(struct device *dev)
{
	uint64_t now = device_now();
	struct peer *p;

	TAILQ_FOREACH(p, &dev->peers, link)
		if (p->timers.persistent_keepalive_interval && p->endpoint.sa.sa_family &&
		    !p->current)
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
	char buf[ADDR_STRLEN];
	int ret;

	for (size_t i = 0; i < dev->n_routes; i++) {
		ret = route_del(dev, &dev->routes[i]);
		if (ret && ret != -ESRCH && ret != -ENOENT)
			log_warn("%s: cannot remove route %s: %s", dev->ifname,
				 addr_prefix_str(&dev->routes[i], buf), strerror(-ret));
	}
	dev->n_routes = 0;
}

/* Removing the last IPv4 address of a link makes the kernel flush every route through it,
 * ours too: after an address change each of ours is added again where it went missing.
 * Returns 0 or the first error (each is logged). */
static int routes_reassert(struct device *dev)
{
	char buf[ADDR_STRLEN];
	int ret, first = 0;

	for (size_t i = 0; i < dev->n_routes; i++) {
		ret = route_add(dev, &dev->routes[i]);
		if (ret && ret != -EEXIST) {
			log_warn("%s: cannot restore route %s: %s", dev->ifname,
				 addr_prefix_str(&dev->routes[i], buf), strerror(-ret));
			first = first ? first : ret;
		}
	}
	return first;
}

static int apply_routes(struct device *dev, const struct config *c)
{
	uint32_t table = route_table(dev, c);
	struct ip_prefix *want;
	size_t n = 0, total = 0;
	bool removed = false;
	int ret;

	if (table != dev->route_table) {
		routes_clear(dev);
		dev->route_table = table;
	}
	if (!table)
		return 0;
	for (size_t i = 0; i < c->n_peers; i++)
		total += c->peers[i].n_allowed_ips;
	want = calloc(total ? total : 1, sizeof(*want));
	if (!want)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_peers; i++) {
		for (size_t j = 0; j < c->peers[i].n_allowed_ips; j++) {
			const struct ip_prefix *pfx = &c->peers[i].allowed_ips[j];

			/* In the main table a default route through the tunnel would also capture
			 * the tunnel's own datagrams; wg-quick answers that with policy routing,
			 * which is the operator's call here (Table = a number, or their rules). */
			if (pfx->cidr == 0 && table == RT_TABLE_MAIN) {
				log_notice("%s: AllowedIPs %s/0: no route added in the main table "
					   "(Table = a number puts it in another; see sealnet.conf(5))",
					   dev->ifname, pfx->addr.family == AF_INET ? "0.0.0.0" : "::");
				continue;
			}
			if (!prefix_in(pfx, want, n))
				want[n++] = *pfx;
		}
	}
	ret = sync_list(dev, &dev->routes, &dev->n_routes, want, n, "route", route_add, route_del,
			&removed);
	free(want);
	return ret;
}

/* What device_apply() builds aside before it changes anything, and what it did to the system
 * that it must undo when a later step fails: a set, a reload or the startup config takes
 * effect whole or not at all. Everything that can fail happens before commit(), which
 * cannot; what the system was asked to change is put back by rollback(). */
struct apply_peer {
	struct peer *p; /* the device's, or made here */
	bool made;
	uint64_t mask; /* its groups' bits in the new rule set's table */
};

struct apply {
	struct firewall_rules *rules;
	struct apply_peer *peers; /* one per config peer */
	struct allowedips *allowedips;
	bool identity_changes;
	uint8_t *private_key; /* the new identity, clamped; NULL for none */
	bool new_socket;
	struct udp udp;
	struct event *ev4, *ev6;
	unsigned old_mtu;
	/* done to the system so far */
	bool mark_set, mtu_set, addresses_set, link_set, routes_set;
	struct ip_prefix *old_addresses, *old_routes;
	size_t n_old_addresses, n_old_routes;
	uint32_t old_route_table;
};

/* Compared clamped: the key `wg showconf` shows is the file's key clamped, and setting it
 * back must not reset every session. */
static int prepare_identity(struct device *dev, const uint8_t *key, struct apply *a)
{
	if (!key) {
		a->identity_changes = dev->local.private_key != NULL;
		return 0;
	}
	a->private_key = sodium_malloc(NOISE_PUBLIC_KEY_LEN);
	if (!a->private_key)
		return -ENOMEM;
	memcpy(a->private_key, key, NOISE_PUBLIC_KEY_LEN);
	key_clamp_private(a->private_key);
	a->identity_changes =
		!dev->local.private_key ||
		!cipher_equal(dev->local.private_key, a->private_key, NOISE_PUBLIC_KEY_LEN);
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

/* The new rule set with every peer's mask read from its table, the peers the config adds
 * (in no table yet) and a new AllowedIPs trie. */
static int prepare_peers(struct device *dev, const struct config *c, struct apply *a)
{
	int ret;

	ret = firewall_rules_new(c->rules, c->n_rules, &a->rules);
	if (ret) {
		log_err("%s: cannot apply the access rules: %s", dev->ifname,
			ret == -ENOSPC ? "more than 64 group names" : strerror(-ret));
		return ret;
	}
	a->peers = calloc(c->n_peers ? c->n_peers : 1, sizeof(*a->peers));
	if (!a->peers)
		return -ENOMEM;
	ret = allowedips_new(&a->allowedips);
	if (ret)
		return ret;
	/* Public keys are unique in a config (validated, or made so by uapi_parse_set()). */
	for (size_t i = 0; i < c->n_peers; i++) {
		const struct config_peer *cp = &c->peers[i];
		struct apply_peer *ap = &a->peers[i];

		for (unsigned j = 0; j < cp->n_groups; j++) {
			int id = firewall_rules_group_id(a->rules, cp->groups[j]);

			if (id < 0) {
				log_err("%s: group %s: more than %d group names", dev->ifname,
					cp->groups[j], FIREWALL_MAX_GROUPS);
				return id;
			}
			ap->mask |= 1ULL << id;
		}
		ap->p = device_peer_by_key(dev, cp->public_key);
		if (!ap->p) {
			ret = peer_new(dev, cp, &ap->p);
			if (ret)
				return ret;
			ap->made = true;
		}
		for (size_t j = 0; j < cp->n_allowed_ips; j++) {
			ret = allowedips_insert(a->allowedips, &cp->allowed_ips[j], ap->p);
			if (ret)
				return ret;
		}
	}
	return 0;
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

/* The fwmark, the MTU, the addresses, the link and the routes: each remembered in a as done
 * as soon as it may have changed something, for rollback(). */
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
	if (dev->manage_net) {
		ret = copy_list(dev->addresses, dev->n_addresses, &a->old_addresses);
		if (ret)
			return ret;
		a->n_old_addresses = dev->n_addresses;
		a->addresses_set = true;
		ret = sync_list(dev, &dev->addresses, &dev->n_addresses, c->addresses,
				c->n_addresses, "address", addr_add, addr_del, &addr_removed);
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
	ret = copy_list(dev->routes, dev->n_routes, &a->old_routes);
	if (ret)
		return ret;
	a->n_old_routes = dev->n_routes;
	a->old_route_table = dev->route_table;
	a->routes_set = true;
	if (addr_removed && (ret = routes_reassert(dev)))
		return ret;
	return apply_routes(dev, c);
}

/* Puts back what apply_system() did, in reverse, and frees what was built aside. The
 * kernel may refuse to undo too: that is logged, and the device keeps what it has. */
static void rollback(struct device *dev, struct apply *a)
{
	bool removed = false;
	int ret;

	if (a->routes_set) {
		if (dev->route_table != a->old_route_table) {
			routes_clear(dev);
			dev->route_table = a->old_route_table;
		}
		if (dev->route_table &&
		    (ret = sync_list(dev, &dev->routes, &dev->n_routes, a->old_routes,
				     a->n_old_routes, "route", route_add, route_del, &removed)))
			log_warn("%s: cannot restore the routes: %s", dev->ifname, strerror(-ret));
	}
	if (a->link_set) {
		netlink_set_up(dev->nl, dev->ifindex, false);
		dev->link_set_up = false;
	}
	if (a->addresses_set) {
		removed = false;
		ret = sync_list(dev, &dev->addresses, &dev->n_addresses, a->old_addresses,
				a->n_old_addresses, "address", addr_add, addr_del, &removed);
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
}

static void apply_free(struct apply *a, size_t n_peers)
{
	for (size_t i = 0; a->peers && i < n_peers; i++)
		if (a->peers[i].made)
			peer_free(a->peers[i].p);
	free(a->peers);
	allowedips_free(a->allowedips);
	firewall_rules_free(a->rules);
	if (a->private_key)
		sodium_free(a->private_key);
	free(a->old_addresses);
	free(a->old_routes);
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

/* Puts in force what was built aside; cannot fail. */
static void commit(struct device *dev, const struct config *c, struct apply *a)
{
	struct allowedips *old_trie = dev->allowedips;
	struct peer *p, *tmp;

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
	firewall_swap_rules(dev->firewall, a->rules);
	a->rules = NULL;
	dev->allowedips = a->allowedips;
	a->allowedips = NULL;
	allowedips_free(old_trie);
	/* Peers the config no longer names go, those it adds join at the end. */
	for (p = TAILQ_FIRST(&dev->peers); p; p = tmp) {
		bool found = false;

		tmp = TAILQ_NEXT(p, link);
		for (size_t i = 0; i < c->n_peers && !found; i++)
			found = a->peers[i].p == p;
		if (found)
			continue;
		log_info("%s: peer %s removed", dev->ifname, p->name);
		TAILQ_REMOVE(&dev->peers, p, link);
		peer_free(p);
	}
	for (size_t i = 0; i < c->n_peers; i++) {
		if (!a->peers[i].made)
			continue;
		TAILQ_INSERT_TAIL(&dev->peers, a->peers[i].p, link);
		a->peers[i].made = false;
		log_info("%s: peer %s added", dev->ifname, a->peers[i].p->name);
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
	}
}

int device_apply(struct device *dev, const struct config *c)
{
	struct apply a = { .old_mtu = dev->mtu };
	int ret;

	/* Peers made here get staged slots of the new MTU; rollback() puts the old back. */
	if (c->mtu)
		dev->mtu = c->mtu;
	ret = prepare_identity(dev, c->private_key, &a);
	if (!ret)
		ret = prepare_peers(dev, c, &a);
	/* The port next: it is what most often fails (in use, or below 1024 once privileges
	 * are dropped). */
	if (!ret)
		ret = prepare_socket(dev, c, &a);
	if (!ret)
		ret = apply_system(dev, c, &a);
	if (ret) {
		rollback(dev, &a);
		apply_free(&a, c->n_peers);
		return ret;
	}
	commit(dev, c, &a);
	apply_free(&a, c->n_peers);
	kick_persistent_keepalives(dev);
	if (a.identity_changes)
		kick_rekeys(dev);
	return 0;
}

static int add_allowed_ip(void *ctx, const struct ip_prefix *p)
{
	struct config_peer *cp = ctx;

	cp->allowed_ips[cp->n_allowed_ips++] = *p;
	return 0;
}

static int count_allowed_ip(void *ctx, const struct ip_prefix *p)
{
	(*(size_t *)ctx)++;
	return 0;
}

int device_to_config(struct device *dev, struct config **out)
{
	struct config *c;
	struct peer *p;
	size_t n = 0;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	TAILQ_FOREACH(p, &dev->peers, link)
		n++;
	c->peers = calloc(n ? n : 1, sizeof(*c->peers));
	c->addresses = calloc(dev->n_addresses ? dev->n_addresses : 1, sizeof(*c->addresses));
	if (!c->peers || !c->addresses)
		goto nomem;
	if (dev->local.private_key) {
		c->private_key = sodium_malloc(NOISE_PUBLIC_KEY_LEN);
		if (!c->private_key)
			goto nomem;
		memcpy(c->private_key, dev->local.private_key, NOISE_PUBLIC_KEY_LEN);
	}
	c->listen_port = dev->udp.port;
	c->fwmark = dev->fwmark;
	c->mtu = dev->mtu;
	/* The table the routes go to is the file's to say; a set keeps it. */
	c->table_mode = !dev->route_table ? CONFIG_TABLE_OFF
		       : dev->route_table == RT_TABLE_MAIN ? CONFIG_TABLE_AUTO : CONFIG_TABLE_ID;
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
	TAILQ_FOREACH(p, &dev->peers, link) {
		struct config_peer *cp = &c->peers[c->n_peers];
		size_t count = 0;

		allowedips_walk_by_peer(dev->allowedips, p, count_allowed_ip, &count);
		cp->allowed_ips = calloc(count ? count : 1, sizeof(*cp->allowed_ips));
		if (!cp->allowed_ips)
			goto nomem;
		c->n_peers++;
		allowedips_walk_by_peer(dev->allowedips, p, add_allowed_ip, cp);
		memcpy(cp->public_key, peer_public_key(p), NOISE_PUBLIC_KEY_LEN);
		cp->has_public_key = true;
		memcpy(cp->preshared_key, p->handshake.preshared_key, NOISE_SYMMETRIC_KEY_LEN);
		cp->has_preshared_key = !cipher_is_zero(cp->preshared_key, NOISE_SYMMETRIC_KEY_LEN);
		cp->endpoint = p->endpoint;
		cp->persistent_keepalive = p->timers.persistent_keepalive_interval;
		memcpy(cp->groups, p->groups, sizeof(cp->groups));
		cp->n_groups = p->n_groups;
		memcpy(cp->name, p->label, sizeof(cp->name));
	}
	*out = c;
	return 0;
nomem:
	config_free(c);
	return -ENOMEM;
}

int device_reload(struct device *dev, const char *config_path, char *err, size_t errlen)
{
	struct config *conf;
	int ret;

	ret = config_load(config_path, &conf, err, errlen);
	if (ret) {
		log_err("%s: reload: %s; keeping the running configuration", dev->ifname, err);
		return ret;
	}
	/* As `wg syncconf` with a file that has no PrivateKey: the key set since (by wg set, a
	 * PostUp) stays. */
	if (!conf->private_key && dev->local.private_key) {
		conf->private_key = sodium_malloc(NOISE_PUBLIC_KEY_LEN);
		if (!conf->private_key) {
			config_free(conf);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		memcpy(conf->private_key, dev->local.private_key, NOISE_PUBLIC_KEY_LEN);
		log_notice("%s: reload: the file has no PrivateKey: keeping the running one",
			   dev->ifname);
	}
	ret = device_apply(dev, conf);
	if (ret) {
		config_free(conf);
		snprintf(err, errlen, "%s: applying failed: %s", config_path, strerror(-ret));
		log_err("%s: reload: %s", dev->ifname, err);
		return ret;
	}
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
	config_free(conf);
	log_notice("%s: reloaded %s", dev->ifname, config_path);
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
	cipher_wipe(dev->tx, sizeof(dev->tx));
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
	if (dev->tun_ev)
		event_free(dev->tun_ev);
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
	if (dev->rx_buf)
		cipher_wipe(dev->rx_buf, dev->buf_size);
	if (dev->tx_buf)
		cipher_wipe(dev->tx_buf, dev->buf_size);
	if (dev->batch)
		cipher_wipe(dev->batch, dev->batch_cap);
	if (dev->seg_buf)
		cipher_wipe(dev->seg_buf, dev->buf_size);
	if (dev->gro.buf)
		cipher_wipe(dev->gro.buf, OFFLOAD_VNET_HDR_LEN + OFFLOAD_MAX_PACKET);
	free(dev->rx_buf);
	free(dev->tx_buf);
	free(dev->seg_buf);
	free(dev->batch);
	free(dev->gro.buf);
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
		log_notice("counters: peer %s endpoint=%s rx_bytes=%llu tx_bytes=%llu "
			   "rx_packets=%llu tx_packets=%llu handshakes=%llu initiations=%llu "
			   "rotations=%llu",
			   b64, addr_endpoint_str(&p->endpoint, ep),
			   (unsigned long long)p->stats.rx_bytes,
			   (unsigned long long)p->stats.tx_bytes,
			   (unsigned long long)p->stats.rx_packets,
			   (unsigned long long)p->stats.tx_packets,
			   (unsigned long long)p->stats.handshakes_completed,
			   (unsigned long long)p->stats.handshakes_initiated,
			   (unsigned long long)p->stats.keypair_rotations);
	}
}
