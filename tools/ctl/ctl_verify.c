/* ctl_verify.c - scratchfs-ctl verify: checks, without any key, that an hbi
 * volume at rest holds no plaintext names and that every file, symlink
 * target (inline, or out of line in the target store) and user.* attribute
 * has the ciphertext format (doc/FORMAT.md).
 *
 * Keyless means it can only check the *form*: a name that happens to be
 * valid base64url of a plausible length, or a file that starts with a valid
 * header, passes. fsck (with the key) authenticates.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "sfs_content.h"
#include "sfs_ctl.h"
#include "sfs_meta.h"
#include "sfs_mountinfo.h"
#include "sfs_names.h"
#include "sfs_sys.h"
#include "sfs_volume.h"

#define USER_PREFIX "user."
#define USER_PREFIX_LEN (sizeof(USER_PREFIX) - 1)
#define LONG_PREFIX_LEN (sizeof(SFS_LONGNAME_PREFIX) - 1)
#define LONG_SUFFIX_LEN (sizeof(SFS_LONGNAME_SUFFIX) - 1)
/* A directory nested deeper than this is reported, not walked. */
#define MAX_DEPTH 1024

struct verify {
	int root_fd;
	dev_t dev;
	struct sfs_layout layout;
	const char *cipher;
	bool json;
	json_t *offenders; /* JSON mode */
	unsigned long checked, found;
	bool io_error;
};

static __attribute__((format(printf, 3, 4))) void
offend(struct verify *v, const char *rel, const char *fmt, ...)
{
	char what[512], esc[PATH_MAX * 4];
	va_list ap;
	json_t *o;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	v->found++;
	if (!v->json) {
		sfs_ctl_escape(esc, sizeof(esc), rel);
		printf("%s: %s\n", esc, what);
		return;
	}
	o = json_pack("{s:o,s:o}", "path", sfs_ctl_json_string(rel), "problem",
		      sfs_ctl_json_string(what));
	if (!o || json_array_append_new(v->offenders, o))
		v->io_error = true;
}

/* An error that stops a check (not a finding about the volume). */
static void io_fail(struct verify *v, const char *rel, const char *what,
		    int err)
{
	char esc[PATH_MAX * 4];

	sfs_ctl_escape(esc, sizeof(esc), rel);
	fprintf(stderr, "scratchfs-ctl: %s: %s: %s\n", esc, what,
		strerror(err));
	v->io_error = true;
}

static void join(char *out, const char *rel, const char *name)
{
	if (rel[0] == '\0' || strcmp(rel, ".") == 0)
		snprintf(out, PATH_MAX, "%s", name);
	else
		snprintf(out, PATH_MAX, "%s/%s", rel, name);
}

static void check_file(struct verify *v, int dfd, const char *name,
		       const char *rel, const struct stat *st)
{
	uint8_t hdr[SFS_FILE_HEADER_BYTES], id[SFS_FILE_ID_BYTES];
	uint64_t plain;
	ssize_t n;
	int fd;

	if (st->st_size == 0)
		return;
	if ((uint64_t)st->st_size < SFS_FILE_HEADER_BYTES) {
		offend(v, rel, "%lld bytes: too short for a file header",
		       (long long)st->st_size);
		return;
	}
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		io_fail(v, rel, "open", errno);
		return;
	}
	n = sfs_pread_full(fd, hdr, sizeof(hdr), 0);
	close(fd);
	if (n != (ssize_t)sizeof(hdr)) {
		io_fail(v, rel, "read", n < 0 ? (int)-n : EIO);
		return;
	}
	if (sfs_header_parse(hdr, id) < 0) {
		unsigned version = (unsigned)hdr[0] << 8 | hdr[1];

		if (version != SFS_FILE_HEADER_VERSION)
			offend(v, rel,
			       "no file header (version bytes %02x%02x): not "
			       "ciphertext",
			       hdr[0], hdr[1]);
		else
			offend(v, rel, "file header with an all-zero file id");
		return;
	}
	if (sfs_plain_size(&v->layout, (uint64_t)st->st_size, &plain) < 0)
		offend(v, rel, "size %lld is not a ciphertext size for %s",
		       (long long)st->st_size, v->cipher);
}

/* Whether the entry `name` of the target store sfd has the form of a
 * sidecar: a regular file of a sealed target's size. */
static bool sidecar_shaped(int sfd, const char *name)
{
	struct stat st;

	return fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st.st_mode) &&
	       (uint64_t)st.st_size > SFS_SIV_TAG_BYTES &&
	       (uint64_t)st.st_size <= SFS_SYMLINK_SEALED_MAX;
}

static void check_symlink(struct verify *v, int dfd, const char *name,
			  const char *rel)
{
	char target[SFS_BACKING_SYMLINK_MAX + 1];
	uint8_t id[SFS_SYMLINK_ID_BYTES];
	ssize_t n = readlinkat(dfd, name, target, sizeof(target));
	int sfd;

	if (n < 0) {
		io_fail(v, rel, "readlink", errno);
		return;
	}
	if (sfs_symlink_plausible(target, (size_t)n))
		return;
	if (!sfs_symlink_ref_parse(target, (size_t)n, id)) {
		offend(v, rel, "symlink target is not an encrypted target");
		return;
	}
	/* Out of line: its sidecar must be there, with a sealed size. */
	target[n] = '\0';
	sfd = openat(v->root_fd, SFS_SYMLINK_DIR,
		     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0 ||
	    !sidecar_shaped(sfd, target + sizeof(SFS_SYMLINK_REF_PREFIX) - 1))
		offend(v, rel, "symlink target sidecar missing or not sealed");
	if (sfd >= 0)
		close(sfd);
}

/* The target store (root only): sidecars of out-of-line symlink targets,
 * each named by a canonical id. One no symlink refers to (left by a
 * crash) is fine, as long as it is sealed. */
static void check_store(struct verify *v, int dfd, const char *name,
			const char *rel)
{
	char ref[SFS_SYMLINK_REF_LEN + NAME_MAX + 1], child[PATH_MAX];
	uint8_t id[SFS_SYMLINK_ID_BYTES];
	char **names;
	long n;
	int sfd;

	sfd =
	    openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0) {
		if (errno == ENOTDIR || errno == ELOOP)
			offend(v, rel, "target store is not a directory");
		else
			io_fail(v, rel, "open", errno);
		return;
	}
	n = sfs_ctl_read_names(sfd, &names);
	if (n < 0) {
		io_fail(v, rel, "read directory", (int)-n);
		close(sfd);
		return;
	}
	for (long i = 0; i < n; i++) {
		join(child, rel, names[i]);
		v->checked++;
		snprintf(ref, sizeof(ref), "%s%s", SFS_SYMLINK_REF_PREFIX,
			 names[i]);
		if (!sfs_symlink_ref_parse(ref, strlen(ref), id) ||
		    !sidecar_shaped(sfd, names[i]))
			offend(v, child, "not a sealed symlink target");
	}
	sfs_ctl_names_free(names, n);
	close(sfd);
}

static void check_xattrs(struct verify *v, int dfd, const char *name,
			 const char *rel)
{
	char list[XATTR_LIST_MAX], esc[XATTR_NAME_MAX * 4 + 1];
	struct sfs_fdpath p;
	const char *path;
	ssize_t n;
	int fd;

	fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		io_fail(v, rel, "open", errno);
		return;
	}
	path = sfs_fdpath(&p, fd);
	n = listxattr(path, list, sizeof(list));
	if (n < 0) {
		if (errno != ENOTSUP)
			io_fail(v, rel, "listxattr", errno);
		close(fd);
		return;
	}
	for (char *x = list; x < list + n; x += strlen(x) + 1) {
		ssize_t vlen;

		if (strncmp(x, USER_PREFIX, USER_PREFIX_LEN) != 0)
			continue; /* stored unencrypted by design */
		sfs_ctl_escape(esc, sizeof(esc), x);
		if (strcmp(x, SFS_XATTR_SET_NAME) != 0) {
			offend(v, rel,
			       "attribute %s: user attributes are kept only in "
			       "%s",
			       esc, SFS_XATTR_SET_NAME);
			continue;
		}
		vlen = getxattr(path, x, NULL, 0);
		if (vlen < 0)
			io_fail(v, rel, "getxattr", errno);
		else if ((size_t)vlen <= SFS_XATTR_OVERHEAD)
			offend(v, rel,
			       "attribute %s: %zd bytes, too short to be a "
			       "sealed set",
			       esc, vlen);
	}
	close(fd);
}

/* The long-name sidecar `side` (in dfd) of entry `entry`: it must hold a
 * plausible encoded name whose hash is the entry's name. */
static void check_sidecar(struct verify *v, int dfd, const char *side,
			  const char *entry, const char *rel)
{
	char full[SFS_ENCODED_NAME_MAX + 2], b64[64];
	uint8_t hash[32];
	struct stat st;
	ssize_t n;
	int fd;

	if (fstatat(dfd, side, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		offend(v, rel, "long name without its sidecar");
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		offend(v, rel, "long-name sidecar is not a regular file");
		return;
	}
	/* Non-blocking: swapped for a FIFO since the check, it must not
	 * hang. */
	fd = openat(dfd, side, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		io_fail(v, rel, "open sidecar", errno);
		return;
	}
	n = sfs_pread_full(fd, full, sizeof(full) - 1, 0);
	close(fd);
	if (n < 0) {
		io_fail(v, rel, "read sidecar", (int)-n);
		return;
	}
	full[n] = '\0';
	if (strlen(full) != (size_t)n ||
	    !sfs_name_plausible(full, (size_t)n, true)) {
		offend(v, rel, "long-name sidecar holds no encrypted name");
		return;
	}
	if (!entry)
		return;
	sfs_hash256(hash, full, (size_t)n);
	sfs_b64_encode(b64, hash, sizeof(hash));
	if (strcmp(entry + LONG_PREFIX_LEN, b64) != 0)
		offend(v, rel, "long-name sidecar does not match its entry");
}

/* The base entry name of a long-name sidecar, or false. */
static bool sidecar_base(const char *name, char *base)
{
	size_t len = strlen(name);

	if (len <= LONG_SUFFIX_LEN ||
	    strcmp(name + len - LONG_SUFFIX_LEN, SFS_LONGNAME_SUFFIX) != 0)
		return false;
	memcpy(base, name, len - LONG_SUFFIX_LEN);
	base[len - LONG_SUFFIX_LEN] = '\0';
	return sfs_name_is_long(base);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void sfs_ctl_names_free(char **names, long n)
{
	while (n > 0)
		free(names[--n]);
	free(names);
}

long sfs_ctl_read_names(int fd, char ***names)
{
	char **v = NULL, **nv;
	struct dirent *de;
	long n = 0, rc;
	int dup_fd = dup(fd);
	DIR *dp;

	*names = NULL;
	if (dup_fd < 0)
		return -errno;
	dp = fdopendir(dup_fd);
	if (!dp) {
		rc = -errno;
		close(dup_fd);
		return rc;
	}
	rewinddir(dp);
	for (;;) {
		errno = 0;
		de = readdir(dp);
		if (!de) {
			rc = errno ? -errno : 0;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		nv = realloc(v, (size_t)(n + 1) * sizeof(*v));
		if (!nv || !(nv[n] = strdup(de->d_name))) {
			v = nv ? nv : v;
			rc = -ENOMEM;
			break;
		}
		v = nv;
		n++;
	}
	closedir(dp);
	if (rc < 0) {
		sfs_ctl_names_free(v, n);
		return rc;
	}
	if (n > 1)
		qsort(v, (size_t)n, sizeof(*v), cmp_names);
	*names = v;
	return n;
}

static void walk(struct verify *v, int dfd, const char *rel, int depth);

static void check_entry(struct verify *v, int dfd, const char *name,
			const char *rel, int depth)
{
	struct stat st;
	int fd;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		io_fail(v, rel, "stat", errno);
		return;
	}
	v->checked++;
	if (st.st_dev != v->dev) {
		offend(v, rel,
		       "another filesystem is mounted here (not "
		       "checked)");
		return;
	}
	if (S_ISREG(st.st_mode)) {
		check_file(v, dfd, name, rel, &st);
	} else if (S_ISLNK(st.st_mode)) {
		check_symlink(v, dfd, name, rel);
		return;
	} else if (S_ISDIR(st.st_mode)) {
		fd = openat(dfd, name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			io_fail(v, rel, "open", errno);
			return;
		}
		if (depth >= MAX_DEPTH)
			offend(v, rel, "nested deeper than %d (not checked)",
			       MAX_DEPTH);
		else
			walk(v, fd, rel, depth + 1);
		close(fd);
	}
	if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))
		check_xattrs(v, dfd, name, rel);
}

static void walk(struct verify *v, int dfd, const char *rel, int depth)
{
	char child[PATH_MAX], base[NAME_MAX + 1], side[NAME_MAX + 1];
	bool in_root = depth == 0, has_iv = false;
	struct stat st;
	char **names;
	long n;

	n = sfs_ctl_read_names(dfd, &names);
	if (n < 0) {
		io_fail(v, rel, "read directory", (int)-n);
		return;
	}
	for (long i = 0; i < n; i++) {
		const char *name = names[i];

		if (in_root && strcmp(name, SFS_VOLUME_DIR) == 0)
			continue; /* scratchfs's own metadata */
		join(child, rel, name);
		if (in_root && strcmp(name, SFS_SYMLINK_DIR) == 0) {
			check_store(v, dfd, name, child);
			continue;
		}
		if (strcmp(name, SFS_DIRIV_NAME) == 0) {
			has_iv = true;
			if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				io_fail(v, child, "stat", errno);
			else if (!S_ISREG(st.st_mode))
				offend(v, child,
				       "directory IV is not a regular file");
			else if (st.st_size != SFS_DIRIV_BYTES)
				offend(v, child,
				       "directory IV has %lld bytes, not %u",
				       (long long)st.st_size, SFS_DIRIV_BYTES);
			continue;
		}
		if (sfs_name_is_long(name)) {
			sfs_name_sidecar(name, side);
			check_sidecar(v, dfd, side, name, child);
		} else if (sidecar_base(name, base)) {
			/* Checked with its entry; an orphan (left by a crash)
			 * must still hold no plaintext. */
			if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
				check_sidecar(v, dfd, name, NULL, child);
			continue;
		} else if (strncmp(name, SFS_RESERVED_PREFIX,
				   sizeof(SFS_RESERVED_PREFIX) - 1) == 0) {
			/* Whatever it is, it is not ours: not checked
			 * further. */
			offend(v, child,
			       "reserved name that scratchfs does not write");
			continue;
		} else if (!sfs_name_plausible(name, strlen(name), false)) {
			offend(v, child, "name is not an encrypted name");
		}
		check_entry(v, dfd, name, child, depth);
	}
	/* A root that never got its IV (first mount interrupted) is fine as
	 * long as it holds nothing else. */
	if (!has_iv && !(in_root && n <= 1))
		offend(v, rel, "directory IV %s missing", SFS_DIRIV_NAME);
	sfs_ctl_names_free(names, n);
}

static void verify_usage(FILE *f)
{
	fprintf(f, "usage: scratchfs-ctl verify [--json] BACKING\n");
}

/* Opens BACKING and reads its header; 0, or prints why not and returns 2. */
/* verify reads the backing directory, never the mount: a mount point
 * given instead (compared as written, resolved without touching the mount,
 * whose daemon may hang) is named with its backing directory. */
static bool is_mount_point(const char *path, const char *esc)
{
	char full[PATH_MAX], besc[PATH_MAX * 4];
	struct sfs_ctl_mount *m;
	long n;
	bool found = false;

	if (sfs_realpath_by_parent(path, full) != 0)
		return false;
	n = sfs_ctl_mounts(SFS_MOUNTINFO, &m);
	for (long i = 0; i < n && !found; i++) {
		if (strcmp(m[i].target, full) != 0)
			continue;
		found = true;
		sfs_ctl_escape(besc, sizeof(besc), m[i].source);
		fprintf(stderr,
			"scratchfs-ctl: %s is the mount point of a scratchfs "
			"volume; verify reads its backing directory: "
			"scratchfs-ctl verify %s\n",
			esc, besc);
	}
	if (n > 0)
		sfs_ctl_mounts_free(m, n);
	return found;
}

static int open_volume(const char *backing, int *fd,
		       struct sfs_volume_header *h)
{
	char err[512], esc[PATH_MAX * 4];
	int rc;

	sfs_ctl_escape(esc, sizeof(esc), backing);
	if (is_mount_point(backing, esc))
		return 2;
	*fd = open(backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0) {
		fprintf(stderr, "scratchfs-ctl: %s: %s\n", esc,
			strerror(errno));
		return 2;
	}
	rc = sfs_volume_read(*fd, h, err, sizeof(err));
	if (rc == -ENOENT)
		fprintf(stderr,
			"scratchfs-ctl: %s is not a scratchfs volume (no "
			"%s/%s)\n",
			esc, SFS_VOLUME_DIR, SFS_VOLUME_FILE);
	else if (rc < 0)
		fprintf(stderr, "scratchfs-ctl: %s: %s\n", esc, err);
	if (rc < 0) {
		close(*fd);
		*fd = -1;
		return 2;
	}
	return 0;
}

int sfs_ctl_verify(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct verify v = {.root_fd = -1};
	struct sfs_volume_header h;
	char esc[PATH_MAX * 4];
	struct stat st;
	json_t *doc;
	char *text;
	int c, ret;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			v.json = true;
			break;
		case 'h':
			verify_usage(stdout);
			return 0;
		default:
			verify_usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 1) {
		verify_usage(stderr);
		return 2;
	}
	sfs_ctl_escape(esc, sizeof(esc), argv[optind]);
	ret = open_volume(argv[optind], &v.root_fd, &h);
	if (ret)
		return ret;
	if (h.mode != SFS_MODE_ENCRYPTED) {
		fprintf(stderr,
			"scratchfs-ctl: %s is a plain (hbi=0) volume: it "
			"stores names and contents in plaintext by design, so "
			"verify does not apply\n",
			esc);
		close(v.root_fd);
		return 2;
	}
	if (fstat(v.root_fd, &st) < 0) {
		fprintf(stderr, "scratchfs-ctl: %s: %s\n", esc,
			strerror(errno));
		close(v.root_fd);
		return 2;
	}
	v.dev = st.st_dev;
	v.cipher = sfs_aead_name(h.aead);
	sfs_layout_init(&v.layout,
			sfs_aead_nonce_bytes(h.aead) + SFS_TAG_BYTES);
	if (v.json && !(v.offenders = json_array())) {
		fprintf(stderr, "scratchfs-ctl: out of memory\n");
		close(v.root_fd);
		return 2;
	}
	walk(&v, v.root_fd, ".", 0);
	check_xattrs(&v, v.root_fd, ".", ".");
	close(v.root_fd);
	if (v.json) {
		doc = json_pack("{s:o,s:s,s:I,s:I,s:b,s:O}", "backing",
				sfs_ctl_json_string(argv[optind]), "cipher",
				v.cipher, "checked", (json_int_t)v.checked,
				"problems", (json_int_t)v.found, "clean",
				v.found == 0 && !v.io_error, "offenders",
				v.offenders);
		text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
		if (text)
			printf("%s\n", text);
		else
			v.io_error = true;
		free(text);
		json_decref(doc);
		json_decref(v.offenders);
	} else if (v.found == 0 && !v.io_error) {
		printf("%s: clean (%lu entries checked)\n", esc, v.checked);
	} else {
		printf("%s: %lu problem%s in %lu entries checked\n", esc,
		       v.found, v.found == 1 ? "" : "s", v.checked);
	}
	if (v.io_error)
		return 2;
	return v.found ? 1 : 0;
}
