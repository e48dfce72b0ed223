/* The tool's one serializer for control-socket set requests (daemon/uapi.h): `key=value`
 * lines in a buffer that grows as needed, used by `sealnet set` (set.c) and by `sealnet
 * registry` (registry/request.c), as wireguard-tools' ipc_set_device() serves every
 * subcommand that changes a device. Text building only, no socket: ipc_command() sends it.
 *
 * Nothing is ever cut short: a line that cannot be added (allocation failed, bad format) is
 * kept as the request's error, every later call returns it too, and request_text() returns
 * NULL, so a request that lost a line can never be sent.
 *
 * The request may hold private and preshared keys: it is wiped when it grows (a new buffer,
 * never realloc, which would leave the old one behind) and when it is freed. */
#ifndef SEALNET_TOOLS_REQUEST_H
#define SEALNET_TOOLS_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "key.h"

/* Zero-initialised is empty and ready; request_free() releases it. */
struct request {
	char *buf; /* owned; the lines, NUL-terminated */
	size_t len, cap;
	int err; /* 0, or the first -errno: sticky */
};

/* Appends printf-formatted text (whole lines, each ended by '\n'). Returns 0 or the request's
 * error: -ENOMEM, or -EINVAL for a format that cannot be expanded. */
int request_add(struct request *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* NAME=<key in hex>, the copy on the stack wiped. Returns as request_add(). */
int request_add_key(struct request *q, const char *name, const uint8_t key[KEY_LEN]);
/* The request (without the blank line that ends it: ipc_command adds it); NULL when empty or
 * when a line could not be added. Owned by q. */
const char *request_text(const struct request *q);
/* Wipes and frees the buffer and empties q. NULL is fine. */
void request_free(struct request *q);

#endif
