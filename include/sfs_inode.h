/* sfs_inode.h - the inode table: one entry per backing (dev, ino) the kernel
 * knows about, holding an O_PATH fd and the kernel's lookup count.
 *
 * Lock order: table mutex before an inode's content lock or id lock.
 */
#ifndef SFS_INODE_H
#define SFS_INODE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "sfs_content.h"
#include "sfs_names.h"

struct sfs_inode {
	struct sfs_inode *next; /* hash chain; protected by table mutex */
	uint64_t nlookup;	/* protected by table mutex */
	int fd;			/* O_PATH, valid while nlookup > 0 */
	dev_t dev;
	ino_t ino;
	mode_t type; /* S_IFMT bits; a backing inode never changes type */

	/* Readers of file content share it; writers and truncation hold it
	 * exclusively, so a read-modify-write of a block is atomic. */
	pthread_rwlock_t content;

	/* Cached per-file / per-directory secrets derived from disk; each
	 * protected by meta_lock. */
	pthread_mutex_t meta_lock;
	bool have_file_id;
	uint8_t file_id[SFS_FILE_ID_BYTES];
	bool have_diriv;
	uint8_t diriv[SFS_DIRIV_BYTES];
};

struct sfs_inode_table;

/* Creates a table whose root is the directory fd root_fd (O_PATH; owned by
 * the table from now on). NULL when out of memory. */
struct sfs_inode_table *sfs_itable_new(int root_fd, const struct stat *st);
void sfs_itable_free(struct sfs_inode_table *t);
struct sfs_inode *sfs_itable_root(struct sfs_inode_table *t);

/* Returns the inode for the backing object opened as fd (O_PATH) with
 * attributes st, creating it when new, and takes one lookup reference.
 * fd is consumed: kept by a new inode, closed when the inode existed.
 * Returns NULL (and closes fd) when out of memory. */
struct sfs_inode *sfs_itable_get(struct sfs_inode_table *t, int fd,
				 const struct stat *st);
/* Drops n lookup references; frees the inode at zero. */
void sfs_itable_forget(struct sfs_inode_table *t, struct sfs_inode *inode,
		       uint64_t n);

#endif
