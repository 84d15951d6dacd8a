/* meta.c - encryption of symlink targets and of the user.* xattr set. */
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
 * Longer targets, and any target the backing filesystem refuses inline,
 * are stored out of line (a reference in the backing symlink, the sealed
 * target in a sidecar file).
 */
#define COBS_MAX(m) ((m) + (m) / 254 + 1)
#define INLINE_SEALED_MAX (SFS_SYMLINK_INLINE_MAX + SFS_SIV_TAG_BYTES)
#define REF_PREFIX_LEN (sizeof(SFS_SYMLINK_REF_PREFIX) - 1)

_Static_assert(COBS_MAX(INLINE_SEALED_MAX) <= SFS_BACKING_SYMLINK_MAX,
	       "every target up to SFS_SYMLINK_INLINE_MAX must fit");
_Static_assert(COBS_MAX(INLINE_SEALED_MAX + 1) > SFS_BACKING_SYMLINK_MAX,
	       "SFS_SYMLINK_INLINE_MAX must be the exact maximum");
/* A reference starts with '.', a COBS code byte that promises 0x2e - 1 =
 * 45 more bytes: no inline target is that short, so a strict decoder
 * refuses every reference and the two forms never overlap. */
_Static_assert(SFS_SYMLINK_REF_LEN < '.', "a reference is never COBS");

#define XATTR_USER_PREFIX "user."
#define XATTR_USER_PREFIX_LEN (sizeof(XATTR_USER_PREFIX) - 1)
/* A set entry: name length (u8), value length (u16 BE), name, value. */
#define ENTRY_HEAD 3U
#define ENTRY_NAME_MAX (XATTR_NAME_MAX - XATTR_USER_PREFIX_LEN)

_Static_assert(SFS_XATTR_SET_MAX - SFS_XATTR_OVERHEAD <= 0xffff + ENTRY_HEAD,
	       "a value that fits a set fits its u16 length");

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

/* Seals target (at most max bytes) under the IV into out (its length +
 * SFS_SIV_TAG_BYTES); returns its length, -ENOENT when empty (as
 * symlink(2) itself), -ENAMETOOLONG when longer than max. */
static long seal_target(const struct sfs_crypto *c, const char *target,
			size_t max, const uint8_t *iv, size_t iv_len,
			uint8_t *out)
{
	size_t n = strnlen(target, max + 1);

	if (n == 0)
		return -ENOENT;
	if (n > max)
		return -ENAMETOOLONG;
	if (sfs_siv_seal(c, SFS_SIV_SYMLINK, out, (const uint8_t *)target, n,
			 iv, iv_len))
		return -EIO;
	return (long)n;
}

/* Opens the m sealed bytes (m > SFS_SIV_TAG_BYTES) under the IV into out,
 * NUL-terminated; returns the target length, -EIO when they do not
 * authenticate or hold a NUL (only a C string was ever sealed). */
static ssize_t open_target(const struct sfs_crypto *c, const uint8_t *iv,
			   size_t iv_len, const uint8_t *sealed, size_t m,
			   char *out)
{
	size_t n = m - SFS_SIV_TAG_BYTES;

	if (sfs_siv_open(c, SFS_SIV_SYMLINK, (uint8_t *)out, sealed, m, iv,
			 iv_len))
		return -EIO;
	if (memchr(out, '\0', n)) {
		sfs_wipe(out, n);
		return -EIO;
	}
	out[n] = '\0';
	return (ssize_t)n;
}

int sfs_symlink_encrypt(const struct sfs_crypto *c, const char *target,
			char *out)
{
	uint8_t sealed[INLINE_SEALED_MAX];
	long n;
	size_t o;

	out[0] = '\0';
	n = seal_target(c, target, SFS_SYMLINK_INLINE_MAX, no_iv, 0, sealed);
	if (n < 0)
		return (int)n;
	o = cobs_encode((uint8_t *)out, sealed, (size_t)n + SFS_SIV_TAG_BYTES);
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
	if (m <= (long)SFS_SIV_TAG_BYTES || m > (long)INLINE_SEALED_MAX)
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

	out[0] = '\0';
	m = symlink_sealed(sealed, in, len);
	if (m < 0)
		return -EIO;
	return open_target(c, no_iv, 0, sealed, (size_t)m, out);
}

void sfs_symlink_ref(const uint8_t id[SFS_SYMLINK_ID_BYTES], char *ref)
{
	memcpy(ref, SFS_SYMLINK_REF_PREFIX, REF_PREFIX_LEN);
	sfs_b64_encode(ref + REF_PREFIX_LEN, id, SFS_SYMLINK_ID_BYTES);
}

bool sfs_symlink_ref_parse(const char *in, size_t len,
			   uint8_t id[SFS_SYMLINK_ID_BYTES])
{
	/* The strict decoder refuses all but the one encoding of an id. */
	return len == SFS_SYMLINK_REF_LEN &&
	       memcmp(in, SFS_SYMLINK_REF_PREFIX, REF_PREFIX_LEN) == 0 &&
	       sfs_b64_decode(id, in + REF_PREFIX_LEN, SFS_SYMLINK_ID_B64) ==
		   (long)SFS_SYMLINK_ID_BYTES;
}

/* The id is the SIV's IV: a sidecar opens only under the id its symlink
 * refers to, and its tag (LE64(16) || id || target) never equals an
 * inline target's (LE64(0) || target). */
ssize_t sfs_symlink_seal(const struct sfs_crypto *c,
			 const uint8_t id[SFS_SYMLINK_ID_BYTES],
			 const char *target, uint8_t *out)
{
	long n = seal_target(c, target, SFS_SYMLINK_MAX, id,
			     SFS_SYMLINK_ID_BYTES, out);

	return n < 0 ? n : (ssize_t)((size_t)n + SFS_SIV_TAG_BYTES);
}

ssize_t sfs_symlink_open(const struct sfs_crypto *c,
			 const uint8_t id[SFS_SYMLINK_ID_BYTES],
			 const uint8_t *in, size_t len, char *out)
{
	out[0] = '\0';
	if (len <= SFS_SIV_TAG_BYTES || len > SFS_SYMLINK_SEALED_MAX)
		return -EIO;
	return open_target(c, id, SFS_SYMLINK_ID_BYTES, in, len, out);
}

/* The set's associated data: a label, so that no other sealed value under
 * the xattr key can pass for a set. */
static const uint8_t set_ad[] = {'s', 'f', 's', '-', 'x', 'a', 't',
				 't', 'r', '-', 's', 'e', 't'};

ssize_t sfs_xattr_set_seal(const struct sfs_crypto *c, const uint8_t *plain,
			   size_t len, uint8_t *out)
{
	if (len > SFS_XATTR_SET_MAX - SFS_XATTR_OVERHEAD)
		return -ENOSPC;
	if (sfs_xattr_seal(c, out, plain, len, set_ad, sizeof(set_ad)))
		return -EIO;
	return (ssize_t)(len + SFS_XATTR_OVERHEAD);
}

/* The entry at off of a set of len bytes: its name and value, and the
 * offset of the next entry. -1 when it is not well formed. */
static long entry_at(const uint8_t *set, size_t len, size_t off,
		     const uint8_t **name, size_t *nlen, const uint8_t **value,
		     size_t *vlen)
{
	if (len - off < ENTRY_HEAD)
		return -1;
	*nlen = set[off];
	*vlen = (size_t)set[off + 1] << 8 | set[off + 2];
	if (*nlen == 0 || *nlen > ENTRY_NAME_MAX ||
	    len - off - ENTRY_HEAD < *nlen + *vlen)
		return -1;
	*name = set + off + ENTRY_HEAD;
	*value = *name + *nlen;
	if (memchr(*name, '\0', *nlen))
		return -1;
	return (long)(off + ENTRY_HEAD + *nlen + *vlen);
}

ssize_t sfs_xattr_set_open(const struct sfs_crypto *c, const uint8_t *in,
			   size_t len, uint8_t *plain)
{
	const uint8_t *name, *value;
	size_t n, nlen, vlen, off;
	long next;

	if (len < SFS_XATTR_OVERHEAD || len > SFS_XATTR_SET_MAX)
		return -EIO;
	n = len - SFS_XATTR_OVERHEAD;
	if (sfs_xattr_open(c, plain, in, len, set_ad, sizeof(set_ad)))
		return -EIO;
	for (off = 0; off < n; off = (size_t)next) {
		next = entry_at(plain, n, off, &name, &nlen, &value, &vlen);
		if (next < 0) {
			sfs_wipe(plain, n);
			return -EIO;
		}
	}
	return (ssize_t)n;
}

/* The suffix of a user.* name and its length; -ENODATA for other names
 * (they are not in a set), -EINVAL for "user." alone, -ERANGE when too
 * long. */
static long user_suffix(const char *name, const char **suffix)
{
	size_t n;

	if (strncmp(name, XATTR_USER_PREFIX, XATTR_USER_PREFIX_LEN) != 0)
		return -ENODATA;
	*suffix = name + XATTR_USER_PREFIX_LEN;
	n = strnlen(*suffix, ENTRY_NAME_MAX + 1);
	if (n == 0)
		return -EINVAL;
	return n > ENTRY_NAME_MAX ? -ERANGE : (long)n;
}

long sfs_xattr_set_find(const uint8_t *set, size_t len, const char *name,
			const uint8_t **value, size_t *vlen)
{
	const uint8_t *ename;
	const char *suffix;
	size_t off, enlen;
	long n = user_suffix(name, &suffix), next;

	if (n < 0)
		return n;
	for (off = 0; off < len; off = (size_t)next) {
		next = entry_at(set, len, off, &ename, &enlen, value, vlen);
		if (next < 0)
			return -EIO;
		if (enlen == (size_t)n && memcmp(ename, suffix, enlen) == 0)
			return (long)off;
	}
	return -ENODATA;
}

size_t sfs_xattr_set_drop(uint8_t *set, size_t len, size_t off)
{
	size_t end = off + ENTRY_HEAD + set[off] +
		     ((size_t)set[off + 1] << 8 | set[off + 2]);

	memmove(set + off, set + end, len - end);
	sfs_wipe(set + len - (end - off), end - off);
	return len - (end - off);
}

ssize_t sfs_xattr_set_add(uint8_t *set, size_t len, const char *name,
			  const void *value, size_t vlen)
{
	const char *suffix;
	long n = user_suffix(name, &suffix);
	uint8_t *e = set + len;

	if (n < 0)
		return n == -ENODATA ? -EINVAL : n;
	if (vlen > SFS_XATTR_SET_MAX ||
	    len + ENTRY_HEAD + (size_t)n + vlen >
		SFS_XATTR_SET_MAX - SFS_XATTR_OVERHEAD)
		return -ENOSPC;
	e[0] = (uint8_t)n;
	e[1] = (uint8_t)(vlen >> 8);
	e[2] = (uint8_t)vlen;
	memcpy(e + ENTRY_HEAD, suffix, (size_t)n);
	memcpy(e + ENTRY_HEAD + n, value, vlen);
	return (ssize_t)(len + ENTRY_HEAD + (size_t)n + vlen);
}

size_t sfs_xattr_set_names(const uint8_t *set, size_t len, char *out)
{
	const uint8_t *name, *value;
	size_t off, used = 0, nlen, vlen;
	long next;

	for (off = 0; off < len; off = (size_t)next) {
		next = entry_at(set, len, off, &name, &nlen, &value, &vlen);
		if (next < 0)
			break; /* never: sfs_xattr_set_open() checked */
		memcpy(out + used, XATTR_USER_PREFIX, XATTR_USER_PREFIX_LEN);
		memcpy(out + used + XATTR_USER_PREFIX_LEN, name, nlen);
		used += XATTR_USER_PREFIX_LEN + nlen;
		out[used++] = '\0';
	}
	return used;
}
