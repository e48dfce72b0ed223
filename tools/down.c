/* down: stop a sealnetd that `sealnet up` (or any daemonized sealnetd) started. It reads the
 * daemon's pid file, makes sure the pid still belongs to a sealnetd (pids are reused, and a
 * stale file must not get another program killed), sends SIGTERM and waits until the process
 * has gone and its control socket with it: the daemon removes its interface on the way out,
 * so when down returns the interface is gone.
 *
 * Around that, what wg-quick down does (quick.h): PreDown, SaveConfig, then after the stop
 * DNS removed and PostDown, from the file the daemon was started on (its command line says
 * which, and -q there says `sealnet up` started it; a daemon started otherwise ran no hooks
 * and is only stopped), or from the file given instead of the interface. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "quick.h"
#include "subcommands.h"

#define DOWN_TIMEOUT_SEC 10

static void usage_text(FILE *f)
{
	fprintf(f,
		"Usage: %s down <interface> | <file>.conf\n"
		"  <interface>     stop it, with the hooks of the file it was started on\n"
		"  <file>.conf     stop the interface named by the file, with this file's hooks\n",
		PROG_NAME);
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

/* The pid of ifname's daemon, from its pid file, checked to be a running sealnetd. Returns
 * 0, or prints why not (naming cmd) and returns 1. */
static int find_daemon(const char *cmd, const char *ifname, long *pid)
{
	char pidfile[sizeof(PATHS_RUN_DIR) + IFNAMSIZ + 8], path[64], buf[64], *end;
	int ret;

	snprintf(pidfile, sizeof(pidfile), PATHS_RUN_DIR "/%s.pid", ifname);
	ret = read_small(pidfile, buf, sizeof(buf));
	/* Running means a daemon answers on the socket; the pid file only says whom to stop. */
	if (ret && socket_gone(ifname)) {
		fprintf(stderr, "%s: %s %s: not running\n", PROG_NAME, cmd, ifname);
		return 1;
	}
	if (ret == -ENOENT) {
		fprintf(stderr,
			"%s: %s %s: running, but without %s: it was not started by `%s up' "
			"(stop it where it was started)\n",
			PROG_NAME, cmd, ifname, pidfile, PROG_NAME);
		return 1;
	}
	if (ret) {
		fprintf(stderr, "%s: %s %s: %s: %s\n", PROG_NAME, cmd, ifname, pidfile,
			strerror(-ret));
		return 1;
	}
	errno = 0;
	*pid = strtol(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n') || *pid <= 1) {
		fprintf(stderr, "%s: %s %s: %s does not hold a process id\n", PROG_NAME, cmd,
			ifname, pidfile);
		return 1;
	}
	snprintf(path, sizeof(path), "/proc/%ld/comm", *pid);
	if (exited((pid_t)*pid) || read_small(path, buf, sizeof(buf))) {
		fprintf(stderr, "%s: %s %s: not running (process %ld from %s is gone)\n", PROG_NAME,
			cmd, ifname, *pid, pidfile);
		return 1;
	}
	buf[strcspn(buf, "\n")] = '\0';
	if (strcmp(buf, "sealnetd")) {
		fprintf(stderr,
			"%s: %s %s: process %ld from %s is `%s', not sealnetd: not stopping it\n",
			PROG_NAME, cmd, ifname, *pid, pidfile, buf);
		return 1;
	}
	return 0;
}

static int stop(const char *cmd, const char *ifname, long pid)
{
	struct timespec tick = { .tv_nsec = 100 * 1000 * 1000 };

	if (kill((pid_t)pid, SIGTERM) && errno != ESRCH) {
		fprintf(stderr, "%s: %s %s: cannot signal process %ld: %s\n", PROG_NAME, cmd,
			ifname, pid, strerror(errno));
		return 1;
	}
	for (int i = 0; i < DOWN_TIMEOUT_SEC * 10; i++) {
		if (exited((pid_t)pid) && socket_gone(ifname))
			return 0;
		nanosleep(&tick, NULL);
	}
	fprintf(stderr, "%s: %s %s: process %ld still running after %d s\n", PROG_NAME, cmd, ifname,
		pid, DOWN_TIMEOUT_SEC);
	return 1;
}

int down_stop_daemon(const char *cmd, const char *ifname)
{
	long pid;

	return find_daemon(cmd, ifname, &pid) || stop(cmd, ifname, pid);
}

/* The config file of the daemon pid, from its command line as sealnetd's getopt reads it
 * (options "fvqc:p:h", then the interface), or sealnetd's default; *quick tells whether it
 * has -q, that is whether `sealnet up` started it. Returns 0 or -errno. */
static int daemon_config(long pid, const char *ifname, char *path, size_t size, bool *quick)
{
	char file[64], args[8192], *a, *end, *value;
	ssize_t n;
	int fd;

	*quick = false;
	snprintf(path, size, PATHS_CONFIG_DIR "/%s.conf", ifname);
	snprintf(file, sizeof(file), "/proc/%ld/cmdline", pid);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, args, sizeof(args) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	args[n] = '\0';
	end = args + n;
	/* argv[0], then options until the first word that is not one. */
	for (a = args + strlen(args) + 1; a < end && a[0] == '-' && a[1]; a += strlen(a) + 1) {
		if (!strcmp(a, "--"))
			break;
		for (char *o = a + 1; *o; o++) {
			if (*o == 'q')
				*quick = true;
			if (*o != 'c' && *o != 'p')
				continue;
			/* The rest of the word, or the next word, is the value. */
			value = o[1] ? o + 1 : a + strlen(a) + 1;
			if (value >= end)
				return -EINVAL;
			if (*o == 'c')
				snprintf(path, size, "%s", value);
			if (value != o + 1)
				a = value;
			break;
		}
	}
	return 0;
}

int down_main(int argc, char *argv[])
{
	char ifname[IFNAMSIZ], path[PATH_MAX];
	struct config *c = NULL;
	bool is_file, quick;
	long pid;
	int ret;

	if (wants_help(argc, argv)) {
		usage_text(stdout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-')
		return usage();
	if (quick_target("down", argv[1], ifname, path, sizeof(path), &is_file))
		return usage();
	if (find_daemon("down", ifname, &pid))
		return 1;
	quick = is_file;
	if (!is_file && daemon_config(pid, ifname, path, sizeof(path), &quick)) {
		fprintf(stderr, "%s: down %s: cannot read the command line of process %ld\n",
			PROG_NAME, ifname, pid);
		return 1;
	}
	if (!quick)
		return stop("down", ifname, pid);
	/* As wg-quick down: a file that does not load stops nothing, a failing PreDown or
	 * SaveConfig leaves the interface up, DNS is removed whatever resolvconf says. */
	if (quick_load("down", path, &c))
		return 1;
	ret = quick_run_hooks("down", c, CONFIG_HOOK_PRE_DOWN, ifname);
	if (!ret && c->save_config)
		ret = quick_save_config("down", path, ifname, c);
	if (!ret)
		ret = stop("down", ifname, pid);
	if (!ret) {
		quick_dns_unset("down", c, ifname);
		ret = quick_run_hooks("down", c, CONFIG_HOOK_POST_DOWN, ifname);
	}
	config_free(c);
	return ret;
}
