/* The WireGuard cross-platform control protocol on /var/run/wireguard/IFACE.sock, so the
 * unmodified `wg` tool reads and changes a running sealnetd. Requests are `key=value` lines
 * ended by a blank line: `get=1`, or `set=1` followed by changes; every reply ends with
 * `errno=-N` (0 on success, negative as wireguard-go writes it) and a blank line. A set is
 * checked whole and refused whole (parsed over turns of the event loop when it is long:
 * nothing is applied before its last line has parsed); what passed goes to a device job (device.h): one apply,
 * all or nothing, for up to DEVICE_SLICE peers, slices a turn of the event loop each for
 * more (a `wg setconf` of thousands), the answer after the last. A get is written a slice
 * of peers at a time as the socket drains.
 *
 * Our additions, which `wg` never sends: `get=sealnet` answers like `get=1` plus the drop
 * counters and per-peer packet counts (sealnet show --json uses it), and `reload=1` reloads
 * the config file (sealnet reload). */
#ifndef SEALNET_UAPI_H
#define SEALNET_UAPI_H

#include <stddef.h>

struct device;
struct config;
struct evbuffer;
struct uapi;

/* Listens on DIR/IFNAME.sock (mode 0600; DIR made 0755 if missing). config_path is what
 * reload=1 reads (may be NULL: reload then answers errno=-EINVAL). */
int uapi_open(struct device *dev, const char *dir, const char *config_path, struct uapi **out);
/* A reload of the config file, as reload=1 asks for it (SIGHUP): after the set or reload
 * that runs, if any, in slices like any other; what became of it is logged. */
void uapi_reload(struct uapi *u);
/* Closes the socket, drops clients, removes the socket file. NULL is fine. */
void uapi_close(struct uapi *u);

/* Applies the lines of a set request (after `set=1`, without the blank line) to c. Returns 0
 * or -errno, with what was wrong in err. Pure: no device involved (unit tests, fuzzing).
 * Keys, values, order and errno are wireguard-go's (device/uapi.go): -EPROTO for a line
 * without '=', -EINVAL for the rest; a peer with the interface's own key is ignored with its
 * lines. On purpose not like it: nothing of a refused set stays (wireguard-go keeps the lines
 * before the bad one), and an endpoint with port 0 or a zone naming no interface is
 * refused (the port cannot be sent to; only an index fits in sin6_scope_id). */
int uapi_parse_set(struct config *c, char *lines, char *err, size_t errlen);
/* The same in steps, so that a set of thousands of peers does not hold the event loop:
 * uapi_set_parse_new() starts a parse of lines (written into, as above, and kept until the
 * parse is freed) into c, whose c->peers has room for room peers (at least c->n_peers);
 * each uapi_set_parse_step() parses up to max_lines more: 1 while some are left, 0 at the
 * end, -errno with err as uapi_parse_set(). Any split gives exactly what one call gives.
 * *out freed with uapi_set_parse_free() (NULL is fine). */
struct uapi_set_parse;
int uapi_set_parse_new(struct config *c, size_t room, char *lines, struct uapi_set_parse **out);
int uapi_set_parse_step(struct uapi_set_parse *sp, size_t max_lines, char *err, size_t errlen);
void uapi_set_parse_free(struct uapi_set_parse *sp);
/* One whole request (without the blank line that ended it); appends the reply to out. */
void uapi_handle(struct device *dev, const char *config_path, char *request, struct evbuffer *out);

#endif
