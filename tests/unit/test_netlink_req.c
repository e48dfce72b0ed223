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
#include <stddef.h>
#include <stdint.h>
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

static int catch_req(const struct netlink_req *r)
{
	caught = *r;
	n_caught++;
	return 0;
}

static struct netlink *nl;

static int setup(void **state)
{
	n_caught = 0;
	memset(&caught, 0, sizeof(caught));
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_call_round_trips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_calls_never_leave, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_socket_closed, setup, teardown),
		cmocka_unit_test(test_parser_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
