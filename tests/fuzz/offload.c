/* The offloads (offload.c) on arbitrary bytes: segmentation of what a TUN with vnet headers
 * hands us, and coalescing of what we write to it. Each segment and the coalesced packet get
 * a buffer of exactly their size, so ASan sees any write past it.
 *
 * The first byte picks the mode:
 *   even: offload_segment() on a 10-byte vnet header and the rest as the packet, then
 *         offload_complete_csum() on the packet as it is (a TUN packet without GSO)
 *   odd:  offload_gro_add() on a sequence of packets (16-bit little-endian length, then the
 *         bytes), flushed with offload_gro_finish() whenever one does not fit, as
 *         tun_deliver() does; bit 1 of that byte says whether UDP may be coalesced (USO)
 *
 * Beyond the sanitizers, the results are checked against this file's own naive arithmetic:
 * every segment carries correct IPv4 and TCP/UDP checksums, lengths and TCP sequence numbers,
 * the segments' payloads put together are the original payload, and a coalesced packet is the first packet's headers
 * in front of every added payload, with a valid partial checksum and a consistent vnet
 * header. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "offload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Enough for a 64 KB packet in 1-byte segments would be too slow to check; the datapath's
 * batch runs out long before, and so does this. */
#define MAX_SEGMENTS 512

struct segments {
	uint8_t *buf[MAX_SEGMENTS];
	size_t len[MAX_SEGMENTS];
	int n;
};

static void broken(const char *what, int i)
{
	fprintf(stderr, "offload: %s (segment or packet %d)\n", what, i);
	abort();
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* RFC 1071, one 16-bit word at a time. */
static uint32_t naive_sum(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

static uint32_t naive_pseudo(const uint8_t *ip, bool v6, uint8_t proto, size_t l4len)
{
	uint32_t sum = v6 ? naive_sum(ip + 8, 32, 0) : naive_sum(ip + 12, 8, 0);

	return naive_sum(NULL, 0,
			 sum + proto + (uint32_t)(l4len >> 16) + (uint32_t)(l4len & 0xffff));
}

static uint8_t *alloc_seg(void *ctx, size_t len)
{
	struct segments *s = ctx;

	if (s->n == MAX_SEGMENTS)
		return NULL;
	s->buf[s->n] = malloc(len ? len : 1);
	if (!s->buf[s->n])
		abort();
	s->len[s->n] = len;
	return s->buf[s->n++];
}

/* The headers as the checks see them: independent of offload.c's parser. */
struct hdrs {
	bool v6;
	uint8_t proto;
	size_t iphlen, hdrlen;
};

static bool parse(const uint8_t *pkt, size_t len, struct hdrs *h)
{
	if (len < 20)
		return false;
	h->v6 = pkt[0] >> 4 == 6;
	h->iphlen = h->v6 ? 40 : (size_t)(pkt[0] & 15) * 4;
	if (len < h->iphlen + 8)
		return false;
	h->proto = h->v6 ? pkt[6] : pkt[9];
	if (h->proto == IPPROTO_TCP) {
		if (len < h->iphlen + 20)
			return false;
		h->hdrlen = h->iphlen + (size_t)(pkt[h->iphlen + 12] >> 4) * 4;
	} else {
		h->hdrlen = h->iphlen + 8;
	}
	return h->hdrlen <= len;
}

static void check_segments(const struct offload_vnet_hdr *vh, const uint8_t *pkt, size_t len,
			   const struct segments *s)
{
	struct hdrs h;
	size_t off = 0, payload;

	if (!parse(pkt, len, &h))
		broken("segmented a packet that has no headers", -1);
	payload = len - h.hdrlen;
	for (int i = 0; i < s->n; i++) {
		const uint8_t *seg = s->buf[i];
		size_t seglen = s->len[i], chunk = seglen - h.hdrlen, l4len = seglen - h.iphlen;

		if (seglen < h.hdrlen || chunk > vh->gso_size || off + chunk > payload)
			broken("segment of the wrong size", i);
		if (i + 1 < s->n && chunk != vh->gso_size)
			broken("short segment before the last", i);
		if (memcmp(seg + h.hdrlen, pkt + h.hdrlen + off, chunk))
			broken("segment payload is not the packet's", i);
		if (h.proto == 6 &&
		    get32(seg + h.iphlen + 4) != (uint32_t)(get32(pkt + h.iphlen + 4) + off))
			broken("TCP sequence number", i);
		off += chunk;
		if (seglen > 65535)
			continue; /* lengths do not fit the headers: nothing to check */
		if (h.v6 ? get16(seg + 4) != seglen - 40 : get16(seg + 2) != seglen)
			broken("IP length", i);
		if (!h.v6 && naive_sum(seg, h.iphlen, 0) != 0xffff)
			broken("IPv4 header checksum", i);
		if (h.proto == 17 && get16(seg + h.iphlen + 4) != l4len)
			broken("UDP length", i);
		if (naive_sum(seg + h.iphlen, l4len, naive_pseudo(seg, h.v6, h.proto, l4len)) !=
		    0xffff)
			broken("L4 checksum", i);
	}
	if (s->n < MAX_SEGMENTS && off != payload)
		broken("segments do not add up to the payload", s->n);
}

static void segment(const uint8_t *data, size_t size)
{
	struct offload_vnet_hdr vh;
	struct segments s = { .n = 0 };
	uint8_t *pkt;
	size_t len;
	int n;

	if (size < sizeof(vh))
		return;
	memcpy(&vh, data, sizeof(vh));
	len = size - sizeof(vh);
	pkt = malloc(len ? len : 1);
	if (!pkt)
		abort();
	memcpy(pkt, data + sizeof(vh), len);
	n = offload_segment(&vh, pkt, len, alloc_seg, &s);
	if (n > 0) {
		if (n != s.n)
			broken("count is not the segments handed out", n);
		check_segments(&vh, pkt, len, &s);
	} else if (s.n) {
		broken("failed after writing segments", s.n);
	}
	for (int i = 0; i < s.n; i++)
		free(s.buf[i]);
	offload_complete_csum(&vh, pkt, len);
	free(pkt);
}

/* What went into the current GRO train, to compare with what comes out. */
struct train {
	uint8_t *first; /* the first packet */
	size_t first_len;
	uint8_t *payload;
	size_t payload_len;
	int packets;
	struct hdrs h;
};

static void check_finish(struct offload_gro *g, struct train *t)
{
	struct offload_vnet_hdr vh;
	size_t n = g->len, out = offload_gro_finish(g), len;
	const uint8_t *pkt = g->buf + OFFLOAD_VNET_HDR_LEN;

	if (!t->packets) {
		if (n || out)
			broken("finish of an empty train", 0);
		return;
	}
	if (out != n + OFFLOAD_VNET_HDR_LEN || g->len)
		broken("finish length", t->packets);
	len = out - OFFLOAD_VNET_HDR_LEN;
	memcpy(&vh, g->buf, sizeof(vh));
	if (len != t->h.hdrlen + t->payload_len ||
	    memcmp(pkt + t->h.hdrlen, t->payload, t->payload_len))
		broken("coalesced payload", t->packets);
	if (t->packets == 1) {
		if (vh.flags != OFFLOAD_F_DATA_VALID || vh.gso_type != OFFLOAD_GSO_NONE ||
		    memcmp(pkt, t->first, t->first_len))
			broken("a train of one is not the packet as it came", 1);
	} else {
		size_t l4len = len - t->h.iphlen;

		bool udp = t->h.proto == 17;
		uint8_t gso = udp       ? OFFLOAD_GSO_UDP_L4
			      : t->h.v6 ? OFFLOAD_GSO_TCPV6
					: OFFLOAD_GSO_TCPV4;

		if (vh.flags != OFFLOAD_F_NEEDS_CSUM || vh.gso_type != gso ||
		    vh.hdr_len != t->h.hdrlen || vh.csum_start != t->h.iphlen ||
		    vh.csum_offset != (udp ? 6 : 16) || vh.gso_size == 0 ||
		    vh.gso_size != t->first_len - t->h.hdrlen)
			broken("vnet header", t->packets);
		if (udp && (t->packets > OFFLOAD_GRO_MAX_SEGMENTS ||
			    get16(pkt + t->h.iphlen + 4) != l4len))
			broken("UDP train", t->packets);
		if (t->h.v6 ? get16(pkt + 4) != len - 40 : get16(pkt + 2) != len)
			broken("IP length", t->packets);
		if (!t->h.v6 && naive_sum(pkt, t->h.iphlen, 0) != 0xffff)
			broken("IPv4 header checksum", t->packets);
		/* CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum. */
		if (get16(pkt + t->h.iphlen + (udp ? 6 : 16)) !=
		    naive_pseudo(pkt, t->h.v6, t->h.proto, l4len))
			broken("partial checksum", t->packets);
		/* Ports (and TCP's sequence number) and addresses are the first packet's. */
		if (memcmp(pkt + t->h.iphlen, t->first + t->h.iphlen, udp ? 4 : 8) ||
		    memcmp(pkt + (t->h.v6 ? 8 : 12), t->first + (t->h.v6 ? 8 : 12),
			   t->h.v6 ? 32 : 8))
			broken("headers are not the first packet's", t->packets);
	}
	free(t->first);
	free(t->payload);
	memset(t, 0, sizeof(*t));
}

static bool add(struct offload_gro *g, struct train *t, const uint8_t *pkt, size_t len)
{
	struct hdrs h;

	if (!offload_gro_add(g, pkt, len))
		return false;
	if (!parse(pkt, len, &h) || (h.proto != 6 && !(h.proto == 17 && g->udp)))
		broken("took a packet that is neither TCP nor (with USO) UDP", t->packets);
	if (t->packets && h.proto != t->h.proto)
		broken("mixed protocols in one train", t->packets);
	if (!t->packets) {
		t->first = malloc(len);
		t->payload = malloc(OFFLOAD_MAX_PACKET);
		if (!t->first || !t->payload)
			abort();
		memcpy(t->first, pkt, len);
		t->first_len = len;
		t->h = h;
	}
	if (t->payload_len + len - h.hdrlen > OFFLOAD_MAX_PACKET)
		broken("train longer than a packet", t->packets);
	memcpy(t->payload + t->payload_len, pkt + h.hdrlen, len - h.hdrlen);
	t->payload_len += len - h.hdrlen;
	t->packets++;
	return true;
}

static void coalesce(const uint8_t *data, size_t size, bool udp)
{
	struct fuzz_input in = { data, size };
	struct offload_gro g = { .udp = udp };
	struct train t = { 0 };

	g.buf = malloc(OFFLOAD_VNET_HDR_LEN + OFFLOAD_MAX_PACKET);
	if (!g.buf)
		abort();
	while (in.left) {
		size_t len;
		const uint8_t *p = fuzz_bytes(&in, fuzz_u16(&in), &len);
		uint8_t *pkt = malloc(len ? len : 1);

		if (!pkt)
			abort();
		memcpy(pkt, p, len);
		if (!add(&g, &t, pkt, len) && g.len) {
			check_finish(&g, &t);
			add(&g, &t, pkt, len);
		}
		offload_gro_candidate(pkt, len);
		free(pkt);
	}
	check_finish(&g, &t);
	free(g.buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	if (data[0] & 1)
		coalesce(data + 1, size - 1, data[0] & 2);
	else
		segment(data + 1, size - 1);
	return 0;
}
