/* plugin_mount.c - starting, checking and stopping the scratchfs daemon of
 * one volume. The daemon is a separate, daemonized process, so mounts
 * outlive a plugin restart. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sfs_log.h"
#include "sfs_mountinfo.h"
#include "sfs_plugin_base.h"
#include "sfs_sys.h"

extern char **environ;

int sfs_plugin_mount_state(const char *mnt)
{
	char parent[PATH_MAX];
	struct stat st, pst;
	char *slash;
	int fd, e;

	if (lstat(mnt, &st) < 0) {
		/* A dead FUSE daemon: the mount is still there. */
		if (sfs_errno_dead_fuse(errno))
			return SFS_PLUGIN_STALE;
		return -errno;
	}
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	snprintf(parent, sizeof(parent), "%s", mnt);
	slash = strrchr(parent, '/');
	if (!slash)
		return -EINVAL;
	if (slash == parent)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (stat(parent, &pst) < 0)
		return -errno;
	if (st.st_dev == pst.st_dev)
		return SFS_PLUGIN_NOT_MOUNTED;
	/* lstat() of the root may be answered from the kernel's cache: ask
	 * the daemon itself with a directory open. */
	fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return sfs_errno_dead_fuse(errno) ? SFS_PLUGIN_STALE : -errno;
	if (fstat(fd, &st) < 0) {
		e = errno;
		close(fd);
		return sfs_errno_dead_fuse(e) ? SFS_PLUGIN_STALE : -e;
	}
	close(fd);
	return SFS_PLUGIN_MOUNTED;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Keeps the last non-empty line of the child's output in out. */
static void last_line(const char *buf, char *out, size_t out_len)
{
	const char *end = buf + strlen(buf), *start;

	while (end > buf && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	start = end;
	while (start > buf && start[-1] != '\n')
		start--;
	snprintf(out, out_len, "%.*s", (int)(end - start), start);
}

/* The spawned daemon must not inherit the plugin's blocked or ignored
 * signals (exec keeps both), nor any of its descriptors. */
static int spawn(const char *const argv[], int out_fd, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, defaults;
	int rc;

	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	sigaddset(&defaults, SIGTERM);
	sigaddset(&defaults, SIGINT);
	sigaddset(&defaults, SIGHUP);
	if ((rc = posix_spawn_file_actions_init(&fa)))
		return -rc;
	if ((rc = posix_spawnattr_init(&at))) {
		posix_spawn_file_actions_destroy(&fa);
		return -rc;
	}
	rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (!rc)
		rc = posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	if (!rc)
		rc = posix_spawn_file_actions_adddup2(&fa, out_fd, 2);
	if (!rc)
		rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (!rc)
		rc = posix_spawnattr_setsigmask(&at, &none);
	if (!rc)
		rc = posix_spawnattr_setsigdefault(&at, &defaults);
	if (!rc)
		rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
						       POSIX_SPAWN_SETSIGDEF);
	if (!rc)
		rc = posix_spawn(pid, argv[0], &fa, &at, (char *const *)argv,
				 environ);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return -rc;
}

int sfs_plugin_mount_start(const char *scratchfs, const char *conf,
			   const char *options, const char *backing,
			   const char *mnt, unsigned int timeout_s, char *err,
			   size_t err_len)
{
	const char *argv[9];
	char out[4096] = "", line[512];
	size_t used = 0, argc = 0;
	double deadline = now_s() + timeout_s;
	int p[2], status = 0, rc;
	bool exited = false, eof = false;
	pid_t pid;

	argv[argc++] = scratchfs;
	if (conf && *conf) {
		argv[argc++] = "-c";
		argv[argc++] = conf;
	}
	argv[argc++] = "-o";
	argv[argc++] = options;
	argv[argc++] = backing;
	argv[argc++] = mnt;
	argv[argc] = NULL;

	if (pipe2(p, O_CLOEXEC) < 0)
		return sfs_err_rc(-errno, err, err_len, "pipe: %s",
				  strerror(errno));
	rc = spawn(argv, p[1], &pid);
	close(p[1]);
	if (rc) {
		close(p[0]);
		return sfs_err_rc(rc, err, err_len, "cannot run %s: %s",
				  scratchfs, strerror(-rc));
	}
	/* scratchfs' first process exits once the mount is up (or failed);
	 * its stderr carries the reason. The daemon it leaves behind has
	 * closed the pipe by then. */
	while (!exited || !eof) {
		struct pollfd pfd = {.fd = p[0], .events = POLLIN};
		pid_t w;

		if (!eof && poll(&pfd, 1, 50) > 0) {
			char tmp[512];
			ssize_t n = read(p[0], tmp, sizeof(tmp));

			if (n <= 0) {
				eof = n == 0 || errno != EINTR;
			} else if (used + 1 < sizeof(out)) {
				size_t k = (size_t)n;

				if (k > sizeof(out) - 1 - used)
					k = sizeof(out) - 1 - used;
				memcpy(out + used, tmp, k);
				used += k;
				out[used] = '\0';
			}
		} else if (eof) {
			usleep(10000);
		}
		if (!exited) {
			w = waitpid(pid, &status, WNOHANG);
			if (w == pid || (w < 0 && errno != EINTR))
				exited = true;
		}
		if (exited && !eof && now_s() > deadline)
			break; /* a grandchild kept the pipe open */
		if (!exited && now_s() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			close(p[0]);
			/* It may have mounted just before dying. */
			if (sfs_plugin_mount_state(mnt) !=
			    SFS_PLUGIN_NOT_MOUNTED)
				umount2(mnt, MNT_DETACH | UMOUNT_NOFOLLOW);
			return sfs_err_rc(
			    -ETIMEDOUT, err, err_len,
			    "scratchfs did not mount %s within %u s", mnt,
			    timeout_s);
		}
	}
	close(p[0]);
	last_line(out, line, sizeof(line));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFSIGNALED(status))
			return sfs_err_rc(
			    -EIO, err, err_len,
			    "scratchfs for %s was killed by signal %d", mnt,
			    WTERMSIG(status));
		return sfs_err_rc(-EIO, err, err_len, "%s",
				  line[0] ? line
					  : "scratchfs failed without a "
					    "message");
	}
	rc = sfs_plugin_mount_state(mnt);
	if (rc != SFS_PLUGIN_MOUNTED)
		return sfs_err_rc(
		    -EIO, err, err_len,
		    "scratchfs reported success but %s is %s", mnt,
		    rc == SFS_PLUGIN_STALE ? "a dead mount" : "not mounted");
	return 0;
}

/* True when /proc/PID/cmdline is "scratchfs ... mnt". */
static bool is_daemon_of(const char *pid, const char *scratchfs,
			 const char *mnt)
{
	char path[64], buf[4 * PATH_MAX + 64];
	const char *last;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || buf[n - 1] != '\0')
		return false;
	buf[n] = '\0';
	if (strcmp(buf, scratchfs))
		return false;
	last = buf + n - 1; /* the final NUL */
	while (last > buf && last[-1] != '\0')
		last--;
	return last != buf && !strcmp(last, mnt);
}

pid_t sfs_plugin_mount_daemon(const char *scratchfs, const char *mnt)
{
	struct dirent *de;
	pid_t found = 0;
	DIR *d = opendir("/proc");

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (is_daemon_of(de->d_name, scratchfs, mnt)) {
			found = (pid_t)atoi(de->d_name);
			break;
		}
	}
	closedir(d);
	return found;
}

/* Gone, or a zombie nobody reaps (PID 1 in some containers does not). */
static bool has_exited(pid_t pid)
{
	char buf[256];

	return !sfs_proc_stat(pid, buf, sizeof(buf));
}

int sfs_plugin_mount_stop(const char *scratchfs, const char *mnt, bool *lazy,
			  char *err, size_t err_len)
{
	pid_t pid = sfs_plugin_mount_daemon(scratchfs, mnt);
	double deadline;

	*lazy = false;
	if (umount2(mnt, UMOUNT_NOFOLLOW) < 0) {
		if (errno == EINVAL || errno == ENOENT)
			return 0; /* not a mount point (any more) */
		if (errno != EBUSY)
			return sfs_err_rc(-errno, err, err_len, "umount %s: %s",
					  mnt, strerror(errno));
		/* Someone still has a file open though the engine is done
		 * with it: detach; the daemon exits after the last close. */
		if (umount2(mnt, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
			return sfs_err_rc(-errno, err, err_len,
					  "umount -l %s: %s", mnt,
					  strerror(errno));
		*lazy = true;
		return 0;
	}
	deadline = now_s() + 5;
	while (pid > 0 && !has_exited(pid) && now_s() < deadline)
		usleep(5000);
	return 0;
}
