/* The seccomp filters of sealnetd's three processes (Sandbox = on; docs/privileges.md): each
 * call installs one filter on the calling process, for good. The tables of allowed system
 * calls live in sandbox.c, each with why it is there; what the processes are is privdrop.h's
 * business.
 *
 * Anything a filter does not name kills the daemon and the helper (the whole process, not the
 * thread: a daemon that lost a thread would go on in an unknown state; the kernel logs the
 * call that did it, audit type 1326, `dmesg`), and fails with EPERM in the resolver, whose
 * NSS modules make calls no list can foresee.
 *
 * Each returns 0 or -errno (a libseccomp error; the filter is then not installed). */
#ifndef SEALNET_SANDBOX_H
#define SEALNET_SANDBOX_H

#include <stdbool.h>

/* The running daemon. helper_unlinks: a helper removes the control socket and the pid file
 * at exit, so the daemon's own unlink() gets EACCES instead of being allowed. */
int sandbox_daemon(bool helper_unlinks);
/* The root helper: its socket pair, opening files read-only, removing files, SO_MARK. */
int sandbox_helper(void);
/* The resolver: getaddrinfo() with this system's NSS modules. */
int sandbox_resolver(void);

#endif
