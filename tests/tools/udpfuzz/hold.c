/*
 * hold opens COUNT TCP connections to HOST PORT (or stream connections to the AF_UNIX socket
 * PATH), sends nothing on them and keeps them open until SECONDS have passed or SIGINT: the
 * idle-connection flood that a server must cap and time out.  Connects do not wait for one
 * another (a server that stopped accepting leaves them pending).  It prints one "hold:" line:
 * connections established, pending, refused or failed, and closed by the server.
 */
#define _GNU_SOURCE /* POLLRDHUP */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <unistd.h>

#include "udpfuzz.h"

#define MAX_HOLD 10000

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
			if ((pfd[i].revents & POLLIN) &&
			    recv(pfd[i].fd, &byte, 1, MSG_DONTWAIT) > 0)
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

int hold_run(int argc, char **argv, unsigned long seconds)
{
	struct sockaddr_storage ss = { 0 };
	struct hold_stats hs = { 0 };
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
