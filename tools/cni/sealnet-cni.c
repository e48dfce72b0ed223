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
 * spec's error object on stdout and exits 1. Logs go to stderr. */
#define _GNU_SOURCE /* setns */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cni.h"
#include "cni_netlink.h"
#include "config.h"

static const char *const supported_versions[] = { "0.4.0", "1.0.0" };

/* Where to look for the IPAM plugin when the runtime gives no CNI_PATH (optional in the
 * spec): the usual place, then Debian's. */
#define DEFAULT_CNI_PATH "/opt/cni/bin:/usr/lib/cni"

#define HOST_VETH_PREFIX "snc"

struct env {
	const char *command;
	const char *containerid;
	const char *netns;
	const char *ifname;
	const char *path;
};

struct conf {
	struct json_object *root;
	char *raw; /* stdin as read, handed to the IPAM plugin unchanged */
	size_t raw_len;
	const char *version; /* NULL until read; points into root */
	const char *name;
	const char *type;
	const char *ipam_type;
	unsigned mtu;
	struct json_object *prev_result; /* NULL if absent */
	struct json_object *dns;         /* NULL if absent */
};

int cni_fail(struct cni_error *e, int code, const char *msg, const char *fmt, ...)
{
	va_list ap;

	if (e->code)
		return -EINVAL;
	e->code = code;
	snprintf(e->msg, sizeof(e->msg), "%s", msg);
	va_start(ap, fmt);
	vsnprintf(e->details, sizeof(e->details), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int cni_json_member(struct json_object *obj, const char *key, enum json_type t,
		    struct json_object **out)
{
	struct json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, t))
		return -EINVAL;
	*out = v;
	return 1;
}

static int print_json(struct json_object *obj)
{
	const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY |
								    JSON_C_TO_STRING_SPACED |
								    JSON_C_TO_STRING_NOSLASHESCAPE);

	if (!s || printf("%s\n", s) < 0 || fflush(stdout) == EOF)
		return -EIO;
	return 0;
}

static void print_error(const char *version, const struct cni_error *e)
{
	struct json_object *obj = json_object_new_object();

	fprintf(stderr, "%s: %s: %s\n", CNI_PROG, e->msg, e->details);
	if (!obj)
		return;
	/* "The same value as provided by the configuration"; before one is known, ours. */
	json_object_object_add(obj, "cniVersion",
			       json_object_new_string(version ? version : "1.0.0"));
	json_object_object_add(obj, "code", json_object_new_int(e->code));
	json_object_object_add(obj, "msg", json_object_new_string(e->msg));
	json_object_object_add(obj, "details", json_object_new_string(e->details));
	print_json(obj);
	json_object_put(obj);
}

static bool version_supported(const char *v)
{
	for (size_t i = 0; i < sizeof(supported_versions) / sizeof(*supported_versions); i++) {
		if (strcmp(v, supported_versions[i]) == 0)
			return true;
	}
	return false;
}

/* The spec's rule for container IDs and network names: an alphanumeric, then alphanumerics,
 * '_', '.' or '-'. */
static bool id_valid(const char *s)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

	if (!*s || !strchr(alnum, *s))
		return false;
	for (s++; *s; s++) {
		if (!strchr(alnum, *s) && !strchr("_.-", *s))
			return false;
	}
	return true;
}

/* Linux interface names, as the spec words it: not empty, under 16 bytes, not "." or "..",
 * no '/', ':' or white space. */
static bool ifname_valid(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	return s[strcspn(s, "/: \t\n\v\f\r")] == '\0';
}

/* --- configuration -------------------------------------------------------------------- */

static int read_stdin(struct conf *c, struct cni_error *e)
{
	int ret = cni_read_all(STDIN_FILENO, &c->raw, &c->raw_len);

	if (ret < 0)
		return cni_fail(e, CNI_ERR_IO, "reading the configuration from stdin", "%s",
				strerror(-ret));
	return 0;
}

/* Parses c->raw into c->root; the whole input must be one JSON object. */
static int decode(struct conf *c, struct cni_error *e)
{
	struct json_tokener *tok = json_tokener_new();
	enum json_tokener_error err;
	size_t end;
	int ret = 0;

	if (!tok)
		return cni_fail(e, CNI_ERR_SYSTEM, "out of memory", "json_tokener_new");
	c->root = json_tokener_parse_ex(tok, c->raw, (int)c->raw_len);
	err = json_tokener_get_error(tok);
	if (!c->root || err != json_tokener_success) {
		/* An input that ends inside a value leaves the tokener waiting for more. */
		if (err == json_tokener_continue)
			err = json_tokener_error_parse_eof;
		ret = cni_fail(e, CNI_ERR_DECODE, "decoding the configuration",
			       "not JSON: %s at byte %zu", json_tokener_error_desc(err),
			       json_tokener_get_parse_end(tok));
		goto out;
	}
	end = json_tokener_get_parse_end(tok);
	if (c->raw[end + strspn(c->raw + end, " \t\r\n")] != '\0') {
		ret = cni_fail(e, CNI_ERR_DECODE, "decoding the configuration",
			       "text after the JSON object at byte %zu", end);
		goto out;
	}
	if (!json_object_is_type(c->root, json_type_object))
		ret = cni_fail(e, CNI_ERR_DECODE, "decoding the configuration",
			       "the configuration is not a JSON object");
out:
	json_tokener_free(tok);
	return ret;
}

/* A member of the configuration of type t, or NULL if it is absent; -EINVAL (with e) if it
 * is of another type. */
static int get_member(struct json_object *obj, const char *key, enum json_type t, const char *where,
		      struct json_object **out, struct cni_error *e)
{
	if (cni_json_member(obj, key, t, out) < 0)
		return cni_fail(e, CNI_ERR_CONFIG, "invalid network configuration",
				"%s%s is not %s", where, key,
				t == json_type_object    ? "an object"
				: t == json_type_int     ? "an integer"
				: t == json_type_boolean ? "true or false"
							 : "a string");
	return 0;
}

/* A string member, or NULL if it is absent; -EINVAL (with e) if it is not a string. */
static int get_string(struct json_object *obj, const char *key, const char *where, const char **out,
		      struct cni_error *e)
{
	struct json_object *v;
	int ret;

	*out = NULL;
	ret = get_member(obj, key, json_type_string, where, &v, e);
	if (ret == 0 && v)
		*out = json_object_get_string(v);
	return ret;
}

static int conf_parse(struct conf *c, struct cni_error *e)
{
	struct json_object *ipam, *v;
	int64_t mtu;
	int ret;

	ret = decode(c, e);
	if (ret < 0)
		return ret;
	ret = get_string(c->root, "cniVersion", "", &c->version, e);
	if (ret < 0)
		return ret;
	if (!c->version)
		return cni_fail(e, CNI_ERR_CONFIG, "invalid network configuration",
				"no cniVersion");
	if (!version_supported(c->version))
		return cni_fail(e, CNI_ERR_VERSION, "incompatible CNI version",
				"the configuration has cniVersion \"%s\"; %s supports 0.4.0 and 1.0.0",
				c->version, CNI_PROG);
	if ((ret = get_string(c->root, "name", "", &c->name, e)) < 0 ||
	    (ret = get_string(c->root, "type", "", &c->type, e)) < 0)
		return ret;
	if (!c->name || !id_valid(c->name))
		return cni_fail(e, CNI_ERR_CONFIG, "invalid network configuration",
				c->name ? "name \"%s\": an alphanumeric, then alphanumerics, '_', "
					  "'.' or '-'"
					: "no name%s",
				c->name ? c->name : "");
	if (!c->type || !*c->type)
		return cni_fail(e, CNI_ERR_CONFIG, "invalid network configuration", "no type");
	if (!json_object_object_get_ex(c->root, "ipam", &ipam) ||
	    !json_object_is_type(ipam, json_type_object))
		return cni_fail(e, CNI_ERR_CONFIG, "invalid network configuration",
				"no ipam object (e.g. {\"type\": \"host-local\", \"ranges\": ...})");
	ret = get_string(ipam, "type", "ipam.", &c->ipam_type, e);
	if (ret < 0)
		return ret;
	if (!c->ipam_type || !*c->ipam_type || strchr(c->ipam_type, '/'))
		return cni_fail(e, CNI_ERR_CONFIG, "invalid network configuration",
				"ipam.type must name a plugin in CNI_PATH");
	c->mtu = CONFIG_DEFAULT_MTU;
	ret = get_member(c->root, "mtu", json_type_int, "", &v, e);
	if (ret < 0)
		return ret;
	if (v) {
		mtu = json_object_get_int64(v);
		if (mtu < 576 || mtu > 65535)
			return cni_fail(e, CNI_ERR_CONFIG, "invalid network configuration",
					"mtu %s: 576 to 65535", json_object_to_json_string(v));
		c->mtu = (unsigned)mtu;
	}
	/* Masquerading would hide pod addresses from the other nodes, and the whole point is
	 * that they are routed as they are: refused rather than ignored. */
	ret = get_member(c->root, "ipMasq", json_type_boolean, "", &v, e);
	if (ret < 0)
		return ret;
	if (v && json_object_get_boolean(v))
		return cni_fail(e, CNI_ERR_FIELD, "unsupported field",
				"ipMasq: %s (pod addresses are routed over sealnet, never masqueraded)",
				json_object_to_json_string(v));
	ret = get_member(c->root, "prevResult", json_type_object, "", &c->prev_result, e);
	if (ret < 0)
		return ret;
	return get_member(c->root, "dns", json_type_object, "", &c->dns, e);
}

static void conf_free(struct conf *c)
{
	json_object_put(c->root);
	free(c->raw);
}

/* The parameters each command needs (SPEC.md section 2), all named in one error. */
static int env_check(const struct env *env, bool need_netns, struct cni_error *e)
{
	char missing[128] = "";

	if (!env->containerid || !*env->containerid)
		strcat(missing, ", CNI_CONTAINERID");
	if (need_netns && (!env->netns || !*env->netns))
		strcat(missing, ", CNI_NETNS");
	if (!env->ifname || !*env->ifname)
		strcat(missing, ", CNI_IFNAME");
	if (*missing)
		return cni_fail(e, CNI_ERR_ENV, "invalid environment variables", "missing %s",
				missing + 2);
	if (!id_valid(env->containerid))
		return cni_fail(e, CNI_ERR_ENV, "invalid environment variables",
				"CNI_CONTAINERID \"%s\": an alphanumeric, then alphanumerics, '_', "
				"'.' or '-'",
				env->containerid);
	if (!ifname_valid(env->ifname))
		return cni_fail(e, CNI_ERR_ENV, "invalid environment variables",
				"CNI_IFNAME \"%s\" is not a valid interface name", env->ifname);
	return 0;
}

/* --- helpers shared by the commands ----------------------------------------------------- */

/* FNV-1a: the name only has to be stable and unlikely to collide among the containers of
 * one node (48 bits), not to resist anyone choosing container IDs. */
static void host_veth_name(const struct env *env, char name[IFNAMSIZ])
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

static void host_prefix(const struct ip_addr *a, struct ip_prefix *out)
{
	out->addr = *a;
	out->cidr = a->family == AF_INET ? 32 : 128;
}

/* Opens a netlink socket inside the namespace at path: it stays bound there, so the
 * caller can use it from the host namespace we return to. *nsfd_out is the namespace,
 * for veth creation. */
static int netns_open(const char *path, int *nsfd_out, struct netlink **out, struct cni_error *e)
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

/* Forwarding on for each family that has an address in r; written only if it is off. */
static int forwarding_enable(const struct cni_ipam_result *r, struct cni_error *e)
{
	char val[16];
	int fd;

	for (size_t i = 0; i < r->n_ips; i++) {
		const char *path = forwarding_sysctl[r->ips[i].addr.addr.family == AF_INET6];

		if (sysctl_get(path, val, sizeof(val)) == 0 && val[0] == '1')
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

static const char *mac_str(const struct cni_link *l, char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", l->mac[0], l->mac[1], l->mac[2],
		 l->mac[3], l->mac[4], l->mac[5]);
	return buf;
}

/* --- ADD ------------------------------------------------------------------------------ */

static int setup_host(struct netlink *nl, const char *name, const struct cni_ipam_result *r,
		      struct cni_link *host, struct cni_error *e)
{
	char buf[ADDR_STRLEN];
	struct ip_prefix p;
	int ret;

	ret = cni_netlink_link_get(nl, name, host);
	if (ret < 0)
		return cni_fail(e, CNI_ERR_SYSTEM, "host veth", "%s: %s", name, strerror(-ret));
	ret = netlink_set_up(nl, host->ifindex, true);
	if (ret < 0)
		return cni_fail(e, CNI_ERR_SYSTEM, "host veth", "%s up: %s", name, strerror(-ret));
	for (size_t i = 0; i < r->n_ips; i++) {
		host_prefix(&r->ips[i].gw, &p);
		ret = netlink_addr_add(nl, host->ifindex, &p);
		if (ret < 0 && ret != -EEXIST)
			return cni_fail(e, CNI_ERR_SYSTEM, "gateway address on the host veth",
					"%s on %s: %s", addr_prefix_str(&p, buf), name,
					strerror(-ret));
		host_prefix(&r->ips[i].addr.addr, &p);
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

static int setup_container(struct netlink *nl, const char *ifname, const struct cni_ipam_result *r,
			   struct cni_link *cont, struct cni_error *e)
{
	char buf[ADDR_STRLEN];
	struct ip_prefix subnet;
	const struct ip_addr *gw;
	int ret;

	ret = cni_netlink_link_get(nl, ifname, cont);
	if (ret < 0)
		return cni_fail(e, CNI_ERR_SYSTEM, "container interface", "%s: %s", ifname,
				strerror(-ret));
	/* Up first: the kernel takes no on-link gateway route on a link that is down. */
	ret = netlink_set_up(nl, cont->ifindex, true);
	if (ret < 0)
		return cni_fail(e, CNI_ERR_SYSTEM, "container interface", "%s up: %s", ifname,
				strerror(-ret));
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

static struct json_object *interface_json(const char *name, const struct cni_link *l,
					  const char *sandbox)
{
	struct json_object *o = json_object_new_object();
	char mac[18];

	json_object_object_add(o, "name", json_object_new_string(name));
	if (l->has_mac)
		json_object_object_add(o, "mac", json_object_new_string(mac_str(l, mac)));
	if (sandbox)
		json_object_object_add(o, "sandbox", json_object_new_string(sandbox));
	return o;
}

/* The ADD result: IPAM's ips (with the container interface's index), routes and dns, and
 * both ends of the veth. 0.4.0 still has "version" in each ips entry. */
static struct json_object *result_json(const struct conf *c, const struct env *env,
				       const char *host_name, const struct cni_link *host,
				       const struct cni_link *cont, const struct cni_ipam_result *r)
{
	struct json_object *res = json_object_new_object(), *ifs, *ips, *ip;
	char buf[ADDR_STRLEN];
	bool v04 = strcmp(c->version, "0.4.0") == 0;

	json_object_object_add(res, "cniVersion", json_object_new_string(c->version));
	ifs = json_object_new_array();
	json_object_array_add(ifs, interface_json(host_name, host, NULL));
	json_object_array_add(ifs, interface_json(env->ifname, cont, env->netns));
	json_object_object_add(res, "interfaces", ifs);
	ips = json_object_new_array();
	for (size_t i = 0; i < r->n_ips; i++) {
		ip = json_object_new_object();
		if (v04)
			json_object_object_add(ip, "version",
					       json_object_new_string(r->ips[i].addr.addr.family ==
										      AF_INET
									      ? "4"
									      : "6"));
		json_object_object_add(ip, "address",
				       json_object_new_string(
					       addr_prefix_str(&r->ips[i].addr, buf)));
		json_object_object_add(ip, "gateway",
				       json_object_new_string(addr_str(&r->ips[i].gw, buf)));
		json_object_object_add(ip, "interface", json_object_new_int(1));
		json_object_array_add(ips, ip);
	}
	json_object_object_add(res, "ips", ips);
	if (r->routes_json)
		json_object_object_add(res, "routes", json_object_get(r->routes_json));
	if (r->dns)
		json_object_object_add(res, "dns", json_object_get(r->dns));
	else if (c->dns)
		json_object_object_add(res, "dns", json_object_get(c->dns));
	return res;
}

static int cmd_add(const struct env *env, const struct conf *c, struct cni_error *e)
{
	char host_name[IFNAMSIZ], buf[ADDR_STRLEN];
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
	host_veth_name(env, host_name);
	ret = netlink_open(&nl);
	if (ret < 0)
		return cni_fail(e, CNI_ERR_SYSTEM, "netlink socket", "%s", strerror(-ret));
	ret = netns_open(env->netns, &nsfd, &nl_cont, e);
	if (ret < 0)
		goto out;
	ret = cni_netlink_link_get(nl_cont, env->ifname, &cont);
	if (ret != -ENODEV) {
		ret = ret == 0 ? cni_fail(e, CNI_ERR_SYSTEM, "interface exists",
					  "%s already has an interface %s", env->netns, env->ifname)
			       : cni_fail(e, CNI_ERR_SYSTEM, "container interface", "%s: %s",
					  env->ifname, strerror(-ret));
		goto out;
	}

	ret = cni_ipam_exec(c->ipam_type, env->path, "ADD", c->raw, c->raw_len, &r, e);
	if (ret < 0)
		goto out;
	ipam_done = true;
	for (size_t i = 0; i < r.n_ips; i++) {
		if (!r.ips[i].has_gw) {
			ret = cni_fail(e, CNI_ERR_IPAM, "address without a gateway",
				       "%s gave %s without a gateway: the gateway is the host end of "
				       "the veth",
				       c->ipam_type, addr_prefix_str(&r.ips[i].addr, buf));
			goto err;
		}
	}

	ret = cni_netlink_veth_add(nl, host_name, env->ifname, nsfd, c->mtu);
	if (ret < 0) {
		cni_fail(e, CNI_ERR_SYSTEM, "creating the veth pair", "%s - %s in %s: %s%s",
			 host_name, env->ifname, env->netns, strerror(-ret),
			 ret == -EEXIST ? " (ADD twice without DEL?)" : "");
		goto err;
	}
	veth_done = true;
	if ((ret = setup_host(nl, host_name, &r, &host, e)) < 0 ||
	    (ret = setup_container(nl_cont, env->ifname, &r, &cont, e)) < 0 ||
	    (ret = forwarding_enable(&r, e)) < 0)
		goto err;

	res = result_json(c, env, host_name, &host, &cont, &r);
	ret = print_json(res);
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

static int cmd_del(const struct env *env, const struct conf *c, struct cni_error *e)
{
	char host_name[IFNAMSIZ];
	struct netlink *nl = NULL;
	struct cni_link host;
	int ret;

	host_veth_name(env, host_name);
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

/* --- CHECK ---------------------------------------------------------------------------- */

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
	if (want_mac && l->has_mac && strcasecmp(want_mac, mac_str(l, mac)) != 0)
		return cni_fail(e, CNI_ERR_CHECK, "interface changed", "%s %s has MAC %s, not %s",
				where, name, mac, want_mac);
	return 0;
}

static int cmd_check(const struct env *env, const struct conf *c, struct cni_error *e)
{
	char host_name[IFNAMSIZ], buf[ADDR_STRLEN], val[16];
	struct netlink *nl = NULL, *nl_cont = NULL;
	struct cni_ipam_result prev = { 0 };
	struct cni_link host, cont;
	struct ip_prefix p;
	const char *host_mac = NULL, *cont_mac = NULL;
	int nsfd = -1, cont_idx, host_idx, ret;

	if (!c->prev_result)
		return cni_fail(e, CNI_ERR_CONFIG, "invalid network configuration",
				"CHECK needs prevResult, the result of the ADD");
	ret = cni_result_parse(c->prev_result, &prev, e);
	if (ret < 0)
		return ret;
	host_veth_name(env, host_name);
	if ((ret = find_interface(c->prev_result, env->ifname, env->netns, &cont_idx, &cont_mac,
				  e)) < 0 ||
	    (ret = find_interface(c->prev_result, host_name, "", &host_idx, &host_mac, e)) < 0)
		return ret;
	if (cont_idx < 0 || host_idx < 0)
		return cni_fail(e, CNI_ERR_CHECK, "prevResult is not ours",
				"prevResult lists no %s in %s and %s on the host", env->ifname,
				env->netns, host_name);

	/* The address reservation first: IPAM owns that state. */
	ret = cni_ipam_exec(c->ipam_type, env->path, "CHECK", c->raw, c->raw_len, NULL, e);
	if (ret < 0)
		return ret;

	ret = netlink_open(&nl);
	if (ret < 0)
		return cni_fail(e, CNI_ERR_SYSTEM, "netlink socket", "%s", strerror(-ret));
	ret = cni_netlink_link_get(nl, host_name, &host);
	if (ret < 0) {
		ret = cni_fail(e, CNI_ERR_CHECK, "host veth missing", "%s: %s", host_name,
			       strerror(-ret));
		goto out;
	}
	ret = check_link(&host, host_name, "host veth", host_mac, e);
	if (ret < 0)
		goto out;
	ret = netns_open(env->netns, &nsfd, &nl_cont, e);
	if (ret < 0)
		goto out;
	ret = cni_netlink_link_get(nl_cont, env->ifname, &cont);
	if (ret < 0) {
		ret = cni_fail(e, CNI_ERR_CHECK, "container interface missing", "%s in %s: %s",
			       env->ifname, env->netns, strerror(-ret));
		goto out;
	}
	ret = check_link(&cont, env->ifname, "container interface", cont_mac, e);
	if (ret < 0)
		goto out;

	for (size_t i = 0; i < prev.n_ips; i++) {
		const struct cni_ip *ip = &prev.ips[i];

		if (ip->iface != cont_idx)
			continue;
		ret = cni_netlink_addr_find(nl_cont, cont.ifindex, &ip->addr);
		if (ret <= 0) {
			ret = cni_fail(e, CNI_ERR_CHECK, "container address missing",
				       "%s on %s%s%s", addr_prefix_str(&ip->addr, buf), env->ifname,
				       ret < 0 ? ": " : "", ret < 0 ? strerror(-ret) : "");
			goto out;
		}
		host_prefix(&ip->addr.addr, &p);
		ret = cni_netlink_route_find(nl, host.ifindex, &p, NULL);
		if (ret <= 0) {
			ret = cni_fail(e, CNI_ERR_CHECK, "host route missing", "%s dev %s",
				       addr_prefix_str(&p, buf), host_name);
			goto out;
		}
		if (ip->has_gw) {
			host_prefix(&ip->gw, &p);
			ret = cni_netlink_addr_find(nl, host.ifindex, &p);
			if (ret <= 0) {
				ret = cni_fail(e, CNI_ERR_CHECK, "gateway address missing",
					       "%s on %s", addr_prefix_str(&p, buf), host_name);
				goto out;
			}
		}
		/* Without forwarding nothing reaches the pod from outside the node. */
		ret = sysctl_get(forwarding_sysctl[ip->addr.addr.family == AF_INET6], val,
				 sizeof(val));
		if (ret < 0 || val[0] != '1') {
			ret = cni_fail(e, CNI_ERR_CHECK, "forwarding off", "%s is not 1",
				       forwarding_sysctl[ip->addr.addr.family == AF_INET6]);
			goto out;
		}
	}
	ret = 0;
out:
	if (nsfd >= 0)
		close(nsfd);
	netlink_close(nl_cont);
	netlink_close(nl);
	return ret;
}

/* --- VERSION and main ------------------------------------------------------------------ */

static int cmd_version(const struct conf *c, struct cni_error *e)
{
	struct json_object *obj = json_object_new_object(), *list = json_object_new_array();
	int ret;

	for (size_t i = 0; i < sizeof(supported_versions) / sizeof(*supported_versions); i++)
		json_object_array_add(list, json_object_new_string(supported_versions[i]));
	json_object_object_add(obj, "cniVersion",
			       json_object_new_string(c->version ? c->version : "1.0.0"));
	json_object_object_add(obj, "supportedVersions", list);
	ret = print_json(obj);
	json_object_put(obj);
	if (ret < 0)
		return cni_fail(e, CNI_ERR_IO, "writing the version", "stdout: %s", strerror(-ret));
	return 0;
}

/* VERSION's input is {"cniVersion": ...}, and some runtimes send nothing: only a version
 * that is there and a string is taken. */
static void version_input(struct conf *c)
{
	struct cni_error ignored = { 0 };

	if (c->raw_len > 0 && decode(c, &ignored) == 0)
		get_string(c->root, "cniVersion", "", &c->version, &ignored);
}

static int run(struct conf *c, struct cni_error *e)
{
	struct env env = {
		.command = getenv("CNI_COMMAND"),
		.containerid = getenv("CNI_CONTAINERID"),
		.netns = getenv("CNI_NETNS"),
		.ifname = getenv("CNI_IFNAME"),
		.path = getenv("CNI_PATH"),
	};
	int ret;

	ret = read_stdin(c, e);
	if (ret < 0)
		return ret;
	if (env.command && strcmp(env.command, "VERSION") == 0) {
		version_input(c);
		return cmd_version(c, e);
	}
	ret = conf_parse(c, e);
	if (ret < 0)
		return ret;
	if (!env.command || !*env.command)
		return cni_fail(e, CNI_ERR_ENV, "invalid environment variables",
				"missing CNI_COMMAND");
	if (!env.path || !*env.path)
		env.path = DEFAULT_CNI_PATH;
	if (strcmp(env.command, "ADD") == 0) {
		ret = env_check(&env, true, e);
		return ret < 0 ? ret : cmd_add(&env, c, e);
	}
	if (strcmp(env.command, "DEL") == 0) {
		ret = env_check(&env, false, e);
		return ret < 0 ? ret : cmd_del(&env, c, e);
	}
	if (strcmp(env.command, "CHECK") == 0) {
		ret = env_check(&env, true, e);
		return ret < 0 ? ret : cmd_check(&env, c, e);
	}
	return cni_fail(e, CNI_ERR_ENV, "invalid environment variables",
			"CNI_COMMAND \"%s\": ADD, DEL, CHECK or VERSION", env.command);
}

int main(int argc, char *argv[])
{
	struct conf c = { 0 };
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
		print_error(c.version, &e);
	}
	conf_free(&c);
	return ret < 0 ? 1 : 0;
}
