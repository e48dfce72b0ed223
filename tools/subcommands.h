/* The sealnet command-line tool: one file per subcommand, dispatched from the table in
 * sealnet.c. A subcommand gets argv with its own name in argv[0] and returns the exit
 * status; only main() exits. */
#ifndef SEALNET_SUBCOMMANDS_H
#define SEALNET_SUBCOMMANDS_H

#include <stdbool.h>
#include <stdio.h>

#include "key.h"

#define PROG_NAME "sealnet"
#ifndef SEALNET_VERSION
#define SEALNET_VERSION "unknown" /* the Makefile says: git describe */
#endif

/* Exit status for a command line we do not understand, as for most shell tools. */
#define EXIT_USAGE 2

/* Prints the usage text, listing every subcommand, to stderr and returns EXIT_USAGE, so
 * a subcommand can end with `return usage_error();` on arguments it does not take. */
int usage_error(void);

/* Whether a subcommand's only argument is -h or --help: it then prints its usage to stdout
 * and returns 0. */
bool wants_help(int argc, char *argv[]);

/* Writes the base64 form of key and a newline to stdout, without leaving a copy in stdio's
 * buffers. Returns 0, or prints why not (naming cmd) and returns 1. */
int print_key(const char *cmd, const unsigned char key[KEY_LEN]);

/* Checks the file at path as `sealnet check` does, writing its errors and warnings to out,
 * each as FILE:LINE: error|warning: what, and counting them; with errors_only, for up and
 * reload, only the errors, as "sealnet: CMD: FILE:LINE: what".
 * Returns 0 when it has no error, else 1 (a file that cannot be read: said on stderr,
 * naming cmd). */
int check_config(const char *cmd, const char *path, bool errors_only, FILE *out, unsigned *n_errors,
		 unsigned *n_warnings);

int check_main(int argc, char *argv[]);
int show_main(int argc, char *argv[]);
/* show and status (brief: status's lines by default); cmd names the subcommand in messages. */
int show_run(const char *cmd, int argc, char *argv[], bool brief);
int status_main(int argc, char *argv[]);
int set_main(int argc, char *argv[]);
int up_main(int argc, char *argv[]);
int down_main(int argc, char *argv[]);
int reload_main(int argc, char *argv[]);
int genkey_main(int argc, char *argv[]);
int genpsk_main(int argc, char *argv[]);
int pubkey_main(int argc, char *argv[]);
int bench_main(int argc, char *argv[]);
int registry_main(int argc, char *argv[]);

#endif
