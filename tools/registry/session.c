/* The session with etcd (session.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../etcd.h"
#include "entries.h"
#include "log.h"
#include "own.h"
#include "session.h"

/* What a range reads: the nodes' entries and the rules keys, each in its list; other keys
 * under the prefix are not ours to read. */
struct range {
	const struct registry *r;
	struct entry_list nodes, rules;
};

static bool under(const char *key, const char *prefix)
{
	return !strncmp(key, prefix, strlen(prefix));
}

static int range_cb(void *ctx, const struct etcd_kv *kv)
{
	struct range *g = ctx;

	if (under(kv->key, g->r->cfg.prefix))
		return entries_store(&g->nodes, kv);
	if (under(kv->key, g->r->cfg.rules_prefix))
		return entries_store(&g->rules, kv);
	return 0;
}

static void watch_cb(void *ctx, bool deleted, const struct etcd_kv *kv)
{
	struct registry *r = ctx;
	bool rule = under(kv->key, r->cfg.rules_prefix);
	struct entry_list *l = rule ? &r->rule_keys : &r->nodes;
	struct entry *e;
	char esc[4 * 512];

	if (!rule && !under(kv->key, r->cfg.prefix))
		return;
	/* The first change of a burst waits for the others (BATCH_WINDOW_SEC). */
	if (!r->dirty && r->next_reconcile < now() + BATCH_WINDOW_SEC)
		r->next_reconcile = now() + BATCH_WINDOW_SEC;
	r->dirty = true;
	if (deleted) {
		e = entries_find(l, kv->key);
		if (e)
			entries_drop(l, e);
	} else if (entries_store(l, kv)) {
		/* Our picture of etcd is now wrong: read it whole again. */
		log_err("%s: registry: out of memory storing %s", r->cfg.ifname,
			registry_escape(esc, sizeof(esc), kv->key));
		r->sess.resync = true;
	}
	if (!rule && !strcmp(kv->key, r->sess.published_key))
		own_check(r);
}

void session_down(struct registry *r, const char *what, int err)
{
	char why[1024];

	/* etcd's words may quote what was sent, keys included. */
	registry_escape(why, sizeof(why), etcd_error(r->sess.etcd));

	etcd_watch_stop(r->sess.etcd);
	if (r->sess.up || !r->sess.down_reported)
		log_warn("%s: registry: etcd %s unreachable (%s: %s); keeping the %zu peers as "
			 "they are, retrying",
			 r->cfg.ifname, r->cfg.etcd_url, what, *why ? why : strerror(-err),
			 r->peers.n);
	else
		log_debug("%s: registry: etcd still unreachable (%s: %s)", r->cfg.ifname, what,
			  *why ? why : strerror(-err));
	r->sess.up = false;
	r->sess.down_reported = true;
	r->sess.next_try = now() + r->sess.backoff;
	r->sess.backoff *= 2;
	/* Never so long that the lease runs out between two tries once etcd is back. */
	if (r->sess.backoff > BACKOFF_MAX || r->sess.backoff > r->cfg.ttl / 2.0)
		r->sess.backoff = r->cfg.ttl / 2.0 < BACKOFF_MAX ? r->cfg.ttl / 2.0 : BACKOFF_MAX;
	if (r->sess.backoff < BACKOFF_MIN)
		r->sess.backoff = BACKOFF_MIN;
}

/* After a put at key of value: what every node will make of it. */
static void published(struct registry *r, const char *key, const char *value)
{
	char b64[KEY_B64_LEN], why[256], esc[1024];
	struct entry *old;

	/* The watch will tell us the old entry is gone, but only later: until then it would
	 * look like a peer, with our own addresses. */
	if (r->sess.published_key[0] && strcmp(r->sess.published_key, key)) {
		old = entries_find(&r->nodes, r->sess.published_key);
		if (old)
			entries_drop(&r->nodes, old);
	}
	if (strcmp(r->sess.published_key, key))
		log_notice("%s: registry: published %s as %s", r->cfg.ifname,
			   key_text(b64, r->dmn.self_key), key);
	if (!strstr(value, "\"endpoints\"") && !r->sess.no_endpoint_reported) {
		log_warn("%s: registry: no endpoint published (etcd is reached over "
			 "loopback): other nodes cannot reach this one first; give "
			 "--endpoint",
			 r->cfg.ifname);
		r->sess.no_endpoint_reported = true;
	}
	snprintf(r->sess.published_key, sizeof(r->sess.published_key), "%s", key);
	r->sess.published_valid = !registry_parse_entry(r->cfg.prefix, key, value, strlen(value),
							&r->cfg.cidrs, &r->sess.published, why,
							sizeof(why));
	if (!r->sess.published_valid)
		log_err("%s: registry: our own entry is refused by every node: %s", r->cfg.ifname,
			registry_escape(esc, sizeof(esc), why));
	r->sess.need_publish = false;
}

static int session_publish(struct registry *r)
{
	char key[512], *value;
	int ret;

	ret = own_entry(r, key, sizeof(key), &value);
	if (ret)
		return ret;
	if (r->sess.published_key[0] && strcmp(r->sess.published_key, key))
		ret = etcd_move(r->sess.etcd, r->sess.published_key, key, value, r->sess.lease);
	else
		ret = etcd_put(r->sess.etcd, key, value, r->sess.lease);
	if (!ret)
		published(r, key, value);
	free(value);
	return ret;
}

static int session_renew_lease(struct registry *r)
{
	int64_t ttl = 0;
	int ret;

	if (r->sess.lease) {
		ret = etcd_lease_keepalive(r->sess.etcd, r->sess.lease, &ttl);
		if (ret)
			return ret;
		if (ttl > 0)
			return 0;
		log_notice("%s: registry: lease %llx expired: publishing again under a new one",
			   r->cfg.ifname, (unsigned long long)r->sess.lease);
		r->sess.lease = 0;
	}
	ret = etcd_lease_grant(r->sess.etcd, r->cfg.ttl, &r->sess.lease);
	if (!ret)
		r->sess.need_publish = true;
	return ret;
}

/* The range read whole takes the place of what we had. */
static void synced(struct registry *r, struct range *g, int64_t revision)
{
	entries_free(&r->nodes);
	r->nodes = g->nodes;
	entries_free(&r->rule_keys);
	r->rule_keys = g->rules;
	r->dirty = true;
	/* Put just before the range: changed already means changed by someone else. */
	own_check(r);
	if (r->sess.down_reported || !r->sess.synced)
		log_notice("%s: registry: %s etcd %s: %zu entries, %zu rules keys at revision "
			   "%lld",
			   r->cfg.ifname, r->sess.synced ? "reconnected to" : "connected to",
			   r->cfg.etcd_url, g->nodes.n, g->rules.n, (long long)revision);
	if (r->sess.synced)
		r->sess.reconnects++;
	r->sess.up = r->sess.synced = true;
	r->sess.down_reported = false;
	r->sess.backoff = BACKOFF_MIN;
	r->sess.next_keepalive = now() + r->cfg.ttl / 3.0;
}

/* Lease, our entry, every entry and rules key, then the watch from the revision the range was
 * read at. */
void session_connect(struct registry *r)
{
	struct range g = { .r = r };
	const char *what = "lease";
	int64_t revision = 0;
	int ret;

	ret = session_renew_lease(r);
	/* Every time: etcd may have lost its data, and the address we reach it from may
	 * have changed. */
	if (!ret) {
		what = "publish";
		ret = session_publish(r);
	}
	if (!ret) {
		what = "range";
		ret = etcd_range_prefix(r->sess.etcd, r->cfg.base, range_cb, &g, &revision);
	}
	if (!ret) {
		what = "watch";
		ret = etcd_watch_start(r->sess.etcd, r->cfg.base, revision + 1, watch_cb, r);
	}
	if (ret) {
		entries_free(&g.nodes);
		entries_free(&g.rules);
		session_down(r, what, ret);
		return;
	}
	synced(r, &g, revision);
}

void session_keepalive(struct registry *r)
{
	int ret = session_renew_lease(r);

	if (!ret && r->sess.need_publish)
		ret = session_publish(r);
	if (ret) {
		session_down(r, "keepalive", ret);
		return;
	}
	r->sess.next_keepalive = now() + r->cfg.ttl / 3.0;
}

void session_keep_lease(struct registry *r)
{
	int ret;

	if (!r->sess.up || now() < r->sess.next_keepalive)
		return;
	ret = session_renew_lease(r);
	if (ret)
		session_down(r, "keepalive", ret);
	else
		r->sess.next_keepalive = now() + r->cfg.ttl / 3.0;
}
