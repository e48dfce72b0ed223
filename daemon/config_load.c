/* Reading a config file: at once (config_load), in steps that leave sealnetd's event loop
 * free between them (config_load_start, config_load_step), or every error and warning of it
 * (config_check). The text goes through config.c's parser either way. */
#include "config_priv.h"

#include <errno.h>
#include <pwd.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "privdrop.h"
#include "readfile.h"

/* Far above any real configuration; bounds what a mistaken path (a log, a device) costs. */
#define MAX_FILE_SIZE (16u << 20)

/* Reads until EOF, so that pipes (wg-quick's `<(...)` habit) work too. Every buffer given
 * up is wiped: the text holds the private key. */
static int read_all(int fd, size_t size_hint, char **out, size_t *outlen)
{
	char *buf = NULL, *new;
	size_t len = 0, cap = 0;
	/* A file's size known, one buffer a byte longer (to see the end) rather than copies
	 * of copies: a file of 20,000 peers is 4 MB, and a reload reads it on the event loop. */
	size_t first = size_hint && size_hint < MAX_FILE_SIZE ? size_hint + 1 : 4096;
	int ret;

	for (;;) {
		if (len == cap) {
			if (cap >= MAX_FILE_SIZE) {
				ret = -EFBIG;
				goto fail_buf;
			}
			new = malloc(cap ? cap * 2 : first);
			if (!new) {
				ret = -ENOMEM;
				goto fail_buf;
			}
			if (buf) {
				memcpy(new, buf, len);
				sodium_memzero(buf, cap);
				free(buf);
			}
			buf = new;
			cap = cap ? cap * 2 : first;
		}
		ret = readfile_fill(fd, buf, cap, &len);
		if (ret < 0)
			goto fail_buf;
		if (ret)
			break;
	}
	*out = buf;
	*outlen = len;
	return 0;

fail_buf:
	if (buf)
		sodium_memzero(buf, len);
	free(buf);
	return ret;
}

/* The whole file into *text (the caller wipes and frees it), its mode into *mode. */
static int read_file(const char *path, char **text, size_t *len, mode_t *mode, char *err,
		     size_t errlen)
{
	struct stat st;
	int fd, ret;

	/* After the privilege drop, through the helper that still may. */
	fd = privdrop_open_config(path);
	if (fd < 0) {
		config_set_err(err, errlen, "%s: cannot open: %s%s", path, strerror(-fd),
			       privdrop_open_hint(fd));
		return fd;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		config_set_err(err, errlen, "%s: cannot stat: %s", path, strerror(-ret));
		goto out_close;
	}
	*mode = st.st_mode;
	ret = read_all(fd, S_ISREG(st.st_mode) ? (size_t)st.st_size : 0, text, len);
	if (ret)
		config_set_err(err, errlen, "%s: cannot read: %s", path, strerror(-ret));
out_close:
	close(fd);
	return ret;
}

/* What a load says once parsed: a key readable by others, no PrivateKey. */
static void load_notes(const char *path, int ret, const struct config *c, bool has_secret,
		       mode_t mode)
{
	if (has_secret && config_readable_by_others(mode))
		log_warn("%s: private key file is readable by others (mode %o)", path,
			 (unsigned)(mode & 07777));
	/* Legal, as for wg(8), but silent otherwise until someone wonders why nothing works. */
	if (!ret && !c->private_key)
		log_warn("%s: no PrivateKey: the interface will not handshake until one is set "
			 "(`wg set IFACE private-key FILE`, by hand or in a PostUp)",
			 path);
}

static int load(const char *path, struct config **out, char *err, size_t errlen, bool no_resolve)
{
	struct parser p = {
		.name = path,
		.no_resolve = no_resolve,
		.err = err,
		.errlen = errlen,
	};
	char *text = NULL;
	mode_t mode = 0;
	int ret;

	*out = NULL;
	ret = read_file(path, &text, &p.len, &mode, err, errlen);
	if (ret)
		return ret;
	p.text = text;
	ret = config_run_parser(&p);
	load_notes(path, ret, p.cfg, p.has_secret, mode);
	sodium_memzero(text, p.len);
	free(text);
	*out = p.cfg;
	return ret;
}

struct config_loader {
	struct parser p;
	char *path, *text;
	size_t len, cap;
	int fd; /* until the whole file is read, else -1 */
	mode_t mode;
	bool begun;
	size_t sections; /* lines that start with '[' */
	char err[640];
};

void config_load_free(struct config_loader *l)
{
	if (!l)
		return;
	if (l->fd >= 0)
		close(l->fd);
	config_parser_wipe(&l->p);
	config_free(l->p.cfg);
	if (l->text) {
		sodium_memzero(l->text, l->cap);
		free(l->text);
	}
	free(l->path);
	free(l);
}

int config_load_start(const char *path, struct config_loader **out, char *err, size_t errlen)
{
	struct config_loader *l = calloc(1, sizeof(*l));
	struct stat st;
	int ret;

	*out = NULL;
	if (!l || !(l->path = strdup(path))) {
		free(l);
		config_set_err(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	/* After the privilege drop, through the helper that still may. */
	l->fd = privdrop_open_config(path);
	if (l->fd < 0) {
		ret = l->fd;
		config_set_err(err, errlen, "%s: cannot open: %s%s", path, strerror(-ret),
			       privdrop_open_hint(ret));
		goto fail;
	}
	if (fstat(l->fd, &st) < 0) {
		ret = -errno;
		config_set_err(err, errlen, "%s: cannot stat: %s", path, strerror(-ret));
		goto fail;
	}
	l->mode = st.st_mode;
	/* A byte more than the size, to see the end without growing. */
	l->cap = S_ISREG(st.st_mode) && (size_t)st.st_size < MAX_FILE_SIZE ? (size_t)st.st_size + 1
									   : 4096;
	l->text = malloc(l->cap);
	if (!l->text) {
		ret = -ENOMEM;
		config_set_err(err, errlen, "%s: cannot read: %s", path, strerror(-ret));
		goto fail;
	}
	l->p.name = l->path;
	l->p.err = l->err;
	l->p.errlen = sizeof(l->err);
	*out = l;
	return 0;
fail:
	config_load_free(l);
	return ret;
}

/* The file read on, 256 KiB at a time, until its end (1) or the deadline (0), or -errno. */
static int load_read(struct config_loader *l)
{
	char *grown;
	int ret;

	for (;;) {
		if (l->len == l->cap) {
			if (l->cap >= MAX_FILE_SIZE)
				return -EFBIG;
			grown = malloc(l->cap * 2);
			if (!grown)
				return -ENOMEM;
			memcpy(grown, l->text, l->len);
			sodium_memzero(l->text, l->cap);
			free(l->text);
			l->text = grown;
			l->cap *= 2;
		}
		ret = readfile_fill(l->fd, l->text,
				    l->cap - l->len < (256u << 10) ? l->cap : l->len + (256u << 10),
				    &l->len);
		if (ret < 0)
			return ret;
		if (ret)
			break;
		if (l->p.deadline && config_now_ns() >= l->p.deadline)
			return 0;
	}
	close(l->fd);
	l->fd = -1;
	/* Room for a peer per section header, made at once: growing it later copies it whole,
	 * 10 ms in one turn at 20,000 peers. */
	for (const char *t = l->text, *end = t + l->len; t < end; t++) {
		while (t < end && (*t == ' ' || *t == '\t'))
			t++;
		l->sections += t < end && *t == '[';
		t = memchr(t, '\n', (size_t)(end - t));
		if (!t)
			break;
	}
	l->p.text = l->text;
	l->p.len = l->len;
	return 1;
}

int config_load_step(struct config_loader *l, uint64_t budget_ns, struct config **out, char *err,
		     size_t errlen)
{
	struct parser *p = &l->p;
	int ret;

	*out = NULL;
	p->deadline = budget_ns ? config_now_ns() + budget_ns : 0;
	if (l->fd >= 0) {
		ret = load_read(l);
		if (ret < 0) {
			config_set_err(err, errlen, "%s: cannot read: %s", l->path, strerror(-ret));
			return ret;
		}
		if (!ret)
			return 1;
	}
	if (!l->begun) {
		l->begun = true;
		if (config_parser_begin(p))
			goto end;
		if (l->sections) {
			p->cfg->peers = calloc(l->sections, sizeof(*p->cfg->peers));
			if (!p->cfg->peers) {
				config_fail(p, -ENOMEM, 0, "out of memory");
				goto end;
			}
			p->peers_cap = l->sections;
		}
	}
	if (!config_parser_lines(p))
		return 1;
end:
	ret = config_parser_end(p);
	load_notes(l->path, ret, p->cfg, p->has_secret, l->mode);
	config_set_err(err, errlen, "%s", l->err);
	*out = p->cfg;
	p->cfg = NULL;
	return ret;
}

static int compare_issues(const void *a, const void *b)
{
	const struct config_issue *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int config_check(const char *path, struct config_issue **out, size_t *n, char *err, size_t errlen)
{
	struct parser p = {
		.name = path,
		.no_resolve = true,
		.collect = true,
	};
	mode_t mode = 0;
	char *text = NULL;
	int ret, line;

	*out = NULL;
	*n = 0;
	ret = read_file(path, &text, &p.len, &mode, err, errlen);
	if (ret)
		return ret;
	p.text = text;
	config_run_parser(&p);
	if (p.has_secret && config_readable_by_others(mode))
		config_warn(&p, 0, "private key file is readable by others (mode %o)",
			    (unsigned)(mode & 07777));
	if (p.cfg && !p.cfg->private_key && !config_seen_line(&p, "PrivateKeyFile"))
		config_warn(&p, 0,
			    "no PrivateKey: the interface will not handshake until one is set");
	/* What sealnetd would find only at startup. */
	if (p.cfg && p.cfg->user && !getpwnam(p.cfg->user)) {
		line = config_seen_line(&p, "User");
		config_fail(&p, -EINVAL, line, "User: no such user \"%s\"", p.cfg->user);
	}
	config_free(p.cfg);
	sodium_memzero(text, p.len);
	free(text);
	if (p.ret) {
		config_set_err(err, errlen, "%s: %s", path, strerror(-p.ret));
		free(p.issues);
		return p.ret;
	}
	/* Items with the same line keep the order they were found in. */
	for (size_t i = 0; i < p.n_issues; i++)
		p.issues[i].seq = i;
	if (p.n_issues) /* a file without a word to say has no array at all */
		qsort(p.issues, p.n_issues, sizeof(*p.issues), compare_issues);
	*out = p.issues;
	*n = p.n_issues;
	return 0;
}

int config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	return load(path, out, err, errlen, false);
}

int config_load_unresolved(const char *path, struct config **out, char *err, size_t errlen)
{
	return load(path, out, err, errlen, true);
}
