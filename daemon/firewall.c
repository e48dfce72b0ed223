/* The access rules in force (firewall_rules) and the connection table that lets the replies
 * of a node's own flows back in; what a rule says as text is firewall_rule.c's. */
#include "firewall.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cipher.h"
#include "key.h"
#include "messages.h"

/* Connection table: 4-way buckets, so a lookup touches one cache line or two and an insert
 * evicts the stalest of four. Sized for a busy node's flows; overflow only costs replies
 * whose flow was evicted, and those are then judged by the rules. */
#define CT_BUCKETS 4096
#define CT_WAYS 4
#define CT_TCP_TIMEOUT (12 * 60)
#define CT_UDP_TIMEOUT (3 * 60)
#define CT_OTHER_TIMEOUT (10 * 60)

/* What of a packet the connection table may know it by. Only a node's own flows are
 * entries: a TCP or UDP flow by its ports, a ping by its identifier (the request opens, the
 * reply matches), and the later fragments of a UDP flow by the address pair, which only real
 * later fragments look up. Anything else (an ICMP error, an echo reply we give, a protocol
 * without ports, a header cut short) opens nothing and matches nothing: an ICMP error comes
 * in only for the flow it quotes. */
enum flow_kind {
	FLOW_NONE,
	FLOW_PORTS,
	FLOW_ECHO,
	FLOW_UDP_FRAGMENTS,
};

struct flow {
	uint8_t family, proto;
	uint16_t local_port, remote_port;
	uint8_t kind, reserved; /* hashed and compared as bytes: no padding */
	uint8_t local[16], remote[16];
};

struct ct_entry {
	struct flow flow;
	uint64_t expires; /* monotonic ns; 0 = free */
};

struct firewall_rules {
	struct firewall_rule *rules;
	uint64_t *matches;
	int *rule_group; /* interned group id per rule, -1 when not a group rule */
	size_t n_rules;
	char groups[FIREWALL_MAX_GROUPS][FIREWALL_GROUP_NAME_MAX];
	unsigned n_groups;
};

struct firewall {
	struct firewall_rules *rs; /* never NULL */
	uint64_t seed;
	struct ct_entry ct[CT_BUCKETS][CT_WAYS];
};

int firewall_rules_group_id(struct firewall_rules *rs, const char *name)
{
	for (unsigned i = 0; i < rs->n_groups; i++)
		if (!strcmp(rs->groups[i], name))
			return (int)i;
	if (rs->n_groups == FIREWALL_MAX_GROUPS)
		return -ENOSPC;
	snprintf(rs->groups[rs->n_groups], FIREWALL_GROUP_NAME_MAX, "%s", name);
	return (int)rs->n_groups++;
}

void firewall_rules_free(struct firewall_rules *rs)
{
	if (!rs)
		return;
	free(rs->rules);
	free(rs->matches);
	free(rs->rule_group);
	free(rs);
}

int firewall_rules_new(const struct firewall_rule *rules, size_t n, struct firewall_rules **out)
{
	struct firewall_rules *rs = calloc(1, sizeof(*rs));
	size_t alloc = n ? n : 1;
	int ret = -ENOMEM;

	if (!rs)
		return -ENOMEM;
	rs->rules = calloc(alloc, sizeof(*rs->rules));
	rs->matches = calloc(alloc, sizeof(*rs->matches));
	rs->rule_group = calloc(alloc, sizeof(*rs->rule_group));
	if (!rs->rules || !rs->matches || !rs->rule_group)
		goto err;
	if (n)
		memcpy(rs->rules, rules, n * sizeof(*rules));
	rs->n_rules = n;
	for (size_t i = 0; i < n; i++) {
		rs->rule_group[i] = -1;
		if (rs->rules[i].from != FIREWALL_FROM_GROUP)
			continue;
		ret = firewall_rules_group_id(rs, rs->rules[i].group);
		if (ret < 0)
			goto err;
		rs->rule_group[i] = ret;
	}
	*out = rs;
	return 0;
err:
	firewall_rules_free(rs);
	return ret;
}

int firewall_new(struct firewall **out)
{
	struct firewall *fw = calloc(1, sizeof(*fw));

	if (!fw)
		return -ENOMEM;
	if (firewall_rules_new(NULL, 0, &fw->rs)) {
		free(fw);
		return -ENOMEM;
	}
	cipher_random(&fw->seed, sizeof(fw->seed));
	*out = fw;
	return 0;
}

void firewall_free(struct firewall *fw)
{
	if (!fw)
		return;
	firewall_rules_free(fw->rs);
	free(fw);
}

void firewall_swap_rules(struct firewall *fw, struct firewall_rules *rs)
{
	/* An unchanged rule keeps its count across a reload. */
	for (size_t i = 0; i < rs->n_rules; i++)
		for (size_t j = 0; j < fw->rs->n_rules; j++)
			if (!strcmp(rs->rules[i].text, fw->rs->rules[j].text))
				rs->matches[i] = fw->rs->matches[j];
	firewall_rules_free(fw->rs);
	fw->rs = rs;
}

int firewall_set_rules(struct firewall *fw, const struct firewall_rule *rules, size_t n)
{
	struct firewall_rules *rs;
	int ret = firewall_rules_new(rules, n, &rs);

	if (ret)
		return ret;
	firewall_swap_rules(fw, rs);
	return 0;
}

int firewall_group_id(const struct firewall *fw, const char *name)
{
	for (unsigned i = 0; i < fw->rs->n_groups; i++)
		if (!strcmp(fw->rs->groups[i], name))
			return (int)i;
	return -ENOENT;
}

const char *firewall_group_name(const struct firewall *fw, unsigned id)
{
	return id < fw->rs->n_groups ? fw->rs->groups[id] : NULL;
}

bool firewall_active(const struct firewall *fw)
{
	return fw && fw->rs->n_rules;
}

size_t firewall_rule_count(const struct firewall *fw)
{
	return fw ? fw->rs->n_rules : 0;
}

const struct firewall_rule *firewall_rule(const struct firewall *fw, size_t i, uint64_t *matches)
{
	if (i >= fw->rs->n_rules)
		return NULL;
	if (matches)
		*matches = fw->rs->matches[i];
	return &fw->rs->rules[i];
}

/* Fills the flow of a packet as seen from this node: outbound (src is local) or inbound
 * (dst is local). IPv6 extension headers are walked to the real protocol, so a header in
 * front of TCP cannot hide its port from a Deny rule. Non-first fragments carry no ports: only
 * rules without ports can match them. Returns false for what cannot be parsed (denied). */
static bool parse_flow(const uint8_t *pkt, size_t len, bool outbound, struct flow *f,
		       const uint8_t **l4out, size_t *l4len)
{
	const uint8_t *src, *dst, *l4;
	size_t alen, hl;
	bool has_l4;

	memset(f, 0, sizeof(*f));
	*l4out = NULL;
	*l4len = 0;
	if (len >= 20 && (pkt[0] >> 4) == 4) {
		hl = (size_t)(pkt[0] & 15) * 4;
		if (hl < 20 || hl > len)
			return false;
		f->family = 4;
		f->proto = pkt[9];
		src = pkt + 12;
		dst = pkt + 16;
		alen = 4;
		has_l4 = !((pkt[6] & 0x1f) | pkt[7]); /* first fragment only */
	} else if (len >= 40 && (pkt[0] >> 4) == 6) {
		uint8_t next = pkt[6];

		hl = 40;
		has_l4 = true;
		/* hop-by-hop, routing, fragment, destination options; AH is refused */
		for (int n = 0; n < 8 && (next == 0 || next == 43 || next == 44 || next == 60);
		     n++) {
			if (len < hl + 8)
				return false;
			if (next == 44) {
				if ((pkt[hl + 2] << 8 | pkt[hl + 3]) & 0xfff8)
					has_l4 = false; /* not the first fragment */
				next = pkt[hl];
				hl += 8;
			} else {
				uint8_t nn = pkt[hl];

				hl += ((size_t)pkt[hl + 1] + 1) * 8;
				next = nn;
			}
		}
		if (next == 0 || next == 43 || next == 44 || next == 60 || next == 51 || hl > len)
			return false;
		f->family = 6;
		f->proto = next == IPPROTO_ICMPV6 ? IPPROTO_ICMP : next;
		src = pkt + 8;
		dst = pkt + 24;
		alen = 16;
	} else {
		return false;
	}
	memcpy(f->local, outbound ? src : dst, alen);
	memcpy(f->remote, outbound ? dst : src, alen);
	l4 = pkt + hl;
	if (!has_l4) {
		if (f->proto == IPPROTO_UDP)
			f->kind = FLOW_UDP_FRAGMENTS;
		return true;
	}
	*l4out = l4;
	*l4len = len - hl;
	if ((f->proto == IPPROTO_TCP || f->proto == IPPROTO_UDP) && len >= hl + 4) {
		uint16_t sp = (uint16_t)(l4[0] << 8 | l4[1]), dp = (uint16_t)(l4[2] << 8 | l4[3]);

		f->local_port = outbound ? sp : dp;
		f->remote_port = outbound ? dp : sp;
		f->kind = FLOW_PORTS;
	} else if (f->proto == IPPROTO_ICMP && len >= hl + 8) {
		/* Echo: the identifier pairs our request with its reply; a request coming in or
		 * the reply we give is nobody's flow of ours. */
		uint8_t type = l4[0];
		bool ours = f->family == 4 ? type == (outbound ? 8 : 0)
					   : type == (outbound ? 128 : 129);

		if (ours) {
			f->local_port = f->remote_port = (uint16_t)(l4[4] << 8 | l4[5]);
			f->kind = FLOW_ECHO;
		}
	}
	return true;
}

/* An ICMP error (unreachable, too big, time exceeded, parameter problem) quotes the packet
 * it is about: if that is one of our flows, the error belongs to it (path MTU discovery). */
static bool icmp_error(const struct flow *f, const uint8_t *l4)
{
	uint8_t type = l4[0];

	if (f->family == 4)
		return type == 3 || type == 11 || type == 12;
	return type >= 1 && type <= 4;
}

static uint32_t flow_hash(const struct firewall *fw, const struct flow *f)
{
	/* FNV-1a with a random start: flows come from our own side, so a keyed hash only has
	 * to keep buckets from lining up across nodes. */
	uint64_t h = 0xcbf29ce484222325ULL ^ fw->seed;
	const uint8_t *p = (const uint8_t *)f;

	for (size_t i = 0; i < sizeof(*f); i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return (uint32_t)(h ^ (h >> 32)) & (CT_BUCKETS - 1);
}

static uint64_t timeout(uint8_t proto)
{
	return (proto == IPPROTO_TCP   ? CT_TCP_TIMEOUT
		: proto == IPPROTO_UDP ? CT_UDP_TIMEOUT
				       : CT_OTHER_TIMEOUT) *
	       NSEC_PER_SEC;
}

static void track(struct firewall *fw, const struct flow *fl, uint64_t now)
{
	struct ct_entry *b, *victim;
	struct flow f = *fl;

	b = fw->ct[flow_hash(fw, &f)];
	victim = &b[0];
	for (int i = 0; i < CT_WAYS; i++) {
		if (b[i].expires > now && !memcmp(&b[i].flow, &f, sizeof(f))) {
			b[i].expires = now + timeout(f.proto);
			return;
		}
		if (b[i].expires < victim->expires)
			victim = &b[i];
	}
	victim->flow = f;
	victim->expires = now + timeout(f.proto);
}

void firewall_outbound(struct firewall *fw, const uint8_t *pkt, size_t len, uint64_t now)
{
	const uint8_t *l4;
	size_t l4len;
	struct flow f;

	if (!parse_flow(pkt, len, true, &f, &l4, &l4len) ||
	    (f.kind != FLOW_PORTS && f.kind != FLOW_ECHO))
		return;
	track(fw, &f, now);
	/* The later fragments of a UDP reply carry no ports: the address pair stands for them,
	 * and only for them. */
	if (f.proto == IPPROTO_UDP) {
		f.local_port = f.remote_port = 0;
		f.kind = FLOW_UDP_FRAGMENTS;
		track(fw, &f, now);
	}
}

static bool tracked(struct firewall *fw, const struct flow *f, uint64_t now)
{
	struct ct_entry *b = fw->ct[flow_hash(fw, f)];

	for (int i = 0; i < CT_WAYS; i++)
		if (b[i].expires > now && !memcmp(&b[i].flow, f, sizeof(*f)))
			return true;
	return false;
}

static bool source_matches(const struct firewall_rules *rs, size_t i, const uint8_t key[KEY_LEN],
			   uint64_t groups, const struct flow *f)
{
	const struct firewall_rule *r = &rs->rules[i];

	switch (r->from) {
	case FIREWALL_FROM_ANY:
		return true;
	case FIREWALL_FROM_GROUP:
		return rs->rule_group[i] >= 0 && (groups >> rs->rule_group[i]) & 1;
	case FIREWALL_FROM_KEY:
		return key_equal(r->key, key);
	case FIREWALL_FROM_CIDR: {
		size_t n = r->cidr.addr.family == AF_INET ? 4 : 16, full = r->cidr.cidr / 8;
		unsigned rest = r->cidr.cidr % 8;

		if ((r->cidr.addr.family == AF_INET) != (f->family == 4))
			return false;
		if (memcmp(r->cidr.addr.bytes, f->remote, full))
			return false;
		return !rest || full >= n ||
		       !((r->cidr.addr.bytes[full] ^ f->remote[full]) & (0xff << (8 - rest)));
	}
	}
	return false;
}

int firewall_inbound(struct firewall *fw, const uint8_t key[KEY_LEN], uint64_t groups,
		     const uint8_t *pkt, size_t len, uint64_t now)
{
	struct firewall_rules *rs = fw->rs;
	const uint8_t *l4, *q4;
	size_t l4len, q4len;
	struct flow f, q;

	if (!parse_flow(pkt, len, false, &f, &l4, &l4len))
		return FIREWALL_DEFAULT_DENY;
	if (f.kind != FLOW_NONE && tracked(fw, &f, now))
		return FIREWALL_ALLOW;
	/* The quoted packet is one we sent, from the address the error comes to: parsed as
	 * outbound it is our flow. */
	if (f.proto == IPPROTO_ICMP && f.kind == FLOW_NONE && l4 && l4len > 8 &&
	    icmp_error(&f, l4) && parse_flow(l4 + 8, l4len - 8, true, &q, &q4, &q4len) &&
	    (q.kind == FLOW_PORTS || q.kind == FLOW_ECHO) && q.family == f.family &&
	    !memcmp(q.local, f.local, sizeof(q.local)) && tracked(fw, &q, now))
		return FIREWALL_ALLOW;
	for (size_t i = 0; i < rs->n_rules; i++) {
		const struct firewall_rule *r = &rs->rules[i];

		if (r->proto && r->proto != f.proto)
			continue;
		if (r->port_lo && (f.local_port < r->port_lo || f.local_port > r->port_hi))
			continue;
		if (!source_matches(rs, i, key, groups, &f))
			continue;
		rs->matches[i]++;
		return r->deny ? (int)i : FIREWALL_ALLOW;
	}
	return FIREWALL_DEFAULT_DENY;
}
