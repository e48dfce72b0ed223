/* The resolver, both ends of its socket pair: the resolver process (serve_*()) and the
 * daemon's calls to it (resolver_*(), its state in resolver_fd). See resolver.h. */
#define _GNU_SOURCE
#include "resolver.h"

#include <errno.h>
#include <grp.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "privdrop.h"
#include "sandbox.h"

#define RESOLVER_NAME "sealnetd-resolv" /* 15 characters, the most a comm holds */

#define MSG_ARM 'A'
#define MSG_RESOLVE 'R'

/* The drop, once, before any look-up: the daemon's user (or its uid 0 when there is no
 * switch), no capabilities, no-new-privs, not dumpable, and (Sandbox = on) its filter. */
struct arm_msg {
	char kind; /* MSG_ARM */
	bool sandbox;
	uint32_t uid, gid;
};

struct reply_msg {
	int32_t err;
	union endpoint ep;
};

/* One buffer for requests, in either process: MSG_RESOLVE host NUL port NUL. */
static char resolver_buf[1 + 256 + 8];

/* --- the resolver process ---------------------------------------------------------------- */

static int serve_drop(const struct arm_msg *a)
{
	gid_t gid = a->gid;
	int ret;

	ret = privdrop_caps_bound(0);
	if (ret)
		return ret;
	if (a->uid != getuid() &&
	    (setgroups(1, &gid) || setresgid(gid, gid, gid) || setresuid(a->uid, a->uid, a->uid)))
		return -errno;
	ret = privdrop_caps_set(0);
	if (ret)
		return ret;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		return -errno;
	return a->sandbox ? sandbox_resolver() : 0;
}

static void serve_reply(int fd, int err, const union endpoint *ep)
{
	struct reply_msg reply;

	memset(&reply, 0, sizeof(reply));
	reply.err = err;
	if (ep)
		reply.ep = *ep;
	send(fd, &reply, sizeof(reply), MSG_NOSIGNAL);
}

static void serve_loop(int fd)
{
	struct arm_msg arm;
	union endpoint ep;
	bool armed = false;
	const char *host = resolver_buf + 1, *port, *end;
	ssize_t n;
	int ret;

	for (;;) {
		n = recv(fd, resolver_buf, sizeof(resolver_buf) - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		end = resolver_buf + n;
		port = memchr(host, '\0', (size_t)(end - host));
		if (!armed && resolver_buf[0] == MSG_ARM && n == (ssize_t)sizeof(arm)) {
			memcpy(&arm, resolver_buf, sizeof(arm));
			ret = serve_drop(&arm);
			serve_reply(fd, ret, NULL);
			if (ret)
				break;
			armed = true;
		} else if (armed && resolver_buf[0] == MSG_RESOLVE && port && port + 1 < end &&
			   !end[-1]) {
			ret = addr_lookup(host, port + 1, &ep);
			serve_reply(fd, ret, ret ? NULL : &ep);
		} else {
			serve_reply(fd, -EPERM, NULL);
		}
	}
}

static void __attribute__((noreturn)) serve_main(int fd)
{
	serve_loop(fd);
	_exit(0);
}

/* --- the daemon's side ------------------------------------------------------------------- */

static int resolver_fd = -1; /* our end of the pair */

int resolver_start(void)
{
	return privdrop_spawn(RESOLVER_NAME, serve_main, &resolver_fd);
}

/* One request, one reply from the resolver; -EPIPE when it is gone. */
static int call(const void *req, size_t len, struct reply_msg *reply)
{
	ssize_t n;

	if (resolver_fd < 0)
		return -EPIPE;
	if (send(resolver_fd, req, len, MSG_NOSIGNAL) != (ssize_t)len)
		return -EPIPE;
	do
		n = recv(resolver_fd, reply, sizeof(*reply), 0);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(*reply) ? 0 : -EPIPE;
}

int resolver_lookup(const char *host, const char *port, union endpoint *out)
{
	struct reply_msg reply;
	size_t hlen = strlen(host) + 1, plen = strlen(port) + 1;

	if (1 + hlen + plen > sizeof(resolver_buf))
		return -EHOSTUNREACH;
	resolver_buf[0] = MSG_RESOLVE;
	memcpy(resolver_buf + 1, host, hlen);
	memcpy(resolver_buf + 1 + hlen, port, plen);
	if (call(resolver_buf, 1 + hlen + plen, &reply)) {
		log_err("%s: %s: the resolver process is gone: no host name can be looked up "
			"until a restart",
			__func__, host);
		return -EHOSTUNREACH;
	}
	if (reply.err)
		return -EHOSTUNREACH;
	*out = reply.ep;
	return 0;
}

int resolver_arm(uid_t uid, gid_t gid, bool sandbox)
{
	struct arm_msg arm;
	struct reply_msg reply;
	int ret;

	memset(&arm, 0, sizeof(arm)); /* the padding too: it goes to another process */
	arm.kind = MSG_ARM;
	arm.sandbox = sandbox;
	arm.uid = uid;
	arm.gid = gid;

	ret = call(&arm, sizeof(arm), &reply);
	return ret ? ret : reply.err;
}
