/* unmount.c - the wipe engine's mounts, daemons and holders: found in
 * /proc/self/mountinfo and /proc/<pid>, unmounted and stopped. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sfs_log.h"
#include "sfs_mountinfo.h"
#include "sfs_sys.h"
#include "sfs_wipe.h"
#include "wipe_int.h"

/*
 * /proc/self/mountinfo
 */

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
int wipe_mi_find(bool (*match)(const struct mi_entry *, const void *),
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

bool wipe_match_mnt(const struct mi_entry *e, const void *mnt)
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
	rc = wipe_mi_find(match, arg, e);
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
	return mi_find_str(wipe_match_mnt, mountpoint,
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
bool wipe_daemon_alive(const struct daemon *d)
{
	return kill(d->pid, 0) == 0 && d->start != 0 &&
	       proc_start_time(d->pid) == d->start;
}

/* The daemons serving the backing directory: processes holding both an fd
 * on the backing directory itself (the daemon's root inode) and /dev/fuse.
 * Found before unmounting, so that we can tell when the key is gone. */
void wipe_find_daemons(struct ctx *c, const struct stat *bst)
{
	DIR *proc = opendir("/proc");
	int pid;

	c->ndaemons = 0;
	if (!proc)
		return;
	while (c->ndaemons < MAX_DAEMONS && (pid = next_pid(proc))) {
		char path[300], link[PATH_MAX];
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

			/* Only an fd whose path is the backing directory is
			 * stat'ed: one on a FUSE mount could wait for a
			 * stopped daemon for good. */
			n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			if (strcmp(link, "/dev/fuse") == 0) {
				has_fuse = true;
				continue;
			}
			if (strcmp(link, c->r->backing) == 0 &&
			    stat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
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

static bool any_daemon_alive(const struct ctx *c)
{
	for (int i = 0; i < c->ndaemons; i++)
		if (wipe_daemon_alive(&c->daemons[i]))
			return true;
	return false;
}

/* Waits up to ms for every recorded daemon to be gone. */
static bool daemons_gone(struct ctx *c, int ms)
{
	double until = wipe_now_ms() + ms;

	for (;;) {
		if (!any_daemon_alive(c))
			return true;
		if (wipe_now_ms() >= until)
			return false;
		sleep_ms(5);
	}
}

static void signal_daemons(struct ctx *c, int sig)
{
	for (int i = 0; i < c->ndaemons; i++)
		if (wipe_daemon_alive(&c->daemons[i]))
			kill(c->daemons[i].pid, sig);
}

/* Makes sure the daemons that served the volume have exited: after an
 * unmount they exit by themselves (wiping their keys); one that does not
 * (a lazily detached mount still in use, a bind mount in another mount
 * namespace) is told to stop, then killed. */
int wipe_stop_daemons(struct ctx *c)
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
	/* A stopped daemon (SIGSTOP) acts on SIGTERM only once continued. */
	signal_daemons(c, SIGTERM);
	signal_daemons(c, SIGCONT);
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

/* In a child of sfs_call_bounded: statfs is never answered from the
 * kernel's cache, so it reaches the daemon. Returns its errno (0). */
static ssize_t statfs_child(const void *mnt, void *out, size_t cap)
{
	struct statfs sf;
	int e = statfs(mnt, &sf) == 0 ? 0 : errno;

	if (cap < sizeof(e))
		return -1;
	memcpy(out, &e, sizeof(e));
	return sizeof(e);
}

/* Whether the daemon of the mount at mnt answers within PROBE_MS: 0 (also
 * when it answers with an error), -ETIMEDOUT when it is stopped or stuck,
 * or the errno that says it is dead (sfs_errno_dead_fuse). */
static int probe_mount(const char *mnt)
{
	int e = 0;
	ssize_t n =
	    sfs_call_bounded(statfs_child, mnt, &e, sizeof(e), PROBE_MS);

	if (n == -ETIMEDOUT)
		return -ETIMEDOUT;
	return n == sizeof(e) && sfs_errno_dead_fuse(e) ? -e : 0;
}

static void note_unresponsive(struct ctx *c, const char *mnt)
{
	struct sfs_wipe_report *r = c->r;
	size_t len = strlen(r->note);

	snprintf(r->note + len, sizeof(r->note) - len,
		 "%sthe daemon of %s did not answer within %d s (stopped or "
		 "stuck): detached and stopped",
		 len ? "; " : "", mnt, PROBE_MS / 1000);
}

/* Unmounts every fuse.scratchfs mount of the backing directory. Every
 * mount's daemon is asked first, with a time limit: a call on the mount of
 * a stopped or stuck daemon would never return. */
int wipe_unmount_all(struct ctx *c)
{
	struct sfs_wipe_report *r = c->r;
	struct mi_entry *e = malloc(sizeof(*e));
	int rc = 0;

	if (!e)
		return -ENOMEM;
	for (int i = 0; i < MAX_MOUNTS; i++) {
		int probe;

		rc = wipe_mi_find(match_source, r->backing, e);
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
		probe = probe_mount(e->mnt);
		/* No answer and no daemon alive: a dead one, its requests
		 * caught in the teardown of its queues. */
		if (probe == -ETIMEDOUT && !any_daemon_alive(c))
			probe = -ENOTCONN;
		if (probe == -ETIMEDOUT) {
			/* Nothing can be flushed through a daemon that does
			 * not answer, and a plain umount could wait for it:
			 * detach, and have it stopped. */
			note_unresponsive(c, e->mnt);
			r->lazy_detached = true;
			rc = do_umount(e->mnt, true);
		} else if (probe) {
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
	if (rc == 0 && wipe_mi_find(match_source, r->backing, e) > 0) {
		sfs_set_err(c->err, c->err_len, "%s is still mounted at %s",
			    r->backing, e->mnt);
		rc = -EBUSY;
	}
	free(e);
	return rc;
}
