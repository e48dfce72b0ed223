/* status: a running interface at a glance, one line for the interface and one per peer, with
 * a state word (status.h says what each means). `show --brief` is the same. For scripts,
 * `status --json` is `show --json`, which carries the same state words. */
#include "status.h"

#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "key.h"
#include "subcommands.h"

const char *status_peer_state(const struct ipc_device *dev, const struct ipc_peer *p, time_t now)
{
	if (!p->last_handshake_sec)
		return "never";
	/* A retry (handshake_attempts > 0) comes REKEY_TIMEOUT after an unanswered initiation,
	 * so unanswered_ms alone tells. */
	if (dev->has_counters && p->unanswered_ms >= STATUS_UNANSWERED_MS)
		return "stale";
	if ((int64_t)now - (int64_t)p->last_handshake_sec <= STATUS_SESSION_SEC)
		return "online";
	return "idle";
}

/* The 22nd field of /proc/PID/stat: the start time, in clock ticks after boot. */
static int start_ticks(pid_t pid, unsigned long long *ticks)
{
	char path[64], buf[1024], *s;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After the command name, which may hold blanks and parentheses: field 3 on. */
	s = strrchr(buf, ')');
	if (!s || sscanf(s + 2,
			 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
			 "%*d %*d %*d %llu",
			 ticks) != 1)
		return -EPROTO;
	return 0;
}

int status_process_read(pid_t pid, struct status_process *out)
{
	char path[64], line[256];
	unsigned long long ticks;
	double up = 0;
	long hz = sysconf(_SC_CLK_TCK);
	struct passwd *pw;
	unsigned uid = 0;
	bool found = false;
	FILE *f;
	int ret;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	/* "Uid:	real	effective	saved	fs" */
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "Uid: %*u %u", &uid) == 1;
	fclose(f);
	if (!found)
		return -EPROTO;
	pw = getpwuid(uid);
	if (pw)
		snprintf(out->user, sizeof(out->user), "%s", pw->pw_name);
	else
		snprintf(out->user, sizeof(out->user), "%u", uid);
	ret = start_ticks(pid, &ticks);
	if (ret)
		return ret;
	f = fopen("/proc/uptime", "re");
	if (!f)
		return -errno;
	if (fscanf(f, "%lf", &up) != 1)
		up = 0;
	fclose(f);
	if (hz > 0 && up * (double)hz >= (double)ticks)
		out->uptime_sec = (uint64_t)(up - (double)ticks / (double)hz);
	return 0;
}

/* "3d4h", "2h05m", "4m12s", "9s": two units at most, for a column. */
static void fmt_age(char *buf, size_t size, uint64_t s)
{
	if (s >= 86400)
		snprintf(buf, size, "%" PRIu64 "d%" PRIu64 "h", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, size, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, size, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else
		snprintf(buf, size, "%" PRIu64 "s", s);
}

static void fmt_bytes(char *buf, size_t size, uint64_t b)
{
	static const char *const units[] = { "K", "M", "G", "T", "P" };
	double v = (double)b;
	size_t u = 0;

	if (b < 1024) {
		snprintf(buf, size, "%" PRIu64 "B", b);
		return;
	}
	for (v /= 1024; v >= 1024 && u < sizeof(units) / sizeof(units[0]) - 1; u++)
		v /= 1024;
	snprintf(buf, size, "%.1f%siB", v, units[u]);
}

/* "0B/s", "812B/s", "1.2MiB/s". */
static void fmt_rate(char *buf, size_t size, double r)
{
	char b[16];

	fmt_bytes(b, sizeof(b), (uint64_t)(r + 0.5));
	snprintf(buf, size, "%s/s", b);
}

bool status_peer_rate(const struct status_sample *s, const struct ipc_peer *p, double *rx,
		      double *tx)
{
	const struct ipc_peer *q;

	if (!s || !s->before || s->elapsed <= 0)
		return false;
	for (q = s->before->first_peer; q; q = q->next)
		if (!memcmp(q->public_key, p->public_key, KEY_LEN))
			break;
	if (!q || q->rx_bytes > p->rx_bytes || q->tx_bytes > p->tx_bytes)
		return false;
	*rx = (double)(p->rx_bytes - q->rx_bytes) / s->elapsed;
	*tx = (double)(p->tx_bytes - q->tx_bytes) / s->elapsed;
	return true;
}

static const char *state_colour(const char *state)
{
	if (!strcmp(state, "online"))
		return "\033[32m"; /* green */
	if (!strcmp(state, "stale"))
		return "\033[31m"; /* red */
	if (!strcmp(state, "never"))
		return "\033[33m"; /* yellow */
	return "\033[2m";          /* dim: idle */
}

static void print_interface(const struct ipc_device *dev, bool colour)
{
	const struct ipc_allowedip *a;
	const struct ipc_counter *c;
	const struct ipc_rule *r;
	struct status_process proc;
	char age[32];
	unsigned rules = 0;
	bool first = true;

	printf("%s%s%s:", colour ? "\033[1m" : "", dev->name, colour ? "\033[0m" : "");
	if (dev->listen_port)
		printf(" port %u", dev->listen_port);
	if (dev->mtu)
		printf(", mtu %" PRIu64, dev->mtu);
	if (dev->pid) {
		printf(", pid %" PRIu64, dev->pid);
		if (!status_process_read((pid_t)dev->pid, &proc)) {
			fmt_age(age, sizeof(age), proc.uptime_sec);
			printf(", user %s, up %s", proc.user, age);
		}
	}
	if (dev->threads)
		printf(", %" PRIu64 " thread%s", dev->threads, dev->threads == 1 ? "" : "s");
	if (dev->has_counters)
		printf(", offload %s", dev->offload[0] ? dev->offload : "off");
	if (dev->fwmark)
		printf(", fwmark 0x%x", dev->fwmark);
	printf("\n");
	if (dev->first_address) {
		printf("  addresses:");
		for (a = dev->first_address; a; a = a->next)
			printf(" %s", a->text);
		printf("\n");
	}
	for (r = dev->first_rule; r; r = r->next)
		rules++;
	if (rules)
		printf("  access rules: %u (`sealnet show %s` lists them)\n", rules, dev->name);
	/* link_local is the kernel's own multicast on a new link, not a fault (sealnetd(8)). */
	for (c = dev->first_drop; c; c = c->next) {
		if (!c->value || !strcmp(c->name, "link_local"))
			continue;
		printf("%s%s %" PRIu64, first ? "  drops: " : ", ", c->name, c->value);
		first = false;
	}
	if (!first)
		printf("\n");
}

static void print_peer(const struct ipc_device *dev, const struct status_sample *s,
		       const struct ipc_peer *p, time_t now, bool colour)
{
	char b64[KEY_B64_LEN], hs[32], rx[16], tx[16], rxr[24] = "-", txr[24] = "-";
	const char *state = status_peer_state(dev, p, now);
	double rx_rate, tx_rate;

	key_to_base64(b64, p->public_key);
	if (!p->last_handshake_sec)
		snprintf(hs, sizeof(hs), "-");
	else if ((int64_t)p->last_handshake_sec > (int64_t)now)
		snprintf(hs, sizeof(hs), "future");
	else
		fmt_age(hs, sizeof(hs), (uint64_t)now - p->last_handshake_sec);
	fmt_bytes(rx, sizeof(rx), p->rx_bytes);
	fmt_bytes(tx, sizeof(tx), p->tx_bytes);
	if (status_peer_rate(s, p, &rx_rate, &tx_rate)) {
		fmt_rate(rxr, sizeof(rxr), rx_rate);
		fmt_rate(txr, sizeof(txr), tx_rate);
	}
	printf("  %-16s %-10.10s %-24s %9s %9s %9s %11s %11s  %s%s%s\n", p->name[0] ? p->name : "-",
	       b64, p->endpoint[0] ? p->endpoint : "-", hs, rx, tx, rxr, txr,
	       colour ? state_colour(state) : "", state, colour ? "\033[0m" : "");
}

void status_print(const struct ipc_device *dev, const struct status_sample *s, bool colour)
{
	const struct ipc_peer *p;
	time_t now = time(NULL);

	print_interface(dev, colour);
	if (!dev->first_peer) {
		printf("  no peers\n");
		return;
	}
	printf("  %-16s %-10s %-24s %9s %9s %9s %11s %11s  %s\n", "NAME", "KEY", "ENDPOINT",
	       "HANDSHAKE", "RX", "TX", "RX/s", "TX/s", "STATE");
	for (p = dev->first_peer; p; p = p->next)
		print_peer(dev, s, p, now, colour);
	if (s && s->before)
		printf("  (RX/s, TX/s: bytes per second over the last %.1f s; RX, TX: since the "
		       "peer was added)\n",
		       s->elapsed);
	else
		printf("  (RX/s, TX/s: not measured, --interval 0; RX, TX: since the peer was "
		       "added)\n");
}

int status_main(int argc, char *argv[])
{
	return show_run("status", argc, argv, true);
}
