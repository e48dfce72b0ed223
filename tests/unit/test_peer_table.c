/* Peers by public key (peer_table): what a handshake initiation and every set look up.
 * Checked against a naive reference (a linear constant-time scan, what device_peer_by_key
 * was), through growth and removal; then, as figures and never as a pass or fail, the cost
 * of one lookup at 10 to 10,000 peers for both ("# lookup" lines, which `make scale`
 * prints). Also peer_prefix_cmp/find/drop, the order of a peer's AllowedIPs list, and
 * device_sort() against qsort(). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "addr.h"
#include "cipher.h"
#include "device.h"
#include "peer.h"

#define MAX_PEERS 10000

static struct peer *peers;

static struct peer *naive_lookup(size_t n, const uint8_t key[KEY_LEN])
{
	for (size_t i = 0; i < n; i++)
		if (key_equal(peer_public_key(&peers[i]), key))
			return &peers[i];
	return NULL;
}

static int setup(void **state)
{
	peers = calloc(MAX_PEERS, sizeof(*peers));
	assert_non_null(peers);
	for (size_t i = 0; i < MAX_PEERS; i++)
		cipher_random(peers[i].handshake.remote_static, KEY_LEN);
	return 0;
}

static int teardown(void **state)
{
	free(peers);
	return 0;
}

static void test_against_naive(void **state)
{
	struct peer_table t;
	uint8_t absent[KEY_LEN];
	size_t n = 3000;

	assert_int_equal(peer_table_init(&t), 0);
	for (size_t i = 0; i < n; i++) {
		/* Room made ahead, as device_apply's prepare does: the table grows on the way. */
		assert_int_equal(peer_table_reserve(&t, i + 1), 0);
		peer_table_insert(&t, &peers[i]);
	}
	assert_int_equal(t.count, n);
	assert_true(t.n_buckets >= n);
	for (size_t i = 0; i < n; i++)
		assert_ptr_equal(peer_table_lookup(&t, peer_public_key(&peers[i])),
				 naive_lookup(n, peer_public_key(&peers[i])));
	cipher_random(absent, sizeof(absent));
	assert_null(peer_table_lookup(&t, absent));
	/* A key that differs in its last byte only is another key. */
	memcpy(absent, peer_public_key(&peers[7]), sizeof(absent));
	absent[31] ^= 1;
	assert_null(peer_table_lookup(&t, absent));
	for (size_t i = 0; i < n; i += 2)
		peer_table_remove(&t, &peers[i]);
	assert_int_equal(t.count, n / 2);
	for (size_t i = 0; i < n; i++)
		assert_ptr_equal(peer_table_lookup(&t, peer_public_key(&peers[i])),
				 i % 2 ? &peers[i] : NULL);
	/* Removing what is not there changes nothing. */
	peer_table_remove(&t, &peers[0]);
	assert_int_equal(t.count, n / 2);
	peer_table_free(&t);
}

static double ns_per_lookup(struct peer_table *t, size_t n, unsigned rounds)
{
	struct timespec a, b;
	size_t found = 0;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (unsigned r = 0; r < rounds; r++)
		found += t ? peer_table_lookup(t, peer_public_key(&peers[(r * 7919u) % n])) != NULL
			   : naive_lookup(n, peer_public_key(&peers[(r * 7919u) % n])) != NULL;
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_int_equal(found, rounds);
	return ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / rounds;
}

/* Figures only: the cost of finding an initiation's sender among n peers. */
static void test_lookup_cost(void **state)
{
	static const size_t sizes[] = { 10, 100, 1000, 10000 };

	for (size_t s = 0; s < sizeof(sizes) / sizeof(*sizes); s++) {
		struct peer_table t;
		size_t n = sizes[s];

		assert_int_equal(peer_table_init(&t), 0);
		assert_int_equal(peer_table_reserve(&t, n), 0);
		for (size_t i = 0; i < n; i++)
			peer_table_insert(&t, &peers[i]);
		printf("# lookup %5zu peers: table %6.0f ns, linear scan %9.0f ns\n", n,
		       ns_per_lookup(&t, n, 200000),
		       ns_per_lookup(NULL, n, n >= 1000 ? 2000 : 20000));
		peer_table_free(&t);
	}
}

static struct ip_prefix pfx(const char *text)
{
	struct ip_prefix p;

	assert_int_equal(addr_parse_prefix(text, &p), 0);
	return p;
}

static void test_prefix_list(void **state)
{
	struct peer p = { 0 };
	struct ip_prefix list[] = { pfx("10.0.0.0/8"), pfx("10.0.0.0/16"), pfx("10.1.0.0/16"),
				    pfx("::/0"), pfx("fd00::/64") };
	struct ip_prefix v4 = pfx("10.0.0.0/8"), v6 = pfx("fd00::/64");

	/* IPv4 before IPv6, then by address, then shorter first. */
	for (size_t i = 1; i < sizeof(list) / sizeof(*list); i++)
		assert_true(peer_prefix_cmp(&list[i - 1], &list[i]) < 0);
	assert_int_equal(peer_prefix_cmp(&v4, &list[0]), 0);
	p.allowed_ips = list;
	p.n_allowed_ips = sizeof(list) / sizeof(*list);
	for (size_t i = 0; i < p.n_allowed_ips; i++)
		assert_int_equal(peer_prefix_find(&p, &list[i]), (long)i);
	v4.cidr = 9;
	assert_int_equal(peer_prefix_find(&p, &v4), -1);
	peer_prefix_drop(&p, 1);
	assert_int_equal(p.n_allowed_ips, 4);
	assert_int_equal(peer_prefix_find(&p, &v6), 3);
	assert_int_equal(peer_prefix_find(&p, &list[0]), 0);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* device_sort(), which the daemon sorts these lists with (qsort() would call sysinfo()). */
static void test_sort(void **state)
{
	static uint32_t a[5000], b[5000];

	for (size_t n = 0; n <= 5000; n = n ? n * 3 + 1 : 1) {
		for (size_t i = 0; i < n; i++)
			a[i] = b[i] = cipher_random_uniform(n / 2 + 1);
		device_sort(a, n, sizeof(*a), cmp_u32);
		qsort(b, n, sizeof(*b), cmp_u32);
		assert_true(!memcmp(a, b, n * sizeof(*a)));
	}
}

/* A peer's staged slots exist only while packets wait (issue 14: held from creation they
 * were most of an idle peer's RSS): the first packet makes them, a keepalive needs none,
 * the pop that finds the queue empty and a clear release them; order and overflow as
 * before. */
static void test_staging(void **state)
{
	struct device *dev = calloc(1, sizeof(*dev));
	struct peer p = { 0 };
	uint8_t pkt[100];
	const uint8_t *got;
	size_t len;

	assert_non_null(dev);
	p.dev = dev;
	p.staged_size = sizeof(pkt);
	peer_stage(&p, NULL, 0);
	assert_null(p.staged);
	got = peer_staged_pop(&p, &len);
	assert_non_null(got);
	assert_int_equal(len, 0);
	assert_null(peer_staged_pop(&p, &len));
	for (unsigned i = 0; i < PEER_STAGED_MAX + 3; i++) {
		memset(pkt, (int)i, sizeof(pkt));
		peer_stage(&p, pkt, 10 + i);
		assert_non_null(p.staged);
	}
	assert_int_equal(p.stats.staged_dropped, 3);
	assert_int_equal(dev->stats.drops[DROP_STAGED_FULL], 3);
	/* Too big for a slot: dropped, the queue as it was. */
	peer_stage(&p, pkt, sizeof(pkt) + 1);
	assert_int_equal(dev->stats.drops[DROP_STAGED_FULL], 4);
	for (unsigned i = 3; i < PEER_STAGED_MAX + 3; i++) {
		got = peer_staged_pop(&p, &len);
		assert_non_null(got);
		assert_int_equal(len, 10 + i);
		assert_int_equal(got[0], i);
		assert_int_equal(got[len - 1], i);
	}
	assert_non_null(p.staged);
	assert_null(peer_staged_pop(&p, &len));
	assert_null(p.staged);
	peer_stage(&p, pkt, 1);
	assert_non_null(p.staged);
	peer_staged_clear(&p);
	assert_null(p.staged);
	assert_null(peer_staged_pop(&p, &len));
	free(dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_naive), cmocka_unit_test(test_lookup_cost),
		cmocka_unit_test(test_prefix_list),   cmocka_unit_test(test_sort),
		cmocka_unit_test(test_staging),
	};

	return cmocka_run_group_tests_name("peer_table", tests, setup, teardown);
}
