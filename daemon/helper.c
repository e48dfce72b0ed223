/* The root helper, both ends of its socket pair: the helper process (serve_*(), its state in
 * `served`) and the daemon's calls to it (helper_*(), its state in helper_fd). The protocol is
 * described in helper.h; why the helper exists, in privdrop.h and docs/privileges.md. */
#define _GNU_SOURCE
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netlink.h"
#include "privdrop.h"
#include "sandbox.h"

#define HELPER_NAME "sealnetd-helper" /* 15 characters, the most a comm holds */

/* What the helper keeps: CAP_NET_ADMIN, for the daemon's interface and SO_MARK; uid 0 stays
 * too, since it is what owns /etc/sealnet and /run. */
#define HELPER_CAPS (1ull << CAP_NET_ADMIN)

#define MSG_ARM 'A'
#define MSG_OPEN 'C'
#define MSG_NET_ARM 'N'
#define MSG_NETLINK 'L'
#define MSG_MARK 'M'
#define MSG_KEY_NAME 'K' /* before the drop: a key file the config names */
#define MSG_KEY_OPEN 'k' /* after it: open one of those files, by its path */
#define MSG_MAX (1 + (PRIVDROP_MAX_REMOVE + 1) * PATH_MAX)

/* --- the helper process ------------------------------------------------------------------ */

struct served_file {
	char path[PATH_MAX];
	dev_t dev;
	ino_t ino;
};

/* The helper's state. Static: nothing in the helper allocates once its filter is on. */
static struct {
	char buf[MSG_MAX + 1]; /* the request being served */
	bool armed;            /* 'A' taken: opens allowed, files removed at the end */
	char config[PATH_MAX];
	/* PrivateKeyFile, PresharedKeyFile: the daemon names each key file while it is still
	 * root (whatever it names then, it could read itself), and after the drop the helper
	 * opens those files only, as it opens the config: as uid 0 without capabilities. A
	 * reload that names another key file is refused (-EPERM), as one of another config
	 * file would be. Their paths one after another, each with its NUL. */
	char keys[HELPER_KEY_PATHS_MAX];
	size_t keys_used;
	struct served_file files[PRIVDROP_MAX_REMOVE];
	size_t n_files;
	/* The network part: the rtnetlink socket is opened at the helper's start, before its
	 * filter, which allows no socket(). */
	bool net_armed;
	int ifindex;
	struct netlink *nl; /* NULL if it could not be opened: every 'L' fails */
} served;

/* One message of len bytes on sock, with fd (if not -1) as SCM_RIGHTS: both ends send so.
 * Returns 0 or -errno. */
static int send_with_fd(int sock, const void *buf, size_t len, int fd)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	memset(&control, 0, sizeof(control));
	if (fd >= 0) {
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -errno;
}

static int send_reply(int fd, int err, int passfd)
{
	int32_t e = err;

	return send_with_fd(fd, &e, sizeof(e), passfd);
}

/* buf[0..len): config-path NUL path NUL ... */
static int serve_arm(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	struct served_file *f;
	struct stat st;
	size_t i = 0;

	if (!len || end[-1])
		return -EINVAL;
	for (; p < end; p += strlen(p) + 1, i++) {
		if (strlen(p) >= PATH_MAX || i > PRIVDROP_MAX_REMOVE)
			return -EINVAL;
		if (i == 0) {
			strcpy(served.config, p);
			continue;
		}
		/* A file that is not there now is not ours to remove later. */
		if (!*p || lstat(p, &st))
			continue;
		f = &served.files[served.n_files++];
		strcpy(f->path, p);
		f->dev = st.st_dev;
		f->ino = st.st_ino;
	}
	return 0;
}

static int serve_open(const char *path)
{
	int fd;

	if (!*path)
		return -ENOENT;
	/* Non-blocking so that a FIFO without a writer cannot hang us; reads of the file
	 * itself are the daemon's. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fcntl(fd, F_SETFL, 0)) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* Answers with the descriptor of path, opened, or the error. */
static void serve_open_reply(int fd, const char *path)
{
	int ret = serve_open(path);

	send_reply(fd, ret < 0 ? -ret : 0, ret);
	if (ret >= 0)
		close(ret);
}

static int serve_net_arm(const char *buf, size_t len)
{
	int32_t ifindex;

	if (len != sizeof(ifindex))
		return -EINVAL;
	memcpy(&ifindex, buf, sizeof(ifindex));
	if (ifindex < 0)
		return -EINVAL;
	served.ifindex = ifindex;
	served.net_armed = true;
	return 0;
}

/* 1 to NETLINK_BATCH_MAX requests, refused whole if any is refused; answered with the
 * batch's errno and, once parsed, one errno per request. */
static void serve_netlink(int fd, const char *buf, size_t len)
{
	struct netlink_req reqs[NETLINK_BATCH_MAX];
	int results[NETLINK_BATCH_MAX];
	int32_t answer[1 + NETLINK_BATCH_MAX];
	int n, ret;

	n = netlink_batch_parse(buf, len, served.ifindex, reqs);
	if (n < 0) {
		send_reply(fd, -n, -1);
		return;
	}
	if (served.nl) {
		ret = netlink_batch_run(served.nl, reqs, (size_t)n, results);
	} else {
		ret = -ENETDOWN;
		for (int i = 0; i < n; i++)
			results[i] = ret;
	}
	answer[0] = -ret;
	for (int i = 0; i < n; i++)
		answer[1 + i] = -results[i];
	send_with_fd(fd, answer, (1 + (size_t)n) * sizeof(answer[0]), -1);
}

static int sockopt_int(int sock, int name, int *value)
{
	socklen_t len = sizeof(*value);

	if (getsockopt(sock, SOL_SOCKET, name, value, &len))
		return -errno;
	return len == sizeof(*value) ? 0 : -EINVAL;
}

/* The daemon's UDP sockets only: a mark on another kind (raw, netlink, TCP) is no FwMark. */
static int serve_mark(const char *buf, size_t len, int sock)
{
	int domain, type, protocol;
	uint32_t mark;

	if (len != sizeof(mark) || sock < 0)
		return -EINVAL;
	memcpy(&mark, buf, sizeof(mark));
	if (sockopt_int(sock, SO_DOMAIN, &domain) || sockopt_int(sock, SO_TYPE, &type) ||
	    sockopt_int(sock, SO_PROTOCOL, &protocol))
		return -ENOTSOCK;
	if ((domain != AF_INET && domain != AF_INET6) || type != SOCK_DGRAM ||
	    protocol != IPPROTO_UDP)
		return -EPERM;
	if (setsockopt(sock, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)))
		return -errno;
	return 0;
}

/* One message into buf, and in *passfd the descriptor that came with it (-1 if none; any
 * beyond the first are closed): both ends receive so. Returns its length, 0 when the other
 * end is closed, or -errno. */
static ssize_t recv_with_fd(int fd, void *buf, size_t size, int *passfd)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = control.buf,
			      .msg_controllen = sizeof(control.buf) };
	struct cmsghdr *c;
	ssize_t n;

	*passfd = -1;
	do
		n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int got;

			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*passfd < 0)
				*passfd = got;
			else
				close(got);
		}
	}
	return n;
}

/* Whether path is one of the key files named before the drop. */
static bool key_named(const char *path)
{
	for (size_t off = 0; off < served.keys_used; off += strlen(served.keys + off) + 1)
		if (!strcmp(served.keys + off, path))
			return true;
	return false;
}

static void serve_key(int fd, size_t n)
{
	char *buf = served.buf;
	const char *path = buf + 1;

	buf[n] = '\0';
	if (n < 2 || strlen(path) != n - 1 || n - 1 >= PATH_MAX) {
		send_reply(fd, EPERM, -1);
	} else if (buf[0] == MSG_KEY_NAME && !served.armed) {
		if (key_named(path)) {
			send_reply(fd, 0, -1);
		} else if (n > sizeof(served.keys) - served.keys_used) {
			send_reply(fd, ENOSPC, -1);
		} else {
			memcpy(served.keys + served.keys_used, path, n);
			served.keys_used += n;
			send_reply(fd, 0, -1);
		}
	} else if (buf[0] == MSG_KEY_OPEN && served.armed && key_named(path)) {
		serve_open_reply(fd, path);
	} else {
		send_reply(fd, EPERM, -1);
	}
}

/* One request of n bytes in served.buf, with passfd (-1: none); answers it. */
static void serve_request(int fd, size_t n, int passfd)
{
	const char *buf = served.buf;
	int ret;

	if (buf[0] == MSG_NET_ARM && !served.armed && !served.net_armed) {
		send_reply(fd, -serve_net_arm(buf + 1, n - 1), -1);
	} else if (buf[0] == MSG_NETLINK && served.net_armed) {
		serve_netlink(fd, buf + 1, n - 1);
	} else if (buf[0] == MSG_MARK && served.net_armed) {
		send_reply(fd, -serve_mark(buf + 1, n - 1, passfd), -1);
	} else if (buf[0] == MSG_ARM && !served.armed) {
		ret = serve_arm(buf + 1, n - 1);
		served.armed = ret == 0;
		if (!served.armed)
			served.n_files = 0;
		send_reply(fd, -ret, -1);
	} else if (buf[0] == MSG_KEY_NAME || buf[0] == MSG_KEY_OPEN) {
		serve_key(fd, n);
	} else if (buf[0] == MSG_OPEN && served.armed && n == 1) {
		serve_open_reply(fd, served.config);
	} else {
		send_reply(fd, EPERM, -1);
	}
}

static void serve_loop(int fd)
{
	struct served_file *f;
	struct stat st;
	ssize_t n;
	int passfd;

	for (;;) {
		n = recv_with_fd(fd, served.buf, sizeof(served.buf) - 1, &passfd);
		if (n <= 0)
			break;
		serve_request(fd, (size_t)n, passfd);
		if (passfd >= 0)
			close(passfd);
	}
	for (size_t i = 0; served.armed && i < served.n_files; i++) {
		f = &served.files[i];
		if (!lstat(f->path, &st) && st.st_dev == f->dev && st.st_ino == f->ino)
			unlink(f->path);
	}
}

static void __attribute__((noreturn)) serve_main(int fd)
{
	/* Before the filter, which allows no socket(); if it fails, netlink requests do. */
	if (netlink_open(&served.nl))
		served.nl = NULL;
	if (privdrop_caps_bound(HELPER_CAPS) || privdrop_caps_set(HELPER_CAPS) ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) ||
	    sandbox_helper())
		_exit(1);
	serve_loop(fd);
	_exit(0);
}

/* --- the daemon's side ------------------------------------------------------------------- */

static int helper_fd = -1; /* our end of the pair, -1 without a helper */

int helper_start(void)
{
	return privdrop_spawn(HELPER_NAME, serve_main, &helper_fd);
}

void helper_dismiss(void)
{
	if (helper_fd >= 0)
		close(helper_fd);
	helper_fd = -1;
}

/* Sends req, with sendfd (if not -1) as SCM_RIGHTS. */
static int call_send(const void *req, size_t len, int sendfd)
{
	int ret = send_with_fd(helper_fd, req, len, sendfd);

	return ret == -ECONNRESET ? -EPIPE : ret;
}

/* One request (with sendfd, -1 for none), one answer; *passfd gets a descriptor if one came.
 * Returns the helper's answer (0 or -errno), or -EPIPE when the helper is gone. */
static int call_fd(const void *req, size_t len, int sendfd, int *passfd)
{
	int32_t e;
	ssize_t n;
	int ret, got;

	if (passfd)
		*passfd = -1;
	if (helper_fd < 0)
		return -EPIPE;
	ret = call_send(req, len, sendfd);
	if (ret)
		return ret;
	n = recv_with_fd(helper_fd, &e, sizeof(e), &got);
	if (n < 0)
		return n == -ECONNRESET ? -EPIPE : (int)n;
	if (n != (ssize_t)sizeof(e)) {
		if (got >= 0)
			close(got);
		return -EPIPE;
	}
	if (passfd && !e)
		*passfd = got;
	else if (got >= 0)
		close(got);
	if (passfd && !e && *passfd < 0)
		return -EPROTO;
	return -e;
}

static int call(const void *req, size_t len, int *passfd)
{
	return call_fd(req, len, -1, passfd);
}

/* A one-byte request answered with a descriptor. */
static int call_open(char kind)
{
	int fd, ret;

	ret = call(&kind, 1, &fd);
	return ret ? ret : fd;
}

static int arm_net(int ifindex)
{
	char msg[1 + sizeof(int32_t)];
	int32_t i = ifindex > 0 ? ifindex : 0;

	msg[0] = MSG_NET_ARM;
	memcpy(msg + 1, &i, sizeof(i));
	return call(msg, sizeof(msg), NULL);
}

/* Appends s and its NUL to msg at *len, if it fits in a path. */
static int arm_append(char *msg, size_t *len, const char *s)
{
	size_t n = strlen(s) + 1;

	if (n > PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(msg + *len, s, n);
	*len += n;
	return 0;
}

int helper_arm(int ifindex, const char *config, const char *const *remove)
{
	static char msg[MSG_MAX];
	size_t len = 1;
	int ret;

	/* 'N' first: the helper takes it only before 'A'. */
	ret = arm_net(ifindex);
	if (ret)
		return ret;
	msg[0] = MSG_ARM;
	ret = arm_append(msg, &len, config);
	for (size_t i = 0; !ret && i < PRIVDROP_MAX_REMOVE; i++)
		ret = arm_append(msg, &len, remove[i] ? remove[i] : "");
	return ret ? ret : call(msg, len, NULL);
}

int helper_name_key(const char *path)
{
	char msg[1 + PATH_MAX];
	size_t len = strlen(path);

	if (helper_fd < 0)
		return 0;
	if (len >= PATH_MAX)
		return -ENAMETOOLONG;
	msg[0] = MSG_KEY_NAME;
	memcpy(msg + 1, path, len);
	return call(msg, 1 + len, NULL);
}

int helper_open_config(void)
{
	return call_open(MSG_OPEN);
}

int helper_open_key(const char *path)
{
	char msg[1 + PATH_MAX];
	size_t len = strlen(path);
	int fd, ret;

	if (len >= PATH_MAX)
		return -ENAMETOOLONG;
	msg[0] = MSG_KEY_OPEN;
	memcpy(msg + 1, path, len);
	ret = call(msg, 1 + len, &fd);
	return ret ? ret : fd;
}

int helper_set_mark(int fd, uint32_t mark)
{
	char msg[1 + sizeof(mark)];

	msg[0] = MSG_MARK;
	memcpy(msg + 1, &mark, sizeof(mark));
	return call_fd(msg, sizeof(msg), fd, NULL);
}

int helper_netlink(const struct netlink_req *reqs, size_t n, int *results)
{
	char msg[1 + NETLINK_BATCH_MAX * sizeof(*reqs)];
	int32_t answer[1 + NETLINK_BATCH_MAX];
	ssize_t got;
	int ret = -EINVAL, fd;

	if (!n || n > NETLINK_BATCH_MAX)
		goto fail;
	msg[0] = MSG_NETLINK;
	memcpy(msg + 1, reqs, n * sizeof(*reqs));
	ret = helper_fd < 0 ? -EPIPE : call_send(msg, 1 + n * sizeof(*reqs), -1);
	if (ret)
		goto fail;
	got = recv_with_fd(helper_fd, answer, sizeof(answer), &fd);
	if (fd >= 0)
		close(fd);
	/* The batch refused (4 bytes), or its errno and one per request; anything else is a
	 * helper we no longer understand, as good as gone. */
	if (got == (ssize_t)sizeof(answer[0]) && answer[0]) {
		ret = -answer[0];
	} else if (got == (ssize_t)((1 + n) * sizeof(answer[0]))) {
		for (size_t i = 0; i < n; i++)
			results[i] = -answer[1 + i];
		return -answer[0];
	} else {
		ret = got < 0 && got != -ECONNRESET ? (int)got : -EPIPE;
	}
fail:
	for (size_t i = 0; i < n; i++)
		results[i] = ret;
	return ret;
}
