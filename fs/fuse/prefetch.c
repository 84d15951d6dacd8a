/* prefetch.c - directory IVs read ahead (see sfs_prefetch.h).
 *
 * A fixed ring of queued inodes, each held with sfs_inode_fd_get() so that
 * a forget from the kernel cannot free it while queued; the reader that
 * takes it loads the IV (nameio.c caches it in the inode) and puts it. */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>

#include "sfs_nameio.h"
#include "sfs_prefetch.h"

/* Queued directories; a walk lists them far slower than this fills. */
#define QUEUE_LEN 256U
#define MAX_THREADS 4U

struct sfs_prefetch {
	struct sfs_fs *fs;
	pthread_mutex_t mutex;
	pthread_cond_t work;
	struct sfs_inode *queue[QUEUE_LEN]; /* mutex */
	unsigned head, count;		    /* mutex */
	bool stop;			    /* mutex */
	pthread_t threads[MAX_THREADS];
	unsigned nthreads;
};

static void *reader(void *arg)
{
	struct sfs_prefetch *p = arg;

	pthread_mutex_lock(&p->mutex);
	for (;;) {
		struct sfs_inode *dir;

		while (!p->stop && p->count == 0)
			pthread_cond_wait(&p->work, &p->mutex);
		if (p->stop)
			break;
		dir = p->queue[p->head];
		p->head = (p->head + 1) % QUEUE_LEN;
		p->count--;
		pthread_mutex_unlock(&p->mutex);
		/* Failures are the request's to report, if one needs it. */
		(void)sfs_nameio_load_iv(p->fs, dir);
		sfs_inode_fd_put(p->fs->inodes, dir);
		pthread_mutex_lock(&p->mutex);
	}
	pthread_mutex_unlock(&p->mutex);
	return NULL;
}

struct sfs_prefetch *sfs_prefetch_start(struct sfs_fs *fs, unsigned threads)
{
	struct sfs_prefetch *p = calloc(1, sizeof(*p));
	sigset_t all, old;

	if (!p)
		return NULL;
	p->fs = fs;
	pthread_mutex_init(&p->mutex, NULL);
	pthread_cond_init(&p->work, NULL);
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	/* Signals are for the session's threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	while (p->nthreads < threads &&
	       pthread_create(&p->threads[p->nthreads], NULL, reader, p) == 0)
		p->nthreads++;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (p->nthreads == 0) {
		sfs_prefetch_stop(p);
		return NULL;
	}
	return p;
}

void sfs_prefetch_stop(struct sfs_prefetch *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mutex);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mutex);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	for (; p->count > 0; p->count--) {
		sfs_inode_fd_put(p->fs->inodes, p->queue[p->head]);
		p->head = (p->head + 1) % QUEUE_LEN;
	}
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->mutex);
	free(p);
}

void sfs_prefetch_dir(struct sfs_prefetch *p, struct sfs_inode *dir)
{
	bool queued = false;

	if (!p || sfs_nameio_iv_known(dir) ||
	    sfs_inode_fd_get(p->fs->inodes, dir) < 0)
		return;
	pthread_mutex_lock(&p->mutex);
	if (!p->stop && p->count < QUEUE_LEN) {
		p->queue[(p->head + p->count) % QUEUE_LEN] = dir;
		p->count++;
		queued = true;
		pthread_cond_signal(&p->work);
	}
	pthread_mutex_unlock(&p->mutex);
	if (!queued)
		sfs_inode_fd_put(p->fs->inodes, dir);
}
