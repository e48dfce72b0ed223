/* Access rules: parsing, first-match decisions by source kind, and the connection table. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "firewall.h"
#include "key.h"
#include "messages.h"

static const uint8_t key_b[32] = { 0xbb }, key_c[32] = { 0xcc };

/* An IPv4 (or IPv6) packet from src to dst with ports (or an ICMP echo with id). */
static size_t pkt4(uint8_t *p, const char *src, const char *dst, uint8_t proto, uint16_t sport,
		   uint16_t dport)
{
	memset(p, 0, 60);
	p[0] = 0x45;
	p[3] = 48;
	p[8] = 64;
	p[9] = proto;
	inet_pton(AF_INET, src, p + 12);
	inet_pton(AF_INET, dst, p + 16);
	p[20] = (uint8_t)(sport >> 8);
	p[21] = (uint8_t)sport;
	p[22] = (uint8_t)(dport >> 8);
	p[23] = (uint8_t)dport;
	return 48;
}

static size_t echo4(uint8_t *p, const char *src, const char *dst, uint8_t type, uint16_t id)
{
	size_t len = pkt4(p, src, dst, 1, 0, 0);

	p[20] = type;
	p[24] = (uint8_t)(id >> 8);
	p[25] = (uint8_t)id;
	return len;
}

static size_t pkt6(uint8_t *p, const char *src, const char *dst, uint8_t proto, uint16_t sport,
		   uint16_t dport)
{
	memset(p, 0, 80);
	p[0] = 0x60;
	p[5] = 20;
	p[6] = proto;
	inet_pton(AF_INET6, src, p + 8);
	inet_pton(AF_INET6, dst, p + 24);
	p[40] = (uint8_t)(sport >> 8);
	p[41] = (uint8_t)sport;
	p[42] = (uint8_t)(dport >> 8);
	p[43] = (uint8_t)dport;
	return 60;
}

static struct firewall *with_rules(const char *const *texts, size_t n)
{
	struct firewall_rule rules[8];
	struct firewall *fw;
	char err[160];

	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++) {
		bool deny = !strncmp(texts[i], "deny ", 5);

		assert_int_equal(firewall_parse_rule(texts[i] + (deny ? 5 : 6), deny, &rules[i],
						     err, sizeof(err)),
				 0);
	}
	assert_int_equal(firewall_new(&fw), 0);
	assert_int_equal(firewall_set_rules(fw, rules, n), 0);
	return fw;
}

static void test_parse(void **state)
{
	struct firewall_rule r;
	char err[160], b64[KEY_B64_LEN], text[128];
	static const struct {
		const char *in, *out;
	} good[] = {
		{ "tcp/5201 from group:web", "allow tcp/5201 from group:web" },
		{ "TCP/8000-8100 FROM 100.64.3.7/24", "allow tcp/8000-8100 from 100.64.3.0/24" },
		{ "icmp", "allow icmp from any" },
		{ "any from fd00:64::/64", "allow any from fd00:64::/64" },
		{ "udp/53 from any", "allow udp/53 from any" },
	};
	static const char *const bad[] = {
		"",
		"tcp/0",
		"tcp/65536",
		"tcp/80-79",
		"icmp/8",
		"any/80",
		"sctp",
		"tcp/80 to any",
		"tcp/80 from",
		"tcp/80 from group:",
		"tcp/80 from group:a b",
		"tcp/80 from 10.0.0.1",
		"tcp/80 from key:abc",
		"tcp/80 from 100.64.0.0/33",
		"tcp/x",
		"tcp/80 from group:we/b",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(firewall_parse_rule(good[i].in, false, &r, err, sizeof(err)), 0);
		assert_string_equal(r.text, good[i].out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(firewall_parse_rule(bad[i], false, &r, err, sizeof(err)), -EINVAL);
		assert_true(err[0]);
	}
	key_to_base64(b64, key_b);
	snprintf(text, sizeof(text), "any from key:%s", b64);
	assert_int_equal(firewall_parse_rule(text, true, &r, err, sizeof(err)), 0);
	assert_true(r.deny);
	assert_int_equal(r.from, FIREWALL_FROM_KEY);
	assert_memory_equal(r.key, key_b, 32);
}

static void test_groups_ports_and_default(void **state)
{
	static const char *const rules[] = { "allow tcp/5201 from group:web" };
	struct firewall *fw = with_rules(rules, 1);
	uint64_t web = 1ULL << firewall_group_id(fw, "web");
	uint64_t db = 1ULL << 1; /* a group no rule names: the next bit */
	uint8_t p[80];
	size_t len;

	assert_true(firewall_active(fw));
	len = pkt4(p, "100.64.0.2", "100.64.0.1", 6, 40000, 5201);
	assert_int_equal(firewall_inbound(fw, key_b, web, p, len, 1), FIREWALL_ALLOW);
	assert_int_equal(firewall_inbound(fw, key_c, db, p, len, 1), FIREWALL_DEFAULT_DENY);
	len = pkt4(p, "100.64.0.2", "100.64.0.1", 6, 40000, 5202);
	assert_int_equal(firewall_inbound(fw, key_b, web, p, len, 1), FIREWALL_DEFAULT_DENY);
	len = pkt4(p, "100.64.0.2", "100.64.0.1", 17, 40000, 5201);
	assert_int_equal(firewall_inbound(fw, key_b, web, p, len, 1), FIREWALL_DEFAULT_DENY);
	len = echo4(p, "100.64.0.2", "100.64.0.1", 8, 7);
	assert_int_equal(firewall_inbound(fw, key_b, web, p, len, 1), FIREWALL_DEFAULT_DENY);
	/* a non-first fragment has no ports: only port-less rules could match it */
	len = pkt4(p, "100.64.0.2", "100.64.0.1", 6, 40000, 5201);
	p[7] = 0x10;
	assert_int_equal(firewall_inbound(fw, key_b, web, p, len, 1), FIREWALL_DEFAULT_DENY);
	/* garbage is refused, never read past its end */
	assert_int_equal(firewall_inbound(fw, key_b, web, p, 10, 1), FIREWALL_DEFAULT_DENY);
	firewall_free(fw);
}

static void test_first_match_key_cidr(void **state)
{
	static char deny_b[128];
	const char *rules[] = { deny_b, "allow any from 100.64.0.0/24", "allow udp/53 from any" };
	char b64[KEY_B64_LEN];
	struct firewall *fw;
	uint64_t m;
	uint8_t p[80];
	size_t len;

	key_to_base64(b64, key_b);
	snprintf(deny_b, sizeof(deny_b), "deny any from key:%s", b64);
	fw = with_rules(rules, 3);
	len = pkt4(p, "100.64.0.2", "100.64.0.1", 6, 1, 22);
	assert_int_equal(firewall_inbound(fw, key_b, 0, p, len, 1), 0); /* the deny rule */
	assert_int_equal(firewall_inbound(fw, key_c, 0, p, len, 1), FIREWALL_ALLOW);
	len = pkt4(p, "100.64.1.2", "100.64.0.1", 6, 1, 22);
	assert_int_equal(firewall_inbound(fw, key_c, 0, p, len, 1), FIREWALL_DEFAULT_DENY);
	len = pkt4(p, "100.64.1.2", "100.64.0.1", 17, 1, 53);
	assert_int_equal(firewall_inbound(fw, key_c, 0, p, len, 1), FIREWALL_ALLOW);
	/* IPv6 sources never match an IPv4 CIDR */
	len = pkt6(p, "fd00:64::2", "fd00:64::1", 6, 1, 22);
	assert_int_equal(firewall_inbound(fw, key_c, 0, p, len, 1), FIREWALL_DEFAULT_DENY);
	firewall_rule(fw, 0, &m);
	assert_int_equal(m, 1);
	firewall_rule(fw, 1, &m);
	assert_int_equal(m, 1);
	firewall_rule(fw, 2, &m);
	assert_int_equal(m, 1);
	firewall_free(fw);
}

static void test_replies_to_own_flows(void **state)
{
	static const char *const rules[] = { "allow tcp/5201 from group:web" };
	struct firewall *fw = with_rules(rules, 1);
	uint64_t t = 1000 * NSEC_PER_SEC;
	uint8_t p[80];
	size_t len;

	/* a connects out to c:443; c's answers come in, c's other ports do not */
	len = pkt4(p, "100.64.0.1", "100.64.0.3", 6, 50000, 443);
	firewall_outbound(fw, p, len, t);
	len = pkt4(p, "100.64.0.3", "100.64.0.1", 6, 443, 50000);
	assert_int_equal(firewall_inbound(fw, key_c, 0, p, len, t + 1), FIREWALL_ALLOW);
	len = pkt4(p, "100.64.0.3", "100.64.0.1", 6, 444, 50000);
	assert_int_equal(firewall_inbound(fw, key_c, 0, p, len, t + 1), FIREWALL_DEFAULT_DENY);
	/* the entry lapses 12 minutes after the last outgoing packet */
	len = pkt4(p, "100.64.0.3", "100.64.0.1", 6, 443, 50000);
	assert_int_equal(firewall_inbound(fw, key_c, 0, p, len, t + 13 * 60 * NSEC_PER_SEC),
			 FIREWALL_DEFAULT_DENY);
	/* ICMP echo: the identifier pairs reply and request */
	len = echo4(p, "100.64.0.1", "100.64.0.3", 8, 77);
	firewall_outbound(fw, p, len, t);
	len = echo4(p, "100.64.0.3", "100.64.0.1", 0, 77);
	assert_int_equal(firewall_inbound(fw, key_c, 0, p, len, t + 1), FIREWALL_ALLOW);
	len = echo4(p, "100.64.0.3", "100.64.0.1", 0, 78);
	assert_int_equal(firewall_inbound(fw, key_c, 0, p, len, t + 1), FIREWALL_DEFAULT_DENY);
	/* IPv6 UDP */
	len = pkt6(p, "fd00:64::1", "fd00:64::3", 17, 5353, 53);
	firewall_outbound(fw, p, len, t);
	len = pkt6(p, "fd00:64::3", "fd00:64::1", 17, 53, 5353);
	assert_int_equal(firewall_inbound(fw, key_c, 0, p, len, t + 1), FIREWALL_ALLOW);
	/* many flows: the table evicts, never grows, never breaks the newest */
	for (unsigned i = 0; i < 100000; i++) {
		len = pkt4(p, "100.64.0.1", "100.64.0.3", 17, (uint16_t)(i % 60000 + 1),
			   (uint16_t)(i / 60000 + 1));
		firewall_outbound(fw, p, len, t + i);
	}
	len = pkt4(p, "100.64.0.3", "100.64.0.1", 17, 2, 39999 % 60000 + 1);
	assert_int_equal(firewall_inbound(fw, key_c, 0, p, len, t + 100000), FIREWALL_ALLOW);
	firewall_free(fw);
}

/* IPv6 extension headers cannot hide the port from a deny rule (destination options, hop by
 * hop, a first fragment); a later fragment has no port and only port-less rules match it. */
static void test_ipv6_extension_headers(void **state)
{
	static const char *const rules[] = { "deny tcp/22", "allow any" };
	struct firewall *fw = with_rules(rules, 2);
	uint8_t p[120];
	size_t len;

	len = pkt6(p, "fd00:64::2", "fd00:64::1", 6, 40000, 22);
	assert_int_equal(firewall_inbound(fw, key_b, 0, p, len, 1), 0);
	for (int kind = 0; kind < 3; kind++) {
		uint8_t hdr = kind == 0 ? 60 : kind == 1 ? 0 : 44;

		memset(p, 0, sizeof(p));
		p[0] = 0x60;
		p[6] = hdr;
		inet_pton(AF_INET6, "fd00:64::2", p + 8);
		inet_pton(AF_INET6, "fd00:64::1", p + 24);
		p[40] = 6; /* next: TCP; length 0 = 8 bytes (a fragment header is 8 too) */
		p[48] = 0x9c;
		p[49] = 0x40;
		p[50] = 0;
		p[51] = 22;
		len = 48 + 20;
		p[5] = (uint8_t)(len - 40);
		assert_int_equal(firewall_inbound(fw, key_b, 0, p, len, 1), 0);
	}
	/* a later fragment: no port, so "deny tcp/22" cannot match, "allow any" does */
	p[6] = 44;
	p[43] = 0x08; /* offset 1 */
	assert_int_equal(firewall_inbound(fw, key_b, 0, p, len, 1), FIREWALL_ALLOW);
	/* a chain that does not end, or AH: refused */
	p[6] = 60;
	p[40] = 60;
	p[41] = 200;
	assert_int_equal(firewall_inbound(fw, key_b, 0, p, len, 1), FIREWALL_DEFAULT_DENY);
	firewall_free(fw);
}

/* ICMP errors about our own flows, and the later fragments of UDP replies, come in. */
static void test_errors_and_fragments_of_own_flows(void **state)
{
	static const char *const rules[] = { "allow tcp/5201 from group:web" };
	struct firewall *fw = with_rules(rules, 1);
	uint8_t p[120], q[60];
	size_t len, qlen;

	qlen = pkt4(q, "100.64.0.1", "100.64.0.3", 17, 5353, 53);
	firewall_outbound(fw, q, qlen, 1);
	/* port unreachable from c, quoting our datagram */
	memset(p, 0, sizeof(p));
	len = echo4(p, "100.64.0.3", "100.64.0.1", 3, 0);
	p[21] = 3;
	memcpy(p + 28, q, 28);
	len = 28 + 28;
	assert_int_equal(firewall_inbound(fw, key_c, 0, p, len, 2), FIREWALL_ALLOW);
	/* the same error about a flow we never opened */
	qlen = pkt4(q, "100.64.0.1", "100.64.0.3", 17, 5354, 53);
	memcpy(p + 28, q, 28);
	assert_int_equal(firewall_inbound(fw, key_c, 0, p, len, 2), FIREWALL_DEFAULT_DENY);
	/* a later fragment of c's answer to our query */
	len = pkt4(p, "100.64.0.3", "100.64.0.1", 17, 53, 5353);
	p[6] = 0x00;
	p[7] = 0xb9; /* offset 185 * 8 */
	assert_int_equal(firewall_inbound(fw, key_c, 0, p, len, 2), FIREWALL_ALLOW);
	len = pkt4(p, "100.64.0.4", "100.64.0.1", 17, 53, 5353);
	p[7] = 0xb9;
	assert_int_equal(firewall_inbound(fw, key_c, 0, p, len, 2), FIREWALL_DEFAULT_DENY);
	firewall_free(fw);
}

/* An ICMP message of any type with an 8-byte header (type, code, then rest-of-header). */
static size_t icmp4(uint8_t *p, const char *src, const char *dst, uint8_t type, uint8_t code)
{
	size_t len = echo4(p, src, dst, type, 0);

	p[21] = code;
	return len;
}

/* Issue 12, finding 6: what a node sends never opens the way in for what no flow of its own
 * explains. Its kernel's port unreachable, an echo reply it gives, a packet of a port-less
 * protocol: none lets anything past a Deny rule; an ICMP error comes in only for the flow it
 * quotes, and no packet without ports rides a tracked UDP flow but its later fragments. */
static void test_no_way_in_without_own_flow(void **state)
{
	static const char *const deny_icmp[] = { "deny icmp", "allow udp" };
	static const char *const deny_any_b[] = { "deny any from 100.64.0.3/32", "allow tcp/22" };
	struct firewall *fw;
	uint8_t p[120], q[80];
	size_t len, qlen;
	uint64_t m;

	fw = with_rules(deny_icmp, 2);
	/* c's datagram to a closed port of a is allowed; a's kernel answers port unreachable,
	 * quoting it */
	qlen = pkt4(q, "100.64.0.3", "100.64.0.1", 17, 40000, 9);
	assert_int_equal(firewall_inbound(fw, key_c, 0, q, qlen, 1), FIREWALL_ALLOW);
	len = icmp4(p, "100.64.0.1", "100.64.0.3", 3, 3);
	memcpy(p + 28, q, 28);
	firewall_outbound(fw, p, 56, 1);
	/* c's timestamp request, redirect, or unreachable about nothing of ours: denied */
	len = icmp4(p, "100.64.0.3", "100.64.0.1", 13, 0);
	assert_int_equal(firewall_inbound(fw, key_c, 0, p, len, 2), 0);
	len = icmp4(p, "100.64.0.3", "100.64.0.1", 5, 1);
	assert_int_equal(firewall_inbound(fw, key_c, 0, p, len, 2), 0);
	len = icmp4(p, "100.64.0.3", "100.64.0.1", 3, 3);
	memcpy(p + 28, q, 28); /* quoting c's own datagram, not one of a's */
	assert_int_equal(firewall_inbound(fw, key_c, 0, p, 56, 2), 0);
	/* an echo request too short to carry its identifier */
	len = icmp4(p, "100.64.0.3", "100.64.0.1", 8, 0);
	assert_int_equal(firewall_inbound(fw, key_c, 0, p, 24, 2), 0);
	/* a answers an echo request (id 5): that opens nothing for c's requests with id 5 */
	len = echo4(p, "100.64.0.1", "100.64.0.3", 0, 5);
	firewall_outbound(fw, p, len, 2);
	len = echo4(p, "100.64.0.3", "100.64.0.1", 8, 5);
	assert_int_equal(firewall_inbound(fw, key_c, 0, p, len, 3), 0);
	firewall_rule(fw, 0, &m);
	assert_int_equal(m, 5);
	firewall_free(fw);

	fw = with_rules(deny_any_b, 2);
	/* a sends GRE (47) and UDP to c: c's GRE, a UDP header cut short, UDP from port 0 to
	 * port 0 all meet the deny rule */
	len = pkt4(p, "100.64.0.1", "100.64.0.3", 47, 0, 0);
	firewall_outbound(fw, p, len, 1);
	len = pkt4(p, "100.64.0.1", "100.64.0.3", 17, 5353, 53);
	firewall_outbound(fw, p, len, 1);
	len = pkt4(p, "100.64.0.3", "100.64.0.1", 47, 0, 0);
	assert_int_equal(firewall_inbound(fw, key_c, 0, p, len, 2), 0);
	len = pkt4(p, "100.64.0.3", "100.64.0.1", 17, 53, 5353);
	assert_int_equal(firewall_inbound(fw, key_c, 0, p, 22, 2), 0);
	len = pkt4(p, "100.64.0.3", "100.64.0.1", 17, 0, 0);
	assert_int_equal(firewall_inbound(fw, key_c, 0, p, len, 2), 0);
	/* the reply itself and its later fragments do come in */
	len = pkt4(p, "100.64.0.3", "100.64.0.1", 17, 53, 5353);
	assert_int_equal(firewall_inbound(fw, key_c, 0, p, len, 2), FIREWALL_ALLOW);
	p[7] = 0xb9;
	assert_int_equal(firewall_inbound(fw, key_c, 0, p, len, 2), FIREWALL_ALLOW);
	firewall_rule(fw, 0, &m);
	assert_int_equal(m, 3);
	/* IPv6: a's kernel's port unreachable to c opens nothing either */
	qlen = pkt6(q, "fd00:64::3", "fd00:64::1", 17, 40000, 9);
	memset(p, 0, sizeof(p));
	len = pkt6(p, "fd00:64::1", "fd00:64::3", 58, 0, 0);
	p[40] = 1;
	p[41] = 4;
	memcpy(p + 48, q, 48);
	len = 96;
	p[5] = (uint8_t)(len - 40);
	firewall_outbound(fw, p, len, 3);
	len = pkt6(p, "fd00:64::3", "fd00:64::1", 58, 0, 0);
	p[40] = 1;
	assert_int_equal(firewall_inbound(fw, key_c, 0, p, len, 4), FIREWALL_DEFAULT_DENY);
	firewall_free(fw);
}

/* Issue 12, finding 3: a rule set built aside leaves the one in force, its group numbering
 * and its counts alone until it is swapped in; dropped unswapped, it changes nothing. */
static void test_rules_built_aside(void **state)
{
	static const char *const old_rules[] = { "allow tcp/5201 from group:web",
						 "allow any from group:admin" };
	struct firewall_rule r[2];
	struct firewall_rules *rs;
	struct firewall *fw = with_rules(old_rules, 2);
	uint64_t web = 1ULL << firewall_group_id(fw, "web"), m;
	uint8_t p[80];
	size_t len;
	char err[160];

	assert_int_equal(firewall_group_id(fw, "web"), 0);
	assert_int_equal(firewall_group_id(fw, "admin"), 1);
	len = pkt4(p, "100.64.0.2", "100.64.0.1", 6, 40000, 22);
	assert_int_equal(firewall_inbound(fw, key_b, web, p, len, 1), FIREWALL_DEFAULT_DENY);
	/* the new rules name admin first: admin would be bit 0 */
	assert_int_equal(firewall_parse_rule("any from group:admin", false, &r[0], err,
					     sizeof(err)),
			 0);
	assert_int_equal(firewall_parse_rule("tcp/5201 from group:web", false, &r[1], err,
					     sizeof(err)),
			 0);
	assert_int_equal(firewall_rules_new(r, 2, &rs), 0);
	assert_int_equal(firewall_rules_group_id(rs, "admin"), 0);
	assert_int_equal(firewall_rules_group_id(rs, "web"), 1);
	/* still the old numbering: b (web, bit 0) has web's access only */
	assert_int_equal(firewall_group_id(fw, "web"), 0);
	assert_string_equal(firewall_group_name(fw, 0), "web");
	assert_int_equal(firewall_inbound(fw, key_b, web, p, len, 1), FIREWALL_DEFAULT_DENY);
	firewall_rules_free(rs);
	assert_int_equal(firewall_rule_count(fw), 2);
	/* swapped in: the new numbering, and the unchanged rule keeps its count */
	len = pkt4(p, "100.64.0.2", "100.64.0.1", 6, 40000, 5201);
	assert_int_equal(firewall_inbound(fw, key_b, web, p, len, 1), FIREWALL_ALLOW);
	assert_int_equal(firewall_rules_new(r, 2, &rs), 0);
	firewall_swap_rules(fw, rs);
	assert_int_equal(firewall_group_id(fw, "web"), 1);
	assert_string_equal(firewall_rule(fw, 1, &m)->text, "allow tcp/5201 from group:web");
	assert_int_equal(m, 1);
	firewall_free(fw);
}

static void test_no_rules_and_groups(void **state)
{
	struct firewall_rules *rs;
	struct firewall *fw;

	assert_int_equal(firewall_new(&fw), 0);
	assert_false(firewall_active(fw));
	assert_false(firewall_active(NULL));
	assert_int_equal(firewall_rules_new(NULL, 0, &rs), 0);
	for (int i = 0; i < FIREWALL_MAX_GROUPS; i++) {
		char name[16];

		snprintf(name, sizeof(name), "g%d", i);
		assert_int_equal(firewall_rules_group_id(rs, name), i);
	}
	assert_int_equal(firewall_rules_group_id(rs, "g3"), 3);
	assert_int_equal(firewall_rules_group_id(rs, "one-too-many"), -ENOSPC);
	/* built aside, the table is not the one in force until swapped in */
	assert_int_equal(firewall_group_id(fw, "g3"), -ENOENT);
	assert_null(firewall_group_name(fw, 3));
	firewall_swap_rules(fw, rs);
	assert_int_equal(firewall_group_id(fw, "g3"), 3);
	assert_string_equal(firewall_group_name(fw, 63), "g63");
	assert_null(firewall_group_name(fw, 64));
	assert_true(firewall_group_name_ok("web-1_a.b"));
	assert_false(firewall_group_name_ok(""));
	assert_false(firewall_group_name_ok("we b"));
	assert_false(firewall_group_name_ok("0123456789012345678901234567890123"));
	firewall_free(fw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_groups_ports_and_default),
		cmocka_unit_test(test_first_match_key_cidr),
		cmocka_unit_test(test_replies_to_own_flows),
		cmocka_unit_test(test_ipv6_extension_headers),
		cmocka_unit_test(test_errors_and_fragments_of_own_flows),
		cmocka_unit_test(test_no_way_in_without_own_flow),
		cmocka_unit_test(test_rules_built_aside),
		cmocka_unit_test(test_no_rules_and_groups),
	};

	return cmocka_run_group_tests_name("firewall", tests, NULL, NULL);
}
