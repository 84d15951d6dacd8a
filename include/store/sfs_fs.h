/* sfs_fs.h - the state of one mounted filesystem, shared by the I/O layers
 * (inode.c, fileio.c, nameio.c, xattrio.c) and the FUSE ops. */
#ifndef SFS_FS_H
#define SFS_FS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sfs_content.h"

struct sfs_crypto;
struct sfs_handle;
struct sfs_inode_table;
struct sfs_prefetch;
struct sfs_volume_header;

struct sfs_fs {
	bool encrypted;
	/* The volume outlives a crash (persisted key or plain mode): its
	 * metadata writes are fsynced. */
	bool durable;
	struct sfs_crypto *crypto; /* NULL in plain mode */
	struct sfs_layout layout;  /* encrypted mode only */
	dev_t dev;		   /* backing filesystem: never leave it */
	struct sfs_inode_table *inodes;
	size_t max_write;
	double timeout; /* entry and attribute cache, seconds */
	bool writeback;
	/* POSIX ACLs are stored on the backing inodes and enforced by the
	 * kernel; new nodes get the caller's umask unless their directory has
	 * a default ACL (asked at mount, set at INIT, ops.c). */
	bool posix_acl;
	/* Directories are listed without an open handle: the kernel sends
	 * no OPENDIR or RELEASEDIR (set at INIT, ops.c). */
	bool dir_no_open;
	/* Reads directory IVs ahead (encrypted mode; NULL: none). */
	struct sfs_prefetch *prefetch;
	/* Also told of every integrity failure (main.c: the audit trail);
	 * NULL: nobody. */
	void (*on_integrity)(uint64_t ino, uint64_t block, const char *what);
	/* The mounted volume's header (main.c), for status reports. */
	const struct sfs_volume_header *volume;
	const char *mountpoint;
	/* The open file and directory handles the kernel holds (ops.c), so
	 * that those it never releases (the mount went away first) are
	 * closed when the session ends; the lock guards the list. */
	pthread_mutex_t handles_lock;
	struct sfs_handle *handles;
	/* The kernel resets a mount's readahead when it answers INIT; the
	 * first request after that raises it (ops.c). */
	atomic_bool readahead_raised;
	/* Counters for status reporting. */
	atomic_uint_fast64_t integrity_failures;
	atomic_uint_fast64_t read_ops;
	atomic_uint_fast64_t write_ops;
	atomic_uint_fast64_t bytes_read;
	atomic_uint_fast64_t bytes_written;
	atomic_uint_fast64_t open_files;
};

/* No block number: the failure is not about one content block. */
#define SFS_NO_BLOCK UINT64_MAX

/* Records data that failed authentication (or is malformed) on disk: counts
 * it, logs it path-free, by backing inode number and block, and passes it
 * to fs->on_integrity. */
void sfs_report_integrity(struct sfs_fs *fs, uint64_t ino, uint64_t block,
			  const char *what);

#endif
