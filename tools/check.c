/* check: every error and warning of a configuration file, without starting anything, as
 * nebula -test or `nginx -t` do. The file is read as `sealnet up` reads it (config_check()):
 * the same messages the daemon would give, all of them rather than the first, and Endpoint
 * names are not resolved. up and reload run the same check before they act. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ipc.h"
#include "log.h"
#include "quick.h"
#include "subcommands.h"

static void usage_text(FILE *f)
{
	fprintf(f,
		"Usage: %s check [--strict] <interface> | <file>\n"
		"  <interface>  check " PATHS_CONFIG_DIR "/<interface>.conf\n"
		"  <file>       check this file (a path, or a name ending in .conf)\n"
		"  --strict     warnings fail the check too\n"
		"Prints every error and warning as FILE:LINE: error|warning: what. Exit status:\n"
		"0 when the file is good (warnings allowed), 1 when it is not, 2 for a bad "
		"command\n"
		"line.\n",
		PROG_NAME);
}

/* issue's text without its "FILE:LINE: " (or "FILE: ") lead. */
static const char *message_of(const char *path, const struct config_issue *issue)
{
	char lead[PATH_MAX + 32];
	size_t len;

	if (issue->line)
		snprintf(lead, sizeof(lead), "%s:%d: ", path, issue->line);
	else
		snprintf(lead, sizeof(lead), "%s: ", path);
	len = strlen(lead);
	return strncmp(issue->text, lead, len) ? issue->text : issue->text + len;
}

int check_config(const char *cmd, const char *path, bool errors_only, FILE *out, unsigned *n_errors,
		 unsigned *n_warnings)
{
	struct config_issue *issues;
	char err[512];
	size_t n;
	int ret;

	*n_errors = *n_warnings = 0;
	/* As up reads it: up runs the hooks, DNS and SaveConfig itself. */
	config_set_quick_runner(true);
	ret = config_check(path, &issues, &n, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "%s: %s: %s\n", PROG_NAME, cmd, err);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct config_issue *is = &issues[i];

		if (is->error)
			++*n_errors;
		else
			++*n_warnings;
		if (errors_only && !is->error)
			continue;
		if (errors_only)
			fprintf(out, "%s: %s: %s\n", PROG_NAME, cmd, is->text);
		else if (is->line)
			fprintf(out, "%s:%d: %s: %s\n", path, is->line,
				is->error ? "error" : "warning", message_of(path, is));
		else
			fprintf(out, "%s: %s: %s\n", path, is->error ? "error" : "warning",
				message_of(path, is));
	}
	free(issues);
	return *n_errors ? 1 : 0;
}

int check_main(int argc, char *argv[])
{
	char path[PATH_MAX];
	const char *arg = NULL;
	unsigned errors, warnings;
	bool strict = false;
	int ret;

	if (wants_help(argc, argv)) {
		usage_text(stdout);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--strict")) {
			strict = true;
		} else if (argv[i][0] == '-' || arg) {
			fprintf(stderr, "%s: check: unexpected argument `%s'\n", PROG_NAME,
				argv[i]);
			usage_text(stderr);
			return EXIT_USAGE;
		} else {
			arg = argv[i];
		}
	}
	if (!arg) {
		usage_text(stderr);
		return EXIT_USAGE;
	}
	if (strchr(arg, '/') || (strlen(arg) > 5 && !strcmp(arg + strlen(arg) - 5, ".conf"))) {
		snprintf(path, sizeof(path), "%s", arg);
	} else if (ipc_valid_name(arg)) {
		snprintf(path, sizeof(path), PATHS_CONFIG_DIR "/%s.conf", arg);
	} else {
		fprintf(stderr, "%s: check: `%s' is neither an interface name nor a file\n",
			PROG_NAME, arg);
		usage_text(stderr);
		return EXIT_USAGE;
	}
	/* The warnings config.c would log are among the issues: none is logged twice. */
	log_set_level(LOG_ERR);
	ret = check_config("check", path, false, stdout, &errors, &warnings);
	if (fflush(stdout) || ferror(stdout))
		return 1;
	if (errors || warnings)
		fprintf(stderr, "%s: %u error%s, %u warning%s\n", path, errors,
			errors == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s");
	else if (!ret)
		fprintf(stderr, "%s: good\n", path);
	if (strict && warnings)
		ret = 1;
	return ret;
}
