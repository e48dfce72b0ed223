/* The device's life: made with its TUN and netlink (device_new()), its event callbacks,
 * its threads, the peers by key and the cursors over them, the greetings of the peers an
 * apply made, the counters' log, and what device_free() undoes. The apply is apply.c's, the
 * addresses and routes we add routes.c's, changes in slices job.c's. */
#include "device.h"

#include <errno.h>
#include <event2/event.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "allowedips.h"
#include "cipher.h"
#include "config.h"
#include "datapath.h"
#include "device_priv.h"
#include "firewall.h"
#include "index.h"
#include "key.h"
#include "log.h"
#include "netlink.h"
#include "peer.h"
#include "ratelimiter.h"
#include "tun.h"
#include "workers.h"

static const char *const drop_names[DROP_MAX] = {
	[DROP_BAD_SIZE] = "drop_bad_size",
	[DROP_UNKNOWN_TYPE] = "drop_unknown_type",
	[DROP_BAD_MAC1] = "drop_bad_mac1",
	[DROP_COOKIE] = "drop_cookie",
	[DROP_RATELIMIT] = "drop_ratelimit",
	[DROP_HANDSHAKE] = "drop_handshake",
	[DROP_HANDSHAKE_REPLAY] = "drop_handshake_replay",
	[DROP_UNKNOWN_INDEX] = "drop_unknown_index",
	[DROP_EXPIRED] = "drop_expired",
	[DROP_DECRYPT] = "drop_decrypt",
	[DROP_REPLAY] = "drop_replay",
	[DROP_BAD_INNER] = "drop_bad_inner",
	[DROP_ALLOWEDIPS] = "drop_allowedips",
	[DROP_NO_ROUTE] = "drop_no_route",
	[DROP_LINK_LOCAL] = "drop_link_local",
	[DROP_NO_ENDPOINT] = "drop_no_endpoint",
	[DROP_STAGED_FULL] = "drop_staged_full",
	[DROP_TUN_WRITE] = "drop_tun_write",
	[DROP_UDP_SEND] = "drop_udp_send",
	[DROP_FIREWALL] = "drop_firewall",
};

const char *device_drop_name(enum device_drop d)
{
	return d < DROP_MAX ? drop_names[d] : "drop_unknown";
}

uint64_t device_now(void)
{
	return device_clock();
}

uint64_t device_realtime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

struct peer *device_peer_by_key(struct device *dev, const uint8_t pub[KEY_LEN])
{
	return peer_table_lookup(&dev->peer_table, pub);
}

static void tun_cb(evutil_socket_t fd, short what, void *arg)
{
	datapath_tun_readable(arg);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg);

int device_new(struct event_base *base, const char *ifname, unsigned offload, struct device **out)
{
	struct device *dev;
	unsigned features;
	int ret = -ENOMEM;

	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->base = base;
	dev->tun_fd = -1;
	dev->udp.fd4 = dev->udp.fd6 = -1;
	dev->mtu = CONFIG_DEFAULT_MTU;
	load_init(&dev->load);
	dev->manage_net = true;
	TAILQ_INIT(&dev->peers);
	LIST_INIT(&dev->cursors);
	dev->offload = offload;
	dev->index = malloc(sizeof(*dev->index));
	if (!dev->index)
		goto err;
	index_init(dev->index);
	ret = peer_table_init(&dev->peer_table);
	if (ret)
		goto err;
	ret = allowedips_new(&dev->allowedips);
	if (ret)
		goto err;
	ret = ratelimiter_new(&dev->ratelimiter);
	if (ret)
		goto err;
	ret = firewall_new(&dev->firewall);
	if (ret)
		goto err;
	features = offload & CONFIG_OFFLOAD_TUN ? TUN_VNET_HDR | TUN_TSO | TUN_USO : 0;
	ret = tun_open(ifname, dev->ifname, &features);
	if (ret < 0) {
		/* The kernel's EINVAL for a name another kind of interface holds says nothing. */
		if (ret == -EINVAL && if_nametoindex(ifname))
			log_err("%s: an interface of that name exists and is not a TUN device: "
				"remove it (ip link del %s) or choose another name",
				ifname, ifname);
		else if (ret == -EBUSY)
			log_err("%s: the TUN device is held by another process (another sealnetd, "
				"wireguard-go?)",
				ifname);
		else
			log_err("%s: cannot create TUN device: %s", ifname, strerror(-ret));
		goto err;
	}
	dev->tun_fd = ret;
	dev->tun_features = features;
	ret = datapath_new(features, &dev->dp);
	if (ret)
		goto err;
	log_info("%s: TUN offloads: %s%s%s", ifname, features & TUN_VNET_HDR ? "vnet-hdr" : "none",
		 features & TUN_TSO ? " tso" : "", features & TUN_USO ? " uso" : "");
	dev->ifindex = (int)if_nametoindex(dev->ifname);
	ret = netlink_open(&dev->nl);
	if (ret) {
		log_err("%s: cannot open netlink: %s", dev->ifname, strerror(-ret));
		goto err;
	}
	dev->kick_ev = evtimer_new(base, kick_cb, dev);
	if (!dev->kick_ev) {
		ret = -ENOMEM;
		goto err;
	}
	dev->tun_ev = event_new(base, dev->tun_fd, EV_READ | EV_PERSIST, tun_cb, dev);
	if (!dev->tun_ev || event_add(dev->tun_ev, NULL)) {
		ret = -ENOMEM;
		goto err;
	}
	*out = dev;
	return 0;
err:
	device_free(dev);
	return ret;
}

static void swap_bytes(uint8_t *a, uint8_t *b, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		uint8_t t = a[i];

		a[i] = b[i];
		b[i] = t;
	}
}

/* Heapsort: glibc's qsort() asks sysinfo() how much memory there is before sorting a large
 * array, and the daemon's seccomp filter kills it for that. */
void device_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	uint8_t *b = base;

	for (size_t end = n, start = n / 2; end > 1;) {
		size_t root, child;

		if (start > 0) {
			start--;
		} else {
			end--;
			swap_bytes(b, b + end * size, size);
		}
		for (root = start; (child = 2 * root + 1) < end; root = child) {
			if (child + 1 < end && cmp(b + child * size, b + (child + 1) * size) < 0)
				child++;
			if (cmp(b + root * size, b + child * size) >= 0)
				break;
			swap_bytes(b + root * size, b + child * size, size);
		}
	}
}

/* A get that walks the peers over several turns of the loop must not hold a peer that goes:
 * its cursor moves on to the next. */
void device_cursors_skip(struct device *dev, const struct peer *p)
{
	struct device_cursor *cur;

	LIST_FOREACH(cur, &dev->cursors, link)
		if (cur->next == p)
			cur->next = TAILQ_NEXT(p, link);
}

void device_cursor_open(struct device *dev, struct device_cursor *cur)
{
	cur->next = TAILQ_FIRST(&dev->peers);
	LIST_INSERT_HEAD(&dev->cursors, cur, link);
}

void device_cursor_close(struct device_cursor *cur)
{
	LIST_REMOVE(cur, link);
	cur->next = NULL;
}

/* After a change of identity, as after WireGuard's: peers we had a session with hear from
 * us now rather than at their next packet. */
void device_kick_rekeys(struct device *dev)
{
	uint64_t now = device_now();
	struct peer *p;

	TAILQ_FOREACH(p, &dev->peers, link)
		if (p->previous && !p->current && p->endpoint.sa.sa_family &&
		    dev->local.private_key)
			datapath_send_initiation(p, false, now);
}

/* As WireGuard does, a peer with a persistent keepalive is contacted at once rather than
 * at the first packet, so a node behind NAT becomes reachable without sending first. */
static void kick_persistent_keepalive(struct peer *p, uint64_t now)
{
	if (p->timers.persistent_keepalive_interval && p->endpoint.sa.sa_family && !p->current)
		datapath_send_keepalive(p, now);
}

/* Peers made with an endpoint are greeted with one initiation each, KICK_BATCH per turn of
 * the event loop, a turn every millisecond: a load of thousands never holds the loop (an
 * initiation costs about 100 us of X25519, so a batch about 1.6 ms). The
 * queue holds keys, not peers, so a peer removed meanwhile is simply not found. */
#define KICK_BATCH 16

/* One initiation, not the retries of one that has data waiting: a peer that does not
 * answer (it is down) costs one message, and traffic to it starts the handshake again as
 * usual. */
static void kick_one(struct peer *p, uint64_t now)
{
	if (!p->endpoint.sa.sa_family || !p->dev->local.private_key || p->current ||
	    p->timers.last_sent_handshake)
		return;
	datapath_send_initiation(p, false, now);
	if (!p->staged_count)
		p->timers.retransmit_handshake = 0;
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct device *dev = arg;
	uint64_t now = device_now();
	size_t end = dev->kick_done + KICK_BATCH < dev->n_kick ? dev->kick_done + KICK_BATCH
							       : dev->n_kick;
	struct timeval ms = { 0, 1000 };
	struct peer *p;

	/* A job in slices comes first: its client waits for the last slice, and the greetings
	 * (1 s of X25519 at 10,000 peers) would take every other turn of the loop from it. */
	if (dev->job_running) {
		evtimer_add(dev->kick_ev, &ms);
		return;
	}
	for (; dev->kick_done < end; dev->kick_done++)
		if ((p = peer_table_lookup(&dev->peer_table, dev->kick[dev->kick_done])))
			kick_one(p, now);
	if (dev->kick_done < dev->n_kick) {
		evtimer_add(dev->kick_ev, &ms);
		return;
	}
	dev->n_kick = dev->kick_done = 0;
}

/* Contact at once what the apply made reachable: a peer made with an endpoint gets an
 * initiation, so a restarted node is heard again within one round trip of its registry's
 * re-adding it (the peer's old session toward us died with the restart, and it would
 * otherwise wait out its 15 s new-handshake timer); a peer with a persistent keepalive gets
 * one. Up to KICK_BATCH now, the rest through kick_cb(), all of them there while a job runs
 * (its slices stay short; the greetings follow its end); out of memory for the queue, the
 * rest are not greeted (traffic still starts their handshakes). */
void device_kick_peers(struct device *dev, const struct config *c, const struct apply *a,
		       const bool *made)
{
	uint64_t now = device_now();
	unsigned n = 0;

	for (size_t i = 0; i < c->n_peers; i++) {
		struct peer *p = a->peers[i].p;

		if (!made[i] || !p->endpoint.sa.sa_family) {
			kick_persistent_keepalive(p, now);
			continue;
		}
		/* Behind a queue already waiting, in it; while a job runs, all of them: each
		 * slice's few peers would otherwise be greeted at once (an X25519 or two each,
		 * a millisecond a slice), in the turns the job means to keep short. */
		if (!dev->job_running && dev->n_kick == dev->kick_done && n++ < KICK_BATCH) {
			kick_one(p, now);
			continue;
		}
		if (dev->n_kick == dev->kick_cap) {
			size_t cap = dev->kick_cap ? 2 * dev->kick_cap : 256;
			uint8_t(*grown)[KEY_LEN] = realloc(dev->kick, cap * sizeof(*grown));

			if (!grown)
				break;
			dev->kick = grown;
			dev->kick_cap = cap;
		}
		memcpy(dev->kick[dev->n_kick++], peer_public_key(p), KEY_LEN);
	}
	if (dev->n_kick > dev->kick_done && !evtimer_pending(dev->kick_ev, NULL)) {
		struct timeval ms = { 0, 1000 };

		evtimer_add(dev->kick_ev, &ms);
	}
}

int device_start_threads(struct device *dev, unsigned threads)
{
	unsigned n = threads ? threads : workers_auto();
	int ret;

	dev->threads = threads;
	if (n > 1) {
		ret = workers_new(n, &dev->workers);
		if (ret) {
			log_err("%s: cannot start %u threads: %s", dev->ifname, n, strerror(-ret));
			return ret;
		}
	}
	log_info("%s: %u thread%s for the datapath%s", dev->ifname, n, n > 1 ? "s" : "",
		 threads ? "" : " (Threads = auto)");
	return 0;
}

void device_free(struct device *dev)
{
	struct peer *p;

	if (!dev)
		return;
	workers_free(dev->workers);
	routes_remove_all(dev);
	netlink_close(dev->nl);
	while ((p = TAILQ_FIRST(&dev->peers))) {
		TAILQ_REMOVE(&dev->peers, p, link);
		peer_free(p);
	}
	peer_table_free(&dev->peer_table);
	if (dev->tun_ev)
		event_free(dev->tun_ev);
	if (dev->kick_ev)
		event_free(dev->kick_ev);
	free(dev->kick);
	if (dev->udp4_ev)
		event_free(dev->udp4_ev);
	if (dev->udp6_ev)
		event_free(dev->udp6_ev);
	udp_close(&dev->udp);
	if (dev->tun_fd >= 0)
		close(dev->tun_fd);
	if (dev->local.private_key)
		sodium_free(dev->local.private_key);
	cipher_wipe(&dev->cookie_checker, sizeof(dev->cookie_checker));
	allowedips_free(dev->allowedips);
	firewall_free(dev->firewall);
	ratelimiter_free(dev->ratelimiter);
	datapath_free(dev->dp);
	free(dev->index);
	free(dev);
}

void device_log_counters(struct device *dev)
{
	char line[1024], ep[ADDR_STRLEN], b64[KEY_B64_LEN];
	size_t off;
	struct peer *p;

	off = (size_t)snprintf(line, sizeof(line),
			       "rx_datagrams=%llu tx_datagrams=%llu cookie_replies_sent=%llu",
			       (unsigned long long)dev->stats.rx_datagrams,
			       (unsigned long long)dev->stats.tx_datagrams,
			       (unsigned long long)dev->stats.cookie_replies_sent);
	for (int d = 0; d < DROP_MAX && off < sizeof(line); d++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, " %s=%llu",
					device_drop_name(d),
					(unsigned long long)dev->stats.drops[d]);
	log_notice("counters: %s", line);
	for (size_t i = 0; i < firewall_rule_count(dev->firewall); i++) {
		uint64_t matches;
		const struct firewall_rule *r = firewall_rule(dev->firewall, i, &matches);

		log_notice("counters: rule %zu matches=%llu (%s)", i, (unsigned long long)matches,
			   r->text);
	}
	TAILQ_FOREACH(p, &dev->peers, link) {
		key_to_base64(b64, peer_public_key(p));
		off = (size_t)snprintf(line, sizeof(line), "peer %s endpoint=%s", b64,
				       addr_endpoint_str(&p->endpoint, ep));
		/* peer_stats.h names them. */
		for (size_t i = 0; i < peer_n_counters && off < sizeof(line); i++)
			off += (size_t)snprintf(line + off, sizeof(line) - off, " %s=%llu",
						peer_counters[i].name,
						(unsigned long long)peer_counter_value(&p->stats,
										       i));
		log_notice("counters: %s", line);
	}
}
