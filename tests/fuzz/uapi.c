/* The control socket: bytes as a client writes them, cut into requests at blank lines as
 * client_read() cuts them (what follows the last blank line is an unfinished request and is
 * never handled), each handed to uapi_handle() with device A of fuzz.c.
 *
 * set=1 runs the whole way: device_to_config(), uapi_parse_set() and device_apply(), which
 * here reaches no kernel (netlink and the sockets are stand-ins in fuzz.c), so peers, keys,
 * AllowedIPs and endpoints really change. reload=1 reads A's configuration back from a
 * temporary file.
 *
 * Beyond the sanitizers, the protocol's promises are checked: every reply ends in
 * "errno=N" and a blank line, a set that is refused changes nothing (the device answers
 * get=sealnet byte for byte as before), and after any set no peer has the interface's own
 * public key (such a peer is ignored, and a new private key removes it). */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "device.h"
#include "fuzz.h"
#include "key.h"
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

static void handle(struct device *dev, struct evbuffer *out, const uint8_t *p, size_t len)
{
	char *req = malloc(len + 1), *copy, *before = NULL, *reply, *after;
	bool set;

	if (!req)
		abort();
	memcpy(req, p, len);
	req[len] = '\0';
	/* uapi_handle() writes into the request; the copy is for messages. */
	copy = strdup(req);
	if (!copy)
		abort();
	set = !strncmp(req, "set=1\n", 6) || !strcmp(req, "set=1");
	if (set)
		before = get(dev, out);
	uapi_handle(dev, config_path, req, out);
	reply = take(out);
	if (set) {
		after = get(dev, out);
		if (reply_errno(copy, reply) && strcmp(before, after))
			broken("a refused set changed the device", copy, after);
		check_no_own_peer(copy, after);
		free(after);
	}
	free(reply);
	free(before);
	free(copy);
	free(req);
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
		handle(dev, out, data + pos, len);
		pos += len + 2;
	}
	fuzz_device_free(dev);
	evbuffer_free(out);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd;
	size_t len;

	fuzz_init();
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
