/* This node's own entry under PREFIX/nodes/: what it says, whether every node will take it,
 * and whether etcd still has it as we published it. */
#ifndef SEALNET_TOOLS_REGISTRY_OWN_H
#define SEALNET_TOOLS_REGISTRY_OWN_H

#include <stddef.h>

#include "registry.h"

/* Our entry's key (key_len bytes) and JSON value (*value, malloc'd, the caller frees it).
 * The endpoints are the command line's, or else the address we reach etcd from with the
 * daemon's port. Returns 0 or -ENOMEM. */
int own_entry(struct registry *r, char *key, size_t key_len, char **value);
/* Our entry must pass the checks every node applies to it: at start, before anything is
 * published, with any key; fills cfg.self_claims with what it claims. Returns 0, or -EINVAL
 * after saying why on stderr, or -ENOMEM. */
int own_check_config(struct registry *r);
/* Sets sess.need_publish when etcd's copy of our entry is gone, different or on another
 * lease. */
void own_check(struct registry *r);

#endif
