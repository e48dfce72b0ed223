/* What the fuzz targets share (fuzz.c): a stand-in for the system, so that a device is built
 * by the daemon's own device_new() and device_apply() without a TUN, netlink or sockets; the
 * fixed identities of the test network; and a reader that takes the fuzz input apart.
 *
 * The stand-ins are linker wraps (LINK-WRAP at the top of fuzz.c). Every target links
 * fuzz.o, so every target runs with them. */
#ifndef SEALNET_FUZZ_H
#define SEALNET_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "messages.h"
#include "udp.h"

struct config;
struct device;
struct event_base;

/* Once per process (LLVMFuzzerInitialize): libsodium, the event base, quiet logs. With
 * SEALNET_FUZZ_LOG=1 in the environment the daemon logs to stderr at debug level. */
void fuzz_init(void);
/* A poll-backed base (epoll refuses /dev/null, which stands in for the TUN). Never
 * dispatched: peer timers are added to it and removed when the peers go. */
struct event_base *fuzz_base(void);

/* --- the fake system --- */

/* What tun_open() grants of what the device asks for (TUN_*). */
extern unsigned fuzz_tun_granted;
/* Whether udp_send() and udp_send_train() succeed. */
extern bool fuzz_udp_ok;
/* The system steps of device_apply() that must succeed (netlink's sets and adds, udp_open(),
 * udp_set_mark()) are counted in fuzz_apply_calls; the call numbered fuzz_fail_at (from 1)
 * fails with -EPERM, none if 0. */
extern unsigned fuzz_fail_at, fuzz_apply_calls;
/* What device_realtime() returns; every call moves it on by a second, so each handshake
 * initiation carries a newer timestamp than the last. */
extern uint64_t fuzz_realtime;
/* What device_now() returns to the other modules (device.c's own calls, made when a
 * config is applied, still read the real clock). */
extern uint64_t fuzz_now;

/* What the next udp_recv() hands out: one read of len bytes (a datagram, or a GRO train of
 * seglen-sized ones), then -EAGAIN. */
struct fuzz_recv {
	const uint8_t *buf;
	size_t len, seglen;
	union endpoint from;
	struct udp_src to; /* the address of ours it was sent to */
	bool ready;
};
extern struct fuzz_recv fuzz_recv;

/* The last handshake message of each type (index = enum message_type) that the device sent,
 * sent or not: the harness plays the peer that receives it. */
struct fuzz_sent {
	uint8_t buf[sizeof(struct message_handshake_initiation)];
	size_t len; /* 0 = none since fuzz_sent_clear() */
	union endpoint to;
};
extern struct fuzz_sent fuzz_sent[MESSAGE_HANDSHAKE_COOKIE + 1];
void fuzz_sent_clear(void);

/* When set, called with every datagram the device hands to udp_send() or udp_send_train()
 * (a train one datagram at a time), whether the send then succeeds or not: a target checks
 * what leaves. NULL by default. */
extern void (*fuzz_on_send)(const union endpoint *to, const uint8_t *buf, size_t len);

/* --- the test network: A is the device under test, B and C its peers --- */

enum fuzz_who { FUZZ_A, FUZZ_B, FUZZ_C, FUZZ_NODES };
/* Fixed keys, so that captured messages stay valid seeds across runs. */
extern uint8_t fuzz_private[FUZZ_NODES][KEY_LEN];
extern uint8_t fuzz_public[FUZZ_NODES][KEY_LEN];
extern uint8_t fuzz_psk_ab[KEY_LEN];
/* A's configuration file (text), and the same parsed. B has an endpoint, C none. */
extern const char *fuzz_config_text;
extern struct config *fuzz_config;
/* B's endpoint as A knows it, and A's as B sees it. */
extern union endpoint fuzz_endpoint_b, fuzz_endpoint_a;

/* device_new() and device_apply(fuzz_config) through the stand-ins. offload:
 * CONFIG_OFFLOAD_*. Aborts if that fails: the harness is broken, not the input. */
struct device *fuzz_device_new(unsigned offload);
/* device_free(); NULL is fine. */
void fuzz_device_free(struct device *dev);

/* --- the input --- */

struct fuzz_input {
	const uint8_t *p;
	size_t left;
};

/* Each returns 0 (or nothing) once the input is used up. */
uint8_t fuzz_u8(struct fuzz_input *in);
uint16_t fuzz_u16(struct fuzz_input *in);
uint32_t fuzz_u32(struct fuzz_input *in);
uint64_t fuzz_u64(struct fuzz_input *in);
/* Up to n bytes; *got says how many. */
const uint8_t *fuzz_bytes(struct fuzz_input *in, size_t n, size_t *got);

#endif
