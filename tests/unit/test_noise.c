/* Noise_IKpsk2: a handshake computed step by step from the whitepaper by
 * tests/unit/gen-kat.py (Python hashlib/hmac and OpenSSL, no code of ours) must come out
 * byte for byte; then two in-process instances run handshakes with an injected clock
 * against every way an initiation or response can be wrong.
 *
 * randombytes_buf is wrapped so the known-answer test can hand out its ephemeral keys;
 * cipher_aead_seal/open, to show a handshake never hands its keys to the data path's AEAD,
 * whose per-thread contexts would keep a copy after noise.c wipes them. */
/* LINK-WRAP: -Wl,--wrap=randombytes_buf -Wl,--wrap=cipher_aead_seal -Wl,--wrap=cipher_aead_open */
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
#include <sodium.h>

#include "cipher.h"
#include "cookie.h"
#include "noise.h"
#define UNIT_SCRIPTED_RANDOM
#include "unit.h"

/* Calls of the data path's AEAD, which caches keys. */
static unsigned cached_aead_calls;

void __real_cipher_aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			     size_t adlen, uint64_t counter, const uint8_t key[KEY_LEN]);
int __real_cipher_aead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			    size_t adlen, uint64_t counter, const uint8_t key[KEY_LEN]);
void __wrap_cipher_aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			     size_t adlen, uint64_t counter, const uint8_t key[KEY_LEN]);
int __wrap_cipher_aead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			    size_t adlen, uint64_t counter, const uint8_t key[KEY_LEN]);

void __wrap_cipher_aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			     size_t adlen, uint64_t counter, const uint8_t key[KEY_LEN])
{
	cached_aead_calls++;
	__real_cipher_aead_seal(dst, src, len, ad, adlen, counter, key);
}

int __wrap_cipher_aead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			    size_t adlen, uint64_t counter, const uint8_t key[KEY_LEN])
{
	cached_aead_calls++;
	return __real_cipher_aead_open(dst, src, len, ad, adlen, counter, key);
}

/* --- Printed by tests/unit/gen-kat.py --- */
static const char kat_hs_i_static[] =
	"da2d141b29cc7c8ff945dbc64cb02d80895c5b41abce95c10e0d2f55e471df66";
static const char kat_hs_r_static[] =
	"304282deca33d2c45831251f8ff43b3a9c91b2e7edd651e3b6dc0d215a72b467";
static const char kat_hs_i_ephemeral[] =
	"c50761b8ebbf1e114c3bc50d2645eb43c15c7b69d4c55a11fc6000926087f98b";
static const char kat_hs_r_ephemeral[] =
	"399f798e22f06535f9bc08d0107e2aff209e02d6b7e7f8b8be589f11e76c1b4c";
static const char kat_hs_psk[] = "8139fda7e0f126ebb083357fa93eebea6fa2e22d017ff5f74615e6fa8afa01f9";
static const char kat_hs_nopsk_initiation[] =
	"010000004433221188751149c7b5abbbb098d4324170004f4f06c3efe8a4049a"
	"2e86268e6a56b563361b642c4fc309a38cf8223ee8e1b61a54c6e250f5401f7c"
	"57fe0167c1ac4b9f33730a4d197fc243e348a1d5a97181727867645a4356aaa1"
	"d8390ae3f88aab8849f75c4b8f4cafb6762e83e686b5343f6f7d996312a4275c"
	"f2f31c3300000000000000000000000000000000";
static const char kat_hs_nopsk_response[] =
	"02000000d8c7b6a544332211ecb3691a427b4f37cba860be3e9135f1bd2af8d2"
	"45fbc543324b92f2d7eb7d4815e02e8154ad5cda44f70e543dc65a7f4bfc5247"
	"3425aded9ba8234e5269477400000000000000000000000000000000";
static const char kat_hs_nopsk_i_send[] =
	"0e843fdf412527484729d7f3e6239bf22c9cacfc9485e584327fa0d305901753";
static const char kat_hs_nopsk_i_recv[] =
	"2e819d323fb83ec2d9ec6ae2e40da9497d4b1ea649a639ad8fcd710841a0d01a";
static const char kat_hs_nopsk_data[] =
	"04000000d8c7b6a500000000000000000dda28d33fa69de8d54af554a022ca7c"
	"d494379fc63f259b5b7f9dfe621d0487";
static const char kat_hs_psk_initiation[] =
	"010000004433221188751149c7b5abbbb098d4324170004f4f06c3efe8a4049a"
	"2e86268e6a56b563361b642c4fc309a38cf8223ee8e1b61a54c6e250f5401f7c"
	"57fe0167c1ac4b9f33730a4d197fc243e348a1d5a97181727867645a4356aaa1"
	"d8390ae3f88aab8849f75c4b8f4cafb6762e83e686b5343f6f7d996312a4275c"
	"f2f31c3300000000000000000000000000000000";
static const char kat_hs_psk_response[] =
	"02000000d8c7b6a544332211ecb3691a427b4f37cba860be3e9135f1bd2af8d2"
	"45fbc543324b92f2d7eb7d485627c0991291dec54bd95650a88cfa09083d6abc"
	"ccb90496c8a6760ef8ea094400000000000000000000000000000000";
static const char kat_hs_psk_i_send[] =
	"a544a5e354291a6f5b7f3e4c722898bcf40fbdb6b1828e56b8c7977af0c64fda";
static const char kat_hs_psk_i_recv[] =
	"4c527bc4d7f890d4c9ef7d7ed61b613a26042c417e53b8cb46883cdaaa060105";
static const char kat_hs_psk_data[] =
	"04000000d8c7b6a50000000000000000824a3fccbf43d9e1bdfba42b9a5855eb"
	"b23bfe6883123b6ca5c9edfdec134841";
static const char kat_hs_timestamp[] = "400000006553f10a07000000";
/* --- end of gen-kat.py output --- */

#define KAT_REALTIME_NS 1700000000123456789ULL
#define KAT_I_INDEX 0x11223344U
#define KAT_R_INDEX 0xa5b6c7d8U
#define KAT_DATA "sealnet kat data"

/* Monotonic and wall clocks of the tests; nothing reads the real ones. */
#define T0 (1000 * NSEC_PER_SEC)
#define WALL0 1700000000000000000ULL
#define FLOOD_GAP (NSEC_PER_SEC / INITIATIONS_PER_SECOND)

/* The responder knows its peers by static key, as the device's peer table would. */
struct peers {
	struct noise_handshake *hs[4];
	size_t n;
	unsigned lookups;
};

static struct noise_handshake *lookup(void *ctx, const uint8_t pub[KEY_LEN])
{
	struct peers *peers = ctx;

	peers->lookups++;
	for (size_t i = 0; i < peers->n; i++)
		if (!memcmp(peers->hs[i]->remote_static, pub, KEY_LEN))
			return peers->hs[i];
	return NULL;
}

/* Initiator i and responder r, each with its view of the other. */
struct pair {
	struct noise_local i, r;
	struct noise_handshake hs_i, hs_r;
	struct peers peers; /* r's peers: just i */
	struct noise_keypair kp_i, kp_r;
};

static void local_set(struct noise_local *l, const uint8_t *priv)
{
	if (!l->private_key)
		l->private_key = sodium_malloc(KEY_LEN);
	assert_non_null(l->private_key);
	if (priv)
		memcpy(l->private_key, priv, KEY_LEN);
	else
		cipher_generate_private(l->private_key);
	assert_int_equal(cipher_public_key(l->public_key, l->private_key), 0);
}

static void pair_init(struct pair *p, const uint8_t *psk_i, const uint8_t *psk_r)
{
	noise_handshake_init(&p->hs_i, &p->i, p->r.public_key, psk_i);
	noise_handshake_init(&p->hs_r, &p->r, p->i.public_key, psk_r);
	p->hs_i.entry.index = 0x1000 + (uint32_t)cipher_random_uniform(0x1000);
	p->hs_r.entry.index = 0x2000 + (uint32_t)cipher_random_uniform(0x1000);
	p->peers.hs[0] = &p->hs_r;
	p->peers.n = 1;
}

static struct pair *pair_new(const uint8_t *i_priv, const uint8_t *r_priv)
{
	struct pair *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	local_set(&p->i, i_priv);
	local_set(&p->r, r_priv);
	pair_init(p, NULL, NULL);
	return p;
}

static int pair_setup(void **state)
{
	*state = pair_new(NULL, NULL);
	return 0;
}

static int pair_teardown(void **state)
{
	struct pair *p = *state;

	sodium_free(p->i.private_key);
	sodium_free(p->r.private_key);
	free(p);
	return 0;
}

/* Initiation, consumption, response, consumption, both keypairs: asserts every step. */
static void run_handshake(struct pair *p, uint64_t now, uint64_t wall)
{
	struct message_handshake_initiation init;
	struct message_handshake_response resp;
	struct noise_handshake *found;

	assert_int_equal(noise_create_initiation(&p->hs_i, &p->i, &init, wall), 0);
	assert_int_equal(p->hs_i.state, NOISE_CREATED_INITIATION);
	assert_int_equal(le32toh(init.header.type), MESSAGE_HANDSHAKE_INITIATION);
	assert_int_equal(le32toh(init.sender_index), p->hs_i.entry.index);
	assert_int_equal(noise_consume_initiation(&p->r, &init, lookup, &p->peers, now, &found), 0);
	assert_ptr_equal(found, &p->hs_r);
	assert_int_equal(p->hs_r.state, NOISE_CONSUMED_INITIATION);
	assert_int_equal(p->hs_r.remote_index, p->hs_i.entry.index);
	assert_int_equal(noise_create_response(&p->hs_r, &p->r, &resp), 0);
	assert_int_equal(p->hs_r.state, NOISE_CREATED_RESPONSE);
	assert_int_equal(le32toh(resp.header.type), MESSAGE_HANDSHAKE_RESPONSE);
	assert_int_equal(le32toh(resp.sender_index), p->hs_r.entry.index);
	assert_int_equal(le32toh(resp.receiver_index), p->hs_i.entry.index);
	assert_int_equal(noise_consume_response(&p->hs_i, &p->i, &resp), 0);
	assert_int_equal(p->hs_i.state, NOISE_CONSUMED_RESPONSE);
	/* Both sides now hold the same transcript. */
	assert_memory_equal(p->hs_i.chaining_key, p->hs_r.chaining_key, NOISE_HASH_LEN);
	assert_memory_equal(p->hs_i.hash, p->hs_r.hash, NOISE_HASH_LEN);
	assert_int_equal(noise_derive_keypair(&p->hs_i, &p->kp_i, now), 0);
	assert_int_equal(noise_derive_keypair(&p->hs_r, &p->kp_r, now), 0);
}

static void assert_session(struct pair *p, uint64_t now)
{
	uint8_t buf[64 + CIPHER_TAG_LEN], plain[64];

	assert_true(p->kp_i.valid);
	assert_true(p->kp_r.valid);
	assert_true(p->kp_i.i_am_initiator);
	assert_false(p->kp_r.i_am_initiator);
	assert_memory_equal(p->kp_i.send_key, p->kp_r.recv_key, KEY_LEN);
	assert_memory_equal(p->kp_i.recv_key, p->kp_r.send_key, KEY_LEN);
	assert_memory_not_equal(p->kp_i.send_key, p->kp_i.recv_key, KEY_LEN);
	/* Each side's remote index is the other's own. */
	assert_int_equal(p->kp_i.remote_index, p->hs_r.entry.index);
	assert_int_equal(p->kp_r.remote_index, p->hs_i.entry.index);
	assert_int_equal(p->kp_i.send_counter, 0);
	assert_int_equal(p->kp_r.send_counter, 0);
	assert_int_equal(p->kp_i.birthdate, now);
	assert_int_equal(p->kp_i.entry.type, INDEX_KEYPAIR);
	assert_int_equal(p->kp_r.entry.type, INDEX_KEYPAIR);
	/* The handshakes are spent. */
	assert_int_equal(p->hs_i.state, NOISE_ZEROED);
	assert_int_equal(p->hs_r.state, NOISE_ZEROED);
	assert_true(cipher_is_zero(p->hs_i.chaining_key, NOISE_HASH_LEN));
	assert_true(cipher_is_zero(p->hs_r.ephemeral_private, KEY_LEN));

	/* Data both ways. */
	cipher_random(plain, sizeof(plain));
	cipher_aead_seal(buf, plain, sizeof(plain), NULL, 0, 0, p->kp_i.send_key);
	assert_int_equal(cipher_aead_open(buf, buf, sizeof(buf), NULL, 0, 0, p->kp_r.recv_key), 0);
	assert_memory_equal(buf, plain, sizeof(plain));
	cipher_aead_seal(buf, plain, sizeof(plain), NULL, 0, 5, p->kp_r.send_key);
	assert_int_equal(cipher_aead_open(buf, buf, sizeof(buf), NULL, 0, 5, p->kp_i.recv_key), 0);
	assert_memory_equal(buf, plain, sizeof(plain));
	/* Not with one's own sending key. */
	cipher_aead_seal(buf, plain, sizeof(plain), NULL, 0, 0, p->kp_i.send_key);
	assert_int_equal(cipher_aead_open(plain, buf, sizeof(buf), NULL, 0, 0, p->kp_i.recv_key),
			 -EBADMSG);
}

static void kat_handshake(const char *psk_hex, const char *init_hex, const char *resp_hex,
			  const char *send_hex, const char *recv_hex, const char *data_hex)
{
	uint8_t i_priv[32], r_priv[32], i_eph[32], r_eph[32], psk[32];
	uint8_t pkt[sizeof(struct message_data) + sizeof(KAT_DATA) - 1 + CIPHER_TAG_LEN];
	struct message_handshake_initiation init;
	struct message_handshake_response resp;
	struct message_data *data = (void *)pkt;
	struct noise_handshake *found;
	struct cookie_maker to_r, to_i;
	struct pair *p;

	unhex(i_priv, 32, kat_hs_i_static);
	unhex(r_priv, 32, kat_hs_r_static);
	unhex(i_eph, 32, kat_hs_i_ephemeral);
	unhex(r_eph, 32, kat_hs_r_ephemeral);
	p = pair_new(i_priv, r_priv);
	if (psk_hex) {
		unhex(psk, 32, psk_hex);
		pair_init(p, psk, psk);
	}
	p->hs_i.entry.index = KAT_I_INDEX;
	p->hs_r.entry.index = KAT_R_INDEX;
	cookie_maker_init(&to_r, p->r.public_key);
	cookie_maker_init(&to_i, p->i.public_key);

	script_push(i_eph, 32);
	assert_int_equal(noise_create_initiation(&p->hs_i, &p->i, &init, KAT_REALTIME_NS), 0);
	assert_int_equal(script_len, 0);
	cookie_add_macs(&to_r, (uint8_t *)&init, sizeof(init), T0);
	assert_hex(&init, sizeof(init), init_hex);

	assert_int_equal(noise_consume_initiation(&p->r, &init, lookup, &p->peers, T0, &found), 0);
	assert_ptr_equal(found, &p->hs_r);
	assert_hex(p->hs_r.latest_timestamp, NOISE_TIMESTAMP_LEN, kat_hs_timestamp);
	script_push(r_eph, 32);
	assert_int_equal(noise_create_response(&p->hs_r, &p->r, &resp), 0);
	assert_int_equal(script_len, 0);
	cookie_add_macs(&to_i, (uint8_t *)&resp, sizeof(resp), T0);
	assert_hex(&resp, sizeof(resp), resp_hex);

	assert_int_equal(noise_consume_response(&p->hs_i, &p->i, &resp), 0);
	assert_int_equal(noise_derive_keypair(&p->hs_i, &p->kp_i, T0), 0);
	assert_int_equal(noise_derive_keypair(&p->hs_r, &p->kp_r, T0), 0);
	assert_hex(p->kp_i.send_key, 32, send_hex);
	assert_hex(p->kp_i.recv_key, 32, recv_hex);
	assert_hex(p->kp_r.recv_key, 32, send_hex);
	assert_hex(p->kp_r.send_key, 32, recv_hex);

	/* The first data packet the initiator sends. */
	data->header.type = htole32(MESSAGE_DATA);
	data->key_idx = htole32(p->kp_i.remote_index);
	data->counter = htole64(0);
	cipher_aead_seal(data->encrypted_data, (const uint8_t *)KAT_DATA, sizeof(KAT_DATA) - 1,
			 NULL, 0, 0, p->kp_i.send_key);
	assert_hex(pkt, sizeof(pkt), data_hex);

	sodium_free(p->i.private_key);
	sodium_free(p->r.private_key);
	free(p);
}

static void test_kat_nopsk(void **state)
{
	kat_handshake(NULL, kat_hs_nopsk_initiation, kat_hs_nopsk_response, kat_hs_nopsk_i_send,
		      kat_hs_nopsk_i_recv, kat_hs_nopsk_data);
}

static void test_kat_psk(void **state)
{
	kat_handshake(kat_hs_psk, kat_hs_psk_initiation, kat_hs_psk_response, kat_hs_psk_i_send,
		      kat_hs_psk_i_recv, kat_hs_psk_data);
}

static void test_handshake(void **state)
{
	struct pair *p = *state;

	cached_aead_calls = 0;
	run_handshake(p, T0, WALL0);
	/* Four encrypted fields (static, timestamp, two empty), none through the data path's
	 * AEAD; assert_session() then uses it, for data. */
	assert_int_equal(cached_aead_calls, 0);
	assert_session(p, T0);
	/* And again, later, on the same handshake structs. */
	run_handshake(p, T0 + 10 * NSEC_PER_SEC, WALL0 + 10 * NSEC_PER_SEC);
	assert_session(p, T0 + 10 * NSEC_PER_SEC);
}

static void test_handshake_psk(void **state)
{
	struct pair *p = *state;
	uint8_t psk[32], first_send[32];

	cipher_random(psk, sizeof(psk));
	pair_init(p, psk, psk);
	run_handshake(p, T0, WALL0);
	assert_session(p, T0);
	memcpy(first_send, p->kp_i.send_key, sizeof(first_send));
	/* Fresh ephemerals: fresh keys every time. */
	run_handshake(p, T0 + NSEC_PER_SEC, WALL0 + NSEC_PER_SEC);
	assert_session(p, T0 + NSEC_PER_SEC);
	assert_memory_not_equal(first_send, p->kp_i.send_key, 32);
}

/* The PSK enters only in the response, so the responder cannot tell; the initiator can. */
static void psk_mismatch(struct pair *p, const uint8_t *psk_i, const uint8_t *psk_r, uint64_t now,
			 uint64_t wall)
{
	struct message_handshake_initiation init;
	struct message_handshake_response resp;
	struct noise_handshake *found, saved;

	pair_init(p, psk_i, psk_r);
	assert_int_equal(noise_create_initiation(&p->hs_i, &p->i, &init, wall), 0);
	assert_int_equal(noise_consume_initiation(&p->r, &init, lookup, &p->peers, now, &found), 0);
	assert_int_equal(noise_create_response(&p->hs_r, &p->r, &resp), 0);
	memcpy(&saved, &p->hs_i, sizeof(saved));
	assert_int_equal(noise_consume_response(&p->hs_i, &p->i, &resp), -EBADMSG);
	assert_memory_equal(&saved, &p->hs_i, sizeof(saved));
	assert_int_equal(noise_derive_keypair(&p->hs_i, &p->kp_i, now), -EINVAL);
}

static void test_psk_mismatch(void **state)
{
	struct pair *p = *state;
	uint8_t a[32], b[32];

	cipher_random(a, sizeof(a));
	cipher_random(b, sizeof(b));
	psk_mismatch(p, a, b, T0, WALL0);
	psk_mismatch(p, a, NULL, T0 + NSEC_PER_SEC, WALL0 + NSEC_PER_SEC);
	psk_mismatch(p, NULL, b, T0 + 2 * NSEC_PER_SEC, WALL0 + 2 * NSEC_PER_SEC);
	/* Agreeing again, the same structs complete a handshake. */
	pair_init(p, b, b);
	run_handshake(p, T0 + 3 * NSEC_PER_SEC, WALL0 + 3 * NSEC_PER_SEC);
	assert_session(p, T0 + 3 * NSEC_PER_SEC);
}

static void test_unknown_initiator(void **state)
{
	struct pair *p = *state;
	struct message_handshake_initiation init;
	struct noise_handshake *found = (void *)1, saved;

	memcpy(&saved, &p->hs_r, sizeof(saved));
	assert_int_equal(noise_create_initiation(&p->hs_i, &p->i, &init, WALL0), 0);
	p->peers.n = 0;
	assert_int_equal(noise_consume_initiation(&p->r, &init, lookup, &p->peers, T0, &found),
			 -ENOKEY);
	assert_null(found);
	assert_int_equal(p->peers.lookups, 1);
	assert_memory_equal(&saved, &p->hs_r, sizeof(saved));
	/* Known now: the same message goes through. */
	p->peers.n = 1;
	assert_int_equal(noise_consume_initiation(&p->r, &init, lookup, &p->peers, T0, &found), 0);
	assert_ptr_equal(found, &p->hs_r);
}

/* An initiation meant for someone else does not even decrypt its static key. */
static void test_wrong_responder(void **state)
{
	struct pair *p = *state;
	struct message_handshake_initiation init;
	struct noise_handshake *found;
	struct noise_local other = { 0 };

	local_set(&other, NULL);
	assert_int_equal(noise_create_initiation(&p->hs_i, &p->i, &init, WALL0), 0);
	assert_int_equal(noise_consume_initiation(&other, &init, lookup, &p->peers, T0, &found),
			 -EBADMSG);
	assert_int_equal(p->peers.lookups, 0);
	sodium_free(other.private_key);
}

static void test_replay(void **state)
{
	struct pair *p = *state;
	struct message_handshake_initiation init;
	struct message_handshake_response resp;
	struct noise_handshake *found, saved;

	assert_int_equal(noise_create_initiation(&p->hs_i, &p->i, &init, WALL0), 0);
	assert_int_equal(noise_consume_initiation(&p->r, &init, lookup, &p->peers, T0, &found), 0);
	memcpy(&saved, &p->hs_r, sizeof(saved));
	/* Seconds later, well past the flood limit: still the same timestamp. */
	assert_int_equal(noise_consume_initiation(&p->r, &init, lookup, &p->peers,
						  T0 + 5 * NSEC_PER_SEC, &found),
			 -EALREADY);
	assert_null(found);
	assert_memory_equal(&saved, &p->hs_r, sizeof(saved));
	/* Even after the responder answered and derived a session. */
	assert_int_equal(noise_create_response(&p->hs_r, &p->r, &resp), 0);
	assert_int_equal(noise_derive_keypair(&p->hs_r, &p->kp_r, T0), 0);
	assert_int_equal(noise_consume_initiation(&p->r, &init, lookup, &p->peers,
						  T0 + 10 * NSEC_PER_SEC, &found),
			 -EALREADY);
}

static void test_older_timestamp(void **state)
{
	struct pair *p = *state;
	struct message_handshake_initiation newer, older, same;
	struct noise_handshake *found;

	assert_int_equal(noise_create_initiation(&p->hs_i, &p->i, &older, WALL0), 0);
	/* Within the same 2^24 ns step the timestamp does not move. */
	assert_int_equal(noise_create_initiation(&p->hs_i, &p->i, &same, WALL0 + 1000), 0);
	assert_int_equal(noise_create_initiation(&p->hs_i, &p->i, &newer, WALL0 + NSEC_PER_SEC), 0);
	assert_int_equal(noise_consume_initiation(&p->r, &newer, lookup, &p->peers, T0, &found), 0);
	assert_int_equal(noise_consume_initiation(&p->r, &older, lookup, &p->peers,
						  T0 + NSEC_PER_SEC, &found),
			 -EALREADY);
	/* A fresh responder takes the older one, but then not its twin from the same step. */
	memset(p->hs_r.latest_timestamp, 0, NOISE_TIMESTAMP_LEN);
	assert_int_equal(noise_consume_initiation(&p->r, &older, lookup, &p->peers,
						  T0 + 2 * NSEC_PER_SEC, &found),
			 0);
	assert_int_equal(noise_consume_initiation(&p->r, &same, lookup, &p->peers,
						  T0 + 3 * NSEC_PER_SEC, &found),
			 -EALREADY);
}

static void test_flood(void **state)
{
	struct pair *p = *state;
	struct message_handshake_initiation a, b;
	struct message_handshake_response resp;
	struct noise_handshake *found, saved;

	assert_int_equal(noise_create_initiation(&p->hs_i, &p->i, &a, WALL0), 0);
	assert_int_equal(noise_create_initiation(&p->hs_i, &p->i, &b, WALL0 + NSEC_PER_SEC), 0);
	assert_int_equal(noise_consume_initiation(&p->r, &a, lookup, &p->peers, T0, &found), 0);
	memcpy(&saved, &p->hs_r, sizeof(saved));
	assert_int_equal(noise_consume_initiation(&p->r, &b, lookup, &p->peers, T0 + 1, &found),
			 -EBUSY);
	assert_int_equal(noise_consume_initiation(&p->r, &b, lookup, &p->peers, T0 + FLOOD_GAP - 1,
						  &found),
			 -EBUSY);
	assert_null(found);
	assert_memory_equal(&saved, &p->hs_r, sizeof(saved));
	/* The refused one was not remembered, so it still counts as new. */
	assert_int_equal(noise_consume_initiation(&p->r, &b, lookup, &p->peers, T0 + FLOOD_GAP,
						  &found),
			 0);
	/* And the genuine latest one completes. */
	assert_int_equal(noise_create_response(&p->hs_r, &p->r, &resp), 0);
	assert_int_equal(noise_consume_response(&p->hs_i, &p->i, &resp), 0);
	assert_int_equal(noise_derive_keypair(&p->hs_i, &p->kp_i, T0), 0);
	assert_int_equal(noise_derive_keypair(&p->hs_r, &p->kp_r, T0), 0);
	assert_session(p, T0);
}

/* Flip every bit of every authenticated field: never a success, never a change. */
static void test_initiation_bitflips(void **state)
{
	struct pair *p = *state;
	struct message_handshake_initiation init, bad;
	struct noise_handshake *found, saved;
	size_t from = offsetof(struct message_handshake_initiation, unencrypted_ephemeral);
	size_t to = offsetof(struct message_handshake_initiation, macs);
	unsigned failures = 0;

	assert_int_equal(noise_create_initiation(&p->hs_i, &p->i, &init, WALL0), 0);
	memcpy(&saved, &p->hs_r, sizeof(saved));
	for (size_t byte = from; byte < to; byte++) {
		for (int bit = 0; bit < 8; bit++) {
			int ret;

			bad = init;
			((uint8_t *)&bad)[byte] ^= (uint8_t)(1 << bit);
			ret = noise_consume_initiation(&p->r, &bad, lookup, &p->peers, T0, &found);
			assert_int_not_equal(ret, 0);
			assert_true(ret == -EBADMSG || ret == -ENOKEY);
			assert_null(found);
			failures++;
		}
	}
	assert_int_equal(failures, 8 * (32 + 48 + 28));
	assert_memory_equal(&saved, &p->hs_r, sizeof(saved));
	assert_int_equal(noise_consume_initiation(&p->r, &init, lookup, &p->peers, T0, &found), 0);
}

/* A forged or damaged response must not cost the initiator its handshake. */
static void test_response_failures_keep_state(void **state)
{
	struct pair *p = *state;
	struct message_handshake_initiation init;
	struct message_handshake_response resp, bad;
	struct noise_handshake *found, saved;
	size_t from = offsetof(struct message_handshake_response, unencrypted_ephemeral);
	size_t to = offsetof(struct message_handshake_response, macs);

	assert_int_equal(noise_create_initiation(&p->hs_i, &p->i, &init, WALL0), 0);
	assert_int_equal(noise_consume_initiation(&p->r, &init, lookup, &p->peers, T0, &found), 0);
	assert_int_equal(noise_create_response(&p->hs_r, &p->r, &resp), 0);
	memcpy(&saved, &p->hs_i, sizeof(saved));
	for (size_t byte = from; byte < to; byte++) {
		for (int bit = 0; bit < 8; bit++) {
			bad = resp;
			((uint8_t *)&bad)[byte] ^= (uint8_t)(1 << bit);
			assert_int_equal(noise_consume_response(&p->hs_i, &p->i, &bad), -EBADMSG);
		}
	}
	/* A low-order ephemeral. */
	bad = resp;
	memset(bad.unencrypted_ephemeral, 0, sizeof(bad.unencrypted_ephemeral));
	assert_int_equal(noise_consume_response(&p->hs_i, &p->i, &bad), -EBADMSG);
	assert_memory_equal(&saved, &p->hs_i, sizeof(saved));

	assert_int_equal(noise_consume_response(&p->hs_i, &p->i, &resp), 0);
	/* Only once. */
	assert_int_equal(noise_consume_response(&p->hs_i, &p->i, &resp), -EINVAL);
	assert_int_equal(noise_derive_keypair(&p->hs_i, &p->kp_i, T0), 0);
	assert_int_equal(noise_derive_keypair(&p->hs_r, &p->kp_r, T0), 0);
	assert_session(p, T0);
}

static void test_low_order_ephemeral(void **state)
{
	static const char *const points[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	};
	struct pair *p = *state;
	struct message_handshake_initiation init, bad;
	struct noise_handshake *found;

	assert_int_equal(noise_create_initiation(&p->hs_i, &p->i, &init, WALL0), 0);
	for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
		bad = init;
		unhex(bad.unencrypted_ephemeral, 32, points[i]);
		assert_int_equal(noise_consume_initiation(&p->r, &bad, lookup, &p->peers, T0,
							  &found),
				 -EBADMSG);
		assert_null(found);
	}
	assert_int_equal(p->peers.lookups, 0);
}

static void test_wrong_state(void **state)
{
	struct pair *p = *state;
	struct message_handshake_initiation init;
	struct message_handshake_response resp;
	struct noise_handshake *found;

	/* Nothing consumed yet. */
	assert_int_equal(noise_create_response(&p->hs_r, &p->r, &resp), -EINVAL);
	assert_int_equal(noise_derive_keypair(&p->hs_r, &p->kp_r, T0), -EINVAL);
	assert_false(p->kp_r.valid);
	/* A response to an initiation we never made. */
	assert_int_equal(noise_create_initiation(&p->hs_i, &p->i, &init, WALL0), 0);
	assert_int_equal(noise_consume_initiation(&p->r, &init, lookup, &p->peers, T0, &found), 0);
	assert_int_equal(noise_create_response(&p->hs_r, &p->r, &resp), 0);
	noise_handshake_clear(&p->hs_i);
	assert_int_equal(noise_consume_response(&p->hs_i, &p->i, &resp), -EINVAL);
	/* The initiator has not finished. */
	assert_int_equal(noise_create_initiation(&p->hs_i, &p->i, &init, WALL0 + NSEC_PER_SEC), 0);
	assert_int_equal(noise_derive_keypair(&p->hs_i, &p->kp_i, T0), -EINVAL);
	/* A responder cannot answer twice. */
	assert_int_equal(noise_consume_initiation(&p->r, &init, lookup, &p->peers,
						  T0 + NSEC_PER_SEC, &found),
			 0);
	assert_int_equal(noise_create_response(&p->hs_r, &p->r, &resp), 0);
	assert_int_equal(noise_create_response(&p->hs_r, &p->r, &resp), -EINVAL);
}

static void test_no_identity(void **state)
{
	struct pair *p = *state;
	struct message_handshake_initiation init;
	struct noise_handshake *found;
	struct noise_local none = { 0 };
	uint8_t low_order[32] = { 0 };

	assert_int_equal(noise_create_initiation(&p->hs_i, &none, &init, WALL0), -ENOKEY);
	assert_int_equal(noise_create_initiation(&p->hs_i, &p->i, &init, WALL0), 0);
	assert_int_equal(noise_consume_initiation(&none, &init, lookup, &p->peers, T0, &found),
			 -ENOKEY);
	/* A peer whose static key is of low order has no static-static secret. */
	noise_handshake_init(&p->hs_i, &p->i, low_order, NULL);
	assert_true(cipher_is_zero(p->hs_i.precomputed_static_static, KEY_LEN));
	assert_int_equal(noise_create_initiation(&p->hs_i, &p->i, &init, WALL0), -EINVAL);
	assert_int_equal(p->hs_i.state, NOISE_ZEROED);
}

/* After our key changes, the peer's old view of us no longer works, and a fresh one does. */
static void test_identity_change(void **state)
{
	struct pair *p = *state;
	struct message_handshake_initiation init;
	struct noise_handshake *found;

	assert_int_equal(noise_create_initiation(&p->hs_i, &p->i, &init, WALL0), 0);
	local_set(&p->r, NULL);
	noise_handshake_set_local(&p->hs_r, &p->r);
	assert_int_equal(noise_consume_initiation(&p->r, &init, lookup, &p->peers, T0, &found),
			 -EBADMSG);
	noise_handshake_init(&p->hs_i, &p->i, p->r.public_key, NULL);
	run_handshake(p, T0, WALL0 + NSEC_PER_SEC);
	assert_session(p, T0);
}

static void test_keypair_wipe(void **state)
{
	struct pair *p = *state;

	run_handshake(p, T0, WALL0);
	noise_keypair_wipe(&p->kp_i);
	assert_false(p->kp_i.valid);
	assert_true(cipher_is_zero(p->kp_i.send_key, KEY_LEN));
	assert_true(cipher_is_zero(p->kp_i.recv_key, KEY_LEN));
}

static void test_tai64n(void **state)
{
	uint8_t a[NOISE_TIMESTAMP_LEN], b[NOISE_TIMESTAMP_LEN];
	static const uint8_t epoch[] = { 0x40, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0 };
	static const uint8_t later[] = { 0x40, 0, 0, 0, 0x01, 0x02, 0x03, 0x0e, 0x3b, 0, 0, 0 };
	uint64_t t;

	/* TAI64 label 2^62 + 10 at the Unix epoch, all big-endian. */
	noise_tai64n(a, 0);
	assert_memory_equal(a, epoch, sizeof(epoch));
	noise_tai64n(a, 0x01020304ULL * NSEC_PER_SEC + 999999999);
	/* 999999999 ns rounds down to 59 * 2^24 = 0x3b000000. */
	assert_memory_equal(a, later, sizeof(later));

	/* Rounded down to 2^24 ns, which is less than 1/50 s. */
	assert_true((1ULL << 24) <= NSEC_PER_SEC / INITIATIONS_PER_SECOND);
	for (int i = 0; i < 1000; i++) {
		uint32_t ns;

		t = WALL0 + (uint64_t)cipher_random_uniform(UINT32_MAX);
		noise_tai64n(a, t);
		ns = (uint32_t)a[8] << 24 | (uint32_t)a[9] << 16 | (uint32_t)a[10] << 8 | a[11];
		assert_int_equal(ns & ((1U << 24) - 1), 0);
		assert_true(ns <= t % NSEC_PER_SEC);
		assert_true(t % NSEC_PER_SEC - ns < (1U << 24));
	}

	/* Monotonic, and strictly so at the flood interval. */
	t = WALL0;
	noise_tai64n(a, t);
	for (int i = 0; i < 10000; i++) {
		t += cipher_random_uniform(50 * NSEC_PER_MSEC);
		noise_tai64n(b, t);
		assert_true(memcmp(a, b, sizeof(a)) <= 0);
		memcpy(a, b, sizeof(a));
		noise_tai64n(b, t + NSEC_PER_SEC / INITIATIONS_PER_SECOND);
		assert_true(memcmp(a, b, sizeof(a)) < 0);
	}
	noise_tai64n(a, NSEC_PER_SEC - 1);
	noise_tai64n(b, NSEC_PER_SEC);
	assert_true(memcmp(a, b, sizeof(a)) < 0);
}

#define PAIR_TEST(f) cmocka_unit_test_setup_teardown(f, pair_setup, pair_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kat_nopsk),    cmocka_unit_test(test_kat_psk),
		PAIR_TEST(test_handshake),           PAIR_TEST(test_handshake_psk),
		PAIR_TEST(test_psk_mismatch),        PAIR_TEST(test_unknown_initiator),
		PAIR_TEST(test_wrong_responder),     PAIR_TEST(test_replay),
		PAIR_TEST(test_older_timestamp),     PAIR_TEST(test_flood),
		PAIR_TEST(test_initiation_bitflips), PAIR_TEST(test_response_failures_keep_state),
		PAIR_TEST(test_low_order_ephemeral), PAIR_TEST(test_wrong_state),
		PAIR_TEST(test_no_identity),         PAIR_TEST(test_identity_change),
		PAIR_TEST(test_keypair_wipe),        cmocka_unit_test(test_tai64n),
	};

	return cmocka_run_group_tests_name("noise", tests, cipher_setup, NULL);
}
