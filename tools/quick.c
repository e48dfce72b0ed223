/* wg-quick's side of `sealnet up` and `down`: the argument, the hooks, resolvconf. See
 * quick.h; wg-quick (wireguard-tools' src/wg-quick/linux.bash) is the model, step by step. */
#define _GNU_SOURCE /* strchrnul, pipe2 */
#include "quick.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "subcommands.h"

/* Debian's resolvconf orders interfaces by name patterns in this file; wg-quick names its
 * entry after the first plain "PREFIX*" pattern there ("tun*" on Debian: tun.wg0), and uses
 * the bare interface name when the file does not exist (openresolv, systemd-resolved's
 * resolvconf, which would take "tun.wg0" for interface "tun"). */
#define RESOLVCONF_ORDER "/etc/resolvconf/interface-order"

static bool ends_with(const char *s, const char *suffix)
{
	size_t len = strlen(s), n = strlen(suffix);

	return len >= n && !strcmp(s + len - n, suffix);
}

int quick_target(const char *cmd, const char *arg, char ifname[IFNAMSIZ], char *path, size_t size,
		 bool *is_file)
{
	const char *base;
	size_t len;

	*is_file = strchr(arg, '/') || ends_with(arg, ".conf");
	if (*is_file) {
		base = strrchr(arg, '/');
		base = base ? base + 1 : arg;
		len = strlen(base);
		if (!ends_with(base, ".conf") || len - 5 >= IFNAMSIZ) {
			fprintf(stderr,
				"%s: %s: `%s': the file name must be an interface name (at most %d "
				"characters) followed by .conf\n",
				PROG_NAME, cmd, arg, IFNAMSIZ - 1);
			return EXIT_USAGE;
		}
		memcpy(ifname, base, len - 5);
		ifname[len - 5] = '\0';
		snprintf(path, size, "%s", arg);
	} else {
		if (strlen(arg) >= IFNAMSIZ) {
			fprintf(stderr, "%s: %s: invalid interface name `%s'\n", PROG_NAME, cmd,
				arg);
			return EXIT_USAGE;
		}
		snprintf(ifname, IFNAMSIZ, "%s", arg);
		snprintf(path, size, PATHS_CONFIG_DIR "/%s.conf", ifname);
	}
	if (!ipc_valid_name(ifname)) {
		fprintf(stderr,
			"%s: %s: invalid interface name `%s' (1 to %d of A-Z a-z 0-9 _ = + . -)\n",
			PROG_NAME, cmd, ifname, IFNAMSIZ - 1);
		return EXIT_USAGE;
	}
	return 0;
}

int quick_load(const char *cmd, const char *path, struct config **out)
{
	char err[512];

	config_set_quick_runner(true);
	/* The daemon reads the same file next (up) or did (down) and warns itself. */
	log_set_level(LOG_ERR);
	if (config_load_unresolved(path, out, err, sizeof(err))) {
		fprintf(stderr, "%s: %s: %s\n", PROG_NAME, cmd, err);
		return 1;
	}
	return 0;
}

/* Runs argv (argv[0] looked up in PATH) with input, if any, on its stdin. Returns its exit
 * status (128 + N for a signal, as a shell says it), or -errno if it could not run. */
static int run(char *const argv[], const char *input)
{
	void (*old_pipe)(int) = SIG_ERR;
	int pipefd[2] = { -1, -1 }, status, ret = 0;
	size_t len, done = 0;
	ssize_t n;
	pid_t pid;

	if (input && pipe2(pipefd, O_CLOEXEC))
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		goto out;
	}
	if (pid == 0) {
		if (input && dup2(pipefd[0], STDIN_FILENO) < 0)
			_exit(127);
		execvp(argv[0], argv);
		fprintf(stderr, "%s: cannot run %s: %s\n", PROG_NAME, argv[0], strerror(errno));
		_exit(127);
	}
	if (input) {
		close(pipefd[0]);
		pipefd[0] = -1;
		/* A command that does not read its input must fail by its status, not kill us. */
		old_pipe = signal(SIGPIPE, SIG_IGN);
		for (len = strlen(input); done < len; done += (size_t)n) {
			n = write(pipefd[1], input + done, len - done);
			if (n < 0 && errno == EINTR)
				n = 0;
			else if (n < 0)
				break;
		}
		close(pipefd[1]);
		pipefd[1] = -1;
		if (old_pipe != SIG_ERR)
			signal(SIGPIPE, old_pipe);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			ret = -errno;
			goto out;
		}
	}
	ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
out:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	return ret;
}

/* hook with every %i replaced by ifname, as wg-quick's ${hook//%i/$INTERFACE}. Returns a
 * string to free, or NULL. */
static char *expand(const char *hook, const char *ifname)
{
	size_t n = 0, len = strlen(ifname);
	const char *s;
	char *out, *o;

	for (s = strstr(hook, "%i"); s; s = strstr(s + 2, "%i"))
		n++;
	out = malloc(strlen(hook) + n * len + 1);
	if (!out)
		return NULL;
	for (o = out; *hook;) {
		if (hook[0] == '%' && hook[1] == 'i') {
			memcpy(o, ifname, len);
			o += len;
			hook += 2;
		} else {
			*o++ = *hook++;
		}
	}
	*o = '\0';
	return out;
}

int quick_run_hooks(const char *cmd, const struct config *c, enum config_hook hook,
		    const char *ifname)
{
	const struct config_list *l = &c->hooks[hook];

	for (size_t i = 0; i < l->n; i++) {
		char *line = expand(l->items[i], ifname);
		int ret;

		if (!line) {
			fprintf(stderr, "%s: %s %s: %s: out of memory\n", PROG_NAME, cmd, ifname,
				config_hook_names[hook]);
			return 1;
		}
		fprintf(stderr, "[#] %s\n", line);
		ret = run((char *const[]){ "bash", "-e", "-o", "pipefail", "-c", line, NULL },
			  NULL);
		if (ret) {
			if (ret < 0)
				fprintf(stderr, "%s: %s %s: %s: cannot run bash: %s\n", PROG_NAME,
					cmd, ifname, config_hook_names[hook], strerror(-ret));
			else
				fprintf(stderr, "%s: %s %s: %s failed (exit %d): %s\n", PROG_NAME,
					cmd, ifname, config_hook_names[hook], ret, line);
			free(line);
			return 1;
		}
		free(line);
	}
	return 0;
}

/* Whether name is an executable file in one of PATH's directories. */
static bool in_path(const char *name)
{
	const char *path = getenv("PATH"), *end;
	char file[PATH_MAX];

	for (; path && *path; path = *end ? end + 1 : end) {
		end = strchrnul(path, ':');
		/* An empty entry is the working directory, as for execvp(). */
		if ((size_t)snprintf(file, sizeof(file), "%.*s/%s", (int)(end - path),
				     end == path ? "." : path, name) < sizeof(file) &&
		    !access(file, X_OK))
			return true;
	}
	return false;
}

static bool has_dns(const struct config *c)
{
	return c->dns_servers.n || c->dns_search.n;
}

int quick_dns_check(const char *cmd, const struct config *c)
{
	if (!has_dns(c) || in_path("resolvconf"))
		return 0;
	fprintf(stderr,
		"%s: %s: DNS is set but there is no resolvconf in PATH to set it with "
		"(install resolvconf, openresolv or systemd-resolved's, as for wg-quick)\n",
		PROG_NAME, cmd);
	return 1;
}

/* wg-quick's resolvconf_iface_prefix() and the interface after it. */
static void resolvconf_name(const char *ifname, char *name, size_t size)
{
	char line[256], *s, *end;
	FILE *f;

	snprintf(name, size, "%s", ifname);
	f = fopen(RESOLVCONF_ORDER, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		for (s = line; *s == ' ' || *s == '\t'; s++)
			;
		end = s + strcspn(s, " \t\n");
		if (end[strspn(end, " \t\n")])
			continue; /* more than one word */
		*end = '\0';
		if (end - s >= 2 && end[-1] == '*' &&
		    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") ==
			    (size_t)(end - s - 1)) {
			snprintf(name, size, "%.*s.%s", (int)(end - s - 1), s, ifname);
			break;
		}
	}
	fclose(f);
}

int quick_dns_set(const char *cmd, const struct config *c, const char *ifname)
{
	char name[IFNAMSIZ + 64], *input = NULL;
	size_t size = 1;
	int ret;

	if (!has_dns(c))
		return 0;
	for (size_t i = 0; i < c->dns_servers.n; i++)
		size += strlen("nameserver \n") + strlen(c->dns_servers.items[i]);
	for (size_t i = 0; i < c->dns_search.n; i++)
		size += strlen("search \n") + strlen(c->dns_search.items[i]);
	input = malloc(size);
	if (!input) {
		fprintf(stderr, "%s: %s %s: out of memory\n", PROG_NAME, cmd, ifname);
		return 1;
	}
	/* wg-quick's lines: one per nameserver, and all search domains on one. */
	input[0] = '\0';
	for (size_t i = 0; i < c->dns_servers.n; i++)
		strcat(strcat(strcat(input, "nameserver "), c->dns_servers.items[i]), "\n");
	for (size_t i = 0; i < c->dns_search.n; i++)
		strcat(strcat(input, i ? " " : "search "), c->dns_search.items[i]);
	if (c->dns_search.n)
		strcat(input, "\n");
	resolvconf_name(ifname, name, sizeof(name));
	fprintf(stderr, "[#] resolvconf -a %s -m 0 -x\n", name);
	ret = run((char *const[]){ "resolvconf", "-a", name, "-m", "0", "-x", NULL }, input);
	free(input);
	if (ret) {
		fprintf(stderr, "%s: %s %s: resolvconf -a %s failed (%s %d)\n", PROG_NAME, cmd,
			ifname, name, ret < 0 ? "error" : "exit", ret < 0 ? -ret : ret);
		return 1;
	}
	return 0;
}

int quick_dns_unset(const char *cmd, const struct config *c, const char *ifname)
{
	char name[IFNAMSIZ + 64];
	int ret;

	if (!has_dns(c))
		return 0;
	resolvconf_name(ifname, name, sizeof(name));
	fprintf(stderr, "[#] resolvconf -d %s -f\n", name);
	ret = run((char *const[]){ "resolvconf", "-d", name, "-f", NULL }, NULL);
	if (ret) {
		fprintf(stderr, "%s: %s %s: resolvconf -d %s failed (%s %d)\n", PROG_NAME, cmd,
			ifname, name, ret < 0 ? "error" : "exit", ret < 0 ? -ret : ret);
		return 1;
	}
	return 0;
}
