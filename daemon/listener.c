/* See listener.h. Only the event loop's thread calls in here. */
#define _GNU_SOURCE /* accept4 */
#include "listener.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

struct listener {
	struct listener *next;    /* in guards, while it guards */
	struct evconnlistener *l; /* NULL once listener_free() was called */
	struct event *resume;     /* ends a pause after an accept() error */
	unsigned n, max;
	bool paused;
	int spare;             /* /dev/null, given up to accept-and-close on EMFILE */
	unsigned long refused; /* connections accepted and closed for lack of descriptors */
	time_t logged;         /* when accept_error() last logged (monotonic seconds) */
	char what[64];
};

/* libevent hands the error callback the accept callback's argument, which for the metrics
 * port is evhttp's own: the guard is found by its evconnlistener among these. */
static struct listener *guards;

static void update(struct listener *g)
{
	if (g->paused || g->n >= g->max)
		evconnlistener_disable(g->l);
	else
		evconnlistener_enable(g->l);
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *g = arg;

	g->paused = false;
	if (g->spare < 0)
		g->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	update(g);
}

/* libevent calls this for every accept() error it does not retry by itself (it retries
 * EAGAIN, EINTR and ECONNABORTED); left enabled, the listener would call accept() again at
 * once. */
static void accept_error(struct evconnlistener *l, void *arg)
{
	struct listener *g;
	struct timeval tv = { .tv_sec = LISTENER_BACKOFF_MS / 1000,
			      .tv_usec = LISTENER_BACKOFF_MS % 1000 * 1000 };
	int err = errno, fd;
	struct timespec now;

	for (g = guards; g && g->l != l; g = g->next)
		;
	if (!g) {
		evconnlistener_disable(l);
		return;
	}
	if ((err == EMFILE || err == ENFILE) && g->spare >= 0) {
		close(g->spare);
		fd = accept4(evconnlistener_get_fd(l), NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			g->refused++;
		}
		g->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!g->logged || now.tv_sec - g->logged >= LISTENER_LOG_INTERVAL_SEC) {
		log_warn("%s: accept: %s%s: pausing %d ms at a time (%u open, %lu refused so "
			 "far; next report in %d s at the earliest)",
			 g->what, strerror(err),
			 err == EMFILE || err == ENFILE ? " (out of descriptors)" : "",
			 LISTENER_BACKOFF_MS, g->n, g->refused, LISTENER_LOG_INTERVAL_SEC);
		g->logged = now.tv_sec ? now.tv_sec : 1;
	}
	g->paused = true;
	update(g);
	evtimer_add(g->resume, &tv);
}

int listener_new(struct evconnlistener *l, unsigned max, const char *what, struct listener **out)
{
	struct listener *g;
	struct rlimit rl;

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->resume = evtimer_new(evconnlistener_get_base(l), resume_cb, g);
	if (!g->resume) {
		free(g);
		return -ENOMEM;
	}
	g->l = l;
	g->max = max;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur / 8 < max)
		g->max = rl.rlim_cur >= 16 ? (unsigned)(rl.rlim_cur / 8) : 1;
	g->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	snprintf(g->what, sizeof(g->what), "%s", what);
	evconnlistener_set_error_cb(l, accept_error);
	g->next = guards;
	guards = g;
	*out = g;
	return 0;
}

static void destroy(struct listener *g)
{
	if (g->spare >= 0)
		close(g->spare);
	event_free(g->resume);
	free(g);
}

void listener_opened(struct listener *g)
{
	g->n++;
	if (g->l && g->n >= g->max)
		update(g);
}

void listener_closed(struct listener *g)
{
	if (!g->n)
		return;
	g->n--;
	if (!g->l) {
		if (!g->n)
			destroy(g);
		return;
	}
	if (g->n == g->max - 1)
		update(g);
}

unsigned listener_max(const struct listener *g)
{
	return g->max;
}

void listener_free(struct listener *g)
{
	struct listener **pp;

	if (!g)
		return;
	for (pp = &guards; *pp && *pp != g; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = g->next;
	evconnlistener_set_error_cb(g->l, NULL);
	evtimer_del(g->resume);
	g->l = NULL;
	if (!g->n)
		destroy(g);
}
