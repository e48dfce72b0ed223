/* The configuration file: config_parse_string() on arbitrary text, read through the custom
 * line reader and Debian's inih. Host names in Endpoint are not resolved (fuzz.c holds
 * getaddrinfo() to numeric hosts), so a name is just an error.
 *
 * Beyond the sanitizers, what config.h promises is checked: a failure is -errno with a
 * message naming the file, and a success passed every rule validate() stands for. */
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
