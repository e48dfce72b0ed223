/* rtnetlink through libmnl: link state, MTU, addresses and routes of our TUN device.
 * Every call is synchronous (request, then wait for the kernel's ACK); netlink_batch() sends
 * many requests at once and waits for all their ACKs. */
#ifndef SEALNET_NETLINK_H
#define SEALNET_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
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

/* After the privilege drop the daemon holds no capability, so it cannot change the link
 * itself: privdrop.c hands every call above to its helper, which holds CAP_NET_ADMIN, as a
 * struct netlink_req, never as netlink bytes. The helper checks the request
 * (netlink_req_parse(): only the operations above, only on the ifindex it recorded before
 * the drop) and builds the message itself (netlink_batch_run()). The layout is fixed (no
 * padding, host order: both ends are the same binary); every field an operation does not use
 * is zero. */
enum netlink_op {
	NETLINK_OP_MTU = 1,   /* value: the MTU */
	NETLINK_OP_UP,        /* value: 1 up, 0 down */
	NETLINK_OP_ADDR_ADD,  /* family, cidr, addr */
	NETLINK_OP_ADDR_DEL,  /* family, cidr, addr */
	NETLINK_OP_ROUTE_ADD, /* family, cidr, addr, value: the table */
	NETLINK_OP_ROUTE_DEL, /* family, cidr, addr, value: the table */
};

struct netlink_req {
	uint8_t op;     /* enum netlink_op */
	uint8_t family; /* AF_INET, AF_INET6 */
	uint8_t cidr;
	uint8_t zero;
	int32_t ifindex;
	uint32_t value;
	uint8_t addr[16];
};

/* Several requests at once: one send to the kernel, or after the drop one request to the
 * helper, for up to NETLINK_BATCH_MAX of them (64 route messages are 4 KiB). A device change
 * adds or removes a route per AllowedIPs prefix; one at a time, each waited for the helper to
 * be scheduled (docs/performance.md, "Scale"). */
#define NETLINK_BATCH_MAX 64

/* The request netlink_route_add_table() (add) or netlink_route_del_table() makes, for
 * netlink_batch(). A family other than AF_INET and AF_INET6 leaves r one the batch refuses. */
void netlink_req_route(struct netlink_req *r, bool add, int ifindex, const struct ip_prefix *p,
		       uint32_t table);
/* Runs reqs[0..n) in order, NETLINK_BATCH_MAX to a send, and reads every answer: results[i]
 * is 0 or the kernel's -errno for reqs[i] (the kernel goes on after a refused message, so a
 * -EEXIST in the middle stops nothing). Returns 0 when every request was answered, else
 * -errno, which results[i] also holds for every request left unanswered: -EINVAL when one
 * of reqs is not a request the calls above could build (checked before anything is sent:
 * none has run), or the failure of a send or a receive, or of the helper (-EPIPE: gone); the
 * requests of that chunk may or may not have run, the later ones have not. */
int netlink_batch(struct netlink *nl, const struct netlink_req *reqs, size_t n, int *results);

/* Where the calls above go instead of the kernel (NULL: to the kernel). privdrop_apply()
 * sets it after the drop; from then on the process's own rtnetlink sockets are closed at
 * their next use. forward gets 1 to NETLINK_BATCH_MAX requests, each checked, and answers as
 * netlink_batch() does; a single call is a batch of one. */
void netlink_set_forward(int (*forward)(const struct netlink_req *reqs, size_t n, int *results));
/* The helper's side: buf[0..len) as a request for ifindex. Returns 0 with *out, -EINVAL for
 * anything malformed (wrong size, unknown operation, a bad prefix or table, a nonzero unused
 * field), -EPERM for another interface. */
int netlink_req_parse(const void *buf, size_t len, int ifindex, struct netlink_req *out);
/* buf[0..len) as 1 to NETLINK_BATCH_MAX requests one after another, each checked by
 * netlink_req_parse(), into out[] (room for NETLINK_BATCH_MAX). Returns their number, or
 * the first refusal (-EINVAL: no request, too many, a length that is not a whole number of
 * them, or a malformed one; -EPERM: one for another interface): a batch is run whole or
 * refused whole. */
int netlink_batch_parse(const void *buf, size_t len, int ifindex, struct netlink_req *out);
/* Builds the messages of reqs[0..n) (n <= NETLINK_BATCH_MAX) and sends them on nl at once,
 * each with its own sequence number. Returns as netlink_batch(). */
int netlink_batch_run(struct netlink *nl, const struct netlink_req *reqs, size_t n, int *results);

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
/* The start of an RTM_NEWADDR or RTM_DELADDR message for p on ifindex in buf (at least
 * NETLINK_REQUEST_SIZE): the header, and the ifaddrmsg (*ifa) with universe scope; the
 * caller adds flags and attributes. */
struct ifaddrmsg;
struct nlmsghdr *netlink_addr_msg(void *buf, uint16_t type, uint16_t flags, int ifindex,
				  const struct ip_prefix *p, struct ifaddrmsg **ifa);

#endif
