#include "cipher.h"

#include <blake2.h>
#include <errno.h>
#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define BLAKE2S_BLOCK_LEN 64

#define STR(x) #x
#define STRINGIFY(x) STR(x)
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Which library does cipher_aead_*. Set before any thread uses it, read on every call. */
enum aead_impl { AEAD_AUTO, AEAD_SODIUM, AEAD_OPENSSL };
static enum aead_impl aead_impl = AEAD_AUTO;

/* OpenSSL's ChaCha20-Poly1305, fetched once: EVP_chacha20_poly1305() in an init call would
 * look it up in the provider store (a lock) on every call. NULL when libcrypto could not
 * give it, and auto then means libsodium alone. */
static EVP_CIPHER *evp_chacha;

/* Each thread's pair of EVP contexts, one per direction so that a call never switches one,
 * set up once with the cipher and then only re-keyed: EVP_CipherInit_ex2() with no cipher
 * sets the key and nonce in the provider's context without allocating or locking. The
 * pthread key frees a thread's pair when the thread ends (the workers of a reload that
 * changes Threads); the main thread's pair lives until exit.
 *
 * A context keeps its key until it is given another, and the packets of a batch mostly share
 * one, so a call hands over only the nonce when the key is the one the context holds: a key
 * makes EVP ask the provider for the key length through its parameter lookup (string
 * compares), 38-48 ns a call. Each context's key is copied here to know. The copy lives as
 * long as the key inside the OpenSSL context does, which it was always: until the thread's
 * next key or its end (then wiped), so a retired session's key can outlive the session in
 * a thread that has not sealed or opened since. */
struct evp_ctx {
	EVP_CIPHER_CTX *ctx;
	uint8_t key[KEY_LEN];
	bool keyed;
};
struct evp_pair {
	struct evp_ctx seal;
	struct evp_ctx open;
};
static __thread struct evp_pair *thread_evp;
/* Set if this thread could not get its pair: it stays with libsodium rather than try to
 * allocate again for every packet. */
static __thread bool thread_evp_failed;
static pthread_key_t evp_key;

/* The internal generator aborts in a forked child (two processes must not draw the same
 * stream) until it is re-keyed; sealnetd forks to daemonize and for its helper. */
static void rekey_after_fork(void)
{
	randombytes_stir();
}

static void evp_pair_free(void *arg)
{
	struct evp_pair *e = arg;

	if (!e)
		return;
	EVP_CIPHER_CTX_free(e->seal.ctx);
	EVP_CIPHER_CTX_free(e->open.ctx);
	sodium_memzero(e, sizeof(*e));
	free(e);
}

/* Once per thread, on its first OpenSSL call: the only allocation of the AEAD path. NULL
 * if anything fails; the caller then uses libsodium, which needs no state. */
static struct evp_pair *evp_pair_new(void)
{
	struct evp_pair *e;

	if (thread_evp_failed)
		return NULL;
	thread_evp_failed = true;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->seal.ctx = EVP_CIPHER_CTX_new();
	e->open.ctx = EVP_CIPHER_CTX_new();
	if (!e->seal.ctx || !e->open.ctx ||
	    !EVP_EncryptInit_ex2(e->seal.ctx, evp_chacha, NULL, NULL, NULL) ||
	    !EVP_DecryptInit_ex2(e->open.ctx, evp_chacha, NULL, NULL, NULL) ||
	    pthread_setspecific(evp_key, e)) {
		evp_pair_free(e);
		return NULL;
	}
	thread_evp = e;
	thread_evp_failed = false;
	return e;
}

static inline struct evp_pair *evp_this_thread(void)
{
	struct evp_pair *e = thread_evp;

	return likely(e) ? e : evp_pair_new();
}

/* Runs before OpenSSL's own exit handler (registered earlier, so run later): what is freed
 * here must not outlive the library. */
static void evp_cleanup(void)
{
	evp_pair_free(thread_evp);
	thread_evp = NULL;
	pthread_setspecific(evp_key, NULL);
	EVP_CIPHER_free(evp_chacha);
	evp_chacha = NULL;
}

/* Fetches the cipher and sets up this thread's contexts now, before the system call filter
 * and before any thread. The system's openssl.cnf is not read: the default provider's
 * ChaCha20-Poly1305 is all that is used, the bytes are fixed by the protocol, and loading
 * the configuration costs 0.6 MiB of RSS. */
static int evp_init(void)
{
	if (evp_chacha)
		return 0;
	if (!OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL))
		return -ENOTSUP;
	evp_chacha = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	if (!evp_chacha)
		return -ENOTSUP;
	if (pthread_key_create(&evp_key, evp_pair_free))
		goto free_cipher;
	thread_evp_failed = false;
	if (!evp_pair_new())
		goto delete_key;
	atexit(evp_cleanup);
	return 0;

delete_key:
	pthread_key_delete(evp_key);
free_cipher:
	EVP_CIPHER_free(evp_chacha);
	evp_chacha = NULL;
	return -ENOTSUP;
}

/* OpenSSL is set up only for the choices that may use it: with sodium forced the daemon
 * keeps its old footprint (OpenSSL's method store and the library pages it touches are
 * about 3 MiB of RSS, docs/performance.md). */
int cipher_aead_select(const char *name)
{
	if (!name || !*name || !strcmp(name, "auto")) {
		/* Without OpenSSL, auto is libsodium for every size. */
		evp_init();
		aead_impl = AEAD_AUTO;
		return 0;
	}
	if (!strcmp(name, "sodium")) {
		aead_impl = AEAD_SODIUM;
		return 0;
	}
	if (strcmp(name, "openssl"))
		return -EINVAL;
	if (evp_init())
		return -ENOTSUP;
	aead_impl = AEAD_OPENSSL;
	return 0;
}

const char *cipher_aead_describe(void)
{
	switch (aead_impl) {
	case AEAD_SODIUM:
		return "sodium (libsodium for every size)";
	case AEAD_OPENSSL:
		return "openssl (OpenSSL for every size)";
	case AEAD_AUTO:
		break;
	}
	if (!evp_chacha)
		return "auto (libsodium for every size: no ChaCha20-Poly1305 in OpenSSL)";
	return "auto (libsodium below " STRINGIFY(
		CIPHER_AEAD_OPENSSL_MIN) " bytes, OpenSSL from " STRINGIFY(CIPHER_AEAD_OPENSSL_MIN) ")";
}

int cipher_init(void)
{
	const char *aead = getenv("SEALNET_AEAD");
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
	ret = cipher_aead_select(aead);
	if (ret == -EINVAL)
		log_err("SEALNET_AEAD=%s: unknown; sodium, openssl or auto", aead);
	else if (ret)
		log_err("SEALNET_AEAD=openssl: OpenSSL's ChaCha20-Poly1305 is unavailable");
	else
		log_info("AEAD: %s", cipher_aead_describe());
	return ret;
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

static void wg_nonce(uint8_t nonce[CIPHER_NONCE_LEN], uint64_t counter)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

/* OpenSSL for this many bytes of text? EVP counts in int. */
static inline bool use_evp(size_t len, size_t adlen)
{
	if (aead_impl == AEAD_SODIUM || !evp_chacha || len > INT_MAX || adlen > INT_MAX)
		return false;
	return aead_impl == AEAD_OPENSSL || len >= CIPHER_AEAD_OPENSSL_MIN;
}

/* The key for the context's next message: NULL when it holds this one already. A context
 * whose call failed is keyed again next time (what OpenSSL kept is not known). */
static const uint8_t *evp_key_for(struct evp_ctx *c, const uint8_t key[KEY_LEN])
{
	_Static_assert(KEY_LEN == crypto_verify_32_BYTES, "keys are compared as 32 bytes");

	if (likely(c->keyed) && crypto_verify_32(c->key, key) == 0)
		return NULL;
	memcpy(c->key, key, KEY_LEN);
	c->keyed = true;
	return key;
}

/* Gets (sealing) or sets (opening) the tag as a parameter: the EVP_CTRL_AEAD_*_TAG ctrl
 * builds this same parameter and goes the same way, 20-30 ns a call slower. */
static int evp_tag(EVP_CIPHER_CTX *ctx, uint8_t tag[CIPHER_TAG_LEN], bool set)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, CIPHER_TAG_LEN),
		OSSL_PARAM_construct_end(),
	};

	return set ? EVP_CIPHER_CTX_set_params(ctx, params)
		   : EVP_CIPHER_CTX_get_params(ctx, params);
}

/* 0, or -EIO if OpenSSL failed somewhere (then the caller seals with libsodium). */
static int evp_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
		    const uint8_t nonce[CIPHER_NONCE_LEN], const uint8_t key[KEY_LEN])
{
	struct evp_pair *e = evp_this_thread();
	uint8_t none[CIPHER_TAG_LEN]; /* a stream cipher's Final writes nothing */
	EVP_CIPHER_CTX *ctx;
	int outl;

	if (unlikely(!e))
		return -EIO;
	ctx = e->seal.ctx;
	if (!EVP_EncryptInit_ex2(ctx, NULL, evp_key_for(&e->seal, key), nonce, NULL) ||
	    (adlen && !EVP_EncryptUpdate(ctx, NULL, &outl, ad, (int)adlen)) ||
	    (len && !EVP_EncryptUpdate(ctx, dst, &outl, src, (int)len)) ||
	    !EVP_EncryptFinal_ex(ctx, none, &outl) || !evp_tag(ctx, dst + len, false)) {
		e->seal.keyed = false;
		return -EIO;
	}
	return 0;
}

/* len without the tag. 0, -EBADMSG for a wrong tag, -EIO if OpenSSL failed otherwise. */
static int evp_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
		    const uint8_t nonce[CIPHER_NONCE_LEN], const uint8_t key[KEY_LEN])
{
	struct evp_pair *e = evp_this_thread();
	uint8_t tag[CIPHER_TAG_LEN], none[CIPHER_TAG_LEN];
	EVP_CIPHER_CTX *ctx;
	int outl;

	if (unlikely(!e))
		return -EIO;
	ctx = e->open.ctx;
	/* The parameter takes a pointer to non-const. */
	memcpy(tag, src + len, sizeof(tag));
	if (!EVP_DecryptInit_ex2(ctx, NULL, evp_key_for(&e->open, key), nonce, NULL) ||
	    (adlen && !EVP_DecryptUpdate(ctx, NULL, &outl, ad, (int)adlen)) ||
	    (len && !EVP_DecryptUpdate(ctx, dst, &outl, src, (int)len)) ||
	    !evp_tag(ctx, tag, true)) {
		e->open.keyed = false;
		return -EIO;
	}
	/* A wrong tag is the only way Final fails once the rest succeeded; the key stays. */
	return EVP_DecryptFinal_ex(ctx, none, &outl) ? 0 : -EBADMSG;
}

void cipher_aead_seal_nonce(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			    size_t adlen, const uint8_t nonce[CIPHER_NONCE_LEN],
			    const uint8_t key[KEY_LEN])
{
	if (use_evp(len, adlen) && likely(!evp_seal(dst, src, len, ad, adlen, nonce, key)))
		return;
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(dst, dst + len, NULL, src, len, ad,
							   adlen, NULL, nonce, key);
}

int cipher_aead_open_nonce(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			   size_t adlen, const uint8_t nonce[CIPHER_NONCE_LEN],
			   const uint8_t key[KEY_LEN])
{
	int ret;

	if (len < CIPHER_TAG_LEN)
		return -EBADMSG;
	len -= CIPHER_TAG_LEN;
	if (use_evp(len, adlen)) {
		ret = evp_open(dst, src, len, ad, adlen, nonce, key);
		if (likely(ret != -EIO))
			return ret;
	}
	if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(dst, NULL, src, len, src + len, ad,
							       adlen, nonce, key))
		return -EBADMSG;
	return 0;
}

void cipher_aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
		      uint64_t counter, const uint8_t key[KEY_LEN])
{
	uint8_t nonce[CIPHER_NONCE_LEN];

	wg_nonce(nonce, counter);
	cipher_aead_seal_nonce(dst, src, len, ad, adlen, nonce, key);
}

int cipher_aead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
		     uint64_t counter, const uint8_t key[KEY_LEN])
{
	uint8_t nonce[CIPHER_NONCE_LEN];

	wg_nonce(nonce, counter);
	return cipher_aead_open_nonce(dst, src, len, ad, adlen, nonce, key);
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
