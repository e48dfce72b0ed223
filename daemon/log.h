/* Logging: stderr in the foreground, syslog otherwise. Never called per packet without a
 * rate limit (see log_ratelimited). */
#ifndef SEALNET_LOG_H
#define SEALNET_LOG_H

#include <stdbool.h>
#include <syslog.h>

/* Levels are syslog's; -v raises the threshold from LOG_NOTICE to LOG_INFO, -vv to LOG_DEBUG. */
void log_init(const char *ident, bool to_stderr, int max_level);
void log_set_level(int max_level);
bool log_enabled(int level);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                              \
	do {                                                                                        \
		if (log_enabled(LOG_DEBUG))                                                         \
			log_msg(LOG_DEBUG, __VA_ARGS__);                                            \
	} while (0)

#endif
