/* udp.c's sticky source addresses, on real sockets over loopback (no root needed): every
 * 127/8 address is ours there, so a reply can be seen to leave from 127.0.0.2 rather than
 * from 127.0.0.1, and 198.18.0.77 (never ours in a test's network namespace) stands for an
 * address that went away.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "udp.h"

#define GONE4 "198.18.0.77"
#define GONE6 "fd00:18:77::77"

/* The far end: a plain socket on loopback, and the device's sockets. */
struct pair {
	struct udp u;
	int fd;
	union endpoint addr; /* the plain socket's */
	int family;
};

static union endpoint endpoint(const char *ip, uint16_t port)
{
	union endpoint e = { 0 };

	if (inet_pton(AF_INET, ip, &e.in4.sin_addr) == 1) {
		e.in4.sin_family = AF_INET;
		e.in4.sin_port = htons(port);
	} else if (inet_pton(AF_INET6, ip, &e.in6.sin6_addr) == 1) {
		e.in6.sin6_family = AF_INET6;
		e.in6.sin6_port = htons(port);
	} else {
		fail_msg("bad address in test: %s", ip);
	}
	return e;
}

static struct udp_src src(const char *ip, int ifindex)
{
	struct udp_src s = { .ifindex = ifindex };
	struct ip_prefix p;

	if (addr_parse_prefix(ip, &p))
		fail_msg("bad address in test: %s", ip);
	s.addr = p.addr;
	return s;
}

static int pair_open(struct pair *p, int family, unsigned offload)
{
	socklen_t len = sizeof(p->addr);

	memset(p, 0, sizeof(*p));
	p->family = family;
	p->addr = endpoint(family == AF_INET ? "127.0.0.1" : "::1", 0);
	p->fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (p->fd < 0 || bind(p->fd, &p->addr.sa, addr_endpoint_len(&p->addr)) ||
	    getsockname(p->fd, &p->addr.sa, &len))
		return -errno;
	return udp_open(&p->u, 0, offload);
}

static void pair_close(struct pair *p)
{
	udp_close(&p->u);
	if (p->fd >= 0)
		close(p->fd);
}

static int setup4(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	assert_int_equal(pair_open(p, AF_INET, UDP_OFFLOAD_GSO), 0);
	*state = p;
	return 0;
}

static int setup6(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	if (pair_open(p, AF_INET6, UDP_OFFLOAD_GSO) || p->u.fd6 < 0) {
		pair_close(p);
		free(p);
		*state = NULL;
		return 0; /* no IPv6 here: the tests skip */
	}
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;

	if (p) {
		pair_close(p);
		free(p);
	}
	return 0;
}

/* The device's address as the plain socket sees it, at host ip. */
static union endpoint device_at(const struct pair *p, const char *ip)
{
	return endpoint(ip, p->u.port);
}

/* Reads one datagram on the plain socket: its length, and where it came from in *from. */
static ssize_t peer_read(const struct pair *p, union endpoint *from)
{
	struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
	uint8_t buf[2048];
	socklen_t len = sizeof(*from);

	if (poll(&pfd, 1, 1000) != 1)
		return -ETIMEDOUT;
	return recvfrom(p->fd, buf, sizeof(buf), MSG_DONTWAIT, &from->sa, &len);
}

static const char *ip_of(const union endpoint *e, char buf[ADDR_STRLEN])
{
	const void *a = e->sa.sa_family == AF_INET ? (const void *)&e->in4.sin_addr
						   : (const void *)&e->in6.sin6_addr;

	return inet_ntop(e->sa.sa_family, a, buf, ADDR_STRLEN);
}

static void assert_from(const struct pair *p, const char *ip, size_t len)
{
	union endpoint from;
	char s[ADDR_STRLEN];

	assert_int_equal(peer_read(p, &from), (ssize_t)len);
	assert_string_equal(ip_of(&from, s), ip);
	assert_int_equal(ntohs(from.in4.sin_port), p->u.port); /* same offset in in6 */
}

/* The device's reads say which of its addresses a datagram was sent to. */
static void test_recv_reports_destination4(void **state)
{
	struct pair *p = *state;
	union endpoint to = device_at(p, "127.0.0.2"), from;
	struct udp_src local;
	uint8_t buf[64];
	size_t seglen;
	char s[ADDR_STRLEN];

	assert_int_equal(sendto(p->fd, "hello", 5, 0, &to.sa, addr_endpoint_len(&to)), 5);
	assert_int_equal(udp_recv(&p->u, p->u.fd4, buf, sizeof(buf), &from, &local, &seglen), 5);
	assert_true(addr_endpoint_equal(&from, &p->addr));
	assert_int_equal(local.addr.family, AF_INET);
	assert_string_equal(inet_ntop(AF_INET, &local.addr.v4, s, sizeof(s)), "127.0.0.2");
	assert_int_equal(local.ifindex, (int)if_nametoindex("lo"));
}

/* Sent with a source, the datagram leaves from it; without one, from what routing picks. */
static void test_send_from_source4(void **state)
{
	struct pair *p = *state;
	struct udp_src s2 = src("127.0.0.2", (int)if_nametoindex("lo")), s3 = src("127.0.0.3", 0);

	assert_int_equal(udp_send(&p->u, &p->addr, &s2, "x", 1), 0);
	assert_from(p, "127.0.0.2", 1);
	assert_int_equal(s2.addr.family, AF_INET);
	assert_int_equal(udp_send(&p->u, &p->addr, &s3, "xy", 2), 0);
	assert_from(p, "127.0.0.3", 2);
	assert_int_equal(udp_send(&p->u, &p->addr, NULL, "xyz", 3), 0);
	assert_from(p, "127.0.0.1", 3);
}

/* An address that is gone, or an interface that is: forgotten, and the datagram still goes. */
static void test_send_refused_source4(void **state)
{
	struct pair *p = *state;
	struct udp_src gone = src(GONE4, 0), noif = src("127.0.0.2", 0x7ffffff0);

	assert_int_equal(udp_send(&p->u, &p->addr, &gone, "x", 1), 0);
	assert_from(p, "127.0.0.1", 1);
	assert_int_equal(gone.addr.family, 0);
	assert_int_equal(udp_send(&p->u, &p->addr, &noif, "xy", 2), 0);
	assert_from(p, "127.0.0.1", 2);
	assert_int_equal(noif.addr.family, 0);
	assert_int_equal(noif.ifindex, 0);
}

/* A source of the other family is not this endpoint's: ignored, kept. */
static void test_send_other_family4(void **state)
{
	struct pair *p = *state;
	struct udp_src s6 = src("::1", 0);

	assert_int_equal(udp_send(&p->u, &p->addr, &s6, "x", 1), 0);
	assert_from(p, "127.0.0.1", 1);
	assert_int_equal(s6.addr.family, AF_INET6);
}

static void send_train(struct pair *p, struct udp_src *s, unsigned count)
{
	uint8_t buf[4 * 100];

	memset(buf, 0xab, sizeof(buf));
	/* Four datagrams of 100 bytes, the last one of 70. */
	assert_int_equal(udp_send_train(&p->u, &p->addr, s, buf, 3 * 100 + 70, 100, count),
			 (int)count);
}

/* A GSO train carries one source for all its datagrams; one sent singly (sendmmsg) too. */
static void test_train_from_source4(void **state)
{
	struct pair *p = *state;
	struct udp_src s2 = src("127.0.0.2", (int)if_nametoindex("lo"));

	for (int gso = 1; gso >= 0; gso--) {
		p->u.offload4 = gso ? UDP_OFFLOAD_GSO : 0;
		send_train(p, &s2, 4);
		for (int i = 0; i < 3; i++)
			assert_from(p, "127.0.0.2", 100);
		assert_from(p, "127.0.0.2", 70);
	}
}

/* A train refused for its source goes without it, and the socket keeps its GSO. */
static void test_train_refused_source4(void **state)
{
	struct pair *p = *state;

	for (int gso = 1; gso >= 0; gso--) {
		struct udp_src gone = src(GONE4, (int)if_nametoindex("lo"));

		p->u.offload4 = gso ? UDP_OFFLOAD_GSO : 0;
		send_train(p, &gone, 4);
		for (int i = 0; i < 3; i++)
			assert_from(p, "127.0.0.1", 100);
		assert_from(p, "127.0.0.1", 70);
		assert_int_equal(gone.addr.family, 0);
		assert_int_equal(p->u.offload4, gso ? UDP_OFFLOAD_GSO : 0);
	}
}

/* GSO out of one device, GRO into another: the train arrives whole (or in pieces, the kernel
 * may choose), each read naming the address it was sent to, and comes from the source. */
static void test_train_into_gro4(void **state)
{
	struct pair *p = *state;
	struct udp rx;
	union endpoint to, from;
	struct udp_src s2 = src("127.0.0.2", 0), local;
	uint8_t buf[4 * 100], in[2048];
	size_t seglen, got = 0;
	char s[ADDR_STRLEN];
	ssize_t n;

	assert_int_equal(udp_open(&rx, 0, UDP_OFFLOAD_GRO), 0);
	to = endpoint("127.0.0.3", rx.port);
	memset(buf, 0xcd, sizeof(buf));
	assert_int_equal(udp_send_train(&p->u, &to, &s2, buf, sizeof(buf), 100, 4), 4);
	while (got < sizeof(buf)) {
		struct pollfd pfd = { .fd = rx.fd4, .events = POLLIN };

		assert_int_equal(poll(&pfd, 1, 1000), 1);
		n = udp_recv(&rx, rx.fd4, in, sizeof(in), &from, &local, &seglen);
		assert_true(n > 0);
		assert_int_equal(seglen, 100);
		assert_int_equal(local.addr.family, AF_INET);
		assert_string_equal(inet_ntop(AF_INET, &local.addr.v4, s, sizeof(s)), "127.0.0.3");
		assert_string_equal(ip_of(&from, s), "127.0.0.2");
		got += (size_t)n;
	}
	assert_int_equal(got, sizeof(buf));
	udp_close(&rx);
}

static void test_recv_reports_destination6(void **state)
{
	struct pair *p = *state;
	union endpoint to, from;
	struct udp_src local;
	uint8_t buf[64];
	size_t seglen;
	char s[ADDR_STRLEN];

	if (!p)
		skip();
	to = device_at(p, "::1");
	assert_int_equal(sendto(p->fd, "hello", 5, 0, &to.sa, addr_endpoint_len(&to)), 5);
	assert_int_equal(udp_recv(&p->u, p->u.fd6, buf, sizeof(buf), &from, &local, &seglen), 5);
	assert_true(addr_endpoint_equal(&from, &p->addr));
	assert_int_equal(local.addr.family, AF_INET6);
	assert_string_equal(inet_ntop(AF_INET6, &local.addr.v6, s, sizeof(s)), "::1");
	/* As WireGuard, IPv6 keeps the address only. */
	assert_int_equal(local.ifindex, 0);
}

static void test_send_source6(void **state)
{
	struct pair *p = *state;
	struct udp_src one, gone;

	if (!p)
		skip();
	one = src("::1", 0);
	gone = src(GONE6, 0);
	assert_int_equal(udp_send(&p->u, &p->addr, &one, "x", 1), 0);
	assert_from(p, "::1", 1);
	assert_int_equal(one.addr.family, AF_INET6);
	assert_int_equal(udp_send(&p->u, &p->addr, &gone, "xy", 2), 0);
	assert_from(p, "::1", 2);
	assert_int_equal(gone.addr.family, 0);
	gone = src(GONE6, 0);
	send_train(p, &gone, 4);
	for (int i = 0; i < 3; i++)
		assert_from(p, "::1", 100);
	assert_from(p, "::1", 70);
	assert_int_equal(gone.addr.family, 0);
	assert_int_equal(p->u.offload6, UDP_OFFLOAD_GSO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_recv_reports_destination4, setup4, teardown),
		cmocka_unit_test_setup_teardown(test_send_from_source4, setup4, teardown),
		cmocka_unit_test_setup_teardown(test_send_refused_source4, setup4, teardown),
		cmocka_unit_test_setup_teardown(test_send_other_family4, setup4, teardown),
		cmocka_unit_test_setup_teardown(test_train_from_source4, setup4, teardown),
		cmocka_unit_test_setup_teardown(test_train_refused_source4, setup4, teardown),
		cmocka_unit_test_setup_teardown(test_train_into_gro4, setup4, teardown),
		cmocka_unit_test_setup_teardown(test_recv_reports_destination6, setup6, teardown),
		cmocka_unit_test_setup_teardown(test_send_source6, setup6, teardown),
	};

	return cmocka_run_group_tests_name("udp", tests, NULL, NULL);
}
