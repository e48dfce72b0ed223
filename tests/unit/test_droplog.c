/* droplog: the log lines drop counters turn into, from a device built by hand (no TUN, no
 * sockets) and a clock passed in. The first drops of a reason give one line with what to do;
 * more within the minute none; after it, one line with the count since; a quiet reason
 * none; link_local never. The live daemon's side is tests/netns/24.
 *
 * LINK-WRAP: -Wl,--wrap=log_msg
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <event2/event.h>

#include "device.h"
#include "droplog.h"
#include "log.h"

#define SEC 1000000000ULL

void __wrap_log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int n_lines;
static char last_line[1024];

void __wrap_log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_line, sizeof(last_line), fmt, ap);
	va_end(ap);
	assert_int_equal(level, LOG_WARNING);
	n_lines++;
}

struct fixture {
	struct event_base *base;
	struct device dev;
	struct droplog *dl;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->base = event_base_new();
	assert_non_null(f->base);
	f->dev.base = f->base;
	snprintf(f->dev.ifname, sizeof(f->dev.ifname), "sn0");
	assert_int_equal(droplog_new(&f->dev, &f->dl), 0);
	n_lines = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	droplog_free(f->dl);
	event_base_free(f->base);
	free(f);
	return 0;
}

/* Every reason the operator may see has a sentence; link_local, harmless, has none. */
static void test_hints(void **state)
{
	for (int d = 0; d < DROP_MAX; d++) {
		if (d == DROP_LINK_LOCAL)
			assert_null(droplog_hint(d));
		else
			assert_non_null(droplog_hint(d));
	}
	assert_null(droplog_hint(DROP_MAX));
}

static void test_first_then_once_a_minute(void **state)
{
	struct fixture *f = *state;
	uint64_t t = 100 * SEC;

	droplog_check(f->dl, t);
	assert_int_equal(n_lines, 0);

	f->dev.stats.drops[DROP_NO_ROUTE] = 2;
	droplog_check(f->dl, t += SEC);
	assert_int_equal(n_lines, 1);
	assert_string_equal(last_line,
			    "sn0: drops: no_route (2 so far): a packet to an address no peer's "
			    "AllowedIPs covers: add it to a peer's AllowedIPs, or route it "
			    "elsewhere; further drops of this reason are logged once a minute at "
			    "most");

	/* More within the minute: nothing, whatever the count. */
	for (int i = 0; i < 58; i++) {
		f->dev.stats.drops[DROP_NO_ROUTE] += 1000;
		droplog_check(f->dl, t += SEC);
	}
	assert_int_equal(n_lines, 1);

	droplog_check(f->dl, t += SEC); /* 59 s after the line */
	assert_int_equal(n_lines, 1);
	/* The minute is up: one line with the count since the last. */
	droplog_check(f->dl, t += SEC);
	assert_int_equal(n_lines, 2);
	assert_string_equal(last_line, "sn0: drops: no_route: 58000 more in the last 60 s");

	/* A reason that went quiet says nothing, even long after. */
	droplog_check(f->dl, t += 600 * SEC);
	assert_int_equal(n_lines, 2);
	/* And after a quiet spell its next drop is told at once, with the time since. */
	f->dev.stats.drops[DROP_NO_ROUTE]++;
	droplog_check(f->dl, t += SEC);
	assert_int_equal(n_lines, 3);
	assert_string_equal(last_line, "sn0: drops: no_route: 1 more in the last 601 s");
}

/* Each reason has its own limit: a second reason's first drop is told within the first's
 * minute. */
static void test_reasons_apart(void **state)
{
	struct fixture *f = *state;
	uint64_t t = 5 * SEC;

	f->dev.stats.drops[DROP_UDP_SEND] = 1;
	droplog_check(f->dl, t += SEC);
	assert_int_equal(n_lines, 1);
	assert_non_null(strstr(last_line, "drops: udp_send (1 so far): "));
	f->dev.stats.drops[DROP_FIREWALL] = 3;
	f->dev.stats.drops[DROP_UDP_SEND] = 2;
	droplog_check(f->dl, t += SEC);
	assert_int_equal(n_lines, 2);
	assert_non_null(strstr(last_line, "drops: firewall (3 so far): "));
}

static void test_link_local_silent(void **state)
{
	struct fixture *f = *state;

	f->dev.stats.drops[DROP_LINK_LOCAL] = 5;
	droplog_check(f->dl, 10 * SEC);
	droplog_check(f->dl, 100 * SEC);
	assert_int_equal(n_lines, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hints),
		cmocka_unit_test_setup_teardown(test_first_then_once_a_minute, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reasons_apart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_local_silent, setup, teardown),
	};

	return cmocka_run_group_tests_name("droplog", tests, NULL, NULL);
}
