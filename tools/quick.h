/* What `sealnet up` and `down` do around the daemon, as wg-quick does around wg: the
 * PreUp/PostUp/PreDown/PostDown hooks, DNS through resolvconf(8), SaveConfig. sealnetd itself
 * sets the addresses, MTU and routes (Table included) and runs no commands.
 *
 *   up:   PreUp, sealnetd -q (returns once the interface is up), DNS, PostUp; a failure
 *         after the daemon started takes the interface down again (no PreDown/PostDown, as
 *         wg-quick's del_if)
 *   down: PreDown, SaveConfig, stop the daemon, DNS removed, PostDown
 *
 * Every step is printed to stderr as "[#] what", as wg-quick prints it. */
#ifndef SEALNET_QUICK_H
#define SEALNET_QUICK_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "paths.h"

/* wg-quick's reading of an argument: one holding a '/' or ending in .conf is a file, whose
 * name without .conf is the interface; anything else is an interface in PATHS_CONFIG_DIR.
 * Fills ifname and path (as given, not resolved). *is_file tells which it was. Returns 0,
 * or prints why not (naming cmd) and returns EXIT_USAGE: the caller prints its usage. */
int quick_target(const char *cmd, const char *arg, char ifname[IFNAMSIZ], char *path, size_t size,
		 bool *is_file);

/* Loads path as sealnet up and down read it (config_set_quick_runner). Endpoint names are
 * not resolved: neither needs an address (the daemon resolves them, after PreUp, as wg
 * setconf does under wg-quick), and down must work offline. Warnings are left to the
 * daemon, which reads the same file. Returns 0, or prints the error and returns 1. *out is
 * the caller's, freed with config_free(). */
int quick_load(const char *cmd, const char *path, struct config **out);

/* Runs the hooks of one kind in order, each through `bash -e -o pipefail -c` (wg-quick
 * evals them in its own bash, which has both options) with %i replaced by ifname. Stops at
 * the first that fails. Returns 0, or prints which failed and returns 1. */
int quick_run_hooks(const char *cmd, const struct config *c, enum config_hook hook,
		    const char *ifname);

/* Whether DNS needs resolvconf and none is in PATH; if so, prints so and returns 1. */
int quick_dns_check(const char *cmd, const struct config *c);
/* resolvconf -a NAME -m 0 -x with nameserver and search lines on stdin, and resolvconf -d
 * NAME -f, where NAME is the interface with wg-quick's prefix (see quick.c). Nothing
 * without DNS entries. Return 0, or print why and return 1. */
int quick_dns_set(const char *cmd, const struct config *c, const char *ifname);
int quick_dns_unset(const char *cmd, const struct config *c, const char *ifname);

/* SaveConfig: writes the running state of ifname, merged with what only the file holds, over
 * path (saveconfig.c says which is which). file is the loaded file; its peers, keys, port and
 * mark are replaced. Returns 0, or prints why and returns 1, the file untouched. */
int quick_save_config(const char *cmd, const char *path, const char *ifname, struct config *file);

/* down.c: stops the daemon of ifname (its pid file, checked to be a sealnetd) and waits
 * until the interface is gone. Returns 0, or prints why (naming cmd) and returns 1. */
int down_stop_daemon(const char *cmd, const char *ifname);

#endif
