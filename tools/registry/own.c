/* This node's own entry (own.h). */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../etcd.h"
#include "../subcommands.h"
#include "entries.h"
#include "log.h"
#include "own.h"

static int add_string(struct json_object *o, const char *name, const char *s)
{
	struct json_object *v = json_object_new_string(s);

	if (!v || json_object_object_add(o, name, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int add_strings(struct json_object *o, const char *name, char *const *s, size_t n)
{
	struct json_object *a = json_object_new_array(), *v;

	if (!a || json_object_object_add(o, name, a)) {
		json_object_put(a);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		v = json_object_new_string(s[i]);
		if (!v || json_object_array_add(a, v)) {
			json_object_put(v);
			return -ENOMEM;
		}
	}
	return 0;
}

/* pod_subnet, which every version reads: the IPv4 one of a dual-stack node, so that an older
 * node routes that one at least; and pod_subnets, both, when there are two. */
static int add_pod_subnets(struct json_object *o, struct registry *r)
{
	char *both[REGISTRY_MAX_POD_SUBNETS];
	size_t first = 0;

	if (!r->cfg.n_pod_subnets)
		return 0;
	for (size_t i = 0; i < r->cfg.n_pod_subnets; i++) {
		both[i] = r->cfg.pod_subnets[i];
		if (!strchr(r->cfg.pod_subnets[i], ':') && strchr(r->cfg.pod_subnets[first], ':'))
			first = i;
	}
	if (add_string(o, "pod_subnet", r->cfg.pod_subnets[first]))
		return -ENOMEM;
	return r->cfg.n_pod_subnets > 1 ? add_strings(o, "pod_subnets", both, r->cfg.n_pod_subnets)
					: 0;
}

/* An etcd on this host tells us nothing about the address other nodes reach us on. */
static bool loopback(const char *ip)
{
	return !strncmp(ip, "127.", 4) || !strcmp(ip, "::1") || !strncmp(ip, "::ffff:127.", 11);
}

/* Our entry's key and JSON value (malloc'd, *value). The endpoints are the command line's,
 * or else the address we reach etcd from with the daemon's port. */
int own_entry(struct registry *r, char *key, size_t key_len, char **value)
{
	struct json_object *o = json_object_new_object();
	char name[REGISTRY_KEY_NAME_LEN], b64[KEY_B64_LEN], ip[ADDR_STRLEN], ep[ADDR_STRLEN + 8];
	char stamp[32], *eps[1] = { ep };
	struct tm tm;
	time_t t = time(NULL);
	int ret = -ENOMEM;

	*value = NULL;
	if (!o)
		return -ENOMEM;
	registry_key_name(name, r->dmn.self_key);
	snprintf(key, key_len, "%s%s", r->cfg.prefix, name);
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (add_string(o, "public_key", key_text(b64, r->dmn.self_key)))
		goto out;
	if (r->cfg.n_endpoints) {
		if (add_strings(o, "endpoints", r->cfg.endpoints, r->cfg.n_endpoints))
			goto out;
	} else if (!etcd_local_ip(r->sess.etcd, ip, sizeof(ip)) && !loopback(ip)) {
		snprintf(ep, sizeof(ep), strchr(ip, ':') ? "[%s]:%u" : "%s:%u", ip, r->dmn.port);
		if (add_strings(o, "endpoints", eps, 1))
			goto out;
	}
	if (add_string(o, "overlay", r->cfg.overlay) || add_pod_subnets(o, r) ||
	    add_strings(o, "groups", r->cfg.groups, r->cfg.n_groups) ||
	    add_string(o, "updated", stamp))
		goto out;
	*value = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	ret = *value ? 0 : -ENOMEM;
out:
	json_object_put(o);
	return ret;
}

/* Our own entry must pass the checks every node applies to it; what it claims is kept. */
int own_check_config(struct registry *r)
{
	struct node *n = &r->cfg.self_claims;
	char key[512], why[256], *value;
	int ret;

	memset(r->dmn.self_key, 0x42, KEY_LEN); /* any key will do for the check */
	r->dmn.port = 51820;
	ret = own_entry(r, key, sizeof(key), &value);
	if (ret)
		return ret;
	ret = registry_parse_entry(r->cfg.prefix, key, value, strlen(value), &r->cfg.cidrs, n, why,
				   sizeof(why));
	if (ret)
		fprintf(stderr, "%s: registry: this node's entry would be refused: %s\n", PROG_NAME,
			why);
	free(value);
	memset(r->dmn.self_key, 0, KEY_LEN);
	return ret;
}

/* Our entry as etcd has it now. Whoever may write under PREFIX/nodes/ may delete it or write
 * over it, and another entry could then claim our addresses first and have them everywhere:
 * so when it is gone, says something else than what we published, or hangs on another lease
 * (it would outlive us), we publish it again, at once. Our own puts come back through the
 * watch and match; one of an earlier put, seen after a later one, costs one more put of the
 * same thing. */
void own_check(struct registry *r)
{
	struct entry *e = entries_find(&r->nodes, r->sess.published_key);
	struct node n;
	char why[256];
	const char *what = NULL;

	if (!r->sess.published_key[0] || !r->sess.published_valid)
		return;
	if (!e)
		what = "is gone from etcd";
	else if (registry_parse_entry(r->cfg.prefix, e->key, e->value, strlen(e->value),
				      &r->cfg.cidrs, &n, why, sizeof(why)) ||
		 !registry_node_same(&n, &r->sess.published))
		what = "says something else than we published";
	else if (e->lease != r->sess.lease)
		what = "was put on another lease";
	if (!what)
		return;
	if (e)
		log_warn("%s: registry: our entry %s %s (revision %lld): publishing it again",
			 r->cfg.ifname, r->sess.published_key, what, (long long)e->mod_revision);
	else
		log_warn("%s: registry: our entry %s %s: publishing it again", r->cfg.ifname,
			 r->sess.published_key, what);
	r->sess.need_publish = true;
}
