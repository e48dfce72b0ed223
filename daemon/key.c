#include "key.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "cipher.h"
#include "readfile.h"

/* The decoded key goes out only when decoding worked; the scratch copy is wiped either way. */
static int take_decoded(uint8_t key[KEY_LEN], uint8_t *tmp, size_t tmplen, bool ok)
{
	if (ok)
		memcpy(key, tmp, KEY_LEN);
	sodium_memzero(tmp, tmplen);
	return ok ? 0 : -EINVAL;
}

int key_from_base64(uint8_t key[KEY_LEN], const char *b64)
{
	uint8_t tmp[KEY_LEN + 2];
	size_t len;
	const char *end;

	if (strlen(b64) != KEY_B64_LEN - 1 || b64[KEY_B64_LEN - 2] != '=')
		return -EINVAL;
	return take_decoded(key, tmp, sizeof(tmp),
			    !sodium_base642bin(tmp, sizeof(tmp), b64, KEY_B64_LEN - 1, NULL, &len,
					       &end, sodium_base64_VARIANT_ORIGINAL) &&
				    len == KEY_LEN && !*end);
}

void key_to_base64(char b64[KEY_B64_LEN], const uint8_t key[KEY_LEN])
{
	sodium_bin2base64(b64, KEY_B64_LEN, key, KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
}

int key_from_hex(uint8_t key[KEY_LEN], const char *hex)
{
	uint8_t tmp[KEY_LEN];
	size_t len;
	const char *end;

	if (strlen(hex) != KEY_HEX_LEN - 1)
		return -EINVAL;
	return take_decoded(key, tmp, sizeof(tmp),
			    !sodium_hex2bin(tmp, sizeof(tmp), hex, KEY_HEX_LEN - 1, NULL, &len,
					    &end) &&
				    len == KEY_LEN && !*end);
}

void key_to_hex(char hex[KEY_HEX_LEN], const uint8_t key[KEY_LEN])
{
	sodium_bin2hex(hex, KEY_HEX_LEN, key, KEY_LEN);
}

int key_public_from_private(uint8_t pub[KEY_LEN], const uint8_t priv[KEY_LEN])
{
	return cipher_public_key(pub, priv);
}

void key_generate_private(uint8_t priv[KEY_LEN])
{
	cipher_generate_private(priv);
}

void key_clamp_private(uint8_t priv[KEY_LEN])
{
	priv[0] &= 248;
	priv[KEY_LEN - 1] = (priv[KEY_LEN - 1] & 127) | 64;
}

bool key_is_zero(const uint8_t key[KEY_LEN])
{
	return cipher_is_zero(key, KEY_LEN);
}

bool key_equal(const uint8_t a[KEY_LEN], const uint8_t b[KEY_LEN])
{
	return cipher_equal(a, b, KEY_LEN);
}

int key_read_file(int fd, uint8_t key[KEY_LEN], bool *empty)
{
	char buf[128];
	size_t len = 0, start = 0;
	int ret;

	*empty = false;
	ret = readfile_fill(fd, buf, sizeof(buf) - 1, &len);
	if (ret < 0)
		goto out;
	ret = -EINVAL;
	buf[len] = '\0';
	while (start < len && isspace((unsigned char)buf[start]))
		start++;
	while (len > start && isspace((unsigned char)buf[len - 1]))
		buf[--len] = '\0';
	*empty = start == len;
	if (!*empty && !key_from_base64(key, buf + start))
		ret = 0;
out:
	sodium_memzero(buf, sizeof(buf));
	return ret;
}
