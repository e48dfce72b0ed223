/* Prometheus metrics: a small HTTP/1.x server on the device's loop answers GET /metrics with
 * the counters the datapath keeps anyway, so scraping costs the datapath nothing but the time
 * of one page between two wakeups. Every other path is 404 and every other method 405. One
 * request per connection (Connection: close): only the request line is read, headers are
 * skipped, a body is never read. Ours rather than evhttp: libevent 2.1's evhttp can neither
 * cap its connections nor tell when one goes, and the cap is what keeps an idle-connection
 * flood from taking every descriptor (listener.h).
 *
 * The page is the text exposition format 0.0.4: each family is announced by # HELP and
 * # TYPE lines and its samples follow together (so the peer loop runs once per family),
 * counters end in _total, and label values escape backslash, double quote and newline. A
 * peer's samples carry its public key (peer=) and, when the config gives one, its Name (name=). */
#include "metrics.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <net/if.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include "device.h"
#include "firewall.h"
#include "key.h"
#include "listener.h"
#include "log.h"
#include "peer.h"

/* A scraper sends a request line and a few headers, never a body. */
#define METRICS_MAX_HEADERS 8192
/* Connections idle for this long are closed: a stuck client must not pile up sockets. */
#define METRICS_TIMEOUT_SEC 10
/* Scrapers at once; more wait in the kernel's backlog (see listener.h). */
#define METRICS_MAX_CONNECTIONS 16
/* Queued connections cost the kernel's memory, not descriptors. After an idle-connection
 * flood the kernel keeps completing the flood's half-open connections for a while, in bursts
 * (their retransmissions were synchronized by the flood); a backlog of 16 was full often
 * enough at those moments that a scraper's SYN was dropped several times in a row. */
#define METRICS_BACKLOG 128

/* A label value escaped: every byte may double. */
#define LABEL_MAX(n) (2 * (n) + 1)

struct metrics_conn {
	TAILQ_ENTRY(metrics_conn) link;
	struct metrics *m;
	struct bufferevent *bev;
	bool answered, shut;
};

struct metrics {
	struct device *dev;
	struct evconnlistener *listener;
	struct listener *guard;
	TAILQ_HEAD(, metrics_conn) conns;
};

/* The page being written; the first failed append is remembered, the rest are skipped. */
struct page {
	struct evbuffer *out;
	int ret;
};

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

/* The labels of a peer's samples after the interface's: peer="KEY", and name="NAME" when
 * the config gives it a Name (left out otherwise: to Prometheus an empty label is none). */
#define PEER_LABELS_MAX                                                                            \
	(sizeof(",peer=\"\",name=\"\"") + LABEL_MAX(KEY_B64_LEN) + LABEL_MAX(CONFIG_NAME_MAX))

static void peer_label(char out[PEER_LABELS_MAX], const struct peer *p)
{
	char b64[KEY_B64_LEN], key[LABEL_MAX(KEY_B64_LEN)], name[LABEL_MAX(CONFIG_NAME_MAX)];

	key_to_base64(b64, peer_public_key(p));
	escape_label(key, b64);
	escape_label(name, p->label);
	snprintf(out, PEER_LABELS_MAX, ",peer=\"%s\"%s%s%s", key, p->label[0] ? ",name=\"" : "",
		 name, p->label[0] ? "\"" : "");
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
		put(pg,
		    "sealnet_rule_matches_total{interface=\"%s\",index=\"%zu\",rule=\"%s\"} %llu\n",
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
	char pl[PEER_LABELS_MAX];
	struct peer *p;

	/* peer_stats.h names them. */
	for (size_t i = 0; i < peer_n_counters; i++) {
		const struct peer_counter *c = &peer_counters[i];

		family(pg, c->metric, "counter", c->help);
		TAILQ_FOREACH(p, &dev->peers, link) {
			peer_label(pl, p);
			put(pg, "%s{interface=\"%s\"%s} %llu\n", c->metric, ifl, pl,
			    (unsigned long long)peer_counter_value(&p->stats, i));
		}
	}
	family(pg, "sealnet_peer_last_handshake_seconds", "gauge",
	       "Time of the last completed handshake with the peer, in seconds since the epoch "
	       "(0 = never).");
	TAILQ_FOREACH(p, &dev->peers, link) {
		peer_label(pl, p);
		put(pg, "sealnet_peer_last_handshake_seconds{interface=\"%s\"%s} %llu\n", ifl, pl,
		    (unsigned long long)(p->last_handshake_realtime / NSEC_PER_SEC));
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

int metrics_request_status(const char *req, size_t len, bool *head)
{
	const char *sp, *target, *query, *end = req + len;
	size_t mlen;

	*head = false;
	sp = memchr(req, ' ', len);
	if (!sp || sp == req)
		return 400;
	mlen = (size_t)(sp - req);
	for (const char *c = req; c < sp; c++)
		if (*c < 'A' || *c > 'Z')
			return 400;
	target = sp + 1;
	sp = memchr(target, ' ', (size_t)(end - target));
	if (!sp || sp == target || (size_t)(end - sp) < 9 || memcmp(sp + 1, "HTTP/1.", 7))
		return 400;
	/* origin-form: the path ends at the query. */
	query = memchr(target, '?', (size_t)(sp - target));
	if ((query ? query : sp) - target != 8 || memcmp(target, "/metrics", 8))
		return 404;
	*head = mlen == 4 && !memcmp(req, "HEAD", 4);
	if (!*head && !(mlen == 3 && !memcmp(req, "GET", 3)))
		return 405;
	return 200;
}

static const char *status_text(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	default:
		return "Bad Request";
	}
}

static void conn_free(struct metrics_conn *c)
{
	TAILQ_REMOVE(&c->m->conns, c, link);
	bufferevent_free(c->bev);
	listener_closed(c->m->guard);
	free(c);
}

/* The answer, then the write side closed. A client may still be sending (a body we never
 * read): closing at once could reset the connection before it read the answer, so what it
 * sends is read and dropped until it closes too, or the timeout. */
static void reply(struct metrics_conn *c, int status, bool head)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct evbuffer *body = evbuffer_new();
	const char *type = status == 200 ? METRICS_CONTENT_TYPE : "text/plain; charset=utf-8";
	int ret = body ? 0 : -ENOMEM;

	if (!ret && status == 200)
		ret = metrics_format(c->m->dev, body);
	if (ret) {
		log_warn("%s: metrics: out of memory", c->m->dev->ifname);
		status = 500;
		if (body)
			evbuffer_drain(body, evbuffer_get_length(body));
	}
	if (body && status != 200)
		evbuffer_add_printf(body, "%d %s\n", status, status_text(status));
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n",
			    status, status_text(status), type,
			    body ? evbuffer_get_length(body) : 0);
	if (status == 405)
		evbuffer_add_printf(out, "Allow: GET, HEAD\r\n");
	if (status == 200)
		evbuffer_add_printf(out, "Cache-Control: no-store\r\n");
	evbuffer_add_printf(out, "Connection: close\r\n\r\n");
	if (body && !head)
		evbuffer_add_buffer(out, body);
	if (body)
		evbuffer_free(body);
	c->answered = true;
}

static void conn_read(struct bufferevent *bev, void *arg)
{
	struct metrics_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr eol;
	const char *line;
	bool head = false;
	int status;

	if (c->answered) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	/* Answered once the headers are complete; only the request line matters. */
	if (evbuffer_search(in, "\r\n\r\n", 4, NULL).pos < 0 &&
	    evbuffer_search(in, "\n\n", 2, NULL).pos < 0) {
		if (evbuffer_get_length(in) > METRICS_MAX_HEADERS)
			reply(c, 431, false);
		return;
	}
	eol = evbuffer_search(in, "\n", 1, NULL);
	line = (const char *)evbuffer_pullup(in, eol.pos + 1);
	if (!line)
		status = 500;
	else
		status = metrics_request_status(line,
						(size_t)eol.pos -
							(eol.pos && line[eol.pos - 1] == '\r'),
						&head);
	evbuffer_drain(in, evbuffer_get_length(in));
	reply(c, status, head);
}

static void conn_write(struct bufferevent *bev, void *arg)
{
	struct metrics_conn *c = arg;

	if (c->answered && !c->shut) {
		shutdown(bufferevent_getfd(bev), SHUT_WR);
		c->shut = true;
	}
}

static void conn_event(struct bufferevent *bev, short what, void *arg)
{
	conn_free(arg);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int socklen, void *arg)
{
	struct metrics *m = arg;
	struct timeval tv = { .tv_sec = METRICS_TIMEOUT_SEC };
	struct metrics_conn *c;

	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->m = m;
	c->bev = bufferevent_socket_new(m->dev->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		close(fd);
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&m->conns, c, link);
	listener_opened(m->guard);
	bufferevent_setcb(c->bev, conn_read, conn_write, conn_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, METRICS_MAX_HEADERS + 1);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
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
	char text[ADDR_STRLEN], what[IFNAMSIZ + 32];
	struct metrics *m;
	int fd, ret;

	*out = NULL;
	if (addr->sa.sa_family != AF_INET && addr->sa.sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->dev = dev;
	TAILQ_INIT(&m->conns);
	fd = listen_socket(addr);
	if (fd < 0) {
		ret = fd;
		goto err_free;
	}
	m->listener = evconnlistener_new(dev->base, accept_cb, m,
					 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (!m->listener) {
		close(fd);
		ret = -ENOMEM;
		goto err_free;
	}
	snprintf(what, sizeof(what), "%s: metrics", dev->ifname);
	ret = listener_new(m->listener, METRICS_MAX_CONNECTIONS, what, &m->guard);
	if (ret)
		goto err_listener;
	dev->metrics_listen = *addr;
	addr_endpoint_str(addr, text);
	log_notice("%s: metrics on http://%s/metrics", dev->ifname, text);
	if (!is_loopback(addr))
		log_warn("%s: metrics listen on %s, not loopback: whoever reaches it reads every "
			 "peer's public key and traffic",
			 dev->ifname, text);
	*out = m;
	return 0;

err_listener:
	evconnlistener_free(m->listener); /* closes fd */
err_free:
	free(m);
	return ret;
}

void metrics_close(struct metrics *m)
{
	struct metrics_conn *c;

	if (!m)
		return;
	while ((c = TAILQ_FIRST(&m->conns)))
		conn_free(c);
	listener_free(m->guard);
	evconnlistener_free(m->listener);
	free(m);
}
