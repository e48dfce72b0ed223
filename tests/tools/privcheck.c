/*
 * privcheck: drops privileges as sealnetd does, with its own privdrop_apply(), then makes one
 * call the running daemon must not be able to make, for tests/netns/40.
 *
 *	privcheck open MODE PATH     MODE: read, write, rdwr, append, trunc, creat
 *	privcheck net USER TUN OTHER
 *	privcheck sanitizer          exit 0 in a sanitizer build, 1 otherwise
 *
 * The drop is User = the caller (root, for the tests): no switch and no helper, so what a
 * daemon with User = root keeps, CAP_NET_ADMIN and the seccomp filter, is all that stands
 * between it and every root-owned file. open prints "opened" and exits 0 if the call
 * worked, prints the error and exits 1 if it failed; a call the filter forbids kills the
 * process with SIGSYS (status 159 in a shell). A sanitizer build's filter lets files be
 * created (its runtime writes its report to one), so the write checks do not apply there.
 * Bad arguments exit 2, a failed drop 3.
 *
 * net drops as a daemon with User = USER does (a switch, so the helper does the network part),
 * the helper armed with TUN's ifindex (any interface standing for the daemon's TUN), then
 * asks through the ordinary netlink.h calls for what a daemon taken over might: MTU, link
 * state, an address and a route on TUN and on OTHER, routes in batches (netlink_batch(): one
 * with a route on OTHER, refused whole; two on TUN), and SO_MARK on a UDP and a TCP socket.
 * It prints one line per request, "WHAT IFACE: ok" or the error. Last it opens an rtnetlink
 * socket of its own, which the filter kills (status 159): a daemon that has dropped has none.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "netlink.h"
#include "privdrop.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif

static const struct {
	const char *name;
	int flags;
} modes[] = {
	{ "read", O_RDONLY },
	{ "write", O_WRONLY },
	{ "rdwr", O_RDWR },
	{ "append", O_WRONLY | O_APPEND },
	{ "trunc", O_RDONLY | O_TRUNC }, /* Linux truncates even then, given write permission */
	{ "creat", O_RDONLY | O_CREAT },
};

static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	if (write(STDOUT_FILENO, buf, (size_t)n) != n)
		_exit(4);
}

static void result(const char *what, const char *ifname, int ret)
{
	say("%s %s: %s\n", what, ifname, ret ? strerror(-ret) : "ok");
}

/* The requests of a daemon taken over, on ifname (ifindex). */
static void net_requests(struct netlink *nl, const char *ifname, int ifindex, int n)
{
	struct ip_prefix addr, route;
	char a[32], r[32];

	snprintf(a, sizeof(a), "198.51.100.%d/32", n);
	snprintf(r, sizeof(r), "203.0.113.%d/32", n);
	if (addr_parse_prefix(a, &addr) || addr_parse_prefix(r, &route))
		_exit(2);
	result("mtu", ifname, netlink_set_mtu(nl, ifindex, 1300));
	result("addr-add", ifname, netlink_addr_add(nl, ifindex, &addr));
	result("route-add", ifname, netlink_route_add_table(nl, ifindex, &route, RT_TABLE_MAIN));
	result("route-add-table-1234", ifname, netlink_route_add_table(nl, ifindex, &route, 1234));
	result("route-del", ifname, netlink_route_del_table(nl, ifindex, &route, RT_TABLE_MAIN));
	result("addr-del", ifname, netlink_addr_del(nl, ifindex, &addr));
	result("down", ifname, netlink_set_up(nl, ifindex, false));
}

/* Routes 203.0.113.{first, first + 1, ...} on ifindex[i], n of them, as one netlink_batch(),
 * what the daemon sends for a slice of peers: "batch WHAT: ok (ok, File exists, ...)", the
 * batch's result then each route's. */
static void net_batch(struct netlink *nl, const char *what, const int *ifindex, size_t n, int first)
{
	struct netlink_req reqs[4] = { 0 };
	struct ip_prefix route;
	int results[4] = { 0 }, ret;
	char r[32], line[256];
	size_t len;

	for (size_t i = 0; i < n; i++) {
		snprintf(r, sizeof(r), "203.0.113.%d/32", first + (int)i);
		if (n > 4 || addr_parse_prefix(r, &route))
			_exit(2);
		netlink_req_route(&reqs[i], true, ifindex[i], &route, RT_TABLE_MAIN);
	}
	ret = netlink_batch(nl, reqs, n, results);
	len = (size_t)snprintf(line, sizeof(line), "batch %s: %s (", what,
			       ret ? strerror(-ret) : "ok");
	for (size_t i = 0; i < n && len < sizeof(line); i++)
		len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s", i ? ", " : "",
					results[i] ? strerror(-results[i]) : "ok");
	say("%s)\n", line);
}

static int net_check(const char *user, const char *tun, const char *other)
{
	struct privdrop_opts o = { .sandbox = true, .user = user };
	int tun_index = (int)if_nametoindex(tun), other_index = (int)if_nametoindex(other);
	struct netlink *nl;
	int udp, tcp;

	if (!tun_index || !other_index) {
		fprintf(stderr, "privcheck: no interface %s or %s\n", tun, other);
		return 2;
	}
	o.ifindex = tun_index;
	/* As the daemon does: the helper and the resolver, rtnetlink, then the drop. */
	if (privdrop_prepare() || netlink_open(&nl) || privdrop_apply(&o))
		return 3;
	net_requests(nl, tun, tun_index, 1);
	net_requests(nl, other, other_index, 2);
	/* TUN up again, for routes. A batch is refused whole if one request is (the second,
	 * on OTHER): the first is not run either. On TUN alone each route gets its own answer
	 * (.6 twice: "File exists" the second time, and .7 after it added all the same). */
	result("up", tun, netlink_set_up(nl, tun_index, true));
	net_batch(nl, "mixed", (const int[]){ tun_index, other_index }, 2, 3);
	net_batch(nl, "tun", (const int[]){ tun_index, tun_index }, 2, 5);
	net_batch(nl, "tun-again", (const int[]){ tun_index, tun_index }, 2, 6);
	udp = socket(AF_INET, SOCK_DGRAM, 0);
	tcp = socket(AF_INET, SOCK_STREAM, 0);
	result("mark-udp", "-", privdrop_set_mark(udp, 42));
	result("mark-tcp", "-", privdrop_set_mark(tcp, 42));
	say("netlink socket\n");
	socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	say("netlink socket opened\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct privdrop_opts o = { .sandbox = true };
	struct passwd *pw;
	char user[64];
	int flags = -1, fd;

	if (argc == 2 && !strcmp(argv[1], "sanitizer")) {
#ifdef SANITIZER_BUILD
		return 0;
#else
		return 1;
#endif
	}
	if (argc == 5 && !strcmp(argv[1], "net")) {
		log_init("privcheck", true, LOG_NOTICE);
		return net_check(argv[2], argv[3], argv[4]);
	}
	if (argc != 4 || strcmp(argv[1], "open"))
		goto usage;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (!strcmp(argv[2], modes[i].name))
			flags = modes[i].flags;
	if (flags < 0)
		goto usage;
	log_init("privcheck", true, LOG_NOTICE);
	pw = getpwuid(geteuid());
	if (!pw) {
		fprintf(stderr, "privcheck: who is uid %u?\n", (unsigned)geteuid());
		return 3;
	}
	snprintf(user, sizeof(user), "%s", pw->pw_name);
	o.user = user;
	/* As the daemon does: the helper (dismissed, no switch) and the resolver first. */
	if (privdrop_prepare() || privdrop_apply(&o))
		return 3;
	fd = open(argv[3], flags | O_CLOEXEC, 0600);
	/* write(2), not stdio: on a first write to a character device (/dev/null) stdio asks
	 * whether it is a terminal, with an ioctl the filter does not allow. */
	if (fd < 0) {
		say("privcheck: open %s %s: %s\n", argv[2], argv[3], strerror(errno));
		return 1;
	}
	say("opened\n");
	close(fd);
	return 0;
usage:
	fprintf(stderr, "usage: privcheck open read|write|rdwr|append|trunc|creat PATH\n"
			"       privcheck net USER TUN OTHER\n"
			"       privcheck sanitizer\n");
	return 2;
}
