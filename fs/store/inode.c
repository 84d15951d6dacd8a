/* inode.c - inode table hashed by backing (dev, ino), with lookup counts and
 * an fd budget.
 *
 * The kernel's inode number for an entry is the address of its struct
 * sfs_inode (like libfuse's passthrough_ll), so every op finds its inode in
 * O(1); the hash table exists so that a second lookup of the same backing
 * object (a hard link, a rename) returns the same entry.
 *
 * Parking (see sfs_inode.h): the inodes whose fd may be closed sit in a
 * ring that a clock hand sweeps when the table is over budget: an inode
 * used since the hand last passed (`referenced`) gets a second chance, one
 * in use is skipped, the others are parked. New inodes join just behind the
 * hand, so the hand reaches them last. Budget checks happen only where an
 * fd is opened, so a table under budget costs nothing but counters.
 *
 * By path, every inode knows the directory it was last seen in and its
 * backing name there (lookups, listings and renames through the mount keep
 * them current), and a parked one is reopened from its parent's fd, the
 * parent reopened the same way first when it is parked too. A parent stays
 * allocated while an inode names it, also after the kernel forgot it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h> /* RENAME_EXCHANGE */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sfs_inode.h"
#include "sfs_log.h"

/* Most fds one park pass closes; it parks down to this far below the
 * budget, so passes run about once per PARK_BATCH fds opened. */
#define PARK_BATCH 32U
/* Most parked directories one reopen by path walks up through (a deeper
 * chain, or a loop made behind the mount's back, is ESTALE). */
#define WALK_MAX 4096U
/* Reopens by path retried when the entry's name changed meanwhile. */
#define WALK_TRIES 4

struct sfs_inode_table {
	/* Shared by removals of names, exclusive for park passes: a pass
	 * never runs between a removal's check and the removal itself.
	 * Prefers writers, so a stream of unlinks cannot starve parking. */
	pthread_rwlock_t unlink_lock;
	/* Shared by reopens by path, exclusive for renames: a walk never sees
	 * a backing name moved but not yet recorded. */
	pthread_rwlock_t names_lock;
	pthread_mutex_t mutex; /* before any inode's fd_lock */
	struct sfs_inode **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
	struct sfs_inode *hand; /* the ring's clock hand; NULL when empty */
	/* Inodes out of the hash whose object is gone, until forgotten
	 * (chained through next). */
	struct sfs_inode *stale;
	int mount_fd; /* for open_by_handle_at; -1 by path */
	bool parking;
	bool by_path;
	size_t max_fds;
	bool handle_warned; /* table mutex */
	atomic_bool park_noted;
	atomic_size_t nopen;
	atomic_size_t nparked;
	atomic_size_t npinned;
	atomic_size_t nother;
	struct sfs_inode root; /* never freed, never in the hash */
};

/* This thread holds unlink_lock shared: a park pass would deadlock. */
static __thread bool in_unlink;

static size_t bucket_of(const struct sfs_inode_table *t, dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ULL ^ (uint64_t)dev;

	return (size_t)(h ^ (h >> 29)) & (t->nbuckets - 1);
}

static void inode_init(struct sfs_inode *inode, int fd, const struct stat *st)
{
	memset(inode, 0, sizeof(*inode));
	inode->path_fd = fd;
	inode->dev = st->st_dev;
	inode->ino = st->st_ino;
	inode->type = st->st_mode & S_IFMT;
	pthread_mutex_init(&inode->fd_lock, NULL);
	pthread_rwlock_init(&inode->content, NULL);
	atomic_init(&inode->backing_size, SFS_SIZE_UNKNOWN);
	pthread_mutex_init(&inode->meta_lock, NULL);
	pthread_mutex_init(&inode->xattr_lock, NULL);
}

static void inode_destroy(struct sfs_inode *inode)
{
	if (inode->path_fd >= 0)
		close(inode->path_fd);
	free(inode->handle);
	free(inode->name);
	pthread_mutex_destroy(&inode->fd_lock);
	pthread_rwlock_destroy(&inode->content);
	pthread_mutex_destroy(&inode->meta_lock);
	pthread_mutex_destroy(&inode->xattr_lock);
	memset(inode->diriv, 0, sizeof(inode->diriv));
	memset(inode->file_id, 0, sizeof(inode->file_id));
}

/* Frees an inode already out of the hash and the ring, whose parent was
 * released. */
static void inode_free(struct sfs_inode_table *t, struct sfs_inode *inode)
{
	if (inode->path_fd >= 0)
		atomic_fetch_sub(&t->nopen, 1);
	else
		atomic_fetch_sub(&t->nparked, 1);
	if (inode->pinned)
		atomic_fetch_sub(&t->npinned, 1);
	inode_destroy(inode);
	free(inode);
}

struct sfs_inode_table *sfs_itable_new(int root_fd, const struct stat *st)
{
	struct sfs_inode_table *t = calloc(1, sizeof(*t));
	pthread_rwlockattr_t attr;

	if (!t)
		return NULL;
	t->nbuckets = 1024;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return NULL;
	}
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(
	    &attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&t->unlink_lock, &attr);
	pthread_rwlock_init(&t->names_lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	pthread_mutex_init(&t->mutex, NULL);
	t->mount_fd = -1;
	inode_init(&t->root, root_fd, st);
	t->root.nlookup = 2; /* the kernel never forgets the root */
	return t;
}

void sfs_itable_free(struct sfs_inode_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i <= t->nbuckets; i++) {
		struct sfs_inode *n =
		    i < t->nbuckets ? t->buckets[i] : t->stale;
		while (n) {
			struct sfs_inode *next = n->next;
			inode_destroy(n);
			free(n);
			n = next;
		}
	}
	inode_destroy(&t->root);
	if (t->mount_fd >= 0)
		close(t->mount_fd);
	pthread_mutex_destroy(&t->mutex);
	pthread_rwlock_destroy(&t->names_lock);
	pthread_rwlock_destroy(&t->unlink_lock);
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

/* The inode of (dev, ino), root excluded; mutex held. */
static struct sfs_inode *find(struct sfs_inode_table *t, dev_t dev, ino_t ino)
{
	struct sfs_inode *n;

	for (n = t->buckets[bucket_of(t, dev, ino)]; n; n = n->next)
		if (n->dev == dev && n->ino == ino)
			return n;
	return NULL;
}

/* Ring insertion just behind the hand; mutex held. */
static void ring_add(struct sfs_inode_table *t, struct sfs_inode *n)
{
	if (!t->parking || n->in_ring || n->pinned || n->doomed)
		return;
	if (!t->hand) {
		n->ring_next = n->ring_prev = n;
		t->hand = n;
	} else {
		n->ring_next = t->hand;
		n->ring_prev = t->hand->ring_prev;
		n->ring_prev->ring_next = n;
		t->hand->ring_prev = n;
	}
	n->in_ring = true;
}

static void ring_del(struct sfs_inode_table *t, struct sfs_inode *n)
{
	if (!n->in_ring)
		return;
	if (n->ring_next == n) {
		t->hand = NULL;
	} else {
		n->ring_prev->ring_next = n->ring_next;
		n->ring_next->ring_prev = n->ring_prev;
		if (t->hand == n)
			t->hand = n->ring_next;
	}
	n->in_ring = false;
}

static bool over_budget(struct sfs_inode_table *t)
{
	return t->parking &&
	       atomic_load(&t->nopen) + atomic_load(&t->nother) > t->max_fds;
}

/* Never parks n again: it has no name left, or no handle. Both locks
 * held. */
static void pin(struct sfs_inode_table *t, struct sfs_inode *n)
{
	ring_del(t, n);
	if (!n->pinned)
		atomic_fetch_add(&t->npinned, 1);
	n->pinned = true;
}

union handle_buf {
	struct file_handle fh;
	char space[sizeof(struct file_handle) + MAX_HANDLE_SZ];
};

/* The file handle of the object open as fd into u; -errno. */
static int handle_of(int fd, union handle_buf *u)
{
	int mount_id;

	u->fh.handle_bytes = MAX_HANDLE_SZ;
	return name_to_handle_at(fd, "", &u->fh, &mount_id, AT_EMPTY_PATH) < 0
		   ? -errno
		   : 0;
}

/* Takes n's file handle, sized to what the filesystem needs. */
static int take_handle(struct sfs_inode *n)
{
	union handle_buf u;
	struct file_handle *h;
	int rc = handle_of(n->path_fd, &u);

	if (rc < 0)
		return rc;
	h = malloc(sizeof(*h) + u.fh.handle_bytes);
	if (!h)
		return -ENOMEM;
	memcpy(h, &u.fh, sizeof(*h) + u.fh.handle_bytes);
	n->handle = h;
	return 0;
}

/* Device, inode number, type, link count and birth time of the object open
 * as fd; -errno. */
static int stat_fd(int fd, struct statx *sx)
{
	return statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
		     STATX_TYPE | STATX_INO | STATX_NLINK | STATX_BTIME, sx) < 0
		   ? -errno
		   : 0;
}

/* The birth time in ns + 1, 0 when the filesystem keeps none. */
static uint64_t btime_of(const struct statx *sx)
{
	if (!(sx->stx_mask & STATX_BTIME))
		return 0;
	return (uint64_t)sx->stx_btime.tv_sec * 1000000000ULL +
	       sx->stx_btime.tv_nsec + 1;
}

/* Looks at the inode under the hand (both locks held) and moves the hand
 * on. Returns the fd to close when it parked it, else -1. */
static int clock_step(struct sfs_inode_table *t, struct sfs_inode *n)
{
	struct statx sx;
	int rc, fd;

	if (n->users > 0 || n->referenced) {
		n->referenced = false;
		t->hand = n->ring_next;
		return -1;
	}
	/* An object without a name could not be reopened. */
	if (stat_fd(n->path_fd, &sx) < 0 || sx.stx_nlink == 0) {
		pin(t, n);
		return -1;
	}
	/* By path it needs a name known; it rejoins the ring with one. */
	if (t->by_path && !n->parent) {
		ring_del(t, n);
		return -1;
	}
	if (!t->by_path && !n->handle && (rc = take_handle(n)) < 0) {
		if (!t->handle_warned)
			sfs_log(LOG_WARNING,
				"cannot take a file handle (%s): such entries "
				"keep their descriptors open",
				strerror(-rc));
		t->handle_warned = true;
		pin(t, n);
		return -1;
	}
	n->btime = btime_of(&sx);
	fd = n->path_fd;
	n->path_fd = -1;
	ring_del(t, n);
	atomic_fetch_sub(&t->nopen, 1);
	atomic_fetch_add(&t->nparked, 1);
	return fd;
}

/* One park pass: closes up to PARK_BATCH unused fds, least recently used
 * first, until the table is PARK_BATCH (at most half the budget) below its
 * budget. The closes happen after the locks are dropped. */
static void park(struct sfs_inode_table *t)
{
	size_t slack =
	    t->max_fds / 2 < PARK_BATCH ? t->max_fds / 2 : PARK_BATCH;
	size_t target = t->max_fds - slack, steps, n = 0;
	int fds[PARK_BATCH];

	if (in_unlink)
		return; /* the next fd opened parks */
	if (!atomic_exchange(&t->park_noted, true))
		sfs_log(LOG_INFO,
			"over %zu open descriptors: closing those of unused "
			"entries (reopened by %s when needed)",
			t->max_fds, t->by_path ? "path" : "handle");
	pthread_rwlock_wrlock(&t->unlink_lock);
	pthread_mutex_lock(&t->mutex);
	/* Two turns of the ring at most: the first may only clear
	 * `referenced`. */
	steps = 2 * atomic_load(&t->nopen) + 1;
	while (t->hand && n < PARK_BATCH && steps-- > 0 &&
	       atomic_load(&t->nopen) + atomic_load(&t->nother) > target) {
		struct sfs_inode *c = t->hand;
		int fd;

		pthread_mutex_lock(&c->fd_lock);
		fd = clock_step(t, c);
		pthread_mutex_unlock(&c->fd_lock);
		if (fd >= 0)
			fds[n++] = fd;
	}
	pthread_mutex_unlock(&t->mutex);
	pthread_rwlock_unlock(&t->unlink_lock);
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

/* Opens n's object from its handle and checks it is still n: handles
 * carry a generation, this also guards against a filesystem whose do not.
 * Returns the fd or -errno. */
static int reopen_handle(struct sfs_inode_table *t, struct sfs_inode *n)
{
	struct stat st;
	int fd, rc;

	fd = open_by_handle_at(t->mount_fd, n->handle, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESTALE : -errno;
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (st.st_dev != n->dev || st.st_ino != n->ino ||
	    (st.st_mode & S_IFMT) != n->type) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

/* Makes fd (open on n's object) n's fd when n is parked; both locks held.
 * Returns true when fd was taken. */
static bool adopt(struct sfs_inode_table *t, struct sfs_inode *n, int fd)
{
	if (n->path_fd >= 0 || n->doomed)
		return false;
	n->unlinked = false; /* found again: the unlink failed */
	n->path_fd = fd;
	atomic_fetch_sub(&t->nparked, 1);
	atomic_fetch_add(&t->nopen, 1);
	ring_add(t, n);
	return true;
}

int sfs_itable_enable_parking(struct sfs_inode_table *t, int mount_fd,
			      size_t max_fds)
{
	struct sfs_inode probe;
	int rc = -EBADF, fd;

	t->mount_fd = mount_fd;
	if (mount_fd >= 0) {
		/* The root's own handle shows whether handles work at all. */
		memset(&probe, 0, sizeof(probe));
		probe.path_fd = t->root.path_fd;
		probe.dev = t->root.dev;
		probe.ino = t->root.ino;
		probe.type = t->root.type;
		rc = take_handle(&probe);
		if (rc == 0) {
			fd = reopen_handle(t, &probe);
			rc = fd < 0 ? fd : close(fd);
		}
		free(probe.handle);
	}
	if (rc < 0) {
		if (mount_fd >= 0)
			close(mount_fd);
		t->mount_fd = -1;
		t->by_path = true;
	}
	t->max_fds = max_fds;
	t->parking = true;
	return rc;
}

/* Whether fd is open on the parked n's object: the same device, inode
 * number and type, and the same birth time where the filesystem keeps one
 * (an object removed behind our back may leave its inode number to a new
 * one). */
static bool is_object(const struct sfs_inode *n, int fd)
{
	struct statx sx;

	return stat_fd(fd, &sx) == 0 &&
	       makedev(sx.stx_dev_major, sx.stx_dev_minor) == n->dev &&
	       sx.stx_ino == n->ino && (sx.stx_mode & S_IFMT) == n->type &&
	       (n->btime == 0 || btime_of(&sx) == n->btime);
}

/* Whether the parked n is the object open as fd. By handle, the handle
 * tells them apart (it carries a generation). */
static bool same_object(struct sfs_inode_table *t, struct sfs_inode *n, int fd)
{
	union handle_buf u;

	if (t->by_path)
		return is_object(n, fd);
	return handle_of(fd, &u) == 0 &&
	       u.fh.handle_type == n->handle->handle_type &&
	       u.fh.handle_bytes == n->handle->handle_bytes &&
	       memcmp(u.fh.f_handle, n->handle->f_handle, u.fh.handle_bytes) ==
		   0;
}

/* Takes n out of the hash, or out of the stale list; mutex held. */
static void unhash(struct sfs_inode_table *t, struct sfs_inode *n)
{
	struct sfs_inode **pp;

	for (pp = &t->buckets[bucket_of(t, n->dev, n->ino)]; *pp;
	     pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			t->count--;
			return;
		}
	}
	for (pp = &t->stale; *pp; pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			return;
		}
	}
}

/* Retires n and then its parents as long as nothing refers to them any
 * more: the kernel forgot them and no inode names them as its directory.
 * Those not held go onto *dead, to be freed once the mutex is dropped; a
 * held one is freed by its last put. Mutex held. */
static void release(struct sfs_inode_table *t, struct sfs_inode *n,
		    struct sfs_inode **dead)
{
	while (n && n != &t->root && n->nlookup == 0 && n->children == 0 &&
	       !n->doomed) {
		struct sfs_inode *p = n->parent;
		bool held;

		unhash(t, n);
		ring_del(t, n);
		pthread_mutex_lock(&n->fd_lock);
		n->doomed = true;
		held = n->users > 0;
		pthread_mutex_unlock(&n->fd_lock);
		n->parent = NULL;
		if (!held) {
			n->next = *dead;
			*dead = n;
		}
		if (p)
			p->children--;
		n = p;
	}
}

static void free_dead(struct sfs_inode_table *t, struct sfs_inode *dead)
{
	while (dead) {
		struct sfs_inode *next = dead->next;

		inode_free(t, dead);
		dead = next;
	}
}

/* Forgets n's recorded name; mutex held. */
static void drop_name(struct sfs_inode_table *t, struct sfs_inode *n,
		      struct sfs_inode **dead)
{
	struct sfs_inode *p = n->parent;

	if (!p)
		return;
	free(n->name);
	n->name = NULL;
	n->parent = NULL;
	n->name_gen++;
	p->children--;
	release(t, p, dead);
}

static bool is_dot_or_dotdot(const char *name)
{
	return name[0] == '.' &&
	       (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/* Records that n was just seen as the entry `name` of dir (by path only);
 * mutex held. Out of memory, n is left without a name: its old one may be
 * gone. */
static void set_name(struct sfs_inode_table *t, struct sfs_inode *n,
		     struct sfs_inode *dir, const char *name,
		     struct sfs_inode **dead)
{
	char *s;

	if (!t->by_path || !dir || n == &t->root || n == dir || dir->doomed ||
	    is_dot_or_dotdot(name))
		return;
	if (n->parent == dir && strcmp(n->name, name) == 0)
		return;
	s = strdup(name);
	dir->children++; /* first: dropping the old name may release dir */
	drop_name(t, n, dead);
	if (!s) {
		dir->children--;
		release(t, dir, dead);
		return;
	}
	n->parent = dir;
	n->name = s;
	n->name_gen++;
	if (n->path_fd >= 0)
		ring_add(t, n);
}

struct sfs_inode *sfs_itable_get(struct sfs_inode_table *t, int fd,
				 const struct stat *st, struct sfs_inode *dir,
				 const char *name)
{
	struct sfs_inode *n, *dead = NULL;
	bool over;
	size_t k;

	pthread_mutex_lock(&t->mutex);
	if (st->st_dev == t->root.dev && st->st_ino == t->root.ino) {
		t->root.nlookup++;
		pthread_mutex_unlock(&t->mutex);
		close(fd);
		return &t->root;
	}
	n = find(t, st->st_dev, st->st_ino);
	if (n && n->path_fd < 0 && !same_object(t, n, fd)) {
		/* Stale: its object is gone (reopening it fails). The kernel
		 * still has it until it forgets it. */
		unhash(t, n);
		n->next = t->stale;
		t->stale = n;
		n = NULL;
	}
	if (n) {
		n->nlookup++;
		/* A parked inode takes the fresh fd instead of a reopen. */
		pthread_mutex_lock(&n->fd_lock);
		if (adopt(t, n, fd))
			fd = -1;
		pthread_mutex_unlock(&n->fd_lock);
	} else {
		n = malloc(sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&t->mutex);
			close(fd);
			return NULL;
		}
		inode_init(n, fd, st);
		fd = -1;
		n->nlookup = 1;
		k = bucket_of(t, st->st_dev, st->st_ino);
		n->next = t->buckets[k];
		t->buckets[k] = n;
		t->count++;
		atomic_fetch_add(&t->nopen, 1);
		ring_add(t, n);
		maybe_grow(t);
	}
	set_name(t, n, dir, name, &dead);
	over = over_budget(t);
	pthread_mutex_unlock(&t->mutex);
	free_dead(t, dead);
	if (fd >= 0)
		close(fd);
	if (over)
		park(t);
	return n;
}

void sfs_itable_forget(struct sfs_inode_table *t, struct sfs_inode *inode,
		       uint64_t n)
{
	struct sfs_inode *dead = NULL;

	pthread_mutex_lock(&t->mutex);
	if (n > inode->nlookup) {
		sfs_bug("forget %llu of inode with %llu lookups",
			(unsigned long long)n,
			(unsigned long long)inode->nlookup);
	}
	inode->nlookup -= n;
	release(t, inode, &dead);
	pthread_mutex_unlock(&t->mutex);
	free_dead(t, dead);
}

/* Takes a hold on n's fd: returns it, or -1 while parked. */
static int hold(struct sfs_inode *n)
{
	int fd;

	pthread_mutex_lock(&n->fd_lock);
	n->users++;
	n->referenced = true;
	fd = n->path_fd;
	pthread_mutex_unlock(&n->fd_lock);
	return fd;
}

static int unpark(struct sfs_inode_table *t, struct sfs_inode *n,
		  unsigned int depth, bool *over);

/* One walk to n from its parent's fd, the parent held meanwhile (reopened
 * first when parked). *gen is the name generation it used. */
static int walk_once(struct sfs_inode_table *t, struct sfs_inode *n,
		     unsigned int depth, bool *over, uint32_t *gen)
{
	struct sfs_inode *p;
	char *name = NULL;
	int pfd = -1, fd, rc = 0;

	pthread_mutex_lock(&t->mutex);
	p = n->parent;
	*gen = n->name_gen;
	if (p && (name = strdup(n->name)))
		pfd = hold(p);
	pthread_mutex_unlock(&t->mutex);
	if (!name)
		return p ? -ENOMEM : -ESTALE;
	if (pfd < 0)
		pfd = unpark(t, p, depth + 1, over);
	if (pfd < 0) {
		free(name);
		return pfd;
	}
	fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		rc = errno == ENOENT || errno == ENOTDIR ? -ESTALE : -errno;
	sfs_inode_fd_put(t, p);
	free(name);
	if (rc == 0 && !is_object(n, fd)) {
		close(fd);
		rc = -ESTALE;
	}
	return rc < 0 ? rc : fd;
}

/* Opens n's object through its parent and its recorded name and checks it
 * is still n. The names lock keeps renames through the mount out (taken at
 * the first level only); a name changed meanwhile by a lookup is retried.
 * Returns the fd or -errno. */
static int reopen_path(struct sfs_inode_table *t, struct sfs_inode *n,
		       unsigned int depth, bool *over)
{
	uint32_t gen;
	int fd, tries = 0;
	bool changed;

	if (depth > WALK_MAX)
		return -ESTALE;
	if (depth == 0)
		pthread_rwlock_rdlock(&t->names_lock);
	do {
		fd = walk_once(t, n, depth, over, &gen);
		pthread_mutex_lock(&t->mutex);
		changed = n->name_gen != gen;
		pthread_mutex_unlock(&t->mutex);
	} while (fd == -ESTALE && changed && ++tries < WALK_TRIES);
	if (depth == 0)
		pthread_rwlock_unlock(&t->names_lock);
	return fd;
}

/* n is held and parked: reopens it (by path, depth levels below the entry
 * an operation asked for). Returns its fd, or -errno with the hold dropped.
 * *over tells that the table went over budget. */
static int unpark(struct sfs_inode_table *t, struct sfs_inode *n,
		  unsigned int depth, bool *over)
{
	int fd = -ESTALE, err, ret;
	bool log = false, unlinked;

	pthread_mutex_lock(&n->fd_lock);
	unlinked = n->unlinked;
	pthread_mutex_unlock(&n->fd_lock);
	if (!unlinked)
		fd = t->by_path ? reopen_path(t, n, depth, over)
				: reopen_handle(t, n);
	err = fd < 0 ? fd : 0;
	pthread_mutex_lock(&t->mutex);
	pthread_mutex_lock(&n->fd_lock);
	if (fd >= 0 && adopt(t, n, fd))
		fd = -1;
	/* Also when another thread reopened it meanwhile. */
	ret = n->path_fd;
	if (ret < 0 && err == 0)
		err = -ESTALE; /* forgotten meanwhile: a kernel bug */
	/* Removed through the mount is no news. */
	if (ret < 0 && err == -ESTALE && depth == 0 && !n->stale_logged &&
	    !n->unlinked)
		log = n->stale_logged = true;
	pthread_mutex_unlock(&n->fd_lock);
	*over = *over || over_budget(t);
	pthread_mutex_unlock(&t->mutex);
	if (fd >= 0)
		close(fd);
	if (ret >= 0)
		return ret;
	if (log)
		sfs_log(LOG_WARNING,
			"backing inode %llu was moved, replaced or removed "
			"behind the mount's back: its entry now fails with "
			"ESTALE",
			(unsigned long long)n->ino);
	sfs_inode_fd_put(t, n);
	return err;
}

int sfs_inode_fd_get(struct sfs_inode_table *t, struct sfs_inode *inode)
{
	bool over = false;
	int fd = hold(inode);

	if (fd >= 0)
		return fd;
	fd = unpark(t, inode, 0, &over);
	if (over)
		park(t);
	return fd;
}

void sfs_inode_fd_put(struct sfs_inode_table *t, struct sfs_inode *inode)
{
	bool last;

	pthread_mutex_lock(&inode->fd_lock);
	if (inode->users == 0) {
		sfs_bug("inode fd put without a get");
	}
	last = --inode->users == 0 && inode->doomed;
	pthread_mutex_unlock(&inode->fd_lock);
	if (last)
		inode_free(t, inode);
}

int sfs_inode_at(struct sfs_inode_table *t, struct sfs_inode *dir,
		 const char *name,
		 int (*call)(int dfd, const char *name, void *arg), void *arg)
{
	int dfd = sfs_inode_fd_get(t, dir), rc;

	if (dfd < 0)
		return dfd;
	rc = call(dfd, name, arg);
	if (rc < 0)
		rc = -errno;
	sfs_inode_fd_put(t, dir);
	return rc;
}

/* Makes the object at `at`, if it is the held, parked n, n's fd again;
 * with keep_name, records that name for it (by path). */
static void reopen_at(struct sfs_inode_table *t, struct sfs_inode *n,
		      const struct sfs_iname *at, bool keep_name)
{
	struct sfs_inode *dead = NULL;
	int fd = openat(at->dir_fd, at->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (fd >= 0 && same_object(t, n, fd)) {
		pthread_mutex_lock(&t->mutex);
		pthread_mutex_lock(&n->fd_lock);
		if (adopt(t, n, fd))
			fd = -1;
		pthread_mutex_unlock(&n->fd_lock);
		if (keep_name)
			set_name(t, n, at->dir, at->name, &dead);
		pthread_mutex_unlock(&t->mutex);
	}
	free_dead(t, dead);
	if (fd >= 0)
		close(fd);
}

struct sfs_inode *sfs_itable_unlink_begin(struct sfs_inode_table *t,
					  const struct sfs_iname *at)
{
	struct sfs_inode *n, *dead = NULL, *left = NULL;
	bool reopen;
	struct stat st;

	if (!t->parking)
		return NULL;
	pthread_rwlock_rdlock(&t->unlink_lock);
	in_unlink = true;
	/* Passes are excluded until _end: nothing parked now, none will be. */
	if ((!t->by_path && atomic_load(&t->nparked) == 0) ||
	    fstatat(at->dir_fd, at->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return NULL;
	pthread_mutex_lock(&t->mutex);
	n = find(t, st.st_dev, st.st_ino);
	/* The name may be its last or not: either way it is no way back. */
	if (n && n->parent == at->dir && strcmp(n->name, at->name) == 0)
		drop_name(t, n, &dead);
	reopen = n && n->path_fd < 0 && !n->doomed;
	if (reopen && !S_ISDIR(st.st_mode) && st.st_nlink == 1 &&
	    atomic_load(&n->open_files) == 0) {
		/* Left parked: held until _end, as the kernel holds it. */
		pthread_mutex_lock(&n->fd_lock);
		n->unlinked = true;
		pthread_mutex_unlock(&n->fd_lock);
		left = n;
		reopen = false;
	}
	if (reopen || left)
		hold(n);
	pthread_mutex_unlock(&t->mutex);
	free_dead(t, dead);
	if (reopen) {
		/* Rare: a parked entry being removed. Its name is right here.
		 */
		reopen_at(t, n, at, false);
		sfs_inode_fd_put(t, n);
	}
	return left;
}

void sfs_itable_unlink_end(struct sfs_inode_table *t,
			   const struct sfs_iname *at, struct sfs_inode *left,
			   bool done)
{
	if (!t->parking)
		return;
	if (left && !done) {
		/* The name stays: so does the way back through it. */
		reopen_at(t, left, at, true);
		pthread_mutex_lock(&left->fd_lock);
		left->unlinked = false;
		pthread_mutex_unlock(&left->fd_lock);
	}
	in_unlink = false;
	pthread_rwlock_unlock(&t->unlink_lock);
	if (left)
		sfs_inode_fd_put(t, left);
	/* _begin may have reopened an entry; a stream of removals may open
	 * no other fd that would park. */
	if (over_budget(t))
		park(t);
}

void sfs_itable_rename_begin(struct sfs_inode_table *t)
{
	if (t->by_path)
		pthread_rwlock_wrlock(&t->names_lock);
}

/* Records the object now at `at` under that name. */
static void note_name(struct sfs_inode_table *t, const struct sfs_iname *at)
{
	struct sfs_inode *n, *dead = NULL;
	struct stat st;

	if (fstatat(at->dir_fd, at->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	pthread_mutex_lock(&t->mutex);
	n = find(t, st.st_dev, st.st_ino);
	if (n)
		set_name(t, n, at->dir, at->name, &dead);
	pthread_mutex_unlock(&t->mutex);
	free_dead(t, dead);
}

void sfs_itable_rename_end(struct sfs_inode_table *t, bool done,
			   unsigned int flags, const struct sfs_iname *from,
			   const struct sfs_iname *to)
{
	if (!t->by_path)
		return;
	if (done) {
		note_name(t, to);
		if (flags & RENAME_EXCHANGE)
			note_name(t, from);
	}
	pthread_rwlock_unlock(&t->names_lock);
}

void sfs_itable_other_fds(struct sfs_inode_table *t, int delta)
{
	if (delta < 0) {
		atomic_fetch_sub(&t->nother, (size_t)-delta);
		return;
	}
	atomic_fetch_add(&t->nother, (size_t)delta);
	if (over_budget(t))
		park(t);
}

void sfs_itable_stats(struct sfs_inode_table *t, struct sfs_itable_stats *s)
{
	s->open = atomic_load(&t->nopen);
	s->parked = atomic_load(&t->nparked);
	s->pinned = atomic_load(&t->npinned);
	s->other = atomic_load(&t->nother);
	s->by_path = t->by_path;
}
