/* Client of the control socket; see ipc.h. One connection per request, as wg does: the
 * daemon keeps a connection open for more requests, so the end of an answer is its blank
 * line, never the end of the stream. */
#include "ipc.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

/* A reload re-resolves Endpoint host names, blocking the daemon meanwhile. */
#define IPC_TIMEOUT_SEC 30
/* Far above the state of any real device; bounds what a confused peer on the socket costs. */
#define IPC_MAX_REPLY (64u << 20)

bool ipc_valid_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len >= IFNAMSIZ || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	return strspn(name,
		      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_=+.-") == len;
}

int ipc_connect(const char *ifname)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = IPC_TIMEOUT_SEC };
	int fd, ret;

	if (!ipc_valid_name(ifname))
		return -EINVAL;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s.sock", PATHS_SOCKET_DIR, ifname);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv))) {
		ret = -errno;
		goto err;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		/* No socket file, or one nobody listens on: either way nothing runs there. */
		ret = errno == ENOENT || errno == ECONNREFUSED ? -ENODEV : -errno;
		goto err;
	}
	return fd;
err:
	close(fd);
	return ret;
}

static int send_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void wipe_free(char *buf, size_t size)
{
	if (!buf)
		return;
	sodium_memzero(buf, size);
	free(buf);
}

/* One send with the blank line: a daemon that hangs up after the first line must not make
 * the rest fail with EPIPE before we could see that it said nothing. */
static int send_request(int fd, const char *request)
{
	size_t len = strlen(request);
	char *buf = malloc(len + 1);
	int ret;

	if (!buf)
		return -ENOMEM;
	memcpy(buf, request, len);
	buf[len] = '\n';
	ret = send_all(fd, buf, len + 1);
	wipe_free(buf, len + 1);
	return ret == -EPIPE || ret == -ECONNRESET ? -ENOTSUP : ret;
}

/* Doubles *buf, which holds len bytes, up to IPC_MAX_REPLY. Not realloc: the old block may
 * hold a key and must be wiped. */
static int grow(char **buf, size_t *cap, size_t len)
{
	char *grown;

	if (*cap >= IPC_MAX_REPLY)
		return -EMSGSIZE;
	grown = malloc(*cap * 2);
	if (!grown)
		return -ENOMEM;
	memcpy(grown, *buf, len);
	wipe_free(*buf, *cap);
	*buf = grown;
	*cap *= 2;
	return 0;
}

/* Reads up to the blank line that ends an answer into *out (*size bytes, to be wiped),
 * NUL-terminated there. */
static int read_reply(int fd, char **out, size_t *size)
{
	size_t len = 0, from, cap = 4096;
	char *buf = malloc(cap), *end;
	ssize_t n;
	int ret;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (cap - len < 2 && (ret = grow(&buf, &cap, len)))
			goto fail;
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		/* Linux reports a hang-up with our request still unread as a reset. */
		if (n < 0 && errno == ECONNRESET && !len)
			n = 0;
		if (n < 0) {
			ret = errno == EAGAIN ? -ETIMEDOUT : -errno;
			goto fail;
		}
		if (n == 0) {
			ret = len ? -EPROTO : -ENOTSUP;
			goto fail;
		}
		/* An answer has no blank line but the last one; it may straddle two reads. */
		from = len ? len - 1 : 0;
		len += (size_t)n;
		buf[len] = '\0';
		end = buf[0] == '\n' ? buf : strstr(buf + from, "\n\n");
		if (end) {
			*end = '\0';
			*out = buf;
			*size = cap;
			return 0;
		}
	}
fail:
	wipe_free(buf, cap);
	return ret;
}

int ipc_transact(const char *ifname, const char *request, char **reply, size_t *size)
{
	int fd, ret;

	*reply = NULL;
	fd = ipc_connect(ifname);
	if (fd < 0)
		return fd;
	ret = send_request(fd, request);
	if (!ret)
		ret = read_reply(fd, reply, size);
	close(fd);
	return ret;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EPROTO;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -EPROTO;
	*out = v;
	return 0;
}

/* The errno=N line: wireguard-go and sealnetd write it negative, older tools positive. */
static int parse_errno(const char *value, int *err)
{
	uint64_t v;

	if (parse_u64(value + (*value == '-'), 4095, &v))
		return -EPROTO;
	*err = -(int)v;
	return 0;
}

void ipc_reply_free(char *reply, size_t size)
{
	wipe_free(reply, size);
}

int ipc_command(const char *ifname, const char *request, int *daemon_err)
{
	return ipc_command_why(ifname, request, daemon_err, NULL, 0);
}

int ipc_command_why(const char *ifname, const char *request, int *daemon_err, char *why,
		    size_t whylen)
{
	char *reply, *line, *msg;
	size_t size;
	int ret;

	*daemon_err = 0;
	if (why && whylen)
		why[0] = '\0';
	ret = ipc_transact(ifname, request, &reply, &size);
	if (ret)
		return ret;
	msg = !strncmp(reply, "error=", 6) ? reply : strstr(reply, "\nerror=");
	if (msg && why && whylen) {
		msg += *msg == '\n' ? 7 : 6;
		snprintf(why, whylen, "%.*s", (int)strcspn(msg, "\n"), msg);
	}
	line = strrchr(reply, '\n');
	line = line ? line + 1 : reply;
	if (strncmp(line, "errno=", 6) || parse_errno(line + 6, daemon_err))
		ret = -EPROTO;
	wipe_free(reply, size);
	return ret;
}

void ipc_device_free(struct ipc_device *dev)
{
	struct ipc_peer *p, *np;
	struct ipc_allowedip *a, *na;
	struct ipc_counter *c, *nc;
	struct ipc_rule *r, *nr;

	if (!dev)
		return;
	for (p = dev->first_peer; p; p = np) {
		np = p->next;
		for (a = p->first_allowedip; a; a = na) {
			na = a->next;
			free(a);
		}
		free(p);
	}
	for (c = dev->first_drop; c; c = nc) {
		nc = c->next;
		free(c->name);
		free(c);
	}
	for (r = dev->first_rule; r; r = nr) {
		nr = r->next;
		free(r);
	}
	for (a = dev->first_address; a; a = na) {
		na = a->next;
		free(a);
	}
	free(dev->config_path);
	free(dev);
}

/* Where the next peer, allowed ip, drop counter and rule are linked, to keep the daemon's
 * order; last_rule takes the sealnet_rule_matches line that follows its rule. */
struct tails {
	struct ipc_peer **peer;
	struct ipc_allowedip **allowedip;
	struct ipc_counter **drop;
	struct ipc_rule **rule, *last_rule;
	struct ipc_allowedip **address;
};

/* Appends the prefix text to a list. Returns 0 or -errno. */
static int add_prefix(struct ipc_allowedip ***tail, const char *value)
{
	struct ipc_allowedip *a;
	struct ip_prefix pfx;

	if (addr_parse_prefix(value, &pfx))
		return -EPROTO;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	addr_prefix_str(&pfx, a->text);
	**tail = a;
	*tail = &a->next;
	return 0;
}

static int device_key(struct ipc_device *dev, struct tails *t, const char *key, const char *value)
{
	uint64_t v = 0;
	uint8_t priv[KEY_LEN];
	struct ipc_counter *c;
	struct ipc_rule *r;
	int ret = 0;

	if (!strcmp(key, "private_key")) {
		if (key_from_hex(priv, value))
			ret = -EPROTO;
		else if (!key_is_zero(priv))
			dev->has_public_key = !key_public_from_private(dev->public_key, priv);
		sodium_memzero(priv, sizeof(priv));
	} else if (!strcmp(key, "listen_port")) {
		ret = parse_u64(value, UINT16_MAX, &v);
		dev->listen_port = (uint16_t)v;
	} else if (!strcmp(key, "fwmark")) {
		ret = parse_u64(value, UINT32_MAX, &v);
		dev->fwmark = (uint32_t)v;
	} else if (!strcmp(key, "sealnet_rx_datagrams")) {
		ret = parse_u64(value, UINT64_MAX, &dev->rx_datagrams);
	} else if (!strcmp(key, "sealnet_tx_datagrams")) {
		ret = parse_u64(value, UINT64_MAX, &dev->tx_datagrams);
	} else if (!strcmp(key, "sealnet_cookie_replies_sent")) {
		ret = parse_u64(value, UINT64_MAX, &dev->cookie_replies_sent);
	} else if (!strncmp(key, "sealnet_drop_", 13) && key[13]) {
		if (parse_u64(value, UINT64_MAX, &v))
			return -EPROTO;
		c = calloc(1, sizeof(*c));
		if (!c || !(c->name = strdup(key + 13))) {
			free(c);
			return -ENOMEM;
		}
		c->value = v;
		*t->drop = c;
		t->drop = &c->next;
	} else if (!strcmp(key, "sealnet_rule")) {
		if (strlen(value) >= sizeof(r->text))
			return -EPROTO;
		r = calloc(1, sizeof(*r));
		if (!r)
			return -ENOMEM;
		strcpy(r->text, value);
		*t->rule = r;
		t->rule = &r->next;
		t->last_rule = r;
	} else if (!strcmp(key, "sealnet_config")) {
		free(dev->config_path);
		dev->config_path = strdup(value);
		if (!dev->config_path)
			return -ENOMEM;
	} else if (!strcmp(key, "sealnet_pid")) {
		ret = parse_u64(value, INT32_MAX, &dev->pid);
	} else if (!strcmp(key, "sealnet_mtu")) {
		ret = parse_u64(value, UINT16_MAX, &dev->mtu);
	} else if (!strcmp(key, "sealnet_threads")) {
		ret = parse_u64(value, UINT16_MAX, &dev->threads);
	} else if (!strcmp(key, "sealnet_offload")) {
		size_t len = strlen(dev->offload);

		if (len + strlen(value) + 2 > sizeof(dev->offload))
			return -EPROTO;
		snprintf(dev->offload + len, sizeof(dev->offload) - len, "%s%s", len ? " " : "",
			 value);
	} else if (!strcmp(key, "sealnet_address")) {
		ret = add_prefix(&t->address, value);
	} else if (!strcmp(key, "sealnet_rule_matches") && t->last_rule) {
		ret = parse_u64(value, UINT64_MAX, &t->last_rule->matches);
	}
	/* Anything else (a newer daemon's keys) is skipped, as wg skips what it does not know. */
	return ret;
}

static int peer_key(struct ipc_peer *p, struct tails *t, const char *key, const char *value)
{
	static const struct {
		const char *name;
		size_t offset;
	} counters[] = {
		{ "last_handshake_time_sec", offsetof(struct ipc_peer, last_handshake_sec) },
		{ "last_handshake_time_nsec", offsetof(struct ipc_peer, last_handshake_nsec) },
#define COUNTER(field, name, wg, metric, help)                                                     \
	{ (wg) ? #name : "sealnet_" #name, offsetof(struct ipc_peer, name) },
		PEER_COUNTERS(COUNTER)
#undef COUNTER
			{ "sealnet_handshake_attempts",
			  offsetof(struct ipc_peer, handshake_attempts) },
		{ "sealnet_unanswered_ms", offsetof(struct ipc_peer, unanswered_ms) },
	};
	uint8_t psk[KEY_LEN];
	uint64_t v = 0;
	int ret;

	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		if (!strcmp(key, counters[i].name))
			return parse_u64(value, UINT64_MAX,
					 (uint64_t *)((char *)p + counters[i].offset));
	if (!strcmp(key, "preshared_key")) {
		ret = key_from_hex(psk, value) ? -EPROTO : 0;
		p->has_preshared_key = !ret && !key_is_zero(psk);
		sodium_memzero(psk, sizeof(psk));
		return ret;
	}
	if (!strcmp(key, "endpoint")) {
		if (strlen(value) >= sizeof(p->endpoint))
			return -EPROTO;
		strcpy(p->endpoint, value);
		return 0;
	}
	if (!strcmp(key, "persistent_keepalive_interval")) {
		ret = parse_u64(value, UINT16_MAX, &v);
		p->persistent_keepalive = (unsigned)v;
		return ret;
	}
	if (!strcmp(key, "sealnet_group")) {
		size_t len = strlen(p->groups);

		if (len + strlen(value) + 3 > sizeof(p->groups))
			return -EPROTO;
		snprintf(p->groups + len, sizeof(p->groups) - len, "%s%s", len ? ", " : "", value);
		return 0;
	}
	if (!strcmp(key, "sealnet_name")) {
		if (strlen(value) >= sizeof(p->name))
			return -EPROTO;
		strcpy(p->name, value);
		return 0;
	}
	if (!strcmp(key, "allowed_ip"))
		return add_prefix(&t->allowedip, value);
	return 0;
}

/* reply: the answer without its blank line, modified in place. */
static int parse_get(char *reply, struct ipc_device *dev)
{
	struct tails t = { .peer = &dev->first_peer,
			   .drop = &dev->first_drop,
			   .rule = &dev->first_rule,
			   .address = &dev->first_address };
	struct ipc_peer *peer = NULL;
	char *line, *save = NULL, *value;
	int ret = 0, err = 1;

	for (line = strtok_r(reply, "\n", &save); line && !ret;
	     line = strtok_r(NULL, "\n", &save)) {
		value = strchr(line, '=');
		if (!value)
			return -EPROTO;
		*value++ = '\0';
		if (!strcmp(line, "errno")) {
			ret = parse_errno(value, &err);
			/* It is the last line. */
			if (!ret && strtok_r(NULL, "\n", &save))
				ret = -EPROTO;
		} else if (err != 1) {
			ret = -EPROTO;
		} else if (!strcmp(line, "public_key")) {
			peer = calloc(1, sizeof(*peer));
			if (!peer)
				return -ENOMEM;
			*t.peer = peer;
			t.peer = &peer->next;
			t.allowedip = &peer->first_allowedip;
			if (key_from_hex(peer->public_key, value))
				ret = -EPROTO;
		} else if (peer) {
			ret = peer_key(peer, &t, line, value);
		} else {
			ret = device_key(dev, &t, line, value);
		}
	}
	if (ret)
		return ret;
	return err == 1 ? -EPROTO : err;
}

int ipc_get(const char *ifname, struct ipc_device **out)
{
	struct ipc_device *dev = NULL;
	bool ours = true;
	char *reply = NULL;
	size_t size = 0;
	int ret;

	*out = NULL;
	ret = ipc_transact(ifname, "get=sealnet\n", &reply, &size);
	/* wireguard-go hangs up on a request it does not know; a sealnetd from before
	 * get=sealnet answers EINVAL. Either way get=1 still works. */
	if (ret == -ENOTSUP || (!ret && !strcmp(reply, "errno=-22"))) {
		wipe_free(reply, size);
		ours = false;
		ret = ipc_transact(ifname, "get=1\n", &reply, &size);
	}
	if (ret)
		goto out;
	dev = calloc(1, sizeof(*dev));
	if (!dev) {
		ret = -ENOMEM;
		goto out;
	}
	snprintf(dev->name, sizeof(dev->name), "%s", ifname);
	dev->has_counters = ours;
	ret = parse_get(reply, dev);
	if (ret)
		goto out;
	*out = dev;
	dev = NULL;
out:
	wipe_free(reply, size);
	ipc_device_free(dev);
	return ret;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void ipc_list_free(char **names)
{
	if (!names)
		return;
	for (char **n = names; *n; n++)
		free(*n);
	free(names);
}

/* A socket file outlives a daemon that crashed: only one that answers is an interface. */
static bool running(const char *ifname)
{
	int fd = ipc_connect(ifname);

	if (fd >= 0)
		close(fd);
	return fd != -ENODEV;
}

int ipc_list(char ***out)
{
	size_t n = 0, cap = 8, len;
	char **names, **grown;
	struct dirent *e;
	struct stat st;
	DIR *dir;
	int ret = 0;

	*out = NULL;
	names = calloc(cap, sizeof(*names));
	if (!names)
		return -ENOMEM;
	dir = opendir(PATHS_SOCKET_DIR);
	if (!dir) {
		if (errno == ENOENT) {
			*out = names;
			return 0;
		}
		ret = -errno;
		goto err;
	}
	while ((errno = 0, e = readdir(dir))) {
		len = strlen(e->d_name);
		if (len <= 5 || strcmp(e->d_name + len - 5, ".sock"))
			continue;
		if (fstatat(dirfd(dir), e->d_name, &st, 0) || !S_ISSOCK(st.st_mode))
			continue;
		if (n + 1 == cap) {
			grown = realloc(names, cap * 2 * sizeof(*names));
			if (!grown) {
				ret = -ENOMEM;
				goto err;
			}
			names = grown;
			cap *= 2;
		}
		names[n] = strndup(e->d_name, len - 5);
		if (!names[n]) {
			ret = -ENOMEM;
			goto err;
		}
		if (!ipc_valid_name(names[n]) || !running(names[n])) {
			free(names[n]);
			names[n] = NULL;
			continue;
		}
		names[++n] = NULL;
	}
	if (errno) {
		ret = -errno;
		goto err;
	}
	closedir(dir);
	qsort(names, n, sizeof(*names), compare_names);
	*out = names;
	return 0;
err:
	if (dir)
		closedir(dir);
	names[n] = NULL;
	ipc_list_free(names);
	return ret;
}
