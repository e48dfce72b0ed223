/* 32-byte keys in WireGuard's text form: standard base64, 44 characters with one '='. */
#ifndef SEALNET_KEY_H
#define SEALNET_KEY_H

#include <stdbool.h>
#include <stdint.h>

/* Every key of the protocol: X25519 private and public keys, the preshared key, the
 * ChaCha20-Poly1305 and chaining keys (the whitepaper's NOISE_PUBLIC_KEY_LEN and
 * NOISE_SYMMETRIC_KEY_LEN, both 32). */
#define KEY_LEN 32
#define KEY_B64_LEN 45 /* with NUL */

/* Returns 0 or -EINVAL (wrong length, bad characters, trailing bits set). */
int key_from_base64(uint8_t key[KEY_LEN], const char *b64);
void key_to_base64(char b64[KEY_B64_LEN], const uint8_t key[KEY_LEN]);
/* The control socket's form: 64 lowercase hex digits. */
#define KEY_HEX_LEN 65 /* with NUL */
int key_from_hex(uint8_t key[KEY_LEN], const char *hex);
void key_to_hex(char hex[KEY_HEX_LEN], const uint8_t key[KEY_LEN]);
/* X25519 public key of a private key; clamps a copy as X25519 does. */
int key_public_from_private(uint8_t pub[KEY_LEN], const uint8_t priv[KEY_LEN]);
void key_generate_private(uint8_t priv[KEY_LEN]);
/* X25519's clamping (RFC 7748), in place: wireguard-go and the Linux module keep a private
 * key clamped and show it so, and two keys that clamp alike are one identity. */
void key_clamp_private(uint8_t priv[KEY_LEN]);
/* A key file as wg(8) reads one: the base64 key, blanks around it, at most 127 bytes read.
 * Returns 0, -EINVAL (not a key; *empty when the file held only blanks) or -errno of read(2).
 * The buffer is wiped. */
int key_read_file(int fd, uint8_t key[KEY_LEN], bool *empty);
/* Constant time. */
bool key_is_zero(const uint8_t key[KEY_LEN]);
bool key_equal(const uint8_t a[KEY_LEN], const uint8_t b[KEY_LEN]);

#endif
