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

struct daemon {
	struct event_base *base;
	struct device *dev;
	struct uapi *uapi;
	const char *config_path;
	char pidfile[256];
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

/* SIGINT and SIGTERM stop, SIGUSR1 logs the counters, SIGHUP reloads: into sigs[4], which
 * the caller frees. Returns 0 or -ENOMEM. */
static int add_signals(struct daemon *d, struct event *sigs[4])
{
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
static int drop_privileges(const struct daemon *d, const struct config *conf)
{
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

int main(int argc, char **argv)
{
	const char *config_path, *ifname;
	char err[512];
	struct event *sigs[4] = { 0 };
	struct event_base *base = NULL;
	struct device *dev = NULL;
	struct config *conf = NULL;
	struct uapi *uapi = NULL;
	struct metrics *metrics = NULL;
	struct droplog *droplog = NULL;
	struct daemon d = { 0 };
	struct options o = { 0 };
	bool log_to_stderr = true;
	int notify_fd = -1, log_fd = -1, null_fd = -1, ret;
	/* ret holds 0 or -errno from the calls below; status is what the process exits with,
	 * a failure until the event loop has run and ended cleanly. */
	int status = EXIT_FAILURE;

	status = parse_args(argc, argv, &o);
	if (status >= 0)
		return status;
	status = EXIT_FAILURE;
	config_path = o.config_path;
	ifname = o.ifname;
	/* In the foreground the caller holds the pid already; several test nodes with the same
	 * interface name in different namespaces must not fight over one file. */
	if (o.pidfile)
		snprintf(d.pidfile, sizeof(d.pidfile), "%s", o.pidfile);
	else if (!o.foreground)
		snprintf(d.pidfile, sizeof(d.pidfile), PATHS_RUN_DIR "/%s.pid", ifname);
	if (setup_logging(&o, &log_fd, &log_to_stderr))
		return EXIT_FAILURE;
	/* cipher_init() says what went wrong. */
	if (cipher_init())
		return EXIT_FAILURE;
	/* Before the config, so the helper holds no copy of the private key. */
	ret = privdrop_prepare();
	if (ret) {
		log_err("cannot start the privileged helper: %s", strerror(-ret));
		return EXIT_FAILURE;
	}
	if (o.bare ? config_parse_string("", ifname, &conf, err, sizeof(err))
		   : config_load(config_path, &conf, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return EXIT_FAILURE;
	}
	/* privdrop_apply() would find out later, with no file or line to name. */
	if (conf->user && !getpwnam(conf->user)) {
		fprintf(stderr, "%s:%d: User: no such user \"%s\"\n", config_path, conf->user_line,
			conf->user);
		goto out;
	}
	if (o.bare)
		config_path = NULL;
	ret = o.foreground ? 0 : daemonize(&notify_fd);
	if (ret) {
		log_err("cannot daemonize: %s", strerror(-ret));
		goto out;
	}
	umask(077);
	signal(SIGPIPE, SIG_IGN);

	base = event_base_new();
	if (!base) {
		log_err("cannot create the event loop");
		goto out;
	}
	if (device_new(base, ifname, conf->offload, &dev))
		goto out;
	dev->manage_net = !o.bare;
	if (o.bare && netlink_set_mtu(dev->nl, dev->ifindex, dev->mtu))
		log_warn("%s: cannot set MTU %u", dev->ifname, dev->mtu);
	if (device_apply(dev, conf))
		goto out;
	if (droplog_new(dev, &droplog)) {
		log_err("%s: out of memory", dev->ifname);
		goto out;
	}
	ret = uapi_open(dev, NULL, config_path, &uapi);
	if (ret) {
		log_err("%s: cannot open the control socket in " PATHS_SOCKET_DIR ": %s",
			dev->ifname,
			ret == -EADDRINUSE ? "another daemon runs this interface" : strerror(-ret));
		goto out;
	}
	if (conf->metrics_listen.sa.sa_family) {
		ret = metrics_open(dev, &conf->metrics_listen, &metrics);
		if (ret) {
			log_err("%s: MetricsListen %s: cannot listen: %s", dev->ifname,
				addr_endpoint_str(&conf->metrics_listen, err), strerror(-ret));
			goto out;
		}
	}

	d.base = base;
	d.dev = dev;
	d.uapi = uapi;
	d.config_path = config_path;
	if (add_signals(&d, sigs)) {
		log_err("cannot install signal handlers");
		goto out;
	}
	ret = d.pidfile[0] ? write_pidfile(&d) : 0;
	if (ret) {
		log_err("%s: cannot write pid file: %s", d.pidfile, strerror(-ret));
		d.pidfile[0] = '\0';
		goto out;
	}
	/* A daemon's stdio goes to /dev/null, opened while files may still be opened for
	 * writing. */
	if (notify_fd >= 0) {
		null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null_fd < 0) {
			log_err("/dev/null: %s", strerror(errno));
			goto out;
		}
	}
	/* Everything that needs root exists now. */
	if (drop_privileges(&d, conf) || device_start_threads(dev, conf->threads))
		goto out;
	config_free(conf);
	conf = NULL;
	if (notify_fd >= 0) {
		char ok = 0;

		if (write(notify_fd, &ok, 1) != 1)
			goto out;
		close(notify_fd);
		notify_fd = -1;
		detach_stdio(null_fd, log_fd);
		null_fd = -1;
		if (log_fd > STDERR_FILENO)
			close(log_fd);
		log_fd = -1;
		log_init("sealnetd", log_to_stderr, log_level(o.verbosity));
	}
	/* After the switch, so that the log of a daemon says it came up. */
	log_notice("%s: up, UDP port %u, MTU %u%s", dev->ifname, dev->udp.port, dev->mtu,
		   o.bare ? ", no config file: configured through " PATHS_SOCKET_DIR " only" : "");
	if (event_base_dispatch(base) < 0)
		log_err("event loop failed");
	else
		status = EXIT_SUCCESS;
out:
	if (d.pidfile[0] && d.dev)
		unlink(d.pidfile);
	for (int i = 0; i < 4; i++)
		if (sigs[i])
			event_free(sigs[i]);
	metrics_close(metrics);
	uapi_close(uapi);
	droplog_free(droplog);
	device_free(dev);
	config_free(conf);
	if (base)
		event_base_free(base);
	if (notify_fd >= 0)
		close(notify_fd);
	if (null_fd >= 0)
		close(null_fd);
	if (log_fd > STDERR_FILENO)
		close(log_fd);
	return status;
}
