/* main.c - composition root of the scratchfs daemon: options → config →
 * checks → daemon → volume and keys → crypto → mount → serve → wipe keys.
 *
 * Usage: scratchfs [-c CONF] [-f] [-o OPTS] BACKING MOUNTPOINT
 * (also as `mount -t fuse.scratchfs BACKING MOUNTPOINT -o OPTS`).
 *
 * Keys are created or loaded only after daemonizing (memory locks do not
 * survive fork), and the parent exits only once the mount is up, with the
 * child's status, so every error before that reaches the caller.
 */
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "sfs_audit.h"
#include "sfs_config.h"
#include "sfs_crypto.h"
#include "sfs_fs.h"
#include "sfs_fuseio.h"
#include "sfs_inode.h"
#include "sfs_log.h"
#include "sfs_mountinfo.h"
#include "sfs_nameio.h"
#include "sfs_names.h"
#include "sfs_ops.h"
#include "sfs_prefetch.h"
#include "sfs_uring.h"
#include "sfs_version.h"
#include "sfs_volume.h"

#define MAX_OPTS 32

struct cli {
	char *conf_path;
	char *backing;
	char *mountpoint;
	bool help;
	const char *ours[MAX_OPTS]; /* our -o options, applied after the
				       config file */
	size_t nours;
	bool too_many;
};

enum { KEY_OURS, KEY_HELP };

static const struct fuse_opt cli_opts[] = {
    {"-c %s", offsetof(struct cli, conf_path), 0},
    FUSE_OPT_KEY("-h", KEY_HELP),
    FUSE_OPT_KEY("--help", KEY_HELP),
    FUSE_OPT_KEY("-V", KEY_HELP),
    FUSE_OPT_KEY("--version", KEY_HELP),
    FUSE_OPT_KEY("hbi=", KEY_OURS),
    FUSE_OPT_KEY("key=", KEY_OURS),
    FUSE_OPT_KEY("cipher=", KEY_OURS),
    FUSE_OPT_END,
};

static void usage(const char *prog)
{
	printf(
	    "usage: %s [-c CONF] [-f] [-o OPTS] BACKING MOUNTPOINT\n"
	    "\n"
	    "Mounts BACKING at MOUNTPOINT. With hbi=1 (the default) file\n"
	    "contents, names, symlink targets and user xattrs are\n"
	    "encrypted at rest with a system-managed key.\n"
	    "\n"
	    "scratchfs options:\n"
	    "    -c CONF                config file (default %s\n"
	    "                           when it exists)\n"
	    "    -o hbi=1|0             encrypt (1) or pass through (0)\n"
	    "    -o key=ephemeral       fresh key per mount, never stored\n"
	    "    -o key=keyfile[:PATH]  volume key wrapped under a node key\n"
	    "                           file (created 0600 when missing)\n"
	    "    -o key=keyring         ... under a node key in the kernel\n"
	    "                           keyring (keyring_description)\n"
	    "    -o key=command         ... under a node key printed by\n"
	    "                           key_command (config file only)\n"
	    "    -o cipher=auto|aes256gcm|xchacha20poly1305\n"
	    "\n"
	    "FUSE options:\n",
	    prog, SFS_DEFAULT_CONFIG);
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

static int cli_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct cli *cli = data;

	(void)outargs;
	switch (key) {
	case KEY_OURS:
		if (cli->nours == MAX_OPTS) {
			cli->too_many = true;
			return 0;
		}
		cli->ours[cli->nours++] = strdup(arg);
		return 0;
	case KEY_HELP:
		cli->help = true;
		return 1;
	case FUSE_OPT_KEY_NONOPT:
		if (!cli->backing) {
			cli->backing = strdup(arg);
			return 0;
		}
		if (!cli->mountpoint) {
			/* Checked by us before libfuse, for a clearer error. */
			cli->mountpoint = strdup(arg);
			return 1;
		}
		fprintf(stderr, "scratchfs: unexpected argument '%s'\n", arg);
		return -1;
	default:
		return 1;
	}
}

static void cli_free(struct cli *cli)
{
	free(cli->conf_path);
	free(cli->backing);
	free(cli->mountpoint);
	for (size_t i = 0; i < cli->nours; i++)
		free((void *)cli->ours[i]);
}

/* Config file, then -o overrides. */
static int load_config(struct cli *cli, struct sfs_config *cfg)
{
	char err[512];
	const char *path = cli->conf_path;
	int rc;

	sfs_config_defaults(cfg);
	if (!path && access(SFS_DEFAULT_CONFIG, F_OK) == 0)
		path = SFS_DEFAULT_CONFIG;
	if (path) {
		rc = sfs_config_load(cfg, path, err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "scratchfs: %s\n", err);
			return -1;
		}
	}
	if (cli->too_many) {
		fprintf(stderr, "scratchfs: too many scratchfs options\n");
		return -1;
	}
	for (size_t i = 0; i < cli->nours; i++) {
		if (!cli->ours[i]) {
			fprintf(stderr, "scratchfs: out of memory\n");
			return -1;
		}
		rc = sfs_config_apply_option(cfg, cli->ours[i], err,
					     sizeof(err));
		if (rc <= 0) {
			fprintf(stderr, "scratchfs: %s\n",
				rc < 0 ? err : "unknown option");
			return -1;
		}
	}
	return 0;
}

/* No core dumps, not ptrace-attachable, exact creation modes. */
static void harden_process(void)
{
	struct rlimit no_core = {0, 0};

	struct rlimit files;

	setrlimit(RLIMIT_CORE, &no_core);
	/* Every inode the kernel knows has an O_PATH fd until the inode table
	 * runs short and parks some: use all the open files we may have. */
	if (getrlimit(RLIMIT_NOFILE, &files) == 0 &&
	    files.rlim_cur < files.rlim_max) {
		files.rlim_cur = files.rlim_max;
		setrlimit(RLIMIT_NOFILE, &files);
	}
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* The kernel already applied the caller's umask. */
	umask(0);
}

/* Opens and checks the backing directory; returns an O_PATH fd or -1 with
 * a message. */
static int open_backing(const char *backing, char *real, struct stat *st)
{
	struct statvfs sv;
	int fd;

	if (!realpath(backing, real) ||
	    (fd = open(real, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "scratchfs: backing directory %s: %s\n",
			backing, strerror(errno));
		return -1;
	}
	if (fstat(fd, st) < 0 || fstatvfs(fd, &sv) < 0) {
		fprintf(stderr, "scratchfs: backing directory %s: %s\n",
			backing, strerror(errno));
		close(fd);
		return -1;
	}
	if (sv.f_flag & ST_RDONLY) {
		fprintf(stderr,
			"scratchfs: backing directory %s is on a read-only "
			"filesystem\n",
			backing);
		close(fd);
		return -1;
	}
	return fd;
}

/* Per worker thread: libfuse's splice pipe (2), a /dev/fuse clone with
 * clone_fd, temporary fds and inode fds held during one request. Plus
 * stdio, /dev/fuse, logs, the root and mount fds. Open files and directory
 * streams are counted by the inode table. */
#define FDS_PER_THREAD 8U
#define FDS_FIXED 64U
/* Directory IVs read ahead at once (cold disk reads overlap); each reader
 * opens one IV file at a time, out of FDS_FIXED. */
#define PREFETCH_THREADS 4U

/* The kernel grows a process's fd table by doubling it, and once threads
 * share the table each growth waits for an RCU grace period (10-15 ms on
 * these VMs): the first walk of 10k files on a fresh mount paid eight of
 * them, most of its time. Grown once here, while the daemon has one thread
 * (after the fork: a child gets a table sized to its open fds), it never
 * waits later. Capped, as the table is kernel memory (8 bytes per fd). */
#define FD_TABLE_PRESIZE_MAX 65536U

static void presize_fd_table(int fd, size_t limit)
{
	size_t n = limit < FD_TABLE_PRESIZE_MAX ? limit : FD_TABLE_PRESIZE_MAX;
	int high = fcntl(fd, F_DUPFD_CLOEXEC, (int)n - 1);

	if (high >= 0)
		close(high);
}

/* Lets the inode table close the fds of unused entries once they would
 * take more than the open-file limit less a reserve (at most half the
 * limit) for fds it does not count. They are reopened by file handle where
 * the daemon may (CAP_DAC_READ_SEARCH), else by path. */
static void enable_parking(struct sfs_fs *fs, const struct sfs_config *cfg)
{
	struct sfs_inode *root = sfs_itable_root(fs->inodes);
	size_t limit = 1024, reserve;
	struct rlimit files;
	int rc, root_fd, mount_fd;

	if (getrlimit(RLIMIT_NOFILE, &files) == 0)
		limit = files.rlim_cur > (rlim_t)SIZE_MAX / 2
			    ? SIZE_MAX / 2
			    : (size_t)files.rlim_cur;
	reserve = FDS_FIXED + FDS_PER_THREAD * cfg->fuse.max_threads;
	if (reserve > limit / 2)
		reserve = limit / 2;
	root_fd = sfs_inode_fd_get(fs->inodes, root);
	/* Entries may take fds up to the limit, parked or not. */
	presize_fd_table(root_fd, limit);
	/* open_by_handle_at() takes no O_PATH fd. */
	mount_fd = openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	sfs_inode_fd_put(fs->inodes, root);
	rc = sfs_itable_enable_parking(fs->inodes, mount_fd, limit - reserve);
	if (rc < 0)
		sfs_log(LOG_INFO,
			"no file handles (%s): unused entries are reopened by "
			"path",
			strerror(-rc));
}

/* Whether path is dir or lies under it (both real paths). */
static bool path_within(const char *path, const char *dir)
{
	size_t len = strlen(dir);

	return strncmp(path, dir, len) == 0 &&
	       (path[len] == '\0' || path[len] == '/' || len == 1);
}

/* The mount point must be a directory that neither holds nor lies in the
 * backing directory: either way the mount would hide the files it serves,
 * and no tool could reach the volume to wipe it. */
static int check_mountpoint(const char *mnt, const char *backing_real)
{
	char real[PATH_MAX];
	struct stat st;

	if (stat(mnt, &st) < 0 || !realpath(mnt, real)) {
		fprintf(stderr, "scratchfs: mount point %s: %s\n", mnt,
			strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr,
			"scratchfs: mount point %s is not a directory\n", mnt);
		return -1;
	}
	if (strcmp(real, "/") == 0) {
		fprintf(stderr,
			"scratchfs: mount point %s is the root directory; "
			"mount the backing directory %s elsewhere\n",
			mnt, backing_real);
		return -1;
	}
	if (path_within(real, backing_real)) {
		fprintf(
		    stderr,
		    "scratchfs: mount point %s is %s backing directory %s\n",
		    mnt, strcmp(real, backing_real) ? "inside the" : "the",
		    backing_real);
		return -1;
	}
	if (path_within(backing_real, real)) {
		fprintf(stderr,
			"scratchfs: mount point %s contains the backing "
			"directory %s\n",
			mnt, backing_real);
		return -1;
	}
	return 0;
}

/* A backing directory serves one mount at a time, and a volume that is
 * mounted is live, not a leftover: refused with where it is mounted. */
static int check_not_mounted(const char *backing)
{
	char where[PATH_MAX];

	if (sfs_mount_of_backing(backing, where) != 0)
		return 0;
	fprintf(stderr,
		"scratchfs: backing directory %s is mounted at %s already; "
		"unmount it first (fusermount3 -u %s) or use another "
		"directory\n",
		backing, where, where);
	return -1;
}

/* The volume's lock, held for the daemon's life: it also finds a daemon
 * mounted in another mount namespace. Returns the fd holding it, -ENOENT
 * when there is no volume yet, or -1 with a message. */
static int lock_volume(const char *backing)
{
	int dfd = open(backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int fd = dfd < 0 ? -errno : sfs_volume_lock(dfd);

	if (dfd >= 0)
		close(dfd);
	if (fd >= 0 || fd == -ENOENT)
		return fd;
	if (fd == -EWOULDBLOCK)
		fprintf(stderr,
			"scratchfs: the volume in %s is in use by another "
			"scratchfs daemon (mounted in another mount namespace, "
			"or starting)\n",
			backing);
	else
		fprintf(stderr, "scratchfs: cannot lock the volume in %s: %s\n",
			backing, strerror(-fd));
	return -1;
}

/* Undoes a volume this run created but never mounted: a corrected retry
 * then finds the directory fresh, not "a volume from a previous run". */
static void discard_new_volume(const char *backing)
{
	int fd = open(backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return;
	if (unlinkat(fd, SFS_DIRIV_NAME, 0) != 0 && errno != ENOENT)
		sfs_log(LOG_WARNING, "cannot remove %s/%s: %s", backing,
			SFS_DIRIV_NAME, strerror(errno));
	rc = sfs_volume_discard(fd);
	if (rc < 0)
		sfs_log(LOG_WARNING, "cannot remove the new volume in %s: %s",
			backing, strerror(-rc));
	close(fd);
}

/* libfuse reports bad mount options and failed mounts on stderr as
 * "fuse: ...": catch_fuse_stderr() sends that text to a pipe until
 * release_fuse_stderr() prints it, so that the user sees lines starting
 * "scratchfs:". */
struct fuse_stderr {
	int saved, pipe;
};

static int catch_fuse_stderr(struct fuse_stderr *c)
{
	int p[2];

	fflush(stderr);
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	c->saved = dup(2);
	if (c->saved < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	dup2(p[1], 2);
	close(p[1]);
	c->pipe = p[0];
	return 0;
}

/* Returns whether libfuse said anything. */
static bool release_fuse_stderr(struct fuse_stderr *c)
{
	char said[4096], *line, *save = NULL;
	ssize_t n;

	fflush(stderr);
	dup2(c->saved, 2);
	close(c->saved);
	n = read(c->pipe, said, sizeof(said) - 1);
	close(c->pipe);
	said[n > 0 ? n : 0] = '\0';
	for (line = strtok_r(said, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		fprintf(stderr, "scratchfs: %s\n", line);
	return n > 0;
}

static struct fuse_session *new_session(struct fuse_args *args,
					const struct fuse_lowlevel_ops *ops,
					struct sfs_fs *fs)
{
	struct fuse_stderr c;
	struct fuse_session *se;

	if (catch_fuse_stderr(&c) < 0) {
		perror("scratchfs: pipe");
		return NULL;
	}
	se = fuse_session_new(args, ops, sizeof(*ops), fs);
	if (!release_fuse_stderr(&c) && !se)
		fprintf(stderr, "scratchfs: cannot set up the FUSE session\n");
	return se;
}

static int mount_session(struct fuse_session *se, const char *mountpoint)
{
	struct fuse_stderr c;
	int rc;

	if (catch_fuse_stderr(&c) < 0) {
		perror("scratchfs: pipe");
		return -1;
	}
	rc = fuse_session_mount(se, mountpoint);
	if (!release_fuse_stderr(&c) && rc != 0)
		fprintf(stderr, "scratchfs: cannot mount %s\n", mountpoint);
	return rc;
}

/* Opens the audit sink named in the config, before daemonizing so that a
 * bad audit file stops the mount with a message. */
static int open_audit(const struct sfs_config *cfg, struct sfs_audit **a)
{
	char err[PATH_MAX + 128];

	if (sfs_audit_open(a, cfg->audit.file, cfg->audit.syslog, "scratchfs",
			   err, sizeof(err)) < 0) {
		fprintf(stderr, "scratchfs: %s\n", err);
		return -1;
	}
	return 0;
}

/* Whether the backing directory has no volume header yet (this mount will
 * create the volume and its key): for the audit record only. */
static bool volume_is_new(const char *backing)
{
	struct sfs_volume_header h;
	int fd = open(backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return false;
	rc = sfs_volume_read(fd, &h, NULL, 0);
	close(fd);
	return rc == -ENOENT;
}

/* Forks; the parent waits for the child's verdict and exits with it. In the
 * child, returns the fd to report success on. */
static int daemon_start(void)
{
	int p[2];
	pid_t pid;
	char ok;

	if (pipe2(p, O_CLOEXEC) < 0) {
		perror("scratchfs: pipe");
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		perror("scratchfs: fork");
		return -1;
	}
	if (pid > 0) {
		close(p[1]);
		_exit(read(p[0], &ok, 1) == 1 && ok == 0 ? 0 : 1);
	}
	close(p[0]);
	setsid();
	return p[1];
}

static void daemon_ready(int fd)
{
	char ok = 0;
	int null = open("/dev/null", O_RDWR);

	if (chdir("/") < 0)
		sfs_log(LOG_WARNING, "chdir /: %s", strerror(errno));
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	sfs_log_init("scratchfs", true);
	if (write(fd, &ok, 1) != 1)
		sfs_log(LOG_WARNING, "could not report readiness");
	close(fd);
}

/* Opens or creates the volume and builds the crypto state from its key. */
static int open_volume(struct sfs_fs *fs, const struct sfs_config *cfg,
		       const char *backing, struct sfs_volume_header *hdr)
{
	struct sfs_volume_params p = {
	    .encrypted = cfg->encrypted,
	    .aead = cfg->cipher,
	    .key = cfg->key,
	};
	uint8_t *vk = NULL;
	char err[512];
	int fd, rc;

	fd = open(backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "scratchfs: %s: %s\n", backing,
			strerror(errno));
		return -1;
	}
	rc = sfs_volume_open(fd, backing, &p, hdr, &vk, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "scratchfs: %s\n", err);
		close(fd);
		return -1;
	}
	fs->encrypted = hdr->mode == SFS_MODE_ENCRYPTED;
	fs->durable = hdr->key_source != SFS_KEY_EPHEMERAL;
	if (fs->encrypted) {
		fs->crypto = sfs_crypto_new(hdr->aead, vk);
		sfs_secret_free(vk);
		if (!fs->crypto) {
			fprintf(stderr, "scratchfs: cannot set up keys\n");
			close(fd);
			return -1;
		}
		sfs_layout_init(&fs->layout, sfs_crypto_overhead(fs->crypto));
		rc = sfs_nameio_init_root(fs, fd);
		if (rc < 0) {
			fprintf(stderr,
				"scratchfs: %s: root directory IV: %s\n",
				backing, strerror(-rc));
			close(fd);
			return -1;
		}
	}
	close(fd);
	return 0;
}

/* Mount options every scratchfs mount gets. */
static int add_mount_options(struct fuse_args *args,
			     const struct sfs_config *cfg, const char *backing)
{
	char *opts = NULL, *fsname = NULL, *o = NULL;
	int rc;

	/* fsname shows the backing directory in /proc/mounts and df. */
	rc = fuse_opt_add_opt_escaped(&fsname, backing);
	if (rc == 0 &&
	    asprintf(&o, "subtype=" SFS_FUSE_SUBTYPE ",fsname=%s", fsname) < 0)
		rc = -1;
	if (rc == 0)
		rc = fuse_opt_add_opt(&opts, o);
	if (rc == 0 && cfg->fuse.default_permissions)
		rc = fuse_opt_add_opt(&opts, "default_permissions");
	if (rc == 0 && cfg->fuse.allow_other)
		rc = fuse_opt_add_opt(&opts, "allow_other");
	if (rc == 0)
		rc = fuse_opt_add_arg(args, "-o");
	if (rc == 0)
		rc = fuse_opt_add_arg(args, opts);
	free(o);
	free(fsname);
	free(opts);
	return rc ? -1 : 0;
}

/* SIGHUP reopens the audit log file (logrotate moves it away and signals)
 * instead of unmounting as libfuse's handler would. A thread of its own
 * waits for it, so the reopen is not limited to async-signal-safe calls. */
struct hup {
	struct sfs_audit *audit;
	const char *file; /* the configured audit file; "" for none */
	pthread_t thread;
	bool running;
	atomic_bool stop; /* set before the last SIGHUP that ends it */
};

static void reopen_audit(const struct hup *h)
{
	char err[PATH_MAX + 128];

	if (!h->file[0])
		sfs_log(LOG_INFO, "SIGHUP: no audit log file to reopen");
	else if (sfs_audit_reopen(h->audit, err, sizeof(err)) < 0)
		sfs_log(LOG_ERR, "SIGHUP: %s; still writing to the old file",
			err);
	else
		sfs_log(LOG_INFO, "SIGHUP: reopened audit log %s", h->file);
}

static void *hup_thread(void *arg)
{
	const struct hup *h = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (atomic_load(&h->stop))
			return NULL;
		reopen_audit(h);
	}
}

/* Blocks SIGHUP in this thread and so in every FUSE worker started after
 * it, and hands it to a thread of its own. 0 or -1. */
static int hup_start(struct hup *h, struct sfs_audit *audit, const char *file)
{
	sigset_t set;

	h->audit = audit;
	h->file = file;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 ||
	    pthread_create(&h->thread, NULL, hup_thread, h) != 0)
		return -1;
	h->running = true;
	return 0;
}

static void hup_stop(struct hup *h)
{
	if (!h->running)
		return;
	/* Not pthread_cancel: a signal it waits for anyway ends it cleanly. */
	atomic_store(&h->stop, true);
	pthread_kill(h->thread, SIGHUP);
	pthread_join(h->thread, NULL);
	h->running = false;
}

static int serve(struct fuse_session *se, const struct fuse_cmdline_opts *fo,
		 const struct sfs_config *cfg)
{
	struct fuse_loop_config *lc;
	int rc;

	if (fo->singlethread)
		return fuse_session_loop(se);
	lc = fuse_loop_cfg_create();
	if (!lc)
		return -1;
	fuse_loop_cfg_set_clone_fd(lc, (unsigned int)fo->clone_fd);
	fuse_loop_cfg_set_max_threads(lc, cfg->fuse.max_threads);
	fuse_loop_cfg_set_idle_threads(lc, cfg->fuse.max_threads);
	rc = fuse_session_loop_mt(se, lc);
	fuse_loop_cfg_destroy(lc);
	return rc;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts fo = {0};
	struct fuse_session *se = NULL;
	struct fuse_lowlevel_ops ops;
	struct sfs_volume_header hdr;
	struct sfs_config cfg;
	struct sfs_fs fs = {.handles_lock = PTHREAD_MUTEX_INITIALIZER};
	struct cli cli = {0};
	char backing[PATH_MAX];
	struct stat root_st;
	int ret = 1, rc, root_fd = -1, ready_fd = -1, lock_fd = -1;
	struct sfs_audit *audit = NULL;
	bool mounted = false, created = false;
	struct hup hup = {0};

	sfs_log_init("scratchfs", false);
	/* First: config validation asks libsodium which ciphers the CPU has. */
	if (sfs_crypto_init() < 0) {
		fprintf(stderr, "scratchfs: libsodium initialisation failed\n");
		goto out;
	}
	if (fuse_opt_parse(&args, &cli, cli_opts, cli_proc) < 0)
		goto out;
	if (!cli.help) {
		if (!cli.backing || !cli.mountpoint) {
			fprintf(stderr,
				"usage: %s [-c CONF] [-f] [-o OPTS] BACKING "
				"MOUNTPOINT\n",
				argv[0]);
			goto out;
		}
		if (load_config(&cli, &cfg) < 0)
			goto out;
		root_fd = open_backing(cli.backing, backing, &root_st);
		if (root_fd < 0 ||
		    check_mountpoint(cli.mountpoint, backing) < 0)
			goto out;
	}
	if (fuse_parse_cmdline(&args, &fo) < 0)
		goto out;
	if (fo.show_help) {
		usage(argv[0]);
		ret = 0;
		goto out;
	}
	if (fo.show_version) {
		printf("scratchfs %s (libfuse %s)\n", SFS_VERSION,
		       fuse_pkgversion());
		ret = 0;
		goto out;
	}
	/* Every option is checked before anything is written. */
	if (add_mount_options(&args, &cfg, backing) < 0)
		goto out;
	sfs_ops_fill(&ops, cfg.fuse.xattrs);
	se = new_session(&args, &ops, &fs);
	if (!se)
		goto out;
	if (check_not_mounted(backing) < 0)
		goto out_session;
	if (open_audit(&cfg, &audit) < 0)
		goto out_session;
	harden_process();
	if (!fo.foreground && (ready_fd = daemon_start()) < 0)
		goto out_session;
	lock_fd = lock_volume(backing);
	if (lock_fd == -1)
		goto out_session;
	created = lock_fd == -ENOENT;
	rc = open_volume(&fs, &cfg, backing, &hdr);
	/* Created by this run: a header is there now. */
	created = created && !volume_is_new(backing);
	if (rc == 0 && lock_fd < 0 && (lock_fd = lock_volume(backing)) < 0)
		rc = -1;
	if (rc < 0)
		goto out_session;
	fs.volume = &hdr;
	fs.on_integrity = sfs_audit_integrity;
	fs.mountpoint = fo.mountpoint;
	fs.dev = root_st.st_dev;
	fs.max_write = cfg.fuse.max_write;
	fs.timeout = cfg.fuse.cache_timeout;
	fs.writeback = cfg.fuse.writeback_cache;
	/* ACLs are xattrs, and the kernel enforces them with its permission
	 * checks. */
	fs.posix_acl = cfg.fuse.xattrs && cfg.fuse.default_permissions;
	fs.inodes = sfs_itable_new(root_fd, &root_st);
	if (!fs.inodes) {
		fprintf(stderr, "scratchfs: out of memory\n");
		goto out_session;
	}
	root_fd = -1; /* owned by the inode table */
	enable_parking(&fs, &cfg);
	if (fuse_set_signal_handlers(se) < 0)
		goto out_session;
	if (mount_session(se, fo.mountpoint) < 0)
		goto out_handlers;
	(void)sfs_fuseio_install(se, cfg.fuse.io_uring); /* logs if not */
	/* Recorded before the parent exits, so the record exists once the
	 * mount command returns. */
	mounted = true;
	{
		char id[2 * SFS_VOLUME_UUID_BYTES + 1];

		sfs_hex(id, hdr.uuid, SFS_VOLUME_UUID_BYTES);
		sfs_audit_mount(audit, &hdr, backing, fo.mountpoint, created);
		sfs_audit_set_global(audit, id);
	}
	if (ready_fd >= 0) {
		daemon_ready(ready_fd);
		ready_fd = -1;
	}
	if (hup_start(&hup, audit, cfg.audit.file) < 0) {
		sfs_log(LOG_ERR, "cannot set up SIGHUP handling");
		fuse_session_unmount(se);
		goto out_handlers;
	}
	if (fs.encrypted)
		fs.prefetch = sfs_prefetch_start(&fs, PREFETCH_THREADS);
	ret = serve(se, &fo, &cfg) ? 1 : 0;
	sfs_uring_stop();
	sfs_prefetch_stop(fs.prefetch);
	fs.prefetch = NULL;
	/* No request runs now: nothing the kernel held outlives the session. */
	sfs_ops_close_handles(&fs);
	hup_stop(&hup);
	fuse_session_unmount(se);
out_handlers:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out:
	if (created && !mounted)
		discard_new_volume(backing);
	if (lock_fd >= 0)
		close(lock_fd);
	/* Wiping the keys is what makes an ephemeral volume unreadable. */
	sfs_crypto_free(fs.crypto);
	sfs_audit_set_global(NULL, NULL);
	if (mounted)
		sfs_audit_unmount(audit, &hdr, backing, fo.mountpoint);
	sfs_audit_close(audit);
	sfs_itable_free(fs.inodes);
	if (root_fd >= 0)
		close(root_fd);
	if (ready_fd >= 0)
		close(ready_fd);
	free(fo.mountpoint);
	cli_free(&cli);
	fuse_opt_free_args(&args);
	return ret;
}
