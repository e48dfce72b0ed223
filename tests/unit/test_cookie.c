/* mac1, mac2 and cookie replies. Known answers from tests/unit/gen-kat.py (Python hashlib and
 * OpenSSL's ChaCha20-Poly1305 under an HChaCha20 of its own) pin the wire format; the rest
 * walks the DoS defence through a clock we set: load, cookie reply, mac2 from the right and
 * the wrong address, cookie ageing on the maker and secret rotation on the checker.
 *
 * randombytes_buf is wrapped so the known-answer test can fix the checker's secret and the
 * reply's nonce. */
/* LINK-WRAP: -Wl,--wrap=randombytes_buf */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cipher.h"
#include "cookie.h"
#define UNIT_SCRIPTED_RANDOM
#include "unit.h"

/* --- Printed by tests/unit/gen-kat.py --- */
static const char kat_cookie_pub[] =
	"a2bb5b8307797250aaf5cc02f34abf1eb9c6b2eab3c528143a25626551a9f12f";
static const char kat_cookie_mac1[] = "781e0aab783405b7e3b8dc45b154c18d";
static const char kat_cookie_reply4[] =
	"0300000004030201909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7"
	"4fcd80800eafb201c247f024449e96cb15b7453252a7ff6d6575414f8f028fba";
static const char kat_cookie_mac2_4[] = "fd7a134301d3171861f37c8595fb0e2b";
static const char kat_cookie_reply6[] =
	"0300000004030201909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7"
	"61208ccdb02365f2243397590a5e21952e52214a9a319c0ab1282bfdc94b6b6c";
static const char kat_cookie_mac2_6[] = "d870aaedb093b12eb537af3415433190";
/* --- end of gen-kat.py output --- */

#define KAT_INDEX 0x01020304U
#define T0 (1000 * NSEC_PER_SEC)
#define SEC NSEC_PER_SEC

static void endpoint4(union endpoint *e, const char *addr, uint16_t port)
{
	memset(e, 0, sizeof(*e));
	e->in4.sin_family = AF_INET;
	e->in4.sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, addr, &e->in4.sin_addr), 1);
}

static void endpoint6(union endpoint *e, const char *addr, uint16_t port)
{
	memset(e, 0, sizeof(*e));
	e->in6.sin6_family = AF_INET6;
	e->in6.sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, addr, &e->in6.sin6_addr), 1);
}

/* The responder's checker and the initiator's maker for it; a message in flight. */
struct fixture {
	uint8_t pub[KEY_LEN];
	struct cookie_checker checker;
	struct cookie_maker maker;
	struct message_handshake_initiation msg;
	union endpoint src;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	cipher_random(f->pub, sizeof(f->pub));
	cookie_checker_init(&f->checker, f->pub);
	cookie_maker_init(&f->maker, f->pub);
	cipher_random(&f->msg, sizeof(f->msg));
	memset(&f->msg.macs, 0, sizeof(f->msg.macs));
	endpoint4(&f->src, "198.18.0.1", 51820);
	*state = f;
	return 0;
}

static enum cookie_mac_state validate(struct fixture *f, const union endpoint *src, bool load,
				      uint64_t now)
{
	return cookie_validate(&f->checker, (const uint8_t *)&f->msg, sizeof(f->msg), src, load,
			       now);
}

static void add_macs(struct fixture *f, uint64_t now)
{
	cookie_add_macs(&f->maker, (uint8_t *)&f->msg, sizeof(f->msg), now);
}

/* Under load: the checker answers with a cookie and the maker takes it. */
static void get_cookie(struct fixture *f, uint64_t now)
{
	struct message_handshake_cookie reply;

	add_macs(f, now);
	assert_int_equal(validate(f, &f->src, true, now), COOKIE_VALID_MAC_BUT_NO_COOKIE);
	cookie_create_reply(&f->checker, &reply, (const uint8_t *)&f->msg, sizeof(f->msg),
			    le32toh(f->msg.sender_index), &f->src, now);
	assert_int_equal(cookie_consume_reply(&f->maker, &reply, now), 0);
}

static void test_kat(void **state)
{
	uint8_t pub[32], secret[32], nonce[24], buf[148];
	struct message_handshake_cookie reply;
	struct cookie_checker checker = { 0 };
	struct cookie_maker maker;
	union endpoint src4, src6;

	unhex(pub, sizeof(pub), kat_cookie_pub);
	pattern(buf, 116, 0x01);
	memset(buf + 116, 0xee, 32); /* whatever was there is overwritten */
	pattern(secret, sizeof(secret), 0x60);
	pattern(nonce, sizeof(nonce), 0x90);
	endpoint4(&src4, "198.18.0.1", 51820);
	endpoint6(&src6, "fd00::1", 51820);
	cookie_checker_init(&checker, pub);
	cookie_maker_init(&maker, pub);

	cookie_add_macs(&maker, buf, sizeof(buf), T0);
	assert_hex(buf + 116, 16, kat_cookie_mac1);
	assert_true(cipher_is_zero(buf + 132, 16));

	/* The reply draws its nonce first, then the checker's first secret. */
	script_push(nonce, sizeof(nonce));
	script_push(secret, sizeof(secret));
	cookie_create_reply(&checker, &reply, buf, sizeof(buf), KAT_INDEX, &src4, T0);
	assert_int_equal(script_len, 0);
	assert_hex(&reply, sizeof(reply), kat_cookie_reply4);
	assert_int_equal(cookie_consume_reply(&maker, &reply, T0), 0);
	cookie_add_macs(&maker, buf, sizeof(buf), T0);
	assert_hex(buf + 116, 16, kat_cookie_mac1);
	assert_hex(buf + 132, 16, kat_cookie_mac2_4);
	assert_int_equal(cookie_validate(&checker, buf, sizeof(buf), &src4, true, T0),
			 COOKIE_VALID_MAC_WITH_COOKIE);

	/* Same secret, an IPv6 source: address and port are what the cookie covers. */
	script_push(nonce, sizeof(nonce));
	cookie_create_reply(&checker, &reply, buf, sizeof(buf), KAT_INDEX, &src6, T0);
	assert_int_equal(script_len, 0);
	assert_hex(&reply, sizeof(reply), kat_cookie_reply6);
	assert_int_equal(cookie_consume_reply(&maker, &reply, T0), 0);
	cookie_add_macs(&maker, buf, sizeof(buf), T0);
	assert_hex(buf + 132, 16, kat_cookie_mac2_6);
	assert_int_equal(cookie_validate(&checker, buf, sizeof(buf), &src6, true, T0),
			 COOKIE_VALID_MAC_WITH_COOKIE);
	assert_int_equal(cookie_validate(&checker, buf, sizeof(buf), &src4, true, T0),
			 COOKIE_VALID_MAC_BUT_NO_COOKIE);
}

static void test_mac1(void **state)
{
	struct fixture *f = *state;
	struct cookie_checker other = { 0 };
	uint8_t other_pub[32];

	add_macs(f, T0);
	assert_false(cipher_is_zero(f->msg.macs.mac1, COOKIE_LEN));
	/* No cookie yet: mac2 is zero. */
	assert_true(cipher_is_zero(f->msg.macs.mac2, COOKIE_LEN));
	assert_int_equal(validate(f, &f->src, false, T0), COOKIE_VALID_MAC_BUT_NO_COOKIE);

	/* Someone else's checker. */
	memcpy(other_pub, f->pub, sizeof(other_pub));
	other_pub[0] ^= 1;
	cookie_checker_init(&other, other_pub);
	assert_int_equal(cookie_validate(&other, (const uint8_t *)&f->msg, sizeof(f->msg), &f->src,
					 false, T0),
			 COOKIE_INVALID_MAC);

	/* mac1 covers everything before it; mac2 is not part of it. */
	for (size_t i = 0; i < offsetof(struct message_handshake_initiation, macs.mac2); i++) {
		((uint8_t *)&f->msg)[i] ^= 0x80;
		assert_int_equal(validate(f, &f->src, false, T0), COOKIE_INVALID_MAC);
		((uint8_t *)&f->msg)[i] ^= 0x80;
	}
	f->msg.macs.mac2[3] ^= 1;
	assert_int_equal(validate(f, &f->src, false, T0), COOKIE_VALID_MAC_BUT_NO_COOKIE);
}

/* The response is shorter; the same code finds its macs at its end. */
static void test_mac1_response(void **state)
{
	struct fixture *f = *state;
	struct message_handshake_response resp;

	cipher_random(&resp, sizeof(resp));
	cookie_add_macs(&f->maker, (uint8_t *)&resp, sizeof(resp), T0);
	assert_int_equal(cookie_validate(&f->checker, (const uint8_t *)&resp, sizeof(resp), &f->src,
					 false, T0),
			 COOKIE_VALID_MAC_BUT_NO_COOKIE);
	resp.receiver_index ^= 1;
	assert_int_equal(cookie_validate(&f->checker, (const uint8_t *)&resp, sizeof(resp), &f->src,
					 false, T0),
			 COOKIE_INVALID_MAC);
}

static void test_under_load(void **state)
{
	struct fixture *f = *state;
	struct message_handshake_cookie reply;
	union endpoint other_addr, other_port, v6;

	add_macs(f, T0);
	assert_int_equal(validate(f, &f->src, true, T0), COOKIE_VALID_MAC_BUT_NO_COOKIE);

	cookie_create_reply(&f->checker, &reply, (const uint8_t *)&f->msg, sizeof(f->msg),
			    le32toh(f->msg.sender_index), &f->src, T0);
	assert_int_equal(le32toh(reply.header.type), MESSAGE_HANDSHAKE_COOKIE);
	assert_int_equal(reply.receiver_index, f->msg.sender_index);
	assert_int_equal(cookie_consume_reply(&f->maker, &reply, T0 + SEC), 0);

	/* The next message carries mac2. */
	f->msg.sender_index ^= 0x5555;
	add_macs(f, T0 + 2 * SEC);
	assert_false(cipher_is_zero(f->msg.macs.mac2, COOKIE_LEN));
	assert_int_equal(validate(f, &f->src, true, T0 + 2 * SEC), COOKIE_VALID_MAC_WITH_COOKIE);
	/* Without load nobody looks at mac2. */
	assert_int_equal(validate(f, &f->src, false, T0 + 2 * SEC), COOKIE_VALID_MAC_BUT_NO_COOKIE);

	/* The cookie belongs to the address and the port it was sent to. */
	endpoint4(&other_addr, "198.18.0.2", 51820);
	endpoint4(&other_port, "198.18.0.1", 51821);
	endpoint6(&v6, "fd00::c612:1", 51820);
	assert_int_equal(validate(f, &other_addr, true, T0 + 2 * SEC),
			 COOKIE_VALID_MAC_BUT_NO_COOKIE);
	assert_int_equal(validate(f, &other_port, true, T0 + 2 * SEC),
			 COOKIE_VALID_MAC_BUT_NO_COOKIE);
	assert_int_equal(validate(f, &v6, true, T0 + 2 * SEC), COOKIE_VALID_MAC_BUT_NO_COOKIE);
	assert_int_equal(validate(f, &f->src, true, T0 + 2 * SEC), COOKIE_VALID_MAC_WITH_COOKIE);

	/* A wrong mac2 is no cookie; a wrong mac1 is no message. */
	f->msg.macs.mac2[0] ^= 1;
	assert_int_equal(validate(f, &f->src, true, T0 + 2 * SEC), COOKIE_VALID_MAC_BUT_NO_COOKIE);
	f->msg.macs.mac2[0] ^= 1;
	f->msg.macs.mac1[0] ^= 1;
	assert_int_equal(validate(f, &f->src, true, T0 + 2 * SEC), COOKIE_INVALID_MAC);
}

static void test_ipv6_source(void **state)
{
	struct fixture *f = *state;
	union endpoint other;

	endpoint6(&f->src, "fd00::1", 51820);
	get_cookie(f, T0);
	add_macs(f, T0);
	assert_int_equal(validate(f, &f->src, true, T0), COOKIE_VALID_MAC_WITH_COOKIE);
	endpoint6(&other, "fd00::2", 51820);
	assert_int_equal(validate(f, &other, true, T0), COOKIE_VALID_MAC_BUT_NO_COOKIE);
	endpoint6(&other, "fd00::1", 51821);
	assert_int_equal(validate(f, &other, true, T0), COOKIE_VALID_MAC_BUT_NO_COOKIE);
}

/* The maker stops using a cookie COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY after it came. */
static void test_cookie_age(void **state)
{
	struct fixture *f = *state;
	const uint64_t got = T0 + 3 * SEC;
	const uint64_t limit = (COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY) * SEC;
	struct message_handshake_cookie reply;

	assert_int_equal(limit, 115 * SEC);
	add_macs(f, T0);
	assert_int_equal(validate(f, &f->src, true, T0), COOKIE_VALID_MAC_BUT_NO_COOKIE);
	cookie_create_reply(&f->checker, &reply, (const uint8_t *)&f->msg, sizeof(f->msg), 7,
			    &f->src, T0);
	assert_int_equal(cookie_consume_reply(&f->maker, &reply, got), 0);
	add_macs(f, got + limit - 1);
	assert_false(cipher_is_zero(f->msg.macs.mac2, COOKIE_LEN));
	add_macs(f, got + limit);
	assert_true(cipher_is_zero(f->msg.macs.mac2, COOKIE_LEN));
	add_macs(f, got + 10 * limit);
	assert_true(cipher_is_zero(f->msg.macs.mac2, COOKIE_LEN));
}

/* The checker's secret lives COOKIE_SECRET_MAX_AGE from its first use; after that, mac2
 * made with a cookie from the old secret is worthless. */
static void test_secret_rotation(void **state)
{
	struct fixture *f = *state;
	uint8_t first[NOISE_HASH_LEN];

	get_cookie(f, T0); /* the secret is born at T0 */
	memcpy(first, f->checker.secret, sizeof(first));
	add_macs(f, T0 + 100 * SEC);
	assert_int_equal(validate(f, &f->src, true, T0 + 100 * SEC), COOKIE_VALID_MAC_WITH_COOKIE);
	assert_int_equal(validate(f, &f->src, true, T0 + 120 * SEC - 1),
			 COOKIE_VALID_MAC_WITH_COOKIE);
	assert_memory_equal(first, f->checker.secret, sizeof(first));
	assert_int_equal(validate(f, &f->src, true, T0 + 120 * SEC),
			 COOKIE_VALID_MAC_BUT_NO_COOKIE);
	assert_memory_not_equal(first, f->checker.secret, sizeof(first));
	assert_int_equal(f->checker.secret_birthdate, T0 + 120 * SEC);

	/* A new cookie from the new secret works again. */
	get_cookie(f, T0 + 121 * SEC);
	add_macs(f, T0 + 121 * SEC);
	assert_int_equal(validate(f, &f->src, true, T0 + 121 * SEC), COOKIE_VALID_MAC_WITH_COOKIE);
}

static void test_reply_once(void **state)
{
	struct fixture *f = *state;
	struct message_handshake_cookie reply, second;

	/* Nothing sent yet: nothing to answer. */
	cipher_random(&reply, sizeof(reply));
	assert_int_equal(cookie_consume_reply(&f->maker, &reply, T0), -EINVAL);

	add_macs(f, T0);
	cookie_create_reply(&f->checker, &reply, (const uint8_t *)&f->msg, sizeof(f->msg), 1,
			    &f->src, T0);
	cookie_create_reply(&f->checker, &second, (const uint8_t *)&f->msg, sizeof(f->msg), 1,
			    &f->src, T0);
	assert_int_equal(cookie_consume_reply(&f->maker, &reply, T0), 0);
	assert_int_equal(cookie_consume_reply(&f->maker, &reply, T0), -EINVAL);
	/* Another genuine reply to the same mac1 is refused too. */
	assert_int_equal(cookie_consume_reply(&f->maker, &second, T0), -EINVAL);
}

/* A reply answers the last mac1 we sent, not an earlier one. */
static void test_reply_to_old_mac1(void **state)
{
	struct fixture *f = *state;
	struct message_handshake_cookie reply;

	add_macs(f, T0);
	cookie_create_reply(&f->checker, &reply, (const uint8_t *)&f->msg, sizeof(f->msg), 1,
			    &f->src, T0);
	f->msg.sender_index ^= 1;
	add_macs(f, T0 + SEC);
	assert_int_equal(cookie_consume_reply(&f->maker, &reply, T0 + SEC), -EBADMSG);
	assert_false(f->maker.have_cookie);
}

static void test_tampered_reply(void **state)
{
	struct fixture *f = *state;
	struct message_handshake_cookie reply, bad;
	size_t from = offsetof(struct message_handshake_cookie, nonce);
	struct cookie_checker other = { 0 };
	uint8_t other_pub[32];

	add_macs(f, T0);
	cookie_create_reply(&f->checker, &reply, (const uint8_t *)&f->msg, sizeof(f->msg), 1,
			    &f->src, T0);
	for (size_t byte = from; byte < sizeof(reply); byte++) {
		for (int bit = 0; bit < 8; bit++) {
			bad = reply;
			((uint8_t *)&bad)[byte] ^= (uint8_t)(1 << bit);
			assert_int_equal(cookie_consume_reply(&f->maker, &bad, T0), -EBADMSG);
		}
	}
	assert_false(f->maker.have_cookie);
	/* A reply from a checker with another key. */
	cipher_random(other_pub, sizeof(other_pub));
	cookie_checker_init(&other, other_pub);
	cookie_create_reply(&other, &bad, (const uint8_t *)&f->msg, sizeof(f->msg), 1, &f->src, T0);
	assert_int_equal(cookie_consume_reply(&f->maker, &bad, T0), -EBADMSG);
	/* The failures did not use up the genuine one. */
	assert_int_equal(cookie_consume_reply(&f->maker, &reply, T0), 0);
	assert_true(f->maker.have_cookie);
}

#define FIXTURE_TEST(t) cmocka_unit_test_setup_teardown(t, setup, free_state)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kat),           FIXTURE_TEST(test_mac1),
		FIXTURE_TEST(test_mac1_response),     FIXTURE_TEST(test_under_load),
		FIXTURE_TEST(test_ipv6_source),       FIXTURE_TEST(test_cookie_age),
		FIXTURE_TEST(test_secret_rotation),   FIXTURE_TEST(test_reply_once),
		FIXTURE_TEST(test_reply_to_old_mac1), FIXTURE_TEST(test_tampered_reply),
	};

	return cmocka_run_group_tests_name("cookie", tests, cipher_setup, NULL);
}
