/* sfs_inode.h - the inode table: one entry per backing (dev, ino) the kernel
 * knows about, holding an O_PATH fd and the kernel's lookup count.
 *
 * The kernel may know more entries than the daemon may open files. With
 * parking enabled, the fds of entries nobody uses are closed ("parked")
 * when the table goes over its fd budget, least recently used first (a
 * CLOCK approximation of LRU, so that using an fd takes no global lock),
 * and reopened when needed again: from a file handle (open_by_handle_at,
 * which needs CAP_DAC_READ_SEARCH), or else by path: from the parent's fd
 * (reopened the same way when parked) with openat(O_NOFOLLOW) of the
 * backing name the entry was last seen under, checked against the device,
 * inode number, type and birth time it had. An object swapped or gone
 * behind the mount's back is refused with ESTALE, never taken for another.
 * Every use of an inode's fd is therefore bracketed by sfs_inode_fd_get()
 * and sfs_inode_fd_put(); an fd is never closed while held.
 *
 * Neither way can bring back an object that lost its last name (unlinked
 * but open, a removed working directory): such objects are never parked.
 * Parking checks the link count first, and a parked object about to lose a
 * name is reopened first: every removal of a name (unlink, rmdir, rename
 * over an entry) runs between sfs_itable_unlink_begin() and _end(). A
 * parked file losing its last name with no file handle open on it is the
 * exception: nothing but an O_PATH descriptor or a racing stat can still
 * reach it, and keeping it open would defer freeing its blocks to the
 * kernel's FORGET, which lags behind a removal storm (each close then
 * discards on the disk) until the fds run out; it answers ESTALE. By
 * path, an entry whose recorded name is removed is not parked again until
 * a lookup shows it under another name (a hard link); renames run between
 * sfs_itable_rename_begin() and _end(), which records the new names.
 *
 * Lock order: the table's unlink lock, then its names lock, then the table
 * mutex, then an inode's fd_lock. An inode's content lock and meta_lock
 * are never held while taking any of these (nor taken under them).
 */
#ifndef SFS_INODE_H
#define SFS_INODE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "sfs_content.h"
#include "sfs_names.h"

/* struct sfs_inode.backing_size while no reader has seen it. */
#define SFS_SIZE_UNKNOWN UINT64_MAX

struct file_handle;

struct sfs_inode {
	struct sfs_inode *next; /* hash chain; protected by table mutex */
	uint64_t nlookup;	/* protected by table mutex */
	/* Ring of inodes the clock hand may park; protected by table mutex. */
	struct sfs_inode *ring_next, *ring_prev;
	bool in_ring;
	dev_t dev;
	ino_t ino;
	mode_t type; /* S_IFMT bits; a backing inode never changes type */

	/* Parking by path: the directory and backing name the object was last
	 * seen under (NULL: none known, not parked), a counter of their
	 * changes, and how many inodes name this one as their directory
	 * (which keeps it allocated); table mutex. */
	uint32_t children;
	uint32_t name_gen;
	struct sfs_inode *parent;
	char *name;
	/* Birth time in ns + 1 when parked (0: unknown); fd_lock. */
	uint64_t btime;

	/* The O_PATH fd. Use sfs_inode_fd_get(), never this field. */
	pthread_mutex_t fd_lock;
	int path_fd; /* -1 while parked; fd_lock, written under table mutex */
	unsigned int users; /* holders of path_fd; fd_lock */
	bool referenced;    /* used since the clock hand passed; fd_lock */
	bool pinned;	    /* never parked again; table mutex + fd_lock */
	bool doomed;	    /* forgotten while held: last put frees */
	bool stale_logged;  /* its refusal was logged; fd_lock */
	/* Its last name went through the mount while parked: nothing can
	 * reopen it; fd_lock. */
	bool unlinked;
	/* Set once, when first parked; freed with the inode. */
	struct file_handle *handle;
	/* FUSE file handles open on it (counted while its fd is held): a
	 * parked file losing its last name is reopened only while one is. */
	atomic_uint open_files;

	/* Readers of file content share it; writers and truncation hold it
	 * exclusively, so a read-modify-write of a block is atomic. */
	pthread_rwlock_t content;
	/* The backing file's size as a reader last saw it, or
	 * SFS_SIZE_UNKNOWN: every change of the size is made under the
	 * content lock held exclusively, and forgets it (fileio.c). */
	_Atomic uint64_t backing_size;

	/* Cached per-file / per-directory secrets derived from disk; each
	 * protected by meta_lock. */
	pthread_mutex_t meta_lock;
	bool have_file_id;
	uint8_t file_id[SFS_FILE_ID_BYTES];
	bool have_diriv;
	uint8_t diriv[SFS_DIRIV_BYTES];

	/* Held across a read-modify-write of the encrypted user.* xattr set
	 * (xattrio.c); taken with the fd held, like meta_lock. */
	pthread_mutex_t xattr_lock;

	/* security.capability is known absent while caps_absent == caps_gen
	 * + 1 (xattrio.c: the kernel asks before every write). */
	atomic_uint caps_gen;
	atomic_uint caps_absent;
};

struct sfs_inode_table;

/* Creates a table whose root is the directory fd root_fd (O_PATH; owned by
 * the table from now on). Parking is off. NULL when out of memory. */
struct sfs_inode_table *sfs_itable_new(int root_fd, const struct stat *st);
void sfs_itable_free(struct sfs_inode_table *t);
struct sfs_inode *sfs_itable_root(struct sfs_inode_table *t);

/* Turns parking on, right after sfs_itable_new(): inode fds plus the fds
 * counted with sfs_itable_other_fds() are kept at most max_fds (fds in use
 * excepted). mount_fd is the backing root opened O_RDONLY (the kernel
 * refuses an O_PATH fd there), or -1; the table owns it from now on.
 * Returns 0 when a handle of the root could be reopened there: entries are
 * reopened by handle. Else -errno says why not (e.g. -EPERM without
 * CAP_DAC_READ_SEARCH, -EBADF for no mount_fd): they are reopened by path. */
int sfs_itable_enable_parking(struct sfs_inode_table *t, int mount_fd,
			      size_t max_fds);

/* Returns the inode for the backing object opened as fd (O_PATH) with
 * attributes st, found as the entry `name` of the directory dir (held),
 * creating it when new, and takes one lookup reference. fd is consumed:
 * kept by a new or parked inode, closed otherwise. Returns NULL (and closes
 * fd) when out of memory. May park other inodes. */
struct sfs_inode *sfs_itable_get(struct sfs_inode_table *t, int fd,
				 const struct stat *st, struct sfs_inode *dir,
				 const char *name);
/* Drops n lookup references; frees the inode at zero (once no one holds
 * its fd). */
void sfs_itable_forget(struct sfs_inode_table *t, struct sfs_inode *inode,
		       uint64_t n);

/* The inode's O_PATH fd, reopened when parked; valid until the matching
 * sfs_inode_fd_put(). -ESTALE when the backing object is gone, -errno
 * otherwise. Cheap when the fd is open: one per-inode lock, no syscall.
 * May park other inodes. */
int sfs_inode_fd_get(struct sfs_inode_table *t, struct sfs_inode *inode);
void sfs_inode_fd_put(struct sfs_inode_table *t, struct sfs_inode *inode);

/* An *at() call on name in the directory dir, its fd held for the call:
 * returns call(fd, name, arg) (a syscall's result: -1 with errno on
 * failure) with -1 turned into -errno, or the error of
 * sfs_inode_fd_get(). */
int sfs_inode_at(struct sfs_inode_table *t, struct sfs_inode *dir,
		 const char *name,
		 int (*call)(int dfd, const char *name, void *arg), void *arg);

/* An entry: its directory (held) with the directory's fd, a backing
 * name. */
struct sfs_iname {
	struct sfs_inode *dir;
	int dir_fd;
	const char *name;
};

/* Bracket the removal of the backing entry `at` (its directory's fd held
 * with sfs_inode_fd_get()). Between them no fd is parked, and the object
 * behind the name is not parked: once it has no name left, parking sees
 * that and keeps its fd. A parked file losing its last name with no file
 * open on it stays parked (see above): _begin returns it, and _end, told
 * whether the removal was done, makes it reachable again when it was not.
 * Call no other table function in between except sfs_inode_fd_get/put()
 * of inodes already held and the rename bracket below. */
struct sfs_inode *sfs_itable_unlink_begin(struct sfs_inode_table *t,
					  const struct sfs_iname *at);
void sfs_itable_unlink_end(struct sfs_inode_table *t,
			   const struct sfs_iname *at, struct sfs_inode *left,
			   bool done);

/* Bracket one renameat2(from, to, flags) (inside the unlink bracket of
 * `to` when it replaces an entry). Between them no entry is reopened by
 * path; done says it succeeded: the object now at `to` (and with
 * RENAME_EXCHANGE the one now at `from`) is recorded under that name. Call
 * no other table function in between. */
void sfs_itable_rename_begin(struct sfs_inode_table *t);
void sfs_itable_rename_end(struct sfs_inode_table *t, bool done,
			   unsigned int flags, const struct sfs_iname *from,
			   const struct sfs_iname *to);

/* Counts delta long-lived fds other than inode fds (open files, directory
 * streams: each holds a real fd) against the budget, so that they are
 * never starved by cached entries. May park inodes. */
void sfs_itable_other_fds(struct sfs_inode_table *t, int delta);

/* The table's fd counters, for tests and diagnostics. */
struct sfs_itable_stats {
	size_t open;   /* inode fds open (the root's excluded) */
	size_t parked; /* inodes whose fd is parked */
	size_t pinned; /* inodes never parked (no name left, no handle) */
	bool by_path;  /* parked fds are reopened by path, not by handle */
	size_t other;  /* see sfs_itable_other_fds() */
};
void sfs_itable_stats(struct sfs_inode_table *t, struct sfs_itable_stats *s);

#endif
