/* droplog: drop counters into log lines, rate-limited per reason (droplog.h). For each
 * reason we remember the count at its last line and when that was: a reason whose count
 * moved and that never logged gets a line at once (the first drops are the ones an operator
 * is looking for); after that, one line per DROPLOG_PERIOD_NS at most, with how many came
 * since. A reason that stops dropping stops logging. */
#include "droplog.h"

#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct droplog {
	struct device *dev;
	struct event *ev;
	/* The count at the reason's last line: 0 until its first, since a line is only written
	 * for a count that moved up from 0. */
	uint64_t logged[DROP_MAX];
	uint64_t logged_at[DROP_MAX]; /* device_now() of the last line */
};

/* Each is the first sentence of the reason's entry in sealnetd(8)'s Drop reasons, which goes
 * on from there (test_droplog checks that every entry opens with its hint). */
static const char *const hints[DROP_MAX] = {
	[DROP_BAD_SIZE] = "a datagram too short or of the wrong size for its type reached the "
			  "port: not a WireGuard peer, or a damaged path",
	[DROP_UNKNOWN_TYPE] = "a datagram that is not a WireGuard message reached the port: "
			      "something else sends to it",
	[DROP_BAD_MAC1] = "a handshake message not meant for our public key: a peer has an old "
			  "or wrong PublicKey for this node",
	[DROP_COOKIE] = "under load, a handshake without a valid cookie was answered with a "
			"cookie: normal during a handshake flood",
	[DROP_RATELIMIT] = "too many handshakes from one address: a peer restarting in a loop, "
			   "or a flood",
	[DROP_HANDSHAKE] = "a handshake that does not decrypt or comes from a key that is no "
			   "peer of ours: add the peer, or check both sides' keys and "
			   "PresharedKey",
	[DROP_HANDSHAKE_REPLAY] = "a handshake initiation no newer than the last one from that "
				  "peer: a replay, or the peer's clock went backwards",
	[DROP_UNKNOWN_INDEX] = "a message for a session we do not have: normal for a moment "
			       "after a restart; the peer starts a new handshake",
	[DROP_EXPIRED] = "data on a session too old to receive on: the peer should have "
			 "rekeyed; check its clock and its WireGuard version",
	[DROP_DECRYPT] = "data that does not authenticate: corruption on the path, or an "
			 "attack",
	[DROP_REPLAY] = "data whose counter was seen before: a duplicate or a replay; a few "
			"are normal on paths that duplicate packets",
	[DROP_BAD_INNER] = "a decrypted packet that is not IPv4 or IPv6: the peer sends "
			   "something else through the tunnel",
	[DROP_ALLOWEDIPS] = "a peer sent from an address outside its AllowedIPs: add the "
			    "address to that peer's AllowedIPs here, or fix the peer's Address",
	[DROP_NO_ROUTE] = "a packet to an address no peer's AllowedIPs covers: add it to a "
			  "peer's AllowedIPs, or route it elsewhere",
	[DROP_LINK_LOCAL] = NULL, /* the kernel's own link-local multicast: harmless */
	[DROP_NO_ENDPOINT] = "a packet for a peer with no known Endpoint: give it one, or wait "
			     "until the peer reaches us first",
	[DROP_STAGED_FULL] = "packets queued for a peer while its handshake runs overflowed: "
			     "the peer does not answer (sealnet status shows it stale)",
	[DROP_TUN_WRITE] = "the kernel refused a decrypted packet on the interface: is it up, "
			   "with its addresses?",
	[DROP_UDP_SEND] = "the kernel refused to send a datagram: no route to the peer's "
			  "Endpoint, or a firewall on this host",
	[DROP_FIREWALL] = "an access rule (or the default deny) refused a packet: `sealnet "
			  "show` lists the rules with their matches",
};

const char *droplog_hint(enum device_drop d)
{
	return d < DROP_MAX ? hints[d] : NULL;
}

static const char *reason(enum device_drop d)
{
	const char *name = device_drop_name(d);

	return name + 5 * !strncmp(name, "drop_", 5);
}

void droplog_check(struct droplog *dl, uint64_t now)
{
	const uint64_t *drops = dl->dev->stats.drops;
	uint64_t n;
	bool first;

	for (int d = 0; d < DROP_MAX; d++) {
		if (drops[d] == dl->logged[d] || !hints[d])
			continue;
		first = !dl->logged[d];
		if (!first && now - dl->logged_at[d] < DROPLOG_PERIOD_NS)
			continue;
		n = drops[d] - dl->logged[d];
		if (first)
			log_warn("%s: drops: %s (%llu so far): %s; further drops of this reason are "
				 "logged once a minute at most",
				 dl->dev->ifname, reason(d), (unsigned long long)n, hints[d]);
		else
			log_warn("%s: drops: %s: %llu more in the last %llu s", dl->dev->ifname,
				 reason(d), (unsigned long long)n,
				 (unsigned long long)((now - dl->logged_at[d]) / 1000000000ULL));
		dl->logged[d] = drops[d];
		dl->logged_at[d] = now;
	}
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
	droplog_check(arg, device_now());
}

int droplog_new(struct device *dev, struct droplog **out)
{
	static const struct timeval second = { 1, 0 };
	struct droplog *dl = calloc(1, sizeof(*dl));

	if (!dl)
		return -ENOMEM;
	dl->dev = dev;
	dl->ev = event_new(dev->base, -1, EV_PERSIST, tick, dl);
	if (!dl->ev || event_add(dl->ev, &second)) {
		droplog_free(dl);
		return -ENOMEM;
	}
	*out = dl;
	return 0;
}

void droplog_free(struct droplog *dl)
{
	if (!dl)
		return;
	if (dl->ev)
		event_free(dl->ev);
	free(dl);
}
