/* fuzz_meta.c - symlink targets and user.* extended attributes as the
 * backing tree holds them (the per-attribute format on main: one sealed
 * backing xattr per user.* name, values bound to user.sfs.xid). The first
 * input byte picks the entry point, the rest is its input:
 *   0  a backing symlink target (at most 4095 bytes, what readlink gives):
 *      sfs_symlink_plausible, sfs_symlink_decrypt
 *   1  a backing xattr name (at most XATTR_NAME_MAX): sfs_xattr_name_
 *      plausible, sfs_xattr_name_decrypt
 *   2  a sealed xattr value of the seeds' attribute (fuzz_util.c) on the
 *      seeds' inode id: sfs_xattr_value_decrypt
 *   3  a symlink target (C string), encrypted then decrypted
 *   4  an xattr value, sealed then opened
 *
 * Properties: what decrypts encrypts back to the same backing bytes;
 * round trips give back what went in.
 */
#include <errno.h>
#include <linux/limits.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "sfs_meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct sfs_crypto *key(void)
{
	return fuzz_crypto(SFS_AEAD_XCHACHA20POLY1305);
}

static void symlink_target(const char *in, size_t len)
{
	char out[SFS_SYMLINK_MAX + 1], again[SFS_BACKING_SYMLINK_MAX + 1];
	ssize_t n;

	if (len > SFS_BACKING_SYMLINK_MAX)
		return;
	sfs_symlink_plausible(in, len);
	n = sfs_symlink_decrypt(key(), in, len, out);
	if (n < 0)
		return;
	FUZZ_CHECK((size_t)n <= SFS_SYMLINK_MAX && strlen(out) == (size_t)n);
	FUZZ_CHECK(sfs_symlink_plausible(in, len));
	FUZZ_CHECK(sfs_symlink_encrypt(key(), out, again) == 0);
	FUZZ_CHECK(strlen(again) == len && memcmp(again, in, len) == 0);
}

static void xattr_name(const char *backing)
{
	char out[XATTR_NAME_MAX + 1], again[XATTR_NAME_MAX + 1];

	if (strlen(backing) > XATTR_NAME_MAX)
		return;
	if (strncmp(backing, "user.", 5) == 0)
		sfs_xattr_name_plausible(backing + 5);
	if (sfs_xattr_name_decrypt(key(), backing, out) != 0)
		return;
	FUZZ_CHECK(sfs_xattr_name_encrypt(key(), out, again) == 0);
	FUZZ_CHECK(strcmp(again, backing) == 0);
}

static void xattr_value(const uint8_t *in, size_t len)
{
	char bname[XATTR_NAME_MAX + 1];
	uint8_t *out = malloc(len + 1);
	ssize_t n;

	if (!out)
		abort();
	FUZZ_CHECK(
	    sfs_xattr_name_encrypt(key(), fuzz_xattr_plain_name, bname) == 0);
	n = sfs_xattr_value_decrypt(key(), fuzz_xid, bname, in, len, out);
	FUZZ_CHECK(n < 0 || (size_t)n + SFS_XATTR_OVERHEAD == len);
	free(out);
}

static void symlink_round_trip(const char *target)
{
	char enc[SFS_BACKING_SYMLINK_MAX + 1], out[SFS_SYMLINK_MAX + 1];
	size_t len = strlen(target);
	int rc = sfs_symlink_encrypt(key(), target, enc);

	if (len == 0 || len > SFS_SYMLINK_MAX) {
		FUZZ_CHECK(rc == (len ? -ENAMETOOLONG : -ENOENT));
		return;
	}
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(strlen(enc) <= SFS_BACKING_SYMLINK_MAX);
	FUZZ_CHECK(sfs_symlink_plausible(enc, strlen(enc)));
	FUZZ_CHECK(sfs_symlink_decrypt(key(), enc, strlen(enc), out) ==
		   (ssize_t)len);
	FUZZ_CHECK(strcmp(out, target) == 0);
}

static void xattr_round_trip(const uint8_t *in, size_t len)
{
	char bname[XATTR_NAME_MAX + 1];
	uint8_t *box = malloc(len + SFS_XATTR_OVERHEAD), *out = malloc(len + 1);

	if (!box || !out)
		abort();
	FUZZ_CHECK(
	    sfs_xattr_name_encrypt(key(), fuzz_xattr_plain_name, bname) == 0);
	FUZZ_CHECK(
	    sfs_xattr_value_encrypt(key(), fuzz_xid, bname, in, len, box) ==
	    (ssize_t)(len + SFS_XATTR_OVERHEAD));
	FUZZ_CHECK(sfs_xattr_value_decrypt(key(), fuzz_xid, bname, box,
					   len + SFS_XATTR_OVERHEAD,
					   out) == (ssize_t)len);
	FUZZ_CHECK(memcmp(out, in, len) == 0);
	/* One flipped bit of the tag and it must not open. */
	box[len + SFS_XATTR_OVERHEAD - 1] ^= 1;
	FUZZ_CHECK(sfs_xattr_value_decrypt(key(), fuzz_xid, bname, box,
					   len + SFS_XATTR_OVERHEAD, out) < 0);
	free(box);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 1)
		return 0;
	s = fuzz_str(data + 1, size - 1);
	switch (data[0] % 5) {
	case 0:
		symlink_target((const char *)data + 1, size - 1);
		break;
	case 1:
		xattr_name(s);
		break;
	case 2:
		xattr_value(data + 1, size - 1);
		break;
	case 3:
		symlink_round_trip(s);
		break;
	case 4:
		xattr_round_trip(data + 1, size - 1);
		break;
	}
	free(s);
	return 0;
}
