/* inode.c - inode table hashed by backing (dev, ino), with lookup counts.
 *
 * The kernel's inode number for an entry is the address of its struct
 * sfs_inode (like libfuse's passthrough_ll), so every op finds its inode in
 * O(1); the hash table exists so that a second lookup of the same backing
 * object (a hard link, a rename) returns the same entry. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sfs_inode.h"

struct sfs_inode_table {
	pthread_mutex_t mutex; /* before any inode's locks */
	struct sfs_inode **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
	struct sfs_inode root; /* never freed, never in the hash */
};

static size_t bucket_of(const struct sfs_inode_table *t, dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ULL ^ (uint64_t)dev;

	return (size_t)(h ^ (h >> 29)) & (t->nbuckets - 1);
}

static void inode_init(struct sfs_inode *inode, int fd, const struct stat *st)
{
	memset(inode, 0, sizeof(*inode));
	inode->fd = fd;
	inode->dev = st->st_dev;
	inode->ino = st->st_ino;
	inode->type = st->st_mode & S_IFMT;
	pthread_rwlock_init(&inode->content, NULL);
	pthread_mutex_init(&inode->meta_lock, NULL);
}

static void inode_destroy(struct sfs_inode *inode)
{
	close(inode->fd);
	pthread_rwlock_destroy(&inode->content);
	pthread_mutex_destroy(&inode->meta_lock);
	memset(inode->diriv, 0, sizeof(inode->diriv));
	memset(inode->file_id, 0, sizeof(inode->file_id));
}

struct sfs_inode_table *sfs_itable_new(int root_fd, const struct stat *st)
{
	struct sfs_inode_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->nbuckets = 1024;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->mutex, NULL);
	inode_init(&t->root, root_fd, st);
	t->root.nlookup = 2; /* the kernel never forgets the root */
	return t;
}

void sfs_itable_free(struct sfs_inode_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct sfs_inode *n = t->buckets[i];
		while (n) {
			struct sfs_inode *next = n->next;
			inode_destroy(n);
			free(n);
			n = next;
		}
	}
	inode_destroy(&t->root);
	pthread_mutex_destroy(&t->mutex);
	free(t->buckets);
	free(t);
}

struct sfs_inode *sfs_itable_root(struct sfs_inode_table *t)
{
	return &t->root;
}

/* Doubles the bucket array when the load factor passes 1; failure to grow is
 * harmless (chains just get longer). Called with the mutex held. */
static void maybe_grow(struct sfs_inode_table *t)
{
	size_t nb = t->nbuckets * 2;
	struct sfs_inode **b;

	if (t->count <= t->nbuckets)
		return;
	b = calloc(nb, sizeof(*b));
	if (!b)
		return;
	struct sfs_inode **old = t->buckets;
	size_t oldn = t->nbuckets;
	t->buckets = b;
	t->nbuckets = nb;
	for (size_t i = 0; i < oldn; i++) {
		struct sfs_inode *n = old[i];
		while (n) {
			struct sfs_inode *next = n->next;
			size_t k = bucket_of(t, n->dev, n->ino);
			n->next = b[k];
			b[k] = n;
			n = next;
		}
	}
	free(old);
}

struct sfs_inode *sfs_itable_get(struct sfs_inode_table *t, int fd,
				 const struct stat *st)
{
	struct sfs_inode *n;
	size_t k;

	pthread_mutex_lock(&t->mutex);
	if (st->st_dev == t->root.dev && st->st_ino == t->root.ino) {
		t->root.nlookup++;
		pthread_mutex_unlock(&t->mutex);
		close(fd);
		return &t->root;
	}
	k = bucket_of(t, st->st_dev, st->st_ino);
	for (n = t->buckets[k]; n; n = n->next) {
		if (n->dev == st->st_dev && n->ino == st->st_ino) {
			n->nlookup++;
			pthread_mutex_unlock(&t->mutex);
			close(fd);
			return n;
		}
	}
	n = malloc(sizeof(*n));
	if (!n) {
		pthread_mutex_unlock(&t->mutex);
		close(fd);
		return NULL;
	}
	inode_init(n, fd, st);
	n->nlookup = 1;
	n->next = t->buckets[k];
	t->buckets[k] = n;
	t->count++;
	maybe_grow(t);
	pthread_mutex_unlock(&t->mutex);
	return n;
}

void sfs_itable_forget(struct sfs_inode_table *t, struct sfs_inode *inode,
		       uint64_t n)
{
	struct sfs_inode **pp;

	pthread_mutex_lock(&t->mutex);
	if (n > inode->nlookup) {
		fprintf(stderr, "BUG: forget %llu of inode with %llu lookups\n",
			(unsigned long long)n,
			(unsigned long long)inode->nlookup);
		abort();
	}
	inode->nlookup -= n;
	if (inode->nlookup > 0 || inode == &t->root) {
		pthread_mutex_unlock(&t->mutex);
		return;
	}
	for (pp = &t->buckets[bucket_of(t, inode->dev, inode->ino)]; *pp;
	     pp = &(*pp)->next) {
		if (*pp == inode) {
			*pp = inode->next;
			break;
		}
	}
	t->count--;
	pthread_mutex_unlock(&t->mutex);
	inode_destroy(inode);
	free(inode);
}
