/* ctl_st_volume.c - selftest's checks on real volumes: the canary recipe
 * on a plain directory (control), on a fresh encrypted volume (at rest),
 * a flipped byte (tamper), unmount and wipe (crypto-erase) and a plain
 * volume (passthrough). Every volume is new and lives under x->dir. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "ctl_selftest.h"
#include "sfs_crypto.h"
#include "sfs_status.h"
#include "sfs_sys.h"
#include "sfs_volume.h"
#include "sfs_wipe.h"

/* The recipe (ST_CANARIES canaries, c[i] below):
 *   f-c1            a 3-block file, c0 repeated (short last block)
 *                   with xattr user.x-c7 = v-c8
 *   d-c2/c3LLL...   a 202-byte name (the long form), holding c4
 *   s-c6 -> ../t-c5 a symlink */
#define CONTENT_REPEAT 300
#define LONG_NAME_LEN 202
#define STOP_WAIT_MS 5000

struct recipe {
	char file[8 + ST_CANARY_LEN], dir[8 + ST_CANARY_LEN];
	char longname[LONG_NAME_LEN + 1], link[8 + ST_CANARY_LEN];
	char target[8 + ST_CANARY_LEN], xname[8 + ST_CANARY_LEN];
	char xvalue[8 + ST_CANARY_LEN];
};

static void recipe_names(const struct st_ctx *x, struct recipe *p)
{
	snprintf(p->file, sizeof(p->file), "f-%s", x->canary[1]);
	snprintf(p->dir, sizeof(p->dir), "d-%s", x->canary[2]);
	snprintf(p->longname, sizeof(p->longname), "%s", x->canary[3]);
	memset(p->longname + ST_CANARY_LEN, 'L', LONG_NAME_LEN - ST_CANARY_LEN);
	p->longname[LONG_NAME_LEN] = '\0';
	snprintf(p->link, sizeof(p->link), "s-%s", x->canary[6]);
	snprintf(p->target, sizeof(p->target), "../t-%s", x->canary[5]);
	snprintf(p->xname, sizeof(p->xname), "user.x-%s", x->canary[7]);
	snprintf(p->xvalue, sizeof(p->xvalue), "v-%s", x->canary[8]);
}

static char *path2(char *out, const char *a, const char *b)
{
	if ((size_t)snprintf(out, PATH_MAX, "%s/%s", a, b) >= PATH_MAX)
		out[0] = '\0';
	return out;
}

/* Creates path with len bytes of buf, fsynced (so it reaches the backing
 * directory through the daemon). 0 or -errno. */
static int put_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, buf, len) != (ssize_t)len || fsync(fd) != 0)
		rc = errno ? -errno : -EIO;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* Reads up to cap bytes of path; the length or -errno. */
static ssize_t get_file(const char *path, void *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n = 0, got = 0;

	if (fd < 0)
		return -errno;
	while ((size_t)got < cap &&
	       (n = read(fd, (char *)buf + got, cap - (size_t)got)) > 0)
		got += n;
	if (n < 0)
		got = -errno;
	close(fd);
	return got;
}

static void content(const struct st_ctx *x, char *buf)
{
	for (int i = 0; i < CONTENT_REPEAT; i++)
		memcpy(buf + (size_t)i * ST_CANARY_LEN, x->canary[0],
		       ST_CANARY_LEN);
}

/* Writes the recipe into dir. */
static bool recipe_write(const struct st_ctx *x, const char *dir,
			 struct st_result *r)
{
	static char buf[CONTENT_REPEAT * ST_CANARY_LEN];
	char p[PATH_MAX], d[PATH_MAX], q[PATH_MAX];
	struct recipe n;
	int rc;

	recipe_names(x, &n);
	content(x, buf);
	if ((rc = put_file(path2(p, dir, n.file), buf, sizeof(buf))) != 0 ||
	    (rc = setxattr(p, n.xname, n.xvalue, strlen(n.xvalue), 0) ? -errno
								      : 0) ||
	    (rc = mkdir(path2(d, dir, n.dir), 0700) ? -errno : 0) ||
	    (rc = put_file(path2(q, d, n.longname), x->canary[4],
			   ST_CANARY_LEN)) != 0 ||
	    (rc = symlink(n.target, path2(q, dir, n.link)) ? -errno : 0)) {
		st_fail(r, "writing the canaries into %s: %s", dir,
			strerror(-rc));
		return false;
	}
	return true;
}

/* Reads the recipe back from dir: exactly what was written. */
static bool recipe_read(const struct st_ctx *x, const char *dir,
			struct st_result *r)
{
	static char want[CONTENT_REPEAT * ST_CANARY_LEN], got[sizeof(want) + 1];
	char p[PATH_MAX], d[PATH_MAX];
	struct recipe n;
	ssize_t len;

	recipe_names(x, &n);
	content(x, want);
	len = get_file(path2(p, dir, n.file), got, sizeof(got));
	if (len != (ssize_t)sizeof(want) || memcmp(got, want, sizeof(want)))
		goto bad;
	len = getxattr(p, n.xname, got, sizeof(got));
	if (len != (ssize_t)strlen(n.xvalue) || memcmp(got, n.xvalue, len))
		goto bad;
	len = get_file(path2(p, path2(d, dir, n.dir), n.longname), got,
		       sizeof(got));
	if (len != ST_CANARY_LEN || memcmp(got, x->canary[4], ST_CANARY_LEN))
		goto bad;
	len = readlink(path2(p, dir, n.link), got, sizeof(got));
	if (len != (ssize_t)strlen(n.target) || memcmp(got, n.target, len))
		goto bad;
	return true;
bad:
	st_fail(r, "%s does not read back what was written (%s)", dir,
		len < 0 ? strerror(errno) : "other bytes");
	return false;
}

/* --- the search ---------------------------------------------------------
 */

struct search {
	const struct st_ctx *x;
	unsigned hits[ST_CANARIES];
	char where[ST_CANARIES][96]; /* the first hit of each */
	unsigned long entries, xattrs;
	unsigned long long bytes;
	int error;
};

static void scan(struct search *s, const char *what, const char *rel,
		 const void *buf, size_t len)
{
	for (int i = 0; i < ST_CANARIES; i++)
		if (memmem(buf, len, s->x->canary[i], ST_CANARY_LEN)) {
			if (!s->hits[i]++)
				snprintf(s->where[i], sizeof(s->where[i]),
					 "%s of %s", what, rel);
		}
}

static void scan_xattrs(struct search *s, const char *path, const char *rel)
{
	char names[16384], value[65536];
	ssize_t n = llistxattr(path, names, sizeof(names));

	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(names + i) + 1) {
		ssize_t v = lgetxattr(path, names + i, value, sizeof(value));

		s->xattrs++;
		scan(s, "an xattr name", rel, names + i, strlen(names + i));
		if (v > 0)
			scan(s, "an xattr value", rel, value, (size_t)v);
	}
	if (n < 0 && errno != ENOTSUP)
		s->error = errno;
}

/* Every name, byte, symlink target and xattr under dir (rel is its path
 * below the search root), without following symlinks. */
static void search_tree(struct search *s, const char *dir, const char *rel)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d) {
		s->error = errno;
		return;
	}
	while ((e = readdir(d))) {
		char p[PATH_MAX], sub[PATH_MAX], buf[65536];
		struct stat st;
		ssize_t n;
		int fd;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		s->entries++;
		path2(sub, rel, e->d_name);
		scan(s, "the name", sub, e->d_name, strlen(e->d_name));
		if (lstat(path2(p, dir, e->d_name), &st) != 0) {
			s->error = errno;
			continue;
		}
		scan_xattrs(s, p, sub);
		if (S_ISDIR(st.st_mode)) {
			search_tree(s, p, sub);
		} else if (S_ISLNK(st.st_mode)) {
			n = readlink(p, buf, sizeof(buf));
			if (n > 0)
				scan(s, "the symlink target", sub, buf,
				     (size_t)n);
		} else if (S_ISREG(st.st_mode)) {
			/* Overlapping reads, so a canary across two reads
			 * is still found. */
			off_t off = 0;

			fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0) {
				s->error = errno;
				continue;
			}
			while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
				scan(s, "the contents", sub, buf, (size_t)n);
				s->bytes += (unsigned long long)n;
				if ((size_t)n < sizeof(buf))
					break;
				off += n - (ST_CANARY_LEN - 1);
			}
			close(fd);
		}
	}
	closedir(d);
}

static void search(const struct st_ctx *x, const char *root, struct search *s)
{
	memset(s, 0, sizeof(*s));
	s->x = x;
	search_tree(s, root, "");
}

static unsigned found(const struct search *s)
{
	unsigned n = 0;

	for (int i = 0; i < ST_CANARIES; i++)
		n += s->hits[i] > 0;
	return n;
}

/* The first canary hit, for a failure's detail. */
static const char *first_hit(const struct search *s)
{
	for (int i = 0; i < ST_CANARIES; i++)
		if (s->hits[i])
			return s->where[i];
	return "nowhere";
}

/* --- mounts -------------------------------------------------------------
 */

/* The last line of the daemons' log, for a failure's detail. */
static const char *log_tail(const struct st_ctx *x, char *buf, size_t len)
{
	char line[1024];
	FILE *f = fopen(x->log, "re");

	snprintf(buf, len, "no output");
	if (!f)
		return buf;
	while (fgets(line, sizeof(line), f))
		if (line[0] != '\n') {
			line[strcspn(line, "\n")] = '\0';
			snprintf(buf, len, "%.200s", line);
		}
	fclose(f);
	return buf;
}

/* Runs argv with its output appended to the log; its exit status (or
 * 128 + signal), -errno when it cannot run. */
static int run(const struct st_ctx *x, const char *const argv[])
{
	int status, fd;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		fd = open(x->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			  0600);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs the daemon: `scratchfs [-c CONF] -o OPTS BACKING MNT`. Its exit
 * status (0: mounted, it went to the background). */
static int mount_volume(const struct st_ctx *x, const char *backing,
			const char *mnt, const char *opts)
{
	const char *argv[8];
	int n = 0;

	argv[n++] = x->daemon;
	if (x->conf) {
		argv[n++] = "-c";
		argv[n++] = x->conf;
	}
	argv[n++] = "-o";
	argv[n++] = opts;
	argv[n++] = backing;
	argv[n++] = mnt;
	argv[n] = NULL;
	return run(x, argv);
}

/* The daemon's status document (sfs_status.h), or NULL. */
static json_t *status(const char *mnt)
{
	char buf[SFS_STATUS_MAX];
	ssize_t n = getxattr(mnt, SFS_STATUS_XATTR, buf, sizeof(buf));

	return n > 0 ? json_loadb(buf, (size_t)n, 0, NULL) : NULL;
}

static long long status_int(const char *mnt, const char *key)
{
	json_t *j = status(mnt);
	long long v = -1;

	if (j && json_is_integer(json_object_get(j, key)))
		v = json_integer_value(json_object_get(j, key));
	json_decref(j);
	return v;
}

/* Unmounts mnt and waits until its daemon has exited (and so wiped its
 * keys). 0, or -errno. */
static int unmount(const struct st_ctx *x, const char *mnt)
{
	const char *argv[] = {"fusermount3", "-u", "--", mnt, NULL};
	long long pid = status_int(mnt, "pid");
	struct timespec t = {0, 10 * 1000 * 1000};
	int rc = run(x, argv);

	if (rc != 0)
		return rc < 0 ? rc : -EBUSY;
	char buf[1024];

	/* Gone or a zombie: its memory, the volume key included, is freed
	 * (a zombie's reaper may be slow). */
	for (int ms = 0; pid > 0 && sfs_proc_stat((pid_t)pid, buf, sizeof(buf));
	     ms += 10) {
		if (ms >= STOP_WAIT_MS)
			return -ETIMEDOUT;
		nanosleep(&t, NULL);
	}
	return 0;
}

static bool mounted(const char *mnt)
{
	return status_int(mnt, "pid") > 0;
}

/* --- the checks ---------------------------------------------------------
 */

void st_control(struct st_ctx *x, struct st_result *r)
{
	struct search s;

	if (!recipe_write(x, x->control, r) || !recipe_read(x, x->control, r))
		return;
	search(x, x->control, &s);
	if (s.error)
		st_fail(r, "searching %s: %s", x->control, strerror(s.error));
	else if (found(&s) != ST_CANARIES)
		st_fail(r,
			"the search finds only %u of %d canaries written "
			"in plain: it cannot be trusted",
			found(&s), ST_CANARIES);
	else
		st_pass(r,
			"the search finds all %d canaries (names, long "
			"name, contents, symlink target, xattr name and "
			"value) in a plain directory",
			ST_CANARIES);
}

void st_at_rest(struct st_ctx *x, struct st_result *r)
{
	char log[256], cipher[32] = "?", transport[16] = "?";
	struct search s;
	json_t *j;
	int rc;

	rc = mount_volume(x, x->hbi_backing, x->hbi_mnt, "hbi=1,key=ephemeral");
	if (rc != 0 || !mounted(x->hbi_mnt)) {
		st_fail(r, "mounting a fresh hbi=1 volume failed (exit %d): %s",
			rc, log_tail(x, log, sizeof(log)));
		return;
	}
	if (!recipe_write(x, x->hbi_mnt, r) || !recipe_read(x, x->hbi_mnt, r))
		return;
	x->hbi_written = true;
	j = status(x->hbi_mnt);
	if (j) {
		snprintf(cipher, sizeof(cipher), "%s",
			 json_string_value(json_object_get(j, "cipher"))
			     ?: "?");
		snprintf(transport, sizeof(transport), "%s",
			 json_string_value(json_object_get(j, "transport"))
			     ?: "?");
		json_decref(j);
	}
	search(x, x->hbi_backing, &s);
	if (s.error)
		st_fail(r, "searching %s: %s", x->hbi_backing,
			strerror(s.error));
	else if (found(&s))
		st_fail(r,
			"%u of %d canaries are in the backing directory in "
			"plain, first in %s",
			found(&s), ST_CANARIES, first_hit(&s));
	else
		st_pass(r,
			"%d canaries, 0 found in %lu backing entries, %llu "
			"bytes, %lu xattrs (cipher %s, transport %s)",
			ST_CANARIES, s.entries, s.bytes, s.xattrs, cipher,
			transport);
}

/* The backing file of mount path p, by inode number, in the backing
 * root (where the tamper file is made). */
static int backing_of(const struct st_ctx *x, const char *p, char *out)
{
	struct stat want, st;
	struct dirent *e;
	DIR *d;
	int rc = -ENOENT;

	if (stat(p, &want) != 0 || !(d = opendir(x->hbi_backing)))
		return -errno;
	while (rc && (e = readdir(d)))
		if (lstat(path2(out, x->hbi_backing, e->d_name), &st) == 0 &&
		    S_ISREG(st.st_mode) && st.st_ino == want.st_ino)
			rc = 0;
	closedir(d);
	return rc;
}

void st_tamper(struct st_ctx *x, struct st_result *r)
{
	char p[PATH_MAX], b[PATH_MAX], buf[8192];
	long long before, after;
	unsigned char byte;
	int fd, rc;
	ssize_t n;

	if (!x->hbi_written) {
		st_fail(r, "not run: no encrypted volume (see at-rest)");
		return;
	}
	sfs_random(buf, sizeof(buf));
	if ((rc = put_file(path2(p, x->hbi_mnt, "tamper"), buf, sizeof(buf))) ||
	    (rc = backing_of(x, p, b))) {
		st_fail(r, "setting up the file: %s", strerror(-rc));
		return;
	}
	/* One byte of block 0's ciphertext (it starts at 4096). */
	fd = open(b, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || pread(fd, &byte, 1, 4096 + 100) != 1 ||
	    (byte ^= 0x01, pwrite(fd, &byte, 1, 4096 + 100)) != 1) {
		st_fail(r, "flipping a byte of %s: %s", b, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	before = status_int(x->hbi_mnt, "integrity_failures");
	/* Drop the mount's cached plaintext so the read reaches the daemon. */
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		st_fail(r, "opening the tampered file: %s", strerror(errno));
		return;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	n = pread(fd, buf, sizeof(buf), 0);
	rc = n < 0 ? errno : 0;
	close(fd);
	after = status_int(x->hbi_mnt, "integrity_failures");
	if (n >= 0)
		st_fail(r,
			"a block with a flipped ciphertext byte reads "
			"(%zd bytes) instead of failing with EIO",
			n);
	else if (rc != EIO)
		st_fail(r, "reading a tampered block fails with %s, not EIO",
			strerror(rc));
	else if (before < 0 || after <= before)
		st_fail(r,
			"EIO, but the integrity counter did not move "
			"(%lld -> %lld)",
			before, after);
	else
		st_pass(r,
			"a flipped ciphertext byte reads as EIO; "
			"integrity_failures %lld -> %lld",
			before, after);
}

/* Only an empty .scratchfs/ in backing: the wipe's tombstone. */
static bool only_tombstone(const char *backing)
{
	char p[PATH_MAX];
	struct dirent *e;
	int n = 0, inner = 0;
	DIR *d = opendir(backing);

	if (!d)
		return false;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n += strcmp(e->d_name, ".scratchfs") ? 2 : 1;
	closedir(d);
	d = opendir(path2(p, backing, ".scratchfs"));
	if (!d)
		return false;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			inner++;
	closedir(d);
	return n == 1 && inner == 0;
}

/* Wipes backing with the wipe engine, as scratchfs-wipe does. */
static int wipe(const char *backing, struct sfs_wipe_report *rep, char *err,
		size_t len)
{
	struct sfs_wipe_opts o = {0};

	return sfs_wipe_volume(backing, &o, rep, err, len);
}

void st_crypto_erase(struct st_ctx *x, struct st_result *r)
{
	static struct sfs_wipe_report rep;
	char log[256], err[512], *why;
	struct search s;
	int rc;

	if (!x->hbi_written) {
		st_fail(r, "not run: no encrypted volume (see at-rest)");
		return;
	}
	rc = unmount(x, x->hbi_mnt);
	if (rc) {
		st_fail(r, "unmounting %s: %s", x->hbi_mnt, strerror(-rc));
		return;
	}
	rc = mount_volume(x, x->hbi_backing, x->hbi_mnt, "hbi=1,key=ephemeral");
	if (rc == 0) {
		st_fail(r, "the volume mounts again after its daemon is gone");
		return;
	}
	/* The daemon's reason, without "scratchfs: BACKING " and advice. */
	log_tail(x, log, sizeof(log));
	why = strstr(log, x->hbi_backing);
	why = why ? why + strlen(x->hbi_backing) : log;
	why += strspn(why, " :");
	why[strcspn(why, ":;")] = '\0';
	search(x, x->hbi_backing, &s);
	if (s.error || found(&s)) {
		st_fail(r, "after unmount: %s",
			s.error ? strerror(s.error) : first_hit(&s));
		return;
	}
	rc = wipe(x->hbi_backing, &rep, err, sizeof(err));
	if (rc)
		st_fail(r, "scratchfs-wipe: %s", err);
	else if (rep.method != SFS_WIPE_CRYPTO_ERASE || !rep.verified)
		st_fail(r, "scratchfs-wipe used %s%s",
			sfs_wipe_method_name(rep.method),
			rep.verified ? "" : ", unverified");
	else if (!only_tombstone(x->hbi_backing))
		st_fail(r,
			"scratchfs-wipe left more than an empty "
			".scratchfs/ in %s",
			x->hbi_backing);
	else
		st_pass(r,
			"remount refused (%s); 0 canaries after unmount; "
			"wipe: crypto-erase, verified, %llu files deleted "
			"from %s on %s, only the tombstone left",
			why, (unsigned long long)rep.files_deleted,
			rep.fstype[0] ? rep.fstype : "?",
			rep.device[0] ? rep.device : "?");
}

void st_passthrough(struct st_ctx *x, struct st_result *r)
{
	static struct sfs_wipe_report rep;
	char log[256], err[512];
	struct search s;
	int rc;

	rc = mount_volume(x, x->plain_backing, x->plain_mnt, "hbi=0");
	if (rc != 0 || !mounted(x->plain_mnt)) {
		st_fail(r, "mounting a fresh hbi=0 volume failed (exit %d): %s",
			rc, log_tail(x, log, sizeof(log)));
		return;
	}
	if (!recipe_write(x, x->plain_mnt, r) ||
	    !recipe_read(x, x->plain_mnt, r))
		return;
	search(x, x->plain_backing, &s);
	rc = wipe(x->plain_backing, &rep, err, sizeof(err));
	if (s.error)
		st_fail(r, "searching %s: %s", x->plain_backing,
			strerror(s.error));
	else if (found(&s) != ST_CANARIES)
		st_fail(r,
			"only %u of %d canaries reach the backing "
			"directory unchanged",
			found(&s), ST_CANARIES);
	else if (rc)
		st_fail(r, "scratchfs-wipe: %s", err);
	else
		st_pass(r,
			"all %d canaries pass through unchanged; wipe: %s, "
			"verified",
			ST_CANARIES, sfs_wipe_method_name(rep.method));
}

/* --- cleanup ------------------------------------------------------------
 */

/* Removes dir and everything in it, without following symlinks or
 * entering other mounts. */
static int remove_tree(const char *dir, dev_t dev)
{
	struct dirent *e;
	struct stat st;
	DIR *d = opendir(dir);
	int rc = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		char p[PATH_MAX];

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (lstat(path2(p, dir, e->d_name), &st) != 0)
			rc = -errno;
		else if (st.st_dev != dev)
			rc = -EBUSY;
		else if (S_ISDIR(st.st_mode))
			rc = remove_tree(p, dev) ?: rc;
		else if (unlink(p) != 0)
			rc = -errno;
	}
	closedir(d);
	if (rc == 0 && rmdir(dir) != 0)
		rc = -errno;
	return rc;
}

int st_cleanup(struct st_ctx *x)
{
	static struct sfs_wipe_report rep;
	const char *backings[] = {x->hbi_backing, x->plain_backing};
	char p[PATH_MAX], err[512];
	struct stat st;
	int rc = 0;

	if (!x->dir[0] || lstat(x->dir, &st) != 0)
		return 0;
	for (int i = 0; i < 2; i++) {
		struct sfs_wipe_opts o = {.lazy = true};

		if (access(path2(p, backings[i], ".scratchfs"), F_OK) != 0)
			continue;
		if (sfs_wipe_volume(backings[i], &o, &rep, err, sizeof(err))) {
			fprintf(stderr, "scratchfs-ctl: selftest cleanup: %s\n",
				err);
			rc = -1;
		}
	}
	if (remove_tree(x->dir, st.st_dev) != 0) {
		fprintf(stderr,
			"scratchfs-ctl: selftest cleanup: cannot remove %s\n",
			x->dir);
		rc = -1;
	}
	return rc;
}
