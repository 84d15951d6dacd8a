/* linkio.c - symlink targets as stored in the backing directory: as they
 * are in plain mode; in encrypted mode sealed in the backing symlink, or,
 * when it cannot hold them, in a sidecar of the target store.
 *
 * Crash safety: the sidecar is written (and, on a durable volume, synced)
 * before the symlink that refers to it exists, and removed only once the
 * symlink has no name left. A crash in between leaves at worst a sidecar
 * that nothing refers to: ignored by scratchfs and fsck, removed by a wipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "sfs_crypto.h"
#include "sfs_linkio.h"
#include "sfs_sys.h"

#define ID_NAME(ref) ((ref) + sizeof(SFS_SYMLINK_REF_PREFIX) - 1)

static int symlink_at(int dfd, const char *name, void *target)
{
	return symlinkat(target, dfd, name);
}

/* symlinkat() relative to the inode dir; -errno. */
static int symlink_in(struct sfs_fs *fs, struct sfs_inode *dir,
		      const char *stored, const char *backing)
{
	return sfs_inode_at(fs->inodes, dir, backing, symlink_at,
			    (void *)stored);
}

/* The target store, opened for *at() calls (made first when make and
 * missing; on a durable volume the new directory is synced into the
 * root); -errno. */
static int open_store(struct sfs_fs *fs, bool make)
{
	struct sfs_inode *root = sfs_itable_root(fs->inodes);
	int rfd = sfs_inode_fd_get(fs->inodes, root), fd, rc = 0;

	if (rfd < 0)
		return rfd;
	if (make) {
		if (mkdirat(rfd, SFS_SYMLINK_DIR, 0700) == 0) {
			if (fs->durable)
				rc = sfs_fsync_dir(rfd);
		} else if (errno != EEXIST) {
			rc = -errno;
		}
	}
	if (rc == 0) {
		fd = openat(rfd, SFS_SYMLINK_DIR,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		rc = fd < 0 ? -errno : fd;
	}
	sfs_inode_fd_put(fs->inodes, root);
	return rc;
}

/* Stores target out of line: a sidecar under a fresh id, then the symlink
 * `backing` in dir holding the reference to it. */
static int create_out_of_line(struct sfs_fs *fs, struct sfs_inode *dir,
			      const char *backing, const char *target)
{
	uint8_t id[SFS_SYMLINK_ID_BYTES], sealed[SFS_SYMLINK_SEALED_MAX];
	char ref[SFS_SYMLINK_REF_LEN + 1];
	ssize_t len;
	int sfd, rc;

	sfs_random(id, sizeof(id));
	len = sfs_symlink_seal(fs->crypto, id, target, sealed);
	if (len < 0)
		return (int)len;
	sfs_symlink_ref(id, ref);
	sfd = open_store(fs, true);
	if (sfd < 0)
		return sfd;
	rc = sfs_create_file_at(sfd, ID_NAME(ref), sealed, (size_t)len,
				fs->durable);
	if (rc == 0) {
		rc = symlink_in(fs, dir, ref, backing);
		if (rc < 0)
			unlinkat(sfd, ID_NAME(ref), 0);
	}
	close(sfd);
	return rc;
}

int sfs_linkio_create(struct sfs_fs *fs, struct sfs_inode *dir,
		      const char *backing, const char *target)
{
	char enc[SFS_BACKING_SYMLINK_MAX + 1];
	int rc;

	if (!fs->encrypted)
		return symlink_in(fs, dir, target, backing);
	rc = sfs_symlink_encrypt(fs->crypto, target, enc);
	if (rc == 0)
		rc = symlink_in(fs, dir, enc, backing);
	/* Too long for the inline form, or for this backing filesystem's
	 * symlinks (ext4 with 1 KiB blocks holds 1023 bytes). */
	if (rc == -ENAMETOOLONG)
		rc = create_out_of_line(fs, dir, backing, target);
	return rc;
}

/* readlinkat() of the symlink inode into buf; its length or -errno. */
static ssize_t read_link(struct sfs_fs *fs, struct sfs_inode *inode, char *buf,
			 size_t size)
{
	int fd = sfs_inode_fd_get(fs->inodes, inode);
	ssize_t n;

	if (fd < 0)
		return fd;
	n = readlinkat(fd, "", buf, size);
	if (n < 0)
		n = -errno;
	sfs_inode_fd_put(fs->inodes, inode);
	return n;
}

/* The out-of-line target id into buf; its length, -ENOENT when its
 * sidecar (or the store) is missing, -EIO when it is unreadable or does
 * not authenticate. */
static ssize_t read_out_of_line(struct sfs_fs *fs,
				const uint8_t id[SFS_SYMLINK_ID_BYTES],
				char *buf)
{
	uint8_t sealed[SFS_SYMLINK_SEALED_MAX + 1];
	char ref[SFS_SYMLINK_REF_LEN + 1];
	int sfd = open_store(fs, false), fd;
	ssize_t n;

	sfs_symlink_ref(id, ref);
	if (sfd < 0)
		return sfs_out_of_resources(sfd) || sfd == -ENOENT ? sfd : -EIO;
	/* Non-blocking: a FIFO planted there must not hold the request. */
	fd = openat(sfd, ID_NAME(ref),
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	n = fd < 0 ? -errno : 0;
	close(sfd);
	if (fd < 0)
		return sfs_out_of_resources(n) || n == -ENOENT ? n : -EIO;
	n = sfs_pread_full(fd, sealed, sizeof(sealed), 0);
	close(fd);
	if (n < 0)
		return sfs_out_of_resources(n) ? n : -EIO;
	return sfs_symlink_open(fs->crypto, id, sealed, (size_t)n, buf);
}

/* Whether the symlink inode has lost its last name (its sidecar went with
 * it: reading it through a descriptor held since is no damage). */
static bool unlinked(struct sfs_fs *fs, struct sfs_inode *inode)
{
	int fd = sfs_inode_fd_get(fs->inodes, inode);
	struct stat st;
	bool gone;

	if (fd < 0)
		return false;
	gone = fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0 &&
	       st.st_nlink == 0;
	sfs_inode_fd_put(fs->inodes, inode);
	return gone;
}

ssize_t sfs_linkio_read(struct sfs_fs *fs, struct sfs_inode *inode, char *buf)
{
	char enc[SFS_BACKING_SYMLINK_MAX + 1];
	uint8_t id[SFS_SYMLINK_ID_BYTES];
	ssize_t n;

	if (!fs->encrypted) {
		n = read_link(fs, inode, buf, PATH_MAX - 1);
		if (n < 0)
			return n;
		buf[n] = '\0';
		return n;
	}
	n = read_link(fs, inode, enc, sizeof(enc));
	if (n < 0)
		return n;
	if ((size_t)n >= sizeof(enc))
		n = -EIO;
	else if (sfs_symlink_ref_parse(enc, (size_t)n, id)) {
		n = read_out_of_line(fs, id, buf);
		if (n == -ENOENT && !unlinked(fs, inode))
			n = -EIO;
	} else
		n = sfs_symlink_decrypt(fs->crypto, enc, (size_t)n, buf);
	if (n == -EIO)
		sfs_report_integrity(fs, inode->ino, SFS_NO_BLOCK,
				     "symlink target does not authenticate");
	return n;
}

void sfs_linkio_fix_attr(struct sfs_fs *fs, struct sfs_inode *inode,
			 struct stat *st)
{
	char target[PATH_MAX];
	ssize_t n;

	if (!fs->encrypted || !S_ISLNK(st->st_mode))
		return;
	n = sfs_linkio_read(fs, inode, target);
	if (n >= 0)
		st->st_size = n;
}

/* The id of the reference that the symlink `name` of dfd ("" with dfd the
 * symlink itself) holds; false for anything else. */
static bool reference_at(int dfd, const char *name,
			 uint8_t id[SFS_SYMLINK_ID_BYTES])
{
	char ref[SFS_SYMLINK_REF_LEN + 1];
	ssize_t n = readlinkat(dfd, name, ref, sizeof(ref));

	return n > 0 && sfs_symlink_ref_parse(ref, (size_t)n, id);
}

void sfs_linkio_unlink_begin(struct sfs_fs *fs, int dir_fd, const char *backing,
			     struct sfs_unlinked *u)
{
	uint8_t again[SFS_SYMLINK_ID_BYTES];

	u->fd = -1;
	/* One readlinkat() per removal; anything but such a symlink stops
	 * here (EINVAL). */
	if (!fs->encrypted || !reference_at(dir_fd, backing, u->id))
		return;
	u->fd = openat(dir_fd, backing, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	/* The object opened may have replaced the one read: read it again. */
	if (u->fd >= 0 && (!reference_at(u->fd, "", again) ||
			   memcmp(again, u->id, sizeof(again)) != 0)) {
		close(u->fd);
		u->fd = -1;
	}
}

void sfs_linkio_unlink_end(struct sfs_fs *fs, struct sfs_unlinked *u)
{
	char ref[SFS_SYMLINK_REF_LEN + 1];
	struct stat st;
	int sfd;

	if (u->fd < 0)
		return;
	/* An inode without a name never gets one again (linkat refuses). */
	if (fstat(u->fd, &st) == 0 && st.st_nlink == 0) {
		sfs_symlink_ref(u->id, ref);
		sfd = open_store(fs, false);
		if (sfd >= 0) {
			unlinkat(sfd, ID_NAME(ref), 0);
			close(sfd);
		}
	}
	close(u->fd);
	u->fd = -1;
}
