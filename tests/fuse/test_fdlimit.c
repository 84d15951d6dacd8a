/* test_fdlimit.c - a daemon limited to NOFILE open files serves many more
 * entries than that: the inode table parks the fds of unused entries and
 * reopens them by handle. Objects without a name keep working, objects
 * removed behind the mount's back fail cleanly, and a daemon that does run
 * out of fds fails a listing with EMFILE, hiding no names. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "mount_util.h"
#include "util.h"

#define NOFILE 256
#define NDIRS 30
#define PER_DIR 100 /* NDIRS * PER_DIR = 3000 files */
#define NHELD 40    /* files kept open through everything */
#define NMOVED 300
#define NLINKS 200
#define NCHURN 600 /* enough new entries to park every unused fd */
#define NREUSE 20
#define PARK_LOG "closing those of unused entries"

static void start(const char *opts)
{
	sfs_mount_setup(&sfs_fx);
	/* The kernel keeps its entries and attributes for the whole test:
	 * on a loaded machine the churn can outlast the default 10 s, and a
	 * fresh lookup would reopen a parked fd before it is counted. */
	sfs_mount_write_conf(&sfs_fx, "fuse = { cache_timeout = 3600.0; };");
	sfs_fx.nofile = NOFILE;
	sfs_mount_start(&sfs_fx, opts);
}

static void init_hbi(void)
{
	start("hbi=1");
}

static void init_plain(void)
{
	start("hbi=0");
}

/* body() as one test per mode, each with its own mount. */
#define IN_BOTH_MODES(body, secs)                                              \
	Test(fdlimit, body##_hbi, .init = init_hbi, .fini = sfs_fx_fini,       \
	     .timeout = secs)                                                  \
	{                                                                      \
		body();                                                        \
	}                                                                      \
	Test(fdlimit, body##_plain, .init = init_plain, .fini = sfs_fx_fini,   \
	     .timeout = secs)                                                  \
	{                                                                      \
		body();                                                        \
	}

static int daemon_fds(void)
{
	char dir[64];
	int n;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)sfs_fx.pid);
	n = sfs_dir_entries(dir);
	cr_assert_geq(n, 0, "%s: %s", dir, strerror(errno));
	return n;
}

static void assert_fds_in_limit(const char *when)
{
	int n = daemon_fds();

	cr_assert_lt(n, NOFILE, "%s: daemon has %d fds open (limit %d)", when,
		     n, NOFILE);
}

/* O_PATH fds the daemon has on the backing object (dev, ino): 0 when the
 * entry's fd is parked. */
static int daemon_path_fds(dev_t dev, ino_t ino)
{
	char dir[64], path[PATH_MAX], info[512];
	struct dirent *de;
	struct stat st;
	int n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)sfs_fx.pid);
	d = opendir(dir);
	cr_assert_not_null(d);
	while ((de = readdir(d))) {
		unsigned long flags = 0;
		char *s;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) || st.st_dev != dev || st.st_ino != ino)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s",
			 (int)sfs_fx.pid, de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(info, sizeof(info), f))
			if ((s = strstr(info, "flags:")))
				flags = strtoul(s + 6, NULL, 8);
		fclose(f);
		n += (flags & O_PATH) != 0;
	}
	closedir(d);
	return n;
}

/* daemon_path_fds() of the object behind the mount path `rel` (the mount
 * shows backing inode numbers). */
static int path_fds_of(const char *rel)
{
	struct stat st, bst;

	cr_assert_eq(stat(sfs_mpath(&sfs_fx, rel), &st), 0, "stat %s: %s", rel,
		     strerror(errno));
	cr_assert_eq(stat(sfs_fx.backing, &bst), 0);
	return daemon_path_fds(bst.st_dev, st.st_ino);
}

static size_t file_size(int i)
{
	return 50 + (size_t)(i * 997) % 9000;
}

static void file_name(char *buf, size_t cap, int i)
{
	snprintf(buf, cap, "d%02d/sub/f%04d", i / PER_DIR, i);
}

static void check_content(const char *path, int i)
{
	size_t len, want = file_size(i);
	char *got = sfs_read_file(path, &len);
	char *exp = malloc(want);

	cr_assert_not_null(got, "read %s: %s", path, strerror(errno));
	cr_assert_not_null(exp);
	sfs_fill_pattern(exp, want, (unsigned)i);
	cr_assert_eq(len, want, "%s: %zu bytes, want %zu", path, len, want);
	cr_assert(memcmp(got, exp, want) == 0, "%s: content differs", path);
	free(got);
	free(exp);
}

/* Creates and stats `n` more entries in churn/, so that every unused
 * inode fd of the daemon gets parked. */
static void churn(int round, int n)
{
	char rel[64];
	struct stat st;

	snprintf(rel, sizeof(rel), "churn%d", round);
	cr_assert_eq(mkdir(sfs_mpath(&sfs_fx, rel), 0755), 0, "mkdir: %s",
		     strerror(errno));
	for (int i = 0; i < n; i++) {
		snprintf(rel, sizeof(rel), "churn%d/c%d", round, i);
		cr_assert_eq(sfs_write_file(sfs_mpath(&sfs_fx, rel), "c", 1), 0,
			     "create %s", rel);
		cr_assert_eq(stat(sfs_mpath(&sfs_fx, rel), &st), 0);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* readdir of a mount directory equals the sorted names in want[n]. */
static void check_listing(const char *rel, char **want, int n)
{
	char **got = calloc((size_t)n + 1, sizeof(*got));
	DIR *d = opendir(sfs_mpath(&sfs_fx, rel));
	struct dirent *de;
	int k = 0;

	cr_assert_not_null(d, "opendir %s: %s", rel, strerror(errno));
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		cr_assert_lt(k, n, "%s: more entries than %d", rel, n);
		got[k++] = strdup(de->d_name);
	}
	closedir(d);
	cr_assert_eq(k, n, "%s: %d entries, want %d", rel, k, n);
	qsort(got, (size_t)n, sizeof(*got), cmp_str);
	qsort(want, (size_t)n, sizeof(*want), cmp_str);
	for (int i = 0; i < n; i++) {
		cr_assert_str_eq(got[i], want[i], "%s", rel);
		free(got[i]);
	}
	free(got);
}

static void many_entries(void)
{
	char rel[128], rel2[128], buf[64];
	int held[NHELD];
	struct stat st, st2;

	for (int d = 0; d < NDIRS; d++) {
		snprintf(rel, sizeof(rel), "d%02d", d);
		cr_assert_eq(mkdir(sfs_mpath(&sfs_fx, rel), 0755), 0);
		snprintf(rel, sizeof(rel), "d%02d/sub", d);
		cr_assert_eq(mkdir(sfs_mpath(&sfs_fx, rel), 0755), 0);
	}
	cr_assert_eq(mkdir(sfs_mpath(&sfs_fx, "links"), 0755), 0);
	cr_assert_eq(mkdir(sfs_mpath(&sfs_fx, "syms"), 0755), 0);
	for (int i = 0; i < NDIRS * PER_DIR; i++) {
		size_t len = file_size(i);
		char *data = malloc(len);

		sfs_fill_pattern(data, len, (unsigned)i);
		file_name(rel, sizeof(rel), i);
		cr_assert_eq(sfs_write_file(sfs_mpath(&sfs_fx, rel), data, len),
			     0, "create %s", rel);
		free(data);
	}
	/* Every entry known to the kernel, some held open. */
	for (int i = 0; i < NDIRS * PER_DIR; i++) {
		file_name(rel, sizeof(rel), i);
		cr_assert_eq(stat(sfs_mpath(&sfs_fx, rel), &st), 0,
			     "stat %s: %s", rel, strerror(errno));
		cr_assert_eq((size_t)st.st_size, file_size(i));
	}
	for (int k = 0; k < NHELD; k++) {
		file_name(rel, sizeof(rel), k * 71);
		held[k] = open(sfs_mpath(&sfs_fx, rel), O_RDWR | O_CLOEXEC);
		cr_assert_geq(held[k], 0, "open %s: %s", rel, strerror(errno));
	}
	assert_fds_in_limit("after the creates");
	cr_assert(sfs_log_contains(&sfs_fx, PARK_LOG),
		  "the daemon never parked an fd");

	for (int i = 0; i < NDIRS * PER_DIR; i++) {
		file_name(rel, sizeof(rel), i);
		check_content(sfs_mpath(&sfs_fx, rel), i);
	}
	/* Rename across directories: the first NMOVED files to the next
	 * directory, under a new name. */
	for (int i = 0; i < NMOVED; i++) {
		file_name(rel, sizeof(rel), i);
		snprintf(rel2, sizeof(rel2), "d%02d/sub/m%04d",
			 (i / PER_DIR + 1) % NDIRS, i);
		cr_assert_eq(
		    rename(sfs_mpath(&sfs_fx, rel), sfs_mpath(&sfs_fx, rel2)),
		    0, "rename %s: %s", rel, strerror(errno));
	}
	/* Hard links and symlinks to files that were parked long ago. */
	for (int i = 0; i < NLINKS; i++) {
		int f = NMOVED + i * 7;

		file_name(rel, sizeof(rel), f);
		snprintf(rel2, sizeof(rel2), "links/l%04d", f);
		cr_assert_eq(
		    link(sfs_mpath(&sfs_fx, rel), sfs_mpath(&sfs_fx, rel2)), 0,
		    "link %s: %s", rel, strerror(errno));
		snprintf(rel2, sizeof(rel2), "syms/s%04d", f);
		snprintf(buf, sizeof(buf), "../d%02d/sub/f%04d", f / PER_DIR,
			 f);
		cr_assert_eq(symlink(buf, sfs_mpath(&sfs_fx, rel2)), 0,
			     "symlink %s: %s", rel2, strerror(errno));
		snprintf(buf, sizeof(buf), "v%d", f);
		cr_assert_eq(setxattr(sfs_mpath(&sfs_fx, rel), "user.k", buf,
				      strlen(buf), 0),
			     0, "setxattr %s: %s", rel, strerror(errno));
	}
	churn(0, NCHURN);
	assert_fds_in_limit("after renames and links");

	for (int i = 0; i < NMOVED; i++) {
		file_name(rel, sizeof(rel), i);
		cr_assert_neq(access(sfs_mpath(&sfs_fx, rel), F_OK), 0);
		snprintf(rel2, sizeof(rel2), "d%02d/sub/m%04d",
			 (i / PER_DIR + 1) % NDIRS, i);
		check_content(sfs_mpath(&sfs_fx, rel2), i);
	}
	for (int i = 0; i < NLINKS; i++) {
		int f = NMOVED + i * 7;
		char target[64];
		ssize_t n;

		file_name(rel, sizeof(rel), f);
		snprintf(rel2, sizeof(rel2), "links/l%04d", f);
		cr_assert_eq(stat(sfs_mpath(&sfs_fx, rel), &st), 0);
		cr_assert_eq(stat(sfs_mpath(&sfs_fx, rel2), &st2), 0);
		cr_assert_eq(st.st_ino, st2.st_ino, "%s: not the same inode",
			     rel2);
		cr_assert_eq(st2.st_nlink, 2);
		check_content(sfs_mpath(&sfs_fx, rel2), f);
		snprintf(rel2, sizeof(rel2), "syms/s%04d", f);
		n = readlink(sfs_mpath(&sfs_fx, rel2), target,
			     sizeof(target) - 1);
		cr_assert_gt(n, 0, "readlink %s: %s", rel2, strerror(errno));
		target[n] = '\0';
		snprintf(buf, sizeof(buf), "../d%02d/sub/f%04d", f / PER_DIR,
			 f);
		cr_assert_str_eq(target, buf);
		check_content(sfs_mpath(&sfs_fx, rel2), f);
		n = getxattr(sfs_mpath(&sfs_fx, rel), "user.k", target,
			     sizeof(target) - 1);
		cr_assert_gt(n, 0, "getxattr %s: %s", rel, strerror(errno));
		target[n] = '\0';
		snprintf(buf, sizeof(buf), "v%d", f);
		cr_assert_str_eq(target, buf);
	}
	/* readdir of every directory. */
	for (int d = 0; d < NDIRS; d++) {
		char *want[PER_DIR + PER_DIR];
		int n = 0;

		for (int i = d * PER_DIR; i < (d + 1) * PER_DIR; i++)
			if (i >= NMOVED) {
				snprintf(buf, sizeof(buf), "f%04d", i);
				want[n++] = strdup(buf);
			}
		for (int i = 0; i < NMOVED; i++)
			if ((i / PER_DIR + 1) % NDIRS == d) {
				snprintf(buf, sizeof(buf), "m%04d", i);
				want[n++] = strdup(buf);
			}
		snprintf(rel, sizeof(rel), "d%02d/sub", d);
		check_listing(rel, want, n);
		for (int i = 0; i < n; i++)
			free(want[i]);
	}
	/* Writes through files held open all along. */
	for (int k = 0; k < NHELD; k++) {
		char tag[16];

		snprintf(tag, sizeof(tag), "held%03d", k);
		cr_assert_eq(pwrite(held[k], tag, strlen(tag), 10),
			     (ssize_t)strlen(tag));
		cr_assert_eq(fstat(held[k], &st), 0);
		cr_assert_eq(close(held[k]), 0);
	}
	for (int k = 0; k < NHELD; k++) {
		char tag[16], got[16] = {0};
		int fd;

		/* k * 71 < NMOVED moved away, use the new name */
		if (k * 71 < NMOVED)
			snprintf(rel, sizeof(rel), "d%02d/sub/m%04d",
				 (k * 71 / PER_DIR + 1) % NDIRS, k * 71);
		else
			file_name(rel, sizeof(rel), k * 71);
		fd = open(sfs_mpath(&sfs_fx, rel), O_RDONLY | O_CLOEXEC);
		cr_assert_geq(fd, 0, "open %s: %s", rel, strerror(errno));
		snprintf(tag, sizeof(tag), "held%03d", k);
		cr_assert_eq(pread(fd, got, strlen(tag), 10),
			     (ssize_t)strlen(tag));
		cr_assert_str_eq(got, tag);
		close(fd);
	}
	assert_fds_in_limit("at the end");
	sfs_mount_stop(&sfs_fx);
}

IN_BOTH_MODES(many_entries, 300)

/* A file unlinked while open keeps working through its fd, whether its
 * inode fd was open or parked when the name went. */
static void unlinked_open(void)
{
	static const char data[] = "still here after the unlink";
	struct stat st, bst;
	ino_t ino_y;
	char buf[64];
	int fa, fb;

	cr_assert_eq(stat(sfs_fx.backing, &bst), 0);
	cr_assert_eq(mkdir(sfs_mpath(&sfs_fx, "a"), 0755), 0);
	cr_assert_eq(mkdir(sfs_mpath(&sfs_fx, "b"), 0755), 0);
	cr_assert_eq(
	    sfs_write_file(sfs_mpath(&sfs_fx, "a/x"), data, sizeof(data)), 0);
	cr_assert_eq(
	    sfs_write_file(sfs_mpath(&sfs_fx, "b/y"), data, sizeof(data)), 0);
	fa = open(sfs_mpath(&sfs_fx, "a/x"), O_RDWR | O_CLOEXEC);
	fb = open(sfs_mpath(&sfs_fx, "b/y"), O_RDWR | O_CLOEXEC);
	cr_assert_geq(fa, 0);
	cr_assert_geq(fb, 0);
	cr_assert_eq(fstat(fb, &st), 0);
	ino_y = st.st_ino;

	/* a/x goes while its inode fd is open (just used) ... */
	cr_assert_eq(unlink(sfs_mpath(&sfs_fx, "a/x")), 0);
	/* ... b/y once its inode fd is parked. */
	churn(0, NCHURN);
	cr_assert_eq(daemon_path_fds(bst.st_dev, ino_y), 0,
		     "b/y was not parked");
	cr_assert_eq(unlink(sfs_mpath(&sfs_fx, "b/y")), 0);
	churn(1, NCHURN);
	assert_fds_in_limit("after the churn");
	/* Reopened for the unlink, and kept: it has no name left. */
	cr_assert_eq(daemon_path_fds(bst.st_dev, ino_y), 1);

	for (int k = 0; k < 2; k++) {
		int fd = k ? fb : fa;

		cr_assert_eq(fstat(fd, &st), 0, "fstat: %s", strerror(errno));
		cr_assert_eq(st.st_nlink, 0);
		cr_assert_eq(st.st_size, (off_t)sizeof(data));
		memset(buf, 0, sizeof(buf));
		cr_assert_eq(pread(fd, buf, sizeof(buf), 0),
			     (ssize_t)sizeof(data));
		cr_assert_str_eq(buf, data);
		cr_assert_eq(pwrite(fd, "MORE", 4, sizeof(data)), 4);
		cr_assert_eq(ftruncate(fd, sizeof(data) + 2), 0,
			     "ftruncate: %s", strerror(errno));
		cr_assert_eq(fchmod(fd, 0600), 0, "fchmod: %s",
			     strerror(errno));
		cr_assert_eq(fstat(fd, &st), 0);
		cr_assert_eq(st.st_size, (off_t)sizeof(data) + 2);
		cr_assert_eq(st.st_mode & 07777, 0600);
		cr_assert_eq(pread(fd, buf, sizeof(buf), 0),
			     (ssize_t)sizeof(data) + 2);
		cr_assert(memcmp(buf + sizeof(data), "MO", 2) == 0);
		close(fd);
	}
	sfs_mount_stop(&sfs_fx);
}

IN_BOTH_MODES(unlinked_open, 120)

/* What a process whose working directory is `dir` sees after another
 * removed it: stat(".") and creating a file there, as "rc errno" pairs. */
struct cwd_result {
	int stat_rc, stat_errno, create_rc, create_errno;
	nlink_t nlink;
};

/* Forks a child that enters dir, says so, waits for a byte on a pipe, then
 * reports what it sees. Returns once it is in dir: its pid; *go is the
 * pipe's write end, *res the read end of the result pipe. */
static pid_t cwd_child(const char *dir, int *go, int *res)
{
	int p1[2], p2[2];
	pid_t pid;
	char c;

	cr_assert_eq(pipe(p1), 0);
	cr_assert_eq(pipe(p2), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct cwd_result r = {0};
		struct stat st;
		int fd;

		close(p1[1]);
		close(p2[0]);
		if (chdir(dir) || write(p2[1], "r", 1) != 1 ||
		    read(p1[0], &c, 1) != 1)
			_exit(1);
		r.stat_rc = stat(".", &st);
		r.stat_errno = r.stat_rc ? errno : 0;
		r.nlink = r.stat_rc ? 0 : st.st_nlink;
		fd = open("new", O_WRONLY | O_CREAT | O_EXCL, 0644);
		r.create_rc = fd < 0 ? -1 : 0;
		r.create_errno = fd < 0 ? errno : 0;
		if (fd >= 0)
			close(fd);
		if (write(p2[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(1);
		_exit(0);
	}
	close(p1[0]);
	close(p2[1]);
	cr_assert_eq(read(p2[0], &c, 1), 1, "the child did not enter %s", dir);
	*go = p1[1];
	*res = p2[0];
	return pid;
}

static struct cwd_result cwd_finish(pid_t pid, int go, int res)
{
	struct cwd_result r;
	int status;

	cr_assert_eq(write(go, "g", 1), 1);
	cr_assert_eq(read(res, &r, sizeof(r)), (ssize_t)sizeof(r),
		     "the child reported nothing");
	close(go);
	close(res);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return r;
}

/* A directory removed while a process has it as cwd, after its inode fd
 * was parked: the process sees what it sees on a plain directory. */
static void rmdir_cwd(void)
{
	struct cwd_result want, got;
	int go, res;
	pid_t pid;

	/* Reference behaviour on the plain directory. */
	cr_assert_eq(mkdir(sfs_rpath(&sfs_fx, "gone"), 0755), 0);
	pid = cwd_child(sfs_rpath(&sfs_fx, "gone"), &go, &res);
	cr_assert_eq(rmdir(sfs_rpath(&sfs_fx, "gone")), 0);
	want = cwd_finish(pid, go, res);

	cr_assert_eq(mkdir(sfs_mpath(&sfs_fx, "gone"), 0755), 0);
	pid = cwd_child(sfs_mpath(&sfs_fx, "gone"), &go, &res);
	churn(0, NCHURN);
	cr_assert_eq(path_fds_of("gone"), 0, "gone/ was not parked");
	cr_assert_eq(rmdir(sfs_mpath(&sfs_fx, "gone")), 0, "rmdir: %s",
		     strerror(errno));
	churn(1, NCHURN);
	got = cwd_finish(pid, go, res);
	cr_assert_eq(got.stat_rc, want.stat_rc, "stat . %d (%s), want %d",
		     got.stat_rc, strerror(got.stat_errno), want.stat_rc);
	cr_assert_eq(got.nlink, want.nlink);
	cr_assert_eq(got.create_rc, want.create_rc);
	cr_assert_eq(got.create_errno, want.create_errno, "create: %s, want %s",
		     strerror(got.create_errno), strerror(want.create_errno));
	assert_fds_in_limit("at the end");
	sfs_mount_stop(&sfs_fx);
}

IN_BOTH_MODES(rmdir_cwd, 120)

/* The entry of the backing directory `bdir` behind the mount path `rel`
 * (the mount shows backing inode numbers), into path. */
static void backing_of(const char *bdir, const char *rel, char *path,
		       size_t cap)
{
	struct stat st, bst;
	struct dirent *de;
	DIR *d = opendir(bdir);
	bool found = false;

	cr_assert_eq(stat(sfs_mpath(&sfs_fx, rel), &st), 0);
	cr_assert_not_null(d, "%s: %s", bdir, strerror(errno));
	while (!found && (de = readdir(d))) {
		snprintf(path, cap, "%s/%s", bdir, de->d_name);
		found = lstat(path, &bst) == 0 && bst.st_ino == st.st_ino;
	}
	closedir(d);
	cr_assert(found, "no backing entry for %s", rel);
}

/* Objects removed from the backing directory while their fds were parked:
 * operations on them fail with ESTALE or ENOENT; no crash, and never the
 * data of another object (a new file may reuse the inode number). */
static void removed_behind_back(void)
{
	static const char old[] = "the old file's data";
	static const char new[] = "a newer file, maybe the same ino";
	char bv[PATH_MAX], bw[PATH_MAX], bsub[PATH_MAX], bf[PATH_MAX];
	char buf[64], rel[32];
	struct stat st;
	ssize_t n;
	int fd;

	cr_assert_eq(mkdir(sfs_mpath(&sfs_fx, "v"), 0755), 0);
	cr_assert_eq(mkdir(sfs_mpath(&sfs_fx, "w"), 0755), 0);
	cr_assert_eq(mkdir(sfs_mpath(&sfs_fx, "w/sub"), 0755), 0);
	cr_assert_eq(
	    sfs_write_file(sfs_mpath(&sfs_fx, "v/f"), old, sizeof(old)), 0);
	cr_assert_eq(setxattr(sfs_mpath(&sfs_fx, "v/f"), "user.k", "1", 1, 0),
		     0);
	cr_assert_eq(stat(sfs_mpath(&sfs_fx, "w/sub"), &st), 0);
	backing_of(sfs_fx.backing, "v", bv, sizeof(bv));
	backing_of(bv, "v/f", bf, sizeof(bf));
	backing_of(sfs_fx.backing, "w", bw, sizeof(bw));
	backing_of(bw, "w/sub", bsub, sizeof(bsub));
	churn(0, NCHURN);
	cr_assert_eq(path_fds_of("v/f"), 0, "v/f was not parked");
	cr_assert_eq(path_fds_of("w/sub"), 0, "w/sub was not parked");

	cr_assert_eq(unlink(bf), 0);
	cr_assert_eq(nftw(bsub, sfs_rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	/* New files near it, likely to reuse its inode number. */
	for (int i = 0; i < NREUSE; i++) {
		snprintf(rel, sizeof(rel), "v/new%d", i);
		cr_assert_eq(
		    sfs_write_file(sfs_mpath(&sfs_fx, rel), new, sizeof(new)),
		    0);
		cr_assert_eq(stat(sfs_mpath(&sfs_fx, rel), &st), 0);
	}

	fd = open(sfs_mpath(&sfs_fx, "v/f"), O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf));
		cr_assert_fail("v/f opened after its removal, read %zd", n);
	}
	cr_assert(errno == ESTALE || errno == ENOENT, "open v/f: %s",
		  strerror(errno));
	n = getxattr(sfs_mpath(&sfs_fx, "v/f"), "user.k", buf, sizeof(buf));
	cr_assert(n < 0 && (errno == ESTALE || errno == ENOENT),
		  "getxattr v/f: %zd %s", n, strerror(errno));
	cr_assert_neq(
	    sfs_write_file(sfs_mpath(&sfs_fx, "w/sub/x"), old, sizeof(old)), 0,
	    "created a file in a removed directory");
	/* The mount goes on working, the new files are theirs. */
	churn(1, 50);
	for (int i = 0; i < NREUSE; i++) {
		size_t len;
		char *got;

		snprintf(rel, sizeof(rel), "v/new%d", i);
		got = sfs_read_file(sfs_mpath(&sfs_fx, rel), &len);
		cr_assert_not_null(got);
		cr_assert_eq(len, sizeof(new));
		cr_assert_str_eq(got, new);
		free(got);
	}
	sfs_mount_stop(&sfs_fx);
}

IN_BOTH_MODES(removed_behind_back, 120)

/* The fd table is grown to the open-file limit at mount: growing it later,
 * shared by the daemon's threads, waits for an RCU grace period each time
 * it doubles, and a fresh mount's first walk used to pay eight. */
static void fd_table_presized(void)
{
	/* Read before any entry took an fd. */
	long size = sfs_proc_status(sfs_fx.pid, "FDSize");

	cr_assert_geq(size, 0, "no FDSize in /proc/%d/status", (int)sfs_fx.pid);
	cr_assert_geq(size, NOFILE,
		      "daemon fd table has %ld slots at mount, want the "
		      "open-file limit %d",
		      size, NOFILE);
	sfs_mount_stop(&sfs_fx);
}

IN_BOTH_MODES(fd_table_presized, 60)

#define NLISTED 300 /* more than one READDIRPLUS request */
#define FD_SLACK 8  /* fds a daemon at rest may open and close */

/* Lists "ls", marking seen[]: returns the entries read, and the errno that
 * ended the listing in *err (0 at its end). Each name is listed once. */
static int list_once(bool seen[NLISTED], int *err)
{
	DIR *d = opendir(sfs_mpath(&sfs_fx, "ls"));
	struct dirent *de;
	int n = 0, i;

	cr_assert_not_null(d, "opendir ls: %s", strerror(errno));
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (de->d_name[0] == '.')
			continue;
		cr_assert_eq(sscanf(de->d_name, "e%d", &i), 1, "entry %s",
			     de->d_name);
		cr_assert(i >= 0 && i < NLISTED && !seen[i],
			  "entry %s listed twice or unknown", de->d_name);
		seen[i] = true;
		n++;
	}
	*err = errno;
	closedir(d);
	return n;
}

/* Forgets from the kernel reach the daemon in the background: waits up to
 * 10 s for its fds to drop to at most max. */
static int wait_fds_at_most(int max)
{
	int n = daemon_fds();

	for (int i = 0; i < 200 && n > max; i++) {
		usleep(50 * 1000);
		n = daemon_fds();
	}
	return n;
}

/* Makes "ls" with n files e000.., then has the kernel forget every entry.
 * Returns the daemon's fds once the forgets reached it. */
static int make_forgotten_dir(int n)
{
	char rel[64];
	int fds;

	cr_assert_eq(mkdir(sfs_mpath(&sfs_fx, "ls"), 0755), 0);
	for (int i = 0; i < n; i++) {
		snprintf(rel, sizeof(rel), "ls/e%03d", i);
		cr_assert_eq(sfs_write_file(sfs_mpath(&sfs_fx, rel), "x", 1), 0,
			     "create %s", rel);
	}
	sync();
	cr_assert_eq(sfs_write_file("/proc/sys/vm/drop_caches", "3\n", 2), 0);
	fds = wait_fds_at_most(64);
	cr_assert_leq(fds, 64,
		      "daemon still has %d fds after the kernel "
		      "forgot its entries",
		      fds);
	return fds;
}

/* Sets the daemon's open-file limit so that exactly k more fds fit: new fds
 * take the lowest free numbers, and the limit bounds the number. */
static int kth_free_fd(int k)
{
	char path[96];
	int fd = 0;

	for (int free_seen = 0;; fd++) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)sfs_fx.pid,
			 fd);
		if (access(path, F_OK) != 0 && free_seen++ == k)
			return fd;
	}
}

static void allow_new_fds(int k, struct rlimit *saved)
{
	struct rlimit low;
	int fd = kth_free_fd(k), again;

	/* Forgets the kernel sent earlier may still be closing fds: wait
	 * until the daemon's fd table holds still. */
	for (int i = 0; i < 50; i++, fd = again) {
		sfs_sleep_ms(100);
		again = kth_free_fd(k);
		if (again == fd)
			break;
	}
	cr_assert_eq(prlimit(sfs_fx.pid, RLIMIT_NOFILE, NULL, saved), 0);
	low = *saved;
	low.rlim_cur = (rlim_t)fd;
	cr_assert_eq(prlimit(sfs_fx.pid, RLIMIT_NOFILE, &low, NULL), 0,
		     "prlimit: %s", strerror(errno));
}

/* Lookups that fail in the middle of a READDIRPLUS (here: the daemon out of
 * fds) end the listing with that error after the entries before it, never
 * with a silently short one, and take back every lookup they made; once
 * fds are back the same directory lists whole. */
static void listing_with_failing_lookups(void)
{
	struct rlimit saved;
	static bool seen[NLISTED];
	int base = make_forgotten_dir(NLISTED), n, err, after;

	allow_new_fds(20, &saved);
	memset(seen, 0, sizeof(seen));
	n = list_once(seen, &err);
	cr_assert_eq(prlimit(sfs_fx.pid, RLIMIT_NOFILE, &saved, NULL), 0);
	cr_assert_lt(n, NLISTED, "the lookups never ran out of fds");
	cr_assert_eq(err, EMFILE,
		     "a listing cut short after %d of %d entries ended with "
		     "errno %d (%s), want EMFILE",
		     n, NLISTED, err, strerror(err));

	memset(seen, 0, sizeof(seen));
	n = list_once(seen, &err);
	cr_assert_eq(err, 0, "listing again: %s", strerror(err));
	cr_assert_eq(n, NLISTED, "listing again: %d entries, want %d", n,
		     NLISTED);

	cr_assert_eq(sfs_write_file("/proc/sys/vm/drop_caches", "3\n", 2), 0);
	after = wait_fds_at_most(base + FD_SLACK);
	cr_assert_leq(after, base + FD_SLACK,
		      "daemon has %d fds after the kernel forgot the listed "
		      "entries, %d before: lookups were not taken back",
		      after, base);
}

IN_BOTH_MODES(listing_with_failing_lookups, 60)

/* A daemon out of fds when it needs a directory's IV (hbi) fails the
 * listing with EMFILE: no integrity report, and no listing that silently
 * skips the names it could not decrypt. Two fds fit: the directory's
 * lookup and its stream. */
static void listing_out_of_fds_is_not_damage(void)
{
	static bool seen[NLISTED];
	struct rlimit saved;
	int n, err;

	make_forgotten_dir(10);
	allow_new_fds(2, &saved);
	n = list_once(seen, &err);
	cr_assert_eq(prlimit(sfs_fx.pid, RLIMIT_NOFILE, &saved, NULL), 0);
	cr_assert_eq(err, EMFILE,
		     "listing with no fd to spare: %d entries, errno %d (%s), "
		     "want EMFILE",
		     n, err, strerror(err));
	cr_assert_not(sfs_log_contains(&sfs_fx, "integrity failure"),
		      "running out of fds was reported as damage");

	memset(seen, 0, sizeof(seen));
	n = list_once(seen, &err);
	cr_assert_eq(err, 0, "listing again: %s", strerror(err));
	cr_assert_eq(n, 10, "listing again: %d entries, want 10", n);
}

IN_BOTH_MODES(listing_out_of_fds_is_not_damage, 60)
