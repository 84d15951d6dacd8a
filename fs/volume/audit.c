/* audit.c - the audit trail: JSON lines to a file and/or syslog. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "sfs_audit.h"
#include "sfs_fs.h"
#include "sfs_log.h"
#include "sfs_sys.h"
#include "sfs_volume.h"

struct sfs_audit {
	int fd; /* -1: no file */
	char file[PATH_MAX];
	bool use_syslog;
	char prog[64];
	char host[256];
	/* SFS_AUDIT_FALLBACK, opened when no configured sink took a record;
	 * -1 before (or when it cannot be opened). Under fallback_lock. */
	int fallback_fd;
	bool fallback_tried;
	/* A failing file is reported once. */
	atomic_bool file_warned;
};

/* A missing syslog is reported once per process, whatever its sinks. */
static atomic_bool syslog_warned;

static pthread_mutex_t fallback_lock = PTHREAD_MUTEX_INITIALIZER;
/* Records that reached no sink at all, in this process. */
static atomic_uint_fast64_t dropped;

/* Set before the daemon starts serving and cleared after it stops, so the
 * worker threads only ever read them. */
static struct sfs_audit *global_sink;
static char global_volume_id[64];

static const char *open_error(int rc)
{
	return rc == -ELOOP    ? "is a symlink"
	       : rc == -EINVAL ? "not a regular file"
			       : strerror(-rc);
}

int sfs_audit_reopen(struct sfs_audit *a, char *err, size_t err_len)
{
	int fd;

	if (!a || a->fd < 0)
		return 0;
	fd = sfs_log_file_open(a->file);
	if (fd < 0) {
		sfs_set_err(err, err_len, "audit log %s: %s", a->file,
			    open_error(fd));
		return fd;
	}
	if (dup3(fd, a->fd, O_CLOEXEC) < 0) {
		int rc = -errno;

		close(fd);
		sfs_set_err(err, err_len, "audit log %s: %s", a->file,
			    strerror(-rc));
		return rc;
	}
	close(fd);
	return 0;
}

int sfs_audit_open(struct sfs_audit **out, const char *file, bool use_syslog,
		   const char *prog, char *err, size_t err_len)
{
	struct sfs_audit *a;
	int rc;

	*out = NULL;
	if (file && file[0] && file[0] != '/') {
		sfs_set_err(err, err_len,
			    "audit log %s: must be an absolute path", file);
		return -EINVAL;
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		sfs_set_err(err, err_len, "audit log: out of memory");
		return -ENOMEM;
	}
	a->fd = -1;
	a->fallback_fd = -1;
	a->use_syslog = use_syslog;
	snprintf(a->prog, sizeof(a->prog), "%s",
		 prog ? prog : program_invocation_short_name);
	if (gethostname(a->host, sizeof(a->host) - 1) != 0)
		a->host[0] = '\0';
	if (file && file[0]) {
		if (strlen(file) >= sizeof(a->file)) {
			sfs_set_err(err, err_len, "audit log: path too long");
			free(a);
			return -ENAMETOOLONG;
		}
		strcpy(a->file, file);
		a->fd = sfs_log_file_open(file);
		if (a->fd < 0) {
			rc = a->fd;
			sfs_set_err(err, err_len, "audit log %s: %s", file,
				    open_error(rc));
			free(a);
			return rc;
		}
	}
	*out = a;
	return 0;
}

void sfs_audit_close(struct sfs_audit *a)
{
	if (!a)
		return;
	if (global_sink == a)
		global_sink = NULL;
	if (a->fd >= 0)
		close(a->fd);
	if (a->fallback_fd >= 0)
		close(a->fallback_fd);
	free(a);
}

json_t *sfs_audit_string(const char *s)
{
	json_t *j;
	char *copy;

	if (!s)
		s = "";
	j = json_string(s);
	if (j)
		return j;
	copy = strdup(s);
	if (!copy)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

void sfs_audit_timestamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	char base[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03ldZ", base, ts.tv_nsec / 1000000);
}

json_t *sfs_audit_record(const struct sfs_audit *a, const char *event,
			 const char *time)
{
	char now[32];
	json_t *rec = json_object();
	int rc = 0;

	if (!rec)
		return NULL;
	if (!time) {
		sfs_audit_timestamp(now, sizeof(now));
		time = now;
	}
	rc |= json_object_set_new(rec, "time", json_string(time));
	rc |= json_object_set_new(rec, "event", json_string(event));
	rc |= json_object_set_new(
	    rec, "prog",
	    json_string(a ? a->prog : program_invocation_short_name));
	rc |= json_object_set_new(rec, "pid", json_integer(getpid()));
	if (a) {
		rc |= json_object_set_new(rec, "host", json_string(a->host));
	} else {
		char host[256] = "";

		if (gethostname(host, sizeof(host) - 1) != 0)
			host[0] = '\0';
		rc |= json_object_set_new(rec, "host", json_string(host));
	}
	if (rc) {
		json_decref(rec);
		return NULL;
	}
	return rec;
}

/* One line, newline included, in one write (so that concurrent appenders
 * never interleave), made durable: a record that vanishes in a crash is no
 * audit record. */
static int append_line(int fd, const char *line, size_t len)
{
	int rc = sfs_write_full(fd, line, len);

	if (rc == 0 && fdatasync(fd) != 0)
		rc = -errno;
	return rc;
}

static void warn_once(atomic_bool *warned, const char *fmt, const char *what,
		      int rc)
{
	if (!atomic_exchange(warned, true))
		sfs_log(LOG_WARNING, fmt, what, strerror(-rc),
			SFS_AUDIT_FALLBACK);
}

/* When no configured sink took a record, SFS_AUDIT_FALLBACK does. */
static int append_fallback(struct sfs_audit *a, const char *line, size_t len)
{
	int rc;

	pthread_mutex_lock(&fallback_lock);
	if (!a->fallback_tried) {
		a->fallback_tried = true;
		a->fallback_fd = sfs_log_file_open(SFS_AUDIT_FALLBACK);
		if (a->fallback_fd < 0)
			sfs_log(LOG_ERR,
				"audit: cannot open %s (%s): records that no "
				"configured sink takes are dropped and "
				"counted",
				SFS_AUDIT_FALLBACK, strerror(-a->fallback_fd));
	}
	rc = a->fallback_fd < 0 ? a->fallback_fd
				: append_line(a->fallback_fd, line, len);
	pthread_mutex_unlock(&fallback_lock);
	return rc;
}

int sfs_audit_write_record(struct sfs_audit *a, const json_t *rec)
{
	bool delivered = false;
	char *line;
	size_t len;
	int rc = 0, src;

	if (!a || (!a->use_syslog && a->fd < 0))
		return 0;
	line = json_dumps(rec, JSON_COMPACT | JSON_REAL_PRECISION(12));
	if (!line) {
		atomic_fetch_add(&dropped, 1);
		return -ENOMEM;
	}
	if (a->use_syslog) {
		src = sfs_syslog_send(LOG_AUTHPRIV | LOG_NOTICE, a->prog, line);
		if (src == 0)
			delivered = true;
		else
			warn_once(&syslog_warned,
				  "audit: %s cannot take records (%s); each "
				  "goes to the audit file, else to %s",
				  "syslog", src);
	}
	len = strlen(line);
	line[len++] = '\n';
	if (a->fd >= 0) {
		rc = append_line(a->fd, line, len);
		if (rc == 0)
			delivered = true;
		else
			warn_once(
			    &a->file_warned,
			    "audit: the audit file %s failed (%s); records "
			    "go to syslog, or to %s",
			    a->file, rc);
	}
	/* Logged (append_fallback) and counted, but no error of the
	 * caller's: a wipe or a mount by a user with neither syslog nor a
	 * writable SFS_LOG_FALLBACK_DIR must still go through. */
	if (!delivered && append_fallback(a, line, len) != 0)
		atomic_fetch_add(&dropped, 1);
	free(line);
	return rc;
}

uint64_t sfs_audit_dropped(void)
{
	return atomic_load(&dropped);
}

int sfs_audit_write(struct sfs_audit *a, const char *event, json_t *fields)
{
	json_t *rec;
	int rc;

	if (!a) {
		json_decref(fields);
		return 0;
	}
	rec = sfs_audit_record(a, event, NULL);
	if (!rec) {
		json_decref(fields);
		return -ENOMEM;
	}
	if (fields && json_object_update(rec, fields) != 0) {
		json_decref(fields);
		json_decref(rec);
		return -ENOMEM;
	}
	json_decref(fields);
	rc = sfs_audit_write_record(a, rec);
	json_decref(rec);
	return rc;
}

void sfs_audit_set_global(struct sfs_audit *a, const char *volume_id)
{
	global_sink = a;
	snprintf(global_volume_id, sizeof(global_volume_id), "%s",
		 volume_id ? volume_id : "");
}

void sfs_audit_integrity(uint64_t ino, uint64_t block, const char *what)
{
	json_t *f;

	if (!global_sink)
		return;
	f = json_object();
	if (!f)
		return;
	json_object_set_new(f, "volume_id", json_string(global_volume_id));
	json_object_set_new(f, "inode", json_integer((json_int_t)ino));
	if (block != SFS_NO_BLOCK)
		json_object_set_new(f, "block",
				    json_integer((json_int_t)block));
	json_object_set_new(f, "what", sfs_audit_string(what));
	sfs_audit_write(global_sink, "integrity", f);
}

/* Volume fields shared by the daemon's records. */
static json_t *volume_fields(const struct sfs_volume_header *h,
			     const char *backing, const char *mountpoint)
{
	char id[2 * SFS_VOLUME_UUID_BYTES + 1];
	json_t *f = json_object();

	if (!f)
		return NULL;
	sfs_hex(id, h->uuid, SFS_VOLUME_UUID_BYTES);
	json_object_set_new(f, "volume_id", json_string(id));
	json_object_set_new(f, "backing", sfs_audit_string(backing));
	json_object_set_new(f, "mountpoint", sfs_audit_string(mountpoint));
	json_object_set_new(
	    f, "mode",
	    json_string(h->mode == SFS_MODE_ENCRYPTED ? "encrypted" : "plain"));
	json_object_set_new(f, "cipher",
			    json_string(h->mode == SFS_MODE_ENCRYPTED
					    ? sfs_aead_name(h->aead)
					    : "none"));
	json_object_set_new(f, "key_source",
			    json_string(sfs_key_source_name(h->key_source)));
	return f;
}

static void write_logged(struct sfs_audit *a, const char *event, json_t *f)
{
	int rc;

	if (!f) {
		sfs_log(LOG_ERR, "audit: %s record: out of memory", event);
		return;
	}
	rc = sfs_audit_write(a, event, f);
	if (rc)
		sfs_log(LOG_ERR, "audit: cannot write %s record: %s", event,
			strerror(-rc));
}

/* Writes a record of volume_fields plus key = value (none when value is
 * NULL); takes the reference to value. */
static void write_volume_record(struct sfs_audit *a, const char *event,
				const struct sfs_volume_header *h,
				const char *backing, const char *mountpoint,
				const char *key, json_t *value)
{
	json_t *f = volume_fields(h, backing, mountpoint);

	if (f && value)
		json_object_set_new(f, key, value);
	else
		json_decref(value);
	write_logged(a, event, f);
}

static bool ephemeral_key(const struct sfs_volume_header *h)
{
	return h->mode == SFS_MODE_ENCRYPTED &&
	       h->key_source == SFS_KEY_EPHEMERAL;
}

void sfs_audit_mount(struct sfs_audit *a, const struct sfs_volume_header *h,
		     const char *backing, const char *mountpoint, bool created)
{
	bool ephemeral = ephemeral_key(h);

	if (!a)
		return;
	write_volume_record(a, "mount", h, backing, mountpoint, "new_volume",
			    json_boolean(created));
	if (h->mode != SFS_MODE_ENCRYPTED || !(created || ephemeral))
		return;
	write_volume_record(
	    a, "key_create", h, backing, mountpoint, "key",
	    json_string(ephemeral ? "volume key: random, in daemon memory only"
				  : "volume key: random, wrapped in the header "
				    "keyslot"));
}

void sfs_audit_unmount(struct sfs_audit *a, const struct sfs_volume_header *h,
		       const char *backing, const char *mountpoint)
{
	if (!a)
		return;
	write_volume_record(
	    a, "unmount", h, backing, mountpoint, "keys_in_memory",
	    h->mode == SFS_MODE_ENCRYPTED ? json_string("wiped") : NULL);
	if (!ephemeral_key(h))
		return;
	write_volume_record(a, "key_destroy", h, backing, mountpoint, "key",
			    json_string("ephemeral volume key wiped from "
					"memory; it was never stored, so the "
					"volume's data is crypto-erased"));
}
