/* sfs_blockio.h - reads and writes runs of stored content blocks (data and
 * slots) of one backing file, group by group (layout in sfs_content.h).
 * Knows the layout and file descriptors, not keys or FUSE. */
#ifndef SFS_BLOCKIO_H
#define SFS_BLOCKIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sfs_content.h"

/* Runs shorter than this go through the backing page cache even where a
 * direct-I/O descriptor exists: small random reads then find their
 * metadata pages cached, and small writes do not wait for the disk. */
#define SFS_DIRECT_MIN_BYTES (128U * 1024U)

/* Reads the ciphertext of blocks first.. (len bytes, the last block may be
 * short) into data and their slots into slots. dfd is the same file opened
 * O_DIRECT (used when data is page aligned), or -1; with it, data must have
 * room for len rounded up to a whole block. Returns the data bytes read,
 * less than len only where the file ends, or -errno. */
ssize_t sfs_blocks_read(const struct sfs_layout *l, int fd, int dfd,
			uint64_t first, uint8_t *data, size_t len,
			uint8_t *slots);

/* Reserves backing space (metadata pages and data) for the blocks holding
 * len data bytes from block first, without changing the file size. 0 or
 * -errno; a backing filesystem without fallocate counts as success. */
int sfs_blocks_reserve(const struct sfs_layout *l, int fd, uint64_t first,
		       size_t len);

/* Writes blocks first.. (len data bytes and their slots). dfd is as for
 * sfs_blocks_read: the data of whole blocks goes through it when data is
 * page aligned. Overwrites are reserved first, so a full disk fails them
 * before any of it lands instead of leaving a torn block; a failed append
 * is taken back. 0 or -errno. */
int sfs_blocks_write(const struct sfs_layout *l, int fd, int dfd,
		     uint64_t first, const uint8_t *data, size_t len,
		     const uint8_t *slots);

/* Zeroes the slots of blocks [from, to), whose metadata pages must lie
 * inside the file: past the end of the file they stay clean for when it
 * grows (its new blocks are holes). 0 or -errno. */
int sfs_slots_clear(const struct sfs_layout *l, int fd, uint64_t from,
		    uint64_t to);

/* Turns blocks [from, to) into holes: their data pages are punched (the
 * space is freed) and their slots zeroed. 0 or -errno. */
int sfs_blocks_punch(const struct sfs_layout *l, int fd, uint64_t from,
		     uint64_t to);

#endif
