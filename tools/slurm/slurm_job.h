/* slurm_job.h - per-job scratch volumes for Slurm: the site's settings
 * (plugstack.conf arguments), and what the SPANK plugin does at job start,
 * in every task, at job end and when slurmd starts. Nothing here knows
 * SPANK: tools/slurm/spank_scratchfs.c is the glue.
 *
 * One job on one node has one volume: the backing directory
 * <backing_root>/job-<id> mounted by the real scratchfs daemon at
 * <mount_root>/job-<id>, owned by the job's user, mode 0700. Next to the
 * backing directory lives job-<id>.lock (taken by whoever creates or wipes
 * the volume), next to the mount point, when the job start failed,
 * job-<id>.error (the message its tasks print before they fail; not on the
 * backing disk, which may be the full one).
 *
 * Functions return 0 or a negative errno; those with err/err_len put a
 * one-line message there that names the job and the path.
 */
#ifndef SFS_SLURM_JOB_H
#define SFS_SLURM_JOB_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sfs_keys.h"

/* Where volumes live when the site says nothing (a local disk). */
#define SFS_SLURM_BASE "/var/lib/scratchfs-slurm"
#define SFS_SLURM_MAX_PARTITIONS 32
#define SFS_SLURM_NAME_MAX 64

struct sfs_slurm_cfg {
	char backing_root[PATH_MAX / 2]; /* default SFS_SLURM_BASE/backing */
	char mount_root[PATH_MAX / 2];	 /* default SFS_SLURM_BASE/mnt */
	char conf[PATH_MAX];		 /* scratchfs.conf; "" none */
	char scratchfs[PATH_MAX];	 /* the daemon binary */
	bool hbi;			 /* the cluster's default: true */
	struct {
		char name[SFS_SLURM_NAME_MAX];
		bool hbi;
	} part[SFS_SLURM_MAX_PARTITIONS]; /* hbi.NAME= overrides */
	unsigned int n_part;
	enum sfs_key_source key; /* default ephemeral */
	bool private_tmp;	 /* the job's /tmp is its scratch */
	bool allow_plain;	 /* users may ask for --scratchfs=plain */
	unsigned int mount_timeout_s;
};

/* Defaults, then the plugstack.conf arguments in order:
 *   backing_root=DIR mount_root=DIR conf=FILE scratchfs=BINARY
 *   hbi=1|0 hbi.PARTITION=1|0 key=ephemeral|keyfile|keyring|command
 *   private_tmp=0|1 allow_plain=0|1 mount_timeout=SECONDS
 * -EINVAL with a message naming the argument. */
int sfs_slurm_cfg_parse(struct sfs_slurm_cfg *c, int argc, char *const argv[],
			char *err, size_t err_len);

/* Whether users have a choice, so --scratchfs is offered: plain is
 * allowed, or some partition (or the cluster) defaults to plain. */
bool sfs_slurm_cfg_choice(const struct sfs_slurm_cfg *c);

/* The job option's value: NULL, "" or "hbi" ask for encryption, "plain"
 * for a passthrough volume; anything else is -EINVAL. */
int sfs_slurm_parse_request(const char *arg, bool *hbi, char *err,
			    size_t err_len);

struct sfs_slurm_job {
	uint32_t id;
	uid_t uid;
	gid_t gid;
	char user[SFS_SLURM_NAME_MAX];	    /* "" unknown */
	char node[SFS_SLURM_NAME_MAX];	    /* "" unknown */
	char partition[SFS_SLURM_NAME_MAX]; /* "" unknown */
	const char *request;		    /* --scratchfs value; NULL: none */
};

/* Whether job gets an encrypted volume: its partition's setting (else the
 * cluster's), raised by --scratchfs, lowered by --scratchfs=plain only
 * where allow_plain is set (else -EPERM with a message). */
int sfs_slurm_job_hbi(const struct sfs_slurm_cfg *c,
		      const struct sfs_slurm_job *job, bool *hbi, char *err,
		      size_t err_len);

/* The job's mount point (what SCRATCH_DIR names). -ENAMETOOLONG. */
int sfs_slurm_scratch_dir(const struct sfs_slurm_cfg *c, uint32_t id, char *out,
			  size_t len);

/* Job start (slurmd's prolog, root): wipes a leftover of the same job id,
 * mounts a fresh volume, gives it to the job's user. On failure nothing
 * of the volume is left and the message is also kept in job-<id>.error
 * for the job's tasks (sfs_slurm_job_check). */
int sfs_slurm_job_start(const struct sfs_slurm_cfg *c,
			const struct sfs_slurm_job *job, char *err,
			size_t err_len);

/* In a task, before it runs: 0 when the job's volume is mounted, alive and
 * owned by uid; else the reason (the job start's own message when it
 * failed). */
int sfs_slurm_job_check(const struct sfs_slurm_cfg *c, uint32_t id, uid_t uid,
			char *err, size_t err_len);

/* Makes the job's scratch tmp/ this process's /tmp: a private mount
 * namespace (no propagation back) with tmp/ bound over /tmp. */
int sfs_slurm_private_tmp(const struct sfs_slurm_cfg *c, uint32_t id, char *err,
			  size_t err_len);

/* Job end (slurmd's epilog, root; also after scancel, a time limit or a
 * dead slurmstepd): unmount, crypto-erase, delete, verify the volume with
 * the wipe engine, remove its directories, write the audit record (job
 * id, user, node). 0 also when there was no volume. */
int sfs_slurm_job_end(const struct sfs_slurm_cfg *c,
		      const struct sfs_slurm_job *job, char *err,
		      size_t err_len);

/* When slurmd starts (before it takes a job): wipes every volume whose job
 * has no slurmstepd on this node any more (a crash of slurmd and
 * slurmstepd, a reboot). Returns how many were wiped, or the first error
 * (the others are still tried). */
int sfs_slurm_sweep(const struct sfs_slurm_cfg *c, const char *node, char *err,
		    size_t err_len);

#endif
