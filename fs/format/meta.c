/* meta.c - encryption of symlink targets and user.* xattr names and values. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "sfs_meta.h"
#include "sfs_names.h"

/*
 * Symlink size budget. A target of n bytes is sealed to m = n + 16 bytes
 * (SIV tag || ciphertext), which may contain any byte, and then COBS-encoded.
 * Our COBS appends a virtual zero to its input and cuts it into groups of up
 * to 254 non-zero bytes, each preceded by one code byte: code c < 0xff means
 * c - 1 data bytes then a zero (the last group's zero is the virtual one),
 * 0xff means 254 data bytes and no zero. The worst case (no zero at all)
 * needs floor(m / 254) full 0xff groups plus one final group, so
 *
 *	encoded(m) <= m + floor(m / 254) + 1.
 *
 * For n = 4062: m = 4078, 4078 + 16 + 1 = 4095 = SFS_BACKING_SYMLINK_MAX.
 * For n = 4063: m = 4079, 4079 + 16 + 1 = 4096, which may not fit. So 4062
 * is the exact maximum that always fits, whatever the ciphertext bytes are.
 */
#define COBS_MAX(m) ((m) + (m) / 254 + 1)
#define SYMLINK_SEALED_MAX (SFS_SYMLINK_MAX + SFS_SIV_TAG_BYTES)

_Static_assert(COBS_MAX(SYMLINK_SEALED_MAX) <= SFS_BACKING_SYMLINK_MAX,
	       "every target up to SFS_SYMLINK_MAX must fit");
_Static_assert(COBS_MAX(SYMLINK_SEALED_MAX + 1) > SFS_BACKING_SYMLINK_MAX,
	       "SFS_SYMLINK_MAX must be the exact maximum");

#define XATTR_USER_PREFIX "user."
#define XATTR_USER_PREFIX_LEN (sizeof(XATTR_USER_PREFIX) - 1)
/* The longest X whose "user." + base64url(SIV(X)) fits XATTR_NAME_MAX is
 * 171 bytes; buffers here are sized by the input bound instead. */
#define XATTR_SEALED_MAX (XATTR_NAME_MAX + SFS_SIV_TAG_BYTES)

/* An empty associated data for SIV purposes that take no IV; a valid
 * pointer so that the crypto layer never sees NULL. */
static const uint8_t no_iv[1];

/* Encodes m bytes of in into out (COBS_MAX(m) bytes); returns the length. */
static size_t cobs_encode(uint8_t *out, const uint8_t *in, size_t m)
{
	size_t code_at = 0, o = 1, i;
	uint8_t code = 1;

	for (i = 0; i < m; i++) {
		if (in[i] == 0) {
			out[code_at] = code;
			code_at = o++;
			code = 1;
			continue;
		}
		out[o++] = in[i];
		if (++code == 0xff) {
			out[code_at] = code;
			code_at = o++;
			code = 1;
		}
	}
	/* The final group ends at the virtual zero. */
	out[code_at] = code;
	return o;
}

/* Strict inverse of cobs_encode: n bytes of in into out (room for n bytes).
 * Returns the decoded length, or -1 for anything cobs_encode cannot emit. */
static long cobs_decode(uint8_t *out, const uint8_t *in, size_t n)
{
	size_t i = 0, o = 0;

	while (i < n) {
		uint8_t code = in[i++];
		size_t k;

		if (code == 0 || (size_t)(code - 1) > n - i)
			return -1;
		for (k = 1; k < code; k++) {
			if (in[i] == 0)
				return -1;
			out[o++] = in[i++];
		}
		if (code == 0xff)
			continue;
		if (i == n)
			return (long)o; /* the virtual zero */
		out[o++] = 0;
	}
	/* Input ended after a 0xff group, or was empty: no final group. */
	return -1;
}

int sfs_symlink_encrypt(const struct sfs_crypto *c, const char *target,
			char *out)
{
	uint8_t sealed[SYMLINK_SEALED_MAX];
	size_t n = strnlen(target, SFS_SYMLINK_MAX + 1);
	size_t o;

	out[0] = '\0';
	/* symlink(2) itself fails with ENOENT for an empty target. */
	if (n == 0)
		return -ENOENT;
	if (n > SFS_SYMLINK_MAX)
		return -ENAMETOOLONG;
	if (sfs_siv_seal(c, SFS_SIV_SYMLINK, sealed, (const uint8_t *)target, n,
			 no_iv, 0))
		return -EIO;
	o = cobs_encode((uint8_t *)out, sealed, n + SFS_SIV_TAG_BYTES);
	out[o] = '\0';
	return 0;
}

/* The sealed length that a backing symlink target of len bytes decodes to
 * into sealed (SFS_BACKING_SYMLINK_MAX bytes), or -1 when no encrypted
 * target has that form. */
static long symlink_sealed(uint8_t *sealed, const char *in, size_t len)
{
	long m;

	if (len > SFS_BACKING_SYMLINK_MAX)
		return -1;
	m = cobs_decode(sealed, (const uint8_t *)in, len);
	if (m <= (long)SFS_SIV_TAG_BYTES || m > (long)SYMLINK_SEALED_MAX)
		return -1;
	return m;
}

bool sfs_symlink_plausible(const char *in, size_t len)
{
	uint8_t sealed[SFS_BACKING_SYMLINK_MAX];

	return symlink_sealed(sealed, in, len) > 0;
}

ssize_t sfs_symlink_decrypt(const struct sfs_crypto *c, const char *in,
			    size_t len, char *out)
{
	uint8_t sealed[SFS_BACKING_SYMLINK_MAX];
	long m;
	size_t n;

	out[0] = '\0';
	m = symlink_sealed(sealed, in, len);
	if (m < 0)
		return -EIO;
	n = (size_t)m - SFS_SIV_TAG_BYTES;
	if (sfs_siv_open(c, SFS_SIV_SYMLINK, (uint8_t *)out, sealed, (size_t)m,
			 no_iv, 0))
		return -EIO;
	/* Only a C string was ever sealed. */
	if (memchr(out, '\0', n)) {
		sfs_wipe(out, n);
		return -EIO;
	}
	out[n] = '\0';
	return (ssize_t)n;
}

static bool is_user_name(const char *name)
{
	return strncmp(name, XATTR_USER_PREFIX, XATTR_USER_PREFIX_LEN) == 0;
}

/* Bounds name and copies it to out when it is not user.*: only those are
 * encrypted. 1 when copied, 0 for a user.* name (its length in *len), or
 * -ERANGE. */
static int copy_unless_user(const char *name, char *out, size_t *len)
{
	*len = strnlen(name, XATTR_NAME_MAX + 1);
	out[0] = '\0';
	if (*len > XATTR_NAME_MAX)
		return -ERANGE;
	if (is_user_name(name))
		return 0;
	memcpy(out, name, *len + 1);
	return 1;
}

int sfs_xattr_name_encrypt(const struct sfs_crypto *c, const char *name,
			   char *out)
{
	uint8_t sealed[XATTR_SEALED_MAX];
	size_t len, x;
	int rc = copy_unless_user(name, out, &len);

	if (rc)
		return rc < 0 ? rc : 0;
	x = len - XATTR_USER_PREFIX_LEN;
	if (x == 0)
		return -EINVAL;
	if (XATTR_USER_PREFIX_LEN + sfs_b64_len(x + SFS_SIV_TAG_BYTES) >
	    XATTR_NAME_MAX)
		return -ERANGE;
	if (sfs_siv_seal(c, SFS_SIV_XATTR_NAME, sealed,
			 (const uint8_t *)name + XATTR_USER_PREFIX_LEN, x,
			 no_iv, 0))
		return -EIO;
	memcpy(out, XATTR_USER_PREFIX, XATTR_USER_PREFIX_LEN);
	sfs_b64_encode(out + XATTR_USER_PREFIX_LEN, sealed,
		       x + SFS_SIV_TAG_BYTES);
	return 0;
}

bool sfs_xattr_name_plausible(const char *enc)
{
	uint8_t sealed[XATTR_SEALED_MAX];
	size_t max = sfs_b64_len(sizeof(sealed)), n = strnlen(enc, max + 1);

	return n <= max && sfs_b64_decode(sealed, enc, n) > SFS_SIV_TAG_BYTES;
}

int sfs_xattr_name_decrypt(const struct sfs_crypto *c, const char *backing,
			   char *out)
{
	uint8_t sealed[XATTR_SEALED_MAX];
	size_t len, x;
	long m;
	int rc = copy_unless_user(backing, out, &len);

	if (rc)
		return rc < 0 ? rc : 0;
	m = sfs_b64_decode(sealed, backing + XATTR_USER_PREFIX_LEN,
			   len - XATTR_USER_PREFIX_LEN);
	if (m <= (long)SFS_SIV_TAG_BYTES)
		return -EIO;
	x = (size_t)m - SFS_SIV_TAG_BYTES;
	/* x < len, so "user." + x + NUL fits out. */
	if (sfs_siv_open(c, SFS_SIV_XATTR_NAME,
			 (uint8_t *)out + XATTR_USER_PREFIX_LEN, sealed,
			 (size_t)m, no_iv, 0))
		goto fail;
	if (memchr(out + XATTR_USER_PREFIX_LEN, '\0', x)) {
		sfs_wipe(out + XATTR_USER_PREFIX_LEN, x);
		goto fail;
	}
	memcpy(out, XATTR_USER_PREFIX, XATTR_USER_PREFIX_LEN);
	out[XATTR_USER_PREFIX_LEN + x] = '\0';
	return 0;
fail:
	out[0] = '\0';
	return -EIO;
}

/* AD = id || backing name, binding a value to its inode and its name. */
static int value_ad(uint8_t *ad, const uint8_t id[SFS_XATTR_ID_BYTES],
		    const char *backing_name, size_t *ad_len)
{
	size_t n = strnlen(backing_name, XATTR_NAME_MAX + 1);

	if (n > XATTR_NAME_MAX)
		return -ERANGE;
	memcpy(ad, id, SFS_XATTR_ID_BYTES);
	memcpy(ad + SFS_XATTR_ID_BYTES, backing_name, n);
	*ad_len = SFS_XATTR_ID_BYTES + n;
	return 0;
}

ssize_t sfs_xattr_value_encrypt(const struct sfs_crypto *c,
				const uint8_t id[SFS_XATTR_ID_BYTES],
				const char *backing_name, const uint8_t *in,
				size_t len, uint8_t *out)
{
	uint8_t ad[SFS_XATTR_ID_BYTES + XATTR_NAME_MAX];
	size_t ad_len;
	int rc;

	if (len > SSIZE_MAX - SFS_XATTR_OVERHEAD)
		return -E2BIG;
	rc = value_ad(ad, id, backing_name, &ad_len);
	if (rc)
		return rc;
	if (sfs_xattr_seal(c, out, in, len, ad, ad_len))
		return -EIO;
	return (ssize_t)(len + SFS_XATTR_OVERHEAD);
}

ssize_t sfs_xattr_value_decrypt(const struct sfs_crypto *c,
				const uint8_t id[SFS_XATTR_ID_BYTES],
				const char *backing_name, const uint8_t *in,
				size_t len, uint8_t *out)
{
	uint8_t ad[SFS_XATTR_ID_BYTES + XATTR_NAME_MAX];
	size_t ad_len;

	if (len < SFS_XATTR_OVERHEAD || len > SSIZE_MAX)
		return -EIO;
	if (value_ad(ad, id, backing_name, &ad_len))
		return -EIO;
	if (sfs_xattr_open(c, out, in, len, ad, ad_len))
		return -EIO;
	return (ssize_t)(len - SFS_XATTR_OVERHEAD);
}
