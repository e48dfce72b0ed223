/* What the files of the config module share and no other module sees (config.h is the
 * module's face): config.c drives a parse (the line reader, inih's handler), checks what it
 * read and reports errors; config_option.c holds the table of keys and reads each value;
 * config_load.c reads files, at once or in steps, and config_check(); config_format.c
 * writes a file back. */
#ifndef SEALNET_CONFIG_PRIV_H
#define SEALNET_CONFIG_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "config.h"

#define MAX_OPTIONS 32
#define MIN_MTU 576       /* IPv4's */
#define MIN_MTU_IPV6 1280 /* with an IPv6 Address: checked once all are known */

enum section { SECTION_NONE, SECTION_INTERFACE, SECTION_PEER };

struct option;

/* One parse of a file's text: config_parser_begin(), config_parser_lines() once or more,
 * config_parser_end(). */
struct parser {
	const char *name; /* FILE in messages */
	const char *text;
	size_t len;
	size_t pos;
	int line;
	enum section section;
	int interface_line;       /* of the [Interface] header, 0 before it */
	const struct option *opt; /* the option being parsed, for messages */
	/* The value of the line being parsed, NUL-terminated, in a buffer of value_cap bytes
	 * that grows with the longest line (wiped: it may hold a key). */
	char *value;
	size_t value_cap;
	/* The first key only `sealnet up` and `down` act on, and its line (0: none). */
	const char *quick_key;
	int quick_line;
	/* Line where each option was first seen: in the whole file for [Interface] options, in
	 * the current peer for [Peer] options. */
	int seen_line[MAX_OPTIONS];
	bool has_secret;
	bool no_resolve; /* config_load_unresolved() */
	struct config *cfg;
	size_t peers_cap;
	size_t addresses_cap;
	size_t allowed_ips_cap; /* of the current (last) peer */
	int ret;                /* the first error */
	char *err;
	size_t errlen;
	/* config_check(): each error and warning is kept here, and only running out of memory
	 * ends the parse; bad_section skips the keys under a header that was refused. */
	bool collect, bad_section;
	struct config_issue *issues;
	size_t n_issues, issues_cap;
	/* config_load_step(): read_line() ends the call to inih at this CLOCK_MONOTONIC time
	 * (0: never), between two lines; the next step goes on from there. */
	uint64_t deadline;
	unsigned since_clock;
};

/* A key of the file: parse() checks the value and fills p->cfg, or returns config_fail()'s
 * error. */
struct option {
	const char *name; /* matched case-insensitively, as wg-quick does */
	enum section section;
	bool repeatable;
	int (*parse)(struct parser *p, const char *value);
	int arg; /* for a parse that serves several keys, which: the hook, a rule that denies */
};

/* config_option.c: every key, config_n_options of them (p->seen_line is indexed as this
 * table), and the one called name (in any case) in section, or in any with SECTION_NONE;
 * NULL when there is none. */
extern const struct option config_options[];
extern const size_t config_n_options;
const struct option *config_find_option(const char *name, enum section section);

/* config.c: the parse's errors and warnings (see each there), and its steps. */
int config_fail(struct parser *p, int ret, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void config_warn(struct parser *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int config_seen_line(const struct parser *p, const char *name);
void *config_grow(void *arr, size_t *cap, size_t n, size_t size);
uint64_t config_now_ns(void);
int config_parser_begin(struct parser *p);
bool config_parser_lines(struct parser *p);
int config_parser_end(struct parser *p);
int config_run_parser(struct parser *p);
void config_parser_wipe(struct parser *p);

/* A file that holds a key should be its owner's alone. */
static inline bool config_readable_by_others(mode_t mode)
{
	return S_ISREG(mode) && (mode & (S_IRGRP | S_IROTH));
}

#endif
