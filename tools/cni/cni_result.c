/* The plugin's output: the JSON it prints, the error object, and the ADD result built from
 * the IPAM answer and the links ADD made. */
#include "cni_result.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

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

int cni_print_json(struct json_object *obj)
{
	const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY |
								    JSON_C_TO_STRING_SPACED |
								    JSON_C_TO_STRING_NOSLASHESCAPE);

	if (!s || printf("%s\n", s) < 0 || fflush(stdout) == EOF)
		return -EIO;
	return 0;
}

void cni_error_print(const char *version, const struct cni_error *e)
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
	cni_print_json(obj);
	json_object_put(obj);
}

const char *cni_mac_str(const struct cni_link *l, char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", l->mac[0], l->mac[1], l->mac[2],
		 l->mac[3], l->mac[4], l->mac[5]);
	return buf;
}

static struct json_object *interface_json(const char *name, const struct cni_link *l,
					  const char *sandbox)
{
	struct json_object *o = json_object_new_object();
	char mac[18];

	json_object_object_add(o, "name", json_object_new_string(name));
	if (l->has_mac)
		json_object_object_add(o, "mac", json_object_new_string(cni_mac_str(l, mac)));
	if (sandbox)
		json_object_object_add(o, "sandbox", json_object_new_string(sandbox));
	return o;
}

/* 0.4.0 still has "version" in each ips entry. */
struct json_object *cni_result_json(const struct cni_conf *c, const struct cni_env *env,
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
