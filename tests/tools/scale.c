/* The control-socket half of `make scale` (tools/bench/scale.sh): a client of one daemon's
 * UAPI socket that loads N synthetic peers and times what an operator or the registry asks
 * of a daemon that holds them. Figures only, never pass or fail. libc only.
 *
 *   scale SOCK load N [FILE]   one set=1 with replace_peers=true and N peers (what
 *                              `wg setconf` sends), then FILE's lines: seconds
 *   scale SOCK set N COUNT     COUNT single-peer sets, each giving one of the N peers new
 *                              AllowedIPs (what the registry sends): median, p99, max in ms
 *   scale SOCK add N COUNT     COUNT sets that each add a new peer, then remove it
 *   scale SOCK dump            get=1 (`wg show dump`): ms and bytes
 *   scale SOCK stream N RATE SECONDS
 *                              single-peer sets at RATE per second for SECONDS
 *   scale SOCK reload          reload=1 (`sealnet reload`): seconds
 *   scale - conf N             N [Peer] sections for a config file, on stdout: other keys
 *                              (salt 1) and addresses (10.192.0.0 + i) than load's
 *
 * Peer i has a public key made from i (any 32 bytes are a key to the daemon), the overlay
 * address 10.128.0.0/9 + i as a /32 and an endpoint in 192.0.2.0/24 (TEST-NET-1: nothing
 * answers, nothing leaves the namespace the script makes). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int sock_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		perror("socket");
		exit(1);
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		fprintf(stderr, "scale: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return fd;
}

/* Sends req (ending in a blank line), reads the reply up to its blank line. Returns the
 * errno= value; *bytes the reply's length. */
static int request(int fd, const char *req, size_t len, size_t *bytes)
{
	static char *buf;
	static size_t cap;
	size_t n = 0;
	char *e;

	while (len) {
		ssize_t w = write(fd, req, len);

		if (w <= 0) {
			perror("scale: write");
			exit(1);
		}
		req += w;
		len -= (size_t)w;
	}
	for (;;) {
		ssize_t r;

		if (cap - n < 65536) {
			cap = cap ? 2 * cap : 1 << 20;
			buf = realloc(buf, cap);
			if (!buf)
				exit(1);
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r <= 0) {
			fprintf(stderr, "scale: the daemon closed the socket\n");
			exit(1);
		}
		n += (size_t)r;
		buf[n] = '\0';
		if (n >= 2 && buf[n - 1] == '\n' && buf[n - 2] == '\n')
			break;
	}
	if (bytes)
		*bytes = n;
	e = strstr(buf, "errno=");
	return e ? atoi(e + 6) : -999;
}

static void key_hex(char out[65], unsigned i, unsigned salt)
{
	uint64_t x = (uint64_t)i * 0x9e3779b97f4a7c15ULL + salt * 0xbf58476d1ce4e5b9ULL + 1;

	for (int b = 0; b < 32; b++) {
		x ^= x >> 30;
		x *= 0xbf58476d1ce4e5b9ULL;
		x ^= x >> 27;
		sprintf(out + 2 * b, "%02x", (unsigned)(x >> 56));
	}
}

static void peer_lines(char **p, unsigned i, unsigned salt, bool endpoint)
{
	char key[65];
	unsigned a = 0x0a800000u + i; /* 10.128.0.0 + i */

	key_hex(key, i, salt);
	*p += sprintf(*p, "public_key=%s\nreplace_allowed_ips=true\nallowed_ip=%u.%u.%u.%u/32\n",
		      key, a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
	if (endpoint)
		*p += sprintf(*p, "endpoint=192.0.2.%u:%u\n", 1 + i % 250, 1024 + i % 60000);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void load(int fd, unsigned n, const char *extra)
{
	char *req = malloc(4096 + (size_t)n * 256), *p = req;
	double t;
	int ret;

	if (!req)
		exit(1);
	p += sprintf(p, "set=1\nreplace_peers=true\n");
	for (unsigned i = 0; i < n; i++)
		peer_lines(&p, i, 0, !getenv("SCALE_NO_ENDPOINTS"));
	if (extra) {
		FILE *f = fopen(extra, "r");

		if (!f) {
			perror(extra);
			exit(1);
		}
		p += fread(p, 1, 4000, f);
		fclose(f);
	}
	*p++ = '\n';
	t = now_s();
	ret = request(fd, req, (size_t)(p - req), NULL);
	printf("load %u peers: %.3f s (errno=%d)\n", n, now_s() - t, ret);
	free(req);
}

/* One set of peer i: a second /32 beside its own, or back to its own only. */
static double one_set(int fd, unsigned i, unsigned round)
{
	char req[512], *p = req, key[65];
	unsigned a = 0x0a800000u + i, b = 0x0b000000u + i;
	double t;

	key_hex(key, i, 0);
	p += sprintf(p,
		     "set=1\npublic_key=%s\nreplace_allowed_ips=true\nallowed_ip=%u.%u.%u.%u/32\n",
		     key, a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
	if (round & 1)
		p += sprintf(p, "allowed_ip=%u.%u.%u.%u/32\n", b >> 24, (b >> 16) & 255,
			     (b >> 8) & 255, b & 255);
	*p++ = '\n';
	t = now_s();
	if (request(fd, req, (size_t)(p - req), NULL))
		fprintf(stderr, "scale: a set failed\n");
	return now_s() - t;
}

static void report(const char *what, double *ms, unsigned count)
{
	qsort(ms, count, sizeof(*ms), cmp_double);
	printf("%s: median %.3f ms, p99 %.3f ms, max %.3f ms (%u sets)\n", what, ms[count / 2],
	       ms[count * 99 / 100], ms[count - 1], count);
}

static void sets(int fd, unsigned n, unsigned count)
{
	double *ms = calloc(count, sizeof(*ms));

	if (!ms || !n || !count)
		exit(1);
	for (unsigned r = 0; r < count; r++)
		ms[r] = 1e3 * one_set(fd, (r * 7919u) % n, r);
	report("single-peer set", ms, count);
	free(ms);
}

static void adds(int fd, unsigned n, unsigned count)
{
	double *add = calloc(count, sizeof(*add)), *del = calloc(count, sizeof(*del));
	char req[512], key[65], *p;
	double t;

	if (!add || !del || !count)
		exit(1);
	for (unsigned r = 0; r < count; r++) {
		p = req;
		p += sprintf(p, "set=1\n");
		peer_lines(&p, n + r, 0, true);
		*p++ = '\n';
		t = now_s();
		request(fd, req, (size_t)(p - req), NULL);
		add[r] = 1e3 * (now_s() - t);
		key_hex(key, n + r, 0);
		p = req + sprintf(req, "set=1\npublic_key=%s\nremove=true\n\n", key);
		t = now_s();
		request(fd, req, (size_t)(p - req), NULL);
		del[r] = 1e3 * (now_s() - t);
	}
	report("peer added", add, count);
	report("peer removed", del, count);
	free(add);
	free(del);
}

static void dump(int fd)
{
	size_t bytes;
	double t = now_s();

	request(fd, "get=1\n\n", 7, &bytes);
	printf("get=1 (wg show dump): %.3f ms, %zu bytes\n", 1e3 * (now_s() - t), bytes);
}

static void reload(int fd)
{
	double t = now_s();
	int ret = request(fd, "reload=1\n\n", 10, NULL);

	printf("reload=1: %.3f s (errno=%d)\n", now_s() - t, ret);
}

static void key_base64(char out[45], const char hex[65])
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t k[33] = { 0 };
	char *o = out;

	for (int i = 0; i < 32; i++)
		sscanf(hex + 2 * i, "%2hhx", &k[i]);
	for (int i = 0; i < 33; i += 3) {
		uint32_t v = (uint32_t)k[i] << 16 | (uint32_t)k[i + 1] << 8 | k[i + 2];

		*o++ = b64[v >> 18 & 63];
		*o++ = b64[v >> 12 & 63];
		*o++ = i + 1 < 32 ? b64[v >> 6 & 63] : '=';
		*o++ = i + 2 < 32 ? b64[v & 63] : '=';
	}
	*o = '\0';
}

static void conf(unsigned n)
{
	char hex[65], b64[45];

	for (unsigned i = 0; i < n; i++) {
		unsigned a = 0x0ac00000u + i; /* 10.192.0.0 + i */

		key_hex(hex, i, 1);
		key_base64(b64, hex);
		printf("\n[Peer]\nPublicKey = %s\nAllowedIPs = %u.%u.%u.%u/32\n"
		       "Endpoint = 192.0.2.%u:%u\n",
		       b64, a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, 1 + i % 250,
		       1024 + i % 60000);
	}
}

static void stream(int fd, unsigned n, unsigned rate, double seconds)
{
	double start = now_s(), worst = 0;
	unsigned r = 0;

	while (now_s() - start < seconds) {
		double due = start + (double)r / rate, d;
		struct timespec ts;

		while ((d = due - now_s()) > 0) {
			ts.tv_sec = (time_t)d;
			ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
			nanosleep(&ts, NULL);
		}
		d = one_set(fd, (r * 7919u) % n, r);
		worst = d > worst ? d : worst;
		r++;
	}
	printf("stream: %u sets in %.1f s, slowest %.3f ms\n", r, now_s() - start, 1e3 * worst);
}

int main(int argc, char **argv)
{
	int fd;

	if (argc < 3) {
		fprintf(stderr, "usage: scale SOCK load N | set N COUNT | add N COUNT | dump | "
				"stream N RATE SECONDS | reload | conf N\n");
		return 2;
	}
	if (!strcmp(argv[2], "conf") && argc == 4) {
		conf((unsigned)atoi(argv[3]));
		return 0;
	}
	fd = sock_connect(argv[1]);
	if (!strcmp(argv[2], "load") && (argc == 4 || argc == 5))
		load(fd, (unsigned)atoi(argv[3]), argc == 5 ? argv[4] : NULL);
	else if (!strcmp(argv[2], "set") && argc == 5)
		sets(fd, (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]));
	else if (!strcmp(argv[2], "add") && argc == 5)
		adds(fd, (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]));
	else if (!strcmp(argv[2], "dump") && argc == 3)
		dump(fd);
	else if (!strcmp(argv[2], "reload") && argc == 3)
		reload(fd);
	else if (!strcmp(argv[2], "stream") && argc == 6)
		stream(fd, (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]), atof(argv[5]));
	else
		return 2;
	close(fd);
	return 0;
}
