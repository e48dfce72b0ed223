#include "tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* One place that knows how to turn a name and IFF_* flags into a TUN fd, so that the
 * vnet-header and multi-queue variants only differ in the flags they pass. */
static int tun_open_flags(const char *name, char ifname[IFNAMSIZ], short flags)
{
	struct ifreq ifr;
	size_t len = name ? strlen(name) : 0;
	int fd, ret;

	/* The kernel would silently truncate; a caller asking for "sealnet-overlay0" must
	 * not end up configuring "sealnet-overlay" instead. */
	if (len >= IFNAMSIZ)
		return -ENAMETOOLONG;

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = flags;
	/* An empty name lets the kernel pick "tunN"; "%d" in a name is expanded by it too. */
	if (len)
		memcpy(ifr.ifr_name, name, len);

	/* Non-blocking from the start: the event loop must never sleep in read() or write(). */
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		goto err_close;
	}
	memcpy(ifname, ifr.ifr_name, IFNAMSIZ);
	ifname[IFNAMSIZ - 1] = '\0';
	return fd;

err_close:
	close(fd);
	return ret;
}

/* Debian 12's headers predate USO (Linux 6.2); the values are ABI. */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

int tun_open(const char *name, char ifname[IFNAMSIZ], unsigned *features)
{
	unsigned want = features ? *features : 0;
	unsigned tso = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
	int fd;

	/* IFF_NO_PI: packets are bare IP, the version nibble tells v4 from v6. */
	fd = tun_open_flags(name, ifname,
			    IFF_TUN | IFF_NO_PI | (want & TUN_VNET_HDR ? IFF_VNET_HDR : 0));
	if (fd < 0 || !features)
		return fd;
	*features = want & TUN_VNET_HDR;
	if (!(want & TUN_VNET_HDR))
		return fd;
	if ((want & TUN_TSO) && (want & TUN_USO) &&
	    !ioctl(fd, TUNSETOFFLOAD, tso | TUN_F_USO4 | TUN_F_USO6)) {
		*features |= TUN_TSO | TUN_USO;
	} else if ((want & TUN_TSO) && !ioctl(fd, TUNSETOFFLOAD, tso)) {
		*features |= TUN_TSO;
	} else {
		/* Checksum offload alone still saves the sender a pass over every packet. */
		ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM);
	}
	return fd;
}
