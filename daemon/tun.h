/* The TUN device: opened by name, non-blocking, IFF_TUN | IFF_NO_PI (bare IP packets). */
#ifndef SEALNET_TUN_H
#define SEALNET_TUN_H

#include <net/if.h>

/* Creates (or attaches to) the TUN device `name`. On success returns the fd and writes the
 * kernel's name for it into ifname; -errno otherwise. The device vanishes when the fd is
 * closed, unless it was made persistent by someone else. */
int tun_open(const char *name, char ifname[IFNAMSIZ]);

#endif
