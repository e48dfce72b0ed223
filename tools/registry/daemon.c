/* Talking to the daemon (daemon.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "daemon.h"
#include "log.h"

int daemon_view_read(const char *ifname, struct daemon_view *v)
{
	int ret;

	memset(v, 0, sizeof(*v));
	ret = ipc_get(ifname, &v->dev);
	for (const struct ipc_peer *p = v->dev ? v->dev->first_peer : NULL; p && !ret; p = p->next)
		ret = keyidx_put(&v->peers, p->public_key, 1);
	if (ret)
		daemon_view_free(v);
	return ret;
}

bool daemon_view_has(const struct daemon_view *v, const uint8_t key[KEY_LEN])
{
	return keyidx_get(&v->peers, key) != SIZE_MAX;
}

void daemon_view_free(struct daemon_view *v)
{
	if (!v)
		return;
	ipc_device_free(v->dev);
	keyidx_free(&v->peers);
	v->dev = NULL;
}

/* The daemon answers, or not: said once per change. Returns whether it does. */
static bool daemon_answers(struct registry *r, int ret, const struct ipc_device *dev)
{
	if (ret) {
		if (r->dmn.up || !r->dmn.reported)
			log_warn("%s: registry: the daemon does not answer (%s); retrying",
				 r->cfg.ifname, ret == -ENODEV ? "not running" : strerror(-ret));
		r->dmn.up = false;
		r->dmn.reported = true;
		return false;
	}
	if (!r->dmn.up)
		log_notice("%s: registry: the daemon answers (listen port %u)", r->cfg.ifname,
			   dev->listen_port);
	r->dmn.up = r->dmn.reported = true;
	return true;
}

/* Its key and port: ours to publish. Returns whether it has a key. */
static bool daemon_identity(struct registry *r, const struct ipc_device *dev)
{
	char b64[KEY_B64_LEN], old[KEY_B64_LEN];

	if (!dev->has_public_key) {
		if (!r->dmn.no_key_reported)
			log_warn("%s: registry: the interface has no private key: nothing to "
				 "publish",
				 r->cfg.ifname);
		r->dmn.no_key_reported = true;
		return false;
	}
	r->dmn.no_key_reported = false;
	if (r->dmn.have_self && key_equal(r->dmn.self_key, dev->public_key) &&
	    r->dmn.port == dev->listen_port)
		return true;
	if (r->dmn.have_self && !key_equal(r->dmn.self_key, dev->public_key))
		log_notice("%s: registry: the interface's key changed from %s to %s: "
			   "moving our entry",
			   r->cfg.ifname, key_text(old, r->dmn.self_key),
			   key_text(b64, dev->public_key));
	memcpy(r->dmn.self_key, dev->public_key, KEY_LEN);
	r->dmn.port = dev->listen_port;
	r->dmn.have_self = r->sess.need_publish = r->dirty = true;
	return true;
}

void daemon_tick(struct registry *r)
{
	struct daemon_view v;
	char b64[KEY_B64_LEN];
	int ret;

	ret = daemon_view_read(r->cfg.ifname, &v);
	if (!daemon_answers(r, ret, v.dev))
		return;
	access_track(r, v.dev);
	if (!daemon_identity(r, v.dev))
		goto out;
	for (size_t i = 0; i < r->peers.n; i++) {
		if (!r->peers.m[i].known || daemon_view_has(&v, r->peers.m[i].public_key))
			continue;
		log_notice("%s: registry: peer %s is gone from the daemon (restarted?): adding "
			   "it again",
			   r->cfg.ifname, key_text(b64, r->peers.m[i].public_key));
		r->peers.m[i].known = false;
		r->dirty = true;
	}
out:
	daemon_view_free(&v);
}

int daemon_send(const struct registry *r, const struct registry_request *q)
{
	const char *text = registry_request_text(q);
	int ret, err;

	if (!text)
		return q->req.err ? q->req.err : -EINVAL;
	ret = ipc_command(r->cfg.ifname, text, &err);
	return ret ? ret : err;
}

bool daemon_endpoint_is_new(const struct node *n, const struct managed *m)
{
	return n->endpoint[0] && (!m || !m->known || strcmp(m->applied.endpoint, n->endpoint));
}

static int send_peer(const struct registry *r, const struct node *n, const struct managed *m,
		     bool groups)
{
	struct registry_request q = { 0 };
	int ret;

	ret = registry_request_peer(&q, n, daemon_endpoint_is_new(n, m), groups);
	if (!ret)
		ret = daemon_send(r, &q);
	registry_request_free(&q);
	return ret;
}

int daemon_apply_peer(struct registry *r, const struct node *n, const struct managed *m)
{
	int ret = send_peer(r, n, m, !r->dmn.groups_unsupported);

	/* A daemon without access rules refuses the group lines as unknown keys: the peer is
	 * still worth having, without its groups. */
	if (ret == -EINVAL && !r->dmn.groups_unsupported) {
		ret = send_peer(r, n, m, false);
		if (!ret) {
			r->dmn.groups_unsupported = true;
			log_notice("%s: registry: the daemon does not take group= (no access "
				   "rules): peers are added without their groups",
				   r->cfg.ifname);
		}
	}
	return ret;
}

int daemon_remove_peer(const struct registry *r, const uint8_t key[KEY_LEN])
{
	struct registry_request q = { 0 };
	int ret = registry_request_remove(&q, key);

	if (!ret)
		ret = daemon_send(r, &q);
	registry_request_free(&q);
	return ret;
}

/* "allow tcp/5201 from group:web" is sent as allow=tcp/5201 from group:web. */
int daemon_send_rules(const struct registry *r, const struct rule_list *l, int *daemon_err)
{
	struct registry_request q = { 0 };
	const char *text;
	int ret;

	registry_request_rules(&q, l->text, l->n);
	text = registry_request_text(&q);
	ret = text ? ipc_command(r->cfg.ifname, text, daemon_err) : q.req.err;
	registry_request_free(&q);
	return ret;
}
