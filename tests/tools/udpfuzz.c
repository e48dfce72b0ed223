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
 * garbage sends COUNT random datagrams.  Most are shaped like WireGuard messages (a type
 * byte 1..4, zero reserved bytes, the exact sizes 148/92/64 or a transport size >= 32), so
 * that they get past the first length and type checks and exercise the parsers behind them;
 * the rest are random lengths 0..1600, wrong sizes and non-zero reserved bytes.  With -L
 * MAXLEN above 1600, one in ten is oversized: MAXLEN at most, larger than any MTU, so the
 * kernel fragments it and the receiver must reassemble 64 KB of junk.  The seed is printed
 * so that a failing run can be repeated.
 *
 * replay resends every UDP payload of a classic pcap file (as tcpdump -w writes it):
 * Ethernet, Linux cooked capture v1 (113, what tcpdump -i any gave) and v2 (276), raw IP and
 * BSD loopback link types; IPv4 and IPv6; fragments and truncated records are skipped.  With
 * -r ROUNDS the whole file is sent ROUNDS times: one captured initiation, -i 5000 apart, is
 * a replay flood of 200 a second.
 *
 * mutate sends COUNT damaged copies of the UDP payloads of a capture: truncated, with bits
 * flipped behind the header, extended with random bytes (to MAXLEN), with non-zero reserved
 * bytes, or with everything but the header and the receiver index replaced.  Unlike garbage
 * these name real sessions, so they reach the decryption and the handshake code.
 *
 * flood sends COUNT handshake initiations, RATE a second at most (0: as fast as it can), to
 * the node whose public key is PUBKEY_B64.  Public keys are not secret, so an attacker can
 * compute a valid mac1 (the daemon's own cookie.c does it here); everything behind it is
 * random, so each initiation fails at decryption, after the mac1, cookie and rate-limit
 * checks that the flood tests.  Cookie replies are counted; with -c they are also consumed,
 * and each source then sends a valid mac2: the victim must fall back on its per-source rate
 * limit.
 *
 * hold opens COUNT TCP connections to HOST PORT (or stream connections to the AF_UNIX socket
 * PATH), sends nothing on them and keeps them open until SECONDS have passed or SIGINT: the
 * idle-connection flood that a server must cap and time out.  Connects do not wait for one
 * another (a server that stopped accepting leaves them pending).  It prints one "hold:" line:
 * connections established, pending, refused or failed, and closed by the server.
 *
 * check reads a capture and verifies that every UDP payload is a well-formed WireGuard
 * message to or from one of the PORTs (type 1..4, bytes 1..3 zero, 148/92/64 bytes or a
 * transport message of 32 + 16n bytes, or 32 + MTU bytes, never more) and that MARKER
 * occurs in no captured byte.  It
 * prints one "check:" line of counts and exits 1 if anything was wrong or unverifiable.
 * "largest" is the longest message; the MTU bound also shows that each datagram was captured
 * as it went on the wire, not as a segmentation-offload train.
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
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cipher.h"
#include "cookie.h"
#include "key.h"
#include "messages.h"

#define MAX_COUNT 1000000UL
#define MAX_DATAGRAM 1600
#define MAX_OVERSIZED 65507 /* the largest UDP payload over IPv4 */
#define MAX_RECORD 262144
#define MAX_SOURCES 16
#define MAX_SECONDS 600
#define MAX_PAYLOADS 8192
#define MAX_HOLD 10000
/* flood: how many recent initiations a cookie reply can still be matched to. */
#define FLOOD_RING 65536

#define MSG_INITIATION MESSAGE_HANDSHAKE_INITIATION
#define MSG_RESPONSE MESSAGE_HANDSHAKE_RESPONSE
#define MSG_COOKIE MESSAGE_HANDSHAKE_COOKIE
#define MSG_TRANSPORT MESSAGE_DATA
#define SIZE_INITIATION sizeof(struct message_handshake_initiation)
#define SIZE_RESPONSE sizeof(struct message_handshake_response)
#define SIZE_COOKIE sizeof(struct message_handshake_cookie)
#define SIZE_TRANSPORT_MIN MESSAGE_MINIMUM_LENGTH

/* pcap link types (www.tcpdump.org/linktypes.html). */
#define LINKTYPE_NULL 0
#define LINKTYPE_ETHERNET 1
#define LINKTYPE_RAW_OLD 12
#define LINKTYPE_RAW_OPENBSD 14
#define LINKTYPE_RAW 101
#define LINKTYPE_LINUX_SLL 113
#define LINKTYPE_IPV4 228
#define LINKTYPE_IPV6 229
#define LINKTYPE_LINUX_SLL2 276

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8

struct target {
	int fds[MAX_SOURCES];
	unsigned nfds, next;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	unsigned long interval_us;
	uint64_t deadline_ns; /* 0: none */
	unsigned long sent;
	unsigned long bytes;
	unsigned long errors;
	int last_errno;
};

struct replay_stats {
	unsigned long records;
	unsigned long not_udp;
	unsigned long fragments;
	unsigned long truncated;
};

struct pcap {
	FILE *f;
	const char *path;
	bool swap;
	uint32_t linktype;
	uint8_t *data;
	uint32_t caplen;
	struct replay_stats st;
};

static const char *progname = "udpfuzz";
static size_t max_len = MAX_DATAGRAM;
/* SIGINT or SIGTERM: stop sending, but still report (the scenario's figures need it). */
static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void usage(void)
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

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t rng_below(size_t n)
{
	return n ? (size_t)(rng_next() % n) : 0;
}

static void rng_fill(uint8_t *buf, size_t len)
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

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static bool parse_ulong(const char *s, unsigned long max, unsigned long *out)
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

/* The test ranges only: whatever the arguments say, nothing leaves the test namespaces. */
static bool addr_allowed(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
		uint32_t a = ntohl(sin->sin_addr.s_addr);

		return (a & 0xfffe0000) == 0xc6120000 || /* 198.18.0.0/15 */
		       (a & 0xffc00000) == 0x64400000 || /* 100.64.0.0/10 */
		       (a & 0xff000000) == 0x7f000000;   /* 127.0.0.0/8 */
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		return sin6->sin6_addr.s6_addr[0] == 0xfd || IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
	}
	return false;
}

static int resolve(const char *host, const char *port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = {
	        .ai_family = AF_UNSPEC,
	        .ai_socktype = SOCK_DGRAM,
	        .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
	};
	struct addrinfo *res;
	int ret;

	ret = getaddrinfo(host, port, &hints, &res);
	if (ret) {
		fprintf(stderr, "%s: %s port %s: %s (numeric address and port only)\n", progname,
		        host, port, gai_strerror(ret));
		return -EINVAL;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	if (!addr_allowed(ss)) {
		fprintf(stderr, "%s: %s is outside the test ranges, refusing\n", progname, host);
		return -EPERM;
	}
	return 0;
}

static int open_socket(int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		fprintf(stderr, "%s: socket: %s\n", progname, strerror(errno));
	return fd < 0 ? -errno : fd;
}

/* A socket sending from src.  Transparent, so that src may be another node's address: an
 * on-path attacker forging the real peer's datagrams (needs CAP_NET_ADMIN). */
static int open_source(const struct target *t, const char *src, const char *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, on = 1, ret;

	ret = resolve(src, port, &ss, &len);
	if (ret)
		return ret;
	if (ss.ss_family != t->addr.ss_family) {
		fprintf(stderr, "%s: source %s and target are not of one address family\n",
		        progname, src);
		return -EINVAL;
	}
	fd = open_socket(ss.ss_family);
	if (fd < 0)
		return fd;
	if (ss.ss_family == AF_INET)
		ret = setsockopt(fd, SOL_IP, IP_TRANSPARENT, &on, sizeof(on));
	else
		ret = setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &on, sizeof(on));
	if (ret < 0)
		fprintf(stderr, "%s: %s: transparent socket: %s (only local addresses will do)\n",
		        progname, src, strerror(errno));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		ret = -errno;
		fprintf(stderr, "%s: bind %s port %s: %s\n", progname, src, port, strerror(errno));
		close(fd);
		return ret;
	}
	return fd;
}

static int target_open(struct target *t, const char *host, const char *port, char **srcs,
                       unsigned nsrcs, const char *srcport)
{
	int ret;
	unsigned i;

	ret = resolve(host, port, &t->addr, &t->addr_len);
	if (ret)
		return ret;
	if (!nsrcs) {
		ret = open_socket(t->addr.ss_family);
		if (ret < 0)
			return ret;
		t->fds[t->nfds++] = ret;
		return 0;
	}
	for (i = 0; i < nsrcs; i++) {
		ret = open_source(t, srcs[i], srcport);
		if (ret < 0)
			return ret;
		t->fds[t->nfds++] = ret;
	}
	return 0;
}

static void target_close(struct target *t)
{
	while (t->nfds)
		close(t->fds[--t->nfds]);
}

static bool target_expired(const struct target *t)
{
	return stopping || (t->deadline_ns && now_ns() >= t->deadline_ns);
}

static void pause_us(unsigned long us)
{
	struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000};

	if (us)
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !stopping)
			;
}

/* A failed send is counted, not fatal: the receiver may be restarting, buffers may be full. */
static void target_send_from(struct target *t, unsigned src, const uint8_t *buf, size_t len)
{
	if (sendto(t->fds[src], buf, len, 0, (const struct sockaddr *)&t->addr, t->addr_len) < 0) {
		t->errors++;
		t->last_errno = errno;
	} else {
		t->sent++;
		t->bytes += len;
	}
}

/* The sources take turns. */
static void target_send(struct target *t, const uint8_t *buf, size_t len)
{
	target_send_from(t, t->next, buf, len);
	t->next = (t->next + 1) % t->nfds;
	pause_us(t->interval_us);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* One garbage datagram in buf (max_len bytes); returns its length. */
static size_t garbage_make(uint8_t *buf)
{
	static const size_t fixed[] = {SIZE_INITIATION, SIZE_RESPONSE, SIZE_COOKIE};
	size_t len;
	unsigned int type;

	switch (rng_below(10)) {
	case 0: /* anything at all */
		len = rng_below(MAX_DATAGRAM + 1);
		rng_fill(buf, len);
		return len;
	case 1: /* oversized if allowed (half of them a transport header), else anything */
		if (max_len <= MAX_DATAGRAM) {
			len = rng_below(MAX_DATAGRAM + 1);
			rng_fill(buf, len);
			return len;
		}
		len = MAX_DATAGRAM + 1 + rng_below(max_len - MAX_DATAGRAM);
		rng_fill(buf, len);
		if (rng_below(2))
			put_le32(buf, MSG_TRANSPORT);
		return len;
	case 2: /* shorter than any header */
		len = rng_below(5);
		rng_fill(buf, len);
		return len;
	case 3: /* a known type with the wrong size */
		type = 1 + (unsigned int)rng_below(4);
		if (type == MSG_TRANSPORT) {
			len = 4 + rng_below(SIZE_TRANSPORT_MIN - 4);
		} else {
			do
				len = 4 + rng_below(MAX_DATAGRAM - 3);
			while (len == fixed[type - 1]);
		}
		rng_fill(buf, len);
		put_le32(buf, type);
		return len;
	case 4: /* the right size, but non-zero reserved bytes */
		type = 1 + (unsigned int)rng_below(4);
		len = type == MSG_TRANSPORT ? SIZE_TRANSPORT_MIN + rng_below(1400)
		                            : fixed[type - 1];
		rng_fill(buf, len);
		put_le32(buf, type | (uint32_t)(1 + rng_below(0xffffff)) << 8);
		return len;
	case 5:
		len = SIZE_INITIATION;
		type = MSG_INITIATION;
		break;
	case 6:
		len = SIZE_RESPONSE;
		type = MSG_RESPONSE;
		break;
	case 7:
		len = SIZE_COOKIE;
		type = MSG_COOKIE;
		break;
	default: /* transport: a keepalive's size or longer */
		len = rng_below(4) ? SIZE_TRANSPORT_MIN + 16 * rng_below(90) : SIZE_TRANSPORT_MIN;
		type = MSG_TRANSPORT;
		break;
	}
	rng_fill(buf, len);
	put_le32(buf, type);
	return len;
}

static int run_garbage(struct target *t, unsigned long count)
{
	static uint8_t buf[MAX_OVERSIZED];
	unsigned long i;

	for (i = 0; i < count && !target_expired(t); i++)
		target_send(t, buf, garbage_make(buf));
	return 0;
}

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get_u32(const uint8_t *p, bool swap)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return swap ? __builtin_bswap32(v) : v;
}

/* Finds the UDP payload of an IPv4 or IPv6 packet; returns 1 and sets *payload and *len
 * (the UDP header is the 8 bytes before *payload), 0 if there is none (stats say why). */
static int ip_udp_payload(const uint8_t *p, size_t caplen, struct replay_stats *st,
                          const uint8_t **payload, size_t *len)
{
	size_t hlen, ulen;
	uint8_t next;

	if (caplen < 1)
		goto not_udp;
	if (p[0] >> 4 == 4) {
		if (caplen < 20 || (hlen = (size_t)(p[0] & 0x0f) * 4) < 20 || caplen < hlen)
			goto truncated;
		if (p[9] != IPPROTO_UDP)
			goto not_udp;
		if (get_be16(p + 6) & 0x3fff) /* MF or a fragment offset */
			goto fragment;
	} else if (p[0] >> 4 == 6) {
		if (caplen < 40)
			goto truncated;
		next = p[6];
		hlen = 40;
		/* Hop-by-hop, routing and destination options may precede UDP. */
		while (next == 0 || next == 43 || next == 60) {
			if (caplen < hlen + 8)
				goto truncated;
			next = p[hlen];
			hlen += ((size_t)p[hlen + 1] + 1) * 8;
		}
		if (next == 44)
			goto fragment;
		if (next != IPPROTO_UDP)
			goto not_udp;
	} else {
		goto not_udp;
	}
	if (caplen < hlen + 8)
		goto truncated;
	ulen = get_be16(p + hlen + 4);
	if (ulen < 8)
		goto not_udp;
	if (caplen < hlen + ulen)
		goto truncated;
	*payload = p + hlen + 8;
	*len = ulen - 8;
	return 1;

not_udp:
	st->not_udp++;
	return 0;
truncated:
	st->truncated++;
	return 0;
fragment:
	st->fragments++;
	return 0;
}

static bool linktype_known(uint32_t linktype)
{
	switch (linktype) {
	case LINKTYPE_NULL:
	case LINKTYPE_ETHERNET:
	case LINKTYPE_RAW_OLD:
	case LINKTYPE_RAW_OPENBSD:
	case LINKTYPE_RAW:
	case LINKTYPE_LINUX_SLL:
	case LINKTYPE_IPV4:
	case LINKTYPE_IPV6:
	case LINKTYPE_LINUX_SLL2:
		return true;
	default:
		return false;
	}
}

/* Strips the link-layer header; returns the offset of the IP header or -1. */
static long link_ip_offset(uint32_t linktype, const uint8_t *p, size_t caplen, bool swap)
{
	size_t off;
	uint16_t proto;
	uint32_t family;

	switch (linktype) {
	case LINKTYPE_ETHERNET:
		off = 12;
		if (caplen < off + 2)
			return -1;
		proto = get_be16(p + off);
		while ((proto == ETHERTYPE_VLAN || proto == ETHERTYPE_QINQ) && caplen >= off + 6) {
			off += 4;
			proto = get_be16(p + off);
		}
		off += 2;
		break;
	case LINKTYPE_LINUX_SLL:
		if (caplen < 16)
			return -1;
		proto = get_be16(p + 14);
		off = 16;
		break;
	case LINKTYPE_LINUX_SLL2:
		if (caplen < 20)
			return -1;
		proto = get_be16(p);
		off = 20;
		break;
	case LINKTYPE_NULL:
		/* The address family in the capturing host's byte order, the file's. */
		if (caplen < 4)
			return -1;
		family = get_u32(p, swap);
		if (family > 0xffff)
			family = __builtin_bswap32(family);
		return family == 2 || family == 10 || family == 24 || family == 28 || family == 30
		               ? 4
		               : -1;
	case LINKTYPE_RAW:
	case LINKTYPE_RAW_OLD:
	case LINKTYPE_RAW_OPENBSD:
	case LINKTYPE_IPV4:
	case LINKTYPE_IPV6:
		return 0;
	default:
		return -1;
	}
	if (proto != ETHERTYPE_IPV4 && proto != ETHERTYPE_IPV6)
		return -1;
	return (long)off;
}

static int pcap_open(struct pcap *pc, const char *path)
{
	uint8_t hdr[24];
	uint32_t magic;
	int ret;

	memset(pc, 0, sizeof(*pc));
	pc->path = path;
	pc->f = fopen(path, "rb");
	if (!pc->f) {
		ret = -errno;
		fprintf(stderr, "%s: %s: %s\n", progname, path, strerror(errno));
		return ret;
	}
	if (fread(hdr, sizeof(hdr), 1, pc->f) != 1) {
		fprintf(stderr, "%s: %s: shorter than a pcap header\n", progname, path);
		ret = -EINVAL;
		goto err_close;
	}
	memcpy(&magic, hdr, sizeof(magic));
	if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d) {
		pc->swap = false;
	} else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1) {
		pc->swap = true;
	} else {
		fprintf(stderr, "%s: %s: not a classic pcap file (magic %08" PRIx32 "%s)\n",
		        progname, path, magic, magic == 0x0a0d0d0a ? ", pcapng" : "");
		ret = -EINVAL;
		goto err_close;
	}
	/* The top bits of the link type field carry FCS information. */
	pc->linktype = get_u32(hdr + 20, pc->swap) & 0x0fffffff;
	if (!linktype_known(pc->linktype)) {
		fprintf(stderr, "%s: %s: link type %" PRIu32 " not supported\n", progname, path,
		        pc->linktype);
		ret = -ENOTSUP;
		goto err_close;
	}
	pc->data = malloc(MAX_RECORD);
	if (!pc->data) {
		ret = -ENOMEM;
		goto err_close;
	}
	return 0;

err_close:
	fclose(pc->f);
	pc->f = NULL;
	return ret;
}

/* The next record into pc->data (pc->caplen bytes): 1, 0 at the end, or -EINVAL. */
static int pcap_next(struct pcap *pc)
{
	uint8_t rec[16];

	if (fread(rec, sizeof(rec), 1, pc->f) != 1)
		return 0;
	pc->caplen = get_u32(rec + 8, pc->swap);
	if (pc->caplen > MAX_RECORD) {
		fprintf(stderr, "%s: %s: record %lu claims %" PRIu32 " bytes, giving up\n",
		        progname, pc->path, pc->st.records + 1, pc->caplen);
		return -EINVAL;
	}
	if (fread(pc->data, 1, pc->caplen, pc->f) != pc->caplen) {
		/* tcpdump killed mid-write: what came before is still good. */
		fprintf(stderr, "%s: %s: record %lu cut short\n", progname, pc->path,
		        pc->st.records + 1);
		return 0;
	}
	pc->st.records++;
	return 1;
}

/* The UDP payload of the current record: 1 and *payload, *len, or 0 (counted). */
static int pcap_udp(struct pcap *pc, const uint8_t **payload, size_t *len)
{
	long off = link_ip_offset(pc->linktype, pc->data, pc->caplen, pc->swap);

	if (off < 0) {
		pc->st.not_udp++;
		return 0;
	}
	return ip_udp_payload(pc->data + off, pc->caplen - (size_t)off, &pc->st, payload, len);
}

static void pcap_report(const struct pcap *pc)
{
	fprintf(stderr,
	        "%s: %s: %lu records, link type %" PRIu32 ", skipped %lu not UDP, %lu fragments, "
	        "%lu truncated\n",
	        progname, pc->path, pc->st.records, pc->linktype, pc->st.not_udp, pc->st.fragments,
	        pc->st.truncated);
}

static void pcap_close(struct pcap *pc)
{
	free(pc->data);
	if (pc->f)
		fclose(pc->f);
}

static int run_replay(struct target *t, const char *path, unsigned long max,
                      unsigned long rounds)
{
	const uint8_t *payload;
	struct pcap pc;
	size_t len;
	int ret = 0;

	for (unsigned long r = 0; r < rounds && !ret && t->sent + t->errors < max &&
	                          !target_expired(t);
	     r++) {
		ret = pcap_open(&pc, path);
		if (ret)
			return ret;
		while (t->sent + t->errors < max && !target_expired(t) &&
		       (ret = pcap_next(&pc)) > 0)
			if (pcap_udp(&pc, &payload, &len))
				target_send(t, payload, len);
		if (ret >= 0) {
			if (r == 0)
				pcap_report(&pc);
			ret = 0;
		}
		pcap_close(&pc);
	}
	return ret;
}

struct payloads {
	uint8_t *data[MAX_PAYLOADS];
	size_t len[MAX_PAYLOADS];
	unsigned n;
};

static void payloads_free(struct payloads *pl)
{
	while (pl->n)
		free(pl->data[--pl->n]);
}

/* The UDP payloads of a capture that look like WireGuard messages (type 1..4). */
static int payloads_load(struct payloads *pl, const char *path)
{
	const uint8_t *payload;
	struct pcap pc;
	size_t len;
	int ret;

	ret = pcap_open(&pc, path);
	if (ret)
		return ret;
	while (pl->n < MAX_PAYLOADS && (ret = pcap_next(&pc)) > 0) {
		if (!pcap_udp(&pc, &payload, &len) || len < 4 || payload[0] < 1 || payload[0] > 4)
			continue;
		pl->data[pl->n] = malloc(len);
		if (!pl->data[pl->n]) {
			ret = -ENOMEM;
			break;
		}
		memcpy(pl->data[pl->n], payload, len);
		pl->len[pl->n++] = len;
	}
	if (ret >= 0)
		pcap_report(&pc);
	pcap_close(&pc);
	if (ret >= 0 && !pl->n) {
		fprintf(stderr, "%s: %s: no WireGuard message to mutate\n", progname, path);
		ret = -ENOENT;
	}
	return ret < 0 ? ret : 0;
}

/* A damaged copy of a real message in buf (max_len bytes); returns its length. */
static size_t mutate_make(uint8_t *buf, const struct payloads *pl)
{
	unsigned k = (unsigned)rng_below(pl->n);
	size_t len = pl->len[k], i;

	memcpy(buf, pl->data[k], len);
	switch (rng_below(5)) {
	case 0: /* truncated: anywhere, header included */
		return rng_below(len);
	case 1: /* a few bits flipped behind the type and the index, which stay valid */
		for (i = 1 + rng_below(4); i > 0 && len > 8; i--)
			buf[8 + rng_below(len - 8)] ^= (uint8_t)(1u << rng_below(8));
		return len;
	case 2: /* extended with random bytes, up to max_len */
		if (len < max_len) {
			size_t more = 1 + rng_below(max_len - len);

			rng_fill(buf + len, more);
			len += more;
		}
		return len;
	case 3: /* reserved bytes set */
		buf[1 + rng_below(3)] |= (uint8_t)(1 + rng_below(255));
		return len;
	default: /* the header and the receiver index kept, the rest random */
		if (len > 8)
			rng_fill(buf + 8, len - 8);
		return len;
	}
}

static int run_mutate(struct target *t, const char *path, unsigned long count)
{
	static uint8_t buf[MAX_OVERSIZED];
	static struct payloads pl;
	unsigned long i;
	int ret;

	ret = payloads_load(&pl, path);
	if (ret)
		goto out;
	fprintf(stderr, "%s: mutating %u captured messages\n", progname, pl.n);
	for (i = 0; i < count && !target_expired(t); i++)
		target_send(t, buf, mutate_make(buf, &pl));
out:
	payloads_free(&pl);
	return ret;
}

struct flood {
	struct cookie_maker makers[MAX_SOURCES];
	uint8_t mac1s[FLOOD_RING][COOKIE_LEN];
	uint32_t salt;
	unsigned long replies, cookies, bad_replies, with_mac2;
};

/* Reads what came back to each source.  A cookie reply names the sender index of the
 * initiation it answers; its mac1 (kept in a ring) is the reply's additional data. */
static void flood_read_replies(struct target *t, struct flood *fl, unsigned long sent, bool consume)
{
	struct message_handshake_cookie reply;
	unsigned long seq;
	unsigned s;
	ssize_t n;

	for (s = 0; s < t->nfds; s++) {
		while ((n = recv(t->fds[s], &reply, sizeof(reply), MSG_DONTWAIT | MSG_TRUNC)) >=
		       0) {
			if ((size_t)n != sizeof(reply) ||
			    le32toh(reply.header.type) != MESSAGE_HANDSHAKE_COOKIE) {
				fl->bad_replies++;
				continue;
			}
			fl->replies++;
			seq = le32toh(reply.receiver_index) ^ fl->salt;
			if (!consume || seq >= sent || sent - seq > FLOOD_RING)
				continue;
			memcpy(fl->makers[s].last_mac1_sent, fl->mac1s[seq % FLOOD_RING],
			       COOKIE_LEN);
			fl->makers[s].have_sent_mac1 = true;
			if (cookie_consume_reply(&fl->makers[s], &reply, now_ns()) == 0)
				fl->cookies++;
			else
				fl->bad_replies++;
		}
	}
}

static int run_flood(struct target *t, const char *pub_b64, unsigned long count, unsigned long rate,
                     bool consume)
{
	static const uint8_t zero[COOKIE_LEN];
	struct message_handshake_initiation msg;
	uint8_t victim[NOISE_PUBLIC_KEY_LEN];
	struct flood *fl;
	uint64_t start, now, due;
	unsigned long i;
	unsigned s;

	if (key_from_base64(victim, pub_b64)) {
		fprintf(stderr, "%s: %s: not a base64 public key\n", progname, pub_b64);
		return -EINVAL;
	}
	fl = calloc(1, sizeof(*fl));
	if (!fl)
		return -ENOMEM;
	for (s = 0; s < t->nfds; s++)
		cookie_maker_init(&fl->makers[s], victim);
	fl->salt = (uint32_t)rng_next();
	/* Pacing sleeps a millisecond at a time: make the kernel wake us on time. */
	prctl(PR_SET_TIMERSLACK, 1UL);
	start = now_ns();
	for (i = 0; i < count && !target_expired(t); i++) {
		s = (unsigned)(i % t->nfds);
		memset(&msg, 0, sizeof(msg));
		msg.header.type = htole32(MESSAGE_HANDSHAKE_INITIATION);
		msg.sender_index = htole32((uint32_t)i ^ fl->salt);
		rng_fill(msg.unencrypted_ephemeral, sizeof(msg.unencrypted_ephemeral));
		rng_fill(msg.encrypted_static, sizeof(msg.encrypted_static));
		rng_fill(msg.encrypted_timestamp, sizeof(msg.encrypted_timestamp));
		cookie_add_macs(&fl->makers[s], (uint8_t *)&msg, sizeof(msg), now_ns());
		memcpy(fl->mac1s[i % FLOOD_RING], msg.macs.mac1, COOKIE_LEN);
		if (memcmp(msg.macs.mac2, zero, COOKIE_LEN))
			fl->with_mac2++;
		target_send_from(t, s, (const uint8_t *)&msg, sizeof(msg));
		if (i % 32 == 31)
			flood_read_replies(t, fl, i + 1, consume);
		if (!rate)
			continue;
		due = start + (uint64_t)((i + 1) * (double)NSEC_PER_SEC / (double)rate);
		now = now_ns();
		if (due > now + NSEC_PER_MSEC)
			pause_us((unsigned long)((due - now) / 1000));
	}
	/* Stragglers: the victim answers a moment after the last initiation. */
	pause_us(100000);
	flood_read_replies(t, fl, i, consume);
	now = now_ns();
	fprintf(stderr,
	        "%s: flood: %lu initiations in %.2f s (%.0f/s) from %u sources, %lu with mac2; "
	        "cookie replies received %lu, cookies learned %lu, other replies %lu\n",
	        progname, t->sent, (double)(now - start) / NSEC_PER_SEC,
	        (double)t->sent * NSEC_PER_SEC / (double)(now - start + 1), t->nfds, fl->with_mac2,
	        fl->replies, fl->cookies, fl->bad_replies);
	explicit_bzero(fl, sizeof(*fl));
	free(fl);
	return 0;
}

struct hold_stats {
	unsigned long established, pending, failed, closed;
};

/* One connection attempt that does not wait: 0 established, 1 pending, -errno failed. */
static int hold_connect(const struct sockaddr_storage *ss, socklen_t len, int *fdp)
{
	int fd, type = SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC;

	*fdp = -1;
	fd = socket(ss->ss_family, type, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)ss, len) == 0) {
		*fdp = fd;
		return 0;
	}
	if (errno == EINPROGRESS) {
		*fdp = fd;
		return 1;
	}
	/* A full AF_UNIX backlog answers EAGAIN at once: the server is not accepting. */
	close(fd);
	return -errno;
}

/* Watches the connections until the deadline: a pending one that completes is established,
 * one the server closes (EOF, reset) is closed and counted once. */
static void hold_watch(struct pollfd *pfd, bool *up, unsigned long n, uint64_t deadline,
                       struct hold_stats *hs)
{
	char byte;

	while (!stopping && now_ns() < deadline) {
		if (poll(pfd, n, 100) < 0 && errno != EINTR)
			break;
		for (unsigned long i = 0; i < n; i++) {
			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			if (!up[i] && (pfd[i].revents & POLLOUT) &&
			    !(pfd[i].revents & (POLLERR | POLLHUP))) {
				up[i] = true;
				hs->pending--;
				hs->established++;
				pfd[i].events = POLLIN | POLLRDHUP;
				continue;
			}
			if ((pfd[i].revents & POLLIN) && recv(pfd[i].fd, &byte, 1, MSG_DONTWAIT) > 0)
				continue; /* a server that talks first: still open */
			if (up[i]) {
				hs->established--;
				hs->closed++;
			} else {
				hs->pending--;
				hs->failed++;
			}
			close(pfd[i].fd);
			pfd[i].fd = -1;
		}
	}
}

static int run_hold(int argc, char **argv, unsigned long seconds)
{
	struct sockaddr_storage ss = {0};
	struct hold_stats hs = {0};
	struct rlimit rl;
	unsigned long count, n = 0;
	struct pollfd *pfd;
	socklen_t len;
	const char *what;
	bool *up;
	int ret, fd;

	if (argc != 4 || !parse_ulong(argv[3], MAX_HOLD, &count) || !count)
		usage();
	if (!strcmp(argv[1], "unix")) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&ss;

		if (strlen(argv[2]) >= sizeof(sun->sun_path))
			usage();
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, argv[2]);
		len = sizeof(*sun);
	} else {
		unsigned long port;

		if (!parse_ulong(argv[2], 65535, &port) || !port)
			usage();
		ret = resolve(argv[1], argv[2], &ss, &len);
		if (ret)
			return ret;
	}
	what = argv[2];
	/* Room for every connection, whatever the shell's limit. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < count + 64) {
		rl.rlim_cur = count + 64;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			fprintf(stderr, "%s: hold: RLIMIT_NOFILE %lu: %s\n", progname, count + 64,
			        strerror(errno));
	}
	pfd = calloc(count, sizeof(*pfd));
	up = calloc(count, sizeof(*up));
	if (!pfd || !up) {
		free(pfd);
		free(up);
		return -ENOMEM;
	}
	for (unsigned long i = 0; i < count && !stopping; i++) {
		ret = hold_connect(&ss, len, &fd);
		if (ret < 0) {
			hs.failed++;
			continue;
		}
		pfd[n] = (struct pollfd){ .fd = fd, .events = ret ? POLLOUT : POLLIN | POLLRDHUP };
		up[n++] = ret == 0;
		if (ret)
			hs.pending++;
		else
			hs.established++;
	}
	fprintf(stderr, "%s: hold: %lu connections to %s opened\n", progname, n, what);
	hold_watch(pfd, up, n, now_ns() + (seconds ? seconds : MAX_SECONDS) * NSEC_PER_SEC, &hs);
	for (unsigned long i = 0; i < n; i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
	fprintf(stderr,
	        "%s: hold: %lu tried to %s: established %lu, pending %lu, refused or failed %lu, "
	        "closed by the server %lu\n",
	        progname, count, what, hs.established, hs.pending, hs.failed, hs.closed);
	free(pfd);
	free(up);
	return 0;
}

struct check_stats {
	unsigned long types[5]; /* by message type, 0 unused */
	unsigned long malformed, other_udp, marker;
	size_t largest;
};

static bool port_listed(const unsigned long *ports, unsigned nports, unsigned long port)
{
	unsigned i;

	for (i = 0; i < nports; i++)
		if (ports[i] == port)
			return true;
	return false;
}

/* Well-formed as WireGuard sends it: the type, zero reserved bytes and the type's size.
 * Transport messages are 32 bytes of header and tag around a packet padded to a multiple of
 * 16, but never past the MTU (whitepaper §5.4.6): 32 + 16n, or exactly 32 + MTU. */
static bool wg_well_formed(const uint8_t *p, size_t len, size_t mtu)
{
	if (len < 4 || p[1] || p[2] || p[3])
		return false;
	switch (p[0]) {
	case MSG_INITIATION:
		return len == SIZE_INITIATION;
	case MSG_RESPONSE:
		return len == SIZE_RESPONSE;
	case MSG_COOKIE:
		return len == SIZE_COOKIE;
	case MSG_TRANSPORT:
		return len >= SIZE_TRANSPORT_MIN && len <= SIZE_TRANSPORT_MIN + mtu &&
		       ((len - SIZE_TRANSPORT_MIN) % MESSAGE_PADDING_MULTIPLE == 0 ||
		        len == SIZE_TRANSPORT_MIN + mtu);
	default:
		return false;
	}
}

static int run_check(const char *path, const char *portlist, const char *marker, size_t mtu)
{
	unsigned long ports[8], sport, dport;
	struct check_stats cs = {0};
	const uint8_t *payload;
	size_t len, mlen = strlen(marker);
	unsigned nports = 0, shown = 0;
	char *copy, *tok, *save;
	const char *why;
	struct pcap pc;
	int ret;

	copy = strdup(portlist);
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (nports == 8 || !parse_ulong(tok, 65535, &ports[nports]) || !ports[nports]) {
			free(copy);
			usage();
		}
		nports++;
	}
	free(copy);
	if (!nports || !mlen)
		usage();
	ret = pcap_open(&pc, path);
	if (ret)
		return ret;
	while ((ret = pcap_next(&pc)) > 0) {
		why = NULL;
		if (pcap_udp(&pc, &payload, &len)) {
			sport = get_be16(payload - 8);
			dport = get_be16(payload - 6);
			if (!port_listed(ports, nports, sport) &&
			    !port_listed(ports, nports, dport)) {
				cs.other_udp++;
				why = "UDP neither to nor from the WireGuard ports";
			} else if (!wg_well_formed(payload, len, mtu)) {
				cs.malformed++;
				why = "UDP payload is not a well-formed WireGuard message";
			} else {
				cs.types[payload[0]]++;
				if (len > cs.largest)
					cs.largest = len;
			}
		}
		if (memmem(pc.data, pc.caplen, marker, mlen)) {
			cs.marker++;
			why = "carries the marker";
		}
		if (why && ++shown <= 5)
			fprintf(stderr, "%s: %s: record %lu: %s\n", progname, path, pc.st.records,
			        why);
	}
	if (ret == 0) {
		printf("check: records=%lu wireguard=%lu initiation=%lu response=%lu cookie=%lu "
		       "transport=%lu malformed=%lu other_udp=%lu fragments=%lu truncated=%lu "
		       "largest=%zu marker=%lu\n",
		       pc.st.records, cs.types[1] + cs.types[2] + cs.types[3] + cs.types[4],
		       cs.types[1], cs.types[2], cs.types[3], cs.types[4], cs.malformed,
		       cs.other_udp, pc.st.fragments, pc.st.truncated, cs.largest, cs.marker);
		/* A fragment or a cut record cannot be verified: that is a failure too. */
		if (cs.malformed || cs.other_udp || cs.marker || pc.st.fragments || pc.st.truncated)
			ret = 1;
	}
	pcap_close(&pc);
	return ret;
}

int main(int argc, char *argv[])
{
	struct target t = {.interval_us = 50};
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
		ret = run_check(argv[1], argv[2], argv[3], mtu);
		return ret < 0 ? 2 : ret;
	}
	if (!strcmp(argv[0], "hold")) {
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		return run_hold(argc, argv, seconds) ? 1 : 0;
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
		ret = run_garbage(&t, count);
	} else if (!strcmp(argv[0], "replay") && argc == 4) {
		ret = run_replay(&t, argv[3], max, rounds);
	} else if (!strcmp(argv[0], "mutate") && argc == 5) {
		if (!parse_ulong(argv[4], MAX_COUNT, &count))
			usage();
		fprintf(stderr, "%s: mutate, seed %lu (repeat with -s %lu)\n", progname, seed,
		        seed);
		ret = run_mutate(&t, argv[3], count);
	} else if (!strcmp(argv[0], "flood") && argc == 6) {
		if (!parse_ulong(argv[4], MAX_COUNT, &count) ||
		    !parse_ulong(argv[5], 10000000, &rate))
			usage();
		ret = run_flood(&t, argv[3], count, rate, consume);
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
