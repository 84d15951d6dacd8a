/* test_user.c - an ordinary user's job under scratchfs-run: the daemon has
 * no CAP_DAC_READ_SEARCH, so it reopens the entries it parked by path.
 * 100,000 files through a daemon limited to 1,024 open files, and
 * directories swapped behind the mount's back under parked entries.
 *
 * Each test makes a user of its own (useradd) and removes it again, also
 * the users of earlier runs that died before they could. FUSE lets users
 * mount through fusermount3, but libfuse opens /dev/fuse first: where it
 * is not usable by others (mode 0600 on this machine, 0666 on a stock
 * Debian), it is opened up while the job mounts and put back once it is
 * mounted, under a lock shared with bench/walk.sh. Without allow_other
 * nothing in /etc/fuse.conf is needed; root cannot see into such a mount,
 * so the test's work on it runs in children with the user's ids. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mount_util.h"
#include "util.h"

#define RUN_BIN SFS_BUILD_DIR "/scratchfs-run"
#define NOFILE 1024
#define DEV_FUSE "/dev/fuse"
#define DEV_FUSE_LOCK "/run/lock/sfs-dev-fuse.lock"
#define READY_WAIT_MS 60000
#define ERR_MAX 512

static struct {
	char name[32];
	uid_t uid;
	gid_t gid;
	bool made;
	int lock_fd;
	bool fuse_opened; /* /dev/fuse mode changed: put back fuse_mode */
	mode_t fuse_mode;
	pid_t run; /* the scratchfs-run wrapper */
	int go;	   /* its job ends when this pipe is written */
	char B[PATH_MAX / 2], M[PATH_MAX / 2], err[PATH_MAX / 2];
} u = {.lock_fd = -1, .run = -1, .go = -1};

/* Runs argv (absolute path) and returns its exit status, or -1. */
static int run_cmd(const char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

#define USER_PREFIX "sfs-test-"

/* Removes the users of earlier runs whose test process is gone (named
 * after its pid). */
static void remove_stale_users(void)
{
	char names[16][64];
	struct passwd *pw;
	int pid, n = 0;

	setpwent();
	while (n < 16 && (pw = getpwent()))
		if (sscanf(pw->pw_name, USER_PREFIX "%d", &pid) == 1 &&
		    kill(pid, 0) != 0 && errno == ESRCH)
			snprintf(names[n++], sizeof(names[0]), "%s",
				 pw->pw_name);
	endpwent();
	for (int i = 0; i < n; i++) {
		const char *del[] = {"/usr/sbin/userdel", names[i], NULL};

		run_cmd(del); /* fails while its processes live: next time */
	}
}

static void make_user(void)
{
	const char *add[] = {"/usr/sbin/useradd",
			     "-M",
			     "-N",
			     "-g",
			     "users",
			     "-d",
			     "/nonexistent",
			     "-s",
			     "/usr/sbin/nologin",
			     u.name,
			     NULL};
	struct passwd *pw;

	remove_stale_users();
	snprintf(u.name, sizeof(u.name), USER_PREFIX "%d", (int)getpid());
	cr_assert_eq(run_cmd(add), 0, "useradd %s failed", u.name);
	u.made = true;
	pw = getpwnam(u.name);
	cr_assert_not_null(pw, "no user %s after useradd", u.name);
	u.uid = pw->pw_uid;
	u.gid = pw->pw_gid;
}

/* Makes /dev/fuse usable by others, under the lock, until
 * close_dev_fuse(). */
static void open_dev_fuse(void)
{
	struct stat st;

	u.lock_fd = open(DEV_FUSE_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	cr_assert_geq(u.lock_fd, 0, "%s: %s", DEV_FUSE_LOCK, strerror(errno));
	cr_assert_eq(flock(u.lock_fd, LOCK_EX), 0);
	cr_assert_eq(stat(DEV_FUSE, &st), 0, "%s: %s", DEV_FUSE,
		     strerror(errno));
	if ((st.st_mode & 0006) == 0006)
		return;
	u.fuse_mode = st.st_mode & 07777;
	cr_assert_eq(chmod(DEV_FUSE, u.fuse_mode | 0666), 0, "chmod %s: %s",
		     DEV_FUSE, strerror(errno));
	u.fuse_opened = true;
}

static void close_dev_fuse(void)
{
	if (u.fuse_opened && chmod(DEV_FUSE, u.fuse_mode) != 0)
		fprintf(stderr, "test_user: cannot put back the mode of %s\n",
			DEV_FUSE);
	u.fuse_opened = false;
	if (u.lock_fd >= 0)
		close(u.lock_fd);
	u.lock_fd = -1;
}

static void init(void)
{
	sfs_mount_setup(&sfs_fx);
	make_user();
	snprintf(u.B, sizeof(u.B), "%s", sfs_join(sfs_fx.root, "b"));
	snprintf(u.M, sizeof(u.M), "%s", sfs_join(sfs_fx.root, "m"));
	snprintf(u.err, sizeof(u.err), "%s", sfs_join(sfs_fx.root, "run.err"));
	cr_assert_eq(chown(sfs_fx.root, u.uid, u.gid), 0);
	cr_assert_eq(chown(sfs_fx.conf, u.uid, u.gid), 0);
}

static void become_user(void);

/* Ends whatever a failed test left running, then removes the user and puts
 * /dev/fuse back. */
static void fini(void)
{
	const char *del[] = {"/usr/sbin/userdel", u.name, NULL};
	pid_t pid;

	if (u.go >= 0)
		close(u.go);
	if (u.run > 0) {
		kill(u.run, SIGKILL);
		waitpid(u.run, NULL, 0);
	}
	umount2(u.M, MNT_DETACH);
	if (u.made && fork() == 0) {
		/* Every process of the test's user but this one. */
		become_user();
		kill(-1, SIGKILL);
		_exit(0);
	}
	while (wait(NULL) > 0)
		;
	while (sfs_procs_mentioning(sfs_fx.root, NULL, &pid) > 0) {
		kill(pid, SIGKILL);
		sfs_sleep_ms(20);
	}
	sfs_fx_fini();
	if (u.made && run_cmd(del) != 0)
		fprintf(stderr, "test_user: userdel %s failed\n", u.name);
	close_dev_fuse();
}

TestSuite(user, .init = init, .fini = fini);

/* In a child: from root to the test's user, for good. */
static void become_user(void)
{
	if (setgroups(0, NULL) || setgid(u.gid) || setuid(u.uid))
		_exit(126);
}

/* Starts scratchfs-run as the user under prlimit --nofile=NOFILE, with a
 * job that says "ready" and waits for a line on its stdin; returns once it
 * is ready. conf: the config file's contents. */
static void start_job(const char *conf)
{
	int go[2], ready[2];
	char line[16] = {0};
	struct pollfd pf;
	ssize_t n;

	sfs_mount_write_conf(&sfs_fx, conf);
	open_dev_fuse();
	cr_assert_eq(pipe2(go, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
	u.run = fork();
	cr_assert_geq(u.run, 0);
	if (u.run == 0) {
		int err;

		become_user();
		err = open(u.err, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (err < 0 || dup2(go[0], 0) < 0 || dup2(ready[1], 1) < 0 ||
		    dup2(err, 2) < 0)
			_exit(126);
		execl("/usr/bin/prlimit", "prlimit", "--nofile=1024:1024", "--",
		      RUN_BIN, "-c", sfs_fx.conf, "--backing", u.B, "--mount",
		      u.M, "--", "/bin/sh", "-c", "echo ready; read x", NULL);
		_exit(127);
	}
	close(go[0]);
	close(ready[1]);
	u.go = go[1];
	pf.fd = ready[0];
	pf.events = POLLIN;
	n = poll(&pf, 1, READY_WAIT_MS) == 1 ? read(ready[0], line, 15) : -1;
	close(ready[0]);
	close_dev_fuse(); /* the daemon has its fd now */
	if (n != 6 || strcmp(line, "ready\n") != 0) {
		char *err = sfs_slurp(u.err);

		cr_assert_fail("scratchfs-run as %s did not start its job:\n%s",
			       u.name, err);
	}
}

/* Ends the job: scratchfs-run must wipe, unmount and exit 0, having said
 * nothing about running out of descriptors. */
static void finish_job(void)
{
	int status;
	char *err;

	cr_assert_eq(write(u.go, "\n", 1), 1);
	close(u.go);
	u.go = -1;
	cr_assert_eq(waitpid(u.run, &status, 0), u.run);
	u.run = -1;
	err = sfs_slurp(u.err);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "scratchfs-run ended with status %#x:\n%s", status, err);
	cr_assert_null(strstr(err, "descriptor"), "%s", err);
	cr_assert_null(strstr(err, "Too many open files"), "%s", err);
	free(err);
}

/* The daemon of the running job. */
static pid_t daemon_pid(void)
{
	pid_t pid = -1;

	cr_assert_eq(sfs_procs_mentioning(u.B, "--backing", &pid), 1,
		     "no single scratchfs daemon for %s", u.B);
	return pid;
}

static int open_files_limit(pid_t pid)
{
	char path[64], line[256];
	int soft = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	f = fopen(path, "re");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Max open files", 14) == 0)
			soft = atoi(line + 14);
	fclose(f);
	return soft;
}

/* The daemon's user + system CPU seconds. */
static double daemon_cpu(pid_t pid)
{
	unsigned long long ut = 0, st = 0;
	char path[64], buf[1024], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	cr_assert_not_null(f);
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	cr_assert_not_null(p);
	cr_assert_eq(sscanf(p + 2,
			    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			    "%llu %llu",
			    &ut, &st),
		     2);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The daemon's fds on the backing object (dev, ino). */
static int fds_on(pid_t pid, dev_t dev, ino_t ino)
{
	char dir[64], path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	int n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	cr_assert_not_null(d);
	while ((de = readdir(d))) {
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n += de->d_name[0] != '.' && stat(path, &st) == 0 &&
		     st.st_dev == dev && st.st_ino == ino;
	}
	closedir(d);
	return n;
}

/* Work done as the user, in a child: returns NULL, or what went wrong.
 * What it leaves in wout goes back to the test. */
typedef const char *(*user_work)(void *arg);

static char werr[ERR_MAX], wout[ERR_MAX];

static const char *fail(const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(werr, sizeof(werr), fmt, ap);
	va_end(ap);
	n = strlen(werr);
	snprintf(werr + n, sizeof(werr) - n, ": %s", strerror(errno));
	return werr;
}

/* In a child of as_user(): the pipes to the test's `between`. */
static int pause_w = -1, resume_r = -1;

/* Called by work: hands msg to the test's `between` and waits for it. */
static void user_pause(const char *msg)
{
	char c;

	if (write(pause_w, msg, strlen(msg) + 1) < 0 ||
	    read(resume_r, &c, 1) != 1)
		_exit(3);
}

/* Runs work(arg) as the user, and between(msg) as root whenever work calls
 * user_pause(msg); fails the test with work's message. Returns its wout,
 * valid until the next call. */
static const char *as_user(user_work work, void *arg,
			   void (*between)(const char *msg))
{
	static char msg[ERR_MAX + 1];
	int p[2], q[2], r[2], status;
	ssize_t n;
	pid_t pid;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(q, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(r, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		const char *e;

		become_user();
		/* Only the test's ends: a test that dies must not leave a
		 * child waiting for itself, or the job for the child. */
		close(p[0]);
		close(q[0]);
		close(r[1]);
		if (u.go >= 0)
			close(u.go);
		pause_w = q[1];
		resume_r = r[0];
		e = work(arg);
		if (write(p[1], e ? e : wout, strlen(e ? e : wout)) < 0)
			_exit(2);
		_exit(e ? 1 : 0);
	}
	close(p[1]);
	close(q[1]);
	close(r[0]);
	while ((n = read(q[0], msg, ERR_MAX)) > 0) {
		msg[n] = '\0';
		cr_assert_not_null(between, "work paused with no `between`");
		between(msg);
		cr_assert_eq(write(r[1], "g", 1), 1);
	}
	close(q[0]);
	close(r[1]);
	memset(msg, 0, sizeof(msg));
	if (read(p[0], msg, ERR_MAX) < 0)
		msg[0] = '\0';
	close(p[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "as %s: %s (status %#x)", u.name, msg, status);
	return msg;
}

/* 100,000 files --------------------------------------------------------- */

#define NFILES 100000
#define PER_DIR 1000
#define NDIRS (NFILES / PER_DIR)

static void file_path(char *buf, size_t cap, int i)
{
	snprintf(buf, cap, "%s/d%03d/f%06d", u.M, i / PER_DIR, i);
}

/* Each file holds its own path. */
static const char *create_all(void *arg)
{
	char path[PATH_MAX];
	ssize_t len;
	int fd;

	(void)arg;
	for (int d = 0; d < NDIRS; d++) {
		snprintf(path, sizeof(path), "%s/d%03d", u.M, d);
		if (mkdir(path, 0755) < 0)
			return fail("mkdir %s", path);
	}
	for (int i = 0; i < NFILES; i++) {
		file_path(path, sizeof(path), i);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			return fail("create %s (file %d)", path, i);
		len = (ssize_t)strlen(path);
		if (write(fd, path, (size_t)len) != len || close(fd) < 0)
			return fail("write %s", path);
	}
	return NULL;
}

static const char *list_stat_read(void *arg)
{
	char path[PATH_MAX], got[PATH_MAX];
	struct dirent *de;
	struct stat st;
	ssize_t n;
	int fd;

	(void)arg;
	for (int d = 0; d < NDIRS; d++) {
		int count = 0, i;
		DIR *dp;

		snprintf(path, sizeof(path), "%s/d%03d", u.M, d);
		dp = opendir(path);
		if (!dp)
			return fail("opendir %s", path);
		errno = 0;
		while ((de = readdir(dp))) {
			if (de->d_name[0] == '.')
				continue;
			if (sscanf(de->d_name, "f%d", &i) != 1 ||
			    i / PER_DIR != d)
				return fail("%s: entry %s", path, de->d_name);
			count++;
		}
		if (errno)
			return fail("readdir %s", path);
		closedir(dp);
		if (count != PER_DIR)
			return fail("%s: %d entries", path, count);
	}
	for (int i = 0; i < NFILES; i++) {
		file_path(path, sizeof(path), i);
		if (stat(path, &st) < 0)
			return fail("stat %s", path);
		if (st.st_size != (off_t)strlen(path))
			return fail("%s: size %lld", path,
				    (long long)st.st_size);
	}
	for (int i = 0; i < NFILES; i++) {
		file_path(path, sizeof(path), i);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return fail("open %s", path);
		n = read(fd, got, sizeof(got) - 1);
		close(fd);
		if (n < 0)
			return fail("read %s", path);
		got[n] = '\0';
		if (strcmp(got, path) != 0)
			return fail("%s holds %s", path, got);
	}
	return NULL;
}

static const char *remove_all(void *arg)
{
	char path[PATH_MAX];

	(void)arg;
	for (int i = 0; i < NFILES; i++) {
		file_path(path, sizeof(path), i);
		if (unlink(path) < 0)
			return fail("unlink %s", path);
	}
	for (int d = 0; d < NDIRS; d++) {
		snprintf(path, sizeof(path), "%s/d%03d", u.M, d);
		if (rmdir(path) < 0)
			return fail("rmdir %s", path);
	}
	return NULL;
}

/* Under the 900 s that tools/run-tests.sh gives a binary. */
Test(user, hundred_thousand_files, .timeout = 850)
{
	pid_t daemon;
	double t0, t1, t2, t3, cpu;
	char fddir[64];

	start_job("");
	daemon = daemon_pid();
	cr_assert_eq((uid_t)sfs_proc_status(daemon, "Uid"), u.uid);
	cr_assert_eq(open_files_limit(daemon), NOFILE);
	t0 = sfs_now_s();
	as_user(create_all, NULL, NULL);
	t1 = sfs_now_s();
	as_user(list_stat_read, NULL, NULL);
	t2 = sfs_now_s();
	snprintf(fddir, sizeof(fddir), "/proc/%d/fd", (int)daemon);
	cr_assert_lt(sfs_dir_entries(fddir), NOFILE);
	cpu = daemon_cpu(daemon);
	as_user(remove_all, NULL, NULL);
	t3 = sfs_now_s();
	cr_log_info(
	    "%d files: create %.1f s, list+stat+read %.1f s, remove "
	    "%.1f s; daemon CPU %.1f s before the removal, %.1f s after",
	    NFILES, t1 - t0, t2 - t1, t3 - t2, cpu, daemon_cpu(daemon));
	finish_job();
}

/* Directories swapped behind the mount's back ----------------------------- */

#define NCHURN 2000 /* entries enough to park every unused fd */

static const char *const swap_dirs[] = {"a", "c", "e"};
static pid_t swap_daemon;

/* Each file x/b/f holds its own name. */
static const char *swap_make(void)
{
	static const char *dirs[] = {"a", "a/b", "c",	 "c/b",
				     "e", "e/b", "churn"};
	char path[PATH_MAX], name[16];

	for (size_t k = 0; k < sizeof(dirs) / sizeof(dirs[0]); k++) {
		snprintf(path, sizeof(path), "%s/%s", u.M, dirs[k]);
		if (mkdir(path, 0755) < 0)
			return fail("mkdir %s", path);
	}
	for (int k = 0; k < 3; k++) {
		snprintf(name, sizeof(name), "%s/b/f", swap_dirs[k]);
		snprintf(path, sizeof(path), "%s/%s", u.M, name);
		if (sfs_write_file(path, name, strlen(name)) < 0)
			return fail("write %s", path);
	}
	return NULL;
}

static const char *churn(void)
{
	char path[PATH_MAX];
	struct stat st;

	for (int i = 0; i < NCHURN; i++) {
		snprintf(path, sizeof(path), "%s/churn/c%d", u.M, i);
		if (sfs_write_file(path, "", 0) < 0 || stat(path, &st) < 0)
			return fail("churn %s", path);
	}
	return NULL;
}

/* Appends to msg the backing entry of the mount's directory `name` (the
 * mount shows backing inode numbers) and a '/'. */
static const char *add_backing_name(const char *name, char *msg, size_t cap)
{
	char path[PATH_MAX];
	struct stat st, bst;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", u.M, name);
	if (stat(path, &st) < 0)
		return fail("stat %s", path);
	d = opendir(u.B);
	if (!d)
		return fail("opendir %s", u.B);
	while ((de = readdir(d))) {
		snprintf(path, sizeof(path), "%s/%s", u.B, de->d_name);
		if (lstat(path, &bst) == 0 && bst.st_ino == st.st_ino) {
			snprintf(msg + strlen(msg), cap - strlen(msg), "%s/",
				 de->d_name);
			closedir(d);
			return NULL;
		}
	}
	closedir(d);
	errno = ENOENT;
	return fail("no backing entry for %s", name);
}

/* What `rel` (relative to dirfd) holds into got, and the inode number
 * the mount shows for it: 0 or -errno. */
static int read_at(int dirfd, const char *rel, char *got, size_t cap,
		   ino_t *ino)
{
	int fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC), rc = 0;
	struct stat st;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, got, cap - 1);
	if (n < 0 || fstat(fd, &st) < 0)
		rc = -errno;
	got[n < 0 ? 0 : n] = '\0';
	*ino = st.st_ino;
	close(fd);
	return rc;
}

static ino_t swap_ino[3]; /* of a/b/f, c/b/f, e/b/f before the swap */

/* Whether got (read from an object the mount shows as inode ino) is the
 * data of the file made as `name`, that object. */
static bool is_file(const char *got, ino_t ino, const char *name)
{
	for (int k = 0; k < 3; k++)
		if (strncmp(name, swap_dirs[k], 1) == 0)
			return strcmp(got, name) == 0 && ino == swap_ino[k];
	return false;
}

/* As the user: makes a/b/f, c/b/f, e/b/f, holds their directories b/ open
 * (O_PATH: the daemon sees no open), parks every fd of the daemon's, and
 * pauses while the test swaps a/ and c/ and removes e/ in the backing
 * directory. Then, from the held directories, each f reads as itself or
 * fails with ESTALE; by path each reads as itself (the kernel's entries
 * are still valid), as the file now there, or fails with ESTALE or ENOENT.
 * Never does an object show another's data. */
static const char *swap_work(void *arg)
{
	static const char *now_at[] = {"c/b/f", "a/b/f", NULL};
	char path[PATH_MAX], got[64], msg[ERR_MAX] = "";
	const char *e;
	int held[3], stale = 0, rc;
	struct stat st;
	ino_t ino;

	(void)arg;
	if ((e = swap_make()))
		return e;
	for (int k = 0; k < 3; k++) {
		snprintf(path, sizeof(path), "%s/%s/b/f", u.M, swap_dirs[k]);
		if (stat(path, &st) < 0)
			return fail("stat %s", path);
		swap_ino[k] = st.st_ino;
		snprintf(path, sizeof(path), "%s/%s/b", u.M, swap_dirs[k]);
		held[k] = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (held[k] < 0)
			return fail("open %s", path);
		if ((e = add_backing_name(swap_dirs[k], msg, sizeof(msg))))
			return e;
	}
	if ((e = churn()))
		return e;
	user_pause(msg);
	for (int k = 0; k < 3; k++) {
		snprintf(path, sizeof(path), "%s/b/f", swap_dirs[k]);
		rc = read_at(held[k], "f", got, sizeof(got), &ino);
		errno = -rc;
		if (rc == -ESTALE)
			stale++;
		else if (rc < 0)
			return fail("%s from its held directory", path);
		else if (!is_file(got, ino, path))
			return fail("%s from its held directory reads as %s "
				    "(inode %llu)",
				    path, got, (unsigned long long)ino);
		rc = read_at(AT_FDCWD, sfs_join(u.M, path), got, sizeof(got),
			     &ino);
		errno = -rc;
		if (rc < 0 && rc != -ESTALE && (rc != -ENOENT || now_at[k]))
			return fail("%s by path", path);
		if (rc == 0 && !is_file(got, ino, path) &&
		    (!now_at[k] || !is_file(got, ino, now_at[k])))
			return fail("%s by path reads as %s (inode %llu)", path,
				    got, (unsigned long long)ino);
	}
	errno = 0;
	if (stale == 0)
		return fail("no parked entry noticed the swap");
	if (sfs_write_file(sfs_join(u.M, "new"), "new", 3) < 0)
		return fail("create a file after the swap");
	return NULL;
}

/* As root, with the user's work paused: checks that the directories' fds
 * are parked, then swaps them in the backing directory. */
static void swap_between(const char *msg)
{
	char names[3][NAME_MAX + 1], from[PATH_MAX], to[PATH_MAX];
	struct stat bst, st;
	const char *p = msg;

	cr_assert_eq(stat(u.B, &bst), 0);
	for (int k = 0; k < 3; k++) {
		const char *slash = strchr(p, '/');

		cr_assert_not_null(slash, "names: %s", msg);
		snprintf(names[k], sizeof(names[k]), "%.*s", (int)(slash - p),
			 p);
		p = slash + 1;
		snprintf(from, sizeof(from), "%s/%s", u.B, names[k]);
		cr_assert_eq(lstat(from, &st), 0, "%s: %s", from,
			     strerror(errno));
		cr_assert_eq(fds_on(swap_daemon, bst.st_dev, st.st_ino), 0,
			     "%s/ was not parked", swap_dirs[k]);
	}
	snprintf(from, sizeof(from), "%s/%s", u.B, names[0]);
	snprintf(to, sizeof(to), "%s/%s", u.B, names[1]);
	cr_assert_eq(renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_EXCHANGE),
		     0, "exchange: %s", strerror(errno));
	snprintf(from, sizeof(from), "%s/%s", u.B, names[2]);
	cr_assert_eq(rename(from, sfs_join(sfs_fx.root, "moved-away")), 0);
}

/* The kernel keeps its entries: only an ESTALE makes it look up again. */
#define KEEP_ENTRIES "fuse = { cache_timeout = 3600.0; };"

static void swapped_directories(const char *conf)
{
	start_job(conf);
	swap_daemon = daemon_pid();
	as_user(swap_work, NULL, swap_between);
	finish_job();
}

/* Encrypted names differ from directory to directory ... */
Test(user, swapped_directories_hbi, .timeout = 120)
{
	swapped_directories(KEEP_ENTRIES);
}

/* ... plain ones do not: only the checks of the objects found tell. */
Test(user, swapped_directories_plain, .timeout = 120)
{
	swapped_directories(KEEP_ENTRIES "hbi_workspace = false;");
}
