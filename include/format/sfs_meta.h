/* sfs_meta.h - encryption of symlink targets and of the user.* extended
 * attributes of an inode. Pure functions over buffers.
 *
 * A symlink target is stored in one of two forms (doc/FORMAT.md section 7):
 *  - inline: the backing symlink holds SIV(target), COBS-encoded to remove
 *    zero bytes. That fits targets up to SFS_SYMLINK_INLINE_MAX bytes in a
 *    backing symlink of at most 4095, where the backing filesystem takes
 *    that long a target;
 *  - out of line: the backing symlink holds a short reference
 *    (SFS_SYMLINK_REF_PREFIX and a random id) that no inline target can
 *    be, and a sidecar file holds SIV(target) under that id.
 */
#ifndef SFS_META_H
#define SFS_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sfs_crypto.h"

/* Longest symlink target (PATH_MAX - 1, as symlink(2) takes). */
#define SFS_SYMLINK_MAX 4095U
/* Longest target whose inline form always fits a backing symlink. */
#define SFS_SYMLINK_INLINE_MAX 4062U
/* Longest backing symlink target (ext4 and the VFS limit). */
#define SFS_BACKING_SYMLINK_MAX 4095U
/* Out-of-line targets: the reference is the prefix and base64url of the
 * random id (29 bytes); the sidecar's name is the base64url part. */
#define SFS_SYMLINK_ID_BYTES 16U
#define SFS_SYMLINK_REF_PREFIX ".sfs.T."
#define SFS_SYMLINK_ID_B64 22U
#define SFS_SYMLINK_REF_LEN                                                    \
	(sizeof(SFS_SYMLINK_REF_PREFIX) - 1 + SFS_SYMLINK_ID_B64)
/* A sidecar's contents: the SIV tag and the target. */
#define SFS_SYMLINK_SEALED_MAX (SFS_SIV_TAG_BYTES + SFS_SYMLINK_MAX)
/* The target store: a directory in the backing root holding one sidecar
 * per out-of-line target. */
#define SFS_SYMLINK_DIR ".sfs.targets"
/* Encrypted mode keeps all user.* attributes of an inode in this one
 * backing attribute, sealed as a whole (the "set"): SFS_XATTR_OVERHEAD
 * bytes per inode instead of per attribute, and no name longer than on the
 * disk. A set is at most one attribute value (XATTR_SIZE_MAX). */
#define SFS_XATTR_SET_NAME "user.sfs.x"
#define SFS_XATTR_SET_MAX 65536U

/* Encrypts target into out in the inline form (NUL-terminated, at most
 * SFS_BACKING_SYMLINK_MAX + 1 bytes). -ENAMETOOLONG when longer than
 * SFS_SYMLINK_INLINE_MAX, -ENOENT when empty. */
int sfs_symlink_encrypt(const struct sfs_crypto *c, const char *target,
			char *out);
/* Decrypts an inline backing symlink target of len bytes into out (room
 * for SFS_SYMLINK_INLINE_MAX + 1); returns the target length or -EIO. */
ssize_t sfs_symlink_decrypt(const struct sfs_crypto *c, const char *in,
			    size_t len, char *out) SFS_WUR;

/* Whether a backing symlink target of len bytes has the shape of an
 * inline encrypted one, without a key: strict COBS of an SIV tag and 1 to
 * SFS_SYMLINK_INLINE_MAX bytes. */
bool sfs_symlink_plausible(const char *in, size_t len);

/* The reference to the out-of-line target id, NUL-terminated, into ref
 * (SFS_SYMLINK_REF_LEN + 1 bytes). */
void sfs_symlink_ref(const uint8_t id[SFS_SYMLINK_ID_BYTES], char *ref);
/* Whether a backing symlink target of len bytes is a reference (exactly
 * the prefix and the canonical base64url of an id); its id into id. */
bool sfs_symlink_ref_parse(const char *in, size_t len,
			   uint8_t id[SFS_SYMLINK_ID_BYTES]);
/* Seals target (1..SFS_SYMLINK_MAX bytes) for the sidecar of id into out
 * (SFS_SYMLINK_SEALED_MAX bytes); returns the sealed length, -ENOENT when
 * empty, -ENAMETOOLONG when too long. */
ssize_t sfs_symlink_seal(const struct sfs_crypto *c,
			 const uint8_t id[SFS_SYMLINK_ID_BYTES],
			 const char *target, uint8_t *out);
/* Opens the len bytes of the sidecar of id into out (SFS_SYMLINK_MAX + 1
 * bytes, NUL-terminated); returns the target length or -EIO. */
ssize_t sfs_symlink_open(const struct sfs_crypto *c,
			 const uint8_t id[SFS_SYMLINK_ID_BYTES],
			 const uint8_t *in, size_t len, char *out) SFS_WUR;

/* The plaintext set is a sequence of entries: name length (u8), value
 * length (u16 BE), the name without "user." (1..250 bytes, no NUL), the
 * value. Set functions take the plaintext of len bytes in a buffer of
 * SFS_XATTR_SET_MAX bytes. */

/* Seals a set into out (len + SFS_XATTR_OVERHEAD bytes); returns the
 * sealed length, -ENOSPC when that exceeds SFS_XATTR_SET_MAX. */
ssize_t sfs_xattr_set_seal(const struct sfs_crypto *c, const uint8_t *plain,
			   size_t len, uint8_t *out);
/* Opens a sealed set of len bytes into plain (SFS_XATTR_SET_MAX bytes);
 * returns the plaintext length, or -EIO when it does not authenticate or
 * its entries are not well formed. */
ssize_t sfs_xattr_set_open(const struct sfs_crypto *c, const uint8_t *in,
			   size_t len, uint8_t *plain) SFS_WUR;
/* Finds the user.* attribute name: returns its entry's offset and points
 * value at its value; -ENODATA when absent (or not user.*), -EINVAL for
 * "user." alone, -ERANGE for a name longer than XATTR_NAME_MAX. */
long sfs_xattr_set_find(const uint8_t *set, size_t len, const char *name,
			const uint8_t **value, size_t *vlen);
/* Removes the entry at off (from sfs_xattr_set_find); returns the new
 * length. */
size_t sfs_xattr_set_drop(uint8_t *set, size_t len, size_t off);
/* Appends the user.* attribute name (not in the set) with its value;
 * returns the new length, -ENOSPC when the set would not fit
 * SFS_XATTR_SET_MAX sealed, -EINVAL or -ERANGE for a bad name. */
ssize_t sfs_xattr_set_add(uint8_t *set, size_t len, const char *name,
			  const void *value, size_t vlen);
/* Writes the set's names ("user.NAME\0" each) to out (2 * len bytes);
 * returns their length. */
size_t sfs_xattr_set_names(const uint8_t *set, size_t len, char *out);

#endif
