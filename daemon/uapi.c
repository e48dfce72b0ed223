/* The control socket's server (uapi.h): the listening socket, its clients and their
 * buffers, a request read whole from each, the one job at a time that a set or a reload
 * becomes (uapi_request.c) and a get written as the socket drains (uapi_get.c). */
#include "uapi.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "device.h"
#include "listener.h"
#include "log.h"
#include "paths.h"
#include "uapi_priv.h"

/* A set with every peer of a large cluster fits many times over. */
#define UAPI_MAX_REQUEST (16u << 20)
/* A client that sends nothing or reads nothing for this long is dropped. */
#define UAPI_TIMEOUT_SEC 10
/* Clients at once (wg, sealnet, the registry): more wait in the kernel's backlog. */
#define UAPI_MAX_CLIENTS 16
#define UAPI_BACKLOG 16

static const struct timeval timeout = { .tv_sec = UAPI_TIMEOUT_SEC };

/* Peers a get writes per turn of the event loop (about 16 us each): the rest follow as the
 * socket drains. */
#define UAPI_GET_PEERS 128

struct uapi_client {
	TAILQ_ENTRY(uapi_client) link;
	struct uapi *u;
	struct bufferevent *bev;
	bool closing;
	/* The client has sent everything (EOF): what it sent is still answered, in order, and
	 * then it goes. */
	bool eof;
	struct uapi_pending pd; /* its get; its job is u->job */
	/* How much of the input holds no "\n\n": a request of megabytes arrives in many reads,
	 * and searching it from the start after each would cost its square. */
	size_t searched;
};

/* One job at a time: while a set or a reload is parsed and applied in slices, every other
 * client's requests wait in their sockets, in order, and a SIGHUP's reload waits for its
 * end (the datapath and the timers keep running); the client that sent it gets its answer
 * after the last slice. */
struct uapi {
	struct device *dev;
	struct evconnlistener *listener;
	struct listener *guard;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *config_path;
	TAILQ_HEAD(, uapi_client) clients;
	struct uapi_pending job;        /* none runs unless uapi_pending_work() */
	struct uapi_client *job_client; /* whom to answer; NULL once gone */
	struct event *job_ev;
	bool hup; /* a SIGHUP's reload waits for the job that runs */
};

/* Drains len bytes of what a client wrote, wiping them first: libevent frees its buffers
 * without, and a set carries keys. */
static void drain_wiped(struct evbuffer *in, size_t len)
{
	struct evbuffer_iovec v[16];
	size_t left = len;

	while (left) {
		int n = evbuffer_peek(in, (ev_ssize_t)left, NULL, v, 16);

		if (n <= 0)
			break;
		for (int i = 0; i < n && i < 16; i++) {
			size_t k = v[i].iov_len < left ? v[i].iov_len : left;

			sodium_memzero(v[i].iov_base, k);
			evbuffer_drain(in, k);
			left -= k;
		}
	}
}

static void client_free(struct uapi_client *cl)
{
	struct evbuffer *in = bufferevent_get_input(cl->bev);

	if (cl->pd.get)
		device_cursor_close(&cl->pd.cursor);
	/* Its job runs on: what was asked is done, only the answer has nowhere to go. */
	if (cl->u->job_client == cl)
		cl->u->job_client = NULL;
	TAILQ_REMOVE(&cl->u->clients, cl, link);
	drain_wiped(in, evbuffer_get_length(in));
	bufferevent_free(cl->bev);
	listener_closed(cl->u->guard);
	free(cl);
}

/* The next UAPI_GET_PEERS peers of a get; the socket's write callback asks for more. */
static void get_more(struct uapi_client *cl)
{
	if (uapi_get_peers(bufferevent_get_output(cl->bev), cl->pd.get_ours, &cl->pd.cursor,
			   UAPI_GET_PEERS)) {
		device_cursor_close(&cl->pd.cursor);
		cl->pd.get = false;
	}
}

/* Whether the client waits on something of its own: a get being written, or its job. */
static bool client_busy(const struct uapi_client *cl)
{
	return cl->pd.get || (uapi_pending_work(&cl->u->job) && cl->u->job_client == cl);
}

static void client_read(struct bufferevent *bev, void *arg);
static void job_again(struct uapi *u);

/* The job's next turn; at its end, the answer, and the requests that waited are served. */
static void job_cb(evutil_socket_t fd, short what, void *arg)
{
	struct uapi *u = arg;
	struct uapi_client *cl, *next;
	int ret = uapi_pending_step(&u->job, DEVICE_TURN_NS);

	if (ret == 1) {
		job_again(u);
		return;
	}
	uapi_pending_end(u->job_client ? bufferevent_get_output(u->job_client->bev) : NULL, &u->job,
			 ret);
	if (u->job_client)
		bufferevent_set_timeouts(u->job_client->bev, &timeout, &timeout);
	u->job_client = NULL;
	if (u->hup) {
		u->hup = false;
		uapi_reload(u);
	}
	for (cl = TAILQ_FIRST(&u->clients); cl && !uapi_pending_work(&u->job); cl = next) {
		next = TAILQ_NEXT(cl, link);
		client_read(cl->bev, cl); /* may free cl */
	}
}

/* The job's next turn comes after the loop has polled the sockets (a timer of 0 s: an
 * event made active again from its own callback could run again before any I/O). */
static void job_again(struct uapi *u)
{
	static const struct timeval now;

	evtimer_add(u->job_ev, &now);
}

/* The first turn of what pd holds: a small set or job ends in it, answered at once to cl
 * (NULL: to no one); else it becomes the job (pd's to take: true), cl's to be answered at
 * its end, and the next turn is asked for. */
static bool job_start(struct uapi *u, struct uapi_pending *pd, struct uapi_client *cl)
{
	int ret = uapi_pending_step(pd, DEVICE_TURN_NS);

	if (ret != 1) {
		uapi_pending_end(cl ? bufferevent_get_output(cl->bev) : NULL, pd, ret);
		return false;
	}
	u->job = *pd;
	u->job_client = cl;
	job_again(u);
	return true;
}

void uapi_reload(struct uapi *u)
{
	struct uapi_pending pd = { .reload = true };

	if (!u->config_path) {
		log_notice("%s: SIGHUP: no config file to reload (started without one)",
			   u->dev->ifname);
		return;
	}
	if (uapi_pending_work(&u->job)) {
		if (!u->hup)
			log_info("%s: SIGHUP: the reload waits for the change that runs",
				 u->dev->ifname);
		u->hup = true;
		return;
	}
	/* Refused or failed: logged, and the log is where its answer goes. */
	if (!device_reload_job(u->dev, u->config_path, &pd.job, pd.err, sizeof(pd.err)))
		job_start(u, &pd, NULL);
}

static void client_request(struct uapi_client *cl, char *req)
{
	struct uapi *u = cl->u;

	uapi_request_begin(u->dev, u->config_path, req, bufferevent_get_output(cl->bev), true,
			   &cl->pd);
	if (cl->pd.get) {
		get_more(cl);
		return;
	}
	if (!uapi_pending_work(&cl->pd) || !job_start(u, &cl->pd, cl))
		return;
	memset(&cl->pd, 0, sizeof(cl->pd));
	/* It sends nothing while it waits, however long the job: no read timeout meanwhile. */
	bufferevent_set_timeouts(cl->bev, NULL, &timeout);
}

/* The next whole request in the input, up to the blank line that ends it (drained with
 * it, wiped): *req, its length *len (to wipe, then free), without that blank line; NULL
 * while none is whole. 0 or -ENOMEM. */
static int next_request(struct uapi_client *cl, struct evbuffer *in, char **req, size_t *len)
{
	struct evbuffer_ptr from, end;

	*req = NULL;
	if (evbuffer_ptr_set(in, &from, cl->searched, EVBUFFER_PTR_SET))
		evbuffer_ptr_set(in, &from, 0, EVBUFFER_PTR_SET);
	end = evbuffer_search(in, "\n\n", 2, &from);
	if (end.pos < 0) {
		*len = evbuffer_get_length(in);
		cl->searched = *len ? *len - 1 : 0; /* the "\n" that may start one */
		return 0;
	}
	cl->searched = 0;
	*len = (size_t)(end.pos + 1);
	*req = malloc(*len + 1);
	if (!*req)
		return -ENOMEM;
	evbuffer_copyout(in, *req, *len);
	(*req)[*len] = '\0';
	drain_wiped(in, *len + 1);
	if ((*req)[*len - 1] == '\n')
		(*req)[*len - 1] = '\0';
	return 0;
}

static void client_read(struct bufferevent *bev, void *arg)
{
	struct uapi_client *cl = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	bool all_read = false; /* no whole request left in the input */
	char *req;
	size_t len;

	/* One request at a time per client, none while a job runs. */
	while (!cl->closing && !uapi_pending_work(&cl->u->job) && !cl->pd.get) {
		if (next_request(cl, in, &req, &len)) {
			cl->closing = true;
			break;
		}
		if (!req) {
			all_read = true;
			break;
		}
		client_request(cl, req);
		sodium_memzero(req, len);
		free(req);
	}
	if (evbuffer_get_length(in) > UAPI_MAX_REQUEST) {
		log_warn("%s: control socket: request over %u bytes, dropping the client",
			 cl->u->dev->ifname, UAPI_MAX_REQUEST);
		cl->closing = true;
		if (cl->pd.get) { /* what it asked for last is not wanted any more */
			device_cursor_close(&cl->pd.cursor);
			cl->pd.get = false;
		}
	}
	if ((cl->closing || (cl->eof && all_read)) && !client_busy(cl) &&
	    !evbuffer_get_length(bufferevent_get_output(bev)))
		client_free(cl);
}

/* The output has drained: more of a get, then the requests that followed it. */
static void client_write(struct bufferevent *bev, void *arg)
{
	struct uapi_client *cl = arg;

	if (cl->pd.get) {
		get_more(cl);
		if (cl->pd.get)
			return;
	}
	if (!cl->closing) {
		client_read(bev, cl);
		return;
	}
	if (!client_busy(cl) && !evbuffer_get_length(bufferevent_get_output(bev)))
		client_free(cl);
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
	struct uapi_client *cl = arg;

	/* EOF: the client has sent everything. Answers still queued or still to come (a get
	 * being written, a job), and those to the requests that wait behind them (a script
	 * may send several and close its side at once), go out first. */
	if ((what & BEV_EVENT_EOF) && !(what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))) {
		cl->eof = true;
		client_read(bev, cl); /* may free cl */
		return;
	}
	client_free(cl);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int socklen, void *arg)
{
	struct uapi *u = arg;
	struct uapi_client *cl;

	cl = calloc(1, sizeof(*cl));
	if (!cl) {
		close(fd);
		return;
	}
	cl->u = u;
	cl->bev = bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
	if (!cl->bev) {
		close(fd);
		free(cl);
		return;
	}
	TAILQ_INSERT_TAIL(&u->clients, cl, link);
	listener_opened(u->guard);
	bufferevent_setcb(cl->bev, client_read, client_write, client_event, cl);
	bufferevent_set_timeouts(cl->bev, &timeout, &timeout);
	bufferevent_enable(cl->bev, EV_READ | EV_WRITE);
}

/* A socket file left by a crashed daemon is removed; one that answers belongs to a running
 * daemon, and we refuse to take its interface name. */
static int claim_path(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, ret = 0;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (!connect(fd, (struct sockaddr *)&sun, sizeof(sun)))
		ret = -EADDRINUSE;
	else if (errno == ECONNREFUSED)
		unlink(path);
	close(fd);
	return ret;
}

/* A listening socket at path, mode 0600: its fd, or -errno with nothing left behind. */
static int listen_at(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, ret;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	old = umask(077);
	ret = bind(fd, (struct sockaddr *)&sun, sizeof(sun)) ? -errno : 0;
	umask(old);
	if (ret)
		goto err_fd;
	if (chmod(path, 0600) || listen(fd, UAPI_BACKLOG)) {
		ret = -errno;
		goto err_unlink;
	}
	return fd;
err_unlink:
	unlink(path);
err_fd:
	close(fd);
	return ret;
}

int uapi_open(struct device *dev, const char *dir, const char *config_path, struct uapi **out)
{
	char what[IFNAMSIZ + 32];
	struct uapi *u;
	int fd, ret;

	if (!dir)
		dir = PATHS_SOCKET_DIR;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->dev = dev;
	TAILQ_INIT(&u->clients);
	u->job_ev = evtimer_new(dev->base, job_cb, u);
	if (!u->job_ev) {
		free(u);
		return -ENOMEM;
	}
	if (config_path && !(u->config_path = strdup(config_path))) {
		ret = -ENOMEM;
		goto err;
	}
	if ((size_t)snprintf(u->path, sizeof(u->path), "%s/%s.sock", dir, dev->ifname) >=
	    sizeof(u->path)) {
		ret = -ENAMETOOLONG;
		goto err;
	}
	if (mkdir(dir, 0755) && errno != EEXIST) {
		ret = -errno;
		goto err;
	}
	ret = claim_path(u->path);
	if (ret)
		goto err;
	fd = listen_at(u->path);
	if (fd < 0) {
		ret = fd;
		goto err;
	}
	u->listener = evconnlistener_new(dev->base, accept_cb, u,
					 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (!u->listener) {
		ret = -ENOMEM;
		goto err_socket;
	}
	snprintf(what, sizeof(what), "%s: control socket", dev->ifname);
	ret = listener_new(u->listener, UAPI_MAX_CLIENTS, what, &u->guard);
	if (ret)
		goto err_listener;
	*out = u;
	return 0;
err_listener:
	evconnlistener_free(u->listener);
	fd = -1; /* closed with it */
err_socket:
	if (fd >= 0)
		close(fd);
	unlink(u->path);
err:
	event_free(u->job_ev);
	free(u->config_path);
	free(u);
	return ret;
}

void uapi_close(struct uapi *u)
{
	struct uapi_client *cl;

	if (!u)
		return;
	while ((cl = TAILQ_FIRST(&u->clients)))
		client_free(cl);
	/* Stopped between two slices: each is whole, what was applied stays. */
	uapi_pending_end(NULL, &u->job, 0);
	event_free(u->job_ev);
	listener_free(u->guard);
	if (u->listener)
		evconnlistener_free(u->listener);
	unlink(u->path);
	free(u->config_path);
	free(u);
}
