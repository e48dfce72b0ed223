#include "udp.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

static int open_one(int family, uint16_t *port)
{
	union endpoint addr = { 0 };
	socklen_t len;
	int fd, one = 1, ret;
	int bufsz = 4 << 20;

	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)))
		goto fail;
	/* Bigger buffers ride out bursts; failure only costs drops under load. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	if (family == AF_INET) {
		addr.in4.sin_family = AF_INET;
		addr.in4.sin_port = htons(*port);
		len = sizeof(addr.in4);
	} else {
		addr.in6.sin6_family = AF_INET6;
		addr.in6.sin6_port = htons(*port);
		len = sizeof(addr.in6);
	}
	if (bind(fd, &addr.sa, len))
		goto fail;
	if (getsockname(fd, &addr.sa, &len))
		goto fail;
	*port = ntohs(family == AF_INET ? addr.in4.sin_port : addr.in6.sin6_port);
	return fd;
fail:
	ret = -errno;
	close(fd);
	return ret;
}

int udp_open(struct udp *u, uint16_t port)
{
	uint16_t p = port;
	int ret;

	u->fd4 = u->fd6 = -1;
	ret = open_one(AF_INET, &p);
	if (ret < 0 && ret != -EAFNOSUPPORT)
		return ret;
	u->fd4 = ret;
	/* The IPv6 socket takes the port IPv4 got, so both families share one port. */
	ret = open_one(AF_INET6, &p);
	if (ret < 0) {
		if (u->fd4 < 0)
			return ret;
		log_notice("udp: no IPv6 socket on port %u: %s", p, strerror(-ret));
	} else {
		u->fd6 = ret;
	}
	u->port = p;
	return 0;
}

void udp_close(struct udp *u)
{
	if (u->fd4 >= 0)
		close(u->fd4);
	if (u->fd6 >= 0)
		close(u->fd6);
	u->fd4 = u->fd6 = -1;
}

int udp_set_mark(const struct udp *u, uint32_t mark)
{
	int fds[2] = { u->fd4, u->fd6 };

	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0 && setsockopt(fds[i], SOL_SOCKET, SO_MARK, &mark, sizeof(mark)))
			return -errno;
	return 0;
}

int udp_send(const struct udp *u, const union endpoint *to, const void *buf, size_t len)
{
	int fd = to->sa.sa_family == AF_INET ? u->fd4 : u->fd6;

	if (fd < 0)
		return -EAFNOSUPPORT;
	if (sendto(fd, buf, len, MSG_DONTWAIT, &to->sa, addr_endpoint_len(to)) < 0)
		return -errno;
	return 0;
}
