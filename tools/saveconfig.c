/* SaveConfig = true: `sealnet down` writes the running state back into the file first, as
 * wg-quick's save_config() does with `wg showconf`. What comes from where:
 *
 *   the daemon (get=sealnet): PrivateKey, ListenPort, FwMark, and the peers, each with its
 *     PublicKey, PresharedKey, AllowedIPs, Endpoint (the address in use, not a host name),
 *     PersistentKeepalive and Groups: what `sealnet set` and `wg set` change at run time;
 *   the file: Address, MTU, DNS, Table, the hooks, SaveConfig, and our own [Interface] keys
 *     (Offload, Threads, MetricsListen, User, Sandbox, Allow, Deny). Rules replaced through
 *     the control socket (sealnet registry's, say) are not written: the file keeps its own.
 *
 * Comments and the spelling of values are lost, as with wg-quick. The answer is read into the
 * same model as a set request (uapi_parse_set: one parser for the protocol's keys) and
 * written with config_format(): the file loads back into what ran. It replaces the old one
 * atomically (a new file, mode 0600, synced, renamed over it). */
#define _GNU_SOURCE /* mkostemp */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipc.h"
#include "quick.h"
#include "subcommands.h"
#include "uapi.h"

/* The keys of a get answer that a set request takes, with its name there. The rest are
 * counters and times, or sealnet_rule (see above). */
static const struct {
	const char *get, *set;
} kept[] = {
	{ "private_key", "private_key" },
	{ "listen_port", "listen_port" },
	{ "fwmark", "fwmark" },
	{ "public_key", "public_key" },
	{ "preshared_key", "preshared_key" },
	{ "endpoint", "endpoint" },
	{ "persistent_keepalive_interval", "persistent_keepalive_interval" },
	{ "allowed_ip", "allowed_ip" },
	{ "sealnet_group", "group" },
};

/* The lines of reply (a get answer, modified) that a set request takes, into set (as long
 * as reply). Returns 0, or -EPROTO for an answer that is not one, or the daemon's error. */
static int get_to_set(char *reply, char *set)
{
	char *line, *save = NULL, *value, *end = set;
	int ret = -EPROTO;

	*end = '\0';
	for (line = strtok_r(reply, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		value = strchr(line, '=');
		if (!value)
			return -EPROTO;
		*value++ = '\0';
		if (!strcmp(line, "errno")) {
			ret = strcmp(value, "0") ? -EPROTO : 0;
			continue;
		}
		for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
			if (strcmp(line, kept[i].get))
				continue;
			end = stpcpy(stpcpy(stpcpy(stpcpy(end, kept[i].set), "="), value), "\n");
			break;
		}
	}
	return ret;
}

/* The running state of ifname, as a config. Returns 0 or -errno, err set. */
static int running_config(const char *ifname, struct config **out, char *err, size_t errlen)
{
	char *reply = NULL, *set = NULL;
	size_t size = 0;
	int ret;

	*out = NULL;
	ret = ipc_transact(ifname, "get=sealnet\n", &reply, &size);
	if (ret) {
		snprintf(err, errlen, "cannot read the running state: %s", strerror(-ret));
		return ret;
	}
	/* Every kept line is shorter in set form (sealnet_group=g is longer than group=g). */
	set = sodium_malloc(size);
	if (!set) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	ret = get_to_set(reply, set);
	if (ret) {
		snprintf(err, errlen, "cannot read the running state: unexpected answer");
		goto out;
	}
	/* An empty file's config: the defaults, no peers, no key. */
	ret = config_parse_string("", "(running state)", out, err, errlen);
	if (!ret)
		ret = uapi_parse_set(*out, set, err, errlen);
out:
	if (ret && *out) {
		config_free(*out);
		*out = NULL;
	}
	sodium_free(set);
	ipc_reply_free(reply, size);
	return ret;
}

/* Writes text over path: a new file next to it (so rename is atomic), mode 0600, synced
 * before the rename and the directory after it. Returns 0 or -errno. */
static int replace_file(const char *path, const char *text, size_t len)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	size_t done = 0;
	ssize_t n;
	int fd, dfd, ret = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
	if (fd < 0)
		return -errno;
	while (done < len) {
		n = write(fd, text + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto fail;
		}
		done += (size_t)n;
	}
	if (fchmod(fd, 0600) || fsync(fd)) {
		ret = -errno;
		goto fail;
	}
	if (close(fd)) {
		fd = -1;
		ret = -errno;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path)) {
		ret = -errno;
		goto fail;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return ret;
}

int quick_save_config(const char *cmd, const char *path, const char *ifname, struct config *file)
{
	struct config *run = NULL;
	struct config_peer *peers;
	uint8_t *key;
	char err[512], *text = NULL;
	size_t n, len = 0;
	int ret;

	fprintf(stderr, "[#] SaveConfig: %s\n", path);
	ret = running_config(ifname, &run, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "%s: %s %s: SaveConfig: %s\n", PROG_NAME, cmd, ifname, err);
		return 1;
	}
	/* The running parts into the file's config; the file's old ones go with run. */
	key = file->private_key;
	file->private_key = run->private_key;
	run->private_key = key;
	peers = file->peers;
	file->peers = run->peers;
	run->peers = peers;
	n = file->n_peers;
	file->n_peers = run->n_peers;
	run->n_peers = n;
	file->listen_port = run->listen_port;
	file->fwmark = run->fwmark;
	config_free(run);

	ret = config_format(file, &text, &len);
	if (!ret)
		ret = replace_file(path, text, len);
	if (text) {
		sodium_memzero(text, len);
		free(text);
	}
	if (ret) {
		fprintf(stderr, "%s: %s %s: SaveConfig: cannot write %s: %s\n", PROG_NAME, cmd,
			ifname, path, strerror(-ret));
		return 1;
	}
	return 0;
}
