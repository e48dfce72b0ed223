#include "netlink.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct netlink {
	struct mnl_socket *sock;
	unsigned portid;
	unsigned seq;
};

/* Routes we install carry this protocol, so `ip route` shows them as static rather than as
 * kernel or boot routes, and deleting one with it set never removes an administrator's
 * identical route of another origin. */
#define NETLINK_ROUTE_PROTO RTPROT_STATIC

/* libmnl's MNL_SOCKET_BUFFER_SIZE is a sysconf() expression, which would make every buffer a
 * VLA; 8192 is the value it is capped at, and more than any request or ACK of ours needs. */
#define NETLINK_BUF_SIZE 8192

int netlink_open(struct netlink **out)
{
	struct netlink *nl;
	int ret;

	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sock) {
		ret = -errno;
		goto err_free;
	}
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto err_close;
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	/* Any start value works; a time-based one makes a stale ACK from a previous process
	 * with the same recycled portid unlikely to be taken for ours. */
	nl->seq = (unsigned)time(NULL);
	*out = nl;
	return 0;

err_close:
	mnl_socket_close(nl->sock);
err_free:
	free(nl);
	return ret;
}

void netlink_close(struct netlink *nl)
{
	if (!nl)
		return;
	if (nl->sock)
		mnl_socket_close(nl->sock);
	free(nl);
}

_Static_assert(sizeof(struct netlink_req) == 28, "struct netlink_req has padding");

static int (*forward_fn)(const struct netlink_req *reqs, size_t n, int *results);

void netlink_set_forward(int (*forward)(const struct netlink_req *reqs, size_t n, int *results))
{
	forward_fn = forward;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static bool req_has_prefix(const struct netlink_req *r)
{
	if (r->family == AF_INET)
		return r->cidr <= 32 && all_zero(r->addr + 4, sizeof(r->addr) - 4);
	if (r->family == AF_INET6)
		return r->cidr <= 128;
	return false;
}

static bool req_no_prefix(const struct netlink_req *r)
{
	return !r->family && !r->cidr && all_zero(r->addr, sizeof(r->addr));
}

/* What a request may be, at both ends: the daemon refuses to send anything else, the helper
 * to run it. The ifindex is checked against the armed one in netlink_req_parse(). */
static int req_check(const struct netlink_req *r)
{
	bool ok = false;

	if (r->zero || r->ifindex <= 0)
		return -EINVAL;
	switch (r->op) {
	case NETLINK_OP_MTU:
		ok = r->value && req_no_prefix(r);
		break;
	case NETLINK_OP_UP:
		ok = r->value <= 1 && req_no_prefix(r);
		break;
	case NETLINK_OP_ADDR_ADD:
	case NETLINK_OP_ADDR_DEL:
		ok = !r->value && req_has_prefix(r);
		break;
	case NETLINK_OP_ROUTE_ADD:
	case NETLINK_OP_ROUTE_DEL:
		ok = r->value && req_has_prefix(r); /* table 0 is no table */
		break;
	}
	return ok ? 0 : -EINVAL;
}

int netlink_req_parse(const void *buf, size_t len, int ifindex, struct netlink_req *out)
{
	int ret;

	if (len != sizeof(*out))
		return -EINVAL;
	memcpy(out, buf, sizeof(*out));
	ret = req_check(out);
	if (ret)
		return ret;
	return out->ifindex == ifindex ? 0 : -EPERM;
}

int netlink_batch_parse(const void *buf, size_t len, int ifindex, struct netlink_req *out)
{
	const uint8_t *p = buf;
	size_t n = len / sizeof(*out);
	int ret;

	if (!n || n > NETLINK_BATCH_MAX || len % sizeof(*out))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		ret = netlink_req_parse(p + i * sizeof(*out), sizeof(*out), ifindex, &out[i]);
		if (ret)
			return ret;
	}
	return (int)n;
}

/* Room for one message of ours in a batch's buffer: the largest is a route's, 64 bytes (the
 * header 16, rtmsg 12, RTA_DST 20, RTA_OIF 8, RTA_TABLE 8); an address's is 64, a link's 40.
 * The builders below put no more than that, so a batch needs no bounds check per message. */
#define NETLINK_MSG_ROOM 128
_Static_assert(NETLINK_BATCH_MAX *NETLINK_MSG_ROOM <= NETLINK_BUF_SIZE,
	       "a batch's messages do not fit in one buffer");

static struct nlmsghdr *link_msg(void *buf, int ifindex, unsigned flags, unsigned change,
				 const unsigned *mtu)
{
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	/* Only the bits in ifi_change are touched; the rest of the link flags stay. */
	ifi->ifi_flags = flags;
	ifi->ifi_change = change;
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, *mtu);
	return nlh;
}

struct nlmsghdr *netlink_addr_msg(void *buf, uint16_t type, uint16_t flags, int ifindex,
				  const struct ip_prefix *p, struct ifaddrmsg **ifa)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	*ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(**ifa));
	(*ifa)->ifa_family = (uint8_t)p->addr.family;
	(*ifa)->ifa_prefixlen = p->cidr;
	(*ifa)->ifa_scope = RT_SCOPE_UNIVERSE;
	(*ifa)->ifa_index = (uint32_t)ifindex;
	return nlh;
}

static struct nlmsghdr *addr_msg(void *buf, uint16_t type, uint16_t flags, int ifindex,
				 const struct ip_prefix *p)
{
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	size_t len = addr_len(p->addr.family);

	nlh = netlink_addr_msg(buf, type, flags, ifindex, p, &ifa);
	if (p->addr.family == AF_INET) {
		/* IFA_LOCAL is the address itself; on a point-to-point link IFA_ADDRESS would
		 * be the peer's, and giving the same value makes it a plain local address with
		 * its prefix route, as `ip addr add` does. */
		mnl_attr_put(nlh, IFA_LOCAL, len, p->addr.bytes);
		mnl_attr_put(nlh, IFA_ADDRESS, len, p->addr.bytes);
	} else {
		/* The TUN link has no neighbours to probe; without NODAD the address would
		 * sit tentative (unusable as a source) until duplicate detection ends. */
		ifa->ifa_flags = IFA_F_NODAD;
		mnl_attr_put(nlh, IFA_ADDRESS, len, p->addr.bytes);
	}
	return nlh;
}

static struct nlmsghdr *route_msg(void *buf, uint16_t type, uint16_t flags, int ifindex,
				  const struct ip_prefix *p, uint32_t table)
{
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	struct ip_prefix dst;

	/* The kernel rejects an IPv4 destination with host bits set (and IPv6 silently
	 * clears them), so both get the masked prefix. */
	dst = *p;
	addr_prefix_mask(&dst);

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)dst.addr.family;
	rtm->rtm_dst_len = dst.cidr;
	/* rtm_table has 8 bits; larger ids go in RTA_TABLE, as ip(8) does. */
	rtm->rtm_table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = NETLINK_ROUTE_PROTO;
	rtm->rtm_scope = RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	/* For /0 the all-zero destination is what the kernel stores for a default route. */
	mnl_attr_put(nlh, RTA_DST, addr_len(dst.addr.family), dst.addr.bytes);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
	if (table >= 256)
		mnl_attr_put_u32(nlh, RTA_TABLE, table);
	return nlh;
}

/* r's message in buf (NETLINK_MSG_ROOM bytes), r checked by req_check(). */
static struct nlmsghdr *req_msg(void *buf, const struct netlink_req *r)
{
	struct ip_prefix p;
	unsigned mtu = r->value;

	memset(&p, 0, sizeof(p));
	p.addr.family = r->family;
	p.cidr = r->cidr;
	memcpy(p.addr.bytes, r->addr, sizeof(p.addr.bytes));
	switch (r->op) {
	case NETLINK_OP_MTU:
		return link_msg(buf, r->ifindex, 0, 0, &mtu);
	case NETLINK_OP_UP:
		return link_msg(buf, r->ifindex, r->value ? IFF_UP : 0, IFF_UP, NULL);
	case NETLINK_OP_ADDR_ADD:
		return addr_msg(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, r->ifindex, &p);
	case NETLINK_OP_ADDR_DEL:
		return addr_msg(buf, RTM_DELADDR, 0, r->ifindex, &p);
	case NETLINK_OP_ROUTE_ADD:
		return route_msg(buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, r->ifindex, &p,
				 r->value);
	case NETLINK_OP_ROUTE_DEL:
		return route_msg(buf, RTM_DELROUTE, 0, r->ifindex, &p, r->value);
	}
	return NULL;
}

/* Not an errno (those are 0 or negative here): a request of the batch not yet answered. */
#define UNANSWERED 1

static void fill_unanswered(int *results, size_t n, int err)
{
	for (size_t i = 0; i < n; i++)
		if (results[i] == UNANSWERED)
			results[i] = err;
}

/* The ACKs in buf[0..len) to the batch whose sequence numbers start at first. Anything else
 * (a stale ACK of an earlier request, one answered twice) is skipped. Returns how many of the
 * batch it answered. */
static size_t batch_acks(const void *buf, size_t len, unsigned portid, unsigned first, int *results,
			 size_t n)
{
	const struct nlmsghdr *nlh = buf;
	const struct nlmsgerr *err;
	int rest = (int)len;
	size_t answered = 0;
	unsigned i;

	for (; mnl_nlmsg_ok(nlh, rest); nlh = mnl_nlmsg_next(nlh, &rest)) {
		i = nlh->nlmsg_seq - first;
		if (nlh->nlmsg_type != NLMSG_ERROR || !mnl_nlmsg_portid_ok(nlh, portid) || i >= n ||
		    results[i] != UNANSWERED || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err)))
			continue;
		err = mnl_nlmsg_get_payload(nlh);
		results[i] = err->error <= 0 ? err->error : -EPROTO;
		answered++;
	}
	return answered;
}

int netlink_batch_run(struct netlink *nl, const struct netlink_req *reqs, size_t n, int *results)
{
	char buf[NETLINK_BUF_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *nlh;
	unsigned first = nl->seq + 1;
	size_t len = 0, left = n;
	ssize_t got;
	int ret = 0;

	for (size_t i = 0; i < n; i++)
		results[i] = UNANSWERED;
	if (!n || n > NETLINK_BATCH_MAX) {
		ret = -EINVAL;
		goto fail;
	}
	for (size_t i = 0; i < n && !ret; i++)
		ret = req_check(&reqs[i]);
	if (ret)
		goto fail;
	if (!nl->sock) { /* closed by netlink_batch() after the drop */
		ret = -EBADF;
		goto fail;
	}
	/* One buffer of messages, one send: the kernel handles them in order and ACKs each
	 * (NLM_F_ACK), its error or 0, under the sequence number it came with. */
	for (size_t i = 0; i < n; i++) {
		nlh = req_msg(buf + len, &reqs[i]);
		nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
		nlh->nlmsg_seq = first + (unsigned)i;
		len += NLMSG_ALIGN(nlh->nlmsg_len);
	}
	nl->seq += (unsigned)n;
	if (mnl_socket_sendto(nl->sock, buf, len) < 0) {
		ret = -errno;
		goto fail;
	}
	while (left) {
		got = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
		if (got < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto fail;
		}
		left -= batch_acks(buf, (size_t)got, nl->portid, first, results, n);
	}
	return 0;

fail:
	fill_unanswered(results, n, ret);
	return ret;
}

int netlink_batch(struct netlink *nl, const struct netlink_req *reqs, size_t n, int *results)
{
	size_t done = 0, k;
	int ret = 0;

	/* All or nothing before the first send, as the helper has it for a chunk. */
	for (size_t i = 0; i < n && !ret; i++)
		ret = req_check(&reqs[i]);
	for (size_t i = 0; ret && i < n; i++)
		results[i] = ret;
	if (ret)
		return ret;
	/* Without a capability the socket could still read what any process may; it has no
	 * more use after the drop. */
	if (forward_fn && nl->sock) {
		mnl_socket_close(nl->sock);
		nl->sock = NULL;
	}
	for (; done < n && !ret; done += k) {
		k = n - done < NETLINK_BATCH_MAX ? n - done : NETLINK_BATCH_MAX;
		if (forward_fn)
			ret = forward_fn(reqs + done, k, results + done);
		else
			ret = netlink_batch_run(nl, reqs + done, k, results + done);
	}
	for (size_t i = done; i < n; i++)
		results[i] = ret;
	return ret;
}

/* Every call of the API goes through here: to the kernel on our own socket before the drop,
 * to the helper after it. */
static int submit(struct netlink *nl, const struct netlink_req *r)
{
	int result, ret;

	ret = netlink_batch(nl, r, 1, &result);
	return ret ? ret : result;
}

/* Any other family stays 0, which req_check() refuses. */
static void req_prefix(struct netlink_req *r, uint8_t op, int ifindex, const struct ip_prefix *p,
		       uint32_t value)
{
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->ifindex = ifindex;
	r->value = value;
	if (p->addr.family == AF_INET || p->addr.family == AF_INET6) {
		r->family = (uint8_t)p->addr.family;
		r->cidr = p->cidr;
		memcpy(r->addr, p->addr.bytes, addr_len(p->addr.family));
	}
}

static int submit_prefix(struct netlink *nl, uint8_t op, int ifindex, const struct ip_prefix *p,
			 uint32_t value)
{
	struct netlink_req r;

	req_prefix(&r, op, ifindex, p, value);
	return submit(nl, &r);
}

void netlink_req_route(struct netlink_req *r, bool add, int ifindex, const struct ip_prefix *p,
		       uint32_t table)
{
	req_prefix(r, add ? NETLINK_OP_ROUTE_ADD : NETLINK_OP_ROUTE_DEL, ifindex, p, table);
}

int netlink_set_mtu(struct netlink *nl, int ifindex, unsigned mtu)
{
	struct netlink_req r = { .op = NETLINK_OP_MTU, .ifindex = ifindex, .value = mtu };

	return submit(nl, &r);
}

int netlink_set_up(struct netlink *nl, int ifindex, bool up)
{
	struct netlink_req r = { .op = NETLINK_OP_UP, .ifindex = ifindex, .value = up };

	return submit(nl, &r);
}

int netlink_addr_add(struct netlink *nl, int ifindex, const struct ip_prefix *p)
{
	return submit_prefix(nl, NETLINK_OP_ADDR_ADD, ifindex, p, 0);
}

int netlink_addr_del(struct netlink *nl, int ifindex, const struct ip_prefix *p)
{
	return submit_prefix(nl, NETLINK_OP_ADDR_DEL, ifindex, p, 0);
}

int netlink_route_add(struct netlink *nl, int ifindex, const struct ip_prefix *p)
{
	return netlink_route_add_table(nl, ifindex, p, RT_TABLE_MAIN);
}

int netlink_route_del(struct netlink *nl, int ifindex, const struct ip_prefix *p)
{
	return netlink_route_del_table(nl, ifindex, p, RT_TABLE_MAIN);
}

int netlink_route_add_table(struct netlink *nl, int ifindex, const struct ip_prefix *p,
			    uint32_t table)
{
	return submit_prefix(nl, NETLINK_OP_ROUTE_ADD, ifindex, p, table);
}

int netlink_route_del_table(struct netlink *nl, int ifindex, const struct ip_prefix *p,
			    uint32_t table)
{
	return submit_prefix(nl, NETLINK_OP_ROUTE_DEL, ifindex, p, table);
}

int netlink_request(struct netlink *nl, struct nlmsghdr *nlh,
		    int (*cb)(const struct nlmsghdr *nlh, void *data), void *data)
{
	char buf[NETLINK_BUF_SIZE];
	unsigned seq = ++nl->seq;
	ssize_t n;
	int ret;

	if (!nl->sock) /* closed by submit() after the drop */
		return -EBADF;
	if (nlh->nlmsg_len > NETLINK_REQUEST_SIZE)
		return -EMSGSIZE;
	nlh->nlmsg_flags |= NLM_F_REQUEST;
	/* A dump ends with NLMSG_DONE; an ACK asked for on top of it would arrive after we
	 * stopped reading and be taken for the answer to the next request. */
	if ((nlh->nlmsg_flags & NLM_F_DUMP) != NLM_F_DUMP)
		nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		errno = 0;
		ret = mnl_cb_run(buf, (size_t)n, seq, nl->portid, cb, data);
		if (ret < 0)
			return errno ? -errno : -EIO;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}
