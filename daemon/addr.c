#include "addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

int addr_parse_prefix(const char *s, struct ip_prefix *out)
{
	char buf[ADDR_STRLEN];
	const char *slash = strchr(s, '/');
	size_t len = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long cidr;
	char *end;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->addr.bytes) == 1)
		out->addr.family = AF_INET;
	else if (inet_pton(AF_INET6, buf, out->addr.bytes) == 1)
		out->addr.family = AF_INET6;
	else
		return -EINVAL;
	if (!slash) {
		out->cidr = out->addr.family == AF_INET ? 32 : 128;
		return 0;
	}
	if (slash[1] < '0' || slash[1] > '9')
		return -EINVAL;
	errno = 0;
	cidr = strtoul(slash + 1, &end, 10);
	if (errno || *end || cidr > (out->addr.family == AF_INET ? 32u : 128u))
		return -EINVAL;
	out->cidr = (uint8_t)cidr;
	return 0;
}

void addr_prefix_mask(struct ip_prefix *p)
{
	size_t n = addr_len(p->addr.family);

	for (size_t i = 0; i < n; i++) {
		int bits = (int)p->cidr - (int)i * 8;

		if (bits <= 0)
			p->addr.bytes[i] = 0;
		else if (bits < 8)
			p->addr.bytes[i] &= (uint8_t)(0xff << (8 - bits));
	}
}

const char *addr_str(const struct ip_addr *a, char buf[ADDR_STRLEN])
{
	if (!inet_ntop(a->family, a->bytes, buf, ADDR_STRLEN))
		snprintf(buf, ADDR_STRLEN, "?");
	return buf;
}

const char *addr_prefix_str(const struct ip_prefix *p, char buf[ADDR_STRLEN])
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(p->addr.family, p->addr.bytes, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, ADDR_STRLEN, "%s/%u", a, p->cidr);
	return buf;
}

/* "host:port" or "[host]:port" (*bracketed says which); the port is 1..65535, in decimal. */
static int split_host_port(const char *s, char *host, size_t hostlen, unsigned *port,
			   bool *bracketed)
{
	const char *colon;
	size_t len;
	unsigned long p;
	char *end;

	*bracketed = s[0] == '[';
	if (*bracketed) {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		len = (size_t)(close - s - 1);
		s++;
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || strchr(s, ':') != colon)
			return -EINVAL;
		len = (size_t)(colon - s);
	}
	if (len == 0 || len >= hostlen)
		return -EINVAL;
	memcpy(host, s, len);
	host[len] = '\0';
	if (colon[1] < '0' || colon[1] > '9')
		return -EINVAL;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno || *end || p == 0 || p > 65535)
		return -EINVAL;
	*port = (unsigned)p;
	return 0;
}

/* The zone of "fe80::1%eth0". A name is looked up first, then a number is taken as an index,
 * in the order wireguard-go (Go's net package) tries them: a number need not name an
 * interface that exists now, a name must, since only its index can be kept. */
static int parse_zone(const char *zone, uint32_t *scope_id)
{
	unsigned long long n;
	unsigned index;
	char *end;

	if (!*zone)
		return -EINVAL;
	index = if_nametoindex(zone);
	if (index) {
		*scope_id = index;
		return 0;
	}
	if (zone[0] < '0' || zone[0] > '9')
		return -ENODEV;
	errno = 0;
	n = strtoull(zone, &end, 10);
	if (errno || *end || n > UINT32_MAX)
		return -EINVAL;
	*scope_id = (uint32_t)n;
	return 0;
}

int addr_parse_endpoint(const char *s, union endpoint *out)
{
	union endpoint e = { 0 };
	char host[ADDR_STRLEN], *zone;
	uint32_t scope_id = 0;
	bool bracketed;
	unsigned port;
	int ret;

	if (split_host_port(s, host, sizeof(host), &port, &bracketed))
		return -EINVAL;
	/* Brackets for IPv6 and only for IPv6, as netip.ParseAddrPort wants them. */
	if (!bracketed) {
		if (inet_pton(AF_INET, host, &e.in4.sin_addr) != 1)
			return -EINVAL;
		e.in4.sin_family = AF_INET;
		e.in4.sin_port = htons((uint16_t)port);
		*out = e;
		return 0;
	}
	zone = strchr(host, '%');
	if (zone)
		*zone++ = '\0';
	if (inet_pton(AF_INET6, host, &e.in6.sin6_addr) != 1)
		return -EINVAL;
	if (zone) {
		ret = parse_zone(zone, &scope_id);
		if (ret)
			return ret;
	}
	e.in6.sin6_family = AF_INET6;
	e.in6.sin6_port = htons((uint16_t)port);
	e.in6.sin6_scope_id = scope_id;
	*out = e;
	return 0;
}

static int (*resolver)(const char *host, const char *port, union endpoint *out);

void addr_set_resolver(int (*resolve)(const char *host, const char *port, union endpoint *out))
{
	resolver = resolve;
}

int addr_lookup(const char *host, const char *port, union endpoint *out)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res;
	int ret;

	ret = getaddrinfo(host, port, &hints, &res);
	if (ret)
		return -EHOSTUNREACH;
	ret = -EHOSTUNREACH;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
		    ai->ai_addrlen <= sizeof(*out)) {
			memset(out, 0, sizeof(*out));
			memcpy(out, ai->ai_addr, ai->ai_addrlen);
			ret = 0;
			break;
		}
	}
	freeaddrinfo(res);
	return ret;
}

int addr_resolve_endpoint(const char *s, union endpoint *out)
{
	char host[256], portstr[8];
	bool bracketed;
	unsigned port;
	int ret;

	/* A numeric address needs no resolver; one with an unknown zone would get no further
	 * there. */
	ret = addr_parse_endpoint(s, out);
	if (ret != -EINVAL)
		return ret;
	if (split_host_port(s, host, sizeof(host), &port, &bracketed))
		return -EINVAL;
	snprintf(portstr, sizeof(portstr), "%u", port);
	return (resolver ? resolver : addr_lookup)(host, portstr, out);
}

const char *addr_endpoint_str(const union endpoint *e, char buf[ADDR_STRLEN])
{
	char a[INET6_ADDRSTRLEN];

	if (e->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &e->in4.sin_addr, a, sizeof(a));
		snprintf(buf, ADDR_STRLEN, "%s:%u", a, ntohs(e->in4.sin_port));
	} else if (e->sa.sa_family == AF_INET6) {
		char zone[IF_NAMESIZE + 1] = "", name[IF_NAMESIZE];
		uint32_t id = e->in6.sin6_scope_id;

		inet_ntop(AF_INET6, &e->in6.sin6_addr, a, sizeof(a));
		if (id && if_indextoname(id, name))
			snprintf(zone, sizeof(zone), "%%%s", name);
		else if (id)
			snprintf(zone, sizeof(zone), "%%%u", id);
		snprintf(buf, ADDR_STRLEN, "[%s%s]:%u", a, zone, ntohs(e->in6.sin6_port));
	} else {
		snprintf(buf, ADDR_STRLEN, "(none)");
	}
	return buf;
}

socklen_t addr_endpoint_len(const union endpoint *e)
{
	return e->sa.sa_family == AF_INET ? sizeof(e->in4) : sizeof(e->in6);
}

bool addr_prefix_equal(const struct ip_prefix *a, const struct ip_prefix *b)
{
	return a->addr.family == b->addr.family && a->cidr == b->cidr &&
	       !memcmp(a->addr.bytes, b->addr.bytes, addr_len(a->addr.family));
}

bool addr_endpoint_equal(const union endpoint *a, const union endpoint *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in4.sin_port == b->in4.sin_port &&
		       a->in4.sin_addr.s_addr == b->in4.sin_addr.s_addr;
	if (a->sa.sa_family == AF_INET6)
		return a->in6.sin6_port == b->in6.sin6_port &&
		       !memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16) &&
		       a->in6.sin6_scope_id == b->in6.sin6_scope_id;
	return false;
}

const char *addr_list_begin(const char *list)
{
	const char *s = list;

	while (isspace((unsigned char)*s))
		s++;
	return *s ? list : NULL;
}

bool addr_list_next(const char **s, const char **item, size_t *len)
{
	const char *p = *s, *end, *last;

	if (!p)
		return false;
	end = strchr(p, ',');
	if (!end)
		end = p + strlen(p);
	while (p < end && isspace((unsigned char)*p))
		p++;
	for (last = end; last > p && isspace((unsigned char)last[-1]);)
		last--;
	*item = p;
	*len = (size_t)(last - p);
	*s = *end ? end + 1 : NULL;
	return true;
}
