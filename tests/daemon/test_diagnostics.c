/* test_diagnostics.c - an hbi workspace's diagnostics carry no plaintext:
 * files, directories, a long name, a symlink target, an xattr and file
 * contents are all named after a canary, then every diagnostic path that
 * can be provoked runs (tampered content, name and symlink target, a full
 * disk, names too long, scratchfs-ctl status, fsck, verify, the wipe),
 * and no daemon log line, audit record or tool output may hold the canary:
 * only volume ids, inode and block numbers and backing names. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "mount_util.h"
#include "util.h"

#define CANARY "zqxCanary7f3"

static bool tmpfs_mounted;

/* A 4 MiB tmpfs as the backing directory, so that the disk can be filled;
 * audit records to a file, the volume key under a node key file. */
static void init(void)
{
	struct sfs_mount *m = &sfs_fx;
	char extra[PATH_MAX + 32];

	sfs_fx_init_setup();
	cr_assert_eq(mount("tmpfs", m->backing, "tmpfs", 0, "size=4m,mode=700"),
		     0, "mount tmpfs: %s", strerror(errno));
	tmpfs_mounted = true;
	snprintf(extra, sizeof(extra), "keyfile = \"%s\";\n",
		 sfs_join(m->root, "node.key"));
	sfs_mount_write_audit_conf(m, extra);
}

static void fini(void)
{
	if (tmpfs_mounted)
		umount2(sfs_fx.backing, MNT_DETACH);
	tmpfs_mounted = false;
	sfs_fx_fini();
}

TestSuite(diagnostics, .init = init, .fini = fini, .timeout = 90);

/* Everything a tool printed, for the search at the end. */
static char said[1 << 20];
static size_t said_len;

static void run_tool(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static void run_tool(const char *fmt, ...)
{
	char cmd[4 * PATH_MAX];
	va_list ap;
	FILE *p;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	p = popen(cmd, "r");
	cr_assert(p, "%s", cmd);
	while (said_len < sizeof(said) - 1 &&
	       (n = fread(said + said_len, 1, sizeof(said) - 1 - said_len, p)) >
		   0)
		said_len += n;
	said[said_len] = '\0';
	pclose(p);
}

/* The backing entry (a path under the backing directory) of the largest
 * regular file, or of the first symlink, found below dir. */
static bool find_backing(const char *dir, mode_t type, char *out, off_t *best)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	bool found = false;
	struct stat st;
	char p[PATH_MAX];

	cr_assert(d, "%s", dir);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		cr_assert_eq(lstat(p, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			found |= find_backing(p, type, out, best);
		} else if ((st.st_mode & S_IFMT) == type &&
			   (type == S_IFLNK ? !found : st.st_size > *best)) {
			*best = st.st_size;
			snprintf(out, PATH_MAX, "%s", p);
			found = true;
		}
	}
	closedir(d);
	return found;
}

static void flip_byte_at(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	unsigned char c;

	cr_assert(fd >= 0, "%s", path);
	cr_assert_eq(pread(fd, &c, 1, off), 1);
	c ^= 0x55;
	cr_assert_eq(pwrite(fd, &c, 1, off), 1);
	close(fd);
}

Test(diagnostics, hbi_output_never_holds_the_canary)
{
	struct sfs_mount *m = &sfs_fx;
	char opts[PATH_MAX + 64], longname[256], big[PATH_MAX], lnk[PATH_MAX];
	char target[PATH_MAX], buf[4096], *text;
	static char content[64 * 1024];
	off_t best = 0;
	size_t len;
	int fd;
	DIR *d;

	snprintf(opts, sizeof(opts), "hbi=1,key=keyfile:%s",
		 sfs_join(m->root, "node.key"));
	sfs_mount_start(m, opts);
	for (size_t i = 0; i + sizeof(CANARY) <= sizeof(content);
	     i += sizeof(CANARY) - 1)
		memcpy(content + i, CANARY, sizeof(CANARY) - 1);
	cr_assert_eq(mkdir(sfs_mpath(m, CANARY "-dir"), 0755), 0);
	cr_assert_eq(sfs_write_file(sfs_mpath(m, CANARY "-dir/" CANARY "-file"),
				    content, sizeof(content)),
		     0);
	memset(longname, 'L', 200);
	memcpy(longname, CANARY, sizeof(CANARY) - 1);
	longname[200] = '\0';
	cr_assert_eq(sfs_write_file(sfs_mpath(m, longname), CANARY, 5), 0);
	cr_assert_eq(
	    symlink(CANARY "-target/" CANARY, sfs_mpath(m, CANARY "-link")), 0);
	cr_assert_eq(setxattr(sfs_mpath(m, CANARY "-dir/" CANARY "-file"),
			      "user." CANARY, CANARY "-value", 18, 0),
		     0);

	/* Names too long, with the canary in them. */
	memset(buf, 'N', 300);
	memcpy(buf, CANARY, sizeof(CANARY) - 1);
	buf[300] = '\0';
	cr_assert_eq(open(sfs_mpath(m, buf), O_CREAT | O_WRONLY, 0644), -1);
	cr_assert_eq(errno, ENAMETOOLONG);
	/* A full disk. */
	fd = open(sfs_mpath(m, CANARY "-fill"), O_CREAT | O_WRONLY, 0644);
	cr_assert(fd >= 0);
	for (int i = 0; i < 200 && write(fd, content, sizeof(content)) > 0; i++)
		;
	cr_assert(fsync(fd) < 0 || write(fd, content, sizeof(content)) < 0,
		  "the 4 MiB backing never filled");
	close(fd);
	cr_assert_eq(unlink(sfs_mpath(m, CANARY "-fill")), 0);
	run_tool("%s/scratchfs-ctl status --json %s", SFS_BUILD_DIR, m->mnt);
	run_tool("%s/scratchfs-ctl status %s", SFS_BUILD_DIR, m->mnt);
	sfs_mount_stop(m);

	/* Tampered content, symlink target and name, then read through a
	 * new mount. */
	cr_assert(find_backing(m->backing, S_IFREG, big, &best));
	flip_byte_at(big, 100);
	cr_assert(find_backing(m->backing, S_IFLNK, lnk, &best));
	len = (size_t)readlink(lnk, target, sizeof(target) - 1);
	target[len] = '\0';
	target[len / 2] = target[len / 2] == 'A' ? 'B' : 'A';
	cr_assert_eq(unlink(lnk), 0);
	cr_assert_eq(symlink(target, lnk), 0);
	sfs_mount_start(m, opts);
	cr_assert_eq(
	    sfs_read_file(sfs_mpath(m, CANARY "-dir/" CANARY "-file"), &len),
	    NULL);
	cr_assert_eq(errno, EIO);
	cr_assert_eq(readlink(sfs_mpath(m, CANARY "-link"), buf, sizeof(buf)),
		     -1);
	cr_assert_eq(errno, EIO);
	sfs_mount_stop(m);
	{
		char renamed[PATH_MAX];
		char *slash = strrchr(big, '/');

		snprintf(renamed, sizeof(renamed), "%s", big);
		slash = strrchr(renamed, '/') + 1;
		slash[3] = slash[3] == 'A' ? 'B' : 'A';
		cr_assert_eq(rename(big, renamed), 0);
	}
	sfs_mount_start(m, opts);
	d = opendir(sfs_mpath(m, CANARY "-dir"));
	cr_assert(d);
	while (readdir(d))
		;
	closedir(d);
	sfs_mount_stop(m);

	run_tool("%s/scratchfs-ctl fsck --json -o key=keyfile:%s %s",
		 SFS_BUILD_DIR, sfs_join(m->root, "node.key"), m->backing);
	run_tool("%s/scratchfs-ctl fsck -o key=keyfile:%s %s", SFS_BUILD_DIR,
		 sfs_join(m->root, "node.key"), m->backing);
	run_tool("%s/scratchfs-ctl verify --json %s", SFS_BUILD_DIR,
		 m->backing);
	run_tool("%s/scratchfs-wipe -c %s --json %s", SFS_BUILD_DIR, m->conf,
		 m->backing);
	cr_assert(strstr(said, "integrity") || strstr(said, "authenticate"),
		  "the tools reported no damage: %s", said);

	cr_assert(!strstr(said, CANARY), "a tool printed the canary:\n%s",
		  said);
	text = sfs_slurp(m->log);
	cr_assert(strstr(text, "integrity failure"), "%s", text);
	cr_assert(!strstr(text, CANARY), "the daemon logged the canary:\n%s",
		  text);
	free(text);
	text = sfs_slurp(sfs_join(m->root, "audit.log"));
	cr_assert(strstr(text, "\"event\":\"integrity\""), "%s", text);
	cr_assert(!strstr(text, CANARY),
		  "an audit record holds the canary:\n%s", text);
	free(text);
}
