/* sfs_xattrio.h - extended attributes of backing inodes, in either mode:
 * user.* names and values are encrypted in encrypted mode, the
 * system.posix_acl_* names are refused (the mount does not enforce ACLs).
 *
 * Same conventions as getxattr(2) and friends, with -errno for errors:
 * size 0 asks for the size needed; -ERANGE when buf is too small.
 */
#ifndef SFS_XATTRIO_H
#define SFS_XATTRIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "sfs_fs.h"
#include "sfs_inode.h"

/* The file inode was just created by the daemon, so it has no
 * security.capability: the kernel's question before its first write is
 * answered without a system call. */
void sfs_xattr_note_created(struct sfs_inode *inode);

ssize_t sfs_xattr_get(struct sfs_fs *fs, struct sfs_inode *inode,
		      const char *name, void *buf, size_t size);
int sfs_xattr_set(struct sfs_fs *fs, struct sfs_inode *inode, const char *name,
		  const void *value, size_t size, int flags);
ssize_t sfs_xattr_list(struct sfs_fs *fs, struct sfs_inode *inode, char *buf,
		       size_t size);
int sfs_xattr_remove(struct sfs_fs *fs, struct sfs_inode *inode,
		     const char *name);

/* Whether the directory dir_fd (any fd, O_PATH too) has a default POSIX
 * ACL, which new nodes in it inherit instead of the umask. */
bool sfs_xattr_has_default_acl(int dir_fd);

#endif
