/* For the unit tests that check what reached the kernel: a route or address dump through
 * an rtnetlink socket of the test's own (so a bug in netlink.c's bookkeeping cannot hide),
 * and the attribute table its callbacks fill. Include after cmocka.h. */
#ifndef SEALNET_TEST_NLDUMP_H
#define SEALNET_TEST_NLDUMP_H

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#define DUMP_BUF_SIZE 8192

/* mnl_attr_parse()'s callback: tb[type] for every type below 64 (IFA_MAX and RTA_MAX are
 * both far below). */
static inline int nldump_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (type < 64)
		tb[type] = attr;
	return MNL_CB_OK;
}

/* Runs cb on every message of a dump of type (RTM_GETROUTE, RTM_GETADDR) for family. */
static inline void nldump(uint16_t type, uint8_t family, mnl_cb_t cb, void *data)
{
	char buf[DUMP_BUF_SIZE];
	struct mnl_socket *sock;
	struct nlmsghdr *nlh;
	struct rtgenmsg *g;
	unsigned seq = 1, portid;
	ssize_t n;
	int ret;

	sock = mnl_socket_open(NETLINK_ROUTE);
	assert_non_null(sock);
	assert_int_equal(mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID), 0);
	portid = mnl_socket_get_portid(sock);

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->rtgen_family = family;
	assert_true(mnl_socket_sendto(sock, nlh, nlh->nlmsg_len) > 0);
	do {
		n = mnl_socket_recvfrom(sock, buf, sizeof(buf));
		assert_true(n > 0);
		ret = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
		assert_true(ret >= 0);
	} while (ret > MNL_CB_STOP);
	mnl_socket_close(sock);
}

#endif
