#include "key.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

int key_from_base64(uint8_t key[KEY_LEN], const char *b64)
{
	uint8_t tmp[KEY_LEN + 2];
	size_t len;
	const char *end;

	if (strlen(b64) != KEY_B64_LEN - 1 || b64[KEY_B64_LEN - 2] != '=')
		return -EINVAL;
	if (sodium_base642bin(tmp, sizeof(tmp), b64, KEY_B64_LEN - 1, NULL, &len, &end,
			      sodium_base64_VARIANT_ORIGINAL) ||
	    len != KEY_LEN || *end) {
		sodium_memzero(tmp, sizeof(tmp));
		return -EINVAL;
	}
	memcpy(key, tmp, KEY_LEN);
	sodium_memzero(tmp, sizeof(tmp));
	return 0;
}

void key_to_base64(char b64[KEY_B64_LEN], const uint8_t key[KEY_LEN])
{
	sodium_bin2base64(b64, KEY_B64_LEN, key, KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
}

int key_public_from_private(uint8_t pub[KEY_LEN], const uint8_t priv[KEY_LEN])
{
	return crypto_scalarmult_curve25519_base(pub, priv) ? -EINVAL : 0;
}

void key_generate_private(uint8_t priv[KEY_LEN])
{
	randombytes_buf(priv, KEY_LEN);
	priv[0] &= 248;
	priv[31] = (priv[31] & 127) | 64;
}

bool key_is_zero(const uint8_t key[KEY_LEN])
{
	return sodium_is_zero(key, KEY_LEN);
}

bool key_equal(const uint8_t a[KEY_LEN], const uint8_t b[KEY_LEN])
{
	return sodium_memcmp(a, b, KEY_LEN) == 0;
}
