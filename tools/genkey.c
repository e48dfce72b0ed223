/* genkey and genpsk: 32 random bytes in WireGuard's base64, clamped for a private key. */
#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "key.h"
#include "subcommands.h"

int print_key(const char *cmd, const unsigned char key[KEY_LEN])
{
	char line[KEY_B64_LEN];
	size_t len, off = 0;
	ssize_t n;
	int ret = 0;

	key_to_base64(line, key);
	len = strlen(line);
	line[len++] = '\n'; /* over the NUL, which is not written */
	while (off < len) {
		n = write(STDOUT_FILENO, line + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "%s: %s: cannot write to stdout: %s\n", PROG_NAME, cmd,
				strerror(errno));
			ret = 1;
			break;
		}
		off += (size_t)n;
	}
	sodium_memzero(line, sizeof(line));
	return ret;
}

/* By the time we run, the shell has already created the file stdout points to, so a umask
 * set here would be too late: like wg, all we can do is point out a key file that others
 * can read, and how to avoid it next time. */
static void warn_if_exposed(const char *cmd)
{
	struct stat st;

	if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_IRWXO))
		fprintf(stderr,
			"%s: %s: warning: writing to a file that others can access; "
			"consider `umask 077' before trying again\n",
			PROG_NAME, cmd);
}

static int generate(int argc, char *argv[], bool private_key)
{
	unsigned char key[KEY_LEN];
	int ret;

	if (wants_help(argc, argv)) {
		printf("Usage: %s %s\n  Writes a new %s key, in base64, to stdout.\n", PROG_NAME,
		       argv[0], private_key ? "private" : "preshared");
		return 0;
	}
	if (argc != 1) {
		fprintf(stderr, "%s: %s: unexpected argument `%s'\n", PROG_NAME, argv[0], argv[1]);
		return usage_error();
	}
	warn_if_exposed(argv[0]);
	/* A preshared key is used as is; only a Curve25519 scalar is clamped. */
	if (private_key)
		key_generate_private(key);
	else
		randombytes_buf(key, sizeof(key));
	ret = print_key(argv[0], key);
	sodium_memzero(key, sizeof(key));
	return ret;
}

int genkey_main(int argc, char *argv[])
{
	return generate(argc, argv, true);
}

int genpsk_main(int argc, char *argv[])
{
	return generate(argc, argv, false);
}
