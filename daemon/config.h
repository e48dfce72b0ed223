/* The configuration file: the wg-quick INI dialect plus our own keys, read into a plain data
 * model. Parsing only fills the structs and checks each value; a validate step (inside
 * config_load and config_parse_string) checks the rules that span fields. Startup, reload
 * and the control socket all hand the result to device_apply().
 *
 * wg-quick's own keys (DNS, Table, PreUp, PostUp, PreDown, PostDown, SaveConfig) are accepted
 * and ignored so that its files load unchanged; any other unknown key is an error. */
#ifndef SEALNET_CONFIG_H
#define SEALNET_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "firewall.h"

#define CONFIG_KEY_LEN 32
#define CONFIG_MAX_GROUPS 16 /* per peer */
#define CONFIG_DEFAULT_MTU 1420

/* Offload = on | off | a list of these kinds (the ones left on). */
#define CONFIG_OFFLOAD_TUN (1u << 0)     /* TSO/USO super-packets from, GRO to the TUN */
#define CONFIG_OFFLOAD_UDP_GSO (1u << 1) /* trains of datagrams in one sendmsg */
#define CONFIG_OFFLOAD_UDP_GRO (1u << 2) /* trains of datagrams in one recvmsg */
#define CONFIG_OFFLOAD_ALL 7u

struct config_peer {
	uint8_t public_key[CONFIG_KEY_LEN];
	bool has_public_key;
	uint8_t preshared_key[CONFIG_KEY_LEN]; /* all zero when absent, as in WireGuard */
	bool has_preshared_key;
	struct ip_prefix *allowed_ips; /* masked */
	size_t n_allowed_ips;
	union endpoint endpoint; /* sa_family 0 when absent */
	char *endpoint_text;     /* as written, NULL when absent (for re-resolving later) */
	unsigned persistent_keepalive; /* seconds, 0 = off */
	char groups[CONFIG_MAX_GROUPS][FIREWALL_GROUP_NAME_MAX]; /* Groups =, for access rules */
	unsigned n_groups;
	int line;                      /* line of this peer's [Peer] header */
};

enum config_table { CONFIG_TABLE_AUTO, CONFIG_TABLE_OFF, CONFIG_TABLE_ID };

struct config {
	uint8_t *private_key; /* CONFIG_KEY_LEN bytes in sodium_malloc memory, or NULL */
	uint16_t listen_port; /* 0 = random */
	/* The control socket's listen_port=0: move to a new random port now (a file without
	 * ListenPort keeps the port the daemon has). */
	bool listen_port_new;
	struct ip_prefix *addresses; /* host bits kept */
	size_t n_addresses;
	unsigned mtu;
	enum config_table table_mode; /* Table =: auto (default), off, or a table id */
	uint32_t table_id;            /* CONFIG_TABLE_ID only */
	uint32_t fwmark; /* 0 = off */
	unsigned offload; /* CONFIG_OFFLOAD_*, all by default; read at start only */
	unsigned threads; /* Threads =: 0 = auto (the default), else 1..WORKERS_MAX; start only */
	/* MetricsListen: where the Prometheus page is served, sa_family 0 = off (the default).
	 * It shows every peer's public key and traffic to whoever reaches it: loopback unless
	 * that is meant. Read at startup only; a reload that changes it logs a notice. */
	union endpoint metrics_listen;
	/* User: whom the daemon runs as once set up (NULL: "sealnet" if that user exists, else
	 * "nobody"); Sandbox: the seccomp filter, on by default. Both read at startup only; see
	 * privdrop.h. */
	char *user;
	bool sandbox;
	struct config_peer *peers;
	size_t n_peers;
	struct firewall_rule *rules; /* Allow = and Deny =, in file order */
	size_t n_rules;
};

/* Reads and validates a file. On error returns -errno (-EINVAL for a bad file, -EHOSTUNREACH
 * for an Endpoint host name that does not resolve) and writes "FILE:LINE: what is wrong"
 * into err (may be NULL); the first error wins. Endpoint host names are resolved here,
 * blocking. Warns (log_warn) when the file holding a private or preshared key is readable by
 * group or others. *out owned by the caller, freed with config_free(). */
int config_load(const char *path, struct config **out, char *err, size_t errlen);
/* Same, from memory; `name` stands for FILE in messages. */
int config_parse_string(const char *text, const char *name, struct config **out, char *err,
			size_t errlen);
void config_free(struct config *c);

/* A number as config values and the control socket write them: decimal, or hexadecimal after
 * "0x" when hex is set; no sign, no blanks; at most max. Returns 0 or -EINVAL. */
int config_parse_number(const char *s, unsigned long long max, bool hex, unsigned long long *out);

#endif
