/* up: start sealnetd on a config, as `wg-quick up` does for wg. sealnetd does the interface's
 * whole job itself (addresses, MTU, routes) and, when it daemonizes, its first process exits
 * only once the interface is up or has failed, with the error on stderr. Around it, up does
 * what only wg-quick does (quick.h): PreUp before, DNS and PostUp after, and takes the
 * interface down again when one of those fails. Without any of them up just execs sealnetd:
 * the daemon's exit status is ours, and nothing can be lost in between. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "quick.h"
#include "subcommands.h"

static void usage_text(FILE *f)
{
	fprintf(f,
		"Usage: %s up <interface> | <file>.conf\n"
		"  <interface>     start it from " PATHS_CONFIG_DIR "/<interface>.conf\n"
		"  <file>.conf     start the interface named by the file's base name\n",
		PROG_NAME);
}

static int usage(void)
{
	usage_text(stderr);
	return EXIT_USAGE;
}

/* sealnetd next to this binary: build/daemon/ from build/tools/, sbin/ from bin/ once
 * installed, or the same directory. Returns whether one was found. */
static bool daemon_near_self(char *path, size_t size)
{
	static const char *const candidates[] = { "../daemon/sealnetd", "../sbin/sealnetd",
						  "sealnetd" };
	char self[PATH_MAX], *slash;
	ssize_t n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return false;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return false;
	*slash = '\0';
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		if ((size_t)snprintf(path, size, "%s/%s", self, candidates[i]) < size &&
		    !access(path, X_OK))
			return true;
	}
	return false;
}

/* Whether up has anything to do but start the daemon. */
static bool has_quick(const struct config *c)
{
	for (int h = 0; h < CONFIG_HOOK_MAX; h++)
		if (c->hooks[h].n)
			return true;
	return c->dns_servers.n || c->dns_search.n;
}

/* Runs sealnetd -q on config and waits for its first process, which exits once the
 * interface is up. Returns its exit status, or 1 if it could not run. */
static int start_daemon(const char *daemon, char *config, char *ifname)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: up: cannot fork: %s\n", PROG_NAME, strerror(errno));
		return 1;
	}
	if (pid == 0) {
		execvp(daemon, (char *const[]){ "sealnetd", "-q", "-c", config, ifname, NULL });
		fprintf(stderr, "%s: up: cannot run %s: %s\n", PROG_NAME, daemon, strerror(errno));
		_exit(1);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int up_main(int argc, char *argv[])
{
	char ifname[IFNAMSIZ], config[PATH_MAX], daemon[PATH_MAX], given[PATH_MAX];
	struct config *c = NULL;
	unsigned errors, warnings;
	const char *env;
	bool is_file;
	int fd, ret;

	if (wants_help(argc, argv)) {
		usage_text(stdout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-')
		return usage();
	if (quick_target("up", argv[1], ifname, given, sizeof(given), &is_file))
		return usage();
	/* The daemon keeps the path for reloads, long after our working directory is gone. */
	if (!realpath(given, config)) {
		fprintf(stderr, "%s: up: %s: %s\n", PROG_NAME, given, strerror(errno));
		return 1;
	}
	fd = ipc_connect(ifname);
	if (fd >= 0) {
		close(fd);
		fprintf(stderr, "%s: up: %s is already running\n", PROG_NAME, ifname);
		return 1;
	}
	/* As wg-quick, the file is read before anything runs: a mistake in it runs no hook.
	 * Every mistake is said, not only the first. */
	log_set_level(LOG_ERR);
	if (check_config("up", config, true, stderr, &errors, &warnings))
		return 1;
	if (quick_load("up", config, &c))
		return 1;

	env = getenv("SEALNETD");
	if (env && *env)
		snprintf(daemon, sizeof(daemon), "%s", env);
	else if (!daemon_near_self(daemon, sizeof(daemon)))
		snprintf(daemon, sizeof(daemon), "sealnetd");
	if (!has_quick(c)) {
		config_free(c);
		fflush(stdout);
		/* execvp: a bare "sealnetd" is looked up in PATH, a path is taken as it is. */
		execvp(daemon, (char *const[]){ "sealnetd", "-q", "-c", config, ifname, NULL });
		fprintf(stderr, "%s: up: cannot run %s: %s\n", PROG_NAME, daemon, strerror(errno));
		return 1;
	}

	/* Before anything changes: wg-quick finds out only once the interface is up. */
	ret = quick_dns_check("up", c);
	if (!ret)
		ret = quick_run_hooks("up", c, CONFIG_HOOK_PRE_UP, ifname);
	if (!ret)
		ret = start_daemon(daemon, config, ifname);
	if (ret)
		goto out;
	ret = quick_dns_set("up", c, ifname);
	if (!ret) {
		ret = quick_run_hooks("up", c, CONFIG_HOOK_POST_UP, ifname);
		if (ret)
			quick_dns_unset("up", c, ifname);
	}
	/* wg-quick's del_if on a failed up: the interface goes, no PreDown or PostDown. */
	if (ret)
		down_stop_daemon("up", ifname);
out:
	config_free(c);
	return ret;
}
