/* Every peer counter reaches every place that shows it: the control socket's get answer, the
 * SIGUSR1 log line, the metrics page and the tool's parser (peer_stats.h names them once; a
 * place that lists them by hand again, or skips the list, fails here). The published names
 * are written out below rather than taken from the list, so that a counter renamed or dropped
 * from the list fails too: wg(8), scripts and dashboards read them.
 *
 * LINK-WRAP: -Wl,--wrap=log_msg */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <event2/buffer.h>

#include "device.h"
#include "key.h"
#include "metrics.h"
#include "peer.h"
#include "uapi.h"

/* The tool's parser, static in its file. */
#include "../../tools/ipc.c"

#define PUB "4IdA/QYDbsa9B0qb9tyNZ612GrkX9HwJOu6/LzmVLDg="

/* As published: the get key, the log name, the metric family. */
static const struct {
	const char *uapi, *log, *metric;
} published[] = {
	{ "rx_bytes", "rx_bytes", "sealnet_peer_rx_bytes_total" },
	{ "tx_bytes", "tx_bytes", "sealnet_peer_tx_bytes_total" },
	{ "sealnet_rx_packets", "rx_packets", "sealnet_peer_rx_packets_total" },
	{ "sealnet_tx_packets", "tx_packets", "sealnet_peer_tx_packets_total" },
	{ "sealnet_handshakes", "handshakes", "sealnet_peer_handshakes_total" },
	{ "sealnet_handshakes_failed", "handshakes_failed",
	  "sealnet_peer_handshakes_failed_total" },
	{ "sealnet_initiations", "initiations", "sealnet_peer_handshake_initiations_total" },
	{ "sealnet_rotations", "rotations", "sealnet_peer_keypair_rotations_total" },
	{ "sealnet_staged_dropped", "staged_dropped", "sealnet_peer_staged_dropped_total" },
};

#define N_PUBLISHED (sizeof(published) / sizeof(published[0]))

/* What log_msg() was given, every line. */
static char logged[4096];

void __wrap_log_msg(int level, const char *fmt, ...);
void __wrap_log_msg(int level, const char *fmt, ...)
{
	size_t len = strlen(logged);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(logged + len, sizeof(logged) - len, fmt, ap);
	va_end(ap);
	len = strlen(logged);
	if (len + 1 < sizeof(logged))
		strcpy(logged + len, "\n");
}

struct fixture {
	struct device dev;
	struct peer peer;
	char *text;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dev.ifname, sizeof(f->dev.ifname), "sn-test");
	TAILQ_INIT(&f->dev.peers);
	assert_int_equal(key_from_base64(f->peer.handshake.remote_static, PUB), 0);
	f->peer.dev = &f->dev;
	TAILQ_INSERT_TAIL(&f->dev.peers, &f->peer, link);
	/* A value of its own for each counter: 1001, 1002, ... */
	for (size_t i = 0; i < peer_n_counters; i++) {
		uint64_t v = 1001 + i;

		memcpy((char *)&f->peer.stats + peer_counters[i].offset, &v, sizeof(v));
	}
	logged[0] = '\0';
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->text);
	free(f);
	return 0;
}

/* Takes what b holds into f->text, NUL-terminated, and frees b. */
static const char *take(struct fixture *f, struct evbuffer *b)
{
	size_t len = evbuffer_get_length(b);

	free(f->text);
	f->text = malloc(len + 1);
	assert_non_null(f->text);
	assert_int_equal(evbuffer_remove(b, f->text, len), (int)len);
	f->text[len] = '\0';
	evbuffer_free(b);
	return f->text;
}

static const char *get(struct fixture *f, const char *request)
{
	struct evbuffer *b = evbuffer_new();
	char req[32];

	assert_non_null(b);
	snprintf(req, sizeof(req), "%s\n", request);
	uapi_handle(&f->dev, NULL, req, b);
	return take(f, b);
}

static void assert_has(const char *text, const char *want, const char *where)
{
	if (!strstr(text, want))
		fail_msg("%s: no \"%s\" in:\n%s", where, want, text);
}

static void test_published(void **state)
{
	(void)state;
	assert_int_equal(peer_n_counters, N_PUBLISHED);
	for (size_t i = 0; i < N_PUBLISHED; i++) {
		size_t j = 0;

		while (j < peer_n_counters && strcmp(peer_counters[j].uapi_key, published[i].uapi))
			j++;
		if (j == peer_n_counters)
			fail_msg("%s: not in peer_stats.h", published[i].uapi);
		assert_string_equal(peer_counters[j].name, published[i].log);
		assert_string_equal(peer_counters[j].metric, published[i].metric);
		/* wg's own keys are the unprefixed ones, in get=1 answers too. */
		assert_int_equal(peer_counters[j].wg,
				 strncmp(published[i].uapi, "sealnet_", 8) != 0);
	}
}

static void test_uapi(void **state)
{
	struct fixture *f = *state;
	const char *text;
	char want[128];

	text = get(f, "get=sealnet");
	for (size_t i = 0; i < peer_n_counters; i++) {
		snprintf(want, sizeof(want), "\n%s=%zu\n", peer_counters[i].uapi_key, 1001 + i);
		assert_has(text, want, "get=sealnet");
	}
	/* wg's answer carries wg's keys only. */
	text = get(f, "get=1");
	for (size_t i = 0; i < peer_n_counters; i++) {
		snprintf(want, sizeof(want), "\n%s=", peer_counters[i].uapi_key);
		if (peer_counters[i].wg)
			assert_has(text, want, "get=1");
		else
			assert_null(strstr(text, want));
	}
}

static void test_log(void **state)
{
	struct fixture *f = *state;
	char want[128];

	device_log_counters(&f->dev);
	assert_has(logged, "counters: peer " PUB " ", "SIGUSR1");
	for (size_t i = 0; i < peer_n_counters; i++) {
		snprintf(want, sizeof(want), " %s=%zu", peer_counters[i].name, 1001 + i);
		assert_has(logged, want, "SIGUSR1");
	}
}

static void test_metrics(void **state)
{
	struct fixture *f = *state;
	struct evbuffer *b = evbuffer_new();
	const char *page;
	char want[256];

	assert_non_null(b);
	assert_int_equal(metrics_format(&f->dev, b), 0);
	page = take(f, b);
	for (size_t i = 0; i < peer_n_counters; i++) {
		snprintf(want, sizeof(want), "\n# TYPE %s counter\n", peer_counters[i].metric);
		assert_has(page, want, "metrics");
		snprintf(want, sizeof(want), "\n%s{interface=\"sn-test\",peer=\"" PUB "\"} %zu\n",
			 peer_counters[i].metric, 1001 + i);
		assert_has(page, want, "metrics");
	}
}

/* The tool reads back what the daemon wrote, each counter into its own field. */
static void test_tool(void **state)
{
	struct fixture *f = *state;
	struct ipc_device *dev = calloc(1, sizeof(*dev));
	const struct ipc_peer *p;
	char *reply;

	assert_non_null(dev);
	reply = strdup(get(f, "get=sealnet"));
	assert_non_null(reply);
	assert_int_equal(parse_get(reply, dev), 0);
	p = dev->first_peer;
	assert_non_null(p);
#define CHECK(field, name, wg, metric, help) assert_int_equal(p->name, f->peer.stats.field);
	PEER_COUNTERS(CHECK)
#undef CHECK
	free(reply);
	ipc_device_free(dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_published),
		cmocka_unit_test_setup_teardown(test_uapi, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tool, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
