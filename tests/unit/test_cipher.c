/* Primitives against answers from implementations that share no code with ours: BLAKE2s,
 * HMAC and HKDF from Python's hashlib/hmac, ChaCha20-Poly1305 from OpenSSL (through Python's
 * `cryptography`) and RFC 8439, XChaCha20 from an HChaCha20 written after the draft, X25519
 * from RFC 7748. tests/unit/gen-kat.py prints the kat_* constants below; rerun it to check
 * them.
 *
 * The AEAD tests run twice, with libsodium and with BoringSSL (the default) forced
 * (cipher_aead_select), and the two libraries are held against each other at every size a
 * datagram can have. BoringSSL's EVP_AEAD calls are wrapped to count which library really
 * ran and how often a context was handed a key, and to make one fail; its allocator is
 * counted (the weak hooks it calls when a program defines them) to show the path allocates
 * nothing once a thread has made its first call.
 * LINK-WRAP: -Wl,--wrap=EVP_AEAD_CTX_init -Wl,--wrap=EVP_AEAD_CTX_seal_scatter -Wl,--wrap=EVP_AEAD_CTX_open_gather */
#include <errno.h>
#include <malloc.h>
#include <openssl/aead.h> /* BoringSSL's: the Makefile gives this test BSSL_CFLAGS */
#include <pthread.h>
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
#include "unit.h"

/* Seals and opens that went through BoringSSL, and how often a context was handed a key (a
 * context keeps its key). Counted on the calling thread. */
static __thread unsigned evp_calls, evp_keyings;
/* Contexts set to the all-zero key, which is how a thread's contexts are wiped when it
 * ends: counted over every thread. */
static _Atomic unsigned evp_wipes;
/* Set to make this thread's next EVP_AEAD_CTX_init, or seal, fail as BoringSSL could. */
static __thread bool evp_fail_init, evp_fail_seal;

int __real_EVP_AEAD_CTX_init(EVP_AEAD_CTX *ctx, const EVP_AEAD *aead, const uint8_t *key,
			     size_t key_len, size_t tag_len, ENGINE *impl);
int __real_EVP_AEAD_CTX_seal_scatter(const EVP_AEAD_CTX *ctx, uint8_t *out, uint8_t *out_tag,
				     size_t *out_tag_len, size_t max_out_tag_len,
				     const uint8_t *nonce, size_t nonce_len, const uint8_t *in,
				     size_t in_len, const uint8_t *extra_in, size_t extra_in_len,
				     const uint8_t *ad, size_t ad_len);
int __real_EVP_AEAD_CTX_open_gather(const EVP_AEAD_CTX *ctx, uint8_t *out, const uint8_t *nonce,
				    size_t nonce_len, const uint8_t *in, size_t in_len,
				    const uint8_t *in_tag, size_t in_tag_len, const uint8_t *ad,
				    size_t ad_len);
int __wrap_EVP_AEAD_CTX_init(EVP_AEAD_CTX *ctx, const EVP_AEAD *aead, const uint8_t *key,
			     size_t key_len, size_t tag_len, ENGINE *impl);
int __wrap_EVP_AEAD_CTX_seal_scatter(const EVP_AEAD_CTX *ctx, uint8_t *out, uint8_t *out_tag,
				     size_t *out_tag_len, size_t max_out_tag_len,
				     const uint8_t *nonce, size_t nonce_len, const uint8_t *in,
				     size_t in_len, const uint8_t *extra_in, size_t extra_in_len,
				     const uint8_t *ad, size_t ad_len);
int __wrap_EVP_AEAD_CTX_open_gather(const EVP_AEAD_CTX *ctx, uint8_t *out, const uint8_t *nonce,
				    size_t nonce_len, const uint8_t *in, size_t in_len,
				    const uint8_t *in_tag, size_t in_tag_len, const uint8_t *ad,
				    size_t ad_len);

int __wrap_EVP_AEAD_CTX_init(EVP_AEAD_CTX *ctx, const EVP_AEAD *aead, const uint8_t *key,
			     size_t key_len, size_t tag_len, ENGINE *impl)
{
	if (sodium_is_zero(key, key_len))
		evp_wipes++;
	else
		evp_keyings++;
	if (evp_fail_init) {
		evp_fail_init = false;
		return 0;
	}
	return __real_EVP_AEAD_CTX_init(ctx, aead, key, key_len, tag_len, impl);
}

int __wrap_EVP_AEAD_CTX_seal_scatter(const EVP_AEAD_CTX *ctx, uint8_t *out, uint8_t *out_tag,
				     size_t *out_tag_len, size_t max_out_tag_len,
				     const uint8_t *nonce, size_t nonce_len, const uint8_t *in,
				     size_t in_len, const uint8_t *extra_in, size_t extra_in_len,
				     const uint8_t *ad, size_t ad_len)
{
	evp_calls++;
	if (evp_fail_seal) {
		evp_fail_seal = false;
		/* What BoringSSL does with its output when a seal fails. */
		memset(out, 0, in_len);
		memset(out_tag, 0, max_out_tag_len);
		*out_tag_len = 0;
		return 0;
	}
	return __real_EVP_AEAD_CTX_seal_scatter(ctx, out, out_tag, out_tag_len, max_out_tag_len,
						nonce, nonce_len, in, in_len, extra_in,
						extra_in_len, ad, ad_len);
}

int __wrap_EVP_AEAD_CTX_open_gather(const EVP_AEAD_CTX *ctx, uint8_t *out, const uint8_t *nonce,
				    size_t nonce_len, const uint8_t *in, size_t in_len,
				    const uint8_t *in_tag, size_t in_tag_len, const uint8_t *ad,
				    size_t ad_len)
{
	evp_calls++;
	return __real_EVP_AEAD_CTX_open_gather(ctx, out, nonce, nonce_len, in, in_len, in_tag,
					       in_tag_len, ad, ad_len);
}

/* BoringSSL's allocations, on any thread: it calls these when the program defines them. */
static _Atomic long bssl_allocs, bssl_frees;

void *OPENSSL_memory_alloc(size_t size);
void OPENSSL_memory_free(void *ptr);
size_t OPENSSL_memory_get_size(void *ptr);

void *OPENSSL_memory_alloc(size_t size)
{
	bssl_allocs++;
	return malloc(size);
}

void OPENSSL_memory_free(void *ptr)
{
	if (ptr)
		bssl_frees++;
	free(ptr);
}

size_t OPENSSL_memory_get_size(void *ptr)
{
	return malloc_usable_size(ptr);
}

/* --- Printed by tests/unit/gen-kat.py --- */
static const char kat_blake2s_empty[] =
	"69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9";
static const char kat_blake2s_abc[] =
	"508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982";
static const char kat_blake2s_concat[] =
	"60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36";
static const char kat_mac16_k32[] = "70e89034d313d360ff0f2eee39ad6dcd";
static const char kat_mac16_k16[] = "3d0b1937cb97a6e15363e5379bed8564";
static const char kat_hmac_k32[] =
	"282e4174903c66aab31e793223b40050b65b6ece22d81d486217373bbc8e0370";
static const char kat_hmac_k64[] =
	"ea5e6e50d6f3d4ac30dcfaee991dddde3627934477d753941cc404f2fcf761ab";
static const char kat_hmac_k100[] =
	"9e0ffde30ff7bc49be7ffa32f36a4b2f372c02cda6e5535f00577305c17ef589";
static const char kat_hmac_empty_msg[] =
	"8f4024f8224ec95a20d7f2db82f55030d16a7e76789a56cba00eb65bca653e6f";
static const char kat_kdf_t1[] = "243ea2fae11da4140e28a0ec93ec3e7bb4fa87fef6909903944ed30a3c75b46a";
static const char kat_kdf_t2[] = "f01db0fdf71327345be8f10b0883f293af42575224a20b4612081446970c3ea8";
static const char kat_kdf_t3[] = "dd67556fd4f5087c4bdfe801be39fcaad761590c5bc5e6c7f67e661339bc409e";
static const char kat_kdf_empty_t1[] =
	"bd968725a9177942a8c2e4253d1dde31cf7b19ec001b4a3a3d141cd9d998d3ba";
static const char kat_kdf_empty_t2[] =
	"aab5462b323780fa615bf80ffe469510239ff361575a663968e686a7ae41d693";
static const char kat_aead_c0[] = "663d7ec45b29ceaaa35505b8c1b3d94613a50fd7e315a748d35a378670746af8"
				  "67ab3404fe7b7655b904162b408190f3f8c781815bb8724e4ac22ea6351d3846"
				  "8cd370aa8ffb19e96edc915893cc6e1861c2af01ab0fb02df97ea145499bb87d"
				  "44ec7d738272327290570a03658b27b116665c21ea189f9450ff121509fd8142"
				  "befc";
static const char kat_aead_c1[] = "af7010641b0c07870c61fa51ef1af2867c2249b03f466826b4fc74ef71d8eebc"
				  "3d7d03d408fbc5a69c28a1f237a6be6387273db104002a892278305905a3c558"
				  "45adcffe878ddbe19d2115ab93a373ac405212f8baf098ce405cb46395c59b52"
				  "13cd6afa4dea5ed377ecb2bfa4cfdce9716109473dbdcf154e6e253e74791836"
				  "8410";
static const char kat_aead_cbig[] =
	"b8d08ad235a97bbc4dd551cc6b1911b3961e31851245f58e7f581dbe0627e811"
	"f7465bd39dd94d5546bf48ac1a2dd43cbda6f795d215ec93abb888192adfa41a"
	"10ee4bb956f2bbbe7294b33f513dbeeba962d9c2f8cc18c88a9171bebc9ffb11"
	"6a4383f49408e055ad9ca5fa75dccb65b94fd963bce6a7bfba85f5b845fd1ee7"
	"f5f1";
static const char kat_aead_empty_c7[] = "e69a4e87ebac391984c1cd45c9942a5b";
static const char kat_xaead[] = "f10d71f75ff5f25df31b7dd8faa3935a7b2488d518274b826f1d16796e59e5e7";
/* --- end of gen-kat.py output --- */

static void test_blake2s(void **state)
{
	uint8_t out[CIPHER_HASH_LEN];
	const char *split = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";

	cipher_hash(out, (const uint8_t *)"", 0, NULL, 0);
	assert_hex(out, sizeof(out), kat_blake2s_empty);
	cipher_hash(out, (const uint8_t *)"abc", 3, NULL, 0);
	assert_hex(out, sizeof(out), kat_blake2s_abc);
	/* Hash(a || b) does not depend on where the split is. */
	cipher_hash(out, (const uint8_t *)split, 13, (const uint8_t *)split + 13,
		    strlen(split) - 13);
	assert_hex(out, sizeof(out), kat_blake2s_concat);
	cipher_hash(out, (const uint8_t *)split, strlen(split), NULL, 0);
	assert_hex(out, sizeof(out), kat_blake2s_concat);
	cipher_hash(out, (const uint8_t *)split, 0, (const uint8_t *)split, strlen(split));
	assert_hex(out, sizeof(out), kat_blake2s_concat);
	/* The handshake hashes in place: out may be a. */
	memcpy(out, split, 13);
	cipher_hash(out, out, 13, (const uint8_t *)split + 13, strlen(split) - 13);
	assert_hex(out, sizeof(out), kat_blake2s_concat);
}

static void test_mac(void **state)
{
	uint8_t key[32], msg[100], out[16];

	pattern(key, sizeof(key), 0x00);
	pattern(msg, sizeof(msg), 0x40);
	cipher_mac(out, sizeof(out), key, 32, msg, sizeof(msg));
	assert_hex(out, sizeof(out), kat_mac16_k32);
	cipher_mac(out, sizeof(out), key, 16, msg, sizeof(msg));
	assert_hex(out, sizeof(out), kat_mac16_k16);
}

static void test_hmac(void **state)
{
	static const char msg[] = "sealnet hmac known answer";
	uint8_t key[100], out[CIPHER_HASH_LEN];

	pattern(key, 32, 0x10);
	cipher_hmac(out, key, 32, (const uint8_t *)msg, strlen(msg));
	assert_hex(out, sizeof(out), kat_hmac_k32);
	cipher_hmac(out, key, 32, NULL, 0);
	assert_hex(out, sizeof(out), kat_hmac_empty_msg);
	pattern(key, 64, 0x20);
	cipher_hmac(out, key, 64, (const uint8_t *)msg, strlen(msg));
	assert_hex(out, sizeof(out), kat_hmac_k64);
	pattern(key, 100, 0x30);
	cipher_hmac(out, key, 100, (const uint8_t *)msg, strlen(msg));
	assert_hex(out, sizeof(out), kat_hmac_k100);
}

static void kdf_ck(uint8_t ck[CIPHER_HASH_LEN])
{
	static const char c[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";

	cipher_hash(ck, (const uint8_t *)c, strlen(c), NULL, 0);
}

static void test_kdf(void **state)
{
	uint8_t ck[CIPHER_HASH_LEN], in[32], t1[32], t2[32], t3[32];

	kdf_ck(ck);
	pattern(in, sizeof(in), 0x80);

	memset(t1, 0xaa, sizeof(t1));
	cipher_kdf(t1, NULL, NULL, ck, in, sizeof(in));
	assert_hex(t1, 32, kat_kdf_t1);

	memset(t1, 0xaa, sizeof(t1));
	memset(t2, 0xaa, sizeof(t2));
	cipher_kdf(t1, t2, NULL, ck, in, sizeof(in));
	assert_hex(t1, 32, kat_kdf_t1);
	assert_hex(t2, 32, kat_kdf_t2);

	memset(t3, 0xaa, sizeof(t3));
	cipher_kdf(t1, t2, t3, ck, in, sizeof(in));
	assert_hex(t1, 32, kat_kdf_t1);
	assert_hex(t2, 32, kat_kdf_t2);
	assert_hex(t3, 32, kat_kdf_t3);

	/* The transport keys: Kdf2(Ck, empty). */
	cipher_kdf(t1, t2, NULL, ck, NULL, 0);
	assert_hex(t1, 32, kat_kdf_empty_t1);
	assert_hex(t2, 32, kat_kdf_empty_t2);
}

/* Noise writes the new chaining key over the old one: t1 may be ck. */
static void test_kdf_in_place(void **state)
{
	uint8_t ck[CIPHER_HASH_LEN], in[32], t2[32], t3[32];

	pattern(in, sizeof(in), 0x80);
	kdf_ck(ck);
	cipher_kdf(ck, NULL, NULL, ck, in, sizeof(in));
	assert_hex(ck, 32, kat_kdf_t1);
	kdf_ck(ck);
	cipher_kdf(ck, t2, t3, ck, in, sizeof(in));
	assert_hex(ck, 32, kat_kdf_t1);
	assert_hex(t2, 32, kat_kdf_t2);
	assert_hex(t3, 32, kat_kdf_t3);
}

/* RFC 7748 §6.1. */
static const char alice_priv[] = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
static const char alice_pub[] = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
static const char bob_priv[] = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
static const char bob_pub[] = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
static const char shared[] = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

static void test_x25519_rfc7748(void **state)
{
	uint8_t a[32], b[32], apub[32], bpub[32], k[32];

	unhex(a, 32, alice_priv);
	unhex(b, 32, bob_priv);
	assert_int_equal(cipher_public_key(apub, a), 0);
	assert_hex(apub, 32, alice_pub);
	assert_int_equal(cipher_public_key(bpub, b), 0);
	assert_hex(bpub, 32, bob_pub);
	assert_int_equal(cipher_dh(k, a, bpub), 0);
	assert_hex(k, 32, shared);
	memset(k, 0, sizeof(k));
	assert_int_equal(cipher_dh(k, b, apub), 0);
	assert_hex(k, 32, shared);
}

/* Points of small order give an all-zero shared secret whatever our scalar: a peer could
 * force a known "secret" with them. */
static void test_x25519_low_order(void **state)
{
	static const char *const points[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	};
	uint8_t priv[32], pub[32], out[32];

	cipher_generate_private(priv);
	for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
		unhex(pub, 32, points[i]);
		memset(out, 0xaa, sizeof(out));
		assert_int_equal(cipher_dh(out, priv, pub), -EINVAL);
		/* Nothing half-computed is left for a careless caller to use. */
		assert_true(cipher_is_zero(out, sizeof(out)));
	}
}

static void test_generate_private(void **state)
{
	uint8_t priv[32], pub[32], other[32], other_pub[32], k1[32], k2[32];

	for (int i = 0; i < 64; i++) {
		cipher_generate_private(priv);
		assert_int_equal(priv[0] & 7, 0);
		assert_int_equal(priv[31] & 0x80, 0);
		assert_int_equal(priv[31] & 0x40, 0x40);
	}
	cipher_generate_private(other);
	assert_memory_not_equal(priv, other, 32);
	assert_int_equal(cipher_public_key(pub, priv), 0);
	assert_int_equal(cipher_public_key(other_pub, other), 0);
	assert_int_equal(cipher_dh(k1, priv, other_pub), 0);
	assert_int_equal(cipher_dh(k2, other, pub), 0);
	assert_memory_equal(k1, k2, 32);
	/* (out must not be pub: Debian's libsodium 1.0.18 X25519 gives a wrong result when
	 * they are one buffer. Nothing in the daemon does that.) */
}

static const char aead_text[] = "Ladies and Gentlemen of the class of '99: If I could offer you "
				"only one tip for the future, sunscreen would be it.";
static const uint8_t aead_ad[] = { 0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1,
				   0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7 };
#define TEXT_LEN (sizeof(aead_text) - 1)

static void test_aead_kat(void **state)
{
	uint8_t key[32], out[TEXT_LEN + CIPHER_TAG_LEN], plain[TEXT_LEN];

	pattern(key, sizeof(key), 0x80);
	cipher_aead_seal(out, (const uint8_t *)aead_text, TEXT_LEN, aead_ad, sizeof(aead_ad), 0,
			 key);
	assert_hex(out, sizeof(out), kat_aead_c0);
	cipher_aead_seal(out, (const uint8_t *)aead_text, TEXT_LEN, aead_ad, sizeof(aead_ad), 1,
			 key);
	assert_hex(out, sizeof(out), kat_aead_c1);
	/* Byte order of the counter in the nonce. */
	cipher_aead_seal(out, (const uint8_t *)aead_text, TEXT_LEN, aead_ad, sizeof(aead_ad),
			 0x0102030405060708ULL, key);
	assert_hex(out, sizeof(out), kat_aead_cbig);
	assert_int_equal(cipher_aead_open(plain, out, sizeof(out), aead_ad, sizeof(aead_ad),
					  0x0102030405060708ULL, key),
			 0);
	assert_memory_equal(plain, aead_text, TEXT_LEN);
	/* A keepalive: nothing but the tag. */
	cipher_aead_seal(out, NULL, 0, NULL, 0, 7, key);
	assert_hex(out, CIPHER_TAG_LEN, kat_aead_empty_c7);
	assert_int_equal(cipher_aead_open(NULL, out, CIPHER_TAG_LEN, NULL, 0, 7, key), 0);
	assert_int_equal(cipher_aead_open(NULL, out, CIPHER_TAG_LEN, NULL, 0, 6, key), -EBADMSG);
}

/* The nonce is 32 zero bits then the counter little-endian: the same as libsodium's IETF
 * construction given that nonce spelled out. */
static void test_aead_nonce_layout(void **state)
{
	static const uint64_t counters[] = { 0, 1, 255, 256, 0x1122334455667788ULL, UINT64_MAX };
	uint8_t key[32], ours[TEXT_LEN + CIPHER_TAG_LEN], theirs[TEXT_LEN + CIPHER_TAG_LEN];
	uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];

	cipher_random(key, sizeof(key));
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		memset(nonce, 0, 4);
		for (int j = 0; j < 8; j++)
			nonce[4 + j] = (uint8_t)(counters[i] >> (8 * j));
		cipher_aead_seal(ours, (const uint8_t *)aead_text, TEXT_LEN, aead_ad,
				 sizeof(aead_ad), counters[i], key);
		crypto_aead_chacha20poly1305_ietf_encrypt(theirs, NULL, (const uint8_t *)aead_text,
							  TEXT_LEN, aead_ad, sizeof(aead_ad), NULL,
							  nonce, key);
		assert_memory_equal(ours, theirs, sizeof(ours));
	}
}

static void test_aead_round_trip(void **state)
{
	uint8_t key[32], c1[TEXT_LEN + CIPHER_TAG_LEN], c2[sizeof(c1)], buf[sizeof(c1)];
	uint8_t plain[TEXT_LEN];

	cipher_random(key, sizeof(key));
	cipher_aead_seal(c1, (const uint8_t *)aead_text, TEXT_LEN, aead_ad, sizeof(aead_ad), 1,
			 key);
	cipher_aead_seal(c2, (const uint8_t *)aead_text, TEXT_LEN, aead_ad, sizeof(aead_ad), 2,
			 key);
	/* Same key and text, another counter: another keystream and another tag. */
	assert_memory_not_equal(c1, c2, TEXT_LEN);
	assert_memory_not_equal(c1 + TEXT_LEN, c2 + TEXT_LEN, CIPHER_TAG_LEN);

	assert_int_equal(cipher_aead_open(plain, c1, sizeof(c1), aead_ad, sizeof(aead_ad), 1, key),
			 0);
	assert_memory_equal(plain, aead_text, TEXT_LEN);
	assert_int_equal(cipher_aead_open(plain, c1, sizeof(c1), aead_ad, sizeof(aead_ad), 2, key),
			 -EBADMSG);
	assert_int_equal(cipher_aead_open(plain, c2, sizeof(c2), aead_ad, sizeof(aead_ad), 2, key),
			 0);
	assert_int_equal(cipher_aead_open(plain, c1, sizeof(c1), aead_ad, sizeof(aead_ad) - 1, 1,
					  key),
			 -EBADMSG);
	assert_int_equal(cipher_aead_open(plain, c1, sizeof(c1), NULL, 0, 1, key), -EBADMSG);

	/* In place, as the datapath does it. */
	memcpy(buf, aead_text, TEXT_LEN);
	cipher_aead_seal(buf, buf, TEXT_LEN, aead_ad, sizeof(aead_ad), 1, key);
	assert_memory_equal(buf, c1, sizeof(c1));
	assert_int_equal(cipher_aead_open(buf, buf, sizeof(buf), aead_ad, sizeof(aead_ad), 1, key),
			 0);
	assert_memory_equal(buf, aead_text, TEXT_LEN);

	/* Shorter than a tag. */
	assert_int_equal(cipher_aead_open(plain, c1, CIPHER_TAG_LEN - 1, NULL, 0, 1, key),
			 -EBADMSG);
	assert_int_equal(cipher_aead_open(plain, c1, 0, NULL, 0, 1, key), -EBADMSG);
	/* Truncated. */
	assert_int_equal(cipher_aead_open(plain, c1, sizeof(c1) - 1, aead_ad, sizeof(aead_ad), 1,
					  key),
			 -EBADMSG);
}

static void test_aead_tamper(void **state)
{
	uint8_t key[32], c[TEXT_LEN + CIPHER_TAG_LEN], plain[TEXT_LEN], ad[sizeof(aead_ad)];

	cipher_random(key, sizeof(key));
	cipher_aead_seal(c, (const uint8_t *)aead_text, TEXT_LEN, aead_ad, sizeof(aead_ad), 42,
			 key);
	for (size_t bit = 0; bit < 8 * sizeof(c); bit++) {
		c[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		assert_int_equal(cipher_aead_open(plain, c, sizeof(c), aead_ad, sizeof(aead_ad), 42,
						  key),
				 -EBADMSG);
		c[bit / 8] ^= (uint8_t)(1 << (bit % 8));
	}
	memcpy(ad, aead_ad, sizeof(ad));
	for (size_t bit = 0; bit < 8 * sizeof(ad); bit++) {
		ad[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		assert_int_equal(cipher_aead_open(plain, c, sizeof(c), ad, sizeof(ad), 42, key),
				 -EBADMSG);
		ad[bit / 8] ^= (uint8_t)(1 << (bit % 8));
	}
	for (size_t bit = 0; bit < 8 * sizeof(key); bit++) {
		key[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		assert_int_equal(cipher_aead_open(plain, c, sizeof(c), aead_ad, sizeof(aead_ad), 42,
						  key),
				 -EBADMSG);
		key[bit / 8] ^= (uint8_t)(1 << (bit % 8));
	}
	for (int bit = 0; bit < 64; bit++)
		assert_int_equal(cipher_aead_open(plain, c, sizeof(c), aead_ad, sizeof(aead_ad),
						  42 ^ (1ULL << bit), key),
				 -EBADMSG);
	assert_int_equal(cipher_aead_open(plain, c, sizeof(c), aead_ad, sizeof(aead_ad), 42, key),
			 0);
}

/* RFC 8439 §2.8.2: the AEAD with the RFC's own nonce (not WireGuard's layout). */
static void test_aead_rfc8439(void **state)
{
	static const char nonce_hex[] = "070000004041424344454647";
	static const char cipher_hex[] =
		"d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
		"3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
		"92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
		"3ff4def08e4b7a9de576d26586cec64b6116";
	static const char tag_hex[] = "1ae10b594f09e26a7e902ecbd0600691";
	uint8_t key[32], nonce[CIPHER_NONCE_LEN], out[TEXT_LEN + CIPHER_TAG_LEN], back[TEXT_LEN];

	pattern(key, sizeof(key), 0x80);
	unhex(nonce, sizeof(nonce), nonce_hex);
	cipher_aead_seal_nonce(out, (const uint8_t *)aead_text, TEXT_LEN, aead_ad, sizeof(aead_ad),
			       nonce, key);
	assert_hex(out, TEXT_LEN, cipher_hex);
	assert_hex(out + TEXT_LEN, CIPHER_TAG_LEN, tag_hex);
	assert_int_equal(cipher_aead_open_nonce(back, out, sizeof(out), aead_ad, sizeof(aead_ad),
						nonce, key),
			 0);
	assert_memory_equal(back, aead_text, TEXT_LEN);
	out[TEXT_LEN + CIPHER_TAG_LEN - 1] ^= 0x80;
	assert_int_equal(cipher_aead_open_nonce(back, out, sizeof(out), aead_ad, sizeof(aead_ad),
						nonce, key),
			 -EBADMSG);
}

/* One library's output, opened by each, at every size a datagram's text can have (and the
 * handshake's 32-byte additional data); a flipped bit anywhere is refused by both. */
#define AGREE_MAX 1500
static void test_aead_libraries_agree(void **state)
{
	static uint8_t plain[AGREE_MAX], s_ct[AGREE_MAX + CIPHER_TAG_LEN],
		o_ct[AGREE_MAX + CIPHER_TAG_LEN], back[AGREE_MAX + CIPHER_TAG_LEN];
	static const char *const libs[] = { "sodium", "boringssl" };
	uint8_t key[32], ad[32];
	unsigned calls = evp_calls;

	for (size_t len = 0; len <= AGREE_MAX; len++) {
		size_t adlen = len % 3 ? 0 : sizeof(ad);
		uint64_t counter;
		size_t bit;

		cipher_random(key, sizeof(key));
		cipher_random(ad, sizeof(ad));
		cipher_random(plain, len);
		cipher_random(&counter, sizeof(counter));
		assert_int_equal(cipher_aead_select("sodium"), 0);
		cipher_aead_seal(s_ct, plain, len, ad, adlen, counter, key);
		assert_int_equal(cipher_aead_select("boringssl"), 0);
		cipher_aead_seal(o_ct, plain, len, ad, adlen, counter, key);
		assert_memory_equal(s_ct, o_ct, len + CIPHER_TAG_LEN);

		cipher_random(&bit, sizeof(bit));
		bit %= 8 * (len + CIPHER_TAG_LEN);
		for (int i = 0; i < 2; i++) {
			assert_int_equal(cipher_aead_select(libs[i]), 0);
			memset(back, 0xee, sizeof(back));
			assert_int_equal(cipher_aead_open(back, s_ct, len + CIPHER_TAG_LEN, ad,
							  adlen, counter, key),
					 0);
			assert_memory_equal(back, plain, len);
			/* In place, as the datapath opens. */
			memcpy(back, o_ct, len + CIPHER_TAG_LEN);
			assert_int_equal(cipher_aead_open(back, back, len + CIPHER_TAG_LEN, ad,
							  adlen, counter, key),
					 0);
			assert_memory_equal(back, plain, len);

			memcpy(back, s_ct, len + CIPHER_TAG_LEN);
			back[bit / 8] ^= (uint8_t)(1 << (bit % 8));
			assert_int_equal(cipher_aead_open(back, back, len + CIPHER_TAG_LEN, ad,
							  adlen, counter, key),
					 -EBADMSG);
			assert_int_equal(cipher_aead_open(back, s_ct, len + CIPHER_TAG_LEN, ad,
							  adlen, counter + 1, key),
					 -EBADMSG);
		}
		/* In place, as the datapath seals. */
		memcpy(back, plain, len);
		cipher_aead_seal(back, back, len, ad, adlen, counter, key);
		assert_memory_equal(back, s_ct, len + CIPHER_TAG_LEN);
	}
	/* BoringSSL really did the "boringssl" half: per size a seal, four opens and the seal
	 * in place. */
	assert_int_equal(evp_calls - calls, (AGREE_MAX + 1) * 6);
	cipher_aead_select("auto");
}

/* The names cipher_aead_select() takes, and that BoringSSL, the default, seals and opens
 * every size, while "sodium" keeps it out. */
static void test_aead_choice(void **state)
{
	uint8_t key[32], buf[1420 + CIPHER_TAG_LEN];
	static const size_t lens[] = { 0, 16, 64, 127, 128, 512, 1420 };
	static const char *const boring[] = { NULL, "", "auto", "boringssl" };

	cipher_random(key, sizeof(key));
	memset(buf, 0, sizeof(buf));
	for (size_t n = 0; n < sizeof(boring) / sizeof(boring[0]); n++) {
		assert_int_equal(cipher_aead_select("sodium"), 0);
		assert_int_equal(cipher_aead_select(boring[n]), 0);
		assert_non_null(strstr(cipher_aead_describe(), "boringssl"));
		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			unsigned before = evp_calls;

			cipher_aead_seal(buf, buf, lens[i], NULL, 0, i, key);
			assert_int_equal(cipher_aead_open(buf, buf, lens[i] + CIPHER_TAG_LEN, NULL,
							  0, i, key),
					 0);
			assert_int_equal(evp_calls - before, 2);
		}
	}
	assert_int_equal(cipher_aead_select("sodium"), 0);
	assert_non_null(strstr(cipher_aead_describe(), "sodium"));
	{
		unsigned before = evp_calls, keyings = evp_keyings;

		cipher_aead_seal(buf, buf, 1420, NULL, 0, 9, key);
		assert_int_equal(cipher_aead_open(buf, buf, 1420 + CIPHER_TAG_LEN, NULL, 0, 9, key),
				 0);
		assert_int_equal(evp_calls, before);
		assert_int_equal(evp_keyings, keyings);
	}
	assert_int_equal(cipher_aead_select("openssl"), -EINVAL);
	assert_int_equal(cipher_aead_select("bogus"), -EINVAL);
	/* A refused name leaves the choice as it was. */
	assert_non_null(strstr(cipher_aead_describe(), "sodium"));
	assert_int_equal(cipher_aead_select(NULL), 0);
}

/* The BoringSSL path allocates nothing per packet, wrong tags included; a new thread's
 * first call makes its two contexts and BoringSSL's error queue, and when the thread ends
 * both contexts are wiped (set to the all-zero key) and everything is freed. */
static void *seal_on_thread(void *arg)
{
	uint8_t *buf = arg, key[32] = { 1 };

	cipher_aead_seal(buf, buf, 1000, NULL, 0, 5, key);
	return NULL;
}

/* A context is handed a key only when it differs from the one it holds; messages under two
 * keys in turn, a wrong tag and a wrong key in between, still give libsodium's bytes. */
static void test_aead_boringssl_keeps_key(void **state)
{
	static const int order[] = { 0, 0, 1, 0, 1, 1, 0 };
	uint8_t key[2][32], plain[600], want[sizeof(plain) + CIPHER_TAG_LEN];
	uint8_t got[sizeof(want)], back[sizeof(want)];
	unsigned calls = evp_calls, keyings = evp_keyings;

	(void)state;
	cipher_random(key, sizeof(key));
	cipher_random(plain, sizeof(plain));
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		const uint8_t *k = key[order[i]], *wrong = key[!order[i]];

		assert_int_equal(cipher_aead_select("sodium"), 0);
		cipher_aead_seal(want, plain, sizeof(plain), NULL, 0, i, k);
		assert_int_equal(cipher_aead_select("boringssl"), 0);
		cipher_aead_seal(got, plain, sizeof(plain), NULL, 0, i, k);
		assert_memory_equal(got, want, sizeof(want));
		/* The open context: the wrong key, a flipped bit, then right. */
		assert_int_equal(cipher_aead_open(back, want, sizeof(want), NULL, 0, i, wrong),
				 -EBADMSG);
		memcpy(got, want, sizeof(want));
		got[7] ^= 0x10;
		assert_int_equal(cipher_aead_open(back, got, sizeof(got), NULL, 0, i, k), -EBADMSG);
		assert_int_equal(cipher_aead_open(back, want, sizeof(want), NULL, 0, i, k), 0);
		assert_memory_equal(back, plain, sizeof(plain));
	}
	/* Four calls a round, every one through BoringSSL. Keyed: the seal context at the start
	 * (it held the last test's key) and at each of the 4 changes of 0 0 1 0 1 1 0; the open
	 * context for the right key in every round (7), and for the wrong one only where the
	 * key did not change from the round before (it held that key otherwise): rounds 0, 1
	 * and 5. 5 + 7 + 3. */
	assert_int_equal(evp_calls - calls, 4 * 7);
	assert_int_equal(evp_keyings - keyings, 15);
	cipher_aead_select("auto");
}

/* A key BoringSSL refuses, or a seal it fails: the message is sealed or opened with
 * libsodium all the same, and the context is handed the key again next time. */
static void test_aead_boringssl_failure(void **state)
{
	uint8_t key[32], other[32], plain[300], want[sizeof(plain) + CIPHER_TAG_LEN];
	uint8_t got[sizeof(want)], back[sizeof(plain)];
	unsigned keyings, calls;

	(void)state;
	cipher_random(key, sizeof(key));
	cipher_random(other, sizeof(other));
	cipher_random(plain, sizeof(plain));
	assert_int_equal(cipher_aead_select("sodium"), 0);
	cipher_aead_seal(want, plain, sizeof(plain), NULL, 0, 9, key);
	assert_int_equal(cipher_aead_select("boringssl"), 0);

	/* The seal context refuses the key: libsodium seals, BoringSSL is not called. */
	calls = evp_calls;
	keyings = evp_keyings;
	evp_fail_init = true;
	cipher_aead_seal(got, plain, sizeof(plain), NULL, 0, 9, key);
	assert_false(evp_fail_init);
	assert_memory_equal(got, want, sizeof(want));
	assert_int_equal(evp_calls, calls);
	cipher_aead_seal(got, plain, sizeof(plain), NULL, 0, 9, key);
	assert_memory_equal(got, want, sizeof(want));
	assert_int_equal(evp_calls - calls, 1);
	assert_int_equal(evp_keyings - keyings, 2);

	/* The open context, holding another key, refuses this one: libsodium opens. */
	assert_int_equal(cipher_aead_open(back, want, sizeof(want), NULL, 0, 9, other), -EBADMSG);
	calls = evp_calls;
	keyings = evp_keyings;
	evp_fail_init = true;
	memset(back, 0, sizeof(back));
	assert_int_equal(cipher_aead_open(back, want, sizeof(want), NULL, 0, 9, key), 0);
	assert_false(evp_fail_init);
	assert_memory_equal(back, plain, sizeof(plain));
	assert_int_equal(evp_calls, calls);
	assert_int_equal(cipher_aead_open(back, want, sizeof(want), NULL, 0, 8, key), -EBADMSG);
	memset(back, 0, sizeof(back));
	assert_int_equal(cipher_aead_open(back, want, sizeof(want), NULL, 0, 9, key), 0);
	assert_memory_equal(back, plain, sizeof(plain));
	assert_int_equal(evp_calls - calls, 2);
	assert_int_equal(evp_keyings - keyings, 2);

	/* A seal that fails: out of place, libsodium seals the text. In place, BoringSSL has
	 * zeroed it, and libsodium seals the zeros: the peer drops a packet of zeros, and the
	 * counter is not used twice. */
	calls = evp_calls;
	evp_fail_seal = true;
	cipher_aead_seal(got, plain, sizeof(plain), NULL, 0, 9, key);
	assert_false(evp_fail_seal);
	assert_int_equal(evp_calls - calls, 1);
	assert_memory_equal(got, want, sizeof(want));
	evp_fail_seal = true;
	memcpy(got, plain, sizeof(plain));
	cipher_aead_seal(got, got, sizeof(plain), NULL, 0, 10, key);
	assert_false(evp_fail_seal);
	assert_int_equal(cipher_aead_open(back, got, sizeof(got), NULL, 0, 10, key), 0);
	assert_true(cipher_is_zero(back, sizeof(back)));
	cipher_aead_seal(got, plain, sizeof(plain), NULL, 0, 9, key);
	assert_memory_equal(got, want, sizeof(want));
	cipher_aead_select("auto");
}

static void test_aead_boringssl_no_alloc(void **state)
{
	uint8_t key[32], buf[1420 + CIPHER_TAG_LEN], other[sizeof(buf)], thread_key[32] = { 1 };
	long allocs, live;
	unsigned wipes;
	pthread_t t;

	cipher_random(key, sizeof(key));
	memset(buf, 0x42, sizeof(buf));
	assert_int_equal(cipher_aead_select("boringssl"), 0);
	cipher_aead_seal(buf, buf, 1420, NULL, 0, 0, key); /* this thread's first call */
	allocs = bssl_allocs;
	for (uint64_t i = 1; i < 2000; i++) {
		size_t len = i % 1421;

		cipher_aead_seal(buf, buf, len, NULL, 0, i, key);
		assert_int_equal(cipher_aead_open(buf, buf, len + CIPHER_TAG_LEN, NULL, 0, i, key),
				 0);
		cipher_aead_seal(buf, buf, len, NULL, 0, i, key);
		buf[0] ^= 1;
		assert_int_equal(cipher_aead_open(buf, buf, len + CIPHER_TAG_LEN, NULL, 0, i, key),
				 -EBADMSG);
	}
	assert_int_equal(bssl_allocs, allocs);

	live = bssl_allocs - bssl_frees;
	wipes = evp_wipes;
	memset(buf, 0x42, sizeof(buf));
	memcpy(other, buf, sizeof(other));
	assert_int_equal(pthread_create(&t, NULL, seal_on_thread, buf), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(bssl_allocs >= allocs + 3);
	assert_int_equal(bssl_allocs - bssl_frees, live);
	assert_int_equal(evp_wipes - wipes, 2);
	assert_int_equal(cipher_aead_select("sodium"), 0);
	cipher_aead_seal(other, other, 1000, NULL, 0, 5, thread_key);
	assert_memory_equal(buf, other, 1000 + CIPHER_TAG_LEN);
	cipher_aead_select("auto");
}

static void test_xaead_kat(void **state)
{
	uint8_t key[32], nonce[CIPHER_XNONCE_LEN], plain[16], ad[16], out[32], back[16];

	pattern(key, sizeof(key), 0x80);
	pattern(nonce, sizeof(nonce), 0x40);
	pattern(plain, sizeof(plain), 0x00);
	pattern(ad, sizeof(ad), 0xa0);
	cipher_xaead_seal(out, plain, sizeof(plain), ad, sizeof(ad), nonce, key);
	assert_hex(out, sizeof(out), kat_xaead);
	assert_int_equal(cipher_xaead_open(back, out, sizeof(out), ad, sizeof(ad), nonce, key), 0);
	assert_memory_equal(back, plain, sizeof(plain));
}

static void test_xaead_tamper(void **state)
{
	uint8_t key[32], nonce[CIPHER_XNONCE_LEN], plain[16], ad[16], c[32], back[16];

	cipher_random(key, sizeof(key));
	cipher_random(nonce, sizeof(nonce));
	cipher_random(plain, sizeof(plain));
	cipher_random(ad, sizeof(ad));
	cipher_xaead_seal(c, plain, sizeof(plain), ad, sizeof(ad), nonce, key);
	for (size_t bit = 0; bit < 8 * sizeof(c); bit++) {
		c[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		assert_int_equal(cipher_xaead_open(back, c, sizeof(c), ad, sizeof(ad), nonce, key),
				 -EBADMSG);
		c[bit / 8] ^= (uint8_t)(1 << (bit % 8));
	}
	for (size_t bit = 0; bit < 8 * sizeof(nonce); bit++) {
		nonce[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		assert_int_equal(cipher_xaead_open(back, c, sizeof(c), ad, sizeof(ad), nonce, key),
				 -EBADMSG);
		nonce[bit / 8] ^= (uint8_t)(1 << (bit % 8));
	}
	for (size_t bit = 0; bit < 8 * sizeof(ad); bit++) {
		ad[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		assert_int_equal(cipher_xaead_open(back, c, sizeof(c), ad, sizeof(ad), nonce, key),
				 -EBADMSG);
		ad[bit / 8] ^= (uint8_t)(1 << (bit % 8));
	}
	assert_int_equal(cipher_xaead_open(back, c, CIPHER_TAG_LEN - 1, ad, sizeof(ad), nonce, key),
			 -EBADMSG);
	assert_int_equal(cipher_xaead_open(back, c, sizeof(c), ad, sizeof(ad), nonce, key), 0);
	assert_memory_equal(back, plain, sizeof(plain));
}

static void test_helpers(void **state)
{
	uint8_t a[32] = { 0 }, b[32] = { 0 };

	assert_true(cipher_is_zero(a, sizeof(a)));
	assert_true(cipher_equal(a, b, sizeof(a)));
	b[31] = 1;
	assert_false(cipher_is_zero(b, sizeof(b)));
	assert_false(cipher_equal(a, b, sizeof(a)));
	assert_true(cipher_equal(a, b, 31));
	memset(b, 0x5a, sizeof(b));
	cipher_wipe(b, sizeof(b));
	assert_true(cipher_is_zero(b, sizeof(b)));
	for (int i = 0; i < 1000; i++)
		assert_true(cipher_random_uniform(334) < 334);
}

static int use_sodium(void **state)
{
	return cipher_aead_select("sodium");
}

static int use_boringssl(void **state)
{
	return cipher_aead_select("boringssl");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blake2s),
		cmocka_unit_test(test_mac),
		cmocka_unit_test(test_hmac),
		cmocka_unit_test(test_kdf),
		cmocka_unit_test(test_kdf_in_place),
		cmocka_unit_test(test_x25519_rfc7748),
		cmocka_unit_test(test_x25519_low_order),
		cmocka_unit_test(test_generate_private),
		cmocka_unit_test(test_xaead_kat),
		cmocka_unit_test(test_xaead_tamper),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_aead_libraries_agree),
		cmocka_unit_test(test_aead_boringssl_keeps_key),
		cmocka_unit_test(test_aead_boringssl_failure),
		cmocka_unit_test(test_aead_choice),
		cmocka_unit_test(test_aead_boringssl_no_alloc),
	};
	/* The same tests with each library forced. */
	const struct CMUnitTest aead[] = {
		cmocka_unit_test(test_aead_rfc8439),      cmocka_unit_test(test_aead_kat),
		cmocka_unit_test(test_aead_nonce_layout), cmocka_unit_test(test_aead_round_trip),
		cmocka_unit_test(test_aead_tamper),
	};
	int failed;

	if (cipher_init())
		return 1;
	failed = cmocka_run_group_tests_name("cipher", tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("cipher aead, libsodium", aead, use_sodium,
					      use_boringssl);
	failed += cmocka_run_group_tests_name("cipher aead, BoringSSL", aead, use_boringssl, NULL);
	return failed;
}
