/* Access rules between nodes, in the manner of Nebula's firewall: who (a peer's public key, a
 * named group of peers, or an overlay CIDR) may reach which protocols and ports here.
 * Enforced on the inner packet after decryption, before the TUN. Replies to flows this node
 * opened are always let in (a small connection table, fed by outgoing packets): TCP and UDP
 * by their ports (and the later fragments of a UDP reply), pings by their identifier, ICMP
 * errors only when they quote such a flow of ours. Nothing else this node sends (an ICMP
 * error, an echo reply, a protocol without ports) opens a way in. Once any
 * rule exists, whatever no rule allows is dropped; with none, everything passes and the
 * datapath skips the firewall entirely. Rules are tried in order and the first match decides;
 * the connection table is consulted first, so a rule decides the first packets of a flow and
 * its match count counts those, not every packet.
 *
 * Rule text: `PROTO[/PORT[-PORT]] [from SOURCE]`, PROTO one of any, tcp, udp, icmp; SOURCE one
 * of any (the default), group:NAME, key:BASE64, or a CIDR such as 100.64.0.0/24. */
#ifndef SEALNET_FIREWALL_H
#define SEALNET_FIREWALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "key.h"

#define FIREWALL_GROUP_NAME_MAX 32
#define FIREWALL_MAX_GROUPS 64 /* per device: a peer's groups are a 64-bit mask */
#define FIREWALL_RULE_TEXT_MAX 160

enum firewall_source {
	FIREWALL_FROM_ANY,
	FIREWALL_FROM_GROUP,
	FIREWALL_FROM_KEY,
	FIREWALL_FROM_CIDR,
};

struct firewall_rule {
	bool deny;
	uint8_t proto; /* 0 any, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP (also ICMPv6) */
	uint16_t port_lo, port_hi;
	enum firewall_source from;
	char group[FIREWALL_GROUP_NAME_MAX];
	uint8_t key[KEY_LEN];
	struct ip_prefix cidr;
	char text[FIREWALL_RULE_TEXT_MAX]; /* normalised, for logs and metrics */
};

/* Parses one rule. Returns 0 or -EINVAL with the reason in err. */
int firewall_parse_rule(const char *text, bool deny, struct firewall_rule *out, char *err,
			size_t errlen);
/* Group names: letters, digits, '-', '_', '.', at most FIREWALL_GROUP_NAME_MAX - 1. */
bool firewall_group_name_ok(const char *name);

struct firewall;
/* A rule set with its table of group names, built aside: a set or reload makes one, reads
 * its peers' mask bits from it, and swaps it in only once nothing else can fail. */
struct firewall_rules;

int firewall_new(struct firewall **out);
void firewall_free(struct firewall *fw);

/* Builds a rule set from a copy of rules. The group names its rules use are interned in
 * order; firewall_rules_group_id() adds the peers'. Returns 0, -ENOMEM, or -ENOSPC (more
 * than FIREWALL_MAX_GROUPS names). *out is the caller's until firewall_swap_rules(). */
int firewall_rules_new(const struct firewall_rule *rules, size_t n, struct firewall_rules **out);
/* The group's bit in a peer's mask, interned if new: >= 0, or -ENOSPC. */
int firewall_rules_group_id(struct firewall_rules *rs, const char *name);
/* NULL is fine. */
void firewall_rules_free(struct firewall_rules *rs);
/* Puts rs in force and frees the set it replaces; cannot fail. The connection table stays,
 * and a rule whose text is unchanged keeps its match count. Every peer's mask must have been
 * read from rs. */
void firewall_swap_rules(struct firewall *fw, struct firewall_rules *rs);
/* firewall_rules_new() and firewall_swap_rules() in one, for a firewall no peer masks read. */
int firewall_set_rules(struct firewall *fw, const struct firewall_rule *rules, size_t n);

/* The id of a group name in the rules in force, or -ENOENT. */
int firewall_group_id(const struct firewall *fw, const char *name);
/* The name a group id (a peer's mask bit) stands for, or NULL for an id not in the table. */
const char *firewall_group_name(const struct firewall *fw, unsigned id);
bool firewall_active(const struct firewall *fw);
size_t firewall_rule_count(const struct firewall *fw);
const struct firewall_rule *firewall_rule(const struct firewall *fw, size_t i, uint64_t *matches);

/* An outgoing packet (from the TUN): remember its flow so the reply may come in. */
void firewall_outbound(struct firewall *fw, const uint8_t *pkt, size_t len, uint64_t now);

#define FIREWALL_ALLOW (-1)
#define FIREWALL_DEFAULT_DENY (-2)
/* An incoming packet from the peer with this key and group mask. Returns FIREWALL_ALLOW, the
 * index of the deny rule that matched, or FIREWALL_DEFAULT_DENY. Counts matches per rule. */
int firewall_inbound(struct firewall *fw, const uint8_t key[KEY_LEN], uint64_t groups,
		     const uint8_t *pkt, size_t len, uint64_t now);

#endif
