/* set: `wg set`'s command line, translated into one set=1 request, so a change is applied
 * whole or not at all (the daemon edits a copy and applies it only if every line passed).
 * Values are checked here first, so a typo is a usage error naming the word, not a bare
 * "Invalid argument" from the daemon. Two words of our own: `rules` (the access rules, as
 * the Allow and Deny lines of sealnet.conf(5) write them) and a peer's `groups` (as its
 * Groups line), each the whole list. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "addr.h"
#include "ipc.h"
#include "key.h"
#include "config.h"
#include "firewall.h"
#include "request.h"
#include "subcommands.h"

static void usage_text(FILE *f)
{
	fprintf(f,
		"Usage: %s set <interface> [listen-port <port>] [fwmark <mark>] "
		"[private-key <file>] [rules <rules>]\n"
		"         [peer <base64 public key> [remove] [preshared-key <file>] "
		"[endpoint <host>:<port>]\n"
		"          [persistent-keepalive <seconds>|off] [allowed-ips <ip>[/<cidr>][,...]]\n"
		"          [groups <name>[,...]] ]...\n"
		"  rules: the whole list of access rules, as the config writes them, one per\n"
		"      line or separated by ';' (\"Allow = icmp; Deny = tcp/22\"); '' for none\n"
		"  groups: the peer's whole list of groups, as Groups = lists them; '' for none\n",
		PROG_NAME);
}

static int usage(void)
{
	usage_text(stderr);
	return EXIT_USAGE;
}

static int bad(const char *what, const char *value)
{
	fprintf(stderr, "%s: set: bad %s `%s'\n", PROG_NAME, what, value);
	return usage();
}

/* A key file as wg reads one: base64 and optional blanks; an empty file is the all-zero key,
 * which removes the key. Returns 0, or prints why not and returns 1. */
static int read_keyfile(const char *path, uint8_t key[KEY_LEN])
{
	bool empty;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: set: %s: %s\n", PROG_NAME, path, strerror(errno));
		return 1;
	}
	ret = key_read_file(fd, key, &empty);
	close(fd);
	if (ret == -EINVAL && empty) {
		memset(key, 0, KEY_LEN);
		return 0;
	}
	if (ret == -EINVAL) {
		/* Never the content: it is mostly a secret even when mistyped. */
		fprintf(stderr, "%s: set: %s: not a key (44 characters of base64)\n", PROG_NAME,
			path);
		return 1;
	}
	if (ret) {
		fprintf(stderr, "%s: set: %s: %s\n", PROG_NAME, path, strerror(-ret));
		return 1;
	}
	return 0;
}

/* "a/n, b/n,c" -> allowed_ip lines; an empty value only clears the list. Returns 0 or
 * EXIT_USAGE. */
static int add_allowed_ips(struct request *r, const char *list)
{
	char buf[ADDR_STRLEN], text[ADDR_STRLEN];
	const char *s = addr_list_begin(list), *item;
	struct ip_prefix pfx;
	size_t len;

	request_add(r, "replace_allowed_ips=true\n");
	while (addr_list_next(&s, &item, &len)) {
		if (!len || len >= sizeof(buf))
			return bad("allowed ips", list);
		memcpy(buf, item, len);
		buf[len] = '\0';
		if (addr_parse_prefix(buf, &pfx))
			return bad("allowed ip", buf);
		request_add(r, "allowed_ip=%s\n", addr_prefix_str(&pfx, text));
	}
	return 0;
}

/* One rule of a `rules` list: "Allow = SPEC" as in the file (or "allow SPEC", as show and
 * status print them), SPEC as firewall_parse_rule() reads it. Returns 0 or EXIT_USAGE. */
static int add_rule(struct request *r, const char *s, size_t len)
{
	struct firewall_rule rule;
	char text[FIREWALL_RULE_TEXT_MAX * 2], why[160];
	const char *spec;
	bool deny;

	if (len >= sizeof(text)) {
		fprintf(stderr, "%s: set: rule too long: `%.*s'\n", PROG_NAME, (int)len, s);
		return usage();
	}
	memcpy(text, s, len);
	text[len] = '\0';
	if (!strncasecmp(text, "allow", 5))
		deny = false;
	else if (!strncasecmp(text, "deny", 4))
		deny = true;
	else
		return bad("rule (Allow = ... or Deny = ...)", text);
	spec = text + (deny ? 4 : 5);
	if (*spec && *spec != '=' && !isspace((unsigned char)*spec))
		return bad("rule (Allow = ... or Deny = ...)", text);
	spec += strspn(spec, " \t");
	if (*spec == '=')
		spec += 1 + strspn(spec + 1, " \t");
	if (firewall_parse_rule(spec, deny, &rule, why, sizeof(why))) {
		fprintf(stderr, "%s: set: bad rule `%s': %s\n", PROG_NAME, text, why);
		return usage();
	}
	request_add(r, "%s=%s\n", deny ? "deny" : "allow", spec);
	return 0;
}

/* `rules LIST`: replace_rules, then each rule; lines or ';' separate them, '#' starts a
 * comment (so the Allow and Deny lines of a config can be pasted). Returns 0 or EXIT_USAGE. */
static int add_rules(struct request *r, const char *list)
{
	const char *s = list;
	int ret;

	request_add(r, "replace_rules=true\n");
	while (*s) {
		size_t len = strcspn(s, ";\n"), body = strcspn(s, "#;\n");
		const char *b = s;

		while (body && isspace((unsigned char)*b)) {
			b++;
			body--;
		}
		while (body && isspace((unsigned char)b[body - 1]))
			body--;
		if (body) {
			ret = add_rule(r, b, body);
			if (ret)
				return ret;
		}
		s += len;
		if (*s)
			s++;
	}
	return 0;
}

/* `groups LIST`: the peer's whole list, split at commas and blanks as Groups = is. Returns 0
 * or EXIT_USAGE. */
static int add_groups(struct request *r, const char *list)
{
	char name[FIREWALL_GROUP_NAME_MAX];
	const char *s = list + strspn(list, ", \t");
	unsigned n = 0;

	request_add(r, "replace_groups=true\n");
	while (*s) {
		size_t len = strcspn(s, ", \t");

		if (len >= sizeof(name))
			return bad("group name", s);
		memcpy(name, s, len);
		name[len] = '\0';
		if (!firewall_group_name_ok(name))
			return bad("group name (letters, digits, - _ .)", name);
		if (++n > CONFIG_MAX_GROUPS) {
			fprintf(stderr, "%s: set: more than %d groups\n", PROG_NAME,
				CONFIG_MAX_GROUPS);
			return usage();
		}
		request_add(r, "group=%s\n", name);
		s += len;
		s += strspn(s, ", \t");
	}
	return 0;
}

enum scope { INTERFACE, PEER, ANY };

static const struct keyword {
	const char *word;
	enum scope scope;
	bool has_value;
} keywords[] = {
	{ "listen-port", INTERFACE, true }, { "fwmark", INTERFACE, true },
	{ "private-key", INTERFACE, true }, { "peer", ANY, true },
	{ "remove", PEER, false },          { "preshared-key", PEER, true },
	{ "endpoint", PEER, true },         { "persistent-keepalive", PEER, true },
	{ "allowed-ips", PEER, true },      { "rules", INTERFACE, true },
	{ "groups", PEER, true },
};

static const struct keyword *find_keyword(const char *word, bool in_peer)
{
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (!strcmp(word, keywords[i].word) &&
		    (keywords[i].scope == ANY || keywords[i].scope == (in_peer ? PEER : INTERFACE)))
			return &keywords[i];
	return NULL;
}

/* One keyword and its value into r. Returns 0, EXIT_USAGE or 1. */
static int build_one(struct request *r, const char *word, const char *value, bool *in_peer)
{
	char ep[ADDR_STRLEN];
	unsigned long long n;
	union endpoint endpoint;
	uint8_t key[KEY_LEN];
	int ret = 0;

	if (!strcmp(word, "peer")) {
		if (key_from_base64(key, value))
			return bad("public key", value);
		request_add_key(r, "public_key", key);
		*in_peer = true;
	} else if (!strcmp(word, "remove")) {
		request_add(r, "remove=true\n");
	} else if (!strcmp(word, "listen-port")) {
		if (config_parse_number(value, 65535, false, &n))
			return bad("port", value);
		request_add(r, "listen_port=%llu\n", n);
	} else if (!strcmp(word, "fwmark")) {
		if (!strcasecmp(value, "off"))
			n = 0;
		else if (config_parse_number(value, UINT32_MAX, true, &n))
			return bad("fwmark", value);
		request_add(r, "fwmark=%llu\n", n);
	} else if (!strcmp(word, "private-key") || !strcmp(word, "preshared-key")) {
		ret = read_keyfile(value, key);
		if (!ret)
			request_add_key(r,
					!strcmp(word, "private-key") ? "private_key"
								     : "preshared_key",
					key);
	} else if (!strcmp(word, "endpoint")) {
		ret = addr_resolve_endpoint(value, &endpoint);
		if (ret == -EINVAL)
			return bad("endpoint", value);
		if (ret) {
			fprintf(stderr, "%s: set: cannot resolve endpoint `%s'\n", PROG_NAME,
				value);
			return 1;
		}
		request_add(r, "endpoint=%s\n", addr_endpoint_str(&endpoint, ep));
	} else if (!strcmp(word, "persistent-keepalive")) {
		if (!strcasecmp(value, "off"))
			n = 0;
		else if (config_parse_number(value, 65535, false, &n))
			return bad("persistent keepalive interval", value);
		request_add(r, "persistent_keepalive_interval=%llu\n", n);
	} else if (!strcmp(word, "allowed-ips")) {
		ret = add_allowed_ips(r, value);
	} else if (!strcmp(word, "rules")) {
		ret = add_rules(r, value);
	} else if (!strcmp(word, "groups")) {
		ret = add_groups(r, value);
	}
	sodium_memzero(key, sizeof(key));
	return ret;
}

/* Parses argv (after the interface name) into r: interface keywords, then peers, as wg
 * takes them. Returns 0, EXIT_USAGE or 1. */
static int build(struct request *r, int argc, char *argv[])
{
	const struct keyword *kw;
	bool in_peer = false;
	int ret = 0;

	for (int i = 0; i < argc && !ret; i++) {
		kw = find_keyword(argv[i], in_peer);
		if (!kw) {
			fprintf(stderr, "%s: set: unexpected `%s'%s\n", PROG_NAME, argv[i],
				in_peer && find_keyword(argv[i], false)   ? " after peer"
				: !in_peer && find_keyword(argv[i], true) ? " before peer"
									  : "");
			return usage();
		}
		if (kw->has_value && i + 1 == argc) {
			fprintf(stderr, "%s: set: `%s' needs a value\n", PROG_NAME, argv[i]);
			return usage();
		}
		ret = build_one(r, argv[i], kw->has_value ? argv[i + 1] : NULL, &in_peer);
		if (kw->has_value)
			i++;
	}
	return ret;
}

int set_main(int argc, char *argv[])
{
	struct request r = { 0 };
	const char *ifname;
	int ret, err;

	if (wants_help(argc, argv)) {
		usage_text(stdout);
		return 0;
	}
	if (argc < 2)
		return usage();
	ifname = argv[1];
	if (!ipc_valid_name(ifname)) {
		fprintf(stderr, "%s: set: invalid interface name `%s'\n", PROG_NAME, ifname);
		return usage();
	}
	request_add(&r, "set=1\n");
	ret = build(&r, argc - 2, argv + 2);
	if (ret)
		goto out;
	if (r.err) {
		fprintf(stderr, "%s: set %s: %s\n", PROG_NAME, ifname, strerror(-r.err));
		ret = 1;
		goto out;
	}
	ret = ipc_command(ifname, request_text(&r), &err);
	if (ret == -ENODEV) {
		fprintf(stderr, "%s: set %s: not running (no daemon on %s/%s.sock)\n", PROG_NAME,
			ifname, PATHS_SOCKET_DIR, ifname);
	} else if (ret) {
		fprintf(stderr, "%s: set %s: cannot talk to the daemon: %s\n", PROG_NAME, ifname,
			strerror(-ret));
	} else if (err) {
		fprintf(stderr, "%s: set %s: %s\n", PROG_NAME, ifname, strerror(-err));
	}
	ret = ret || err ? 1 : 0;
out:
	request_free(&r);
	return ret;
}
