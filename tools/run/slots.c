/* slots.c - where a run's volume lives: the base directory, its run-N
 * slots and their locks, the leftovers of killed runs (wiped before a run
 * starts), and the wipe itself. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run.h"
#include "sfs_wipe.h"

bool run_dir_is_empty(const char *path, bool *empty)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (!d)
		return false;
	*empty = true;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			*empty = false;
			break;
		}
	closedir(d);
	return true;
}

/* Whether backing holds nothing but an empty .scratchfs/ (what a wipe
 * leaves) or nothing at all. */
static bool only_tombstone(const char *backing)
{
	char meta[PATH_MAX + 32];
	DIR *d = opendir(backing);
	struct dirent *de;
	bool empty = true, ok = true;

	if (!d)
		return errno == ENOENT;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strcmp(de->d_name, ".scratchfs"))
			ok = false;
	closedir(d);
	if (ok &&
	    (size_t)snprintf(meta, sizeof(meta), "%s/.scratchfs", backing) <
		sizeof(meta) &&
	    run_dir_is_empty(meta, &empty))
		ok = empty;
	return ok;
}

/* mkdir 0700; *made tells whether we created it. */
static int make_dir(const char *path, bool *made)
{
	struct stat st;

	*made = false;
	if (mkdir(path, 0700) == 0) {
		*made = true;
		return 0;
	}
	if (errno != EEXIST)
		return -errno;
	if (lstat(path, &st) != 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return S_ISLNK(st.st_mode) ? -ELOOP : -ENOTDIR;
	return 0;
}

/* BASE: ours alone (it sits in world-writable /var/tmp). */
static int prepare_base(struct run *run)
{
	const char *env = getenv("SCRATCHFS_RUN_BASE");
	struct stat st;
	bool made;
	int rc;

	if (env && *env) {
		if (env[0] != '/' || strlen(env) >= sizeof(run->base)) {
			fprintf(stderr,
				PROG ": SCRATCHFS_RUN_BASE must be an "
				     "absolute path shorter than %zu bytes\n",
				sizeof(run->base));
			return -EINVAL;
		}
		snprintf(run->base, sizeof(run->base), "%s", env);
	} else if (geteuid() == 0)
		snprintf(run->base, sizeof(run->base), "/var/tmp/scratchfs");
	else
		snprintf(run->base, sizeof(run->base), "/var/tmp/scratchfs-%u",
			 (unsigned int)geteuid());
	rc = make_dir(run->base, &made);
	if (rc == 0 && lstat(run->base, &st) != 0)
		rc = -errno;
	if (rc == 0 && (st.st_uid != geteuid() || (st.st_mode & 022))) {
		fprintf(stderr,
			PROG ": %s is not owned by uid %u or is writable by "
			     "others; refusing to use it\n",
			run->base, (unsigned int)geteuid());
		return -EPERM;
	}
	if (rc)
		fprintf(stderr, PROG ": %s: %s\n", run->base, strerror(-rc));
	return rc;
}

static struct sfs_wipe_opts wipe_opts(const struct run *run)
{
	struct sfs_wipe_opts o = {
	    .passes = run->cfg.wipe.passes,
	    .discard = run->cfg.wipe.discard,
	    /* The job is over: whatever still holds the mount goes. */
	    .lazy = true,
	    .progress = false,
	    .audit = run->audit,
	};

	return o;
}

/* Wipes the volume in backing; 0 or -errno with the message printed. */
int run_wipe(const struct run *run, const char *backing, bool quiet_noop,
	     struct sfs_wipe_report *r)
{
	struct sfs_wipe_opts o = wipe_opts(run);
	char err[1024];
	int rc;

	rc = sfs_wipe_volume(backing, &o, r, err, sizeof(err));
	if (rc)
		fprintf(stderr, PROG ": wipe: %s\n", err);
	else if (!quiet_noop || !r->already_wiped)
		fprintf(stderr, PROG ": wiped volume %s in %s (%s, verified)\n",
			r->volume_id[0] ? r->volume_id : "(unknown id)",
			r->backing, sfs_wipe_method_name(r->method));
	return rc;
}

/* Removes a wiped slot (its empty .scratchfs/, backing, mnt, kept mark and
 * the slot itself), holding its lock. */
void run_remove_slot(int slot_fd, const char *slot)
{
	int bfd = openat(slot_fd, "backing",
			 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (bfd >= 0) {
		unlinkat(bfd, ".scratchfs", AT_REMOVEDIR);
		close(bfd);
	}
	unlinkat(slot_fd, "backing", AT_REMOVEDIR);
	unlinkat(slot_fd, "mnt", AT_REMOVEDIR);
	unlinkat(slot_fd, KEPT_MARK, 0);
	if (rmdir(slot) != 0 && errno != ENOENT)
		fprintf(stderr, PROG ": cannot remove %s: %s\n", slot,
			strerror(errno));
}

/* Wipes the volumes of runs that died (unlocked slots) and removes their
 * slots. A --keep'ed volume that is still mounted is left alone. */
static void sweep(struct run *run, struct sfs_wipe_report *r)
{
	DIR *d = opendir(run->base);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char slot[PATH_MAX], sub[PATH_MAX + 16], src[PATH_MAX];
		bool empty, mounted;
		struct stat st;
		int fd;

		if (strncmp(de->d_name, "run-", 4) != 0)
			continue;
		snprintf(slot, sizeof(slot), "%s/%s", run->base, de->d_name);
		fd =
		    open(slot, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) != 0 || fstat(fd, &st) != 0 ||
		    st.st_nlink == 0 || st.st_uid != geteuid()) {
			close(fd);
			continue;
		}
		snprintf(sub, sizeof(sub), "%s/mnt", slot);
		mounted = sfs_wipe_find_backing(sub, src, sizeof(src)) == 1;
		if (mounted &&
		    faccessat(fd, KEPT_MARK, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
			close(fd);
			continue;
		}
		snprintf(sub, sizeof(sub), "%s/backing", slot);
		empty = only_tombstone(sub);
		mounted =
		    mounted || sfs_wipe_find_mount(sub, src, sizeof(src)) == 1;
		if (!empty || mounted) {
			fprintf(stderr,
				PROG ": %s holds a volume left by a run that "
				     "was killed: wiping it\n",
				slot);
			if (run_wipe(run, sub, false, r) != 0) {
				close(fd);
				continue;
			}
		}
		run_remove_slot(fd, slot);
		close(fd);
	}
	closedir(d);
}

/* Takes the first free slot BASE/run-N. */
static int take_slot(struct run *run)
{
	for (int n = 0; n < MAX_SLOTS; n++) {
		struct stat st;
		bool made;
		int fd, rc;

		snprintf(run->slot, sizeof(run->slot), "%s/run-%d", run->base,
			 n);
		rc = make_dir(run->slot, &made);
		if (rc)
			continue;
		fd = open(run->slot,
			  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
			close(fd);
			continue;
		}
		/* Removed by a sweeper between our mkdir and flock? */
		if (fstat(fd, &st) != 0 || st.st_nlink == 0) {
			close(fd);
			n--;
			continue;
		}
		/* Not ours, or a --keep'ed volume: never reuse it. */
		if (st.st_uid != geteuid() ||
		    faccessat(fd, KEPT_MARK, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
			close(fd);
			continue;
		}
		run->slot_fd = fd;
		return 0;
	}
	fprintf(stderr, PROG ": no free slot in %s (all %d in use)\n",
		run->base, MAX_SLOTS);
	run->slot[0] = '\0';
	return -EBUSY;
}

/* The directory opt, or else sub in our slot: made if missing and resolved
 * into out (PATH_MAX bytes); *made (only on success) tells whether we
 * created it. what names it in the message. */
/* make_dir() of path and of its missing parents (mkdir -p): *levels is
 * how many directories it created, path's and its nearest ancestors', for
 * run_remove_made(). */
static int make_dirs(const char *path, int *levels)
{
	char parent[PATH_MAX];
	char *slash;
	bool made;
	int rc = make_dir(path, &made);

	if (rc == -ENOENT) {
		snprintf(parent, sizeof(parent), "%s", path);
		slash = strrchr(parent, '/');
		while (slash && slash > parent && slash[1] == '\0') {
			*slash = '\0'; /* a trailing slash */
			slash = strrchr(parent, '/');
		}
		if (!slash || slash == parent)
			return -ENOENT;
		*slash = '\0';
		rc = make_dirs(parent, levels);
		if (rc == 0)
			rc = make_dir(path, &made);
	}
	if (rc == 0 && made)
		(*levels)++;
	return rc;
}

void run_remove_made(const char *path, int levels)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	for (int i = 0; i < levels; i++) {
		if (rmdir(dir) != 0 && errno != ENOENT) {
			/* A parent the other directory still needs. */
			if (i == 0 || errno != ENOTEMPTY)
				fprintf(stderr, PROG ": cannot remove %s: %s\n",
					dir, strerror(errno));
			return;
		}
		slash = strrchr(dir, '/');
		if (!slash || slash == dir)
			return;
		*slash = '\0';
	}
}

static int choose_dir(const struct run *run, const char *opt, const char *sub,
		      const char *what, char *out, int *made)
{
	char path[PATH_MAX + 16];
	int rc;

	if (opt)
		snprintf(path, sizeof(path), "%s", opt);
	else
		snprintf(path, sizeof(path), "%s/%s", run->slot, sub);
	rc = make_dirs(path, made);
	if (rc == 0 && !realpath(path, out))
		rc = -errno;
	if (rc) {
		fprintf(stderr, PROG ": %s %s: %s\n", what, path,
			strerror(-rc));
		return rc;
	}
	return 0;
}

int run_choose_dirs(struct run *run, struct sfs_wipe_report *r)
{
	int rc;

	if (!run->opt_backing || !run->opt_mount) {
		rc = prepare_base(run);
		if (rc)
			return rc;
		sweep(run, r);
		rc = take_slot(run);
		if (rc)
			return rc;
	}
	rc = choose_dir(run, run->opt_backing, "backing", "backing directory",
			run->backing, &run->made_backing);
	if (rc == 0)
		rc = choose_dir(run, run->opt_mount, "mnt", "mount point",
				run->mnt, &run->made_mnt);
	if (rc)
		return rc;
	/* One run per backing directory at a time. */
	run->lock_fd =
	    open(run->backing, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (run->lock_fd < 0 || flock(run->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		fprintf(stderr, PROG ": %s: %s\n", run->backing,
			errno == EWOULDBLOCK ? "in use by another scratchfs-run"
					     : strerror(errno));
		return -EBUSY;
	}
	return 0;
}

/* A volume left in our backing directory (a killed run, a --keep) is
 * wiped before we mount; a non-empty non-volume is refused by the wipe. */
int run_clear_leftover(struct run *run, struct sfs_wipe_report *r)
{
	char other[PATH_MAX];
	bool empty = true;
	int rc;

	rc = sfs_wipe_find_backing(run->mnt, other, sizeof(other));
	if (rc == 1 && strcmp(other, run->backing) != 0) {
		fprintf(stderr,
			PROG ": %s already has another scratchfs volume "
			     "mounted (from %s)\n",
			run->mnt, other);
		return -EBUSY;
	}
	if (!run_dir_is_empty(run->backing, &empty)) {
		fprintf(stderr, PROG ": %s: %s\n", run->backing,
			strerror(errno));
		return -errno;
	}
	if (empty && rc != 1 &&
	    sfs_wipe_find_mount(run->backing, other, sizeof(other)) != 1)
		return 0;
	fprintf(stderr,
		PROG ": %s holds a leftover volume (from a run that was "
		     "killed, or --keep): wiping it first\n",
		run->backing);
	rc = run_wipe(run, run->backing, true, r);
	if (rc && r->refused)
		fprintf(stderr,
			PROG ": %s is not empty and holds no scratchfs "
			     "volume; use an empty or new directory\n",
			run->backing);
	return rc;
}
