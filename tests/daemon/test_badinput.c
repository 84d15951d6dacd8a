/* test_badinput.c - the daemon refuses bad mounts up front: non-zero exit, a
 * "scratchfs:" message naming the cause, nothing mounted, backing untouched. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mount_util.h"
#include "util.h"

/* What one refusal looks like. NULL fields default to the fixture's paths
 * (conf, backing, mnt) or to "no -o". */
struct refusal {
	const char *conf;
	const char *opts;
	const char *backing;
	const char *mnt;
	/* Each must match the daemon's output; an entry is a case-insensitive
	 * POSIX extended regex (use plain text for paths only via lit()). */
	const char *needles[4];
	/* When set, a regex that must not match (advice that would harm). */
	const char *never;
};

/* ---- snapshots ------------------------------------------------------ */

struct buf {
	char *s;
	size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL,
			      b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		cr_assert_geq(n, 0);
		if (b->s && b->len + n < b->cap)
			break;
		b->cap = (b->cap + n + 1) * 2;
		b->s = realloc(b->s, b->cap);
		cr_assert_not_null(b->s);
	}
	b->len += n;
}

/* Appends "rel type size" lines for everything under dir, sorted. */
static void snap_dir(struct buf *b, const char *dir, const char *rel)
{
	char *names[512];
	size_t n = 0, i;
	DIR *d = opendir(dir);
	struct dirent *e;

	cr_assert_not_null(d, "opendir %s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		cr_assert_lt(n, 512);
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), sfs_cmp_str);
	for (i = 0; i < n; i++) {
		char path[PATH_MAX], sub[PATH_MAX];
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		snprintf(sub, sizeof(sub), "%s/%s", rel, names[i]);
		cr_assert(lstat(path, &st) == 0);
		buf_printf(b, "%s 0%o %jd\n", sub, st.st_mode,
			   (intmax_t)(S_ISDIR(st.st_mode) ? 0 : st.st_size));
		if (S_ISDIR(st.st_mode))
			snap_dir(b, path, sub);
		free(names[i]);
	}
}

/* A description of path and everything under it (names, types, sizes). */
static char *snapshot(const char *path)
{
	struct buf b = {0};
	struct stat st;

	if (lstat(path, &st) != 0)
		buf_printf(&b, "(lstat: %s)\n", strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		buf_printf(&b, "(not a dir: 0%o %jd)\n", st.st_mode,
			   (intmax_t)st.st_size);
	else
		snap_dir(&b, path, "");
	if (!b.s)
		buf_printf(&b, "%s", "");
	return b.s;
}

/* ---- mount table ---------------------------------------------------- */

/* Lines of /proc/self/mountinfo whose mount point starts with prefix. */
static int mounts_under(const char *prefix, const char *exact)
{
	char line[8192];
	int count = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		char mp[PATH_MAX];

		/* Field 5 is the mount point; our paths need no unescaping. */
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
			continue;
		if (exact ? !strcmp(mp, exact)
			  : !strncmp(mp, prefix, strlen(prefix)))
			count++;
	}
	fclose(f);
	return count;
}

/* ---- the check ------------------------------------------------------ */

static size_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

static bool output_matches(const char *out, const char *re)
{
	regex_t rx;
	bool hit;

	cr_assert_eq(regcomp(&rx, re, REG_EXTENDED | REG_ICASE | REG_NOSUB), 0,
		     "bad regex %s", re);
	hit = regexec(&rx, out, 0, NULL, 0) == 0;
	regfree(&rx);
	return hit;
}

/* A path as a regex matching itself. */
static const char *lit(const char *s)
{
	static char ring[8][2 * PATH_MAX];
	static unsigned next;
	char *out = ring[next++ % 8], *o = out;

	for (; *s; s++) {
		if (strchr(".[]()*+?{}|^$\\", *s))
			*o++ = '\\';
		*o++ = *s;
	}
	*o = '\0';
	return out;
}

/* expect_refused's buffers live here so that a failed assertion (which
 * longjmps out) does not leak them: the fixture frees them. */
static char *before, *after, *log_text;

static void free_held(void)
{
	free(before);
	free(after);
	free(log_text);
	before = after = log_text = NULL;
}

static void fini_badinput(void)
{
	free_held();
	sfs_fx_fini();
}

static void expect_refused(struct sfs_mount *m, const struct refusal *r)
{
	const char *conf = r->conf ? r->conf : m->conf;
	const char *backing = r->backing ? r->backing : m->backing;
	const char *mnt = r->mnt ? r->mnt : m->mnt;
	const char *args[12];
	size_t n = 0, off, len, i;
	char *out;
	struct stat st0, st1;
	bool had_mnt;
	int mounts0, status;

	args[n++] = "-f";
	args[n++] = "-c";
	args[n++] = conf;
	if (r->opts) {
		args[n++] = "-o";
		args[n++] = r->opts;
	}
	args[n++] = backing;
	args[n++] = mnt;
	args[n] = NULL;

	free_held();
	before = snapshot(backing);
	had_mnt = stat(mnt, &st0) == 0;
	mounts0 = mounts_under(m->root, NULL);
	off = file_size(m->log);

	status = sfs_mount_run_fail(m, args);

	log_text = sfs_read_file(m->log, &len);
	cr_assert_not_null(log_text);
	out = log_text + (off <= len ? off : len);
	cr_log_info("daemon said: %s", out);
	cr_assert(status != 0 && status < 128,
		  "exit status %d, want a clean refusal (1..127); output:\n%s",
		  status, out);
	cr_assert(output_matches(out, "^scratchfs: "),
		  "no \"scratchfs: \" message; output:\n%s", out);
	/* One message, in our words: no line of libfuse's own. */
	cr_assert(!output_matches(out, "(^|\n)([^s\n]|s[^c\n])"),
		  "a line that does not start \"scratchfs:\"; output:\n%s",
		  out);
	if (r->never)
		cr_assert(!output_matches(out, r->never),
			  "the message matches /%s/; output:\n%s", r->never,
			  out);
	for (i = 0; i < 4 && r->needles[i]; i++)
		cr_assert(output_matches(out, r->needles[i]),
			  "the message does not name the cause (/%s/); "
			  "output:\n%s",
			  r->needles[i], out);

	if (strncmp(mnt, m->root, strlen(m->root)) == 0)
		cr_assert_eq(mounts_under(m->root, mnt), 0, "%s is mounted",
			     mnt);
	cr_assert_eq(mounts_under(m->root, NULL), mounts0,
		     "the mount table under %s changed", m->root);
	if (had_mnt) {
		cr_assert(stat(mnt, &st1) == 0);
		cr_assert_eq(st1.st_dev, st0.st_dev, "st_dev of %s changed",
			     mnt);
	}
	after = snapshot(backing);
	cr_assert_str_eq(after, before,
			 "backing %s changed:\nbefore:\n%s"
			 "after:\n%s",
			 backing, before, after);
	free_held();
}

static void make_file(const char *path, const char *text)
{
	cr_assert_eq(sfs_write_file(path, text, strlen(text)), 0, "write %s",
		     path);
}

static const char *keyfile_opts(const struct sfs_mount *m, const char *key,
				const char *extra)
{
	static char opts[PATH_MAX + 64];

	snprintf(opts, sizeof(opts), "hbi=1,key=keyfile:%s%s",
		 sfs_join(m->root, key), extra ? extra : "");
	return opts;
}

/* Mounts with opts, writes a file, unmounts: a volume to remount. */
static void make_volume(struct sfs_mount *m, const char *opts)
{
	sfs_mount_start(m, opts);
	make_file(sfs_mpath(m, "data"), "some data\n");
	sfs_mount_stop(m);
}

/* ---- backing and mount point ---------------------------------------- */

Test(badinput, backing_missing, .init = sfs_fx_init_setup,
     .fini = fini_badinput, .timeout = 30)
{
	const char *b = sfs_join(sfs_fx.root, "no-such-backing");
	struct refusal r = {.backing = b, .needles = {lit(b)}};

	expect_refused(&sfs_fx, &r);
}

Test(badinput, backing_is_a_file, .init = sfs_fx_init_setup,
     .fini = fini_badinput, .timeout = 30)
{
	const char *b = sfs_join(sfs_fx.root, "backing-file");
	struct refusal r = {.backing = b, .needles = {lit(b), "director"}};

	make_file(b, "not a directory\n");
	expect_refused(&sfs_fx, &r);
}

static char ro_mount[PATH_MAX];

static void fini_ro(void)
{
	if (ro_mount[0])
		umount2(ro_mount, MNT_DETACH);
	ro_mount[0] = '\0';
	fini_badinput();
}

Test(badinput, backing_read_only, .init = sfs_fx_init_setup, .fini = fini_ro,
     .timeout = 30)
{
	const char *src = sfs_join(sfs_fx.root, "ro-src");
	struct refusal r = {0};

	cr_assert(mkdir(src, 0755) == 0);
	snprintf(ro_mount, sizeof(ro_mount), "%s",
		 sfs_join(sfs_fx.root, "ro-backing"));
	cr_assert(mkdir(ro_mount, 0755) == 0);
	cr_assert(mount(src, ro_mount, NULL, MS_BIND, NULL) == 0,
		  "bind mount: %s", strerror(errno));
	cr_assert(mount(NULL, ro_mount, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY,
			NULL) == 0,
		  "remount read-only: %s", strerror(errno));
	cr_assert(mkdir(sfs_join(ro_mount, "probe"), 0755) != 0 &&
		  errno == EROFS);

	r.backing = ro_mount;
	r.needles[0] = "read-only|read only|erofs";
	expect_refused(&sfs_fx, &r);

	cr_assert(umount2(ro_mount, 0) == 0, "umount %s: %s", ro_mount,
		  strerror(errno));
	ro_mount[0] = '\0';
}

Test(badinput, mountpoint_missing, .init = sfs_fx_init_setup,
     .fini = fini_badinput, .timeout = 30)
{
	const char *mnt = sfs_join(sfs_fx.root, "no-such-mnt");
	struct refusal r = {.mnt = mnt, .needles = {lit(mnt)}};

	expect_refused(&sfs_fx, &r);
	cr_assert(access(mnt, F_OK) != 0, "the mount point was created");
}

Test(badinput, mountpoint_is_a_file, .init = sfs_fx_init_setup,
     .fini = fini_badinput, .timeout = 30)
{
	const char *mnt = sfs_join(sfs_fx.root, "mnt-file");
	struct refusal r = {.mnt = mnt, .needles = {lit(mnt)}};

	make_file(mnt, "a file\n");
	expect_refused(&sfs_fx, &r);
}

/* A mount point that is, holds or lies in the backing directory would hide
 * the files it serves from the tools that wipe them. */
Test(badinput, mountpoint_is_the_backing, .init = sfs_fx_init_setup,
     .fini = fini_badinput, .timeout = 30)
{
	struct refusal r = {.mnt = sfs_fx.backing,
			    .needles = {lit(sfs_fx.backing), "is the backing"}};

	expect_refused(&sfs_fx, &r);
}

Test(badinput, mountpoint_contains_the_backing, .init = sfs_fx_init_setup,
     .fini = fini_badinput, .timeout = 30)
{
	const char *inner = sfs_join(sfs_fx.mnt, "backing");
	struct refusal r = {
	    .backing = inner,
	    .needles = {lit(sfs_fx.mnt), lit(inner), "contains"}};

	cr_assert(mkdir(inner, 0700) == 0);
	expect_refused(&sfs_fx, &r);
}

/* Should a regression mount on /, the mount is taken off again: a plain
 * umount, which only the topmost (scratchfs) mount there can satisfy. */
static void fini_root(void)
{
	char mps[4][PATH_MAX]; /* mount points at "/" itself */

	if (sfs_mounts_under("/", "fuse.scratchfs", mps, 4) > 0)
		umount2("/", 0);
	fini_badinput();
}

Test(badinput, mountpoint_is_root, .init = sfs_fx_init_setup, .fini = fini_root,
     .timeout = 30)
{
	struct refusal r = {.mnt = "/",
			    .needles = {"root directory", lit(sfs_fx.backing)}};

	expect_refused(&sfs_fx, &r);
}

/* The backing directory's live mount in backing_mounted_elsewhere: stopped
 * by its own .fini, also when the test fails. */
static struct sfs_mount live;

static void fini_live(void)
{
	sfs_mount_stop(&live);
	fini_badinput();
}

/* A backing directory mounted already is live, not a leftover: the refusal
 * names its mount point and never advises a wipe. */
Test(badinput, backing_mounted_elsewhere, .init = sfs_fx_init_setup,
     .fini = fini_live, .timeout = 30)
{
	struct refusal r = {.opts = "hbi=1", .never = "wipe"};

	live = sfs_fx;
	snprintf(live.mnt, sizeof(live.mnt), "%s",
		 sfs_join(sfs_fx.root, "live"));
	cr_assert(mkdir(live.mnt, 0755) == 0);
	sfs_mount_start(&live, "hbi=1");
	make_file(sfs_mpath(&live, "data"), "live data\n");
	r.needles[0] = lit(sfs_fx.backing);
	r.needles[1] = lit(live.mnt);
	r.needles[2] = "mounted at";
	expect_refused(&sfs_fx, &r);
	r.opts = "hbi=0";
	expect_refused(&sfs_fx, &r);
	cr_assert_eq(file_size(sfs_mpath(&live, "data")), 10);
	sfs_mount_stop(&live);
}

/* The daemon of backing_locked_from_another_namespace, in a mount
 * namespace of its own; ended by the test's .fini. */
static pid_t ns_daemon = -1;

static void fini_ns(void)
{
	if (ns_daemon > 0) {
		kill(ns_daemon, SIGKILL);
		waitpid(ns_daemon, NULL, 0);
	}
	fini_badinput();
}

/* Whether /proc/PID/mountinfo shows a scratchfs mount at @mnt. */
static bool ns_mounted(pid_t pid, const char *mnt)
{
	char path[64], want[PATH_MAX + 8], *text, *line, *save = NULL;
	bool found = false;
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)pid);
	snprintf(want, sizeof(want), " %s ", mnt);
	text = sfs_read_file(path, &len);
	for (line = text ? strtok_r(text, "\n", &save) : NULL; line && !found;
	     line = strtok_r(NULL, "\n", &save))
		found = strstr(line, want) && strstr(line, " fuse.scratchfs ");
	free(text);
	return found;
}

/* Mounted in another mount namespace (a container's), the volume is not
 * in our mountinfo: the daemon's lock on it still says it is live. */
Test(badinput, backing_locked_from_another_namespace, .init = sfs_fx_init_setup,
     .fini = fini_ns, .timeout = 30)
{
	struct refusal r = {
	    .opts = "hbi=1",
	    .needles = {lit(sfs_fx.backing), "in use by another"},
	    .never = "wipe|previous run"};
	double deadline = sfs_now_s() + SFS_MOUNT_WAIT_S;

	ns_daemon = fork();
	cr_assert(ns_daemon >= 0);
	if (ns_daemon == 0) {
		execl("/usr/bin/unshare", "unshare", "-m", "--propagation",
		      "private", SFS_BUILD_DIR "/scratchfs", "-f", "-c",
		      sfs_fx.conf, "-o", "hbi=1", sfs_fx.backing, sfs_fx.mnt,
		      (char *)NULL);
		_exit(127);
	}
	while (!ns_mounted(ns_daemon, sfs_fx.mnt) && sfs_now_s() < deadline)
		sfs_sleep_ms(20);
	cr_assert(ns_mounted(ns_daemon, sfs_fx.mnt),
		  "the daemon did not mount in its namespace");
	cr_assert_eq(mounts_under(sfs_fx.root, NULL), 0,
		     "the namespace's mount is visible here");
	expect_refused(&sfs_fx, &r);
}

Test(badinput, backing_not_empty_without_header, .init = sfs_fx_init_setup,
     .fini = fini_badinput, .timeout = 30)
{
	struct refusal r = {
	    .needles = {"not empty|non-empty|nonempty", lit(sfs_fx.backing)}};

	make_file(sfs_bpath(&sfs_fx, "stray.txt"), "someone's data\n");
	cr_assert(mkdir(sfs_bpath(&sfs_fx, "subdir"), 0755) == 0);
	make_file(sfs_bpath(&sfs_fx, "subdir/inner"), "more data\n");
	expect_refused(&sfs_fx, &r);
}

/* ---- configuration and options --------------------------------------- */

struct conf_case {
	const char *text;
	int line;	     /* the line the message must name */
	const char *setting; /* and the setting, when there is one */
};

static const struct conf_case config_file_cases[] = {
    {"hbi_workspace = true;\ncipher = \"auto\";\nthis is { bad\n", 3, NULL},
    {"hbi_workspace = true;\nno_such_setting = 5;\n", 2, "no_such_setting"},
    {"\n\nhbi_workspace = \"yes\";\n", 3, "hbi_workspace"},
    {"cipher = \"rot13\";\n", 1, "cipher"},
    {"fuse = { max_threads = 0; };\n", 1, "max_threads"},
};

SFS_CASE_PARAMS(badinput, config_file, config_file_cases)

ParameterizedTest(int *ci, badinput, config_file, .init = sfs_fx_init_setup,
		  .fini = fini_badinput, .timeout = 30)
{
	const struct conf_case *c = &config_file_cases[*ci];
	char where[2 * PATH_MAX + 16];
	struct refusal r = {0};

	sfs_mount_write_conf(&sfs_fx, c->text);
	snprintf(where, sizeof(where), "%s:%d", lit(sfs_fx.conf), c->line);
	r.needles[0] = where;
	r.needles[1] = c->setting;
	expect_refused(&sfs_fx, &r);
}

Test(badinput, config_file_missing, .init = sfs_fx_init_setup,
     .fini = fini_badinput, .timeout = 30)
{
	const char *conf = sfs_join(sfs_fx.root, "no-such.conf");
	struct refusal r = {.conf = conf, .needles = {lit(conf)}};

	expect_refused(&sfs_fx, &r);
}

struct opt_case {
	const char *opts;
	const char *needle;
};

static const struct opt_case mount_option_cases[] = {
    {"hbi=maybe", "hbi"},
    {"hbi=", "hbi"},
    {"cipher=rot13", "cipher|rot13"},
    {"key=sometimes", "key"},
    {"hbi=1,key=keyfile:", "key"},
    /* libfuse's options: checked before the volume is created. */
    {"hbi=1,frobnicate=1", "unknown option.*frobnicate"},
    {"hbi=0,frobnicate", "unknown option.*frobnicate"},
    /* Accepted by libfuse, refused by the kernel at mount: the volume
     * created just before is removed again. */
    {"hbi=1,max_read=0x", "mount failed"},
};

SFS_CASE_PARAMS(badinput, mount_option, mount_option_cases)

ParameterizedTest(int *ci, badinput, mount_option, .init = sfs_fx_init_setup,
		  .fini = fini_badinput, .timeout = 30)
{
	const struct opt_case *c = &mount_option_cases[*ci];
	struct refusal r = {.opts = c->opts, .needles = {c->needle}};

	expect_refused(&sfs_fx, &r);
}

/* ---- keys and existing volumes ---------------------------------------- */

static void write_key(const char *path, size_t len, mode_t mode)
{
	unsigned char k[64];
	int fd;

	cr_assert_leq(len, sizeof(k));
	cr_assert_eq(getrandom(k, len, 0), (ssize_t)len);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	cr_assert(fd >= 0, "create %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, k, len), (ssize_t)len);
	cr_assert(fchmod(fd, mode) == 0);
	close(fd);
}

Test(badinput, wrong_key_file, .init = sfs_fx_init_setup, .fini = fini_badinput,
     .timeout = 30)
{
	const char *other = sfs_join(sfs_fx.root, "other.key");
	/* The key file, and that it is the wrong one (not, say, unreadable). */
	struct refusal r = {.needles = {lit(other),
					"does not open|wrong|reject|not match|"
					"doesn't match|mismatch|not the"}};

	make_volume(&sfs_fx, keyfile_opts(&sfs_fx, "node.key", NULL));
	write_key(other, 32, 0600);
	r.opts = keyfile_opts(&sfs_fx, "other.key", NULL);
	expect_refused(&sfs_fx, &r);

	/* The right key still works afterwards. */
	sfs_mount_start(&sfs_fx, keyfile_opts(&sfs_fx, "node.key", NULL));
	cr_assert_eq(file_size(sfs_mpath(&sfs_fx, "data")), 10);
	sfs_mount_stop(&sfs_fx);
}

struct key_case {
	size_t len;
	mode_t mode;
	const char *what;
};

static const struct key_case bad_key_file_cases[] = {
    {32, 0644, "world-readable"}, {32, 0640, "group-readable"},
    {16, 0600, "too short"},	  {33, 0600, "too long"},
    {0, 0600, "empty"},
};

SFS_CASE_PARAMS(badinput, bad_key_file, bad_key_file_cases)

/* A key file that is not a private 32-byte file is refused for a fresh
 * volume, before anything is written to the backing directory. */
ParameterizedTest(int *ci, badinput, bad_key_file, .init = sfs_fx_init_setup,
		  .fini = fini_badinput, .timeout = 30)
{
	const struct key_case *c = &bad_key_file_cases[*ci];
	const char *key = sfs_join(sfs_fx.root, "bad.key");
	struct refusal r = {.needles = {lit(key)}};

	cr_log_info("key file: %s", c->what);
	write_key(key, c->len, c->mode);
	r.opts = keyfile_opts(&sfs_fx, "bad.key", NULL);
	expect_refused(&sfs_fx, &r);
}

Test(badinput, key_file_is_a_symlink, .init = sfs_fx_init_setup,
     .fini = fini_badinput, .timeout = 30)
{
	const char *real = sfs_join(sfs_fx.root, "real.key");
	const char *key = sfs_join(sfs_fx.root, "link.key");
	struct refusal r = {.needles = {lit(key)}};

	write_key(real, 32, 0600);
	cr_assert(symlink(real, key) == 0);
	r.opts = keyfile_opts(&sfs_fx, "link.key", NULL);
	expect_refused(&sfs_fx, &r);
}

#define MODE_WORDS "hbi|encrypt|plain|mode"

Test(badinput, plain_mount_of_hbi_volume, .init = sfs_fx_init_setup,
     .fini = fini_badinput, .timeout = 30)
{
	struct refusal r = {.opts = "hbi=0", .needles = {MODE_WORDS}};

	make_volume(&sfs_fx, keyfile_opts(&sfs_fx, "node.key", NULL));
	expect_refused(&sfs_fx, &r);
}

Test(badinput, hbi_mount_of_plain_volume, .init = sfs_fx_init_setup,
     .fini = fini_badinput, .timeout = 30)
{
	struct refusal r = {.needles = {MODE_WORDS}};

	make_volume(&sfs_fx, "hbi=0");
	r.opts = keyfile_opts(&sfs_fx, "node.key", NULL);
	expect_refused(&sfs_fx, &r);
	r.opts = "hbi=1";
	expect_refused(&sfs_fx, &r);
	/* ... and it still mounts as what it is. */
	sfs_mount_start(&sfs_fx, "hbi=0");
	cr_assert_eq(file_size(sfs_mpath(&sfs_fx, "data")), 10);
	sfs_mount_stop(&sfs_fx);
}

Test(badinput, ephemeral_volume_remount, .init = sfs_fx_init_setup,
     .fini = fini_badinput, .timeout = 30)
{
	struct refusal r = {.opts = "hbi=1", .needles = {"ephemeral"}};

	make_volume(&sfs_fx, "hbi=1");
	expect_refused(&sfs_fx, &r);
	/* A key file cannot unlock it either. */
	r.opts = keyfile_opts(&sfs_fx, "node.key", NULL);
	expect_refused(&sfs_fx, &r);
}

Test(badinput, keyfile_volume_with_ephemeral_key, .init = sfs_fx_init_setup,
     .fini = fini_badinput, .timeout = 30)
{
	struct refusal r = {.opts = "hbi=1,key=ephemeral",
			    .needles = {"key|ephemeral"}};

	make_volume(&sfs_fx, keyfile_opts(&sfs_fx, "node.key", NULL));
	expect_refused(&sfs_fx, &r);
}

struct header_case {
	long off; /* byte to change, -1 = truncate to half */
	const char *what;
};

static const struct header_case volume_header_cases[] = {
    {0, "magic"},
    {8, "version"},
    {100, "middle (checksum must catch it)"},
    {-1, "truncated"},
};

SFS_CASE_PARAMS(badinput, volume_header, volume_header_cases)

ParameterizedTest(int *ci, badinput, volume_header, .init = sfs_fx_init_setup,
		  .fini = fini_badinput, .timeout = 30)
{
	const struct header_case *c = &volume_header_cases[*ci];
	const char *hdr = sfs_bpath(&sfs_fx, ".scratchfs/volume");
	struct refusal r = {.needles = {"volume|header"}};
	unsigned char b;
	struct stat st;
	int fd;

	make_volume(&sfs_fx, keyfile_opts(&sfs_fx, "node.key", NULL));
	cr_log_info("volume header: %s", c->what);
	fd = open(hdr, O_RDWR);
	cr_assert(fd >= 0, "open %s: %s", hdr, strerror(errno));
	cr_assert(fstat(fd, &st) == 0 && st.st_size > 100);
	if (c->off < 0) {
		cr_assert(ftruncate(fd, st.st_size / 2) == 0);
	} else {
		cr_assert_eq(pread(fd, &b, 1, c->off), 1);
		b ^= 0x10;
		cr_assert_eq(pwrite(fd, &b, 1, c->off), 1);
	}
	close(fd);
	r.opts = keyfile_opts(&sfs_fx, "node.key", NULL);
	expect_refused(&sfs_fx, &r);
}
