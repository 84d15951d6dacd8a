/* ctl_key.c - scratchfs-ctl key show|rotate: a volume's key id and source,
 * and re-wrapping its volume key under a new node key.
 *
 * Rotation never re-encrypts data: the volume key stays, only its keyslot
 * in the volume header changes (one atomic header write per volume). For
 * an in-place rotation (the configured key file or keyring key gets new
 * bytes) the order makes every crash recoverable by running the same
 * command again:
 *   1. the new node key is staged next to the old one (key file
 *      "PATH.new", 0600; keyring key "DESC.new"), or the staged key of an
 *      interrupted run is picked up;
 *   2. every named volume is checked against the old key, then re-wrapped
 *      under the new one (each header write is atomic);
 *   3. the staged key replaces the old one (rename; keyctl update) and the
 *      staging copy goes away.
 * A volume already wrapped under the staged key counts as done. Volumes
 * that use the same node key but are not named are left wrapped under the
 * old key, which is then gone: name them all in one command.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "sfs_config.h"
#include "sfs_crypto.h"
#include "sfs_ctl.h"
#include "sfs_keys.h"
#include "sfs_mountinfo.h"
#include "sfs_volume.h"

#define PROG "scratchfs-ctl"
#define EXIT_OK 0
#define EXIT_PROBLEM 1
#define EXIT_ERROR 2
#define MAX_VOLUMES 64
#define ID_HEX (2 * SFS_KEY_ID_BYTES + 1)
#define STAGE_SUFFIX ".new"

/* One volume named on the command line. */
struct vol {
	const char *arg;     /* as given */
	char real[PATH_MAX]; /* realpath */
	int fd;		     /* the backing directory */
	int lock_fd;	     /* BACKING/.scratchfs, flock'ed */
	struct sfs_volume_header h;
	bool done; /* already under the new key */
};

struct opts {
	const char *conf;
	const char *new_keyfile;
	char *o[16];
	size_t no;
	bool key_opt; /* -o key=... given */
};

static __attribute__((format(printf, 1, 2))) void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void sfs_ctl_key_usage(FILE *f)
{
	fprintf(
	    f,
	    "  key show [-c CONF] [-o OPTS] BACKING\n"
	    "      the volume's key source and key id (never key bytes),\n"
	    "      and whether the configured node key opens it\n"
	    "  key rotate [-c CONF] [-o OPTS] [--new-keyfile PATH] "
	    "BACKING...\n"
	    "      re-wraps the volume key of unmounted volumes under a new\n"
	    "      node key (no data is re-encrypted); name every volume\n"
	    "      that shares the node key\n");
}

/* A printable copy of a path for messages (static ring of 4). */
static const char *p(const char *s)
{
	static char buf[4][PATH_MAX + 64];
	static int i;

	i = (i + 1) % 4;
	sfs_ctl_escape(buf[i], sizeof(buf[i]), s);
	return buf[i];
}

/* Config file (the default one only when it exists), then -o options. */
static int load_config(const struct opts *o, struct sfs_config *cfg)
{
	const char *path = o->conf;
	char err[PATH_MAX + 256];

	sfs_config_defaults(cfg);
	if (!path && access(SFS_DEFAULT_CONFIG, F_OK) == 0)
		path = SFS_DEFAULT_CONFIG;
	if (path && sfs_config_load(cfg, path, err, sizeof(err)) < 0) {
		fail("%s", err);
		return -1;
	}
	for (size_t i = 0; i < o->no; i++) {
		char *save = NULL, *opt;

		for (opt = strtok_r(o->o[i], ",", &save); opt;
		     opt = strtok_r(NULL, ",", &save)) {
			int rc =
			    sfs_config_apply_option(cfg, opt, err, sizeof(err));

			if (rc < 0) {
				fail("%s", err);
				return -1;
			}
			if (rc == 0) {
				fail("-o %s: not a scratchfs option (hbi=, "
				     "key=, cipher=)",
				     opt);
				return -1;
			}
		}
	}
	return 0;
}

/* Looks v->real up in the mount table: -1 with a message when it is a
 * scratchfs mount point (given in place of its backing directory: the
 * mount hides .scratchfs), or when it is mounted and mounted_ok is false. */
static int check_mounts(const struct vol *v, bool mounted_ok)
{
	struct sfs_ctl_mount *m = NULL;
	long n = sfs_ctl_mounts(SFS_MOUNTINFO, &m);
	int rc = 0;

	if (n < 0) {
		fail("cannot read " SFS_MOUNTINFO ": %s", strerror((int)-n));
		return -1;
	}
	for (long i = 0; i < n && rc == 0; i++) {
		char src[PATH_MAX];
		const char *s = m[i].source;

		/* The daemon names the mount after the real backing path. */
		if (!realpath(s, src))
			snprintf(src, sizeof(src), "%s", s);
		if (!mounted_ok && strcmp(src, v->real) == 0) {
			fail("%s is mounted at %s: unmount it first "
			     "(fusermount3 -u %s)",
			     p(v->arg), p(m[i].target), p(m[i].target));
			rc = -1;
		} else if (strcmp(m[i].target, v->real) == 0) {
			fail("%s is a scratchfs mount point; give its backing "
			     "directory (%s)%s",
			     p(v->arg), p(m[i].source),
			     mounted_ok ? "" : ", unmounted");
			rc = -1;
		}
	}
	sfs_ctl_mounts_free(m, n);
	return rc;
}

/* Opens v->arg and reads its header; refuses a mount point, and a mounted
 * volume unless mounted_ok. 0 or -1 with a message. */
static int open_vol(struct vol *v, bool mounted_ok)
{
	char err[512];

	v->fd = v->lock_fd = -1;
	if (!realpath(v->arg, v->real)) {
		fail("%s: %s", p(v->arg), strerror(errno));
		return -1;
	}
	if (check_mounts(v, mounted_ok) < 0)
		return -1;
	v->fd = open(v->real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (v->fd < 0) {
		fail("%s: %s", p(v->arg), strerror(errno));
		return -1;
	}
	if (sfs_volume_read(v->fd, &v->h, err, sizeof(err)) < 0) {
		fail("%s: %s", p(v->arg), err);
		return -1;
	}
	return 0;
}

static void close_vol(struct vol *v)
{
	if (v->lock_fd >= 0)
		close(v->lock_fd);
	if (v->fd >= 0)
		close(v->fd);
	v->fd = v->lock_fd = -1;
}

/* One rotation at a time per volume: a lock on BACKING/.scratchfs. */
static int lock_vol(struct vol *v)
{
	v->lock_fd = openat(v->fd, ".scratchfs",
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (v->lock_fd < 0) {
		fail("%s/.scratchfs: %s", p(v->arg), strerror(errno));
		return -1;
	}
	if (flock(v->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		fail("%s: %s", p(v->arg),
		     errno == EWOULDBLOCK ? "another key rotation is running"
					  : strerror(errno));
		return -1;
	}
	return 0;
}

static bool wrapped(enum sfs_key_source s)
{
	return s == SFS_KEY_KEYFILE || s == SFS_KEY_KEYRING ||
	       s == SFS_KEY_COMMAND;
}

static void key_id_hex(const uint8_t *key, char out[ID_HEX])
{
	uint8_t id[SFS_KEY_ID_BYTES];

	sfs_key_id(key, id);
	sfs_hex(out, id, SFS_KEY_ID_BYTES);
}

/*
 * key show
 */

static int key_show(const struct opts *o, const char *backing)
{
	struct sfs_config cfg;
	struct vol v = {.arg = backing};
	struct sfs_key_spec spec;
	struct sfs_ctl_mount *m = NULL;
	char id[ID_HEX], what[PATH_MAX + 64], err[PATH_MAX + 512];
	uint8_t *nmk = NULL, *vk = NULL;
	const char *mounted = NULL;
	long n = 0;
	int rc, ret = EXIT_ERROR;

	if (load_config(o, &cfg) < 0 || open_vol(&v, true) < 0)
		goto out;
	n = sfs_ctl_mounts(SFS_MOUNTINFO, &m);
	for (long i = 0; i < n; i++) {
		char src[PATH_MAX];

		if (realpath(m[i].source, src) && strcmp(src, v.real) == 0)
			mounted = m[i].target;
	}
	sfs_hex(id, v.h.uuid, SFS_VOLUME_UUID_BYTES);
	printf("backing:     %s\n", p(v.real));
	printf("volume id:   %s\n", id);
	printf("mode:        %s\n", v.h.mode == SFS_MODE_ENCRYPTED
					? "encrypted (hbi=1)"
					: "plain (hbi=0)");
	printf("mounted:     %s\n", mounted ? p(mounted) : "no");
	if (v.h.mode == SFS_MODE_PLAIN) {
		printf("key source:  none (plain volumes have no key)\n");
		ret = EXIT_OK;
		goto out;
	}
	printf("cipher:      %s\n", sfs_aead_name(v.h.aead));
	printf("key source:  %s\n", sfs_key_source_name(v.h.key_source));
	if (!wrapped(v.h.key_source)) {
		printf("key id:      none (the volume key was never stored; "
		       "it lives only in the mount's memory)\n");
		ret = EXIT_OK;
		goto out;
	}
	sfs_hex(id, v.h.key_id, SFS_KEY_ID_BYTES);
	printf("key id:      %s\n", id);
	spec = cfg.key;
	spec.source = v.h.key_source;
	spec.no_create = true; /* looking must not create a key */
	sfs_key_spec_describe(&spec, what, sizeof(what));
	rc = sfs_keys_load_nmk(&spec, &nmk, err, sizeof(err));
	if (rc < 0) {
		printf("node key:    %s: unavailable (%s)\n", p(what), err);
		ret = EXIT_PROBLEM;
		goto out;
	}
	vk = sfs_secret_alloc(SFS_KEY_BYTES);
	if (!vk) {
		fail("out of secret memory");
		goto out;
	}
	key_id_hex(nmk, id);
	if (sfs_volume_unwrap_key(&v.h, nmk, vk, err, sizeof(err)) == 0) {
		printf("node key:    %s: opens this volume\n", p(what));
		ret = EXIT_OK;
	} else {
		printf("node key:    %s: key id %s does NOT open this "
		       "volume\n",
		       p(what), id);
		ret = EXIT_PROBLEM;
	}
out:
	sfs_secret_free(vk);
	sfs_secret_free(nmk);
	if (m)
		sfs_ctl_mounts_free(m, n);
	close_vol(&v);
	return ret;
}

/*
 * key rotate
 */

/* Where the new key comes from and how it is committed. */
struct target {
	enum sfs_key_source source; /* of the new key */
	struct sfs_key_spec stage;  /* in place: the staging copy */
	bool in_place;		    /* commit replaces the old key */
	char what[PATH_MAX + 64];   /* for messages */
};

/* Re-wraps v under new_nmk (v's volume key from old_nmk). 0 or -1. */
static int rewrap(struct vol *v, const uint8_t *old_nmk, const uint8_t *new_nmk,
		  enum sfs_key_source new_source, uint8_t *vk)
{
	struct sfs_volume_header h = v->h;
	char err[512];

	if (sfs_volume_unwrap_key(&v->h, old_nmk, vk, err, sizeof(err)) != 0) {
		fail("%s: %s", p(v->arg), err);
		return -1;
	}
	h.key_source = new_source;
	if (sfs_volume_wrap_key(&h, new_nmk, vk) != 0) {
		fail("%s: cannot wrap the volume key", p(v->arg));
		return -1;
	}
	sfs_wipe(vk, SFS_KEY_BYTES);
	if (sfs_volume_write(v->fd, &h, err, sizeof(err)) != 0) {
		fail("%s: %s", p(v->arg), err);
		return -1;
	}
	v->h = h;
	return 0;
}

/* Loads the new key if it exists (t->stage: the staged key of an
 * interrupted rotation, or the --new-keyfile file) into *nmk: 0, 1 when
 * there is none (*nmk NULL), -1 with a message. */
static int load_staged_key(const struct target *t, uint8_t **nmk)
{
	char err[PATH_MAX + 512];
	int rc = sfs_keys_load_nmk(&t->stage, nmk, err, sizeof(err));

	if (rc == -ENOKEY)
		return 1;
	if (rc) {
		fail("new key: %s", err);
		return -1;
	}
	return 0;
}

/* Creates a fresh random node key where t->stage says. *nmk in secret
 * memory. 0 or -1 with a message. */
static int stage_new_key(const struct target *t, uint8_t **nmk)
{
	char err[PATH_MAX + 512];
	uint8_t *key;
	int rc;

	key = sfs_secret_alloc(SFS_KEY_BYTES);
	if (!key) {
		fail("out of secret memory");
		return -1;
	}
	sfs_random(key, SFS_KEY_BYTES);
	if (t->source == SFS_KEY_KEYFILE)
		rc =
		    sfs_keyfile_create(t->stage.keyfile, key, err, sizeof(err));
	else
		rc = sfs_keyring_store(t->stage.keyring_desc, key, err,
				       sizeof(err));
	if (rc == -EEXIST)
		snprintf(err, sizeof(err), "%s appeared meanwhile",
			 t->stage.keyfile);
	if (rc) {
		fail("cannot stage the new key: %s", err);
		sfs_secret_free(key);
		return -1;
	}
	*nmk = key;
	return 0;
}

/* Best effort: overwrite the old key file's bytes before it is replaced,
 * so they do not linger in its blocks (on a plain disk; SSDs and
 * copy-on-write filesystems may keep copies anyway). */
static void scrub_key_file(const char *path)
{
	uint8_t junk[SFS_KEY_BYTES];
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return;
	sfs_random(junk, sizeof(junk));
	if (pwrite(fd, junk, sizeof(junk), 0) == (ssize_t)sizeof(junk))
		fsync(fd);
	close(fd);
}

/* Makes the staged key the node key. 0 or -1 with a message. */
static int commit(const struct sfs_key_spec *cur, struct target *t,
		  const uint8_t *new_nmk)
{
	char err[PATH_MAX + 512], dir[PATH_MAX];
	const char *slash;
	int dfd, rc;

	if (t->source == SFS_KEY_KEYRING) {
		rc = sfs_keyring_store(cur->keyring_desc, new_nmk, err,
				       sizeof(err));
		if (rc == 0) {
			rc = sfs_keyring_remove(t->stage.keyring_desc, err,
						sizeof(err));
			if (rc == -ENOKEY)
				rc = 0;
		}
		if (rc) {
			fail("%s", err);
			return -1;
		}
		return 0;
	}
	scrub_key_file(cur->keyfile);
	if (rename(t->stage.keyfile, cur->keyfile) != 0) {
		fail("cannot replace %s with %s: %s", p(cur->keyfile),
		     p(t->stage.keyfile), strerror(errno));
		return -1;
	}
	slash = strrchr(cur->keyfile, '/');
	snprintf(dir, sizeof(dir), "%.*s",
		 slash == cur->keyfile ? 1 : (int)(slash - cur->keyfile),
		 cur->keyfile);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) != 0) {
		fail("%s: fsync: %s", p(dir), strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	close(dfd);
	return 0;
}

/* Sets up t for vols (all wrapped under the same source, checked by the
 * caller) and the options. 0 or -1 with a message. */
static int plan(const struct opts *o, const struct sfs_key_spec *cur,
		struct target *t)
{
	memset(t, 0, sizeof(*t));
	if (o->new_keyfile) {
		if (o->new_keyfile[0] != '/') {
			fail("--new-keyfile %s: must be an absolute path",
			     p(o->new_keyfile));
			return -1;
		}
		t->source = SFS_KEY_KEYFILE;
		t->stage = *cur;
		t->stage.source = SFS_KEY_KEYFILE;
		t->stage.no_create = true; /* created after the checks */
		snprintf(t->stage.keyfile, sizeof(t->stage.keyfile), "%s",
			 o->new_keyfile);
		sfs_key_spec_describe(&t->stage, t->what, sizeof(t->what));
		return 0;
	}
	if (cur->source == SFS_KEY_COMMAND) {
		fail("the node key of key source command belongs to the "
		     "provider program, which scratchfs cannot re-key; rotate "
		     "it there and recreate the volume, or move the volume "
		     "to a key file with --new-keyfile PATH");
		return -1;
	}
	t->source = cur->source;
	t->in_place = true;
	t->stage = *cur;
	t->stage.no_create = true;
	if (cur->source == SFS_KEY_KEYFILE) {
		if (strlen(cur->keyfile) + sizeof(STAGE_SUFFIX) >
		    sizeof(t->stage.keyfile)) {
			fail("key file path %s is too long", p(cur->keyfile));
			return -1;
		}
		strcat(t->stage.keyfile, STAGE_SUFFIX);
	} else {
		if (strlen(t->stage.keyring_desc) + sizeof(STAGE_SUFFIX) >
		    sizeof(t->stage.keyring_desc)) {
			fail("keyring description %s is too long",
			     cur->keyring_desc);
			return -1;
		}
		strcat(t->stage.keyring_desc, STAGE_SUFFIX);
	}
	sfs_key_spec_describe(cur, t->what, sizeof(t->what));
	return 0;
}

/* Refuses what cannot be rotated. All volumes must share one key source. */
static int check_rotatable(const struct vol *v, enum sfs_key_source first)
{
	if (v->h.mode == SFS_MODE_PLAIN) {
		fail("%s is a plain (hbi=0) volume: it has no key to rotate",
		     p(v->arg));
		return -1;
	}
	if (v->h.key_source == SFS_KEY_EPHEMERAL) {
		fail("%s is an ephemeral volume: its key was never stored (it "
		     "lives only in the mount's memory and dies with it), so "
		     "there is nothing to rotate; every mount already gets a "
		     "fresh key",
		     p(v->arg));
		return -1;
	}
	if (v->h.key_source != first) {
		fail("%s uses key source %s, the first volume %s: rotate "
		     "them separately",
		     p(v->arg), sfs_key_source_name(v->h.key_source),
		     sfs_key_source_name(first));
		return -1;
	}
	return 0;
}

static int key_rotate(const struct opts *o, int nvols, char **args)
{
	struct vol vols[MAX_VOLUMES];
	struct sfs_config cfg;
	struct sfs_key_spec cur;
	struct target t;
	char old_id[ID_HEX], new_id[ID_HEX], vol_id[ID_HEX];
	char err[PATH_MAX + 512];
	uint8_t *old_nmk = NULL, *new_nmk = NULL, *vk = NULL;
	bool resumed = false, need_old = false;
	int rc, ret = EXIT_ERROR, nopen = 0;

	if (nvols > MAX_VOLUMES) {
		fail("at most %d volumes at once", MAX_VOLUMES);
		return EXIT_ERROR;
	}
	if (load_config(o, &cfg) < 0)
		return EXIT_ERROR;
	for (int i = 0; i < nvols; i++) {
		struct vol *v = &vols[i];

		memset(v, 0, sizeof(*v));
		v->arg = args[i];
		nopen++;
		if (open_vol(v, false) < 0)
			goto out;
		for (int j = 0; j < i; j++) {
			if (strcmp(vols[j].real, v->real) == 0) {
				fail("%s is named twice", p(v->arg));
				goto out;
			}
		}
		if (check_rotatable(v, vols[0].h.key_source) < 0 ||
		    lock_vol(v) < 0)
			goto out;
	}
	cur = cfg.key;
	cur.source = vols[0].h.key_source;
	cur.no_create = true;
	if (o->key_opt && cfg.key.source != cur.source) {
		fail("%s uses key source %s, not %s (-o key=)", p(vols[0].arg),
		     sfs_key_source_name(cur.source),
		     sfs_key_source_name(cfg.key.source));
		goto out;
	}
	if (plan(o, &cur, &t) < 0)
		goto out;
	vk = sfs_secret_alloc(SFS_KEY_BYTES);
	if (!vk) {
		fail("out of secret memory");
		goto out;
	}

	/* 1. The new key, if it exists already: the staged key of an
	 * interrupted in-place rotation, or the --new-keyfile file. */
	rc = load_staged_key(&t, &new_nmk);
	if (rc < 0)
		goto out;
	resumed = t.in_place && rc == 0;
	if (new_nmk)
		key_id_hex(new_nmk, new_id);

	/* 2. Check everything before changing anything: which volumes are
	 * done already, and that the old key opens all the others. */
	for (int i = 0; i < nvols; i++) {
		sfs_hex(vol_id, vols[i].h.key_id, SFS_KEY_ID_BYTES);
		vols[i].done = new_nmk && strcmp(vol_id, new_id) == 0;
		need_old |= !vols[i].done;
	}
	if (need_old) {
		if (sfs_keys_load_nmk(&cur, &old_nmk, err, sizeof(err)) < 0) {
			fail("current node key: %s", err);
			goto out;
		}
		key_id_hex(old_nmk, old_id);
		if (new_nmk && strcmp(old_id, new_id) == 0) {
			fail("%s already holds the volume's node key (key id "
			     "%s): nothing would change",
			     p(t.what), new_id);
			goto out;
		}
	}
	for (int i = 0; i < nvols; i++) {
		if (vols[i].done)
			continue;
		if (sfs_volume_unwrap_key(&vols[i].h, old_nmk, vk, err,
					  sizeof(err)) != 0) {
			fail("%s: %s; nothing was changed", p(vols[i].arg),
			     err);
			goto out;
		}
		sfs_wipe(vk, SFS_KEY_BYTES);
	}

	/* 3. Make the new key: staged for an in-place rotation, the
	 * --new-keyfile file otherwise. */
	if (!new_nmk) {
		if (stage_new_key(&t, &new_nmk) < 0)
			goto out;
		key_id_hex(new_nmk, new_id);
	}

	/* 4. Re-wrap. */
	for (int i = 0; i < nvols; i++) {
		if (vols[i].done)
			continue;
		if (rewrap(&vols[i], old_nmk, new_nmk, t.source, vk) < 0) {
			if (t.in_place)
				fail("run the same command again to finish the "
				     "rotation");
			goto out;
		}
	}

	/* 5. Commit. */
	if (t.in_place && commit(&cur, &t, new_nmk) < 0) {
		fail("run the same command again to finish the rotation");
		goto out;
	}
	for (int i = 0; i < nvols; i++) {
		printf("%s: volume key re-wrapped under %s, key id %s%s\n",
		       p(vols[i].real), p(t.what), new_id,
		       !vols[i].done ? ""
		       : t.in_place  ? " (already done by an interrupted run)"
				     : " (it was already under this key)");
	}
	if (resumed)
		printf("finished an interrupted rotation\n");
	if (!t.in_place)
		printf("mount with -o key=keyfile:%s, or set key_source = "
		       "\"keyfile\" and keyfile = \"%s\" in the config\n",
		       p(o->new_keyfile), p(o->new_keyfile));
	ret = EXIT_OK;
out:
	sfs_secret_free(vk);
	sfs_secret_free(old_nmk);
	sfs_secret_free(new_nmk);
	for (int i = 0; i < nopen; i++)
		close_vol(&vols[i]);
	return ret;
}

int sfs_ctl_key(int argc, char **argv)
{
	enum { OPT_NEW_KEYFILE = 256 };
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"new-keyfile", required_argument, NULL, OPT_NEW_KEYFILE},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct opts o = {0};
	const char *sub;
	int c, ret;

	if (argc < 2) {
		fail("key: missing subcommand (show or rotate)");
		sfs_ctl_key_usage(stderr);
		return EXIT_ERROR;
	}
	sub = argv[1];
	if (strcmp(sub, "help") == 0 || strcmp(sub, "-h") == 0 ||
	    strcmp(sub, "--help") == 0) {
		sfs_ctl_key_usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(sub, "show") != 0 && strcmp(sub, "rotate") != 0) {
		fail("key: unknown subcommand '%s' (show or rotate)", sub);
		sfs_ctl_key_usage(stderr);
		return EXIT_ERROR;
	}
	if (sfs_crypto_init() < 0) {
		fail("libsodium initialisation failed");
		return EXIT_ERROR;
	}
	/* Parse argv[1..]: the subcommand plays the program name. */
	optind = 0;
	opterr = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "+c:o:h", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'c':
			o.conf = optarg;
			break;
		case 'o':
			if (o.no == sizeof(o.o) / sizeof(o.o[0])) {
				fail("too many -o options");
				return EXIT_ERROR;
			}
			o.o[o.no++] = optarg;
			o.key_opt |= strncmp(optarg, "key=", 4) == 0 ||
				     strstr(optarg, ",key=") != NULL;
			break;
		case OPT_NEW_KEYFILE:
			if (strcmp(sub, "rotate") != 0) {
				fail("key show: --new-keyfile is for rotate");
				return EXIT_ERROR;
			}
			o.new_keyfile = optarg;
			break;
		case 'h':
			sfs_ctl_key_usage(stdout);
			return EXIT_OK;
		default:
			sfs_ctl_key_usage(stderr);
			return EXIT_ERROR;
		}
	}
	argc -= 1 + optind;
	argv += 1 + optind;
	if (argc < 1 || (strcmp(sub, "show") == 0 && argc != 1)) {
		fail("key %s: %s", sub,
		     argc < 1 ? "missing BACKING" : "one BACKING only");
		sfs_ctl_key_usage(stderr);
		return EXIT_ERROR;
	}
	if (strcmp(sub, "show") == 0)
		ret = key_show(&o, argv[0]);
	else
		ret = key_rotate(&o, argc, argv);
	fflush(stdout);
	return ret;
}
