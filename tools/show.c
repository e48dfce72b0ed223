/* show: a running interface's state, for people as `wg show` prints it plus our counters, as
 * one JSON document for scripts, in brief (status.c), or one field as `wg show IFACE FIELD`
 * prints it (dump, endpoints, ...). Secrets are printed only where they are asked for by
 * name, as wg does: `show IFACE private-key` prints the key (to whoever may read the control
 * socket, which is root); everywhere else, JSON and a dump included, a private key appears as
 * its public key or "(hidden)", a preshared key as "(hidden)". */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "key.h"
#include "status.h"
#include "subcommands.h"

/* What `wg show IFACE FIELD` takes, in wg's order. */
static const char *const fields[] = {
	"public-key",
	"private-key",
	"listen-port",
	"fwmark",
	"peers",
	"preshared-keys",
	"endpoints",
	"allowed-ips",
	"latest-handshakes",
	"transfer",
	"persistent-keepalive",
	"dump",
};

enum format { FORMAT_TEXT, FORMAT_JSON, FORMAT_BRIEF, FORMAT_FIELD };

struct show_opts {
	const char *cmd; /* "show" or "status", for messages */
	enum format format;
	const char *field; /* FORMAT_FIELD */
	bool colour;
	bool all;        /* several interfaces: field lines start with the interface's name */
	double interval; /* seconds between the two readings that give rates; 0 = one reading */
};

/* status reads twice this far apart for its rates, unless told otherwise. */
#define STATUS_INTERVAL 1.0
#define STATUS_INTERVAL_MAX 60.0

static void usage_text(FILE *f, const char *cmd)
{
	if (!strcmp(cmd, "status")) {
		fprintf(f,
			"Usage: %s status [<interface> | all] [--json] [--interval <seconds>]\n"
			"  One line per interface and per peer, with a state word: online, idle,\n"
			"  stale or never, and each peer's rx/tx rate in bytes per second.\n"
			"  Colours on a terminal only (not with NO_COLOR set).\n"
			"  --json       the document `show --json` prints, with the rates\n"
			"  --interval   seconds between the two readings the rates come from\n"
			"               (default 1; 0: one reading, no rates)\n",
			PROG_NAME);
		return;
	}
	fprintf(f,
		"Usage: %s show [<interface> | all | interfaces] [--json | --brief | <field>]\n"
		"           [--interval <seconds>]\n"
		"  --json     one JSON document, for scripts\n"
		"  --brief    one line per peer, as `%s status`\n"
		"  --interval with --brief or --json: rates over two readings this far apart\n"
		"             (--brief: 1 by default; --json: none by default)\n"
		"  <field>    one of:",
		PROG_NAME, PROG_NAME);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		fprintf(f, "%s %s", i && i % 6 == 0 ? "\n            " : "", fields[i]);
	fprintf(f, "\n             as `wg show` prints them (private-key prints the key, as wg;\n"
		   "             a dump and preshared-keys show (hidden))\n");
}

static int usage(const char *cmd)
{
	usage_text(stderr, cmd);
	return EXIT_USAGE;
}

/* --- for people ---------------------------------------------------------------------- */

static void print_bytes(uint64_t b)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)b;
	size_t u = 0;

	if (b < 1024) {
		printf("%" PRIu64 " B", b);
		return;
	}
	for (v /= 1024; v >= 1024 && u < sizeof(units) / sizeof(units[0]) - 1; u++)
		v /= 1024;
	printf("%.2f %s", v, units[u]);
}

/* "1 hour, 2 minutes, 3 seconds", as wg writes a duration. */
static void print_duration(uint64_t secs)
{
	static const struct {
		const char *unit;
		uint64_t secs;
	} units[] = {
		{ "year", 365 * 24 * 3600ULL },
		{ "day", 24 * 3600 },
		{ "hour", 3600 },
		{ "minute", 60 },
		{ "second", 1 },
	};
	bool first = true;

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t n = secs / units[i].secs;

		if (!n)
			continue;
		secs %= units[i].secs;
		printf("%s%" PRIu64 " %s%s", first ? "" : ", ", n, units[i].unit,
		       n == 1 ? "" : "s");
		first = false;
	}
}

static void print_handshake(const struct ipc_peer *p, time_t now)
{
	printf("  latest handshake: ");
	if ((int64_t)p->last_handshake_sec > (int64_t)now) {
		printf("in the future (the system clock went backwards)\n");
	} else if ((int64_t)p->last_handshake_sec == (int64_t)now) {
		printf("now\n");
	} else {
		print_duration((uint64_t)now - p->last_handshake_sec);
		printf(" ago\n");
	}
}

static void print_drops(const struct ipc_device *dev)
{
	const struct ipc_counter *c;
	bool first = true;

	for (c = dev->first_drop; c; c = c->next) {
		if (!c->value)
			continue;
		printf("%s%s %" PRIu64, first ? "  drops: " : ", ", c->name, c->value);
		first = false;
	}
	if (!first)
		printf("\n");
}

static void show_human(const struct ipc_device *dev)
{
	const struct ipc_rule *r;
	const struct ipc_allowedip *a;
	const struct ipc_peer *p;
	char b64[KEY_B64_LEN];
	time_t now = time(NULL);

	printf("interface: %s\n", dev->name);
	if (dev->has_public_key) {
		key_to_base64(b64, dev->public_key);
		printf("  public key: %s\n  private key: (hidden)\n", b64);
	}
	if (dev->listen_port)
		printf("  listening port: %u\n", dev->listen_port);
	if (dev->fwmark)
		printf("  fwmark: 0x%x\n", dev->fwmark);
	if (dev->first_address) {
		printf("  addresses: ");
		for (a = dev->first_address; a; a = a->next)
			printf("%s%s", a->text, a->next ? ", " : "\n");
	}
	if (dev->has_counters) {
		printf("  datagrams: %" PRIu64 " received, %" PRIu64 " sent\n", dev->rx_datagrams,
		       dev->tx_datagrams);
		if (dev->cookie_replies_sent)
			printf("  cookie replies sent: %" PRIu64 "\n", dev->cookie_replies_sent);
		print_drops(dev);
	}
	if (dev->first_rule)
		printf("  access rules (the first that matches decides):\n");
	for (r = dev->first_rule; r; r = r->next)
		printf("    %s (%" PRIu64 " matched)\n", r->text, r->matches);
	for (p = dev->first_peer; p; p = p->next) {
		key_to_base64(b64, p->public_key);
		printf("\npeer: %s\n", b64);
		if (p->name[0])
			printf("  name: %s\n", p->name);
		if (p->groups[0])
			printf("  groups: %s\n", p->groups);
		if (p->has_preshared_key)
			printf("  preshared key: (hidden)\n");
		if (p->endpoint[0])
			printf("  endpoint: %s\n", p->endpoint);
		printf("  allowed ips: ");
		for (a = p->first_allowedip; a; a = a->next)
			printf("%s%s", a->text, a->next ? ", " : "\n");
		if (!p->first_allowedip)
			printf("(none)\n");
		if (p->last_handshake_sec)
			print_handshake(p, now);
		if (p->rx_bytes || p->tx_bytes) {
			printf("  transfer: ");
			print_bytes(p->rx_bytes);
			printf(" received, ");
			print_bytes(p->tx_bytes);
			printf(" sent\n");
		}
		if (dev->has_counters && (p->rx_packets || p->tx_packets))
			printf("  packets: %" PRIu64 " received, %" PRIu64 " sent\n", p->rx_packets,
			       p->tx_packets);
		if (dev->has_counters && (p->initiations || p->handshakes))
			printf("  handshakes: %" PRIu64 " completed, %" PRIu64
			       " initiated, %" PRIu64 " failed; %" PRIu64 " key rotations\n",
			       p->handshakes, p->initiations, p->handshakes_failed, p->rotations);
		if (p->persistent_keepalive) {
			printf("  persistent keepalive: every ");
			print_duration(p->persistent_keepalive);
			printf("\n");
		}
	}
}

/* --- for scripts ----------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and code points past U+10FFFF are not UTF-8. */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* A JSON string. Text comes from the daemon; whatever it holds, the document stays valid:
 * bytes that are not UTF-8 become U+FFFD. */
static void json_string(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n;

	putchar('"');
	while (*u) {
		if (*u == '"' || *u == '\\') {
			printf("\\%c", *u++);
		} else if (*u < 0x20 || *u == 0x7f) {
			printf("\\u%04x", *u++);
		} else if (!(n = utf8_len(u))) {
			printf("\\ufffd");
			u++;
		} else {
			fwrite(u, 1, n, stdout);
			u += n;
		}
	}
	putchar('"');
}

static void json_key_b64(const uint8_t key[KEY_LEN])
{
	char b64[KEY_B64_LEN];

	key_to_base64(b64, key);
	json_string(b64);
}

static void json_prefixes(const struct ipc_allowedip *a)
{
	printf("[");
	for (; a; a = a->next) {
		json_string(a->text);
		if (a->next)
			printf(", ");
	}
	printf("]");
}

static void json_peer(const struct ipc_device *dev, const struct status_sample *smp,
		      const struct ipc_peer *p, time_t now)
{
	double rx, tx;

	printf("        {\n          \"public_key\": ");
	json_key_b64(p->public_key);
	printf(",\n          \"name\": ");
	if (p->name[0])
		json_string(p->name);
	else
		printf("null");
	printf(",\n          \"state\": \"%s\"", status_peer_state(dev, p, now));
	printf(",\n          \"endpoint\": ");
	if (p->endpoint[0])
		json_string(p->endpoint);
	else
		printf("null");
	printf(",\n          \"allowed_ips\": ");
	json_prefixes(p->first_allowedip);
	printf(",\n          \"latest_handshake\": %" PRIu64 ",\n", p->last_handshake_sec);
	/* peer_stats.h names them: wg's always, ours when the daemon is sealnetd. */
#define JSON_COUNTER(field, name, wg, metric, help)                                                \
	if ((wg) || dev->has_counters)                                                             \
		printf("          \"" #name "\": %" PRIu64 ",\n", p->name);
	PEER_COUNTERS(JSON_COUNTER)
#undef JSON_COUNTER
	/* Bytes per second over the device's rate_interval; null when not measured. */
	if (status_peer_rate(smp, p, &rx, &tx))
		printf("          \"rx_rate\": %.1f,\n          \"tx_rate\": %.1f,\n", rx, tx);
	else
		printf("          \"rx_rate\": null,\n          \"tx_rate\": null,\n");
	if (dev->has_counters)
		printf("          \"handshake_attempts\": %" PRIu64 ",\n", p->handshake_attempts);
	printf("          \"persistent_keepalive\": %u\n        }", p->persistent_keepalive);
}

static void json_device(const struct ipc_device *dev, const struct status_sample *smp)
{
	const struct ipc_counter *c;
	const struct ipc_peer *p;
	struct status_process proc;
	time_t now = time(NULL);

	printf("    {\n      \"name\": ");
	json_string(dev->name);
	printf(",\n      \"public_key\": ");
	if (dev->has_public_key)
		json_key_b64(dev->public_key);
	else
		printf("null");
	printf(",\n      \"listen_port\": %u,\n      \"fwmark\": %" PRIu32 ",\n", dev->listen_port,
	       dev->fwmark);
	if (smp && smp->before)
		printf("      \"rate_interval\": %.3f,\n", smp->elapsed);
	else
		printf("      \"rate_interval\": null,\n");
	if (dev->has_counters) {
		printf("      \"pid\": %" PRIu64 ",\n", dev->pid);
		if (dev->pid && !status_process_read((pid_t)dev->pid, &proc)) {
			printf("      \"user\": ");
			json_string(proc.user);
			printf(",\n      \"uptime\": %" PRIu64 ",\n", proc.uptime_sec);
		}
		printf("      \"mtu\": %" PRIu64 ",\n      \"threads\": %" PRIu64
		       ",\n      \"offload\": [",
		       dev->mtu, dev->threads);
		for (const char *o = dev->offload; *o;) {
			size_t len = strcspn(o, " ");

			printf("\"%.*s\"%s", (int)len, o, o[len] ? ", " : "");
			o += len + (o[len] != '\0');
		}
		printf("],\n      \"addresses\": ");
		json_prefixes(dev->first_address);
		printf(",\n");
	}
	if (dev->has_counters) {
		printf("      \"counters\": {\n        \"rx_datagrams\": %" PRIu64
		       ",\n        \"tx_datagrams\": %" PRIu64
		       ",\n        \"cookie_replies_sent\": %" PRIu64 ",\n        \"drops\": {",
		       dev->rx_datagrams, dev->tx_datagrams, dev->cookie_replies_sent);
		for (c = dev->first_drop; c; c = c->next) {
			printf("\n          ");
			json_string(c->name);
			printf(": %" PRIu64 "%s", c->value, c->next ? "," : "\n        ");
		}
		printf("}\n      },\n");
	}
	printf("      \"peers\": [");
	for (p = dev->first_peer; p; p = p->next) {
		printf("\n");
		json_peer(dev, smp, p, now);
		if (p->next)
			printf(",");
	}
	printf("%s]\n    }", dev->first_peer ? "\n      " : "");
}

/* --- one field, as wg prints it ------------------------------------------------------ */

static void field_prefix(const struct show_opts *o, const struct ipc_device *dev)
{
	if (o->all)
		printf("%s\t", dev->name);
}

static void print_key_b64(const uint8_t key[KEY_LEN])
{
	char b64[KEY_B64_LEN];

	key_to_base64(b64, key);
	printf("%s", b64);
}

static void field_allowed_ips(const struct ipc_peer *p, const char *sep)
{
	const struct ipc_allowedip *a;

	if (!p->first_allowedip)
		printf("(none)");
	for (a = p->first_allowedip; a; a = a->next)
		printf("%s%s", a->text, a->next ? sep : "");
}

/* `wg show IFACE private-key`: the key itself, read from a get=1 answer of its own (ipc_get()
 * keeps only the public key), in memory that is wiped. "(none)" when none is set. */
static void field_private_key(const struct ipc_device *dev)
{
	static const char name[] = "private_key=";
	char *reply, *line, *end, b64[KEY_B64_LEN];
	uint8_t key[KEY_LEN];
	size_t size;
	bool found = false;

	if (!dev->has_public_key || ipc_transact(dev->name, "get=1\n", &reply, &size)) {
		printf("%s", dev->has_public_key ? "(hidden)" : "(none)");
		return;
	}
	for (line = reply; line && *line && !found; line = end ? end + 1 : NULL) {
		end = strchr(line, '\n');
		if (end)
			*end = '\0';
		found = !strncmp(line, name, sizeof(name) - 1) &&
			!key_from_hex(key, line + sizeof(name) - 1);
	}
	ipc_reply_free(reply, size);
	if (!found) {
		printf("(none)");
		return;
	}
	key_to_base64(b64, key);
	printf("%s", b64);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(b64, sizeof(b64));
}

/* wg's dump: the interface, then one line per peer, tab-separated. */
static void field_dump(const struct show_opts *o, const struct ipc_device *dev)
{
	const struct ipc_peer *p;
	const struct ipc_allowedip *a;

	field_prefix(o, dev);
	printf("%s\t", dev->has_public_key ? "(hidden)" : "(none)");
	if (dev->has_public_key)
		print_key_b64(dev->public_key);
	else
		printf("(none)");
	printf("\t%u\t", dev->listen_port);
	if (dev->fwmark)
		printf("0x%x\n", dev->fwmark);
	else
		printf("off\n");
	for (p = dev->first_peer; p; p = p->next) {
		field_prefix(o, dev);
		print_key_b64(p->public_key);
		printf("\t%s\t%s\t", p->has_preshared_key ? "(hidden)" : "(none)",
		       p->endpoint[0] ? p->endpoint : "(none)");
		if (!p->first_allowedip)
			printf("(none)");
		for (a = p->first_allowedip; a; a = a->next)
			printf("%s%s", a->text, a->next ? "," : "");
		printf("\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t", p->last_handshake_sec,
		       p->rx_bytes, p->tx_bytes);
		if (p->persistent_keepalive)
			printf("%u\n", p->persistent_keepalive);
		else
			printf("off\n");
	}
}

static void show_field(const struct show_opts *o, const struct ipc_device *dev)
{
	const char *f = o->field;
	const struct ipc_peer *p;

	if (!strcmp(f, "dump")) {
		field_dump(o, dev);
		return;
	}
	if (!strcmp(f, "public-key") || !strcmp(f, "private-key") || !strcmp(f, "listen-port") ||
	    !strcmp(f, "fwmark")) {
		field_prefix(o, dev);
		if (!strcmp(f, "public-key") && dev->has_public_key)
			print_key_b64(dev->public_key);
		else if (!strcmp(f, "private-key"))
			field_private_key(dev);
		else if (!strcmp(f, "public-key"))
			printf("%s", dev->has_public_key ? "(hidden)" : "(none)");
		else if (!strcmp(f, "listen-port"))
			printf("%u", dev->listen_port);
		else if (dev->fwmark)
			printf("0x%x", dev->fwmark);
		else
			printf("off");
		printf("\n");
		return;
	}
	for (p = dev->first_peer; p; p = p->next) {
		field_prefix(o, dev);
		print_key_b64(p->public_key);
		if (!strcmp(f, "preshared-keys"))
			printf("\t%s", p->has_preshared_key ? "(hidden)" : "(none)");
		else if (!strcmp(f, "endpoints"))
			printf("\t%s", p->endpoint[0] ? p->endpoint : "(none)");
		else if (!strcmp(f, "allowed-ips"))
			printf("\t"), field_allowed_ips(p, " ");
		else if (!strcmp(f, "latest-handshakes"))
			printf("\t%" PRIu64, p->last_handshake_sec);
		else if (!strcmp(f, "transfer"))
			printf("\t%" PRIu64 "\t%" PRIu64, p->rx_bytes, p->tx_bytes);
		else if (!strcmp(f, "persistent-keepalive") && p->persistent_keepalive)
			printf("\t%u", p->persistent_keepalive);
		else if (!strcmp(f, "persistent-keepalive"))
			printf("\toff");
		printf("\n");
	}
}

/* --- the subcommand ------------------------------------------------------------------ */

static void print_error(const struct show_opts *o, const char *ifname, int err)
{
	if (err == -ENODEV)
		fprintf(stderr, "%s: %s %s: not running (no daemon on %s/%s.sock)\n", PROG_NAME,
			o->cmd, ifname, PATHS_SOCKET_DIR, ifname);
	else if (err == -EPROTO)
		fprintf(stderr, "%s: %s %s: cannot read the daemon's answer\n", PROG_NAME, o->cmd,
			ifname);
	else
		fprintf(stderr, "%s: %s %s: %s\n", PROG_NAME, o->cmd, ifname, strerror(-err));
}

static int show_interfaces(const struct show_opts *o)
{
	char **names;
	int ret;

	ret = ipc_list(&names);
	if (ret) {
		fprintf(stderr, "%s: %s: cannot list %s: %s\n", PROG_NAME, o->cmd, PATHS_SOCKET_DIR,
			strerror(-ret));
		return 1;
	}
	if (o->format == FORMAT_JSON) {
		printf("[");
		for (char **n = names; *n; n++) {
			json_string(*n);
			if (n[1])
				printf(", ");
		}
		printf("]\n");
	} else {
		for (char **n = names; *n; n++)
			printf("%s%c", *n, n[1] ? ' ' : '\n');
	}
	ipc_list_free(names);
	return 0;
}

static double mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The first readings for rates, all interfaces at once so that one interval serves them all;
 * an interface that cannot be read now is read (and reported) once, later. */
static void read_before(const struct show_opts *o, const char *const *names, size_t n,
			struct ipc_device **before, double *t0)
{
	struct timespec ts;
	bool any = false;

	for (size_t i = 0; i < n; i++) {
		if (ipc_get(names[i], &before[i]))
			before[i] = NULL;
		any |= before[i] != NULL;
	}
	*t0 = mono_seconds();
	if (!any)
		return; /* nothing to measure: the errors come with the second reading */
	ts.tv_sec = (time_t)o->interval;
	ts.tv_nsec = (long)((o->interval - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Shows each of names[0..n); an interface that cannot be read is reported and skipped, but
 * with all set, one that stopped since it was listed is simply no longer part of "all". */
static int show_devices(const struct show_opts *o, const char *const *names, size_t n)
{
	bool json = o->format == FORMAT_JSON;
	struct ipc_device *dev, **before = NULL;
	struct status_sample smp;
	bool first = true;
	double t0 = 0;
	int ret = 0, err;

	if (o->interval > 0 && n) {
		before = calloc(n, sizeof(*before));
		if (!before) {
			fprintf(stderr, "%s: %s: out of memory\n", PROG_NAME, o->cmd);
			return 1;
		}
		read_before(o, names, n, before, &t0);
	}
	if (json)
		printf("{\n  \"interfaces\": [");
	for (size_t i = 0; i < n; i++) {
		err = ipc_get(names[i], &dev);
		if (err == -ENODEV && o->all)
			continue;
		if (err) {
			print_error(o, names[i], err);
			ret = 1;
			continue;
		}
		smp.before = before ? before[i] : NULL;
		smp.elapsed = before ? mono_seconds() - t0 : 0;
		if (json) {
			printf("%s\n", first ? "" : ",");
			json_device(dev, &smp);
		} else if (o->format == FORMAT_FIELD) {
			show_field(o, dev);
		} else {
			if (!first)
				printf("\n");
			if (o->format == FORMAT_BRIEF)
				status_print(dev, &smp, o->colour);
			else
				show_human(dev);
		}
		first = false;
		ipc_device_free(dev);
	}
	for (size_t i = 0; before && i < n; i++)
		ipc_device_free(before[i]);
	free(before);
	if (json)
		printf("%s]\n}\n", first ? "" : "\n  ");
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "%s: %s: cannot write to stdout: %s\n", PROG_NAME, o->cmd,
			strerror(errno));
		ret = 1;
	}
	return ret;
}

static bool is_field(const char *word)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (!strcmp(word, fields[i]))
			return true;
	return false;
}

/* Colours where a person reads them: a terminal, and not turned off (https://no-color.org). */
static bool want_colour(void)
{
	const char *term = getenv("TERM"), *no = getenv("NO_COLOR");

	return isatty(STDOUT_FILENO) && !(no && *no) && term && strcmp(term, "dumb");
}

/* The command line into *o and *what (the interface, "all", "interfaces" or NULL). Returns
 * -1 to go on, else the status to exit with. */
static int parse_show_args(const char *cmd, int argc, char *argv[], bool brief, struct show_opts *o,
			   const char **what)
{
	bool json = false, interval_set = false;
	char *end;

	if (wants_help(argc, argv)) {
		usage_text(stdout, cmd);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--interval")) {
			if (i + 1 == argc) {
				fprintf(stderr, "%s: %s: --interval needs a number of seconds\n",
					PROG_NAME, cmd);
				return usage(cmd);
			}
			errno = 0;
			o->interval = strtod(argv[++i], &end);
			if (errno || end == argv[i] || *end || !(o->interval >= 0) ||
			    o->interval > STATUS_INTERVAL_MAX) {
				fprintf(stderr,
					"%s: %s: --interval: bad number of seconds `%s' (0 to "
					"%.0f)\n",
					PROG_NAME, cmd, argv[i], STATUS_INTERVAL_MAX);
				return usage(cmd);
			}
			interval_set = true;
		} else if (!strcmp(argv[i], "--brief") && !brief) {
			o->format = FORMAT_BRIEF;
		} else if (!brief && *what && !o->field && is_field(argv[i])) {
			o->field = argv[i];
		} else if (argv[i][0] == '-' || *what) {
			fprintf(stderr, "%s: %s: unexpected argument `%s'\n", PROG_NAME, cmd,
				argv[i]);
			return usage(cmd);
		} else {
			*what = argv[i];
		}
	}
	/* One form at a time; status --json is show --json. */
	if ((json || o->format == FORMAT_BRIEF) + !!o->field > 1 ||
	    (json && o->format == FORMAT_BRIEF && !brief)) {
		fprintf(stderr, "%s: %s: --json, --brief and a field go alone\n", PROG_NAME, cmd);
		return usage(cmd);
	}
	if (interval_set && !json && o->format != FORMAT_BRIEF) {
		fprintf(stderr, "%s: %s: --interval goes with --brief or --json\n", PROG_NAME, cmd);
		return usage(cmd);
	}
	/* status (and show --brief) measure rates unless told not to; show --json only when
	 * asked, so that a script's plain read stays one reading. */
	if (!interval_set && (brief || o->format == FORMAT_BRIEF))
		o->interval = STATUS_INTERVAL;
	if (json)
		o->format = FORMAT_JSON;
	else if (o->field)
		o->format = FORMAT_FIELD;
	o->colour = o->format == FORMAT_BRIEF && want_colour();
	return -1;
}

int show_run(const char *cmd, int argc, char *argv[], bool brief)
{
	struct show_opts o = { .cmd = cmd, .format = brief ? FORMAT_BRIEF : FORMAT_TEXT };
	const char *what = NULL;
	char **names;
	size_t n;
	int ret;

	ret = parse_show_args(cmd, argc, argv, brief, &o, &what);
	if (ret >= 0)
		return ret;
	if (what && !strcmp(what, "interfaces") && !brief && o.format != FORMAT_FIELD)
		return show_interfaces(&o);
	if (what && strcmp(what, "all")) {
		if (!ipc_valid_name(what)) {
			fprintf(stderr, "%s: %s: invalid interface name `%s'\n", PROG_NAME, cmd,
				what);
			return usage(cmd);
		}
		return show_devices(&o, &what, 1);
	}
	ret = ipc_list(&names);
	if (ret) {
		fprintf(stderr, "%s: %s: cannot list %s: %s\n", PROG_NAME, cmd, PATHS_SOCKET_DIR,
			strerror(-ret));
		return 1;
	}
	for (n = 0; names[n]; n++)
		;
	o.all = true;
	ret = show_devices(&o, (const char *const *)names, n);
	ipc_list_free(names);
	return ret;
}

int show_main(int argc, char *argv[])
{
	return show_run("show", argc, argv, false);
}
