/* Where sealnet keeps its files, for the daemon and the tool alike: each directory is named
 * here once. The Makefile's install and the unit file name /etc/sealnet too (SYSCONFDIR). */
#ifndef SEALNET_PATHS_H
#define SEALNET_PATHS_H

/* The control sockets, IFACE.sock: wg's own directory, so that wg(8) finds them. */
#define PATHS_SOCKET_DIR "/var/run/wireguard"
/* A daemonized sealnetd's IFACE.pid and IFACE.log, the registry's state and metrics. */
#define PATHS_RUN_DIR "/run/sealnet"
/* IFACE.conf and the key files it names, for `sealnet up IFACE` and sealnetd IFACE. */
#define PATHS_CONFIG_DIR "/etc/sealnet"

#endif
