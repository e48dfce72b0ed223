/*
 * garbage sends COUNT random datagrams.  Most are shaped like WireGuard messages (a type
 * byte 1..4, zero reserved bytes, the exact sizes 148/92/64 or a transport size >= 32), so
 * that they get past the first length and type checks and exercise the parsers behind them;
 * the rest are random lengths 0..1600, wrong sizes and non-zero reserved bytes.  With -L
 * MAXLEN above 1600, one in ten is oversized: MAXLEN at most, larger than any MTU, so the
 * kernel fragments it and the receiver must reassemble 64 KB of junk.  The seed is printed
 * so that a failing run can be repeated.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "udpfuzz.h"

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* One garbage datagram in buf (max_len bytes); returns its length. */
static size_t garbage_make(uint8_t *buf)
{
	static const size_t fixed[] = { SIZE_INITIATION, SIZE_RESPONSE, SIZE_COOKIE };
	size_t len;
	unsigned int type;

	switch (rng_below(10)) {
	case 0: /* anything at all */
		len = rng_below(MAX_DATAGRAM + 1);
		rng_fill(buf, len);
		return len;
	case 1: /* oversized if allowed (half of them a transport header), else anything */
		if (max_len <= MAX_DATAGRAM) {
			len = rng_below(MAX_DATAGRAM + 1);
			rng_fill(buf, len);
			return len;
		}
		len = MAX_DATAGRAM + 1 + rng_below(max_len - MAX_DATAGRAM);
		rng_fill(buf, len);
		if (rng_below(2))
			put_le32(buf, MSG_TRANSPORT);
		return len;
	case 2: /* shorter than any header */
		len = rng_below(5);
		rng_fill(buf, len);
		return len;
	case 3: /* a known type with the wrong size */
		type = 1 + (unsigned int)rng_below(4);
		if (type == MSG_TRANSPORT) {
			len = 4 + rng_below(SIZE_TRANSPORT_MIN - 4);
		} else {
			do
				len = 4 + rng_below(MAX_DATAGRAM - 3);
			while (len == fixed[type - 1]);
		}
		rng_fill(buf, len);
		put_le32(buf, type);
		return len;
	case 4: /* the right size, but non-zero reserved bytes */
		type = 1 + (unsigned int)rng_below(4);
		len = type == MSG_TRANSPORT ? SIZE_TRANSPORT_MIN + rng_below(1400)
					    : fixed[type - 1];
		rng_fill(buf, len);
		put_le32(buf, type | (uint32_t)(1 + rng_below(0xffffff)) << 8);
		return len;
	case 5:
		len = SIZE_INITIATION;
		type = MSG_INITIATION;
		break;
	case 6:
		len = SIZE_RESPONSE;
		type = MSG_RESPONSE;
		break;
	case 7:
		len = SIZE_COOKIE;
		type = MSG_COOKIE;
		break;
	default: /* transport: a keepalive's size or longer */
		len = rng_below(4) ? SIZE_TRANSPORT_MIN + 16 * rng_below(90) : SIZE_TRANSPORT_MIN;
		type = MSG_TRANSPORT;
		break;
	}
	rng_fill(buf, len);
	put_le32(buf, type);
	return len;
}

int garbage_run(struct target *t, unsigned long count)
{
	static uint8_t buf[MAX_OVERSIZED];
	unsigned long i;

	for (i = 0; i < count && !target_expired(t); i++)
		target_send(t, buf, garbage_make(buf));
	return 0;
}
