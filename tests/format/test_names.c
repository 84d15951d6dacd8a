/* test_names.c - name encryption, base64url, long and reserved names. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "sfs_names.h"
#include "util.h"

/* Names longer than this do not fit SFS_SHORT_NAME_MAX once encoded:
 * base64url(16 + 160) = 235 chars, base64url(16 + 176) = 256 chars. */
#define SHORT_PLAIN_MAX 160U

static struct sfs_crypto *c;
static const uint8_t iv_a[SFS_DIRIV_BYTES] = {1, 2,  3,	 4,  5,	 6,  7,	 8,
					      9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t iv_b[SFS_DIRIV_BYTES] = {1, 2,  3,	 4,  5,	 6,  7,	 8,
					      9, 10, 11, 12, 13, 14, 15, 17};

static void setup(void)
{
	uint8_t vk[SFS_KEY_BYTES];

	cr_assert_eq(sfs_crypto_init(), 0);
	memset(vk, 0x42, sizeof(vk));
	c = sfs_crypto_new(SFS_AEAD_XCHACHA20POLY1305, vk);
	cr_assert_not_null(c);
}

static void teardown(void)
{
	sfs_crypto_free(c);
	c = NULL;
}

TestSuite(names, .init = setup, .fini = teardown, .timeout = 30);
TestSuite(b64, .timeout = 10);
TestSuite(names_pred, .timeout = 10);

/* A name of len bytes using every byte value but NUL and '/' in turn,
 * starting at start; never "." or "..". */
static void make_name(char *out, size_t len, unsigned start)
{
	unsigned b = start;
	size_t i;

	for (i = 0; i < len; i++) {
		do
			b = b % 255 + 1;
		while (b == '/' || (b == '.' && len <= 2));
		out[i] = (char)b;
	}
	out[len] = '\0';
}

/* Encrypts name, checks the backing form, and returns the full encoded name
 * (what sfs_name_decrypt takes). */
static const char *check_encrypt(const char *name, struct sfs_ename *e)
{
	size_t len = strlen(name);

	cr_assert_eq(sfs_name_encrypt(c, iv_a, name, e), 0, "len %zu", len);
	cr_assert_leq(strlen(e->backing), NAME_MAX);
	cr_assert(!sfs_name_is_reserved(e->backing, true) || e->is_long);
	if (len <= SHORT_PLAIN_MAX) {
		cr_assert(!e->is_long, "len %zu", len);
		cr_assert_str_empty(e->full);
		cr_assert(sfs_is_b64url(e->backing));
		cr_assert(!sfs_name_is_long(e->backing));
		return e->backing;
	}
	cr_assert(e->is_long, "len %zu", len);
	cr_assert_gt(strlen(e->full), SFS_SHORT_NAME_MAX);
	cr_assert_lt(strlen(e->full), sizeof(e->full));
	cr_assert(sfs_is_b64url(e->full));
	cr_assert(sfs_name_is_long(e->backing), "%s", e->backing);
	cr_assert(sfs_name_is_reserved(e->backing, false));
	return e->full;
}

Test(names, round_trip_every_length)
{
	char name[NAME_MAX + 1], back[NAME_MAX + 1];
	struct sfs_ename e;
	size_t len;

	for (len = 1; len <= NAME_MAX; len++) {
		make_name(name, len, (unsigned)len * 7);
		cr_assert_eq(strlen(name), len);
		cr_assert_eq(
		    sfs_name_decrypt(c, iv_a, check_encrypt(name, &e), back), 0,
		    "len %zu", len);
		cr_assert_str_eq(back, name, "len %zu", len);
	}
}

Test(names, every_byte_value)
{
	char name[NAME_MAX + 1], back[NAME_MAX + 1];
	struct sfs_ename e;
	size_t n = 0;
	unsigned b;

	for (b = 1; b <= 255; b++)
		if (b != '/')
			name[n++] = (char)b;
	name[n] = '\0';
	cr_assert_eq(n, 254);
	cr_assert_eq(sfs_name_decrypt(c, iv_a, check_encrypt(name, &e), back),
		     0);
	cr_assert_str_eq(back, name);
	/* And the high bytes alone, in a short name. */
	cr_assert_eq(
	    sfs_name_decrypt(c, iv_a, check_encrypt(name + 150, &e), back), 0);
	cr_assert_str_eq(back, name + 150);
}

Test(names, short_long_boundary)
{
	char name[NAME_MAX + 1];
	struct sfs_ename e;
	char side[NAME_MAX + 1];

	make_name(name, SHORT_PLAIN_MAX, 0);
	cr_assert_eq(sfs_name_encrypt(c, iv_a, name, &e), 0);
	cr_assert(!e.is_long);
	cr_assert_eq(strlen(e.backing), sfs_b64_len(16 + SHORT_PLAIN_MAX));

	make_name(name, SHORT_PLAIN_MAX + 1, 0);
	cr_assert_eq(sfs_name_encrypt(c, iv_a, name, &e), 0);
	cr_assert(e.is_long);
	cr_assert_eq(strlen(e.full), sfs_b64_len(16 + SHORT_PLAIN_MAX + 16));

	make_name(name, NAME_MAX, 0);
	cr_assert_eq(sfs_name_encrypt(c, iv_a, name, &e), 0);
	cr_assert(e.is_long);
	cr_assert_eq(strlen(e.full), sfs_b64_len(16 + 256));
	sfs_name_sidecar(e.backing, side);
	cr_assert_leq(strlen(side), NAME_MAX);
	cr_assert_eq(strncmp(side, e.backing, strlen(e.backing)), 0);
	cr_assert_str_eq(side + strlen(e.backing), SFS_LONGNAME_SUFFIX);
	cr_assert(!sfs_name_is_long(side));
	cr_assert(sfs_name_is_reserved(side, false));
	/* The hashed backing name is not an encrypted name. */
	cr_assert_eq(sfs_name_decrypt(c, iv_a, e.backing, name), -EIO);
}

/* What scratchfs-ctl verify asks without a key: every encrypted name has
 * the shape of one, short names only the short shape, long ones only the
 * sidecar shape; anything else has neither. */
Test(names, plausible_shapes)
{
	char name[NAME_MAX + 1];
	struct sfs_ename e;
	const char *enc;

	cr_assert_eq(SFS_ENCODED_NAME_MAX, 363);
	for (size_t len = 1; len <= NAME_MAX; len++) {
		make_name(name, len, (unsigned)len);
		enc = check_encrypt(name, &e);
		cr_assert(sfs_name_plausible(enc, strlen(enc), e.is_long),
			  "len %zu", len);
		cr_assert(!sfs_name_plausible(enc, strlen(enc), !e.is_long),
			  "len %zu", len);
		cr_assert_leq(strlen(enc), SFS_ENCODED_NAME_MAX);
	}
	/* Not base64url; a sealed size off the pad grid (16 + 17 bytes). */
	cr_assert(!sfs_name_plausible("a.b", 3, false));
	enc = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	cr_assert(!sfs_name_plausible(enc, strlen(enc), false));
	cr_assert(!sfs_name_plausible(enc, strlen(enc), true));
	/* 32 zero bytes: the right size for a short name. */
	enc = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	cr_assert(sfs_name_plausible(enc, 43, false));
	cr_assert(!sfs_name_plausible(enc, 42, false));
}

Test(names, padding_blurs_length)
{
	struct sfs_ename a, b;

	cr_assert_eq(sfs_name_encrypt(c, iv_a, "x", &a), 0);
	cr_assert_eq(sfs_name_encrypt(c, iv_a, "sixteen-byte-nam", &b), 0);
	cr_assert_eq(strlen(a.backing), strlen(b.backing));
	cr_assert_eq(sfs_name_encrypt(c, iv_a, "seventeen-byte-na", &b), 0);
	cr_assert_gt(strlen(b.backing), strlen(a.backing));
}

Test(names, deterministic_per_iv)
{
	struct sfs_ename a, b;
	char name[NAME_MAX + 1];
	size_t len;

	for (len = 1; len <= NAME_MAX; len += 37) {
		make_name(name, len, 3);
		cr_assert_eq(sfs_name_encrypt(c, iv_a, name, &a), 0);
		cr_assert_eq(sfs_name_encrypt(c, iv_a, name, &b), 0);
		cr_assert_str_eq(a.backing, b.backing);
		cr_assert_str_eq(a.full, b.full);
		cr_assert_eq(sfs_name_encrypt(c, iv_b, name, &b), 0);
		cr_assert_str_neq(a.backing, b.backing);
	}
	/* Same padded length, different names. */
	cr_assert_eq(sfs_name_encrypt(c, iv_a, "a", &a), 0);
	cr_assert_eq(sfs_name_encrypt(c, iv_a, "b", &b), 0);
	cr_assert_str_neq(a.backing, b.backing);
}

Test(names, no_plaintext_in_output)
{
	static const char canary[] = "CANARYsecret";
	const size_t clen = sizeof(canary) - 1;
	char name[NAME_MAX + 1];
	struct sfs_ename e;
	size_t len;

	for (len = clen; len <= NAME_MAX; len += 13) {
		memset(name, 'z', len);
		memcpy(name + (len - clen) / 2, canary, clen);
		name[len] = '\0';
		cr_assert_eq(sfs_name_encrypt(c, iv_a, name, &e), 0);
		cr_assert_null(strstr(e.backing, "CANARY"));
		cr_assert_null(strstr(e.full, "CANARY"));
		cr_assert_null(strstr(e.backing, "zzzz"));
	}
}

/* Parameters are copied into another process: inline arrays, no pointers. */
struct bad_name {
	char name[8];
	bool too_long;
	int err;
};

ParameterizedTestParameters(names, invalid_names)
{
	static struct bad_name p[] = {
	    {"", false, -EINVAL},     {".", false, -EINVAL},
	    {"..", false, -EINVAL},   {"/", false, -EINVAL},
	    {"a/b", false, -EINVAL},  {"abc/", false, -EINVAL},
	    {"/abc", false, -EINVAL}, {"", true, -ENAMETOOLONG},
	};

	return cr_make_param_array(struct bad_name, p,
				   sizeof(p) / sizeof(p[0]));
}

ParameterizedTest(struct bad_name *p, names, invalid_names)
{
	char too_long[NAME_MAX + 2];
	const char *name = p->name;
	struct sfs_ename e;

	if (p->too_long) {
		memset(too_long, 'a', NAME_MAX + 1);
		too_long[NAME_MAX + 1] = '\0';
		name = too_long;
	}
	memset(&e, 'X', sizeof(e));
	cr_assert_eq(sfs_name_encrypt(c, iv_a, name, &e), p->err, "'%.20s'",
		     name);
	cr_assert_str_empty(e.backing);
	cr_assert(!e.is_long);
}

Test(names, valid_dot_names)
{
	static const char *const ok[] = {"...",	   ".a", "a.", "..a",
					 ".sfs.x", " ",	 "\n", "\xff"};
	char back[NAME_MAX + 1];
	struct sfs_ename e;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_assert_eq(sfs_name_encrypt(c, iv_a, ok[i], &e), 0);
		/* Looks reserved, but is encrypted like any other name. */
		cr_assert(!sfs_name_is_reserved(e.backing, true));
		cr_assert_eq(sfs_name_decrypt(c, iv_a, e.backing, back), 0);
		cr_assert_str_eq(back, ok[i]);
	}
}

/* Replaces the character at i by another base64url character. */
static void flip_char(char *s, size_t i)
{
	s[i] = s[i] == 'A' ? 'B' : 'A';
}

Test(names, tamper_rejected)
{
	char name[NAME_MAX + 1], back[NAME_MAX + 1], enc[512];
	struct sfs_ename e;
	size_t i, n;

	make_name(name, 40, 9);
	cr_assert_eq(sfs_name_encrypt(c, iv_a, name, &e), 0);
	n = strlen(e.backing);
	for (i = 0; i < n; i++) {
		strcpy(enc, e.backing);
		flip_char(enc, i);
		strcpy(back, "junk");
		cr_assert_eq(sfs_name_decrypt(c, iv_a, enc, back), -EIO,
			     "pos %zu", i);
		cr_assert_str_empty(back);
	}
	for (i = 0; i < n; i++) {
		strcpy(enc, e.backing);
		enc[i] = '\0';
		cr_assert_eq(sfs_name_decrypt(c, iv_a, enc, back), -EIO,
			     "len %zu", i);
	}
	/* One extra block of valid base64url. */
	strcpy(enc, e.backing);
	strcat(enc, "AAAAAAAAAAAAAAAAAAAAAA");
	cr_assert_eq(sfs_name_decrypt(c, iv_a, enc, back), -EIO);
	cr_assert_eq(sfs_name_decrypt(c, iv_b, e.backing, back), -EIO);
	cr_assert_eq(sfs_name_decrypt(c, iv_a, e.backing, back), 0);
	cr_assert_str_eq(back, name);

	/* Long form: flip in the full name. */
	make_name(name, NAME_MAX, 1);
	cr_assert_eq(sfs_name_encrypt(c, iv_a, name, &e), 0);
	cr_assert(e.is_long);
	for (i = 0; i < strlen(e.full); i += 11) {
		strcpy(enc, e.full);
		flip_char(enc, i);
		cr_assert_eq(sfs_name_decrypt(c, iv_a, enc, back), -EIO);
	}
	cr_assert_eq(sfs_name_decrypt(c, iv_b, e.full, back), -EIO);
}

Test(names, garbage_rejected)
{
	static const char *const bad[] = {
	    "",
	    "A",
	    "AAAA",
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 32 bytes */
	    ".sfs.diriv",
	    "AAAAAAAAAAAAAAAAAAAAAA==",
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+A",
	};
	char back[NAME_MAX + 1], huge[2048];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(sfs_name_decrypt(c, iv_a, bad[i], back), -EIO,
			     "'%s'", bad[i]);
	memset(huge, 'A', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	cr_assert_eq(sfs_name_decrypt(c, iv_a, huge, back), -EIO);
}

/* Seals padded plaintext directly, as a key holder could, to check that
 * decrypt accepts only what sfs_name_encrypt produces. */
static int decrypt_forged(const void *pt, size_t len, char *back)
{
	uint8_t sealed[16 + 272];
	char enc[512];

	cr_assert_leq(len, 272);
	cr_assert_eq(sfs_siv_seal(c, SFS_SIV_NAME, sealed, pt, len, iv_a,
				  SFS_DIRIV_BYTES),
		     0);
	sfs_b64_encode(enc, sealed, 16 + len);
	return sfs_name_decrypt(c, iv_a, enc, back);
}

Test(names, non_canonical_plaintext_rejected)
{
	uint8_t pt[272];
	char back[NAME_MAX + 1];

	memset(pt, 0, sizeof(pt));
	memcpy(pt, "abc", 3);
	cr_assert_eq(decrypt_forged(pt, 16, back), 0); /* the control */
	cr_assert_str_eq(back, "abc");
	cr_assert_eq(decrypt_forged(pt, 32, back), -EIO); /* extra pad block */
	pt[5] = 'x';
	cr_assert_eq(decrypt_forged(pt, 16, back), -EIO); /* interior NUL */
	memset(pt, 0, sizeof(pt));
	cr_assert_eq(decrypt_forged(pt, 16, back), -EIO); /* empty */
	memcpy(pt, "a/b", 3);
	cr_assert_eq(decrypt_forged(pt, 16, back), -EIO);
	memset(pt, 0, sizeof(pt));
	pt[0] = '.';
	cr_assert_eq(decrypt_forged(pt, 16, back), -EIO);
	pt[1] = '.';
	cr_assert_eq(decrypt_forged(pt, 16, back), -EIO);
	pt[2] = '.';
	cr_assert_eq(decrypt_forged(pt, 16, back), 0);
	cr_assert_str_eq(back, "...");
	memset(pt, 'a', sizeof(pt));
	cr_assert_eq(decrypt_forged(pt, 256, back), -EIO); /* 256 bytes */
	cr_assert_eq(decrypt_forged(pt, 17, back), -EIO);  /* not a block */
}

/* -- base64url ---------------------------------------------------------- */

struct b64_vec {
	char raw[8];
	size_t raw_len;
	char enc[12];
};

ParameterizedTestParameters(b64, vectors)
{
	/* RFC 4648 section 10, without padding, plus url-alphabet cases. */
	static struct b64_vec v[] = {
	    {"", 0, ""},
	    {"f", 1, "Zg"},
	    {"fo", 2, "Zm8"},
	    {"foo", 3, "Zm9v"},
	    {"foob", 4, "Zm9vYg"},
	    {"fooba", 5, "Zm9vYmE"},
	    {"foobar", 6, "Zm9vYmFy"},
	    {"\xfb\xff\xbf", 3, "-_-_"},
	    {"\xfb\xff", 2, "-_8"},
	    {"\xff", 1, "_w"},
	    {"\x00\x00\x00", 3, "AAAA"},
	    {"\x03\xef\xff", 3, "A-__"},
	};

	return cr_make_param_array(struct b64_vec, v, sizeof(v) / sizeof(v[0]));
}

ParameterizedTest(struct b64_vec *v, b64, vectors)
{
	char enc[32];
	uint8_t raw[32];

	cr_assert_eq(sfs_b64_len(v->raw_len), strlen(v->enc));
	cr_assert_eq(sfs_b64_encode(enc, (const uint8_t *)v->raw, v->raw_len),
		     strlen(v->enc));
	cr_assert_str_eq(enc, v->enc);
	cr_assert_eq(sfs_b64_decode(raw, v->enc, strlen(v->enc)),
		     (long)v->raw_len);
	cr_assert_arr_eq(raw, v->raw, v->raw_len);
}

struct b64_bad {
	char s[8];
};

ParameterizedTestParameters(b64, invalid)
{
	static struct b64_bad bad[] = {
	    {"Z"},	  /* n % 4 == 1 */
	    {"Zm9vY"},	  /* n % 4 == 1 */
	    {"A"},	  /* n % 4 == 1, zero bits */
	    {"AAAAA"},	  /* n % 4 == 1, zero bits */
	    {"Zg=="},	  /* padding */
	    {"Zm8="},	  /* padding */
	    {"Zh"},	  /* non-zero trailing bits */
	    {"Zm9"},	  /* non-zero trailing bits */
	    {"_x"},	  /* non-zero trailing bits */
	    {"Zm+v"},	  /* standard alphabet */
	    {"Zm/v"},	  /* standard alphabet */
	    {"Zm9v\n"},	  /* whitespace */
	    {"Zm 9v"},	  /* whitespace */
	    {"Zm.v"},	  /* not in the alphabet */
	    {"Zm9v\x80"}, /* not ASCII */
	};

	return cr_make_param_array(struct b64_bad, bad,
				   sizeof(bad) / sizeof(bad[0]));
}

ParameterizedTest(struct b64_bad *p, b64, invalid)
{
	uint8_t raw[16];

	cr_assert_eq(sfs_b64_decode(raw, p->s, strlen(p->s)), -1, "'%s'", p->s);
}

Test(b64, round_trip_all_lengths)
{
	uint8_t raw[300], back[300];
	char enc[401];
	size_t n, i;

	for (n = 0; n <= sizeof(raw); n++) {
		for (i = 0; i < n; i++)
			raw[i] = (uint8_t)(i * 151 + n);
		cr_assert_eq(sfs_b64_encode(enc, raw, n), sfs_b64_len(n));
		cr_assert_eq(strlen(enc), sfs_b64_len(n));
		cr_assert_eq(sfs_b64_decode(back, enc, strlen(enc)), (long)n);
		cr_assert_arr_eq(back, raw, n);
		/* The decoder's documented buffer bound holds. */
		cr_assert_leq(n, strlen(enc) * 3 / 4);
	}
}

/* -- predicates --------------------------------------------------------- */

struct pred {
	char name[64];
	bool in_root;
	bool reserved;
	bool is_long;
};

#define H43 "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"

ParameterizedTestParameters(names_pred, table)
{
	static struct pred p[] = {
	    {".sfs.diriv", false, true, false},
	    {".sfs.diriv", true, true, false},
	    {".sfs.", false, true, false},
	    {".sfs.anything", false, true, false},
	    {".sfs.L." H43, false, true, true},
	    {".sfs.L." H43 ".name", false, true, false},
	    {".sfs.L." H43 "H", false, true, false},
	    {".sfs.L.0123456789abcdefghijklmnopqrstuvwxyzABCDEF", false, true,
	     false},
	    {".sfs.L.0123456789abcdefghijklmnopqrstuvwxyzABCD.FG", false, true,
	     false},
	    {".sfs.L.0123456789abcdefghijklmnopqrstuvwxyzABCD=FG", false, true,
	     false},
	    {".sfs.l." H43, false, true, false},
	    {".scratchfs", true, true, false},
	    {".scratchfs", false, false, false},
	    {".scratchfsx", true, false, false},
	    {".sfs", true, false, false},
	    {".SFS.diriv", true, false, false},
	    {"sfs.diriv", true, false, false},
	    {"abcdefghijklmnopqrstuvwxyzAB", true, false, false},
	    {".", true, false, false},
	    {"..", true, false, false},
	    {"", true, false, false},
	};

	return cr_make_param_array(struct pred, p, sizeof(p) / sizeof(p[0]));
}

ParameterizedTest(struct pred *p, names_pred, table)
{
	cr_assert_eq(sfs_name_is_reserved(p->name, p->in_root), p->reserved,
		     "'%s' root=%d", p->name, p->in_root);
	cr_assert_eq(sfs_name_is_long(p->name), p->is_long, "'%s'", p->name);
}

Test(names_pred, sidecar_name)
{
	char out[NAME_MAX + 1];

	sfs_name_sidecar(".sfs.L." H43, out);
	cr_assert_str_eq(out, ".sfs.L." H43 ".name");
}

Test(names_pred, sidecar_of_short_name_is_a_bug, .signal = SIGABRT)
{
	char out[NAME_MAX + 1];

	sfs_name_sidecar("abcdefghijklmnopqrstuvwxyzAB", out);
}
