#include "offload.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

uint64_t offload_pseudo_sum(const uint8_t *ip, int family, uint8_t proto, uint32_t l4len)
{
	uint64_t sum;

	if (family == AF_INET)
		sum = offload_csum_add(0, ip + 12, 8);
	else
		sum = offload_csum_add(0, ip + 8, 32);
	return sum + proto + (l4len >> 16) + (l4len & 0xffff);
}

/* The L4 checksum of a whole packet whose checksum field is zero. */
static uint16_t l4_csum(const uint8_t *ip, int family, uint8_t proto, const uint8_t *l4,
			size_t l4len)
{
	uint64_t sum = offload_pseudo_sum(ip, family, proto, (uint32_t)l4len);
	uint16_t c = (uint16_t)~offload_csum_fold(offload_csum_add(sum, l4, l4len));

	/* UDP sends "no checksum" as 0, so a real 0 goes out as its other form. */
	return proto == IPPROTO_UDP && c == 0 ? 0xffff : c;
}

static void ipv4_csum(uint8_t *ip, size_t ihl)
{
	put16(ip + 10, 0);
	put16(ip + 10, (uint16_t)~offload_csum_fold(offload_csum_add(0, ip, ihl)));
}

int offload_complete_csum(const struct offload_vnet_hdr *vh, uint8_t *pkt, size_t len)
{
	size_t start = vh->csum_start, off = vh->csum_offset;
	uint16_t c;

	if (start >= len || off + 2 > len - start)
		return -EINVAL;
	/* The kernel left the pseudo-header sum in the field: sum from csum_start on. */
	c = (uint16_t)~offload_csum_fold(offload_csum_add(0, pkt + start, len - start));
	/* UDP (its checksum sits 6 bytes in) sends "no checksum" as 0, which IPv6 forbids: a
	 * real 0 goes out as 0xffff, as the kernel writes it. */
	if (off == 6 && c == 0)
		c = 0xffff;
	put16(pkt + start + off, c);
	return 0;
}

/* Parses the IP and L4 headers of a super-packet: family, IP header length, total header
 * length. Returns the L4 protocol or -EINVAL. */
static int parse_headers(const uint8_t *pkt, size_t len, int *family, size_t *iphlen,
			 size_t *hdrlen)
{
	uint8_t proto;
	size_t l4hl;

	if (len < 20)
		return -EINVAL;
	if ((pkt[0] >> 4) == 4) {
		*family = AF_INET;
		*iphlen = (size_t)(pkt[0] & 15) * 4;
		/* A fragment is never a super-packet. */
		if (*iphlen < 20 || (get16(pkt + 6) & 0x3fff))
			return -EINVAL;
		proto = pkt[9];
	} else if ((pkt[0] >> 4) == 6) {
		*family = AF_INET6;
		*iphlen = 40;
		proto = pkt[6];
	} else {
		return -EINVAL;
	}
	if (len < *iphlen + 8)
		return -EINVAL;
	if (proto == IPPROTO_TCP) {
		if (len < *iphlen + 20)
			return -EINVAL;
		l4hl = (size_t)(pkt[*iphlen + 12] >> 4) * 4;
		if (l4hl < 20)
			return -EINVAL;
	} else if (proto == IPPROTO_UDP) {
		l4hl = 8;
	} else {
		return -EINVAL;
	}
	*hdrlen = *iphlen + l4hl;
	if (*hdrlen > len)
		return -EINVAL;
	return proto;
}

int offload_segment(const struct offload_vnet_hdr *vh, const uint8_t *pkt, size_t len,
		    offload_alloc_fn *alloc, void *ctx)
{
	size_t iphlen, hdrlen, payload, mss = vh->gso_size, off;
	int family, proto, n = 0;
	uint8_t gso = vh->gso_type & (uint8_t)~OFFLOAD_GSO_ECN;
	uint16_t id;
	uint32_t seq = 0;

	proto = parse_headers(pkt, len, &family, &iphlen, &hdrlen);
	if (proto < 0 || mss == 0)
		return -EINVAL;
	if ((gso == OFFLOAD_GSO_TCPV4 && (family != AF_INET || proto != IPPROTO_TCP)) ||
	    (gso == OFFLOAD_GSO_TCPV6 && (family != AF_INET6 || proto != IPPROTO_TCP)) ||
	    (gso == OFFLOAD_GSO_UDP_L4 && proto != IPPROTO_UDP) ||
	    (gso != OFFLOAD_GSO_TCPV4 && gso != OFFLOAD_GSO_TCPV6 && gso != OFFLOAD_GSO_UDP_L4))
		return -EINVAL;
	/* IPv6 extension headers would sit between the fixed header and TCP/UDP: not split. */
	payload = len - hdrlen;
	id = family == AF_INET ? get16(pkt + 4) : 0;
	if (proto == IPPROTO_TCP)
		seq = get32(pkt + iphlen + 4);

	for (off = 0; off < payload || (payload == 0 && n == 0); off += mss, n++) {
		size_t chunk = payload - off < mss ? payload - off : mss;
		size_t seglen = hdrlen + chunk;
		uint8_t *seg = alloc(ctx, seglen), *l4;
		bool last = off + chunk >= payload;

		if (!seg)
			return n ? n : -ENOBUFS;
		memcpy(seg, pkt, hdrlen);
		memcpy(seg + hdrlen, pkt + hdrlen + off, chunk);
		l4 = seg + iphlen;
		if (family == AF_INET) {
			put16(seg + 2, (uint16_t)seglen);
			/* Segments of a TCP burst get consecutive ids, as the kernel would. */
			put16(seg + 4, (uint16_t)(id + n));
			ipv4_csum(seg, iphlen);
		} else {
			put16(seg + 4, (uint16_t)(seglen - 40));
		}
		if (proto == IPPROTO_TCP) {
			put32(l4 + 4, seq + (uint32_t)off);
			if (!last)
				l4[13] &= (uint8_t) ~(TCP_FIN | TCP_PSH);
			if (n)
				l4[13] &= (uint8_t)~TCP_CWR;
			put16(l4 + 16, 0);
			put16(l4 + 16, l4_csum(seg, family, IPPROTO_TCP, l4, seglen - iphlen));
		} else {
			put16(l4 + 4, (uint16_t)(seglen - iphlen));
			put16(l4 + 6, 0);
			put16(l4 + 6, l4_csum(seg, family, IPPROTO_UDP, l4, seglen - iphlen));
		}
		if (payload == 0)
			return 1;
	}
	return n;
}

/* Whether a packet could join a train, and its headers: TCP with payload and plain flags,
 * or UDP with payload, over plain IPv4 (no options, not a fragment) or IPv6 without
 * extension headers, with lengths that agree. Returns the protocol or -EINVAL. */
static int gro_headers(const uint8_t *pkt, size_t len, int *family, size_t *iphlen, size_t *hdrlen)
{
	int proto = parse_headers(pkt, len, family, iphlen, hdrlen);

	if (proto < 0 || len <= *hdrlen)
		return -EINVAL;
	if (*family == AF_INET && (*iphlen != 20 || get16(pkt + 2) != len))
		return -EINVAL;
	if (*family == AF_INET6 && (size_t)get16(pkt + 4) + 40 != len)
		return -EINVAL;
	if (proto == IPPROTO_UDP) {
		if (get16(pkt + *iphlen + 4) != len - *iphlen)
			return -EINVAL;
	} else {
		uint8_t flags = pkt[*iphlen + 13];

		if ((flags & (TCP_SYN | TCP_FIN | TCP_RST | TCP_URG | TCP_CWR | TCP_ECE)) ||
		    !(flags & TCP_ACK))
			return -EINVAL;
	}
	return proto;
}

bool offload_gro_candidate(const uint8_t *pkt, size_t len)
{
	size_t iphlen, hdrlen;
	int family;

	return gro_headers(pkt, len, &family, &iphlen, &hdrlen) >= 0;
}

/* Same flow and same everything that coalescing would otherwise lose: addresses, ports,
 * ack, window, header options (timestamps included), and IP fields. */
static bool same_flow(const struct offload_gro *g, const uint8_t *pkt, size_t hdrlen)
{
	const uint8_t *h = g->buf + OFFLOAD_VNET_HDR_LEN;
	size_t i = g->iphlen;

	if (hdrlen != g->hdrlen)
		return false;
	if (g->family == AF_INET) {
		/* version/ihl, tos, ttl, proto, addresses; DF bit must agree too */
		if (h[0] != pkt[0] || h[1] != pkt[1] || h[8] != pkt[8] || h[9] != pkt[9] ||
		    memcmp(h + 12, pkt + 12, 8) || ((h[6] ^ pkt[6]) & 0x40))
			return false;
	} else {
		if (memcmp(h, pkt, 4) || h[6] != pkt[6] || h[7] != pkt[7] ||
		    memcmp(h + 8, pkt + 8, 32))
			return false;
	}
	if (g->proto == IPPROTO_UDP)
		return !memcmp(h + i, pkt + i, 4);
	/* ports; then ack, data offset, window; then the options */
	return !memcmp(h + i, pkt + i, 4) && !memcmp(h + i + 8, pkt + i + 8, 5) &&
	       !memcmp(h + i + 14, pkt + i + 14, 2) &&
	       !memcmp(h + i + 20, pkt + i + 20, hdrlen - i - 20);
}

bool offload_gro_add(struct offload_gro *g, const uint8_t *pkt, size_t len)
{
	size_t iphlen, hdrlen, payload;
	int family, proto;
	uint8_t flags = 0;

	proto = gro_headers(pkt, len, &family, &iphlen, &hdrlen);
	if (proto < 0 || (proto == IPPROTO_UDP && !g->udp))
		return false;
	payload = len - hdrlen;
	if (proto == IPPROTO_TCP)
		flags = pkt[iphlen + 13];
	if (!g->len) {
		memcpy(g->buf + OFFLOAD_VNET_HDR_LEN, pkt, len);
		g->len = len;
		g->proto = (uint8_t)proto;
		g->family = family;
		g->iphlen = iphlen;
		g->hdrlen = hdrlen;
		g->mss = (uint16_t)payload;
		g->segments = 1;
		if (proto == IPPROTO_TCP) {
			g->next_seq = get32(pkt + iphlen + 4) + (uint32_t)payload;
			g->closed = (flags & TCP_PSH) != 0;
		}
		return true;
	}
	if (g->closed || proto != g->proto || family != g->family || payload > g->mss ||
	    g->len + payload > OFFLOAD_MAX_PACKET || g->segments >= OFFLOAD_GRO_MAX_SEGMENTS ||
	    (proto == IPPROTO_TCP && get32(pkt + iphlen + 4) != g->next_seq) ||
	    !same_flow(g, pkt, hdrlen))
		return false;
	memcpy(g->buf + OFFLOAD_VNET_HDR_LEN + g->len, pkt + hdrlen, payload);
	g->len += payload;
	g->next_seq += (uint32_t)payload;
	g->segments++;
	if (flags & TCP_PSH) {
		g->buf[OFFLOAD_VNET_HDR_LEN + g->iphlen + 13] |= TCP_PSH;
		g->closed = true;
	}
	if (payload < g->mss)
		g->closed = true;
	return true;
}

size_t offload_gro_finish(struct offload_gro *g)
{
	struct offload_vnet_hdr vh = { 0 };
	uint8_t *pkt = g->buf + OFFLOAD_VNET_HDR_LEN;
	size_t len = g->len;

	if (!len)
		return 0;
	if (g->segments == 1) {
		/* Authenticated by Poly1305: the kernel need not check the checksum again. */
		vh.flags = OFFLOAD_F_DATA_VALID;
	} else {
		uint64_t psum;

		if (g->family == AF_INET) {
			put16(pkt + 2, (uint16_t)len);
			ipv4_csum(pkt, g->iphlen);
		} else {
			put16(pkt + 4, (uint16_t)(len - 40));
		}
		/* CHECKSUM_PARTIAL: the field holds the pseudo-header sum for the whole. */
		psum = offload_pseudo_sum(pkt, g->family, g->proto, (uint32_t)(len - g->iphlen));
		vh.flags = OFFLOAD_F_NEEDS_CSUM;
		vh.hdr_len = (uint16_t)g->hdrlen;
		vh.gso_size = g->mss;
		vh.csum_start = (uint16_t)g->iphlen;
		if (g->proto == IPPROTO_UDP) {
			/* The kernel gives each datagram its own length when it splits. */
			put16(pkt + g->iphlen + 4, (uint16_t)(len - g->iphlen));
			put16(pkt + g->iphlen + 6, offload_csum_fold(psum));
			vh.gso_type = OFFLOAD_GSO_UDP_L4;
			vh.csum_offset = 6;
		} else {
			put16(pkt + g->iphlen + 16, offload_csum_fold(psum));
			vh.gso_type = g->family == AF_INET ? OFFLOAD_GSO_TCPV4 : OFFLOAD_GSO_TCPV6;
			vh.csum_offset = 16;
		}
	}
	memcpy(g->buf, &vh, sizeof(vh));
	g->len = 0;
	g->segments = 0;
	g->closed = false;
	return len + OFFLOAD_VNET_HDR_LEN;
}
