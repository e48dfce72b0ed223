/* The worker pool: every item of every job done exactly once, by whatever threads, with
 * jobs back to back (so a thread that wakes late meets the next job), ranges that take
 * different times, and pools of every size. */
#include <setjmp.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "workers.h"

#define ITEMS 4096

struct job {
	_Atomic uint32_t hits[ITEMS];
	uint32_t stamp; /* which job this is: items record it */
	uint32_t seen[ITEMS];
	bool slow;
};

static void do_range(void *ctx, unsigned begin, unsigned end)
{
	struct job *j = ctx;

	for (unsigned i = begin; i < end; i++) {
		atomic_fetch_add(&j->hits[i], 1);
		j->seen[i] = j->stamp;
	}
	if (j->slow && (begin / 4) % 7 == 3) {
		/* A range that takes long: others finish first and the caller has to wait. */
		struct timespec ts = { 0, 200000 };

		nanosleep(&ts, NULL);
	}
}

static void run_jobs(unsigned threads, bool slow)
{
	static struct job j;
	struct workers *w = NULL;

	if (threads > 1)
		assert_int_equal(workers_new(threads, &w), 0);
	assert_int_equal(workers_threads(w), threads);
	srand(threads);
	for (uint32_t stamp = 1; stamp <= (slow ? 200 : threads > 8 ? 300 : 1500); stamp++) {
		unsigned n = (unsigned)rand() % ITEMS, chunk = 1 + (unsigned)rand() % 16;

		memset(j.hits, 0, sizeof(j.hits));
		j.stamp = stamp;
		j.slow = slow;
		workers_run(w, do_range, &j, n, chunk);
		/* Every item once, nothing beyond n; written before workers_run returned. */
		for (unsigned i = 0; i < ITEMS; i++) {
			assert_int_equal(atomic_load(&j.hits[i]), i < n);
			if (i < n)
				assert_int_equal(j.seen[i], stamp);
		}
	}
	workers_free(w);
}

static void test_every_size(void **state)
{
	for (unsigned t = 1; t <= 8; t++)
		run_jobs(t, false);
	run_jobs(WORKERS_MAX, false);
}

static void test_slow_ranges(void **state)
{
	run_jobs(2, true);
	run_jobs(5, true);
}

static void test_bad_sizes(void **state)
{
	struct workers *w = (struct workers *)&w;

	assert_int_equal(workers_new(0, &w), -EINVAL);
	assert_int_equal(workers_new(1, &w), -EINVAL);
	assert_int_equal(workers_new(WORKERS_MAX + 1, &w), -EINVAL);
	workers_free(NULL);
	assert_int_equal(workers_threads(NULL), 1);
	assert_true(workers_auto() >= 1 && workers_auto() <= 8 && workers_auto() != 2);
}

/* Without a pool, or with one range's worth, the caller does it all itself. */
static void test_inline(void **state)
{
	static struct job j;

	j.stamp = 7;
	workers_run(NULL, do_range, &j, 100, 4);
	workers_run(NULL, do_range, &j, 0, 4);
	for (unsigned i = 0; i < ITEMS; i++)
		assert_int_equal(atomic_load(&j.hits[i]), i < 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_size),
		cmocka_unit_test(test_slow_ranges),
		cmocka_unit_test(test_bad_sizes),
		cmocka_unit_test(test_inline),
	};

	return cmocka_run_group_tests_name("workers", tests, NULL, NULL);
}
