/* plugin_state.c - the plugin's volumes in memory and in state.json
 * (strictly parsed, written atomically). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sfs_log.h"
#include "sfs_plugin.h"
#include "sfs_sys.h"

struct sfs_plugin_vol *sfs_plugin_vol_new(const char *name,
					  const struct sfs_plugin_opts *o,
					  time_t created)
{
	struct sfs_plugin_vol *v;

	if (strlen(name) > SFS_PLUGIN_NAME_MAX)
		return NULL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	if (pthread_mutex_init(&v->op_lock, NULL)) {
		free(v);
		return NULL;
	}
	strcpy(v->name, name);
	v->opts = *o;
	v->created = created;
	return v;
}

void sfs_plugin_vol_free(struct sfs_plugin_vol *v)
{
	if (!v)
		return;
	sfs_plugin_refs_clear(&v->refs);
	pthread_mutex_destroy(&v->op_lock);
	free(v);
}

struct sfs_plugin_vol *sfs_plugin_state_find(const struct sfs_plugin_state *s,
					     const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->vols[i]->name, name))
			return s->vols[i];
	return NULL;
}

int sfs_plugin_state_add(struct sfs_plugin_state *s, struct sfs_plugin_vol *v)
{
	if (sfs_plugin_state_find(s, v->name))
		return -EEXIST;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct sfs_plugin_vol **a = realloc(s->vols, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		s->vols = a;
		s->cap = cap;
	}
	s->vols[s->n++] = v;
	return 0;
}

void sfs_plugin_state_del(struct sfs_plugin_state *s, struct sfs_plugin_vol *v)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->vols[i] == v) {
			memmove(&s->vols[i], &s->vols[i + 1],
				(s->n - i - 1) * sizeof(s->vols[0]));
			s->n--;
			return;
		}
	}
	sfs_bug("volume %s is not in the state", v->name);
}

void sfs_plugin_state_free(struct sfs_plugin_state *s)
{
	for (size_t i = 0; i < s->n; i++)
		sfs_plugin_vol_free(s->vols[i]);
	free(s->vols);
	s->vols = NULL;
	s->n = s->cap = 0;
}

/*
 * Encoding.
 */

static json_t *encode_vol(const struct sfs_plugin_vol *v)
{
	json_t *refs = json_array();
	json_t *o;

	if (!refs)
		return NULL;
	for (size_t i = 0; i < v->refs.n; i++) {
		const struct sfs_plugin_ref *r = &v->refs.v[i];

		if (json_array_append_new(
			refs, json_pack("{s:s, s:I, s:I}", "id", r->id, "count",
					(json_int_t)r->count, "epoch",
					(json_int_t)r->epoch))) {
			json_decref(refs);
			return NULL;
		}
	}
	o = json_pack(
	    "{s:s, s:I, s:b, s:s, s:s, s:I, s:I, s:I, s:b, s:s, "
	    "s:o}",
	    "name", v->name, "created", (json_int_t)v->created, "hbi",
	    v->opts.encrypted, "key", sfs_key_source_name(v->opts.key), "wipe",
	    sfs_plugin_wipe_name(v->opts.wipe), "uid", (json_int_t)v->opts.uid,
	    "gid", (json_int_t)v->opts.gid, "mode", (json_int_t)v->opts.mode,
	    "mounted", v->mounted, "cipher", v->cipher, "refs", refs);
	return o;
}

static int fsync_dir_of(const char *path)
{
	char copy[PATH_MAX];
	int fd, rc = 0;

	snprintf(copy, sizeof(copy), "%s", path);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int sfs_plugin_state_save(const struct sfs_plugin_state *s, char *err,
			  size_t err_len)
{
	char tmp[PATH_MAX + 8];
	json_t *root, *vols;
	char *text = NULL;
	int fd = -1, rc;

	vols = json_array();
	root = json_pack("{s:i, s:I, s:o}", "version", SFS_PLUGIN_STATE_VERSION,
			 "epoch", (json_int_t)s->epoch, "volumes", vols);
	if (!root)
		return sfs_err_rc(-ENOMEM, err, err_len, "%s: out of memory",
				  s->path);
	for (size_t i = 0; i < s->n; i++) {
		if (json_array_append_new(vols, encode_vol(s->vols[i]))) {
			rc = sfs_err_rc(-ENOMEM, err, err_len,
					"%s: out of memory", s->path);
			goto out;
		}
	}
	text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	if (!text) {
		rc = sfs_err_rc(-ENOMEM, err, err_len, "%s: out of memory",
				s->path);
		goto out;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", s->path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		rc = -errno;
		sfs_err_rc(rc, err, err_len, "%s: %s", tmp, strerror(-rc));
		goto out;
	}
	rc = sfs_write_full(fd, text, strlen(text));
	if (rc == 0)
		rc = sfs_write_full(fd, "\n", 1);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	fd = -1;
	if (rc) {
		sfs_err_rc(rc, err, err_len, "%s: %s", tmp, strerror(-rc));
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, s->path) < 0) {
		rc = -errno;
		sfs_err_rc(rc, err, err_len, "rename %s: %s", tmp,
			   strerror(-rc));
		unlink(tmp);
		goto out;
	}
	/* The rename itself must survive a crash too. */
	rc = fsync_dir_of(s->path);
	if (rc)
		sfs_err_rc(rc, err, err_len, "fsync directory of %s: %s",
			   s->path, strerror(-rc));
out:
	free(text);
	json_decref(root);
	return rc;
}

/*
 * Decoding: every field required, nothing unknown, every value checked.
 */

static int key_from_name(const char *s, enum sfs_key_source *out)
{
	static const enum sfs_key_source all[] = {
	    SFS_KEY_NONE, SFS_KEY_EPHEMERAL, SFS_KEY_KEYFILE, SFS_KEY_KEYRING,
	    SFS_KEY_COMMAND};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (!strcmp(s, sfs_key_source_name(all[i]))) {
			*out = all[i];
			return 0;
		}
	}
	return -EINVAL;
}

static int decode_refs(json_t *arr, struct sfs_plugin_vol *v, uint64_t epoch,
		       char *why, size_t why_len)
{
	size_t i;
	json_t *r;

	json_array_foreach(arr, i, r)
	{
		json_error_t je;
		const char *id;
		json_int_t count, ep;

		if (json_unpack_ex(r, &je, JSON_STRICT, "{s:s, s:I, s:I}", "id",
				   &id, "count", &count, "epoch", &ep))
			return sfs_err_rc(-EINVAL, why, why_len,
					  "refs[%zu]: %s", i, je.text);
		if (!sfs_plugin_id_ok(id) || count < 1 || ep < 0 ||
		    (uint64_t)ep > epoch)
			return sfs_err_rc(-EINVAL, why, why_len,
					  "refs[%zu]: bad id, count or epoch",
					  i);
		if (sfs_plugin_refs_set(&v->refs, id, (uint64_t)count,
					(uint64_t)ep))
			return sfs_err_rc(-EINVAL, why, why_len,
					  "refs[%zu]: duplicate id", i);
	}
	return 0;
}

static int decode_vol(json_t *j, uint64_t epoch, struct sfs_plugin_vol **out,
		      char *why, size_t why_len)
{
	const char *name, *key, *wipe, *cipher;
	json_int_t created, uid, gid, mode;
	struct sfs_plugin_opts o = {0};
	struct sfs_plugin_vol *v;
	int encrypted, mounted, rc;
	json_error_t je;
	json_t *refs;

	if (json_unpack_ex(j, &je, JSON_STRICT,
			   "{s:s, s:I, s:b, s:s, s:s, s:I, s:I, s:I, s:b, "
			   "s:s, s:o}",
			   "name", &name, "created", &created, "hbi",
			   &encrypted, "key", &key, "wipe", &wipe, "uid", &uid,
			   "gid", &gid, "mode", &mode, "mounted", &mounted,
			   "cipher", &cipher, "refs", &refs))
		return sfs_err_rc(-EINVAL, why, why_len, "%s", je.text);
	if (!sfs_plugin_name_ok(name))
		return sfs_err_rc(-EINVAL, why, why_len, "bad volume name");
	o.encrypted = encrypted;
	if (key_from_name(key, &o.key) ||
	    (o.key == SFS_KEY_NONE) == o.encrypted)
		return sfs_err_rc(-EINVAL, why, why_len, "%s: bad key", name);
	if (!strcmp(wipe, "on-unmount"))
		o.wipe = SFS_PLUGIN_WIPE_ON_UNMOUNT;
	else if (!strcmp(wipe, "on-remove"))
		o.wipe = SFS_PLUGIN_WIPE_ON_REMOVE;
	else
		return sfs_err_rc(-EINVAL, why, why_len, "%s: bad wipe", name);
	if (uid < 0 || uid > 4294967294LL || gid < 0 || gid > 4294967294LL ||
	    mode < 0 || mode > 07777 || created < 0 ||
	    strlen(cipher) >= sizeof(v->cipher) || !json_is_array(refs))
		return sfs_err_rc(
		    -EINVAL, why, why_len,
		    "%s: bad uid, gid, mode, created, cipher or refs", name);
	o.uid = (uid_t)uid;
	o.gid = (gid_t)gid;
	o.mode = (mode_t)mode;
	v = sfs_plugin_vol_new(name, &o, (time_t)created);
	if (!v)
		return sfs_err_rc(-ENOMEM, why, why_len, "out of memory");
	v->mounted = mounted;
	strcpy(v->cipher, cipher);
	rc = decode_refs(refs, v, epoch, why, why_len);
	if (rc) {
		sfs_plugin_vol_free(v);
		return rc;
	}
	*out = v;
	return 0;
}

int sfs_plugin_state_parse(struct sfs_plugin_state *s, const char *path,
			   const char *text, size_t len, char *err,
			   size_t err_len)
{
	json_int_t version, epoch;
	char why[256];
	json_error_t je;
	json_t *root, *vols, *j;
	size_t i;
	int rc = 0;

	if (strlen(path) >= sizeof(s->path))
		return sfs_err_rc(-ENAMETOOLONG, err, err_len,
				  "%s: path too long", path);
	strcpy(s->path, path);
	s->epoch = 0;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return sfs_err_rc(-EINVAL, err, err_len, "%s:%d: %s", path,
				  je.line, je.text);
	if (json_unpack_ex(root, &je, JSON_STRICT, "{s:I, s:I, s:o}", "version",
			   &version, "epoch", &epoch, "volumes", &vols)) {
		rc = sfs_err_rc(-EINVAL, err, err_len, "%s: %s", path, je.text);
		goto out;
	}
	if (version != SFS_PLUGIN_STATE_VERSION || epoch < 0 ||
	    !json_is_array(vols)) {
		rc = sfs_err_rc(
		    -EINVAL, err, err_len,
		    "%s: unsupported version %lld or bad epoch/volumes", path,
		    (long long)version);
		goto out;
	}
	s->epoch = (uint64_t)epoch;
	json_array_foreach(vols, i, j)
	{
		struct sfs_plugin_vol *v = NULL;

		rc = decode_vol(j, s->epoch, &v, why, sizeof(why));
		if (rc == 0) {
			rc = sfs_plugin_state_add(s, v);
			if (rc)
				sfs_plugin_vol_free(v);
			/* An invalid entry, like any other: -EINVAL. */
			if (rc == -EEXIST) {
				snprintf(why, sizeof(why),
					 "duplicate volume name");
				rc = -EINVAL;
			}
		}
		if (rc) {
			sfs_err_rc(rc, err, err_len, "%s: volumes[%zu]: %s",
				   path, i, why);
			sfs_plugin_state_free(s);
			goto out;
		}
	}
out:
	json_decref(root);
	return rc;
}

int sfs_plugin_state_load(struct sfs_plugin_state *s, const char *path,
			  char *err, size_t err_len)
{
	char *text = NULL;
	struct stat st;
	ssize_t n;
	int fd, rc;

	if (strlen(path) >= sizeof(s->path))
		return sfs_err_rc(-ENAMETOOLONG, err, err_len,
				  "%s: path too long", path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		strcpy(s->path, path);
		s->epoch = 0;
		return 0;
	}
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		goto fail;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		rc = -ENOMEM;
		goto fail;
	}
	n = sfs_pread_full(fd, text, (size_t)st.st_size, 0);
	if (n < 0) {
		rc = (int)n;
		goto fail;
	}
	close(fd);
	rc = sfs_plugin_state_parse(s, path, text, (size_t)n, err, err_len);
	free(text);
	return rc;
fail:
	if (fd >= 0)
		close(fd);
	free(text);
	return sfs_err_rc(rc, err, err_len, "%s: %s", path,
			  rc == -EINVAL ? "not a regular file" : strerror(-rc));
}
