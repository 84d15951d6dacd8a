/* tree.c - the wipe engine's work on the backing tree: overwrite and
 * delete every entry, count what is to overwrite, verify what is left. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sfs_crypto.h"
#include "sfs_log.h"
#include "sfs_mountinfo.h"
#include "sfs_sys.h"
#include "sfs_wipe.h"
#include "wipe_int.h"

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
	double t = wipe_now_ms();

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

int wipe_open_sole(int dfd, const char *name, dev_t dev, ino_t ino,
		   struct stat *st)
{
	int fd =
	    openat(dfd, name,
		   O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) || st->st_dev != dev ||
	    st->st_ino != ino || st->st_nlink != 1) {
		close(fd);
		return -EMLINK;
	}
	return fd;
}

/* Overwrites the data extents of one regular file c->passes times (random,
 * the last pass zeros), fdatasyncing each pass. */
static int overwrite_file(struct ctx *c, int dfd, const char *name,
			  const struct statx *sx, uint8_t *buf)
{
	struct stat st;
	int fd, rc = 0;

	fd = wipe_open_sole(dfd, name,
			    makedev(sx->stx_dev_major, sx->stx_dev_minor),
			    sx->stx_ino, &st);
	/* Changed or hard-linked since we looked: only unlinked. */
	if (fd == -EMLINK)
		return 0;
	if (fd < 0)
		return fd;
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
				rc = wipe_status_of(
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
		double t0 = wipe_now_ms();

		rc = overwrite_file(c, dfd, name, sx, buf);
		r->overwrite_ms += wipe_now_ms() - t0;
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
static int scan_dir(struct ctx *c, int fd, const char *keep, char **sub,
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
		/* The entry that goes last (see wipe_delete_tree). */
		if (keep && strcmp(name, keep) == 0)
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

/* Empties directory dfd (but for its entry keep) depth first, holding
 * one directory fd at a time: the way back up is "..", checked against
 * the (dev, ino) remembered on the way down, so any depth works. */
static int empty_dir(struct ctx *c, int dfd, const char *keep)
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
	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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
		rc = scan_dir(c, fd, n == 1 ? keep : NULL, &sub, &sub_id, buf);
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
	if (fd >= 0)
		close(fd);
	for (size_t i = 1; i < n; i++)
		free(st[i].name);
	free(st);
	free(buf);
	return rc;
}

/* Bytes one overwrite pass of dfd (but for its entry keep) will write
 * (for the progress line). */
static uint64_t count_bytes(int dfd, dev_t dev, const char *keep, int depth)
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
		    (keep && strcmp(de->d_name, keep) == 0) ||
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
				sum += count_bytes(sub, dev, NULL, depth + 1);
				close(sub);
			}
		}
	}
	closedir(d);
	return sum;
}

int wipe_delete_tree(struct ctx *c)
{
	int rc;

	if (c->passes && c->o->progress)
		c->total_bytes =
		    (count_bytes(c->bfd, c->dev, META_DIR, 0) +
		     count_bytes(c->metafd, c->dev, MARKER_FILE, 0)) *
		    (uint64_t)c->passes;
	rc = empty_dir(c, c->bfd, META_DIR);

	/* Then what fsck --quarantine moved into .scratchfs/: all of it but
	 * the marker (the header is gone already). */
	if (rc == 0)
		rc = empty_dir(c, c->metafd, MARKER_FILE);
	progress(c, true);
	return rc;
}

/*
 * Verification
 */

void wipe_verify(struct ctx *c)
{
	struct sfs_wipe_report *r = c->r;
	char names[4][NAME_MAX + 1], mnt[PATH_MAX];
	bool daemons = false;
	struct stat st;
	int n;

	for (int i = 0; i < c->ndaemons; i++)
		daemons = daemons || wipe_daemon_alive(&c->daemons[i]);
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
	n = wipe_list_dir(c->bfd, names, 4);
	r->verify_no_files =
	    n == 0 ||
	    (n == 1 && strcmp(names[0], META_DIR) == 0 && c->metafd >= 0 &&
	     wipe_list_dir(c->metafd, names, 4) == 0);
	r->verified =
	    r->verify_not_mounted && r->verify_no_key && r->verify_no_files;
}
