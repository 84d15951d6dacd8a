/* plugin_socket.c - the plugin's listening unix socket: created with a
 * private mode, a stale file replaced, a live one (another plugin) never. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sfs_log.h"
#include "sfs_plugin.h"

/* 0 when nothing is at path (any more), else an error. */
static int clear_stale(const struct sockaddr_un *a, char *err, size_t err_len)
{
	struct stat st;
	int fd, rc;

	if (lstat(a->sun_path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return sfs_err_rc(-errno, err, err_len, "%s: %s", a->sun_path,
				  strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		return sfs_err_rc(-EEXIST, err, err_len,
				  "%s exists and is not a socket", a->sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sfs_err_rc(-errno, err, err_len, "socket: %s",
				  strerror(errno));
	rc = connect(fd, (const struct sockaddr *)a, sizeof(*a));
	if (rc == 0) {
		close(fd);
		return sfs_err_rc(-EADDRINUSE, err, err_len,
				  "%s: another plugin is listening there",
				  a->sun_path);
	}
	rc = errno;
	close(fd);
	if (rc != ECONNREFUSED)
		return sfs_err_rc(-rc, err, err_len, "%s: %s", a->sun_path,
				  strerror(rc));
	/* Nobody answers: left behind by a plugin that died. */
	if (unlink(a->sun_path) < 0 && errno != ENOENT)
		return sfs_err_rc(-errno, err, err_len, "unlink %s: %s",
				  a->sun_path, strerror(errno));
	return 0;
}

int sfs_plugin_listen(const char *path, char *err, size_t err_len)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	mode_t old;
	int fd, rc;

	if (path[0] != '/' || strlen(path) >= sizeof(a.sun_path))
		return sfs_err_rc(
		    -EINVAL, err, err_len,
		    "socket path must be absolute and shorter than "
		    "%zu bytes: %s",
		    sizeof(a.sun_path), path);
	strcpy(a.sun_path, path);
	rc = sfs_plugin_mkdir_parents(path, err, err_len);
	if (!rc)
		rc = clear_stale(&a, err, err_len);
	if (rc)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sfs_err_rc(-errno, err, err_len, "socket: %s",
				  strerror(errno));
	/* Only root (the engine) may talk to the plugin: 0600 from birth. */
	old = umask(0177);
	rc = bind(fd, (const struct sockaddr *)&a, sizeof(a));
	umask(old);
	if (rc < 0 || listen(fd, 128) < 0) {
		rc = -errno;
		close(fd);
		return sfs_err_rc(rc, err, err_len, "%s: %s", path,
				  strerror(-rc));
	}
	return fd;
}
