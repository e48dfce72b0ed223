/* Prometheus metrics: libevent's evhttp on the device's loop answers GET /metrics with the
 * counters the datapath keeps anyway, so scraping costs the datapath nothing but the time of
 * one page between two wakeups. Every other path is 404 and every other method 405.
 *
 * The page is the text exposition format 0.0.4: each family is announced by # HELP and
 * # TYPE lines and its samples follow together (so the peer loop runs once per family),
 * counters end in _total, and label values escape backslash, double quote and newline. */
#include "metrics.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <net/if.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "device.h"
#include "firewall.h"
#include "key.h"
#include "log.h"
#include "peer.h"

/* A scraper sends a request line and a few headers, never a body. */
#define METRICS_MAX_HEADERS 8192
#define METRICS_MAX_BODY 4096
/* Connections idle for this long are closed: a stuck client must not pile up sockets. */
#define METRICS_TIMEOUT_SEC 10
#define METRICS_BACKLOG 16

/* A label value escaped: every byte may double. */
#define LABEL_MAX(n) (2 * (n) + 1)

struct metrics {
	struct device *dev;
	struct evhttp *http;
};

/* The page being written; the first failed append is remembered, the rest are skipped. */
struct page {
	struct evbuffer *out;
	int ret;
};

struct peer_counter {
	const char *name;
	const char *help;
	size_t offset; /* of the uint64_t in struct peer_stats */
};

static const struct peer_counter peer_counters[] = {
	{ "sealnet_peer_rx_bytes_total",
	  "Bytes of authenticated datagrams received from the peer (UDP payload).",
	  offsetof(struct peer_stats, rx_bytes) },
	{ "sealnet_peer_tx_bytes_total", "Bytes of datagrams sent to the peer (UDP payload).",
	  offsetof(struct peer_stats, tx_bytes) },
	{ "sealnet_peer_rx_packets_total",
	  "Authenticated datagrams received from the peer (data, keepalives, handshakes).",
	  offsetof(struct peer_stats, rx_packets) },
	{ "sealnet_peer_tx_packets_total",
	  "Datagrams sent to the peer (data, keepalives, handshakes).",
	  offsetof(struct peer_stats, tx_packets) },
	{ "sealnet_peer_handshakes_total", "Handshakes completed with the peer (sessions derived).",
	  offsetof(struct peer_stats, handshakes_completed) },
	{ "sealnet_peer_handshakes_failed_total",
	  "Handshake initiations to the peer that timed out unanswered.",
	  offsetof(struct peer_stats, handshakes_failed) },
	{ "sealnet_peer_handshake_initiations_total", "Handshake initiations sent to the peer.",
	  offsetof(struct peer_stats, handshakes_initiated) },
	{ "sealnet_peer_keypair_rotations_total",
	  "Sessions the peer confirmed, moving them from next to current.",
	  offsetof(struct peer_stats, keypair_rotations) },
};

#define N_PEER_COUNTERS (sizeof(peer_counters) / sizeof(peer_counters[0]))

static void put(struct page *pg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct page *pg, const char *fmt, ...)
{
	va_list ap;

	if (pg->ret)
		return;
	va_start(ap, fmt);
	if (evbuffer_add_vprintf(pg->out, fmt, ap) < 0)
		pg->ret = -ENOMEM;
	va_end(ap);
}

static void family(struct page *pg, const char *name, const char *type, const char *help)
{
	put(pg, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* out must hold LABEL_MAX(strlen(in)) bytes. Interface names may hold quotes and
 * backslashes; base64 keys never do, but go through here all the same. */
static void escape_label(char *out, const char *in)
{
	for (; *in; in++) {
		switch (*in) {
		case '\\':
			*out++ = '\\';
			*out++ = '\\';
			break;
		case '"':
			*out++ = '\\';
			*out++ = '"';
			break;
		case '\n':
			*out++ = '\\';
			*out++ = 'n';
			break;
		default:
			*out++ = *in;
		}
	}
	*out = '\0';
}

static void peer_label(char out[LABEL_MAX(KEY_B64_LEN)], const struct peer *p)
{
	char b64[KEY_B64_LEN];

	key_to_base64(b64, peer_public_key(p));
	escape_label(out, b64);
}

/* Packets each access rule decided: allowed for allow rules, dropped for deny rules (the
 * default deny is the drops_total reason "firewall"). */
static void format_rules(struct page *pg, struct device *dev, const char *ifl)
{
	char rl[LABEL_MAX(FIREWALL_RULE_TEXT_MAX)];
	size_t n = firewall_rule_count(dev->firewall);

	if (!n)
		return;
	family(pg, "sealnet_rule_matches_total", "counter",
	       "Incoming packets the access rule decided, by rule in order.");
	for (size_t i = 0; i < n; i++) {
		uint64_t matches;
		const struct firewall_rule *r = firewall_rule(dev->firewall, i, &matches);

		escape_label(rl, r->text);
		put(pg, "sealnet_rule_matches_total{interface=\"%s\",index=\"%zu\",rule=\"%s\"} %llu\n",
		    ifl, i, rl, (unsigned long long)matches);
	}
}

static void format_device(struct page *pg, struct device *dev, const char *ifl)
{
	const char *reason;
	struct peer *p;
	unsigned n_peers = 0;

	family(pg, "sealnet_rx_datagrams_total", "counter",
	       "Datagrams read from the UDP sockets, valid or not.");
	put(pg, "sealnet_rx_datagrams_total{interface=\"%s\"} %llu\n", ifl,
	    (unsigned long long)dev->stats.rx_datagrams);
	family(pg, "sealnet_tx_datagrams_total", "counter", "Datagrams sent on the UDP sockets.");
	put(pg, "sealnet_tx_datagrams_total{interface=\"%s\"} %llu\n", ifl,
	    (unsigned long long)dev->stats.tx_datagrams);
	family(pg, "sealnet_cookie_replies_sent_total", "counter",
	       "Cookie replies sent to handshake messages received under load.");
	put(pg, "sealnet_cookie_replies_sent_total{interface=\"%s\"} %llu\n", ifl,
	    (unsigned long long)dev->stats.cookie_replies_sent);
	family(pg, "sealnet_drops_total", "counter",
	       "Packets dropped, by reason (the drop_ names of docs/design.md).");
	for (int d = 0; d < DROP_MAX; d++) {
		reason = device_drop_name(d);
		if (!strncmp(reason, "drop_", 5))
			reason += 5;
		put(pg, "sealnet_drops_total{interface=\"%s\",reason=\"%s\"} %llu\n", ifl, reason,
		    (unsigned long long)dev->stats.drops[d]);
	}
	TAILQ_FOREACH(p, &dev->peers, link)
		n_peers++;
	family(pg, "sealnet_peers", "gauge", "Peers configured on the interface.");
	put(pg, "sealnet_peers{interface=\"%s\"} %u\n", ifl, n_peers);
	format_rules(pg, dev, ifl);
}

static void format_peers(struct page *pg, struct device *dev, const char *ifl)
{
	char pl[LABEL_MAX(KEY_B64_LEN)];
	struct peer *p;

	for (size_t i = 0; i < N_PEER_COUNTERS; i++) {
		const struct peer_counter *c = &peer_counters[i];

		family(pg, c->name, "counter", c->help);
		TAILQ_FOREACH(p, &dev->peers, link) {
			uint64_t v;

			memcpy(&v, (const uint8_t *)&p->stats + c->offset, sizeof(v));
			peer_label(pl, p);
			put(pg, "%s{interface=\"%s\",peer=\"%s\"} %llu\n", c->name, ifl, pl,
			    (unsigned long long)v);
		}
	}
	family(pg, "sealnet_peer_last_handshake_seconds", "gauge",
	       "Time of the last completed handshake with the peer, in seconds since the epoch "
	       "(0 = never).");
	TAILQ_FOREACH(p, &dev->peers, link) {
		peer_label(pl, p);
		put(pg, "sealnet_peer_last_handshake_seconds{interface=\"%s\",peer=\"%s\"} %llu\n",
		    ifl, pl, (unsigned long long)(p->last_handshake_realtime / NSEC_PER_SEC));
	}
}

int metrics_format(struct device *dev, struct evbuffer *out)
{
	struct page pg = { .out = out };
	char ifl[LABEL_MAX(IFNAMSIZ)];

	escape_label(ifl, dev->ifname);
	format_device(&pg, dev, ifl);
	format_peers(&pg, dev, ifl);
	return pg.ret;
}

/* evhttp_send_error() would drop our headers (the Allow of a 405) and answer in HTML. */
static void send_status(struct evhttp_request *req, int code, const char *reason)
{
	struct evbuffer *body = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; charset=utf-8");
	if (body)
		evbuffer_add_printf(body, "%d %s\n", code, reason);
	evhttp_send_reply(req, code, reason, body);
	if (body)
		evbuffer_free(body);
}

static void handle_request(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
	struct evbuffer *body;

	if (!path || strcmp(path, "/metrics")) {
		send_status(req, HTTP_NOTFOUND, "Not Found");
		return;
	}
	/* HEAD too: any general-purpose HTTP client may try it; evhttp sends no body for it. */
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(headers, "Allow", "GET, HEAD");
		send_status(req, HTTP_BADMETHOD, "Method Not Allowed");
		return;
	}
	body = evbuffer_new();
	if (!body || metrics_format(m->dev, body)) {
		log_warn("%s: metrics: out of memory", m->dev->ifname);
		send_status(req, HTTP_INTERNAL, "Internal Server Error");
		goto out;
	}
	evhttp_add_header(headers, "Content-Type", METRICS_CONTENT_TYPE);
	evhttp_add_header(headers, "Cache-Control", "no-store");
	evhttp_send_reply(req, HTTP_OK, "OK", body);
out:
	if (body)
		evbuffer_free(body);
}

/* Our own socket rather than evhttp_bind_socket(), which resolves a string and logs on its
 * own: this way the caller gets the errno (EADDRINUSE) and [::] means IPv6 only, so an
 * explicit IPv6 address never also exposes the page on IPv4. */
static int listen_socket(const union endpoint *addr)
{
	int fd, one = 1, ret;

	fd = socket(addr->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A restart must not wait for the last scrape's connection in TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (addr->sa.sa_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(fd, &addr->sa, addr_endpoint_len(addr)) || listen(fd, METRICS_BACKLOG)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

static bool is_loopback(const union endpoint *addr)
{
	if (addr->sa.sa_family == AF_INET)
		return (ntohl(addr->in4.sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&addr->in6.sin6_addr);
}

int metrics_open(struct device *dev, const union endpoint *addr, struct metrics **out)
{
	char text[ADDR_STRLEN];
	struct metrics *m;
	int fd, ret;

	*out = NULL;
	if (addr->sa.sa_family != AF_INET && addr->sa.sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->dev = dev;
	m->http = evhttp_new(dev->base);
	if (!m->http) {
		ret = -ENOMEM;
		goto err_free;
	}
	evhttp_set_max_headers_size(m->http, METRICS_MAX_HEADERS);
	evhttp_set_max_body_size(m->http, METRICS_MAX_BODY);
	evhttp_set_timeout(m->http, METRICS_TIMEOUT_SEC);
	/* evhttp answers methods outside this set with 501 itself; we want 405 with Allow. */
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
						    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
						    EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(m->http, handle_request, m);
	fd = listen_socket(addr);
	if (fd < 0) {
		ret = fd;
		goto err_http;
	}
	if (!evhttp_accept_socket_with_handle(m->http, fd)) {
		close(fd);
		ret = -ENOMEM;
		goto err_http;
	}
	dev->metrics_listen = *addr;
	addr_endpoint_str(addr, text);
	log_notice("%s: metrics on http://%s/metrics", dev->ifname, text);
	if (!is_loopback(addr))
		log_warn("%s: metrics listen on %s, not loopback: whoever reaches it reads every "
			 "peer's public key and traffic",
			 dev->ifname, text);
	*out = m;
	return 0;

err_http:
	evhttp_free(m->http);
err_free:
	free(m);
	return ret;
}

void metrics_close(struct metrics *m)
{
	if (!m)
		return;
	evhttp_free(m->http);
	free(m);
}
