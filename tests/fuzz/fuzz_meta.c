/* fuzz_meta.c - symlink targets and user.* extended attributes as the
 * backing tree holds them (format 4: targets inline or in a sidecar of the
 * target store, FORMAT.md section 7; all user.* attributes of an inode in
 * one sealed set, section 8). The first input byte picks the entry point,
 * the rest is its input:
 *   0  a backing symlink target (at most 4095 bytes, what readlink gives):
 *      sfs_symlink_plausible, sfs_symlink_decrypt, sfs_symlink_ref_parse
 *   1  a stored set (the backing user.sfs.x value): sfs_xattr_set_open,
 *      then the names and every attribute found
 *   2  a symlink target (C string), encrypted inline then decrypted
 *   3  a set's plaintext, sealed then opened: it opens exactly when its
 *      entries are well formed, and then as it went in
 *   4  a sidecar of the target store: an id (16 bytes), then the file's
 *      contents: sfs_symlink_open
 *   5  a symlink target (C string), sealed for a sidecar then opened
 *
 * Properties: what decrypts encrypts back to the same backing bytes;
 * round trips give back what went in; a flipped bit never opens.
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

	uint8_t id[SFS_SYMLINK_ID_BYTES];
	char ref[SFS_SYMLINK_REF_LEN + 1];

	if (len > SFS_BACKING_SYMLINK_MAX)
		return;
	/* A reference has one spelling, and is never an inline target. */
	if (sfs_symlink_ref_parse(in, len, id)) {
		sfs_symlink_ref(id, ref);
		FUZZ_CHECK(len == SFS_SYMLINK_REF_LEN &&
			   memcmp(ref, in, len) == 0);
		FUZZ_CHECK(!sfs_symlink_plausible(in, len));
	}
	sfs_symlink_plausible(in, len);
	n = sfs_symlink_decrypt(key(), in, len, out);
	if (n < 0)
		return;
	FUZZ_CHECK((size_t)n <= SFS_SYMLINK_INLINE_MAX &&
		   strlen(out) == (size_t)n);
	FUZZ_CHECK(sfs_symlink_plausible(in, len));
	FUZZ_CHECK(sfs_symlink_encrypt(key(), out, again) == 0);
	FUZZ_CHECK(strlen(again) == len && memcmp(again, in, len) == 0);
}

/* Every name a set lists is found in it, with a value inside the set. */
static void check_set(const uint8_t *set, size_t len)
{
	char *names = malloc(2 * len + 1);
	const uint8_t *value;
	size_t n, vlen;

	if (!names)
		abort();
	n = sfs_xattr_set_names(set, len, names);
	FUZZ_CHECK(n <= 2 * len);
	for (const char *x = names; x < names + n; x += strlen(x) + 1) {
		FUZZ_CHECK(sfs_xattr_set_find(set, len, x, &value, &vlen) >= 0);
		FUZZ_CHECK(value >= set && value + vlen <= set + len);
	}
	free(names);
}

static void stored_set(const uint8_t *in, size_t len)
{
	uint8_t *plain = malloc(SFS_XATTR_SET_MAX);
	ssize_t n;

	if (!plain)
		abort();
	n = sfs_xattr_set_open(key(), in, len, plain);
	FUZZ_CHECK(n < 0 || (size_t)n + SFS_XATTR_OVERHEAD == len);
	if (n >= 0)
		check_set(plain, (size_t)n);
	free(plain);
}

static void symlink_round_trip(const char *target)
{
	char enc[SFS_BACKING_SYMLINK_MAX + 1], out[SFS_SYMLINK_MAX + 1];
	size_t len = strlen(target);
	int rc = sfs_symlink_encrypt(key(), target, enc);

	if (len == 0 || len > SFS_SYMLINK_INLINE_MAX) {
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

/* The sidecar of id: what opens seals back to the same bytes (SIV is
 * deterministic). */
static void sidecar(const uint8_t *in, size_t len)
{
	char out[SFS_SYMLINK_MAX + 1];
	uint8_t again[SFS_SYMLINK_SEALED_MAX];
	const uint8_t *id = in;
	ssize_t n;

	if (len < SFS_SYMLINK_ID_BYTES)
		return;
	in += SFS_SYMLINK_ID_BYTES;
	len -= SFS_SYMLINK_ID_BYTES;
	n = sfs_symlink_open(key(), id, in, len, out);
	if (n < 0)
		return;
	FUZZ_CHECK((size_t)n <= SFS_SYMLINK_MAX && strlen(out) == (size_t)n);
	FUZZ_CHECK(sfs_symlink_seal(key(), id, out, again) == (ssize_t)len);
	FUZZ_CHECK(memcmp(again, in, len) == 0);
}

static void sidecar_round_trip(const char *target)
{
	static const uint8_t id[SFS_SYMLINK_ID_BYTES] = {1, 2, 3};
	uint8_t sealed[SFS_SYMLINK_SEALED_MAX];
	char out[SFS_SYMLINK_MAX + 1];
	size_t len = strlen(target);
	ssize_t n = sfs_symlink_seal(key(), id, target, sealed);

	if (len == 0 || len > SFS_SYMLINK_MAX) {
		FUZZ_CHECK(n == (len ? -ENAMETOOLONG : -ENOENT));
		return;
	}
	FUZZ_CHECK(n == (ssize_t)(len + SFS_SIV_TAG_BYTES));
	FUZZ_CHECK(sfs_symlink_open(key(), id, sealed, (size_t)n, out) ==
		   (ssize_t)len);
	FUZZ_CHECK(strcmp(out, target) == 0);
	sealed[len % (size_t)n] ^= 1;
	FUZZ_CHECK(sfs_symlink_open(key(), id, sealed, (size_t)n, out) < 0);
}

static void set_round_trip(const uint8_t *in, size_t len)
{
	uint8_t *box = malloc(SFS_XATTR_SET_MAX),
		*out = malloc(SFS_XATTR_SET_MAX);
	ssize_t sealed, n;

	if (!box || !out)
		abort();
	sealed = sfs_xattr_set_seal(key(), in, len, box);
	if (len + SFS_XATTR_OVERHEAD > SFS_XATTR_SET_MAX) {
		FUZZ_CHECK(sealed == -ENOSPC);
		goto out;
	}
	FUZZ_CHECK(sealed == (ssize_t)(len + SFS_XATTR_OVERHEAD));
	n = sfs_xattr_set_open(key(), box, (size_t)sealed, out);
	/* Opens exactly when well formed, and then as it went in. */
	if (n >= 0) {
		FUZZ_CHECK((size_t)n == len && memcmp(out, in, len) == 0);
		check_set(out, (size_t)n);
	}
	box[sealed - 1] ^= 1;
	FUZZ_CHECK(sfs_xattr_set_open(key(), box, (size_t)sealed, out) < 0);
out:
	free(box);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 1)
		return 0;
	s = fuzz_str(data + 1, size - 1);
	switch (data[0] % 6) {
	case 0:
		symlink_target((const char *)data + 1, size - 1);
		break;
	case 1:
		stored_set(data + 1, size - 1);
		break;
	case 2:
		symlink_round_trip(s);
		break;
	case 3:
		set_round_trip(data + 1, size - 1);
		break;
	case 4:
		sidecar(data + 1, size - 1);
		break;
	case 5:
		sidecar_round_trip(s);
		break;
	}
	free(s);
	return 0;
}
