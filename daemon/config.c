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
 * config_options[], whose parse_* functions (config_option.c) check one value each and
 * fill the structs. validate() then checks the rules that span fields, as wireguard-tools'
 * config_read_finish() does. Reading files is config_load.c's; writing one,
 * config_format.c's. */
#include "config_priv.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "key.h"
#include "log.h"

/* See config_set_quick_runner(). */
static bool quick_runner;

void config_set_quick_runner(bool caller_runs_them)
{
	quick_runner = caller_runs_them;
}

static const char *const section_names[] = {
	[SECTION_NONE] = "(none)",
	[SECTION_INTERFACE] = "[Interface]",
	[SECTION_PEER] = "[Peer]",
};

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
int config_fail(struct parser *p, int ret, int line, const char *fmt, ...)
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
		log_errbuf(p->err, p->errlen, 0, "%s:%d: %s", p->name, line, msg);
	else
		log_errbuf(p->err, p->errlen, 0, "%s: %s", p->name, msg);
	return ret;
}

/* A warning: logged, or kept by config_check(). */
void config_warn(struct parser *p, int line, const char *fmt, ...)
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

/* Like reallocarray(), but the old block is wiped before it is freed, since peers hold
 * preshared keys. Returns the (maybe new) array, or NULL with arr untouched. */
void *config_grow(void *arr, size_t *cap, size_t n, size_t size)
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
		config_fail(p, -EINVAL, p->line, "%s: key before any section", name);
		return p->collect;
	}
	opt = config_find_option(name, p->section);
	if (!opt) {
		opt = config_find_option(name, SECTION_NONE);
		if (opt)
			config_fail(p, -EINVAL, p->line, "%s: key belongs in %s, not %s", opt->name,
				    section_names[opt->section], section_names[p->section]);
		else
			config_fail(p, -EINVAL, p->line, "%s: unknown key in %s", name,
				    section_names[p->section]);
		return p->collect;
	}
	i = (size_t)(opt - config_options);
	if (p->seen_line[i] && !opt->repeatable) {
		config_fail(p, -EINVAL, p->line, "%s: duplicate key (first on line %d)", opt->name,
			    p->seen_line[i]);
		return p->collect;
	}
	if (!p->seen_line[i])
		p->seen_line[i] = p->line;
	p->opt = opt;
	return opt->parse(p, value) == 0 || p->collect;
}

/* The line where name was first seen (see struct parser), 0 if not yet. */
int config_seen_line(const struct parser *p, const char *name)
{
	const struct option *opt = config_find_option(name, SECTION_NONE);

	return opt ? p->seen_line[opt - config_options] : 0;
}

static int start_peer(struct parser *p)
{
	struct config *c = p->cfg;
	struct config_peer *peers;

	peers = config_grow(c->peers, &p->peers_cap, c->n_peers, sizeof(*peers));
	if (!peers)
		return config_fail(p, -ENOMEM, p->line, "out of memory");
	c->peers = peers;
	c->peers[c->n_peers++].line = p->line;
	p->allowed_ips_cap = 0;
	for (size_t i = 0; i < config_n_options; i++)
		if (config_options[i].section == SECTION_PEER)
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
		return config_fail(p, -EINVAL, p->line, "bad section header \"%.*s\"", (int)len, s);
	while (name < end && isspace((unsigned char)*name))
		name++;
	while (end > name && isspace((unsigned char)end[-1]))
		end--;
	if (token_is(name, (size_t)(end - name), "Interface")) {
		/* wg-quick would merge them; one of them is almost surely a mistake. */
		if (p->interface_line)
			return config_fail(p, -EINVAL, p->line,
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
	return config_fail(p, -EINVAL, p->line, "unknown section \"%.*s\"", (int)len, s);
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

/* CLOCK_MONOTONIC in nanoseconds: the clock of p->deadline. */
uint64_t config_now_ns(void)
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

/* The next line of p->text, counted, without its '#' comment and the blanks around it:
 * *s to *end. Returns false, failed, for a line with a NUL byte. */
static bool next_line(struct parser *p, const char **s, const char **end)
{
	const char *nl, *hash;

	*s = p->text + p->pos;
	nl = memchr(*s, '\n', p->len - p->pos);
	*end = nl ? nl : p->text + p->len;
	p->pos = (size_t)(*end - p->text) + (nl ? 1 : 0);
	p->line++;

	if (memchr(*s, '\0', (size_t)(*end - *s))) {
		config_fail(p, -EINVAL, p->line, "NUL byte in line");
		return false;
	}
	if (p->line == 1 && *end - *s >= 3 && !memcmp(*s, "\xef\xbb\xbf", 3))
		*s += 3;
	hash = memchr(*s, '#', (size_t)(*end - *s));
	if (hash)
		*end = hash;
	while (*s < *end && isspace((unsigned char)**s))
		(*s)++;
	while (*end > *s && isspace((unsigned char)(*end)[-1]))
		(*end)--;
	return true;
}

/* A trimmed "Key = Value" line, s to end, for inih: "Key=" into str (num bytes), the value
 * kept in p->value. Returns str, or what skip_line() does for a refused line. */
static char *key_line(struct parser *p, char *str, int num, const char *s, const char *end)
{
	const char *eq = memchr(s, '=', (size_t)(end - s)), *key_end, *value;

	/* inih would also split at ':' (and at an inline ';' comment before '='), or report
	 * a bare line only by its number. */
	if (!eq || eq == s || memchr(s, ':', (size_t)(eq - s)) ||
	    memchr(s, ';', (size_t)(eq - s))) {
		config_fail(p, -EINVAL, p->line, "expected \"Key = Value\" or \"[Section]\"");
		return skip_line(p, str);
	}
	for (key_end = eq; isspace((unsigned char)key_end[-1]);)
		key_end--;
	for (value = eq + 1; value < end && isspace((unsigned char)*value);)
		value++;
	/* No key is this long: the handler would only say so. */
	if (key_end - s + 2 > num) {
		config_fail(p, -EINVAL, p->line, "%.32s...: unknown key in %s", s,
			    section_names[p->section]);
		return skip_line(p, str);
	}
	if (keep_value(p, value, (size_t)(end - value))) {
		config_fail(p, -ENOMEM, p->line, "out of memory");
		return NULL;
	}
	memcpy(str, s, (size_t)(key_end - s));
	str[key_end - s] = '=';
	str[key_end - s + 1] = '\0';
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
	const char *s, *end;

	/* inih's buffer still holds the previous line: a key name at most, now. */
	sodium_memzero(str, (size_t)num);
	if (p->ret || p->pos >= p->len)
		return NULL;
	/* Looking at the clock costs less than a line, but not nothing. */
	if (p->deadline && ++p->since_clock >= 16) {
		p->since_clock = 0;
		if (config_now_ns() >= p->deadline)
			return NULL;
	}
	if (!next_line(p, &s, &end))
		return skip_line(p, str);
	if (s == end || *s == ';') {
		str[0] = '\0';
		return str;
	}
	if (*s != '[')
		return key_line(p, str, num, s, end);
	p->bad_section = false;
	if (start_section(p, s, (size_t)(end - s))) {
		p->bad_section = true;
		return skip_line(p, str);
	}
	snprintf(str, (size_t)num, "%s", section_names[p->section]);
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
		config_fail(p, -ENOMEM, 0, "out of memory");
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
		config_fail(p, -EINVAL, peer->line,
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
			config_warn(p, peer->line,
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
			config_warn(p, peer->line,
				    "[Peer]: no AllowedIPs: nothing will be sent to it");
		for (size_t j = 0; j < peer->n_allowed_ips; j++)
			for (size_t k = i + 1; k < c->n_peers; k++)
				for (size_t m = 0; m < c->peers[k].n_allowed_ips; m++)
					if (addr_prefix_equal(&peer->allowed_ips[j],
							      &c->peers[k].allowed_ips[m]))
						config_warn(p, c->peers[k].line,
							    "[Peer]: AllowedIPs %s is also the peer's on line "
							    "%d: this later peer takes it",
							    addr_prefix_str(&peer->allowed_ips[j],
									    buf),
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
		config_fail(p, -EINVAL, config_seen_line(p, "MTU"),
			    "MTU: \"%u\" too small with an IPv6 Address (at least %d)", c->mtu,
			    MIN_MTU_IPV6);
	for (size_t i = 0; i < c->n_peers && !p->ret; i++) {
		if (!c->peers[i].has_public_key) {
			config_fail(p, -EINVAL, c->peers[i].line, "[Peer]: no PublicKey");
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
		config_fail(p, -EINVAL, p->quick_line,
			    "%s: acted on by `sealnet up` and `down`, not by sealnetd: bring this "
			    "file up with `sealnet up` (sealnetd -q says the caller runs PreUp, "
			    "PostUp, PreDown, PostDown, DNS and SaveConfig)",
			    p->quick_key);
	return p->ret;
}

/* The start of a parse of p->text: p->cfg with the defaults. */
int config_parser_begin(struct parser *p)
{
	log_errbuf(p->err, p->errlen, 0, "%s", "");
	/* Idempotent; needed before sodium_malloc(). */
	if (sodium_init() < 0)
		return config_fail(p, -ENOMEM, 0, "cannot initialize libsodium");
	p->cfg = calloc(1, sizeof(*p->cfg));
	if (!p->cfg)
		return config_fail(p, -ENOMEM, 0, "out of memory");
	p->cfg->mtu = CONFIG_DEFAULT_MTU;
	p->cfg->offload = CONFIG_OFFLOAD_ALL;
	p->cfg->sandbox = true;
	return 0;
}

/* The lines from p->pos on, up to p->deadline if set: true once the last has been read (or
 * the parse failed). inih keeps nothing from one call to the next that matters here: the
 * section is p->section, and read_line() never hands it a continuation line. */
bool config_parser_lines(struct parser *p)
{
	int base = p->line, ret;

	ret = ini_parse_stream(read_line, p, handle, p);
	/* read_line() screens out what inih itself rejects; these are for safety. inih counts
	 * the lines of this call, one per read_line(). */
	if (ret > 0 && !p->collect)
		config_fail(p, -EINVAL, base + ret, "syntax error");
	else if (ret < 0)
		config_fail(p, -ENOMEM, 0, "out of memory");
	return p->ret || p->pos >= p->len;
}

/* The value buffer wiped and freed: it may hold a key. */
void config_parser_wipe(struct parser *p)
{
	if (p->value) {
		sodium_memzero(p->value, p->value_cap);
		free(p->value);
		p->value = NULL;
	}
}

/* The end of a parse: validation; p->cfg NULL on failure. Returns p->ret. */
int config_parser_end(struct parser *p)
{
	if (!p->ret)
		validate(p);
	config_parser_wipe(p);
	if (p->ret) {
		config_free(p->cfg);
		p->cfg = NULL;
	}
	return p->ret;
}

/* Parses p->text: fills p->cfg (NULL on failure), p->issues with collect. Returns p->ret. */
int config_run_parser(struct parser *p)
{
	if (!config_parser_begin(p))
		config_parser_lines(p);
	return config_parser_end(p);
}

int config_parse_string(const char *text, const char *name, struct config **out, char *err,
			size_t errlen)
{
	struct parser p = {
		.name = name ? name : "(config)",
		.text = text,
		.len = strlen(text),
		.err = err,
		.errlen = errlen,
	};
	int ret = config_run_parser(&p);

	*out = p.cfg;
	return ret;
}

static void list_free(struct config_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
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
