/* get=1 and get=sealnet (uapi.h): the answer written from the device, the interface's
 * lines first, then the peers a slice at a time as the socket drains (uapi.c). */
#include "uapi_priv.h"

#include <event2/buffer.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "firewall.h"
#include "key.h"
#include "peer.h"
#include "workers.h"

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

/* get=sealnet's lines after the interface's: our counters, what the process is, its
 * addresses and rules. */
static void get_ours(struct device *dev, struct evbuffer *out, const char *config_path)
{
	char ep[ADDR_STRLEN];

	evbuffer_add_printf(out,
			    "sealnet_rx_datagrams=%llu\nsealnet_tx_datagrams=%llu\n"
			    "sealnet_cookie_replies_sent=%llu\n",
			    (unsigned long long)dev->stats.rx_datagrams,
			    (unsigned long long)dev->stats.tx_datagrams,
			    (unsigned long long)dev->stats.cookie_replies_sent);
	for (int d = 0; d < DROP_MAX; d++)
		evbuffer_add_printf(out, "sealnet_%s=%llu\n", device_drop_name(d),
				    (unsigned long long)dev->stats.drops[d]);
	/* For `sealnet reload`, which checks the file first, and `sealnet status`: what the
	 * process and the interface are. */
	if (config_path)
		evbuffer_add_printf(out, "sealnet_config=%s\n", config_path);
	evbuffer_add_printf(out, "sealnet_pid=%ld\nsealnet_mtu=%u\nsealnet_threads=%u\n",
			    (long)getpid(), dev->mtu,
			    dev->workers ? workers_threads(dev->workers) : 1);
	for (unsigned bit = 1; bit & CONFIG_OFFLOAD_ALL; bit <<= 1)
		if (dev->offload & bit)
			evbuffer_add_printf(out, "sealnet_offload=%s\n", config_offload_name(bit));
	for (size_t i = 0; i < dev->n_addresses; i++)
		evbuffer_add_printf(out, "sealnet_address=%s\n",
				    addr_prefix_str(&dev->addresses[i], ep));
	for (size_t i = 0; i < firewall_rule_count(dev->firewall); i++) {
		uint64_t matches;
		const struct firewall_rule *r = firewall_rule(dev->firewall, i, &matches);

		evbuffer_add_printf(out, "sealnet_rule=%s\nsealnet_rule_matches=%llu\n", r->text,
				    (unsigned long long)matches);
	}
}

void uapi_get_header(struct device *dev, struct evbuffer *out, bool ours, const char *config_path)
{
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
	if (ours)
		get_ours(dev, out, config_path);
}

/* get=sealnet's lines of a peer, after its counters. */
static void get_peer_ours(struct evbuffer *out, const struct peer *p)
{
	if (p->label[0])
		evbuffer_add_printf(out, "sealnet_name=%s\n", p->label);
	evbuffer_add_printf(out, "sealnet_handshake_attempts=%u\n", p->timers.handshake_attempts);
	if (p->timers.unanswered_since)
		evbuffer_add_printf(out, "sealnet_unanswered_ms=%llu\n",
				    (unsigned long long)((device_now() -
							  p->timers.unanswered_since) /
							 1000000));
	for (unsigned g = 0; g < p->n_groups; g++)
		evbuffer_add_printf(out, "sealnet_group=%s\n", p->groups[g]);
}

static void get_peer(struct evbuffer *out, bool ours, const struct peer *p)
{
	char ep[ADDR_STRLEN];

	print_key(out, "public_key", peer_public_key(p));
	print_key(out, "preshared_key", p->handshake.preshared_key);
	evbuffer_add_printf(out, "protocol_version=1\n");
	if (p->endpoint.sa.sa_family)
		evbuffer_add_printf(out, "endpoint=%s\n", addr_endpoint_str(&p->endpoint, ep));
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
					    (unsigned long long)peer_counter_value(&p->stats, i));
	if (ours)
		get_peer_ours(out, p);
	for (size_t i = 0; i < p->n_allowed_ips; i++)
		evbuffer_add_printf(out, "allowed_ip=%s\n",
				    addr_prefix_str(&p->allowed_ips[i], ep));
}

bool uapi_get_peers(struct evbuffer *out, bool ours, struct device_cursor *cur, size_t max)
{
	struct peer *p;
	size_t n = 0;

	for (; (p = cur->next) && n < max; cur->next = TAILQ_NEXT(p, link), n++)
		get_peer(out, ours, p);
	if (cur->next)
		return false;
	evbuffer_add_printf(out, "errno=0\n\n");
	return true;
}
