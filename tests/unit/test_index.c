/* The receiver-index table: uniqueness, type masks, replace and remove, and a few thousand
 * entries against a plain array. randombytes_buf is wrapped so tests can choose the "random"
 * indexes and force collisions; otherwise it is the real one. */
/* LINK-WRAP: -Wl,--wrap=randombytes_buf */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cipher.h"
#include "index.h"
#define UNIT_SCRIPTED_RANDOM
#include "unit.h"

static int setup(void **state)
{
	struct index_table *t = malloc(sizeof(*t));

	assert_non_null(t);
	memset(t, 0xa5, sizeof(*t)); /* index_init must not rely on zeroed memory */
	index_init(t);
	script_reset();
	*state = t;
	return 0;
}

static void entry(struct index_entry *e, enum index_type type)
{
	memset(e, 0, sizeof(*e));
	e->type = type;
	e->peer = (struct peer *)e; /* any recognisable pointer; the table never follows it */
}

static void test_empty(void **state)
{
	struct index_table *t = *state;

	assert_null(index_lookup(t, 0, INDEX_HANDSHAKE | INDEX_KEYPAIR));
	assert_null(index_lookup(t, 12345, INDEX_HANDSHAKE | INDEX_KEYPAIR));
	assert_null(index_lookup(t, UINT32_MAX, INDEX_HANDSHAKE | INDEX_KEYPAIR));
}

static void test_insert_lookup(void **state)
{
	struct index_table *t = *state;
	struct index_entry hs, kp;
	uint32_t a, b;

	entry(&hs, INDEX_HANDSHAKE);
	entry(&kp, INDEX_KEYPAIR);
	a = index_insert(t, &hs);
	b = index_insert(t, &kp);
	assert_int_equal(a, hs.index);
	assert_int_equal(b, kp.index);
	assert_int_not_equal(a, b);
	assert_true(hs.hashed);
	assert_true(kp.hashed);

	assert_ptr_equal(index_lookup(t, a, INDEX_HANDSHAKE), &hs);
	assert_ptr_equal(index_lookup(t, a, INDEX_HANDSHAKE | INDEX_KEYPAIR), &hs);
	assert_null(index_lookup(t, a, INDEX_KEYPAIR));
	assert_ptr_equal(index_lookup(t, b, INDEX_KEYPAIR), &kp);
	assert_ptr_equal(index_lookup(t, b, INDEX_HANDSHAKE | INDEX_KEYPAIR), &kp);
	assert_null(index_lookup(t, b, INDEX_HANDSHAKE));
	assert_null(index_lookup(t, a, 0));
	assert_ptr_equal(index_lookup(t, b, INDEX_KEYPAIR)->peer, (struct peer *)&kp);
}

/* A drawn index that is taken is drawn again. */
static void test_insert_collision(void **state)
{
	struct index_table *t = *state;
	struct index_entry a, b, c;

	entry(&a, INDEX_HANDSHAKE);
	entry(&b, INDEX_KEYPAIR);
	entry(&c, INDEX_KEYPAIR);
	script_push_u32(0xdeadbeef);
	assert_int_equal(index_insert(t, &a), 0xdeadbeef);
	script_push_u32(0xdeadbeef);
	script_push_u32(0xdeadbeef);
	script_push_u32(0x0badcafe);
	assert_int_equal(index_insert(t, &b), 0x0badcafe);
	assert_int_equal(script_len, 0);
	assert_ptr_equal(index_lookup(t, 0xdeadbeef, INDEX_HANDSHAKE), &a);
	assert_ptr_equal(index_lookup(t, 0x0badcafe, INDEX_KEYPAIR), &b);
	/* Zero is an index like any other. */
	script_push_u32(0);
	assert_int_equal(index_insert(t, &c), 0);
	assert_ptr_equal(index_lookup(t, 0, INDEX_KEYPAIR), &c);
}

/* Entries that share a bucket (same low bits) are told apart by the whole index. */
static void test_same_bucket(void **state)
{
	struct index_table *t = *state;
	struct index_entry e[4];

	for (uint32_t i = 0; i < 4; i++) {
		entry(&e[i], i % 2 ? INDEX_KEYPAIR : INDEX_HANDSHAKE);
		script_push_u32(7 + i * INDEX_BUCKETS);
		assert_int_equal(index_insert(t, &e[i]), 7 + i * INDEX_BUCKETS);
	}
	for (uint32_t i = 0; i < 4; i++)
		assert_ptr_equal(index_lookup(t, 7 + i * INDEX_BUCKETS,
					      INDEX_HANDSHAKE | INDEX_KEYPAIR),
				 &e[i]);
	assert_null(index_lookup(t, 7 + 4 * INDEX_BUCKETS, INDEX_HANDSHAKE | INDEX_KEYPAIR));
	assert_null(index_lookup(t, 7 + INDEX_BUCKETS, INDEX_HANDSHAKE));

	/* Out of the middle, the head and the tail of the chain. */
	index_remove(t, &e[1]);
	assert_null(index_lookup(t, 7 + INDEX_BUCKETS, INDEX_KEYPAIR));
	assert_ptr_equal(index_lookup(t, 7, INDEX_HANDSHAKE), &e[0]);
	assert_ptr_equal(index_lookup(t, 7 + 2 * INDEX_BUCKETS, INDEX_HANDSHAKE), &e[2]);
	assert_ptr_equal(index_lookup(t, 7 + 3 * INDEX_BUCKETS, INDEX_KEYPAIR), &e[3]);
	index_remove(t, &e[3]);
	index_remove(t, &e[0]);
	assert_ptr_equal(index_lookup(t, 7 + 2 * INDEX_BUCKETS, INDEX_HANDSHAKE), &e[2]);
	index_remove(t, &e[2]);
	for (uint32_t i = 0; i < 4; i++)
		assert_null(
			index_lookup(t, 7 + i * INDEX_BUCKETS, INDEX_HANDSHAKE | INDEX_KEYPAIR));
}

static void test_remove(void **state)
{
	struct index_table *t = *state;
	struct index_entry a, b;
	uint32_t ia, ib;

	entry(&a, INDEX_HANDSHAKE);
	entry(&b, INDEX_HANDSHAKE);
	ia = index_insert(t, &a);
	ib = index_insert(t, &b);
	index_remove(t, &a);
	assert_false(a.hashed);
	assert_null(index_lookup(t, ia, INDEX_HANDSHAKE));
	assert_ptr_equal(index_lookup(t, ib, INDEX_HANDSHAKE), &b);
	/* Twice, or never inserted: nothing happens. */
	index_remove(t, &a);
	entry(&a, INDEX_KEYPAIR);
	index_remove(t, &a);
	assert_ptr_equal(index_lookup(t, ib, INDEX_HANDSHAKE), &b);
}

/* Inserting a hashed entry moves it to a new index; the old one is gone. */
static void test_reinsert(void **state)
{
	struct index_table *t = *state;
	struct index_entry a;
	uint32_t first, second;

	entry(&a, INDEX_HANDSHAKE);
	script_push_u32(100);
	first = index_insert(t, &a);
	script_push_u32(200);
	second = index_insert(t, &a);
	assert_int_equal(first, 100);
	assert_int_equal(second, 200);
	assert_null(index_lookup(t, first, INDEX_HANDSHAKE));
	assert_ptr_equal(index_lookup(t, second, INDEX_HANDSHAKE), &a);
	/* Even if the draw returns the index it had: it was freed first. */
	script_push_u32(second);
	assert_int_equal(index_insert(t, &a), second);
	assert_ptr_equal(index_lookup(t, second, INDEX_HANDSHAKE), &a);
}

/* The session takes over the handshake's index: the peer already knows that number. */
static void test_replace(void **state)
{
	struct index_table *t = *state;
	struct index_entry hs, kp, other;
	uint32_t i, j;

	entry(&hs, INDEX_HANDSHAKE);
	entry(&kp, INDEX_KEYPAIR);
	i = index_insert(t, &hs);
	index_replace(t, &hs, &kp);
	assert_int_equal(kp.index, i);
	assert_true(kp.hashed);
	assert_false(hs.hashed);
	assert_ptr_equal(index_lookup(t, i, INDEX_KEYPAIR), &kp);
	assert_null(index_lookup(t, i, INDEX_HANDSHAKE));

	/* new was hashed elsewhere: it leaves its old index behind. */
	entry(&other, INDEX_KEYPAIR);
	j = index_insert(t, &other);
	i = index_insert(t, &hs);
	index_replace(t, &hs, &other);
	assert_int_equal(other.index, i);
	assert_null(index_lookup(t, j, INDEX_HANDSHAKE | INDEX_KEYPAIR));
	assert_ptr_equal(index_lookup(t, i, INDEX_KEYPAIR), &other);
	assert_ptr_equal(index_lookup(t, kp.index, INDEX_KEYPAIR), &kp);

	/* old not in the table: new is not either. */
	index_remove(t, &hs);
	index_replace(t, &hs, &kp);
	assert_false(kp.hashed);
	assert_null(index_lookup(t, kp.index, INDEX_KEYPAIR));
	assert_ptr_equal(index_lookup(t, i, INDEX_KEYPAIR), &other);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

#define MANY 20000

static void test_many(void **state)
{
	struct index_table *t = *state;
	struct index_entry *e = calloc(MANY, sizeof(*e));
	struct index_entry *fresh = calloc(MANY, sizeof(*fresh));
	uint32_t *sorted = calloc(MANY, sizeof(*sorted));

	assert_non_null(e);
	assert_non_null(fresh);
	assert_non_null(sorted);
	for (size_t i = 0; i < MANY; i++) {
		entry(&e[i], i % 3 ? INDEX_KEYPAIR : INDEX_HANDSHAKE);
		sorted[i] = index_insert(t, &e[i]);
	}
	qsort(sorted, MANY, sizeof(*sorted), cmp_u32);
	for (size_t i = 1; i < MANY; i++)
		assert_int_not_equal(sorted[i - 1], sorted[i]);
	for (size_t i = 0; i < MANY; i++) {
		assert_ptr_equal(index_lookup(t, e[i].index, INDEX_HANDSHAKE | INDEX_KEYPAIR),
				 &e[i]);
		assert_ptr_equal(index_lookup(t, e[i].index, e[i].type), &e[i]);
	}

	/* Half of them go, a quarter are replaced by fresh entries, the rest stay. */
	for (size_t i = 0; i < MANY; i++) {
		if (i % 2 == 0) {
			index_remove(t, &e[i]);
		} else if (i % 4 == 1) {
			entry(&fresh[i], INDEX_KEYPAIR);
			index_replace(t, &e[i], &fresh[i]);
		}
	}
	for (size_t i = 0; i < MANY; i++) {
		struct index_entry *found = index_lookup(t, e[i].index,
							 INDEX_HANDSHAKE | INDEX_KEYPAIR);

		if (i % 2 == 0)
			assert_null(found);
		else if (i % 4 == 1)
			assert_ptr_equal(found, &fresh[i]);
		else
			assert_ptr_equal(found, &e[i]);
	}
	for (size_t i = 0; i < MANY; i++) {
		index_remove(t, &e[i]);
		index_remove(t, &fresh[i]);
	}
	for (size_t b = 0; b < INDEX_BUCKETS; b++)
		assert_null(t->buckets[b]);
	free(fresh);
	free(sorted);
	free(e);
}

#define TABLE_TEST(f) cmocka_unit_test_setup_teardown(f, setup, free_state)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TABLE_TEST(test_empty),
		TABLE_TEST(test_insert_lookup),
		TABLE_TEST(test_insert_collision),
		TABLE_TEST(test_same_bucket),
		TABLE_TEST(test_remove),
		TABLE_TEST(test_reinsert),
		TABLE_TEST(test_replace),
		TABLE_TEST(test_many),
	};

	return cmocka_run_group_tests_name("index", tests, cipher_setup, NULL);
}
