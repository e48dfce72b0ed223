/* pubkey: private key on stdin, public key on stdout, as `wg pubkey`. */
#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "key.h"
#include "subcommands.h"

/* Room for a key, a newline and some stray whitespace; anything longer is not a key. */
#define INPUT_MAX 256

/* Reads all of stdin into buf and NUL-terminates it. Returns the length, -EMSGSIZE if
 * stdin holds more than fits, or -errno. */
static ssize_t read_stdin(char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	for (;;) {
		n = read(STDIN_FILENO, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == size - 1) {
			char c;

			/* Full: only a clean end of input keeps this a candidate. */
			do
				n = read(STDIN_FILENO, &c, 1);
			while (n < 0 && errno == EINTR);
			if (n != 0)
				return n < 0 ? -errno : -EMSGSIZE;
			break;
		}
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

int pubkey_main(int argc, char *argv[])
{
	char buf[INPUT_MAX];
	unsigned char priv[KEY_LEN], pub[KEY_LEN];
	char *start, *end;
	ssize_t len;
	int ret = 1;

	if (wants_help(argc, argv)) {
		printf("Usage: %s pubkey < private-key\n  Reads a private key from stdin and writes "
		       "its public key to stdout.\n",
		       PROG_NAME);
		return 0;
	}
	if (argc != 1) {
		fprintf(stderr, "%s: %s: unexpected argument `%s'\n", PROG_NAME, argv[0], argv[1]);
		return usage_error();
	}
	len = read_stdin(buf, sizeof(buf));
	if (len < 0 && len != -EMSGSIZE) {
		fprintf(stderr, "%s: %s: cannot read stdin: %s\n", PROG_NAME, argv[0],
			strerror((int)-len));
		goto out;
	}
	if (len < 0)
		goto invalid;
	/* `wg genkey > k` and editors leave a newline; accept whitespace around the key. */
	start = buf;
	while (isspace((unsigned char)*start))
		start++;
	end = buf + len;
	while (end > start && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (key_from_base64(priv, start) < 0)
		goto invalid;
	/* Clamps as X25519 does, so unclamped input gives what wg gives. */
	if (key_public_from_private(pub, priv) < 0)
		goto invalid;
	ret = print_key(argv[0], pub);
	goto out;

invalid:
	fprintf(stderr, "%s: %s: invalid private key on stdin\n", PROG_NAME, argv[0]);
out:
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(priv, sizeof(priv));
	return ret;
}
