/* Issue 12, finding 9: no copy of a key is left in memory given back. Every block freed or
 * reallocated, by our code (linker wraps of free and realloc) and by libevent (its memory
 * functions, replaced before it allocates anything), is searched for the keys of the test,
 * raw or in hex, while the control socket answers get (private_key=, preshared_key=) and
 * reads a set that carries keys, through a real socket, its bufferevent and client_read().
 * A realloc of a block holding a key is an error by itself: the old block may be given back
 * as it is. The keys' first and last bytes are left out of the search, since clamping
 * changes them.
 *
 * LINK-WRAP: -Wl,--wrap=free -Wl,--wrap=realloc
 */
#define _GNU_SOURCE /* memmem */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <malloc.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "allowedips.h"
#include "cipher.h"
#include "config.h"
#include "device.h"
#include "firewall.h"
#include "index.h"
#include "key.h"
#include "peer.h"
#include "uapi.h"

void __real_free(void *p);
void *__real_realloc(void *p, size_t n);
void __wrap_free(void *p);
void *__wrap_realloc(void *p, size_t n);

enum { PRIV, PSK, SET_PRIV, SET_PSK, N_SECRETS };
static uint8_t secret[N_SECRETS][KEY_LEN];
static char secret_hex[N_SECRETS][KEY_HEX_LEN];
static bool watching;
static const char *found; /* what the first block given back with a key was */

static bool holds_secret(const void *p, size_t len)
{
	for (int i = 0; i < N_SECRETS; i++)
		if (memmem(p, len, secret[i] + 1, KEY_LEN - 2) ||
		    memmem(p, len, secret_hex[i] + 2, KEY_HEX_LEN - 1 - 4))
			return true;
	return false;
}

static void check_block(void *p, const char *what)
{
	if (watching && p && !found && holds_secret(p, malloc_usable_size(p)))
		found = what;
}

void __wrap_free(void *p)
{
	check_block(p, "a block freed by sealnetd");
	__real_free(p);
}

void *__wrap_realloc(void *p, size_t n)
{
	check_block(p, "a block reallocated by sealnetd");
	return __real_realloc(p, n);
}

static void *ev_malloc(size_t n)
{
	return malloc(n);
}

static void *ev_realloc(void *p, size_t n)
{
	check_block(p, "a block reallocated by libevent");
	return __real_realloc(p, n);
}

static void ev_free(void *p)
{
	check_block(p, "a block freed by libevent");
	__real_free(p);
}

static struct device *dev;
static struct peer *peer;
static struct event_base *base;

/* A device as device_apply() leaves it, without the system: one peer with a preshared key. */
static int setup(void **state)
{
	struct config_peer cp = { .has_public_key = true, .has_preshared_key = true };

	base = event_base_new();
	dev = calloc(1, sizeof(*dev));
	if (!base || !dev)
		return -1;
	dev->base = base;
	snprintf(dev->ifname, sizeof(dev->ifname), "sn-keys%d", (int)getpid() % 10000);
	dev->tun_fd = dev->udp.fd4 = dev->udp.fd6 = -1;
	dev->mtu = 1420;
	dev->manage_net = true;
	TAILQ_INIT(&dev->peers);
	dev->index = malloc(sizeof(*dev->index));
	if (!dev->index || firewall_new(&dev->firewall) || allowedips_new(&dev->allowedips) ||
	    peer_table_init(&dev->peer_table))
		return -1;
	index_init(dev->index);
	dev->local.private_key = sodium_malloc(KEY_LEN);
	memcpy(dev->local.private_key, secret[PRIV], KEY_LEN);
	key_clamp_private(dev->local.private_key);
	key_public_from_private(dev->local.public_key, dev->local.private_key);
	memset(cp.public_key, 0x77, KEY_LEN);
	memcpy(cp.preshared_key, secret[PSK], KEY_LEN);
	if (peer_new(dev, &cp, &peer))
		return -1;
	TAILQ_INSERT_TAIL(&dev->peers, peer, link);
	peer_table_insert(&dev->peer_table, peer);
	dev->n_peers = 1;
	found = NULL;
	watching = true;
	return 0;
}

static int teardown(void **state)
{
	watching = false;
	device_free(dev);
	event_base_free(base);
	return 0;
}

/* get as a client reads it: the keys are there, as wg expects, and the chains are drained as
 * the socket takes them. No copy is made to look (evbuffer_pullup would make one). */
static void test_get_reply(void **state)
{
	struct evbuffer *out = evbuffer_new();
	char req[] = "get=1";

	assert_non_null(out);
	uapi_handle(dev, NULL, req, out);
	assert_true(evbuffer_search(out, secret_hex[PRIV] + 2, 60, NULL).pos >= 0);
	assert_true(evbuffer_search(out, secret_hex[PSK] + 2, 60, NULL).pos >= 0);
	while (evbuffer_get_length(out))
		evbuffer_drain(out, 7);
	evbuffer_free(out);
	if (found)
		fail_msg("%s held a key", found);
}

static void run_until(bool (*done)(int), int fd, int ms)
{
	for (int i = 0; i < ms && !done(fd); i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
}

static char reply[4096];
static size_t reply_len;

static bool have_reply(int fd)
{
	ssize_t n = read(fd, reply + reply_len, sizeof(reply) - 1 - reply_len);

	if (n > 0)
		reply_len += (size_t)n;
	reply[reply_len] = '\0';
	return strstr(reply, "\n\n") != NULL;
}

static bool never(int fd)
{
	return false;
}

/* A set carrying a new private key, a new peer with a preshared key (the peer array grows),
 * and a last line that is refused: nothing is applied, and what the client wrote, read
 * by libevent into its buffers, must be wiped when given back. Part of the set comes in a
 * second write, so a request is read in more than one go. */
static void test_set_request(void **state)
{
	char dir[] = "/tmp/sn-keys-XXXXXX", path[96], req[512];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct uapi *u;
	size_t len;
	int fd;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(uapi_open(dev, dir, NULL, &u), 0);
	snprintf(path, sizeof(path), "%s/%s.sock", dir, dev->ifname);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	len = (size_t)snprintf(req, sizeof(req),
			       "set=1\nprivate_key=%s\npublic_key=%064d\npreshared_key=%s\n"
			       "no_such_key=1\n\n",
			       secret_hex[SET_PRIV], 1, secret_hex[SET_PSK]);
	assert_int_equal(write(fd, req, 40), 40);
	run_until(never, fd, 100);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	assert_int_equal(write(fd, req + 40, len - 40), (ssize_t)(len - 40));
	reply_len = 0;
	run_until(have_reply, fd, 5000);
	assert_non_null(strstr(reply, "errno=-22\n\n"));
	/* a request left unfinished when the client goes */
	len = (size_t)snprintf(req, sizeof(req), "set=1\npreshared_key=%s", secret_hex[SET_PSK]);
	assert_int_equal(write(fd, req, len), (ssize_t)len);
	run_until(never, fd, 100);
	close(fd);
	run_until(never, fd, 100);
	uapi_close(u);
	rmdir(dir);
	sodium_memzero(req, sizeof(req));
	if (found)
		fail_msg("%s held a key", found);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_get_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_request, setup, teardown),
	};

	/* Before libevent allocates anything. */
	event_set_mem_functions(ev_malloc, ev_realloc, ev_free);
	if (cipher_init())
		return 1;
	for (int i = 0; i < N_SECRETS; i++) {
		for (int j = 0; j < KEY_LEN; j++)
			secret[i][j] = (uint8_t)(0x91 + 37 * i + 11 * j);
		key_to_hex(secret_hex[i], secret[i]);
	}
	return cmocka_run_group_tests_name("uapi_keys", tests, NULL, NULL);
}
