/* Logging: stderr in the foreground (or a file, sealnetd -L), syslog otherwise, or journald's
 * native protocol under systemd. Never called per packet without a rate limit (droplog.h). */
#ifndef SEALNET_LOG_H
#define SEALNET_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

/* Where journald takes native-protocol datagrams, and the variable that names another socket
 * instead (for tests: a socket of their own stands in for journald). */
#define LOG_JOURNAL_SOCKET "/run/systemd/journal/socket"
#define LOG_JOURNAL_ENV "SEALNET_JOURNAL_SOCKET"

/* Levels are syslog's; -v raises the threshold from LOG_NOTICE to LOG_INFO, -vv to LOG_DEBUG.
 * With a journal open (log_open_journal), to_stderr says where lines go only if a datagram
 * cannot be sent. */
void log_init(const char *ident, bool to_stderr, int max_level);
void log_set_level(int max_level);
bool log_enabled(int level);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The journal socket to use, or NULL for none: LOG_JOURNAL_ENV when set; else
 * LOG_JOURNAL_SOCKET when our stderr is the stream systemd gave us (JOURNAL_STREAM names its
 * device and inode, as systemd.exec(5) says to check). */
const char *log_journal_path(void);
/* From now on each line is one datagram to path in journald's native protocol: PRIORITY,
 * SYSLOG_IDENTIFIER, SYSLOG_PID, MESSAGE. Call before the privilege drop (the socket is
 * made and connected here; afterwards only send(2) is needed). 0 or -errno. */
int log_open_journal(const char *path);

/* For a message the caller shows (a control-socket answer, a config error): formats into
 * err[errlen] (nothing when err is NULL or errlen 0) and returns ret, so that an error path
 * is one line: `return log_errbuf(err, errlen, -EINVAL, "bad port \"%s\"", s);`. */
int log_errbuf(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_enabled(LOG_DEBUG))                                                        \
			log_msg(LOG_DEBUG, __VA_ARGS__);                                           \
	} while (0)

#endif
