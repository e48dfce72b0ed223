/* The datapath's own state and what its files (datapath.c, send.c, receive.c) share. Only
 * they (and the datapath fuzz target, which watches what reaches the TUN) include this: the
 * rest of the daemon sees struct datapath as opaque (datapath.h). */
#ifndef SEALNET_DATAPATH_PRIV_H
#define SEALNET_DATAPATH_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addr.h"
#include "device.h"
#include "messages.h"
#include "noise.h"
#include "offload.h"

struct peer;
struct udp_src;

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
/* Packets handled per wakeup before the loop looks at the other sources again. */
#define DATAPATH_BATCH 64
#define HEADROOM sizeof(struct message_data)
/* Packets per range handed to a thread, and the least work worth waking threads for. */
#define PARALLEL_CHUNK 4
#define PARALLEL_MIN_BYTES 16384

/* Room for the largest IP packet (or GRO train of datagrams) the kernel can hand us, with the
 * data header or vnet header in front and padding and tag behind. */
#define DATAPATH_BUF_SIZE (HEADROOM + 65535 + MESSAGE_PADDING_MULTIPLE + NOISE_AUTHTAG_LEN)
/* Two super-packets' worth of encrypted datagrams. */
#define DATAPATH_BATCH_SIZE (2 * DATAPATH_BUF_SIZE + 4096)

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* A datagram in the transmit batch: header written, payload sealed at flush time (by
 * whichever thread gets it) with a copy of the session key, wiped once used, so the
 * keypair may go away before the flush. */
struct datapath_tx {
	struct peer *peer;
	uint32_t off, len; /* datagram in dp->batch */
	uint32_t plen;     /* padded payload to seal */
	uint64_t counter;
	uint8_t key[KEY_LEN];
};
#define DATAPATH_TX_MAX 256

/* A data message of a received train, between opening and the checks that follow. */
struct datapath_rx {
	uint8_t *buf;
	uint32_t len;
	int opened; /* 0, or -EBADMSG */
	struct index_entry *entry;
	uint64_t counter;
};
#define DATAPATH_RX_MAX 256

struct datapath {
	/* One buffer per direction for what the kernel hands us (the loop is single-threaded),
	 * the transmit batch the datapath fills and flushes once per wakeup, a segment being
	 * staged, and the TCP segments being coalesced for the TUN. */
	uint8_t *rx_buf, *tx_buf, *batch, *seg_buf;
	size_t buf_size, batch_cap, batch_used;
	struct datapath_tx tx[DATAPATH_TX_MAX];
	unsigned n_tx;
	struct datapath_rx rx[DATAPATH_RX_MAX];
	unsigned n_rx;
	const union endpoint *rx_src;   /* where the datagrams in rx came from */
	const struct udp_src *rx_local; /* and which of our addresses they were sent to */
	struct offload_gro gro;
	/* The peer the last packets in the batch went to, whose timers and rekey check wait
	 * for the end of its run (send.c's settle()); NULL between wakeups. */
	struct peer *owed;
	struct noise_keypair *owed_kp; /* the session they went with */
	bool owed_sent, owed_data;     /* any datagram, any with data */
};

static inline void drop(struct device *dev, enum device_drop why)
{
	dev->stats.drops[why]++;
}

/* Where an IP packet is going (out) or coming from (in): 4 or 16 bytes, or NULL. */
static inline const uint8_t *ip_addr_at(const uint8_t *pkt, size_t len, bool source, int *family)
{
	if (len >= 20 && (pkt[0] >> 4) == 4) {
		*family = AF_INET;
		return pkt + (source ? 12 : 16);
	}
	if (len >= 40 && (pkt[0] >> 4) == 6) {
		*family = AF_INET6;
		return pkt + (source ? 8 : 24);
	}
	return NULL;
}

/* Sends one datagram to the peer's endpoint at once (handshake messages), counting it or
 * the drop. 0 or -errno. */
int datapath_send_to_peer(struct peer *p, const void *buf, size_t len);

#endif
