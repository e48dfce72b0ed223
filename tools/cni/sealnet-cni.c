/* sealnet-cni: a CNI plugin (spec 1.0.0, and 0.4.0) that puts a container on the node's
 * sealnet overlay.
 *
 * Every node owns a pod subnet (say 100.96.N.0/24) that the other nodes have in this node's
 * AllowedIPs, so sealnetd on each of them routes the subnet into its tunnel. What is left
 * to do on the node itself is to get a packet that comes out of the tunnel to the right
 * container, and a container's packets into the node's routing table:
 *
 *   container netns                      node (host) netns
 *   eth0  100.96.N.5/24 noprefixroute    sncXXXXXXXXXXXX  100.96.N.1/32 (the gateway)
 *         100.96.N.0/24 via 100.96.N.1 onlink             route 100.96.N.5/32 dev sncXXX...
 *         default       via 100.96.N.1 onlink             net.ipv4.ip_forward = 1
 *
 * - A veth pair per container, no bridge: the host end is routed, not switched. Its name is
 *   "snc" and 12 hex digits of a hash of (CNI_CONTAINERID, CNI_IFNAME), so DEL finds it
 *   without prevResult and without the container's namespace (which may be gone).
 * - The address comes from the IPAM plugin of the config (host-local, from the node's pod
 *   subnet). Its gateway (host-local's default is the range's first address) goes on every
 *   host end as a /32 (/128): the container ARPs for it and the host answers as for any of
 *   its own addresses. No proxy ARP, no link-local tricks.
 * - In the container the address keeps its prefix length but not its prefix route: the
 *   other pods of the subnet sit behind other veths, so they too are reached through the
 *   gateway, and the host's /32 routes take them to the right veth. The same routes carry a
 *   packet that sealnetd decrypted for a pod of this node.
 * - Forwarding is switched on (IPv6 too when a pod gets an IPv6 address); nothing else on
 *   the host changes. No NAT: pod addresses are routed across the overlay as they are.
 * - DEL deletes the host end (which takes the container end and the host routes with it)
 *   and releases the address through IPAM DEL; a missing interface or namespace is not an
 *   error, so DEL can be repeated.
 * - CHECK verifies what ADD made and prevResult lists: both ends, up; the addresses in the
 *   container; the gateway address and /32 routes on the host; forwarding; and IPAM CHECK.
 *   Routes inside the container are left alone, as a later plugin of a chain may change
 *   them.
 *
 * Protocol: parameters from CNI_* variables, the configuration on stdin, a result (ADD) or
 * the version object (VERSION) on stdout, nothing for DEL and CHECK; a failure prints the
 * spec's error object on stdout and exits 1. Logs go to stderr.
 *
 * The files: cni_conf.c reads the request (the CNI_* variables and the configuration),
 * cni_setup.c builds both ends of the attachment, cni_result.c prints the result and the
 * error object, cni_check.c is CHECK, ipam.c runs the IPAM plugin, cni_netlink.c is the
 * rtnetlink the daemon's netlink.c lacks; this file has ADD, DEL, VERSION and main. */
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cni.h"
#include "cni_check.h"
#include "cni_conf.h"
#include "cni_netlink.h"
#include "cni_result.h"
#include "cni_setup.h"

/* --- ADD ------------------------------------------------------------------------------ */

/* ADD creates CNI_IFNAME in the container; a name that is taken is the runtime's mistake. */
static int ifname_unused(struct netlink *nl_cont, const struct cni_env *env, struct cni_error *e)
{
	struct cni_link cont;
	int ret = cni_netlink_link_get(nl_cont, env->ifname, &cont);

	if (ret == 0)
		return cni_fail(e, CNI_ERR_SYSTEM, "interface exists",
				"%s already has an interface %s", env->netns, env->ifname);
	if (ret != -ENODEV)
		return cni_fail(e, CNI_ERR_SYSTEM, "container interface", "%s: %s", env->ifname,
				strerror(-ret));
	return 0;
}

/* Every address needs its gateway: that is the address the host end of the veth gets. */
static int gateways_given(const struct cni_ipam_result *r, const char *ipam_type,
			  struct cni_error *e)
{
	char buf[ADDR_STRLEN];

	for (size_t i = 0; i < r->n_ips; i++) {
		if (!r->ips[i].has_gw)
			return cni_fail(e, CNI_ERR_IPAM, "address without a gateway",
					"%s gave %s without a gateway: the gateway is the host end "
					"of the veth",
					ipam_type, addr_prefix_str(&r->ips[i].addr, buf));
	}
	return 0;
}

static int cmd_add(const struct cni_env *env, const struct cni_conf *c, struct cni_error *e)
{
	char host_name[IFNAMSIZ];
	struct netlink *nl = NULL, *nl_cont = NULL;
	struct cni_ipam_result r = { 0 };
	struct cni_link host, cont;
	struct cni_error ignored = { 0 };
	struct json_object *res;
	bool ipam_done = false, veth_done = false;
	int nsfd = -1, ret;

	if (c->prev_result)
		return cni_fail(e, CNI_ERR_FIELD, "unsupported field",
				"prevResult: %s creates the interface and must come first in a chain",
				CNI_PROG);
	cni_host_veth_name(env, host_name);
	ret = netlink_open(&nl);
	if (ret < 0)
		return cni_fail(e, CNI_ERR_SYSTEM, "netlink socket", "%s", strerror(-ret));
	ret = cni_netns_open(env->netns, &nsfd, &nl_cont, e);
	if (ret < 0)
		goto out;
	ret = ifname_unused(nl_cont, env, e);
	if (ret < 0)
		goto out;

	ret = cni_ipam_exec(c->ipam_type, env->path, "ADD", c->raw, c->raw_len, &r, e);
	if (ret < 0)
		goto out;
	ipam_done = true;
	ret = gateways_given(&r, c->ipam_type, e);
	if (ret < 0)
		goto err;

	ret = cni_netlink_veth_add(nl, host_name, env->ifname, nsfd, c->mtu);
	if (ret < 0) {
		cni_fail(e, CNI_ERR_SYSTEM, "creating the veth pair", "%s - %s in %s: %s%s",
			 host_name, env->ifname, env->netns, strerror(-ret),
			 ret == -EEXIST ? " (ADD twice without DEL?)" : "");
		goto err;
	}
	veth_done = true;
	if ((ret = cni_setup_host(nl, host_name, &r, &host, e)) < 0 ||
	    (ret = cni_setup_container(nl_cont, env->ifname, &r, &cont, e)) < 0 ||
	    (ret = cni_forwarding_enable(&r, e)) < 0)
		goto err;

	res = cni_result_json(c, env, host_name, &host, &cont, &r);
	ret = cni_print_json(res);
	json_object_put(res);
	if (ret < 0) {
		cni_fail(e, CNI_ERR_IO, "writing the result", "stdout: %s", strerror(-ret));
		goto err;
	}
	goto out;

err:
	/* Undo in reverse: the veth takes its routes and addresses with it, and the address
	 * goes back to the pool (the spec asks for a DEL to the delegate on a failed ADD). */
	if (veth_done && cni_netlink_link_get(nl, host_name, &host) == 0)
		cni_netlink_link_del(nl, host.ifindex);
	if (ipam_done)
		cni_ipam_exec(c->ipam_type, env->path, "DEL", c->raw, c->raw_len, NULL, &ignored);
out:
	cni_ipam_result_free(&r);
	if (nsfd >= 0)
		close(nsfd);
	netlink_close(nl_cont);
	netlink_close(nl);
	return ret;
}

/* --- DEL ------------------------------------------------------------------------------ */

static int cmd_del(const struct cni_env *env, const struct cni_conf *c, struct cni_error *e)
{
	char host_name[IFNAMSIZ];
	struct netlink *nl = NULL;
	struct cni_link host;
	int ret;

	cni_host_veth_name(env, host_name);
	ret = netlink_open(&nl);
	if (ret < 0)
		return cni_fail(e, CNI_ERR_SYSTEM, "netlink socket", "%s", strerror(-ret));
	/* The host end is enough: deleting a veth deletes its peer, and a namespace that is
	 * gone took the pair with it. Gone already is what DEL wants. */
	ret = cni_netlink_link_get(nl, host_name, &host);
	if (ret == 0) {
		if (strcmp(host.kind, "veth") != 0) {
			ret = cni_fail(e, CNI_ERR_SYSTEM, "not our interface",
				       "%s is a %s link, not a veth: left alone", host_name,
				       *host.kind ? host.kind : "plain");
			goto out;
		}
		ret = cni_netlink_link_del(nl, host.ifindex);
	}
	if (ret < 0 && ret != -ENODEV) {
		ret = cni_fail(e, CNI_ERR_SYSTEM, "deleting the host veth", "%s: %s", host_name,
			       strerror(-ret));
		goto out;
	}
	/* The address is released last, once nothing uses it any more. */
	ret = cni_ipam_exec(c->ipam_type, env->path, "DEL", c->raw, c->raw_len, NULL, e);
out:
	netlink_close(nl);
	return ret;
}

/* --- VERSION and main ------------------------------------------------------------------ */

static int cmd_version(const struct cni_conf *c, struct cni_error *e)
{
	struct json_object *obj = json_object_new_object(), *list = json_object_new_array();
	int ret;

	for (size_t i = 0; i < CNI_N_VERSIONS; i++)
		json_object_array_add(list, json_object_new_string(cni_versions[i]));
	json_object_object_add(obj, "cniVersion",
			       json_object_new_string(c->version ? c->version : "1.0.0"));
	json_object_object_add(obj, "supportedVersions", list);
	ret = cni_print_json(obj);
	json_object_put(obj);
	if (ret < 0)
		return cni_fail(e, CNI_ERR_IO, "writing the version", "stdout: %s", strerror(-ret));
	return 0;
}

static int run(struct cni_conf *c, struct cni_error *e)
{
	struct cni_env env;
	int ret;

	cni_env_read(&env);
	ret = cni_conf_read(c, e);
	if (ret < 0)
		return ret;
	if (env.command && strcmp(env.command, "VERSION") == 0) {
		cni_conf_parse_version(c);
		return cmd_version(c, e);
	}
	ret = cni_conf_parse(c, e);
	if (ret < 0)
		return ret;
	if (!env.command || !*env.command)
		return cni_fail(e, CNI_ERR_ENV, "invalid environment variables",
				"missing CNI_COMMAND");
	if (strcmp(env.command, "ADD") == 0) {
		ret = cni_env_check(&env, true, e);
		return ret < 0 ? ret : cmd_add(&env, c, e);
	}
	if (strcmp(env.command, "DEL") == 0) {
		ret = cni_env_check(&env, false, e);
		return ret < 0 ? ret : cmd_del(&env, c, e);
	}
	if (strcmp(env.command, "CHECK") == 0) {
		ret = cni_env_check(&env, true, e);
		return ret < 0 ? ret : cni_check_attachment(&env, c, e);
	}
	return cni_fail(e, CNI_ERR_ENV, "invalid environment variables",
			"CNI_COMMAND \"%s\": ADD, DEL, CHECK or VERSION", env.command);
}

int main(int argc, char *argv[])
{
	struct cni_conf c = { 0 };
	struct cni_error e = { 0 };
	int ret;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("%s: CNI plugin for the sealnet overlay (CNI 0.4.0 and 1.0.0).\n"
		       "Run by a container runtime: CNI_COMMAND=ADD|DEL|CHECK|VERSION and the "
		       "other\n"
		       "CNI_* variables, the network configuration on stdin. See "
		       "docs/cluster.md.\n",
		       CNI_PROG);
		return 0;
	}
	/* A delegate that exits before reading its input must give EPIPE, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	ret = run(&c, &e);
	if (ret < 0) {
		if (!e.code)
			cni_fail(&e, CNI_ERR_SYSTEM, "internal error", "%s", strerror(-ret));
		cni_error_print(c.version, &e);
	}
	cni_conf_free(&c);
	return ret < 0 ? 1 : 0;
}
