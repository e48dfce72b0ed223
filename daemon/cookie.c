#include "cookie.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#include "cipher.h"

static const char label_mac1[] = "mac1----";
static const char label_cookie[] = "cookie--";

static void derive_key(uint8_t key[KEY_LEN], const char *label, const uint8_t pub[KEY_LEN])
{
	cipher_hash(key, (const uint8_t *)label, strlen(label), pub, KEY_LEN);
}

void cookie_checker_init(struct cookie_checker *c, const uint8_t our_public[KEY_LEN])
{
	derive_key(c->mac1_key, label_mac1, our_public);
	derive_key(c->cookie_encryption_key, label_cookie, our_public);
}

void cookie_maker_init(struct cookie_maker *m, const uint8_t peer_public[KEY_LEN])
{
	memset(m, 0, sizeof(*m));
	derive_key(m->mac1_key, label_mac1, peer_public);
	derive_key(m->cookie_decryption_key, label_cookie, peer_public);
}

static bool expired(uint64_t birthdate, uint64_t seconds, uint64_t now)
{
	return now - birthdate >= seconds * NSEC_PER_SEC;
}

static void compute_mac1(uint8_t mac1[COOKIE_LEN], const uint8_t *msg, size_t len,
			 const uint8_t key[KEY_LEN])
{
	cipher_mac(mac1, COOKIE_LEN, key, KEY_LEN, msg, len - sizeof(struct message_macs));
}

static void compute_mac2(uint8_t mac2[COOKIE_LEN], const uint8_t *msg, size_t len,
			 const uint8_t cookie[COOKIE_LEN])
{
	cipher_mac(mac2, COOKIE_LEN, cookie, COOKIE_LEN, msg, len - COOKIE_LEN);
}

/* The cookie is a MAC of the sender's address under a secret that changes every two
 * minutes: only someone who receives at that address can learn it. */
static void make_cookie(struct cookie_checker *c, uint8_t cookie[COOKIE_LEN],
			const union endpoint *src, uint64_t now)
{
	uint8_t buf[18];
	size_t len;

	if (!c->have_secret || expired(c->secret_birthdate, COOKIE_SECRET_MAX_AGE, now)) {
		cipher_random(c->secret, sizeof(c->secret));
		c->secret_birthdate = now;
		c->have_secret = true;
	}
	if (src->sa.sa_family == AF_INET) {
		memcpy(buf, &src->in4.sin_addr, 4);
		memcpy(buf + 4, &src->in4.sin_port, 2);
		len = 6;
	} else {
		memcpy(buf, &src->in6.sin6_addr, 16);
		memcpy(buf + 16, &src->in6.sin6_port, 2);
		len = 18;
	}
	cipher_mac(cookie, COOKIE_LEN, c->secret, sizeof(c->secret), buf, len);
}

enum cookie_mac_state cookie_validate(struct cookie_checker *c, const uint8_t *msg, size_t len,
				      const union endpoint *src, bool check_cookie, uint64_t now)
{
	const struct message_macs *macs = (const void *)(msg + len - sizeof(*macs));
	uint8_t computed[COOKIE_LEN], cookie[COOKIE_LEN];
	enum cookie_mac_state ret = COOKIE_INVALID_MAC;

	compute_mac1(computed, msg, len, c->mac1_key);
	if (!cipher_equal(computed, macs->mac1, COOKIE_LEN))
		goto out;
	ret = COOKIE_VALID_MAC_BUT_NO_COOKIE;
	if (!check_cookie)
		goto out;
	make_cookie(c, cookie, src, now);
	compute_mac2(computed, msg, len, cookie);
	if (cipher_equal(computed, macs->mac2, COOKIE_LEN))
		ret = COOKIE_VALID_MAC_WITH_COOKIE;
out:
	cipher_wipe(cookie, sizeof(cookie));
	return ret;
}

void cookie_add_macs(struct cookie_maker *m, uint8_t *msg, size_t len, uint64_t now)
{
	struct message_macs *macs = (void *)(msg + len - sizeof(*macs));

	compute_mac1(macs->mac1, msg, len, m->mac1_key);
	memcpy(m->last_mac1_sent, macs->mac1, COOKIE_LEN);
	m->have_sent_mac1 = true;
	/* The responder's secret may have turned over meanwhile: a cookie older than its
	 * lifetime less the latency is worthless, send mac2 zero as if we had none. */
	if (m->have_cookie &&
	    !expired(m->cookie_birthdate, COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY, now))
		compute_mac2(macs->mac2, msg, len, m->cookie);
	else
		memset(macs->mac2, 0, COOKIE_LEN);
}

void cookie_create_reply(struct cookie_checker *c, struct message_handshake_cookie *dst,
			 const uint8_t *msg, size_t len, uint32_t index, const union endpoint *src,
			 uint64_t now)
{
	const struct message_macs *macs = (const void *)(msg + len - sizeof(*macs));
	uint8_t cookie[COOKIE_LEN];

	dst->header.type = htole32(MESSAGE_HANDSHAKE_COOKIE);
	dst->receiver_index = htole32(index);
	cipher_random(dst->nonce, COOKIE_NONCE_LEN);
	make_cookie(c, cookie, src, now);
	cipher_xaead_seal(dst->encrypted_cookie, cookie, COOKIE_LEN, macs->mac1, COOKIE_LEN,
			  dst->nonce, c->cookie_encryption_key);
	cipher_wipe(cookie, sizeof(cookie));
}

int cookie_consume_reply(struct cookie_maker *m, const struct message_handshake_cookie *src,
			 uint64_t now)
{
	uint8_t cookie[COOKIE_LEN];

	if (!m->have_sent_mac1)
		return -EINVAL;
	if (cipher_xaead_open(cookie, src->encrypted_cookie, sizeof(src->encrypted_cookie),
			      m->last_mac1_sent, COOKIE_LEN, src->nonce, m->cookie_decryption_key))
		return -EBADMSG;
	memcpy(m->cookie, cookie, COOKIE_LEN);
	m->cookie_birthdate = now;
	m->have_cookie = true;
	/* One cookie per mac1 we sent: a second reply to the same message is a replay. */
	m->have_sent_mac1 = false;
	cipher_wipe(cookie, sizeof(cookie));
	return 0;
}
