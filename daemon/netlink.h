/* rtnetlink through libmnl: link state, MTU, addresses and routes of our TUN device.
 * Every call is synchronous (request, then wait for the kernel's ACK). */
#ifndef SEALNET_NETLINK_H
#define SEALNET_NETLINK_H

#include <stdbool.h>

#include "addr.h"

struct netlink;

/* Returns 0 or -errno; *out owned by caller, closed with netlink_close(). */
int netlink_open(struct netlink **out);
void netlink_close(struct netlink *nl);

int netlink_set_mtu(struct netlink *nl, int ifindex, unsigned mtu);
int netlink_set_up(struct netlink *nl, int ifindex, bool up);
/* Address with its prefix length, e.g. 100.64.0.1/24 (host bits kept). -EEXIST if present. */
int netlink_addr_add(struct netlink *nl, int ifindex, const struct ip_prefix *p);
int netlink_addr_del(struct netlink *nl, int ifindex, const struct ip_prefix *p);
/* Route for the masked prefix via the device, main table. -EEXIST if an identical route is
 * present (callers treat it as "not ours", and do not delete it later). */
int netlink_route_add(struct netlink *nl, int ifindex, const struct ip_prefix *p);
int netlink_route_del(struct netlink *nl, int ifindex, const struct ip_prefix *p);

#endif
