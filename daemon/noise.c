#include "noise.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#include "cipher.h"

static const char construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
static const char identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";

/* Ci = Hash(CONSTRUCTION), Hi = Hash(Ci || IDENTIFIER): the same for every handshake. */
static uint8_t initial_chaining_key[NOISE_HASH_LEN];
static uint8_t initial_hash[NOISE_HASH_LEN];
static bool initial_ready;

static void ensure_initial(void)
{
	if (initial_ready)
		return;
	cipher_hash(initial_chaining_key, (const uint8_t *)construction, strlen(construction), NULL,
		    0);
	cipher_hash(initial_hash, initial_chaining_key, NOISE_HASH_LEN, (const uint8_t *)identifier,
		    strlen(identifier));
	initial_ready = true;
}

static void mix_hash(uint8_t hash[NOISE_HASH_LEN], const uint8_t *src, size_t len)
{
	cipher_hash(hash, hash, NOISE_HASH_LEN, src, len);
}

static void mix_key(uint8_t ck[NOISE_HASH_LEN], uint8_t *key, const uint8_t *src, size_t len)
{
	cipher_kdf(ck, key, NULL, ck, src, len);
}

/* ck, k = Kdf2(ck, DH(priv, pub)). */
static int mix_dh(uint8_t ck[NOISE_HASH_LEN], uint8_t *key, const uint8_t *priv, const uint8_t *pub)
{
	uint8_t dh[KEY_LEN];
	int ret = cipher_dh(dh, priv, pub);

	if (!ret)
		mix_key(ck, key, dh, sizeof(dh));
	cipher_wipe(dh, sizeof(dh));
	return ret;
}

static int mix_precomputed_dh(uint8_t ck[NOISE_HASH_LEN], uint8_t *key, const uint8_t *dh)
{
	if (cipher_is_zero(dh, KEY_LEN))
		return -EINVAL;
	mix_key(ck, key, dh, KEY_LEN);
	return 0;
}

/* Ck, tau, k = Kdf3(Ck, Q); H = Hash(H || tau). */
static void mix_psk(uint8_t ck[NOISE_HASH_LEN], uint8_t hash[NOISE_HASH_LEN], uint8_t *key,
		    const uint8_t psk[KEY_LEN])
{
	uint8_t tau[NOISE_HASH_LEN];

	cipher_kdf(ck, tau, key, ck, psk, KEY_LEN);
	mix_hash(hash, tau, sizeof(tau));
	cipher_wipe(tau, sizeof(tau));
}

static void message_encrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *key,
			    uint8_t hash[NOISE_HASH_LEN])
{
	cipher_aead_seal_once(dst, src, len, hash, NOISE_HASH_LEN, 0, key);
	mix_hash(hash, dst, NOISE_ENCRYPTED_LEN(len));
}

static int message_decrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *key,
			   uint8_t hash[NOISE_HASH_LEN])
{
	if (cipher_aead_open_once(dst, src, NOISE_ENCRYPTED_LEN(len), hash, NOISE_HASH_LEN, 0, key))
		return -EBADMSG;
	mix_hash(hash, src, NOISE_ENCRYPTED_LEN(len));
	return 0;
}

/* e: the ephemeral public key goes into the hash and the chaining key. */
static void mix_ephemeral(uint8_t ck[NOISE_HASH_LEN], uint8_t hash[NOISE_HASH_LEN],
			  const uint8_t ephemeral[KEY_LEN])
{
	mix_hash(hash, ephemeral, KEY_LEN);
	cipher_kdf(ck, NULL, NULL, ck, ephemeral, KEY_LEN);
}

/* e, on the sending side: a fresh ephemeral key, its public half into the message and the
 * transcript. */
static int new_ephemeral(struct noise_handshake *hs, uint8_t pub[KEY_LEN])
{
	cipher_generate_private(hs->ephemeral_private);
	if (cipher_public_key(pub, hs->ephemeral_private))
		return -EINVAL;
	mix_ephemeral(hs->chaining_key, hs->hash, pub);
	return 0;
}

static void handshake_start(uint8_t ck[NOISE_HASH_LEN], uint8_t hash[NOISE_HASH_LEN],
			    const uint8_t responder_static[KEY_LEN])
{
	ensure_initial();
	memcpy(ck, initial_chaining_key, NOISE_HASH_LEN);
	memcpy(hash, initial_hash, NOISE_HASH_LEN);
	mix_hash(hash, responder_static, KEY_LEN);
}

/* How both create steps end: on success hs moves on to next; on failure the half-built
 * handshake is forgotten, so its ephemeral key is never used. The message key goes either
 * way. */
static int create_done(struct noise_handshake *hs, enum noise_state next, uint8_t key[KEY_LEN],
		       int ret)
{
	if (ret)
		noise_handshake_clear(hs);
	else
		hs->state = next;
	cipher_wipe(key, KEY_LEN);
	return ret;
}

/* A consume step builds the transcript on this copy and hands it to hs only once the whole
 * message decrypted: a failed consume leaves hs as it was (noise.h). */
struct transcript {
	uint8_t hash[NOISE_HASH_LEN];
	uint8_t ck[NOISE_HASH_LEN];
	uint8_t key[KEY_LEN];
	uint8_t e[KEY_LEN]; /* the remote ephemeral */
};

/* How both consume steps end once the message is accepted. sender_index as on the wire. */
static void consume_done(struct noise_handshake *hs, const struct transcript *tr,
			 uint32_t sender_index, enum noise_state next)
{
	memcpy(hs->remote_ephemeral, tr->e, KEY_LEN);
	memcpy(hs->hash, tr->hash, NOISE_HASH_LEN);
	memcpy(hs->chaining_key, tr->ck, NOISE_HASH_LEN);
	hs->remote_index = le32toh(sender_index);
	hs->state = next;
}

void noise_tai64n(uint8_t out[NOISE_TIMESTAMP_LEN], uint64_t realtime_ns)
{
	/* TAI64 label 2^62 + 10 (TAI - UTC offset at the epoch); nanoseconds rounded down to a
	 * power of two below 1/INITIATIONS_PER_SECOND so the timestamp is no fine clock. */
	uint64_t sec = 0x400000000000000aULL + realtime_ns / NSEC_PER_SEC;
	uint32_t nsec = (uint32_t)(realtime_ns % NSEC_PER_SEC) & ~((1U << 24) - 1);
	uint64_t be_sec = htobe64(sec);
	uint32_t be_nsec = htobe32(nsec);

	memcpy(out, &be_sec, 8);
	memcpy(out + 8, &be_nsec, 4);
}

void noise_handshake_set_local(struct noise_handshake *hs, const struct noise_local *local)
{
	if (!local->private_key ||
	    cipher_dh(hs->precomputed_static_static, local->private_key, hs->remote_static))
		cipher_wipe(hs->precomputed_static_static, KEY_LEN);
}

void noise_handshake_init(struct noise_handshake *hs, const struct noise_local *local,
			  const uint8_t remote_static[KEY_LEN], const uint8_t *preshared_key)
{
	memcpy(hs->remote_static, remote_static, KEY_LEN);
	if (preshared_key)
		memcpy(hs->preshared_key, preshared_key, KEY_LEN);
	else
		cipher_wipe(hs->preshared_key, KEY_LEN);
	hs->entry.type = INDEX_HANDSHAKE;
	noise_handshake_set_local(hs, local);
	noise_handshake_clear(hs);
}

void noise_handshake_clear(struct noise_handshake *hs)
{
	cipher_wipe(hs->ephemeral_private, sizeof(hs->ephemeral_private));
	cipher_wipe(hs->remote_ephemeral, sizeof(hs->remote_ephemeral));
	cipher_wipe(hs->hash, sizeof(hs->hash));
	cipher_wipe(hs->chaining_key, sizeof(hs->chaining_key));
	hs->remote_index = 0;
	hs->state = NOISE_ZEROED;
}

int noise_create_initiation(struct noise_handshake *hs, const struct noise_local *local,
			    struct message_handshake_initiation *dst, uint64_t realtime_ns)
{
	uint8_t timestamp[NOISE_TIMESTAMP_LEN], key[KEY_LEN];
	int ret = -ENOKEY;

	if (!local->private_key)
		goto out;
	ret = -EINVAL;
	if (cipher_is_zero(hs->precomputed_static_static, KEY_LEN))
		goto out;

	memset(dst, 0, sizeof(*dst));
	dst->header.type = htole32(MESSAGE_HANDSHAKE_INITIATION);
	handshake_start(hs->chaining_key, hs->hash, hs->remote_static);

	/* e */
	if (new_ephemeral(hs, dst->unencrypted_ephemeral))
		goto out;

	/* es */
	if (mix_dh(hs->chaining_key, key, hs->ephemeral_private, hs->remote_static))
		goto out;

	/* s */
	message_encrypt(dst->encrypted_static, local->public_key, KEY_LEN, key, hs->hash);

	/* ss */
	if (mix_precomputed_dh(hs->chaining_key, key, hs->precomputed_static_static))
		goto out;

	/* {t} */
	noise_tai64n(timestamp, realtime_ns);
	message_encrypt(dst->encrypted_timestamp, timestamp, NOISE_TIMESTAMP_LEN, key, hs->hash);

	dst->sender_index = htole32(hs->entry.index);
	ret = 0;
out:
	return create_done(hs, NOISE_CREATED_INITIATION, key, ret);
}

int noise_consume_initiation(const struct noise_local *local,
			     const struct message_handshake_initiation *src,
			     noise_lookup_fn *lookup, void *ctx, uint64_t now,
			     struct noise_handshake **out)
{
	uint8_t s[KEY_LEN], t[NOISE_TIMESTAMP_LEN];
	struct transcript tr;
	struct noise_handshake *hs;
	int ret = -ENOKEY;

	*out = NULL;
	if (!local->private_key)
		goto out;
	handshake_start(tr.ck, tr.hash, local->public_key);

	/* e */
	memcpy(tr.e, src->unencrypted_ephemeral, KEY_LEN);
	mix_ephemeral(tr.ck, tr.hash, tr.e);

	/* es */
	ret = -EBADMSG;
	if (mix_dh(tr.ck, tr.key, local->private_key, tr.e))
		goto out;

	/* s */
	if (message_decrypt(s, src->encrypted_static, KEY_LEN, tr.key, tr.hash))
		goto out;

	ret = -ENOKEY;
	hs = lookup(ctx, s);
	if (!hs)
		goto out;

	/* ss */
	ret = -EBADMSG;
	if (mix_precomputed_dh(tr.ck, tr.key, hs->precomputed_static_static))
		goto out;

	/* {t} */
	if (message_decrypt(t, src->encrypted_timestamp, NOISE_TIMESTAMP_LEN, tr.key, tr.hash))
		goto out;

	/* A replayed initiation would make us answer again and reset the peer's session. */
	ret = -EALREADY;
	if (memcmp(t, hs->latest_timestamp, NOISE_TIMESTAMP_LEN) <= 0)
		goto out;
	ret = -EBUSY;
	if (hs->last_initiation_consumption &&
	    now - hs->last_initiation_consumption < NSEC_PER_SEC / INITIATIONS_PER_SECOND)
		goto out;

	consume_done(hs, &tr, src->sender_index, NOISE_CONSUMED_INITIATION);
	memcpy(hs->latest_timestamp, t, sizeof(t));
	hs->last_initiation_consumption = now;
	*out = hs;
	ret = 0;
out:
	cipher_wipe(&tr, sizeof(tr));
	cipher_wipe(s, sizeof(s));
	return ret;
}

int noise_create_response(struct noise_handshake *hs, const struct noise_local *local,
			  struct message_handshake_response *dst)
{
	uint8_t key[KEY_LEN];
	int ret = -EINVAL;

	if (hs->state != NOISE_CONSUMED_INITIATION || !local->private_key)
		goto out;

	memset(dst, 0, sizeof(*dst));
	dst->header.type = htole32(MESSAGE_HANDSHAKE_RESPONSE);
	dst->receiver_index = htole32(hs->remote_index);

	/* e */
	if (new_ephemeral(hs, dst->unencrypted_ephemeral))
		goto out;

	/* ee */
	if (mix_dh(hs->chaining_key, NULL, hs->ephemeral_private, hs->remote_ephemeral))
		goto out;

	/* se */
	if (mix_dh(hs->chaining_key, NULL, hs->ephemeral_private, hs->remote_static))
		goto out;

	/* psk */
	mix_psk(hs->chaining_key, hs->hash, key, hs->preshared_key);

	/* {} */
	message_encrypt(dst->encrypted_nothing, NULL, 0, key, hs->hash);

	dst->sender_index = htole32(hs->entry.index);
	ret = 0;
out:
	return create_done(hs, NOISE_CREATED_RESPONSE, key, ret);
}

int noise_consume_response(struct noise_handshake *hs, const struct noise_local *local,
			   const struct message_handshake_response *src)
{
	struct transcript tr;
	int ret = -EINVAL;

	if (hs->state != NOISE_CREATED_INITIATION || !local->private_key)
		goto out;
	memcpy(tr.hash, hs->hash, NOISE_HASH_LEN);
	memcpy(tr.ck, hs->chaining_key, NOISE_HASH_LEN);

	/* e */
	memcpy(tr.e, src->unencrypted_ephemeral, KEY_LEN);
	mix_ephemeral(tr.ck, tr.hash, tr.e);

	/* ee */
	ret = -EBADMSG;
	if (mix_dh(tr.ck, NULL, hs->ephemeral_private, tr.e))
		goto out;

	/* se */
	if (mix_dh(tr.ck, NULL, local->private_key, tr.e))
		goto out;

	/* psk */
	mix_psk(tr.ck, tr.hash, tr.key, hs->preshared_key);

	/* {} */
	if (message_decrypt(NULL, src->encrypted_nothing, 0, tr.key, tr.hash))
		goto out;

	consume_done(hs, &tr, src->sender_index, NOISE_CONSUMED_RESPONSE);
	ret = 0;
out:
	cipher_wipe(&tr, sizeof(tr));
	return ret;
}

int noise_derive_keypair(struct noise_handshake *hs, struct noise_keypair *kp, uint64_t now)
{
	bool initiator;

	if (hs->state == NOISE_CONSUMED_RESPONSE)
		initiator = true;
	else if (hs->state == NOISE_CREATED_RESPONSE)
		initiator = false;
	else
		return -EINVAL;

	/* Tsend, Trecv = Kdf2(Ck, empty), swapped for the responder. */
	if (initiator)
		cipher_kdf(kp->send_key, kp->recv_key, NULL, hs->chaining_key, NULL, 0);
	else
		cipher_kdf(kp->recv_key, kp->send_key, NULL, hs->chaining_key, NULL, 0);
	kp->send_counter = 0;
	replay_init(&kp->replay);
	kp->birthdate = now;
	kp->remote_index = hs->remote_index;
	kp->i_am_initiator = initiator;
	kp->valid = true;
	kp->entry.type = INDEX_KEYPAIR;
	noise_handshake_clear(hs);
	return 0;
}

void noise_keypair_wipe(struct noise_keypair *kp)
{
	cipher_wipe(kp->send_key, sizeof(kp->send_key));
	cipher_wipe(kp->recv_key, sizeof(kp->recv_key));
	kp->valid = false;
}
