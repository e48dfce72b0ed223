/* sealnetd: parse the command line, read the config, build the device, run the loop. The
 * only file that exits. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cipher.h"
#include "config.h"
#include "device.h"
#include "droplog.h"
#include "log.h"
#include "paths.h"
#include "metrics.h"
#include "netlink.h"
#include "privdrop.h"
#include "uapi.h"

#ifndef SEALNET_VERSION
#define SEALNET_VERSION "unknown" /* the Makefile says: git describe */
#endif

/* What the daemon holds from start to exit; close_all() lets go of whatever is there. */
struct daemon {
	struct event_base *base;
	struct device *dev;
	struct uapi *uapi;
	struct metrics *metrics;
	struct droplog *droplog;
	struct config *conf; /* until the drop: the start needs nothing of it after that */
	struct event *sigs[4];
	const char *config_path; /* NULL when bare */
	char pidfile[256];
	bool pidfile_written; /* ours to remove: a failed start leaves another daemon's alone */
	int notify_fd;        /* a daemon's pipe to the parent waiting for "setup worked", or -1 */
	int log_fd, null_fd;
	bool log_to_stderr;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sealnetd [-f] [-v]... [-q] [-c CONFIG] [-p PIDFILE] [-L LOGFILE] IFACE\n"
		"  -f          stay in the foreground, log to stderr\n"
		"  -v          more verbose (repeat for debug)\n"
		"  -q          the caller runs the config's hooks, DNS and SaveConfig (sealnet up)\n"
		"  -c CONFIG   config file (default " PATHS_CONFIG_DIR "/IFACE.conf; when that\n"
		"              does not exist, start empty and configured through the control\n"
		"              socket only, as wireguard-go: no addresses, no routes)\n"
		"  -p PIDFILE  pid file (default " PATHS_RUN_DIR "/IFACE.pid; none with -f)\n"
		"  -L LOGFILE  log to this file (appended) instead of the journal, syslog or\n"
		"              stderr (-l is the same); under systemd the journal (its native\n"
		"              protocol), else syslog; without either a daemonized sealnetd\n"
		"              logs to " PATHS_RUN_DIR "/IFACE.log\n"
		"  -h, --help     this help\n"
		"  -V, --version  the version\n"
		"Signals: SIGINT/SIGTERM stop, SIGHUP reloads the config, SIGUSR1 logs the\n"
		"counters. Deleting the interface (ip link del) stops the daemon.\n");
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;

	log_notice("signal %d: shutting down", (int)sig);
	event_base_loopbreak(base);
}

static void on_usr1(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	device_log_counters(d->dev);
}

/* Through the control socket's jobs, as `sealnet reload`: in slices, after the change that
 * runs, never two at once. */
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	uapi_reload(d->uapi);
}

/* The pid file tells `sealnet down` and `sealnet reload` whom to signal. It is written as
 * root under a name mkstemp() makes (O_EXCL, so never through a link someone planted there)
 * in the pid file's own directory, then renamed over it: a reader sees the old file or the
 * new one, and a link at the pid file's name is replaced, not followed. */
static int write_pidfile(struct daemon *d)
{
	char tmp[sizeof(d->pidfile) + 8], line[24];
	int fd, len, ret = 0;

	if (!strncmp(d->pidfile, PATHS_RUN_DIR "/", sizeof(PATHS_RUN_DIR)))
		mkdir(PATHS_RUN_DIR, 0755);
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", d->pidfile);
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	len = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	if (write(fd, line, (size_t)len) != len)
		ret = -EIO;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, d->pidfile))
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

/* Forks; the parent waits until the child reports that setup worked, so a broken config or a
 * missing privilege still fails the command that started the daemon. */
static int daemonize(int *notify_fd)
{
	int pipefd[2];
	pid_t pid;
	char status = 1;

	if (pipe(pipefd))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(pipefd[1]);
		if (read(pipefd[0], &status, 1) != 1)
			status = 1;
		_exit(status ? EXIT_FAILURE : EXIT_SUCCESS);
	}
	close(pipefd[0]);
	if (setsid() < 0)
		return -errno;
	*notify_fd = pipefd[1];
	return 0;
}

/* A daemon without a syslog to write to (a container, a minimal system) would lose every
 * message, a refused reload's reason among them: it then logs to PATHS_RUN_DIR/IFACE.log.
 * Not to the stderr it was started with: a caller reading that through a pipe, as
 * `out=$(wg-quick up wg0 2>&1)` does, would wait for its end forever. */
static bool syslog_present(void)
{
	struct stat st;

	return !stat("/dev/log", &st) && S_ISSOCK(st.st_mode);
}

/* stderr goes to log_fd when there is one (and stays as it is when that is stderr). fd is
 * /dev/null, opened before the privilege drop (the filter lets nothing be opened for writing
 * after it), and is closed here. */
static void detach_stdio(int fd, int log_fd)
{
	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	if (log_fd < 0)
		dup2(fd, STDERR_FILENO);
	else if (log_fd != STDERR_FILENO)
		dup2(log_fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

/* Opened as root, before the privilege drop; the log is only ever appended to. */
static int open_logfile(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	return fd < 0 ? -errno : fd;
}

/* SIGINT and SIGTERM stop, SIGUSR1 logs the counters, SIGHUP reloads: into d->sigs, which
 * close_all() frees. Returns 0 or -ENOMEM. */
static int add_signals(struct daemon *d)
{
	struct event **sigs = d->sigs;

	sigs[0] = evsignal_new(d->base, SIGINT, on_stop, d->base);
	sigs[1] = evsignal_new(d->base, SIGTERM, on_stop, d->base);
	sigs[2] = evsignal_new(d->base, SIGUSR1, on_usr1, d);
	sigs[3] = evsignal_new(d->base, SIGHUP, on_hup, d);
	for (int i = 0; i < 4; i++)
		if (!sigs[i] || evsignal_add(sigs[i], NULL))
			return -ENOMEM;
	return 0;
}

/* The drop (privdrop.h): the helper, if there is one, will read d's config file only, and
 * remove the control socket and the pid file once the daemon is gone. Returns 0 or -errno. */
static int drop_privileges(const struct daemon *d)
{
	const struct config *conf = d->conf;
	char sockpath[sizeof(PATHS_SOCKET_DIR) + IFNAMSIZ + 8];
	struct privdrop_opts po = {
		.user = conf->user,
		.sandbox = conf->sandbox,
		.config_path = d->config_path, /* NULL when bare */
		.remove = { sockpath, d->pidfile[0] ? d->pidfile : NULL },
		.ifindex = d->dev->ifindex,
	};

	snprintf(sockpath, sizeof(sockpath), PATHS_SOCKET_DIR "/%s.sock", d->dev->ifname);
	return privdrop_apply(&po);
}

/* What the command line asks for. */
struct options {
	const char *config_path, *pidfile, *logfile, *ifname;
	char default_path[256];
	bool foreground, bare;
	int verbosity;
};

static int log_level(int verbosity)
{
	return verbosity >= 2 ? LOG_DEBUG : verbosity ? LOG_INFO : LOG_NOTICE;
}

/* Fills o from the command line. Returns -1 to go on, else the status to exit with (0 for
 * --help and --version, 2 for a command line it does not understand). */
static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option long_opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "fvqc:p:L:l:hV", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			o->foreground = true;
			break;
		case 'v':
			o->verbosity++;
			break;
		case 'q':
			config_set_quick_runner(true);
			break;
		case 'c':
			o->config_path = optarg;
			break;
		case 'p':
			o->pidfile = optarg;
			break;
		case 'L':
		case 'l': /* the first name it had: kept for the command lines that use it */
			o->logfile = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		case 'V':
			printf("sealnetd %s\n", SEALNET_VERSION);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		if (optind == argc)
			fprintf(stderr, "sealnetd: the interface name is missing\n");
		else
			fprintf(stderr,
				"sealnetd: unexpected argument \"%s\" after the interface "
				"name\n",
				argv[optind + 1]);
		usage(stderr);
		return 2;
	}
	o->ifname = argv[optind];
	if (!*o->ifname || strlen(o->ifname) >= IFNAMSIZ || strchr(o->ifname, '/')) {
		fprintf(stderr, "sealnetd: bad interface name \"%s\"\n", o->ifname);
		return 2;
	}
	/* Without a file of its own the daemon is what wireguard-go is: wg-quick and every
	 * wireguard-go user start it with the interface name alone, then configure it with
	 * `wg setconf`, and do addresses, MTU and routes themselves. */
	if (!o->config_path) {
		snprintf(o->default_path, sizeof(o->default_path), PATHS_CONFIG_DIR "/%s.conf",
			 o->ifname);
		o->config_path = o->default_path;
		o->bare = access(o->default_path, F_OK) && errno == ENOENT;
	}
	return -1;
}

/* Where the log goes: -L's file (stderr from here on, startup errors included), the journal
 * under systemd, syslog, or, for a daemon with neither, PATHS_RUN_DIR/IFACE.log, whose
 * descriptor goes to *log_fd (-1 for none) until the daemon detaches its stdio.
 * *log_to_stderr says whether lines go to stderr once detached. Returns 0, or -errno after
 * saying why on stderr. */
static int setup_logging(const struct options *o, int *log_fd, bool *log_to_stderr)
{
	char default_log[sizeof(PATHS_RUN_DIR) + IFNAMSIZ + 8];
	const char *journal = NULL;
	int ret;

	*log_fd = -1;
	if (o->logfile) {
		ret = open_logfile(o->logfile);
		if (ret < 0 || dup2(ret, STDERR_FILENO) < 0) {
			ret = ret < 0 ? ret : -errno;
			fprintf(stderr, "sealnetd: %s: cannot open the log file: %s\n", o->logfile,
				strerror(-ret));
			return ret;
		}
		close(ret);
		*log_fd = STDERR_FILENO;
	}
	/* Under systemd (or where a test names a socket) each line is a journal entry with its
	 * priority; a journal that does not answer leaves us with what we would do without. */
	if (!o->logfile)
		journal = log_journal_path();
	if (journal && (ret = log_open_journal(journal))) {
		fprintf(stderr, "sealnetd: %s: cannot reach the journal: %s\n", journal,
			strerror(-ret));
		journal = NULL;
	}
	*log_to_stderr = o->foreground || o->logfile || (!journal && !syslog_present());
	if (!o->foreground && !o->logfile && !journal && *log_to_stderr) {
		snprintf(default_log, sizeof(default_log), PATHS_RUN_DIR "/%s.log", o->ifname);
		mkdir(PATHS_RUN_DIR, 0755);
		*log_fd = open_logfile(default_log);
		if (*log_fd < 0) {
			fprintf(stderr, "sealnetd: no syslog, and cannot open %s: %s\n",
				default_log, strerror(-*log_fd));
			return *log_fd;
		}
	}
	log_init("sealnetd", true, log_level(o->verbosity));
	return 0;
}

/* Reads the config (or none, bare), and checks what only the start can: a User = that does
 * not exist would fail the drop later with no file or line to name. 0 or -1 after saying
 * why. */
static int load_config(struct daemon *d, const struct options *o)
{
	char err[512];

	if (o->bare ? config_parse_string("", o->ifname, &d->conf, err, sizeof(err))
		    : config_load(o->config_path, &d->conf, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	if (d->conf->user && !getpwnam(d->conf->user)) {
		fprintf(stderr, "%s:%d: User: no such user \"%s\"\n", o->config_path,
			d->conf->user_line, d->conf->user);
		return -1;
	}
	d->config_path = o->bare ? NULL : o->config_path;
	return 0;
}

/* The event loop and everything on it: the device as the config says, the drop log, the
 * control socket, the metrics page, the signals, the pid file. 0 or -1 (logged). */
static int open_services(struct daemon *d, const struct options *o)
{
	char buf[ADDR_STRLEN];
	int ret;

	d->base = event_base_new();
	if (!d->base) {
		log_err("cannot create the event loop");
		return -1;
	}
	if (device_new(d->base, o->ifname, d->conf->offload, &d->dev))
		return -1;
	d->dev->manage_net = !o->bare;
	if (o->bare && netlink_set_mtu(d->dev->nl, d->dev->ifindex, d->dev->mtu))
		log_warn("%s: cannot set MTU %u", d->dev->ifname, d->dev->mtu);
	if (device_apply(d->dev, d->conf))
		return -1;
	if (droplog_new(d->dev, &d->droplog)) {
		log_err("%s: out of memory", d->dev->ifname);
		return -1;
	}
	ret = uapi_open(d->dev, NULL, d->config_path, &d->uapi);
	if (ret) {
		log_err("%s: cannot open the control socket in " PATHS_SOCKET_DIR ": %s",
			d->dev->ifname,
			ret == -EADDRINUSE ? "another daemon runs this interface" : strerror(-ret));
		return -1;
	}
	if (d->conf->metrics_listen.sa.sa_family) {
		ret = metrics_open(d->dev, &d->conf->metrics_listen, &d->metrics);
		if (ret) {
			log_err("%s: MetricsListen %s: cannot listen: %s", d->dev->ifname,
				addr_endpoint_str(&d->conf->metrics_listen, buf), strerror(-ret));
			return -1;
		}
	}
	if (add_signals(d)) {
		log_err("cannot install signal handlers");
		return -1;
	}
	ret = d->pidfile[0] ? write_pidfile(d) : 0;
	if (ret) {
		log_err("%s: cannot write pid file: %s", d->pidfile, strerror(-ret));
		return -1;
	}
	d->pidfile_written = d->pidfile[0];
	return 0;
}

/* Everything that needs root exists: drop the privileges, start the crypto threads, and for
 * a daemon tell the parent that setup worked and let go of the terminal. 0 or -1 (logged). */
static int go_live(struct daemon *d, const struct options *o)
{
	char ok = 0;

	/* A daemon's stdio goes to /dev/null, opened while files may still be opened for
	 * writing. */
	if (d->notify_fd >= 0) {
		d->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (d->null_fd < 0) {
			log_err("/dev/null: %s", strerror(errno));
			return -1;
		}
	}
	if (drop_privileges(d) || device_start_threads(d->dev, d->conf->threads))
		return -1;
	config_free(d->conf);
	d->conf = NULL;
	if (d->notify_fd < 0)
		return 0;
	if (write(d->notify_fd, &ok, 1) != 1)
		return -1;
	close(d->notify_fd);
	d->notify_fd = -1;
	detach_stdio(d->null_fd, d->log_fd);
	d->null_fd = -1;
	if (d->log_fd > STDERR_FILENO)
		close(d->log_fd);
	d->log_fd = -1;
	log_init("sealnetd", d->log_to_stderr, log_level(o->verbosity));
	return 0;
}

static void close_all(struct daemon *d)
{
	if (d->pidfile_written)
		unlink(d->pidfile);
	for (size_t i = 0; i < sizeof(d->sigs) / sizeof(d->sigs[0]); i++)
		if (d->sigs[i])
			event_free(d->sigs[i]);
	metrics_close(d->metrics);
	uapi_close(d->uapi);
	droplog_free(d->droplog);
	device_free(d->dev);
	config_free(d->conf);
	if (d->base)
		event_base_free(d->base);
	if (d->notify_fd >= 0)
		close(d->notify_fd);
	if (d->null_fd >= 0)
		close(d->null_fd);
	if (d->log_fd > STDERR_FILENO)
		close(d->log_fd);
}

int main(int argc, char **argv)
{
	struct daemon d = { .notify_fd = -1, .log_fd = -1, .null_fd = -1 };
	struct options o = { 0 };
	/* A failure until the event loop has run and ended cleanly. */
	int status = EXIT_FAILURE, ret;

	ret = parse_args(argc, argv, &o);
	if (ret >= 0)
		return ret;
	/* In the foreground the caller holds the pid already; several test nodes with the same
	 * interface name in different namespaces must not fight over one file. */
	if (o.pidfile)
		snprintf(d.pidfile, sizeof(d.pidfile), "%s", o.pidfile);
	else if (!o.foreground)
		snprintf(d.pidfile, sizeof(d.pidfile), PATHS_RUN_DIR "/%s.pid", o.ifname);
	if (setup_logging(&o, &d.log_fd, &d.log_to_stderr))
		return EXIT_FAILURE;
	/* cipher_init() and cipher_aead_init() say what went wrong. */
	if (cipher_init() || cipher_aead_init())
		return EXIT_FAILURE;
	/* Before the config, so the helper holds no copy of the private key. */
	ret = privdrop_prepare();
	if (ret) {
		log_err("cannot start the privileged helper: %s", strerror(-ret));
		return EXIT_FAILURE;
	}
	if (load_config(&d, &o))
		goto out;
	ret = o.foreground ? 0 : daemonize(&d.notify_fd);
	if (ret) {
		log_err("cannot daemonize: %s", strerror(-ret));
		goto out;
	}
	umask(077);
	signal(SIGPIPE, SIG_IGN);
	if (open_services(&d, &o) || go_live(&d, &o))
		goto out;
	/* After the switch, so that the log of a daemon says it came up. */
	log_notice("%s: up, UDP port %u, MTU %u%s", d.dev->ifname, d.dev->udp.port, d.dev->mtu,
		   o.bare ? ", no config file: configured through " PATHS_SOCKET_DIR " only" : "");
	if (event_base_dispatch(d.base) < 0)
		log_err("event loop failed");
	else
		status = EXIT_SUCCESS;
out:
	close_all(&d);
	return status;
}
