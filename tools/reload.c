/* reload: make the daemon re-read its config file (reload=1 on the control socket, the same
 * as SIGHUP but with an answer). A file that does not load leaves the running state as it
 * was; the daemon logs what was wrong with it, and we report that it failed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ipc.h"
#include "subcommands.h"

static void usage_text(FILE *f)
{
	fprintf(f, "Usage: %s reload <interface>\n", PROG_NAME);
}

int reload_main(int argc, char *argv[])
{
	char why[512];
	const char *ifname;
	int ret, err;

	if (wants_help(argc, argv)) {
		usage_text(stdout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-') {
		usage_text(stderr);
		return EXIT_USAGE;
	}
	ifname = argv[1];
	if (!ipc_valid_name(ifname)) {
		fprintf(stderr, "%s: reload: invalid interface name `%s'\n", PROG_NAME, ifname);
		usage_text(stderr);
		return EXIT_USAGE;
	}
	ret = ipc_command_why(ifname, "reload=1\n", &err, why, sizeof(why));
	if (ret == -ENODEV)
		fprintf(stderr, "%s: reload %s: not running (no daemon on %s/%s.sock)\n", PROG_NAME,
		        ifname, IPC_DIR, ifname);
	else if (ret == -ENOTSUP)
		fprintf(stderr, "%s: reload %s: the daemon does not know reload (not sealnetd?)\n",
		        PROG_NAME, ifname);
	else if (ret)
		fprintf(stderr, "%s: reload %s: cannot talk to the daemon: %s\n", PROG_NAME, ifname,
		        strerror(-ret));
	else if (err && why[0])
		fprintf(stderr, "%s: reload %s: %s\n", PROG_NAME, ifname, why);
	else if (err)
		fprintf(stderr, "%s: reload %s: %s\n", PROG_NAME, ifname, strerror(-err));
	return ret || err ? 1 : 0;
}
