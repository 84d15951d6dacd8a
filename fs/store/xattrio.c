/* xattrio.c - extended attributes through /proc/self/fd paths (the inode
 * table holds O_PATH fds, which the f*xattr calls do not accept). Each
 * public function holds the inode's fd while it uses the path.
 *
 * In encrypted mode all user.* attributes of an inode live in one sealed
 * backing attribute, SFS_XATTR_SET_NAME (the set, fs/meta.c): a change is a
 * read-modify-write of the whole set under the inode's xattr_lock, so that
 * two concurrent changes never lose one another. (Today the kernel already
 * sends one change of an inode at a time, under its inode lock; the daemon
 * does not rely on that.)
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

/* Path for the xattr calls on the inode, valid until path_done(). Following
 * /proc/self/fd/N ends at the object the fd holds, also when that is a symlink
 * (an O_PATH fd): the call then works on the symlink itself, as lsetxattr(2)
 * would, on every kernel (no setxattrat(2), which needs 6.13). */
static int inode_path(struct sfs_fs *fs, struct sfs_inode *inode,
		      struct sfs_fdpath *p, const char **path)
{
	int fd = sfs_inode_fd_get(fs->inodes, inode);

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

bool sfs_xattr_has_default_acl(int dir_fd)
{
	struct sfs_fdpath p;

	return getxattr(sfs_fdpath(&p, dir_fd), "system.posix_acl_default",
			NULL, 0) > 0;
}

void sfs_xattr_note_created(struct sfs_inode *inode)
{
	atomic_store(&inode->caps_absent, atomic_load(&inode->caps_gen) + 1);
}

static void report_bad_set(struct sfs_fs *fs, struct sfs_inode *inode)
{
	sfs_report_integrity(fs, inode->ino, SFS_NO_BLOCK,
			     "extended attributes do not authenticate");
}

/* Reads the inode's set into plain (SFS_XATTR_SET_MAX bytes), under its
 * xattr_lock: the plaintext length, 0 when it has no set. */
static ssize_t read_set(struct sfs_fs *fs, struct sfs_inode *inode,
			const char *path, uint8_t *plain)
{
	uint8_t *sealed = malloc(SFS_XATTR_SET_MAX);
	ssize_t n;

	if (!sealed)
		return -ENOMEM;
	n = getxattr(path, SFS_XATTR_SET_NAME, sealed, SFS_XATTR_SET_MAX);
	if (n < 0) {
		n = errno == ENODATA ? 0 : -errno;
	} else {
		n = sfs_xattr_set_open(fs->crypto, sealed, (size_t)n, plain);
		if (n < 0)
			report_bad_set(fs, inode);
	}
	free(sealed);
	return n;
}

/* Replaces the inode's set by plain (len bytes; none when 0). */
static int write_set(struct sfs_fs *fs, const char *path, const uint8_t *plain,
		     size_t len)
{
	uint8_t *sealed;
	ssize_t n;
	int rc = 0;

	if (len == 0)
		return removexattr(path, SFS_XATTR_SET_NAME) == 0 ||
			       errno == ENODATA
			   ? 0
			   : -errno;
	sealed = malloc(len + SFS_XATTR_OVERHEAD);
	if (!sealed)
		return -ENOMEM;
	n = sfs_xattr_set_seal(fs->crypto, plain, len, sealed);
	if (n < 0)
		rc = (int)n;
	else if (setxattr(path, SFS_XATTR_SET_NAME, sealed, (size_t)n, 0) < 0)
		rc = -errno;
	free(sealed);
	return rc;
}

/* The operations on an inode's encrypted user.* attributes: each one reads
 * the set, and a change writes it back, all under xattr_lock. */
enum set_op { SET_GET, SET_SET, SET_REMOVE, SET_LIST };

struct set_req {
	enum set_op op;
	const char *name;
	const void *value; /* SET_SET: the new value */
	size_t size;	   /* its size, or the caller's buffer size */
	int flags;	   /* SET_SET: XATTR_CREATE or XATTR_REPLACE */
	void *buf;	   /* SET_GET, SET_LIST: the caller's buffer */
};

/* Runs req on the set in plain (len bytes). */
static ssize_t set_apply(struct sfs_fs *fs, const char *path, uint8_t *plain,
			 size_t len, const struct set_req *req)
{
	const uint8_t *value = NULL;
	size_t vlen = 0;
	long at;

	if (req->op == SET_LIST)
		return (ssize_t)sfs_xattr_set_names(plain, len, req->buf);
	at = sfs_xattr_set_find(plain, len, req->name, &value, &vlen);
	if (at < 0 && at != -ENODATA)
		return at;
	if (req->op == SET_GET) {
		if (at < 0)
			return at;
		if (req->size != 0 && vlen > req->size)
			return -ERANGE;
		if (req->size != 0)
			memcpy(req->buf, value, vlen);
		return (ssize_t)vlen;
	}
	if (at < 0 && (req->op == SET_REMOVE || (req->flags & XATTR_REPLACE)))
		return -ENODATA;
	if (at >= 0 && (req->flags & XATTR_CREATE))
		return -EEXIST;
	if (at >= 0)
		len = sfs_xattr_set_drop(plain, len, (size_t)at);
	if (req->op == SET_SET) {
		ssize_t n = sfs_xattr_set_add(plain, len, req->name, req->value,
					      req->size);
		if (n < 0)
			return n;
		len = (size_t)n;
	}
	return write_set(fs, path, plain, len);
}

static ssize_t set_run(struct sfs_fs *fs, struct sfs_inode *inode,
		       const char *path, const struct set_req *req)
{
	uint8_t *plain = malloc(SFS_XATTR_SET_MAX);
	ssize_t n;

	if (!plain)
		return -ENOMEM;
	pthread_mutex_lock(&inode->xattr_lock);
	n = read_set(fs, inode, path, plain);
	if (n >= 0)
		n = set_apply(fs, path, plain, (size_t)n, req);
	pthread_mutex_unlock(&inode->xattr_lock);
	sfs_wipe(plain, SFS_XATTR_SET_MAX);
	free(plain);
	return n;
}

ssize_t sfs_xattr_get(struct sfs_fs *fs, struct sfs_inode *inode,
		      const char *name, void *buf, size_t size)
{
	struct set_req req = {
	    .op = SET_GET, .name = name, .size = size, .buf = buf};
	struct sfs_fdpath p;
	const char *path;
	unsigned int caps_gen = atomic_load(&inode->caps_gen);
	ssize_t n;
	int rc;

	if (is_caps(name) && atomic_load(&inode->caps_absent) == caps_gen + 1)
		return -ENODATA;
	rc = inode_path(fs, inode, &p, &path);
	if (rc < 0)
		return rc;
	if (fs->encrypted && is_user(name)) {
		n = set_run(fs, inode, path, &req);
	} else {
		n = getxattr(path, name, buf, size);
		if (n < 0)
			n = -errno;
		if (n == -ENODATA && is_caps(name))
			atomic_store(&inode->caps_absent, caps_gen + 1);
	}
	path_done(fs, inode);
	return n;
}

int sfs_xattr_set(struct sfs_fs *fs, struct sfs_inode *inode, const char *name,
		  const void *value, size_t size, int flags)
{
	struct set_req req = {.op = SET_SET,
			      .name = name,
			      .value = value,
			      .size = size,
			      .flags = flags};
	struct sfs_fdpath p;
	const char *path;
	int rc;

	rc = inode_path(fs, inode, &p, &path);
	if (rc < 0)
		return rc;
	caps_changing(inode, name);
	if (fs->encrypted && is_user(name))
		rc = (int)set_run(fs, inode, path, &req);
	else if (setxattr(path, name, value, size, flags) < 0)
		rc = -errno;
	caps_changing(inode, name);
	path_done(fs, inode);
	return rc;
}

/* The backing names in raw (n bytes) that the mount shows, into out (room
 * for n bytes); returns their length. In encrypted mode user.* names are
 * not shown: a stray one (not SFS_XATTR_SET_NAME) is reported. */
static size_t shown_names(struct sfs_fs *fs, struct sfs_inode *inode,
			  const char *raw, size_t n, char *out)
{
	size_t used = 0;

	for (const char *name = raw; name < raw + n; name += strlen(name) + 1) {
		size_t len = strlen(name) + 1;

		if (fs->encrypted && is_user(name)) {
			if (strcmp(name, SFS_XATTR_SET_NAME) != 0)
				sfs_report_integrity(
				    fs, inode->ino, SFS_NO_BLOCK,
				    "stray backing extended attribute");
			continue;
		}
		memcpy(out + used, name, len);
		used += len;
	}
	return used;
}

ssize_t sfs_xattr_list(struct sfs_fs *fs, struct sfs_inode *inode, char *buf,
		       size_t size)
{
	struct set_req req = {.op = SET_LIST};
	char *raw = NULL, *out = NULL;
	struct sfs_fdpath p;
	const char *path;
	size_t used;
	ssize_t n;
	int rc;

	rc = inode_path(fs, inode, &p, &path);
	if (rc < 0)
		return rc;
	n = listxattr(path, NULL, 0);
	if (n < 0) {
		n = -errno;
		goto out;
	}
	raw = malloc((size_t)n + 1);
	/* The set's names take at most twice its plaintext. */
	out =
	    malloc((size_t)n + 1 + (fs->encrypted ? 2 * SFS_XATTR_SET_MAX : 0));
	if (!raw || !out) {
		n = -ENOMEM;
		goto out;
	}
	n = listxattr(path, raw, (size_t)n);
	if (n < 0) {
		n = errno == ERANGE ? -EAGAIN : -errno;
		goto out;
	}
	used = shown_names(fs, inode, raw, (size_t)n, out);
	if (fs->encrypted) {
		req.buf = out + used;
		n = set_run(fs, inode, path, &req);
		if (n < 0)
			goto out;
		used += (size_t)n;
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
	struct set_req req = {.op = SET_REMOVE, .name = name};
	struct sfs_fdpath p;
	const char *path;
	int rc;

	rc = inode_path(fs, inode, &p, &path);
	if (rc < 0)
		return rc;
	caps_changing(inode, name);
	if (fs->encrypted && is_user(name))
		rc = (int)set_run(fs, inode, path, &req);
	else if (removexattr(path, name) < 0)
		rc = -errno;
	caps_changing(inode, name);
	path_done(fs, inode);
	return rc;
}
