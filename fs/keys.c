/* keys.c - node master key providers: load or create the node key file. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sfs_keys.h"

const char *sfs_key_source_name(enum sfs_key_source s)
{
	switch (s) {
	case SFS_KEY_NONE:
		return "none";
	case SFS_KEY_EPHEMERAL:
		return "ephemeral";
	case SFS_KEY_KEYFILE:
		return "keyfile";
	}
	return "unknown";
}

static __attribute__((format(printf, 3, 4))) void
set_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (!err || err_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

static const char *file_type(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISLNK(m))
		return "a symlink";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	return "not a regular file";
}

/* fsyncs the directory that contains path (absolute). 0 or -errno. */
static int fsync_parent_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	int fd, rc = 0;

	snprintf(dir, sizeof(dir), "%.*s",
		 slash == path ? 1 : (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Opens dir for fsync, creating it (0700, one level only) when missing.
 * Returns an fd or -errno. */
static int open_parent(const char *dir, const char *path, char *err,
		       size_t err_len)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd >= 0 || errno != ENOENT)
		goto out;
	if (mkdir(dir, 0700) == 0) {
		/* Make the new directory itself durable too. */
		rc = fsync_parent_of(dir);
		if (rc) {
			set_err(err, err_len,
				"cannot create key file %s: fsync parent of "
				"%s: %s",
				path, dir, strerror(-rc));
			return rc;
		}
	} else if (errno != EEXIST) {
		rc = -errno;
		set_err(err, err_len, "cannot create key file %s: mkdir %s: %s",
			path, dir, strerror(-rc));
		return rc;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
out:
	if (fd < 0) {
		rc = -errno;
		set_err(err, err_len, "cannot create key file %s: %s: %s", path,
			dir, strerror(-rc));
		return rc;
	}
	return fd;
}

/* Creates a new key file holding key (SFS_KEY_BYTES). -EEXIST when someone
 * else created it first (the caller then reads theirs). */
static int create_key_file(const char *path, const uint8_t *key, char *err,
			   size_t err_len)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	size_t done = 0;
	int dfd, fd, rc = 0;

	/* path is absolute, so slash is non-NULL; "/x" has parent "/". */
	snprintf(dir, sizeof(dir), "%.*s",
		 slash == path ? 1 : (int)(slash - path), path);
	dfd = open_parent(dir, path, err, err_len);
	if (dfd < 0)
		return dfd;
	fd = openat(dfd, slash + 1,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		if (rc != -EEXIST)
			set_err(err, err_len, "cannot create key file %s: %s",
				path, strerror(-rc));
		close(dfd);
		return rc;
	}
	while (done < SFS_KEY_BYTES) {
		ssize_t n = write(fd, key + done, SFS_KEY_BYTES - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			break;
		}
		done += (size_t)n;
	}
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && fsync(dfd) != 0)
		rc = -errno;
	if (rc) {
		set_err(err, err_len, "cannot write key file %s: %s", path,
			strerror(-rc));
		/* A short key file would be refused forever; remove it. */
		unlinkat(dfd, slash + 1, 0);
	}
	close(dfd);
	return rc;
}

/* Checks an opened key file and reads it into key. */
static int read_key_file(int fd, const char *path, uint8_t *key, char *err,
			 size_t err_len)
{
	struct stat st;
	size_t done = 0;
	int rc;

	if (fstat(fd, &st) != 0) {
		rc = -errno;
		set_err(err, err_len, "key file %s: %s", path, strerror(-rc));
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		set_err(err, err_len, "key file %s is %s", path,
			file_type(st.st_mode));
		return -EINVAL;
	}
	if (st.st_mode & 077) {
		set_err(err, err_len,
			"key file %s is accessible by group or others "
			"(mode %04o): chmod 600 %s",
			path, (unsigned int)(st.st_mode & 07777), path);
		return -EPERM;
	}
	/* As root, a key file someone else owns could have been planted. */
	if (geteuid() == 0 && st.st_uid != 0) {
		set_err(err, err_len,
			"key file %s is owned by uid %u, not root: chown root "
			"%s",
			path, (unsigned int)st.st_uid, path);
		return -EPERM;
	}
	if (st.st_size != SFS_KEY_BYTES) {
		set_err(err, err_len, "key file %s has %lld bytes, expected %u",
			path, (long long)st.st_size, SFS_KEY_BYTES);
		return -EINVAL;
	}
	/* read(2), not stdio: no copies of the key in stdio buffers. */
	while (done < SFS_KEY_BYTES) {
		ssize_t n = read(fd, key + done, SFS_KEY_BYTES - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			set_err(err, err_len, "cannot read key file %s: %s",
				path, strerror(-rc));
			return rc;
		}
		if (n == 0) {
			set_err(err, err_len,
				"key file %s shrank while being read", path);
			return -EIO;
		}
		done += (size_t)n;
	}
	return 0;
}

int sfs_keys_load_nmk(const struct sfs_key_spec *spec, uint8_t **nmk, char *err,
		      size_t err_len)
{
	const char *path = spec->keyfile;
	uint8_t *key;
	int fd, rc;

	*nmk = NULL;
	if (spec->source != SFS_KEY_KEYFILE) {
		set_err(err, err_len, "key source %s has no node key",
			sfs_key_source_name(spec->source));
		return -EINVAL;
	}
	if (strnlen(path, sizeof(spec->keyfile)) == sizeof(spec->keyfile)) {
		set_err(err, err_len, "key file path is too long");
		return -ENAMETOOLONG;
	}
	if (path[0] != '/') {
		set_err(err, err_len, "key file %s: path must be absolute",
			path);
		return -EINVAL;
	}
	key = sfs_secret_alloc(SFS_KEY_BYTES);
	if (!key) {
		set_err(err, err_len, "key file %s: out of secret memory",
			path);
		return -ENOMEM;
	}

	/* Two rounds at most: a lost creation race sends us back to read. */
	for (int round = 0; round < 2; round++) {
		/* O_NONBLOCK: a FIFO planted here must not hang the mount. */
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd >= 0) {
			rc = read_key_file(fd, path, key, err, err_len);
			close(fd);
			goto out;
		}
		rc = -errno;
		if (rc == -ELOOP) {
			set_err(err, err_len,
				"key file %s is a symlink; refusing to follow "
				"it",
				path);
			goto out;
		}
		if (rc != -ENOENT) {
			set_err(err, err_len, "cannot open key file %s: %s",
				path, strerror(-rc));
			goto out;
		}
		/* Missing: create it. The key is generated straight into
		 * secret memory and written from there. */
		sfs_random(key, SFS_KEY_BYTES);
		rc = create_key_file(path, key, err, err_len);
		if (rc != -EEXIST)
			goto out;
	}
	set_err(err, err_len, "key file %s: keeps appearing and vanishing",
		path);
	rc = -EAGAIN;
out:
	if (rc) {
		sfs_secret_free(key);
		return rc;
	}
	*nmk = key;
	return 0;
}
