/* Config parser: a full good file, the shipped example, and golden error files.
 *
 * Each tests/unit/conf/err-*.conf starts with "# expect: MESSAGE", the exact error it must
 * produce; adding a case is adding a file. Log messages are captured to see the warnings
 * about a readable key file or a missing key and the notice about a peer with our own key;
 * getaddrinfo() answers ".invalid" names itself so no test asks DNS; fopen() of ip's
 * rt_tables files opens test files instead, so table names do not depend on the host.
 *
 * The tests read files with hooks and DNS as `sealnet up` does (config_set_quick_runner);
 * test_quick_runner checks what sealnetd alone does with them.
 *
 * LINK-WRAP: -Wl,--wrap=log_msg -Wl,--wrap=getaddrinfo -Wl,--wrap=fopen
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "key.h"
#include "log.h"

#define PRIV0 "kHlQLl0y0VkpTU5ekHkzKQeQtJbmmOqYVptaSghK8ls="
#define PUB0 "OXZavlkvJihpcOUW+vTNDnGIMoJIuGsNcB3XEMESSGo=" /* PRIV0's */
#define PUB1 "4IdA/QYDbsa9B0qb9tyNZ612GrkX9HwJOu6/LzmVLDg="
#define PUB2 "Uw8Rv5Bpo8CxiWgPcc7OdpTMX7KeNWx1xpJCX488IwQ="
#define PSK "t+Rxhjs1wtc4K7pg9AdzxpoAKrAzzZMu1/EuxRButnY="

/* --- wrapped functions --- */

void __wrap_log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int __real_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		       struct addrinfo **res);
int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		       struct addrinfo **res);
FILE *__real_fopen(const char *path, const char *mode);
FILE *__wrap_fopen(const char *path, const char *mode);

static int n_warnings, n_notices;
static char last_log[1024];
/* What fopen() of each rt_tables file opens instead; "" for none (no such file). */
static char rt_tables_etc[128], rt_tables_share[128];

void __wrap_log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_log, sizeof(last_log), fmt, ap);
	va_end(ap);
	if (level == LOG_WARNING)
		n_warnings++;
	if (level == LOG_NOTICE)
		n_notices++;
}

FILE *__wrap_fopen(const char *path, const char *mode)
{
	if (!strcmp(path, "/etc/iproute2/rt_tables"))
		path = rt_tables_etc[0] ? rt_tables_etc : "/nonexistent";
	else if (!strcmp(path, "/usr/share/iproute2/rt_tables"))
		path = rt_tables_share[0] ? rt_tables_share : "/nonexistent";
	return __real_fopen(path, mode);
}

int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		       struct addrinfo **res)
{
	size_t len = node ? strlen(node) : 0;

	if (len >= 8 && !strcmp(node + len - 8, ".invalid"))
		return EAI_NONAME;
	return __real_getaddrinfo(node, service, hints, res);
}

/* --- helpers --- */

static char conf_dir[PATH_MAX];
static char tmp_dir[64]; /* mkdtemp() under /tmp */
static char err[256];

static void key(uint8_t out[KEY_LEN], const char *b64)
{
	assert_int_equal(key_from_base64(out, b64), 0);
}

static void assert_prefix(const struct ip_prefix *p, const char *want)
{
	char buf[ADDR_STRLEN];

	assert_string_equal(addr_prefix_str(p, buf), want);
}

static int parse_ok(const char *text, struct config **c)
{
	int ret = config_parse_string(text, "t.conf", c, err, sizeof(err));

	if (ret)
		print_error("unexpected error %d: %s\n", ret, err);
	return ret;
}

static void assert_parse_error(const char *text, int want_ret, const char *want)
{
	struct config *c = (struct config *)1;

	assert_int_equal(config_parse_string(text, "t.conf", &c, err, sizeof(err)), want_ret);
	assert_null(c);
	assert_string_equal(err, want);
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* The golden files live next to this source; tests run from the top of the tree, but fall
 * back to the binary's place (BUILD/tests/test_config) to run from anywhere. */
static int find_conf_dir(void)
{
	char src[PATH_MAX], exe[PATH_MAX];
	ssize_t n;

	snprintf(src, sizeof(src), "%s", __FILE__);
	snprintf(conf_dir, sizeof(conf_dir), "%s/conf", dirname(src));
	if (access(conf_dir, R_OK) == 0)
		goto absolute;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -1;
	exe[n] = '\0';
	snprintf(conf_dir, sizeof(conf_dir), "%s/../../tests/unit/conf", dirname(exe));
	if (access(conf_dir, R_OK))
		return -1;
absolute:
	if (!realpath(conf_dir, src))
		return -1;
	snprintf(conf_dir, sizeof(conf_dir), "%s", src);
	return 0;
}

/* --- tests --- */

static void test_good_file(void **state)
{
	struct config *c;
	uint8_t k[KEY_LEN], zero[KEY_LEN] = { 0 };
	char buf[ADDR_STRLEN];
	const struct config_peer *p;
	const union endpoint *e;

	assert_int_equal(config_load("good.conf", &c, err, sizeof(err)), 0);

	key(k, PRIV0);
	assert_non_null(c->private_key);
	assert_memory_equal(c->private_key, k, KEY_LEN);
	assert_int_equal(c->listen_port, 51820);
	assert_int_equal(c->n_addresses, 3);
	assert_prefix(&c->addresses[0], "100.64.0.1/24"); /* host bits kept */
	assert_prefix(&c->addresses[1], "fd00::1/64");
	assert_prefix(&c->addresses[2], "100.64.9.9/32");
	assert_int_equal(c->mtu, 1420);
	assert_int_equal(c->fwmark, 0x1234);
	/* wg-quick's keys, as sealnet up runs them: a ';' in a value is the shell's. */
	assert_int_equal(c->dns_servers.n, 2);
	assert_string_equal(c->dns_servers.items[0], "100.64.0.53");
	assert_string_equal(c->dns_servers.items[1], "fd00::53");
	assert_int_equal(c->dns_search.n, 1);
	assert_string_equal(c->dns_search.items[0], "corp.example");
	assert_int_equal(c->table_mode, CONFIG_TABLE_OFF);
	assert_int_equal(c->hooks[CONFIG_HOOK_PRE_UP].n, 1);
	assert_string_equal(c->hooks[CONFIG_HOOK_PRE_UP].items[0], "true");
	assert_int_equal(c->hooks[CONFIG_HOOK_POST_UP].n, 2);
	assert_string_equal(c->hooks[CONFIG_HOOK_POST_UP].items[0],
			    "ip rule add fwmark 0x1234 table 51820 ; logger -t %i up");
	assert_string_equal(c->hooks[CONFIG_HOOK_POST_UP].items[1], "echo second");
	assert_int_equal(c->hooks[CONFIG_HOOK_PRE_DOWN].n, 1);
	assert_int_equal(c->hooks[CONFIG_HOOK_POST_DOWN].n, 1);
	assert_false(c->save_config);
	assert_int_equal(c->n_peers, 2);

	p = &c->peers[0];
	assert_int_equal(p->line, 21);
	assert_true(p->has_public_key);
	key(k, PUB1);
	assert_memory_equal(p->public_key, k, KEY_LEN);
	assert_true(p->has_preshared_key);
	key(k, PSK);
	assert_memory_equal(p->preshared_key, k, KEY_LEN);
	assert_int_equal(p->n_allowed_ips, 3);
	assert_prefix(&p->allowed_ips[0], "100.64.0.2/32");
	assert_prefix(&p->allowed_ips[1], "fd00::2/128");
	assert_prefix(&p->allowed_ips[2], "100.64.1.0/24"); /* masked */
	assert_string_equal(addr_endpoint_str(&p->endpoint, buf), "198.18.0.2:51820");
	assert_string_equal(p->endpoint_text, "198.18.0.2:51820");
	assert_int_equal(p->persistent_keepalive, 25);

	p = &c->peers[1];
	assert_int_equal(p->line, 31);
	key(k, PUB2);
	assert_memory_equal(p->public_key, k, KEY_LEN);
	assert_false(p->has_preshared_key);
	assert_memory_equal(p->preshared_key, zero, KEY_LEN);
	assert_int_equal(p->n_allowed_ips, 1);
	assert_prefix(&p->allowed_ips[0], "fd00:0:0:3::/64");
	e = &p->endpoint;
	if (e->sa.sa_family == AF_INET) {
		assert_int_equal(ntohs(e->in4.sin_port), 51820);
		assert_int_equal(ntohl(e->in4.sin_addr.s_addr), INADDR_LOOPBACK);
	} else {
		assert_int_equal(e->sa.sa_family, AF_INET6);
		assert_int_equal(ntohs(e->in6.sin6_port), 51820);
		assert_true(IN6_IS_ADDR_LOOPBACK(&e->in6.sin6_addr));
	}
	assert_string_equal(p->endpoint_text, "localhost:51820");
	assert_int_equal(p->persistent_keepalive, 0);
	config_free(c);
}

static void test_example(void **state)
{
	char path[PATH_MAX + 32];
	struct config *c;

	snprintf(path, sizeof(path), "%s/../../../conf/sn0.conf.example", conf_dir);
	assert_int_equal(config_load(path, &c, err, sizeof(err)), 0);
	assert_non_null(c->private_key);
	assert_int_equal(c->n_addresses, 2);
	assert_int_equal(c->n_peers, 2);
	assert_int_equal(c->peers[1].endpoint.sa.sa_family, AF_INET6);
	config_free(c);
}

/* config_load() in steps, each given budget_ns (1: a step pauses every few lines). Returns
 * what the last step did; *steps_out how many there were. */
static int load_in_steps_n(const char *path, uint64_t budget_ns, struct config **c,
			   unsigned *steps_out)
{
	struct config_loader *l;
	unsigned steps = 0;
	int ret;

	ret = config_load_start(path, &l, err, sizeof(err));
	if (ret) {
		*c = NULL;
		return ret;
	}
	while ((ret = config_load_step(l, budget_ns, c, err, sizeof(err))) == 1)
		steps++;
	config_load_free(l);
	if (steps_out)
		*steps_out = steps;
	return ret;
}

static int load_in_steps(const char *path, uint64_t budget_ns, struct config **c)
{
	return load_in_steps_n(path, budget_ns, c, NULL);
}

/* One test per golden file; *state is its name. */
static void test_golden_error(void **state)
{
	const char *name = *state;
	char line[512], *want;
	struct config *c = (struct config *)1;
	FILE *f;

	f = fopen(name, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	assert_true(strncmp(line, "# expect: ", 10) == 0);
	want = line + 10;

	memset(err, 'x', sizeof(err));
	assert_int_equal(config_load(name, &c, err, sizeof(err)), -EINVAL);
	assert_null(c);
	assert_string_equal(err, want);
	/* The reload's way, a few lines a step: the same answer. */
	memset(err, 'x', sizeof(err));
	assert_int_equal(load_in_steps(name, 1, &c), -EINVAL);
	assert_null(c);
	assert_string_equal(err, want);
}

static void test_minimal(void **state)
{
	struct config *c;

	/* Nothing at all is a valid (if useless) configuration, as for wg(8). */
	assert_int_equal(parse_ok("", &c), 0);
	assert_null(c->private_key);
	assert_int_equal(c->listen_port, 0);
	assert_int_equal(c->mtu, CONFIG_DEFAULT_MTU);
	assert_int_equal(c->n_addresses, 0);
	assert_int_equal(c->n_peers, 0);
	config_free(c);

	/* A peer may go without AllowedIPs or endpoint; an empty list adds nothing. */
	assert_int_equal(parse_ok("[Peer]\nPublicKey=" PUB1 "\nAllowedIPs =\n", &c), 0);
	assert_int_equal(c->n_peers, 1);
	assert_int_equal(c->peers[0].n_allowed_ips, 0);
	assert_int_equal(c->peers[0].endpoint.sa.sa_family, 0);
	assert_null(c->peers[0].endpoint_text);
	config_free(c);

	config_free(NULL);
}

static void test_values(void **state)
{
	struct config *c;
	char buf[ADDR_STRLEN];

	/* A low MTU is fine without IPv6; the bounds themselves are accepted. */
	assert_int_equal(parse_ok("[Interface]\nMTU = 576\nAddress = 100.64.0.1/24\n", &c), 0);
	assert_int_equal(c->mtu, 576);
	config_free(c);
	assert_int_equal(parse_ok("[Interface]\nMTU = 1280\nAddress = fd00::1/64\n", &c), 0);
	config_free(c);
	assert_int_equal(parse_ok("[Interface]\nMTU = 65535\nListenPort = 0\nFwMark = off\n", &c),
			 0);
	assert_int_equal(c->mtu, 65535);
	assert_int_equal(c->fwmark, 0);
	config_free(c);
	assert_int_equal(parse_ok("[Interface]\nListenPort = 65535\nFwMark = 4294967295\n", &c), 0);
	assert_int_equal(c->listen_port, 65535);
	assert_int_equal(c->fwmark, UINT32_MAX);
	config_free(c);

	assert_int_equal(parse_ok("[Peer]\nPublicKey = " PUB1 "\nEndpoint = [fd00::2]:51820\n"
				  "PersistentKeepalive = 65535\n",
				  &c),
			 0);
	assert_string_equal(addr_endpoint_str(&c->peers[0].endpoint, buf), "[fd00::2]:51820");
	assert_int_equal(c->peers[0].persistent_keepalive, 65535);
	config_free(c);

	/* wg(8) takes an all-zero private key; so do we (it never completes a handshake). */
	assert_int_equal(parse_ok("[Interface]\nPrivateKey = "
				  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
				  &c),
			 0);
	assert_true(key_is_zero(c->private_key));
	config_free(c);

	assert_parse_error("[Interface]\nMTU = 1420x\n", -EINVAL,
			   "t.conf:2: MTU: bad MTU \"1420x\" (576 to 65535)");
	assert_parse_error("[Interface]\nMTU =\n", -EINVAL,
			   "t.conf:2: MTU: bad MTU \"\" (576 to 65535)");
	assert_parse_error("[Interface]\nListenPort = 0x10\n", -EINVAL,
			   "t.conf:2: ListenPort: bad port \"0x10\" (0 to 65535)");
	assert_parse_error("[Interface]\nListenPort = +5\n", -EINVAL,
			   "t.conf:2: ListenPort: bad port \"+5\" (0 to 65535)");
	assert_parse_error("[Peer]\nPublicKey = " PUB1 "\nPersistentKeepalive = on\n", -EINVAL,
			   "t.conf:3: PersistentKeepalive: bad interval \"on\" (off or 0 to 65535)");
	/* wg-quick would merge a second [Interface] into the first; we refuse it. */
	assert_parse_error("[Interface]\nAddress = fd00::1/64\n\n[interface]\nMTU = 1000\n",
			   -EINVAL, "t.conf:4: [Interface]: a second one (the first is on line 1)");
	assert_parse_error("[Peer]\nPublicKey = " PUB1 "\n[Interface]\n[Peer]\n"
			   "PublicKey = " PUB2 "\n[ Interface ]\n",
			   -EINVAL, "t.conf:6: [Interface]: a second one (the first is on line 3)");
}

/* The list of AllowedIPs that routes everything but the private ranges through the tunnel,
 * in IPv4 and IPv6: 38 prefixes, some 470 bytes. */
#define NOT_PRIVATE                                                                                \
	"0.0.0.0/5, 8.0.0.0/7, 11.0.0.0/8, 12.0.0.0/6, 16.0.0.0/4, 32.0.0.0/3, 64.0.0.0/2, "       \
	"128.0.0.0/3, 160.0.0.0/5, 168.0.0.0/6, 172.0.0.0/12, 172.32.0.0/11, 172.64.0.0/10, "      \
	"172.128.0.0/9, 173.0.0.0/8, 174.0.0.0/7, 176.0.0.0/4, 192.0.0.0/9, 192.128.0.0/11, "      \
	"192.160.0.0/13, 192.169.0.0/16, 192.170.0.0/15, 192.172.0.0/14, 192.176.0.0/12, "         \
	"192.192.0.0/10, 193.0.0.0/8, 194.0.0.0/7, 196.0.0.0/6, 200.0.0.0/5, 208.0.0.0/4, ::/2, "  \
	"4000::/2, 8000::/2, c000::/3, e000::/4, f000::/5, f800::/6, fe00::/7"

/* Line handling: a line is one line whatever its length; comments, blanks and CRs do not
 * count; a BOM is skipped. */
static void test_lines(void **state)
{
	char text[4096], key_line[256], hook[2100];
	struct config *c;
	size_t n;

	/* Over 500 bytes, twice, then an error: the count stays right. */
	snprintf(text, sizeof(text),
		 "[Interface]\n\n[Peer]\nPublicKey = " PUB1 "\nAllowedIPs = " NOT_PRIVATE "\n"
		 "AllowedIPs = 100.64.0.2/32, " NOT_PRIVATE "\n");
	assert_true(strlen("AllowedIPs = 100.64.0.2/32, " NOT_PRIVATE) > 500);
	assert_int_equal(parse_ok(text, &c), 0);
	assert_int_equal(c->peers[0].n_allowed_ips, 77);
	assert_prefix(&c->peers[0].allowed_ips[0], "0.0.0.0/5");
	assert_prefix(&c->peers[0].allowed_ips[37], "fe00::/7");
	assert_prefix(&c->peers[0].allowed_ips[38], "100.64.0.2/32");
	assert_prefix(&c->peers[0].allowed_ips[76], "fe00::/7");
	config_free(c);
	snprintf(text + strlen(text), sizeof(text) - strlen(text), "AllowedIPs = %s, 1.2.3.4/33\n",
		 NOT_PRIVATE);
	assert_parse_error(text, -EINVAL, "t.conf:7: AllowedIPs: bad prefix \"1.2.3.4/33\"");

	/* A 2000-byte PostUp is kept whole, and so is the line after it. */
	n = (size_t)snprintf(hook, sizeof(hook), "iptables -A FORWARD -i %%i -j ACCEPT");
	while (n + 40 < sizeof(hook))
		n += (size_t)snprintf(hook + n, sizeof(hook) - n,
				      "; iptables -A FORWARD -o %%i -j ACCEPT");
	snprintf(text, sizeof(text), "[Interface]\nPostUp = %s\nPostUp = x\nMTU = 1\n", hook);
	assert_parse_error(text, -EINVAL, "t.conf:4: MTU: bad MTU \"1\" (576 to 65535)");
	snprintf(text, sizeof(text), "[Interface]\nPostUp =   %s  \t\nPostUp = x\n", hook);
	assert_int_equal(parse_ok(text, &c), 0);
	assert_int_equal(c->hooks[CONFIG_HOOK_POST_UP].n, 2);
	assert_string_equal(c->hooks[CONFIG_HOOK_POST_UP].items[0], hook);
	config_free(c);

	/* No key is that long: refused with what it starts with. */
	memset(key_line, 'k', sizeof(key_line));
	snprintf(text, sizeof(text), "[Interface]\n%.*s = 1\n", 250, key_line);
	assert_parse_error(text, -EINVAL,
			   "t.conf:2: kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...: unknown key in [Interface]");
	memset(key_line, 0, sizeof(key_line));
	memset(key_line, 'a', 199);

	/* A long comment (alone or after a value) is fine, and the next line still counts. */
	snprintf(text, sizeof(text), "# %s%s\n[Interface] # %s\nMTU = 1\n", key_line, key_line,
		 key_line);
	assert_parse_error(text, -EINVAL, "t.conf:3: MTU: bad MTU \"1\" (576 to 65535)");

	assert_int_equal(parse_ok("\xef\xbb\xbf[Interface]\r\nListenPort = 1\r\n\r\n[Peer]\r\n"
				  "PublicKey = " PUB1 "\r\nAllowedIPs = 100.64.0.2/32 \r\n",
				  &c),
			 0);
	assert_int_equal(c->listen_port, 1);
	assert_int_equal(c->peers[0].line, 4);
	assert_int_equal(c->peers[0].n_allowed_ips, 1);
	config_free(c);

	/* No final newline. */
	assert_int_equal(parse_ok("[Interface]\nListenPort = 2", &c), 0);
	assert_int_equal(c->listen_port, 2);
	config_free(c);

	/* Blank and comment-only lines between a key and an indented one. */
	assert_parse_error("[Interface]\nDNS = x\n\n  ; c\n\tListenPort = 99999\n", -EINVAL,
			   "t.conf:5: ListenPort: bad port \"99999\" (0 to 65535)");
	assert_parse_error("[Interface]\n= 5\n", -EINVAL,
			   "t.conf:2: expected \"Key = Value\" or \"[Section]\"");
	assert_parse_error("[]\n", -EINVAL, "t.conf:1: unknown section \"[]\"");
}

static void test_nul_byte(void **state)
{
	static const char text[] = "[Interface]\nListenPort = 1\0 2\n";
	char path[128];
	struct config *c;

	snprintf(path, sizeof(path), "%s/nul.conf", tmp_dir);
	write_file(path, text, sizeof(text) - 1, 0600);
	assert_int_equal(config_load(path, &c, err, sizeof(err)), -EINVAL);
	assert_null(c);
	assert_true(strstr(err, "nul.conf:2: NUL byte in line") != NULL);
	unlink(path);
}

static void test_unresolvable(void **state)
{
	static const char text[] = "[Peer]\nPublicKey = " PUB1 "\nEndpoint = sn1.invalid:51820\n"
				   "[Peer]\nPublicKey = " PUB2 "\nEndpoint = 198.18.0.2:51820\n";
	char path[128], buf[ADDR_STRLEN];
	struct config *c;

	assert_parse_error("[Peer]\nPublicKey = " PUB1 "\nEndpoint = sn1.invalid:51820\n",
			   -EHOSTUNREACH,
			   "t.conf:3: Endpoint: cannot resolve \"sn1.invalid:51820\"");

	/* sealnet down reads without resolving: the name stays text, a number is read. */
	snprintf(path, sizeof(path), "%s/unresolved.conf", tmp_dir);
	write_file(path, text, sizeof(text) - 1, 0600);
	assert_int_equal(config_load(path, &c, err, sizeof(err)), -EHOSTUNREACH);
	assert_int_equal(config_load_unresolved(path, &c, err, sizeof(err)), 0);
	assert_int_equal(c->n_peers, 2);
	assert_int_equal(c->peers[0].endpoint.sa.sa_family, 0);
	assert_string_equal(c->peers[0].endpoint_text, "sn1.invalid:51820");
	assert_string_equal(addr_endpoint_str(&c->peers[1].endpoint, buf), "198.18.0.2:51820");
	config_free(c);
	unlink(path);
}

static void test_missing_file(void **state)
{
	struct config *c = (struct config *)1;

	assert_int_equal(config_load("no-such.conf", &c, err, sizeof(err)), -ENOENT);
	assert_null(c);
	assert_string_equal(err, "no-such.conf: cannot open: No such file or directory");
	/* err may be left out. */
	assert_int_equal(config_load("no-such.conf", &c, NULL, 0), -ENOENT);
	assert_int_equal(config_parse_string("x", "t.conf", &c, NULL, 0), -EINVAL);
}

static void test_mode_warning(void **state)
{
	static const char secret[] = "[Interface]\nPrivateKey = " PRIV0 "\n";
	static const char psk[] = "[Peer]\nPublicKey = " PUB1 "\nPresharedKey = " PSK "\n";
	static const char plain[] = "[Interface]\nListenPort = 51820\n";
	static const char broken[] = "[Interface]\nPrivateKey = " PRIV0 "\nFoo = 1\n";
	char path[128], want[256];
	struct config *c;

	snprintf(path, sizeof(path), "%s/mode.conf", tmp_dir);

	write_file(path, secret, sizeof(secret) - 1, 0644);
	n_warnings = 0;
	assert_int_equal(config_load(path, &c, err, sizeof(err)), 0);
	assert_non_null(c->private_key);
	config_free(c);
	assert_int_equal(n_warnings, 1);
	snprintf(want, sizeof(want), "%s: private key file is readable by others (mode 644)", path);
	assert_string_equal(last_log, want);

	/* The second warning is about the missing PrivateKey (test_no_private_key). */
	write_file(path, psk, sizeof(psk) - 1, 0640);
	n_warnings = 0;
	assert_int_equal(config_load(path, &c, err, sizeof(err)), 0);
	config_free(c);
	assert_int_equal(n_warnings, 2);

	/* Still warned when the file does not load: the key is exposed all the same. */
	write_file(path, broken, sizeof(broken) - 1, 0604);
	n_warnings = 0;
	assert_int_equal(config_load(path, &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(n_warnings, 1);

	write_file(path, secret, sizeof(secret) - 1, 0600);
	n_warnings = 0;
	assert_int_equal(config_load(path, &c, err, sizeof(err)), 0);
	config_free(c);
	assert_int_equal(n_warnings, 0);

	write_file(path, plain, sizeof(plain) - 1, 0644);
	n_warnings = 0;
	assert_int_equal(config_load(path, &c, err, sizeof(err)), 0);
	config_free(c);
	assert_int_equal(n_warnings, 1);
	assert_null(strstr(last_log, "readable"));
	unlink(path);
}

/* PresharedKeyFile = PATH: the peer's key from a file, as PrivateKeyFile; errors name the
 * line. */
static void test_preshared_key_file(void **state)
{
	static const char head[] = "[Interface]\nPrivateKey = " PRIV0 "\n\n[Peer]\n"
				   "PublicKey = " PUB1 "\nAllowedIPs = 100.64.0.2/32\n";
	char path[128], text[512], want[512];
	uint8_t want_psk[KEY_LEN];
	struct config *c;

	snprintf(path, sizeof(path), "%s/psk", tmp_dir);
	write_file(path, PSK "\n", sizeof(PSK), 0600);
	key(want_psk, PSK);

	/* Read, and the next [Peer] may have its own inline PresharedKey. */
	snprintf(text, sizeof(text),
		 "%sPresharedKeyFile = %s\n\n[Peer]\nPublicKey = " PUB2 "\nPresharedKey = " PSK
		 "\n",
		 head, path);
	n_warnings = 0;
	assert_int_equal(parse_ok(text, &c), 0);
	assert_int_equal(n_warnings, 0);
	assert_int_equal(c->n_peers, 2);
	assert_true(c->peers[0].has_preshared_key);
	assert_memory_equal(c->peers[0].preshared_key, want_psk, KEY_LEN);
	assert_true(c->peers[1].has_preshared_key);
	config_free(c);

	/* One or the other, either way round. */
	snprintf(text, sizeof(text), "%sPresharedKey = " PSK "\nPresharedKeyFile = %s\n", head,
		 path);
	assert_parse_error(text, -EINVAL,
			   "t.conf:8: PresharedKeyFile: PresharedKey is given too (line 7): one or "
			   "the other");
	snprintf(text, sizeof(text), "%sPresharedKeyFile = %s\nPresharedKey = " PSK "\n", head,
		 path);
	assert_parse_error(text, -EINVAL,
			   "t.conf:8: PresharedKey: PresharedKeyFile is given too (line 7): one or "
			   "the other");

	snprintf(text, sizeof(text), "%sPresharedKeyFile = psk\n", head);
	assert_parse_error(text, -EINVAL,
			   "t.conf:7: PresharedKeyFile: \"psk\" is not an absolute path");

	snprintf(text, sizeof(text), "%sPresharedKeyFile = %s.missing\n", head, path);
	snprintf(want, sizeof(want),
		 "t.conf:7: PresharedKeyFile: cannot open \"%s.missing\": No such file or "
		 "directory",
		 path);
	assert_parse_error(text, -ENOENT, want);

	write_file(path, "not a key\n", 10, 0600);
	snprintf(text, sizeof(text), "%sPresharedKeyFile = %s\n", head, path);
	snprintf(want, sizeof(want),
		 "t.conf:7: PresharedKeyFile: \"%s\" holds no key (one line of 44 base64 "
		 "characters, as `sealnet genpsk` writes)",
		 path);
	assert_parse_error(text, -EINVAL, want);

	/* Readable by others: loads, with a warning that names the line. */
	write_file(path, PSK "\n", sizeof(PSK), 0644);
	n_warnings = 0;
	assert_int_equal(parse_ok(text, &c), 0);
	config_free(c);
	assert_int_equal(n_warnings, 1);
	snprintf(want, sizeof(want),
		 "t.conf:7: PresharedKeyFile: \"%s\" is readable by others (mode 644)", path);
	assert_string_equal(last_log, want);

	/* A [Peer] key only. */
	snprintf(text, sizeof(text), "[Interface]\nPresharedKeyFile = %s\n", path);
	c = (struct config *)1;
	assert_int_equal(config_parse_string(text, "t.conf", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "t.conf:2: "));
	unlink(path);
}

/* Legal, as for wg(8), but said: the interface cannot handshake until a key is set. */
static void test_no_private_key(void **state)
{
	static const char keyless[] = "[Interface]\nListenPort = 51820\n"
				      "PostUp = wg set %i private-key /etc/sealnet/k\n";
	static const char keyed[] = "[Interface]\nPrivateKey = " PRIV0 "\n";
	char path[128], want[512];
	struct config *c;

	snprintf(path, sizeof(path), "%s/keyless.conf", tmp_dir);
	write_file(path, keyless, sizeof(keyless) - 1, 0600);
	n_warnings = 0;
	assert_int_equal(config_load(path, &c, err, sizeof(err)), 0);
	assert_null(c->private_key);
	config_free(c);
	assert_int_equal(n_warnings, 1);
	snprintf(want, sizeof(want),
		 "%s: no PrivateKey: the interface will not handshake until one is set "
		 "(`wg set IFACE private-key FILE`, by hand or in a PostUp)",
		 path);
	assert_string_equal(last_log, want);

	write_file(path, keyed, sizeof(keyed) - 1, 0600);
	n_warnings = 0;
	assert_int_equal(config_load(path, &c, err, sizeof(err)), 0);
	config_free(c);
	assert_int_equal(n_warnings, 0);
	unlink(path);
}

static void assert_table(const char *value, enum config_table mode, uint32_t id)
{
	char text[256];
	struct config *c;

	snprintf(text, sizeof(text), "[Interface]\nTable = %s\n", value);
	assert_int_equal(parse_ok(text, &c), 0);
	assert_int_equal(c->table_mode, mode);
	assert_int_equal(c->table_id, id);
	config_free(c);
}

static void test_table(void **state)
{
	static const char etc[] = "# reserved values\n255\tlocal\n254\tmain\n0\tunspec\n"
				  "100 vpn\n0x65\thexname # trailing comment\n  7 spaced\n"
				  "bogus line\n12\n";
	static const char share[] = "200 shared\n201 vpn\n";
	char text[128];

	snprintf(rt_tables_etc, sizeof(rt_tables_etc), "%s/rt_tables", tmp_dir);
	snprintf(rt_tables_share, sizeof(rt_tables_share), "%s/rt_tables.share", tmp_dir);
	write_file(rt_tables_etc, etc, sizeof(etc) - 1, 0644);
	write_file(rt_tables_share, share, sizeof(share) - 1, 0644);

	assert_table("auto", CONFIG_TABLE_AUTO, 0);
	assert_table("AUTO", CONFIG_TABLE_AUTO, 0);
	assert_table("off", CONFIG_TABLE_OFF, 0);
	assert_table("Off", CONFIG_TABLE_OFF, 0);
	assert_table("1234", CONFIG_TABLE_ID, 1234);
	assert_table("0x10", CONFIG_TABLE_ID, 16);
	assert_table("4294967295", CONFIG_TABLE_ID, UINT32_MAX);
	assert_table("main", CONFIG_TABLE_ID, 254);
	assert_table("local", CONFIG_TABLE_ID, 255);
	assert_table("default", CONFIG_TABLE_ID, 253);
	/* From rt_tables, /etc first, then /usr/share. */
	assert_table("vpn", CONFIG_TABLE_ID, 100);
	assert_table("hexname", CONFIG_TABLE_ID, 101);
	assert_table("spaced", CONFIG_TABLE_ID, 7);
	assert_table("shared", CONFIG_TABLE_ID, 200);
	/* Without a Table line: auto. */
	assert_table("auto", CONFIG_TABLE_AUTO, 0);

	assert_parse_error("[Interface]\nTable = 4294967296\n", -EINVAL,
			   "t.conf:2: Table: bad table \"4294967296\" (1 to 4294967295, decimal or "
			   "0x hexadecimal)");
	assert_parse_error("[Interface]\nTable = 12x\n", -EINVAL,
			   "t.conf:2: Table: bad table \"12x\" (1 to 4294967295, decimal or 0x "
			   "hexadecimal)");
	/* 0 is no table, by number or by name. */
	assert_parse_error("[Interface]\nTable = 0\n", -EINVAL,
			   "t.conf:2: Table: bad table \"0\" (1 to 4294967295, decimal or 0x "
			   "hexadecimal)");
	snprintf(text, sizeof(text), "[Interface]\n\nTable = unspec\n");
	assert_parse_error(text, -EINVAL,
			   "t.conf:3: Table: bad table \"unspec\" (auto, off, a number, main, local, "
			   "default, or a name from /etc/iproute2/rt_tables)");
	assert_parse_error("[Interface]\nTable =\n", -EINVAL,
			   "t.conf:2: Table: bad table \"\" (auto, off, a number, main, local, "
			   "default, or a name from /etc/iproute2/rt_tables)");
	assert_parse_error("[Interface]\nTable = bogus\n", -EINVAL,
			   "t.conf:2: Table: bad table \"bogus\" (auto, off, a number, main, local, "
			   "default, or a name from /etc/iproute2/rt_tables)");
	assert_parse_error("[Interface]\nTable = off\nTable = main\n", -EINVAL,
			   "t.conf:3: Table: duplicate key (first on line 2)");

	unlink(rt_tables_etc);
	unlink(rt_tables_share);
	rt_tables_etc[0] = rt_tables_share[0] = '\0';
	/* No file at all: the built-in names still work. */
	assert_table("main", CONFIG_TABLE_ID, 254);
}

static void test_dns(void **state)
{
	struct config *c;

	/* wg-quick's split: addresses are nameservers, the rest search domains, in order. */
	assert_int_equal(parse_ok("[Interface]\nDNS = 100.64.0.53,fd00::53 ,corp.example\n"
				  "DNS = 1.1.1.1\tlab.corp.example, fe80::1%eth0\nDNS =\n",
				  &c),
			 0);
	assert_int_equal(c->dns_servers.n, 4);
	assert_string_equal(c->dns_servers.items[0], "100.64.0.53");
	assert_string_equal(c->dns_servers.items[1], "fd00::53");
	assert_string_equal(c->dns_servers.items[2], "1.1.1.1");
	assert_string_equal(c->dns_servers.items[3], "fe80::1%eth0");
	assert_int_equal(c->dns_search.n, 2);
	assert_string_equal(c->dns_search.items[0], "corp.example");
	assert_string_equal(c->dns_search.items[1], "lab.corp.example");
	config_free(c);

	/* What looks like an address must be one. */
	assert_parse_error("[Interface]\nDNS = 1.2.3\n", -EINVAL,
			   "t.conf:2: DNS: bad nameserver address \"1.2.3\"");
	assert_parse_error("[Interface]\nDNS = fd00::53::1\n", -EINVAL,
			   "t.conf:2: DNS: bad nameserver address \"fd00::53::1\"");
	assert_parse_error("[Interface]\nDNS = fe80::1%\n", -EINVAL,
			   "t.conf:2: DNS: bad nameserver address \"fe80::1%\"");
	assert_parse_error("[Interface]\nDNS = -corp\n", -EINVAL,
			   "t.conf:2: DNS: bad search domain \"-corp\" (letters, digits, '.', '_', "
			   "'-')");
	assert_parse_error("[Interface]\nDNS = a;b\n", -EINVAL,
			   "t.conf:2: DNS: bad search domain \"a;b\" (letters, digits, '.', '_', "
			   "'-')");
}

static void test_hooks(void **state)
{
	static const char *const want[CONFIG_HOOK_MAX][3] = {
		[CONFIG_HOOK_PRE_UP] = { "echo pre-up 1", "echo pre-up 2 > /tmp/%i" },
		[CONFIG_HOOK_POST_UP] = { "wg set %i private-key /k", "a ; b && c; d" },
		[CONFIG_HOOK_PRE_DOWN] = { "echo 'quoted'" },
		[CONFIG_HOOK_POST_DOWN] = { "x=1 y=2", "=", "last" },
	};
	struct config *c;

	assert_int_equal(parse_ok("[Interface]\n"
				  "PreUp = echo pre-up 1\n"
				  "PostUp = wg set %i private-key /k # comment\n"
				  "PostDown = x=1 y=2\n"
				  "preup=echo pre-up 2 > /tmp/%i\n"
				  "PostUp =\n"
				  "POSTUP = a ; b && c; d\n"
				  "PreDown = echo 'quoted'\n"
				  "PostDown = =\n"
				  "PostDown = last\n",
				  &c),
			 0);
	for (int h = 0; h < CONFIG_HOOK_MAX; h++) {
		size_t n = 0;

		while (n < 3 && want[h][n])
			n++;
		assert_int_equal(c->hooks[h].n, n);
		for (size_t i = 0; i < n; i++)
			assert_string_equal(c->hooks[h].items[i], want[h][i]);
	}
	assert_string_equal(config_hook_names[CONFIG_HOOK_POST_DOWN], "PostDown");
	config_free(c);
}

static void test_save_config(void **state)
{
	struct config *c;

	assert_int_equal(parse_ok("[Interface]\nSaveConfig = true\n", &c), 0);
	assert_true(c->save_config);
	config_free(c);
	assert_int_equal(parse_ok("[Interface]\nSaveConfig = TRUE\n", &c), 0);
	assert_true(c->save_config);
	config_free(c);
	assert_int_equal(parse_ok("[Interface]\nSaveConfig = false\n", &c), 0);
	assert_false(c->save_config);
	config_free(c);
	assert_int_equal(parse_ok("[Interface]\n", &c), 0);
	assert_false(c->save_config);
	config_free(c);
	assert_parse_error("[Interface]\nSaveConfig = 1\n", -EINVAL,
			   "t.conf:2: SaveConfig: bad value \"1\" (true or false)");
}

/* sealnetd alone (no -q) refuses what only sealnet up acts on, at the first such line;
 * what leaves nothing to do passes. */
static void test_quick_runner(void **state)
{
	static const char *const refused[][2] = {
		{ "[Interface]\nMTU = 1420\nPostUp = true\nPreUp = true\n", "t.conf:3: PostUp" },
		{ "[Interface]\nPreDown = true\n", "t.conf:2: PreDown" },
		{ "[Interface]\nDNS =\nDNS = 100.64.0.53\n", "t.conf:3: DNS" },
		{ "[Interface]\nSaveConfig = true\n", "t.conf:2: SaveConfig" },
		{ "[Interface]\n[Peer]\nPublicKey = " PUB1 "\n[Peer]\nPublicKey = " PUB2 "\n"
		  "[Interface]\nPostDown = true\n",
		  "t.conf:6: [Interface]" },
	};
	static const char *const accepted[] = {
		"[Interface]\nSaveConfig = false\nDNS =\nPostUp =\nTable = off\n",
		"",
	};
	char want[512];
	struct config *c;

	config_set_quick_runner(false);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		c = (struct config *)1;
		assert_int_equal(config_parse_string(refused[i][0], "t.conf", &c, err, sizeof(err)),
				 -EINVAL);
		assert_null(c);
		assert_true(strncmp(err, refused[i][1], strlen(refused[i][1])) == 0);
	}
	snprintf(want, sizeof(want),
		 "t.conf:3: PostUp: acted on by `sealnet up` and `down`, not by sealnetd: bring "
		 "this file up with `sealnet up` (sealnetd -q says the caller runs PreUp, PostUp, "
		 "PreDown, PostDown, DNS and SaveConfig)");
	assert_int_equal(config_parse_string(refused[0][0], "t.conf", &c, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, want);
	for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
		assert_int_equal(parse_ok(accepted[i], &c), 0);
		config_free(c);
	}
	config_set_quick_runner(true);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]) - 1; i++) {
		assert_int_equal(parse_ok(refused[i][0], &c), 0);
		config_free(c);
	}
}

/* A mesh-wide peer list holds this node too: its [Peer] is left out with a notice. */
static void test_own_peer(void **state)
{
	static const char text[] = "[Interface]\nPrivateKey = " PRIV0 "\n\n"
				   "[Peer]\nPublicKey = " PUB1 "\nAllowedIPs = 100.64.0.2/32\n\n"
				   "[Peer]\nPublicKey = " PUB0 "\nAllowedIPs = 100.64.0.1/32\n"
				   "Endpoint = 198.18.0.1:51820\n\n"
				   "[Peer]\nPublicKey = " PUB2 "\nAllowedIPs = 100.64.0.3/32\n";
	uint8_t k[KEY_LEN];
	struct config *c;

	n_notices = 0;
	assert_int_equal(parse_ok(text, &c), 0);
	assert_int_equal(n_notices, 1);
	assert_string_equal(last_log, "t.conf:8: [Peer] " PUB0 " has this interface's own public "
				      "key: left out, as WireGuard does");
	assert_int_equal(c->n_peers, 2);
	key(k, PUB1);
	assert_memory_equal(c->peers[0].public_key, k, KEY_LEN);
	assert_int_equal(c->peers[0].line, 4);
	key(k, PUB2);
	assert_memory_equal(c->peers[1].public_key, k, KEY_LEN);
	assert_int_equal(c->peers[1].line, 13);
	assert_int_equal(c->peers[1].n_allowed_ips, 1);
	config_free(c);

	/* Without a private key there is no own key to tell: the peer stays. */
	assert_int_equal(parse_ok("[Peer]\nPublicKey = " PUB0 "\n", &c), 0);
	assert_int_equal(c->n_peers, 1);
	config_free(c);

	/* Left out before duplicates are looked for: two own entries are no duplicate. */
	n_notices = 0;
	assert_int_equal(parse_ok("[Interface]\nPrivateKey = " PRIV0 "\n[Peer]\nPublicKey = " PUB0
				  "\n[Peer]\nPublicKey = " PUB0 "\n",
				  &c),
			 0);
	assert_int_equal(n_notices, 2);
	assert_int_equal(c->n_peers, 0);
	config_free(c);
	assert_parse_error("[Interface]\nPrivateKey = " PRIV0 "\n[Peer]\nPublicKey = " PUB1
			   "\n[Peer]\nPublicKey = " PUB0 "\n[Peer]\nPublicKey = " PUB1 "\n",
			   -EINVAL,
			   "t.conf:7: [Peer]: PublicKey \"" PUB1
			   "\" duplicates the peer on line 3");
}

/* config_format() writes what loads back into the same config, and writes it the same. */
static void test_format(void **state)
{
	struct config *c, *again;
	char *text, *text2;
	size_t len, len2;

	assert_int_equal(config_load("good.conf", &c, err, sizeof(err)), 0);
	c->save_config = true;
	c->threads = 3;
	c->offload = CONFIG_OFFLOAD_TUN | CONFIG_OFFLOAD_UDP_GRO;
	c->sandbox = false;
	c->table_mode = CONFIG_TABLE_ID;
	c->table_id = 51820;
	assert_int_equal(config_format(c, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	assert_non_null(strstr(text,
			       "[Interface]\nPrivateKey = " PRIV0 "\nListenPort = 51820\n"
			       "FwMark = 0x1234\nAddress = 100.64.0.1/24\n"
			       "Address = fd00::1/64\nAddress = 100.64.9.9/32\n"
			       "DNS = 100.64.0.53, fd00::53, corp.example\nTable = 51820\n"
			       "SaveConfig = true\nPreUp = true\n"
			       "PostUp = ip rule add fwmark 0x1234 table 51820 ; logger -t %i up\n"
			       "PostUp = echo second\nPreDown = true\nPostDown = true\n"
			       "Offload = tun udp-gro\nThreads = 3\nSandbox = off\n"));
	assert_non_null(strstr(text, "\n[Peer]\nPublicKey = " PUB1 "\nPresharedKey = " PSK "\n"
				     "AllowedIPs = 100.64.0.2/32, fd00::2/128, 100.64.1.0/24\n"
				     "Endpoint = 198.18.0.2:51820\nPersistentKeepalive = 25\n"));
	assert_non_null(strstr(text, "Endpoint = localhost:51820\n"));
	assert_int_equal(parse_ok(text, &again), 0);
	assert_int_equal(config_format(again, &text2, &len2), 0);
	assert_string_equal(text, text2);
	assert_int_equal(again->n_peers, 2);
	assert_int_equal(again->hooks[CONFIG_HOOK_POST_UP].n, 2);
	free(text);
	free(text2);
	config_free(again);
	config_free(c);

	/* Rules, groups, metrics, a user, an endpoint with no text. */
	assert_int_equal(parse_ok("[Interface]\nMetricsListen = [::1]:9586\nUser = sealnet\n"
				  "Allow = tcp/22 from group:admin\nDeny = any\n"
				  "[Peer]\nPublicKey = " PUB1
				  "\nGroups = admin web\nName = büro 1\n",
				  &c),
			 0);
	c->peers[0].endpoint_text = NULL;
	assert_int_equal(addr_parse_endpoint("[fd00::2]:51820", &c->peers[0].endpoint), 0);
	assert_int_equal(config_format(c, &text, &len), 0);
	assert_string_equal(text,
			    "[Interface]\nMetricsListen = [::1]:9586\nUser = sealnet\n"
			    "Allow = tcp/22 from group:admin\nDeny = any from any\n\n[Peer]\n"
			    "Name = büro 1\nPublicKey = " PUB1 "\nEndpoint = [fd00::2]:51820\n"
			    "Groups = admin, web\n");
	assert_int_equal(parse_ok(text, &again), 0);
	free(text);
	config_free(again);
	config_free(c);

	/* Nothing at all. */
	assert_int_equal(parse_ok("", &c), 0);
	assert_int_equal(config_format(c, &text, &len), 0);
	assert_string_equal(text, "[Interface]\n");
	free(text);
	config_free(c);
}

static int group_setup(void **state)
{
	config_set_quick_runner(true);
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/sealnet-test-config.XXXXXX");
	return mkdtemp(tmp_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	return rmdir(tmp_dir);
}

/* A reload parses its file a few lines a turn: 300 peers in steps give what one
 * config_load() gives, and a bad last line the same error. */
static void test_load_in_steps(void **state)
{
	char path[PATH_MAX + 32], priv[KEY_B64_LEN], pub[KEY_B64_LEN];
	struct config *whole, *stepped;
	char why[sizeof(err)];
	uint8_t k[KEY_LEN];
	unsigned steps;
	FILE *f;

	snprintf(path, sizeof(path), "%s/steps.conf", tmp_dir);
	for (int bad = 0; bad < 2; bad++) {
		f = fopen(path, "w");
		assert_non_null(f);
		memset(k, 0x41, sizeof(k));
		key_to_base64(priv, k);
		fprintf(f, "[Interface]\nPrivateKey = %s\nListenPort = 4000\n", priv);
		for (int i = 0; i < 300; i++) {
			memset(k, i + 1, sizeof(k));
			k[0] = (uint8_t)(i >> 8);
			key_to_base64(pub, k);
			fprintf(f,
				"\n# peer %d\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.%d.%d.0/24\n"
				"Endpoint = 192.0.2.%d:%d\n",
				i, pub, i / 250, i % 250, i % 250 + 1, 1000 + i);
		}
		if (bad)
			fprintf(f, "AllowedIPs = 10.9.9.0/33\n");
		fclose(f);

		if (!bad) {
			assert_int_equal(config_load(path, &whole, err, sizeof(err)), 0);
			assert_int_equal(load_in_steps_n(path, 1, &stepped, &steps), 0);
			assert_true(steps > 50); /* it did pause, every few lines */
			assert_int_equal(stepped->n_peers, 300);
			assert_int_equal(stepped->listen_port, 4000);
			assert_memory_equal(stepped->private_key, whole->private_key, KEY_LEN);
			for (size_t i = 0; i < whole->n_peers; i++) {
				const struct config_peer *a = &whole->peers[i],
							 *b = &stepped->peers[i];

				assert_memory_equal(a->public_key, b->public_key, KEY_LEN);
				assert_int_equal(a->line, b->line);
				assert_int_equal(a->n_allowed_ips, 1);
				assert_int_equal(b->n_allowed_ips, 1);
				assert_memory_equal(&a->allowed_ips[0], &b->allowed_ips[0],
						    sizeof(a->allowed_ips[0]));
				assert_true(addr_endpoint_equal(&a->endpoint, &b->endpoint));
			}
			config_free(whole);
			config_free(stepped);
			/* No budget: one step. */
			assert_int_equal(load_in_steps_n(path, 0, &stepped, &steps), 0);
			assert_int_equal(steps, 0);
			config_free(stepped);
			continue;
		}
		assert_int_equal(config_load(path, &whole, err, sizeof(err)), -EINVAL);
		snprintf(why, sizeof(why), "%s", err);
		assert_non_null(strstr(why, "steps.conf:1804: AllowedIPs"));
		assert_int_equal(load_in_steps(path, 1, &stepped), -EINVAL);
		assert_null(stepped);
		assert_string_equal(err, why);
	}
	unlink(path);
}

/* A file read from a pipe, as wg-quick's `<(...)` hands one over: no size to go by, so the
 * text outgrows the first buffer (4 KiB) and is read on until the end, at once and in
 * steps, and loads as the same text does from memory. */
static void test_pipe(void **state)
{
	char text[32768], path[32], pub[KEY_B64_LEN];
	char *want_text, *got_text;
	size_t len = 0, want_len, got_len;
	struct config *want, *got;
	uint8_t k[KEY_LEN];
	int fds[2];

	len += (size_t)snprintf(text, sizeof(text), "[Interface]\nPrivateKey = " PRIV0 "\n");
	for (int i = 0; i < 200; i++) {
		memset(k, i + 1, sizeof(k));
		key_to_base64(pub, k);
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.0.%d.0/24\n",
					pub, i);
	}
	assert_true(len > 3 * 4096 && len < sizeof(text) - 1);
	assert_int_equal(parse_ok(text, &want), 0);
	assert_int_equal(config_format(want, &want_text, &want_len), 0);
	for (int stepped = 0; stepped < 2; stepped++) {
		/* The whole text fits in the pipe's buffer (64 KiB): written before it is read. */
		assert_int_equal(pipe(fds), 0);
		assert_int_equal(write(fds[1], text, len), (ssize_t)len);
		close(fds[1]);
		snprintf(path, sizeof(path), "/dev/fd/%d", fds[0]);
		if (stepped)
			assert_int_equal(load_in_steps(path, 1, &got), 0);
		else
			assert_int_equal(config_load(path, &got, err, sizeof(err)), 0);
		close(fds[0]);
		assert_int_equal(got->n_peers, 200);
		assert_int_equal(got->peers[199].line, 800);
		assert_int_equal(config_format(got, &got_text, &got_len), 0);
		assert_int_equal(got_len, want_len);
		assert_memory_equal(got_text, want_text, want_len);
		free(got_text);
		config_free(got);
	}
	free(want_text);
	config_free(want);
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_good_file),     cmocka_unit_test(test_example),
		cmocka_unit_test(test_minimal),       cmocka_unit_test(test_values),
		cmocka_unit_test(test_lines),         cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_unresolvable),  cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_mode_warning),  cmocka_unit_test(test_no_private_key),
		cmocka_unit_test(test_table),         cmocka_unit_test(test_dns),
		cmocka_unit_test(test_hooks),         cmocka_unit_test(test_save_config),
		cmocka_unit_test(test_quick_runner),  cmocka_unit_test(test_own_peer),
		cmocka_unit_test(test_format),        cmocka_unit_test(test_preshared_key_file),
		cmocka_unit_test(test_load_in_steps), cmocka_unit_test(test_pipe),
	};
	const size_t n_fixed = sizeof(fixed) / sizeof(fixed[0]);
	struct CMUnitTest *tests;
	glob_t g;
	size_t n;
	int ret;

	if (find_conf_dir()) {
		fprintf(stderr, "test_config: cannot find tests/unit/conf\n");
		return 1;
	}
	if (chdir(conf_dir) || glob("err-*.conf", 0, NULL, &g)) {
		fprintf(stderr, "test_config: no golden files in %s\n", conf_dir);
		return 1;
	}
	n = n_fixed + g.gl_pathc;
	tests = calloc(n, sizeof(*tests));
	if (!tests)
		return 1;
	memcpy(tests, fixed, sizeof(fixed));
	for (size_t i = 0; i < g.gl_pathc; i++)
		tests[n_fixed + i] = (struct CMUnitTest){
			.name = g.gl_pathv[i],
			.test_func = test_golden_error,
			.initial_state = g.gl_pathv[i],
		};
	ret = _cmocka_run_group_tests("config", tests, n, group_setup, group_teardown);
	free(tests);
	globfree(&g);
	return ret;
}
