/* WireGuard's wire format and protocol constants (whitepaper §5.4 and §6). Every field is
 * little-endian; a message starts with a 32-bit type, so bytes 1..3 are always zero. */
#ifndef SEALNET_MESSAGES_H
#define SEALNET_MESSAGES_H

#include <stdint.h>

#include "key.h" /* KEY_LEN: every key of the protocol, public, private or symmetric */

#define NOISE_TIMESTAMP_LEN 12
#define NOISE_AUTHTAG_LEN 16
#define NOISE_HASH_LEN 32
#define COOKIE_LEN 16
#define COOKIE_NONCE_LEN 24

#define NOISE_ENCRYPTED_LEN(plain) ((plain) + NOISE_AUTHTAG_LEN)

/* Seconds unless named otherwise. */
#define REKEY_AFTER_MESSAGES (1ULL << 60)
#define REJECT_AFTER_MESSAGES (UINT64_MAX - (1ULL << 13)) /* 2^64 - 2^13 - 1 */
#define REKEY_TIMEOUT 5
#define REKEY_TIMEOUT_JITTER_MAX_MS 334
#define REKEY_AFTER_TIME 120
#define REJECT_AFTER_TIME 180
#define REKEY_ATTEMPT_TIME 90
#define KEEPALIVE_TIMEOUT 10
#define COOKIE_SECRET_MAX_AGE 120
#define COOKIE_SECRET_LATENCY 5
#define MAX_TIMER_HANDSHAKES (REKEY_ATTEMPT_TIME / REKEY_TIMEOUT)
/* A peer's initiations are consumed at most this often (flood of replayed-but-fresh ones). */
#define INITIATIONS_PER_SECOND 50

#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_MSEC 1000000ULL

enum message_type {
	MESSAGE_INVALID = 0,
	MESSAGE_HANDSHAKE_INITIATION = 1,
	MESSAGE_HANDSHAKE_RESPONSE = 2,
	MESSAGE_HANDSHAKE_COOKIE = 3,
	MESSAGE_DATA = 4,
};

struct message_header {
	uint32_t type; /* little-endian */
} __attribute__((packed));

struct message_macs {
	uint8_t mac1[COOKIE_LEN];
	uint8_t mac2[COOKIE_LEN];
} __attribute__((packed));

struct message_handshake_initiation {
	struct message_header header;
	uint32_t sender_index;
	uint8_t unencrypted_ephemeral[KEY_LEN];
	uint8_t encrypted_static[NOISE_ENCRYPTED_LEN(KEY_LEN)];
	uint8_t encrypted_timestamp[NOISE_ENCRYPTED_LEN(NOISE_TIMESTAMP_LEN)];
	struct message_macs macs;
} __attribute__((packed));

struct message_handshake_response {
	struct message_header header;
	uint32_t sender_index;
	uint32_t receiver_index;
	uint8_t unencrypted_ephemeral[KEY_LEN];
	uint8_t encrypted_nothing[NOISE_ENCRYPTED_LEN(0)];
	struct message_macs macs;
} __attribute__((packed));

struct message_handshake_cookie {
	struct message_header header;
	uint32_t receiver_index;
	uint8_t nonce[COOKIE_NONCE_LEN];
	uint8_t encrypted_cookie[NOISE_ENCRYPTED_LEN(COOKIE_LEN)];
} __attribute__((packed));

struct message_data {
	struct message_header header;
	uint32_t key_idx;
	uint64_t counter;
	uint8_t encrypted_data[];
} __attribute__((packed));

#define MESSAGE_DATA_OVERHEAD (sizeof(struct message_data) + NOISE_AUTHTAG_LEN)
#define MESSAGE_MINIMUM_LENGTH MESSAGE_DATA_OVERHEAD
#define MESSAGE_PADDING_MULTIPLE 16

_Static_assert(sizeof(struct message_handshake_initiation) == 148, "initiation is 148 bytes");
_Static_assert(sizeof(struct message_handshake_response) == 92, "response is 92 bytes");
_Static_assert(sizeof(struct message_handshake_cookie) == 64, "cookie reply is 64 bytes");
_Static_assert(sizeof(struct message_data) == 16, "data header is 16 bytes");

#endif
