/* The apply: the device made what a config says, whole or not at all
 * (device_apply_change()), and the device's state as a config (device_to_config()). What it
 * builds aside, what it does to the system and how both are undone: struct apply
 * (device_priv.h). The addresses and routes it changes are routes.c's. */
#include <errno.h>
#include <event2/event.h>
#include <linux/rtnetlink.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "allowedips.h"
#include "cipher.h"
#include "config.h"
#include "datapath.h"
#include "device_priv.h"
#include "firewall.h"
#include "key.h"
#include "log.h"
#include "netlink.h"
#include "peer.h"

static void udp_cb(evutil_socket_t fd, short what, void *arg)
{
	datapath_udp_readable(arg, fd);
}

/* New sockets or a new mark change which of our addresses can reach a peer: as WireGuard
 * does then, every peer's remembered source address is forgotten. */
static void forget_sources(struct device *dev)
{
	struct peer *p;

	TAILQ_FOREACH(p, &dev->peers, link)
		memset(&p->endpoint_src, 0, sizeof(p->endpoint_src));
}

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

static int copy_list(const struct ip_prefix *list, size_t n, struct ip_prefix **out)
{
	*out = calloc(n ? n : 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	if (n)
		memcpy(*out, list, n * sizeof(*list));
	return 0;
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
	if (dev->manage_net && !routes_addresses_equal(dev, c)) {
		ret = copy_list(dev->addresses, dev->n_addresses, &a->old_addresses);
		if (ret)
			return ret;
		a->n_old_addresses = dev->n_addresses;
		a->addresses_set = true;
		ret = routes_sync_addresses(dev, c->addresses, c->n_addresses, &addr_removed);
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
	return routes_apply(dev, c, a);
}

/* Puts back what apply_system() did, in reverse, and frees what was built aside. The
 * kernel may refuse to undo too: that is logged, and the device keeps what it has. */
static void rollback(struct device *dev, struct apply *a)
{
	bool removed = false;
	int ret;

	routes_rollback(dev, a);
	if (a->link_set) {
		netlink_set_up(dev->nl, dev->ifindex, false);
		dev->link_set_up = false;
	}
	if (a->addresses_set) {
		ret = routes_sync_addresses(dev, a->old_addresses, a->n_old_addresses, &removed);
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
		device_cursors_skip(dev, p);
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
		device_kick_rekeys(dev);
	device_kick_peers(dev, c, &a, made);
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
