/* sfs_status.h - the daemon's live status, served as the virtual extended
 * attribute SFS_STATUS_XATTR of the mount root (read by scratchfs-ctl).
 *
 * The name has no namespace prefix, so no attribute a user can store ever
 * collides with it; it is never listed and never stored.
 */
#ifndef SFS_STATUS_H
#define SFS_STATUS_H

#include <stddef.h>
#include <sys/types.h>

#include "sfs_fs.h"

#define SFS_STATUS_XATTR "scratchfs.status"
/* Version of the document's shape; bumped when a field changes meaning. */
#define SFS_STATUS_VERSION 1
/* The document is always shorter than this. */
#define SFS_STATUS_MAX 1024U

/* Writes the status of fs as one JSON object (not NUL-terminated) into buf:
 * format version, daemon pid, mode, cipher, key source, key id, volume id
 * (from fs->volume, when set) and the live counters. Same protocol as
 * getxattr(2): size 0 returns the length needed, -ERANGE when size is too
 * small; otherwise returns the length written. */
ssize_t sfs_status_json(const struct sfs_fs *fs, char *buf, size_t size);

#endif
