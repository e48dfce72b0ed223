/* The daemon's access rules (access.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "daemon.h"
#include "entries.h"
#include "log.h"
#include "rules.h"
#include "state.h"

/* What the daemon's own rules are, given cur, what it has now. Returns 0 or -ENOMEM. */
static int own_rules(struct registry *r, const struct rule_list *cur, struct rule_list *own)
{
	struct rule_list sent = { NULL, 0 };
	size_t ours = r->rules.sent.node.n + r->rules.sent.cluster.n;
	int ret;

	ret = rules_append(&sent, &r->rules.sent.own);
	if (!ret)
		ret = rules_append(&sent, &r->rules.sent.node);
	if (!ret)
		ret = rules_append(&sent, &r->rules.sent.cluster);
	if (ret)
		goto out;
	if (rules_equal(cur, &sent)) {
		ret = rules_append(own, &r->rules.sent.own);
	} else if (ours && rules_prefix_of(&sent, cur)) {
		ret = rules_append(own, &r->rules.sent.own);
		for (size_t i = sent.n; i < cur->n && !ret; i++)
			ret = rules_add(own, cur->text[i]);
		if (!ret)
			log_notice("%s: registry: %zu rules were added to the daemon's after ours: "
				   "they are its own now, and go before ours",
				   r->cfg.ifname, cur->n - sent.n);
	} else {
		ret = rules_append(own, cur);
		if (!ret && (r->rules.have_seen || cur->n))
			log_notice("%s: registry: the daemon's own access rules: %zu (%s)",
				   r->cfg.ifname, cur->n,
				   r->rules.have_seen
					   ? "changed: restarted, reloaded or set by hand"
					   : "what it has as the registry starts");
	}
out:
	rules_free(&sent);
	return ret;
}

/* The daemon's rules changed under us when they are neither what they were at our last look
 * nor what we sent: it restarted or reloaded (and has its config file's rules alone), or
 * someone set rules by hand. Its own rules are then all it has, but for ours when they are
 * still there with rules added after them (allow= on the control socket): those are its own
 * too. */
void access_track(struct registry *r, const struct ipc_device *dev)
{
	struct rule_list cur = { NULL, 0 }, own = { NULL, 0 };
	int ret = 0;

	/* No get=sealnet (wireguard-go): no rules to keep or to add to. */
	if (!dev->has_counters)
		return;
	for (const struct ipc_rule *x = dev->first_rule; x && !ret; x = x->next)
		ret = rules_add(&cur, x->text);
	if (ret || (r->rules.have_seen && rules_equal(&cur, &r->rules.seen)))
		goto out;
	ret = own_rules(r, &cur, &own);
	if (ret)
		goto out;
	rules_free(&r->rules.own);
	r->rules.own = own;
	own.text = NULL;
	rules_free(&r->rules.seen);
	r->rules.seen = cur;
	cur.text = NULL;
	r->rules.have_seen = r->dirty = true;
	/* A daemon that changed may take what it refused. */
	r->rules.has_refused = false;
out:
	if (ret)
		log_err("%s: registry: cannot keep the daemon's rules: %s", r->cfg.ifname,
			strerror(-ret));
	rules_free(&cur);
	rules_free(&own);
}

/* Brings a source of rules to what etcd has: the key's rules when they parse, none when
 * there is no key. A refused revision leaves the rules as they were: a typo must neither open
 * a node (rules gone) nor close it (rules cut short). */
static void update_source(struct registry *r, struct rules_source *src, const char *key)
{
	struct entry *e = entries_find(&r->rule_keys, key);
	struct rule_list l;
	char what[400];

	if (!e) {
		rules_free(&src->rules);
		src->revision = 0;
		src->refused = false;
	} else if (e->mod_revision != src->revision || strcmp(src->key, key)) {
		src->revision = e->mod_revision;
		if (rules_parse(e->value, strlen(e->value), &l, e->why, sizeof(e->why))) {
			snprintf(what, sizeof(what),
				 "refused: %s; this node keeps the %zu %s rules it had", e->why,
				 src->rules.n, src->what);
			entries_report(r, e, LOG_WARNING, what);
			src->refused = true;
		} else {
			rules_free(&src->rules);
			src->rules = l;
			src->refused = false;
		}
	}
	snprintf(src->key, sizeof(src->key), "%s", key);
}

/* Sends want unless the daemon has it, or refused it already. Returns 0 when the daemon has
 * want now, 1 when it keeps another list (want refused, now or before), or -errno when it must
 * be tried again. */
static int send_wanted(struct registry *r, struct rule_list *want)
{
	int ret, err = 0;

	if (rules_equal(want, &r->rules.seen))
		return 0;
	/* Refused once, and logged: the same list would be refused again. */
	if (r->rules.has_refused && rules_equal(want, &r->rules.refused))
		return 1;
	ret = daemon_send_rules(r, want, &err);
	if (ret) {
		r->stats.apply_errors++;
		log_err("%s: registry: cannot send the access rules: %s", r->cfg.ifname,
			strerror(-ret));
		return ret;
	}
	if (err) {
		r->stats.apply_errors++;
		log_err("%s: registry: the daemon refused the %zu access rules (%zu own, "
			"%zu this node's, %zu the cluster's): %s; it keeps the %zu it had",
			r->cfg.ifname, want->n, r->rules.own.n, r->rules.node.rules.n,
			r->rules.cluster.rules.n,
			err == -ENOSPC ? "more than 64 group names" : strerror(-err),
			r->rules.seen.n);
		r->rules.has_refused = !rules_copy(&r->rules.refused, want);
		return 1;
	}
	r->stats.applies++;
	log_info("%s: registry: access rules: %zu (%zu own, %zu this node's, %zu the "
		 "cluster's)",
		 r->cfg.ifname, want->n, r->rules.own.n, r->rules.node.rules.n,
		 r->rules.cluster.rules.n);
	rules_free(&r->rules.seen);
	r->rules.seen = *want;
	want->text = NULL;
	want->n = 0;
	return 0;
}

/* The state file says which of the daemon's rules are ours, for the next run. Returns 0 or
 * -ENOMEM. */
static int remember_sent(struct registry *r)
{
	struct rule_set *sent = &r->rules.sent;

	if (rules_equal(&sent->own, &r->rules.own) &&
	    rules_equal(&sent->node, &r->rules.node.rules) &&
	    rules_equal(&sent->cluster, &r->rules.cluster.rules))
		return 0;
	if (rules_copy(&sent->own, &r->rules.own) ||
	    rules_copy(&sent->node, &r->rules.node.rules) ||
	    rules_copy(&sent->cluster, &r->rules.cluster.rules))
		return -ENOMEM;
	state_save(r);
	return 0;
}

/* Makes the daemon's rules its own, then this node's from etcd, then the cluster's: the first
 * rule that matches decides, so the node's operator has the last word, and a rule for one node
 * goes before those for all. */
int access_reconcile(struct registry *r)
{
	struct rule_list want = { NULL, 0 };
	char key[512], name[REGISTRY_KEY_NAME_LEN];
	int ret;

	registry_key_name(name, r->dmn.self_key);
	snprintf(key, sizeof(key), "%s%s", r->cfg.rules_prefix, name);
	update_source(r, &r->rules.node, key);
	snprintf(key, sizeof(key), "%sall", r->cfg.rules_prefix);
	update_source(r, &r->rules.cluster, key);
	if (!r->rules.have_seen) {
		if ((r->rules.node.rules.n || r->rules.cluster.rules.n) &&
		    !r->rules.unsupported_reported) {
			log_warn("%s: registry: the daemon has no access rules (it does not answer "
				 "get=sealnet): the rules from etcd are not applied",
				 r->cfg.ifname);
			r->rules.unsupported_reported = true;
		}
		return 0;
	}
	ret = rules_append(&want, &r->rules.own);
	if (!ret)
		ret = rules_append(&want, &r->rules.node.rules);
	if (!ret)
		ret = rules_append(&want, &r->rules.cluster.rules);
	if (!ret)
		ret = send_wanted(r, &want);
	/* Remembered only once the daemon has them. */
	if (!ret)
		ret = remember_sent(r);
	rules_free(&want);
	return ret < 0 ? ret : 0;
}
