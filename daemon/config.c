/* The configuration file, read with Debian's stock inih.
 *
 * That build gives the handler no line number, calls nothing when a section starts, and
 * splits lines over 199 bytes in two without a word. So inih reads through read_line(),
 * which hands it one cleaned line at a time from memory: it counts lines (every message
 * names one), sees every section header (each [Peer] starts a new peer although inih reports
 * the same section name for all of them), and rejects what inih would mangle or report
 * without a reason. Values can be of any length (an AllowedIPs list that leaves out the
 * private ranges is some 500 bytes, a PostUp with iptables rules as long), so read_line()
 * keeps the value itself and hands inih only "Key=": inih never sees a long line, and the
 * value reaches the handler exactly as wg-quick reads it (after '#', blanks trimmed; a ';'
 * in a value is part of it, as `a; b` in a PostUp must be). The handler looks the key up in
 * options[]; each parse_* function checks one value and fills the structs. validate() then
 * checks the rules that span fields, as wireguard-tools' config_read_finish() does. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <pwd.h>
#include <net/if.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "key.h"
#include "log.h"
#include "privdrop.h"
#include "readfile.h"
#include "workers.h"

/* Far above any real configuration; bounds what a mistaken path (a log, a device) costs. */
#define MAX_FILE_SIZE (16u << 20)
#define MAX_OPTIONS 32
#define MIN_MTU 576
#define MIN_MTU_IPV6 1280
/* Where ip(8) finds the names of routing tables, the first that has one winning (the files
 * in rt_tables.d are not read: a name only there is refused, not guessed). */
static const char *const rt_tables_paths[] = { "/etc/iproute2/rt_tables",
					       "/usr/share/iproute2/rt_tables" };

const char *const config_hook_names[CONFIG_HOOK_MAX] = {
	[CONFIG_HOOK_PRE_UP] = "PreUp",
	[CONFIG_HOOK_POST_UP] = "PostUp",
	[CONFIG_HOOK_PRE_DOWN] = "PreDown",
	[CONFIG_HOOK_POST_DOWN] = "PostDown",
};

/* See config_set_quick_runner(). */
static bool quick_runner;

enum section { SECTION_NONE, SECTION_INTERFACE, SECTION_PEER };

static const char *const section_names[] = {
	[SECTION_NONE] = "(none)",
	[SECTION_INTERFACE] = "[Interface]",
	[SECTION_PEER] = "[Peer]",
};

struct option;

struct parser {
	const char *name; /* FILE in messages */
	const char *text;
	size_t len;
	size_t pos;
	int line;
	enum section section;
	int interface_line;       /* of the [Interface] header, 0 before it */
	const struct option *opt; /* the option being parsed, for messages */
	/* The value of the line being parsed, NUL-terminated, in a buffer of value_cap bytes
	 * that grows with the longest line (wiped: it may hold a key). */
	char *value;
	size_t value_cap;
	/* The first key only `sealnet up` and `down` act on, and its line (0: none). */
	const char *quick_key;
	int quick_line;
	/* Line where each option was first seen: in the whole file for [Interface] options, in
	 * the current peer for [Peer] options. */
	int seen_line[MAX_OPTIONS];
	bool has_secret;
	bool no_resolve; /* config_load_unresolved() */
	struct config *cfg;
	size_t peers_cap;
	size_t addresses_cap;
	size_t allowed_ips_cap; /* of the current (last) peer */
	int ret;                /* the first error */
	char *err;
	size_t errlen;
	/* config_check(): each error and warning is kept here, and only running out of memory
	 * ends the parse; bad_section skips the keys under a header that was refused. */
	bool collect, bad_section;
	struct config_issue *issues;
	size_t n_issues, issues_cap;
	/* config_load_step(): read_line() ends the call to inih at this CLOCK_MONOTONIC time
	 * (0: never), between two lines; the next step goes on from there. */
	uint64_t deadline;
	unsigned since_clock;
};

struct option {
	const char *name; /* matched case-insensitively, as wg-quick does */
	enum section section;
	bool repeatable;
	int (*parse)(struct parser *p, const char *value);
	int arg; /* for a parse that serves several keys, which: the hook, a rule that denies */
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct parser *p, int ret, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void warn(struct parser *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Keeps one issue for config_check(); the text is the message config_load() would give. */
static void add_issue(struct parser *p, bool error, int line, const char *msg)
{
	struct config_issue *grown, *i;
	size_t cap = p->issues_cap ? p->issues_cap * 2 : 16;

	if (p->n_issues == p->issues_cap) {
		grown = realloc(p->issues, cap * sizeof(*grown));
		if (!grown) {
			p->ret = -ENOMEM;
			return;
		}
		p->issues = grown;
		p->issues_cap = cap;
	}
	i = &p->issues[p->n_issues++];
	i->error = error;
	i->line = line > 0 ? line : 0;
	if (line > 0)
		snprintf(i->text, sizeof(i->text), "%s:%d: %s", p->name, line, msg);
	else
		snprintf(i->text, sizeof(i->text), "%s: %s", p->name, msg);
}

/* Records the first error only: later ones are usually consequences of it; config_check()
 * keeps them all and goes on. Returns ret. */
static int fail(struct parser *p, int ret, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (p->ret)
		return ret;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->collect && ret != -ENOMEM) {
		add_issue(p, true, line, msg);
		return ret;
	}
	p->ret = ret;
	if (line > 0)
		set_err(p->err, p->errlen, "%s:%d: %s", p->name, line, msg);
	else
		set_err(p->err, p->errlen, "%s: %s", p->name, msg);
	return ret;
}

/* A warning: logged, or kept by config_check(). */
static void warn(struct parser *p, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->collect)
		add_issue(p, false, line, msg);
	else if (line > 0)
		log_warn("%s:%d: %s", p->name, line, msg);
	else
		log_warn("%s: %s", p->name, msg);
}

static int seen_line(const struct parser *p, const char *name);
static bool readable_by_others(mode_t mode);

static struct config_peer *current_peer(struct parser *p)
{
	return &p->cfg->peers[p->cfg->n_peers - 1];
}

/* Like reallocarray(), but the old block is wiped before it is freed, since peers hold
 * preshared keys. Returns the (maybe new) array, or NULL with arr untouched. */
static void *grow(void *arr, size_t *cap, size_t n, size_t size)
{
	size_t newcap = *cap ? *cap * 2 : 4;
	void *new;

	if (n < *cap)
		return arr;
	if (newcap > SIZE_MAX / size)
		return NULL;
	new = calloc(newcap, size);
	if (!new)
		return NULL;
	if (arr) {
		memcpy(new, arr, n * size);
		sodium_memzero(arr, n * size);
		free(arr);
	}
	*cap = newcap;
	return new;
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
			return fail(p, -EINVAL, p->line, "%s: bad key (%zu characters, want %d)",
				    p->opt->name, len, KEY_B64_LEN - 1);
		return fail(p, -EINVAL, p->line, "%s: bad key \"%s\" (%zu characters, want %d)",
			    p->opt->name, value, len, KEY_B64_LEN - 1);
	}
	if (secret)
		return fail(p, -EINVAL, p->line, "%s: bad key (not base64)", p->opt->name);
	return fail(p, -EINVAL, p->line, "%s: bad key \"%s\" (not base64)", p->opt->name, value);
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
			return fail(p, -EINVAL, p->line,
				    "%s: an empty entry in \"%s\" (a comma too many?)",
				    p->opt->name, value);
		if (parse_one_prefix(item, len, &prefix))
			return fail(p, -EINVAL, p->line, "%s: bad prefix \"%.*s\"", p->opt->name,
				    (int)len, item);
		if (mask)
			addr_prefix_mask(&prefix);
		new = grow(*arr, cap, *n, sizeof(**arr));
		if (!new)
			return fail(p, -ENOMEM, p->line, "out of memory");
		*arr = new;
		(*arr)[(*n)++] = prefix;
	}
	return 0;
}

/* PrivateKey and PrivateKeyFile are one setting written two ways, as are PresharedKey and
 * PresharedKeyFile: the other one given too is refused. Returns 0 or fail()'s error. */
static int one_of_two(struct parser *p, const char *other)
{
	int line = seen_line(p, other);

	if (!line)
		return 0;
	return fail(p, -EINVAL, p->line, "%s: %s is given too (line %d): one or the other",
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
		return fail(p, -ENOMEM, p->line, "out of memory");
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
 * opens only the key files named at startup: privdrop.h). Returns 0 or fail()'s error. */
static int read_key_file(struct parser *p, const char *value, uint8_t *key)
{
	bool empty;
	struct stat st;
	int fd, ret;

	if (value[0] != '/')
		return fail(p, -EINVAL, p->line, "%s: \"%s\" is not an absolute path", p->opt->name,
			    value);
	fd = privdrop_open_key(value);
	if (fd < 0)
		return fail(p, fd, p->line, "%s: cannot open \"%s\": %s%s", p->opt->name, value,
			    strerror(-fd), privdrop_open_hint(fd));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(p, -EINVAL, p->line, "%s: \"%s\" is not a regular file", p->opt->name,
			    value);
	}
	if (readable_by_others(st.st_mode))
		warn(p, p->line, "%s: \"%s\" is readable by others (mode %o)", p->opt->name, value,
		     (unsigned)(st.st_mode & 07777));
	ret = key_read_file(fd, key, &empty);
	close(fd);
	if (ret == -EINVAL)
		return fail(p, ret, p->line,
			    "%s: \"%s\" holds no key (one line of 44 base64 characters, as "
			    "`sealnet %s` writes)",
			    p->opt->name, value, p->section == SECTION_PEER ? "genpsk" : "genkey");
	if (ret)
		return fail(p, ret, p->line, "%s: cannot read \"%s\": %s", p->opt->name, value,
			    strerror(-ret));
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
		return fail(p, -ENOMEM, p->line, "out of memory");
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
		return fail(p, -EINVAL, p->line, "%s: bad port \"%s\" (0 to 65535)", p->opt->name,
			    value);
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
		return fail(p, -EINVAL, p->line, "%s: bad MTU \"%s\" (%d to 65535)", p->opt->name,
			    value, MIN_MTU);
	p->cfg->mtu = (unsigned)n;
	return 0;
}

static int parse_fwmark(struct parser *p, const char *value)
{
	unsigned long long n;

	if (!strcasecmp(value, "off"))
		n = 0;
	else if (config_parse_number(value, UINT32_MAX, true, &n))
		return fail(p, -EINVAL, p->line, "%s: bad mark \"%s\" (off or 0 to %u)",
			    p->opt->name, value, UINT32_MAX);
	p->cfg->fwmark = (uint32_t)n;
	return 0;
}

/* Numeric only, unlike Endpoint: a name would be resolved once at startup, and a page of
 * public keys served on an address nobody wrote down is worse than an error. */
static int parse_metrics_listen(struct parser *p, const char *value)
{
	if (addr_parse_endpoint(value, &p->cfg->metrics_listen))
		return fail(p, -EINVAL, p->line,
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
		return fail(p, -EINVAL, p->line,
			    "%s: bad user name \"%s\" (letters, digits, '.', '_', '-', at most 32)",
			    p->opt->name, value);
	user = strdup(value);
	if (!user)
		return fail(p, -ENOMEM, p->line, "out of memory");
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
		return fail(p, -EINVAL, p->line, "%s: bad value \"%s\" (auto or 1 to %d)",
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
		return fail(p, -EINVAL, p->line, "%s: bad value \"%s\" (%s or %s)", p->opt->name,
			    value, yes, no);
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
			return fail(p, -EINVAL, p->line,
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

static void list_free(struct config_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
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
		return fail(p, -ENOMEM, p->line, "out of memory");
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
			return fail(p, -EINVAL, p->line,
				    "%s: bad search domain \"%.*s\" (letters, digits, '.', '_', '-')",
				    p->opt->name, (int)len, s);
		ret = list_add(&c->dns_search, s, len);
	}
	if (ret)
		return fail(p, ret, p->line, "out of memory");
	return 0;

bad_address:
	return fail(p, -EINVAL, p->line, "%s: bad nameserver address \"%.*s\"", p->opt->name,
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
		return fail(p, -EINVAL, p->line,
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
	return fail(p, -EINVAL, p->line,
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
		return fail(p, -ENOMEM, p->line, "out of memory");
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
		return fail(p, ret, p->line, "%s: bad endpoint \"%s\"", p->opt->name, value);
	if (ret)
		return fail(p, ret, p->line, "%s: cannot resolve \"%s\"", p->opt->name, value);
	peer->endpoint_text = strdup(value);
	if (!peer->endpoint_text)
		return fail(p, -ENOMEM, p->line, "out of memory");
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
		return fail(p, -ENOMEM, p->line, "out of memory");
	c->rules = grown;
	if (firewall_parse_rule(value, p->opt->arg, &c->rules[c->n_rules], err, sizeof(err)))
		return fail(p, -EINVAL, p->line, "%s: %s", p->opt->name, err);
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
			return fail(p, -EINVAL, p->line, "%s: bad group name in \"%s\"",
				    p->opt->name, value);
		memcpy(name, s, len);
		name[len] = '\0';
		if (!firewall_group_name_ok(name))
			return fail(p, -EINVAL, p->line,
				    "%s: bad group name \"%s\" (letters, digits, - _ .)",
				    p->opt->name, name);
		for (unsigned i = 0; i < peer->n_groups; i++)
			dup |= !strcmp(peer->groups[i], name);
		if (!dup) {
			if (peer->n_groups == CONFIG_MAX_GROUPS)
				return fail(p, -EINVAL, p->line, "%s: more than %d groups",
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
		return fail(p, -EINVAL, p->line,
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
		return fail(p, -EINVAL, p->line, "%s: bad interval \"%s\" (off or 0 to 65535)",
			    p->opt->name, value);
	current_peer(p)->persistent_keepalive = (unsigned)n;
	return 0;
}

static const struct option options[] = {
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

#define N_OPTIONS (sizeof(options) / sizeof(options[0]))
_Static_assert(N_OPTIONS <= MAX_OPTIONS, "raise MAX_OPTIONS");

static const struct option *find_option(const char *name, enum section section)
{
	for (size_t i = 0; i < N_OPTIONS; i++)
		if ((section == SECTION_NONE || options[i].section == section) &&
		    !strcasecmp(options[i].name, name))
			return &options[i];
	return NULL;
}

/* The ini_handler. inih's section argument is ignored: read_line() knows better, since
 * inih cannot tell one [Peer] from the next; so is its value, always empty: read_line()
 * kept the real one in p->value. */
static int handle(void *user, const char *section, const char *name, const char *ini_value)
{
	struct parser *p = user;
	const char *value = p->value;
	const struct option *opt;
	size_t i;

	if (p->ret)
		return 0;
	if (p->bad_section)
		return 1;
	if (p->section == SECTION_NONE) {
		fail(p, -EINVAL, p->line, "%s: key before any section", name);
		return p->collect;
	}
	opt = find_option(name, p->section);
	if (!opt) {
		opt = find_option(name, SECTION_NONE);
		if (opt)
			fail(p, -EINVAL, p->line, "%s: key belongs in %s, not %s", opt->name,
			     section_names[opt->section], section_names[p->section]);
		else
			fail(p, -EINVAL, p->line, "%s: unknown key in %s", name,
			     section_names[p->section]);
		return p->collect;
	}
	i = (size_t)(opt - options);
	if (p->seen_line[i] && !opt->repeatable) {
		fail(p, -EINVAL, p->line, "%s: duplicate key (first on line %d)", opt->name,
		     p->seen_line[i]);
		return p->collect;
	}
	if (!p->seen_line[i])
		p->seen_line[i] = p->line;
	p->opt = opt;
	return opt->parse(p, value) == 0 || p->collect;
}

static int seen_line(const struct parser *p, const char *name)
{
	const struct option *opt = find_option(name, SECTION_NONE);

	return opt ? p->seen_line[opt - options] : 0;
}

static int start_peer(struct parser *p)
{
	struct config *c = p->cfg;
	struct config_peer *peers;

	peers = grow(c->peers, &p->peers_cap, c->n_peers, sizeof(*peers));
	if (!peers)
		return fail(p, -ENOMEM, p->line, "out of memory");
	c->peers = peers;
	c->peers[c->n_peers++].line = p->line;
	p->allowed_ips_cap = 0;
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (options[i].section == SECTION_PEER)
			p->seen_line[i] = 0;
	return 0;
}

static bool token_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && !strncasecmp(s, word, len);
}

/* s[0..len) is a trimmed "[...]" line. */
static int start_section(struct parser *p, const char *s, size_t len)
{
	const char *name = s + 1, *end = s + len - 1;

	if (len < 2 || *end != ']')
		return fail(p, -EINVAL, p->line, "bad section header \"%.*s\"", (int)len, s);
	while (name < end && isspace((unsigned char)*name))
		name++;
	while (end > name && isspace((unsigned char)end[-1]))
		end--;
	if (token_is(name, (size_t)(end - name), "Interface")) {
		/* wg-quick would merge them; one of them is almost surely a mistake. */
		if (p->interface_line)
			return fail(p, -EINVAL, p->line,
				    "[Interface]: a second one (the first is on line %d)",
				    p->interface_line);
		p->interface_line = p->line;
		p->section = SECTION_INTERFACE;
		return 0;
	}
	if (token_is(name, (size_t)(end - name), "Peer")) {
		p->section = SECTION_PEER;
		return start_peer(p);
	}
	return fail(p, -EINVAL, p->line, "unknown section \"%.*s\"", (int)len, s);
}

/* Copies s[0..len) into p->value. Returns 0 or -ENOMEM. */
static int keep_value(struct parser *p, const char *s, size_t len)
{
	char *grown;
	size_t cap = p->value_cap ? p->value_cap : 256;

	while (cap <= len)
		cap *= 2;
	if (cap != p->value_cap) {
		/* Not realloc: the old buffer may hold a key and is wiped. */
		grown = malloc(cap);
		if (!grown)
			return -ENOMEM;
		if (p->value) {
			sodium_memzero(p->value, p->value_cap);
			free(p->value);
		}
		p->value = grown;
		p->value_cap = cap;
	}
	memcpy(p->value, s, len);
	p->value[len] = '\0';
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* After a refused line: the end of the parse, or for config_check() an empty line. */
static char *skip_line(struct parser *p, char *str)
{
	if (p->ret)
		return NULL;
	str[0] = '\0';
	return str;
}

/* The ini_reader: fgets() over p->text, but one call per line of the file whatever its
 * length, with '#' comments and surrounding blanks removed. Leading blanks must go anyway:
 * inih would take an indented line for the continuation of the previous value. Section
 * headers are rewritten in their canonical form, and a "Key = Value" line becomes "Key=",
 * its value kept in p->value. Returns NULL at the end or on error. */
static char *read_line(char *str, int num, void *stream)
{
	struct parser *p = stream;
	const char *s, *end, *nl, *hash, *eq, *key_end, *value;
	size_t len;

	/* inih's buffer still holds the previous line: a key name at most, now. */
	sodium_memzero(str, (size_t)num);
	if (p->ret || p->pos >= p->len)
		return NULL;
	/* Looking at the clock costs less than a line, but not nothing. */
	if (p->deadline && ++p->since_clock >= 16) {
		p->since_clock = 0;
		if (now_ns() >= p->deadline)
			return NULL;
	}
	s = p->text + p->pos;
	nl = memchr(s, '\n', p->len - p->pos);
	end = nl ? nl : p->text + p->len;
	p->pos = (size_t)(end - p->text) + (nl ? 1 : 0);
	p->line++;

	if (memchr(s, '\0', (size_t)(end - s))) {
		fail(p, -EINVAL, p->line, "NUL byte in line");
		return skip_line(p, str);
	}
	if (p->line == 1 && end - s >= 3 && !memcmp(s, "\xef\xbb\xbf", 3))
		s += 3;
	hash = memchr(s, '#', (size_t)(end - s));
	if (hash)
		end = hash;
	while (s < end && isspace((unsigned char)*s))
		s++;
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	len = (size_t)(end - s);

	if (len == 0 || *s == ';') {
		str[0] = '\0';
		return str;
	}
	if (*s == '[') {
		p->bad_section = false;
		if (start_section(p, s, len)) {
			p->bad_section = true;
			return skip_line(p, str);
		}
		snprintf(str, (size_t)num, "%s", section_names[p->section]);
		return str;
	}
	/* inih would also split at ':' (and at an inline ';' comment before '='), or report
	 * a bare line only by its number. */
	eq = memchr(s, '=', len);
	if (!eq || eq == s || memchr(s, ':', (size_t)(eq - s)) ||
	    memchr(s, ';', (size_t)(eq - s))) {
		fail(p, -EINVAL, p->line, "expected \"Key = Value\" or \"[Section]\"");
		return skip_line(p, str);
	}
	for (key_end = eq; isspace((unsigned char)key_end[-1]);)
		key_end--;
	for (value = eq + 1; value < end && isspace((unsigned char)*value);)
		value++;
	/* No key is this long: the handler would only say so. */
	if (key_end - s + 2 > num) {
		fail(p, -EINVAL, p->line, "%.32s...: unknown key in %s", s,
		     section_names[p->section]);
		return skip_line(p, str);
	}
	if (keep_value(p, value, (size_t)(end - value))) {
		fail(p, -ENOMEM, p->line, "out of memory");
		return NULL;
	}
	memcpy(str, s, (size_t)(key_end - s));
	str[key_end - s] = '=';
	str[key_end - s + 1] = '\0';
	return str;
}

static bool has_ipv6_address(const struct config *c)
{
	for (size_t i = 0; i < c->n_addresses; i++)
		if (c->addresses[i].addr.family == AF_INET6)
			return true;
	return false;
}

static void free_peer(struct config_peer *peer)
{
	free(peer->allowed_ips);
	free(peer->endpoint_text);
	sodium_memzero(peer, sizeof(*peer));
}

/* Where a key is in a table of peer indexes (open addressing, n_slots a power of two):
 * the slot that holds it, or the empty slot it would go to. Keys are points on the curve,
 * spread evenly: their first bytes make a good enough hash. */
static size_t key_slot(const struct config *c, const size_t *slots, size_t n_slots,
		       const uint8_t *key)
{
	uint64_t h;
	size_t s;

	memcpy(&h, key, sizeof(h));
	for (s = (size_t)(h * 0x9e3779b97f4a7c15ULL >> 32) & (n_slots - 1); slots[s];
	     s = (s + 1) & (n_slots - 1))
		if (key_equal(c->peers[slots[s] - 1].public_key, key))
			break;
	return s;
}

/* Peer rules name the line of the [Peer] header. A PublicKey twice names the first peer
 * that has it; found through a table of the keys seen so far, since a cluster's file has
 * thousands of peers, and comparing every pair took seconds on the loop of a reload. */
static void validate_peers(struct parser *p)
{
	const struct config *c = p->cfg;
	size_t n_slots = 16, *slots;
	char b64[KEY_B64_LEN];

	while (n_slots < 2 * c->n_peers)
		n_slots *= 2;
	slots = calloc(n_slots, sizeof(*slots)); /* peer index + 1, 0 = empty */
	if (!slots) {
		fail(p, -ENOMEM, 0, "out of memory");
		return;
	}
	for (size_t i = 0; i < c->n_peers && !p->ret; i++) {
		const struct config_peer *peer = &c->peers[i];
		size_t s;

		if (!peer->has_public_key)
			continue;
		s = key_slot(c, slots, n_slots, peer->public_key);
		if (!slots[s]) {
			slots[s] = i + 1;
			continue;
		}
		key_to_base64(b64, peer->public_key);
		fail(p, -EINVAL, peer->line,
		     "[Peer]: PublicKey \"%s\" duplicates the peer on line %d", b64,
		     c->peers[slots[s] - 1].line);
	}
	free(slots);
}

/* A peer list shared by a whole mesh holds every node, this one too. WireGuard ignores a
 * peer with the interface's own public key; so do we, saying so. */
static void skip_own_peers(struct parser *p)
{
	struct config *c = p->cfg;
	char b64[KEY_B64_LEN];
	uint8_t own[KEY_LEN];
	size_t i = 0;

	if (!c->private_key || key_public_from_private(own, c->private_key))
		return;
	while (i < c->n_peers) {
		struct config_peer *peer = &c->peers[i];

		if (!key_equal(peer->public_key, own)) {
			i++;
			continue;
		}
		key_to_base64(b64, peer->public_key);
		if (p->collect)
			warn(p, peer->line,
			     "[Peer] %s has this interface's own public key: left out, as WireGuard "
			     "does",
			     b64);
		else
			log_notice("%s:%d: [Peer] %s has this interface's own public key: left out, "
				   "as WireGuard does",
				   p->name, peer->line, b64);
		free_peer(peer);
		memmove(peer, peer + 1, (c->n_peers - i - 1) * sizeof(*peer));
		c->n_peers--;
		sodium_memzero(&c->peers[c->n_peers], sizeof(*peer));
	}
	sodium_memzero(own, sizeof(own));
}

/* What is legal but most likely a mistake, for config_check(): a peer no traffic can reach,
 * and a prefix given to two peers (WireGuard hands it to the later one without a word). */
static void warn_peers(struct parser *p)
{
	const struct config *c = p->cfg;
	char buf[ADDR_STRLEN];

	for (size_t i = 0; i < c->n_peers; i++) {
		const struct config_peer *peer = &c->peers[i];

		if (!peer->n_allowed_ips)
			warn(p, peer->line, "[Peer]: no AllowedIPs: nothing will be sent to it");
		for (size_t j = 0; j < peer->n_allowed_ips; j++)
			for (size_t k = i + 1; k < c->n_peers; k++)
				for (size_t m = 0; m < c->peers[k].n_allowed_ips; m++)
					if (addr_prefix_equal(&peer->allowed_ips[j],
							      &c->peers[k].allowed_ips[m]))
						warn(p, c->peers[k].line,
						     "[Peer]: AllowedIPs %s is also the peer's on line "
						     "%d: this later peer takes it",
						     addr_prefix_str(&peer->allowed_ips[j], buf),
						     peer->line);
	}
}

/* The rules that span fields, as wireguard-tools' config_read_finish(). Duplicate keys are
 * caught earlier, in handle(), where the line of each is known. */
static int validate(struct parser *p)
{
	const struct config *c = p->cfg;
	bool keyless = false;

	if (c->mtu < MIN_MTU_IPV6 && has_ipv6_address(c))
		fail(p, -EINVAL, seen_line(p, "MTU"),
		     "MTU: \"%u\" too small with an IPv6 Address (at least %d)", c->mtu,
		     MIN_MTU_IPV6);
	for (size_t i = 0; i < c->n_peers && !p->ret; i++) {
		if (!c->peers[i].has_public_key) {
			fail(p, -EINVAL, c->peers[i].line, "[Peer]: no PublicKey");
			keyless = true;
		}
	}
	if (p->ret)
		return p->ret;
	skip_own_peers(p);
	validate_peers(p);
	if (p->collect && !keyless)
		warn_peers(p);
	/* sealnetd runs no commands and writes no file: a hook it was given would never run,
	 * and a tunnel whose PostUp sets its key would come up keyless with rc 0. */
	if (p->quick_line && !quick_runner)
		fail(p, -EINVAL, p->quick_line,
		     "%s: acted on by `sealnet up` and `down`, not by sealnetd: bring this "
		     "file up with `sealnet up` (sealnetd -q says the caller runs PreUp, "
		     "PostUp, PreDown, PostDown, DNS and SaveConfig)",
		     p->quick_key);
	return p->ret;
}

/* The start of a parse of p->text: p->cfg with the defaults. */
static int parser_begin(struct parser *p)
{
	set_err(p->err, p->errlen, "%s", "");
	/* Idempotent; needed before sodium_malloc(). */
	if (sodium_init() < 0)
		return fail(p, -ENOMEM, 0, "cannot initialize libsodium");
	p->cfg = calloc(1, sizeof(*p->cfg));
	if (!p->cfg)
		return fail(p, -ENOMEM, 0, "out of memory");
	p->cfg->mtu = CONFIG_DEFAULT_MTU;
	p->cfg->offload = CONFIG_OFFLOAD_ALL;
	p->cfg->sandbox = true;
	return 0;
}

/* The lines from p->pos on, up to p->deadline if set: true once the last has been read (or
 * the parse failed). inih keeps nothing from one call to the next that matters here: the
 * section is p->section, and read_line() never hands it a continuation line. */
static bool parser_lines(struct parser *p)
{
	int base = p->line, ret;

	ret = ini_parse_stream(read_line, p, handle, p);
	/* read_line() screens out what inih itself rejects; these are for safety. inih counts
	 * the lines of this call, one per read_line(). */
	if (ret > 0 && !p->collect)
		fail(p, -EINVAL, base + ret, "syntax error");
	else if (ret < 0)
		fail(p, -ENOMEM, 0, "out of memory");
	return p->ret || p->pos >= p->len;
}

/* The end of a parse: validation; p->cfg NULL on failure. Returns p->ret. */
static int parser_end(struct parser *p)
{
	if (!p->ret)
		validate(p);
	if (p->value) {
		sodium_memzero(p->value, p->value_cap);
		free(p->value);
		p->value = NULL;
	}
	if (p->ret) {
		config_free(p->cfg);
		p->cfg = NULL;
	}
	return p->ret;
}

/* Parses p->text: fills p->cfg (NULL on failure), p->issues with collect. Returns p->ret. */
static int run_parser(struct parser *p)
{
	if (!parser_begin(p))
		parser_lines(p);
	return parser_end(p);
}

/* text[0..len) need not be NUL-terminated. *has_secret tells whether a PrivateKey or
 * PresharedKey was read, even when parsing failed. */
static int parse(const char *text, size_t len, const char *name, struct config **out, char *err,
		 size_t errlen, bool *has_secret, bool no_resolve)
{
	struct parser p = {
		.name = name ? name : "(config)",
		.no_resolve = no_resolve,
		.text = text,
		.len = len,
		.err = err,
		.errlen = errlen,
	};
	int ret = run_parser(&p);

	if (has_secret)
		*has_secret = p.has_secret;
	*out = p.cfg;
	return ret;
}

void config_set_quick_runner(bool caller_runs_them)
{
	quick_runner = caller_runs_them;
}

int config_parse_string(const char *text, const char *name, struct config **out, char *err,
			size_t errlen)
{
	return parse(text, strlen(text), name, out, err, errlen, NULL, false);
}

/* Reads until EOF, so that pipes (wg-quick's `<(...)` habit) work too. Every buffer given
 * up is wiped: the text holds the private key. */
static int read_all(int fd, size_t size_hint, char **out, size_t *outlen)
{
	char *buf = NULL, *new;
	size_t len = 0, cap = 0;
	/* A file's size known, one buffer a byte longer (to see the end) rather than copies
	 * of copies: a file of 20,000 peers is 4 MB, and a reload reads it on the event loop. */
	size_t first = size_hint && size_hint < MAX_FILE_SIZE ? size_hint + 1 : 4096;
	int ret;

	for (;;) {
		if (len == cap) {
			if (cap >= MAX_FILE_SIZE) {
				ret = -EFBIG;
				goto fail_buf;
			}
			new = malloc(cap ? cap * 2 : first);
			if (!new) {
				ret = -ENOMEM;
				goto fail_buf;
			}
			if (buf) {
				memcpy(new, buf, len);
				sodium_memzero(buf, cap);
				free(buf);
			}
			buf = new;
			cap = cap ? cap * 2 : first;
		}
		ret = readfile_fill(fd, buf, cap, &len);
		if (ret < 0)
			goto fail_buf;
		if (ret)
			break;
	}
	*out = buf;
	*outlen = len;
	return 0;

fail_buf:
	if (buf)
		sodium_memzero(buf, len);
	free(buf);
	return ret;
}

/* The whole file into *text (the caller wipes and frees it), its mode into *mode. */
static int read_file(const char *path, char **text, size_t *len, mode_t *mode, char *err,
		     size_t errlen)
{
	struct stat st;
	int fd, ret;

	/* After the privilege drop, through the helper that still may. */
	fd = privdrop_open_config(path);
	if (fd < 0) {
		set_err(err, errlen, "%s: cannot open: %s%s", path, strerror(-fd),
			privdrop_open_hint(fd));
		return fd;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		set_err(err, errlen, "%s: cannot stat: %s", path, strerror(-ret));
		goto out_close;
	}
	*mode = st.st_mode;
	ret = read_all(fd, S_ISREG(st.st_mode) ? (size_t)st.st_size : 0, text, len);
	if (ret)
		set_err(err, errlen, "%s: cannot read: %s", path, strerror(-ret));
out_close:
	close(fd);
	return ret;
}

static bool readable_by_others(mode_t mode)
{
	return S_ISREG(mode) && (mode & (S_IRGRP | S_IROTH));
}

/* What a load says once parsed: a key readable by others, no PrivateKey. */
static void load_notes(const char *path, int ret, const struct config *c, bool has_secret,
		       mode_t mode)
{
	if (has_secret && readable_by_others(mode))
		log_warn("%s: private key file is readable by others (mode %o)", path,
			 (unsigned)(mode & 07777));
	/* Legal, as for wg(8), but silent otherwise until someone wonders why nothing works. */
	if (!ret && !c->private_key)
		log_warn("%s: no PrivateKey: the interface will not handshake until one is set "
			 "(`wg set IFACE private-key FILE`, by hand or in a PostUp)",
			 path);
}

static int load(const char *path, struct config **out, char *err, size_t errlen, bool no_resolve)
{
	char *text = NULL;
	size_t len = 0;
	bool has_secret = false;
	mode_t mode = 0;
	int ret;

	*out = NULL;
	ret = read_file(path, &text, &len, &mode, err, errlen);
	if (ret)
		return ret;
	ret = parse(text, len, path, out, err, errlen, &has_secret, no_resolve);
	load_notes(path, ret, *out, has_secret, mode);
	sodium_memzero(text, len);
	free(text);
	return ret;
}

struct config_loader {
	struct parser p;
	char *path, *text;
	size_t len, cap;
	int fd; /* until the whole file is read, else -1 */
	mode_t mode;
	bool begun;
	size_t sections; /* lines that start with '[' */
	char err[640];
};

void config_load_free(struct config_loader *l)
{
	if (!l)
		return;
	if (l->fd >= 0)
		close(l->fd);
	if (l->p.value) {
		sodium_memzero(l->p.value, l->p.value_cap);
		free(l->p.value);
	}
	config_free(l->p.cfg);
	if (l->text) {
		sodium_memzero(l->text, l->cap);
		free(l->text);
	}
	free(l->path);
	free(l);
}

int config_load_start(const char *path, struct config_loader **out, char *err, size_t errlen)
{
	struct config_loader *l = calloc(1, sizeof(*l));
	struct stat st;
	int ret;

	*out = NULL;
	if (!l || !(l->path = strdup(path))) {
		free(l);
		set_err(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	/* After the privilege drop, through the helper that still may. */
	l->fd = privdrop_open_config(path);
	if (l->fd < 0) {
		ret = l->fd;
		set_err(err, errlen, "%s: cannot open: %s%s", path, strerror(-ret),
			privdrop_open_hint(ret));
		goto fail;
	}
	if (fstat(l->fd, &st) < 0) {
		ret = -errno;
		set_err(err, errlen, "%s: cannot stat: %s", path, strerror(-ret));
		goto fail;
	}
	l->mode = st.st_mode;
	/* A byte more than the size, to see the end without growing. */
	l->cap = S_ISREG(st.st_mode) && (size_t)st.st_size < MAX_FILE_SIZE ? (size_t)st.st_size + 1
									   : 4096;
	l->text = malloc(l->cap);
	if (!l->text) {
		ret = -ENOMEM;
		set_err(err, errlen, "%s: cannot read: %s", path, strerror(-ret));
		goto fail;
	}
	l->p.name = l->path;
	l->p.err = l->err;
	l->p.errlen = sizeof(l->err);
	*out = l;
	return 0;
fail:
	config_load_free(l);
	return ret;
}

/* The file read on, 256 KiB at a time, until its end (1) or the deadline (0), or -errno. */
static int load_read(struct config_loader *l)
{
	char *grown;
	int ret;

	for (;;) {
		if (l->len == l->cap) {
			if (l->cap >= MAX_FILE_SIZE)
				return -EFBIG;
			grown = malloc(l->cap * 2);
			if (!grown)
				return -ENOMEM;
			memcpy(grown, l->text, l->len);
			sodium_memzero(l->text, l->cap);
			free(l->text);
			l->text = grown;
			l->cap *= 2;
		}
		ret = readfile_fill(l->fd, l->text,
				    l->cap - l->len < (256u << 10) ? l->cap : l->len + (256u << 10),
				    &l->len);
		if (ret < 0)
			return ret;
		if (ret)
			break;
		if (l->p.deadline && now_ns() >= l->p.deadline)
			return 0;
	}
	close(l->fd);
	l->fd = -1;
	/* Room for a peer per section header, made at once: growing it later copies it whole,
	 * 10 ms in one turn at 20,000 peers. */
	for (const char *t = l->text, *end = t + l->len; t < end; t++) {
		while (t < end && (*t == ' ' || *t == '\t'))
			t++;
		l->sections += t < end && *t == '[';
		t = memchr(t, '\n', (size_t)(end - t));
		if (!t)
			break;
	}
	l->p.text = l->text;
	l->p.len = l->len;
	return 1;
}

int config_load_step(struct config_loader *l, uint64_t budget_ns, struct config **out, char *err,
		     size_t errlen)
{
	struct parser *p = &l->p;
	int ret;

	*out = NULL;
	p->deadline = budget_ns ? now_ns() + budget_ns : 0;
	if (l->fd >= 0) {
		ret = load_read(l);
		if (ret < 0) {
			set_err(err, errlen, "%s: cannot read: %s", l->path, strerror(-ret));
			return ret;
		}
		if (!ret)
			return 1;
	}
	if (!l->begun) {
		l->begun = true;
		if (parser_begin(p))
			goto end;
		if (l->sections) {
			p->cfg->peers = calloc(l->sections, sizeof(*p->cfg->peers));
			if (!p->cfg->peers) {
				fail(p, -ENOMEM, 0, "out of memory");
				goto end;
			}
			p->peers_cap = l->sections;
		}
	}
	if (!parser_lines(p))
		return 1;
end:
	ret = parser_end(p);
	load_notes(l->path, ret, p->cfg, p->has_secret, l->mode);
	set_err(err, errlen, "%s", l->err);
	*out = p->cfg;
	p->cfg = NULL;
	return ret;
}

static int compare_issues(const void *a, const void *b)
{
	const struct config_issue *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int config_check(const char *path, struct config_issue **out, size_t *n, char *err, size_t errlen)
{
	struct parser p = {
		.name = path,
		.no_resolve = true,
		.collect = true,
	};
	mode_t mode = 0;
	char *text = NULL;
	int ret, line;

	*out = NULL;
	*n = 0;
	ret = read_file(path, &text, &p.len, &mode, err, errlen);
	if (ret)
		return ret;
	p.text = text;
	run_parser(&p);
	if (p.has_secret && readable_by_others(mode))
		warn(&p, 0, "private key file is readable by others (mode %o)",
		     (unsigned)(mode & 07777));
	if (p.cfg && !p.cfg->private_key && !seen_line(&p, "PrivateKeyFile"))
		warn(&p, 0, "no PrivateKey: the interface will not handshake until one is set");
	/* What sealnetd would find only at startup. */
	if (p.cfg && p.cfg->user && !getpwnam(p.cfg->user)) {
		line = seen_line(&p, "User");
		fail(&p, -EINVAL, line, "User: no such user \"%s\"", p.cfg->user);
	}
	config_free(p.cfg);
	sodium_memzero(text, p.len);
	free(text);
	if (p.ret) {
		set_err(err, errlen, "%s: %s", path, strerror(-p.ret));
		free(p.issues);
		return p.ret;
	}
	/* Items with the same line keep the order they were found in. */
	for (size_t i = 0; i < p.n_issues; i++)
		p.issues[i].seq = i;
	if (p.n_issues) /* a file without a word to say has no array at all */
		qsort(p.issues, p.n_issues, sizeof(*p.issues), compare_issues);
	*out = p.issues;
	*n = p.n_issues;
	return 0;
}

int config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	return load(path, out, err, errlen, false);
}

int config_load_unresolved(const char *path, struct config **out, char *err, size_t errlen)
{
	return load(path, out, err, errlen, true);
}

void config_free(struct config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_peers; i++)
		free_peer(&c->peers[i]);
	free(c->peers);
	free(c->addresses);
	free(c->user);
	free(c->private_key_file);
	free(c->rules);
	for (int h = 0; h < CONFIG_HOOK_MAX; h++)
		list_free(&c->hooks[h]);
	list_free(&c->dns_servers);
	list_free(&c->dns_search);
	sodium_free(c->private_key);
	free(c);
}

/* --- writing a file back (SaveConfig) --- */

/* A growing text that holds a private key: every buffer given up is wiped. A failed append
 * leaves ret set and makes the later ones do nothing. */
struct text {
	char *buf;
	size_t len, cap;
	int ret;
};

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	size_t cap;
	char *grown;
	int n;

	if (t->ret)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? t->cap - t->len : 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		t->ret = -EINVAL;
		return;
	}
	if (t->buf && t->len + (size_t)n < t->cap) {
		t->len += (size_t)n;
		return;
	}
	for (cap = t->cap ? t->cap : 1024; cap <= t->len + (size_t)n;)
		cap *= 2;
	grown = malloc(cap);
	if (!grown) {
		t->ret = -ENOMEM;
		return;
	}
	if (t->buf) {
		memcpy(grown, t->buf, t->len);
		sodium_memzero(t->buf, t->cap);
		free(t->buf);
	}
	t->buf = grown;
	t->cap = cap;
	va_start(ap, fmt);
	vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

static void add_key(struct text *t, const char *name, const uint8_t *key)
{
	char b64[KEY_B64_LEN];

	key_to_base64(b64, key);
	add(t, "%s = %s\n", name, b64);
	sodium_memzero(b64, sizeof(b64));
}

/* One "Key = a, b, c" line of the items of both lists (b may be NULL), or none. */
static void add_list(struct text *t, const char *key, const struct config_list *a,
		     const struct config_list *b)
{
	const struct config_list *lists[] = { a, b };
	bool first = true;

	for (int l = 0; l < 2; l++) {
		for (size_t i = 0; lists[l] && i < lists[l]->n; i++) {
			if (first)
				add(t, "%s = %s", key, lists[l]->items[i]);
			else
				add(t, ", %s", lists[l]->items[i]);
			first = false;
		}
	}
	if (!first)
		add(t, "\n");
}

static void format_interface(struct text *t, const struct config *c)
{
	char buf[ADDR_STRLEN];

	add(t, "[Interface]\n");
	if (c->private_key_file)
		add(t, "PrivateKeyFile = %s\n", c->private_key_file);
	else if (c->private_key)
		add_key(t, "PrivateKey", c->private_key);
	if (c->listen_port)
		add(t, "ListenPort = %u\n", c->listen_port);
	if (c->fwmark)
		add(t, "FwMark = 0x%x\n", c->fwmark);
	for (size_t i = 0; i < c->n_addresses; i++)
		add(t, "Address = %s\n", addr_prefix_str(&c->addresses[i], buf));
	if (c->mtu != CONFIG_DEFAULT_MTU)
		add(t, "MTU = %u\n", c->mtu);
	add_list(t, "DNS", &c->dns_servers, &c->dns_search);
	if (c->table_mode == CONFIG_TABLE_OFF)
		add(t, "Table = off\n");
	else if (c->table_mode == CONFIG_TABLE_ID)
		add(t, "Table = %u\n", c->table_id);
	if (c->save_config)
		add(t, "SaveConfig = true\n");
	for (int h = 0; h < CONFIG_HOOK_MAX; h++)
		for (size_t i = 0; i < c->hooks[h].n; i++)
			add(t, "%s = %s\n", config_hook_names[h], c->hooks[h].items[i]);
	if (c->offload != CONFIG_OFFLOAD_ALL) {
		add(t, "Offload = %s", c->offload ? "" : "off");
		add(t, "%s", c->offload & CONFIG_OFFLOAD_TUN ? "tun " : "");
		add(t, "%s", c->offload & CONFIG_OFFLOAD_UDP_GSO ? "udp-gso " : "");
		add(t, "%s", c->offload & CONFIG_OFFLOAD_UDP_GRO ? "udp-gro " : "");
		if (t->buf && t->buf[t->len - 1] == ' ')
			t->len--;
		add(t, "\n");
	}
	if (c->threads)
		add(t, "Threads = %u\n", c->threads);
	if (c->metrics_listen.sa.sa_family)
		add(t, "MetricsListen = %s\n", addr_endpoint_str(&c->metrics_listen, buf));
	if (c->user)
		add(t, "User = %s\n", c->user);
	if (!c->sandbox)
		add(t, "Sandbox = off\n");
	/* The normalised text starts with the verb, the key of its line. */
	for (size_t i = 0; i < c->n_rules; i++)
		add(t, "%s = %s\n", c->rules[i].deny ? "Deny" : "Allow",
		    c->rules[i].text + strcspn(c->rules[i].text, " ") + 1);
}

static void format_peer(struct text *t, const struct config_peer *peer)
{
	char buf[ADDR_STRLEN];

	add(t, "\n[Peer]\n");
	if (peer->name[0])
		add(t, "Name = %s\n", peer->name);
	add_key(t, "PublicKey", peer->public_key);
	if (peer->has_preshared_key)
		add_key(t, "PresharedKey", peer->preshared_key);
	for (size_t i = 0; i < peer->n_allowed_ips; i++)
		add(t, "%s%s",
		    i ? ", " : "AllowedIPs = ", addr_prefix_str(&peer->allowed_ips[i], buf));
	if (peer->n_allowed_ips)
		add(t, "\n");
	if (peer->endpoint_text)
		add(t, "Endpoint = %s\n", peer->endpoint_text);
	else if (peer->endpoint.sa.sa_family)
		add(t, "Endpoint = %s\n", addr_endpoint_str(&peer->endpoint, buf));
	if (peer->persistent_keepalive)
		add(t, "PersistentKeepalive = %u\n", peer->persistent_keepalive);
	for (unsigned i = 0; i < peer->n_groups; i++)
		add(t, "%s%s", i ? ", " : "Groups = ", peer->groups[i]);
	if (peer->n_groups)
		add(t, "\n");
}

int config_format(const struct config *c, char **out, size_t *len)
{
	struct text t = { 0 };

	*out = NULL;
	format_interface(&t, c);
	for (size_t i = 0; i < c->n_peers; i++)
		format_peer(&t, &c->peers[i]);
	if (t.ret) {
		if (t.buf)
			sodium_memzero(t.buf, t.cap);
		free(t.buf);
		return t.ret;
	}
	*out = t.buf;
	*len = t.len;
	return 0;
}
