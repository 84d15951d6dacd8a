/* test_diskfull.c - a full backing disk: the writes that do not fit fail
 * with ENOSPC, and everything already stored still reads back, byte for
 * byte, after a remount. In encrypted mode that means no torn block: an
 * append that did not fit is taken back, an overwrite that might not fit
 * is refused before it touches a block. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mount_util.h"
#include "util.h"

#define KIB 1024L
#define CHUNK (64 * KIB)
#define KEEP_LEN (256 * KIB + 100) /* ends in a short block */
#define GROW_LEN (100 * KIB + 7)
#define GROW_MORE (200 * KIB)
#define FILL_MAX (64L << 20) /* the backing holds 4 MiB: stop long before */

static bool backing_mounted;

/* A 4 MiB tmpfs as the backing directory (mounted before the daemon). */
static void init_small_backing(void)
{
	struct sfs_mount *m = &sfs_fx;

	sfs_fx_init_setup();
	cr_assert_eq(mount("tmpfs", m->backing, "tmpfs", 0, "size=4m,mode=700"),
		     0, "mount tmpfs: %s", strerror(errno));
	backing_mounted = true;
}

static void fini_small_backing(void)
{
	/* Lazily: the daemon may still hold it; teardown stops the daemon,
	 * then removes a backing directory that is empty again. */
	if (backing_mounted)
		umount2(sfs_fx.backing, MNT_DETACH);
	backing_mounted = false;
	sfs_fx_fini();
}

/* Writes len pattern bytes of seed at off (pattern offset = file offset)
 * and fsyncs. 0, or -errno of the write or the fsync. */
static int put(const char *path, off_t off, size_t len, unsigned seed)
{
	uint8_t *buf = malloc(off + len);
	int fd, rc = 0;

	cr_assert_not_null(buf);
	sfs_fill_pattern(buf, off + len, seed);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	if (pwrite(fd, buf + off, len, off) != (ssize_t)len || fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	free(buf);
	return rc;
}

/* After a remount: path holds at least min_len and at most max_len bytes,
 * every one of them readable (no EIO) and the pattern of seed. */
static void expect_intact(const char *path, size_t min_len, size_t max_len,
			  unsigned seed)
{
	uint8_t *want = malloc(max_len), *got;
	size_t len;

	cr_assert_not_null(want);
	sfs_fill_pattern(want, max_len, seed);
	errno = 0;
	got = sfs_read_file(path, &len);
	cr_assert_not_null(got, "read %s: %s", path, strerror(errno));
	cr_assert(len >= min_len && len <= max_len,
		  "%s: %zu bytes, want %zu..%zu", path, len, min_len, max_len);
	cr_assert_eq(memcmp(got, want, len), 0, "%s: wrong bytes", path);
	free(got);
	free(want);
}

/* hbi=1 with a key file: the test remounts, an ephemeral key would not
 * survive that. */
static const char *const mount_opts[] = {"hbi=1,key=keyfile:", "hbi=0"};

SFS_CASE_PARAMS(diskfull, nothing_stored_is_lost, mount_opts)

ParameterizedTest(int *ci, diskfull, nothing_stored_is_lost,
		  .init = init_small_backing, .fini = fini_small_backing,
		  .timeout = 120)
{
	struct sfs_mount *m = &sfs_fx;
	char opts[PATH_MAX + 32], keep[PATH_MAX], grow[PATH_MAX],
	    fill[PATH_MAX];
	long filled = 0;
	int rc = 0;

	snprintf(opts, sizeof(opts), "%s%s", mount_opts[*ci],
		 *ci == 0 ? sfs_join(m->root, "node.key") : "");

	sfs_mount_start(m, opts);
	snprintf(keep, sizeof(keep), "%s", sfs_mpath(m, "keep"));
	snprintf(grow, sizeof(grow), "%s", sfs_mpath(m, "grow"));
	snprintf(fill, sizeof(fill), "%s", sfs_mpath(m, "fill"));
	cr_assert_eq(put(keep, 0, KEEP_LEN, 1), 0);
	cr_assert_eq(put(grow, 0, GROW_LEN, 2), 0);

	/* Fill the disk one fsynced chunk at a time. */
	while (filled < FILL_MAX && (rc = put(fill, filled, CHUNK, 3)) == 0)
		filled += CHUNK;
	cr_assert_eq(rc, -ENOSPC, "filling: %s after %ld bytes", strerror(-rc),
		     filled);

	/* An append that cannot fit fails with ENOSPC... */
	rc = put(grow, GROW_LEN, GROW_MORE, 2);
	cr_assert_eq(rc, -ENOSPC, "append on a full disk: %s", strerror(-rc));
	/* ...and so may an overwrite, but it may not damage anything. */
	rc = put(keep, 8192, 4096, 1);
	cr_assert(rc == 0 || rc == -ENOSPC, "overwrite: %s", strerror(-rc));
	rc = put(keep, 5000, 3000, 1);
	cr_assert(rc == 0 || rc == -ENOSPC, "overwrite: %s", strerror(-rc));

	/* What the disk holds, not what the kernel's cache remembers. */
	sfs_mount_stop(m);
	sfs_mount_start(m, opts);
	expect_intact(keep, KEEP_LEN, KEEP_LEN, 1);
	/* Earlier requests of the append may have landed whole. */
	expect_intact(grow, GROW_LEN, GROW_LEN + GROW_MORE, 2);
	expect_intact(fill, filled, filled + CHUNK, 3);
	/* Room again (once the daemon lets go of the unlinked file: the
	 * kernel forgets it at the latest at unmount): the append works. */
	cr_assert_eq(unlink(fill), 0);
	sfs_mount_stop(m);
	sfs_mount_start(m, opts);
	cr_assert_eq(put(grow, GROW_LEN, GROW_MORE, 2), 0);
	sfs_mount_stop(m);
	sfs_mount_start(m, opts);
	expect_intact(grow, GROW_LEN + GROW_MORE, GROW_LEN + GROW_MORE, 2);
	sfs_mount_stop(m);
	cr_assert(!sfs_log_contains(m, "integrity"),
		  "the daemon logged an integrity failure");
}
