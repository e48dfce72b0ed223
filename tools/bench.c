/* bench: `sealnet bench` checks what a run needs and hands over to tools/bench/bench.sh.
 *
 * The measuring is a shell script because it is mostly starting ip, iperf3, ping and the
 * daemons in namespaces and reading their output; this file is here so that what would
 * otherwise go wrong minutes into a run (not root, iperf3 missing, a typo in an option, a
 * directory that cannot take the results) goes wrong at once, in plain words, and so that the
 * script finds the daemon of the same build. The script gets a canonical command line: every
 * option spelled out, so that it never has to understand getopt_long's abbreviations. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmdline.h"
#include "subcommands.h"

#define CMD "bench"

/* Pointers into argv (or to the defaults), passed on as they are. */
struct bench_options {
	char *rounds;
	char *seconds;
	char *systems;
	char *json;
	char *plot;
	char *txt;
	char *peer;
	char *overlay;
};

/* What the script runs, and the Debian package to name when one is missing. */
static const struct prerequisite {
	const char *tool;
	const char *package;
} prerequisites[] = {
	{ "bash", "bash" },         { "ip", "iproute2" },   { "ss", "iproute2" },
	{ "ping", "iputils-ping" }, { "iperf3", "iperf3" }, { "awk", "mawk" },
	{ "timeout", "coreutils" },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s %s [-n ROUNDS] [-t SECONDS] [--systems a,b,...] [--json FILE]\n"
		"             [--plot FILE.svg] [--txt FILE]\n"
		"       %s %s --peer HOST [--overlay ADDR] [-n ROUNDS] [-t SECONDS] [--json FILE]\n"
		"\n"
		"Measures TCP throughput (1 and 4 streams), UDP packets/s with 64-byte payloads,\n"
		"ping round trips, and the daemons' CPU per GB and peak RSS, for plain veth (the\n"
		"reference), sealnet and the other systems in tools/bench/systems/, each between\n"
		"two network namespaces of this host; needs root. Medians over ROUNDS (default 3)\n"
		"of SECONDS (default 5) per test, and every figure as a ratio to plain.\n"
		"With --peer: from here to HOST's underlay and overlay addresses (HOST runs\n"
		"`iperf3 -s'); the overlay address is found from the local WireGuard interfaces\n"
		"unless given with --overlay.\n"
		"  --systems LIST  which systems besides plain (names or paths of driver files)\n"
		"  --json FILE     every figure, machine-readable\n"
		"  --plot FILE     a bar chart of the ratios, SVG (needs gnuplot)\n"
		"  --txt FILE      the table printed on stdout, also written to FILE\n"
		"See docs/bench.md.\n",
		PROG_NAME, CMD, PROG_NAME, CMD);
}

static bool in_path(const char *tool)
{
	const char *path = getenv("PATH");
	char file[PATH_MAX];
	const char *p, *end;
	size_t len;

	if (!path || !*path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (p = path;; p = end + 1) {
		end = strchr(p, ':');
		if (!end)
			end = p + strlen(p);
		len = (size_t)(end - p);
		/* An empty entry is the current directory, as for the shell. */
		if (snprintf(file, sizeof(file), "%.*s/%s", (int)(len ? len : 1), len ? p : ".",
			     tool) < (int)sizeof(file) &&
		    access(file, X_OK) == 0)
			return true;
		if (!*end)
			return false;
	}
}

/* An output file must be creatable now, not after a run of several minutes. */
static int check_output(const char *opt, const char *file)
{
	char copy[PATH_MAX];
	const char *dir;

	if (snprintf(copy, sizeof(copy), "%s", file) >= (int)sizeof(copy))
		return -ENAMETOOLONG;
	dir = dirname(copy);
	if (access(dir, W_OK | X_OK) < 0) {
		int err = errno;

		fprintf(stderr, "%s: %s: %s %s: cannot write in %s: %s\n", PROG_NAME, CMD, opt,
			file, dir, strerror(err));
		return -err;
	}
	return 0;
}

static int check_tools(const struct bench_options *o)
{
	int ret = 0;

	for (size_t i = 0; i < sizeof(prerequisites) / sizeof(prerequisites[0]); i++) {
		if (in_path(prerequisites[i].tool))
			continue;
		fprintf(stderr,
			"%s: %s: %s is not installed (Debian package %s): run `make deps'\n",
			PROG_NAME, CMD, prerequisites[i].tool, prerequisites[i].package);
		ret = -ENOENT;
	}
	if (o->plot && !in_path("gnuplot")) {
		fprintf(stderr, "%s: %s: --plot needs gnuplot (Debian package gnuplot-nox)\n",
			PROG_NAME, CMD);
		ret = -ENOENT;
	}
	/* Without --overlay, the peer's overlay address is read from `wg show'. */
	if (o->peer && !o->overlay && !in_path("wg")) {
		fprintf(stderr, "%s: %s: --peer without --overlay needs wg (wireguard-tools)\n",
			PROG_NAME, CMD);
		ret = -ENOENT;
	}
	return ret;
}

/* The directory of our own binary, whatever symlink or PATH entry started it. */
static int exe_dir(char *dir, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -errno;
	exe[n] = '\0';
	if (snprintf(dir, len, "%s", dirname(exe)) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

/* First of: $SEALNET_BENCH; the source tree the binary was built in (build/tools/sealnet ->
 * tools/bench/bench.sh); the install layout ($(PREFIX)/bin/sealnet ->
 * $(PREFIX)/lib/sealnet/bench/bench.sh). */
static int find_script(const char *dir, char *script, size_t len)
{
	static const char *const relative[] = {
		"../../tools/bench/bench.sh",
		"../lib/sealnet/bench/bench.sh",
	};
	const char *env = getenv("SEALNET_BENCH");

	if (env && *env) {
		if (access(env, R_OK) < 0) {
			fprintf(stderr, "%s: %s: SEALNET_BENCH=%s: %s\n", PROG_NAME, CMD, env,
				strerror(errno));
			return -ENOENT;
		}
		snprintf(script, len, "%s", env);
		return 0;
	}
	for (size_t i = 0; i < sizeof(relative) / sizeof(relative[0]); i++) {
		if (snprintf(script, len, "%s/%s", dir, relative[i]) < (int)len &&
		    access(script, R_OK) == 0)
			return 0;
	}
	fprintf(stderr,
		"%s: %s: cannot find bench.sh: not in %s/../../tools/bench (a build tree) nor in "
		"%s/../lib/sealnet/bench (an installation); set SEALNET_BENCH to its path\n",
		PROG_NAME, CMD, dir, dir);
	return -ENOENT;
}

/* The script runs our own build's tool and daemon unless the caller chose others. */
static void export_binaries(const char *dir)
{
	static const char *const daemons[] = { "../daemon/sealnetd", "../sbin/sealnetd" };
	char path[PATH_MAX], real[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, PROG_NAME) < (int)sizeof(path) &&
	    access(path, X_OK) == 0 && !getenv("SEALNET"))
		setenv("SEALNET", path, 1);
	if (getenv("SEALNETD") && *getenv("SEALNETD"))
		return;
	for (size_t i = 0; i < sizeof(daemons) / sizeof(daemons[0]); i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir, daemons[i]) < (int)sizeof(path) &&
		    access(path, X_OK) == 0) {
			/* Resolved, so that the table names the daemon without "..". */
			setenv("SEALNETD", realpath(path, real) ? real : path, 1);
			return;
		}
	}
}

static int option(void *ctx, int c, char *arg)
{
	struct bench_options *o = ctx;

	switch (c) {
	case 'n':
		o->rounds = arg;
		break;
	case 't':
		o->seconds = arg;
		break;
	case 's':
		o->systems = arg;
		break;
	case 'j':
		o->json = arg;
		break;
	case 'p':
		o->plot = arg;
		break;
	case 'x':
		o->txt = arg;
		break;
	case 'P':
		o->peer = arg;
		break;
	case 'o':
		o->overlay = arg;
		break;
	case 'h':
		usage(stdout);
		return 1;
	}
	return 0;
}

static int parse(int argc, char *argv[], struct bench_options *o)
{
	static const struct option longopts[] = {
		{ "rounds", required_argument, NULL, 'n' },
		{ "time", required_argument, NULL, 't' },
		{ "systems", required_argument, NULL, 's' },
		{ "json", required_argument, NULL, 'j' },
		{ "plot", required_argument, NULL, 'p' },
		{ "txt", required_argument, NULL, 'x' },
		{ "peer", required_argument, NULL, 'P' },
		{ "overlay", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long n;
	int ret, operand;

	ret = cmdline_parse(CMD, argc, argv, "+n:t:h", longopts, option, o, &operand);
	if (ret)
		return ret;
	if (operand < argc) {
		fprintf(stderr, "%s: %s: unexpected argument `%s'\n", PROG_NAME, CMD,
			argv[operand]);
		return -EINVAL;
	}
	if (cmdline_number(CMD, "-n", o->rounds, 1, 100, &n) ||
	    cmdline_number(CMD, "-t", o->seconds, 1, 3600, &n))
		return -EINVAL;
	if (o->overlay && !o->peer) {
		fprintf(stderr, "%s: %s: --overlay goes with --peer\n", PROG_NAME, CMD);
		return -EINVAL;
	}
	if (o->peer && o->systems) {
		fprintf(stderr,
			"%s: %s: --systems is for the local mode; --peer measures the path to "
			"HOST\n",
			PROG_NAME, CMD);
		return -EINVAL;
	}
	return 0;
}

int bench_main(int argc, char *argv[])
{
	struct bench_options o = { .rounds = "3", .seconds = "5" };
	char dir[PATH_MAX], script[PATH_MAX];
	char *args[32];
	size_t n = 0;
	int ret;

	ret = parse(argc, argv, &o);
	if (ret > 0)
		return 0;
	if (ret < 0) {
		fprintf(stderr, "Try `%s %s --help'.\n", PROG_NAME, CMD);
		return EXIT_USAGE;
	}
	/* Only the local mode builds namespaces; --peer just runs ping and iperf3. */
	if (!o.peer && geteuid() != 0) {
		fprintf(stderr,
			"%s: %s: needs root to build network namespaces; run it with sudo\n",
			PROG_NAME, CMD);
		return 1;
	}
	if (check_tools(&o))
		return 1;
	if ((o.json && check_output("--json", o.json)) ||
	    (o.plot && check_output("--plot", o.plot)) || (o.txt && check_output("--txt", o.txt)))
		return 1;
	ret = exe_dir(dir, sizeof(dir));
	if (ret < 0) {
		fprintf(stderr, "%s: %s: cannot read /proc/self/exe: %s\n", PROG_NAME, CMD,
			strerror(-ret));
		return 1;
	}
	if (find_script(dir, script, sizeof(script)))
		return 1;
	export_binaries(dir);

	args[n++] = "bash";
	args[n++] = script;
	args[n++] = "-n";
	args[n++] = o.rounds;
	args[n++] = "-t";
	args[n++] = o.seconds;
#define PASS(opt, value)                                                                           \
	do {                                                                                       \
		if (value) {                                                                       \
			args[n++] = opt;                                                           \
			args[n++] = value;                                                         \
		}                                                                                  \
	} while (0)
	PASS("--systems", o.systems);
	PASS("--json", o.json);
	PASS("--plot", o.plot);
	PASS("--txt", o.txt);
	PASS("--peer", o.peer);
	PASS("--overlay", o.overlay);
#undef PASS
	args[n] = NULL;

	fflush(NULL);
	execvp("bash", args);
	fprintf(stderr, "%s: %s: cannot run bash %s: %s\n", PROG_NAME, CMD, script,
		strerror(errno));
	return 1;
}
