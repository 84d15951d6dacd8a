/* volume.c - the volume header: layout, strict parsing, atomic write, key
 * wrapping, and opening or creating a volume at mount time.
 *
 * On-disk layout of <backing>/.scratchfs/volume (format version 4), exactly
 * 192 bytes, integers big-endian:
 *
 *   offset size  field
 *        0    8  magic "SCRFSVOL" (ASCII, no NUL)
 *        8    4  format version, u32 = 4 (1-3: scratchfs 0.1-0.3, refused)
 *       12    4  feature flags, u32; none defined in version 4, any set bit
 *                refuses the volume
 *       16   16  volume UUID (random)
 *       32    1  mode, u8: 0 plain (hbi=0), 1 encrypted (hbi=1)
 *       33    1  AEAD, u8: 0 none (plain), 1 XChaCha20-Poly1305,
 *                2 AES-256-GCM
 *       34    1  key source, u8: 0 none (plain), 1 ephemeral, 2 key file,
 *                3 kernel keyring, 4 key command
 *       35    1  reserved, must be 0
 *       36    4  block size, u32 = 4096 (plaintext bytes per block)
 *       40   16  node key id: public fingerprint of the node master key
 *                that wraps the volume key; zero unless key source is
 *                2, 3 or 4 (a wrapped key)
 *       56   72  keyslot: wrapped volume key = XChaCha20 nonce (24) ||
 *                encrypted key (32) || Poly1305 tag (16); zero unless key
 *                source is 2, 3 or 4
 *      128   32  reserved, must be 0
 *      160   32  checksum: BLAKE2b-256 (unkeyed) of bytes 0..159
 *
 * Keyslot: XChaCha20-Poly1305 under KEK = KDF(node master key, subkey id 1,
 * context "sfskek01"), with associated data = header bytes 0..55 (all
 * fields before the keyslot), so the wrapped key is bound to the UUID,
 * mode, cipher, key source and key id. The checksum only detects
 * accidental corruption; the keyslot's tag is what detects tampering.
 *
 * Consistency rules (anything else is refused):
 *   plain:     AEAD 0, key source 0, key id and keyslot zero
 *   encrypted: AEAD 1 or 2; key source 1 with key id and keyslot zero, or
 *              key source 2, 3 or 4 with key id and keyslot non-zero
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sfs_content.h"
#include "sfs_log.h"
#include "sfs_sys.h"
#include "sfs_volume.h"

#define OFF_MAGIC 0
#define OFF_VERSION 8
#define OFF_FLAGS 12
#define OFF_UUID 16
#define OFF_MODE 32
#define OFF_AEAD 33
#define OFF_KEY_SOURCE 34
#define OFF_RESERVED1 35
#define OFF_BLOCK_SIZE 36
#define OFF_KEY_ID 40
#define OFF_KEYSLOT 56
#define OFF_RESERVED2 128
#define OFF_CHECKSUM 160
#define CHECKSUM_BYTES 32
#define RESERVED2_BYTES (OFF_CHECKSUM - OFF_RESERVED2)
/* Associated data of the keyslot: everything before it. */
#define KEYSLOT_AD_BYTES OFF_KEYSLOT

_Static_assert(OFF_KEYSLOT == OFF_KEY_ID + SFS_KEY_ID_BYTES, "layout");
_Static_assert(OFF_RESERVED2 == OFF_KEYSLOT + SFS_KEYSLOT_BYTES, "layout");
_Static_assert(OFF_CHECKSUM + CHECKSUM_BYTES == SFS_VOLUME_HEADER_BYTES,
	       "layout");

#define META_DIR ".scratchfs"
#define TMP_FILE "volume.tmp"
#define KEK_CONTEXT "sfskek01"
#define KEK_SUBKEY_ID 1
/* A header file larger than this is not ours; no need to read it all. */
#define READ_MAX 4096

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

void sfs_hex(char *out, const uint8_t *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

void sfs_volume_encode(const struct sfs_volume_header *h, uint8_t *out)
{
	/* A plain serialiser: it writes whatever h holds (tests build bad
	 * headers with it); decode is where the rules are enforced. */
	memset(out, 0, SFS_VOLUME_HEADER_BYTES);
	memcpy(out + OFF_MAGIC, SFS_VOLUME_MAGIC, 8);
	put_be32(out + OFF_VERSION, h->version);
	put_be32(out + OFF_FLAGS, h->flags);
	memcpy(out + OFF_UUID, h->uuid, SFS_VOLUME_UUID_BYTES);
	out[OFF_MODE] = (uint8_t)h->mode;
	out[OFF_AEAD] = (uint8_t)h->aead;
	out[OFF_KEY_SOURCE] = (uint8_t)h->key_source;
	put_be32(out + OFF_BLOCK_SIZE, h->block_size);
	memcpy(out + OFF_KEY_ID, h->key_id, SFS_KEY_ID_BYTES);
	memcpy(out + OFF_KEYSLOT, h->keyslot, SFS_KEYSLOT_BYTES);
	sfs_hash256(out + OFF_CHECKSUM, out, OFF_CHECKSUM);
}

/* Field consistency of a parsed header (see the rules at the top). */
static int check_fields(const struct sfs_volume_header *h, char *err,
			size_t err_len)
{
	bool no_id = sfs_is_zero(h->key_id, SFS_KEY_ID_BYTES);
	bool no_slot = sfs_is_zero(h->keyslot, SFS_KEYSLOT_BYTES);

	if (h->mode == SFS_MODE_PLAIN) {
		if (h->aead != SFS_AEAD_NONE) {
			sfs_set_err(
			    err, err_len,
			    "volume header: plain volume with a cipher");
			return -EINVAL;
		}
		if (h->key_source != SFS_KEY_NONE) {
			sfs_set_err(err, err_len,
				    "volume header: plain volume with a key "
				    "source");
			return -EINVAL;
		}
		if (!no_id || !no_slot) {
			sfs_set_err(
			    err, err_len,
			    "volume header: plain volume with a keyslot");
			return -EINVAL;
		}
		return 0;
	}
	if (h->aead == SFS_AEAD_NONE) {
		sfs_set_err(err, err_len,
			    "volume header: encrypted volume without a cipher");
		return -EINVAL;
	}
	switch (h->key_source) {
	case SFS_KEY_NONE:
		sfs_set_err(err, err_len,
			    "volume header: encrypted volume without a key "
			    "source");
		return -EINVAL;
	case SFS_KEY_EPHEMERAL:
		if (!no_id || !no_slot) {
			sfs_set_err(err, err_len,
				    "volume header: ephemeral volume with a "
				    "keyslot");
			return -EINVAL;
		}
		return 0;
	case SFS_KEY_KEYFILE:
	case SFS_KEY_KEYRING:
	case SFS_KEY_COMMAND:
		if (no_id || no_slot) {
			sfs_set_err(
			    err, err_len, "volume header: %s volume without %s",
			    h->key_source == SFS_KEY_KEYFILE   ? "key-file"
			    : h->key_source == SFS_KEY_KEYRING ? "keyring"
							       : "key-command",
			    no_id ? "a key id" : "a keyslot");
			return -EINVAL;
		}
		return 0;
	}
	sfs_bug("volume key source not validated");
}

/* What changed since each older format version (version 1 first): each
 * was made by scratchfs 0.<version>. */
static const char *const old_formats[SFS_VOLUME_VERSION - 1] = {
    "packed content blocks",
    "one backing attribute per user.* xattr",
    "symlink targets only in the backing symlink",
};

int sfs_volume_decode(const uint8_t *in, size_t len,
		      struct sfs_volume_header *h, char *err, size_t err_len)
{
	uint8_t sum[CHECKSUM_BYTES];
	uint32_t version;

	memset(h, 0, sizeof(*h));
	if (len < 8 || memcmp(in + OFF_MAGIC, SFS_VOLUME_MAGIC, 8) != 0) {
		sfs_set_err(err, err_len, "volume header: bad magic");
		return -EINVAL;
	}
	/* Version before length: a future format may have another size. */
	if (len < OFF_VERSION + 4) {
		sfs_set_err(err, err_len,
			    "volume header: truncated (%zu bytes, expected %u)",
			    len, SFS_VOLUME_HEADER_BYTES);
		return -EINVAL;
	}
	version = get_be32(in + OFF_VERSION);
	if (version >= 1 && version < SFS_VOLUME_VERSION) {
		sfs_set_err(err, err_len,
			    "volume header: format version %u (scratchfs 0.%u, "
			    "%s) is not read by this scratchfs (reads %u): "
			    "mount it with scratchfs 0.%u to copy its files "
			    "out",
			    version, version, old_formats[version - 1],
			    SFS_VOLUME_VERSION, version);
		return -EINVAL;
	}
	if (version != SFS_VOLUME_VERSION) {
		sfs_set_err(
		    err, err_len,
		    "volume header: unsupported format version %u (this "
		    "scratchfs reads %u)",
		    version, SFS_VOLUME_VERSION);
		return -EINVAL;
	}
	if (len != SFS_VOLUME_HEADER_BYTES) {
		sfs_set_err(err, err_len,
			    "volume header: %s (%zu bytes, expected %u)",
			    len < SFS_VOLUME_HEADER_BYTES ? "truncated"
							  : "trailing bytes",
			    len, SFS_VOLUME_HEADER_BYTES);
		return -EINVAL;
	}
	sfs_hash256(sum, in, OFF_CHECKSUM);
	if (memcmp(sum, in + OFF_CHECKSUM, CHECKSUM_BYTES) != 0) {
		sfs_set_err(err, err_len,
			    "volume header: bad checksum (corrupted header)");
		return -EINVAL;
	}
	h->version = version;
	h->flags = get_be32(in + OFF_FLAGS);
	if (h->flags & ~SFS_VOLUME_KNOWN_FLAGS) {
		sfs_set_err(
		    err, err_len,
		    "volume header: unknown feature flags 0x%08x (made by "
		    "a newer scratchfs?)",
		    h->flags & ~SFS_VOLUME_KNOWN_FLAGS);
		return -EINVAL;
	}
	memcpy(h->uuid, in + OFF_UUID, SFS_VOLUME_UUID_BYTES);
	if (in[OFF_MODE] > SFS_MODE_ENCRYPTED) {
		sfs_set_err(err, err_len, "volume header: invalid mode %u",
			    in[OFF_MODE]);
		return -EINVAL;
	}
	h->mode = (enum sfs_mode)in[OFF_MODE];
	if (in[OFF_AEAD] > SFS_AEAD_AES256GCM) {
		sfs_set_err(err, err_len, "volume header: unknown cipher id %u",
			    in[OFF_AEAD]);
		return -EINVAL;
	}
	h->aead = (enum sfs_aead)in[OFF_AEAD];
	if (in[OFF_KEY_SOURCE] > SFS_KEY_COMMAND) {
		sfs_set_err(err, err_len,
			    "volume header: unknown key source %u",
			    in[OFF_KEY_SOURCE]);
		return -EINVAL;
	}
	h->key_source = (enum sfs_key_source)in[OFF_KEY_SOURCE];
	if (in[OFF_RESERVED1] != 0 ||
	    !sfs_is_zero(in + OFF_RESERVED2, RESERVED2_BYTES)) {
		sfs_set_err(err, err_len,
			    "volume header: non-zero reserved bytes");
		return -EINVAL;
	}
	h->block_size = get_be32(in + OFF_BLOCK_SIZE);
	if (h->block_size != SFS_BLOCK_SIZE) {
		sfs_set_err(
		    err, err_len,
		    "volume header: unsupported block size %u (expected "
		    "%u)",
		    h->block_size, SFS_BLOCK_SIZE);
		return -EINVAL;
	}
	memcpy(h->key_id, in + OFF_KEY_ID, SFS_KEY_ID_BYTES);
	memcpy(h->keyslot, in + OFF_KEYSLOT, SFS_KEYSLOT_BYTES);
	return check_fields(h, err, err_len);
}

/* The backing directory's .scratchfs, opened for *at() calls (never
 * through a symlink); -errno. */
static int open_meta_dir(int backing_fd)
{
	int dfd = openat(backing_fd, META_DIR,
			 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	return dfd < 0 ? -errno : dfd;
}

int sfs_volume_read(int backing_fd, struct sfs_volume_header *h, char *err,
		    size_t err_len)
{
	uint8_t buf[READ_MAX];
	struct stat st;
	ssize_t n;
	int dfd, fd, rc;

	dfd = open_meta_dir(backing_fd);
	if (dfd < 0) {
		rc = dfd;
		if (rc == -ENOENT)
			sfs_set_err(err, err_len, "no volume header (no %s)",
				    META_DIR);
		else
			sfs_set_err(err, err_len, "%s: %s", META_DIR,
				    rc == -ELOOP || rc == -ENOTDIR
					? "not a directory"
					: strerror(-rc));
		return rc;
	}
	fd = openat(dfd, SFS_VOLUME_FILE,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	rc = fd < 0 ? -errno : 0;
	close(dfd);
	if (rc) {
		if (rc == -ENOENT)
			sfs_set_err(err, err_len, "no volume header (no %s/%s)",
				    META_DIR, SFS_VOLUME_FILE);
		else
			sfs_set_err(err, err_len, "%s/%s: %s", META_DIR,
				    SFS_VOLUME_FILE,
				    rc == -ELOOP ? "is a symlink"
						 : strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		sfs_set_err(err, err_len, "%s/%s: %s", META_DIR,
			    SFS_VOLUME_FILE, strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		sfs_set_err(err, err_len, "%s/%s: not a regular file", META_DIR,
			    SFS_VOLUME_FILE);
		rc = -EINVAL;
		goto out;
	}
	if (st.st_size > READ_MAX) {
		sfs_set_err(err, err_len,
			    "volume header: %lld bytes, expected %u",
			    (long long)st.st_size, SFS_VOLUME_HEADER_BYTES);
		rc = -EINVAL;
		goto out;
	}
	n = sfs_pread_full(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		rc = (int)n;
		sfs_set_err(err, err_len, "%s/%s: %s", META_DIR,
			    SFS_VOLUME_FILE, strerror(-rc));
		goto out;
	}
	rc = sfs_volume_decode(buf, (size_t)n, h, err, err_len);
out:
	close(fd);
	return rc;
}

int sfs_volume_write(int backing_fd, const struct sfs_volume_header *h,
		     char *err, size_t err_len)
{
	uint8_t buf[SFS_VOLUME_HEADER_BYTES];
	const char *step;
	int dfd, fd = -1, rc;

	sfs_volume_encode(h, buf);
	if (mkdirat(backing_fd, META_DIR, 0700) != 0 && errno != EEXIST) {
		rc = -errno;
		sfs_set_err(err, err_len, "cannot create %s: %s", META_DIR,
			    strerror(-rc));
		return rc;
	}
	dfd = open_meta_dir(backing_fd);
	if (dfd < 0) {
		rc = dfd;
		sfs_set_err(err, err_len, "cannot open %s: %s", META_DIR,
			    rc == -ELOOP || rc == -ENOTDIR ? "not a directory"
							   : strerror(-rc));
		return rc;
	}
	step = "create " TMP_FILE;
	fd =
	    openat(dfd, TMP_FILE,
		   O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail_errno;
	/* A stale temp file keeps its old mode through O_TRUNC. */
	step = "chmod " TMP_FILE;
	if (fchmod(fd, 0600) != 0)
		goto fail_errno;
	step = "write " TMP_FILE;
	rc = sfs_write_full(fd, buf, sizeof(buf));
	if (rc)
		goto fail;
	step = "fsync " TMP_FILE;
	if (fsync(fd) != 0)
		goto fail_errno;
	step = "close " TMP_FILE;
	rc = close(fd);
	fd = -1;
	if (rc != 0)
		goto fail_errno;
	step = "rename " TMP_FILE;
	if (renameat(dfd, TMP_FILE, dfd, SFS_VOLUME_FILE) != 0)
		goto fail_errno;
	step = "fsync " META_DIR;
	if (fsync(dfd) != 0)
		goto fail_errno;
	step = "fsync the backing directory";
	rc = sfs_fsync_dir(backing_fd);
	if (rc)
		goto fail;
	close(dfd);
	return 0;

fail_errno:
	rc = -errno;
fail:
	sfs_set_err(err, err_len, "cannot write volume header: %s: %s", step,
		    strerror(-rc));
	if (fd >= 0) {
		close(fd);
		unlinkat(dfd, TMP_FILE, 0);
	}
	close(dfd);
	return rc;
}

int sfs_volume_lock(int backing_fd)
{
	int dfd = open_meta_dir(backing_fd), fd, rc;

	if (dfd < 0)
		return dfd;
	fd = openat(dfd, SFS_VOLUME_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	rc = fd < 0 ? -errno : 0;
	close(dfd);
	if (rc == 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
		rc = -errno;
		close(fd);
	}
	return rc ? rc : fd;
}

int sfs_volume_discard(int backing_fd)
{
	int dfd = open_meta_dir(backing_fd), rc = 0;

	if (dfd < 0)
		return dfd == -ENOENT ? 0 : dfd;
	if (unlinkat(dfd, SFS_VOLUME_FILE, 0) != 0 && errno != ENOENT)
		rc = -errno;
	if (unlinkat(dfd, TMP_FILE, 0) != 0 && errno != ENOENT && !rc)
		rc = -errno;
	close(dfd);
	if (!rc && unlinkat(backing_fd, META_DIR, AT_REMOVEDIR) != 0)
		rc = -errno;
	return rc;
}

static void derive_kek(uint8_t kek[SFS_KEY_BYTES],
		       const uint8_t nmk[SFS_KEY_BYTES])
{
	if (sfs_kdf(kek, SFS_KEY_BYTES, KEK_SUBKEY_ID, KEK_CONTEXT, nmk) != 0)
		sfs_bug("sfs_kdf failed for a 32-byte subkey");
}

int sfs_volume_wrap_key(struct sfs_volume_header *h,
			const uint8_t nmk[SFS_KEY_BYTES],
			const uint8_t vk[SFS_KEY_BYTES])
{
	uint8_t enc[SFS_VOLUME_HEADER_BYTES];
	uint8_t kek[SFS_KEY_BYTES];
	int rc;

	sfs_key_id(nmk, h->key_id);
	/* The AD is bytes 0..55, which include the key id just set. */
	sfs_volume_encode(h, enc);
	derive_kek(kek, nmk);
	rc = sfs_keywrap_seal(h->keyslot, vk, kek, enc, KEYSLOT_AD_BYTES);
	sfs_wipe(kek, sizeof(kek));
	return rc == 0 ? 0 : -EIO;
}

int sfs_volume_unwrap_key(const struct sfs_volume_header *h,
			  const uint8_t nmk[SFS_KEY_BYTES],
			  uint8_t vk[SFS_KEY_BYTES], char *err, size_t err_len)
{
	uint8_t enc[SFS_VOLUME_HEADER_BYTES];
	uint8_t id[SFS_KEY_ID_BYTES];
	uint8_t kek[SFS_KEY_BYTES];
	char want[2 * SFS_KEY_ID_BYTES + 1], have[2 * SFS_KEY_ID_BYTES + 1];
	int rc;

	sfs_key_id(nmk, id);
	if (memcmp(id, h->key_id, SFS_KEY_ID_BYTES) != 0) {
		sfs_hex(want, h->key_id, SFS_KEY_ID_BYTES);
		sfs_hex(have, id, SFS_KEY_ID_BYTES);
		sfs_set_err(
		    err, err_len,
		    "the node key does not open this volume (volume key "
		    "id %s, node key id %s)",
		    want, have);
		sfs_wipe(vk, SFS_KEY_BYTES);
		return -EKEYREJECTED;
	}
	sfs_volume_encode(h, enc);
	derive_kek(kek, nmk);
	rc = sfs_keywrap_open(vk, h->keyslot, kek, enc, KEYSLOT_AD_BYTES);
	sfs_wipe(kek, sizeof(kek));
	if (rc != 0) {
		sfs_set_err(
		    err, err_len,
		    "the keyslot does not authenticate (header tampered "
		    "with or corrupted)");
		return -EKEYREJECTED;
	}
	return 0;
}

/* True when dfd (a directory) holds nothing but the names in allowed. */
static int dir_holds_only(int dfd, const char *const *allowed, bool *only)
{
	struct dirent *de;
	DIR *d = sfs_opendir_at(dfd);

	if (!d)
		return -errno;
	*only = true;
	errno = 0;
	while (*only && (de = readdir(d)) != NULL) {
		bool ok = strcmp(de->d_name, ".") == 0 ||
			  strcmp(de->d_name, "..") == 0;

		for (size_t i = 0; !ok && allowed[i]; i++)
			ok = strcmp(de->d_name, allowed[i]) == 0;
		*only = ok;
		errno = 0;
	}
	if (*only && errno != 0) {
		int rc = -errno;

		closedir(d);
		return rc;
	}
	closedir(d);
	return 0;
}

/* Whether a backing directory without a header may become a new volume:
 * empty, or holding only an empty .scratchfs (or one with just a temp
 * header left by a creation that crashed before the rename). */
static int backing_is_fresh(int backing_fd, bool *fresh)
{
	static const char *const top[] = {META_DIR, NULL};
	static const char *const meta[] = {TMP_FILE, NULL};
	struct stat st;
	int dfd, rc;

	rc = dir_holds_only(backing_fd, top, fresh);
	if (rc || !*fresh)
		return rc;
	if (fstatat(backing_fd, META_DIR, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode)) {
		*fresh = false;
		return 0;
	}
	dfd = open_meta_dir(backing_fd);
	if (dfd < 0)
		return dfd;
	rc = dir_holds_only(dfd, meta, fresh);
	close(dfd);
	return rc;
}

static int create_volume(int backing_fd, const char *backing,
			 const struct sfs_volume_params *p,
			 struct sfs_volume_header *h, uint8_t **vk, char *err,
			 size_t err_len)
{
	char msg[512];
	uint8_t *nmk = NULL, *key = NULL;
	bool fresh;
	int rc;

	rc = backing_is_fresh(backing_fd, &fresh);
	if (rc) {
		sfs_set_err(err, err_len, "cannot read %s: %s", backing,
			    strerror(-rc));
		return rc;
	}
	if (!fresh) {
		sfs_set_err(
		    err, err_len,
		    "%s is not empty and holds no scratchfs volume; use an "
		    "empty directory",
		    backing);
		return -ENOTEMPTY;
	}

	memset(h, 0, sizeof(*h));
	h->version = SFS_VOLUME_VERSION;
	h->flags = 0;
	sfs_random(h->uuid, sizeof(h->uuid));
	h->block_size = SFS_BLOCK_SIZE;
	if (p->encrypted) {
		h->mode = SFS_MODE_ENCRYPTED;
		h->aead = p->aead != SFS_AEAD_NONE ? p->aead
						   : sfs_aead_pick_fastest();
		if (!sfs_aead_available(h->aead)) {
			sfs_set_err(
			    err, err_len,
			    "cipher %s is not available on this CPU; use "
			    "cipher=auto or cipher=xchacha20poly1305",
			    sfs_aead_name(h->aead));
			return -EOPNOTSUPP;
		}
		if (p->key.source != SFS_KEY_EPHEMERAL &&
		    p->key.source != SFS_KEY_KEYFILE &&
		    p->key.source != SFS_KEY_KEYRING &&
		    p->key.source != SFS_KEY_COMMAND) {
			sfs_set_err(err, err_len,
				    "an encrypted volume needs key=ephemeral, "
				    "keyfile, keyring or command (got %s)",
				    sfs_key_source_name(p->key.source));
			return -EINVAL;
		}
		h->key_source = p->key.source;
		key = sfs_secret_alloc(SFS_KEY_BYTES);
		if (!key) {
			sfs_set_err(err, err_len, "out of secret memory");
			return -ENOMEM;
		}
		sfs_random(key, SFS_KEY_BYTES);
		if (h->key_source != SFS_KEY_EPHEMERAL) {
			rc = sfs_keys_load_nmk(&p->key, &nmk, err, err_len);
			if (rc)
				goto fail;
			rc = sfs_volume_wrap_key(h, nmk, key);
			sfs_secret_free(nmk);
			if (rc) {
				sfs_set_err(err, err_len,
					    "cannot wrap the volume key");
				goto fail;
			}
		}
	} else {
		h->mode = SFS_MODE_PLAIN;
		h->aead = SFS_AEAD_NONE;
		h->key_source = SFS_KEY_NONE;
	}
	rc = sfs_volume_write(backing_fd, h, msg, sizeof(msg));
	if (rc) {
		sfs_set_err(err, err_len, "%s: %s", backing, msg);
		goto fail;
	}
	*vk = key;
	return 0;
fail:
	sfs_secret_free(key);
	return rc;
}

static int open_existing(const char *backing, const struct sfs_volume_params *p,
			 const struct sfs_volume_header *h, uint8_t **vk,
			 char *err, size_t err_len)
{
	char want[2 * SFS_KEY_ID_BYTES + 1], have[2 * SFS_KEY_ID_BYTES + 1];
	char what[PATH_MAX + 64];
	uint8_t id[SFS_KEY_ID_BYTES];
	uint8_t *nmk = NULL, *key;
	int rc;

	if (h->mode == SFS_MODE_PLAIN && p->encrypted) {
		sfs_set_err(
		    err, err_len,
		    "%s is a plain (hbi=0) volume; mount it with hbi=0 or "
		    "wipe it",
		    backing);
		return -EINVAL;
	}
	if (h->mode == SFS_MODE_ENCRYPTED && !p->encrypted) {
		sfs_set_err(err, err_len,
			    "%s is an encrypted (hbi=1) volume; mount it with "
			    "hbi=1 or wipe it",
			    backing);
		return -EINVAL;
	}
	if (h->mode == SFS_MODE_PLAIN)
		return 0;
	if (h->key_source == SFS_KEY_EPHEMERAL) {
		sfs_set_err(
		    err, err_len,
		    "%s holds an ephemeral volume from a previous run: its "
		    "key is gone, so its data is unreadable; wipe it "
		    "(scratchfs-wipe %s) or use an empty directory",
		    backing, backing);
		return -EKEYEXPIRED;
	}
	/* Wrapped-key volume. The header's cipher wins over a requested one:
	 * the data was written with it. The key source must match: it is
	 * bound into the keyslot. */
	if (p->key.source != h->key_source) {
		const char *name = sfs_key_source_name(h->key_source);

		sfs_set_err(
		    err, err_len,
		    "%s was created with key=%s; mount it with key=%s%s or "
		    "wipe it",
		    backing, name, name,
		    h->key_source == SFS_KEY_KEYFILE ? "[:PATH]" : "");
		return -EINVAL;
	}
	if (!sfs_aead_available(h->aead)) {
		sfs_set_err(
		    err, err_len,
		    "%s uses cipher %s, which this CPU does not support",
		    backing, sfs_aead_name(h->aead));
		return -EOPNOTSUPP;
	}
	rc = sfs_keys_load_nmk(&p->key, &nmk, err, err_len);
	if (rc)
		return rc;
	sfs_key_id(nmk, id);
	if (memcmp(id, h->key_id, SFS_KEY_ID_BYTES) != 0) {
		sfs_hex(want, h->key_id, SFS_KEY_ID_BYTES);
		sfs_hex(have, id, SFS_KEY_ID_BYTES);
		sfs_key_spec_describe(&p->key, what, sizeof(what));
		sfs_set_err(err, err_len,
			    "%s does not open %s (volume key id %s, %s id %s)",
			    what, backing, want,
			    p->key.source == SFS_KEY_KEYFILE   ? "key file"
			    : p->key.source == SFS_KEY_KEYRING ? "keyring key"
							       : "key command",
			    have);
		sfs_secret_free(nmk);
		return -EKEYREJECTED;
	}
	key = sfs_secret_alloc(SFS_KEY_BYTES);
	if (!key) {
		sfs_secret_free(nmk);
		sfs_set_err(err, err_len, "out of secret memory");
		return -ENOMEM;
	}
	rc = sfs_volume_unwrap_key(h, nmk, key, NULL, 0);
	sfs_secret_free(nmk);
	if (rc) {
		sfs_secret_free(key);
		sfs_key_spec_describe(&p->key, what, sizeof(what));
		sfs_set_err(err, err_len,
			    "%s: the volume key does not authenticate under %s "
			    "(header tampered with or corrupted)",
			    backing, what);
		return rc;
	}
	*vk = key;
	return 0;
}

int sfs_volume_open(int backing_fd, const char *backing_path,
		    const struct sfs_volume_params *p,
		    struct sfs_volume_header *hdr, uint8_t **vk, char *err,
		    size_t err_len)
{
	char msg[512];
	int rc;

	*vk = NULL;
	rc = sfs_volume_read(backing_fd, hdr, msg, sizeof(msg));
	if (rc == -ENOENT)
		return create_volume(backing_fd, backing_path, p, hdr, vk, err,
				     err_len);
	if (rc) {
		sfs_set_err(err, err_len, "%s: %s", backing_path, msg);
		return rc;
	}
	return open_existing(backing_path, p, hdr, vk, err, err_len);
}
