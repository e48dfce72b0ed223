/* The primitives WireGuard is built from, in one place: BLAKE2s (libb2) with HMAC and HKDF
 * on top, X25519 and (X)ChaCha20-Poly1305 (libsodium; the handshake's), in cipher.c; the
 * ChaCha20-Poly1305 of data from BoringSSL (Debian's android-libboringssl), the fastest
 * measured for nearly every size (`make bench-crypto`, docs/performance.md), or libsodium,
 * in cipher_aead.c.
 * Nothing here is written by hand except the HMAC/HKDF composition, which the whitepaper
 * defines. */
#ifndef SEALNET_CIPHER_H
#define SEALNET_CIPHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "key.h" /* KEY_LEN */

#define CIPHER_HASH_LEN 32
#define CIPHER_TAG_LEN 16
#define CIPHER_XNONCE_LEN 24

/* Call once before anything else (sodium_init), before any thread is started; forked
 * children re-key the generator by themselves (pthread_atfork). Returns 0 or -errno. */
int cipher_init(void);

/* The daemon's: reads SEALNET_AEAD (cipher_aead_select()) and logs the choice, or that the
 * value is unknown (then fails with -EINVAL). Without it, cipher_aead_* use BoringSSL. */
int cipher_aead_init(void);
/* Which library seals and opens cipher_aead_*: "boringssl" (also "auto", NULL or empty, the
 * default) or "sodium". Not thread-safe: called by cipher_aead_init() and by tests while no
 * other thread uses the cipher. Returns 0 or -EINVAL for another name. */
int cipher_aead_select(const char *name);
/* What cipher_aead_* use now, for the log: e.g. "boringssl (BoringSSL for every size)".
 * Static storage. */
const char *cipher_aead_describe(void);

/* out = BLAKE2s-256(a || b); b may be NULL with blen 0. */
void cipher_hash(uint8_t out[CIPHER_HASH_LEN], const uint8_t *a, size_t alen, const uint8_t *b,
		 size_t blen);
/* out = keyed BLAKE2s with outlen bytes (WireGuard's MAC uses 16). */
void cipher_mac(uint8_t *out, size_t outlen, const uint8_t *key, size_t keylen, const uint8_t *in,
		size_t inlen);
/* HMAC(key, in) with BLAKE2s-256 (block 64). */
void cipher_hmac(uint8_t out[CIPHER_HASH_LEN], const uint8_t *key, size_t keylen, const uint8_t *in,
		 size_t inlen);
/* HKDF as the whitepaper's Kdf_n: any of t1..t3 may be NULL for fewer outputs. */
void cipher_kdf(uint8_t *t1, uint8_t *t2, uint8_t *t3, const uint8_t ck[CIPHER_HASH_LEN],
		const uint8_t *in, size_t inlen);

/* X25519. Returns -EINVAL when the result is all zero (low-order point). */
int cipher_dh(uint8_t out[KEY_LEN], const uint8_t priv[KEY_LEN], const uint8_t pub[KEY_LEN]);
void cipher_generate_private(uint8_t priv[KEY_LEN]);
int cipher_public_key(uint8_t pub[KEY_LEN], const uint8_t priv[KEY_LEN]);

/* ChaCha20-Poly1305 (IETF) with WireGuard's nonce: 32 zero bits then the 64-bit counter,
 * little-endian. dst may equal src (or not overlap it at all); a failed open may have
 * zeroed dst. seal writes len + 16 bytes. Safe on any thread at once; they allocate
 * nothing and take no lock, except that a thread's first call makes its two BoringSSL
 * contexts and error queue. The last keys stay in the thread's contexts until replaced,
 * or wiped when the thread ends; BoringSSL's code also leaves pieces of them on the
 * thread's stack. For keys that must not outlive their message, cipher_aead_*_once. */
/* RFC 8439's AEAD with any 96-bit nonce, through the same choice of library:
 * cipher_aead_seal/open are these with WireGuard's nonce. Same contract otherwise. */
#define CIPHER_NONCE_LEN 12
void cipher_aead_seal_nonce(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			    size_t adlen, const uint8_t nonce[CIPHER_NONCE_LEN],
			    const uint8_t key[KEY_LEN]);
int cipher_aead_open_nonce(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			   size_t adlen, const uint8_t nonce[CIPHER_NONCE_LEN],
			   const uint8_t key[KEY_LEN]);
void cipher_aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
		      uint64_t counter, const uint8_t key[KEY_LEN]);
/* len includes the tag; writes len - 16 bytes. Returns 0 or -EBADMSG. */
int cipher_aead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
		     uint64_t counter, const uint8_t key[KEY_LEN]);
/* WireGuard's nonce for counter: 32 zero bits, then the counter little-endian. */
void cipher_nonce(uint8_t nonce[CIPHER_NONCE_LEN], uint64_t counter);
/* The same AEAD through libsodium, keeping nothing of the key: for the handshake, whose
 * keys serve one message and are wiped right after, and which a thread's cached context
 * (above) would hold until that thread's next key. Same contract otherwise. */
void cipher_aead_seal_once(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			   size_t adlen, uint64_t counter, const uint8_t key[KEY_LEN]);
int cipher_aead_open_once(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			  size_t adlen, uint64_t counter, const uint8_t key[KEY_LEN]);
/* libsodium's ChaCha20-Poly1305 with any 96-bit nonce, the one place its calls are made:
 * the _once pair above, and cipher_aead_* with SEALNET_AEAD=sodium or when BoringSSL
 * refuses. Same contract as cipher_aead_*_nonce. */
void cipher_sodium_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			size_t adlen, const uint8_t nonce[CIPHER_NONCE_LEN],
			const uint8_t key[KEY_LEN]);
int cipher_sodium_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
		       size_t adlen, const uint8_t nonce[CIPHER_NONCE_LEN],
		       const uint8_t key[KEY_LEN]);
void cipher_xaead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
		       size_t adlen, const uint8_t nonce[CIPHER_XNONCE_LEN],
		       const uint8_t key[KEY_LEN]);
int cipher_xaead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
		      const uint8_t nonce[CIPHER_XNONCE_LEN], const uint8_t key[KEY_LEN]);

void cipher_random(void *buf, size_t len);
/* Uniform in [0, upper). */
uint32_t cipher_random_uniform(uint32_t upper);

void cipher_wipe(void *buf, size_t len);
/* Constant time. */
bool cipher_equal(const void *a, const void *b, size_t len);
bool cipher_is_zero(const void *a, size_t len);

#endif
