/* Segmentation and coalescing offloads between the TUN device and the datapath.
 *
 * With IFF_VNET_HDR and TUNSETOFFLOAD the kernel hands us TCP (and UDP, with USO) packets of
 * up to 64 KB behind a virtio_net_hdr, and accepts such super-packets from us. The datapath
 * splits what it reads into MTU-sized packets with correct headers and checksums before
 * encrypting them (a peer may be wireguard-go or the Linux module, which trust our inner
 * checksums), and glues consecutive TCP segments of one flow back together before writing
 * them to the TUN, so one system call moves up to 64 KB each way. Pure functions over bytes:
 * no I/O, no allocation. */
#ifndef SEALNET_OFFLOAD_H
#define SEALNET_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* struct virtio_net_hdr in the machine's byte order (TUN's default on little-endian hosts). */
struct offload_vnet_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
} __attribute__((packed));

#define OFFLOAD_VNET_HDR_LEN sizeof(struct offload_vnet_hdr)
#define OFFLOAD_F_NEEDS_CSUM 1
#define OFFLOAD_F_DATA_VALID 2
#define OFFLOAD_GSO_NONE 0
#define OFFLOAD_GSO_TCPV4 1
#define OFFLOAD_GSO_TCPV6 4
#define OFFLOAD_GSO_UDP_L4 5
#define OFFLOAD_GSO_ECN 0x80
/* The largest IP packet there is, and so the largest super-packet. */
#define OFFLOAD_MAX_PACKET 65535

/* Internet checksum pieces: sum without folding, then fold (not complemented). The bulk
 * of a sum runs on the widest vector unit the CPU has (offload_csum.c). */
uint64_t offload_csum_add(uint64_t sum, const void *buf, size_t len);
uint16_t offload_csum_fold(uint64_t sum);

/* Which code sums: the best this CPU runs is chosen at start; tests force each one. */
enum offload_csum_impl {
	OFFLOAD_CSUM_SCALAR,
	OFFLOAD_CSUM_SSE2, /* x86-64 only */
	OFFLOAD_CSUM_AVX2, /* x86-64 with AVX2 only */
};

/* 0, or -ENOTSUP where this build or CPU cannot run it. Not thread-safe: before threads. */
int offload_csum_use(enum offload_csum_impl impl);
const char *offload_csum_name(void);
/* Sum of the TCP/UDP pseudo-header for this IP packet's addresses, proto and L4 length. */
uint64_t offload_pseudo_sum(const uint8_t *ip, int family, uint8_t proto, uint32_t l4len);

/* A packet without GSO but with NEEDS_CSUM: write the checksum the kernel left to us.
 * Returns 0 or -EINVAL when the offsets do not fit the packet. */
int offload_complete_csum(const struct offload_vnet_hdr *vh, uint8_t *pkt, size_t len);

/* Where segment i goes: returns a buffer of at least len bytes, or NULL to stop. */
typedef uint8_t *offload_alloc_fn(void *ctx, size_t len);

/* Splits a GSO super-packet (TCPv4/v6 or UDP L4) into packets of hdr + gso_size bytes (the
 * last may be shorter), each with its own lengths, IPv4 id, TCP sequence and flags, and full
 * checksums, written where alloc says. Returns the number of segments or -EINVAL for
 * anything that is not a well-formed super-packet of a kind we split. */
int offload_segment(const struct offload_vnet_hdr *vh, const uint8_t *pkt, size_t len,
		    offload_alloc_fn *alloc, void *ctx);

/* The kernel splits at most 64 segments of one super-packet written to a TUN on older
 * kernels (UDP_MAX_SEGMENTS). */
#define OFFLOAD_GRO_MAX_SEGMENTS 64

/* Coalescing of received TCP segments, or UDP datagrams of one flow and size, into one
 * super-packet for the TUN. */
struct offload_gro {
	uint8_t *buf; /* OFFLOAD_VNET_HDR_LEN + OFFLOAD_MAX_PACKET bytes, owned by the caller */
	size_t len;   /* bytes of packet after the vnet header; 0 = empty */
	size_t iphlen, hdrlen;
	int family;
	uint8_t proto; /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t mss;  /* payload bytes per segment */
	uint32_t next_seq;
	unsigned segments;
	bool closed; /* a short or PSH segment ended it */
	bool udp;    /* set by the caller: the TUN takes UDP super-packets too (USO) */
};

/* Appends pkt if it continues the flow held in g (or starts g when empty). Returns false
 * when it does not fit: the caller flushes g and tries again, or writes pkt alone. */
bool offload_gro_add(struct offload_gro *g, const uint8_t *pkt, size_t len);
/* Fixes lengths and checksums, fills the vnet header, returns the bytes to write (vnet
 * header included) and empties g. 0 if g was empty. */
size_t offload_gro_finish(struct offload_gro *g);
/* Whether a packet could ever be coalesced (TCP with payload, plain headers). */
bool offload_gro_candidate(const uint8_t *pkt, size_t len);

#endif
