/* Bringing the daemon to the decision: which entries are peers here (decide.h), then the
 * daemon's managed peers added, updated and removed to match, in as few sets as may be, so
 * that the other peers keep their sessions. */
#ifndef SEALNET_TOOLS_REGISTRY_RECONCILE_H
#define SEALNET_TOOLS_REGISTRY_RECONCILE_H

#include "registry.h"

/* The access rules (access_reconcile), then the peers. Returns 0, or -errno when something
 * must be tried again. */
int reconcile_run(struct registry *r);

#endif
