/* slurm_cfg.c - the plugin's plugstack.conf arguments, the job option and
 * the choice of hbi for a job. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sfs_config.h"
#include "sfs_log.h"
#include "slurm_job.h"

#ifndef SFS_SBINDIR
#define SFS_SBINDIR "/usr/local/sbin"
#endif

/* An absolute path without "//", "." or ".." components or a trailing "/",
 * and not "/" itself: a root the plugin creates and wipes under. */
static bool clean_root(const char *p)
{
	if (p[0] != '/' || p[1] == '\0' || p[strlen(p) - 1] == '/' ||
	    strstr(p, "//") || strstr(p, "/./") || strstr(p, "/../"))
		return false;
	return strcmp(strrchr(p, '/'), "/.") && strcmp(strrchr(p, '/'), "/..");
}

static int set_path(char *dst, size_t len, const char *key, const char *v,
		    bool root, char *err, size_t err_len)
{
	if (root ? !clean_root(v) : v[0] != '/')
		return sfs_err_rc(-EINVAL, err, err_len,
				  "%s=%s: needs an absolute path%s", key, v,
				  root ? " (normalised, not /)" : "");
	if (strlen(v) >= len)
		return sfs_err_rc(-EINVAL, err, err_len,
				  "%s=%s: path is too long", key, v);
	snprintf(dst, len, "%s", v);
	return 0;
}

static int set_bool(bool *dst, const char *key, const char *v, char *err,
		    size_t err_len)
{
	if (sfs_config_parse_bool(v, dst) < 0)
		return sfs_err_rc(-EINVAL, err, err_len,
				  "%s=%s: expected 1 or 0 (yes/no, true/false)",
				  key, v);
	return 0;
}

static int set_partition(struct sfs_slurm_cfg *c, const char *name,
			 const char *v, char *err, size_t err_len)
{
	unsigned int i;

	if (!*name || strlen(name) >= SFS_SLURM_NAME_MAX)
		return sfs_err_rc(-EINVAL, err, err_len,
				  "hbi.%s: bad partition name", name);
	for (i = 0; i < c->n_part; i++)
		if (!strcmp(c->part[i].name, name))
			break;
	if (i == SFS_SLURM_MAX_PARTITIONS)
		return sfs_err_rc(-EINVAL, err, err_len,
				  "hbi.%s: more than %d partitions", name,
				  SFS_SLURM_MAX_PARTITIONS);
	snprintf(c->part[i].name, sizeof(c->part[i].name), "%s", name);
	if (i == c->n_part)
		c->n_part++;
	return set_bool(&c->part[i].hbi, "hbi.<partition>", v, err, err_len);
}

/* key=SOURCE, checked by the daemon's own option parser. */
static int set_key(struct sfs_slurm_cfg *c, const char *arg, char *err,
		   size_t err_len)
{
	struct sfs_config cfg;
	char why[256];

	sfs_config_defaults(&cfg);
	if (strchr(arg, ':') || strchr(arg, ',') ||
	    sfs_config_apply_option(&cfg, arg, why, sizeof(why)) != 1)
		return sfs_err_rc(
		    -EINVAL, err, err_len,
		    "%s: expected key=ephemeral, keyfile, keyring "
		    "or command (their paths come from the "
		    "scratchfs config file)",
		    arg);
	c->key = cfg.key.source;
	return 0;
}

static void defaults(struct sfs_slurm_cfg *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->backing_root, sizeof(c->backing_root), "%s/backing",
		 SFS_SLURM_BASE);
	snprintf(c->mount_root, sizeof(c->mount_root), "%s/mnt",
		 SFS_SLURM_BASE);
	snprintf(c->scratchfs, sizeof(c->scratchfs), "%s/scratchfs",
		 SFS_SBINDIR);
	c->hbi = true;
	c->key = SFS_KEY_EPHEMERAL;
	c->mount_timeout_s = 30;
}

static int parse_one(struct sfs_slurm_cfg *c, const char *arg, char *err,
		     size_t err_len)
{
	const char *eq = strchr(arg, '=');
	char key[64];
	const char *v;

	if (!eq || (size_t)(eq - arg) >= sizeof(key))
		return sfs_err_rc(-EINVAL, err, err_len,
				  "%s: expected NAME=VALUE", arg);
	snprintf(key, sizeof(key), "%.*s", (int)(eq - arg), arg);
	v = eq + 1;
	if (!strcmp(key, "backing_root"))
		return set_path(c->backing_root, sizeof(c->backing_root), key,
				v, true, err, err_len);
	if (!strcmp(key, "mount_root"))
		return set_path(c->mount_root, sizeof(c->mount_root), key, v,
				true, err, err_len);
	if (!strcmp(key, "conf"))
		return set_path(c->conf, sizeof(c->conf), key, v, false, err,
				err_len);
	if (!strcmp(key, "scratchfs"))
		return set_path(c->scratchfs, sizeof(c->scratchfs), key, v,
				false, err, err_len);
	if (!strcmp(key, "hbi"))
		return set_bool(&c->hbi, key, v, err, err_len);
	if (!strncmp(key, "hbi.", 4))
		return set_partition(c, key + 4, v, err, err_len);
	if (!strcmp(key, "key"))
		return set_key(c, arg, err, err_len);
	if (!strcmp(key, "private_tmp"))
		return set_bool(&c->private_tmp, key, v, err, err_len);
	if (!strcmp(key, "allow_plain"))
		return set_bool(&c->allow_plain, key, v, err, err_len);
	if (!strcmp(key, "mount_timeout")) {
		char *end;
		unsigned long n = strtoul(v, &end, 10);

		if (!*v || *end || n < 1 || n > 600)
			return sfs_err_rc(-EINVAL, err, err_len,
					  "mount_timeout=%s: expected 1..600 "
					  "seconds",
					  v);
		c->mount_timeout_s = (unsigned int)n;
		return 0;
	}
	return sfs_err_rc(-EINVAL, err, err_len, "%s: unknown setting", arg);
}

int sfs_slurm_cfg_parse(struct sfs_slurm_cfg *c, int argc, char *const argv[],
			char *err, size_t err_len)
{
	int rc;

	defaults(c);
	for (int i = 0; i < argc; i++) {
		rc = parse_one(c, argv[i], err, err_len);
		if (rc)
			return rc;
	}
	if (!c->conf[0] && access(SFS_DEFAULT_CONFIG, F_OK) == 0)
		snprintf(c->conf, sizeof(c->conf), "%s", SFS_DEFAULT_CONFIG);
	if (!strcmp(c->backing_root, c->mount_root) ||
	    !strncmp(c->mount_root, c->backing_root, strlen(c->backing_root)) ||
	    !strncmp(c->backing_root, c->mount_root, strlen(c->mount_root)))
		return sfs_err_rc(-EINVAL, err, err_len,
				  "backing_root %s and mount_root %s must not "
				  "contain each other",
				  c->backing_root, c->mount_root);
	return 0;
}

bool sfs_slurm_cfg_choice(const struct sfs_slurm_cfg *c)
{
	if (c->allow_plain || !c->hbi)
		return true;
	for (unsigned int i = 0; i < c->n_part; i++)
		if (!c->part[i].hbi)
			return true;
	return false;
}

int sfs_slurm_parse_request(const char *arg, bool *hbi, char *err,
			    size_t err_len)
{
	if (!arg || !*arg || !strcmp(arg, "hbi"))
		*hbi = true;
	else if (!strcmp(arg, "plain"))
		*hbi = false;
	else
		return sfs_err_rc(-EINVAL, err, err_len,
				  "--scratchfs=%s: expected --scratchfs "
				  "(encrypted) or --scratchfs=plain",
				  arg);
	return 0;
}

int sfs_slurm_job_hbi(const struct sfs_slurm_cfg *c,
		      const struct sfs_slurm_job *job, bool *hbi, char *err,
		      size_t err_len)
{
	bool want;
	int rc;

	*hbi = c->hbi;
	for (unsigned int i = 0; i < c->n_part; i++)
		if (!strcmp(c->part[i].name, job->partition))
			*hbi = c->part[i].hbi;
	if (!job->request)
		return 0;
	rc = sfs_slurm_parse_request(job->request, &want, err, err_len);
	if (rc)
		return rc;
	if (!want && *hbi && !c->allow_plain)
		return sfs_err_rc(
		    -EPERM, err, err_len,
		    "job %u: --scratchfs=plain is not allowed on partition "
		    "%s: this site requires encrypted scratch (hbi=1) there",
		    job->id, job->partition[0] ? job->partition : "(unknown)");
	*hbi = want;
	return 0;
}
