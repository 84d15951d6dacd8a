/* sfs_mountinfo.h - the mounts in /proc/self/mountinfo, split and decoded:
 * the one reader behind the daemon, the wipe engine, scratchfs-ctl and the
 * plugin. */
#ifndef SFS_MOUNTINFO_H
#define SFS_MOUNTINFO_H

#include <stdbool.h>

#define SFS_MOUNTINFO "/proc/self/mountinfo"
/* The daemon's FUSE subtype: its mounts are of type "fuse.scratchfs". */
#define SFS_FUSE_SUBTYPE "scratchfs"

/* Fields of one line; pointers into the line passed to the parser. */
struct sfs_mountinfo {
	char *devno;	  /* "major:minor" (3rd field) */
	char *target;	  /* the mount point (5th field), escapes decoded */
	char *fstype;	  /* 1st field after the "-" separator */
	char *source;	  /* 2nd field after "-", escapes decoded */
	char *super_opts; /* 3rd field after "-"; NULL when missing */
};

/* Splits one line in place (it is modified) into mi. 0, or -EINVAL when
 * the line has no "-" separator from the 7th field on followed by fstype
 * and source (mi->fstype and mi->source are then not both set). */
int sfs_mountinfo_parse(char *line, struct sfs_mountinfo *mi);

/* Calls fn for every mount of type fstype (every mount when NULL) that the
 * mountinfo file at path lists, as sfs_mountinfo_scratchfs does. */
int sfs_mountinfo_each(const char *path, const char *fstype,
		       int (*fn)(const struct sfs_mountinfo *mi, void *arg),
		       void *arg);

/* Calls fn for every scratchfs mount (fstype "fuse.scratchfs") the
 * mountinfo file at path lists, in its order, until fn returns non-zero;
 * lines that do not parse are skipped. mi points into a line buffer that
 * the next call reuses. Returns what fn returned last (0 after the last
 * mount), -errno when path cannot be opened, or -EIO on a read error. */
int sfs_mountinfo_scratchfs(const char *path,
			    int (*fn)(const struct sfs_mountinfo *mi,
				      void *arg),
			    void *arg);

/* Decodes the kernel's octal escapes of a mountinfo field (\040 for a
 * space, ...) in place. */
void sfs_mountinfo_unescape(char *s);

/* The mount point of a scratchfs mount of backing (a real path: the
 * source the daemon gives the kernel), the newest if several, into target
 * (PATH_MAX bytes). 0, -ENOENT when it is not mounted in this mount
 * namespace, or -errno. */
int sfs_mount_of_backing(const char *backing, char *target);

/* Whether e, the errno of a call on a FUSE mount, says its daemon is gone:
 * ENOTCONN; ECONNABORTED for a request in flight when the connection was
 * aborted; ECANCELED for one caught in the teardown of its io_uring queues
 * (the kernel ends those a moment after the daemon's death). */
bool sfs_errno_dead_fuse(int e);

/* realpath() of path into out (PATH_MAX bytes), also for a dead FUSE mount
 * point, which cannot be stat'ed (sfs_errno_dead_fuse()): then its parent is
 * resolved and its name appended, and *stale (when stale is not NULL) is set. 0
 * or -errno; -ENOTCONN when a dead path ends in ".", ".." or nothing to append.
 */
int sfs_mountpoint_realpath(const char *path, char *out, bool *stale);

/* The canonical path of path from its parent's realpath() and its last
 * component as given, without touching that component (a mount point whose
 * daemon is dead, stopped or stuck), into out (PATH_MAX bytes). 0 or
 * -errno; -ENOTCONN when the last component is ".", ".." or nothing. */
int sfs_realpath_by_parent(const char *path, char *out);

/* FUSE mounts start with 128 KiB of readahead, so a sequential reader gets
 * one 128 KiB request per round trip; with 4 MiB the kernel keeps several
 * 1 MiB (max_pages) requests in flight (measured here: cold 1 GiB read of an
 * hbi volume 128 MB/s at 128 KiB, 615 MB/s at 4 MiB). */
#define SFS_READ_AHEAD_KB 4096

/* Sets the readahead of the newest scratchfs mount at mountpoint (found in
 * /proc/self/mountinfo, so no request to the mount itself) to kb KiB.
 * 0, or -errno (the caller logs it: readahead is only a speed-up). */
int sfs_raise_readahead(const char *mountpoint, unsigned int kb);

#endif
