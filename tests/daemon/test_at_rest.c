/* test_at_rest.c - a canary written through the mount must not appear in the
 * backing directory in hbi mode (names, data, links, xattrs), and must
 * appear in plain mode (which proves the search can find it). */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "mount_util.h"

enum where {
	IN_NAME = 1 << 0,
	IN_DATA = 1 << 1,
	IN_LINK = 1 << 2,
	IN_XNAME = 1 << 3,
	IN_XVALUE = 1 << 4,
	IN_ALL = (1 << 5) - 1,
};

static const char *const where_names[] = {
    "file name", "file data", "symlink target", "xattr name", "xattr value",
};

struct canary {
	char full[64];	 /* "CANARY-<32 hex>" */
	char prefix[9];	 /* its first 8 bytes */
	const char *hex; /* the random part alone */
};

/* What the backing walk saw and where the canary turned up. */
struct scan {
	const struct canary *c;
	unsigned found; /* enum where bits */
	char first[PATH_MAX + 64];
	size_t entries, files, links, xattrs;
	size_t data_bytes;
};

static void canary_init(struct canary *c)
{
	unsigned char r[16];
	size_t i;
	int n;

	cr_assert_eq(getrandom(r, sizeof(r), 0), (ssize_t)sizeof(r));
	n = snprintf(c->full, sizeof(c->full), "CANARY-");
	for (i = 0; i < sizeof(r); i++)
		n += snprintf(c->full + n, sizeof(c->full) - n, "%02x", r[i]);
	memcpy(c->prefix, c->full, 8);
	c->prefix[8] = '\0';
	c->hex = c->full + strlen("CANARY-");
}

static bool has_needle(const struct canary *c, const void *buf, size_t len)
{
	const char *needles[] = {c->full, c->prefix, c->hex};
	size_t i;

	for (i = 0; i < 3; i++)
		if (memmem(buf, len, needles[i], strlen(needles[i])))
			return true;
	return false;
}

static void note(struct scan *s, enum where w, const char *path,
		 const void *buf, size_t len)
{
	if (!has_needle(s->c, buf, len))
		return;
	if (!s->found)
		snprintf(s->first, sizeof(s->first), "%s (%s)", path,
			 where_names[__builtin_ctz(w)]);
	s->found |= w;
}

static void scan_xattrs(struct scan *s, const char *path)
{
	char names[65536];
	ssize_t len = llistxattr(path, names, sizeof(names));
	ssize_t i;

	cr_assert(len >= 0 || errno == ENOTSUP, "llistxattr %s: %s", path,
		  strerror(errno));
	for (i = 0; i < len; i += strlen(names + i) + 1) {
		char value[65536];
		ssize_t vlen = lgetxattr(path, names + i, value, sizeof(value));

		cr_assert(vlen >= 0, "lgetxattr %s %s: %s", path, names + i,
			  strerror(errno));
		s->xattrs++;
		note(s, IN_XNAME, path, names + i, strlen(names + i));
		note(s, IN_XVALUE, path, value, vlen);
	}
}

static void scan_file(struct scan *s, const char *path)
{
	size_t len;
	char *data = sfs_read_file(path, &len);

	cr_assert_not_null(data, "read %s: %s", path, strerror(errno));
	s->files++;
	s->data_bytes += len;
	note(s, IN_DATA, path, data, len);
	free(data);
}

/* Walks dir (never following symlinks) and looks at everything. */
static void scan_tree(struct scan *s, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	cr_assert_not_null(d, "opendir %s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		char path[PATH_MAX];
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		cr_assert(lstat(path, &st) == 0, "lstat %s: %s", path,
			  strerror(errno));
		s->entries++;
		note(s, IN_NAME, path, e->d_name, strlen(e->d_name));
		scan_xattrs(s, path);
		if (S_ISDIR(st.st_mode)) {
			scan_tree(s, path);
		} else if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t n = readlink(path, target, sizeof(target));

			cr_assert(n >= 0, "readlink %s: %s", path,
				  strerror(errno));
			s->links++;
			note(s, IN_LINK, path, target, n);
		} else if (S_ISREG(st.st_mode)) {
			scan_file(s, path);
		}
	}
	closedir(d);
}

static void put_canary(char *buf, size_t at, const struct canary *c)
{
	memcpy(buf + at, c->full, strlen(c->full));
}

static void write_or_die(const char *path, const void *buf, size_t len)
{
	int rc = sfs_write_file(path, buf, len);

	cr_assert_eq(rc, 0, "write %s: %s", path, strerror(-rc));
}

/* Puts the canary everywhere a user can put a string; returns the number of
 * content bytes written. Reads a few back to be sure they landed. */
static size_t plant(const struct sfs_mount *m, const struct canary *c)
{
	size_t clen = strlen(c->full), total = 0, len;
	char *buf = calloc(1, 5 * 4096), *back;
	char name[256], xname[128], xval[128], target[256], longt[4096];
	ssize_t n;

	cr_assert_not_null(buf);

	/* A small file. */
	len = (size_t)snprintf(buf, 4096, "secret: %s\n", c->full);
	write_or_die(sfs_mpath(m, "small"), buf, len);
	total += len;

	/* Several blocks, canaries at block starts, across a boundary and at
	 * the very end. */
	len = 4 * 4096 + 1234;
	sfs_fill_pattern(buf, len, 7);
	put_canary(buf, 0, c);
	put_canary(buf, 4096 - clen / 2, c);
	put_canary(buf, 8192, c);
	put_canary(buf, 3 * 4096 + 100, c);
	put_canary(buf, len - clen, c);
	write_or_die(sfs_mpath(m, "multi"), buf, len);
	total += len;

	/* The canary ends exactly at the end of a partial last block. */
	len = 4096 + 100;
	memset(buf, 'a', len);
	put_canary(buf, len - clen, c);
	write_or_die(sfs_mpath(m, "tail"), buf, len);
	total += len;

	/* The canary fills the end of a full last block. */
	len = 2 * 4096;
	memset(buf, 'b', len);
	put_canary(buf, len - clen, c);
	write_or_die(sfs_mpath(m, "fullend"), buf, len);
	total += len;

	/* Names: a file, a directory (with something inside), a 200-byte
	 * name. */
	write_or_die(sfs_mpath(m, c->full), "n", 1);
	snprintf(name, sizeof(name), "dir-%s", c->full);
	cr_assert(mkdir(sfs_mpath(m, name), 0755) == 0, "mkdir: %s",
		  strerror(errno));
	snprintf(name, sizeof(name), "dir-%s/inner-%s", c->full, c->full);
	write_or_die(sfs_mpath(m, name), "i", 1);
	memset(name, 'L', 200);
	memcpy(name + 80, c->full, clen);
	name[200] = '\0';
	write_or_die(sfs_mpath(m, name), "l", 1);
	cr_assert(access(sfs_mpath(m, name), F_OK) == 0);

	/* A symlink target. */
	snprintf(target, sizeof(target), "/nowhere/%s/target", c->full);
	cr_assert(symlink(target, sfs_mpath(m, "link")) == 0, "symlink: %s",
		  strerror(errno));
	n = readlink(sfs_mpath(m, "link"), name, sizeof(name));
	cr_assert(n == (ssize_t)strlen(target) && !memcmp(name, target, n),
		  "readlink through the mount");
	/* One too long for the backing symlink (hbi: in the target store). */
	memset(longt, 'T', sizeof(longt) - 1);
	memcpy(longt + 2000, c->full, clen);
	longt[sizeof(longt) - 1] = '\0';
	cr_assert(symlink(longt, sfs_mpath(m, "longlink")) == 0, "symlink: %s",
		  strerror(errno));

	/* xattr name and value, on a file and on a directory. */
	snprintf(xname, sizeof(xname), "user.%s", c->full);
	snprintf(xval, sizeof(xval), "value-%s", c->full);
	cr_assert(
	    setxattr(sfs_mpath(m, "small"), xname, xval, strlen(xval), 0) == 0,
	    "setxattr: %s", strerror(errno));
	snprintf(name, sizeof(name), "dir-%s", c->full);
	cr_assert(setxattr(sfs_mpath(m, name), xname, xval, strlen(xval), 0) ==
		      0,
		  "setxattr on a directory: %s", strerror(errno));
	n = getxattr(sfs_mpath(m, "small"), xname, name, sizeof(name));
	cr_assert(n == (ssize_t)strlen(xval) && !memcmp(name, xval, n),
		  "getxattr through the mount");

	back = sfs_read_file(sfs_mpath(m, "tail"), &len);
	cr_assert(back && len == 4096 + 100 &&
		  !memcmp(back + len - clen, c->full, clen));
	free(back);
	free(buf);
	return total;
}

static void plant_and_scan(struct sfs_mount *m, const char *opts,
			   struct scan *s, size_t *planted)
{
	static struct canary c;

	canary_init(&c);
	memset(s, 0, sizeof(*s));
	s->c = &c;
	sfs_mount_start(m, opts);
	*planted = plant(m, &c);
	sfs_mount_stop(m);
	scan_tree(s, m->backing);
}

Test(at_rest, hbi_backing_never_holds_the_canary, .init = sfs_fx_init_setup,
     .fini = sfs_fx_fini, .timeout = 60)
{
	struct scan s;
	size_t planted;

	plant_and_scan(&sfs_fx, "hbi=1", &s, &planted);

	/* The walk really looked at the data (guards against a vacuous
	 * pass, e.g. scanning the wrong directory). */
	cr_assert_geq(s.data_bytes, planted, "scanned %zu bytes < %zu written",
		      s.data_bytes, planted);
	cr_assert_geq(s.files, 8, "only %zu files in the backing dir", s.files);
	cr_assert_geq(s.links, 1, "no symlink in the backing dir");
	cr_assert_eq(s.found, 0,
		     "canary %s found in the backing dir: first at %s",
		     s.c->full, s.first);
	/* Nor in the daemon's own output (it may end up in syslog). */
	cr_assert(!sfs_log_contains(&sfs_fx, s.c->prefix),
		  "the daemon log shows the canary");
}

Test(at_rest, plain_backing_holds_the_canary_everywhere,
     .init = sfs_fx_init_setup, .fini = sfs_fx_fini, .timeout = 60)
{
	struct scan s;
	size_t planted, i;

	plant_and_scan(&sfs_fx, "hbi=0", &s, &planted);
	for (i = 0; i < 5; i++)
		cr_expect(s.found & (1u << i),
			  "plain mode: canary not found in any %s",
			  where_names[i]);
	cr_assert_eq(s.found, IN_ALL);
}
