/* mac1, mac2 and cookie replies (whitepaper §5.4.4, §5.4.7): the DoS defence in front of the
 * handshake. The checker is ours (one per device); a maker exists per peer. Time is injected
 * (monotonic ns) so unit tests can age cookies. */
#ifndef SEALNET_COOKIE_H
#define SEALNET_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "messages.h"

struct cookie_checker {
	uint8_t secret[NOISE_HASH_LEN];
	uint64_t secret_birthdate;
	bool have_secret;
	uint8_t mac1_key[KEY_LEN];
	uint8_t cookie_encryption_key[KEY_LEN];
};

struct cookie_maker {
	uint8_t mac1_key[KEY_LEN];
	uint8_t cookie_decryption_key[KEY_LEN];
	uint8_t cookie[COOKIE_LEN];
	uint64_t cookie_birthdate;
	bool have_cookie;
	uint8_t last_mac1_sent[COOKIE_LEN];
	bool have_sent_mac1;
};

enum cookie_mac_state {
	COOKIE_INVALID_MAC,
	COOKIE_VALID_MAC_BUT_NO_COOKIE,
	COOKIE_VALID_MAC_WITH_COOKIE,
};

/* Keys derive from our public key; call again when it changes. */
void cookie_checker_init(struct cookie_checker *c, const uint8_t our_public[KEY_LEN]);
void cookie_maker_init(struct cookie_maker *m, const uint8_t peer_public[KEY_LEN]);

/* msg is a whole handshake message ending in struct message_macs. check_cookie: also verify
 * mac2 against the cookie src would hold (only done under load). */
enum cookie_mac_state cookie_validate(struct cookie_checker *c, const uint8_t *msg, size_t len,
				      const union endpoint *src, bool check_cookie, uint64_t now);
/* Fills mac1 and, with a fresh cookie from this peer, mac2. */
void cookie_add_macs(struct cookie_maker *m, uint8_t *msg, size_t len, uint64_t now);
/* Answers the handshake message msg (from src, with sender index `index`). */
void cookie_create_reply(struct cookie_checker *c, struct message_handshake_cookie *dst,
			 const uint8_t *msg, size_t len, uint32_t index, const union endpoint *src,
			 uint64_t now);
/* Returns 0, -EINVAL (we sent nothing it could answer) or -EBADMSG. */
int cookie_consume_reply(struct cookie_maker *m, const struct message_handshake_cookie *src,
			 uint64_t now);

#endif
