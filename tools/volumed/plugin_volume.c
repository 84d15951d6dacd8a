/* plugin_volume.c - the volume lifecycle of scratchfs-volumed: Create,
 * Remove, Mount, Unmount, Path, Get, List and Activate, with the locking
 * that lets slow work on one volume (mounting, wiping) run while every
 * other request, above all Get, is answered at once.
 *
 * Locking: p->lock guards the state and every volume's fields; it is only
 * held for memory updates and the state file write, never across a mount,
 * unmount or wipe. A volume's op_lock serialises the slow operations on
 * that volume and is always taken before p->lock. A volume struct stays
 * allocated while pinned (pins, under p->lock), even after Remove.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sfs_crypto.h"
#include "sfs_log.h"
#include "sfs_plugin.h"
#include "sfs_volume.h"

/* A name as it may appear in a message: only if it is a valid name (the
 * answer is JSON-escaped, but it also goes to the log). */
static const char *shown(const char *name)
{
	return sfs_plugin_name_ok(name) ? name : "(invalid name)";
}

static int no_such(const char *name, char *err, size_t err_len)
{
	return sfs_err_rc(-ENOENT, err, err_len, "no such volume: %s",
			  shown(name));
}

/* Saves the state; a failure is logged and returned. Under p->lock. */
static int save_locked(struct sfs_plugin *p)
{
	char err[PATH_MAX + 128];
	int rc = sfs_plugin_state_save(&p->state, err, sizeof(err));

	if (rc)
		sfs_log(LOG_ERR, "cannot save state: %s", err);
	return rc;
}

/* The live volume called name, pinned; NULL when there is none. */
static struct sfs_plugin_vol *pin(struct sfs_plugin *p, const char *name)
{
	struct sfs_plugin_vol *v;

	if (!sfs_plugin_name_ok(name))
		return NULL;
	pthread_mutex_lock(&p->lock);
	v = sfs_plugin_state_find(&p->state, name);
	if (v)
		v->pins++;
	pthread_mutex_unlock(&p->lock);
	return v;
}

static void unpin(struct sfs_plugin *p, struct sfs_plugin_vol *v)
{
	bool free_it;

	pthread_mutex_lock(&p->lock);
	free_it = --v->pins == 0 && v->gone;
	pthread_mutex_unlock(&p->lock);
	if (free_it)
		sfs_plugin_vol_free(v);
}

static void paths_of(const struct sfs_plugin *p, const struct sfs_plugin_vol *v,
		     struct sfs_plugin_paths *pp)
{
	/* Checked at Create and load: root + a valid name always fits. */
	if (sfs_plugin_paths(p->root, v->name, pp)) {
		sfs_bug("paths of volume %s do not fit", v->name);
	}
}

static void set_mounted(struct sfs_plugin *p, struct sfs_plugin_vol *v,
			bool mounted)
{
	pthread_mutex_lock(&p->lock);
	if (v->mounted != mounted) {
		v->mounted = mounted;
		save_locked(p);
	}
	pthread_mutex_unlock(&p->lock);
}

/* path and its missing parents; path itself 0700 and not a symlink. */
static int mkdir_p(const char *path, char *err, size_t err_len)
{
	int rc = sfs_plugin_mkdir_parents(path, err, err_len);

	return rc ? rc : sfs_plugin_mkdir(path, err, err_len);
}

int sfs_plugin_open(struct sfs_plugin *p, const struct sfs_plugin_cfg *cfg,
		    char *err, size_t err_len)
{
	char path[PATH_MAX + 32];
	struct sfs_plugin_paths pp;
	bool changed = false;
	int rc;

	memset(p, 0, sizeof(*p));
	if (cfg->root[0] != '/' || strlen(cfg->root) >= sizeof(p->root) - 300)
		return sfs_err_rc(
		    -EINVAL, err, err_len,
		    "plugin root must be an absolute path of at most "
		    "%zu bytes: %s",
		    sizeof(p->root) - 301, cfg->root);
	strcpy(p->root, cfg->root);
	snprintf(p->conf, sizeof(p->conf), "%s", cfg->conf ? cfg->conf : "");
	snprintf(p->scratchfs, sizeof(p->scratchfs), "%s", cfg->scratchfs);
	p->encrypted_default = cfg->encrypted_default;
	p->key_default = cfg->key_default;
	p->live_restore = cfg->live_restore;
	p->mount_timeout_s = cfg->mount_timeout_s ? cfg->mount_timeout_s : 60;
	p->wipe = cfg->wipe;

	rc = mkdir_p(p->root, err, err_len);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "%s/volumes", p->root);
	rc = mkdir_p(path, err, err_len);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "%s/%s", p->root, SFS_PLUGIN_STATE_FILE);
	rc = sfs_plugin_state_load(&p->state, path, err, err_len);
	if (rc)
		return rc;
	/* Mounts that vanished (reboot, someone unmounted) or appeared
	 * (the plugin died between mounting and saving). */
	for (size_t i = 0; i < p->state.n; i++) {
		struct sfs_plugin_vol *v = p->state.vols[i];
		int ms;

		paths_of(p, v, &pp);
		ms = sfs_plugin_mount_state(pp.mnt);
		if (ms < 0 && ms != -ENOENT)
			sfs_log(LOG_WARNING, "volume %s: %s: %s", v->name,
				pp.mnt, strerror(-ms));
		if (ms < 0)
			ms = SFS_PLUGIN_NOT_MOUNTED;
		if (v->mounted != (ms != SFS_PLUGIN_NOT_MOUNTED)) {
			v->mounted = ms != SFS_PLUGIN_NOT_MOUNTED;
			changed = true;
			sfs_log(LOG_NOTICE, "volume %s: %s", v->name,
				v->mounted ? "found mounted"
					   : "no longer mounted");
		}
	}
	if (changed)
		save_locked(p);
	pthread_mutex_init(&p->lock, NULL);
	sfs_log(LOG_INFO, "%zu volumes in %s, epoch %llu", p->state.n, p->root,
		(unsigned long long)p->state.epoch);
	return 0;
}

void sfs_plugin_close(struct sfs_plugin *p)
{
	sfs_plugin_state_free(&p->state);
	pthread_mutex_destroy(&p->lock);
}

int sfs_plugin_activate(struct sfs_plugin *p, char *err, size_t err_len)
{
	uint64_t epoch;

	(void)err;
	(void)err_len;
	pthread_mutex_lock(&p->lock);
	epoch = ++p->state.epoch;
	/* A failed save is logged; the engine must still get its answer. */
	save_locked(p);
	pthread_mutex_unlock(&p->lock);
	sfs_log(LOG_INFO, "activated: epoch %llu", (unsigned long long)epoch);
	return 0;
}

int sfs_plugin_create(struct sfs_plugin *p, const char *name,
		      const json_t *opts, char *err, size_t err_len)
{
	struct sfs_plugin_opts o;
	struct sfs_plugin_paths pp;
	struct sfs_plugin_vol *v;
	int rc;

	if (!sfs_plugin_name_ok(name))
		return sfs_err_rc(
		    -EINVAL, err, err_len,
		    "invalid volume name: use 1..%u of "
		    "[A-Za-z0-9_.-], starting with a letter or digit",
		    SFS_PLUGIN_NAME_MAX);
	rc = sfs_plugin_opts_parse(opts, p->encrypted_default, p->key_default,
				   &o, err, err_len);
	if (rc)
		return rc;
	if (sfs_plugin_paths(p->root, name, &pp))
		return sfs_err_rc(-ENAMETOOLONG, err, err_len,
				  "volume name %s is too long for %s", name,
				  p->root);
	pthread_mutex_lock(&p->lock);
	v = sfs_plugin_state_find(&p->state, name);
	if (v) {
		rc = v->removing
			 ? sfs_err_rc(-EBUSY, err, err_len,
				      "volume %s is being removed", name)
			 : 0;
		pthread_mutex_unlock(&p->lock);
		return rc;
	}
	rc = sfs_plugin_backing_prepare(&pp, err, err_len);
	if (rc)
		goto fail_dirs;
	v = sfs_plugin_vol_new(name, &o, time(NULL));
	if (!v) {
		rc = sfs_err_rc(-ENOMEM, err, err_len, "out of memory");
		goto fail_dirs;
	}
	rc = sfs_plugin_state_add(&p->state, v);
	if (rc == 0) {
		rc = sfs_plugin_state_save(&p->state, err, err_len);
		if (rc)
			sfs_plugin_state_del(&p->state, v);
	} else {
		sfs_err_rc(rc, err, err_len, "out of memory");
	}
	if (rc) {
		sfs_plugin_vol_free(v);
		goto fail_dirs;
	}
	pthread_mutex_unlock(&p->lock);
	sfs_log(LOG_INFO, "created volume %s (hbi=%d key=%s wipe=%s)", name,
		o.encrypted, sfs_key_source_name(o.key),
		sfs_plugin_wipe_name(o.wipe));
	return 0;

fail_dirs:
	rmdir(pp.backing);
	rmdir(pp.mnt);
	rmdir(pp.dir);
	pthread_mutex_unlock(&p->lock);
	return rc;
}

/* "hbi=1,key=ephemeral,allow_other": keys never travel this way, only
 * the key source's name. */
static void mount_options(const struct sfs_plugin_opts *o, char *buf,
			  size_t len)
{
	if (o->encrypted)
		snprintf(buf, len, "hbi=1,key=%s,allow_other",
			 sfs_key_source_name(o->key));
	else
		snprintf(buf, len, "hbi=0,allow_other");
}

/* The AEAD recorded in the volume header (for Get's Status). */
static void read_cipher(const char *backing, char *out, size_t len)
{
	struct sfs_volume_header h;
	char why[256];
	int fd;

	out[0] = '\0';
	fd = open(backing, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	if (sfs_volume_read(fd, &h, why, sizeof(why)) == 0)
		snprintf(out, len, "%s",
			 h.mode == SFS_MODE_ENCRYPTED ? sfs_aead_name(h.aead)
						      : "none");
	close(fd);
}

/* Makes sure v is mounted and healthy; under v->op_lock. */
static int ensure_mounted(struct sfs_plugin *p, struct sfs_plugin_vol *v,
			  const struct sfs_plugin_paths *pp, char *err,
			  size_t err_len)
{
	char options[128], cipher[32];
	bool lazy;
	int ms, rc;

	ms = sfs_plugin_mount_state(pp->mnt);
	if (ms == -ENOENT)
		ms = SFS_PLUGIN_NOT_MOUNTED; /* recreated below */
	if (ms < 0)
		return sfs_err_rc(ms, err, err_len, "%s: %s", pp->mnt,
				  strerror(-ms));
	if (ms == SFS_PLUGIN_MOUNTED) {
		set_mounted(p, v, true);
		return 0;
	}
	if (ms == SFS_PLUGIN_STALE) {
		sfs_log(LOG_WARNING,
			"volume %s: the scratchfs daemon of %s died; "
			"remounting",
			v->name, pp->mnt);
		rc = sfs_plugin_mount_stop(p->scratchfs, pp->mnt, &lazy, err,
					   err_len);
		if (rc)
			return rc;
		set_mounted(p, v, false);
	}
	/* An ephemeral volume that is not mounted is unreadable for good
	 * (its key died with its daemon) and scratchfs refuses to reuse it:
	 * wipe it and start afresh. Its data is lost by design. */
	if (v->opts.key == SFS_KEY_EPHEMERAL &&
	    sfs_plugin_backing_used(pp) > 0) {
		sfs_log(LOG_NOTICE,
			"volume %s: wiping a dead ephemeral volume before "
			"mounting",
			v->name);
		rc = sfs_plugin_backing_wipe(pp, &p->wipe, err, err_len);
		if (rc < 0)
			return rc;
	}
	rc = sfs_plugin_backing_prepare(pp, err, err_len);
	if (rc)
		return rc;
	mount_options(&v->opts, options, sizeof(options));
	rc = sfs_plugin_mount_start(p->scratchfs, p->conf, options, pp->backing,
				    pp->mnt, p->mount_timeout_s, err, err_len);
	if (rc)
		return rc;
	/* Through the mount, so the daemon records it in the backing root. */
	if (chown(pp->mnt, v->opts.uid, v->opts.gid) < 0 ||
	    chmod(pp->mnt, v->opts.mode) < 0) {
		rc = -errno;
		sfs_err_rc(rc, err, err_len,
			   "volume %s: setting owner/mode of %s: %s", v->name,
			   pp->mnt, strerror(-rc));
		sfs_plugin_mount_stop(p->scratchfs, pp->mnt, &lazy, NULL, 0);
		return rc;
	}
	read_cipher(pp->backing, cipher, sizeof(cipher));
	pthread_mutex_lock(&p->lock);
	v->mounted = true;
	memcpy(v->cipher, cipher, sizeof(v->cipher));
	pthread_mutex_unlock(&p->lock);
	sfs_log(LOG_INFO, "volume %s: mounted at %s (%s)", v->name, pp->mnt,
		options);
	return 0;
}

int sfs_plugin_mount(struct sfs_plugin *p, const char *name, const char *id,
		     char *mnt, size_t mnt_len, char *err, size_t err_len)
{
	struct sfs_plugin_paths pp;
	struct sfs_plugin_vol *v;
	int64_t n = 0;
	int rc;

	if (!sfs_plugin_id_ok(id))
		return sfs_err_rc(
		    -EINVAL, err, err_len,
		    "invalid mount ID (1..%u printable characters)",
		    SFS_PLUGIN_ID_MAX);
	v = pin(p, name);
	if (!v)
		return no_such(name, err, err_len);
	pthread_mutex_lock(&v->op_lock);
	if (v->gone || v->removing) {
		rc = no_such(name, err, err_len);
		goto out;
	}
	paths_of(p, v, &pp);
	if (strlen(pp.mnt) >= mnt_len) {
		rc = sfs_err_rc(-ENAMETOOLONG, err, err_len,
				"mount point too long");
		goto out;
	}
	rc = ensure_mounted(p, v, &pp, err, err_len);
	if (rc)
		goto out;
	pthread_mutex_lock(&p->lock);
	n = sfs_plugin_refs_mount(&v->refs, id, p->state.epoch,
				  !p->live_restore);
	if (n > 0)
		save_locked(p);
	pthread_mutex_unlock(&p->lock);
	if (n < 0) {
		rc = sfs_err_rc((int)n, err, err_len, "out of memory");
		goto out;
	}
	strcpy(mnt, pp.mnt);
out:
	pthread_mutex_unlock(&v->op_lock);
	unpin(p, v);
	if (rc == 0)
		sfs_log(LOG_INFO, "volume %s: mount ID %.12s: count %lld", name,
			id, (long long)n);
	return rc;
}

/* Unmounts v and wipes it when asked; under v->op_lock. */
static int take_down(struct sfs_plugin *p, struct sfs_plugin_vol *v,
		     const struct sfs_plugin_paths *pp, bool wipe, char *err,
		     size_t err_len)
{
	bool lazy;
	int rc;

	rc = sfs_plugin_mount_stop(p->scratchfs, pp->mnt, &lazy, err, err_len);
	if (rc)
		return rc;
	if (lazy)
		sfs_log(LOG_WARNING, "volume %s: %s was busy: detached lazily",
			v->name, pp->mnt);
	set_mounted(p, v, false);
	if (!wipe)
		return 0;
	rc = sfs_plugin_backing_wipe(pp, &p->wipe, err, err_len);
	if (rc > 0)
		sfs_log(LOG_INFO, "volume %s: wiped", v->name);
	return rc < 0 ? rc : 0;
}

/* Notes mount refs of an earlier engine run that were just dropped. */
static void log_reclaimed(const char *name, uint64_t dropped)
{
	if (dropped)
		sfs_log(LOG_NOTICE,
			"volume %s: reclaimed %llu mounts leaked by a previous "
			"engine run",
			name, (unsigned long long)dropped);
}

int sfs_plugin_unmount(struct sfs_plugin *p, const char *name, const char *id,
		       char *err, size_t err_len)
{
	struct sfs_plugin_paths pp;
	struct sfs_plugin_vol *v;
	uint64_t dropped = 0, total = 1;
	bool changed = false;
	int64_t n = -ENOENT;
	int rc = 0;

	v = pin(p, name);
	if (!v)
		return no_such(name, err, err_len);
	pthread_mutex_lock(&v->op_lock);
	if (v->gone) {
		rc = no_such(name, err, err_len);
		goto out;
	}
	paths_of(p, v, &pp);
	pthread_mutex_lock(&p->lock);
	if (sfs_plugin_id_ok(id))
		n = sfs_plugin_refs_unmount(&v->refs, id);
	changed = n >= 0;
	/* Only refs of a previous engine life left: that engine crashed and
	 * their containers are dead (see sfs_plugin.h). */
	if (!p->live_restore &&
	    sfs_plugin_refs_since(&v->refs, p->state.epoch) == 0) {
		dropped = sfs_plugin_refs_drop_before(&v->refs, p->state.epoch);
		changed = changed || dropped > 0;
	}
	total = sfs_plugin_refs_total(&v->refs);
	if (changed)
		save_locked(p);
	pthread_mutex_unlock(&p->lock);
	if (n == -ENOENT)
		sfs_log(LOG_NOTICE,
			"volume %s: unmount of an ID that holds no mount "
			"(ignored)",
			name);
	log_reclaimed(name, dropped);
	if (!changed || total > 0)
		goto out;
	rc = take_down(p, v, &pp, v->opts.wipe == SFS_PLUGIN_WIPE_ON_UNMOUNT,
		       err, err_len);
	if (rc == 0)
		sfs_log(LOG_INFO, "volume %s: unmounted", name);
out:
	pthread_mutex_unlock(&v->op_lock);
	unpin(p, v);
	return rc;
}

int sfs_plugin_remove(struct sfs_plugin *p, const char *name, char *err,
		      size_t err_len)
{
	struct sfs_plugin_paths pp;
	struct sfs_plugin_vol *v;
	uint64_t live, dropped = 0;
	int rc = 0;

	v = pin(p, name);
	if (!v)
		return no_such(name, err, err_len);
	pthread_mutex_lock(&v->op_lock);
	pthread_mutex_lock(&p->lock);
	if (v->gone) {
		pthread_mutex_unlock(&p->lock);
		rc = no_such(name, err, err_len);
		goto out;
	}
	live = p->live_restore
		   ? sfs_plugin_refs_total(&v->refs)
		   : sfs_plugin_refs_since(&v->refs, p->state.epoch);
	if (live > 0) {
		pthread_mutex_unlock(&p->lock);
		rc = sfs_err_rc(-EBUSY, err, err_len,
				"volume %s is in use (%llu mounts)", name,
				(unsigned long long)live);
		goto out;
	}
	dropped = sfs_plugin_refs_drop_before(&v->refs, UINT64_MAX);
	v->removing = true;
	if (dropped)
		save_locked(p);
	pthread_mutex_unlock(&p->lock);
	log_reclaimed(name, dropped);
	paths_of(p, v, &pp);
	/* Remove always wipes, whatever the wipe= option says. */
	rc = take_down(p, v, &pp, true, err, err_len);
	if (rc == 0)
		rc = sfs_plugin_backing_remove(&pp, err, err_len);
	pthread_mutex_lock(&p->lock);
	if (rc) {
		v->removing = false;
	} else {
		sfs_plugin_state_del(&p->state, v);
		v->gone = true;
		save_locked(p);
	}
	pthread_mutex_unlock(&p->lock);
	if (rc == 0)
		sfs_log(LOG_INFO, "removed volume %s", name);
out:
	pthread_mutex_unlock(&v->op_lock);
	unpin(p, v);
	return rc;
}

int sfs_plugin_path(struct sfs_plugin *p, const char *name, char *mnt,
		    size_t mnt_len, char *err, size_t err_len)
{
	struct sfs_plugin_paths pp;
	struct sfs_plugin_vol *v;
	int rc = 0;

	if (!sfs_plugin_name_ok(name))
		return no_such(name, err, err_len);
	pthread_mutex_lock(&p->lock);
	v = sfs_plugin_state_find(&p->state, name);
	if (!v) {
		rc = no_such(name, err, err_len);
	} else {
		paths_of(p, v, &pp);
		snprintf(mnt, mnt_len, "%s", v->mounted ? pp.mnt : "");
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

static void rfc3339(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Under p->lock. Everything shown here ends up in `docker volume
 * inspect`: settings and state, never key material. */
static json_t *volume_json(const struct sfs_plugin *p,
			   const struct sfs_plugin_vol *v)
{
	struct sfs_plugin_paths pp;
	char created[32], mode[8];
	const char *cipher;

	paths_of(p, v, &pp);
	rfc3339(v->created, created, sizeof(created));
	snprintf(mode, sizeof(mode), "%04o", (unsigned int)v->opts.mode);
	if (!v->opts.encrypted)
		cipher = "none";
	else
		cipher = v->cipher[0] ? v->cipher : "chosen at mount";
	return json_pack(
	    "{s:s, s:s, s:s, s:{s:b, s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:s}}",
	    "Name", v->name, "Mountpoint", v->mounted ? pp.mnt : "",
	    "CreatedAt", created, "Status", "hbi", v->opts.encrypted, "cipher",
	    cipher, "key",
	    v->opts.encrypted ? sfs_key_source_name(v->opts.key) : "none",
	    "wipe", sfs_plugin_wipe_name(v->opts.wipe), "mounted", v->mounted,
	    "refcount", (json_int_t)sfs_plugin_refs_total(&v->refs), "uid",
	    (json_int_t)v->opts.uid, "gid", (json_int_t)v->opts.gid, "mode",
	    mode);
}

json_t *sfs_plugin_get(struct sfs_plugin *p, const char *name, int *rc,
		       char *err, size_t err_len)
{
	struct sfs_plugin_vol *v;
	json_t *j = NULL;

	*rc = 0;
	if (!sfs_plugin_name_ok(name)) {
		*rc = no_such(name, err, err_len);
		return NULL;
	}
	pthread_mutex_lock(&p->lock);
	v = sfs_plugin_state_find(&p->state, name);
	if (!v) {
		*rc = no_such(name, err, err_len);
	} else {
		j = volume_json(p, v);
		if (!j)
			*rc =
			    sfs_err_rc(-ENOMEM, err, err_len, "out of memory");
	}
	pthread_mutex_unlock(&p->lock);
	return j;
}

json_t *sfs_plugin_list(struct sfs_plugin *p)
{
	struct sfs_plugin_paths pp;
	json_t *arr = json_array();

	if (!arr)
		return NULL;
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->state.n; i++) {
		const struct sfs_plugin_vol *v = p->state.vols[i];

		paths_of(p, v, &pp);
		if (json_array_append_new(
			arr,
			json_pack("{s:s, s:s}", "Name", v->name, "Mountpoint",
				  v->mounted ? pp.mnt : ""))) {
			json_decref(arr);
			arr = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return arr;
}
