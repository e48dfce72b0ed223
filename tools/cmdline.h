/* The command lines of the subcommands that take long options (bench, registry): one
 * getopt_long loop that says what it cannot take in the same words everywhere, and one rule
 * for an option's number with its range. */
#ifndef SEALNET_CMDLINE_H
#define SEALNET_CMDLINE_H

#include <getopt.h>

/* Called with each option as getopt_long returns it and its value (NULL without one).
 * Returns 0 to go on; anything else stops cmdline_parse(), which returns it. */
typedef int cmdline_fn(void *ctx, int c, char *arg);

/* getopt_long over argv[1..], quietly, from the start whatever ran before. shortopts as
 * getopt_long takes them ("+..." to stop at the first operand). An option it does not know,
 * or one without its value, is said on stderr ("sealnet: CMD: unknown option `--x'",
 * "sealnet: CMD: option needs a value: `--x'") and gives -EINVAL. Otherwise returns fn's
 * first non-zero answer, or 0 with *operand set to the index in argv of the first operand
 * (argc if none). */
int cmdline_parse(const char *cmd, int argc, char *argv[], const char *shortopts,
		  const struct option *longopts, cmdline_fn *fn, void *ctx, int *operand);

/* s, the value of option opt of subcommand cmd, as a whole number from min to max (decimal,
 * no sign, no blanks: config_parse_number()'s rule). 0 with *out set, or -EINVAL after
 * "sealnet: CMD: OPT wants a whole number from MIN to MAX, not `S'" on stderr. */
int cmdline_number(const char *cmd, const char *opt, const char *s, unsigned long long min,
		   unsigned long long max, unsigned long long *out);

#endif
