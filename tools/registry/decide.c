/* The registry's decision (decide.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decide.h"

#define NONE SIZE_MAX

/* --- an index of prefixes ---------------------------------------------------------------
 *
 * Two prefixes overlap when one holds the other. Each prefix inserted with its order (the
 * rank of its entry) is found again two ways:
 *  - from a longer or equal one: its slot, (family, length, bits) -> exact, is looked up at
 *    every length some inserted prefix has (a few: /32, /24, /128, /64 in practice);
 *  - from a shorter one: the slot of every shorter length asked about so far holds, in
 *    inside, the least order of the prefixes strictly inside it. A length asked about for the
 *    first time is filled from the list of everything inserted, once: at most 129 times per
 *    family, whatever the number of entries.
 * Either way the answer is the least order that overlaps, which is the one a pairwise walk
 * in order of creation would have met first. */

struct slot_key {
	uint8_t family; /* 0: IPv4, 1: IPv6 */
	uint8_t cidr;
	uint8_t bytes[16]; /* masked to cidr */
};

struct slot {
	bool used;
	struct slot_key k;
	size_t exact;  /* least order of a prefix that is this one; NONE */
	size_t inside; /* least order of a prefix strictly inside this one; NONE */
};

struct indexed {
	struct ip_prefix p;
	size_t order;
};

struct prefix_index {
	struct slot *slots;
	size_t cap, used;
	bool exact_len[2][129], inside_len[2][129];
	struct indexed *all;
	size_t n_all, cap_all;
};

static unsigned fam(const struct ip_prefix *p)
{
	return p->addr.family == AF_INET6;
}

static struct slot_key key_of(const struct ip_prefix *p, unsigned cidr)
{
	struct ip_prefix m = *p;
	struct slot_key k;

	memset(&k, 0, sizeof(k));
	m.cidr = (uint8_t)cidr;
	addr_prefix_mask(&m);
	k.family = (uint8_t)fam(p);
	k.cidr = (uint8_t)cidr;
	memcpy(k.bytes, m.addr.bytes, addr_len(p->addr.family));
	return k;
}

static size_t hash(const struct slot_key *k)
{
	const uint8_t *b = (const uint8_t *)k;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	/* FNV's low bits depend on the low bits of the input alone: mixed (MurmurHash3's
	 * finalizer), or prefixes that differ in high bits share a chain. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return (size_t)h;
}

static struct slot *probe(struct slot *slots, size_t cap, const struct slot_key *k)
{
	size_t i = hash(k) & (cap - 1);

	while (slots[i].used && memcmp(&slots[i].k, k, sizeof(*k)))
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

static int rehash(struct prefix_index *ix)
{
	size_t cap = ix->cap ? ix->cap * 2 : 256;
	struct slot *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < ix->cap; i++)
		if (ix->slots[i].used)
			*probe(slots, cap, &ix->slots[i].k) = ix->slots[i];
	free(ix->slots);
	ix->slots = slots;
	ix->cap = cap;
	return 0;
}

/* The slot of p at cidr: NULL when there is none and create is false, or when it cannot be
 * made. Valid until the next call that creates one. */
static struct slot *slot_at(struct prefix_index *ix, const struct ip_prefix *p, unsigned cidr,
			    bool create)
{
	struct slot_key k = key_of(p, cidr);
	struct slot *s;

	if (!ix->cap) {
		if (!create || rehash(ix))
			return NULL;
	}
	s = probe(ix->slots, ix->cap, &k);
	if (s->used || !create)
		return s->used ? s : NULL;
	if ((ix->used + 1) * 2 > ix->cap) {
		if (rehash(ix))
			return NULL;
		s = probe(ix->slots, ix->cap, &k);
	}
	s->used = true;
	s->k = k;
	s->exact = s->inside = NONE;
	ix->used++;
	return s;
}

static void lower(size_t *x, size_t order)
{
	if (order < *x)
		*x = order;
}

/* p counts in the inside of its slot at cidr (shorter than p). */
static int mark_inside(struct prefix_index *ix, const struct ip_prefix *p, unsigned cidr,
		       size_t order)
{
	struct slot *s = slot_at(ix, p, cidr, true);

	if (!s)
		return -ENOMEM;
	lower(&s->inside, order);
	return 0;
}

static int index_add(struct prefix_index *ix, const struct ip_prefix *p, size_t order)
{
	unsigned f = fam(p);
	struct indexed *grown;
	struct slot *s;

	if (ix->n_all == ix->cap_all) {
		grown = realloc(ix->all, (ix->cap_all ? ix->cap_all * 2 : 64) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		ix->all = grown;
		ix->cap_all = ix->cap_all ? ix->cap_all * 2 : 64;
	}
	ix->all[ix->n_all++] = (struct indexed){ *p, order };
	s = slot_at(ix, p, p->cidr, true);
	if (!s)
		return -ENOMEM;
	lower(&s->exact, order);
	ix->exact_len[f][p->cidr] = true;
	for (unsigned len = 0; len < p->cidr; len++)
		if (ix->inside_len[f][len] && mark_inside(ix, p, len, order))
			return -ENOMEM;
	return 0;
}

/* Makes cidr a length whose slots know what lies inside them. */
static int index_length(struct prefix_index *ix, unsigned f, unsigned cidr)
{
	ix->inside_len[f][cidr] = true;
	for (size_t i = 0; i < ix->n_all; i++)
		if (fam(&ix->all[i].p) == f && ix->all[i].p.cidr > cidr &&
		    mark_inside(ix, &ix->all[i].p, cidr, ix->all[i].order))
			return -ENOMEM;
	return 0;
}

/* The least order of an indexed prefix that overlaps p, into *first (NONE: none does).
 * Returns 0 or -ENOMEM. */
static int index_first(struct prefix_index *ix, const struct ip_prefix *p, size_t *first)
{
	unsigned f = fam(p), full = (unsigned)addr_len(p->addr.family) * 8;
	struct slot *s;

	*first = NONE;
	for (unsigned len = 0; len <= p->cidr; len++)
		if (ix->exact_len[f][len] && (s = slot_at(ix, p, len, false)))
			lower(first, s->exact);
	if (p->cidr >= full)
		return 0;
	if (!ix->inside_len[f][p->cidr] && index_length(ix, f, p->cidr))
		return -ENOMEM;
	s = slot_at(ix, p, p->cidr, false);
	if (s)
		lower(first, s->inside);
	return 0;
}

/* The least order that overlaps one of n's claims. */
static int index_first_claim(struct prefix_index *ix, const struct node *n, size_t *first)
{
	const struct ip_prefix *c[REGISTRY_MAX_CLAIMS];
	size_t nc = registry_claims(n, c), one;

	*first = NONE;
	for (size_t i = 0; i < nc; i++) {
		if (index_first(ix, c[i], &one))
			return -ENOMEM;
		lower(first, one);
	}
	return 0;
}

static int index_add_claims(struct prefix_index *ix, const struct node *n, size_t order)
{
	const struct ip_prefix *c[REGISTRY_MAX_CLAIMS];
	size_t nc = registry_claims(n, c);

	for (size_t i = 0; i < nc; i++)
		if (index_add(ix, c[i], order))
			return -ENOMEM;
	return 0;
}

static void index_free(struct prefix_index *ix)
{
	free(ix->slots);
	free(ix->all);
}

/* --- the decision ---------------------------------------------------------------------- */

struct ranked {
	int64_t create_revision;
	const char *key;
	size_t idx;
};

static int by_creation(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->create_revision != y->create_revision)
		return x->create_revision < y->create_revision ? -1 : 1;
	return strcmp(x->key, y->key);
}

static int sort_by_creation(const struct decide_entry *entries, size_t n, size_t *order)
{
	struct ranked *r = calloc(n ? n : 1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		r[i] = (struct ranked){ entries[i].create_revision, entries[i].key, i };
	qsort(r, n, sizeof(*r), by_creation);
	for (size_t i = 0; i < n; i++)
		order[i] = r[i].idx;
	free(r);
	return 0;
}

/* Our entry: the one under our key, and, while a rotation is on its way to etcd, the one
 * still under the old key, which must not become a peer of ours either. */
static bool is_self(const struct decide_self *self, const struct decide_entry *e)
{
	return key_equal(e->node->public_key, self->key) ||
	       (self->published_key[0] && !strcmp(e->key, self->published_key));
}

struct decider {
	const struct decide_self *self;
	struct prefix_index claims;    /* of the accepted entries, by rank */
	struct prefix_index endpoints; /* the daemon's peers', by their place in held_endpoints */
};

static bool covers_one(const struct node *n, const struct ip_addr *a, size_t count,
		       const char *whose, char *what, size_t len)
{
	char clash[160];

	for (size_t i = 0; i < count; i++)
		if (registry_claims_cover(n, &a[i], clash, sizeof(clash))) {
			snprintf(what, len, "%s, %s", clash, whose);
			return true;
		}
	return false;
}

/* What makes a valid entry unfit to be a peer here, whatever the other nodes decide: a claim
 * that would route into the tunnel the way to etcd, to this node's own underlay addresses or
 * to the endpoint of any peer of the daemon (the site links configured by hand included), or
 * that would take a prefix of a peer the registry does not manage (WireGuard moves a prefix
 * to the last peer given it). The cluster's ranges keep claims away from all of these when
 * they are right; this holds when they are not. Writes the clash into what. Returns 1 for a
 * clash, 0 for none, -ENOMEM. */
static int local_clash(struct decider *d, const struct node *n, char *what, size_t len)
{
	const struct decide_self *s = d->self;
	char clash[160], b64[KEY_B64_LEN];
	size_t first;

	if ((s->etcd_addr && covers_one(n, s->etcd_addr, 1, "etcd's address", what, len)) ||
	    covers_one(n, s->endpoints, s->n_endpoints, "this node's endpoint", what, len) ||
	    covers_one(n, s->local, s->n_local, "an address of this host", what, len))
		return 1;
	if (index_first_claim(&d->endpoints, n, &first))
		return -ENOMEM;
	if (first != NONE) {
		registry_claims_cover(n, &s->held_endpoints[first].a, clash, sizeof(clash));
		key_to_base64(b64, s->held_endpoints[first].key);
		snprintf(what, len, "%s, the endpoint of peer %s", clash, b64);
		return 1;
	}
	/* Hand-configured peers: a few, walked. */
	for (size_t i = 0; i < s->n_held_prefixes; i++) {
		/* A peer by hand under the entry's own key is left alone further on. */
		if (key_equal(s->held_prefixes[i].key, n->public_key))
			continue;
		if (registry_claims_take(n, &s->held_prefixes[i].p, s->cidrs, clash,
					 sizeof(clash))) {
			key_to_base64(b64, s->held_prefixes[i].key);
			snprintf(what, len,
				 "%s, held by peer %s, which the registry does not manage", clash,
				 b64);
			return 1;
		}
	}
	return 0;
}

/* Sets v; what (NULL: none) is copied. Returns 0 or -ENOMEM. */
static int set_verdict(struct decide_verdict_of *v, enum decide_verdict verdict, const char *what)
{
	v->verdict = verdict;
	if (!what)
		return 0;
	v->what = strdup(what);
	return v->what ? 0 : -ENOMEM;
}

/* The verdict on a valid entry of the given rank, which goes into the index when accepted. */
static int judge(struct decider *d, const struct decide_entry *entries, const size_t *order,
		 size_t rank, struct decide_verdict_of *v)
{
	const struct decide_entry *e = &entries[order[rank]], *first;
	char clash[320], what[640];
	size_t j;
	int ret;

	if (index_first_claim(&d->claims, e->node, &j))
		return -ENOMEM;
	if (j != NONE) {
		first = &entries[order[j]];
		registry_claims_overlap(e->node, first->node, clash, sizeof(clash));
		snprintf(what, sizeof(what), "refused: %s, claimed first by %s%s", clash,
			 first->key, is_self(d->self, e) ? " (this node!)" : "");
		return set_verdict(v, DECIDE_CLAIMED, what);
	}
	if (index_add_claims(&d->claims, e->node, rank))
		return -ENOMEM;
	/* Whatever etcd says, this node never hands its own addresses to a peer: an entry of
	 * its own under a key it no longer has (rotated while the registry was not running) is
	 * older than the new one, and wins above until it expires. */
	if (is_self(d->self, e))
		return set_verdict(v, DECIDE_SELF, NULL);
	if (registry_claims_overlap(e->node, d->self->claims, clash, sizeof(clash))) {
		snprintf(what, sizeof(what), "not made a peer here: %s, this node's own", clash);
		return set_verdict(v, DECIDE_OWN_CLAIMS, what);
	}
	ret = local_clash(d, e->node, clash, sizeof(clash));
	if (ret < 0)
		return ret;
	if (ret) {
		snprintf(what, sizeof(what), "refused here: %s", clash);
		return set_verdict(v, DECIDE_CLASH, what);
	}
	return set_verdict(v, DECIDE_PEER, NULL);
}

static int index_endpoints(struct prefix_index *ix, const struct decide_self *self)
{
	struct ip_prefix p;

	for (size_t i = 0; i < self->n_held_endpoints; i++) {
		p.addr = self->held_endpoints[i].a;
		p.cidr = (uint8_t)(addr_len(p.addr.family) * 8);
		if (index_add(ix, &p, i))
			return -ENOMEM;
	}
	return 0;
}

int registry_decide(const struct decide_entry *entries, size_t n, const struct decide_self *self,
		    struct decision *d)
{
	struct decider dr = { .self = self };
	struct decide_verdict_of *v;
	char what[640];
	size_t i;
	int ret;

	memset(d, 0, sizeof(*d));
	d->v = calloc(n ? n : 1, sizeof(*d->v));
	d->order = calloc(n ? n : 1, sizeof(*d->order));
	ret = d->v && d->order ? sort_by_creation(entries, n, d->order) : -ENOMEM;
	if (!ret)
		ret = index_endpoints(&dr.endpoints, self);
	for (i = 0; i < n && !ret; i++) {
		v = &d->v[d->order[i]];
		if (!entries[d->order[i]].valid) {
			snprintf(what, sizeof(what), "refused: %s", entries[d->order[i]].why);
			ret = set_verdict(v, DECIDE_INVALID, what);
		} else {
			ret = judge(&dr, entries, d->order, i, v);
		}
		d->n_valid += v->verdict == DECIDE_PEER || v->verdict == DECIDE_SELF ||
			      v->verdict == DECIDE_OWN_CLAIMS;
		d->n_refused += v->verdict == DECIDE_INVALID || v->verdict == DECIDE_CLAIMED ||
				v->verdict == DECIDE_CLASH;
	}
	index_free(&dr.claims);
	index_free(&dr.endpoints);
	d->n = n;
	if (ret)
		registry_decision_free(d);
	return ret;
}

void registry_decision_free(struct decision *d)
{
	if (!d)
		return;
	for (size_t i = 0; d->v && i < d->n; i++)
		free(d->v[i].what);
	free(d->v);
	free(d->order);
	memset(d, 0, sizeof(*d));
}
