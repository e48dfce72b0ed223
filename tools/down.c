/* down: stop a sealnetd that `sealnet up` (or any daemonized sealnetd) started. It reads the
 * daemon's pid file, makes sure the pid still belongs to a sealnetd (pids are reused, and a
 * stale file must not get another program killed), sends SIGTERM and waits until the process
 * has gone and its control socket with it: the daemon removes its interface on the way out,
 * so when down returns the interface is gone. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "subcommands.h"

#define DOWN_TIMEOUT_SEC 10

static void usage_text(FILE *f)
{
	fprintf(f, "Usage: %s down <interface>\n", PROG_NAME);
}

static int usage(void)
{
	usage_text(stderr);
	return EXIT_USAGE;
}

/* Reads a small file into buf, NUL-terminated. Returns 0 or -errno. */
static int read_small(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, size - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/* The process's state letter from /proc/PID/stat, or 0 when it does not exist. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *paren;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (read_small(path, buf, sizeof(buf)))
		return 0;
	/* "PID (COMM) S ...", where COMM may itself hold parentheses. */
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' ? paren[2] : 0;
}

/* Gone, or a zombie: a daemonized process is not our child, and whoever inherited it may be
 * slow to reap it (or never will, in a container whose init does not). */
static bool exited(pid_t pid)
{
	char state = proc_state(pid);

	return !state || state == 'Z' || state == 'X';
}

static bool socket_gone(const char *ifname)
{
	int fd = ipc_connect(ifname);

	if (fd >= 0)
		close(fd);
	return fd == -ENODEV;
}

int down_main(int argc, char *argv[])
{
	char pidfile[sizeof(IPC_PID_DIR) + IFNAMSIZ + 8], path[64], buf[64], *end;
	const char *ifname;
	struct timespec tick = {.tv_nsec = 100 * 1000 * 1000};
	long pid;
	int ret;

	if (wants_help(argc, argv)) {
		usage_text(stdout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-')
		return usage();
	ifname = argv[1];
	if (!ipc_valid_name(ifname)) {
		fprintf(stderr, "%s: down: invalid interface name `%s'\n", PROG_NAME, ifname);
		return usage();
	}
	snprintf(pidfile, sizeof(pidfile), IPC_PID_DIR "/%s.pid", ifname);
	ret = read_small(pidfile, buf, sizeof(buf));
	/* Running means a daemon answers on the socket; the pid file only says whom to stop. */
	if (ret && socket_gone(ifname)) {
		fprintf(stderr, "%s: down %s: not running\n", PROG_NAME, ifname);
		return 1;
	}
	if (ret == -ENOENT) {
		fprintf(stderr,
		        "%s: down %s: running, but without %s: it was not started by `%s up' "
		        "(stop it where it was started)\n",
		        PROG_NAME, ifname, pidfile, PROG_NAME);
		return 1;
	}
	if (ret) {
		fprintf(stderr, "%s: down %s: %s: %s\n", PROG_NAME, ifname, pidfile,
		        strerror(-ret));
		return 1;
	}
	errno = 0;
	pid = strtol(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n') || pid <= 1) {
		fprintf(stderr, "%s: down %s: %s does not hold a process id\n", PROG_NAME, ifname,
		        pidfile);
		return 1;
	}
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	if (exited((pid_t)pid) || read_small(path, buf, sizeof(buf))) {
		fprintf(stderr, "%s: down %s: not running (process %ld from %s is gone)\n",
		        PROG_NAME, ifname, pid, pidfile);
		return 1;
	}
	buf[strcspn(buf, "\n")] = '\0';
	if (strcmp(buf, "sealnetd")) {
		fprintf(stderr,
		        "%s: down %s: process %ld from %s is `%s', not sealnetd: not stopping it\n",
		        PROG_NAME, ifname, pid, pidfile, buf);
		return 1;
	}
	if (kill((pid_t)pid, SIGTERM) && errno != ESRCH) {
		fprintf(stderr, "%s: down %s: cannot signal process %ld: %s\n", PROG_NAME, ifname,
		        pid, strerror(errno));
		return 1;
	}
	for (int i = 0; i < DOWN_TIMEOUT_SEC * 10; i++) {
		if (exited((pid_t)pid) && socket_gone(ifname))
			return 0;
		nanosleep(&tick, NULL);
	}
	fprintf(stderr, "%s: down %s: process %ld still running after %d s\n", PROG_NAME, ifname,
	        pid, DOWN_TIMEOUT_SEC);
	return 1;
}
