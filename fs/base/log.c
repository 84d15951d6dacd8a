/* log.c - diagnostics to stderr ("ident: message") or syslog, and the
 * fallback files under SFS_LOG_FALLBACK_DIR for when syslog is absent. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "sfs_log.h"

/* Set once by sfs_log_init() before any thread starts; read-only after. */
static bool log_to_syslog;
static char log_ident[64] = "scratchfs";

/* Our own client of the syslog socket, because glibc's syslog() drops a
 * message it cannot deliver without a word. */
static pthread_mutex_t syslog_lock = PTHREAD_MUTEX_INITIALIZER;
static char syslog_path[108] = "/dev/log";
static int syslog_fd = -1;

/* Where sfs_log() lines go when syslog fails: opened on first need. */
static pthread_mutex_t fallback_lock = PTHREAD_MUTEX_INITIALIZER;
static int fallback_fd = -1;
static bool fallback_tried;

void sfs_log_init(const char *ident, bool use_syslog)
{
	if (ident && *ident)
		snprintf(log_ident, sizeof(log_ident), "%s", ident);
	log_to_syslog = use_syslog;
}

void sfs_syslog_use_socket(const char *path)
{
	pthread_mutex_lock(&syslog_lock);
	snprintf(syslog_path, sizeof(syslog_path), "%s", path);
	if (syslog_fd >= 0)
		close(syslog_fd);
	syslog_fd = -1;
	pthread_mutex_unlock(&syslog_lock);
}

static int syslog_connect_locked(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memcpy(a.sun_path, syslog_path, sizeof(a.sun_path) - 1);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	syslog_fd = fd;
	return 0;
}

int sfs_syslog_send(int priority, const char *ident, const char *msg)
{
	char stamp[32], *line = NULL;
	time_t now = time(NULL);
	struct tm tm;
	int n, rc = -EIO;

	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
	n = asprintf(&line, "<%d>%s %s[%d]: %s", priority, stamp, ident,
		     (int)getpid(), msg);
	if (n < 0)
		return -ENOMEM;
	pthread_mutex_lock(&syslog_lock);
	/* A second try on a fresh connection: syslogd may have restarted. */
	for (int attempt = 0; attempt < 2; attempt++) {
		if (syslog_fd < 0 && (rc = syslog_connect_locked()) < 0)
			break;
		if (send(syslog_fd, line, (size_t)n, MSG_NOSIGNAL) == n) {
			rc = 0;
			break;
		}
		rc = -errno;
		close(syslog_fd);
		syslog_fd = -1;
	}
	pthread_mutex_unlock(&syslog_lock);
	free(line);
	return rc;
}

int sfs_log_file_open(const char *file)
{
	char dir[4096];
	const char *slash = strrchr(file, '/');
	struct stat st;
	int fd, rc = 0;

	/* The log's directory is created when missing (one level, 0750). */
	if (slash && slash != file &&
	    (size_t)snprintf(dir, sizeof(dir), "%.*s", (int)(slash - file),
			     file) < sizeof(dir) &&
	    mkdir(dir, 0750) != 0 && errno != EEXIST)
		return -errno;
	/* A regular file, never through a symlink, never blocking on a
	 * FIFO. */
	fd = open(file,
		  O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
		      O_CLOEXEC,
		  0600);
	if (fd < 0)
		/* ENXIO: a FIFO without a reader. */
		return errno == ENXIO ? -EINVAL : -errno;
	if (fstat(fd, &st) != 0)
		rc = -errno;
	else if (!S_ISREG(st.st_mode))
		rc = -EINVAL;
	else
		return fd;
	close(fd);
	return rc;
}

/* A line syslog did not take goes to SFS_LOG_FALLBACK_DIR/IDENT.log, the
 * first one after a note saying why; without that file, to stderr. */
static void log_fallback(const char *msg, int why)
{
	char path[sizeof(SFS_LOG_FALLBACK_DIR) + sizeof(log_ident) + 8];
	char stamp[32], *line = NULL;
	time_t now = time(NULL);
	struct tm tm;
	int n;

	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S%z", &tm);
	pthread_mutex_lock(&fallback_lock);
	if (!fallback_tried) {
		fallback_tried = true;
		snprintf(path, sizeof(path), "%s/%s.log", SFS_LOG_FALLBACK_DIR,
			 log_ident);
		fallback_fd = sfs_log_file_open(path);
		dprintf(fallback_fd >= 0 ? fallback_fd : 2,
			"%s %s[%d]: syslog (%s) is unavailable (%s); messages "
			"go %s\n",
			stamp, log_ident, (int)getpid(), syslog_path,
			strerror(-why),
			fallback_fd >= 0 ? "to this file" : "to stderr");
	}
	n = asprintf(&line, "%s %s[%d]: %s\n", stamp, log_ident, (int)getpid(),
		     msg);
	if (n > 0 &&
	    write(fallback_fd >= 0 ? fallback_fd : 2, line, (size_t)n) != n) {
		/* Nowhere left to say it. */
	}
	pthread_mutex_unlock(&fallback_lock);
	free(line);
}

void sfs_log(int priority, const char *fmt, ...)
{
	int saved_errno = errno; /* callers log and then return -errno */
	char msg[1024];
	va_list ap;
	int rc;

	/* Format first so the line goes out in one write and lines from
	 * different threads never interleave. */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!log_to_syslog)
		fprintf(stderr, "%s: %s\n", log_ident, msg);
	else if ((rc = sfs_syslog_send(LOG_DAEMON | priority, log_ident, msg)) <
		 0)
		log_fallback(msg, rc);
	errno = saved_errno;
}

void sfs_bug(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sfs_log(LOG_CRIT, "BUG: %s", msg);
	abort();
}

void sfs_set_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (!err || err_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

int sfs_err_rc(int rc, char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (err && err_len) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return rc;
}
