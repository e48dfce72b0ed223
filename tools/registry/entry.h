/* What a node's entry in etcd says, and whether it may be believed (docs/cluster.md,
 * "Validation"; docs/security.md, "The peer registry"). Pure functions of their arguments: no
 * etcd, no daemon, no log, so that every node decides the same from the same data and
 * tests/unit/test_registry_entry.c can check each rule alone.
 *
 * An entry is outside input: anyone who may write under PREFIX/nodes/ writes it. What it may
 * claim is bounded by the cluster's ranges (--cluster-cidr), which are this node's own
 * configuration, never etcd's. */
#ifndef SEALNET_TOOLS_REGISTRY_ENTRY_H
#define SEALNET_TOOLS_REGISTRY_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "config.h"
#include "firewall.h"
#include "key.h"

#define REGISTRY_MAX_ENDPOINTS 8
/* As the daemon takes a peer's groups (config.h, firewall.h). */
#define REGISTRY_MAX_GROUPS CONFIG_MAX_GROUPS
/* A node's entry is a few hundred bytes; anything much larger is not one of ours. */
#define REGISTRY_MAX_ENTRY_LEN 4096
/* Base64url of a key without padding, with its NUL: 43 characters. */
#define REGISTRY_KEY_NAME_LEN 44
/* --cluster-cidr: an overlay of each family and a few pod ranges. */
#define REGISTRY_MAX_CLUSTER_CIDRS 8
/* A node's pod subnets: one of each family at most (dual stack). */
#define REGISTRY_MAX_POD_SUBNETS 2
/* Its claims: the overlay address and the pod subnets. */
#define REGISTRY_MAX_CLAIMS (1 + REGISTRY_MAX_POD_SUBNETS)

/* What an entry says, once checked. */
struct node {
	uint8_t public_key[KEY_LEN];
	char endpoint[ADDR_STRLEN]; /* the first endpoint, as the daemon writes it; "" none */
	struct ip_prefix overlay;   /* a host prefix: /32 or /128 */
	/* In the order the entry gives them; at most one per family. */
	struct ip_prefix pod_subnets[REGISTRY_MAX_POD_SUBNETS];
	size_t n_pod_subnets;
	char groups[REGISTRY_MAX_GROUPS][FIREWALL_GROUP_NAME_MAX];
	size_t n_groups;
};

/* The ranges the cluster's claims must lie in. */
struct cluster_cidrs {
	struct ip_prefix p[REGISTRY_MAX_CLUSTER_CIDRS];
	size_t n;
};

/* The last part of a node's key in etcd: base64url without padding. */
void registry_key_name(char name[REGISTRY_KEY_NAME_LEN], const uint8_t key[KEY_LEN]);

/* Writes the reason into why (len bytes) and returns -EINVAL: every refusal's one form. */
int registry_refuse(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Parses "100.64.0.0/10" into cidrs (appended): a prefix without host bits, never /0.
 * Returns 0, -EINVAL (why says what is wrong) or -ENOSPC (too many). */
int registry_add_cluster_cidr(struct cluster_cidrs *cidrs, const char *s, char *why,
			      size_t why_len);

/* Checks the entry at key (under prefix) against the rules every node applies alike, and
 * fills n: the name is the base64url of public_key; value is a JSON object of at most
 * REGISTRY_MAX_ENTRY_LEN bytes (len, which must be strlen(value)); overlay is one address;
 * the pod subnets are those of pod_subnet (one prefix, what every version reads) and of
 * pod_subnets (a list, for a dual-stack node), the same one in both counted once, at most one
 * per family, each a prefix without host bits, at most /8 (/32) wide; every claim inside one
 * of cidrs;
 * endpoints are numeric ip:port, none inside cidrs (an overlay address cannot carry the
 * tunnel, and so no claim can cover an endpoint); groups are names. Fields it does not know
 * are ignored. Returns 0, or -EINVAL with the reason in why, which may quote the value: pass
 * it through registry_escape() before logging it. */
int registry_parse_entry(const char *prefix, const char *key, const char *value, size_t len,
			 const struct cluster_cidrs *cidrs, struct node *n, char *why,
			 size_t why_len);

bool registry_prefixes_overlap(const struct ip_prefix *a, const struct ip_prefix *b);
/* Whether inner lies wholly inside outer (equal included). */
bool registry_prefix_within(const struct ip_prefix *inner, const struct ip_prefix *outer);
/* Whether a lies in p. */
bool registry_prefix_covers(const struct ip_prefix *p, const struct ip_addr *a);
/* The address of an endpoint; an IPv4-mapped IPv6 one as IPv4. */
void registry_endpoint_addr(const union endpoint *ep, struct ip_addr *out);

/* Writes the claim of a that overlaps one of b's into what; false when none does. */
bool registry_claims_overlap(const struct node *a, const struct node *b, char *what, size_t len);
/* Writes the claim of n that covers a into what; false when none does. */
bool registry_claims_cover(const struct node *n, const struct ip_addr *a, char *what, size_t len);
/* Whether n's claims overlap held, a prefix of a peer the registry does not manage: a claim
 * equal to it would move it to n's peer, one inside it would take part of its traffic. A held
 * prefix that contains the whole cluster range a claim lies in (an exit node's 0.0.0.0/0)
 * holds none of the cluster's addresses in particular: the claim, more specific, goes before
 * it as in any routing table, and does not count. Writes the clash into what. */
bool registry_claims_take(const struct node *n, const struct ip_prefix *held,
			  const struct cluster_cidrs *cidrs, char *what, size_t len);

/* The node's claims: its overlay address, then its pod subnets. Returns how many. */
size_t registry_claims(const struct node *n, const struct ip_prefix *c[REGISTRY_MAX_CLAIMS]);

bool registry_node_same(const struct node *a, const struct node *b);

/* Copies in to out (len bytes, always NUL-terminated) with every byte outside printable
 * ASCII written \xNN and a backslash written \\, so that nothing read from etcd can end a
 * log line or hide in one. Returns out. */
char *registry_escape(char *out, size_t len, const char *in);

#endif
