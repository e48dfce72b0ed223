/* rtnetlink through libmnl: link state, MTU, addresses and routes of our TUN device.
 * Every call is synchronous (request, then wait for the kernel's ACK). */
#ifndef SEALNET_NETLINK_H
#define SEALNET_NETLINK_H

#include <stdbool.h>
#include <stdint.h>

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
/* The same in routing table `table` (1..2^32-1; 254 is main). */
int netlink_route_add_table(struct netlink *nl, int ifindex, const struct ip_prefix *p,
                            uint32_t table);
int netlink_route_del_table(struct netlink *nl, int ifindex, const struct ip_prefix *p,
                            uint32_t table);

struct nlmsghdr;

/* Largest request netlink_request() takes, and the buffer a caller builds one in. */
#define NETLINK_REQUEST_SIZE 8192

/* Any other request, built by the caller (mnl_nlmsg_put_header() on a buffer of
 * NETLINK_REQUEST_SIZE): sets the sequence number and NLM_F_REQUEST, adds NLM_F_ACK unless
 * it is a dump, and runs cb (may be NULL) on every answer until the ACK or the dump's end.
 * cb returns MNL_CB_OK, or MNL_CB_ERROR with errno set; it must not stop a dump early
 * (MNL_CB_STOP), whose rest would be read as the answer to the next request. Returns 0, the
 * kernel's error as -errno, or cb's errno. For tools (sealnet-cni) that need messages this
 * file does not build: veth pairs, gateway routes, dumps. */
int netlink_request(struct netlink *nl, struct nlmsghdr *nlh,
                    int (*cb)(const struct nlmsghdr *nlh, void *data), void *data);

#endif
