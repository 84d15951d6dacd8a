/* sfs_names.h - file name encryption under a per-directory IV, base64url,
 * long names and the backing names scratchfs reserves for itself.
 *
 * Errors are negative errno values: -ENAMETOOLONG, -EINVAL for a name that
 * cannot exist, -EIO for a backing name that does not authenticate.
 */
#ifndef SFS_NAMES_H
#define SFS_NAMES_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sfs_crypto.h"

#define SFS_DIRIV_BYTES 16U
/* Reserved backing names. Encrypted names are base64url and never start with
 * '.', so everything starting with SFS_RESERVED_PREFIX is ours. */
#define SFS_RESERVED_PREFIX ".sfs."
#define SFS_DIRIV_NAME ".sfs.diriv"
#define SFS_LONGNAME_PREFIX ".sfs.L."
#define SFS_LONGNAME_SUFFIX ".name"
/* The volume header directory in the backing root (both modes). */
#define SFS_VOLUME_DIR ".scratchfs"
/* Where scratchfs-ctl fsck --quarantine moves damaged files, inside
 * SFS_VOLUME_DIR; a wipe removes it with the volume. */
#define SFS_QUARANTINE_DIR "quarantine"
/* Names are padded to a multiple of this before encryption. */
#define SFS_NAME_PAD 16U
/* Longest encoded name stored directly; longer ones use the long form. */
#define SFS_SHORT_NAME_MAX 255U
/* A name padded to a multiple of SFS_NAME_PAD: 255 -> 256 bytes. */
#define SFS_NAME_PADDED_MAX                                                    \
	((NAME_MAX + SFS_NAME_PAD - 1) / SFS_NAME_PAD * SFS_NAME_PAD)
/* Longest encoded name: base64url of the SIV tag and the longest padded
 * name (363 characters; a long-name sidecar holds no more). */
#define SFS_ENCODED_NAME_MAX                                                   \
	(((SFS_SIV_TAG_BYTES + SFS_NAME_PADDED_MAX) * 4 + 2) / 3)

/* base64url without padding. dst must hold sfs_b64_len(n) + 1 bytes. */
size_t sfs_b64_len(size_t n);
size_t sfs_b64_encode(char *dst, const uint8_t *src, size_t n);
/* Returns the decoded length, or -1 for invalid input. dst must hold
 * n * 3 / 4 bytes. */
long sfs_b64_decode(uint8_t *dst, const char *src, size_t n);

/* The backing form of a plaintext name. */
struct sfs_ename {
	/* What is stored in the directory: the encoded name itself, or
	 * SFS_LONGNAME_PREFIX + hash when the encoded name is too long. */
	char backing[NAME_MAX + 1];
	/* Long form only: the full encoded name, to be written to the sidecar
	 * file backing + SFS_LONGNAME_SUFFIX. Empty for short names. */
	char full[512];
	bool is_long;
};

/* Encrypts a plaintext name (1..NAME_MAX bytes, no '/', not "." or "..")
 * for the directory whose IV is iv. */
int sfs_name_encrypt(const struct sfs_crypto *c,
		     const uint8_t iv[SFS_DIRIV_BYTES], const char *name,
		     struct sfs_ename *out);
/* Decrypts an encoded (full, not hashed) name. out holds NAME_MAX + 1. */
int sfs_name_decrypt(const struct sfs_crypto *c,
		     const uint8_t iv[SFS_DIRIV_BYTES], const char *encoded,
		     char *out) SFS_WUR;

/* Whether encoded (n characters) has the shape of an encrypted name, without
 * a key: canonical base64url of an SIV tag and a padded name whose size is
 * one that is stored directly (!in_sidecar) or in a long-name sidecar. */
bool sfs_name_plausible(const char *encoded, size_t n, bool in_sidecar);

/* True for a backing name in the long form (not its sidecar). */
bool sfs_name_is_long(const char *backing);
/* Writes the sidecar name of a long backing name into out (NAME_MAX + 1). */
void sfs_name_sidecar(const char *backing, char *out);
/* True for a backing name that is scratchfs metadata, never user data:
 * anything starting with SFS_RESERVED_PREFIX, and SFS_VOLUME_DIR in the root.
 */
bool sfs_name_is_reserved(const char *backing, bool in_root);

#endif
