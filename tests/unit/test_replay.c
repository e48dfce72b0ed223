/* Replay window: every edge by hand, then a randomized comparison against a naive reference
 * that remembers every counter it has accepted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "replay.h"

#define W REPLAY_WINDOW_SIZE
#define REJECT REPLAY_REJECT_AFTER_MESSAGES

static void test_constants(void **state)
{
	assert_int_equal(REPLAY_WINDOW_SIZE, 8128);
	/* 2^64 - 2^13 - 1, spelled differently from the header. */
	assert_true(REJECT == 0xffffffffffffdfffULL);
}

static void test_first_zero(void **state)
{
	struct replay r;

	replay_init(&r);
	assert_true(replay_check(&r, 0));
	assert_false(replay_check(&r, 0));
	assert_true(replay_check(&r, 1));
	assert_false(replay_check(&r, 1));
	assert_false(replay_check(&r, 0));
}

static void test_first_nonzero(void **state)
{
	struct replay r;

	replay_init(&r);
	assert_true(replay_check(&r, 1000));
	assert_false(replay_check(&r, 1000));
	/* Earlier counters of a fresh session are still inside the window. */
	assert_true(replay_check(&r, 0));
	assert_true(replay_check(&r, 999));
	assert_false(replay_check(&r, 999));
}

static void test_in_order(void **state)
{
	struct replay r;

	replay_init(&r);
	for (uint64_t c = 0; c < 3 * REPLAY_WINDOW_BITS; c++)
		assert_true(replay_check(&r, c));
	/* Everything in the window is a duplicate now, everything before it too old. */
	for (uint64_t c = 0; c < 3 * REPLAY_WINDOW_BITS; c++)
		assert_false(replay_check(&r, c));
}

static void test_out_of_order(void **state)
{
	struct replay r;

	replay_init(&r);
	assert_true(replay_check(&r, 5000));
	for (uint64_t c = 4999; c > 0; c--)
		assert_true(replay_check(&r, c));
	assert_true(replay_check(&r, 0));
	for (uint64_t c = 0; c <= 5000; c++)
		assert_false(replay_check(&r, c));

	/* Interleaved odds then evens. */
	replay_init(&r);
	for (uint64_t c = 1; c < 1000; c += 2)
		assert_true(replay_check(&r, c));
	for (uint64_t c = 0; c < 1000; c += 2)
		assert_true(replay_check(&r, c));
	for (uint64_t c = 0; c < 1000; c++)
		assert_false(replay_check(&r, c));
}

static void test_window_edge(void **state)
{
	struct replay r;

	/* Every position of the greatest counter within its 64-bit block. */
	for (uint64_t g = 3 * REPLAY_WINDOW_BITS; g < 3 * REPLAY_WINDOW_BITS + 64; g++) {
		replay_init(&r);
		assert_true(replay_check(&r, g));
		assert_false(replay_check(&r, g - W - 1));
		assert_false(replay_check(&r, g - W - 64));
		assert_false(replay_check(&r, 0));
		assert_true(replay_check(&r, g - W));
		assert_false(replay_check(&r, g - W));
		assert_true(replay_check(&r, g - W + 1));
		assert_true(replay_check(&r, g - 1));
		assert_false(replay_check(&r, g - 1));
	}

	/* Exactly at the edge from the very first counter. */
	replay_init(&r);
	assert_true(replay_check(&r, W));
	assert_true(replay_check(&r, 0));
	replay_init(&r);
	assert_true(replay_check(&r, W + 1));
	assert_false(replay_check(&r, 0));
	assert_true(replay_check(&r, 1));
}

/* Accepts every counter in [from, to]. */
static void fill(struct replay *r, uint64_t from, uint64_t to)
{
	for (uint64_t c = from; c <= to; c++)
		assert_true(replay_check(r, c));
}

static void test_jump_less_than_window(void **state)
{
	struct replay r;
	uint64_t g = REPLAY_WINDOW_BITS - 1, g2 = g + 100;

	replay_init(&r);
	fill(&r, 0, g); /* every bit of the ring set */
	assert_true(replay_check(&r, g2));
	/* The skipped counters alias the oldest ring slots, which must have been cleared. */
	fill(&r, g + 1, g2 - 1);
	/* Still remembered. */
	for (uint64_t c = g2 - W; c <= g2; c++)
		assert_false(replay_check(&r, c));
	/* Fallen out of the window. */
	assert_false(replay_check(&r, g2 - W - 1));
	assert_false(replay_check(&r, 0));
}

static void test_jump_equal_to_window(void **state)
{
	struct replay r;

	for (uint64_t g = REPLAY_WINDOW_BITS - 1; g < REPLAY_WINDOW_BITS + 64; g++) {
		uint64_t g2 = g + W;

		replay_init(&r);
		fill(&r, g - W, g);
		assert_true(replay_check(&r, g2));
		/* The old greatest sits exactly on the new edge: still remembered, so replayed. */
		assert_false(replay_check(&r, g));
		assert_false(replay_check(&r, g - 1));
		fill(&r, g + 1, g2 - 1);
		for (uint64_t c = g; c <= g2; c++)
			assert_false(replay_check(&r, c));
	}
}

static void test_jump_more_than_window(void **state)
{
	static const uint64_t jumps[] = {
		W + 1,
		W + 63,
		W + 64,
		W + 65,
		REPLAY_WINDOW_BITS - 1,
		REPLAY_WINDOW_BITS,
		REPLAY_WINDOW_BITS + 1,
		2 * REPLAY_WINDOW_BITS,
		10 * REPLAY_WINDOW_BITS + 17,
		1ULL << 40,
	};
	struct replay r;

	for (size_t i = 0; i < sizeof(jumps) / sizeof(jumps[0]); i++) {
		uint64_t g = REPLAY_WINDOW_BITS + 5, g2 = g + jumps[i];

		replay_init(&r);
		fill(&r, g - W, g);
		assert_true(replay_check(&r, g2));
		assert_false(replay_check(&r, g)); /* too old now */
		/* The whole new window is fresh although the ring slots were all set. */
		fill(&r, g2 - W, g2 - 1);
		for (uint64_t c = g2 - W; c <= g2; c++)
			assert_false(replay_check(&r, c));
	}
}

static void test_reject_after_messages(void **state)
{
	struct replay r;

	/* As a first counter: refused, and it does not count as seen. */
	replay_init(&r);
	assert_false(replay_check(&r, REJECT));
	assert_false(replay_check(&r, UINT64_MAX));
	assert_false(r.seen_any);
	assert_true(replay_check(&r, 0));

	replay_init(&r);
	assert_true(replay_check(&r, REJECT - 2));
	assert_false(replay_check(&r, REJECT));
	assert_false(replay_check(&r, REJECT + 1));
	assert_false(replay_check(&r, UINT64_MAX));
	assert_true(replay_check(&r, REJECT - 1));
	assert_false(replay_check(&r, REJECT - 1));
	assert_false(replay_check(&r, REJECT - 2));
	assert_true(replay_check(&r, REJECT - 3));
	assert_true(replay_check(&r, REJECT - 1 - W));
	assert_false(replay_check(&r, REJECT - 2 - W));
	assert_false(replay_check(&r, REJECT));
	assert_int_equal(r.greatest, REJECT - 1);

	/* A jump from 0 to the last valid counter. */
	replay_init(&r);
	assert_true(replay_check(&r, 0));
	assert_true(replay_check(&r, REJECT - 1));
	assert_false(replay_check(&r, 0));
	assert_false(replay_check(&r, REJECT - 1));
}

/* ---- randomized comparison against a naive reference ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static uint64_t rng_below(uint64_t n)
{
	return rng() % n;
}

/* The reference: every accepted counter in a hash set, plus the greatest. It knows nothing
 * about blocks or rings, only the rule "new, and no more than W behind the greatest". */
#define SET_SIZE (1u << 20)
static uint64_t *set; /* counter + 1; 0 = empty */
static size_t set_n;

struct ref {
	bool seen_any;
	uint64_t greatest;
};

static bool set_has(uint64_t c)
{
	for (size_t i = (c * 0x9E3779B97F4A7C15ULL) >> 44;; i = (i + 1) & (SET_SIZE - 1)) {
		if (!set[i])
			return false;
		if (set[i] == c + 1)
			return true;
	}
}

static void set_add(uint64_t c)
{
	size_t i = (c * 0x9E3779B97F4A7C15ULL) >> 44;

	assert_true(set_n < SET_SIZE / 2);
	while (set[i])
		i = (i + 1) & (SET_SIZE - 1);
	set[i] = c + 1;
	set_n++;
}

static bool ref_check(struct ref *r, uint64_t c)
{
	if (c >= REJECT)
		return false;
	if (r->seen_any && c <= r->greatest && (r->greatest - c > W || set_has(c)))
		return false;
	set_add(c);
	if (!r->seen_any || c > r->greatest)
		r->greatest = c;
	r->seen_any = true;
	return true;
}

/* Recently accepted counters, replayed on purpose: most random counters behind the greatest
 * were never sent, so duplicates need help. */
static uint64_t history[1024];
static unsigned history_n;

static uint64_t next_counter(const struct ref *r, uint64_t base)
{
	uint64_t g = r->seen_any ? r->greatest : base, back;

	switch (rng_below(14)) {
	case 0:
	case 1:
	case 2:
		return g + 1 + rng_below(3); /* in order, with small gaps */
	case 3:
		return g + rng_below(70); /* into the next block, or a duplicate of g */
	case 4:
		return g + rng_below(3 * REPLAY_WINDOW_BITS); /* jumps below and above W */
	case 5:
		return g + W - 2 + rng_below(5); /* jumps right at the window size */
	case 6:
		return g + REPLAY_WINDOW_BITS - 2 + rng_below(5); /* ... and the ring size */
	case 7:
		back = W - 2 + rng_below(5); /* the trailing edge */
		break;
	case 8:
		back = rng_below(W + 200); /* anywhere behind, some too old */
		break;
	case 9:
	case 10:
		back = rng_below(256); /* recent */
		break;
	default:
		if (history_n)
			return history[rng_below(history_n < 1024 ? history_n : 1024)];
		return g;
	}
	/* Stay away from wrapping below zero, which would land near 2^64. */
	return back > g ? rng_below(g + 1) : g - back;
}

/* Returns how many counters at or past REPLAY_REJECT_AFTER_MESSAGES were tried. */
static unsigned random_run(uint64_t seed, uint64_t base, unsigned ops)
{
	struct replay r;
	struct ref ref = { 0 };
	unsigned accepted = 0, over_limit = 0;

	rng_state = seed;
	memset(set, 0, SET_SIZE * sizeof(*set));
	set_n = 0;
	history_n = 0;
	replay_init(&r);
	for (unsigned i = 0; i < ops; i++) {
		uint64_t c = next_counter(&ref, base);
		bool want = ref_check(&ref, c);

		assert_int_equal(replay_check(&r, c), want);
		accepted += want;
		if (want)
			history[history_n++ % 1024] = c;
		over_limit += c >= REJECT;
		if (ref.seen_any)
			assert_true(r.greatest == ref.greatest);
	}
	/* The mix must exercise both outcomes substantially. */
	assert_true(accepted > ops / 8);
	assert_true(accepted < ops - ops / 8);
	return over_limit;
}

static void test_random(void **state)
{
	set = calloc(SET_SIZE, sizeof(*set));
	assert_non_null(set);
	assert_int_equal(random_run(0x7e91a7edULL, 0, 300000), 0);
	assert_int_equal(random_run(0xc0ffee5ULL, 1ULL << 32, 300000), 0);
	free(set);
}

static void test_random_near_reject(void **state)
{
	set = calloc(SET_SIZE, sizeof(*set));
	assert_non_null(set);
	/* The forward jumps average about 2000 counters per call, so this reaches the limit
	 * about halfway through and then keeps knocking on it. */
	assert_true(random_run(0xbadc0deULL, REJECT - 120000000, 100000) > 1000);
	free(set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_constants),
		cmocka_unit_test(test_first_zero),
		cmocka_unit_test(test_first_nonzero),
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_window_edge),
		cmocka_unit_test(test_jump_less_than_window),
		cmocka_unit_test(test_jump_equal_to_window),
		cmocka_unit_test(test_jump_more_than_window),
		cmocka_unit_test(test_reject_after_messages),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_random_near_reject),
	};

	return cmocka_run_group_tests_name("replay", tests, NULL, NULL);
}
