/* A peer's counters, named once. PEER_COUNTERS(C) expands C(field, name, wg, metric, help)
 * for each, and every place that shows them expands it or walks peer_counters[]: the struct
 * below, the control socket's get answer (uapi_get.c), the SIGUSR1 log line (device.c), the
 * metrics page (metrics.c) and the tool's parser (tools/ipc.c); tests/unit/test_counters.c
 * checks that each counter reaches all of them.
 *   field   the member of struct peer_stats
 *   name    the key: in the log line as it stands, in a get answer as it stands if wg (wg's
 *           own keys, which wg(8) reads) else with a sealnet_ prefix (get=sealnet only); the
 *           member of the tool's struct ipc_peer
 *   metric  the Prometheus family, sealnet_peer_<metric>_total
 *   help    its # HELP text
 * Names are interface: scripts, dashboards and wg(8) read them. Add at the end; never
 * rename. */
#ifndef SEALNET_PEER_STATS_H
#define SEALNET_PEER_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PEER_COUNTERS(C)                                                                           \
	C(rx_bytes, rx_bytes, true, "rx_bytes",                                                    \
	  "Bytes of authenticated datagrams received from the peer (UDP payload).")                \
	C(tx_bytes, tx_bytes, true, "tx_bytes",                                                    \
	  "Bytes of datagrams sent to the peer (UDP payload).")                                    \
	C(rx_packets, rx_packets, false, "rx_packets",                                             \
	  "Authenticated datagrams received from the peer (data, keepalives, handshakes).")        \
	C(tx_packets, tx_packets, false, "tx_packets",                                             \
	  "Datagrams sent to the peer (data, keepalives, handshakes).")                            \
	C(handshakes_completed, handshakes, false, "handshakes",                                   \
	  "Handshakes completed with the peer (sessions derived).")                                \
	C(handshakes_failed, handshakes_failed, false, "handshakes_failed",                        \
	  "Handshake initiations to the peer that timed out unanswered.")                          \
	C(handshakes_initiated, initiations, false, "handshake_initiations",                       \
	  "Handshake initiations sent to the peer.")                                               \
	C(keypair_rotations, rotations, false, "keypair_rotations",                                \
	  "Sessions the peer confirmed, moving them from next to current.")                        \
	C(staged_dropped, staged_dropped, false, "staged_dropped",                                 \
	  "Packets to the peer dropped while waiting for a session, the oldest first when "        \
	  "PEER_STAGED_MAX wait.")

struct peer_stats {
#define PEER_STATS_FIELD(field, name, wg, metric, help) uint64_t field;
	PEER_COUNTERS(PEER_STATS_FIELD)
#undef PEER_STATS_FIELD
};

struct peer_counter {
	const char *name;     /* as in the log line */
	const char *uapi_key; /* as in a get answer */
	bool wg;              /* in get=1 answers too */
	const char *metric;   /* the full family name */
	const char *help;
	size_t offset; /* of the uint64_t in struct peer_stats */
};

/* PEER_COUNTERS as a table, in that order (peer_stats.c). */
extern const struct peer_counter peer_counters[];
extern const size_t peer_n_counters;

static inline uint64_t peer_counter_value(const struct peer_stats *s, size_t i)
{
	return *(const uint64_t *)((const char *)s + peer_counters[i].offset);
}

#endif
