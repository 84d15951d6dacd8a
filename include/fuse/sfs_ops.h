/* sfs_ops.h - the FUSE low-level operations table. The session's userdata
 * is the struct sfs_fs of the mount. */
#ifndef SFS_OPS_H
#define SFS_OPS_H

#include <fuse_lowlevel.h>
#include <stdbool.h>

struct sfs_fs;

/* Fills ops with the operations of a mount. Without xattrs the four
 * extended attribute operations are left out: the kernel then never asks
 * for security.capability (with them, once per new file: fuseio.c) and
 * answers EOPNOTSUPP to xattr calls itself, scratchfs-ctl status included. */
void sfs_ops_fill(struct fuse_lowlevel_ops *ops, bool xattrs);

/* Closes and frees the file and directory handles of fs that the kernel
 * never released: a RELEASE still queued when the mount went away (or the
 * daemon was stopped with files open) never comes. Call once the session
 * loop has ended and no request runs, before the inode table goes. */
void sfs_ops_close_handles(struct sfs_fs *fs);

#endif
