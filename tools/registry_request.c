/* The registry's control-socket requests (registry_request.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "registry_request.h"

static int add(struct registry_request *q, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static int add(struct registry_request *q, const char *fmt, ...)
{
	va_list ap;
	size_t need, cap;
	char *grown;
	int n;

	if (q->err)
		return q->err;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return q->err = -EINVAL;
	/* The first line of every request, once. */
	need = q->len + (size_t)n + 1 + (q->buf ? 0 : sizeof("set=1\n"));
	if (need > q->cap) {
		cap = q->cap ? q->cap : 4096;
		while (cap < need)
			cap *= 2;
		grown = realloc(q->buf, cap);
		if (!grown)
			return q->err = -ENOMEM;
		if (!q->buf)
			q->len = (size_t)sprintf(grown, "set=1\n");
		q->buf = grown;
		q->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(q->buf + q->len, q->cap - q->len, fmt, ap);
	va_end(ap);
	q->len += (size_t)n;
	return 0;
}

int registry_request_peer(struct registry_request *q, const struct node *n, bool endpoint,
                          bool groups)
{
	char hex[KEY_HEX_LEN], buf[ADDR_STRLEN];

	key_to_hex(hex, n->public_key);
	add(q, "public_key=%s\n", hex);
	if (endpoint && n->endpoint[0])
		add(q, "endpoint=%s\n", n->endpoint);
	add(q, "replace_allowed_ips=true\nallowed_ip=%s\n", addr_prefix_str(&n->overlay, buf));
	for (size_t i = 0; i < n->n_pod_subnets; i++)
		add(q, "allowed_ip=%s\n", addr_prefix_str(&n->pod_subnets[i], buf));
	if (groups) {
		add(q, "replace_groups=true\n");
		for (size_t i = 0; i < n->n_groups; i++)
			add(q, "group=%s\n", n->groups[i]);
	}
	if (!q->err)
		q->n_peers++;
	return q->err;
}

int registry_request_remove(struct registry_request *q, const uint8_t key[KEY_LEN])
{
	char hex[KEY_HEX_LEN];

	key_to_hex(hex, key);
	add(q, "public_key=%s\nremove=true\n", hex);
	if (!q->err)
		q->n_removed++;
	return q->err;
}

int registry_request_rules(struct registry_request *q, char (*const text)[FIREWALL_RULE_TEXT_MAX], size_t n)
{
	size_t verb;

	add(q, "replace_rules=true\n");
	for (size_t i = 0; i < n; i++) {
		verb = strcspn(text[i], " ");
		add(q, "%.*s=%s\n", (int)verb, text[i], text[i][verb] ? text[i] + verb + 1 : "");
	}
	return q->err;
}

const char *registry_request_text(const struct registry_request *q)
{
	return q->err || !q->buf ? NULL : q->buf;
}

void registry_request_free(struct registry_request *q)
{
	if (!q)
		return;
	free(q->buf);
	memset(q, 0, sizeof(*q));
}
