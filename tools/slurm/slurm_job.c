/* slurm_job.c - a Slurm job's scratch volume on one node: created at job
 * start with the real scratchfs daemon (sfs_plugin_mount_start), checked
 * in each task, wiped at job end and by the sweep at slurmd start with the
 * wipe engine (sfs_plugin_backing_wipe -> sfs_wipe_volume). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sfs_audit.h"
#include "sfs_config.h"
#include "sfs_crypto.h"
#include "sfs_log.h"
#include "sfs_plugin_base.h"
#include "sfs_wipe.h"
#include "slurm_job.h"

#define PROG "spank_scratchfs"

struct job_paths {
	char backing[PATH_MAX];
	char mnt[PATH_MAX];
	char lock[PATH_MAX];
	char error[PATH_MAX];
};

/* The scratchfs config (audit sink, wipe passes) of one operation. */
struct ctx {
	struct sfs_config cfg;
	struct sfs_audit *audit;
};

static int job_paths(const struct sfs_slurm_cfg *c, uint32_t id,
		     struct job_paths *p)
{
	if ((size_t)snprintf(p->backing, sizeof(p->backing), "%s/job-%u",
			     c->backing_root, id) >= sizeof(p->backing) ||
	    (size_t)snprintf(p->mnt, sizeof(p->mnt), "%s/job-%u", c->mount_root,
			     id) >= sizeof(p->mnt) ||
	    (size_t)snprintf(p->lock, sizeof(p->lock), "%s.lock", p->backing) >=
		sizeof(p->lock) ||
	    (size_t)snprintf(p->error, sizeof(p->error), "%s.error", p->mnt) >=
		sizeof(p->error))
		return -ENAMETOOLONG;
	return 0;
}

int sfs_slurm_scratch_dir(const struct sfs_slurm_cfg *c, uint32_t id, char *out,
			  size_t len)
{
	if ((size_t)snprintf(out, len, "%s/job-%u", c->mount_root, id) >= len)
		return -ENAMETOOLONG;
	return 0;
}

static int open_ctx(const struct sfs_slurm_cfg *c, struct ctx *x, char *err,
		    size_t err_len)
{
	char why[512];
	int rc;

	x->audit = NULL;
	if (sfs_crypto_init() < 0)
		return sfs_err_rc(-EIO, err, err_len,
				  "libsodium initialisation failed");
	sfs_config_defaults(&x->cfg);
	if (c->conf[0]) {
		rc = sfs_config_load(&x->cfg, c->conf, why, sizeof(why));
		if (rc)
			return sfs_err_rc(rc, err, err_len, "%s", why);
	}
	rc = sfs_audit_open(&x->audit, x->cfg.audit.file, x->cfg.audit.syslog,
			    PROG, why, sizeof(why));
	if (rc)
		return sfs_err_rc(rc, err, err_len, "%s", why);
	return 0;
}

/* A root the plugin owns: made when missing (parents 0755), a directory
 * of root's (not a symlink) that nobody else may write; the mount root
 * must also let users through to their own job's directory. */
static int prepare_root(const char *root, mode_t mode, char *err,
			size_t err_len)
{
	struct stat st;
	int rc = sfs_plugin_mkdir_parents(root, err, err_len);

	if (rc)
		return rc;
	if (mkdir(root, mode) == 0 && chmod(root, mode) < 0)
		return sfs_err_rc(-errno, err, err_len, "chmod %s: %s", root,
				  strerror(errno));
	if (lstat(root, &st) < 0)
		return sfs_err_rc(-errno, err, err_len, "%s: %s", root,
				  strerror(errno));
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 022))
		return sfs_err_rc(-EPERM, err, err_len,
				  "%s is not a directory owned by uid %u that "
				  "only its owner can write; refusing to use "
				  "it",
				  root, (unsigned int)geteuid());
	if ((mode & 001) && !(st.st_mode & 001))
		return sfs_err_rc(-EPERM, err, err_len,
				  "%s: users cannot reach their scratch below "
				  "it (it needs mode 0711)",
				  root);
	return 0;
}

static int prepare_roots(const struct sfs_slurm_cfg *c, char *err,
			 size_t err_len)
{
	int rc = prepare_root(c->backing_root, 0700, err, err_len);

	return rc ? rc : prepare_root(c->mount_root, 0711, err, err_len);
}

/* Locks job-<id>.lock; -EWOULDBLOCK when !wait and someone holds it. A
 * lock file removed by its holder while we waited is taken anew. */
static int lock_job(const char *path, bool wait, char *err, size_t err_len)
{
	for (;;) {
		struct stat a, b;
		int fd =
		    open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

		if (fd < 0)
			return sfs_err_rc(-errno, err, err_len, "%s: %s", path,
					  strerror(errno));
		if (flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) < 0) {
			int e = errno;

			close(fd);
			return sfs_err_rc(-e, err, err_len, "lock %s: %s", path,
					  strerror(e));
		}
		if (fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
		    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			return fd;
		close(fd);
	}
}

static void unlock_job(int fd, const char *path)
{
	unlink(path);
	close(fd);
}

/* The audit fields naming the job (job id, user, node). */
static json_t *job_fields(const struct sfs_slurm_job *job)
{
	return json_pack(
	    "{s:s, s:I, s:o, s:I, s:o, s:o}", "scheduler", "slurm", "job_id",
	    (json_int_t)job->id, "user", sfs_audit_string(job->user), "uid",
	    (json_int_t)job->uid, "node", sfs_audit_string(job->node),
	    "partition", sfs_audit_string(job->partition));
}

/* Wipes whatever the job has on this node (volume, mount point, error
 * note): 1 when a volume was wiped (its audit record carries fields), 0
 * when there was none. */
static int wipe_job(struct ctx *x, const struct job_paths *p,
		    const json_t *fields, char *err, size_t err_len)
{
	struct sfs_plugin_paths pp;
	struct sfs_plugin_wipe_cfg w = {
	    .passes = x->cfg.wipe.passes,
	    .discard = x->cfg.wipe.discard,
	    .audit = x->audit,
	    .audit_fields = fields,
	};
	int wiped;

	memset(&pp, 0, sizeof(pp));
	snprintf(pp.backing, sizeof(pp.backing), "%s", p->backing);
	snprintf(pp.mnt, sizeof(pp.mnt), "%s", p->mnt);
	wiped = sfs_plugin_backing_wipe(&pp, &w, err, err_len);
	if (wiped < 0)
		return wiped;
	/* What is left on the mount point: the read-only seal
	 * (seal_mount_point), or a mount whose backing directory is gone,
	 * which cannot be ours to wipe. */
	for (int i = 0; i < 8; i++) {
		if (umount2(p->mnt, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
			continue;
		if (errno == EINVAL || errno == ENOENT)
			break; /* not a mount point (any more) */
		return sfs_err_rc(-errno, err, err_len, "umount -l %s: %s",
				  p->mnt, strerror(errno));
	}
	if (rmdir(p->mnt) < 0 && errno != ENOENT)
		return sfs_err_rc(-errno, err, err_len, "rmdir %s: %s", p->mnt,
				  strerror(errno));
	if (unlink(p->error) < 0 && errno != ENOENT)
		return sfs_err_rc(-errno, err, err_len, "unlink %s: %s",
				  p->error, strerror(errno));
	return wiped;
}

/* Through the mount: the job's user owns the root and tmp/, 0700. */
static int give_to_user(const struct job_paths *p,
			const struct sfs_slurm_job *job, char *err,
			size_t err_len)
{
	char tmp[PATH_MAX + 8];

	snprintf(tmp, sizeof(tmp), "%s/tmp", p->mnt);
	if (chown(p->mnt, job->uid, job->gid) < 0 || chmod(p->mnt, 0700) < 0 ||
	    (mkdir(tmp, 0700) < 0 && errno != EEXIST) ||
	    chown(tmp, job->uid, job->gid) < 0)
		return sfs_err_rc(-errno, err, err_len,
				  "giving %s to uid %u: %s", p->mnt,
				  (unsigned int)job->uid, strerror(errno));
	return 0;
}

/* A job process that outlives the job (its slurmstepd was killed, so
 * nothing killed it) would write, after the wipe detached the volume, into
 * the directory under the mount point: plaintext on the node's disk. A
 * read-only bind mount of that directory onto itself, under the volume,
 * makes such writes fail (EROFS, also for root) until wipe_job detaches it
 * and removes the directory. */
static int seal_mount_point(const char *mnt, char *err, size_t err_len)
{
	if (mount(mnt, mnt, NULL, MS_BIND, NULL) < 0)
		return sfs_err_rc(-errno, err, err_len, "bind mount %s: %s",
				  mnt, strerror(errno));
	if (mount(NULL, mnt, NULL,
		  MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV |
		      MS_NOEXEC,
		  NULL) < 0) {
		int e = errno;

		umount2(mnt, MNT_DETACH | UMOUNT_NOFOLLOW);
		return sfs_err_rc(-e, err, err_len,
				  "read-only bind mount %s: %s", mnt,
				  strerror(e));
	}
	return 0;
}

static int mount_job(const struct sfs_slurm_cfg *c,
		     const struct sfs_slurm_job *job, const struct job_paths *p,
		     char *err, size_t err_len)
{
	char options[96];
	bool hbi;
	int rc;

	rc = sfs_slurm_job_hbi(c, job, &hbi, err, err_len);
	if (rc)
		return rc;
	rc = sfs_plugin_mkdir(p->backing, err, err_len);
	if (!rc)
		rc = sfs_plugin_mkdir(p->mnt, err, err_len);
	if (!rc)
		rc = seal_mount_point(p->mnt, err, err_len);
	if (rc)
		return rc;
	if (hbi)
		snprintf(options, sizeof(options), "hbi=1,key=%s,allow_other",
			 sfs_key_source_name(c->key));
	else
		snprintf(options, sizeof(options), "hbi=0,allow_other");
	rc = sfs_plugin_mount_start(c->scratchfs, c->conf[0] ? c->conf : NULL,
				    options, p->backing, p->mnt,
				    c->mount_timeout_s, err, err_len);
	return rc ? rc : give_to_user(p, job, err, err_len);
}

/* Keeps msg for the job's tasks (they print it and fail). */
static void write_error(const struct job_paths *p, const char *msg)
{
	int fd =
	    open(p->error,
		 O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return;
	if (write(fd, msg, strlen(msg)) < 0)
		sfs_log(LOG_ERR, "%s: %s", p->error, strerror(errno));
	close(fd);
}

int sfs_slurm_job_start(const struct sfs_slurm_cfg *c,
			const struct sfs_slurm_job *job, char *err,
			size_t err_len)
{
	struct job_paths p;
	struct ctx x = {.audit = NULL};
	char why[1024], cleanup[512];
	json_t *fields = job_fields(job);
	int rc, fd = -1;

	if (!fields)
		return sfs_err_rc(-ENOMEM, err, err_len, "out of memory");
	rc = job_paths(c, job->id, &p);
	if (rc) {
		json_decref(fields);
		return sfs_err_rc(rc, err, err_len, "job %u: path too long",
				  job->id);
	}
	rc = open_ctx(c, &x, why, sizeof(why));
	if (!rc)
		rc = prepare_roots(c, why, sizeof(why));
	if (!rc)
		rc = fd = lock_job(p.lock, true, why, sizeof(why));
	if (rc >= 0) {
		unlink(p.error);
		/* A leftover of this job id (a requeued job whose node
		 * crashed) goes before anything new is made. */
		rc = wipe_job(&x, &p, fields, why, sizeof(why));
		if (rc >= 0)
			rc = mount_job(c, job, &p, why, sizeof(why));
	}
	if (rc < 0) {
		sfs_set_err(err, err_len,
			    "scratchfs: job %u gets no scratch on node %s: %s",
			    job->id, job->node[0] ? job->node : "?", why);
		if (fd >= 0 &&
		    wipe_job(&x, &p, fields, cleanup, sizeof(cleanup)) < 0)
			sfs_log(LOG_ERR, "job %u: cleaning up: %s", job->id,
				cleanup);
		write_error(&p, err);
	}
	if (fd >= 0)
		close(fd); /* the lock file stays until job end */
	sfs_audit_close(x.audit);
	json_decref(fields);
	return rc < 0 ? rc : 0;
}

int sfs_slurm_job_check(const struct sfs_slurm_cfg *c, uint32_t id, uid_t uid,
			char *err, size_t err_len)
{
	char backing[PATH_MAX];
	struct job_paths p;
	struct stat st;
	ssize_t n;
	int fd, rc;

	if (job_paths(c, id, &p))
		return sfs_err_rc(-ENAMETOOLONG, err, err_len,
				  "job %u: path too long", id);
	fd = open(p.error, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, err, err_len > 0 ? err_len - 1 : 0);
		close(fd);
		if (n > 0 && err_len > 0) {
			err[n] = '\0';
			return -EIO;
		}
	}
	rc = sfs_wipe_find_backing(p.mnt, backing, sizeof(backing));
	if (rc != 1 || strcmp(backing, p.backing))
		return sfs_err_rc(-ENOENT, err, err_len,
				  "scratchfs: no scratch volume is mounted for "
				  "job %u at %s (did the job's prolog run? see "
				  "slurmd's log)",
				  id, p.mnt);
	if (sfs_plugin_mount_state(p.mnt) != SFS_PLUGIN_MOUNTED)
		return sfs_err_rc(-ENOTCONN, err, err_len,
				  "scratchfs: the scratch volume of job %u at "
				  "%s has lost its daemon",
				  id, p.mnt);
	if (stat(p.mnt, &st) < 0 || st.st_uid != uid)
		return sfs_err_rc(-EPERM, err, err_len,
				  "scratchfs: %s is not owned by the job's "
				  "uid %u",
				  p.mnt, (unsigned int)uid);
	return 0;
}

int sfs_slurm_private_tmp(const struct sfs_slurm_cfg *c, uint32_t id, char *err,
			  size_t err_len)
{
	char tmp[PATH_MAX];

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/job-%u/tmp", c->mount_root,
			     id) >= sizeof(tmp))
		return sfs_err_rc(-ENAMETOOLONG, err, err_len,
				  "job %u: path too long", id);
	if (unshare(CLONE_NEWNS) < 0)
		return sfs_err_rc(-errno, err, err_len,
				  "scratchfs: private /tmp: unshare: %s",
				  strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0 ||
	    mount(tmp, "/tmp", NULL, MS_BIND, NULL) < 0)
		return sfs_err_rc(-errno, err, err_len,
				  "scratchfs: private /tmp from %s: %s", tmp,
				  strerror(errno));
	return 0;
}

/* Writes the job's one record when it had no volume to wipe. */
static int audit_no_volume(struct ctx *x, json_t *fields, const char *why)
{
	json_t *f = json_deep_copy(fields);

	if (!f)
		return -ENOMEM;
	json_object_set_new(f, "wiped", json_false());
	json_object_set_new(f, "note", json_string(why));
	return sfs_audit_write(x->audit, "slurm_scratch", f);
}

int sfs_slurm_job_end(const struct sfs_slurm_cfg *c,
		      const struct sfs_slurm_job *job, char *err,
		      size_t err_len)
{
	struct job_paths p;
	struct ctx x = {.audit = NULL};
	char why[1024];
	json_t *fields = job_fields(job);
	int rc, fd = -1;

	if (!fields)
		return sfs_err_rc(-ENOMEM, err, err_len, "out of memory");
	rc = job_paths(c, job->id, &p);
	if (!rc)
		rc = open_ctx(c, &x, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "path too long");
	if (!rc)
		rc = fd = lock_job(p.lock, true, why, sizeof(why));
	if (rc >= 0)
		rc = wipe_job(&x, &p, fields, why, sizeof(why));
	if (rc == 0)
		rc = audit_no_volume(&x, fields,
				     "no volume on this node (its start "
				     "failed or it was wiped already)");
	if (rc < 0)
		sfs_set_err(err, err_len,
			    "scratchfs: job %u: WIPE FAILED on node %s: %s",
			    job->id, job->node[0] ? job->node : "?", why);
	if (fd >= 0)
		unlock_job(fd, p.lock);
	sfs_audit_close(x.audit);
	json_decref(fields);
	return rc < 0 ? rc : 0;
}

/* "job-<id>" with an optional ".lock" or ".error": the id. */
static bool job_name(const char *name, uint32_t *id)
{
	char *end;
	unsigned long n;

	if (strncmp(name, "job-", 4) || !isdigit((unsigned char)name[4]))
		return false;
	errno = 0;
	n = strtoul(name + 4, &end, 10);
	if (errno || n > UINT32_MAX ||
	    (*end && strcmp(end, ".lock") && strcmp(end, ".error")))
		return false;
	*id = (uint32_t)n;
	return true;
}

/* Whether a slurmstepd of job id runs here: its title is
 * "slurmstepd: [<id>.<step>]". */
static bool job_alive(uint32_t id)
{
	char want[48], path[300], buf[48];
	struct dirent *de;
	bool alive = false;
	size_t len;
	DIR *d = opendir("/proc");

	if (!d)
		return true; /* cannot tell: keep it */
	len = (size_t)snprintf(want, sizeof(want), "slurmstepd: [%u.", id);
	while (!alive && (de = readdir(d))) {
		ssize_t n;
		int fd;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		close(fd);
		alive = n >= (ssize_t)len && !memcmp(buf, want, len);
	}
	closedir(d);
	return alive;
}

/* The owner of a dead job's scratch, for its record: the mount's root
 * when it still answers, else the backing directory's. */
static void job_owner(const struct job_paths *p, struct sfs_slurm_job *job)
{
	struct passwd pw, *res = NULL;
	char buf[1024];
	struct stat st;

	if (stat(p->mnt, &st) < 0 || st.st_uid == 0)
		if (stat(p->backing, &st) < 0)
			return;
	job->uid = st.st_uid;
	if (getpwuid_r(st.st_uid, &pw, buf, sizeof(buf), &res) == 0 && res)
		snprintf(job->user, sizeof(job->user), "%s", pw.pw_name);
}

/* Wipes job id's leftovers unless its job still runs or someone is at
 * work on it: 1 wiped, 0 not, -errno. */
static int sweep_job(const struct sfs_slurm_cfg *c, struct ctx *x,
		     const char *node, uint32_t id, char *err, size_t err_len)
{
	struct sfs_slurm_job job = {.id = id};
	struct job_paths p;
	json_t *fields;
	int fd, rc;

	if (job_paths(c, id, &p) || job_alive(id))
		return 0;
	fd = lock_job(p.lock, false, err, err_len);
	if (fd == -EWOULDBLOCK)
		return 0;
	if (fd < 0)
		return fd;
	snprintf(job.node, sizeof(job.node), "%s", node);
	job_owner(&p, &job);
	fields = job_fields(&job);
	if (fields)
		json_object_set_new(fields, "orphan", json_true());
	rc = fields ? wipe_job(x, &p, fields, err, err_len)
		    : sfs_err_rc(-ENOMEM, err, err_len, "out of memory");
	if (rc > 0)
		sfs_log(LOG_NOTICE,
			"job %u: wiped its scratch volume, left by a "
			"crash or reboot",
			id);
	unlock_job(fd, p.lock);
	json_decref(fields);
	return rc;
}

int sfs_slurm_sweep(const struct sfs_slurm_cfg *c, const char *node, char *err,
		    size_t err_len)
{
	const char *roots[] = {c->backing_root, c->mount_root};
	int wiped = 0, first = 0;
	char why[1024];
	struct ctx x;
	int rc;

	rc = open_ctx(c, &x, err, err_len);
	if (rc)
		return rc;
	for (size_t i = 0; i < 2; i++) {
		DIR *d = opendir(roots[i]);
		struct dirent *de;
		uint32_t id;

		if (!d)
			continue;
		while ((de = readdir(d))) {
			if (!job_name(de->d_name, &id))
				continue;
			rc = sweep_job(c, &x, node, id, why, sizeof(why));
			if (rc > 0)
				wiped++;
			if (rc < 0 && !first) {
				first = rc;
				sfs_set_err(err, err_len,
					    "scratchfs: wiping the scratch of "
					    "job %u: %s",
					    id, why);
			}
		}
		closedir(d);
	}
	sfs_audit_close(x.audit);
	return first ? first : wiped;
}
