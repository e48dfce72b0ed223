/* Timer decisions with a clock we set. Jitter comes from libsodium's randombytes_uniform,
 * wrapped here to return a value the test chooses. The expectations follow WireGuard's
 * timers.c and the whitepaper §6, not our own header. */
/* LINK-WRAP: -Wl,--wrap=randombytes_uniform */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "messages.h"
#include "noise.h"
#include "timers.h"

#define SEC NSEC_PER_SEC
#define MSEC NSEC_PER_MSEC
#define T0 (1000 * SEC)

uint32_t __wrap_randombytes_uniform(const uint32_t upper_bound);

static uint32_t jitter_ms;  /* what the next draw returns */
static uint32_t last_upper; /* what it was asked for */
static unsigned jitter_draws;

uint32_t __wrap_randombytes_uniform(const uint32_t upper_bound)
{
	last_upper = upper_bound;
	jitter_draws++;
	assert_true(jitter_ms < upper_bound);
	return jitter_ms;
}

static int setup(void **state)
{
	jitter_ms = 0;
	last_upper = 0;
	jitter_draws = 0;
	return 0;
}

static void keypair(struct noise_keypair *kp, bool initiator, uint64_t birth)
{
	memset(kp, 0, sizeof(*kp));
	kp->valid = true;
	kp->i_am_initiator = initiator;
	kp->birthdate = birth;
}

static void test_init(void **state)
{
	struct timers t;

	memset(&t, 0xa5, sizeof(t));
	timers_init(&t, 25);
	assert_int_equal(t.persistent_keepalive_interval, 25);
	assert_int_equal(timers_next_deadline(&t), 0);
	assert_int_equal(timers_expire(&t, T0), 0);
	assert_int_equal(timers_expire(&t, UINT64_MAX), 0);
	assert_int_equal(t.handshake_attempts, 0);
	assert_false(t.need_another_keepalive);
	assert_false(t.sent_lastminute_handshake);
}

static void test_retransmit(void **state)
{
	struct timers t;

	timers_init(&t, 0);
	timers_handshake_initiated(&t, T0);
	assert_int_equal(jitter_draws, 1);
	assert_int_equal(last_upper, REKEY_TIMEOUT_JITTER_MAX_MS);
	assert_int_equal(timers_next_deadline(&t), T0 + 5 * SEC);
	assert_int_equal(timers_expire(&t, T0 + 5 * SEC - 1), 0);
	assert_int_equal(t.handshake_attempts, 0);
	assert_int_equal(timers_expire(&t, T0 + 5 * SEC), TIMERS_SEND_INITIATION);
	assert_int_equal(t.handshake_attempts, 1);
	/* Fired once; the sender re-arms it when the retry goes out. */
	assert_int_equal(timers_expire(&t, T0 + 6 * SEC), 0);
	assert_int_equal(timers_next_deadline(&t), 0);

	/* Jitter is added in milliseconds, below a third of a second. */
	jitter_ms = 333;
	timers_handshake_initiated(&t, T0 + 10 * SEC);
	assert_int_equal(timers_next_deadline(&t), T0 + 15 * SEC + 333 * MSEC);
	assert_int_equal(timers_expire(&t, T0 + 15 * SEC + 333 * MSEC - 1), 0);
	assert_int_equal(timers_expire(&t, T0 + 15 * SEC + 333 * MSEC), TIMERS_SEND_INITIATION);

	/* A late check still fires, once. */
	timers_handshake_initiated(&t, T0 + 20 * SEC);
	assert_int_equal(timers_expire(&t, T0 + 100 * SEC), TIMERS_SEND_INITIATION);
	assert_int_equal(timers_expire(&t, T0 + 100 * SEC), 0);
}

static void test_handshake_complete(void **state)
{
	struct timers t;

	timers_init(&t, 0);
	timers_handshake_initiated(&t, T0);
	assert_int_equal(timers_expire(&t, T0 + 5 * SEC), TIMERS_SEND_INITIATION);
	timers_handshake_initiated(&t, T0 + 5 * SEC);
	t.sent_lastminute_handshake = true;
	timers_handshake_complete(&t);
	assert_int_equal(t.handshake_attempts, 0);
	assert_false(t.sent_lastminute_handshake);
	assert_int_equal(t.retransmit_handshake, 0);
	assert_int_equal(timers_expire(&t, T0 + 60 * SEC), 0);
}

/* What the datapath does with a retransmit: ask, send, re-arm. Returns the actions of the
 * first expiry that asked for no retry. */
static unsigned run_retries(struct timers *t, uint64_t start, unsigned *initiations, uint64_t *end)
{
	uint64_t now = start;
	unsigned actions;

	assert_true(timers_may_send_initiation(t, false, now));
	timers_handshake_initiated(t, now);
	*initiations = 1;
	for (;;) {
		now = timers_next_deadline(t);
		assert_int_not_equal(now, 0);
		actions = timers_expire(t, now);
		if (!(actions & TIMERS_SEND_INITIATION))
			break;
		assert_false(actions & TIMERS_GIVE_UP);
		assert_true(timers_may_send_initiation(t, true, now));
		timers_handshake_initiated(t, now);
		(*initiations)++;
		assert_true(*initiations < 100);
	}
	*end = now;
	return actions;
}

static void test_give_up(void **state)
{
	struct timers t;
	unsigned actions, initiations;
	uint64_t end;

	timers_init(&t, 0);
	actions = run_retries(&t, T0, &initiations, &end);
	/* WireGuard: the first initiation plus MAX_TIMER_HANDSHAKES + 1 retries, 20 in all,
	 * every REKEY_TIMEOUT; then give up. */
	assert_int_equal(MAX_TIMER_HANDSHAKES, 18);
	assert_int_equal(initiations, MAX_TIMER_HANDSHAKES + 2);
	assert_int_equal(t.handshake_attempts, MAX_TIMER_HANDSHAKES + 1);
	assert_true(actions & TIMERS_GIVE_UP);
	assert_false(actions & (TIMERS_SEND_INITIATION | TIMERS_SEND_NEW_INITIATION));
	assert_int_equal(end, T0 + (MAX_TIMER_HANDSHAKES + 2) * REKEY_TIMEOUT * SEC);
	/* The keys go 3 * 180 s later. */
	assert_int_equal(t.retransmit_handshake, 0);
	assert_int_equal(t.zero_key_material, end + 3 * REJECT_AFTER_TIME * SEC);
	assert_int_equal(timers_next_deadline(&t), end + 540 * SEC);
	assert_int_equal(timers_expire(&t, end + 540 * SEC - 1), 0);
	assert_int_equal(timers_expire(&t, end + 540 * SEC), TIMERS_ZERO_KEYS);
	assert_int_equal(timers_next_deadline(&t), 0);
}

/* With the peer silent, a pending keepalive has no one to go to. */
static void test_give_up_cancels_keepalive(void **state)
{
	struct timers t;

	timers_init(&t, 0);
	t.handshake_attempts = MAX_TIMER_HANDSHAKES + 1;
	timers_handshake_initiated(&t, T0);
	timers_data_received(&t, T0 + SEC);
	assert_int_equal(timers_expire(&t, T0 + 5 * SEC), TIMERS_GIVE_UP);
	assert_int_equal(t.send_keepalive, 0);
	assert_int_equal(timers_expire(&t, T0 + 11 * SEC), 0);
	assert_int_equal(timers_next_deadline(&t), T0 + 5 * SEC + 540 * SEC);
}

/* Giving up does not postpone a zeroing already scheduled by the last session. */
static void test_give_up_keeps_zeroing(void **state)
{
	struct timers t;
	unsigned initiations;
	uint64_t end;

	timers_init(&t, 0);
	timers_session_derived(&t, T0);
	assert_true(run_retries(&t, T0 + SEC, &initiations, &end) & TIMERS_GIVE_UP);
	assert_int_equal(t.zero_key_material, T0 + 540 * SEC);
}

/* A new handshake (not a retry) starts counting again. */
static void test_new_initiation_resets_attempts(void **state)
{
	struct timers t;

	timers_init(&t, 0);
	t.handshake_attempts = 7;
	assert_true(timers_may_send_initiation(&t, true, T0));
	assert_int_equal(t.handshake_attempts, 7);
	/* Even when refused for being too soon. */
	assert_false(timers_may_send_initiation(&t, false, T0 + SEC));
	assert_int_equal(t.handshake_attempts, 0);
}

/* How long the peer has not answered: from the first initiation after the last handshake,
 * moved by neither retries nor new initiations, cleared by a completed handshake. */
static void test_unanswered_since(void **state)
{
	struct timers t;

	timers_init(&t, 0);
	assert_int_equal(t.unanswered_since, 0);
	assert_true(timers_may_send_initiation(&t, false, T0));
	assert_int_equal(t.unanswered_since, T0);
	assert_true(timers_may_send_initiation(&t, true, T0 + 5 * SEC));
	assert_true(timers_may_send_initiation(&t, false, T0 + 20 * SEC));
	assert_int_equal(t.handshake_attempts, 0);
	assert_int_equal(t.unanswered_since, T0);
	timers_handshake_complete(&t);
	assert_int_equal(t.unanswered_since, 0);
	/* Refused for being too soon: nothing went out, nothing is unanswered. */
	t.last_sent_handshake = T0 + 30 * SEC;
	assert_false(timers_may_send_initiation(&t, false, T0 + 31 * SEC));
	assert_int_equal(t.unanswered_since, 0);
}

static void test_may_send_initiation(void **state)
{
	struct timers t;

	timers_init(&t, 0);
	assert_true(timers_may_send_initiation(&t, false, T0));
	assert_int_equal(t.last_sent_handshake, T0);
	assert_false(timers_may_send_initiation(&t, false, T0));
	assert_false(timers_may_send_initiation(&t, true, T0 + SEC));
	assert_false(timers_may_send_initiation(&t, false, T0 + 5 * SEC - 1));
	/* Refusals do not move the window. */
	assert_int_equal(t.last_sent_handshake, T0);
	assert_true(timers_may_send_initiation(&t, true, T0 + 5 * SEC));
	assert_int_equal(t.last_sent_handshake, T0 + 5 * SEC);
	assert_false(timers_may_send_initiation(&t, true, T0 + 9 * SEC));
	assert_true(timers_may_send_initiation(&t, false, T0 + 60 * SEC));
}

static void test_data_sent(void **state)
{
	struct timers t;

	timers_init(&t, 0);
	jitter_ms = 100;
	timers_data_sent(&t, T0);
	assert_int_equal(timers_next_deadline(&t), T0 + 15 * SEC + 100 * MSEC);
	/* More data does not push it back: it measures from the first unanswered send. */
	jitter_ms = 0;
	timers_data_sent(&t, T0 + 3 * SEC);
	timers_data_sent(&t, T0 + 14 * SEC);
	assert_int_equal(timers_next_deadline(&t), T0 + 15 * SEC + 100 * MSEC);
	assert_int_equal(timers_expire(&t, T0 + 15 * SEC + 100 * MSEC - 1), 0);
	assert_int_equal(timers_expire(&t, T0 + 15 * SEC + 100 * MSEC), TIMERS_SEND_NEW_INITIATION);
	assert_int_equal(timers_expire(&t, T0 + 30 * SEC), 0);

	/* Anything authenticated from the peer means the session works. */
	timers_data_sent(&t, T0 + 40 * SEC);
	assert_int_equal(timers_next_deadline(&t), T0 + 55 * SEC);
	timers_any_authenticated_packet_received(&t);
	assert_int_equal(timers_next_deadline(&t), 0);
	assert_int_equal(timers_expire(&t, T0 + 60 * SEC), 0);
	/* And the next send arms it afresh. */
	timers_data_sent(&t, T0 + 70 * SEC);
	assert_int_equal(timers_next_deadline(&t), T0 + 85 * SEC);
}

static void test_keepalive(void **state)
{
	struct timers t;

	timers_init(&t, 0);
	timers_data_received(&t, T0);
	assert_int_equal(timers_next_deadline(&t), T0 + 10 * SEC);
	assert_false(t.need_another_keepalive);
	assert_int_equal(timers_expire(&t, T0 + 10 * SEC - 1), 0);
	assert_int_equal(timers_expire(&t, T0 + 10 * SEC), TIMERS_SEND_KEEPALIVE);
	assert_int_equal(timers_next_deadline(&t), 0);

	/* More data while one is pending: one more keepalive after this one. */
	timers_data_received(&t, T0 + 20 * SEC);
	timers_data_received(&t, T0 + 21 * SEC);
	timers_data_received(&t, T0 + 22 * SEC);
	assert_true(t.need_another_keepalive);
	assert_int_equal(timers_next_deadline(&t), T0 + 30 * SEC);
	assert_int_equal(timers_expire(&t, T0 + 30 * SEC), TIMERS_SEND_KEEPALIVE);
	assert_false(t.need_another_keepalive);
	assert_int_equal(timers_next_deadline(&t), T0 + 40 * SEC);
	assert_int_equal(timers_expire(&t, T0 + 40 * SEC), TIMERS_SEND_KEEPALIVE);
	assert_int_equal(timers_next_deadline(&t), 0);
}

/* Anything we send carries the acknowledgement a keepalive would. */
static void test_sent_cancels_keepalive(void **state)
{
	struct timers t;

	timers_init(&t, 0);
	timers_data_received(&t, T0);
	timers_any_authenticated_packet_sent(&t);
	assert_int_equal(t.send_keepalive, 0);
	assert_int_equal(timers_expire(&t, T0 + 10 * SEC), 0);
	/* The next data arms it again. */
	timers_data_received(&t, T0 + 11 * SEC);
	assert_int_equal(timers_next_deadline(&t), T0 + 21 * SEC);
}

static void test_persistent_keepalive(void **state)
{
	struct timers t;

	timers_init(&t, 25);
	timers_any_authenticated_packet_traversal(&t, T0);
	assert_int_equal(timers_next_deadline(&t), T0 + 25 * SEC);
	/* Each packet either way pushes it back. */
	timers_any_authenticated_packet_traversal(&t, T0 + 10 * SEC);
	assert_int_equal(timers_next_deadline(&t), T0 + 35 * SEC);
	assert_int_equal(timers_expire(&t, T0 + 35 * SEC - 1), 0);
	assert_int_equal(timers_expire(&t, T0 + 35 * SEC), TIMERS_SEND_KEEPALIVE);
	assert_int_equal(timers_next_deadline(&t), 0);

	/* Off: nothing is armed. */
	timers_init(&t, 0);
	timers_any_authenticated_packet_traversal(&t, T0);
	assert_int_equal(timers_next_deadline(&t), 0);
	/* Switched off while armed: it fires as nothing. */
	timers_init(&t, 1);
	timers_any_authenticated_packet_traversal(&t, T0);
	t.persistent_keepalive_interval = 0;
	assert_int_equal(timers_expire(&t, T0 + SEC), 0);
	assert_int_equal(timers_next_deadline(&t), 0);
}

static void test_session_derived(void **state)
{
	struct timers t;

	timers_init(&t, 0);
	timers_session_derived(&t, T0);
	assert_int_equal(timers_next_deadline(&t), T0 + 540 * SEC);
	/* Each new session postpones it. */
	timers_session_derived(&t, T0 + 100 * SEC);
	assert_int_equal(timers_next_deadline(&t), T0 + 640 * SEC);
	assert_int_equal(timers_expire(&t, T0 + 640 * SEC - 1), 0);
	assert_int_equal(timers_expire(&t, T0 + 640 * SEC), TIMERS_ZERO_KEYS);
	assert_int_equal(timers_expire(&t, T0 + 700 * SEC), 0);
}

static void test_next_deadline(void **state)
{
	struct timers t;

	timers_init(&t, 7);
	timers_session_derived(&t, T0);                              /* T0 + 540 s */
	timers_data_sent(&t, T0 + SEC);                              /* T0 + 16 s */
	timers_data_received(&t, T0 + 2 * SEC);                      /* T0 + 12 s */
	timers_any_authenticated_packet_traversal(&t, T0 + 3 * SEC); /* T0 + 10 s */
	timers_handshake_initiated(&t, T0 + 6 * SEC);                /* T0 + 11 s */
	assert_int_equal(timers_next_deadline(&t), T0 + 10 * SEC);
	assert_int_equal(timers_expire(&t, T0 + 10 * SEC), TIMERS_SEND_KEEPALIVE);
	assert_int_equal(timers_next_deadline(&t), T0 + 11 * SEC);
	assert_int_equal(timers_expire(&t, T0 + 11 * SEC), TIMERS_SEND_INITIATION);
	assert_int_equal(timers_next_deadline(&t), T0 + 12 * SEC);
	assert_int_equal(timers_expire(&t, T0 + 12 * SEC), TIMERS_SEND_KEEPALIVE);
	assert_int_equal(timers_next_deadline(&t), T0 + 16 * SEC);
	assert_int_equal(timers_expire(&t, T0 + 16 * SEC), TIMERS_SEND_NEW_INITIATION);
	assert_int_equal(timers_next_deadline(&t), T0 + 540 * SEC);
}

/* Everything due at once comes back in one call. */
static void test_expire_together(void **state)
{
	struct timers t;
	unsigned actions;

	timers_init(&t, 5);
	timers_handshake_initiated(&t, T0);
	timers_data_received(&t, T0);
	timers_data_sent(&t, T0);
	timers_any_authenticated_packet_traversal(&t, T0);
	timers_session_derived(&t, T0);
	actions = timers_expire(&t, T0 + 1000 * SEC);
	assert_int_equal(actions, TIMERS_SEND_INITIATION | TIMERS_SEND_KEEPALIVE |
					  TIMERS_SEND_NEW_INITIATION | TIMERS_ZERO_KEYS);
	assert_int_equal(timers_next_deadline(&t), 0);
}

static void test_rekey_after_send(void **state)
{
	struct noise_keypair kp;

	assert_false(timers_should_rekey_after_send(NULL, T0));
	keypair(&kp, true, T0);
	assert_false(timers_should_rekey_after_send(&kp, T0));
	assert_false(timers_should_rekey_after_send(&kp, T0 + 120 * SEC - 1));
	assert_true(timers_should_rekey_after_send(&kp, T0 + 120 * SEC));
	assert_true(timers_should_rekey_after_send(&kp, T0 + 170 * SEC));
	kp.valid = false;
	assert_false(timers_should_rekey_after_send(&kp, T0 + 170 * SEC));

	/* The responder never rekeys by age: that would make both sides initiate at once. */
	keypair(&kp, false, T0);
	assert_false(timers_should_rekey_after_send(&kp, T0 + 120 * SEC));
	assert_false(timers_should_rekey_after_send(&kp, T0 + 1000 * SEC));

	/* Either side does after REKEY_AFTER_MESSAGES. */
	kp.send_counter = REKEY_AFTER_MESSAGES;
	assert_false(timers_should_rekey_after_send(&kp, T0));
	kp.send_counter = REKEY_AFTER_MESSAGES + 1;
	assert_true(timers_should_rekey_after_send(&kp, T0));
	keypair(&kp, true, T0);
	kp.send_counter = REKEY_AFTER_MESSAGES + 1;
	assert_true(timers_should_rekey_after_send(&kp, T0));
}

static void test_rekey_after_receive(void **state)
{
	struct noise_keypair kp;
	struct timers t;

	timers_init(&t, 0);
	assert_false(timers_should_rekey_after_receive(&t, NULL, T0));
	keypair(&kp, true, T0);
	/* REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT = 165 s. */
	assert_false(timers_should_rekey_after_receive(&t, &kp, T0 + 165 * SEC - 1));
	assert_false(t.sent_lastminute_handshake);
	assert_true(timers_should_rekey_after_receive(&t, &kp, T0 + 165 * SEC));
	assert_true(t.sent_lastminute_handshake);
	/* Once only, until a handshake completes. */
	assert_false(timers_should_rekey_after_receive(&t, &kp, T0 + 166 * SEC));
	assert_false(timers_should_rekey_after_receive(&t, &kp, T0 + 179 * SEC));
	timers_handshake_complete(&t);
	assert_true(timers_should_rekey_after_receive(&t, &kp, T0 + 170 * SEC));

	/* Never for the responder, nor for a dead keypair. */
	timers_init(&t, 0);
	keypair(&kp, false, T0);
	assert_false(timers_should_rekey_after_receive(&t, &kp, T0 + 170 * SEC));
	keypair(&kp, true, T0);
	kp.valid = false;
	assert_false(timers_should_rekey_after_receive(&t, &kp, T0 + 170 * SEC));
	assert_false(t.sent_lastminute_handshake);
}

/* receive.c signals a run of packets from one peer at one clock once (rx_settle()): the
 * rekey question, received, traversal, then data received as often as data came but at most
 * twice. That must leave the timers as the signals of each packet in turn would, whatever
 * was armed before. */
static void test_receive_run_once(void **state)
{
	struct timers start, each, once;
	struct noise_keypair kp;
	uint64_t now = T0 + 170 * SEC;
	unsigned data;

	keypair(&kp, true, T0);
	for (unsigned armed = 0; armed < 8; armed++) {
		for (unsigned run = 0; run < 64; run++) {
			/* run: bit i set = packet i carries data; 6 packets, and a run of 1 to 6. */
			for (unsigned len = 1; len <= 6; len++) {
				timers_init(&start, armed & 1 ? 25 : 0);
				if (armed & 2)
					start.send_keepalive = T0 + 175 * SEC;
				if (armed & 4)
					start.new_handshake = T0 + 180 * SEC;
				memcpy(&each, &start, sizeof(each));
				memcpy(&once, &start, sizeof(once));
				data = 0;
				for (unsigned i = 0; i < len; i++) {
					timers_should_rekey_after_receive(&each, &kp, now);
					timers_any_authenticated_packet_received(&each);
					timers_any_authenticated_packet_traversal(&each, now);
					if (run & 1U << i) {
						timers_data_received(&each, now);
						data += data < 2;
					}
				}
				timers_should_rekey_after_receive(&once, &kp, now);
				timers_any_authenticated_packet_received(&once);
				timers_any_authenticated_packet_traversal(&once, now);
				for (unsigned i = 0; i < data; i++)
					timers_data_received(&once, now);
				assert_memory_equal(&each, &once, sizeof(each));
			}
		}
	}
}

static void test_keypair_usable(void **state)
{
	struct noise_keypair kp;

	assert_false(timers_keypair_usable_for_send(NULL, T0));
	assert_false(timers_keypair_usable_for_receive(NULL, T0));
	for (int initiator = 0; initiator < 2; initiator++) {
		keypair(&kp, initiator, T0);
		assert_true(timers_keypair_usable_for_send(&kp, T0));
		assert_true(timers_keypair_usable_for_receive(&kp, T0));
		assert_true(timers_keypair_usable_for_send(&kp, T0 + 180 * SEC - 1));
		assert_true(timers_keypair_usable_for_receive(&kp, T0 + 180 * SEC - 1));
		assert_false(timers_keypair_usable_for_send(&kp, T0 + 180 * SEC));
		assert_false(timers_keypair_usable_for_receive(&kp, T0 + 180 * SEC));
		assert_false(timers_keypair_usable_for_send(&kp, T0 + 1000 * SEC));
		assert_false(timers_keypair_usable_for_receive(&kp, T0 + 1000 * SEC));

		/* The last nonce is REJECT_AFTER_MESSAGES - 1. */
		kp.send_counter = REJECT_AFTER_MESSAGES - 1;
		assert_true(timers_keypair_usable_for_send(&kp, T0));
		kp.send_counter = REJECT_AFTER_MESSAGES;
		assert_false(timers_keypair_usable_for_send(&kp, T0));
		kp.send_counter = UINT64_MAX;
		assert_false(timers_keypair_usable_for_send(&kp, T0));

		kp.send_counter = 0;
		kp.valid = false;
		assert_false(timers_keypair_usable_for_send(&kp, T0));
		assert_false(timers_keypair_usable_for_receive(&kp, T0));
	}
}

#define T(f) cmocka_unit_test_setup(f, setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_init),
		T(test_retransmit),
		T(test_handshake_complete),
		T(test_give_up),
		T(test_give_up_cancels_keepalive),
		T(test_give_up_keeps_zeroing),
		T(test_new_initiation_resets_attempts),
		T(test_may_send_initiation),
		T(test_unanswered_since),
		T(test_data_sent),
		T(test_keepalive),
		T(test_sent_cancels_keepalive),
		T(test_persistent_keepalive),
		T(test_receive_run_once),
		T(test_session_derived),
		T(test_next_deadline),
		T(test_expire_together),
		T(test_rekey_after_send),
		T(test_rekey_after_receive),
		T(test_keypair_usable),
	};

	return cmocka_run_group_tests_name("timers", tests, NULL, NULL);
}
