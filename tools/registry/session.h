/* The session with etcd: a lease kept alive, so the entry of a node that dies expires; our
 * entry published under it; every key under PREFIX/ read, then watched from the revision read.
 * etcd unreachable: nothing changes in the daemon; we retry with exponential backoff, and say
 * so once per change of state. */
#ifndef SEALNET_TOOLS_REGISTRY_SESSION_H
#define SEALNET_TOOLS_REGISTRY_SESSION_H

#include "registry.h"

/* Lease, our entry, every entry and rules key, then the watch; on failure, down. */
void session_connect(struct registry *r);
/* Renews the lease and publishes our entry when it is due; on failure, down. */
void session_keepalive(struct registry *r);
/* Between two sets to the daemon: the lease alone, when due. Publishing (which may move our
 * entry and drop one of the entries being applied) waits for the main loop. */
void session_keep_lease(struct registry *r);
/* etcd failed at what: stops the watch, says so (once), and sets when to try again. */
void session_down(struct registry *r, const char *what, int err);

#endif
