/* registry: joins a cluster whose peers are listed in etcd (docs/cluster.md, "Peer registry").
 *
 * It publishes this node under PREFIX/nodes/<base64url public key> with a lease that it keeps
 * alive, so the entry of a node that dies expires (session.c, own.c); it reads every entry
 * under PREFIX/nodes/, watches them (entries.c), decides which are peers here (decide.c) and
 * makes them peers of the running daemon through the control socket, in set=1 requests that
 * touch only the peers that changed, so the other peers keep their sessions (reconcile.c).
 *
 * The state, and why it is kept:
 *  - entries: the etcd keys as last read (range at connect, then watch events). Every
 *    decision is made from the whole of it, so a transaction that deletes one key and puts
 *    another (a key rotation) is seen as one change.
 *  - the managed peers: those this registry put into the daemon, with what it set. Only they
 *    are ever updated or removed: a peer configured by hand is left alone. The list is kept in
 *    a state file so a restarted registry still knows which peers are its own (state.c).
 *
 * Validation is deterministic so every node refuses the same entries (entry.c, decide.c).
 * Access rules come from PREFIX/rules/all and PREFIX/rules/<this node> (access.c). etcd
 * unreachable: nothing changes in the daemon; we retry with exponential backoff, and say so
 * once per change of state, in the log and in the metrics file.
 *
 * This file: the command line, and the loop that runs the rest. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../cmdline.h"
#include "../etcd.h"
#include "../ipc.h"
#include "../subcommands.h"
#include "daemon.h"
#include "entries.h"
#include "log.h"
#include "own.h"
#include "peers.h"
#include "reconcile.h"
#include "registry.h"
#include "rules.h"
#include "session.h"
#include "state.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
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

	r->cfg.has_etcd_addr = url_addr(r->cfg.etcd_url, &r->cfg.etcd_addr);
	for (size_t k = 0; k < r->cfg.cidrs.n; k++) {
		c = &r->cfg.cidrs.p[k];
		if (r->cfg.has_etcd_addr && registry_prefix_covers(c, &r->cfg.etcd_addr)) {
			fprintf(stderr, "%s: registry: --cluster-cidr %s covers etcd's address\n",
				PROG_NAME, addr_prefix_str(c, buf));
			return -EINVAL;
		}
		for (size_t i = 0; i < r->cfg.n_endpoints; i++) {
			if (addr_parse_endpoint(r->cfg.endpoints[i], &ep))
				continue;
			registry_endpoint_addr(&ep, &a);
			if (registry_prefix_covers(c, &a)) {
				fprintf(stderr,
					"%s: registry: --cluster-cidr %s covers the endpoint %s\n",
					PROG_NAME, addr_prefix_str(c, buf), r->cfg.endpoints[i]);
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
	for (size_t i = 0; i < r->cfg.n_pod_subnets; i++) {
		addr_parse_prefix(r->cfg.pod_subnets[i], &other);
		if (other.addr.family == pfx.addr.family) {
			fprintf(stderr,
				"%s: registry: --pod-subnet `%s': one pod subnet per family "
				"(%s already)\n",
				PROG_NAME, arg, r->cfg.pod_subnets[i]);
			return -EINVAL;
		}
	}
	addr_prefix_str(&pfx, r->cfg.pod_subnets[r->cfg.n_pod_subnets++]);
	return 0;
}

/* --- the command line, an option at a time ------------------------------------------- */

static int opt_etcd(struct registry *r, const char *arg)
{
	if (strncmp(arg, "http://", 7) && strncmp(arg, "https://", 8)) {
		fprintf(stderr, "%s: registry: --etcd wants http://host:port, not `%s'\n",
			PROG_NAME, arg);
		return -EINVAL;
	}
	r->cfg.etcd_url = arg;
	return 0;
}

static int opt_overlay(struct registry *r, const char *arg)
{
	struct ip_prefix pfx;

	if (addr_parse_prefix(arg, &pfx) || pfx.cidr != addr_len(pfx.addr.family) * 8) {
		fprintf(stderr, "%s: registry: bad overlay address `%s'\n", PROG_NAME, arg);
		return -EINVAL;
	}
	addr_str(&pfx.addr, r->cfg.overlay);
	return 0;
}

static int opt_cluster_cidr(struct registry *r, const char *arg)
{
	char why[160];

	if (registry_add_cluster_cidr(&r->cfg.cidrs, arg, why, sizeof(why))) {
		fprintf(stderr, "%s: registry: bad --cluster-cidr: %s\n", PROG_NAME, why);
		return -EINVAL;
	}
	return 0;
}

static int opt_endpoint(struct registry *r, char *arg)
{
	union endpoint ep;

	if (r->cfg.n_endpoints == REGISTRY_MAX_ENDPOINTS || addr_parse_endpoint(arg, &ep) ||
	    !ep.in4.sin_port) {
		fprintf(stderr, "%s: registry: bad endpoint `%s' (ip:port, at most %d)\n",
			PROG_NAME, arg, REGISTRY_MAX_ENDPOINTS);
		return -EINVAL;
	}
	registry_endpoint_addr(&ep, &r->cfg.endpoint_addrs[r->cfg.n_endpoints]);
	r->cfg.endpoints[r->cfg.n_endpoints++] = arg;
	return 0;
}

/* --groups a,b: names as the daemon takes them (firewall_group_name_ok). */
static int opt_groups(struct registry *r, char *arg)
{
	char *save = NULL, *g;

	for (g = strtok_r(arg, ",", &save); g; g = strtok_r(NULL, ",", &save)) {
		if (!firewall_group_name_ok(g) || r->cfg.n_groups == REGISTRY_MAX_GROUPS) {
			fprintf(stderr, "%s: registry: bad group `%s'\n", PROG_NAME, g);
			return -EINVAL;
		}
		r->cfg.groups[r->cfg.n_groups++] = g;
	}
	return 0;
}

static int opt_ttl(struct registry *r, const char *arg)
{
	unsigned long long n;

	/* etcd refuses leases shorter than about 1.5 s. */
	if (cmdline_number("registry", "--ttl", arg, 2, 3600, &n))
		return -EINVAL;
	r->cfg.ttl = (unsigned)n;
	return 0;
}

/* The registry the command line fills, and where its words go until they are checked
 * together. */
struct words {
	struct registry *r;
	const char *prefix, *state;
};

static int parse_option(void *ctx, int c, char *arg)
{
	struct words *w = ctx;
	struct registry *r = w->r;

	switch (c) {
	case 'e':
		return opt_etcd(r, arg);
	case 'p':
		w->prefix = arg;
		return 0;
	case 'o':
		return opt_overlay(r, arg);
	case 's':
		return add_pod_subnet(r, arg);
	case 'R':
		return opt_cluster_cidr(r, arg);
	case 'E':
		return opt_endpoint(r, arg);
	case 'g':
		return opt_groups(r, arg);
	case 't':
		return opt_ttl(r, arg);
	case 'm':
		r->cfg.metrics_path = arg;
		return 0;
	case 'S':
		w->state = arg;
		return 0;
	case 'C':
		r->cfg.cacert = arg;
		return 0;
	case 'c':
		r->cfg.cert = arg;
		return 0;
	case 'k':
		r->cfg.key = arg;
		return 0;
	case 'v':
		log_set_level(LOG_DEBUG);
		return 0;
	}
	return -EINVAL;
}

/* What the options say together. */
static int check_options(struct registry *r)
{
	if ((r->cfg.cacert || r->cfg.cert || r->cfg.key) &&
	    strncmp(r->cfg.etcd_url ? r->cfg.etcd_url : "", "https://", 8)) {
		fprintf(stderr, "%s: registry: --cacert, --cert and --key want an https:// URL\n",
			PROG_NAME);
		return -EINVAL;
	}
	if (!r->cfg.cert != !r->cfg.key) {
		fprintf(stderr, "%s: registry: --cert and --key go together\n", PROG_NAME);
		return -EINVAL;
	}
	if (!r->cfg.etcd_url || !r->cfg.overlay[0] || !r->cfg.cidrs.n) {
		fprintf(stderr, "%s: registry: --etcd, --overlay and --cluster-cidr are required\n",
			PROG_NAME);
		return -EINVAL;
	}
	return check_ranges(r);
}

/* PREFIX/, PREFIX/nodes/ and PREFIX/rules/; the state file. */
static int set_paths(struct registry *r, const char *prefix, const char *state)
{
	size_t n = strlen(prefix);

	while (n && prefix[n - 1] == '/')
		n--;
	/* The longest of the three, rules/, tells whether they all fit. */
	snprintf(r->cfg.base, sizeof(r->cfg.base), "%.*s/", (int)n, prefix);
	snprintf(r->cfg.prefix, sizeof(r->cfg.prefix), "%.*s/nodes/", (int)n, prefix);
	if (prefix[0] != '/' || !n ||
	    (size_t)snprintf(r->cfg.rules_prefix, sizeof(r->cfg.rules_prefix), "%.*s/rules/",
			     (int)n, prefix) >= sizeof(r->cfg.rules_prefix)) {
		fprintf(stderr, "%s: registry: bad --prefix `%s' (/path)\n", PROG_NAME, prefix);
		return -EINVAL;
	}
	if ((size_t)snprintf(r->cfg.state_path, sizeof(r->cfg.state_path), "%s",
			     state ? state : "") >= sizeof(r->cfg.state_path) - 8) {
		fprintf(stderr, "%s: registry: --state path too long\n", PROG_NAME);
		return -EINVAL;
	}
	if (!state) {
		/* Where `sealnet up` keeps the daemon's pid file: the same lifetime. */
		if (mkdir(PATHS_RUN_DIR, 0755) && errno != EEXIST)
			fprintf(stderr, "%s: registry: cannot create %s: %s\n", PROG_NAME,
				PATHS_RUN_DIR, strerror(errno));
		snprintf(r->cfg.state_path, sizeof(r->cfg.state_path), "%s/%s.registry",
			 PATHS_RUN_DIR, r->cfg.ifname);
	}
	return 0;
}

static int parse_args(struct registry *r, int argc, char *argv[])
{
	static const struct option options[] = {
		{ "etcd", required_argument, NULL, 'e' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "overlay", required_argument, NULL, 'o' },
		{ "pod-subnet", required_argument, NULL, 's' },
		{ "cluster-cidr", required_argument, NULL, 'R' },
		{ "endpoint", required_argument, NULL, 'E' },
		{ "groups", required_argument, NULL, 'g' },
		{ "ttl", required_argument, NULL, 't' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "state", required_argument, NULL, 'S' },
		{ "cacert", required_argument, NULL, 'C' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct words w = { r, DEFAULT_PREFIX, NULL };
	int operand;

	if (cmdline_parse("registry", argc, argv, "v", options, parse_option, &w, &operand))
		return usage();
	if (operand != argc - 1) {
		fprintf(stderr, "%s: registry: one interface, please\n", PROG_NAME);
		return usage();
	}
	r->cfg.ifname = argv[operand];
	if (!ipc_valid_name(r->cfg.ifname)) {
		fprintf(stderr, "%s: registry: invalid interface name `%s'\n", PROG_NAME,
			r->cfg.ifname);
		return usage();
	}
	if (check_options(r) || set_paths(r, w.prefix, w.state))
		return usage();
	return 0;
}

/* Only from a picture of etcd read whole, and with the daemon's key known: the entry that is
 * ours must not become a peer. */
static bool can_reconcile(const struct registry *r)
{
	return r->sess.synced && r->dmn.have_self && r->dmn.up;
}

/* One turn of the loop: the daemon when due, etcd, the decision; returns when to wake. */
static double step(struct registry *r, double *next_tick)
{
	double t = now(), wake;
	int ret;

	if (t >= *next_tick) {
		daemon_tick(r);
		*next_tick = now();
		*next_tick += (*next_tick - t) * TICK_SHARE > TICK_SEC
				      ? (*next_tick - t) * TICK_SHARE
				      : TICK_SEC;
	}
	if (!r->sess.up && r->dmn.have_self && t >= r->sess.next_try)
		session_connect(r);
	else if (r->sess.up && (t >= r->sess.next_keepalive || r->sess.need_publish))
		session_keepalive(r);
	if (r->dirty && can_reconcile(r) && now() >= r->next_reconcile) {
		ret = reconcile_run(r);
		r->dirty = ret != 0;
		r->next_reconcile = ret ? now() + TICK_SEC : 0;
	}
	state_write_metrics(r);
	wake = *next_tick;
	if (r->sess.up && r->sess.next_keepalive < wake)
		wake = r->sess.next_keepalive;
	else if (!r->sess.up && r->dmn.have_self && r->sess.next_try < wake)
		wake = r->sess.next_try;
	if (r->dirty && can_reconcile(r) && r->next_reconcile < wake)
		wake = r->next_reconcile;
	return wake;
}

static void registry_free(struct registry *r)
{
	etcd_free(r->sess.etcd);
	entries_free(&r->nodes);
	entries_free(&r->rule_keys);
	rules_free(&r->rules.own);
	rules_free(&r->rules.seen);
	rules_free(&r->rules.refused);
	rules_free(&r->rules.sent.own);
	rules_free(&r->rules.sent.node);
	rules_free(&r->rules.sent.cluster);
	rules_free(&r->rules.node.rules);
	rules_free(&r->rules.cluster.rules);
	peers_free(&r->peers);
	free(r->metrics_written);
}

/* Until a signal: the loop, waiting in the watch between two turns. */
static void run(struct registry *r)
{
	double next_tick = 0, wake, t;
	int ret, timeout;

	while (!stop_signal) {
		wake = step(r, &next_tick);
		t = now();
		timeout = wake > t ? (int)((wake - t) * 1000) + 1 : 0;
		ret = etcd_watch_poll(r->sess.etcd, timeout);
		if (ret < 0 && r->sess.up)
			session_down(r, "watch", ret);
		else if (r->sess.resync && r->sess.up)
			session_down(r, "resync", -ENOMEM);
		r->sess.resync = false;
	}
}

int registry_main(int argc, char *argv[])
{
	struct registry r = { .cfg.ttl = DEFAULT_TTL,
			      .sess.backoff = BACKOFF_MIN,
			      .rules.node.what = "node",
			      .rules.cluster.what = "cluster" };
	struct sigaction sa = { .sa_handler = on_signal };
	int ret;

	if (wants_help(argc, argv)) {
		usage_text(stdout);
		return 0;
	}
	log_init("sealnet-registry", true, LOG_INFO);
	ret = parse_args(&r, argc, argv);
	if (ret)
		return ret;
	ret = etcd_open(r.cfg.etcd_url, ETCD_TIMEOUT_MS, &r.sess.etcd);
	if (!ret)
		ret = etcd_set_tls(r.sess.etcd, r.cfg.cacert, r.cfg.cert, r.cfg.key);
	if (ret) {
		fprintf(stderr, "%s: registry: %s\n", PROG_NAME, strerror(-ret));
		etcd_free(r.sess.etcd);
		return 1;
	}
	if (own_check_config(&r)) {
		etcd_free(r.sess.etcd);
		return EXIT_USAGE;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	state_load(&r);
	log_notice("%s: registry: joining %s at %s (lease %u s)", r.cfg.ifname, r.cfg.prefix,
		   r.cfg.etcd_url, r.cfg.ttl);
	run(&r);
	log_notice("%s: registry: stopping on signal %d; our entry expires with its lease, the "
		   "daemon keeps its peers",
		   r.cfg.ifname, (int)stop_signal);
	registry_free(&r);
	return 0;
}
