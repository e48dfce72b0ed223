/* Prometheus metrics over HTTP: GET /metrics answers the device's and every peer's counters in
 * the text exposition format 0.0.4. Off unless the config has MetricsListen.
 *
 * Anyone who can reach the address reads every peer's public key and how much it sends and
 * when: bind to loopback (127.0.0.1:9586, [::1]:9586) unless that is meant. The server only
 * reads counters, on the device's event loop, between packets. */
#ifndef SEALNET_METRICS_H
#define SEALNET_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"

struct device;
struct evbuffer;
struct metrics;

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Listens on *addr (TCP) on dev's event loop and records it in dev->metrics_listen, so a
 * reload can tell that the address changed. Returns 0 or -errno (-EADDRINUSE when the port is
 * taken); *out owned by the caller, freed with metrics_close(). */
int metrics_open(struct device *dev, const union endpoint *addr, struct metrics **out);
/* Closes the socket and every connection. NULL is fine. Call it before device_free(). */
void metrics_close(struct metrics *m);

/* The page GET /metrics answers, appended to out. Returns 0 or -ENOMEM. */
int metrics_format(struct device *dev, struct evbuffer *out);
/* The status that the request line req (len bytes, without its line end) gets: 200 for GET
 * or HEAD of /metrics (with or without a query; *head says which), 404 for another path,
 * 405 for another method, 400 for what is not METHOD SP TARGET SP HTTP/1.x. Pure. */
int metrics_request_status(const char *req, size_t len, bool *head);

#endif
