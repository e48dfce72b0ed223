#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "workers.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

/* How long an idle worker (or the caller, for the ranges others hold) polls before it
 * sleeps: a few microseconds. Longer polls caught more batches but took CPU time from the
 * event loop and the kernel on a busy machine (measured: 2000 rounds cost about 10 % of
 * one TCP stream's throughput against 50). */
#define SPIN_ROUNDS 50

/*
 * One job at a time. The claim word holds the job's generation in its upper half and the
 * next unclaimed item in its lower half; work is claimed with compare-and-swap, so a thread
 * that wakes up late, after its job ended, can never take items of the next one. The job
 * fields are written while the claim word says "all taken" and before it publishes a new
 * generation, and they are only read between loading the claim word and swapping it; a
 * successful swap proves the job did not change in between.
 */
struct workers {
	unsigned threads;
	pthread_t *tids;
	_Atomic uint64_t claim;
	_Atomic uint32_t gen;      /* futex word: a new job (or stop) */
	_Atomic uint32_t done;     /* futex word: items finished in this job */
	_Atomic uint32_t sleepers; /* workers asleep on gen */
	_Atomic uint32_t caller_waits;
	_Atomic bool stop;
	_Atomic(workers_fn *) fn;
	_Atomic(void *) ctx;
	_Atomic uint32_t total, chunk;
};

static void futex_wait(_Atomic uint32_t *word, uint32_t val)
{
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *word, int n)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Claims and does ranges of the job of generation gen until none is left. */
static void work(struct workers *w, uint32_t gen)
{
	for (;;) {
		uint64_t c = atomic_load(&w->claim);
		uint32_t begin = (uint32_t)c, total, chunk, end;
		workers_fn *fn;
		void *ctx;

		if ((uint32_t)(c >> 32) != gen)
			return;
		fn = atomic_load_explicit(&w->fn, memory_order_relaxed);
		ctx = atomic_load_explicit(&w->ctx, memory_order_relaxed);
		total = atomic_load_explicit(&w->total, memory_order_relaxed);
		chunk = atomic_load_explicit(&w->chunk, memory_order_relaxed);
		if (begin >= total)
			return;
		end = total - begin < chunk ? total : begin + chunk;
		if (!atomic_compare_exchange_weak(&w->claim, &c, ((uint64_t)gen << 32) | end))
			continue;
		fn(ctx, begin, end);
		if (atomic_fetch_add(&w->done, end - begin) + (end - begin) == total &&
		    atomic_load(&w->caller_waits))
			futex_wake(&w->done, 1);
	}
}

static void *worker_main(void *arg)
{
	struct workers *w = arg;
	uint32_t seen = 0;

	for (;;) {
		uint32_t gen;
		unsigned spins = 0;

		while ((gen = atomic_load(&w->gen)) == seen) {
			if (++spins < SPIN_ROUNDS) {
				cpu_relax();
				continue;
			}
			atomic_fetch_add(&w->sleepers, 1);
			if (atomic_load(&w->gen) == seen)
				futex_wait(&w->gen, seen);
			atomic_fetch_sub(&w->sleepers, 1);
			spins = 0;
		}
		seen = gen;
		if (atomic_load(&w->stop))
			return NULL;
		work(w, gen);
	}
}

unsigned workers_threads(const struct workers *w)
{
	return w ? w->threads : 1;
}

void workers_run(struct workers *w, workers_fn *fn, void *ctx, unsigned n, unsigned chunk)
{
	uint32_t gen;

	if (!w || n <= chunk) {
		if (n)
			fn(ctx, 0, n);
		return;
	}
	/* The previous job is complete (its caller waited for it), but a thread may have read
	 * its claim word and be about to read the fields: closing the word first makes that
	 * thread's swap fail whatever fields it then sees. */
	gen = atomic_load(&w->gen) + 1;
	atomic_store(&w->claim, ((uint64_t)gen << 32) | UINT32_MAX);
	atomic_store_explicit(&w->fn, fn, memory_order_relaxed);
	atomic_store_explicit(&w->ctx, ctx, memory_order_relaxed);
	atomic_store_explicit(&w->total, n, memory_order_relaxed);
	atomic_store_explicit(&w->chunk, chunk, memory_order_relaxed);
	atomic_store(&w->done, 0);
	atomic_store(&w->claim, (uint64_t)gen << 32);
	atomic_store(&w->gen, gen);
	if (atomic_load(&w->sleepers))
		futex_wake(&w->gen, INT_MAX);
	work(w, gen);
	/* Ranges other threads claimed may still be running. */
	for (unsigned spins = 0; atomic_load(&w->done) != n;) {
		uint32_t d;

		if (++spins < SPIN_ROUNDS) {
			cpu_relax();
			continue;
		}
		atomic_store(&w->caller_waits, 1);
		d = atomic_load(&w->done);
		if (d != n)
			futex_wait(&w->done, d);
		atomic_store(&w->caller_waits, 0);
	}
}

int workers_new(unsigned threads, struct workers **out)
{
	struct workers *w;
	int ret = 0;

	if (threads < 2 || threads > WORKERS_MAX)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->tids = calloc(threads - 1, sizeof(*w->tids));
	if (!w->tids) {
		free(w);
		return -ENOMEM;
	}
	for (w->threads = 1; w->threads < threads; w->threads++) {
		ret = -pthread_create(&w->tids[w->threads - 1], NULL, worker_main, w);
		if (ret)
			break;
	}
	if (ret) {
		workers_free(w);
		return ret;
	}
	*out = w;
	return 0;
}

void workers_free(struct workers *w)
{
	if (!w)
		return;
	atomic_store(&w->stop, true);
	atomic_fetch_add(&w->gen, 1);
	futex_wake(&w->gen, INT_MAX);
	for (unsigned i = 0; i + 1 < w->threads; i++)
		pthread_join(w->tids[i], NULL);
	free(w->tids);
	free(w);
}

unsigned workers_auto(void)
{
	cpu_set_t set;
	int n;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 1;
	n = CPU_COUNT(&set);
	/* On two CPUs the event loop and the kernel's half of the packet work (copies,
	 * softirq) already fill both: a second crypto thread only competes with them (one TCP
	 * stream through two daemons on a 2-CPU machine: about 10-15 % slower with 2 threads
	 * than with 1, tools/bench). */
	if (n <= 2)
		return 1;
	return n > 8 ? 8 : (unsigned)n;
}
