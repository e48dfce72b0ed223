/*
 * privcheck: drops privileges as sealnetd does, with its own privdrop_apply(), then makes one
 * call the running daemon must not be able to make, for tests/netns/40.
 *
 *	privcheck open MODE PATH     MODE: read, write, rdwr, append, trunc, creat
 *	privcheck sanitizer          exit 0 in a sanitizer build, 1 otherwise
 *
 * The drop is User = the caller (root, for the tests): no switch and no helper, so what a
 * daemon with User = root keeps, CAP_NET_ADMIN and the seccomp filter, is all that stands
 * between it and every root-owned file. open prints "opened" and exits 0 if the call
 * worked, prints the error and exits 1 if it failed; a call the filter forbids kills the
 * process with SIGSYS (status 159 in a shell). A sanitizer build's filter lets files be
 * created (its runtime writes its report to one), so the write checks do not apply there.
 * Bad arguments exit 2, a failed drop 3.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "privdrop.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif

static const struct {
	const char *name;
	int flags;
} modes[] = {
	{ "read", O_RDONLY },
	{ "write", O_WRONLY },
	{ "rdwr", O_RDWR },
	{ "append", O_WRONLY | O_APPEND },
	{ "trunc", O_RDONLY | O_TRUNC }, /* Linux truncates even then, given write permission */
	{ "creat", O_RDONLY | O_CREAT },
};

static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	if (write(STDOUT_FILENO, buf, (size_t)n) != n)
		_exit(4);
}

int main(int argc, char **argv)
{
	struct privdrop_opts o = { .sandbox = true };
	struct passwd *pw;
	char user[64];
	int flags = -1, fd;

	if (argc == 2 && !strcmp(argv[1], "sanitizer")) {
#ifdef SANITIZER_BUILD
		return 0;
#else
		return 1;
#endif
	}
	if (argc != 4 || strcmp(argv[1], "open"))
		goto usage;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (!strcmp(argv[2], modes[i].name))
			flags = modes[i].flags;
	if (flags < 0)
		goto usage;
	log_init("privcheck", true, LOG_NOTICE);
	pw = getpwuid(geteuid());
	if (!pw) {
		fprintf(stderr, "privcheck: who is uid %u?\n", (unsigned)geteuid());
		return 3;
	}
	snprintf(user, sizeof(user), "%s", pw->pw_name);
	o.user = user;
	/* As the daemon does: the helper (dismissed, no switch) and the resolver first. */
	if (privdrop_prepare() || privdrop_apply(&o))
		return 3;
	fd = open(argv[3], flags | O_CLOEXEC, 0600);
	/* write(2), not stdio: on a first write to a character device (/dev/null) stdio asks
	 * whether it is a terminal, with an ioctl the filter does not allow. */
	if (fd < 0) {
		say("privcheck: open %s %s: %s\n", argv[2], argv[3], strerror(errno));
		return 1;
	}
	say("opened\n");
	close(fd);
	return 0;
usage:
	fprintf(stderr, "usage: privcheck open read|write|rdwr|append|trunc|creat PATH\n"
			"       privcheck sanitizer\n");
	return 2;
}
