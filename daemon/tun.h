/* The TUN device: opened by name, non-blocking, IFF_TUN | IFF_NO_PI (bare IP packets). */
#ifndef SEALNET_TUN_H
#define SEALNET_TUN_H

#include <net/if.h>

/* Features, asked for and granted. */
#define TUN_VNET_HDR (1u << 0) /* every packet carries a struct offload_vnet_hdr */
#define TUN_TSO (1u << 1)      /* the kernel hands us (and takes) TCP super-packets */
#define TUN_USO (1u << 2)      /* and UDP super-packets (Linux 6.2 and later) */

/* Creates (or attaches to) the TUN device `name`. On success returns the fd and writes the
 * kernel's name for it into ifname; -errno otherwise. The device vanishes when the fd is
 * closed, unless it was made persistent by someone else. *features says what the caller
 * wants (NULL or 0: bare packets) and comes back as what the kernel granted: offloads it
 * refuses are dropped one by one, never an error. */
int tun_open(const char *name, char ifname[IFNAMSIZ], unsigned *features);

#endif
