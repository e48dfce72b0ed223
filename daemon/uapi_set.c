/* The parse of a set request (uapi.h: uapi_parse_set(), uapi_set_parse_*()): its lines
 * applied to a config, with nothing of a device, a socket or a clock, so that the unit tests
 * and the fuzzer run it as the daemon does. Keys, values, order and errnos are
 * wireguard-go's (device/uapi.go); where the whole set goes from here, uapi_request.c. */
#include "uapi.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "config.h"
#include "firewall.h"
#include "key.h"
#include "log.h"

/* What makes a set of thousands of peers (`wg setconf`) cost what it holds rather than its
 * square: room in c->peers that doubles, and the peers by key and the AllowedIPs by prefix
 * in two open-addressed tables of peer indexes. Entries are not removed: one is believed only
 * once the peer it points to is seen to hold the key or the prefix (a prefix is held by one
 * peer at a time), and the tables are rebuilt when a dropped peer shifts the indexes. */
struct set_index {
	size_t cap;           /* peers c->peers has room for */
	uint32_t *keys, *pfx; /* n_slots each: peer index + 1, 0 for none */
	size_t n_slots, used;
	bool stale;
};

static size_t key_slot(const uint8_t key[KEY_LEN])
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	return (size_t)(h ^ h >> 29);
}

static size_t prefix_slot(const struct ip_prefix *p)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)p->cidr << 8 ^ (uint64_t)p->addr.family;

	for (size_t i = 0; i < addr_len(p->addr.family); i++)
		h = (h ^ p->addr.bytes[i]) * 0x100000001b3ULL;
	return (size_t)(h ^ h >> 32);
}

static void slot_put(uint32_t *t, size_t mask, size_t h, size_t peer)
{
	while (t[h & mask])
		h++;
	t[h & mask] = (uint32_t)peer + 1;
}

/* Builds both tables afresh from c, with room to grow. 0 or -ENOMEM. */
static int index_rebuild(struct set_index *ix, const struct config *c)
{
	size_t total = c->n_peers, n = 64;

	for (size_t i = 0; i < c->n_peers; i++)
		total += c->peers[i].n_allowed_ips;
	while (n < 4 * total)
		n *= 2;
	free(ix->keys);
	free(ix->pfx);
	ix->keys = calloc(n, sizeof(*ix->keys));
	ix->pfx = calloc(n, sizeof(*ix->pfx));
	if (!ix->keys || !ix->pfx)
		return -ENOMEM;
	ix->n_slots = n;
	ix->used = total;
	ix->stale = false;
	for (size_t i = 0; i < c->n_peers; i++) {
		slot_put(ix->keys, n - 1, key_slot(c->peers[i].public_key), i);
		for (size_t j = 0; j < c->peers[i].n_allowed_ips; j++)
			slot_put(ix->pfx, n - 1, prefix_slot(&c->peers[i].allowed_ips[j]), i);
	}
	return 0;
}

/* Before an entry goes in: a rebuild when the indexes moved or the tables are half full. */
static int index_ready(struct set_index *ix, const struct config *c)
{
	if (ix->stale || !ix->n_slots || 2 * (ix->used + 1) > ix->n_slots)
		return index_rebuild(ix, c);
	return 0;
}

static long index_find_key(const struct set_index *ix, const struct config *c,
			   const uint8_t key[KEY_LEN])
{
	size_t mask = ix->n_slots - 1;

	for (size_t h = key_slot(key);; h++) {
		uint32_t v = ix->keys[h & mask];

		if (!v)
			return -1;
		if (v - 1 < c->n_peers && key_equal(c->peers[v - 1].public_key, key))
			return (long)(v - 1);
	}
}

/* The peer holding pfx and where in its list (*at), or -1. */
static long index_find_prefix(const struct set_index *ix, const struct config *c,
			      const struct ip_prefix *pfx, size_t *at)
{
	size_t mask = ix->n_slots - 1;

	for (size_t h = prefix_slot(pfx);; h++) {
		uint32_t v = ix->pfx[h & mask];
		const struct config_peer *cp;

		if (!v)
			return -1;
		if (v - 1 >= c->n_peers)
			continue;
		cp = &c->peers[v - 1];
		for (size_t j = 0; j < cp->n_allowed_ips; j++) {
			if (addr_prefix_equal(&cp->allowed_ips[j], pfx)) {
				*at = j;
				return (long)(v - 1);
			}
		}
	}
}

static void index_free(struct set_index *ix)
{
	free(ix->keys);
	free(ix->pfx);
}

static void drop_peer(struct config *c, size_t i, struct set_index *ix)
{
	if (ix && i + 1 < c->n_peers)
		ix->stale = true;
	free(c->peers[i].allowed_ips);
	free(c->peers[i].endpoint_text);
	memmove(&c->peers[i], &c->peers[i + 1], (c->n_peers - i - 1) * sizeof(*c->peers));
	c->n_peers--;
	sodium_memzero(&c->peers[c->n_peers], sizeof(*c->peers));
}

/* The peer that is the interface itself, if any: its index, or -1. */
static long own_peer(const struct config *c)
{
	uint8_t pub[KEY_LEN];

	if (!c->private_key || key_public_from_private(pub, c->private_key))
		return -1;
	for (size_t i = 0; i < c->n_peers; i++)
		if (key_equal(c->peers[i].public_key, pub))
			return (long)i;
	return -1;
}

static void remove_prefix_at(struct config_peer *cp, size_t j)
{
	memmove(&cp->allowed_ips[j], &cp->allowed_ips[j + 1],
		(cp->n_allowed_ips - j - 1) * sizeof(*cp->allowed_ips));
	cp->n_allowed_ips--;
}

/* index_find_prefix() without an index (the scratch peer's config): every peer looked at. */
static long scan_prefix(const struct config *c, const struct ip_prefix *pfx, size_t *at)
{
	for (size_t i = 0; i < c->n_peers; i++) {
		for (size_t j = 0; j < c->peers[i].n_allowed_ips; j++) {
			if (addr_prefix_equal(&c->peers[i].allowed_ips[j], pfx)) {
				*at = j;
				return (long)i;
			}
		}
	}
	return -1;
}

/* WireGuard semantics: a prefix belongs to one peer; giving it to another moves it. */
static int add_allowed_ip(struct config *c, size_t peer, const struct ip_prefix *pfx,
			  struct set_index *ix)
{
	struct config_peer *cp = &c->peers[peer];
	struct ip_prefix *grown;
	size_t at = 0;
	long owner;
	int ret;

	ret = ix ? index_ready(ix, c) : 0;
	if (ret)
		return ret;
	owner = ix ? index_find_prefix(ix, c, pfx, &at) : scan_prefix(c, pfx, &at);
	if (owner == (long)peer)
		return 0;
	grown = realloc(cp->allowed_ips, (cp->n_allowed_ips + 1) * sizeof(*pfx));
	if (!grown)
		return -ENOMEM;
	cp->allowed_ips = grown;
	cp->allowed_ips[cp->n_allowed_ips++] = *pfx;
	if (owner >= 0)
		remove_prefix_at(&c->peers[owner], at);
	if (ix) {
		slot_put(ix->pfx, ix->n_slots - 1, prefix_slot(pfx), peer);
		ix->used++;
	}
	return 0;
}

/* allowed_ip=-PREFIX: the peer lets go of exactly this prefix. One it does not hold (nobody
 * does, or another peer does) is no error and changes nothing, as in wireguard-go's
 * AllowedIPs.Remove and the Linux module's WGALLOWEDIP_F_REMOVE_ME. */
static void remove_allowed_ip(struct config_peer *cp, const struct ip_prefix *pfx)
{
	for (size_t j = 0; j < cp->n_allowed_ips; j++) {
		if (addr_prefix_equal(&cp->allowed_ips[j], pfx)) {
			remove_prefix_at(cp, j);
			return;
		}
	}
}

/* Finds or adds the peer with this key; *created says which. Returns its index or -errno. */
static long find_or_add_peer(struct config *c, const uint8_t key[KEY_LEN], bool *created,
			     struct set_index *ix)
{
	struct config_peer *grown;
	long i;
	int ret;

	*created = false;
	ret = index_ready(ix, c);
	if (ret)
		return ret;
	i = index_find_key(ix, c, key);
	if (i >= 0)
		return i;
	if (c->n_peers == ix->cap) {
		/* Not realloc: the peers hold preshared keys, and the old block is wiped. */
		ix->cap = ix->cap ? 2 * ix->cap : 4;
		grown = calloc(ix->cap, sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		if (c->n_peers) {
			memcpy(grown, c->peers, c->n_peers * sizeof(*grown));
			sodium_memzero(c->peers, c->n_peers * sizeof(*grown));
		}
		free(c->peers);
		c->peers = grown;
	}
	memcpy(c->peers[c->n_peers].public_key, key, KEY_LEN);
	c->peers[c->n_peers].has_public_key = true;
	*created = true;
	slot_put(ix->keys, ix->n_slots - 1, key_slot(key), c->n_peers);
	ix->used++;
	return (long)c->n_peers++;
}

/* How a key's value reads. Each kind is checked, and named in a refusal, in one place
 * (read_value()); a key whose value needs more (an endpoint, a prefix, a rule) reads it as
 * text and checks it itself. */
enum value_kind {
	VALUE_TEXT,
	VALUE_TRUE,   /* "true" and nothing else: replace_peers=true and the like */
	VALUE_NUMBER, /* plain decimal, 0 to max */
	VALUE_KEY,    /* 64 hex digits */
};

struct set_key {
	const char *name;
	enum value_kind kind;
	unsigned long long max; /* VALUE_NUMBER */
	const char *bad;        /* VALUE_NUMBER: what a bad one is called */
};

/* Every key of a set but public_key, remove and update_only (which select a peer): the
 * interface's, then a peer's. */
enum {
	IF_PRIVATE_KEY,
	IF_LISTEN_PORT,
	IF_FWMARK,
	IF_REPLACE_PEERS,
	IF_ALLOW,
	IF_DENY,
	IF_REPLACE_RULES,
	PEER_PRESHARED_KEY,
	PEER_ENDPOINT,
	PEER_KEEPALIVE,
	PEER_REPLACE_ALLOWED_IPS,
	PEER_ALLOWED_IP,
	PEER_GROUP,
	PEER_REPLACE_GROUPS,
	PEER_PROTOCOL_VERSION,
	SET_KEYS,
	PEER_FIRST = PEER_PRESHARED_KEY,
};

static const struct set_key set_keys[SET_KEYS] = {
	[IF_PRIVATE_KEY] = { "private_key", VALUE_KEY },
	[IF_LISTEN_PORT] = { "listen_port", VALUE_NUMBER, 65535, "port" },
	[IF_FWMARK] = { "fwmark", VALUE_NUMBER, UINT32_MAX, "mark" },
	[IF_REPLACE_PEERS] = { "replace_peers", VALUE_TRUE },
	[IF_ALLOW] = { "allow", VALUE_TEXT },
	[IF_DENY] = { "deny", VALUE_TEXT },
	[IF_REPLACE_RULES] = { "replace_rules", VALUE_TRUE },
	[PEER_PRESHARED_KEY] = { "preshared_key", VALUE_KEY },
	[PEER_ENDPOINT] = { "endpoint", VALUE_TEXT },
	[PEER_KEEPALIVE] = { "persistent_keepalive_interval", VALUE_NUMBER, 65535, "value" },
	[PEER_REPLACE_ALLOWED_IPS] = { "replace_allowed_ips", VALUE_TRUE },
	[PEER_ALLOWED_IP] = { "allowed_ip", VALUE_TEXT },
	[PEER_GROUP] = { "group", VALUE_TEXT },
	[PEER_REPLACE_GROUPS] = { "replace_groups", VALUE_TRUE },
	[PEER_PROTOCOL_VERSION] = { "protocol_version", VALUE_TEXT },
};

/* A value as read_value() read it; the key is wiped once used. */
union set_value {
	unsigned long long n;
	uint8_t key[KEY_LEN];
};

/* The only value of a key that just says "do it" (remove=true, replace_peers=true, ...).
 * 0, or -EINVAL with err. */
static int value_true(const char *key, const char *value, char *err, size_t errlen)
{
	if (strcmp(value, "true"))
		return log_errbuf(err, errlen, -EINVAL, "%s: only \"true\"", key);
	return 0;
}

/* KEY=64 hex digits, into k. 0, or -EINVAL with err. */
static int value_key(const char *key, const char *value, uint8_t k[KEY_LEN], char *err,
		     size_t errlen)
{
	if (key_from_hex(k, value))
		return log_errbuf(err, errlen, -EINVAL, "%s: not 64 hex digits", key);
	return 0;
}

/* Which key of the interface's (or with peer, of a peer's) key is, and its value read into
 * v by that key's kind. Its index in set_keys, or -EINVAL with err. */
static int read_value(bool peer, const char *key, const char *value, union set_value *v, char *err,
		      size_t errlen)
{
	const struct set_key *k = &set_keys[peer ? PEER_FIRST : 0];
	const struct set_key *end = &set_keys[peer ? SET_KEYS : PEER_FIRST];

	while (k < end && strcmp(k->name, key))
		k++;
	if (k == end)
		return log_errbuf(err, errlen, -EINVAL, "unknown %skey \"%s\"", peer ? "peer " : "",
				  key);
	switch (k->kind) {
	case VALUE_TEXT:
		break;
	case VALUE_TRUE:
		if (value_true(key, value, err, errlen))
			return -EINVAL;
		break;
	case VALUE_NUMBER:
		if (config_parse_number(value, k->max, false, &v->n))
			return log_errbuf(err, errlen, -EINVAL, "%s: bad %s \"%s\"", key, k->bad,
					  value);
		break;
	case VALUE_KEY:
		if (value_key(key, value, v->key, err, errlen))
			return -EINVAL;
		break;
	}
	return (int)(k - set_keys);
}

/* private_key=KEY: all zeros takes the identity away. */
static int set_private_key(struct config *c, uint8_t k[KEY_LEN], struct set_index *ix)
{
	long own;

	if (key_is_zero(k)) {
		sodium_free(c->private_key);
		c->private_key = NULL;
		return 0;
	}
	if (!c->private_key && !(c->private_key = sodium_malloc(KEY_LEN)))
		return -ENOMEM;
	key_clamp_private(k);
	memcpy(c->private_key, k, KEY_LEN);
	/* A peer that holds the new identity's public key goes, as in wireguard-go's
	 * SetPrivateKey and the Linux module's set_device: it could never handshake. */
	own = own_peer(c);
	if (own >= 0)
		drop_peer(c, (size_t)own, ix);
	return 0;
}

/* allow=RULE and deny=RULE (ours): a firewall rule after the others. */
static int add_rule(struct config *c, const char *key, const char *value, char *err, size_t errlen)
{
	struct firewall_rule *grown, r;
	char why[160];

	if (firewall_parse_rule(value, key[0] == 'd', &r, why, sizeof(why)))
		return log_errbuf(err, errlen, -EINVAL, "%s: %s", key, why);
	grown = realloc(c->rules, (c->n_rules + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	c->rules = grown;
	c->rules[c->n_rules++] = r;
	return 0;
}

static int set_interface_key(struct config *c, const char *key, const char *value, char *err,
			     size_t errlen, struct set_index *ix)
{
	union set_value v;
	int ret = 0, k;

	k = read_value(false, key, value, &v, err, errlen);
	switch (k) {
	case IF_PRIVATE_KEY:
		ret = set_private_key(c, v.key, ix);
		break;
	case IF_LISTEN_PORT:
		c->listen_port = (uint16_t)v.n;
		/* As wireguard-go: 0 binds a new random port, it does not keep the old one. */
		c->listen_port_new = v.n == 0;
		break;
	case IF_FWMARK:
		c->fwmark = (uint32_t)v.n;
		break;
	case IF_REPLACE_PEERS:
		while (c->n_peers)
			drop_peer(c, c->n_peers - 1, ix);
		break;
	case IF_ALLOW:
	case IF_DENY:
		ret = add_rule(c, key, value, err, errlen);
		break;
	case IF_REPLACE_RULES:
		c->n_rules = 0;
		break;
	default:
		ret = k;
	}
	sodium_memzero(&v, sizeof(v));
	return ret;
}

/* allowed_ip=PREFIX, or "-PREFIX", which removes, what `wg set ... allowed-ips -PREFIX`
 * sends. */
static int set_allowed_ip(struct config *c, size_t i, const char *value, char *err, size_t errlen,
			  struct set_index *ix)
{
	bool drop = value[0] == '-';
	const char *text = value + drop;
	struct ip_prefix pfx;

	if (!strchr(text, '/') || addr_parse_prefix(text, &pfx))
		return log_errbuf(err, errlen, -EINVAL, "allowed_ip: bad prefix \"%s\"", value);
	addr_prefix_mask(&pfx);
	if (!drop)
		return add_allowed_ip(c, i, &pfx, ix);
	remove_allowed_ip(&c->peers[i], &pfx);
	return 0;
}

/* group=NAME (ours): a group the peer is in, once. */
static int add_group(struct config_peer *cp, const char *value, char *err, size_t errlen)
{
	if (!firewall_group_name_ok(value))
		return log_errbuf(err, errlen, -EINVAL, "group: bad name \"%s\"", value);
	for (unsigned g = 0; g < cp->n_groups; g++)
		if (!strcmp(cp->groups[g], value))
			return 0;
	if (cp->n_groups == CONFIG_MAX_GROUPS)
		return log_errbuf(err, errlen, -EINVAL, "group: more than %d", CONFIG_MAX_GROUPS);
	snprintf(cp->groups[cp->n_groups++], FIREWALL_GROUP_NAME_MAX, "%s", value);
	return 0;
}

static int set_peer_key(struct config *c, size_t i, const char *key, const char *value, char *err,
			size_t errlen, struct set_index *ix)
{
	struct config_peer *cp = &c->peers[i];
	union set_value v;
	int ret = 0, k;

	k = read_value(true, key, value, &v, err, errlen);
	switch (k) {
	case PEER_PRESHARED_KEY:
		memcpy(cp->preshared_key, v.key, KEY_LEN);
		cp->has_preshared_key = !key_is_zero(cp->preshared_key);
		break;
	case PEER_ENDPOINT:
		ret = addr_parse_endpoint(value, &cp->endpoint);
		if (ret == -ENODEV)
			ret = log_errbuf(err, errlen, -EINVAL,
					 "endpoint: no such interface in \"%s\"", value);
		else if (ret)
			ret = log_errbuf(err, errlen, -EINVAL, "endpoint: bad address \"%s\"",
					 value);
		break;
	case PEER_KEEPALIVE:
		cp->persistent_keepalive = (unsigned)v.n;
		break;
	case PEER_REPLACE_ALLOWED_IPS:
		cp->n_allowed_ips = 0;
		break;
	case PEER_ALLOWED_IP:
		ret = set_allowed_ip(c, i, value, err, errlen, ix);
		break;
	case PEER_GROUP:
		ret = add_group(cp, value, err, errlen);
		break;
	case PEER_REPLACE_GROUPS:
		cp->n_groups = 0;
		break;
	case PEER_PROTOCOL_VERSION:
		/* -EINVAL, as wireguard-go answers (ipcErrorInvalid). */
		if (strcmp(value, "1"))
			ret = log_errbuf(err, errlen, -EINVAL, "protocol_version: only 1 is known");
		break;
	default:
		ret = k;
	}
	sodium_memzero(&v, sizeof(v));
	return ret;
}

/* Where a set's parse is between two uapi_set_parse_step()s: all of it, so that the lines
 * may be parsed a few at a time. */
struct uapi_set_parse {
	struct config *c;
	char *at; /* the next line, NULL at the end */
	int n;    /* its number */
	struct config_peer scratch_peer;
	struct config scratch;
	bool peers, created, have_own;
	long peer; /* once in the peers: the index of the one changed, -1 for scratch */
	uint8_t own[KEY_LEN];
	struct set_index ix;
};

static void parse_init(struct uapi_set_parse *sp, struct config *c, char *lines)
{
	memset(sp, 0, sizeof(*sp));
	sp->c = c;
	sp->at = lines;
	sp->n = 1;
	sp->scratch.peers = &sp->scratch_peer;
	sp->scratch.n_peers = 1;
	sp->peer = -1;
	sp->ix.cap = c->n_peers;
}

static void parse_fini(struct uapi_set_parse *sp)
{
	index_free(&sp->ix);
	free(sp->scratch_peer.allowed_ips);
	sodium_memzero(sp, sizeof(*sp));
}

int uapi_set_parse_new(struct config *c, size_t room, char *lines, struct uapi_set_parse **out)
{
	struct uapi_set_parse *sp = malloc(sizeof(*sp));

	if (!sp)
		return -ENOMEM;
	parse_init(sp, c, lines);
	sp->ix.cap = room > c->n_peers ? room : c->n_peers;
	*out = sp;
	return 0;
}

void uapi_set_parse_free(struct uapi_set_parse *sp)
{
	if (!sp)
		return;
	parse_fini(sp);
	free(sp);
}

/* The next line of the request, cut at its '\n' as strtok_r() would (empty lines are
 * skipped and not counted), or NULL at the end. */
static char *next_line(struct uapi_set_parse *sp)
{
	char *line = sp->at, *nl;

	while (line && *line == '\n')
		line++;
	if (!line || !*line) {
		sp->at = NULL;
		return NULL;
	}
	nl = strchr(line, '\n');
	if (nl)
		*nl++ = '\0';
	sp->at = nl;
	return line;
}

/* public_key=KEY: the peer the lines after it change, created if new; none (the scratch
 * peer) for the interface's own key. Interface keys are refused from here on: the identity
 * is final. 0 or -errno with err. */
static int select_peer(struct uapi_set_parse *sp, const char *value, char *err, size_t errlen)
{
	struct config *c = sp->c;
	uint8_t k[KEY_LEN];
	int ret = 0;

	if (value_key("public_key", value, k, err, errlen))
		return -EINVAL;
	if (!sp->peers)
		sp->have_own = c->private_key && !key_public_from_private(sp->own, c->private_key);
	sp->peers = true;
	sp->created = false;
	if (sp->have_own && key_equal(sp->own, k)) {
		sp->peer = -1;
	} else {
		sp->peer = find_or_add_peer(c, k, &sp->created, &sp->ix);
		if (sp->peer < 0)
			ret = log_errbuf(err, errlen, (int)sp->peer, "public_key: %s",
					 strerror((int)-sp->peer));
	}
	sodium_memzero(k, sizeof(k));
	return ret;
}

/* remove=true, and update_only=true for a peer that does not exist: the rest of this peer's
 * lines change nothing. 0 or -EINVAL with err. */
static int skip_peer(struct uapi_set_parse *sp, const char *key, const char *value, char *err,
		     size_t errlen)
{
	if (value_true(key, value, err, errlen))
		return -EINVAL;
	if (sp->peer >= 0 && (key[0] == 'r' || sp->created)) {
		drop_peer(sp->c, (size_t)sp->peer, &sp->ix);
		sp->peer = -1;
	}
	return 0;
}

/* One line of a set (see uapi_set_parse_step()). 0 or -errno with err, which names the
 * line. */
static int parse_line(struct uapi_set_parse *sp, char *line, char *err, size_t errlen)
{
	char *value;
	size_t len;
	int ret;

	/* wireguard-go reads lines with bufio.ScanLines, which drops one '\r' before the
	 * '\n'. */
	len = strlen(line);
	if (len && line[len - 1] == '\r')
		line[len - 1] = '\0';
	value = strchr(line, '=');
	if (!value)
		/* -EPROTO, as wireguard-go answers a line it cannot split. */
		return log_errbuf(err, errlen, -EPROTO, "line %d: no '=' in \"%.40s\"", sp->n,
				  line);
	*value++ = '\0';
	if (!strcmp(line, "public_key"))
		ret = select_peer(sp, value, err, errlen);
	else if (!sp->peers)
		ret = set_interface_key(sp->c, line, value, err, errlen, &sp->ix);
	else if (!strcmp(line, "remove") || !strcmp(line, "update_only"))
		ret = skip_peer(sp, line, value, err, errlen);
	else if (sp->peer >= 0)
		ret = set_peer_key(sp->c, (size_t)sp->peer, line, value, err, errlen, &sp->ix);
	else
		ret = set_peer_key(&sp->scratch, 0, line, value, err, errlen, NULL);
	if (ret && err && errlen) {
		char tmp[256];

		snprintf(tmp, sizeof(tmp), "%s", err);
		snprintf(err, errlen, "line %d: %s", sp->n, tmp);
	}
	return ret;
}

/* The lines of a set, in wireguard-go's order of things (device/uapi.go, IpcSetOperation):
 * interface keys until the first public_key, then each public_key selects the peer that the
 * keys after it change, until the next one. A peer that is removed (remove=true), not
 * created (update_only=true), or that is the interface itself, takes the rest of its lines
 * on a scratch peer: they change nothing but must still make sense. The interface's own key
 * is ignored, not refused, so that one list of every node of a mesh can be sent to each of
 * them, as with wireguard-go and the Linux module. Where the parse is between two calls is
 * all in sp, so a call of one line at a time parses exactly what one of every line does. */
int uapi_set_parse_step(struct uapi_set_parse *sp, size_t max_lines, char *err, size_t errlen)
{
	char *line;
	int ret;

	for (size_t i = 0; i < max_lines; i++, sp->n++) {
		line = next_line(sp);
		if (!line)
			return 0;
		ret = parse_line(sp, line, err, errlen);
		if (ret) {
			sp->at = NULL;
			return ret;
		}
	}
	return sp->at ? 1 : 0;
}

int uapi_parse_set(struct config *c, char *lines, char *err, size_t errlen)
{
	struct uapi_set_parse sp;
	int ret;

	parse_init(&sp, c, lines);
	ret = uapi_set_parse_step(&sp, SIZE_MAX, err, errlen);
	parse_fini(&sp);
	return ret;
}
