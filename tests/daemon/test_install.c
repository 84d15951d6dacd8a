/* test_install.c - `make install DESTDIR= PREFIX=` lays out binaries, the
 * config (never overwritten), man pages and systemd units; the installed
 * scratchfs mounts through mount.fuse3 (as fstab and mount -t do); `make
 * uninstall` removes exactly what install put there. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mount_util.h"

#define PREFIX "/usr"
#define WAIT_STEPS 1000 /* x 10 ms */

static char src_dir[PATH_MAX]; /* the project root (has the Makefile) */
static char build_dir[PATH_MAX];
static char dest[PATH_MAX + 8]; /* DESTDIR, inside the scratch root */
static char sbin[PATH_MAX + 32];
static pid_t daemon_pid = -1;

static bool is_project_root(const char *dir)
{
	char p[PATH_MAX + 32];

	snprintf(p, sizeof(p), "%s/Makefile", dir);
	if (access(p, R_OK) != 0)
		return false;
	snprintf(p, sizeof(p), "%s/fs/main.c", dir);
	if (access(p, R_OK) != 0)
		return false;
	snprintf(p, sizeof(p), "%s/conf/scratchfs.conf", dir);
	return access(p, R_OK) == 0;
}

/* The project root: from the build directory upwards (build/ and
 * build/asan/ live inside it), else from the working directory upwards. */
static void find_src_dir(void)
{
	char dir[PATH_MAX];

	for (int start = 0; start < 2; start++) {
		if (start == 0)
			cr_assert_not_null(realpath(SFS_BUILD_DIR, dir),
					   "%s: %s", SFS_BUILD_DIR,
					   strerror(errno));
		else
			cr_assert_not_null(getcwd(dir, sizeof(dir)));
		for (;;) {
			char *slash;

			if (is_project_root(dir)) {
				snprintf(src_dir, sizeof(src_dir), "%s", dir);
				return;
			}
			slash = strrchr(dir, '/');
			if (!slash || slash == dir)
				break;
			*slash = '\0';
		}
	}
	cr_assert_fail("project root not found from %s or the working "
		       "directory",
		       SFS_BUILD_DIR);
}

/* The daemon started from our DESTDIR, if one runs. */
static pid_t find_daemon(void)
{
	char want[2 * PATH_MAX];
	struct dirent *de;
	pid_t found = -1;
	DIR *d;

	snprintf(want, sizeof(want), "%s/scratchfs", sbin);
	d = opendir("/proc");
	if (!d)
		return -1;
	while ((de = readdir(d)) && found < 0) {
		char link[300], exe[PATH_MAX];
		ssize_t n;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(link, sizeof(link), "/proc/%s/exe", de->d_name);
		n = readlink(link, exe, sizeof(exe) - 1);
		if (n <= 0)
			continue;
		exe[n] = '\0';
		if (strcmp(exe, want) == 0)
			found = (pid_t)atoi(de->d_name);
	}
	closedir(d);
	return found;
}

/* Runs argv with PATH=sbin first; output appended to the scratch log.
 * Returns the exit status (128+n for signal n). */
static int run(const char *const argv[])
{
	char path[2 * PATH_MAX];
	pid_t pid;
	int st;

	snprintf(path, sizeof(path), "PATH=%s:/usr/sbin:/usr/bin:/sbin:/bin",
		 sbin);
	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(sfs_fx.log, O_WRONLY | O_APPEND);

		if (fd < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
		putenv(path);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (int i = 0;; i++) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			break;
		if (i == 12000) { /* 120 s: make may compile a little */
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			sfs_log_dump(&sfs_fx);
			cr_assert_fail("%s hangs", argv[0]);
		}
		usleep(10000);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* make -C SRC BUILD=... DESTDIR=... PREFIX=/usr TARGET, with every binary
 * marked "old" (-o) so make installs what the build under test made and
 * never rebuilds it. */
static int make(const char *target)
{
	static char buf[8][PATH_MAX + 32];
	const char *argv[64];
	char pattern[PATH_MAX + 32];
	glob_t g;
	size_t n = 0;
	int rc;

	argv[n++] = "make";
	argv[n++] = "-s";
	argv[n++] = "-C";
	argv[n++] = src_dir;
	snprintf(buf[0], sizeof(buf[0]), "BUILD=%s", build_dir);
	snprintf(buf[1], sizeof(buf[1]), "DESTDIR=%s", dest);
	argv[n++] = buf[0];
	argv[n++] = buf[1];
	argv[n++] = "PREFIX=" PREFIX;
	snprintf(buf[2], sizeof(buf[2]), "%s/scratchfs", build_dir);
	argv[n++] = "-o";
	argv[n++] = buf[2];
	snprintf(pattern, sizeof(pattern), "%s/tools/*/scratchfs-*.c", src_dir);
	cr_assert_eq(glob(pattern, 0, NULL, &g), 0);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *base = strrchr(g.gl_pathv[i], '/') + 1;
		char *bin;

		cr_assert_lt(n + 4, sizeof(argv) / sizeof(argv[0]));
		cr_assert_neq(asprintf(&bin, "%s/%.*s", build_dir,
				       (int)(strlen(base) - 2), base),
			      -1);
		/* make test builds every tool before the tests run. */
		cr_assert_eq(access(bin, X_OK), 0, "%s not built", bin);
		argv[n++] = "-o";
		argv[n++] = bin; /* freed with the process */
	}
	globfree(&g);
	argv[n++] = target;
	argv[n] = NULL;
	rc = run(argv);
	return rc;
}

static const char *in_dest(const char *rel)
{
	return sfs_join(dest, rel);
}

static void init(void)
{
	sfs_fx_init_setup();
	find_src_dir();
	cr_assert_not_null(realpath(SFS_BUILD_DIR, build_dir));
	snprintf(dest, sizeof(dest), "%s/dest", sfs_fx.root);
	snprintf(sbin, sizeof(sbin), "%s%s/sbin", dest, PREFIX);
	cr_assert_eq(mkdir(dest, 0755), 0);
}

/* Unmounts and waits for the daemon (not our child: mount.fuse3 started
 * it) before the scratch root with its binary is removed. */
static void stop_daemon(void)
{
	if (daemon_pid < 0)
		daemon_pid = find_daemon();
	if (sfs_fx.root[0]) {
		const char *const fm[] = {"fusermount3", "-u", sfs_fx.mnt,
					  NULL};

		if (run(fm) != 0)
			umount2(sfs_fx.mnt, MNT_DETACH);
	}
	for (int i = 0; daemon_pid > 0 && i < WAIT_STEPS; i++) {
		if (kill(daemon_pid, 0) != 0)
			daemon_pid = -1;
		else
			usleep(10000);
	}
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGKILL);
		daemon_pid = -1;
		cr_assert_fail("the installed daemon did not exit");
	}
}

static void fini(void)
{
	if (sfs_fx.root[0] && daemon_pid > 0)
		stop_daemon();
	sfs_fx_fini();
}

TestSuite(install, .init = init, .fini = fini, .timeout = 180);

static void assert_file(const char *rel, mode_t mode)
{
	struct stat st;
	const char *p = in_dest(rel);

	cr_assert_eq(lstat(p, &st), 0, "%s: %s", p, strerror(errno));
	cr_assert(S_ISREG(st.st_mode), "%s is not a regular file", p);
	cr_assert_eq(st.st_mode & 07777, mode, "%s: mode %o, want %o", p,
		     st.st_mode & 07777, mode);
}

static bool same_content(const char *a, const char *b)
{
	size_t la, lb;
	char *x = sfs_read_file(a, &la), *y = sfs_read_file(b, &lb);
	bool same = x && y && la == lb && memcmp(x, y, la) == 0;

	free(x);
	free(y);
	return same;
}

/* Counts regular files (and symlinks) under dest; names them in the log. */
static int files_left;

static int count_file(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_F || flag == FTW_SL) {
		files_left++;
		cr_log_info("left after uninstall: %s", path);
	}
	return 0;
}

static int count_files(void)
{
	files_left = 0;
	cr_assert_eq(nftw(dest, count_file, 16, FTW_PHYS), 0);
	return files_left;
}

Test(install, install_mount_uninstall)
{
	static const char *const pages[] = {
	    "man8/scratchfs.8",		"man8/scratchfs-wipe.8",
	    "man1/scratchfs-run.1",	"man8/scratchfs-ctl.8",
	    "man8/scratchfs-volumed.8", "man5/scratchfs.conf.5",
	    "man8/spank_scratchfs.8",
	};
	const char *conf = in_dest("etc/scratchfs/scratchfs.conf");
	const char *unit = in_dest("usr/lib/systemd/system/scratchfs@.service");
	char src[PATH_MAX + 64], rel[PATH_MAX], *text, opts[PATH_MAX + 64];
	size_t len;
	glob_t g;

	cr_assert_eq(make("install"), 0, "make install failed");

	/* Binaries: scratchfs and every tool, in sbin but for the user
	 * command scratchfs-run (section 1), in bin. */
	assert_file("usr/sbin/scratchfs", 0755);
	snprintf(src, sizeof(src), "%s/tools/*/scratchfs-*.c", src_dir);
	cr_assert_eq(glob(src, 0, NULL, &g), 0);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *base = strrchr(g.gl_pathv[i], '/') + 1;
		bool user = strcmp(base, "scratchfs-run.c") == 0;

		snprintf(rel, sizeof(rel), "usr/%s/%.*s", user ? "bin" : "sbin",
			 (int)(strlen(base) - 2), base);
		assert_file(rel, 0755);
	}
	globfree(&g);
	/* The installed scratchfs-run finds its daemon in ../sbin. */
	{
		const char *const job[] = {in_dest("usr/bin/scratchfs-run"),
					   "--backing",
					   sfs_join(sfs_fx.root, "run-backing"),
					   "--mount",
					   sfs_join(sfs_fx.root, "run-mnt"),
					   "--",
					   "true",
					   NULL};

		cr_assert_eq(run(job), 0, "the installed scratchfs-run failed");
	}
	/* The Slurm plugin, where Debian's slurmd looks for plugins. */
	assert_file("usr/lib/x86_64-linux-gnu/slurm-wlm/spank_scratchfs.so",
		    0755);

	/* The config, as shipped. */
	assert_file("etc/scratchfs/scratchfs.conf", 0644);
	snprintf(src, sizeof(src), "%s/conf/scratchfs.conf", src_dir);
	cr_assert(same_content(conf, src));

	/* Man pages for every binary and the config file. */
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		snprintf(rel, sizeof(rel), "usr/share/man/%s", pages[i]);
		assert_file(rel, 0644);
	}

	/* The unit, with the installed paths filled in. */
	assert_file("usr/lib/systemd/system/scratchfs@.service", 0644);
	text = sfs_read_file(unit, &len);
	cr_assert_not_null(text);
	cr_assert_null(strstr(text, "@SBINDIR@"));
	cr_assert_null(strstr(text, "@SYSCONFDIR@"));
	cr_assert(strstr(text, "ExecStart=/usr/sbin/scratchfs -c "), "%s",
		  text);
	cr_assert(strstr(text, "ExecStop=/usr/sbin/scratchfs-wipe "), "%s",
		  text);
	cr_assert(strstr(text, "EnvironmentFile=/etc/scratchfs/%i.env"), "%s",
		  text);
	free(text);

	/* An existing config is never overwritten. */
	cr_assert_eq(sfs_write_file(conf, "# mine\n", 7), 0);
	cr_assert_eq(make("install"), 0);
	text = sfs_read_file(conf, &len);
	cr_assert_not_null(text);
	cr_assert_str_eq(text, "# mine\n");
	free(text);

	/* Mount through mount.fuse3 the way fstab and mount -t do, with the
	 * installed scratchfs first on PATH; nofail is mount's, not ours. */
	snprintf(opts, sizeof(opts), "hbi=1,nofail,key=keyfile:%s/node.key",
		 sfs_fx.root);
	{
		const char *const mnt[] = {
		    "mount.fuse3",    sfs_fx.backing, sfs_fx.mnt, "-t",
		    "fuse.scratchfs", "-o",	      opts,	  NULL};
		int st = run(mnt);

		if (st != 0)
			sfs_log_dump(&sfs_fx);
		cr_assert_eq(st, 0, "mount.fuse3 failed");
	}
	daemon_pid = find_daemon();
	cr_assert_gt(daemon_pid, 0, "no scratchfs from %s runs", sbin);
	cr_assert_eq(sfs_write_file(sfs_mpath(&sfs_fx, "hello"), "world", 5),
		     0);
	text = sfs_read_file(sfs_mpath(&sfs_fx, "hello"), &len);
	cr_assert_not_null(text);
	cr_assert_str_eq(text, "world");
	free(text);
	/* Encrypted: the backing directory has no "hello". */
	cr_assert_eq(access(sfs_bpath(&sfs_fx, "hello"), F_OK), -1);
	stop_daemon();
	/* The key file volume mounts again. */
	{
		const char *const mnt[] = {
		    "mount.fuse3",    sfs_fx.backing, sfs_fx.mnt, "-t",
		    "fuse.scratchfs", "-o",	      opts,	  NULL};

		cr_assert_eq(run(mnt), 0);
	}
	daemon_pid = find_daemon();
	text = sfs_read_file(sfs_mpath(&sfs_fx, "hello"), &len);
	cr_assert_not_null(text);
	cr_assert_str_eq(text, "world");
	free(text);
	stop_daemon();

	/* Uninstall keeps the modified config, removes everything else. */
	cr_assert_eq(make("uninstall"), 0);
	cr_assert_eq(count_files(), 1);
	cr_assert_eq(access(conf, F_OK), 0);
	/* With the shipped config it leaves nothing at all. */
	cr_assert_eq(sfs_write_file(conf, "", 0), 0);
	cr_assert(unlink(conf) == 0);
	cr_assert_eq(make("install"), 0);
	cr_assert_eq(make("uninstall"), 0);
	cr_assert_eq(count_files(), 0);
	cr_assert_eq(access(in_dest("etc/scratchfs"), F_OK), -1);
}
