/* The tool's side of the control socket: WireGuard's cross-platform protocol on
 * /var/run/wireguard/IFACE.sock (daemon/uapi.h is the daemon's side). A request is
 * `key=value` lines ended by a blank line; every answer ends with `errno=N` and a blank line.
 *
 * The path is fixed on purpose: `wg` cannot be pointed elsewhere, and whatever sealnet shows
 * must be what wg shows. Tests use interface names unique on the host instead.
 *
 * A `get` is read into a plain data model, device -> peers -> allowed ips, freed by
 * ipc_device_free(). Secrets never enter it: the private key only lives long enough to derive
 * the public key, and a preshared key is reduced to whether there is one. */
#ifndef SEALNET_IPC_H
#define SEALNET_IPC_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "key.h"
#include "paths.h"
#include "peer_stats.h"

/* registry.c's name for PATHS_RUN_DIR, until its split by concern (issue 13) renames it. */

struct ipc_allowedip {
	char text[ADDR_STRLEN]; /* "100.64.0.2/32", as the daemon wrote it */
	struct ipc_allowedip *next;
};

struct ipc_peer {
	uint8_t public_key[KEY_LEN];
	bool has_preshared_key;
	char endpoint[ADDR_STRLEN];  /* "198.18.0.2:51820", "[fd00::2]:51820"; "" when none */
	uint64_t last_handshake_sec; /* Unix time; 0 = never */
	uint64_t last_handshake_nsec;
	unsigned persistent_keepalive; /* seconds; 0 = off */
	/* The counters, by their names in peer_stats.h: wg's (rx_bytes, tx_bytes) always, the
	 * sealnet_* ones only when the device's has_counters is set. */
#define IPC_PEER_COUNTER(field, name, wg, metric, help) uint64_t name;
	PEER_COUNTERS(IPC_PEER_COUNTER)
#undef IPC_PEER_COUNTER
	char name[64];               /* Name = (CONFIG_NAME_MAX); "" when none */
	uint64_t handshake_attempts; /* unanswered initiations of the handshake under way */
	uint64_t unanswered_ms;      /* since the first initiation not answered yet, 0 = none */
	char groups[16 * 32];        /* Groups = (sealnet_group lines), ", " between; "" for none */
	struct ipc_allowedip *first_allowedip;
	struct ipc_peer *next;
};

/* One access rule (get=sealnet), as the daemon writes it: "allow tcp/5201 from group:web". */
struct ipc_rule {
	char text[160]; /* FIREWALL_RULE_TEXT_MAX */
	uint64_t matches;
	struct ipc_rule *next;
};

/* One drop counter, named without the drop_ prefix ("bad_mac1"), in the daemon's order. */
struct ipc_counter {
	char *name;
	uint64_t value;
	struct ipc_counter *next;
};

struct ipc_device {
	char name[IFNAMSIZ];
	bool has_public_key; /* false when no private key is set */
	uint8_t public_key[KEY_LEN];
	uint16_t listen_port;
	uint32_t fwmark; /* 0 = off */
	/* The daemon answered get=sealnet: the counters below and the peers' are valid. Not so
	 * for wireguard-go, which only speaks get=1. */
	bool has_counters;
	uint64_t rx_datagrams, tx_datagrams, cookie_replies_sent;
	struct ipc_counter *first_drop;
	/* The process and the interface (get=sealnet): pid 0 when not said. */
	uint64_t pid, mtu, threads;
	char *config_path;                   /* the file it reloads; NULL when it has none */
	char offload[32];                    /* "tun udp-gso udp-gro", "" = off */
	struct ipc_allowedip *first_address; /* the interface's, as the daemon set them */
	struct ipc_rule *first_rule; /* in the daemon's order, which is the order they apply */
	struct ipc_peer *first_peer;
};

/* Interface names as wg-quick accepts them: 1 to 15 of [A-Za-z0-9_=+.-], not "." or "..". */
bool ipc_valid_name(const char *name);

/* Connects to IFACE's socket. Returns the descriptor, or -ENODEV when no daemon serves that
 * interface (no socket, or one left behind by a daemon that died), or another -errno. */
int ipc_connect(const char *ifname);

/* Sends one request (its lines, each ended by '\n', without the closing blank line) that
 * only answers errno=N: set=1 and reload=1. Returns 0 or -errno if the exchange failed
 * (-ENODEV: not running; -ENOTSUP: the daemon closed the connection without answering, as
 * wireguard-go does on a request it does not know), and otherwise leaves the daemon's answer
 * in *daemon_err: 0, or the negative errno it refused the request with. */
int ipc_command(const char *ifname, const char *request, int *daemon_err);
/* The same, and the daemon's reason for a refusal, where it gives one (reload=1 does, in an
 * error= line before errno=), in why; empty when none. */
int ipc_command_why(const char *ifname, const char *request, int *daemon_err, char *why,
		    size_t whylen);

/* Sends request (its lines, without the blank line) on a new connection and reads the
 * answer, without the newline of its last line and the blank line, into *reply:
 * NUL-terminated, in *size bytes that the caller frees with ipc_reply_free(), which wipes them
 * (a get answer holds the private key). Returns 0, or -ENOTSUP when the daemon hung up
 * without a word, or another -errno. */
int ipc_transact(const char *ifname, const char *request, char **reply, size_t *size);
void ipc_reply_free(char *reply, size_t size);

/* Reads IFACE's state with get=sealnet, or with get=1 from a daemon that does not know it.
 * Returns 0 or -errno (-ENODEV: not running; -EPROTO: an answer we cannot read; a negative
 * errno the daemon answered). *out is owned by the caller: ipc_device_free(). */
int ipc_get(const char *ifname, struct ipc_device **out);
void ipc_device_free(struct ipc_device *dev);

/* The interfaces whose socket in PATHS_SOCKET_DIR accepts a connection (a file left by a daemon that
 * died does not), sorted, in a NULL-terminated array; none when the directory does not exist.
 * Returns 0 or -errno. *out is owned by the caller: ipc_list_free(). */
int ipc_list(char ***out);
void ipc_list_free(char **names);

#endif
