/* IP addresses, prefixes and UDP endpoints: the small value types every module shares. */
#ifndef SEALNET_ADDR_H
#define SEALNET_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ip_addr {
	int family; /* AF_INET or AF_INET6 */
	union {
		uint8_t bytes[16]; /* network order; 4 used for AF_INET */
		struct in_addr v4;
		struct in6_addr v6;
	};
};

struct ip_prefix {
	struct ip_addr addr;
	uint8_t cidr;
};

union endpoint {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

/* Longest text of a prefix or endpoint, with its NUL: "[" INET6_ADDRSTRLEN "%" zone "]:65535",
 * where a zone is an interface name (IF_NAMESIZE, 16 on Linux) or a 10-digit index. */
#define ADDR_STRLEN (INET6_ADDRSTRLEN + 16 + sizeof("[%]:65535"))

/* "100.64.0.1/10", "fd00::1/64", or a bare address (cidr = 32 or 128). Host bits are kept;
 * use addr_prefix_mask() to clear them. Returns 0 or -EINVAL. */
int addr_parse_prefix(const char *s, struct ip_prefix *out);
void addr_prefix_mask(struct ip_prefix *p);
const char *addr_prefix_str(const struct ip_prefix *p, char buf[ADDR_STRLEN]);
const char *addr_str(const struct ip_addr *a, char buf[ADDR_STRLEN]);
size_t addr_len(int family);

/* "198.18.0.1:51820", "[fd00::1]:51820", or an IPv6 address with a zone,
 * "[fe80::1%eth0]:51820" or "[fe80::1%2]:51820" (as wireguard-go and the kernel take them):
 * numeric only, brackets for IPv6 only, port 1..65535. A zone is an interface name, looked up
 * now (if_nametoindex), or an index taken as is; it becomes sin6_scope_id. Returns 0,
 * -EINVAL, or -ENODEV for a zone that names no interface. */
int addr_parse_endpoint(const char *s, union endpoint *out);
/* Also resolves host names ("node1.example:51820"); blocking, for startup only. Returns 0,
 * -EINVAL (malformed), -ENODEV (unknown zone) or -EHOSTUNREACH (no address found). Host
 * names go to the resolver set by addr_set_resolver(), else to addr_lookup(). */
int addr_resolve_endpoint(const char *s, union endpoint *out);
/* The first IPv4 or IPv6 address getaddrinfo() finds for host and port (a number). Returns 0
 * or -EHOSTUNREACH. */
int addr_lookup(const char *host, const char *port, union endpoint *out);
/* Who looks host names up from now on (NULL: addr_lookup()). The daemon's privilege drop
 * sets a resolver in another process (privdrop.c): name lookup runs whatever the system's
 * NSS modules do, which its system call filter cannot know. Same returns as addr_lookup(). */
void addr_set_resolver(int (*resolve)(const char *host, const char *port, union endpoint *out));
/* "[fe80::1%eth0]:51820" for a scope id: the interface's name, or the index when no
 * interface has it (any more), as wireguard-go prints a zone. */
const char *addr_endpoint_str(const union endpoint *e, char buf[ADDR_STRLEN]);
socklen_t addr_endpoint_len(const union endpoint *e);
bool addr_endpoint_equal(const union endpoint *a, const union endpoint *b);
/* Same family, length and address bits (those past the length included: mask first). */
bool addr_prefix_equal(const struct ip_prefix *a, const struct ip_prefix *b);

/* Comma separated lists, as wg(8) and the config file write them ("10.0.0.1/32, fd00::/64").
 * addr_list_begin() is NULL for a list of blanks only (no entry at all), else where the walk
 * starts; addr_list_next() gives the next entry, blanks around it cut, *len 0 for an empty
 * one ("a,,b", a trailing comma), and false once the list is done. */
const char *addr_list_begin(const char *list);
bool addr_list_next(const char **s, const char **item, size_t *len);

#endif
