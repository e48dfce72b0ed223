/*
 * The datapath, on the device's event loop, which owns every piece of its state.
 *
 * Out: the TUN hands us an IP packet, or with offloads a TCP/UDP super-packet of up to 64 KB
 * behind a virtio_net_hdr, which is split into MTU-sized packets with their own headers and
 * checksums (offload.c). Each packet's destination picks the peer (allowedips). With a usable
 * current session the packet is copied into the transmit batch behind room for the 16-byte
 * data header, padded to 16 bytes and given the session's next send counter; without one it
 * is staged and a handshake initiation goes out, and the staged packets leave as soon as a
 * session exists. Once per wakeup the batch is flushed: every datagram is sealed in place
 * (ChaCha20-Poly1305; a big batch on several threads, see workers.h), then consecutive
 * datagrams to one peer of one size (the last may be shorter) leave in one sendmsg with
 * UDP_SEGMENT, or one sendmmsg where the kernel will not segment.
 *
 * In: a datagram (or, with UDP_GRO, a train of equal ones, split here) is hostile until
 * authenticated. Its size and type are checked first; handshake messages must carry a valid
 * mac1 (and, under load, mac2, or they get a cookie reply and nothing else). Data messages
 * name a session by receiver index; a train's data messages are opened in place (a big train
 * on several threads), then, one by one in arrival order, their counter is checked against
 * the replay window, and only then may they move the peer's endpoint (roaming, along with
 * the address of ours the peer wrote to, which everything to it then leaves from) or confirm
 * a responder's new session. The decrypted packet must be IPv4 or IPv6 whose source address
 * the sending peer is allowed to use. Consecutive TCP segments of one flow, and UDP
 * datagrams of one flow and size, are glued back into one super-packet (GRO) and each write
 * to the TUN carries as much as it can.
 *
 * Every drop bumps a counter in dev->stats.drops and is otherwise silent: nothing is answered
 * that lacks a valid mac1, and nothing is logged per packet (droplog.c reads the counters
 * once a second and logs, rate-limited). Nothing here allocates.
 */
#include "datapath.h"

#include <endian.h>
#include <event2/event.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "allowedips.h"
#include "cipher.h"
#include "cookie.h"
#include "datapath_priv.h"
#include "device.h"
#include "firewall.h"
#include "index.h"
#include "log.h"
#include "messages.h"
#include "noise.h"
#include "offload.h"
#include "peer.h"
#include "ratelimiter.h"
#include "timers.h"
#include "tun.h"
#include "workers.h"

int datapath_new(unsigned tun_features, struct datapath **out)
{
	struct datapath *dp;

	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	dp->buf_size = DATAPATH_BUF_SIZE;
	dp->batch_cap = DATAPATH_BATCH_SIZE;
	dp->rx_buf = malloc(dp->buf_size);
	dp->tx_buf = malloc(dp->buf_size);
	dp->seg_buf = malloc(dp->buf_size);
	dp->batch = malloc(dp->batch_cap);
	dp->gro.buf = malloc(OFFLOAD_VNET_HDR_LEN + OFFLOAD_MAX_PACKET);
	dp->gro.udp = (tun_features & TUN_USO) != 0;
	if (!dp->rx_buf || !dp->tx_buf || !dp->seg_buf || !dp->batch || !dp->gro.buf) {
		datapath_free(dp);
		return -ENOMEM;
	}
	*out = dp;
	return 0;
}

void datapath_free(struct datapath *dp)
{
	if (!dp)
		return;
	cipher_wipe(dp->tx, sizeof(dp->tx));
	if (dp->rx_buf)
		cipher_wipe(dp->rx_buf, dp->buf_size);
	if (dp->tx_buf)
		cipher_wipe(dp->tx_buf, dp->buf_size);
	if (dp->batch)
		cipher_wipe(dp->batch, dp->batch_cap);
	if (dp->seg_buf)
		cipher_wipe(dp->seg_buf, dp->buf_size);
	if (dp->gro.buf)
		cipher_wipe(dp->gro.buf, OFFLOAD_VNET_HDR_LEN + OFFLOAD_MAX_PACKET);
	free(dp->rx_buf);
	free(dp->tx_buf);
	free(dp->seg_buf);
	free(dp->batch);
	free(dp->gro.buf);
	free(dp);
}

/* Where an authenticated datagram came from and which of our addresses it was sent to: the
 * peer is answered there, from that address. */
static void set_endpoint(struct peer *p, const union endpoint *src, const struct udp_src *local)
{
	if (!addr_endpoint_equal(&p->endpoint, src))
		p->endpoint = *src;
	/* A plain copy: it is as cheap as comparing, and the line is written anyway. */
	p->endpoint_src = *local;
}

static int send_to_peer(struct peer *p, const void *buf, size_t len)
{
	struct device *dev = p->dev;
	int ret;

	if (unlikely(!p->endpoint.sa.sa_family)) {
		drop(dev, DROP_NO_ENDPOINT);
		return -EDESTADDRREQ;
	}
	ret = udp_send(&dev->udp, &p->endpoint, &p->endpoint_src, buf, len);
	if (unlikely(ret)) {
		drop(dev, DROP_UDP_SEND);
		return ret;
	}
	dev->stats.tx_datagrams++;
	p->stats.tx_bytes += len;
	p->stats.tx_packets++;
	return 0;
}

/* Pad to a multiple of 16 without growing past the MTU (whitepaper §5.4.6). */
static size_t padded_len(size_t len, unsigned mtu)
{
	size_t padded = (len + MESSAGE_PADDING_MULTIPLE - 1) &
			~(size_t)(MESSAGE_PADDING_MULTIPLE - 1);

	if (padded > mtu)
		padded = len > mtu ? len : mtu;
	return padded;
}

/* Where the next datagram's payload goes in the transmit batch (flushing first when full),
 * or NULL when len can never fit. */
static uint8_t *tx_slot(struct device *dev, size_t len)
{
	size_t need = HEADROOM + len + MESSAGE_PADDING_MULTIPLE + NOISE_AUTHTAG_LEN;

	if (unlikely(need > dev->dp->batch_cap))
		return NULL;
	if (dev->dp->n_tx == DATAPATH_TX_MAX || dev->dp->batch_used + need > dev->dp->batch_cap)
		datapath_flush(dev);
	return dev->dp->batch + dev->dp->batch_used + HEADROOM;
}

/* Appends the len bytes at tx_slot() to the batch as a datagram of the session kp, to be
 * sealed by datapath_flush(). The counter is taken now, so datagrams leave in order. */
static void tx_commit(struct peer *p, struct noise_keypair *kp, size_t len, uint64_t now)
{
	struct device *dev = p->dev;
	uint8_t *payload = dev->dp->batch + dev->dp->batch_used + HEADROOM;
	struct message_data *msg = (struct message_data *)(payload - HEADROOM);
	size_t padded = padded_len(len, dev->mtu), total;
	struct datapath_tx *tx = &dev->dp->tx[dev->dp->n_tx++];

	memset(payload + len, 0, padded - len);
	msg->header.type = htole32(MESSAGE_DATA);
	msg->key_idx = htole32(kp->remote_index);
	tx->counter = kp->send_counter++;
	msg->counter = htole64(tx->counter);
	memcpy(tx->key, kp->send_key, sizeof(tx->key));
	total = HEADROOM + padded + NOISE_AUTHTAG_LEN;
	tx->peer = p;
	tx->off = (uint32_t)dev->dp->batch_used;
	tx->len = (uint32_t)total;
	tx->plen = (uint32_t)padded;
	dev->dp->batch_used += total;
	timers_any_authenticated_packet_traversal(&p->timers, now);
	timers_any_authenticated_packet_sent(&p->timers);
	if (len)
		timers_data_sent(&p->timers, now);
}

static void seal_range(void *ctx, unsigned begin, unsigned end)
{
	struct device *dev = ctx;

	for (unsigned i = begin; i < end; i++) {
		struct datapath_tx *tx = &dev->dp->tx[i];
		uint8_t *payload = dev->dp->batch + tx->off + HEADROOM;

		cipher_aead_seal(payload, payload, tx->plen, NULL, 0, tx->counter, tx->key);
		cipher_wipe(tx->key, sizeof(tx->key));
	}
}

void datapath_flush(struct device *dev)
{
	unsigned i = 0, j;

	workers_run(dev->dp->batch_used >= PARALLEL_MIN_BYTES ? dev->workers : NULL, seal_range,
		    dev, dev->dp->n_tx, PARALLEL_CHUNK);

	while (i < dev->dp->n_tx) {
		struct datapath_tx *first = &dev->dp->tx[i];
		struct peer *p = first->peer;
		size_t seglen = first->len, total;
		int sent;

		/* A train: same peer, full-size datagrams, the last one possibly shorter. */
		total = seglen;
		for (j = i + 1;
		     j < dev->dp->n_tx && j - i < UDP_MAX_SEGMENTS && dev->dp->tx[j].peer == p &&
		     dev->dp->tx[j - 1].len == seglen && dev->dp->tx[j].len <= seglen &&
		     total + dev->dp->tx[j].len <= UDP_MAX_TRAIN_BYTES;
		     j++)
			total += dev->dp->tx[j].len;
		if (unlikely(!p->endpoint.sa.sa_family)) {
			dev->stats.drops[DROP_NO_ENDPOINT] += j - i;
		} else {
			sent = udp_send_train(&dev->udp, &p->endpoint, &p->endpoint_src,
					      dev->dp->batch + first->off, total, seglen, j - i);
			if (sent < 0)
				sent = 0;
			dev->stats.drops[DROP_UDP_SEND] += j - i - (unsigned)sent;
			dev->stats.tx_datagrams += (unsigned)sent;
			p->stats.tx_packets += (unsigned)sent;
			p->stats.tx_bytes += (unsigned)sent == j - i ? total
								     : (size_t)sent * seglen;
		}
		i = j;
	}
	dev->dp->n_tx = 0;
	dev->dp->batch_used = 0;
}

void datapath_send_initiation(struct peer *p, bool is_retry, uint64_t now)
{
	struct device *dev = p->dev;
	struct message_handshake_initiation msg;

	if (!dev->local.private_key)
		return;
	if (!timers_may_send_initiation(&p->timers, is_retry, now))
		return;
	if (!p->endpoint.sa.sa_family) {
		/* Nowhere to send, but the retries still count down to the give-up that drops
		 * what is staged, as in WireGuard. */
		timers_handshake_initiated(&p->timers, now);
		peer_timers_schedule(p);
		return;
	}
	index_insert(dev->index, &p->handshake.entry);
	if (noise_create_initiation(&p->handshake, &dev->local, &msg, device_realtime())) {
		index_remove(dev->index, &p->handshake.entry);
		return;
	}
	cookie_add_macs(&p->cookie, (uint8_t *)&msg, sizeof(msg), now);
	timers_any_authenticated_packet_traversal(&p->timers, now);
	p->stats.handshakes_initiated++;
	if (!send_to_peer(p, &msg, sizeof(msg)))
		timers_any_authenticated_packet_sent(&p->timers);
	timers_handshake_initiated(&p->timers, now);
	log_debug("%s: peer %s: sent handshake initiation%s", dev->ifname, p->name,
		  is_retry ? " (retry)" : "");
	peer_timers_schedule(p);
}

void datapath_send_staged(struct peer *p, uint64_t now)
{
	struct device *dev = p->dev;
	struct noise_keypair *kp = p->current;
	const uint8_t *pkt;
	size_t len;

	if (!timers_keypair_usable_for_send(kp, now)) {
		datapath_send_initiation(p, false, now);
		return;
	}
	while ((pkt = peer_staged_pop(p, &len))) {
		uint8_t *slot = tx_slot(dev, len);

		if (!slot) {
			drop(dev, DROP_STAGED_FULL);
			continue;
		}
		memcpy(slot, pkt, len);
		tx_commit(p, kp, len, now);
	}
	datapath_flush(dev);
	if (timers_should_rekey_after_send(kp, now))
		datapath_send_initiation(p, false, now);
	peer_timers_schedule(p);
}

void datapath_send_keepalive(struct peer *p, uint64_t now)
{
	if (!p->staged_count)
		peer_stage(p, NULL, 0);
	datapath_send_staged(p, now);
}

void datapath_peer_timers(struct peer *p, uint64_t now)
{
	unsigned actions = timers_expire(&p->timers, now);

	if (actions & (TIMERS_SEND_INITIATION | TIMERS_GIVE_UP))
		p->stats.handshakes_failed++;
	if (actions & TIMERS_SEND_INITIATION) {
		/* Unanswered: perhaps the address we send from is what no longer works (as
		 * WireGuard's retransmit, which also forgets it). */
		memset(&p->endpoint_src, 0, sizeof(p->endpoint_src));
		datapath_send_initiation(p, true, now);
	}
	if (actions & TIMERS_SEND_NEW_INITIATION)
		datapath_send_initiation(p, false, now);
	if (actions & TIMERS_SEND_KEEPALIVE)
		datapath_send_keepalive(p, now);
	if (actions & TIMERS_GIVE_UP) {
		log_info("%s: peer %s: no handshake after %d s, giving up for now", p->dev->ifname,
			 p->name, REKEY_ATTEMPT_TIME);
		peer_staged_clear(p);
	}
	if (actions & TIMERS_ZERO_KEYS) {
		log_info("%s: peer %s: session keys zeroed after %d s of silence", p->dev->ifname,
			 p->name, 3 * REJECT_AFTER_TIME);
		peer_keypairs_zero(p);
	}
	peer_timers_schedule(p);
}

/* Multicast no router forwards (interface- and link-local scope): ff01::/16, ff02::/16 and
 * 224.0.0.0/24. The kernel sends such packets on every link it brings up (router
 * solicitations, MLD and IGMP reports); unrouted, they are no sign of a missing route. */
static bool link_scope_multicast(int family, const uint8_t *dst)
{
	if (family == AF_INET6)
		return dst[0] == 0xff && (dst[1] & 0x0f) <= 2;
	return dst[0] == 224 && dst[1] == 0 && dst[2] == 0;
}

static struct peer *route(struct device *dev, const uint8_t *pkt, size_t len)
{
	const uint8_t *dst;
	struct peer *p;
	int family;

	dst = ip_addr_at(pkt, len, false, &family);
	if (unlikely(!dst)) {
		drop(dev, DROP_BAD_INNER);
		return NULL;
	}
	p = allowedips_lookup(dev->allowedips, family, dst);
	if (unlikely(!p))
		drop(dev, link_scope_multicast(family, dst) ? DROP_LINK_LOCAL : DROP_NO_ROUTE);
	return p;
}

static void tun_packet(struct device *dev, const uint8_t *pkt, size_t len, uint64_t now)
{
	struct peer *p = route(dev, pkt, len);
	uint8_t *slot;

	if (unlikely(!p))
		return;
	if (unlikely(firewall_active(dev->firewall)))
		firewall_outbound(dev->firewall, pkt, len, now);
	if (likely(!p->staged_count && timers_keypair_usable_for_send(p->current, now))) {
		slot = tx_slot(dev, len);
		if (unlikely(!slot)) {
			drop(dev, DROP_BAD_INNER);
			return;
		}
		memcpy(slot, pkt, len);
		tx_commit(p, p->current, len, now);
		if (unlikely(timers_should_rekey_after_send(p->current, now)))
			datapath_send_initiation(p, false, now);
		peer_timers_schedule(p);
		return;
	}
	peer_stage(p, pkt, len);
	datapath_send_staged(p, now);
}

/* offload_segment() asks for room segment by segment; the previous segment is complete by
 * then, so it is sealed into the batch (or staged) at that moment. */
struct segmenter {
	struct device *dev;
	struct peer *p;
	struct noise_keypair *kp; /* NULL: stage the segments */
	size_t pending;
	uint64_t now;
};

static void segment_done(struct segmenter *sg)
{
	if (!sg->pending)
		return;
	if (sg->kp)
		tx_commit(sg->p, sg->kp, sg->pending, sg->now);
	else
		peer_stage(sg->p, sg->dev->dp->seg_buf, sg->pending);
	sg->pending = 0;
}

static uint8_t *segment_alloc(void *ctx, size_t len)
{
	struct segmenter *sg = ctx;
	uint8_t *slot;

	segment_done(sg);
	slot = sg->kp                         ? tx_slot(sg->dev, len)
	       : len <= sg->dev->dp->buf_size ? sg->dev->dp->seg_buf
					      : NULL;
	if (slot)
		sg->pending = len;
	return slot;
}

static void tun_super_packet(struct device *dev, const struct offload_vnet_hdr *vh,
			     const uint8_t *pkt, size_t len, uint64_t now)
{
	struct segmenter sg = { .dev = dev, .now = now };
	int n;

	sg.p = route(dev, pkt, len);
	if (unlikely(!sg.p))
		return;
	/* One flow per super-packet: its headers stand for every segment. */
	if (unlikely(firewall_active(dev->firewall)))
		firewall_outbound(dev->firewall, pkt, len, now);
	if (likely(!sg.p->staged_count && timers_keypair_usable_for_send(sg.p->current, now)))
		sg.kp = sg.p->current;
	n = offload_segment(vh, pkt, len, segment_alloc, &sg);
	segment_done(&sg);
	if (unlikely(n < 0))
		drop(dev, DROP_BAD_INNER);
	if (!sg.kp) {
		datapath_send_staged(sg.p, now);
		return;
	}
	if (unlikely(timers_should_rekey_after_send(sg.kp, now)))
		datapath_send_initiation(sg.p, false, now);
	peer_timers_schedule(sg.p);
}

void datapath_tun_readable(struct device *dev)
{
	size_t hdr = dev->tun_features & TUN_VNET_HDR ? OFFLOAD_VNET_HDR_LEN : 0;
	uint64_t now = device_now();
	struct offload_vnet_hdr vh;

	for (int i = 0; i < DATAPATH_BATCH; i++) {
		ssize_t n = read(dev->tun_fd, dev->dp->tx_buf, dev->dp->buf_size);
		uint8_t *pkt = dev->dp->tx_buf + hdr;
		size_t len;

		if (n <= 0) {
			if (n < 0 && errno == EBADFD) {
				/* The interface was deleted (ip link del, wg-quick down): as
				 * wireguard-go, the daemon goes with it. */
				log_notice("%s: the TUN device is gone: shutting down",
					   dev->ifname);
				event_del(dev->tun_ev);
				event_base_loopbreak(dev->base);
				break;
			}
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				log_warn("%s: TUN read: %s", dev->ifname, strerror(errno));
			break;
		}
		if (unlikely((size_t)n <= hdr))
			continue;
		len = (size_t)n - hdr;
		if (hdr) {
			memcpy(&vh, dev->dp->tx_buf, sizeof(vh));
			if (vh.gso_type != OFFLOAD_GSO_NONE) {
				tun_super_packet(dev, &vh, pkt, len, now);
				continue;
			}
			if ((vh.flags & OFFLOAD_F_NEEDS_CSUM) &&
			    unlikely(offload_complete_csum(&vh, pkt, len))) {
				drop(dev, DROP_BAD_INNER);
				continue;
			}
		}
		tun_packet(dev, pkt, len, now);
	}
	datapath_flush(dev);
}

/* Hands the coalesced super-packet (if any) to the kernel. */
static void tun_flush(struct device *dev)
{
	size_t n = offload_gro_finish(&dev->dp->gro);

	if (n && write(dev->tun_fd, dev->dp->gro.buf, n) < 0)
		drop(dev, DROP_TUN_WRITE);
}

/* The packet starts OFFLOAD_VNET_HDR_LEN bytes into frame: room (the spent data header) for
 * the vnet header that goes in front of it. */
static void tun_deliver(struct device *dev, uint8_t *frame, size_t len)
{
	static const struct offload_vnet_hdr valid = { .flags = OFFLOAD_F_DATA_VALID };
	uint8_t *pkt = frame + OFFLOAD_VNET_HDR_LEN;

	if (!(dev->tun_features & TUN_VNET_HDR)) {
		if (write(dev->tun_fd, pkt, len) < 0)
			drop(dev, DROP_TUN_WRITE);
		return;
	}
	if (dev->tun_features & TUN_TSO) {
		if (offload_gro_add(&dev->dp->gro, pkt, len))
			return;
		if (dev->dp->gro.len) {
			tun_flush(dev);
			if (offload_gro_add(&dev->dp->gro, pkt, len))
				return;
		}
	}
	/* Authenticated by Poly1305, so the kernel need not verify the checksum. */
	memcpy(frame, &valid, OFFLOAD_VNET_HDR_LEN);
	if (write(dev->tun_fd, frame, len + OFFLOAD_VNET_HDR_LEN) < 0)
		drop(dev, DROP_TUN_WRITE);
}

static void receive_cookie(struct device *dev, const struct message_handshake_cookie *msg,
			   uint64_t now)
{
	struct index_entry *e;

	e = index_lookup(dev->index, le32toh(msg->receiver_index), INDEX_HANDSHAKE | INDEX_KEYPAIR);
	if (!e) {
		drop(dev, DROP_UNKNOWN_INDEX);
		return;
	}
	if (cookie_consume_reply(&e->peer->cookie, msg, now)) {
		drop(dev, DROP_HANDSHAKE);
		return;
	}
	/* The retransmit timer resends the initiation, now with mac2. */
	log_debug("%s: peer %s: got a cookie, peer is under load", dev->ifname, e->peer->name);
}

/* A finished handshake becomes a session named by the handshake's index. */
static int begin_session(struct peer *p, uint64_t now)
{
	struct device *dev = p->dev;
	struct noise_keypair *kp;

	kp = calloc(1, sizeof(*kp));
	if (!kp)
		return -ENOMEM;
	if (noise_derive_keypair(&p->handshake, kp, now)) {
		free(kp);
		return -EINVAL;
	}
	index_replace(dev->index, &p->handshake.entry, &kp->entry);
	peer_keypair_install(p, kp);
	/* A responder's session counts once confirmed (peer_keypair_confirm). */
	if (kp->i_am_initiator)
		p->last_handshake_realtime = device_realtime();
	timers_session_derived(&p->timers, now);
	return 0;
}

static struct noise_handshake *lookup_handshake(void *ctx, const uint8_t *pub)
{
	struct peer *p = device_peer_by_key(ctx, pub);

	return p ? &p->handshake : NULL;
}

static void send_response(struct peer *p, uint64_t now)
{
	struct device *dev = p->dev;
	struct message_handshake_response msg;

	index_insert(dev->index, &p->handshake.entry);
	if (noise_create_response(&p->handshake, &dev->local, &msg)) {
		index_remove(dev->index, &p->handshake.entry);
		return;
	}
	cookie_add_macs(&p->cookie, (uint8_t *)&msg, sizeof(msg), now);
	if (begin_session(p, now))
		return;
	/* Answering counts as a handshake sent: our own staged traffic must not start another
	 * initiation within the same round trip (wireguard-go does the same). */
	p->timers.last_sent_handshake = now;
	timers_any_authenticated_packet_traversal(&p->timers, now);
	if (!send_to_peer(p, &msg, sizeof(msg)))
		timers_any_authenticated_packet_sent(&p->timers);
	log_debug("%s: peer %s: answered a handshake initiation", dev->ifname, p->name);
}

/* Whether a handshake message must come with a cookie, or get one: under load (load.h)
 * and without a valid mac2, it gets a cookie reply; with one but over its source's rate, it is
 * dropped. Either way it counts towards the load at a handled message's average cost, and
 * true means the caller is done with it. */
static bool defer_handshake(struct device *dev, const uint8_t *buf, size_t len,
			    const union endpoint *src, const struct udp_src *local, uint64_t now)
{
	struct message_handshake_cookie reply;
	struct udp_src from = *local; /* udp_send() may clear it */
	struct ip_addr ip;
	uint32_t sender;

	if (cookie_validate(&dev->cookie_checker, buf, len, src, true, now) !=
	    COOKIE_VALID_MAC_WITH_COOKIE) {
		memcpy(&sender, buf + offsetof(struct message_handshake_initiation, sender_index),
		       sizeof(sender));
		cookie_create_reply(&dev->cookie_checker, &reply, buf, len, le32toh(sender), src,
				    now);
		if (!udp_send(&dev->udp, src, &from, &reply, sizeof(reply)))
			dev->stats.cookie_replies_sent++;
		drop(dev, DROP_COOKIE);
		load_deferred(&dev->load);
		return true;
	}
	ip.family = src->sa.sa_family;
	memcpy(ip.bytes,
	       src->sa.sa_family == AF_INET ? (const void *)&src->in4.sin_addr
					    : (const void *)&src->in6.sin6_addr,
	       addr_len(ip.family));
	if (!ratelimiter_allow(dev->ratelimiter, &ip, now)) {
		drop(dev, DROP_RATELIMIT);
		load_deferred(&dev->load);
		return true;
	}
	return false;
}

/* A handshake message with a valid mac1, and under load a valid mac2 and within its source's
 * rate: the Noise step it is. */
static void handle_handshake(struct device *dev, uint8_t *buf, size_t len, uint32_t type,
			     const union endpoint *src, const struct udp_src *local, uint64_t now)
{
	struct peer *p;
	int ret;

	if (type == MESSAGE_HANDSHAKE_INITIATION) {
		struct noise_handshake *hs;

		ret = noise_consume_initiation(&dev->local, (const void *)buf, lookup_handshake,
					       dev, now, &hs);
		if (ret) {
			drop(dev, ret == -EALREADY || ret == -EBUSY ? DROP_HANDSHAKE_REPLAY
								    : DROP_HANDSHAKE);
			return;
		}
		p = container_of(hs, struct peer, handshake);
		set_endpoint(p, src, local);
		send_response(p, now);
	} else {
		const struct message_handshake_response *msg = (const void *)buf;
		struct index_entry *e;

		e = index_lookup(dev->index, le32toh(msg->receiver_index), INDEX_HANDSHAKE);
		if (!e) {
			drop(dev, DROP_UNKNOWN_INDEX);
			return;
		}
		p = e->peer;
		if (noise_consume_response(&p->handshake, &dev->local, msg)) {
			drop(dev, DROP_HANDSHAKE);
			return;
		}
		set_endpoint(p, src, local);
		if (!begin_session(p, now)) {
			timers_handshake_complete(&p->timers);
			log_info("%s: peer %s: handshake complete", dev->ifname, p->name);
			/* Confirms the session to the responder, with staged data if any. */
			datapath_send_keepalive(p, now);
		}
	}
	p->stats.rx_bytes += len;
	p->stats.rx_packets++;
	timers_any_authenticated_packet_received(&p->timers);
	timers_any_authenticated_packet_traversal(&p->timers, now);
	peer_timers_schedule(p);
}

/* A handshake message: mac1 first (only messages with a valid one count towards load: junk
 * from someone who does not even know our public key must not push real peers into cookie
 * round trips), then the load decision, then the work, timed on a fresh clock (now is the
 * wakeup's, and a batch of handshakes takes a while). */
static void receive_handshake(struct device *dev, uint8_t *buf, size_t len, uint32_t type,
			      const union endpoint *src, const struct udp_src *local, uint64_t now)
{
	uint64_t start;

	dev->stats.handshake_messages++;
	if (cookie_validate(&dev->cookie_checker, buf, len, src, false, now) ==
	    COOKIE_INVALID_MAC) {
		drop(dev, DROP_BAD_MAC1);
		return;
	}
	start = device_now();
	if (load_under(&dev->load, start) && defer_handshake(dev, buf, len, src, local, now))
		return;
	handle_handshake(dev, buf, len, type, src, local, now);
	load_handled(&dev->load, start, device_now());
}

/* Checks the decrypted packet and returns its real length (without padding), or 0. */
static size_t inner_packet_ok(struct device *dev, struct peer *p, const uint8_t *pkt, size_t len)
{
	const uint8_t *srcaddr;
	size_t real;
	int family;

	srcaddr = ip_addr_at(pkt, len, true, &family);
	if (unlikely(!srcaddr)) {
		drop(dev, DROP_BAD_INNER);
		return 0;
	}
	if (family == AF_INET)
		real = (size_t)pkt[2] << 8 | pkt[3];
	else
		real = 40 + ((size_t)pkt[4] << 8 | pkt[5]);
	if (unlikely(real > len || real < (family == AF_INET ? 20u : 40u))) {
		drop(dev, DROP_BAD_INNER);
		return 0;
	}
	if (unlikely(allowedips_lookup(dev->allowedips, family, srcaddr) != p)) {
		drop(dev, DROP_ALLOWEDIPS);
		return 0;
	}
	return real;
}

static void rx_flush(struct device *dev, uint64_t now);

/* Phase one for a data message: find its session and queue it for opening. Nothing that
 * changes state happens until the queue is opened as a whole in rx_flush(). */
static void receive_data(struct device *dev, uint8_t *buf, size_t len, const union endpoint *src,
			 const struct udp_src *local, uint64_t now)
{
	struct message_data *msg = (struct message_data *)buf;
	struct index_entry *e;

	e = index_lookup(dev->index, le32toh(msg->key_idx), INDEX_KEYPAIR);
	if (unlikely(!e)) {
		drop(dev, DROP_UNKNOWN_INDEX);
		return;
	}
	if (unlikely(
		    !timers_keypair_usable_for_receive(container_of(e, struct noise_keypair, entry),
						       now))) {
		drop(dev, DROP_EXPIRED);
		return;
	}
	if (dev->dp->n_rx == DATAPATH_RX_MAX || (dev->dp->n_rx && dev->dp->rx_src != src))
		rx_flush(dev, now);
	dev->dp->rx[dev->dp->n_rx++] = (struct datapath_rx){ .buf = buf,
							     .len = (uint32_t)len,
							     .entry = e,
							     .counter = le64toh(msg->counter) };
	dev->dp->rx_src = src;
	dev->dp->rx_local = local;
}

static void open_range(void *ctx, unsigned begin, unsigned end)
{
	struct device *dev = ctx;

	for (unsigned i = begin; i < end; i++) {
		struct datapath_rx *rx = &dev->dp->rx[i];
		struct noise_keypair *kp = container_of(rx->entry, struct noise_keypair, entry);
		uint8_t *data = rx->buf + HEADROOM;

		rx->opened = cipher_aead_open(data, data, rx->len - HEADROOM, NULL, 0, rx->counter,
					      kp->recv_key);
	}
}

/* Phase two, in arrival order: an opened message is authentic; if it is also fresh it may
 * move state and reach the TUN. *rotated says whether an earlier message of the batch
 * confirmed a session (and so retired another), and is set when this one does. */
static void receive_opened(struct device *dev, const struct datapath_rx *rx, uint64_t now,
			   bool *rotated)
{
	struct message_data *msg = (struct message_data *)rx->buf;
	size_t clen = rx->len - HEADROOM, plen, real;
	struct noise_keypair *kp;
	struct peer *p;

	if (unlikely(rx->opened)) {
		drop(dev, DROP_DECRYPT);
		return;
	}
	/* The session this message was opened with may be gone since. */
	if (unlikely(*rotated) &&
	    index_lookup(dev->index, le32toh(msg->key_idx), INDEX_KEYPAIR) != rx->entry) {
		drop(dev, DROP_EXPIRED);
		return;
	}
	kp = container_of(rx->entry, struct noise_keypair, entry);
	p = rx->entry->peer;
	if (unlikely(!replay_check(&kp->replay, rx->counter))) {
		drop(dev, DROP_REPLAY);
		return;
	}

	/* Authentic and fresh: only now may it move state. */
	set_endpoint(p, dev->dp->rx_src, dev->dp->rx_local);
	p->stats.rx_bytes += rx->len;
	p->stats.rx_packets++;
	if (unlikely(peer_keypair_confirm(p, kp))) {
		*rotated = true;
		timers_handshake_complete(&p->timers);
		log_info("%s: peer %s: session confirmed", dev->ifname, p->name);
		datapath_send_staged(p, now);
	}
	if (unlikely(timers_should_rekey_after_receive(&p->timers, p->current, now)))
		datapath_send_initiation(p, false, now);
	timers_any_authenticated_packet_received(&p->timers);
	timers_any_authenticated_packet_traversal(&p->timers, now);

	plen = clen - NOISE_AUTHTAG_LEN;
	if (plen) {
		timers_data_received(&p->timers, now);
		real = inner_packet_ok(dev, p, rx->buf + HEADROOM, plen);
		if (real && unlikely(firewall_active(dev->firewall)) &&
		    firewall_inbound(dev->firewall, peer_public_key(p), p->group_mask,
				     rx->buf + HEADROOM, real, now) != FIREWALL_ALLOW) {
			drop(dev, DROP_FIREWALL);
			real = 0;
		}
		if (real)
			tun_deliver(dev, rx->buf + HEADROOM - OFFLOAD_VNET_HDR_LEN, real);
	}
	peer_timers_schedule(p);
}

/* Opens every queued data message (spread over the threads when there is enough to do),
 * then finishes each in order. */
static void rx_flush(struct device *dev, uint64_t now)
{
	size_t bytes = 0;
	unsigned n = dev->dp->n_rx;
	bool rotated = false;

	for (unsigned i = 0; i < n; i++)
		bytes += dev->dp->rx[i].len;
	workers_run(bytes >= PARALLEL_MIN_BYTES ? dev->workers : NULL, open_range, dev, n,
		    PARALLEL_CHUNK);
	/* receive_opened() may send (a confirmed session's staged packets), never receive.
	 * Confirming a session is the only way one retires while this loop runs: handshake
	 * messages flush the queue before they are handled, and timers and the control socket
	 * run between wakeups. */
	dev->dp->n_rx = 0;
	for (unsigned i = 0; i < n; i++)
		receive_opened(dev, &dev->dp->rx[i], now, &rotated);
}

/* One datagram; data messages only queued (call rx_flush() before the buffer or the source
 * address is reused). */
static void receive_one(struct device *dev, uint8_t *buf, size_t len, const union endpoint *src,
			const struct udp_src *local, uint64_t now)
{
	uint32_t type;

	dev->stats.rx_datagrams++;
	if (unlikely(len < sizeof(struct message_header))) {
		drop(dev, DROP_BAD_SIZE);
		return;
	}
	memcpy(&type, buf, sizeof(type));
	if (likely(le32toh(type) == MESSAGE_DATA)) {
		if (unlikely(len < MESSAGE_MINIMUM_LENGTH)) {
			drop(dev, DROP_BAD_SIZE);
			return;
		}
		receive_data(dev, buf, len, src, local, now);
		return;
	}
	/* Handshake messages change sessions: what came before them is finished first. */
	if (dev->dp->n_rx)
		rx_flush(dev, now);
	switch (le32toh(type)) {
	case MESSAGE_HANDSHAKE_INITIATION:
		if (len != sizeof(struct message_handshake_initiation))
			break;
		receive_handshake(dev, buf, len, MESSAGE_HANDSHAKE_INITIATION, src, local, now);
		return;
	case MESSAGE_HANDSHAKE_RESPONSE:
		if (len != sizeof(struct message_handshake_response))
			break;
		receive_handshake(dev, buf, len, MESSAGE_HANDSHAKE_RESPONSE, src, local, now);
		return;
	case MESSAGE_HANDSHAKE_COOKIE:
		if (len != sizeof(struct message_handshake_cookie))
			break;
		receive_cookie(dev, (const void *)buf, now);
		return;
	default:
		drop(dev, DROP_UNKNOWN_TYPE);
		return;
	}
	drop(dev, DROP_BAD_SIZE);
}

void datapath_receive(struct device *dev, uint8_t *buf, size_t len, const union endpoint *src,
		      const struct udp_src *local, uint64_t now)
{
	static const struct udp_src unknown;

	receive_one(dev, buf, len, src, local ? local : &unknown, now);
	if (dev->dp->n_rx)
		rx_flush(dev, now);
}

void datapath_udp_readable(struct device *dev, int fd)
{
	uint64_t now = device_now();
	union endpoint src;
	struct udp_src local;
	size_t seglen;

	for (int i = 0; i < DATAPATH_BATCH; i++) {
		ssize_t n = udp_recv(&dev->udp, fd, dev->dp->rx_buf, dev->dp->buf_size, &src,
				     &local, &seglen);

		if (n < 0) {
			if (n != -EAGAIN && n != -EINTR)
				log_warn("%s: UDP receive: %s", dev->ifname, strerror((int)-n));
			break;
		}
		if (unlikely((size_t)n > dev->dp->buf_size || !seglen)) {
			dev->stats.rx_datagrams++;
			drop(dev, DROP_BAD_SIZE);
			continue;
		}
		for (size_t off = 0; off < (size_t)n; off += seglen)
			receive_one(dev, dev->dp->rx_buf + off,
				    (size_t)n - off < seglen ? (size_t)n - off : seglen, &src,
				    &local, now);
		if (dev->dp->n_rx)
			rx_flush(dev, now);
	}
	tun_flush(dev);
}
