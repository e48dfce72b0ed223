/* Least privilege for the running daemon. Setup needs root: the TUN device, the UDP sockets,
 * netlink, the control socket in /var/run/wireguard, the pid file. Once they exist,
 * privdrop_apply() switches to an unprivileged user with no capability, marks the process
 * no-new-privs and not dumpable, and installs a seccomp filter that allows the system calls
 * of the running daemon and kills it on any other. docs/privileges.md explains each choice.
 *
 * Three jobs outlive the drop, so a helper process does them: opening the (root-owned, 0600)
 * config file again for a reload; removing the control socket and the pid file from their
 * root-owned directories when the daemon exits, however it exits; and what reload and `set`
 * change at run time, the TUN's MTU, link state, addresses and routes (netlink.h's calls are
 * forwarded to it) and SO_MARK on the UDP sockets (privdrop_set_mark()). privdrop_prepare()
 * forks it before any secret is in memory. It keeps uid 0 and CAP_NET_ADMIN, nothing else,
 * under its own small seccomp filter; it opens only the config path, removes only the files
 * it was told about before the drop, changes only the interface whose index it was told then,
 * and marks only UDP sockets. Without a switch (User = root) there is no helper, and the
 * daemon keeps CAP_NET_ADMIN to do the network part itself.
 *
 * Host names (an Endpoint in a reloaded config) are looked up after the drop by a third
 * process, the resolver, also forked by privdrop_prepare(): NSS modules differ from system to
 * system, and what they call cannot be listed in the daemon's filter, which kills. The
 * resolver becomes the daemon's user without capabilities when the daemon drops, and its own
 * filter makes an unknown call fail rather than kill: the look-up fails, and the reload that
 * asked for it, nothing else. privdrop_apply() hands it to addr_set_resolver().
 *
 * Privileges belong to the process, so this module's state is the process's: one helper, one
 * resolver. This file is the drop and its order; the helper and its protocol are helper.h,
 * the resolver resolver.h, the seccomp filters of all three processes sandbox.h. */
#ifndef SEALNET_PRIVDROP_H
#define SEALNET_PRIVDROP_H

#include <stdbool.h>
#include <stdint.h>

#define PRIVDROP_MAX_REMOVE 4

struct privdrop_opts {
	/* NULL: "sealnet" if that user exists, else "nobody". A user with our own uid (root,
	 * when started as root) means no switch and no helper; capabilities and the filter
	 * still apply. */
	const char *user;
	bool sandbox; /* the seccomp filter; off leaves the user and capabilities dropped */
	/* The one file privdrop_open_config() opens after the drop (NULL: none). */
	const char *config_path;
	/* Files the helper removes when the daemon has exited, if they are still the files that
	 * existed at the drop (same inode). NULL entries are skipped. */
	const char *remove[PRIVDROP_MAX_REMOVE];
	/* The TUN's ifindex: after the drop, the only interface the helper changes (0: none). */
	int ifindex;
};

/* Makes the process not dumpable (no core dump will hold the private key) and forks the
 * helper and the resolver. Call early, before the config and its private key are read: they
 * are copies of the process as it is then. Returns 0 or -errno. */
int privdrop_prepare(void);
/* Drops privileges as o says (see above); logs what it did and why it failed. On error the
 * process may be half-dropped: the caller exits. Returns 0 or -errno. */
int privdrop_apply(const struct privdrop_opts *o);
/* Opens the config file read-only: open(2) before the drop, and after it through the helper,
 * which opens o->config_path only (as uid 0 without capabilities: a file root owns, such as
 * /etc/sealnet/IFACE.conf at 0600). Returns a descriptor or -errno. */
int privdrop_open_config(const char *path);
/* SO_MARK = mark on the socket fd: setsockopt(2) before the drop or without a switch, and
 * after it through the helper, which marks UDP sockets only. Returns 0 or -errno (-EPIPE: the
 * helper is gone). */
int privdrop_set_mark(int fd, uint32_t mark);
/* Opens a key file a config names (PrivateKeyFile, PresharedKeyFile) read-only: open(2)
 * before the drop, and the helper remembers the path; after it through the helper, which
 * opens those paths only. Returns a descriptor or -errno (-EPERM for another path after the
 * drop, -ENOSPC when the helper keeps no more paths). */
int privdrop_open_key(const char *path);
/* What to add to the message for an error of privdrop_open_config() or privdrop_open_key():
 * "" or a sentence that starts with a space. */
const char *privdrop_open_hint(int err);

/* For helper.c and resolver.c, the children's own drops. */

/* The bounding set down to keep, when we may change it (CAP_SETPCAP). Returns 0 or -errno. */
int privdrop_caps_bound(uint64_t keep);
/* Effective = permitted = keep (what of it we hold), inheritable and ambient empty. Returns 0
 * or -errno. */
int privdrop_caps_set(uint64_t keep);
/* Forks a child named name (its comm, at most 15 characters) that runs child_main(fd) with
 * its end of a new SOCK_SEQPACKET pair on fd, and exits when it returns; *ours gets the other
 * end. The child ignores the signals meant for the daemon (a terminal's ^C, systemd's SIGTERM
 * to the whole unit: it must outlive the daemon), leaves the terminal's session, and keeps
 * no other descriptor (/dev/null on 0, 1 and 2). Returns 0 or -errno. */
int privdrop_spawn(const char *name, void (*child_main)(int fd), int *ours);

#endif
