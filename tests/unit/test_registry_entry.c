/* The registry's entries (tools/registry/entry.c), the rules every node applies alike to what
 * anyone who may write under PREFIX/nodes/ can write there: the name must be the entry's own
 * key; the claims (overlay address, pod subnet) must lie in the cluster's ranges, which are
 * configuration (--cluster-cidr), so that no entry can route 8.0.0.0/8, the underlay or one
 * outside address into every node's tunnel; no endpoint may lie in those ranges, so that no
 * claim can take the way to a node; a prefix held by a peer the registry does not manage is
 * not taken; and whatever is logged from etcd is escaped. Each test starts from an entry that
 * is accepted and changes one thing, so that it fails if that one check goes.
 *
 * The file under test is included, as the fuzz targets do: it is the tool's, not
 * libsealnet's, and json-c comes with it (Makefile).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../../tools/registry/entry.c"
#include "../../tools/registry/request.c"
#include "../../tools/request.c"
#include "../../tools/registry/entries.c"

#include "config.h"
#include "uapi.h"

#define PREFIX "/sealnet/t/nodes/"

static uint8_t k1[KEY_LEN], k2[KEY_LEN];
static struct cluster_cidrs v4, dual;

static int setup(void **state)
{
	char why[160];

	(void)state;
	memset(k1, 0x11, KEY_LEN);
	memset(k2, 0x22, KEY_LEN);
	if (registry_add_cluster_cidr(&v4, "100.64.0.0/10", why, sizeof(why)) ||
	    registry_add_cluster_cidr(&dual, "100.64.0.0/10", why, sizeof(why)) ||
	    registry_add_cluster_cidr(&dual, "fd00::/8", why, sizeof(why)))
		return -1;
	return 0;
}

/* The etcd key of an entry named after name_key. */
static void entry_key(char *buf, size_t len, const uint8_t name_key[KEY_LEN])
{
	char name[REGISTRY_KEY_NAME_LEN];

	registry_key_name(name, name_key);
	snprintf(buf, len, PREFIX "%s", name);
}

/* An entry named after name_key that says it is pub, with the fields given (JSON members,
 * after public_key). */
static int parse(const uint8_t name_key[KEY_LEN], const uint8_t pub[KEY_LEN],
		 const struct cluster_cidrs *cidrs, const char *fields, struct node *n, char *why,
		 size_t why_len)
{
	char key[128], b64[KEY_B64_LEN], value[1024];

	entry_key(key, sizeof(key), name_key);
	key_to_base64(b64, pub);
	snprintf(value, sizeof(value), "{\"public_key\":\"%s\",%s}", b64, fields);
	return registry_parse_entry(PREFIX, key, value, strlen(value), cidrs, n, why, why_len);
}

#define GOOD                                                                                       \
	"\"endpoints\":[\"198.18.2.2:51820\"],\"overlay\":\"100.64.0.2\","                         \
	"\"pod_subnet\":\"100.96.2.0/24\",\"groups\":[\"web\"]"

static void accepted(const char *fields, const struct cluster_cidrs *cidrs)
{
	struct node n;
	char why[256] = "";
	int ret = parse(k1, k1, cidrs, fields, &n, why, sizeof(why));

	if (ret)
		print_error("refused: %s\n%s\n", why, fields);
	assert_int_equal(ret, 0);
}

static void refused(const char *fields, const struct cluster_cidrs *cidrs, const char *reason)
{
	struct node n;
	char why[256] = "";
	int ret = parse(k1, k1, cidrs, fields, &n, why, sizeof(why));

	if (ret != -EINVAL || !strstr(why, reason))
		print_error("%s\nexpected a refusal with \"%s\", got %d \"%s\"\n", fields, reason,
			    ret, why);
	assert_int_equal(ret, -EINVAL);
	assert_non_null(strstr(why, reason));
}

static void test_good_entry(void **state)
{
	struct node n;
	char why[256], buf[ADDR_STRLEN];

	(void)state;
	assert_int_equal(parse(k1, k1, &v4, GOOD, &n, why, sizeof(why)), 0);
	assert_memory_equal(n.public_key, k1, KEY_LEN);
	assert_string_equal(n.endpoint, "198.18.2.2:51820");
	assert_string_equal(addr_prefix_str(&n.overlay, buf), "100.64.0.2/32");
	assert_int_equal(n.n_pod_subnets, 1);
	assert_string_equal(addr_prefix_str(&n.pod_subnets[0], buf), "100.96.2.0/24");
	assert_int_equal(n.n_groups, 1);
}

/* Both keys are keys, and the entry is otherwise fine: only the name check stands between it
 * and a peer of k2 made from an entry under k1's name. */
static void test_name_is_the_key(void **state)
{
	struct node n;
	char why[256];

	(void)state;
	assert_int_equal(parse(k2, k2, &v4, GOOD, &n, why, sizeof(why)), 0);
	assert_int_equal(parse(k1, k2, &v4, GOOD, &n, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "public_key is not the key the entry is named after");
	assert_int_equal(parse(k2, k1, &v4, GOOD, &n, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "public_key is not the key the entry is named after");
}

/* The claims issue 12 found accepted: each would be routed into the tunnel of every node. */
static void test_claims_in_cluster_ranges(void **state)
{
	(void)state;
	refused("\"overlay\":\"100.64.0.2\",\"pod_subnet\":\"8.0.0.0/8\"", &v4,
		"pod_subnet 8.0.0.0/8 is outside the cluster's ranges");
	refused("\"overlay\":\"100.64.0.2\",\"pod_subnet\":\"198.18.0.0/15\"", &v4,
		"pod_subnet 198.18.0.0/15 is outside");
	refused("\"overlay\":\"1.1.1.1\"", &v4, "overlay 1.1.1.1/32 is outside");
	refused("\"overlay\":\"198.18.2.2\"", &v4, "overlay 198.18.2.2/32 is outside");
	/* Straddling the edge of the range: overlapping is not being inside. */
	refused("\"overlay\":\"100.64.0.2\",\"pod_subnet\":\"100.0.0.0/9\"", &v4,
		"pod_subnet 100.0.0.0/9 is outside");
	refused("\"overlay\":\"100.64.0.2\",\"pod_subnet\":\"100.128.0.0/24\"", &v4,
		"pod_subnet 100.128.0.0/24 is outside");
	/* A family the cluster has no range for. */
	refused("\"overlay\":\"fd00::2\"", &v4, "overlay fd00::2/128 is outside");
	refused("\"overlay\":\"100.64.0.2\",\"pod_subnet\":\"2001:db8::/64\"", &dual,
		"pod_subnet 2001:db8::/64 is outside");
	/* The width limit still holds inside a wide range. */
	refused("\"overlay\":\"fd00::2\",\"pod_subnet\":\"fd00::/16\"", &dual, "wider than /32");

	accepted("\"overlay\":\"100.64.0.2\",\"pod_subnet\":\"100.96.2.0/24\"", &v4);
	accepted("\"overlay\":\"100.127.255.255\"", &v4);
	accepted("\"overlay\":\"fd00::2\",\"pod_subnet\":\"fd00:96:2::/64\"", &dual);
}

/* An endpoint in the cluster's ranges would send the tunnel into itself, and is what would
 * let a claim, always inside them, cover a node's endpoint. */
static void test_endpoints_outside_cluster_ranges(void **state)
{
	(void)state;
	refused("\"overlay\":\"100.64.0.2\",\"endpoints\":[\"100.96.1.5:51820\"]", &v4,
		"endpoint \"100.96.1.5:51820\" is inside the cluster's range 100.64.0.0/10");
	refused("\"overlay\":\"100.64.0.2\",\"endpoints\":[\"198.18.2.2:1\","
		"\"[::ffff:100.64.0.1]:51820\"]",
		&v4, "is inside the cluster's range");
	refused("\"overlay\":\"100.64.0.2\",\"endpoints\":[\"[fd00::9]:51820\"]", &dual,
		"is inside the cluster's range fd00::/8");
	accepted("\"overlay\":\"100.64.0.2\",\"endpoints\":[\"[fd00::9]:51820\"]", &v4);
	accepted("\"overlay\":\"100.64.0.2\",\"endpoints\":[\"198.18.2.2:51820\"]", &dual);
}

static void test_cluster_cidr_option(void **state)
{
	struct cluster_cidrs c = { .n = 0 };
	char why[160];

	(void)state;
	assert_int_equal(registry_add_cluster_cidr(&c, "100.64.0.1/10", why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "host bits"));
	assert_int_equal(registry_add_cluster_cidr(&c, "0.0.0.0/0", why, sizeof(why)), -EINVAL);
	assert_int_equal(registry_add_cluster_cidr(&c, "::/0", why, sizeof(why)), -EINVAL);
	assert_int_equal(registry_add_cluster_cidr(&c, "100.64.0.1", why, sizeof(why)), -EINVAL);
	assert_int_equal(registry_add_cluster_cidr(&c, "nowhere/8", why, sizeof(why)), -EINVAL);
	assert_int_equal(c.n, 0);
	for (int i = 0; i < REGISTRY_MAX_CLUSTER_CIDRS; i++)
		assert_int_equal(registry_add_cluster_cidr(&c, "100.64.0.0/10", why, sizeof(why)),
				 0);
	assert_int_equal(registry_add_cluster_cidr(&c, "fd00::/8", why, sizeof(why)), -ENOSPC);
}

static struct ip_prefix pfx(const char *s)
{
	struct ip_prefix p;

	assert_int_equal(addr_parse_prefix(s, &p), 0);
	return p;
}

static struct node node_of(const char *overlay, const char *pod)
{
	struct node n;

	memset(&n, 0, sizeof(n));
	n.overlay = pfx(overlay);
	if (pod)
		n.pod_subnets[n.n_pod_subnets++] = pfx(pod);
	return n;
}

/* A peer configured by hand holds 100.64.9.9/32 (tests/netns/51's): WireGuard would move it
 * to the entry's peer were the entry applied. */
static void test_held_prefix_not_taken(void **state)
{
	struct node same = node_of("100.64.9.9/32", NULL);
	struct node around = node_of("100.64.0.7/32", "100.64.9.0/24");
	struct node inside = node_of("100.64.0.7/32", "100.96.7.0/24");
	struct node apart = node_of("100.64.0.7/32", "100.96.8.0/24");
	struct ip_prefix held = pfx("100.64.9.9/32"), site = pfx("100.96.4.0/22");
	char what[160];

	(void)state;
	assert_true(registry_claims_take(&same, &held, &v4, what, sizeof(what)));
	assert_string_equal(what, "100.64.9.9/32 overlaps 100.64.9.9/32");
	assert_true(registry_claims_take(&around, &held, &v4, what, sizeof(what)));
	assert_false(registry_claims_take(&apart, &held, &v4, what, sizeof(what)));
	/* A hand peer's range inside the cluster's: a claim within it takes part of it. */
	assert_true(registry_claims_take(&inside, &site, &v4, what, sizeof(what)));
	assert_string_equal(what, "100.96.7.0/24 overlaps 100.96.4.0/22");
	assert_false(registry_claims_take(&apart, &site, &v4, what, sizeof(what)));
	/* Routes that hold the whole cluster range (an exit node, a gateway to it) hold none
	 * of its addresses in particular. */
	held = pfx("0.0.0.0/0");
	assert_false(registry_claims_take(&inside, &held, &v4, what, sizeof(what)));
	held = pfx("100.64.0.0/10");
	assert_false(registry_claims_take(&inside, &held, &v4, what, sizeof(what)));
	held = pfx("100.0.0.0/8");
	assert_false(registry_claims_take(&inside, &held, &v4, what, sizeof(what)));
	held = pfx("100.96.0.0/11");
	assert_true(registry_claims_take(&inside, &held, &v4, what, sizeof(what)));
}

static void test_claims_cover(void **state)
{
	struct node wide = node_of("100.64.0.7/32", "198.18.0.0/15");
	struct ip_prefix ep = pfx("198.18.2.2");
	char what[160];

	(void)state;
	assert_true(registry_claims_cover(&wide, &ep.addr, what, sizeof(what)));
	assert_string_equal(what, "198.18.0.0/15 covers 198.18.2.2");
	ep = pfx("198.20.0.1");
	assert_false(registry_claims_cover(&wide, &ep.addr, what, sizeof(what)));
	ep = pfx("100.64.0.7");
	assert_true(registry_claims_cover(&wide, &ep.addr, what, sizeof(what)));
	ep = pfx("fd00::7");
	assert_false(registry_claims_cover(&wide, &ep.addr, what, sizeof(what)));
}

/* A dual-stack node: pod_subnet (what every version reads) and pod_subnets, the same prefix
 * in both counted once; each checked like pod_subnet; one per family. Before issue 14 an entry
 * carried one pod subnet, and a node's IPv6 pods were reachable from nowhere. */
#define DUAL "\"overlay\":\"100.64.0.2\",\"pod_subnet\":\"100.96.2.0/24\","

static void test_dual_stack_pod_subnets(void **state)
{
	struct node n, other;
	struct ip_prefix held;
	char why[256], buf[ADDR_STRLEN], what[160];

	(void)state;
	assert_int_equal(parse(k1, k1, &dual,
			       DUAL "\"pod_subnets\":[\"100.96.2.0/24\",\"fd00:96:2::/64\"]", &n,
			       why, sizeof(why)),
			 0);
	assert_int_equal(n.n_pod_subnets, 2);
	assert_string_equal(addr_prefix_str(&n.pod_subnets[0], buf), "100.96.2.0/24");
	assert_string_equal(addr_prefix_str(&n.pod_subnets[1], buf), "fd00:96:2::/64");
	/* pod_subnets alone, in either order. */
	accepted("\"overlay\":\"100.64.0.2\",\"pod_subnets\":[\"fd00:96:2::/64\",\"100.96.2.0/24\"]",
		 &dual);
	accepted("\"overlay\":\"100.64.0.2\",\"pod_subnets\":[]", &dual);
	refused(DUAL "\"pod_subnets\":[\"100.96.2.0/24\",\"fd00:96:2::/64\",\"fd00:97::/64\"]",
		&dual, "pod_subnets is not a list of at most 2");
	refused(DUAL "\"pod_subnets\":[\"100.96.3.0/24\"]", &dual,
		"pod_subnets 100.96.3.0/24: a second pod subnet of its family");
	refused(DUAL "\"pod_subnets\":[\"fd00:96:2::/64\",\"fd00:96:3::/64\"]", &dual,
		"a second pod subnet of its family");
	refused(DUAL "\"pod_subnets\":\"fd00:96:2::/64\"", &dual, "pod_subnets is not a list");
	refused(DUAL "\"pod_subnets\":[\"fd00:96:2::1/64\"]", &dual, "has host bits set");
	refused(DUAL "\"pod_subnets\":[\"fd00::/16\"]", &dual, "wider than /32");
	refused(DUAL "\"pod_subnets\":[\"2001:db8::/64\"]", &dual,
		"pod_subnets 2001:db8::/64 is outside the cluster's ranges");
	refused(DUAL "\"pod_subnets\":[42]", &dual, "pod_subnets \"\" is not a prefix");
	/* The IPv6 one is a claim like the others: it overlaps, and it covers. */
	other = node_of("100.64.0.3/32", "fd00:96:2:0:1::/80");
	assert_true(registry_claims_overlap(&other, &n, what, sizeof(what)));
	assert_string_equal(what, "fd00:96:2:0:1::/80 overlaps fd00:96:2::/64");
	other.pod_subnets[0] = pfx("fd00:96:3::/64");
	assert_false(registry_claims_overlap(&other, &n, what, sizeof(what)));
	held = pfx("fd00:96:2::7");
	assert_true(registry_claims_cover(&n, &held.addr, what, sizeof(what)));
	/* An update that adds the IPv6 subnet is a change. */
	parse(k1, k1, &dual, DUAL "\"groups\":[]", &other, why, sizeof(why));
	assert_false(registry_node_same(&n, &other));
}

/* The request the registry sends, read back by the daemon's own parser: every peer of a batch
 * far larger than the 4 KB buffer the builder once had (which stopped appending when full,
 * silently: the daemon then took a set cut short), removals, and the rules. */
static void test_request_batch(void **state)
{
	struct registry_request q = { 0 };
	struct config *c = calloc(1, sizeof(*c));
	struct node n;
	char why[256], err[256], ov[64], pods[160], *text;
	uint8_t gone[KEY_LEN];
	size_t np;

	(void)state;
	assert_non_null(c);
	memset(gone, 0x77, KEY_LEN);
	assert_null(registry_request_text(&q));
	for (int i = 0; i < 300; i++) {
		uint8_t k[KEY_LEN];

		memset(k, 0, KEY_LEN);
		k[0] = (uint8_t)(i >> 8);
		k[1] = (uint8_t)i;
		k[2] = 1;
		snprintf(ov, sizeof(ov), "\"overlay\":\"100.65.%d.%d\",", i / 256, i % 256);
		snprintf(pods, sizeof(pods),
			 "\"pod_subnets\":[\"100.%d.%d.0/24\",\"fd00:97:%x::/64\"],"
			 "\"groups\":[\"web\",\"db\"],\"endpoints\":[\"198.19.%d.%d:51820\"]",
			 112 + i / 256, i % 256, i, i / 256, i % 256);
		snprintf(why, sizeof(why), "%s%s", ov, pods);
		assert_int_equal(parse(k, k, &dual, why, &n, err, sizeof(err)), 0);
		assert_int_equal(registry_request_peer(&q, &n, i % 2, true), 0);
	}
	assert_int_equal(registry_request_remove(&q, gone), 0);
	assert_int_equal(q.n_peers, 300);
	assert_int_equal(q.n_removed, 1);
	assert_true(q.req.len > 16 * 4096);
	text = strdup(registry_request_text(&q));
	assert_non_null(text);
	assert_int_equal(strncmp(text, "set=1\n", 6), 0);
	/* The daemon's parser takes the lines after set=1. */
	assert_int_equal(uapi_parse_set(c, text + 6, err, sizeof(err)), 0);
	assert_int_equal(c->n_peers, 300);
	np = 0;
	for (size_t i = 0; i < c->n_peers; i++) {
		assert_int_equal(c->peers[i].n_allowed_ips, 3);
		np += c->peers[i].endpoint.sa.sa_family != 0;
		assert_int_equal(c->peers[i].n_groups, 2);
	}
	assert_int_equal(np, 150);
	assert_string_equal(addr_prefix_str(&c->peers[299].allowed_ips[2], ov), "fd00:97:12b::/64");
	config_free(c);
	free(text);
	registry_request_free(&q);
	assert_null(registry_request_text(&q));
}

/* A failed allocation is kept: the request can no longer be had, so none cut short is sent. */
static void test_request_fails_loudly(void **state)
{
	struct registry_request q = { 0 };
	struct node n;

	(void)state;
	memset(&n, 0, sizeof(n));
	n.overlay = pfx("100.64.0.2/32");
	assert_int_equal(registry_request_peer(&q, &n, false, false), 0);
	q.req.err = -ENOMEM; /* as request_add() leaves it when an allocation fails */
	assert_int_equal(registry_request_peer(&q, &n, false, false), -ENOMEM);
	assert_int_equal(registry_request_remove(&q, n.public_key), -ENOMEM);
	assert_int_equal(q.n_peers, 1);
	assert_null(registry_request_text(&q));
	registry_request_free(&q);
}

static void test_escape(void **state)
{
	char out[64], tiny[5];

	(void)state;
	assert_string_equal(registry_escape(out, sizeof(out), PREFIX "x\nsealnet-registry[1]"),
			    PREFIX "x\\x0asealnet-registry[1]");
	assert_string_equal(registry_escape(out, sizeof(out), "\r\t\x1b[31m\x7f"),
			    "\\x0d\\x09\\x1b[31m\\x7f");
	/* A UTF-8 C1 control (CSI) and a backslash, which would make \x0a ambiguous. */
	assert_string_equal(registry_escape(out, sizeof(out), "\xc2\x9b\\x0a"),
			    "\\xc2\\x9b\\\\x0a");
	/* Cut short, never in the middle of an escape, always terminated. */
	assert_string_equal(registry_escape(tiny, sizeof(tiny), "a\nbcdef"), "a");
	assert_string_equal(registry_escape(tiny, sizeof(tiny), "abcdefgh"), "abcd");
	assert_string_equal(registry_escape(tiny, sizeof(tiny), "ab\\cd"), "ab\\\\");
}

/* What an entry's values put into the reason a refusal gives comes back escaped. */
static void test_refusal_escaped(void **state)
{
	struct node n;
	char why[256], out[1024];

	(void)state;
	assert_int_equal(parse(k1, k1, &v4,
			       "\"overlay\":\"1\\nsealnet-registry[0] notice: sn0: forged\"", &n,
			       why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strchr(why, '\n'));
	assert_null(strchr(registry_escape(out, sizeof(out), why), '\n'));
	assert_non_null(strstr(out, "1\\x0asealnet-registry[0]"));
}

/* The keys as last read (entries.c), found through a hash: random puts and deletes, many of
 * them of keys that collide in a small table, against a plain array searched the slow way. */
static void test_entries_index(void **state)
{
	enum { KEYS = 300 };
	struct entry_list l = { 0 };
	int64_t naive[KEYS]; /* the mod_revision each key has, 0 absent */
	char key[64], value[32];
	uint32_t seed = 7;
	size_t present = 0;

	(void)state;
	memset(naive, 0, sizeof(naive));
	for (int64_t rev = 1; rev <= 20000; rev++) {
		size_t k;
		struct entry *e;

		seed = seed * 1103515245u + 12345u;
		k = (seed >> 8) % KEYS;
		snprintf(key, sizeof(key), PREFIX "k%zu", k);
		if ((seed >> 20) % 3 == 0) {
			e = entries_find(&l, key);
			assert_int_equal(e != NULL, naive[k] != 0);
			if (e) {
				entries_drop(&l, e);
				naive[k] = 0;
				present--;
			}
		} else {
			struct etcd_kv kv = { key, value, 0, rev, rev, 0 };

			snprintf(value, sizeof(value), "v%lld", (long long)rev);
			present += !naive[k];
			assert_int_equal(entries_store(&l, &kv), 0);
			naive[k] = rev;
		}
		assert_int_equal(l.n, present);
	}
	for (size_t k = 0; k < KEYS; k++) {
		struct entry *e;

		snprintf(key, sizeof(key), PREFIX "k%zu", k);
		e = entries_find(&l, key);
		assert_int_equal(e != NULL, naive[k] != 0);
		if (e) {
			assert_string_equal(e->key, key);
			assert_int_equal(e->mod_revision, naive[k]);
			snprintf(value, sizeof(value), "v%lld", (long long)naive[k]);
			assert_string_equal(e->value, value);
		}
	}
	entries_free(&l);
	assert_null(entries_find(&l, key));
}

/* Groups as the daemon takes them (firewall_group_name_ok, CONFIG_MAX_GROUPS): what an entry
 * may carry is what a peer of the daemon may have, no rule of the registry's own. */
static void test_groups_as_the_daemon_takes_them(void **state)
{
	static const char *const names[] = { "web",
					     "a-b_c.d",
					     "b@d",
					     "",
					     "with space",
					     "é",
					     "0123456789012345678901234567890",
					     "01234567890123456789012345678901" };
	char fields[1024];
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(fields, sizeof(fields), "\"overlay\":\"100.64.0.2\",\"groups\":[\"%s\"]",
			 names[i]);
		if (firewall_group_name_ok(names[i]))
			accepted(fields, &v4);
		else
			refused(fields, &v4, "is not a name");
	}
	assert_true(firewall_group_name_ok("0123456789012345678901234567890"));
	assert_false(firewall_group_name_ok("01234567890123456789012345678901"));
	/* As many as a peer may have, and no more. */
	len = (size_t)snprintf(fields, sizeof(fields), "\"overlay\":\"100.64.0.2\",\"groups\":[");
	for (int i = 0; i < CONFIG_MAX_GROUPS; i++)
		len += (size_t)snprintf(fields + len, sizeof(fields) - len, "%s\"g%d\"",
					i ? "," : "", i);
	snprintf(fields + len, sizeof(fields) - len, "]");
	accepted(fields, &v4);
	snprintf(fields + len, sizeof(fields) - len, ",\"one-more\"]");
	refused(fields, &v4, "groups is not a list of at most 16");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_entry),
		cmocka_unit_test(test_name_is_the_key),
		cmocka_unit_test(test_claims_in_cluster_ranges),
		cmocka_unit_test(test_endpoints_outside_cluster_ranges),
		cmocka_unit_test(test_cluster_cidr_option),
		cmocka_unit_test(test_held_prefix_not_taken),
		cmocka_unit_test(test_claims_cover),
		cmocka_unit_test(test_dual_stack_pod_subnets),
		cmocka_unit_test(test_request_batch),
		cmocka_unit_test(test_request_fails_loudly),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_refusal_escaped),
		cmocka_unit_test(test_entries_index),
		cmocka_unit_test(test_groups_as_the_daemon_takes_them),
	};

	return cmocka_run_group_tests_name("registry", tests, setup, NULL);
}
