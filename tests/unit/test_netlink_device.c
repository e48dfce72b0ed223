/* The daemon's routes through netlink_batch(): device_apply() on a real TUN, in a fresh
 * anonymous network namespace (as test_netlink.c; skipped without root), with a forward
 * (netlink_set_forward()) standing in for the helper of a dropped daemon: it counts the
 * requests and runs them on a socket of its own, and can refuse one route as a kernel might.
 * What the kernel holds is read back by a dump of its own.
 *
 * Checked: a config's routes go in batches, not one request each; a route that exists already
 * is left alone; an add refused in the middle of a batch fails the apply, and the rollback
 * removes exactly the routes that were added, those after it in its batch too; a change of
 * table moves every route, and a failed one moves them back. */
#define _GNU_SOURCE /* unshare() */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <event2/event.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "config.h"
#include "device.h"
#include "key.h"
#include "log.h"
#include "netlink.h"
#include "nldump.h"

static bool in_netns;
static struct event_base *base;
static struct netlink *helper_nl; /* the stand-in helper's socket */

/* What the stand-in helper saw, and the route it refuses (-EACCES) without running it: the
 * prefix refuse, in table refuse_table. */
static size_t route_calls, route_reqs, biggest;
static struct ip_prefix refuse;
static uint32_t refuse_table;
static bool refusing;

static bool is_route(const struct netlink_req *r)
{
	return r->op == NETLINK_OP_ROUTE_ADD || r->op == NETLINK_OP_ROUTE_DEL;
}

static bool refused(const struct netlink_req *r)
{
	return refusing && r->op == NETLINK_OP_ROUTE_ADD && r->value == refuse_table &&
	       r->family == refuse.addr.family && r->cidr == refuse.cidr &&
	       !memcmp(r->addr, refuse.addr.bytes, 4);
}

static int stand_in_helper(const struct netlink_req *reqs, size_t n, int *results)
{
	struct netlink_req run[NETLINK_BATCH_MAX];
	int out[NETLINK_BATCH_MAX];
	size_t k = 0;
	int ret = 0;

	assert_true(n >= 1 && n <= NETLINK_BATCH_MAX);
	if (is_route(&reqs[0])) {
		route_calls++;
		route_reqs += n;
		biggest = n > biggest ? n : biggest;
	}
	for (size_t i = 0; i < n; i++)
		if (!refused(&reqs[i]))
			run[k++] = reqs[i];
	if (k)
		ret = netlink_batch_run(helper_nl, run, k, out);
	k = 0;
	for (size_t i = 0; i < n; i++)
		results[i] = refused(&reqs[i]) ? -EACCES : out[k++];
	return ret;
}

static int group_setup(void **state)
{
	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0)
		return 0;
	in_netns = true;
	log_init("test_netlink_device", true, LOG_WARNING);
	base = event_base_new();
	if (sodium_init() < 0 || !base || netlink_open(&helper_nl))
		return -1;
	netlink_set_forward(stand_in_helper);
	return 0;
}

static int group_teardown(void **state)
{
	netlink_set_forward(NULL);
	netlink_close(helper_nl);
	if (base)
		event_base_free(base);
	return 0;
}

static int setup(void **state)
{
	struct device *dev;

	*state = NULL;
	if (!in_netns)
		return 0;
	route_calls = route_reqs = biggest = 0;
	refusing = false;
	if (device_new(base, "sndev%d", 0, &dev))
		return -1;
	*state = dev;
	return 0;
}

/* device_free() removes our routes; closing the TUN, anything left. */
static int teardown(void **state)
{
	device_free(*state);
	return 0;
}

#define NEED_NETNS(dev)                                                                            \
	do {                                                                                       \
		if (!(dev))                                                                        \
			skip();                                                                    \
	} while (0)

/* The routes through the TUN, as "TABLE A.B.C.D/N" lines, from a dump of our own. */
struct routes {
	int ifindex;
	char text[64 * 1024];
	size_t len, n;
};

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[64] = { NULL };
	struct routes *r = data;
	struct ip_prefix p = { .addr.family = AF_INET, .cidr = rtm->rtm_dst_len };
	char buf[ADDR_STRLEN];

	mnl_attr_parse(nlh, sizeof(*rtm), nldump_attr_cb, tb);
	if (rtm->rtm_family != AF_INET || !tb[RTA_OIF] ||
	    (int)mnl_attr_get_u32(tb[RTA_OIF]) != r->ifindex || !tb[RTA_DST] ||
	    rtm->rtm_protocol != RTPROT_STATIC)
		return MNL_CB_OK;
	memcpy(p.addr.bytes, mnl_attr_get_payload(tb[RTA_DST]), 4);
	r->len += (size_t)snprintf(r->text + r->len, sizeof(r->text) - r->len, "%u %s\n",
				   tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rtm->rtm_table,
				   addr_prefix_str(&p, buf));
	assert_true(r->len < sizeof(r->text));
	r->n++;
	return MNL_CB_OK;
}

static void dump_routes(int ifindex, struct routes *r)
{
	memset(r, 0, sizeof(*r));
	r->ifindex = ifindex;
	nldump(RTM_GETROUTE, AF_INET, route_cb, r);
}

static bool has_route(const struct routes *r, uint32_t table, const char *prefix)
{
	char line[64];

	snprintf(line, sizeof(line), "%u %s\n", table, prefix);
	return strstr(r->text, line) &&
	       (r->text == strstr(r->text, line) || strstr(r->text, line)[-1] == '\n');
}

/* Peer i's AllowedIPs: 100.65.i/256.i%256/32. */
static void peer_prefix(size_t i, char *buf, size_t size)
{
	snprintf(buf, size, "100.65.%zu.%zu/32", i / 256, i % 256);
}

/* A config of peers [0, n) with table (0: the main table), and the key of each peer made
 * from its number: the same peer from one config to the next. */
static struct config *make_config(size_t n, uint32_t table)
{
	static uint8_t priv[KEY_LEN];
	size_t size = 256 + n * 128, len;
	char *text = malloc(size), b64[KEY_B64_LEN], pfx[32], err[256];
	uint8_t key[KEY_LEN];
	struct config *c;

	assert_non_null(text);
	if (!priv[0])
		key_generate_private(priv);
	key_to_base64(b64, priv);
	len = (size_t)snprintf(text, size,
			       "[Interface]\nPrivateKey = %s\nAddress = 100.64.0.1/24\n", b64);
	if (table)
		len += (size_t)snprintf(text + len, size - len, "Table = %u\n", table);
	for (size_t i = 0; i < n; i++) {
		memset(key, 0, sizeof(key));
		memcpy(key, &i, sizeof(i));
		key[31] = 0x40;
		key_to_base64(b64, key);
		peer_prefix(i, pfx, sizeof(pfx));
		len += (size_t)snprintf(text + len, size - len,
					"[Peer]\nPublicKey = %s\nAllowedIPs = %s\n", b64, pfx);
	}
	assert_true(len < size);
	if (config_parse_string(text, "test.conf", &c, err, sizeof(err)))
		fail_msg("config: %s", err);
	free(text);
	return c;
}

static void apply(struct device *dev, size_t n, uint32_t table, int want)
{
	struct config *c = make_config(n, table);

	assert_int_equal(device_apply(dev, c), want);
	config_free(c);
}

/* 150 peers: their routes in 3 requests to the helper, not 150; all of them in the kernel. */
static void test_routes_batched(void **state)
{
	struct device *dev = *state;
	struct routes r;
	char pfx[48]; /* any size_t fits: -D_FORTIFY_SOURCE checks */

	NEED_NETNS(dev);
	apply(dev, 150, 0, 0);
	assert_int_equal(route_reqs, 150);
	assert_int_equal(route_calls, 3);
	assert_int_equal(biggest, NETLINK_BATCH_MAX);
	dump_routes(dev->ifindex, &r);
	assert_int_equal(r.n, 150);
	for (size_t i = 0; i < 150; i++) {
		peer_prefix(i, pfx, sizeof(pfx));
		assert_true(has_route(&r, RT_TABLE_MAIN, pfx));
	}
	/* 100 of them go: their routes are removed, in 2 requests. */
	route_calls = route_reqs = 0;
	apply(dev, 50, 0, 0);
	assert_int_equal(route_reqs, 100);
	assert_int_equal(route_calls, 2);
	dump_routes(dev->ifindex, &r);
	assert_int_equal(r.n, 50);
	assert_true(has_route(&r, RT_TABLE_MAIN, "100.65.0.49/32"));
	assert_false(has_route(&r, RT_TABLE_MAIN, "100.65.0.50/32"));
}

/* Someone else's route stays theirs; an add refused in the middle of a batch fails the apply,
 * and what it added, before and after the refusal, is removed again. */
static void test_refused_add_rolls_back(void **state)
{
	struct device *dev = *state;
	struct ip_prefix theirs;
	struct routes before, after;
	struct netlink_req req;
	int ret;

	NEED_NETNS(dev);
	apply(dev, 10, 0, 0); /* the link up, peers 0-9 */
	assert_int_equal(addr_parse_prefix("100.65.0.20/32", &theirs), 0);
	/* Straight to the kernel: a call of netlink.h would go to the stand-in helper. */
	netlink_req_route(&req, true, dev->ifindex, &theirs, RT_TABLE_MAIN);
	assert_int_equal(netlink_batch_run(helper_nl, &req, 1, &ret), 0);
	assert_int_equal(ret, 0);
	apply(dev, 40, 0, 0); /* peer 20's route exists already: left alone */
	dump_routes(dev->ifindex, &before);
	assert_int_equal(before.n, 40);

	/* Peers 40-199 added: 160 routes, in batches of 64; peer 70's, the 31st of the first
	 * batch, refused. The first batch (peers 40-103) ran whole, so its 63 other routes were
	 * added; the next two batches were not sent. */
	assert_int_equal(addr_parse_prefix("100.65.0.70/32", &refuse), 0);
	refuse_table = RT_TABLE_MAIN;
	refusing = true;
	route_calls = route_reqs = 0;
	apply(dev, 200, 0, -EACCES);
	assert_int_equal(route_calls, 2); /* the batch, and its rollback */
	assert_int_equal(route_reqs, 64 + 63);
	dump_routes(dev->ifindex, &after);
	assert_string_equal(after.text, before.text);

	/* Without the refusal it goes through, and 20 stays theirs: not removed with peer 20. */
	refusing = false;
	apply(dev, 200, 0, 0);
	dump_routes(dev->ifindex, &after);
	assert_int_equal(after.n, 200);
	apply(dev, 0, 0, 0);
	dump_routes(dev->ifindex, &after);
	assert_int_equal(after.n, 1);
	assert_true(has_route(&after, RT_TABLE_MAIN, "100.65.0.20/32"));
}

/* Table = moves every route; a move that fails half-way puts them all back. */
static void test_table_change(void **state)
{
	struct device *dev = *state;
	struct routes r;

	NEED_NETNS(dev);
	apply(dev, 100, 1234, 0);
	dump_routes(dev->ifindex, &r);
	assert_int_equal(r.n, 100);
	assert_true(has_route(&r, 1234, "100.65.0.99/32"));

	route_calls = route_reqs = 0;
	apply(dev, 100, 1235, 0);
	assert_int_equal(route_calls, 4); /* 100 removed, 100 added */
	dump_routes(dev->ifindex, &r);
	assert_int_equal(r.n, 100);
	assert_true(has_route(&r, 1235, "100.65.0.0/32"));
	assert_false(has_route(&r, 1234, "100.65.0.0/32"));

	assert_int_equal(addr_parse_prefix("100.65.0.80/32", &refuse), 0);
	refuse_table = 1236;
	refusing = true;
	apply(dev, 100, 1236, -EACCES);
	dump_routes(dev->ifindex, &r);
	assert_int_equal(r.n, 100);
	assert_true(has_route(&r, 1235, "100.65.0.0/32"));
	assert_true(has_route(&r, 1235, "100.65.0.80/32"));
	assert_false(strstr(r.text, "1236 "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_routes_batched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_add_rolls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_change, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
