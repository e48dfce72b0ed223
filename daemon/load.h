/* Whether handshake messages are coming faster than we should spend CPU on them ("under
 * load"), in which case they get a cookie reply instead of Diffie-Hellman, as WireGuard does.
 *
 * WireGuard decides on its backlog: under load while the queue of handshakes waiting for a
 * worker holds 1/8 of its capacity or more, and for one second after (wireguard-linux
 * receive.c, last_under_load). A steady trickle that the CPUs keep up with never queues,
 * however many a second it is. Our loop is single-threaded and handles each message as it
 * reads it, so the backlog is kept in time instead: the handshake work done, less the share
 * of the clock it may take (LOAD_SHARE_SHIFT: 1/8 of one core). What is left is work that ran
 * beyond that share, i.e. how far behind a queue drained at that share would be; at
 * LOAD_BACKLOG_NS we are under load, and stay so for LOAD_HOLD_NS after the last message that
 * found the backlog that deep.
 *
 * Work is measured, so a message costs what it really cost: a replayed initiation, refused by
 * the timestamp check after one Diffie-Hellman, weighs the same as any other refused one,
 * and 130 or 1000 of them a second take a few percent of the budget, never a cookie round
 * for everyone. A message answered with a cookie (or dropped by the rate limit) costs us
 * little, but still counts what it would have cost (the running average of handled ones):
 * otherwise a flood would switch load off by the very cookies it triggers, and every other
 * second let its Diffie-Hellmans through again.
 *
 * Pure: times (monotonic ns) come in from the caller. */
#ifndef SEALNET_LOAD_H
#define SEALNET_LOAD_H

#include <stdbool.h>
#include <stdint.h>

#define LOAD_SHARE_SHIFT 3          /* 1/8 of one core for handshakes */
#define LOAD_BACKLOG_NS 4000000ull  /* 4 ms: ~100 refused initiations back to back */
#define LOAD_HOLD_NS 1000000000ull  /* WireGuard's "last under load": 1 s */
#define LOAD_COST_GUESS_NS 50000ull /* one message before any was measured */

struct load {
	uint64_t backlog;   /* ns of work beyond the share, as of `last`; at most 2 x threshold,
	                     * so that load ends soon after a flood */
	uint64_t last;      /* when backlog was last drained */
	uint64_t cost;      /* running average of a handled message, ns */
	uint64_t until;     /* under load until then */
	uint64_t threshold; /* LOAD_BACKLOG_NS (lower in the fuzz target) */
};

void load_init(struct load *l);
/* Before a message with a valid mac1 is handled, at now: true if it must carry a valid mac2
 * (or get a cookie reply). */
bool load_under(struct load *l, uint64_t now);
/* The message was handled: from start to end (ns), counted at its real cost. */
void load_handled(struct load *l, uint64_t start, uint64_t end);
/* The message was answered with a cookie or dropped by the rate limit: counted at what a
 * handled one costs on average. */
void load_deferred(struct load *l);

#endif
