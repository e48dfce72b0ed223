/*
 * check reads a capture and verifies that every UDP payload is a well-formed WireGuard
 * message to or from one of the PORTs (type 1..4, bytes 1..3 zero, 148/92/64 bytes or a
 * transport message of 32 + 16n bytes, or 32 + MTU bytes, never more) and that MARKER
 * occurs in no captured byte.  It
 * prints one "check:" line of counts and exits 1 if anything was wrong or unverifiable.
 * "largest" is the longest message; the MTU bound also shows that each datagram was captured
 * as it went on the wire, not as a segmentation-offload train.
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../pcap.h"
#include "udpfuzz.h"

struct check_stats {
	unsigned long types[5]; /* by message type, 0 unused */
	unsigned long malformed, other_udp, marker;
	size_t largest;
};

static bool port_listed(const unsigned long *ports, unsigned nports, unsigned long port)
{
	unsigned i;

	for (i = 0; i < nports; i++)
		if (ports[i] == port)
			return true;
	return false;
}

/* Well-formed as WireGuard sends it: the type, zero reserved bytes and the type's size.
 * Transport messages are 32 bytes of header and tag around a packet padded to a multiple of
 * 16, but never past the MTU (whitepaper §5.4.6): 32 + 16n, or exactly 32 + MTU. */
static bool wg_well_formed(const uint8_t *p, size_t len, size_t mtu)
{
	if (len < 4 || p[1] || p[2] || p[3])
		return false;
	switch (p[0]) {
	case MSG_INITIATION:
		return len == SIZE_INITIATION;
	case MSG_RESPONSE:
		return len == SIZE_RESPONSE;
	case MSG_COOKIE:
		return len == SIZE_COOKIE;
	case MSG_TRANSPORT:
		return len >= SIZE_TRANSPORT_MIN && len <= SIZE_TRANSPORT_MIN + mtu &&
		       ((len - SIZE_TRANSPORT_MIN) % MESSAGE_PADDING_MULTIPLE == 0 ||
			len == SIZE_TRANSPORT_MIN + mtu);
	default:
		return false;
	}
}

int check_run(const char *path, const char *portlist, const char *marker, size_t mtu)
{
	unsigned long ports[8], sport, dport;
	struct check_stats cs = { 0 };
	const uint8_t *payload;
	size_t len, mlen = strlen(marker);
	unsigned nports = 0, shown = 0;
	char *copy, *tok, *save;
	const char *why;
	struct pcap pc;
	int ret;

	copy = strdup(portlist);
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (nports == 8 || !parse_ulong(tok, 65535, &ports[nports]) || !ports[nports]) {
			free(copy);
			usage();
		}
		nports++;
	}
	free(copy);
	if (!nports || !mlen)
		usage();
	ret = pcap_open(&pc, progname, path);
	if (ret)
		return ret;
	while ((ret = pcap_next(&pc)) > 0) {
		why = NULL;
		if (pcap_udp(&pc, &payload, &len)) {
			sport = pcap_be16(payload - 8);
			dport = pcap_be16(payload - 6);
			if (!port_listed(ports, nports, sport) &&
			    !port_listed(ports, nports, dport)) {
				cs.other_udp++;
				why = "UDP neither to nor from the WireGuard ports";
			} else if (!wg_well_formed(payload, len, mtu)) {
				cs.malformed++;
				why = "UDP payload is not a well-formed WireGuard message";
			} else {
				cs.types[payload[0]]++;
				if (len > cs.largest)
					cs.largest = len;
			}
		}
		if (memmem(pc.data, pc.caplen, marker, mlen)) {
			cs.marker++;
			why = "carries the marker";
		}
		if (why && ++shown <= 5)
			fprintf(stderr, "%s: %s: record %lu: %s\n", progname, path, pc.st.records,
				why);
	}
	if (ret == 0) {
		printf("check: records=%lu wireguard=%lu initiation=%lu response=%lu cookie=%lu "
		       "transport=%lu malformed=%lu other_udp=%lu fragments=%lu truncated=%lu "
		       "largest=%zu marker=%lu\n",
		       pc.st.records, cs.types[1] + cs.types[2] + cs.types[3] + cs.types[4],
		       cs.types[1], cs.types[2], cs.types[3], cs.types[4], cs.malformed,
		       cs.other_udp, pc.st.fragments, pc.st.truncated, cs.largest, cs.marker);
		/* A fragment or a cut record cannot be verified: that is a failure too. */
		if (cs.malformed || cs.other_udp || cs.marker || pc.st.fragments || pc.st.truncated)
			ret = 1;
	}
	pcap_close(&pc);
	return ret;
}
