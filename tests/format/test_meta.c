/* test_meta.c - symlink target and xattr name/value encryption. */
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

/* The longest X in "user.X" that still fits once encrypted:
 * 5 + base64url(16 + 171) = 5 + 250 = 255. */
#define XATTR_X_MAX 171U

static struct sfs_crypto *c;
static const uint8_t id_a[SFS_XATTR_ID_BYTES] = {
    0xa0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static const uint8_t id_b[SFS_XATTR_ID_BYTES] = {
    0xb0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

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
				      SFS_SYMLINK_MAX - 1,
				      SFS_SYMLINK_MAX};
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
		make_target(target, SFS_SYMLINK_MAX, seed);
		symlink_round_trip(target);
	}
}

Test(symlink, too_long_and_empty)
{
	char target[2 * SFS_SYMLINK_MAX], enc[SFS_BACKING_SYMLINK_MAX + 1];

	make_target(target, SFS_SYMLINK_MAX + 1, 1);
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
	const size_t lens[] = {1, 2, 253, 254, 255, 1000, SFS_SYMLINK_MAX};

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

/* -- xattr names -------------------------------------------------------- */

static void xname_round_trip(const char *name)
{
	char enc[XATTR_NAME_MAX + 1], back[XATTR_NAME_MAX + 1];

	cr_assert_eq(sfs_xattr_name_encrypt(c, name, enc), 0, "'%.30s'", name);
	cr_assert_leq(strlen(enc), XATTR_NAME_MAX);
	cr_assert_eq(strncmp(enc, "user.", 5), 0);
	cr_assert(sfs_is_b64url(enc + 5), "%s", enc);
	cr_assert_str_neq(enc, name);
	cr_assert_eq(sfs_xattr_name_decrypt(c, enc, back), 0);
	cr_assert_str_eq(back, name);
}

Test(xattr, name_round_trip)
{
	char name[XATTR_NAME_MAX + 1];
	size_t x;
	unsigned b;

	xname_round_trip("user.a");
	xname_round_trip("user.mime_type");
	xname_round_trip("user.user.");
	xname_round_trip("user.sfs.xid");
	for (x = 1; x <= XATTR_X_MAX; x++) {
		memcpy(name, "user.", 5);
		make_target(name + 5, x, (unsigned)x);
		xname_round_trip(name);
	}
	/* Every byte value 1..255, in two names. */
	memcpy(name, "user.", 5);
	for (b = 1; b <= 128; b++)
		name[4 + b] = (char)b;
	name[5 + 128] = '\0';
	xname_round_trip(name);
	for (b = 129; b <= 255; b++)
		name[5 + b - 129] = (char)b;
	name[5 + 127] = '\0';
	xname_round_trip(name);
}

Test(xattr, name_deterministic_no_plaintext)
{
	char a[XATTR_NAME_MAX + 1], b[XATTR_NAME_MAX + 1];

	cr_assert_eq(sfs_xattr_name_encrypt(c, "user.CANARYsecret", a), 0);
	cr_assert_eq(sfs_xattr_name_encrypt(c, "user.CANARYsecret", b), 0);
	cr_assert_str_eq(a, b);
	cr_assert_null(strstr(a, "CANARY"));
	cr_assert_eq(sfs_xattr_name_encrypt(c, "user.CANARYsecreu", b), 0);
	cr_assert_str_neq(a, b);
}

/* What scratchfs-ctl verify asks without a key of a user.* backing name. */
Test(xattr, name_plausible)
{
	char out[XATTR_NAME_MAX + 1];

	cr_assert_eq(sfs_xattr_name_encrypt(c, "user.x", out), 0);
	cr_assert(sfs_xattr_name_plausible(out + 5), "%s", out);
	cr_assert(!sfs_xattr_name_plausible("mime_type"));
	/* base64url of exactly a tag (16 bytes): nothing sealed. */
	cr_assert(!sfs_xattr_name_plausible("AAAAAAAAAAAAAAAAAAAAAA"));
	cr_assert(sfs_xattr_name_plausible("AAAAAAAAAAAAAAAAAAAAAAA"));
}

Test(xattr, name_too_long)
{
	char name[XATTR_NAME_MAX + 2], enc[XATTR_NAME_MAX + 1];

	memcpy(name, "user.", 5);
	make_target(name + 5, XATTR_X_MAX + 1, 2);
	strcpy(enc, "junk");
	cr_assert_eq(sfs_xattr_name_encrypt(c, name, enc), -ERANGE);
	cr_assert_str_empty(enc);
	make_target(name + 5, XATTR_NAME_MAX - 5 + 1, 2);
	cr_assert_eq(sfs_xattr_name_encrypt(c, name, enc), -ERANGE);
	/* Passthrough names are bounded too, both ways. */
	memcpy(name, "trusted.", 8);
	memset(name + 8, 't', XATTR_NAME_MAX + 1 - 8);
	name[XATTR_NAME_MAX + 1] = '\0';
	cr_assert_eq(sfs_xattr_name_encrypt(c, name, enc), -ERANGE);
	cr_assert_eq(sfs_xattr_name_decrypt(c, name, enc), -ERANGE);
	name[XATTR_NAME_MAX] = '\0';
	cr_assert_eq(sfs_xattr_name_encrypt(c, name, enc), 0);
	cr_assert_str_eq(enc, name);
}

Test(xattr, empty_user_name)
{
	char enc[XATTR_NAME_MAX + 1];

	cr_assert_eq(sfs_xattr_name_encrypt(c, "user.", enc), -EINVAL);
	cr_assert_eq(sfs_xattr_name_decrypt(c, "user.", enc), -EIO);
}

/* Parameters are copied into another process: inline arrays, no pointers. */
struct xname {
	char s[32];
};

ParameterizedTestParameters(xattr, passthrough)
{
	static struct xname names[] = {
	    {"security.selinux"},
	    {"security.capability"},
	    {"trusted.overlay.opaque"},
	    {"system.posix_acl_access"},
	    {"system.posix_acl_default"},
	    {"user"},
	    {"User.x"},
	    {""},
	};

	return cr_make_param_array(struct xname, names,
				   sizeof(names) / sizeof(names[0]));
}

ParameterizedTest(struct xname *p, xattr, passthrough)
{
	char enc[XATTR_NAME_MAX + 1], back[XATTR_NAME_MAX + 1];

	cr_assert_eq(sfs_xattr_name_encrypt(c, p->s, enc), 0);
	cr_assert_str_eq(enc, p->s);
	cr_assert_eq(sfs_xattr_name_decrypt(c, p->s, back), 0);
	cr_assert_str_eq(back, p->s);
}

Test(xattr, name_tamper_rejected)
{
	static const char *const bad[] = {
	    "user.sfs.xid", /* SFS_XATTR_ID_NAME: callers hide it */
	    "user.AAAA",
	    "user.A",
	    "user.AAAAAAAAAAAAAAAAAAAAAA",
	    "user.AAAAAAAAAAAAAAAAAAAAAAAA",
	    "user.plain text",
	};
	char enc[XATTR_NAME_MAX + 1], mod[XATTR_NAME_MAX + 1];
	char back[XATTR_NAME_MAX + 1];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strcpy(back, "junk");
		cr_assert_eq(sfs_xattr_name_decrypt(c, bad[i], back), -EIO,
			     "%s", bad[i]);
		cr_assert_str_empty(back);
	}
	cr_assert_eq(sfs_xattr_name_encrypt(c, "user.checksum", enc), 0);
	for (i = 5; i < strlen(enc); i++) {
		strcpy(mod, enc);
		mod[i] = mod[i] == 'A' ? 'B' : 'A';
		cr_assert_eq(sfs_xattr_name_decrypt(c, mod, back), -EIO,
			     "pos %zu", i);
	}
	/* Forged plaintexts with an interior NUL do not decrypt. */
	{
		uint8_t sealed[SFS_SIV_TAG_BYTES + 3];
		static const uint8_t none[1];

		cr_assert_eq(sfs_siv_seal(c, SFS_SIV_XATTR_NAME, sealed,
					  (const uint8_t *)"a\0b", 3, none, 0),
			     0);
		memcpy(mod, "user.", 5);
		sfs_b64_encode(mod + 5, sealed, sizeof(sealed));
		cr_assert_eq(sfs_xattr_name_decrypt(c, mod, back), -EIO);
		cr_assert_eq(sfs_siv_seal(c, SFS_SIV_XATTR_NAME, sealed,
					  (const uint8_t *)"a.b", 3, none, 0),
			     0);
		sfs_b64_encode(mod + 5, sealed, sizeof(sealed));
		cr_assert_eq(sfs_xattr_name_decrypt(c, mod, back), 0);
		cr_assert_str_eq(back, "user.a.b");
	}
	/* A name encrypted as a file name is not an xattr name. */
	{
		static const uint8_t iv[SFS_DIRIV_BYTES];
		struct sfs_ename e;

		cr_assert_eq(sfs_name_encrypt(c, iv, "checksum", &e), 0);
		cr_assert_lt(strlen(e.backing), sizeof(mod) - 5);
		memcpy(mod, "user.", 5);
		strcpy(mod + 5, e.backing);
		cr_assert_eq(sfs_xattr_name_decrypt(c, mod, back), -EIO);
	}
}

/* -- xattr values ------------------------------------------------------- */

static void value_round_trip(size_t len)
{
	uint8_t *in = malloc(len + 1), *out, *back;
	ssize_t sealed;
	size_t i;

	cr_assert_not_null(in);
	out = malloc(len + SFS_XATTR_OVERHEAD);
	back = malloc(len + 1);
	cr_assert_not_null(out);
	cr_assert_not_null(back);
	for (i = 0; i < len; i++)
		in[i] = (uint8_t)(i * 7);
	sealed = sfs_xattr_value_encrypt(c, id_a, "user.abcd", in, len, out);
	cr_assert_eq(sealed, (ssize_t)(len + SFS_XATTR_OVERHEAD));
	cr_assert_eq(sfs_xattr_value_decrypt(c, id_a, "user.abcd", out,
					     (size_t)sealed, back),
		     (ssize_t)len, "len %zu", len);
	cr_assert_arr_eq(back, in, len);
	free(in);
	free(out);
	free(back);
}

Test(xattr, value_round_trip)
{
	static const size_t lens[] = {0, 1, 15, 16, 17, 1000, XATTR_SIZE_MAX};
	size_t i;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		value_round_trip(lens[i]);
}

Test(xattr, value_binding_and_tamper)
{
	static const char val[] = "CANARY value";
	const size_t len = sizeof(val) - 1;
	uint8_t out[64], bad[64], back[64];
	ssize_t n;
	size_t i;

	n = sfs_xattr_value_encrypt(c, id_a, "user.n1", (const uint8_t *)val,
				    len, out);
	cr_assert_eq(n, (ssize_t)(len + SFS_XATTR_OVERHEAD));
	cr_assert_null(memmem(out, (size_t)n, "CANARY", 6));
	cr_assert_eq(
	    sfs_xattr_value_decrypt(c, id_a, "user.n1", out, (size_t)n, back),
	    (ssize_t)len);
	cr_assert_arr_eq(back, val, len);
	/* Bound to the inode id and to the (backing) attribute name. */
	cr_assert_eq(
	    sfs_xattr_value_decrypt(c, id_b, "user.n1", out, (size_t)n, back),
	    -EIO);
	cr_assert_eq(
	    sfs_xattr_value_decrypt(c, id_a, "user.n2", out, (size_t)n, back),
	    -EIO);
	cr_assert_eq(
	    sfs_xattr_value_decrypt(c, id_a, "user.n", out, (size_t)n, back),
	    -EIO);
	cr_assert_eq(sfs_xattr_value_decrypt(c, id_a, "security.n1", out,
					     (size_t)n, back),
		     -EIO);
	for (i = 0; i < (size_t)n; i++) {
		memcpy(bad, out, (size_t)n);
		bad[i] ^= 0x80;
		cr_assert_eq(sfs_xattr_value_decrypt(c, id_a, "user.n1", bad,
						     (size_t)n, back),
			     -EIO, "pos %zu", i);
	}
	for (i = 0; i < (size_t)n; i++)
		cr_assert_eq(
		    sfs_xattr_value_decrypt(c, id_a, "user.n1", out, i, back),
		    -EIO, "len %zu", i);
}

Test(xattr, value_randomised)
{
	uint8_t a[SFS_XATTR_OVERHEAD + 4], b[SFS_XATTR_OVERHEAD + 4];

	cr_assert_eq(sfs_xattr_value_encrypt(c, id_a, "user.x",
					     (const uint8_t *)"abcd", 4, a),
		     (ssize_t)sizeof(a));
	cr_assert_eq(sfs_xattr_value_encrypt(c, id_a, "user.x",
					     (const uint8_t *)"abcd", 4, b),
		     (ssize_t)sizeof(b));
	cr_assert_arr_neq(a, b, sizeof(a));
}

Test(xattr, value_name_too_long)
{
	char name[XATTR_NAME_MAX + 2];
	uint8_t out[SFS_XATTR_OVERHEAD + 1], back[1];

	memset(name, 'u', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	cr_assert_eq(sfs_xattr_value_encrypt(c, id_a, name,
					     (const uint8_t *)"v", 1, out),
		     -ERANGE);
	cr_assert_eq(
	    sfs_xattr_value_decrypt(c, id_a, name, out, sizeof(out), back),
	    -EIO);
}
