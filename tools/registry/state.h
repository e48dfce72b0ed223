/* What outlives the process: the state file (the peers this registry added and the rules it
 * sent, so a restarted registry still knows which are its own) and the metrics file (the
 * Prometheus text format, for node_exporter's textfile collector: the tool cannot reach the
 * daemon's /metrics, and a file outlives the process that wrote it). */
#ifndef SEALNET_TOOLS_REGISTRY_STATE_H
#define SEALNET_TOOLS_REGISTRY_STATE_H

#include "registry.h"

/* Writes the state file; a failure is logged, and the next change tries again. */
void state_save(struct registry *r);
/* Reads the state file, when there is one, into r->peers and r->rules. */
void state_load(struct registry *r);
/* Writes the metrics file (cfg.metrics_path) when what it says changed. */
void state_write_metrics(struct registry *r);

#endif
