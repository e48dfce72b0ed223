/* Noise_IKpsk2 as WireGuard uses it (whitepaper §5.4). The functions take bytes and a clock
 * and give bytes; they never touch sockets, so the whole handshake runs in unit tests.
 * A failed consume leaves the handshake state exactly as it was. */
#ifndef SEALNET_NOISE_H
#define SEALNET_NOISE_H

#include <stdbool.h>
#include <stdint.h>

#include "index.h"
#include "messages.h"
#include "replay.h"

struct noise_local {
	uint8_t *private_key; /* sodium_malloc memory, owned by the device; NULL = no identity */
	uint8_t public_key[KEY_LEN];
};

enum noise_state {
	NOISE_ZEROED,
	NOISE_CREATED_INITIATION,
	NOISE_CONSUMED_INITIATION,
	NOISE_CREATED_RESPONSE,
	NOISE_CONSUMED_RESPONSE,
};

struct noise_handshake {
	struct index_entry entry; /* our index for this handshake */
	enum noise_state state;
	uint8_t remote_static[KEY_LEN];
	/* DH(our static, their static): computed once per identity change; zero if invalid. */
	uint8_t precomputed_static_static[KEY_LEN];
	uint8_t preshared_key[KEY_LEN];
	uint8_t ephemeral_private[KEY_LEN];
	uint8_t remote_ephemeral[KEY_LEN];
	uint8_t hash[NOISE_HASH_LEN];
	uint8_t chaining_key[NOISE_HASH_LEN];
	uint8_t latest_timestamp[NOISE_TIMESTAMP_LEN];
	uint64_t last_initiation_consumption; /* monotonic ns */
	uint32_t remote_index;
};

struct noise_keypair {
	struct index_entry entry; /* our index: what the peer puts in key_idx */
	uint8_t send_key[KEY_LEN];
	uint8_t recv_key[KEY_LEN];
	uint64_t send_counter; /* next nonce to use */
	struct replay replay;
	uint64_t birthdate; /* monotonic ns */
	uint32_t remote_index;
	bool i_am_initiator;
	bool valid;
};

/* Sets the peer's identity and recomputes the static-static DH. psk may be NULL. */
void noise_handshake_init(struct noise_handshake *hs, const struct noise_local *local,
			  const uint8_t remote_static[KEY_LEN], const uint8_t *preshared_key);
/* Recompute after our private key changed. */
void noise_handshake_set_local(struct noise_handshake *hs, const struct noise_local *local);
/* Wipes the ephemeral state (keeps identity, timestamp and index entry). */
void noise_handshake_clear(struct noise_handshake *hs);

/* hs->entry.index must already name this handshake. realtime_ns feeds the TAI64N timestamp,
 * now the flood and age bookkeeping (monotonic). Returns 0 or -EINVAL/-ENOKEY. */
int noise_create_initiation(struct noise_handshake *hs, const struct noise_local *local,
			    struct message_handshake_initiation *dst, uint64_t realtime_ns);

/* Finds the initiator by its decrypted static key through lookup. Returns 0 with *out set,
 * -ENOKEY (unknown peer), -EBADMSG (does not decrypt), -EALREADY (timestamp not newer:
 * replay), -EBUSY (initiations from this peer too fast). */
typedef struct noise_handshake *noise_lookup_fn(void *ctx, const uint8_t pub[KEY_LEN]);
int noise_consume_initiation(const struct noise_local *local,
			     const struct message_handshake_initiation *src,
			     noise_lookup_fn *lookup, void *ctx, uint64_t now,
			     struct noise_handshake **out);

/* After consume_initiation; hs->entry.index must name this handshake. */
int noise_create_response(struct noise_handshake *hs, const struct noise_local *local,
			  struct message_handshake_response *dst);
/* hs is the handshake src->receiver_index named. Returns 0, -EINVAL (wrong state) or
 * -EBADMSG. */
int noise_consume_response(struct noise_handshake *hs, const struct noise_local *local,
			   const struct message_handshake_response *src);

/* Splits the finished handshake into a session (whitepaper §5.4.5) and wipes the handshake.
 * kp->entry is left to the caller. Returns 0 or -EINVAL (handshake not finished). */
int noise_derive_keypair(struct noise_handshake *hs, struct noise_keypair *kp, uint64_t now);
void noise_keypair_wipe(struct noise_keypair *kp);

/* TAI64N of a CLOCK_REALTIME reading, rounded down so it leaks less about the clock. */
void noise_tai64n(uint8_t out[NOISE_TIMESTAMP_LEN], uint64_t realtime_ns);

#endif
