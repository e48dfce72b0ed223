/* Bringing the daemon to the decision (reconcile.h). */
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "daemon.h"
#include "decide.h"
#include "entries.h"
#include "log.h"
#include "peers.h"
#include "reconcile.h"
#include "session.h"
#include "state.h"

/* What a decision needs from this host and the daemon, read once per decision. The keys
 * point into the daemon_view they were read from. */
struct facts {
	struct ip_addr *local;
	size_t n_local, cap_local;
	struct decide_held_addr *endpoints;
	size_t n_endpoints, cap_endpoints;
	struct decide_held_prefix *prefixes;
	size_t n_prefixes, cap_prefixes;
};

static void facts_free(struct facts *f)
{
	free(f->local);
	free(f->endpoints);
	free(f->prefixes);
}

/* Room for one more in *v (n used of *cap, size bytes each). 0 or -ENOMEM. */
static int room(void **v, size_t n, size_t *cap, size_t size)
{
	size_t c = *cap ? *cap * 2 : 16;
	void *grown;

	if (n < *cap)
		return 0;
	grown = realloc(*v, c * size);
	if (!grown)
		return -ENOMEM;
	*v = grown;
	*cap = c;
	return 0;
}

#define ROOM(f, what) room((void **)&(f)->what, (f)->n_##what, &(f)->cap_##what, sizeof(*(f)->what))

/* This host's addresses, but for those of the tunnel itself and those inside this node's own
 * claims (the gateway address sealnet-cni puts on every pod's veth): the underlay, which no
 * claim may take into the tunnel. Returns 0 or -errno. */
static int local_addrs(const struct registry *r, struct facts *f)
{
	struct ifaddrs *ifa, *i;
	struct ip_addr a;
	char unused[8];
	int ret = 0;

	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i && !ret; i = i->ifa_next) {
		if (!i->ifa_addr ||
		    (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6) ||
		    (i->ifa_name && !strcmp(i->ifa_name, r->cfg.ifname)))
			continue;
		registry_endpoint_addr((const union endpoint *)(const void *)i->ifa_addr, &a);
		if (registry_claims_cover(&r->cfg.self_claims, &a, unused, sizeof(unused)))
			continue;
		ret = ROOM(f, local);
		if (!ret)
			f->local[f->n_local++] = a;
	}
	freeifaddrs(ifa);
	return ret;
}

/* What the daemon's peers hold that no claim may take: their endpoints, and the allowed IPs of
 * those the registry does not manage. Returns 0 or -ENOMEM. */
static int held_read(struct registry *r, const struct daemon_view *v, struct facts *f)
{
	struct ip_prefix p;
	union endpoint ep;

	for (const struct ipc_peer *x = v->dev->first_peer; x; x = x->next) {
		if (x->endpoint[0] && !addr_parse_endpoint(x->endpoint, &ep)) {
			if (ROOM(f, endpoints))
				return -ENOMEM;
			registry_endpoint_addr(&ep, &f->endpoints[f->n_endpoints].a);
			f->endpoints[f->n_endpoints++].key = x->public_key;
		}
		if (peers_find(&r->peers, x->public_key))
			continue;
		for (const struct ipc_allowedip *y = x->first_allowedip; y; y = y->next) {
			if (addr_parse_prefix(y->text, &p))
				continue;
			if (ROOM(f, prefixes))
				return -ENOMEM;
			f->prefixes[f->n_prefixes].p = p;
			f->prefixes[f->n_prefixes++].key = x->public_key;
		}
	}
	return 0;
}

/* Parses the entries that changed since they were last parsed, and lists them all for
 * registry_decide(). Returns 0 or -ENOMEM. */
static int decide_entries(struct registry *r, struct decide_entry **out)
{
	struct entry *e;

	*out = calloc(r->nodes.n ? r->nodes.n : 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (size_t i = 0; i < r->nodes.n; i++) {
		e = &r->nodes.e[i];
		if (e->parsed_revision != e->mod_revision) {
			e->valid = !registry_parse_entry(r->cfg.prefix, e->key, e->value,
							 strlen(e->value), &r->cfg.cidrs, &e->node,
							 e->why, sizeof(e->why));
			e->parsed_revision = e->mod_revision;
		}
		(*out)[i] = (struct decide_entry){ e->key, e->create_revision, e->valid, e->why,
						   &e->node };
	}
	return 0;
}

/* Which entries are peers here: each entry's wanted, the refusals logged in order of
 * creation. Returns 0 or -errno. */
static int decide(struct registry *r, const struct daemon_view *v)
{
	struct decide_self self = { .published_key = r->sess.published_key,
				    .claims = &r->cfg.self_claims,
				    .cidrs = &r->cfg.cidrs,
				    .etcd_addr = r->cfg.has_etcd_addr ? &r->cfg.etcd_addr : NULL,
				    .endpoints = r->cfg.endpoint_addrs,
				    .n_endpoints = r->cfg.n_endpoints };
	struct decide_entry *entries = NULL;
	struct decision d = { 0 };
	struct facts f = { 0 };
	struct entry *e;
	int ret;

	ret = local_addrs(r, &f);
	if (!ret)
		ret = held_read(r, v, &f);
	if (!ret)
		ret = decide_entries(r, &entries);
	if (ret)
		goto out;
	memcpy(self.key, r->dmn.self_key, KEY_LEN);
	self.local = f.local;
	self.n_local = f.n_local;
	self.held_endpoints = f.endpoints;
	self.n_held_endpoints = f.n_endpoints;
	self.held_prefixes = f.prefixes;
	self.n_held_prefixes = f.n_prefixes;
	ret = registry_decide(entries, r->nodes.n, &self, &d);
	if (ret)
		goto out;
	for (size_t i = 0; i < d.n; i++) {
		e = &r->nodes.e[d.order[i]];
		e->wanted = d.v[d.order[i]].verdict == DECIDE_PEER;
		if (d.v[d.order[i]].what)
			entries_report(r, e, LOG_WARNING, d.v[d.order[i]].what);
	}
	r->stats.n_valid = d.n_valid;
	r->stats.n_refused = d.n_refused;
out:
	registry_decision_free(&d);
	free(entries);
	facts_free(&f);
	return ret;
}

/* What a decision changes in the daemon: peers to add or update (their entries), and managed
 * peers to remove (indexes into r->peers.m). */
struct changes {
	struct entry **set;
	size_t n_set;
	size_t *gone;
	size_t n_gone;
};

static void changes_free(struct changes *c)
{
	free(c->set);
	free(c->gone);
}

static int changes_find(struct registry *r, const struct daemon_view *v, struct changes *c)
{
	struct managed *m;
	struct entry *e;

	c->set = calloc(r->nodes.n ? r->nodes.n : 1, sizeof(*c->set));
	c->gone = calloc(r->peers.n ? r->peers.n : 1, sizeof(*c->gone));
	if (!c->set || !c->gone)
		return -ENOMEM;
	for (size_t i = 0; i < r->peers.n; i++)
		r->peers.m[i].wanted = false;
	for (size_t i = 0; i < r->nodes.n; i++) {
		e = &r->nodes.e[i];
		if (!e->wanted)
			continue;
		m = peers_find(&r->peers, e->node.public_key);
		if (m)
			m->wanted = true;
		if (m && m->known && registry_node_same(&m->applied, &e->node))
			continue;
		if (!m && daemon_view_has(v, e->node.public_key)) {
			entries_report(r, e, LOG_NOTICE,
				       "a peer with this key was configured by hand: left as it is");
			continue;
		}
		c->set[c->n_set++] = e;
	}
	for (size_t i = 0; i < r->peers.n; i++)
		if (!r->peers.m[i].wanted)
			c->gone[c->n_gone++] = i;
	return 0;
}

/* Change i of c into q: a peer to set, or one to remove (when the daemon still has it). */
static int add_change(struct registry *r, const struct daemon_view *v, const struct changes *c,
		      size_t i, struct registry_request *q)
{
	const struct node *n;
	const uint8_t *key;

	if (i < c->n_set) {
		n = &c->set[i]->node;
		return registry_request_peer(q, n,
					     daemon_endpoint_is_new(n, peers_find(&r->peers,
										  n->public_key)),
					     !r->dmn.groups_unsupported);
	}
	key = r->peers.m[c->gone[i - c->n_set]].public_key;
	return daemon_view_has(v, key) ? registry_request_remove(q, key) : 0;
}

/* The changes [from, to) of c (the peers to set first, then those to remove) in one set=1:
 * the daemon applies it whole or refuses it whole, and a set costs it about as much for one
 * peer as for many. Returns 0, or -errno: *refused says whether the daemon answered with it
 * (it refuses something in the set) or the exchange failed (a daemon gone, or too slow). */
static int send_chunk(struct registry *r, const struct daemon_view *v, const struct changes *c,
		      size_t from, size_t to, bool *refused)
{
	struct registry_request q = { 0 };
	const char *text;
	double t0 = now();
	int ret = 0, err = 0;

	*refused = false;
	for (size_t i = from; i < to && !ret; i++)
		ret = add_change(r, v, c, i, &q);
	text = registry_request_text(&q);
	if (ret || (!text && q.req.err)) {
		ret = ret ? ret : q.req.err;
		log_err("%s: registry: cannot build the set of %zu changes: %s", r->cfg.ifname,
			to - from, strerror(-ret));
	} else if (text) {
		ret = ipc_command(r->cfg.ifname, text, &err);
		*refused = !ret && err;
		ret = ret ? ret : err;
		if (!ret)
			log_info("%s: registry: one set to the daemon: %zu peers added or updated, "
				 "%zu removed, in %.0f ms",
				 r->cfg.ifname, q.n_peers, q.n_removed, (now() - t0) * 1000);
	}
	registry_request_free(&q);
	return ret;
}

/* Change i of c alone, after the daemon refused the set it was in. Returns 0 or -errno. */
static int send_one(struct registry *r, const struct daemon_view *v, const struct changes *c,
		    size_t i)
{
	const struct managed *m;
	const struct entry *e;
	char b64[KEY_B64_LEN];
	int ret;

	if (i < c->n_set) {
		e = c->set[i];
		ret = daemon_apply_peer(r, &e->node, peers_find(&r->peers, e->node.public_key));
		if (ret)
			log_err("%s: registry: peer %s: the daemon refused it: %s", r->cfg.ifname,
				key_text(b64, e->node.public_key), strerror(-ret));
		return ret;
	}
	m = &r->peers.m[c->gone[i - c->n_set]];
	ret = daemon_view_has(v, m->public_key) ? daemon_remove_peer(r, m->public_key) : 0;
	if (ret)
		log_err("%s: registry: peer %s: cannot remove it: %s", r->cfg.ifname,
			key_text(b64, m->public_key), strerror(-ret));
	return ret;
}

/* Sends every change of c: in sets of SET_MAX_CHANGES, renewing our lease between two when it
 * is due (a set at thousands of peers may take the daemon seconds). A set the daemon refuses
 * is sent again one change at a time, so that one peer it refuses does not hold up the others;
 * one that could not be exchanged stops here, to be tried again a tick later. done[i] says
 * which went through. Returns 0 or the last -errno. */
static int send_changes(struct registry *r, const struct daemon_view *v, const struct changes *c,
			bool *done)
{
	size_t total = c->n_set + c->n_gone, to;
	bool refused;
	int ret, err, failed = 0;

	for (size_t from = 0; from < total; from = to) {
		to = from + SET_MAX_CHANGES < total ? from + SET_MAX_CHANGES : total;
		session_keep_lease(r);
		ret = send_chunk(r, v, c, from, to, &refused);
		if (ret && !refused) {
			log_err("%s: registry: cannot send the set of %zu changes: %s; trying "
				"again",
				r->cfg.ifname, to - from, strerror(-ret));
			r->stats.apply_errors++;
			return ret;
		}
		if (ret && to - from > 1)
			log_warn("%s: registry: the daemon refused the set of %zu changes (%s): "
				 "sending them one by one",
				 r->cfg.ifname, to - from, strerror(-ret));
		for (size_t i = from; i < to; i++) {
			err = ret ? send_one(r, v, c, i) : 0;
			done[i] = !err;
			if (err) {
				r->stats.apply_errors++;
				failed = err;
			}
		}
	}
	return failed;
}

/* The daemon took e's peer. */
static int peer_set(struct registry *r, const struct entry *e)
{
	struct managed *m = peers_find(&r->peers, e->node.public_key);
	char b64[KEY_B64_LEN], ov[ADDR_STRLEN];
	bool added = !m;
	int ret;

	r->stats.applies++;
	log_info("%s: registry: peer %s (%s) %s", r->cfg.ifname, key_text(b64, e->node.public_key),
		 addr_prefix_str(&e->node.overlay, ov), added ? "added" : "updated");
	if (added) {
		ret = peers_add(&r->peers, e->node.public_key, &m);
		if (ret)
			return ret;
	}
	m->applied = e->node;
	m->known = true;
	return 0;
}

/* Takes what went through (done) into r->peers, and saves the state when anything did.
 * Returns 0 or -ENOMEM. */
static int commit(struct registry *r, const struct daemon_view *v, const struct changes *c,
		  const bool *done)
{
	char b64[KEY_B64_LEN];
	bool changed = false;
	int ret = 0;

	for (size_t i = 0; i < c->n_set; i++) {
		if (!done[i])
			continue;
		if (peer_set(r, c->set[i]))
			ret = -ENOMEM;
		changed = true;
	}
	/* From the last: forgetting one moves the last peer into its place. */
	for (size_t k = c->n_gone; k-- > 0;) {
		if (!done[c->n_set + k])
			continue;
		if (daemon_view_has(v, r->peers.m[c->gone[k]].public_key)) {
			r->stats.applies++;
			log_info("%s: registry: peer %s removed (its entry is gone or refused)",
				 r->cfg.ifname, key_text(b64, r->peers.m[c->gone[k]].public_key));
		}
		peers_remove(&r->peers, c->gone[k]);
		changed = true;
	}
	if (changed)
		state_save(r);
	return ret;
}

/* Decides which entries are peers here, then brings the daemon's managed peers to them. */
int reconcile_run(struct registry *r)
{
	struct changes c = { 0 };
	struct daemon_view v;
	bool *done = NULL;
	int ret, failed;

	failed = access_reconcile(r);
	ret = daemon_view_read(r->cfg.ifname, &v);
	if (ret)
		return ret;
	ret = decide(r, &v);
	if (!ret)
		ret = changes_find(r, &v, &c);
	if (!ret && !(done = calloc(c.n_set + c.n_gone + 1, sizeof(*done))))
		ret = -ENOMEM;
	if (ret)
		goto out;
	ret = send_changes(r, &v, &c, done);
	if (ret)
		failed = ret;
	ret = commit(r, &v, &c, done);
	if (!ret)
		ret = failed;
out:
	free(done);
	changes_free(&c);
	daemon_view_free(&v);
	return ret;
}
