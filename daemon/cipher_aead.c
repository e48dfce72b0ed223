/* The datapath's ChaCha20-Poly1305 (RFC 8439, with WireGuard's nonce): BoringSSL's, as Debian
 * ships it for the Android SDK (android-libboringssl), or libsodium's. BoringSSL's x86-64
 * code computes ChaCha20 and Poly1305 in one pass over the text and its one-shot EVP_AEAD
 * calls have no per-call parameter lookup: it was the fastest of the five Debian libraries
 * measured at every size the datapath sees, 64 to 1420 bytes, sealing and opening (make
 * bench-crypto, docs/performance.md). libsodium stays for the tests that hold the two
 * against each other (SEALNET_AEAD=sodium) and for a call BoringSSL refuses.
 *
 * Kept apart from cipher.c so that only programs that seal or open link BoringSSL: its
 * symbols carry OpenSSL's names without OpenSSL's versions, and the tool loads OpenSSL
 * through libcurl. */
#include "cipher.h"

#include <errno.h>
#include <openssl/aead.h> /* BoringSSL's: the Makefile puts /usr/include/android first */
#include <openssl/err.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#ifndef OPENSSL_IS_BORINGSSL
#error "cipher_aead.c needs BoringSSL's headers (BSSL_CFLAGS), not OpenSSL's"
#endif

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Which library does cipher_aead_*. Set before any thread uses it, read on every call. */
enum aead_impl { AEAD_BORINGSSL, AEAD_SODIUM };
static enum aead_impl aead_impl = AEAD_BORINGSSL;

/* Each thread's two contexts, one per direction, so that a node that both sends and
 * receives keeps both keys set. EVP_AEAD_CTX_init() on a ChaCha20-Poly1305 context only
 * copies the key into it (no allocation), but a batch mostly shares one key, so the key a
 * context holds is kept beside it and a call sets it only when it differs. The contexts are
 * the library's to size (EVP_AEAD_CTX_new): BoringSSL promises no stable layout, and Debian
 * ships every version under one soname. They are made on the thread's first call and freed
 * when the thread ends (the workers of a reload that changes Threads) or at exit (the main
 * thread), after their keys are overwritten: EVP_AEAD_CTX_cleanup() leaves the key in
 * place. Until then a retired session's key stays in the contexts of a thread that has not
 * sealed or opened since, as it did in OpenSSL's before. */
struct aead_key {
	EVP_AEAD_CTX *ctx; /* NULL until the thread's first call, or if it could not be made */
	uint8_t key[KEY_LEN];
	bool keyed;
};
struct aead_thread {
	struct aead_key seal;
	struct aead_key open;
	bool set_up;
};
static __thread struct aead_thread aead_thread;
/* What a context is set to before it is freed, and what it is made with. */
static const uint8_t zero_key[KEY_LEN];
static pthread_key_t aead_free_key;
static bool aead_free_key_made;
static pthread_once_t aead_free_once = PTHREAD_ONCE_INIT;

/* Overwrites the key inside the context with zeros (the layout is BoringSSL's) and frees
 * it. */
static void aead_key_free(struct aead_key *k)
{
	if (k->ctx) {
		EVP_AEAD_CTX_cleanup(k->ctx);
		if (!EVP_AEAD_CTX_init(k->ctx, EVP_aead_chacha20_poly1305(), zero_key, KEY_LEN,
				       CIPHER_TAG_LEN, NULL))
			ERR_clear_error();
		EVP_AEAD_CTX_free(k->ctx);
	}
	sodium_memzero(k, sizeof(*k));
}

static void aead_thread_free(void *arg)
{
	struct aead_thread *t = arg;

	aead_key_free(&t->seal);
	aead_key_free(&t->open);
	t->set_up = false;
}

static void aead_main_free(void)
{
	aead_thread_free(&aead_thread);
}

static void aead_free_setup(void)
{
	aead_free_key_made = !pthread_key_create(&aead_free_key, aead_thread_free);
	if (atexit(aead_main_free))
		log_warn("AEAD: the main thread's keys will not be wiped at exit");
}

/* Once per thread, on its first BoringSSL call: the AEAD path's only allocations, the
 * two contexts and BoringSSL's error queue (a failed open puts an error on it, and the
 * queue is made here, not on the path of the first forged packet). A context that cannot be
 * made leaves that direction to libsodium on this thread; if the thread's end cannot be
 * hooked, its contexts live until exit. */
static void aead_thread_setup(struct aead_thread *t)
{
	pthread_once(&aead_free_once, aead_free_setup);
	t->set_up = true;
	if (aead_free_key_made)
		(void)pthread_setspecific(aead_free_key, t);
	t->seal.ctx = EVP_AEAD_CTX_new(EVP_aead_chacha20_poly1305(), zero_key, KEY_LEN,
				       CIPHER_TAG_LEN);
	t->open.ctx = EVP_AEAD_CTX_new(EVP_aead_chacha20_poly1305(), zero_key, KEY_LEN,
				       CIPHER_TAG_LEN);
	ERR_clear_error();
}

/* The context for key, set to it if it holds another; NULL if there is none on this thread
 * or BoringSSL refused the key (it cannot, for 32 bytes): then libsodium does the call. */
static const EVP_AEAD_CTX *aead_ctx(struct aead_key *k, const uint8_t key[KEY_LEN])
{
	_Static_assert(KEY_LEN == crypto_verify_32_BYTES, "keys are compared as 32 bytes");

	if (likely(k->keyed) && crypto_verify_32(k->key, key) == 0)
		return k->ctx;
	if (unlikely(!aead_thread.set_up))
		aead_thread_setup(&aead_thread);
	if (unlikely(!k->ctx))
		return NULL;
	EVP_AEAD_CTX_cleanup(k->ctx);
	k->keyed = EVP_AEAD_CTX_init(k->ctx, EVP_aead_chacha20_poly1305(), key, KEY_LEN,
				     CIPHER_TAG_LEN, NULL);
	if (unlikely(!k->keyed)) {
		ERR_clear_error();
		sodium_memzero(k->key, sizeof(k->key));
		return NULL;
	}
	memcpy(k->key, key, KEY_LEN);
	return k->ctx;
}

int cipher_aead_select(const char *name)
{
	if (!name || !*name || !strcmp(name, "auto") || !strcmp(name, "boringssl")) {
		aead_impl = AEAD_BORINGSSL;
		return 0;
	}
	if (!strcmp(name, "sodium")) {
		aead_impl = AEAD_SODIUM;
		return 0;
	}
	return -EINVAL;
}

const char *cipher_aead_describe(void)
{
	return aead_impl == AEAD_SODIUM ? "sodium (libsodium for every size)"
					: "boringssl (BoringSSL for every size)";
}

int cipher_aead_init(void)
{
	const char *aead = getenv("SEALNET_AEAD");
	int ret = cipher_aead_select(aead);

	if (ret && !strcmp(aead, "openssl"))
		log_err("SEALNET_AEAD=openssl: OpenSSL is no longer used; boringssl, sodium or auto");
	else if (ret)
		log_err("SEALNET_AEAD=%s: unknown; boringssl, sodium or auto", aead);
	else
		log_info("AEAD: %s", cipher_aead_describe());
	return ret;
}

/* BoringSSL refuses nothing the datapath or the handshake hands over (a 32-byte key, a
 * 12-byte nonce, room for the tag, no partial overlap, under 256 GiB), and libsodium seals
 * what it refused. In place, that is the zeros BoringSSL leaves in a refused call's output:
 * the peer opens a packet of zeros and drops it as a bad inner packet, and no counter is
 * used twice. The detached forms (scatter, gather) are libsodium's: text and tag apart. */
void cipher_aead_seal_nonce(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			    size_t adlen, const uint8_t nonce[CIPHER_NONCE_LEN],
			    const uint8_t key[KEY_LEN])
{
	const EVP_AEAD_CTX *ctx;
	size_t taglen;

	if (likely(aead_impl == AEAD_BORINGSSL)) {
		ctx = aead_ctx(&aead_thread.seal, key);
		if (likely(ctx) &&
		    likely(EVP_AEAD_CTX_seal_scatter(ctx, dst, dst + len, &taglen, CIPHER_TAG_LEN,
						     nonce, CIPHER_NONCE_LEN, src, len, NULL, 0, ad,
						     adlen)))
			return;
		ERR_clear_error();
	}
	cipher_sodium_seal(dst, src, len, ad, adlen, nonce, key);
}

/* BoringSSL zeroes dst when the tag is wrong; a caller that opens in place loses the
 * message, which none keeps. */
int cipher_aead_open_nonce(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			   size_t adlen, const uint8_t nonce[CIPHER_NONCE_LEN],
			   const uint8_t key[KEY_LEN])
{
	const EVP_AEAD_CTX *ctx;
	size_t textlen;

	if (len < CIPHER_TAG_LEN)
		return -EBADMSG;
	textlen = len - CIPHER_TAG_LEN;
	if (likely(aead_impl == AEAD_BORINGSSL)) {
		ctx = aead_ctx(&aead_thread.open, key);
		if (likely(ctx)) {
			if (likely(EVP_AEAD_CTX_open_gather(ctx, dst, nonce, CIPHER_NONCE_LEN, src,
							    textlen, src + textlen, CIPHER_TAG_LEN,
							    ad, adlen)))
				return 0;
			/* With a 32-byte key, a 12-byte nonce and a 16-byte tag, a wrong tag is
			 * the only refusal; the queue holds the reason, not needed. */
			ERR_clear_error();
			return -EBADMSG;
		}
	}
	return cipher_sodium_open(dst, src, len, ad, adlen, nonce, key);
}

void cipher_aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
		      uint64_t counter, const uint8_t key[KEY_LEN])
{
	uint8_t nonce[CIPHER_NONCE_LEN];

	cipher_nonce(nonce, counter);
	cipher_aead_seal_nonce(dst, src, len, ad, adlen, nonce, key);
}

int cipher_aead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
		     uint64_t counter, const uint8_t key[KEY_LEN])
{
	uint8_t nonce[CIPHER_NONCE_LEN];

	cipher_nonce(nonce, counter);
	return cipher_aead_open_nonce(dst, src, len, ad, adlen, nonce, key);
}
