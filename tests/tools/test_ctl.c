/* test_ctl.c - scratchfs-ctl status, verify and fsck against real mounts
 * and real backing directories: live counters of two mounts, stale mounts,
 * planted offenders found exactly, corrupted blocks found exactly,
 * quarantine, and every refusal. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "mount_util.h"
#include "sfs_crypto.h"
#include "sfs_ctl.h"
#include "sfs_keys.h"
#include "sfs_names.h"
#include "sfs_volume.h"
#include "util.h"

#define CTL SFS_BUILD_DIR "/scratchfs-ctl"
#define CTL_WAIT_S 30
#define MAX_ARGS 16

/* Geometry with cipher=xchacha20poly1305 (doc/FORMAT.md section 5): groups
 * of a metadata page and K data pages. */
#define BS 4096L
#define HDR 18L
#define K ((BS - 64L) / (24L + 16L))

/* snprintf that fails the test instead of truncating. */
static __attribute__((format(printf, 3, 4))) void fmt(char *buf, size_t cap,
						      const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, cap, f, ap);
	va_end(ap);
	cr_assert(n >= 0 && (size_t)n < cap, "string too long");
}

static struct sfs_mount m1, m2;

static void fini_both(void)
{
	sfs_mount_teardown(&m1);
	sfs_mount_teardown(&m2);
}

static void init_one(void)
{
	sfs_mount_setup(&m1);
	m2.root[0] = '\0';
}

static void init_two(void)
{
	sfs_mount_setup(&m1);
	sfs_mount_setup(&m2);
}

/* What the last ctl run printed. */
static char ctl_out[1 << 20], ctl_err[1 << 16];

static void slurp(const char *path, char *buf, size_t cap)
{
	size_t len = 0;
	char *data = sfs_read_file(path, &len);

	cr_assert_not_null(data, "read %s: %s", path, strerror(errno));
	if (len >= cap)
		len = cap - 1;
	memcpy(buf, data, len);
	buf[len] = '\0';
	free(data);
}

/* Runs scratchfs-ctl with the NULL-terminated arguments as user uid (0 =
 * ourselves); its stdout and stderr land in ctl_out / ctl_err. Returns the
 * exit status. */
static int ctl_as(struct sfs_mount *m, uid_t uid, const char *arg, ...)
{
	const char *argv[MAX_ARGS + 2] = {CTL};
	char out[PATH_MAX], err[PATH_MAX];
	int argc = 1, status;
	pid_t pid, parent = getpid();
	va_list ap;
	long waited;

	va_start(ap, arg);
	for (const char *a = arg; a; a = va_arg(ap, const char *)) {
		cr_assert_lt(argc, MAX_ARGS + 1);
		argv[argc++] = a;
	}
	va_end(ap);
	argv[argc] = NULL;
	fmt(out, sizeof(out), "%s", sfs_join(m->root, "ctl.out"));
	fmt(err, sizeof(err), "%s", sfs_join(m->root, "ctl.err"));
	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0666);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0666);

		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent ||
		    o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(127);
		if (uid && (setgid(uid) || setuid(uid)))
			_exit(126);
		execv(CTL, (char *const *)argv);
		_exit(127);
	}
	for (waited = 0;; waited += 10) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (waited > CTL_WAIT_S * 1000L) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			cr_assert_fail("scratchfs-ctl %s hangs", arg);
		}
		usleep(10000);
	}
	slurp(out, ctl_out, sizeof(ctl_out));
	slurp(err, ctl_err, sizeof(ctl_err));
	cr_assert(WIFEXITED(status), "scratchfs-ctl %s died: status %d", arg,
		  status);
	return WEXITSTATUS(status);
}

#define ctl(m, ...) ctl_as(m, 0, __VA_ARGS__, NULL)

/* Parses ctl_out as JSON; fails the test otherwise. */
static json_t *ctl_json(void)
{
	json_error_t e;
	json_t *j = json_loads(ctl_out, 0, &e);

	cr_assert_not_null(j, "not JSON (%s): %s\nstderr: %s", e.text, ctl_out,
			   ctl_err);
	return j;
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The entry of mount point mnt in a status document, or NULL. */
static json_t *find_mount(json_t *doc, const char *mnt)
{
	json_t *arr = json_object_get(doc, "mounts"), *e;
	size_t i;

	cr_assert(json_is_array(arr), "no mounts array: %s", ctl_out);
	json_array_foreach(arr, i, e)
	{
		const char *mp = jstr(e, "mountpoint");

		if (mp && strcmp(mp, mnt) == 0)
			return e;
	}
	return NULL;
}

static long long counter(json_t *mount, const char *name)
{
	json_t *c = json_object_get(mount, "counters");

	cr_assert(json_is_object(c), "no counters: %s", ctl_out);
	return sfs_json_int(c, name);
}

static const char *keyfile(const struct sfs_mount *m)
{
	return sfs_join(m->root, "node.key");
}

static void mount_keyfile(struct sfs_mount *m)
{
	char opts[PATH_MAX + 96];

	snprintf(opts, sizeof(opts),
		 "hbi=1,key=keyfile:%s,cipher=xchacha20poly1305", keyfile(m));
	sfs_mount_start(m, opts);
}

static const char *key_opt(const struct sfs_mount *m)
{
	static char opt[PATH_MAX + 32];

	fmt(opt, sizeof(opt), "key=keyfile:%s", keyfile(m));
	return opt;
}

/* Hex key id of the node key file of m, as status must report it. */
static void expected_key_id(const struct sfs_mount *m, char hex[33])
{
	uint8_t id[SFS_KEY_ID_BYTES];
	size_t len;
	uint8_t *key = sfs_read_file(keyfile(m), &len);

	cr_assert_not_null(key);
	cr_assert_eq(len, SFS_KEY_BYTES);
	cr_assert_eq(sfs_crypto_init(), 0);
	sfs_key_id(key, id);
	sfs_wipe(key, len);
	free(key);
	sfs_hex(hex, id, SFS_KEY_ID_BYTES);
}

static void expected_volume_id(const struct sfs_mount *m, char hex[33])
{
	struct sfs_volume_header h;
	char err[256];
	int fd = open(m->backing, O_RDONLY | O_DIRECTORY);

	cr_assert_geq(fd, 0);
	cr_assert_eq(sfs_volume_read(fd, &h, err, sizeof(err)), 0, "%s", err);
	close(fd);
	sfs_hex(hex, h.uuid, SFS_VOLUME_UUID_BYTES);
}

static void put_file(const char *path, size_t len, unsigned seed)
{
	uint8_t *buf = malloc(len ? len : 1);
	int rc;

	cr_assert_not_null(buf);
	sfs_fill_pattern(buf, len, seed);
	rc = sfs_write_file(path, buf, len);
	cr_assert_eq(rc, 0, "write %s: %s", path, strerror(-rc));
	free(buf);
}

/*
 * status
 */

Test(ctl_status, two_mounts_live_counters, .init = init_two, .fini = fini_both,
     .timeout = 60)
{
	char kid[33], vid1[33], vid2[33];
	json_t *doc, *a, *b;
	long long w0, r0, wops0, rops0;
	uint8_t buf[8192];
	int rc, fd;

	mount_keyfile(&m1);
	sfs_mount_start(&m2, "hbi=0");
	expected_key_id(&m1, kid);
	expected_volume_id(&m1, vid1);
	expected_volume_id(&m2, vid2);
	/* A file the kernel has never cached: written to the plain volume's
	 * backing directory, so reading it must go through the daemon. */
	put_file(sfs_bpath(&m2, "direct"), sizeof(buf), 1);

	/* Other mounts on the node may answer badly (exit 1): ours must be
	 * listed either way. */
	rc = ctl(&m1, "status", "--json");
	cr_assert(rc == 0 || rc == 1, "status: %d %s", rc, ctl_err);
	doc = ctl_json();
	a = find_mount(doc, m1.mnt);
	b = find_mount(doc, m2.mnt);
	cr_assert_not_null(a, "%s not listed: %s", m1.mnt, ctl_out);
	cr_assert_not_null(b, "%s not listed: %s", m2.mnt, ctl_out);
	cr_assert_str_eq(jstr(a, "state"), "running");
	cr_assert_str_eq(jstr(b, "state"), "running");
	cr_assert_str_eq(jstr(a, "backing"), m1.backing);
	cr_assert_str_eq(jstr(b, "backing"), m2.backing);
	cr_assert_str_eq(jstr(a, "mode"), "encrypted");
	cr_assert_str_eq(jstr(b, "mode"), "plain");
	cr_assert_str_eq(jstr(a, "cipher"), "xchacha20poly1305");
	cr_assert_str_eq(jstr(b, "cipher"), "none");
	cr_assert_str_eq(jstr(a, "key_source"), "keyfile");
	cr_assert_str_eq(jstr(b, "key_source"), "none");
	cr_assert_str_eq(jstr(a, "key_id"), kid);
	cr_assert(json_is_null(json_object_get(b, "key_id")));
	cr_assert_str_eq(jstr(a, "volume_id"), vid1);
	cr_assert_str_eq(jstr(b, "volume_id"), vid2);
	cr_assert_eq(sfs_json_int(a, "pid"), m1.pid);
	cr_assert_eq(sfs_json_int(b, "pid"), m2.pid);
	w0 = counter(a, "bytes_written");
	wops0 = counter(a, "write_ops");
	r0 = counter(b, "bytes_read");
	rops0 = counter(b, "read_ops");
	cr_assert_eq(counter(a, "open_files"), 0);
	cr_assert_eq(counter(a, "integrity_failures"), 0);
	/* Both daemons took what the kernel offered them (test_uring checks
	 * which); only a ring carries uring_requests. */
	cr_assert_not_null(jstr(a, "transport"), "no transport: %s", ctl_out);
	cr_assert_str_eq(jstr(a, "transport"), jstr(b, "transport"));
	if (strcmp(jstr(a, "transport"), "io_uring") == 0)
		cr_assert_gt(counter(a, "uring_requests"), 0);
	else
		cr_assert_str_eq(jstr(a, "transport"), "dev_fuse");
	json_decref(doc);

	/* I/O on both; keep one file open on the first. */
	put_file(sfs_mpath(&m1, "f"), 100000, 2);
	fd = open(sfs_mpath(&m2, "direct"), O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(read(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(fd);
	fd = open(sfs_mpath(&m1, "f"), O_RDONLY);
	cr_assert_geq(fd, 0);

	rc = ctl(&m1, "status", "--json", m1.mnt);
	cr_assert_eq(rc, 0, "status %s: %d %s", m1.mnt, rc, ctl_err);
	doc = ctl_json();
	cr_assert_eq(json_array_size(json_object_get(doc, "mounts")), 1,
		     "a MOUNTPOINT lists that mount only: %s", ctl_out);
	a = find_mount(doc, m1.mnt);
	cr_assert_not_null(a);
	cr_assert_geq(counter(a, "bytes_written"), w0 + 100000);
	cr_assert_gt(counter(a, "write_ops"), wops0);
	cr_assert_eq(counter(a, "open_files"), 1);
	json_decref(doc);
	close(fd);

	cr_assert_eq(ctl(&m2, "status", "--json", m2.mnt), 0, "%s", ctl_err);
	doc = ctl_json();
	b = find_mount(doc, m2.mnt);
	cr_assert_not_null(b);
	cr_assert_geq(counter(b, "bytes_read"), r0 + (long long)sizeof(buf));
	cr_assert_gt(counter(b, "read_ops"), rops0);
	json_decref(doc);

	/* The human table lists both, with the short ids. */
	rc = ctl(&m1, "status");
	cr_assert(rc == 0 || rc == 1);
	cr_assert(strstr(ctl_out, "MOUNTPOINT") && strstr(ctl_out, m1.mnt) &&
		      strstr(ctl_out, m2.mnt),
		  "%s", ctl_out);
	kid[8] = '\0';
	cr_assert(strstr(ctl_out, kid), "no key id %s in %s", kid, ctl_out);
	sfs_mount_stop(&m1);
	sfs_mount_stop(&m2);
}

Test(ctl_status, stale_mount, .init = init_one, .fini = fini_both,
     .timeout = 60)
{
	char vid[33];
	json_t *doc, *a;
	int status;

	sfs_mount_start(&m1, "hbi=1");
	expected_volume_id(&m1, vid);
	kill(m1.pid, SIGKILL);
	cr_assert_eq(waitpid(m1.pid, &status, 0), m1.pid);
	m1.pid = -1;

	cr_assert_eq(ctl(&m1, "status", "--json", m1.mnt), 0, "%s", ctl_err);
	doc = ctl_json();
	a = find_mount(doc, m1.mnt);
	cr_assert_not_null(a, "%s", ctl_out);
	cr_assert_str_eq(jstr(a, "state"), "stale");
	cr_assert(json_is_null(json_object_get(a, "counters")));
	/* What the header says is still shown. */
	cr_assert_str_eq(jstr(a, "volume_id"), vid);
	cr_assert_str_eq(jstr(a, "key_source"), "ephemeral");
	json_decref(doc);
	cr_assert_eq(ctl(&m1, "status", m1.mnt), 0);
	cr_assert(strstr(ctl_out, "stale"), "%s", ctl_out);

	cr_assert_eq(umount2(m1.mnt, MNT_DETACH), 0, "%s", strerror(errno));
	m1.mounted = false;
	cr_assert_eq(ctl(&m1, "status", m1.mnt), 2);
	cr_assert(strstr(ctl_err, "not a scratchfs mount"), "%s", ctl_err);
}

/* fuse.xattrs = false: the kernel answers xattr calls itself (so it no
 * longer asks before every write), data still round-trips, and status
 * says why it has no live counters instead of calling the mount broken. */
Test(ctl_status, xattrs_off, .init = init_one, .fini = fini_both, .timeout = 60)
{
	const char *f = sfs_mpath(&m1, "f");
	char buf[8];
	json_t *doc, *a;

	sfs_mount_write_conf(&m1, "fuse = { xattrs = false; };\n");
	sfs_mount_start(&m1, "hbi=1");
	put_file(f, 3 * 4096 + 5, 7);
	cr_assert_eq(setxattr(f, "user.k", "v", 1, 0), -1);
	cr_assert_eq(errno, EOPNOTSUPP, "setxattr: %s", strerror(errno));
	cr_assert_eq(getxattr(f, "user.k", buf, sizeof(buf)), -1);
	cr_assert_eq(errno, EOPNOTSUPP, "getxattr: %s", strerror(errno));
	cr_assert_eq(listxattr(f, buf, sizeof(buf)), -1);
	cr_assert_eq(errno, EOPNOTSUPP, "listxattr: %s", strerror(errno));

	cr_assert_eq(ctl(&m1, "status", "--json", m1.mnt), 0, "%s", ctl_err);
	doc = ctl_json();
	a = find_mount(doc, m1.mnt);
	cr_assert_not_null(a, "%s", ctl_out);
	cr_assert_str_eq(jstr(a, "state"), "running");
	cr_assert(strstr(jstr(a, "error"), "xattrs = false"), "%s", ctl_out);
	cr_assert(json_is_null(json_object_get(a, "counters")));
	cr_assert_str_eq(jstr(a, "mode"), "encrypted");
	json_decref(doc);
	cr_assert_eq(ctl(&m1, "status", m1.mnt), 0, "%s", ctl_err);
	cr_assert(strstr(ctl_out, "xattrs = false"), "%s", ctl_out);

	/* Writes still work without the xattr round trips. */
	{
		size_t len;
		uint8_t *got = sfs_read_file(f, &len), *want = malloc(len);

		cr_assert(got && want);
		cr_assert_eq(len, 3 * 4096 + 5);
		sfs_fill_pattern(want, len, 7);
		cr_assert_eq(memcmp(got, want, len), 0);
		free(got);
		free(want);
	}
	sfs_mount_stop(&m1);
}

/* Other users are refused by the daemon itself (allow_other lets their
 * request reach it). */
Test(ctl_status, other_user_denied, .init = init_one, .fini = fini_both,
     .timeout = 60)
{
	json_t *doc, *a;

	chmod(m1.root, 0755);
	sfs_mount_start(&m1, "hbi=1,allow_other");
	cr_assert_eq(ctl_as(&m1, 65534, "status", "--json", m1.mnt, NULL), 1,
		     "%s", ctl_err);
	doc = ctl_json();
	a = find_mount(doc, m1.mnt);
	cr_assert_not_null(a);
	cr_assert_str_eq(jstr(a, "state"), "denied");
	cr_assert(strstr(jstr(a, "error"), "Operation not permitted"), "%s",
		  jstr(a, "error"));
	json_decref(doc);
	/* Not a listed attribute, not settable. */
	cr_assert_lt(setxattr(m1.mnt, "scratchfs.status", "x", 1, 0), 0);
	{
		char list[4096];
		ssize_t ln = listxattr(m1.mnt, list, sizeof(list));

		cr_assert_geq(ln, 0);
		for (char *x = list; x < list + ln; x += strlen(x) + 1)
			cr_assert_str_neq(x, "scratchfs.status");
	}
	sfs_mount_stop(&m1);
}

/* The attribute follows getxattr(2)'s size protocol, on the root only. */
Test(ctl_status, xattr_protocol, .init = init_one, .fini = fini_both,
     .timeout = 60)
{
	char buf[4096];
	ssize_t n, m;
	json_t *j;

	sfs_mount_start(&m1, "hbi=1");
	cr_assert_eq(mkdir(sfs_mpath(&m1, "d"), 0755), 0);
	n = getxattr(m1.mnt, "scratchfs.status", NULL, 0);
	cr_assert_gt(n, 0, "%s", strerror(errno));
	cr_assert_lt(getxattr(m1.mnt, "scratchfs.status", buf, 10), 0);
	cr_assert_eq(errno, ERANGE);
	m = getxattr(m1.mnt, "scratchfs.status", buf, sizeof(buf) - 1);
	cr_assert_eq(m, n);
	buf[m] = '\0';
	j = json_loads(buf, 0, NULL);
	cr_assert_not_null(j, "%s", buf);
	cr_assert_eq(sfs_json_int(j, "version"), 1);
	cr_assert_eq(sfs_json_int(j, "pid"), m1.pid);
	json_decref(j);
	/* Only the root serves it. */
	cr_assert_lt(
	    getxattr(sfs_mpath(&m1, "d"), "scratchfs.status", buf, sizeof(buf)),
	    0);
	sfs_mount_stop(&m1);
}

Test(ctl_status, usage_errors, .init = init_one, .fini = fini_both)
{
	cr_assert_eq(ctl(&m1, "status", m1.root), 2);
	cr_assert(strstr(ctl_err, "not a scratchfs mount"), "%s", ctl_err);
	cr_assert_eq(ctl(&m1, "status", "--bogus"), 2);
	cr_assert_eq(ctl(&m1, "status", "a", "b"), 2);
	cr_assert_eq(ctl(&m1, "status", sfs_join(m1.root, "nonexistent")), 2);
	cr_assert_eq(ctl(&m1, "frobnicate"), 2);
	cr_assert_eq(ctl(&m1, "--help"), 0);
	cr_assert(strstr(ctl_out, "verify"), "%s", ctl_out);
}

/*
 * verify
 */

/* One of everything, through an hbi mount; then unmounted. */
/* The longest symlink target: kept out of line, in the target store. */
static const char *long_target(void)
{
	static char t[4096];

	memset(t, 'T', sizeof(t) - 1);
	t[sizeof(t) - 1] = '\0';
	return t;
}

static void populate(struct sfs_mount *m)
{
	char longname[201];
	int rc;

	memset(longname, 'L', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	cr_assert_eq(symlink(long_target(), sfs_mpath(m, "longlink")), 0,
		     "symlink: %s", strerror(errno));
	put_file(sfs_mpath(m, "a"), 10 * BS + 100, 1);
	put_file(sfs_mpath(m, "empty"), 0, 2);
	cr_assert_eq(mkdir(sfs_mpath(m, "dir"), 0755), 0);
	cr_assert_eq(mkdir(sfs_mpath(m, "dir/sub"), 0755), 0);
	put_file(sfs_mpath(m, "dir/b"), 5 * BS, 3);
	put_file(sfs_mpath(m, "dir/sub/c"), 10, 4);
	put_file(sfs_mpath(m, longname), 20, 5);
	cr_assert_eq(symlink("/some/where", sfs_mpath(m, "link")), 0);
	cr_assert_eq(mkfifo(sfs_mpath(m, "fifo"), 0644), 0);
	rc = setxattr(sfs_mpath(m, "a"), "user.note", "value", 5, 0);
	cr_assert_eq(rc, 0, "setxattr: %s", strerror(errno));
	rc = setxattr(sfs_mpath(m, "dir"), "user.d", "v", 1, 0);
	cr_assert_eq(rc, 0, "setxattr: %s", strerror(errno));
}

/* A random name of the encrypted form: base64url of n random bytes. */
static void random_name(char *out, size_t n)
{
	uint8_t raw[64];

	cr_assert_leq(n, sizeof(raw));
	sfs_random(raw, n);
	sfs_b64_encode(out, raw, n);
}

/* The backing path (relative to dir's root) of the object with inode ino
 * under backing directory dir, into out. */
static bool find_ino(const char *dir, const char *rel, ino_t ino, char *out)
{
	char path[PATH_MAX], sub[PATH_MAX];
	struct dirent *e;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "%s%s%s", dir, rel[0] ? "/" : "", rel);
	d = opendir(path);
	cr_assert_not_null(d, "opendir %s", path);
	while (!found && (e = readdir(d))) {
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "",
			 e->d_name);
		cr_assert_eq(
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW), 0);
		if (st.st_ino == ino) {
			strcpy(out, sub);
			found = true;
		} else if (S_ISDIR(st.st_mode)) {
			found = find_ino(dir, sub, ino, out);
		}
	}
	closedir(d);
	return found;
}

/* Backing path (relative) of mount path rel of m, while mounted. */
static void backing_of(struct sfs_mount *m, const char *rel, char *out,
		       ino_t *ino)
{
	struct stat st;

	cr_assert_eq(lstat(sfs_mpath(m, rel), &st), 0);
	cr_assert(find_ino(m->backing, "", st.st_ino, out), "no backing for %s",
		  rel);
	if (ino)
		*ino = st.st_ino;
}

Test(ctl_verify, clean_volume_passes, .init = init_one, .fini = fini_both,
     .timeout = 60)
{
	json_t *doc;

	sfs_mount_start(&m1, "hbi=1");
	populate(&m1);
	/* A hard link shares the out-of-line target's sidecar. */
	cr_assert_eq(
	    link(sfs_mpath(&m1, "longlink"), sfs_mpath(&m1, "dir/longlink2")),
	    0);
	/* Keyless and read-only: fine on a live volume too. */
	cr_assert_eq(ctl(&m1, "verify", m1.backing), 0, "%s%s", ctl_out,
		     ctl_err);
	sfs_mount_stop(&m1);
	cr_assert_eq(ctl(&m1, "verify", "--json", m1.backing), 0, "%s%s",
		     ctl_out, ctl_err);
	doc = ctl_json();
	cr_assert(json_is_true(json_object_get(doc, "clean")));
	cr_assert_eq(json_array_size(json_object_get(doc, "offenders")), 0);
	/* a, empty, dir, dir/sub, dir/b, dir/sub/c, long, link, fifo,
	 * longlink, dir/longlink2 and its sidecar */
	cr_assert_eq(sfs_json_int(doc, "checked"), 12, "%s", ctl_out);
	json_decref(doc);
	cr_assert_eq(ctl(&m1, "verify", m1.backing), 0);
	cr_assert(strstr(ctl_out, "clean"), "%s", ctl_out);
}

struct planted {
	char path[PATH_MAX];
	const char *problem; /* substring of the expected problem */
	bool seen;
};

Test(ctl_verify, reports_exactly_the_planted_offenders, .init = init_one,
     .fini = fini_both, .timeout = 60)
{
	struct planted p[16];
	char ba[PATH_MAX], bdir[PATH_MAX], bsub[PATH_MAX], name[PATH_MAX];
	char side[PATH_MAX], buf[4 * BS];
	json_t *doc, *arr, *e;
	size_t n = 0, i, k, len;
	uint8_t *data;
	int rc;

	sfs_mount_start(&m1, "hbi=1,cipher=xchacha20poly1305");
	populate(&m1);
	backing_of(&m1, "a", ba, NULL);
	backing_of(&m1, "dir", bdir, NULL);
	backing_of(&m1, "dir/sub", bsub, NULL);
	sfs_mount_stop(&m1);
	data = sfs_read_file(sfs_bpath(&m1, ba), &len);
	cr_assert_not_null(data);

#define PLANT(rel, what)                                                       \
	do {                                                                   \
		fmt(p[n].path, PATH_MAX, "%s", rel);                           \
		p[n].problem = what;                                           \
		p[n].seen = false;                                             \
		n++;                                                           \
	} while (0)

	/* 1. A ciphertext file under a plaintext name. */
	cr_assert_eq(sfs_write_file(sfs_bpath(&m1, "report.txt"), data, len),
		     0);
	PLANT("report.txt", "not an encrypted name");
	/* 2. Plaintext content under an encrypted-looking name. */
	random_name(name, 32);
	memset(buf, 'p', 200);
	cr_assert_eq(sfs_write_file(sfs_bpath(&m1, name), buf, 200), 0);
	PLANT(name, "no file header");
	/* 3. A valid header and an impossible size: the file ends inside the
	 * second metadata page. */
	random_name(name, 48);
	cr_assert_eq(sfs_write_file(sfs_bpath(&m1, name), data, HDR), 0);
	cr_assert_eq(truncate(sfs_bpath(&m1, name), (K + 1) * BS + 20), 0);
	PLANT(name, "not a ciphertext size");
	/* 4. A directory without its IV. */
	random_name(name, 32);
	cr_assert_eq(mkdir(sfs_bpath(&m1, name), 0755), 0);
	PLANT(name, "directory IV");
	/* 5. A plaintext symlink target. */
	random_name(name, 32);
	cr_assert_eq(symlink("/etc/passwd", sfs_bpath(&m1, name)), 0);
	PLANT(name, "symlink target");
	/* 6. A plaintext name deep down. */
	fmt(side, sizeof(side), "%s/Secret Plan.docx", bsub);
	cr_assert_eq(sfs_write_file(sfs_bpath(&m1, side), "", 0), 0);
	PLANT(side, "not an encrypted name");
	/* 7. A long-form entry without its sidecar. */
	fmt(name, sizeof(name), "%s", SFS_LONGNAME_PREFIX);
	random_name(name + strlen(name), 32);
	cr_assert_eq(sfs_write_file(sfs_bpath(&m1, name), "", 0), 0);
	PLANT(name, "without its sidecar");
	/* 8. A long-form entry whose sidecar holds a plaintext name. */
	fmt(name, sizeof(name), "%s/%s", bdir, SFS_LONGNAME_PREFIX);
	random_name(name + strlen(name), 32);
	cr_assert_eq(sfs_write_file(sfs_bpath(&m1, name), "", 0), 0);
	fmt(side, sizeof(side), "%s%s", name, SFS_LONGNAME_SUFFIX);
	cr_assert_eq(
	    sfs_write_file(sfs_bpath(&m1, side), "a plaintext file name", 21),
	    0);
	PLANT(name, "holds no encrypted name");
	/* 9. A name in our reserved prefix that scratchfs never writes. */
	cr_assert_eq(sfs_write_file(sfs_bpath(&m1, ".sfs.notes"), "x", 1), 0);
	PLANT(".sfs.notes", "reserved name");
	/* 10. A plaintext user xattr name on an existing file. */
	rc = setxattr(sfs_bpath(&m1, ba), "user.comment", "hi", 2, 0);
	cr_assert_eq(rc, 0, "%s", strerror(errno));
	PLANT(ba, "user attributes are kept only in user.sfs.x");
	/* 11. A directory IV of the wrong size. */
	fmt(side, sizeof(side), "%s/%s", bsub, SFS_DIRIV_NAME);
	cr_assert_eq(chmod(sfs_bpath(&m1, side), 0600), 0);
	cr_assert_eq(sfs_write_file(sfs_bpath(&m1, side), "short", 5), 0);
	PLANT(side, "directory IV has 5 bytes");
	/* 12. A reference to an out-of-line target that is not there. */
	random_name(name, 32);
	fmt(side, sizeof(side), ".sfs.T.");
	random_name(side + strlen(side), 16);
	cr_assert_eq(symlink(side, sfs_bpath(&m1, name)), 0);
	PLANT(name, "sidecar missing");
	/* 13. Plaintext in the target store, and a sidecar too short to be
	 * sealed (a sealed one nothing refers to is fine). */
	cr_assert_eq(
	    sfs_write_file(sfs_bpath(&m1, ".sfs.targets/notes.txt"), "x", 1),
	    0);
	PLANT(".sfs.targets/notes.txt", "not a sealed symlink target");
	fmt(name, sizeof(name), ".sfs.targets/");
	random_name(name + strlen(name), 16);
	cr_assert_eq(sfs_write_file(sfs_bpath(&m1, name), "short", 5), 0);
	PLANT(name, "not a sealed symlink target");
	fmt(name, sizeof(name), ".sfs.targets/");
	random_name(name + strlen(name), 16);
	cr_assert_eq(sfs_write_file(sfs_bpath(&m1, name), buf, 100), 0);
	free(data);

	cr_assert_eq(ctl(&m1, "verify", "--json", m1.backing), 1, "%s%s",
		     ctl_out, ctl_err);
	doc = ctl_json();
	cr_assert(json_is_false(json_object_get(doc, "clean")));
	arr = json_object_get(doc, "offenders");
	cr_assert_eq(json_array_size(arr), n, "want %zu offenders: %s", n,
		     ctl_out);
	json_array_foreach(arr, i, e)
	{
		const char *path = jstr(e, "path"), *what = jstr(e, "problem");

		for (k = 0; k < n; k++)
			if (!p[k].seen && strcmp(p[k].path, path) == 0 &&
			    strstr(what, p[k].problem))
				break;
		cr_assert_lt(k, n, "unexpected offender %s: %s", path, what);
		p[k].seen = true;
	}
	json_decref(doc);
	/* The human form names the same paths, one line each, and a hostile
	 * name cannot inject output lines. */
	cr_assert_eq(ctl(&m1, "verify", m1.backing), 1);
	cr_assert(strstr(ctl_out, "report.txt: "), "%s", ctl_out);
	cr_assert_eq(sfs_write_file(sfs_bpath(&m1, "evil\nname"), "", 0), 0);
	cr_assert_eq(ctl(&m1, "verify", m1.backing), 1);
	cr_assert(strstr(ctl_out, "evil\\x0aname: "), "%s", ctl_out);
}

Test(ctl_verify, refusals, .init = init_two, .fini = fini_both, .timeout = 60)
{
	/* A plain volume stores plaintext by design. */
	sfs_mount_start(&m1, "hbi=0");
	put_file(sfs_mpath(&m1, "x"), 10, 1);
	sfs_mount_stop(&m1);
	cr_assert_eq(ctl(&m1, "verify", m1.backing), 2);
	cr_assert(strstr(ctl_err, "plain"), "%s", ctl_err);
	/* Not a volume: an empty directory, a file, nothing. */
	cr_assert_eq(ctl(&m2, "verify", m2.backing), 2);
	cr_assert(strstr(ctl_err, "not a scratchfs volume"), "%s", ctl_err);
	cr_assert_eq(ctl(&m2, "verify", m2.conf), 2);
	cr_assert_eq(ctl(&m2, "verify", sfs_join(m2.root, "nope")), 2);
	/* A damaged header. */
	cr_assert_eq(mkdir(sfs_bpath(&m2, ".scratchfs"), 0700), 0);
	cr_assert_eq(
	    sfs_write_file(sfs_bpath(&m2, ".scratchfs/volume"), "garbage", 7),
	    0);
	cr_assert_eq(ctl(&m2, "verify", m2.backing), 2);
	cr_assert_eq(ctl(&m2, "verify"), 2);
	cr_assert_eq(ctl(&m2, "verify", "a", "b"), 2);
}

/*
 * fsck
 */

/* The target store sidecar (relative to the backing root) that the
 * backing symlink brel of m refers to. */
static void sidecar_of(const struct sfs_mount *m, const char *brel, char *out)
{
	char ref[64];
	ssize_t n = readlink(sfs_bpath(m, brel), ref, sizeof(ref) - 1);

	cr_assert_eq(n, 29, "%s is not a reference", brel);
	ref[n] = '\0';
	cr_assert_eq(strncmp(ref, ".sfs.T.", 7), 0);
	fmt(out, PATH_MAX, ".sfs.targets/%s", ref + 7);
}

static void flip_byte(const char *path, off_t off)
{
	uint8_t b;
	int fd = open(path, O_RDWR);

	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(pread(fd, &b, 1, off), 1);
	b ^= 0x40;
	cr_assert_eq(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Byte inside the ciphertext of block k. */
static off_t block_byte(long k)
{
	return k / K * (K + 1) * BS + (1 + k % K) * BS + 50;
}

struct want {
	ino_t ino;
	const char *path;
	long blocks[4]; /* -1 terminated */
	const char *problem;
	bool seen;
};

Test(ctl_fsck, finds_exactly_the_corrupted_blocks, .init = init_one,
     .fini = fini_both, .timeout = 60)
{
	char ba[PATH_MAX], bb[PATH_MAX], bc[PATH_MAX], bl[PATH_MAX],
	    bdir[PATH_MAX], renamed[PATH_MAX], name[64], q[PATH_MAX],
	    bll[PATH_MAX], bl3[PATH_MAX];
	struct want w[7];
	json_t *doc, *arr, *e, *blocks;
	ino_t ia, ib, ic, il, idir, ill, il3;
	size_t i, k, nw = 0;

	mount_keyfile(&m1);
	populate(&m1);
	put_file(sfs_mpath(&m1, "dir/c"), 100, 6);
	cr_assert_eq(symlink(long_target(), sfs_mpath(&m1, "dir/longlink3")),
		     0);
	backing_of(&m1, "longlink", bll, &ill);
	backing_of(&m1, "dir/longlink3", bl3, &il3);
	backing_of(&m1, "a", ba, &ia);
	backing_of(&m1, "dir/b", bb, &ib);
	backing_of(&m1, "dir/c", bc, &ic);
	backing_of(&m1, "link", bl, &il);
	backing_of(&m1, "dir", bdir, &idir);
	sfs_mount_stop(&m1);

	/* A crash between writing a target's sidecar and making its symlink
	 * leaves a sidecar nothing refers to: not damage. */
	{
		char orphan[PATH_MAX];
		uint8_t *sc;
		size_t sl;

		sidecar_of(&m1, bll, q);
		sc = sfs_read_file(sfs_bpath(&m1, q), &sl);
		cr_assert_not_null(sc);
		fmt(orphan, sizeof(orphan), ".sfs.targets/");
		random_name(orphan + strlen(orphan), 16);
		cr_assert_eq(sfs_write_file(sfs_bpath(&m1, orphan), sc, sl), 0);
		free(sc);
	}
	/* Clean first, so the findings below are ours. */
	cr_assert_eq(ctl(&m1, "fsck", "-o", key_opt(&m1), m1.backing), 0,
		     "%s%s", ctl_out, ctl_err);
	cr_assert(strstr(ctl_out, "clean"), "%s", ctl_out);

	flip_byte(sfs_bpath(&m1, ba), block_byte(2));
	flip_byte(sfs_bpath(&m1, ba), block_byte(7));
	flip_byte(sfs_bpath(&m1, ba), block_byte(10)); /* the short last */
	w[nw++] = (struct want){ia, "/a", {2, 7, 10, -1}, NULL, false};
	flip_byte(sfs_bpath(&m1, bb), block_byte(0));
	w[nw++] = (struct want){ib, "/dir/b", {0, -1}, NULL, false};
	/* A name that does not authenticate: shown as stored. */
	random_name(name, 32);
	fmt(renamed, sizeof(renamed), "%s/%s", bdir, name);
	cr_assert_eq(rename(sfs_bpath(&m1, bc), sfs_bpath(&m1, renamed)), 0);
	fmt(bc, sizeof(bc), "/dir/%s", name);
	w[nw++] =
	    (struct want){ic, bc, {-1}, "name does not authenticate", false};
	/* A symlink target. */
	{
		char t[4096];
		ssize_t tl = readlink(sfs_bpath(&m1, bl), t, sizeof(t) - 1);

		cr_assert_gt(tl, 20);
		t[tl] = '\0';
		t[tl - 1] = t[tl - 1] == 'A' ? 'B' : 'A';
		cr_assert_eq(unlink(sfs_bpath(&m1, bl)), 0);
		cr_assert_eq(symlink(t, sfs_bpath(&m1, bl)), 0);
		{
			struct stat st;

			/* A new inode. */
			cr_assert_eq(lstat(sfs_bpath(&m1, bl), &st), 0);
			il = st.st_ino;
		}
	}
	w[nw++] = (struct want){il, "/link", {-1}, "symlink target", false};
	/* A flipped byte in the sealed set of user.* attributes. */
	{
		char val[256];
		ssize_t vl = getxattr(sfs_bpath(&m1, bdir), "user.sfs.x", val,
				      sizeof(val));

		cr_assert_gt(vl, 40);
		val[vl - 1] ^= 1;
		cr_assert_eq(setxattr(sfs_bpath(&m1, bdir), "user.sfs.x", val,
				      (size_t)vl, 0),
			     0);
	}
	w[nw++] = (struct want){
	    idir, "/dir", {-1}, "user attributes do not authenticate", false};
	/* Out-of-line targets: a flipped byte in one sidecar, another
	 * sidecar gone. */
	sidecar_of(&m1, bll, q);
	flip_byte(sfs_bpath(&m1, q), 100);
	w[nw++] = (struct want){ill,
				"/longlink",
				{-1},
				"symlink target does not authenticate",
				false};
	sidecar_of(&m1, bl3, q);
	cr_assert_eq(unlink(sfs_bpath(&m1, q)), 0);
	w[nw++] = (struct want){il3,
				"/dir/longlink3",
				{-1},
				"symlink target sidecar missing",
				false};

	cr_assert_eq(ctl(&m1, "fsck", "--json", "-o", key_opt(&m1), m1.backing),
		     1, "%s%s", ctl_out, ctl_err);
	doc = ctl_json();
	arr = json_object_get(doc, "damaged");
	cr_assert_eq(json_array_size(arr), nw, "want %zu damaged: %s", nw,
		     ctl_out);
	json_array_foreach(arr, i, e)
	{
		json_t *probs = json_object_get(e, "problems");
		const char *path = jstr(e, "backing_path");

		/* Inode and backing path only: no name from inside. */
		cr_assert_null(json_object_get(e, "path"), "%s", ctl_out);
		for (k = 0; k < nw; k++)
			if (!w[k].seen &&
			    (ino_t)sfs_json_int(e, "ino") == w[k].ino)
				break;
		cr_assert_lt(k, nw, "unexpected damage at %s: %s", path,
			     ctl_out);
		w[k].seen = true;
		blocks = json_object_get(e, "bad_blocks");
		for (size_t b = 0; b < 4 && w[k].blocks[b] >= 0; b++)
			cr_assert_eq(
			    json_integer_value(json_array_get(blocks, b)),
			    w[k].blocks[b], "%s block %zu: %s", path, b,
			    ctl_out);
		for (size_t b = 0; b < 4; b++)
			if (w[k].blocks[b] < 0) {
				cr_assert_eq(json_array_size(blocks), b,
					     "%s: %s", path, ctl_out);
				break;
			}
		if (w[k].problem) {
			json_t *pr = json_array_get(probs, 0);

			cr_assert(
			    json_is_string(pr) &&
				strstr(json_string_value(pr), w[k].problem),
			    "%s: %s", path, ctl_out);
		}
		cr_assert(json_is_null(json_object_get(e, "quarantined")));
	}
	json_decref(doc);
	/* Human form: inode, block list, backing path. */
	cr_assert_eq(ctl(&m1, "fsck", "-o", key_opt(&m1), m1.backing), 1);
	fmt(q, sizeof(q), "ino %llu: blocks 2, 7, 10 do not",
	    (unsigned long long)ia);
	cr_assert(strstr(ctl_out, q), "no '%s' in %s", q, ctl_out);

	/* Quarantine: damaged files move, directories stay (reported). */
	cr_assert_eq(ctl(&m1, "fsck", "--quarantine", "--json", "-o",
			 key_opt(&m1), m1.backing),
		     1, "%s%s", ctl_out, ctl_err);
	fmt(q, sizeof(q), ".scratchfs/quarantine/ino-%llu",
	    (unsigned long long)ia);
	cr_assert(exists(sfs_bpath(&m1, q)), "%s", ctl_out);
	cr_assert(!exists(sfs_bpath(&m1, ba)));
	fmt(q, sizeof(q), ".scratchfs/quarantine/ino-%llu",
	    (unsigned long long)ib);
	cr_assert(exists(sfs_bpath(&m1, q)), "%s", ctl_out);
	cr_assert(!exists(sfs_bpath(&m1, bb)));
	cr_assert(!exists(sfs_bpath(&m1, renamed)));
	cr_assert(!exists(sfs_bpath(&m1, bl)));
	cr_assert(exists(sfs_bpath(&m1, bdir)));
	/* Only the directory's attribute is left. */
	cr_assert_eq(ctl(&m1, "fsck", "--json", "-o", key_opt(&m1), m1.backing),
		     1, "%s%s", ctl_out, ctl_err);
	doc = ctl_json();
	arr = json_object_get(doc, "damaged");
	cr_assert_eq(json_array_size(arr), 1, "%s", ctl_out);
	cr_assert_eq(sfs_json_int(json_array_get(arr, 0), "ino"),
		     (long long)idir);
	json_decref(doc);

	/* The volume still mounts; the rest reads back, the quarantine is
	 * hidden. */
	mount_keyfile(&m1);
	cr_assert_eq(access(sfs_mpath(&m1, "a"), F_OK), -1);
	cr_assert_eq(access(sfs_mpath(&m1, "dir/b"), F_OK), -1);
	cr_assert_eq(access(sfs_mpath(&m1, "dir/sub/c"), F_OK), 0);
	cr_assert_eq(access(sfs_mpath(&m1, "empty"), F_OK), 0);
	sfs_mount_stop(&m1);
}

Test(ctl_fsck, refusals, .init = init_two, .fini = fini_both, .timeout = 60)
{
	char other[PATH_MAX], opt[PATH_MAX + 32];
	uint8_t key[SFS_KEY_BYTES] = {1};
	int fd;

	mount_keyfile(&m1);
	put_file(sfs_mpath(&m1, "f"), 5000, 1);
	/* Mounted. */
	cr_assert_eq(ctl(&m1, "fsck", "-o", key_opt(&m1), m1.backing), 2);
	cr_assert(strstr(ctl_err, "is mounted at"), "%s", ctl_err);
	sfs_mount_stop(&m1);
	/* A key that is not the volume's. */
	fmt(other, sizeof(other), "%s", sfs_join(m1.root, "other.key"));
	fd = open(other, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, key, sizeof(key)), (ssize_t)sizeof(key));
	close(fd);
	fmt(opt, sizeof(opt), "key=keyfile:%s", other);
	cr_assert_eq(ctl(&m1, "fsck", "-o", opt, m1.backing), 2);
	cr_assert(strstr(ctl_err, "does not open"), "%s", ctl_err);
	/* A missing key file is an error, and is not created. */
	fmt(other, sizeof(other), "%s", sfs_join(m1.root, "missing.key"));
	fmt(opt, sizeof(opt), "key=keyfile:%s", other);
	cr_assert_eq(ctl(&m1, "fsck", "-o", opt, m1.backing), 2);
	cr_assert_neq(access(other, F_OK), 0, "fsck created a key file");
	/* The key file named by a config file (-c) works. */
	fmt(opt, sizeof(opt), "key_source = \"keyfile\";\nkeyfile = \"%s\";\n",
	    keyfile(&m1));
	sfs_mount_write_conf(&m1, opt);
	cr_assert_eq(ctl(&m1, "fsck", "-c", m1.conf, m1.backing), 0, "%s",
		     ctl_err);
	sfs_mount_write_conf(&m1, "no_such_setting = 1;\n");
	cr_assert_eq(ctl(&m1, "fsck", "-c", m1.conf, m1.backing), 2);
	cr_assert_eq(ctl(&m1, "fsck", "-o", "bogus=1", m1.backing), 2);

	/* Ephemeral and plain volumes. */
	sfs_mount_start(&m2, "hbi=1");
	put_file(sfs_mpath(&m2, "f"), 10, 1);
	sfs_mount_stop(&m2);
	cr_assert_eq(ctl(&m2, "fsck", m2.backing), 2);
	cr_assert(strstr(ctl_err, "ephemeral"), "%s", ctl_err);
	cr_assert_eq(ctl(&m2, "fsck", m2.root), 2);
	cr_assert(strstr(ctl_err, "not a scratchfs volume"), "%s", ctl_err);
	cr_assert_eq(ctl(&m2, "fsck"), 2);
	cr_assert_eq(ctl(&m2, "fsck", "--bogus", m2.backing), 2);
}

Test(ctl_fsck, plain_volume_refused, .init = init_one, .fini = fini_both,
     .timeout = 60)
{
	sfs_mount_start(&m1, "hbi=0");
	sfs_mount_stop(&m1);
	cr_assert_eq(ctl(&m1, "fsck", m1.backing), 2);
	cr_assert(strstr(ctl_err, "plain"), "%s", ctl_err);
}

/*
 * fsck with the system-managed providers: the key is found the way the
 * daemon finds it (-c CONF), never created, and a provider that no longer
 * has it is a refusal.
 */

static char keyring_desc[64];

static void fini_keyring(void)
{
	if (keyring_desc[0])
		sfs_keyring_remove(keyring_desc, NULL, 0);
	fini_both();
}

/* Mounts with m1.conf, writes, unmounts, then: clean, one corrupted block
 * found exactly, and the provider losing the key refused. */
static void provider_case(void (*lose_key)(void), const char *refusal)
{
	char bf[PATH_MAX];
	json_t *doc, *arr, *e;
	ino_t ino;

	sfs_mount_start(&m1, NULL);
	put_file(sfs_mpath(&m1, "f"), 3 * BS, 1);
	cr_assert_eq(mkdir(sfs_mpath(&m1, "d"), 0755), 0);
	put_file(sfs_mpath(&m1, "d/g"), 100, 2);
	backing_of(&m1, "f", bf, &ino);
	sfs_mount_stop(&m1);

	cr_assert_eq(ctl(&m1, "fsck", "-c", m1.conf, m1.backing), 0, "%s%s",
		     ctl_out, ctl_err);
	flip_byte(sfs_bpath(&m1, bf), block_byte(1));
	cr_assert_eq(ctl(&m1, "fsck", "--json", "-c", m1.conf, m1.backing), 1,
		     "%s%s", ctl_out, ctl_err);
	doc = ctl_json();
	arr = json_object_get(doc, "damaged");
	cr_assert_eq(json_array_size(arr), 1, "%s", ctl_out);
	e = json_array_get(arr, 0);
	cr_assert_eq(sfs_json_int(e, "ino"), (long long)ino);
	cr_assert_eq(json_array_size(json_object_get(e, "bad_blocks")), 1);
	cr_assert_eq(json_integer_value(
			 json_array_get(json_object_get(e, "bad_blocks"), 0)),
		     1);
	json_decref(doc);

	lose_key();
	cr_assert_eq(ctl(&m1, "fsck", "-c", m1.conf, m1.backing), 2);
	cr_assert(strstr(ctl_err, refusal), "want '%s': %s", refusal, ctl_err);
}

static void lose_keyring_key(void)
{
	cr_assert_eq(sfs_keyring_remove(keyring_desc, NULL, 0), 0);
}

Test(ctl_fsck, keyring_volume, .init = init_one, .fini = fini_keyring,
     .timeout = 60)
{
	char conf[256];

	fmt(keyring_desc, sizeof(keyring_desc), "scratchfs-test-ctl:%ld",
	    (long)getpid());
	sfs_keyring_remove(keyring_desc, NULL, 0);
	fmt(conf, sizeof(conf),
	    "key_source = \"keyring\";\nkeyring_description = \"%s\";\n"
	    "cipher = \"xchacha20poly1305\";\n",
	    keyring_desc);
	sfs_mount_write_conf(&m1, conf);
	provider_case(lose_keyring_key, "keyring");
	/* fsck looked, and did not create a new key. */
	cr_assert_eq(sfs_keyring_remove(keyring_desc, NULL, 0), -ENOKEY);
}

static void lose_command_key(void)
{
	const char *script = "#!/bin/sh\nexit 3\n";
	const char *path = sfs_join(m1.root, "provider");

	cr_assert_eq(sfs_write_file(path, script, strlen(script)), 0);
}

Test(ctl_fsck, command_volume, .init = init_one, .fini = fini_both,
     .timeout = 60)
{
	char conf[PATH_MAX + 128], script[128], hex[65];
	const char *path = sfs_join(m1.root, "provider");
	uint8_t key[SFS_KEY_BYTES];

	sfs_random(key, sizeof(key));
	sfs_hex(hex, key, 16);
	sfs_hex(hex + 32, key + 16, 16);
	fmt(script, sizeof(script), "#!/bin/sh\necho %s\n", hex);
	cr_assert_eq(sfs_write_file(path, script, strlen(script)), 0);
	cr_assert_eq(chmod(path, 0755), 0);
	fmt(conf, sizeof(conf),
	    "key_source = \"command\";\nkey_command = [\"%s\"];\n"
	    "cipher = \"xchacha20poly1305\";\n",
	    path);
	sfs_mount_write_conf(&m1, conf);
	provider_case(lose_command_key, "exit");
}

/* On a terminal fsck shows progress on stderr; in a pipe it does not (the
 * other tests' ctl_err would hold it). */
Test(ctl_fsck, progress_on_a_terminal, .init = init_one, .fini = fini_both,
     .timeout = 60)
{
	char tty[4096], out[PATH_MAX];
	size_t len = 0;
	int master, slave, status;
	pid_t pid;

	mount_keyfile(&m1);
	put_file(sfs_mpath(&m1, "big"), 3 << 20, 1);
	sfs_mount_stop(&m1);
	cr_assert_eq(ctl(&m1, "fsck", "-o", key_opt(&m1), m1.backing), 0);
	cr_assert_null(strstr(ctl_err, "fsck:"), "%s", ctl_err);

	cr_assert_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
	fmt(out, sizeof(out), "%s", sfs_join(m1.root, "ctl.out"));
	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0666);

		if (o < 0 || dup2(o, 1) < 0 || dup2(slave, 2) < 0)
			_exit(127);
		close(master);
		execl(CTL, CTL, "fsck", "-o", key_opt(&m1), m1.backing,
		      (char *)NULL);
		_exit(127);
	}
	close(slave);
	for (;;) {
		ssize_t n = read(master, tty + len, sizeof(tty) - 1 - len);

		if (n <= 0)
			break; /* EIO once the child is gone */
		len += (size_t)n;
		if (len == sizeof(tty) - 1)
			break;
	}
	tty[len] = '\0';
	close(master);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d",
		  status);
	cr_assert(strstr(tty, "\rfsck: "), "no progress on the tty: %s", tty);
	/* ... and the line is cleared at the end. */
	cr_assert(strstr(tty, "\r\033[K"), "%s", tty);
}

/*
 * Helpers, without mounts.
 */

Test(ctl_helpers, mountinfo_parsing, .init = init_one, .fini = fini_both)
{
	const char *info =
	    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
	    "40 22 0:50 / /mnt/a\\040b rw,nosuid shared:7 master:2 - "
	    "fuse.scratchfs /data/back\\040ing\\134x rw,user_id=0\n"
	    "41 22 0:51 / /mnt/c rw - fuse.sshfs host:/x rw\n"
	    "42 22 0:52 / /mnt/d rw - fuse.scratchfs /data/d rw\n"
	    "garbage line\n";
	const char *path = sfs_join(m1.root, "mountinfo");
	struct sfs_ctl_mount *mounts;
	long n;

	cr_assert_eq(sfs_write_file(path, info, strlen(info)), 0);
	n = sfs_ctl_mounts(path, &mounts);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(mounts[0].target, "/mnt/a b");
	cr_assert_str_eq(mounts[0].source, "/data/back ing\\x");
	cr_assert_str_eq(mounts[1].target, "/mnt/d");
	cr_assert_str_eq(mounts[1].source, "/data/d");
	sfs_ctl_mounts_free(mounts, n);
	cr_assert_eq(sfs_ctl_mounts(sfs_join(m1.root, "nope"), &mounts),
		     -ENOENT);
}

Test(ctl_helpers, escaping)
{
	char out[16];
	json_t *j;

	sfs_ctl_escape(out, sizeof(out), "a\nb\\c\033");
	cr_assert_str_eq(out, "a\\x0ab\\x5cc\\x1b");
	sfs_ctl_escape(out, 6, "abc\ndef");
	cr_assert_str_eq(out, "abc"); /* never half an escape */
	j = sfs_ctl_json_string("caf\xc3\xa9 \xff!");
	cr_assert_str_eq(json_string_value(j), "caf?? ?!");
	json_decref(j);
	j = sfs_ctl_json_string("caf\xc3\xa9");
	cr_assert_str_eq(json_string_value(j), "caf\xc3\xa9");
	json_decref(j);
}
