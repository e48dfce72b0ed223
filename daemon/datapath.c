/*
 * The datapath, on the device's event loop, which owns every piece of its state.
 *
 * Out: the TUN hands us an IP packet, or with offloads a TCP/UDP super-packet of up to 64 KB
 * behind a virtio_net_hdr, which is split into MTU-sized packets with their own headers and
 * checksums (offload.c). Each packet's destination picks the peer (allowedips), and every
 * packet then takes one way out (send_packets() in send.c). With a usable current session
 * and nothing staged ahead of it, the packet is copied into the transmit batch behind room
 * for the 16-byte data header, padded to 16 bytes and given the session's next send counter;
 * without one it is staged and a handshake initiation goes out, and the staged packets leave
 * the same way as soon as a session exists. Once per wakeup the batch is flushed: every datagram is sealed in place
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
 * send.c holds the way out, receive.c the way in; this file what both use (handshake
 * initiations, keepalives, the timers' actions) and the datapath's state (datapath_priv.h).
 *
 * Every drop bumps a counter in dev->stats.drops and is otherwise silent: nothing is answered
 * that lacks a valid mac1, and nothing is logged per packet (droplog.c reads the counters
 * once a second and logs, rate-limited). Nothing here allocates.
 */
#include "datapath.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cipher.h"
#include "cookie.h"
#include "datapath_priv.h"
#include "device.h"
#include "index.h"
#include "log.h"
#include "noise.h"
#include "offload.h"
#include "peer.h"
#include "timers.h"
#include "tun.h"
#include "udp.h"

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

int datapath_send_to_peer(struct peer *p, const void *buf, size_t len)
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
	if (!datapath_send_to_peer(p, &msg, sizeof(msg)))
		timers_any_authenticated_packet_sent(&p->timers);
	timers_handshake_initiated(&p->timers, now);
	log_debug("%s: peer %s: sent handshake initiation%s", dev->ifname, p->name,
		  is_retry ? " (retry)" : "");
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
