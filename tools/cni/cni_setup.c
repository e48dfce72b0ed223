/* Building an attachment: the container's namespace entered just long enough to open a
 * netlink socket there, both ends of the veth pair configured, and the host's forwarding
 * sysctls. */
#define _GNU_SOURCE /* setns */
#include "cni_setup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HOST_VETH_PREFIX "snc"

/* FNV-1a: the name only has to be stable and unlikely to collide among the containers of
 * one node (48 bits), not to resist anyone choosing container IDs. */
void cni_host_veth_name(const struct cni_env *env, char name[IFNAMSIZ])
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	const char *parts[] = { env->containerid, env->ifname };

	for (size_t i = 0; i < 2; i++) {
		/* The NUL is hashed too, so ("ab", "c") and ("a", "bc") differ. */
		for (const char *p = parts[i];; p++) {
			h ^= (uint8_t)*p;
			h *= UINT64_C(0x100000001b3);
			if (!*p)
				break;
		}
	}
	snprintf(name, IFNAMSIZ, HOST_VETH_PREFIX "%012" PRIx64, h & UINT64_C(0xffffffffffff));
}

void cni_host_prefix(const struct ip_addr *a, struct ip_prefix *out)
{
	out->addr = *a;
	out->cidr = a->family == AF_INET ? 32 : 128;
}

int cni_netns_open(const char *path, int *nsfd_out, struct netlink **out, struct cni_error *e)
{
	int nsfd, self, ret;

	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		return cni_fail(e, CNI_ERR_CONTAINER, "container namespace not found", "%s: %s",
				path, strerror(errno));
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		ret = cni_fail(e, CNI_ERR_SYSTEM, "opening our network namespace",
			       "/proc/self/ns/net: %s", strerror(errno));
		goto err_nsfd;
	}
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		ret = cni_fail(e, CNI_ERR_CONTAINER, "entering the container namespace", "%s: %s",
			       path, errno == EINVAL ? "not a network namespace" : strerror(errno));
		goto err_self;
	}
	ret = netlink_open(out);
	if (setns(self, CLONE_NEWNET) < 0) {
		int err = errno;

		/* Everything after this (sysctls, the IPAM plugin) would act on the container:
		 * stop here. */
		if (ret == 0)
			netlink_close(*out);
		ret = cni_fail(e, CNI_ERR_SYSTEM, "returning to the host namespace", "%s",
			       strerror(err));
		goto err_self;
	}
	if (ret < 0) {
		ret = cni_fail(e, CNI_ERR_SYSTEM, "netlink socket in the container", "%s",
			       strerror(-ret));
		goto err_self;
	}
	close(self);
	*nsfd_out = nsfd;
	return 0;

err_self:
	close(self);
err_nsfd:
	close(nsfd);
	return ret;
}

static const char *const forwarding_sysctl[2] = {
	"/proc/sys/net/ipv4/ip_forward",
	"/proc/sys/net/ipv6/conf/all/forwarding",
};

static int sysctl_get(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		ret = -errno;
	else
		buf[n] = '\0';
	close(fd);
	return ret;
}

static bool forwarding_on(const char *path)
{
	char val[16];

	return sysctl_get(path, val, sizeof(val)) == 0 && val[0] == '1';
}

int cni_forwarding_enable(const struct cni_ipam_result *r, struct cni_error *e)
{
	int fd;

	for (size_t i = 0; i < r->n_ips; i++) {
		const char *path = forwarding_sysctl[r->ips[i].addr.addr.family == AF_INET6];

		if (forwarding_on(path))
			continue;
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "1\n", 2) != 2) {
			int err = errno;

			if (fd >= 0)
				close(fd);
			return cni_fail(e, CNI_ERR_SYSTEM, "enabling forwarding", "%s: %s", path,
					strerror(err));
		}
		close(fd);
	}
	return 0;
}
int cni_forwarding_check(int family, struct cni_error *e)
{
	const char *path = forwarding_sysctl[family == AF_INET6];

	/* Without forwarding nothing reaches the pod from outside the node. */
	if (!forwarding_on(path))
		return cni_fail(e, CNI_ERR_CHECK, "forwarding off", "%s is not 1", path);
	return 0;
}

/* One end of the new pair, looked up by name and set up; what names that end in an error. */
static int link_up(struct netlink *nl, const char *name, const char *what, struct cni_link *l,
		   struct cni_error *e)
{
	int ret = cni_netlink_link_get(nl, name, l);

	if (ret < 0)
		return cni_fail(e, CNI_ERR_SYSTEM, what, "%s: %s", name, strerror(-ret));
	ret = netlink_set_up(nl, l->ifindex, true);
	if (ret < 0)
		return cni_fail(e, CNI_ERR_SYSTEM, what, "%s up: %s", name, strerror(-ret));
	return 0;
}

int cni_setup_host(struct netlink *nl, const char *name, const struct cni_ipam_result *r,
		   struct cni_link *host, struct cni_error *e)
{
	char buf[ADDR_STRLEN];
	struct ip_prefix p;
	int ret;

	ret = link_up(nl, name, "host veth", host, e);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < r->n_ips; i++) {
		cni_host_prefix(&r->ips[i].gw, &p);
		ret = netlink_addr_add(nl, host->ifindex, &p);
		if (ret < 0 && ret != -EEXIST)
			return cni_fail(e, CNI_ERR_SYSTEM, "gateway address on the host veth",
					"%s on %s: %s", addr_prefix_str(&p, buf), name,
					strerror(-ret));
		cni_host_prefix(&r->ips[i].addr.addr, &p);
		ret = netlink_route_add(nl, host->ifindex, &p);
		if (ret < 0)
			return cni_fail(e, CNI_ERR_SYSTEM, "route to the pod", "%s dev %s: %s%s",
					addr_prefix_str(&p, buf), name, strerror(-ret),
					ret == -EEXIST ? " (another interface has it)" : "");
	}
	return 0;
}

/* The gateway of the family of a, from the first address of that family. */
static const struct ip_addr *gateway_for(const struct cni_ipam_result *r, int family)
{
	for (size_t i = 0; i < r->n_ips; i++) {
		if (r->ips[i].addr.addr.family == family)
			return &r->ips[i].gw;
	}
	return NULL;
}

int cni_setup_container(struct netlink *nl, const char *ifname, const struct cni_ipam_result *r,
			struct cni_link *cont, struct cni_error *e)
{
	char buf[ADDR_STRLEN];
	struct ip_prefix subnet;
	const struct ip_addr *gw;
	int ret;

	/* Up first: the kernel takes no on-link gateway route on a link that is down. */
	ret = link_up(nl, ifname, "container interface", cont, e);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < r->n_ips; i++) {
		ret = cni_netlink_addr_add_noprefixroute(nl, cont->ifindex, &r->ips[i].addr);
		if (ret < 0)
			return cni_fail(e, CNI_ERR_SYSTEM, "container address", "%s on %s: %s",
					addr_prefix_str(&r->ips[i].addr, buf), ifname,
					strerror(-ret));
	}
	for (size_t i = 0; i < r->n_ips; i++) {
		subnet = r->ips[i].addr;
		addr_prefix_mask(&subnet);
		ret = cni_netlink_route_add_via(nl, cont->ifindex, &subnet, &r->ips[i].gw);
		if (ret < 0 && ret != -EEXIST)
			return cni_fail(e, CNI_ERR_SYSTEM, "container route", "%s: %s",
					addr_prefix_str(&subnet, buf), strerror(-ret));
	}
	for (size_t i = 0; i < r->n_routes; i++) {
		gw = r->routes[i].has_gw ? &r->routes[i].gw
					 : gateway_for(r, r->routes[i].dst.addr.family);
		if (!gw)
			return cni_fail(e, CNI_ERR_IPAM, "route without a gateway",
					"%s: no gw, and no address of its family",
					addr_prefix_str(&r->routes[i].dst, buf));
		ret = cni_netlink_route_add_via(nl, cont->ifindex, &r->routes[i].dst, gw);
		if (ret < 0 && ret != -EEXIST)
			return cni_fail(e, CNI_ERR_SYSTEM, "container route", "%s: %s",
					addr_prefix_str(&r->routes[i].dst, buf), strerror(-ret));
	}
	return 0;
}
