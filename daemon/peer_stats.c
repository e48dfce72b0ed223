/* PEER_COUNTERS (peer_stats.h) as a table, for the places that walk it at run time. */
#include "peer_stats.h"

#define ENTRY(field, name, wg, metric, help)                                                       \
	{ #name, (wg) ? #name : "sealnet_" #name,   wg, "sealnet_peer_" metric "_total",           \
	  help,  offsetof(struct peer_stats, field) },

const struct peer_counter peer_counters[] = { PEER_COUNTERS(ENTRY) };
const size_t peer_n_counters = sizeof(peer_counters) / sizeof(peer_counters[0]);
