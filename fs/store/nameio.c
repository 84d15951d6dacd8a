/* nameio.c - backing directory entries: name encoding in either mode,
 * directory IVs, long-name sidecars and reserved names.
 *
 * Every directory of an encrypted volume holds SFS_DIRIV_NAME, a random IV
 * its children's names are encrypted under (cached in the inode). A name
 * whose encoding is too long for the backing filesystem is stored under a
 * hash, with the full encoding in a sidecar file written before the entry
 * and removed after it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sfs_crypto.h"
#include "sfs_log.h"
#include "sfs_nameio.h"
#include "sfs_sys.h"

static bool is_root(struct sfs_fs *fs, struct sfs_inode *dir)
{
	return dir == sfs_itable_root(fs->inodes);
}

struct open_args {
	int flags;
	mode_t mode;
};

static int open_at(int dfd, const char *name, void *arg)
{
	const struct open_args *a = arg;

	return openat(dfd, name, a->flags, a->mode);
}

/* openat() relative to the inode dir; the fd or -errno. */
static int open_in(struct sfs_fs *fs, struct sfs_inode *dir, const char *name,
		   int flags, mode_t mode)
{
	struct open_args a = {flags, mode};

	return sfs_inode_at(fs->inodes, dir, name, open_at, &a);
}

static int stat_at(int dfd, const char *name, void *st)
{
	return fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW);
}

/* fstatat() (not following symlinks) relative to the inode dir; -errno. */
static int stat_in(struct sfs_fs *fs, struct sfs_inode *dir, const char *name,
		   struct stat *st)
{
	return sfs_inode_at(fs->inodes, dir, name, stat_at, st);
}

static int unlink_at(int dfd, const char *name, void *flags)
{
	return unlinkat(dfd, name, *(const int *)flags);
}

/* unlinkat() relative to the inode dir; -errno. */
static int unlink_in(struct sfs_fs *fs, struct sfs_inode *dir, const char *name,
		     int flags)
{
	return sfs_inode_at(fs->inodes, dir, name, unlink_at, &flags);
}

/* The IV of directory dir, from the cache or its IV file. A missing or
 * short file is -EIO, logged and counted when report. */
static int dir_iv(struct sfs_fs *fs, struct sfs_inode *dir,
		  uint8_t iv[SFS_DIRIV_BYTES], bool report)
{
	ssize_t n;
	int fd;

	pthread_mutex_lock(&dir->meta_lock);
	if (dir->have_diriv) {
		memcpy(iv, dir->diriv, SFS_DIRIV_BYTES);
		pthread_mutex_unlock(&dir->meta_lock);
		return 0;
	}
	pthread_mutex_unlock(&dir->meta_lock);
	/* Non-blocking: a FIFO planted there must not hold the request. */
	fd = open_in(fs, dir, SFS_DIRIV_NAME,
		     O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0);
	/* The directory is gone, or we are short: no damage. */
	if (fd == -ESTALE || sfs_out_of_resources(fd))
		return fd;
	if (fd < 0) {
		if (report)
			sfs_report_integrity(fs, dir->ino, SFS_NO_BLOCK,
					     "directory IV missing");
		return -EIO;
	}
	n = sfs_pread_full(fd, iv, SFS_DIRIV_BYTES, 0);
	close(fd);
	if (sfs_out_of_resources(n))
		return (int)n;
	if (n != SFS_DIRIV_BYTES) {
		if (report)
			sfs_report_integrity(fs, dir->ino, SFS_NO_BLOCK,
					     "directory IV unreadable");
		return -EIO;
	}
	pthread_mutex_lock(&dir->meta_lock);
	memcpy(dir->diriv, iv, SFS_DIRIV_BYTES);
	dir->have_diriv = true;
	pthread_mutex_unlock(&dir->meta_lock);
	return 0;
}

bool sfs_nameio_iv_known(struct sfs_inode *dir)
{
	bool known;

	pthread_mutex_lock(&dir->meta_lock);
	known = dir->have_diriv;
	pthread_mutex_unlock(&dir->meta_lock);
	return known;
}

int sfs_nameio_load_iv(struct sfs_fs *fs, struct sfs_inode *dir)
{
	uint8_t iv[SFS_DIRIV_BYTES];
	return dir_iv(fs, dir, iv, false);
}

int sfs_nameio_encode(struct sfs_fs *fs, struct sfs_inode *dir,
		      const char *name, struct sfs_ename *en)
{
	uint8_t iv[SFS_DIRIV_BYTES];
	size_t len = strlen(name);
	int rc;

	if (len > NAME_MAX)
		return -ENAMETOOLONG;
	if (!fs->encrypted) {
		/* Plain names are stored as they are, so only the volume
		 * directory in the root can collide. */
		if (is_root(fs, dir) && strcmp(name, SFS_VOLUME_DIR) == 0)
			return -EPERM;
		memcpy(en->backing, name, len + 1);
		en->full[0] = '\0';
		en->is_long = false;
		return 0;
	}
	rc = dir_iv(fs, dir, iv, true);
	if (rc == 0)
		rc = sfs_name_encrypt(fs->crypto, iv, name, en);
	return rc;
}

int sfs_nameio_prepare(struct sfs_fs *fs, struct sfs_inode *dir,
		       const struct sfs_ename *en, bool *created)
{
	char sidecar[NAME_MAX + 1];
	size_t len = strlen(en->full);
	ssize_t n;
	int fd, rc = 0;

	*created = false;
	if (!fs->encrypted || !en->is_long)
		return 0;
	sfs_name_sidecar(en->backing, sidecar);
	fd =
	    open_in(fs, dir, sidecar,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
	if (fd < 0)
		/* An existing sidecar holds the same deterministic name. */
		return fd == -EEXIST ? 0 : fd;
	n = sfs_pwrite_full(fd, en->full, len, 0);
	if (n < 0)
		rc = (int)n;
	close(fd);
	if (rc < 0)
		unlink_in(fs, dir, sidecar, 0);
	else
		*created = true;
	return rc;
}

void sfs_nameio_release(struct sfs_fs *fs, struct sfs_inode *dir,
			const struct sfs_ename *en)
{
	char sidecar[NAME_MAX + 1];

	if (!fs->encrypted || !en->is_long)
		return;
	sfs_name_sidecar(en->backing, sidecar);
	unlink_in(fs, dir, sidecar, 0);
}

/* Reads a long name's sidecar into full (NUL-terminated). -EIO when it is
 * missing or unreadable, the error when we are out of fds or memory. */
static int read_sidecar(struct sfs_fs *fs, struct sfs_inode *dir,
			const char *backing, char *full, size_t size)
{
	char sidecar[NAME_MAX + 1];
	ssize_t n;
	int fd;

	sfs_name_sidecar(backing, sidecar);
	fd = open_in(fs, dir, sidecar,
		     O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0);
	if (fd < 0)
		return sfs_out_of_resources(fd) ? fd : -EIO;
	n = sfs_pread_full(fd, full, size - 1, 0);
	close(fd);
	if (sfs_out_of_resources(n))
		return (int)n;
	if (n <= 0 || (size_t)n >= size - 1)
		return -EIO;
	full[n] = '\0';
	return 0;
}

int sfs_nameio_decode(struct sfs_fs *fs, struct sfs_inode *dir,
		      const char *backing, char out[NAME_MAX + 1])
{
	uint8_t iv[SFS_DIRIV_BYTES];
	struct sfs_ename en;
	const char *encoded = backing;
	int rc;

	if (!fs->encrypted) {
		if (is_root(fs, dir) && strcmp(backing, SFS_VOLUME_DIR) == 0)
			return 1;
		strncpy(out, backing, NAME_MAX);
		out[NAME_MAX] = '\0';
		return 0;
	}
	if (sfs_name_is_long(backing)) {
		rc = read_sidecar(fs, dir, backing, en.full, sizeof(en.full));
		if (rc == -EIO)
			sfs_report_integrity(fs, dir->ino, SFS_NO_BLOCK,
					     "long name sidecar unreadable");
		if (rc < 0)
			return rc;
		encoded = en.full;
	} else if (sfs_name_is_reserved(backing, is_root(fs, dir))) {
		return 1;
	}
	rc = dir_iv(fs, dir, iv, true);
	if (rc < 0)
		return rc;
	if (sfs_name_decrypt(fs->crypto, iv, encoded, out) < 0) {
		sfs_report_integrity(fs, dir->ino, SFS_NO_BLOCK,
				     "entry name does not authenticate");
		return -EIO;
	}
	return 0;
}

int sfs_nameio_init_dir(struct sfs_fs *fs, int dir_fd)
{
	uint8_t iv[SFS_DIRIV_BYTES];

	if (!fs->encrypted)
		return 0;
	sfs_random(iv, sizeof(iv));
	/* An ephemeral volume does not survive a crash (its key is gone), so
	 * making its IVs durable would buy nothing: two fsyncs per mkdir. */
	return sfs_create_file_at(dir_fd, SFS_DIRIV_NAME, iv, sizeof(iv),
				  fs->durable);
}

/* Calls fn for each entry of dir_fd other than "." and ".."; stops at the
 * first non-zero return of fn and returns it. */
static int for_each_entry(int dir_fd, int (*fn)(int, const char *, void *),
			  void *arg)
{
	DIR *dp = sfs_opendir_at(dir_fd);
	struct dirent *de;
	int rc = 0;

	if (!dp)
		return -errno;
	while (rc == 0) {
		errno = 0;
		de = readdir(dp);
		if (!de) {
			rc = -errno;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		rc = fn(dirfd(dp), de->d_name, arg);
	}
	closedir(dp);
	return rc;
}

static int root_entry_blocks_init(int dir_fd, const char *name, void *arg)
{
	(void)dir_fd;
	(void)arg;
	return strcmp(name, SFS_VOLUME_DIR) == 0 ? 0 : -EIO;
}

int sfs_nameio_init_root(struct sfs_fs *fs, int root_fd)
{
	struct stat st;
	int rc;

	if (!fs->encrypted ||
	    fstatat(root_fd, SFS_DIRIV_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != ENOENT)
		return -errno;
	rc = for_each_entry(root_fd, root_entry_blocks_init, NULL);
	if (rc < 0)
		return rc;
	return sfs_nameio_init_dir(fs, root_fd);
}

/* rmdir scan: a directory is empty when it holds only its IV and orphaned
 * long-name sidecars (left by a crash between two unlinks). */
static int rmdir_scan(int dir_fd, const char *name, void *arg)
{
	char base[NAME_MAX + 1];
	size_t len = strlen(name), slen = strlen(SFS_LONGNAME_SUFFIX);
	struct stat st;

	(void)arg;
	if (strcmp(name, SFS_DIRIV_NAME) == 0)
		return 0;
	if (strncmp(name, SFS_LONGNAME_PREFIX, strlen(SFS_LONGNAME_PREFIX)) ||
	    len <= slen || strcmp(name + len - slen, SFS_LONGNAME_SUFFIX))
		return -ENOTEMPTY;
	memcpy(base, name, len - slen);
	base[len - slen] = '\0';
	if (fstatat(dir_fd, base, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return -ENOTEMPTY;
	return unlinkat(dir_fd, name, 0) < 0 ? -errno : 0;
}

/* Makes the directory fd look empty to the backing filesystem: checks it
 * holds no user entries and removes its IV, keeping a copy in r for
 * put_back_iv(). */
static int take_iv(int fd, struct sfs_replaced *r)
{
	ssize_t n;
	int ivfd, rc;

	r->had_iv = false;
	rc = for_each_entry(fd, rmdir_scan, NULL);
	if (rc < 0)
		return rc;
	ivfd = openat(fd, SFS_DIRIV_NAME,
		      O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (ivfd < 0)
		return errno == ENOENT ? 0 : -errno;
	n = sfs_pread_full(ivfd, r->iv, sizeof(r->iv), 0);
	close(ivfd);
	if (n != (ssize_t)sizeof(r->iv))
		return n < 0 ? (int)n : -EIO;
	if (unlinkat(fd, SFS_DIRIV_NAME, 0) < 0)
		return -errno;
	r->had_iv = true;
	return 0;
}

/* Undoes take_iv() after the removal or replacement failed. */
static void put_back_iv(int fd, const struct sfs_replaced *r)
{
	int w;

	if (!r->had_iv)
		return;
	w = openat(fd, SFS_DIRIV_NAME,
		   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
	if (w < 0 || sfs_pwrite_full(w, r->iv, sizeof(r->iv), 0) < 0)
		sfs_log(LOG_ERR, "could not restore a directory IV: %s",
			strerror(errno));
	if (w >= 0)
		close(w);
}

int sfs_nameio_rmdir(struct sfs_fs *fs, struct sfs_inode *dir,
		     const struct sfs_ename *en)
{
	struct sfs_replaced r;
	int fd, rc;

	if (!fs->encrypted)
		return unlink_in(fs, dir, en->backing, AT_REMOVEDIR);
	fd = open_in(fs, dir, en->backing,
		     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	rc = take_iv(fd, &r);
	if (rc == 0) {
		rc = unlink_in(fs, dir, en->backing, AT_REMOVEDIR);
		if (rc < 0)
			put_back_iv(fd, &r);
	}
	close(fd);
	return rc;
}

int sfs_nameio_prepare_replace(struct sfs_fs *fs, struct sfs_inode *olddir,
			       const struct sfs_ename *oldname,
			       struct sfs_inode *dir,
			       const struct sfs_ename *en,
			       struct sfs_replaced *r)
{
	struct stat src, dst;
	int rc;

	r->fd = -1;
	r->had_iv = false;
	if (!fs->encrypted || stat_in(fs, dir, en->backing, &dst) < 0 ||
	    !S_ISDIR(dst.st_mode) ||
	    stat_in(fs, olddir, oldname->backing, &src) < 0 ||
	    !S_ISDIR(src.st_mode) || src.st_ino == dst.st_ino)
		/* Nothing of ours in the way; rename(2) decides. */
		return 0;
	r->fd = open_in(fs, dir, en->backing,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (r->fd < 0) {
		rc = r->fd;
		r->fd = -1;
		return rc;
	}
	rc = take_iv(r->fd, r);
	if (rc < 0) {
		close(r->fd);
		r->fd = -1;
	}
	return rc;
}

void sfs_nameio_finish_replace(struct sfs_replaced *r, bool renamed)
{
	if (r->fd < 0)
		return;
	if (!renamed)
		put_back_iv(r->fd, r);
	close(r->fd);
	r->fd = -1;
}
