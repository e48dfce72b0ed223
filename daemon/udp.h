/* The UDP sockets: one IPv4 and one IPv6 (IPV6_V6ONLY) on the same port, non-blocking. */
#ifndef SEALNET_UDP_H
#define SEALNET_UDP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"

/* Offloads, asked for and kept per socket: the kernel may refuse either at any time. */
#define UDP_OFFLOAD_GSO (1u << 0) /* send a train of equal datagrams in one sendmsg */
#define UDP_OFFLOAD_GRO (1u << 1) /* receive a train of equal datagrams in one recvmsg */

struct udp {
	int fd4, fd6; /* -1 when that family is unavailable */
	uint16_t port;
	unsigned offload4, offload6;
};

/* The local end of a datagram: the address a peer wrote to, and for IPv4 the interface it
 * came in on. Kept with the peer's endpoint so replies leave from that address (a NAT or a
 * stateful firewall in front of a multi-homed host drops them otherwise), as WireGuard does;
 * for IPv6 only the address is kept, as WireGuard does. addr.family 0: none, the kernel
 * picks the source. */
struct udp_src {
	struct ip_addr addr;
	/* IPv4: the interface the peer's datagram came in on, 0 = any. Sent as ipi_ifindex, as
	 * wireguard-go does, so a reply leaves where the request came in even when the address
	 * alone would route elsewhere (a link that went down keeps its addresses). The cost:
	 * with no route to the peer through that interface the kernel assumes the peer is on
	 * its link (the WireGuard module compares the route's interface instead, which a
	 * socket cannot cheaply ask), until a handshake retry forgets the source. */
	int ifindex;
};

/* Largest train udp_send_train() sends at once: the kernel's UDP_MAX_SEGMENTS, and what fits
 * in one UDP datagram of the IPv6 or IPv4 kind (65535 less the IP and UDP headers). */
#define UDP_MAX_SEGMENTS 64
#define UDP_MAX_TRAIN_BYTES (65535 - 60 - 8)

/* port 0 picks one. offload: UDP_OFFLOAD_* wanted. Returns 0 or -errno; at least one family
 * must work. */
int udp_open(struct udp *u, uint16_t port, unsigned offload);
void udp_close(struct udp *u);
/* SO_MARK on both sockets (0 clears it), for policy routing of the tunnel's own datagrams. */
int udp_set_mark(const struct udp *u, uint32_t mark);
/* src: where to send from, NULL or addr.family 0 for the kernel's choice. When the kernel
 * refuses it (the address or its interface is gone, or nothing routes from it) *src is
 * cleared and the datagram goes out without it: the next datagram the peer sends teaches a
 * new one. Returns 0 or -errno (-EAGAIN when the socket buffer is full). */
int udp_send(const struct udp *u, const union endpoint *to, struct udp_src *src, const void *buf,
	     size_t len);
/* count datagrams laid end to end in buf, each seglen bytes but the last (which may be
 * shorter; total bytes in len), all to one endpoint from one src (as in udp_send()): one
 * sendmsg with UDP_SEGMENT where the socket allows it, else one sendmmsg. Returns how many
 * went out, or -errno if none did. */
int udp_send_train(struct udp *u, const union endpoint *to, struct udp_src *src, const uint8_t *buf,
		   size_t len, size_t seglen, unsigned count);
/* Reads one datagram or, with GRO, one train of them, from *from to *to (one of our
 * addresses; addr.family 0 when the kernel did not say). *seglen is the size of each
 * datagram in the train (all but the last), equal to the length when there is no train.
 * Returns the length or -errno (-EAGAIN when there is nothing). */
ssize_t udp_recv(const struct udp *u, int fd, uint8_t *buf, size_t cap, union endpoint *from,
		 struct udp_src *to, size_t *seglen);

#endif
