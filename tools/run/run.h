/* run.h - what scratchfs-run's files share: the state of one run and the
 * steps main() takes (scratchfs-run.c: options; slots.c: where the volume
 * lives; job.c: mount, job, wipe, record). */
#ifndef SFS_RUN_H
#define SFS_RUN_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>

#include "sfs_audit.h"
#include "sfs_config.h"
#include "sfs_volume.h"
#include "sfs_wipe.h"

#define PROG "scratchfs-run"
#define EXIT_RUN_FAILED 125 /* usage, setup, mount or wipe failed */
#define EXIT_NOEXEC 126	    /* COMMAND found but not executable */
#define EXIT_NOTFOUND 127   /* COMMAND not found */
#define MAX_SLOTS 1000
#define KEPT_MARK "kept"

struct run {
	const char *conf;
	const char *opt_backing, *opt_mount;
	bool keep;
	char base[PATH_MAX - 512]; /* room for "/run-N/backing" etc. */
	char slot[PATH_MAX];	   /* "" unless a default slot is used */
	int slot_fd;		   /* locked slot directory, or -1 */
	int lock_fd;		   /* locked backing directory, or -1 */
	char backing[PATH_MAX];
	char mnt[PATH_MAX];
	int made_backing, made_mnt; /* directories created (with parents) */
	bool mounted;
	char volume_id[2 * SFS_VOLUME_UUID_BYTES + 1];
	struct sfs_config cfg;
	struct sfs_audit *audit;
	sigset_t sigs; /* blocked for the whole run, waited for */
};

/* slots.c */
/* Picks the backing directory and mount point (--backing/--mount, or a
 * free slot under the base, wiping the leftovers of killed runs on the
 * way) and locks them. 0, or -errno with the reason printed. */
int run_choose_dirs(struct run *run, struct sfs_wipe_report *r);
/* Wipes a leftover volume in the chosen backing directory; refuses one
 * that is not empty and holds no volume. 0 or -errno as above. */
int run_clear_leftover(struct run *run, struct sfs_wipe_report *r);
/* Whether path is an empty directory (*empty); false when it cannot be
 * read. */
bool run_dir_is_empty(const char *path, bool *empty);
/* Wipes the volume in backing into r: sfs_wipe_volume()'s result, the
 * outcome printed (quiet_noop: nothing when there was no volume). */
int run_wipe(const struct run *run, const char *backing, bool quiet_noop,
	     struct sfs_wipe_report *r);
/* Removes the slot directory slot (in the base, slot_fd its lock). */
void run_remove_slot(int slot_fd, const char *slot);

/* job.c */
/* Mounts a fresh volume at run->mnt. 0, or -errno with the reason
 * printed. */
int run_mount_volume(struct run *run);
/* A signal that arrived while it was blocked (before the job started):
 * its number, or 0. */
int run_pending_signal(const struct run *run);
/* Runs cmd with SCRATCH_DIR and TMPDIR set, forwarding signals; returns
 * its exit status as scratchfs-run exits with it. */
int run_job(struct run *run, char *const *cmd);
/* Unmounts and wipes (unless --keep) and removes what this run created.
 * 0, or the failed wipe's error. */
int run_finish(struct run *run, struct sfs_wipe_report *r);
/* The audit record of the run: cmd, its status, whether it was wiped. */
void run_audit(const struct run *run, const char *cmd, int status, bool wiped);

/* Removes what the run created of path (a real path): path and the levels
 * - 1 directories above it, while they are empty; gone already is fine. */
void run_remove_made(const char *path, int levels);

#endif
