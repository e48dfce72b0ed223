/* pcap: the classic pcap reader of the test tools (pcap.h). */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "pcap.h"

#define MAX_RECORD 262144

/* pcap link types (www.tcpdump.org/linktypes.html). */
#define LINKTYPE_NULL 0
#define LINKTYPE_ETHERNET 1
#define LINKTYPE_RAW_OLD 12
#define LINKTYPE_RAW_OPENBSD 14
#define LINKTYPE_RAW 101
#define LINKTYPE_LINUX_SLL 113
#define LINKTYPE_IPV4 228
#define LINKTYPE_IPV6 229
#define LINKTYPE_LINUX_SLL2 276

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8

uint16_t pcap_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get_u32(const uint8_t *p, bool swap)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return swap ? __builtin_bswap32(v) : v;
}

/* Finds the UDP payload of an IPv4 or IPv6 packet; returns 1 and sets *payload and *len
 * (the UDP header is the 8 bytes before *payload), 0 if there is none (stats say why). */
static int ip_udp_payload(const uint8_t *p, size_t caplen, struct pcap_stats *st,
			  const uint8_t **payload, size_t *len)
{
	size_t hlen, ulen;
	uint8_t next;

	if (caplen < 1)
		goto not_udp;
	if (p[0] >> 4 == 4) {
		if (caplen < 20 || (hlen = (size_t)(p[0] & 0x0f) * 4) < 20 || caplen < hlen)
			goto truncated;
		if (p[9] != IPPROTO_UDP)
			goto not_udp;
		if (pcap_be16(p + 6) & 0x3fff) /* MF or a fragment offset */
			goto fragment;
	} else if (p[0] >> 4 == 6) {
		if (caplen < 40)
			goto truncated;
		next = p[6];
		hlen = 40;
		/* Hop-by-hop, routing and destination options may precede UDP. */
		while (next == 0 || next == 43 || next == 60) {
			if (caplen < hlen + 8)
				goto truncated;
			next = p[hlen];
			hlen += ((size_t)p[hlen + 1] + 1) * 8;
		}
		if (next == 44)
			goto fragment;
		if (next != IPPROTO_UDP)
			goto not_udp;
	} else {
		goto not_udp;
	}
	if (caplen < hlen + 8)
		goto truncated;
	ulen = pcap_be16(p + hlen + 4);
	if (ulen < 8)
		goto not_udp;
	if (caplen < hlen + ulen)
		goto truncated;
	*payload = p + hlen + 8;
	*len = ulen - 8;
	return 1;

not_udp:
	st->not_udp++;
	return 0;
truncated:
	st->truncated++;
	return 0;
fragment:
	st->fragments++;
	return 0;
}

static bool linktype_known(uint32_t linktype)
{
	switch (linktype) {
	case LINKTYPE_NULL:
	case LINKTYPE_ETHERNET:
	case LINKTYPE_RAW_OLD:
	case LINKTYPE_RAW_OPENBSD:
	case LINKTYPE_RAW:
	case LINKTYPE_LINUX_SLL:
	case LINKTYPE_IPV4:
	case LINKTYPE_IPV6:
	case LINKTYPE_LINUX_SLL2:
		return true;
	default:
		return false;
	}
}

/* Strips the link-layer header; returns the offset of the IP header or -1. */
static long link_ip_offset(uint32_t linktype, const uint8_t *p, size_t caplen, bool swap)
{
	size_t off;
	uint16_t proto;
	uint32_t family;

	switch (linktype) {
	case LINKTYPE_ETHERNET:
		off = 12;
		if (caplen < off + 2)
			return -1;
		proto = pcap_be16(p + off);
		while ((proto == ETHERTYPE_VLAN || proto == ETHERTYPE_QINQ) && caplen >= off + 6) {
			off += 4;
			proto = pcap_be16(p + off);
		}
		off += 2;
		break;
	case LINKTYPE_LINUX_SLL:
		if (caplen < 16)
			return -1;
		proto = pcap_be16(p + 14);
		off = 16;
		break;
	case LINKTYPE_LINUX_SLL2:
		if (caplen < 20)
			return -1;
		proto = pcap_be16(p);
		off = 20;
		break;
	case LINKTYPE_NULL:
		/* The address family in the capturing host's byte order, the file's. */
		if (caplen < 4)
			return -1;
		family = get_u32(p, swap);
		if (family > 0xffff)
			family = __builtin_bswap32(family);
		return family == 2 || family == 10 || family == 24 || family == 28 || family == 30
			       ? 4
			       : -1;
	case LINKTYPE_RAW:
	case LINKTYPE_RAW_OLD:
	case LINKTYPE_RAW_OPENBSD:
	case LINKTYPE_IPV4:
	case LINKTYPE_IPV6:
		return 0;
	default:
		return -1;
	}
	if (proto != ETHERTYPE_IPV4 && proto != ETHERTYPE_IPV6)
		return -1;
	return (long)off;
}

int pcap_open(struct pcap *pc, const char *who, const char *path)
{
	uint8_t hdr[24];
	uint32_t magic;
	int ret;

	memset(pc, 0, sizeof(*pc));
	pc->who = who;
	pc->path = path;
	pc->f = fopen(path, "rb");
	if (!pc->f) {
		ret = -errno;
		fprintf(stderr, "%s: %s: %s\n", who, path, strerror(errno));
		return ret;
	}
	if (fread(hdr, sizeof(hdr), 1, pc->f) != 1) {
		fprintf(stderr, "%s: %s: shorter than a pcap header\n", who, path);
		ret = -EINVAL;
		goto err_close;
	}
	memcpy(&magic, hdr, sizeof(magic));
	if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d) {
		pc->swap = false;
	} else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1) {
		pc->swap = true;
	} else {
		fprintf(stderr, "%s: %s: not a classic pcap file (magic %08" PRIx32 "%s)\n", who,
			path, magic, magic == 0x0a0d0d0a ? ", pcapng" : "");
		ret = -EINVAL;
		goto err_close;
	}
	/* The top bits of the link type field carry FCS information. */
	pc->linktype = get_u32(hdr + 20, pc->swap) & 0x0fffffff;
	if (!linktype_known(pc->linktype)) {
		fprintf(stderr, "%s: %s: link type %" PRIu32 " not supported\n", who, path,
			pc->linktype);
		ret = -ENOTSUP;
		goto err_close;
	}
	pc->data = malloc(MAX_RECORD);
	if (!pc->data) {
		ret = -ENOMEM;
		goto err_close;
	}
	return 0;

err_close:
	fclose(pc->f);
	pc->f = NULL;
	return ret;
}

/* The next record into pc->data (pc->caplen bytes): 1, 0 at the end, or -EINVAL. */
int pcap_next(struct pcap *pc)
{
	uint8_t rec[16];

	if (fread(rec, sizeof(rec), 1, pc->f) != 1)
		return 0;
	pc->caplen = get_u32(rec + 8, pc->swap);
	if (pc->caplen > MAX_RECORD) {
		fprintf(stderr, "%s: %s: record %lu claims %" PRIu32 " bytes, giving up\n", pc->who,
			pc->path, pc->st.records + 1, pc->caplen);
		return -EINVAL;
	}
	if (fread(pc->data, 1, pc->caplen, pc->f) != pc->caplen) {
		/* tcpdump killed mid-write: what came before is still good. */
		fprintf(stderr, "%s: %s: record %lu cut short\n", pc->who, pc->path,
			pc->st.records + 1);
		return 0;
	}
	pc->st.records++;
	return 1;
}

/* The UDP payload of the current record: 1 and *payload, *len, or 0 (counted). */
int pcap_udp(struct pcap *pc, const uint8_t **payload, size_t *len)
{
	long off = link_ip_offset(pc->linktype, pc->data, pc->caplen, pc->swap);

	if (off < 0) {
		pc->st.not_udp++;
		return 0;
	}
	return ip_udp_payload(pc->data + off, pc->caplen - (size_t)off, &pc->st, payload, len);
}

void pcap_report(const struct pcap *pc)
{
	fprintf(stderr,
		"%s: %s: %lu records, link type %" PRIu32 ", skipped %lu not UDP, %lu fragments, "
		"%lu truncated\n",
		pc->who, pc->path, pc->st.records, pc->linktype, pc->st.not_udp, pc->st.fragments,
		pc->st.truncated);
}

void pcap_close(struct pcap *pc)
{
	free(pc->data);
	if (pc->f)
		fclose(pc->f);
}
