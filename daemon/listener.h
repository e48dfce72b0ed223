/* Accepting connections without running out of descriptors: a guard around a libevent
 * listener (the metrics port's, the control socket's).
 *
 * Idle connections cost a descriptor each until their timeout. Without a cap, a thousand of
 * them take every descriptor the process may open; accept() then fails with EMFILE, the
 * listening socket stays readable, and libevent calls accept() again at once, forever: 100%
 * CPU, and nothing else can open a file or a socket (reload, `wg set listen-port`, the other
 * listener). So:
 *   - at most max connections at once (max is lowered to RLIMIT_NOFILE / 8, so that two
 *     listeners never take more than a quarter); at the cap the listener stops accepting and
 *     the kernel's backlog holds the rest, costing us nothing, until a connection goes;
 *   - when accept() fails anyway (EMFILE, ENFILE, ENOBUFS...), one spare descriptor is given
 *     up to accept the waiting connection and close it (the client hears at once instead of
 *     waiting in a backlog nobody serves), and the listener pauses for
 *     LISTENER_BACKOFF_MS (logging at most once a LISTENER_LOG_INTERVAL_SEC).
 * Idle connections are the owner's to time out. */
#ifndef SEALNET_LISTENER_H
#define SEALNET_LISTENER_H

#include <stdbool.h>

struct evconnlistener;
struct listener;

#define LISTENER_BACKOFF_MS 1000
#define LISTENER_LOG_INTERVAL_SEC 60

/* Guards l (still owned by the caller, who frees it after listener_free()). what names it
 * in logs ("wg0: metrics"). Reads RLIMIT_NOFILE and opens the spare descriptor now: call it
 * before privileges are dropped. Returns 0 or -errno; *out freed with listener_free(). */
int listener_new(struct evconnlistener *l, unsigned max, const char *what, struct listener **out);
/* A connection was accepted (each must be matched by one listener_closed()). */
void listener_opened(struct listener *g);
/* A connection is gone; below the cap the listener accepts again. */
void listener_closed(struct listener *g);
/* The cap in force (max as lowered by the descriptor limit). */
unsigned listener_max(const struct listener *g);
/* Stops guarding: no more calls into the evconnlistener. Connections still open may call
 * listener_closed() later (libevent frees some on the next loop turn); the guard is freed
 * with the last of them. NULL is fine. */
void listener_free(struct listener *g);

#endif
