/* test_tamper.c - offline tampering with an hbi volume's backing files is
 * detected: EIO and an "integrity" log line, never wrong bytes, and the
 * daemon keeps serving everything else. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "mount_util.h"
#include "sfs_status.h"
#include "util.h"

/* Geometry with cipher=xchacha20poly1305 (see doc/FORMAT.md section 5):
 * groups of one metadata page (the 18-byte file header in the first one's
 * 64-byte head, then a slot = 24-byte nonce || 16-byte tag per block) and
 * K data pages, each holding one block's ciphertext. */
#define BS 4096L
#define HDR 18L
#define HEAD 64L
#define NONCE 24L
#define TAG 16L
#define SLOT (NONCE + TAG)
#define K ((BS - HEAD) / SLOT)

/* The control file every test reads after tampering with something else. */
#define OTHER "other"
#define OTHER_LEN (3 * BS + 77)
#define OTHER_SEED 2

/* out = dir "/" name (PATH_MAX bytes); fails the test when too long. */
static void join(char *out, const char *dir, const char *name)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);

	cr_assert(n > 0 && n < PATH_MAX, "path too long: %s/%s", dir, name);
}

static off_t data_off(long block)
{
	return block / K * (K + 1) * BS + (1 + block % K) * BS;
}

static off_t slot_off(long block)
{
	return block / K * (K + 1) * BS + HEAD + block % K * SLOT;
}

static uint64_t cipher_size(uint64_t plain)
{
	long last = (long)((plain - 1) / BS);

	return plain == 0 ? 0 : (uint64_t)data_off(last) + plain - last * BS;
}

static void mount_volume(struct sfs_mount *m)
{
	char opts[PATH_MAX + 96];

	snprintf(opts, sizeof(opts),
		 "hbi=1,key=keyfile:%s,cipher=xchacha20poly1305",
		 sfs_join(m->root, "node.key"));
	sfs_mount_start(m, opts);
}

static uint8_t *pattern(size_t len, unsigned seed)
{
	uint8_t *buf = malloc(len ? len : 1);

	cr_assert_not_null(buf);
	sfs_fill_pattern(buf, len, seed);
	return buf;
}

/* Creates rel (through the mount) holding len pattern bytes of seed. */
static void make_file(const struct sfs_mount *m, const char *rel, size_t len,
		      unsigned seed)
{
	uint8_t *buf = pattern(len, seed);
	int rc = sfs_write_file(sfs_mpath(m, rel), buf, len);

	cr_assert_eq(rc, 0, "write %s: %s", rel, strerror(-rc));
	free(buf);
}

/* Writes the files, unmounts, and checks a clean run logs no integrity
 * failure (so the later log check can fail). */
static void populate_done(struct sfs_mount *m)
{
	make_file(m, OTHER, OTHER_LEN, OTHER_SEED);
	sfs_mount_stop(m);
	cr_assert(!sfs_log_contains(m, "integrity"),
		  "a clean mount already logged an integrity failure");
}

/* The single entry of type `type` (and size `size` unless -1) among the
 * non-reserved entries of backing directory dir. */
static void find_backing(const char *dir, mode_t type, long long size,
			 char *out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;

	cr_assert_not_null(d, "opendir %s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		cr_assert(fstatat(dirfd(d), e->d_name, &st,
				  AT_SYMLINK_NOFOLLOW) == 0);
		if ((st.st_mode & S_IFMT) != type ||
		    (size >= 0 && st.st_size != size))
			continue;
		found++;
		join(out, dir, e->d_name);
	}
	closedir(d);
	cr_assert_eq(found, 1,
		     "%d backing entries of type 0%o size %lld in %s, want 1",
		     found, type, size, dir);
}

/* The backing file of a plaintext file of plain_len bytes in the root. */
static void backing_file(const struct sfs_mount *m, size_t plain_len, char *out)
{
	find_backing(m->backing, S_IFREG, (long long)cipher_size(plain_len),
		     out);
}

static void bread(const char *path, off_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);

	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(pread(fd, buf, len, off), (ssize_t)len, "pread %s", path);
	close(fd);
}

static void bwrite(const char *path, off_t off, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY);

	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(pwrite(fd, buf, len, off), (ssize_t)len, "pwrite %s",
		     path);
	close(fd);
}

static void flip_byte(const char *path, off_t off)
{
	uint8_t b;

	bread(path, off, &b, 1);
	b ^= 0x01;
	bwrite(path, off, &b, 1);
}

/* Reads [off, off+len) of rel through a fresh fd (an open drops the page
 * cache of the file). Returns the byte count or -errno; any bytes returned
 * must be the original ones. */
static ssize_t read_checked(const struct sfs_mount *m, const char *rel,
			    off_t off, size_t len, const uint8_t *orig,
			    size_t orig_len)
{
	static uint8_t buf[64 * 1024]; /* static: no leak when we fail */
	ssize_t n, done = 0;
	int fd, err = 0;

	cr_assert_leq(len, sizeof(buf));
	fd = open(sfs_mpath(m, rel), O_RDONLY);
	if (fd < 0)
		return -errno;
	while ((size_t)done < len) {
		n = pread(fd, buf + done, len - done, off + done);
		if (n < 0) {
			err = errno;
			break;
		}
		if (n == 0)
			break;
		done += n;
	}
	close(fd);
	cr_assert_leq(off + done, (off_t)orig_len,
		      "%s: read past the original size (%zu)", rel, orig_len);
	cr_assert(done == 0 || !memcmp(buf, orig + off, done),
		  "%s: WRONG BYTES returned for [%jd, +%zd)", rel,
		  (intmax_t)off, done);
	return err && done == 0 ? -err : done;
}

/* The read of a tampered range fails with EIO. */
static void expect_eio(const struct sfs_mount *m, const char *rel, off_t off,
		       size_t len, const uint8_t *orig, size_t orig_len)
{
	ssize_t n = read_checked(m, rel, off, len, orig, orig_len);

	cr_assert_eq(n, -EIO, "%s [%jd, +%zu): want EIO, got %zd (%s)", rel,
		     (intmax_t)off, len, n, n < 0 ? strerror(-n) : "bytes");
}

/* An untouched range reads back completely and correctly. */
static void expect_ok(const struct sfs_mount *m, const char *rel, off_t off,
		      size_t len, const uint8_t *orig, size_t orig_len)
{
	ssize_t n = read_checked(m, rel, off, len, orig, orig_len);

	cr_assert_eq(n, (ssize_t)len,
		     "%s [%jd, +%zu): want all bytes, got %zd (%s)", rel,
		     (intmax_t)off, len, n, n < 0 ? strerror(-n) : "short");
}

/* Reading the whole file: EIO, or a correct prefix that stops before the
 * first bad byte (bad_off). Never bytes from the bad region. */
static void expect_whole_read_stops(const struct sfs_mount *m, const char *rel,
				    size_t bad_off, const uint8_t *orig,
				    size_t orig_len)
{
	ssize_t n = read_checked(m, rel, 0, orig_len, orig, orig_len);

	if (n == -EIO)
		return;
	cr_assert(n > 0 && (size_t)n <= bad_off,
		  "%s whole read: got %zd (%s), want EIO or a prefix ending "
		  "at or before %zu",
		  rel, n, n < 0 ? strerror(-n) : "bytes", bad_off);
}

/* Checks every block of rel: the ones in bad[] fail, the others read. */
static void check_blocks(const struct sfs_mount *m, const char *rel, size_t len,
			 unsigned seed, const long *bad, size_t nbad)
{
	uint8_t *orig = pattern(len, seed);
	long nblocks = (len + BS - 1) / BS, b;
	size_t first_bad = len, i;

	for (b = 0; b < nblocks; b++) {
		size_t blen = (size_t)(b == nblocks - 1 ? len - b * BS : BS);
		bool is_bad = false;

		for (i = 0; i < nbad; i++)
			is_bad |= bad[i] == b;
		if (is_bad) {
			expect_eio(m, rel, b * BS, blen, orig, len);
			/* A read that starts in a good block and runs into the
			 * bad one must not hand out bad bytes either. */
			if (b > 0)
				read_checked(m, rel, b * BS - 100, 200, orig,
					     len);
			if ((size_t)(b * BS) < first_bad)
				first_bad = b * BS;
		} else {
			expect_ok(m, rel, b * BS, blen, orig, len);
			expect_ok(m, rel, b * BS + 1, blen - 1, orig, len);
		}
	}
	expect_whole_read_stops(m, rel, first_bad, orig, len);
	free(orig);
}

/* After any tampering: logged, still alive, still serving other files. */
static void check_survived(const struct sfs_mount *m)
{
	struct stat a, b;

	cr_assert(sfs_log_contains(m, "integrity"),
		  "no \"integrity\" line in the daemon log");
	cr_assert(m->pid > 0 && kill(m->pid, 0) == 0, "the daemon died");
	cr_assert(stat(m->mnt, &a) == 0 && stat(m->root, &b) == 0 &&
		      a.st_dev != b.st_dev,
		  "no longer mounted");
	check_blocks(m, OTHER, OTHER_LEN, OTHER_SEED, NULL, 0);
}

/* Reported as every integrity failure is: an "integrity" audit record
 * saying @what (and naming nothing inside the volume), and the daemon's
 * integrity_failures counter above 0. */
static void check_reported(const struct sfs_mount *m, const char *what)
{
	char doc[4096], *audit = sfs_slurp(sfs_join(m->root, "audit.log"));
	ssize_t n = getxattr(m->mnt, SFS_STATUS_XATTR, doc, sizeof(doc) - 1);
	json_t *j;

	cr_assert(strstr(audit, "\"event\":\"integrity\"") &&
		      strstr(audit, what),
		  "no integrity record saying \"%s\" in the audit log:\n%s",
		  what, audit);
	free(audit);
	cr_assert_gt(n, 0, "status: %s", strerror(errno));
	doc[n] = '\0';
	j = json_loads(doc, 0, NULL);
	cr_assert(j);
	cr_assert_gt(
	    json_integer_value(json_object_get(j, "integrity_failures")), 0,
	    "status: %s", doc);
	json_decref(j);
}

/* ---- content blocks ------------------------------------------------- */

#define VICTIM "victim"
#define VICTIM_LEN (4 * BS + 1000)
#define VICTIM_SEED 1

struct flip_case {
	long block;
	bool in_slot; /* the byte is in the block's slot, not its data */
	long pos;     /* byte inside the slot or the data */
	const char *what;
};

static const struct flip_case flip_byte_cases[] = {
    {2, true, 0, "first nonce byte"},
    {2, false, 2000, "ciphertext byte"},
    {2, true, SLOT - 1, "last tag byte"},
    {2, true, NONCE, "first tag byte"},
    {0, false, 0, "first ciphertext byte of block 0"},
    {4, false, 999, "last ciphertext byte of the partial block"},
    {4, true, SLOT - 1, "tag end of the partial block"},
};

SFS_CASE_PARAMS(tamper, flip_byte, flip_byte_cases)

ParameterizedTest(int *ci, tamper, flip_byte, .init = sfs_fx_init_setup,
		  .fini = sfs_fx_fini, .timeout = 60)
{
	const struct flip_case *c = &flip_byte_cases[*ci];
	struct sfs_mount *m = &sfs_fx;
	char path[PATH_MAX];

	mount_volume(m);
	make_file(m, VICTIM, VICTIM_LEN, VICTIM_SEED);
	populate_done(m);

	backing_file(m, VICTIM_LEN, path);
	cr_log_info("flipping the %s (block %ld)", c->what, c->block);
	flip_byte(path, (c->in_slot ? slot_off(c->block) : data_off(c->block)) +
			    c->pos);

	mount_volume(m);
	check_blocks(m, VICTIM, VICTIM_LEN, VICTIM_SEED, &c->block, 1);
	check_survived(m);
}

/* A whole stored block, as an attacker would move it: data and slot. */
struct stored_block {
	uint8_t data[BS], slot[SLOT];
};

static void block_read(const char *path, long b, struct stored_block *sb)
{
	bread(path, data_off(b), sb->data, BS);
	bread(path, slot_off(b), sb->slot, SLOT);
}

static void block_write(const char *path, long b, const struct stored_block *sb)
{
	bwrite(path, data_off(b), sb->data, BS);
	bwrite(path, slot_off(b), sb->slot, SLOT);
}

Test(tamper, swap_blocks_within_a_file, .init = sfs_fx_init_setup,
     .fini = sfs_fx_fini, .timeout = 60)
{
	struct sfs_mount *m = &sfs_fx;
	static struct stored_block b1, b3;
	static const long bad[] = {1, 3};
	char path[PATH_MAX];

	mount_volume(m);
	make_file(m, VICTIM, VICTIM_LEN, VICTIM_SEED);
	populate_done(m);

	backing_file(m, VICTIM_LEN, path);
	block_read(path, 1, &b1);
	block_read(path, 3, &b3);
	block_write(path, 1, &b3);
	block_write(path, 3, &b1);

	mount_volume(m);
	check_blocks(m, VICTIM, VICTIM_LEN, VICTIM_SEED, bad, 2);
	check_survived(m);
}

Test(tamper, move_block_between_files, .init = sfs_fx_init_setup,
     .fini = sfs_fx_fini, .timeout = 60)
{
	struct sfs_mount *m = &sfs_fx;
	static struct stored_block blk;
	static const long bad[] = {2};
	const size_t alen = 4 * BS + 500, blen = 4 * BS + 900;
	char a[PATH_MAX], b[PATH_MAX];

	mount_volume(m);
	make_file(m, "a", alen, 3);
	make_file(m, "b", blen, 4);
	populate_done(m);

	backing_file(m, alen, a);
	backing_file(m, blen, b);
	block_read(a, 2, &blk);
	block_write(b, 2, &blk);

	mount_volume(m);
	check_blocks(m, "b", blen, 4, bad, 1);
	check_blocks(m, "a", alen, 3, NULL, 0);
	check_survived(m);
}

struct cut_case {
	long cut;	/* new backing size */
	long bad_block; /* the block that must give EIO, or -1 */
	/* The whole blocks before the cut must still read. Otherwise (a cut
	 * header, or a cut inside the first metadata page, which leaves an
	 * empty file) the file may refuse or lose everything. */
	bool prefix_ok;
	const char *what;
};

static const struct cut_case truncate_backing_cases[] = {
    {2 * BS + BS + 2000, 2, true, "mid-ciphertext of block 2"},
    {3 * BS + 1, 2, true, "one ciphertext byte of block 2 left"},
    {5 * BS + 500, 4, true, "inside the partial last block"},
    {HEAD + 2 * SLOT + 10, -1, false, "inside the slot of block 2"},
    {3 * BS, -1, true, "at a block boundary"},
    {10, -1, false, "inside the file header"},
};

SFS_CASE_PARAMS(tamper, truncate_backing, truncate_backing_cases)

ParameterizedTest(int *ci, tamper, truncate_backing, .init = sfs_fx_init_setup,
		  .fini = sfs_fx_fini, .timeout = 60)
{
	const struct cut_case *c = &truncate_backing_cases[*ci];
	struct sfs_mount *m = &sfs_fx;
	uint8_t *orig = pattern(VICTIM_LEN, VICTIM_SEED);
	char path[PATH_MAX];
	long b;

	mount_volume(m);
	make_file(m, VICTIM, VICTIM_LEN, VICTIM_SEED);
	populate_done(m);

	backing_file(m, VICTIM_LEN, path);
	cr_log_info("cutting the backing file %s", c->what);
	cr_assert(truncate(path, c->cut) == 0);

	mount_volume(m);
	/* No read anywhere may return a wrong byte (read_checked asserts
	 * that). */
	for (b = 0; b * BS < VICTIM_LEN; b++) {
		read_checked(m, VICTIM, b * BS, BS, orig, VICTIM_LEN);
		if (c->prefix_ok && c->cut >= data_off(b) + BS &&
		    (b + 1) * BS <= VICTIM_LEN)
			expect_ok(m, VICTIM, b * BS, BS, orig, VICTIM_LEN);
	}
	read_checked(m, VICTIM, 0, VICTIM_LEN, orig, VICTIM_LEN);
	if (c->bad_block >= 0) {
		/* The tail that is left cannot authenticate. */
		expect_eio(m, VICTIM, c->bad_block * BS, 10, orig, VICTIM_LEN);
		check_survived(m);
	} else {
		cr_assert(m->pid > 0 && kill(m->pid, 0) == 0,
			  "the daemon died");
		check_blocks(m, OTHER, OTHER_LEN, OTHER_SEED, NULL, 0);
	}
	free(orig);
}

struct header_case {
	int how; /* 0 other file's header, 1 id byte flipped, 2 bad version */
	const char *what;
};

static const struct header_case file_header_cases[] = {
    {0, "another file's header"},
    {1, "one id byte flipped"},
    {2, "unknown version"},
};

SFS_CASE_PARAMS(tamper, file_header, file_header_cases)

ParameterizedTest(int *ci, tamper, file_header, .init = sfs_fx_init_setup,
		  .fini = sfs_fx_fini, .timeout = 60)
{
	const struct header_case *c = &file_header_cases[*ci];
	struct sfs_mount *m = &sfs_fx;
	static const long bad[] = {0, 1, 2, 3, 4};
	uint8_t hdr[HDR];
	char path[PATH_MAX], opath[PATH_MAX];

	mount_volume(m);
	make_file(m, VICTIM, VICTIM_LEN, VICTIM_SEED);
	populate_done(m);

	backing_file(m, VICTIM_LEN, path);
	backing_file(m, OTHER_LEN, opath);
	cr_log_info("file header: %s", c->what);
	switch (c->how) {
	case 0:
		bread(opath, 0, hdr, HDR);
		bwrite(path, 0, hdr, HDR);
		break;
	case 1:
		flip_byte(path, 2 + 7);
		break;
	default:
		flip_byte(path, 0);
		break;
	}

	mount_volume(m);
	check_blocks(m, VICTIM, VICTIM_LEN, VICTIM_SEED, bad, 5);
	check_survived(m);
}

/* ---- names, symlinks, xattrs ---------------------------------------- */

struct name_case {
	/* 0 short name, 1 long name sidecar, 2 dir IV, 3 and 4: a FIFO in
	 * place of the sidecar and of the IV (must not block the daemon) */
	int how;
	const char *what;
	const char *reported; /* the audit record's "what" */
};

static const struct name_case names_cases[] = {
    {0, "a short encrypted name", "entry name does not authenticate"},
    {1, "a long name's sidecar", "entry name does not authenticate"},
    {2, "the directory IV", "entry name does not authenticate"},
    {3, "a FIFO as a long name's sidecar", "long name sidecar unreadable"},
    {4, "a FIFO as the directory IV", "directory IV unreadable"},
};

SFS_CASE_PARAMS(tamper, names, names_cases)

/* Changes one base64url character of s (never the first, so a name cannot
 * turn into a reserved one). */
static void flip_b64_char(char *s)
{
	size_t i = strlen(s) / 2;

	s[i] = s[i] == 'A' ? 'B' : 'A';
}

ParameterizedTest(int *ci, tamper, names, .init = sfs_fx_init_setup,
		  .fini = sfs_fx_fini, .timeout = 60)
{
	const struct name_case *c = &names_cases[*ci];
	bool bad_iv = c->how == 2 || c->how == 4;
	struct sfs_mount *m = &sfs_fx;
	const char *keep[] = {"keep1", "keep2"};
	char longname[201], target[PATH_MAX], bdir[PATH_MAX];
	char newpath[PATH_MAX], rel[300];
	const char *victim;
	size_t victim_len = 200, i, seen_keep = 0;
	DIR *d;
	struct dirent *e;

	memset(longname, 'L', 200);
	longname[200] = '\0';
	victim = c->how == 1 || c->how == 3 ? longname : "target";

	sfs_mount_write_audit_conf(m, NULL);
	mount_volume(m);
	cr_assert(mkdir(sfs_mpath(m, "d"), 0755) == 0);
	make_file(m, "d/keep1", 100, 11);
	make_file(m, "d/keep2", 300, 12);
	snprintf(rel, sizeof(rel), "d/%s", victim);
	make_file(m, rel, victim_len, 13);
	populate_done(m);

	find_backing(m->backing, S_IFDIR, -1, bdir);
	cr_log_info("corrupting %s", c->what);
	if (c->how == 0) {
		char *base;

		find_backing(bdir, S_IFREG, (long long)cipher_size(victim_len),
			     target);
		snprintf(newpath, sizeof(newpath), "%s", target);
		base = strrchr(newpath, '/') + 1;
		flip_b64_char(base);
		cr_assert(rename(target, newpath) == 0, "rename: %s",
			  strerror(errno));
	} else if (c->how == 1 || c->how == 3) {
		char *side;
		size_t len;

		d = opendir(bdir);
		cr_assert_not_null(d);
		target[0] = '\0';
		while ((e = readdir(d)) != NULL) {
			size_t n = strlen(e->d_name);

			if (!strncmp(e->d_name, ".sfs.L.", 7) && n > 5 &&
			    !strcmp(e->d_name + n - 5, ".name"))
				join(target, bdir, e->d_name);
		}
		closedir(d);
		cr_assert(target[0], "no long-name sidecar in %s", bdir);
		side = sfs_read_file(target, &len);
		cr_assert(side && len > 8);
		flip_b64_char(side);
		if (c->how == 1)
			cr_assert_eq(sfs_write_file(target, side, len), 0);
		else
			cr_assert(unlink(target) == 0 &&
				  mkfifo(target, 0600) == 0);
		free(side);
	} else {
		join(target, bdir, ".sfs.diriv");
		if (c->how == 2)
			flip_byte(target, 3);
		else
			cr_assert(unlink(target) == 0 &&
				  mkfifo(target, 0600) == 0);
	}

	mount_volume(m);
	d = opendir(sfs_mpath(m, "d"));
	/* A bad IV may refuse the whole directory; one bad name must not. */
	cr_assert(d || (bad_iv && errno == EIO),
		  "opendir d: %s (the directory must still list)",
		  strerror(errno));
	errno = 0;
	while (d && (e = readdir(d)) != NULL) {
		bool known =
		    !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");

		for (i = 0; i < 2; i++)
			if (!strcmp(e->d_name, keep[i])) {
				known = true;
				seen_keep++;
			}
		cr_assert(known,
			  "listing shows a name that was never created "
			  "(%zu bytes)",
			  strlen(e->d_name));
	}
	/* A bad IV spoils every name in the directory; otherwise only the
	 * tampered one is hidden. */
	cr_assert(errno == 0 || (bad_iv && errno == EIO), "readdir: %s",
		  strerror(errno));
	if (d)
		closedir(d);
	if (!bad_iv) {
		cr_assert_eq(seen_keep, 2,
			     "the untouched names are not listed");
		check_blocks(m, "d/keep1", 100, 11, NULL, 0);
		check_blocks(m, "d/keep2", 300, 12, NULL, 0);
	} else {
		cr_assert_eq(seen_keep, 0,
			     "names decrypted under a corrupted dir IV");
	}
	if (c->how == 0) {
		struct stat st;

		cr_assert(stat(sfs_mpath(m, rel), &st) != 0 &&
			      (errno == ENOENT || errno == EIO),
			  "the tampered entry is still served");
	}
	check_reported(m, c->reported);
	check_survived(m);
}

Test(tamper, symlink_target, .init = sfs_fx_init_setup, .fini = sfs_fx_fini,
     .timeout = 60)
{
	struct sfs_mount *m = &sfs_fx;
	char path[PATH_MAX], t[PATH_MAX];
	ssize_t n;

	mount_volume(m);
	cr_assert(symlink("/some/where/else", sfs_mpath(m, "lnk")) == 0);
	cr_assert(symlink("kept/target", sfs_mpath(m, "lnk2")) == 0);
	populate_done(m);

	/* Tell the two apart by their backing target length. */
	{
		DIR *d = opendir(m->backing);
		struct dirent *e;
		ssize_t best = -1;

		cr_assert_not_null(d);
		while ((e = readdir(d)) != NULL) {
			char p[PATH_MAX];
			struct stat st;

			join(p, m->backing, e->d_name);
			if (e->d_name[0] == '.' || lstat(p, &st) ||
			    !S_ISLNK(st.st_mode))
				continue;
			if (st.st_size > best) {
				best = st.st_size;
				memcpy(path, p, sizeof(path));
			}
		}
		closedir(d);
		cr_assert_gt(best, 0, "no backing symlink");
	}
	n = readlink(path, t, sizeof(t) - 1);
	cr_assert_gt(n, 4);
	t[n] = '\0';
	t[n / 2] ^= 0x01;
	if (t[n / 2] == '\0')
		t[n / 2] = 0x02;
	cr_assert(unlink(path) == 0 && symlink(t, path) == 0);

	mount_volume(m);
	n = readlink(sfs_mpath(m, "lnk"), t, sizeof(t));
	cr_assert(n < 0 && errno == EIO, "readlink of a tampered link: %zd %s",
		  n, n < 0 ? strerror(errno) : "(returned a target)");
	n = readlink(sfs_mpath(m, "lnk2"), t, sizeof(t));
	cr_assert(n == 11 && !memcmp(t, "kept/target", 11),
		  "the other symlink no longer reads");
	check_survived(m);
}

/* The two sidecars of the target store (FORMAT.md section 7.2). */
static void two_sidecars(const struct sfs_mount *m, char out[2][PATH_MAX])
{
	char store[PATH_MAX];
	struct dirent *e;
	int found = 0;
	DIR *d;

	join(store, m->backing, ".sfs.targets");
	d = opendir(store);
	cr_assert_not_null(d, "no target store: %s", strerror(errno));
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		cr_assert_lt(found, 2, "more than two sidecars");
		join(out[found++], store, e->d_name);
	}
	closedir(d);
	cr_assert_eq(found, 2, "%d sidecars in the target store", found);
}

/* Replaces the backing file path (mode 0400) with len bytes of buf. */
static void rewrite(const char *path, const void *buf, size_t len)
{
	cr_assert(unlink(path) == 0 || errno == ENOENT);
	cr_assert_eq(sfs_write_file(path, buf, len), 0, "%s", path);
}

/* 0 when the symlink rel of the mount reads as target, else the errno. */
static int reads_as(const struct sfs_mount *m, const char *rel,
		    const char *target)
{
	char t[PATH_MAX];
	ssize_t n;

	errno = 0;
	n = readlink(sfs_mpath(m, rel), t, sizeof(t));
	if (n < 0)
		return errno;
	cr_assert(n == (ssize_t)strlen(target) && !memcmp(t, target, (size_t)n),
		  "%s reads as other bytes", rel);
	return 0;
}

/* A target too long for the backing symlink lives in a sidecar: a flipped
 * byte in it, a cut one, a missing one, a FIFO in its place (which must not
 * block the daemon), and two sidecars of the same target swapped (each
 * sealed under the other's id) all read as EIO and are reported, never as
 * other bytes; put back, they read again. */
Test(tamper, symlink_sidecar, .init = sfs_fx_init_setup, .fini = sfs_fx_fini,
     .timeout = 120)
{
	static const char *const how[] = {"flipped byte", "cut short",
					  "missing", "a FIFO", "swapped"};
	struct sfs_mount *m = &sfs_fx;
	char side[2][PATH_MAX], target[4096];
	uint8_t *orig[2];
	size_t len[2];

	memset(target, 'S', 4095);
	target[4095] = '\0';
	sfs_mount_write_audit_conf(m, NULL);
	mount_volume(m);
	cr_assert(symlink(target, sfs_mpath(m, "lnk")) == 0, "symlink: %s",
		  strerror(errno));
	cr_assert(symlink(target, sfs_mpath(m, "lnk3")) == 0);
	cr_assert(symlink("kept/target", sfs_mpath(m, "lnk2")) == 0);
	populate_done(m);
	two_sidecars(m, side);
	for (int k = 0; k < 2; k++) {
		orig[k] = sfs_read_file(side[k], &len[k]);
		cr_assert_not_null(orig[k]);
		cr_assert_eq(len[k], 4095 + 16);
	}
	for (size_t i = 0; i < sizeof(how) / sizeof(how[0]); i++) {
		int a, b;

		cr_log_info("sidecar %s", how[i]);
		orig[0][len[0] / 2] ^= (uint8_t)(i == 0 ? 0x04 : 0);
		if (i == 0)
			rewrite(side[0], orig[0], len[0]);
		else if (i == 1)
			rewrite(side[0], orig[0], len[0] - 1);
		else if (i == 2)
			cr_assert(unlink(side[0]) == 0);
		else if (i == 3)
			cr_assert(unlink(side[0]) == 0 &&
				  mkfifo(side[0], 0600) == 0);
		else {
			rewrite(side[0], orig[1], len[1]);
			rewrite(side[1], orig[0], len[0]);
		}
		orig[0][len[0] / 2] ^= (uint8_t)(i == 0 ? 0x04 : 0);
		mount_volume(m);
		a = reads_as(m, "lnk", target);
		b = reads_as(m, "lnk3", target);
		if (i == 4)
			cr_assert(a == EIO && b == EIO,
				  "swapped: readlink gave %s and %s",
				  strerror(a), strerror(b));
		else
			cr_assert((a == EIO && b == 0) || (a == 0 && b == EIO),
				  "%s: readlink gave %s and %s", how[i],
				  strerror(a), strerror(b));
		cr_assert_eq(reads_as(m, "lnk2", "kept/target"), 0);
		check_reported(m, "symlink target does not authenticate");
		check_survived(m);
		sfs_mount_stop(m);
		for (int k = 0; k < 2; k++)
			rewrite(side[k], orig[k], len[k]);
		mount_volume(m);
		cr_assert_eq(reads_as(m, "lnk", target), 0, "%s, put back",
			     how[i]);
		cr_assert_eq(reads_as(m, "lnk3", target), 0);
		sfs_mount_stop(m);
	}
	free(orig[0]);
	free(orig[1]);
}

/* The user.* attributes of a file are one sealed set in one backing
 * attribute: no name or value shows on the backing file, a stray backing
 * user.* attribute is hidden and reported, and a flipped byte anywhere in
 * the set makes every attribute and the listing EIO. */
Test(tamper, xattr_values, .init = sfs_fx_init_setup, .fini = sfs_fx_fini,
     .timeout = 60)
{
	struct sfs_mount *m = &sfs_fx;
	static const char *const xn[] = {"user.one", "user.two", "user.three",
					 "user.four"};
	static const char *const xv[] = {"first value", "second value", "third",
					 "fourth value!"};
	char path[PATH_MAX], names[4096], v[512], buf[512];
	ssize_t len, vl, n;
	int i, nuser = 0;

	mount_volume(m);
	make_file(m, VICTIM, VICTIM_LEN, VICTIM_SEED);
	for (i = 0; i < 4; i++)
		cr_assert(setxattr(sfs_mpath(m, VICTIM), xn[i], xv[i],
				   strlen(xv[i]), 0) == 0,
			  "setxattr %s: %s", xn[i], strerror(errno));
	populate_done(m);

	backing_file(m, VICTIM_LEN, path);
	len = llistxattr(path, names, sizeof(names));
	cr_assert_gt(len, 0);
	for (n = 0; n < len; n += strlen(names + n) + 1)
		if (!strncmp(names + n, "user.", 5)) {
			cr_assert_str_eq(names + n, "user.sfs.x");
			nuser++;
		}
	cr_assert_eq(nuser, 1, "expected one backing user.* xattr, found %d",
		     nuser);
	vl = lgetxattr(path, "user.sfs.x", v, sizeof(v));
	cr_assert_gt(vl, 40);
	cr_assert_null(memmem(v, vl, "value", 5), "plaintext in the set");
	cr_assert_null(memmem(v, vl, "three", 5), "plaintext name in the set");
	cr_assert(lsetxattr(path, "user.stray", "s", 1, 0) == 0);

	mount_volume(m);
	for (i = 0; i < 4; i++) {
		n = getxattr(sfs_mpath(m, VICTIM), xn[i], buf, sizeof(buf));
		cr_assert(n == (ssize_t)strlen(xv[i]) && !memcmp(buf, xv[i], n),
			  "getxattr %s beside a stray attribute: %zd %s", xn[i],
			  n, n < 0 ? strerror(errno) : "");
	}
	n = listxattr(sfs_mpath(m, VICTIM), names, sizeof(names));
	cr_assert_gt(n, 0, "listxattr: %s", strerror(errno));
	cr_assert_null(memmem(names, n, "stray", 5), "stray name listed");
	cr_assert_null(memmem(names, n, "sfs.x", 5), "the set listed");
	cr_assert(sfs_log_contains(m, "stray"), "stray attribute not reported");
	sfs_mount_stop(m);

	v[vl / 2] ^= 0x01;
	cr_assert(lsetxattr(path, "user.sfs.x", v, vl, 0) == 0);
	mount_volume(m);
	for (i = 0; i < 4; i++) {
		n = getxattr(sfs_mpath(m, VICTIM), xn[i], buf, sizeof(buf));
		cr_assert(n < 0 && errno == EIO, "getxattr %s: %zd %s", xn[i],
			  n, n < 0 ? strerror(errno) : "(read a value)");
	}
	n = listxattr(sfs_mpath(m, VICTIM), names, sizeof(names));
	cr_assert(n < 0 && errno == EIO, "listxattr of a tampered set: %zd", n);
	cr_assert(setxattr(sfs_mpath(m, VICTIM), "user.new", "n", 1, 0) < 0 &&
		      errno == EIO,
		  "a change rewrote a tampered set");
	check_blocks(m, VICTIM, VICTIM_LEN, VICTIM_SEED, NULL, 0);
	check_survived(m);
}
