/* sfs_content.h - file content format: file header, block layout, offset
 * math and the hole rule. Pure functions over buffers: no fds, no FUSE.
 *
 * Errors are returned as negative errno values (-EIO for anything that
 * fails authentication or is malformed on disk).
 */
#ifndef SFS_CONTENT_H
#define SFS_CONTENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sfs_crypto.h"

#define SFS_BLOCK_SIZE 4096U
#define SFS_FILE_HEADER_VERSION 2U
/* 2 bytes version (big endian) || 16 bytes file id */
#define SFS_FILE_HEADER_BYTES (2U + SFS_FILE_ID_BYTES)
/* Bytes at the start of every metadata page before its slots: the file
 * header in the first page, zeros in the others. */
#define SFS_META_HEAD_BYTES 64U

/*
 * Geometry of one volume's encrypted files (doc/FORMAT.md section 5). The
 * backing file is a sequence of groups: one metadata page (head, then one
 * slot = nonce || tag per block) followed by up to group_blocks data pages.
 * Block k's ciphertext is exactly as long as its plaintext and starts on a
 * page boundary, so overwriting whole blocks never makes the backing
 * filesystem read a page first.
 */
struct sfs_layout {
	size_t slot_bytes;     /* nonce + tag per block */
	uint64_t group_blocks; /* data blocks per metadata page */
};

void sfs_layout_init(struct sfs_layout *l, size_t slot_bytes);

/* Backing offset of block `block`'s ciphertext. */
uint64_t sfs_data_off(const struct sfs_layout *l, uint64_t block);
/* Backing offset of block `block`'s slot. */
uint64_t sfs_slot_off(const struct sfs_layout *l, uint64_t block);
/* Blocks from `block` to the end of its group (>= 1): the longest run
 * whose data, and whose slots, are each contiguous in the backing file. */
uint64_t sfs_group_left(const struct sfs_layout *l, uint64_t block);
/* The block whose data page holds backing offset coff; for an offset in a
 * metadata page, the first block of that group. */
uint64_t sfs_block_at(const struct sfs_layout *l, uint64_t coff);
/* Backing file size that holds plain_size plaintext bytes. */
uint64_t sfs_cipher_size(const struct sfs_layout *l, uint64_t plain_size);
/* Plaintext size of a backing file of cipher_size bytes. Returns 0, or -EIO
 * when the size is impossible (inside the file header, or ending inside a
 * metadata page other than the first); *plain then holds the best guess. */
int sfs_plain_size(const struct sfs_layout *l, uint64_t cipher_size,
		   uint64_t *plain);

/* Fills hdr with a new header carrying a fresh random file id. */
void sfs_header_new(uint8_t hdr[SFS_FILE_HEADER_BYTES],
		    uint8_t id[SFS_FILE_ID_BYTES]);
/* Validates hdr and extracts the file id: -EIO on an unknown version or an
 * all-zero id. */
int sfs_header_parse(const uint8_t hdr[SFS_FILE_HEADER_BYTES],
		     uint8_t id[SFS_FILE_ID_BYTES]);

/* Encrypts len plaintext bytes starting at the beginning of plaintext block
 * first_block into data (len bytes) and slots (one slot per block, packed).
 * Each block gets a fresh nonce; AD = file id || block number. Returns len,
 * or -EIO (sealing failed) or -ENOMEM (no memory for the cipher). */
ssize_t sfs_content_encrypt(const struct sfs_crypto *c,
			    const struct sfs_layout *l,
			    const uint8_t id[SFS_FILE_ID_BYTES],
			    uint64_t first_block, const uint8_t *in, size_t len,
			    uint8_t *data, uint8_t *slots);

/* Decrypts len ciphertext bytes in data (consecutive blocks; only the last
 * may be short), the first being block first_block, with their packed
 * slots, into out (len bytes; out may be data). A block whose slot is all
 * zero is a hole and reads as zeros, but only if its data is all zero too
 * (otherwise -EIO). Returns len, or -EIO with *bad_block (if not NULL) set
 * to the first block that failed, or -ENOMEM when there was no memory for
 * the cipher (nothing was checked); out is then zeroed. */
ssize_t sfs_content_decrypt(const struct sfs_crypto *c,
			    const struct sfs_layout *l,
			    const uint8_t id[SFS_FILE_ID_BYTES],
			    uint64_t first_block, const uint8_t *data,
			    size_t len, const uint8_t *slots, uint8_t *out,
			    uint64_t *bad_block);

/* Slot bytes for len plaintext bytes starting at a block boundary. */
size_t sfs_content_slots_len(const struct sfs_layout *l, size_t len);

#endif
