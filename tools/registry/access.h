/* The daemon's access rules: its own first (those of its config file, or set by hand), then
 * this node's from PREFIX/rules/<node>, then the cluster's from PREFIX/rules/all, the list
 * replaced whole (replace_rules=true). The daemon's own are what it had before the registry
 * changed anything, and whatever it has again after it restarts or reloads: the registry
 * tells them apart from its own by remembering the list it sent. A rules key that fails to
 * parse is refused as a whole, and the rules last accepted from it stay. */
#ifndef SEALNET_TOOLS_REGISTRY_ACCESS_H
#define SEALNET_TOOLS_REGISTRY_ACCESS_H

#include "../ipc.h"
#include "registry.h"

/* Takes the daemon's rules as one get read them: when they are neither what they were at our
 * last look nor what we sent, they are its own now. */
void access_track(struct registry *r, const struct ipc_device *dev);
/* Brings the daemon's rules to its own, this node's and the cluster's. Returns 0, or -errno
 * when it must be tried again. */
int access_reconcile(struct registry *r);

#endif
