/* A request on the control socket (uapi.h), begun, and when it is a set or a reload carried
 * over turns of the event loop: a set's lines are read for the peers they name, those peers
 * copied, the lines parsed (uapi_set.c) and the result handed to a device job (device.h),
 * which applies it in slices. The server (uapi.c) runs one such job at a time. */
#include "uapi_priv.h"

#include <errno.h>
#include <event2/buffer.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "allowedips.h"
#include "config.h"
#include "key.h"
#include "log.h"
#include "peer.h"
#include "uapi.h"

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, KEY_LEN);
}

/* Appends a key to a growing list. 0 or -ENOMEM. */
static int named_add(uint8_t (**named)[KEY_LEN], size_t *n, size_t *cap, const uint8_t *key)
{
	uint8_t(*grown)[KEY_LEN];

	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 8;
		grown = realloc(*named, *cap * KEY_LEN);
		if (!grown)
			return -ENOMEM;
		*named = grown;
	}
	memcpy((*named)[(*n)++], key, KEY_LEN);
	return 0;
}

/* The value of the line at l, up to its end, into buf (cut to its size). Not snprintf: that
 * would measure the whole rest of the request each time. */
static void line_value(const char *l, char *buf, size_t size)
{
	size_t len = strcspn(l, "\r\n");

	len = len < size - 1 ? len : size - 1;
	memcpy(buf, l, len);
	buf[len] = '\0';
}

/* A set, parsed over turns of the event loop (issue 14): a `wg setconf` of 10,000 peers
 * takes tens of milliseconds to read, too long to hold the loop that moves the packets. It
 * goes in three passes, each in slices that fit in a turn: the peers its lines name, their
 * present state copied into the config it edits, then the parse of its lines into that
 * config. Nothing is applied before the last line has parsed, so a bad line anywhere
 * refuses the whole set, as when it was parsed in one go; then a device job applies it.
 * While it runs no other request is served (as for a job), so the device it read is the
 * one it will change. */
enum set_stage {
	SET_NAMED,
	SET_COPY,
	SET_PARSE,
	SET_DONE,
};

/* Lines or peers between two looks at the clock: a few microseconds each. */
#define SET_BATCH 64

struct uapi_set_request {
	struct device *dev;
	char *text; /* the request's lines, ours (wiped when freed) */
	size_t len;
	enum set_stage stage;
	const char *scan; /* SET_NAMED: the next line, NULL at the end */
	uint8_t (*named)[KEY_LEN];
	size_t n_named, named_cap, next_copy;
	bool replace;
	size_t n_keys; /* public_key lines */
	struct config *c;
	struct uapi_set_parse *sp;
	unsigned turns;
	uint64_t longest; /* ns, of the turns so far */
	char err[256];
};

static void set_request_free(struct uapi_set_request *sr)
{
	if (!sr)
		return;
	uapi_set_parse_free(sr->sp);
	config_free(sr->c);
	free(sr->named);
	if (sr->text) {
		sodium_memzero(sr->text, sr->len);
		free(sr->text);
	}
	free(sr);
}

static int set_request_new(struct device *dev, const char *lines, struct uapi_set_request **out)
{
	struct uapi_set_request *sr = calloc(1, sizeof(*sr));

	if (!sr)
		return -ENOMEM;
	sr->dev = dev;
	sr->len = strlen(lines);
	sr->text = malloc(sr->len + 1);
	if (!sr->text) {
		free(sr);
		return -ENOMEM;
	}
	memcpy(sr->text, lines, sr->len + 1);
	sr->scan = sr->text;
	*out = sr;
	return 0;
}

/* SET_NAMED, for one line: the peers a set touches, before the parse consumes its lines, are
 * those its public_key lines name, and the present holders of the prefixes its allowed_ip
 * lines give (a prefix given to another peer leaves its holder, which must be in the edit
 * for that); and whether replace_peers=true is among the lines. 0 or -ENOMEM. */
static int named_line(struct uapi_set_request *sr, const char *l)
{
	static const char pk[] = "public_key=", ai[] = "allowed_ip=";
	char value[KEY_HEX_LEN]; /* a key's 64 digits, or a prefix, and a NUL */
	uint8_t key[KEY_LEN];
	struct ip_prefix pfx;
	struct peer *p;
	int ret = 0;

	if (!strncmp(l, "replace_peers=true", 18) && (l[18] == '\n' || l[18] == '\r' || !l[18]))
		sr->replace = true;
	if (!strncmp(l, pk, sizeof(pk) - 1)) {
		line_value(l + sizeof(pk) - 1, value, sizeof(value));
		sr->n_keys++;
		/* A bad key is the parse's to refuse. */
		if (!sr->replace && !key_from_hex(key, value))
			ret = named_add(&sr->named, &sr->n_named, &sr->named_cap, key);
		sodium_memzero(key, sizeof(key));
	} else if (!sr->replace && !strncmp(l, ai, sizeof(ai) - 1) && l[sizeof(ai) - 1] != '-') {
		line_value(l + sizeof(ai) - 1, value, sizeof(value));
		if (!strchr(value, '/') || addr_parse_prefix(value, &pfx))
			return 0;
		addr_prefix_mask(&pfx);
		p = allowedips_lookup_exact(sr->dev->allowedips, &pfx);
		if (p)
			ret = named_add(&sr->named, &sr->n_named, &sr->named_cap,
					peer_public_key(p));
	}
	return ret;
}

/* The end of SET_NAMED: the named peers sorted, each once, and the config to edit: the
 * interface's part (not a copy of every peer, which would make each set cost as much as
 * the device holds) with room for the named peers (none with replace_peers=true) and for
 * every peer the lines may add: growing the room later copies it whole, milliseconds in one
 * turn at 10,000 peers. */
static int named_done(struct uapi_set_request *sr)
{
	size_t k = 0;

	/* Replacing every peer, the job needs no list of those named (it could be 10,000 long,
	 * and its sort a few milliseconds). */
	if (sr->replace)
		sr->n_named = 0;
	if (sr->n_named)
		device_sort(sr->named, sr->n_named, KEY_LEN, key_cmp);
	for (size_t i = 0; i < sr->n_named; i++)
		if (!k || memcmp(sr->named[k - 1], sr->named[i], KEY_LEN))
			memmove(sr->named[k++], sr->named[i], KEY_LEN);
	sr->n_named = k;
	return device_interface_config(sr->dev, (sr->replace ? 0 : sr->n_named) + sr->n_keys,
				       &sr->c);
}

/* SET_COPY, for one named peer: its present state, which the set's lines then edit. */
static int copy_peer(struct uapi_set_request *sr, const uint8_t key[KEY_LEN])
{
	struct config_peer *cp = &sr->c->peers[sr->c->n_peers];
	struct peer *p = device_peer_by_key(sr->dev, key);
	int ret;

	if (!p)
		return 0;
	ret = device_to_config_peer(sr->dev, p, cp);
	if (ret)
		return ret;
	/* No endpoint unless the set gives one: the peer keeps its own, also if it roams while
	 * a set in slices is applied, which a copy of the present one would undo. */
	memset(&cp->endpoint, 0, sizeof(cp->endpoint));
	sr->c->n_peers++;
	return 0;
}

/* One batch of the present stage. 0 or -errno with sr->err. */
static int set_batch(struct uapi_set_request *sr)
{
	int ret = 0;

	switch (sr->stage) {
	case SET_NAMED:
		for (int i = 0; i < SET_BATCH && sr->scan && !ret; i++) {
			ret = named_line(sr, sr->scan);
			sr->scan = strchr(sr->scan, '\n');
			sr->scan = sr->scan && sr->scan[1] ? sr->scan + 1 : NULL;
		}
		if (!ret && !sr->scan) {
			ret = named_done(sr);
			sr->stage = sr->replace ? SET_PARSE : SET_COPY;
		}
		break;
	case SET_COPY:
		for (int i = 0; i < SET_BATCH && sr->next_copy < sr->n_named && !ret; i++)
			ret = copy_peer(sr, sr->named[sr->next_copy++]);
		if (!ret && sr->next_copy == sr->n_named)
			sr->stage = SET_PARSE;
		break;
	case SET_PARSE:
		if (!sr->sp &&
		    (ret = uapi_set_parse_new(sr->c, (sr->replace ? 0 : sr->n_named) + sr->n_keys,
					      sr->text, &sr->sp)))
			break;
		ret = uapi_set_parse_step(sr->sp, SET_BATCH, sr->err, sizeof(sr->err));
		if (ret > 0)
			return 0;
		if (!ret)
			sr->stage = SET_DONE;
		else
			log_warn("%s: control socket: set refused, nothing changed: %s",
				 sr->dev->ifname, sr->err);
		return ret;
	case SET_DONE:
		break;
	}
	if (ret)
		snprintf(sr->err, sizeof(sr->err), "%s", strerror(-ret));
	return ret;
}

/* Parses until budget_ns have gone by (0: to the end). 1 while lines are left, 0 once
 * parsed whole, -errno (the set refused, sr->err says why). */
static int set_request_step(struct uapi_set_request *sr, uint64_t budget_ns)
{
	uint64_t start = device_now(), d;
	int ret;

	sr->turns++;
	while (sr->stage != SET_DONE) {
		ret = set_batch(sr);
		if (ret)
			return ret;
		d = device_now() - start;
		if (sr->stage != SET_DONE && budget_ns && d >= budget_ns) {
			sr->longest = d > sr->longest ? d : sr->longest;
			return 1;
		}
	}
	d = device_now() - start;
	sr->longest = d > sr->longest ? d : sr->longest;
	if (sr->turns > 1)
		log_info("%s: control socket: a set of %zu peers parsed over %u turns of the "
			 "event loop (the longest %.1f ms)",
			 sr->dev->ifname, sr->c->n_peers, sr->turns,
			 (double)sr->longest / NSEC_PER_MSEC);
	return 0;
}

/* A set changes the peers it names and nothing else: it edits a config of the interface and
 * of those peers only, and the job applies it: device_apply_change() removes of the peers it
 * named those the edit took out. With replace_peers=true the config holds every peer there
 * will be. *job is the rest (device_job_new()). */
static int set_request_job(struct uapi_set_request *sr, struct device_job **job)
{
	struct device_change how = {
		.scope = sr->replace ? DEVICE_REPLACE_ALL : DEVICE_NAMED,
		.named = (const uint8_t(*)[KEY_LEN])sr->named,
		.n_named = sr->n_named,
	};
	int ret = device_job_new(sr->dev, sr->c, &how, job);

	sr->c = NULL; /* the job's, also on error */
	return ret;
}

/* The answer to a set or a reload; a refused reload says why (reload=1 is ours: wg never
 * reads this one). */
static void answer(struct evbuffer *out, int ret, bool reload, char *err)
{
	if (ret && reload) {
		for (char *c = err; *c; c++)
			if (*c == '\n' || *c == '\r')
				*c = ' ';
		evbuffer_add_printf(out, "error=%s\n", err);
	}
	/* Negative, as wireguard-go answers and as `wg` expects. */
	evbuffer_add_printf(out, "errno=%d\n\n", ret);
}

bool uapi_pending_work(const struct uapi_pending *pd)
{
	return pd->set || pd->job;
}

/* Its set's parse, then its job. */
int uapi_pending_step(struct uapi_pending *pd, uint64_t budget_ns)
{
	uint64_t start = device_now(), used;
	int ret;

	if (pd->set) {
		ret = set_request_step(pd->set, budget_ns);
		if (ret == 1)
			return 1;
		if (!ret)
			ret = set_request_job(pd->set, &pd->job);
		else
			snprintf(pd->err, sizeof(pd->err), "%s", pd->set->err);
		set_request_free(pd->set);
		pd->set = NULL;
		if (ret)
			return ret;
		used = device_now() - start;
		if (budget_ns && used >= budget_ns)
			return 1;
		budget_ns -= budget_ns ? used : 0;
	}
	ret = device_job_step(pd->job, budget_ns);
	if (ret < 0)
		snprintf(pd->err, sizeof(pd->err), "%s", device_job_err(pd->job));
	return ret;
}

void uapi_pending_end(struct evbuffer *out, struct uapi_pending *pd, int ret)
{
	if (out)
		answer(out, ret, pd->reload, pd->err);
	set_request_free(pd->set);
	pd->set = NULL;
	device_job_free(pd->job);
	pd->job = NULL;
}

/* get=1 or get=sealnet (ours): the interface's lines, then the peers, all at once or with
 * split_get left for the caller to write as the socket drains. */
static void begin_get(struct device *dev, const char *config_path, bool ours, struct evbuffer *out,
		      bool split_get, struct uapi_pending *pd)
{
	pd->get_ours = ours;
	uapi_get_header(dev, out, ours, config_path);
	if (split_get) {
		device_cursor_open(dev, &pd->cursor);
		pd->get = true;
		return;
	}
	pd->cursor.next = TAILQ_FIRST(&dev->peers);
	uapi_get_peers(out, ours, &pd->cursor, SIZE_MAX);
}

/* reload=1 (ours): the config file read and checked now, applied by the job. 0 or -errno
 * with pd->err. */
static int begin_reload(struct device *dev, const char *config_path, struct uapi_pending *pd)
{
	pd->reload = true;
	if (!config_path) {
		snprintf(pd->err, sizeof(pd->err),
			 "started without a config file: nothing to reload");
		return -EINVAL;
	}
	return device_reload_job(dev, config_path, &pd->job, pd->err, sizeof(pd->err));
}

void uapi_request_begin(struct device *dev, const char *config_path, char *request,
			struct evbuffer *out, bool split_get, struct uapi_pending *pd)
{
	char *nl = strchr(request, '\n'), *rest = nl ? nl + 1 : request + strlen(request);
	int ret = -EINVAL;

	memset(pd, 0, sizeof(*pd));
	if (nl)
		*nl = '\0';
	if ((!strcmp(request, "get=1") || !strcmp(request, "get=sealnet")) && !*rest) {
		begin_get(dev, config_path, request[4] == 's', out, split_get, pd);
		return;
	}
	if (!strcmp(request, "set=1"))
		ret = set_request_new(dev, rest, &pd->set);
	else if (!strcmp(request, "reload=1") && !*rest)
		ret = begin_reload(dev, config_path, pd);
	if (ret)
		answer(out, ret, pd->reload, pd->err);
}

void uapi_handle(struct device *dev, const char *config_path, char *request, struct evbuffer *out)
{
	struct uapi_pending pd;

	uapi_request_begin(dev, config_path, request, out, false, &pd);
	if (uapi_pending_work(&pd))
		uapi_pending_end(out, &pd, uapi_pending_step(&pd, 0));
}
