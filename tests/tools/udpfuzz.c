/*
 * udpfuzz: throws hostile UDP datagrams at a WireGuard port, for tests/netns.
 *
 *	udpfuzz [-s SEED] [-i USEC] garbage HOST PORT COUNT
 *	udpfuzz [-i USEC] [-n MAX] replay HOST PORT FILE.pcap
 *
 * garbage sends COUNT random datagrams.  Most are shaped like WireGuard messages (a type
 * byte 1..4, zero reserved bytes, the exact sizes 148/92/64 or a transport size >= 32), so
 * that they get past the first length and type checks and exercise the parsers behind them;
 * the rest are random lengths 0..1600, wrong sizes and non-zero reserved bytes.  The seed
 * is printed so that a failing run can be repeated.
 *
 * replay resends every UDP payload of a classic pcap file (as tcpdump -w writes it):
 * Ethernet, Linux cooked capture v1 (113, what tcpdump -i any gave) and v2 (276), raw IP and
 * BSD loopback link types; IPv4 and IPv6; fragments and truncated records are skipped.
 *
 * Both modes are bounded (COUNT and MAX at most 1000000) and only talk to the test ranges
 * (198.18.0.0/15, 100.64.0.0/10, fd00::/8, loopback): this tool must never aim elsewhere.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define MAX_COUNT 1000000UL
#define MAX_DATAGRAM 1600
#define MAX_RECORD 262144

/* WireGuard message types and the sizes of the fixed-size ones (messages.h has the layout). */
#define MSG_INITIATION 1
#define MSG_RESPONSE 2
#define MSG_COOKIE 3
#define MSG_TRANSPORT 4
#define SIZE_INITIATION 148
#define SIZE_RESPONSE 92
#define SIZE_COOKIE 64
#define SIZE_TRANSPORT_MIN 32

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
	int fd;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	unsigned long interval_us;
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

static const char *progname = "udpfuzz";

static void usage(void)
{
	fprintf(stderr,
	        "usage: %s [-s SEED] [-i USEC] garbage HOST PORT COUNT\n"
	        "       %s [-i USEC] [-n MAX] replay HOST PORT FILE.pcap\n"
	        "HOST must be in 198.18.0.0/15, 100.64.0.0/10, fd00::/8 or loopback; "
	        "COUNT and MAX at most %lu.\n",
	        progname, progname, MAX_COUNT);
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

static int target_open(struct target *t, const char *host, const char *port)
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
	memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
	t->addr_len = res->ai_addrlen;
	freeaddrinfo(res);
	if (!addr_allowed(&t->addr)) {
		fprintf(stderr, "%s: %s is outside the test ranges, refusing\n", progname, host);
		return -EPERM;
	}
	t->fd = socket(t->addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (t->fd < 0) {
		ret = -errno;
		fprintf(stderr, "%s: socket: %s\n", progname, strerror(errno));
		return ret;
	}
	return 0;
}

static void pause_us(unsigned long us)
{
	struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000};

	if (us)
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
}

/* A failed send is counted, not fatal: the receiver may be restarting, buffers may be full. */
static void target_send(struct target *t, const uint8_t *buf, size_t len)
{
	if (sendto(t->fd, buf, len, 0, (const struct sockaddr *)&t->addr, t->addr_len) < 0) {
		t->errors++;
		t->last_errno = errno;
	} else {
		t->sent++;
		t->bytes += len;
	}
	pause_us(t->interval_us);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* One garbage datagram in buf; returns its length. */
static size_t garbage_make(uint8_t *buf)
{
	static const size_t fixed[] = {SIZE_INITIATION, SIZE_RESPONSE, SIZE_COOKIE};
	size_t len;
	unsigned int type;

	switch (rng_below(10)) {
	case 0: /* anything at all */
	case 1:
		len = rng_below(MAX_DATAGRAM + 1);
		rng_fill(buf, len);
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
	uint8_t buf[MAX_DATAGRAM];
	unsigned long i;

	for (i = 0; i < count; i++)
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

/* Finds the UDP payload of an IPv4 or IPv6 packet; returns 1 and sets *payload and *len, 0 if
 * there is none (stats say why). */
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

static int run_replay(struct target *t, const char *path, unsigned long max)
{
	uint8_t hdr[24], rec[16];
	uint8_t *data = NULL;
	const uint8_t *payload;
	struct replay_stats st = {0};
	uint32_t magic, linktype, caplen;
	size_t len;
	long off;
	bool swap;
	FILE *f;
	int ret = 0;

	f = fopen(path, "rb");
	if (!f) {
		ret = -errno;
		fprintf(stderr, "%s: %s: %s\n", progname, path, strerror(errno));
		return ret;
	}
	if (fread(hdr, sizeof(hdr), 1, f) != 1) {
		fprintf(stderr, "%s: %s: shorter than a pcap header\n", progname, path);
		ret = -EINVAL;
		goto out_close;
	}
	memcpy(&magic, hdr, sizeof(magic));
	if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d) {
		swap = false;
	} else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1) {
		swap = true;
	} else {
		fprintf(stderr, "%s: %s: not a classic pcap file (magic %08" PRIx32 "%s)\n",
		        progname, path, magic, magic == 0x0a0d0d0a ? ", pcapng" : "");
		ret = -EINVAL;
		goto out_close;
	}
	/* The top bits of the link type field carry FCS information. */
	linktype = get_u32(hdr + 20, swap) & 0x0fffffff;
	if (!linktype_known(linktype)) {
		fprintf(stderr, "%s: %s: link type %" PRIu32 " not supported\n", progname, path,
		        linktype);
		ret = -ENOTSUP;
		goto out_close;
	}
	data = malloc(MAX_RECORD);
	if (!data) {
		ret = -ENOMEM;
		goto out_close;
	}
	while (t->sent + t->errors < max && fread(rec, sizeof(rec), 1, f) == 1) {
		caplen = get_u32(rec + 8, swap);
		if (caplen > MAX_RECORD) {
			fprintf(stderr, "%s: %s: record %lu claims %" PRIu32 " bytes, giving up\n",
			        progname, path, st.records + 1, caplen);
			ret = -EINVAL;
			goto out_free;
		}
		if (fread(data, 1, caplen, f) != caplen) {
			fprintf(stderr, "%s: %s: record %lu cut short\n", progname, path,
			        st.records + 1);
			break;
		}
		st.records++;
		off = link_ip_offset(linktype, data, caplen, swap);
		if (off < 0) {
			st.not_udp++;
			continue;
		}
		if (ip_udp_payload(data + off, caplen - (size_t)off, &st, &payload, &len))
			target_send(t, payload, len);
	}
	fprintf(stderr,
	        "%s: %s: %lu records, link type %" PRIu32 ", skipped %lu not UDP, %lu fragments, "
	        "%lu truncated\n",
	        progname, path, st.records, linktype, st.not_udp, st.fragments, st.truncated);
out_free:
	free(data);
out_close:
	fclose(f);
	return ret;
}

int main(int argc, char *argv[])
{
	struct target t = {.fd = -1, .interval_us = 50};
	unsigned long count, max = MAX_COUNT, seed = 0, port;
	bool seeded = false;
	char host[INET6_ADDRSTRLEN + 8];
	int opt, ret;

	while ((opt = getopt(argc, argv, "s:i:n:h")) != -1) {
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
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 4 || !parse_ulong(argv[2], 65535, &port) || port == 0)
		usage();
	if (target_open(&t, argv[1], argv[2]))
		return 1;

	if (!strcmp(argv[0], "garbage")) {
		if (!parse_ulong(argv[3], MAX_COUNT, &count))
			usage();
		if (!seeded)
			seed = (unsigned long)time(NULL) ^ (unsigned long)getpid() << 16;
		rng_state = seed;
		fprintf(stderr, "%s: garbage, seed %lu (repeat with -s %lu)\n", progname, seed,
		        seed);
		ret = run_garbage(&t, count);
	} else if (!strcmp(argv[0], "replay")) {
		ret = run_replay(&t, argv[3], max);
	} else {
		usage();
	}
	close(t.fd);
	if (ret)
		return 1;
	if (t.addr.ss_family == AF_INET6)
		snprintf(host, sizeof(host), "[%s]", argv[1]);
	else
		snprintf(host, sizeof(host), "%s", argv[1]);
	fprintf(stderr, "%s: sent %lu datagrams (%lu bytes) to %s:%lu, %lu send errors%s%s\n",
	        progname, t.sent, t.bytes, host, port, t.errors, t.errors ? ", last: " : "",
	        t.errors ? strerror(t.last_errno) : "");
	/* Nothing got out although something should have: the caller's test would be void. */
	return t.sent == 0 && t.errors > 0 ? 1 : 0;
}
