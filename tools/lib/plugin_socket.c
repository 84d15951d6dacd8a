/* plugin_socket.c - the plugin's listening unix socket: created with a
 * private mode, a stale file replaced, a live one (another plugin) never. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sfs_plugin.h"

static __attribute__((format(printf, 4, 5))) int
s_err(int rc, char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (err && err_len) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* Creates the parent directories of path (0755) when missing. */
static int make_parents(const char *path, char *err, size_t err_len)
{
	char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return s_err(-errno, err, err_len, "mkdir %s: %s", buf,
				     strerror(errno));
		*s = '/';
	}
	return 0;
}

/* 0 when nothing is at path (any more), else an error. */
static int clear_stale(const struct sockaddr_un *a, char *err, size_t err_len)
{
	struct stat st;
	int fd, rc;

	if (lstat(a->sun_path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return s_err(-errno, err, err_len, "%s: %s", a->sun_path,
			     strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		return s_err(-EEXIST, err, err_len,
			     "%s exists and is not a socket", a->sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return s_err(-errno, err, err_len, "socket: %s",
			     strerror(errno));
	rc = connect(fd, (const struct sockaddr *)a, sizeof(*a));
	if (rc == 0) {
		close(fd);
		return s_err(-EADDRINUSE, err, err_len,
			     "%s: another plugin is listening there",
			     a->sun_path);
	}
	rc = errno;
	close(fd);
	if (rc != ECONNREFUSED)
		return s_err(-rc, err, err_len, "%s: %s", a->sun_path,
			     strerror(rc));
	/* Nobody answers: left behind by a plugin that died. */
	if (unlink(a->sun_path) < 0 && errno != ENOENT)
		return s_err(-errno, err, err_len, "unlink %s: %s", a->sun_path,
			     strerror(errno));
	return 0;
}

int sfs_plugin_listen(const char *path, char *err, size_t err_len)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	mode_t old;
	int fd, rc;

	if (path[0] != '/' || strlen(path) >= sizeof(a.sun_path))
		return s_err(-EINVAL, err, err_len,
			     "socket path must be absolute and shorter than "
			     "%zu bytes: %s",
			     sizeof(a.sun_path), path);
	strcpy(a.sun_path, path);
	rc = make_parents(path, err, err_len);
	if (!rc)
		rc = clear_stale(&a, err, err_len);
	if (rc)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return s_err(-errno, err, err_len, "socket: %s",
			     strerror(errno));
	/* Only root (the engine) may talk to the plugin: 0600 from birth. */
	old = umask(0177);
	rc = bind(fd, (const struct sockaddr *)&a, sizeof(a));
	umask(old);
	if (rc < 0 || listen(fd, 128) < 0) {
		rc = -errno;
		close(fd);
		return s_err(rc, err, err_len, "%s: %s", path, strerror(-rc));
	}
	return fd;
}
