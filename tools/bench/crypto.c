/* make bench-crypto: ChaCha20-Poly1305 (IETF, 12-byte nonce) from the Debian libraries the
 * datapath could use (libsodium, OpenSSL's libcrypto, BoringSSL as android-libboringssl,
 * libgcrypt, Nettle), called as the datapath calls them, for the sizes it sees. Figures,
 * never pass or fail: it fails only if an implementation gets a message wrong. Before timing
 * anything, every column seals every size of the table (and a few edge sizes) twice on the
 * same context and must give libsodium's bytes, opens libsodium's messages to the same text,
 * and rejects one with a flipped bit in the text, in the tag, or the wrong counter; every
 * timed open must succeed.
 *
 * The datapath seals each datagram in place with the session key handed over on every call
 * (daemon/send.c, seal_range(): the key is copied per packet) and a new counter as the
 * nonce, one call per datagram, whether the batch holds one datagram or a train of 64; it
 * opens each received datagram the same way. So every call here hands over the key and the
 * nonce, and every library column sets its context up with that key on every call; only the
 * sealnet column's BoringSSL contexts keep a key they already hold (cipher_aead.c sets one up
 * again only when the key differs), so sealnet against boringssl is what that re-keying
 * costs. The columns:
 *   sodium      crypto_aead_chacha20poly1305_ietf_encrypt/decrypt (combined), the calls the
 *               datapath made at every size before OpenSSL's, and below 128 bytes until
 *               BoringSSL's
 *   sodium-det  the _detached calls, tag written after the text, in place
 *   openssl     EVP: one context per direction, set up once with the cipher, re-keyed per
 *               call with EVP_CipherInit_ex2(ctx, NULL, key, nonce), Update, Final, tag ctrl.
 *               OpenSSL's libcrypto.so.3 is loaded at run time, local and deep-bound, and
 *               its functions are called through pointers (ossl_load()); where it cannot be
 *               loaded so, the column is left out with a note on stderr
 *   boringssl   BoringSSL's EVP_AEAD (crypto_bssl.c, a file of its own for BoringSSL's
 *               headers): one EVP_AEAD_CTX per direction; per call EVP_AEAD_CTX_cleanup and
 *               EVP_AEAD_CTX_init with the key, then EVP_AEAD_CTX_seal or EVP_AEAD_CTX_open
 *   gcrypt      libgcrypt: one handle per direction, opened once (CHACHA20, MODE_POLY1305);
 *               per call setkey, setiv, final, encrypt in place and gettag; or decrypt and
 *               checktag
 *   nettle      Nettle: one chacha_poly1305_ctx per direction; per call set_key, set_nonce,
 *               encrypt or decrypt, digest; an open compares the tag with memeql_sec()
 *   sealnet     cipher_aead_seal/open as the datapath calls them: BoringSSL for every size,
 *               or libsodium with SEALNET_AEAD=sodium (cipher_aead_init(), as sealnetd)
 * Each cell runs for -t seconds of the thread's CPU time; the rounds alternate the columns'
 * order; the figure is the median of the rounds. "single" is one message in one buffer;
 * "train" is 64 consecutive messages in one batch, as a GSO train or a GRO batch.
 *
 * BoringSSL, which libsealnet.a's cipher_aead.o links, exports OpenSSL's function names
 * without OpenSSL's symbol versions, and ld.so binds a versioned reference
 * (EVP_EncryptUpdate@OPENSSL_3.0.0) to an unversioned definition of the name: with both
 * libraries in the global scope, either one's calls could land in the other. So this file
 * includes OpenSSL's headers for the types only and names none of its functions; OpenSSL
 * comes in by dlopen(), RTLD_LOCAL (none of its names join the global scope) and
 * RTLD_DEEPBIND (its own calls resolve in itself before the global scope, where BoringSSL
 * is). A call through a pointer is no dearer than one through the PLT. */
#define _GNU_SOURCE /* RTLD_DEEPBIND, RTLD_DEFAULT */
#include <dlfcn.h>
#include <errno.h>
#include <gcrypt.h>
#include <nettle/chacha-poly1305.h>
#include <nettle/memops.h>
#include <nettle/version.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cipher.h"
#include "crypto_bssl.h"

#ifdef OPENSSL_IS_BORINGSSL
#error "crypto.c must see OpenSSL's headers, not BoringSSL's (those are crypto_bssl.c's)"
#endif

#define TAG 16
#define TRAIN 64
#define MAX_ROUNDS 15

enum impl { SODIUM, SODIUM_DET, OPENSSL, BORINGSSL, GCRYPT, NETTLE, SEALNET, N_IMPLS };
static const char *const impl_names[N_IMPLS] = { "sodium", "sodium-det", "openssl", "boringssl",
						 "gcrypt", "nettle",     "sealnet" };
/* The columns checked, timed and printed: all but openssl where OpenSSL cannot be loaded. */
static bool impl_on[N_IMPLS] = { true, true, false, true, true, true, true };

struct bench_case {
	size_t len; /* bytes of text per message */
	unsigned n; /* messages per batch */
};

#define MAX_CASES 32
#define MAX_LEN 1420

static struct bench_case cases[MAX_CASES] = {
	{ 64, 1 },   { 128, 1 },  { 256, 1 },    { 512, 1 },
	{ 1024, 1 }, { 1420, 1 }, { 64, TRAIN }, { 1420, TRAIN },
};
static size_t n_cases = 8;

/* OpenSSL's libcrypto.so.3 as ossl_load() found it: the functions the openssl column calls,
 * typed by OpenSSL's own declarations (which name them without making a reference), and
 * what it set up with them. */
static struct {
	void *lib;
	__typeof__(OpenSSL_version) *version;
	__typeof__(EVP_CIPHER_fetch) *cipher_fetch;
	__typeof__(EVP_CIPHER_free) *cipher_free;
	__typeof__(EVP_CIPHER_CTX_new) *ctx_new;
	__typeof__(EVP_CIPHER_CTX_free) *ctx_free;
	__typeof__(EVP_CIPHER_CTX_ctrl) *ctx_ctrl;
	__typeof__(EVP_EncryptInit_ex2) *encrypt_init;
	__typeof__(EVP_EncryptUpdate) *encrypt_update;
	__typeof__(EVP_EncryptFinal_ex) *encrypt_final;
	__typeof__(EVP_DecryptInit_ex2) *decrypt_init;
	__typeof__(EVP_DecryptUpdate) *decrypt_update;
	__typeof__(EVP_DecryptFinal_ex) *decrypt_final;
	EVP_CIPHER *chacha;
} ossl;
static EVP_CIPHER_CTX *evp_seal_ctx, *evp_open_ctx;
static gcry_cipher_hd_t gcry_seal_hd, gcry_open_hd;
static struct chacha_poly1305_ctx nettle_seal_ctx, nettle_open_ctx;
static uint8_t key[32];

static void nonce_of(uint8_t nonce[12], uint64_t counter)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

static void __attribute__((format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bench-crypto: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void seal_one(enum impl impl, uint8_t *buf, size_t len, uint64_t counter)
{
	uint8_t nonce[12], none[16];
	int outl;

	switch (impl) {
	case SODIUM:
		nonce_of(nonce, counter);
		crypto_aead_chacha20poly1305_ietf_encrypt(buf, NULL, buf, len, NULL, 0, NULL, nonce,
							  key);
		break;
	case SODIUM_DET:
		nonce_of(nonce, counter);
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(buf, buf + len, NULL, buf, len,
								   NULL, 0, NULL, nonce, key);
		break;
	case OPENSSL:
		nonce_of(nonce, counter);
		if (!ossl.encrypt_init(evp_seal_ctx, NULL, key, nonce, NULL) ||
		    !ossl.encrypt_update(evp_seal_ctx, buf, &outl, buf, (int)len) ||
		    !ossl.encrypt_final(evp_seal_ctx, none, &outl) ||
		    !ossl.ctx_ctrl(evp_seal_ctx, EVP_CTRL_AEAD_GET_TAG, TAG, buf + len))
			die("EVP seal failed");
		break;
	case BORINGSSL:
		nonce_of(nonce, counter);
		if (bssl_col_seal(buf, len, nonce, key))
			die("BoringSSL's EVP_AEAD seal failed");
		break;
	case GCRYPT:
		nonce_of(nonce, counter);
		if (gcry_cipher_setkey(gcry_seal_hd, key, sizeof(key)) ||
		    gcry_cipher_setiv(gcry_seal_hd, nonce, sizeof(nonce)) ||
		    gcry_cipher_final(gcry_seal_hd) ||
		    gcry_cipher_encrypt(gcry_seal_hd, buf, len, NULL, 0) ||
		    gcry_cipher_gettag(gcry_seal_hd, buf + len, TAG))
			die("gcrypt seal failed");
		break;
	case NETTLE:
		nonce_of(nonce, counter);
		chacha_poly1305_set_key(&nettle_seal_ctx, key);
		chacha_poly1305_set_nonce(&nettle_seal_ctx, nonce);
		chacha_poly1305_encrypt(&nettle_seal_ctx, len, buf, buf);
		chacha_poly1305_digest(&nettle_seal_ctx, TAG, buf + len);
		break;
	case SEALNET:
		cipher_aead_seal(buf, buf, len, NULL, 0, counter, key);
		break;
	case N_IMPLS:
		break;
	}
}

static bool open_one(enum impl impl, uint8_t *dst, const uint8_t *src, size_t len, uint64_t counter)
{
	uint8_t nonce[12], tag[TAG], none[16];
	int outl;

	switch (impl) {
	case SODIUM:
		nonce_of(nonce, counter);
		return !crypto_aead_chacha20poly1305_ietf_decrypt(dst, NULL, NULL, src, len + TAG,
								  NULL, 0, nonce, key);
	case SODIUM_DET:
		nonce_of(nonce, counter);
		return !crypto_aead_chacha20poly1305_ietf_decrypt_detached(dst, NULL, src, len,
									   src + len, NULL, 0,
									   nonce, key);
	case OPENSSL:
		nonce_of(nonce, counter);
		memcpy(tag, src + len, TAG);
		return ossl.decrypt_init(evp_open_ctx, NULL, key, nonce, NULL) &&
		       ossl.decrypt_update(evp_open_ctx, dst, &outl, src, (int)len) &&
		       ossl.ctx_ctrl(evp_open_ctx, EVP_CTRL_AEAD_SET_TAG, TAG, tag) &&
		       ossl.decrypt_final(evp_open_ctx, none, &outl);
	case BORINGSSL:
		nonce_of(nonce, counter);
		return !bssl_col_open(dst, src, len, nonce, key);
	case GCRYPT:
		/* A wrong tag is GPG_ERR_CHECKSUM from checktag; any error is a failed open. */
		nonce_of(nonce, counter);
		return !gcry_cipher_setkey(gcry_open_hd, key, sizeof(key)) &&
		       !gcry_cipher_setiv(gcry_open_hd, nonce, sizeof(nonce)) &&
		       !gcry_cipher_final(gcry_open_hd) &&
		       !gcry_cipher_decrypt(gcry_open_hd, dst, len, src, len) &&
		       !gcry_cipher_checktag(gcry_open_hd, src + len, TAG);
	case NETTLE:
		nonce_of(nonce, counter);
		chacha_poly1305_set_key(&nettle_open_ctx, key);
		chacha_poly1305_set_nonce(&nettle_open_ctx, nonce);
		chacha_poly1305_decrypt(&nettle_open_ctx, len, dst, src);
		chacha_poly1305_digest(&nettle_open_ctx, TAG, tag);
		return memeql_sec(tag, src + len, TAG);
	case SEALNET:
		return !cipher_aead_open(dst, src, len + TAG, NULL, 0, counter, key);
	case N_IMPLS:
		break;
	}
	return false;
}

static size_t first_difference(const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t i = 0;

	while (i < n && a[i] == b[i])
		i++;
	return i;
}

/* Counters with a different value in every byte: a column that lays the nonce out otherwise
 * than WireGuard's (4 zero bytes, then the counter little-endian; nonce_of() for the library
 * columns, cipher.c's own for sealnet), or a library that reads its 12 bytes otherwise, gives
 * other bytes. */
static const uint64_t check_counters[2] = { 0x0123456789abcdefULL, 0xf0e1d2c3b4a59687ULL };

/* impl against libsodium's combined calls for messages of len bytes, before any timing: two
 * seals in turn on the same context (state left over from the call before shows in the
 * second) must give libsodium's bytes; libsodium's messages must open to their text; a bit
 * flipped in the text or in the tag, or the wrong counter, must be refused, and the next
 * good message must still open after a refusal. Any difference ends the tool. */
static void check_impl(enum impl impl, size_t len)
{
	static uint8_t text[2][MAX_LEN], ref[2][MAX_LEN + TAG], buf[MAX_LEN + TAG], out[MAX_LEN];
	const char *name = impl_names[impl];
	size_t slot = len + TAG, at;
	uint8_t nonce[12];

	if (len > MAX_LEN) /* parse_args() sees to it; and the compiler then knows */
		die("%s: cannot check %zu bytes", name, len);
	for (int m = 0; m < 2; m++) {
		randombytes_buf(text[m], len);
		nonce_of(nonce, check_counters[m]);
		crypto_aead_chacha20poly1305_ietf_encrypt(ref[m], NULL, text[m], len, NULL, 0, NULL,
							  nonce, key);
	}
	for (int m = 0; m < 2; m++) {
		memcpy(buf, text[m], len);
		seal_one(impl, buf, len, check_counters[m]);
		at = first_difference(buf, ref[m], slot);
		if (at < slot)
			die("%s: sealing %zu bytes (message %d) differs from libsodium at byte %zu of "
			    "%zu, in the %s",
			    name, len, m + 1, at, slot, at < len ? "text" : "tag");
	}
	for (int m = 0; m < 2; m++) {
		uint64_t counter = check_counters[m];

		memset(out, 0, len);
		if (!open_one(impl, out, ref[m], len, counter))
			die("%s: libsodium's message of %zu bytes (message %d) does not open", name,
			    len, m + 1);
		if (memcmp(out, text[m], len))
			die("%s: libsodium's message of %zu bytes (message %d) opens to other text",
			    name, len, m + 1);
		if (open_one(impl, out, ref[m], len, counter + 1))
			die("%s: a message of %zu bytes opens under the wrong counter", name, len);
		memcpy(buf, ref[m], slot);
		buf[slot - 1 - m * (TAG - 1)] ^= 0x01;
		if (open_one(impl, out, buf, len, counter))
			die("%s: a message of %zu bytes opens with a bit of its tag flipped", name,
			    len);
		if (!len)
			continue;
		memcpy(buf, ref[m], slot);
		buf[m ? 0 : len - 1] ^= 0x80;
		if (open_one(impl, out, buf, len, counter))
			die("%s: a message of %zu bytes opens with a bit of its text flipped", name,
			    len);
	}
}

/* Every column against libsodium for every size of the table and the edges: nothing, less
 * than a block of either primitive (16, 64 bytes), a byte either side of them, the most. */
static void check_all(void)
{
	static const size_t edges[] = { 0, 1, 15, 16, 17, 63, 65, 1419, MAX_LEN };

	for (int impl = 0; impl < N_IMPLS; impl++) {
		if (!impl_on[impl])
			continue;
		for (size_t k = 0; k < n_cases; k++)
			check_impl(impl, cases[k].len);
		for (size_t k = 0; k < sizeof(edges) / sizeof(edges[0]); k++)
			check_impl(impl, edges[k]);
	}
}

/* The thread's CPU time, not the wall clock: on a shared machine the time this thread
 * waits for a CPU is not the cipher's. */
static double cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* ns per message, running whole batches for at least `seconds` of CPU time. Sealing is in
 * place in batch (its content changes every pass; the cost does not); opening reads the n
 * sealed messages of ct, counters 0..n-1, into batch. The clock (a system call) is read
 * every TRAIN messages at most. */
static double run_cell(enum impl impl, bool seal, const struct bench_case *c, uint8_t *batch,
		       const uint8_t *ct, double seconds)
{
	size_t slot = c->len + TAG;
	double start = cpu_ns(), end = start + seconds * 1e9, t;
	unsigned reps = c->n < TRAIN ? TRAIN / c->n : 1;
	uint64_t counter = 0, msgs = 0;

	do {
		for (unsigned r = 0; r < reps; r++) {
			for (unsigned i = 0; i < c->n; i++) {
				if (seal)
					seal_one(impl, batch + i * slot, c->len, counter++);
				else if (!open_one(impl, batch + i * slot, ct + i * slot, c->len,
						   i))
					die("%s: a message of %zu bytes (counter %u) did not open",
					    impl_names[impl], c->len, i);
			}
		}
		msgs += (uint64_t)reps * c->n;
	} while ((t = cpu_ns()) < end);
	return (t - start) / (double)msgs;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench-crypto [-r rounds (3)] [-t seconds per cell (0.2)]\n"
		"                    [-s size,size,... (single messages of these sizes only,\n"
		"                     at most %d bytes; to find where one library overtakes)]\n",
		MAX_LEN);
	exit(2);
}

/* -s SIZES (comma-separated), -r ROUNDS, -t SECONDS per cell. */
static void parse_args(int argc, char **argv, unsigned *rounds, double *seconds)
{
	int opt;

	while ((opt = getopt(argc, argv, "r:t:s:")) != -1) {
		switch (opt) {
		case 's':
			n_cases = 0;
			for (char *tok = strtok(optarg, ","); tok; tok = strtok(NULL, ",")) {
				long len = atol(tok);

				if (len < 0 || len > MAX_LEN || n_cases == MAX_CASES)
					usage();
				cases[n_cases++] = (struct bench_case){ (size_t)len, 1 };
			}
			break;
		case 'r':
			*rounds = (unsigned)atoi(optarg);
			break;
		case 't':
			*seconds = atof(optarg);
			break;
		default:
			usage();
		}
	}
	if (*rounds < 1 || *rounds > MAX_ROUNDS || !(*seconds > 0) || *seconds > 10)
		usage();
}

/* One line of the table: case c sealed or opened by every implementation, rounds times in
 * alternating order, the median of each. */
static void bench_row(bool seal, const struct bench_case *c, unsigned rounds, double seconds,
		      uint8_t *batch, uint8_t *ct)
{
	size_t slot = c->len + TAG;
	double ns[N_IMPLS][MAX_ROUNDS], med[N_IMPLS];
	char label[32];
	int best = 0;

	randombytes_buf(batch, TRAIN * (MAX_LEN + TAG));
	for (unsigned i = 0; i < c->n; i++) {
		randombytes_buf(ct + i * slot, c->len);
		crypto_aead_chacha20poly1305_ietf_encrypt(ct + i * slot, NULL, ct + i * slot,
							  c->len, NULL, 0, NULL,
							  (uint8_t[12]){ 0, 0, 0, 0, (uint8_t)i },
							  key);
	}
	for (unsigned r = 0; r < rounds; r++)
		for (int j = 0; j < N_IMPLS; j++) {
			int impl = (j + (int)r) % N_IMPLS;

			if (r & 1)
				impl = N_IMPLS - 1 - impl;
			if (impl_on[impl])
				ns[impl][r] = run_cell(impl, seal, c, batch, ct, seconds);
		}
	if (c->n == 1)
		snprintf(label, sizeof(label), "%zu", c->len);
	else
		snprintf(label, sizeof(label), "%u x %zu", c->n, c->len);
	printf("%-5s %-12s", seal ? "seal" : "open", label);
	for (int i = 0; i < N_IMPLS; i++) {
		if (!impl_on[i])
			continue;
		qsort(ns[i], rounds, sizeof(double), cmp_double);
		med[i] = ns[i][rounds / 2];
		printf(" | %7.0f ns %5.2f G", med[i], (double)c->len * 8 / med[i]);
		if (i != SEALNET && med[i] < med[best])
			best = i;
	}
	printf(" | %s\n", impl_names[best]);
	fflush(stdout);
}

/* ASan, HWASan, MSan and TSan abort the process on a dlopen() with RTLD_DEEPBIND, which
 * would bind the library's malloc() and the like past their interceptors, rather than fail
 * it: not tried under them. Looked up in the process rather than known at compile time, so
 * that a runtime that was preloaded counts too. The name of the one found, or NULL. */
static const char *sanitizer_runtime(void)
{
	static const char *const inits[] = { "__asan_init", "__hwasan_init", "__msan_init",
					     "__tsan_init" };

	for (size_t i = 0; i < sizeof(inits) / sizeof(inits[0]); i++)
		if (dlsym(RTLD_DEFAULT, inits[i]))
			return inits[i];
	return NULL;
}

#define OSSL_LIB "libcrypto.so.3"

/* OpenSSL's libcrypto into ossl, apart from BoringSSL (the comment at the top): 0, or
 * -ENOTSUP under a sanitizer, -ENOENT if the library or one of its functions is not there,
 * with why[whylen] saying which. It stays loaded until exit: OpenSSL pins itself in memory
 * and cleans up after itself at exit. */
static int ossl_load(char *why, size_t whylen)
{
	const struct {
		const char *name;
		void *fn; /* where the function's address goes */
	} fns[] = {
		{ "OpenSSL_version", &ossl.version },
		{ "EVP_CIPHER_fetch", &ossl.cipher_fetch },
		{ "EVP_CIPHER_free", &ossl.cipher_free },
		{ "EVP_CIPHER_CTX_new", &ossl.ctx_new },
		{ "EVP_CIPHER_CTX_free", &ossl.ctx_free },
		{ "EVP_CIPHER_CTX_ctrl", &ossl.ctx_ctrl },
		{ "EVP_EncryptInit_ex2", &ossl.encrypt_init },
		{ "EVP_EncryptUpdate", &ossl.encrypt_update },
		{ "EVP_EncryptFinal_ex", &ossl.encrypt_final },
		{ "EVP_DecryptInit_ex2", &ossl.decrypt_init },
		{ "EVP_DecryptUpdate", &ossl.decrypt_update },
		{ "EVP_DecryptFinal_ex", &ossl.decrypt_final },
	};
	const char *san = sanitizer_runtime();

	if (san) {
		snprintf(why, whylen, "a sanitizer's runtime (%s) refuses RTLD_DEEPBIND", san);
		return -ENOTSUP;
	}
	ossl.lib = dlopen(OSSL_LIB, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
	if (!ossl.lib) {
		snprintf(why, whylen, "%s", dlerror());
		return -ENOENT;
	}
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		/* Looked up in the library and its own dependencies only, never BoringSSL. */
		void *addr = dlsym(ossl.lib, fns[i].name);

		if (!addr) {
			snprintf(why, whylen, "%s has no %s", OSSL_LIB, fns[i].name);
			goto close_lib;
		}
		/* A copy, not a store through void **: the field is a function pointer. */
		memcpy(fns[i].fn, &addr, sizeof(addr));
	}
	return 0;

close_lib:
	dlclose(ossl.lib);
	memset(&ossl, 0, sizeof(ossl));
	return -ENOENT;
}

/* The openssl column's two contexts, set up once with the cipher; once loaded, OpenSSL
 * without ChaCha20-Poly1305 is an error, not a column left out. */
static void ossl_start(void)
{
	ossl.chacha = ossl.cipher_fetch(NULL, "ChaCha20-Poly1305", NULL);
	evp_seal_ctx = ossl.ctx_new();
	evp_open_ctx = ossl.ctx_new();
	if (!ossl.chacha || !evp_seal_ctx || !evp_open_ctx ||
	    !ossl.encrypt_init(evp_seal_ctx, ossl.chacha, NULL, NULL, NULL) ||
	    !ossl.decrypt_init(evp_open_ctx, ossl.chacha, NULL, NULL, NULL))
		die("no ChaCha20-Poly1305 in OpenSSL");
	impl_on[OPENSSL] = true;
}

int main(int argc, char **argv)
{
	unsigned rounds = 3;
	double seconds = 0.2;
	uint8_t *batch, *ct;
	char why[256];

	parse_args(argc, argv, &rounds, &seconds);
	if (cipher_init() || cipher_aead_init())
		die("cannot initialise the ciphers (SEALNET_AEAD?)");
	if (!ossl_load(why, sizeof(why)))
		ossl_start();
	else
		fprintf(stderr, "bench-crypto: no openssl column: %s\n", why);
	batch = calloc(TRAIN, MAX_LEN + TAG);
	ct = calloc(TRAIN, MAX_LEN + TAG);
	/* No secure memory: the keys here are random and thrown away, and libgcrypt's pool
	 * would want mlock() and warn without it. */
	if (!gcry_check_version(GCRYPT_VERSION))
		die("libgcrypt %s is older than its header, %s", gcry_check_version(NULL),
		    GCRYPT_VERSION);
	gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
	gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
	if (gcry_cipher_open(&gcry_seal_hd, GCRY_CIPHER_CHACHA20, GCRY_CIPHER_MODE_POLY1305, 0) ||
	    gcry_cipher_open(&gcry_open_hd, GCRY_CIPHER_CHACHA20, GCRY_CIPHER_MODE_POLY1305, 0))
		die("no ChaCha20-Poly1305 in libgcrypt");
	if (!batch || !ct)
		die("out of memory");
	randombytes_buf(key, sizeof(key));
	check_all();

	printf("ChaCha20-Poly1305, one thread, key and nonce handed over on every call;\n"
	       "libsodium %s, %s, %s, libgcrypt %s, Nettle %d.%d;\n"
	       "median of %u alternating rounds of %.2f s of CPU time per cell.\n"
	       "ns per message / Gbit/s of text. sealnet = cipher_aead_*: %s\n\n",
	       sodium_version_string(),
	       impl_on[OPENSSL] ? ossl.version(OPENSSL_VERSION) : "no OpenSSL", bssl_col_describe(),
	       gcry_check_version(NULL), nettle_version_major(), nettle_version_minor(), rounds,
	       seconds, cipher_aead_describe());
	printf("%-5s %-12s", "op", "messages");
	for (int i = 0; i < N_IMPLS; i++)
		if (impl_on[i])
			printf(" | %17s", impl_names[i]);
	printf(" | fastest\n");
	for (int op = 0; op < 2; op++)
		for (size_t k = 0; k < n_cases; k++)
			bench_row(op == 0, &cases[k], rounds, seconds, batch, ct);
	if (impl_on[OPENSSL]) {
		ossl.ctx_free(evp_seal_ctx);
		ossl.ctx_free(evp_open_ctx);
		ossl.cipher_free(ossl.chacha);
	}
	bssl_col_free();
	gcry_cipher_close(gcry_seal_hd);
	gcry_cipher_close(gcry_open_hd);
	free(batch);
	free(ct);
	return 0;
}
