#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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
		char buf[1024];

		clock_gettime(CLOCK_REALTIME, &ts);
		vsnprintf(buf, sizeof(buf), fmt, ap);
		fprintf(stderr, "%s[%lld.%03ld] %s: %s\n", log_ident, (long long)ts.tv_sec,
			ts.tv_nsec / 1000000, level_names[level & 7], buf);
	} else {
		vsyslog(level, fmt, ap);
	}
	va_end(ap);
}
