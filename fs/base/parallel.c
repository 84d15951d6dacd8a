/* parallel.c - a small thread pool that helps callers finish split jobs.
 *
 * A job lives on its caller's stack and sits in a queue while it has
 * unclaimed parts. Everybody (caller and pool threads) claims parts with an
 * atomic counter, so no part waits for a particular thread. The caller
 * takes the job off the queue when all parts are claimed and waits only for
 * pool threads still inside one of its parts.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

#include "sfs_parallel.h"

struct job {
	void (*part)(void *arg, unsigned i);
	void *arg;
	unsigned nparts;
	atomic_uint next;    /* next part to claim */
	unsigned helpers;    /* pool threads working on it; pool.mutex */
	pthread_cond_t idle; /* signalled when helpers drops to 0 */
	struct job *qnext;   /* queue link; pool.mutex */
	bool queued;	     /* pool.mutex */
};

static struct {
	pthread_once_t once;
	pthread_mutex_t mutex;
	pthread_cond_t work; /* a job was queued */
	struct job *head;    /* jobs with parts left, oldest first */
	unsigned threads;    /* started pool threads */
} pool = {
    .once = PTHREAD_ONCE_INIT,
    .mutex = PTHREAD_MUTEX_INITIALIZER,
    .work = PTHREAD_COND_INITIALIZER,
};

/* Claims and runs parts of j until none are left. */
static void run_parts(struct job *j)
{
	unsigned i;

	while ((i = atomic_fetch_add(&j->next, 1)) < j->nparts)
		j->part(j->arg, i);
}

/* Takes j off the queue. Called with pool.mutex held. */
static void dequeue(struct job *j)
{
	struct job **pp;

	if (!j->queued)
		return;
	for (pp = &pool.head; *pp != j; pp = &(*pp)->qnext)
		;
	*pp = j->qnext;
	j->queued = false;
}

static void *pool_thread(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&pool.mutex);
	for (;;) {
		struct job *j = pool.head;

		if (!j) {
			pthread_cond_wait(&pool.work, &pool.mutex);
			continue;
		}
		j->helpers++;
		pthread_mutex_unlock(&pool.mutex);
		run_parts(j);
		pthread_mutex_lock(&pool.mutex);
		/* Every part is claimed now: nobody else needs to see it. */
		dequeue(j);
		if (--j->helpers == 0)
			pthread_cond_signal(&j->idle);
	}
	return NULL;
}

/* fork() copies only the forking thread: the child has no pool threads,
 * and the mutex must not be copied while one of them holds it. */
static void fork_prepare(void)
{
	pthread_mutex_lock(&pool.mutex);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&pool.mutex);
}

static void fork_child(void)
{
	pool.threads = 0;
	pool.head = NULL;
	pthread_mutex_unlock(&pool.mutex);
}

static void pool_start(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned want = cpus > 1 ? (unsigned)cpus - 1 : 0;
	pthread_attr_t attr;
	sigset_t all, old;

	if (want > SFS_PARALLEL_MAX_THREADS)
		want = SFS_PARALLEL_MAX_THREADS;
	if (want == 0 ||
	    pthread_atfork(fork_prepare, fork_parent, fork_child) != 0 ||
	    pthread_attr_init(&attr) != 0)
		return;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* Parts are short and call no deep libraries. */
	pthread_attr_setstacksize(&attr, 256 * 1024);
	/* Signals belong to the threads that expect them, not to helpers. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned k = 0; k < want; k++) {
		pthread_t t;

		if (pthread_create(&t, &attr, pool_thread, NULL) != 0)
			break;
		pool.threads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
}

unsigned sfs_parallel_width(void)
{
	pthread_once(&pool.once, pool_start);
	return pool.threads + 1;
}

void sfs_parallel_run(void (*part)(void *arg, unsigned i), void *arg,
		      unsigned nparts)
{
	struct job j = {
	    .part = part,
	    .arg = arg,
	    .nparts = nparts,
	};

	atomic_init(&j.next, 0);
	if (nparts > 1 && sfs_parallel_width() > 1) {
		pthread_cond_init(&j.idle, NULL);
		pthread_mutex_lock(&pool.mutex);
		j.queued = true;
		j.qnext = NULL;
		struct job **pp = &pool.head;
		while (*pp)
			pp = &(*pp)->qnext;
		*pp = &j;
		pthread_cond_broadcast(&pool.work);
		pthread_mutex_unlock(&pool.mutex);

		run_parts(&j);

		pthread_mutex_lock(&pool.mutex);
		dequeue(&j);
		while (j.helpers > 0)
			pthread_cond_wait(&j.idle, &pool.mutex);
		pthread_mutex_unlock(&pool.mutex);
		pthread_cond_destroy(&j.idle);
		return;
	}
	run_parts(&j);
}
