/*
 * The way out: TUN -> route -> firewall -> commit to the batch or stage -> seal -> UDP. The
 * comment at the top of datapath.c tells the whole story.
 */
#include "datapath.h"

#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "allowedips.h"
#include "cipher.h"
#include "datapath_priv.h"
#include "device.h"
#include "firewall.h"
#include "log.h"
#include "messages.h"
#include "noise.h"
#include "offload.h"
#include "peer.h"
#include "timers.h"
#include "tun.h"
#include "udp.h"
#include "workers.h"

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
	struct datapath *dp = dev->dp;
	size_t need = HEADROOM + len + MESSAGE_PADDING_MULTIPLE + NOISE_AUTHTAG_LEN;

	if (unlikely(need > dp->batch_cap))
		return NULL;
	if (dp->n_tx == DATAPATH_TX_MAX || dp->batch_used + need > dp->batch_cap)
		datapath_flush(dev);
	return dp->batch + dp->batch_used + HEADROOM;
}

/* Appends the len bytes at tx_slot() to the batch as a datagram of the session kp, to be
 * sealed by datapath_flush(). The counter is taken now, so datagrams leave in order. The
 * peer's timers hear of it in settle(): p is dp->owed. */
static void tx_commit(struct peer *p, struct noise_keypair *kp, size_t len)
{
	struct device *dev = p->dev;
	struct datapath *dp = dev->dp;
	uint8_t *payload = dp->batch + dp->batch_used + HEADROOM;
	struct message_data *msg = (struct message_data *)(payload - HEADROOM);
	size_t padded = padded_len(len, dev->mtu), total;
	struct datapath_tx *tx = &dp->tx[dp->n_tx++];

	memset(payload + len, 0, padded - len);
	msg->header.type = htole32(MESSAGE_DATA);
	msg->key_idx = htole32(kp->remote_index);
	tx->counter = kp->send_counter++;
	msg->counter = htole64(tx->counter);
	memcpy(tx->key, kp->send_key, sizeof(tx->key));
	total = HEADROOM + padded + NOISE_AUTHTAG_LEN;
	tx->peer = p;
	tx->off = (uint32_t)dp->batch_used;
	tx->len = (uint32_t)total;
	tx->plen = (uint32_t)padded;
	dp->batch_used += total;
	dp->owed_sent = true;
	dp->owed_data |= len != 0;
}

static void seal_range(void *ctx, unsigned begin, unsigned end)
{
	struct datapath *dp = ctx;

	for (unsigned i = begin; i < end; i++) {
		struct datapath_tx *tx = &dp->tx[i];
		uint8_t *payload = dp->batch + tx->off + HEADROOM;

		cipher_aead_seal(payload, payload, tx->plen, NULL, 0, tx->counter, tx->key);
		cipher_wipe(tx->key, sizeof(tx->key));
	}
}

void datapath_flush(struct device *dev)
{
	struct datapath *dp = dev->dp;
	unsigned i = 0, j;

	workers_run(dp->batch_used >= PARALLEL_MIN_BYTES ? dev->workers : NULL, seal_range, dp,
		    dp->n_tx, PARALLEL_CHUNK);

	while (i < dp->n_tx) {
		struct datapath_tx *first = &dp->tx[i];
		struct peer *p = first->peer;
		size_t seglen = first->len, total;
		int sent;

		/* A train: same peer, full-size datagrams, the last one possibly shorter. */
		total = seglen;
		for (j = i + 1; j < dp->n_tx && j - i < UDP_MAX_SEGMENTS && dp->tx[j].peer == p &&
				dp->tx[j - 1].len == seglen && dp->tx[j].len <= seglen &&
				total + dp->tx[j].len <= UDP_MAX_TRAIN_BYTES;
		     j++)
			total += dp->tx[j].len;
		if (unlikely(!p->endpoint.sa.sa_family)) {
			dev->stats.drops[DROP_NO_ENDPOINT] += j - i;
		} else {
			sent = udp_send_train(&dev->udp, &p->endpoint, &p->endpoint_src,
					      dp->batch + first->off, total, seglen, j - i);
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
	dp->n_tx = 0;
	dp->batch_used = 0;
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

/* offload_segment() asks for room segment by segment; the previous segment is complete by
 * then, so it is sealed into the batch (or staged) at that moment. */
struct segmenter {
	struct device *dev;
	struct peer *p;
	struct noise_keypair *kp; /* NULL: stage the segments */
	size_t pending;
};

static void segment_done(struct segmenter *sg)
{
	if (!sg->pending)
		return;
	if (sg->kp)
		tx_commit(sg->p, sg->kp, sg->pending);
	else
		peer_stage(sg->p, sg->dev->dp->seg_buf, sg->pending);
	sg->pending = 0;
}

static uint8_t *segment_alloc(void *ctx, size_t len)
{
	struct segmenter *sg = ctx;
	struct datapath *dp = sg->dev->dp;
	uint8_t *slot;

	segment_done(sg);
	if (sg->kp)
		slot = tx_slot(sg->dev, len);
	else
		slot = len <= dp->buf_size ? dp->seg_buf : NULL;
	if (slot)
		sg->pending = len;
	return slot;
}

/* Into the transmit batch with session kp, or (kp NULL) onto the peer's staged queue: the
 * packet, or the segments of the super-packet behind vh. */
static void put_packet(struct peer *p, struct noise_keypair *kp, const struct offload_vnet_hdr *vh,
		       const uint8_t *pkt, size_t len)
{
	struct device *dev = p->dev;
	uint8_t *slot;

	if (vh) {
		struct segmenter sg = { .dev = dev, .p = p, .kp = kp };
		int n = offload_segment(vh, pkt, len, segment_alloc, &sg);

		segment_done(&sg);
		if (unlikely(n < 0))
			drop(dev, DROP_BAD_INNER);
		return;
	}
	if (!kp) {
		peer_stage(p, pkt, len);
		return;
	}
	slot = tx_slot(dev, len);
	if (unlikely(!slot)) {
		drop(dev, DROP_BAD_INNER);
		return;
	}
	memcpy(slot, pkt, len);
	tx_commit(p, kp, len);
}

/* What sending owes the peer dp->owed, once for a run of packets to it rather than once a
 * packet (the clock is the wakeup's, so once is the same): its timers hear that packets
 * left, a session that has sent enough starts a new handshake, and its timer is re-armed. */
static void settle(struct datapath *dp, uint64_t now)
{
	struct peer *p = dp->owed;

	if (!p)
		return;
	if (dp->owed_sent) {
		timers_any_authenticated_packet_traversal(&p->timers, now);
		timers_any_authenticated_packet_sent(&p->timers);
		if (dp->owed_data)
			timers_data_sent(&p->timers, now);
	}
	dp->owed = NULL;
	dp->owed_sent = dp->owed_data = false;
	if (unlikely(timers_should_rekey_after_send(dp->owed_kp, now)))
		datapath_send_initiation(p, false, now);
	peer_timers_schedule(p);
}

/* Makes p the peer that sending owes (settling the one before). */
static void owe(struct datapath *dp, struct peer *p, struct noise_keypair *kp, uint64_t now)
{
	if (dp->owed == p)
		return;
	settle(dp, now);
	dp->owed = p;
	dp->owed_kp = kp;
}

/* The one way out for data to a peer. The packet (pkt NULL: none, only what is staged; vh
 * non-NULL: a super-packet) goes into the batch if the current session is usable and
 * nothing is staged ahead of it; the caller settles (datapath_tun_readable(), after its
 * last packet). Otherwise it is staged, and then what is staged goes into the batch, which
 * is flushed and settled at once, if the session allows, or a handshake starts. */
static void send_packets(struct peer *p, const struct offload_vnet_hdr *vh, const uint8_t *pkt,
			 size_t len, uint64_t now)
{
	struct device *dev = p->dev;
	struct datapath *dp = dev->dp;
	struct noise_keypair *kp = p->current;
	bool usable = timers_keypair_usable_for_send(kp, now);
	const uint8_t *staged;
	size_t slen;

	if (likely(pkt && usable && !p->staged_count)) {
		owe(dp, p, kp, now);
		put_packet(p, kp, vh, pkt, len);
		return;
	}
	settle(dp, now);
	if (pkt)
		put_packet(p, NULL, vh, pkt, len);
	if (!usable) {
		datapath_send_initiation(p, false, now);
		return;
	}
	owe(dp, p, kp, now);
	while ((staged = peer_staged_pop(p, &slen))) {
		uint8_t *slot = tx_slot(dev, slen);

		if (!slot) {
			drop(dev, DROP_STAGED_FULL);
			continue;
		}
		memcpy(slot, staged, slen);
		tx_commit(p, kp, slen);
	}
	datapath_flush(dev);
	settle(dp, now);
}

void datapath_send_staged(struct peer *p, uint64_t now)
{
	send_packets(p, NULL, NULL, 0, now);
}

/* A packet from the TUN, or a super-packet behind vh (one flow: its headers stand for every
 * segment, for the route and the firewall). */
static void tun_packet(struct device *dev, const struct offload_vnet_hdr *vh, const uint8_t *pkt,
		       size_t len, uint64_t now)
{
	struct peer *p = route(dev, pkt, len);

	if (unlikely(!p))
		return;
	if (unlikely(firewall_active(dev->firewall)))
		firewall_outbound(dev->firewall, pkt, len, now);
	send_packets(p, vh, pkt, len, now);
}

void datapath_tun_readable(struct device *dev)
{
	size_t hdr = dev->tun_features & TUN_VNET_HDR ? OFFLOAD_VNET_HDR_LEN : 0;
	uint64_t now = device_now();
	struct datapath *dp = dev->dp;
	struct offload_vnet_hdr vh;

	for (int i = 0; i < DATAPATH_BATCH; i++) {
		ssize_t n = read(dev->tun_fd, dp->tx_buf, dp->buf_size);
		uint8_t *pkt = dp->tx_buf + hdr;
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
			memcpy(&vh, dp->tx_buf, sizeof(vh));
			if (vh.gso_type != OFFLOAD_GSO_NONE) {
				tun_packet(dev, &vh, pkt, len, now);
				continue;
			}
			if ((vh.flags & OFFLOAD_F_NEEDS_CSUM) &&
			    unlikely(offload_complete_csum(&vh, pkt, len))) {
				drop(dev, DROP_BAD_INNER);
				continue;
			}
		}
		tun_packet(dev, NULL, pkt, len, now);
	}
	settle(dp, now);
	datapath_flush(dev);
}
