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

/* The options the script takes, each named once, here: getopt_long's table is made from this
 * one, and every option given goes to the script as --name VALUE, so that the script never
 * has to understand abbreviations. */
enum bench_option {
	OPT_ROUNDS,
	OPT_TIME,
	OPT_SYSTEMS,
	OPT_JSON,
	OPT_PLOT,
	OPT_TXT,
	OPT_PEER,
	OPT_OVERLAY,
	OPT_MAX
};

static const struct {
	const char *name;
	char letter; /* -letter as well as --name; 0 for none */
	bool output; /* names a file written at the end of the run */
} options[OPT_MAX] = {
	[OPT_ROUNDS] = { "rounds", 'n' }, [OPT_TIME] = { "time", 't' },
	[OPT_SYSTEMS] = { "systems" },    [OPT_JSON] = { "json", 0, true },
	[OPT_PLOT] = { "plot", 0, true }, [OPT_TXT] = { "txt", 0, true },
	[OPT_PEER] = { "peer" },          [OPT_OVERLAY] = { "overlay" },
};

/* What getopt_long returns for option i: its letter, or a value no letter has. */
static int option_val(int i)
{
	return options[i].letter ? options[i].letter : 256 + i;
}

/* Pointers into argv (or to the defaults), passed on as they are; NULL for not given. */
struct bench_options {
	char *value[OPT_MAX];
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

		fprintf(stderr, "%s: %s: --%s %s: cannot write in %s: %s\n", PROG_NAME, CMD, opt,
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
	if (o->value[OPT_PLOT] && !in_path("gnuplot")) {
		fprintf(stderr, "%s: %s: --plot needs gnuplot (Debian package gnuplot-nox)\n",
			PROG_NAME, CMD);
		ret = -ENOENT;
	}
	/* Without --overlay, the peer's overlay address is read from `wg show'. */
	if (o->value[OPT_PEER] && !o->value[OPT_OVERLAY] && !in_path("wg")) {
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

	if (c == 'h') {
		usage(stdout);
		return 1;
	}
	for (int i = 0; i < OPT_MAX; i++)
		if (c == option_val(i))
			o->value[i] = arg;
	return 0;
}

static int parse(int argc, char *argv[], struct bench_options *o)
{
	struct option longopts[OPT_MAX + 2] = {
		[OPT_MAX] = { "help", no_argument, NULL, 'h' },
	};
	char shortopts[2 * OPT_MAX + 3] = "+h";
	size_t len = strlen(shortopts);
	unsigned long long n;
	int ret, operand;

	for (int i = 0; i < OPT_MAX; i++) {
		longopts[i] = (struct option){ options[i].name, required_argument, NULL,
					       option_val(i) };
		if (options[i].letter) {
			shortopts[len++] = options[i].letter;
			shortopts[len++] = ':';
		}
	}
	ret = cmdline_parse(CMD, argc, argv, shortopts, longopts, option, o, &operand);
	if (ret)
		return ret;
	if (operand < argc) {
		fprintf(stderr, "%s: %s: unexpected argument `%s'\n", PROG_NAME, CMD,
			argv[operand]);
		return -EINVAL;
	}
	if (cmdline_number(CMD, "-n", o->value[OPT_ROUNDS], 1, 100, &n) ||
	    cmdline_number(CMD, "-t", o->value[OPT_TIME], 1, 3600, &n))
		return -EINVAL;
	if (o->value[OPT_OVERLAY] && !o->value[OPT_PEER]) {
		fprintf(stderr, "%s: %s: --overlay goes with --peer\n", PROG_NAME, CMD);
		return -EINVAL;
	}
	if (o->value[OPT_PEER] && o->value[OPT_SYSTEMS]) {
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
	struct bench_options o = { .value = { [OPT_ROUNDS] = "3", [OPT_TIME] = "5" } };
	char spelled[OPT_MAX][16];
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
	if (!o.value[OPT_PEER] && geteuid() != 0) {
		fprintf(stderr,
			"%s: %s: needs root to build network namespaces; run it with sudo\n",
			PROG_NAME, CMD);
		return 1;
	}
	if (check_tools(&o))
		return 1;
	for (int i = 0; i < OPT_MAX; i++)
		if (options[i].output && o.value[i] && check_output(options[i].name, o.value[i]))
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
	for (int i = 0; i < OPT_MAX; i++) {
		if (!o.value[i])
			continue;
		snprintf(spelled[i], sizeof(spelled[i]), "--%s", options[i].name);
		args[n++] = spelled[i];
		args[n++] = o.value[i];
	}
	args[n] = NULL;

	fflush(NULL);
	execvp("bash", args);
	fprintf(stderr, "%s: %s: cannot run bash %s: %s\n", PROG_NAME, CMD, script,
		strerror(errno));
	return 1;
}
