/* Reading the request: the configuration from stdin, decoded and checked member by member
 * (every error names the member and says what was expected), and the CNI_* variables. */
#include "cni_conf.h"

#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

const char *const cni_versions[CNI_N_VERSIONS] = { "0.4.0", "1.0.0" };

/* Where to look for the IPAM plugin when the runtime gives no CNI_PATH (optional in the
 * spec): the usual place, then Debian's. */
#define DEFAULT_CNI_PATH "/opt/cni/bin:/usr/lib/cni"

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

static bool version_supported(const char *v)
{
	for (size_t i = 0; i < CNI_N_VERSIONS; i++) {
		if (strcmp(v, cni_versions[i]) == 0)
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

int cni_conf_read(struct cni_conf *c, struct cni_error *e)
{
	int ret = cni_read_all(STDIN_FILENO, &c->raw, &c->raw_len);

	if (ret < 0)
		return cni_fail(e, CNI_ERR_IO, "reading the configuration from stdin", "%s",
				strerror(-ret));
	return 0;
}

/* Parses c->raw into c->root; the whole input must be one JSON object. */
static int decode(struct cni_conf *c, struct cni_error *e)
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

int cni_conf_parse(struct cni_conf *c, struct cni_error *e)
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

void cni_conf_parse_version(struct cni_conf *c)
{
	struct cni_error ignored = { 0 };

	if (c->raw_len > 0 && decode(c, &ignored) == 0)
		get_string(c->root, "cniVersion", "", &c->version, &ignored);
}

void cni_conf_free(struct cni_conf *c)
{
	json_object_put(c->root);
	free(c->raw);
}

void cni_env_read(struct cni_env *env)
{
	env->command = getenv("CNI_COMMAND");
	env->containerid = getenv("CNI_CONTAINERID");
	env->netns = getenv("CNI_NETNS");
	env->ifname = getenv("CNI_IFNAME");
	env->path = getenv("CNI_PATH");
	if (!env->path || !*env->path)
		env->path = DEFAULT_CNI_PATH;
}

/* SPEC.md section 2. */
int cni_env_check(const struct cni_env *env, bool need_netns, struct cni_error *e)
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
