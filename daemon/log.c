#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bool log_stderr = true;
static int log_level = LOG_NOTICE;
static const char *log_ident = "sealnet";

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
	[LOG_ERR] = "error",   [LOG_WARNING] = "warn", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
};

void log_init(const char *ident, bool to_stderr, int max_level)
{
	log_ident = ident;
	log_stderr = to_stderr;
	log_level = max_level;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
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
	if (log_stderr) {
		struct timespec ts;
		struct tm tm;
		char buf[1024], when[32];

		/* "2026-12-02T02:51:19.962Z sealnetd[1234]: error: ...": the time as ISO 8601
		 * in UTC, and a PID in the tag where syslog readers expect one. */
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		vsnprintf(buf, sizeof(buf), fmt, ap);
		fprintf(stderr, "%s.%03ldZ %s[%ld]: %s: %s\n", when, ts.tv_nsec / 1000000, log_ident,
			(long)getpid(), level_names[level & 7], buf);
	} else {
		vsyslog(level, fmt, ap);
	}
	va_end(ap);
}
