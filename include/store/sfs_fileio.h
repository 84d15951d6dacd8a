/* sfs_fileio.h - reading, writing, truncating and allocating one backing
 * file, in either mode. The content format lives in content.c; this file
 * applies it to fds under the inode's content lock.
 *
 * All functions return a count or 0 on success and -errno on failure;
 * content that fails authentication is -EIO (and logged, path-free).
 */
#ifndef SFS_FILEIO_H
#define SFS_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "sfs_fs.h"
#include "sfs_inode.h"

/* An open file: the backing fd (read-write whenever the mode needs
 * read-modify-write), its inode, and the same file opened O_DIRECT for
 * long runs (fileio.c opens it on first use; SFS_DFD_UNOPENED until then,
 * -1 where the backing filesystem refuses direct I/O). */
#define SFS_DFD_UNOPENED (-2)
struct sfs_file {
	int fd;
	_Atomic int dfd;
	struct sfs_inode *inode;
};

/* Rewrites open(2) flags from the kernel into the flags for the backing
 * file: creation and truncation are done separately, write-only becomes
 * read-write (read-modify-write of blocks, kernel writeback cache),
 * O_APPEND and O_DIRECT are dropped where the kernel or a block layout owns
 * the offsets, and O_NOFOLLOW because the kernel checked for a symlink
 * already and the re-open goes through a /proc/self/fd magic link. */
int sfs_file_backing_flags(const struct sfs_fs *fs, int flags);

/* Closes f's descriptors (f itself stays the caller's). */
void sfs_file_close(struct sfs_fs *fs, struct sfs_file *f);

/* Turns backing attributes into what the mount shows (plaintext size). */
void sfs_file_fix_attr(const struct sfs_fs *fs, struct stat *st);

/* Reads up to len bytes at off, in either mode. *data points into dst
 * (page-aligned, cap bytes, may be NULL) when it can hold the data (the
 * blocks, in encrypted mode, and off starts one), else into a per-thread
 * buffer, holding plaintext that the caller wipes with
 * sfs_file_read_done() after use. In passthrough mode a read into dst
 * stops at cap bytes. Returns the byte count. */
ssize_t sfs_file_read(struct sfs_fs *fs, struct sfs_file *f, size_t len,
		      off_t off, uint8_t *dst, size_t cap, uint8_t **data);
void sfs_file_read_done(uint8_t *data, size_t len);

ssize_t sfs_file_write(struct sfs_fs *fs, struct sfs_file *f,
		       const uint8_t *buf, size_t len, off_t off);
/* fd must be open for writing. */
int sfs_file_truncate(struct sfs_fs *fs, struct sfs_inode *inode, int fd,
		      off_t size);
/* Modes 0, KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE and ZERO_RANGE[|KEEP_SIZE] in
 * encrypted mode; anything the backing filesystem supports in plain mode. */
int sfs_file_fallocate(struct sfs_fs *fs, struct sfs_file *f, int mode,
		       off_t off, off_t len);
/* SEEK_DATA / SEEK_HOLE in plaintext offsets. */
off_t sfs_file_lseek(struct sfs_fs *fs, struct sfs_file *f, off_t off,
		     int whence);

#endif
