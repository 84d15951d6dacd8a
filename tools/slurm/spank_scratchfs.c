/* spank_scratchfs.c - the SPANK glue: which of the job's callbacks does
 * what (tools/slurm/slurm_job.c does it).
 *
 *   init in slurmd        sweep: wipe volumes whose job no longer runs
 *   init elsewhere        offer --scratchfs[=plain] where users may choose
 *   job_prolog (slurmd)   mount the job's volume, give it to the user; a
 *                         failure is kept for the tasks (returning it
 *                         would drain the node and requeue the job, and
 *                         the user would never see why)
 *   task_init_privileged  check the volume, or print why there is none
 *                         to the job's stderr and fail the task; set
 *                         SCRATCH_DIR and TMPDIR; private /tmp
 *   job_epilog (slurmd)   wipe (also after scancel, a time limit or a
 *                         killed slurmstepd); a failed wipe fails the
 *                         epilog, so Slurm drains the node
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <slurm/spank.h>

#include "slurm_job.h"

SPANK_PLUGIN(scratchfs, 1);

static int check_option(int val, const char *optarg, int remote);

/* struct spank_option holds char *, not const char *. */
static char opt_name[] = "scratchfs", opt_arginfo[] = "[plain]",
	    opt_usage[] = "Scratch for this job: encrypted (--scratchfs) or "
			  "plain passthrough (--scratchfs=plain), where the "
			  "site allows the choice";
static struct spank_option scratchfs_option = {
    opt_name, opt_arginfo, opt_usage, 2, 0, check_option};

static int check_option(int val, const char *optarg, int remote)
{
	char err[256];
	bool hbi;

	(void)val;
	(void)remote;
	if (sfs_slurm_parse_request(optarg, &hbi, err, sizeof(err)) == 0)
		return 0;
	slurm_error("scratchfs: %s", err);
	return -1;
}

static int load_cfg(struct sfs_slurm_cfg *c, int ac, char **av)
{
	char err[512];

	if (sfs_slurm_cfg_parse(c, ac, av, err, sizeof(err)) == 0)
		return 0;
	slurm_error("scratchfs: plugstack.conf: %s", err);
	return -1;
}

/* SLURMD_NODENAME in slurmd's prolog and epilog, else the host name. */
static void node_name(char *out, size_t len)
{
	const char *n = getenv("SLURMD_NODENAME");

	if (n && *n)
		snprintf(out, len, "%s", n);
	else if (gethostname(out, len) < 0)
		snprintf(out, len, "?");
	out[len - 1] = '\0';
}

/* The job as slurmd's prolog and epilog know it. */
static int job_of(spank_t sp, struct sfs_slurm_job *job)
{
	struct passwd pw, *res = NULL;
	const char *part = getenv("SLURM_JOB_PARTITION");
	char buf[1024];

	memset(job, 0, sizeof(*job));
	if (spank_get_item(sp, S_JOB_ID, &job->id) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_UID, &job->uid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_GID, &job->gid) != ESPANK_SUCCESS) {
		slurm_error("scratchfs: cannot get the job's id, uid and gid");
		return -1;
	}
	if (getpwuid_r(job->uid, &pw, buf, sizeof(buf), &res) == 0 && res) {
		snprintf(job->user, sizeof(job->user), "%s", pw.pw_name);
		/* sbatch --uid as root leaves the job's gid 0. */
		if (job->gid == 0 && job->uid != 0)
			job->gid = pw.pw_gid;
	}
	node_name(job->node, sizeof(job->node));
	if (part)
		snprintf(job->partition, sizeof(job->partition), "%s", part);
	return 0;
}

int slurm_spank_init(spank_t sp, int ac, char **av)
{
	struct sfs_slurm_cfg c;
	char err[1024], node[SFS_SLURM_NAME_MAX];
	int rc;

	if (load_cfg(&c, ac, av))
		return -1;
	if (spank_context() == S_CTX_SLURMD) {
		node_name(node, sizeof(node));
		rc = sfs_slurm_sweep(&c, node, err, sizeof(err));
		if (rc < 0) {
			/* A node that cannot wipe must not take jobs. */
			slurm_error("%s", err);
			return -1;
		}
		if (rc > 0)
			slurm_info("scratchfs: wiped %d scratch volume(s) left "
				   "by jobs that no longer run",
				   rc);
		return 0;
	}
	if (sfs_slurm_cfg_choice(&c) &&
	    spank_option_register(sp, &scratchfs_option) != ESPANK_SUCCESS) {
		slurm_error("scratchfs: cannot register --scratchfs");
		return -1;
	}
	return 0;
}

int slurm_spank_job_prolog(spank_t sp, int ac, char **av)
{
	struct sfs_slurm_cfg c;
	struct sfs_slurm_job job;
	char err[1024], *arg = NULL;

	if (load_cfg(&c, ac, av) || job_of(sp, &job))
		return -1;
	/* Slurm 22.05 hands a missing optional value on as "(null)". */
	if (sfs_slurm_cfg_choice(&c) &&
	    spank_option_getopt(sp, &scratchfs_option, &arg) == ESPANK_SUCCESS)
		job.request = arg && strcmp(arg, "(null)") ? arg : "";
	if (sfs_slurm_job_start(&c, &job, err, sizeof(err)) < 0)
		slurm_error("%s", err); /* the tasks fail with it */
	return 0;
}

int slurm_spank_task_init_privileged(spank_t sp, int ac, char **av)
{
	struct sfs_slurm_cfg c;
	char err[1024], dir[PATH_MAX], tmp[PATH_MAX + 8];
	uint32_t id;
	uid_t uid;

	if (load_cfg(&c, ac, av))
		return -1;
	if (spank_get_item(sp, S_JOB_ID, &id) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_UID, &uid) != ESPANK_SUCCESS) {
		fprintf(stderr, "scratchfs: cannot get the job's id and uid\n");
		return -1;
	}
	if (sfs_slurm_job_check(&c, id, uid, err, sizeof(err)) < 0 ||
	    (c.private_tmp &&
	     sfs_slurm_private_tmp(&c, id, err, sizeof(err)) < 0)) {
		/* The task's stderr is the job's error output. */
		fprintf(stderr, "%s\n", err);
		slurm_error("%s", err);
		return -1;
	}
	sfs_slurm_scratch_dir(&c, id, dir, sizeof(dir));
	snprintf(tmp, sizeof(tmp), "%s/tmp", dir);
	if (spank_setenv(sp, "SCRATCH_DIR", dir, 1) != ESPANK_SUCCESS ||
	    spank_setenv(sp, "TMPDIR", c.private_tmp ? "/tmp" : tmp, 1) !=
		ESPANK_SUCCESS) {
		fprintf(stderr, "scratchfs: cannot set SCRATCH_DIR/TMPDIR\n");
		return -1;
	}
	return 0;
}

int slurm_spank_job_epilog(spank_t sp, int ac, char **av)
{
	struct sfs_slurm_cfg c;
	struct sfs_slurm_job job;
	char err[1024];

	if (load_cfg(&c, ac, av) || job_of(sp, &job))
		return -1;
	if (sfs_slurm_job_end(&c, &job, err, sizeof(err)) < 0) {
		slurm_error("%s", err);
		return -1;
	}
	return 0;
}
