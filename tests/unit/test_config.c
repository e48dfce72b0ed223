/* Config parser: a full good file, the shipped example, and golden error files.
 *
 * Each tests/unit/conf/err-*.conf starts with "# expect: MESSAGE", the exact error it must
 * produce; adding a case is adding a file. Log messages are captured to see the warning about
 * a readable key file, and getaddrinfo() answers ".invalid" names itself so no test asks DNS.
 *
 * LINK-WRAP: -Wl,--wrap=log_msg -Wl,--wrap=getaddrinfo
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
#define PUB1 "4IdA/QYDbsa9B0qb9tyNZ612GrkX9HwJOu6/LzmVLDg="
#define PUB2 "Uw8Rv5Bpo8CxiWgPcc7OdpTMX7KeNWx1xpJCX488IwQ="
#define PSK "t+Rxhjs1wtc4K7pg9AdzxpoAKrAzzZMu1/EuxRButnY="

/* --- wrapped functions --- */

void __wrap_log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int __real_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		       struct addrinfo **res);
int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		       struct addrinfo **res);

static int n_warnings;
static char last_log[1024];

void __wrap_log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_log, sizeof(last_log), fmt, ap);
	va_end(ap);
	if (level == LOG_WARNING)
		n_warnings++;
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
	assert_int_equal(c->n_peers, 2);

	p = &c->peers[0];
	assert_int_equal(p->line, 20);
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
	assert_int_equal(p->line, 30);
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
	assert_parse_error(
		"[Peer]\nPublicKey = " PUB1 "\nPersistentKeepalive = on\n", -EINVAL,
		"t.conf:3: PersistentKeepalive: bad interval \"on\" (off or 0 to 65535)");
	/* A second [Interface] continues the first; the message names the MTU line. */
	assert_parse_error(
		"[Interface]\nAddress = fd00::1/64\n[Interface]\nMTU = 1000\n", -EINVAL,
		"t.conf:4: MTU: \"1000\" too small with an IPv6 Address (at least 1280)");
}

/* Line handling: what reaches inih is at most 199 bytes; comments, blanks and CRs do not
 * count; a BOM is skipped; each line is one line whatever its length. */
static void test_lines(void **state)
{
	char text[1024], key_line[256];
	struct config *c;
	size_t n;

	/* "DNS = " plus padding: exactly 199 bytes passes, 200 fails. */
	memset(key_line, 0, sizeof(key_line));
	n = (size_t)snprintf(key_line, sizeof(key_line), "DNS = ");
	memset(key_line + n, 'a', 199 - n);
	snprintf(text, sizeof(text), "[Interface]\n%s\n", key_line);
	assert_int_equal(parse_ok(text, &c), 0);
	config_free(c);
	snprintf(text, sizeof(text), "[Interface]\n%sa\nMTU = 1\n", key_line);
	assert_parse_error(text, -EINVAL, "t.conf:2: line too long (200 bytes, at most 199)");

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
	assert_parse_error("[Peer]\nPublicKey = " PUB1 "\nEndpoint = sn1.invalid:51820\n",
			   -EHOSTUNREACH,
			   "t.conf:3: Endpoint: cannot resolve \"sn1.invalid:51820\"");
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

	write_file(path, psk, sizeof(psk) - 1, 0640);
	n_warnings = 0;
	assert_int_equal(config_load(path, &c, err, sizeof(err)), 0);
	config_free(c);
	assert_int_equal(n_warnings, 1);

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
	assert_int_equal(n_warnings, 0);
	unlink(path);
}

static int group_setup(void **state)
{
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/sealnet-test-config.XXXXXX");
	return mkdtemp(tmp_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	return rmdir(tmp_dir);
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_good_file),   cmocka_unit_test(test_example),
		cmocka_unit_test(test_minimal),     cmocka_unit_test(test_values),
		cmocka_unit_test(test_lines),       cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_unresolvable), cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_mode_warning),
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
