#include "offload.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/*
 * The Internet checksum of every segment a TCP super-packet is cut into is summed here: it
 * was 6 % of the sending daemon's time in 4-byte steps. Vector units add 32-bit words into
 * 64-bit lanes 32 or 64 bytes a step, with no carry to fold until the end.
 *
 * Every path sums the buffer as native-order 32-bit words (then a 16-bit and a byte tail)
 * into a 64-bit accumulator: the byte order of the loads does not matter for a ones'
 * complement sum as long as the fold swaps back, which is why the result is converted once.
 * A lane takes at most 2^32 additions of a 32-bit word before it could wrap, so any buffer
 * under 16 GiB is safe; the largest we sum is one IP packet (64 KiB).
 */

typedef uint64_t sum_fn(const uint8_t **p, size_t *len);

/* The tail the bulk leaves (under 64 bytes), and short sums such as addresses. */
static uint64_t sum_words(const uint8_t *p, size_t len, uint64_t acc)
{
	uint64_t d;
	uint32_t w;

	while (len >= 8) {
		memcpy(&d, p, 8);
		acc += (d & 0xffffffff) + (d >> 32);
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		memcpy(&w, p, 4);
		acc += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t h;

		memcpy(&h, p, 2);
		acc += h;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint8_t last[2] = { p[0], 0 };
		uint16_t h;

		memcpy(&h, last, 2);
		acc += h;
	}
	return acc;
}

/* Portable: four independent accumulators, so the adds do not wait on each other. */
static uint64_t sum_scalar(const uint8_t **pp, size_t *lenp)
{
	const uint8_t *p = *pp;
	size_t len = *lenp;
	uint64_t a = 0, b = 0, c = 0, d = 0, w[4];

	while (len >= 32) {
		memcpy(w, p, 32);
		a += (w[0] & 0xffffffff) + (w[0] >> 32);
		b += (w[1] & 0xffffffff) + (w[1] >> 32);
		c += (w[2] & 0xffffffff) + (w[2] >> 32);
		d += (w[3] & 0xffffffff) + (w[3] >> 32);
		p += 32;
		len -= 32;
	}
	*pp = p;
	*lenp = len;
	return a + b + c + d;
}

#if defined(__x86_64__)
/* SSE2 is in every x86-64 CPU. */
static uint64_t sum_sse2(const uint8_t **pp, size_t *lenp)
{
	const uint8_t *p = *pp;
	size_t len = *lenp;
	__m128i z = _mm_setzero_si128(), a = z, b = z;
	uint64_t lane[2];

	while (len >= 32) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i u = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));

		a = _mm_add_epi64(a, _mm_unpacklo_epi32(v, z));
		a = _mm_add_epi64(a, _mm_unpackhi_epi32(v, z));
		b = _mm_add_epi64(b, _mm_unpacklo_epi32(u, z));
		b = _mm_add_epi64(b, _mm_unpackhi_epi32(u, z));
		p += 32;
		len -= 32;
	}
	_mm_storeu_si128((__m128i *)(void *)lane, _mm_add_epi64(a, b));
	*pp = p;
	*lenp = len;
	return lane[0] + lane[1];
}

__attribute__((target("avx2"))) static uint64_t sum_avx2(const uint8_t **pp, size_t *lenp)
{
	const uint8_t *p = *pp;
	size_t len = *lenp;
	__m256i z = _mm256_setzero_si256(), a = z, b = z;
	uint64_t lane[4];

	while (len >= 64) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(const void *)p);
		__m256i u = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));

		a = _mm256_add_epi64(a, _mm256_unpacklo_epi32(v, z));
		a = _mm256_add_epi64(a, _mm256_unpackhi_epi32(v, z));
		b = _mm256_add_epi64(b, _mm256_unpacklo_epi32(u, z));
		b = _mm256_add_epi64(b, _mm256_unpackhi_epi32(u, z));
		p += 64;
		len -= 64;
	}
	_mm256_storeu_si256((__m256i *)(void *)lane, _mm256_add_epi64(a, b));
	*pp = p;
	*lenp = len;
	return lane[0] + lane[1] + lane[2] + lane[3];
}
#endif

static const struct {
	const char *name;
	sum_fn *fn;
} impls[] = {
	[OFFLOAD_CSUM_SCALAR] = { "scalar", sum_scalar },
#if defined(__x86_64__)
	[OFFLOAD_CSUM_SSE2] = { "sse2", sum_sse2 },
	[OFFLOAD_CSUM_AVX2] = { "avx2", sum_avx2 },
#endif
};

/* Chosen once, before any thread starts (a constructor), and only read after that. */
static sum_fn *sum_bulk = sum_scalar;

static bool impl_runs_here(enum offload_csum_impl impl)
{
	if ((size_t)impl >= sizeof(impls) / sizeof(impls[0]) || !impls[impl].fn)
		return false;
#if defined(__x86_64__)
	if (impl == OFFLOAD_CSUM_AVX2)
		return __builtin_cpu_supports("avx2");
#endif
	return true;
}

__attribute__((constructor)) static void pick_best(void)
{
#if defined(__x86_64__)
	__builtin_cpu_init();
	sum_bulk = impl_runs_here(OFFLOAD_CSUM_AVX2) ? sum_avx2 : sum_sse2;
#endif
}

int offload_csum_use(enum offload_csum_impl impl)
{
	if (!impl_runs_here(impl))
		return -ENOTSUP;
	sum_bulk = impls[impl].fn;
	return 0;
}

const char *offload_csum_name(void)
{
	for (size_t i = 0; i < sizeof(impls) / sizeof(impls[0]); i++)
		if (impls[i].fn == sum_bulk)
			return impls[i].name;
	return "?";
}

uint64_t offload_csum_add(uint64_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	/* Addresses and headers are too short for a vector step: no indirect call for them. */
	uint64_t acc = len >= 32 ? sum_bulk(&p, &len) : 0;

	acc = sum_words(p, len, acc);
	/* acc holds native-order words; fold to 16 bits and convert to network order. */
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return sum + ntohs((uint16_t)acc);
}

uint16_t offload_csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}
