/* The two sides of an attachment: the container's namespace, the veth pair's host end with
 * the gateway address and the routes to the pod, the container end with the pod's
 * addresses and routes, and forwarding on the host (the design is at the top of
 * sealnet-cni.c). */
#ifndef SEALNET_CNI_SETUP_H
#define SEALNET_CNI_SETUP_H

#include <net/if.h>

#include "addr.h"
#include "cni.h"
#include "cni_conf.h"
#include "cni_netlink.h"

/* The host end's name: "snc" and 12 hex digits of a hash of (CNI_CONTAINERID, CNI_IFNAME),
 * so that DEL finds it without prevResult and without the container's namespace. */
void cni_host_veth_name(const struct cni_env *env, char name[IFNAMSIZ]);
/* a as a host prefix: /32 or /128. */
void cni_host_prefix(const struct ip_addr *a, struct ip_prefix *out);

/* Opens a netlink socket inside the namespace at path: it stays bound there, so the
 * caller can use it from the host namespace we return to. *nsfd_out is the namespace,
 * for veth creation; both are the caller's to close. */
int cni_netns_open(const char *path, int *nsfd_out, struct netlink **out, struct cni_error *e);

/* Forwarding on for each family that has an address in r; written only if it is off. */
int cni_forwarding_enable(const struct cni_ipam_result *r, struct cni_error *e);
/* CHECK's side of it: CNI_ERR_CHECK unless forwarding is on for family. */
int cni_forwarding_check(int family, struct cni_error *e);

/* The host end of a new veth pair, name, in nl's namespace: up, each gateway of r on it as
 * a host address, and a host route to each of r's addresses through it. *host: the link. */
int cni_setup_host(struct netlink *nl, const char *name, const struct cni_ipam_result *r,
		   struct cni_link *host, struct cni_error *e);
/* The container end, ifname, in nl's namespace: up, r's addresses without their prefix
 * routes, each subnet and each of r's routes through the gateway. *cont: the link. */
int cni_setup_container(struct netlink *nl, const char *ifname, const struct cni_ipam_result *r,
			struct cni_link *cont, struct cni_error *e);

#endif
