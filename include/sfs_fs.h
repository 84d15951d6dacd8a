/* sfs_fs.h - the state of one mounted filesystem, shared by the I/O layers
 * (inode.c, fileio.c, nameio.c, xattrio.c) and the FUSE ops. */
#ifndef SFS_FS_H
#define SFS_FS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sfs_content.h"

struct sfs_crypto;
struct sfs_inode_table;

struct sfs_fs {
	bool encrypted;
	struct sfs_crypto *crypto; /* NULL in plain mode */
	struct sfs_layout layout;  /* encrypted mode only */
	dev_t dev;		   /* backing filesystem: never leave it */
	struct sfs_inode_table *inodes;
	size_t max_write;
	double timeout; /* entry and attribute cache, seconds */
	bool writeback;
	/* Counters for status reporting. */
	atomic_uint_fast64_t integrity_failures;
};

#endif
