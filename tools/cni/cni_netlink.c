#include "cni_netlink.h"

#include <errno.h>
#include <stddef.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <string.h>

/* Same origin as daemon/netlink.c's routes: `ip route` shows them as static. */
#define ROUTE_PROTO RTPROT_STATIC

static bool prefix_valid(const struct ip_prefix *p)
{
	if (p->addr.family == AF_INET)
		return p->cidr <= 32;
	if (p->addr.family == AF_INET6)
		return p->cidr <= 128;
	return false;
}

static bool name_valid(const char *name)
{
	size_t len = strlen(name);

	return len > 0 && len < IFNAMSIZ;
}

int cni_netlink_veth_add(struct netlink *nl, const char *host_name, const char *peer_name,
			 int peer_netns_fd, unsigned mtu)
{
	char buf[NETLINK_REQUEST_SIZE];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	struct nlattr *linkinfo, *data, *peer;

	if (!name_valid(host_name) || !name_valid(peer_name) || peer_netns_fd < 0)
		return -EINVAL;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, host_name);
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	/* The peer's attributes follow an ifinfomsg of their own, as in a RTM_NEWLINK. Creating
	 * the peer in the container's namespace at once means it never exists on the host
	 * under the container's interface name (eth0 would clash with the host's own). */
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer_name);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_netns_fd);
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, linkinfo);
	return netlink_request(nl, nlh, NULL, NULL);
}

static int linkinfo_attr(const struct nlattr *attr, void *data)
{
	struct cni_link *link = data;
	const char *kind;

	if (mnl_attr_get_type(attr) != IFLA_INFO_KIND)
		return MNL_CB_OK;
	if (mnl_attr_validate(attr, MNL_TYPE_STRING) < 0)
		return MNL_CB_OK;
	kind = mnl_attr_get_str(attr);
	if (strlen(kind) < sizeof(link->kind))
		strcpy(link->kind, kind);
	return MNL_CB_OK;
}

static int link_attr(const struct nlattr *attr, void *data)
{
	struct cni_link *link = data;

	switch (mnl_attr_get_type(attr)) {
	case IFLA_MTU:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			link->mtu = mnl_attr_get_u32(attr);
		break;
	case IFLA_ADDRESS:
		if (mnl_attr_get_payload_len(attr) == sizeof(link->mac)) {
			memcpy(link->mac, mnl_attr_get_payload(attr), sizeof(link->mac));
			link->has_mac = true;
		}
		break;
	case IFLA_LINKINFO:
		if (mnl_attr_validate(attr, MNL_TYPE_NESTED) == 0)
			mnl_attr_parse_nested(attr, linkinfo_attr, link);
		break;
	}
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct cni_link *link = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	memset(link, 0, sizeof(*link));
	link->ifindex = ifi->ifi_index;
	link->flags = ifi->ifi_flags;
	mnl_attr_parse(nlh, sizeof(*ifi), link_attr, link);
	return MNL_CB_OK;
}

int cni_netlink_link_get(struct netlink *nl, const char *name, struct cni_link *out)
{
	char buf[NETLINK_REQUEST_SIZE];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	int ret;

	if (!name_valid(name))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	ret = netlink_request(nl, nlh, link_cb, out);
	if (ret < 0)
		return ret;
	return out->ifindex > 0 ? 0 : -ENODEV;
}

int cni_netlink_link_del(struct netlink *nl, int ifindex)
{
	char buf[NETLINK_REQUEST_SIZE];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	if (ifindex <= 0)
		return -EINVAL;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_DELLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return netlink_request(nl, nlh, NULL, NULL);
}

int cni_netlink_addr_add_noprefixroute(struct netlink *nl, int ifindex, const struct ip_prefix *p)
{
	char buf[NETLINK_REQUEST_SIZE];
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	size_t len;
	uint32_t flags = IFA_F_NOPREFIXROUTE;

	if (ifindex <= 0 || !prefix_valid(p))
		return -EINVAL;
	len = addr_len(p->addr.family);
	nlh = netlink_addr_msg(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, p, &ifa);
	if (p->addr.family == AF_INET) {
		mnl_attr_put(nlh, IFA_LOCAL, len, p->addr.bytes);
	} else {
		/* The only other node on the link is the host, which never claims the pod's
		 * address: duplicate detection would only delay the first packets. */
		flags |= IFA_F_NODAD;
	}
	mnl_attr_put(nlh, IFA_ADDRESS, len, p->addr.bytes);
	/* NOPREFIXROUTE does not fit the 8 bits of ifa_flags: only IFA_FLAGS carries it. */
	ifa->ifa_flags = (uint8_t)(flags & 0xff);
	mnl_attr_put_u32(nlh, IFA_FLAGS, flags);
	return netlink_request(nl, nlh, NULL, NULL);
}

int cni_netlink_route_add_via(struct netlink *nl, int ifindex, const struct ip_prefix *dst,
			      const struct ip_addr *gw)
{
	char buf[NETLINK_REQUEST_SIZE];
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	struct ip_prefix d;

	if (ifindex <= 0 || !prefix_valid(dst) || gw->family != dst->addr.family)
		return -EINVAL;
	d = *dst;
	addr_prefix_mask(&d);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)d.addr.family;
	rtm->rtm_dst_len = d.cidr;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = ROUTE_PROTO;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	/* The gateway is the host end of the veth, whose address is in no prefix the pod
	 * has a route for: onlink tells the kernel to resolve it on this link anyway. */
	rtm->rtm_flags = RTNH_F_ONLINK;
	mnl_attr_put(nlh, RTA_DST, addr_len(d.addr.family), d.addr.bytes);
	mnl_attr_put(nlh, RTA_GATEWAY, addr_len(gw->family), gw->bytes);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
	return netlink_request(nl, nlh, NULL, NULL);
}

/* --- look-ups: dumps filtered here (the kernel's own filtering differs between versions) */

/* Above IFA_MAX and RTA_MAX of any kernel we know; attributes past it are not ours. */
#define ATTR_TABLE_SIZE 64

/* Files a message's attributes by type. */
static int attr_table(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (type < ATTR_TABLE_SIZE)
		tb[type] = attr;
	return MNL_CB_OK;
}

static bool attr_equals(const struct nlattr *attr, const void *bytes, size_t len)
{
	return attr && mnl_attr_get_payload_len(attr) == len &&
	       memcmp(mnl_attr_get_payload(attr), bytes, len) == 0;
}

/* Dumps one family's addresses (RTM_GETADDR) or routes (RTM_GETROUTE) through cb. hdr_len is
 * the size of the request's header, ifaddrmsg or rtmsg: both begin with the family byte, as
 * every rtnetlink dump request does (struct rtgenmsg). */
static int dump(struct netlink *nl, uint16_t type, size_t hdr_len, int family, mnl_cb_t cb,
		void *data)
{
	char buf[NETLINK_REQUEST_SIZE];
	struct nlmsghdr *nlh;
	uint8_t *hdr;

	_Static_assert(offsetof(struct ifaddrmsg, ifa_family) == 0 &&
			       offsetof(struct rtmsg, rtm_family) == 0,
		       "the family leads both headers");
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_DUMP;
	hdr = mnl_nlmsg_put_extra_header(nlh, hdr_len);
	hdr[0] = (uint8_t)family;
	return netlink_request(nl, nlh, cb, data);
}

struct addr_match {
	int ifindex;
	const struct ip_prefix *want;
	bool found;
};

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct addr_match *m = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[ATTR_TABLE_SIZE] = { NULL };

	if (nlh->nlmsg_type != RTM_NEWADDR || ifa->ifa_family != m->want->addr.family ||
	    (int)ifa->ifa_index != m->ifindex || ifa->ifa_prefixlen != m->want->cidr)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ifa), attr_table, tb);
	/* IFA_LOCAL is the address of an IPv4 link; IPv6 has only IFA_ADDRESS. */
	if (attr_equals(tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS], m->want->addr.bytes,
			addr_len(m->want->addr.family)))
		m->found = true;
	return MNL_CB_OK;
}

int cni_netlink_addr_find(struct netlink *nl, int ifindex, const struct ip_prefix *p)
{
	struct addr_match m = { .ifindex = ifindex, .want = p };
	int ret;

	if (ifindex <= 0 || !prefix_valid(p))
		return -EINVAL;
	ret = dump(nl, RTM_GETADDR, sizeof(struct ifaddrmsg), p->addr.family, addr_cb, &m);
	return ret < 0 ? ret : m.found;
}

struct route_match {
	int ifindex;
	struct ip_prefix dst; /* masked */
	const struct ip_addr *gw;
	bool found;
};

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct route_match *m = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[ATTR_TABLE_SIZE] = { NULL };
	size_t len = addr_len(m->dst.addr.family);
	uint32_t table = rtm->rtm_table;
	int oif = 0;

	if (nlh->nlmsg_type != RTM_NEWROUTE || rtm->rtm_family != m->dst.addr.family ||
	    rtm->rtm_dst_len != m->dst.cidr || rtm->rtm_type != RTN_UNICAST)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*rtm), attr_table, tb);
	/* rtm_table has 8 bits; RTA_TABLE, when there, is the whole number. */
	if (tb[RTA_TABLE] && mnl_attr_validate(tb[RTA_TABLE], MNL_TYPE_U32) == 0)
		table = mnl_attr_get_u32(tb[RTA_TABLE]);
	if (tb[RTA_OIF] && mnl_attr_validate(tb[RTA_OIF], MNL_TYPE_U32) == 0)
		oif = (int)mnl_attr_get_u32(tb[RTA_OIF]);
	if (table != RT_TABLE_MAIN || oif != m->ifindex)
		return MNL_CB_OK;
	/* A default route may come without RTA_DST. */
	if (tb[RTA_DST] ? !attr_equals(tb[RTA_DST], m->dst.addr.bytes, len) : m->dst.cidr != 0)
		return MNL_CB_OK;
	if (m->gw && !attr_equals(tb[RTA_GATEWAY], m->gw->bytes, len))
		return MNL_CB_OK;
	m->found = true;
	return MNL_CB_OK;
}

int cni_netlink_route_find(struct netlink *nl, int ifindex, const struct ip_prefix *dst,
			   const struct ip_addr *gw)
{
	struct route_match m = { .ifindex = ifindex, .gw = gw };
	int ret;

	if (ifindex <= 0 || !prefix_valid(dst) || (gw && gw->family != dst->addr.family))
		return -EINVAL;
	m.dst = *dst;
	addr_prefix_mask(&m.dst);
	ret = dump(nl, RTM_GETROUTE, sizeof(struct rtmsg), dst->addr.family, route_cb, &m);
	return ret < 0 ? ret : m.found;
}
