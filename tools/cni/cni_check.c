/* CHECK: prevResult read for our two interfaces, then the system compared with it. */
#include "cni_check.h"

#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cni_netlink.h"
#include "cni_result.h"
#include "cni_setup.h"

/* One of prevResult's interfaces: an object with a string name, and a string sandbox and
 * mac if it has them (SPEC.md, "Success"). */
static int interface_fields(struct json_object *ifs, size_t i, const char **name,
			    const char **sandbox, const char **mac, struct cni_error *e)
{
	static const char *const keys[3] = { "name", "sandbox", "mac" };
	const char **out[3] = { name, sandbox, mac };
	struct json_object *it = json_object_array_get_idx(ifs, i), *v;

	if (!json_object_is_type(it, json_type_object))
		return cni_fail(e, CNI_ERR_DECODE, "decoding prevResult",
				"interfaces[%zu] is not an object", i);
	for (size_t k = 0; k < 3; k++) {
		if (cni_json_member(it, keys[k], json_type_string, &v) < 0 || (k == 0 && !v))
			return cni_fail(e, CNI_ERR_DECODE, "decoding prevResult",
					"interfaces[%zu].%s is not a string", i, keys[k]);
		*out[k] = v ? json_object_get_string(v) : NULL;
	}
	return 0;
}

/* *idx: the index in prevResult's interfaces of (name, sandbox), -1 if none; *mac its MAC if
 * it has one. Every entry is checked, not only those before the match. */
static int find_interface(struct json_object *prev, const char *name, const char *sandbox, int *idx,
			  const char **mac, struct cni_error *e)
{
	struct json_object *ifs;
	const char *n, *sb, *m;
	int ret;

	*idx = -1;
	*mac = NULL;
	if (cni_json_member(prev, "interfaces", json_type_array, &ifs) < 0)
		return cni_fail(e, CNI_ERR_DECODE, "decoding prevResult",
				"interfaces is not a list");
	for (size_t i = 0; ifs && i < json_object_array_length(ifs); i++) {
		ret = interface_fields(ifs, i, &n, &sb, &m, e);
		if (ret < 0)
			return ret;
		if (*idx < 0 && strcmp(n, name) == 0 && strcmp(sb ? sb : "", sandbox) == 0) {
			*idx = (int)i;
			*mac = m;
		}
	}
	return 0;
}

static int check_link(const struct cni_link *l, const char *name, const char *where,
		      const char *want_mac, struct cni_error *e)
{
	char mac[18];

	if (strcmp(l->kind, "veth") != 0)
		return cni_fail(e, CNI_ERR_CHECK, "interface changed", "%s %s is not a veth", where,
				name);
	if (!(l->flags & IFF_UP))
		return cni_fail(e, CNI_ERR_CHECK, "interface down", "%s %s is down", where, name);
	if (want_mac && l->has_mac && strcasecmp(want_mac, cni_mac_str(l, mac)) != 0)
		return cni_fail(e, CNI_ERR_CHECK, "interface changed", "%s %s has MAC %s, not %s",
				where, name, mac, want_mac);
	return 0;
}

/* Both ends of the attachment, as CHECK finds them. */
struct ends {
	char host_name[IFNAMSIZ];
	struct netlink *nl;      /* the host's */
	struct netlink *nl_cont; /* bound to the container's namespace */
	int nsfd;
	struct cni_link host, cont;
};

/* Both ends there, veths, up and with the MACs prevResult gives them (NULL: any). */
static int ends_open(struct ends *v, const struct cni_env *env, const char *host_mac,
		     const char *cont_mac, struct cni_error *e)
{
	int ret;

	ret = netlink_open(&v->nl);
	if (ret < 0)
		return cni_fail(e, CNI_ERR_SYSTEM, "netlink socket", "%s", strerror(-ret));
	ret = cni_netlink_link_get(v->nl, v->host_name, &v->host);
	if (ret < 0)
		return cni_fail(e, CNI_ERR_CHECK, "host veth missing", "%s: %s", v->host_name,
				strerror(-ret));
	ret = check_link(&v->host, v->host_name, "host veth", host_mac, e);
	if (ret < 0)
		return ret;
	ret = cni_netns_open(env->netns, &v->nsfd, &v->nl_cont, e);
	if (ret < 0)
		return ret;
	ret = cni_netlink_link_get(v->nl_cont, env->ifname, &v->cont);
	if (ret < 0)
		return cni_fail(e, CNI_ERR_CHECK, "container interface missing", "%s in %s: %s",
				env->ifname, env->netns, strerror(-ret));
	return check_link(&v->cont, env->ifname, "container interface", cont_mac, e);
}

static void ends_close(struct ends *v)
{
	if (v->nsfd >= 0)
		close(v->nsfd);
	netlink_close(v->nl_cont);
	netlink_close(v->nl);
}

/* One of prevResult's addresses of the container interface: on it, routed to it from the
 * host, its gateway on the host end, and forwarding on for its family. */
static int check_ip(const struct ends *v, const char *ifname, const struct cni_ip *ip,
		    struct cni_error *e)
{
	char buf[ADDR_STRLEN];
	struct ip_prefix p;
	int ret;

	ret = cni_netlink_addr_find(v->nl_cont, v->cont.ifindex, &ip->addr);
	if (ret <= 0)
		return cni_fail(e, CNI_ERR_CHECK, "container address missing", "%s on %s%s%s",
				addr_prefix_str(&ip->addr, buf), ifname, ret < 0 ? ": " : "",
				ret < 0 ? strerror(-ret) : "");
	cni_host_prefix(&ip->addr.addr, &p);
	ret = cni_netlink_route_find(v->nl, v->host.ifindex, &p, NULL);
	if (ret <= 0)
		return cni_fail(e, CNI_ERR_CHECK, "host route missing", "%s dev %s",
				addr_prefix_str(&p, buf), v->host_name);
	if (ip->has_gw) {
		cni_host_prefix(&ip->gw, &p);
		ret = cni_netlink_addr_find(v->nl, v->host.ifindex, &p);
		if (ret <= 0)
			return cni_fail(e, CNI_ERR_CHECK, "gateway address missing", "%s on %s",
					addr_prefix_str(&p, buf), v->host_name);
	}
	return cni_forwarding_check(ip->addr.addr.family, e);
}

int cni_check_attachment(const struct cni_env *env, const struct cni_conf *c, struct cni_error *e)
{
	struct ends v = { .nsfd = -1 };
	struct cni_ipam_result prev = { 0 };
	const char *host_mac = NULL, *cont_mac = NULL;
	int cont_idx, host_idx, ret;

	if (!c->prev_result)
		return cni_fail(e, CNI_ERR_CONFIG, "invalid network configuration",
				"CHECK needs prevResult, the result of the ADD");
	ret = cni_result_parse(c->prev_result, &prev, e);
	if (ret < 0)
		return ret;
	cni_host_veth_name(env, v.host_name);
	if ((ret = find_interface(c->prev_result, env->ifname, env->netns, &cont_idx, &cont_mac,
				  e)) < 0 ||
	    (ret = find_interface(c->prev_result, v.host_name, "", &host_idx, &host_mac, e)) < 0)
		return ret;
	if (cont_idx < 0 || host_idx < 0)
		return cni_fail(e, CNI_ERR_CHECK, "prevResult is not ours",
				"prevResult lists no %s in %s and %s on the host", env->ifname,
				env->netns, v.host_name);

	/* The address reservation first: IPAM owns that state. */
	ret = cni_ipam_exec(c->ipam_type, env->path, "CHECK", c->raw, c->raw_len, NULL, e);
	if (ret < 0)
		return ret;
	ret = ends_open(&v, env, host_mac, cont_mac, e);
	for (size_t i = 0; ret == 0 && i < prev.n_ips; i++) {
		if (prev.ips[i].iface == cont_idx)
			ret = check_ip(&v, env->ifname, &prev.ips[i], e);
	}
	ends_close(&v);
	return ret;
}
