#include "cipher.h"

#include <blake2.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "log.h"

#define BLAKE2S_BLOCK_LEN 64

/* The internal generator aborts in a forked child (two processes must not draw the same
 * stream) until it is re-keyed; sealnetd forks to daemonize and for its helper. */
static void rekey_after_fork(void)
{
	randombytes_stir();
}

int cipher_init(void)
{
	int ret;

	/* libsodium's default generator makes a getrandom() call per draw, and the timers draw
	 * a jitter for nearly every packet. Its internal generator is ChaCha20 keyed from the
	 * kernel, re-keyed in every forked child (below): the same strength without a system
	 * call per draw. */
	if (randombytes_set_implementation(&randombytes_internal_implementation) ||
	    sodium_init() < 0) {
		log_err("cannot initialise libsodium");
		return -EIO;
	}
	ret = -pthread_atfork(NULL, NULL, rekey_after_fork);
	if (ret) {
		log_err("pthread_atfork: %s", strerror(-ret));
		return ret;
	}
	return 0;
}

void cipher_hash(uint8_t out[CIPHER_HASH_LEN], const uint8_t *a, size_t alen, const uint8_t *b,
		 size_t blen)
{
	blake2s_state s;

	blake2s_init(&s, CIPHER_HASH_LEN);
	blake2s_update(&s, a, alen);
	if (blen)
		blake2s_update(&s, b, blen);
	blake2s_final(&s, out, CIPHER_HASH_LEN);
	sodium_memzero(&s, sizeof(s));
}

void cipher_mac(uint8_t *out, size_t outlen, const uint8_t *key, size_t keylen, const uint8_t *in,
		size_t inlen)
{
	blake2s_state s;

	blake2s_init_key(&s, outlen, key, keylen);
	blake2s_update(&s, in, inlen);
	blake2s_final(&s, out, outlen);
	sodium_memzero(&s, sizeof(s));
}

void cipher_hmac(uint8_t out[CIPHER_HASH_LEN], const uint8_t *key, size_t keylen, const uint8_t *in,
		 size_t inlen)
{
	uint8_t k[BLAKE2S_BLOCK_LEN] = { 0 }, inner[CIPHER_HASH_LEN];
	blake2s_state s;

	if (keylen > BLAKE2S_BLOCK_LEN)
		cipher_hash(k, key, keylen, NULL, 0);
	else
		memcpy(k, key, keylen);

	for (size_t i = 0; i < sizeof(k); i++)
		k[i] ^= 0x36;
	blake2s_init(&s, CIPHER_HASH_LEN);
	blake2s_update(&s, k, sizeof(k));
	blake2s_update(&s, in, inlen);
	blake2s_final(&s, inner, sizeof(inner));

	for (size_t i = 0; i < sizeof(k); i++)
		k[i] ^= 0x36 ^ 0x5c;
	blake2s_init(&s, CIPHER_HASH_LEN);
	blake2s_update(&s, k, sizeof(k));
	blake2s_update(&s, inner, sizeof(inner));
	blake2s_final(&s, out, CIPHER_HASH_LEN);

	sodium_memzero(k, sizeof(k));
	sodium_memzero(inner, sizeof(inner));
	sodium_memzero(&s, sizeof(s));
}

void cipher_kdf(uint8_t *t1, uint8_t *t2, uint8_t *t3, const uint8_t ck[CIPHER_HASH_LEN],
		const uint8_t *in, size_t inlen)
{
	uint8_t prk[CIPHER_HASH_LEN], t[CIPHER_HASH_LEN + 1];
	uint8_t *outs[3] = { t1, t2, t3 };

	cipher_hmac(prk, ck, CIPHER_HASH_LEN, in, inlen);
	/* T(0) is empty; T(i) = HMAC(prk, T(i-1) || i). */
	for (int i = 0; i < 3 && outs[i]; i++) {
		size_t len = 0;

		if (i) {
			memcpy(t, outs[i - 1], CIPHER_HASH_LEN);
			len = CIPHER_HASH_LEN;
		}
		t[len++] = (uint8_t)(i + 1);
		cipher_hmac(outs[i], prk, sizeof(prk), t, len);
	}
	sodium_memzero(prk, sizeof(prk));
	sodium_memzero(t, sizeof(t));
}

int cipher_dh(uint8_t out[KEY_LEN], const uint8_t priv[KEY_LEN], const uint8_t pub[KEY_LEN])
{
	/* libsodium refuses (and we with it) results that are all zero. */
	if (crypto_scalarmult_curve25519(out, priv, pub)) {
		sodium_memzero(out, KEY_LEN);
		return -EINVAL;
	}
	return 0;
}

void cipher_generate_private(uint8_t priv[KEY_LEN])
{
	randombytes_buf(priv, KEY_LEN);
	priv[0] &= 248;
	priv[31] = (priv[31] & 127) | 64;
}

int cipher_public_key(uint8_t pub[KEY_LEN], const uint8_t priv[KEY_LEN])
{
	return crypto_scalarmult_curve25519_base(pub, priv) ? -EINVAL : 0;
}

void cipher_nonce(uint8_t nonce[CIPHER_NONCE_LEN], uint64_t counter)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

void cipher_sodium_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			size_t adlen, const uint8_t nonce[CIPHER_NONCE_LEN],
			const uint8_t key[KEY_LEN])
{
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(dst, dst + len, NULL, src, len, ad,
							   adlen, NULL, nonce, key);
}

int cipher_sodium_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
		       size_t adlen, const uint8_t nonce[CIPHER_NONCE_LEN],
		       const uint8_t key[KEY_LEN])
{
	if (len < CIPHER_TAG_LEN)
		return -EBADMSG;
	len -= CIPHER_TAG_LEN;
	if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(dst, NULL, src, len, src + len, ad,
							       adlen, nonce, key))
		return -EBADMSG;
	return 0;
}

void cipher_aead_seal_once(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			   size_t adlen, uint64_t counter, const uint8_t key[KEY_LEN])
{
	uint8_t nonce[CIPHER_NONCE_LEN];

	cipher_nonce(nonce, counter);
	cipher_sodium_seal(dst, src, len, ad, adlen, nonce, key);
}

int cipher_aead_open_once(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			  size_t adlen, uint64_t counter, const uint8_t key[KEY_LEN])
{
	uint8_t nonce[CIPHER_NONCE_LEN];

	cipher_nonce(nonce, counter);
	return cipher_sodium_open(dst, src, len, ad, adlen, nonce, key);
}

void cipher_xaead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
		       size_t adlen, const uint8_t nonce[CIPHER_XNONCE_LEN],
		       const uint8_t key[KEY_LEN])
{
	crypto_aead_xchacha20poly1305_ietf_encrypt(dst, NULL, src, len, ad, adlen, NULL, nonce,
						   key);
}

int cipher_xaead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
		      const uint8_t nonce[CIPHER_XNONCE_LEN], const uint8_t key[KEY_LEN])
{
	if (len < CIPHER_TAG_LEN)
		return -EBADMSG;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(dst, NULL, NULL, src, len, ad, adlen, nonce,
						       key))
		return -EBADMSG;
	return 0;
}

void cipher_random(void *buf, size_t len)
{
	randombytes_buf(buf, len);
}

uint32_t cipher_random_uniform(uint32_t upper)
{
	return randombytes_uniform(upper);
}

void cipher_wipe(void *buf, size_t len)
{
	sodium_memzero(buf, len);
}

bool cipher_equal(const void *a, const void *b, size_t len)
{
	return sodium_memcmp(a, b, len) == 0;
}

bool cipher_is_zero(const void *a, size_t len)
{
	return sodium_is_zero(a, len);
}
