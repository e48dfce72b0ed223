/* The handshake load decision (load.h), on an injected clock: a device handles handshake
 * messages that each take a given time, arriving at a given rate, and we watch when it
 * demands cookies. The old rule (more than 128 valid-mac1 messages in a second) turned a
 * replay of one captured initiation at 130/s into a cookie round trip for every peer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "load.h"

#define US 1000ULL
#define MS 1000000ULL
#define SEC 1000000000ULL
#define T0 (1000 * SEC) /* an arbitrary monotonic start */
/* What one refused initiation costs (one X25519 and an AEAD open), and a full handshake
 * answered (four X25519s and the keys). */
#define REFUSED (40 * US)
#define ANSWERED (160 * US)

struct sim {
	struct load l;
	uint64_t now;
	unsigned handled, deferred;
};

static void sim_init(struct sim *s)
{
	load_init(&s->l);
	s->now = T0;
	s->handled = s->deferred = 0;
}

/* One message at s->now: deferred under load, else handled for cost ns (the clock moves
 * on by what it took). Returns whether it was deferred. */
static bool message(struct sim *s, uint64_t cost)
{
	if (load_under(&s->l, s->now)) {
		load_deferred(&s->l);
		s->deferred++;
		return true;
	}
	load_handled(&s->l, s->now, s->now + cost);
	s->now += cost;
	s->handled++;
	return false;
}

/* n messages, one every period ns (never sooner than the last one ended). */
static void stream(struct sim *s, unsigned n, uint64_t period, uint64_t cost)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t next = s->now + period;

		message(s, cost);
		if (s->now < next)
			s->now = next;
	}
}

/* A replay of a captured initiation at 130/s, or at 1000/s, for a minute: refused each time
 * after its Diffie-Hellman, and never a reason for cookies. Nor is a steady 700 handshakes a
 * second answered in full (about 11% of a core). */
static void test_trickle_never_loads(void **state)
{
	static const struct {
		unsigned rate;
		uint64_t cost;
	} cases[] = { { 130, REFUSED }, { 1000, REFUSED }, { 700, ANSWERED } };
	struct sim s;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sim_init(&s);
		stream(&s, cases[i].rate * 60, SEC / cases[i].rate, cases[i].cost);
		assert_int_equal(s.deferred, 0);
		/* A new peer's initiation in the middle of it: handled at once. */
		assert_false(message(&s, ANSWERED));
	}
}

/* Initiations back to back, faster than they can be handled (a flood of valid mac1s):
 * under load within the first hundred or so, and for as long as the flood lasts, although
 * the cookies it gets cost next to nothing. */
static void test_flood_loads_and_stays(void **state)
{
	struct sim s;
	unsigned before;

	sim_init(&s);
	/* 20000/s, each taking 40 us while handled: the CPU is saturated. */
	while (!message(&s, REFUSED))
		if (s.now < T0 + s.handled * 50 * US)
			s.now = T0 + s.handled * 50 * US;
	before = s.handled;
	assert_in_range(before, 50, 256);
	/* Ten more seconds of it: nothing more is handled. */
	stream(&s, 200000, 50 * US, REFUSED);
	assert_int_equal(s.handled, before);
	assert_true(s.deferred > 199000);
}

/* After a flood, load ends within the hold time plus the drain of a full backlog, and a
 * fresh initiation is handled again. */
static void test_load_ends(void **state)
{
	struct sim s;
	uint64_t stop;

	sim_init(&s);
	stream(&s, 40000, 50 * US, REFUSED);
	stop = s.now;
	assert_true(load_under(&s.l, stop));
	assert_true(load_under(&s.l, stop + LOAD_HOLD_NS - MS));
	s.now = stop + LOAD_HOLD_NS + ((2 * LOAD_BACKLOG_NS) << LOAD_SHARE_SHIFT);
	assert_false(message(&s, ANSWERED));
}

/* The hold: one message that finds the backlog deep enough keeps load on for LOAD_HOLD_NS,
 * even if the backlog drained meanwhile (WireGuard's last_under_load). */
static void test_hold(void **state)
{
	struct load l;

	load_init(&l);
	l.last = T0;
	load_handled(&l, T0, T0 + 2 * LOAD_BACKLOG_NS);
	assert_true(load_under(&l, T0 + 2 * LOAD_BACKLOG_NS));
	/* 16 x the backlog later it has drained, but the hold is still on. */
	assert_true(load_under(&l, T0 + 18 * LOAD_BACKLOG_NS));
	assert_true(load_under(&l, T0 + 2 * LOAD_BACKLOG_NS + LOAD_HOLD_NS - 1));
	assert_false(load_under(&l, T0 + 2 * LOAD_BACKLOG_NS + LOAD_HOLD_NS));
}

/* A burst of genuine handshakes (a hub restarting: its peers come back within a few ms of
 * one another) is handled in full up to the backlog, and the rest are handled a second or
 * so later, with cookies; a burst half that size is handled at once. */
static void test_burst(void **state)
{
	struct sim s;

	sim_init(&s);
	stream(&s, 20, 0, ANSWERED);
	assert_int_equal(s.deferred, 0);
	sim_init(&s);
	stream(&s, 200, 0, ANSWERED);
	assert_in_range(s.handled, 20, 40);
}

/* Time that runs backwards (a caller's stale wakeup time) drains nothing and breaks
 * nothing. */
static void test_stale_time(void **state)
{
	struct load l;

	load_init(&l);
	assert_false(load_under(&l, T0));
	load_handled(&l, T0, T0 + LOAD_BACKLOG_NS / 2);
	assert_false(load_under(&l, T0 - SEC));
	load_handled(&l, T0, T0 + LOAD_BACKLOG_NS / 2);
	assert_true(load_under(&l, T0));
	/* An end before its start counts nothing. */
	load_init(&l);
	load_handled(&l, T0, T0 - 1);
	assert_false(load_under(&l, T0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trickle_never_loads),
		cmocka_unit_test(test_flood_loads_and_stays),
		cmocka_unit_test(test_load_ends),
		cmocka_unit_test(test_hold),
		cmocka_unit_test(test_burst),
		cmocka_unit_test(test_stale_time),
	};

	return cmocka_run_group_tests_name("load", tests, NULL, NULL);
}
