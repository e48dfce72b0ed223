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

/* jobs[0..k) = the next k (at most NETLINK_BATCH_MAX) of list[off..n), each to add or
 * remove. Returns k. */
static size_t fill_jobs(struct route_job *jobs, const struct ip_prefix *list, size_t n, size_t off,
			bool add)
{
	size_t k = n - off < NETLINK_BATCH_MAX ? n - off : NETLINK_BATCH_MAX;

	for (size_t i = 0; i < k; i++)
		jobs[i] = (struct route_job){ list[off + i], add, 0 };
	return k;
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
		k = fill_jobs(jobs, dev->routes, dev->n_routes, off, false);
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
int routes_reassert(struct device *dev)
{
	struct route_job jobs[NETLINK_BATCH_MAX];
	char buf[ADDR_STRLEN];
	int first = 0;
	size_t k;

	for (size_t off = 0; off < dev->n_routes; off += k) {
		k = fill_jobs(jobs, dev->routes, dev->n_routes, off, true);
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

/* What came of one of routes_apply()'s changes: a route removed is forgotten even if the
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

/* Table = changed: every route leaves the old table and the new one takes all of them
 * (none for Table = off), the old list kept in a for the rollback. */
static int move_table(struct device *dev, const struct config *c, struct apply *a, uint32_t table)
{
	struct ip_prefix *all = NULL;
	struct route_job *jobs;
	size_t n_all = 0, n = 0;
	char buf[ADDR_STRLEN];
	int ret = 0;

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

/* Routes follow the set of all AllowedIPs: a prefix that enters it (held by no peer before)
 * gets a route, one that leaves it (let go of, and gained by no other peer) loses its route.
 * A new table takes every route from the old one. */
int routes_apply(struct device *dev, const struct config *c, struct apply *a)
{
	uint32_t table = route_table(dev, c);
	struct route_job *jobs = NULL;
	size_t ops, n = 0;
	bool found;
	int ret = 0, err;

	if (table != dev->route_table)
		return move_table(dev, c, a, table);
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

void routes_remove_all(struct device *dev)
{
	struct route_job jobs[NETLINK_BATCH_MAX];
	size_t k;

	/* In batches, as they went in; at exit what the kernel says of each changes nothing. */
	if (dev->nl) {
		for (size_t off = 0; off < dev->n_routes; off += k) {
			k = fill_jobs(jobs, dev->routes, dev->n_routes, off, false);
			routes_run(dev, jobs, k, false);
		}
		for (size_t i = 0; i < dev->n_addresses; i++)
			addr_del(dev, &dev->addresses[i]);
	}
	free(dev->routes);
	free(dev->addresses);
}
