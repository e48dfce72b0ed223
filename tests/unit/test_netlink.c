/* tun.c and netlink.c against the real kernel. The process moves itself into a fresh,
 * anonymous network namespace first (unshare), so nothing outside is touched and the
 * namespace disappears with the process. Without root, or where unshare is refused, every
 * test is skipped. Results are read back independently of the code under test: ioctls for
 * the link, RTM_GETADDR / RTM_GETROUTE dumps for addresses and routes. */
#define _GNU_SOURCE /* unshare() */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "netlink.h"
#include "tun.h"
#include "nldump.h"

/* See netlink.c: MNL_SOCKET_BUFFER_SIZE is not a constant expression. */

static bool in_netns;
static struct netlink *nl;

struct fixture {
	int fd;
	int ifindex;
	char ifname[IFNAMSIZ];
};

static int group_setup(void **state)
{
	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0)
		return 0;
	in_netns = true;
	return netlink_open(&nl) ? -1 : 0;
}

static int group_teardown(void **state)
{
	netlink_close(nl);
	return 0;
}

static int setup(void **state)
{
	struct fixture *f;

	*state = NULL;
	if (!in_netns)
		return 0;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	f->fd = tun_open("sntest%d", f->ifname, NULL);
	if (f->fd < 0)
		goto err_free;
	f->ifindex = (int)if_nametoindex(f->ifname);
	if (f->ifindex <= 0)
		goto err_close;
	*state = f;
	return 0;

err_close:
	close(f->fd);
err_free:
	free(f);
	return -1;
}

/* Closing the fd destroys the device, and with it its addresses and routes, so every test
 * starts from a bare link. */
static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f) {
		close(f->fd);
		free(f);
	}
	return 0;
}

#define NEED_NETNS(f)                                                                              \
	do {                                                                                       \
		if (!(f))                                                                          \
			skip();                                                                    \
	} while (0)

static struct ip_prefix prefix(const char *s)
{
	struct ip_prefix p;

	assert_int_equal(addr_parse_prefix(s, &p), 0);
	return p;
}

static int link_ioctl(const char *ifname, unsigned long req, struct ifreq *ifr)
{
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret;

	assert_true(sock >= 0);
	memset(ifr, 0, sizeof(*ifr));
	strncpy(ifr->ifr_name, ifname, IFNAMSIZ - 1);
	ret = ioctl(sock, req, ifr);
	close(sock);
	return ret;
}

static int link_mtu(const char *ifname)
{
	struct ifreq ifr;

	assert_int_equal(link_ioctl(ifname, SIOCGIFMTU, &ifr), 0);
	return ifr.ifr_mtu;
}

static int link_flags(const char *ifname)
{
	struct ifreq ifr;

	assert_int_equal(link_ioctl(ifname, SIOCGIFFLAGS, &ifr), 0);
	return ifr.ifr_flags;
}

/* What the dumps are searched for, and what they report about it. */
struct query {
	int ifindex;
	struct ip_prefix p;
	bool found;
	uint32_t flags;   /* address: IFA_F_* */
	uint8_t protocol; /* route */
	uint8_t scope;    /* route */
};

static bool attr_is_addr(const struct nlattr *a, const struct ip_addr *want)
{
	size_t len = addr_len(want->family);

	return a && mnl_attr_get_payload_len(a) == len &&
	       !memcmp(mnl_attr_get_payload(a), want->bytes, len);
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[64] = { NULL };
	struct query *q = data;

	if (ifa->ifa_family != q->p.addr.family || (int)ifa->ifa_index != q->ifindex ||
	    ifa->ifa_prefixlen != q->p.cidr)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ifa), nldump_attr_cb, tb);
	if (!attr_is_addr(tb[q->p.addr.family == AF_INET ? IFA_LOCAL : IFA_ADDRESS], &q->p.addr))
		return MNL_CB_OK;
	q->found = true;
	q->flags = tb[IFA_FLAGS] ? mnl_attr_get_u32(tb[IFA_FLAGS]) : ifa->ifa_flags;
	return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[64] = { NULL };
	struct query *q = data;
	struct ip_addr zero = { .family = q->p.addr.family };
	uint32_t table;

	if (rtm->rtm_family != q->p.addr.family || rtm->rtm_dst_len != q->p.cidr)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*rtm), nldump_attr_cb, tb);
	table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
	if (table != RT_TABLE_MAIN || !tb[RTA_OIF] ||
	    (int)mnl_attr_get_u32(tb[RTA_OIF]) != q->ifindex)
		return MNL_CB_OK;
	/* A default route may come without RTA_DST. */
	if (tb[RTA_DST] ? !attr_is_addr(tb[RTA_DST], &q->p.addr)
			: memcmp(&zero, &q->p.addr, sizeof(zero)) != 0)
		return MNL_CB_OK;
	q->found = true;
	q->protocol = rtm->rtm_protocol;
	q->scope = rtm->rtm_scope;
	return MNL_CB_OK;
}

static struct query find_addr(int ifindex, const char *s)
{
	struct query q = { .ifindex = ifindex, .p = prefix(s) };

	nldump(RTM_GETADDR, (uint8_t)q.p.addr.family, addr_cb, &q);
	return q;
}

/* s is given masked, as the kernel stores it. */
static struct query find_route(int ifindex, const char *s)
{
	struct query q = { .ifindex = ifindex, .p = prefix(s) };

	nldump(RTM_GETROUTE, (uint8_t)q.p.addr.family, route_cb, &q);
	return q;
}

static void test_tun_open(void **state)
{
	struct fixture *f = *state;
	char ifname[IFNAMSIZ];
	int flags;

	NEED_NETNS(f);
	assert_string_equal(f->ifname, "sntest0");
	flags = fcntl(f->fd, F_GETFL);
	assert_true(flags >= 0 && (flags & O_NONBLOCK));
	flags = fcntl(f->fd, F_GETFD);
	assert_true(flags >= 0 && (flags & FD_CLOEXEC));
	/* The link is a point-to-point TUN, not yet up. */
	assert_true(link_flags(f->ifname) & IFF_POINTOPOINT);
	assert_false(link_flags(f->ifname) & IFF_UP);
	/* Already attached to our fd. */
	assert_int_equal(tun_open(f->ifname, ifname, NULL), -EBUSY);
}

static void test_tun_name_too_long(void **state)
{
	char ifname[IFNAMSIZ];

	/* Checked before the kernel is asked, so no root needed. */
	assert_int_equal(tun_open("sntest-name-too-long", ifname, NULL), -ENAMETOOLONG);
}

static void test_set_mtu(void **state)
{
	struct fixture *f = *state;

	NEED_NETNS(f);
	assert_int_equal(netlink_set_mtu(nl, f->ifindex, 1420), 0);
	assert_int_equal(link_mtu(f->ifname), 1420);
	assert_int_equal(netlink_set_mtu(nl, f->ifindex, 1280), 0);
	assert_int_equal(link_mtu(f->ifname), 1280);
	/* The kernel's own refusal comes back as -errno. */
	assert_int_equal(netlink_set_mtu(nl, f->ifindex, 20), -EINVAL);
	assert_int_equal(link_mtu(f->ifname), 1280);
	assert_int_equal(netlink_set_mtu(nl, 0, 1420), -EINVAL);
	assert_int_equal(netlink_set_mtu(nl, f->ifindex + 1000, 1420), -ENODEV);
}

static void test_set_up(void **state)
{
	struct fixture *f = *state;

	NEED_NETNS(f);
	assert_int_equal(netlink_set_up(nl, f->ifindex, true), 0);
	assert_true(link_flags(f->ifname) & IFF_UP);
	/* Setting the MTU on a live link leaves it up: the change mask is honoured. */
	assert_int_equal(netlink_set_mtu(nl, f->ifindex, 1400), 0);
	assert_true(link_flags(f->ifname) & IFF_UP);
	assert_int_equal(netlink_set_up(nl, f->ifindex, false), 0);
	assert_false(link_flags(f->ifname) & IFF_UP);
	assert_true(link_flags(f->ifname) & IFF_POINTOPOINT);
	assert_int_equal(link_mtu(f->ifname), 1400);
}

static void test_addr_v4(void **state)
{
	struct fixture *f = *state;
	struct ip_prefix p = prefix("100.64.0.1/24");
	struct query q;

	NEED_NETNS(f);
	assert_int_equal(netlink_addr_add(nl, f->ifindex, &p), 0);
	q = find_addr(f->ifindex, "100.64.0.1/24");
	assert_true(q.found);
	assert_int_equal(netlink_addr_add(nl, f->ifindex, &p), -EEXIST);

	/* IFA_ADDRESS equal to IFA_LOCAL: a local address with its prefix route, not a
	 * point-to-point peer. Prefix routes appear once the link is up. */
	assert_int_equal(netlink_set_up(nl, f->ifindex, true), 0);
	q = find_route(f->ifindex, "100.64.0.0/24");
	assert_true(q.found);
	assert_int_equal(q.protocol, RTPROT_KERNEL);

	assert_int_equal(netlink_addr_del(nl, f->ifindex, &p), 0);
	assert_false(find_addr(f->ifindex, "100.64.0.1/24").found);
	assert_int_equal(netlink_addr_del(nl, f->ifindex, &p), -EADDRNOTAVAIL);
}

static void test_addr_v6(void **state)
{
	struct fixture *f = *state;
	struct ip_prefix p = prefix("fd00:5e::1/64");
	struct query q;

	NEED_NETNS(f);
	assert_int_equal(netlink_set_up(nl, f->ifindex, true), 0);
	assert_int_equal(netlink_addr_add(nl, f->ifindex, &p), 0);
	q = find_addr(f->ifindex, "fd00:5e::1/64");
	assert_true(q.found);
	/* Usable at once. */
	assert_true(q.flags & IFA_F_NODAD);
	assert_false(q.flags & IFA_F_TENTATIVE);
	assert_int_equal(netlink_addr_add(nl, f->ifindex, &p), -EEXIST);

	assert_int_equal(netlink_addr_del(nl, f->ifindex, &p), 0);
	assert_false(find_addr(f->ifindex, "fd00:5e::1/64").found);
	assert_int_equal(netlink_addr_del(nl, f->ifindex, &p), -EADDRNOTAVAIL);
}

static void test_addr_invalid(void **state)
{
	struct fixture *f = *state;
	struct ip_prefix p = prefix("100.64.0.1/24");

	NEED_NETNS(f);
	p.cidr = 33;
	assert_int_equal(netlink_addr_add(nl, f->ifindex, &p), -EINVAL);
	p.cidr = 24;
	p.addr.family = AF_UNSPEC;
	assert_int_equal(netlink_addr_add(nl, f->ifindex, &p), -EINVAL);
}

/* Adds `given` (host bits and all), checks that `stored` appears as ours, that a second add
 * is refused, then deletes it and checks that it is gone. */
static void route_cycle(const struct fixture *f, const char *given, const char *stored)
{
	struct ip_prefix p = prefix(given);
	struct query q;

	assert_int_equal(netlink_route_add(nl, f->ifindex, &p), 0);
	q = find_route(f->ifindex, stored);
	assert_true(q.found);
	assert_int_equal(q.protocol, RTPROT_STATIC);
	/* IPv6 routes always dump as universe scope. */
	if (p.addr.family == AF_INET)
		assert_int_equal(q.scope, RT_SCOPE_LINK);
	assert_int_equal(netlink_route_add(nl, f->ifindex, &p), -EEXIST);

	assert_int_equal(netlink_route_del(nl, f->ifindex, &p), 0);
	assert_false(find_route(f->ifindex, stored).found);
	assert_int_equal(netlink_route_del(nl, f->ifindex, &p), -ESRCH);
}

static void test_route_v4(void **state)
{
	struct fixture *f = *state;

	NEED_NETNS(f);
	assert_int_equal(netlink_set_up(nl, f->ifindex, true), 0);
	route_cycle(f, "100.64.7.7/32", "100.64.7.7/32");
	route_cycle(f, "100.65.3.4/16", "100.65.0.0/16");
	route_cycle(f, "100.64.9.9/0", "0.0.0.0/0");
}

static void test_route_v6(void **state)
{
	struct fixture *f = *state;

	NEED_NETNS(f);
	assert_int_equal(netlink_set_up(nl, f->ifindex, true), 0);
	route_cycle(f, "fd00:cafe::1/128", "fd00:cafe::1/128");
	route_cycle(f, "fd00:beef:1:2::3/48", "fd00:beef:1::/48");
	route_cycle(f, "fd00::9/0", "::/0");
}

static void test_route_with_addr(void **state)
{
	struct fixture *f = *state;
	struct ip_prefix a4 = prefix("100.64.0.1/24"), a6 = prefix("fd00:5e::1/64");
	struct ip_prefix r4 = prefix("100.66.0.0/16"), r6 = prefix("fd00:66::/48");

	NEED_NETNS(f);
	/* The order the daemon uses: MTU, addresses, up, routes. */
	assert_int_equal(netlink_set_mtu(nl, f->ifindex, 1420), 0);
	assert_int_equal(netlink_addr_add(nl, f->ifindex, &a4), 0);
	assert_int_equal(netlink_addr_add(nl, f->ifindex, &a6), 0);
	assert_int_equal(netlink_set_up(nl, f->ifindex, true), 0);
	assert_int_equal(netlink_route_add(nl, f->ifindex, &r4), 0);
	assert_int_equal(netlink_route_add(nl, f->ifindex, &r6), 0);
	assert_true(find_route(f->ifindex, "100.66.0.0/16").found);
	assert_true(find_route(f->ifindex, "fd00:66::/48").found);
	assert_true(find_addr(f->ifindex, "100.64.0.1/24").found);
	assert_true(find_addr(f->ifindex, "fd00:5e::1/64").found);
}

static void test_route_link_down(void **state)
{
	struct fixture *f = *state;
	struct ip_prefix r4 = prefix("100.66.0.0/16"), r6 = prefix("fd00:66::/48");

	NEED_NETNS(f);
	/* Callers must bring the link up before adding routes. */
	assert_int_equal(netlink_route_add(nl, f->ifindex, &r4), -ENETDOWN);
	assert_int_equal(netlink_route_add(nl, f->ifindex, &r6), -ENETDOWN);
}

/* Routes in batches, as the daemon adds a slice's: 150 of them (three sends), each ACK read
 * and put at its place, the kernel going on after one it refuses. */
static void test_route_batch(void **state)
{
	struct fixture *f = *state;
	struct netlink_req reqs[150];
	struct ip_prefix p;
	int results[150];
	char s[48]; /* any size_t fits: -D_FORTIFY_SOURCE checks */

	NEED_NETNS(f);
	assert_int_equal(netlink_set_up(nl, f->ifindex, true), 0);
	for (size_t i = 0; i < 150; i++) {
		snprintf(s, sizeof(s), "100.70.%zu.0/24", i);
		p = prefix(s);
		netlink_req_route(&reqs[i], true, f->ifindex, &p, RT_TABLE_MAIN);
	}
	/* In the middle of the second send: the route of 10 again, and one through a link
	 * that is not there. */
	reqs[70] = reqs[10];
	reqs[71].ifindex = f->ifindex + 1000;
	assert_int_equal(netlink_batch(nl, reqs, 150, results), 0);
	for (size_t i = 0; i < 150; i++)
		assert_int_equal(results[i], i == 70 ? -EEXIST : i == 71 ? -ENODEV : 0);
	assert_true(find_route(f->ifindex, "100.70.0.0/24").found);
	assert_true(find_route(f->ifindex, "100.70.72.0/24").found);
	assert_true(find_route(f->ifindex, "100.70.149.0/24").found);
	assert_false(find_route(f->ifindex, "100.70.70.0/24").found);
	assert_false(find_route(f->ifindex, "100.70.71.0/24").found);

	/* A single call after it reads its own ACK, not one left over. */
	p = prefix("100.70.70.0/24");
	assert_int_equal(netlink_route_add(nl, f->ifindex, &p), 0);
	assert_int_equal(netlink_route_add(nl, f->ifindex, &p), -EEXIST);

	/* Removed the same way: 70 is there now, 71 never was. */
	reqs[70].addr[2] = 70;
	reqs[71].ifindex = f->ifindex;
	for (size_t i = 0; i < 150; i++)
		reqs[i].op = NETLINK_OP_ROUTE_DEL;
	assert_int_equal(netlink_batch(nl, reqs, 150, results), 0);
	for (size_t i = 0; i < 150; i++)
		assert_int_equal(results[i], i == 71 ? -ESRCH : 0);
	assert_false(find_route(f->ifindex, "100.70.0.0/24").found);
	assert_false(find_route(f->ifindex, "100.70.70.0/24").found);
	assert_false(find_route(f->ifindex, "100.70.149.0/24").found);

	/* A bad request: nothing is sent. */
	reqs[3].op = NETLINK_OP_ROUTE_ADD;
	reqs[5].op = NETLINK_OP_ROUTE_ADD;
	reqs[5].cidr = 33;
	assert_int_equal(netlink_batch(nl, reqs, 6, results), -EINVAL);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(results[i], -EINVAL);
	assert_false(find_route(f->ifindex, "100.70.3.0/24").found);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tun_open, setup, teardown),
		cmocka_unit_test(test_tun_name_too_long),
		cmocka_unit_test_setup_teardown(test_set_mtu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_addr_v4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_addr_v6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_addr_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_route_v4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_route_v6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_route_with_addr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_route_link_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_route_batch, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
