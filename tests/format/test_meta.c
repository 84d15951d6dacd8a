/* test_meta.c - symlink target and xattr set encryption. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfs_meta.h"
#include "sfs_names.h"
#include "util.h"

/* The longest X in "user.X": XATTR_NAME_MAX in all. */
#define XATTR_X_MAX 250U
/* The set's associated data (fs/meta.c, doc/FORMAT.md section 8). */
static const char set_ad[] = "sfs-xattr-set";

static struct sfs_crypto *c;

static void setup(void)
{
	uint8_t vk[SFS_KEY_BYTES];

	cr_assert_eq(sfs_crypto_init(), 0);
	memset(vk, 0x17, sizeof(vk));
	c = sfs_crypto_new(SFS_AEAD_XCHACHA20POLY1305, vk);
	cr_assert_not_null(c);
}

static void teardown(void)
{
	sfs_crypto_free(c);
	c = NULL;
}

TestSuite(symlink, .init = setup, .fini = teardown, .timeout = 30);
TestSuite(xattr, .init = setup, .fini = teardown, .timeout = 30);

/* Fills a target of len bytes with non-zero bytes derived from seed. */
static void make_target(char *out, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		out[i] = (char)((i * 131 + seed * 7) % 255 + 1);
	out[len] = '\0';
}

/* Encrypts and decrypts target, checking the backing form on the way. */
static void symlink_round_trip(const char *target)
{
	char enc[SFS_BACKING_SYMLINK_MAX + 1], back[SFS_SYMLINK_MAX + 1];
	size_t n = strlen(target), elen;

	memset(enc, 'X', sizeof(enc));
	cr_assert_eq(sfs_symlink_encrypt(c, target, enc), 0, "len %zu", n);
	cr_assert_not_null(memchr(enc, '\0', sizeof(enc)));
	elen = strlen(enc);
	/* COBS of the n + 16 sealed bytes: no NUL anywhere before the
	 * terminator, so strlen sees all of it (at least one code byte). */
	cr_assert_geq(elen, n + SFS_SIV_TAG_BYTES + 1, "len %zu", n);
	cr_assert_leq(elen, SFS_BACKING_SYMLINK_MAX);
	cr_assert_eq(sfs_symlink_decrypt(c, enc, elen, back), (ssize_t)n);
	cr_assert_str_eq(back, target);
}

Test(symlink, round_trip_lengths)
{
	static const size_t lens[] = {1,
				      2,
				      100,
				      253,
				      254,
				      255,
				      508,
				      1000,
				      SFS_SYMLINK_INLINE_MAX - 1,
				      SFS_SYMLINK_INLINE_MAX};
	char target[SFS_SYMLINK_MAX + 1];
	size_t i;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		make_target(target, lens[i], (unsigned)i);
		symlink_round_trip(target);
	}
	symlink_round_trip("/");
	symlink_round_trip("../a/b/c");
}

Test(symlink, every_byte_value)
{
	char target[256];
	unsigned b;

	for (b = 1; b <= 255; b++)
		target[b - 1] = (char)b;
	target[255] = '\0';
	symlink_round_trip(target);
}

Test(symlink, max_length_always_fits)
{
	char target[SFS_SYMLINK_MAX + 1];
	unsigned seed;

	/* Whatever the ciphertext bytes, the worst case must fit. */
	for (seed = 0; seed < 200; seed++) {
		make_target(target, SFS_SYMLINK_INLINE_MAX, seed);
		symlink_round_trip(target);
	}
}

Test(symlink, too_long_and_empty)
{
	char target[2 * SFS_SYMLINK_MAX], enc[SFS_BACKING_SYMLINK_MAX + 1];

	make_target(target, SFS_SYMLINK_INLINE_MAX + 1, 1);
	strcpy(enc, "junk");
	cr_assert_eq(sfs_symlink_encrypt(c, target, enc), -ENAMETOOLONG);
	cr_assert_str_empty(enc);
	make_target(target, sizeof(target) - 1, 1);
	cr_assert_eq(sfs_symlink_encrypt(c, target, enc), -ENAMETOOLONG);
	cr_assert_eq(sfs_symlink_encrypt(c, "", enc), -ENOENT);
}

Test(symlink, deterministic_and_distinct)
{
	char a[SFS_BACKING_SYMLINK_MAX + 1], b[SFS_BACKING_SYMLINK_MAX + 1];

	cr_assert_eq(sfs_symlink_encrypt(c, "/tmp/x", a), 0);
	cr_assert_eq(sfs_symlink_encrypt(c, "/tmp/x", b), 0);
	cr_assert_str_eq(a, b);
	cr_assert_eq(sfs_symlink_encrypt(c, "/tmp/y", b), 0);
	cr_assert_str_neq(a, b);
}

Test(symlink, no_plaintext_in_output)
{
	char enc[SFS_BACKING_SYMLINK_MAX + 1];
	char target[SFS_SYMLINK_MAX + 1];

	cr_assert_eq(sfs_symlink_encrypt(c, "/home/CANARY/secret.txt", enc), 0);
	cr_assert_null(strstr(enc, "CANARY"));
	memset(target, 'q', 1000);
	memcpy(target + 500, "CANARY", 6);
	target[1000] = '\0';
	cr_assert_eq(sfs_symlink_encrypt(c, target, enc), 0);
	cr_assert_null(strstr(enc, "CANARY"));
	cr_assert_null(strstr(enc, "qqqq"));
}

Test(symlink, tamper_rejected)
{
	char enc[SFS_BACKING_SYMLINK_MAX + 1], bad[SFS_BACKING_SYMLINK_MAX + 1];
	char target[400], back[SFS_SYMLINK_MAX + 1];
	size_t i, n;

	/* Longer than one COBS group, so code bytes are flipped too. */
	make_target(target, 300, 5);
	cr_assert_eq(sfs_symlink_encrypt(c, target, enc), 0);
	n = strlen(enc);
	for (i = 0; i < n; i++) {
		memcpy(bad, enc, n);
		bad[i] ^= bad[i] == 1 ? 3 : 1;
		strcpy(back, "junk");
		cr_assert_eq(sfs_symlink_decrypt(c, bad, n, back), -EIO,
			     "pos %zu", i);
		cr_assert_str_empty(back);
		/* A zero byte is never valid COBS. */
		bad[i] = '\0';
		cr_assert_eq(sfs_symlink_decrypt(c, bad, n, back), -EIO);
	}
	for (i = 0; i < n; i++)
		cr_assert_eq(sfs_symlink_decrypt(c, enc, i, back), -EIO,
			     "len %zu", i);
	memcpy(bad, enc, n);
	bad[n] = 1; /* an extra empty group */
	cr_assert_eq(sfs_symlink_decrypt(c, bad, n + 1, back), -EIO);
	cr_assert_eq(
	    sfs_symlink_decrypt(c, enc, SFS_BACKING_SYMLINK_MAX + 1, back),
	    -EIO);
	/* Plaintext that never went through encryption. */
	cr_assert_eq(sfs_symlink_decrypt(c, "/etc/passwd", 11, back), -EIO);
	cr_assert_eq(sfs_symlink_decrypt(c, enc, n, back), 300);
}

Test(symlink, malformed_cobs_rejected)
{
	char buf[SFS_BACKING_SYMLINK_MAX + 1], back[SFS_SYMLINK_MAX + 1];

	/* A 0xff group that ends the input has no final group. */
	memset(buf, 'a', sizeof(buf));
	buf[0] = (char)0xff;
	cr_assert_eq(sfs_symlink_decrypt(c, buf, 255, back), -EIO);
	/* A code byte that runs past the end. */
	buf[0] = 40;
	cr_assert_eq(sfs_symlink_decrypt(c, buf, 30, back), -EIO);
	/* Long all-ones input decodes to zeros, which do not authenticate. */
	memset(buf, 1, sizeof(buf));
	cr_assert_eq(sfs_symlink_decrypt(c, buf, 100, back), -EIO);
}

/* What scratchfs-ctl verify asks without a key: encrypted targets have the
 * shape of one; plain targets, bad COBS and too short a seal do not. */
Test(symlink, plausible_shapes)
{
	char target[SFS_SYMLINK_MAX + 1], enc[SFS_BACKING_SYMLINK_MAX + 1];
	const size_t lens[] = {
	    1, 2, 253, 254, 255, 1000, SFS_SYMLINK_INLINE_MAX};

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		make_target(target, lens[i], (unsigned)i);
		cr_assert_eq(sfs_symlink_encrypt(c, target, enc), 0);
		cr_assert(sfs_symlink_plausible(enc, strlen(enc)), "len %zu",
			  lens[i]);
	}
	cr_assert(!sfs_symlink_plausible("/etc/passwd", 11));
	/* COBS of 16 non-zero bytes: a tag with nothing sealed. */
	memset(enc, 'a', sizeof(enc));
	enc[0] = 17;
	cr_assert(!sfs_symlink_plausible(enc, 17));
	enc[0] = 18;
	cr_assert(sfs_symlink_plausible(enc, 18));
	cr_assert(!sfs_symlink_plausible(enc, SFS_BACKING_SYMLINK_MAX + 1));
}

/* Out-of-line targets (FORMAT.md section 7.2): a reference in the backing
 * symlink, the target sealed under its id in a sidecar. */
Test(symlink, reference_round_trip)
{
	uint8_t id[SFS_SYMLINK_ID_BYTES], back[SFS_SYMLINK_ID_BYTES];
	char ref[SFS_SYMLINK_REF_LEN + 1], bad[SFS_SYMLINK_REF_LEN + 2];

	for (unsigned i = 0; i < 64; i++) {
		memset(id, (int)(i * 37), sizeof(id));
		id[i % sizeof(id)] ^= 0x5a;
		memset(ref, 'X', sizeof(ref));
		sfs_symlink_ref(id, ref);
		cr_assert_eq(strlen(ref), SFS_SYMLINK_REF_LEN);
		cr_assert_eq(strncmp(ref, ".sfs.T.", 7), 0);
		cr_assert(sfs_is_b64url(ref + 7));
		cr_assert(sfs_symlink_ref_parse(ref, strlen(ref), back));
		cr_assert_eq(memcmp(back, id, sizeof(id)), 0);
		/* A reference is never an inline target (its first COBS
		 * group would need 45 more bytes). */
		cr_assert(!sfs_symlink_plausible(ref, strlen(ref)));
	}
	sfs_symlink_ref(id, ref);
	/* Cut, lengthened, another prefix, a non-canonical last character
	 * (22 base64url characters carry 4 unused bits), not base64url. */
	cr_assert(!sfs_symlink_ref_parse(ref, SFS_SYMLINK_REF_LEN - 1, back));
	memcpy(bad, ref, SFS_SYMLINK_REF_LEN);
	bad[SFS_SYMLINK_REF_LEN] = 'A';
	cr_assert(!sfs_symlink_ref_parse(bad, SFS_SYMLINK_REF_LEN + 1, back));
	memcpy(bad, ref, SFS_SYMLINK_REF_LEN);
	bad[5] = 'L';
	cr_assert(!sfs_symlink_ref_parse(bad, SFS_SYMLINK_REF_LEN, back));
	memset(id, 0, sizeof(id));
	sfs_symlink_ref(id, ref);
	cr_assert_eq(ref[SFS_SYMLINK_REF_LEN - 1], 'A');
	memcpy(bad, ref, SFS_SYMLINK_REF_LEN);
	bad[SFS_SYMLINK_REF_LEN - 1] = 'B';
	cr_assert(!sfs_symlink_ref_parse(bad, SFS_SYMLINK_REF_LEN, back));
	bad[SFS_SYMLINK_REF_LEN - 1] = '=';
	cr_assert(!sfs_symlink_ref_parse(bad, SFS_SYMLINK_REF_LEN, back));
}

Test(symlink, sidecar_round_trip)
{
	static const size_t lens[] = {1, 100, SFS_SYMLINK_INLINE_MAX,
				      SFS_SYMLINK_INLINE_MAX + 1,
				      SFS_SYMLINK_MAX};
	uint8_t id[SFS_SYMLINK_ID_BYTES], sealed[SFS_SYMLINK_SEALED_MAX];
	char target[SFS_SYMLINK_MAX + 2], back[SFS_SYMLINK_MAX + 1];

	memset(id, 0x42, sizeof(id));
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		make_target(target, lens[i], (unsigned)i);
		cr_assert_eq(sfs_symlink_seal(c, id, target, sealed),
			     (ssize_t)(lens[i] + SFS_SIV_TAG_BYTES));
		cr_assert_eq(sfs_symlink_open(c, id, sealed,
					      lens[i] + SFS_SIV_TAG_BYTES,
					      back),
			     (ssize_t)lens[i]);
		cr_assert_str_eq(back, target);
	}
	make_target(target, SFS_SYMLINK_MAX + 1, 3);
	cr_assert_eq(sfs_symlink_seal(c, id, target, sealed), -ENAMETOOLONG);
	cr_assert_eq(sfs_symlink_seal(c, id, "", sealed), -ENOENT);
}

/* A sidecar opens only under its own id, whole and unmodified, and never
 * as an inline target (nor an inline target's seal as a sidecar). */
Test(symlink, sidecar_tamper_rejected)
{
	uint8_t id[SFS_SYMLINK_ID_BYTES], other[SFS_SYMLINK_ID_BYTES];
	uint8_t sealed[SFS_SYMLINK_SEALED_MAX], bad[SFS_SYMLINK_SEALED_MAX + 1];
	char target[301], back[SFS_SYMLINK_MAX + 1];
	static const uint8_t none[1];
	size_t n = 300 + SFS_SIV_TAG_BYTES;

	memset(id, 0x42, sizeof(id));
	memcpy(other, id, sizeof(id));
	other[15] ^= 1;
	make_target(target, 300, 9);
	cr_assert_eq(sfs_symlink_seal(c, id, target, sealed), (ssize_t)n);
	cr_assert_eq(sfs_symlink_open(c, other, sealed, n, back), -EIO);
	for (size_t i = 0; i < n; i += 7) {
		memcpy(bad, sealed, n);
		bad[i] ^= 0x10;
		strcpy(back, "junk");
		cr_assert_eq(sfs_symlink_open(c, id, bad, n, back), -EIO,
			     "pos %zu", i);
		cr_assert_str_empty(back);
	}
	cr_assert_eq(sfs_symlink_open(c, id, sealed, n - 1, back), -EIO);
	memcpy(bad, sealed, n);
	bad[n] = 'x';
	cr_assert_eq(sfs_symlink_open(c, id, bad, n + 1, back), -EIO);
	cr_assert_eq(sfs_symlink_open(c, id, sealed, SFS_SIV_TAG_BYTES, back),
		     -EIO);
	cr_assert_eq(sfs_symlink_open(c, id, sealed, 0, back), -EIO);
	/* The inline seal of the same target (empty IV) is another tag. */
	cr_assert_eq(sfs_siv_seal(c, SFS_SIV_SYMLINK, bad,
				  (const uint8_t *)target, 300, none, 0),
		     0);
	cr_assert_eq(sfs_symlink_open(c, id, bad, n, back), -EIO);
	/* A NUL inside was never sealed by us. */
	target[7] = '\0';
	cr_assert_eq(sfs_siv_seal(c, SFS_SIV_SYMLINK, bad,
				  (const uint8_t *)target, 300, id, sizeof(id)),
		     0);
	cr_assert_eq(sfs_symlink_open(c, id, bad, n, back), -EIO);
}

/* The test's own COBS encoder (same scheme as meta.c, written from the
 * description there), to hand-craft backing targets. */
static size_t test_cobs(uint8_t *out, const uint8_t *in, size_t m)
{
	size_t code_at = 0, o = 1, i;

	out[0] = 1;
	for (i = 0; i < m; i++) {
		if (in[i] != 0) {
			out[o++] = in[i];
			out[code_at]++;
		}
		if (in[i] == 0 || out[code_at] == 0xff) {
			code_at = o++;
			out[code_at] = 1;
		}
	}
	return o;
}

/* Seals pt as a key holder could and decrypts the COBS form of it. */
static ssize_t decrypt_forged_symlink(const void *pt, size_t len, char *back)
{
	uint8_t sealed[SFS_SIV_TAG_BYTES + 600], enc[700];
	static const uint8_t none[1];
	size_t n;

	cr_assert_leq(len, 600);
	cr_assert_eq(sfs_siv_seal(c, SFS_SIV_SYMLINK, sealed, pt, len, none, 0),
		     0);
	n = test_cobs(enc, sealed, SFS_SIV_TAG_BYTES + len);
	cr_assert_null(memchr(enc, 0, n));
	return sfs_symlink_decrypt(c, (const char *)enc, n, back);
}

Test(symlink, forged_plaintext)
{
	char back[SFS_SYMLINK_MAX + 1];
	uint8_t pt[600];

	memset(pt, 'p', sizeof(pt));
	/* The control: what the test encoder makes is accepted. */
	cr_assert_eq(decrypt_forged_symlink(pt, 10, back), 10);
	cr_assert_eq(decrypt_forged_symlink(pt, 600, back), 600);
	/* A target is a C string: a NUL inside it was never sealed by us. */
	pt[3] = 0;
	strcpy(back, "junk");
	cr_assert_eq(decrypt_forged_symlink(pt, 10, back), -EIO);
	cr_assert_str_empty(back);
	pt[3] = 'p';
	pt[9] = 0;
	cr_assert_eq(decrypt_forged_symlink(pt, 10, back), -EIO);
	/* Nothing at all. */
	cr_assert_eq(decrypt_forged_symlink(pt, 0, back), -EIO);
}

/* -- the xattr set ----------------------------------------------------- */

/* A set buffer (SFS_XATTR_SET_MAX bytes, as the functions require). */
static uint8_t *set_buf(void)
{
	uint8_t *b = calloc(1, SFS_XATTR_SET_MAX);

	cr_assert_not_null(b);
	return b;
}

static size_t add(uint8_t *set, size_t len, const char *name, const void *v,
		  size_t vlen)
{
	ssize_t n = sfs_xattr_set_add(set, len, name, v, vlen);

	cr_assert_gt(n, 0, "add %.20s: %zd", name, n);
	return (size_t)n;
}

static void expect_value(const uint8_t *set, size_t len, const char *name,
			 const void *v, size_t vlen)
{
	const uint8_t *got;
	size_t glen;

	cr_assert_geq(sfs_xattr_set_find(set, len, name, &got, &glen), 0,
		      "%.20s missing", name);
	cr_assert_eq(glen, vlen, "%.20s", name);
	cr_assert_arr_eq(got, v, vlen);
}

/* Seals set and opens it again into a new buffer (freed by the caller). */
static uint8_t *reseal(const uint8_t *set, size_t len)
{
	uint8_t *sealed = set_buf(), *back = set_buf();

	cr_assert_eq(sfs_xattr_set_seal(c, set, len, sealed),
		     (ssize_t)(len + SFS_XATTR_OVERHEAD));
	cr_assert_eq(
	    sfs_xattr_set_open(c, sealed, len + SFS_XATTR_OVERHEAD, back),
	    (ssize_t)len);
	free(sealed);
	return back;
}

Test(xattr, set_round_trip)
{
	static const uint8_t bin[] = {0, 1, 0, 0xff, 'a'};
	char longest[5 + XATTR_X_MAX + 1], every[5 + 255 + 1];
	uint8_t *set = set_buf(), *back, big[3000];
	const uint8_t *v;
	char names[1024];
	size_t vlen;
	size_t len = 0, i;

	memcpy(longest, "user.", 5);
	make_target(longest + 5, XATTR_X_MAX, 3);
	/* Every byte value 1..250 in one name. */
	memcpy(every, "user.", 5);
	for (i = 1; i <= XATTR_X_MAX; i++)
		every[4 + i] = (char)i;
	every[5 + XATTR_X_MAX] = '\0';
	memset(big, 0x5a, sizeof(big));
	len = add(set, len, "user.a", "v1", 2);
	len = add(set, len, "user.empty", "", 0);
	len = add(set, len, "user.bin", bin, sizeof(bin));
	len = add(set, len, longest, "L", 1);
	len = add(set, len, every, "E", 1);
	len = add(set, len, "user.big", big, sizeof(big));
	back = reseal(set, len);
	expect_value(back, len, "user.a", "v1", 2);
	expect_value(back, len, "user.empty", "", 0);
	expect_value(back, len, "user.bin", bin, sizeof(bin));
	expect_value(back, len, longest, "L", 1);
	expect_value(back, len, every, "E", 1);
	expect_value(back, len, "user.big", big, sizeof(big));
	/* Names match whole: neither a prefix nor an extension. */
	cr_assert_eq(sfs_xattr_set_find(back, len, "user.bi", &v, &vlen),
		     -ENODATA);
	cr_assert_eq(sfs_xattr_set_find(back, len, "user.bigg", &v, &vlen),
		     -ENODATA);
	cr_assert_eq(sfs_xattr_set_find(back, len, "trusted.a", &v, &vlen),
		     -ENODATA);
	cr_assert_lt(2 * len, SFS_XATTR_SET_MAX);
	i = sfs_xattr_set_names(back, len, names);
	cr_assert_eq(i, strlen("user.a") + strlen("user.empty") +
			    strlen("user.bin") + 2 * (5 + XATTR_X_MAX) +
			    strlen("user.big") + 6);
	cr_assert_str_eq(names, "user.a");
	cr_assert_str_eq(names + 7, "user.empty");
	cr_assert_str_eq(names + i - 9, "user.big");
	/* The empty set seals too. */
	free(back);
	back = reseal(set, 0);
	cr_assert_eq(sfs_xattr_set_names(back, 0, names), 0);
	free(back);
	free(set);
}

Test(xattr, set_drop)
{
	uint8_t *set = set_buf();
	const uint8_t *v;
	size_t len = 0, vlen;
	long at;

	len = add(set, len, "user.one", "1", 1);
	len = add(set, len, "user.two", "22", 2);
	len = add(set, len, "user.three", "333", 3);
	at = sfs_xattr_set_find(set, len, "user.two", &v, &vlen);
	cr_assert_gt(at, 0);
	len = sfs_xattr_set_drop(set, len, (size_t)at);
	cr_assert_eq(len, 2 * 3 + 3 + 1 + 5 + 3);
	cr_assert_eq(sfs_xattr_set_find(set, len, "user.two", &v, &vlen),
		     -ENODATA);
	expect_value(set, len, "user.one", "1", 1);
	expect_value(set, len, "user.three", "333", 3);
	cr_assert(sfs_is_zero(set + len, SFS_XATTR_SET_MAX - len),
		  "a dropped entry is wiped");
	at = sfs_xattr_set_find(set, len, "user.one", &v, &vlen);
	cr_assert_eq(at, 0);
	len = sfs_xattr_set_drop(set, len, 0);
	len = sfs_xattr_set_drop(set, len, 0);
	cr_assert_eq(len, 0);
	free(set);
}

Test(xattr, set_names_bounded)
{
	char name[5 + XATTR_X_MAX + 2];
	uint8_t *set = set_buf();
	const uint8_t *v;
	size_t vlen;

	cr_assert_eq(sfs_xattr_set_add(set, 0, "user.", "v", 1), -EINVAL);
	cr_assert_eq(sfs_xattr_set_find(set, 0, "user.", &v, &vlen), -EINVAL);
	cr_assert_eq(sfs_xattr_set_add(set, 0, "trusted.x", "v", 1), -EINVAL);
	memcpy(name, "user.", 5);
	make_target(name + 5, XATTR_X_MAX + 1, 4);
	cr_assert_eq(sfs_xattr_set_add(set, 0, name, "v", 1), -ERANGE);
	cr_assert_eq(sfs_xattr_set_find(set, 0, name, &v, &vlen), -ERANGE);
	name[5 + XATTR_X_MAX] = '\0';
	cr_assert_eq(sfs_xattr_set_add(set, 0, name, "v", 1),
		     (ssize_t)(3 + XATTR_X_MAX + 1));
	free(set);
}

/* A set fills exactly one backing attribute value, and no more. */
Test(xattr, set_capacity)
{
	const size_t room = SFS_XATTR_SET_MAX - SFS_XATTR_OVERHEAD;
	uint8_t *set = set_buf(), *val = calloc(1, SFS_XATTR_SET_MAX + 1);
	uint8_t *sealed = set_buf();
	size_t len;

	cr_assert_not_null(val);
	/* One value filling the set: 3 + 1 (name "x") + value. */
	cr_assert_eq(sfs_xattr_set_add(set, 0, "user.x", val, room - 4 + 1),
		     -ENOSPC);
	len = add(set, 0, "user.x", val, room - 4);
	cr_assert_eq(len, room);
	cr_assert_eq(sfs_xattr_set_seal(c, set, len, sealed),
		     (ssize_t)SFS_XATTR_SET_MAX);
	cr_assert_eq(sfs_xattr_set_seal(c, set, len + 1, sealed), -ENOSPC);
	cr_assert_eq(sfs_xattr_set_add(set, len, "user.y", "", 0), -ENOSPC);
	cr_assert_eq(
	    sfs_xattr_set_add(set, 0, "user.x", val, SFS_XATTR_SET_MAX + 1),
	    -ENOSPC);
	free(val);
	free(sealed);
	free(set);
}

Test(xattr, set_tamper_rejected)
{
	uint8_t *set = set_buf(), *sealed = set_buf(), *bad = set_buf();
	uint8_t *back = set_buf(), *other;
	size_t len = 0, n, i;
	uint8_t vk[SFS_KEY_BYTES];
	struct sfs_crypto *c2;

	len = add(set, len, "user.CANARYname", "CANARYvalue", 11);
	len = add(set, len, "user.b", "2", 1);
	n = len + SFS_XATTR_OVERHEAD;
	cr_assert_eq(sfs_xattr_set_seal(c, set, len, sealed), (ssize_t)n);
	cr_assert_null(memmem(sealed, n, "CANARY", 6));
	for (i = 0; i < n; i++) {
		memcpy(bad, sealed, n);
		bad[i] ^= 0x80;
		cr_assert_eq(sfs_xattr_set_open(c, bad, n, back), -EIO,
			     "pos %zu", i);
	}
	for (i = 0; i < n; i++)
		cr_assert_eq(sfs_xattr_set_open(c, sealed, i, back), -EIO,
			     "len %zu", i);
	cr_assert_eq(sfs_xattr_set_open(c, sealed, SFS_XATTR_SET_MAX + 1, back),
		     -EIO);
	/* Randomised: the same set seals differently each time. */
	other = set_buf();
	cr_assert_eq(sfs_xattr_set_seal(c, set, len, other), (ssize_t)n);
	cr_assert_arr_neq(sealed, other, n);
	/* Another volume key. */
	memset(vk, 0x18, sizeof(vk));
	c2 = sfs_crypto_new(SFS_AEAD_XCHACHA20POLY1305, vk);
	cr_assert_not_null(c2);
	cr_assert_eq(sfs_xattr_set_open(c2, sealed, n, back), -EIO);
	sfs_crypto_free(c2);
	/* Another associated data: not a set. */
	cr_assert_eq(sfs_xattr_seal(c, other, set, len, NULL, 0), 0);
	cr_assert_eq(sfs_xattr_set_open(c, other, n, back), -EIO);
	cr_assert_eq(sfs_xattr_seal(c, other, set, len, (const uint8_t *)set_ad,
				    sizeof(set_ad) - 1),
		     0);
	cr_assert_eq(sfs_xattr_set_open(c, other, n, back), (ssize_t)len);
	free(other);
	free(back);
	free(bad);
	free(sealed);
	free(set);
}

/* Seals forged plaintext pt (len bytes) as a set; returns what opening
 * it gives. */
static ssize_t open_forged(const void *pt, size_t len)
{
	uint8_t *sealed = set_buf(), *back = set_buf();
	ssize_t n;

	cr_assert_eq(sfs_xattr_seal(c, sealed, pt, len, (const uint8_t *)set_ad,
				    sizeof(set_ad) - 1),
		     0);
	n = sfs_xattr_set_open(c, sealed, len + SFS_XATTR_OVERHEAD, back);
	if (n < 0)
		cr_assert(sfs_is_zero(back, len), "plaintext left behind");
	free(sealed);
	free(back);
	return n;
}

/* Authentic but malformed plaintexts are refused: only what
 * sfs_xattr_set_add() writes is a set. */
Test(xattr, set_forged_plaintext)
{
	uint8_t pt[300];

	cr_assert_eq(open_forged("\x01\x00\x01"
				 "ab",
				 5),
		     5);
	/* Cut entry header, name or value. */
	cr_assert_eq(open_forged("\x01\x00", 2), -EIO);
	cr_assert_eq(open_forged("\x02\x00\x00"
				 "a",
				 4),
		     -EIO);
	cr_assert_eq(open_forged("\x01\x00\x02"
				 "ab",
				 5),
		     -EIO);
	/* Trailing bytes after a good entry. */
	cr_assert_eq(open_forged("\x01\x00\x01"
				 "ab\x01",
				 6),
		     -EIO);
	/* An empty name, a NUL in a name. */
	cr_assert_eq(open_forged("\x00\x00\x01"
				 "b",
				 4),
		     -EIO);
	cr_assert_eq(open_forged("\x02\x00\x00"
				 "a\0",
				 5),
		     -EIO);
	/* A name longer than any user.* name. */
	memset(pt, 'n', sizeof(pt));
	pt[0] = XATTR_X_MAX + 1;
	pt[1] = pt[2] = 0;
	cr_assert_eq(open_forged(pt, 3 + XATTR_X_MAX + 1), -EIO);
	pt[0] = XATTR_X_MAX;
	cr_assert_eq(open_forged(pt, 3 + XATTR_X_MAX),
		     (ssize_t)(3 + XATTR_X_MAX));
}
