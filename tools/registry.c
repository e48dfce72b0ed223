/* registry: joins a cluster whose peers are listed in etcd (docs/cluster.md, "Peer registry").
 *
 * It publishes this node under PREFIX/nodes/<base64url public key> with a lease that it keeps
 * alive, so the entry of a node that dies expires; it reads every entry under PREFIX/nodes/,
 * watches them, and turns them into peers of the running daemon through the control socket,
 * the same all-or-nothing set=1 that `sealnet set` and `wg set` send: one request per peer
 * that changed, so the other peers keep their sessions.
 *
 * The state, and why it is kept:
 *  - entries: the etcd keys as last read (range at connect, then watch events). Every
 *    decision is made from the whole of it, so a transaction that deletes one key and puts
 *    another (a key rotation) is seen as one change.
 *  - the managed peers: those this registry put into the daemon, with what it set. Only they
 *    are ever updated or removed: a peer configured by hand is left alone. The list is kept in
 *    a state file so a restarted registry still knows which peers are its own.
 *
 * Validation is deterministic so every node refuses the same entries: an entry must parse
 * (registry_entry.c: its claims inside the cluster's ranges, --cluster-cidr, its endpoints
 * outside), and its claims (overlay address, pod subnet) must not overlap those of an entry
 * created earlier (lower create_revision); the later claimant is refused, never applied.
 * Each node then refuses for itself what would take a prefix from a peer it does not manage
 * or route its underlay, etcd or a peer's endpoint into the tunnel (local_clash). Our own
 * entry, deleted or overwritten by another writer, is published again (check_own_entry).
 * Whatever came from etcd is escaped before it is logged.
 *
 * Access rules come from two more keys, PREFIX/rules/all and PREFIX/rules/<this node>, each a
 * JSON list of rules. The daemon's list is replaced whole (replace_rules=true): its own rules
 * first, those of its config file, then this node's, then the cluster's. The daemon's own are
 * what it had before the registry changed anything, and whatever it has again after it
 * restarts or reloads: the registry tells them apart from its own by remembering the list it
 * sent. A rules key that fails to parse is refused as a whole, and the rules last accepted
 * from it stay.
 *
 * etcd unreachable: nothing changes in the daemon; we retry with exponential backoff, and
 * say so once per change of state, in the log and in the metrics file. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <json-c/json.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "etcd.h"
#include "firewall.h"
#include "ipc.h"
#include "key.h"
#include "log.h"
#include "registry_entry.h"
#include "registry_request.h"
#include "subcommands.h"

#define DEFAULT_PREFIX "/sealnet/default"
#define DEFAULT_TTL 10
/* Per rules key: far more than a cluster's policy needs, few enough that the daemon's list
 * stays short to walk for the first packet of every flow. */
#define MAX_RULES 128
#define MAX_RULES_LEN (32 * 1024)
/* Unary requests to etcd: long enough for a loaded server, short enough that a dead one
 * is noticed well within a lease. */
#define ETCD_TIMEOUT_MS 2000
#define BACKOFF_MIN 0.5
#define BACKOFF_MAX 10.0
/* How often the daemon is asked for its key, port and peers: every second, or, when its
 * answer takes long (a get of every peer, on the daemon's event loop), seldom enough that the
 * asking takes at most 1/TICK_SHARE of the daemon's time. */
#define TICK_SEC 1.0
#define TICK_SHARE 20
/* How long after the first change seen in the watch the peers are decided again: the changes
 * of a burst (nodes joining one after another, a lease of many entries expiring) then go to
 * the daemon in one set, each of which costs the daemon a pass over its peers. Short beside
 * a lease, the time a node takes to be dropped. */
#define BATCH_WINDOW_SEC 0.1
/* Changes per set=1 at most: a set of many new peers costs the daemon of today (which applies
 * its whole configuration again for each set, issue 14) about as much per peer as the peers it
 * has, and a set must end well within the control socket's timeout and a third of a lease. */
#define SET_MAX_CHANGES 100

struct entry {
	char *key, *value;
	int64_t create_revision, mod_revision, lease;
	int64_t parsed_revision; /* the mod_revision that valid, why and node describe */
	bool valid;
	char why[256];
	struct node node;
	/* Refusals and hand-configured clashes are logged once per revision and reason. */
	int64_t reported_revision;
	char reported[640];
	bool accepted; /* valid, and no older entry claims the same (last reconcile) */
	bool wanted;   /* accepted, and to be a peer here: not ours, not claiming our own */
};

/* Access rules as the daemon writes them ("allow tcp/5201 from group:web"), in order. */
struct rule_list {
	char (*text)[FIREWALL_RULE_TEXT_MAX];
	size_t n;
};

/* A list of rules in its three parts, in the order they apply. */
struct rule_set {
	struct rule_list own, node, cluster;
};

/* PREFIX/rules/<this node> or PREFIX/rules/all. */
struct rules_source {
	const char *what;       /* "node", "cluster": in logs */
	char key[512];          /* the key last looked at ("": none yet) */
	int64_t revision;       /* its mod_revision last looked at; 0 absent */
	struct rule_list rules; /* as last accepted: a refused revision leaves them */
	bool refused;           /* the key's current revision was refused */
};

struct managed {
	uint8_t public_key[KEY_LEN];
	struct node applied;
	bool known; /* applied is what we set (false: named by the state file, or lost) */
	bool wanted; /* an accepted entry wants it (during reconcile) */
};

struct registry {
	const char *ifname, *etcd_url, *metrics_path;
	const char *cacert, *cert, *key; /* TLS to etcd */
	char state_path[256];
	char base[256];         /* PREFIX/: what is read and watched */
	char prefix[256];       /* PREFIX/nodes/ */
	char rules_prefix[256]; /* PREFIX/rules/ */
	unsigned ttl;
	struct etcd *etcd;

	/* This node, as the command line describes it. */
	char *endpoints[REGISTRY_MAX_ENDPOINTS];
	size_t n_endpoints;
	char overlay[ADDR_STRLEN];
	char pod_subnets[REGISTRY_MAX_POD_SUBNETS][ADDR_STRLEN]; /* one per family */
	size_t n_pod_subnets;
	char *groups[REGISTRY_MAX_GROUPS];
	size_t n_groups;
	struct node self_claims; /* our entry as parsed: its overlay and pod subnet */
	/* What the claims of every entry must lie in: configuration, never etcd's. */
	struct cluster_cidrs cidrs;
	/* etcd's address, when the URL gives one: no claim may take the route to it. */
	struct ip_addr etcd_addr;
	bool has_etcd_addr;

	/* This node, as the daemon describes it. */
	bool have_self, daemon_up, daemon_reported, no_key_reported, no_endpoint_reported;
	uint8_t self_key[KEY_LEN];
	uint16_t port;

	/* etcd. */
	int64_t lease;
	char published_key[512]; /* where our entry is; "" before the first put */
	struct node published;   /* what it says, as every node parses it */
	bool published_valid;    /* and it does parse: only then can a change be told */
	bool up, synced, down_reported, need_publish;
	bool resync; /* entries lost an event: read them whole again */
	unsigned long reconnects;
	double backoff, next_try, next_keepalive;

	struct entry *entries;
	size_t n_entries;
	bool dirty;
	double next_reconcile;
	size_t n_valid, n_refused;

	struct managed *peers;
	size_t n_peers;
	bool groups_unsupported;
	unsigned long applies, apply_errors;

	/* Access rules. rule_entries are the keys under rules_prefix, kept as entries are.
	 * seen is the daemon's list as last read; sent what we last sent (or, before that,
	 * what the state file says a previous run sent); own the daemon's own rules, from
	 * its config file or set by hand; refused a list the daemon refused, not to be sent
	 * again. */
	struct entry *rule_entries;
	size_t n_rule_entries;
	struct rule_list own, seen, refused;
	struct rule_set sent;
	bool rules_seen, has_refused, rules_unsupported_reported;
	struct rules_source node_rules, cluster_rules;

	char *metrics_written;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage_text(FILE *f)
{
	fprintf(f,
	        "Usage: %s registry <interface> --etcd <url> --overlay <address>\n"
	        "         --cluster-cidr <prefix>... "
	        "[--pod-subnet <prefix>]... [--endpoint <ip>:<port>]...\n         "
	        "[--groups <name>[,<name>...]]\n"
	        "         [--prefix <path>] [--ttl <seconds>] [--metrics <file>] "
	        "[--state <file>]\n"
	        "         [--cacert <file>] [--cert <file> --key <file>] [-v]\n"
	        "Publishes this node under PREFIX/nodes/, makes peers of the others there,\n"
	        "and puts the access rules of PREFIX/rules/<node> and PREFIX/rules/all\n"
	        "after the daemon's own (docs/cluster.md).\n",
	        PROG_NAME);
}

static int usage(void)
{
	usage_text(stderr);
	return EXIT_USAGE;
}

/* --- entries ------------------------------------------------------------------------- */

static const char *key_text(char b64[KEY_B64_LEN], const uint8_t key[KEY_LEN])
{
	key_to_base64(b64, key);
	return b64;
}

/* --- access rules: lists and parsing -------------------------------------------------- */

static void rules_free(struct rule_list *l)
{
	free(l->text);
	l->text = NULL;
	l->n = 0;
}

static int rules_add(struct rule_list *l, const char *text)
{
	char(*grown)[FIREWALL_RULE_TEXT_MAX];

	if (strlen(text) >= FIREWALL_RULE_TEXT_MAX)
		return -EINVAL;
	grown = realloc(l->text, (l->n + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	l->text = grown;
	snprintf(l->text[l->n++], FIREWALL_RULE_TEXT_MAX, "%s", text);
	return 0;
}

static int rules_append(struct rule_list *dst, const struct rule_list *src)
{
	int ret = 0;

	for (size_t i = 0; i < src->n && !ret; i++)
		ret = rules_add(dst, src->text[i]);
	return ret;
}

/* Replaces dst with a copy of src; dst is left as it was on failure. */
static int rules_copy(struct rule_list *dst, const struct rule_list *src)
{
	struct rule_list l = {NULL, 0};
	int ret = rules_append(&l, src);

	if (ret) {
		rules_free(&l);
		return ret;
	}
	rules_free(dst);
	*dst = l;
	return 0;
}

/* Whether the first a->n rules of b are a's (a prefix of b, or b itself). */
static bool rules_prefix_of(const struct rule_list *a, const struct rule_list *b)
{
	if (a->n > b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->text[i], b->text[i]))
			return false;
	return true;
}

static bool rules_equal(const struct rule_list *a, const struct rule_list *b)
{
	return a->n == b->n && rules_prefix_of(a, b);
}

/* Checks the value of a rules key: a JSON list of at most MAX_RULES strings, each
 * `allow|deny PROTO[/PORT[-PORT]] [from SOURCE]` as firewall_parse_rule() reads it (the
 * daemon's own parser, so what passes here passes there). Fills out with the normalised
 * texts. Returns 0, or -EINVAL with the reason in why, out then empty: all or nothing. */
static int parse_rules(const char *value, size_t len, struct rule_list *out, char *why,
                       size_t why_len)
{
	struct json_object *a = NULL, *item;
	struct firewall_rule fr;
	char err[160];
	const char *s, *rest;
	size_t verb;
	int ret = -EINVAL;

	memset(out, 0, sizeof(*out));
	if (len > MAX_RULES_LEN || strlen(value) != len)
		return registry_refuse(why, why_len, "value of %zu bytes, not a list of rules", len);
	a = json_tokener_parse(value);
	if (!a || !json_object_is_type(a, json_type_array) ||
	    json_object_array_length(a) > MAX_RULES) {
		ret = registry_refuse(why, why_len, "value is not a JSON list of at most %d rules",
		             MAX_RULES);
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		item = json_object_array_get_idx(a, i);
		if (!json_object_is_type(item, json_type_string)) {
			ret = registry_refuse(why, why_len, "rule %zu is not a string", i + 1);
			goto out;
		}
		s = json_object_get_string(item);
		/* One rule per string: nothing may end a line of the request it goes into. */
		for (const char *c = s; *c; c++)
			if ((unsigned char)*c < 0x20 && *c != '\t') {
				ret = registry_refuse(why, why_len, "rule %zu has a control character",
				             i + 1);
				goto out;
			}
		verb = strcspn(s, " \t");
		rest = s + verb + strspn(s + verb, " \t");
		if ((verb != 5 || strncmp(s, "allow", 5)) && (verb != 4 || strncmp(s, "deny", 4))) {
			ret = registry_refuse(why, why_len, "rule %zu \"%.60s\": not allow or deny", i + 1,
			             s);
			goto out;
		}
		if (firewall_parse_rule(rest, s[0] == 'd', &fr, err, sizeof(err))) {
			ret = registry_refuse(why, why_len, "rule %zu \"%.60s\": %s", i + 1, s, err);
			goto out;
		}
		ret = rules_add(out, fr.text);
		if (ret) {
			snprintf(why, why_len, "%s", strerror(-ret));
			goto out;
		}
	}
	ret = 0;
out:
	if (ret)
		rules_free(out);
	json_object_put(a);
	return ret;
}

/* --- our own entry ------------------------------------------------------------------- */

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

	if (!r->n_pod_subnets)
		return 0;
	for (size_t i = 0; i < r->n_pod_subnets; i++) {
		both[i] = r->pod_subnets[i];
		if (!strchr(r->pod_subnets[i], ':') && strchr(r->pod_subnets[first], ':'))
			first = i;
	}
	if (add_string(o, "pod_subnet", r->pod_subnets[first]))
		return -ENOMEM;
	return r->n_pod_subnets > 1 ? add_strings(o, "pod_subnets", both, r->n_pod_subnets) : 0;
}

/* An etcd on this host tells us nothing about the address other nodes reach us on. */
static bool loopback(const char *ip)
{
	return !strncmp(ip, "127.", 4) || !strcmp(ip, "::1") || !strncmp(ip, "::ffff:127.", 11);
}

/* Our entry's key and JSON value (malloc'd, *value). The endpoints are the command line's,
 * or else the address we reach etcd from with the daemon's port. */
static int self_entry(struct registry *r, char *key, size_t key_len, char **value)
{
	struct json_object *o = json_object_new_object();
	char name[REGISTRY_KEY_NAME_LEN], b64[KEY_B64_LEN], ip[ADDR_STRLEN], ep[ADDR_STRLEN + 8];
	char stamp[32], *eps[1] = {ep};
	struct tm tm;
	time_t t = time(NULL);
	int ret = -ENOMEM;

	*value = NULL;
	if (!o)
		return -ENOMEM;
	registry_key_name(name, r->self_key);
	snprintf(key, key_len, "%s%s", r->prefix, name);
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (add_string(o, "public_key", key_text(b64, r->self_key)))
		goto out;
	if (r->n_endpoints) {
		if (add_strings(o, "endpoints", r->endpoints, r->n_endpoints))
			goto out;
	} else if (!etcd_local_ip(r->etcd, ip, sizeof(ip)) && !loopback(ip)) {
		snprintf(ep, sizeof(ep), strchr(ip, ':') ? "[%s]:%u" : "%s:%u", ip, r->port);
		if (add_strings(o, "endpoints", eps, 1))
			goto out;
	}
	if (add_string(o, "overlay", r->overlay) || add_pod_subnets(o, r) ||
	    add_strings(o, "groups", r->groups, r->n_groups) || add_string(o, "updated", stamp))
		goto out;
	*value = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	ret = *value ? 0 : -ENOMEM;
out:
	json_object_put(o);
	return ret;
}

/* --- state file and metrics ---------------------------------------------------------- */

/* Replaces path with text: a reader sees the old file or the new one, never half. The new
 * file gets a name mkstemp() makes in path's directory (O_EXCL: a link planted at a name
 * known in advance would have root write wherever it points), and is renamed over path,
 * which replaces a link there rather than following it. Mode 0644: node_exporter's
 * textfile collector may run as another user. */
static int write_file(const char *path, const char *text)
{
	char tmp[300];
	size_t len = strlen(text);
	int fd, ret = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0644))
		ret = -errno;
	else if (write(fd, text, len) != (ssize_t)len)
		ret = -EIO;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

/* The peers we added, one key a line; then the rules we last sent, each line saying whose it
 * is: "own RULE" (the daemon's), "node RULE" or "cluster RULE" (from etcd). */
static void save_state(struct registry *r)
{
	const struct rule_list *lists[3] = {&r->sent.own, &r->sent.node, &r->sent.cluster};
	const char *whose[3] = {"own", "node", "cluster"};
	size_t n = r->sent.own.n + r->sent.node.n + r->sent.cluster.n;
	char b64[KEY_B64_LEN], *text;
	size_t len;
	int ret;

	text = malloc(r->n_peers * KEY_B64_LEN + n * (FIREWALL_RULE_TEXT_MAX + 10) + 160);
	if (!text) {
		log_err("%s: registry: cannot save %s: %s", r->ifname, r->state_path,
		        strerror(ENOMEM));
		return;
	}
	len = (size_t)sprintf(text, "# peers sealnet registry added\n");
	for (size_t i = 0; i < r->n_peers; i++)
		len += (size_t)sprintf(text + len, "%s\n", key_text(b64, r->peers[i].public_key));
	len += (size_t)sprintf(text + len,
	                       "# access rules it sent: the daemon's own, then etcd's\n");
	for (int k = 0; k < 3; k++)
		for (size_t i = 0; i < lists[k]->n; i++)
			len += (size_t)sprintf(text + len, "%s %s\n", whose[k], lists[k]->text[i]);
	ret = write_file(r->state_path, text);
	if (ret)
		log_err("%s: registry: cannot save %s: %s", r->ifname, r->state_path,
		        strerror(-ret));
	free(text);
}

static int add_managed(struct registry *r, const uint8_t key[KEY_LEN], struct managed **out)
{
	struct managed *grown = realloc(r->peers, (r->n_peers + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	r->peers = grown;
	*out = &r->peers[r->n_peers++];
	memset(*out, 0, sizeof(**out));
	memcpy((*out)->public_key, key, KEY_LEN);
	return 0;
}

static struct managed *find_managed(struct registry *r, const uint8_t key[KEY_LEN])
{
	for (size_t i = 0; i < r->n_peers; i++)
		if (key_equal(r->peers[i].public_key, key))
			return &r->peers[i];
	return NULL;
}

static bool is_managed(const struct registry *r, const uint8_t key[KEY_LEN])
{
	for (size_t i = 0; i < r->n_peers; i++)
		if (key_equal(r->peers[i].public_key, key))
			return true;
	return false;
}

static void load_state(struct registry *r)
{
	struct rule_list *lists[3] = {&r->sent.own, &r->sent.node, &r->sent.cluster};
	const char *whose[3] = {"own ", "node ", "cluster "};
	struct managed *m;
	uint8_t key[KEY_LEN];
	char line[FIREWALL_RULE_TEXT_MAX + 16];
	bool rule;
	FILE *f = fopen(r->state_path, "re");

	if (!f) {
		if (errno != ENOENT)
			log_warn("%s: registry: cannot read %s: %s", r->ifname, r->state_path,
			         strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || !line[0])
			continue;
		rule = false;
		for (int k = 0; k < 3 && !rule; k++)
			if (!strncmp(line, whose[k], strlen(whose[k]))) {
				rules_add(lists[k], line + strlen(whose[k]));
				rule = true;
			}
		if (rule || key_from_base64(key, line) || find_managed(r, key) ||
		    add_managed(r, key, &m))
			continue;
	}
	fclose(f);
	/* Until etcd says otherwise, what was sent is what was last accepted, and until the
	 * daemon says otherwise its own rules are those sent as its own. */
	if (rules_copy(&r->own, &r->sent.own) || rules_copy(&r->node_rules.rules, &r->sent.node) ||
	    rules_copy(&r->cluster_rules.rules, &r->sent.cluster))
		log_err("%s: registry: cannot keep the rules of %s: %s", r->ifname, r->state_path,
		        strerror(ENOMEM));
	if (r->n_peers || r->sent.node.n || r->sent.cluster.n)
		log_info("%s: registry: from a previous run (%s): peers: %zu, rules from etcd: %zu",
		         r->ifname, r->state_path, r->n_peers, r->sent.node.n + r->sent.cluster.n);
}

struct text {
	char buf[4096];
	size_t len;
};

static void metric(struct text *t, const char *name, const char *type, const char *help,
                   const char *ifname, double value)
{
	int n;

	n = snprintf(t->buf + t->len, sizeof(t->buf) - t->len,
	             "# HELP %s %s\n# TYPE %s %s\n%s{interface=\"%s\"} %.17g\n", name, help, name,
	             type, name, ifname, value);
	if (n > 0 && (size_t)n < sizeof(t->buf) - t->len)
		t->len += (size_t)n;
}

/* The Prometheus text format, for node_exporter's textfile collector: the tool cannot reach
 * the daemon's /metrics, and a file outlives the process that wrote it. */
static void write_metrics(struct registry *r)
{
	struct text t = {.len = 0};
	int ret;

	if (!r->metrics_path)
		return;
	metric(&t, "sealnet_registry_etcd_up", "gauge",
	       "Whether etcd answered the registry's last request.", r->ifname, r->up);
	metric(&t, "sealnet_registry_daemon_up", "gauge",
	       "Whether the daemon answered on its control socket.", r->ifname, r->daemon_up);
	metric(&t, "sealnet_registry_entries", "gauge",
	       "Valid node entries in etcd, this node's included.", r->ifname, (double)r->n_valid);
	metric(&t, "sealnet_registry_refused_entries", "gauge",
	       "Entries refused: invalid, or claiming what an older entry claims.", r->ifname,
	       (double)r->n_refused);
	metric(&t, "sealnet_registry_peers", "gauge", "Peers the registry has put into the daemon.",
	       r->ifname, (double)r->n_peers);
	metric(&t, "sealnet_registry_reconnects_total", "counter",
	       "Times etcd was reached again after being unreachable.", r->ifname,
	       (double)r->reconnects);
	metric(&t, "sealnet_registry_applies_total", "counter",
	       "Changes (a peer, the access rules) the daemon accepted.", r->ifname,
	       (double)r->applies);
	metric(&t, "sealnet_registry_apply_errors_total", "counter",
	       "Changes (a peer, the access rules) the daemon refused or that could not be sent.",
	       r->ifname, (double)r->apply_errors);
	metric(&t, "sealnet_registry_rules", "gauge",
	       "Access rules from etcd in the daemon: this node's and the cluster's.", r->ifname,
	       (double)(r->sent.node.n + r->sent.cluster.n));
	metric(&t, "sealnet_registry_refused_rule_keys", "gauge",
	       "Rules keys for this node refused as invalid (the rules they had stay).", r->ifname,
	       (double)(r->node_rules.refused + r->cluster_rules.refused));
	if (r->metrics_written && !strcmp(r->metrics_written, t.buf))
		return;
	ret = write_file(r->metrics_path, t.buf);
	if (ret)
		log_warn("%s: registry: cannot write %s: %s", r->ifname, r->metrics_path,
		         strerror(-ret));
	free(r->metrics_written);
	r->metrics_written = strdup(t.buf);
}

/* --- the daemon ---------------------------------------------------------------------- */

static bool daemon_has(const struct ipc_device *dev, const uint8_t key[KEY_LEN])
{
	for (const struct ipc_peer *p = dev->first_peer; p; p = p->next)
		if (key_equal(p->public_key, key))
			return true;
	return false;
}

/* Sends q, built by registry_request_*. Returns 0 or -errno: the exchange's, -ENOMEM when
 * the request could not be built whole, or the daemon's refusal. */
static int send_request(struct registry *r, const struct registry_request *q)
{
	const char *text = registry_request_text(q);
	int ret, err;

	if (!text)
		return q->err ? q->err : -EINVAL;
	ret = ipc_command(r->ifname, text, &err);
	return ret ? ret : err;
}

/* The endpoint goes only when it is new, so that one the daemon learnt from the peer
 * (roaming) is not reset each time. */
static bool endpoint_is_new(const struct node *n, const struct managed *m)
{
	return n->endpoint[0] && (!m || !m->known || strcmp(m->applied.endpoint, n->endpoint));
}

/* One set=1 for one peer: added, or updated with its claims replacing what it had. */
static int apply_peer(struct registry *r, const struct node *n, const struct managed *m)
{
	struct registry_request q = {0};
	int ret;

	ret = registry_request_peer(&q, n, endpoint_is_new(n, m), !r->groups_unsupported);
	if (!ret)
		ret = send_request(r, &q);
	registry_request_free(&q);
	/* A daemon without access rules refuses the group lines as unknown keys: the peer is
	 * still worth having, without its groups. */
	if (ret == -EINVAL && !r->groups_unsupported) {
		ret = registry_request_peer(&q, n, endpoint_is_new(n, m), false);
		if (!ret)
			ret = send_request(r, &q);
		registry_request_free(&q);
		if (!ret) {
			r->groups_unsupported = true;
			log_notice("%s: registry: the daemon does not take group= (no access "
			           "rules): peers are added without their groups",
			           r->ifname);
		}
	}
	return ret;
}

static int remove_peer(struct registry *r, const uint8_t key[KEY_LEN])
{
	struct registry_request q = {0};
	int ret = registry_request_remove(&q, key);

	if (!ret)
		ret = send_request(r, &q);
	registry_request_free(&q);
	return ret;
}

/* The daemon's rules changed under us when they are neither what they were at our last look
 * nor what we sent: it restarted or reloaded (and has its config file's rules alone), or
 * someone set rules by hand. Its own rules are then all it has, but for ours when they are
 * still there with rules added after them (allow= on the control socket): those are its own
 * too. */
static void track_rules(struct registry *r, const struct ipc_device *dev)
{
	struct rule_list cur = {NULL, 0}, sent = {NULL, 0}, own = {NULL, 0};
	size_t ours = r->sent.node.n + r->sent.cluster.n;
	int ret = 0;

	/* No get=sealnet (wireguard-go): no rules to keep or to add to. */
	if (!dev->has_counters)
		return;
	for (const struct ipc_rule *x = dev->first_rule; x && !ret; x = x->next)
		ret = rules_add(&cur, x->text);
	if (ret || (r->rules_seen && rules_equal(&cur, &r->seen)))
		goto out;
	ret = rules_append(&sent, &r->sent.own);
	if (!ret)
		ret = rules_append(&sent, &r->sent.node);
	if (!ret)
		ret = rules_append(&sent, &r->sent.cluster);
	if (ret)
		goto out;
	if (rules_equal(&cur, &sent)) {
		ret = rules_append(&own, &r->sent.own);
	} else if (ours && rules_prefix_of(&sent, &cur)) {
		ret = rules_append(&own, &r->sent.own);
		for (size_t i = sent.n; i < cur.n && !ret; i++)
			ret = rules_add(&own, cur.text[i]);
		if (!ret)
			log_notice("%s: registry: %zu rules were added to the daemon's after ours: "
			           "they are its own now, and go before ours",
			           r->ifname, cur.n - sent.n);
	} else {
		ret = rules_append(&own, &cur);
		if (!ret && (r->rules_seen || cur.n))
			log_notice("%s: registry: the daemon's own access rules: %zu (%s)",
			           r->ifname, cur.n,
			           r->rules_seen ? "changed: restarted, reloaded or set by hand"
			                         : "what it has as the registry starts");
	}
	if (ret)
		goto out;
	rules_free(&r->own);
	r->own = own;
	own.text = NULL;
	rules_free(&r->seen);
	r->seen = cur;
	cur.text = NULL;
	r->rules_seen = r->dirty = true;
	/* A daemon that changed may take what it refused. */
	r->has_refused = false;
out:
	if (ret)
		log_err("%s: registry: cannot keep the daemon's rules: %s", r->ifname,
		        strerror(-ret));
	rules_free(&cur);
	rules_free(&sent);
	rules_free(&own);
}

/* Asks the daemon for its key and port, and whether our peers are still there (a restarted
 * daemon has lost them). A new key means the entry moves: a key rotation. */
static void daemon_tick(struct registry *r)
{
	struct ipc_device *dev = NULL;
	char b64[KEY_B64_LEN], old[KEY_B64_LEN];
	int ret;

	ret = ipc_get(r->ifname, &dev);
	if (ret) {
		if (r->daemon_up || !r->daemon_reported)
			log_warn("%s: registry: the daemon does not answer (%s); retrying",
			         r->ifname, ret == -ENODEV ? "not running" : strerror(-ret));
		r->daemon_up = false;
		r->daemon_reported = true;
		return;
	}
	if (!r->daemon_up)
		log_notice("%s: registry: the daemon answers (listen port %u)", r->ifname,
		           dev->listen_port);
	r->daemon_up = r->daemon_reported = true;
	track_rules(r, dev);
	if (!dev->has_public_key) {
		if (!r->no_key_reported)
			log_warn("%s: registry: the interface has no private key: nothing to "
			         "publish",
			         r->ifname);
		r->no_key_reported = true;
		goto out;
	}
	r->no_key_reported = false;
	if (!r->have_self || !key_equal(r->self_key, dev->public_key) ||
	    r->port != dev->listen_port) {
		if (r->have_self && !key_equal(r->self_key, dev->public_key))
			log_notice("%s: registry: the interface's key changed from %s to %s: "
			           "moving our entry",
			           r->ifname, key_text(old, r->self_key),
			           key_text(b64, dev->public_key));
		memcpy(r->self_key, dev->public_key, KEY_LEN);
		r->port = dev->listen_port;
		r->have_self = r->need_publish = r->dirty = true;
	}
	for (size_t i = 0; i < r->n_peers; i++) {
		if (!r->peers[i].known || daemon_has(dev, r->peers[i].public_key))
			continue;
		log_notice("%s: registry: peer %s is gone from the daemon (restarted?): adding "
		           "it again",
		           r->ifname, key_text(b64, r->peers[i].public_key));
		r->peers[i].known = false;
		r->dirty = true;
	}
out:
	ipc_device_free(dev);
}

/* --- reconciling --------------------------------------------------------------------- */

static struct entry *find_entry(struct entry *entries, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(entries[i].key, key))
			return &entries[i];
	return NULL;
}

/* Our entry: the one under our key, and, while a rotation is on its way to etcd, the one
 * still under the old key (published_key), which must not become a peer of ours either. */
static bool is_self(const struct registry *r, const struct entry *e)
{
	return key_equal(e->node.public_key, r->self_key) ||
	       (r->published_key[0] && !strcmp(e->key, r->published_key));
}

/* Logs a refusal or a clash once per revision of the entry and reason. The key and the
 * reason (which quotes the value) are whatever was written to etcd: escaped, so that no
 * newline in them can end the line and forge the next. */
static void report(struct registry *r, struct entry *e, int level, const char *what)
{
	char key[4 * 512], text[4 * sizeof(e->reported)];

	if (e->reported_revision == e->mod_revision && !strcmp(e->reported, what))
		return;
	e->reported_revision = e->mod_revision;
	snprintf(e->reported, sizeof(e->reported), "%s", what);
	log_msg(level, "%s: registry: %s: %s", r->ifname, registry_escape(key, sizeof(key), e->key),
	        registry_escape(text, sizeof(text), what));
}

/* Brings a source of rules to what etcd has: the key's rules when they parse, none when
 * there is no key. A refused revision leaves the rules as they were: a typo must neither open
 * a node (rules gone) nor close it (rules cut short). */
static void update_source(struct registry *r, struct rules_source *src, const char *key)
{
	struct entry *e = find_entry(r->rule_entries, r->n_rule_entries, key);
	struct rule_list l;
	char what[400];

	if (!e) {
		rules_free(&src->rules);
		src->revision = 0;
		src->refused = false;
	} else if (e->mod_revision != src->revision || strcmp(src->key, key)) {
		src->revision = e->mod_revision;
		if (parse_rules(e->value, strlen(e->value), &l, e->why, sizeof(e->why))) {
			snprintf(what, sizeof(what),
			         "refused: %s; this node keeps the %zu %s rules it had", e->why,
			         src->rules.n, src->what);
			report(r, e, LOG_WARNING, what);
			src->refused = true;
		} else {
			rules_free(&src->rules);
			src->rules = l;
			src->refused = false;
		}
	}
	snprintf(src->key, sizeof(src->key), "%s", key);
}

/* One set=1 that replaces the daemon's rules with l: "allow tcp/5201 from group:web" is
 * sent as allow=tcp/5201 from group:web. */
static int send_rules(struct registry *r, const struct rule_list *l, int *daemon_err)
{
	struct registry_request q = {0};
	const char *text;
	int ret;

	registry_request_rules(&q, l->text, l->n);
	text = registry_request_text(&q);
	ret = text ? ipc_command(r->ifname, text, daemon_err) : q.err;
	registry_request_free(&q);
	return ret;
}

/* Makes the daemon's rules its own, then this node's from etcd, then the cluster's: the first
 * rule that matches decides, so the node's operator has the last word, and a rule for one node
 * goes before those for all. Returns 0, or -errno when it must be tried again. */
static int reconcile_rules(struct registry *r)
{
	struct rule_list want = {NULL, 0};
	struct rule_set *sent = &r->sent;
	char key[512], name[REGISTRY_KEY_NAME_LEN];
	int ret, err = 0;

	registry_key_name(name, r->self_key);
	snprintf(key, sizeof(key), "%s%s", r->rules_prefix, name);
	update_source(r, &r->node_rules, key);
	snprintf(key, sizeof(key), "%sall", r->rules_prefix);
	update_source(r, &r->cluster_rules, key);
	if (!r->rules_seen) {
		if ((r->node_rules.rules.n || r->cluster_rules.rules.n) &&
		    !r->rules_unsupported_reported) {
			log_warn("%s: registry: the daemon has no access rules (it does not answer "
			         "get=sealnet): the rules from etcd are not applied",
			         r->ifname);
			r->rules_unsupported_reported = true;
		}
		return 0;
	}
	ret = rules_append(&want, &r->own);
	if (!ret)
		ret = rules_append(&want, &r->node_rules.rules);
	if (!ret)
		ret = rules_append(&want, &r->cluster_rules.rules);
	if (ret)
		goto out;
	if (!rules_equal(&want, &r->seen)) {
		/* Refused once, and logged: the same list would be refused again. */
		if (r->has_refused && rules_equal(&want, &r->refused))
			goto out;
		ret = send_rules(r, &want, &err);
		if (ret) {
			r->apply_errors++;
			log_err("%s: registry: cannot send the access rules: %s", r->ifname,
			        strerror(-ret));
			goto out;
		}
		if (err) {
			r->apply_errors++;
			log_err("%s: registry: the daemon refused the %zu access rules (%zu own, "
			        "%zu this node's, %zu the cluster's): %s; it keeps the %zu it had",
			        r->ifname, want.n, r->own.n, r->node_rules.rules.n,
			        r->cluster_rules.rules.n,
			        err == -ENOSPC ? "more than 64 group names" : strerror(-err),
			        r->seen.n);
			r->has_refused = !rules_copy(&r->refused, &want);
			goto out;
		}
		r->applies++;
		log_info("%s: registry: access rules: %zu (%zu own, %zu this node's, %zu the "
		         "cluster's)",
		         r->ifname, want.n, r->own.n, r->node_rules.rules.n,
		         r->cluster_rules.rules.n);
		rules_free(&r->seen);
		r->seen = want;
		want.text = NULL;
	}
	/* The state file says which of the daemon's rules are ours, for the next run. */
	if (!rules_equal(&sent->own, &r->own) || !rules_equal(&sent->node, &r->node_rules.rules) ||
	    !rules_equal(&sent->cluster, &r->cluster_rules.rules)) {
		if (rules_copy(&sent->own, &r->own) ||
		    rules_copy(&sent->node, &r->node_rules.rules) ||
		    rules_copy(&sent->cluster, &r->cluster_rules.rules)) {
			ret = -ENOMEM;
			goto out;
		}
		save_state(r);
	}
out:
	rules_free(&want);
	return ret;
}

struct addr_list {
	struct ip_addr *a;
	size_t n;
};

/* This host's addresses, but for those of the tunnel itself and those inside this node's own
 * claims (the gateway address sealnet-cni puts on every pod's veth): the underlay, which no
 * claim may take into the tunnel. Returns 0 or -errno. */
static int local_addrs(const struct registry *r, struct addr_list *l)
{
	struct ifaddrs *ifa, *i;
	struct ip_addr *grown, a;
	char unused[8];

	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr ||
		    (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6) ||
		    (i->ifa_name && !strcmp(i->ifa_name, r->ifname)))
			continue;
		registry_endpoint_addr((const union endpoint *)(const void *)i->ifa_addr, &a);
		if (registry_claims_cover(&r->self_claims, &a, unused, sizeof(unused)))
			continue;
		grown = realloc(l->a, (l->n + 1) * sizeof(*grown));
		if (!grown) {
			freeifaddrs(ifa);
			return -ENOMEM;
		}
		l->a = grown;
		l->a[l->n++] = a;
	}
	freeifaddrs(ifa);
	return 0;
}

/* What the daemon's peers hold that no claim may take, read once per decision rather than once
 * per entry: their endpoints, and the allowed IPs of those the registry does not manage.
 * The keys point into the ipc_device they were read from. */
struct held {
	struct held_addr {
		struct ip_addr a;
		const uint8_t *key;
	} *endpoints;
	size_t n_endpoints;
	struct held_prefix {
		struct ip_prefix p;
		const uint8_t *key;
	} *prefixes;
	size_t n_prefixes;
};

static void held_free(struct held *h)
{
	free(h->endpoints);
	free(h->prefixes);
}

static int held_read(const struct registry *r, const struct ipc_device *dev, struct held *h)
{
	struct held_prefix *gp;
	struct held_addr *ga;
	struct ip_prefix p;
	union endpoint ep;

	for (const struct ipc_peer *x = dev->first_peer; x; x = x->next) {
		if (x->endpoint[0] && !addr_parse_endpoint(x->endpoint, &ep)) {
			ga = realloc(h->endpoints, (h->n_endpoints + 1) * sizeof(*ga));
			if (!ga)
				return -ENOMEM;
			h->endpoints = ga;
			registry_endpoint_addr(&ep, &ga[h->n_endpoints].a);
			ga[h->n_endpoints++].key = x->public_key;
		}
		if (is_managed(r, x->public_key))
			continue;
		for (const struct ipc_allowedip *y = x->first_allowedip; y; y = y->next) {
			if (addr_parse_prefix(y->text, &p))
				continue;
			gp = realloc(h->prefixes, (h->n_prefixes + 1) * sizeof(*gp));
			if (!gp)
				return -ENOMEM;
			h->prefixes = gp;
			gp[h->n_prefixes].p = p;
			gp[h->n_prefixes++].key = x->public_key;
		}
	}
	return 0;
}

/* What makes a valid entry unfit to be a peer here, whatever the other nodes decide: a claim
 * that would route into the tunnel the way to etcd, to this node's own underlay addresses or
 * to the endpoint of any peer of the daemon (the site links configured by hand included), or
 * that would take a prefix of a peer the registry does not manage (WireGuard moves a prefix
 * to the last peer given it). The cluster's ranges keep claims away from all of these when
 * they are right; this holds when they are not. Writes the clash into what. */
static bool local_clash(const struct registry *r, const struct held *h,
                        const struct addr_list *local, const struct node *n, char *what, size_t len)
{
	union endpoint ep;
	struct ip_addr a;
	char clash[160], b64[KEY_B64_LEN];

	if (r->has_etcd_addr && registry_claims_cover(n, &r->etcd_addr, clash, sizeof(clash))) {
		snprintf(what, len, "%s, etcd's address", clash);
		return true;
	}
	for (size_t i = 0; i < r->n_endpoints; i++) {
		if (addr_parse_endpoint(r->endpoints[i], &ep))
			continue;
		registry_endpoint_addr(&ep, &a);
		if (registry_claims_cover(n, &a, clash, sizeof(clash))) {
			snprintf(what, len, "%s, this node's endpoint", clash);
			return true;
		}
	}
	for (size_t i = 0; i < local->n; i++)
		if (registry_claims_cover(n, &local->a[i], clash, sizeof(clash))) {
			snprintf(what, len, "%s, an address of this host", clash);
			return true;
		}
	for (size_t i = 0; i < h->n_endpoints; i++)
		if (registry_claims_cover(n, &h->endpoints[i].a, clash, sizeof(clash))) {
			snprintf(what, len, "%s, the endpoint of peer %s", clash,
			         key_text(b64, h->endpoints[i].key));
			return true;
		}
	for (size_t i = 0; i < h->n_prefixes; i++) {
		/* A peer by hand under the entry's own key is left alone further on. */
		if (key_equal(h->prefixes[i].key, n->public_key))
			continue;
		if (registry_claims_take(n, &h->prefixes[i].p, &r->cidrs, clash, sizeof(clash))) {
			snprintf(what, len, "%s, held by peer %s, which the registry does not manage",
			         clash, key_text(b64, h->prefixes[i].key));
			return true;
		}
	}
	return false;
}

static int by_creation(const void *a, const void *b)
{
	const struct entry *x = *(struct entry *const *)a, *y = *(struct entry *const *)b;

	if (x->create_revision != y->create_revision)
		return x->create_revision < y->create_revision ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* Which entries are valid, in order of creation: each entry's accepted and wanted. */
static int decide(struct registry *r, const struct ipc_device *dev)
{
	struct entry **order, *e;
	struct addr_list local = {NULL, 0};
	struct held held = {0};
	char what[640], clash[320];
	size_t j;
	int ret;

	ret = local_addrs(r, &local);
	if (!ret)
		ret = held_read(r, dev, &held);
	order = calloc(r->n_entries ? r->n_entries : 1, sizeof(*order));
	if (ret || !order) {
		ret = ret ? ret : -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < r->n_entries; i++)
		order[i] = &r->entries[i];
	qsort(order, r->n_entries, sizeof(*order), by_creation);
	r->n_valid = r->n_refused = 0;
	for (size_t i = 0; i < r->n_entries; i++) {
		e = order[i];
		e->accepted = false;
		if (e->parsed_revision != e->mod_revision) {
			e->valid =
			        !registry_parse_entry(r->prefix, e->key, e->value, strlen(e->value),
			                              &r->cidrs, &e->node, e->why, sizeof(e->why));
			e->parsed_revision = e->mod_revision;
		}
		if (!e->valid) {
			snprintf(what, sizeof(what), "refused: %s", e->why);
			report(r, e, LOG_WARNING, what);
			r->n_refused++;
			continue;
		}
		for (j = 0; j < i; j++)
			if (order[j]->accepted && registry_claims_overlap(&e->node, &order[j]->node,
			                                                  clash, sizeof(clash)))
				break;
		if (j < i) {
			snprintf(what, sizeof(what), "refused: %s, claimed first by %s%s", clash,
			         order[j]->key, is_self(r, e) ? " (this node!)" : "");
			report(r, e, LOG_WARNING, what);
			r->n_refused++;
			continue;
		}
		e->accepted = true;
		r->n_valid++;
		/* Whatever etcd says, this node never hands its own addresses to a peer: an
		 * entry of its own under a key it no longer has (rotated while the registry
		 * was not running) is older than the new one, and wins above until it
		 * expires. */
		e->wanted = !is_self(r, e);
		if (e->wanted &&
		    registry_claims_overlap(&e->node, &r->self_claims, clash, sizeof(clash))) {
			snprintf(what, sizeof(what), "not made a peer here: %s, this node's own",
			         clash);
			report(r, e, LOG_WARNING, what);
			e->wanted = false;
		}
		if (e->wanted && local_clash(r, &held, &local, &e->node, clash, sizeof(clash))) {
			snprintf(what, sizeof(what), "refused here: %s", clash);
			report(r, e, LOG_WARNING, what);
			e->wanted = false;
			r->n_valid--;
			r->n_refused++;
		}
	}
out:
	free(order);
	free(local.a);
	held_free(&held);
	return ret;
}

/* What a decision changes in the daemon: peers to add or update (their entries), and managed
 * peers to remove (indexes into r->peers). */
struct changes {
	struct entry **set;
	size_t n_set;
	size_t *gone;
	size_t n_gone;
};

static void changes_free(struct changes *c)
{
	free(c->set);
	free(c->gone);
}

static int changes_find(struct registry *r, const struct ipc_device *dev, struct changes *c)
{
	struct managed *m;
	struct entry *e;

	c->set = calloc(r->n_entries ? r->n_entries : 1, sizeof(*c->set));
	c->gone = calloc(r->n_peers ? r->n_peers : 1, sizeof(*c->gone));
	if (!c->set || !c->gone)
		return -ENOMEM;
	for (size_t i = 0; i < r->n_peers; i++)
		r->peers[i].wanted = false;
	for (size_t i = 0; i < r->n_entries; i++) {
		e = &r->entries[i];
		if (!e->accepted || !e->wanted)
			continue;
		m = find_managed(r, e->node.public_key);
		if (m)
			m->wanted = true;
		if (m && m->known && registry_node_same(&m->applied, &e->node))
			continue;
		if (!m && daemon_has(dev, e->node.public_key)) {
			report(r, e, LOG_NOTICE,
			       "a peer with this key was configured by hand: left as it is");
			continue;
		}
		c->set[c->n_set++] = e;
	}
	for (size_t i = 0; i < r->n_peers; i++)
		if (!r->peers[i].wanted)
			c->gone[c->n_gone++] = i;
	return 0;
}

/* The daemon took e's peer. */
static int peer_set(struct registry *r, const struct entry *e)
{
	struct managed *m = find_managed(r, e->node.public_key);
	char b64[KEY_B64_LEN], ov[ADDR_STRLEN];
	bool added = !m;
	int ret;

	r->applies++;
	log_info("%s: registry: peer %s (%s) %s", r->ifname, key_text(b64, e->node.public_key),
	         addr_prefix_str(&e->node.overlay, ov), added ? "added" : "updated");
	if (added) {
		ret = add_managed(r, e->node.public_key, &m);
		if (ret)
			return ret;
	}
	m->applied = e->node;
	m->known = true;
	return 0;
}

static void peer_removed(struct registry *r, const uint8_t key[KEY_LEN])
{
	char b64[KEY_B64_LEN];

	r->applies++;
	log_info("%s: registry: peer %s removed (its entry is gone or refused)", r->ifname,
	         key_text(b64, key));
}

/* The changes [from, to) of c (the peers to set first, then those to remove) in one set=1:
 * the daemon applies it whole or refuses it whole, and a set costs it about as much for one
 * peer as for many. Returns 0, or -errno: *refused says whether the daemon answered with it
 * (it refuses something in the set) or the exchange failed (a daemon gone, or too slow). */
static int send_chunk(struct registry *r, const struct ipc_device *dev, const struct changes *c,
                      size_t from, size_t to, bool *refused)
{
	struct registry_request q = {0};
	const struct managed *m;
	const struct node *n;
	const char *text;
	double t0 = now();
	int ret = 0, err = 0;

	*refused = false;
	for (size_t i = from; i < to && !ret; i++) {
		if (i < c->n_set) {
			n = &c->set[i]->node;
			m = find_managed(r, n->public_key);
			ret = registry_request_peer(&q, n, endpoint_is_new(n, m),
			                            !r->groups_unsupported);
		} else if (daemon_has(dev, r->peers[c->gone[i - c->n_set]].public_key)) {
			ret = registry_request_remove(&q, r->peers[c->gone[i - c->n_set]].public_key);
		}
	}
	text = registry_request_text(&q);
	if (ret || (!text && q.err)) {
		log_err("%s: registry: cannot build the set of %zu changes: %s", r->ifname, to - from,
		        strerror(-(ret ? ret : q.err)));
		ret = ret ? ret : q.err;
	} else if (text) {
		ret = ipc_command(r->ifname, text, &err);
		*refused = !ret && err;
		ret = ret ? ret : err;
		if (!ret)
			log_info("%s: registry: one set to the daemon: %zu peers added or updated, "
			         "%zu removed, in %.0f ms",
			         r->ifname, q.n_peers, q.n_removed, (now() - t0) * 1000);
	}
	registry_request_free(&q);
	return ret;
}

static int renew_lease(struct registry *r);
static void go_down(struct registry *r, const char *what, int err);

/* Between two sets: the lease alone. Publishing (which may move our entry and drop one of the
 * entries being applied) waits for the main loop. */
static void keep_lease(struct registry *r)
{
	int ret;

	if (!r->up || now() < r->next_keepalive)
		return;
	ret = renew_lease(r);
	if (ret)
		go_down(r, "keepalive", ret);
	else
		r->next_keepalive = now() + r->ttl / 3.0;
}

/* Decides which entries are valid, in order of creation, then brings the daemon's managed
 * peers to them: in one set=1, or in sets of SET_MAX_CHANGES when there are more, renewing
 * our lease between two when it is due (a set at thousands of peers may take the daemon
 * seconds). A set the daemon refuses is sent again one peer at a time, so that one peer it
 * refuses does not hold up the others; one that could not be exchanged is tried again a tick
 * later. Returns 0, or -errno when something must be tried again. */
static int reconcile(struct registry *r)
{
	struct changes c = {0};
	struct ipc_device *dev = NULL;
	struct managed *m;
	struct entry *e;
	char b64[KEY_B64_LEN];
	bool refused, changed = false, *done = NULL;
	size_t total, to;
	int ret, failed = 0;

	failed = reconcile_rules(r);
	ret = ipc_get(r->ifname, &dev);
	if (ret)
		return ret;
	ret = decide(r, dev);
	if (!ret)
		ret = changes_find(r, dev, &c);
	total = c.n_set + c.n_gone;
	if (!ret && !(done = calloc(total ? total : 1, sizeof(*done))))
		ret = -ENOMEM;
	if (ret)
		goto out;
	for (size_t from = 0; from < total; from = to) {
		to = from + SET_MAX_CHANGES < total ? from + SET_MAX_CHANGES : total;
		keep_lease(r);
		ret = send_chunk(r, dev, &c, from, to, &refused);
		if (ret && !refused) {
			log_err("%s: registry: cannot send the set of %zu changes: %s; trying "
			        "again",
			        r->ifname, to - from, strerror(-ret));
			r->apply_errors++;
			failed = ret;
			break;
		}
		if (ret && to - from > 1)
			log_warn("%s: registry: the daemon refused the set of %zu changes (%s): "
			         "sending them one by one",
			         r->ifname, to - from, strerror(-ret));
		for (size_t i = from; i < to; i++) {
			done[i] = !ret;
			if (!ret)
				continue;
			if (i < c.n_set) {
				e = c.set[i];
				ret = apply_peer(r, &e->node, find_managed(r, e->node.public_key));
				if (ret)
					log_err("%s: registry: peer %s: the daemon refused it: %s",
					        r->ifname, key_text(b64, e->node.public_key),
					        strerror(-ret));
			} else {
				m = &r->peers[c.gone[i - c.n_set]];
				ret = daemon_has(dev, m->public_key) ? remove_peer(r, m->public_key)
				                                     : 0;
				if (ret)
					log_err("%s: registry: peer %s: cannot remove it: %s",
					        r->ifname, key_text(b64, m->public_key),
					        strerror(-ret));
			}
			done[i] = !ret;
			if (ret) {
				r->apply_errors++;
				failed = ret;
			}
			ret = -EAGAIN; /* the rest of this set one by one too */
		}
	}
	for (size_t i = 0; i < c.n_set; i++) {
		if (!done[i])
			continue;
		ret = peer_set(r, c.set[i]);
		if (ret)
			failed = ret;
		changed = true;
	}
	/* From the last: forgetting one moves the last peer into its place. */
	for (size_t k = c.n_gone; k-- > 0;) {
		if (!done[c.n_set + k])
			continue;
		m = &r->peers[c.gone[k]];
		if (daemon_has(dev, m->public_key))
			peer_removed(r, m->public_key);
		*m = r->peers[--r->n_peers];
		changed = true;
	}
	if (changed)
		save_state(r);
	ret = failed;
out:
	free(done);
	changes_free(&c);
	ipc_device_free(dev);
	return ret;
}

/* --- etcd ---------------------------------------------------------------------------- */

static void entries_free(struct entry *entries, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(entries[i].key);
		free(entries[i].value);
	}
	free(entries);
}

struct entry_list {
	struct entry *entries;
	size_t n;
};

/* Removes e, which is in l. */
static void drop_entry(struct entry_list *l, struct entry *e)
{
	free(e->key);
	free(e->value);
	*e = l->entries[--l->n];
}

/* What a range reads: the nodes' entries and the rules keys, each in its list; other keys
 * under the prefix are not ours to read. */
struct range {
	const struct registry *r;
	struct entry_list nodes, rules;
};

/* Puts kv into the list (a new entry, or the new revision of one). */
static int store_kv(struct entry_list *l, const struct etcd_kv *kv)
{
	struct entry *e = find_entry(l->entries, l->n, kv->key), *grown;
	char *value = strdup(kv->value), *key;

	if (!value)
		return -ENOMEM;
	if (!e) {
		key = strdup(kv->key);
		grown = key ? realloc(l->entries, (l->n + 1) * sizeof(*grown)) : NULL;
		if (!grown) {
			free(key);
			free(value);
			return -ENOMEM;
		}
		l->entries = grown;
		e = &l->entries[l->n++];
		memset(e, 0, sizeof(*e));
		e->key = key;
	}
	free(e->value);
	e->value = value;
	/* A value with a NUL inside is cut there: parse_entry sees the length differ. */
	e->create_revision = kv->create_revision;
	e->mod_revision = kv->mod_revision;
	e->lease = kv->lease;
	e->parsed_revision = 0;
	return 0;
}

static bool under(const char *key, const char *prefix)
{
	return !strncmp(key, prefix, strlen(prefix));
}

static int range_cb(void *ctx, const struct etcd_kv *kv)
{
	struct range *g = ctx;

	if (under(kv->key, g->r->prefix))
		return store_kv(&g->nodes, kv);
	if (under(kv->key, g->r->rules_prefix))
		return store_kv(&g->rules, kv);
	return 0;
}

/* Our entry as etcd has it now. Whoever may write under PREFIX/nodes/ may delete it or write
 * over it, and another entry could then claim our addresses first and have them everywhere:
 * so when it is gone, says something else than what we published, or hangs on another lease
 * (it would outlive us), we publish it again, at once. Our own puts come back through the
 * watch and match; one of an earlier put, seen after a later one, costs one more put of the
 * same thing. */
static void check_own_entry(struct registry *r)
{
	struct entry *e = find_entry(r->entries, r->n_entries, r->published_key);
	struct node n;
	char why[256];
	const char *what = NULL;

	if (!r->published_key[0] || !r->published_valid)
		return;
	if (!e)
		what = "is gone from etcd";
	else if (registry_parse_entry(r->prefix, e->key, e->value, strlen(e->value), &r->cidrs, &n,
	                              why, sizeof(why)) ||
	         !registry_node_same(&n, &r->published))
		what = "says something else than we published";
	else if (e->lease != r->lease)
		what = "was put on another lease";
	if (!what)
		return;
	if (e)
		log_warn("%s: registry: our entry %s %s (revision %lld): publishing it again",
		         r->ifname, r->published_key, what, (long long)e->mod_revision);
	else
		log_warn("%s: registry: our entry %s %s: publishing it again", r->ifname,
		         r->published_key, what);
	r->need_publish = true;
}

static void watch_cb(void *ctx, bool deleted, const struct etcd_kv *kv)
{
	struct registry *r = ctx;
	bool rule = under(kv->key, r->rules_prefix);
	struct entry_list l = {rule ? r->rule_entries : r->entries,
	                       rule ? r->n_rule_entries : r->n_entries};
	struct entry *e;
	char esc[4 * 512];

	if (!rule && !under(kv->key, r->prefix))
		return;
	/* The first change of a burst waits for the others (BATCH_WINDOW_SEC). */
	if (!r->dirty && r->next_reconcile < now() + BATCH_WINDOW_SEC)
		r->next_reconcile = now() + BATCH_WINDOW_SEC;
	r->dirty = true;
	if (deleted) {
		e = find_entry(l.entries, l.n, kv->key);
		if (e)
			drop_entry(&l, e);
	} else if (store_kv(&l, kv)) {
		/* Our picture of etcd is now wrong: read it whole again. */
		log_err("%s: registry: out of memory storing %s", r->ifname,
		        registry_escape(esc, sizeof(esc), kv->key));
		r->resync = true;
	}
	if (rule) {
		r->rule_entries = l.entries;
		r->n_rule_entries = l.n;
	} else {
		r->entries = l.entries;
		r->n_entries = l.n;
		if (!strcmp(kv->key, r->published_key))
			check_own_entry(r);
	}
}

static void go_down(struct registry *r, const char *what, int err)
{
	char why[1024];

	/* etcd's words may quote what was sent, keys included. */
	registry_escape(why, sizeof(why), etcd_error(r->etcd));

	etcd_watch_stop(r->etcd);
	if (r->up || !r->down_reported)
		log_warn("%s: registry: etcd %s unreachable (%s: %s); keeping the %zu peers as "
		         "they are, retrying",
		         r->ifname, r->etcd_url, what, *why ? why : strerror(-err), r->n_peers);
	else
		log_debug("%s: registry: etcd still unreachable (%s: %s)", r->ifname, what,
		          *why ? why : strerror(-err));
	r->up = false;
	r->down_reported = true;
	r->next_try = now() + r->backoff;
	r->backoff *= 2;
	/* Never so long that the lease runs out between two tries once etcd is back. */
	if (r->backoff > BACKOFF_MAX || r->backoff > r->ttl / 2.0)
		r->backoff = r->ttl / 2.0 < BACKOFF_MAX ? r->ttl / 2.0 : BACKOFF_MAX;
	if (r->backoff < BACKOFF_MIN)
		r->backoff = BACKOFF_MIN;
}

static int publish(struct registry *r)
{
	char key[512], b64[KEY_B64_LEN], why[256], esc[1024], *value;
	int ret;

	ret = self_entry(r, key, sizeof(key), &value);
	if (ret)
		return ret;
	if (r->published_key[0] && strcmp(r->published_key, key))
		ret = etcd_move(r->etcd, r->published_key, key, value, r->lease);
	else
		ret = etcd_put(r->etcd, key, value, r->lease);
	if (!ret) {
		/* The watch will tell us the old entry is gone, but only later: until then it
		 * would look like a peer, with our own addresses. */
		if (r->published_key[0] && strcmp(r->published_key, key)) {
			struct entry_list l = {r->entries, r->n_entries};
			struct entry *old = find_entry(l.entries, l.n, r->published_key);

			if (old) {
				drop_entry(&l, old);
				r->n_entries = l.n;
			}
		}
		if (strcmp(r->published_key, key))
			log_notice("%s: registry: published %s as %s", r->ifname,
			           key_text(b64, r->self_key), key);
		if (!strstr(value, "\"endpoints\"") && !r->no_endpoint_reported) {
			log_warn("%s: registry: no endpoint published (etcd is reached over "
			         "loopback): other nodes cannot reach this one first; give "
			         "--endpoint",
			         r->ifname);
			r->no_endpoint_reported = true;
		}
		snprintf(r->published_key, sizeof(r->published_key), "%s", key);
		r->published_valid =
		        !registry_parse_entry(r->prefix, key, value, strlen(value), &r->cidrs,
		                              &r->published, why, sizeof(why));
		if (!r->published_valid)
			log_err("%s: registry: our own entry is refused by every node: %s",
			        r->ifname, registry_escape(esc, sizeof(esc), why));
		r->need_publish = false;
	}
	free(value);
	return ret;
}

static int renew_lease(struct registry *r)
{
	int64_t ttl = 0;
	int ret;

	if (r->lease) {
		ret = etcd_lease_keepalive(r->etcd, r->lease, &ttl);
		if (ret)
			return ret;
		if (ttl > 0)
			return 0;
		log_notice("%s: registry: lease %llx expired: publishing again under a new one",
		           r->ifname, (unsigned long long)r->lease);
		r->lease = 0;
	}
	ret = etcd_lease_grant(r->etcd, r->ttl, &r->lease);
	if (!ret)
		r->need_publish = true;
	return ret;
}

/* Lease, our entry, every entry and rules key, then the watch from the revision the range was
 * read at. */
static void etcd_connect(struct registry *r)
{
	struct range g = {.r = r};
	const char *what;
	int64_t revision = 0;
	int ret;

	ret = renew_lease(r);
	if (ret) {
		go_down(r, "lease", ret);
		return;
	}
	/* Every time: etcd may have lost its data, and the address we reach it from may
	 * have changed. */
	ret = publish(r);
	if (ret) {
		go_down(r, "publish", ret);
		return;
	}
	ret = etcd_range_prefix(r->etcd, r->base, range_cb, &g, &revision);
	what = "range";
	if (!ret) {
		ret = etcd_watch_start(r->etcd, r->base, revision + 1, watch_cb, r);
		what = "watch";
	}
	if (ret) {
		entries_free(g.nodes.entries, g.nodes.n);
		entries_free(g.rules.entries, g.rules.n);
		go_down(r, what, ret);
		return;
	}
	entries_free(r->entries, r->n_entries);
	r->entries = g.nodes.entries;
	r->n_entries = g.nodes.n;
	entries_free(r->rule_entries, r->n_rule_entries);
	r->rule_entries = g.rules.entries;
	r->n_rule_entries = g.rules.n;
	r->dirty = true;
	/* Put just before the range: changed already means changed by someone else. */
	check_own_entry(r);
	if (r->down_reported || !r->synced)
		log_notice("%s: registry: %s etcd %s: %zu entries, %zu rules keys at revision "
		           "%lld",
		           r->ifname, r->synced ? "reconnected to" : "connected to", r->etcd_url,
		           g.nodes.n, g.rules.n, (long long)revision);
	if (r->synced)
		r->reconnects++;
	r->up = r->synced = true;
	r->down_reported = false;
	r->backoff = BACKOFF_MIN;
	r->next_keepalive = now() + r->ttl / 3.0;
}

static void keepalive(struct registry *r)
{
	int ret = renew_lease(r);

	if (!ret && r->need_publish)
		ret = publish(r);
	if (ret) {
		go_down(r, "keepalive", ret);
		return;
	}
	r->next_keepalive = now() + r->ttl / 3.0;
}

/* --- the command --------------------------------------------------------------------- */

/* etcd's address, when its URL names one (http://198.18.1.4:2379, https://[fd00::4]:2379). */
static bool url_addr(const char *url, struct ip_addr *out)
{
	struct ip_prefix p;
	char host[ADDR_STRLEN];
	const char *h = strstr(url, "://");
	size_t len;

	if (!h)
		return false;
	h += 3;
	if (*h == '[') {
		h++;
		len = strcspn(h, "]");
	} else {
		len = strcspn(h, ":/");
	}
	if (len >= sizeof(host))
		return false;
	snprintf(host, sizeof(host), "%.*s", (int)len, h);
	if (addr_parse_prefix(host, &p) || p.cidr != addr_len(p.addr.family) * 8)
		return false;
	*out = p.addr;
	return true;
}

/* The cluster's ranges are where the overlay is: the way to etcd and to this node's
 * endpoints must lie outside, or the first claim there would route them into the tunnel. */
static int check_ranges(struct registry *r)
{
	struct ip_prefix *c;
	union endpoint ep;
	struct ip_addr a;
	char buf[ADDR_STRLEN];

	r->has_etcd_addr = url_addr(r->etcd_url, &r->etcd_addr);
	for (size_t k = 0; k < r->cidrs.n; k++) {
		c = &r->cidrs.p[k];
		if (r->has_etcd_addr && registry_prefix_covers(c, &r->etcd_addr)) {
			fprintf(stderr, "%s: registry: --cluster-cidr %s covers etcd's address\n",
			        PROG_NAME, addr_prefix_str(c, buf));
			return -EINVAL;
		}
		for (size_t i = 0; i < r->n_endpoints; i++) {
			if (addr_parse_endpoint(r->endpoints[i], &ep))
				continue;
			registry_endpoint_addr(&ep, &a);
			if (registry_prefix_covers(c, &a)) {
				fprintf(stderr,
				        "%s: registry: --cluster-cidr %s covers the endpoint %s\n",
				        PROG_NAME, addr_prefix_str(c, buf), r->endpoints[i]);
				return -EINVAL;
			}
		}
	}
	return 0;
}

/* --pod-subnet: one of each family at most (a pod gets one address of each). */
static int add_pod_subnet(struct registry *r, const char *arg)
{
	struct ip_prefix pfx, other;

	if (!strchr(arg, '/') || addr_parse_prefix(arg, &pfx)) {
		fprintf(stderr, "%s: registry: bad pod subnet `%s'\n", PROG_NAME, arg);
		return -EINVAL;
	}
	for (size_t i = 0; i < r->n_pod_subnets; i++) {
		addr_parse_prefix(r->pod_subnets[i], &other);
		if (other.addr.family == pfx.addr.family) {
			fprintf(stderr,
			        "%s: registry: --pod-subnet `%s': one pod subnet per family "
			        "(%s already)\n",
			        PROG_NAME, arg, r->pod_subnets[i]);
			return -EINVAL;
		}
	}
	addr_prefix_str(&pfx, r->pod_subnets[r->n_pod_subnets++]);
	return 0;
}

static int parse_args(struct registry *r, int argc, char *argv[])
{
	static const struct option options[] = {
	        {"etcd", required_argument, NULL, 'e'},
	        {"prefix", required_argument, NULL, 'p'},
	        {"overlay", required_argument, NULL, 'o'},
	        {"pod-subnet", required_argument, NULL, 's'},
	        {"cluster-cidr", required_argument, NULL, 'R'},
	        {"endpoint", required_argument, NULL, 'E'},
	        {"groups", required_argument, NULL, 'g'},
	        {"ttl", required_argument, NULL, 't'},
	        {"metrics", required_argument, NULL, 'm'},
	        {"state", required_argument, NULL, 'S'},
	        {"cacert", required_argument, NULL, 'C'},
	        {"cert", required_argument, NULL, 'c'},
	        {"key", required_argument, NULL, 'k'},
	        {"verbose", no_argument, NULL, 'v'},
	        {NULL, 0, NULL, 0},
	};
	const char *prefix = DEFAULT_PREFIX, *state = NULL;
	union endpoint ep;
	struct ip_prefix pfx;
	char *end, *save = NULL, *g, why[160];
	unsigned long n;
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "v", options, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (strncmp(optarg, "http://", 7) && strncmp(optarg, "https://", 8)) {
				fprintf(stderr,
				        "%s: registry: --etcd wants http://host:port, not `%s'\n",
				        PROG_NAME, optarg);
				return usage();
			}
			r->etcd_url = optarg;
			break;
		case 'p':
			prefix = optarg;
			break;
		case 'o':
			if (addr_parse_prefix(optarg, &pfx) ||
			    pfx.cidr != addr_len(pfx.addr.family) * 8) {
				fprintf(stderr, "%s: registry: bad overlay address `%s'\n",
				        PROG_NAME, optarg);
				return usage();
			}
			addr_str(&pfx.addr, r->overlay);
			break;
		case 's':
			if (add_pod_subnet(r, optarg))
				return usage();
			break;
		case 'R':
			if (registry_add_cluster_cidr(&r->cidrs, optarg, why, sizeof(why))) {
				fprintf(stderr, "%s: registry: bad --cluster-cidr: %s\n", PROG_NAME,
				        why);
				return usage();
			}
			break;
		case 'E':
			if (r->n_endpoints == REGISTRY_MAX_ENDPOINTS ||
			    addr_parse_endpoint(optarg, &ep) || !ep.in4.sin_port) {
				fprintf(stderr,
				        "%s: registry: bad endpoint `%s' (ip:port, at most %d)\n",
				        PROG_NAME, optarg, REGISTRY_MAX_ENDPOINTS);
				return usage();
			}
			r->endpoints[r->n_endpoints++] = optarg;
			break;
		case 'g':
			for (g = strtok_r(optarg, ",", &save); g; g = strtok_r(NULL, ",", &save)) {
				if (!registry_valid_group(g) ||
				    r->n_groups == REGISTRY_MAX_GROUPS) {
					fprintf(stderr, "%s: registry: bad group `%s'\n", PROG_NAME,
					        g);
					return usage();
				}
				r->groups[r->n_groups++] = g;
			}
			break;
		case 't':
			errno = 0;
			n = strtoul(optarg, &end, 10);
			/* etcd refuses leases shorter than about 1.5 s. */
			if (errno || *end || n < 2 || n > 3600) {
				fprintf(stderr,
				        "%s: registry: bad --ttl `%s' (2 to 3600 seconds)\n",
				        PROG_NAME, optarg);
				return usage();
			}
			r->ttl = (unsigned)n;
			break;
		case 'm':
			r->metrics_path = optarg;
			break;
		case 'S':
			state = optarg;
			break;
		case 'C':
			r->cacert = optarg;
			break;
		case 'c':
			r->cert = optarg;
			break;
		case 'k':
			r->key = optarg;
			break;
		case 'v':
			log_set_level(LOG_DEBUG);
			break;
		default:
			fprintf(stderr, "%s: registry: unexpected `%s'\n", PROG_NAME,
			        argv[optind - 1]);
			return usage();
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "%s: registry: one interface, please\n", PROG_NAME);
		return usage();
	}
	r->ifname = argv[optind];
	if (!ipc_valid_name(r->ifname)) {
		fprintf(stderr, "%s: registry: invalid interface name `%s'\n", PROG_NAME,
		        r->ifname);
		return usage();
	}
	if ((r->cacert || r->cert || r->key) &&
	    strncmp(r->etcd_url ? r->etcd_url : "", "https://", 8)) {
		fprintf(stderr, "%s: registry: --cacert, --cert and --key want an https:// URL\n",
		        PROG_NAME);
		return usage();
	}
	if (!r->cert != !r->key) {
		fprintf(stderr, "%s: registry: --cert and --key go together\n", PROG_NAME);
		return usage();
	}
	if (!r->etcd_url || !r->overlay[0] || !r->cidrs.n) {
		fprintf(stderr, "%s: registry: --etcd, --overlay and --cluster-cidr are required\n",
		        PROG_NAME);
		return usage();
	}
	if (check_ranges(r))
		return usage();
	n = strlen(prefix);
	while (n && prefix[n - 1] == '/')
		n--;
	/* The longest of the three, rules/, tells whether they all fit. */
	snprintf(r->base, sizeof(r->base), "%.*s/", (int)n, prefix);
	snprintf(r->prefix, sizeof(r->prefix), "%.*s/nodes/", (int)n, prefix);
	if (prefix[0] != '/' || !n ||
	    (size_t)snprintf(r->rules_prefix, sizeof(r->rules_prefix), "%.*s/rules/", (int)n,
	                     prefix) >= sizeof(r->rules_prefix)) {
		fprintf(stderr, "%s: registry: bad --prefix `%s' (/path)\n", PROG_NAME, prefix);
		return usage();
	}
	if ((size_t)snprintf(r->state_path, sizeof(r->state_path), "%s", state ? state : "") >=
	    sizeof(r->state_path) - 8) {
		fprintf(stderr, "%s: registry: --state path too long\n", PROG_NAME);
		return usage();
	}
	if (!state) {
		/* Where `sealnet up` keeps the daemon's pid file: the same lifetime. */
		if (mkdir(IPC_PID_DIR, 0755) && errno != EEXIST)
			fprintf(stderr, "%s: registry: cannot create %s: %s\n", PROG_NAME,
			        IPC_PID_DIR, strerror(errno));
		snprintf(r->state_path, sizeof(r->state_path), "%s/%s.registry", IPC_PID_DIR,
		         r->ifname);
	}
	return 0;
}

/* Our own entry must pass the checks every node applies to it; what it claims is kept. */
static int check_self(struct registry *r)
{
	struct node *n = &r->self_claims;
	char key[512], why[256], *value;
	int ret;

	memset(r->self_key, 0x42, KEY_LEN); /* any key will do for the check */
	r->port = 51820;
	ret = self_entry(r, key, sizeof(key), &value);
	if (ret)
		return ret;
	ret = registry_parse_entry(r->prefix, key, value, strlen(value), &r->cidrs, n, why,
	                           sizeof(why));
	if (ret)
		fprintf(stderr, "%s: registry: this node's entry would be refused: %s\n", PROG_NAME,
		        why);
	free(value);
	memset(r->self_key, 0, KEY_LEN);
	return ret;
}

/* Only from a picture of etcd read whole, and with the daemon's key known: the entry that is
 * ours must not become a peer. */
static bool can_reconcile(const struct registry *r)
{
	return r->synced && r->have_self && r->daemon_up;
}

int registry_main(int argc, char *argv[])
{
	struct registry r = {.ttl = DEFAULT_TTL,
	                     .backoff = BACKOFF_MIN,
	                     .node_rules.what = "node",
	                     .cluster_rules.what = "cluster"};
	struct sigaction sa = {.sa_handler = on_signal};
	double t, next_tick = 0, wake;
	int ret, timeout;

	if (wants_help(argc, argv)) {
		usage_text(stdout);
		return 0;
	}
	log_init("sealnet-registry", true, LOG_INFO);
	ret = parse_args(&r, argc, argv);
	if (ret)
		return ret;
	ret = etcd_open(r.etcd_url, ETCD_TIMEOUT_MS, &r.etcd);
	if (!ret)
		ret = etcd_set_tls(r.etcd, r.cacert, r.cert, r.key);
	if (ret) {
		fprintf(stderr, "%s: registry: %s\n", PROG_NAME, strerror(-ret));
		return 1;
	}
	if (check_self(&r)) {
		etcd_free(r.etcd);
		return EXIT_USAGE;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	load_state(&r);
	log_notice("%s: registry: joining %s at %s (lease %u s)", r.ifname, r.prefix, r.etcd_url,
	           r.ttl);

	while (!stop_signal) {
		t = now();
		if (t >= next_tick) {
			daemon_tick(&r);
			next_tick = now();
			next_tick += (next_tick - t) * TICK_SHARE > TICK_SEC ? (next_tick - t) * TICK_SHARE
			                                                     : TICK_SEC;
		}
		if (!r.up && r.have_self && t >= r.next_try)
			etcd_connect(&r);
		else if (r.up && (t >= r.next_keepalive || r.need_publish))
			keepalive(&r);
		if (r.dirty && can_reconcile(&r) && now() >= r.next_reconcile) {
			ret = reconcile(&r);
			r.dirty = ret != 0;
			r.next_reconcile = ret ? now() + TICK_SEC : 0;
		}
		write_metrics(&r);
		wake = next_tick;
		if (r.up && r.next_keepalive < wake)
			wake = r.next_keepalive;
		else if (!r.up && r.have_self && r.next_try < wake)
			wake = r.next_try;
		if (r.dirty && can_reconcile(&r) && r.next_reconcile < wake)
			wake = r.next_reconcile;
		t = now();
		timeout = wake > t ? (int)((wake - t) * 1000) + 1 : 0;
		ret = etcd_watch_poll(r.etcd, timeout);
		if (ret < 0 && r.up)
			go_down(&r, "watch", ret);
		else if (r.resync && r.up)
			go_down(&r, "resync", -ENOMEM);
		r.resync = false;
	}
	log_notice("%s: registry: stopping on signal %d; our entry expires with its lease, the "
	           "daemon keeps its peers",
	           r.ifname, (int)stop_signal);
	etcd_free(r.etcd);
	entries_free(r.entries, r.n_entries);
	entries_free(r.rule_entries, r.n_rule_entries);
	rules_free(&r.own);
	rules_free(&r.seen);
	rules_free(&r.refused);
	rules_free(&r.sent.own);
	rules_free(&r.sent.node);
	rules_free(&r.sent.cluster);
	rules_free(&r.node_rules.rules);
	rules_free(&r.cluster_rules.rules);
	free(r.peers);
	free(r.metrics_written);
	return 0;
}
