/* job.c - one run: mount a fresh volume, run the job with signals
 * forwarded, then unmount, wipe and record it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "run.h"
#include "sfs_audit.h"
#include "sfs_crypto.h"
#include "sfs_sys.h"
#include "sfs_volume.h"
#include "sfs_wipe.h"

/* Children (the daemon, the job) start with default signal handling. */
static void child_signals(void)
{
	sigset_t none;

	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* A signal that arrived while it was blocked (before the job started):
 * its number, or 0. */
int run_pending_signal(const struct run *run)
{
	struct timespec zero = {0, 0};
	siginfo_t si;
	sigset_t s = run->sigs;

	sigdelset(&s, SIGCHLD);
	for (;;) {
		int sig = sigtimedwait(&s, &si, &zero);

		if (sig > 0)
			return sig;
		if (errno != EINTR)
			return 0;
	}
}

int run_mount_volume(struct run *run)
{
	char exe[PATH_MAX], err[256], other[PATH_MAX];
	const char *argv[8];
	struct sfs_volume_header h;
	int argc = 0, status, rc, fd;
	pid_t pid;

	rc = sfs_sibling_program("scratchfs", exe, sizeof(exe));
	if (rc) {
		fprintf(stderr,
			PROG ": cannot find the scratchfs daemon next to "
			     "this program or in ../sbin (%s): %s\n",
			exe, strerror(-rc));
		return rc;
	}
	argv[argc++] = exe;
	if (run->conf) {
		argv[argc++] = "-c";
		argv[argc++] = run->conf;
	}
	argv[argc++] = run->backing;
	argv[argc++] = run->mnt;
	argv[argc] = NULL;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		child_signals();
		execv(exe, (char *const *)argv);
		_exit(EXIT_NOTFOUND);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	/* Set before checking: a failed mount may still have made a
	 * header, which the cleanup then wipes. */
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, PROG ": mounting %s at %s failed\n",
			run->backing, run->mnt);
		return -EIO;
	}
	if (sfs_wipe_find_backing(run->mnt, other, sizeof(other)) != 1 ||
	    strcmp(other, run->backing) != 0) {
		fprintf(stderr,
			PROG ": %s is not mounted after scratchfs "
			     "succeeded\n",
			run->mnt);
		return -EIO;
	}
	run->mounted = true;
	fd = open(run->backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && sfs_volume_read(fd, &h, err, sizeof(err)) == 0)
		sfs_hex(run->volume_id, h.uuid, SFS_VOLUME_UUID_BYTES);
	if (fd >= 0)
		close(fd);
	return 0;
}

/* Runs the job; returns its status as a shell reports it. */
int run_job(struct run *run, char *const *cmd)
{
	char tmp[PATH_MAX + 8];
	int status = 0, sig;
	siginfo_t si;
	pid_t pid, w;

	snprintf(tmp, sizeof(tmp), "%s/tmp", run->mnt);
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, PROG ": %s: %s (TMPDIR is the mount point)\n",
			tmp, strerror(errno));
		snprintf(tmp, sizeof(tmp), "%s", run->mnt);
	}
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, PROG ": fork: %s\n", strerror(errno));
		return EXIT_RUN_FAILED;
	}
	if (pid == 0) {
		child_signals();
		if (setenv("SCRATCH_DIR", run->mnt, 1) != 0 ||
		    setenv("TMPDIR", tmp, 1) != 0)
			_exit(EXIT_RUN_FAILED);
		execvp(cmd[0], cmd);
		fprintf(stderr, PROG ": %s: %s\n", cmd[0], strerror(errno));
		_exit(errno == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC);
	}
	for (;;) {
		sig = sigwaitinfo(&run->sigs, &si);
		if (sig < 0)
			continue; /* EINTR */
		if (sig == SIGCHLD) {
			while ((w = waitpid(-1, &status, WNOHANG)) > 0)
				if (w == pid)
					goto done;
			continue;
		}
		/* A terminal's ^C already reached the job (same process
		 * group, si_code SI_KERNEL): forward only sent signals. */
		if (si.si_code != SI_KERNEL)
			kill(pid, sig);
	}
done:
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

void run_audit(const struct run *run, const char *cmd, int status, bool wiped)
{
	char *c = strdup(cmd), *b;
	json_t *f = json_object();

	if (!f || !c) {
		free(c);
		json_decref(f);
		return;
	}
	b = basename(c);
	json_object_set_new(f, "volume_id", json_string(run->volume_id));
	json_object_set_new(f, "backing", sfs_audit_string(run->backing));
	json_object_set_new(f, "mountpoint", sfs_audit_string(run->mnt));
	/* The program name only: arguments may hold anything. */
	json_object_set_new(f, "command", sfs_audit_string(b));
	json_object_set_new(f, "status", json_integer(status));
	json_object_set_new(f, "wiped", json_boolean(wiped));
	json_object_set_new(f, "kept", json_boolean(run->keep));
	free(c);
	sfs_audit_write(run->audit, "run", f);
}

/* After the job (or a failed setup): wipe, unless --keep; remove what we
 * created. Returns 0 or -errno. */
int run_finish(struct run *run, struct sfs_wipe_report *r)
{
	char meta[PATH_MAX + 16], other[PATH_MAX];
	bool empty = true;
	int rc;

	if (run->keep && run->mounted) {
		fprintf(stderr,
			"\n" PROG ": *** --keep: NOT WIPING ***\n" PROG
			": volume %s stays mounted at %s (backing %s).\n" PROG
			": its data is readable there until you run: "
			"scratchfs-wipe %s\n\n",
			run->volume_id, run->mnt, run->backing, run->mnt);
		if (run->slot_fd >= 0) {
			int fd = openat(
			    run->slot_fd, KEPT_MARK,
			    O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (fd >= 0)
				close(fd);
		}
		return 0;
	}
	if (!run_dir_is_empty(run->backing, &empty))
		empty = true;
	if (!empty || run->mounted ||
	    sfs_wipe_find_mount(run->backing, other, sizeof(other)) == 1) {
		rc = run_wipe(run, run->backing, true, r);
		if (rc)
			return rc;
	}
	/* Leave nothing behind: the tombstone .scratchfs/ goes too. */
	snprintf(meta, sizeof(meta), "%s/.scratchfs", run->backing);
	if (rmdir(meta) != 0 && errno != ENOENT)
		fprintf(stderr, PROG ": cannot remove %s: %s\n", meta,
			strerror(errno));
	if (run->slot_fd >= 0) {
		run_remove_slot(run->slot_fd, run->slot);
		return 0;
	}
	/* Twice: a parent made for both goes once the second is gone. */
	for (int pass = 0; pass < 2; pass++) {
		run_remove_made(run->backing, run->made_backing);
		run_remove_made(run->mnt, run->made_mnt);
	}
	return 0;
}
