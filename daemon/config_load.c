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

/* A config file's text as read so far. It holds the private key: every buffer given up is
 * wiped. */
struct file_text {
	char *buf;
	size_t len, cap;
	int fd; /* until the end has been read, else -1 */
	mode_t mode;
};

static void text_free(struct file_text *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	if (t->buf) {
		sodium_memzero(t->buf, t->cap);
		free(t->buf);
	}
	t->buf = NULL;
}

/* Opens path (after the privilege drop, through the helper that still may) and makes the
 * first buffer: a byte more than the file's size, to see the end without growing (a file of
 * 20,000 peers is 4 MB, and a reload reads it on the event loop), or 4 KiB for a pipe (as
 * wg-quick's `<(...)` habit makes) or a file that does not say. Returns 0 or -errno with
 * the reason in err, t emptied. */
static int text_open(struct file_text *t, const char *path, char *err, size_t errlen)
{
	struct stat st;
	int ret;

	*t = (struct file_text){ .fd = privdrop_open_config(path) };
	if (t->fd < 0) {
		ret = t->fd;
		log_errbuf(err, errlen, 0, "%s: cannot open: %s%s", path, strerror(-ret),
			   privdrop_open_hint(ret));
		t->fd = -1;
		return ret;
	}
	if (fstat(t->fd, &st) < 0) {
		ret = -errno;
		log_errbuf(err, errlen, 0, "%s: cannot stat: %s", path, strerror(-ret));
		goto fail;
	}
	t->mode = st.st_mode;
	t->cap = S_ISREG(st.st_mode) && st.st_size && (size_t)st.st_size < MAX_FILE_SIZE
			 ? (size_t)st.st_size + 1
			 : 4096;
	t->buf = malloc(t->cap);
	if (!t->buf) {
		ret = -ENOMEM;
		log_errbuf(err, errlen, 0, "%s: cannot read: %s", path, strerror(-ret));
		goto fail;
	}
	return 0;
fail:
	text_free(t);
	return ret;
}

/* Reads on, up to the end of the file (1, and t->fd closed) or chunk bytes more (0; chunk 0:
 * to the end), growing t. Returns that or -errno, -EFBIG past MAX_FILE_SIZE. */
static int text_read(struct file_text *t, size_t chunk)
{
	size_t stop = chunk ? t->len + chunk : SIZE_MAX;
	char *grown;
	int ret;

	for (;;) {
		if (t->len == t->cap) {
			if (t->cap >= MAX_FILE_SIZE)
				return -EFBIG;
			grown = malloc(t->cap * 2);
			if (!grown)
				return -ENOMEM;
			memcpy(grown, t->buf, t->len);
			sodium_memzero(t->buf, t->cap);
			free(t->buf);
			t->buf = grown;
			t->cap *= 2;
		}
		ret = readfile_fill(t->fd, t->buf, t->cap < stop ? t->cap : stop, &t->len);
		if (ret < 0)
			return ret;
		if (ret) {
			close(t->fd);
			t->fd = -1;
			return 1;
		}
		if (t->len == stop)
			return 0;
	}
}

/* The whole file into t (freed with text_free()). Returns 0 or -errno with the reason in
 * err. */
static int read_file(const char *path, struct file_text *t, char *err, size_t errlen)
{
	int ret = text_open(t, path, err, errlen);

	if (ret)
		return ret;
	ret = text_read(t, 0);
	if (ret < 0) {
		log_errbuf(err, errlen, 0, "%s: cannot read: %s", path, strerror(-ret));
		text_free(t);
		return ret;
	}
	return 0;
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
	struct file_text t;
	int ret;

	*out = NULL;
	ret = read_file(path, &t, err, errlen);
	if (ret)
		return ret;
	p.text = t.buf;
	p.len = t.len;
	ret = config_run_parser(&p);
	load_notes(path, ret, p.cfg, p.has_secret, t.mode);
	text_free(&t);
	*out = p.cfg;
	return ret;
}

struct config_loader {
	struct parser p;
	char *path;
	struct file_text text;
	bool begun;
	size_t sections; /* lines that start with '[' */
	char err[640];
};

void config_load_free(struct config_loader *l)
{
	if (!l)
		return;
	text_free(&l->text);
	config_parser_wipe(&l->p);
	config_free(l->p.cfg);
	free(l->path);
	free(l);
}

int config_load_start(const char *path, struct config_loader **out, char *err, size_t errlen)
{
	struct config_loader *l = calloc(1, sizeof(*l));
	int ret;

	*out = NULL;
	if (!l || !(l->path = strdup(path))) {
		free(l);
		log_errbuf(err, errlen, 0, "%s: out of memory", path);
		return -ENOMEM;
	}
	ret = text_open(&l->text, path, err, errlen);
	if (ret)
		goto fail;
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
	const char *t, *end;
	int ret;

	do {
		ret = text_read(&l->text, 256u << 10);
		if (ret)
			break;
	} while (!l->p.deadline || config_now_ns() < l->p.deadline);
	if (ret <= 0)
		return ret;
	/* Room for a peer per section header, made at once: growing it later copies it whole,
	 * 10 ms in one turn at 20,000 peers. */
	for (t = l->text.buf, end = t + l->text.len; t < end; t++) {
		while (t < end && (*t == ' ' || *t == '\t'))
			t++;
		l->sections += t < end && *t == '[';
		t = memchr(t, '\n', (size_t)(end - t));
		if (!t)
			break;
	}
	l->p.text = l->text.buf;
	l->p.len = l->text.len;
	return 1;
}

int config_load_step(struct config_loader *l, uint64_t budget_ns, struct config **out, char *err,
		     size_t errlen)
{
	struct parser *p = &l->p;
	int ret;

	*out = NULL;
	p->deadline = budget_ns ? config_now_ns() + budget_ns : 0;
	if (l->text.fd >= 0) {
		ret = load_read(l);
		if (ret < 0) {
			log_errbuf(err, errlen, 0, "%s: cannot read: %s", l->path, strerror(-ret));
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
	load_notes(l->path, ret, p->cfg, p->has_secret, l->text.mode);
	log_errbuf(err, errlen, 0, "%s", l->err);
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
	struct file_text t;
	int ret, line;

	*out = NULL;
	*n = 0;
	ret = read_file(path, &t, err, errlen);
	if (ret)
		return ret;
	p.text = t.buf;
	p.len = t.len;
	config_run_parser(&p);
	if (p.has_secret && config_readable_by_others(t.mode))
		config_warn(&p, 0, "private key file is readable by others (mode %o)",
			    (unsigned)(t.mode & 07777));
	if (p.cfg && !p.cfg->private_key && !config_seen_line(&p, "PrivateKeyFile"))
		config_warn(&p, 0,
			    "no PrivateKey: the interface will not handshake until one is set");
	/* What sealnetd would find only at startup. */
	if (p.cfg && p.cfg->user && !getpwnam(p.cfg->user)) {
		line = config_seen_line(&p, "User");
		config_fail(&p, -EINVAL, line, "User: no such user \"%s\"", p.cfg->user);
	}
	config_free(p.cfg);
	text_free(&t);
	if (p.ret) {
		log_errbuf(err, errlen, 0, "%s: %s", path, strerror(-p.ret));
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
