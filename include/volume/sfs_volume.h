/* sfs_volume.h - the volume header (<backing>/.scratchfs/volume): strict
 * encoding and parsing, atomic write, key wrapping, and opening or creating
 * a volume at mount time.
 *
 * Functions return 0 or a negative errno; those taking err/err_len also
 * write a one-line human message there naming the problem and, where there
 * is one, what to do about it.
 */
#ifndef SFS_VOLUME_H
#define SFS_VOLUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sfs_crypto.h"
#include "sfs_keys.h"

#define SFS_VOLUME_MAGIC "SCRFSVOL"
#define SFS_VOLUME_VERSION 4U
#define SFS_VOLUME_FILE "volume"
/* No feature flags are defined in version 4; any set bit refuses. */
#define SFS_VOLUME_KNOWN_FLAGS 0U
#define SFS_VOLUME_UUID_BYTES 16U
/* Encoded size: see doc/FORMAT.md. */
#define SFS_VOLUME_HEADER_BYTES 192U

enum sfs_mode {
	SFS_MODE_PLAIN = 0,
	SFS_MODE_ENCRYPTED = 1,
};

struct sfs_volume_header {
	uint32_t version;
	uint32_t flags;
	uint8_t uuid[SFS_VOLUME_UUID_BYTES];
	enum sfs_mode mode;
	enum sfs_aead aead;		    /* NONE in plain mode */
	uint32_t block_size;		    /* SFS_BLOCK_SIZE */
	enum sfs_key_source key_source;	    /* NONE in plain mode */
	uint8_t key_id[SFS_KEY_ID_BYTES];   /* zero unless wrapped */
	uint8_t keyslot[SFS_KEYSLOT_BYTES]; /* zero unless wrapped */
};

/* Encodes h into exactly SFS_VOLUME_HEADER_BYTES bytes (with checksum). */
void sfs_volume_encode(const struct sfs_volume_header *h, uint8_t *out);
/* Strictly parses a header: exact length, magic, version, flags, enums,
 * block size, zero padding, checksum. -EINVAL with a message otherwise. */
int sfs_volume_decode(const uint8_t *in, size_t len,
		      struct sfs_volume_header *h, char *err, size_t err_len);

/* Reads <backing>/.scratchfs/volume. -ENOENT when there is none. */
int sfs_volume_read(int backing_fd, struct sfs_volume_header *h, char *err,
		    size_t err_len);
/* Writes the header atomically: temp file, fsync, rename, fsync dir. */
int sfs_volume_write(int backing_fd, const struct sfs_volume_header *h,
		     char *err, size_t err_len);

/* Wraps vk under the node master key: sets key_id and keyslot. Call it
 * after every other field is final: the keyslot authenticates header bytes
 * 0..55 (everything before it), so changing them later breaks the unwrap. */
int sfs_volume_wrap_key(struct sfs_volume_header *h,
			const uint8_t nmk[SFS_KEY_BYTES],
			const uint8_t vk[SFS_KEY_BYTES]);
/* Unwraps the volume key. -EKEYREJECTED when nmk is not the volume's key
 * (key id mismatch or authentication failure). */
int sfs_volume_unwrap_key(const struct sfs_volume_header *h,
			  const uint8_t nmk[SFS_KEY_BYTES],
			  uint8_t vk[SFS_KEY_BYTES], char *err,
			  size_t err_len) SFS_WUR;

/* What the mount asks for. */
/* Takes the lock a mounted volume's daemon holds for its whole life: an
 * exclusive flock on the header file (the backing directory and .scratchfs
 * carry the locks of scratchfs-run, the wipe and key rotation). Returns the
 * fd that holds it, -ENOENT without a header, -EWOULDBLOCK when another
 * process holds it, or -errno. */
int sfs_volume_lock(int backing_fd);

/* Removes the header (and a temp header) and the metadata directory of
 * a volume this process created and never mounted, so that a corrected
 * retry finds the backing directory fresh. 0 or -errno. */
int sfs_volume_discard(int backing_fd);

struct sfs_volume_params {
	bool encrypted;
	enum sfs_aead aead; /* NONE = pick the fastest available */
	struct sfs_key_spec key;
};

/* Opens the volume in the backing directory, creating it (fresh random
 * volume key, header) when the directory is empty. Refuses, with a message
 * saying what to do: a non-empty directory without a header, a header with
 * the other mode, an ephemeral volume from a previous run, a wrong key.
 * For an encrypted volume *vk receives the volume key in secret memory
 * (free with sfs_secret_free); for a plain one *vk is NULL. */
int sfs_volume_open(int backing_fd, const char *backing_path,
		    const struct sfs_volume_params *p,
		    struct sfs_volume_header *hdr, uint8_t **vk, char *err,
		    size_t err_len);

/* Formats a 16-byte id as 32 lowercase hex characters plus NUL. */
void sfs_hex(char *out, const uint8_t *in, size_t len);

#endif
