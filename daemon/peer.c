#include "peer.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "cipher.h"
#include "config.h"
#include "device.h"
#include "datapath.h"
#include "key.h"

static void staged_release(struct peer *p);

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;

	p->timer_scheduled = 0;
	datapath_peer_timers(p, device_now());
}

int peer_new(struct device *dev, const struct config_peer *cp, struct peer **out)
{
	struct peer *p;
	char b64[KEY_B64_LEN];

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->dev = dev;
	/* Without a config file the MTU is whatever `ip link` in the TUN's namespace makes it,
	 * which we cannot see once the TUN has moved: a slot then holds any IP packet (pages
	 * are only touched when used). The slots themselves come with the first packet that
	 * waits (peer_stage()). */
	p->staged_size = dev->manage_net ? dev->mtu : PEER_STAGED_ANY_SIZE;
	p->timer_ev = evtimer_new(dev->base, timer_cb, p);
	if (!p->timer_ev) {
		peer_free(p);
		return -ENOMEM;
	}
	noise_handshake_init(&p->handshake, &dev->local, cp->public_key,
			     cp->has_preshared_key ? cp->preshared_key : NULL);
	p->handshake.entry.peer = p;
	cookie_maker_init(&p->cookie, cp->public_key);
	timers_init(&p->timers, cp->persistent_keepalive);
	if (cp->endpoint.sa.sa_family)
		p->endpoint = cp->endpoint;
	key_to_base64(b64, cp->public_key);
	snprintf(p->name, sizeof(p->name), "%.8s", b64);
	snprintf(p->label, sizeof(p->label), "%s", cp->name);
	*out = p;
	return 0;
}

void peer_update(struct peer *p, const struct config_peer *cp)
{
	const uint8_t *psk = cp->has_preshared_key ? cp->preshared_key : NULL;
	static const uint8_t zero[KEY_LEN];

	snprintf(p->label, sizeof(p->label), "%s", cp->name);
	if (!key_equal(p->handshake.preshared_key, psk ? psk : zero)) {
		if (psk)
			memcpy(p->handshake.preshared_key, psk, KEY_LEN);
		else
			cipher_wipe(p->handshake.preshared_key, KEY_LEN);
	}
	if (cp->endpoint.sa.sa_family && !addr_endpoint_equal(&p->endpoint, &cp->endpoint)) {
		p->endpoint = cp->endpoint;
		/* Another address may be reached from another of ours. */
		memset(&p->endpoint_src, 0, sizeof(p->endpoint_src));
	}
	if (p->timers.persistent_keepalive_interval != cp->persistent_keepalive) {
		bool turned_on = !p->timers.persistent_keepalive_interval;

		p->timers.persistent_keepalive_interval = cp->persistent_keepalive;
		if (!cp->persistent_keepalive)
			p->timers.persistent_keepalive = 0;
		/* As WireGuard: switching it on sends one at once, so a NAT mapping that an
		 * idle session let lapse comes back now, not at the next packet. */
		else if (turned_on && p->endpoint.sa.sa_family)
			datapath_send_keepalive(p, device_now());
	}
}

static void keypair_free(struct peer *p, struct noise_keypair *kp)
{
	if (!kp)
		return;
	index_remove(p->dev->index, &kp->entry);
	noise_keypair_wipe(kp);
	cipher_wipe(kp, sizeof(*kp));
	free(kp);
}

void peer_keypairs_zero(struct peer *p)
{
	keypair_free(p, p->previous);
	keypair_free(p, p->current);
	keypair_free(p, p->next);
	p->previous = p->current = p->next = NULL;
	index_remove(p->dev->index, &p->handshake.entry);
	noise_handshake_clear(&p->handshake);
}

void peer_keypairs_expire(struct peer *p)
{
	if (p->current) {
		keypair_free(p, p->previous);
		p->previous = p->current;
		p->current = NULL;
	}
	keypair_free(p, p->next);
	p->next = NULL;
	index_remove(p->dev->index, &p->handshake.entry);
	noise_handshake_clear(&p->handshake);
	p->timers.last_sent_handshake = 0;
}

void peer_free(struct peer *p)
{
	if (!p)
		return;
	peer_keypairs_zero(p);
	cipher_wipe(&p->handshake, sizeof(p->handshake));
	cipher_wipe(&p->cookie, sizeof(p->cookie));
	if (p->timer_ev)
		event_free(p->timer_ev);
	staged_release(p);
	free(p->allowed_ips);
	free(p);
}

int peer_prefix_cmp(const struct ip_prefix *a, const struct ip_prefix *b)
{
	int d;

	if (a->addr.family != b->addr.family)
		return a->addr.family < b->addr.family ? -1 : 1;
	d = memcmp(a->addr.bytes, b->addr.bytes, addr_len(a->addr.family));
	if (d)
		return d;
	return (a->cidr > b->cidr) - (a->cidr < b->cidr);
}

long peer_prefix_find(const struct peer *p, const struct ip_prefix *pfx)
{
	size_t lo = 0, hi = p->n_allowed_ips;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = peer_prefix_cmp(&p->allowed_ips[mid], pfx);

		if (!d)
			return (long)mid;
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

void peer_prefix_drop(struct peer *p, size_t i)
{
	memmove(&p->allowed_ips[i], &p->allowed_ips[i + 1],
		(p->n_allowed_ips - i - 1) * sizeof(*p->allowed_ips));
	p->n_allowed_ips--;
}

const uint8_t *peer_public_key(const struct peer *p)
{
	return p->handshake.remote_static;
}

void peer_keypair_install(struct peer *p, struct noise_keypair *kp)
{
	kp->entry.peer = p;
	if (kp->i_am_initiator) {
		/* Our own handshake finished: the new session is current at once. A responder
		 * session that was waiting in next becomes previous, so packets the peer
		 * already sent with it still decrypt. */
		if (p->next) {
			keypair_free(p, p->previous);
			p->previous = p->next;
			p->next = NULL;
			keypair_free(p, p->current);
		} else {
			keypair_free(p, p->previous);
			p->previous = p->current;
		}
		p->current = kp;
	} else {
		/* As responder we may not send with it until the initiator proves it has it
		 * (its first data packet), so it waits in next. */
		keypair_free(p, p->next);
		p->next = kp;
		keypair_free(p, p->previous);
		p->previous = NULL;
		return;
	}
	p->stats.handshakes_completed++;
}

bool peer_keypair_confirm(struct peer *p, struct noise_keypair *kp)
{
	if (kp != p->next)
		return false;
	keypair_free(p, p->previous);
	p->previous = p->current;
	p->current = p->next;
	p->next = NULL;
	p->stats.keypair_rotations++;
	/* For a responder the handshake is complete only now (WireGuard's
	 * wg_timers_handshake_complete on the first data): a session the initiator could not
	 * derive, with another preshared key say, never counts. */
	p->stats.handshakes_completed++;
	p->last_handshake_realtime = device_realtime();
	return true;
}

/* The slots hold plaintext: wiped, as far as they were ever written, before they go. */
static void staged_release(struct peer *p)
{
	if (!p->staged)
		return;
	cipher_wipe(p->staged, p->staged_touched * p->staged_size);
	free(p->staged);
	p->staged = NULL;
	p->staged_touched = 0;
}

/* A peer's slots (32 x MTU, 45 KB) exist only while packets wait for its handshake: made
 * for the first packet that has to wait, released once the queue has been emptied
 * (peer_staged_pop() returning NULL, or peer_staged_clear()). Held by every peer from its
 * creation they cost a touched page each, most of what an idle peer costs (issue 14). A
 * peer with a usable session never stages, so a flow in steady state never allocates
 * here; a flow that waits for a handshake allocates once per wait. Out of memory, the
 * packet is dropped and counted as a full queue would be. */
void peer_stage(struct peer *p, const uint8_t *pkt, size_t len)
{
	unsigned slot;

	if (len > p->staged_size) {
		p->dev->stats.drops[DROP_STAGED_FULL]++;
		return;
	}
	if (len && !p->staged && !(p->staged = malloc(PEER_STAGED_MAX * p->staged_size))) {
		p->stats.staged_dropped++;
		p->dev->stats.drops[DROP_STAGED_FULL]++;
		return;
	}
	if (p->staged_count == PEER_STAGED_MAX) {
		/* Newer packets matter more than old ones to a waiting flow. */
		p->staged_head = (p->staged_head + 1) % PEER_STAGED_MAX;
		p->staged_count--;
		p->stats.staged_dropped++;
		p->dev->stats.drops[DROP_STAGED_FULL]++;
	}
	slot = (p->staged_head + p->staged_count) % PEER_STAGED_MAX;
	if (len) { /* a keepalive is staged as nothing at all, and needs no slots */
		memcpy(p->staged + slot * p->staged_size, pkt, len);
		if (slot >= p->staged_touched)
			p->staged_touched = slot + 1;
	}
	p->staged_len[slot] = (uint16_t)len;
	p->staged_count++;
}

const uint8_t *peer_staged_pop(struct peer *p, size_t *len)
{
	unsigned slot = p->staged_head;

	if (!p->staged_count) {
		/* The packet handed out last is sent by now: the caller pops until NULL. */
		staged_release(p);
		return NULL;
	}
	p->staged_head = (p->staged_head + 1) % PEER_STAGED_MAX;
	p->staged_count--;
	*len = p->staged_len[slot];
	/* A keepalive has no bytes, and there may be no slots at all. */
	return *len ? p->staged + slot * p->staged_size : (const uint8_t *)"";
}

void peer_staged_clear(struct peer *p)
{
	p->staged_head = p->staged_count = 0;
	staged_release(p);
}

void peer_timers_schedule(struct peer *p)
{
	uint64_t deadline = timers_next_deadline(&p->timers), now, delta;
	struct timeval tv;

	if (!deadline)
		return;
	/* A deadline that moved later fires early and finds nothing to do: cheaper than
	 * re-adding the event for every packet. */
	if (p->timer_scheduled && p->timer_scheduled <= deadline)
		return;
	now = device_now();
	delta = deadline > now ? deadline - now : 0;
	tv.tv_sec = (time_t)(delta / NSEC_PER_SEC);
	tv.tv_usec = (suseconds_t)(delta % NSEC_PER_SEC / 1000);
	evtimer_add(p->timer_ev, &tv);
	p->timer_scheduled = deadline;
}
