/* test_symlink.c - symlink targets of every length symlink(2) takes (1 to
 * PATH_MAX - 1 = 4095 bytes) through an hbi mount, compared with a plain
 * directory: on the default backing filesystem, and on ext4 with 1 KiB
 * blocks, whose own symlinks hold at most 1023 bytes. Targets that do not
 * fit the backing symlink live in the target store (doc/FORMAT.md section
 * 7.2): hard links share them, renames keep them, the last unlink (or a
 * rename over the symlink) removes them, and they outlive a remount. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "mount_util.h"
#include "util.h"

/* A target of every length that matters: short, around the 1023-byte
 * symlinks of 1 KiB-block ext4, the longest inline one (4062), the first
 * that is never inline (4063) and the longest (4095). */
static const size_t lengths[] = {1,    100,  1000, 1023, 1024,
				 3000, 4062, 4063, 4095};

/* A target of len bytes (slashes, dots and bytes above 0x7f included),
 * different for each seed. */
static void make_target(char *out, size_t len, unsigned seed)
{
	static const char alphabet[] = "abc/./..//xyz\xc3\xa9-_0123456789";

	for (size_t i = 0; i < len; i++)
		out[i] = alphabet[(i * 7 + seed) % (sizeof(alphabet) - 1)];
	out[len] = '\0';
}

/* Entries in the backing root's target store (0 when there is none). */
static int sidecars(const struct sfs_mount *m)
{
	int n = sfs_dir_entries(sfs_bpath(m, ".sfs.targets"));

	return n < 0 ? 0 : n;
}

/* symlink(target, dir/name): 0 or errno. */
static int make_link(const char *dir, const char *name, const char *target)
{
	errno = 0;
	return symlink(target, sfs_join(dir, name)) == 0 ? 0 : errno;
}

/* dir/name reads back as target, and its size is the target's length. */
static void expect_target(const char *dir, const char *name, const char *target)
{
	char buf[PATH_MAX + 1];
	struct stat st;
	ssize_t n = readlink(sfs_join(dir, name), buf, sizeof(buf));

	cr_assert_eq(n, (ssize_t)strlen(target), "%s/%s: readlink %zd (%s)",
		     dir, name, n, n < 0 ? strerror(errno) : "wrong length");
	cr_assert_eq(memcmp(buf, target, (size_t)n), 0, "%s: other bytes",
		     name);
	cr_assert_eq(lstat(sfs_join(dir, name), &st), 0);
	cr_assert_eq(st.st_size, n, "%s: st_size %lld", name,
		     (long long)st.st_size);
}

/* Every length, on the mount and in the plain directory ref: the same
 * result, the same target back; 4096 bytes fail with ENAMETOOLONG. */
static void every_length(const struct sfs_mount *m, const char *ref)
{
	char target[PATH_MAX + 1], name[32];

	for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		int mine, disk;

		make_target(target, lengths[i], (unsigned)i);
		snprintf(name, sizeof(name), "l%zu", lengths[i]);
		mine = make_link(m->mnt, name, target);
		disk = make_link(ref, name, target);
		cr_assert_eq(mine, disk, "%zu bytes: mount %s, disk %s",
			     lengths[i], strerror(mine), strerror(disk));
		cr_assert_eq(mine, 0, "%zu bytes: %s", lengths[i],
			     strerror(mine));
		expect_target(m->mnt, name, target);
	}
	make_target(target, PATH_MAX, 9);
	cr_assert_eq(make_link(m->mnt, "l4096", target), ENAMETOOLONG);
	cr_assert_eq(make_link(ref, "l4096", target), ENAMETOOLONG);
}

/* The targets of every_length() after a remount. */
static void every_length_again(const struct sfs_mount *m)
{
	char target[PATH_MAX + 1], name[32];

	for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		make_target(target, lengths[i], (unsigned)i);
		snprintf(name, sizeof(name), "l%zu", lengths[i]);
		expect_target(m->mnt, name, target);
	}
}

/* A volume whose key outlives the mount (so it can be mounted again). */
static void mount_keyfile(struct sfs_mount *m)
{
	char opts[PATH_MAX + 64];

	snprintf(opts, sizeof(opts), "hbi=1,key=keyfile:%s",
		 sfs_join(m->root, "node.key"));
	sfs_mount_start(m, opts);
}

TestSuite(symlink, .init = sfs_fx_init_setup, .fini = sfs_fx_fini,
	  .timeout = 120);

Test(symlink, every_length_on_the_default_backing)
{
	struct sfs_mount *m = &sfs_fx;

	mount_keyfile(m);
	every_length(m, m->ref);
	/* 4063 and 4095 do not fit a backing symlink in their inline form. */
	cr_assert_geq(sidecars(m), 2);
	sfs_mount_stop(m);
	mount_keyfile(m);
	every_length_again(m);
	sfs_mount_stop(m);
}

/* Hard links share one sidecar, renames keep it, the last name takes it
 * along, and so does a rename over the symlink. */
Test(symlink, out_of_line_link_rename_unlink)
{
	struct sfs_mount *m = &sfs_fx;
	char a[4096], d[4096], buf[PATH_MAX];
	ssize_t n;
	int fd;

	make_target(a, 4095, 1);
	make_target(d, 4063, 2);
	sfs_mount_start(m, "hbi=1");
	cr_assert_eq(mkdir(sfs_mpath(m, "sub"), 0755), 0);
	cr_assert_eq(make_link(m->mnt, "a", a), 0);
	cr_assert_eq(sidecars(m), 1);
	cr_assert_eq(link(sfs_mpath(m, "a"), sfs_mpath(m, "sub/b")), 0,
		     "link: %s", strerror(errno));
	expect_target(m->mnt, "sub/b", a);
	cr_assert_eq(sidecars(m), 1, "a hard link has no sidecar of its own");
	cr_assert_eq(rename(sfs_mpath(m, "a"), sfs_mpath(m, "sub/c")), 0);
	expect_target(m->mnt, "sub/c", a);
	cr_assert_eq(unlink(sfs_mpath(m, "sub/c")), 0);
	expect_target(m->mnt, "sub/b", a);
	cr_assert_eq(sidecars(m), 1, "the sidecar went with a name left");
	cr_assert_eq(make_link(m->mnt, "d", d), 0);
	cr_assert_eq(sidecars(m), 2);
	cr_assert_eq(rename(sfs_mpath(m, "d"), sfs_mpath(m, "sub/b")), 0);
	expect_target(m->mnt, "sub/b", d);
	cr_assert_eq(sidecars(m), 1, "the replaced symlink kept its sidecar");
	/* An inline symlink over it, then a file over that. */
	cr_assert_eq(make_link(m->mnt, "e", "short"), 0);
	cr_assert_eq(rename(sfs_mpath(m, "e"), sfs_mpath(m, "sub/b")), 0);
	cr_assert_eq(sidecars(m), 0);
	cr_assert_eq(make_link(m->mnt, "f", a), 0);
	cr_assert_eq(sfs_write_file(sfs_mpath(m, "g"), "g", 1), 0);
	cr_assert_eq(rename(sfs_mpath(m, "g"), sfs_mpath(m, "f")), 0);
	cr_assert_eq(sidecars(m), 0);
	/* Read through a descriptor held across the last unlink: the target
	 * or ENOENT (its sidecar went with it), never EIO, and no integrity
	 * failure is reported. */
	cr_assert_eq(make_link(m->mnt, "h", a), 0);
	fd = open(sfs_mpath(m, "h"), O_PATH | O_NOFOLLOW);
	cr_assert_geq(fd, 0, "open: %s", strerror(errno));
	cr_assert_eq(unlink(sfs_mpath(m, "h")), 0);
	cr_assert_eq(sidecars(m), 0);
	n = readlinkat(fd, "", buf, sizeof(buf));
	cr_assert((n == 4095 && memcmp(buf, a, 4095) == 0) ||
		      (n < 0 && errno == ENOENT),
		  "readlink of an unlinked symlink: %zd (%s)", n,
		  n < 0 ? strerror(errno) : "other bytes");
	close(fd);
	cr_assert(!sfs_log_contains(m, "integrity"), "an integrity failure");
	sfs_mount_stop(m);
}

/* ext4 with 1 KiB blocks, loop-mounted at root/ext; the backing directory
 * and a plain directory (ext/plain) are inside it. */
static bool ext_mounted;

static void init_ext4_1k(void)
{
	struct sfs_mount *m = &sfs_fx;
	char cmd[4 * PATH_MAX];
	const char *img, *ext;

	sfs_fx_init_setup();
	if (geteuid() != 0)
		cr_skip_test("needs root to loop-mount an ext4 image");
	img = sfs_join(m->root, "ext4.img");
	ext = sfs_join(m->root, "ext");
	cr_assert_eq(mkdir(ext, 0755), 0);
	snprintf(cmd, sizeof(cmd),
		 "mkfs.ext4 -q -b 1024 -F '%s' 64M >/dev/null && mount -o loop "
		 "'%s' '%s'",
		 img, img, ext);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	ext_mounted = true;
	snprintf(m->backing, sizeof(m->backing), "%s/backing", ext);
	cr_assert_eq(mkdir(m->backing, 0755), 0);
	cr_assert_eq(mkdir(sfs_join(ext, "plain"), 0755), 0);
}

static void fini_ext4_1k(void)
{
	/* Lazily: the daemon may still hold it. Teardown stops the daemon,
	 * then removes the root, image included. */
	if (ext_mounted)
		umount2(sfs_join(sfs_fx.root, "ext"), MNT_DETACH);
	ext_mounted = false;
	sfs_fx_fini();
}

/* A suite of its own: a suite's .init would run besides this one's. */
TestSuite(symlink_ext4, .timeout = 120);

Test(symlink_ext4, every_length_with_1k_blocks, .init = init_ext4_1k,
     .fini = fini_ext4_1k)
{
	struct sfs_mount *m = &sfs_fx;
	char target[PATH_MAX + 1];
	struct statvfs sv;

	cr_assert_eq(statvfs(m->backing, &sv), 0);
	cr_assert_eq(sv.f_bsize, 1024);
	/* The disk's own limit: what the mount has to work around. */
	make_target(target, 1024, 0);
	cr_assert_eq(
	    make_link(sfs_join(sfs_fx.root, "ext/plain"), "l1024", target),
	    ENAMETOOLONG);
	mount_keyfile(m);
	/* Compared with a plain directory on the default backing filesystem
	 * (m->ref): every target POSIX allows, up to 4095 bytes. */
	every_length(m, m->ref);
	cr_assert_geq(sidecars(m), 6, "1023 bytes and up go out of line");
	sfs_mount_stop(m);
	mount_keyfile(m);
	every_length_again(m);
	sfs_mount_stop(m);
}
