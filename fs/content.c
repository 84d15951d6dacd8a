/* content.c - file content format: header, block layout, offsets, holes. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfs_content.h"

/* AD of a block: file id || block number (big endian). */
#define AD_BYTES (SFS_FILE_ID_BYTES + 8U)

static __attribute__((noreturn)) void bug(const char *what)
{
	fprintf(stderr, "BUG: %s\n", what);
	abort();
}

static void put_be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static void block_ad(uint8_t ad[AD_BYTES], const uint8_t id[SFS_FILE_ID_BYTES],
		     uint64_t block)
{
	memcpy(ad, id, SFS_FILE_ID_BYTES);
	put_be64(ad + SFS_FILE_ID_BYTES, block);
}

void sfs_layout_init(struct sfs_layout *l, size_t overhead)
{
	/* The hole rule and size checks need room for a nonce and a tag. */
	if (overhead == 0 || overhead > SFS_NONCE_MAX_BYTES + SFS_TAG_BYTES)
		bug("sfs_layout_init: impossible block overhead");
	l->overhead = overhead;
	l->cipher_bs = SFS_BLOCK_SIZE + overhead;
}

uint64_t sfs_cipher_off(const struct sfs_layout *l, uint64_t block)
{
	return SFS_FILE_HEADER_BYTES + block * l->cipher_bs;
}

uint64_t sfs_cipher_size(const struct sfs_layout *l, uint64_t plain_size)
{
	uint64_t full = plain_size / SFS_BLOCK_SIZE;
	uint64_t rem = plain_size % SFS_BLOCK_SIZE;

	if (plain_size == 0)
		return 0;
	return SFS_FILE_HEADER_BYTES + full * l->cipher_bs +
	       (rem ? rem + l->overhead : 0);
}

int sfs_plain_size(const struct sfs_layout *l, uint64_t cipher_size,
		   uint64_t *plain)
{
	uint64_t body, full, rem;

	*plain = 0;
	if (cipher_size == 0)
		return 0;
	if (cipher_size < SFS_FILE_HEADER_BYTES)
		return -EIO;
	body = cipher_size - SFS_FILE_HEADER_BYTES;
	full = body / l->cipher_bs;
	rem = body % l->cipher_bs;
	*plain = full * SFS_BLOCK_SIZE;
	if (rem == 0)
		return 0;
	if (rem <= l->overhead)
		return -EIO; /* best guess: the full blocks before it */
	*plain += rem - l->overhead;
	return 0;
}

void sfs_header_new(uint8_t hdr[SFS_FILE_HEADER_BYTES],
		    uint8_t id[SFS_FILE_ID_BYTES])
{
	/* A zero id is rejected by sfs_header_parse; never make one. */
	do
		sfs_random(id, SFS_FILE_ID_BYTES);
	while (sfs_is_zero(id, SFS_FILE_ID_BYTES));
	hdr[0] = (uint8_t)(SFS_FILE_HEADER_VERSION >> 8);
	hdr[1] = (uint8_t)SFS_FILE_HEADER_VERSION;
	memcpy(hdr + 2, id, SFS_FILE_ID_BYTES);
}

int sfs_header_parse(const uint8_t hdr[SFS_FILE_HEADER_BYTES],
		     uint8_t id[SFS_FILE_ID_BYTES])
{
	unsigned version = (unsigned)hdr[0] << 8 | hdr[1];

	if (version != SFS_FILE_HEADER_VERSION)
		return -EIO;
	/* A zeroed header is what a torn or hole-punched write leaves. */
	if (sfs_is_zero(hdr + 2, SFS_FILE_ID_BYTES))
		return -EIO;
	memcpy(id, hdr + 2, SFS_FILE_ID_BYTES);
	return 0;
}

size_t sfs_content_cipher_len(const struct sfs_layout *l, size_t len)
{
	size_t rem = len % SFS_BLOCK_SIZE;

	return len / SFS_BLOCK_SIZE * l->cipher_bs +
	       (rem ? rem + l->overhead : 0);
}

ssize_t sfs_content_encrypt(const struct sfs_crypto *c,
			    const struct sfs_layout *l,
			    const uint8_t id[SFS_FILE_ID_BYTES],
			    uint64_t first_block, const uint8_t *in, size_t len,
			    uint8_t *out)
{
	struct sfs_file_key fk;
	uint8_t ad[AD_BYTES];
	size_t done = 0, olen = 0;
	uint64_t block = first_block;
	int rc = 0;

	if (sfs_crypto_overhead(c) != l->overhead)
		bug("sfs_content_encrypt: layout does not match cipher");
	if (len == 0)
		return 0;
	if (sfs_content_cipher_len(l, len) > SSIZE_MAX)
		return -EINVAL;
	sfs_file_key_derive(&fk, c, id);
	while (done < len) {
		size_t n =
		    len - done < SFS_BLOCK_SIZE ? len - done : SFS_BLOCK_SIZE;

		block_ad(ad, id, block);
		rc = sfs_block_seal(&fk, out + olen, in + done, n, ad,
				    sizeof(ad));
		if (rc != 0)
			break;
		done += n;
		olen += n + l->overhead;
		block++;
	}
	sfs_file_key_wipe(&fk);
	if (rc != 0)
		return -EIO;
	return (ssize_t)olen;
}

/* Plaintext bytes the blocks of in_len cipher bytes decrypt to (0 for a
 * last block too short to hold any). */
static size_t plain_len(const struct sfs_layout *l, size_t in_len)
{
	size_t rem = in_len % l->cipher_bs;

	return in_len / l->cipher_bs * SFS_BLOCK_SIZE +
	       (rem > l->overhead ? rem - l->overhead : 0);
}

ssize_t sfs_content_decrypt(const struct sfs_crypto *c,
			    const struct sfs_layout *l,
			    const uint8_t id[SFS_FILE_ID_BYTES],
			    uint64_t first_block, const uint8_t *in,
			    size_t in_len, uint8_t *out, uint64_t *bad_block)
{
	size_t nonce_len = sfs_aead_nonce_bytes(sfs_crypto_aead(c));
	struct sfs_file_key fk;
	uint8_t ad[AD_BYTES];
	size_t done = 0, olen = 0;
	uint64_t block = first_block;
	int rc = 0;

	if (sfs_crypto_overhead(c) != l->overhead)
		bug("sfs_content_decrypt: layout does not match cipher");
	if (in_len == 0)
		return 0;
	if (in_len > SSIZE_MAX)
		return -EINVAL;
	sfs_file_key_derive(&fk, c, id);
	while (done < in_len) {
		size_t n =
		    in_len - done < l->cipher_bs ? in_len - done : l->cipher_bs;
		const uint8_t *blk = in + done;

		if (n <= l->overhead) {
			rc = -1;
		} else if (sfs_is_zero(blk, nonce_len)) {
			/* Hole: a sealed block never has a zero nonce. */
			if (sfs_is_zero(blk, n))
				memset(out + olen, 0, n - l->overhead);
			else
				rc = -1;
		} else {
			block_ad(ad, id, block);
			rc = sfs_block_open(&fk, out + olen, blk, n, ad,
					    sizeof(ad));
		}
		if (rc != 0)
			break;
		done += n;
		olen += n - l->overhead;
		block++;
	}
	sfs_file_key_wipe(&fk);
	if (rc != 0) {
		/* No partial plaintext may escape a failed read. */
		sfs_wipe(out, plain_len(l, in_len));
		if (bad_block)
			*bad_block = block;
		return -EIO;
	}
	return (ssize_t)olen;
}
