/* unit.h: what the cmocka unit tests share, so that no test carries a copy.
 *
 * Include it after <cmocka.h>.  Everything is static inline: a test pays only for what it
 * uses.  The scripted stand-in for randombytes_buf is compiled only where a test defines
 * UNIT_SCRIPTED_RANDOM before including this file, and links with
 * LINK-WRAP: -Wl,--wrap=randombytes_buf (in its own header comment, which the Makefile reads). */
#ifndef SEALNET_TESTS_UNIT_H
#define SEALNET_TESTS_UNIT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cipher.h"

/* Fills out with the bytes hex spells; the lengths must agree exactly. */
static inline void unhex(uint8_t *out, size_t len, const char *hex)
{
	assert_int_equal(strlen(hex), 2 * len);
	for (size_t i = 0; i < len; i++) {
		unsigned v;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

/* got (len bytes, at most 256) is what hex spells. */
static inline void assert_hex(const void *got, size_t len, const char *hex)
{
	uint8_t want[256];

	assert_true(len <= sizeof(want));
	unhex(want, len, hex);
	assert_memory_equal(got, want, len);
}

/* start, start + 1, ...: inputs that are easy to spell in a known-answer generator. */
static inline void pattern(uint8_t *out, size_t len, uint8_t start)
{
	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(start + i);
}

/* A group setup for tests that need libsodium. */
static inline int cipher_setup(void **state)
{
	(void)state;
	return cipher_init();
}

/* A teardown for fixtures that are one calloc'd or malloc'd block. */
static inline int free_state(void **state)
{
	free(*state);
	return 0;
}

#ifdef UNIT_SCRIPTED_RANDOM
void __real_randombytes_buf(void *const buf, const size_t size);
void __wrap_randombytes_buf(void *const buf, const size_t size);

/* Requests for randomness are served from this queue first, in order and each of the size
 * pushed; once it is empty, the randomness is real again. */
static struct {
	uint8_t bytes[64];
	size_t len;
} script[8];
static size_t script_head, script_len;

static inline void script_push(const void *bytes, size_t len)
{
	assert_true(script_len < sizeof(script) / sizeof(script[0]));
	assert_true(len <= sizeof(script[0].bytes));
	memcpy(script[script_len].bytes, bytes, len);
	script[script_len++].len = len;
}

static inline void script_push_u32(uint32_t v)
{
	script_push(&v, sizeof(v));
}

static inline void script_reset(void)
{
	script_head = script_len = 0;
}

void __wrap_randombytes_buf(void *const buf, const size_t size)
{
	if (script_head < script_len) {
		assert_int_equal(size, script[script_head].len);
		memcpy(buf, script[script_head++].bytes, size);
		if (script_head == script_len)
			script_reset();
		return;
	}
	__real_randombytes_buf(buf, size);
}
#endif

#endif
