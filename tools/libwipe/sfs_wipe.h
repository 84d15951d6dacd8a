/* sfs_wipe.h - destroying a scratchfs volume: unmount, crypto-erase,
 * delete, verify, report. Used by scratchfs-wipe, scratchfs-run and the
 * Docker volume plugin.
 *
 * The sequence (each step timed separately in the report):
 *   1. resolve: PATH is a backing directory or a scratchfs mount point
 *      (found in /proc/self/mountinfo); a symlink, "/", a non-directory or
 *      a directory without <backing>/.scratchfs/volume is refused, except
 *      a finished or interrupted wipe (below) and an empty directory;
 *   2. unmount every fuse.scratchfs mount of that backing directory;
 *      busy: fail naming the holders, or detach lazily (opts.lazy); a stale
 *      mount (daemon dead, ENOTCONN) is always detached lazily, and so is
 *      one whose daemon does not answer a statfs within PROBE_MS (stopped
 *      or stuck; r->note says so). A mount point is never stat'ed: it is
 *      found in mountinfo from the real path of its parent, and probed
 *      only from a child process (sfs_call_bounded);
 *   3. erase, before any data file is touched: the daemons that served
 *      the volume must be gone (they exit after the unmount, wiping their
 *      keys; one that does not gets SIGTERM, then SIGKILL) - for an
 *      ephemeral volume that is the crypto-erase; the header with any
 *      wrapped keyslot (and a leftover volume.tmp) is overwritten (random,
 *      then zeros), fsynced and unlinked (only unlinked when hard-linked
 *      elsewhere: r->note says so); the node key is never touched
 *      (it is shared by every volume of the node);
 *   4. delete the tree with openat/unlinkat, one directory fd at a time:
 *      no symlink is followed, no other mount is entered (a mount inside,
 *      even a same-filesystem bind mount, is detached; one that cannot be
 *      is skipped and the wipe fails), then .scratchfs/quarantine/
 *      (what scratchfs-ctl fsck --quarantine moved there); plain volumes
 *      optionally get opts.passes overwrite passes first, and FITRIM when
 *      opts.discard;
 *   5. verify: not mounted, daemon gone, no header or keyslot, nothing
 *      left but an empty .scratchfs/ directory.
 *
 * What a wipe leaves: the backing directory holding only an empty
 * .scratchfs/ (the tombstone: a new mount accepts it as a fresh volume, so
 * a fixed recipe - fstab, plugin root - can reuse the directory). Wiping
 * that again is a no-op reported as already wiped; so is wiping a
 * completely empty directory (there is nothing to destroy). While a wipe
 * runs, .scratchfs/wiping (volume id, time; no key material) exists, so a
 * wipe that was interrupted is recognised and finished by the next one.
 */
#ifndef SFS_WIPE_H
#define SFS_WIPE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sfs_keys.h"
#include "sfs_volume.h"

struct sfs_audit;
struct json_t;

/* Kept from the first version of this header for its callers: the wipe
 * writes no tombstone file (a file in .scratchfs/ would make the next
 * mount refuse the directory); the tombstone is the empty .scratchfs/
 * itself. To remove a wiped backing directory: unlink this name (ENOENT
 * is expected), rmdir .scratchfs, rmdir the directory. */
#define SFS_WIPE_TOMBSTONE "wiped"

/* Most overwrite passes a wipe accepts. */
#define SFS_WIPE_MAX_PASSES 16U

enum sfs_wipe_method {
	SFS_WIPE_NOOP = 0,	       /* already wiped: nothing to do */
	SFS_WIPE_CRYPTO_ERASE = 1,     /* "crypto-erase" (encrypted volume) */
	SFS_WIPE_OVERWRITE_DELETE = 2, /* "overwrite+delete" (plain, passes) */
	SFS_WIPE_DELETE = 3,	       /* "delete" (plain, no passes) */
};

struct sfs_wipe_opts {
	unsigned int passes;	 /* plain volumes: overwrite passes, 0..16;
				    (the last pass writes zeros, the others
				    random bytes; hard-linked files are only
				    unlinked) */
	bool discard;		 /* plain volumes: FITRIM the backing fs */
	bool lazy;		 /* busy mount: detach it (MNT_DETACH) and stop
				    its daemon so the key dies now (holders
				    then get ENOTCONN) */
	bool progress;		 /* overwrite progress on stderr (a TTY) */
	struct sfs_audit *audit; /* NULL: no audit record */
	/* A JSON object whose members are added to the wipe record where
	 * it has no member of that name (a scheduler's job id, user, node);
	 * NULL: none. Not stolen. */
	const struct json_t *audit_fields;
};

enum sfs_wipe_daemon {
	SFS_WIPE_DAEMON_NONE = 0,	/* none was running */
	SFS_WIPE_DAEMON_EXITED = 1,	/* exited by itself after unmount */
	SFS_WIPE_DAEMON_TERMINATED = 2, /* needed SIGTERM */
	SFS_WIPE_DAEMON_KILLED = 3,	/* needed SIGKILL */
	SFS_WIPE_DAEMON_RUNNING = 4,	/* still there: wipe failed */
};

/* A process holding a busy mount. */
struct sfs_wipe_holder {
	int pid;
	char comm[32];
};

#define SFS_WIPE_MAX_HOLDERS 16

/* Filled as far as the wipe got, also on failure. Paths are the backing
 * directory and mount point (never names inside the volume). */
struct sfs_wipe_report {
	char volume_id[2 * SFS_VOLUME_UUID_BYTES + 1]; /* "" if unknown */
	char backing[PATH_MAX];
	char mountpoint[PATH_MAX]; /* "" when it was not mounted */
	bool header_found;
	enum sfs_mode mode;
	enum sfs_key_source key_source;
	enum sfs_wipe_method method;
	bool refused;	    /* not a volume (or bad path): untouched */
	bool already_wiped; /* no-op: tombstone or empty directory */
	bool half_wiped;    /* an interrupted wipe or volume creation */

	/* unmount */
	bool was_mounted;
	bool stale;	    /* daemon was dead (ENOTCONN) */
	bool lazy_detached; /* MNT_DETACH was used */
	int n_holders;
	struct sfs_wipe_holder holders[SFS_WIPE_MAX_HOLDERS];

	enum sfs_wipe_daemon daemon; /* what became of the daemon */

	/* what was destroyed */
	bool ephemeral_key_destroyed; /* daemon exited: key gone with it */
	bool header_destroyed;	      /* header overwritten + unlinked, no
					 copy left under another link */
	bool keyslot_destroyed;	      /* wrapped key overwritten + unlinked */
	uint64_t files_deleted;	      /* non-directories unlinked */
	uint64_t dirs_deleted;
	uint64_t bytes_deleted;	    /* st_size sum of unlinked files */
	uint64_t bytes_overwritten; /* over all passes */
	unsigned int passes;
	uint64_t mounts_detached; /* mounts found inside: detached */
	uint64_t mounts_skipped;  /* mounts inside that could not be */
	bool discarded;		  /* FITRIM succeeded */
	char discard_note[128];	  /* why not, when asked and not done */

	/* verification */
	bool verified;
	bool verify_not_mounted;
	bool verify_no_key;
	bool verify_no_files;

	/* durations in milliseconds */
	double resolve_ms;
	double unmount_ms;
	double erase_ms; /* key destruction only: O(1) in data size */
	double overwrite_ms;
	double delete_ms;
	double discard_ms;
	double verify_ms;
	double total_ms;

	char started[32]; /* when the wipe began (RFC 3339 UTC) */
	char time[32];	  /* when the record was made (RFC 3339 UTC) */
	/* The backing filesystem's type, device and major:minor, from
	 * /proc/self/mountinfo ("" when unknown). */
	char fstype[32];
	char device[256];
	char devno[24];
	char note[256];	 /* e.g. why it was a no-op; "" if nothing */
	char error[512]; /* "" on success */
};

/* Wipes the volume at path (its backing directory or a mount point of it).
 * Returns 0 when the volume is gone and verified (also for an already wiped
 * one: r->already_wiped), else a negative errno with a message in err:
 *   -EMEDIUMTYPE  not a scratchfs volume (refused, nothing touched)
 *   -ELOOP        path is a symlink (refused)
 *   -ENOTDIR      path is not a directory (refused)
 *   -EPERM        path is "/", or a mount point whose FUSE source is a
 *                 directory its mounter does not own (refused)
 *   -ENOENT       path does not exist (refused)
 *   -EBUSY        the mount is busy (holders in r), or another wipe of
 *                 the volume is running (flock on .scratchfs/): nothing
 *                 deleted
 *   -EIO          verification failed (something was left; see r)
 *   other         the failing step's errno; also when the wipe was
 *                 done and verified (r->verified) but the audit record
 *                 could not be written (e.g. -ENOSPC)
 * r is always filled (as far as it got; r->refused marks refusals) and,
 * with o->audit, one audit record is written for every attempt that got
 * past refusal. A concurrent wipe of the same volume (any process or
 * thread) gets -EBUSY. */
int sfs_wipe_volume(const char *path, const struct sfs_wipe_opts *o,
		    struct sfs_wipe_report *r, char *err, size_t err_len);

/* The report as the audit record: one JSON object, one line, no newline
 * ("time" = r->time, "event":"wipe", "prog", "pid", "host", then the
 * report's fields; durations as "*_ms"; "sanitization": the fields of a
 * NIST SP 800-88 certificate of sanitization, scratchfs-wipe(8)),
 * malloc'ed; free with free(). NULL on allocation failure. */
char *sfs_wipe_report_json(const struct sfs_wipe_report *r);

/* "crypto-erase", "overwrite+delete", "delete" or "none". */
const char *sfs_wipe_method_name(enum sfs_wipe_method m);

/* Finds the fuse.scratchfs mount whose source is backing (canonical path)
 * in /proc/self/mountinfo and copies its mount point to mnt. Returns 1 when
 * found, 0 when not mounted, -errno on error. */
int sfs_wipe_find_mount(const char *backing, char *mnt, size_t mnt_len);

/* Finds the backing directory of a fuse.scratchfs mount point. Returns 1
 * when path is such a mount point, 0 when not, -errno on error. */
int sfs_wipe_find_backing(const char *mountpoint, char *backing,
			  size_t backing_len);

#endif
