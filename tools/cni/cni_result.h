/* What sealnet-cni prints on stdout: the ADD result, or the spec's error object (SPEC.md,
 * "Success" and "Error"). */
#ifndef SEALNET_CNI_RESULT_H
#define SEALNET_CNI_RESULT_H

#include "cni.h"
#include "cni_conf.h"
#include "cni_netlink.h"

/* obj on stdout, pretty-printed, flushed: 0 or -EIO. */
int cni_print_json(struct json_object *obj);
/* e as the error object of the configuration's version (ours if version is NULL) on stdout,
 * and as a line on stderr. */
void cni_error_print(const char *version, const struct cni_error *e);
/* l's MAC as the spec writes it, aa:bb:cc:dd:ee:ff, in buf; returns buf. */
const char *cni_mac_str(const struct cni_link *l, char buf[18]);
/* The ADD result: IPAM's ips (with the container interface's index), routes and dns, and
 * both ends of the veth, in c's version. Owned by the caller (json_object_put()). */
struct json_object *cni_result_json(const struct cni_conf *c, const struct cni_env *env,
				    const char *host_name, const struct cni_link *host,
				    const struct cni_link *cont, const struct cni_ipam_result *r);

#endif
