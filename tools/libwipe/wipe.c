/* wipe.c - the wipe engine: resolve, unmount, crypto-erase, delete, verify
 * and record one scratchfs volume (see include/sfs_wipe.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sfs_audit.h"
#include "sfs_crypto.h"
#include "sfs_log.h"
#include "sfs_mountinfo.h"
#include "sfs_sys.h"
#include "sfs_wipe.h"
#include "wipe_sanitize.h"

#define META_DIR ".scratchfs"
#define TMP_FILE "volume.tmp"
/* Written (fsynced) before any key material or file is destroyed and
 * removed last, so an interrupted wipe is recognised and finished. */
#define MARKER_FILE "wiping"
/* Several stacked or bind-mounted copies of one volume, at most. */
#define MAX_MOUNTS 16
#define MAX_DAEMONS 8
/* Key files are tiny; anything bigger under these names is only
 * unlinked after its first MiB is overwritten. */
#define KEY_FILE_MAX (1U << 20)
#define IO_CHUNK (1U << 20)
/* Waits for a daemon after unmount: own exit, then SIGTERM, SIGKILL. */
#define DAEMON_EXIT_MS 3000
#define DAEMON_TERM_MS 3000
#define DAEMON_KILL_MS 2000

#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000
#endif

/* What the backing directory turned out to be before anything changed. */
enum kind {
	K_VOLUME,     /* valid header */
	K_BAD_HEADER, /* .scratchfs/volume is a regular file that fails to
			 parse: still ours to wipe, mode unknown */
	K_HALF,	      /* interrupted wipe or creation */
	K_WIPED,      /* only an empty .scratchfs/ */
	K_EMPTY,      /* nothing at all */
	K_FOREIGN,    /* not a volume: refuse */
};

struct daemon {
	int pid;
	unsigned long long start; /* against pid reuse */
};

struct dev_ino {
	dev_t dev;
	ino_t ino;
};

struct ctx {
	const struct sfs_wipe_opts *o;
	struct sfs_wipe_report *r;
	char *err;
	size_t err_len;
	int bfd;    /* backing directory */
	int metafd; /* backing/.scratchfs, or -1 */
	dev_t dev;  /* backing filesystem */
	uint64_t mnt_id;
	bool have_mnt_id;
	unsigned int passes; /* effective: 0 for encrypted volumes */
	struct daemon daemons[MAX_DAEMONS];
	int ndaemons;
	/* Entries that could not be removed: skipped on later scans. */
	struct dev_ino *left;
	size_t nleft, capleft;
	int first_err;	 /* first deletion error (-errno), 0 if none */
	const char *why; /* why it is not a volume */
	/* progress */
	uint64_t total_bytes; /* to overwrite, all passes; 0 unknown */
	double last_progress;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

const char *sfs_wipe_method_name(enum sfs_wipe_method m)
{
	switch (m) {
	case SFS_WIPE_CRYPTO_ERASE:
		return "crypto-erase";
	case SFS_WIPE_OVERWRITE_DELETE:
		return "overwrite+delete";
	case SFS_WIPE_DELETE:
		return "delete";
	case SFS_WIPE_NOOP:
		break;
	}
	return "none";
}

/*
 * /proc/self/mountinfo
 */

/* A scratchfs mount, copied out of its mountinfo line. */
struct mi_entry {
	unsigned int major, minor;
	char mnt[PATH_MAX];
	char source[PATH_MAX];
	long user_id; /* fuse "user_id=" super option, -1 if absent */
};

/* Copies mi into e; -EINVAL when a field does not fit or parse. */
static int mi_copy(const struct sfs_mountinfo *mi, struct mi_entry *e)
{
	char *p;

	if (sscanf(mi->devno, "%u:%u", &e->major, &e->minor) != 2)
		return -EINVAL;
	if (strlen(mi->target) >= sizeof(e->mnt) ||
	    strlen(mi->source) >= sizeof(e->source))
		return -EINVAL;
	strcpy(e->mnt, mi->target);
	strcpy(e->source, mi->source);
	e->user_id = -1;
	if (mi->super_opts) {
		p = strstr(mi->super_opts, "user_id=");
		if (p && (p == mi->super_opts || p[-1] == ','))
			e->user_id = strtol(p + 8, NULL, 10);
	}
	return 0;
}

struct mi_search {
	bool (*match)(const struct mi_entry *, const void *);
	const void *arg;
	struct mi_entry *e, *out;
	int found;
};

static int mi_visit(const struct sfs_mountinfo *mi, void *arg)
{
	struct mi_search *s = arg;

	if (mi_copy(mi, s->e) == 0 && s->match(s->e, s->arg)) {
		*s->out = *s->e;
		s->found = 1;
	}
	return 0;
}

/* Calls match for every scratchfs mount; the last one it accepts is copied
 * to out. Returns 1 when one matched, 0 when none, -errno. */
static int mi_find(bool (*match)(const struct mi_entry *, const void *),
		   const void *arg, struct mi_entry *out)
{
	struct mi_search s = {.match = match, .arg = arg, .out = out};
	int rc;

	s.e = malloc(sizeof(*s.e));
	if (!s.e)
		return -ENOMEM;
	rc = sfs_mountinfo_scratchfs(SFS_MOUNTINFO, mi_visit, &s);
	free(s.e);
	return rc < 0 ? rc : s.found;
}

static bool match_source(const struct mi_entry *e, const void *backing)
{
	return strcmp(e->source, backing) == 0;
}

static bool match_mnt(const struct mi_entry *e, const void *mnt)
{
	return strcmp(e->mnt, mnt) == 0;
}

/* mi_find, then copies the string field (an offsetof in struct mi_entry)
 * of the entry found to out. 1, 0 or -errno as mi_find. */
static int mi_find_str(bool (*match)(const struct mi_entry *, const void *),
		       const void *arg, size_t field, char *out, size_t out_len)
{
	struct mi_entry *e = malloc(sizeof(*e));
	int rc;

	if (!e)
		return -ENOMEM;
	rc = mi_find(match, arg, e);
	if (rc == 1)
		snprintf(out, out_len, "%s", (const char *)e + field);
	free(e);
	return rc;
}

int sfs_wipe_find_mount(const char *backing, char *mnt, size_t mnt_len)
{
	return mi_find_str(match_source, backing,
			   offsetof(struct mi_entry, mnt), mnt, mnt_len);
}

int sfs_wipe_find_backing(const char *mountpoint, char *backing,
			  size_t backing_len)
{
	return mi_find_str(match_mnt, mountpoint,
			   offsetof(struct mi_entry, source), backing,
			   backing_len);
}

/*
 * /proc/<pid>: daemons and holders
 */

/* The start time of pid (field 22 of /proc/pid/stat), or 0 when it has
 * exited: gone, or a zombie (its memory, keys included, is freed). */
static unsigned long long proc_start_time(int pid)
{
	char buf[1024];
	const char *p = sfs_proc_stat(pid, buf, sizeof(buf));

	/* p is at field 3: step to the space before field 22. */
	for (int field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

static void proc_comm(int pid, char *out, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(out, len, "?");
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, out, len - 1);
	close(fd);
	if (n <= 0) {
		snprintf(out, len, "?");
		return;
	}
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

static bool is_pid_dir(const char *name)
{
	if (!*name)
		return false;
	for (const char *p = name; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

/* The next process of /proc (proc) other than us; 0 at the end. */
static int next_pid(DIR *proc)
{
	struct dirent *de;

	while ((de = readdir(proc)))
		if (is_pid_dir(de->d_name) && atoi(de->d_name) != getpid())
			return atoi(de->d_name);
	return 0;
}

/* The next open fd of pid (fds: its /proc/PID/fd) as "/proc/PID/fd/N" in
 * path; false at the end. */
static bool next_fd(DIR *fds, int pid, char *path, size_t len)
{
	struct dirent *fe;

	while ((fe = readdir(fds))) {
		if (is_pid_dir(fe->d_name)) {
			snprintf(path, len, "/proc/%d/fd/%s", pid, fe->d_name);
			return true;
		}
	}
	return false;
}

/* Whether pid still is the process recorded in d. */
static bool daemon_alive(const struct daemon *d)
{
	return kill(d->pid, 0) == 0 && d->start != 0 &&
	       proc_start_time(d->pid) == d->start;
}

/* The daemons serving the backing directory: processes holding both an fd
 * on the backing directory itself (the daemon's root inode) and /dev/fuse.
 * Found before unmounting, so that we can tell when the key is gone. */
static void find_daemons(struct ctx *c, const struct stat *bst)
{
	DIR *proc = opendir("/proc");
	int pid;

	c->ndaemons = 0;
	if (!proc)
		return;
	while (c->ndaemons < MAX_DAEMONS && (pid = next_pid(proc))) {
		char path[300], link[64];
		bool has_root = false, has_fuse = false;
		DIR *fds;

		snprintf(path, sizeof(path), "/proc/%d/fd", pid);
		fds = opendir(path);
		if (!fds)
			continue;
		while (!(has_root && has_fuse) &&
		       next_fd(fds, pid, path, sizeof(path))) {
			struct stat st;
			ssize_t n;

			n = readlink(path, link, sizeof(link) - 1);
			if (n > 0) {
				link[n] = '\0';
				if (strcmp(link, "/dev/fuse") == 0) {
					has_fuse = true;
					continue;
				}
			}
			if (stat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
			    st.st_dev == bst->st_dev &&
			    st.st_ino == bst->st_ino)
				has_root = true;
		}
		closedir(fds);
		if (has_root && has_fuse) {
			c->daemons[c->ndaemons].pid = pid;
			c->daemons[c->ndaemons].start = proc_start_time(pid);
			c->ndaemons++;
		}
	}
	closedir(proc);
}

static bool under(const char *p, const char *mnt)
{
	size_t n = strlen(mnt);

	return strncmp(p, mnt, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

static bool link_under(const char *path, const char *mnt)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);

	if (n <= 0)
		return false;
	buf[n] = '\0';
	return under(buf, mnt);
}

static bool maps_under(int pid, const char *mnt)
{
	char path[64];
	char *line = NULL;
	size_t cap = 0;
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && getline(&line, &cap, f) > 0) {
		char *p = strchr(line, '/');

		if (p) {
			p[strcspn(p, "\n")] = '\0';
			found = under(p, mnt);
		}
	}
	free(line);
	fclose(f);
	return found;
}

/* Processes with their cwd, root, an open file or a mapping under mnt. */
static void find_holders(struct ctx *c, const char *mnt)
{
	struct sfs_wipe_report *r = c->r;
	DIR *proc = opendir("/proc");
	int pid;

	r->n_holders = 0;
	if (!proc)
		return;
	while (r->n_holders < SFS_WIPE_MAX_HOLDERS && (pid = next_pid(proc))) {
		char path[300];
		bool held = false;

		snprintf(path, sizeof(path), "/proc/%d/cwd", pid);
		held = link_under(path, mnt);
		snprintf(path, sizeof(path), "/proc/%d/root", pid);
		held = held || link_under(path, mnt);
		if (!held) {
			DIR *fds;

			snprintf(path, sizeof(path), "/proc/%d/fd", pid);
			fds = opendir(path);
			while (fds && !held &&
			       next_fd(fds, pid, path, sizeof(path)))
				held = link_under(path, mnt);
			if (fds)
				closedir(fds);
		}
		held = held || maps_under(pid, mnt);
		if (held) {
			struct sfs_wipe_holder *h = &r->holders[r->n_holders++];

			h->pid = pid;
			proc_comm(pid, h->comm, sizeof(h->comm));
		}
	}
	closedir(proc);
}

/*
 * Unmounting
 */

/* fusermount3 -u [-z] mnt, for callers that may not umount2 themselves.
 * 0 or -EBUSY / -errno. */
static int run_fusermount(const char *mnt, bool lazy)
{
	int status, null;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		null = open("/dev/null", O_WRONLY);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		if (lazy)
			execlp("fusermount3", "fusermount3", "-u", "-z", "--",
			       mnt, (char *)NULL);
		else
			execlp("fusermount3", "fusermount3", "-u", "--", mnt,
			       (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return -ENOENT;
	/* fusermount3 does not tell why; busy is what matters here. */
	return -EBUSY;
}

/* Unmounts mnt (lazily: MNT_DETACH). 0 or -errno (-EBUSY when busy). */
static int do_umount(const char *mnt, bool lazy)
{
	if (umount2(mnt, (lazy ? MNT_DETACH : 0) | UMOUNT_NOFOLLOW) == 0)
		return 0;
	if (errno == EBUSY || errno == EINVAL || errno == ENOENT)
		return -errno;
	/* Not root (EPERM): the setuid helper knows the user's mounts. */
	return run_fusermount(mnt, lazy);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Waits up to ms for every recorded daemon to be gone. */
static bool daemons_gone(struct ctx *c, int ms)
{
	double until = now_ms() + ms;

	for (;;) {
		bool any = false;

		for (int i = 0; i < c->ndaemons; i++)
			any = any || daemon_alive(&c->daemons[i]);
		if (!any)
			return true;
		if (now_ms() >= until)
			return false;
		sleep_ms(5);
	}
}

static void signal_daemons(struct ctx *c, int sig)
{
	for (int i = 0; i < c->ndaemons; i++)
		if (daemon_alive(&c->daemons[i]))
			kill(c->daemons[i].pid, sig);
}

/* Makes sure the daemons that served the volume have exited: after an
 * unmount they exit by themselves (wiping their keys); one that does not
 * (a lazily detached mount still in use, a bind mount in another mount
 * namespace) is told to stop, then killed. */
static int stop_daemons(struct ctx *c)
{
	struct sfs_wipe_report *r = c->r;

	if (c->ndaemons == 0)
		return 0;
	/* A lazily detached busy mount keeps its daemon serving the
	 * holders: no point waiting for it to exit by itself. */
	if (daemons_gone(c, r->lazy_detached ? 0 : DAEMON_EXIT_MS)) {
		r->daemon = SFS_WIPE_DAEMON_EXITED;
		return 0;
	}
	signal_daemons(c, SIGTERM);
	if (daemons_gone(c, DAEMON_TERM_MS)) {
		r->daemon = SFS_WIPE_DAEMON_TERMINATED;
		return 0;
	}
	signal_daemons(c, SIGKILL);
	if (daemons_gone(c, DAEMON_KILL_MS)) {
		r->daemon = SFS_WIPE_DAEMON_KILLED;
		return 0;
	}
	r->daemon = SFS_WIPE_DAEMON_RUNNING;
	sfs_set_err(
	    c->err, c->err_len,
	    "%s: the scratchfs daemon (pid %d) does not exit, so its key "
	    "is still in memory",
	    r->backing, c->daemons[0].pid);
	return -EIO;
}

static void holders_message(struct ctx *c, const char *mnt)
{
	struct sfs_wipe_report *r = c->r;
	char list[512] = "";
	size_t len = 0;

	for (int i = 0; i < r->n_holders && len < sizeof(list) - 1; i++) {
		int n = snprintf(list + len, sizeof(list) - len, "%s%d (%s)",
				 i ? ", " : "", r->holders[i].pid,
				 r->holders[i].comm);
		if (n < 0)
			break;
		len += (size_t)n;
	}
	if (r->n_holders)
		sfs_set_err(
		    c->err, c->err_len,
		    "%s is busy: in use by pid %s; stop %s or use --lazy", mnt,
		    list, r->n_holders > 1 ? "them" : "it");
	else
		sfs_set_err(c->err, c->err_len,
			    "%s is busy (no process found holding it: a mount "
			    "inside it?); use --lazy",
			    mnt);
}

/* Unmounts every fuse.scratchfs mount of the backing directory. */
static int unmount_all(struct ctx *c)
{
	struct sfs_wipe_report *r = c->r;
	struct mi_entry *e = malloc(sizeof(*e));
	int rc = 0;

	if (!e)
		return -ENOMEM;
	for (int i = 0; i < MAX_MOUNTS; i++) {
		struct stat st;
		bool stale;

		rc = mi_find(match_source, r->backing, e);
		if (rc < 0)
			sfs_set_err(c->err, c->err_len, SFS_MOUNTINFO ": %s",
				    strerror(-rc));
		if (rc <= 0)
			break;
		rc = 0;
		r->was_mounted = true;
		if (!r->mountpoint[0])
			snprintf(r->mountpoint, sizeof(r->mountpoint), "%s",
				 e->mnt);
		/* stat() would hang on a live but stuck daemon: only ask
		 * when none of the volume's daemons is alive. */
		stale = c->ndaemons == 0 && stat(e->mnt, &st) != 0 &&
			sfs_errno_dead_fuse(errno);
		if (stale) {
			/* The daemon is dead: nothing to flush, nobody to
			 * wait for; only the kernel's mount is left. */
			r->stale = true;
			rc = do_umount(e->mnt, true);
		} else {
			rc = do_umount(e->mnt, false);
			if (rc == -EBUSY) {
				find_holders(c, e->mnt);
				if (!c->o->lazy) {
					holders_message(c, e->mnt);
					break;
				}
				r->lazy_detached = true;
				rc = do_umount(e->mnt, true);
			}
		}
		if (rc) {
			sfs_set_err(c->err, c->err_len, "cannot unmount %s: %s",
				    e->mnt, strerror(-rc));
			break;
		}
	}
	if (rc == 0 && mi_find(match_source, r->backing, e) > 0) {
		sfs_set_err(c->err, c->err_len, "%s is still mounted at %s",
			    r->backing, e->mnt);
		rc = -EBUSY;
	}
	free(e);
	return rc;
}

/*
 * Recognising the volume
 */

/* Lists dfd's entries (without . and ..) into a NULL-terminated array of
 * at most max names; returns the total count or -errno. */
static int list_dir(int dfd, char names[][NAME_MAX + 1], int max)
{
	DIR *d = sfs_opendir_at(dfd);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (n < max)
			snprintf(names[n], NAME_MAX + 1, "%s", de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

static bool names_only(char names[][NAME_MAX + 1], int n,
		       const char *const *allowed)
{
	for (int i = 0; i < n; i++) {
		bool ok = false;

		for (const char *const *a = allowed; *a; a++)
			ok = ok || strcmp(names[i], *a) == 0;
		if (!ok)
			return false;
	}
	return true;
}

static bool has_name(char names[][NAME_MAX + 1], int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

/* Classifies the backing directory without changing anything (c->why
 * says why a K_FOREIGN is not a volume), and locks .scratchfs/ against a
 * concurrent wipe of the same volume. Errors come with a message. */
static int classify(struct ctx *c, struct sfs_volume_header *h, enum kind *kind)
{
	static const char *const meta_names[] = {SFS_VOLUME_FILE, TMP_FILE,
						 MARKER_FILE, NULL};
	struct sfs_wipe_report *r = c->r;
	char names[4][NAME_MAX + 1], msg[160];
	struct stat st;
	int n, top, rc;

	*kind = K_FOREIGN;
	rc = sfs_volume_read(c->bfd, h, msg, sizeof(msg));
	top = list_dir(c->bfd, names, 4);
	if (top < 0) {
		sfs_set_err(c->err, c->err_len, "%s: %s", r->backing,
			    strerror(-top));
		return top;
	}
	if (fstatat(c->bfd, META_DIR, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno != ENOENT) {
			rc = -errno;
			sfs_set_err(c->err, c->err_len, "%s/%s: %s", r->backing,
				    META_DIR, strerror(-rc));
			return rc;
		}
		if (top == 0)
			*kind = K_EMPTY;
		c->why = "it has no " META_DIR "/" SFS_VOLUME_FILE " header";
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		c->why = "its " META_DIR " is not a directory (a symlink?)";
		return 0;
	}
	c->metafd = openat(c->bfd, META_DIR,
			   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c->metafd < 0) {
		rc = -errno;
		sfs_set_err(c->err, c->err_len, "%s/%s: %s", r->backing,
			    META_DIR, strerror(-rc));
		return rc;
	}
	n = list_dir(c->metafd, names, 4);
	if (n < 0) {
		sfs_set_err(c->err, c->err_len, "%s/%s: %s", r->backing,
			    META_DIR, strerror(-n));
		return n;
	}
	if (n > 3 || !names_only(names, n, meta_names)) {
		c->why =
		    "its " META_DIR "/ holds files scratchfs does not make";
		return 0;
	}
	/* Only now, when it is one of ours: one wipe at a time. */
	if (flock(c->metafd, LOCK_EX | LOCK_NB) != 0) {
		sfs_set_err(c->err, c->err_len,
			    "%s: another wipe of this volume is running",
			    r->backing);
		return -EBUSY;
	}
	if (rc == 0) {
		*kind = K_VOLUME;
		return 0;
	}
	if (has_name(names, n, SFS_VOLUME_FILE)) {
		/* A header we cannot parse (corrupt, or from a newer
		 * scratchfs) in a regular file where ours lives: ours to
		 * wipe, mode unknown. Anything else there is not ours. */
		if (rc == -EINVAL &&
		    fstatat(c->metafd, SFS_VOLUME_FILE, &st,
			    AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode)) {
			snprintf(r->note, sizeof(r->note),
				 "header unreadable (%s): wiped as a volume "
				 "of unknown mode",
				 msg);
			*kind = K_BAD_HEADER;
			return 0;
		}
		c->why = "its " META_DIR "/" SFS_VOLUME_FILE
			 " is not a regular file";
		return 0;
	}
	if (n > 0) {
		/* wiping: an interrupted wipe; volume.tmp: a creation that
		 * crashed (its keyslot may hold a wrapped key). */
		*kind = K_HALF;
		return 0;
	}
	/* An empty .scratchfs/ and nothing else is what a wipe leaves;
	 * with other files beside it, it is not ours to judge. */
	if (top == 1)
		*kind = K_WIPED;
	else
		c->why = "it has an empty " META_DIR "/ but other files and "
			 "no header";
	return 0;
}

/*
 * Erasing key material
 */

/* 0 for a count, or the -errno. */
static int status_of(ssize_t n)
{
	return n < 0 ? (int)n : 0;
}

/* Overwrites dfd/name (a header or its temp copy) with random bytes, then
 * zeros, fsyncing each, then unlinks it. Returns 1 when there was one, 0
 * when there was none, -errno. */
static int destroy_key_file(int dfd, const char *name)
{
	uint8_t buf[4096];
	struct stat st;
	size_t len;
	int fd, rc = 0;

	fd = openat(dfd, name, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno != ELOOP && errno != EISDIR && errno != ENXIO)
			return -errno;
		/* Not a regular file: nothing to overwrite. */
	} else if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		len = st.st_size > KEY_FILE_MAX ? KEY_FILE_MAX
						: (size_t)st.st_size;
		for (int pass = 0; pass < 2 && rc == 0; pass++) {
			for (size_t off = 0; off < len && rc == 0;
			     off += sizeof(buf)) {
				size_t n = len - off < sizeof(buf)
					       ? len - off
					       : sizeof(buf);

				if (pass == 0)
					sfs_random(buf, n);
				else
					memset(buf, 0, n);
				rc = status_of(
				    sfs_pwrite_full(fd, buf, n, (off_t)off));
			}
			if (rc == 0 && fdatasync(fd) != 0)
				rc = -errno;
		}
	}
	if (fd >= 0)
		close(fd);
	if (rc)
		return rc;
	if (unlinkat(dfd, name, 0) != 0 &&
	    (errno != EISDIR || unlinkat(dfd, name, AT_REMOVEDIR) != 0))
		return errno == ENOENT ? 0 : -errno;
	return 1;
}

/* Records that a wipe is under way (see MARKER_FILE). */
static int write_marker(struct ctx *c)
{
	char line[256], t[32];
	int fd, rc = 0;

	if (c->metafd < 0) {
		if (mkdirat(c->bfd, META_DIR, 0700) != 0 && errno != EEXIST)
			return -errno;
		c->metafd =
		    openat(c->bfd, META_DIR,
			   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (c->metafd < 0)
			return -errno;
	}
	sfs_audit_timestamp(t, sizeof(t));
	snprintf(line, sizeof(line),
		 "{\"volume_id\":\"%s\",\"started\":\"%s\",\"pid\":%d}\n",
		 c->r->volume_id, t, (int)getpid());
	fd =
	    openat(c->metafd, MARKER_FILE,
		   O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	rc = status_of(
	    sfs_pwrite_full(fd, (const uint8_t *)line, strlen(line), 0));
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	close(fd);
	if (rc == 0)
		rc = sfs_fsync_dir(c->metafd);
	return rc;
}

static int erase_keys(struct ctx *c)
{
	struct sfs_wipe_report *r = c->r;
	int rc;

	rc = write_marker(c);
	if (rc) {
		sfs_set_err(c->err, c->err_len, "%s/%s/%s: %s", r->backing,
			    META_DIR, MARKER_FILE, strerror(-rc));
		return rc;
	}
	for (int i = 0; i < 2; i++) {
		const char *name = i ? TMP_FILE : SFS_VOLUME_FILE;

		rc = destroy_key_file(c->metafd, name);
		if (rc < 0) {
			sfs_set_err(c->err, c->err_len,
				    "cannot destroy %s/%s/%s: %s", r->backing,
				    META_DIR, name, strerror(-rc));
			return rc;
		}
		if (rc > 0)
			r->header_destroyed = true;
	}
	if (r->header_destroyed && r->header_found &&
	    r->mode == SFS_MODE_ENCRYPTED && r->key_source != SFS_KEY_EPHEMERAL)
		r->keyslot_destroyed = true;
	rc = sfs_fsync_dir(c->metafd);
	if (rc == 0)
		rc = sfs_fsync_dir(c->bfd);
	if (rc)
		sfs_set_err(c->err, c->err_len, "%s: fsync: %s", r->backing,
			    strerror(-rc));
	return rc;
}

/*
 * Deleting the tree
 */

static bool is_left(const struct ctx *c, dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < c->nleft; i++)
		if (c->left[i].dev == dev && c->left[i].ino == ino)
			return true;
	return false;
}

static int add_left(struct ctx *c, dev_t dev, ino_t ino)
{
	if (c->nleft == c->capleft) {
		size_t cap = c->capleft ? 2 * c->capleft : 16;
		struct dev_ino *p = realloc(c->left, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		c->left = p;
		c->capleft = cap;
	}
	c->left[c->nleft].dev = dev;
	c->left[c->nleft].ino = ino;
	c->nleft++;
	return 0;
}

static void note_err(struct ctx *c, int rc, const char *what)
{
	if (c->first_err)
		return;
	c->first_err = rc;
	sfs_set_err(c->err, c->err_len, "%s: cannot remove an entry (%s): %s",
		    c->r->backing, what, strerror(-rc));
}

/* Whether an entry is on another mount than the backing directory (a bind
 * mount or another filesystem planted inside). */
static bool other_mount(const struct ctx *c, const struct statx *sx)
{
	if (makedev(sx->stx_dev_major, sx->stx_dev_minor) != c->dev)
		return true;
	if (sx->stx_attributes_mask & STATX_ATTR_MOUNT_ROOT &&
	    sx->stx_attributes & STATX_ATTR_MOUNT_ROOT)
		return true;
	return c->have_mnt_id && (sx->stx_mask & STATX_MNT_ID) &&
	       sx->stx_mnt_id != c->mnt_id;
}

static int statx_at(int dfd, const char *name, struct statx *sx)
{
	if (statx(dfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
		  STATX_BASIC_STATS | STATX_MNT_ID, sx) != 0)
		return -errno;
	return 0;
}

/* Detaches whatever is mounted on dfd/name (never following a symlink
 * there). Mounts are only detached, never entered or emptied. */
static int detach_inside(int dfd, const char *name)
{
	char path[64 + NAME_MAX];

	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dfd, name);
	if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) != 0)
		return -errno;
	return 0;
}

static void progress(struct ctx *c, bool final)
{
	struct sfs_wipe_report *r = c->r;
	double t = now_ms();

	if (!c->o->progress || (!final && t - c->last_progress < 100))
		return;
	c->last_progress = t;
	if (c->total_bytes)
		fprintf(stderr,
			"\rscratchfs-wipe: overwriting: %llu of %llu MiB "
			"(%u pass%s) %3d%%",
			(unsigned long long)(r->bytes_overwritten >> 20),
			(unsigned long long)(c->total_bytes >> 20), c->passes,
			c->passes == 1 ? "" : "es",
			(int)(100.0 * (double)r->bytes_overwritten /
			      (double)c->total_bytes));
	else
		fprintf(stderr, "\rscratchfs-wipe: overwriting: %llu MiB",
			(unsigned long long)(r->bytes_overwritten >> 20));
	if (final)
		fputc('\n', stderr);
}

/* Overwrites the data extents of one regular file c->passes times (random,
 * the last pass zeros), fdatasyncing each pass. */
static int overwrite_file(struct ctx *c, int dfd, const char *name,
			  const struct statx *sx, uint8_t *buf)
{
	struct stat st;
	int fd, rc = 0;

	fd = openat(dfd, name,
		    O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* The same file we looked at, still not hard-linked elsewhere. */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_ino != sx->stx_ino || st.st_nlink != 1) {
		close(fd);
		return 0;
	}
	for (unsigned int pass = 0; pass < c->passes && rc == 0; pass++) {
		bool zeros = pass + 1 == c->passes;
		off_t data = 0, hole;

		/* Only the data extents: writing into holes would allocate
		 * blocks that never held anything. */
		while (rc == 0 && data < st.st_size) {
			data = lseek(fd, data, SEEK_DATA);
			if (data < 0)
				break; /* ENXIO: no more data */
			hole = lseek(fd, data, SEEK_HOLE);
			if (hole < 0 || hole > st.st_size)
				hole = st.st_size;
			while (rc == 0 && data < hole) {
				size_t n = (size_t)(hole - data) < IO_CHUNK
					       ? (size_t)(hole - data)
					       : IO_CHUNK;

				if (zeros)
					memset(buf, 0, n);
				else
					sfs_random(buf, n);
				rc = status_of(
				    sfs_pwrite_full(fd, buf, n, data));
				data += (off_t)n;
				c->r->bytes_overwritten += n;
				progress(c, false);
			}
		}
		if (rc == 0 && fdatasync(fd) != 0)
			rc = -errno;
	}
	close(fd);
	return rc;
}

/* One non-directory entry: overwrite (plain volumes) and unlink. */
static void delete_entry(struct ctx *c, int dfd, const char *name,
			 const struct statx *sx, uint8_t *buf)
{
	struct sfs_wipe_report *r = c->r;
	bool reg = S_ISREG(sx->stx_mode);
	int rc;

	if (reg && c->passes && sx->stx_size > 0 && sx->stx_nlink == 1) {
		double t0 = now_ms();

		rc = overwrite_file(c, dfd, name, sx, buf);
		r->overwrite_ms += now_ms() - t0;
		if (rc)
			note_err(c, rc, "overwrite");
	}
	if (unlinkat(dfd, name, 0) == 0) {
		r->files_deleted++;
		if (reg)
			r->bytes_deleted += sx->stx_size;
		return;
	}
	if (errno == ENOENT)
		return;
	note_err(c, -errno, "unlink");
	add_left(c, makedev(sx->stx_dev_major, sx->stx_dev_minor), sx->stx_ino);
}

/* Scans one directory: unlinks every non-directory, detaches mounts, and
 * returns in *sub the name of one subdirectory still to empty (malloc'ed;
 * NULL when none is left). */
static int scan_dir(struct ctx *c, int fd, bool is_root, char **sub,
		    struct dev_ino *sub_id, uint8_t *buf)
{
	struct dirent *de;
	DIR *d;
	int rc = 0;

	*sub = NULL;
	d = sfs_opendir_at(fd);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		struct statx sx;
		int tries = 0;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		/* The metadata directory goes last, after the tree. */
		if (is_root && strcmp(name, META_DIR) == 0)
			continue;
		rc = statx_at(fd, name, &sx);
		while ((rc == 0 && other_mount(c, &sx)) ||
		       (rc < 0 && sfs_errno_dead_fuse(-rc))) {
			/* Something is mounted here (maybe a dead FUSE
			 * mount): detach it, never descend into it. */
			if (++tries > 8 || detach_inside(fd, name) != 0)
				break;
			c->r->mounts_detached++;
			rc = statx_at(fd, name, &sx);
		}
		if (rc == -ENOENT) {
			rc = 0;
			continue;
		}
		if (rc) {
			note_err(c, rc, "stat");
			rc = 0;
			continue;
		}
		if (is_left(c, makedev(sx.stx_dev_major, sx.stx_dev_minor),
			    sx.stx_ino))
			continue;
		if (other_mount(c, &sx)) {
			c->r->mounts_skipped++;
			note_err(c, -EBUSY,
				 "a mount inside could not be "
				 "detached");
			rc = add_left(
			    c, makedev(sx.stx_dev_major, sx.stx_dev_minor),
			    sx.stx_ino);
			if (rc)
				break;
			continue;
		}
		if (S_ISDIR(sx.stx_mode)) {
			if (!*sub) {
				*sub = strdup(name);
				if (!*sub) {
					rc = -ENOMEM;
					break;
				}
				sub_id->dev =
				    makedev(sx.stx_dev_major, sx.stx_dev_minor);
				sub_id->ino = sx.stx_ino;
			}
			continue;
		}
		delete_entry(c, fd, name, &sx, buf);
	}
	closedir(d);
	if (rc) {
		free(*sub);
		*sub = NULL;
	}
	return rc;
}

struct frame {
	struct dev_ino id;
	char *name; /* in the parent; NULL for the root */
};

/* Opens dfd/name as a directory that must be id on our filesystem. */
static int open_subdir(struct ctx *c, int dfd, const char *name,
		       const struct dev_ino *id)
{
	struct stat st;
	int fd =
	    openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == EACCES && geteuid() != 0) {
		/* Our own read-only directory: make it deletable. */
		if (fchmodat(dfd, name, 0700, 0) == 0)
			fd = openat(dfd, name,
				    O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					O_CLOEXEC);
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || st.st_dev != id->dev ||
	    st.st_ino != id->ino || st.st_dev != c->dev) {
		close(fd);
		return -ESTALE;
	}
	if (geteuid() != 0 && (st.st_mode & 0700) != 0700)
		fchmod(fd, (st.st_mode & 07777) | 0700);
	return fd;
}

/* Empties the backing directory (except .scratchfs) depth first, holding
 * one directory fd at a time: the way back up is "..", checked against
 * the (dev, ino) remembered on the way down, so any depth works. */
static int delete_tree(struct ctx *c)
{
	struct frame *st = NULL;
	size_t n = 0, cap = 0;
	uint8_t *buf = NULL;
	struct stat rst;
	int fd, rc = 0;

	if (c->passes) {
		buf = malloc(IO_CHUNK);
		if (!buf)
			return -ENOMEM;
	}
	fd = openat(c->bfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &rst) != 0) {
		rc = -errno;
		goto out;
	}
	for (;;) {
		struct dev_ino sub_id;
		char *sub;
		int child;

		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 32;
			struct frame *p = realloc(st, ncap * sizeof(*p));

			if (!p) {
				rc = -ENOMEM;
				goto out;
			}
			st = p;
			cap = ncap;
		}
		if (n == 0) {
			st[0].id.dev = rst.st_dev;
			st[0].id.ino = rst.st_ino;
			st[0].name = NULL;
			n = 1;
		}
		rc = scan_dir(c, fd, n == 1, &sub, &sub_id, buf);
		if (rc)
			goto out;
		if (sub) {
			child = open_subdir(c, fd, sub, &sub_id);
			if (child < 0) {
				if (child != -ENOENT) {
					note_err(c, child, "open directory");
					rc =
					    add_left(c, sub_id.dev, sub_id.ino);
				}
				free(sub);
				if (rc)
					goto out;
				continue;
			}
			close(fd);
			fd = child;
			st[n].id = sub_id;
			st[n].name = sub;
			n++;
			continue;
		}
		if (n == 1)
			break;
		/* This directory is done: back to the parent, remove it. */
		{
			struct stat pst;
			int parent = openat(fd, "..",
					    O_RDONLY | O_DIRECTORY |
						O_NOFOLLOW | O_CLOEXEC);

			if (parent < 0 || fstat(parent, &pst) != 0 ||
			    pst.st_dev != st[n - 2].id.dev ||
			    pst.st_ino != st[n - 2].id.ino) {
				rc = parent < 0 ? -errno : -ESTALE;
				if (parent >= 0)
					close(parent);
				sfs_set_err(c->err, c->err_len,
					    "%s: a directory was moved during "
					    "the wipe; stopped",
					    c->r->backing);
				goto out;
			}
			close(fd);
			fd = parent;
			n--;
			if (unlinkat(fd, st[n].name, AT_REMOVEDIR) == 0) {
				c->r->dirs_deleted++;
			} else if (errno != ENOENT) {
				note_err(c, -errno, "rmdir");
				rc = add_left(c, st[n].id.dev, st[n].id.ino);
			}
			free(st[n].name);
			st[n].name = NULL;
			if (rc)
				goto out;
		}
	}
out:
	progress(c, true);
	if (fd >= 0)
		close(fd);
	for (size_t i = 1; i < n; i++)
		free(st[i].name);
	free(st);
	free(buf);
	return rc;
}

/* Bytes the overwrite passes will write (for the progress line). */
static uint64_t count_bytes(int dfd, dev_t dev, int depth)
{
	DIR *d = sfs_opendir_at(dfd);
	struct dirent *de;
	uint64_t sum = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    (depth == 0 && strcmp(de->d_name, META_DIR) == 0) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) !=
			0 ||
		    st.st_dev != dev)
			continue;
		if (S_ISREG(st.st_mode) && st.st_nlink == 1)
			sum += (uint64_t)st.st_size;
		else if (S_ISDIR(st.st_mode) && depth < 64) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					     O_CLOEXEC);

			if (sub >= 0) {
				sum += count_bytes(sub, dev, depth + 1);
				close(sub);
			}
		}
	}
	closedir(d);
	return sum;
}

/*
 * Verification
 */

static void verify(struct ctx *c)
{
	struct sfs_wipe_report *r = c->r;
	char names[4][NAME_MAX + 1], mnt[PATH_MAX];
	bool daemons = false;
	struct stat st;
	int n;

	for (int i = 0; i < c->ndaemons; i++)
		daemons = daemons || daemon_alive(&c->daemons[i]);
	r->verify_not_mounted =
	    sfs_wipe_find_mount(r->backing, mnt, sizeof(mnt)) == 0;
	r->verify_no_key = !daemons;
	if (c->metafd >= 0)
		for (int i = 0; i < 3; i++) {
			const char *name = i == 0   ? SFS_VOLUME_FILE
					   : i == 1 ? TMP_FILE
						    : MARKER_FILE;

			if (fstatat(c->metafd, name, &st,
				    AT_SYMLINK_NOFOLLOW) == 0 ||
			    errno != ENOENT)
				r->verify_no_key = false;
		}
	/* Nothing but the (empty) .scratchfs directory. */
	n = list_dir(c->bfd, names, 4);
	r->verify_no_files =
	    n == 0 || (n == 1 && strcmp(names[0], META_DIR) == 0 &&
		       c->metafd >= 0 && list_dir(c->metafd, names, 4) == 0);
	r->verified =
	    r->verify_not_mounted && r->verify_no_key && r->verify_no_files;
}

/*
 * The whole sequence
 */

/* Finds the backing directory from path (backing or mount point), refusing
 * symlinks, "/" and non-directories. */
static int resolve(struct ctx *c, const char *path)
{
	struct sfs_wipe_report *r = c->r;
	struct mi_entry *e = NULL;
	char canon[PATH_MAX], trimmed[PATH_MAX];
	struct stat st;
	size_t len = strlen(path);
	bool stale;
	int rc;

	if (len == 0 || len >= sizeof(trimmed)) {
		sfs_set_err(c->err, c->err_len, "bad path \"%s\"", path);
		return -EINVAL;
	}
	/* "link/" would follow the symlink: judge the name itself. */
	memcpy(trimmed, path, len + 1);
	while (len > 1 && trimmed[len - 1] == '/')
		trimmed[--len] = '\0';
	if (lstat(trimmed, &st) == 0) {
		if (S_ISLNK(st.st_mode)) {
			sfs_set_err(c->err, c->err_len,
				    "%s is a symlink; refusing (give the real "
				    "path)",
				    path);
			return -ELOOP;
		}
		if (!S_ISDIR(st.st_mode)) {
			sfs_set_err(c->err, c->err_len,
				    "%s is not a directory; refusing", path);
			return -ENOTDIR;
		}
	} else if (!sfs_errno_dead_fuse(errno)) {
		rc = -errno;
		sfs_set_err(c->err, c->err_len, "%s: %s", path, strerror(-rc));
		return rc;
	}
	rc = sfs_mountpoint_realpath(trimmed, canon, &stale);
	if (rc) {
		sfs_set_err(c->err, c->err_len, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if (strcmp(canon, "/") == 0) {
		sfs_set_err(c->err, c->err_len, "refusing to wipe /");
		return -EPERM;
	}
	e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	rc = mi_find(match_mnt, canon, e);
	if (rc < 0) {
		sfs_set_err(c->err, c->err_len, SFS_MOUNTINFO ": %s",
			    strerror(-rc));
		free(e);
		return rc;
	}
	if (rc == 1) {
		/* A scratchfs mount point: its source is the backing. */
		snprintf(r->mountpoint, sizeof(r->mountpoint), "%s", canon);
		snprintf(r->backing, sizeof(r->backing), "%s", e->source);
		if (e->source[0] != '/' || lstat(e->source, &st) != 0 ||
		    !S_ISDIR(st.st_mode) || strcmp(e->source, "/") == 0) {
			sfs_set_err(c->err, c->err_len,
				    "%s is mounted from \"%s\", which is not a "
				    "backing directory; refusing",
				    canon, e->source);
			free(e);
			return -EMEDIUMTYPE;
		}
		/* A user's FUSE mount can claim any source: only trust one
		 * made by root or by the backing directory's owner. */
		if (e->user_id > 0 && (uid_t)e->user_id != st.st_uid) {
			sfs_set_err(c->err, c->err_len,
				    "%s (mounted by uid %ld) claims backing %s "
				    "owned by uid %u; refusing",
				    canon, e->user_id, e->source,
				    (unsigned int)st.st_uid);
			free(e);
			return -EPERM;
		}
		/* Mount sources are canonical already (the daemon uses
		 * realpath); canonicalise anyway, and re-check. */
		if (!realpath(e->source, canon) || strcmp(canon, "/") == 0) {
			sfs_set_err(c->err, c->err_len,
				    "%s: bad backing directory %s",
				    r->mountpoint, e->source);
			free(e);
			return -EMEDIUMTYPE;
		}
		snprintf(r->backing, sizeof(r->backing), "%s", canon);
	} else {
		if (stale) {
			sfs_set_err(c->err, c->err_len,
				    "%s: transport endpoint is not connected, "
				    "but it is not a scratchfs mount; refusing",
				    path);
			free(e);
			return -ENOTCONN;
		}
		snprintf(r->backing, sizeof(r->backing), "%s", canon);
	}
	free(e);
	c->bfd =
	    open(r->backing, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c->bfd < 0) {
		rc = -errno;
		sfs_set_err(c->err, c->err_len, "%s: %s", r->backing,
			    strerror(-rc));
		return rc;
	}
	{
		struct statx sx;

		if (statx(c->bfd, "", AT_EMPTY_PATH,
			  STATX_BASIC_STATS | STATX_MNT_ID, &sx) != 0) {
			rc = -errno;
			sfs_set_err(c->err, c->err_len, "%s: %s", r->backing,
				    strerror(-rc));
			return rc;
		}
		c->dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
		c->have_mnt_id = sx.stx_mask & STATX_MNT_ID;
		c->mnt_id = sx.stx_mnt_id;
	}
	return 0;
}

static void fill_header(struct sfs_wipe_report *r,
			const struct sfs_volume_header *h)
{
	r->header_found = true;
	r->mode = h->mode;
	r->key_source = h->key_source;
	sfs_hex(r->volume_id, h->uuid, SFS_VOLUME_UUID_BYTES);
}

/* The volume id from an interrupted wipe's marker, if there is one. */
static void id_from_marker(struct ctx *c)
{
	char buf[256], *p;
	ssize_t n;
	int fd;

	if (c->metafd < 0 || c->r->volume_id[0])
		return;
	fd = openat(c->metafd, MARKER_FILE,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	p = strstr(buf, "\"volume_id\":\"");
	if (!p)
		return;
	p += 13;
	for (size_t i = 0; i < 2 * SFS_VOLUME_UUID_BYTES; i++)
		if (!isxdigit((unsigned char)p[i]))
			return;
	memcpy(c->r->volume_id, p, 2 * SFS_VOLUME_UUID_BYTES);
	c->r->volume_id[2 * SFS_VOLUME_UUID_BYTES] = '\0';
}

static void choose_method(struct ctx *c, enum kind kind)
{
	struct sfs_wipe_report *r = c->r;
	bool encrypted = r->header_found && r->mode == SFS_MODE_ENCRYPTED;

	/* Overwriting ciphertext whose key is destroyed adds nothing. */
	c->passes = encrypted ? 0 : c->o->passes;
	r->passes = c->passes;
	if (kind == K_WIPED || kind == K_EMPTY)
		r->method = SFS_WIPE_NOOP;
	else if (encrypted)
		r->method = SFS_WIPE_CRYPTO_ERASE;
	else if (c->passes)
		r->method = SFS_WIPE_OVERWRITE_DELETE;
	else
		r->method = SFS_WIPE_DELETE;
}

static void discard(struct ctx *c)
{
	struct sfs_wipe_report *r = c->r;
	struct fstrim_range range = {.start = 0, .len = UINT64_MAX};
	double t0 = now_ms();

	if (!c->o->discard)
		return;
	if (r->method == SFS_WIPE_CRYPTO_ERASE) {
		snprintf(r->discard_note, sizeof(r->discard_note),
			 "not needed: crypto-erase");
		return;
	}
	/* FITRIM covers the whole backing filesystem, not only this
	 * volume's freed blocks. */
	if (ioctl(c->bfd, FITRIM, &range) == 0) {
		r->discarded = true;
	} else {
		int e = errno;

		snprintf(r->discard_note, sizeof(r->discard_note),
			 "FITRIM failed: %s",
			 e == EPERM ? "needs CAP_SYS_ADMIN"
			 : e == ENOTTY || e == EOPNOTSUPP
			     ? "not supported by the backing filesystem"
			     : strerror(e));
	}
	r->discard_ms = now_ms() - t0;
}

/* Writes the wipe record (and key_destroy); 0 or -errno. */
static int write_audit(struct ctx *c)
{
	char *line;
	json_t *rec;
	int rc;

	if (!c->o->audit)
		return 0;
	line = sfs_wipe_report_json(c->r);
	if (!line)
		return -ENOMEM;
	rec = json_loads(line, 0, NULL);
	free(line);
	if (!rec)
		return -ENOMEM;
	rc = sfs_audit_write_record(c->o->audit, rec);
	json_decref(rec);
	if (c->r->keyslot_destroyed || c->r->ephemeral_key_destroyed) {
		json_t *f = json_object();

		json_object_set_new(f, "volume_id",
				    json_string(c->r->volume_id));
		json_object_set_new(
		    f, "key",
		    json_string(c->r->keyslot_destroyed
				    ? "wrapped volume key: keyslot "
				      "overwritten, fsynced, unlinked"
				    : "ephemeral volume key: the daemon that "
				      "held it has exited"));
		if (rc == 0)
			rc = sfs_audit_write(c->o->audit, "key_destroy", f);
		else
			json_decref(f);
	}
	return rc;
}

static int map_refusal(struct ctx *c)
{
	sfs_set_err(c->err, c->err_len,
		    "%s is not a scratchfs volume (%s); refusing to touch it",
		    c->r->backing, c->why ? c->why : "no header");
	return -EMEDIUMTYPE;
}

int sfs_wipe_volume(const char *path, const struct sfs_wipe_opts *o,
		    struct sfs_wipe_report *r, char *err, size_t err_len)
{
	static const struct sfs_wipe_opts defaults;
	struct ctx c = {.o = o ? o : &defaults,
			.r = r,
			.err = err,
			.err_len = err_len,
			.bfd = -1,
			.metafd = -1};
	struct sfs_volume_header h;
	double t0 = now_ms(), t;
	enum kind kind = K_FOREIGN;
	struct stat bst;
	int rc;

	memset(r, 0, sizeof(*r));
	sfs_audit_timestamp(r->started, sizeof(r->started));
	sfs_set_err(err, err_len, "unknown error");
	if (c.o->passes > SFS_WIPE_MAX_PASSES) {
		sfs_set_err(err, err_len, "passes: %u is out of range (0..%u)",
			    c.o->passes, SFS_WIPE_MAX_PASSES);
		rc = -EINVAL;
		goto refused;
	}
	rc = resolve(&c, path);
	if (rc)
		goto refused;
	sfs_wipe_media(r);
	rc = classify(&c, &h, &kind);
	if (rc)
		goto failed;
	if (kind == K_FOREIGN) {
		rc = map_refusal(&c);
		goto refused;
	}
	if (kind == K_VOLUME)
		fill_header(r, &h);
	id_from_marker(&c);
	r->half_wiped = kind == K_HALF;
	if (r->half_wiped)
		snprintf(r->note, sizeof(r->note),
			 "half-wiped: finishing an interrupted wipe or "
			 "volume creation");
	choose_method(&c, kind);
	if (fstat(c.bfd, &bst) != 0) {
		rc = -errno;
		goto failed;
	}
	r->resolve_ms = now_ms() - t0;

	/* 1. Unmount; find the daemons first, to know when their keys are
	 * gone. */
	t = now_ms();
	find_daemons(&c, &bst);
	rc = unmount_all(&c);
	r->unmount_ms = now_ms() - t;
	if (rc)
		goto failed;
	if (kind == K_WIPED || kind == K_EMPTY) {
		/* Nothing was mounted either: a true no-op. */
		if (!r->was_mounted && c.ndaemons == 0) {
			r->already_wiped = true;
			snprintf(r->note, sizeof(r->note), "%s",
				 kind == K_WIPED
				     ? "already wiped: only an empty "
				       ".scratchfs/ is left"
				     : "empty directory: nothing to wipe");
			goto verify;
		}
		r->method = SFS_WIPE_DELETE;
	}

	/* 2. Erase: before any data file is touched. */
	t = now_ms();
	rc = stop_daemons(&c);
	if (rc == 0 && r->header_found && r->mode == SFS_MODE_ENCRYPTED &&
	    r->key_source == SFS_KEY_EPHEMERAL)
		r->ephemeral_key_destroyed = true;
	if (rc == 0)
		rc = erase_keys(&c);
	r->erase_ms = now_ms() - t;
	if (rc)
		goto failed;

	/* 3. Delete (and overwrite). */
	t = now_ms();
	if (c.passes && c.o->progress)
		c.total_bytes =
		    count_bytes(c.bfd, c.dev, 0) * (uint64_t)c.passes;
	rc = delete_tree(&c);
	if (rc == 0 && c.first_err == 0) {
		/* Last: the marker, leaving an empty .scratchfs/. */
		if (unlinkat(c.metafd, MARKER_FILE, 0) != 0 && errno != ENOENT)
			rc = -errno;
		if (rc == 0)
			rc = sfs_fsync_dir(c.metafd);
		if (rc == 0)
			rc = sfs_fsync_dir(c.bfd);
		if (rc)
			sfs_set_err(err, err_len, "%s: %s", r->backing,
				    strerror(-rc));
	}
	r->delete_ms = now_ms() - t - r->overwrite_ms;
	if (rc)
		goto failed;

	/* 4. Discard, where asked and allowed. */
	discard(&c);

verify:
	t = now_ms();
	verify(&c);
	r->verify_ms = now_ms() - t;
	if (c.first_err) {
		rc = c.first_err;
		goto failed;
	}
	if (!r->verified) {
		sfs_set_err(err, err_len, "%s: verification failed:%s%s%s",
			    r->backing,
			    r->verify_not_mounted ? "" : " still mounted;",
			    r->verify_no_key ? "" : " key material left;",
			    r->verify_no_files ? "" : " files left;");
		rc = -EIO;
		goto failed;
	}
	r->total_ms = now_ms() - t0;
	sfs_audit_timestamp(r->time, sizeof(r->time));
	if (err && err_len)
		err[0] = '\0';
	rc = write_audit(&c);
	if (rc) {
		/* The record is part of the job: say so, fail. */
		sfs_set_err(
		    err, err_len,
		    "%s: wiped and verified, but the audit record could "
		    "not be written: %s",
		    r->backing, strerror(-rc));
		snprintf(r->error, sizeof(r->error), "%s", err);
	}
	goto out;

failed:
	/* Got past refusal: there is something to record. */
	if (!r->verify_ms) {
		verify(&c);
		r->verified = false;
	}
	r->total_ms = now_ms() - t0;
	snprintf(r->error, sizeof(r->error), "%s", err ? err : "failed");
	sfs_audit_timestamp(r->time, sizeof(r->time));
	write_audit(&c);
	goto out;
refused:
	r->refused = true;
	r->total_ms = now_ms() - t0;
	snprintf(r->error, sizeof(r->error), "%s", err ? err : "refused");
	sfs_audit_timestamp(r->time, sizeof(r->time));
out:
	if (c.metafd >= 0)
		close(c.metafd);
	if (c.bfd >= 0)
		close(c.bfd);
	free(c.left);
	return rc;
}

/*
 * The record
 */

static const char *daemon_fate(const struct sfs_wipe_report *r)
{
	switch (r->daemon) {
	case SFS_WIPE_DAEMON_EXITED:
		return "exited after unmount";
	case SFS_WIPE_DAEMON_TERMINATED:
		return "did not exit after unmount: stopped with SIGTERM";
	case SFS_WIPE_DAEMON_KILLED:
		return "did not stop: killed with SIGKILL";
	case SFS_WIPE_DAEMON_RUNNING:
		return "still running";
	case SFS_WIPE_DAEMON_NONE:
		break;
	}
	return "none running";
}

static const char *key_text(const struct sfs_wipe_report *r)
{
	if (r->already_wiped)
		return "none left";
	if (!r->header_found)
		return r->header_destroyed ? "unreadable header overwritten, "
					     "fsynced and unlinked"
					   : "no header found";
	if (r->mode == SFS_MODE_PLAIN)
		return "none (plain volume): header overwritten and unlinked";
	if (r->key_source == SFS_KEY_EPHEMERAL)
		return !r->ephemeral_key_destroyed ? "ephemeral: not destroyed"
		       : r->daemon != SFS_WIPE_DAEMON_NONE
			   ? "ephemeral: existed only in the daemon's memory; "
			     "the daemon has exited"
		       : r->was_mounted && !r->stale
			   ? "ephemeral: existed only in the daemon's memory; "
			     "no daemon was visible to this wipe (another "
			     "user's?), the unmount ends it"
			   : "ephemeral: existed only in the memory of a "
			     "daemon that had already exited";
	return r->keyslot_destroyed ? "keyslot (wrapped volume key) "
				      "overwritten with random bytes then "
				      "zeros, fsynced, unlinked"
				    : "keyslot: not destroyed";
}

static const char *node_key_text(const struct sfs_wipe_report *r)
{
	if (!r->header_found || r->mode != SFS_MODE_ENCRYPTED ||
	    r->key_source == SFS_KEY_EPHEMERAL)
		return "not used";
	return "kept: the node key is shared by other volumes and is not "
	       "this volume's to destroy; without the keyslot it opens "
	       "nothing here";
}

/* Milliseconds rounded to whole microseconds, for readable records. */
static double us(double ms)
{
	return ms <= 0 ? 0.0 : (double)(long long)(ms * 1000.0 + 0.5) / 1000.0;
}

char *sfs_wipe_report_json(const struct sfs_wipe_report *r)
{
	json_t *rec =
	    sfs_audit_record(NULL, "wipe", r->time[0] ? r->time : NULL);
	json_t *holders = json_array(), *destroyed, *ver, *main, *times;
	char *out = NULL;
	int rc = 0;

	if (!rec || !holders)
		goto out;
	for (int i = 0; i < r->n_holders; i++)
		rc |= json_array_append_new(
		    holders,
		    json_pack("{s:i,s:o}", "pid", r->holders[i].pid, "comm",
			      sfs_audit_string(r->holders[i].comm)));
	destroyed = json_pack(
	    "{s:s,s:s,s:s,s:b,s:I,s:I,s:I,s:I,s:i,s:I,s:I,s:b,s:o}", "key",
	    key_text(r), "node_key", node_key_text(r), "keyring",
	    "not used: scratchfs keeps no per-volume keyring entries", "header",
	    r->header_destroyed, "files", (json_int_t)r->files_deleted, "dirs",
	    (json_int_t)r->dirs_deleted, "bytes", (json_int_t)r->bytes_deleted,
	    "bytes_overwritten", (json_int_t)r->bytes_overwritten, "passes",
	    (int)r->passes, "mounts_detached", (json_int_t)r->mounts_detached,
	    "mounts_skipped", (json_int_t)r->mounts_skipped, "discarded",
	    r->discarded, "discard_note", sfs_audit_string(r->discard_note));
	ver = json_pack("{s:b,s:b,s:b}", "not_mounted", r->verify_not_mounted,
			"no_key_material", r->verify_no_key, "no_files",
			r->verify_no_files);
	/* "o" steals holders, destroyed and ver, also when it fails. */
	main = json_pack(
	    "{s:s,s:o,s:o,s:s,s:s,s:s,s:b,s:b,s:b,s:b,s:b,s:b,s:O,s:s,"
	    "s:o*,s:b,s:o*}",
	    "volume_id", r->volume_id, "backing", sfs_audit_string(r->backing),
	    "mountpoint", sfs_audit_string(r->mountpoint), "mode",
	    !r->header_found		    ? "unknown"
	    : r->mode == SFS_MODE_ENCRYPTED ? "encrypted"
					    : "plain",
	    "key_source",
	    r->header_found ? sfs_key_source_name(r->key_source) : "unknown",
	    "method", sfs_wipe_method_name(r->method), "refused", r->refused,
	    "already_wiped", r->already_wiped, "half_wiped", r->half_wiped,
	    "was_mounted", r->was_mounted, "stale", r->stale, "lazy",
	    r->lazy_detached, "holders", holders, "daemon", daemon_fate(r),
	    "destroyed", destroyed, "verified", r->verified, "verification",
	    ver);
	times = json_pack(
	    "{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:o,s:o}", "resolve_ms",
	    us(r->resolve_ms), "unmount_ms", us(r->unmount_ms), "erase_ms",
	    us(r->erase_ms), "overwrite_ms", us(r->overwrite_ms), "delete_ms",
	    us(r->delete_ms), "discard_ms", us(r->discard_ms), "verify_ms",
	    us(r->verify_ms), "total_ms", us(r->total_ms), "note",
	    sfs_audit_string(r->note), "error", sfs_audit_string(r->error));
	if (!destroyed || !ver || !main || !times)
		rc = -1;
	rc |= json_object_update_new(rec, main);
	rc |= json_object_update_new(rec, times);
	rc |= json_object_set_new(rec, "sanitization",
				  sfs_wipe_sanitization(r, key_text(r),
							node_key_text(r),
							daemon_fate(r)));
	if (rc == 0)
		out = json_dumps(rec, JSON_COMPACT | JSON_REAL_PRECISION(12));
out:
	json_decref(holders);
	json_decref(rec);
	return out;
}
