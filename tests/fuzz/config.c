/* The configuration file: config_parse_string() on arbitrary text, read through the custom
 * line reader and Debian's inih, as `sealnet up` reads it (hooks, DNS and SaveConfig
 * allowed). Host names in Endpoint are not resolved (fuzz.c holds getaddrinfo() to numeric
 * hosts), so a name is just an error.
 *
 * Beyond the sanitizers, what config.h promises is checked: a failure is -errno with a
 * message naming the file; a success passed every rule validate() stands for; the same text
 * is refused by sealnetd alone (no -q) exactly when it holds something only `sealnet up`
 * acts on; and config_format() writes a file that loads back and is written the same. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "config.h"
#include "fuzz.h"
#include "key.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME "fuzz.conf"

static void broken(const char *what, const char *text)
{
	fprintf(stderr, "config: %s\n--- input:\n%s\n---\n", what, text);
	abort();
}

static bool prefix_ok(const struct ip_prefix *p, bool masked)
{
	struct ip_prefix m = *p;

	if (p->addr.family != AF_INET && p->addr.family != AF_INET6)
		return false;
	if (p->cidr > (p->addr.family == AF_INET ? 32 : 128))
		return false;
	addr_prefix_mask(&m);
	return !masked || !memcmp(m.addr.bytes, p->addr.bytes, addr_len(p->addr.family));
}

static bool endpoint_ok(const union endpoint *e)
{
	switch (e->sa.sa_family) {
	case 0:
		return true;
	case AF_INET:
		return e->in4.sin_port != 0;
	case AF_INET6:
		return e->in6.sin6_port != 0;
	default:
		return false;
	}
}

static bool list_ok(const struct config_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (!l->items[i][0] || strpbrk(l->items[i], "#\n"))
			return false;
	return true;
}

static bool nameserver_ok(const char *s)
{
	unsigned char bin[16];
	char buf[128];

	snprintf(buf, sizeof(buf), "%s", s);
	if (strchr(buf, ':'))
		buf[strcspn(buf, "%")] = '\0';
	return inet_pton(strchr(buf, ':') ? AF_INET6 : AF_INET, buf, bin) == 1;
}

static bool has_quick(const struct config *c)
{
	for (int h = 0; h < CONFIG_HOOK_MAX; h++)
		if (c->hooks[h].n)
			return true;
	return c->dns_servers.n || c->dns_search.n || c->save_config;
}

static void check(const struct config *c, const char *text)
{
	uint8_t own[KEY_LEN];
	bool have_own = c->private_key && !key_public_from_private(own, c->private_key);
	bool v6 = false;

	for (size_t i = 0; i < c->n_addresses; i++) {
		if (!prefix_ok(&c->addresses[i], false))
			broken("bad Address accepted", text);
		v6 |= c->addresses[i].addr.family == AF_INET6;
	}
	if (c->mtu < (v6 ? 1280u : 576u) || c->mtu > 65535)
		broken("MTU out of range accepted", text);
	if (c->offload & ~CONFIG_OFFLOAD_ALL)
		broken("unknown offload bits", text);
	if (c->metrics_listen.sa.sa_family && !endpoint_ok(&c->metrics_listen))
		broken("bad MetricsListen accepted", text);
	if ((c->table_mode == CONFIG_TABLE_ID) != (c->table_id != 0) ||
	    c->table_mode > CONFIG_TABLE_ID)
		broken("bad Table accepted", text);
	for (int h = 0; h < CONFIG_HOOK_MAX; h++)
		if (!list_ok(&c->hooks[h]))
			broken("empty hook, or one with '#' or a newline", text);
	if (!list_ok(&c->dns_servers) || !list_ok(&c->dns_search))
		broken("empty DNS entry, or one with '#' or a newline", text);
	for (size_t i = 0; i < c->dns_servers.n; i++)
		if (!nameserver_ok(c->dns_servers.items[i]))
			broken("bad nameserver accepted", text);
	for (size_t i = 0; i < c->n_peers; i++) {
		const struct config_peer *p = &c->peers[i];

		if (!p->has_public_key)
			broken("peer without PublicKey accepted", text);
		if (have_own && key_equal(p->public_key, own))
			broken("peer with our own key accepted", text);
		for (size_t j = 0; j < i; j++)
			if (key_equal(p->public_key, c->peers[j].public_key))
				broken("duplicate peer accepted", text);
		for (size_t j = 0; j < p->n_allowed_ips; j++)
			if (!prefix_ok(&p->allowed_ips[j], true))
				broken("bad or unmasked AllowedIPs accepted", text);
		if (!endpoint_ok(&p->endpoint))
			broken("bad Endpoint accepted", text);
		if (p->endpoint.sa.sa_family && !p->endpoint_text)
			broken("Endpoint without its text", text);
		if (p->persistent_keepalive > 65535)
			broken("PersistentKeepalive out of range accepted", text);
	}
}

static void check_sealnetd_alone(const struct config *c, const char *text)
{
	struct config *alone = NULL;
	char err[512];
	int ret;

	config_set_quick_runner(false);
	ret = config_parse_string(text, NAME, &alone, err, sizeof(err));
	config_set_quick_runner(true);
	if (!ret != !has_quick(c))
		broken(ret ? "sealnetd alone refuses a file with nothing for sealnet up"
			   : "sealnetd alone accepts hooks, DNS or SaveConfig",
		       text);
	config_free(alone);
}

static void check_format(const struct config *c, const char *text)
{
	struct config *again = NULL;
	char *out = NULL, *out2 = NULL, err[512];
	size_t len, len2;

	if (config_format(c, &out, &len))
		broken("config_format failed", text);
	if (config_parse_string(out, NAME, &again, err, sizeof(err))) {
		fprintf(stderr, "config: written:\n%s\nreloaded: %s\n", out, err);
		broken("config_format wrote a file that does not load", text);
	}
	if (config_format(again, &out2, &len2) || len != len2 || memcmp(out, out2, len)) {
		fprintf(stderr, "config: written:\n%s\nthen:\n%s\n", out, out2 ? out2 : "");
		broken("config_format of the reloaded file differs", text);
	}
	free(out);
	free(out2);
	config_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), err[512];
	struct config *c = NULL;
	int ret;

	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	memset(err, 'x', sizeof(err));
	config_set_quick_runner(true);
	ret = config_parse_string(text, NAME, &c, err, sizeof(err));
	if (ret) {
		if (ret > 0 || c)
			broken("failure is not -errno with *out untouched", text);
		if (!memchr(err, '\0', sizeof(err)) || strncmp(err, NAME ":", strlen(NAME ":")))
			broken("error message does not name the file", text);
	} else {
		if (!c)
			broken("success without a config", text);
		check(c, text);
		check_sealnetd_alone(c, text);
		check_format(c, text);
	}
	config_free(c);
	free(text);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}
