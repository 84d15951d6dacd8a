/* sfs_linkio.h - symlink targets as stored in the backing directory, in
 * either mode (doc/FORMAT.md section 7).
 *
 * Functions return 0 (or a length) on success and -errno on failure; a
 * target that does not authenticate is -EIO (reported).
 */
#ifndef SFS_LINKIO_H
#define SFS_LINKIO_H

#include <sys/stat.h>
#include <sys/types.h>

#include "sfs_fs.h"
#include "sfs_inode.h"

/* Creates the symlink `backing` in dir pointing to target. */
int sfs_linkio_create(struct sfs_fs *fs, struct sfs_inode *dir,
		      const char *backing, const char *target);
/* The plaintext target of a symlink inode into buf (PATH_MAX bytes);
 * returns its length. */
ssize_t sfs_linkio_read(struct sfs_fs *fs, struct sfs_inode *inode, char *buf);
/* Symlink sizes as the mount shows them (the plaintext target length). */
void sfs_linkio_fix_attr(struct sfs_fs *fs, struct sfs_inode *inode,
			 struct stat *st);

#endif
