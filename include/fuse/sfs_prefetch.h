/* sfs_prefetch.h - reads directory IVs ahead, on background threads.
 *
 * A listing returns subdirectories that programs walking a tree (find,
 * ls -R, du, rm -rf) list next. In encrypted mode the first use of each
 * one reads its IV file: on a cold cache, a disk read in the path of that
 * request, one per directory walked. Read ahead while the walker is busy,
 * those reads overlap each other and the walk. Knows the inode table and
 * nameio.c, not FUSE.
 */
#ifndef SFS_PREFETCH_H
#define SFS_PREFETCH_H

#include "sfs_fs.h"
#include "sfs_inode.h"

struct sfs_prefetch;

/* Starts `threads` reader threads for the mount fs (encrypted mode).
 * NULL when they cannot start: the mount then reads IVs when needed. */
struct sfs_prefetch *sfs_prefetch_start(struct sfs_fs *fs, unsigned threads);
/* Stops the threads and drops what is still queued. NULL is a no-op. */
void sfs_prefetch_stop(struct sfs_prefetch *p);

/* Asks for dir's IV to be read soon. The inode stays alive until then
 * (its fd is held). A no-op when p is NULL, the IV is already known, or
 * the queue is full. */
void sfs_prefetch_dir(struct sfs_prefetch *p, struct sfs_inode *dir);

#endif
