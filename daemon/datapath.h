/* Packets through the device: TUN -> encrypt -> UDP (send.c) and UDP -> decrypt -> TUN
 * (receive.c), plus the handshake messages that set sessions up. See the comment at the top
 * of datapath.c. */
#ifndef SEALNET_DATAPATH_H
#define SEALNET_DATAPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct device;
struct peer;
struct udp_src;
/* The datapath's state (batches, buffers, key copies, GRO), private to datapath.c, send.c
 * and receive.c; one per device, which holds it in dev->dp. */
struct datapath;

/* tun_features: TUN_* the kernel granted. 0 or -ENOMEM; *out freed with datapath_free(). */
int datapath_new(unsigned tun_features, struct datapath **out);
/* Wipes what the buffers and key copies hold. NULL is fine. */
void datapath_free(struct datapath *dp);

void datapath_tun_readable(struct device *dev);
void datapath_udp_readable(struct device *dev, int fd);

/* One datagram, as read from a socket (exposed for tests and fuzzing): from src, sent to our
 * address local (NULL: not known). */
void datapath_receive(struct device *dev, uint8_t *buf, size_t len, const union endpoint *src,
		      const struct udp_src *local, uint64_t now);

/* Sends the datagrams the transmit batch holds. Every entry point that fills the batch
 * flushes it before returning to the event loop, so it is empty between wakeups. */
void datapath_flush(struct device *dev);
/* Sends what is staged if the current session allows, otherwise starts a handshake. */
void datapath_send_staged(struct peer *p, uint64_t now);
/* Staged packets, or an empty keepalive if there are none. */
void datapath_send_keepalive(struct peer *p, uint64_t now);
void datapath_send_initiation(struct peer *p, bool is_retry, uint64_t now);
/* Acts on whatever the peer's timers say is due. */
void datapath_peer_timers(struct peer *p, uint64_t now);

#endif
