/* The state file and the metrics file (state.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "peers.h"
#include "rules.h"
#include "state.h"

/* Replaces path with text: a reader sees the old file or the new one, never half. The new
 * file gets a name mkstemp() makes in path's directory (O_EXCL: a link planted at a name
 * known in advance would have root write wherever it points), and is renamed over path,
 * which replaces a link there rather than following it. Mode 0644: node_exporter's
 * textfile collector may run as another user. */
static int write_file(const char *path, const char *text)
{
	char tmp[300];
	size_t len = strlen(text);
	int fd, ret = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0644))
		ret = -errno;
	else if (write(fd, text, len) != (ssize_t)len)
		ret = -EIO;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

/* The peers we added, one key a line; then the rules we last sent, each line saying whose it
 * is: "own RULE" (the daemon's), "node RULE" or "cluster RULE" (from etcd). */
void state_save(struct registry *r)
{
	const struct rule_list *lists[3] = { &r->rules.sent.own, &r->rules.sent.node,
					     &r->rules.sent.cluster };
	const char *whose[3] = { "own", "node", "cluster" };
	size_t n = r->rules.sent.own.n + r->rules.sent.node.n + r->rules.sent.cluster.n;
	char b64[KEY_B64_LEN], *text;
	size_t len;
	int ret;

	text = malloc(r->peers.n * KEY_B64_LEN + n * (FIREWALL_RULE_TEXT_MAX + 10) + 160);
	if (!text) {
		log_err("%s: registry: cannot save %s: %s", r->cfg.ifname, r->cfg.state_path,
			strerror(ENOMEM));
		return;
	}
	len = (size_t)sprintf(text, "# peers sealnet registry added\n");
	for (size_t i = 0; i < r->peers.n; i++)
		len += (size_t)sprintf(text + len, "%s\n", key_text(b64, r->peers.m[i].public_key));
	len += (size_t)sprintf(text + len,
			       "# access rules it sent: the daemon's own, then etcd's\n");
	for (int k = 0; k < 3; k++)
		for (size_t i = 0; i < lists[k]->n; i++)
			len += (size_t)sprintf(text + len, "%s %s\n", whose[k], lists[k]->text[i]);
	ret = write_file(r->cfg.state_path, text);
	if (ret)
		log_err("%s: registry: cannot save %s: %s", r->cfg.ifname, r->cfg.state_path,
			strerror(-ret));
	free(text);
}

void state_load(struct registry *r)
{
	struct rule_list *lists[3] = { &r->rules.sent.own, &r->rules.sent.node,
				       &r->rules.sent.cluster };
	const char *whose[3] = { "own ", "node ", "cluster " };
	struct managed *m;
	uint8_t key[KEY_LEN];
	char line[FIREWALL_RULE_TEXT_MAX + 16];
	bool rule;
	FILE *f = fopen(r->cfg.state_path, "re");

	if (!f) {
		if (errno != ENOENT)
			log_warn("%s: registry: cannot read %s: %s", r->cfg.ifname,
				 r->cfg.state_path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || !line[0])
			continue;
		rule = false;
		for (int k = 0; k < 3 && !rule; k++)
			if (!strncmp(line, whose[k], strlen(whose[k]))) {
				rules_add(lists[k], line + strlen(whose[k]));
				rule = true;
			}
		if (rule || key_from_base64(key, line) || peers_find(&r->peers, key) ||
		    peers_add(&r->peers, key, &m))
			continue;
	}
	fclose(f);
	/* Until etcd says otherwise, what was sent is what was last accepted, and until the
	 * daemon says otherwise its own rules are those sent as its own. */
	if (rules_copy(&r->rules.own, &r->rules.sent.own) ||
	    rules_copy(&r->rules.node.rules, &r->rules.sent.node) ||
	    rules_copy(&r->rules.cluster.rules, &r->rules.sent.cluster))
		log_err("%s: registry: cannot keep the rules of %s: %s", r->cfg.ifname,
			r->cfg.state_path, strerror(ENOMEM));
	if (r->peers.n || r->rules.sent.node.n || r->rules.sent.cluster.n)
		log_info("%s: registry: from a previous run (%s): peers: %zu, rules from etcd: %zu",
			 r->cfg.ifname, r->cfg.state_path, r->peers.n,
			 r->rules.sent.node.n + r->rules.sent.cluster.n);
}

struct text {
	char buf[4096];
	size_t len;
};

/* The Prometheus text format, for node_exporter's textfile collector: the tool cannot reach
 * the daemon's /metrics, and a file outlives the process that wrote it. */
void state_write_metrics(struct registry *r)
{
	const struct {
		const char *name, *type, *help;
		double value;
	} metrics[] = {
		{ "sealnet_registry_etcd_up", "gauge",
		  "Whether etcd answered the registry's last request.", r->sess.up },
		{ "sealnet_registry_daemon_up", "gauge",
		  "Whether the daemon answered on its control socket.", r->dmn.up },
		{ "sealnet_registry_entries", "gauge",
		  "Valid node entries in etcd, this node's included.", (double)r->stats.n_valid },
		{ "sealnet_registry_refused_entries", "gauge",
		  "Entries refused: invalid, or claiming what an older entry claims.",
		  (double)r->stats.n_refused },
		{ "sealnet_registry_peers", "gauge", "Peers the registry has put into the daemon.",
		  (double)r->peers.n },
		{ "sealnet_registry_reconnects_total", "counter",
		  "Times etcd was reached again after being unreachable.",
		  (double)r->sess.reconnects },
		{ "sealnet_registry_applies_total", "counter",
		  "Changes (a peer, the access rules) the daemon accepted.",
		  (double)r->stats.applies },
		{ "sealnet_registry_apply_errors_total", "counter",
		  "Changes (a peer, the access rules) the daemon refused or that could not be sent.",
		  (double)r->stats.apply_errors },
		{ "sealnet_registry_rules", "gauge",
		  "Access rules from etcd in the daemon: this node's and the cluster's.",
		  (double)(r->rules.sent.node.n + r->rules.sent.cluster.n) },
		{ "sealnet_registry_refused_rule_keys", "gauge",
		  "Rules keys for this node refused as invalid (the rules they had stay).",
		  (double)(r->rules.node.refused + r->rules.cluster.refused) },
	};
	struct text t = { .len = 0 };
	int ret, n;

	if (!r->cfg.metrics_path)
		return;
	for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++) {
		n = snprintf(t.buf + t.len, sizeof(t.buf) - t.len,
			     "# HELP %s %s\n# TYPE %s %s\n%s{interface=\"%s\"} %.17g\n",
			     metrics[i].name, metrics[i].help, metrics[i].name, metrics[i].type,
			     metrics[i].name, r->cfg.ifname, metrics[i].value);
		if (n > 0 && (size_t)n < sizeof(t.buf) - t.len)
			t.len += (size_t)n;
	}
	if (r->metrics_written && !strcmp(r->metrics_written, t.buf))
		return;
	ret = write_file(r->cfg.metrics_path, t.buf);
	if (ret)
		log_warn("%s: registry: cannot write %s: %s", r->cfg.ifname, r->cfg.metrics_path,
			 strerror(-ret));
	free(r->metrics_written);
	r->metrics_written = strdup(t.buf);
}
