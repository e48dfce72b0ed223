/* The control socket's set request, at the level of uapi_parse_set(): every key wg(8) and
 * wireguard-go know, the WireGuard semantics around them (a prefix belongs to one peer,
 * update_only never creates, remove skips the rest of a peer, allowed_ip=-PREFIX lets one go,
 * the interface's own key is ignored, link-local endpoints keep their zone), and a table of
 * malformed requests, each of which must fail with the -errno wireguard-go answers and an
 * err that names the line. What wireguard-go does was read in its device/uapi.go and checked
 * against a running wireguard-go (tests/netns/11-uapi-wg.sh does both side by side).
 *
 * uapi_parse_set() is not atomic by itself: it edits the config it is given and stops at the
 * first bad line. The all-or-nothing promise of set=1 comes from the caller, which hands it a
 * copy (device_to_config) and throws the copy away on error; test_copy_contract spells that
 * out. realloc() and calloc() (the peer array grows by calloc, copy and wipe) are wrapped so
 * the -ENOMEM paths run too (and, under ASan, leak nothing).
 *
 * LINK-WRAP: -Wl,--wrap=realloc -Wl,--wrap=calloc
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cipher.h"
#include "config.h"
#include "key.h"
#include "uapi.h"

/* 64 hex digits: the same byte 32 times. */
#define X2(s) s s
#define X4(s) X2(X2(s))
#define HEX_OF(s) X2(X4(X4(s)))
#define PRIV_HEX HEX_OF("48")
#define K1_HEX HEX_OF("11")
#define K2_HEX HEX_OF("22")
#define K3_HEX HEX_OF("33")
#define PSK_HEX HEX_OF("5a")
#define ZERO_HEX HEX_OF("00")

/* --- wrapped functions --- */

void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);

void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);

/* Number of realloc() and calloc() calls that still succeed; negative: all do. */
static int realloc_budget = -1;

void *__wrap_realloc(void *p, size_t n)
{
	if (realloc_budget == 0)
		return NULL;
	if (realloc_budget > 0)
		realloc_budget--;
	return __real_realloc(p, n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	if (realloc_budget == 0)
		return NULL;
	if (realloc_budget > 0)
		realloc_budget--;
	return __real_calloc(n, size);
}

/* --- helpers --- */

static char err[256];
static char own_pub_hex[KEY_HEX_LEN]; /* public key of PRIV_HEX */

static void hex_key(uint8_t out[KEY_LEN], const char *hex)
{
	assert_int_equal(key_from_hex(out, hex), 0);
}

static void b64_of_hex(char b64[KEY_B64_LEN], const char *hex)
{
	uint8_t k[KEY_LEN];

	hex_key(k, hex);
	key_to_base64(b64, k);
}

/* Our own interface with two peers:
 *   K1: 100.64.0.1/32, fd00:64::1/128, endpoint 198.18.0.1:51820, keepalive 25
 *   K2: 100.64.0.2/32, 100.64.2.0/24, a preshared key, no endpoint */
static struct config *base_config(void)
{
	char text[1024], priv[KEY_B64_LEN], k1[KEY_B64_LEN], k2[KEY_B64_LEN], psk[KEY_B64_LEN];
	struct config *c;
	int ret;

	b64_of_hex(priv, PRIV_HEX);
	b64_of_hex(k1, K1_HEX);
	b64_of_hex(k2, K2_HEX);
	b64_of_hex(psk, PSK_HEX);
	snprintf(text, sizeof(text),
		 "[Interface]\nPrivateKey = %s\nListenPort = 51820\nFwMark = 7\n"
		 "Address = 100.64.0.9/24\n\n"
		 "[Peer]\nPublicKey = %s\nAllowedIPs = 100.64.0.1/32, fd00:64::1/128\n"
		 "Endpoint = 198.18.0.1:51820\nPersistentKeepalive = 25\n\n"
		 "[Peer]\nPublicKey = %s\nPresharedKey = %s\n"
		 "AllowedIPs = 100.64.0.2/32, 100.64.2.0/24\n",
		 priv, k1, k2, psk);
	ret = config_parse_string(text, "base.conf", &c, err, sizeof(err));
	if (ret)
		fail_msg("base config: %d: %s", ret, err);
	return c;
}

/* uapi_parse_set() writes into its input, as the socket's buffer allows: give it a heap copy
 * of exactly the request's size, so ASan sees any read past the end. */
static int parse_set(struct config *c, const char *request)
{
	char *buf = strdup(request);
	int ret;

	assert_non_null(buf);
	err[0] = '\0';
	ret = uapi_parse_set(c, buf, err, sizeof(err));
	free(buf);
	return ret;
}

static void set_ok(struct config *c, const char *request)
{
	int ret = parse_set(c, request);

	if (ret)
		fail_msg("request \"%s\": %d (%s), expected 0", request, ret, err);
}

static long peer_index(const struct config *c, const char *hex)
{
	uint8_t k[KEY_LEN];

	hex_key(k, hex);
	for (size_t i = 0; i < c->n_peers; i++)
		if (key_equal(c->peers[i].public_key, k))
			return (long)i;
	return -1;
}

static const struct config_peer *peer_of(const struct config *c, const char *hex)
{
	long i = peer_index(c, hex);

	if (i < 0)
		fail_msg("no peer %.8s...", hex);
	return &c->peers[i];
}

/* The peer's allowed IPs, in order, as "a/n,b/m". */
static const char *allowed_str(const struct config_peer *p)
{
	static char out[512];
	char buf[ADDR_STRLEN];
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < p->n_allowed_ips; i++)
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", i ? "," : "",
					addr_prefix_str(&p->allowed_ips[i], buf));
	return out;
}

static const char *endpoint_str(const struct config_peer *p)
{
	static char buf[ADDR_STRLEN];

	return addr_endpoint_str(&p->endpoint, buf);
}

static bool has_line(const char *e, int line)
{
	char want[32];

	snprintf(want, sizeof(want), "line %d: ", line);
	return !strncmp(e, want, strlen(want));
}

/* Deep equality of the fields a set can touch. */
static bool prefix_same(const struct ip_prefix *a, const struct ip_prefix *b)
{
	return a->addr.family == b->addr.family && a->cidr == b->cidr &&
	       !memcmp(a->addr.bytes, b->addr.bytes, addr_len(a->addr.family));
}

static bool endpoint_same(const union endpoint *a, const union endpoint *b)
{
	return a->sa.sa_family == b->sa.sa_family &&
	       (!a->sa.sa_family || addr_endpoint_equal(a, b));
}

/* Deep equality of the fields a set can touch. */
static bool config_same(const struct config *a, const struct config *b)
{
	if (!a->private_key != !b->private_key ||
	    (a->private_key && memcmp(a->private_key, b->private_key, KEY_LEN)) ||
	    a->listen_port != b->listen_port || a->fwmark != b->fwmark || a->mtu != b->mtu ||
	    a->n_addresses != b->n_addresses || a->n_peers != b->n_peers)
		return false;
	for (size_t i = 0; i < a->n_peers; i++) {
		const struct config_peer *p = &a->peers[i], *q = &b->peers[i];

		if (memcmp(p->public_key, q->public_key, KEY_LEN) ||
		    p->has_preshared_key != q->has_preshared_key ||
		    memcmp(p->preshared_key, q->preshared_key, KEY_LEN) ||
		    !endpoint_same(&p->endpoint, &q->endpoint) ||
		    p->persistent_keepalive != q->persistent_keepalive ||
		    p->n_allowed_ips != q->n_allowed_ips)
			return false;
		for (size_t j = 0; j < p->n_allowed_ips; j++)
			if (!prefix_same(&p->allowed_ips[j], &q->allowed_ips[j]))
				return false;
	}
	return true;
}

/* What device_to_config() does for the control socket: an independent deep copy. The
 * private key goes through a set request so that it lands in sodium_malloc memory, as
 * config_free() expects. */
static struct config *config_copy(const struct config *src)
{
	struct config *c = calloc(1, sizeof(*c));
	char hex[KEY_HEX_LEN], req[sizeof("private_key=") + KEY_HEX_LEN];

	assert_non_null(c);
	c->listen_port = src->listen_port;
	c->fwmark = src->fwmark;
	c->mtu = src->mtu;
	c->addresses = calloc(src->n_addresses + 1, sizeof(*c->addresses));
	c->peers = calloc(src->n_peers + 1, sizeof(*c->peers));
	assert_non_null(c->addresses);
	assert_non_null(c->peers);
	memcpy(c->addresses, src->addresses, src->n_addresses * sizeof(*c->addresses));
	c->n_addresses = src->n_addresses;
	for (size_t i = 0; i < src->n_peers; i++) {
		struct config_peer *p = &c->peers[i];

		*p = src->peers[i];
		p->endpoint_text = NULL;
		p->allowed_ips = calloc(p->n_allowed_ips + 1, sizeof(*p->allowed_ips));
		assert_non_null(p->allowed_ips);
		memcpy(p->allowed_ips, src->peers[i].allowed_ips,
		       p->n_allowed_ips * sizeof(*p->allowed_ips));
		c->n_peers++;
	}
	if (src->private_key) {
		key_to_hex(hex, src->private_key);
		snprintf(req, sizeof(req), "private_key=%s", hex);
		set_ok(c, req);
	}
	return c;
}

/* --- interface keys --- */

static void test_private_key(void **state)
{
	struct config *c = base_config();
	uint8_t k[KEY_LEN];

	set_ok(c, "private_key=" K3_HEX);
	hex_key(k, "30" X2(X2(X4("33"))) X2(X4("33")) X4("33") X2("33") "73"); /* clamped */
	assert_non_null(c->private_key);
	assert_memory_equal(c->private_key, k, KEY_LEN);

	/* wg sends lowercase; sodium_hex2bin also takes uppercase, and so do we. A key is
	 * kept clamped, as wireguard-go (FromMaybeZeroHex) and the Linux module keep it and
	 * answer get with it: 0xab... becomes 0xa8 ... 0x6b. */
	set_ok(c, "private_key=" HEX_OF("AB"));
	hex_key(k, "a8" X2(X2(X4("ab"))) X2(X4("ab")) X4("ab") X2("ab") "6b");
	assert_memory_equal(c->private_key, k, KEY_LEN);

	/* All zero removes the key (`wg set IFACE private-key /dev/null`)... */
	set_ok(c, "private_key=" ZERO_HEX);
	assert_null(c->private_key);
	/* ...and removing it twice is fine. */
	set_ok(c, "private_key=" ZERO_HEX);
	assert_null(c->private_key);
	set_ok(c, "private_key=" PRIV_HEX);
	hex_key(k, PRIV_HEX);
	assert_memory_equal(c->private_key, k, KEY_LEN);
	config_free(c);
}

static void test_listen_port_fwmark(void **state)
{
	struct config *c = base_config();

	set_ok(c, "listen_port=0");
	assert_int_equal(c->listen_port, 0);
	set_ok(c, "listen_port=65535");
	assert_int_equal(c->listen_port, 65535);
	set_ok(c, "listen_port=00080"); /* leading zeros are still decimal */
	assert_int_equal(c->listen_port, 80);
	set_ok(c, "fwmark=4294967295");
	assert_int_equal(c->fwmark, UINT32_MAX);
	set_ok(c, "fwmark=0");
	assert_int_equal(c->fwmark, 0);
	/* Several interface keys in one request, the last one wins. */
	set_ok(c, "listen_port=1\nfwmark=2\nlisten_port=3");
	assert_int_equal(c->listen_port, 3);
	assert_int_equal(c->fwmark, 2);
	assert_int_equal(c->n_peers, 2);
	config_free(c);
}

static void test_replace_peers(void **state)
{
	struct config *c = base_config();

	set_ok(c, "replace_peers=true");
	assert_int_equal(c->n_peers, 0);
	assert_non_null(c->private_key); /* only the peers go */
	assert_int_equal(c->listen_port, 51820);

	/* What `wg setconf` sends: the interface, replace_peers, then every peer. */
	config_free(c);
	c = base_config();
	set_ok(c, "private_key=" PRIV_HEX "\nlisten_port=51821\nreplace_peers=true\n"
		  "public_key=" K2_HEX "\nreplace_allowed_ips=true\nallowed_ip=100.64.0.22/32\n"
		  "public_key=" K3_HEX "\nendpoint=198.18.0.3:51820\nreplace_allowed_ips=true\n"
		  "allowed_ip=100.64.0.3/32\n");
	assert_int_equal(c->listen_port, 51821);
	assert_int_equal(c->n_peers, 2);
	assert_int_equal(peer_index(c, K1_HEX), -1);
	/* K2 was dropped and added again: nothing of its old state is left. */
	assert_string_equal(allowed_str(peer_of(c, K2_HEX)), "100.64.0.22/32");
	assert_false(peer_of(c, K2_HEX)->has_preshared_key);
	assert_string_equal(allowed_str(peer_of(c, K3_HEX)), "100.64.0.3/32");
	assert_string_equal(endpoint_str(peer_of(c, K3_HEX)), "198.18.0.3:51820");
	config_free(c);
}

/* --- peers --- */

static void test_public_key(void **state)
{
	struct config *c = base_config();
	const struct config_peer *p;

	/* An existing peer is selected, not duplicated; the other keys change it. */
	set_ok(c, "public_key=" K1_HEX "\nendpoint=198.18.0.11:1");
	assert_int_equal(c->n_peers, 2);
	p = peer_of(c, K1_HEX);
	assert_string_equal(endpoint_str(p), "198.18.0.11:1");
	assert_string_equal(allowed_str(p), "100.64.0.1/32,fd00:64::1/128");
	assert_int_equal(p->persistent_keepalive, 25);

	/* A new one is added, empty. */
	set_ok(c, "public_key=" K3_HEX);
	assert_int_equal(c->n_peers, 3);
	p = peer_of(c, K3_HEX);
	assert_true(p->has_public_key);
	assert_false(p->has_preshared_key);
	assert_int_equal(p->n_allowed_ips, 0);
	assert_int_equal(p->endpoint.sa.sa_family, 0);
	assert_int_equal(p->persistent_keepalive, 0);

	/* Naming a peer twice in one request edits the same peer. */
	set_ok(c, "public_key=" K3_HEX "\nallowed_ip=100.64.0.3/32\npublic_key=" K1_HEX
		  "\npublic_key=" K3_HEX "\nallowed_ip=100.64.3.0/24");
	assert_int_equal(c->n_peers, 3);
	assert_string_equal(allowed_str(peer_of(c, K3_HEX)), "100.64.0.3/32,100.64.3.0/24");

	/* Uppercase hex names the same peer. */
	set_ok(c, "public_key=" HEX_OF("1A") "\npublic_key=" HEX_OF("1a"));
	assert_int_equal(c->n_peers, 4);
	config_free(c);
}

static void test_remove(void **state)
{
	struct config *c = base_config();

	/* The rest of a removed peer's lines change nothing: the allowed_ip must not take
	 * K2's prefix, the endpoint goes nowhere. */
	set_ok(c, "public_key=" K1_HEX "\nremove=true\nallowed_ip=100.64.0.2/32\n"
		  "endpoint=198.18.0.9:9\npersistent_keepalive_interval=5\n"
		  "preshared_key=" PSK_HEX "\nreplace_allowed_ips=true\nprotocol_version=1");
	assert_int_equal(c->n_peers, 1);
	assert_int_equal(peer_index(c, K1_HEX), -1);
	assert_string_equal(allowed_str(peer_of(c, K2_HEX)), "100.64.0.2/32,100.64.2.0/24");

	/* Removing a peer that does not exist creates nothing. */
	set_ok(c, "public_key=" K3_HEX "\nremove=true\nallowed_ip=100.64.2.0/24");
	assert_int_equal(c->n_peers, 1);
	assert_string_equal(allowed_str(peer_of(c, K2_HEX)), "100.64.0.2/32,100.64.2.0/24");

	/* The next public_key line starts afresh; a peer removed and named again is new. */
	config_free(c);
	c = base_config();
	set_ok(c, "public_key=" K1_HEX "\nremove=true\nremove=true\npublic_key=" K2_HEX
		  "\nallowed_ip=100.64.7.0/24\npublic_key=" K1_HEX "\nallowed_ip=100.64.0.11/32");
	assert_int_equal(c->n_peers, 2);
	assert_string_equal(allowed_str(peer_of(c, K2_HEX)),
			    "100.64.0.2/32,100.64.2.0/24,100.64.7.0/24");
	assert_string_equal(allowed_str(peer_of(c, K1_HEX)), "100.64.0.11/32");
	assert_int_equal(peer_of(c, K1_HEX)->endpoint.sa.sa_family, 0);
	assert_int_equal(peer_of(c, K1_HEX)->persistent_keepalive, 0);
	config_free(c);
}

static void test_update_only(void **state)
{
	struct config *c = base_config();

	/* On an existing peer: an ordinary update. */
	set_ok(c, "public_key=" K1_HEX "\nupdate_only=true\nendpoint=198.18.0.5:5\n"
		  "allowed_ip=100.64.5.0/24");
	assert_int_equal(c->n_peers, 2);
	assert_string_equal(endpoint_str(peer_of(c, K1_HEX)), "198.18.0.5:5");
	assert_string_equal(allowed_str(peer_of(c, K1_HEX)),
			    "100.64.0.1/32,fd00:64::1/128,100.64.5.0/24");

	/* On a new peer: not created, and its lines take nothing from anyone. */
	set_ok(c, "public_key=" K3_HEX "\nupdate_only=true\nendpoint=198.18.0.3:3\n"
		  "allowed_ip=100.64.0.2/32\npersistent_keepalive_interval=1");
	assert_int_equal(c->n_peers, 2);
	assert_int_equal(peer_index(c, K3_HEX), -1);
	assert_string_equal(allowed_str(peer_of(c, K2_HEX)), "100.64.0.2/32,100.64.2.0/24");

	/* Then a later peer in the same request is handled normally. */
	set_ok(c, "public_key=" K3_HEX "\nupdate_only=true\npublic_key=" K2_HEX
		  "\npersistent_keepalive_interval=9");
	assert_int_equal(c->n_peers, 2);
	assert_int_equal(peer_of(c, K2_HEX)->persistent_keepalive, 9);
	config_free(c);
}

static void test_preshared_key(void **state)
{
	struct config *c = base_config();
	const struct config_peer *p;
	uint8_t k[KEY_LEN], zero[KEY_LEN] = { 0 };

	set_ok(c, "public_key=" K1_HEX "\npreshared_key=" PSK_HEX);
	p = peer_of(c, K1_HEX);
	hex_key(k, PSK_HEX);
	assert_true(p->has_preshared_key);
	assert_memory_equal(p->preshared_key, k, KEY_LEN);

	/* All zero is "no preshared key", as `wg set ... preshared-key /dev/null` sends. */
	set_ok(c, "public_key=" K2_HEX "\npreshared_key=" ZERO_HEX);
	p = peer_of(c, K2_HEX);
	assert_false(p->has_preshared_key);
	assert_memory_equal(p->preshared_key, zero, KEY_LEN);
	config_free(c);
}

static void test_endpoint(void **state)
{
	struct config *c = base_config();
	const struct config_peer *p;

	set_ok(c, "public_key=" K2_HEX "\nendpoint=198.18.0.2:51820");
	p = peer_of(c, K2_HEX);
	assert_int_equal(p->endpoint.sa.sa_family, AF_INET);
	assert_string_equal(endpoint_str(p), "198.18.0.2:51820");

	set_ok(c, "public_key=" K2_HEX "\nendpoint=[fd00:18::2]:65535");
	p = peer_of(c, K2_HEX);
	assert_int_equal(p->endpoint.sa.sa_family, AF_INET6);
	assert_int_equal(ntohs(p->endpoint.in6.sin6_port), 65535);
	assert_string_equal(endpoint_str(p), "[fd00:18::2]:65535");

	/* A v4-mapped address is still IPv6 to the socket layer. */
	set_ok(c, "public_key=" K2_HEX "\nendpoint=[::ffff:198.18.0.2]:1");
	assert_int_equal(peer_of(c, K2_HEX)->endpoint.sa.sa_family, AF_INET6);
	config_free(c);
}

static void test_keepalive(void **state)
{
	struct config *c = base_config();

	set_ok(c, "public_key=" K1_HEX "\npersistent_keepalive_interval=0");
	assert_int_equal(peer_of(c, K1_HEX)->persistent_keepalive, 0);
	set_ok(c, "public_key=" K1_HEX "\npersistent_keepalive_interval=65535");
	assert_int_equal(peer_of(c, K1_HEX)->persistent_keepalive, 65535);
	set_ok(c, "public_key=" K1_HEX "\npersistent_keepalive_interval=25");
	assert_int_equal(peer_of(c, K1_HEX)->persistent_keepalive, 25);
	config_free(c);
}

static void test_allowed_ips(void **state)
{
	struct config *c = base_config();

	/* replace_allowed_ips alone empties the list. */
	set_ok(c, "public_key=" K1_HEX "\nreplace_allowed_ips=true");
	assert_int_equal(peer_of(c, K1_HEX)->n_allowed_ips, 0);

	/* Host bits are cleared; a prefix the peer already has is not added twice. */
	set_ok(c, "public_key=" K1_HEX "\nallowed_ip=100.64.1.77/24\nallowed_ip=fd00:64::1:2/64\n"
		  "allowed_ip=100.64.1.0/24\nallowed_ip=100.64.1.1/24\nallowed_ip=0.0.0.0/0\n"
		  "allowed_ip=::/0\nallowed_ip=100.64.0.1/32");
	assert_string_equal(allowed_str(peer_of(c, K1_HEX)),
			    "100.64.1.0/24,fd00:64::/64,0.0.0.0/0,::/0,100.64.0.1/32");

	/* replace then add, as `wg set ... allowed-ips` sends. */
	set_ok(c, "public_key=" K1_HEX "\nreplace_allowed_ips=true\nallowed_ip=100.64.0.1/32\n"
		  "allowed_ip=fd00:64::1/128");
	assert_string_equal(allowed_str(peer_of(c, K1_HEX)), "100.64.0.1/32,fd00:64::1/128");

	/* A prefix belongs to one peer: giving K2's /32 to K1 moves it, as WireGuard does. The
	 * same prefix with host bits set is the same prefix. */
	set_ok(c, "public_key=" K1_HEX "\nallowed_ip=100.64.0.2/32\nallowed_ip=100.64.2.9/24");
	assert_string_equal(allowed_str(peer_of(c, K1_HEX)),
			    "100.64.0.1/32,fd00:64::1/128,100.64.0.2/32,100.64.2.0/24");
	assert_int_equal(peer_of(c, K2_HEX)->n_allowed_ips, 0);

	/* A wider or narrower prefix over the same addresses is a different prefix. */
	set_ok(c, "public_key=" K2_HEX "\nallowed_ip=100.64.0.0/16\nallowed_ip=100.64.0.1/31");
	assert_string_equal(allowed_str(peer_of(c, K2_HEX)), "100.64.0.0/16,100.64.0.0/31");
	assert_int_equal(peer_of(c, K1_HEX)->n_allowed_ips, 4);

	/* And back, to a new peer: the new peer takes it. */
	set_ok(c, "public_key=" K3_HEX "\nallowed_ip=100.64.0.1/32");
	assert_string_equal(allowed_str(peer_of(c, K1_HEX)),
			    "fd00:64::1/128,100.64.0.2/32,100.64.2.0/24");
	assert_string_equal(allowed_str(peer_of(c, K3_HEX)), "100.64.0.1/32");
	config_free(c);
}

static void test_protocol_version(void **state)
{
	struct config *c = base_config();

	set_ok(c, "public_key=" K1_HEX "\nprotocol_version=1");
	assert_int_equal(c->n_peers, 2);
	/* protocol_version on a new peer creates it like any other key. */
	set_ok(c, "public_key=" K3_HEX "\nprotocol_version=1");
	assert_int_equal(c->n_peers, 3);
	config_free(c);
}

/* An empty set (`wg set IFACE` with nothing else) changes nothing. */
static void test_empty(void **state)
{
	struct config *c = base_config(), *orig = base_config();

	set_ok(c, "");
	assert_true(config_same(c, orig));
	config_free(orig);
	config_free(c);
}

/* The peer that is ourselves is ignored, with every line up to the next public_key, as
 * wireguard-go (handlePublicKeyLine makes it a dummy) and the Linux module (set_peer) do:
 * one list of every node of a mesh, pushed to each node, names each node too. */
static void test_own_key_ignored(void **state)
{
	struct config *c = base_config(), *orig = base_config();
	char req[1024];

	/* Its lines change nothing: not K2's prefix, which it names, nor K1's endpoint. */
	snprintf(req, sizeof(req),
		 "public_key=%s\nallowed_ip=100.64.0.99/32\nallowed_ip=100.64.0.2/32\n"
		 "endpoint=198.18.0.99:1\npersistent_keepalive_interval=5\npreshared_key=" PSK_HEX
		 "\nreplace_allowed_ips=true\nallowed_ip=-100.64.0.2/32\nprotocol_version=1\n"
		 "update_only=true\nremove=true",
		 own_pub_hex);
	set_ok(c, req);
	assert_true(config_same(c, orig));
	assert_int_equal(peer_index(c, own_pub_hex), -1);

	/* The next public_key is handled as ever. */
	snprintf(req, sizeof(req),
		 "public_key=%s\nallowed_ip=100.64.0.99/32\npublic_key=" K3_HEX
		 "\nallowed_ip=100.64.0.3/32",
		 own_pub_hex);
	set_ok(c, req);
	assert_int_equal(c->n_peers, 3);
	assert_int_equal(peer_index(c, own_pub_hex), -1);
	assert_string_equal(allowed_str(peer_of(c, K3_HEX)), "100.64.0.3/32");
	config_free(c);

	/* A mesh's whole list, as `wg setconf` sends it to this node: ourselves among K1, K2. */
	c = base_config();
	snprintf(req, sizeof(req),
		 "private_key=" PRIV_HEX "\nreplace_peers=true\npublic_key=" K1_HEX
		 "\nallowed_ip=100.64.0.1/32\npublic_key=%s\nendpoint=198.18.0.9:51820\n"
		 "allowed_ip=100.64.0.9/32\npublic_key=" K2_HEX "\nallowed_ip=100.64.0.2/32",
		 own_pub_hex);
	set_ok(c, req);
	assert_int_equal(c->n_peers, 2);
	assert_int_equal(peer_index(c, own_pub_hex), -1);
	assert_string_equal(allowed_str(peer_of(c, K1_HEX)), "100.64.0.1/32");
	assert_string_equal(allowed_str(peer_of(c, K2_HEX)), "100.64.0.2/32");

	/* Without an identity there is no "ourselves": the key is a peer like any other. */
	set_ok(c, "private_key=" ZERO_HEX);
	snprintf(req, sizeof(req), "public_key=%s\nallowed_ip=100.64.0.9/32", own_pub_hex);
	set_ok(c, req);
	assert_int_equal(c->n_peers, 3);
	assert_string_equal(allowed_str(peer_of(c, own_pub_hex)), "100.64.0.9/32");
	config_free(c);
	config_free(orig);
}

/* Its lines still have to make sense, as on any peer that is skipped. */
static void test_own_key_lines_checked(void **state)
{
	static const char *const tails[] = {
		"allowed_ip=100.64.0.1/40", "allowed_ip=-garbage", "endpoint=nonsense",
		"preshared_key=xyz",        "remove=yes",          "update_only=1",
		"protocol_version=2",       "listen_port=1",       "bogus=1",
	};
	char req[512];

	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		struct config *c = base_config();
		int ret;

		snprintf(req, sizeof(req), "public_key=%s\n%s", own_pub_hex, tails[i]);
		ret = parse_set(c, req);
		config_free(c);
		if (ret != -EINVAL || !has_line(err, 2))
			fail_msg("\"%s\" after our own key: returned %d (err \"%s\"), "
				 "expected -EINVAL on line 2",
				 tails[i], ret, err);
	}
}

/* A new private key whose public key a peer has: that peer goes, with its prefixes, as in
 * wireguard-go's SetPrivateKey and the Linux module's set_device. */
static void test_private_key_removes_own_peer(void **state)
{
	struct config *c = base_config();
	char req[512];

	set_ok(c, "private_key=" ZERO_HEX); /* no identity: any peer is fine */
	snprintf(req, sizeof(req), "public_key=%s\nallowed_ip=100.64.0.9/32", own_pub_hex);
	set_ok(c, req);
	assert_int_equal(c->n_peers, 3);

	set_ok(c, "private_key=" PRIV_HEX);
	assert_int_equal(c->n_peers, 2);
	assert_int_equal(peer_index(c, own_pub_hex), -1);
	for (size_t i = 0; i < c->n_peers; i++)
		assert_null(strstr(allowed_str(&c->peers[i]), "100.64.0.9/32"));
	assert_string_equal(allowed_str(peer_of(c, K1_HEX)), "100.64.0.1/32,fd00:64::1/128");

	/* In one request with the peer named again after it: removed, then ignored. */
	set_ok(c, "private_key=" ZERO_HEX);
	set_ok(c, req);
	snprintf(req, sizeof(req),
		 "private_key=" PRIV_HEX "\npublic_key=%s\nallowed_ip=100.64.0.8/32", own_pub_hex);
	set_ok(c, req);
	assert_int_equal(c->n_peers, 2);
	assert_int_equal(peer_index(c, own_pub_hex), -1);

	/* Another key: the peers stay. */
	set_ok(c, "private_key=" K3_HEX);
	assert_int_equal(c->n_peers, 2);
	config_free(c);
}

/* allowed_ip=-PREFIX, what `wg set IFACE peer K allowed-ips -PREFIX` sends (wireguard-tools
 * 1.0.20250521, wireguard-go 0.0.20250515): the peer lets go of that prefix, and only that. */
static void test_allowed_ip_remove(void **state)
{
	struct config *c = base_config();

	set_ok(c, "public_key=" K1_HEX "\nallowed_ip=-100.64.0.1/32");
	assert_string_equal(allowed_str(peer_of(c, K1_HEX)), "fd00:64::1/128");
	assert_string_equal(allowed_str(peer_of(c, K2_HEX)), "100.64.0.2/32,100.64.2.0/24");
	set_ok(c, "public_key=" K1_HEX "\nallowed_ip=-fd00:64::1/128");
	assert_int_equal(peer_of(c, K1_HEX)->n_allowed_ips, 0);

	/* Host bits are cleared first, as when adding. */
	set_ok(c, "public_key=" K2_HEX "\nallowed_ip=-100.64.2.77/24");
	assert_string_equal(allowed_str(peer_of(c, K2_HEX)), "100.64.0.2/32");

	/* A prefix the peer does not hold is no error: one nobody holds, one another peer holds
	 * (it stays there), and a wider or narrower one over the same addresses. */
	set_ok(c, "public_key=" K1_HEX "\nallowed_ip=-100.64.9.0/24\nallowed_ip=-100.64.0.2/32\n"
		  "public_key=" K2_HEX "\nallowed_ip=-100.64.0.2/31\nallowed_ip=-100.64.0.0/16");
	assert_string_equal(allowed_str(peer_of(c, K2_HEX)), "100.64.0.2/32");
	config_free(c);

	/* In order with the other lines: add then remove, remove then add, replace then
	 * remove. */
	c = base_config();
	set_ok(c, "public_key=" K1_HEX "\nallowed_ip=100.64.5.0/24\nallowed_ip=-100.64.5.0/24\n"
		  "allowed_ip=-100.64.0.1/32\nallowed_ip=100.64.0.1/32\npublic_key=" K2_HEX
		  "\nreplace_allowed_ips=true\nallowed_ip=-100.64.0.2/32\n"
		  "allowed_ip=100.64.6.0/24");
	assert_string_equal(allowed_str(peer_of(c, K1_HEX)), "fd00:64::1/128,100.64.0.1/32");
	assert_string_equal(allowed_str(peer_of(c, K2_HEX)), "100.64.6.0/24");

	/* On a new peer: the peer is made, with nothing. */
	set_ok(c, "public_key=" K3_HEX "\nallowed_ip=-100.64.0.1/32");
	assert_int_equal(peer_of(c, K3_HEX)->n_allowed_ips, 0);
	assert_string_equal(allowed_str(peer_of(c, K1_HEX)), "fd00:64::1/128,100.64.0.1/32");

	/* On a removed peer: nothing, not even to another peer's prefix. */
	set_ok(c, "public_key=" K1_HEX "\nremove=true\nallowed_ip=-100.64.6.0/24");
	assert_string_equal(allowed_str(peer_of(c, K2_HEX)), "100.64.6.0/24");
	config_free(c);
}

/* Endpoints with a zone, as `wg set ... endpoint [fe80::1%eth0]:51820` sends them (wg prints
 * the scope with getnameinfo: the interface's name), and as wireguard-go takes them: a name
 * or an index, kept as sin6_scope_id, and printed back as the name when there is one. lo is
 * index 1 in every network namespace. */
static void test_endpoint_zone(void **state)
{
	struct config *c = base_config();
	const struct config_peer *p;
	unsigned lo = if_nametoindex("lo");

	assert_int_equal(lo, 1);
	set_ok(c, "public_key=" K2_HEX "\nendpoint=[fe80::1%lo]:51820");
	p = peer_of(c, K2_HEX);
	assert_int_equal(p->endpoint.sa.sa_family, AF_INET6);
	assert_int_equal(p->endpoint.in6.sin6_scope_id, lo);
	assert_int_equal(ntohs(p->endpoint.in6.sin6_port), 51820);
	assert_string_equal(endpoint_str(p), "[fe80::1%lo]:51820");

	/* A number is an index, whether or not an interface has it now. */
	set_ok(c, "public_key=" K2_HEX "\nendpoint=[fe80::2%1]:1");
	assert_int_equal(peer_of(c, K2_HEX)->endpoint.in6.sin6_scope_id, 1);
	assert_string_equal(endpoint_str(peer_of(c, K2_HEX)), "[fe80::2%lo]:1");
	set_ok(c, "public_key=" K2_HEX "\nendpoint=[fe80::2%4294967295]:65535");
	assert_int_equal(peer_of(c, K2_HEX)->endpoint.in6.sin6_scope_id, 4294967295u);
	assert_string_equal(endpoint_str(peer_of(c, K2_HEX)), "[fe80::2%4294967295]:65535");

	/* wireguard-go takes a zone on any IPv6 address (the kernel uses it only where the
	 * address needs one). */
	set_ok(c, "public_key=" K2_HEX "\nendpoint=[fd00::2%lo]:7");
	assert_string_equal(endpoint_str(peer_of(c, K2_HEX)), "[fd00::2%lo]:7");

	/* Without a zone, none: a new endpoint does not inherit the old one's. */
	set_ok(c, "public_key=" K2_HEX "\nendpoint=[fe80::3]:7");
	assert_int_equal(peer_of(c, K2_HEX)->endpoint.in6.sin6_scope_id, 0);
	assert_string_equal(endpoint_str(peer_of(c, K2_HEX)), "[fe80::3]:7");
	config_free(c);
}

/* The longest endpoint text fits ADDR_STRLEN whole. */
static void test_endpoint_longest(void **state)
{
	static const char longest[] = "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4294967295]:65535";
	union endpoint e;
	char buf[ADDR_STRLEN];

	assert_int_equal(addr_parse_endpoint(longest, &e), 0);
	assert_string_equal(addr_endpoint_str(&e, buf), longest);
	/* The longest input (INET6_ADDRSTRLEN - 1 characters) is no problem either. */
	assert_int_equal(addr_parse_endpoint("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255%1]:1",
					     &e),
			 0);
	assert_string_equal(addr_endpoint_str(&e, buf),
			    "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%lo]:1");
}

/* The config file's Endpoint goes through the same parser (config.c, addr_resolve_endpoint):
 * a zone works there too, and an unknown interface is an error, not a name to resolve. */
static void test_config_endpoint_zone(void **state)
{
	char text[512], pub[KEY_B64_LEN];
	struct config *c;
	char buf[ADDR_STRLEN];

	b64_of_hex(pub, K1_HEX);
	snprintf(text, sizeof(text), "[Peer]\nPublicKey = %s\nEndpoint = [fe80::1%%lo]:51820\n",
		 pub);
	if (config_parse_string(text, "zone.conf", &c, err, sizeof(err)))
		fail_msg("zone.conf: %s", err);
	assert_int_equal(c->peers[0].endpoint.in6.sin6_scope_id, 1);
	assert_string_equal(addr_endpoint_str(&c->peers[0].endpoint, buf), "[fe80::1%lo]:51820");
	config_free(c);

	snprintf(text, sizeof(text), "[Peer]\nPublicKey = %s\nEndpoint = [fe80::1%%snnosuch0]:1\n",
		 pub);
	assert_int_not_equal(config_parse_string(text, "zone.conf", &c, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "zone.conf:3"));
}

/* wireguard-go reads lines with bufio.ScanLines, which drops a '\r' before each '\n': a
 * request with CRLF lines is the same request (one '\r' only). */
static void test_crlf(void **state)
{
	struct config *c = base_config();

	set_ok(c, "listen_port=1\r\nfwmark=2\r\npublic_key=" K1_HEX "\r\n"
		  "replace_allowed_ips=true\r\nallowed_ip=100.64.0.1/32\r\n"
		  "endpoint=198.18.0.9:9\r\nprotocol_version=1\r\npublic_key=" K3_HEX "\r\n"
		  "update_only=true\r\npublic_key=" K2_HEX "\r\nremove=true\r");
	assert_int_equal(c->listen_port, 1);
	assert_int_equal(c->fwmark, 2);
	assert_int_equal(c->n_peers, 1);
	assert_string_equal(allowed_str(peer_of(c, K1_HEX)), "100.64.0.1/32");
	assert_string_equal(endpoint_str(peer_of(c, K1_HEX)), "198.18.0.9:9");
	assert_int_equal(parse_set(c, "listen_port=1\r\r"), -EINVAL);
	assert_true(has_line(err, 1));
	config_free(c);
}

/* --- malformed requests --- */

struct bad {
	const char *req;
	int ret;
	int line;
	const char *what; /* must appear in err */
};

static const struct bad bad_requests[] = {
	/* Syntax: a line without '=' is a protocol error to wireguard-go (ipcErrorProtocol) */
	{ "listen_port", -EPROTO, 1, "no '='" },
	{ "listen_port=1\nfwmark", -EPROTO, 2, "no '='" },
	{ "public_key=" K1_HEX "\nendpoint", -EPROTO, 2, "no '='" },
	{ "public_key=" K1_HEX "\nremove=true\nendpoint", -EPROTO, 3, "no '='" },
	{ "=1", -EINVAL, 1, "unknown key" },
	{ " listen_port=1", -EINVAL, 1, "unknown key" },
	{ "listen_port =1", -EINVAL, 1, "unknown key" },
	{ "Listen_Port=1", -EINVAL, 1, "unknown key" },
	{ "bogus=1", -EINVAL, 1, "unknown key" },
	{ "get=1", -EINVAL, 1, "unknown key" },
	{ "set=1", -EINVAL, 1, "unknown key" },
	{ "listen_port=1\nbogus=1", -EINVAL, 2, "unknown key" },
	/* Peer keys before any public_key, interface keys after one */
	{ "allowed_ip=100.64.0.1/32", -EINVAL, 1, "unknown key" },
	{ "remove=true", -EINVAL, 1, "unknown key" },
	{ "update_only=true", -EINVAL, 1, "unknown key" },
	{ "protocol_version=1", -EINVAL, 1, "unknown key" },
	{ "public_key=" K1_HEX "\nbogus=1", -EINVAL, 2, "unknown peer key" },
	{ "public_key=" K1_HEX "\nlisten_port=1", -EINVAL, 2, "unknown peer key" },
	{ "public_key=" K1_HEX "\nprivate_key=" PRIV_HEX, -EINVAL, 2, "unknown peer key" },
	{ "public_key=" K1_HEX "\nreplace_peers=true", -EINVAL, 2, "unknown peer key" },
	{ "public_key=" K1_HEX "\nPublic_Key=" K1_HEX, -EINVAL, 2, "unknown peer key" },
	/* A removed or skipped peer's lines must still be known keys */
	{ "public_key=" K1_HEX "\nremove=true\nbogus=1", -EINVAL, 3, "unknown peer key" },
	{ "public_key=" K1_HEX "\nremove=true\nlisten_port=1", -EINVAL, 3, "unknown peer key" },
	{ "public_key=" K3_HEX "\nupdate_only=true\nbogus=1", -EINVAL, 3, "unknown peer key" },
	{ "public_key=" K3_HEX "\nremove=true\nendpoint=1.2.3.4:5\nfoo=bar", -EINVAL, 4,
	  "unknown peer key" },
	{ "public_key=" K1_HEX "\nremove=true\nremove=yes", -EINVAL, 3, "remove" },
	/* Keys: 64 hex digits */
	{ "private_key=" X2(X4(X4("11"))) "1", -EINVAL, 1, "private_key" },
	{ "private_key=" PRIV_HEX "1", -EINVAL, 1, "private_key" },
	{ "private_key=" HEX_OF("1") HEX_OF("1") "\r\r", -EINVAL, 1, "private_key" },
	{ "private_key=", -EINVAL, 1, "private_key" },
	{ "private_key=" HEX_OF("g1"), -EINVAL, 1, "private_key" },
	{ "private_key=" HEX_OF("1 "), -EINVAL, 1, "private_key" },
	{ "private_key=0x" X2(X4(X4("11"))), -EINVAL, 1, "private_key" },
	{ "private_key=" HEX_OF("1:"), -EINVAL, 1, "private_key" },
	/* base64, as in a config file, is not the control socket's form */
	{ "private_key=SEhISEhISEhISEhISEhISEhISEhISEhISEhISEhISEg=", -EINVAL, 1, "private_key" },
	{ "public_key=" HEX_OF("2") HEX_OF("2") "2", -EINVAL, 1, "public_key" },
	{ "public_key=" HEX_OF("2") "2", -EINVAL, 1, "public_key" },
	{ "public_key=", -EINVAL, 1, "public_key" },
	{ "public_key=" HEX_OF("zz"), -EINVAL, 1, "public_key" },
	{ "public_key=" K1_HEX "\npublic_key=" HEX_OF("-1"), -EINVAL, 2, "public_key" },
	{ "public_key=" K1_HEX "\npreshared_key=" HEX_OF("5"), -EINVAL, 2, "preshared_key" },
	{ "public_key=" K1_HEX "\npreshared_key=" PSK_HEX "0", -EINVAL, 2, "preshared_key" },
	{ "public_key=" K1_HEX "\npreshared_key=", -EINVAL, 2, "preshared_key" },
	{ "public_key=" K1_HEX "\npreshared_key=" HEX_OF("x5"), -EINVAL, 2, "preshared_key" },
	/* Numbers: plain decimal, in range */
	{ "listen_port=65536", -EINVAL, 1, "listen_port" },
	{ "listen_port=-1", -EINVAL, 1, "listen_port" },
	{ "listen_port=1e3", -EINVAL, 1, "listen_port" },
	{ "listen_port=", -EINVAL, 1, "listen_port" },
	{ "listen_port=+1", -EINVAL, 1, "listen_port" },
	{ "listen_port= 1", -EINVAL, 1, "listen_port" },
	{ "listen_port=1 ", -EINVAL, 1, "listen_port" },
	{ "listen_port=0x10", -EINVAL, 1, "listen_port" },
	{ "listen_port=1.0", -EINVAL, 1, "listen_port" },
	{ "listen_port=99999999999999999999999", -EINVAL, 1, "listen_port" },
	{ "listen_port=18446744073709551617", -EINVAL, 1, "listen_port" },
	{ "listen_port=51820\r\r", -EINVAL, 1, "listen_port" },
	{ "fwmark=4294967296", -EINVAL, 1, "fwmark" },
	{ "fwmark=-1", -EINVAL, 1, "fwmark" },
	{ "fwmark=0x1", -EINVAL, 1, "fwmark" },
	{ "fwmark=", -EINVAL, 1, "fwmark" },
	{ "fwmark=off", -EINVAL, 1, "fwmark" },
	{ "public_key=" K1_HEX "\npersistent_keepalive_interval=65536", -EINVAL, 2, "keepalive" },
	{ "public_key=" K1_HEX "\npersistent_keepalive_interval=-1", -EINVAL, 2, "keepalive" },
	{ "public_key=" K1_HEX "\npersistent_keepalive_interval=", -EINVAL, 2, "keepalive" },
	{ "public_key=" K1_HEX "\npersistent_keepalive_interval=1e3", -EINVAL, 2, "keepalive" },
	{ "public_key=" K1_HEX "\npersistent_keepalive_interval=+5", -EINVAL, 2, "keepalive" },
	{ "public_key=" K1_HEX "\npersistent_keepalive_interval=off", -EINVAL, 2, "keepalive" },
	{ "public_key=" K1_HEX "\npersistent_keepalive_interval= 5", -EINVAL, 2, "keepalive" },
	/* Booleans: only "true" */
	{ "replace_peers=false", -EINVAL, 1, "replace_peers" },
	{ "replace_peers=1", -EINVAL, 1, "replace_peers" },
	{ "replace_peers=TRUE", -EINVAL, 1, "replace_peers" },
	{ "replace_peers=", -EINVAL, 1, "replace_peers" },
	{ "public_key=" K1_HEX "\nremove=yes", -EINVAL, 2, "remove" },
	{ "public_key=" K1_HEX "\nremove=false", -EINVAL, 2, "remove" },
	{ "public_key=" K1_HEX "\nremove=", -EINVAL, 2, "remove" },
	{ "public_key=" K1_HEX "\nupdate_only=false", -EINVAL, 2, "update_only" },
	{ "public_key=" K3_HEX "\nupdate_only=1", -EINVAL, 2, "update_only" },
	{ "public_key=" K1_HEX "\nreplace_allowed_ips=false", -EINVAL, 2, "replace_allowed_ips" },
	{ "public_key=" K1_HEX "\nreplace_allowed_ips=yes", -EINVAL, 2, "replace_allowed_ips" },
	/* Prefixes */
	{ "public_key=" K1_HEX "\nallowed_ip=100.64.0.1/33", -EINVAL, 2, "allowed_ip" },
	{ "public_key=" K1_HEX "\nallowed_ip=fd00::/129", -EINVAL, 2, "allowed_ip" },
	{ "public_key=" K1_HEX "\nallowed_ip=100.64.0.1", -EINVAL, 2, "allowed_ip" },
	{ "public_key=" K1_HEX "\nallowed_ip=fd00::1", -EINVAL, 2, "allowed_ip" },
	{ "public_key=" K1_HEX "\nallowed_ip=/", -EINVAL, 2, "allowed_ip" },
	{ "public_key=" K1_HEX "\nallowed_ip=/24", -EINVAL, 2, "allowed_ip" },
	{ "public_key=" K1_HEX "\nallowed_ip=100.64.0.1/", -EINVAL, 2, "allowed_ip" },
	{ "public_key=" K1_HEX "\nallowed_ip=", -EINVAL, 2, "allowed_ip" },
	{ "public_key=" K1_HEX "\nallowed_ip=garbage/24", -EINVAL, 2, "allowed_ip" },
	{ "public_key=" K1_HEX "\nallowed_ip=100.64.0.256/32", -EINVAL, 2, "allowed_ip" },
	{ "public_key=" K1_HEX "\nallowed_ip=100.64.0/24", -EINVAL, 2, "allowed_ip" },
	{ "public_key=" K1_HEX "\nallowed_ip=100.64.0.1/-1", -EINVAL, 2, "allowed_ip" },
	{ "public_key=" K1_HEX "\nallowed_ip=100.64.0.1/+8", -EINVAL, 2, "allowed_ip" },
	{ "public_key=" K1_HEX "\nallowed_ip=100.64.0.1/ 8", -EINVAL, 2, "allowed_ip" },
	{ "public_key=" K1_HEX "\nallowed_ip=100.64.0.1/8 ", -EINVAL, 2, "allowed_ip" },
	{ "public_key=" K1_HEX "\nallowed_ip= 100.64.0.1/8", -EINVAL, 2, "allowed_ip" },
	{ "public_key=" K1_HEX "\nallowed_ip=100.64.0.1/24/8", -EINVAL, 2, "allowed_ip" },
	{ "public_key=" K1_HEX "\nallowed_ip=100.64.0.0/24,100.64.1.0/24", -EINVAL, 2,
	  "allowed_ip" },
	{ "public_key=" K1_HEX "\nallowed_ip=[fd00::]/64", -EINVAL, 2, "allowed_ip" },
	/* Removal: one '-' then a prefix; there is no '+' in the protocol (wg strips it) */
	{ "public_key=" K1_HEX "\nallowed_ip=-", -EINVAL, 2, "allowed_ip" },
	{ "public_key=" K1_HEX "\nallowed_ip=-/32", -EINVAL, 2, "allowed_ip" },
	{ "public_key=" K1_HEX "\nallowed_ip=--100.64.0.1/32", -EINVAL, 2, "allowed_ip" },
	{ "public_key=" K1_HEX "\nallowed_ip=-100.64.0.1", -EINVAL, 2, "allowed_ip" },
	{ "public_key=" K1_HEX "\nallowed_ip=-100.64.0.1/33", -EINVAL, 2, "allowed_ip" },
	{ "public_key=" K1_HEX "\nallowed_ip=- 100.64.0.1/32", -EINVAL, 2, "allowed_ip" },
	{ "public_key=" K1_HEX "\nallowed_ip=+100.64.0.1/32", -EINVAL, 2, "allowed_ip" },
	{ "public_key=" K1_HEX "\nallowed_ip=100.64.0.1/-32", -EINVAL, 2, "allowed_ip" },
	{ "public_key=" K3_HEX "\nupdate_only=true\nallowed_ip=-x/1", -EINVAL, 3, "allowed_ip" },
	/* A zone is for a prefix no more than for wireguard-go's netip.ParsePrefix */
	{ "public_key=" K1_HEX "\nallowed_ip=fe80::/64%lo", -EINVAL, 2, "allowed_ip" },
	{ "public_key=" K1_HEX "\nallowed_ip=fe80::%lo/64", -EINVAL, 2, "allowed_ip" },
	/* Endpoints: numeric, with a port in 1..65535, IPv6 in brackets */
	{ "public_key=" K1_HEX "\nendpoint=198.18.0.1", -EINVAL, 2, "endpoint" },
	{ "public_key=" K1_HEX "\nendpoint=198.18.0.1:", -EINVAL, 2, "endpoint" },
	{ "public_key=" K1_HEX "\nendpoint=:51820", -EINVAL, 2, "endpoint" },
	{ "public_key=" K1_HEX "\nendpoint=198.18.0.1:0", -EINVAL, 2, "endpoint" },
	{ "public_key=" K1_HEX "\nendpoint=198.18.0.1:70000", -EINVAL, 2, "endpoint" },
	{ "public_key=" K1_HEX "\nendpoint=198.18.0.1:65536", -EINVAL, 2, "endpoint" },
	{ "public_key=" K1_HEX "\nendpoint=198.18.0.1:-1", -EINVAL, 2, "endpoint" },
	{ "public_key=" K1_HEX "\nendpoint=198.18.0.1:+1", -EINVAL, 2, "endpoint" },
	{ "public_key=" K1_HEX "\nendpoint=198.18.0.1:1x", -EINVAL, 2, "endpoint" },
	{ "public_key=" K1_HEX "\nendpoint=fd00::1:51820", -EINVAL, 2, "endpoint" },
	{ "public_key=" K1_HEX "\nendpoint=[fd00::1]", -EINVAL, 2, "endpoint" },
	{ "public_key=" K1_HEX "\nendpoint=[fd00::1]51820", -EINVAL, 2, "endpoint" },
	{ "public_key=" K1_HEX "\nendpoint=[fd00::1:51820", -EINVAL, 2, "endpoint" },
	{ "public_key=" K1_HEX "\nendpoint=[fd00::1]:0", -EINVAL, 2, "endpoint" },
	{ "public_key=" K1_HEX "\nendpoint=[]:1", -EINVAL, 2, "endpoint" },
	{ "public_key=" K1_HEX "\nendpoint=", -EINVAL, 2, "endpoint" },
	{ "public_key=" K1_HEX "\nendpoint=198.18.0.256:1", -EINVAL, 2, "endpoint" },
	/* Brackets for IPv6 only (netip.ParseAddrPort) */
	{ "public_key=" K1_HEX "\nendpoint=[198.18.0.1]:1", -EINVAL, 2, "endpoint" },
	{ "public_key=" K1_HEX "\nendpoint=[::ffff:198.18.0.1:1", -EINVAL, 2, "endpoint" },
	/* Zones: IPv6 only, not empty, an interface that exists or an index up to 2^32-1 */
	{ "public_key=" K1_HEX "\nendpoint=[fe80::1%]:1", -EINVAL, 2, "endpoint" },
	{ "public_key=" K1_HEX "\nendpoint=[fe80::1%snnosuch0]:1", -EINVAL, 2,
	  "no such interface" },
	{ "public_key=" K1_HEX "\nendpoint=[fe80::1%4294967296]:1", -EINVAL, 2, "endpoint" },
	{ "public_key=" K1_HEX "\nendpoint=[fe80::1%-1]:1", -EINVAL, 2, "endpoint" },
	{ "public_key=" K1_HEX "\nendpoint=[fe80::1%+1]:1", -EINVAL, 2, "endpoint" },
	{ "public_key=" K1_HEX "\nendpoint=[fe80::1%1x]:1", -EINVAL, 2, "endpoint" },
	{ "public_key=" K1_HEX "\nendpoint=[fe80::1%lo%lo]:1", -EINVAL, 2, "endpoint" },
	{ "public_key=" K1_HEX "\nendpoint=[fe80::1%lo]", -EINVAL, 2, "endpoint" },
	{ "public_key=" K1_HEX "\nendpoint=[%lo]:1", -EINVAL, 2, "endpoint" },
	{ "public_key=" K1_HEX "\nendpoint=fe80::1%lo:1", -EINVAL, 2, "endpoint" },
	{ "public_key=" K1_HEX "\nendpoint=198.18.0.1%lo:1", -EINVAL, 2, "endpoint" },
	{ "public_key=" K1_HEX "\nendpoint=[fe80::1%" X4("lo") X4("lo") "]:1", -EINVAL, 2,
	  "endpoint" },
	/* No name resolution on the control socket: wg resolves before it sends. */
	{ "public_key=" K1_HEX "\nendpoint=localhost:51820", -EINVAL, 2, "endpoint" },
	/* Protocol version: -EINVAL, as wireguard-go answers */
	{ "public_key=" K1_HEX "\nprotocol_version=2", -EINVAL, 2, "protocol_version" },
	{ "public_key=" K1_HEX "\nprotocol_version=0", -EINVAL, 2, "protocol_version" },
	{ "public_key=" K1_HEX "\nprotocol_version=", -EINVAL, 2, "protocol_version" },
	{ "public_key=" K1_HEX "\nprotocol_version=01", -EINVAL, 2, "protocol_version" },
	{ "public_key=" K1_HEX "\nprotocol_version=1\r\r", -EINVAL, 2, "protocol_version" },
	/* CR: only one, at the end of a line, is dropped */
	{ "listen_port=1\r\r\nfwmark=1\r\n", -EINVAL, 1, "listen_port" },
	{ "public_key=" K1_HEX "\r\r\nallowed_ip=100.64.0.1/32\r\n", -EINVAL, 1, "public_key" },
	{ "listen_port\r=1", -EINVAL, 1, "unknown key" },
	/* An error after good lines names the right line */
	{ "listen_port=1\nfwmark=2\npublic_key=" K1_HEX "\nallowed_ip=100.64.9.0/24\n"
	  "public_key=" K2_HEX "\nendpoint=198.18.0.2:1\nallowed_ip=100.64.0.1/33",
	  -EINVAL, 7, "allowed_ip" },
};

static void test_bad_requests(void **state)
{
	for (size_t i = 0; i < sizeof(bad_requests) / sizeof(bad_requests[0]); i++) {
		const struct bad *b = &bad_requests[i];
		struct config *c = base_config();
		int ret = parse_set(c, b->req);

		config_free(c);
		if (ret != b->ret)
			fail_msg("case %zu \"%s\": returned %d, expected %d (err \"%s\")", i,
				 b->req, ret, b->ret, err);
		if (!has_line(err, b->line))
			fail_msg("case %zu \"%s\": err \"%s\" does not start with \"line %d: \"", i,
				 b->req, err, b->line);
		if (!strstr(err, b->what))
			fail_msg("case %zu \"%s\": err \"%s\" does not mention \"%s\"", i, b->req,
				 err, b->what);
	}
}

/* The whole message, for one key of each kind of value (the kinds are read in one place,
 * uapi_set.c's read_value()) and the keys checked on their own: what `wg set` prints. */
static void test_messages(void **state)
{
	static const struct {
		const char *req, *err;
	} cases[] = {
		{ "listen_port=65536", "line 1: listen_port: bad port \"65536\"" },
		{ "fwmark=off", "line 1: fwmark: bad mark \"off\"" },
		{ "public_key=" K1_HEX "\npersistent_keepalive_interval=x",
		  "line 2: persistent_keepalive_interval: bad value \"x\"" },
		{ "replace_rules=1", "line 1: replace_rules: only \"true\"" },
		{ "public_key=" K1_HEX "\nreplace_groups=yes",
		  "line 2: replace_groups: only \"true\"" },
		{ "public_key=" K1_HEX "\nupdate_only=false",
		  "line 2: update_only: only \"true\"" },
		{ "private_key=00", "line 1: private_key: not 64 hex digits" },
		{ "public_key=" K1_HEX "\npreshared_key=zz",
		  "line 2: preshared_key: not 64 hex digits" },
		{ "public_key=" K1_HEX "\npublic_key=1", "line 2: public_key: not 64 hex digits" },
		{ "listen_port=1\nbogus=1", "line 2: unknown key \"bogus\"" },
		{ "public_key=" K1_HEX "\nfwmark=1", "line 2: unknown peer key \"fwmark\"" },
		{ "public_key=" K3_HEX "\nremove=true\nbogus=1",
		  "line 3: unknown peer key \"bogus\"" },
		{ "public_key=" K1_HEX "\nendpoint=1.2.3.4",
		  "line 2: endpoint: bad address \"1.2.3.4\"" },
		{ "public_key=" K1_HEX "\nallowed_ip=-1.2.3.4",
		  "line 2: allowed_ip: bad prefix \"-1.2.3.4\"" },
		{ "public_key=" K1_HEX "\ngroup=a b", "line 2: group: bad name \"a b\"" },
		{ "public_key=" K1_HEX "\nprotocol_version=2",
		  "line 2: protocol_version: only 1 is known" },
		{ "listen_port", "line 1: no '=' in \"listen_port\"" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config *c = base_config();

		assert_true(parse_set(c, cases[i].req) < 0);
		config_free(c);
		assert_string_equal(err, cases[i].err);
	}
}

/* A removed or skipped peer changes nothing, but its lines are still input that must make
 * sense (so says the comment in uapi_parse_set, and wireguard-go checks them against a
 * dummy peer): a malformed value after remove=true or a skipping update_only=true should be
 * refused like anywhere else. uapi_set.c only checks that the key is known there. */
static void test_skipped_peer_values_checked(void **state)
{
	static const char *const reqs[] = {
		"public_key=" K1_HEX "\nremove=true\nallowed_ip=100.64.0.1/40",
		"public_key=" K1_HEX "\nremove=true\nendpoint=nonsense",
		"public_key=" K1_HEX "\nremove=true\npreshared_key=xyz",
		"public_key=" K1_HEX "\nremove=true\npersistent_keepalive_interval=-1",
		"public_key=" K1_HEX "\nremove=true\nreplace_allowed_ips=false",
		"public_key=" K3_HEX "\nupdate_only=true\nallowed_ip=garbage",
		"public_key=" K3_HEX "\nupdate_only=true\nprotocol_version=2",
	};

	size_t n_bad = 0;

	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		struct config *c = base_config();
		int ret = parse_set(c, reqs[i]);

		config_free(c);
		if (ret < 0 && has_line(err, 3))
			continue;
		print_error("\"%s\": returned %d (err \"%s\"), expected an error on line 3\n",
			    reqs[i], ret, err);
		n_bad++;
	}
	if (n_bad)
		fail_msg("%zu malformed lines of skipped peers accepted", n_bad);
}

/* Lines far longer than any buffer in the parser, with no limit other than the request's. */
static void test_long_lines(void **state)
{
	static const char *const heads[] = {
		"",                                           /* no '=' at all: -EPROTO */
		"x",                                          /* the same, from a letter: -EPROTO */
		"listen_port=",                               /* digits overflow */
		"private_key=",                               /* key far too long */
		"public_key=" K1_HEX "\nallowed_ip=",         /* prefix */
		"public_key=" K1_HEX "\nendpoint=",           /* endpoint */
		"public_key=" K1_HEX "\nendpoint=[",          /* bracketed, never closed */
		"public_key=" K1_HEX "\nallowed_ip=1.2.3.4/", /* huge cidr */
	};
	const size_t fill = 100000;

	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		size_t hl = strlen(heads[i]);
		char *req = malloc(hl + fill + 1);
		struct config *c = base_config();
		int ret, line = strchr(heads[i], '\n') ? 2 : 1;

		assert_non_null(req);
		memcpy(req, heads[i], hl);
		memset(req + hl, i == 0 || i == 1 ? 'k' : '1', fill);
		req[hl + fill] = '\0';
		ret = parse_set(c, req);
		if (ret != (i <= 1 ? -EPROTO : -EINVAL) || !has_line(err, line))
			fail_msg("long line %zu: returned %d, err \"%s\"", i, ret, err);
		assert_true(strlen(err) < sizeof(err));
		free(req);
		config_free(c);
	}
}

/* err may be NULL or tiny (a fuzzer, a caller that only wants the code). */
static void test_err_buffer(void **state)
{
	struct config *c = base_config();
	char small[8];
	char *req = strdup("public_key=" K1_HEX "\nallowed_ip=100.64.0.1/33");

	assert_non_null(req);
	assert_int_equal(uapi_parse_set(c, req, NULL, 0), -EINVAL);
	free(req);
	req = strdup("public_key=" K1_HEX "\nallowed_ip=100.64.0.1/33");
	memset(small, 'Z', sizeof(small));
	assert_int_equal(uapi_parse_set(c, req, small, sizeof(small)), -EINVAL);
	assert_string_equal(small, "line 2:");
	free(req);
	req = strdup("nonsense");
	small[0] = 'Z';
	assert_int_equal(uapi_parse_set(c, req, small, 1), -EPROTO);
	assert_int_equal(small[0], '\0');
	free(req);
	config_free(c);
}

/* Out of memory in the middle: the error comes back, the config stays freeable and
 * consistent (ASan checks the rest). */
static void test_enomem(void **state)
{
	struct config *c = base_config();

	realloc_budget = 0;
	assert_int_equal(parse_set(c, "listen_port=7\npublic_key=" K3_HEX), -ENOMEM);
	realloc_budget = -1;
	assert_int_equal(c->n_peers, 2);
	assert_int_equal(peer_index(c, K3_HEX), -1);

	realloc_budget = 0;
	assert_int_equal(parse_set(c, "public_key=" K1_HEX "\nallowed_ip=100.64.9.0/24"), -ENOMEM);
	realloc_budget = -1;
	assert_string_equal(allowed_str(peer_of(c, K1_HEX)), "100.64.0.1/32,fd00:64::1/128");

	/* A new peer that needs more room fails: those before stay, complete. The budget: the
	 * parse's two index tables, room for K3 (and one more: room doubles), K3's prefix. */
	realloc_budget = 4;
	assert_int_equal(parse_set(c, "public_key=" K3_HEX "\nallowed_ip=100.64.0.3/32\n"
				      "public_key=" HEX_OF("44") "\npublic_key=" HEX_OF("55")),
			 -ENOMEM);
	realloc_budget = -1;
	assert_int_equal(c->n_peers, 4);
	assert_string_equal(allowed_str(peer_of(c, K3_HEX)), "100.64.0.3/32");
	config_free(c);
}

/* set=1 is all or nothing because the daemon parses into a copy and drops it on error:
 * uapi_parse_set() itself leaves the edits made before the bad line. Documented here so a
 * change to either side is noticed. */
static void test_copy_contract(void **state)
{
	struct config *orig = base_config(), *fresh = base_config(), *copy;

	copy = config_copy(orig);
	assert_true(config_same(copy, orig));
	assert_int_equal(parse_set(copy, "listen_port=1\nreplace_peers=true\npublic_key=" K3_HEX
					 "\nallowed_ip=100.64.0.1/32\nallowed_ip=100.64.0.1/99"),
			 -EINVAL);
	assert_true(has_line(err, 5));
	/* The copy was edited up to line 4... */
	assert_int_equal(copy->listen_port, 1);
	assert_int_equal(copy->n_peers, 1);
	/* ...the original was not touched. */
	assert_true(config_same(orig, fresh));
	config_free(copy);
	config_free(orig);
	config_free(fresh);
}

static int setup(void **state)
{
	uint8_t priv[KEY_LEN], pub[KEY_LEN];

	if (cipher_init())
		return -1;
	if (key_from_hex(priv, PRIV_HEX) || key_public_from_private(pub, priv))
		return -1;
	key_to_hex(own_pub_hex, pub);
	return 0;
}

/* A set of 150 peers with every kind of line (prefixes that move, peers removed, not
 * created, the own key, a line for a base peer), as the daemon sends it: in steps of a few
 * lines a turn of the event loop. Any split gives exactly what one call gives, and a bad
 * last line is refused with the same error. */
static char *big_set(bool bad_end)
{
	size_t cap = 200 * 256, len = 0;
	char *t = malloc(cap);

	assert_non_null(t);
	len += (size_t)snprintf(t + len, cap - len, "listen_port=5555\n");
	for (int i = 0; i < 150; i++) {
		char key[KEY_HEX_LEN];

		for (int j = 0; j < 16; j++)
			snprintf(key + 4 * j, 5, "%04x", i + 1);
		len += (size_t)
			snprintf(t + len, cap - len,
				 "public_key=%s\nallowed_ip=100.65.%d.%d/32\n"
				 "endpoint=198.18.%d.%d:%d\npersistent_keepalive_interval=%d\n",
				 key, i / 200, i % 200, i / 200, i % 200, 1000 + i, i % 30);
		if (i % 10 == 9) /* the prefix of the one before moves here */
			len += (size_t)snprintf(t + len, cap - len, "allowed_ip=100.65.0.%d/32\n",
						i - 1);
		if (i % 13 == 12)
			len += (size_t)snprintf(t + len, cap - len,
						"remove=true\nallowed_ip=1.2.3.4/32\n");
		if (i % 17 == 16)
			len += (size_t)snprintf(t + len, cap - len, "update_only=true\n");
		if (i == 70)
			len += (size_t)snprintf(t + len, cap - len,
						"public_key=%s\nallowed_ip=100.65.9.9/32\n"
						"public_key=" K1_HEX "\nreplace_allowed_ips=true\n"
						"allowed_ip=100.65.0.5/32\n",
						own_pub_hex);
	}
	if (bad_end)
		len += (size_t)snprintf(t + len, cap - len, "allowed_ip=100.65.0.0/33\n");
	assert_true(len < cap - 1);
	return t;
}

/* The request parsed in steps of `lines` (SIZE_MAX: one call), into a fresh base config. */
static int parse_steps(const char *request, size_t lines, struct config **out, char *why,
		       size_t whylen)
{
	struct uapi_set_parse *sp;
	char *buf = strdup(request);
	int ret, steps = 0;

	assert_non_null(buf);
	*out = base_config();
	assert_int_equal(uapi_set_parse_new(*out, (*out)->n_peers, buf, &sp), 0);
	while ((ret = uapi_set_parse_step(sp, lines, why, whylen)) == 1)
		steps++;
	uapi_set_parse_free(sp);
	free(buf);
	if (lines == SIZE_MAX)
		assert_int_equal(steps, 0);
	else if (lines == 1)
		assert_true(steps > 600); /* it did go a line at a time */
	return ret;
}

static void test_parse_in_steps(void **state)
{
	static const size_t splits[] = { 1, 7, 64 };
	struct config *whole, *stepped, *c;
	char why_whole[256], why[256];
	char *req = big_set(false);

	assert_int_equal(parse_steps(req, SIZE_MAX, &whole, why_whole, sizeof(why_whole)), 0);
	/* What uapi_parse_set() makes of it, the daemon's parse before (sanity of the above). */
	c = base_config();
	set_ok(c, req);
	assert_true(config_same(c, whole));
	config_free(c);
	/* 2 base peers, 150 new, 11 removed, 8 not created. */
	assert_int_equal(whole->n_peers, 2 + 150 - 11 - 8);
	assert_int_equal(whole->listen_port, 5555);
	for (size_t i = 0; i < sizeof(splits) / sizeof(*splits); i++) {
		assert_int_equal(parse_steps(req, splits[i], &stepped, why, sizeof(why)), 0);
		assert_true(config_same(whole, stepped));
		config_free(stepped);
	}
	config_free(whole);
	free(req);

	req = big_set(true);
	assert_int_equal(parse_steps(req, SIZE_MAX, &whole, why_whole, sizeof(why_whole)), -EINVAL);
	assert_non_null(strstr(why_whole, "allowed_ip: bad prefix"));
	for (size_t i = 0; i < sizeof(splits) / sizeof(*splits); i++) {
		assert_int_equal(parse_steps(req, splits[i], &stepped, why, sizeof(why)), -EINVAL);
		assert_string_equal(why, why_whole);
		config_free(stepped);
	}
	config_free(whole);
	free(req);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_private_key),
		cmocka_unit_test(test_listen_port_fwmark),
		cmocka_unit_test(test_replace_peers),
		cmocka_unit_test(test_public_key),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_update_only),
		cmocka_unit_test(test_preshared_key),
		cmocka_unit_test(test_endpoint),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_allowed_ips),
		cmocka_unit_test(test_protocol_version),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_own_key_ignored),
		cmocka_unit_test(test_own_key_lines_checked),
		cmocka_unit_test(test_private_key_removes_own_peer),
		cmocka_unit_test(test_allowed_ip_remove),
		cmocka_unit_test(test_endpoint_zone),
		cmocka_unit_test(test_endpoint_longest),
		cmocka_unit_test(test_config_endpoint_zone),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_skipped_peer_values_checked),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_err_buffer),
		cmocka_unit_test(test_enomem),
		cmocka_unit_test(test_copy_contract),
		cmocka_unit_test(test_parse_in_steps),
	};

	return cmocka_run_group_tests_name("uapi", tests, setup, NULL);
}
