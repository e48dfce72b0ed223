/*
 * libnss_sntest.so.2: an NSS hosts module for tests/netns/40, standing for the modules of
 * other systems (sss, ldap, mdns, resolve, ...), which make system calls that nobody listed
 * in sealnetd's filter. It knows one name, sn-nss-test.invalid, and before it answers it
 * makes such a call (sysinfo). If the call works the name is 198.18.0.99; if it fails the
 * module reports itself unavailable, and the look-up fails. Any other name: not found here.
 *
 * Loaded with "hosts: sntest files" in nsswitch.conf and the directory in LD_LIBRARY_PATH.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <nss.h>
#include <string.h>
#include <sys/sysinfo.h>

#define NAME "sn-nss-test.invalid"
#define ADDR "198.18.0.99"

enum nss_status _nss_sntest_gethostbyname2_r(const char *name, int af, struct hostent *h, char *buf,
					     size_t len, int *errnop, int *h_errnop);
enum nss_status _nss_sntest_gethostbyname_r(const char *name, struct hostent *h, char *buf,
					    size_t len, int *errnop, int *h_errnop);

enum nss_status _nss_sntest_gethostbyname2_r(const char *name, int af, struct hostent *h, char *buf,
					     size_t len, int *errnop, int *h_errnop)
{
	struct sysinfo si;
	/* buf: the address, the name, then the two NULL-ended lists */
	struct {
		struct in_addr addr;
		char *addrs[2];
		char *aliases[1];
		char name[sizeof(NAME)];
	} *out = (void *)buf;

	if (strcmp(name, NAME) != 0 || af != AF_INET) {
		*h_errnop = HOST_NOT_FOUND;
		return NSS_STATUS_NOTFOUND;
	}
	if (sysinfo(&si)) {
		*errnop = errno;
		*h_errnop = NO_RECOVERY;
		return NSS_STATUS_UNAVAIL;
	}
	if (len < sizeof(*out) + 16) {
		*errnop = ERANGE;
		*h_errnop = NETDB_INTERNAL;
		return NSS_STATUS_TRYAGAIN;
	}
	/* Aligned for the pointers. */
	out = (void *)((char *)buf + (-(unsigned long)buf & 15));
	inet_pton(AF_INET, ADDR, &out->addr);
	out->addrs[0] = (char *)&out->addr;
	out->addrs[1] = NULL;
	out->aliases[0] = NULL;
	memcpy(out->name, NAME, sizeof(NAME));
	h->h_name = out->name;
	h->h_aliases = out->aliases;
	h->h_addrtype = AF_INET;
	h->h_length = 4;
	h->h_addr_list = out->addrs;
	return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_sntest_gethostbyname_r(const char *name, struct hostent *h, char *buf,
					    size_t len, int *errnop, int *h_errnop)
{
	return _nss_sntest_gethostbyname2_r(name, AF_INET, h, buf, len, errnop, h_errnop);
}
