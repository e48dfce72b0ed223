/* up: start sealnetd on a config, as `wg-quick up` does for wg. sealnetd does the whole job
 * itself (addresses, MTU, routes) and, when it daemonizes, its first process exits only once
 * the interface is up or has failed, with the error on stderr. So up checks its argument and
 * then execs sealnetd: the daemon's exit status is ours, and nothing can be lost in between. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "subcommands.h"

#define CONFIG_DIR "/etc/sealnet"

static void usage_text(FILE *f)
{
	fprintf(f,
	        "Usage: %s up <interface> | <file>.conf\n"
	        "  <interface>     start it from " CONFIG_DIR "/<interface>.conf\n"
	        "  <file>.conf     start the interface named by the file's base name\n",
	        PROG_NAME);
}

static int usage(void)
{
	usage_text(stderr);
	return EXIT_USAGE;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t len = strlen(s), n = strlen(suffix);

	return len >= n && !strcmp(s + len - n, suffix);
}

/* sealnetd next to this binary: build/daemon/ from build/tools/, sbin/ from bin/ once
 * installed, or the same directory. Returns whether one was found. */
static bool daemon_near_self(char *path, size_t size)
{
	static const char *const candidates[] = {"../daemon/sealnetd", "../sbin/sealnetd",
	                                         "sealnetd"};
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

int up_main(int argc, char *argv[])
{
	char ifname[IFNAMSIZ], config[PATH_MAX], daemon[PATH_MAX], given[PATH_MAX];
	const char *arg, *base, *env;
	size_t len;
	int fd;

	if (wants_help(argc, argv)) {
		usage_text(stdout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-')
		return usage();
	arg = argv[1];
	/* wg-quick's rule: a path names its file, anything else an interface. */
	if (strchr(arg, '/') || ends_with(arg, ".conf")) {
		base = strrchr(arg, '/');
		base = base ? base + 1 : arg;
		len = strlen(base);
		if (!ends_with(base, ".conf") || len - 5 >= sizeof(ifname)) {
			fprintf(stderr,
			        "%s: up: `%s': the file name must be an interface name (at most %d "
			        "characters) followed by .conf\n",
			        PROG_NAME, arg, IFNAMSIZ - 1);
			return usage();
		}
		memcpy(ifname, base, len - 5);
		ifname[len - 5] = '\0';
		snprintf(given, sizeof(given), "%s", arg);
	} else {
		if (strlen(arg) >= sizeof(ifname)) {
			fprintf(stderr, "%s: up: invalid interface name `%s'\n", PROG_NAME, arg);
			return usage();
		}
		snprintf(ifname, sizeof(ifname), "%s", arg);
		snprintf(given, sizeof(given), CONFIG_DIR "/%s.conf", ifname);
	}
	if (!ipc_valid_name(ifname)) {
		fprintf(stderr,
		        "%s: up: invalid interface name `%s' (1 to %d of A-Z a-z 0-9 _ = + . -)\n",
		        PROG_NAME, ifname, IFNAMSIZ - 1);
		return usage();
	}
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

	env = getenv("SEALNETD");
	if (env && *env)
		snprintf(daemon, sizeof(daemon), "%s", env);
	else if (!daemon_near_self(daemon, sizeof(daemon)))
		snprintf(daemon, sizeof(daemon), "sealnetd");
	fflush(stdout);
	/* execvp: a bare "sealnetd" is looked up in PATH, a path is taken as it is. */
	execvp(daemon, (char *const[]){"sealnetd", "-c", config, ifname, NULL});
	fprintf(stderr, "%s: up: cannot run %s: %s\n", PROG_NAME, daemon, strerror(errno));
	return 1;
}
