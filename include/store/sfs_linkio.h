/* sfs_linkio.h - symlink targets as stored in the backing directory, in
 * either mode (doc/FORMAT.md section 7).
 *
 * In encrypted mode a target is sealed into the backing symlink itself when
 * it fits there; otherwise the symlink holds a reference and the sealed
 * target is a sidecar file in the volume's target store (SFS_SYMLINK_DIR in
 * the backing root), written before the symlink and removed after its last
 * name. Hard links share the one sidecar; a rename does not touch it.
 *
 * Functions return 0 (or a length) on success and -errno on failure; a
 * target that does not authenticate is -EIO (reported).
 */
#ifndef SFS_LINKIO_H
#define SFS_LINKIO_H

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "sfs_fs.h"
#include "sfs_inode.h"
#include "sfs_meta.h"

/* Creates the symlink `backing` in dir pointing to target. */
int sfs_linkio_create(struct sfs_fs *fs, struct sfs_inode *dir,
		      const char *backing, const char *target);
/* The plaintext target of a symlink inode into buf (PATH_MAX bytes);
 * returns its length. */
ssize_t sfs_linkio_read(struct sfs_fs *fs, struct sfs_inode *inode, char *buf);
/* Symlink sizes as the mount shows them (the plaintext target length). */
void sfs_linkio_fix_attr(struct sfs_fs *fs, struct sfs_inode *inode,
			 struct stat *st);

/* A name about to be removed (unlink, or a rename over it) that may be the
 * last name of a symlink whose target is out of line. */
struct sfs_unlinked {
	int fd; /* that symlink (O_PATH), or -1: nothing to do */
	uint8_t id[SFS_SYMLINK_ID_BYTES];
};
/* Before removing the entry `backing` of the directory dir_fd: takes note
 * of it when it is such a symlink. Calls no inode table function. */
void sfs_linkio_unlink_begin(struct sfs_fs *fs, int dir_fd, const char *backing,
			     struct sfs_unlinked *u);
/* After the removal (done or not, outside the table's unlink bracket):
 * removes the target's sidecar when the symlink has no name left. */
void sfs_linkio_unlink_end(struct sfs_fs *fs, struct sfs_unlinked *u);

#endif
