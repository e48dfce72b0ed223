/*
 * pcap: a reader of classic pcap files (as tcpdump -w writes them) for the test tools: every
 * record in turn, and the UDP payload in it.  Link types: Ethernet (VLAN and QinQ tags
 * skipped), Linux cooked capture v1 (113, what tcpdump -i any gave) and v2 (276), raw IP and
 * BSD loopback; IPv4 and IPv6 (hop-by-hop, routing and destination options skipped).
 * Fragments, truncated records and what is not UDP are counted and skipped, never guessed at.
 * pcapng is refused with its name.  Messages go to stderr, prefixed with the caller's name.
 */
#ifndef SEALNET_TESTS_PCAP_H
#define SEALNET_TESTS_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* What the records held besides UDP payloads. */
struct pcap_stats {
	unsigned long records;
	unsigned long not_udp;
	unsigned long fragments;
	unsigned long truncated;
};

/* An open capture.  data (caplen bytes) is the current record, owned by the reader. */
struct pcap {
	FILE *f;
	const char *who;
	const char *path;
	bool swap;
	uint32_t linktype;
	uint8_t *data;
	uint32_t caplen;
	struct pcap_stats st;
};

/* Opens path and reads its header; who names the caller in messages.  0 or -errno, with the
 * reason on stderr; on error nothing is left to close. */
int pcap_open(struct pcap *pc, const char *who, const char *path);
/* The next record into pc->data: 1, 0 at the end (or a record cut short), or -EINVAL. */
int pcap_next(struct pcap *pc);
/* The UDP payload of the current record: 1 with *payload and *len (the UDP header is the 8
 * bytes before *payload), or 0, counted in pc->st. */
int pcap_udp(struct pcap *pc, const uint8_t **payload, size_t *len);
/* One line on stderr: the records read and what was skipped. */
void pcap_report(const struct pcap *pc);
/* Frees what pcap_open() allocated; the struct may then be opened again. */
void pcap_close(struct pcap *pc);
/* A big-endian 16-bit field, such as a UDP port. */
uint16_t pcap_be16(const uint8_t *p);

#endif
