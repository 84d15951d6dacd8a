/* wipe.c - the wipe engine's pipeline: resolve, find and stop what holds
 * the volume, recognise it, crypto-erase, delete, verify and record one
 * scratchfs volume (see sfs_wipe.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "sfs_audit.h"
#include "sfs_crypto.h"
#include "sfs_log.h"
#include "sfs_mountinfo.h"
#include "sfs_names.h"
#include "sfs_sys.h"
#include "sfs_wipe.h"
#include "wipe_int.h"
#include "wipe_sanitize.h"

double wipe_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/*
 * Recognising the volume
 */

/* Lists dfd's entries (without . and ..) into a NULL-terminated array of
 * at most max names; returns the total count or -errno. */
int wipe_list_dir(int dfd, char names[][NAME_MAX + 1], int max)
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
	static const char *const meta_names[] = {
	    SFS_VOLUME_FILE, TMP_FILE, MARKER_FILE, SFS_QUARANTINE_DIR, NULL};
	struct sfs_wipe_report *r = c->r;
	char names[5][NAME_MAX + 1], msg[160];
	struct stat st;
	int n, top, rc;

	*kind = K_FOREIGN;
	rc = sfs_volume_read(c->bfd, h, msg, sizeof(msg));
	top = wipe_list_dir(c->bfd, names, 4);
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
	n = wipe_list_dir(c->metafd, names, 5);
	if (n < 0) {
		sfs_set_err(c->err, c->err_len, "%s/%s: %s", r->backing,
			    META_DIR, strerror(-n));
		return n;
	}
	if (n > 4 || !names_only(names, n, meta_names)) {
		c->why =
		    "its " META_DIR "/ holds files scratchfs does not make";
		return 0;
	}
	/* What scratchfs-ctl fsck --quarantine makes: a directory. */
	if (has_name(names, n, SFS_QUARANTINE_DIR) &&
	    (fstatat(c->metafd, SFS_QUARANTINE_DIR, &st, AT_SYMLINK_NOFOLLOW) !=
		 0 ||
	     !S_ISDIR(st.st_mode))) {
		c->why = "its " META_DIR "/" SFS_QUARANTINE_DIR
			 " is not a directory";
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
int wipe_status_of(ssize_t n)
{
	return n < 0 ? (int)n : 0;
}

/* Overwrites dfd/name (a header or its temp copy) with random bytes, then
 * zeros, fsyncing each, then unlinks it. One with other hard links (or
 * that changed under us) is only unlinked: overwriting it would destroy
 * the file it is linked to, outside the volume. Returns 1 when there was
 * one and it was overwritten, 2 when it was only unlinked, 0 when there
 * was none, -errno. */
static int destroy_key_file(int dfd, const char *name)
{
	uint8_t buf[4096];
	struct stat lst, st;
	size_t len;
	int fd = -EMLINK, rc = 0;

	if (fstatat(dfd, name, &lst, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISREG(lst.st_mode))
		fd = wipe_open_sole(dfd, name, lst.st_dev, lst.st_ino, &st);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0 && fd != -EMLINK)
		return fd;
	if (fd >= 0) {
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
				rc = wipe_status_of(
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
	return fd >= 0 || !S_ISREG(lst.st_mode) ? 1 : 2;
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
	/* A new file: truncating one left there could reach, through a hard
	 * link, a file outside the volume. */
	if (unlinkat(c->metafd, MARKER_FILE, 0) != 0 && errno != ENOENT)
		return -errno;
	fd = openat(c->metafd, MARKER_FILE,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	rc = wipe_status_of(
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
	bool shared = false;
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
		if (rc == 1)
			r->header_destroyed = true;
		shared = shared || rc == 2;
	}
	if (shared) {
		/* Say so: a copy of the header (and a wrapped key's
		 * keyslot) lives on under the other name. */
		size_t len = strlen(r->note);

		snprintf(r->note + len, sizeof(r->note) - len,
			 "%s" META_DIR "/ held a header hard-linked to a file "
			 "elsewhere: unlinked, not overwritten",
			 len ? "; " : "");
		r->header_destroyed = false;
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
 * The whole sequence
 */

/* Whether trimmed names a scratchfs mount point, decided from the real
 * path of its parent and mountinfo alone: a stat of the mount point would
 * wait for its daemon, for good when that is stopped or stuck. 1 with its
 * canonical path in canon and its entry in e; 0 when it is none (or ends
 * in ".."), or -errno from mountinfo. */
static int mount_point_by_name(const char *trimmed, char *canon,
			       struct mi_entry *e)
{
	if (sfs_realpath_by_parent(trimmed, canon) != 0)
		return 0; /* the checks that follow say what is wrong */
	return wipe_mi_find(wipe_match_mnt, canon, e);
}

/* The canonical path of trimmed (the path as given: path), which is no
 * scratchfs mount point by its name, refusing symlinks, "/" and
 * non-directories; then, as mount_point_by_name, whether that is one. */
static int resolve_by_stat(struct ctx *c, const char *path, const char *trimmed,
			   char *canon, struct mi_entry *e, bool *stale)
{
	struct stat st;
	int rc;

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
	rc = sfs_mountpoint_realpath(trimmed, canon, stale);
	if (rc) {
		sfs_set_err(c->err, c->err_len, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if (strcmp(canon, "/") == 0) {
		sfs_set_err(c->err, c->err_len, "refusing to wipe /");
		return -EPERM;
	}
	rc = wipe_mi_find(wipe_match_mnt, canon, e);
	if (rc < 0)
		sfs_set_err(c->err, c->err_len, SFS_MOUNTINFO ": %s",
			    strerror(-rc));
	return rc;
}

/* Finds the backing directory from path (backing or mount point), refusing
 * symlinks, "/" and non-directories. */
static int resolve(struct ctx *c, const char *path)
{
	struct sfs_wipe_report *r = c->r;
	struct mi_entry *e = NULL;
	char canon[PATH_MAX], trimmed[PATH_MAX];
	struct stat st;
	size_t len = strlen(path);
	bool stale = false;
	int rc;

	if (len == 0 || len >= sizeof(trimmed)) {
		sfs_set_err(c->err, c->err_len, "bad path \"%s\"", path);
		return -EINVAL;
	}
	/* "link/" (or "link/.") would follow the symlink: judge the name
	 * itself. */
	memcpy(trimmed, path, len + 1);
	while (len > 1 && (trimmed[len - 1] == '/' ||
			   (len > 2 && strcmp(trimmed + len - 2, "/.") == 0)))
		trimmed[--len] = '\0';
	e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	rc = mount_point_by_name(trimmed, canon, e);
	if (rc < 0)
		sfs_set_err(c->err, c->err_len, SFS_MOUNTINFO ": %s",
			    strerror(-rc));
	else if (rc == 0)
		rc = resolve_by_stat(c, path, trimmed, canon, e, &stale);
	if (rc < 0) {
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
	double t0 = wipe_now_ms();

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
	r->discard_ms = wipe_now_ms() - t0;
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
	if (c->o->audit_fields &&
	    json_object_update_missing(rec, (json_t *)c->o->audit_fields)) {
		json_decref(rec);
		return -ENOMEM;
	}
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
	double t0 = wipe_now_ms(), t;
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
	r->resolve_ms = wipe_now_ms() - t0;

	/* 1. Unmount; find the daemons first, to know when their keys are
	 * gone. */
	t = wipe_now_ms();
	wipe_find_daemons(&c, &bst);
	rc = wipe_unmount_all(&c);
	r->unmount_ms = wipe_now_ms() - t;
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
	t = wipe_now_ms();
	rc = wipe_stop_daemons(&c);
	if (rc == 0 && r->header_found && r->mode == SFS_MODE_ENCRYPTED &&
	    r->key_source == SFS_KEY_EPHEMERAL)
		r->ephemeral_key_destroyed = true;
	if (rc == 0)
		rc = erase_keys(&c);
	r->erase_ms = wipe_now_ms() - t;
	if (rc)
		goto failed;

	/* 3. Delete (and overwrite). */
	t = wipe_now_ms();
	rc = wipe_delete_tree(&c);
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
	r->delete_ms = wipe_now_ms() - t - r->overwrite_ms;
	if (rc)
		goto failed;

	/* 4. Discard, where asked and allowed. */
	discard(&c);

verify:
	t = wipe_now_ms();
	wipe_verify(&c);
	r->verify_ms = wipe_now_ms() - t;
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
	r->total_ms = wipe_now_ms() - t0;
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
		wipe_verify(&c);
		r->verified = false;
	}
	r->total_ms = wipe_now_ms() - t0;
	snprintf(r->error, sizeof(r->error), "%s", err ? err : "failed");
	sfs_audit_timestamp(r->time, sizeof(r->time));
	write_audit(&c);
	goto out;
refused:
	r->refused = true;
	r->total_ms = wipe_now_ms() - t0;
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
