/* See load.h. */
#include "load.h"

void load_init(struct load *l)
{
	*l = (struct load){ .cost = LOAD_COST_GUESS_NS, .threshold = LOAD_BACKLOG_NS };
}

static void add(struct load *l, uint64_t ns)
{
	l->backlog += ns;
	if (l->backlog > 2 * l->threshold)
		l->backlog = 2 * l->threshold;
}

bool load_under(struct load *l, uint64_t now)
{
	uint64_t drained;

	/* The clock only moves forward; a caller's older time drains nothing. */
	if (now > l->last) {
		drained = (now - l->last) >> LOAD_SHARE_SHIFT;
		l->backlog = l->backlog > drained ? l->backlog - drained : 0;
		l->last = now;
	}
	if (l->backlog >= l->threshold)
		l->until = now + LOAD_HOLD_NS;
	return now < l->until;
}

void load_handled(struct load *l, uint64_t start, uint64_t end)
{
	uint64_t ns = end > start ? end - start : 0;

	/* An average over the last 8 or so: a handshake answered (four Diffie-Hellmans) and
	 * a refused one (one or two) both move it. */
	l->cost = l->cost - (l->cost >> 3) + (ns >> 3);
	add(l, ns);
}

void load_deferred(struct load *l)
{
	add(l, l->cost);
}
