#include "log.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static bool log_stderr = true;
static int journal_fd = -1;
static int log_level = LOG_NOTICE;
static const char *log_ident = "sealnet";

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg",  [LOG_ALERT] = "alert",   [LOG_CRIT] = "crit", [LOG_ERR] = "error",
	[LOG_WARNING] = "warn", [LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

void log_init(const char *ident, bool to_stderr, int max_level)
{
	log_ident = ident;
	log_stderr = to_stderr;
	log_level = max_level;
	if (!to_stderr && journal_fd < 0)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

const char *log_journal_path(void)
{
	const char *env = getenv(LOG_JOURNAL_ENV), *stream = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (env && *env)
		return env;
	if (!stream || sscanf(stream, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) ||
	    (unsigned long long)st.st_dev != dev || (unsigned long long)st.st_ino != ino)
		return NULL;
	return LOG_JOURNAL_SOCKET;
}

int log_open_journal(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, ret;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if (journal_fd >= 0)
		close(journal_fd);
	journal_fd = fd;
	return 0;
}

/* One entry: KEY=value lines, MESSAGE last (systemd's "Native Journal Protocol"). A message
 * with a newline in it takes the binary form: the name, a newline, its length as 64 bits
 * little-endian, the bytes, a newline. Never blocks: a journald that does not keep up costs
 * the line (-EAGAIN), not the event loop. Returns 0 or -errno; the caller falls back to
 * stderr. */
static int journal_send(int level, char *msg)
{
	static char message[] = "MESSAGE=", message_bin[] = "MESSAGE\n", nl[] = "\n";
	char head[160], lenbuf[8];
	size_t len = strlen(msg);
	struct iovec iov[5];
	int n = 0, hlen;

	hlen = snprintf(head, sizeof(head),
			"PRIORITY=%d\nSYSLOG_FACILITY=%d\n"
			"SYSLOG_IDENTIFIER=%s\nSYSLOG_PID=%ld\n",
			level & 7, LOG_DAEMON >> 3, log_ident, (long)getpid());
	if (hlen < 0 || (size_t)hlen >= sizeof(head))
		return -EINVAL;
	iov[n++] = (struct iovec){ head, (size_t)hlen };
	if (!strchr(msg, '\n')) {
		iov[n++] = (struct iovec){ message, 8 };
	} else {
		for (int i = 0; i < 8; i++)
			lenbuf[i] = (char)((uint64_t)len >> (8 * i));
		iov[n++] = (struct iovec){ message_bin, 8 };
		iov[n++] = (struct iovec){ lenbuf, 8 };
	}
	iov[n++] = (struct iovec){ msg, len };
	iov[n++] = (struct iovec){ nl, 1 };
	if (sendmsg(journal_fd, &(struct msghdr){ .msg_iov = iov, .msg_iovlen = (size_t)n },
		    MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		return -errno;
	return 0;
}

void log_set_level(int max_level)
{
	log_level = max_level;
}

bool log_enabled(int level)
{
	return level <= log_level;
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	if (journal_fd >= 0) {
		char buf[1024];

		vsnprintf(buf, sizeof(buf), fmt, ap);
		if (!journal_send(level, buf) || !log_stderr)
			goto out;
		fprintf(stderr, "%s[%ld]: %s: %s\n", log_ident, (long)getpid(),
			level_names[level & 7], buf);
	} else if (log_stderr) {
		struct timespec ts;
		struct tm tm;
		char buf[1024], when[32];

		/* "2026-12-02T02:51:19.962Z sealnetd[1234]: error: ...": the time as ISO 8601
		 * in UTC, and a PID in the tag where syslog readers expect one. */
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		vsnprintf(buf, sizeof(buf), fmt, ap);
		fprintf(stderr, "%s.%03ldZ %s[%ld]: %s: %s\n", when, ts.tv_nsec / 1000000,
			log_ident, (long)getpid(), level_names[level & 7], buf);
	} else {
		vsyslog(level, fmt, ap);
	}
out:
	va_end(ap);
}

int log_errbuf(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}
