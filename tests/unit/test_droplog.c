/* droplog: the log lines drop counters turn into, from a device built by hand (no TUN, no
 * sockets) and a clock passed in. The first drops of a reason give one line with what to do;
 * more within the minute none; after it, one line with the count since; a quiet reason
 * none; link_local never. Each line's hint is the first sentence of the reason's entry in
 * sealnetd(8). The live daemon's side is tests/netns/24.
 *
 * LINK-WRAP: -Wl,--wrap=log_msg
 */
#include <ctype.h>
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* sealnetd(8): next to this source (tests run from the top of the tree), or from the binary's
 * place (BUILD/tests/test_droplog) to run from anywhere. */
static FILE *open_man_page(void)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	ssize_t n;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s", __FILE__);
	snprintf(path, sizeof(path), "%s/../../docs/sealnetd.8", dirname(dir));
	f = fopen(path, "r");
	if (f)
		return f;
	n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	if (n < 0)
		return NULL;
	dir[n] = '\0';
	snprintf(path, sizeof(path), "%s/../../docs/sealnetd.8", dirname(dir));
	return fopen(path, "r");
}

/* An entry of sealnetd(8)'s Drop reasons: the reason, and the plain text lines that open it
 * (up to its first macro line), joined by spaces. */
struct man_entry {
	char name[32];
	char opening[1024];
	bool closed; /* a macro line came: the opening is complete */
};

static size_t read_man_entries(struct man_entry *e, size_t max)
{
	char line[512];
	bool on = false;
	size_t n = 0, len;
	FILE *f = open_man_page();

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strcmp(line, ".Ss Drop reasons"))
			on = true;
		if (!on)
			continue;
		if (!strcmp(line, ".El"))
			break;
		if (!strncmp(line, ".It Li ", 7)) {
			assert_true(n < max);
			memset(&e[n], 0, sizeof(e[n]));
			snprintf(e[n].name, sizeof(e[n].name), "%.31s", line + 7);
			n++;
		} else if (n && (line[0] == '.' || e[n - 1].closed)) {
			e[n - 1].closed = true;
		} else if (n) {
			len = strlen(e[n - 1].opening);
			snprintf(e[n - 1].opening + len, sizeof(e[n - 1].opening) - len, "%s%s",
				 len ? " " : "", line);
		}
	}
	fclose(f);
	return n;
}

/* The man page's entry for each reason the log gives a hint for opens with that hint, as a
 * sentence of its own: the log says what the manual says first, and cannot drift from it. */
static void test_hints_in_man_page(void **state)
{
	struct man_entry entries[DROP_MAX + 8];
	size_t n = read_man_entries(entries, DROP_MAX + 8), i, len;
	const char *name, *hint, *text;

	assert_int_equal(n, DROP_MAX);
	for (int d = 0; d < DROP_MAX; d++) {
		hint = droplog_hint(d);
		if (!hint)
			continue;
		name = device_drop_name(d) + strlen("drop_");
		for (i = 0; i < n && strcmp(entries[i].name, name); i++)
			;
		if (i == n)
			fail_msg("sealnetd.8: no entry for %s", name);
		text = entries[i].opening;
		len = strlen(hint);
		if (toupper((unsigned char)hint[0]) != text[0] ||
		    strncmp(hint + 1, text + 1, len - 1) ||
		    (text[len] != '.' && hint[len - 1] != '?'))
			fail_msg("sealnetd.8: %s: the entry opens with\n  \"%s\"\nnot the log's hint\n  "
				 "\"%s\"",
				 name, text, hint);
	}
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
		cmocka_unit_test(test_hints_in_man_page),
		cmocka_unit_test_setup_teardown(test_first_then_once_a_minute, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reasons_apart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_local_silent, setup, teardown),
	};

	return cmocka_run_group_tests_name("droplog", tests, NULL, NULL);
}
