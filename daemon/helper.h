/* The root helper: the process that does, after the drop, the few things the daemon cannot
 * (privdrop.h says which and why). privdrop_prepare() starts it before any secret is in
 * memory; it keeps uid 0 and CAP_NET_ADMIN, nothing else, under sandbox_helper().
 *
 * The daemon talks to it over a SOCK_SEQPACKET pair, one message per request, each answered
 * with a 32-bit errno (0 on success) and, for the opens, the descriptor (SCM_RIGHTS):
 *   'N' ifindex (int32)               arm the network part, once, while the daemon is root:
 *                                    the TUN's ifindex, 0 for none
 *   'A' config-path NUL path NUL ...  arm, once, after 'N': remember the config path and the
 *                                    inodes of the files to remove
 *   'K' path                          before 'A': a key file the config names (PrivateKeyFile,
 *                                    PresharedKeyFile); the helper keeps every one named
 *   'C'; 'k' path                     after 'A': open the config; one of the key files named
 *   'L' struct netlink_req ...        1 to NETLINK_BATCH_MAX of them: MTU, up/down, address
 *                                    add/del, route add/del, built by netlink.c after
 *                                    netlink_batch_parse() checked that each names the armed
 *                                    ifindex (a route's output interface too), and sent to
 *                                    the kernel at once; one refused refuses them all. The
 *                                    answer: the errno, then one errno per request (the
 *                                    kernel's answer to it), unless the batch was refused
 *   'M' mark (uint32) + SCM_RIGHTS    SO_MARK on the socket passed, if it is UDP
 * Anything else, or out of that order, is answered EPERM. When the daemon's end closes (exit,
 * crash, SIGKILL), an armed helper removes those files that still have the inode they had at
 * arming, so a daemon started since on the same interface keeps its own, and exits.
 *
 * The functions below are the daemon's side. They return 0 or -errno: the helper's answer,
 * or -EPIPE when it is gone (or was never started, or dismissed). */
#ifndef SEALNET_HELPER_H
#define SEALNET_HELPER_H

#include <stddef.h>
#include <stdint.h>

struct netlink_req;

/* Room for the paths of the key files named before the drop, NULs included. */
#define HELPER_KEY_PATHS_MAX 16384

/* Forks the helper (privdrop_spawn()). Returns 0 or -errno. */
int helper_start(void);
/* Closes our end: an unarmed helper then exits, removing nothing. */
void helper_dismiss(void);
/* Arms the helper, while the daemon is still root: the only interface it will change
 * (ifindex, 0: none), the only config it will open (config, "" for none), and the files it
 * removes at the end (remove: PRIVDROP_MAX_REMOVE paths, NULL entries skipped). */
int helper_arm(int ifindex, const char *config, const char *const *remove);
/* Before helper_arm(): path is a key file that helper_open_key() may open later. 0 without a
 * helper; -ENOSPC when the helper keeps no more paths (HELPER_KEY_PATHS_MAX bytes of them). */
int helper_name_key(const char *path);
/* After helper_arm(): the config file, a key file named before, opened read-only by the
 * helper. Return a descriptor (the caller's to close) or -errno (-EPERM: a key file not named
 * before the drop). */
int helper_open_config(void);
int helper_open_key(const char *path);
/* After helper_arm(): SO_MARK = mark on the UDP socket fd. */
int helper_set_mark(int fd, uint32_t mark);
/* After helper_arm(): changes to the armed interface, reqs[0..n) (1 to NETLINK_BATCH_MAX),
 * for netlink_set_forward(): returns and fills results[] as netlink_batch() does. */
int helper_netlink(const struct netlink_req *reqs, size_t n, int *results);

#endif
