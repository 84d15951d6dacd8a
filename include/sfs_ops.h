/* sfs_ops.h - the FUSE low-level operations table. The session's userdata
 * is the struct sfs_fs of the mount. */
#ifndef SFS_OPS_H
#define SFS_OPS_H

#include <fuse_lowlevel.h>

extern const struct fuse_lowlevel_ops sfs_ops;

#endif
