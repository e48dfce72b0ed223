/* Which entries become which peers (tools/registry/decide.c): every reason an entry is refused
 * or is no peer here, each from a case that is accepted but for that one thing, so that each
 * test fails if its check goes; then the decision, which finds overlapping claims through an
 * index, against a naive pairwise reference (the registry's decision before the index) on
 * random entries crowded into a small range so that overlaps are many; then, as figures and
 * never as a pass or fail, the time a decision takes at 1,000 and 10,000 entries.
 *
 * The files under test are included, as test_registry_entry.c does: they are the tool's, not
 * libsealnet's (Makefile).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../tools/registry/entry.c"
#include "../../tools/registry/decide.c"

#define PREFIX "/sealnet/t/nodes/"

static struct cluster_cidrs cidrs;

static struct ip_prefix pfx(const char *s)
{
	struct ip_prefix p;

	assert_int_equal(addr_parse_prefix(s, &p), 0);
	return p;
}

static struct ip_addr ip(const char *s)
{
	return pfx(s).addr;
}

/* A test's entries: up to 8, each with its node, key and creation. */
struct world {
	struct node nodes[8];
	char keys[8][128];
	struct decide_entry e[8];
	size_t n;
	struct node self_claims;
	struct decide_self self;
	struct decision d;
};

static void test_key(uint8_t key[KEY_LEN], int id)
{
	memset(key, 0, KEY_LEN);
	key[0] = (uint8_t)(id >> 8);
	key[1] = (uint8_t)id;
	key[31] = 0x5a;
}

/* Entry id (its key is test_key(id)), created at rev, claiming overlay and, unless NULL, pod. */
static void add(struct world *w, int id, int64_t rev, const char *overlay, const char *pod)
{
	struct node *n = &w->nodes[w->n];
	char name[REGISTRY_KEY_NAME_LEN];

	memset(n, 0, sizeof(*n));
	test_key(n->public_key, id);
	n->overlay = pfx(overlay);
	if (pod)
		n->pod_subnets[n->n_pod_subnets++] = pfx(pod);
	registry_key_name(name, n->public_key);
	snprintf(w->keys[w->n], sizeof(w->keys[0]), PREFIX "%s", name);
	w->e[w->n] = (struct decide_entry){ w->keys[w->n], rev, true, NULL, n };
	w->n++;
}

/* This node: key 100, overlay 100.64.0.100, pods 100.96.100.0/24. */
static void world_init(struct world *w)
{
	memset(w, 0, sizeof(*w));
	w->self_claims.overlay = pfx("100.64.0.100");
	w->self_claims.pod_subnets[0] = pfx("100.96.100.0/24");
	w->self_claims.n_pod_subnets = 1;
	test_key(w->self.key, 100);
	w->self.published_key = "";
	w->self.claims = &w->self_claims;
	w->self.cidrs = &cidrs;
}

static enum decide_verdict verdict(struct world *w, size_t i)
{
	registry_decision_free(&w->d);
	assert_int_equal(registry_decide(w->e, w->n, &w->self, &w->d), 0);
	assert_int_equal(w->d.n, w->n);
	return w->d.v[i].verdict;
}

static void assert_what(struct world *w, size_t i, const char *want)
{
	if (!w->d.v[i].what || !strstr(w->d.v[i].what, want))
		print_error("entry %zu: \"%s\" does not say \"%s\"\n", i, w->d.v[i].what, want);
	assert_non_null(w->d.v[i].what);
	assert_non_null(strstr(w->d.v[i].what, want));
}

static int setup(void **state)
{
	char why[160];

	(void)state;
	if (registry_add_cluster_cidr(&cidrs, "100.64.0.0/10", why, sizeof(why)) ||
	    registry_add_cluster_cidr(&cidrs, "fd00::/8", why, sizeof(why)))
		return -1;
	return 0;
}

static void test_peer(void **state)
{
	struct world w;

	(void)state;
	world_init(&w);
	add(&w, 1, 10, "100.64.0.1", "100.96.1.0/24");
	assert_int_equal(verdict(&w, 0), DECIDE_PEER);
	assert_null(w.d.v[0].what);
	assert_int_equal(w.d.n_valid, 1);
	assert_int_equal(w.d.n_refused, 0);
	registry_decision_free(&w.d);
}

static void test_invalid(void **state)
{
	struct world w;

	(void)state;
	world_init(&w);
	add(&w, 1, 10, "100.64.0.1", NULL);
	w.e[0].valid = false;
	w.e[0].why = "overlay \"x\" is not one address";
	assert_int_equal(verdict(&w, 0), DECIDE_INVALID);
	assert_string_equal(w.d.v[0].what, "refused: overlay \"x\" is not one address");
	assert_int_equal(w.d.n_refused, 1);
	assert_int_equal(w.d.n_valid, 0);
	registry_decision_free(&w.d);
}

/* The later claimant is refused, whatever order the entries come in; on a tie of revisions
 * (a transaction), the key decides. Every kind of overlap: the same overlay, a pod subnet
 * inside another, one around another, an overlay inside a pod subnet, and IPv6. */
static void test_claimed_first(void **state)
{
	static const struct {
		const char *ov1, *pod1, *ov2, *pod2, *what;
	} cases[] = {
		{ "100.64.0.1", NULL, "100.64.0.1", NULL, "100.64.0.1/32 overlaps 100.64.0.1/32" },
		{ "100.64.0.1", "100.96.1.0/24", "100.64.0.2", "100.96.1.128/25",
		  "100.96.1.128/25 overlaps 100.96.1.0/24" },
		{ "100.64.0.1", "100.96.1.128/25", "100.64.0.2", "100.96.0.0/16",
		  "100.96.0.0/16 overlaps 100.96.1.128/25" },
		{ "100.64.0.1", "100.96.1.0/24", "100.96.1.7", NULL,
		  "100.96.1.7/32 overlaps 100.96.1.0/24" },
		{ "fd00::1", "fd00:96:1::/64", "fd00::2", "fd00:96::/32",
		  "fd00:96::/32 overlaps fd00:96:1::/64" },
	};
	struct world w;

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		world_init(&w);
		/* The second is given first: order of creation, not of the list. */
		add(&w, 2, 20, cases[k].ov2, cases[k].pod2);
		add(&w, 1, 10, cases[k].ov1, cases[k].pod1);
		assert_int_equal(verdict(&w, 1), DECIDE_PEER);
		if (w.d.v[0].verdict != DECIDE_CLAIMED)
			print_error("case %zu: %d %s\n", k, w.d.v[0].verdict, w.d.v[0].what);
		assert_int_equal(w.d.v[0].verdict, DECIDE_CLAIMED);
		assert_what(&w, 0, cases[k].what);
		assert_what(&w, 0, "claimed first by " PREFIX);
		assert_what(&w, 0, w.keys[1]);
		assert_int_equal(w.d.n_refused, 1);
		/* Apart, both are peers. */
		w.nodes[0].overlay = pfx(strchr(cases[k].ov1, ':') ? "fd00::9" : "100.64.0.9");
		w.nodes[0].n_pod_subnets = 0;
		if (verdict(&w, 0) != DECIDE_PEER)
			print_error("case %zu: %s\n", k, w.d.v[0].what);
		assert_int_equal(w.d.v[0].verdict, DECIDE_PEER);
		registry_decision_free(&w.d);
	}
	/* Created in one transaction: the smaller key first. */
	world_init(&w);
	add(&w, 2, 10, "100.64.0.1", NULL);
	add(&w, 1, 10, "100.64.0.1", NULL);
	assert_true(strcmp(w.keys[1], w.keys[0]) < 0);
	assert_int_equal(verdict(&w, 0), DECIDE_CLAIMED);
	assert_int_equal(w.d.v[1].verdict, DECIDE_PEER);
	assert_int_equal(w.d.order[0], 1);
	registry_decision_free(&w.d);
}

/* The first claimant is named, not any: three overlap, the third names the first. */
static void test_claimed_names_the_oldest(void **state)
{
	struct world w;

	(void)state;
	world_init(&w);
	add(&w, 1, 10, "100.64.0.1", "100.96.1.0/25");
	add(&w, 2, 20, "100.64.0.2", "100.96.1.128/25");
	add(&w, 3, 30, "100.64.0.3", "100.96.0.0/16");
	assert_int_equal(verdict(&w, 2), DECIDE_CLAIMED);
	assert_what(&w, 2, w.keys[0]);
	assert_what(&w, 2, "100.96.0.0/16 overlaps 100.96.1.0/25");
	registry_decision_free(&w.d);
}

/* Ours: under our key, or under the key we published before a rotation; and ours refused
 * because an older entry claims its addresses says so. */
static void test_self(void **state)
{
	struct world w;

	(void)state;
	world_init(&w);
	add(&w, 100, 10, "100.64.0.100", "100.96.100.0/24");
	assert_int_equal(verdict(&w, 0), DECIDE_SELF);
	assert_int_equal(w.d.n_valid, 1);
	/* A rotation on its way: the old key's entry is ours too. */
	registry_decision_free(&w.d);
	world_init(&w);
	add(&w, 7, 10, "100.64.0.100", "100.96.100.0/24");
	assert_int_equal(verdict(&w, 0), DECIDE_OWN_CLAIMS);
	w.self.published_key = w.keys[0];
	assert_int_equal(verdict(&w, 0), DECIDE_SELF);
	/* Our entry after an older one claiming our overlay. */
	registry_decision_free(&w.d);
	world_init(&w);
	add(&w, 1, 10, "100.64.0.100", NULL);
	add(&w, 100, 20, "100.64.0.100", "100.96.100.0/24");
	assert_int_equal(verdict(&w, 1), DECIDE_CLAIMED);
	assert_what(&w, 1, " (this node!)");
	assert_int_equal(verdict(&w, 0), DECIDE_OWN_CLAIMS);
	assert_what(&w, 0,
		    "not made a peer here: 100.64.0.100/32 overlaps 100.64.0.100/32, this "
		    "node's own");
	registry_decision_free(&w.d);
}

/* What this node keeps out of the tunnel: etcd, its endpoints, its host addresses, its peers'
 * endpoints, the prefixes of peers by hand. The entry is refused here and still holds its
 * claims against later entries, as on every other node. */
static void test_clash(void **state)
{
	static const uint8_t hand[KEY_LEN] = { 9, 9, 9 };
	struct decide_held_addr eps[2];
	struct decide_held_prefix held[1];
	struct ip_addr a;
	struct world w;

	(void)state;
	world_init(&w);
	add(&w, 1, 10, "100.64.0.1", "100.96.1.0/24");
	add(&w, 2, 20, "100.64.0.2", "100.96.1.0/24");
	assert_int_equal(verdict(&w, 0), DECIDE_PEER);

	a = ip("100.96.1.4");
	w.self.etcd_addr = &a;
	assert_int_equal(verdict(&w, 0), DECIDE_CLASH);
	assert_what(&w, 0, "refused here: 100.96.1.0/24 covers 100.96.1.4, etcd's address");
	assert_int_equal(w.d.v[1].verdict, DECIDE_CLAIMED);
	assert_int_equal(w.d.n_valid, 0);
	assert_int_equal(w.d.n_refused, 2);
	w.self.etcd_addr = NULL;

	w.self.endpoints = &a;
	w.self.n_endpoints = 1;
	assert_int_equal(verdict(&w, 0), DECIDE_CLASH);
	assert_what(&w, 0, "100.96.1.4, this node's endpoint");
	w.self.n_endpoints = 0;

	w.self.local = &a;
	w.self.n_local = 1;
	assert_int_equal(verdict(&w, 0), DECIDE_CLASH);
	assert_what(&w, 0, "100.96.1.4, an address of this host");
	w.self.n_local = 0;

	/* Of the peers' endpoints, the first the claims cover is named. */
	eps[0] = (struct decide_held_addr){ ip("198.18.0.1"), hand };
	eps[1] = (struct decide_held_addr){ ip("100.64.0.1"), w.nodes[1].public_key };
	w.self.held_endpoints = eps;
	w.self.n_held_endpoints = 2;
	assert_int_equal(verdict(&w, 0), DECIDE_CLASH);
	assert_what(&w, 0, "refused here: 100.64.0.1/32 covers 100.64.0.1, the endpoint of peer");
	w.self.n_held_endpoints = 1;
	assert_int_equal(verdict(&w, 0), DECIDE_PEER);
	w.self.n_held_endpoints = 0;

	held[0] = (struct decide_held_prefix){ pfx("100.96.1.9/32"), hand };
	w.self.held_prefixes = held;
	w.self.n_held_prefixes = 1;
	assert_int_equal(verdict(&w, 0), DECIDE_CLASH);
	assert_what(&w, 0, "100.96.1.0/24 overlaps 100.96.1.9/32, held by peer ");
	assert_what(&w, 0, "which the registry does not manage");
	/* A peer by hand under the entry's own key is left alone, not a clash. */
	held[0].key = w.nodes[0].public_key;
	assert_int_equal(verdict(&w, 0), DECIDE_PEER);
	/* An exit node's 0.0.0.0/0 holds no cluster address in particular. */
	held[0] = (struct decide_held_prefix){ pfx("0.0.0.0/0"), hand };
	assert_int_equal(verdict(&w, 0), DECIDE_PEER);
	held[0].p = pfx("100.96.0.0/12");
	assert_int_equal(verdict(&w, 0), DECIDE_CLASH);
	registry_decision_free(&w.d);
}

/* --- against a naive reference ---------------------------------------------------------- */

struct ref_verdict {
	enum decide_verdict verdict;
	char what[640]; /* "" none */
};

/* The registry's decision as it was before the index: every entry against every older one. */
static void reference(const struct decide_entry *e, size_t n, const struct decide_self *s,
		      struct ref_verdict *v)
{
	size_t *order = calloc(n ? n : 1, sizeof(*order));
	bool *accepted = calloc(n ? n : 1, sizeof(*accepted));
	struct decider d = { .self = s };
	char clash[320];
	size_t i, j;

	assert_non_null(order);
	assert_non_null(accepted);
	assert_int_equal(sort_by_creation(e, n, order), 0);
	for (i = 0; i < n; i++) {
		const struct decide_entry *x = &e[order[i]];
		struct ref_verdict *out = &v[order[i]];

		memset(out, 0, sizeof(*out));
		if (!x->valid) {
			snprintf(out->what, sizeof(out->what), "refused: %s", x->why);
			out->verdict = DECIDE_INVALID;
			continue;
		}
		for (j = 0; j < i; j++)
			if (accepted[j] && registry_claims_overlap(x->node, e[order[j]].node, clash,
								   sizeof(clash)))
				break;
		if (j < i) {
			snprintf(out->what, sizeof(out->what), "refused: %s, claimed first by %s%s",
				 clash, e[order[j]].key, is_self(s, x) ? " (this node!)" : "");
			out->verdict = DECIDE_CLAIMED;
			continue;
		}
		accepted[i] = true;
		if (is_self(s, x)) {
			out->verdict = DECIDE_SELF;
		} else if (registry_claims_overlap(x->node, s->claims, clash, sizeof(clash))) {
			snprintf(out->what, sizeof(out->what),
				 "not made a peer here: %s, this node's own", clash);
			out->verdict = DECIDE_OWN_CLAIMS;
		} else {
			/* Held endpoints the slow way, as before. */
			for (j = 0; j < s->n_held_endpoints; j++)
				if (registry_claims_cover(x->node, &s->held_endpoints[j].a, clash,
							  sizeof(clash)))
					break;
			if (j < s->n_held_endpoints) {
				char b64[KEY_B64_LEN];

				key_to_base64(b64, s->held_endpoints[j].key);
				snprintf(out->what, sizeof(out->what),
					 "refused here: %s, the endpoint of peer %s", clash, b64);
				out->verdict = DECIDE_CLASH;
			} else if (local_clash(&d, x->node, clash, sizeof(clash)) == 1) {
				snprintf(out->what, sizeof(out->what), "refused here: %s", clash);
				out->verdict = DECIDE_CLASH;
			} else {
				out->verdict = DECIDE_PEER;
			}
		}
	}
	index_free(&d.endpoints);
	free(order);
	free(accepted);
}

static uint32_t rnd_state = 12345;

static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

/* n random entries into nodes/keys/e. Crowded: overlays in 100.64.0.0/22 and pod subnets of
 * /22 to /28 in 100.96.0.0/20, some IPv6 of /48 to /64, some invalid, revisions with ties.
 * Else a cluster: overlays in 100.64.0.0/13, a /24 or a /64 each (3 in 4), some IPv6. */
static void random_entries(size_t n, struct node *nodes, char (*keys)[128], struct decide_entry *e,
			   bool crowded)
{
	char s[64], name[REGISTRY_KEY_NAME_LEN];
	unsigned span = crowded ? 1024 : 1u << 19;

	for (size_t i = 0; i < n; i++) {
		struct node *x = &nodes[i];
		unsigned v = rnd() % span, len;

		memset(x, 0, sizeof(*x));
		test_key(x->public_key, (int)i + 1000);
		x->public_key[2] = (uint8_t)(i >> 16);
		if (rnd() % 8 == 0) {
			snprintf(s, sizeof(s), "fd00:64::%x:%x", v >> 16, v & 0xffff);
			x->overlay = pfx(s);
			if (crowded)
				snprintf(s, sizeof(s), "fd00:96:%x::/%u", rnd() % 64,
					 48 + rnd() % 17);
			else
				snprintf(s, sizeof(s), "fd00:96:%x:%x::/64", (unsigned)i >> 16,
					 (unsigned)i & 0xffff);
		} else {
			snprintf(s, sizeof(s), "100.%u.%u.%u", 64 + (v >> 16), (v >> 8) & 255,
				 v & 255);
			x->overlay = pfx(s);
			/* Crowded: /22 to /28 in 100.96.0.0/20; else a /24 each, from 100.72.0.0.
			 */
			len = crowded ? 22 + rnd() % 7 : 24;
			v = crowded ? 96u << 16 | (rnd() % 4096) : (72u << 16) + ((unsigned)i << 8);
			snprintf(s, sizeof(s), "100.%u.%u.%u/%u", v >> 16, (v >> 8) & 255, v & 255,
				 len);
		}
		x->pod_subnets[0] = pfx(s);
		addr_prefix_mask(&x->pod_subnets[0]);
		x->n_pod_subnets = rnd() % 4 != 0;
		registry_key_name(name, x->public_key);
		snprintf(keys[i], 128, PREFIX "%s", name);
		e[i] = (struct decide_entry){ keys[i], (int64_t)(crowded ? rnd() % (n / 2 + 1) : i),
					      rnd() % 16 != 0, "not JSON", x };
	}
}

static void test_against_reference(void **state)
{
	enum { N = 600 };
	struct node *nodes = calloc(N, sizeof(*nodes));
	char(*keys)[128] = calloc(N, sizeof(*keys));
	struct decide_entry *e = calloc(N, sizeof(*e));
	struct ref_verdict *want = calloc(N, sizeof(*want));
	struct decide_held_addr eps[3];
	struct node self_claims = { 0 };
	struct decide_self self = { .published_key = "", .claims = &self_claims, .cidrs = &cidrs };
	struct decision d;
	size_t counts[6] = { 0 };

	(void)state;
	assert_non_null(nodes);
	assert_non_null(keys);
	assert_non_null(e);
	assert_non_null(want);
	self_claims.overlay = pfx("100.64.1.1");
	eps[0] = (struct decide_held_addr){ ip("100.64.2.7"), nodes[0].public_key };
	eps[1] = (struct decide_held_addr){ ip("100.96.3.3"), nodes[0].public_key };
	eps[2] = (struct decide_held_addr){ ip("100.64.2.9"), nodes[0].public_key };
	self.held_endpoints = eps;
	self.n_held_endpoints = 3;
	for (int round = 0; round < 20; round++) {
		random_entries(N, nodes, keys, e, true);
		memcpy(self.key, nodes[round].public_key, KEY_LEN);
		reference(e, N, &self, want);
		assert_int_equal(registry_decide(e, N, &self, &d), 0);
		for (size_t i = 0; i < N; i++) {
			const char *what = d.v[i].what ? d.v[i].what : "";

			if (d.v[i].verdict != want[i].verdict || strcmp(what, want[i].what))
				print_error("round %d entry %zu: %d \"%s\", the reference %d \"%s\"\n",
					    round, i, d.v[i].verdict, what, want[i].verdict,
					    want[i].what);
			assert_int_equal(d.v[i].verdict, want[i].verdict);
			assert_string_equal(what, want[i].what);
			counts[d.v[i].verdict]++;
		}
		registry_decision_free(&d);
	}
	/* The random cases reach every verdict. */
	for (int k = 0; k < 6; k++)
		assert_true(counts[k] > 0);
	free(nodes);
	free(keys);
	free(e);
	free(want);
}

static double ms(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* Figures, never a pass or fail: a decision at 1,000 and 10,000 entries, nearly all apart
 * (every node of a cluster a peer), the best of 5, in CPU time (the machine may be shared); the
 * pairwise reference beside it at 1,000. */
static void test_scale_figures(void **state)
{
	enum { N = 10000 };
	struct node *nodes = calloc(N, sizeof(*nodes));
	char(*keys)[128] = calloc(N, sizeof(*keys));
	struct decide_entry *e = calloc(N, sizeof(*e));
	struct ref_verdict *want = calloc(N, sizeof(*want));
	struct node self_claims = { 0 };
	struct decide_self self = { .published_key = "", .claims = &self_claims, .cidrs = &cidrs };
	struct timespec a, b, c;
	struct decision d;
	double best;
	size_t accepted = 0;

	(void)state;
	assert_non_null(nodes);
	assert_non_null(keys);
	assert_non_null(e);
	assert_non_null(want);
	self_claims.overlay = pfx("100.127.255.254");
	random_entries(N, nodes, keys, e, false);
	for (size_t i = 0; i < N; i++)
		e[i].valid = true;
	for (size_t n = 1000; n <= N; n *= 10) {
		/* The best of 5: the machine is shared. */
		best = 1e9;
		for (int k = 0; k < 5; k++) {
			clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
			assert_int_equal(registry_decide(e, n, &self, &d), 0);
			clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
			if (ms(&a, &b) < best)
				best = ms(&a, &b);
			accepted = d.n_valid;
			registry_decision_free(&d);
		}
		printf("# decide %5zu entries: %7.2f ms, %zu accepted", n, best, accepted);
		/* The pairwise walk grows as n squared: at 10,000 it would take seconds of a
		 * make check. */
		if (n <= 1000) {
			clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
			reference(e, n, &self, want);
			clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c);
			printf(" (pairwise, as before: %.2f ms)", ms(&b, &c));
		}
		printf("\n");
	}
	free(nodes);
	free(keys);
	free(e);
	free(want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peer),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_claimed_first),
		cmocka_unit_test(test_claimed_names_the_oldest),
		cmocka_unit_test(test_self),
		cmocka_unit_test(test_clash),
		cmocka_unit_test(test_against_reference),
		cmocka_unit_test(test_scale_figures),
	};

	return cmocka_run_group_tests_name("registry_decide", tests, setup, NULL);
}
