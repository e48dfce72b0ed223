/*
 * The way in: UDP -> size and type -> handshake, or open -> replay -> checks -> GRO -> TUN.
 * The comment at the top of datapath.c tells the whole story.
 */
#include "datapath.h"

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "allowedips.h"
#include "cipher.h"
#include "cookie.h"
#include "datapath_priv.h"
#include "device.h"
#include "firewall.h"
#include "index.h"
#include "load.h"
#include "log.h"
#include "messages.h"
#include "noise.h"
#include "offload.h"
#include "peer.h"
#include "ratelimiter.h"
#include "replay.h"
#include "timers.h"
#include "tun.h"
#include "udp.h"
#include "workers.h"

/* Where an authenticated datagram came from and which of our addresses it was sent to: the
 * peer is answered there, from that address. */
static void set_endpoint(struct peer *p, const union endpoint *src, const struct udp_src *local)
{
	if (!addr_endpoint_equal(&p->endpoint, src))
		p->endpoint = *src;
	/* A plain copy: it is as cheap as comparing, and the line is written anyway. */
	p->endpoint_src = *local;
}

/* Hands the coalesced super-packet (if any) to the kernel. */
static void tun_flush(struct device *dev)
{
	struct datapath *dp = dev->dp;
	size_t n = offload_gro_finish(&dp->gro);

	if (n && write(dev->tun_fd, dp->gro.buf, n) < 0)
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
		struct offload_gro *gro = &dev->dp->gro;

		if (offload_gro_add(gro, pkt, len))
			return;
		if (gro->len) {
			tun_flush(dev);
			if (offload_gro_add(gro, pkt, len))
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
	if (!datapath_send_to_peer(p, &msg, sizeof(msg)))
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
	struct datapath *dp = dev->dp;
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
	if (dp->n_rx == DATAPATH_RX_MAX || (dp->n_rx && dp->rx_src != src))
		rx_flush(dev, now);
	dp->rx[dp->n_rx++] = (struct datapath_rx){ .buf = buf,
						   .len = (uint32_t)len,
						   .entry = e,
						   .counter = le64toh(msg->counter) };
	dp->rx_src = src;
	dp->rx_local = local;
}

static void open_range(void *ctx, unsigned begin, unsigned end)
{
	struct datapath *dp = ctx;

	for (unsigned i = begin; i < end; i++) {
		struct datapath_rx *rx = &dp->rx[i];
		struct noise_keypair *kp = container_of(rx->entry, struct noise_keypair, entry);
		uint8_t *data = rx->buf + HEADROOM;

		rx->opened = cipher_aead_open(data, data, rx->len - HEADROOM, NULL, 0, rx->counter,
					      kp->recv_key);
	}
}

/* What a run of authentic packets from one peer, with one session, owes its timers: settled
 * once for the run rather than once a packet, as send.c's settle() does for sending (the
 * clock is the wakeup's, so once is the same). A run ends where the peer or the session
 * changes, so a session confirmed mid-batch is settled on each side of the confirmation as
 * packet by packet; nothing else sends to the peer or reads its timers while a run lasts
 * (rx_flush()). */
struct rx_owed {
	struct peer *p; /* NULL: nothing owed */
	const struct noise_keypair *kp;
	unsigned data; /* how many carried data, counted up to 2: see rx_settle() */
};

static void rx_settle(struct rx_owed *o, uint64_t now)
{
	struct peer *p = o->p;

	if (!p)
		return;
	o->p = NULL;
	if (unlikely(timers_should_rekey_after_receive(&p->timers, p->current, now)))
		datapath_send_initiation(p, false, now);
	timers_any_authenticated_packet_received(&p->timers);
	timers_any_authenticated_packet_traversal(&p->timers, now);
	/* The first arms the keepalive, the second asks for another (need_another_keepalive),
	 * as two packets would one by one; a third adds nothing. */
	for (unsigned i = 0; i < o->data; i++)
		timers_data_received(&p->timers, now);
	o->data = 0;
	peer_timers_schedule(p);
}

/* Makes the packet's peer and session the run owed (settling the one before). */
static void rx_owe(struct rx_owed *o, struct peer *p, const struct noise_keypair *kp, uint64_t now)
{
	if (o->p == p && o->kp == kp)
		return;
	rx_settle(o, now);
	o->p = p;
	o->kp = kp;
}

/* Phase two, in arrival order: an opened message is authentic; if it is also fresh it may
 * move state and reach the TUN. *rotated says whether an earlier message of the batch
 * confirmed a session (and so retired another), and is set when this one does. */
static void receive_opened(struct device *dev, const struct datapath_rx *rx, uint64_t now,
			   bool *rotated, struct rx_owed *owed)
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
	rx_owe(owed, p, kp, now);
	set_endpoint(p, dev->dp->rx_src, dev->dp->rx_local);
	p->stats.rx_bytes += rx->len;
	p->stats.rx_packets++;
	if (unlikely(peer_keypair_confirm(p, kp))) {
		*rotated = true;
		timers_handshake_complete(&p->timers);
		log_info("%s: peer %s: session confirmed", dev->ifname, p->name);
		datapath_send_staged(p, now);
	}

	plen = clen - NOISE_AUTHTAG_LEN;
	if (plen) {
		owed->data += owed->data < 2;
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
}

/* Opens every queued data message (spread over the threads when there is enough to do),
 * then finishes each in order, and settles what the last run owes. */
static void rx_flush(struct device *dev, uint64_t now)
{
	struct datapath *dp = dev->dp;
	unsigned n = dp->n_rx;
	size_t bytes = 0;
	bool rotated = false;
	struct rx_owed owed = { 0 };

	for (unsigned i = 0; i < n; i++)
		bytes += dp->rx[i].len;
	workers_run(bytes >= PARALLEL_MIN_BYTES ? dev->workers : NULL, open_range, dp, n,
		    PARALLEL_CHUNK);
	/* receive_opened() may send (a confirmed session's staged packets), never receive.
	 * Confirming a session is the only way one retires while this loop runs: handshake
	 * messages flush the queue before they are handled, and timers and the control socket
	 * run between wakeups. */
	dp->n_rx = 0;
	for (unsigned i = 0; i < n; i++)
		receive_opened(dev, &dp->rx[i], now, &rotated, &owed);
	rx_settle(&owed, now);
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
	struct datapath *dp = dev->dp;
	uint64_t now = device_now();
	union endpoint src;
	struct udp_src local;
	size_t seglen;

	for (int i = 0; i < DATAPATH_BATCH; i++) {
		ssize_t n = udp_recv(&dev->udp, fd, dp->rx_buf, dp->buf_size, &src, &local,
				     &seglen);

		if (n < 0) {
			if (n != -EAGAIN && n != -EINTR)
				log_warn("%s: UDP receive: %s", dev->ifname, strerror((int)-n));
			break;
		}
		if (unlikely((size_t)n > dp->buf_size || !seglen)) {
			dev->stats.rx_datagrams++;
			drop(dev, DROP_BAD_SIZE);
			continue;
		}
		for (size_t off = 0; off < (size_t)n; off += seglen)
			receive_one(dev, dp->rx_buf + off,
				    (size_t)n - off < seglen ? (size_t)n - off : seglen, &src,
				    &local, now);
		if (dp->n_rx)
			rx_flush(dev, now);
	}
	tun_flush(dev);
}
