/* The addresses and the routes of the TUN that we added to the system (dev->addresses,
 * dev->routes): what an apply brings to what its config says, puts back when it fails
 * (routes_rollback()), and what exit removes, exactly that. An address or a route someone
 * else added stays theirs: we neither record nor remove it. */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>

#include "allowedips.h"
#include "config.h"
#include "device_priv.h"
#include "log.h"
#include "netlink.h"
#include "peer.h"

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

static int route_add(struct device *dev, const struct ip_prefix *p)
{
	return netlink_route_add_table(dev->nl, dev->ifindex, p, dev->route_table);
}

static int route_del(struct device *dev, const struct ip_prefix *p)
{
	return netlink_route_del_table(dev->nl, dev->ifindex, p, dev->route_table);
}

/* Brings the system's addresses to `want`, touching only what we added: entries already
 * present that we did not add are left alone and never removed. A device has a handful, so
 * the lists are compared pairwise. Returns 0 or -errno, and in *removed whether anything we
 * had was removed. */
int routes_sync_addresses(struct device *dev, const struct ip_prefix *want, size_t n_want,
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
int routes_reassert(struct device *dev)
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

static int route_op(struct device *dev, struct apply *a, const struct ip_prefix *pfx, bool add)
{
	char buf[ADDR_STRLEN];
	bool found;
	int ret;

	route_pos(dev, pfx, &found);
	if (!add) {
		if (!found)
			return 0; /* not ours */
		ret = route_del(dev, pfx);
		if (ret && ret != -ESRCH && ret != -ENOENT)
			log_warn("%s: cannot remove route %s: %s", dev->ifname,
				 addr_prefix_str(pfx, buf), strerror(-ret));
		routes_forget(dev, pfx);
	} else {
		if (found || !wants_route(dev, pfx, true))
			return 0;
		ret = route_add(dev, pfx);
		if (ret == -EEXIST) {
			/* Someone else's: it stays theirs, and stays when we stop. */
			log_warn("%s: route %s exists already (not added by sealnetd): left as it is",
				 dev->ifname, addr_prefix_str(pfx, buf));
			return 0;
		}
		if (ret) {
			log_err("%s: cannot add route %s: %s", dev->ifname,
				addr_prefix_str(pfx, buf), strerror(-ret));
			return ret;
		}
		routes_insert(dev, pfx);
	}
	a->route_ops[a->n_route_ops++] = (struct apply_route){ *pfx, add };
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
int routes_apply(struct device *dev, const struct config *c, struct apply *a)
{
	uint32_t table = route_table(dev, c);
	struct ip_prefix *all = NULL;
	size_t n_all = 0, ops;
	int ret;

	if (table != dev->route_table) {
		if (dev->n_routes) {
			a->old_routes = malloc(dev->n_routes * sizeof(*a->old_routes));
			if (!a->old_routes)
				return -ENOMEM;
			memcpy(a->old_routes, dev->routes, dev->n_routes * sizeof(*dev->routes));
		}
		if (table && (ret = all_prefixes(dev, a, c, &all, &n_all)))
			return ret;
		a->n_old_routes = dev->n_routes;
		a->old_route_table = dev->route_table;
		a->table_set = true;
		routes_clear(dev);
		dev->route_table = table;
		ret = routes_reserve(dev, n_all);
		for (size_t i = 0; !ret && i < n_all; i++)
			if (wants_route(dev, &all[i], true)) {
				ret = route_add(dev, &all[i]);
				if (ret == -EEXIST)
					ret = 0;
				else if (!ret)
					routes_insert(dev, &all[i]);
				else
					log_err("%s: cannot add route: %s", dev->ifname,
						strerror(-ret));
			}
		free(all);
		return ret;
	}
	if (!table)
		return 0;
	ops = a->n_adds + a->n_dels;
	a->route_ops = calloc(ops ? ops : 1, sizeof(*a->route_ops));
	if (!a->route_ops)
		return -ENOMEM;
	ret = routes_reserve(dev, dev->n_routes + a->n_adds);
	if (ret)
		return ret;
	for (size_t i = 0; i < a->n_dels; i++)
		if (!find_prefix(a->adds, a->n_adds, &a->dels[i].pfx))
			route_op(dev, a, &a->dels[i].pfx, false);
	for (size_t i = 0; i < a->n_adds; i++)
		if (!allowedips_lookup_exact(dev->allowedips, &a->adds[i].pfx) &&
		    (ret = route_op(dev, a, &a->adds[i].pfx, true)))
			return ret;
	return 0;
}

bool routes_addresses_equal(const struct device *dev, const struct config *c)
{
	if (dev->n_addresses != c->n_addresses)
		return false;
	for (size_t i = 0; i < c->n_addresses; i++)
		if (!prefix_in(&c->addresses[i], dev->addresses, dev->n_addresses))
			return false;
	return true;
}

/* Routes back as they were: the table's, or each one added or removed, in reverse. */
void routes_rollback(struct device *dev, struct apply *a)
{
	char buf[ADDR_STRLEN];
	int ret;

	if (a->table_set) {
		routes_clear(dev);
		dev->route_table = a->old_route_table;
		if (routes_reserve(dev, a->n_old_routes)) {
			log_warn("%s: cannot restore the routes: out of memory", dev->ifname);
			return;
		}
		for (size_t i = 0; i < a->n_old_routes; i++) {
			ret = route_add(dev, &a->old_routes[i]);
			if (ret && ret != -EEXIST)
				log_warn("%s: cannot restore route %s: %s", dev->ifname,
					 addr_prefix_str(&a->old_routes[i], buf), strerror(-ret));
			else
				routes_insert(dev, &a->old_routes[i]);
		}
		return;
	}
	/* The room routes_reserve() made covers every route that was there before. */
	for (size_t i = a->n_route_ops; i-- > 0;) {
		const struct apply_route *op = &a->route_ops[i];

		if (op->added) {
			route_del(dev, &op->pfx);
			routes_forget(dev, &op->pfx);
			continue;
		}
		ret = route_add(dev, &op->pfx);
		if (ret && ret != -EEXIST)
			log_warn("%s: cannot restore route %s: %s", dev->ifname,
				 addr_prefix_str(&op->pfx, buf), strerror(-ret));
		else
			routes_insert(dev, &op->pfx);
	}
}

void routes_remove_all(struct device *dev)
{
	if (dev->nl) {
		for (size_t i = 0; i < dev->n_routes; i++)
			route_del(dev, &dev->routes[i]);
		for (size_t i = 0; i < dev->n_addresses; i++)
			addr_del(dev, &dev->addresses[i]);
	}
	free(dev->routes);
	free(dev->addresses);
}
