/* Segmentation and coalescing against a naive checksum and byte-for-byte reassembly. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "offload.h"

#define MAXSEG 128

struct segs {
	uint8_t buf[MAXSEG][2048];
	size_t len[MAXSEG];
	int n;
};

static uint8_t *alloc_seg(void *ctx, size_t len)
{
	struct segs *s = ctx;

	if (s->n == MAXSEG || len > sizeof(s->buf[0]))
		return NULL;
	s->len[s->n] = len;
	return s->buf[s->n++];
}

/* The RFC 1071 sum, one 16-bit word at a time: deliberately nothing like offload.c's. */
static uint32_t naive_sum(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t naive_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint32_t naive_pseudo(const uint8_t *ip, int v6, uint8_t proto, size_t l4len)
{
	uint32_t sum = v6 ? naive_sum(ip + 8, 32, 0) : naive_sum(ip + 12, 8, 0);

	return sum + proto + (uint32_t)(l4len >> 16) + (uint32_t)(l4len & 0xffff);
}

/* A packet whose L4 checksum is right sums to 0xffff with its pseudo-header. */
static void assert_l4_ok(const uint8_t *pkt, size_t len, int v6, uint8_t proto)
{
	size_t ihl = v6 ? 40 : (size_t)(pkt[0] & 15) * 4;

	assert_int_equal(naive_fold(naive_sum(pkt + ihl, len - ihl,
					      naive_pseudo(pkt, v6, proto, len - ihl))),
			 0xffff);
	if (!v6)
		assert_int_equal(naive_fold(naive_sum(pkt, ihl, 0)), 0xffff);
}

static size_t build(uint8_t *pkt, int v6, uint8_t proto, size_t payload, uint8_t tcpflags,
		    unsigned seed)
{
	size_t ihl = v6 ? 40 : 20, l4 = proto == IPPROTO_TCP ? 32 : 8, len = ihl + l4 + payload;

	memset(pkt, 0, ihl + l4);
	if (v6) {
		pkt[0] = 0x60;
		pkt[4] = (uint8_t)((len - 40) >> 8);
		pkt[5] = (uint8_t)(len - 40);
		pkt[6] = proto;
		pkt[7] = 64;
		inet_pton(AF_INET6, "fd00:64::1", pkt + 8);
		inet_pton(AF_INET6, "fd00:64::2", pkt + 24);
	} else {
		pkt[0] = 0x45;
		pkt[2] = (uint8_t)(len >> 8);
		pkt[3] = (uint8_t)len;
		pkt[4] = 0x12;
		pkt[5] = 0x34;
		pkt[6] = 0x40; /* DF */
		pkt[8] = 64;
		pkt[9] = proto;
		inet_pton(AF_INET, "100.64.0.1", pkt + 12);
		inet_pton(AF_INET, "100.64.0.2", pkt + 16);
	}
	pkt[ihl] = 0x9c;
	pkt[ihl + 1] = 0x40; /* 40000 */
	pkt[ihl + 2] = 0x14;
	pkt[ihl + 3] = 0x51; /* 5201 */
	if (proto == IPPROTO_TCP) {
		pkt[ihl + 4] = 0xff; /* seq near the wrap */
		pkt[ihl + 5] = 0xff;
		pkt[ihl + 6] = 0xf0;
		pkt[ihl + 8] = 0x01;  /* ack */
		pkt[ihl + 12] = 0x80; /* doff 8: 12 bytes of options */
		pkt[ihl + 13] = tcpflags;
		pkt[ihl + 14] = 0x01;
		pkt[ihl + 20] = 1;
		pkt[ihl + 21] = 1;
		pkt[ihl + 22] = 8; /* timestamps */
		pkt[ihl + 23] = 10;
		pkt[ihl + 27] = 0x42;
	} else {
		pkt[ihl + 4] = (uint8_t)((len - ihl) >> 8);
		pkt[ihl + 5] = (uint8_t)(len - ihl);
	}
	srand(seed);
	for (size_t i = 0; i < payload; i++)
		pkt[ihl + l4 + i] = (uint8_t)rand();
	if (!v6) {
		uint16_t c = (uint16_t)~naive_fold(naive_sum(pkt, 20, 0));

		pkt[10] = (uint8_t)(c >> 8);
		pkt[11] = (uint8_t)c;
	}
	return len;
}

static void check_segmentation(int v6, uint8_t proto, size_t payload, uint16_t mss)
{
	static uint8_t pkt[70000], again[70000];
	static struct segs s;
	struct offload_vnet_hdr vh = { .flags = OFFLOAD_F_NEEDS_CSUM, .gso_size = mss };
	size_t ihl = v6 ? 40 : 20, l4 = proto == IPPROTO_TCP ? 32 : 8, len, off = 0;
	int n;

	vh.gso_type = proto == IPPROTO_UDP ? OFFLOAD_GSO_UDP_L4
		      : v6                 ? OFFLOAD_GSO_TCPV6
					   : OFFLOAD_GSO_TCPV4;
	len = build(pkt, v6, proto, payload, 0x18 | 0x01 | 0x80 /* PSH ACK FIN CWR */, 7);
	s.n = 0;
	n = offload_segment(&vh, pkt, len, alloc_seg, &s);
	assert_int_equal(n, (int)((payload + mss - 1) / mss));
	for (int i = 0; i < n; i++) {
		const uint8_t *g = s.buf[i];
		size_t glen = s.len[i], chunk = glen - ihl - l4;

		assert_true(chunk == mss || (i == n - 1 && chunk <= mss));
		assert_l4_ok(g, glen, v6, proto);
		if (v6) {
			assert_int_equal(g[4] << 8 | g[5], glen - 40);
		} else {
			assert_int_equal(g[2] << 8 | g[3], glen);
			assert_int_equal(g[4] << 8 | g[5], 0x1234 + i);
		}
		if (proto == IPPROTO_TCP) {
			uint32_t seq = (uint32_t)g[ihl + 4] << 24 | (uint32_t)g[ihl + 5] << 16 |
				       (uint32_t)g[ihl + 6] << 8 | g[ihl + 7];

			assert_int_equal(seq, (uint32_t)(0xfffff000u + off));
			/* FIN and PSH only on the last, CWR only on the first */
			assert_int_equal(!!(g[ihl + 13] & 0x09), i == n - 1);
			assert_int_equal(!!(g[ihl + 13] & 0x80), i == 0);
			/* options copied untouched */
			assert_memory_equal(g + ihl + 20, pkt + ihl + 20, 12);
		} else {
			assert_int_equal(g[ihl + 4] << 8 | g[ihl + 5], glen - ihl);
		}
		memcpy(again + off, g + ihl + l4, chunk);
		off += chunk;
	}
	assert_int_equal(off, payload);
	assert_memory_equal(again, pkt + ihl + l4, payload);
}

static void test_tso4(void **state)
{
	check_segmentation(0, IPPROTO_TCP, 64000, 1368);
	check_segmentation(0, IPPROTO_TCP, 1368 * 3, 1368); /* exact multiple */
	check_segmentation(0, IPPROTO_TCP, 1, 1368);
	check_segmentation(0, IPPROTO_TCP, 1367, 1368);
}

static void test_tso6(void **state)
{
	check_segmentation(1, IPPROTO_TCP, 65000, 1348);
	check_segmentation(1, IPPROTO_TCP, 2697, 1348);
}

static void test_uso(void **state)
{
	check_segmentation(0, IPPROTO_UDP, 30000, 1392);
	check_segmentation(1, IPPROTO_UDP, 30001, 1372);
	check_segmentation(0, IPPROTO_UDP, 64 * 20, 64);
}

static void test_segment_rejects(void **state)
{
	static uint8_t pkt[4096];
	static struct segs s;
	struct offload_vnet_hdr vh = { .gso_type = OFFLOAD_GSO_TCPV4, .gso_size = 1000 };
	size_t len = build(pkt, 0, IPPROTO_TCP, 3000, 0x10, 1);

	vh.gso_size = 0;
	assert_int_equal(offload_segment(&vh, pkt, len, alloc_seg, &s), -EINVAL);
	vh.gso_size = 1000;
	vh.gso_type = OFFLOAD_GSO_TCPV6; /* says v6, is v4 */
	assert_int_equal(offload_segment(&vh, pkt, len, alloc_seg, &s), -EINVAL);
	vh.gso_type = OFFLOAD_GSO_UDP_L4; /* says UDP, is TCP */
	assert_int_equal(offload_segment(&vh, pkt, len, alloc_seg, &s), -EINVAL);
	vh.gso_type = 3; /* UFO: never split here */
	assert_int_equal(offload_segment(&vh, pkt, len, alloc_seg, &s), -EINVAL);
	vh.gso_type = OFFLOAD_GSO_TCPV4;
	assert_int_equal(offload_segment(&vh, pkt, 30, alloc_seg, &s), -EINVAL); /* truncated */
	pkt[6] |= 0x20; /* more fragments */
	assert_int_equal(offload_segment(&vh, pkt, len, alloc_seg, &s), -EINVAL);
}

/* Random headers and bytes: never a crash, never a segment outside the input's bounds. */
static void test_segment_garbage(void **state)
{
	static uint8_t pkt[2048];
	static struct segs s;
	struct offload_vnet_hdr vh;

	srand(42);
	for (int round = 0; round < 20000; round++) {
		size_t len = (size_t)rand() % sizeof(pkt);

		for (size_t i = 0; i < len; i++)
			pkt[i] = (uint8_t)rand();
		if (round & 1)
			pkt[0] = (uint8_t)((round & 2 ? 0x40 : 0x60) | (pkt[0] & 15));
		vh.gso_type = (uint8_t)(rand() % 7);
		vh.gso_size = (uint16_t)(rand() % 1500);
		vh.flags = (uint8_t)rand();
		vh.csum_start = (uint16_t)(rand() % 2100);
		vh.csum_offset = (uint16_t)(rand() % 40);
		s.n = 0;
		offload_segment(&vh, pkt, len, alloc_seg, &s);
		offload_complete_csum(&vh, pkt, len);
	}
}

/* Every summing path against the naive sum: each length to 300 and then in steps to 2100
 * (every tail, every vector-width remainder), at each of 8 alignments, random bytes and
 * all-ones (the most carries), a running sum handed in, and one whole 64 KiB packet. */
static void check_csum_impl(void)
{
	static uint8_t buf[65535 + 8];
	uint64_t start = 0x1234567;

	for (int pattern = 0; pattern < 2; pattern++) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = pattern ? 0xff : (uint8_t)rand();
		for (size_t len = 0; len <= 2100; len += len < 300 ? 1 : 37) {
			for (size_t off = 0; off < 8; off++) {
				uint32_t want = naive_sum(buf + off, len, (uint32_t)start);

				assert_int_equal(offload_csum_fold(
							 offload_csum_add(start, buf + off, len)),
						 naive_fold(want));
			}
		}
		assert_int_equal(offload_csum_fold(offload_csum_add(0, buf + 3, 65535)),
				 naive_fold(naive_sum(buf + 3, 65535, 0)));
	}
}

static void test_csum_impls(void **state)
{
	const enum offload_csum_impl all[] = { OFFLOAD_CSUM_SCALAR, OFFLOAD_CSUM_SSE2,
					       OFFLOAD_CSUM_AVX2 };
	const char *const names[] = { "scalar", "sse2", "avx2" };
	const char *chosen = offload_csum_name();
	enum offload_csum_impl best = OFFLOAD_CSUM_SCALAR;
	int ran = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (offload_csum_use(all[i]) < 0) {
			print_message("checksum path %d: not on this machine\n", (int)all[i]);
			continue;
		}
		assert_string_equal(offload_csum_name(), names[i]);
		check_csum_impl();
		best = all[i];
		ran++;
	}
	assert_true(ran >= 1);
#if defined(__x86_64__)
	/* x86-64 always has SSE2, and the start picks the widest path the CPU has. */
	assert_true(ran >= 2);
#endif
	assert_int_equal(offload_csum_use(best), 0);
	assert_string_equal(offload_csum_name(), chosen);
	assert_int_equal(offload_csum_use((enum offload_csum_impl)99), -ENOTSUP);
	assert_string_equal(offload_csum_name(), chosen);
}

static void test_complete_csum(void **state)
{
	static uint8_t pkt[3000];
	size_t len = build(pkt, 0, IPPROTO_TCP, 2000, 0x18, 3);
	struct offload_vnet_hdr vh = { .flags = OFFLOAD_F_NEEDS_CSUM,
				       .csum_start = 20,
				       .csum_offset = 16 };
	uint16_t partial = naive_fold(naive_pseudo(pkt, 0, IPPROTO_TCP, len - 20));

	/* What the kernel leaves: the pseudo-header sum in the field, not complemented. */
	pkt[36] = (uint8_t)(partial >> 8);
	pkt[37] = (uint8_t)partial;
	assert_int_equal(offload_complete_csum(&vh, pkt, len), 0);
	assert_l4_ok(pkt, len, 0, IPPROTO_TCP);
	vh.csum_start = (uint16_t)len;
	assert_int_equal(offload_complete_csum(&vh, pkt, len), -EINVAL);
}

/* Splits the super-packet pkt as the TUN hands it over, feeds every segment to g (each
 * must join) and finishes g: the whole must come back, vnet header in front. Returns the
 * number of segments; *out is the vnet header written. */
static int segment_and_coalesce(const struct offload_vnet_hdr *vh, const uint8_t *pkt, size_t len,
				struct offload_gro *g, struct offload_vnet_hdr *out)
{
	static struct segs s;
	int n;

	s.n = 0;
	n = offload_segment(vh, pkt, len, alloc_seg, &s);
	for (int i = 0; i < n; i++)
		assert_true(offload_gro_add(g, s.buf[i], s.len[i]));
	assert_int_equal(offload_gro_finish(g), OFFLOAD_VNET_HDR_LEN + len);
	memcpy(out, g->buf, sizeof(*out));
	return n;
}

static void check_gro_roundtrip(int v6)
{
	static uint8_t pkt[70000], grobuf[OFFLOAD_VNET_HDR_LEN + OFFLOAD_MAX_PACKET];
	struct offload_gro g = { .buf = grobuf };
	struct offload_vnet_hdr vh = { .gso_size = 1368 }, out;
	size_t ihl = v6 ? 40 : 20, len, payload = 40000;
	uint8_t *o = grobuf + OFFLOAD_VNET_HDR_LEN;

	vh.gso_type = v6 ? OFFLOAD_GSO_TCPV6 : OFFLOAD_GSO_TCPV4;
	len = build(pkt, v6, IPPROTO_TCP, payload, 0x18, 9);
	assert_true(segment_and_coalesce(&vh, pkt, len, &g, &out) > 20);
	assert_int_equal(out.gso_type, vh.gso_type);
	assert_int_equal(out.gso_size, 1368);
	assert_int_equal(out.flags, OFFLOAD_F_NEEDS_CSUM);
	assert_int_equal(out.csum_start, ihl);
	assert_int_equal(out.csum_offset, 16);
	assert_int_equal(out.hdr_len, ihl + 32);
	assert_memory_equal(o + ihl + 32, pkt + ihl + 32, payload);
	/* lengths of the whole, PSH of the last segment kept, the pseudo sum in the field */
	if (v6) {
		assert_int_equal(o[4] << 8 | o[5], len - 40);
	} else {
		assert_int_equal(o[2] << 8 | o[3], len);
		assert_int_equal(naive_fold(naive_sum(o, 20, 0)), 0xffff);
	}
	assert_true(o[ihl + 13] & 0x08);
	assert_int_equal(o[ihl + 16] << 8 | o[ihl + 17],
			 naive_fold(naive_pseudo(o, v6, IPPROTO_TCP, len - ihl)));
	assert_int_equal(g.len, 0);
}

static void test_gro_roundtrip(void **state)
{
	check_gro_roundtrip(0);
	check_gro_roundtrip(1);
}

static void test_gro_refuses(void **state)
{
	static uint8_t a[3000], b[3000], grobuf[OFFLOAD_VNET_HDR_LEN + OFFLOAD_MAX_PACKET];
	struct offload_gro g = { .buf = grobuf };
	size_t la = build(a, 0, IPPROTO_TCP, 1000, 0x10, 1), lb;

	assert_true(offload_gro_add(&g, a, la));
	/* the next segment in sequence joins */
	lb = build(b, 0, IPPROTO_TCP, 1000, 0x10, 2);
	b[27] = (uint8_t)(b[27] + 0xe8); /* seq + 1000: 0xfffff000 + 0x3e8 */
	b[26] = (uint8_t)(b[26] + 0x03);
	assert_true(offload_gro_add(&g, b, lb));
	/* a gap does not */
	assert_false(offload_gro_add(&g, b, lb));
	/* another port does not */
	lb = build(b, 0, IPPROTO_TCP, 1000, 0x10, 2);
	b[20 + 3] = 0x52;
	assert_false(offload_gro_add(&g, b, lb));
	assert_int_equal(offload_gro_finish(&g), OFFLOAD_VNET_HDR_LEN + la + 1000);

	/* SYN, FIN, RST, pure ACK, IPv4 options: never candidates */
	lb = build(b, 0, IPPROTO_TCP, 100, 0x12, 2);
	assert_false(offload_gro_candidate(b, lb));
	lb = build(b, 0, IPPROTO_TCP, 100, 0x11, 2);
	assert_false(offload_gro_candidate(b, lb));
	lb = build(b, 0, IPPROTO_TCP, 100, 0x14, 2);
	assert_false(offload_gro_candidate(b, lb));
	lb = build(b, 0, IPPROTO_TCP, 0, 0x10, 2);
	assert_false(offload_gro_candidate(b, lb));
	lb = build(b, 0, IPPROTO_TCP, 100, 0x10, 2);
	b[0] = 0x46;
	assert_false(offload_gro_candidate(b, lb));

	/* a single segment goes out as itself, marked valid */
	la = build(a, 0, IPPROTO_TCP, 500, 0x18, 1);
	assert_true(offload_gro_add(&g, a, la));
	assert_false(offload_gro_add(&g, a, la)); /* PSH closed it */
	assert_int_equal(offload_gro_finish(&g), OFFLOAD_VNET_HDR_LEN + la);
	assert_int_equal(grobuf[0], OFFLOAD_F_DATA_VALID);
	assert_int_equal(grobuf[1], OFFLOAD_GSO_NONE);
	assert_memory_equal(grobuf + OFFLOAD_VNET_HDR_LEN, a, la);
	assert_int_equal(offload_gro_finish(&g), 0);
}

/* Datagrams of one UDP flow and size, as a USO sender's segments arrive, become one UDP_L4
 * super-packet again; at most OFFLOAD_GRO_MAX_SEGMENTS of them. */
static void check_udp_gro_roundtrip(int v6)
{
	static uint8_t pkt[70000], grobuf[OFFLOAD_VNET_HDR_LEN + OFFLOAD_MAX_PACKET];
	static struct segs s;
	struct offload_gro g = { .buf = grobuf, .udp = true };
	struct offload_vnet_hdr vh = { .gso_type = OFFLOAD_GSO_UDP_L4, .gso_size = 64 }, out;
	size_t ihl = v6 ? 40 : 20, len, payload = 64 * 40 + 17;
	uint8_t *o = grobuf + OFFLOAD_VNET_HDR_LEN;

	len = build(pkt, v6, IPPROTO_UDP, payload, 0, 5);
	assert_int_equal(segment_and_coalesce(&vh, pkt, len, &g, &out), 41);
	assert_int_equal(out.gso_type, OFFLOAD_GSO_UDP_L4);
	assert_int_equal(out.gso_size, 64);
	assert_int_equal(out.flags, OFFLOAD_F_NEEDS_CSUM);
	assert_int_equal(out.csum_start, ihl);
	assert_int_equal(out.csum_offset, 6);
	assert_int_equal(out.hdr_len, ihl + 8);
	assert_memory_equal(o + ihl + 8, pkt + ihl + 8, payload);
	assert_memory_equal(o + ihl, pkt + ihl, 4);
	if (v6) {
		assert_int_equal(o[4] << 8 | o[5], len - 40);
	} else {
		assert_int_equal(o[2] << 8 | o[3], len);
		assert_int_equal(naive_fold(naive_sum(o, 20, 0)), 0xffff);
	}
	/* the UDP length of the whole, and the pseudo sum over it in the checksum field */
	assert_int_equal(o[ihl + 4] << 8 | o[ihl + 5], len - ihl);
	assert_int_equal(o[ihl + 6] << 8 | o[ihl + 7],
			 naive_fold(naive_pseudo(o, v6, IPPROTO_UDP, len - ihl)));

	/* a train of 100 stops taking datagrams at the limit */
	len = build(pkt, v6, IPPROTO_UDP, 64 * 100, 0, 6);
	s.n = 0;
	assert_int_equal(offload_segment(&vh, pkt, len, alloc_seg, &s), 100);
	for (int i = 0; i < 100; i++)
		assert_int_equal(offload_gro_add(&g, s.buf[i], s.len[i]),
				 i < OFFLOAD_GRO_MAX_SEGMENTS);
	assert_int_equal(offload_gro_finish(&g),
			 OFFLOAD_VNET_HDR_LEN + ihl + 8 + 64 * OFFLOAD_GRO_MAX_SEGMENTS);
}

static void test_udp_gro_roundtrip(void **state)
{
	check_udp_gro_roundtrip(0);
	check_udp_gro_roundtrip(1);
}

static void test_udp_gro_refuses(void **state)
{
	static uint8_t a[3000], b[3000], grobuf[OFFLOAD_VNET_HDR_LEN + OFFLOAD_MAX_PACKET];
	struct offload_gro g = { .buf = grobuf };
	size_t la = build(a, 0, IPPROTO_UDP, 100, 0, 1), lb;

	/* only when the TUN takes UDP super-packets */
	assert_true(offload_gro_candidate(a, la));
	assert_false(offload_gro_add(&g, a, la));
	g.udp = true;
	assert_true(offload_gro_add(&g, a, la));
	/* same flow and size joins; larger, other port, other protocol, other family do not */
	lb = build(b, 0, IPPROTO_UDP, 100, 0, 2);
	assert_true(offload_gro_add(&g, b, lb));
	lb = build(b, 0, IPPROTO_UDP, 101, 0, 2);
	assert_false(offload_gro_add(&g, b, lb));
	lb = build(b, 0, IPPROTO_UDP, 100, 0, 2);
	b[20 + 1] = 0x41;
	assert_false(offload_gro_add(&g, b, lb));
	lb = build(b, 0, IPPROTO_TCP, 100, 0x10, 2);
	assert_false(offload_gro_add(&g, b, lb));
	lb = build(b, 1, IPPROTO_UDP, 100, 0, 2);
	assert_false(offload_gro_add(&g, b, lb));
	/* IPv4 TTL differs: the kernel would give every datagram the first one's header */
	lb = build(b, 0, IPPROTO_UDP, 100, 0, 2);
	b[8] = 63;
	assert_false(offload_gro_add(&g, b, lb));
	/* a shorter one joins and ends the train */
	lb = build(b, 0, IPPROTO_UDP, 60, 0, 3);
	assert_true(offload_gro_add(&g, b, lb));
	lb = build(b, 0, IPPROTO_UDP, 60, 0, 3);
	assert_false(offload_gro_add(&g, b, lb));
	assert_int_equal(offload_gro_finish(&g), OFFLOAD_VNET_HDR_LEN + la + 100 + 60);

	/* fragments, IPv4 options, a UDP length that disagrees, no payload: never candidates */
	lb = build(b, 0, IPPROTO_UDP, 100, 0, 2);
	b[6] = 0x20;
	assert_false(offload_gro_candidate(b, lb));
	lb = build(b, 0, IPPROTO_UDP, 100, 0, 2);
	b[0] = 0x46;
	assert_false(offload_gro_candidate(b, lb));
	lb = build(b, 0, IPPROTO_UDP, 100, 0, 2);
	b[20 + 5]++;
	assert_false(offload_gro_candidate(b, lb));
	lb = build(b, 0, IPPROTO_UDP, 0, 0, 2);
	assert_false(offload_gro_candidate(b, lb));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tso4),
		cmocka_unit_test(test_tso6),
		cmocka_unit_test(test_uso),
		cmocka_unit_test(test_segment_rejects),
		cmocka_unit_test(test_segment_garbage),
		cmocka_unit_test(test_complete_csum),
		cmocka_unit_test(test_csum_impls),
		cmocka_unit_test(test_gro_roundtrip),
		cmocka_unit_test(test_gro_refuses),
		cmocka_unit_test(test_udp_gro_roundtrip),
		cmocka_unit_test(test_udp_gro_refuses),
	};

	return cmocka_run_group_tests_name("offload", tests, NULL, NULL);
}
