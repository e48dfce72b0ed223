/* Handshake rate limiter, with injected time. randombytes_buf is wrapped so the hash key, and
 * with it which sources share a set, is the same on every run.
 *
 * LINK-WRAP: -Wl,--wrap=randombytes_buf
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "ratelimiter.h"

#define MS 1000000ULL
#define SEC 1000000000ULL
#define COST (SEC / RATELIMITER_PACKETS_PER_SECOND)
#define T0 (1000 * SEC) /* an arbitrary monotonic start */

void __wrap_randombytes_buf(void *buf, size_t size);

static unsigned random_calls;

void __wrap_randombytes_buf(void *buf, size_t size)
{
	uint8_t *p = buf;

	random_calls++;
	for (size_t i = 0; i < size; i++)
		p[i] = (uint8_t)(0xa5 ^ (i * 29));
}

static struct ip_addr ip(const char *s)
{
	struct ip_prefix p;

	if (addr_parse_prefix(s, &p))
		fail_msg("bad address in test: %s", s);
	return p.addr;
}

static struct ip_addr ip4_n(uint32_t n)
{
	struct ip_addr a = { .family = AF_INET };

	/* 100.64.0.0/10 holds 2^22 addresses: enough distinct sources. */
	n = 0x64400000u | (n & 0x3fffffu);
	a.bytes[0] = (uint8_t)(n >> 24);
	a.bytes[1] = (uint8_t)(n >> 16);
	a.bytes[2] = (uint8_t)(n >> 8);
	a.bytes[3] = (uint8_t)n;
	return a;
}

static int setup(void **state)
{
	struct ratelimiter *rl;

	random_calls = 0;
	if (ratelimiter_new(&rl))
		return -1;
	*state = rl;
	return 0;
}

static int teardown(void **state)
{
	ratelimiter_free(*state);
	return 0;
}

/* Sends n packets from a at time now; returns how many were allowed. */
static unsigned burst(struct ratelimiter *rl, const struct ip_addr *a, uint64_t now, unsigned n)
{
	unsigned ok = 0;

	for (unsigned i = 0; i < n; i++)
		ok += ratelimiter_allow(rl, a, now);
	return ok;
}

static void test_keyed(void **state)
{
	/* The hash key came from the random source. */
	assert_int_equal(random_calls, 1);
	ratelimiter_free(NULL);
}

static void test_burst(void **state)
{
	struct ratelimiter *rl = *state;
	struct ip_addr a = ip("198.18.0.1");

	for (int i = 0; i < RATELIMITER_BURST; i++)
		assert_true(ratelimiter_allow(rl, &a, T0));
	assert_false(ratelimiter_allow(rl, &a, T0));
	assert_false(ratelimiter_allow(rl, &a, T0));
	assert_int_equal(RATELIMITER_BURST, 5);
}

static void test_refill(void **state)
{
	struct ratelimiter *rl = *state;
	struct ip_addr a = ip("198.18.0.1");
	uint64_t t;
	unsigned ok;

	assert_int_equal(burst(rl, &a, T0, 10), 5);
	/* One packet's worth of credit takes exactly 1/20 s. */
	assert_false(ratelimiter_allow(rl, &a, T0 + COST - 1));
	assert_true(ratelimiter_allow(rl, &a, T0 + COST));
	assert_false(ratelimiter_allow(rl, &a, T0 + COST));
	assert_true(ratelimiter_allow(rl, &a, T0 + 2 * COST));
	assert_int_equal(burst(rl, &a, T0 + 4 * COST, 10), 2);

	/* Hammering every millisecond for 10 s: the rate is 20/s. */
	t = T0 + 10 * SEC;
	ok = 0;
	for (uint64_t ms = 0; ms < 10000; ms++)
		ok += ratelimiter_allow(rl, &a, t + ms * MS);
	/* Starts with a full bucket of 5, then one per 50 ms over 9.999 s. */
	assert_int_equal(ok, 5 + 199);

	/* A long pause refills to the burst, no more. */
	t += 100 * SEC;
	assert_int_equal(burst(rl, &a, t, 20), RATELIMITER_BURST);
	/* Half a second: 10 packets' worth of credit, capped at 5. */
	assert_int_equal(burst(rl, &a, t + SEC / 2, 20), RATELIMITER_BURST);
}

static void test_clock_backwards(void **state)
{
	struct ratelimiter *rl = *state;
	struct ip_addr a = ip("198.18.0.1");

	assert_int_equal(burst(rl, &a, T0, 10), 5);
	/* A clock that steps back earns no credit... */
	assert_int_equal(burst(rl, &a, T0 - 10 * SEC, 10), 0);
	/* ... and credit then accrues from the earlier time it saw. */
	assert_int_equal(burst(rl, &a, T0 - 10 * SEC + COST, 10), 1);
}

static void test_sources_independent(void **state)
{
	struct ratelimiter *rl = *state;
	struct ip_addr a = ip("198.18.0.1"), b = ip("198.18.0.2"), c = ip("100.64.0.1");
	/* Same leading bytes as a, other family. */
	struct ip_addr a6 = ip("c612:1::");
	struct ip_addr bad = a;

	assert_int_equal(burst(rl, &a, T0, 10), 5);
	assert_int_equal(burst(rl, &b, T0, 10), 5);
	assert_int_equal(burst(rl, &c, T0, 3), 3);
	assert_int_equal(burst(rl, &a6, T0, 10), 5);
	assert_int_equal(burst(rl, &c, T0, 10), 2);
	assert_int_equal(burst(rl, &a, T0, 10), 0);

	bad.family = AF_UNIX;
	assert_false(ratelimiter_allow(rl, &bad, T0));
}

static void test_ipv6_slash64(void **state)
{
	struct ratelimiter *rl = *state;
	struct ip_addr a = ip("fd00:1:2:3::1"), b = ip("fd00:1:2:3:ffff:ffff:ffff:ffff");
	struct ip_addr c = ip("fd00:1:2:4::1"), d = ip("fd00:1:2:3:1::");

	/* a, b and d are in the same /64 and share one bucket. */
	assert_int_equal(burst(rl, &a, T0, 2), 2);
	assert_int_equal(burst(rl, &b, T0, 2), 2);
	assert_int_equal(burst(rl, &d, T0, 10), 1);
	assert_int_equal(burst(rl, &a, T0, 10), 0);
	/* c is the next /64 over. */
	assert_int_equal(burst(rl, &c, T0, 10), 5);
	assert_int_equal(burst(rl, &b, T0 + COST, 10), 1);
}

static void test_table_full(void **state)
{
	struct ratelimiter *rl = *state;
	struct ip_addr legit = ip("198.18.0.1"), late = ip("198.18.0.2");
	struct ip_addr first_admitted = { 0 };
	unsigned ok = 0;
	const unsigned flood = 100000;

	/* A legitimate source talks first, then a flood from ever-new addresses. */
	assert_int_equal(burst(rl, &legit, T0, 1), 1);
	for (unsigned i = 0; i < flood; i++) {
		struct ip_addr a = ip4_n(i);

		if (ratelimiter_allow(rl, &a, T0 + SEC / 2)) {
			if (!ok)
				first_admitted = a;
			ok++;
		}
	}
	/* Each source gets its first packet through while it finds a free entry; with 100000
	 * sources every set fills, so exactly the table's worth (minus legit's entry) did. */
	assert_int_equal(ok, RATELIMITER_ENTRIES - 1);

	/* Full: a new source is refused, fail closed. */
	assert_false(ratelimiter_allow(rl, &late, T0 + SEC / 2));
	/* Sources already in the table keep their buckets. */
	assert_int_equal(burst(rl, &legit, T0 + SEC / 2, 10), 5);
	assert_int_equal(burst(rl, &first_admitted, T0 + SEC / 2, 10), 4);

	/* A second later, entries idle for 1 s are reused, but not legit's, which has just
	 * been used: it keeps its nearly empty bucket rather than getting a fresh one. */
	assert_int_equal(burst(rl, &legit, T0 + SEC + SEC / 2 - 1, 10), 5);
	assert_true(ratelimiter_allow(rl, &late, T0 + SEC + SEC / 2));
	assert_int_equal(burst(rl, &legit, T0 + SEC + SEC / 2 + COST, 10), 1);

	/* Flooding much later again: the table is reused, never crashes, and stays bounded. */
	ok = 0;
	for (unsigned i = 0; i < flood; i++) {
		struct ip_addr a = ip4_n(flood + i);

		ok += ratelimiter_allow(rl, &a, T0 + 10 * SEC);
	}
	assert_int_equal(ok, RATELIMITER_ENTRIES);
	/* Mixed IPv6 sources, each its own /64. */
	ok = 0;
	for (unsigned i = 0; i < flood; i++) {
		struct ip_addr a = ip("fd00::");

		a.bytes[4] = (uint8_t)(i >> 16);
		a.bytes[5] = (uint8_t)(i >> 8);
		a.bytes[6] = (uint8_t)i;
		ok += ratelimiter_allow(rl, &a, T0 + 10 * SEC + SEC / 2);
		ok += ratelimiter_allow(rl, &a, T0 + 10 * SEC + SEC / 2);
	}
	assert_int_equal(ok, 0);
	ok = 0;
	for (unsigned i = 0; i < flood; i++) {
		struct ip_addr a = ip("fd00::");

		a.bytes[4] = (uint8_t)(i >> 16);
		a.bytes[5] = (uint8_t)(i >> 8);
		a.bytes[6] = (uint8_t)i;
		ok += ratelimiter_allow(rl, &a, T0 + 20 * SEC);
		ok += ratelimiter_allow(rl, &a, T0 + 20 * SEC);
	}
	assert_int_equal(ok, 2 * RATELIMITER_ENTRIES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_keyed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_burst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clock_backwards, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sources_independent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_slash64, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_full, setup, teardown),
	};

	return cmocka_run_group_tests_name("ratelimiter", tests, NULL, NULL);
}
