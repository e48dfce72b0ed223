/* sealnet-cni's request: the CNI_* variables and the network configuration on stdin, read
 * and checked before any command acts on them (SPEC.md sections 1 and 2). */
#ifndef SEALNET_CNI_CONF_H
#define SEALNET_CNI_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "cni.h"

/* The versions of the spec we speak, oldest first; VERSION lists them. */
#define CNI_N_VERSIONS 2
extern const char *const cni_versions[CNI_N_VERSIONS];

/* The CNI_* variables, pointing into the environment; NULL where a variable is unset. */
struct cni_env {
	const char *command;
	const char *containerid;
	const char *netns;
	const char *ifname;
	const char *path; /* never NULL: a default when the runtime sets none */
};

struct cni_conf {
	struct json_object *root;
	char *raw; /* stdin as read, handed to the IPAM plugin unchanged */
	size_t raw_len;
	const char *version; /* NULL until read; points into root */
	const char *name;
	const char *type;
	const char *ipam_type;
	unsigned mtu;
	struct json_object *prev_result; /* NULL if absent */
	struct json_object *dns;         /* NULL if absent */
};

void cni_env_read(struct cni_env *env);
/* The parameters a command needs (all but CNI_NETNS unless need_netns), every missing one
 * named in a single error, and the container ID and interface name as the spec has them. */
int cni_env_check(const struct cni_env *env, bool need_netns, struct cni_error *e);

/* Reads stdin into c->raw. */
int cni_conf_read(struct cni_conf *c, struct cni_error *e);
/* Decodes c->raw into c->root and checks the configuration: version, name, type, ipam,
 * mtu, ipMasq, and the types of prevResult and dns. */
int cni_conf_parse(struct cni_conf *c, struct cni_error *e);
/* VERSION's reading of c->raw: {"cniVersion": ...}, or nothing at all, which some runtimes
 * send. c->version is set only if the input is JSON and has a string there; never fails. */
void cni_conf_parse_version(struct cni_conf *c);
/* Releases what c owns (c itself is the caller's). */
void cni_conf_free(struct cni_conf *c);

#endif
