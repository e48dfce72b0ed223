/* The Prometheus page, formatted from a device built by hand (no TUN, no sockets): label
 * escaping, the drop reasons, one block per family whatever the number of peers, and the
 * rules of the text format that a scraper relies on. The HTTP side is tests/netns/21. */
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

#define PUB1 "4IdA/QYDbsa9B0qb9tyNZ612GrkX9HwJOu6/LzmVLDg="
#define PUB2 "Uw8Rv5Bpo8CxiWgPcc7OdpTMX7KeNWx1xpJCX488IwQ="
/* Quotes and backslashes are valid in interface names (a newline is not, but its escape is
 * checked all the same). */
#define IFNAME "a\"b\\c\nd"
#define IFLABEL "interface=\"a\\\"b\\\\c\\nd\""

struct fixture {
	struct device dev;
	struct peer peers[2];
	char *page;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dev.ifname, sizeof(f->dev.ifname), "%s", IFNAME);
	TAILQ_INIT(&f->dev.peers);
	assert_int_equal(key_from_base64(f->peers[0].handshake.remote_static, PUB1), 0);
	assert_int_equal(key_from_base64(f->peers[1].handshake.remote_static, PUB2), 0);
	for (int i = 0; i < 2; i++) {
		f->peers[i].dev = &f->dev;
		TAILQ_INSERT_TAIL(&f->dev.peers, &f->peers[i], link);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->page);
	free(f);
	return 0;
}

/* Formats the page into f->page, NUL-terminated. */
static const char *format(struct fixture *f)
{
	struct evbuffer *b = evbuffer_new();
	size_t len;

	assert_non_null(b);
	assert_int_equal(metrics_format(&f->dev, b), 0);
	len = evbuffer_get_length(b);
	free(f->page);
	f->page = malloc(len + 1);
	assert_non_null(f->page);
	assert_int_equal(evbuffer_remove(b, f->page, len), (int)len);
	f->page[len] = '\0';
	evbuffer_free(b);
	return f->page;
}

static void assert_line(const char *page, const char *line)
{
	char want[512];

	snprintf(want, sizeof(want), "\n%s\n", line);
	if (!strstr(page, want))
		fail_msg("line not on the page: %s\n--- page:\n%s", line, page);
}

static void test_values(void **state)
{
	struct fixture *f = *state;
	const char *page;

	f->dev.stats.rx_datagrams = 11;
	f->dev.stats.tx_datagrams = 12;
	f->dev.stats.cookie_replies_sent = 3;
	f->dev.stats.drops[DROP_DECRYPT] = 7;
	f->dev.stats.drops[DROP_UDP_SEND] = 1;
	f->peers[0].stats = (struct peer_stats){
		.rx_bytes = 1000,
		.tx_bytes = 2000,
		.rx_packets = 10,
		.tx_packets = 20,
		.handshakes_initiated = 4,
		.handshakes_completed = 2,
		.handshakes_failed = 1,
		.keypair_rotations = 5,
	};
	f->peers[0].last_handshake_realtime = 1700000000ULL * 1000000000ULL + 999999999ULL;
	page = format(f);

	assert_line(page, "sealnet_rx_datagrams_total{" IFLABEL "} 11");
	assert_line(page, "sealnet_tx_datagrams_total{" IFLABEL "} 12");
	assert_line(page, "sealnet_cookie_replies_sent_total{" IFLABEL "} 3");
	assert_line(page, "sealnet_drops_total{" IFLABEL ",reason=\"decrypt\"} 7");
	assert_line(page, "sealnet_drops_total{" IFLABEL ",reason=\"udp_send\"} 1");
	assert_line(page, "sealnet_drops_total{" IFLABEL ",reason=\"bad_size\"} 0");
	assert_line(page, "sealnet_peers{" IFLABEL "} 2");
#define P1 "{" IFLABEL ",peer=\"" PUB1 "\"} "
#define P2 "{" IFLABEL ",peer=\"" PUB2 "\"} "
	assert_line(page, "sealnet_peer_rx_bytes_total" P1 "1000");
	assert_line(page, "sealnet_peer_tx_bytes_total" P1 "2000");
	assert_line(page, "sealnet_peer_rx_packets_total" P1 "10");
	assert_line(page, "sealnet_peer_tx_packets_total" P1 "20");
	assert_line(page, "sealnet_peer_handshake_initiations_total" P1 "4");
	assert_line(page, "sealnet_peer_handshakes_total" P1 "2");
	assert_line(page, "sealnet_peer_handshakes_failed_total" P1 "1");
	assert_line(page, "sealnet_peer_keypair_rotations_total" P1 "5");
	assert_line(page, "sealnet_peer_last_handshake_seconds" P1 "1700000000");
	assert_line(page, "sealnet_peer_last_handshake_seconds" P2 "0");
	assert_line(page, "sealnet_peer_rx_bytes_total" P2 "0");
	assert_null(strstr(page, "reason=\"drop_"));
}

static void test_every_drop_reason(void **state)
{
	struct fixture *f = *state;
	const char *page = format(f), *s = page;
	int n = 0;

	while ((s = strstr(s, "\nsealnet_drops_total{"))) {
		n++;
		s++;
	}
	assert_int_equal(n, DROP_MAX);
}

/* The rules of format 0.0.4 a scraper relies on: every sample belongs to the family the
 * last # TYPE announced (so a family is one block), no family is announced twice, every
 * # TYPE follows its # HELP, counters end in _total, and the page ends with a newline. */
static void test_structure(void **state)
{
	struct fixture *f = *state;
	char family[128] = "", help[128] = "", seen[4096] = " ";
	const char *page = format(f), *line, *nl;
	int samples = 0;

	assert_true(*page);
	assert_int_equal(page[strlen(page) - 1], '\n');
	for (line = page; *line; line = nl + 1) {
		char name[128], type[16], key[132];
		size_t len;

		nl = strchr(line, '\n');
		assert_non_null(nl);
		if (sscanf(line, "# HELP %127s", name) == 1) {
			snprintf(help, sizeof(help), "%s", name);
			continue;
		}
		if (sscanf(line, "# TYPE %127s %15s", name, type) == 2) {
			assert_string_equal(name, help);
			snprintf(key, sizeof(key), " %s ", name);
			assert_null(strstr(seen, key));
			assert_true(strlen(seen) + strlen(name) + 2 < sizeof(seen));
			strcat(seen, name);
			strcat(seen, " ");
			len = strlen(name);
			if (!strcmp(type, "counter"))
				assert_true(len > 6 && !strcmp(name + len - 6, "_total"));
			else
				assert_string_equal(type, "gauge");
			snprintf(family, sizeof(family), "%s", name);
			continue;
		}
		assert_int_not_equal(line[0], '#');
		len = strlen(family);
		assert_true(len && !strncmp(line, family, len) && line[len] == '{');
		samples++;
	}
	/* 3 device counters, the drop reasons, the peer gauge, for 2 peers the families of
	 * peer_stats.h and the last handshake (test_counters checks each is there). */
	assert_int_equal(samples, 3 + DROP_MAX + 1 + (peer_n_counters + 1) * 2);
}

static void test_no_peers(void **state)
{
	struct fixture *f = *state;
	const char *page;

	TAILQ_INIT(&f->dev.peers);
	page = format(f);
	assert_line(page, "sealnet_peers{" IFLABEL "} 0");
	/* Families without samples keep their HELP and TYPE: harmless, and stable for tools. */
	assert_line(page, "# TYPE sealnet_peer_rx_bytes_total counter");
	assert_null(strstr(page, "peer=\""));
}

/* The request line alone decides: the path without its query, then the method. */
static void test_request_status(void **state)
{
	static const struct {
		const char *line;
		int status;
		bool head;
	} cases[] = {
		{ "GET /metrics HTTP/1.1", 200, false },
		{ "GET /metrics?x=1 HTTP/1.0", 200, false },
		{ "HEAD /metrics HTTP/1.1", 200, true },
		{ "GET / HTTP/1.1", 404, false },
		{ "GET /metrics/x HTTP/1.1", 404, false },
		{ "GET /metricsx HTTP/1.1", 404, false },
		{ "GET /metric HTTP/1.1", 404, false },
		{ "POST /metrics HTTP/1.1", 405, false },
		{ "DELETE /metrics HTTP/1.1", 405, false },
		{ "GET /metrics", 400, false },
		{ "GET /metrics HTTP/2", 400, false },
		{ "GET  /metrics HTTP/1.1", 400, false },
		{ "get /metrics HTTP/1.1", 400, false },
		{ " /metrics HTTP/1.1", 400, false },
		{ "", 400, false },
		{ "GARBAGE", 400, false },
	};
	bool head;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		head = !cases[i].head;
		assert_int_equal(metrics_request_status(cases[i].line, strlen(cases[i].line),
							&head),
				 cases[i].status);
		assert_int_equal(head, cases[i].head);
	}
	/* The length is the line's, not the string's. */
	assert_int_equal(metrics_request_status("GET /metrics HTTP/1.1 trailing", 21, &head), 200);
	assert_int_equal(metrics_request_status("GET /metrics HTTP/1.1", 12, &head), 400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_drop_reason, setup, teardown),
		cmocka_unit_test_setup_teardown(test_structure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_peers, setup, teardown),
		cmocka_unit_test(test_request_status),
	};

	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
