/* sfs_meta.h - encryption of symlink targets and user.* extended attribute
 * names and values. Pure functions over buffers.
 *
 * Symlink targets are stored binary (the backing symlink holds any byte but
 * NUL): SIV(target) then COBS-encoded to remove zero bytes. That fits
 * targets up to SFS_SYMLINK_MAX bytes in a backing symlink of at most 4095.
 */
#ifndef SFS_META_H
#define SFS_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sfs_crypto.h"

/* Longest plaintext symlink target an encrypted volume stores. */
#define SFS_SYMLINK_MAX 4062U
/* Longest backing symlink target (ext4 and the VFS limit). */
#define SFS_BACKING_SYMLINK_MAX 4095U
/* Backing xattr name carrying the random per-inode id that xattr values are
 * bound to. */
#define SFS_XATTR_ID_NAME "user.sfs.xid"
#define SFS_XATTR_ID_BYTES 16U

/* Encrypts target into out (NUL-terminated, at most
 * SFS_BACKING_SYMLINK_MAX + 1 bytes). -ENAMETOOLONG when too long. */
int sfs_symlink_encrypt(const struct sfs_crypto *c, const char *target,
			char *out);
/* Decrypts a backing symlink target of len bytes into out (room for
 * SFS_SYMLINK_MAX + 1); returns the target length or -EIO. */
ssize_t sfs_symlink_decrypt(const struct sfs_crypto *c, const char *in,
			    size_t len, char *out) SFS_WUR;

/* Whether a backing symlink target of len bytes has the shape of an
 * encrypted one, without a key: strict COBS of an SIV tag and 1 to
 * SFS_SYMLINK_MAX bytes. */
bool sfs_symlink_plausible(const char *in, size_t len);

/* "user.NAME" → "user." + base64url(SIV(NAME)) into out (XATTR_NAME_MAX+1).
 * Names outside the user namespace are copied unchanged. -ERANGE when the
 * result exceeds XATTR_NAME_MAX. */
int sfs_xattr_name_encrypt(const struct sfs_crypto *c, const char *name,
			   char *out);
/* The inverse; -EIO when a user.* backing name does not authenticate.
 * SFS_XATTR_ID_NAME is not a user name: callers hide it. */
int sfs_xattr_name_decrypt(const struct sfs_crypto *c, const char *backing,
			   char *out) SFS_WUR;
/* Whether enc, a user.* backing name without its "user." prefix, has the
 * shape of an encrypted one, without a key: canonical base64url of more
 * than an SIV tag. */
bool sfs_xattr_name_plausible(const char *enc);
/* Seals a value bound to the inode id and the encrypted attribute name.
 * out holds len + SFS_XATTR_OVERHEAD. Returns the sealed length. */
ssize_t sfs_xattr_value_encrypt(const struct sfs_crypto *c,
				const uint8_t id[SFS_XATTR_ID_BYTES],
				const char *backing_name, const uint8_t *in,
				size_t len, uint8_t *out);
/* Returns the plaintext length or -EIO. out holds len - SFS_XATTR_OVERHEAD. */
ssize_t sfs_xattr_value_decrypt(const struct sfs_crypto *c,
				const uint8_t id[SFS_XATTR_ID_BYTES],
				const char *backing_name, const uint8_t *in,
				size_t len, uint8_t *out) SFS_WUR;

#endif
