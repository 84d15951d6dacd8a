/* content.c - file content format: header, block layout, offsets, holes. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "sfs_content.h"
#include "sfs_log.h"
#include "sfs_parallel.h"

/* AD of a block: file id || block number (big endian). */
#define AD_BYTES (SFS_FILE_ID_BYTES + 8U)

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

void sfs_layout_init(struct sfs_layout *l, size_t slot_bytes)
{
	/* The hole rule needs a nonce; a slot is nonce + tag. */
	if (slot_bytes <= SFS_TAG_BYTES ||
	    slot_bytes > SFS_NONCE_MAX_BYTES + SFS_TAG_BYTES)
		sfs_bug("sfs_layout_init: impossible slot size");
	l->slot_bytes = slot_bytes;
	l->group_blocks = (SFS_BLOCK_SIZE - SFS_META_HEAD_BYTES) / slot_bytes;
}

/* Bytes of one group: its metadata page and its data pages. */
static uint64_t group_bytes(const struct sfs_layout *l)
{
	return (l->group_blocks + 1) * SFS_BLOCK_SIZE;
}

uint64_t sfs_data_off(const struct sfs_layout *l, uint64_t block)
{
	uint64_t g = block / l->group_blocks, j = block % l->group_blocks;

	return g * group_bytes(l) + (1 + j) * SFS_BLOCK_SIZE;
}

uint64_t sfs_slot_off(const struct sfs_layout *l, uint64_t block)
{
	uint64_t g = block / l->group_blocks, j = block % l->group_blocks;

	return g * group_bytes(l) + SFS_META_HEAD_BYTES + j * l->slot_bytes;
}

uint64_t sfs_group_left(const struct sfs_layout *l, uint64_t block)
{
	return l->group_blocks - block % l->group_blocks;
}

uint64_t sfs_block_at(const struct sfs_layout *l, uint64_t coff)
{
	uint64_t g = coff / group_bytes(l), in = coff % group_bytes(l);

	if (in < SFS_BLOCK_SIZE) /* the metadata page: its first block */
		return g * l->group_blocks;
	return g * l->group_blocks + in / SFS_BLOCK_SIZE - 1;
}

uint64_t sfs_cipher_size(const struct sfs_layout *l, uint64_t plain_size)
{
	uint64_t last;

	if (plain_size == 0)
		return 0;
	last = (plain_size - 1) / SFS_BLOCK_SIZE;
	return sfs_data_off(l, last) + (plain_size - last * SFS_BLOCK_SIZE);
}

int sfs_plain_size(const struct sfs_layout *l, uint64_t cipher_size,
		   uint64_t *plain)
{
	uint64_t g = cipher_size / group_bytes(l);
	uint64_t in = cipher_size % group_bytes(l);

	*plain = g * l->group_blocks * SFS_BLOCK_SIZE;
	if (cipher_size == 0)
		return 0;
	if (cipher_size < SFS_FILE_HEADER_BYTES)
		return -EIO;
	if (in > SFS_BLOCK_SIZE) {
		*plain += in - SFS_BLOCK_SIZE;
		return 0;
	}
	/* Ends inside a metadata page: only the first may (a header, perhaps
	 * slots, no data yet: an empty file); in == 0 ends a full group. */
	return in == 0 || g == 0 ? 0 : -EIO;
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

size_t sfs_content_slots_len(const struct sfs_layout *l, size_t len)
{
	return (len + SFS_BLOCK_SIZE - 1) / SFS_BLOCK_SIZE * l->slot_bytes;
}

/* A run of blocks sealed or opened in parts on several cores (parallel.c).
 * Parts are whole blocks; part i covers blocks [i * n / parts,
 * (i + 1) * n / parts) of the run. */
struct block_run {
	const struct sfs_layout *l;
	const struct sfs_crypto *c;
	const uint8_t *id;
	uint64_t first_block;
	const uint8_t *in; /* plaintext (seal) or ciphertext (open) */
	size_t len;
	uint8_t *out;	       /* ciphertext (seal) or plaintext (open) */
	uint8_t *slots;	       /* written by seal */
	const uint8_t *cslots; /* read by open */
	size_t nblocks;
	unsigned nparts;
	int rc[SFS_PARALLEL_MAX_THREADS + 1];	    /* per part: 0 or -errno */
	uint64_t bad[SFS_PARALLEL_MAX_THREADS + 1]; /* first failed block */
};

/* Below this many blocks per part, waking another thread costs more than
 * it saves (a 4 KiB block seals in ~3 us). */
#define MIN_BLOCKS_PER_PART 32U

/* Parts per thread: threads claim parts as they get free, so a thread that
 * shares its CPU with the reader (io_uring queues run on the caller's CPU)
 * ends up doing fewer of them. */
#define PARTS_PER_THREAD 4U

static void run_split(struct block_run *r, void (*part)(void *, unsigned))
{
	size_t parts = r->nblocks / MIN_BLOCKS_PER_PART;
	size_t most = (size_t)sfs_parallel_width() * PARTS_PER_THREAD;

	if (most > SFS_PARALLEL_MAX_THREADS + 1)
		most = SFS_PARALLEL_MAX_THREADS + 1;
	if (parts > most)
		parts = most;
	r->nparts = parts > 1 ? (unsigned)parts : 1;
	sfs_parallel_run(part, r, r->nparts);
}

/* Block k of the run: its offset in the data and its length. */
static size_t block_span(const struct block_run *r, size_t k, size_t *off)
{
	*off = k * SFS_BLOCK_SIZE;
	return r->len - *off < SFS_BLOCK_SIZE ? r->len - *off : SFS_BLOCK_SIZE;
}

/* Part i's blocks [*k, *to) and its own file key (a key's cipher context
 * serves one thread). false, with the part's failure noted, when the key
 * cannot be set up. */
static bool part_begin(struct block_run *r, unsigned i, size_t *k, size_t *to,
		       struct sfs_file_key *fk)
{
	*k = r->nblocks * i / r->nparts;
	*to = r->nblocks * (i + 1) / r->nparts;
	r->rc[i] = 0;
	if (sfs_file_key_derive(fk, r->c, r->id) != 0) {
		r->rc[i] = -ENOMEM;
		r->bad[i] = r->first_block + *k;
		return false;
	}
	return true;
}

static void part_fail(struct block_run *r, unsigned i, size_t k)
{
	r->rc[i] = -EIO;
	r->bad[i] = r->first_block + k;
}

static void seal_part(void *arg, unsigned i)
{
	struct block_run *r = arg;
	const size_t sb = r->l->slot_bytes;
	struct sfs_file_key fk;
	uint8_t ad[AD_BYTES];
	size_t k, to;

	if (!part_begin(r, i, &k, &to, &fk))
		return;
	for (; k < to; k++) {
		size_t off, n = block_span(r, k, &off);

		block_ad(ad, r->id, r->first_block + k);
		if (sfs_block_seal(&fk, r->out + off, r->slots + k * sb,
				   r->in + off, n, ad, sizeof(ad)) != 0) {
			part_fail(r, i, k);
			break;
		}
	}
	sfs_file_key_wipe(&fk);
}

static void open_part(void *arg, unsigned i)
{
	struct block_run *r = arg;
	const size_t sb = r->l->slot_bytes;
	struct sfs_file_key fk;
	uint8_t ad[AD_BYTES];
	size_t k, to;

	if (!part_begin(r, i, &k, &to, &fk))
		return;
	for (; k < to; k++) {
		size_t off, n = block_span(r, k, &off);
		const uint8_t *slot = r->cslots + k * sb;
		int rc = 0;

		if (sfs_is_zero(slot, sb)) {
			/* Hole: a sealed block never has a zero nonce. */
			if (sfs_is_zero(r->in + off, n))
				memset(r->out + off, 0, n);
			else
				rc = -1;
		} else {
			block_ad(ad, r->id, r->first_block + k);
			rc = sfs_block_open(&fk, r->out + off, r->in + off, n,
					    slot, ad, sizeof(ad));
		}
		if (rc != 0) {
			part_fail(r, i, k);
			break;
		}
	}
	sfs_file_key_wipe(&fk);
}

/* The first failed part's error (-EIO, or -ENOMEM when it had no key)
 * and block, or 0 when every part succeeded. */
static int first_failure(const struct block_run *r, uint64_t *bad)
{
	for (unsigned i = 0; i < r->nparts; i++) {
		if (r->rc[i] != 0) {
			*bad = r->bad[i];
			return r->rc[i];
		}
	}
	return 0;
}

/* Seals or opens (part) all blocks of r under the file's key, each part
 * with a key of its own. 0 or as first_failure. */
static int run_blocks(const struct sfs_crypto *c, struct block_run *r,
		      void (*part)(void *, unsigned), uint64_t *bad)
{
	if (sfs_crypto_overhead(c) != r->l->slot_bytes)
		sfs_bug("content: layout does not match cipher");
	r->c = c;
	r->nblocks = (r->len + SFS_BLOCK_SIZE - 1) / SFS_BLOCK_SIZE;
	run_split(r, part);
	return first_failure(r, bad);
}

ssize_t sfs_content_encrypt(const struct sfs_crypto *c,
			    const struct sfs_layout *l,
			    const uint8_t id[SFS_FILE_ID_BYTES],
			    uint64_t first_block, const uint8_t *in, size_t len,
			    uint8_t *data, uint8_t *slots)
{
	struct block_run r = {
	    .l = l,
	    .id = id,
	    .first_block = first_block,
	    .in = in,
	    .len = len,
	    .out = data,
	    .slots = slots,
	};
	uint64_t bad;
	int rc;

	if (len > SSIZE_MAX)
		return -EINVAL;
	rc = run_blocks(c, &r, seal_part, &bad);
	return rc < 0 ? rc : (ssize_t)len;
}

ssize_t sfs_content_decrypt(const struct sfs_crypto *c,
			    const struct sfs_layout *l,
			    const uint8_t id[SFS_FILE_ID_BYTES],
			    uint64_t first_block, const uint8_t *data,
			    size_t len, const uint8_t *slots, uint8_t *out,
			    uint64_t *bad_block)
{
	struct block_run r = {
	    .l = l,
	    .id = id,
	    .first_block = first_block,
	    .in = data,
	    .len = len,
	    .out = out,
	    .cslots = slots,
	};
	uint64_t bad;
	int rc;

	if (len > SSIZE_MAX)
		return -EINVAL;
	rc = run_blocks(c, &r, open_part, &bad);
	if (rc < 0) {
		/* No partial plaintext may escape a failed read. */
		sfs_wipe(out, len);
		if (bad_block)
			*bad_block = bad;
		return rc;
	}
	return (ssize_t)len;
}
