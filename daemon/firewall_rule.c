/* Access rules as text: "allow tcp/22 from group:ops", parsed into a struct firewall_rule
 * and written back in one normal form, so that the same rule reads the same in logs and
 * metrics. The tables that apply them are firewall.c's. */
#include "firewall.h"

#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "key.h"
#include "log.h"

bool firewall_group_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (!len || len >= FIREWALL_GROUP_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("-_.", name[i]))
			return false;
	return true;
}

static int parse_port(const char *s, size_t len, uint16_t *out)
{
	unsigned long v = 0;

	if (!len || len > 5)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

/* PROTO[/PORT[-PORT]], in place in word. */
static int parse_proto(char *word, struct firewall_rule *out, char *err, size_t errlen)
{
	char *slash = strchr(word, '/'), *dash;

	if (slash)
		*slash++ = '\0';
	if (!strcasecmp(word, "any"))
		out->proto = 0;
	else if (!strcasecmp(word, "tcp"))
		out->proto = IPPROTO_TCP;
	else if (!strcasecmp(word, "udp"))
		out->proto = IPPROTO_UDP;
	else if (!strcasecmp(word, "icmp"))
		out->proto = IPPROTO_ICMP;
	else
		return log_errbuf(err, errlen, -EINVAL,
				  "unknown protocol \"%s\" (any, tcp, udp, icmp)", word);
	if (!slash)
		return 0;
	if (out->proto != IPPROTO_TCP && out->proto != IPPROTO_UDP)
		return log_errbuf(err, errlen, -EINVAL, "only tcp and udp have ports");
	dash = strchr(slash, '-');
	if (parse_port(slash, dash ? (size_t)(dash - slash) : strlen(slash), &out->port_lo) ||
	    (dash && parse_port(dash + 1, strlen(dash + 1), &out->port_hi)))
		return log_errbuf(err, errlen, -EINVAL, "bad port \"%s\" (1 to 65535, or LOW-HIGH)",
				  slash);
	if (!dash)
		out->port_hi = out->port_lo;
	if (out->port_hi < out->port_lo)
		return log_errbuf(err, errlen, -EINVAL, "bad port range \"%s\"", slash);
	return 0;
}

/* What follows "from": any, group:NAME, key:BASE64 or a CIDR. */
static int parse_source(const char *w, struct firewall_rule *out, char *err, size_t errlen)
{
	if (!strcasecmp(w, "any")) {
		out->from = FIREWALL_FROM_ANY;
	} else if (!strncasecmp(w, "group:", 6)) {
		if (!firewall_group_name_ok(w + 6))
			return log_errbuf(err, errlen, -EINVAL, "bad group name \"%s\"", w + 6);
		out->from = FIREWALL_FROM_GROUP;
		snprintf(out->group, sizeof(out->group), "%s", w + 6);
	} else if (!strncasecmp(w, "key:", 4)) {
		if (key_from_base64(out->key, w + 4))
			return log_errbuf(err, errlen, -EINVAL, "bad public key \"%s\"", w + 4);
		out->from = FIREWALL_FROM_KEY;
	} else {
		if (!strchr(w, '/') || addr_parse_prefix(w, &out->cidr))
			return log_errbuf(err, errlen, -EINVAL,
					  "bad source \"%s\" (any, group:NAME, key:BASE64, or a CIDR)",
					  w);
		addr_prefix_mask(&out->cidr);
		out->from = FIREWALL_FROM_CIDR;
	}
	return 0;
}

/* The normal form into out->text. */
static void rule_text(struct firewall_rule *out)
{
	static const char *const names[] = { [0] = "any",
					     [IPPROTO_ICMP] = "icmp",
					     [IPPROTO_TCP] = "tcp",
					     [IPPROTO_UDP] = "udp" };
	char ports[16] = "", src[80] = "any", b64[KEY_B64_LEN], p[ADDR_STRLEN];

	if (out->port_lo && out->port_lo == out->port_hi)
		snprintf(ports, sizeof(ports), "/%u", out->port_lo);
	else if (out->port_lo)
		snprintf(ports, sizeof(ports), "/%u-%u", out->port_lo, out->port_hi);
	if (out->from == FIREWALL_FROM_GROUP) {
		snprintf(src, sizeof(src), "group:%s", out->group);
	} else if (out->from == FIREWALL_FROM_KEY) {
		key_to_base64(b64, out->key);
		snprintf(src, sizeof(src), "key:%s", b64);
	} else if (out->from == FIREWALL_FROM_CIDR) {
		snprintf(src, sizeof(src), "%s", addr_prefix_str(&out->cidr, p));
	}
	snprintf(out->text, sizeof(out->text), "%s %s%s from %s", out->deny ? "deny" : "allow",
		 names[out->proto], ports, src);
}

int firewall_parse_rule(const char *text, bool deny, struct firewall_rule *out, char *err,
			size_t errlen)
{
	char buf[FIREWALL_RULE_TEXT_MAX], *words[4], *save = NULL, *w;
	int n = 0, ret;

	memset(out, 0, sizeof(*out));
	out->deny = deny;
	out->port_hi = 65535;
	if (strlen(text) >= sizeof(buf))
		return log_errbuf(err, errlen, -EINVAL, "rule too long");
	snprintf(buf, sizeof(buf), "%s", text);
	for (w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (n == 4)
			return log_errbuf(err, errlen, -EINVAL, "too many words in \"%s\"", text);
		words[n++] = w;
	}
	if (n != 1 && n != 3)
		return log_errbuf(err, errlen, -EINVAL,
				  "want PROTO[/PORT[-PORT]] [from SOURCE], not \"%s\"", text);
	ret = parse_proto(words[0], out, err, errlen);
	if (ret)
		return ret;
	if (n == 3) {
		if (strcasecmp(words[1], "from"))
			return log_errbuf(err, errlen, -EINVAL, "expected \"from\", not \"%s\"",
					  words[1]);
		ret = parse_source(words[2], out, err, errlen);
		if (ret)
			return ret;
	}
	rule_text(out);
	return 0;
}
