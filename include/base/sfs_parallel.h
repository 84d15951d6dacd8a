/* sfs_parallel.h - run the parts of one CPU-bound job on several cores.
 *
 * Sealing or opening a 1 MiB write on one core leaves the other cores idle
 * while the kernel waits for the reply; splitting the blocks across a small
 * pool of threads cuts that wait. The caller always works on its own job
 * too, so a busy (or absent) pool only makes a job slower, never stuck.
 */
#ifndef SFS_PARALLEL_H
#define SFS_PARALLEL_H

/* Calls part(arg, i) once for every i in [0, nparts), on the calling thread
 * and on pool threads that are free, and returns when all calls returned.
 * Calls may run concurrently, so each must touch only its own share of
 * arg. The pool (one thread per online CPU but one, at most
 * SFS_PARALLEL_MAX_THREADS) starts on first use; if it cannot start, every
 * part runs on the calling thread, as it does in a child forked after the
 * pool started. */
void sfs_parallel_run(void (*part)(void *arg, unsigned i), void *arg,
		      unsigned nparts);

/* How many parts are worth making: the threads that can run at once. */
unsigned sfs_parallel_width(void);

#define SFS_PARALLEL_MAX_THREADS 7U

#endif
