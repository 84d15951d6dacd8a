/* xattrio.c - extended attributes through /proc/self/fd paths (the inode
 * table holds O_PATH fds, which the f*xattr calls do not accept). Each
 * public function holds the inode's fd while it uses the path.
 *
 * Encrypted user.* values are bound to a random per-inode id kept in the
 * backing attribute SFS_XATTR_ID_NAME, and to their encrypted name, so a
 * value moved to another attribute or another file fails authentication.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "sfs_crypto.h"
#include "sfs_log.h"
#include "sfs_meta.h"
#include "sfs_sys.h"
#include "sfs_xattrio.h"

#define USER_PREFIX "user."

static bool is_user(const char *name)
{
	return strncmp(name, USER_PREFIX, strlen(USER_PREFIX)) == 0;
}

/* Names the mount refuses or hides: ACLs (not enforced by the mount) and
 * our own id attribute. */
static int check_name(const struct sfs_fs *fs, const char *name)
{
	if (strncmp(name, "system.posix_acl_", 17) == 0)
		return -EOPNOTSUPP;
	if (fs->encrypted && strcmp(name, SFS_XATTR_ID_NAME) == 0)
		return -EPERM;
	return 0;
}

/* Path for the xattr calls on attribute `name` (NULL: any), valid until
 * path_done(). Following /proc/self/fd/N ends at the object the fd holds,
 * also when that is a symlink (an O_PATH fd): the call then works on the
 * symlink itself, as lsetxattr(2) would, on every kernel (no
 * setxattrat(2), which needs 6.13). */
static int inode_path(struct sfs_fs *fs, struct sfs_inode *inode,
		      const char *name, struct sfs_fdpath *p, const char **path)
{
	int fd, rc = name ? check_name(fs, name) : 0;

	if (rc < 0)
		return rc;
	fd = sfs_inode_fd_get(fs->inodes, inode);
	if (fd < 0)
		return fd;
	*path = sfs_fdpath(p, fd);
	return 0;
}

static void path_done(struct sfs_fs *fs, struct sfs_inode *inode)
{
	sfs_inode_fd_put(fs->inodes, inode);
}

/* The kernel asks for security.capability before every write(2), and the
 * answer is nearly always "none". Only a setxattr or removexattr through
 * this (exclusive) mount can add one, so "absent" is remembered per inode,
 * tagged with a generation that those two bump before and after changing
 * it: an answer read across a change never sticks. */
#define CAPS_NAME "security.capability"

static bool is_caps(const char *name)
{
	return strcmp(name, CAPS_NAME) == 0;
}

static void caps_changing(struct sfs_inode *inode, const char *name)
{
	if (is_caps(name))
		atomic_fetch_add(&inode->caps_gen, 1);
}

void sfs_xattr_note_created(struct sfs_inode *inode)
{
	atomic_store(&inode->caps_absent, atomic_load(&inode->caps_gen) + 1);
}

/* The inode's xattr id; creates it when `create` and missing. */
static int xattr_id(const char *path, uint8_t id[SFS_XATTR_ID_BYTES],
		    bool create)
{
	ssize_t n = getxattr(path, SFS_XATTR_ID_NAME, id, SFS_XATTR_ID_BYTES);

	if (n == SFS_XATTR_ID_BYTES)
		return 0;
	if (n >= 0 || (errno != ENODATA && errno != ERANGE))
		return n >= 0 ? -EIO : -errno;
	if (errno == ERANGE)
		return -EIO;
	if (!create)
		return -ENODATA;
	sfs_random(id, SFS_XATTR_ID_BYTES);
	if (setxattr(path, SFS_XATTR_ID_NAME, id, SFS_XATTR_ID_BYTES,
		     XATTR_CREATE) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	/* Another thread created it first. */
	return xattr_id(path, id, false);
}

ssize_t sfs_xattr_get(struct sfs_fs *fs, struct sfs_inode *inode,
		      const char *name, void *buf, size_t size)
{
	char bname[XATTR_NAME_MAX + 1];
	uint8_t id[SFS_XATTR_ID_BYTES], *sealed = NULL, *plain = NULL;
	struct sfs_fdpath p;
	const char *path;
	size_t cap = 0;
	unsigned int caps_gen = atomic_load(&inode->caps_gen);
	ssize_t n;
	int rc;

	if (is_caps(name) && atomic_load(&inode->caps_absent) == caps_gen + 1)
		return -ENODATA;
	rc = inode_path(fs, inode, name, &p, &path);
	if (rc < 0)
		return rc;
	if (!fs->encrypted || !is_user(name)) {
		n = getxattr(path, name, buf, size);
		if (n < 0)
			n = -errno;
		if (n == -ENODATA && is_caps(name))
			atomic_store(&inode->caps_absent, caps_gen + 1);
		goto out;
	}
	n = sfs_xattr_name_encrypt(fs->crypto, name, bname);
	if (n < 0)
		goto out;
	n = getxattr(path, bname, NULL, 0);
	if (n < 0) {
		n = -errno;
		goto out;
	}
	if ((size_t)n < SFS_XATTR_OVERHEAD)
		goto bad;
	cap = (size_t)n;
	sealed = malloc(cap);
	plain = malloc(cap);
	if (!sealed || !plain) {
		n = -ENOMEM;
		goto out;
	}
	n = getxattr(path, bname, sealed, cap);
	if (n < 0) {
		/* The value grew between the two calls: let the caller retry.
		 */
		n = errno == ERANGE ? -EAGAIN : -errno;
		goto out;
	}
	rc = xattr_id(path, id, false);
	if (rc == 0)
		n = sfs_xattr_value_decrypt(fs->crypto, id, bname, sealed,
					    (size_t)n, plain);
	if (rc < 0 || n < 0)
		goto bad;
	if (size != 0 && (size_t)n > size)
		n = -ERANGE;
	else if (size != 0)
		memcpy(buf, plain, (size_t)n);
	goto out;
bad:
	sfs_report_integrity(fs, inode->ino, SFS_NO_BLOCK,
			     "extended attribute does not authenticate");
	n = -EIO;
out:
	path_done(fs, inode);
	if (plain) {
		sfs_wipe(plain, cap);
		free(plain);
	}
	free(sealed);
	return n;
}

/* sfs_xattr_set() of an encrypted user.* attribute, through path. */
static int set_sealed(struct sfs_fs *fs, const char *path, const char *name,
		      const void *value, size_t size, int flags)
{
	char bname[XATTR_NAME_MAX + 1];
	uint8_t id[SFS_XATTR_ID_BYTES], *sealed;
	ssize_t n;
	int rc;

	rc = sfs_xattr_name_encrypt(fs->crypto, name, bname);
	if (rc < 0)
		return rc;
	rc = xattr_id(path, id, true);
	if (rc < 0)
		return rc;
	sealed = malloc(size + SFS_XATTR_OVERHEAD);
	if (!sealed)
		return -ENOMEM;
	n = sfs_xattr_value_encrypt(fs->crypto, id, bname, value, size, sealed);
	if (n < 0)
		rc = (int)n;
	else if (setxattr(path, bname, sealed, (size_t)n, flags) < 0)
		rc = errno == E2BIG ? -E2BIG : -errno;
	free(sealed);
	return rc;
}

int sfs_xattr_set(struct sfs_fs *fs, struct sfs_inode *inode, const char *name,
		  const void *value, size_t size, int flags)
{
	struct sfs_fdpath p;
	const char *path;
	int rc;

	rc = inode_path(fs, inode, name, &p, &path);
	if (rc < 0)
		return rc;
	caps_changing(inode, name);
	if (fs->encrypted && is_user(name))
		rc = set_sealed(fs, path, name, value, size, flags);
	else if (setxattr(path, name, value, size, flags) < 0)
		rc = -errno;
	caps_changing(inode, name);
	path_done(fs, inode);
	return rc;
}

ssize_t sfs_xattr_list(struct sfs_fs *fs, struct sfs_inode *inode, char *buf,
		       size_t size)
{
	char *raw = NULL, *out = NULL, plain[XATTR_NAME_MAX + 1];
	struct sfs_fdpath p;
	const char *path;
	size_t used = 0;
	ssize_t n;
	int rc;

	rc = inode_path(fs, inode, NULL, &p, &path);
	if (rc < 0)
		return rc;
	n = listxattr(path, NULL, 0);
	if (n < 0) {
		n = -errno;
		goto out;
	}
	raw = malloc((size_t)n + 1);
	out = malloc((size_t)n + 1);
	if (!raw || !out) {
		n = -ENOMEM;
		goto out;
	}
	n = listxattr(path, raw, (size_t)n);
	if (n < 0) {
		n = errno == ERANGE ? -EAGAIN : -errno;
		goto out;
	}
	for (char *name = raw; name < raw + n; name += strlen(name) + 1) {
		const char *shown = name;

		if (strncmp(name, "system.posix_acl_", 17) == 0)
			continue;
		if (fs->encrypted && is_user(name)) {
			if (strcmp(name, SFS_XATTR_ID_NAME) == 0)
				continue;
			if (sfs_xattr_name_decrypt(fs->crypto, name, plain) <
			    0) {
				sfs_report_integrity(
				    fs, inode->ino, SFS_NO_BLOCK,
				    "extended attribute does not authenticate");
				continue;
			}
			shown = plain;
		}
		/* Plaintext names are never longer than their encryption. */
		size_t len = strlen(shown) + 1;
		memcpy(out + used, shown, len);
		used += len;
	}
	n = (ssize_t)used;
	if (size != 0) {
		if (used > size)
			n = -ERANGE;
		else
			memcpy(buf, out, used);
	}
out:
	path_done(fs, inode);
	free(raw);
	free(out);
	return n;
}

int sfs_xattr_remove(struct sfs_fs *fs, struct sfs_inode *inode,
		     const char *name)
{
	char bname[XATTR_NAME_MAX + 1];
	struct sfs_fdpath p;
	const char *path;
	int rc;

	rc = inode_path(fs, inode, name, &p, &path);
	if (rc < 0)
		return rc;
	if (fs->encrypted && is_user(name)) {
		rc = sfs_xattr_name_encrypt(fs->crypto, name, bname);
		name = bname;
	}
	caps_changing(inode, name);
	if (rc == 0 && removexattr(path, name) < 0)
		rc = -errno;
	caps_changing(inode, name);
	path_done(fs, inode);
	return rc;
}
