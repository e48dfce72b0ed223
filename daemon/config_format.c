/* A config written back as text, for SaveConfig (tools/saveconfig.c): config_format(). */
#include "config.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing text that holds a private key: every buffer given up is wiped. A failed append
 * leaves ret set and makes the later ones do nothing. */
struct text {
	char *buf;
	size_t len, cap;
	int ret;
};

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	size_t cap;
	char *grown;
	int n;

	if (t->ret)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? t->cap - t->len : 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		t->ret = -EINVAL;
		return;
	}
	if (t->buf && t->len + (size_t)n < t->cap) {
		t->len += (size_t)n;
		return;
	}
	for (cap = t->cap ? t->cap : 1024; cap <= t->len + (size_t)n;)
		cap *= 2;
	grown = malloc(cap);
	if (!grown) {
		t->ret = -ENOMEM;
		return;
	}
	if (t->buf) {
		memcpy(grown, t->buf, t->len);
		sodium_memzero(t->buf, t->cap);
		free(t->buf);
	}
	t->buf = grown;
	t->cap = cap;
	va_start(ap, fmt);
	vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

static void add_key(struct text *t, const char *name, const uint8_t *key)
{
	char b64[KEY_B64_LEN];

	key_to_base64(b64, key);
	add(t, "%s = %s\n", name, b64);
	sodium_memzero(b64, sizeof(b64));
}

/* One "Key = a, b, c" line of the items of both lists (b may be NULL), or none. */
static void add_list(struct text *t, const char *key, const struct config_list *a,
		     const struct config_list *b)
{
	const struct config_list *lists[] = { a, b };
	bool first = true;

	for (int l = 0; l < 2; l++) {
		for (size_t i = 0; lists[l] && i < lists[l]->n; i++) {
			if (first)
				add(t, "%s = %s", key, lists[l]->items[i]);
			else
				add(t, ", %s", lists[l]->items[i]);
			first = false;
		}
	}
	if (!first)
		add(t, "\n");
}

static void format_interface(struct text *t, const struct config *c)
{
	char buf[ADDR_STRLEN];

	add(t, "[Interface]\n");
	if (c->private_key_file)
		add(t, "PrivateKeyFile = %s\n", c->private_key_file);
	else if (c->private_key)
		add_key(t, "PrivateKey", c->private_key);
	if (c->listen_port)
		add(t, "ListenPort = %u\n", c->listen_port);
	if (c->fwmark)
		add(t, "FwMark = 0x%x\n", c->fwmark);
	for (size_t i = 0; i < c->n_addresses; i++)
		add(t, "Address = %s\n", addr_prefix_str(&c->addresses[i], buf));
	if (c->mtu != CONFIG_DEFAULT_MTU)
		add(t, "MTU = %u\n", c->mtu);
	add_list(t, "DNS", &c->dns_servers, &c->dns_search);
	if (c->table_mode == CONFIG_TABLE_OFF)
		add(t, "Table = off\n");
	else if (c->table_mode == CONFIG_TABLE_ID)
		add(t, "Table = %u\n", c->table_id);
	if (c->save_config)
		add(t, "SaveConfig = true\n");
	for (int h = 0; h < CONFIG_HOOK_MAX; h++)
		for (size_t i = 0; i < c->hooks[h].n; i++)
			add(t, "%s = %s\n", config_hook_names[h], c->hooks[h].items[i]);
	if (c->offload != CONFIG_OFFLOAD_ALL) {
		add(t, "Offload = %s", c->offload ? "" : "off");
		add(t, "%s", c->offload & CONFIG_OFFLOAD_TUN ? "tun " : "");
		add(t, "%s", c->offload & CONFIG_OFFLOAD_UDP_GSO ? "udp-gso " : "");
		add(t, "%s", c->offload & CONFIG_OFFLOAD_UDP_GRO ? "udp-gro " : "");
		if (t->buf && t->buf[t->len - 1] == ' ')
			t->len--;
		add(t, "\n");
	}
	if (c->threads)
		add(t, "Threads = %u\n", c->threads);
	if (c->metrics_listen.sa.sa_family)
		add(t, "MetricsListen = %s\n", addr_endpoint_str(&c->metrics_listen, buf));
	if (c->user)
		add(t, "User = %s\n", c->user);
	if (!c->sandbox)
		add(t, "Sandbox = off\n");
	/* The normalised text starts with the verb, the key of its line. */
	for (size_t i = 0; i < c->n_rules; i++)
		add(t, "%s = %s\n", c->rules[i].deny ? "Deny" : "Allow",
		    c->rules[i].text + strcspn(c->rules[i].text, " ") + 1);
}

static void format_peer(struct text *t, const struct config_peer *peer)
{
	char buf[ADDR_STRLEN];

	add(t, "\n[Peer]\n");
	if (peer->name[0])
		add(t, "Name = %s\n", peer->name);
	add_key(t, "PublicKey", peer->public_key);
	if (peer->has_preshared_key)
		add_key(t, "PresharedKey", peer->preshared_key);
	for (size_t i = 0; i < peer->n_allowed_ips; i++)
		add(t, "%s%s",
		    i ? ", " : "AllowedIPs = ", addr_prefix_str(&peer->allowed_ips[i], buf));
	if (peer->n_allowed_ips)
		add(t, "\n");
	if (peer->endpoint_text)
		add(t, "Endpoint = %s\n", peer->endpoint_text);
	else if (peer->endpoint.sa.sa_family)
		add(t, "Endpoint = %s\n", addr_endpoint_str(&peer->endpoint, buf));
	if (peer->persistent_keepalive)
		add(t, "PersistentKeepalive = %u\n", peer->persistent_keepalive);
	for (unsigned i = 0; i < peer->n_groups; i++)
		add(t, "%s%s", i ? ", " : "Groups = ", peer->groups[i]);
	if (peer->n_groups)
		add(t, "\n");
}

int config_format(const struct config *c, char **out, size_t *len)
{
	struct text t = { 0 };

	*out = NULL;
	format_interface(&t, c);
	for (size_t i = 0; i < c->n_peers; i++)
		format_peer(&t, &c->peers[i]);
	if (t.ret) {
		if (t.buf)
			sodium_memzero(t.buf, t.cap);
		free(t.buf);
		return t.ret;
	}
	*out = t.buf;
	*len = t.len;
	return 0;
}
