/* test_keys.c - the key file provider: creation, checks, refusals. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sfs_keys.h"
#include "util.h"

static char tmpdir[256];

static void setup(void)
{
	cr_assert(sfs_crypto_init() == 0);
	sfs_tmpdir_make(tmpdir, sizeof(tmpdir), "keys");
}

static void teardown(void)
{
	sfs_tmpdir_remove(tmpdir);
}

TestSuite(keys, .init = setup, .fini = teardown, .timeout = 20);

static void spec_at(struct sfs_key_spec *spec, const char *rel)
{
	memset(spec, 0, sizeof(*spec));
	spec->source = SFS_KEY_KEYFILE;
	snprintf(spec->keyfile, sizeof(spec->keyfile), "%s/%s", tmpdir, rel);
}

static void write_bytes(const char *path, size_t len, mode_t mode)
{
	uint8_t buf[64];
	int fd;

	cr_assert(len <= sizeof(buf));
	memset(buf, 0x5a, sizeof(buf));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
}

/* Loads spec expecting failure rc and exactly the message msg. */
static void expect_refused(const struct sfs_key_spec *spec, int rc,
			   const char *msg)
{
	uint8_t *nmk = (uint8_t *)1;
	char err[3 * PATH_MAX] = "";

	cr_assert_eq(sfs_keys_load_nmk(spec, &nmk, err, sizeof(err)), rc,
		     "message: %s", err);
	cr_assert_null(nmk);
	cr_assert_str_eq(err, msg);
}

Test(keys, source_names)
{
	cr_assert_str_eq(sfs_key_source_name(SFS_KEY_NONE), "none");
	cr_assert_str_eq(sfs_key_source_name(SFS_KEY_EPHEMERAL), "ephemeral");
	cr_assert_str_eq(sfs_key_source_name(SFS_KEY_KEYFILE), "keyfile");
	cr_assert_str_eq(sfs_key_source_name((enum sfs_key_source)9),
			 "unknown");
}

Test(keys, creates_missing_file_and_directory)
{
	struct sfs_key_spec spec;
	uint8_t *a = NULL, *b = NULL, disk[SFS_KEY_BYTES + 1];
	char err[PATH_MAX + 256] = "", dir[PATH_MAX];
	struct stat st;
	int fd;

	spec_at(&spec, "etc/node.key");
	cr_assert_eq(sfs_keys_load_nmk(&spec, &a, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_not_null(a);
	cr_assert_not(sfs_is_zero(a, SFS_KEY_BYTES));

	snprintf(dir, sizeof(dir), "%s/etc", tmpdir);
	cr_assert_eq(lstat(dir, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0700, "dir mode %o", st.st_mode);
	cr_assert_eq(lstat(spec.keyfile, &st), 0);
	cr_assert(S_ISREG(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0600, "file mode %o", st.st_mode);
	cr_assert_eq(st.st_size, SFS_KEY_BYTES);
	cr_assert_eq(st.st_uid, geteuid());

	/* What is on disk is the key we were given. */
	fd = open(spec.keyfile, O_RDONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(read(fd, disk, sizeof(disk)), SFS_KEY_BYTES);
	close(fd);
	cr_assert_eq(memcmp(disk, a, SFS_KEY_BYTES), 0);

	/* A second load reads the same key and does not rewrite it. */
	cr_assert_eq(sfs_keys_load_nmk(&spec, &b, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(memcmp(a, b, SFS_KEY_BYTES), 0);
	sfs_secret_free(a);
	sfs_secret_free(b);
}

Test(keys, two_new_files_differ)
{
	struct sfs_key_spec s1, s2;
	uint8_t *a = NULL, *b = NULL;
	char err[3 * PATH_MAX] = "";

	spec_at(&s1, "a.key");
	spec_at(&s2, "b.key");
	cr_assert_eq(sfs_keys_load_nmk(&s1, &a, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(sfs_keys_load_nmk(&s2, &b, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_neq(memcmp(a, b, SFS_KEY_BYTES), 0);
	sfs_secret_free(a);
	sfs_secret_free(b);
}

Test(keys, creates_only_one_directory_level)
{
	struct sfs_key_spec spec;
	char msg[3 * PATH_MAX], dir[PATH_MAX];

	spec_at(&spec, "a/b/node.key");
	snprintf(dir, sizeof(dir), "%s/a/b", tmpdir);
	snprintf(msg, sizeof(msg),
		 "cannot create key file %s: mkdir %s: No such file or "
		 "directory",
		 spec.keyfile, dir);
	expect_refused(&spec, -ENOENT, msg);
}

Test(keys, refuses_group_or_other_access)
{
	static const mode_t modes[] = {0644, 0640, 0604, 0620, 0602, 0610};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct sfs_key_spec spec;
		char msg[3 * PATH_MAX];

		spec_at(&spec, "node.key");
		write_bytes(spec.keyfile, SFS_KEY_BYTES, modes[i]);
		snprintf(msg, sizeof(msg),
			 "key file %s is accessible by group or others (mode "
			 "%04o): chmod 600 %s",
			 spec.keyfile, (unsigned int)modes[i], spec.keyfile);
		expect_refused(&spec, -EPERM, msg);
	}
}

Test(keys, accepts_0400)
{
	struct sfs_key_spec spec;
	uint8_t *nmk = NULL, want[SFS_KEY_BYTES];
	char err[3 * PATH_MAX] = "";

	spec_at(&spec, "node.key");
	write_bytes(spec.keyfile, SFS_KEY_BYTES, 0400);
	cr_assert_eq(sfs_keys_load_nmk(&spec, &nmk, err, sizeof(err)), 0, "%s",
		     err);
	memset(want, 0x5a, sizeof(want));
	cr_assert_eq(memcmp(nmk, want, SFS_KEY_BYTES), 0);
	sfs_secret_free(nmk);
}

Test(keys, refuses_wrong_size)
{
	static const size_t sizes[] = {0, 1, 31, 33, 64};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct sfs_key_spec spec;
		char msg[3 * PATH_MAX];

		spec_at(&spec, "node.key");
		write_bytes(spec.keyfile, sizes[i], 0600);
		snprintf(msg, sizeof(msg),
			 "key file %s has %zu bytes, expected 32", spec.keyfile,
			 sizes[i]);
		expect_refused(&spec, -EINVAL, msg);
	}
}

Test(keys, refuses_symlink)
{
	struct sfs_key_spec spec, real;
	char msg[3 * PATH_MAX];

	spec_at(&real, "real.key");
	write_bytes(real.keyfile, SFS_KEY_BYTES, 0600);
	spec_at(&spec, "node.key");
	cr_assert_eq(symlink(real.keyfile, spec.keyfile), 0);
	snprintf(msg, sizeof(msg),
		 "key file %s is a symlink; refusing to follow it",
		 spec.keyfile);
	expect_refused(&spec, -ELOOP, msg);

	/* A dangling symlink is not "missing": no file is created through
	 * it. */
	cr_assert_eq(unlink(real.keyfile), 0);
	expect_refused(&spec, -ELOOP, msg);
	cr_assert_eq(access(real.keyfile, F_OK), -1);
}

Test(keys, refuses_directory)
{
	struct sfs_key_spec spec;
	char msg[3 * PATH_MAX];

	spec_at(&spec, "node.key");
	cr_assert_eq(mkdir(spec.keyfile, 0700), 0);
	snprintf(msg, sizeof(msg), "key file %s is a directory", spec.keyfile);
	expect_refused(&spec, -EINVAL, msg);
}

/* A FIFO must be refused at once, not block the mount. */
Test(keys, refuses_fifo_without_blocking, .timeout = 5)
{
	struct sfs_key_spec spec;
	char msg[3 * PATH_MAX];

	spec_at(&spec, "node.key");
	cr_assert_eq(mkfifo(spec.keyfile, 0600), 0);
	snprintf(msg, sizeof(msg), "key file %s is a FIFO", spec.keyfile);
	expect_refused(&spec, -EINVAL, msg);
}

Test(keys, refuses_foreign_owner_as_root)
{
	struct sfs_key_spec spec;
	char msg[3 * PATH_MAX];

	if (geteuid() != 0)
		cr_skip_test("needs root to chown");
	spec_at(&spec, "node.key");
	write_bytes(spec.keyfile, SFS_KEY_BYTES, 0600);
	cr_assert_eq(chown(spec.keyfile, 1234, 0), 0);
	snprintf(msg, sizeof(msg),
		 "key file %s is owned by uid 1234, not root: chown root %s",
		 spec.keyfile, spec.keyfile);
	expect_refused(&spec, -EPERM, msg);
}

Test(keys, refuses_bad_specs)
{
	struct sfs_key_spec spec;

	memset(&spec, 0, sizeof(spec));
	spec.source = SFS_KEY_EPHEMERAL;
	strcpy(spec.keyfile, "/etc/scratchfs/node.key");
	expect_refused(&spec, -EINVAL, "key source ephemeral has no node key");

	spec.source = SFS_KEY_NONE;
	expect_refused(&spec, -EINVAL, "key source none has no node key");

	spec.source = SFS_KEY_KEYFILE;
	strcpy(spec.keyfile, "node.key");
	expect_refused(&spec, -EINVAL,
		       "key file node.key: path must be absolute");

	memset(spec.keyfile, 'a', sizeof(spec.keyfile));
	expect_refused(&spec, -ENAMETOOLONG, "key file path is too long");
}

Test(keys, unreadable_parent_is_reported)
{
	struct sfs_key_spec spec;
	char msg[3 * PATH_MAX], file[PATH_MAX];

	/* A regular file where the directory should be. */
	snprintf(file, sizeof(file), "%s/notadir", tmpdir);
	write_bytes(file, 1, 0600);
	spec_at(&spec, "notadir/node.key");
	snprintf(msg, sizeof(msg), "cannot open key file %s: Not a directory",
		 spec.keyfile);
	expect_refused(&spec, -ENOTDIR, msg);
}
