/* The UDP sockets: one IPv4 and one IPv6 (IPV6_V6ONLY) on the same port, non-blocking. */
#ifndef SEALNET_UDP_H
#define SEALNET_UDP_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct udp {
	int fd4, fd6; /* -1 when that family is unavailable */
	uint16_t port;
};

/* port 0 picks one. Returns 0 or -errno; at least one family must work. */
int udp_open(struct udp *u, uint16_t port);
void udp_close(struct udp *u);
/* SO_MARK on both sockets (0 clears it), for policy routing of the tunnel's own datagrams. */
int udp_set_mark(const struct udp *u, uint32_t mark);
/* Returns 0 or -errno (-EAGAIN when the socket buffer is full). */
int udp_send(const struct udp *u, const union endpoint *to, const void *buf, size_t len);

#endif
