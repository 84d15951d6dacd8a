/* scratchfs-run.c - runs a command on a fresh scratchfs volume and always
 * wipes the volume afterwards (normal exit, failure, signal).
 *
 * Where the volume lives: --backing and --mount when given (created when
 * missing, removed again when this run created them). Otherwise a slot
 * BASE/run-N/{backing,mnt}, BASE being $SCRATCHFS_RUN_BASE or
 * /var/tmp/scratchfs (/var/tmp/scratchfs-UID when not root). A run holds
 * an flock on its slot (and on its backing directory) until it exits; a
 * wrapper that was SIGKILLed releases it, and the next run wipes every
 * unlocked slot that still holds a volume, and any leftover volume in an
 * explicit --backing, before it starts.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sfs_audit.h"
#include "sfs_config.h"
#include "sfs_crypto.h"
#include "sfs_sys.h"
#include "sfs_volume.h"
#include "sfs_wipe.h"

#define PROG "scratchfs-run"
#define EXIT_RUN_FAILED 125 /* usage, setup, mount or wipe failed */
#define EXIT_NOEXEC 126	    /* COMMAND found but not executable */
#define EXIT_NOTFOUND 127   /* COMMAND not found */
#define MAX_SLOTS 1000
#define KEPT_MARK "kept"

enum { OPT_BACKING = 256, OPT_MOUNT, OPT_KEEP };

static const struct option long_opts[] = {
    {"backing", required_argument, NULL, OPT_BACKING},
    {"mount", required_argument, NULL, OPT_MOUNT},
    {"keep", no_argument, NULL, OPT_KEEP},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct run {
	const char *conf;
	const char *opt_backing, *opt_mount;
	bool keep;
	char base[PATH_MAX - 512]; /* room for "/run-N/backing" etc. */
	char slot[PATH_MAX];	   /* "" unless a default slot is used */
	int slot_fd;		   /* locked slot directory, or -1 */
	int lock_fd;		   /* locked backing directory, or -1 */
	char backing[PATH_MAX];
	char mnt[PATH_MAX];
	bool made_backing, made_mnt;
	bool mounted;
	char volume_id[2 * SFS_VOLUME_UUID_BYTES + 1];
	struct sfs_config cfg;
	struct sfs_audit *audit;
	sigset_t sigs; /* blocked for the whole run, waited for */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [-c CONF] [--backing DIR] [--mount DIR] "
		"[--keep] -- COMMAND [ARGS...]\n"
		"\n"
		"Creates a fresh scratchfs volume, mounts it, runs COMMAND "
		"with\n"
		"SCRATCH_DIR set to the mount point and TMPDIR to a tmp/\n"
		"directory inside it, forwards SIGINT, SIGTERM and SIGHUP to\n"
		"it, and always wipes the volume afterwards "
		"(scratchfs-wipe).\n"
		"\n"
		"  -c CONF        config file for the mount and the wipe\n"
		"                 (default %s when it exists)\n"
		"  --backing DIR  backing directory (created when missing; an\n"
		"                 existing one must be empty or hold a "
		"leftover\n"
		"                 volume, which is wiped first)\n"
		"  --mount DIR    mount point (created when missing)\n"
		"  --keep         do NOT wipe: leave the volume mounted for\n"
		"                 debugging (wipe it later with "
		"scratchfs-wipe)\n"
		"\n"
		"Without --backing/--mount the volume lives in BASE/run-N/\n"
		"(BASE: $SCRATCHFS_RUN_BASE, default /var/tmp/scratchfs, or\n"
		"/var/tmp/scratchfs-UID when not root); leftovers of runs "
		"that\n"
		"were killed are wiped by the next run.\n"
		"\n"
		"Exit status: COMMAND's status, 128+N if it was killed by\n"
		"signal N; 125 if " PROG " itself failed (usage, setup, "
		"mount\n"
		"or wipe: a failed wipe is always 125, whatever COMMAND "
		"did);\n"
		"126 if COMMAND is not executable, 127 if it was not found.\n",
		SFS_DEFAULT_CONFIG);
}

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
static int pending_signal(const struct run *run)
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

static bool dir_is_empty(const char *path, bool *empty)
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
	    dir_is_empty(meta, &empty))
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
static int wipe(const struct run *run, const char *backing, bool quiet_noop,
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
static void remove_slot(int slot_fd, const char *slot)
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
			if (wipe(run, sub, false, r) != 0) {
				close(fd);
				continue;
			}
		}
		remove_slot(fd, slot);
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
static int choose_dir(const struct run *run, const char *opt, const char *sub,
		      const char *what, char *out, bool *made)
{
	char path[PATH_MAX + 16];
	bool created;
	int rc;

	if (opt)
		snprintf(path, sizeof(path), "%s", opt);
	else
		snprintf(path, sizeof(path), "%s/%s", run->slot, sub);
	rc = make_dir(path, &created);
	if (rc == 0 && !realpath(path, out))
		rc = -errno;
	if (rc) {
		fprintf(stderr, PROG ": %s %s: %s\n", what, path,
			strerror(-rc));
		return rc;
	}
	*made = created;
	return 0;
}

static int choose_dirs(struct run *run, struct sfs_wipe_report *r)
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
static int clear_leftover(struct run *run, struct sfs_wipe_report *r)
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
	if (!dir_is_empty(run->backing, &empty)) {
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
	rc = wipe(run, run->backing, true, r);
	if (rc && r->refused)
		fprintf(stderr,
			PROG ": %s is not empty and holds no scratchfs "
			     "volume; use an empty or new directory\n",
			run->backing);
	return rc;
}

static int mount_volume(struct run *run)
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
			     "this program (%s): %s\n",
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
static int run_job(struct run *run, char *const *cmd)
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

static void audit_run(const struct run *run, const char *cmd, int status,
		      bool wiped)
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
static int finish(struct run *run, struct sfs_wipe_report *r)
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
	if (!dir_is_empty(run->backing, &empty))
		empty = true;
	if (!empty || run->mounted ||
	    sfs_wipe_find_mount(run->backing, other, sizeof(other)) == 1) {
		rc = wipe(run, run->backing, true, r);
		if (rc)
			return rc;
	}
	/* Leave nothing behind: the tombstone .scratchfs/ goes too. */
	snprintf(meta, sizeof(meta), "%s/.scratchfs", run->backing);
	if (rmdir(meta) != 0 && errno != ENOENT)
		fprintf(stderr, PROG ": cannot remove %s: %s\n", meta,
			strerror(errno));
	if (run->slot_fd >= 0) {
		remove_slot(run->slot_fd, run->slot);
		return 0;
	}
	if (run->made_backing && rmdir(run->backing) != 0)
		fprintf(stderr, PROG ": cannot remove %s: %s\n", run->backing,
			strerror(errno));
	if (run->made_mnt && rmdir(run->mnt) != 0)
		fprintf(stderr, PROG ": cannot remove %s: %s\n", run->mnt,
			strerror(errno));
	return 0;
}

int main(int argc, char *argv[])
{
	struct run run = {.slot_fd = -1, .lock_fd = -1};
	struct sfs_wipe_report *r = NULL;
	char err[1024];
	int opt, status = EXIT_RUN_FAILED, sig;

	while ((opt = getopt_long(argc, argv, "+c:h", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			run.conf = optarg;
			break;
		case OPT_BACKING:
			run.opt_backing = optarg;
			break;
		case OPT_MOUNT:
			run.opt_mount = optarg;
			break;
		case OPT_KEEP:
			run.keep = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_RUN_FAILED;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_RUN_FAILED;
	}
	/* Blocked from here on: a signal during setup or the wipe is
	 * handled in order, never by dying with a mounted volume. */
	sigemptyset(&run.sigs);
	sigaddset(&run.sigs, SIGINT);
	sigaddset(&run.sigs, SIGTERM);
	sigaddset(&run.sigs, SIGHUP);
	sigaddset(&run.sigs, SIGCHLD);
	sigprocmask(SIG_BLOCK, &run.sigs, NULL);

	if (sfs_crypto_init() < 0) {
		fprintf(stderr, PROG ": libsodium initialisation failed\n");
		return EXIT_RUN_FAILED;
	}
	sfs_config_defaults(&run.cfg);
	if (!run.conf && access(SFS_DEFAULT_CONFIG, F_OK) == 0)
		run.conf = SFS_DEFAULT_CONFIG;
	if (run.conf &&
	    sfs_config_load(&run.cfg, run.conf, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return EXIT_RUN_FAILED;
	}
	if (sfs_audit_open(&run.audit, run.cfg.audit.file, run.cfg.audit.syslog,
			   PROG, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return EXIT_RUN_FAILED;
	}
	r = malloc(sizeof(*r));
	if (!r) {
		fprintf(stderr, PROG ": out of memory\n");
		goto out;
	}
	if (choose_dirs(&run, r) != 0 || clear_leftover(&run, r) != 0)
		goto out;
	if (mount_volume(&run) == 0) {
		sig = pending_signal(&run);
		if (sig) {
			fprintf(stderr,
				PROG ": got signal %d before the job "
				     "started; not running it\n",
				sig);
			status = 128 + sig;
		} else {
			status = run_job(&run, argv + optind);
		}
	}
	if (finish(&run, r) != 0) {
		fprintf(stderr,
			PROG ": *** WIPE FAILED *** for %s (the job's status "
			     "was %d)\n",
			run.backing, status);
		audit_run(&run, argv[optind], status, false);
		status = EXIT_RUN_FAILED;
		goto out;
	}
	audit_run(&run, argv[optind], status, !run.keep || !run.mounted);
out:
	if (run.lock_fd >= 0)
		close(run.lock_fd);
	if (run.slot_fd >= 0)
		close(run.slot_fd);
	free(r);
	sfs_audit_close(run.audit);
	return status;
}
