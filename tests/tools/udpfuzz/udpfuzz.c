/*
 * udpfuzz: throws hostile UDP datagrams at a WireGuard port, and checks captures, for
 * tests/netns.
 *
 *	udpfuzz [options] garbage HOST PORT COUNT
 *	udpfuzz [options] replay HOST PORT FILE.pcap
 *	udpfuzz [options] mutate HOST PORT FILE.pcap COUNT
 *	udpfuzz [options] flood HOST PORT PUBKEY_B64 COUNT RATE
 *	udpfuzz [-m MTU] check FILE.pcap PORT[,PORT...] MARKER
 *	udpfuzz [-t SECONDS] hold HOST PORT COUNT
 *	udpfuzz [-t SECONDS] hold unix PATH COUNT
 *
 * Each mode is described at the top of its file: garbage.c, replay.c, mutate.c, flood.c,
 * hold.c, check.c; the pcap reader is tests/tools/pcap.c.
 *
 * Options:
 *	-s SEED      seed of the random choices (garbage, mutate, flood)
 *	-i USEC      pause after each datagram (default 50; 0: line rate)
 *	-n MAX       replay: stop after MAX datagrams
 *	-r ROUNDS    replay: send the capture ROUNDS times (default 1)
 *	-t SECONDS   stop sending after SECONDS, whatever COUNT says (at most 600)
 *	-B ADDR      send from ADDR (repeatable, at most 16: the datagrams take turns).  ADDR
 *	             need not be local: the socket is transparent, so an on-path attacker can
 *	             forge another node's address
 *	-P PORT      the source port of the -B sockets (default: any)
 *	-L MAXLEN    garbage and mutate: the largest datagram (default 1600, at most 65507)
 *	-c           flood: consume cookie replies and send a valid mac2 from then on
 *	-m MTU       check: the tunnel's MTU (default 1420)
 *
 * Every mode is bounded (COUNT and MAX at most 1000000, hold's COUNT at most 10000) and only talks to the test ranges
 * (198.18.0.0/15, 100.64.0.0/10, fd00::/8, loopback), from them too: this tool must never aim
 * elsewhere.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cipher.h"
#include "udpfuzz.h"

const char *progname = "udpfuzz";
size_t max_len = MAX_DATAGRAM;
/* SIGINT or SIGTERM: stop sending, but still report (the scenario's figures need it). */
volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

void usage(void)
{
	fprintf(stderr,
		"usage: %s [-s SEED] [-i USEC] [-t SEC] [-B ADDR]... [-P PORT] [-L MAXLEN] "
		"garbage HOST PORT COUNT\n"
		"       %s [-i USEC] [-n MAX] [-r ROUNDS] [-t SEC] [-B ADDR]... [-P PORT] "
		"replay HOST PORT FILE.pcap\n"
		"       %s [-s SEED] [-i USEC] [-t SEC] [-B ADDR]... [-P PORT] [-L MAXLEN] "
		"mutate HOST PORT FILE.pcap COUNT\n"
		"       %s [-s SEED] [-t SEC] [-B ADDR]... [-P PORT] [-c] "
		"flood HOST PORT PUBKEY_B64 COUNT RATE\n"
		"       %s [-m MTU] check FILE.pcap PORT[,PORT...] MARKER\n"
		"       %s [-t SEC] hold HOST PORT COUNT | hold unix PATH COUNT\n"
		"HOST and ADDR must be in 198.18.0.0/15, 100.64.0.0/10, fd00::/8 or loopback; "
		"COUNT and MAX at most %lu.\n",
		progname, progname, progname, progname, progname, progname, MAX_COUNT);
	exit(2);
}

/* splitmix64: small, seedable, good enough to pick lengths and fill bytes. */
static uint64_t rng_state;

uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

size_t rng_below(size_t n)
{
	return n ? (size_t)(rng_next() % n) : 0;
}

void rng_fill(uint8_t *buf, size_t len)
{
	uint64_t r = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (i % 8 == 0)
			r = rng_next();
		buf[i] = (uint8_t)r;
		r >>= 8;
	}
}

bool parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-' || v > max)
		return false;
	*out = v;
	return true;
}

int main(int argc, char *argv[])
{
	struct target t = { .interval_us = 50 };
	unsigned long count, max = MAX_COUNT, seed = 0, port, seconds = 0, rate, len, mtu = 1420;
	char *srcs[MAX_SOURCES];
	const char *srcport = "0";
	unsigned nsrcs = 0;
	unsigned long rounds = 1;
	bool seeded = false, consume = false;
	char host[INET6_ADDRSTRLEN + 8];
	int opt, ret;

	while ((opt = getopt(argc, argv, "s:i:n:r:t:B:P:L:m:ch")) != -1) {
		switch (opt) {
		case 's':
			if (!parse_ulong(optarg, ULONG_MAX, &seed))
				usage();
			seeded = true;
			break;
		case 'i':
			if (!parse_ulong(optarg, 1000000, &t.interval_us))
				usage();
			break;
		case 'n':
			if (!parse_ulong(optarg, MAX_COUNT, &max))
				usage();
			break;
		case 'r':
			if (!parse_ulong(optarg, MAX_COUNT, &rounds) || !rounds)
				usage();
			break;
		case 't':
			if (!parse_ulong(optarg, MAX_SECONDS, &seconds) || !seconds)
				usage();
			break;
		case 'B':
			if (nsrcs == MAX_SOURCES)
				usage();
			srcs[nsrcs++] = optarg;
			break;
		case 'P':
			if (!parse_ulong(optarg, 65535, &port))
				usage();
			srcport = optarg;
			break;
		case 'L':
			if (!parse_ulong(optarg, MAX_OVERSIZED, &len) || len < MAX_DATAGRAM)
				usage();
			max_len = len;
			break;
		case 'c':
			consume = true;
			break;
		case 'm':
			if (!parse_ulong(optarg, 65535, &mtu) || mtu < 576)
				usage();
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if (!strcmp(argv[0], "check")) {
		if (argc != 4)
			usage();
		ret = check_run(argv[1], argv[2], argv[3], mtu);
		return ret < 0 ? 2 : ret;
	}
	if (!strcmp(argv[0], "hold")) {
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		return hold_run(argc, argv, seconds) ? 1 : 0;
	}
	if (argc < 4 || !parse_ulong(argv[2], 65535, &port) || port == 0)
		usage();
	if (cipher_init())
		return 1;
	if (!seeded)
		seed = (unsigned long)time(NULL) ^ (unsigned long)getpid() << 16;
	rng_state = seed;
	if (target_open(&t, argv[1], argv[2], srcs, nsrcs, srcport)) {
		target_close(&t);
		return 1;
	}
	if (seconds)
		t.deadline_ns = now_ns() + seconds * NSEC_PER_SEC;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	if (!strcmp(argv[0], "garbage") && argc == 4) {
		if (!parse_ulong(argv[3], MAX_COUNT, &count))
			usage();
		fprintf(stderr, "%s: garbage, seed %lu (repeat with -s %lu)\n", progname, seed,
			seed);
		ret = garbage_run(&t, count);
	} else if (!strcmp(argv[0], "replay") && argc == 4) {
		ret = replay_run(&t, argv[3], max, rounds);
	} else if (!strcmp(argv[0], "mutate") && argc == 5) {
		if (!parse_ulong(argv[4], MAX_COUNT, &count))
			usage();
		fprintf(stderr, "%s: mutate, seed %lu (repeat with -s %lu)\n", progname, seed,
			seed);
		ret = mutate_run(&t, argv[3], count);
	} else if (!strcmp(argv[0], "flood") && argc == 6) {
		if (!parse_ulong(argv[4], MAX_COUNT, &count) ||
		    !parse_ulong(argv[5], 10000000, &rate))
			usage();
		ret = flood_run(&t, argv[3], count, rate, consume);
	} else {
		usage();
	}
	nsrcs = t.nfds;
	target_close(&t);
	if (ret)
		return 1;
	if (t.addr.ss_family == AF_INET6)
		snprintf(host, sizeof(host), "[%s]", argv[1]);
	else
		snprintf(host, sizeof(host), "%s", argv[1]);
	fprintf(stderr,
		"%s: sent %lu datagrams (%lu bytes) to %s:%lu from %u source%s, %lu send "
		"errors%s%s\n",
		progname, t.sent, t.bytes, host, port, nsrcs, nsrcs == 1 ? "" : "s", t.errors,
		t.errors ? ", last: " : "", t.errors ? strerror(t.last_errno) : "");
	/* Nothing got out although something should have: the caller's test would be void. */
	return t.sent == 0 && t.errors > 0 ? 1 : 0;
}
