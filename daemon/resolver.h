/* The resolver: the process that looks host names up once the daemon has dropped
 * (privdrop.h says why it is a process of its own). privdrop_prepare() starts it as a copy of
 * the daemon before the drop; resolver_arm() makes it drop to the daemon's user, under
 * sandbox_resolver() if asked, before any look-up.
 *
 * Its socket pair carries 'A' (the user, Sandbox) once, then
 *   'R' host NUL port NUL             look up, answered with the error and the endpoint
 * and it exits when the daemon's end closes.
 *
 * The functions below are the daemon's side. */
#ifndef SEALNET_RESOLVER_H
#define SEALNET_RESOLVER_H

#include <stdbool.h>
#include <sys/types.h>

union endpoint;

/* Forks the resolver (privdrop_spawn()). Returns 0 or -errno. */
int resolver_start(void);
/* Tells the resolver whom to become, while the daemon is still root, and waits for it to
 * drop: uid and gid (the daemon's own: no switch), its filter if sandbox. Returns 0 or
 * -errno (-EPIPE: it is gone). */
int resolver_arm(uid_t uid, gid_t gid, bool sandbox);
/* Looks host and port up through the resolver: for addr_set_resolver(). Returns 0 or
 * -EHOSTUNREACH; logs once the resolver is gone. */
int resolver_lookup(const char *host, const char *port, union endpoint *out);

#endif
