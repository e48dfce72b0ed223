/*
 * udpfuzz's modules: the command line (udpfuzz.c), the target and its sockets (target.c), and
 * one file per mode.  Every mode sends only through a struct target, whose addresses are
 * checked to be in the test ranges.
 */
#ifndef SEALNET_TESTS_UDPFUZZ_H
#define SEALNET_TESTS_UDPFUZZ_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "messages.h"

#define MAX_COUNT 1000000UL
#define MAX_DATAGRAM 1600
#define MAX_OVERSIZED 65507 /* the largest UDP payload over IPv4 */
#define MAX_SOURCES 16
#define MAX_SECONDS 600

#define MSG_INITIATION MESSAGE_HANDSHAKE_INITIATION
#define MSG_RESPONSE MESSAGE_HANDSHAKE_RESPONSE
#define MSG_COOKIE MESSAGE_HANDSHAKE_COOKIE
#define MSG_TRANSPORT MESSAGE_DATA
#define SIZE_INITIATION sizeof(struct message_handshake_initiation)
#define SIZE_RESPONSE sizeof(struct message_handshake_response)
#define SIZE_COOKIE sizeof(struct message_handshake_cookie)
#define SIZE_TRANSPORT_MIN MESSAGE_MINIMUM_LENGTH

struct target {
	int fds[MAX_SOURCES];
	unsigned nfds, next;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	unsigned long interval_us;
	uint64_t deadline_ns; /* 0: none */
	unsigned long sent;
	unsigned long bytes;
	unsigned long errors;
	int last_errno;
};

/* udpfuzz.c: the command line, and what every mode shares. */
extern const char *progname;
extern size_t max_len;                 /* -L: the largest datagram garbage and mutate make */
extern volatile sig_atomic_t stopping; /* SIGINT or SIGTERM: stop sending, still report */
void usage(void) __attribute__((noreturn));
bool parse_ulong(const char *s, unsigned long max, unsigned long *out);
uint64_t rng_next(void);
size_t rng_below(size_t n);
void rng_fill(uint8_t *buf, size_t len);

/* target.c: where datagrams go, from which sources, how fast, and for how long. */
uint64_t now_ns(void);
void pause_us(unsigned long us);
int resolve(const char *host, const char *port, struct sockaddr_storage *ss, socklen_t *len);
int target_open(struct target *t, const char *host, const char *port, char **srcs, unsigned nsrcs,
		const char *srcport);
void target_close(struct target *t);
bool target_expired(const struct target *t);
void target_send_from(struct target *t, unsigned src, const uint8_t *buf, size_t len);
void target_send(struct target *t, const uint8_t *buf, size_t len);

/* The modes: 0, or non-zero after saying why on stderr. */
int garbage_run(struct target *t, unsigned long count);
int replay_run(struct target *t, const char *path, unsigned long max, unsigned long rounds);
int mutate_run(struct target *t, const char *path, unsigned long count);
int flood_run(struct target *t, const char *pub_b64, unsigned long count, unsigned long rate,
	      bool consume);
int hold_run(int argc, char **argv, unsigned long seconds);
int check_run(const char *path, const char *portlist, const char *marker, size_t mtu);

#endif
