/* The registry's control-socket requests (request.h). */
#include <string.h>

#include "addr.h"
#include "request.h"

/* The first line of every request, once. */
static int begin(struct registry_request *q)
{
	return q->req.len ? q->req.err : request_add(&q->req, "set=1\n");
}

int registry_request_peer(struct registry_request *q, const struct node *n, bool endpoint,
			  bool groups)
{
	struct request *r = &q->req;
	char buf[ADDR_STRLEN];

	begin(q);
	request_add_key(r, "public_key", n->public_key);
	if (endpoint && n->endpoint[0])
		request_add(r, "endpoint=%s\n", n->endpoint);
	request_add(r, "replace_allowed_ips=true\nallowed_ip=%s\n",
		    addr_prefix_str(&n->overlay, buf));
	for (size_t i = 0; i < n->n_pod_subnets; i++)
		request_add(r, "allowed_ip=%s\n", addr_prefix_str(&n->pod_subnets[i], buf));
	if (groups) {
		request_add(r, "replace_groups=true\n");
		for (size_t i = 0; i < n->n_groups; i++)
			request_add(r, "group=%s\n", n->groups[i]);
	}
	if (!r->err)
		q->n_peers++;
	return r->err;
}

int registry_request_remove(struct registry_request *q, const uint8_t key[KEY_LEN])
{
	begin(q);
	request_add_key(&q->req, "public_key", key);
	request_add(&q->req, "remove=true\n");
	if (!q->req.err)
		q->n_removed++;
	return q->req.err;
}

int registry_request_rules(struct registry_request *q, char (*const text)[FIREWALL_RULE_TEXT_MAX],
			   size_t n)
{
	size_t verb;

	begin(q);
	request_add(&q->req, "replace_rules=true\n");
	for (size_t i = 0; i < n; i++) {
		verb = strcspn(text[i], " ");
		request_add(&q->req, "%.*s=%s\n", (int)verb, text[i],
			    text[i][verb] ? text[i] + verb + 1 : "");
	}
	return q->req.err;
}

const char *registry_request_text(const struct registry_request *q)
{
	return request_text(&q->req);
}

void registry_request_free(struct registry_request *q)
{
	if (!q)
		return;
	request_free(&q->req);
	q->n_peers = q->n_removed = 0;
}
