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
#define SFS_FILE_HEADER_VERSION 1U
/* 2 bytes version (big endian) || 16 bytes file id */
#define SFS_FILE_HEADER_BYTES (2U + SFS_FILE_ID_BYTES)

/* Geometry of one volume's encrypted files. */
struct sfs_layout {
	size_t overhead;  /* nonce + tag per block */
	size_t cipher_bs; /* SFS_BLOCK_SIZE + overhead */
};

void sfs_layout_init(struct sfs_layout *l, size_t overhead);

/* Byte offset in the backing file where plaintext block `block` starts. */
uint64_t sfs_cipher_off(const struct sfs_layout *l, uint64_t block);
/* Backing file size that holds plain_size plaintext bytes. */
uint64_t sfs_cipher_size(const struct sfs_layout *l, uint64_t plain_size);
/* Plaintext size of a backing file of cipher_size bytes. Returns 0, or -EIO
 * when the size is impossible (inside the header, or a last block with no
 * room for a byte of payload); *plain then holds the best guess. */
int sfs_plain_size(const struct sfs_layout *l, uint64_t cipher_size,
		   uint64_t *plain);

/* Fills hdr with a new header carrying a fresh random file id. */
void sfs_header_new(uint8_t hdr[SFS_FILE_HEADER_BYTES],
		    uint8_t id[SFS_FILE_ID_BYTES]);
/* Validates hdr and extracts the file id: -EIO on an unknown version or an
 * all-zero id. */
int sfs_header_parse(const uint8_t hdr[SFS_FILE_HEADER_BYTES],
		     uint8_t id[SFS_FILE_ID_BYTES]);

/* Decrypts the consecutive cipher blocks in `in` (in_len bytes; only the last
 * one may be short), the first being plaintext block first_block of the file
 * with id `id`, into out. A block whose nonce is all zero is a hole and reads
 * as zeros (only if the whole block is zero; otherwise -EIO). Returns the
 * number of plaintext bytes, or -EIO with *bad_block set to the block that
 * failed (out is then zeroed). */
ssize_t sfs_content_decrypt(const struct sfs_crypto *c,
			    const struct sfs_layout *l,
			    const uint8_t id[SFS_FILE_ID_BYTES],
			    uint64_t first_block, const uint8_t *in,
			    size_t in_len, uint8_t *out, uint64_t *bad_block);

/* Encrypts len plaintext bytes starting at the beginning of plaintext block
 * first_block into out (room for sfs_content_cipher_len(l, len) bytes).
 * Each block gets a fresh nonce; AD = file id || block number. Returns the
 * number of cipher bytes. */
ssize_t sfs_content_encrypt(const struct sfs_crypto *c,
			    const struct sfs_layout *l,
			    const uint8_t id[SFS_FILE_ID_BYTES],
			    uint64_t first_block, const uint8_t *in, size_t len,
			    uint8_t *out);

/* Cipher bytes needed for len plaintext bytes starting at a block boundary. */
size_t sfs_content_cipher_len(const struct sfs_layout *l, size_t len);

#endif
