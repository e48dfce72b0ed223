/* Control-socket set requests (request.h). */
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

/* Room for len more bytes and the NUL: a new buffer, the old one wiped. */
static int grow(struct request *q, size_t len)
{
	size_t cap = q->cap ? q->cap : 1024;
	char *grown;

	while (cap - q->len <= len) {
		if (cap > SIZE_MAX / 2)
			return q->err = -ENOMEM;
		cap *= 2;
	}
	grown = calloc(1, cap);
	if (!grown)
		return q->err = -ENOMEM;
	if (q->buf) {
		memcpy(grown, q->buf, q->len);
		sodium_memzero(q->buf, q->cap);
		free(q->buf);
	}
	q->buf = grown;
	q->cap = cap;
	return 0;
}

int request_add(struct request *q, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (q->err)
		return q->err;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return q->err = -EINVAL;
	if ((!q->buf || q->cap - q->len <= (size_t)n) && grow(q, (size_t)n))
		return q->err;
	va_start(ap, fmt);
	vsnprintf(q->buf + q->len, q->cap - q->len, fmt, ap);
	va_end(ap);
	q->len += (size_t)n;
	return 0;
}

int request_add_key(struct request *q, const char *name, const uint8_t key[KEY_LEN])
{
	char hex[KEY_HEX_LEN];
	int ret;

	key_to_hex(hex, key);
	ret = request_add(q, "%s=%s\n", name, hex);
	sodium_memzero(hex, sizeof(hex));
	return ret;
}

const char *request_text(const struct request *q)
{
	return q->err || !q->buf ? NULL : q->buf;
}

void request_free(struct request *q)
{
	if (!q)
		return;
	if (q->buf) {
		sodium_memzero(q->buf, q->cap);
		free(q->buf);
	}
	memset(q, 0, sizeof(*q));
}
