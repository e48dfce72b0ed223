/*
 * flood sends COUNT handshake initiations, RATE a second at most (0: as fast as it can), to
 * the node whose public key is PUBKEY_B64.  Public keys are not secret, so an attacker can
 * compute a valid mac1 (the daemon's own cookie.c does it here); everything behind it is
 * random, so each initiation fails at decryption, after the mac1, cookie and rate-limit
 * checks that the flood tests.  Cookie replies are counted; with -c they are also consumed,
 * and each source then sends a valid mac2: the victim must fall back on its per-source rate
 * limit.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/prctl.h>

#include "cookie.h"
#include "key.h"
#include "udpfuzz.h"

/* flood: how many recent initiations a cookie reply can still be matched to. */
#define FLOOD_RING 65536

struct flood {
	struct cookie_maker makers[MAX_SOURCES];
	uint8_t mac1s[FLOOD_RING][COOKIE_LEN];
	uint32_t salt;
	unsigned long replies, cookies, bad_replies, with_mac2;
};

/* Reads what came back to each source.  A cookie reply names the sender index of the
 * initiation it answers; its mac1 (kept in a ring) is the reply's additional data. */
static void flood_read_replies(struct target *t, struct flood *fl, unsigned long sent, bool consume)
{
	struct message_handshake_cookie reply;
	unsigned long seq;
	unsigned s;
	ssize_t n;

	for (s = 0; s < t->nfds; s++) {
		while ((n = recv(t->fds[s], &reply, sizeof(reply), MSG_DONTWAIT | MSG_TRUNC)) >=
		       0) {
			if ((size_t)n != sizeof(reply) ||
			    le32toh(reply.header.type) != MESSAGE_HANDSHAKE_COOKIE) {
				fl->bad_replies++;
				continue;
			}
			fl->replies++;
			seq = le32toh(reply.receiver_index) ^ fl->salt;
			if (!consume || seq >= sent || sent - seq > FLOOD_RING)
				continue;
			memcpy(fl->makers[s].last_mac1_sent, fl->mac1s[seq % FLOOD_RING],
			       COOKIE_LEN);
			fl->makers[s].have_sent_mac1 = true;
			if (cookie_consume_reply(&fl->makers[s], &reply, now_ns()) == 0)
				fl->cookies++;
			else
				fl->bad_replies++;
		}
	}
}

int flood_run(struct target *t, const char *pub_b64, unsigned long count, unsigned long rate,
	      bool consume)
{
	static const uint8_t zero[COOKIE_LEN];
	struct message_handshake_initiation msg;
	uint8_t victim[KEY_LEN];
	struct flood *fl;
	uint64_t start, now, due;
	unsigned long i;
	unsigned s;

	if (key_from_base64(victim, pub_b64)) {
		fprintf(stderr, "%s: %s: not a base64 public key\n", progname, pub_b64);
		return -EINVAL;
	}
	fl = calloc(1, sizeof(*fl));
	if (!fl)
		return -ENOMEM;
	for (s = 0; s < t->nfds; s++)
		cookie_maker_init(&fl->makers[s], victim);
	fl->salt = (uint32_t)rng_next();
	/* Pacing sleeps a millisecond at a time: make the kernel wake us on time. */
	prctl(PR_SET_TIMERSLACK, 1UL);
	start = now_ns();
	for (i = 0; i < count && !target_expired(t); i++) {
		s = (unsigned)(i % t->nfds);
		memset(&msg, 0, sizeof(msg));
		msg.header.type = htole32(MESSAGE_HANDSHAKE_INITIATION);
		msg.sender_index = htole32((uint32_t)i ^ fl->salt);
		rng_fill(msg.unencrypted_ephemeral, sizeof(msg.unencrypted_ephemeral));
		rng_fill(msg.encrypted_static, sizeof(msg.encrypted_static));
		rng_fill(msg.encrypted_timestamp, sizeof(msg.encrypted_timestamp));
		cookie_add_macs(&fl->makers[s], (uint8_t *)&msg, sizeof(msg), now_ns());
		memcpy(fl->mac1s[i % FLOOD_RING], msg.macs.mac1, COOKIE_LEN);
		if (memcmp(msg.macs.mac2, zero, COOKIE_LEN))
			fl->with_mac2++;
		target_send_from(t, s, (const uint8_t *)&msg, sizeof(msg));
		if (i % 32 == 31)
			flood_read_replies(t, fl, i + 1, consume);
		if (!rate)
			continue;
		due = start + (uint64_t)((i + 1) * (double)NSEC_PER_SEC / (double)rate);
		now = now_ns();
		if (due > now + NSEC_PER_MSEC)
			pause_us((unsigned long)((due - now) / 1000));
	}
	/* Stragglers: the victim answers a moment after the last initiation. */
	pause_us(100000);
	flood_read_replies(t, fl, i, consume);
	now = now_ns();
	fprintf(stderr,
		"%s: flood: %lu initiations in %.2f s (%.0f/s) from %u sources, %lu with mac2; "
		"cookie replies received %lu, cookies learned %lu, other replies %lu\n",
		progname, t->sent, (double)(now - start) / NSEC_PER_SEC,
		(double)t->sent * NSEC_PER_SEC / (double)(now - start + 1), t->nfds, fl->with_mac2,
		fl->replies, fl->cookies, fl->bad_replies);
	explicit_bzero(fl, sizeof(*fl));
	free(fl);
	return 0;
}
