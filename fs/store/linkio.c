/* linkio.c - symlink targets as stored in the backing directory: as they
 * are in plain mode, encrypted in the backing symlink in encrypted mode.
 */
#include <errno.h>
#include <limits.h>
#include <unistd.h>

#include "sfs_linkio.h"
#include "sfs_meta.h"

int sfs_linkio_create(struct sfs_fs *fs, struct sfs_inode *dir,
		      const char *backing, const char *target)
{
	char enc[SFS_BACKING_SYMLINK_MAX + 1];
	const char *stored = target;
	int dfd, rc = 0;

	if (fs->encrypted) {
		rc = sfs_symlink_encrypt(fs->crypto, target, enc);
		if (rc < 0)
			return rc;
		stored = enc;
	}
	dfd = sfs_inode_fd_get(fs->inodes, dir);
	if (dfd < 0)
		return dfd;
	if (symlinkat(stored, dfd, backing) < 0)
		rc = -errno;
	sfs_inode_fd_put(fs->inodes, dir);
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

ssize_t sfs_linkio_read(struct sfs_fs *fs, struct sfs_inode *inode, char *buf)
{
	char enc[SFS_BACKING_SYMLINK_MAX + 1];
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
	else
		n = sfs_symlink_decrypt(fs->crypto, enc, (size_t)n, buf);
	if (n < 0) {
		sfs_report_integrity(fs, inode->ino, SFS_NO_BLOCK,
				     "symlink target does not authenticate");
		return -EIO;
	}
	buf[n] = '\0';
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
