/* Node entries: parsing and the rules that bound what an entry may claim
 * (entry.h). */
#include <errno.h>
#include <json-c/json.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "entry.h"

void registry_key_name(char name[REGISTRY_KEY_NAME_LEN], const uint8_t key[KEY_LEN])
{
	sodium_bin2base64(name, REGISTRY_KEY_NAME_LEN, key, KEY_LEN,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int registry_refuse(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool has_host_bits(const struct ip_prefix *p)
{
	struct ip_prefix masked = *p;

	addr_prefix_mask(&masked);
	return memcmp(masked.addr.bytes, p->addr.bytes, sizeof(masked.addr.bytes)) != 0;
}

int registry_add_cluster_cidr(struct cluster_cidrs *cidrs, const char *s, char *why, size_t why_len)
{
	struct ip_prefix p;

	if (!strchr(s, '/') || addr_parse_prefix(s, &p))
		return registry_refuse(why, why_len, "\"%.60s\" is not a prefix", s);
	if (has_host_bits(&p))
		return registry_refuse(why, why_len, "\"%.60s\" has host bits set", s);
	/* Everything is nobody's range: the rule would admit any claim. */
	if (!p.cidr)
		return registry_refuse(why, why_len, "\"%.60s\" is everything", s);
	if (cidrs->n == REGISTRY_MAX_CLUSTER_CIDRS) {
		snprintf(why, why_len, "more than %d cluster ranges", REGISTRY_MAX_CLUSTER_CIDRS);
		return -ENOSPC;
	}
	cidrs->p[cidrs->n++] = p;
	return 0;
}

bool registry_prefixes_overlap(const struct ip_prefix *a, const struct ip_prefix *b)
{
	unsigned bits = a->cidr < b->cidr ? a->cidr : b->cidr;
	unsigned bytes = bits / 8, rest = bits % 8;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));

	if (a->addr.family != b->addr.family)
		return false;
	if (memcmp(a->addr.bytes, b->addr.bytes, bytes))
		return false;
	return !rest || !((a->addr.bytes[bytes] ^ b->addr.bytes[bytes]) & mask);
}

bool registry_prefix_within(const struct ip_prefix *inner, const struct ip_prefix *outer)
{
	return inner->cidr >= outer->cidr && registry_prefixes_overlap(inner, outer);
}

bool registry_prefix_covers(const struct ip_prefix *p, const struct ip_addr *a)
{
	struct ip_prefix host = { .addr = *a, .cidr = (uint8_t)(addr_len(a->family) * 8) };

	return registry_prefix_within(&host, p);
}

void registry_endpoint_addr(const union endpoint *ep, struct ip_addr *out)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(out, 0, sizeof(*out));
	if (ep->sa.sa_family == AF_INET6 && memcmp(ep->in6.sin6_addr.s6_addr, mapped, 12)) {
		out->family = AF_INET6;
		memcpy(out->bytes, ep->in6.sin6_addr.s6_addr, 16);
	} else if (ep->sa.sa_family == AF_INET6) {
		out->family = AF_INET;
		memcpy(out->bytes, ep->in6.sin6_addr.s6_addr + 12, 4);
	} else {
		out->family = AF_INET;
		memcpy(out->bytes, &ep->in4.sin_addr, 4);
	}
}

/* The cluster range p lies in, or NULL. */
static const struct ip_prefix *range_of(const struct cluster_cidrs *cidrs,
					const struct ip_prefix *p)
{
	for (size_t i = 0; i < cidrs->n; i++)
		if (registry_prefix_within(p, &cidrs->p[i]))
			return &cidrs->p[i];
	return NULL;
}

static const char *member(struct json_object *o, const char *name, enum json_type type,
			  struct json_object **v)
{
	if (!json_object_object_get_ex(o, name, v))
		return "absent";
	return json_object_is_type(*v, type) ? NULL : "of the wrong type";
}

/* The name is how others find an entry, and the claims of an entry go to the peer of its
 * public_key: a name that stood for another key would let one node's entry speak for
 * another's. */
static int check_name(const char *prefix, const char *key, uint8_t named[KEY_LEN], char *why,
		      size_t why_len)
{
	size_t bin_len, plen = strlen(prefix);
	const char *name;

	if (strncmp(key, prefix, plen))
		return registry_refuse(why, why_len, "not under %s", prefix);
	name = key + plen;
	if (strlen(name) != REGISTRY_KEY_NAME_LEN - 1 ||
	    sodium_base642bin(named, KEY_LEN, name, strlen(name), NULL, &bin_len, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) ||
	    bin_len != KEY_LEN)
		return registry_refuse(why, why_len,
				       "the key's last part is not a public key in base64url");
	return 0;
}

/* One pod subnet, from the field named field: added to n unless it is there already (the
 * same prefix in pod_subnet and in pod_subnets). */
static int add_pod_subnet(struct json_object *v, const char *field,
			  const struct cluster_cidrs *cidrs, struct node *n, char *why,
			  size_t why_len)
{
	const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
	struct ip_prefix p;
	char buf[ADDR_STRLEN];
	int wide;

	if (!strchr(s, '/') || addr_parse_prefix(s, &p))
		return registry_refuse(why, why_len, "%s \"%.60s\" is not a prefix", field, s);
	if (has_host_bits(&p))
		return registry_refuse(why, why_len, "%s \"%.60s\" has host bits set", field, s);
	/* A claim that wide would take the routes of the underlay itself. */
	wide = p.addr.family == AF_INET ? 8 : 32;
	if (p.cidr < wide)
		return registry_refuse(why, why_len, "%s \"%.60s\" is wider than /%d", field, s,
				       wide);
	if (!range_of(cidrs, &p))
		return registry_refuse(why, why_len, "%s %s is outside the cluster's ranges", field,
				       addr_prefix_str(&p, buf));
	for (size_t i = 0; i < n->n_pod_subnets; i++) {
		if (n->pod_subnets[i].addr.family != p.addr.family)
			continue;
		if (n->pod_subnets[i].cidr == p.cidr &&
		    !memcmp(n->pod_subnets[i].addr.bytes, p.addr.bytes, sizeof(p.addr.bytes)))
			return 0;
		/* One subnet per family: a pod gets one address of each. */
		return registry_refuse(why, why_len, "%s %s: a second pod subnet of its family",
				       field, addr_prefix_str(&p, buf));
	}
	n->pod_subnets[n->n_pod_subnets++] = p;
	return 0;
}

static bool absent_or_empty(struct json_object *o, const char *name, struct json_object **v)
{
	return !json_object_object_get_ex(o, name, v) || json_object_is_type(*v, json_type_null) ||
	       (json_object_is_type(*v, json_type_string) && !*json_object_get_string(*v));
}

/* pod_subnet, which every version reads, then pod_subnets, which a dual-stack node adds (and
 * which older versions ignore: they route its pod_subnet alone). */
static int parse_pod_subnets(struct json_object *o, const struct cluster_cidrs *cidrs,
			     struct node *n, char *why, size_t why_len)
{
	struct json_object *v;
	size_t len;
	int ret;

	if (!absent_or_empty(o, "pod_subnet", &v)) {
		ret = add_pod_subnet(v, "pod_subnet", cidrs, n, why, why_len);
		if (ret)
			return ret;
	}
	if (absent_or_empty(o, "pod_subnets", &v))
		return 0;
	if (!json_object_is_type(v, json_type_array) ||
	    (len = json_object_array_length(v)) > REGISTRY_MAX_POD_SUBNETS)
		return registry_refuse(why, why_len, "pod_subnets is not a list of at most %d",
				       REGISTRY_MAX_POD_SUBNETS);
	for (size_t i = 0; i < len; i++) {
		ret = add_pod_subnet(json_object_array_get_idx(v, i), "pod_subnets", cidrs, n, why,
				     why_len);
		if (ret)
			return ret;
	}
	return 0;
}

static int parse_claims(struct json_object *o, const struct cluster_cidrs *cidrs, struct node *n,
			char *why, size_t why_len)
{
	struct json_object *v;
	const char *s, *bad;
	char buf[ADDR_STRLEN];

	if ((bad = member(o, "overlay", json_type_string, &v)))
		return registry_refuse(why, why_len, "overlay %s", bad);
	s = json_object_get_string(v);
	if (addr_parse_prefix(s, &n->overlay) ||
	    n->overlay.cidr != addr_len(n->overlay.addr.family) * 8)
		return registry_refuse(why, why_len, "overlay \"%.60s\" is not one address", s);
	if (!range_of(cidrs, &n->overlay))
		return registry_refuse(why, why_len, "overlay %s is outside the cluster's ranges",
				       addr_prefix_str(&n->overlay, buf));
	return parse_pod_subnets(o, cidrs, n, why, why_len);
}

static int parse_endpoints(struct json_object *o, const struct cluster_cidrs *cidrs, struct node *n,
			   char *why, size_t why_len)
{
	struct json_object *v, *item;
	union endpoint ep;
	struct ip_addr a;
	char buf[ADDR_STRLEN];
	const char *s;

	if (!json_object_object_get_ex(o, "endpoints", &v))
		return 0;
	if (!json_object_is_type(v, json_type_array) ||
	    json_object_array_length(v) > REGISTRY_MAX_ENDPOINTS)
		return registry_refuse(why, why_len, "endpoints is not a list of at most %d",
				       REGISTRY_MAX_ENDPOINTS);
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		item = json_object_array_get_idx(v, i);
		s = json_object_is_type(item, json_type_string) ? json_object_get_string(item) : "";
		/* Numeric only: a name would make every node resolve it, blocking. */
		if (addr_parse_endpoint(s, &ep) || !ep.in4.sin_port)
			return registry_refuse(why, why_len, "endpoint \"%.60s\" is not ip:port",
					       s);
		/* Sent into the tunnel, the tunnel's own datagrams would never leave; and with
		 * every endpoint outside the ranges that bound the claims, no claim can take the
		 * route to a node. */
		registry_endpoint_addr(&ep, &a);
		for (size_t k = 0; k < cidrs->n; k++)
			if (registry_prefix_covers(&cidrs->p[k], &a))
				return registry_refuse(
					why, why_len,
					"endpoint \"%.60s\" is inside the cluster's range %s", s,
					addr_prefix_str(&cidrs->p[k], buf));
		if (i == 0)
			addr_endpoint_str(&ep, n->endpoint);
	}
	return 0;
}

static int parse_groups(struct json_object *o, struct node *n, char *why, size_t why_len)
{
	struct json_object *v, *item;
	const char *s;

	if (!json_object_object_get_ex(o, "groups", &v))
		return 0;
	if (!json_object_is_type(v, json_type_array) ||
	    json_object_array_length(v) > REGISTRY_MAX_GROUPS)
		return registry_refuse(why, why_len, "groups is not a list of at most %d",
				       REGISTRY_MAX_GROUPS);
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		item = json_object_array_get_idx(v, i);
		s = json_object_is_type(item, json_type_string) ? json_object_get_string(item) : "";
		if (!firewall_group_name_ok(s))
			return registry_refuse(why, why_len, "group \"%.40s\" is not a name", s);
		snprintf(n->groups[n->n_groups++], sizeof(n->groups[0]), "%s", s);
	}
	return 0;
}

int registry_parse_entry(const char *prefix, const char *key, const char *value, size_t len,
			 const struct cluster_cidrs *cidrs, struct node *n, char *why,
			 size_t why_len)
{
	struct json_object *o = NULL, *v;
	uint8_t named[KEY_LEN];
	const char *bad;
	int ret;

	memset(n, 0, sizeof(*n));
	ret = check_name(prefix, key, named, why, why_len);
	if (ret)
		return ret;
	if (len > REGISTRY_MAX_ENTRY_LEN || strlen(value) != len)
		return registry_refuse(why, why_len, "value of %zu bytes, not a node's JSON", len);
	o = json_tokener_parse(value);
	if (!o || !json_object_is_type(o, json_type_object)) {
		ret = registry_refuse(why, why_len, "value is not a JSON object");
		goto out;
	}
	if ((bad = member(o, "public_key", json_type_string, &v))) {
		ret = registry_refuse(why, why_len, "public_key %s", bad);
		goto out;
	}
	if (key_from_base64(n->public_key, json_object_get_string(v)) ||
	    key_is_zero(n->public_key)) {
		ret = registry_refuse(why, why_len, "public_key \"%.60s\" is not a key",
				      json_object_get_string(v));
		goto out;
	}
	if (!key_equal(named, n->public_key)) {
		ret = registry_refuse(why, why_len,
				      "public_key is not the key the entry is named after");
		goto out;
	}
	ret = parse_claims(o, cidrs, n, why, why_len);
	if (!ret)
		ret = parse_endpoints(o, cidrs, n, why, why_len);
	if (!ret)
		ret = parse_groups(o, n, why, why_len);
out:
	json_object_put(o);
	return ret;
}

size_t registry_claims(const struct node *n, const struct ip_prefix *c[REGISTRY_MAX_CLAIMS])
{
	c[0] = &n->overlay;
	for (size_t i = 0; i < n->n_pod_subnets; i++)
		c[1 + i] = &n->pod_subnets[i];
	return 1 + n->n_pod_subnets;
}

bool registry_claims_overlap(const struct node *a, const struct node *b, char *what, size_t len)
{
	const struct ip_prefix *ca[REGISTRY_MAX_CLAIMS], *cb[REGISTRY_MAX_CLAIMS];
	size_t na = registry_claims(a, ca), nb = registry_claims(b, cb);
	char x[ADDR_STRLEN], y[ADDR_STRLEN];

	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++)
			if (registry_prefixes_overlap(ca[i], cb[j])) {
				snprintf(what, len, "%s overlaps %s", addr_prefix_str(ca[i], x),
					 addr_prefix_str(cb[j], y));
				return true;
			}
	return false;
}

bool registry_claims_cover(const struct node *n, const struct ip_addr *a, char *what, size_t len)
{
	const struct ip_prefix *c[REGISTRY_MAX_CLAIMS];
	size_t nc = registry_claims(n, c);
	char x[ADDR_STRLEN], y[ADDR_STRLEN];

	for (size_t i = 0; i < nc; i++)
		if (registry_prefix_covers(c[i], a)) {
			snprintf(what, len, "%s covers %s", addr_prefix_str(c[i], x),
				 addr_str(a, y));
			return true;
		}
	return false;
}

bool registry_claims_take(const struct node *n, const struct ip_prefix *held,
			  const struct cluster_cidrs *cidrs, char *what, size_t len)
{
	const struct ip_prefix *c[REGISTRY_MAX_CLAIMS], *range;
	size_t nc = registry_claims(n, c);
	char x[ADDR_STRLEN], y[ADDR_STRLEN];

	for (size_t i = 0; i < nc; i++) {
		if (!registry_prefixes_overlap(c[i], held))
			continue;
		range = range_of(cidrs, c[i]);
		if (range && registry_prefix_within(range, held))
			continue;
		snprintf(what, len, "%s overlaps %s", addr_prefix_str(c[i], x),
			 addr_prefix_str(held, y));
		return true;
	}
	return false;
}

static bool prefix_equal(const struct ip_prefix *a, const struct ip_prefix *b)
{
	return a->addr.family == b->addr.family && a->cidr == b->cidr &&
	       !memcmp(a->addr.bytes, b->addr.bytes, sizeof(a->addr.bytes));
}

bool registry_node_same(const struct node *a, const struct node *b)
{
	if (!key_equal(a->public_key, b->public_key) || strcmp(a->endpoint, b->endpoint) ||
	    !prefix_equal(&a->overlay, &b->overlay) || a->n_pod_subnets != b->n_pod_subnets ||
	    a->n_groups != b->n_groups)
		return false;
	for (size_t i = 0; i < a->n_pod_subnets; i++)
		if (!prefix_equal(&a->pod_subnets[i], &b->pod_subnets[i]))
			return false;
	for (size_t i = 0; i < a->n_groups; i++)
		if (strcmp(a->groups[i], b->groups[i]))
			return false;
	return true;
}

char *registry_escape(char *out, size_t len, const char *in)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	unsigned char c;

	if (!len)
		return out;
	for (; *in; in++) {
		c = (unsigned char)*in;
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= len)
				break;
			out[o++] = (char)c;
		} else if (c == '\\') {
			if (o + 2 >= len)
				break;
			out[o++] = '\\';
			out[o++] = '\\';
		} else {
			if (o + 4 >= len)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xf];
		}
	}
	out[o] = '\0';
	return out;
}
