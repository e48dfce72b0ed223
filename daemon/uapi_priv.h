/* What the files of the control socket share, and only they include: uapi.c (the server:
 * clients, their sockets, the one job at a time), uapi_request.c (a request begun, and a set
 * or a reload carried over turns of the event loop as a job), uapi_get.c (get's answer).
 * uapi_set.c, the pure parse of a set, needs nothing of this: its interface is uapi.h's. */
#ifndef SEALNET_UAPI_PRIV_H
#define SEALNET_UAPI_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.h"

struct evbuffer;
struct uapi_set_request;

/* uapi_get.c */

/* get's lines before the peers': the interface's, and with ours (get=sealnet) our
 * counters, the config file's path (config_path, may be NULL), addresses and rules. */
void uapi_get_header(struct device *dev, struct evbuffer *out, bool ours, const char *config_path);
/* Up to max peers from the cursor on, and the closing errno line after the last: true once
 * that is written. */
bool uapi_get_peers(struct evbuffer *out, bool ours, struct device_cursor *cur, size_t max);

/* uapi_request.c */

/* What a request leaves for later turns of the event loop: a set's parse, then a set or a
 * reload in slices (device_job_step()), or a get's peers. Zeroed is empty. */
struct uapi_pending {
	struct uapi_set_request *set; /* its parse, before its job */
	struct device_job *job;
	char err[512]; /* why it was refused or failed */
	bool reload;
	bool get, get_ours;
	struct device_cursor cursor; /* a get's, open while get */
};

/* Starts one request (without the blank line that ended it; written into): answers it into
 * out at once, or leaves in *pd (overwritten) what later turns do: a set's parse or a job
 * (uapi_pending_work()), or with split_get a get's peers (pd->get, the cursor open, written
 * with uapi_get_peers()). config_path is what reload=1 reads (NULL: refused). */
void uapi_request_begin(struct device *dev, const char *config_path, char *request,
			struct evbuffer *out, bool split_get, struct uapi_pending *pd);
/* Whether pd holds a set being parsed or a job. */
bool uapi_pending_work(const struct uapi_pending *pd);
/* The next turn of that work, until budget_ns have gone by (0: to the end). 1 while some is
 * left, 0 when done, -errno with pd->err. */
int uapi_pending_step(struct uapi_pending *pd, uint64_t budget_ns);
/* The end of that work: ret (what the last step returned) answered into out (NULL: to no
 * one), and the parse or job freed. Also for work stopped half way (uapi_close()). */
void uapi_pending_end(struct evbuffer *out, struct uapi_pending *pd, int ret);

#endif
