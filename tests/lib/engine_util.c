/* engine_util.c - see engine_util.h. */
#include "engine_util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mount_util.h"
#include "sfs_sys.h"
#include "util.h"

static int vsh(char *out, size_t len, const char *fmt, va_list ap)
{
	char cmd[8192], scratch[256];
	size_t used = 0;
	int p[2], status;
	pid_t pid;
	ssize_t n;

	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	if (!out) {
		out = scratch;
		len = sizeof(scratch);
	}
	out[0] = '\0';
	cr_assert(pipe2(p, O_CLOEXEC) == 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		execl("/usr/bin/timeout", "timeout", "-k", "5", "90", "/bin/sh",
		      "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while ((n = read(p[0], out + used, len - 1 - used)) > 0) {
		used += (size_t)n;
		if (used == len - 1) {
			char sink[4096];

			while (read(p[0], sink, sizeof(sink)) > 0)
				;
			break;
		}
	}
	out[used] = '\0';
	close(p[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int sfs_sh(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vsh(out, len, fmt, ap);
	va_end(ap);
	return rc;
}

const char *sfs_must(const char *fmt, ...)
{
	static char out[65536];
	char cmd[8192];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = sfs_sh(out, sizeof(out), "%s", cmd);
	cr_assert_eq(rc, 0, "`%s` failed (%d): %s", cmd, rc, out);
	return out;
}

void sfs_wait_output(const char *want, const char *cmd)
{
	double deadline = sfs_now_s() + 30;
	char out[4096];

	while (sfs_now_s() < deadline) {
		if (sfs_sh(out, sizeof(out), "%s", cmd) == 0 &&
		    strstr(out, want))
			return;
		sfs_sleep_ms(100);
	}
	cr_assert_fail("`%s` never printed %s (last: %s)", cmd, want, out);
}

void sfs_dump_tail(const char *what, const char *path)
{
	size_t len;
	char *text = sfs_read_file(path, &len);

	if (text) {
		fprintf(stderr, "---- %s (last 3000 bytes) ----\n%s\n----\n",
			what, len > 3000 ? text + len - 3000 : text);
		free(text);
	}
}

bool sfs_pid_gone(pid_t pid)
{
	char st[512];

	if (pid <= 0)
		return true;
	if (waitpid(pid, NULL, WNOHANG) == pid)
		return true;
	return !sfs_proc_stat(pid, st, sizeof(st));
}

void sfs_stop_pid(pid_t pid, double seconds)
{
	double deadline = sfs_now_s() + seconds;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	while (!sfs_pid_gone(pid) && sfs_now_s() < deadline)
		sfs_sleep_ms(50);
	if (!sfs_pid_gone(pid)) {
		kill(pid, SIGKILL);
		deadline = sfs_now_s() + 5;
		while (!sfs_pid_gone(pid) && sfs_now_s() < deadline)
			sfs_sleep_ms(20);
	}
}

pid_t sfs_spawn_logged(const char *log, bool new_session,
		       const char *const argv[])
{
	pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (new_session)
			setsid();
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

bool sfs_plugin_try_start(struct sfs_plugin *p)
{
	const char *argv[] = {SFS_PLUGIN_BIN, "-c",	p->conf, "--socket",
			      p->sock,	      "--root", p->root, NULL};
	double deadline = sfs_now_s() + 10;
	char out[256];

	p->pid = sfs_spawn_logged(p->log, false, argv);
	while (sfs_now_s() < deadline) {
		if (sfs_pid_gone(p->pid))
			break;
		if (sfs_sh(out, sizeof(out), "test -S %s", p->sock) == 0)
			return true;
		sfs_sleep_ms(20);
	}
	sfs_dump_tail("plugin log", p->log);
	return false;
}

void sfs_plugin_stop(struct sfs_plugin *p, int sig)
{
	if (p->pid <= 0)
		return;
	kill(p->pid, sig);
	waitpid(p->pid, NULL, 0);
	p->pid = 0;
}

const char *sfs_plugin_volume(const struct sfs_plugin *p, const char *name,
			      const char *what)
{
	static char path[PATH_MAX];

	SFS_FMT(path, "%s/volumes/%s%s%s", p->root, name, what ? "/" : "",
		what ? what : "");
	return path;
}

int sfs_fuse_mounts_settled(const char *dir)
{
	static char mps[64][PATH_MAX];
	double deadline = sfs_now_s() + 10;
	int n;

	while ((n = sfs_mounts_under(dir, "fuse.scratchfs", mps, 64)) > 0 &&
	       sfs_now_s() < deadline)
		sfs_sleep_ms(50);
	return n;
}

void sfs_busybox_rootfs(const char *dir)
{
	cr_assert_eq(access("/bin/busybox", X_OK), 0,
		     "/bin/busybox missing (install busybox-static)");
	/* Skip the busybox applet itself: a busybox -> busybox link would
	 * replace the binary (VOLUME-PLUGIN.md). */
	sfs_must("set -e; r=%s/rootfs; mkdir -p $r/bin; "
		 "cp /bin/busybox $r/bin/busybox; "
		 "for a in $($r/bin/busybox --list); do "
		 "[ \"$a\" = busybox ] || ln -sf busybox $r/bin/$a; done; "
		 "tar -C $r -cf %s/rootfs.tar .",
		 dir, dir);
}

void sfs_engine_dir_remove(const char *dir)
{
	static char mps[128][PATH_MAX];
	pid_t pid;
	int n;

	for (int i = 0; i < 50 && sfs_procs_mentioning(dir, NULL, &pid) > 0;
	     i++) {
		kill(pid, i < 25 ? SIGTERM : SIGKILL);
		sfs_sleep_ms(100);
	}
	n = sfs_mounts_under(dir, NULL, mps, 128);
	for (int i = 0; i < n; i++)
		if (umount2(mps[i], 0) < 0)
			umount2(mps[i], MNT_DETACH);
	if (!strncmp(dir, SFS_TEST_ROOT_PREFIX, strlen(SFS_TEST_ROOT_PREFIX)))
		nftw(dir, sfs_rm_one, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}
