/* sfs_plugin_base.h - what the container engines' plugin (scratchfs-volumed)
 * and the Slurm plugin (spank_scratchfs) share: one scratchfs daemon per
 * volume, and each volume's directories and wipe. */
#ifndef SFS_PLUGIN_BASE_H
#define SFS_PLUGIN_BASE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct sfs_audit;
struct json_t;

/*
 * plugin_mount.c - one scratchfs daemon per mounted volume.
 */

enum sfs_plugin_mstate {
	SFS_PLUGIN_NOT_MOUNTED = 0,
	SFS_PLUGIN_MOUNTED = 1,
	SFS_PLUGIN_STALE = 2, /* mounted, daemon dead (ENOTCONN) */
};

/* What mnt is: a mount (its st_dev differs from its parent's), a dead FUSE
 * mount, or a plain directory; -errno when it cannot be told (missing
 * directory: -ENOENT). */
int sfs_plugin_mount_state(const char *mnt);

/* Runs "scratchfs [-c conf] -o options BACKING MNT" (scratchfs daemonizes
 * and its first process exits once the mount is up; the daemon outlives
 * the plugin) and waits at most timeout_s seconds for it, then checks that
 * mnt is mounted. On failure the daemon's error line is in err. */
int sfs_plugin_mount_start(const char *scratchfs, const char *conf,
			   const char *options, const char *backing,
			   const char *mnt, unsigned int timeout_s, char *err,
			   size_t err_len);

/* Unmounts mnt: a busy mount is detached lazily (*lazy set), a mount that
 * is not there is fine (0). Never follows a symlink at mnt. After a normal
 * unmount, waits (at most a few seconds) for the daemon of that mount (a
 * process of the binary scratchfs whose last argument is mnt) to exit: its
 * exit is what destroys an ephemeral key. */
int sfs_plugin_mount_stop(const char *scratchfs, const char *mnt, bool *lazy,
			  char *err, size_t err_len);

/* The pid of the running scratchfs daemon (binary scratchfs, last argument
 * mnt), 0 when there is none. */
pid_t sfs_plugin_mount_daemon(const char *scratchfs, const char *mnt);

/*
 * plugin_backing.c - <root>/volumes/<name>/{backing,mnt}.
 */

struct sfs_plugin_paths {
	char dir[PATH_MAX];	/* <root>/volumes/<name> */
	char backing[PATH_MAX]; /* the volume's ciphertext */
	char mnt[PATH_MAX];	/* where scratchfs mounts it */
};

/* Fills p for the volume name under root; -ENAMETOOLONG. */
int sfs_plugin_paths(const char *root, const char *name,
		     struct sfs_plugin_paths *p);

/* Creates the missing parent directories of path (0755), not path itself;
 * 0 or -errno with a message naming the directory. */
int sfs_plugin_mkdir_parents(const char *path, char *err, size_t err_len);

/* Creates directory path (0700) unless it exists; 0 when it then is a
 * directory and not a symlink, else -errno with a message. */
int sfs_plugin_mkdir(const char *path, char *err, size_t err_len);

/* Creates (0700) whichever of dir, backing and mnt are missing. */
int sfs_plugin_backing_prepare(const struct sfs_plugin_paths *p, char *err,
			       size_t err_len);

/* 1 when the backing directory holds anything, 0 when it is empty or
 * missing, -errno. */
int sfs_plugin_backing_used(const struct sfs_plugin_paths *p);

/* How a backing directory is wiped: sfs_wipe_volume's options. */
struct sfs_plugin_wipe_cfg {
	unsigned int passes; /* plain volumes */
	bool discard;
	struct sfs_audit *audit;	   /* may be NULL */
	const struct json_t *audit_fields; /* sfs_wipe_opts' */
};

/* Wipes the volume in p->backing with the wipe engine (sfs_wipe_volume;
 * a busy mount is detached) and then removes the emptied backing
 * directory itself, so the next mount starts from nothing. Returns 1 when
 * a volume was wiped, 0 when the backing directory was missing or empty
 * (nothing to erase). Refuses (without touching it) a non-empty directory
 * that is not a scratchfs volume. */
int sfs_plugin_backing_wipe(const struct sfs_plugin_paths *p,
			    const struct sfs_plugin_wipe_cfg *w, char *err,
			    size_t err_len);

/* Removes mnt and dir once backing is gone (rmdir only: a mount point or a
 * non-empty directory stays and is an error). Missing ones are fine. */
int sfs_plugin_backing_remove(const struct sfs_plugin_paths *p, char *err,
			      size_t err_len);

#endif
