/* The control socket: bytes as a client writes them, cut into requests at blank lines as
 * client_read() cuts them (what follows the last blank line is an unfinished request and is
 * never handled), each handed to uapi_handle() with device A of fuzz.c.
 *
 * set=1 runs the whole way: device_to_config(), uapi_parse_set() and device_apply(), which
 * here reaches no kernel (netlink and the sockets are stand-ins in fuzz.c), so peers, keys,
 * AllowedIPs and endpoints really change. reload=1 reads A's configuration back from a
 * temporary file. The daemon parses a set over turns of its loop: the device must end as
 * a whole copy parsed in steps of 1 to 7 lines would make it, and such a parse must be
 * refused exactly when one call refuses it.
 *
 * Beyond the sanitizers, the protocol's promises are checked: every reply ends in
 * "errno=N" and a blank line, a set or reload that is refused changes nothing (the device
 * answers get=sealnet byte for byte as before), and after any set no peer has the
 * interface's own public key (such a peer is ignored, and a new private key removes it).
 * After every request each peer's group mask names exactly its groups in the firewall's
 * table.
 *
 * A set or reload is applied whole or not at all, whichever step fails: each one is first
 * run with the stand-in system failing its first call of netlink or the sockets, then its
 * second, and so on (each such run must be refused and change nothing, or succeed), until a
 * run makes no more calls than the failing one's number: that run is the real one. Once per
 * process, the same is done with what a set cannot change (the startup apply, which brings
 * the link up, and a reload that changes the MTU, the addresses, the fwmark, the route table
 * and a peer's groups), comparing what the device holds of the system as well. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "allowedips.h"
#include "config.h"
#include "device.h"
#include "firewall.h"
#include "fuzz.h"
#include "key.h"
#include "peer.h"
#include "uapi.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char config_path[] = "/tmp/sealnet-fuzz-uapi-XXXXXX";
static bool have_config_path;

static void remove_config(void)
{
	if (have_config_path)
		unlink(config_path);
}

static void broken(const char *what, const char *request, const char *reply)
{
	fprintf(stderr, "uapi: %s\n--- request:\n%s\n--- reply:\n%s\n---\n", what, request,
		reply ? reply : "");
	abort();
}

/* The reply as a string; the buffer is emptied. */
static char *take(struct evbuffer *out)
{
	size_t len = evbuffer_get_length(out);
	char *s = malloc(len + 1);

	if (!s || evbuffer_remove(out, s, len) != (int)len)
		abort();
	s[len] = '\0';
	return s;
}

static char *get(struct device *dev, struct evbuffer *out)
{
	char req[] = "get=sealnet";

	uapi_handle(dev, NULL, req, out);
	return take(out);
}

/* The last line must be errno=N, then a blank line. Returns N. */
static long reply_errno(const char *request, const char *reply)
{
	size_t len = strlen(reply);
	const char *last;
	char *end;
	long n;

	if (len < 2 || strcmp(reply + len - 2, "\n\n"))
		broken("reply does not end in a blank line", request, reply);
	last = reply + len - 2;
	while (last > reply && last[-1] != '\n')
		last--;
	if (strncmp(last, "errno=", 6))
		broken("reply does not end in errno=", request, reply);
	n = strtol(last + 6, &end, 10);
	if (end != reply + len - 2 || n > 0)
		broken("errno= is not 0 or negative", request, reply);
	return n;
}

/* No "public_key=" line of get names the key of its "private_key=" line. */
static void check_no_own_peer(const char *request, const char *reply)
{
	char line[sizeof("public_key=") + KEY_HEX_LEN], hex[KEY_HEX_LEN];
	const char *priv = strstr(reply, "private_key=");
	uint8_t k[KEY_LEN], pub[KEY_LEN];

	if (!priv)
		return;
	memcpy(hex, priv + strlen("private_key="), KEY_HEX_LEN - 1);
	hex[KEY_HEX_LEN - 1] = '\0';
	if (key_from_hex(k, hex) || key_public_from_private(pub, k))
		broken("get: private_key= is not a key", request, reply);
	key_to_hex(hex, pub);
	snprintf(line, sizeof(line), "public_key=%s", hex);
	if (strstr(reply, line))
		broken("a peer has the interface's own public key", request, reply);
}

/* Each bit of a peer's group mask is one of its groups in the firewall's table, and each of
 * its groups has its bit: a mask read against another numbering gives another group's
 * access. */
static int count_prefix(void *ctx, const struct ip_prefix *p)
{
	(*(size_t *)ctx)++;
	return 0;
}

/* What device_apply_change() keeps in step, incrementally: each peer's sorted list and the
 * trie (every prefix listed is the peer's in the trie, and the trie gives it no other), the
 * key table, and one route per listed prefix while routes are on (none for a /0 in the main
 * table, none that was there before us). */
static void check_tables(struct device *dev, const char *request)
{
	size_t n = 0, prefixes = 0;
	struct peer *p;

	TAILQ_FOREACH(p, &dev->peers, link) {
		size_t in_trie = 0;

		n++;
		if (device_peer_by_key(dev, peer_public_key(p)) != p)
			broken("a peer is not found by its key", request, NULL);
		for (size_t i = 0; i < p->n_allowed_ips; i++) {
			if (i && peer_prefix_cmp(&p->allowed_ips[i - 1], &p->allowed_ips[i]) >= 0)
				broken("a peer's AllowedIPs are not sorted and unique", request,
				       NULL);
			if (allowedips_lookup_exact(dev->allowedips, &p->allowed_ips[i]) != p)
				broken("a peer lists a prefix the trie gives another", request,
				       NULL);
			if (!(p->allowed_ips[i].cidr == 0 && dev->route_table == 254))
				prefixes++;
		}
		allowedips_walk_by_peer(dev->allowedips, p, count_prefix, &in_trie);
		if (in_trie != p->n_allowed_ips)
			broken("the trie gives a peer a prefix it does not list", request, NULL);
	}
	if (n != dev->n_peers || n != dev->peer_table.count)
		broken("the peer counts disagree", request, NULL);
	if (dev->route_table && dev->n_routes != prefixes)
		broken("routes and AllowedIPs disagree", request, NULL);
	if (!dev->route_table && dev->n_routes)
		broken("routes with Table = off", request, NULL);
}

static void check_group_masks(struct device *dev, const char *request)
{
	struct peer *p;

	check_tables(dev, request);
	TAILQ_FOREACH(p, &dev->peers, link) {
		unsigned bits = 0;

		for (unsigned id = 0; id < 64; id++) {
			const char *name = firewall_group_name(dev->firewall, id);
			bool listed = false;

			if (!(p->group_mask >> id & 1))
				continue;
			bits++;
			for (unsigned g = 0; name && g < p->n_groups; g++)
				listed |= !strcmp(p->groups[g], name);
			if (!listed) {
				fprintf(stderr,
					"peer %s: mask bit %u is group %s, not one of its %u\n",
					p->name, id, name ? name : "(none)", p->n_groups);
				broken("a peer's group mask names another group", request, NULL);
			}
		}
		if (bits != p->n_groups)
			broken("a peer's group mask lacks one of its groups", request, NULL);
	}
}

/* Returns the errno= of the reply. */
static int prefix_order(const void *a, const void *b)
{
	return peer_prefix_cmp(a, b);
}

/* A peer's AllowedIPs as a sorted list without repeats, in place. */
static size_t normalise(struct ip_prefix *list, size_t n)
{
	size_t k = 0;

	if (n)
		qsort(list, n, sizeof(*list), prefix_order);
	for (size_t i = 0; i < n; i++)
		if (!k || peer_prefix_cmp(&list[k - 1], &list[i]))
			list[k++] = list[i];
	return k;
}

/* A set edits a config of the peers it names only (handle_set): the device must end as if
 * the whole device had been copied, edited by uapi_parse_set() and applied, which is what
 * `want` is (made before the set). */
static void check_like_whole_copy(struct device *dev, struct config *want, const char *request)
{
	struct config *have;

	if (device_to_config(dev, &have))
		abort();
	if (have->n_peers != want->n_peers)
		broken("a set left another number of peers than the whole copy would", request,
		       NULL);
	for (size_t i = 0; i < want->n_peers; i++) {
		struct config_peer *w = &want->peers[i], *h = NULL;

		for (size_t j = 0; j < have->n_peers && !h; j++)
			if (!memcmp(have->peers[j].public_key, w->public_key, 32))
				h = &have->peers[j];
		if (!h)
			broken("a set lost or missed a peer the whole copy has", request, NULL);
		w->n_allowed_ips = normalise(w->allowed_ips, w->n_allowed_ips);
		if (h->n_allowed_ips != w->n_allowed_ips ||
		    (w->n_allowed_ips && memcmp(h->allowed_ips, w->allowed_ips,
						w->n_allowed_ips * sizeof(*w->allowed_ips))))
			broken("a peer's AllowedIPs differ from the whole copy's", request, NULL);
		if ((w->endpoint.sa.sa_family &&
		     !addr_endpoint_equal(&h->endpoint, &w->endpoint)) ||
		    h->persistent_keepalive != w->persistent_keepalive ||
		    memcmp(h->preshared_key, w->preshared_key, 32) || h->n_groups != w->n_groups)
			broken("a peer's settings differ from the whole copy's", request, NULL);
	}
	config_free(have);
}

static long handle(struct device *dev, struct evbuffer *out, const uint8_t *p, size_t len)
{
	struct config *want = NULL;
	char *req = malloc(len + 1), *copy, *before = NULL, *reply, *after;
	bool set;
	long ret;

	if (!req)
		abort();
	memcpy(req, p, len);
	req[len] = '\0';
	/* uapi_handle() writes into the request; the copy is for messages. */
	copy = strdup(req);
	if (!copy)
		abort();
	set = !strncmp(req, "set=1\n", 6) || !strcmp(req, "set=1") || !strcmp(req, "reload=1");
	if (set)
		before = get(dev, out);
	if (!strncmp(req, "set=1\n", 6)) {
		char *lines = strdup(req + 6), *again = strdup(req + 6);
		struct uapi_set_parse *sp;
		struct config *whole;
		int stepped, at_once;

		if (!lines || !again || device_to_config(dev, &want) ||
		    device_to_config(dev, &whole))
			abort();
		/* The daemon parses a set a few lines a turn: want is made so, in steps of 1 to
		 * 7 lines, and must be refused or not as one call refuses it. */
		if (uapi_set_parse_new(want, want->n_peers, lines, &sp))
			abort();
		while ((stepped = uapi_set_parse_step(sp, 1 + len % 7, NULL, 0)) == 1)
			;
		uapi_set_parse_free(sp);
		at_once = uapi_parse_set(whole, again, NULL, 0);
		if (stepped != at_once)
			broken("a set parsed in steps is answered otherwise than in one go", copy,
			       NULL);
		config_free(whole);
		if (stepped) {
			config_free(want);
			want = NULL;
		}
		free(again);
		free(lines);
	}
	uapi_handle(dev, config_path, req, out);
	reply = take(out);
	ret = reply_errno(copy, reply);
	if (!ret && want)
		check_like_whole_copy(dev, want, copy);
	config_free(want);
	if (set) {
		after = get(dev, out);
		if (ret && strcmp(before, after)) {
			fprintf(stderr, "--- before:\n%s", before);
			broken("a refused set or reload changed the device", copy, after);
		}
		check_no_own_peer(copy, after);
		free(after);
	}
	check_group_masks(dev, copy);
	free(reply);
	free(before);
	free(copy);
	free(req);
	return ret;
}

static bool is_apply(const uint8_t *p, size_t len)
{
	return (len >= 6 && !memcmp(p, "set=1\n", 6)) || (len == 5 && !memcmp(p, "set=1", 5)) ||
	       (len == 8 && !memcmp(p, "reload=1", 8));
}

/* A set or reload with each system step failing in turn, then for real (see the top). */
static void handle_failing(struct device *dev, struct evbuffer *out, const uint8_t *p, size_t len)
{
	for (unsigned n = 1;; n++) {
		long ret;

		fuzz_apply_calls = 0;
		fuzz_fail_at = n;
		ret = handle(dev, out, p, len);
		if (fuzz_apply_calls < n)
			break;
		if (!ret) {
			fprintf(stderr, "failing call %u\n", n);
			broken("a set or reload succeeded although a step failed",
			       strndup((const char *)p, len), NULL);
		}
	}
	fuzz_fail_at = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evbuffer *out = evbuffer_new();
	struct device *dev;
	size_t pos = 0;

	if (!out)
		abort();
	fuzz_udp_ok = true;
	fuzz_sent_clear();
	dev = fuzz_device_new(0);
	while (pos < size) {
		const uint8_t *end = memmem(data + pos, size - pos, "\n\n", 2);
		size_t len;

		if (!end)
			break;
		len = (size_t)(end - (data + pos));
		if (is_apply(data + pos, len))
			handle_failing(dev, out, data + pos, len);
		else
			handle(dev, out, data + pos, len);
		pos += len + 2;
	}
	fuzz_device_free(dev);
	evbuffer_free(out);
	return 0;
}

/* get=sealnet, then what a device holds of the system, which get does not show. */
static char *state(struct device *dev, struct evbuffer *out)
{
	char addr[ADDR_STRLEN];

	evbuffer_add_printf(out, "mtu=%u table=%u link_up=%d fwmark=%u\n", dev->mtu,
			    dev->route_table, dev->link_set_up, dev->fwmark);
	for (size_t i = 0; i < dev->n_addresses; i++)
		evbuffer_add_printf(out, "address=%s\n", addr_prefix_str(&dev->addresses[i], addr));
	for (size_t i = 0; i < dev->n_routes; i++)
		evbuffer_add_printf(out, "route=%s\n", addr_prefix_str(&dev->routes[i], addr));
	{
		char req[] = "get=sealnet";

		uapi_handle(dev, NULL, req, out);
	}
	return take(out);
}

/* device_apply(dev, c) with each system step failing in turn: each failing run must leave
 * state() as it was, and the peers' masks meaning their groups; the last run succeeds. */
static void apply_failing(struct device *dev, const struct config *c, const char *what)
{
	struct evbuffer *out = evbuffer_new();

	if (!out)
		abort();
	for (unsigned n = 1;; n++) {
		char *before = state(dev, out), *after;
		int ret;

		fuzz_apply_calls = 0;
		fuzz_fail_at = n;
		ret = device_apply(dev, c);
		after = state(dev, out);
		check_group_masks(dev, what);
		if (ret && strcmp(before, after)) {
			fprintf(stderr, "--- failing call %u; before:\n%s", n, before);
			broken("a refused apply changed the device", what, after);
		}
		free(before);
		free(after);
		if (fuzz_apply_calls < n) {
			if (ret)
				broken("an apply failed on its own", what, NULL);
			break;
		}
		if (!ret)
			broken("an apply succeeded although a step failed", what, NULL);
	}
	fuzz_fail_at = 0;
	evbuffer_free(out);
}

static void check_apply_failures(void)
{
	struct device *dev;
	struct config *c;
	char text[4096], err[512];
	const char *iface = strstr(fuzz_config_text, "ListenPort"), *peer_c;
	int ret;

	ret = device_new(fuzz_base(), "sn-fuzz0", 0, &dev);
	if (ret)
		abort();
	apply_failing(dev, fuzz_config, "the startup config");
	/* Another MTU, address, fwmark and table; C in a group a new rule names first. */
	peer_c = strrchr(fuzz_config_text, '[');
	if (!iface || !peer_c)
		abort();
	snprintf(text, sizeof(text),
		 "%.*sMTU = 1300\nFwMark = 7\nTable = 1234\nAddress = 100.64.9.1/24\n"
		 "Allow = any from group:admin\nAllow = tcp/5201 from group:web\n\n%.*s"
		 "Groups = web\n\n%sGroups = admin\n",
		 (int)(iface - fuzz_config_text), fuzz_config_text,
		 (int)(peer_c - strstr(fuzz_config_text, "[Peer]")),
		 strstr(fuzz_config_text, "[Peer]"), peer_c);
	if (config_parse_string(text, "fuzz-reload.conf", &c, err, sizeof(err))) {
		fprintf(stderr, "fuzz: reload config: %s\n%s", err, text);
		abort();
	}
	apply_failing(dev, c, "a reload with another MTU, address, fwmark, table and rules");
	config_free(c);
	apply_failing(dev, fuzz_config, "the startup config again");
	device_free(dev);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd;
	size_t len;

	fuzz_init();
	check_apply_failures();
	fd = mkstemp(config_path);
	if (fd < 0)
		abort();
	have_config_path = true;
	atexit(remove_config);
	len = strlen(fuzz_config_text);
	if (write(fd, fuzz_config_text, len) != (ssize_t)len || close(fd))
		abort();
	return 0;
}
