/* WireGuard's timer state machine (whitepaper §6), as plain data and pure decisions: the
 * datapath signals events with the current monotonic time, and the device asks
 * timers_expire() what is due. See the comment at the top of timers.c. */
#ifndef SEALNET_TIMERS_H
#define SEALNET_TIMERS_H

#include <stdbool.h>
#include <stdint.h>

struct noise_keypair;

/* Deadlines in monotonic ns; 0 = not armed. */
struct timers {
	uint64_t retransmit_handshake;
	uint64_t send_keepalive;
	uint64_t new_handshake;
	uint64_t zero_key_material;
	uint64_t persistent_keepalive;
	uint64_t last_sent_handshake; /* 0 = never */
	/* The first initiation sent since the last completed handshake, 0 = none: how long the
	 * peer has not answered, which the attempt count cannot tell (a new initiation, not a
	 * retry, resets it as WireGuard does, so it drops to 0 every few seconds of a peer that
	 * is down and traffic keeps wanting). */
	uint64_t unanswered_since;
	unsigned handshake_attempts;
	unsigned persistent_keepalive_interval; /* seconds, 0 = off */
	bool need_another_keepalive;
	bool sent_lastminute_handshake;
};

enum timers_action {
	TIMERS_SEND_INITIATION = 1 << 0,     /* a retry: keep the attempt count */
	TIMERS_SEND_NEW_INITIATION = 1 << 1, /* start over: attempt count to zero */
	TIMERS_SEND_KEEPALIVE = 1 << 2,
	TIMERS_GIVE_UP = 1 << 3, /* drop staged packets: the peer is not answering */
	TIMERS_ZERO_KEYS = 1 << 4,
};

void timers_init(struct timers *t, unsigned persistent_keepalive_interval);

/* Events, named as in WireGuard's timers.c. */
void timers_data_sent(struct timers *t, uint64_t now);
void timers_data_received(struct timers *t, uint64_t now);
void timers_any_authenticated_packet_sent(struct timers *t);
void timers_any_authenticated_packet_received(struct timers *t);
void timers_any_authenticated_packet_traversal(struct timers *t, uint64_t now);
void timers_handshake_initiated(struct timers *t, uint64_t now);
void timers_handshake_complete(struct timers *t);
void timers_session_derived(struct timers *t, uint64_t now);

/* May an initiation go out now? Records it if so. A retry keeps counting attempts; a new one
 * starts over. At most one initiation per REKEY_TIMEOUT either way. */
bool timers_may_send_initiation(struct timers *t, bool is_retry, uint64_t now);

/* Runs every deadline that is due at now and returns what the caller must do (a set of
 * enum timers_action). */
unsigned timers_expire(struct timers *t, uint64_t now);
/* Earliest armed deadline, 0 if none. */
uint64_t timers_next_deadline(const struct timers *t);

/* Datapath decisions about the current session. */
bool timers_should_rekey_after_send(const struct noise_keypair *kp, uint64_t now);
bool timers_should_rekey_after_receive(struct timers *t, const struct noise_keypair *kp,
				       uint64_t now);
bool timers_keypair_usable_for_send(const struct noise_keypair *kp, uint64_t now);
bool timers_keypair_usable_for_receive(const struct noise_keypair *kp, uint64_t now);

#endif
