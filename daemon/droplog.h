/* droplog: a log line for the first drop of each reason, then at most one a minute with the
 * count since, so that a counted drop reaches the operator without a line per packet. The
 * datapath only bumps dev->stats.drops; this reads them once a second on the event loop. */
#ifndef SEALNET_DROPLOG_H
#define SEALNET_DROPLOG_H

#include <stdint.h>

#include "device.h"

/* A reason logs again at most once per DROPLOG_PERIOD_NS. */
#define DROPLOG_PERIOD_NS (60ULL * 1000000000ULL)

struct droplog;

/* What to do about a drop of that reason, one sentence for the log (the first of the reason's
 * entry in sealnetd(8)); NULL for reasons not worth a line (link_local). */
const char *droplog_hint(enum device_drop d);

/* Starts the once-a-second check on dev's event loop. 0 or -errno; *out freed with
 * droplog_free(), before the device. */
int droplog_new(struct device *dev, struct droplog **out);
void droplog_free(struct droplog *dl);

/* The check itself, with the clock (device_now()) passed in: logs what the counters did since
 * the last call. */
void droplog_check(struct droplog *dl, uint64_t now);

#endif
