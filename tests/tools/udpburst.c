/*
 * udpburst: sends numbered UDP datagrams through a tunnel and checks each one that arrives,
 * for tests/netns.
 *
 *	udpburst send HOST PORT COUNT SIZE [BURST]
 *	udpburst recv PORT COUNT SECONDS
 *
 * send sends COUNT datagrams of SIZE payload bytes to HOST (an IPv4 or IPv6 literal) in
 * bursts of BURST (default 32) back to back, and pauses 1 ms after each burst so that the
 * tunnel under test drops few of them.  A burst of one size is what a receiving sealnetd
 * coalesces into one UDP GSO packet for its TUN.  SIZE 0 gives each burst the next
 * size of a cycle (12, 64, 100, 1000, 1372), so that trains also end where the size
 * changes, from larger to smaller too; 1372 is the largest payload an IPv6 overlay with the
 * default MTU (1420) carries unfragmented.
 *
 * Every payload describes itself: an 8-byte big-endian sequence number, the 4-byte
 * big-endian SIZE, then an xorshift stream seeded by the sequence number.  recv binds
 * [::]:PORT (IPv4 too) and checks each datagram against that: its length, its content,
 * seq < COUNT, and that seq was not seen before.  It stops once COUNT arrived or after
 * SECONDS without a datagram, and prints
 *
 *	udpburst: received N of COUNT, corrupt C, duplicates D
 *
 * It exits 0 only if C and D are 0: how much loss is acceptable is the caller's call, a
 * changed or repeated datagram never is.  Bad arguments exit 2, a failed system call 1.
 */
#define _GNU_SOURCE /* be64toh */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HDR_LEN 12     /* sequence number and size */
#define MAX_SIZE 65507 /* the largest UDP payload over IPv4 */
#define MAX_COUNT 10000000UL
#define MAX_BURST 1024
#define MAX_SECONDS 600
/* The plain datapath (one system call per packet) must keep up on a busy 2-core machine and
 * under ASan: after 200 us, one busy core was enough for the sending TUN's queue (500
 * packets) to overflow and lose a quarter of the datagrams. */
#define BURST_PAUSE_NS 1000000
/* Room for many bursts: a whole GSO packet of up to 64 datagrams lands at once. */
#define RCVBUF_BYTES (4 << 20)

static const char *progname = "udpburst";

/* SIZE 0: one size per burst, in this order. */
static const size_t mixed_sizes[] = { 12, 64, 100, 1000, 1372 };
#define N_MIXED (sizeof(mixed_sizes) / sizeof(mixed_sizes[0]))

enum verdict { GOOD, CORRUPT, DUPLICATE };

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr,
		"usage: %s send HOST PORT COUNT SIZE [BURST]\n"
		"       %s recv PORT COUNT SECONDS\n"
		"SIZE %d..%d, or 0 for a mix of sizes; COUNT 1..%lu; BURST 1..%d (default 32); "
		"SECONDS 1..%d.\n",
		progname, progname, HDR_LEN, MAX_SIZE, MAX_COUNT, MAX_BURST, MAX_SECONDS);
	exit(2);
}

static int sys_error(const char *call)
{
	int err = errno;

	fprintf(stderr, "%s: %s: %s\n", progname, call, strerror(err));
	return -err;
}

static bool parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* The payload of datagram seq, the same on both sides. */
static void payload_fill(uint8_t *buf, uint64_t seq, size_t size)
{
	/* An odd multiplier keeps the xorshift state non-zero for every seq, 0 included. */
	uint64_t x = (seq + 1) * 0x9e3779b97f4a7c15ULL;
	uint64_t be_seq = htobe64(seq);
	uint32_t be_size = htobe32((uint32_t)size);
	size_t i;

	memcpy(buf, &be_seq, sizeof(be_seq));
	memcpy(buf + sizeof(be_seq), &be_size, sizeof(be_size));
	for (i = 0; i < size - HDR_LEN; i++) {
		if (i % 8 == 0) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
		}
		buf[HDR_LEN + i] = (uint8_t)(x >> (8 * (i % 8)));
	}
}

static enum verdict payload_check(const uint8_t *buf, size_t len, unsigned long count,
				  uint8_t *seen)
{
	static uint8_t want[MAX_SIZE];
	uint64_t seq;
	uint32_t size;

	if (len < HDR_LEN || len > MAX_SIZE)
		return CORRUPT;
	memcpy(&seq, buf, sizeof(seq));
	memcpy(&size, buf + sizeof(seq), sizeof(size));
	seq = be64toh(seq);
	if (seq >= count || be32toh(size) != len)
		return CORRUPT;
	payload_fill(want, seq, len);
	if (memcmp(want, buf, len))
		return CORRUPT;
	if (seen[seq / 8] & (1u << (seq % 8)))
		return DUPLICATE;
	seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
	return GOOD;
}

static int run_send(const struct sockaddr_storage *ss, socklen_t sslen, unsigned long count,
		    unsigned long size, unsigned long burst)
{
	static uint8_t buf[MAX_SIZE];
	const struct timespec pause = { .tv_nsec = BURST_PAUSE_NS };
	unsigned long seq, bytes = 0;
	size_t len;
	int fd, ret = 0;

	fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sys_error("socket");
	for (seq = 0; seq < count; seq++) {
		if (seq && seq % burst == 0)
			nanosleep(&pause, NULL);
		len = size ? size : mixed_sizes[seq / burst % N_MIXED];
		payload_fill(buf, seq, len);
		/* Unconnected, so that an ICMP error from a receiver not yet up cannot fail it. */
		while (sendto(fd, buf, len, 0, (const struct sockaddr *)ss, sslen) < 0) {
			if (errno != EINTR) {
				ret = sys_error("sendto");
				goto out_close;
			}
		}
		bytes += len;
	}
	printf("%s: sent %lu datagrams, %lu bytes\n", progname, count, bytes);
out_close:
	close(fd);
	return ret;
}

static int open_receiver(unsigned long port)
{
	struct sockaddr_in6 sin6 = {
		.sin6_family = AF_INET6,
		.sin6_port = htons((uint16_t)port),
		.sin6_addr = IN6ADDR_ANY_INIT,
	};
	int fd, off = 0, rcvbuf = RCVBUF_BYTES, ret;

	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sys_error("socket");
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0) {
		ret = sys_error("setsockopt IPV6_V6ONLY");
		goto out_close;
	}
	/* A larger buffer than rmem_max allows needs CAP_NET_ADMIN; without it the smaller
	 * one only costs loss, which the caller measures. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) < 0) {
		ret = sys_error("bind");
		goto out_close;
	}
	return fd;

out_close:
	close(fd);
	return ret;
}

/* 0: all good; 1: corrupt or duplicate datagrams; -errno: a system call failed. */
static int run_recv(unsigned long port, unsigned long count, unsigned long seconds)
{
	static uint8_t buf[MAX_SIZE];
	unsigned long good = 0, corrupt = 0, dups = 0;
	struct pollfd pfd = { .events = POLLIN };
	uint8_t *seen;
	ssize_t n;
	int ret = 0;

	seen = calloc(count / 8 + 1, 1);
	if (!seen)
		return sys_error("calloc");
	pfd.fd = open_receiver(port);
	if (pfd.fd < 0) {
		ret = pfd.fd;
		goto out_free;
	}
	while (good < count) {
		ret = poll(&pfd, 1, (int)seconds * 1000);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0) {
			ret = sys_error("poll");
			goto out_close;
		}
		if (ret == 0)
			break;
		/* MSG_TRUNC: the real length, so that an oversized datagram cannot pass. */
		n = recv(pfd.fd, buf, sizeof(buf), MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = sys_error("recv");
			goto out_close;
		}
		switch (payload_check(buf, (size_t)n, count, seen)) {
		case GOOD:
			good++;
			break;
		case CORRUPT:
			corrupt++;
			break;
		case DUPLICATE:
			dups++;
			break;
		}
	}
	printf("%s: received %lu of %lu, corrupt %lu, duplicates %lu\n", progname, good, count,
	       corrupt, dups);
	ret = corrupt || dups;
out_close:
	close(pfd.fd);
out_free:
	free(seen);
	return ret;
}

static bool parse_host(const char *host, unsigned long port, struct sockaddr_storage *ss,
		       socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len = sizeof(*sin);
		return true;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
		return true;
	}
	return false;
}

int main(int argc, char *argv[])
{
	unsigned long port, count, size, burst = 32, seconds;
	struct sockaddr_storage ss;
	socklen_t sslen;
	int ret;

	if (argc >= 2 && !strcmp(argv[1], "send") && (argc == 6 || argc == 7)) {
		if (!parse_ulong(argv[3], 1, 65535, &port) ||
		    !parse_host(argv[2], port, &ss, &sslen) ||
		    !parse_ulong(argv[4], 1, MAX_COUNT, &count) ||
		    !parse_ulong(argv[5], 0, MAX_SIZE, &size) || (size && size < HDR_LEN) ||
		    (argc == 7 && !parse_ulong(argv[6], 1, MAX_BURST, &burst)))
			usage();
		ret = run_send(&ss, sslen, count, size, burst);
	} else if (argc == 5 && !strcmp(argv[1], "recv")) {
		if (!parse_ulong(argv[2], 1, 65535, &port) ||
		    !parse_ulong(argv[3], 1, MAX_COUNT, &count) ||
		    !parse_ulong(argv[4], 1, MAX_SECONDS, &seconds))
			usage();
		ret = run_recv(port, count, seconds);
	} else {
		usage();
	}
	return ret < 0 ? 1 : ret;
}
