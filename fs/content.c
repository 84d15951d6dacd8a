/* content.c - file content format: header, block layout, offsets, holes. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfs_content.h"
#include "sfs_parallel.h"

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

/* A run of blocks sealed or opened in parts on several cores (parallel.c).
 * Parts are whole blocks; part i covers blocks [i * n / parts,
 * (i + 1) * n / parts) of the run. */
struct block_run {
	const struct sfs_layout *l;
	const struct sfs_file_key *fk;
	const uint8_t *id;
	uint64_t first_block;
	const uint8_t *in;
	size_t in_len; /* plaintext (seal) or cipher (open) bytes */
	uint8_t *out;
	size_t nblocks;
	unsigned nparts;
	size_t nonce_len;
	int rc[SFS_PARALLEL_MAX_THREADS + 1];	   /* per part */
	uint64_t bad[SFS_PARALLEL_MAX_THREADS + 1]; /* first failed block */
};

/* Below this many blocks per part, waking another thread costs more than
 * it saves (a 4 KiB block seals in ~3 us). */
#define MIN_BLOCKS_PER_PART 32U

static void run_split(struct block_run *r, void (*part)(void *, unsigned))
{
	size_t parts = r->nblocks / MIN_BLOCKS_PER_PART;
	unsigned width = sfs_parallel_width();

	if (parts > width)
		parts = width;
	r->nparts = parts > 1 ? (unsigned)parts : 1;
	sfs_parallel_run(part, r, r->nparts);
}

static void part_range(const struct block_run *r, unsigned i, size_t *from,
		       size_t *to)
{
	*from = r->nblocks * i / r->nparts;
	*to = r->nblocks * (i + 1) / r->nparts;
}

static void seal_part(void *arg, unsigned i)
{
	struct block_run *r = arg;
	const size_t cbs = r->l->cipher_bs;
	uint8_t ad[AD_BYTES];
	size_t k, to;

	r->rc[i] = 0;
	for (part_range(r, i, &k, &to); k < to; k++) {
		size_t off = k * SFS_BLOCK_SIZE;
		size_t n = r->in_len - off < SFS_BLOCK_SIZE ? r->in_len - off
							     : SFS_BLOCK_SIZE;

		block_ad(ad, r->id, r->first_block + k);
		if (sfs_block_seal(r->fk, r->out + k * cbs, r->in + off, n, ad,
				   sizeof(ad)) != 0) {
			r->rc[i] = -1;
			r->bad[i] = r->first_block + k;
			return;
		}
	}
}

static void open_part(void *arg, unsigned i)
{
	struct block_run *r = arg;
	const struct sfs_layout *l = r->l;
	uint8_t ad[AD_BYTES];
	size_t k, to;

	r->rc[i] = 0;
	for (part_range(r, i, &k, &to); k < to; k++) {
		size_t off = k * l->cipher_bs;
		size_t n = r->in_len - off < l->cipher_bs ? r->in_len - off
							  : l->cipher_bs;
		const uint8_t *blk = r->in + off;
		uint8_t *out = r->out + k * SFS_BLOCK_SIZE;
		int rc = 0;

		if (n <= l->overhead) {
			rc = -1;
		} else if (sfs_is_zero(blk, r->nonce_len)) {
			/* Hole: a sealed block never has a zero nonce. */
			if (sfs_is_zero(blk, n))
				memset(out, 0, n - l->overhead);
			else
				rc = -1;
		} else {
			block_ad(ad, r->id, r->first_block + k);
			rc = sfs_block_open(r->fk, out, blk, n, ad, sizeof(ad));
		}
		if (rc != 0) {
			r->rc[i] = -1;
			r->bad[i] = r->first_block + k;
			return;
		}
	}
}

/* The first failed part's block, or -1 when every part succeeded. */
static int first_failure(const struct block_run *r, uint64_t *bad)
{
	for (unsigned i = 0; i < r->nparts; i++) {
		if (r->rc[i] != 0) {
			*bad = r->bad[i];
			return -1;
		}
	}
	return 0;
}

/* Seals or opens (part) all blocks of r under the file's key. 0, or -1
 * with the first failed block in *bad. */
static int run_blocks(const struct sfs_crypto *c, struct block_run *r,
		      void (*part)(void *, unsigned), uint64_t *bad)
{
	struct sfs_file_key fk;
	int rc;

	sfs_file_key_derive(&fk, c, r->id);
	r->fk = &fk;
	run_split(r, part);
	rc = first_failure(r, bad);
	r->fk = NULL;
	sfs_file_key_wipe(&fk);
	return rc;
}

ssize_t sfs_content_encrypt(const struct sfs_crypto *c,
			    const struct sfs_layout *l,
			    const uint8_t id[SFS_FILE_ID_BYTES],
			    uint64_t first_block, const uint8_t *in, size_t len,
			    uint8_t *out)
{
	struct block_run r = {
	    .l = l,
	    .id = id,
	    .first_block = first_block,
	    .in = in,
	    .in_len = len,
	    .out = out,
	    .nblocks = (len + SFS_BLOCK_SIZE - 1) / SFS_BLOCK_SIZE,
	};
	uint64_t bad;

	if (sfs_crypto_overhead(c) != l->overhead)
		bug("sfs_content_encrypt: layout does not match cipher");
	if (len == 0)
		return 0;
	if (sfs_content_cipher_len(l, len) > SSIZE_MAX)
		return -EINVAL;
	if (run_blocks(c, &r, seal_part, &bad) != 0)
		return -EIO;
	return (ssize_t)sfs_content_cipher_len(l, len);
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
	struct block_run r = {
	    .l = l,
	    .id = id,
	    .first_block = first_block,
	    .in = in,
	    .in_len = in_len,
	    .out = out,
	    .nblocks = (in_len + l->cipher_bs - 1) / l->cipher_bs,
	    .nonce_len = sfs_aead_nonce_bytes(sfs_crypto_aead(c)),
	};
	uint64_t bad;

	if (sfs_crypto_overhead(c) != l->overhead)
		bug("sfs_content_decrypt: layout does not match cipher");
	if (in_len == 0)
		return 0;
	if (in_len > SSIZE_MAX)
		return -EINVAL;
	if (run_blocks(c, &r, open_part, &bad) != 0) {
		/* No partial plaintext may escape a failed read. */
		sfs_wipe(out, plain_len(l, in_len));
		if (bad_block)
			*bad_block = bad;
		return -EIO;
	}
	return (ssize_t)plain_len(l, in_len);
}
