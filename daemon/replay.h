/* Anti-replay window for transport-data counters (RFC 6479 style, as in WireGuard).
 *
 * The bitmap is REPLAY_WINDOW_BITS bits in 64-bit blocks used as a ring. When the greatest
 * counter moves into a new block, the blocks it skips over are cleared whole rather than bit
 * by bit, so the block holding the greatest counter is only partly meaningful and the usable
 * window is one block less than the bitmap: with G the greatest counter accepted so far, a
 * counter C < G is accepted once if G - C <= REPLAY_WINDOW_SIZE (8128) and rejected if it is
 * further behind. Counters ahead of G are always accepted and move the window.
 *
 * A struct replay belongs to one receiving keypair; it is not thread-safe. */
#ifndef SEALNET_REPLAY_H
#define SEALNET_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#define REPLAY_WINDOW_BITS 8192
#define REPLAY_WINDOW_SIZE (REPLAY_WINDOW_BITS - 64)
/* WireGuard's REJECT_AFTER_MESSAGES, 2^64 - 2^13 - 1: a counter this high is never valid. */
#define REPLAY_REJECT_AFTER_MESSAGES (UINT64_MAX - (1ULL << 13))

struct replay {
	uint64_t greatest; /* meaningful once seen_any */
	bool seen_any;
	uint64_t bitmap[REPLAY_WINDOW_BITS / 64];
};

void replay_init(struct replay *r);
/* Returns true if counter is new and within the window, and records it; false if replayed or
 * too old, or if counter >= REPLAY_REJECT_AFTER_MESSAGES. Call only after the packet has
 * authenticated, or a forged counter would move the window. */
bool replay_check(struct replay *r, uint64_t counter);

#endif
