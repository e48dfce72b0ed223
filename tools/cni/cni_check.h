/* CHECK: whether the attachment ADD made is still as prevResult says. */
#ifndef SEALNET_CNI_CHECK_H
#define SEALNET_CNI_CHECK_H

#include "cni.h"
#include "cni_conf.h"

/* IPAM CHECK, then both ends of the veth (up, and with prevResult's MACs), the container's
 * addresses, the host's gateway addresses and routes to the pod, and forwarding. Routes
 * inside the container are left alone, as a later plugin of a chain may change them. */
int cni_check_attachment(const struct cni_env *env, const struct cni_conf *c, struct cni_error *e);

#endif
