/* mount_util.c - mount scratchfs for real in Criterion tests, and clean up. */
#include "mount_util.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sfs_sys.h"
#include "util.h"

#define SFS_BIN SFS_BUILD_DIR "/scratchfs"
#define POLL_MS 10
#define MAX_ARGS 64

struct sfs_mount sfs_fx;

/* 0 when @path is made of @dir and @rel, -ENAMETOOLONG otherwise. */
static int join_into(char *out, size_t cap, const char *dir, const char *rel)
{
	int n;

	if (!rel || !*rel)
		n = snprintf(out, cap, "%s", dir);
	else
		n = snprintf(out, cap, "%s/%s", dir, rel);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

const char *sfs_join(const char *dir, const char *rel)
{
	static char ring[64][PATH_MAX];
	static unsigned next;
	char *out = ring[next++ % 64];

	if (join_into(out, PATH_MAX, dir, rel))
		cr_assert_fail("path too long: %s/%s", dir, rel);
	return out;
}

const char *sfs_mpath(const struct sfs_mount *m, const char *rel)
{
	return sfs_join(m->mnt, rel);
}

const char *sfs_rpath(const struct sfs_mount *m, const char *rel)
{
	return sfs_join(m->ref, rel);
}

const char *sfs_bpath(const struct sfs_mount *m, const char *rel)
{
	return sfs_join(m->backing, rel);
}

int sfs_write_file(const char *path, const void *buf, size_t len)
{
	int fd, rc;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	rc = sfs_write_full(fd, buf, len);
	if (close(fd) && !rc)
		rc = -errno;
	return rc;
}

void *sfs_read_file(const char *path, size_t *len)
{
	size_t cap = 65536, used = 0;
	char *buf = NULL, *nbuf;
	int fd, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	for (;;) {
		ssize_t n;

		if (!buf || used + 1 >= cap) {
			if (buf)
				cap *= 2;
			nbuf = realloc(buf, cap);
			if (!nbuf) {
				errno = ENOMEM;
				goto fail;
			}
			buf = nbuf;
		}
		n = read(fd, buf + used, cap - used - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	buf[used] = '\0';
	if (len)
		*len = used;
	return buf;
fail:
	saved = errno;
	close(fd);
	free(buf);
	errno = saved;
	return NULL;
}

void sfs_fill_pattern(void *buf, size_t len, unsigned seed)
{
	unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		uint32_t h = (uint32_t)i * 0x9e3779b1u ^ seed * 0x85ebca77u;

		h ^= h >> 15;
		h *= 0x2c1b3c6du;
		h ^= h >> 12;
		p[i] = (unsigned char)h;
	}
}

bool sfs_log_contains(const struct sfs_mount *m, const char *needle)
{
	size_t len;
	char *log = sfs_read_file(m->log, &len);
	bool found;

	if (!log)
		return false;
	found = memmem(log, len, needle, strlen(needle)) != NULL;
	free(log);
	return found;
}

void sfs_log_dump(const struct sfs_mount *m)
{
	size_t len;
	char *log = sfs_read_file(m->log, &len);

	fprintf(stderr, "---- daemon log %s ----\n", m->log);
	if (log) {
		fwrite(log, 1, len, stderr);
		free(log);
	} else {
		fprintf(stderr, "(unreadable: %s)\n", strerror(errno));
	}
	fprintf(stderr, "---- end of daemon log ----\n");
}

/*
 * True when @path is a mount point in our namespace. /proc/self/mountinfo
 * is used rather than stat() because stat() on a FUSE mount whose daemon
 * hangs would block the test until its timeout.
 */
static bool is_mounted(const char *path)
{
	char line[8192], mp[PATH_MAX];
	bool found = false;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		const char *s = line;
		size_t o = 0;
		int field;

		/* The mount point is the 5th field; octal escapes for ' '. */
		for (field = 1; field < 5 && s; field++) {
			s = strchr(s, ' ');
			if (s)
				s++;
		}
		if (!s)
			continue;
		while (*s && *s != ' ' && *s != '\n' && o + 1 < sizeof(mp)) {
			if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
			    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
			    s[3] <= '7') {
				mp[o++] =
				    (char)((s[1] - '0') * 64 +
					   (s[2] - '0') * 8 + (s[3] - '0'));
				s += 4;
			} else {
				mp[o++] = *s++;
			}
		}
		mp[o] = '\0';
		found = strcmp(mp, path) == 0;
	}
	fclose(f);
	return found;
}

/*
 * fork+exec @argv with stdout/stderr appended to @log (or inherited when
 * NULL) and stdin from /dev/null, with RLIMIT_NOFILE @nofile when not 0.
 * The child gets SIGTERM if the test process dies first, so a crashed test
 * does not leave a daemon behind (libfuse unmounts on SIGTERM). Returns the
 * pid or -errno.
 */
static pid_t spawn(const char *const argv[], const char *log,
		   unsigned long nofile)
{
	pid_t parent = getpid(), pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd;

		if (prctl(PR_SET_PDEATHSIG, SIGTERM) || getppid() != parent)
			_exit(127);
		if (nofile) {
			struct rlimit lim;

			/* Only root could raise the hard limit. */
			if (getrlimit(RLIMIT_NOFILE, &lim) == 0 &&
			    lim.rlim_max < nofile)
				nofile = lim.rlim_max;
			lim.rlim_cur = lim.rlim_max = nofile;
			if (setrlimit(RLIMIT_NOFILE, &lim))
				_exit(127);
		}
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0 && fd != 0) {
			dup2(fd, 0);
			close(fd);
		}
		if (log) {
			fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
			if (fd < 0)
				_exit(127);
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
		execvp(argv[0], (char *const *)argv);
		dprintf(2, "mount_util: exec %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	return pid;
}

/* spawn() the daemon with @args (after argv[0]); fails the test when there
 * are too many or fork fails. */
static pid_t spawn_daemon(const char *const args[], const char *log,
			  unsigned long nofile)
{
	const char *argv[MAX_ARGS + 2];
	size_t n;
	pid_t pid;

	argv[0] = SFS_BIN;
	for (n = 0; args[n]; n++) {
		if (n >= MAX_ARGS)
			cr_assert_fail("too many daemon arguments");
		argv[n + 1] = args[n];
	}
	argv[n + 1] = NULL;
	pid = spawn(argv, log, nofile);
	if (pid < 0)
		cr_assert_fail("fork: %s", strerror((int)-pid));
	return pid;
}

/* Shell-style status: exit code, or 128 + signal. */
static int decode_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 255;
}

/* Reap @pid within @ms milliseconds: 0 with *@status set, or -ETIMEDOUT. */
static int wait_bounded(pid_t pid, long ms, int *status)
{
	long waited;

	for (waited = 0;; waited += POLL_MS) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (waited >= ms)
			return -ETIMEDOUT;
		sfs_sleep_ms(POLL_MS);
	}
}

static void kill_and_reap(pid_t pid, int *status)
{
	int st;

	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (status)
		*status = st;
}

void sfs_mount_setup(struct sfs_mount *m)
{
	static const char *const sub[] = {"backing", "mnt", "ref"};
	char tmpl[] = SFS_TEST_ROOT_PREFIX "XXXXXX";
	char *dirs[] = {m->backing, m->mnt, m->ref};
	const char *run_id;
	size_t i;
	int rc;

	memset(m, 0, sizeof(*m));
	m->pid = -1;
	m->last_status = -1;
	if (!mkdtemp(tmpl))
		cr_assert_fail("mkdtemp %s: %s", tmpl, strerror(errno));
	/* mountinfo shows canonical paths: compare like with like. */
	if (!realpath(tmpl, m->root))
		cr_assert_fail("realpath %s: %s", tmpl, strerror(errno));
	for (i = 0; i < 3; i++) {
		if (join_into(dirs[i], PATH_MAX, m->root, sub[i]))
			cr_assert_fail("path too long");
		if (mkdir(dirs[i], 0755))
			cr_assert_fail("mkdir %s: %s", dirs[i],
				       strerror(errno));
	}
	if (join_into(m->log, PATH_MAX, m->root, "daemon.log") ||
	    join_into(m->conf, PATH_MAX, m->root, "scratchfs.conf"))
		cr_assert_fail("path too long");
	sfs_mount_write_conf(m, "");
	rc = sfs_write_file(m->log, "", 0);
	if (rc)
		cr_assert_fail("create %s: %s", m->log, strerror(-rc));
	/* Lets tools/run-tests.sh sweep only what its own run left behind. */
	run_id = getenv("SFS_TEST_RUN_ID");
	if (run_id) {
		rc = sfs_write_file(sfs_join(m->root, "run-id"), run_id,
				    strlen(run_id));
		if (rc)
			cr_assert_fail("write run-id: %s", strerror(-rc));
	}
}

void sfs_mount_write_conf(struct sfs_mount *m, const char *text)
{
	int rc = sfs_write_file(m->conf, text, strlen(text));

	if (rc)
		cr_assert_fail("write %s: %s", m->conf, strerror(-rc));
}

void sfs_mount_write_audit_conf(struct sfs_mount *m, const char *extra)
{
	char text[PATH_MAX + 512];

	snprintf(text, sizeof(text),
		 "audit = { file = \"%s\"; syslog = false; };\n%s",
		 sfs_join(m->root, "audit.log"), extra ? extra : "");
	sfs_mount_write_conf(m, text);
}

void sfs_mount_write_keyring_conf(struct sfs_mount *m, const char *desc)
{
	char conf[256];

	snprintf(conf, sizeof(conf),
		 "key_source = \"keyring\";\nkeyring_description = \"%s\";\n",
		 desc);
	sfs_mount_write_conf(m, conf);
}

/* st_dev of the mount point differs from its parent's once mounted. */
static bool dev_differs(const struct sfs_mount *m)
{
	struct stat a, b;

	if (stat(m->mnt, &a) || stat(m->root, &b))
		return false;
	return a.st_dev != b.st_dev;
}

/* Kill whatever runs, detach the mount, remove the root; never fails. */
static void emergency_cleanup(struct sfs_mount *m)
{
	if (m->pid > 0)
		kill_and_reap(m->pid, NULL);
	m->pid = -1;
	if (is_mounted(m->mnt))
		umount2(m->mnt, MNT_DETACH);
	m->mounted = false;
}

/* Run the daemon with @args; wait for a mount or an exit. */
static void start_or_fail(struct sfs_mount *m, const char *const args[])
{
	char why[256];
	long waited;
	int status;

	if (m->pid > 0 || is_mounted(m->mnt))
		cr_assert_fail("%s: already mounted", m->mnt);
	m->pid = spawn_daemon(args, m->log, m->nofile);
	for (waited = 0; waited <= SFS_MOUNT_WAIT_S * 1000L;
	     waited += POLL_MS) {
		if (waitpid(m->pid, &status, WNOHANG) == m->pid) {
			m->pid = -1;
			m->last_status = decode_status(status);
			snprintf(why, sizeof(why),
				 "scratchfs exited with status %d before "
				 "mounting",
				 m->last_status);
			goto fail;
		}
		if (is_mounted(m->mnt) && dev_differs(m)) {
			m->mounted = true;
			return;
		}
		sfs_sleep_ms(POLL_MS);
	}
	snprintf(why, sizeof(why), "scratchfs did not mount within %d s",
		 SFS_MOUNT_WAIT_S);
fail:
	emergency_cleanup(m);
	sfs_log_dump(m);
	sfs_mount_teardown(m);
	cr_assert_fail("%s (mount point %s)", why, m->mnt);
}

void sfs_mount_start(struct sfs_mount *m, const char *opts)
{
	const char *args[] = {"-f", "-c",	m->conf, opts ? "-o" : NULL,
			      opts, m->backing, m->mnt,	 NULL};

	if (!opts) {
		args[3] = m->backing;
		args[4] = m->mnt;
		args[5] = NULL;
	}
	start_or_fail(m, args);
}

int sfs_mount_run_fail(struct sfs_mount *m, const char *const args[])
{
	pid_t pid = spawn_daemon(args, m->log, m->nofile);
	long waited;
	int status;

	for (waited = 0; waited <= SFS_MOUNT_WAIT_S * 1000L;
	     waited += POLL_MS) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			m->last_status = decode_status(status);
			return m->last_status;
		}
		if (is_mounted(m->mnt)) {
			/* Let the normal path unmount it and judge the exit. */
			m->pid = pid;
			m->mounted = true;
			sfs_mount_stop(m);
			cr_assert_fail("scratchfs mounted %s but was expected "
				       "to refuse",
				       m->mnt);
		}
		sfs_sleep_ms(POLL_MS);
	}
	kill_and_reap(pid, NULL);
	sfs_log_dump(m);
	cr_assert_fail("scratchfs neither mounted nor exited within %d s",
		       SFS_MOUNT_WAIT_S);
	return -1;
}

void sfs_mount_expect_refused(struct sfs_mount *m, const char *opts,
			      const char *needle)
{
	const char *args[] = {"-f", "-c",	m->conf, "-o",
			      opts, m->backing, m->mnt,	 NULL};
	int st = sfs_mount_run_fail(m, args);

	cr_assert_neq(st, 0, "scratchfs exited 0");
	cr_assert_lt(st, 128, "scratchfs died of signal %d", st - 128);
	if (!sfs_log_contains(m, needle)) {
		sfs_log_dump(m);
		cr_assert_fail("daemon log lacks \"%s\"", needle);
	}
}

/*
 * Unmount and reap without asserting. Returns 0 when the daemon exited 0
 * after a clean unmount (or nothing ran), else -1 with @why filled in.
 */
static int stop_quiet(struct sfs_mount *m, char *why, size_t cap)
{
	const char *const fm[] = {"fusermount3", "-u", m->mnt, NULL};
	int rc = 0, status, fm_status = 0;
	pid_t fpid;

	why[0] = '\0';
	if (m->root[0] && is_mounted(m->mnt)) {
		fpid = spawn(fm, m->log, 0);
		if (fpid < 0 ||
		    wait_bounded(fpid, SFS_STOP_WAIT_S * 1000L, &status)) {
			if (fpid > 0)
				kill_and_reap(fpid, NULL);
			fm_status = -1;
		} else {
			fm_status = decode_status(status);
		}
		if (fm_status) {
			/* Usually EBUSY: the test left a file open. */
			snprintf(why, cap,
				 "fusermount3 -u failed (status %d; a file "
				 "left open?); ",
				 fm_status);
			umount2(m->mnt, MNT_DETACH);
			rc = -1;
		}
	}
	if (m->pid > 0) {
		if (wait_bounded(m->pid, SFS_STOP_WAIT_S * 1000L, &status)) {
			kill_and_reap(m->pid, &status);
			snprintf(why + strlen(why), cap - strlen(why),
				 "daemon did not exit within %d s of the "
				 "unmount, killed; ",
				 SFS_STOP_WAIT_S);
			rc = -1;
		} else if (status != 0) {
			snprintf(why + strlen(why), cap - strlen(why),
				 "daemon exit status %d (128+n = signal n); ",
				 decode_status(status));
			rc = -1;
		}
		m->last_status = decode_status(status);
		m->pid = -1;
	}
	if (m->root[0] && is_mounted(m->mnt)) {
		umount2(m->mnt, MNT_DETACH);
		snprintf(why + strlen(why), cap - strlen(why),
			 "mount still present after the daemon ended; ");
		rc = -1;
	}
	m->mounted = false;
	return rc;
}

void sfs_mount_stop(struct sfs_mount *m)
{
	char why[512];

	if (stop_quiet(m, why, sizeof(why))) {
		sfs_log_dump(m);
		cr_assert_fail("unclean stop of %s: %s", m->mnt, why);
	}
}

static int rm_entry(const char *path, const struct stat *st, int type,
		    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP ? rmdir(path) : unlink(path))
		fprintf(stderr, "mount_util: remove %s: %s\n", path,
			strerror(errno));
	return 0;
}

/* Only "/tmp/sfs-test.XXXXXX" itself may be removed, nothing else. */
static bool root_is_ours(const char *root)
{
	size_t plen = strlen(SFS_TEST_ROOT_PREFIX);

	return strncmp(root, SFS_TEST_ROOT_PREFIX, plen) == 0 &&
	       strlen(root) == plen + 6 && !strchr(root + plen, '/') &&
	       !strstr(root, "..");
}

static void __attribute__((noreturn)) teardown_abort(void)
{
	struct rlimit no_core = {0, 0};

	setrlimit(RLIMIT_CORE, &no_core);
	fflush(NULL);
	abort();
}

void sfs_mount_teardown(struct sfs_mount *m)
{
	char why[512];
	struct stat st;
	int stop_rc;

	if (!m->root[0])
		return;
	stop_rc = stop_quiet(m, why, sizeof(why));
	if (stop_rc) {
		sfs_log_dump(m);
		fprintf(stderr, "mount_util: unclean stop of %s: %s\n", m->mnt,
			why);
	}
	if (!root_is_ours(m->root)) {
		fprintf(stderr, "mount_util: refusing to remove %s\n", m->root);
		teardown_abort();
	}
	nftw(m->root, rm_entry, 16, FTW_PHYS | FTW_DEPTH | FTW_MOUNT);
	if (lstat(m->root, &st) == 0) {
		fprintf(stderr, "mount_util: %s not fully removed\n", m->root);
		stop_rc = -1;
	}
	m->root[0] = '\0';
	if (stop_rc)
		teardown_abort();
}

static void fx_init(const char *opts)
{
	sfs_mount_setup(&sfs_fx);
	if (opts)
		sfs_mount_start(&sfs_fx, opts);
}

void sfs_fx_init_hbi(void)
{
	fx_init("hbi=1");
}

void sfs_fx_init_plain(void)
{
	fx_init("hbi=0");
}

void sfs_fx_init_setup(void)
{
	fx_init(NULL);
}

void sfs_fx_fini(void)
{
	sfs_mount_teardown(&sfs_fx);
}

int sfs_mounts_under(const char *dir, const char *fstype, char out[][PATH_MAX],
		     int max)
{
	char line[4 * PATH_MAX], mp[PATH_MAX], type[128];
	size_t dlen = strlen(dir);
	int n = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *s = line, *d = mp, *dash;

		for (int field = 0; field < 4 && s; field++) {
			s = strchr(s, ' ');
			if (s)
				s++;
		}
		dash = strstr(line, " - ");
		if (!s || !dash || sscanf(dash + 3, "%127s", type) != 1)
			continue;
		while (*s && *s != ' ' && d < mp + sizeof(mp) - 1) {
			if (s[0] == '\\' && s[1] && s[2] && s[3]) {
				*d++ = (char)((s[1] - '0') * 64 +
					      (s[2] - '0') * 8 + (s[3] - '0'));
				s += 4;
			} else {
				*d++ = *s++;
			}
		}
		*d = '\0';
		if (strncmp(mp, dir, dlen) || (mp[dlen] != '/' && mp[dlen]))
			continue;
		if (fstype && strcmp(type, fstype))
			continue;
		if (n < max)
			strcpy(out[n++], mp);
	}
	fclose(f);
	for (int i = 0; i < n / 2; i++) {
		char tmp[PATH_MAX];

		strcpy(tmp, out[i]);
		strcpy(out[i], out[n - 1 - i]);
		strcpy(out[n - 1 - i], tmp);
	}
	return n;
}

int sfs_procs_mentioning(const char *dir, const char *except, pid_t *first)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir("/proc");

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		pid_t pid = (pid_t)atoi(de->d_name);
		char path[64], buf[8192], st[512];
		ssize_t len;
		int fd;

		if (de->d_name[0] < '1' || de->d_name[0] > '9' ||
		    pid == getpid())
			continue;
		if (snprintf(path, sizeof(path), "/proc/%s/cmdline",
			     de->d_name) >= (int)sizeof(path))
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		for (ssize_t i = 0; i < len; i++)
			if (!buf[i])
				buf[i] = ' ';
		buf[len] = '\0';
		if (!strstr(buf, dir) || (except && strstr(buf, except)))
			continue;
		if (!sfs_proc_stat(pid, st, sizeof(st)))
			continue;
		if (first && !n)
			*first = pid;
		n++;
	}
	closedir(d);
	return n;
}
