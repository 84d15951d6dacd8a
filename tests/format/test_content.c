/* test_content.c - unit tests for fs/format/content.c (layout, header, blocks).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <sodium.h>

#include "sfs_content.h"

#define BS SFS_BLOCK_SIZE
#define HDR SFS_FILE_HEADER_BYTES
#define HEAD SFS_META_HEAD_BYTES

/* The two geometries (doc/FORMAT.md section 5), computed by hand. */
#define XC 40U		/* XChaCha20-Poly1305: 24-byte nonce + tag */
#define GCM 28U		/* AES-256-GCM: 12-byte nonce + tag */
#define XC_K 100U	/* blocks per group: (4096 - 64) / 40 */
#define GCM_K 144U	/* (4096 - 64) / 28 */
#define XC_G 413696ULL	/* bytes per group: (100 + 1) * 4096 */
#define GCM_G 593920ULL /* (144 + 1) * 4096 */

static void setup(void)
{
	cr_assert_eq(sfs_crypto_init(), 0);
}

TestSuite(content, .init = setup, .timeout = 20);

static void fill(uint8_t *p, size_t len, uint8_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 13 + (i >> 8));
}

static size_t nblocks(size_t len)
{
	return (len + BS - 1) / BS;
}

/* Bytes of block k of a run of len bytes. */
static size_t block_len(size_t len, size_t k)
{
	return len - k * BS < BS ? len - k * BS : BS;
}

/* ---- layout ---- */

struct geo {
	size_t slot;
	uint64_t k;
	uint64_t group;
};

static const struct geo geos[] = {{XC, XC_K, XC_G}, {GCM, GCM_K, GCM_G}};

Test(content, layout_init)
{
	struct sfs_layout l;

	cr_assert_eq(HDR, 18);
	cr_assert_geq(HEAD, HDR, "the file header must fit in the head");
	sfs_layout_init(&l, XC);
	cr_assert_eq(l.slot_bytes, XC);
	cr_assert_eq(l.group_blocks, XC_K);
	sfs_layout_init(&l, GCM);
	cr_assert_eq(l.slot_bytes, GCM);
	cr_assert_eq(l.group_blocks, GCM_K);
	/* The extremes: a 1-byte nonce, the largest nonce. */
	sfs_layout_init(&l, SFS_TAG_BYTES + 1);
	cr_assert_eq(l.group_blocks, 237);
	sfs_layout_init(&l, SFS_TAG_BYTES + SFS_NONCE_MAX_BYTES);
	cr_assert_eq(l.group_blocks, 100);
	cr_assert_eq(XC_G, (XC_K + 1) * BS);
	cr_assert_eq(GCM_G, (GCM_K + 1) * BS);
}

struct slot_case {
	size_t slot_bytes;
};

ParameterizedTestParameters(content, impossible_slot_size_is_a_bug)
{
	/* No nonce, a tag alone, a nonce longer than any AEAD's. */
	static struct slot_case cases[] = {
	    {0},
	    {1},
	    {SFS_TAG_BYTES},
	    {SFS_TAG_BYTES + SFS_NONCE_MAX_BYTES + 1},
	    {BS - HEAD},
	    {BS},
	};

	return cr_make_param_array(struct slot_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct slot_case *tc, content, impossible_slot_size_is_a_bug,
		  .signal = SIGABRT)
{
	struct sfs_layout l;

	sfs_layout_init(&l, tc->slot_bytes);
}

struct off_case {
	size_t slot;
	uint64_t block;
	uint64_t data, slot_off, left;
};

ParameterizedTestParameters(content, offsets)
{
	static struct off_case cases[] = {
	    {XC, 0, BS, HEAD, XC_K},
	    {XC, 1, 2 * BS, HEAD + XC, XC_K - 1},
	    /* The last slot of a group ends 32 bytes before the page does. */
	    {XC, 99, 100 * BS, HEAD + 99 * XC, 1},
	    {XC, 100, XC_G + BS, XC_G + HEAD, XC_K},
	    {XC, 101, XC_G + 2 * BS, XC_G + HEAD + XC, XC_K - 1},
	    {XC, 250, 2 * XC_G + 51 * BS, 2 * XC_G + HEAD + 50 * XC, 50},
	    /* 2^40 = 10995116277 * 100 + 76 */
	    {XC, 1ULL << 40, 10995116277ULL * XC_G + 77 * BS,
	     10995116277ULL * XC_G + HEAD + 76 * XC, 24},
	    {GCM, 0, BS, HEAD, GCM_K},
	    /* The last slot of a group ends exactly at the page end. */
	    {GCM, 143, 144 * BS, HEAD + 143 * GCM, 1},
	    {GCM, 144, GCM_G + BS, GCM_G + HEAD, GCM_K},
	    {GCM, 300, 2 * GCM_G + 13 * BS, 2 * GCM_G + HEAD + 12 * GCM, 132},
	    /* 2^40 + 7 = 7635497415 * 144 + 23 */
	    {GCM, (1ULL << 40) + 7, 7635497415ULL * GCM_G + 24 * BS,
	     7635497415ULL * GCM_G + HEAD + 23 * GCM, 121},
	};

	return cr_make_param_array(struct off_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct off_case *tc, content, offsets)
{
	struct sfs_layout l;
	unsigned long long b = tc->block;

	sfs_layout_init(&l, tc->slot);
	cr_assert_eq(sfs_data_off(&l, tc->block), tc->data, "O=%zu block %llu",
		     tc->slot, b);
	cr_assert_eq(sfs_slot_off(&l, tc->block), tc->slot_off,
		     "O=%zu block %llu", tc->slot, b);
	cr_assert_eq(sfs_group_left(&l, tc->block), tc->left,
		     "O=%zu block %llu", tc->slot, b);
	cr_assert_eq(sfs_block_at(&l, tc->data), tc->block, "O=%zu block %llu",
		     tc->slot, b);
	cr_assert_eq(sfs_block_at(&l, tc->data + BS - 1), tc->block,
		     "O=%zu block %llu", tc->slot, b);
}

/* Every block's data starts on a page boundary, on a page of its own after
 * its group's metadata page; its slot lies in that metadata page after the
 * 64-byte head. Sweeps several groups of both geometries. */
Test(content, layout_sweep)
{
	for (size_t i = 0; i < 2; i++) {
		const struct geo *g = &geos[i];
		const uint64_t o = g->slot;
		uint64_t prev_d = 0, prev_s = 0;
		struct sfs_layout l;

		sfs_layout_init(&l, g->slot);
		for (uint64_t b = 0; b < 6 * g->k + 3; b++) {
			uint64_t grp = b / g->k, j = b % g->k;
			uint64_t meta = grp * g->group;
			uint64_t d = sfs_data_off(&l, b),
				 s = sfs_slot_off(&l, b);
			unsigned long long bb = b;

			cr_assert_eq(d % BS, 0, "O=%zu block %llu: unaligned",
				     g->slot, bb);
			cr_assert_eq(d, meta + (1 + j) * BS, "O=%zu block %llu",
				     g->slot, bb);
			/* Not a metadata page. */
			cr_assert_neq(d / BS % (g->k + 1), 0,
				      "O=%zu block %llu", g->slot, bb);
			/* The slot: inside the group's metadata page, past
			 * the head (where the file header lives). */
			cr_assert_eq(s, meta + HEAD + j * o, "O=%zu block %llu",
				     g->slot, bb);
			cr_assert_geq(s - meta, HEAD);
			cr_assert_leq(s - meta + o, BS, "O=%zu block %llu",
				      g->slot, bb);
			cr_assert_leq(s + o, d);
			if (b == 0)
				cr_assert_eq(s, HEAD);
			else if (j == 0) {
				/* A new group: one metadata page skipped. */
				cr_assert_eq(d, prev_d + 2 * BS);
				cr_assert_eq(s, prev_d + BS + HEAD);
			} else {
				cr_assert_eq(d, prev_d + BS);
				cr_assert_eq(s, prev_s + o);
			}
			prev_d = d;
			prev_s = s;
		}
	}
}

/* The run from a block to its group's end is contiguous (data and slots),
 * and the next block starts a new group. */
Test(content, group_left_sweep)
{
	for (size_t i = 0; i < 2; i++) {
		const struct geo *g = &geos[i];
		struct sfs_layout l;

		sfs_layout_init(&l, g->slot);
		for (uint64_t b = 0; b < 5 * g->k + 3; b++) {
			uint64_t left = sfs_group_left(&l, b);
			uint64_t last = b + left - 1;
			unsigned long long bb = b;

			cr_assert(left >= 1 && left <= g->k, "O=%zu block %llu",
				  g->slot, bb);
			cr_assert_eq(left, g->k - b % g->k);
			cr_assert_eq(sfs_data_off(&l, last),
				     sfs_data_off(&l, b) + (left - 1) * BS);
			cr_assert_eq(sfs_slot_off(&l, last),
				     sfs_slot_off(&l, b) +
					 (left - 1) * g->slot);
			cr_assert_eq((last + 1) % g->k, 0, "O=%zu block %llu",
				     g->slot, bb);
			cr_assert_eq(sfs_data_off(&l, last + 1),
				     sfs_data_off(&l, last) + 2 * BS);
		}
	}
}

/* Any backing offset maps to the block whose data page holds it; offsets
 * in a metadata page (head or slots) map to its group's first block. */
Test(content, block_at_sweep)
{
	for (size_t i = 0; i < 2; i++) {
		const struct geo *g = &geos[i];
		struct sfs_layout l;

		sfs_layout_init(&l, g->slot);
		for (uint64_t b = 0; b < 5 * g->k + 3; b++) {
			uint64_t d = sfs_data_off(&l, b), first = b - b % g->k;
			uint64_t meta = b / g->k * g->group;
			unsigned long long bb = b;

			cr_assert_eq(sfs_block_at(&l, d), b, "O=%zu block %llu",
				     g->slot, bb);
			cr_assert_eq(sfs_block_at(&l, d + 1234), b);
			cr_assert_eq(sfs_block_at(&l, d + BS - 1), b);
			cr_assert_eq(sfs_block_at(&l, d + BS), b + 1,
				     "O=%zu block %llu", g->slot, bb);
			cr_assert_eq(sfs_block_at(&l, sfs_slot_off(&l, b)),
				     first, "O=%zu block %llu", g->slot, bb);
			cr_assert_eq(
			    sfs_block_at(&l, sfs_slot_off(&l, b) + g->slot - 1),
			    first);
			cr_assert_eq(sfs_block_at(&l, meta), first);
			cr_assert_eq(sfs_block_at(&l, meta + HDR - 1), first);
			cr_assert_eq(sfs_block_at(&l, meta + BS - 1), first);
		}
	}
}

Test(content, block_at_by_hand)
{
	static const struct {
		size_t slot;
		uint64_t off, block;
	} cases[] = {
	    {XC, 0, 0},
	    {XC, HDR, 0},
	    {XC, BS - 1, 0},
	    {XC, BS, 0},
	    {XC, 2 * BS - 1, 0},
	    {XC, 2 * BS, 1},
	    {XC, XC_G - 1, 99},
	    {XC, XC_G, 100},
	    {XC, XC_G + BS - 1, 100},
	    {XC, XC_G + BS, 100},
	    {XC, XC_G + 2 * BS, 101},
	    {XC, 3 * XC_G + 7, 300},
	    {GCM, GCM_G - 1, 143},
	    {GCM, GCM_G, 144},
	    {GCM, GCM_G + BS - 1, 144},
	    {GCM, GCM_G + BS, 144},
	    {GCM, GCM_G + 2 * BS, 145},
	};
	struct sfs_layout l;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sfs_layout_init(&l, cases[i].slot);
		cr_assert_eq(sfs_block_at(&l, cases[i].off), cases[i].block,
			     "case %zu: O=%zu offset %llu", i, cases[i].slot,
			     (unsigned long long)cases[i].off);
	}
}

/* ---- file sizes ---- */

struct size_case {
	size_t slot;
	uint64_t cipher;
	int rc;
	uint64_t plain;
	/* The pair is canonical: cipher_size(plain) == cipher. */
	bool canonical;
};

ParameterizedTestParameters(content, sizes)
{
	static struct size_case cases[] = {
	    /* Empty file: nothing at all. */
	    {XC, 0, 0, 0, true},
	    {GCM, 0, 0, 0, true},
	    /* Inside the file header. */
	    {XC, 1, -EIO, 0, false},
	    {XC, HDR - 1, -EIO, 0, false},
	    {GCM, HDR - 1, -EIO, 0, false},
	    /* Header (and perhaps slots) but no data yet: empty. */
	    {XC, HDR, 0, 0, false},
	    {GCM, HDR, 0, 0, false},
	    {XC, HEAD, 0, 0, false},
	    {XC, HEAD + XC, 0, 0, false},
	    {XC, BS - 1, 0, 0, false},
	    {XC, BS, 0, 0, false},
	    {GCM, BS, 0, 0, false},
	    /* Data in group 0. */
	    {XC, BS + 1, 0, 1, true},
	    {XC, 2 * BS - 1, 0, BS - 1, true},
	    {XC, 2 * BS, 0, BS, true},
	    {XC, 2 * BS + 1, 0, BS + 1, true},
	    {XC, 100 * BS, 0, 99 * BS, true},
	    {XC, XC_G - 1, 0, 100 * BS - 1, true},
	    {GCM, BS + 1, 0, 1, true},
	    {GCM, 78 * BS, 0, 77 * BS, true},
	    {GCM, GCM_G - 1, 0, 144 * BS - 1, true},
	    /* Exactly at a group's end: full groups. */
	    {XC, XC_G, 0, 100 * BS, true},
	    {XC, 2 * XC_G, 0, 200 * BS, true},
	    {XC, 5 * XC_G, 0, 500 * BS, true},
	    {GCM, GCM_G, 0, 144 * BS, true},
	    {GCM, 2 * GCM_G, 0, 288 * BS, true},
	    /* Ending inside the metadata page of group 1 or 2: impossible,
	     * the guess is the full groups before. */
	    {XC, XC_G + 1, -EIO, 100 * BS, false},
	    {XC, XC_G + HDR, -EIO, 100 * BS, false},
	    {XC, XC_G + HEAD + XC, -EIO, 100 * BS, false},
	    {XC, XC_G + BS - 1, -EIO, 100 * BS, false},
	    {XC, XC_G + BS, -EIO, 100 * BS, false},
	    {XC, 2 * XC_G + 1, -EIO, 200 * BS, false},
	    {XC, 2 * XC_G + BS, -EIO, 200 * BS, false},
	    {GCM, GCM_G + 1, -EIO, 144 * BS, false},
	    {GCM, GCM_G + BS, -EIO, 144 * BS, false},
	    {GCM, 2 * GCM_G + 7, -EIO, 288 * BS, false},
	    {GCM, 2 * GCM_G + BS, -EIO, 288 * BS, false},
	    /* One byte past a metadata page is a one-byte block again. */
	    {XC, XC_G + BS + 1, 0, 100 * BS + 1, true},
	    {XC, 2 * XC_G + BS + 1, 0, 200 * BS + 1, true},
	    {GCM, GCM_G + BS + 1, 0, 144 * BS + 1, true},
	    {GCM, 2 * GCM_G + BS + 1, 0, 288 * BS + 1, true},
	    {XC, 2 * XC_G + 51 * BS + 5, 0, 250 * BS + 5, true},
	    /* Large files: the last block of 2^40 bytes is 2^28 - 1 =
	     * 2684354 * 100 + 55 = 1864135 * 144 + 15, the last block of
	     * 2^52 + 5 bytes is 2^40 = 10995116277 * 100 + 76. */
	    {XC, 2684354ULL * XC_G + 57 * BS, 0, 1ULL << 40, true},
	    {GCM, 1864135ULL * GCM_G + 17 * BS, 0, 1ULL << 40, true},
	    {XC, 10995116277ULL * XC_G + 77 * BS + 5, 0, (1ULL << 52) + 5,
	     true},
	    {XC, 2684354ULL * XC_G + 100, -EIO, 268435400ULL * BS, false},
	};

	return cr_make_param_array(struct size_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct size_case *tc, content, sizes)
{
	struct sfs_layout l;
	uint64_t plain = 12345;

	sfs_layout_init(&l, tc->slot);
	cr_assert_eq(sfs_plain_size(&l, tc->cipher, &plain), tc->rc,
		     "O=%zu cipher size %llu", tc->slot,
		     (unsigned long long)tc->cipher);
	cr_assert_eq(plain, tc->plain, "O=%zu cipher size %llu: plain %llu",
		     tc->slot, (unsigned long long)tc->cipher,
		     (unsigned long long)plain);
	if (tc->canonical)
		cr_assert_eq(sfs_cipher_size(&l, tc->plain), tc->cipher,
			     "O=%zu plain size %llu", tc->slot,
			     (unsigned long long)tc->plain);
}

/* plain -> cipher -> plain is the identity, the cipher size grows with
 * the plain size and ends right after the last block's data. */
Test(content, size_round_trip_sweep)
{
	for (size_t i = 0; i < 2; i++) {
		const struct geo *g = &geos[i];
		struct sfs_layout l;

		sfs_layout_init(&l, g->slot);
		for (uint64_t grp = 0; grp <= 4; grp++) {
			uint64_t mid = grp * g->k * BS;
			uint64_t from = mid > 3 * BS ? mid - 3 * BS : 0;

			for (uint64_t p = from; p <= mid + 3 * BS + 1; p++) {
				uint64_t c = sfs_cipher_size(&l, p), back = 1;
				uint64_t last = p ? (p - 1) / BS : 0;
				unsigned long long pp = p;

				cr_assert_eq(sfs_plain_size(&l, c, &back), 0,
					     "O=%zu plain %llu", g->slot, pp);
				cr_assert_eq(back, p, "O=%zu plain %llu",
					     g->slot, pp);
				if (p == 0) {
					cr_assert_eq(c, 0);
					continue;
				}
				cr_assert_eq(
				    c, sfs_data_off(&l, last) + p - last * BS,
				    "O=%zu plain %llu", g->slot, pp);
				cr_assert_gt(c, sfs_cipher_size(&l, p - 1),
					     "O=%zu plain %llu", g->slot, pp);
			}
		}
	}
}

/* Every cipher size of the first groups: valid exactly when it is 0, ends
 * in the first metadata page (past the header) or in a data page; a valid
 * one with data is canonical. */
Test(content, plain_size_sweep)
{
	for (size_t i = 0; i < 2; i++) {
		const struct geo *g = &geos[i];
		struct sfs_layout l;

		sfs_layout_init(&l, g->slot);
		for (uint64_t c = 0; c <= 2 * g->group + 2 * BS; c++) {
			uint64_t in = c % g->group, p = 1;
			bool bad =
			    c != 0 &&
			    (c < HDR || (c >= g->group && in != 0 && in <= BS));
			int rc = sfs_plain_size(&l, c, &p);
			unsigned long long cc = c;

			cr_assert_eq(rc, bad ? -EIO : 0, "O=%zu cipher %llu",
				     g->slot, cc);
			if (bad)
				cr_assert_eq(p, c / g->group * g->k * BS,
					     "O=%zu cipher %llu", g->slot, cc);
			else if (c <= BS)
				cr_assert_eq(p, 0, "O=%zu cipher %llu", g->slot,
					     cc);
			else
				cr_assert_eq(sfs_cipher_size(&l, p), c,
					     "O=%zu cipher %llu", g->slot, cc);
		}
	}
}

Test(content, slots_len)
{
	struct sfs_layout l;

	sfs_layout_init(&l, XC);
	cr_assert_eq(sfs_content_slots_len(&l, 0), 0);
	cr_assert_eq(sfs_content_slots_len(&l, 1), XC);
	cr_assert_eq(sfs_content_slots_len(&l, BS - 1), XC);
	cr_assert_eq(sfs_content_slots_len(&l, BS), XC);
	cr_assert_eq(sfs_content_slots_len(&l, BS + 1), 2 * XC);
	cr_assert_eq(sfs_content_slots_len(&l, 256 * BS), 256 * XC);
	sfs_layout_init(&l, GCM);
	cr_assert_eq(sfs_content_slots_len(&l, 1), GCM);
	cr_assert_eq(sfs_content_slots_len(&l, 3 * BS + 5), 4 * GCM);
	cr_assert_eq(sfs_content_slots_len(&l, 144 * BS), 144 * GCM);
}

/* ---- file header ---- */

Test(content, header)
{
	uint8_t hdr[HDR], hdr2[HDR], id[SFS_FILE_ID_BYTES];
	uint8_t id2[SFS_FILE_ID_BYTES], got[SFS_FILE_ID_BYTES];

	cr_assert_eq(SFS_FILE_HEADER_VERSION, 2);
	sfs_header_new(hdr, id);
	cr_assert_eq(hdr[0], 0);
	cr_assert_eq(hdr[1], 2);
	cr_assert_eq(memcmp(hdr + 2, id, sizeof(id)), 0);
	cr_assert(!sfs_is_zero(id, sizeof(id)));
	cr_assert_eq(sfs_header_parse(hdr, got), 0);
	cr_assert_eq(memcmp(got, id, sizeof(id)), 0);
	sfs_header_new(hdr2, id2);
	cr_assert_neq(memcmp(id, id2, sizeof(id)), 0, "file ids repeat");
}

struct hdr_case {
	uint8_t v0, v1;
	bool zero_id;
	int rc;
};

ParameterizedTestParameters(content, header_parse)
{
	static struct hdr_case cases[] = {
	    {0, 2, false, 0},	 {0, 1, false, -EIO}, /* v1: packed blocks */
	    {0, 0, false, -EIO}, {0, 3, false, -EIO}, {2, 0, false, -EIO},
	    {1, 2, false, -EIO}, {2, 2, false, -EIO}, {0xff, 0xff, false, -EIO},
	    {0, 2, true, -EIO},	 {0, 0, true, -EIO},
	};

	return cr_make_param_array(struct hdr_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct hdr_case *tc, content, header_parse)
{
	uint8_t hdr[HDR], id[SFS_FILE_ID_BYTES];

	fill(hdr + 2, SFS_FILE_ID_BYTES, 1);
	if (tc->zero_id)
		memset(hdr + 2, 0, SFS_FILE_ID_BYTES);
	hdr[0] = tc->v0;
	hdr[1] = tc->v1;
	memset(id, 0xaa, sizeof(id));
	cr_assert_eq(sfs_header_parse(hdr, id), tc->rc, "version %02x%02x",
		     tc->v0, tc->v1);
	if (tc->rc == 0)
		cr_assert_eq(memcmp(id, hdr + 2, sizeof(id)), 0);
}

Test(content, header_one_nonzero_id_byte_is_enough)
{
	uint8_t hdr[HDR] = {0, 2}, id[SFS_FILE_ID_BYTES];

	hdr[HDR - 1] = 1;
	cr_assert_eq(sfs_header_parse(hdr, id), 0);
	cr_assert_eq(id[SFS_FILE_ID_BYTES - 1], 1);
}

/* ---- block encryption ---- */

struct fixture {
	struct sfs_crypto *c;
	struct sfs_layout l;
	uint8_t id[SFS_FILE_ID_BYTES];
	/* Plaintext, data, slots and output, each with one guard byte. */
	uint8_t *pt, *data, *slots, *out;
	size_t cap, scap;
	size_t sb, nl; /* slot and nonce bytes */
};

static void fixture_init(struct fixture *f, enum sfs_aead aead, size_t cap)
{
	uint8_t vk[SFS_KEY_BYTES], hdr[HDR];

	if (!sfs_aead_available(aead))
		cr_skip_test("%s not available", sfs_aead_name(aead));
	sfs_random(vk, sizeof(vk));
	f->c = sfs_crypto_new(aead, vk);
	sfs_wipe(vk, sizeof(vk));
	cr_assert_not_null(f->c);
	sfs_layout_init(&f->l, sfs_crypto_overhead(f->c));
	f->sb = f->l.slot_bytes;
	f->nl = f->sb - SFS_TAG_BYTES;
	sfs_header_new(hdr, f->id);
	f->cap = cap;
	f->scap = sfs_content_slots_len(&f->l, cap);
	f->pt = malloc(cap + 1);
	f->data = malloc(cap + 1);
	f->slots = malloc(f->scap + 1);
	f->out = malloc(cap + 1);
	cr_assert(f->pt && f->data && f->slots && f->out);
	fill(f->pt, cap, 42);
}

static void fixture_fini(struct fixture *f)
{
	free(f->pt);
	free(f->data);
	free(f->slots);
	free(f->out);
	sfs_crypto_free(f->c);
}

/* Encrypts len bytes of pt from block first; checks that exactly len data
 * bytes and their slots were written. */
static void enc(struct fixture *f, uint64_t first, size_t len)
{
	size_t sl = sfs_content_slots_len(&f->l, len);

	memset(f->data, 0xcc, len + 1);
	memset(f->slots, 0xcc, sl + 1);
	cr_assert_eq(sfs_content_encrypt(f->c, &f->l, f->id, first, f->pt, len,
					 f->data, f->slots),
		     (ssize_t)len, "encrypt %zu bytes", len);
	cr_assert_eq(f->data[len], 0xcc, "data overrun");
	cr_assert_eq(f->slots[sl], 0xcc, "slots overrun");
}

/* Decrypts data+slots into a 0xAA-filled out; checks that a failure zeroes
 * all of it and that nothing past len is written. */
static ssize_t dec(struct fixture *f, const uint8_t *id, uint64_t first,
		   size_t len, uint64_t *bad)
{
	ssize_t n;

	memset(f->out, 0xaa, f->cap + 1);
	*bad = 999999;
	n = sfs_content_decrypt(f->c, &f->l, id, first, f->data, len, f->slots,
				f->out, bad);
	if (n < 0)
		cr_assert(sfs_is_zero(f->out, len), "output not zeroed");
	else
		cr_assert_eq(n, (ssize_t)len);
	if (len <= f->cap)
		cr_assert_eq(f->out[len], 0xaa, "wrote past len");
	return n;
}

struct rt_case {
	enum sfs_aead aead;
	size_t len;
	uint64_t first;
};

ParameterizedTestParameters(content, round_trip)
{
	static struct rt_case cases[] = {
	    {SFS_AEAD_XCHACHA20POLY1305, 1, 0},
	    {SFS_AEAD_XCHACHA20POLY1305, 4095, 0},
	    {SFS_AEAD_XCHACHA20POLY1305, 4096, 0},
	    {SFS_AEAD_XCHACHA20POLY1305, 4097, 0},
	    {SFS_AEAD_XCHACHA20POLY1305, 3 * 4096 + 5, 7},
	    /* Block numbers across a group boundary: no difference. */
	    {SFS_AEAD_XCHACHA20POLY1305, 5 * 4096, 98},
	    {SFS_AEAD_XCHACHA20POLY1305, 17 * 4096, 1ULL << 40},
	    {SFS_AEAD_AES256GCM, 1, 0},
	    {SFS_AEAD_AES256GCM, 4095, 3},
	    {SFS_AEAD_AES256GCM, 4096, 0},
	    {SFS_AEAD_AES256GCM, 4097, 0},
	    {SFS_AEAD_AES256GCM, 3 * 4096, 143},
	    /* Long runs (>= 64 blocks) are sealed and opened in parts on
	     * several threads. */
	    {SFS_AEAD_XCHACHA20POLY1305, 64 * 4096, 0},
	    {SFS_AEAD_XCHACHA20POLY1305, 64 * 4096, 1ULL << 40},
	    {SFS_AEAD_XCHACHA20POLY1305, 255 * 4096 + 4095, 3},
	    {SFS_AEAD_AES256GCM, 64 * 4096 + 100, 9},
	    {SFS_AEAD_AES256GCM, 256 * 4096, 0},
	    {SFS_AEAD_AES256GCM, 300 * 4096 + 1, 1000},
	};

	return cr_make_param_array(struct rt_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct rt_case *tc, content, round_trip)
{
	struct fixture f;
	uint64_t bad;
	size_t nb = nblocks(tc->len), k, j;

	fixture_init(&f, tc->aead, tc->len);
	enc(&f, tc->first, tc->len);
	for (k = 0; k < nb; k++) {
		const uint8_t *s = f.slots + k * f.sb;

		/* Its own nonce, never zero. */
		cr_assert(!sfs_is_zero(s, f.nl), "block %zu: zero nonce", k);
		for (j = 0; j < k; j++)
			cr_assert_neq(memcmp(s, f.slots + j * f.sb, f.nl), 0,
				      "blocks %zu and %zu share a nonce", j, k);
		/* Plaintext does not show through. */
		if (block_len(tc->len, k) >= 16)
			cr_assert_neq(
			    memcmp(f.data + k * BS, f.pt + k * BS, 16), 0,
			    "block %zu", k);
	}
	cr_assert_eq(dec(&f, f.id, tc->first, tc->len, &bad), (ssize_t)tc->len);
	cr_assert_eq(memcmp(f.out, f.pt, tc->len), 0);
	cr_assert_eq(bad, 999999, "bad block set on success");
	/* Each block stands alone: block k is a run of one at first + k. */
	for (k = 0; k<nb; k += nb> 8 ? nb / 5 : 1) {
		size_t n = block_len(tc->len, k);

		memset(f.out, 0xaa, n);
		cr_assert_eq(sfs_content_decrypt(f.c, &f.l, f.id, tc->first + k,
						 f.data + k * BS, n,
						 f.slots + k * f.sb, f.out,
						 &bad),
			     (ssize_t)n, "block %zu alone", k);
		cr_assert_eq(memcmp(f.out, f.pt + k * BS, n), 0, "block %zu",
			     k);
	}
	/* In place: out == data. */
	cr_assert_eq(sfs_content_decrypt(f.c, &f.l, f.id, tc->first, f.data,
					 tc->len, f.slots, f.data, &bad),
		     (ssize_t)tc->len);
	cr_assert_eq(memcmp(f.data, f.pt, tc->len), 0, "in place");
	fixture_fini(&f);
}

Test(content, empty)
{
	struct fixture f;
	uint64_t bad = 7;

	fixture_init(&f, SFS_AEAD_XCHACHA20POLY1305, 16);
	memset(f.data, 0xcc, 17);
	memset(f.slots, 0xcc, f.scap + 1);
	cr_assert_eq(
	    sfs_content_encrypt(f.c, &f.l, f.id, 0, f.pt, 0, f.data, f.slots),
	    0);
	cr_assert_eq(f.data[0], 0xcc);
	cr_assert_eq(f.slots[0], 0xcc);
	cr_assert_eq(sfs_content_decrypt(f.c, &f.l, f.id, 0, f.data, 0, f.slots,
					 f.out, &bad),
		     0);
	cr_assert_eq(bad, 7);
	fixture_fini(&f);
}

Test(content, fresh_nonces)
{
	struct fixture f;
	uint8_t *data, *slots;
	size_t k;

	fixture_init(&f, SFS_AEAD_XCHACHA20POLY1305, 3 * BS);
	enc(&f, 0, 3 * BS);
	data = malloc(3 * BS);
	slots = malloc(f.scap);
	cr_assert(data && slots);
	memcpy(data, f.data, 3 * BS);
	memcpy(slots, f.slots, f.scap);
	enc(&f, 0, 3 * BS);
	for (k = 0; k < 3; k++) {
		cr_assert_neq(
		    memcmp(slots + k * f.sb, f.slots + k * f.sb, f.nl), 0,
		    "block %zu: nonce repeats", k);
		cr_assert_neq(memcmp(data + k * BS, f.data + k * BS, BS), 0,
			      "block %zu: ciphertext repeats", k);
	}
	free(data);
	free(slots);
	fixture_fini(&f);
}

/* Tampering of every kind, each a case on a 3-block run starting at block
 * 5: the read must fail with -EIO, name the right block, zero the output. */
enum tamper {
	T_SLOT_NONCE,
	T_SLOT_TAG,
	T_SLOT_TAG_LAST_BLOCK,
	T_DATA_FIRST,
	T_DATA_LAST,
	T_WRONG_FIRST_BLOCK,
	T_WRONG_ID,
	T_SWAP_BLOCKS,
	T_SWAP_SLOTS,
	T_SWAP_DATA,
	T_MOVED_FROM_OTHER_FILE,
	T_TRUNCATE_ONE,
	T_EXTEND_ONE,
	T_ZERO_NONCE,
	T_ZERO_TAG,
	T_ZERO_SLOT,
	T_ZERO_DATA,
	T_OTHER_VOLUME,
};

struct tamper_case {
	enum tamper what;
	uint64_t bad_block;
};

ParameterizedTestParameters(content, tamper)
{
	static struct tamper_case cases[] = {
	    {T_SLOT_NONCE, 6},
	    {T_SLOT_TAG, 5},
	    {T_SLOT_TAG_LAST_BLOCK, 7},
	    {T_DATA_FIRST, 6},
	    {T_DATA_LAST, 7},
	    {T_WRONG_FIRST_BLOCK, 4},
	    {T_WRONG_ID, 5},
	    {T_SWAP_BLOCKS, 5},
	    {T_SWAP_SLOTS, 5},
	    {T_SWAP_DATA, 5},
	    {T_MOVED_FROM_OTHER_FILE, 6},
	    {T_TRUNCATE_ONE, 7},
	    {T_EXTEND_ONE, 7},
	    {T_ZERO_NONCE, 6},
	    {T_ZERO_TAG, 7},
	    {T_ZERO_SLOT, 6},
	    {T_ZERO_DATA, 6},
	    {T_OTHER_VOLUME, 5},
	};

	return cr_make_param_array(struct tamper_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

static void swap(uint8_t *a, uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t t = a[i];

		a[i] = b[i];
		b[i] = t;
	}
}

static void tamper_one(const struct tamper_case *tc, enum sfs_aead aead)
{
	enum { LEN = 2 * BS + 300 };
	struct fixture f;
	uint8_t id[SFS_FILE_ID_BYTES];
	uint64_t first = 5, bad;
	size_t len = LEN, sb, nl;

	fixture_init(&f, aead, LEN);
	sb = f.sb;
	nl = f.nl;
	enc(&f, first, LEN);
	memcpy(id, f.id, sizeof(id));
	/* Sanity: untouched, it decrypts. */
	cr_assert_eq(dec(&f, id, first, len, &bad), LEN);

	switch (tc->what) {
	case T_SLOT_NONCE:
		f.slots[sb + nl - 1] ^= 0x01;
		break;
	case T_SLOT_TAG:
		f.slots[sb - 1] ^= 0x40;
		break;
	case T_SLOT_TAG_LAST_BLOCK:
		f.slots[2 * sb + nl] ^= 0x01;
		break;
	case T_DATA_FIRST:
		f.data[BS] ^= 0x80;
		break;
	case T_DATA_LAST:
		f.data[LEN - 1] ^= 0x01;
		break;
	case T_WRONG_FIRST_BLOCK:
		first = 4;
		break;
	case T_WRONG_ID:
		id[0] ^= 1;
		break;
	case T_SWAP_BLOCKS:
		swap(f.data, f.data + BS, BS);
		swap(f.slots, f.slots + sb, sb);
		break;
	case T_SWAP_SLOTS:
		swap(f.slots, f.slots + sb, sb);
		break;
	case T_SWAP_DATA:
		swap(f.data, f.data + BS, BS);
		break;
	case T_MOVED_FROM_OTHER_FILE: {
		/* Same volume, same block number, other file. */
		uint8_t hdr[HDR], *data = malloc(LEN), *slots = malloc(3 * sb);

		cr_assert(data && slots);
		sfs_header_new(hdr, id);
		cr_assert_eq(sfs_content_encrypt(f.c, &f.l, id, first, f.pt,
						 LEN, data, slots),
			     LEN);
		memcpy(f.data + BS, data + BS, BS);
		memcpy(f.slots + sb, slots + sb, sb);
		memcpy(id, f.id, sizeof(id));
		free(data);
		free(slots);
		break;
	}
	case T_TRUNCATE_ONE:
		len--;
		break;
	case T_EXTEND_ONE:
		f.data[LEN] = 0;
		len++;
		break;
	case T_ZERO_NONCE:
		memset(f.slots + sb, 0, nl);
		break;
	case T_ZERO_TAG:
		memset(f.slots + 2 * sb + nl, 0, SFS_TAG_BYTES);
		break;
	case T_ZERO_SLOT:
		/* A hole's slot, but the data is not zero. */
		memset(f.slots + sb, 0, sb);
		break;
	case T_ZERO_DATA:
		/* A hole's data, but the slot is not zero. */
		memset(f.data + BS, 0, BS);
		break;
	case T_OTHER_VOLUME: {
		uint8_t vk[SFS_KEY_BYTES];

		sfs_crypto_free(f.c);
		sfs_random(vk, sizeof(vk));
		f.c = sfs_crypto_new(aead, vk);
		cr_assert_not_null(f.c);
		break;
	}
	}
	cr_assert_eq(dec(&f, id, first, len, &bad), -EIO, "%s: tamper %d",
		     sfs_aead_name(aead), tc->what);
	cr_assert_eq(bad, tc->bad_block, "%s: tamper %d: bad block %llu",
		     sfs_aead_name(aead), tc->what, (unsigned long long)bad);
	fixture_fini(&f);
}

ParameterizedTest(struct tamper_case *tc, content, tamper)
{
	tamper_one(tc, SFS_AEAD_XCHACHA20POLY1305);
	if (sfs_aead_available(SFS_AEAD_AES256GCM))
		tamper_one(tc, SFS_AEAD_AES256GCM);
}

struct aead_param {
	enum sfs_aead aead;
};

static struct aead_param aeads[] = {
    {SFS_AEAD_XCHACHA20POLY1305},
    {SFS_AEAD_AES256GCM},
};

#define AEAD_PARAMS(test)                                                      \
	ParameterizedTestParameters(content, test)                             \
	{                                                                      \
		return cr_make_param_array(struct aead_param, aeads, 2);       \
	}

/* Every bit of every slot, and one bit of every 7th data byte, of a run of
 * two blocks (across a group boundary): each flip fails at the block it
 * hit. */
AEAD_PARAMS(tamper_bits)
ParameterizedTest(struct aead_param *tc, content, tamper_bits)
{
	enum { LEN = BS + 100 };
	const uint64_t first = 99;
	struct fixture f;
	uint64_t bad;
	size_t i;
	int bit;

	fixture_init(&f, tc->aead, LEN);
	enc(&f, first, LEN);
	for (i = 0; i < 2 * f.sb; i++) {
		for (bit = 0; bit < 8; bit++) {
			f.slots[i] ^= (uint8_t)(1u << bit);
			cr_assert_eq(dec(&f, f.id, first, LEN, &bad), -EIO,
				     "slot byte %zu bit %d accepted", i, bit);
			cr_assert_eq(bad, first + i / f.sb, "slot byte %zu", i);
			f.slots[i] ^= (uint8_t)(1u << bit);
		}
	}
	for (i = 0; i < LEN; i += 7) {
		f.data[i] ^= (uint8_t)(1u << (i % 8));
		cr_assert_eq(dec(&f, f.id, first, LEN, &bad), -EIO,
			     "data byte %zu accepted", i);
		cr_assert_eq(bad, first + i / BS, "data byte %zu", i);
		f.data[i] ^= (uint8_t)(1u << (i % 8));
	}
	cr_assert_eq(dec(&f, f.id, first, LEN, &bad), LEN);
	cr_assert_eq(memcmp(f.out, f.pt, LEN), 0);
	fixture_fini(&f);
}

Test(content, bad_block_may_be_null)
{
	struct fixture f;

	fixture_init(&f, SFS_AEAD_XCHACHA20POLY1305, 100 * BS);
	enc(&f, 0, 100 * BS);
	cr_assert_eq(sfs_content_decrypt(f.c, &f.l, f.id, 0, f.data, 100 * BS,
					 f.slots, f.out, NULL),
		     100 * BS);
	cr_assert_eq(memcmp(f.out, f.pt, 100 * BS), 0);
	/* One block, then a parallel run failing in its second part. */
	f.data[50] ^= 1;
	cr_assert_eq(sfs_content_decrypt(f.c, &f.l, f.id, 0, f.data, 100,
					 f.slots, f.out, NULL),
		     -EIO);
	cr_assert(sfs_is_zero(f.out, 100));
	f.data[50] ^= 1;
	f.data[90 * BS] ^= 1;
	memset(f.out, 0xaa, 100 * BS);
	cr_assert_eq(sfs_content_decrypt(f.c, &f.l, f.id, 0, f.data, 100 * BS,
					 f.slots, f.out, NULL),
		     -EIO);
	cr_assert(sfs_is_zero(f.out, 100 * BS));
	fixture_fini(&f);
}

/* A failed in-place read leaves zeros where the ciphertext was. */
AEAD_PARAMS(in_place_failure_wipes)
ParameterizedTest(struct aead_param *tc, content, in_place_failure_wipes)
{
	enum { LEN = 70 * BS + 9 };
	struct fixture f;
	uint64_t bad = 0;

	fixture_init(&f, tc->aead, LEN);
	enc(&f, 3, LEN);
	f.slots[69 * f.sb + f.nl + 3] ^= 4;
	cr_assert_eq(sfs_content_decrypt(f.c, &f.l, f.id, 3, f.data, LEN,
					 f.slots, f.data, &bad),
		     -EIO);
	cr_assert_eq(bad, 3 + 69);
	cr_assert(sfs_is_zero(f.data, LEN), "plaintext left in place");
	cr_assert_eq(f.data[LEN], 0xcc, "wiped past len");
	fixture_fini(&f);
}

/* ---- holes ---- */

struct hole_case {
	enum sfs_aead aead;
	size_t len;
	uint64_t first;
};

ParameterizedTestParameters(content, hole)
{
	static struct hole_case cases[] = {
	    {SFS_AEAD_XCHACHA20POLY1305, BS, 3},
	    {SFS_AEAD_XCHACHA20POLY1305, 1, 3},
	    {SFS_AEAD_XCHACHA20POLY1305, 100, 0},
	    {SFS_AEAD_XCHACHA20POLY1305, 3 * BS + 7, 99},
	    {SFS_AEAD_XCHACHA20POLY1305, 130 * BS, 0},
	    {SFS_AEAD_AES256GCM, BS, 3},
	    {SFS_AEAD_AES256GCM, 1, 0},
	    {SFS_AEAD_AES256GCM, 200 * BS + 1, 5},
	};

	return cr_make_param_array(struct hole_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

/* All-zero slots and all-zero data read as zeros. */
ParameterizedTest(struct hole_case *tc, content, hole)
{
	struct fixture f;
	uint64_t bad;

	fixture_init(&f, tc->aead, tc->len);
	memset(f.data, 0, tc->len);
	memset(f.slots, 0, f.scap);
	cr_assert_eq(dec(&f, f.id, tc->first, tc->len, &bad), (ssize_t)tc->len);
	cr_assert(sfs_is_zero(f.out, tc->len));
	cr_assert_eq(bad, 999999);
	/* In place too. */
	memset(f.data, 0, tc->len);
	cr_assert_eq(sfs_content_decrypt(f.c, &f.l, f.id, tc->first, f.data,
					 tc->len, f.slots, f.data, &bad),
		     (ssize_t)tc->len);
	fixture_fini(&f);
}

/* A zero slot with any non-zero data byte: not a hole, not a block. */
AEAD_PARAMS(hole_slot_with_data)
ParameterizedTest(struct aead_param *tc, content, hole_slot_with_data)
{
	struct fixture f;
	uint64_t bad;
	size_t i;

	fixture_init(&f, tc->aead, BS);
	for (i = 0; i < BS; i += i < 64 ? 1 : 97) {
		memset(f.data, 0, BS);
		memset(f.slots, 0, f.sb);
		f.data[i] = (uint8_t)(1u << (i % 8));
		cr_assert_eq(dec(&f, f.id, 8, BS, &bad), -EIO, "byte %zu", i);
		cr_assert_eq(bad, 8);
	}
	memset(f.data, 0, BS);
	f.data[BS - 1] = 0x80;
	cr_assert_eq(dec(&f, f.id, 8, BS, &bad), -EIO);
	/* A short last block too. */
	memset(f.data, 0, BS);
	f.data[9] = 1;
	cr_assert_eq(dec(&f, f.id, 8, 10, &bad), -EIO);
	fixture_fini(&f);
}

/* Zero data with a slot that is not all zero: a zero nonce with a non-zero
 * tag, or a non-zero nonce with a zero tag, is no hole; it fails. */
AEAD_PARAMS(hole_partial_slot)
ParameterizedTest(struct aead_param *tc, content, hole_partial_slot)
{
	struct fixture f;
	uint64_t bad;
	size_t i;

	fixture_init(&f, tc->aead, 2 * BS);
	for (i = 0; i < f.sb; i++) {
		memset(f.data, 0, 2 * BS);
		memset(f.slots, 0, 2 * f.sb);
		f.slots[f.sb + i] = (uint8_t)(0x80u >> (i % 8));
		cr_assert_eq(dec(&f, f.id, 0, 2 * BS, &bad), -EIO,
			     "slot byte %zu (%s)", i,
			     i < f.nl ? "nonce" : "tag");
		cr_assert_eq(bad, 1);
		/* The short last block of a file too. */
		cr_assert_eq(dec(&f, f.id, 0, BS + 1, &bad), -EIO);
		cr_assert_eq(bad, 1);
	}
	fixture_fini(&f);
}

/* Holes between and after real blocks, in a short and in a parallel run. */
AEAD_PARAMS(holes_among_blocks)
ParameterizedTest(struct aead_param *tc, content, holes_among_blocks)
{
	static const struct {
		size_t len;
		size_t holes[6];
		size_t nholes;
	} runs[] = {
	    {4 * BS + 10, {1, 4}, 2},
	    {4 * BS, {0, 2}, 2},
	    {130 * BS + 77, {0, 63, 64, 65, 100, 130}, 6},
	};
	struct fixture f;
	uint8_t *want;
	uint64_t bad;

	fixture_init(&f, tc->aead, 130 * BS + 77);
	want = malloc(f.cap);
	cr_assert_not_null(want);
	for (size_t r = 0; r < sizeof(runs) / sizeof(runs[0]); r++) {
		size_t len = runs[r].len;

		enc(&f, 11, len);
		memcpy(want, f.pt, len);
		for (size_t h = 0; h < runs[r].nholes; h++) {
			size_t k = runs[r].holes[h], n = block_len(len, k);

			memset(f.data + k * BS, 0, n);
			memset(f.slots + k * f.sb, 0, f.sb);
			memset(want + k * BS, 0, n);
		}
		cr_assert_eq(dec(&f, f.id, 11, len, &bad), (ssize_t)len,
			     "run %zu", r);
		cr_assert_eq(memcmp(f.out, want, len), 0, "run %zu", r);
		cr_assert_eq(sfs_content_decrypt(f.c, &f.l, f.id, 11, f.data,
						 len, f.slots, f.data, &bad),
			     (ssize_t)len, "run %zu in place", r);
		cr_assert_eq(memcmp(f.data, want, len), 0, "run %zu", r);
	}
	free(want);
	fixture_fini(&f);
}

/* ---- failures ---- */

/* A bad block after a good one and after a hole: the earlier plaintext
 * must not leak when a later block fails. */
AEAD_PARAMS(failure_wipes_earlier_blocks)
ParameterizedTest(struct aead_param *tc, content, failure_wipes_earlier_blocks)
{
	struct fixture f;
	uint64_t bad;

	fixture_init(&f, tc->aead, 3 * BS);
	enc(&f, 0, 3 * BS);
	memset(f.slots + 2 * f.sb, 0, f.nl);
	cr_assert_eq(dec(&f, f.id, 0, 3 * BS, &bad), -EIO);
	cr_assert_eq(bad, 2);
	cr_assert(sfs_is_zero(f.out, 3 * BS));
	/* Block 1 a hole, block 2 bad. */
	memset(f.slots + f.sb, 0, f.sb);
	memset(f.data + BS, 0, BS);
	cr_assert_eq(dec(&f, f.id, 0, 3 * BS, &bad), -EIO);
	cr_assert_eq(bad, 2);
	fixture_fini(&f);
}

/* Runs opened in parts on several threads: the reported block is the first
 * bad one of the whole run, whichever part failed first, and no part's
 * plaintext survives the failure. */
AEAD_PARAMS(parallel_failure_reports_first_bad_block_and_wipes_all)
ParameterizedTest(struct aead_param *tc, content,
		  parallel_failure_reports_first_bad_block_and_wipes_all)
{
	enum { NB = 256 };
	static const size_t bad_sets[][2] = {
	    {200, 100}, {255, 255}, {0, 0},   {129, 250},
	    {127, 128}, {0, 255},   {64, 63}, {160, 200},
	};
	struct fixture f;
	uint64_t bad;

	fixture_init(&f, tc->aead, NB * BS);
	for (size_t t = 0; t < sizeof(bad_sets) / sizeof(bad_sets[0]); t++) {
		size_t a = bad_sets[t][0], b = bad_sets[t][1];
		uint64_t want = a < b ? a : b;

		enc(&f, 1000, NB * BS);
		/* One in the data, one in the slots. */
		f.data[a * BS + BS / 2] ^= 1;
		f.slots[b * f.sb + f.nl + 1] ^= 2;
		cr_assert_eq(dec(&f, f.id, 1000, NB * BS, &bad), -EIO);
		cr_assert_eq(bad, 1000 + want, "set %zu: bad %llu", t,
			     (unsigned long long)bad);
		cr_assert(sfs_is_zero(f.out, NB * BS), "set %zu", t);
	}
	/* A hole's slot over non-zero data, late in the run. */
	enc(&f, 1000, NB * BS);
	memset(f.slots + 222 * f.sb, 0, f.sb);
	cr_assert_eq(dec(&f, f.id, 1000, NB * BS, &bad), -EIO);
	cr_assert_eq(bad, 1222);
	fixture_fini(&f);
}

Test(content, layout_mismatch_is_a_bug_encrypt, .signal = SIGABRT)
{
	uint8_t vk[SFS_KEY_BYTES] = {1}, id[SFS_FILE_ID_BYTES] = {1};
	uint8_t in[16] = {0}, data[16], slots[40];
	struct sfs_crypto *c = sfs_crypto_new(SFS_AEAD_XCHACHA20POLY1305, vk);
	struct sfs_layout l;

	cr_assert_not_null(c);
	sfs_layout_init(&l, GCM);
	(void)sfs_content_encrypt(c, &l, id, 0, in, sizeof(in), data, slots);
}

Test(content, layout_mismatch_is_a_bug_decrypt, .signal = SIGABRT)
{
	uint8_t vk[SFS_KEY_BYTES] = {1}, id[SFS_FILE_ID_BYTES] = {1};
	uint8_t data[16] = {0}, slots[40] = {0}, out[16];
	struct sfs_crypto *c = sfs_crypto_new(SFS_AEAD_XCHACHA20POLY1305, vk);
	struct sfs_layout l;
	uint64_t bad;

	cr_assert_not_null(c);
	/* A valid layout, just not this cipher's. */
	sfs_layout_init(&l, SFS_TAG_BYTES + 1);
	(void)sfs_content_decrypt(c, &l, id, 0, data, sizeof(data), slots, out,
				  &bad);
}

Test(content, layout_mismatch_is_a_bug_gcm, .signal = SIGABRT)
{
	uint8_t vk[SFS_KEY_BYTES] = {1}, id[SFS_FILE_ID_BYTES] = {1};
	uint8_t data[16] = {0}, slots[40] = {0}, out[16];
	struct sfs_crypto *c;
	struct sfs_layout l;
	uint64_t bad;

	if (!sfs_aead_available(SFS_AEAD_AES256GCM))
		cr_skip_test("AES-256-GCM not available");
	c = sfs_crypto_new(SFS_AEAD_AES256GCM, vk);
	cr_assert_not_null(c);
	sfs_layout_init(&l, XC);
	(void)sfs_content_decrypt(c, &l, id, 0, data, sizeof(data), slots, out,
				  &bad);
}

/* ---- the format, checked against libsodium ---- */

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

/* The per-file key as doc/FORMAT.md defines it, computed with libsodium
 * directly: BLAKE2b-256(key = KDF(vk, 1, "sfs-cont"), msg = file id). */
static void file_key_by_hand(uint8_t key[SFS_KEY_BYTES],
			     const uint8_t vk[SFS_KEY_BYTES],
			     const uint8_t id[SFS_FILE_ID_BYTES])
{
	uint8_t kc[SFS_KEY_BYTES];

	cr_assert_eq(
	    crypto_kdf_derive_from_key(kc, sizeof(kc), 1, "sfs-cont", vk), 0);
	cr_assert_eq(crypto_generichash(key, SFS_KEY_BYTES, id,
					SFS_FILE_ID_BYTES, kc, sizeof(kc)),
		     0);
	sodium_memzero(kc, sizeof(kc));
}

/* AD = file id || BE64(block). */
static void ad_by_hand(uint8_t ad[SFS_FILE_ID_BYTES + 8],
		       const uint8_t id[SFS_FILE_ID_BYTES], uint64_t block)
{
	memcpy(ad, id, SFS_FILE_ID_BYTES);
	put_be64(ad + SFS_FILE_ID_BYTES, block);
}

static void seal_by_hand(enum sfs_aead aead, const uint8_t *key,
			 const uint8_t *nonce, uint8_t *ct, uint8_t *tag,
			 const uint8_t *in, size_t len, const uint8_t *ad)
{
	int rc;

	if (aead == SFS_AEAD_AES256GCM)
		rc = crypto_aead_aes256gcm_encrypt_detached(
		    ct, tag, NULL, in, len, ad, SFS_FILE_ID_BYTES + 8, NULL,
		    nonce, key);
	else
		rc = crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
		    ct, tag, NULL, in, len, ad, SFS_FILE_ID_BYTES + 8, NULL,
		    nonce, key);
	cr_assert_eq(rc, 0);
}

static int open_by_hand(enum sfs_aead aead, const uint8_t *key,
			const uint8_t *nonce, uint8_t *out, const uint8_t *ct,
			size_t len, const uint8_t *tag, const uint8_t *ad)
{
	if (aead == SFS_AEAD_AES256GCM)
		return crypto_aead_aes256gcm_decrypt_detached(
		    out, NULL, ct, len, tag, ad, SFS_FILE_ID_BYTES + 8, nonce,
		    key);
	return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
	    out, NULL, ct, len, tag, ad, SFS_FILE_ID_BYTES + 8, nonce, key);
}

struct kat_case {
	enum sfs_aead aead;
	uint64_t first;
	size_t len;
};

ParameterizedTestParameters(content, known_answer)
{
	static struct kat_case cases[] = {
	    {SFS_AEAD_XCHACHA20POLY1305, 3, 5},
	    {SFS_AEAD_XCHACHA20POLY1305, 99, 2 * BS + 5},
	    /* Pins the byte order of the block number in the AD. */
	    {SFS_AEAD_XCHACHA20POLY1305, 0x0102030405060708ULL, BS},
	    {SFS_AEAD_XCHACHA20POLY1305, 0, 70 * BS + 1},
	    {SFS_AEAD_AES256GCM, 3, 5},
	    {SFS_AEAD_AES256GCM, 143, 2 * BS + 77},
	    {SFS_AEAD_AES256GCM, 0x0102030405060708ULL, BS},
	    {SFS_AEAD_AES256GCM, 0, 70 * BS + 1},
	};

	return cr_make_param_array(struct kat_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

/* Pins the content format (content subkey, per-file key, AD, slot = nonce
 * || tag, data = the detached ciphertext): blocks sealed with libsodium
 * directly under a key derived here must decrypt, and what
 * sfs_content_encrypt writes must open with libsodium directly. */
ParameterizedTest(struct kat_case *tc, content, known_answer)
{
	uint8_t vk[SFS_KEY_BYTES], id[SFS_FILE_ID_BYTES], key[SFS_KEY_BYTES];
	uint8_t ad[SFS_FILE_ID_BYTES + 8];
	size_t nb = nblocks(tc->len), sb, nl, k, i;
	uint8_t *pt, *data, *slots, *out;
	struct sfs_crypto *c;
	struct sfs_layout l;
	uint64_t bad;

	if (!sfs_aead_available(tc->aead))
		cr_skip_test("%s not available", sfs_aead_name(tc->aead));
	memset(vk, 0x42, sizeof(vk));
	for (i = 0; i < sizeof(id); i++)
		id[i] = (uint8_t)(i + 1);
	c = sfs_crypto_new(tc->aead, vk);
	cr_assert_not_null(c);
	sfs_layout_init(&l, sfs_crypto_overhead(c));
	sb = l.slot_bytes;
	nl = sfs_aead_nonce_bytes(tc->aead);
	cr_assert_eq(sb, nl + SFS_TAG_BYTES);
	file_key_by_hand(key, vk, id);
	pt = malloc(tc->len);
	data = malloc(tc->len);
	slots = malloc(nb * sb);
	out = malloc(tc->len);
	cr_assert(pt && data && slots && out);
	fill(pt, tc->len, 77);

	for (k = 0; k < nb; k++) {
		uint8_t *nonce = slots + k * sb;

		for (i = 0; i < nl; i++)
			nonce[i] = (uint8_t)(0xa0 + k + 3 * i);
		ad_by_hand(ad, id, tc->first + k);
		seal_by_hand(tc->aead, key, nonce, data + k * BS, nonce + nl,
			     pt + k * BS, block_len(tc->len, k), ad);
	}
	memset(out, 0xaa, tc->len);
	cr_assert_eq(sfs_content_decrypt(c, &l, id, tc->first, data, tc->len,
					 slots, out, &bad),
		     (ssize_t)tc->len, "%s", sfs_aead_name(tc->aead));
	cr_assert_eq(memcmp(out, pt, tc->len), 0);
	cr_assert_eq(sfs_content_decrypt(c, &l, id, tc->first + 1, data,
					 tc->len, slots, out, &bad),
		     -EIO);
	cr_assert_eq(bad, tc->first + 1);

	cr_assert_eq(
	    sfs_content_encrypt(c, &l, id, tc->first, pt, tc->len, data, slots),
	    (ssize_t)tc->len);
	memset(out, 0xaa, tc->len);
	for (k = 0; k < nb; k++) {
		ad_by_hand(ad, id, tc->first + k);
		cr_assert_eq(open_by_hand(tc->aead, key, slots + k * sb,
					  out + k * BS, data + k * BS,
					  block_len(tc->len, k),
					  slots + k * sb + nl, ad),
			     0, "%s: libsodium cannot open block %zu",
			     sfs_aead_name(tc->aead), k);
	}
	cr_assert_eq(memcmp(out, pt, tc->len), 0);
	sodium_memzero(key, sizeof(key));
	free(pt);
	free(data);
	free(slots);
	free(out);
	sfs_crypto_free(c);
}

static void unhex(uint8_t *out, const char *in)
{
	unsigned v;

	while (*in && sscanf(in, "%2x", &v) == 1) {
		*out++ = (uint8_t)v;
		in += 2;
	}
}

/* The version 1 known-answer blocks: nonce || ciphertext || tag of "hello"
 * as block 3 (volume key 0x42..., file id 01..10; the AES-GCM one was
 * cross-checked with Python's cryptography package). Version 2 keeps the
 * key, AD and AEAD and only moves nonce and tag into the slot: split up,
 * the same bytes must decrypt, and sealing by hand under their nonce must
 * give them back, which checks file_key_by_hand() above. */
Test(content, v1_vectors_split_into_slot_and_data)
{
	static const struct {
		enum sfs_aead aead;
		const char *hex;
	} kat[] = {
	    {SFS_AEAD_XCHACHA20POLY1305,
	     "1fdbbbff5a37524b3607809f947a9e21bd1ce7afef8c0700bda8797307e443"
	     "01d3804b6502ae8fd54e31f83780"},
	    {SFS_AEAD_AES256GCM,
	     "c2b7f9326fa6fea516f54d75564183cbd93423c574fb7b0071a6f228a5765edf"
	     "01"},
	};
	uint8_t vk[SFS_KEY_BYTES], id[SFS_FILE_ID_BYTES], key[SFS_KEY_BYTES];
	uint8_t v1[64], slot[40], data[5], ct[5], tag[16], out[5];
	uint8_t ad[SFS_FILE_ID_BYTES + 8];
	struct sfs_layout l;
	uint64_t bad;
	size_t i;

	memset(vk, 0x42, sizeof(vk));
	for (i = 0; i < sizeof(id); i++)
		id[i] = (uint8_t)(i + 1);
	file_key_by_hand(key, vk, id);
	ad_by_hand(ad, id, 3);
	for (i = 0; i < 2; i++) {
		size_t nl = sfs_aead_nonce_bytes(kat[i].aead);
		struct sfs_crypto *c;

		if (!sfs_aead_available(kat[i].aead))
			continue;
		cr_assert_eq(strlen(kat[i].hex) / 2, nl + 5 + SFS_TAG_BYTES);
		unhex(v1, kat[i].hex);
		memcpy(slot, v1, nl);
		memcpy(data, v1 + nl, 5);
		memcpy(slot + nl, v1 + nl + 5, SFS_TAG_BYTES);

		seal_by_hand(kat[i].aead, key, slot, ct, tag,
			     (const uint8_t *)"hello", 5, ad);
		cr_assert_eq(memcmp(ct, data, 5), 0, "%s",
			     sfs_aead_name(kat[i].aead));
		cr_assert_eq(memcmp(tag, slot + nl, 16), 0, "%s",
			     sfs_aead_name(kat[i].aead));

		c = sfs_crypto_new(kat[i].aead, vk);
		cr_assert_not_null(c);
		sfs_layout_init(&l, sfs_crypto_overhead(c));
		cr_assert_eq(
		    sfs_content_decrypt(c, &l, id, 3, data, 5, slot, out, &bad),
		    5, "%s", sfs_aead_name(kat[i].aead));
		cr_assert_eq(memcmp(out, "hello", 5), 0);
		cr_assert_eq(
		    sfs_content_decrypt(c, &l, id, 2, data, 5, slot, out, &bad),
		    -EIO);
		sfs_crypto_free(c);
	}
	sodium_memzero(key, sizeof(key));
}

/* The AD is exactly file id || big-endian block number: a block sealed by
 * hand with any other AD under the right file key is rejected. */
Test(content, ad_format)
{
	struct fixture f;
	struct sfs_file_key fk;
	uint8_t ad[SFS_FILE_ID_BYTES + 8];
	uint64_t bad;
	int i;

	fixture_init(&f, SFS_AEAD_XCHACHA20POLY1305, BS);
	cr_assert_eq(sfs_file_key_derive(&fk, f.c, f.id), 0);
	memcpy(ad, f.id, SFS_FILE_ID_BYTES);
	memset(ad + SFS_FILE_ID_BYTES, 0, 8);
	ad[SFS_FILE_ID_BYTES + 6] = 0x01; /* block 0x102 */
	ad[SFS_FILE_ID_BYTES + 7] = 0x02;
	cr_assert_eq(
	    sfs_block_seal(&fk, f.data, f.slots, f.pt, 10, ad, sizeof(ad)), 0);
	cr_assert_eq(dec(&f, f.id, 0x102, 10, &bad), 10);
	cr_assert_eq(memcmp(f.out, f.pt, 10), 0);
	/* Little-endian block number. */
	memset(ad + SFS_FILE_ID_BYTES, 0, 8);
	ad[SFS_FILE_ID_BYTES + 0] = 0x02;
	ad[SFS_FILE_ID_BYTES + 1] = 0x01;
	cr_assert_eq(
	    sfs_block_seal(&fk, f.data, f.slots, f.pt, 10, ad, sizeof(ad)), 0);
	cr_assert_eq(dec(&f, f.id, 0x102, 10, &bad), -EIO);
	/* Right block number, file id left out of the AD. */
	for (i = 0; i < 2; i++) {
		memset(ad, i ? 0xff : 0, SFS_FILE_ID_BYTES);
		memset(ad + SFS_FILE_ID_BYTES, 0, 8);
		ad[SFS_FILE_ID_BYTES + 6] = 0x01;
		ad[SFS_FILE_ID_BYTES + 7] = 0x02;
		cr_assert_eq(sfs_block_seal(&fk, f.data, f.slots, f.pt, 10, ad,
					    sizeof(ad)),
			     0);
		cr_assert_eq(dec(&f, f.id, 0x102, 10, &bad), -EIO);
	}
	sfs_file_key_wipe(&fk);
	fixture_fini(&f);
}

/* OpenSSL's allocations, made to fail on demand (AES-GCM's cipher
 * contexts come from it). The hooks must be in before OpenSSL's first
 * allocation, which Criterion's own start-up makes (libgit2 initialises
 * it), hence a constructor. */
static bool openssl_alloc_fails;
static int openssl_hooked;

static void *failing_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return openssl_alloc_fails ? NULL : malloc(n);
}

static void *failing_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return openssl_alloc_fails ? NULL : realloc(p, n);
}

static void plain_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

__attribute__((constructor)) static void hook_openssl_allocs(void)
{
	openssl_hooked = CRYPTO_set_mem_functions(failing_malloc,
						  failing_realloc, plain_free);
}

/* No memory for a cipher context is -ENOMEM, not a failed check: nothing
 * was opened, the output is zeroed, and the blocks open once there is
 * memory again. */
Test(content, no_cipher_context_is_enomem_not_eio)
{
	struct fixture f;
	const size_t len = 64 * BS;
	uint64_t bad = 77;

	cr_assert_eq(openssl_hooked, 1, "OpenSSL allocated before the hook");
	fixture_init(&f, SFS_AEAD_AES256GCM, len);
	enc(&f, 3, len);
	openssl_alloc_fails = true;
	memset(f.out, 0xaa, len);
	cr_assert_eq(sfs_content_decrypt(f.c, &f.l, f.id, 3, f.data, len,
					 f.slots, f.out, &bad),
		     -ENOMEM);
	cr_assert(sfs_is_zero(f.out, len), "output not zeroed");
	cr_assert_eq(
	    sfs_content_encrypt(f.c, &f.l, f.id, 3, f.pt, len, f.out, f.slots),
	    -ENOMEM);
	openssl_alloc_fails = false;
	cr_assert_eq(sfs_content_decrypt(f.c, &f.l, f.id, 3, f.data, len,
					 f.slots, f.out, &bad),
		     (ssize_t)len);
	cr_assert_eq(memcmp(f.out, f.pt, len), 0);
	fixture_fini(&f);
}
