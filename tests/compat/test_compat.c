/* test_compat.c - real programs from Debian on scratchfs, compared with
 * the plain disk.
 *
 * Each scenario is a bash script beside this file (tests/compat/NAME.sh,
 * see lib.sh there) that drives real programs - coreutils, tar, rsync,
 * zip, sqlite3, git, make and gcc, flock, chattr, setfacl, Debian's
 * python3 with sqlite3, mmap, fcntl, venv and pip - in a work directory and
 * prints a transcript: every step's exit status and listings of what it made
 * (types, modes, owners, sizes, link counts, SHA-256 of contents, symlink
 * targets, user.* attributes, and times where the scenario fixed them). A test
 * runs its scenario three times: on a plain directory on the same disk (the
 * hbi mount's ref/; it must succeed: exit status 0), on an hbi=1 mount and on
 * an hbi=0 mount. It passes only when both mounts give the plain directory's
 * transcript, byte for byte; otherwise the differences are printed (diff -u)
 * for each mount.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mount_util.h"
#include "util.h"

/* Wall clock for one run of a scenario; after it `timeout` kills the
 * script's whole process group (and the test fails on its transcript). */
#define RUN_TIMEOUT_S "150"

static struct sfs_mount hbi, plain;

static void init(void)
{
	sfs_mount_setup(&hbi);
	sfs_mount_setup(&plain);
	sfs_mount_start(&hbi, "hbi=1");
	sfs_mount_start(&plain, "hbi=0");
}

static void fini(void)
{
	sfs_mount_teardown(&hbi);
	sfs_mount_teardown(&plain);
}

TestSuite(compat, .init = init, .fini = fini, .timeout = 600);

/* One run of a scenario: the script's process, then its transcript and
 * exit status. */
struct run {
	char transcript[PATH_MAX];
	char errors[PATH_MAX];
	pid_t pid;
	int status;
};

/*
 * Start tests/compat/@name with WORK = @work_base/@name and OUT =
 * @root/out-@tag-@name (both created), transcript and stderr in @root.
 */
static void start_run(const char *name, const char *tag, const char *root,
		      const char *work_base, struct run *r)
{
	char script[PATH_MAX], work[PATH_MAX], out[PATH_MAX];

	snprintf(script, sizeof(script), "%s",
		 sfs_repo_file(sfs_join("tests/compat", name)));
	snprintf(work, sizeof(work), "%s", sfs_join(work_base, name));
	snprintf(out, sizeof(out), "%s/out-%s-%s", root, tag, name);
	cr_assert(mkdir(work, 0755) == 0, "mkdir %s: %s", work,
		  strerror(errno));
	cr_assert(mkdir(out, 0755) == 0, "mkdir %s: %s", out, strerror(errno));
	snprintf(r->transcript, sizeof(r->transcript), "%s/%s-%s.txt", root,
		 tag, name);
	snprintf(r->errors, sizeof(r->errors), "%s/%s-%s.err", root, tag, name);
	const char *const argv[] = {"/usr/bin/timeout",
				    "-k",
				    "5",
				    RUN_TIMEOUT_S,
				    "/bin/bash",
				    script,
				    work,
				    out,
				    NULL};
	r->pid =
	    sfs_spawn_redirected(argv, r->transcript, r->errors, NULL, NULL);
}

static void wait_run(struct run *r)
{
	int status;

	cr_assert(waitpid(r->pid, &status, 0) == r->pid);
	r->status =
	    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Print the last lines of @path to stderr under a heading. */
static void show_tail(const char *heading, const char *path)
{
	char cmd[PATH_MAX + 64];

	fprintf(stderr, "---- %s (%s)\n", heading, path);
	fflush(stderr);
	snprintf(cmd, sizeof(cmd), "tail -n 40 '%s' >&2", path);
	if (system(cmd) != 0)
		fprintf(stderr, "(cannot show %s)\n", path);
}

/* True when the two transcripts are equal; otherwise their diff and the
 * mount run's stderr go to stderr. */
static bool same(const struct run *ref, const struct run *mnt, const char *mode)
{
	char cmd[3 * PATH_MAX];

	snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", ref->transcript,
		 mnt->transcript);
	if (system(cmd) == 0)
		return true;
	snprintf(cmd, sizeof(cmd),
		 "diff -u --label plain-disk --label '%s' '%s' '%s' >&2", mode,
		 ref->transcript, mnt->transcript);
	fprintf(stderr, "---- %s: differences from the plain disk\n", mode);
	fflush(stderr);
	if (system(cmd) == -1)
		fprintf(stderr, "(cannot run diff)\n");
	show_tail("its stderr", mnt->errors);
	return false;
}

static void scenario(const char *name)
{
	struct run ref, on_hbi, on_plain;
	bool hbi_ok, plain_ok;

	/* The three runs are independent: they go side by side. */
	start_run(name, "ref", hbi.root, hbi.ref, &ref);
	start_run(name, "hbi1", hbi.root, hbi.mnt, &on_hbi);
	start_run(name, "hbi0", plain.root, plain.mnt, &on_plain);
	wait_run(&ref);
	wait_run(&on_hbi);
	wait_run(&on_plain);
	if (ref.status != 0) {
		show_tail("transcript", ref.transcript);
		show_tail("stderr", ref.errors);
		cr_assert_fail("%s on the plain disk: exit status %d (its own "
			       "steps fail: fix the scenario or the machine)",
			       name, ref.status);
	}
	hbi_ok = same(&ref, &on_hbi, "hbi=1 mount");
	plain_ok = same(&ref, &on_plain, "hbi=0 mount");
	sfs_mount_stop(&hbi);
	sfs_mount_stop(&plain);
	cr_expect(hbi_ok,
		  "%s: the hbi=1 mount differs from the plain disk "
		  "(exit status %d; diff above)",
		  name, on_hbi.status);
	cr_expect(plain_ok,
		  "%s: the hbi=0 mount differs from the plain disk "
		  "(exit status %d; diff above)",
		  name, on_plain.status);
}

#define SCENARIO(name)                                                         \
	Test(compat, name)                                                     \
	{                                                                      \
		scenario(#name ".sh");                                         \
	}

/* cp -a out and in, mv, install, ln, touch -d, truncate, sed -i, sort -T,
 * dd, split, find -newer. */
SCENARIO(coreutils)
/* tar --xattrs -c/-x/-d, sparse and compressed; zip/unzip; gzip, bzip2,
 * xz, zstd. */
SCENARIO(archive)
/* rsync -aHAX out, in, within; deltas, --inplace, --delete, --backup,
 * --link-dest. */
SCENARIO(rsync)
/* sqlite3 CLI and Python's sqlite3: journals, WAL, processes, mode=ro. */
SCENARIO(sqlite)
/* git init, commit, merge, gc, repack, clone, push, fetch, worktree,
 * fsck. */
SCENARIO(git)
/* make + gcc: objects, ar, a shared library, rebuilds by timestamp. */
SCENARIO(make)
/* flock(1), fcntl record locks and OFD locks across processes. */
SCENARIO(locks)
/* MAP_SHARED writers and readers in several processes, MAP_PRIVATE. */
SCENARIO(mmap)
/* python3 -m venv and pip --no-index: from the source tree, editable. */
SCENARIO(venv)
/* Debian's Python test modules for files: test_os, test_shutil, ... */
SCENARIO(pytests)
/* chattr/lsattr, POSIX ACLs (setfacl, cp -a, tar --acls, rsync -A),
 * fallocate modes. */
SCENARIO(attrs)
