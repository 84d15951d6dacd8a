/* ops.c - the FUSE low-level operations: decode a request, call the I/O
 * layers, send exactly one reply.
 *
 * Every inode is an O_PATH fd on the backing filesystem (inode.c), and every
 * operation works relative to such fds, so no path is ever walked and a
 * symlink in the backing directory is never followed. An inode's fd is held
 * (sfs_inode_fd_get/put) only for the length of one operation. Names,
 * contents, symlink targets and xattrs go through nameio.c, fileio.c,
 * linkio.c and xattrio.c, which hide whether the volume is encrypted.
 * Errors inside are -errno; this file alone turns them into replies.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "sfs_fileio.h"
#include "sfs_fuseio.h"
#include "sfs_linkio.h"
#include "sfs_log.h"
#include "sfs_mountinfo.h"
#include "sfs_nameio.h"
#include "sfs_ops.h"
#include "sfs_prefetch.h"
#include "sfs_status.h"
#include "sfs_sys.h"
#include "sfs_uring.h"
#include "sfs_xattrio.h"

_Static_assert(sizeof(fuse_ino_t) >= sizeof(uintptr_t),
	       "fuse_ino_t must hold a pointer");

/* An open file or directory, in its mount's list (fs->handles) from its
 * open until its release: what the kernel never releases (its RELEASE was
 * still queued when the mount went away) sfs_ops_close_handles() closes. */
struct sfs_handle {
	struct sfs_handle *next, **pprev;
	bool dir;
};

/* What a file handle (fi->fh) points at. */
struct open_file {
	struct sfs_handle h; /* first: the list's entries are these */
	struct sfs_file f;
};

struct sfs_dirh {
	struct sfs_handle h; /* first: the list's entries are these */
	DIR *dp;
	off_t offset;	      /* position of `entry` */
	struct dirent *entry; /* read but not yet returned */
};

static struct sfs_fs *fs_of(fuse_req_t req)
{
	struct sfs_fs *fs = fuse_req_userdata(req);

	/* Every request but INIT passes here, and only after INIT was
	 * answered, which is when the kernel set the mount's readahead. */
	if (!atomic_load(&fs->readahead_raised) &&
	    !atomic_exchange(&fs->readahead_raised, true) && fs->mountpoint) {
		int rc = sfs_raise_readahead(fs->mountpoint, SFS_READ_AHEAD_KB);
		if (rc < 0)
			sfs_log(LOG_WARNING, "cannot raise readahead: %s",
				strerror(-rc));
	}
	return fs;
}

static struct sfs_inode *inode_of(fuse_req_t req, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return sfs_itable_root(fs_of(req)->inodes);
	return (struct sfs_inode *)(uintptr_t)ino;
}

static fuse_ino_t ino_of(struct sfs_fs *fs, struct sfs_inode *inode)
{
	if (inode == sfs_itable_root(fs->inodes))
		return FUSE_ROOT_ID;
	return (fuse_ino_t)(uintptr_t)inode;
}

static struct sfs_file *file_of(struct fuse_file_info *fi)
{
	return &((struct open_file *)(uintptr_t)fi->fh)->f;
}

static void handle_add(struct sfs_fs *fs, struct sfs_handle *h, bool dir)
{
	h->dir = dir;
	pthread_mutex_lock(&fs->handles_lock);
	h->next = fs->handles;
	h->pprev = &fs->handles;
	if (h->next)
		h->next->pprev = &h->next;
	fs->handles = h;
	pthread_mutex_unlock(&fs->handles_lock);
}

static void handle_remove(struct sfs_fs *fs, struct sfs_handle *h)
{
	pthread_mutex_lock(&fs->handles_lock);
	*h->pprev = h->next;
	if (h->next)
		h->next->pprev = h->pprev;
	pthread_mutex_unlock(&fs->handles_lock);
}

static void reply_rc(fuse_req_t req, int rc)
{
	fuse_reply_err(req, rc < 0 ? -rc : 0);
}

/* Attributes of a backing object as the mount shows them. */
static int get_attr(struct sfs_fs *fs, struct sfs_inode *inode, struct stat *st)
{
	int fd = sfs_inode_fd_get(fs->inodes, inode), rc = 0;

	if (fd < 0)
		return fd;
	if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	sfs_inode_fd_put(fs->inodes, inode);
	if (rc < 0)
		return rc;
	sfs_file_fix_attr(fs, st);
	sfs_linkio_fix_attr(fs, inode, st);
	return 0;
}

/* Turns an O_PATH fd on the entry `backing` of dir into a kernel entry
 * (one lookup reference). fd is consumed. Objects on another filesystem (a
 * mount planted in the backing directory) are refused: we never leave the
 * backing filesystem. */
static int fill_entry(struct sfs_fs *fs, int fd, struct sfs_inode *dir,
		      const char *backing, struct fuse_entry_param *e)
{
	struct sfs_inode *inode;
	struct stat st;

	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	if (st.st_dev != fs->dev) {
		close(fd);
		return -EXDEV;
	}
	inode = sfs_itable_get(fs->inodes, fd, &st, dir, backing);
	if (!inode)
		return -ENOMEM;
	sfs_file_fix_attr(fs, &st);
	sfs_linkio_fix_attr(fs, inode, &st);
	memset(e, 0, sizeof(*e));
	e->ino = ino_of(fs, inode);
	e->attr = st;
	e->attr_timeout = fs->timeout;
	e->entry_timeout = fs->timeout;
	return 0;
}

/* The entry `backing` of the directory dir, open as dir_fd (held). */
static int lookup_at(struct sfs_fs *fs, struct sfs_inode *dir, int dir_fd,
		     const char *backing, struct fuse_entry_param *e)
{
	int fd = openat(dir_fd, backing, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return fill_entry(fs, fd, dir, backing, e);
}

/* Encodes a name for lookup or removal: reserved names do not exist. */
static int encode_existing(struct sfs_fs *fs, struct sfs_inode *dir,
			   const char *name, struct sfs_ename *en)
{
	int rc = sfs_nameio_encode(fs, dir, name, en);

	return rc == -EPERM ? -ENOENT : rc;
}

static void sfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct sfs_fs *fs = fs_of(req);
	struct sfs_inode *dir = inode_of(req, parent);
	int dfd = sfs_inode_fd_get(fs->inodes, dir), rc;
	struct fuse_entry_param e;
	struct sfs_ename en;

	rc = dfd < 0 ? dfd : encode_existing(fs, dir, name, &en);
	if (rc == 0)
		rc = lookup_at(fs, dir, dfd, en.backing, &e);
	if (dfd >= 0)
		sfs_inode_fd_put(fs->inodes, dir);
	if (rc == -ENOENT && fs->timeout > 0) {
		/* The mount is exclusive: absence can be cached too. */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = fs->timeout;
		rc = 0;
	}
	if (rc < 0)
		reply_rc(req, rc);
	else
		fuse_reply_entry(req, &e);
}

static void sfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	sfs_itable_forget(fs_of(req)->inodes, inode_of(req, ino), nlookup);
	fuse_reply_none(req);
}

static void sfs_forget_multi(fuse_req_t req, size_t count,
			     struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		sfs_itable_forget(fs_of(req)->inodes,
				  inode_of(req, forgets[i].ino),
				  forgets[i].nlookup);
	fuse_reply_none(req);
}

static void sfs_getattr(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	struct sfs_fs *fs = fs_of(req);
	struct stat st;
	int rc;

	(void)fi;
	rc = get_attr(fs, inode_of(req, ino), &st);
	if (rc < 0)
		reply_rc(req, rc);
	else
		fuse_reply_attr(req, &st, fs->timeout);
}

/* Whether the caller of req is in group gid (its fsgid or a supplementary
 * group, which libfuse reads from /proc). */
static bool caller_in_group(fuse_req_t req, gid_t gid)
{
	gid_t groups[64];
	int n;

	if (fuse_req_ctx(req)->gid == gid)
		return true;
	n = fuse_req_getgroups(req, 64, groups);
	for (int i = 0; i < n && i < 64; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* Clears the set-ID bits a change of content by req's caller, who lacks
 * CAP_FSETID, clears on a local filesystem: set-user-ID, and set-group-ID
 * where the group may execute or the caller is not in the file's group.
 * With FUSE_HANDLE_KILLPRIV_V2 (fuseio.c) that is ours to do. fd is any
 * descriptor of the file, O_PATH included. */
static int drop_setid(fuse_req_t req, int fd)
{
	struct sfs_fdpath p;
	struct stat st;
	mode_t mode;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || !(st.st_mode & (S_ISUID | S_ISGID)))
		return 0;
	mode = st.st_mode & 07777 & ~S_ISUID;
	if ((mode & S_ISGID) &&
	    ((mode & S_IXGRP) || !caller_in_group(req, st.st_gid)))
		mode &= ~S_ISGID;
	if (mode == (st.st_mode & 07777))
		return 0;
	return chmod(sfs_fdpath(&p, fd), mode) < 0 ? -errno : 0;
}

/* Truncates through the open file, or through a temporary read-write open
 * of the inode's fd ipfd when the kernel sends a plain truncate(2). */
static int set_size(struct sfs_fs *fs, struct sfs_inode *inode, int ipfd,
		    struct fuse_file_info *fi, off_t size)
{
	struct sfs_fdpath p;
	int fd, rc;

	if (fi)
		return sfs_file_truncate(fs, inode, file_of(fi)->fd, size);
	if (!S_ISREG(inode->type))
		return S_ISDIR(inode->type) ? -EISDIR : -EINVAL;
	fd = open(sfs_fdpath(&p, ipfd), O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = sfs_file_truncate(fs, inode, fd, size);
	close(fd);
	return rc;
}

static int set_times(int ipfd, const struct stat *attr, int valid)
{
	struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT},
				 {.tv_nsec = UTIME_OMIT}};

	if (valid & FUSE_SET_ATTR_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	else if (valid & FUSE_SET_ATTR_ATIME)
		ts[0] = attr->st_atim;
	if (valid & FUSE_SET_ATTR_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	else if (valid & FUSE_SET_ATTR_MTIME)
		ts[1] = attr->st_mtim;
	return utimensat(ipfd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0
		   ? -errno
		   : 0;
}

/* The changes of one setattr, through the held inode fd ipfd. */
static int set_attrs(fuse_req_t req, struct sfs_inode *inode, int ipfd,
		     const struct stat *attr, int valid,
		     struct fuse_file_info *fi)
{
	struct sfs_fs *fs = fs_of(req);
	struct sfs_fdpath p;
	int rc;

	if (valid & FUSE_SET_ATTR_MODE) {
		if (fi)
			rc = fchmod(file_of(fi)->fd, attr->st_mode);
		else
			rc = chmod(sfs_fdpath(&p, ipfd), attr->st_mode);
		if (rc < 0)
			return -errno;
	}
	if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid =
		    valid & FUSE_SET_ATTR_UID ? attr->st_uid : (uid_t)-1;
		gid_t gid =
		    valid & FUSE_SET_ATTR_GID ? attr->st_gid : (gid_t)-1;
		if (fchownat(ipfd, "", uid, gid,
			     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
	if (valid & FUSE_SET_ATTR_SIZE) {
		rc = set_size(fs, inode, ipfd, fi, attr->st_size);
		if (rc < 0)
			return rc;
	}
	/* The kill flag comes with truncation by a caller without
	 * CAP_FSETID, and with every chown, whose bits the backing
	 * filesystem already cleared. */
	if ((valid & SFS_SET_ATTR_KILL_SUIDGID) &&
	    (valid & FUSE_SET_ATTR_SIZE)) {
		rc = drop_setid(req, ipfd);
		if (rc < 0)
			return rc;
	}
	if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
		     FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW))
		return set_times(ipfd, attr, valid);
	return 0;
}

static void sfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			int valid, struct fuse_file_info *fi)
{
	struct sfs_fs *fs = fs_of(req);
	struct sfs_inode *inode = inode_of(req, ino);
	int fd = sfs_inode_fd_get(fs->inodes, inode), rc;
	struct stat st;

	if (fd < 0) {
		reply_rc(req, fd);
		return;
	}
	rc = set_attrs(req, inode, fd, attr, valid, fi);
	sfs_inode_fd_put(fs->inodes, inode);
	if (rc == 0)
		rc = get_attr(fs, inode, &st);
	if (rc < 0)
		reply_rc(req, rc);
	else
		fuse_reply_attr(req, &st, fs->timeout);
}

static void sfs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX];
	ssize_t n = sfs_linkio_read(fs_of(req), inode_of(req, ino), buf);

	if (n < 0)
		reply_rc(req, (int)n);
	else
		fuse_reply_readlink(req, buf);
}

/* Gives a node created by the daemon (root) the caller's ownership, as the
 * kernel would for a local filesystem. A set-group-ID directory already
 * made the backing filesystem pick the group. chown clears set-id bits, so
 * they are put back. */
static int set_owner(fuse_req_t req, int dir_fd, const char *backing,
		     mode_t mode)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct stat dst;
	gid_t gid = ctx->gid;

	if (geteuid() != 0 || (ctx->uid == 0 && ctx->gid == 0))
		return 0;
	if (fstatat(dir_fd, "", &dst, AT_EMPTY_PATH) < 0)
		return -errno;
	if (dst.st_mode & S_ISGID)
		gid = (gid_t)-1;
	if (fchownat(dir_fd, backing, ctx->uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISLNK(mode) && (mode & (S_ISUID | S_ISGID)) &&
	    fchmodat(dir_fd, backing, mode & 07777, 0) < 0)
		return -errno;
	return 0;
}

/* The mode a new node gets in directory dfd: with ACLs the kernel leaves
 * the caller's umask to us, and a directory's default ACL replaces it (the
 * backing filesystem applies that ACL itself). */
static mode_t creation_mode(fuse_req_t req, int dfd, mode_t mode)
{
	if (!fs_of(req)->posix_acl || sfs_xattr_has_default_acl(dfd))
		return mode;
	return mode & ~fuse_req_ctx(req)->umask;
}

/* mknod, mkdir and symlink: create the backing node under the encoded name,
 * own it, prepare a directory, reply with its entry. */
static void make_node(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, dev_t rdev, const char *link)
{
	struct sfs_fs *fs = fs_of(req);
	struct sfs_inode *dir = inode_of(req, parent);
	int dfd = sfs_inode_fd_get(fs->inodes, dir), rc;
	struct fuse_entry_param e;
	struct sfs_ename en;
	bool sidecar;

	rc = dfd < 0 ? dfd : sfs_nameio_encode(fs, dir, name, &en);
	if (rc == 0)
		rc = sfs_nameio_prepare(fs, dir, &en, &sidecar);
	if (rc < 0)
		goto out;
	if (!link)
		mode = creation_mode(req, dfd, mode);
	if (link)
		rc = sfs_linkio_create(fs, dir, en.backing, link);
	else if (S_ISDIR(mode))
		rc = mkdirat(dfd, en.backing, mode & 07777) < 0 ? -errno : 0;
	else
		rc = mknodat(dfd, en.backing, mode, rdev) < 0 ? -errno : 0;
	if (rc < 0) {
		if (sidecar)
			sfs_nameio_release(fs, dir, &en);
		goto out;
	}
	rc = set_owner(req, dfd, en.backing, link ? S_IFLNK : mode);
	if (rc == 0 && S_ISDIR(mode) && !link) {
		int fd = openat(dfd, en.backing,
				O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		rc = fd < 0 ? -errno : sfs_nameio_init_dir(fs, fd);
		if (fd >= 0)
			close(fd);
	}
	if (rc == 0)
		rc = lookup_at(fs, dir, dfd, en.backing, &e);
	if (rc < 0) {
		struct sfs_unlinked gone;

		/* Leave nothing half-made behind (the table never saw it). */
		sfs_linkio_unlink_begin(fs, dfd, en.backing, &gone);
		if (S_ISDIR(mode) && !link)
			sfs_nameio_rmdir(fs, dir, &en);
		else
			unlinkat(dfd, en.backing, 0);
		sfs_linkio_unlink_end(fs, &gone);
		sfs_nameio_release(fs, dir, &en);
	}
out:
	if (dfd >= 0)
		sfs_inode_fd_put(fs->inodes, dir);
	if (rc < 0)
		reply_rc(req, rc);
	else
		fuse_reply_entry(req, &e);
}

static void sfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, dev_t rdev)
{
	make_node(req, parent, name, mode, rdev, NULL);
}

static void sfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode)
{
	make_node(req, parent, name, S_IFDIR | mode, 0, NULL);
}

static void sfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			const char *name)
{
	make_node(req, parent, name, S_IFLNK | 0777, 0, link);
}

static void sfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		     const char *newname)
{
	struct sfs_fs *fs = fs_of(req);
	struct sfs_inode *dir = inode_of(req, newparent);
	struct sfs_inode *inode = inode_of(req, ino);
	int dfd = sfs_inode_fd_get(fs->inodes, dir), fd = -1, rc;
	struct fuse_entry_param e;
	struct sfs_ename en;
	bool sidecar;

	if (dfd >= 0)
		fd = sfs_inode_fd_get(fs->inodes, inode);
	rc = dfd < 0 ? dfd : fd < 0 ? fd : 0;
	if (rc == 0)
		rc = sfs_nameio_encode(fs, dir, newname, &en);
	if (rc == 0)
		rc = sfs_nameio_prepare(fs, dir, &en, &sidecar);
	if (rc < 0)
		goto out;
	if (linkat(fd, "", dfd, en.backing, AT_EMPTY_PATH) < 0) {
		rc = -errno;
		if (sidecar)
			sfs_nameio_release(fs, dir, &en);
		goto out;
	}
	rc = lookup_at(fs, dir, dfd, en.backing, &e);
out:
	if (fd >= 0)
		sfs_inode_fd_put(fs->inodes, inode);
	if (dfd >= 0)
		sfs_inode_fd_put(fs->inodes, dir);
	if (rc < 0)
		reply_rc(req, rc);
	else
		fuse_reply_entry(req, &e);
}

/* unlink and rmdir: removes the entry `name` of parent. */
static void remove_entry(fuse_req_t req, fuse_ino_t parent, const char *name,
			 bool is_dir)
{
	struct sfs_fs *fs = fs_of(req);
	struct sfs_inode *dir = inode_of(req, parent);
	int dfd = sfs_inode_fd_get(fs->inodes, dir), rc;
	struct sfs_unlinked gone = {.fd = -1};
	struct sfs_ename en;

	rc = dfd < 0 ? dfd : encode_existing(fs, dir, name, &en);
	if (rc == 0) {
		struct sfs_iname at = {dir, dfd, en.backing};
		struct sfs_inode *left;

		if (!is_dir)
			sfs_linkio_unlink_begin(fs, dfd, en.backing, &gone);
		left = sfs_itable_unlink_begin(fs->inodes, &at);
		if (is_dir)
			rc = sfs_nameio_rmdir(fs, dir, &en);
		else if (unlinkat(dfd, en.backing, 0) < 0)
			rc = -errno;
		sfs_itable_unlink_end(fs->inodes, &at, left, rc == 0);
		sfs_linkio_unlink_end(fs, &gone);
	}
	if (rc == 0)
		sfs_nameio_release(fs, dir, &en);
	if (dfd >= 0)
		sfs_inode_fd_put(fs->inodes, dir);
	reply_rc(req, rc);
}

static void sfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, false);
}

static void sfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, true);
}

static void sfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		       fuse_ino_t newparent, const char *newname,
		       unsigned int flags)
{
	struct sfs_fs *fs = fs_of(req);
	struct sfs_inode *dir = inode_of(req, parent);
	struct sfs_inode *newdir = inode_of(req, newparent);
	struct sfs_replaced replaced = {.fd = -1};
	struct sfs_unlinked gone = {.fd = -1};
	int dfd = sfs_inode_fd_get(fs->inodes, dir), ndfd = -1, rc;
	bool replaces = !(flags & (RENAME_EXCHANGE | RENAME_NOREPLACE));
	struct sfs_ename en, newen;
	bool sidecar = false;

	if (dfd >= 0)
		ndfd = sfs_inode_fd_get(fs->inodes, newdir);
	rc = dfd < 0 ? dfd : ndfd < 0 ? ndfd : 0;
	if (rc == 0)
		rc = encode_existing(fs, dir, name, &en);
	if (rc == 0)
		rc = sfs_nameio_encode(fs, newdir, newname, &newen);
	if (rc == 0)
		rc = sfs_nameio_prepare(fs, newdir, &newen, &sidecar);
	if (rc < 0)
		goto out;
	if (replaces)
		rc = sfs_nameio_prepare_replace(fs, dir, &en, newdir, &newen,
						&replaced);
	if (rc == 0) {
		struct sfs_iname from = {dir, dfd, en.backing};
		struct sfs_iname to = {newdir, ndfd, newen.backing};

		struct sfs_inode *left = NULL;

		/* A replaced entry loses a name. */
		if (replaces) {
			sfs_linkio_unlink_begin(fs, ndfd, newen.backing, &gone);
			left = sfs_itable_unlink_begin(fs->inodes, &to);
		}
		sfs_itable_rename_begin(fs->inodes);
		if (renameat2(dfd, en.backing, ndfd, newen.backing, flags) < 0)
			rc = -errno;
		sfs_itable_rename_end(fs->inodes, rc == 0, flags, &from, &to);
		if (replaces) {
			sfs_itable_unlink_end(fs->inodes, &to, left, rc == 0);
			sfs_linkio_unlink_end(fs, &gone);
		}
	}
	sfs_nameio_finish_replace(&replaced, rc == 0);
	if (rc < 0) {
		if (sidecar)
			sfs_nameio_release(fs, newdir, &newen);
		goto out;
	}
	/* With RENAME_EXCHANGE both names still exist; a rename onto itself
	 * keeps its name. */
	if (!(flags & RENAME_EXCHANGE) &&
	    (dir != newdir || strcmp(en.backing, newen.backing) != 0))
		sfs_nameio_release(fs, dir, &en);
out:
	if (ndfd >= 0)
		sfs_inode_fd_put(fs->inodes, newdir);
	if (dfd >= 0)
		sfs_inode_fd_put(fs->inodes, dir);
	reply_rc(req, rc);
}

static int new_file(struct sfs_fs *fs, int fd, struct sfs_inode *inode,
		    struct fuse_file_info *fi)
{
	struct open_file *of = malloc(sizeof(*of));

	if (!of)
		return -ENOMEM;
	atomic_fetch_add(&fs->open_files, 1);
	atomic_fetch_add(&inode->open_files, 1);
	sfs_itable_other_fds(fs->inodes, 1);
	of->f.fd = fd;
	atomic_init(&of->f.dfd, SFS_DFD_UNOPENED);
	of->f.inode = inode;
	handle_add(fs, &of->h, false);
	fi->fh = (uintptr_t)of;
	/* The mount is exclusive: cached pages stay valid across opens. */
	fi->keep_cache = 1;
	return 0;
}

/* Closes and frees what new_file() made, once out of the list. */
static void close_file(struct sfs_fs *fs, struct open_file *of)
{
	atomic_fetch_sub(&of->f.inode->open_files, 1);
	sfs_file_close(fs, &of->f);
	free(of);
	atomic_fetch_sub(&fs->open_files, 1);
	sfs_itable_other_fds(fs->inodes, -1);
}

/* Closes a file handle: on release, or when the open's reply found its
 * caller gone. */
static void drop_file(struct sfs_fs *fs, struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;

	handle_remove(fs, &of->h);
	close_file(fs, of);
}

/* O_TRUNC of an existing file: truncation, and for a caller without
 * CAP_FSETID the set-ID bits too. */
static int truncate_on_open(fuse_req_t req, struct sfs_inode *inode, int fd)
{
	int rc = sfs_file_truncate(fs_of(req), inode, fd, 0);

	if (rc == 0 && sfs_fuseio_kill_suidgid())
		rc = drop_setid(req, fd);
	return rc;
}

static void sfs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode, struct fuse_file_info *fi)
{
	struct sfs_fs *fs = fs_of(req);
	struct sfs_inode *dir = inode_of(req, parent);
	int flags = sfs_file_backing_flags(fs, fi->flags) | O_NOFOLLOW;
	int dfd = sfs_inode_fd_get(fs->inodes, dir), fd = -1, rc;
	struct fuse_entry_param e;
	struct sfs_ename en;
	bool sidecar, existed = false;

	rc = dfd < 0 ? dfd : sfs_nameio_encode(fs, dir, name, &en);
	if (rc == 0)
		rc = sfs_nameio_prepare(fs, dir, &en, &sidecar);
	if (rc < 0)
		goto out;
	mode = creation_mode(req, dfd, mode);
	fd = openat(dfd, en.backing, flags | O_CREAT | O_EXCL, mode);
	if (fd < 0 && errno == EEXIST && !(fi->flags & O_EXCL)) {
		/* Someone created it since the kernel's lookup. */
		existed = true;
		fd = openat(dfd, en.backing, flags);
	}
	if (fd < 0) {
		rc = -errno;
		if (sidecar)
			sfs_nameio_release(fs, dir, &en);
		goto out;
	}
	if (!existed)
		rc = set_owner(req, dfd, en.backing, mode);
	if (rc == 0)
		rc = lookup_at(fs, dir, dfd, en.backing, &e);
	if (rc < 0) {
		if (!existed) {
			unlinkat(dfd, en.backing, 0);
			sfs_nameio_release(fs, dir, &en);
		}
		goto out;
	}
	struct sfs_inode *inode = inode_of(req, e.ino);
	if (!existed)
		sfs_xattr_note_created(inode);
	if (existed && (fi->flags & O_TRUNC))
		rc = truncate_on_open(req, inode, fd);
	if (rc == 0)
		rc = new_file(fs, fd, inode, fi);
	if (rc < 0) {
		sfs_itable_forget(fs->inodes, inode, 1);
		goto out;
	}
	sfs_inode_fd_put(fs->inodes, dir);
	/* A caller interrupted meanwhile never gets the file: release it. */
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		drop_file(fs, fi);
		sfs_itable_forget(fs->inodes, inode, 1);
	}
	return;
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		sfs_inode_fd_put(fs->inodes, dir);
	reply_rc(req, rc);
}

static void sfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct sfs_fs *fs = fs_of(req);
	struct sfs_inode *inode = inode_of(req, ino);
	int pfd = sfs_inode_fd_get(fs->inodes, inode), fd, rc = 0;
	struct sfs_fdpath p;

	if (pfd < 0) {
		reply_rc(req, pfd);
		return;
	}
	/* Re-open through /proc: the inode's O_PATH fd cannot do I/O, and
	 * the path cannot be a symlink planted in the backing directory. */
	fd = open(sfs_fdpath(&p, pfd), sfs_file_backing_flags(fs, fi->flags));
	rc = fd < 0 ? -errno : 0;
	if (rc == 0 && (fi->flags & O_TRUNC))
		rc = truncate_on_open(req, inode, fd);
	/* Still held: counted open before it may be parked again. */
	if (rc == 0)
		rc = new_file(fs, fd, inode, fi);
	sfs_inode_fd_put(fs->inodes, inode);
	if (rc < 0) {
		if (fd >= 0)
			close(fd);
		reply_rc(req, rc);
		return;
	}
	if (fuse_reply_open(req, fi) == -ENOENT)
		drop_file(fs, fi); /* the caller was interrupted meanwhile */
}

static void sfs_release(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	(void)ino;
	drop_file(fs_of(req), fi);
	fuse_reply_err(req, 0);
}

static void sfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		      struct fuse_file_info *fi)
{
	int fd = file_of(fi)->fd;

	(void)ino;
	reply_rc(req, (datasync ? fdatasync(fd) : fsync(fd)) < 0 ? -errno : 0);
}

static void sfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	/* req is gone once replied to: take what we need first. */
	struct sfs_fs *fs = fs_of(req);
	size_t cap = 0;
	uint8_t *data, *dst = sfs_uring_reply_buffer(&cap);
	ssize_t n;

	(void)ino;
	atomic_fetch_add(&fs->read_ops, 1);
	if (!fs->encrypted && !dst) {
		/* Passthrough: let libfuse splice straight from the backing
		 * file, no copy through our memory. */
		struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
		struct stat st;

		/* The splice does not say how much it moved: count what the
		 * file holds there. */
		if (fstat(file_of(fi)->fd, &st) == 0 && st.st_size > off) {
			off_t left = st.st_size - off;

			if (left > (off_t)size)
				left = (off_t)size;
			atomic_fetch_add(&fs->bytes_read, (uint64_t)left);
		}
		buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		buf.buf[0].fd = file_of(fi)->fd;
		buf.buf[0].pos = off;
		fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
		return;
	}
	/* Encrypted, or an io_uring reply, which cannot be spliced: read
	 * into it. */
	n = sfs_file_read(fs, file_of(fi), size, off, dst, cap, &data);
	if (n < 0) {
		reply_rc(req, (int)n);
		return;
	}
	atomic_fetch_add(&fs->bytes_read, (uint64_t)n);
	fuse_reply_buf(req, (const char *)data, (size_t)n);
	/* Data in the ring buffer starts it, and uring.c wipes it once the
	 * kernel has it. */
	if (data != dst)
		sfs_file_read_done(data, (size_t)n);
}

static void sfs_write_buf(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_bufvec *in, off_t off,
			  struct fuse_file_info *fi)
{
	struct sfs_fs *fs = fs_of(req);
	size_t size = fuse_buf_size(in);
	const uint8_t *data;
	ssize_t n;

	(void)ino;
	if (size > fs->max_write) {
		fuse_reply_err(req, EMSGSIZE);
		return;
	}
	if (in->count == 1 && !(in->buf[0].flags & FUSE_BUF_IS_FD)) {
		data = in->buf[0].mem;
	} else {
		uint8_t *tmp = sfs_thread_buf(SFS_BUF_REQUEST, size);
		struct fuse_bufvec dst = FUSE_BUFVEC_INIT(size);

		if (!tmp) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		dst.buf[0].mem = tmp;
		n = fuse_buf_copy(&dst, in, 0);
		if (n < 0) {
			reply_rc(req, (int)n);
			return;
		}
		size = (size_t)n;
		data = tmp;
	}
	if (sfs_fuseio_kill_suidgid()) {
		int rc = drop_setid(req, file_of(fi)->fd);
		if (rc < 0) {
			reply_rc(req, rc);
			return;
		}
	}
	n = sfs_file_write(fs, file_of(fi), data, size, off);
	if (n < 0) {
		reply_rc(req, (int)n);
		return;
	}
	atomic_fetch_add(&fs->write_ops, 1);
	atomic_fetch_add(&fs->bytes_written, (uint64_t)n);
	fuse_reply_write(req, (size_t)n);
}

static void sfs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
			  off_t len, struct fuse_file_info *fi)
{
	int rc = 0;

	(void)ino;
	/* fallocate clears set-ID bits like a write, but the kernel sends no
	 * kill flag with it: a caller other than root stands for one without
	 * CAP_FSETID. */
	if (sfs_fuseio_killpriv() && fuse_req_ctx(req)->uid != 0)
		rc = drop_setid(req, file_of(fi)->fd);
	if (rc == 0)
		rc =
		    sfs_file_fallocate(fs_of(req), file_of(fi), mode, off, len);
	reply_rc(req, rc);
}

static void sfs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		      struct fuse_file_info *fi)
{
	off_t rc;

	(void)ino;
	rc = sfs_file_lseek(fs_of(req), file_of(fi), off, whence);
	if (rc < 0)
		reply_rc(req, (int)rc);
	else
		fuse_reply_lseek(req, rc);
}

/* A directory stream on dir in d, counted against the fd budget: kept as
 * the handle of an OPENDIR, or opened for one listing request when the
 * kernel holds no handle (dir_no_open). */
static int open_stream(struct sfs_fs *fs, struct sfs_inode *dir,
		       struct sfs_dirh *d)
{
	int fd = sfs_inode_fd_get(fs->inodes, dir), rc = 0;

	if (fd < 0)
		return fd;
	memset(d, 0, sizeof(*d));
	d->dp = sfs_opendir_at(fd);
	if (!d->dp)
		rc = -errno;
	sfs_inode_fd_put(fs->inodes, dir);
	if (rc == 0)
		sfs_itable_other_fds(fs->inodes, 1);
	return rc;
}

/* Closes and frees a directory handle of sfs_opendir, once out of the
 * list. */
static void close_dir(struct sfs_fs *fs, struct sfs_dirh *d)
{
	closedir(d->dp);
	free(d);
	sfs_itable_other_fds(fs->inodes, -1);
}

/* Closes a directory handle: on release, or when the open's reply found
 * its caller gone. */
static void drop_dir(struct sfs_fs *fs, struct sfs_dirh *d)
{
	handle_remove(fs, &d->h);
	close_dir(fs, d);
}

static void sfs_opendir(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	struct sfs_fs *fs = fs_of(req);
	struct sfs_dirh *d;
	int rc;

	if (fs->dir_no_open) {
		/* "Success, and no handle needed": the kernel stops sending
		 * OPENDIR and RELEASEDIR, and still caches listings. */
		fuse_reply_err(req, ENOSYS);
		return;
	}
	d = malloc(sizeof(*d));
	rc = d ? open_stream(fs, inode_of(req, ino), d) : -ENOMEM;
	if (rc < 0) {
		free(d);
		reply_rc(req, rc);
		return;
	}
	handle_add(fs, &d->h, true);
	fi->fh = (uintptr_t)d;
	/* The mount is exclusive: the kernel may keep directory listings, and
	 * drops them itself when we change the directory. */
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	if (fuse_reply_open(req, fi) == -ENOENT)
		drop_dir(fs, d); /* the caller was interrupted meanwhile */
}

static bool is_dot_or_dotdot(const char *name)
{
	return name[0] == '.' &&
	       (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/* One directory entry of the stream d on dir into the reply buffer.
 * Returns its size (which may exceed rem: then nothing was added) or
 * -errno; 0 means skip the entry. */
static ssize_t add_entry(fuse_req_t req, struct sfs_inode *dir,
			 struct sfs_dirh *d, char *p, size_t rem, bool plus)
{
	struct dirent *de = d->entry;
	struct sfs_fs *fs = fs_of(req);
	char name[NAME_MAX + 1];
	struct fuse_entry_param e = {0};
	size_t size;
	int rc;

	if (is_dot_or_dotdot(de->d_name)) {
		strcpy(name, de->d_name);
	} else {
		rc = sfs_nameio_decode(fs, dir, de->d_name, name);
		if (rc == 1 || rc == -EIO)
			return 0; /* ours, or undecryptable (logged) */
		if (rc < 0) /* short of fds or memory: fail, hide nothing */
			return rc;
	}
	e.attr.st_ino = de->d_ino;
	e.attr.st_mode = (mode_t)de->d_type << 12;
	if (!plus)
		return (ssize_t)fuse_add_direntry(req, p, rem, name, &e.attr,
						  de->d_off);
	if (!is_dot_or_dotdot(de->d_name)) {
		/* The stream's own fd: the inode's may be parked. */
		rc = lookup_at(fs, dir, dirfd(d->dp), de->d_name, &e);
		if (rc == -ENOENT || rc == -EXDEV)
			return 0; /* raced with an unlink, or a mount point */
		if (rc < 0)
			return rc;
	}
	size = fuse_add_direntry_plus(req, p, rem, name, &e, de->d_off);
	if (size > rem && e.ino)
		/* Did not fit: the kernel will not learn of this lookup. */
		sfs_itable_forget(fs->inodes, inode_of(req, e.ino), 1);
	else if (e.ino && S_ISDIR(e.attr.st_mode) &&
		 !is_dot_or_dotdot(de->d_name))
		/* Likely listed next (find, ls -R, rm -rf). */
		sfs_prefetch_dir(fs->prefetch, inode_of(req, e.ino));
	return (ssize_t)size;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t offset, struct fuse_file_info *fi, bool plus)
{
	struct sfs_dirh *d = (struct sfs_dirh *)(uintptr_t)fi->fh, once;
	struct sfs_inode *dir = inode_of(req, ino);
	struct sfs_fs *fs = fs_of(req);
	char *buf = malloc(size), *p = buf;
	size_t rem = size;
	int rc = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (!d) {
		rc = open_stream(fs, dir, &once);
		if (rc < 0) {
			free(buf);
			reply_rc(req, rc);
			return;
		}
		d = &once;
	}
	if (offset != d->offset) {
		seekdir(d->dp, offset);
		d->entry = NULL;
		d->offset = offset;
	}
	for (;;) {
		ssize_t n;

		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry) {
				rc = -errno;
				break;
			}
		}
		n = add_entry(req, dir, d, p, rem, plus);
		if (n < 0) {
			rc = (int)n;
			break;
		}
		if ((size_t)n > rem)
			break;
		p += n;
		rem -= (size_t)n;
		d->offset = d->entry->d_off;
		d->entry = NULL;
	}
	if (d == &once) {
		closedir(once.dp);
		sfs_itable_other_fds(fs->inodes, -1);
	}
	/* An error after some entries is reported on the next call. */
	if (rc < 0 && rem == size)
		reply_rc(req, rc);
	else
		fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

static void sfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			off_t offset, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, offset, fi, false);
}

static void sfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			    off_t offset, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, offset, fi, true);
}

static void sfs_releasedir(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	(void)ino;
	drop_dir(fs_of(req), (struct sfs_dirh *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void sfs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			 struct fuse_file_info *fi)
{
	struct sfs_dirh *d = (struct sfs_dirh *)(uintptr_t)fi->fh;
	struct sfs_fs *fs = fs_of(req);
	struct sfs_inode *dir = inode_of(req, ino);
	int fd, rc;

	if (d) {
		fd = dirfd(d->dp);
		reply_rc(req, (datasync ? fdatasync(fd) : fsync(fd)) < 0
				  ? -errno
				  : 0);
		return;
	}
	/* No handle (dir_no_open): fsync through a descriptor of our own. */
	fd = sfs_inode_fd_get(fs->inodes, dir);
	rc = fd < 0 ? fd : sfs_fsync_dir(fd);
	if (fd >= 0)
		sfs_inode_fd_put(fs->inodes, dir);
	reply_rc(req, rc);
}

static void sfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct sfs_inode_table *t = fs_of(req)->inodes;
	struct sfs_inode *inode = inode_of(req, ino);
	int fd = sfs_inode_fd_get(t, inode), rc = 0;
	struct statvfs sv;

	if (fd >= 0 && fstatvfs(fd, &sv) < 0)
		rc = -errno;
	if (fd >= 0)
		sfs_inode_fd_put(t, inode);
	else
		rc = fd;
	if (rc < 0) {
		reply_rc(req, rc);
		return;
	}
	/* Long names are stored under a hash: any NAME_MAX name fits. */
	sv.f_namemax = NAME_MAX;
	fuse_reply_statfs(req, &sv);
}

static void sfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			 const char *value, size_t size, int flags)
{
	reply_rc(req, sfs_xattr_set(fs_of(req), inode_of(req, ino), name, value,
				    size, flags));
}

/* getxattr and listxattr share the size-query protocol. */
static void reply_xattr(fuse_req_t req, ssize_t n, const char *buf, size_t size)
{
	if (n < 0)
		reply_rc(req, (int)n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

/* The root's virtual status attribute (fs/fuse/status.c), for scratchfs-ctl:
 * root and the daemon's own user only; never listed or stored. */
static void reply_status(fuse_req_t req, size_t size)
{
	uid_t uid = fuse_req_ctx(req)->uid;
	char buf[SFS_STATUS_MAX];
	ssize_t n;

	if (uid != 0 && uid != getuid()) {
		fuse_reply_err(req, EPERM);
		return;
	}
	n = sfs_status_json(fs_of(req), buf,
			    size < sizeof(buf) ? size : sizeof(buf));
	reply_xattr(req, n, buf, size);
}

static void sfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			 size_t size)
{
	char *buf;
	ssize_t n;

	if (ino == FUSE_ROOT_ID && strcmp(name, SFS_STATUS_XATTR) == 0) {
		reply_status(req, size);
		return;
	}
	buf = size ? malloc(size) : NULL;
	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = sfs_xattr_get(fs_of(req), inode_of(req, ino), name, buf, size);
	reply_xattr(req, n, buf, size);
	free(buf);
}

static void sfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *buf = size ? malloc(size) : NULL;
	ssize_t n;

	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = sfs_xattr_list(fs_of(req), inode_of(req, ino), buf, size);
	reply_xattr(req, n, buf, size);
	free(buf);
}

static void sfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	reply_rc(req, sfs_xattr_remove(fs_of(req), inode_of(req, ino), name));
}

static void sfs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct sfs_fs *fs = userdata;

	if (fs->writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	else
		fs->writeback = false;
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	/* chattr on directories too (sfs_ioctl). */
	if (conn->capable & FUSE_CAP_IOCTL_DIR)
		conn->want |= FUSE_CAP_IOCTL_DIR;
	/* ACLs as on the disk: the kernel enforces them and leaves the umask
	 * to us (creation_mode), since a default ACL replaces it. */
	if (fs->posix_acl && (conn->capable & FUSE_CAP_POSIX_ACL) &&
	    (conn->capable & FUSE_CAP_DONT_MASK))
		conn->want |= FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;
	else
		fs->posix_acl = false;
	if (!fs->encrypted)
		conn->want |= conn->capable &
			      (FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
	/* Listings always come with attributes: the kernel's "auto" mode
	 * switches to READDIR after the first batch, and every entry then
	 * costs a LOOKUP round trip of its own (find | xargs stat, rm -rf). */
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	fs->dir_no_open = conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT;
	/* Requests are read, never spliced, so fuseio.c sees every header. */
	conn->want &= ~FUSE_CAP_SPLICE_READ;
	conn->max_write = (unsigned int)fs->max_write;
}

/* Inode flags (chattr, lsattr) on the backing file or directory: the flag
 * word (FS_IOC_GETFLAGS, FS_IOC_SETFLAGS) and the struct fsxattr form the
 * kernel reads first (FS_IOC_FSGETXATTR, FS_IOC_FSSETXATTR). The kernel
 * has checked the caller's right to change them (CAP_LINUX_IMMUTABLE for
 * immutable and append-only). Returns the argument's size, 0 for another
 * command. */
static size_t flags_arg_size(unsigned int cmd)
{
	switch (cmd) {
	case FS_IOC_GETFLAGS:
	case FS_IOC_SETFLAGS:
		return sizeof(int);
	case FS_IOC_FSGETXATTR:
	case FS_IOC_FSSETXATTR:
		return sizeof(struct fsxattr);
	default:
		return 0;
	}
}

/* Blocks are rewritten in place, and with the writeback cache so are plain
 * files: an append-only backing file would refuse writes the mount must
 * make. */
static bool sets_append_only(const struct sfs_fs *fs, unsigned int cmd,
			     const void *arg)
{
	int flags;
	struct fsxattr fx;

	if (!fs->encrypted && !fs->writeback)
		return false;
	if (cmd == FS_IOC_SETFLAGS) {
		memcpy(&flags, arg, sizeof(flags));
		return flags & FS_APPEND_FL;
	}
	if (cmd == FS_IOC_FSSETXATTR) {
		memcpy(&fx, arg, sizeof(fx));
		return fx.fsx_xflags & FS_XFLAG_APPEND;
	}
	return false;
}

static void sfs_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd,
		      void *arg, struct fuse_file_info *fi, unsigned int flags,
		      const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
	struct sfs_fs *fs = fs_of(req);
	struct sfs_inode *inode = inode_of(req, ino);
	size_t size = flags_arg_size(cmd);
	bool set = cmd == FS_IOC_SETFLAGS || cmd == FS_IOC_FSSETXATTR;
	union {
		int flags;
		struct fsxattr fx;
	} buf = {0};
	struct sfs_fdpath p;
	struct stat st;
	int fd, pfd, rc = 0;

	(void)arg;
	(void)fi;
	if (flags & FUSE_IOCTL_COMPAT || size == 0)
		rc = -ENOTTY;
	else if (set ? in_bufsz < size : out_bufsz < size)
		rc = -EINVAL;
	else if (set)
		memcpy(&buf, in_buf, size);
	if (rc == 0 && set && sets_append_only(fs, cmd, &buf))
		rc = -EOPNOTSUPP;
	if (rc) {
		reply_rc(req, rc);
		return;
	}
	pfd = sfs_inode_fd_get(fs->inodes, inode);
	if (pfd < 0) {
		reply_rc(req, pfd);
		return;
	}
	/* Only files and directories: opening anything else could open a
	 * device. */
	if (fstat(pfd, &st) < 0)
		rc = -errno;
	else if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		rc = -ENOTTY;
	fd = rc ? -1
		: open(sfs_fdpath(&p, pfd), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (!rc && fd < 0)
		rc = -errno;
	sfs_inode_fd_put(fs->inodes, inode);
	if (!rc && ioctl(fd, cmd, &buf) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	if (rc)
		reply_rc(req, rc);
	else
		fuse_reply_ioctl(req, 0, set ? NULL : &buf, set ? 0 : size);
}

static const struct fuse_lowlevel_ops all_ops = {
    .init = sfs_init,
    .lookup = sfs_lookup,
    .forget = sfs_forget,
    .forget_multi = sfs_forget_multi,
    .getattr = sfs_getattr,
    .setattr = sfs_setattr,
    .readlink = sfs_readlink,
    .mknod = sfs_mknod,
    .mkdir = sfs_mkdir,
    .symlink = sfs_symlink,
    .link = sfs_link,
    .unlink = sfs_unlink,
    .rmdir = sfs_rmdir,
    .rename = sfs_rename,
    .create = sfs_create,
    .open = sfs_open,
    .release = sfs_release,
    /* No .flush: a write is in the backing file when it is answered, so
     * close has nothing to add; the ENOSYS answer tells the kernel to skip
     * the FLUSH round trip on every later close. */
    .fsync = sfs_fsync,
    .read = sfs_read,
    .write_buf = sfs_write_buf,
    .fallocate = sfs_fallocate,
    .lseek = sfs_lseek,
    .opendir = sfs_opendir,
    .readdir = sfs_readdir,
    .readdirplus = sfs_readdirplus,
    .releasedir = sfs_releasedir,
    .fsyncdir = sfs_fsyncdir,
    .statfs = sfs_statfs,
    .setxattr = sfs_setxattr,
    .getxattr = sfs_getxattr,
    .listxattr = sfs_listxattr,
    .removexattr = sfs_removexattr,
    .ioctl = sfs_ioctl,
};

void sfs_ops_fill(struct fuse_lowlevel_ops *ops, bool xattrs)
{
	*ops = all_ops;
	if (!xattrs) {
		ops->setxattr = NULL;
		ops->getxattr = NULL;
		ops->listxattr = NULL;
		ops->removexattr = NULL;
	}
}

void sfs_ops_close_handles(struct sfs_fs *fs)
{
	struct sfs_handle *h, *next;
	size_t files = 0, dirs = 0;

	pthread_mutex_lock(&fs->handles_lock);
	h = fs->handles;
	fs->handles = NULL;
	pthread_mutex_unlock(&fs->handles_lock);
	for (; h; h = next) {
		next = h->next;
		if (h->dir) {
			close_dir(fs, (struct sfs_dirh *)h);
			dirs++;
		} else {
			close_file(fs, (struct open_file *)h);
			files++;
		}
	}
	if (files || dirs)
		sfs_log(LOG_INFO,
			"closed %zu file and %zu directory handles the kernel "
			"never released",
			files, dirs);
}
