/* The configuration file: the wg-quick INI dialect plus our own keys, read into a plain data
 * model. Parsing only fills the structs and checks each value; a validate step (inside
 * config_load and config_parse_string) checks the rules that span fields. Startup, reload
 * and the control socket all hand the result to device_apply().
 *
 * wg-quick's own keys are all read, none ignored: Table is the daemon's (routes); PreUp,
 * PostUp, PreDown, PostDown, DNS and SaveConfig are kept here for `sealnet up` and `down`,
 * which act on them as wg-quick does (tools/quick.c). sealnetd runs no commands, so a file
 * holding any of those is refused, naming the line, unless the process declared that its
 * caller acts on them (config_set_quick_runner). Any unknown key is an error. */
#ifndef SEALNET_CONFIG_H
#define SEALNET_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "firewall.h"
#include "key.h"

#define CONFIG_MAX_GROUPS 16 /* per peer */
/* Name = of a peer, with its NUL: a label for people (show, status, JSON, metrics), nothing
 * on the wire. Any text up to 63 bytes but control characters, '"' and '\\', so it needs no
 * quoting in the control socket, a log line or a Prometheus label. */
#define CONFIG_NAME_MAX 64
#define CONFIG_DEFAULT_MTU 1420

/* Offload = on | off | a list of these kinds (the ones left on). */
#define CONFIG_OFFLOAD_TUN (1u << 0)     /* TSO/USO super-packets from, GRO to the TUN */
#define CONFIG_OFFLOAD_UDP_GSO (1u << 1) /* trains of datagrams in one sendmsg */
#define CONFIG_OFFLOAD_UDP_GRO (1u << 2) /* trains of datagrams in one recvmsg */
#define CONFIG_OFFLOAD_ALL 7u
/* "tun", "udp-gso", "udp-gro": the word Offload = takes for one CONFIG_OFFLOAD_* bit. */
const char *config_offload_name(unsigned bit);

/* Table =: which routing table the routes of AllowedIPs go to, as wg-quick's. */
enum config_table { CONFIG_TABLE_AUTO, CONFIG_TABLE_OFF, CONFIG_TABLE_ID };

/* wg-quick's hooks: shell commands, run by `sealnet up` and `down`, never by sealnetd. */
enum config_hook {
	CONFIG_HOOK_PRE_UP,    /* before the interface exists */
	CONFIG_HOOK_POST_UP,   /* once it is up, after DNS */
	CONFIG_HOOK_PRE_DOWN,  /* before it is taken down */
	CONFIG_HOOK_POST_DOWN, /* once it is gone */
	CONFIG_HOOK_MAX,
};

/* The key of each hook, "PreUp" ..., as the file spells it. */
extern const char *const config_hook_names[CONFIG_HOOK_MAX];

/* Strings in file order, each its own allocation. */
struct config_list {
	char **items;
	size_t n;
};

struct config_peer {
	uint8_t public_key[KEY_LEN];
	bool has_public_key;
	uint8_t preshared_key[KEY_LEN]; /* all zero when absent, as in WireGuard */
	bool has_preshared_key;
	struct ip_prefix *allowed_ips; /* masked */
	size_t n_allowed_ips;
	union endpoint endpoint;       /* sa_family 0 when absent */
	char *endpoint_text;           /* as written, NULL when absent (for re-resolving later) */
	unsigned persistent_keepalive; /* seconds, 0 = off */
	char groups[CONFIG_MAX_GROUPS][FIREWALL_GROUP_NAME_MAX]; /* Groups =, for access rules */
	unsigned n_groups;
	char name[CONFIG_NAME_MAX]; /* Name =, "" when none */
	int line;                   /* line of this peer's [Peer] header */
};

struct config {
	uint8_t *private_key; /* KEY_LEN bytes in sodium_malloc memory, or NULL */
	/* PrivateKeyFile =: where private_key was read from (an absolute path), or NULL. Read
	 * when the file is loaded, at startup and each reload (after the privilege drop through
	 * the helper, which opens only the key file named at startup: see privdrop.h). */
	char *private_key_file;
	uint16_t listen_port; /* 0 = random */
	/* The control socket's listen_port=0: move to a new random port now (a file without
	 * ListenPort keeps the port the daemon has). */
	bool listen_port_new;
	struct ip_prefix *addresses; /* host bits kept */
	size_t n_addresses;
	unsigned mtu;
	uint32_t fwmark;  /* 0 = off */
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
	int user_line; /* of User =, for startup's message when there is no such user */
	bool sandbox;
	struct config_peer *peers;
	size_t n_peers;
	struct firewall_rule *rules; /* Allow = and Deny =, in file order */
	size_t n_rules;
	enum config_table table_mode; /* Table =: auto (default), off, or a table id */
	uint32_t table_id;            /* CONFIG_TABLE_ID only */
	/* Read for `sealnet up` and `down` only (see the top of this file); a reload that
	 * changes them needs no action: down reads the file again, as wg-quick down does. */
	struct config_list hooks[CONFIG_HOOK_MAX]; /* as written: %i not replaced yet */
	struct config_list dns_servers;            /* DNS = entries that are IP addresses */
	struct config_list dns_search;             /* the other DNS = entries: search domains */
	bool save_config;                          /* SaveConfig = true */
};

/* Whether whoever started this process acts on PreUp, PostUp, PreDown, PostDown, DNS and
 * SaveConfig = true: `sealnet up` and `down` do, and start sealnetd with -q to say so. By
 * default nobody does, and a file that holds any of them (with something to do) is refused
 * with its line rather than loaded with them ignored. Process-wide; set before loading. */
void config_set_quick_runner(bool caller_runs_them);

/* Reads and validates a file. On error returns -errno (-EINVAL for a bad file, -EHOSTUNREACH
 * for an Endpoint host name that does not resolve) and writes "FILE:LINE: what is wrong"
 * into err (may be NULL); the first error wins. Endpoint host names are resolved here,
 * blocking. Warns (log_warn) when the file holding a private or preshared key is readable by
 * group or others, and when it has no PrivateKey. A [Peer] with the interface's own public
 * key is left out with a notice, as WireGuard ignores it. *out owned by the caller, freed with
 * config_free(). */
int config_load(const char *path, struct config **out, char *err, size_t errlen);
/* Same, for a caller that needs no peer's address (sealnet down, which must work when names
 * do not resolve): an Endpoint host name is kept in endpoint_text, not resolved, and leaves
 * endpoint's sa_family 0. */
int config_load_unresolved(const char *path, struct config **out, char *err, size_t errlen);
/* config_load() in steps, so that a file of thousands of peers does not hold sealnetd's event
 * loop (a reload): config_load_start() reads the file at once (through the privileged helper
 * once privileges are dropped); each config_load_step() parses its lines until budget_ns
 * have gone by (0: to the end) and returns 1 while some are left, or what config_load()
 * returns, with *out and err as it gives them, once the last has been read and the whole
 * checked. Any split gives what config_load() gives. Freed with config_load_free() (NULL is
 * fine), also before the end. */
struct config_loader;
int config_load_start(const char *path, struct config_loader **out, char *err, size_t errlen);
int config_load_step(struct config_loader *l, uint64_t budget_ns, struct config **out, char *err,
		     size_t errlen);
void config_load_free(struct config_loader *l);
/* Same as config_load, from memory; `name` stands for FILE in messages. */
int config_parse_string(const char *text, const char *name, struct config **out, char *err,
			size_t errlen);
void config_free(struct config *c);

/* One thing config_check() found. */
struct config_issue {
	bool error;     /* else a warning */
	int line;       /* 0: the file as a whole */
	size_t seq;     /* the order it was found in, among those of its line */
	char text[640]; /* "FILE:LINE: what", as config_load() words it */
};

/* Reads the file as config_load_unresolved() does (no name is resolved), but goes on past
 * each error: *out holds every error and warning, in line order, *n of them (the caller
 * frees *out with free()). Warns besides of what is legal but likely a mistake (a peer with
 * no AllowedIPs, a prefix given to two peers), and checks what sealnetd finds only at
 * startup (that User exists). Returns 0 whatever the file holds, or -errno when it cannot
 * be read (with the reason in err). */
int config_check(const char *path, struct config_issue **out, size_t *n, char *err, size_t errlen);

/* The text of a file that loads back into what c holds (comments and the spelling of values
 * are not kept; defaults are left out; an Endpoint is its text if it has one). Returns 0 or
 * -ENOMEM. *out is NUL-terminated, *len bytes without the NUL, and holds the private key:
 * the caller wipes it (sodium_memzero) and frees it. */
int config_format(const struct config *c, char **out, size_t *len);

/* A number as config values and the control socket write them: decimal, or hexadecimal after
 * "0x" when hex is set; no sign, no blanks; at most max. Returns 0 or -EINVAL. */
int config_parse_number(const char *s, unsigned long long max, bool hex, unsigned long long *out);

/* Whether s may be a peer's Name (see CONFIG_NAME_MAX): checked in one place for the file,
 * the control socket and the tool. */
bool config_name_ok(const char *s);

#endif
