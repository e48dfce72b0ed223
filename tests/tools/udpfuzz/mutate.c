/*
 * mutate sends COUNT damaged copies of the UDP payloads of a capture: truncated, with bits
 * flipped behind the header, extended with random bytes (to MAXLEN), with non-zero reserved
 * bytes, or with everything but the header and the receiver index replaced.  Unlike garbage
 * these name real sessions, so they reach the decryption and the handshake code.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../pcap.h"
#include "udpfuzz.h"

#define MAX_PAYLOADS 8192

struct payloads {
	uint8_t *data[MAX_PAYLOADS];
	size_t len[MAX_PAYLOADS];
	unsigned n;
};

static void payloads_free(struct payloads *pl)
{
	while (pl->n)
		free(pl->data[--pl->n]);
}

/* The UDP payloads of a capture that look like WireGuard messages (type 1..4). */
static int payloads_load(struct payloads *pl, const char *path)
{
	const uint8_t *payload;
	struct pcap pc;
	size_t len;
	int ret;

	ret = pcap_open(&pc, progname, path);
	if (ret)
		return ret;
	while (pl->n < MAX_PAYLOADS && (ret = pcap_next(&pc)) > 0) {
		if (!pcap_udp(&pc, &payload, &len) || len < 4 || payload[0] < 1 || payload[0] > 4)
			continue;
		pl->data[pl->n] = malloc(len);
		if (!pl->data[pl->n]) {
			ret = -ENOMEM;
			break;
		}
		memcpy(pl->data[pl->n], payload, len);
		pl->len[pl->n++] = len;
	}
	if (ret >= 0)
		pcap_report(&pc);
	pcap_close(&pc);
	if (ret >= 0 && !pl->n) {
		fprintf(stderr, "%s: %s: no WireGuard message to mutate\n", progname, path);
		ret = -ENOENT;
	}
	return ret < 0 ? ret : 0;
}

/* A damaged copy of a real message in buf (max_len bytes); returns its length. */
static size_t mutate_make(uint8_t *buf, const struct payloads *pl)
{
	unsigned k = (unsigned)rng_below(pl->n);
	size_t len = pl->len[k], i;

	memcpy(buf, pl->data[k], len);
	switch (rng_below(5)) {
	case 0: /* truncated: anywhere, header included */
		return rng_below(len);
	case 1: /* a few bits flipped behind the type and the index, which stay valid */
		for (i = 1 + rng_below(4); i > 0 && len > 8; i--)
			buf[8 + rng_below(len - 8)] ^= (uint8_t)(1u << rng_below(8));
		return len;
	case 2: /* extended with random bytes, up to max_len */
		if (len < max_len) {
			size_t more = 1 + rng_below(max_len - len);

			rng_fill(buf + len, more);
			len += more;
		}
		return len;
	case 3: /* reserved bytes set */
		buf[1 + rng_below(3)] |= (uint8_t)(1 + rng_below(255));
		return len;
	default: /* the header and the receiver index kept, the rest random */
		if (len > 8)
			rng_fill(buf + 8, len - 8);
		return len;
	}
}

int mutate_run(struct target *t, const char *path, unsigned long count)
{
	static uint8_t buf[MAX_OVERSIZED];
	static struct payloads pl;
	unsigned long i;
	int ret;

	ret = payloads_load(&pl, path);
	if (ret)
		goto out;
	fprintf(stderr, "%s: mutating %u captured messages\n", progname, pl.n);
	for (i = 0; i < count && !target_expired(t); i++)
		target_send(t, buf, mutate_make(buf, &pl));
out:
	payloads_free(&pl);
	return ret;
}
