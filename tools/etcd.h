/* A small client of etcd's v3 API through its JSON gateway (grpc-gateway: POST /v3/...), the
 * part `sealnet registry` needs: leases, put, an atomic move of one key to another, the range
 * of a prefix and a watch on it. libcurl carries the requests and json-c reads the answers;
 * keys and values are base64 on the wire and plain strings here, int64 fields are JSON strings
 * there and int64_t here.
 *
 * Unary requests block for at most the timeout given to etcd_open(). The watch is a streaming
 * POST whose answer never ends: etcd_watch_poll() runs it for a while and hands each event to
 * the callback as its JSON object completes, so the events of one revision (a transaction)
 * always arrive in one call of etcd_watch_poll().
 *
 * Not thread-safe: one struct etcd per thread. */
#ifndef SEALNET_ETCD_H
#define SEALNET_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct etcd;

/* One key, from a range or a watch event. Pointers are valid during the callback only. For a
 * deletion only key and mod_revision are set (value is "", the revisions of creation 0). */
struct etcd_kv {
	const char *key;
	const char *value; /* NUL-terminated; value_len excludes the NUL */
	size_t value_len;
	int64_t create_revision, mod_revision, lease;
};

/* url: "http://198.18.1.4:2379" (no trailing path). timeout_ms bounds each unary request,
 * connection included. Returns 0 or -errno; *out is freed with etcd_free(). */
int etcd_open(const char *url, long timeout_ms, struct etcd **out);
/* TLS for an https:// URL: the CA certificate file to verify etcd with (NULL: the system's
 * store), and a client certificate and its key (PEM files) for an etcd that asks for one
 * (--client-cert-auth); NULL for none. The paths are copied. Returns 0 or -ENOMEM. */
int etcd_set_tls(struct etcd *e, const char *cacert, const char *cert, const char *key);
/* Stops the watch and frees everything. NULL is fine. */
void etcd_free(struct etcd *e);

/* What went wrong with the last request that failed: curl's words or etcd's. */
const char *etcd_error(const struct etcd *e);
/* The local address of the last connection to etcd ("198.18.1.2", "fd00::2"), the address
 * other nodes most likely reach us on. Returns 0, or -ENOTCONN before any connection. */
int etcd_local_ip(struct etcd *e, char *buf, size_t len);

/* Every call below returns 0, -EIO when etcd answered with an error, -ECONNREFUSED,
 * -ETIMEDOUT or -EHOSTUNREACH when it could not be reached, -EPROTO when the answer made no
 * sense, or -ENOMEM. */
int etcd_lease_grant(struct etcd *e, unsigned ttl, int64_t *id);
/* *ttl is what is left of the lease after the refresh; 0 when etcd no longer knows it. */
int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl);
int etcd_lease_revoke(struct etcd *e, int64_t id);
/* lease 0: none. */
int etcd_put(struct etcd *e, const char *key, const char *value, int64_t lease);
/* In one transaction: deletes old_key, puts key = value. Watchers see both in one revision. */
int etcd_move(struct etcd *e, const char *old_key, const char *key, const char *value,
	      int64_t lease);
/* Every key under prefix, in key order, to cb (a non-zero return stops the walk and is
 * returned); *revision is the store's revision the answer was read at. */
int etcd_range_prefix(struct etcd *e, const char *prefix,
		      int (*cb)(void *ctx, const struct etcd_kv *kv), void *ctx, int64_t *revision);

/* Starts watching prefix from start_revision; events go to cb during etcd_watch_poll().
 * Replaces a watch already running. Returns 0 or -errno (nothing is sent yet: failures to
 * connect show in etcd_watch_poll()). */
int etcd_watch_start(struct etcd *e, const char *prefix, int64_t start_revision,
		     void (*cb)(void *ctx, bool deleted, const struct etcd_kv *kv), void *ctx);
/* Runs the watch for up to timeout_ms. Returns 1 when events were delivered, 0 when none
 * were, or -errno once the watch has ended (the connection closed or failed: -ECONNRESET and
 * friends; etcd cancelled it, its start revision having been compacted: -ESTALE). After an
 * end, start again. Without a watch running it only sleeps. */
int etcd_watch_poll(struct etcd *e, int timeout_ms);
/* Whether etcd has confirmed the watch (its first answer, "created", has arrived). */
bool etcd_watch_created(const struct etcd *e);
/* The revision the last watch answer was read at (0 before any). */
int64_t etcd_watch_revision(const struct etcd *e);
void etcd_watch_stop(struct etcd *e);

#endif
