/*
 * The timers of a peer, after the WireGuard whitepaper §6 and the Linux driver:
 *
 * retransmit_handshake  REKEY_TIMEOUT (+ jitter) after an initiation went out without an
 *                       answer: send another, up to MAX_TIMER_HANDSHAKES tries (90 s), then
 *                       give up, drop what is staged and schedule the zeroing of keys.
 * send_keepalive        KEEPALIVE_TIMEOUT after data arrived and we sent nothing back:
 *                       send an empty packet so the peer knows the session works.
 * new_handshake         KEEPALIVE_TIMEOUT + REKEY_TIMEOUT (+ jitter) after we sent data and
 *                       heard nothing back: the session may be dead, start a handshake.
 * zero_key_material     3 * REJECT_AFTER_TIME after the last session was derived: wipe every
 *                       key, the peer has been silent for long enough.
 * persistent_keepalive  the configured interval after any authenticated packet went either
 *                       way: keep NAT and firewall state alive.
 *
 * Besides, the datapath asks two questions: after sending, is the session old (REKEY_AFTER_TIME
 * when we initiated it) or used up (REKEY_AFTER_MESSAGES)? After receiving, is a session we
 * initiated about to be rejected (REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT)? Either
 * starts a handshake. Nothing here sleeps, reads a clock or touches a socket: the caller passes
 * `now` (monotonic ns) and acts on the returned action set.
 */
#include "timers.h"

#include <string.h>

#include "cipher.h"
#include "messages.h"
#include "noise.h"

static uint64_t secs(uint64_t s)
{
	return s * NSEC_PER_SEC;
}

static uint64_t jitter(void)
{
	return (uint64_t)cipher_random_uniform(REKEY_TIMEOUT_JITTER_MAX_MS) * NSEC_PER_MSEC;
}

/* A deadline of 0 means "off", so never arm one at exactly 0. */
static void arm(uint64_t *deadline, uint64_t when)
{
	*deadline = when ? when : 1;
}

void timers_init(struct timers *t, unsigned persistent_keepalive_interval)
{
	memset(t, 0, sizeof(*t));
	t->persistent_keepalive_interval = persistent_keepalive_interval;
}

void timers_data_sent(struct timers *t, uint64_t now)
{
	if (!t->new_handshake)
		arm(&t->new_handshake, now + secs(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT) + jitter());
}

void timers_data_received(struct timers *t, uint64_t now)
{
	if (!t->send_keepalive)
		arm(&t->send_keepalive, now + secs(KEEPALIVE_TIMEOUT));
	else
		t->need_another_keepalive = true;
}

void timers_any_authenticated_packet_sent(struct timers *t)
{
	t->send_keepalive = 0;
}

void timers_any_authenticated_packet_received(struct timers *t)
{
	t->new_handshake = 0;
}

void timers_any_authenticated_packet_traversal(struct timers *t, uint64_t now)
{
	if (t->persistent_keepalive_interval)
		arm(&t->persistent_keepalive, now + secs(t->persistent_keepalive_interval));
}

void timers_handshake_initiated(struct timers *t, uint64_t now)
{
	arm(&t->retransmit_handshake, now + secs(REKEY_TIMEOUT) + jitter());
}

void timers_handshake_complete(struct timers *t)
{
	t->retransmit_handshake = 0;
	t->handshake_attempts = 0;
	t->sent_lastminute_handshake = false;
	t->unanswered_since = 0;
}

void timers_session_derived(struct timers *t, uint64_t now)
{
	arm(&t->zero_key_material, now + secs(3 * REJECT_AFTER_TIME));
}

bool timers_may_send_initiation(struct timers *t, bool is_retry, uint64_t now)
{
	if (!is_retry)
		t->handshake_attempts = 0;
	if (t->last_sent_handshake && now - t->last_sent_handshake < secs(REKEY_TIMEOUT))
		return false;
	t->last_sent_handshake = now;
	if (!t->unanswered_since)
		t->unanswered_since = now;
	return true;
}

static bool due(uint64_t *deadline, uint64_t now)
{
	if (!*deadline || *deadline > now)
		return false;
	*deadline = 0;
	return true;
}

unsigned timers_expire(struct timers *t, uint64_t now)
{
	unsigned actions = 0;

	if (due(&t->retransmit_handshake, now)) {
		if (t->handshake_attempts > MAX_TIMER_HANDSHAKES) {
			t->send_keepalive = 0;
			actions |= TIMERS_GIVE_UP;
			if (!t->zero_key_material)
				arm(&t->zero_key_material, now + secs(3 * REJECT_AFTER_TIME));
		} else {
			t->handshake_attempts++;
			actions |= TIMERS_SEND_INITIATION;
		}
	}
	if (due(&t->send_keepalive, now)) {
		actions |= TIMERS_SEND_KEEPALIVE;
		if (t->need_another_keepalive) {
			t->need_another_keepalive = false;
			arm(&t->send_keepalive, now + secs(KEEPALIVE_TIMEOUT));
		}
	}
	if (due(&t->new_handshake, now))
		actions |= TIMERS_SEND_NEW_INITIATION;
	if (due(&t->zero_key_material, now))
		actions |= TIMERS_ZERO_KEYS;
	if (due(&t->persistent_keepalive, now) && t->persistent_keepalive_interval)
		actions |= TIMERS_SEND_KEEPALIVE;
	return actions;
}

static void take_min(uint64_t *min, uint64_t d)
{
	if (d && (!*min || d < *min))
		*min = d;
}

uint64_t timers_next_deadline(const struct timers *t)
{
	uint64_t min = 0;

	take_min(&min, t->retransmit_handshake);
	take_min(&min, t->send_keepalive);
	take_min(&min, t->new_handshake);
	take_min(&min, t->zero_key_material);
	take_min(&min, t->persistent_keepalive);
	return min;
}

bool timers_should_rekey_after_send(const struct noise_keypair *kp, uint64_t now)
{
	return kp && kp->valid &&
	       (kp->send_counter > REKEY_AFTER_MESSAGES ||
		(kp->i_am_initiator && now - kp->birthdate >= secs(REKEY_AFTER_TIME)));
}

bool timers_should_rekey_after_receive(struct timers *t, const struct noise_keypair *kp,
				       uint64_t now)
{
	if (!kp || !kp->valid || !kp->i_am_initiator || t->sent_lastminute_handshake)
		return false;
	if (now - kp->birthdate < secs(REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT))
		return false;
	t->sent_lastminute_handshake = true;
	return true;
}

bool timers_keypair_usable_for_send(const struct noise_keypair *kp, uint64_t now)
{
	return kp && kp->valid && kp->send_counter < REJECT_AFTER_MESSAGES &&
	       now - kp->birthdate < secs(REJECT_AFTER_TIME);
}

bool timers_keypair_usable_for_receive(const struct noise_keypair *kp, uint64_t now)
{
	return kp && kp->valid && now - kp->birthdate < secs(REJECT_AFTER_TIME);
}
