/* ctl_status.c - scratchfs-ctl status: every scratchfs mount on the node,
 * with what its daemon reports (fs/fuse/status.c) or, for a dead daemon, what
 * the volume header says. Also the mountinfo and output helpers that verify
 * and fsck share. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "sfs_audit.h"
#include "sfs_ctl.h"
#include "sfs_keys.h"
#include "sfs_mountinfo.h"
#include "sfs_status.h"
#include "sfs_sys.h"
#include "sfs_volume.h"

/* A daemon that does not answer within this is reported unresponsive. */
#define QUERY_TIMEOUT_MS 5000
#define SHORT_ID 8

void sfs_ctl_unescape(char *s)
{
	sfs_mountinfo_unescape(s);
}

void sfs_ctl_escape(char *out, size_t cap, const char *s)
{
	size_t o = 0;

	if (cap == 0)
		return;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];
		size_t n;

		if (c < 0x20 || c == 0x7f || c == '\\')
			n = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", c);
		else {
			esc[0] = (char)c;
			n = 1;
		}
		if (o + n >= cap)
			break;
		memcpy(out + o, esc, n);
		o += n;
	}
	out[o] = '\0';
}

json_t *sfs_ctl_json_string(const char *s)
{
	/* The audit log already turns odd bytes into '?': one rule for both. */
	return sfs_audit_string(s);
}

void sfs_ctl_mounts_free(struct sfs_ctl_mount *mounts, long n)
{
	for (long i = 0; i < n; i++) {
		free(mounts[i].source);
		free(mounts[i].target);
	}
	free(mounts);
}

struct mount_list {
	struct sfs_ctl_mount *v;
	long n;
};

static int add_mount(const struct sfs_mountinfo *mi, void *arg)
{
	struct mount_list *l = arg;
	struct sfs_ctl_mount *nv;

	nv = realloc(l->v, (size_t)(l->n + 1) * sizeof(*l->v));
	if (!nv)
		return -ENOMEM;
	l->v = nv;
	/* Source and target come decoded. */
	l->v[l->n].source = strdup(mi->source);
	l->v[l->n].target = strdup(mi->target);
	l->n++;
	if (!l->v[l->n - 1].source || !l->v[l->n - 1].target)
		return -ENOMEM;
	return 0;
}

long sfs_ctl_mounts(const char *path, struct sfs_ctl_mount **mounts)
{
	struct mount_list l = {0};
	int rc = sfs_mountinfo_scratchfs(path, add_mount, &l);

	*mounts = NULL;
	if (rc < 0) {
		sfs_ctl_mounts_free(l.v, l.n);
		return rc;
	}
	*mounts = l.v;
	return l.n;
}

/*
 * Asking one daemon.
 */

enum state {
	ST_RUNNING,
	ST_STALE,	 /* daemon gone: ENOTCONN / ECONNABORTED / ECANCELED */
	ST_UNRESPONSIVE, /* no answer within QUERY_TIMEOUT_MS */
	ST_DENIED,	 /* EPERM / EACCES: not root, not the mounter */
	ST_ERROR,
};

static const char *const state_names[] = {
    [ST_RUNNING] = "running",
    [ST_STALE] = "stale",
    [ST_UNRESPONSIVE] = "unresponsive",
    [ST_DENIED] = "denied",
    [ST_ERROR] = "error",
};

struct mstat {
	const struct sfs_ctl_mount *m;
	enum state state;
	char error[256];
	json_t *daemon; /* the daemon's document, when running */
	bool have_hdr;	/* header read from the backing directory */
	struct sfs_volume_header hdr;
};

/* In a child of sfs_call_bounded: getxattr, then "O" + document or "E" +
 * errno in out. */
static ssize_t query_child(const void *mnt, void *out, size_t cap)
{
	char *buf = out;
	ssize_t n;
	int e;

	if (cap < 1 + sizeof(e))
		return -1;
	buf[0] = 'O';
	n = getxattr(mnt, SFS_STATUS_XATTR, buf + 1, cap - 1);
	if (n < 0) {
		e = errno;
		buf[0] = 'E';
		memcpy(buf + 1, &e, sizeof(e));
		n = sizeof(e);
	}
	return n + 1;
}

/* Reads the daemon's status document of mount point mnt into doc (cap
 * bytes, NUL-terminated). A hung daemon would block the caller for good
 * (FUSE waits are only killable, or not at all once the daemon took the
 * request), so a child process asks, and is killed after
 * QUERY_TIMEOUT_MS. Returns 0, -ETIMEDOUT or the getxattr error. */
static int query_daemon(const char *mnt, char *doc, size_t cap)
{
	char buf[SFS_STATUS_MAX + 1];
	ssize_t len;
	int e;

	len = sfs_call_bounded(query_child, mnt, buf, sizeof(buf),
			       QUERY_TIMEOUT_MS);
	if (len < 0)
		return (int)len;
	if ((size_t)len >= 1 + sizeof(e) && buf[0] == 'E') {
		memcpy(&e, buf + 1, sizeof(e));
		return e > 0 ? -e : -EIO;
	}
	if (len < 1 || buf[0] != 'O' || (size_t)len - 1 >= cap)
		return -EIO;
	memcpy(doc, buf + 1, (size_t)len - 1);
	doc[len - 1] = '\0';
	return 0;
}

static void read_header(struct mstat *s)
{
	char err[256];
	int fd;

	fd = open(s->m->source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	s->have_hdr = sfs_volume_read(fd, &s->hdr, err, sizeof(err)) == 0;
	close(fd);
}

static void probe(struct mstat *s)
{
	char doc[SFS_STATUS_MAX + 1];
	json_error_t jerr;
	int rc;

	rc = query_daemon(s->m->target, doc, sizeof(doc));
	switch (rc) {
	case 0:
		s->daemon = json_loads(doc, 0, &jerr);
		if (s->daemon && json_is_object(s->daemon)) {
			s->state = ST_RUNNING;
			return;
		}
		s->state = ST_ERROR;
		snprintf(s->error, sizeof(s->error),
			 "the daemon's status is not valid JSON");
		break;
	case -ETIMEDOUT:
		s->state = ST_UNRESPONSIVE;
		snprintf(s->error, sizeof(s->error),
			 "the daemon did not answer within %d s",
			 QUERY_TIMEOUT_MS / 1000);
		break;
	case -EPERM:
	case -EACCES:
		s->state = ST_DENIED;
		snprintf(s->error, sizeof(s->error),
			 "%s: only root or the user who mounted it may ask",
			 strerror(-rc));
		break;
	case -EOPNOTSUPP:
		/* Mounted with fuse.xattrs = false: the kernel answers for
		 * the daemon, which is there but cannot be asked. */
		s->state = ST_RUNNING;
		snprintf(s->error, sizeof(s->error),
			 "no live counters: mounted with fuse.xattrs = false");
		break;
	default:
		if (sfs_errno_dead_fuse(-rc)) {
			s->state = ST_STALE;
			snprintf(s->error, sizeof(s->error),
				 "daemon gone (%s): unmount it with "
				 "fusermount3 -u",
				 strerror(-rc));
			break;
		}
		/* e.g. ENODATA: a daemon without status support */
		s->state = ST_ERROR;
		snprintf(s->error, sizeof(s->error),
			 "cannot ask the daemon: %s", strerror(-rc));
		break;
	}
	json_decref(s->daemon);
	s->daemon = NULL;
	read_header(s);
}

/*
 * What to show, from the daemon when it answered, else from the header.
 */

static const char *dstr(const struct mstat *s, const char *key)
{
	json_t *v = s->daemon ? json_object_get(s->daemon, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static const char *mode_of(const struct mstat *s)
{
	if (s->daemon)
		return dstr(s, "mode");
	if (s->have_hdr)
		return s->hdr.mode == SFS_MODE_ENCRYPTED ? "encrypted"
							 : "plain";
	return NULL;
}

static const char *cipher_of(const struct mstat *s)
{
	if (s->daemon)
		return dstr(s, "cipher");
	if (s->have_hdr)
		return s->hdr.aead == SFS_AEAD_NONE
			   ? "none"
			   : sfs_aead_name(s->hdr.aead);
	return NULL;
}

static const char *key_source_of(const struct mstat *s)
{
	if (s->daemon)
		return dstr(s, "key_source");
	if (s->have_hdr)
		return sfs_key_source_name(s->hdr.key_source);
	return NULL;
}

/* key_id / volume_id as hex into buf (33 bytes), or NULL for none. */
static const char *id_of(const struct mstat *s, const char *key, char *buf)
{
	const uint8_t *id;

	if (s->daemon)
		return dstr(s, key);
	if (!s->have_hdr)
		return NULL;
	id = strcmp(key, "key_id") == 0 ? s->hdr.key_id : s->hdr.uuid;
	if (sfs_is_zero(id, SFS_KEY_ID_BYTES))
		return NULL;
	sfs_hex(buf, id, SFS_KEY_ID_BYTES);
	return buf;
}

static const char *const counters[] = {
    "read_ops",		  "write_ops",	"bytes_read",	  "bytes_written",
    "integrity_failures", "open_files", "uring_requests", "audit_dropped",
};

static bool counter(const struct mstat *s, const char *key, uint64_t *v)
{
	json_t *j = s->daemon ? json_object_get(s->daemon, key) : NULL;

	if (!json_is_integer(j) || json_integer_value(j) < 0)
		return false;
	*v = (uint64_t)json_integer_value(j);
	return true;
}

static int set_str(json_t *o, const char *key, const char *v)
{
	return json_object_set_new(o, key,
				   v ? sfs_ctl_json_string(v) : json_null());
}

static json_t *mount_json(const struct mstat *s)
{
	char kid[2 * SFS_KEY_ID_BYTES + 1], vid[2 * SFS_KEY_ID_BYTES + 1];
	json_t *o = json_object(), *c;
	int rc = 0;

	if (!o)
		return NULL;
	rc |= set_str(o, "mountpoint", s->m->target);
	rc |= set_str(o, "backing", s->m->source);
	rc |= set_str(o, "state", state_names[s->state]);
	if (s->state != ST_RUNNING || s->error[0])
		rc |= set_str(o, "error", s->error);
	if (s->daemon && json_is_integer(json_object_get(s->daemon, "pid")))
		rc |= json_object_set(o, "pid",
				      json_object_get(s->daemon, "pid"));
	else
		rc |= json_object_set_new(o, "pid", json_null());
	rc |= set_str(o, "mode", mode_of(s));
	rc |= set_str(o, "cipher", cipher_of(s));
	rc |= set_str(o, "key_source", key_source_of(s));
	rc |= set_str(o, "key_id", id_of(s, "key_id", kid));
	rc |= set_str(o, "volume_id", id_of(s, "volume_id", vid));
	rc |= set_str(o, "transport", dstr(s, "transport"));
	if (s->daemon) {
		c = json_object();
		for (size_t i = 0;
		     c && i < sizeof(counters) / sizeof(*counters); i++) {
			uint64_t v;

			if (counter(s, counters[i], &v))
				rc |= json_object_set_new(
				    c, counters[i],
				    json_integer((json_int_t)v));
		}
		rc |= json_object_set_new(o, "counters", c);
	} else {
		rc |= json_object_set_new(o, "counters", json_null());
	}
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int print_json(const struct mstat *v, long n)
{
	json_t *root = json_object(), *arr = json_array();
	char *text;
	int rc = 0;

	if (!root || !arr || json_object_set_new(root, "mounts", arr)) {
		json_decref(root);
		return -ENOMEM;
	}
	for (long i = 0; i < n && rc == 0; i++)
		if (json_array_append_new(arr, mount_json(&v[i])))
			rc = -ENOMEM;
	text = rc ? NULL : json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(root);
	if (!text)
		return -ENOMEM;
	printf("%s\n", text);
	free(text);
	return 0;
}

/* 1536 → "1.5K": bytes in powers of 1024, one decimal below 10. */
static void human_bytes(char *out, size_t cap, uint64_t v)
{
	static const char units[] = "BKMGTPE";
	double d = (double)v;
	int u = 0;

	while (d >= 1024 && u < 6) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, cap, "%lluB", (unsigned long long)v);
	else
		snprintf(out, cap, d < 10 ? "%.1f%c" : "%.0f%c", d, units[u]);
}

#define NCOLS 12

static void print_table(const struct mstat *v, long n)
{
	static const char *const head[NCOLS] = {
	    "MOUNTPOINT", "BACKING", "STATE", "MODE",	 "CIPHER", "KEY",
	    "KEY ID",	  "VOLUME",  "READ",  "WRITTEN", "INTEG",  "OPEN",
	};
	char cell[NCOLS][PATH_MAX];
	size_t width[NCOLS];
	int c;

	for (c = 0; c < NCOLS; c++)
		width[c] = strlen(head[c]);
	/* Two passes: widths, then rows. */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			for (c = 0; c < NCOLS; c++)
				printf("%-*s%s",
				       c == NCOLS - 1 ? 0 : (int)width[c],
				       head[c], c == NCOLS - 1 ? "\n" : "  ");
		}
		for (long i = 0; i < n; i++) {
			const struct mstat *s = &v[i];
			char kid[2 * SFS_KEY_ID_BYTES + 1],
			    vid[2 * SFS_KEY_ID_BYTES + 1];
			const char *k = id_of(s, "key_id", kid);
			const char *u = id_of(s, "volume_id", vid);
			const char *mode = mode_of(s);
			uint64_t x;

			sfs_ctl_escape(cell[0], PATH_MAX, s->m->target);
			sfs_ctl_escape(cell[1], PATH_MAX, s->m->source);
			snprintf(cell[2], PATH_MAX, "%s",
				 state_names[s->state]);
			snprintf(cell[3], PATH_MAX, "%s",
				 !mode				  ? "-"
				 : strcmp(mode, "encrypted") == 0 ? "hbi"
								  : "plain");
			snprintf(cell[4], PATH_MAX, "%s",
				 cipher_of(s) ? cipher_of(s) : "-");
			snprintf(cell[5], PATH_MAX, "%s",
				 key_source_of(s) ? key_source_of(s) : "-");
			snprintf(cell[6], PATH_MAX, "%.*s", SHORT_ID,
				 k ? k : "-");
			snprintf(cell[7], PATH_MAX, "%.*s", SHORT_ID,
				 u ? u : "-");
			if (counter(s, "bytes_read", &x))
				human_bytes(cell[8], PATH_MAX, x);
			else
				strcpy(cell[8], "-");
			if (counter(s, "bytes_written", &x))
				human_bytes(cell[9], PATH_MAX, x);
			else
				strcpy(cell[9], "-");
			if (counter(s, "integrity_failures", &x))
				snprintf(cell[10], PATH_MAX, "%llu",
					 (unsigned long long)x);
			else
				strcpy(cell[10], "-");
			if (counter(s, "open_files", &x))
				snprintf(cell[11], PATH_MAX, "%llu",
					 (unsigned long long)x);
			else
				strcpy(cell[11], "-");
			for (c = 0; c < NCOLS; c++) {
				if (pass == 0) {
					if (strlen(cell[c]) > width[c])
						width[c] = strlen(cell[c]);
					continue;
				}
				printf("%-*s%s",
				       c == NCOLS - 1 ? 0 : (int)width[c],
				       cell[c], c == NCOLS - 1 ? "\n" : "  ");
			}
		}
	}
	for (long i = 0; i < n; i++) {
		uint64_t dropped = 0;

		sfs_ctl_escape(cell[0], PATH_MAX, v[i].m->target);
		if (counter(&v[i], "audit_dropped", &dropped) && dropped)
			printf("%s: %llu audit records reached no sink (see "
			       "the daemon's log)\n",
			       cell[0], (unsigned long long)dropped);
		if (v[i].state == ST_RUNNING && !v[i].error[0])
			continue;
		printf("%s: %s\n", cell[0], v[i].error);
	}
}

static void status_usage(FILE *f)
{
	fprintf(f, "usage: scratchfs-ctl status [--json] [MOUNTPOINT]\n");
}

int sfs_ctl_status(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct sfs_ctl_mount *mounts = NULL;
	struct mstat *v = NULL;
	char want[PATH_MAX], esc[PATH_MAX];
	bool json = false;
	long n, k = 0;
	int c, ret = 0, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			status_usage(stdout);
			return 0;
		default:
			status_usage(stderr);
			return 2;
		}
	}
	if (argc - optind > 1) {
		status_usage(stderr);
		return 2;
	}
	if (optind < argc) {
		rc = sfs_mountpoint_realpath(argv[optind], want, NULL);
		if (rc < 0) {
			sfs_ctl_escape(esc, sizeof(esc), argv[optind]);
			fprintf(stderr, "scratchfs-ctl: %s: %s\n", esc,
				strerror(-rc));
			return 2;
		}
	}
	n = sfs_ctl_mounts(SFS_MOUNTINFO, &mounts);
	if (n < 0) {
		fprintf(stderr, "scratchfs-ctl: %s: %s\n", SFS_MOUNTINFO,
			strerror((int)-n));
		return 2;
	}
	v = calloc((size_t)n + 1, sizeof(*v));
	if (!v) {
		fprintf(stderr, "scratchfs-ctl: out of memory\n");
		sfs_ctl_mounts_free(mounts, n);
		return 2;
	}
	for (long i = 0; i < n; i++) {
		if (optind < argc && strcmp(mounts[i].target, want) != 0)
			continue;
		v[k].m = &mounts[i];
		probe(&v[k]);
		if (v[k].state != ST_RUNNING && v[k].state != ST_STALE)
			ret = 1;
		k++;
	}
	if (optind < argc && k == 0) {
		sfs_ctl_escape(esc, sizeof(esc), argv[optind]);
		fprintf(stderr, "scratchfs-ctl: %s is not a scratchfs mount\n",
			esc);
		ret = 2;
	} else if (json) {
		if (print_json(v, k) < 0) {
			fprintf(stderr, "scratchfs-ctl: out of memory\n");
			ret = 2;
		}
	} else if (k == 0) {
		printf("no scratchfs mounts\n");
	} else {
		print_table(v, k);
	}
	for (long i = 0; i < k; i++)
		json_decref(v[i].daemon);
	free(v);
	sfs_ctl_mounts_free(mounts, n);
	return ret;
}
