#include "cmdline.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "subcommands.h"

int cmdline_parse(const char *cmd, int argc, char *argv[], const char *shortopts,
		  const struct option *longopts, cmdline_fn *fn, void *ctx, int *operand)
{
	char optstring[64];
	bool stop_at_operand = shortopts[0] == '+';
	int c, ret;

	/* ':' first (after '+'): getopt_long tells a missing value (':') from an unknown
	 * option ('?'), so the message can say which. */
	if (snprintf(optstring, sizeof(optstring), "%s:%s", stop_at_operand ? "+" : "",
		     shortopts + stop_at_operand) >= (int)sizeof(optstring))
		return -ENAMETOOLONG;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		if (c == '?' || c == ':') {
			fprintf(stderr, "%s: %s: %s `%s'\n", PROG_NAME, cmd,
				c == ':' ? "option needs a value:" : "unknown option",
				argv[optind - 1]);
			return -EINVAL;
		}
		ret = fn(ctx, c, optarg);
		if (ret)
			return ret;
	}
	*operand = optind;
	return 0;
}

int cmdline_number(const char *cmd, const char *opt, const char *s, unsigned long long min,
		   unsigned long long max, unsigned long long *out)
{
	if (config_parse_number(s, max, false, out) || *out < min) {
		fprintf(stderr, "%s: %s: %s wants a whole number from %llu to %llu, not `%s'\n",
			PROG_NAME, cmd, opt, min, max, s);
		return -EINVAL;
	}
	return 0;
}
