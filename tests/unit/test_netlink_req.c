/* The requests the daemon hands its helper after the privilege drop (netlink.h, struct
 * netlink_req): what the daemon's calls produce, and what netlink_req_parse(), the helper's
 * whole parser, accepts. No kernel is asked: a forward function set with netlink_set_forward()
 * catches each request where the daemon would send it to the helper.
 *
 * The rule checked throughout: the helper accepts a request exactly when it is one the
 * daemon's calls can build for the armed ifindex, byte for byte; anything else is -EINVAL, or
 * -EPERM for another interface (a route's output interface is the request's ifindex, so a
 * route through another interface is the same refusal). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "addr.h"
#include "netlink.h"

#define IFINDEX 7
#define OTHER_IFINDEX 2

static struct netlink_req caught;
static int n_caught;

/* Batches: every request forwarded, in order, the size of each forward, and what the forward
 * answers: results[i] = answer_of(i) for the i-th request overall (all 0 but with varied),
 * and fail_err for every request of call fail_call (1-based; 0: never). */
static struct netlink_req batch_caught[256];
static size_t n_batch_caught;
static size_t calls[64];
static size_t n_calls;
static size_t fail_call;
static int fail_err;
static bool varied;

static int answer_of(size_t i)
{
	return varied && i % 5 == 3 ? -EEXIST : 0;
}

static int catch_req(const struct netlink_req *reqs, size_t n, int *results)
{
	/* What the helper would run: never more than a batch, each request checked. */
	assert_true(n >= 1 && n <= NETLINK_BATCH_MAX);
	assert_true(n_calls < sizeof(calls) / sizeof(calls[0]));
	calls[n_calls++] = n;
	if (n_calls == fail_call) {
		for (size_t i = 0; i < n; i++)
			results[i] = fail_err;
		return fail_err;
	}
	for (size_t i = 0; i < n; i++) {
		caught = reqs[i];
		if (n_batch_caught < sizeof(batch_caught) / sizeof(batch_caught[0]))
			batch_caught[n_batch_caught] = reqs[i];
		results[i] = answer_of(n_batch_caught++);
	}
	n_caught += (int)n;
	return 0;
}

static struct netlink *nl;

static int setup(void **state)
{
	n_caught = 0;
	memset(&caught, 0, sizeof(caught));
	n_batch_caught = n_calls = fail_call = 0;
	varied = false;
	netlink_set_forward(catch_req);
	/* A real socket: the first forwarded call closes it, as in the dropped daemon. */
	return netlink_open(&nl) ? -1 : 0;
}

static int teardown(void **state)
{
	netlink_set_forward(NULL);
	netlink_close(nl);
	nl = NULL;
	return 0;
}

static struct ip_prefix prefix(const char *s)
{
	struct ip_prefix p;

	assert_int_equal(addr_parse_prefix(s, &p), 0);
	return p;
}

/* The request the daemon's call made is accepted for its own ifindex, and for no other. */
static void assert_round_trip(void)
{
	struct netlink_req out;

	assert_int_equal(n_caught, 1);
	n_caught = 0;
	assert_int_equal(netlink_req_parse(&caught, sizeof(caught), IFINDEX, &out), 0);
	assert_memory_equal(&out, &caught, sizeof(out));
	assert_int_equal(netlink_req_parse(&caught, sizeof(caught), OTHER_IFINDEX, &out), -EPERM);
	assert_int_equal(netlink_req_parse(&caught, sizeof(caught), 0, &out), -EPERM);
}

static void test_every_call_round_trips(void **state)
{
	struct ip_prefix v4 = prefix("100.64.0.1/24"), v6 = prefix("fd00:64::1/64");
	struct ip_prefix any4 = prefix("0.0.0.0/0"), host6 = prefix("fd00::7/128");

	assert_int_equal(netlink_set_mtu(nl, IFINDEX, 1420), 0);
	assert_round_trip();
	assert_int_equal(caught.op, NETLINK_OP_MTU);
	assert_int_equal(caught.value, 1420);
	assert_int_equal(netlink_set_up(nl, IFINDEX, true), 0);
	assert_round_trip();
	assert_int_equal(caught.value, 1);
	assert_int_equal(netlink_set_up(nl, IFINDEX, false), 0);
	assert_round_trip();
	assert_int_equal(netlink_addr_add(nl, IFINDEX, &v4), 0);
	assert_round_trip();
	assert_int_equal(caught.family, AF_INET);
	assert_int_equal(caught.cidr, 24);
	assert_int_equal(netlink_addr_del(nl, IFINDEX, &v6), 0);
	assert_round_trip();
	assert_int_equal(caught.family, AF_INET6);
	assert_int_equal(netlink_route_add(nl, IFINDEX, &any4), 0);
	assert_round_trip();
	assert_int_equal(caught.value, RT_TABLE_MAIN);
	assert_int_equal(netlink_route_del(nl, IFINDEX, &host6), 0);
	assert_round_trip();
	assert_int_equal(netlink_route_add_table(nl, IFINDEX, &v6, 4000000000u), 0);
	assert_round_trip();
	assert_int_equal(caught.value, 4000000000u);
	assert_int_equal(netlink_route_del_table(nl, IFINDEX, &v4, 1234), 0);
	assert_round_trip();
}

/* Refused by the daemon before anything reaches the helper, as before the drop. */
static void test_bad_calls_never_leave(void **state)
{
	struct ip_prefix p = prefix("100.64.0.0/24"), bad = p;

	bad.addr.family = AF_UNIX;
	assert_int_equal(netlink_set_mtu(nl, 0, 1420), -EINVAL);
	assert_int_equal(netlink_set_mtu(nl, IFINDEX, 0), -EINVAL);
	assert_int_equal(netlink_set_up(nl, -1, true), -EINVAL);
	assert_int_equal(netlink_addr_add(nl, IFINDEX, &bad), -EINVAL);
	assert_int_equal(netlink_route_add_table(nl, IFINDEX, &p, 0), -EINVAL);
	bad = p;
	bad.cidr = 33;
	assert_int_equal(netlink_route_del(nl, IFINDEX, &bad), -EINVAL);
	assert_int_equal(n_caught, 0);
}

/* After the drop the daemon's own rtnetlink socket is closed at its first use. */
static void test_own_socket_closed(void **state)
{
	char buf[NETLINK_REQUEST_SIZE];
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;

	assert_int_equal(netlink_set_up(nl, IFINDEX, true), 0);
	memset(buf, 0, sizeof(buf));
	nlh->nlmsg_len = NLMSG_LENGTH(sizeof(struct rtgenmsg));
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_DUMP;
	assert_int_equal(netlink_request(nl, nlh, NULL, NULL), -EBADF);
}

static struct netlink_req good_route(void)
{
	struct netlink_req r = { .op = NETLINK_OP_ROUTE_ADD,
				 .family = AF_INET,
				 .cidr = 24,
				 .ifindex = IFINDEX,
				 .value = RT_TABLE_MAIN,
				 .addr = { 100, 64, 0, 0 } };

	return r;
}

static void assert_refused(const struct netlink_req *r, int err)
{
	struct netlink_req out;

	assert_int_equal(netlink_req_parse(r, sizeof(*r), IFINDEX, &out), err);
}

static void test_parser_refuses(void **state)
{
	struct netlink_req r = good_route(), out;
	char big[sizeof(r) + 1];

	assert_refused(&r, 0);
	/* the size, exactly */
	assert_int_equal(netlink_req_parse(&r, sizeof(r) - 1, IFINDEX, &out), -EINVAL);
	memcpy(big, &r, sizeof(r));
	big[sizeof(r)] = 0;
	assert_int_equal(netlink_req_parse(big, sizeof(big), IFINDEX, &out), -EINVAL);
	assert_int_equal(netlink_req_parse(&r, 0, IFINDEX, &out), -EINVAL);
	/* operations */
	for (unsigned op = 0; op < 256; op++) {
		if (op >= NETLINK_OP_MTU && op <= NETLINK_OP_ROUTE_DEL)
			continue;
		r = good_route();
		r.op = (uint8_t)op;
		assert_refused(&r, -EINVAL);
	}
	/* the interface: another one, none, a negative one */
	r = good_route();
	r.ifindex = OTHER_IFINDEX;
	assert_refused(&r, -EPERM);
	r.ifindex = 0;
	assert_refused(&r, -EINVAL);
	r.ifindex = -IFINDEX;
	assert_refused(&r, -EINVAL);
	/* the prefix */
	r = good_route();
	r.zero = 1;
	assert_refused(&r, -EINVAL);
	r = good_route();
	r.family = AF_UNIX;
	assert_refused(&r, -EINVAL);
	r.family = 0;
	assert_refused(&r, -EINVAL);
	r = good_route();
	r.cidr = 33;
	assert_refused(&r, -EINVAL);
	r = good_route();
	r.addr[4] = 1; /* beyond an IPv4 address */
	assert_refused(&r, -EINVAL);
	r = good_route();
	r.family = AF_INET6;
	r.cidr = 128;
	r.addr[15] = 1;
	assert_refused(&r, 0);
	r.cidr = 129;
	assert_refused(&r, -EINVAL);
	/* a route needs a table */
	r = good_route();
	r.value = 0;
	assert_refused(&r, -EINVAL);
	/* an address has no table */
	r = good_route();
	r.op = NETLINK_OP_ADDR_ADD;
	assert_refused(&r, -EINVAL);
	r.value = 0;
	assert_refused(&r, 0);
	/* MTU and link state carry no prefix */
	r = good_route();
	r.op = NETLINK_OP_MTU;
	r.value = 1420;
	assert_refused(&r, -EINVAL);
	memset(&r, 0, sizeof(r));
	r.op = NETLINK_OP_MTU;
	r.ifindex = IFINDEX;
	assert_refused(&r, -EINVAL); /* MTU 0 */
	r.value = 1420;
	assert_refused(&r, 0);
	r.cidr = 1;
	assert_refused(&r, -EINVAL);
	memset(&r, 0, sizeof(r));
	r.op = NETLINK_OP_UP;
	r.ifindex = IFINDEX;
	r.value = 2;
	assert_refused(&r, -EINVAL);
	r.value = 0;
	r.addr[15] = 1;
	assert_refused(&r, -EINVAL);
}

/* n routes 100.64.i.0/24, adds and removals in turn, in table 1000 + i. */
static void make_routes(struct netlink_req *reqs, size_t n, int ifindex)
{
	struct ip_prefix p;
	char s[48]; /* any size_t fits: -D_FORTIFY_SOURCE checks */

	for (size_t i = 0; i < n; i++) {
		snprintf(s, sizeof(s), "100.64.%zu.0/24", i);
		assert_int_equal(addr_parse_prefix(s, &p), 0);
		netlink_req_route(&reqs[i], i % 2 == 0, ifindex, &p, 1000 + (uint32_t)i);
	}
}

/* netlink_req_route() builds what the single calls build. */
static void test_route_req_is_the_call(void **state)
{
	struct ip_prefix p = prefix("fd00:64::5/64");
	struct netlink_req r;

	assert_int_equal(netlink_route_add_table(nl, IFINDEX, &p, 77), 0);
	netlink_req_route(&r, true, IFINDEX, &p, 77);
	assert_memory_equal(&r, &caught, sizeof(r));
	assert_int_equal(netlink_route_del_table(nl, IFINDEX, &p, 77), 0);
	netlink_req_route(&r, false, IFINDEX, &p, 77);
	assert_memory_equal(&r, &caught, sizeof(r));
	assert_int_equal(r.op, NETLINK_OP_ROUTE_DEL);
}

/* A long list goes in chunks of NETLINK_BATCH_MAX, in order, each one the helper accepts,
 * and every request's own answer comes back at its place. */
static void test_batch_chunks(void **state)
{
	struct netlink_req reqs[150], out[NETLINK_BATCH_MAX];
	int results[150];

	make_routes(reqs, 150, IFINDEX);
	varied = true;
	assert_int_equal(netlink_batch(nl, reqs, 150, results), 0);
	assert_int_equal(n_calls, 3);
	assert_int_equal(calls[0], NETLINK_BATCH_MAX);
	assert_int_equal(calls[1], NETLINK_BATCH_MAX);
	assert_int_equal(calls[2], 150 - 2 * NETLINK_BATCH_MAX);
	assert_int_equal(n_batch_caught, 150);
	assert_memory_equal(batch_caught, reqs, sizeof(reqs));
	for (size_t i = 0; i < 150; i++)
		assert_int_equal(results[i], answer_of(i));
	for (size_t off = 0; off < 150; off += NETLINK_BATCH_MAX) {
		size_t k = 150 - off < NETLINK_BATCH_MAX ? 150 - off : NETLINK_BATCH_MAX;

		assert_int_equal(netlink_batch_parse(reqs + off, k * sizeof(*reqs), IFINDEX, out),
				 (int)k);
		assert_memory_equal(out, reqs + off, k * sizeof(*reqs));
	}
	/* None is no call at all. */
	n_calls = 0;
	assert_int_equal(netlink_batch(nl, reqs, 0, results), 0);
	assert_int_equal(n_calls, 0);
}

/* One bad request anywhere in the list: nothing leaves, every result is the refusal. */
static void test_batch_bad_element_never_leaves(void **state)
{
	struct netlink_req reqs[150];
	int results[150];

	make_routes(reqs, 150, IFINDEX);
	reqs[130].cidr = 33;
	assert_int_equal(netlink_batch(nl, reqs, 150, results), -EINVAL);
	assert_int_equal(n_calls, 0);
	for (size_t i = 0; i < 150; i++)
		assert_int_equal(results[i], -EINVAL);
}

/* The helper gone at the second chunk: the first chunk's answers stand, the rest get the
 * error, and the third chunk is not tried. */
static void test_batch_forward_fails(void **state)
{
	struct netlink_req reqs[150];
	int results[150];

	make_routes(reqs, 150, IFINDEX);
	varied = true;
	fail_call = 2;
	fail_err = -EPIPE;
	assert_int_equal(netlink_batch(nl, reqs, 150, results), -EPIPE);
	assert_int_equal(n_calls, 2);
	for (size_t i = 0; i < 150; i++)
		assert_int_equal(results[i], i < NETLINK_BATCH_MAX ? answer_of(i) : -EPIPE);
}

/* The helper's parser of a batch: whole requests, 1 to NETLINK_BATCH_MAX of them, each one
 * netlink_req_parse() accepts; any one refused refuses the batch with its error. */
static void test_batch_parse_refuses(void **state)
{
	struct netlink_req reqs[NETLINK_BATCH_MAX + 1], out[NETLINK_BATCH_MAX];
	const size_t one = sizeof(reqs[0]);

	make_routes(reqs, NETLINK_BATCH_MAX + 1, IFINDEX);
	assert_int_equal(netlink_batch_parse(reqs, 3 * one, IFINDEX, out), 3);
	assert_memory_equal(out, reqs, 3 * one);
	assert_int_equal(netlink_batch_parse(reqs, NETLINK_BATCH_MAX * one, IFINDEX, out),
			 NETLINK_BATCH_MAX);
	/* the sizes: none, too many, a part of one */
	assert_int_equal(netlink_batch_parse(reqs, 0, IFINDEX, out), -EINVAL);
	assert_int_equal(netlink_batch_parse(reqs, (NETLINK_BATCH_MAX + 1) * one, IFINDEX, out),
			 -EINVAL);
	assert_int_equal(netlink_batch_parse(reqs, 3 * one - 1, IFINDEX, out), -EINVAL);
	assert_int_equal(netlink_batch_parse(reqs, 3 * one + 1, IFINDEX, out), -EINVAL);
	assert_int_equal(netlink_batch_parse(reqs, one - 1, IFINDEX, out), -EINVAL);
	/* another ifindex for all of them, for one of them */
	assert_int_equal(netlink_batch_parse(reqs, 3 * one, OTHER_IFINDEX, out), -EPERM);
	reqs[1].ifindex = OTHER_IFINDEX;
	assert_int_equal(netlink_batch_parse(reqs, 3 * one, IFINDEX, out), -EPERM);
	reqs[1].ifindex = IFINDEX;
	/* one malformed, first, in the middle, last */
	for (size_t bad = 0; bad < 3; bad++) {
		struct netlink_req keep = reqs[bad];

		reqs[bad].zero = 1;
		assert_int_equal(netlink_batch_parse(reqs, 3 * one, IFINDEX, out), -EINVAL);
		reqs[bad] = keep;
		reqs[bad].op = NETLINK_OP_ROUTE_DEL + 1;
		assert_int_equal(netlink_batch_parse(reqs, 3 * one, IFINDEX, out), -EINVAL);
		reqs[bad] = keep;
		reqs[bad].value = 0; /* a route without a table */
		assert_int_equal(netlink_batch_parse(reqs, 3 * one, IFINDEX, out), -EINVAL);
		reqs[bad] = keep;
	}
	assert_int_equal(netlink_batch_parse(reqs, 3 * one, IFINDEX, out), 3);
	/* A malformed request and one for another interface: whichever comes first. */
	reqs[0].cidr = 33;
	reqs[2].ifindex = OTHER_IFINDEX;
	assert_int_equal(netlink_batch_parse(reqs, 3 * one, IFINDEX, out), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_call_round_trips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_calls_never_leave, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_socket_closed, setup, teardown),
		cmocka_unit_test(test_parser_refuses),
		cmocka_unit_test_setup_teardown(test_route_req_is_the_call, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_chunks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_bad_element_never_leaves, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_batch_forward_fails, setup, teardown),
		cmocka_unit_test(test_batch_parse_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
