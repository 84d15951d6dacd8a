/* test_wipe.c - scratchfs-wipe and the wipe engine against real mounts:
 * crypto-erase, overwrite, refusals, planted symlinks and bind mounts,
 * busy and stale mounts, idempotence, interrupted wipes, the record. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mount_util.h"
#include "sfs_audit.h"
#include "sfs_crypto.h"
#include "sfs_mountinfo.h"
#include "sfs_sys.h"
#include "sfs_version.h"
#include "sfs_volume.h"
#include "sfs_wipe.h"
#include "util.h"

#define WIPE_BIN SFS_BUILD_DIR "/scratchfs-wipe"
#define CANARY "canary-7f3e9b1c-plaintext"

/* Things a test planted that teardown must undo even when it failed. */
static char planted_mount[2][PATH_MAX];
static pid_t holder = -1;
static bool daemon_stopped; /* SIGSTOP'ed: kill it, detach its mount */
/* Longest a tool may run before the test kills it and fails. */
static int tool_limit_s = 40;

/*
 * Helpers
 */

static void init_setup(void)
{
	cr_assert_eq(sfs_crypto_init(), 0);
	sfs_mount_setup(&sfs_fx);
	sfs_mount_write_audit_conf(&sfs_fx, NULL);
}

static void init_hbi(void)
{
	init_setup();
	sfs_mount_start(&sfs_fx, "hbi=1");
}

static void init_plain(void)
{
	init_setup();
	sfs_mount_start(&sfs_fx, "hbi=0");
}

static void fini(void)
{
	/* First the stopped daemon: a holder waiting in a request it took
	 * cannot die before it does. */
	if (daemon_stopped && sfs_fx.pid > 0) {
		kill(sfs_fx.pid, SIGKILL);
		umount2(sfs_fx.mnt, MNT_DETACH);
		waitpid(sfs_fx.pid, NULL, 0);
		sfs_fx.pid = -1;
		sfs_fx.mounted = false;
	}
	daemon_stopped = false;
	if (holder > 0) {
		kill(holder, SIGKILL);
		waitpid(holder, NULL, 0);
		holder = -1;
	}
	for (int i = 1; i >= 0; i--)
		if (planted_mount[i][0])
			umount2(planted_mount[i], MNT_DETACH);
	sfs_fx_fini();
}

/* Criterion runs a suite's .init before a test's own: each test names its
 * fixture instead. */
TestSuite(wipe, .timeout = 45);

/* Runs argv with stdout and stderr captured; returns the shell status. */
static int run_tool(const struct sfs_mount *m, const char *const argv[],
		    char **out, char **err)
{
	const char *o = sfs_join(m->root, "tool.out");
	const char *e = sfs_join(m->root, "tool.err");
	char opath[PATH_MAX], epath[PATH_MAX];
	int status;
	pid_t pid;

	snprintf(opath, sizeof(opath), "%s", o);
	snprintf(epath, sizeof(epath), "%s", e);
	pid = sfs_spawn_redirected(argv, opath, epath, NULL, NULL);
	for (int ms = 0; waitpid(pid, &status, WNOHANG) != pid; ms += 10) {
		if (ms > tool_limit_s * 1000) {
			/* Not waited for: stuck in a request a stopped daemon
			 * took, it dies only with the daemon (fini). */
			kill(pid, SIGKILL);
			cr_assert_fail("%s %s did not finish within %d s",
				       argv[0], argv[1], tool_limit_s);
		}
		usleep(10000);
	}
	if (out)
		*out = sfs_slurp(opath);
	if (err)
		*err = sfs_slurp(epath);
	cr_assert(WIFEXITED(status), "%s died of a signal", argv[0]);
	return WEXITSTATUS(status);
}

/* scratchfs-wipe -c CONF --json [a] [b] target; the record in *rec. */
static int wipe_cli(struct sfs_mount *m, const char *target, const char *a,
		    const char *b, json_t **rec, char **err)
{
	const char *argv[8];
	int n = 0, st;
	json_error_t je;
	char *out, *e;

	argv[n++] = WIPE_BIN;
	argv[n++] = "-c";
	argv[n++] = m->conf;
	argv[n++] = "--json";
	if (a)
		argv[n++] = a;
	if (b)
		argv[n++] = b;
	argv[n++] = target;
	argv[n] = NULL;
	st = run_tool(m, argv, &out, &e);
	*rec = json_loads(out, 0, &je);
	cr_assert_not_null(*rec,
			   "--json output is not JSON (%s): [%s] err [%s]",
			   je.text, out, e);
	if (err)
		*err = e;
	else
		free(e);
	free(out);
	return st;
}

static const char *jstr(json_t *o, const char *path)
{
	char buf[128], *dot;
	json_t *v = o;
	const char *p = path;

	while ((dot = strchr(p, '.'))) {
		snprintf(buf, sizeof(buf), "%.*s", (int)(dot - p), p);
		v = json_object_get(v, buf);
		p = dot + 1;
	}
	v = json_object_get(v, p);
	cr_assert(json_is_string(v), "%s is not a string", path);
	return json_string_value(v);
}

static bool jbool(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	cr_assert(json_is_boolean(v), "%s is not a boolean", key);
	return json_is_true(v);
}

static double jnum(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	cr_assert(json_is_number(v), "%s is not a number", key);
	return json_number_value(v);
}

/* The checks every successful wipe must pass. */
static void assert_wiped(struct sfs_mount *m, json_t *rec)
{
	json_t *ver = json_object_get(rec, "verification");
	char mnt[PATH_MAX], names[1024] = "";
	struct dirent *de;
	DIR *d;

	cr_assert(jbool(rec, "verified"));
	cr_assert(jbool(ver, "not_mounted") && jbool(ver, "no_key_material") &&
		  jbool(ver, "no_files"));
	cr_assert_str_eq(jstr(rec, "event"), "wipe");
	cr_assert_str_eq(jstr(rec, "backing"), m->backing);
	cr_assert_str_eq(jstr(rec, "error"), "");
	for (int i = 0; i < 8; i++) {
		static const char *const k[] = {
		    "resolve_ms", "unmount_ms", "erase_ms",  "overwrite_ms",
		    "delete_ms",  "discard_ms", "verify_ms", "total_ms"};

		cr_assert(jnum(rec, k[i]) >= 0.0, "%s < 0", k[i]);
	}
	cr_assert_eq(sfs_wipe_find_mount(m->backing, mnt, sizeof(mnt)), 0,
		     "still mounted at %s", mnt);
	/* Only the tombstone: an empty .scratchfs/. */
	d = opendir(m->backing);
	cr_assert_not_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			cr_assert(snprintf(names + strlen(names),
					   sizeof(names) - strlen(names), "%s/",
					   de->d_name) < 300);
	closedir(d);
	cr_assert_str_eq(names, ".scratchfs/");
	cr_assert_eq(rmdir(sfs_bpath(m, ".scratchfs")), 0,
		     ".scratchfs is not empty: %s", strerror(errno));
	cr_assert_eq(mkdir(sfs_bpath(m, ".scratchfs"), 0700), 0);
}

/* Number of lines of the audit log with "event":"<event>". */
static int audit_count(const struct sfs_mount *m, const char *event,
		       char **last)
{
	char *log = sfs_slurp(sfs_join(m->root, "audit.log"));
	char needle[64];
	int n = 0;

	snprintf(needle, sizeof(needle), "\"event\":\"%s\"", event);
	for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
		json_t *j = json_loads(line, 0, NULL);

		cr_assert_not_null(j, "audit line is not JSON: %s", line);
		json_decref(j);
		if (strstr(line, needle)) {
			n++;
			if (last) {
				free(*last);
				*last = strdup(line);
			}
		}
	}
	free(log);
	return n;
}

static void volume_id(const struct sfs_mount *m, char id[33],
		      struct sfs_volume_header *hp)
{
	struct sfs_volume_header h;
	char err[256];
	int fd = open(m->backing, O_RDONLY | O_DIRECTORY);

	cr_assert(fd >= 0);
	cr_assert_eq(sfs_volume_read(fd, &h, err, sizeof(err)), 0, "%s", err);
	close(fd);
	sfs_hex(id, h.uuid, SFS_VOLUME_UUID_BYTES);
	if (hp)
		*hp = h;
}

static void put(const char *path, const char *text)
{
	int rc = sfs_write_file(path, text, strlen(text));

	cr_assert_eq(rc, 0, "write %s: %s", path, strerror(-rc));
}

/* A small tree with every kind of entry and the canary; in hbi mode the
 * longest symlink target also fills the target store (BACKING/.sfs.targets,
 * FORMAT.md section 7.2), which the wipe must take along. */
static void populate(const struct sfs_mount *m, size_t big)
{
	char *buf = malloc(big ? big : 1), target[4096];

	cr_assert_not_null(buf);
	memset(target, 't', sizeof(target) - 1);
	target[sizeof(target) - 1] = '\0';
	cr_assert_eq(symlink(target, sfs_mpath(m, "d1-longlink")), 0,
		     "symlink: %s", strerror(errno));
	memset(buf, 'x', big);
	if (big >= sizeof(CANARY))
		memcpy(buf + big / 2, CANARY, sizeof(CANARY) - 1);
	put(sfs_mpath(m, "canary.txt"), CANARY "\n");
	cr_assert_eq(mkdir(sfs_mpath(m, "d1"), 0755), 0);
	cr_assert_eq(mkdir(sfs_mpath(m, "d1/d2"), 0700), 0);
	put(sfs_mpath(m, "d1/d2/deep.txt"), CANARY " deep\n");
	cr_assert_eq(sfs_write_file(sfs_mpath(m, "d1/big"), buf, big), 0);
	cr_assert_eq(symlink("canary.txt", sfs_mpath(m, "link")), 0);
	cr_assert_eq(mkfifo(sfs_mpath(m, "d1/fifo"), 0600), 0);
	cr_assert_eq(link(sfs_mpath(m, "canary.txt"), sfs_mpath(m, "hard")), 0);
	if (access(sfs_bpath(m, ".sfs.diriv"), F_OK) == 0)
		cr_assert_eq(sfs_dir_entries(sfs_bpath(m, ".sfs.targets")), 1);
	free(buf);
}

/* A textual snapshot of a tree (names, types, sizes, contents' sums). */
static char *snap_buf;
static size_t snap_len;

static int snap_one(const char *path, const struct stat *st, int type,
		    struct FTW *ftw)
{
	unsigned long sum = 0;
	char line[PATH_MAX + 128];
	size_t len = 0;
	char *data = NULL;
	int n;

	(void)type;
	/* Not the files every tool run or the daemon rewrites. */
	if (strcmp(path + ftw->base, "tool.out") == 0 ||
	    strcmp(path + ftw->base, "tool.err") == 0 ||
	    strcmp(path + ftw->base, "daemon.log") == 0)
		return 0;
	if (S_ISREG(st->st_mode)) {
		data = sfs_read_file(path, &len);
		for (size_t i = 0; data && i < len; i++)
			sum = sum * 31 + (unsigned char)data[i];
		free(data);
	}
	n = snprintf(line, sizeof(line), "%s %o %lld %lu\n", path, st->st_mode,
		     (long long)st->st_size, sum);
	snap_buf = realloc(snap_buf, snap_len + (size_t)n + 1);
	cr_assert_not_null(snap_buf);
	memcpy(snap_buf + snap_len, line, (size_t)n + 1);
	snap_len += (size_t)n;
	return 0;
}

static char *snapshot(const char *dir)
{
	snap_buf = NULL;
	snap_len = 0;
	nftw(dir, snap_one, 16, FTW_PHYS | FTW_MOUNT);
	return snap_buf ? snap_buf : strdup("");
}

/* The daemon was told to stop (lazy) or died (stale): reap it without
 * judging its exit status. */
static void reap_daemon(struct sfs_mount *m)
{
	for (int i = 0; i < 500 && m->pid > 0; i++) {
		if (waitpid(m->pid, NULL, WNOHANG) == m->pid)
			m->pid = -1;
		else
			usleep(10000);
	}
	cr_assert_eq(m->pid, -1, "daemon did not exit");
	m->mounted = false;
}

/*
 * Encrypted volumes: crypto-erase
 */

/* How the volume is named on the command line. */
static const char *const hbi_targets[] = {"mnt", "backing", "mnt/", "backing/"};
SFS_CASE_PARAMS(wipe, hbi_crypto_erase, hbi_targets)
ParameterizedTest(int *i, wipe, hbi_crypto_erase, .init = init_hbi,
		  .fini = fini)
{
	struct sfs_mount *m = &sfs_fx;
	bool by_mnt = strncmp(hbi_targets[*i], "mnt", 3) == 0;
	char target[PATH_MAX + 2], id[33], *last = NULL, *line;
	json_t *rec, *destroyed;

	populate(m, 4 << 20);
	volume_id(m, id, NULL);
	cr_assert(snprintf(target, sizeof(target), "%s%s",
			   by_mnt ? m->mnt : m->backing,
			   strchr(hbi_targets[*i], '/') ? "/" : "") <
		  (int)sizeof(target));
	cr_assert_eq(wipe_cli(m, target, NULL, NULL, &rec, NULL), 0);
	assert_wiped(m, rec);
	cr_assert_str_eq(jstr(rec, "method"), "crypto-erase");
	cr_assert_str_eq(jstr(rec, "volume_id"), id);
	cr_assert_str_eq(jstr(rec, "mode"), "encrypted");
	cr_assert_str_eq(jstr(rec, "key_source"), "ephemeral");
	cr_assert_str_eq(jstr(rec, "mountpoint"), m->mnt);
	cr_assert(jbool(rec, "was_mounted"));
	cr_assert_not(jbool(rec, "already_wiped"));
	cr_assert_str_eq(jstr(rec, "daemon"), "exited after unmount");
	destroyed = json_object_get(rec, "destroyed");
	cr_assert(strstr(jstr(destroyed, "key"), "daemon has exited"));
	cr_assert(jbool(destroyed, "header"));
	/* canary, deep, big, link, fifo, hard, and the .sfs.* IV files */
	cr_assert_geq(sfs_json_int(destroyed, "files"), 6);
	cr_assert_geq(sfs_json_int(destroyed, "dirs"), 2);
	cr_assert_geq(sfs_json_int(destroyed, "bytes"), 4 << 20);
	cr_assert_eq(sfs_json_int(destroyed, "bytes_overwritten"), 0);
	/* The record on stdout is the one in the audit log. */
	cr_assert_eq(audit_count(m, "wipe", &last), 1);
	line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER |
				   JSON_REAL_PRECISION(12));
	cr_assert_str_eq(line, last);
	free(line);
	free(last);
	/* The daemon recorded the unmount and the key's end. */
	cr_assert_eq(audit_count(m, "unmount", NULL), 1);
	cr_assert_geq(audit_count(m, "key_destroy", NULL), 2);
	cr_assert_not(
	    sfs_tree_has_bytes(m->root, CANARY, strlen(CANARY), true));
	json_decref(rec);
	sfs_mount_stop(m); /* the daemon exited 0 */
}

/* A wrapped-key volume: the keyslot is destroyed, the node key is not. */
Test(wipe, keyfile_keyslot_destroyed, .init = init_setup, .fini = fini,
     .timeout = 45)
{
	struct sfs_mount *m = &sfs_fx;
	struct sfs_volume_header h;
	char opts[PATH_MAX + 64], id[33];
	char *key_before, *key_after;
	json_t *rec, *destroyed;
	size_t n1, n2;

	snprintf(opts, sizeof(opts), "hbi=1,key=keyfile:%s",
		 sfs_join(m->root, "node.key"));
	sfs_mount_start(m, opts);
	populate(m, 100000);
	volume_id(m, id, &h);
	cr_assert_not(sfs_is_zero(h.keyslot, sizeof(h.keyslot)));
	key_before = sfs_read_file(sfs_join(m->root, "node.key"), &n1);
	cr_assert_not_null(key_before);
	cr_assert_eq(wipe_cli(m, m->backing, NULL, NULL, &rec, NULL), 0);
	assert_wiped(m, rec);
	cr_assert_str_eq(jstr(rec, "method"), "crypto-erase");
	cr_assert_str_eq(jstr(rec, "key_source"), "keyfile");
	destroyed = json_object_get(rec, "destroyed");
	cr_assert(strstr(jstr(destroyed, "key"), "keyslot"), "key: %s",
		  jstr(destroyed, "key"));
	cr_assert(strstr(jstr(destroyed, "node_key"), "kept"));
	/* The node key file is untouched; the keyslot is nowhere. */
	key_after = sfs_read_file(sfs_join(m->root, "node.key"), &n2);
	cr_assert_not_null(key_after);
	cr_assert(n1 == n2 && memcmp(key_before, key_after, n1) == 0);
	cr_assert_not(
	    sfs_tree_has_bytes(m->root, h.keyslot, sizeof(h.keyslot), true));
	cr_assert_geq(audit_count(m, "key_destroy", NULL), 1);
	free(key_before);
	free(key_after);
	json_decref(rec);
	sfs_mount_stop(m);
}

/* Overwrite passes are for plaintext only. */
Test(wipe, hbi_ignores_passes, .init = init_hbi, .fini = fini)
{
	struct sfs_mount *m = &sfs_fx;
	json_t *rec;

	populate(m, 1 << 20);
	cr_assert_eq(wipe_cli(m, m->mnt, "--passes", "2", &rec, NULL), 0);
	assert_wiped(m, rec);
	cr_assert_str_eq(jstr(rec, "method"), "crypto-erase");
	cr_assert_eq(sfs_json_int(json_object_get(rec, "destroyed"), "passes"),
		     0);
	json_decref(rec);
	sfs_mount_stop(m);
}

/*
 * Plain volumes: delete, overwrite+delete
 */

static const struct {
	const char *passes; /* NULL: the config's (1 here) */
	const char *method;
	int factor; /* bytes_overwritten >= factor * big */
} plain_cases[] = {
    {"0", "delete", 0},
    {"1", "overwrite+delete", 1},
    {"3", "overwrite+delete", 3},
    {NULL, "overwrite+delete", 1},
};
SFS_CASE_PARAMS(wipe, plain, plain_cases)
ParameterizedTest(int *i, wipe, plain, .init = init_setup, .fini = fini,
		  .timeout = 45)
{
	struct sfs_mount *m = &sfs_fx;
	const size_t big = 3 << 20;
	json_t *rec, *destroyed;

	sfs_mount_write_audit_conf(m, "wipe = { passes = 1; };\n");
	sfs_mount_start(m, "hbi=0");
	populate(m, big);
	cr_assert(sfs_tree_has_bytes(m->backing, CANARY, strlen(CANARY), false),
		  "plain volume: the canary should be in the backing");
	cr_assert_eq(wipe_cli(m, m->mnt,
			      plain_cases[*i].passes ? "--passes" : NULL,
			      plain_cases[*i].passes, &rec, NULL),
		     0);
	assert_wiped(m, rec);
	cr_assert_str_eq(jstr(rec, "method"), plain_cases[*i].method);
	cr_assert_str_eq(jstr(rec, "mode"), "plain");
	destroyed = json_object_get(rec, "destroyed");
	cr_assert_geq(sfs_json_int(destroyed, "bytes_overwritten"),
		      (long long)plain_cases[*i].factor * (long long)big);
	if (plain_cases[*i].factor == 0)
		cr_assert_eq(sfs_json_int(destroyed, "bytes_overwritten"), 0);
	cr_assert_not(
	    sfs_tree_has_bytes(m->root, CANARY, strlen(CANARY), true));
	json_decref(rec);
	sfs_mount_stop(m);
}

/* FITRIM where it cannot work (tmpfs): the wipe succeeds and says why. */
Test(wipe, discard_refused_is_reported, .init = init_setup, .fini = fini,
     .timeout = 45)
{
	struct sfs_mount *m = &sfs_fx;
	char tfs[PATH_MAX];
	json_t *rec, *destroyed;

	sfs_mount_write_audit_conf(m, "wipe = { discard = true; };\n");
	snprintf(tfs, sizeof(tfs), "%s", sfs_join(m->root, "tfs"));
	cr_assert_eq(mkdir(tfs, 0700), 0);
	cr_assert_eq(mount("tmpfs", tfs, "tmpfs", 0, "size=16m"), 0, "%s",
		     strerror(errno));
	snprintf(planted_mount[0], PATH_MAX, "%s", tfs);
	cr_assert(snprintf(m->backing, sizeof(m->backing), "%s/b", tfs) <
		  (int)sizeof(m->backing));
	cr_assert_eq(mkdir(m->backing, 0755), 0);
	sfs_mount_start(m, "hbi=0");
	put(sfs_mpath(m, "f"), "data");
	cr_assert_eq(wipe_cli(m, m->mnt, NULL, NULL, &rec, NULL), 0);
	assert_wiped(m, rec);
	destroyed = json_object_get(rec, "destroyed");
	cr_assert_not(jbool(destroyed, "discarded"));
	cr_assert(strstr(jstr(destroyed, "discard_note"), "FITRIM"), "note: %s",
		  jstr(destroyed, "discard_note"));
	json_decref(rec);
	sfs_mount_stop(m);
	cr_assert_eq(umount2(tfs, 0), 0);
	planted_mount[0][0] = '\0';
}

/*
 * Refusals: nothing touched
 */

enum target_kind {
	T_SYSTEM_LIKE,	 /* a directory with etc/ and usr/ */
	T_HOME_LIKE,	 /* dotfiles */
	T_FILE,		 /* a regular file */
	T_LINK_TO_VOL,	 /* a symlink to a real volume */
	T_LINK_SLASH,	 /* the same, written "link/" */
	T_LINK_TO_MNT,	 /* a symlink to a live mount point */
	T_MISSING,	 /* does not exist */
	T_META_LINK,	 /* .scratchfs is a symlink to a volume's */
	T_META_PLUS,	 /* empty .scratchfs/ plus other files */
	T_META_UNKNOWN,	 /* .scratchfs/ with a file we do not know */
	T_HEADER_IS_DIR, /* .scratchfs/volume is a directory */
};

static const struct {
	enum target_kind kind;
	const char *name;
} refusals[] = {
    {T_SYSTEM_LIKE, "system"},
    {T_HOME_LIKE, "home"},
    {T_FILE, "file"},
    {T_LINK_TO_VOL, "link"},
    {T_LINK_SLASH, "link/"},
    {T_LINK_TO_MNT, "mntlink"},
    {T_MISSING, "missing"},
    {T_META_LINK, "metalink"},
    {T_META_PLUS, "metaplus"},
    {T_META_UNKNOWN, "metaunknown"},
    {T_HEADER_IS_DIR, "headerdir"},
};
SFS_CASE_PARAMS(wipe, refused, refusals)
ParameterizedTest(int *i, wipe, refused, .init = init_hbi, .fini = fini)
{
	struct sfs_mount *m = &sfs_fx;
	const char *t = sfs_join(m->root, "target");
	char target[PATH_MAX + 2], *before, *after, *err;
	json_t *rec;

	put(sfs_mpath(m, "keep.txt"), "volume data");
	switch (refusals[*i].kind) {
	case T_SYSTEM_LIKE:
		cr_assert_eq(mkdir(t, 0755), 0);
		cr_assert_eq(mkdir(sfs_join(t, "etc"), 0755), 0);
		cr_assert_eq(mkdir(sfs_join(t, "usr"), 0755), 0);
		put(sfs_join(t, "etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
		put(sfs_join(t, "usr/tool"), "binary");
		break;
	case T_HOME_LIKE:
		cr_assert_eq(mkdir(t, 0700), 0);
		put(sfs_join(t, ".bashrc"), "alias ll='ls -l'\n");
		put(sfs_join(t, "thesis.tex"), "\\documentclass{book}");
		break;
	case T_FILE:
		put(t, "a file");
		break;
	case T_LINK_TO_VOL:
	case T_LINK_SLASH:
		cr_assert_eq(symlink(m->backing, t), 0);
		break;
	case T_LINK_TO_MNT:
		cr_assert_eq(symlink(m->mnt, t), 0);
		break;
	case T_MISSING:
		break;
	case T_META_LINK:
		cr_assert_eq(mkdir(t, 0700), 0);
		cr_assert_eq(symlink(sfs_bpath(m, ".scratchfs"),
				     sfs_join(t, ".scratchfs")),
			     0);
		put(sfs_join(t, "data"), "precious");
		break;
	case T_META_PLUS:
	case T_META_UNKNOWN:
	case T_HEADER_IS_DIR:
		cr_assert_eq(mkdir(t, 0700), 0);
		cr_assert_eq(mkdir(sfs_join(t, ".scratchfs"), 0700), 0);
		put(sfs_join(t, "data"), "precious");
		if (refusals[*i].kind == T_META_UNKNOWN)
			put(sfs_join(t, ".scratchfs/notes"), "mine");
		if (refusals[*i].kind == T_HEADER_IS_DIR)
			cr_assert_eq(
			    mkdir(sfs_join(t, ".scratchfs/volume"), 0700), 0);
		break;
	}
	snprintf(target, sizeof(target), "%s%s", t,
		 refusals[*i].kind == T_LINK_SLASH ? "/" : "");
	before = snapshot(m->root);
	cr_assert_eq(wipe_cli(m, target, NULL, NULL, &rec, &err), 2, "%s: %s",
		     refusals[*i].name, err);
	cr_assert(jbool(rec, "refused"));
	cr_assert_neq(strlen(err), 0);
	cr_assert(strstr(err, "scratchfs-wipe: "));
	after = snapshot(m->root);
	cr_assert_str_eq(before, after);
	cr_assert_eq(audit_count(m, "wipe", NULL), 0);
	/* The real volume is still mounted and intact. */
	cr_assert_eq(access(sfs_mpath(m, "keep.txt"), R_OK), 0);
	free(before);
	free(after);
	free(err);
	json_decref(rec);
	sfs_mount_stop(m);
}

/*
 * Planted escapes: a symlink, a hard link and a bind mount pointing out
 */

Test(wipe, planted_escapes_survive, .init = init_plain, .fini = fini,
     .timeout = 45)
{
	struct sfs_mount *m = &sfs_fx;
	const char *out = sfs_join(m->root, "outside");
	char keep[PATH_MAX], hard[PATH_MAX], *a, *b;
	json_t *rec, *destroyed;
	size_t la, lb;

	cr_assert_eq(mkdir(out, 0755), 0);
	snprintf(keep, sizeof(keep), "%s/keep", out);
	snprintf(hard, sizeof(hard), "%s/hard", out);
	put(keep, "outside data that must survive\n");
	put(hard, "hard-linked outside data that must survive\n");
	populate(m, 1 << 20);
	/* Through the mount: symlinks to the outside (absolute and up). */
	cr_assert_eq(symlink(out, sfs_mpath(m, "out")), 0);
	cr_assert_eq(symlink("../../../outside", sfs_mpath(m, "d1/d2/up")), 0);
	cr_assert_eq(mkdir(sfs_mpath(m, "bindme"), 0755), 0);
	/* In the backing: a hard link to an outside file and a bind mount
	 * of the outside directory. */
	cr_assert_eq(link(hard, sfs_bpath(m, "hl")), 0);
	snprintf(planted_mount[0], PATH_MAX, "%s", sfs_bpath(m, "bindme"));
	cr_assert_eq(mount(out, planted_mount[0], NULL, MS_BIND, NULL), 0,
		     "bind mount: %s", strerror(errno));
	a = snapshot(out);
	cr_assert_eq(wipe_cli(m, m->mnt, "--passes", "1", &rec, NULL), 0);
	assert_wiped(m, rec);
	cr_assert_str_eq(jstr(rec, "method"), "overwrite+delete");
	destroyed = json_object_get(rec, "destroyed");
	cr_assert_geq(sfs_json_int(destroyed, "mounts_detached"), 1);
	b = snapshot(out);
	cr_assert_str_eq(a, b, "the outside directory changed");
	free(a);
	free(b);
	a = sfs_read_file(keep, &la);
	b = sfs_read_file(hard, &lb);
	cr_assert_str_eq(a, "outside data that must survive\n");
	cr_assert_str_eq(b, "hard-linked outside data that must survive\n");
	free(a);
	free(b);
	planted_mount[0][0] = '\0';
	json_decref(rec);
	sfs_mount_stop(m);
}

/*
 * Busy and stale mounts
 */

/* A process whose cwd is inside the mount. */
static pid_t hold(const char *dir)
{
	pid_t parent = getpid(), pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent ||
		    chdir(dir) != 0)
			_exit(1);
		execlp("sleep", "sleep", "60", (char *)NULL);
		_exit(1);
	}
	/* Until its cwd is there (after the exec). */
	for (int i = 0; i < 500; i++) {
		char link[64], buf[PATH_MAX], comm[32] = "";
		ssize_t n;
		FILE *f;

		snprintf(link, sizeof(link), "/proc/%d/comm", pid);
		f = fopen(link, "r");
		if (f) {
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = '\0';
			fclose(f);
		}
		snprintf(link, sizeof(link), "/proc/%d/cwd", pid);
		n = readlink(link, buf, sizeof(buf) - 1);
		if (n > 0 && strncmp(comm, "sleep", 5) == 0) {
			buf[n] = '\0';
			if (strcmp(buf, dir) == 0)
				return pid;
		}
		usleep(10000);
	}
	cr_assert_fail("holder did not start");
	return -1;
}

Test(wipe, busy_names_holder_then_lazy, .init = init_hbi, .fini = fini)
{
	struct sfs_mount *m = &sfs_fx;
	char pidtext[64], *err;
	json_t *rec, *h;

	populate(m, 1 << 20);
	holder = hold(sfs_mpath(m, "d1"));
	snprintf(pidtext, sizeof(pidtext), "pid %d (sleep)", (int)holder);
	cr_assert_eq(wipe_cli(m, m->mnt, NULL, NULL, &rec, &err), 3, "%s", err);
	cr_assert(strstr(err, pidtext), "holder not named: %s", err);
	cr_assert(strstr(err, "--lazy"));
	cr_assert_not(jbool(rec, "verified"));
	/* Nothing was touched: still mounted, data readable, header kept. */
	cr_assert_eq(access(sfs_mpath(m, "canary.txt"), R_OK), 0);
	cr_assert_eq(access(sfs_bpath(m, ".scratchfs/volume"), F_OK), 0);
	cr_assert_eq(audit_count(m, "wipe", NULL), 1);
	json_decref(rec);
	free(err);

	cr_assert_eq(wipe_cli(m, m->mnt, "--lazy", NULL, &rec, &err), 0, "%s",
		     err);
	assert_wiped(m, rec);
	cr_assert(jbool(rec, "lazy"));
	h = json_array_get(json_object_get(rec, "holders"), 0);
	cr_assert_not_null(h);
	cr_assert_eq(sfs_json_int(h, "pid"), holder);
	cr_assert_str_eq(jstr(h, "comm"), "sleep");
	/* The key died now, not when the holder lets go. */
	cr_assert(strstr(jstr(rec, "daemon"), "SIGTERM"), "%s",
		  jstr(rec, "daemon"));
	reap_daemon(m);
	json_decref(rec);
	free(err);
}

Test(wipe, stale_mount_after_kill9, .init = init_hbi, .fini = fini)
{
	struct sfs_mount *m = &sfs_fx;
	struct stat st;
	json_t *rec;
	char *err;

	populate(m, 1 << 20);
	cr_assert_eq(kill(m->pid, SIGKILL), 0);
	reap_daemon(m);
	/* ENOTCONN, or ECANCELED while the kernel still tears down the dead
	 * daemon's io_uring queues. */
	cr_assert(stat(m->mnt, &st) != 0 && sfs_errno_dead_fuse(errno),
		  "expected a stale mount: %s", strerror(errno));
	cr_assert_eq(wipe_cli(m, m->mnt, NULL, NULL, &rec, &err), 0, "%s", err);
	assert_wiped(m, rec);
	cr_assert(jbool(rec, "stale"));
	cr_assert(jbool(rec, "was_mounted"));
	cr_assert_str_eq(jstr(rec, "method"), "crypto-erase");
	cr_assert_str_eq(jstr(rec, "mountpoint"), m->mnt);
	json_decref(rec);
	free(err);
}

/*
 * Idempotence and interrupted wipes
 */

Test(wipe, twice_is_a_noop, .init = init_hbi, .fini = fini)
{
	struct sfs_mount *m = &sfs_fx;
	json_t *rec;

	populate(m, 1 << 20);
	cr_assert_eq(wipe_cli(m, m->backing, NULL, NULL, &rec, NULL), 0);
	assert_wiped(m, rec);
	cr_assert_not(jbool(rec, "already_wiped"));
	json_decref(rec);
	sfs_mount_stop(m);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(wipe_cli(m, m->backing, NULL, NULL, &rec, NULL),
			     0);
		assert_wiped(m, rec);
		cr_assert(jbool(rec, "already_wiped"));
		cr_assert_str_eq(jstr(rec, "method"), "none");
		cr_assert(strstr(jstr(rec, "note"), "already wiped"));
		json_decref(rec);
	}
	cr_assert_eq(audit_count(m, "wipe", NULL), 3);
	/* A wiped directory can be mounted again as a fresh volume. */
	sfs_mount_start(m, "hbi=1");
	put(sfs_mpath(m, "again"), "x");
	sfs_mount_stop(m);
}

Test(wipe, empty_directory_is_nothing_to_do, .init = init_setup, .fini = fini,
     .timeout = 45)
{
	struct sfs_mount *m = &sfs_fx;
	json_t *rec;

	cr_assert_eq(wipe_cli(m, m->backing, NULL, NULL, &rec, NULL), 0);
	cr_assert(jbool(rec, "already_wiped"));
	cr_assert(jbool(rec, "verified"));
	cr_assert(strstr(jstr(rec, "note"), "empty directory"));
	/* Nothing was written into it. */
	cr_assert_neq(access(sfs_bpath(m, ".scratchfs"), F_OK), 0);
	json_decref(rec);
}

enum half_kind { H_MARKER, H_TMP_ONLY, H_CORRUPT, H_NO_HEADER_META };

static const struct {
	enum half_kind kind;
	bool half;	  /* reported as half-wiped */
	const char *mode; /* reported mode */
} halves[] = {
    {H_MARKER, true, "unknown"},
    {H_TMP_ONLY, true, "unknown"},
    {H_CORRUPT, false, "unknown"},
    {H_NO_HEADER_META, true, "unknown"},
};
SFS_CASE_PARAMS(wipe, half_wiped, halves)
ParameterizedTest(int *i, wipe, half_wiped, .init = init_plain, .fini = fini,
		  .timeout = 45)
{
	struct sfs_mount *m = &sfs_fx;
	char id[33], marker[128];
	json_t *rec;
	uint8_t junk[192];

	populate(m, 1 << 20);
	volume_id(m, id, NULL);
	sfs_mount_stop(m);
	switch (halves[*i].kind) {
	case H_MARKER:
		/* A wipe that died after erasing the header. */
		snprintf(marker, sizeof(marker),
			 "{\"volume_id\":\"%s\",\"started\":\"x\"}\n", id);
		put(sfs_bpath(m, ".scratchfs/wiping"), marker);
		cr_assert_eq(unlink(sfs_bpath(m, ".scratchfs/volume")), 0);
		break;
	case H_TMP_ONLY:
		/* A creation that died before its rename. */
		cr_assert_eq(rename(sfs_bpath(m, ".scratchfs/volume"),
				    sfs_bpath(m, ".scratchfs/volume.tmp")),
			     0);
		break;
	case H_CORRUPT:
		memset(junk, 0xa5, sizeof(junk));
		cr_assert_eq(sfs_write_file(sfs_bpath(m, ".scratchfs/volume"),
					    junk, sizeof(junk)),
			     0);
		break;
	case H_NO_HEADER_META:
		/* Marker and a leftover temp header. */
		put(sfs_bpath(m, ".scratchfs/wiping"), "garbage");
		cr_assert_eq(rename(sfs_bpath(m, ".scratchfs/volume"),
				    sfs_bpath(m, ".scratchfs/volume.tmp")),
			     0);
		break;
	}
	cr_assert_eq(wipe_cli(m, m->backing, NULL, NULL, &rec, NULL), 0);
	assert_wiped(m, rec);
	cr_assert_eq(jbool(rec, "half_wiped"), halves[*i].half);
	cr_assert_str_eq(jstr(rec, "mode"), halves[*i].mode);
	cr_assert_str_eq(jstr(rec, "method"), "delete");
	if (halves[*i].kind == H_MARKER)
		cr_assert_str_eq(jstr(rec, "volume_id"), id);
	if (halves[*i].kind == H_CORRUPT)
		cr_assert(strstr(jstr(rec, "note"), "header unreadable"));
	cr_assert_not(
	    sfs_tree_has_bytes(m->root, CANARY, strlen(CANARY), true));
	json_decref(rec);
}

/* Far deeper than fds or PATH_MAX would allow a naive walk. */
Test(wipe, deep_tree, .init = init_plain, .fini = fini, .timeout = 45)
{
	struct sfs_mount *m = &sfs_fx;
	const int depth = 3000;
	json_t *rec;
	int fd;

	sfs_mount_stop(m);
	fd = open(m->backing, O_RDONLY | O_DIRECTORY);
	cr_assert(fd >= 0);
	for (int i = 0; i < depth; i++) {
		int next;

		cr_assert_eq(mkdirat(fd, "d", 0700), 0);
		next = openat(fd, "d", O_RDONLY | O_DIRECTORY);
		cr_assert(next >= 0);
		if (i % 100 == 0) {
			int f = openat(next, "f", O_WRONLY | O_CREAT, 0600);

			cr_assert(f >= 0);
			cr_assert_eq(write(f, CANARY, strlen(CANARY)),
				     (ssize_t)strlen(CANARY));
			close(f);
		}
		close(fd);
		fd = next;
	}
	close(fd);
	cr_assert_eq(wipe_cli(m, m->backing, NULL, NULL, &rec, NULL), 0);
	assert_wiped(m, rec);
	cr_assert_eq(sfs_json_int(json_object_get(rec, "destroyed"), "dirs"),
		     depth);
	json_decref(rec);
}

/*
 * The library interface
 */

/* Mount sources and mount points with a space and a backslash. */
Test(wipe, library_odd_paths, .init = init_setup, .fini = fini, .timeout = 45)
{
	struct sfs_mount *m = &sfs_fx;
	struct sfs_wipe_opts o = {0};
	struct sfs_wipe_report *r = malloc(sizeof(*r));
	char buf[PATH_MAX], err[512], *line;
	json_t *rec;

	cr_assert_not_null(r);
	snprintf(m->backing, sizeof(m->backing), "%s",
		 sfs_join(m->root, "back ing\\x"));
	snprintf(m->mnt, sizeof(m->mnt), "%s", sfs_join(m->root, "m nt"));
	cr_assert_eq(mkdir(m->backing, 0700), 0);
	cr_assert_eq(mkdir(m->mnt, 0700), 0);
	sfs_mount_start(m, "hbi=1");
	put(sfs_mpath(m, "f"), CANARY);
	cr_assert_eq(sfs_wipe_find_mount(m->backing, buf, sizeof(buf)), 1);
	cr_assert_str_eq(buf, m->mnt);
	cr_assert_eq(sfs_wipe_find_backing(m->mnt, buf, sizeof(buf)), 1);
	cr_assert_str_eq(buf, m->backing);
	cr_assert_eq(sfs_wipe_find_backing(m->root, buf, sizeof(buf)), 0);
	cr_assert_eq(sfs_wipe_find_mount(m->root, buf, sizeof(buf)), 0);

	/* Out of range passes: refused before anything happens. */
	o.passes = SFS_WIPE_MAX_PASSES + 1;
	cr_assert_eq(sfs_wipe_volume(m->mnt, &o, r, err, sizeof(err)), -EINVAL);
	cr_assert(r->refused);
	cr_assert_eq(sfs_wipe_find_mount(m->backing, buf, sizeof(buf)), 1);

	o.passes = 0;
	cr_assert_eq(sfs_wipe_volume(m->mnt, &o, r, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_str_eq(err, "");
	cr_assert(r->verified && r->was_mounted && r->header_found);
	cr_assert_eq(r->method, SFS_WIPE_CRYPTO_ERASE);
	cr_assert_str_eq(r->backing, m->backing);
	cr_assert_str_eq(r->mountpoint, m->mnt);
	cr_assert_eq(strlen(r->volume_id), 32);
	cr_assert_str_eq(sfs_wipe_method_name(r->method), "crypto-erase");
	line = sfs_wipe_report_json(r);
	rec = json_loads(line, 0, NULL);
	cr_assert_not_null(rec);
	cr_assert_str_eq(jstr(rec, "backing"), m->backing);
	cr_assert_str_eq(jstr(rec, "volume_id"), r->volume_id);
	/* No audit sink given: no record. */
	cr_assert_eq(audit_count(m, "wipe", NULL), 0);
	json_decref(rec);
	free(line);
	free(r);
	sfs_mount_stop(m);
}

/* The caller's fields join the wipe record; they never replace its own. */
Test(wipe, library_audit_fields, .init = init_hbi, .fini = fini)
{
	struct sfs_mount *m = &sfs_fx;
	json_t *fields = json_pack("{s:s, s:s, s:s}", "job_id", "4711", "user",
				   "alice", "event", "forged");
	struct sfs_wipe_opts o = {.lazy = true, .audit_fields = fields};
	struct sfs_wipe_report *r = malloc(sizeof(*r));
	struct sfs_audit *a = NULL;
	char err[512], *last = NULL;
	json_t *rec;

	cr_assert_not_null(r);
	cr_assert_eq(sfs_audit_open(&a, sfs_join(m->root, "audit.log"), false,
				    "test", err, sizeof(err)),
		     0, "%s", err);
	o.audit = a;
	cr_assert_eq(sfs_wipe_volume(m->mnt, &o, r, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(audit_count(m, "wipe", &last), 1);
	rec = json_loads(last, 0, NULL);
	cr_assert_not_null(rec);
	cr_assert_str_eq(jstr(rec, "job_id"), "4711");
	cr_assert_str_eq(jstr(rec, "user"), "alice");
	cr_assert_str_eq(jstr(rec, "event"), "wipe");
	cr_assert_str_eq(jstr(rec, "volume_id"), r->volume_id);
	json_decref(rec);
	json_decref(fields);
	sfs_audit_close(a);
	free(last);
	free(r);
}

static const struct {
	const char *args[4];
	int status;
	const char *msg; /* in stderr, or stdout for --help */
} cli_cases[] = {
    {{NULL}, 1, "usage"},
    {{"--passes", "17", "X"}, 1, "--passes"},
    {{"--passes", "-1", "X"}, 1, "--passes"},
    {{"--passes", "two", "X"}, 1, "--passes"},
    {{"X", "Y"}, 1, "usage"},
    {{"--bogus", "X"}, 1, "usage"},
    {{"--help"}, 0, "Exit status"},
};
SFS_CASE_PARAMS(wipe, cli_errors, cli_cases)
ParameterizedTest(int *i, wipe, cli_errors, .init = init_hbi, .fini = fini)
{
	struct sfs_mount *m = &sfs_fx;
	const char *argv[8] = {WIPE_BIN};
	int n = 1;
	char *out, *err;

	for (int k = 0; k < 4 && cli_cases[*i].args[k]; k++)
		argv[n++] = strcmp(cli_cases[*i].args[k], "X") == 0
				? m->backing
				: cli_cases[*i].args[k];
	argv[n] = NULL;
	cr_assert_eq(run_tool(m, argv, &out, &err), cli_cases[*i].status);
	cr_assert(strstr(cli_cases[*i].status ? err : out, cli_cases[*i].msg),
		  "out [%s] err [%s]", out, err);
	/* Nothing happened to the volume. */
	cr_assert_eq(access(sfs_mpath(m, "."), F_OK), 0);
	cr_assert_eq(access(sfs_bpath(m, ".scratchfs/volume"), F_OK), 0);
	free(out);
	free(err);
	sfs_mount_stop(m);
}

/* A bad audit log stops the wipe before it touches anything. */
Test(wipe, bad_audit_log_touches_nothing, .init = init_hbi, .fini = fini)
{
	struct sfs_mount *m = &sfs_fx;
	char text[PATH_MAX + 128], *err;
	const char *argv[5];

	cr_assert_eq(mkdir(sfs_join(m->root, "adir"), 0700), 0);
	snprintf(text, sizeof(text), "audit = { file = \"%s\"; };\n",
		 sfs_join(m->root, "adir"));
	put(sfs_join(m->root, "bad.conf"), text);
	argv[0] = WIPE_BIN;
	argv[1] = "-c";
	argv[2] = sfs_join(m->root, "bad.conf");
	argv[3] = m->mnt;
	argv[4] = NULL;
	cr_assert_eq(run_tool(m, argv, NULL, &err), 1);
	cr_assert(strstr(err, "audit log"), "%s", err);
	cr_assert_eq(access(sfs_bpath(m, ".scratchfs/volume"), F_OK), 0);
	free(err);
	sfs_mount_stop(m);
}

/* Two wipes of one volume never run at once. */
Test(wipe, concurrent_wipe_refused, .init = init_hbi, .fini = fini)
{
	struct sfs_mount *m = &sfs_fx;
	json_t *rec;
	char *err;
	int fd;

	fd = open(sfs_bpath(m, ".scratchfs"), O_RDONLY | O_DIRECTORY);
	cr_assert(fd >= 0);
	cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
	cr_assert_eq(wipe_cli(m, m->mnt, NULL, NULL, &rec, &err), 3, "%s", err);
	cr_assert(strstr(err, "another wipe"), "%s", err);
	cr_assert_eq(access(sfs_mpath(m, "."), F_OK), 0);
	cr_assert_eq(access(sfs_bpath(m, ".scratchfs/volume"), F_OK), 0);
	json_decref(rec);
	free(err);
	close(fd);
	cr_assert_eq(wipe_cli(m, m->mnt, NULL, NULL, &rec, &err), 0, "%s", err);
	assert_wiped(m, rec);
	json_decref(rec);
	free(err);
	sfs_mount_stop(m);
}

/* On a terminal, overwrite passes show progress. */
Test(wipe, progress_on_a_tty, .init = init_plain, .fini = fini)
{
	struct sfs_mount *m = &sfs_fx;
	char buf[65536], *big;
	size_t got = 0;
	int master, status;
	pid_t pid;

	big = calloc(1, 8 << 20);
	cr_assert_not_null(big);
	cr_assert_eq(sfs_write_file(sfs_mpath(m, "big"), big, 8 << 20), 0);
	free(big);
	master = posix_openpt(O_RDWR | O_NOCTTY);
	cr_assert(master >= 0);
	cr_assert_eq(grantpt(master), 0);
	cr_assert_eq(unlockpt(master), 0);
	fflush(NULL);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
		int null = open("/dev/null", O_RDWR);

		if (slave < 0 || null < 0)
			_exit(99);
		dup2(null, 0);
		dup2(null, 1);
		dup2(slave, 2);
		execl(WIPE_BIN, WIPE_BIN, "-c", m->conf, "--passes", "2",
		      m->mnt, (char *)NULL);
		_exit(98);
	}
	/* Read while it runs: a full pty would block it. */
	for (;;) {
		struct pollfd p = {.fd = master, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 100) > 0 && got < sizeof(buf) - 1) {
			n = read(master, buf + got, sizeof(buf) - 1 - got);
			if (n > 0)
				got += (size_t)n;
		}
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
	}
	while (got < sizeof(buf) - 1) {
		struct pollfd p = {.fd = master, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 50) <= 0)
			break;
		n = read(master, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(master);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", buf);
	cr_assert(strstr(buf, "overwriting: 16 of 16 MiB (2 passes) 100%"),
		  "progress: [%s]", buf);
	sfs_mount_stop(m);
}

/* The record is part of the job: a wipe whose record cannot be written
 * fails (after wiping). */
Test(wipe, audit_write_failure_fails, .init = init_setup, .fini = fini)
{
	struct sfs_mount *m = &sfs_fx;
	char dir[PATH_MAX], text[PATH_MAX + 128], *err, *fill;
	json_t *rec;
	int rc;

	snprintf(dir, sizeof(dir), "%s", sfs_join(m->root, "alog"));
	cr_assert_eq(mkdir(dir, 0700), 0);
	cr_assert_eq(mount("tmpfs", dir, "tmpfs", 0, "size=64k"), 0, "%s",
		     strerror(errno));
	snprintf(planted_mount[0], PATH_MAX, "%s", dir);
	cr_assert(snprintf(text, sizeof(text),
			   "audit = { file = \"%s/audit.log\"; syslog = "
			   "false; };\n",
			   dir) < (int)sizeof(text));
	sfs_mount_write_conf(m, text);
	sfs_mount_start(m, "hbi=1");
	/* Pad the log to a whole page, then fill its filesystem: the next
	 * record needs a page there is no room for. */
	{
		char path[PATH_MAX + 16], pad[4096];
		struct stat st;
		size_t n;
		FILE *f;

		snprintf(path, sizeof(path), "%s/audit.log", dir);
		cr_assert_eq(stat(path, &st), 0);
		n = 4096 - (size_t)st.st_size % 4096;
		cr_assert_geq(n, 12);
		memset(pad, 'x', sizeof(pad));
		f = fopen(path, "a");
		cr_assert_not_null(f);
		fprintf(f, "{\"p\":\"%.*s\"}\n", (int)(n - 9), pad);
		cr_assert_eq(fclose(f), 0);
		cr_assert_eq(stat(path, &st), 0);
		cr_assert_eq(st.st_size % 4096, 0);
	}
	fill = calloc(1, 128 << 10);
	cr_assert_not_null(fill);
	rc = sfs_write_file(sfs_join(dir, "fill"), fill, 128 << 10);
	cr_assert_eq(rc, -ENOSPC, "%s", strerror(-rc));
	free(fill);
	cr_assert_eq(wipe_cli(m, m->mnt, NULL, NULL, &rec, &err), 4, "%s", err);
	cr_assert(strstr(err, "audit record could not be written"), "%s", err);
	/* The wipe itself happened. */
	cr_assert(jbool(rec, "verified"));
	json_decref(rec);
	free(err);
	sfs_mount_stop(m);
	cr_assert_eq(umount2(dir, 0), 0);
	planted_mount[0][0] = '\0';
}

/* A path that is not UTF-8 still gives a valid record. */
Test(wipe, non_utf8_path_record, .init = init_setup, .fini = fini)
{
	struct sfs_mount *m = &sfs_fx;
	json_t *rec;

	cr_assert(snprintf(m->backing, sizeof(m->backing), "%s/b\xff\xfe",
			   m->root) < (int)sizeof(m->backing));
	cr_assert_eq(mkdir(m->backing, 0700), 0);
	sfs_mount_start(m, "hbi=1");
	put(sfs_mpath(m, "f"), "x");
	cr_assert_eq(wipe_cli(m, m->mnt, NULL, NULL, &rec, NULL), 0);
	cr_assert(jbool(rec, "verified"));
	cr_assert(strstr(jstr(rec, "backing"), "/b??"), "%s",
		  jstr(rec, "backing"));
	json_decref(rec);
	sfs_mount_stop(m);
}

/*
 * The sanitization record (NIST SP 800-88 Rev. 1, Appendix G)
 */

/* Runs scratchfs-wipe --json [a] on m->backing; checks what every
 * sanitization object holds and that the audit record carries the same;
 * returns it (owned by *rec). */
static json_t *sanitization(struct sfs_mount *m, const char *a, json_t **rec)
{
	char devno[32], *last = NULL;
	json_t *s, *media, *nc, *audit;
	struct stat st;
	size_t i;
	json_t *v;
	bool page_cache = false, swap = false, remapped = false;

	cr_assert_eq(stat(m->root, &st), 0);
	cr_assert_eq(wipe_cli(m, m->backing, a, NULL, rec, NULL), 0);
	s = json_object_get(*rec, "sanitization");
	cr_assert(json_is_object(s), "no sanitization object");
	cr_assert(strstr(jstr(s, "standard"), "SP 800-88"));
	media = json_object_get(s, "media");
	cr_assert_str_eq(jstr(media, "volume_id"), jstr(*rec, "volume_id"));
	cr_assert_str_eq(jstr(media, "backing"), m->backing);
	snprintf(devno, sizeof(devno), "%u:%u", major(st.st_dev),
		 minor(st.st_dev));
	cr_assert_str_eq(jstr(media, "device_number"), devno);
	cr_assert_neq(jstr(media, "filesystem")[0], '\0');
	cr_assert_neq(jstr(media, "device")[0], '\0');
	cr_assert_str_eq(jstr(media, "node"), jstr(*rec, "host"));
	cr_assert_str_eq(jstr(s, "tool.name"), "scratchfs-wipe");
	cr_assert_str_eq(jstr(s, "tool.version"), SFS_VERSION);
	cr_assert_str_eq(jstr(s, "key_source"), jstr(*rec, "key_source"));
	cr_assert_str_eq(jstr(s, "verification.result"), "pass");
	cr_assert_leq(strcmp(jstr(s, "started"), jstr(s, "ended")), 0);
	cr_assert_str_eq(jstr(s, "ended"), jstr(*rec, "time"));
	nc = json_object_get(s, "not_covered");
	json_array_foreach(nc, i, v)
	{
		page_cache |= strstr(json_string_value(v), "page cache") != 0;
		swap |= strstr(json_string_value(v), "swap") != 0;
		remapped |= strstr(json_string_value(v), "remapped") != 0;
	}
	cr_assert(page_cache && swap && remapped,
		  "not_covered misses page cache, swap or remapped blocks");
	/* The audit record is the same record. */
	cr_assert_eq(audit_count(m, "wipe", &last), 1);
	audit = json_loads(last, 0, NULL);
	cr_assert_not_null(audit);
	cr_assert(json_equal(json_object_get(audit, "sanitization"), s),
		  "the audit record's sanitization differs from --json's");
	json_decref(audit);
	free(last);
	return s;
}

static size_t n_keys(json_t *s)
{
	return json_array_size(json_object_get(s, "keys"));
}

Test(wipe, sanitization_record_ephemeral, .init = init_hbi, .fini = fini)
{
	json_t *rec, *s;

	populate(&sfs_fx, 10000);
	s = sanitization(&sfs_fx, NULL, &rec);
	cr_assert_str_eq(jstr(s, "method_type"), "purge");
	cr_assert_str_eq(jstr(s, "method"), "cryptographic erase, then delete");
	cr_assert_eq(n_keys(s), 1, "an ephemeral volume has one key copy");
	json_decref(rec);
}

Test(wipe, sanitization_record_keyfile, .init = init_setup, .fini = fini)
{
	char opts[PATH_MAX + 64];
	json_t *rec, *s, *node;

	snprintf(opts, sizeof(opts), "hbi=1,key=keyfile:%s",
		 sfs_join(sfs_fx.root, "node.key"));
	sfs_mount_start(&sfs_fx, opts);
	populate(&sfs_fx, 10000);
	s = sanitization(&sfs_fx, NULL, &rec);
	/* The node key survives: a stale keyslot copy would open it. */
	cr_assert_str_eq(jstr(s, "method_type"), "clear");
	cr_assert(strstr(jstr(s, "method_note"), "node key"));
	cr_assert_eq(n_keys(s), 3);
	node = json_array_get(json_object_get(s, "keys"), 2);
	cr_assert(strstr(jstr(node, "fate"), "kept"), "%s", jstr(node, "fate"));
	cr_assert(
	    strstr(jstr(json_array_get(json_object_get(s, "keys"), 1), "fate"),
		   "overwritten"));
	json_decref(rec);
}

Test(wipe, sanitization_record_plain, .init = init_plain, .fini = fini)
{
	json_t *rec, *s;

	populate(&sfs_fx, 10000);
	s = sanitization(&sfs_fx, "--passes=1", &rec);
	cr_assert_str_eq(jstr(s, "method_type"), "clear");
	cr_assert_str_eq(jstr(s, "method"),
			 "overwrite (1 pass, the last one zeros), then delete");
	cr_assert_eq(n_keys(s), 0);
	json_decref(rec);
}

/*
 * What scratchfs-ctl fsck --quarantine leaves in .scratchfs/
 */

/* The one encrypted name in the backing root (not .scratchfs, .sfs.*). */
static void only_data_file(const struct sfs_mount *m, char *out, size_t cap)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(m->backing);

	cr_assert_not_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			snprintf(out, cap, "%s", sfs_bpath(m, de->d_name));
			n++;
		}
	closedir(d);
	cr_assert_eq(n, 1, "expected one data file in %s", m->backing);
}

Test(wipe, fsck_quarantine_is_wiped, .init = init_setup, .fini = fini,
     .timeout = 45)
{
	struct sfs_mount *m = &sfs_fx;
	char opts[PATH_MAX + 64], key[PATH_MAX + 64], data[PATH_MAX], *err;
	const char *argv[8];
	uint8_t buf[3 * 4096];
	json_t *rec;
	int fd;

	snprintf(opts, sizeof(opts), "hbi=1,key=keyfile:%s",
		 sfs_join(m->root, "node.key"));
	snprintf(key, sizeof(key), "key=keyfile:%s",
		 sfs_join(m->root, "node.key"));
	sfs_mount_start(m, opts);
	memset(buf, 'q', sizeof(buf));
	memcpy(buf + 100, CANARY, strlen(CANARY));
	cr_assert_eq(sfs_write_file(sfs_mpath(m, "f"), buf, sizeof(buf)), 0);
	sfs_mount_stop(m);
	/* One flipped byte in the first block's ciphertext. */
	only_data_file(m, data, sizeof(data));
	fd = open(data, O_RDWR);
	cr_assert(fd >= 0);
	cr_assert_eq(pread(fd, buf, 1, 4096 + 50), 1);
	buf[0] ^= 0x40;
	cr_assert_eq(pwrite(fd, buf, 1, 4096 + 50), 1);
	close(fd);
	argv[0] = SFS_BUILD_DIR "/scratchfs-ctl";
	argv[1] = "fsck";
	argv[2] = "--quarantine";
	argv[3] = "-o";
	argv[4] = key;
	argv[5] = m->backing;
	argv[6] = NULL;
	cr_assert_eq(run_tool(m, argv, NULL, &err), 1, "fsck: %s", err);
	free(err);
	cr_assert_eq(access(data, F_OK), -1);
	cr_assert_eq(rmdir(sfs_bpath(m, ".scratchfs/quarantine")), -1);
	cr_assert_eq(errno, ENOTEMPTY, "fsck quarantined nothing");

	cr_assert_eq(wipe_cli(m, m->backing, NULL, NULL, &rec, &err), 0, "%s",
		     err);
	assert_wiped(m, rec);
	cr_assert_str_eq(jstr(rec, "method"), "crypto-erase");
	cr_assert(jbool(json_object_get(rec, "destroyed"), "header"));
	cr_assert_not(
	    sfs_tree_has_bytes(m->root, CANARY, strlen(CANARY), true));
	free(err);
	json_decref(rec);
}

/*
 * Hard links planted at every file the wipe writes: the wipe only unlinks
 * them, and the file they share an inode with (outside) survives
 */

static const struct {
	const char *opts; /* "keyfile": hbi=1 with the node key file */
	const char *passes;
} linked_cases[] = {
    {"hbi=0", "1"},
    {"keyfile", NULL},
};
SFS_CASE_PARAMS(wipe, hard_links_survive, linked_cases)
ParameterizedTest(int *i, wipe, hard_links_survive, .init = init_setup,
		  .fini = fini, .timeout = 45)
{
	/* Names in the backing directory, each hard-linked from outside. */
	static const char *const at[] = {".scratchfs/volume.tmp",
					 ".scratchfs/wiping", "data-hl"};
	struct sfs_mount *m = &sfs_fx;
	const char *out = sfs_join(m->root, "outside");
	char opts[PATH_MAX + 64], path[PATH_MAX], hdr[PATH_MAX], *got, *hbuf;
	size_t hlen, n;
	json_t *rec;

	if (strcmp(linked_cases[*i].opts, "keyfile") == 0)
		snprintf(opts, sizeof(opts), "hbi=1,key=keyfile:%s",
			 sfs_join(m->root, "node.key"));
	else
		snprintf(opts, sizeof(opts), "%s", linked_cases[*i].opts);
	sfs_mount_start(m, opts);
	populate(m, 1 << 20);
	cr_assert_eq(mkdir(out, 0755), 0);
	for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
		snprintf(path, sizeof(path), "%s/canary%zu", out, k);
		put(path, CANARY " outside\n");
		cr_assert_eq(link(path, sfs_bpath(m, at[k])), 0, "%s: %s",
			     at[k], strerror(errno));
	}
	/* The header itself, linked out. */
	snprintf(hdr, sizeof(hdr), "%s/header-copy", out);
	cr_assert_eq(link(sfs_bpath(m, ".scratchfs/volume"), hdr), 0);
	hbuf = sfs_read_file(hdr, &hlen);
	cr_assert_not_null(hbuf);

	cr_assert_eq(wipe_cli(m, m->mnt,
			      linked_cases[*i].passes ? "--passes" : NULL,
			      linked_cases[*i].passes, &rec, NULL),
		     0);
	assert_wiped(m, rec);
	for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
		snprintf(path, sizeof(path), "%s/canary%zu", out, k);
		got = sfs_read_file(path, &n);
		cr_assert_not_null(got, "%s: gone", path);
		cr_assert(n == strlen(CANARY " outside\n") &&
			      memcmp(got, CANARY " outside\n", n) == 0,
			  "the file linked at %s was written to", at[k]);
		free(got);
	}
	got = sfs_read_file(hdr, &n);
	cr_assert(got && n == hlen && memcmp(got, hbuf, n) == 0,
		  "the file linked at .scratchfs/volume was written to");
	/* A copy of the header lives on: the record says so and does not
	 * claim it is destroyed. */
	cr_assert(strstr(jstr(rec, "note"), "hard-linked"), "note: %s",
		  jstr(rec, "note"));
	cr_assert_not(jbool(json_object_get(rec, "destroyed"), "header"));
	free(got);
	free(hbuf);
	json_decref(rec);
	sfs_mount_stop(m);
}

/*
 * Daemons that do not answer: stopped, or stuck in a request
 */

/* Until every thread of pid is stopped (state T in its stat). */
static void wait_stopped(pid_t pid)
{
	for (int i = 0; i < 500; i++) {
		char dir[64], buf[512];
		const char *st;
		bool all = true;
		struct dirent *de;
		DIR *d;

		snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
		d = opendir(dir);
		cr_assert_not_null(d);
		while ((de = readdir(d)) && all) {
			if (de->d_name[0] == '.')
				continue;
			st = sfs_proc_stat(atoi(de->d_name), buf, sizeof(buf));
			all = st && *st == 'T';
		}
		closedir(d);
		if (all)
			return;
		usleep(10000);
	}
	cr_assert_fail("daemon %d did not stop", (int)pid);
}

/* A process blocked in read(2) of path on the mount (its daemon is
 * stopped): opened first, then read once the daemon no longer answers. */
static pid_t blocked_reader(const char *path, pid_t daemon)
{
	pid_t parent = getpid(), pid;
	int go[2];
	char c = 0;

	cr_assert_eq(pipe(go), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		/* O_DIRECT: past the page cache, to the daemon. */
		static char buf[4096] __attribute__((aligned(4096)));
		int fd = open(path, O_RDONLY | O_DIRECT);

		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent ||
		    fd < 0 || read(go[0], &c, 1) != 1)
			_exit(1);
		(void)!read(fd, buf, sizeof(buf));
		_exit(0);
	}
	close(go[0]);
	/* Until it has the file open. */
	for (int i = 0; i < 500; i++) {
		char fdp[64], link[PATH_MAX];
		ssize_t n;

		snprintf(fdp, sizeof(fdp), "/proc/%d/fd/3", (int)pid);
		n = readlink(fdp, link, sizeof(link) - 1);
		if (n > 0 && (link[n] = '\0', strcmp(link, path) == 0))
			break;
		usleep(10000);
	}
	cr_assert_eq(kill(daemon, SIGSTOP), 0);
	daemon_stopped = true;
	wait_stopped(daemon);
	cr_assert_eq(write(go[1], &c, 1), 1);
	close(go[1]);
	/* Until it is in read(2) (syscall 0 on x86_64, 63 on arm64). */
	for (int i = 0; i < 500; i++) {
		char sc[64], *text;

		snprintf(sc, sizeof(sc), "/proc/%d/syscall", (int)pid);
		text = sfs_slurp(sc);
		if (text && (strncmp(text, "0 ", 2) == 0 ||
			     strncmp(text, "63 ", 3) == 0)) {
			free(text);
			return pid;
		}
		free(text);
		usleep(10000);
	}
	cr_assert_fail("the reader did not block in read");
	return -1;
}

static void wipe_unresponsive(struct sfs_mount *m, bool reader)
{
	long long t0;
	json_t *rec;
	char *err;

	/* Nothing from the kernel's cache: every call on the mount asks
	 * the daemon. */
	sfs_mount_write_audit_conf(m, "fuse = { cache_timeout = 0.0; };\n");
	sfs_mount_start(m, "hbi=1");
	populate(m, 1 << 20);
	if (reader) {
		holder = blocked_reader(sfs_mpath(m, "d1/big"), m->pid);
	} else {
		cr_assert_eq(kill(m->pid, SIGSTOP), 0);
		daemon_stopped = true;
	}
	tool_limit_s = 15;
	t0 = sfs_now_ms();
	cr_assert_eq(wipe_cli(m, m->mnt, NULL, NULL, &rec, &err), 0, "%s", err);
	cr_assert_lt(sfs_now_ms() - t0, 15000);
	tool_limit_s = 40;
	assert_wiped(m, rec);
	cr_assert_str_eq(jstr(rec, "method"), "crypto-erase");
	cr_assert(strstr(jstr(rec, "note"), "did not answer"), "note: %s",
		  jstr(rec, "note"));
	cr_assert(strstr(jstr(rec, "daemon"), "SIG"), "daemon: %s",
		  jstr(rec, "daemon"));
	cr_assert_not(
	    sfs_tree_has_bytes(m->root, CANARY, strlen(CANARY), true));
	reap_daemon(m);
	daemon_stopped = false;
	if (reader) {
		/* The reader got an error, not data, and is not stuck. */
		int status;

		cr_assert_eq(waitpid(holder, &status, 0), holder);
		holder = -1;
	}
	json_decref(rec);
	free(err);
}

Test(wipe, stopped_daemon, .init = init_setup, .fini = fini)
{
	wipe_unresponsive(&sfs_fx, false);
}

Test(wipe, daemon_stuck_in_a_request, .init = init_setup, .fini = fini)
{
	wipe_unresponsive(&sfs_fx, true);
}
