/* bench-crypto's boringssl column (crypto_bssl.c): BoringSSL's EVP_AEAD ChaCha20-Poly1305,
 * behind plain types, so that crypto.c, which sees OpenSSL's headers, never sees BoringSSL's
 * (both are openssl/ headers, with the same names for other types). Not thread-safe: one
 * context per direction, for the tool's one thread. */
#ifndef SEALNET_BENCH_CRYPTO_BSSL_H
#define SEALNET_BENCH_CRYPTO_BSSL_H

#include <stddef.h>
#include <stdint.h>

#define BSSL_COL_KEY_LEN 32
#define BSSL_COL_NONCE_LEN 12
#define BSSL_COL_TAG_LEN 16

/* Seals len bytes of buf in place, the tag after them (buf holds len + 16 bytes). Returns 0,
 * or -EIO if BoringSSL refused (it puts the reason on its error queue, cleared here). */
int bssl_col_seal(uint8_t *buf, size_t len, const uint8_t nonce[BSSL_COL_NONCE_LEN],
		  const uint8_t key[BSSL_COL_KEY_LEN]);
/* Opens the len bytes of text and the 16-byte tag after them in src into dst (len bytes,
 * apart from src). Returns 0, or -EBADMSG if the message is not authentic; dst is then
 * zeroed (BoringSSL's contract). */
int bssl_col_open(uint8_t *dst, const uint8_t *src, size_t len,
		  const uint8_t nonce[BSSL_COL_NONCE_LEN], const uint8_t key[BSSL_COL_KEY_LEN]);
/* What the header line says of the library: "BoringSSL (API N)". Static storage. */
const char *bssl_col_describe(void);
/* Wipes both contexts; a later call sets them up again. */
void bssl_col_free(void);

#endif
