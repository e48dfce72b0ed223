/* sealnet-cni: the types its files share (the plugin's design is at the top of
 * sealnet-cni.c and in docs/cluster.md). */
#ifndef SEALNET_CNI_H
#define SEALNET_CNI_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "addr.h"

#define CNI_PROG "sealnet-cni"

/* The spec's well-known error codes (SPEC.md, "Error"), then ours from 100 on. */
enum {
	CNI_ERR_VERSION = 1,    /* incompatible CNI version */
	CNI_ERR_FIELD = 2,      /* unsupported field in network configuration */
	CNI_ERR_CONTAINER = 3,  /* container unknown or does not exist */
	CNI_ERR_ENV = 4,        /* invalid necessary environment variables */
	CNI_ERR_IO = 5,         /* I/O failure, e.g. reading the config from stdin */
	CNI_ERR_DECODE = 6,     /* failed to decode content */
	CNI_ERR_CONFIG = 7,     /* invalid network config */
	CNI_ERR_TRY_AGAIN = 11, /* transient condition: retry later */
	CNI_ERR_SYSTEM = 100,   /* a netlink, namespace or sysctl operation failed */
	CNI_ERR_IPAM = 101,     /* the IPAM plugin is missing or its answer is unusable */
	CNI_ERR_CHECK = 102,    /* CHECK: the attachment is not as prevResult says */
};

/* What goes to stdout, as the spec's error object, when a command fails. */
struct cni_error {
	int code;
	char msg[128];
	char details[1024];
};

/* Fills e (first failure wins: later ones are consequences) and returns -EINVAL, so that a
 * caller can `return cni_fail(...)`. */
int cni_fail(struct cni_error *e, int code, const char *msg, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Every JSON value read is type-checked through this: obj's member key if it is there and
 * of type t (1, *out set); absent or null, which the reference plugins read as absent (0, *out
 * NULL); any other type (-EINVAL, *out NULL: the caller says where, in its own error). An
 * obj that is not an object has no members. */
int cni_json_member(struct json_object *obj, const char *key, enum json_type t,
		    struct json_object **out);

/* A configuration or an IPAM answer is a few hundred bytes; anything near this is not one. */
#define CNI_INPUT_MAX (1 << 20)

/* Reads fd to its end (at most CNI_INPUT_MAX bytes, else -EFBIG) into *out, NUL-terminated,
 * owned by the caller. */
int cni_read_all(int fd, char **out, size_t *out_len);

/* Limits of one attachment; host-local gives one address per range set. */
#define CNI_MAX_IPS 8
#define CNI_MAX_ROUTES 64

struct cni_ip {
	struct ip_prefix addr; /* the pod's address with its subnet's length, host bits kept */
	struct ip_addr gw;
	bool has_gw;
	int iface; /* index into the result's interfaces, -1 if not given (IPAM answers) */
};

struct cni_route {
	struct ip_prefix dst;
	struct ip_addr gw;
	bool has_gw;
};

/* An IPAM plugin's answer (an abbreviated ADD result). json owns the objects that
 * routes_json and dns point to; cni_ipam_result_free() releases it. */
struct cni_ipam_result {
	struct json_object *json;
	struct cni_ip ips[CNI_MAX_IPS];
	size_t n_ips;
	struct cni_route routes[CNI_MAX_ROUTES];
	size_t n_routes;
	struct json_object *routes_json; /* NULL if absent */
	struct json_object *dns;         /* NULL if absent */
};

/* Runs the IPAM plugin `type`, found in the directories of cni_path (':'-separated), with
 * CNI_COMMAND=command and the rest of our environment, config on its stdin; its stderr is
 * ours. On ADD, *out (may be NULL for DEL and CHECK) gets the parsed answer. A failure of
 * the plugin comes back in e with the plugin's own code, msg and details. */
int cni_ipam_exec(const char *type, const char *cni_path, const char *command, const char *config,
		  size_t config_len, struct cni_ipam_result *out, struct cni_error *e);
/* The IPAM plugin's exit status and output, as cni_ipam_exec() takes them: its error object
 * into e when it failed, else (for ADD, out not NULL) the parsed answer. */
int cni_ipam_answer(const char *type, int status, const char *output, size_t output_len,
		    struct cni_ipam_result *out, struct cni_error *e);
void cni_ipam_result_free(struct cni_ipam_result *r);

/* Reads an ips/routes pair from a result object (an IPAM answer or a prevResult): ips get
 * their address and gateway, routes their dst and gw. Unknown keys are ignored. */
int cni_result_parse(struct json_object *obj, struct cni_ipam_result *r, struct cni_error *e);

#endif
