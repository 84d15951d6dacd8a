/* test_volume.c - volume header format, strict parsing, atomic write, the
 * volume lock, discarding a new volume, key wrapping and opening/creating
 * volumes. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sfs_volume.h"
#include "util.h"

#define HB SFS_VOLUME_HEADER_BYTES

static char tmpdir[256];
static char backing[PATH_MAX];
static int backing_fd = -1;

static void setup(void)
{
	cr_assert(sfs_crypto_init() == 0);
	sfs_tmpdir_make(tmpdir, sizeof(tmpdir), "volume");
	snprintf(backing, sizeof(backing), "%s/backing", tmpdir);
	cr_assert_eq(mkdir(backing, 0700), 0);
	backing_fd = open(backing, O_RDONLY | O_DIRECTORY);
	cr_assert(backing_fd >= 0);
}

static void teardown(void)
{
	if (backing_fd >= 0)
		close(backing_fd);
	sfs_tmpdir_remove(tmpdir);
}

TestSuite(volume, .init = setup, .fini = teardown, .timeout = 30);

/* A valid header of each kind; keyfile gets non-zero id and slot bytes
 * (decode does not unwrap). */
static void make_hdr(struct sfs_volume_header *h, enum sfs_mode mode,
		     enum sfs_key_source src)
{
	memset(h, 0, sizeof(*h));
	h->version = SFS_VOLUME_VERSION;
	h->flags = 0;
	sfs_random(h->uuid, sizeof(h->uuid));
	h->mode = mode;
	h->block_size = 4096;
	if (mode == SFS_MODE_ENCRYPTED) {
		h->aead = SFS_AEAD_XCHACHA20POLY1305;
		h->key_source = src;
		if (src == SFS_KEY_KEYFILE) {
			sfs_random(h->key_id, sizeof(h->key_id));
			sfs_random(h->keyslot, sizeof(h->keyslot));
		}
	}
}

static void assert_hdr_eq(const struct sfs_volume_header *a,
			  const struct sfs_volume_header *b)
{
	cr_assert_eq(a->version, b->version);
	cr_assert_eq(a->flags, b->flags);
	cr_assert_eq(memcmp(a->uuid, b->uuid, sizeof(a->uuid)), 0);
	cr_assert_eq(a->mode, b->mode);
	cr_assert_eq(a->aead, b->aead);
	cr_assert_eq(a->block_size, b->block_size);
	cr_assert_eq(a->key_source, b->key_source);
	cr_assert_eq(memcmp(a->key_id, b->key_id, sizeof(a->key_id)), 0);
	cr_assert_eq(memcmp(a->keyslot, b->keyslot, sizeof(a->keyslot)), 0);
}

static void fix_checksum(uint8_t *buf)
{
	sfs_hash256(buf + 160, buf, 160);
}

static void expect_decode_fails(const uint8_t *buf, size_t len, const char *msg)
{
	struct sfs_volume_header h;
	char err[256] = "";

	cr_assert_eq(sfs_volume_decode(buf, len, &h, err, sizeof(err)), -EINVAL,
		     "expected \"%s\"", msg);
	if (msg)
		cr_assert_str_eq(err, msg);
	else
		cr_assert_neq(err[0], '\0');
}

static void path_in_backing(char *out, size_t len, const char *rel)
{
	snprintf(out, len, "%s/%s", backing, rel);
}

static void write_file(const char *path, const void *buf, size_t len,
		       mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static size_t read_file(const char *path, uint8_t *buf, size_t max)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	n = read(fd, buf, max);
	cr_assert(n >= 0);
	close(fd);
	return (size_t)n;
}

/*
 * Encoding and strict decoding.
 */

Test(volume, hex)
{
	static const uint8_t in[3] = {0x00, 0xab, 0x7f};
	char out[7];

	memset(out, 'x', sizeof(out));
	sfs_hex(out, in, sizeof(in));
	cr_assert_str_eq(out, "00ab7f");
}

Test(volume, round_trip_each_kind)
{
	static const struct {
		enum sfs_mode mode;
		enum sfs_key_source src;
		enum sfs_aead aead;
	} kinds[] = {
	    {SFS_MODE_PLAIN, SFS_KEY_NONE, SFS_AEAD_NONE},
	    {SFS_MODE_ENCRYPTED, SFS_KEY_EPHEMERAL, SFS_AEAD_XCHACHA20POLY1305},
	    {SFS_MODE_ENCRYPTED, SFS_KEY_KEYFILE, SFS_AEAD_AES256GCM},
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct sfs_volume_header h, d;
		uint8_t buf[HB];
		char err[256] = "";

		make_hdr(&h, kinds[i].mode, kinds[i].src);
		h.aead = kinds[i].aead;
		sfs_volume_encode(&h, buf);
		cr_assert_eq(sfs_volume_decode(buf, HB, &d, err, sizeof(err)),
			     0, "kind %zu: %s", i, err);
		assert_hdr_eq(&h, &d);
	}
}

/* Pins the documented layout (volume.c, doc/FORMAT.md). */
Test(volume, layout_is_pinned)
{
	struct sfs_volume_header h;
	uint8_t buf[HB], sum[32];

	make_hdr(&h, SFS_MODE_ENCRYPTED, SFS_KEY_KEYFILE);
	h.aead = SFS_AEAD_AES256GCM;
	sfs_volume_encode(&h, buf);
	cr_assert_eq(memcmp(buf, "SCRFSVOL", 8), 0);
	cr_assert_eq(memcmp(buf + 8, "\0\0\0\4", 4), 0);
	cr_assert_eq(memcmp(buf + 12, "\0\0\0\0", 4), 0);
	cr_assert_eq(memcmp(buf + 16, h.uuid, 16), 0);
	cr_assert_eq(buf[32], 1);
	cr_assert_eq(buf[33], 2);
	cr_assert_eq(buf[34], 2);
	cr_assert_eq(buf[35], 0);
	cr_assert_eq(memcmp(buf + 36, "\0\0\x10\0", 4), 0);
	cr_assert_eq(memcmp(buf + 40, h.key_id, 16), 0);
	cr_assert_eq(memcmp(buf + 56, h.keyslot, 72), 0);
	cr_assert(sfs_is_zero(buf + 128, 32));
	sfs_hash256(sum, buf, 160);
	cr_assert_eq(memcmp(buf + 160, sum, 32), 0);
}

Test(volume, every_flipped_byte_is_refused)
{
	struct sfs_volume_header h;
	uint8_t good[HB], buf[HB];

	make_hdr(&h, SFS_MODE_ENCRYPTED, SFS_KEY_KEYFILE);
	sfs_volume_encode(&h, good);
	for (size_t i = 0; i < HB; i++) {
		static const uint8_t masks[] = {0x01, 0x80, 0xff};

		for (size_t m = 0; m < sizeof(masks); m++) {
			struct sfs_volume_header d;
			char err[256] = "";

			memcpy(buf, good, HB);
			buf[i] ^= masks[m];
			cr_assert_eq(
			    sfs_volume_decode(buf, HB, &d, err, sizeof(err)),
			    -EINVAL, "byte %zu ^ 0x%02x accepted", i, masks[m]);
			cr_assert_neq(err[0], '\0');
		}
	}
}

Test(volume, flipped_checksum_region_says_checksum)
{
	struct sfs_volume_header h;
	uint8_t buf[HB];

	make_hdr(&h, SFS_MODE_PLAIN, SFS_KEY_NONE);
	sfs_volume_encode(&h, buf);
	buf[100] ^= 1;
	expect_decode_fails(buf, HB,
			    "volume header: bad checksum (corrupted header)");
	sfs_volume_encode(&h, buf);
	buf[191] ^= 1;
	expect_decode_fails(buf, HB,
			    "volume header: bad checksum (corrupted header)");
}

Test(volume, wrong_lengths_are_refused)
{
	struct sfs_volume_header h;
	uint8_t buf[HB + 64];
	char msg[128];

	make_hdr(&h, SFS_MODE_PLAIN, SFS_KEY_NONE);
	sfs_volume_encode(&h, buf);
	memset(buf + HB, 0, 64);
	for (size_t len = 0; len < 12; len++)
		expect_decode_fails(buf, len, NULL);
	expect_decode_fails(buf, 0, "volume header: bad magic");
	expect_decode_fails(buf, 7, "volume header: bad magic");
	for (size_t len = 12; len < HB; len++) {
		snprintf(msg, sizeof(msg),
			 "volume header: truncated (%zu bytes, expected 192)",
			 len);
		expect_decode_fails(buf, len, msg);
	}
	expect_decode_fails(buf, HB + 1,
			    "volume header: trailing bytes (193 bytes, "
			    "expected 192)");
	expect_decode_fails(buf, HB + 64, NULL);
}

Test(volume, bad_magic)
{
	struct sfs_volume_header h;
	uint8_t buf[HB];

	make_hdr(&h, SFS_MODE_PLAIN, SFS_KEY_NONE);
	sfs_volume_encode(&h, buf);
	memcpy(buf, "SCRFSVOM", 8);
	fix_checksum(buf);
	expect_decode_fails(buf, HB, "volume header: bad magic");
}

Test(volume, unknown_version)
{
	static const uint32_t versions[] = {0, 5, 7, 0x01000000};

	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		struct sfs_volume_header h;
		uint8_t buf[HB];
		char msg[128];

		make_hdr(&h, SFS_MODE_PLAIN, SFS_KEY_NONE);
		h.version = versions[i];
		sfs_volume_encode(&h, buf);
		snprintf(msg, sizeof(msg),
			 "volume header: unsupported format version %u (this "
			 "scratchfs reads 4)",
			 versions[i]);
		expect_decode_fails(buf, HB, msg);
		/* A future format may be longer: still the version message. */
		expect_decode_fails(buf, 12, msg);
	}
}

/* Older versions (scratchfs 0.1: another content layout; 0.2: another
 * xattr layout; 0.3: no out-of-line symlink targets) are refused with a
 * message that says what to do, not read as the current version. */
Test(volume, old_versions_are_refused_with_advice)
{
	static const char *const want[] = {
	    "volume header: format version 1 (scratchfs 0.1, packed content "
	    "blocks) is not read by this scratchfs (reads 4): mount it with "
	    "scratchfs 0.1 to copy its files out",
	    "volume header: format version 2 (scratchfs 0.2, one backing "
	    "attribute per user.* xattr) is not read by this scratchfs (reads "
	    "4): mount it with scratchfs 0.2 to copy its files out",
	    "volume header: format version 3 (scratchfs 0.3, symlink targets "
	    "only in the backing symlink) is not read by this scratchfs (reads "
	    "4): mount it with scratchfs 0.3 to copy its files out",
	};

	for (uint32_t v = 1; v <= 3; v++) {
		struct sfs_volume_header h;
		uint8_t buf[HB];

		make_hdr(&h, SFS_MODE_ENCRYPTED, SFS_KEY_EPHEMERAL);
		h.version = v;
		sfs_volume_encode(&h, buf);
		expect_decode_fails(buf, HB, want[v - 1]);
	}
}

Test(volume, unknown_flags)
{
	static const uint32_t flags[] = {1, 2, 0x80000000, 0xffffffff};

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		struct sfs_volume_header h;
		uint8_t buf[HB];
		char msg[128];

		make_hdr(&h, SFS_MODE_ENCRYPTED, SFS_KEY_EPHEMERAL);
		h.flags = flags[i];
		sfs_volume_encode(&h, buf);
		snprintf(msg, sizeof(msg),
			 "volume header: unknown feature flags 0x%08x (made "
			 "by a newer scratchfs?)",
			 flags[i]);
		expect_decode_fails(buf, HB, msg);
	}
}

/* Inconsistent fields under a correct checksum. */
struct bad_fields {
	const char *msg;
	enum sfs_mode mode;
	enum sfs_key_source base_src;
	void (*mutate)(struct sfs_volume_header *h);
};

static void m_mode9(struct sfs_volume_header *h)
{
	h->mode = (enum sfs_mode)9;
}
static void m_aead3(struct sfs_volume_header *h)
{
	h->aead = (enum sfs_aead)3;
}
/* 5: one past the last key source (4, command). */
static void m_src5(struct sfs_volume_header *h)
{
	h->key_source = (enum sfs_key_source)5;
}
static void m_bs8192(struct sfs_volume_header *h)
{
	h->block_size = 8192;
}
static void m_bs0(struct sfs_volume_header *h)
{
	h->block_size = 0;
}
static void m_aead_xchacha(struct sfs_volume_header *h)
{
	h->aead = SFS_AEAD_XCHACHA20POLY1305;
}
static void m_aead_none(struct sfs_volume_header *h)
{
	h->aead = SFS_AEAD_NONE;
}
static void m_src_ephemeral(struct sfs_volume_header *h)
{
	h->key_source = SFS_KEY_EPHEMERAL;
}
static void m_src_keyfile(struct sfs_volume_header *h)
{
	h->key_source = SFS_KEY_KEYFILE;
}
static void m_src_none(struct sfs_volume_header *h)
{
	h->key_source = SFS_KEY_NONE;
}
static void m_key_id(struct sfs_volume_header *h)
{
	h->key_id[15] = 1;
}
static void m_keyslot(struct sfs_volume_header *h)
{
	h->keyslot[0] = 1;
}
static void m_no_key_id(struct sfs_volume_header *h)
{
	memset(h->key_id, 0, sizeof(h->key_id));
}
static void m_no_keyslot(struct sfs_volume_header *h)
{
	memset(h->keyslot, 0, sizeof(h->keyslot));
}

static const struct bad_fields bad_fields[] = {
    {"volume header: invalid mode 9", SFS_MODE_PLAIN, SFS_KEY_NONE, m_mode9},
    {"volume header: unknown cipher id 3", SFS_MODE_ENCRYPTED,
     SFS_KEY_EPHEMERAL, m_aead3},
    {"volume header: unknown key source 5", SFS_MODE_ENCRYPTED,
     SFS_KEY_EPHEMERAL, m_src5},
    {"volume header: unsupported block size 8192 (expected 4096)",
     SFS_MODE_PLAIN, SFS_KEY_NONE, m_bs8192},
    {"volume header: unsupported block size 0 (expected 4096)",
     SFS_MODE_ENCRYPTED, SFS_KEY_EPHEMERAL, m_bs0},
    {"volume header: plain volume with a cipher", SFS_MODE_PLAIN, SFS_KEY_NONE,
     m_aead_xchacha},
    {"volume header: plain volume with a key source", SFS_MODE_PLAIN,
     SFS_KEY_NONE, m_src_ephemeral},
    {"volume header: plain volume with a key source", SFS_MODE_PLAIN,
     SFS_KEY_NONE, m_src_keyfile},
    {"volume header: plain volume with a keyslot", SFS_MODE_PLAIN, SFS_KEY_NONE,
     m_key_id},
    {"volume header: plain volume with a keyslot", SFS_MODE_PLAIN, SFS_KEY_NONE,
     m_keyslot},
    {"volume header: encrypted volume without a cipher", SFS_MODE_ENCRYPTED,
     SFS_KEY_EPHEMERAL, m_aead_none},
    {"volume header: encrypted volume without a key source", SFS_MODE_ENCRYPTED,
     SFS_KEY_EPHEMERAL, m_src_none},
    {"volume header: ephemeral volume with a keyslot", SFS_MODE_ENCRYPTED,
     SFS_KEY_EPHEMERAL, m_keyslot},
    {"volume header: ephemeral volume with a keyslot", SFS_MODE_ENCRYPTED,
     SFS_KEY_EPHEMERAL, m_key_id},
    {"volume header: key-file volume without a keyslot", SFS_MODE_ENCRYPTED,
     SFS_KEY_KEYFILE, m_no_keyslot},
    {"volume header: key-file volume without a key id", SFS_MODE_ENCRYPTED,
     SFS_KEY_KEYFILE, m_no_key_id},
    {"volume header: key-file volume without a key id", SFS_MODE_ENCRYPTED,
     SFS_KEY_EPHEMERAL, m_src_keyfile},
};

Test(volume, inconsistent_fields_refused_despite_checksum)
{
	for (size_t i = 0; i < sizeof(bad_fields) / sizeof(bad_fields[0]);
	     i++) {
		struct sfs_volume_header h, d;
		uint8_t buf[HB];
		char err[256] = "";

		make_hdr(&h, bad_fields[i].mode, bad_fields[i].base_src);
		bad_fields[i].mutate(&h);
		sfs_volume_encode(&h, buf);
		cr_expect_eq(sfs_volume_decode(buf, HB, &d, err, sizeof(err)),
			     -EINVAL, "case %zu", i);
		cr_expect_str_eq(err, bad_fields[i].msg, "case %zu", i);
	}
}

Test(volume, reserved_bytes_must_be_zero)
{
	static const size_t offs[] = {35, 128, 140, 159};

	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		struct sfs_volume_header h;
		uint8_t buf[HB];

		make_hdr(&h, SFS_MODE_ENCRYPTED, SFS_KEY_EPHEMERAL);
		sfs_volume_encode(&h, buf);
		buf[offs[i]] = 0x40;
		fix_checksum(buf);
		expect_decode_fails(buf, HB,
				    "volume header: non-zero reserved bytes");
	}
}

/*
 * Atomic write and read.
 */

Test(volume, write_then_read_back)
{
	struct sfs_volume_header h, d;
	char err[512] = "", path[PATH_MAX + 64];
	uint8_t disk[HB + 1], enc[HB];
	struct stat st;

	make_hdr(&h, SFS_MODE_ENCRYPTED, SFS_KEY_KEYFILE);
	cr_assert_eq(sfs_volume_write(backing_fd, &h, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(sfs_volume_read(backing_fd, &d, err, sizeof(err)), 0, "%s",
		     err);
	assert_hdr_eq(&h, &d);

	path_in_backing(path, sizeof(path), ".scratchfs");
	cr_assert_eq(lstat(path, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0700);
	path_in_backing(path, sizeof(path), ".scratchfs/volume");
	cr_assert_eq(lstat(path, &st), 0);
	cr_assert(S_ISREG(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(read_file(path, disk, sizeof(disk)), HB);
	sfs_volume_encode(&h, enc);
	cr_assert_eq(memcmp(disk, enc, HB), 0);
	path_in_backing(path, sizeof(path), ".scratchfs/volume.tmp");
	cr_assert_eq(access(path, F_OK), -1, "temp file left behind");

	/* Rewriting replaces it. */
	make_hdr(&h, SFS_MODE_PLAIN, SFS_KEY_NONE);
	cr_assert_eq(sfs_volume_write(backing_fd, &h, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(sfs_volume_read(backing_fd, &d, err, sizeof(err)), 0, "%s",
		     err);
	assert_hdr_eq(&h, &d);
}

Test(volume, write_through_o_path_fd_and_over_stale_temp)
{
	struct sfs_volume_header h, d;
	char err[512] = "", path[PATH_MAX + 64];
	struct stat st;
	int pfd;

	path_in_backing(path, sizeof(path), ".scratchfs");
	cr_assert_eq(mkdir(path, 0700), 0);
	path_in_backing(path, sizeof(path), ".scratchfs/volume.tmp");
	write_file(path, "junk junk junk junk", 19, 0644);
	cr_assert_eq(chmod(path, 0644), 0);

	pfd = open(backing, O_PATH | O_DIRECTORY);
	cr_assert(pfd >= 0);
	make_hdr(&h, SFS_MODE_ENCRYPTED, SFS_KEY_EPHEMERAL);
	cr_assert_eq(sfs_volume_write(pfd, &h, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sfs_volume_read(pfd, &d, err, sizeof(err)), 0, "%s", err);
	close(pfd);
	assert_hdr_eq(&h, &d);
	path_in_backing(path, sizeof(path), ".scratchfs/volume");
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600);
}

Test(volume, read_without_header_is_enoent)
{
	struct sfs_volume_header d;
	char err[512] = "", path[PATH_MAX + 64];

	cr_assert_eq(sfs_volume_read(backing_fd, &d, err, sizeof(err)),
		     -ENOENT);
	path_in_backing(path, sizeof(path), ".scratchfs");
	cr_assert_eq(mkdir(path, 0700), 0);
	cr_assert_eq(sfs_volume_read(backing_fd, &d, err, sizeof(err)),
		     -ENOENT);
}

Test(volume, read_refuses_odd_files)
{
	struct sfs_volume_header h, d;
	char err[512] = "", path[PATH_MAX + 64], target[PATH_MAX + 64];
	uint8_t buf[HB + 1];

	make_hdr(&h, SFS_MODE_PLAIN, SFS_KEY_NONE);
	sfs_volume_encode(&h, buf);
	path_in_backing(path, sizeof(path), ".scratchfs");
	cr_assert_eq(mkdir(path, 0700), 0);
	path_in_backing(path, sizeof(path), ".scratchfs/volume");

	/* Truncated and too long. */
	write_file(path, buf, HB - 1, 0600);
	cr_assert_eq(sfs_volume_read(backing_fd, &d, err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "volume header: truncated (191 bytes, expected "
			      "192)");
	buf[HB] = 0;
	write_file(path, buf, HB + 1, 0600);
	cr_assert_eq(sfs_volume_read(backing_fd, &d, err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "volume header: trailing bytes (193 bytes, "
			      "expected 192)");

	/* A symlink to a good header. */
	cr_assert_eq(unlink(path), 0);
	snprintf(target, sizeof(target), "%s/good", tmpdir);
	write_file(target, buf, HB, 0600);
	cr_assert_eq(symlink(target, path), 0);
	cr_assert_eq(sfs_volume_read(backing_fd, &d, err, sizeof(err)), -ELOOP);
	cr_assert_str_eq(err, ".scratchfs/volume: is a symlink");

	/* A directory. */
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(mkdir(path, 0700), 0);
	cr_assert_eq(sfs_volume_read(backing_fd, &d, err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, ".scratchfs/volume: not a regular file");

	/* .scratchfs itself a symlink to a directory with a good header. */
	cr_assert_eq(rmdir(path), 0);
	path_in_backing(path, sizeof(path), ".scratchfs");
	cr_assert_eq(rmdir(path), 0);
	snprintf(target, sizeof(target), "%s/meta", tmpdir);
	cr_assert_eq(mkdir(target, 0700), 0);
	cr_assert_eq(symlink(target, path), 0);
	/* O_DIRECTORY | O_NOFOLLOW on a symlink gives ENOTDIR. */
	cr_assert_eq(sfs_volume_write(backing_fd, &h, err, sizeof(err)),
		     -ENOTDIR);
	cr_assert_str_eq(err, "cannot open .scratchfs: not a directory");
	snprintf(target, sizeof(target), "%s/meta/volume", tmpdir);
	cr_assert_eq(access(target, F_OK), -1, "written through a symlink");
	write_file(target, buf, HB, 0600);
	cr_assert_eq(sfs_volume_read(backing_fd, &d, err, sizeof(err)),
		     -ENOTDIR);
	cr_assert_str_eq(err, ".scratchfs: not a directory");
}

/*
 * The volume lock and discarding a volume never mounted.
 */

/* dir/.scratchfs made a symlink to the .scratchfs of a directory outside
 * (target) that holds a header. */
static void plant_meta_symlink(const char *dir, char *target, size_t len)
{
	struct sfs_volume_header h;
	char err[512] = "", path[PATH_MAX + 64];
	int fd;

	snprintf(target, len, "%s/elsewhere", tmpdir);
	cr_assert_eq(mkdir(target, 0700), 0);
	fd = open(target, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(fd, 0);
	make_hdr(&h, SFS_MODE_PLAIN, SFS_KEY_NONE);
	cr_assert_eq(sfs_volume_write(fd, &h, err, sizeof(err)), 0, "%s", err);
	close(fd);
	snprintf(target + strlen(target), len - strlen(target), "/.scratchfs");
	snprintf(path, sizeof(path), "%s/.scratchfs", dir);
	cr_assert_eq(symlink(target, path), 0);
}

Test(volume, lock_is_exclusive_and_needs_a_header)
{
	struct sfs_volume_header h;
	char err[512] = "", target[PATH_MAX], other[PATH_MAX];
	int fd, ofd;

	cr_assert_eq(sfs_volume_lock(backing_fd), -ENOENT);
	make_hdr(&h, SFS_MODE_PLAIN, SFS_KEY_NONE);
	cr_assert_eq(sfs_volume_write(backing_fd, &h, err, sizeof(err)), 0,
		     "%s", err);
	fd = sfs_volume_lock(backing_fd);
	cr_assert_geq(fd, 0, "%s", strerror(-fd));
	cr_assert_eq(sfs_volume_lock(backing_fd), -EWOULDBLOCK);
	close(fd);
	fd = sfs_volume_lock(backing_fd);
	cr_assert_geq(fd, 0, "%s", strerror(-fd));
	close(fd);

	/* Never through a symlinked .scratchfs. */
	snprintf(other, sizeof(other), "%s/other", tmpdir);
	cr_assert_eq(mkdir(other, 0700), 0);
	plant_meta_symlink(other, target, sizeof(target));
	ofd = open(other, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(ofd, 0);
	fd = sfs_volume_lock(ofd);
	close(ofd);
	cr_assert_eq(fd, -ENOTDIR, "%d", fd);
}

Test(volume, discard_removes_header_temp_and_meta_dir)
{
	struct sfs_volume_header h;
	char err[512] = "", path[PATH_MAX + 64];

	cr_assert_eq(sfs_volume_discard(backing_fd), 0, "no volume: nothing");
	make_hdr(&h, SFS_MODE_PLAIN, SFS_KEY_NONE);
	cr_assert_eq(sfs_volume_write(backing_fd, &h, err, sizeof(err)), 0,
		     "%s", err);
	path_in_backing(path, sizeof(path), ".scratchfs/volume.tmp");
	write_file(path, "junk", 4, 0600);
	cr_assert_eq(sfs_volume_discard(backing_fd), 0);
	path_in_backing(path, sizeof(path), ".scratchfs");
	cr_assert_eq(access(path, F_OK), -1, ".scratchfs left behind");
	cr_assert_eq(errno, ENOENT);
}

Test(volume, discard_refuses_a_symlinked_meta_dir)
{
	char target[PATH_MAX], path[PATH_MAX + 64];
	struct stat st;

	plant_meta_symlink(backing, target, sizeof(target));
	cr_assert_eq(sfs_volume_discard(backing_fd), -ENOTDIR);
	snprintf(path, sizeof(path), "%s/volume", target);
	cr_assert_eq(stat(path, &st), 0, "removed through a symlink");
	path_in_backing(path, sizeof(path), ".scratchfs");
	cr_assert_eq(lstat(path, &st), 0);
	cr_assert(S_ISLNK(st.st_mode));
}

/*
 * Key wrapping.
 */

Test(volume, wrap_unwrap)
{
	struct sfs_volume_header h;
	uint8_t nmk[SFS_KEY_BYTES], other[SFS_KEY_BYTES];
	uint8_t vk[SFS_KEY_BYTES], out[SFS_KEY_BYTES], id[SFS_KEY_ID_BYTES];
	char err[256] = "";

	sfs_random(nmk, sizeof(nmk));
	sfs_random(other, sizeof(other));
	sfs_random(vk, sizeof(vk));
	make_hdr(&h, SFS_MODE_ENCRYPTED, SFS_KEY_KEYFILE);
	memset(h.key_id, 0, sizeof(h.key_id));
	memset(h.keyslot, 0, sizeof(h.keyslot));
	cr_assert_eq(sfs_volume_wrap_key(&h, nmk, vk), 0);
	sfs_key_id(nmk, id);
	cr_assert_eq(memcmp(h.key_id, id, sizeof(id)), 0);
	cr_assert_not(sfs_is_zero(h.keyslot, sizeof(h.keyslot)));

	cr_assert_eq(sfs_volume_unwrap_key(&h, nmk, out, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(memcmp(out, vk, sizeof(vk)), 0);

	memset(out, 0x33, sizeof(out));
	cr_assert_eq(sfs_volume_unwrap_key(&h, other, out, err, sizeof(err)),
		     -EKEYREJECTED);
	cr_assert(strstr(err, "does not open this volume"), "%s", err);
	cr_assert(sfs_is_zero(out, sizeof(out)));

	/* Every field before the keyslot is bound to it. */
	h.uuid[3] ^= 1;
	memset(out, 0x33, sizeof(out));
	cr_assert_eq(sfs_volume_unwrap_key(&h, nmk, out, err, sizeof(err)),
		     -EKEYREJECTED);
	cr_assert_str_eq(err, "the keyslot does not authenticate (header "
			      "tampered with or corrupted)");
	cr_assert(sfs_is_zero(out, sizeof(out)));
	h.uuid[3] ^= 1;
	h.aead = SFS_AEAD_AES256GCM;
	cr_assert_eq(sfs_volume_unwrap_key(&h, nmk, out, err, sizeof(err)),
		     -EKEYREJECTED);
	h.aead = SFS_AEAD_XCHACHA20POLY1305;
	h.keyslot[40] ^= 0x10;
	cr_assert_eq(sfs_volume_unwrap_key(&h, nmk, out, err, sizeof(err)),
		     -EKEYREJECTED);
	h.keyslot[40] ^= 0x10;
	cr_assert_eq(sfs_volume_unwrap_key(&h, nmk, out, err, sizeof(err)), 0,
		     "%s", err);
}

/*
 * Opening and creating volumes.
 */

static void keyfile_params(struct sfs_volume_params *p, const char *name)
{
	memset(p, 0, sizeof(*p));
	p->encrypted = true;
	p->aead = SFS_AEAD_NONE;
	p->key.source = SFS_KEY_KEYFILE;
	snprintf(p->key.keyfile, sizeof(p->key.keyfile), "%s/keys/%s", tmpdir,
		 name);
}

static void ephemeral_params(struct sfs_volume_params *p)
{
	memset(p, 0, sizeof(*p));
	p->encrypted = true;
	p->aead = SFS_AEAD_NONE;
	p->key.source = SFS_KEY_EPHEMERAL;
}

static void plain_params(struct sfs_volume_params *p)
{
	memset(p, 0, sizeof(*p));
	p->encrypted = false;
	p->key.source = SFS_KEY_EPHEMERAL; /* ignored in plain mode */
}

static int open_vol(const struct sfs_volume_params *p,
		    struct sfs_volume_header *h, uint8_t **vk, char *err,
		    size_t len)
{
	return sfs_volume_open(backing_fd, backing, p, h, vk, err, len);
}

Test(volume, open_fresh_creates_each_kind)
{
	struct sfs_volume_params ps[3];

	ephemeral_params(&ps[0]);
	keyfile_params(&ps[1], "node.key");
	plain_params(&ps[2]);
	ps[1].aead = SFS_AEAD_XCHACHA20POLY1305;
	for (size_t i = 0; i < 3; i++) {
		struct sfs_volume_header h, d;
		uint8_t *vk = (uint8_t *)1;
		char err[1024] = "", path[PATH_MAX + 64];

		path_in_backing(path, sizeof(path), ".scratchfs/volume");
		unlink(path);
		cr_assert_eq(open_vol(&ps[i], &h, &vk, err, sizeof(err)), 0,
			     "%zu: %s", i, err);
		cr_assert_eq(sfs_volume_read(backing_fd, &d, err, sizeof(err)),
			     0, "%s", err);
		assert_hdr_eq(&h, &d);
		cr_assert_eq(h.version, 4);
		cr_assert_eq(h.block_size, 4096);
		cr_assert_not(sfs_is_zero(h.uuid, sizeof(h.uuid)));
		if (ps[i].encrypted) {
			cr_assert_eq(h.mode, SFS_MODE_ENCRYPTED);
			cr_assert(sfs_aead_available(h.aead));
			cr_assert_eq(h.key_source, ps[i].key.source);
			cr_assert_not_null(vk);
			cr_assert_not(sfs_is_zero(vk, SFS_KEY_BYTES));
			sfs_secret_free(vk);
		} else {
			cr_assert_eq(h.mode, SFS_MODE_PLAIN);
			cr_assert_eq(h.aead, SFS_AEAD_NONE);
			cr_assert_eq(h.key_source, SFS_KEY_NONE);
			cr_assert_null(vk);
		}
	}
}

Test(volume, requested_cipher_is_used_for_a_new_volume)
{
	struct sfs_volume_params p;
	struct sfs_volume_header h;
	uint8_t *vk = NULL;
	char err[1024] = "";

	ephemeral_params(&p);
	p.aead = SFS_AEAD_XCHACHA20POLY1305;
	cr_assert_eq(open_vol(&p, &h, &vk, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(h.aead, SFS_AEAD_XCHACHA20POLY1305);
	sfs_secret_free(vk);
}

Test(volume, two_volumes_get_different_keys_and_uuids)
{
	struct sfs_volume_params p;
	struct sfs_volume_header h1, h2;
	uint8_t *vk1 = NULL, *vk2 = NULL;
	char err[1024] = "", path[PATH_MAX + 64];

	ephemeral_params(&p);
	cr_assert_eq(open_vol(&p, &h1, &vk1, err, sizeof(err)), 0, "%s", err);
	path_in_backing(path, sizeof(path), ".scratchfs/volume");
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(open_vol(&p, &h2, &vk2, err, sizeof(err)), 0, "%s", err);
	cr_assert_neq(memcmp(h1.uuid, h2.uuid, sizeof(h1.uuid)), 0);
	cr_assert_neq(memcmp(vk1, vk2, SFS_KEY_BYTES), 0);
	sfs_secret_free(vk1);
	sfs_secret_free(vk2);
}

Test(volume, empty_meta_dir_or_stale_temp_counts_as_empty)
{
	struct sfs_volume_params p;
	struct sfs_volume_header h;
	uint8_t *vk = NULL;
	char err[1024] = "", path[PATH_MAX + 64];

	plain_params(&p);
	path_in_backing(path, sizeof(path), ".scratchfs");
	cr_assert_eq(mkdir(path, 0700), 0);
	path_in_backing(path, sizeof(path), ".scratchfs/volume.tmp");
	write_file(path, "x", 1, 0600);
	cr_assert_eq(open_vol(&p, &h, &vk, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(h.mode, SFS_MODE_PLAIN);
}

Test(volume, non_empty_dir_refused_and_untouched)
{
	static const char *const what[] = {"data", "meta-junk"};

	for (size_t i = 0; i < sizeof(what) / sizeof(what[0]); i++) {
		struct sfs_volume_params p;
		struct sfs_volume_header h;
		uint8_t *vk = (uint8_t *)1, buf[16];
		char err[1024] = "", msg[3 * PATH_MAX], path[PATH_MAX + 64];

		ephemeral_params(&p);
		if (i == 0) {
			path_in_backing(path, sizeof(path), "data");
		} else if (i == 1) {
			path_in_backing(path, sizeof(path), ".scratchfs");
			cr_assert_eq(mkdir(path, 0700), 0);
			path_in_backing(path, sizeof(path), ".scratchfs/junk");
		}
		write_file(path, "precious", 8, 0600);
		snprintf(msg, sizeof(msg),
			 "%s is not empty and holds no scratchfs volume; use "
			 "an empty directory",
			 backing);
		cr_assert_eq(open_vol(&p, &h, &vk, err, sizeof(err)),
			     -ENOTEMPTY, "%zu: %s", i, err);
		cr_assert_str_eq(err, msg);
		cr_assert_null(vk);
		cr_assert_eq(read_file(path, buf, sizeof(buf)), 8);
		cr_assert_eq(memcmp(buf, "precious", 8), 0);
		if (i == 0) {
			char meta[PATH_MAX + 64];

			path_in_backing(meta, sizeof(meta), ".scratchfs");
			cr_assert_eq(access(meta, F_OK), -1,
				     ".scratchfs created in a refused dir");
		}
		cr_assert_eq(unlink(path), 0);
		path_in_backing(path, sizeof(path), ".scratchfs");
		rmdir(path);
	}
}

Test(volume, meta_name_taken_by_a_file_refused)
{
	struct sfs_volume_params p;
	struct sfs_volume_header h;
	uint8_t *vk = (uint8_t *)1;
	char err[1024] = "", msg[3 * PATH_MAX], path[PATH_MAX + 64];
	struct stat st;

	ephemeral_params(&p);
	path_in_backing(path, sizeof(path), ".scratchfs");
	write_file(path, "precious", 8, 0600);
	cr_assert_eq(open_vol(&p, &h, &vk, err, sizeof(err)), -ENOTDIR);
	snprintf(msg, sizeof(msg), "%s: .scratchfs: not a directory", backing);
	cr_assert_str_eq(err, msg);
	cr_assert_null(vk);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISREG(st.st_mode));
	cr_assert_eq(st.st_size, 8);
}

Test(volume, mode_mismatch_refused)
{
	struct sfs_volume_params plain, enc;
	struct sfs_volume_header h;
	uint8_t *vk = NULL;
	char err[1024] = "", msg[3 * PATH_MAX], path[PATH_MAX + 64];

	plain_params(&plain);
	keyfile_params(&enc, "node.key");

	cr_assert_eq(open_vol(&plain, &h, &vk, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(open_vol(&enc, &h, &vk, err, sizeof(err)), -EINVAL);
	snprintf(msg, sizeof(msg),
		 "%s is a plain (hbi=0) volume; mount it with hbi=0 or wipe "
		 "it",
		 backing);
	cr_assert_str_eq(err, msg);
	cr_assert_null(vk);
	/* The plain volume itself still opens. */
	cr_assert_eq(open_vol(&plain, &h, &vk, err, sizeof(err)), 0, "%s", err);
	cr_assert_null(vk);

	path_in_backing(path, sizeof(path), ".scratchfs/volume");
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(open_vol(&enc, &h, &vk, err, sizeof(err)), 0, "%s", err);
	sfs_secret_free(vk);
	vk = NULL;
	cr_assert_eq(open_vol(&plain, &h, &vk, err, sizeof(err)), -EINVAL);
	snprintf(msg, sizeof(msg),
		 "%s is an encrypted (hbi=1) volume; mount it with hbi=1 or "
		 "wipe it",
		 backing);
	cr_assert_str_eq(err, msg);
	cr_assert_null(vk);
}

Test(volume, ephemeral_reopen_refused)
{
	struct sfs_volume_params p, kf;
	struct sfs_volume_header h;
	uint8_t *vk = NULL;
	char err[1024] = "", msg[3 * PATH_MAX];

	ephemeral_params(&p);
	cr_assert_eq(open_vol(&p, &h, &vk, err, sizeof(err)), 0, "%s", err);
	sfs_secret_free(vk);
	vk = NULL;
	snprintf(msg, sizeof(msg),
		 "%s holds an ephemeral volume from a previous run: its key "
		 "is gone, so its data is unreadable; wipe it (scratchfs-wipe "
		 "%s) or use an empty directory",
		 backing, backing);
	cr_assert_eq(open_vol(&p, &h, &vk, err, sizeof(err)), -EKEYEXPIRED);
	cr_assert_str_eq(err, msg);
	cr_assert_null(vk);
	/* Asking for a key file does not resurrect it either. */
	keyfile_params(&kf, "node.key");
	cr_assert_eq(open_vol(&kf, &h, &vk, err, sizeof(err)), -EKEYEXPIRED);
	cr_assert_null(vk);
}

Test(volume, keyfile_reopen_gives_same_key)
{
	struct sfs_volume_params p;
	struct sfs_volume_header h1, h2;
	uint8_t *vk1 = NULL, *vk2 = NULL;
	char err[1024] = "";

	keyfile_params(&p, "node.key");
	cr_assert_eq(open_vol(&p, &h1, &vk1, err, sizeof(err)), 0, "%s", err);
	/* A different requested cipher: the header wins. */
	p.aead = h1.aead == SFS_AEAD_XCHACHA20POLY1305
		     ? SFS_AEAD_AES256GCM
		     : SFS_AEAD_XCHACHA20POLY1305;
	cr_assert_eq(open_vol(&p, &h2, &vk2, err, sizeof(err)), 0, "%s", err);
	assert_hdr_eq(&h1, &h2);
	cr_assert_eq(memcmp(vk1, vk2, SFS_KEY_BYTES), 0);
	sfs_secret_free(vk1);
	sfs_secret_free(vk2);
}

Test(volume, keyfile_volume_needs_keyfile_option)
{
	struct sfs_volume_params p, e;
	struct sfs_volume_header h;
	uint8_t *vk = NULL;
	char err[1024] = "", msg[3 * PATH_MAX];

	keyfile_params(&p, "node.key");
	cr_assert_eq(open_vol(&p, &h, &vk, err, sizeof(err)), 0, "%s", err);
	sfs_secret_free(vk);
	vk = NULL;
	ephemeral_params(&e);
	cr_assert_eq(open_vol(&e, &h, &vk, err, sizeof(err)), -EINVAL);
	snprintf(msg, sizeof(msg),
		 "%s was created with key=keyfile; mount it with "
		 "key=keyfile[:PATH] or wipe it",
		 backing);
	cr_assert_str_eq(err, msg);
	cr_assert_null(vk);
}

Test(volume, wrong_key_file_rejected)
{
	struct sfs_volume_params p, other;
	struct sfs_volume_header h;
	uint8_t *vk = NULL;
	char err[1024] = "", prefix[3 * PATH_MAX];

	keyfile_params(&p, "node.key");
	cr_assert_eq(open_vol(&p, &h, &vk, err, sizeof(err)), 0, "%s", err);
	sfs_secret_free(vk);
	vk = NULL;
	keyfile_params(&other, "other.key");
	cr_assert_eq(open_vol(&other, &h, &vk, err, sizeof(err)),
		     -EKEYREJECTED);
	snprintf(prefix, sizeof(prefix),
		 "key file %s does not open %s (volume key id ",
		 other.key.keyfile, backing);
	cr_assert_eq(strncmp(err, prefix, strlen(prefix)), 0, "%s", err);
	cr_assert(strstr(err, ", key file id "), "%s", err);
	cr_assert_null(vk);
}

Test(volume, broken_key_file_reported)
{
	struct sfs_volume_params p;
	struct sfs_volume_header h;
	uint8_t *vk = NULL;
	char err[1024] = "", msg[3 * PATH_MAX];

	keyfile_params(&p, "node.key");
	cr_assert_eq(open_vol(&p, &h, &vk, err, sizeof(err)), 0, "%s", err);
	sfs_secret_free(vk);
	vk = NULL;
	cr_assert_eq(chmod(p.key.keyfile, 0644), 0);
	cr_assert_eq(open_vol(&p, &h, &vk, err, sizeof(err)), -EPERM);
	snprintf(msg, sizeof(msg),
		 "key file %s is accessible by group or others (mode 0644): "
		 "chmod 600 %s",
		 p.key.keyfile, p.key.keyfile);
	cr_assert_str_eq(err, msg);
	cr_assert_null(vk);
}

/* Rewrites the on-disk header with byte off XORed by mask and a fixed
 * checksum, as an attacker (not a bit flip) would. */
static void tamper(size_t off, uint8_t mask)
{
	char path[PATH_MAX + 64];
	uint8_t buf[HB];

	path_in_backing(path, sizeof(path), ".scratchfs/volume");
	cr_assert_eq(read_file(path, buf, sizeof(buf)), HB);
	buf[off] ^= mask;
	fix_checksum(buf);
	write_file(path, buf, HB, 0600);
}

Test(volume, tampered_header_refused)
{
	/* keyslot nonce, ciphertext, tag; uuid; key source byte kept. */
	static const size_t offs[] = {56, 80, 100, 127, 16, 31};

	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		struct sfs_volume_params p;
		struct sfs_volume_header h;
		uint8_t *vk = NULL;
		char err[1024] = "", msg[3 * PATH_MAX];
		char path[PATH_MAX + 64];

		keyfile_params(&p, "node.key");
		path_in_backing(path, sizeof(path), ".scratchfs/volume");
		unlink(path);
		cr_assert_eq(open_vol(&p, &h, &vk, err, sizeof(err)), 0, "%s",
			     err);
		sfs_secret_free(vk);
		vk = NULL;
		tamper(offs[i], 0x04);
		cr_assert_eq(open_vol(&p, &h, &vk, err, sizeof(err)),
			     -EKEYREJECTED, "offset %zu: %s", offs[i], err);
		snprintf(msg, sizeof(msg),
			 "%s: the volume key does not authenticate under key "
			 "file %s (header tampered with or corrupted)",
			 backing, p.key.keyfile);
		cr_assert_str_eq(err, msg);
		cr_assert_null(vk);
	}
}

Test(volume, swapped_cipher_refused)
{
	struct sfs_volume_params p;
	struct sfs_volume_header h;
	uint8_t *vk = NULL;
	char err[1024] = "";

	if (!sfs_aead_available(SFS_AEAD_AES256GCM))
		cr_skip_test("AES-GCM not available on this CPU");
	keyfile_params(&p, "node.key");
	p.aead = SFS_AEAD_XCHACHA20POLY1305;
	cr_assert_eq(open_vol(&p, &h, &vk, err, sizeof(err)), 0, "%s", err);
	sfs_secret_free(vk);
	vk = NULL;
	tamper(33, SFS_AEAD_XCHACHA20POLY1305 ^ SFS_AEAD_AES256GCM);
	cr_assert_eq(open_vol(&p, &h, &vk, err, sizeof(err)), -EKEYREJECTED,
		     "%s", err);
	cr_assert_null(vk);
}

Test(volume, corrupted_header_refused_with_path)
{
	struct sfs_volume_params p;
	struct sfs_volume_header h;
	uint8_t *vk = NULL, buf[HB];
	char err[1024] = "", msg[3 * PATH_MAX], path[PATH_MAX + 64];

	plain_params(&p);
	cr_assert_eq(open_vol(&p, &h, &vk, err, sizeof(err)), 0, "%s", err);
	path_in_backing(path, sizeof(path), ".scratchfs/volume");
	cr_assert_eq(read_file(path, buf, sizeof(buf)), HB);
	buf[20] ^= 1;
	write_file(path, buf, HB, 0600);
	cr_assert_eq(open_vol(&p, &h, &vk, err, sizeof(err)), -EINVAL);
	snprintf(msg, sizeof(msg),
		 "%s: volume header: bad checksum (corrupted header)", backing);
	cr_assert_str_eq(err, msg);
}
