/* The keys of the file, one table of them (config_options[]): each parse_* function checks
 * one value, as wg-quick and wg(8) read it, and fills the structs, or fails naming the line
 * and the key. What spans several keys is config.c's validate(). */
#include "config_priv.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "key.h"
#include "privdrop.h"
#include "workers.h"

const char *const config_hook_names[CONFIG_HOOK_MAX] = {
	[CONFIG_HOOK_PRE_UP] = "PreUp",
	[CONFIG_HOOK_POST_UP] = "PostUp",
	[CONFIG_HOOK_PRE_DOWN] = "PreDown",
	[CONFIG_HOOK_POST_DOWN] = "PostDown",
};

static struct config_peer *current_peer(struct parser *p)
{
	return &p->cfg->peers[p->cfg->n_peers - 1];
}

int config_parse_number(const char *s, unsigned long long max, bool hex, unsigned long long *out)
{
	int base = 10;
	char *end;

	if (hex && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		if (!isxdigit((unsigned char)*s))
			return -EINVAL;
	} else if (!isdigit((unsigned char)*s)) {
		return -EINVAL;
	}
	errno = 0;
	*out = strtoull(s, &end, base);
	if (errno || *end || *out > max)
		return -EINVAL;
	return 0;
}

/* Never echoes the value of a secret key: a mistyped private key is still mostly secret. */
static int bad_key(struct parser *p, const char *value, bool secret)
{
	size_t len = strlen(value);

	if (len != KEY_B64_LEN - 1) {
		if (secret)
			return config_fail(p, -EINVAL, p->line,
					   "%s: bad key (%zu characters, want %d)", p->opt->name,
					   len, KEY_B64_LEN - 1);
		return config_fail(p, -EINVAL, p->line,
				   "%s: bad key \"%s\" (%zu characters, want %d)", p->opt->name,
				   value, len, KEY_B64_LEN - 1);
	}
	if (secret)
		return config_fail(p, -EINVAL, p->line, "%s: bad key (not base64)", p->opt->name);
	return config_fail(p, -EINVAL, p->line, "%s: bad key \"%s\" (not base64)", p->opt->name,
			   value);
}

static int parse_one_prefix(const char *s, size_t len, struct ip_prefix *prefix)
{
	char buf[ADDR_STRLEN];

	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return addr_parse_prefix(buf, prefix);
}

/* A comma separated list; an empty value adds nothing, as in wg(8). */
static int parse_prefixes(struct parser *p, const char *value, struct ip_prefix **arr, size_t *n,
			  size_t *cap, bool mask)
{
	const char *s = addr_list_begin(value), *item;
	struct ip_prefix prefix, *new;
	size_t len;

	while (addr_list_next(&s, &item, &len)) {
		if (!len)
			return config_fail(p, -EINVAL, p->line,
					   "%s: an empty entry in \"%s\" (a comma too many?)",
					   p->opt->name, value);
		if (parse_one_prefix(item, len, &prefix))
			return config_fail(p, -EINVAL, p->line, "%s: bad prefix \"%.*s\"",
					   p->opt->name, (int)len, item);
		if (mask)
			addr_prefix_mask(&prefix);
		new = config_grow(*arr, cap, *n, sizeof(**arr));
		if (!new)
			return config_fail(p, -ENOMEM, p->line, "out of memory");
		*arr = new;
		(*arr)[(*n)++] = prefix;
	}
	return 0;
}

/* PrivateKey and PrivateKeyFile are one setting written two ways, as are PresharedKey and
 * PresharedKeyFile: the other one given too is refused. Returns 0 or config_fail()'s error. */
static int one_of_two(struct parser *p, const char *other)
{
	int line = config_seen_line(p, other);

	if (!line)
		return 0;
	return config_fail(p, -EINVAL, p->line, "%s: %s is given too (line %d): one or the other",
			   p->opt->name, other, line);
}

static int parse_private_key(struct parser *p, const char *value)
{
	uint8_t *key;
	int ret;

	p->has_secret = true;
	ret = one_of_two(p, "PrivateKeyFile");
	if (ret)
		return ret;
	key = sodium_malloc(KEY_LEN);
	if (!key)
		return config_fail(p, -ENOMEM, p->line, "out of memory");
	if (key_from_base64(key, value)) {
		sodium_free(key);
		return bad_key(p, value, true);
	}
	sodium_free(p->cfg->private_key);
	p->cfg->private_key = key;
	return 0;
}

/* A key file's key into key (KEY_LEN bytes): PrivateKeyFile and PresharedKeyFile. The file
 * is read now, so that one sealnetd cannot read or that holds no key is refused with this
 * line, at startup as at a reload (after the privilege drop through the root helper, which
 * opens only the key files named at startup: privdrop.h). Returns 0 or config_fail()'s error. */
static int read_key_file(struct parser *p, const char *value, uint8_t *key)
{
	bool empty;
	struct stat st;
	int fd, ret;

	if (value[0] != '/')
		return config_fail(p, -EINVAL, p->line, "%s: \"%s\" is not an absolute path",
				   p->opt->name, value);
	fd = privdrop_open_key(value);
	if (fd < 0)
		return config_fail(p, fd, p->line, "%s: cannot open \"%s\": %s%s", p->opt->name,
				   value, strerror(-fd), privdrop_open_hint(fd));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return config_fail(p, -EINVAL, p->line, "%s: \"%s\" is not a regular file",
				   p->opt->name, value);
	}
	if (config_readable_by_others(st.st_mode))
		config_warn(p, p->line, "%s: \"%s\" is readable by others (mode %o)", p->opt->name,
			    value, (unsigned)(st.st_mode & 07777));
	ret = key_read_file(fd, key, &empty);
	close(fd);
	if (ret == -EINVAL)
		return config_fail(p, ret, p->line,
				   "%s: \"%s\" holds no key (one line of 44 base64 characters, as "
				   "`sealnet %s` writes)",
				   p->opt->name, value,
				   p->section == SECTION_PEER ? "genpsk" : "genkey");
	if (ret)
		return config_fail(p, ret, p->line, "%s: cannot read \"%s\": %s", p->opt->name,
				   value, strerror(-ret));
	return 0;
}

/* PrivateKeyFile = PATH. */
static int parse_private_key_file(struct parser *p, const char *value)
{
	uint8_t *key;
	char *path;
	int ret;

	ret = one_of_two(p, "PrivateKey");
	if (ret)
		return ret;
	key = sodium_malloc(KEY_LEN);
	path = strdup(value);
	if (!key || !path) {
		sodium_free(key);
		free(path);
		return config_fail(p, -ENOMEM, p->line, "out of memory");
	}
	ret = read_key_file(p, value, key);
	if (ret) {
		sodium_free(key);
		free(path);
		return ret;
	}
	sodium_free(p->cfg->private_key);
	p->cfg->private_key = key;
	free(p->cfg->private_key_file);
	p->cfg->private_key_file = path;
	return 0;
}

static int parse_listen_port(struct parser *p, const char *value)
{
	unsigned long long n;

	if (config_parse_number(value, 65535, false, &n))
		return config_fail(p, -EINVAL, p->line, "%s: bad port \"%s\" (0 to 65535)",
				   p->opt->name, value);
	p->cfg->listen_port = (uint16_t)n;
	return 0;
}

static int parse_address(struct parser *p, const char *value)
{
	return parse_prefixes(p, value, &p->cfg->addresses, &p->cfg->n_addresses, &p->addresses_cap,
			      false);
}

/* The IPv6 minimum is checked in validate(), once all addresses are known. */
static int parse_mtu(struct parser *p, const char *value)
{
	unsigned long long n;

	if (config_parse_number(value, 65535, false, &n) || n < MIN_MTU)
		return config_fail(p, -EINVAL, p->line, "%s: bad MTU \"%s\" (%d to 65535)",
				   p->opt->name, value, MIN_MTU);
	p->cfg->mtu = (unsigned)n;
	return 0;
}

static int parse_fwmark(struct parser *p, const char *value)
{
	unsigned long long n;

	if (!strcasecmp(value, "off"))
		n = 0;
	else if (config_parse_number(value, UINT32_MAX, true, &n))
		return config_fail(p, -EINVAL, p->line, "%s: bad mark \"%s\" (off or 0 to %u)",
				   p->opt->name, value, UINT32_MAX);
	p->cfg->fwmark = (uint32_t)n;
	return 0;
}

/* Numeric only, unlike Endpoint: a name would be resolved once at startup, and a page of
 * public keys served on an address nobody wrote down is worse than an error. */
static int parse_metrics_listen(struct parser *p, const char *value)
{
	if (addr_parse_endpoint(value, &p->cfg->metrics_listen))
		return config_fail(p, -EINVAL, p->line,
				   "%s: bad address \"%s\" (numeric address:port, as 127.0.0.1:9586 or "
				   "[::1]:9586)",
				   p->opt->name, value);
	return 0;
}

/* A name, as useradd(8) accepts them; whether the user exists is checked at startup, where
 * it matters (privdrop_apply), not at every reload. */
static int parse_user(struct parser *p, const char *value)
{
	static const char allowed[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				      "0123456789._-";
	size_t len = strlen(value);
	char *user;

	if (!len || len > 32 || value[0] == '-' || strspn(value, allowed) != len)
		return config_fail(
			p, -EINVAL, p->line,
			"%s: bad user name \"%s\" (letters, digits, '.', '_', '-', at most 32)",
			p->opt->name, value);
	user = strdup(value);
	if (!user)
		return config_fail(p, -ENOMEM, p->line, "out of memory");
	free(p->cfg->user);
	p->cfg->user = user;
	p->cfg->user_line = p->line;
	return 0;
}

static int parse_threads(struct parser *p, const char *value)
{
	unsigned long long n;

	if (!strcasecmp(value, "auto"))
		n = 0;
	else if (config_parse_number(value, WORKERS_MAX, false, &n) || n == 0)
		return config_fail(p, -EINVAL, p->line, "%s: bad value \"%s\" (auto or 1 to %d)",
				   p->opt->name, value, WORKERS_MAX);
	p->cfg->threads = (unsigned)n;
	return 0;
}

/* A switch spelt yes or no, in any case. */
static int parse_switch(struct parser *p, const char *value, const char *yes, const char *no,
			bool *out)
{
	if (!strcasecmp(value, yes))
		*out = true;
	else if (!strcasecmp(value, no))
		*out = false;
	else
		return config_fail(p, -EINVAL, p->line, "%s: bad value \"%s\" (%s or %s)",
				   p->opt->name, value, yes, no);
	return 0;
}

static int parse_sandbox(struct parser *p, const char *value)
{
	return parse_switch(p, value, "on", "off", &p->cfg->sandbox);
}

static const struct {
	const char *name;
	unsigned bit;
} offload_kinds[] = {
	{ "tun", CONFIG_OFFLOAD_TUN },
	{ "udp-gso", CONFIG_OFFLOAD_UDP_GSO },
	{ "udp-gro", CONFIG_OFFLOAD_UDP_GRO },
};

const char *config_offload_name(unsigned bit)
{
	for (size_t i = 0; i < sizeof(offload_kinds) / sizeof(offload_kinds[0]); i++)
		if (offload_kinds[i].bit == bit)
			return offload_kinds[i].name;
	return "?";
}

static int parse_offload(struct parser *p, const char *value)
{
	unsigned set = 0;
	const char *s = value;

	if (!strcasecmp(value, "on")) {
		p->cfg->offload = CONFIG_OFFLOAD_ALL;
		return 0;
	}
	if (!strcasecmp(value, "off")) {
		p->cfg->offload = 0;
		return 0;
	}
	while (*s) {
		size_t len = strcspn(s, ", \t"), i;

		for (i = 0; i < sizeof(offload_kinds) / sizeof(offload_kinds[0]); i++)
			if (len == strlen(offload_kinds[i].name) &&
			    !strncasecmp(s, offload_kinds[i].name, len))
				break;
		if (!len || i == sizeof(offload_kinds) / sizeof(offload_kinds[0]))
			return config_fail(p, -EINVAL, p->line,
					   "%s: bad value \"%s\" (on, off, or a list of tun, udp-gso, "
					   "udp-gro)",
					   p->opt->name, value);
		set |= offload_kinds[i].bit;
		s += len;
		s += strspn(s, ", \t");
	}
	p->cfg->offload = set;
	return 0;
}

/* Appends a copy of s[0..len). Returns 0 or -ENOMEM. */
static int list_add(struct config_list *l, const char *s, size_t len)
{
	char **grown, *copy;

	copy = strndup(s, len);
	if (!copy)
		return -ENOMEM;
	grown = realloc(l->items, (l->n + 1) * sizeof(*grown));
	if (!grown) {
		free(copy);
		return -ENOMEM;
	}
	l->items = grown;
	l->items[l->n++] = copy;
	return 0;
}

/* A key sealnetd itself cannot act on now has something to do (see validate()). */
static void note_quick(struct parser *p)
{
	if (!p->quick_line) {
		p->quick_line = p->line;
		p->quick_key = p->opt->name;
	}
}

/* PreUp, PostUp, PreDown, PostDown (the hook is the option's arg): kept as written, in file
 * order; an empty value adds nothing. */
static int parse_hook(struct parser *p, const char *value)
{
	if (!*value)
		return 0;
	note_quick(p);
	if (list_add(&p->cfg->hooks[p->opt->arg], value, strlen(value)))
		return config_fail(p, -ENOMEM, p->line, "out of memory");
	return 0;
}

/* wg-quick's rule: an entry that looks like an address (digits and dots, or holding a ':')
 * is a nameserver, anything else a search domain. We also check that the address is one
 * (an IPv6 one may name its zone after '%'), and that a domain holds nothing resolv.conf
 * would misread. */
static int parse_dns_entry(struct parser *p, const char *s, size_t len)
{
	struct config *c = p->cfg;
	char buf[INET6_ADDRSTRLEN + IFNAMSIZ + 1];
	unsigned char bin[sizeof(struct in6_addr)];
	size_t zone;
	int ret;

	if (strspn(s, "0123456789.") >= len || memchr(s, ':', len)) {
		if (len >= sizeof(buf))
			goto bad_address;
		memcpy(buf, s, len);
		buf[len] = '\0';
		zone = strcspn(buf, "%");
		if (strchr(buf, ':') && buf[zone]) {
			if (!buf[zone + 1] ||
			    strspn(buf + zone + 1, "abcdefghijklmnopqrstuvwxyz"
						   "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
						   "0123456789_.-") != len - zone - 1)
				goto bad_address;
			buf[zone] = '\0';
		}
		if (inet_pton(strchr(buf, ':') ? AF_INET6 : AF_INET, buf, bin) != 1)
			goto bad_address;
		ret = list_add(&c->dns_servers, s, len);
	} else {
		if (len > 253 || s[0] == '-' ||
		    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") <
			    len)
			return config_fail(
				p, -EINVAL, p->line,
				"%s: bad search domain \"%.*s\" (letters, digits, '.', '_', '-')",
				p->opt->name, (int)len, s);
		ret = list_add(&c->dns_search, s, len);
	}
	if (ret)
		return config_fail(p, ret, p->line, "out of memory");
	return 0;

bad_address:
	return config_fail(p, -EINVAL, p->line, "%s: bad nameserver address \"%.*s\"", p->opt->name,
			   (int)len, s);
}

/* Entries are separated by commas and blanks, as wg-quick splits them. */
static int parse_dns(struct parser *p, const char *value)
{
	const char *s = value + strspn(value, ", \t");

	while (*s) {
		size_t len = strcspn(s, ", \t");
		int ret;

		note_quick(p);
		ret = parse_dns_entry(p, s, len);
		if (ret)
			return ret;
		s += len;
		s += strspn(s, ", \t");
	}
	return 0;
}

static int parse_save_config(struct parser *p, const char *value)
{
	int ret = parse_switch(p, value, "true", "false", &p->cfg->save_config);

	if (!ret && p->cfg->save_config)
		note_quick(p);
	return ret;
}

/* Where ip(8) finds the names of routing tables, the first that has one winning (the files
 * in rt_tables.d are not read: a name only there is refused, not guessed). */
static const char *const rt_tables_paths[] = { "/etc/iproute2/rt_tables",
					       "/usr/share/iproute2/rt_tables" };

/* A number as ip(8) reads a table id: decimal or 0x hexadecimal (a leading 0 would be octal
 * to ip and decimal to us, so it is refused rather than read one way). */
static int table_number(const char *s, uint32_t *id)
{
	unsigned long long n;

	if (s[0] == '0' && isdigit((unsigned char)s[1]))
		return -EINVAL;
	if (config_parse_number(s, UINT32_MAX, true, &n) || n == 0)
		return -EINVAL;
	*id = (uint32_t)n;
	return 0;
}

/* Looks name up in an rt_tables file: "ID NAME" lines, '#' comments. Returns 0 with *id,
 * -ENOENT when the name is not there or the file cannot be read. */
static int table_from_file(const char *path, const char *name, uint32_t *id)
{
	char line[256], *number, *word, *save;
	int ret = -ENOENT;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return -ENOENT;
	while (ret && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "#\n")] = '\0';
		number = strtok_r(line, " \t", &save);
		word = number ? strtok_r(NULL, " \t", &save) : NULL;
		if (word && !strcmp(word, name) && !table_number(number, id))
			ret = 0;
	}
	fclose(f);
	return ret;
}

/* auto, off (any case, as wg-quick), or what ip(8) takes after "table": a number or a name,
 * built in or from rt_tables (case-sensitive, as ip reads them). */
static int parse_table(struct parser *p, const char *value)
{
	static const struct {
		const char *name;
		uint32_t id;
	} builtin[] = { { "default", 253 }, { "main", 254 }, { "local", 255 } };
	struct config *c = p->cfg;
	size_t i;

	c->table_id = 0;
	if (!strcasecmp(value, "auto")) {
		c->table_mode = CONFIG_TABLE_AUTO;
		return 0;
	}
	if (!strcasecmp(value, "off")) {
		c->table_mode = CONFIG_TABLE_OFF;
		return 0;
	}
	c->table_mode = CONFIG_TABLE_ID;
	if (isdigit((unsigned char)value[0])) {
		if (!table_number(value, &c->table_id))
			return 0;
		return config_fail(p, -EINVAL, p->line,
				   "%s: bad table \"%s\" (1 to 4294967295, decimal or 0x hexadecimal)",
				   p->opt->name, value);
	}
	for (i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
		if (!strcmp(value, builtin[i].name)) {
			c->table_id = builtin[i].id;
			return 0;
		}
	}
	for (i = 0; i < sizeof(rt_tables_paths) / sizeof(rt_tables_paths[0]); i++)
		if (!table_from_file(rt_tables_paths[i], value, &c->table_id))
			return 0;
	return config_fail(p, -EINVAL, p->line,
			   "%s: bad table \"%s\" (auto, off, a number, main, local, default, or a name "
			   "from %s)",
			   p->opt->name, value, rt_tables_paths[0]);
}

static int parse_public_key(struct parser *p, const char *value)
{
	struct config_peer *peer = current_peer(p);

	if (key_from_base64(peer->public_key, value))
		return bad_key(p, value, false);
	peer->has_public_key = true;
	return 0;
}

static int parse_preshared_key(struct parser *p, const char *value)
{
	struct config_peer *peer = current_peer(p);
	int ret;

	p->has_secret = true;
	ret = one_of_two(p, "PresharedKeyFile");
	if (ret)
		return ret;
	if (key_from_base64(peer->preshared_key, value))
		return bad_key(p, value, true);
	peer->has_preshared_key = true;
	return 0;
}

/* PresharedKeyFile = PATH: as PrivateKeyFile, for this peer's PresharedKey. The key is kept,
 * not the path: a peer's running state (show, SaveConfig) is its key. */
static int parse_preshared_key_file(struct parser *p, const char *value)
{
	struct config_peer *peer = current_peer(p);
	uint8_t *key;
	int ret;

	ret = one_of_two(p, "PresharedKey");
	if (ret)
		return ret;
	key = sodium_malloc(KEY_LEN);
	if (!key)
		return config_fail(p, -ENOMEM, p->line, "out of memory");
	ret = read_key_file(p, value, key);
	if (!ret) {
		memcpy(peer->preshared_key, key, KEY_LEN);
		peer->has_preshared_key = true;
	}
	sodium_free(key);
	return ret;
}

static int parse_allowed_ips(struct parser *p, const char *value)
{
	struct config_peer *peer = current_peer(p);

	/* wg(8) masks host bits without complaint; so do we, and store the masked form. */
	return parse_prefixes(p, value, &peer->allowed_ips, &peer->n_allowed_ips,
			      &p->allowed_ips_cap, true);
}

static int parse_endpoint(struct parser *p, const char *value)
{
	struct config_peer *peer = current_peer(p);
	int ret;

	if (p->no_resolve) {
		/* A numeric endpoint is still read; a host name is kept as text only, but must
		 * at least be HOST:PORT. */
		ret = 0;
		if (addr_parse_endpoint(value, &peer->endpoint)) {
			const char *colon = strrchr(value, ':');
			unsigned long long port;

			memset(&peer->endpoint, 0, sizeof(peer->endpoint));
			if (!colon || colon == value ||
			    config_parse_number(colon + 1, 65535, false, &port) || !port)
				ret = -EINVAL;
		}
	} else {
		ret = addr_resolve_endpoint(value, &peer->endpoint);
	}
	if (ret == -EINVAL)
		return config_fail(p, ret, p->line, "%s: bad endpoint \"%s\"", p->opt->name, value);
	if (ret)
		return config_fail(p, ret, p->line, "%s: cannot resolve \"%s\"", p->opt->name,
				   value);
	peer->endpoint_text = strdup(value);
	if (!peer->endpoint_text)
		return config_fail(p, -ENOMEM, p->line, "out of memory");
	return 0;
}

/* Allow and Deny (arg true). */
static int parse_rule(struct parser *p, const char *value)
{
	struct config *c = p->cfg;
	struct firewall_rule *grown;
	char err[160];

	grown = realloc(c->rules, (c->n_rules + 1) * sizeof(*grown));
	if (!grown)
		return config_fail(p, -ENOMEM, p->line, "out of memory");
	c->rules = grown;
	if (firewall_parse_rule(value, p->opt->arg, &c->rules[c->n_rules], err, sizeof(err)))
		return config_fail(p, -EINVAL, p->line, "%s: %s", p->opt->name, err);
	c->n_rules++;
	return 0;
}

static int parse_groups(struct parser *p, const char *value)
{
	struct config_peer *peer = current_peer(p);
	const char *s = value;

	while (*s) {
		size_t len = strcspn(s, ", \t");
		char name[FIREWALL_GROUP_NAME_MAX];
		bool dup = false;

		if (!len || len >= sizeof(name))
			return config_fail(p, -EINVAL, p->line, "%s: bad group name in \"%s\"",
					   p->opt->name, value);
		memcpy(name, s, len);
		name[len] = '\0';
		if (!firewall_group_name_ok(name))
			return config_fail(p, -EINVAL, p->line,
					   "%s: bad group name \"%s\" (letters, digits, - _ .)",
					   p->opt->name, name);
		for (unsigned i = 0; i < peer->n_groups; i++)
			dup |= !strcmp(peer->groups[i], name);
		if (!dup) {
			if (peer->n_groups == CONFIG_MAX_GROUPS)
				return config_fail(p, -EINVAL, p->line, "%s: more than %d groups",
						   p->opt->name, CONFIG_MAX_GROUPS);
			memcpy(peer->groups[peer->n_groups++], name, len + 1);
		}
		s += len;
		s += strspn(s, ", \t");
	}
	return 0;
}

bool config_name_ok(const char *s)
{
	size_t len = strlen(s);

	if (!len || len >= CONFIG_NAME_MAX)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '"' || *s == '\\')
			return false;
	return true;
}

static int parse_name(struct parser *p, const char *value)
{
	if (!config_name_ok(value))
		return config_fail(p, -EINVAL, p->line,
				   "%s: bad name \"%s\" (1 to %d bytes, no control characters, '\"' or "
				   "'\\')",
				   p->opt->name, value, CONFIG_NAME_MAX - 1);
	snprintf(current_peer(p)->name, CONFIG_NAME_MAX, "%s", value);
	return 0;
}

static int parse_keepalive(struct parser *p, const char *value)
{
	unsigned long long n;

	if (!strcasecmp(value, "off"))
		n = 0;
	else if (config_parse_number(value, 65535, false, &n))
		return config_fail(p, -EINVAL, p->line,
				   "%s: bad interval \"%s\" (off or 0 to 65535)", p->opt->name,
				   value);
	current_peer(p)->persistent_keepalive = (unsigned)n;
	return 0;
}

const struct option config_options[] = {
	{ "PrivateKey", SECTION_INTERFACE, false, parse_private_key, 0 },
	{ "PrivateKeyFile", SECTION_INTERFACE, false, parse_private_key_file, 0 },
	{ "ListenPort", SECTION_INTERFACE, false, parse_listen_port, 0 },
	{ "Address", SECTION_INTERFACE, true, parse_address, 0 },
	{ "MTU", SECTION_INTERFACE, false, parse_mtu, 0 },
	{ "FwMark", SECTION_INTERFACE, false, parse_fwmark, 0 },
	{ "Offload", SECTION_INTERFACE, false, parse_offload, 0 },
	{ "Threads", SECTION_INTERFACE, false, parse_threads, 0 },
	{ "MetricsListen", SECTION_INTERFACE, false, parse_metrics_listen, 0 },
	{ "User", SECTION_INTERFACE, false, parse_user, 0 },
	{ "Sandbox", SECTION_INTERFACE, false, parse_sandbox, 0 },
	{ "DNS", SECTION_INTERFACE, true, parse_dns, 0 },
	{ "Table", SECTION_INTERFACE, false, parse_table, 0 },
	{ "PreUp", SECTION_INTERFACE, true, parse_hook, CONFIG_HOOK_PRE_UP },
	{ "PostUp", SECTION_INTERFACE, true, parse_hook, CONFIG_HOOK_POST_UP },
	{ "PreDown", SECTION_INTERFACE, true, parse_hook, CONFIG_HOOK_PRE_DOWN },
	{ "PostDown", SECTION_INTERFACE, true, parse_hook, CONFIG_HOOK_POST_DOWN },
	{ "SaveConfig", SECTION_INTERFACE, false, parse_save_config, 0 },
	{ "PublicKey", SECTION_PEER, false, parse_public_key, 0 },
	{ "PresharedKey", SECTION_PEER, false, parse_preshared_key, 0 },
	{ "PresharedKeyFile", SECTION_PEER, false, parse_preshared_key_file, 0 },
	{ "AllowedIPs", SECTION_PEER, true, parse_allowed_ips, 0 },
	{ "Endpoint", SECTION_PEER, false, parse_endpoint, 0 },
	{ "PersistentKeepalive", SECTION_PEER, false, parse_keepalive, 0 },
	{ "Groups", SECTION_PEER, true, parse_groups, 0 },
	{ "Name", SECTION_PEER, false, parse_name, 0 },
	{ "Allow", SECTION_INTERFACE, true, parse_rule, false },
	{ "Deny", SECTION_INTERFACE, true, parse_rule, true },
};

#define N_OPTIONS (sizeof(config_options) / sizeof(config_options[0]))
_Static_assert(N_OPTIONS <= MAX_OPTIONS, "raise MAX_OPTIONS");
const size_t config_n_options = N_OPTIONS;

const struct option *config_find_option(const char *name, enum section section)
{
	for (size_t i = 0; i < N_OPTIONS; i++)
		if ((section == SECTION_NONE || config_options[i].section == section) &&
		    !strcasecmp(config_options[i].name, name))
			return &config_options[i];
	return NULL;
}
