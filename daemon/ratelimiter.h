/* Per-source rate limit for handshake initiations, as WireGuard does it: a token bucket per
 * source address (per /64 for IPv6, since one host usually owns a whole /64) allowing
 * RATELIMITER_PACKETS_PER_SECOND with bursts of RATELIMITER_BURST. Only consulted when the
 * device is under load; a refused packet is dropped (or answered with a cookie).
 *
 * The table is a fixed, preallocated array indexed by a keyed hash (SipHash with a random
 * key), so the per-packet path never allocates and an attacker cannot pick addresses that
 * collide. An entry idle for RATELIMITER_IDLE_NS has a full bucket anyway and may be reused
 * by another source. When no entry is free the packet is refused: fail closed.
 *
 * Not thread-safe: called from the event loop only. */
#ifndef SEALNET_RATELIMITER_H
#define SEALNET_RATELIMITER_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

#define RATELIMITER_PACKETS_PER_SECOND 20
#define RATELIMITER_BURST 5
#define RATELIMITER_ENTRIES 8192
#define RATELIMITER_IDLE_NS 1000000000ULL

struct ratelimiter;

/* Returns 0 or -ENOMEM; *out is owned by the caller and freed with ratelimiter_free(). */
int ratelimiter_new(struct ratelimiter **out);
void ratelimiter_free(struct ratelimiter *rl);
/* now_ns: monotonic nanoseconds. true = allowed. Unknown families are refused. */
bool ratelimiter_allow(struct ratelimiter *rl, const struct ip_addr *src, uint64_t now_ns);

#endif
