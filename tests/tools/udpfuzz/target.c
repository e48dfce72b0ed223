/*
 * target: where the datagrams go.  HOST and every -B ADDR are numeric and in the test ranges
 * (198.18.0.0/15, 100.64.0.0/10, fd00::/8, loopback); sends are paced by -i and end at -t.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "udpfuzz.h"

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

int resolve(const char *host, const char *port, struct sockaddr_storage *ss, socklen_t *len)
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

int target_open(struct target *t, const char *host, const char *port, char **srcs, unsigned nsrcs,
		const char *srcport)
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

void target_close(struct target *t)
{
	while (t->nfds)
		close(t->fds[--t->nfds]);
}

bool target_expired(const struct target *t)
{
	return stopping || (t->deadline_ns && now_ns() >= t->deadline_ns);
}

void pause_us(unsigned long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000 };

	if (us)
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !stopping)
			;
}

/* A failed send is counted, not fatal: the receiver may be restarting, buffers may be full. */
void target_send_from(struct target *t, unsigned src, const uint8_t *buf, size_t len)
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
void target_send(struct target *t, const uint8_t *buf, size_t len)
{
	target_send_from(t, t->next, buf, len);
	t->next = (t->next + 1) % t->nfds;
	pause_us(t->interval_us);
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}
