/* sealnet: the command-line tool. Key generation as wg does it, and the control of running
 * sealnetd interfaces (show, set, reload over the control socket; up and down start and stop
 * the daemon). One file per subcommand; this table dispatches. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "subcommands.h"

static const struct subcommand {
	const char *name;
	int (*fn)(int argc, char *argv[]);
	const char *description;
} subcommands[] = {
	{ "show", show_main, "Shows the state of running interfaces, or their names" },
	{ "status", status_main, "Shows running interfaces at a glance: a line per peer" },
	{ "set", set_main, "Changes the configuration of a running interface" },
	{ "check", check_main, "Reports every error and warning of a configuration file" },
	{ "up", up_main, "Starts sealnetd on a configuration file" },
	{ "down", down_main, "Stops the sealnetd of an interface that `up' started" },
	{ "reload", reload_main, "Makes sealnetd re-read its configuration file" },
	{ "genkey", genkey_main, "Generates a new private key and writes it to stdout" },
	{ "genpsk", genpsk_main, "Generates a new preshared key and writes it to stdout" },
	{ "pubkey", pubkey_main,
	  "Reads a private key from stdin and writes a public key to stdout" },
	{ "bench", bench_main,
	  "Measures what encryption costs against plain veth and other tunnels" },
	{ "registry", registry_main,
	  "Joins a cluster: publishes this node in etcd, peers from it" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s <cmd> [<args>]\n\n", PROG_NAME);
	fprintf(f, "Available subcommands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %s: %s\n", subcommands[i].name, subcommands[i].description);
}

int usage_error(void)
{
	usage(stderr);
	return EXIT_USAGE;
}

bool wants_help(int argc, char *argv[])
{
	return argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"));
}

static bool is_version(const char *arg)
{
	return !strcmp(arg, "--version") || !strcmp(arg, "-V");
}

int main(int argc, char *argv[])
{
	if (argc < 2)
		return usage_error();
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	/* `sealnet --version`, `sealnet version`, and `sealnet SUBCOMMAND --version` alike. */
	if (is_version(argv[1]) || !strcmp(argv[1], "version") ||
	    (argc == 3 && is_version(argv[2]))) {
		printf("%s %s\n", PROG_NAME, SEALNET_VERSION);
		return 0;
	}
	/* Before any subcommand: key generation must not run on an unseeded generator. */
	if (sodium_init() < 0) {
		fprintf(stderr, "%s: cannot initialise libsodium\n", PROG_NAME);
		return 1;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "%s: invalid subcommand `%s'\n", PROG_NAME, argv[1]);
	return usage_error();
}
