/* What `sealnet status` (and `show --brief`) computes from a get=sealnet answer, shared with
 * show's JSON so both say the same: a state word per peer, and who the daemon is. */
#ifndef SEALNET_STATUS_H
#define SEALNET_STATUS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "ipc.h"

/* A session lives REJECT_AFTER_TIME (180 s) after its handshake (messages.h). */
#define STATUS_SESSION_SEC 180
/* An initiation unanswered for REKEY_TIMEOUT (5 s) is one WireGuard retries: the peer did not
 * answer in time. */
#define STATUS_UNANSWERED_MS 5000

/* One word per peer:
 *   online  a handshake in the last 180 s, and none of ours going unanswered: traffic flows;
 *   stale   we are initiating and nothing answers (the peer, or the path to it, is down);
 *   idle    the last session expired and nobody needed a new one: healthy but quiet;
 *   never   no handshake since the daemon started.
 * Without the daemon's counters (wireguard-go) stale cannot be told from idle. */
const char *status_peer_state(const struct ipc_device *dev, const struct ipc_peer *p, time_t now);

/* The daemon process, read from /proc: its effective user's name (or number) and how long
 * it has run. Returns 0, or -errno when the process cannot be seen (another pid namespace). */
struct status_process {
	char user[64];
	uint64_t uptime_sec;
};
int status_process_read(pid_t pid, struct status_process *out);

/* A rate needs two readings: the device as it was `elapsed` seconds before dev. */
struct status_sample {
	const struct ipc_device *before;
	double elapsed;
};
/* p's rx and tx rate in bytes per second since the earlier reading: false when there is none
 * (no sample, a peer new since, or counters that went back: a peer removed and added). */
bool status_peer_rate(const struct status_sample *s, const struct ipc_peer *p, double *rx,
		      double *tx);

/* The brief form: the interface's line and one line per peer, with rates when s is not NULL.
 * colour: ANSI colours for the state words. */
void status_print(const struct ipc_device *dev, const struct status_sample *s, bool colour);

#endif
