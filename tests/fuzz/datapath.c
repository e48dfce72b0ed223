/* What arrives from UDP: datapath_receive() on device A, built as sealnetd builds it (fuzz.c
 * stands in for the kernel), with its peer B played by the harness so that the input also
 * reaches past mac1, the index lookup and the AEAD: the handshake state machine, the replay
 * window, the inner-packet checks, AllowedIPs and the TUN delivery with GRO (offload.c).
 *
 * Input: a flags byte (F_*), then operations, each an op byte, a 16-bit little-endian length
 * and that many bytes (fewer at the end of the input). The op byte's low 3 bits are the
 * operation (OP_*), bits 3-4 pick one of B's sessions, bit 5 a variant, bits 6-7 the source
 * address of the datagram (B's endpoint, another IPv4 one, an IPv6 one, B's again) and the
 * address of A's it was sent to (A's, a second IPv4 one, an IPv6 one, not known).
 *
 * The control-socket request (uapi_handle(), through device_apply()) is there because a set
 * arrives between datagrams in real life: peers vanish, keys change and prefixes move while
 * sessions, staged packets and a GRO train hold on to them.
 *
 * A session is what the harness, as B, holds to send data to A: the receiver index A gave it
 * and the key. F_SESSION_* install one at the start (made by hand, as begin_session() would,
 * without the cost of a handshake per run); OP_INITIATION and OP_RESPONSE run real
 * handshakes and add theirs.
 *
 * Besides the sanitizers, every run checks what A promises B and the host (check_*):
 * - every packet that reaches A's TUN (written, or taken into the GRO train) is IPv4 or IPv6
 *   whose source address A's AllowedIPs give to B, the only peer that can send authentic
 *   data (cryptokey routing); none comes from a session older than REJECT_AFTER_TIME, and a
 *   sealed packet raises drop_allowedips only when its source is not B's;
 * - every data message A sends names a session A derived (noise_derive_keypair(), wrapped,
 *   or installed by the harness) less than REJECT_AFTER_TIME ago by the harness's clock, its
 *   counters rise strictly (no nonce twice) and stay below REJECT_AFTER_MESSAGES, and its
 *   plaintext is padded to 16 bytes unless that would pass the MTU.
 * The TUN's read() is wrapped too, so that packets from the host (OP_DATA_HDR's variant)
 * take the send path: routing, staging, the session's age, the transmit batch.
 *
 * LINK-WRAP: -Wl,--wrap=read -Wl,--wrap=write -Wl,--wrap=offload_gro_add
 * LINK-WRAP: -Wl,--wrap=noise_derive_keypair
 *
 * With SEALNET_FUZZ_WRITE_SEEDS=DIR in the environment the binary writes its seed inputs
 * into DIR and exits (tests/fuzz/README.md). */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <sodium.h>

#include "allowedips.h"
#include "cipher.h"
#include "config.h"
#include "cookie.h"
#include "datapath.h"
#include "datapath_priv.h" /* dev->dp->gro: what reaches the TUN */
#include "device.h"
#include "fuzz.h"
#include "index.h"
#include "key.h"
#include "noise.h"
#include "offload.h"
#include "peer.h"
#include "replay.h"
#include "timers.h"
#include "tun.h"
#include "uapi.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Monotonic clock of a run: not 0, so "never" (0) stays distinct. */
#define T0 (1000 * NSEC_PER_SEC)
#define REALTIME0 (1700000000ULL * NSEC_PER_SEC)

enum flags {
	F_OFFLOAD = 1 << 0,           /* the TUN takes vnet headers, TSO and USO */
	F_NO_TSO = 1 << 1,            /* with F_OFFLOAD: vnet headers only, no GRO */
	F_SESSION_INITIATOR = 1 << 2, /* A holds a current session with B, as initiator */
	F_SESSION_RESPONDER = 1 << 3, /* and/or an unconfirmed next one, as responder */
	F_UDP_FAILS = 1 << 4,         /* every send fails */
	F_UNDER_LOAD = 1 << 5,        /* A starts under load: cookies demanded */
	F_LOW_THRESHOLD = 1 << 6,     /* a backlog at the threshold: load until the clock moves */
};

enum op {
	OP_RAW,        /* the bytes as a datagram (variant: as the socket hands them over, a
			* 16-bit segment size then a GRO train, to datapath_udp_readable()) */
	OP_DATA_HDR,   /* a data message for a session: counter = 8 bytes, then ciphertext
			* (variant: the bytes are a packet A's TUN hands over, with a vnet
			* header in front when A has offloads) */
	OP_SEALED,     /* the bytes sealed as a data message of a session (variant: counter
			* from the first 8 bytes rather than the next one) */
	OP_INITIATION, /* B initiates (bytes XORed into the body before mac1) */
	OP_RESPONSE,   /* A initiates (variant: as a retry) and B answers (bytes XORed in) */
	OP_COOKIE,     /* B answers A's last initiation with a cookie (bytes XORed in) */
	OP_TIME,       /* 16 bits of time pass (variant: in seconds rather than ms) */
	OP_FLUSH,      /* the GRO train and the transmit batch go out (variant: the bytes are a
			* control-socket request instead, e.g. a set that removes B mid-session) */
};

#define SESSIONS 4

struct session {
	uint32_t idx; /* A's receiver index */
	uint8_t key[KEY_LEN];
	uint64_t counter; /* next one to send */
	uint64_t birth;   /* when A derived it, by the harness's clock */
};

/* A session of A's towards B, as the data messages A sends name it (by B's index). */
#define A_SESSIONS 256
struct a_session {
	uint32_t remote_idx;
	bool ambiguous; /* B gave the same index twice: counters may start again */
	uint64_t birth; /* the latest derivation under that index */
	uint64_t next_counter;
};

struct harness {
	struct device *dev;
	struct peer *b;
	uint64_t now;
	struct noise_handshake b_hs; /* B's handshake with A */
	struct cookie_maker b_maker; /* B's mac1/mac2 towards A */
	struct session sess[SESSIONS];
	unsigned next_sess;
	uint32_t b_index;
	struct a_session a_sess[A_SESSIONS];
	unsigned n_a_sess;    /* ever recorded; past A_SESSIONS the oldest are forgotten */
	uint64_t tun_packets; /* packets that reached A's TUN (written or taken by GRO) */
};

/* The run under way, for the wraps. */
static struct harness *cur;
/* What the next read() of A's TUN returns (OP_DATA_HDR's variant). */
static struct {
	const uint8_t *p;
	size_t len;
	bool ready;
} tun_in;

/* B's identity and what it never changes; set up once. */
static struct noise_local b_local;
static struct noise_handshake b_hs_pristine;
static struct cookie_checker b_checker;
static union endpoint sources[4];
static struct udp_src locals[4]; /* what each of sources wrote to */

/* --- the invariants --- */

static void __attribute__((noreturn, format(printf, 1, 2))) broken(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz: datapath: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

static struct a_session *a_session_find(struct harness *h, uint32_t remote_idx)
{
	unsigned n = h->n_a_sess < A_SESSIONS ? h->n_a_sess : A_SESSIONS;

	for (unsigned i = 0; i < n; i++)
		if (h->a_sess[i].remote_idx == remote_idx)
			return &h->a_sess[i];
	return NULL;
}

/* A made a session towards B, named by B's index, now. */
static void a_session_derived(struct harness *h, uint32_t remote_idx)
{
	struct a_session *a = a_session_find(h, remote_idx);

	if (a) {
		a->ambiguous = true;
	} else {
		a = &h->a_sess[h->n_a_sess++ % A_SESSIONS];
		*a = (struct a_session){ .remote_idx = remote_idx };
	}
	a->birth = h->now;
	a->next_counter = 0;
}

/* A packet on its way into A's TUN: B must be allowed its source address. */
static void check_tun_packet(struct harness *h, const uint8_t *pkt, size_t len, const char *how)
{
	struct peer *b = device_peer_by_key(h->dev, fuzz_public[FUZZ_B]);
	char text[INET6_ADDRSTRLEN];
	const uint8_t *src;
	int family;

	if (len >= 20 && pkt[0] >> 4 == 4)
		family = AF_INET, src = pkt + 12;
	else if (len >= 40 && pkt[0] >> 4 == 6)
		family = AF_INET6, src = pkt + 8;
	else
		broken("%s: %zu bytes that are not IPv4 or IPv6 reach the TUN", how, len);
	if (!b || allowedips_lookup(h->dev->allowedips, family, src) != b) {
		inet_ntop(family, src, text, sizeof(text));
		broken("%s: a packet from %s reaches the TUN, outside B's AllowedIPs", how, text);
	}
	h->tun_packets++;
}

ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __wrap_read(int fd, void *buf, size_t n);
ssize_t __real_write(int fd, const void *buf, size_t n);
ssize_t __wrap_write(int fd, const void *buf, size_t n);
bool __real_offload_gro_add(struct offload_gro *g, const uint8_t *pkt, size_t len);
bool __wrap_offload_gro_add(struct offload_gro *g, const uint8_t *pkt, size_t len);
int __real_noise_derive_keypair(struct noise_handshake *hs, struct noise_keypair *kp, uint64_t now);
int __wrap_noise_derive_keypair(struct noise_handshake *hs, struct noise_keypair *kp, uint64_t now);

ssize_t __wrap_read(int fd, void *buf, size_t n)
{
	if (!cur || !cur->dev || fd != cur->dev->tun_fd)
		return __real_read(fd, buf, n);
	if (!tun_in.ready) {
		errno = EAGAIN;
		return -1;
	}
	tun_in.ready = false;
	if (n > tun_in.len)
		n = tun_in.len;
	if (n)
		memcpy(buf, tun_in.p, n);
	return (ssize_t)n;
}

ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
	struct device *dev = cur ? cur->dev : NULL;
	size_t hdr;

	if (!dev || fd != dev->tun_fd)
		return __real_write(fd, buf, n);
	/* A GRO train's packets were checked one by one as they joined it. */
	if (buf != dev->dp->gro.buf) {
		hdr = dev->tun_features & TUN_VNET_HDR ? OFFLOAD_VNET_HDR_LEN : 0;
		if (n < hdr)
			broken("a %zu-byte write to the TUN, shorter than its vnet header", n);
		check_tun_packet(cur, (const uint8_t *)buf + hdr, n - hdr, "TUN write");
	}
	return __real_write(fd, buf, n);
}

bool __wrap_offload_gro_add(struct offload_gro *g, const uint8_t *pkt, size_t len)
{
	if (!__real_offload_gro_add(g, pkt, len))
		return false;
	if (cur && cur->dev && g == &cur->dev->dp->gro)
		check_tun_packet(cur, pkt, len, "GRO");
	return true;
}

int __wrap_noise_derive_keypair(struct noise_handshake *hs, struct noise_keypair *kp, uint64_t now)
{
	int ret = __real_noise_derive_keypair(hs, kp, now);

	/* B's own derivations (b_session) are the harness's. */
	if (!ret && cur && hs != &cur->b_hs)
		a_session_derived(cur, kp->remote_index);
	return ret;
}

/* fuzz_on_send: what leaves A. */
static void check_sent(const union endpoint *to, const uint8_t *buf, size_t len)
{
	struct harness *h = cur;
	const struct message_data *msg = (const void *)buf;
	struct a_session *a;
	uint64_t counter;
	size_t plen;

	if (!h || !h->dev || len < sizeof(msg->header) || le32toh(msg->header.type) != MESSAGE_DATA)
		return;
	if (len < MESSAGE_MINIMUM_LENGTH)
		broken("a data message of %zu bytes leaves", len);
	plen = len - MESSAGE_MINIMUM_LENGTH;
	if (plen % MESSAGE_PADDING_MULTIPLE && plen < h->dev->mtu)
		broken("a data message leaves with %zu bytes of plaintext: not padded to %d (MTU %u)",
		       plen, MESSAGE_PADDING_MULTIPLE, h->dev->mtu);
	counter = le64toh(msg->counter);
	if (counter >= REJECT_AFTER_MESSAGES)
		broken("a data message leaves with counter %llu", (unsigned long long)counter);
	a = a_session_find(h, le32toh(msg->key_idx));
	if (!a) {
		if (h->n_a_sess > A_SESSIONS)
			return; /* forgotten */
		broken("a data message leaves for B's index %#x: A never derived that session",
		       le32toh(msg->key_idx));
	}
	if (h->now - a->birth >= (uint64_t)REJECT_AFTER_TIME * NSEC_PER_SEC)
		broken("a data message leaves on a session %llu ms old (REJECT_AFTER_TIME %d s)",
		       (unsigned long long)((h->now - a->birth) / NSEC_PER_MSEC),
		       REJECT_AFTER_TIME);
	if (a->ambiguous)
		return;
	if (counter < a->next_counter)
		broken("a data message leaves with counter %llu after %llu on the same session",
		       (unsigned long long)counter, (unsigned long long)a->next_counter - 1);
	a->next_counter = counter + 1;
}

static struct noise_handshake *b_lookup(void *ctx, const uint8_t pub[KEY_LEN])
{
	struct harness *h = ctx;

	return key_equal(pub, fuzz_public[FUZZ_A]) ? &h->b_hs : NULL;
}

static struct session *new_session(struct harness *h)
{
	return &h->sess[h->next_sess++ % SESSIONS];
}

/* A session for B as begin_session() makes one, keys made up rather than derived. */
static void install_session(struct harness *h, bool initiator)
{
	struct noise_keypair *kp = calloc(1, sizeof(*kp));
	struct session *s;

	if (!kp)
		abort();
	memset(kp->send_key, initiator ? 0x11 : 0x33, sizeof(kp->send_key));
	memset(kp->recv_key, initiator ? 0x22 : 0x44, sizeof(kp->recv_key));
	replay_init(&kp->replay);
	kp->birthdate = h->now;
	kp->remote_index = initiator ? 0xb0b1 : 0xb0b2;
	kp->i_am_initiator = initiator;
	kp->valid = true;
	kp->entry.type = INDEX_KEYPAIR;
	index_insert(h->dev->index, &kp->entry);
	peer_keypair_install(h->b, kp);
	timers_session_derived(&h->b->timers, h->now);
	a_session_derived(h, kp->remote_index);
	s = new_session(h);
	s->idx = kp->entry.index;
	memcpy(s->key, kp->recv_key, sizeof(s->key));
	s->counter = 0;
	s->birth = h->now;
}

/* B's handshake finished (or B thinks so): its session becomes one of ours. */
static void b_session(struct harness *h)
{
	struct noise_keypair kp;
	struct session *s;

	if (noise_derive_keypair(&h->b_hs, &kp, h->now))
		return;
	s = new_session(h);
	s->idx = kp.remote_index;
	memcpy(s->key, kp.send_key, sizeof(s->key));
	s->counter = 0;
	/* A derived its side in the same step, at the same time. */
	s->birth = h->now;
	noise_keypair_wipe(&kp);
}

/* A asked B for a cookie: B keeps it, and its next message carries mac2. */
static void take_cookie(struct harness *h)
{
	struct fuzz_sent *reply = &fuzz_sent[MESSAGE_HANDSHAKE_COOKIE];

	if (reply->len && addr_endpoint_equal(&reply->to, &fuzz_endpoint_b))
		cookie_consume_reply(&h->b_maker, (const void *)reply->buf, h->now);
	reply->len = 0;
}

/* One datagram, in a buffer of exactly its size so that ASan sees any read past its end. */
static void deliver(struct harness *h, const void *msg, size_t len, const union endpoint *src)
{
	uint8_t *buf = malloc(len ? len : 1);

	if (!buf)
		abort();
	memcpy(buf, msg, len);
	fuzz_sent[MESSAGE_HANDSHAKE_COOKIE].len = 0;
	datapath_receive(h->dev, buf, len, src, &locals[src - sources], h->now);
	free(buf);
	take_cookie(h);
}

/* What one read from the socket returns, the way the event loop hands it over: the datapath
 * splits a GRO train itself and flushes the TUN's GRO train after the batch. */
static void op_train(struct harness *h, const uint8_t *p, size_t len, const union endpoint *src)
{
	size_t skip = len < 2 ? len : 2;

	fuzz_recv = (struct fuzz_recv){
		.buf = p + skip,
		.len = len - skip,
		.seglen = len < 2 ? 0 : (size_t)(p[0] | p[1] << 8),
		.from = *src,
		.to = locals[src - sources],
		.ready = true,
	};
	fuzz_sent[MESSAGE_HANDSHAKE_COOKIE].len = 0;
	datapath_udp_readable(h->dev, -1);
	take_cookie(h);
}

static void xor_into(uint8_t *dst, size_t n, const uint8_t *src, size_t len)
{
	for (size_t i = 0; i < n && i < len; i++)
		dst[i] ^= src[i];
}

/* Whether pkt is IPv4 or IPv6 whose source A's AllowedIPs do not give to B. */
static bool foreign_source(struct harness *h, const uint8_t *pkt, size_t len)
{
	struct peer *b = device_peer_by_key(h->dev, fuzz_public[FUZZ_B]);

	if (len >= 20 && pkt[0] >> 4 == 4)
		return allowedips_lookup(h->dev->allowedips, AF_INET, pkt + 12) != b;
	if (len >= 40 && pkt[0] >> 4 == 6)
		return allowedips_lookup(h->dev->allowedips, AF_INET6, pkt + 8) != b;
	return false;
}

/* A packet from the host: A's TUN is readable. */
static void op_tun(struct harness *h, const uint8_t *p, size_t len)
{
	tun_in.p = p;
	tun_in.len = len;
	tun_in.ready = true;
	datapath_tun_readable(h->dev);
	tun_in.ready = false;
}

static void op_data(struct harness *h, struct session *s, const uint8_t *p, size_t len, bool sealed,
		    bool explicit_counter, const union endpoint *src)
{
	uint64_t counter, tun_before, refused_before, refused;
	struct message_data *msg;
	bool foreign;
	size_t n;

	if (!sealed || explicit_counter) {
		counter = 0;
		memcpy(&counter, p, len < 8 ? len : 8);
		counter = le64toh(counter);
		n = len < 8 ? 0 : 8;
		p += n;
		len -= n;
	} else {
		counter = s->counter++;
	}
	n = sizeof(*msg) + len + (sealed ? NOISE_AUTHTAG_LEN : 0);
	msg = malloc(n);
	if (!msg)
		abort();
	msg->header.type = htole32(MESSAGE_DATA);
	msg->key_idx = htole32(s->idx);
	msg->counter = htole64(counter);
	if (sealed)
		cipher_aead_seal(msg->encrypted_data, p, len, NULL, 0, counter, s->key);
	else
		memcpy(msg->encrypted_data, p, len);
	tun_before = h->tun_packets;
	refused_before = h->dev->stats.drops[DROP_ALLOWEDIPS];
	foreign = sealed && foreign_source(h, p, len);
	deliver(h, msg, n, src);
	free(msg);
	if (h->tun_packets != tun_before &&
	    h->now - s->birth >= (uint64_t)REJECT_AFTER_TIME * NSEC_PER_SEC)
		broken("a packet reaches the TUN from a session %llu ms old (REJECT_AFTER_TIME %d s)",
		       (unsigned long long)((h->now - s->birth) / NSEC_PER_MSEC),
		       REJECT_AFTER_TIME);
	refused = h->dev->stats.drops[DROP_ALLOWEDIPS] - refused_before;
	if (refused > 1 || (refused && !foreign))
		broken("one data message raised drop_allowedips by %llu (source %s B's)",
		       (unsigned long long)refused, foreign ? "not" : "one of");
}

static void op_initiation(struct harness *h, const uint8_t *p, size_t len,
			  const union endpoint *src)
{
	struct fuzz_sent *resp = &fuzz_sent[MESSAGE_HANDSHAKE_RESPONSE];
	struct message_handshake_initiation m;

	h->b_hs.entry.index = ++h->b_index;
	fuzz_realtime += NSEC_PER_SEC;
	if (noise_create_initiation(&h->b_hs, &b_local, &m, fuzz_realtime))
		return;
	xor_into((uint8_t *)&m + sizeof(m.header),
		 offsetof(struct message_handshake_initiation, macs) - sizeof(m.header), p, len);
	cookie_add_macs(&h->b_maker, (uint8_t *)&m, sizeof(m), h->now);
	resp->len = 0;
	deliver(h, &m, sizeof(m), src);
	if (resp->len && !noise_consume_response(&h->b_hs, &b_local, (const void *)resp->buf))
		b_session(h);
}

static void op_response(struct harness *h, bool retry, const uint8_t *p, size_t len,
			const union endpoint *src)
{
	struct fuzz_sent *init = &fuzz_sent[MESSAGE_HANDSHAKE_INITIATION];
	struct message_handshake_response r;
	struct noise_handshake *hs;

	/* If A sends nothing now (too soon), B answers the last initiation it got, if any. */
	datapath_send_initiation(h->b, retry, h->now);
	if (!init->len ||
	    noise_consume_initiation(&b_local, (const void *)init->buf, b_lookup, h, h->now, &hs))
		return;
	h->b_hs.entry.index = ++h->b_index;
	if (noise_create_response(&h->b_hs, &b_local, &r))
		return;
	xor_into((uint8_t *)&r + sizeof(r.header),
		 offsetof(struct message_handshake_response, macs) - sizeof(r.header), p, len);
	cookie_add_macs(&h->b_maker, (uint8_t *)&r, sizeof(r), h->now);
	deliver(h, &r, sizeof(r), src);
	b_session(h);
}

static void op_cookie(struct harness *h, const uint8_t *p, size_t len, const union endpoint *src)
{
	struct fuzz_sent *init = &fuzz_sent[MESSAGE_HANDSHAKE_INITIATION];
	const struct message_handshake_initiation *m = (const void *)init->buf;
	struct message_handshake_cookie c;

	if (!init->len)
		return;
	cookie_create_reply(&b_checker, &c, init->buf, init->len, le32toh(m->sender_index),
			    &fuzz_endpoint_a, h->now);
	xor_into((uint8_t *)&c + sizeof(c.header), sizeof(c) - sizeof(c.header), p, len);
	deliver(h, &c, sizeof(c), src);
}

static void op_time(struct harness *h, const uint8_t *p, size_t len, bool seconds)
{
	uint64_t d = 0;
	struct peer *peer;

	for (size_t i = 0; i < 2 && i < len; i++)
		d |= (uint64_t)p[i] << (8 * i);
	d *= seconds ? NSEC_PER_SEC : NSEC_PER_MSEC;
	h->now += d;
	fuzz_now = h->now;
	fuzz_realtime += d;
	TAILQ_FOREACH(peer, &h->dev->peers, link)
		datapath_peer_timers(peer, h->now);
}

/* As datapath_udp_readable() does after each batch (tun_flush() is static there). */
static void op_flush(struct harness *h)
{
	size_t n = offload_gro_finish(&h->dev->dp->gro);

	if (n && write(h->dev->tun_fd, h->dev->dp->gro.buf, n) < 0)
		abort();
	datapath_flush(h->dev);
}

/* A request on the control socket, between two datagrams. B may be gone afterwards, or be
 * a new peer with the same key. */
static void op_control(struct harness *h, const uint8_t *p, size_t len)
{
	struct evbuffer *out = evbuffer_new();
	char *req = malloc(len + 1);

	if (!out || !req)
		abort();
	memcpy(req, p, len);
	req[len] = '\0';
	uapi_handle(h->dev, NULL, req, out);
	free(req);
	evbuffer_free(out);
	h->b = device_peer_by_key(h->dev, fuzz_public[FUZZ_B]);
}

static void run(struct harness *h, const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	uint8_t flags = fuzz_u8(&in);

	fuzz_tun_granted = !(flags & F_OFFLOAD) ? 0
			   : flags & F_NO_TSO   ? TUN_VNET_HDR
						: TUN_VNET_HDR | TUN_TSO | TUN_USO;
	fuzz_udp_ok = !(flags & F_UDP_FAILS);
	fuzz_realtime = REALTIME0;
	fuzz_sent_clear();
	memset(h, 0, sizeof(*h));
	cur = h;
	fuzz_on_send = check_sent;
	h->now = fuzz_now = T0;
	h->b_hs = b_hs_pristine;
	cookie_maker_init(&h->b_maker, fuzz_public[FUZZ_A]);
	h->b_index = 0x100;
	h->dev = fuzz_device_new(flags & F_OFFLOAD ? CONFIG_OFFLOAD_ALL : 0);
	h->b = TAILQ_FIRST(&h->dev->peers);
	if (!h->b || !key_equal(peer_public_key(h->b), fuzz_public[FUZZ_B]))
		abort();
	if (flags & F_UNDER_LOAD)
		h->dev->load.until = h->now + NSEC_PER_SEC;
	if (flags & F_LOW_THRESHOLD) {
		/* Handled messages cost 0 on the harness's clock; deferred ones do not. */
		h->dev->load.backlog = h->dev->load.threshold = 1;
		h->dev->load.last = h->now;
	}
	if (flags & F_SESSION_INITIATOR)
		install_session(h, true);
	if (flags & F_SESSION_RESPONDER)
		install_session(h, false);

	while (in.left) {
		uint8_t op = fuzz_u8(&in);
		size_t len;
		const uint8_t *p = fuzz_bytes(&in, fuzz_u16(&in), &len);
		struct session *s = &h->sess[(op >> 3) & 3];
		bool variant = op & 0x20;
		const union endpoint *src = &sources[op >> 6];

		switch (op & 7) {
		case OP_RAW:
			if (variant)
				op_train(h, p, len, src);
			else
				deliver(h, p, len, src);
			break;
		case OP_DATA_HDR:
			if (variant)
				op_tun(h, p, len);
			else
				op_data(h, s, p, len, false, true, src);
			break;
		case OP_SEALED:
			op_data(h, s, p, len, true, variant, src);
			break;
		case OP_INITIATION:
			op_initiation(h, p, len, src);
			break;
		case OP_RESPONSE:
			if (h->b)
				op_response(h, variant, p, len, src);
			break;
		case OP_COOKIE:
			op_cookie(h, p, len, src);
			break;
		case OP_TIME:
			op_time(h, p, len, variant);
			break;
		case OP_FLUSH:
			if (variant)
				op_control(h, p, len);
			else
				op_flush(h);
			break;
		}
	}
	op_flush(h);
	/* Seen with SEALNET_FUZZ_LOG=1: where a seed's datagrams went. */
	device_log_counters(h->dev);
	fuzz_device_free(h->dev);
	h->dev = NULL;
	cur = NULL;
	cipher_wipe(&h->b_hs, sizeof(h->b_hs));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct harness h;

	run(&h, data, size);
	return 0;
}

/* --- seeds --- */

struct seed {
	uint8_t buf[16384];
	size_t len;
};

static void put(struct seed *s, const void *p, size_t n)
{
	if (s->len + n > sizeof(s->buf))
		abort();
	if (n)
		memcpy(s->buf + s->len, p, n);
	s->len += n;
}

static void put_op(struct seed *s, uint8_t op, const void *p, size_t n)
{
	uint8_t hdr[3] = { op, (uint8_t)n, (uint8_t)(n >> 8) };

	put(s, hdr, sizeof(hdr));
	put(s, p, n);
}

static uint16_t csum(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* IPv4 from 100.64.x.y to 100.64.0.1 with a TCP header (ACK, seq) or an ICMP echo, and
 * `payload` bytes of filler. Returns the length. */
static size_t ip4(uint8_t *pkt, uint8_t x, uint8_t y, bool tcp, uint32_t seq, size_t payload)
{
	size_t l4 = tcp ? 20 : 8, len = 20 + l4 + payload;

	memset(pkt, 0, len);
	pkt[0] = 0x45;
	pkt[2] = (uint8_t)(len >> 8);
	pkt[3] = (uint8_t)len;
	pkt[6] = 0x40; /* DF */
	pkt[8] = 64;
	pkt[9] = tcp ? 6 : 1;
	pkt[12] = 100, pkt[13] = 64, pkt[14] = x, pkt[15] = y;
	pkt[16] = 100, pkt[17] = 64, pkt[18] = 0, pkt[19] = 1;
	if (tcp) {
		pkt[20] = 0x9c, pkt[21] = 0x40, pkt[22] = 0x00, pkt[23] = 0x50;
		pkt[24] = (uint8_t)(seq >> 24), pkt[25] = (uint8_t)(seq >> 16);
		pkt[26] = (uint8_t)(seq >> 8), pkt[27] = (uint8_t)seq;
		pkt[32] = 0x50;
		pkt[33] = 0x10; /* ACK */
		pkt[34] = 0xff;
	} else {
		pkt[20] = 8; /* echo request */
	}
	for (size_t i = 0; i < payload; i++)
		pkt[20 + l4 + i] = (uint8_t)('a' + i % 26);
	pkt[10] = 0, pkt[11] = 0;
	{
		uint16_t c = csum(pkt, 20, 0);

		pkt[10] = (uint8_t)(c >> 8), pkt[11] = (uint8_t)c;
	}
	return len;
}

/* IPv6 from fd00::2 to fd00::1, UDP, `payload` bytes. */
static size_t ip6(uint8_t *pkt, size_t payload)
{
	size_t len = 40 + 8 + payload;

	memset(pkt, 0, len);
	pkt[0] = 0x60;
	pkt[4] = (uint8_t)((len - 40) >> 8);
	pkt[5] = (uint8_t)(len - 40);
	pkt[6] = 17;
	pkt[7] = 64;
	pkt[8] = 0xfd, pkt[23] = 2;
	pkt[24] = 0xfd, pkt[39] = 1;
	pkt[40] = 0x30, pkt[41] = 0x39, pkt[42] = 0x30, pkt[43] = 0x39;
	pkt[44] = (uint8_t)((len - 40) >> 8), pkt[45] = (uint8_t)(len - 40);
	return len;
}

static void write_seed(const char *dir, const char *name, const struct seed *s)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(s->buf, 1, s->len, f) != s->len || fclose(f)) {
		perror(path);
		exit(1);
	}
}

#define SLOT(n) ((uint8_t)((n) << 3))
#define VARIANT 0x20
#define FROM_V4 0x40
#define FROM_V6 0x80

static void write_seeds(const char *dir)
{
	struct harness h = { 0 };
	struct message_handshake_initiation m;
	uint8_t pkt[2048], tmp[64];
	char hex[KEY_HEX_LEN], req[256];
	struct seed *s = calloc(1, sizeof(*s));
	size_t n;

	if (!s)
		abort();
	/* A valid initiation from B, as a raw datagram: A's keys are fixed, so it stays valid. */
	h.b_hs = b_hs_pristine;
	cookie_maker_init(&h.b_maker, fuzz_public[FUZZ_A]);
	h.b_hs.entry.index = 0x1234;
	if (noise_create_initiation(&h.b_hs, &b_local, &m, REALTIME0))
		abort();
	cookie_add_macs(&h.b_maker, (uint8_t *)&m, sizeof(m), T0);
	s->len = 0;
	put(s, (uint8_t[]){ 0 }, 1);
	put_op(s, OP_RAW, &m, sizeof(m));
	write_seed(dir, "raw-initiation", s);

	/* The same twice in one GRO train: the second is a replay. */
	s->len = 0;
	put(s, (uint8_t[]){ 0 }, 1);
	n = 2 + 2 * sizeof(m);
	put(s, (uint8_t[]){ OP_RAW | VARIANT, (uint8_t)n, (uint8_t)(n >> 8) }, 3);
	put(s, (uint8_t[]){ sizeof(m), 0 }, 2);
	put(s, &m, sizeof(m));
	put(s, &m, sizeof(m));
	write_seed(dir, "train", s);

	/* Short and unknown datagrams of each type. */
	s->len = 0;
	put(s, (uint8_t[]){ 0 }, 1);
	put_op(s, OP_RAW, (uint8_t[]){ 4, 0, 0, 0, 1, 2, 3, 4 }, 8);
	put_op(s, OP_RAW, (uint8_t[]){ 2, 0, 0, 0 }, 4);
	put_op(s, OP_RAW, (uint8_t[]){ 9, 0, 0, 0 }, 4);
	memset(tmp, 0, sizeof(tmp));
	tmp[0] = 3;
	put_op(s, OP_RAW, tmp, 64);
	write_seed(dir, "raw-short", s);

	/* B initiates; then data over the new session (slot 0): ICMP, then a keepalive. */
	s->len = 0;
	put(s, (uint8_t[]){ 0 }, 1);
	put_op(s, OP_INITIATION, NULL, 0);
	n = ip4(pkt, 0, 2, false, 0, 56);
	put_op(s, OP_SEALED | SLOT(0), pkt, n);
	put_op(s, OP_SEALED | SLOT(0), NULL, 0);
	write_seed(dir, "b-initiates", s);

	/* A initiates, B answers; IPv6 data and a replayed counter. */
	s->len = 0;
	put(s, (uint8_t[]){ 0 }, 1);
	put_op(s, OP_RESPONSE, NULL, 0);
	n = ip6(pkt, 32);
	put_op(s, OP_SEALED | SLOT(0), pkt, n);
	memset(tmp, 0, 8);
	memcpy(tmp + 8, pkt, n < 48 ? n : 48);
	put_op(s, OP_SEALED | SLOT(0) | VARIANT, tmp, 8 + (n < 48 ? n : 48));
	put_op(s, OP_COOKIE, NULL, 0);
	write_seed(dir, "a-initiates", s);

	/* Under load: the first initiation gets a cookie, the second carries mac2. */
	s->len = 0;
	put(s, (uint8_t[]){ F_UNDER_LOAD }, 1);
	put_op(s, OP_INITIATION, NULL, 0);
	put_op(s, OP_TIME, (uint8_t[]){ 100, 0 }, 2);
	put_op(s, OP_INITIATION, NULL, 0);
	n = ip4(pkt, 2, 5, false, 0, 8);
	put_op(s, OP_SEALED | SLOT(0), pkt, n);
	write_seed(dir, "cookie", s);

	/* A TCP flow over a ready session with offloads: coalesced for the TUN. */
	s->len = 0;
	put(s, (uint8_t[]){ F_OFFLOAD | F_SESSION_INITIATOR }, 1);
	for (uint32_t i = 0; i < 4; i++) {
		n = ip4(pkt, 2, 7, true, 1000 + i * 1000, i == 3 ? 500 : 1000);
		put_op(s, OP_SEALED | SLOT(0), pkt, n);
	}
	put_op(s, OP_FLUSH, NULL, 0);
	n = ip4(pkt, 0, 3, false, 0, 8); /* C's address from B: refused */
	put_op(s, OP_SEALED | SLOT(0), pkt, n);
	write_seed(dir, "gro", s);

	/* Responder session confirmed by data; bad ciphertext; time runs out. */
	s->len = 0;
	put(s, (uint8_t[]){ F_SESSION_RESPONDER | F_UDP_FAILS }, 1);
	n = ip4(pkt, 0, 2, false, 0, 20);
	put_op(s, OP_SEALED | SLOT(0), pkt, n);
	memset(tmp, 0x55, sizeof(tmp));
	put_op(s, OP_DATA_HDR | SLOT(0) | FROM_V6, tmp, 40);
	put_op(s, OP_TIME | VARIANT, (uint8_t[]){ 150, 0 }, 2);
	put_op(s, OP_SEALED | SLOT(0) | FROM_V4, pkt, n);
	put_op(s, OP_TIME | VARIANT, (uint8_t[]){ 0x40, 0x02 }, 2);
	put_op(s, OP_SEALED | SLOT(0), pkt, n);
	write_seed(dir, "timers", s);

	/* Control-socket sets while B has a session: B removed and added back (without its
	 * preshared key, so its next initiation fails), then A's own key changed. */
	key_to_hex(hex, fuzz_public[FUZZ_B]);
	s->len = 0;
	put(s, (uint8_t[]){ F_SESSION_INITIATOR }, 1);
	n = ip4(pkt, 0, 2, false, 0, 8);
	put_op(s, OP_SEALED | SLOT(0), pkt, n);
	n = (size_t)snprintf(req, sizeof(req), "set=1\npublic_key=%s\nremove=true", hex);
	put_op(s, OP_FLUSH | VARIANT, req, n);
	n = ip4(pkt, 0, 2, false, 0, 8);
	put_op(s, OP_SEALED | SLOT(0), pkt, n);
	n = (size_t)snprintf(req, sizeof(req),
			     "set=1\npublic_key=%s\nallowed_ip=100.64.0.2/32\n"
			     "endpoint=198.18.0.2:51820",
			     hex);
	put_op(s, OP_FLUSH | VARIANT, req, n);
	put_op(s, OP_INITIATION, NULL, 0);
	put_op(s, OP_RESPONSE, NULL, 0);
	write_seed(dir, "control-remove-b", s);

	s->len = 0;
	put(s, (uint8_t[]){ F_OFFLOAD }, 1);
	put_op(s, OP_INITIATION, NULL, 0);
	n = ip4(pkt, 2, 9, true, 1, 100);
	put_op(s, OP_SEALED | SLOT(0), pkt, n);
	n = (size_t)snprintf(req, sizeof(req), "set=1\nprivate_key=%064x", 0x44);
	put_op(s, OP_FLUSH | VARIANT, req, n);
	n = ip4(pkt, 2, 9, true, 101, 100);
	put_op(s, OP_SEALED | SLOT(0), pkt, n);
	n = (size_t)snprintf(req, sizeof(req), "get=sealnet");
	put_op(s, OP_FLUSH | VARIANT, req, n);
	write_seed(dir, "control-rekey", s);

	/* Authentic packets from sources B may not use: C's address, one nobody has, IPv6 ones
	 * outside B's prefixes; then one from B's own. Only the last reaches the TUN. */
	s->len = 0;
	put(s, (uint8_t[]){ F_SESSION_INITIATOR }, 1);
	n = ip4(pkt, 0, 3, false, 0, 20);
	put_op(s, OP_SEALED | SLOT(0), pkt, n);
	n = ip4(pkt, 0, 99, false, 0, 20);
	put_op(s, OP_SEALED | SLOT(0), pkt, n);
	n = ip4(pkt, 3, 1, true, 1, 100); /* next to B's 100.64.2.0/24 */
	put_op(s, OP_SEALED | SLOT(0), pkt, n);
	n = ip6(pkt, 16);
	pkt[23] = 3; /* fd00::3, C's */
	put_op(s, OP_SEALED | SLOT(0), pkt, n);
	n = ip6(pkt, 16);
	pkt[9] = 3; /* fd00:3::2, next to B's fd00:2::/64 */
	put_op(s, OP_SEALED | SLOT(0), pkt, n);
	n = ip4(pkt, 2, 200, false, 0, 20);
	put_op(s, OP_SEALED | SLOT(0), pkt, n);
	write_seed(dir, "allowedips-source", s);

	/* A sends what its TUN hands over (45 bytes: padded to 48) on a session that ages: at
	 * 170 s it may, at 181 s it must start a handshake instead. B's data at 172 s asks for
	 * a keepalive 10 s later, when the session is past REJECT_AFTER_TIME too. */
	s->len = 0;
	put(s, (uint8_t[]){ F_SESSION_INITIATOR }, 1);
	n = ip4(pkt, 0, 2, false, 0, 17);
	memcpy(tmp, pkt + 12, 4), memcpy(pkt + 12, pkt + 16, 4), memcpy(pkt + 16, tmp, 4);
	put_op(s, OP_DATA_HDR | VARIANT, pkt, n); /* swapped: from 100.64.0.1 to B */
	put_op(s, OP_TIME | VARIANT, (uint8_t[]){ 170, 0 }, 2);
	put_op(s, OP_DATA_HDR | VARIANT, pkt, n);
	put_op(s, OP_TIME | VARIANT, (uint8_t[]){ 2, 0 }, 2);
	n = ip4(tmp, 0, 2, false, 0, 20);
	put_op(s, OP_SEALED | SLOT(0), tmp, n);
	put_op(s, OP_TIME | VARIANT, (uint8_t[]){ 9, 0 }, 2);
	put_op(s, OP_DATA_HDR | VARIANT, pkt, 45);
	put_op(s, OP_TIME | VARIANT, (uint8_t[]){ 2, 0 }, 2);
	write_seed(dir, "session-age", s);

	/* From a TUN with offloads: a TCP super-packet of three segments to B, twice. */
	s->len = 0;
	put(s, (uint8_t[]){ F_OFFLOAD | F_SESSION_INITIATOR }, 1);
	memset(pkt, 0, OFFLOAD_VNET_HDR_LEN);
	pkt[0] = OFFLOAD_F_NEEDS_CSUM;
	pkt[1] = OFFLOAD_GSO_TCPV4;
	pkt[2] = 40, pkt[3] = 0;                                 /* hdr_len */
	pkt[4] = 0xc8, pkt[5] = 0;                               /* gso_size 200 */
	pkt[6] = 20, pkt[7] = 0;                                 /* csum_start */
	pkt[8] = 16, pkt[9] = 0;                                 /* csum_offset */
	n = ip4(pkt + OFFLOAD_VNET_HDR_LEN, 0, 2, true, 1, 550); /* swapped below */
	memcpy(tmp, pkt + OFFLOAD_VNET_HDR_LEN + 12, 4);
	memcpy(pkt + OFFLOAD_VNET_HDR_LEN + 12, pkt + OFFLOAD_VNET_HDR_LEN + 16, 4);
	memcpy(pkt + OFFLOAD_VNET_HDR_LEN + 16, tmp, 4);
	put_op(s, OP_DATA_HDR | VARIANT, pkt, OFFLOAD_VNET_HDR_LEN + n);
	/* Past REJECT_AFTER_TIME: staged, and a handshake starts. */
	put_op(s, OP_TIME | VARIANT, (uint8_t[]){ 181, 0 }, 2);
	put_op(s, OP_DATA_HDR | VARIANT, pkt, OFFLOAD_VNET_HDR_LEN + n);
	write_seed(dir, "tun-super-packet", s);
	free(s);
	cipher_wipe(&h, sizeof(h));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *seeds = getenv("SEALNET_FUZZ_WRITE_SEEDS");

	fuzz_init();
	b_local.private_key = sodium_malloc(KEY_LEN);
	if (!b_local.private_key)
		abort();
	memcpy(b_local.private_key, fuzz_private[FUZZ_B], KEY_LEN);
	memcpy(b_local.public_key, fuzz_public[FUZZ_B], KEY_LEN);
	noise_handshake_init(&b_hs_pristine, &b_local, fuzz_public[FUZZ_A], fuzz_psk_ab);
	cookie_checker_init(&b_checker, fuzz_public[FUZZ_B]);
	sources[0] = sources[3] = fuzz_endpoint_b;
	if (addr_parse_endpoint("198.18.0.9:4500", &sources[1]) ||
	    addr_parse_endpoint("[fd00::9]:51820", &sources[2]))
		abort();
	locals[0] = (struct udp_src){ .addr = { .family = AF_INET, .bytes = { 198, 18, 0, 1 } },
				      .ifindex = 2 };
	locals[1] = (struct udp_src){ .addr = { .family = AF_INET, .bytes = { 198, 18, 0, 101 } },
				      .ifindex = 3 };
	locals[2] = (struct udp_src){ .addr = { .family = AF_INET6, .bytes = { 0xfd, [15] = 1 } } };
	if (seeds) {
		write_seeds(seeds);
		exit(0);
	}
	return 0;
}
