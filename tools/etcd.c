/* etcd's v3 JSON gateway; see etcd.h. Two curl handles: one for the unary requests, reused so
 * its connection stays open between keepalives, and one for the watch, in a multi handle so
 * the stream can be read a little at a time without a thread. */
#include "etcd.h"

#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Far above any answer of a cluster's registry; bounds what a confused server costs us. */
#define ETCD_MAX_ANSWER (16u << 20)

struct buf {
	char *data;
	size_t len, cap;
};

struct etcd {
	char *url;
	long timeout_ms;
	CURL *unary;
	struct curl_slist *headers;
	struct buf answer;
	char error[256];
	char local_ip[64];
	char *cacert, *cert, *key; /* TLS files, or NULL */

	/* The watch. */
	CURLM *multi;
	CURL *watch;
	char *watch_body;
	struct json_tokener *tok;
	size_t obj_bytes; /* fed to tok since its last complete object */
	void (*cb)(void *ctx, bool deleted, const struct etcd_kv *kv);
	void *cb_ctx;
	bool created, delivered;
	int watch_err;
	int64_t watch_revision;
};

static int set_error(struct etcd *e, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int set_error(struct etcd *e, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->error, sizeof(e->error), fmt, ap);
	va_end(ap);
	return ret;
}

static int buf_add(struct buf *b, const void *data, size_t len)
{
	size_t cap;
	char *grown;

	if (b->len + len + 1 > ETCD_MAX_ANSWER)
		return -EMSGSIZE;
	if (b->len + len + 1 > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->len + len + 1)
			cap *= 2;
		grown = realloc(b->data, cap);
		if (!grown)
			return -ENOMEM;
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

static char *b64_encode(const char *s, size_t len)
{
	size_t size = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
	char *out = malloc(size);

	if (out)
		sodium_bin2base64(out, size, (const unsigned char *)s, len,
				  sodium_base64_VARIANT_ORIGINAL);
	return out;
}

/* A malloc'd, NUL-terminated copy of the bytes b64 stands for. */
static int b64_decode(const char *b64, char **out, size_t *out_len)
{
	size_t in_len = strlen(b64), len;
	char *bin = malloc(in_len / 4 * 3 + 4);

	if (!bin)
		return -ENOMEM;
	if (sodium_base642bin((unsigned char *)bin, in_len / 4 * 3 + 3, b64, in_len, NULL, &len,
			      NULL, sodium_base64_VARIANT_ORIGINAL)) {
		free(bin);
		return -EPROTO;
	}
	bin[len] = '\0';
	*out = bin;
	*out_len = len;
	return 0;
}

/* The end of the range of keys that start with prefix: its last byte below 0xff plus one, as
 * etcd's clients compute it. "\0" (every key) when there is none. */
static char *prefix_end(const char *prefix, size_t *len)
{
	size_t n = strlen(prefix);
	char *end = strdup(prefix);

	if (!end)
		return NULL;
	while (n && (unsigned char)end[n - 1] == 0xff)
		n--;
	if (!n) {
		end[0] = '\0';
		*len = 1;
		return end;
	}
	end[n - 1]++;
	*len = n;
	return end;
}

/* int64 fields are strings in the gateway's JSON; json-c reads both forms. Absent: 0. */
static int64_t get_i64(struct json_object *o, const char *name)
{
	struct json_object *v;

	return json_object_object_get_ex(o, name, &v) ? json_object_get_int64(v) : 0;
}

static bool get_bool(struct json_object *o, const char *name)
{
	struct json_object *v;

	return json_object_object_get_ex(o, name, &v) && json_object_get_boolean(v);
}

static const char *get_str(struct json_object *o, const char *name)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* "error" as a unary answer has it (a string, with "message") or a stream's (an object). */
static int answer_error(struct etcd *e, struct json_object *answer)
{
	struct json_object *err;
	const char *msg;

	if (!json_object_object_get_ex(answer, "error", &err))
		return 0;
	msg = get_str(answer, "message");
	if (!msg && json_object_is_type(err, json_type_object))
		msg = get_str(err, "message");
	if (!msg)
		msg = json_object_get_string(err);
	return set_error(e, -EIO, "etcd: %s", msg ? msg : "error");
}

/* Decodes a "kv" object; the caller frees key and value. */
static int decode_kv(struct json_object *o, struct etcd_kv *kv, char **key, char **value)
{
	const char *k = get_str(o, "key"), *v = get_str(o, "value");
	size_t len;
	int ret;

	*key = *value = NULL;
	if (!k)
		return -EPROTO;
	ret = b64_decode(k, key, &len);
	if (ret)
		return ret;
	/* A key with a NUL in it is nothing we wrote or could name. */
	if (strlen(*key) != len) {
		free(*key);
		*key = NULL;
		return -EPROTO;
	}
	ret = b64_decode(v ? v : "", value, &kv->value_len);
	if (ret) {
		free(*key);
		*key = NULL;
		return ret;
	}
	kv->key = *key;
	kv->value = *value;
	kv->create_revision = get_i64(o, "create_revision");
	kv->mod_revision = get_i64(o, "mod_revision");
	kv->lease = get_i64(o, "lease");
	return 0;
}

static size_t write_answer(char *data, size_t size, size_t n, void *arg)
{
	return buf_add(arg, data, size * n) ? 0 : size * n;
}

static int curl_errno(struct etcd *e, CURLcode rc)
{
	set_error(e, 0, "%s: %s", e->url, curl_easy_strerror(rc));
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_WRITE_ERROR:
		return -EMSGSIZE;
	default:
		return -ECONNRESET;
	}
}

static void note_local_ip(struct etcd *e, CURL *h)
{
	char *ip = NULL;

	if (curl_easy_getinfo(h, CURLINFO_LOCAL_IP, &ip) == CURLE_OK && ip && *ip)
		snprintf(e->local_ip, sizeof(e->local_ip), "%s", ip);
}

/* POSTs body to path; *answer (owned by the caller: json_object_put) is the parsed reply. */
static int request(struct etcd *e, const char *path, struct json_object *body,
		   struct json_object **answer)
{
	char url[512];
	const char *text;
	struct json_tokener *tok = NULL;
	enum json_tokener_error jerr;
	long status = 0;
	CURLcode rc;
	int ret;

	*answer = NULL;
	e->error[0] = '\0';
	if ((size_t)snprintf(url, sizeof(url), "%s%s", e->url, path) >= sizeof(url))
		return set_error(e, -ENAMETOOLONG, "%s: URL too long", e->url);
	text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
	if (!text)
		return -ENOMEM;
	e->answer.len = 0;
	curl_easy_setopt(e->unary, CURLOPT_URL, url);
	curl_easy_setopt(e->unary, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(e->unary, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
	rc = curl_easy_perform(e->unary);
	if (rc != CURLE_OK)
		return curl_errno(e, rc);
	note_local_ip(e, e->unary);
	curl_easy_getinfo(e->unary, CURLINFO_RESPONSE_CODE, &status);
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	*answer = json_tokener_parse_ex(tok, e->answer.data ? e->answer.data : "",
					(int)e->answer.len);
	jerr = json_tokener_get_error(tok);
	json_tokener_free(tok);
	if (!*answer || jerr != json_tokener_success ||
	    !json_object_is_type(*answer, json_type_object)) {
		json_object_put(*answer);
		*answer = NULL;
		return set_error(e, -EPROTO, "%s: HTTP %ld, not a JSON object", url, status);
	}
	ret = answer_error(e, *answer);
	if (!ret && status != 200)
		ret = set_error(e, -EPROTO, "%s: HTTP %ld", url, status);
	if (ret) {
		json_object_put(*answer);
		*answer = NULL;
	}
	return ret;
}

/* Adds name: base64(s) to o. */
static int add_b64(struct json_object *o, const char *name, const char *s, size_t len)
{
	char *b64 = b64_encode(s, len);
	struct json_object *v;

	if (!b64)
		return -ENOMEM;
	v = json_object_new_string(b64);
	free(b64);
	if (!v || json_object_object_add(o, name, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int add_i64(struct json_object *o, const char *name, int64_t n)
{
	char text[24];
	struct json_object *v;

	/* As the gateway writes them: a string, which keeps all 64 bits through any JSON. */
	snprintf(text, sizeof(text), "%lld", (long long)n);
	v = json_object_new_string(text);
	if (!v || json_object_object_add(o, name, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

int etcd_open(const char *url, long timeout_ms, struct etcd **out)
{
	static bool curl_ready;
	struct etcd *e;
	size_t len = strlen(url);

	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT))
			return -ENOMEM;
		curl_ready = true;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	while (len && url[len - 1] == '/')
		len--;
	e->url = strndup(url, len);
	e->timeout_ms = timeout_ms;
	e->unary = curl_easy_init();
	e->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (!e->url || !e->unary || !e->headers) {
		etcd_free(e);
		return -ENOMEM;
	}
	curl_easy_setopt(e->unary, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e->unary, CURLOPT_HTTPHEADER, e->headers);
	curl_easy_setopt(e->unary, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e->unary, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e->unary, CURLOPT_WRITEFUNCTION, write_answer);
	curl_easy_setopt(e->unary, CURLOPT_WRITEDATA, &e->answer);
	/* A proxy from the environment has no business between a node and its registry. */
	curl_easy_setopt(e->unary, CURLOPT_NOPROXY, "*");
	*out = e;
	return 0;
}

/* Both handles get the same TLS setup. */
static void apply_tls(const struct etcd *e, CURL *h)
{
	if (e->cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, e->cacert);
	if (e->cert)
		curl_easy_setopt(h, CURLOPT_SSLCERT, e->cert);
	if (e->key)
		curl_easy_setopt(h, CURLOPT_SSLKEY, e->key);
}

static int copy_path(char **dst, const char *src)
{
	free(*dst);
	*dst = NULL;
	if (src && !(*dst = strdup(src)))
		return -ENOMEM;
	return 0;
}

int etcd_set_tls(struct etcd *e, const char *cacert, const char *cert, const char *key)
{
	if (copy_path(&e->cacert, cacert) || copy_path(&e->cert, cert) || copy_path(&e->key, key))
		return -ENOMEM;
	apply_tls(e, e->unary);
	return 0;
}

void etcd_free(struct etcd *e)
{
	if (!e)
		return;
	etcd_watch_stop(e);
	free(e->cacert);
	free(e->cert);
	free(e->key);
	if (e->multi)
		curl_multi_cleanup(e->multi);
	if (e->unary)
		curl_easy_cleanup(e->unary);
	curl_slist_free_all(e->headers);
	free(e->answer.data);
	free(e->url);
	free(e);
}

const char *etcd_error(const struct etcd *e)
{
	return e->error;
}

int etcd_local_ip(struct etcd *e, char *buf, size_t len)
{
	if (!e->local_ip[0])
		return -ENOTCONN;
	snprintf(buf, len, "%s", e->local_ip);
	return 0;
}

int etcd_lease_grant(struct etcd *e, unsigned ttl, int64_t *id)
{
	struct json_object *body = json_object_new_object(), *answer = NULL;
	int ret;

	if (!body)
		return -ENOMEM;
	ret = add_i64(body, "TTL", ttl);
	if (!ret)
		ret = request(e, "/v3/lease/grant", body, &answer);
	if (!ret) {
		*id = get_i64(answer, "ID");
		if (!*id)
			ret = set_error(e, -EPROTO, "lease grant: no ID in the answer");
	}
	json_object_put(answer);
	json_object_put(body);
	return ret;
}

int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl)
{
	struct json_object *body = json_object_new_object(), *answer = NULL, *result;
	int ret;

	if (!body)
		return -ENOMEM;
	ret = add_i64(body, "ID", id);
	if (!ret)
		ret = request(e, "/v3/lease/keepalive", body, &answer);
	if (!ret) {
		/* A streaming call: its one answer comes wrapped in "result". An unknown
		 * lease is answered without a TTL. */
		if (!json_object_object_get_ex(answer, "result", &result))
			ret = set_error(e, -EPROTO, "lease keepalive: no result in the answer");
		else
			*ttl = get_i64(result, "TTL");
	}
	json_object_put(answer);
	json_object_put(body);
	return ret;
}

int etcd_lease_revoke(struct etcd *e, int64_t id)
{
	struct json_object *body = json_object_new_object(), *answer = NULL;
	int ret;

	if (!body)
		return -ENOMEM;
	ret = add_i64(body, "ID", id);
	if (!ret)
		ret = request(e, "/v3/lease/revoke", body, &answer);
	json_object_put(answer);
	json_object_put(body);
	return ret;
}

/* The fields of a PutRequest into o. */
static int put_fields(struct json_object *o, const char *key, const char *value, int64_t lease)
{
	int ret;

	ret = add_b64(o, "key", key, strlen(key));
	if (!ret)
		ret = add_b64(o, "value", value, strlen(value));
	if (!ret && lease)
		ret = add_i64(o, "lease", lease);
	return ret;
}

int etcd_put(struct etcd *e, const char *key, const char *value, int64_t lease)
{
	struct json_object *body = json_object_new_object(), *answer = NULL;
	int ret;

	if (!body)
		return -ENOMEM;
	ret = put_fields(body, key, value, lease);
	if (!ret)
		ret = request(e, "/v3/kv/put", body, &answer);
	json_object_put(answer);
	json_object_put(body);
	return ret;
}

/* Wraps inner as {name: inner} and appends that to array. Takes inner in all cases. */
static int append_op(struct json_object *array, const char *name, struct json_object *inner)
{
	struct json_object *op = json_object_new_object();

	if (!op || json_object_object_add(op, name, inner)) {
		json_object_put(op);
		json_object_put(inner);
		return -ENOMEM;
	}
	if (json_object_array_add(array, op)) {
		json_object_put(op);
		return -ENOMEM;
	}
	return 0;
}

int etcd_move(struct etcd *e, const char *old_key, const char *key, const char *value,
	      int64_t lease)
{
	struct json_object *body = json_object_new_object(), *ops = json_object_new_array();
	struct json_object *del = json_object_new_object(), *put = json_object_new_object();
	struct json_object *answer = NULL;
	int ret = -ENOMEM;

	if (!body || !ops || !del || !put || json_object_object_add(body, "success", ops)) {
		json_object_put(ops);
		json_object_put(del);
		json_object_put(put);
		goto out;
	}
	ret = add_b64(del, "key", old_key, strlen(old_key));
	if (!ret)
		ret = put_fields(put, key, value, lease);
	if (ret) {
		json_object_put(del);
		json_object_put(put);
		goto out;
	}
	/* No compare: the transaction always takes its success branch. */
	ret = append_op(ops, "request_delete_range", del);
	if (ret) {
		json_object_put(put);
		goto out;
	}
	ret = append_op(ops, "request_put", put);
	if (!ret)
		ret = request(e, "/v3/kv/txn", body, &answer);
out:
	json_object_put(answer);
	json_object_put(body);
	return ret;
}

int etcd_range_prefix(struct etcd *e, const char *prefix,
		      int (*cb)(void *ctx, const struct etcd_kv *kv), void *ctx, int64_t *revision)
{
	struct json_object *body = json_object_new_object(), *answer = NULL, *kvs, *header;
	struct etcd_kv kv;
	char *end = NULL, *key, *value;
	size_t end_len;
	int ret = -ENOMEM;

	if (!body || !(end = prefix_end(prefix, &end_len)))
		goto out;
	ret = add_b64(body, "key", prefix, strlen(prefix));
	if (!ret)
		ret = add_b64(body, "range_end", end, end_len);
	if (!ret)
		ret = request(e, "/v3/kv/range", body, &answer);
	if (ret)
		goto out;
	if (!json_object_object_get_ex(answer, "header", &header) ||
	    !(*revision = get_i64(header, "revision"))) {
		ret = set_error(e, -EPROTO, "range: no revision in the answer");
		goto out;
	}
	/* No "kvs" at all when nothing matched. */
	if (!json_object_object_get_ex(answer, "kvs", &kvs))
		goto out;
	if (!json_object_is_type(kvs, json_type_array)) {
		ret = set_error(e, -EPROTO, "range: kvs is not an array");
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(kvs) && !ret; i++) {
		ret = decode_kv(json_object_array_get_idx(kvs, i), &kv, &key, &value);
		if (ret) {
			set_error(e, ret, "range: a key or value that is not base64");
			break;
		}
		ret = cb(ctx, &kv);
		free(key);
		free(value);
	}
out:
	free(end);
	json_object_put(answer);
	json_object_put(body);
	return ret;
}

/* One complete object of the watch stream. */
static void watch_answer(struct etcd *e, struct json_object *answer)
{
	struct json_object *result, *header, *events, *ev, *kvo;
	struct etcd_kv kv;
	const char *type;
	char *key, *value;
	int ret;

	if (answer_error(e, answer)) {
		e->watch_err = -EIO;
		return;
	}
	if (!json_object_object_get_ex(answer, "result", &result)) {
		e->watch_err = set_error(e, -EPROTO, "watch: an answer without a result");
		return;
	}
	if (json_object_object_get_ex(result, "header", &header) && get_i64(header, "revision"))
		e->watch_revision = get_i64(header, "revision");
	if (get_bool(result, "created"))
		e->created = true;
	if (get_bool(result, "canceled")) {
		e->watch_err = get_i64(result, "compact_revision")
				       ? set_error(e, -ESTALE, "watch: revision compacted")
				       : set_error(e, -ECONNRESET, "watch: cancelled by etcd");
		return;
	}
	if (!json_object_object_get_ex(result, "events", &events))
		return;
	if (!json_object_is_type(events, json_type_array)) {
		e->watch_err = set_error(e, -EPROTO, "watch: events is not an array");
		return;
	}
	for (size_t i = 0; i < json_object_array_length(events); i++) {
		ev = json_object_array_get_idx(events, i);
		if (!json_object_object_get_ex(ev, "kv", &kvo)) {
			e->watch_err = set_error(e, -EPROTO, "watch: an event without kv");
			return;
		}
		ret = decode_kv(kvo, &kv, &key, &value);
		if (ret) {
			e->watch_err = set_error(e, ret,
						 "watch: a key or value that is not base64");
			return;
		}
		/* PUT is the enum's zero, which the gateway leaves out. */
		type = get_str(ev, "type");
		e->cb(e->cb_ctx, type && !strcmp(type, "DELETE"), &kv);
		e->delivered = true;
		free(key);
		free(value);
	}
}

/* The stream is a sequence of JSON objects (newline-separated, but a chunk may end anywhere):
 * the tokener keeps its state between chunks, and what follows a complete object is fed
 * again. Returning less than we were given makes curl abort the transfer. */
static size_t write_watch(char *data, size_t size, size_t n, void *arg)
{
	struct etcd *e = arg;
	size_t len = size * n, off = 0, used;
	struct json_object *obj;
	enum json_tokener_error jerr;

	while (off < len && !e->watch_err) {
		obj = json_tokener_parse_ex(e->tok, data + off, (int)(len - off));
		jerr = json_tokener_get_error(e->tok);
		if (jerr == json_tokener_continue) {
			e->obj_bytes += len - off;
			if (e->obj_bytes > ETCD_MAX_ANSWER)
				e->watch_err = set_error(e, -EMSGSIZE, "watch: answer too long");
			break;
		}
		if (jerr != json_tokener_success || !obj) {
			e->watch_err = set_error(e, -EPROTO, "watch: not JSON: %s",
						 json_tokener_error_desc(jerr));
			json_object_put(obj);
			break;
		}
		used = json_tokener_get_parse_end(e->tok);
		off += used ? used : len - off;
		json_tokener_reset(e->tok);
		e->obj_bytes = 0;
		watch_answer(e, obj);
		json_object_put(obj);
		/* Whitespace between objects is no object: skip it rather than start one. */
		while (off < len && (data[off] == '\n' || data[off] == '\r' || data[off] == ' '))
			off++;
	}
	return e->watch_err ? 0 : len;
}

int etcd_watch_start(struct etcd *e, const char *prefix, int64_t start_revision,
		     void (*cb)(void *ctx, bool deleted, const struct etcd_kv *kv), void *ctx)
{
	struct json_object *body = json_object_new_object(), *create = json_object_new_object();
	char url[512], *end = NULL;
	size_t end_len;
	int ret = -ENOMEM;

	etcd_watch_stop(e);
	if (!body || !create || json_object_object_add(body, "create_request", create)) {
		json_object_put(create);
		goto out;
	}
	if (!(end = prefix_end(prefix, &end_len)))
		goto out;
	ret = add_b64(create, "key", prefix, strlen(prefix));
	if (!ret)
		ret = add_b64(create, "range_end", end, end_len);
	if (!ret && start_revision)
		ret = add_i64(create, "start_revision", start_revision);
	if (ret)
		goto out;
	ret = -ENOMEM;
	snprintf(url, sizeof(url), "%s/v3/watch", e->url);
	if (!e->multi && !(e->multi = curl_multi_init()))
		goto out;
	e->watch_body = strdup(json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
	e->tok = json_tokener_new();
	e->watch = curl_easy_init();
	if (!e->watch_body || !e->tok || !e->watch)
		goto out_stop;
	e->cb = cb;
	e->cb_ctx = ctx;
	e->created = false;
	e->watch_err = 0;
	e->obj_bytes = 0;
	curl_easy_setopt(e->watch, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e->watch, CURLOPT_URL, url);
	curl_easy_setopt(e->watch, CURLOPT_HTTPHEADER, e->headers);
	curl_easy_setopt(e->watch, CURLOPT_POSTFIELDS, e->watch_body);
	curl_easy_setopt(e->watch, CURLOPT_CONNECTTIMEOUT_MS, e->timeout_ms);
	curl_easy_setopt(e->watch, CURLOPT_WRITEFUNCTION, write_watch);
	curl_easy_setopt(e->watch, CURLOPT_WRITEDATA, e);
	curl_easy_setopt(e->watch, CURLOPT_NOPROXY, "*");
	apply_tls(e, e->watch);
	/* The stream is silent while nothing changes: TCP keepalives notice a peer that has
	 * vanished, and the lease keepalives on the other connection notice it sooner. */
	curl_easy_setopt(e->watch, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e->watch, CURLOPT_TCP_KEEPIDLE, 5L);
	curl_easy_setopt(e->watch, CURLOPT_TCP_KEEPINTVL, 2L);
	if (curl_multi_add_handle(e->multi, e->watch) != CURLM_OK)
		goto out_stop;
	ret = 0;
	goto out;
out_stop:
	etcd_watch_stop(e);
out:
	free(end);
	json_object_put(body);
	return ret;
}

void etcd_watch_stop(struct etcd *e)
{
	if (e->watch) {
		curl_multi_remove_handle(e->multi, e->watch);
		curl_easy_cleanup(e->watch);
		e->watch = NULL;
	}
	if (e->tok) {
		json_tokener_free(e->tok);
		e->tok = NULL;
	}
	free(e->watch_body);
	e->watch_body = NULL;
	e->created = false;
}

bool etcd_watch_created(const struct etcd *e)
{
	return e->watch && e->created;
}

int64_t etcd_watch_revision(const struct etcd *e)
{
	return e->watch_revision;
}

int etcd_watch_poll(struct etcd *e, int timeout_ms)
{
	struct timespec ts = { .tv_sec = timeout_ms / 1000,
			       .tv_nsec = (long)(timeout_ms % 1000) * 1000000 };
	CURLMsg *msg;
	long status = 0;
	int running = 0, left, ret = 0;

	if (!e->watch) {
		nanosleep(&ts, NULL);
		return 0;
	}
	e->delivered = false;
	curl_multi_perform(e->multi, &running);
	if (running) {
		curl_multi_poll(e->multi, NULL, 0, timeout_ms, NULL);
		curl_multi_perform(e->multi, &running);
	}
	note_local_ip(e, e->watch);
	while ((msg = curl_multi_info_read(e->multi, &left))) {
		if (msg->msg != CURLMSG_DONE || msg->easy_handle != e->watch)
			continue;
		/* The stream never ends on its own: whatever ended it is an error. */
		if (e->watch_err) {
			ret = e->watch_err;
		} else if (msg->data.result != CURLE_OK) {
			ret = curl_errno(e, msg->data.result);
		} else {
			curl_easy_getinfo(e->watch, CURLINFO_RESPONSE_CODE, &status);
			ret = set_error(e, -ECONNRESET, "watch: the stream ended (HTTP %ld)",
					status);
		}
	}
	if (!ret && e->watch_err)
		ret = e->watch_err;
	if (ret) {
		etcd_watch_stop(e);
		return ret;
	}
	return e->delivered ? 1 : 0;
}
