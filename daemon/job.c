/* Jobs: a change of many peers, or a reload, in slices that each take a turn of the event
 * loop (device_job_new(), device_reload_job(); see device.h). Each slice is one
 * device_apply_change(). */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "device_priv.h"
#include "log.h"
#include "peer.h"

/* The file replaces the peers it names or named before; peers only the control socket added
 * (the registry's) stay, with their sessions. */
static const struct device_change file_reload = {
	.scope = DEVICE_REPLACE_FILE,
	.from_file = true,
};

/* A change of many peers in slices (see device.h). Each slice is one device_apply_change()
 * and so all or nothing: the interface first (identity, port, MTU, addresses, rules, the
 * peer that holds the new identity's key), then the config's peers DEVICE_SLICE at a time,
 * added or updated but none removed, then the peers the scope removes, DEVICE_SLICE at a
 * time. Adding before removing keeps a prefix that moves from a peer that goes to one
 * that comes routed throughout (the newcomer takes it over, as in one apply); a prefix
 * that moves between two peers of the config moves when the slice of the later of them
 * is applied, which is the one one apply would give it to. */
enum job_stage {
	JOB_LOAD,  /* a reload's file being parsed, a turn at a time: nothing applied yet */
	JOB_WHOLE, /* small enough for one apply, atomic as ever */
	JOB_INTERFACE,
	JOB_PEERS,
	JOB_MARK, /* the config's peers marked, JOB_WALK a slice */
	JOB_SCAN, /* the device's peers not marked (and the scope's) listed, JOB_WALK a slice */
	JOB_GONE,
	JOB_DONE,
};

struct device_job {
	struct device *dev;
	struct config *c;
	struct device_change how;
	uint8_t (*named)[KEY_LEN]; /* how.named, owned */
	uint8_t (*gone)[KEY_LEN];  /* keys of the peers the scope removes */
	size_t n_gone, next_peer, next_gone;
	size_t next_mark;          /* JOB_MARK, and JOB_SCAN's place in how.named */
	unsigned mark;             /* the apply_mark of the config's peers */
	struct device_cursor scan; /* JOB_SCAN's place in the device's peers */
	bool scanning;             /* scan is open */
	enum job_stage stage;
	unsigned turns; /* device_job_step() calls, for the log */
	size_t slice;   /* peers in the next slice, 1 to DEVICE_SLICE */
	int ret;
	char *reload_path;          /* a reload's file, for its notices at the end */
	struct config_loader *load; /* JOB_LOAD's parse */
	unsigned load_turns;
	uint64_t longest; /* ns, of the turns so far */
	char err[512];
};

/* How many peers JOB_MARK and JOB_SCAN look at in one slice: a hash lookup or a look at one
 * struct peer each, so a slice stays well under a millisecond at any size. */
#define JOB_WALK 1024

/* Whose peers the scope removes, known once every peer of the config is in the device, in
 * two walks of JOB_WALK peers a slice: the config's peers are marked, then the device's
 * peers without the mark (or the named ones) are listed. A walk over 10,000 peers in one
 * go held the loop for 5 to 8 ms. Nothing else applies meanwhile (one job at a time), so
 * the marks hold; the cursor moves on past a peer that goes. */
static int job_mark(struct device_job *j)
{
	struct device *dev = j->dev;
	size_t end = j->next_mark + JOB_WALK < j->c->n_peers ? j->next_mark + JOB_WALK
							     : j->c->n_peers;
	struct peer *p;

	if (!j->next_mark)
		j->mark = dev->apply_mark += 2;
	for (; j->next_mark < end; j->next_mark++)
		if ((p = peer_table_lookup(&dev->peer_table, j->c->peers[j->next_mark].public_key)))
			p->apply_mark = j->mark;
	if (j->next_mark < j->c->n_peers)
		return 0;
	j->gone = calloc(dev->n_peers + j->how.n_named + 1, sizeof(*j->gone));
	if (!j->gone)
		return -ENOMEM;
	j->next_mark = 0;
	device_cursor_open(dev, &j->scan);
	j->scanning = true;
	j->stage = JOB_SCAN;
	return 0;
}

static int job_scan(struct device_job *j)
{
	struct peer *p;
	size_t i;

	if (j->how.scope == DEVICE_NAMED) {
		for (i = 0; i < JOB_WALK && j->next_mark < j->how.n_named; i++, j->next_mark++) {
			p = peer_table_lookup(&j->dev->peer_table, j->how.named[j->next_mark]);
			if (p && p->apply_mark != j->mark)
				memcpy(j->gone[j->n_gone++], j->how.named[j->next_mark], KEY_LEN);
		}
		if (j->next_mark < j->how.n_named)
			return 0;
	} else {
		for (i = 0; i < JOB_WALK && (p = j->scan.next); i++) {
			j->scan.next = TAILQ_NEXT(p, link);
			if (p->apply_mark != j->mark &&
			    (j->how.scope == DEVICE_REPLACE_ALL || p->from_file))
				memcpy(j->gone[j->n_gone++], peer_public_key(p), KEY_LEN);
		}
		if (j->scan.next)
			return 0;
	}
	device_cursor_close(&j->scan);
	j->scanning = false;
	j->stage = JOB_GONE;
	return 0;
}

/* One apply of the job: its next slice. */
static int job_slice(struct device_job *j)
{
	struct config slice = *j->c;
	struct device_change how = { .scope = DEVICE_NAMED, .from_file = j->how.from_file };
	size_t n;
	int ret;

	slice.peers = NULL;
	slice.n_peers = 0;
	switch (j->stage) {
	case JOB_WHOLE:
		j->stage = JOB_DONE;
		return device_apply_change(j->dev, j->c, &j->how);
	case JOB_INTERFACE:
		j->stage = JOB_PEERS;
		return device_apply_change(j->dev, &slice, &how);
	case JOB_PEERS:
		n = j->c->n_peers - j->next_peer;
		n = n < j->slice ? n : j->slice;
		slice.peers = j->c->peers + j->next_peer;
		slice.n_peers = n;
		ret = device_apply_change(j->dev, &slice, &how);
		if (ret)
			return ret;
		j->next_peer += n;
		/* A set that names no peer to remove (the registry's, most big ones) is done. */
		if (j->next_peer == j->c->n_peers)
			j->stage = j->how.scope == DEVICE_NAMED && !j->how.n_named ? JOB_DONE
										   : JOB_MARK;
		return 0;
	case JOB_MARK:
		return job_mark(j);
	case JOB_SCAN:
		return job_scan(j);
	case JOB_GONE:
		n = j->n_gone - j->next_gone;
		n = n < j->slice ? n : j->slice;
		how.from_file = false;
		how.named = (const uint8_t(*)[KEY_LEN])(j->gone + j->next_gone);
		how.n_named = n;
		if (n && (ret = device_apply_change(j->dev, &slice, &how)))
			return ret;
		j->next_gone += n;
		if (j->next_gone == j->n_gone)
			j->stage = JOB_DONE;
		return 0;
	case JOB_LOAD: /* device_job_step()'s */
	case JOB_DONE:
		break;
	}
	return 0;
}

static void reload_done(struct device_job *j)
{
	struct device *dev = j->dev;
	const struct config *conf = j->c;

	if ((conf->metrics_listen.sa.sa_family || dev->metrics_listen.sa.sa_family) &&
	    !addr_endpoint_equal(&conf->metrics_listen, &dev->metrics_listen)) {
		char want[ADDR_STRLEN] = "off", have[ADDR_STRLEN] = "off";

		if (conf->metrics_listen.sa.sa_family)
			addr_endpoint_str(&conf->metrics_listen, want);
		if (dev->metrics_listen.sa.sa_family)
			addr_endpoint_str(&dev->metrics_listen, have);
		log_notice("%s: reload: MetricsListen %s takes effect on restart; metrics stay %s",
			   dev->ifname, want, have);
	}
	if (conf->threads != dev->threads)
		log_notice("%s: reload: Threads takes effect on restart", dev->ifname);
	log_notice("%s: reloaded %s", dev->ifname, j->reload_path);
}

static int job_init(struct device_job *j, struct config *c, const struct device_change *how);

/* JOB_LOAD: the file parsed until budget_ns have gone by; once it is whole, the job is
 * what device_job_new() makes of it. 1 while lines are left, 0 or -errno (nothing applied:
 * the running configuration stays). */
static int job_load(struct device_job *j, uint64_t budget_ns)
{
	struct device *dev = j->dev;
	struct config *conf;
	int ret;

	j->load_turns++;
	ret = config_load_step(j->load, budget_ns, &conf, j->err, sizeof(j->err));
	if (ret == 1)
		return 1;
	config_load_free(j->load);
	j->load = NULL;
	if (ret) {
		log_err("%s: reload: %s; keeping the running configuration", dev->ifname, j->err);
		goto fail;
	}
	if (j->load_turns > 1)
		log_info("%s: reload: %s parsed over %u turns of the event loop", dev->ifname,
			 j->reload_path, j->load_turns);
	/* As `wg syncconf` with a file that has no PrivateKey: the key set since (by wg set, a
	 * PostUp) stays. */
	if (!conf->private_key && dev->local.private_key) {
		conf->private_key = sodium_malloc(KEY_LEN);
		if (!conf->private_key) {
			config_free(conf);
			snprintf(j->err, sizeof(j->err), "out of memory");
			ret = -ENOMEM;
			goto fail;
		}
		memcpy(conf->private_key, dev->local.private_key, KEY_LEN);
		log_notice("%s: reload: the file has no PrivateKey: keeping the running one",
			   dev->ifname);
	}
	ret = job_init(j, conf, &file_reload);
	if (ret) {
		snprintf(j->err, sizeof(j->err), "out of memory");
		goto fail;
	}
	return 0;
fail:
	j->stage = JOB_DONE;
	j->ret = ret;
	return ret;
}

/* The turn that began at t0 has ended: the longest so far, for the log. */
static void job_turn(struct device_job *j, uint64_t t0)
{
	uint64_t d = device_clock() - t0;

	if (d > j->longest)
		j->longest = d;
}

int device_job_step(struct device_job *j, uint64_t budget_ns)
{
	uint64_t start = device_clock(), t0 = start;

	if (j->stage == JOB_LOAD) {
		int ret = job_load(j, budget_ns);
		uint64_t used = device_clock() - start;

		if (ret == 1 || (!ret && budget_ns && used >= budget_ns)) {
			job_turn(j, t0);
			return 1;
		}
		if (ret)
			return ret;
		budget_ns -= budget_ns ? used : 0;
		start = device_clock();
	}
	j->dev->job_running = true;

	while (j->stage != JOB_DONE) {
		size_t before = j->next_peer + j->next_gone, done;
		uint64_t t = device_clock();
		int ret = job_slice(j);

		/* The next slice as big as fits in a turn at the pace of this one: a peer costs
		 * about 80 us on an idle machine (mostly its X25519; the slice's routes are one
		 * request to the helper), many times that when the CPUs are shared. */
		done = j->next_peer + j->next_gone - before;
		if (!ret && done && budget_ns) {
			uint64_t per = (device_clock() - t) / done + 1;

			j->slice = budget_ns / per;
			j->slice = j->slice < 1              ? 1
				   : j->slice > DEVICE_SLICE ? DEVICE_SLICE
							     : j->slice;
		}

		if (ret) {
			j->stage = JOB_DONE;
			j->ret = ret;
			j->dev->job_running = false;
			if (before)
				snprintf(j->err, sizeof(j->err),
					 "failed after %zu of %zu peers (those stay applied): %s",
					 before, j->c->n_peers + j->n_gone, strerror(-ret));
			else
				snprintf(j->err, sizeof(j->err), "%s", strerror(-ret));
			if (j->reload_path) {
				char why[sizeof(j->err)];

				memcpy(why, j->err, sizeof(why));
				snprintf(j->err, sizeof(j->err), "%s: applying failed: %.200s",
					 j->reload_path, why);
				log_err("%s: reload: %s", j->dev->ifname, j->err);
			} else if (before) {
				log_err("%s: change %s", j->dev->ifname, j->err);
			}
			return ret;
		}
		if (budget_ns && device_clock() - start >= budget_ns)
			break;
	}
	j->turns++;
	job_turn(j, t0);
	if (j->stage != JOB_DONE)
		return 1;
	j->dev->job_running = false;
	if (j->turns > 1 || j->next_peer || j->next_gone)
		log_info("%s: %zu peers set, %zu removed, in slices over %u turns of the event loop "
			 "(the longest %.1f ms)",
			 j->dev->ifname, j->next_peer, j->next_gone, j->turns,
			 (double)j->longest / NSEC_PER_MSEC);
	if (j->reload_path && !j->ret)
		reload_done(j);
	return 0;
}

const char *device_job_err(const struct device_job *j)
{
	return j->err;
}

void device_job_free(struct device_job *j)
{
	if (!j)
		return;
	j->dev->job_running = false;
	config_load_free(j->load);
	config_free(j->c);
	free(j->named);
	if (j->scanning)
		device_cursor_close(&j->scan);
	free(j->gone);
	free(j->reload_path);
	free(j);
}

/* The job of applying c as how says (takes c, also on error). 0 or -ENOMEM. */
static int job_init(struct device_job *j, struct config *c, const struct device_change *how)
{
	size_t removable = how->scope == DEVICE_NAMED ? how->n_named : j->dev->n_peers;

	j->c = c;
	j->how = *how;
	if (how->n_named) {
		j->named = malloc(how->n_named * sizeof(*j->named));
		if (!j->named)
			return -ENOMEM;
		memcpy(j->named, how->named, how->n_named * sizeof(*j->named));
		j->how.named = (const uint8_t(*)[KEY_LEN])j->named;
	}
	/* Small changes, most of all a set of a few peers, stay one apply: all or nothing. */
	j->stage = c->n_peers + removable <= DEVICE_SLICE ? JOB_WHOLE : JOB_INTERFACE;
	j->slice = DEVICE_SLICE / 4;
	return 0;
}

int device_job_new(struct device *dev, struct config *c, const struct device_change *how,
		   struct device_job **out)
{
	struct device_job *j = calloc(1, sizeof(*j));
	int ret;

	if (!j) {
		config_free(c);
		return -ENOMEM;
	}
	j->dev = dev;
	ret = job_init(j, c, how);
	if (ret) {
		device_job_free(j);
		return ret;
	}
	*out = j;
	return 0;
}

/* The file is read now (through the helper, which only the event loop's thread talks to) and
 * parsed in the job's first turns, so that a file of thousands of peers holds the loop no
 * longer than a set of them does. */
int device_reload_job(struct device *dev, const char *config_path, struct device_job **out,
		      char *err, size_t errlen)
{
	struct device_job *j = calloc(1, sizeof(*j));
	int ret;

	if (!j || !(j->reload_path = strdup(config_path))) {
		free(j);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	j->dev = dev;
	j->stage = JOB_LOAD;
	ret = config_load_start(config_path, &j->load, err, errlen);
	if (ret) {
		log_err("%s: reload: %s; keeping the running configuration", dev->ifname, err);
		device_job_free(j);
		return ret;
	}
	*out = j;
	return 0;
}
