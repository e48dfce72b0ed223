/* What sealnet-cni needs from rtnetlink beyond daemon/netlink.c: a veth pair whose peer is
 * created straight in the container's namespace, links looked up by name, addresses without
 * their prefix route, routes through an on-link gateway, and the look-ups CHECK does.
 *
 * Every function works in the namespace the struct netlink socket was opened in, whatever
 * namespace the calling thread is in now: sealnet-cni opens one socket on the host and one
 * inside the container, and never needs to switch back and forth. */
#ifndef SEALNET_CNI_NETLINK_H
#define SEALNET_CNI_NETLINK_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "netlink.h"

struct cni_link {
	int ifindex;
	unsigned flags; /* IFF_* */
	unsigned mtu;
	uint8_t mac[6];
	bool has_mac;
	char kind[16]; /* IFLA_INFO_KIND, e.g. "veth"; empty for a link without one */
};

/* A veth pair: host_name in nl's namespace and peer_name in the namespace of
 * peer_netns_fd, both with the given MTU, both down. -EEXIST if either name is taken. */
int cni_netlink_veth_add(struct netlink *nl, const char *host_name, const char *peer_name,
			 int peer_netns_fd, unsigned mtu);
/* -ENODEV if there is no link of that name. */
int cni_netlink_link_get(struct netlink *nl, const char *name, struct cni_link *out);
/* Deletes the link (and so a veth's peer, wherever it is). */
int cni_netlink_link_del(struct netlink *nl, int ifindex);
/* Address with its prefix length, but without the route to the prefix the kernel would add
 * (IFA_F_NOPREFIXROUTE; IPv6 also NODAD): a pod's neighbours in its subnet sit behind other
 * veths, so the subnet must go through the gateway like everything else. */
int cni_netlink_addr_add_noprefixroute(struct netlink *nl, int ifindex, const struct ip_prefix *p);
/* dst (masked) via gw dev ifindex onlink, main table: the gateway need not be in any
 * prefix of the link. -EEXIST if the route is there. */
int cni_netlink_route_add_via(struct netlink *nl, int ifindex, const struct ip_prefix *dst,
			      const struct ip_addr *gw);

/* 1 if ifindex has the address with that prefix length, 0 if not, or -errno. */
int cni_netlink_addr_find(struct netlink *nl, int ifindex, const struct ip_prefix *p);
/* 1 if the main table has a route to dst (masked) out of ifindex, through gw unless gw is
 * NULL, 0 if not, or -errno. */
int cni_netlink_route_find(struct netlink *nl, int ifindex, const struct ip_prefix *dst,
			   const struct ip_addr *gw);

#endif
