#define _GNU_SOURCE /* sendmmsg */
#include "udp.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

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

static unsigned enable_offload(int fd, unsigned want)
{
	unsigned got = 0;
	int one = 1;

	if (fd < 0)
		return 0;
	/* GSO needs nothing set up front: the first train tells whether the kernel takes it. */
	if (want & UDP_OFFLOAD_GSO)
		got |= UDP_OFFLOAD_GSO;
	if ((want & UDP_OFFLOAD_GRO) && !setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)))
		got |= UDP_OFFLOAD_GRO;
	return got;
}

int udp_open(struct udp *u, uint16_t port, unsigned offload)
{
	uint16_t p = port;
	int ret;

	u->fd4 = u->fd6 = -1;
	u->offload4 = u->offload6 = 0;
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
	u->offload4 = enable_offload(u->fd4, offload);
	u->offload6 = enable_offload(u->fd6, offload);
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

static int send_each(int fd, const union endpoint *to, const uint8_t *buf, size_t len,
		     size_t seglen, unsigned count)
{
	struct mmsghdr msgs[UDP_MAX_SEGMENTS];
	struct iovec iov[UDP_MAX_SEGMENTS];
	int sent;

	for (unsigned i = 0; i < count; i++) {
		iov[i].iov_base = (void *)(uintptr_t)(buf + i * seglen);
		iov[i].iov_len = i + 1 < count ? seglen : len - i * seglen;
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].msg_hdr.msg_name = (void *)(uintptr_t)&to->sa;
		msgs[i].msg_hdr.msg_namelen = addr_endpoint_len(to);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	sent = sendmmsg(fd, msgs, count, MSG_DONTWAIT);
	return sent < 0 ? -errno : sent;
}

int udp_send_train(struct udp *u, const union endpoint *to, const uint8_t *buf, size_t len,
		   size_t seglen, unsigned count)
{
	bool v4 = to->sa.sa_family == AF_INET;
	int fd = v4 ? u->fd4 : u->fd6;
	unsigned *offload = v4 ? &u->offload4 : &u->offload6;
	char control[CMSG_SPACE(sizeof(uint16_t))] = { 0 };
	struct iovec iov = { .iov_base = (void *)(uintptr_t)buf, .iov_len = len };
	struct msghdr msg = {
		.msg_name = (void *)(uintptr_t)&to->sa,
		.msg_namelen = addr_endpoint_len(to),
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};
	struct cmsghdr *cm;
	uint16_t gso = (uint16_t)seglen;

	if (fd < 0)
		return -EAFNOSUPPORT;
	if (count > UDP_MAX_SEGMENTS)
		return -EINVAL;
	if (count == 1 || !(*offload & UDP_OFFLOAD_GSO))
		return send_each(fd, to, buf, len, seglen, count);
	msg.msg_control = control;
	msg.msg_controllen = sizeof(control);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_UDP;
	cm->cmsg_type = UDP_SEGMENT;
	cm->cmsg_len = CMSG_LEN(sizeof(gso));
	memcpy(CMSG_DATA(cm), &gso, sizeof(gso));
	if (sendmsg(fd, &msg, MSG_DONTWAIT) >= 0)
		return (int)count;
	/* A train is never fragmented: on a path whose MTU is below its datagrams the kernel
	 * refuses it, while single datagrams still go (fragmented). That is about this one
	 * destination, not the socket: send this train singly and keep trains for the rest. */
	if (errno == EMSGSIZE)
		return send_each(fd, to, buf, len, seglen, count);
	/* EIO and friends: this route or device cannot segment. Stop asking, send singly. */
	if (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT || errno == EOPNOTSUPP) {
		log_notice("udp: the kernel refused UDP_SEGMENT (%s); sending datagrams one by "
			   "one on this socket",
			   strerror(errno));
		*offload &= ~UDP_OFFLOAD_GSO;
		return send_each(fd, to, buf, len, seglen, count);
	}
	return -errno;
}

ssize_t udp_recv(const struct udp *u, int fd, uint8_t *buf, size_t cap, union endpoint *src,
		 size_t *seglen)
{
	char control[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr msg = {
		.msg_name = &src->sa,
		.msg_namelen = sizeof(*src),
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control,
		.msg_controllen = sizeof(control),
	};
	struct cmsghdr *cm;
	ssize_t n;

	(void)u;
	n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0)
		return -errno;
	*seglen = (size_t)n;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
			int gso;

			memcpy(&gso, CMSG_DATA(cm), sizeof(gso));
			if (gso > 0)
				*seglen = (size_t)gso;
		}
	}
	return n;
}
