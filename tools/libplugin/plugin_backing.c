/* plugin_backing.c - a plugin volume's directories: layout, creation,
 * wipe (through the wipe engine) and removal. Nothing here deletes
 * recursively: everything but the wipe engine's tombstone is removed by
 * the wipe engine itself, and the rest is rmdir()ed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sfs_log.h"
#include "sfs_names.h"
#include "sfs_plugin_base.h"
#include "sfs_wipe.h"

int sfs_plugin_paths(const char *root, const char *name,
		     struct sfs_plugin_paths *p)
{
	int n;

	n = snprintf(p->dir, sizeof(p->dir), "%s/volumes/%s", root, name);
	if (n < 0 || (size_t)n >= sizeof(p->dir) - 16)
		return -ENAMETOOLONG;
	/* Fits: checked just above. */
	memcpy(p->backing, p->dir, (size_t)n);
	strcpy(p->backing + n, "/backing");
	memcpy(p->mnt, p->dir, (size_t)n);
	strcpy(p->mnt + n, "/mnt");
	return 0;
}

int sfs_plugin_mkdir_parents(const char *path, char *err, size_t err_len)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return sfs_err_rc(-errno, err, err_len, "mkdir %s: %s",
					  buf, strerror(errno));
		*s = '/';
	}
	return 0;
}

int sfs_plugin_mkdir(const char *path, char *err, size_t err_len)
{
	struct stat st;

	if (mkdir(path, 0700) == 0)
		return 0;
	if (errno != EEXIST)
		return sfs_err_rc(-errno, err, err_len, "mkdir %s: %s", path,
				  strerror(errno));
	/* A symlink planted here must not redirect the volume. */
	if (lstat(path, &st) < 0)
		return sfs_err_rc(-errno, err, err_len, "%s: %s", path,
				  strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return sfs_err_rc(-ENOTDIR, err, err_len,
				  "%s is not a directory (or is a symlink)",
				  path);
	return 0;
}

int sfs_plugin_backing_prepare(const struct sfs_plugin_paths *p, char *err,
			       size_t err_len)
{
	int rc = sfs_plugin_mkdir(p->dir, err, err_len);

	if (!rc)
		rc = sfs_plugin_mkdir(p->backing, err, err_len);
	if (!rc)
		rc = sfs_plugin_mkdir(p->mnt, err, err_len);
	return rc;
}

int sfs_plugin_backing_used(const struct sfs_plugin_paths *p)
{
	struct dirent *de;
	int fd, used = 0;
	DIR *d;

	fd = open(p->backing, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			used = 1;
			break;
		}
	}
	closedir(d);
	return used;
}

/* After a verified wipe only <backing>/.scratchfs/wiped is left. */
static int remove_wiped_backing(const char *backing, char *err, size_t err_len)
{
	char meta[PATH_MAX + 32], tomb[PATH_MAX + 64];

	snprintf(meta, sizeof(meta), "%s/%s", backing, SFS_VOLUME_DIR);
	snprintf(tomb, sizeof(tomb), "%s/%s", meta, SFS_WIPE_TOMBSTONE);
	if (unlink(tomb) < 0 && errno != ENOENT)
		return sfs_err_rc(-errno, err, err_len, "unlink %s: %s", tomb,
				  strerror(errno));
	if (rmdir(meta) < 0 && errno != ENOENT)
		return sfs_err_rc(-errno, err, err_len, "rmdir %s: %s", meta,
				  strerror(errno));
	if (rmdir(backing) < 0 && errno != ENOENT)
		return sfs_err_rc(-errno, err, err_len, "rmdir %s: %s", backing,
				  strerror(errno));
	return 0;
}

int sfs_plugin_backing_wipe(const struct sfs_plugin_paths *p,
			    const struct sfs_plugin_wipe_cfg *w, char *err,
			    size_t err_len)
{
	struct sfs_wipe_opts o = {
	    .passes = w->passes,
	    .discard = w->discard,
	    .lazy = true, /* the engine is done with it */
	    .audit = w->audit,
	    .audit_fields = w->audit_fields,
	};
	struct sfs_wipe_report *r;
	char why[512];
	int rc;

	rc = sfs_plugin_backing_used(p);
	if (rc < 0)
		return sfs_err_rc(rc, err, err_len, "%s: %s", p->backing,
				  strerror(-rc));
	if (rc == 0) {
		/* Never mounted (or already removed): nothing to erase. */
		if (rmdir(p->backing) < 0 && errno != ENOENT)
			return sfs_err_rc(-errno, err, err_len, "rmdir %s: %s",
					  p->backing, strerror(errno));
		return 0;
	}
	/* The report holds two PATH_MAX paths: keep it off thread stacks. */
	r = calloc(1, sizeof(*r));
	if (!r)
		return sfs_err_rc(-ENOMEM, err, err_len, "out of memory");
	rc = sfs_wipe_volume(p->backing, &o, r, why, sizeof(why));
	free(r);
	if (rc)
		return sfs_err_rc(rc, err, err_len, "wipe %s: %s", p->backing,
				  why);
	rc = remove_wiped_backing(p->backing, err, err_len);
	return rc ? rc : 1;
}

int sfs_plugin_backing_remove(const struct sfs_plugin_paths *p, char *err,
			      size_t err_len)
{
	if (rmdir(p->mnt) < 0 && errno != ENOENT)
		return sfs_err_rc(-errno, err, err_len, "rmdir %s: %s", p->mnt,
				  strerror(errno));
	if (rmdir(p->dir) < 0 && errno != ENOENT)
		return sfs_err_rc(-errno, err, err_len, "rmdir %s: %s", p->dir,
				  strerror(errno));
	return 0;
}
