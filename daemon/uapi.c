#include "uapi.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "allowedips.h"
#include "cipher.h"
#include "config.h"
#include "device.h"
#include "firewall.h"
#include "key.h"
#include "listener.h"
#include "log.h"
#include "paths.h"
#include "peer.h"
#include "workers.h"

/* A set with every peer of a large cluster fits many times over. */
#define UAPI_MAX_REQUEST (16u << 20)
/* A client that sends nothing or reads nothing for this long is dropped. */
#define UAPI_TIMEOUT_SEC 10
/* Clients at once (wg, sealnet, the registry): more wait in the kernel's backlog. */
#define UAPI_MAX_CLIENTS 16
#define UAPI_BACKLOG 16

static const struct timeval timeout = { .tv_sec = UAPI_TIMEOUT_SEC };

/* Peers a get writes per turn of the event loop (about 16 us each): the rest follow as the
 * socket drains. */
#define UAPI_GET_PEERS 128

struct set_request;

/* What a request leaves for later turns of the event loop: a set's parse, then a set or a
 * reload in slices (device_job_step()), or a get's peers. */
struct pending {
	struct set_request *set; /* its parse, before its job */
	struct device_job *job;
	char err[512]; /* why it was refused or failed */
	bool reload;
	bool get, get_ours;
	struct device_cursor cursor; /* a get's, open while get */
};

struct uapi_client {
	TAILQ_ENTRY(uapi_client) link;
	struct uapi *u;
	struct bufferevent *bev;
	bool closing;
	struct pending pd; /* its get; its job is u->job */
	/* How much of the input holds no "\n\n": a request of megabytes arrives in many reads,
	 * and searching it from the start after each would cost its square. */
	size_t searched;
};

/* One job at a time: while a set or a reload is parsed and applied in slices, every other
 * client's requests wait in their sockets, in order, and a SIGHUP's reload waits for its
 * end (the datapath and the timers keep running); the client that sent it gets its answer
 * after the last slice. */
struct uapi {
	struct device *dev;
	struct evconnlistener *listener;
	struct listener *guard;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *config_path;
	TAILQ_HEAD(, uapi_client) clients;
	struct pending job;             /* none runs unless pending_work() */
	struct uapi_client *job_client; /* whom to answer; NULL once gone */
	struct event *job_ev;
	bool hup; /* a SIGHUP's reload waits for the job that runs */
};

static int set_err(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int set_err(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}

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

static bool is_true(const char *v)
{
	return !strcmp(v, "true");
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

/* WireGuard semantics: a prefix belongs to one peer; giving it to another moves it. */
static int add_allowed_ip(struct config *c, size_t peer, const struct ip_prefix *pfx,
			  struct set_index *ix)
{
	struct config_peer *cp;
	struct ip_prefix *grown;
	size_t at;
	long owner;
	int ret;

	if (ix) {
		ret = index_ready(ix, c);
		if (ret)
			return ret;
		owner = index_find_prefix(ix, c, pfx, &at);
		if (owner == (long)peer)
			return 0;
		cp = &c->peers[peer];
		grown = realloc(cp->allowed_ips, (cp->n_allowed_ips + 1) * sizeof(*pfx));
		if (!grown)
			return -ENOMEM;
		cp->allowed_ips = grown;
		cp->allowed_ips[cp->n_allowed_ips++] = *pfx;
		if (owner >= 0)
			remove_prefix_at(&c->peers[owner], at);
		slot_put(ix->pfx, ix->n_slots - 1, prefix_slot(pfx), peer);
		ix->used++;
		return 0;
	}
	for (size_t i = 0; i < c->n_peers; i++) {
		cp = &c->peers[i];
		for (size_t j = 0; j < cp->n_allowed_ips; j++) {
			if (!addr_prefix_equal(&cp->allowed_ips[j], pfx))
				continue;
			if (i == peer)
				return 0;
			remove_prefix_at(cp, j);
			break;
		}
	}
	cp = &c->peers[peer];
	grown = realloc(cp->allowed_ips, (cp->n_allowed_ips + 1) * sizeof(*pfx));
	if (!grown)
		return -ENOMEM;
	cp->allowed_ips = grown;
	cp->allowed_ips[cp->n_allowed_ips++] = *pfx;
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

static int set_interface_key(struct config *c, const char *key, const char *value, char *err,
			     size_t errlen, struct set_index *ix)
{
	unsigned long long n;
	uint8_t k[KEY_LEN];
	long own;

	if (!strcmp(key, "private_key")) {
		if (key_from_hex(k, value))
			return set_err(err, errlen, -EINVAL, "private_key: not 64 hex digits");
		if (key_is_zero(k)) {
			sodium_free(c->private_key);
			c->private_key = NULL;
			return 0;
		}
		if (!c->private_key && !(c->private_key = sodium_malloc(KEY_LEN)))
			return -ENOMEM;
		key_clamp_private(k);
		memcpy(c->private_key, k, KEY_LEN);
		sodium_memzero(k, sizeof(k));
		/* A peer that holds the new identity's public key goes, as in wireguard-go's
		 * SetPrivateKey and the Linux module's set_device: it could never handshake. */
		own = own_peer(c);
		if (own >= 0)
			drop_peer(c, (size_t)own, ix);
		return 0;
	}
	if (!strcmp(key, "listen_port")) {
		if (config_parse_number(value, 65535, false, &n))
			return set_err(err, errlen, -EINVAL, "listen_port: bad port \"%s\"", value);
		c->listen_port = (uint16_t)n;
		/* As wireguard-go: 0 binds a new random port, it does not keep the old one. */
		c->listen_port_new = n == 0;
		return 0;
	}
	if (!strcmp(key, "fwmark")) {
		if (config_parse_number(value, UINT32_MAX, false, &n))
			return set_err(err, errlen, -EINVAL, "fwmark: bad mark \"%s\"", value);
		c->fwmark = (uint32_t)n;
		return 0;
	}
	if (!strcmp(key, "replace_peers")) {
		if (!is_true(value))
			return set_err(err, errlen, -EINVAL, "replace_peers: only \"true\"");
		while (c->n_peers)
			drop_peer(c, c->n_peers - 1, ix);
		return 0;
	}
	if (!strcmp(key, "allow") || !strcmp(key, "deny")) {
		struct firewall_rule *grown, r;
		char why[160];

		if (firewall_parse_rule(value, key[0] == 'd', &r, why, sizeof(why)))
			return set_err(err, errlen, -EINVAL, "%s: %s", key, why);
		grown = realloc(c->rules, (c->n_rules + 1) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		c->rules = grown;
		c->rules[c->n_rules++] = r;
		return 0;
	}
	if (!strcmp(key, "replace_rules")) {
		if (!is_true(value))
			return set_err(err, errlen, -EINVAL, "replace_rules: only \"true\"");
		c->n_rules = 0;
		return 0;
	}
	return set_err(err, errlen, -EINVAL, "unknown key \"%s\"", key);
}

static int set_peer_key(struct config *c, size_t i, const char *key, const char *value, char *err,
			size_t errlen, struct set_index *ix)
{
	struct config_peer *cp = &c->peers[i];
	unsigned long long n;
	struct ip_prefix pfx;
	int ret;

	if (!strcmp(key, "preshared_key")) {
		if (key_from_hex(cp->preshared_key, value))
			return set_err(err, errlen, -EINVAL, "preshared_key: not 64 hex digits");
		cp->has_preshared_key = !key_is_zero(cp->preshared_key);
		return 0;
	}
	if (!strcmp(key, "endpoint")) {
		ret = addr_parse_endpoint(value, &cp->endpoint);
		if (ret == -ENODEV)
			return set_err(err, errlen, -EINVAL,
				       "endpoint: no such interface in \"%s\"", value);
		if (ret)
			return set_err(err, errlen, -EINVAL, "endpoint: bad address \"%s\"", value);
		return 0;
	}
	if (!strcmp(key, "persistent_keepalive_interval")) {
		if (config_parse_number(value, 65535, false, &n))
			return set_err(err, errlen, -EINVAL,
				       "persistent_keepalive_interval: bad value \"%s\"", value);
		cp->persistent_keepalive = (unsigned)n;
		return 0;
	}
	if (!strcmp(key, "replace_allowed_ips")) {
		if (!is_true(value))
			return set_err(err, errlen, -EINVAL, "replace_allowed_ips: only \"true\"");
		cp->n_allowed_ips = 0;
		return 0;
	}
	if (!strcmp(key, "allowed_ip")) {
		/* "-PREFIX" removes, what `wg set ... allowed-ips -PREFIX` sends. */
		bool drop = value[0] == '-';
		const char *text = value + drop;

		if (!strchr(text, '/') || addr_parse_prefix(text, &pfx))
			return set_err(err, errlen, -EINVAL, "allowed_ip: bad prefix \"%s\"",
				       value);
		addr_prefix_mask(&pfx);
		if (!drop)
			return add_allowed_ip(c, i, &pfx, ix);
		remove_allowed_ip(cp, &pfx);
		return 0;
	}
	if (!strcmp(key, "group")) {
		bool dup = false;

		if (!firewall_group_name_ok(value))
			return set_err(err, errlen, -EINVAL, "group: bad name \"%s\"", value);
		for (unsigned g = 0; g < cp->n_groups; g++)
			dup |= !strcmp(cp->groups[g], value);
		if (dup)
			return 0;
		if (cp->n_groups == CONFIG_MAX_GROUPS)
			return set_err(err, errlen, -EINVAL, "group: more than %d",
				       CONFIG_MAX_GROUPS);
		snprintf(cp->groups[cp->n_groups++], FIREWALL_GROUP_NAME_MAX, "%s", value);
		return 0;
	}
	if (!strcmp(key, "replace_groups")) {
		if (!is_true(value))
			return set_err(err, errlen, -EINVAL, "replace_groups: only \"true\"");
		cp->n_groups = 0;
		return 0;
	}
	if (!strcmp(key, "protocol_version")) {
		/* -EINVAL, as wireguard-go answers (ipcErrorInvalid). */
		if (strcmp(value, "1"))
			return set_err(err, errlen, -EINVAL, "protocol_version: only 1 is known");
		return 0;
	}
	return set_err(err, errlen, -EINVAL, "unknown peer key \"%s\"", key);
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

/* One line of a set (see uapi_set_parse_step()). 0 or -errno with err. */
static int parse_line(struct uapi_set_parse *sp, char *line, char *err, size_t errlen)
{
	struct config *c = sp->c;
	int ret, n = sp->n;
	uint8_t k[KEY_LEN];
	char *value;
	size_t len;

	/* wireguard-go reads lines with bufio.ScanLines, which drops one '\r' before the
	 * '\n'. */
	len = strlen(line);
	if (len && line[len - 1] == '\r')
		line[len - 1] = '\0';
	value = strchr(line, '=');
	if (!value)
		/* -EPROTO, as wireguard-go answers a line it cannot split. */
		return set_err(err, errlen, -EPROTO, "line %d: no '=' in \"%.40s\"", n, line);
	*value++ = '\0';
	if (!strcmp(line, "public_key")) {
		if (key_from_hex(k, value))
			return set_err(err, errlen, -EINVAL,
				       "line %d: public_key: not 64 hex digits", n);
		/* Interface keys are refused from here on: the identity is final. */
		if (!sp->peers)
			sp->have_own = c->private_key &&
				       !key_public_from_private(sp->own, c->private_key);
		sp->peers = true;
		sp->created = false;
		if (sp->have_own && key_equal(sp->own, k)) {
			sp->peer = -1;
			ret = 0;
		} else {
			sp->peer = find_or_add_peer(c, k, &sp->created, &sp->ix);
			ret = sp->peer < 0 ? set_err(err, errlen, (int)sp->peer,
						     "line %d: public_key: %s", n,
						     strerror((int)-sp->peer))
					   : 0;
		}
		sodium_memzero(k, sizeof(k));
		return ret;
	}
	if (!sp->peers) {
		ret = set_interface_key(c, line, value, err, errlen, &sp->ix);
	} else if (!strcmp(line, "remove") || !strcmp(line, "update_only")) {
		if (!is_true(value)) {
			ret = set_err(err, errlen, -EINVAL, "%s: only \"true\"", line);
		} else {
			ret = 0;
			if (sp->peer >= 0 && (line[0] == 'r' || sp->created)) {
				/* Removing, or updating a peer that does not exist: the rest of
				 * this peer's lines change nothing. */
				drop_peer(c, (size_t)sp->peer, &sp->ix);
				sp->peer = -1;
			}
		}
	} else if (sp->peer >= 0) {
		ret = set_peer_key(c, (size_t)sp->peer, line, value, err, errlen, &sp->ix);
	} else {
		ret = set_peer_key(&sp->scratch, 0, line, value, err, errlen, NULL);
	}
	if (ret && err && errlen) {
		char tmp[256];

		snprintf(tmp, sizeof(tmp), "%s", err);
		snprintf(err, errlen, "line %d: %s", n, tmp);
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

static void wipe_line(const void *data, size_t len, void *line)
{
	sodium_memzero(line, len);
	free(line);
}

/* libevent frees what it buffers without wiping it: a key's line is handed over by
 * reference, in a buffer of ours that is wiped once the line is written (or dropped). */
static void print_key(struct evbuffer *out, const char *name, const uint8_t *key)
{
	size_t len = strlen(name) + 1 + KEY_HEX_LEN;
	char *line = malloc(len);

	if (!line)
		return;
	snprintf(line, len, "%s=", name);
	key_to_hex(line + strlen(name) + 1, key);
	line[len - 1] = '\n';
	if (evbuffer_add_reference(out, line, len, wipe_line, line))
		wipe_line(line, len, line);
}

/* get's lines before the peers'. */
static void get_header(struct device *dev, struct evbuffer *out, bool ours, const char *config_path)
{
	char ep[ADDR_STRLEN];

	if (dev->local.private_key) {
		uint8_t k[KEY_LEN];

		memcpy(k, dev->local.private_key, KEY_LEN);
		key_clamp_private(k);
		print_key(out, "private_key", k);
		sodium_memzero(k, sizeof(k));
	}
	evbuffer_add_printf(out, "listen_port=%u\n", dev->udp.port);
	if (dev->fwmark)
		evbuffer_add_printf(out, "fwmark=%u\n", dev->fwmark);
	if (ours) {
		evbuffer_add_printf(out,
				    "sealnet_rx_datagrams=%llu\nsealnet_tx_datagrams=%llu\n"
				    "sealnet_cookie_replies_sent=%llu\n",
				    (unsigned long long)dev->stats.rx_datagrams,
				    (unsigned long long)dev->stats.tx_datagrams,
				    (unsigned long long)dev->stats.cookie_replies_sent);
		for (int d = 0; d < DROP_MAX; d++)
			evbuffer_add_printf(out, "sealnet_%s=%llu\n", device_drop_name(d),
					    (unsigned long long)dev->stats.drops[d]);
		/* For `sealnet reload`, which checks the file first, and `sealnet status`: what
		 * the process and the interface are. */
		if (config_path)
			evbuffer_add_printf(out, "sealnet_config=%s\n", config_path);
		evbuffer_add_printf(out, "sealnet_pid=%ld\nsealnet_mtu=%u\nsealnet_threads=%u\n",
				    (long)getpid(), dev->mtu,
				    dev->workers ? workers_threads(dev->workers) : 1);
		for (unsigned bit = 1; bit & CONFIG_OFFLOAD_ALL; bit <<= 1)
			if (dev->offload & bit)
				evbuffer_add_printf(out, "sealnet_offload=%s\n",
						    config_offload_name(bit));
		for (size_t i = 0; i < dev->n_addresses; i++)
			evbuffer_add_printf(out, "sealnet_address=%s\n",
					    addr_prefix_str(&dev->addresses[i], ep));
		for (size_t i = 0; i < firewall_rule_count(dev->firewall); i++) {
			uint64_t matches;
			const struct firewall_rule *r = firewall_rule(dev->firewall, i, &matches);

			evbuffer_add_printf(out, "sealnet_rule=%s\nsealnet_rule_matches=%llu\n",
					    r->text, (unsigned long long)matches);
		}
	}
}

/* Up to max peers from the cursor on, and the closing errno line after the last: true once
 * written. */
static bool get_peers(struct evbuffer *out, bool ours, struct device_cursor *cur, size_t max)
{
	char ep[ADDR_STRLEN];
	struct peer *p;
	size_t n = 0;

	for (; (p = cur->next) && n < max; cur->next = TAILQ_NEXT(p, link), n++) {
		print_key(out, "public_key", peer_public_key(p));
		print_key(out, "preshared_key", p->handshake.preshared_key);
		evbuffer_add_printf(out, "protocol_version=1\n");
		if (p->endpoint.sa.sa_family)
			evbuffer_add_printf(out, "endpoint=%s\n",
					    addr_endpoint_str(&p->endpoint, ep));
		evbuffer_add_printf(out,
				    "last_handshake_time_sec=%llu\nlast_handshake_time_nsec=%llu\n"
				    "persistent_keepalive_interval=%u\n",
				    (unsigned long long)(p->last_handshake_realtime / NSEC_PER_SEC),
				    (unsigned long long)(p->last_handshake_realtime % NSEC_PER_SEC),
				    p->timers.persistent_keepalive_interval);
		/* wg's own (tx_bytes, rx_bytes) always, ours for get=sealnet: peer_stats.h. */
		for (size_t i = 0; i < peer_n_counters; i++)
			if (ours || peer_counters[i].wg)
				evbuffer_add_printf(out, "%s=%llu\n", peer_counters[i].uapi_key,
						    (unsigned long long)
							    peer_counter_value(&p->stats, i));
		if (ours && p->label[0])
			evbuffer_add_printf(out, "sealnet_name=%s\n", p->label);
		if (ours)
			evbuffer_add_printf(out, "sealnet_handshake_attempts=%u\n",
					    p->timers.handshake_attempts);
		if (ours && p->timers.unanswered_since)
			evbuffer_add_printf(out, "sealnet_unanswered_ms=%llu\n",
					    (unsigned long long)((device_now() -
								  p->timers.unanswered_since) /
								 1000000));
		if (ours)
			for (unsigned g = 0; g < p->n_groups; g++)
				evbuffer_add_printf(out, "sealnet_group=%s\n", p->groups[g]);
		for (size_t i = 0; i < p->n_allowed_ips; i++)
			evbuffer_add_printf(out, "allowed_ip=%s\n",
					    addr_prefix_str(&p->allowed_ips[i], ep));
	}
	if (cur->next)
		return false;
	evbuffer_add_printf(out, "errno=0\n\n");
	return true;
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, KEY_LEN);
}

/* Appends a key to a growing list. 0 or -ENOMEM. */
static int named_add(uint8_t (**named)[KEY_LEN], size_t *n, size_t *cap, const uint8_t *key)
{
	uint8_t(*grown)[KEY_LEN];

	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 8;
		grown = realloc(*named, *cap * KEY_LEN);
		if (!grown)
			return -ENOMEM;
		*named = grown;
	}
	memcpy((*named)[(*n)++], key, KEY_LEN);
	return 0;
}

/* The value of the line at l, up to its end, into buf (cut to its size). Not snprintf: that
 * would measure the whole rest of the request each time. */
static void line_value(const char *l, char *buf, size_t size)
{
	size_t len = strcspn(l, "\r\n");

	len = len < size - 1 ? len : size - 1;
	memcpy(buf, l, len);
	buf[len] = '\0';
}

/* A set, parsed over turns of the event loop (issue 14): a `wg setconf` of 10,000 peers
 * takes tens of milliseconds to read, too long to hold the loop that moves the packets. It
 * goes in three passes, each in slices that fit in a turn: the peers its lines name, their
 * present state copied into the config it edits, then the parse of its lines into that
 * config. Nothing is applied before the last line has parsed, so a bad line anywhere
 * refuses the whole set, as when it was parsed in one go; then a device job applies it.
 * While it runs no other request is served (as for a job), so the device it read is the
 * one it will change. */
enum set_stage {
	SET_NAMED,
	SET_COPY,
	SET_PARSE,
	SET_DONE,
};

/* Lines or peers between two looks at the clock: a few microseconds each. */
#define SET_BATCH 64

struct set_request {
	struct device *dev;
	char *text; /* the request's lines, ours (wiped when freed) */
	size_t len;
	enum set_stage stage;
	const char *scan; /* SET_NAMED: the next line, NULL at the end */
	uint8_t (*named)[KEY_LEN];
	size_t n_named, named_cap, next_copy;
	bool replace;
	size_t n_keys; /* public_key lines */
	struct config *c;
	struct uapi_set_parse *sp;
	unsigned turns;
	uint64_t longest; /* ns, of the turns so far */
	char err[256];
};

static void set_request_free(struct set_request *sr)
{
	if (!sr)
		return;
	uapi_set_parse_free(sr->sp);
	config_free(sr->c);
	free(sr->named);
	if (sr->text) {
		sodium_memzero(sr->text, sr->len);
		free(sr->text);
	}
	free(sr);
}

static int set_request_new(struct device *dev, const char *lines, struct set_request **out)
{
	struct set_request *sr = calloc(1, sizeof(*sr));

	if (!sr)
		return -ENOMEM;
	sr->dev = dev;
	sr->len = strlen(lines);
	sr->text = malloc(sr->len + 1);
	if (!sr->text) {
		free(sr);
		return -ENOMEM;
	}
	memcpy(sr->text, lines, sr->len + 1);
	sr->scan = sr->text;
	*out = sr;
	return 0;
}

/* SET_NAMED, for one line: the peers a set touches, before the parse consumes its lines, are
 * those its public_key lines name, and the present holders of the prefixes its allowed_ip
 * lines give (a prefix given to another peer leaves its holder, which must be in the edit
 * for that); and whether replace_peers=true is among the lines. 0 or -ENOMEM. */
static int named_line(struct set_request *sr, const char *l)
{
	static const char pk[] = "public_key=", ai[] = "allowed_ip=";
	char value[KEY_HEX_LEN]; /* a key's 64 digits, or a prefix, and a NUL */
	uint8_t key[KEY_LEN];
	struct ip_prefix pfx;
	struct peer *p;
	int ret = 0;

	if (!strncmp(l, "replace_peers=true", 18) && (l[18] == '\n' || l[18] == '\r' || !l[18]))
		sr->replace = true;
	if (!strncmp(l, pk, sizeof(pk) - 1)) {
		line_value(l + sizeof(pk) - 1, value, sizeof(value));
		sr->n_keys++;
		/* A bad key is the parse's to refuse. */
		if (!sr->replace && !key_from_hex(key, value))
			ret = named_add(&sr->named, &sr->n_named, &sr->named_cap, key);
		sodium_memzero(key, sizeof(key));
	} else if (!sr->replace && !strncmp(l, ai, sizeof(ai) - 1) && l[sizeof(ai) - 1] != '-') {
		line_value(l + sizeof(ai) - 1, value, sizeof(value));
		if (!strchr(value, '/') || addr_parse_prefix(value, &pfx))
			return 0;
		addr_prefix_mask(&pfx);
		p = allowedips_lookup_exact(sr->dev->allowedips, &pfx);
		if (p)
			ret = named_add(&sr->named, &sr->n_named, &sr->named_cap,
					peer_public_key(p));
	}
	return ret;
}

/* The end of SET_NAMED: the named peers sorted, each once, and the config to edit: the
 * interface's part (not a copy of every peer, which would make each set cost as much as
 * the device holds) with room for the named peers (none with replace_peers=true) and for
 * every peer the lines may add: growing the room later copies it whole, milliseconds in one
 * turn at 10,000 peers. */
static int named_done(struct set_request *sr)
{
	size_t k = 0;

	/* Replacing every peer, the job needs no list of those named (it could be 10,000 long,
	 * and its sort a few milliseconds). */
	if (sr->replace)
		sr->n_named = 0;
	if (sr->n_named)
		device_sort(sr->named, sr->n_named, KEY_LEN, key_cmp);
	for (size_t i = 0; i < sr->n_named; i++)
		if (!k || memcmp(sr->named[k - 1], sr->named[i], KEY_LEN))
			memmove(sr->named[k++], sr->named[i], KEY_LEN);
	sr->n_named = k;
	return device_interface_config(sr->dev, (sr->replace ? 0 : sr->n_named) + sr->n_keys,
				       &sr->c);
}

/* SET_COPY, for one named peer: its present state, which the set's lines then edit. */
static int copy_peer(struct set_request *sr, const uint8_t key[KEY_LEN])
{
	struct config_peer *cp = &sr->c->peers[sr->c->n_peers];
	struct peer *p = device_peer_by_key(sr->dev, key);
	int ret;

	if (!p)
		return 0;
	ret = device_to_config_peer(sr->dev, p, cp);
	if (ret)
		return ret;
	/* No endpoint unless the set gives one: the peer keeps its own, also if it roams while
	 * a set in slices is applied, which a copy of the present one would undo. */
	memset(&cp->endpoint, 0, sizeof(cp->endpoint));
	sr->c->n_peers++;
	return 0;
}

/* One batch of the present stage. 0 or -errno with sr->err. */
static int set_batch(struct set_request *sr)
{
	int ret = 0;

	switch (sr->stage) {
	case SET_NAMED:
		for (int i = 0; i < SET_BATCH && sr->scan && !ret; i++) {
			ret = named_line(sr, sr->scan);
			sr->scan = strchr(sr->scan, '\n');
			sr->scan = sr->scan && sr->scan[1] ? sr->scan + 1 : NULL;
		}
		if (!ret && !sr->scan) {
			ret = named_done(sr);
			sr->stage = sr->replace ? SET_PARSE : SET_COPY;
		}
		break;
	case SET_COPY:
		for (int i = 0; i < SET_BATCH && sr->next_copy < sr->n_named && !ret; i++)
			ret = copy_peer(sr, sr->named[sr->next_copy++]);
		if (!ret && sr->next_copy == sr->n_named)
			sr->stage = SET_PARSE;
		break;
	case SET_PARSE:
		if (!sr->sp &&
		    (ret = uapi_set_parse_new(sr->c, (sr->replace ? 0 : sr->n_named) + sr->n_keys,
					      sr->text, &sr->sp)))
			break;
		ret = uapi_set_parse_step(sr->sp, SET_BATCH, sr->err, sizeof(sr->err));
		if (ret > 0)
			return 0;
		if (!ret)
			sr->stage = SET_DONE;
		else
			log_warn("%s: control socket: set refused, nothing changed: %s",
				 sr->dev->ifname, sr->err);
		return ret;
	case SET_DONE:
		break;
	}
	if (ret)
		snprintf(sr->err, sizeof(sr->err), "%s", strerror(-ret));
	return ret;
}

/* Parses until budget_ns have gone by (0: to the end). 1 while lines are left, 0 once
 * parsed whole, -errno (the set refused, sr->err says why). */
static int set_request_step(struct set_request *sr, uint64_t budget_ns)
{
	uint64_t start = device_now(), d;
	int ret;

	sr->turns++;
	while (sr->stage != SET_DONE) {
		ret = set_batch(sr);
		if (ret)
			return ret;
		d = device_now() - start;
		if (sr->stage != SET_DONE && budget_ns && d >= budget_ns) {
			sr->longest = d > sr->longest ? d : sr->longest;
			return 1;
		}
	}
	d = device_now() - start;
	sr->longest = d > sr->longest ? d : sr->longest;
	if (sr->turns > 1)
		log_info("%s: control socket: a set of %zu peers parsed over %u turns of the "
			 "event loop (the longest %.1f ms)",
			 sr->dev->ifname, sr->c->n_peers, sr->turns,
			 (double)sr->longest / NSEC_PER_MSEC);
	return 0;
}

/* A set changes the peers it names and nothing else: it edits a config of the interface and
 * of those peers only, and the job applies it: device_apply_change() removes of the peers it
 * named those the edit took out. With replace_peers=true the config holds every peer there
 * will be. *job is the rest (device_job_new()). */
static int set_request_job(struct set_request *sr, struct device_job **job)
{
	struct device_change how = {
		.scope = sr->replace ? DEVICE_REPLACE_ALL : DEVICE_NAMED,
		.named = (const uint8_t(*)[KEY_LEN])sr->named,
		.n_named = sr->n_named,
	};
	int ret = device_job_new(sr->dev, sr->c, &how, job);

	sr->c = NULL; /* the job's, also on error */
	return ret;
}

/* The answer to a set or a reload; a refused reload says why (reload=1 is ours: wg never
 * reads this one). */
static void answer(struct evbuffer *out, int ret, bool reload, char *err)
{
	if (ret && reload) {
		for (char *c = err; *c; c++)
			if (*c == '\n' || *c == '\r')
				*c = ' ';
		evbuffer_add_printf(out, "error=%s\n", err);
	}
	/* Negative, as wireguard-go answers and as `wg` expects. */
	evbuffer_add_printf(out, "errno=%d\n\n", ret);
}

/* Whether pd holds work for later turns: a set being parsed or a job. */
static bool pending_work(const struct pending *pd)
{
	return pd->set || pd->job;
}

/* The next turn of what pd holds: its set's parse, then its job, until budget_ns have gone
 * by (0: to the end). 1 while some is left, 0 when done, -errno. */
static int pending_step(struct pending *pd, uint64_t budget_ns)
{
	uint64_t start = device_now(), used;
	int ret;

	if (pd->set) {
		ret = set_request_step(pd->set, budget_ns);
		if (ret == 1)
			return 1;
		if (!ret)
			ret = set_request_job(pd->set, &pd->job);
		else
			snprintf(pd->err, sizeof(pd->err), "%s", pd->set->err);
		set_request_free(pd->set);
		pd->set = NULL;
		if (ret)
			return ret;
		used = device_now() - start;
		if (budget_ns && used >= budget_ns)
			return 1;
		budget_ns -= budget_ns ? used : 0;
	}
	ret = device_job_step(pd->job, budget_ns);
	if (ret < 0)
		snprintf(pd->err, sizeof(pd->err), "%s", device_job_err(pd->job));
	return ret;
}

/* The end of what pd held: its answer, and its parse or job goes. */
static void job_answer(struct evbuffer *out, struct pending *pd, int ret)
{
	if (out)
		answer(out, ret, pd->reload, pd->err);
	set_request_free(pd->set);
	pd->set = NULL;
	device_job_free(pd->job);
	pd->job = NULL;
}

/* Starts one request (without the blank line that ended it): answers it at once, or leaves
 * in pd what later turns do (a set's parse, a job, or with split_get a get's peers). */
static void request_begin(struct device *dev, const char *config_path, char *request,
			  struct evbuffer *out, bool split_get, struct pending *pd)
{
	char *nl = strchr(request, '\n'), *rest = nl ? nl + 1 : request + strlen(request);
	int ret;

	memset(pd, 0, sizeof(*pd));
	if (nl)
		*nl = '\0';
	if (!strcmp(request, "get=1") || !strcmp(request, "get=sealnet")) {
		if (*rest) {
			evbuffer_add_printf(out, "errno=%d\n\n", -EINVAL);
			return;
		}
		pd->get_ours = request[4] == 's';
		get_header(dev, out, pd->get_ours, config_path);
		if (split_get) {
			device_cursor_open(dev, &pd->cursor);
			pd->get = true;
			return;
		}
		pd->cursor.next = TAILQ_FIRST(&dev->peers);
		get_peers(out, pd->get_ours, &pd->cursor, SIZE_MAX);
		return;
	}
	if (!strcmp(request, "set=1")) {
		ret = set_request_new(dev, rest, &pd->set);
	} else if (!strcmp(request, "reload=1") && !*rest) {
		pd->reload = true;
		if (!config_path) {
			snprintf(pd->err, sizeof(pd->err),
				 "started without a config file: nothing to reload");
			ret = -EINVAL;
		} else {
			ret = device_reload_job(dev, config_path, &pd->job, pd->err,
						sizeof(pd->err));
		}
	} else {
		ret = -EINVAL;
	}
	if (ret)
		answer(out, ret, pd->reload, pd->err);
}

void uapi_handle(struct device *dev, const char *config_path, char *request, struct evbuffer *out)
{
	struct pending pd;

	request_begin(dev, config_path, request, out, false, &pd);
	if (pending_work(&pd))
		job_answer(out, &pd, pending_step(&pd, 0));
}

/* Drains len bytes of what a client wrote, wiping them first: libevent frees its buffers
 * without, and a set carries keys. */
static void drain_wiped(struct evbuffer *in, size_t len)
{
	struct evbuffer_iovec v[16];
	size_t left = len;

	while (left) {
		int n = evbuffer_peek(in, (ev_ssize_t)left, NULL, v, 16);

		if (n <= 0)
			break;
		for (int i = 0; i < n && i < 16; i++) {
			size_t k = v[i].iov_len < left ? v[i].iov_len : left;

			sodium_memzero(v[i].iov_base, k);
			evbuffer_drain(in, k);
			left -= k;
		}
	}
}

static void client_free(struct uapi_client *cl)
{
	struct evbuffer *in = bufferevent_get_input(cl->bev);

	if (cl->pd.get)
		device_cursor_close(&cl->pd.cursor);
	/* Its job runs on: what was asked is done, only the answer has nowhere to go. */
	if (cl->u->job_client == cl)
		cl->u->job_client = NULL;
	TAILQ_REMOVE(&cl->u->clients, cl, link);
	drain_wiped(in, evbuffer_get_length(in));
	bufferevent_free(cl->bev);
	listener_closed(cl->u->guard);
	free(cl);
}

/* The next UAPI_GET_PEERS peers of a get; the socket's write callback asks for more. */
static void get_more(struct uapi_client *cl)
{
	if (get_peers(bufferevent_get_output(cl->bev), cl->pd.get_ours, &cl->pd.cursor,
		      UAPI_GET_PEERS)) {
		device_cursor_close(&cl->pd.cursor);
		cl->pd.get = false;
	}
}

/* Whether the client waits on something of its own: a get being written, or its job. */
static bool client_busy(const struct uapi_client *cl)
{
	return cl->pd.get || (pending_work(&cl->u->job) && cl->u->job_client == cl);
}

static void client_read(struct bufferevent *bev, void *arg);
static void job_again(struct uapi *u);

/* The job's next turn; at its end, the answer, and the requests that waited are served. */
static void job_cb(evutil_socket_t fd, short what, void *arg)
{
	struct uapi *u = arg;
	struct uapi_client *cl, *next;
	int ret = pending_step(&u->job, DEVICE_TURN_NS);

	if (ret == 1) {
		job_again(u);
		return;
	}
	job_answer(u->job_client ? bufferevent_get_output(u->job_client->bev) : NULL, &u->job, ret);
	if (u->job_client)
		bufferevent_set_timeouts(u->job_client->bev, &timeout, &timeout);
	u->job_client = NULL;
	if (u->hup) {
		u->hup = false;
		uapi_reload(u);
	}
	for (cl = TAILQ_FIRST(&u->clients); cl && !pending_work(&u->job); cl = next) {
		next = TAILQ_NEXT(cl, link);
		client_read(cl->bev, cl); /* may free cl */
	}
}

/* The job's next turn comes after the loop has polled the sockets (a timer of 0 s: an
 * event made active again from its own callback could run again before any I/O). */
static void job_again(struct uapi *u)
{
	static const struct timeval now;

	evtimer_add(u->job_ev, &now);
}

void uapi_reload(struct uapi *u)
{
	struct pending pd = { .reload = true };
	int ret;

	if (!u->config_path) {
		log_notice("%s: SIGHUP: no config file to reload (started without one)",
			   u->dev->ifname);
		return;
	}
	if (pending_work(&u->job)) {
		if (!u->hup)
			log_info("%s: SIGHUP: the reload waits for the change that runs",
				 u->dev->ifname);
		u->hup = true;
		return;
	}
	/* Refused or failed: logged, and the log is where its answer goes. */
	if (device_reload_job(u->dev, u->config_path, &pd.job, pd.err, sizeof(pd.err)))
		return;
	ret = pending_step(&pd, DEVICE_TURN_NS);
	if (ret != 1) {
		job_answer(NULL, &pd, ret);
		return;
	}
	u->job = pd;
	u->job_client = NULL;
	job_again(u);
}

static void client_request(struct uapi_client *cl, char *req)
{
	struct uapi *u = cl->u;
	struct evbuffer *out = bufferevent_get_output(cl->bev);
	int ret;

	request_begin(u->dev, u->config_path, req, out, true, &cl->pd);
	if (cl->pd.get) {
		get_more(cl);
		return;
	}
	if (!pending_work(&cl->pd))
		return;
	/* A small set or job ends in its first turn, answered at once. */
	ret = pending_step(&cl->pd, DEVICE_TURN_NS);
	if (ret != 1) {
		job_answer(out, &cl->pd, ret);
		return;
	}
	u->job = cl->pd;
	u->job_client = cl;
	memset(&cl->pd, 0, sizeof(cl->pd));
	/* It sends nothing while it waits, however long the job: no read timeout meanwhile. */
	bufferevent_set_timeouts(cl->bev, NULL, &timeout);
	job_again(u);
}

static void client_read(struct bufferevent *bev, void *arg)
{
	struct uapi_client *cl = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr end;
	char *req;
	size_t len;

	/* One request at a time per client, none while a job runs. */
	while (!cl->closing && !pending_work(&cl->u->job) && !cl->pd.get) {
		struct evbuffer_ptr from;

		if (evbuffer_ptr_set(in, &from, cl->searched, EVBUFFER_PTR_SET))
			evbuffer_ptr_set(in, &from, 0, EVBUFFER_PTR_SET);
		end = evbuffer_search(in, "\n\n", 2, &from);
		if (end.pos < 0) {
			len = evbuffer_get_length(in);
			cl->searched = len ? len - 1 : 0; /* the "\n" that may start one */
			break;
		}
		cl->searched = 0;
		len = (size_t)(end.pos + 1);
		req = malloc(len + 1);
		if (!req) {
			cl->closing = true;
			break;
		}
		evbuffer_copyout(in, req, len);
		req[len] = '\0';
		drain_wiped(in, len + 1);
		if (len && req[len - 1] == '\n')
			req[len - 1] = '\0';
		client_request(cl, req);
		sodium_memzero(req, len);
		free(req);
	}
	if (evbuffer_get_length(in) > UAPI_MAX_REQUEST) {
		log_warn("%s: control socket: request over %u bytes, dropping the client",
			 cl->u->dev->ifname, UAPI_MAX_REQUEST);
		cl->closing = true;
		if (cl->pd.get) { /* what it asked for last is not wanted any more */
			device_cursor_close(&cl->pd.cursor);
			cl->pd.get = false;
		}
	}
	if (cl->closing && !client_busy(cl) && !evbuffer_get_length(bufferevent_get_output(bev)))
		client_free(cl);
}

/* The output has drained: more of a get, then the requests that followed it. */
static void client_write(struct bufferevent *bev, void *arg)
{
	struct uapi_client *cl = arg;

	if (cl->pd.get) {
		get_more(cl);
		if (cl->pd.get)
			return;
	}
	if (!cl->closing) {
		client_read(bev, cl);
		return;
	}
	if (!client_busy(cl) && !evbuffer_get_length(bufferevent_get_output(bev)))
		client_free(cl);
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
	struct uapi_client *cl = arg;

	/* EOF: the client has sent everything; answers still queued or still to come (a get
	 * being written, a job) go out first. */
	if ((what & BEV_EVENT_EOF) && !(what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) &&
	    (client_busy(cl) || evbuffer_get_length(bufferevent_get_output(bev)))) {
		cl->closing = true;
		return;
	}
	client_free(cl);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int socklen, void *arg)
{
	struct uapi *u = arg;
	struct uapi_client *cl;

	cl = calloc(1, sizeof(*cl));
	if (!cl) {
		close(fd);
		return;
	}
	cl->u = u;
	cl->bev = bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
	if (!cl->bev) {
		close(fd);
		free(cl);
		return;
	}
	TAILQ_INSERT_TAIL(&u->clients, cl, link);
	listener_opened(u->guard);
	bufferevent_setcb(cl->bev, client_read, client_write, client_event, cl);
	bufferevent_set_timeouts(cl->bev, &timeout, &timeout);
	bufferevent_enable(cl->bev, EV_READ | EV_WRITE);
}

/* A socket file left by a crashed daemon is removed; one that answers belongs to a running
 * daemon, and we refuse to take its interface name. */
static int claim_path(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, ret = 0;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (!connect(fd, (struct sockaddr *)&sun, sizeof(sun)))
		ret = -EADDRINUSE;
	else if (errno == ECONNREFUSED)
		unlink(path);
	close(fd);
	return ret;
}

int uapi_open(struct device *dev, const char *dir, const char *config_path, struct uapi **out)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char what[IFNAMSIZ + 32];
	struct uapi *u;
	mode_t old;
	int fd = -1, ret;

	if (!dir)
		dir = PATHS_SOCKET_DIR;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->dev = dev;
	TAILQ_INIT(&u->clients);
	u->job_ev = evtimer_new(dev->base, job_cb, u);
	if (!u->job_ev) {
		free(u);
		return -ENOMEM;
	}
	if (config_path && !(u->config_path = strdup(config_path))) {
		ret = -ENOMEM;
		goto err;
	}
	if ((size_t)snprintf(u->path, sizeof(u->path), "%s/%s.sock", dir, dev->ifname) >=
	    sizeof(u->path)) {
		ret = -ENAMETOOLONG;
		goto err;
	}
	if (mkdir(dir, 0755) && errno != EEXIST) {
		ret = -errno;
		goto err;
	}
	ret = claim_path(u->path);
	if (ret)
		goto err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		goto err;
	}
	memcpy(sun.sun_path, u->path, sizeof(u->path));
	old = umask(077);
	ret = bind(fd, (struct sockaddr *)&sun, sizeof(sun)) ? -errno : 0;
	umask(old);
	if (ret)
		goto err_fd;
	if (chmod(u->path, 0600) || listen(fd, UAPI_BACKLOG)) {
		ret = -errno;
		goto err_unlink;
	}
	u->listener = evconnlistener_new(dev->base, accept_cb, u,
					 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (!u->listener) {
		ret = -ENOMEM;
		goto err_unlink;
	}
	snprintf(what, sizeof(what), "%s: control socket", dev->ifname);
	ret = listener_new(u->listener, UAPI_MAX_CLIENTS, what, &u->guard);
	if (ret)
		goto err_listener;
	*out = u;
	return 0;
err_listener:
	evconnlistener_free(u->listener);
	fd = -1; /* closed with it */
err_unlink:
	unlink(u->path);
err_fd:
	if (fd >= 0)
		close(fd);
err:
	event_free(u->job_ev);
	free(u->config_path);
	free(u);
	return ret;
}

void uapi_close(struct uapi *u)
{
	struct uapi_client *cl;

	if (!u)
		return;
	while ((cl = TAILQ_FIRST(&u->clients)))
		client_free(cl);
	/* Stopped between two slices: each is whole, what was applied stays. */
	set_request_free(u->job.set);
	device_job_free(u->job.job);
	event_free(u->job_ev);
	listener_free(u->guard);
	if (u->listener)
		evconnlistener_free(u->listener);
	unlink(u->path);
	free(u->config_path);
	free(u);
}
