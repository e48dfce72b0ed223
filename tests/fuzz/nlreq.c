/* The helper's parser of the daemon's network requests (netlink.h): netlink_req_parse() on
 * what a daemon taken over could send after the drop. Input: one byte whose low two bits are
 * the armed ifindex (0 to 3; 0 is "none"), then the request's bytes.
 *
 * Beyond the sanitizers: a request is accepted only for the armed ifindex, and exactly when
 * the daemon's own calls (netlink_set_mtu(), netlink_addr_add(), ...; the real ones, which
 * fuzz.c's stand-ins wrap) build the same bytes: the helper accepts nothing the daemon would
 * not send. A refusal is -EINVAL, or -EPERM for a well-formed request for another interface.
 * Nothing reaches a kernel: the daemon's calls are caught by a forward function. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "netlink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int __real_netlink_open(struct netlink **out);
int __real_netlink_set_mtu(struct netlink *nl, int ifindex, unsigned mtu);
int __real_netlink_set_up(struct netlink *nl, int ifindex, bool up);
int __real_netlink_addr_add(struct netlink *nl, int ifindex, const struct ip_prefix *p);
int __real_netlink_addr_del(struct netlink *nl, int ifindex, const struct ip_prefix *p);
int __real_netlink_route_add_table(struct netlink *nl, int ifindex, const struct ip_prefix *p,
				   uint32_t table);
int __real_netlink_route_del_table(struct netlink *nl, int ifindex, const struct ip_prefix *p,
				   uint32_t table);

static struct netlink_req caught;
static int n_caught;

static int catch_req(const struct netlink_req *reqs, size_t n, int *results)
{
	for (size_t i = 0; i < n; i++) {
		caught = reqs[i];
		results[i] = 0;
	}
	n_caught += (int)n;
	return 0;
}

/* What the daemon's call for r's operation builds from r's values. */
static int rebuild(struct netlink *nl, const struct netlink_req *r)
{
	struct ip_prefix p;

	memset(&p, 0, sizeof(p));
	p.addr.family = r->family;
	p.cidr = r->cidr;
	memcpy(p.addr.bytes, r->addr, sizeof(p.addr.bytes));
	switch (r->op) {
	case NETLINK_OP_MTU:
		return __real_netlink_set_mtu(nl, r->ifindex, r->value);
	case NETLINK_OP_UP:
		return __real_netlink_set_up(nl, r->ifindex, r->value);
	case NETLINK_OP_ADDR_ADD:
		return __real_netlink_addr_add(nl, r->ifindex, &p);
	case NETLINK_OP_ADDR_DEL:
		return __real_netlink_addr_del(nl, r->ifindex, &p);
	case NETLINK_OP_ROUTE_ADD:
		return __real_netlink_route_add_table(nl, r->ifindex, &p, r->value);
	case NETLINK_OP_ROUTE_DEL:
		return __real_netlink_route_del_table(nl, r->ifindex, &p, r->value);
	}
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct netlink *nl;
	struct netlink_req out;
	int armed, ret;

	if (!nl) {
		/* A real (unused) socket: the first forwarded call closes it. */
		if (__real_netlink_open(&nl))
			abort();
		netlink_set_forward(catch_req);
	}
	if (size < 1)
		return 0;
	armed = data[0] & 3;
	ret = netlink_req_parse(data + 1, size - 1, armed, &out);
	if (ret == -EPERM) {
		if (size - 1 != sizeof(out) || out.ifindex == armed)
			abort();
		return 0;
	}
	if (ret)
		return ret == -EINVAL ? 0 : (abort(), 0);
	if (out.ifindex != armed || memcmp(&out, data + 1, sizeof(out)))
		abort();
	n_caught = 0;
	if (rebuild(nl, &out) || n_caught != 1 || memcmp(&caught, &out, sizeof(out)))
		abort();
	return 0;
}
