/* reload: make the daemon re-read its config file (reload=1 on the control socket, the same
 * as SIGHUP but with an answer). A file that does not load leaves the running state as it
 * was; the daemon logs what was wrong with it, and we report that it failed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "subcommands.h"

static void usage_text(FILE *f)
{
	fprintf(f, "Usage: %s reload <interface>\n", PROG_NAME);
}

int reload_main(int argc, char *argv[])
{
	struct ipc_device *dev;
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
	/* The file is checked here first, so every error is said, not only the daemon's first;
	 * one we cannot read is left to the daemon, which may. */
	if (!ipc_get(ifname, &dev)) {
		unsigned errors, warnings;
		char cmd[IFNAMSIZ + 8];

		snprintf(cmd, sizeof(cmd), "reload %s", ifname);
		ret = dev->config_path && !access(dev->config_path, R_OK)
			      ? check_config(cmd, dev->config_path, true, stderr, &errors,
					     &warnings)
			      : 0;
		ipc_device_free(dev);
		if (ret)
			return 1;
	}
	ret = ipc_command_why(ifname, "reload=1\n", &err, why, sizeof(why));
	if (ret == -ENODEV)
		fprintf(stderr, "%s: reload %s: not running (no daemon on %s/%s.sock)\n", PROG_NAME,
			ifname, PATHS_SOCKET_DIR, ifname);
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
