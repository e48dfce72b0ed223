/* bench-crypto's boringssl column: BoringSSL's ChaCha20-Poly1305 (Debian's
 * android-libboringssl, the library daemon/cipher_aead.c seals and opens with) through its
 * EVP_AEAD API, called directly. A translation unit of its own, compiled with BSSL_CFLAGS:
 * BoringSSL's headers carry OpenSSL's names (openssl/evp.h, ...), and crypto.c includes
 * OpenSSL's.
 *
 * One EVP_AEAD_CTX per direction, set up on every call with the key handed over
 * (EVP_AEAD_CTX_cleanup, then EVP_AEAD_CTX_init), as the other library columns re-key per
 * call; then one EVP_AEAD_CTX_seal or EVP_AEAD_CTX_open. cipher_aead.c sets a context up only
 * when the key differs from the one it holds: the sealnet column against this one is what
 * that saves, or costs. */
#include "crypto_bssl.h"

#include <errno.h>
#include <openssl/aead.h>
#include <openssl/base.h>
#include <openssl/err.h>
#include <openssl/mem.h>

#ifndef OPENSSL_IS_BORINGSSL
#error "crypto_bssl.c needs BoringSSL's headers first in the path: BSSL_CFLAGS"
#endif

#define STR(x) #x
#define XSTR(x) STR(x)

/* Static storage starts zeroed, the state in which EVP_AEAD_CTX_cleanup() does nothing. */
static EVP_AEAD_CTX seal_ctx, open_ctx;

/* ctx set up afresh with key: what the datapath does when a session's key is new to it. */
static int rekey(EVP_AEAD_CTX *ctx, const uint8_t key[BSSL_COL_KEY_LEN])
{
	EVP_AEAD_CTX_cleanup(ctx);
	if (!EVP_AEAD_CTX_init(ctx, EVP_aead_chacha20_poly1305(), key, BSSL_COL_KEY_LEN,
			       BSSL_COL_TAG_LEN, NULL))
		return -EIO;
	return 0;
}

int bssl_col_seal(uint8_t *buf, size_t len, const uint8_t nonce[BSSL_COL_NONCE_LEN],
		  const uint8_t key[BSSL_COL_KEY_LEN])
{
	size_t outlen;

	if (rekey(&seal_ctx, key) ||
	    !EVP_AEAD_CTX_seal(&seal_ctx, buf, &outlen, len + BSSL_COL_TAG_LEN, nonce,
			       BSSL_COL_NONCE_LEN, buf, len, NULL, 0) ||
	    outlen != len + BSSL_COL_TAG_LEN) {
		ERR_clear_error();
		return -EIO;
	}
	return 0;
}

int bssl_col_open(uint8_t *dst, const uint8_t *src, size_t len,
		  const uint8_t nonce[BSSL_COL_NONCE_LEN], const uint8_t key[BSSL_COL_KEY_LEN])
{
	size_t outlen;

	if (rekey(&open_ctx, key)) {
		ERR_clear_error();
		return -EIO;
	}
	/* A wrong tag puts an error on the thread's queue, as in the datapath; cleared so that
	 * the checks' forged messages do not fill it. */
	if (!EVP_AEAD_CTX_open(&open_ctx, dst, &outlen, len, nonce, BSSL_COL_NONCE_LEN, src,
			       len + BSSL_COL_TAG_LEN, NULL, 0) ||
	    outlen != len) {
		ERR_clear_error();
		return -EBADMSG;
	}
	return 0;
}

const char *bssl_col_describe(void)
{
	return "BoringSSL (API " XSTR(BORINGSSL_API_VERSION) ")";
}

/* EVP_AEAD_CTX_cleanup() frees what a context allocated (nothing, for ChaCha20-Poly1305)
 * but leaves the key in it. */
void bssl_col_free(void)
{
	EVP_AEAD_CTX_cleanup(&seal_ctx);
	EVP_AEAD_CTX_cleanup(&open_ctx);
	OPENSSL_cleanse(&seal_ctx, sizeof(seal_ctx));
	OPENSSL_cleanse(&open_ctx, sizeof(open_ctx));
}
