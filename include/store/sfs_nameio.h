/* sfs_nameio.h - names as stored in backing directories, in either mode:
 * directory IVs, long-name sidecars, reserved entries.
 *
 * Functions return 0 (or a length) on success and -errno on failure; a
 * backing name or target that does not authenticate is -EIO (logged).
 */
#ifndef SFS_NAMEIO_H
#define SFS_NAMEIO_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "sfs_fs.h"
#include "sfs_inode.h"
#include "sfs_names.h"

/* The backing name of `name` in directory dir. -EPERM for a name scratchfs
 * reserves (lookups report that as -ENOENT). */
int sfs_nameio_encode(struct sfs_fs *fs, struct sfs_inode *dir,
		      const char *name, struct sfs_ename *en);
/* Call before creating an entry under en: a long name needs its sidecar
 * first. *created says whether this call wrote it (for undo). */
int sfs_nameio_prepare(struct sfs_fs *fs, struct sfs_inode *dir,
		       const struct sfs_ename *en, bool *created);
/* Call after an entry under en is gone (or was never created): removes a
 * long name's sidecar. */
void sfs_nameio_release(struct sfs_fs *fs, struct sfs_inode *dir,
			const struct sfs_ename *en);
/* The plaintext name of backing entry `backing` of dir: 0, 1 when the entry
 * is not user data (reserved; skip it), -EIO when it does not decrypt
 * (reported), another -errno when it could not be read (out of fds or
 * memory, the directory gone). */
int sfs_nameio_decode(struct sfs_fs *fs, struct sfs_inode *dir,
		      const char *backing, char out[NAME_MAX + 1]);

/* Whether dir's IV is in memory (its first use reads it from disk). */
bool sfs_nameio_iv_known(struct sfs_inode *dir);
/* Reads dir's IV into memory ahead of its first use; failures are left
 * for that use to report. 0 or -errno. */
int sfs_nameio_load_iv(struct sfs_fs *fs, struct sfs_inode *dir);

/* Gives a directory created through the mount what its names need (the
 * encrypted mode's directory IV). dir_fd may be O_PATH. */
int sfs_nameio_init_dir(struct sfs_fs *fs, int dir_fd);
/* At mount: the root of a fresh encrypted volume gets its IV; a root that
 * has entries but no IV is damaged (-EIO). */
int sfs_nameio_init_root(struct sfs_fs *fs, int root_fd);
/* Removes the empty directory en in dir (its reserved entries included). */
int sfs_nameio_rmdir(struct sfs_fs *fs, struct sfs_inode *dir,
		     const struct sfs_ename *en);

/* A directory about to be replaced by a rename: its IV, kept so the
 * replacement can be undone. */
struct sfs_replaced {
	int fd; /* the replaced directory, or -1 when nothing was taken */
	bool had_iv;
	uint8_t iv[SFS_DIRIV_BYTES];
};

/* Before renaming directory oldname (in olddir) over en in dir: an empty
 * target directory still holds our IV file, which would make rename(2) fail
 * with ENOTEMPTY; this checks it holds no user entries (-ENOTEMPTY) and
 * takes the IV out. Always follow with sfs_nameio_finish_replace(). */
int sfs_nameio_prepare_replace(struct sfs_fs *fs, struct sfs_inode *olddir,
			       const struct sfs_ename *oldname,
			       struct sfs_inode *dir,
			       const struct sfs_ename *en,
			       struct sfs_replaced *r);
/* Puts the IV back when the rename did not happen, and releases r. */
void sfs_nameio_finish_replace(struct sfs_replaced *r, bool renamed);

#endif
