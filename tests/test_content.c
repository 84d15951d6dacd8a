/* test_content.c - unit tests for fs/content.c (layout, header, blocks). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfs_content.h"

#define BS SFS_BLOCK_SIZE
#define HDR SFS_FILE_HEADER_BYTES

static void setup(void)
{
	cr_assert_eq(sfs_crypto_init(), 0);
}

TestSuite(content, .init = setup, .timeout = 10);

static void fill(uint8_t *p, size_t len, uint8_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 13 + (i >> 8));
}

/* ---- offset and size math ---- */

struct size_case {
	size_t overhead;
	uint64_t cipher;
	int rc;
	uint64_t plain;
	/* The pair is canonical: cipher_size(plain) == cipher. */
	bool canonical;
};

#define XC 40U	/* XChaCha20-Poly1305: 24-byte nonce + tag */
#define GCM 28U /* AES-256-GCM: 12-byte nonce + tag */
#define CBS(ov) (BS + (ov))

ParameterizedTestParameters(content, sizes)
{
	static struct size_case cases[] = {
	    /* Empty file: no header. */
	    {XC, 0, 0, 0, true},
	    {XC, HDR + 1 + XC, 0, 1, true},
	    {XC, HDR + 4095 + XC, 0, 4095, true},
	    {XC, HDR + CBS(XC), 0, 4096, true},
	    {XC, HDR + CBS(XC) + 1 + XC, 0, 4097, true},
	    {XC, HDR + 2 * CBS(XC), 0, 2 * BS, true},
	    {XC, HDR + 1000 * CBS(XC) + 7 + XC, 0, 1000 * BS + 7, true},
	    {XC, HDR + (1ULL << 28) * CBS(XC), 0, 1ULL << 40, true},
	    {XC, HDR + (1ULL << 40) * CBS(XC) + 5 + XC, 0, (1ULL << 52) + 5,
	     true},
	    {GCM, HDR + 1 + GCM, 0, 1, true},
	    {GCM, HDR + 4095 + GCM, 0, 4095, true},
	    {GCM, HDR + CBS(GCM), 0, 4096, true},
	    {GCM, HDR + CBS(GCM) + 1 + GCM, 0, 4097, true},
	    {GCM, HDR + 77 * CBS(GCM), 0, 77 * BS, true},
	    /* Header only: a file that was created but never written. */
	    {XC, HDR, 0, 0, false},
	    {GCM, HDR, 0, 0, false},
	    /* Inside the header. */
	    {XC, 1, -EIO, 0, false},
	    {XC, HDR - 1, -EIO, 0, false},
	    /* A last block with no room for a payload byte. */
	    {XC, HDR + 1, -EIO, 0, false},
	    {XC, HDR + XC, -EIO, 0, false},
	    {GCM, HDR + GCM, -EIO, 0, false},
	    {XC, HDR + CBS(XC) + 1, -EIO, BS, false},
	    {XC, HDR + CBS(XC) + XC, -EIO, BS, false},
	    {XC, HDR + 9 * CBS(XC) + XC, -EIO, 9 * BS, false},
	    {GCM, HDR + 3 * CBS(GCM) + GCM, -EIO, 3 * BS, false},
	    /* One past each limit is fine again. */
	    {GCM, HDR + 3 * CBS(GCM) + GCM + 1, 0, 3 * BS + 1, true},
	};

	return cr_make_param_array(struct size_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct size_case *tc, content, sizes)
{
	struct sfs_layout l;
	uint64_t plain = 12345;

	sfs_layout_init(&l, tc->overhead);
	cr_assert_eq(sfs_plain_size(&l, tc->cipher, &plain), tc->rc,
		     "cipher size %llu", (unsigned long long)tc->cipher);
	cr_assert_eq(plain, tc->plain, "cipher size %llu: plain %llu",
		     (unsigned long long)tc->cipher, (unsigned long long)plain);
	if (tc->canonical)
		cr_assert_eq(sfs_cipher_size(&l, tc->plain), tc->cipher,
			     "plain size %llu", (unsigned long long)tc->plain);
}

Test(content, size_round_trip_sweep)
{
	static const size_t ovs[] = {XC, GCM};
	struct sfs_layout l;
	uint64_t p, back;
	size_t i;

	for (i = 0; i < 2; i++) {
		sfs_layout_init(&l, ovs[i]);
		cr_assert_eq(l.overhead, ovs[i]);
		cr_assert_eq(l.cipher_bs, BS + ovs[i]);
		for (p = 0; p <= 3 * BS + 1; p++) {
			uint64_t c = sfs_cipher_size(&l, p);

			cr_assert_eq(sfs_plain_size(&l, c, &back), 0);
			cr_assert_eq(back, p, "plain %llu",
				     (unsigned long long)p);
			if (p)
				cr_assert_eq(c, HDR + sfs_content_cipher_len(
							  &l, (size_t)p));
		}
	}
}

Test(content, offsets)
{
	struct sfs_layout l;

	sfs_layout_init(&l, XC);
	cr_assert_eq(sfs_cipher_off(&l, 0), HDR);
	cr_assert_eq(sfs_cipher_off(&l, 1), HDR + CBS(XC));
	cr_assert_eq(sfs_cipher_off(&l, 1000), HDR + 1000ULL * CBS(XC));
	cr_assert_eq(sfs_cipher_off(&l, 1ULL << 40),
		     HDR + (1ULL << 40) * CBS(XC));
	/* Block n starts right after the cipher size of n full blocks. */
	cr_assert_eq(sfs_cipher_off(&l, 5), sfs_cipher_size(&l, 5 * BS));
	sfs_layout_init(&l, GCM);
	cr_assert_eq(sfs_cipher_off(&l, 3), HDR + 3 * CBS(GCM));
}

Test(content, cipher_len)
{
	struct sfs_layout l;

	sfs_layout_init(&l, XC);
	cr_assert_eq(sfs_content_cipher_len(&l, 0), 0);
	cr_assert_eq(sfs_content_cipher_len(&l, 1), 1 + XC);
	cr_assert_eq(sfs_content_cipher_len(&l, BS - 1), BS - 1 + XC);
	cr_assert_eq(sfs_content_cipher_len(&l, BS), CBS(XC));
	cr_assert_eq(sfs_content_cipher_len(&l, BS + 1), CBS(XC) + 1 + XC);
	cr_assert_eq(sfs_content_cipher_len(&l, 256 * BS), 256 * CBS(XC));
}

Test(content, zero_overhead_is_a_bug, .signal = SIGABRT)
{
	struct sfs_layout l;

	sfs_layout_init(&l, 0);
}

/* ---- file header ---- */

Test(content, header)
{
	uint8_t hdr[HDR], hdr2[HDR], id[SFS_FILE_ID_BYTES];
	uint8_t id2[SFS_FILE_ID_BYTES], got[SFS_FILE_ID_BYTES];

	sfs_header_new(hdr, id);
	cr_assert_eq(hdr[0], 0);
	cr_assert_eq(hdr[1], SFS_FILE_HEADER_VERSION);
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
	    {0, 1, false, 0},	 {0, 0, false, -EIO}, {0, 2, false, -EIO},
	    {1, 0, false, -EIO}, {1, 1, false, -EIO}, {0xff, 0xff, false, -EIO},
	    {0, 1, true, -EIO},	 {0, 0, true, -EIO},
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
	cr_assert_eq(sfs_header_parse(hdr, id), tc->rc, "version %02x%02x",
		     tc->v0, tc->v1);
	if (tc->rc == 0)
		cr_assert_eq(memcmp(id, hdr + 2, sizeof(id)), 0);
}

Test(content, header_one_nonzero_id_byte_is_enough)
{
	uint8_t hdr[HDR] = {0, 1}, id[SFS_FILE_ID_BYTES];

	hdr[HDR - 1] = 1;
	cr_assert_eq(sfs_header_parse(hdr, id), 0);
}

/* ---- block encryption ---- */

struct fixture {
	struct sfs_crypto *c;
	struct sfs_layout l;
	uint8_t id[SFS_FILE_ID_BYTES];
	uint8_t *pt, *ct, *out;
	size_t cap;
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
	sfs_header_new(hdr, f->id);
	f->cap = cap;
	f->pt = malloc(cap);
	f->ct = malloc(sfs_content_cipher_len(&f->l, cap) + 1);
	f->out = malloc(cap + 1);
	cr_assert(f->pt && f->ct && f->out);
	fill(f->pt, cap, 42);
}

static void fixture_fini(struct fixture *f)
{
	free(f->pt);
	free(f->ct);
	free(f->out);
	sfs_crypto_free(f->c);
}

static ssize_t enc(struct fixture *f, uint64_t first, size_t len)
{
	ssize_t n =
	    sfs_content_encrypt(f->c, &f->l, f->id, first, f->pt, len, f->ct);

	cr_assert_eq(n, (ssize_t)sfs_content_cipher_len(&f->l, len),
		     "encrypt %zu bytes", len);
	return n;
}

/* Decrypts ct into a 0xAA-filled out; checks that a failure zeroes it. */
static ssize_t dec(struct fixture *f, const uint8_t *id, uint64_t first,
		   size_t clen, uint64_t *bad)
{
	ssize_t n;

	memset(f->out, 0xaa, f->cap);
	*bad = 999999;
	n = sfs_content_decrypt(f->c, &f->l, id, first, f->ct, clen, f->out,
				bad);
	if (n < 0) {
		size_t want = clen / f->l.cipher_bs * BS;
		size_t rem = clen % f->l.cipher_bs;

		if (rem > f->l.overhead)
			want += rem - f->l.overhead;
		cr_assert(sfs_is_zero(f->out, want), "output not zeroed");
	}
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
	    {SFS_AEAD_XCHACHA20POLY1305, 64 * 4096, 1ULL << 40},
	    {SFS_AEAD_AES256GCM, 1, 0},
	    {SFS_AEAD_AES256GCM, 4095, 3},
	    {SFS_AEAD_AES256GCM, 4096, 0},
	    {SFS_AEAD_AES256GCM, 4097, 0},
	    {SFS_AEAD_AES256GCM, 64 * 4096 + 100, 9},
	    /* Long runs are sealed in parts on several threads. */
	    {SFS_AEAD_AES256GCM, 256 * 4096, 0},
	    {SFS_AEAD_XCHACHA20POLY1305, 255 * 4096 + 4095, 3},
	};

	return cr_make_param_array(struct rt_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct rt_case *tc, content, round_trip)
{
	struct fixture f;
	uint64_t bad;
	ssize_t clen;

	fixture_init(&f, tc->aead, tc->len);
	clen = enc(&f, tc->first, tc->len);
	cr_assert_eq(dec(&f, f.id, tc->first, (size_t)clen, &bad),
		     (ssize_t)tc->len);
	cr_assert_eq(memcmp(f.out, f.pt, tc->len), 0);
	/* Each block has its own nonce: no block starts with a zero one. */
	cr_assert(!sfs_is_zero(f.ct, f.l.overhead - SFS_TAG_BYTES));
	/* Plaintext does not show through. */
	if (tc->len >= 64)
		cr_assert_neq(
		    memcmp(f.ct + f.l.overhead - SFS_TAG_BYTES, f.pt, 64), 0);
	fixture_fini(&f);
}

Test(content, empty)
{
	struct fixture f;
	uint64_t bad = 7;

	fixture_init(&f, SFS_AEAD_XCHACHA20POLY1305, 16);
	cr_assert_eq(sfs_content_encrypt(f.c, &f.l, f.id, 0, f.pt, 0, f.ct), 0);
	cr_assert_eq(
	    sfs_content_decrypt(f.c, &f.l, f.id, 0, f.ct, 0, f.out, &bad), 0);
	cr_assert_eq(bad, 7);
	fixture_fini(&f);
}

Test(content, fresh_nonces)
{
	struct fixture f;
	uint8_t *first;
	size_t clen;

	fixture_init(&f, SFS_AEAD_XCHACHA20POLY1305, 2 * BS);
	clen = (size_t)enc(&f, 0, 2 * BS);
	first = malloc(clen);
	cr_assert_not_null(first);
	memcpy(first, f.ct, clen);
	enc(&f, 0, 2 * BS);
	cr_assert_neq(memcmp(first, f.ct, f.l.cipher_bs), 0);
	cr_assert_neq(
	    memcmp(first + f.l.cipher_bs, f.ct + f.l.cipher_bs, f.l.cipher_bs),
	    0);
	free(first);
	fixture_fini(&f);
}

/* Tampering of every kind, each a case on a 3-block run starting at block
 * 5: the read must fail with -EIO, name the right block, zero the output. */
enum tamper {
	T_NONCE,
	T_CT_FIRST,
	T_CT_LAST,
	T_TAG,
	T_WRONG_FIRST_BLOCK,
	T_WRONG_ID,
	T_SWAP,
	T_MOVED_FROM_OTHER_FILE,
	T_TRUNCATE_ONE,
	T_TRUNCATE_TO_OVERHEAD,
	T_ZERO_NONCE,
	T_ZERO_NONCE_AND_CT,
	T_OTHER_VOLUME,
};

struct tamper_case {
	enum tamper what;
	uint64_t bad_block;
};

ParameterizedTestParameters(content, tamper)
{
	static struct tamper_case cases[] = {
	    {T_NONCE, 6},
	    {T_CT_FIRST, 6},
	    {T_CT_LAST, 7},
	    {T_TAG, 5},
	    {T_WRONG_FIRST_BLOCK, 4},
	    {T_WRONG_ID, 5},
	    {T_SWAP, 5},
	    {T_MOVED_FROM_OTHER_FILE, 6},
	    {T_TRUNCATE_ONE, 7},
	    {T_TRUNCATE_TO_OVERHEAD, 7},
	    {T_ZERO_NONCE, 6},
	    {T_ZERO_NONCE_AND_CT, 6},
	    {T_OTHER_VOLUME, 5},
	};

	return cr_make_param_array(struct tamper_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

static void tamper_one(const struct tamper_case *tc, enum sfs_aead aead)
{
	enum { LEN = 2 * BS + 300 };
	struct fixture f;
	uint8_t id[SFS_FILE_ID_BYTES];
	size_t cbs, ov, nl, clen;
	uint64_t first = 5, bad;
	uint8_t *blk1, *tmp;

	fixture_init(&f, aead, LEN);
	cbs = f.l.cipher_bs;
	ov = f.l.overhead;
	nl = ov - SFS_TAG_BYTES;
	clen = (size_t)enc(&f, first, LEN);
	memcpy(id, f.id, sizeof(id));
	blk1 = f.ct + cbs;
	/* Sanity: untouched, it decrypts. */
	cr_assert_eq(dec(&f, id, first, clen, &bad), LEN);

	switch (tc->what) {
	case T_NONCE:
		blk1[nl - 1] ^= 0x01;
		break;
	case T_CT_FIRST:
		blk1[nl] ^= 0x80;
		break;
	case T_CT_LAST:
		f.ct[clen - SFS_TAG_BYTES - 1] ^= 0x01;
		break;
	case T_TAG:
		f.ct[cbs - 1] ^= 0x40;
		break;
	case T_WRONG_FIRST_BLOCK:
		first = 4;
		break;
	case T_WRONG_ID:
		id[0] ^= 1;
		break;
	case T_SWAP:
		tmp = malloc(cbs);
		cr_assert_not_null(tmp);
		memcpy(tmp, f.ct, cbs);
		memcpy(f.ct, blk1, cbs);
		memcpy(blk1, tmp, cbs);
		free(tmp);
		break;
	case T_MOVED_FROM_OTHER_FILE: {
		/* Same volume, same block number, other file. */
		uint8_t hdr[HDR], *other = malloc(clen);

		cr_assert_not_null(other);
		sfs_header_new(hdr, id);
		cr_assert_eq(
		    sfs_content_encrypt(f.c, &f.l, id, first, f.pt, LEN, other),
		    (ssize_t)clen);
		memcpy(blk1, other + cbs, cbs);
		memcpy(id, f.id, sizeof(id));
		free(other);
		break;
	}
	case T_TRUNCATE_ONE:
		clen--;
		break;
	case T_TRUNCATE_TO_OVERHEAD:
		clen = 2 * cbs + ov;
		break;
	case T_ZERO_NONCE:
		memset(blk1, 0, nl);
		break;
	case T_ZERO_NONCE_AND_CT:
		/* Looks like a hole except for the last tag byte. */
		memset(blk1, 0, cbs - 1);
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
	cr_assert_eq(dec(&f, id, first, clen, &bad), -EIO, "%s: tamper %d",
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

Test(content, bad_block_may_be_null)
{
	struct fixture f;
	ssize_t clen;

	fixture_init(&f, SFS_AEAD_XCHACHA20POLY1305, 100);
	clen = enc(&f, 0, 100);
	f.ct[50] ^= 1;
	cr_assert_eq(sfs_content_decrypt(f.c, &f.l, f.id, 0, f.ct, (size_t)clen,
					 f.out, NULL),
		     -EIO);
	fixture_fini(&f);
}

/* ---- holes ---- */

struct hole_case {
	enum sfs_aead aead;
	size_t hole_len; /* stored length of the zero block */
	ssize_t rc;
};

ParameterizedTestParameters(content, hole)
{
	static struct hole_case cases[] = {
	    {SFS_AEAD_XCHACHA20POLY1305, BS + 40, BS},
	    {SFS_AEAD_XCHACHA20POLY1305, 1 + 40, 1},
	    {SFS_AEAD_XCHACHA20POLY1305, 100 + 40, 100},
	    {SFS_AEAD_XCHACHA20POLY1305, 40, -EIO},
	    {SFS_AEAD_XCHACHA20POLY1305, 1, -EIO},
	    {SFS_AEAD_AES256GCM, BS + 28, BS},
	    {SFS_AEAD_AES256GCM, 1 + 28, 1},
	    {SFS_AEAD_AES256GCM, 28, -EIO},
	};

	return cr_make_param_array(struct hole_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct hole_case *tc, content, hole)
{
	struct fixture f;
	uint64_t bad;

	fixture_init(&f, tc->aead, BS);
	memset(f.ct, 0, tc->hole_len);
	cr_assert_eq(dec(&f, f.id, 3, tc->hole_len, &bad), tc->rc);
	if (tc->rc >= 0)
		cr_assert(sfs_is_zero(f.out, (size_t)tc->rc));
	else
		cr_assert_eq(bad, 3);
	fixture_fini(&f);
}

/* A hole between two real blocks, and one at the end of a run. */
Test(content, hole_among_blocks)
{
	struct fixture f;
	uint8_t *want;
	uint64_t bad;
	size_t cbs, len = 3 * BS + 10;
	ssize_t clen;

	fixture_init(&f, SFS_AEAD_XCHACHA20POLY1305, len);
	cbs = f.l.cipher_bs;
	clen = enc(&f, 0, len);
	memset(f.ct + cbs, 0, cbs);
	memset(f.ct + 3 * cbs, 0, (size_t)clen - 3 * cbs);
	want = malloc(len);
	cr_assert_not_null(want);
	memcpy(want, f.pt, len);
	memset(want + BS, 0, BS);
	memset(want + 3 * BS, 0, 10);
	cr_assert_eq(dec(&f, f.id, 0, (size_t)clen, &bad), (ssize_t)len);
	cr_assert_eq(memcmp(f.out, want, len), 0);
	free(want);
	fixture_fini(&f);
}

/* Zero nonce but any non-zero byte after it: not a hole, not a block. */
Test(content, partial_zero_block_every_position)
{
	struct fixture f;
	uint64_t bad;
	size_t cbs, i;

	fixture_init(&f, SFS_AEAD_XCHACHA20POLY1305, BS);
	cbs = f.l.cipher_bs;
	for (i = f.l.overhead - SFS_TAG_BYTES; i < cbs; i += 97) {
		memset(f.ct, 0, cbs);
		f.ct[i] = 1;
		cr_assert_eq(dec(&f, f.id, 0, cbs, &bad), -EIO, "byte %zu", i);
		cr_assert_eq(bad, 0);
	}
	memset(f.ct, 0, cbs);
	f.ct[cbs - 1] = 0x80;
	cr_assert_eq(dec(&f, f.id, 0, cbs, &bad), -EIO);
	fixture_fini(&f);
}

/* A zero block after a good one: the good one's plaintext must not leak
 * when a later block fails. */
Test(content, failure_wipes_earlier_blocks)
{
	struct fixture f;
	uint64_t bad;
	size_t cbs;

	fixture_init(&f, SFS_AEAD_AES256GCM, 2 * BS);
	cbs = f.l.cipher_bs;
	enc(&f, 0, 2 * BS);
	memset(f.ct + cbs, 0, f.l.overhead - SFS_TAG_BYTES);
	cr_assert_eq(dec(&f, f.id, 0, 2 * cbs, &bad), -EIO);
	cr_assert_eq(bad, 1);
	cr_assert(sfs_is_zero(f.out, 2 * BS));
	fixture_fini(&f);
}

/* Runs opened in parts on several threads: the reported block is the first
 * bad one of the whole run, whichever part failed first, and no part's
 * plaintext survives the failure. */
Test(content, parallel_failure_reports_first_bad_block_and_wipes_all)
{
	enum { NB = 256 };
	static const uint64_t bad_sets[][2] = {{200, 100}, {255, 255}, {0, 0},
					       {129, 250}};
	struct fixture f;
	uint64_t bad;
	size_t cbs;

	fixture_init(&f, SFS_AEAD_AES256GCM, NB * BS);
	cbs = f.l.cipher_bs;
	for (size_t t = 0; t < sizeof(bad_sets) / sizeof(bad_sets[0]); t++) {
		uint64_t want = bad_sets[t][0] < bad_sets[t][1]
				    ? bad_sets[t][0]
				    : bad_sets[t][1];

		enc(&f, 0, NB * BS);
		f.ct[bad_sets[t][0] * cbs + cbs / 2] ^= 1;
		f.ct[bad_sets[t][1] * cbs + cbs / 3] ^= 2;
		memset(f.out, 0xaa, NB * BS);
		cr_assert_eq(dec(&f, f.id, 0, NB * cbs, &bad), -EIO);
		cr_assert_eq(bad, want, "set %zu: bad %llu", t,
			     (unsigned long long)bad);
		cr_assert(sfs_is_zero(f.out, NB * BS), "set %zu", t);
	}
	fixture_fini(&f);
}

static void unhex(uint8_t *out, const char *in)
{
	unsigned v;

	while (*in && sscanf(in, "%2x", &v) == 1) {
		*out++ = (uint8_t)v;
		in += 2;
	}
}

/* Pins the content format (content subkey, per-file key, AD, layout): a
 * block written by this version must stay readable. The AES-GCM vector was
 * cross-checked with Python's cryptography package. */
Test(content, known_answer)
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
	uint8_t vk[SFS_KEY_BYTES], id[SFS_FILE_ID_BYTES], ct[64], out[64];
	struct sfs_layout l;
	uint64_t bad;
	size_t i, n;

	memset(vk, 0x42, sizeof(vk));
	for (i = 0; i < sizeof(id); i++)
		id[i] = (uint8_t)(i + 1);
	for (i = 0; i < 2; i++) {
		struct sfs_crypto *c;

		if (!sfs_aead_available(kat[i].aead))
			continue;
		c = sfs_crypto_new(kat[i].aead, vk);
		cr_assert_not_null(c);
		sfs_layout_init(&l, sfs_crypto_overhead(c));
		n = strlen(kat[i].hex) / 2;
		unhex(ct, kat[i].hex);
		cr_assert_eq(
		    sfs_content_decrypt(c, &l, id, 3, ct, n, out, &bad), 5,
		    "%s", sfs_aead_name(kat[i].aead));
		cr_assert_eq(memcmp(out, "hello", 5), 0);
		cr_assert_eq(
		    sfs_content_decrypt(c, &l, id, 2, ct, n, out, &bad), -EIO);
		sfs_crypto_free(c);
	}
}

/* The AD is exactly file id || big-endian block number: a block sealed by
 * hand with any other AD under the right file key is rejected. */
Test(content, ad_format)
{
	struct fixture f;
	struct sfs_file_key fk;
	uint8_t ad[SFS_FILE_ID_BYTES + 8];
	uint64_t bad;
	size_t n = 10 + SFS_TAG_BYTES + 24;
	int i;

	fixture_init(&f, SFS_AEAD_XCHACHA20POLY1305, BS);
	sfs_file_key_derive(&fk, f.c, f.id);
	memcpy(ad, f.id, SFS_FILE_ID_BYTES);
	memset(ad + SFS_FILE_ID_BYTES, 0, 8);
	ad[SFS_FILE_ID_BYTES + 6] = 0x01; /* block 0x102 */
	ad[SFS_FILE_ID_BYTES + 7] = 0x02;
	cr_assert_eq(sfs_block_seal(&fk, f.ct, f.pt, 10, ad, sizeof(ad)), 0);
	cr_assert_eq(dec(&f, f.id, 0x102, n, &bad), 10);
	cr_assert_eq(memcmp(f.out, f.pt, 10), 0);
	/* Little-endian block number. */
	memset(ad + SFS_FILE_ID_BYTES, 0, 8);
	ad[SFS_FILE_ID_BYTES + 0] = 0x02;
	ad[SFS_FILE_ID_BYTES + 1] = 0x01;
	cr_assert_eq(sfs_block_seal(&fk, f.ct, f.pt, 10, ad, sizeof(ad)), 0);
	cr_assert_eq(dec(&f, f.id, 0x102, n, &bad), -EIO);
	/* Right block number, file id left out of the AD. */
	for (i = 0; i < 2; i++) {
		memset(ad, i ? 0xff : 0, SFS_FILE_ID_BYTES);
		memset(ad + SFS_FILE_ID_BYTES, 0, 8);
		ad[SFS_FILE_ID_BYTES + 6] = 0x01;
		ad[SFS_FILE_ID_BYTES + 7] = 0x02;
		cr_assert_eq(
		    sfs_block_seal(&fk, f.ct, f.pt, 10, ad, sizeof(ad)), 0);
		cr_assert_eq(dec(&f, f.id, 0x102, n, &bad), -EIO);
	}
	sfs_file_key_wipe(&fk);
	fixture_fini(&f);
}

Test(content, layout_mismatch_is_a_bug, .signal = SIGABRT)
{
	uint8_t vk[SFS_KEY_BYTES] = {1}, id[SFS_FILE_ID_BYTES] = {1};
	uint8_t in[16] = {0}, out[16 + 40];
	struct sfs_crypto *c = sfs_crypto_new(SFS_AEAD_XCHACHA20POLY1305, vk);
	struct sfs_layout l;

	cr_assert_not_null(c);
	sfs_layout_init(&l, GCM);
	(void)sfs_content_encrypt(c, &l, id, 0, in, sizeof(in), out);
}
