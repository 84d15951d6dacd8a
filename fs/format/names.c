/* names.c - file name encryption under a per-directory IV, base64url, long
 * names and reserved backing names. */
#include <errno.h>
#include <string.h>

#include "sfs_log.h"
#include "sfs_names.h"

#define PADDED_MAX SFS_NAME_PADDED_MAX
#define SEALED_MAX (SFS_SIV_TAG_BYTES + PADDED_MAX)
/* The longest sealed name whose encoding is stored directly (191 bytes),
 * and the longest padded name that gives no more (160 bytes). */
#define SHORT_SEALED_MAX (SFS_SHORT_NAME_MAX * 3 / 4)
#define SHORT_PADDED_MAX                                                       \
	((SHORT_SEALED_MAX - SFS_SIV_TAG_BYTES) / SFS_NAME_PAD * SFS_NAME_PAD)
#define HASH_BYTES 32U
/* base64url of 32 bytes without padding. */
#define HASH_B64_LEN ((HASH_BYTES * 4 + 2) / 3)
#define LONG_PREFIX_LEN (sizeof(SFS_LONGNAME_PREFIX) - 1)
#define LONG_SUFFIX_LEN (sizeof(SFS_LONGNAME_SUFFIX) - 1)

_Static_assert((SEALED_MAX * 4 + 2) / 3 < sizeof(((struct sfs_ename *)0)->full),
	       "the longest encoded name must fit sfs_ename.full");
_Static_assert(LONG_PREFIX_LEN + HASH_B64_LEN + LONG_SUFFIX_LEN <= NAME_MAX,
	       "a long-name sidecar must fit NAME_MAX");
_Static_assert(SFS_SHORT_NAME_MAX <= NAME_MAX, "short names are stored as is");
_Static_assert((SHORT_SEALED_MAX * 4 + 2) / 3 <= SFS_SHORT_NAME_MAX &&
		   ((SHORT_SEALED_MAX + 1) * 4 + 2) / 3 > SFS_SHORT_NAME_MAX,
	       "SHORT_SEALED_MAX is the longest sealed name stored directly");
_Static_assert((SEALED_MAX * 4 + 2) / 3 == SFS_ENCODED_NAME_MAX,
	       "SFS_ENCODED_NAME_MAX is the longest encoded name");

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t sfs_b64_len(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

size_t sfs_b64_encode(char *dst, const uint8_t *src, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)src[i] << 16 |
			     (uint32_t)src[i + 1] << 8 | src[i + 2];

		dst[o++] = b64_alphabet[v >> 18 & 63];
		dst[o++] = b64_alphabet[v >> 12 & 63];
		dst[o++] = b64_alphabet[v >> 6 & 63];
		dst[o++] = b64_alphabet[v & 63];
	}
	if (n - i == 1) {
		dst[o++] = b64_alphabet[src[i] >> 2];
		dst[o++] = b64_alphabet[(src[i] & 3) << 4];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)src[i] << 8 | src[i + 1];

		dst[o++] = b64_alphabet[v >> 10 & 63];
		dst[o++] = b64_alphabet[v >> 4 & 63];
		dst[o++] = b64_alphabet[(v & 15) << 2];
	}
	dst[o] = '\0';
	return o;
}

/* The 6-bit value of a base64url character, or -1. */
static int b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '-')
		return 62;
	if (ch == '_')
		return 63;
	return -1;
}

long sfs_b64_decode(uint8_t *dst, const char *src, size_t n)
{
	uint32_t acc = 0;
	size_t i, o = 0;
	int bits = 0;

	/* One leftover character carries only 6 bits: not a whole byte. */
	if (n % 4 == 1 || n > (size_t)LONG_MAX / 3)
		return -1;
	for (i = 0; i < n; i++) {
		int v = b64_value((unsigned char)src[i]);

		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			dst[o++] = (uint8_t)(acc >> bits);
			acc &= (1U << bits) - 1;
		}
	}
	/* Leftover bits must be zero, so each byte string has one encoding. */
	if (acc != 0)
		return -1;
	return (long)o;
}

/* 0 when name is a valid single path component. */
static int name_check(const char *name, size_t *len)
{
	size_t n = strnlen(name, NAME_MAX + 1);

	if (n > NAME_MAX)
		return -ENAMETOOLONG;
	if (n == 0 || strchr(name, '/') || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return -EINVAL;
	*len = n;
	return 0;
}

static size_t name_padded_len(size_t len)
{
	return (len + SFS_NAME_PAD - 1) / SFS_NAME_PAD * SFS_NAME_PAD;
}

int sfs_name_encrypt(const struct sfs_crypto *c,
		     const uint8_t iv[SFS_DIRIV_BYTES], const char *name,
		     struct sfs_ename *out)
{
	uint8_t padded[PADDED_MAX];
	uint8_t sealed[SEALED_MAX];
	uint8_t hash[HASH_BYTES];
	size_t len, plen, elen;
	int rc;

	out->backing[0] = '\0';
	out->full[0] = '\0';
	out->is_long = false;
	rc = name_check(name, &len);
	if (rc)
		return rc;

	/* Names never contain NUL, so NUL padding strips unambiguously. */
	plen = name_padded_len(len);
	memset(padded, 0, plen);
	memcpy(padded, name, len);
	rc = sfs_siv_seal(c, SFS_SIV_NAME, sealed, padded, plen, iv,
			  SFS_DIRIV_BYTES);
	sfs_wipe(padded, sizeof(padded));
	if (rc)
		return -EIO;

	elen = sfs_b64_len(SFS_SIV_TAG_BYTES + plen);
	if (elen <= SFS_SHORT_NAME_MAX) {
		sfs_b64_encode(out->backing, sealed, SFS_SIV_TAG_BYTES + plen);
		return 0;
	}
	sfs_b64_encode(out->full, sealed, SFS_SIV_TAG_BYTES + plen);
	sfs_hash256(hash, out->full, elen);
	memcpy(out->backing, SFS_LONGNAME_PREFIX, LONG_PREFIX_LEN);
	sfs_b64_encode(out->backing + LONG_PREFIX_LEN, hash, sizeof(hash));
	out->is_long = true;
	return 0;
}

bool sfs_name_plausible(const char *encoded, size_t n, bool in_sidecar)
{
	uint8_t sealed[SEALED_MAX];
	/* Padded sizes: short names up to SHORT_PADDED_MAX, long ones from
	 * the next pad step up to PADDED_MAX. */
	long lo = in_sidecar ? SHORT_PADDED_MAX + SFS_NAME_PAD : SFS_NAME_PAD;
	long hi = in_sidecar ? PADDED_MAX : SHORT_PADDED_MAX;
	long d;

	if (n > SFS_ENCODED_NAME_MAX)
		return false;
	d = sfs_b64_decode(sealed, encoded, n) - (long)SFS_SIV_TAG_BYTES;
	return d >= lo && d <= hi && d % SFS_NAME_PAD == 0;
}

int sfs_name_decrypt(const struct sfs_crypto *c,
		     const uint8_t iv[SFS_DIRIV_BYTES], const char *encoded,
		     char *out)
{
	uint8_t sealed[SEALED_MAX];
	uint8_t plain[PADDED_MAX];
	size_t elen = strnlen(encoded, sfs_b64_len(SEALED_MAX) + 1);
	size_t plen, len;
	long dlen;
	int rc = -EIO;

	out[0] = '\0';
	if (elen > sfs_b64_len(SEALED_MAX))
		return -EIO;
	dlen = sfs_b64_decode(sealed, encoded, elen);
	if (dlen < (long)(SFS_SIV_TAG_BYTES + SFS_NAME_PAD) ||
	    (dlen - SFS_SIV_TAG_BYTES) % SFS_NAME_PAD != 0)
		return -EIO;
	plen = (size_t)dlen - SFS_SIV_TAG_BYTES;
	if (sfs_siv_open(c, SFS_SIV_NAME, plain, sealed, (size_t)dlen, iv,
			 SFS_DIRIV_BYTES))
		return -EIO;

	len = strnlen((const char *)plain, plen);
	/* Only the canonical padding of a valid name is accepted: no interior
	 * NUL, no extra pad block, nothing that could not be a name. */
	if (len == 0 || len > NAME_MAX || name_padded_len(len) != plen ||
	    !sfs_is_zero(plain + len, plen - len) || memchr(plain, '/', len) ||
	    (len == 1 && plain[0] == '.') ||
	    (len == 2 && plain[0] == '.' && plain[1] == '.'))
		goto out;
	memcpy(out, plain, len);
	out[len] = '\0';
	rc = 0;
out:
	sfs_wipe(plain, sizeof(plain));
	return rc;
}

bool sfs_name_is_long(const char *backing)
{
	size_t i;

	if (strncmp(backing, SFS_LONGNAME_PREFIX, LONG_PREFIX_LEN) != 0 ||
	    strlen(backing) != LONG_PREFIX_LEN + HASH_B64_LEN)
		return false;
	for (i = LONG_PREFIX_LEN; backing[i]; i++)
		if (b64_value((unsigned char)backing[i]) < 0)
			return false;
	return true;
}

void sfs_name_sidecar(const char *backing, char *out)
{
	/* Callers test sfs_name_is_long() first; anything else is a bug. */
	if (!sfs_name_is_long(backing)) {
		sfs_bug("sidecar of a short backing name");
	}
	memcpy(out, backing, LONG_PREFIX_LEN + HASH_B64_LEN);
	memcpy(out + LONG_PREFIX_LEN + HASH_B64_LEN, SFS_LONGNAME_SUFFIX,
	       LONG_SUFFIX_LEN + 1);
}

bool sfs_name_is_reserved(const char *backing, bool in_root)
{
	if (strncmp(backing, SFS_RESERVED_PREFIX,
		    sizeof(SFS_RESERVED_PREFIX) - 1) == 0)
		return true;
	return in_root && strcmp(backing, SFS_VOLUME_DIR) == 0;
}
