/* log: journald's native protocol, on a datagram socket of the test's own standing in for
 * journald: the fields of an entry, the binary form of a message with a newline, and when the
 * daemon thinks it runs under systemd (JOURNAL_STREAM). The daemon's side is
 * tests/netns/23. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

static char dir[64], path[96];
static int journal = -1;

static int setup(void **state)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	snprintf(dir, sizeof(dir), "/tmp/sn-test-log.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/journal.sock", dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	journal = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (journal < 0 || bind(journal, (struct sockaddr *)&sun, sizeof(sun)))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	close(journal);
	unlink(path);
	rmdir(dir);
	return 0;
}

/* The next datagram, NUL-terminated; its length in *len. */
static char *next_entry(size_t *len)
{
	static char buf[4096];
	ssize_t n = recv(journal, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	assert_true(n > 0);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

static void test_entry(void **state)
{
	char want[512];
	size_t len;

	assert_int_equal(log_open_journal(path), 0);
	log_init("sealnetd", false, LOG_INFO);
	log_msg(LOG_WARNING, "sn0: drops: %s (%d so far)", "no_route", 2);
	snprintf(want, sizeof(want),
		 "PRIORITY=4\nSYSLOG_FACILITY=3\nSYSLOG_IDENTIFIER=sealnetd\nSYSLOG_PID=%ld\n"
		 "MESSAGE=sn0: drops: no_route (2 so far)\n",
		 (long)getpid());
	assert_string_equal(next_entry(&len), want);

	/* Below the threshold: nothing sent. */
	log_msg(LOG_DEBUG, "not sent");
	assert_int_equal(recv(journal, want, sizeof(want), MSG_DONTWAIT), -1);
}

/* A newline would end the field: the binary form, the length as 64 bits little-endian. */
static void test_binary_message(void **state)
{
	static const char msg[] = "two\nlines";
	char *e;
	size_t len, head;

	log_msg(LOG_ERR, "%s", msg);
	e = next_entry(&len);
	assert_non_null(strstr(e, "PRIORITY=3\n"));
	head = (size_t)(strstr(e, "MESSAGE\n") - e);
	assert_int_equal(len, head + 8 + 8 + sizeof(msg) - 1 + 1);
	assert_memory_equal(e + head + 8, "\x09\0\0\0\0\0\0\0", 8);
	assert_memory_equal(e + head + 16, msg, sizeof(msg) - 1);
	assert_int_equal(e[len - 1], '\n');
}

/* SEALNET_JOURNAL_SOCKET wins; JOURNAL_STREAM counts only when it names our stderr. */
static void test_journal_path(void **state)
{
	struct stat st;
	char stream[64];

	unsetenv("SEALNET_JOURNAL_SOCKET");
	unsetenv("JOURNAL_STREAM");
	assert_null(log_journal_path());
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", stream, 1);
	assert_string_equal(log_journal_path(), "/run/systemd/journal/socket");
	snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", stream, 1);
	assert_null(log_journal_path());
	setenv("SEALNET_JOURNAL_SOCKET", path, 1);
	assert_string_equal(log_journal_path(), path);
	unsetenv("SEALNET_JOURNAL_SOCKET");
	unsetenv("JOURNAL_STREAM");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry),
		cmocka_unit_test(test_binary_message),
		cmocka_unit_test(test_journal_path),
	};

	return cmocka_run_group_tests_name("log", tests, setup, teardown);
}
