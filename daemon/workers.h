/* Threads that share out the AEAD work of one batch (Threads = in the config).
 *
 * The event loop stays on one thread and owns every piece of state; only the sealing and
 * opening of a batch's packets, each independent of the others, is spread out. The caller
 * takes part and claims work like any worker, so a batch never waits for a thread the
 * scheduler has not run yet, and packets leave in the order they were queued whoever
 * sealed them. Small batches (light traffic) never wake a thread. */
#ifndef SEALNET_WORKERS_H
#define SEALNET_WORKERS_H

#include <stddef.h>

#define WORKERS_MAX 64

struct workers;

/* Does items [begin, end) of the job. Runs on any thread, concurrently with other ranges. */
typedef void workers_fn(void *ctx, unsigned begin, unsigned end);

/* A pool where `threads` threads (the caller included) work on each job: threads - 1 are
 * started. threads must be 2..WORKERS_MAX. *out owned by the caller, freed with
 * workers_free(). 0 or -errno. */
int workers_new(unsigned threads, struct workers **out);
/* Stops and joins the threads. NULL is fine. */
void workers_free(struct workers *w);
/* Threads working on a job, the caller included; 1 for NULL. */
unsigned workers_threads(const struct workers *w);

/* Runs fn over items [0, n) in ranges of `chunk` and returns when all are done. With no
 * pool, or n <= chunk, the caller does it alone without any synchronisation. */
void workers_run(struct workers *w, workers_fn *fn, void *ctx, unsigned n, unsigned chunk);

/* What Threads = auto means here: the CPUs this process may run on, at most 8; 1 where
 * that is 2 or fewer (see workers.c). */
unsigned workers_auto(void);

#endif
