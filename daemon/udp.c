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
#include "privdrop.h"

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
	/* The address each datagram was sent to, so replies can leave from it (udp_src). An
	 * old kernel without it only loses that. */
	if (family == AF_INET ? setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one))
			      : setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)))
		log_notice("udp: IPv%c: no destination addresses (%s): replies leave from the "
			   "address routing picks",
			   family == AF_INET ? '4' : '6', strerror(errno));
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
	int fds[2] = { u->fd4, u->fd6 }, ret;

	/* After the drop SO_MARK needs CAP_NET_ADMIN, which only the helper keeps. */
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0 && (ret = privdrop_set_mark(fds[i], mark)))
			return ret;
	return 0;
}

/* Room for what a send says besides the data: where from, and the size of a train's
 * datagrams. A union, so the buffer is aligned for struct cmsghdr. */
union send_control {
	char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(uint16_t))];
	struct cmsghdr align;
};

static bool has_src(const union endpoint *to, const struct udp_src *src)
{
	return src && src->addr.family && src->addr.family == to->sa.sa_family;
}

/* Writes the source of the datagram to to as a control message at cm. Returns its size. */
static size_t put_src(struct cmsghdr *cm, const union endpoint *to, const struct udp_src *src)
{
	/* msg_controllen covers the padding behind the data: zeroed too (valgrind checks). */
	memset(cm, 0, CMSG_SPACE(sizeof(struct in6_pktinfo)));
	if (to->sa.sa_family == AF_INET) {
		struct in_pktinfo pi = { .ipi_ifindex = src->ifindex,
					 .ipi_spec_dst = src->addr.v4 };

		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	} else {
		struct in6_pktinfo pi = { .ipi6_addr = src->addr.v6 };

		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	}
}

/* What the kernel answers to a source it will not send from: an address no longer ours
 * (EINVAL, EADDRNOTAVAIL, or ENETUNREACH from the IPv4 route lookup), or an interface gone
 * (ENODEV) or down (ENETUNREACH). */
static bool src_refused(int err)
{
	return err == EINVAL || err == EADDRNOTAVAIL || err == ENETUNREACH || err == ENODEV;
}

/* As WireGuard: a source the kernel refuses is forgotten, and the kernel picks one. */
static void src_forget(struct udp_src *src)
{
	memset(src, 0, sizeof(*src));
}

/* One datagram (or GSO train) of len bytes to `to`, with room for control messages. */
static void msg_to(struct msghdr *msg, struct iovec *iov, const union endpoint *to, const void *buf,
		   size_t len, union send_control *control)
{
	iov->iov_base = (void *)(uintptr_t)buf;
	iov->iov_len = len;
	memset(msg, 0, sizeof(*msg));
	msg->msg_name = (void *)(uintptr_t)&to->sa;
	msg->msg_namelen = addr_endpoint_len(to);
	msg->msg_iov = iov;
	msg->msg_iovlen = 1;
	msg->msg_control = control->buf;
}

int udp_send(const struct udp *u, const union endpoint *to, struct udp_src *src, const void *buf,
	     size_t len)
{
	int fd = to->sa.sa_family == AF_INET ? u->fd4 : u->fd6;
	union send_control control;
	struct iovec iov;
	struct msghdr msg;

	msg_to(&msg, &iov, to, buf, len, &control);
	if (fd < 0)
		return -EAFNOSUPPORT;
	if (has_src(to, src)) {
		msg.msg_controllen = put_src(&control.align, to, src);
		if (sendmsg(fd, &msg, MSG_DONTWAIT) >= 0)
			return 0;
		if (!src_refused(errno))
			return -errno;
		src_forget(src);
	}
	if (sendto(fd, buf, len, MSG_DONTWAIT, &to->sa, addr_endpoint_len(to)) < 0)
		return -errno;
	return 0;
}

/* control/controllen: what every datagram carries (its source), or NULL/0. */
static int send_each(int fd, const union endpoint *to, void *control, size_t controllen,
		     const uint8_t *buf, size_t len, size_t seglen, unsigned count)
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
		/* The kernel only reads it: one copy serves every datagram. */
		msgs[i].msg_hdr.msg_control = control;
		msgs[i].msg_hdr.msg_controllen = controllen;
	}
	sent = sendmmsg(fd, msgs, count, MSG_DONTWAIT);
	return sent < 0 ? -errno : sent;
}

int udp_send_train(struct udp *u, const union endpoint *to, struct udp_src *src, const uint8_t *buf,
		   size_t len, size_t seglen, unsigned count)
{
	bool v4 = to->sa.sa_family == AF_INET;
	int fd = v4 ? u->fd4 : u->fd6;
	unsigned *offload = v4 ? &u->offload4 : &u->offload6;
	union send_control control;
	struct iovec iov;
	struct msghdr msg;
	/* The source (if any) comes first, so send_each() can pass it on alone. */
	void *srcctl = NULL;
	size_t srclen = 0;
	struct cmsghdr *cm;
	uint16_t gso = (uint16_t)seglen;
	int ret;

	if (fd < 0)
		return -EAFNOSUPPORT;
	if (count > UDP_MAX_SEGMENTS)
		return -EINVAL;
	msg_to(&msg, &iov, to, buf, len, &control);
	if (has_src(to, src)) {
		srcctl = control.buf;
		srclen = put_src(&control.align, to, src);
	}
	if (count == 1 || !(*offload & UDP_OFFLOAD_GSO)) {
		ret = send_each(fd, to, srcctl, srclen, buf, len, seglen, count);
		if (ret < 0 && srclen && src_refused(-ret))
			goto forget_src;
		return ret;
	}
	cm = (struct cmsghdr *)(control.buf + srclen);
	memset(cm, 0, CMSG_SPACE(sizeof(gso)));
	cm->cmsg_level = SOL_UDP;
	cm->cmsg_type = UDP_SEGMENT;
	cm->cmsg_len = CMSG_LEN(sizeof(gso));
	memcpy(CMSG_DATA(cm), &gso, sizeof(gso));
	msg.msg_controllen = srclen + CMSG_SPACE(sizeof(gso));
	if (sendmsg(fd, &msg, MSG_DONTWAIT) >= 0)
		return (int)count;
	/* The kernel checks the source before it looks at the segments, so this comes before
	 * the fallbacks below read EINVAL as "cannot segment". Should that EINVAL be about the
	 * segments after all, the retry without a source says so, and the source is learnt
	 * again from the peer's next datagram. */
	if (srclen && src_refused(errno))
		goto forget_src;
	/* A train is never fragmented: on a path whose MTU is below its datagrams the kernel
	 * refuses it, while single datagrams still go (fragmented). That is about this one
	 * destination, not the socket: send this train singly and keep trains for the rest. */
	if (errno == EMSGSIZE)
		return send_each(fd, to, srcctl, srclen, buf, len, seglen, count);
	/* EIO and friends: this route or device cannot segment. Stop asking, send singly. */
	if (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT || errno == EOPNOTSUPP) {
		log_notice("udp: the kernel refused UDP_SEGMENT (%s); sending datagrams one by "
			   "one on this socket",
			   strerror(errno));
		*offload &= ~UDP_OFFLOAD_GSO;
		return send_each(fd, to, srcctl, srclen, buf, len, seglen, count);
	}
	return -errno;
forget_src:
	src_forget(src);
	return udp_send_train(u, to, src, buf, len, seglen, count);
}

ssize_t udp_recv(const struct udp *u, int fd, uint8_t *buf, size_t cap, union endpoint *from,
		 struct udp_src *to, size_t *seglen)
{
	/* A train's size and the address it was sent to; on the stack, nothing allocated. */
	union {
		char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr msg = {
		.msg_name = &from->sa,
		.msg_namelen = sizeof(*from),
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *cm;
	ssize_t n;

	(void)u;
	n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0)
		return -errno;
	*seglen = (size_t)n;
	memset(to, 0, sizeof(*to));
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
			int gso;

			memcpy(&gso, CMSG_DATA(cm), sizeof(gso));
			if (gso > 0)
				*seglen = (size_t)gso;
		} else if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			/* ipi_spec_dst: the header's destination when that is one of our
			 * unicast addresses, else the address routing would answer from. */
			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			to->addr.family = AF_INET;
			to->addr.v4 = pi.ipi_spec_dst;
			to->ifindex = pi.ipi_ifindex;
		} else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			to->addr.family = AF_INET6;
			to->addr.v6 = pi.ipi6_addr;
		}
	}
	return n;
}
