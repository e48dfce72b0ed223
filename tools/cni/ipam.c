#define _GNU_SOURCE /* strchrnul, pipe2 */
/* Delegation to the IPAM plugin (SPEC.md section 4): found in CNI_PATH, run with our own
 * environment and configuration, answer read from its stdout. */
#include "cni.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* dir/type for the first directory of cni_path that has an executable of that name. */
static int find_plugin(const char *type, const char *cni_path, char path[PATH_MAX])
{
	const char *dir = cni_path, *end;
	size_t len;

	while (*dir) {
		end = strchrnul(dir, ':');
		len = (size_t)(end - dir);
		if (len > 0 &&
		    snprintf(path, PATH_MAX, "%.*s/%s", (int)len, dir, type) < PATH_MAX &&
		    access(path, X_OK) == 0)
			return 0;
		dir = *end ? end + 1 : end;
	}
	return -ENOENT;
}

static int write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int cni_read_all(int fd, char **out, size_t *out_len)
{
	char *buf = NULL, *bigger;
	size_t len = 0, cap = 0;
	ssize_t n;

	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			if (cap > CNI_INPUT_MAX + 1) {
				free(buf);
				return -EFBIG;
			}
			bigger = realloc(buf, cap);
			if (!bigger) {
				free(buf);
				return -ENOMEM;
			}
			buf = bigger;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
}

/* The plugin's error object, passed on as it is: the spec wants the delegate's error to be
 * the upper plugin's. Output that is not one becomes our own IPAM error. */
static void take_plugin_error(const char *type, int status, const char *output, struct cni_error *e)
{
	struct json_object *obj = json_tokener_parse(output), *v;
	const char *msg = NULL, *details = "";
	int code = 0;

	if (obj && json_object_is_type(obj, json_type_object)) {
		if (json_object_object_get_ex(obj, "code", &v) &&
		    json_object_is_type(v, json_type_int))
			code = json_object_get_int(v);
		if (json_object_object_get_ex(obj, "msg", &v) &&
		    json_object_is_type(v, json_type_string))
			msg = json_object_get_string(v);
		if (json_object_object_get_ex(obj, "details", &v) &&
		    json_object_is_type(v, json_type_string))
			details = json_object_get_string(v);
	}
	/* An error object with its code but an empty message still says what failed: a CNI
	 * error without a message tells the runtime's user nothing. */
	if (code > 0 && msg) {
		cni_fail(e, code, *msg ? msg : "IPAM plugin failed", "%s%sfrom the IPAM plugin %s",
			 details, *details ? ", " : "", type);
	} else if (WIFEXITED(status)) {
		cni_fail(e, CNI_ERR_IPAM, "IPAM plugin failed", "%s exited with %d: %.200s", type,
			 WEXITSTATUS(status), output);
	} else {
		cni_fail(e, CNI_ERR_IPAM, "IPAM plugin failed", "%s killed by signal %d", type,
			 WTERMSIG(status));
	}
	json_object_put(obj);
}

/* An address without a prefix length, of the given family, from the string member key of
 * obj (absent or null: *has false). */
static int parse_gateway(struct json_object *obj, const char *key, int family, struct ip_addr *gw,
			 bool *has)
{
	struct json_object *v;
	struct ip_prefix p;
	const char *s;

	*has = false;
	if (cni_json_member(obj, key, json_type_string, &v) < 0)
		return -EINVAL;
	if (!v)
		return 0;
	s = json_object_get_string(v);
	if (addr_parse_prefix(s, &p) < 0 || strchr(s, '/') || p.addr.family != family)
		return -EINVAL;
	*gw = p.addr;
	*has = true;
	return 0;
}

static int parse_ip(struct json_object *obj, size_t i, struct cni_ip *ip, struct cni_error *e)
{
	struct json_object *v;
	const char *s;

	if (!json_object_is_type(obj, json_type_object))
		return cni_fail(e, CNI_ERR_DECODE, "decoding result", "ips[%zu] is not an object",
				i);
	if (cni_json_member(obj, "address", json_type_string, &v) <= 0)
		return cni_fail(e, CNI_ERR_DECODE, "decoding result",
				"ips[%zu] has no address (a string)", i);
	s = json_object_get_string(v);
	if (addr_parse_prefix(s, &ip->addr) < 0 || !strchr(s, '/'))
		return cni_fail(e, CNI_ERR_DECODE, "decoding result",
				"ips[%zu]: bad address \"%s\"", i, s);
	if (parse_gateway(obj, "gateway", ip->addr.addr.family, &ip->gw, &ip->has_gw) < 0)
		return cni_fail(e, CNI_ERR_DECODE, "decoding result",
				"ips[%zu]: bad gateway %s for %s", i,
				json_object_to_json_string(json_object_object_get(obj, "gateway")),
				s);
	ip->iface = -1;
	if (cni_json_member(obj, "interface", json_type_int, &v) < 0 ||
	    (v && (json_object_get_int64(v) < 0 || json_object_get_int64(v) > INT_MAX)))
		return cni_fail(e, CNI_ERR_DECODE, "decoding result",
				"ips[%zu]: bad interface index", i);
	if (v)
		ip->iface = json_object_get_int(v);
	return 0;
}

static int parse_route(struct json_object *obj, size_t i, struct cni_route *rt, struct cni_error *e)
{
	struct json_object *v;
	const char *s;

	if (cni_json_member(obj, "dst", json_type_string, &v) <= 0)
		return cni_fail(e, CNI_ERR_DECODE, "decoding result",
				"routes[%zu] has no dst (a string)", i);
	s = json_object_get_string(v);
	if (addr_parse_prefix(s, &rt->dst) < 0 || !strchr(s, '/'))
		return cni_fail(e, CNI_ERR_DECODE, "decoding result", "routes[%zu]: bad dst \"%s\"",
				i, s);
	if (parse_gateway(obj, "gw", rt->dst.addr.family, &rt->gw, &rt->has_gw) < 0)
		return cni_fail(e, CNI_ERR_DECODE, "decoding result", "routes[%zu]: bad gw %s", i,
				json_object_to_json_string(json_object_object_get(obj, "gw")));
	return 0;
}

int cni_result_parse(struct json_object *obj, struct cni_ipam_result *r, struct cni_error *e)
{
	struct json_object *ips, *routes;
	size_t i, n;
	int ret;

	if (!json_object_is_type(obj, json_type_object))
		return cni_fail(e, CNI_ERR_DECODE, "decoding result",
				"the result is not an object");
	r->n_ips = 0;
	r->n_routes = 0;
	r->routes_json = NULL;
	r->dns = NULL;
	if (cni_json_member(obj, "ips", json_type_array, &ips) < 0)
		return cni_fail(e, CNI_ERR_DECODE, "decoding result", "ips is not a list");
	n = ips ? json_object_array_length(ips) : 0;
	if (n > CNI_MAX_IPS)
		return cni_fail(e, CNI_ERR_IPAM, "too many addresses", "%zu addresses, at most %d",
				n, CNI_MAX_IPS);
	for (i = 0; i < n; i++) {
		ret = parse_ip(json_object_array_get_idx(ips, i), i, &r->ips[i], e);
		if (ret < 0)
			return ret;
	}
	r->n_ips = n;
	if (cni_json_member(obj, "routes", json_type_array, &routes) < 0)
		return cni_fail(e, CNI_ERR_DECODE, "decoding result", "routes is not a list");
	n = routes ? json_object_array_length(routes) : 0;
	if (n > CNI_MAX_ROUTES)
		return cni_fail(e, CNI_ERR_IPAM, "too many routes", "%zu routes, at most %d", n,
				CNI_MAX_ROUTES);
	for (i = 0; i < n; i++) {
		ret = parse_route(json_object_array_get_idx(routes, i), i, &r->routes[i], e);
		if (ret < 0)
			return ret;
	}
	r->n_routes = n;
	r->routes_json = routes;
	if (cni_json_member(obj, "dns", json_type_object, &r->dns) < 0)
		return cni_fail(e, CNI_ERR_DECODE, "decoding result", "dns is not an object");
	return 0;
}

void cni_ipam_result_free(struct cni_ipam_result *r)
{
	if (!r)
		return;
	json_object_put(r->json);
	memset(r, 0, sizeof(*r));
}

static int run_plugin(const char *path, const char *command, const char *config, size_t config_len,
		      char **output, size_t *output_len, int *status)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 };
	pid_t pid;
	int ret;

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		ret = -errno;
		goto out_close;
	}
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		goto out_close;
	}
	if (pid == 0) {
		char *argv[] = { (char *)(uintptr_t)path, NULL };

		/* The delegate gets every variable we were given; only the command may
		 * differ (a DEL that undoes a failed ADD). */
		if (dup2(in[0], STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0 ||
		    setenv("CNI_COMMAND", command, 1) < 0)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		execve(path, argv, environ);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	in[0] = out[1] = -1;
	/* The plugin reads all of its configuration before it writes anything (so does every
	 * plugin built on the reference library), so writing it all first cannot deadlock.
	 * EPIPE (SIGPIPE is ignored) only means it exited early: its status tells why. */
	ret = write_all(in[1], config, config_len);
	close(in[1]);
	in[1] = -1;
	if (ret < 0 && ret != -EPIPE)
		goto out_wait;
	ret = cni_read_all(out[0], output, output_len);
out_wait:
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR) {
			if (ret == 0) {
				ret = -errno;
				free(*output);
				*output = NULL;
			}
			break;
		}
	}
out_close:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	return ret;
}

int cni_ipam_answer(const char *type, int status, const char *output, size_t output_len,
		    struct cni_ipam_result *out, struct cni_error *e)
{
	struct json_tokener *tok = NULL;
	struct json_object *obj = NULL;
	int ret = 0;

	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		take_plugin_error(type, status, output, e);
		return -EIO;
	}
	if (!out)
		return 0;
	memset(out, 0, sizeof(*out));
	tok = json_tokener_new();
	if (!tok)
		return cni_fail(e, CNI_ERR_SYSTEM, "out of memory", "parsing %s's answer", type);
	obj = json_tokener_parse_ex(tok, output, (int)output_len);
	if (!obj || json_tokener_get_error(tok) != json_tokener_success) {
		ret = cni_fail(e, CNI_ERR_IPAM, "IPAM plugin's answer is not JSON", "%s: %s", type,
			       json_tokener_error_desc(json_tokener_get_error(tok)));
		goto out;
	}
	ret = cni_result_parse(obj, out, e);
	if (ret < 0)
		goto out;
	if (out->n_ips == 0) {
		ret = cni_fail(e, CNI_ERR_IPAM, "IPAM plugin gave no address", "%s", type);
		goto out;
	}
	out->json = obj;
	obj = NULL;
out:
	json_object_put(obj);
	json_tokener_free(tok);
	return ret;
}

int cni_ipam_exec(const char *type, const char *cni_path, const char *command, const char *config,
		  size_t config_len, struct cni_ipam_result *out, struct cni_error *e)
{
	char path[PATH_MAX];
	char *output = NULL;
	size_t output_len = 0;
	int status = 0, ret;

	if (find_plugin(type, cni_path, path) < 0)
		return cni_fail(e, CNI_ERR_IPAM, "IPAM plugin not found",
				"no executable \"%s\" in CNI_PATH %s", type, cni_path);
	ret = run_plugin(path, command, config, config_len, &output, &output_len, &status);
	if (ret < 0)
		return cni_fail(e, CNI_ERR_IPAM, "IPAM plugin failed", "running %s: %s", path,
				strerror(-ret));
	ret = cni_ipam_answer(type, status, output, output_len, out, e);
	free(output);
	return ret;
}
