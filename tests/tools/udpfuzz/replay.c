/*
 * replay resends every UDP payload of a classic pcap file (as tcpdump -w writes it):
 * Ethernet, Linux cooked capture v1 (113, what tcpdump -i any gave) and v2 (276), raw IP and
 * BSD loopback link types; IPv4 and IPv6; fragments and truncated records are skipped.  With
 * -r ROUNDS the whole file is sent ROUNDS times: one captured initiation, -i 5000 apart, is
 * a replay flood of 200 a second.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../pcap.h"
#include "udpfuzz.h"

int replay_run(struct target *t, const char *path, unsigned long max, unsigned long rounds)
{
	const uint8_t *payload;
	struct pcap pc;
	size_t len;
	int ret = 0;

	for (unsigned long r = 0;
	     r < rounds && !ret && t->sent + t->errors < max && !target_expired(t); r++) {
		ret = pcap_open(&pc, progname, path);
		if (ret)
			return ret;
		while (t->sent + t->errors < max && !target_expired(t) &&
		       (ret = pcap_next(&pc)) > 0)
			if (pcap_udp(&pc, &payload, &len))
				target_send(t, payload, len);
		if (ret >= 0) {
			if (r == 0)
				pcap_report(&pc);
			ret = 0;
		}
		pcap_close(&pc);
	}
	return ret;
}
