/* mountinfo.c - reading the scratchfs mounts of /proc/self/mountinfo (see
 * sfs_mountinfo.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sfs_mountinfo.h"

#define FSTYPE "fuse." SFS_FUSE_SUBTYPE

void sfs_mountinfo_unescape(char *s)
{
	char *o = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
				      (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
}

int sfs_mountinfo_parse(char *line, struct sfs_mountinfo *mi)
{
	char *save = NULL, *tok;
	int n = 0, after = -1; /* fields after the "-", once seen */

	memset(mi, 0, sizeof(*mi));
	for (tok = strtok_r(line, " \n", &save); tok;
	     tok = strtok_r(NULL, " \n", &save), n++) {
		if (after >= 0) {
			after++;
			if (after == 1)
				mi->fstype = tok;
			else if (after == 2)
				mi->source = tok;
			else if (after == 3)
				mi->super_opts = tok;
		} else if (n == 2) {
			mi->devno = tok;
		} else if (n == 4) {
			mi->target = tok;
		} else if (n >= 6 && strcmp(tok, "-") == 0) {
			after = 0;
		}
	}
	/* A source implies the separator, hence all fields before it. */
	if (!mi->source)
		return -EINVAL;
	sfs_mountinfo_unescape(mi->target);
	sfs_mountinfo_unescape(mi->source);
	return 0;
}

int sfs_mountinfo_each(const char *path, const char *fstype,
		       int (*fn)(const struct sfs_mountinfo *mi, void *arg),
		       void *arg)
{
	FILE *f = fopen(path, "re");
	struct sfs_mountinfo mi;
	char *line = NULL;
	size_t cap = 0;
	int rc = 0;

	if (!f)
		return -errno;
	while (rc == 0 && getline(&line, &cap, f) > 0) {
		if (sfs_mountinfo_parse(line, &mi) == 0 &&
		    (!fstype || strcmp(mi.fstype, fstype) == 0))
			rc = fn(&mi, arg);
	}
	if (rc == 0 && ferror(f))
		rc = -EIO;
	free(line);
	fclose(f);
	return rc;
}

int sfs_mountinfo_scratchfs(const char *path,
			    int (*fn)(const struct sfs_mountinfo *mi,
				      void *arg),
			    void *arg)
{
	return sfs_mountinfo_each(path, FSTYPE, fn, arg);
}

struct readahead_find {
	const char *mountpoint;
	char dev[32];
};

static int readahead_match(const struct sfs_mountinfo *mi, void *arg)
{
	struct readahead_find *r = arg;

	/* The last match is the newest mount there: ours. */
	if (strcmp(mi->target, r->mountpoint) == 0)
		snprintf(r->dev, sizeof(r->dev), "%s", mi->devno);
	return 0;
}

int sfs_raise_readahead(const char *mountpoint, unsigned int kb)
{
	struct readahead_find r = {.mountpoint = mountpoint};
	char path[96];
	int fd, rc;

	rc = sfs_mountinfo_scratchfs(SFS_MOUNTINFO, readahead_match, &r);
	if (rc < 0)
		return rc;
	if (!r.dev[0])
		return -ENOENT;
	snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", r.dev);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (dprintf(fd, "%u\n", kb) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

struct backing_find {
	const char *backing;
	char *target;
	bool found;
};

static int backing_match(const struct sfs_mountinfo *mi, void *arg)
{
	struct backing_find *b = arg;

	/* The last match is the newest mount. */
	if (strcmp(mi->source, b->backing) == 0) {
		snprintf(b->target, PATH_MAX, "%s", mi->target);
		b->found = true;
	}
	return 0;
}

int sfs_mount_of_backing(const char *backing, char *target)
{
	struct backing_find b = {.backing = backing, .target = target};
	int rc = sfs_mountinfo_scratchfs(SFS_MOUNTINFO, backing_match, &b);

	return rc < 0 ? rc : b.found ? 0 : -ENOENT;
}

bool sfs_errno_dead_fuse(int e)
{
	return e == ENOTCONN || e == ECONNABORTED || e == ECANCELED;
}

int sfs_mountpoint_realpath(const char *path, char *out, bool *stale)
{
	if (stale)
		*stale = false;
	if (realpath(path, out))
		return 0;
	if (!sfs_errno_dead_fuse(errno))
		return -errno;
	if (stale)
		*stale = true;
	return sfs_realpath_by_parent(path, out);
}

int sfs_realpath_by_parent(const char *path, char *out)
{
	char tmp[PATH_MAX], parent[PATH_MAX], real[PATH_MAX];
	const char *base;
	size_t len;
	char *slash;

	len = strlen(path);
	if (len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	while (len > 1 && tmp[len - 1] == '/')
		tmp[--len] = '\0';
	slash = strrchr(tmp, '/');
	if (!slash) {
		base = tmp;
		snprintf(parent, sizeof(parent), ".");
	} else {
		*slash = '\0';
		base = slash + 1;
		snprintf(parent, sizeof(parent), "%s",
			 slash == tmp ? "/" : tmp);
	}
	/* These name the dead mount itself or its parent, not an entry of a
	 * live parent. */
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return -ENOTCONN;
	/* Not into tmp: base may point there. */
	if (!realpath(parent, real))
		return -errno;
	if ((size_t)snprintf(out, PATH_MAX, "%s/%s",
			     strcmp(real, "/") == 0 ? "" : real,
			     base) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}
