/* The fake system under the fuzz targets, and what they share (see fuzz.h).
 *
 * A device is made by the daemon's own device_new() and device_apply(); only what they ask
 * of the kernel is replaced: tun_open() hands out /dev/null (writes of decrypted packets
 * succeed and vanish), netlink does nothing and succeeds (but for the call of an add or a
 * set the harness picks with fuzz_fail_at, as udp_open() or udp_set_mark() may fail too),
 * the UDP "sockets" are -1 and
 * sending succeeds or fails as the harness says while the handshake messages are kept for
 * the harness to answer; udp_recv() hands out what the harness puts in fuzz_recv. The clocks
 * are the harness's. getaddrinfo() is held to numeric hosts: a config naming a host must
 * not make the fuzzer query DNS.
 *
 * LINK-WRAP: -Wl,--wrap=tun_open -Wl,--wrap=netlink_open -Wl,--wrap=netlink_set_mtu
 * LINK-WRAP: -Wl,--wrap=netlink_set_up -Wl,--wrap=netlink_addr_add -Wl,--wrap=netlink_addr_del
 * LINK-WRAP: -Wl,--wrap=netlink_route_add_table -Wl,--wrap=netlink_route_del_table -Wl,--wrap=udp_open
 * LINK-WRAP: -Wl,--wrap=udp_set_mark -Wl,--wrap=udp_send -Wl,--wrap=udp_send_train
 * LINK-WRAP: -Wl,--wrap=udp_recv -Wl,--wrap=device_realtime -Wl,--wrap=device_now
 * LINK-WRAP: -Wl,--wrap=getaddrinfo -Wl,--wrap=netlink_batch
 */
#include "fuzz.h"

#include <errno.h>
#include <event2/event.h>
#include <endian.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cipher.h"
#include "config.h"
#include "device.h"
#include "key.h"
#include "log.h"
#include "netlink.h"
#include "tun.h"
#include "udp.h"

unsigned fuzz_tun_granted = TUN_VNET_HDR | TUN_TSO | TUN_USO;
bool fuzz_udp_ok;
unsigned fuzz_fail_at, fuzz_apply_calls;
uint64_t fuzz_realtime = 1700000000ULL * NSEC_PER_SEC;
uint64_t fuzz_now = 1000 * NSEC_PER_SEC;
struct fuzz_recv fuzz_recv;
struct fuzz_sent fuzz_sent[MESSAGE_HANDSHAKE_COOKIE + 1];
void (*fuzz_on_send)(const union endpoint *to, const uint8_t *buf, size_t len);

uint8_t fuzz_private[FUZZ_NODES][KEY_LEN];
uint8_t fuzz_public[FUZZ_NODES][KEY_LEN];
uint8_t fuzz_psk_ab[KEY_LEN];
const char *fuzz_config_text;
struct config *fuzz_config;
union endpoint fuzz_endpoint_b, fuzz_endpoint_a;

static struct event_base *base;

/* --- the wraps --- */

int __wrap_tun_open(const char *name, char ifname[IFNAMSIZ], unsigned *features);
int __wrap_netlink_open(struct netlink **out);
int __wrap_netlink_set_mtu(struct netlink *nl, int ifindex, unsigned mtu);
int __wrap_netlink_set_up(struct netlink *nl, int ifindex, bool up);
int __wrap_netlink_addr_add(struct netlink *nl, int ifindex, const struct ip_prefix *p);
int __wrap_netlink_addr_del(struct netlink *nl, int ifindex, const struct ip_prefix *p);
int __wrap_netlink_route_add_table(struct netlink *nl, int ifindex, const struct ip_prefix *p,
				   uint32_t table);
int __wrap_netlink_route_del_table(struct netlink *nl, int ifindex, const struct ip_prefix *p,
				   uint32_t table);
int __wrap_netlink_batch(struct netlink *nl, const struct netlink_req *reqs, size_t n,
			 int *results);
int __wrap_udp_open(struct udp *u, uint16_t port, unsigned offload);
int __wrap_udp_set_mark(const struct udp *u, uint32_t mark);
int __wrap_udp_send(const struct udp *u, const union endpoint *to, struct udp_src *src,
		    const void *buf, size_t len);
int __wrap_udp_send_train(struct udp *u, const union endpoint *to, struct udp_src *src,
			  const uint8_t *buf, size_t len, size_t seglen, unsigned count);
ssize_t __wrap_udp_recv(const struct udp *u, int fd, uint8_t *buf, size_t cap, union endpoint *from,
			struct udp_src *to, size_t *seglen);
uint64_t __wrap_device_realtime(void);
uint64_t __wrap_device_now(void);
int __real_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		       struct addrinfo **res);
int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		       struct addrinfo **res);

/* One more call of a system step of device_apply(): the one numbered fuzz_fail_at fails
 * with -EPERM, what binding port 80 answers once the daemon runs unprivileged. Removals are
 * no such step: their failure is logged and the apply goes on. */
static int apply_step(void)
{
	return ++fuzz_apply_calls == fuzz_fail_at ? -EPERM : 0;
}

int __wrap_tun_open(const char *name, char ifname[IFNAMSIZ], unsigned *features)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	snprintf(ifname, IFNAMSIZ, "%s", name);
	if (features)
		*features &= fuzz_tun_granted;
	return fd;
}

int __wrap_netlink_open(struct netlink **out)
{
	/* device_free() and the wraps below never look at it. */
	*out = NULL;
	return 0;
}

int __wrap_netlink_set_mtu(struct netlink *nl, int ifindex, unsigned mtu)
{
	return apply_step();
}

int __wrap_netlink_set_up(struct netlink *nl, int ifindex, bool up)
{
	return apply_step();
}

int __wrap_netlink_addr_add(struct netlink *nl, int ifindex, const struct ip_prefix *p)
{
	return apply_step();
}

int __wrap_netlink_addr_del(struct netlink *nl, int ifindex, const struct ip_prefix *p)
{
	return 0;
}

int __wrap_netlink_route_add_table(struct netlink *nl, int ifindex, const struct ip_prefix *p,
				   uint32_t table)
{
	return apply_step();
}

int __wrap_netlink_route_del_table(struct netlink *nl, int ifindex, const struct ip_prefix *p,
				   uint32_t table)
{
	return 0;
}

/* device.c's routes, in batches: each add a step, as a single call. */
int __wrap_netlink_batch(struct netlink *nl, const struct netlink_req *reqs, size_t n, int *results)
{
	for (size_t i = 0; i < n; i++)
		results[i] = reqs[i].op == NETLINK_OP_ROUTE_ADD ? apply_step() : 0;
	return 0;
}

int __wrap_udp_open(struct udp *u, uint16_t port, unsigned offload)
{
	int ret = apply_step();

	if (ret)
		return ret;
	/* No descriptors: device_apply() adds no events for them, and udp_close() has nothing
	 * to close. */
	u->fd4 = u->fd6 = -1;
	u->port = port ? port : 51820;
	u->offload4 = u->offload6 = offload;
	return 0;
}

int __wrap_udp_set_mark(const struct udp *u, uint32_t mark)
{
	return apply_step();
}

static void capture(const union endpoint *to, const uint8_t *buf, size_t len)
{
	static const size_t sizes[] = {
		[MESSAGE_HANDSHAKE_INITIATION] = sizeof(struct message_handshake_initiation),
		[MESSAGE_HANDSHAKE_RESPONSE] = sizeof(struct message_handshake_response),
		[MESSAGE_HANDSHAKE_COOKIE] = sizeof(struct message_handshake_cookie),
	};
	uint32_t type;

	if (len < sizeof(type))
		return;
	memcpy(&type, buf, sizeof(type));
	type = le32toh(type);
	if (type < MESSAGE_HANDSHAKE_INITIATION || type > MESSAGE_HANDSHAKE_COOKIE ||
	    len != sizes[type])
		return;
	memcpy(fuzz_sent[type].buf, buf, len);
	fuzz_sent[type].len = len;
	fuzz_sent[type].to = *to;
}

/* A source goes with an endpoint of its own family, or is none (udp_send() would ignore it
 * otherwise, so a mismatch means the datapath kept a stale one). */
static void check_src(const union endpoint *to, const struct udp_src *src)
{
	if (src && src->addr.family && src->addr.family != to->sa.sa_family) {
		fprintf(stderr, "fuzz: udp_send: source of family %d to an endpoint of %d\n",
			src->addr.family, to->sa.sa_family);
		abort();
	}
}

int __wrap_udp_send(const struct udp *u, const union endpoint *to, struct udp_src *src,
		    const void *buf, size_t len)
{
	check_src(to, src);
	capture(to, buf, len);
	if (fuzz_on_send)
		fuzz_on_send(to, buf, len);
	return fuzz_udp_ok ? 0 : -ENETUNREACH;
}

int __wrap_udp_send_train(struct udp *u, const union endpoint *to, struct udp_src *src,
			  const uint8_t *buf, size_t len, size_t seglen, unsigned count)
{
	check_src(to, src);
	/* The batch must describe itself consistently: count datagrams of seglen, the last
	 * one possibly shorter, in len bytes. */
	if (!count || !seglen || len > (size_t)count * seglen ||
	    len <= (size_t)(count - 1) * seglen) {
		fprintf(stderr, "fuzz: udp_send_train: %u datagrams of %zu in %zu bytes\n", count,
			seglen, len);
		abort();
	}
	for (size_t off = 0; fuzz_on_send && off < len; off += seglen)
		fuzz_on_send(to, buf + off, len - off < seglen ? len - off : seglen);
	return fuzz_udp_ok ? (int)count : -ENETUNREACH;
}

ssize_t __wrap_udp_recv(const struct udp *u, int fd, uint8_t *buf, size_t cap, union endpoint *from,
			struct udp_src *to, size_t *seglen)
{
	size_t n = fuzz_recv.len < cap ? fuzz_recv.len : cap;

	if (!fuzz_recv.ready)
		return -EAGAIN;
	fuzz_recv.ready = false;
	if (n)
		memcpy(buf, fuzz_recv.buf, n);
	*from = fuzz_recv.from;
	*to = fuzz_recv.to;
	*seglen = fuzz_recv.seglen;
	return (ssize_t)n;
}

uint64_t __wrap_device_now(void)
{
	return fuzz_now;
}

uint64_t __wrap_device_realtime(void)
{
	fuzz_realtime += NSEC_PER_SEC;
	return fuzz_realtime;
}

int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		       struct addrinfo **res)
{
	struct addrinfo h = { 0 };

	if (hints)
		h = *hints;
	h.ai_flags |= AI_NUMERICHOST | AI_NUMERICSERV;
	return __real_getaddrinfo(node, service, &h, res);
}

void fuzz_sent_clear(void)
{
	for (size_t i = 0; i < sizeof(fuzz_sent) / sizeof(fuzz_sent[0]); i++)
		fuzz_sent[i].len = 0;
}

/* --- setup --- */

static void make_config(void)
{
	char b64[FUZZ_NODES][KEY_B64_LEN], psk[KEY_B64_LEN], err[512];
	static char text[2048];

	for (int i = 0; i < FUZZ_NODES; i++)
		key_to_base64(b64[i], i == FUZZ_A ? fuzz_private[i] : fuzz_public[i]);
	key_to_base64(psk, fuzz_psk_ab);
	snprintf(text, sizeof(text),
		 "[Interface]\n"
		 "PrivateKey = %s\n"
		 "ListenPort = 51820\n"
		 "Address = 100.64.0.1/24, fd00::1/64\n"
		 "\n"
		 "[Peer]\n"
		 "PublicKey = %s\n"
		 "PresharedKey = %s\n"
		 "AllowedIPs = 100.64.0.2/32, 100.64.2.0/24, fd00::2/128, fd00:2::/64\n"
		 "Endpoint = 198.18.0.2:51820\n"
		 "\n"
		 "[Peer]\n"
		 "PublicKey = %s\n"
		 "AllowedIPs = 100.64.0.3/32, fd00::3/128\n",
		 b64[FUZZ_A], b64[FUZZ_B], psk, b64[FUZZ_C]);
	fuzz_config_text = text;
	if (config_parse_string(text, "fuzz.conf", &fuzz_config, err, sizeof(err))) {
		fprintf(stderr, "fuzz: base config: %s\n", err);
		abort();
	}
}

void fuzz_init(void)
{
	struct event_config *cfg;
	const char *v = getenv("SEALNET_FUZZ_LOG");

	if (v && *v == '1')
		log_init("sealnet-fuzz", true, LOG_DEBUG);
	else
		log_init("sealnet-fuzz", true, -1);
	if (cipher_init())
		abort();
	for (int i = 0; i < FUZZ_NODES; i++) {
		memset(fuzz_private[i], 0x41 + i, KEY_LEN);
		if (key_public_from_private(fuzz_public[i], fuzz_private[i]))
			abort();
	}
	memset(fuzz_psk_ab, 0x5a, sizeof(fuzz_psk_ab));
	if (addr_parse_endpoint("198.18.0.2:51820", &fuzz_endpoint_b) ||
	    addr_parse_endpoint("198.18.0.1:51820", &fuzz_endpoint_a))
		abort();
	make_config();
	cfg = event_config_new();
	if (!cfg || event_config_avoid_method(cfg, "epoll"))
		abort();
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (!base)
		abort();
}

struct event_base *fuzz_base(void)
{
	return base;
}

struct device *fuzz_device_new(unsigned offload)
{
	struct device *dev;
	int ret;

	ret = device_new(base, "sn-fuzz0", offload, &dev);
	if (ret) {
		fprintf(stderr, "fuzz: device_new: %s\n", strerror(-ret));
		abort();
	}
	ret = device_apply(dev, fuzz_config);
	if (ret) {
		fprintf(stderr, "fuzz: device_apply: %s\n", strerror(-ret));
		abort();
	}
	return dev;
}

void fuzz_device_free(struct device *dev)
{
	device_free(dev);
}

/* --- the input --- */

const uint8_t *fuzz_bytes(struct fuzz_input *in, size_t n, size_t *got)
{
	const uint8_t *p = in->p;

	if (n > in->left)
		n = in->left;
	in->p += n;
	in->left -= n;
	*got = n;
	return p;
}

uint8_t fuzz_u8(struct fuzz_input *in)
{
	size_t got;
	const uint8_t *p = fuzz_bytes(in, 1, &got);

	return got ? p[0] : 0;
}

/* Little-endian; each byte read in its own statement, as argument order is unspecified. */
uint16_t fuzz_u16(struct fuzz_input *in)
{
	uint16_t lo = fuzz_u8(in);

	return (uint16_t)(lo | fuzz_u8(in) << 8);
}

uint32_t fuzz_u32(struct fuzz_input *in)
{
	uint32_t lo = fuzz_u16(in);

	return lo | (uint32_t)fuzz_u16(in) << 16;
}

uint64_t fuzz_u64(struct fuzz_input *in)
{
	uint64_t lo = fuzz_u32(in);

	return lo | (uint64_t)fuzz_u32(in) << 32;
}
