/* ctl_fsck.c - scratchfs-ctl fsck: authenticates every block, name, symlink
 * target (and the target store sidecar of one kept out of line) and user.*
 * attribute of an unmounted volume whose key persists
 * (key file, keyring, command), reports the damaged objects by backing
 * inode and backing path, and with --quarantine moves damaged files to
 * <backing>/.scratchfs/quarantine/ino-<inode>.
 *
 * Read-only unless --quarantine. Never creates a key, a volume or a
 * directory IV. Plaintext (names, block contents, targets, xattrs) only in
 * buffers wiped after use, never in the output: an hbi volume's
 * diagnostics carry inode numbers and backing names only.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <search.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "sfs_blockio.h"
#include "sfs_config.h"
#include "sfs_content.h"
#include "sfs_crypto.h"
#include "sfs_ctl.h"
#include "sfs_keys.h"
#include "sfs_meta.h"
#include "sfs_mountinfo.h"
#include "sfs_names.h"
#include "sfs_sys.h"
#include "sfs_volume.h"

/* Blocks decrypted per read. */
#define CHUNK_BLOCKS 256U
#define PROGRESS_MS 200L
#define MAX_DEPTH 1024
#define USER_PREFIX "user."
#define ENCODED_MAX 363U

#define MAX_PROBLEMS 8

/* What is wrong with one backing object. */
struct damage {
	char problems[MAX_PROBLEMS][192];
	int nproblems;
	uint64_t *blocks; /* bad block numbers, ascending */
	size_t nblocks, cap;
	bool oom;
};

struct fsck {
	int root_fd;
	dev_t dev;
	const char *backing;
	struct sfs_crypto *c;
	struct sfs_layout l;
	bool json, quarantine, progress;
	json_t *damaged;
	uint8_t *cbuf, *pbuf; /* cipher / plaintext chunk buffers */
	uint8_t *sbuf;	      /* the chunk's slots */
	uint8_t *xval, *xout; /* an attribute value, sealed / opened */
	size_t chunk;	      /* bytes in cbuf */
	void *seen;	      /* tsearch tree of hard-linked inodes */
	int qfd;	      /* quarantine directory, or -1 */
	unsigned long files, dirs, symlinks, ndamaged, nquarantined;
	uint64_t blocks, bytes;
	long long last_progress;
	bool error;
};

static void progress(struct fsck *f, bool force)
{
	long long t;

	if (!f->progress)
		return;
	t = sfs_now_ms();
	if (!force && t - f->last_progress < PROGRESS_MS)
		return;
	f->last_progress = t;
	fprintf(stderr, "\rfsck: %lu files, %llu MiB, %lu damaged ", f->files,
		(unsigned long long)(f->bytes >> 20), f->ndamaged);
}

static void progress_clear(struct fsck *f)
{
	if (f->progress)
		fprintf(stderr, "\r\033[K");
}

static __attribute__((format(printf, 2, 3))) void problem(struct damage *d,
							  const char *fmt, ...)
{
	va_list ap;

	if (d->nproblems == MAX_PROBLEMS)
		return;
	va_start(ap, fmt);
	vsnprintf(d->problems[d->nproblems++], sizeof(d->problems[0]), fmt, ap);
	va_end(ap);
}

static void bad_block(struct damage *d, uint64_t block)
{
	uint64_t *nb;

	if (d->nblocks && d->blocks[d->nblocks - 1] == block)
		return;
	if (d->nblocks == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 16;

		nb = realloc(d->blocks, cap * sizeof(*nb));
		if (!nb) {
			d->oom = true;
			return;
		}
		d->blocks = nb;
		d->cap = cap;
	}
	d->blocks[d->nblocks++] = block;
}

static bool damaged(const struct damage *d)
{
	return d->nproblems || d->nblocks;
}

static void io_fail(struct fsck *f, const char *brel, const char *what, int err)
{
	char esc[PATH_MAX * 4];

	progress_clear(f);
	sfs_ctl_escape(esc, sizeof(esc), brel);
	fprintf(stderr, "scratchfs-ctl: %s/%s: %s: %s\n", f->backing, esc, what,
		strerror(err));
	f->error = true;
}

/*
 * Contents.
 */

/* Authenticates the blocks from first held in f->cbuf (len bytes) with
 * their slots in f->sbuf; bad ones are added to d. */
static void check_chunk(struct fsck *f, const uint8_t id[SFS_FILE_ID_BYTES],
			uint64_t first, size_t len, struct damage *d)
{
	const size_t sb = f->l.slot_bytes;
	size_t off;
	ssize_t r;

	r = sfs_content_decrypt(f->c, &f->l, id, first, f->cbuf, len, f->sbuf,
				f->pbuf, NULL);
	if (r < 0) {
		/* Find every bad block, not just the first. */
		for (off = 0; off < len; off += SFS_BLOCK_SIZE) {
			size_t k = off / SFS_BLOCK_SIZE;
			size_t n = len - off < SFS_BLOCK_SIZE ? len - off
							      : SFS_BLOCK_SIZE;

			if (sfs_content_decrypt(
				f->c, &f->l, id, first + k, f->cbuf + off, n,
				f->sbuf + k * sb, f->pbuf, NULL) < 0)
				bad_block(d, first + k);
		}
	}
	sfs_wipe(f->pbuf, f->chunk);
}

static void check_file(struct fsck *f, int dfd, const char *name,
		       const char *brel, const struct stat *st,
		       struct damage *d)
{
	uint8_t hdr[SFS_FILE_HEADER_BYTES], id[SFS_FILE_ID_BYTES];
	uint64_t size = (uint64_t)st->st_size, plain, block;
	ssize_t n;
	int fd;

	f->files++;
	if (size == 0)
		return;
	if (size < SFS_FILE_HEADER_BYTES) {
		problem(d, "%llu bytes: too short for a file header",
			(unsigned long long)size);
		return;
	}
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		io_fail(f, brel, "open", errno);
		return;
	}
	n = sfs_pread_full(fd, hdr, sizeof(hdr), 0);
	if (n != (ssize_t)sizeof(hdr)) {
		io_fail(f, brel, "read", n < 0 ? (int)-n : EIO);
		goto out;
	}
	if (sfs_header_parse(hdr, id) < 0) {
		problem(d, "bad file header: no block can be read");
		goto out;
	}
	if (sfs_plain_size(&f->l, size, &plain) < 0)
		problem(d,
			"size %llu is impossible: ends inside block metadata",
			(unsigned long long)size);
	for (block = 0; block * SFS_BLOCK_SIZE < plain;) {
		uint64_t left = plain - block * SFS_BLOCK_SIZE;
		size_t len = left < f->chunk ? (size_t)left : f->chunk;
		size_t nb;

		n = sfs_blocks_read(&f->l, fd, -1, block, f->cbuf, len,
				    f->sbuf);
		if (n < 0) {
			io_fail(f, brel, "read", (int)-n);
			goto out;
		}
		if ((size_t)n < len)
			len = (size_t)n; /* shrank meanwhile */
		if (len == 0)
			break;
		check_chunk(f, id, block, len, d);
		nb = (len + SFS_BLOCK_SIZE - 1) / SFS_BLOCK_SIZE;
		block += nb;
		f->blocks += nb;
		f->bytes += len;
		progress(f, false);
	}
out:
	close(fd);
}

/* Opens the out-of-line target id (its sidecar in the target store) into
 * target; a problem recorded in d when it cannot. */
static void open_sidecar(struct fsck *f, const uint8_t *id, char *target,
			 struct damage *d)
{
	uint8_t sealed[SFS_SYMLINK_SEALED_MAX + 1];
	char ref[SFS_SYMLINK_REF_LEN + 1];
	int sfd, fd = -1;
	ssize_t n;

	sfs_symlink_ref(id, ref);
	sfd = openat(f->root_fd, SFS_SYMLINK_DIR,
		     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd >= 0) {
		fd = openat(sfd, ref + sizeof(SFS_SYMLINK_REF_PREFIX) - 1,
			    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		close(sfd);
	}
	if (fd < 0) {
		problem(d, "symlink target sidecar missing");
		return;
	}
	n = sfs_pread_full(fd, sealed, sizeof(sealed), 0);
	close(fd);
	if (n < 0 || sfs_symlink_open(f->c, id, sealed, (size_t)n, target) < 0)
		problem(d, "symlink target does not authenticate");
}

static void check_symlink(struct fsck *f, int dfd, const char *name,
			  const char *brel, struct damage *d)
{
	char enc[SFS_BACKING_SYMLINK_MAX + 1], target[SFS_SYMLINK_MAX + 1];
	uint8_t id[SFS_SYMLINK_ID_BYTES];
	ssize_t n;

	f->symlinks++;
	n = readlinkat(dfd, name, enc, sizeof(enc));
	if (n < 0) {
		io_fail(f, brel, "readlink", errno);
		return;
	}
	if ((size_t)n < sizeof(enc) &&
	    sfs_symlink_ref_parse(enc, (size_t)n, id))
		open_sidecar(f, id, target, d);
	else if ((size_t)n >= sizeof(enc) ||
		 sfs_symlink_decrypt(f->c, enc, (size_t)n, target) < 0)
		problem(d, "symlink target does not authenticate");
	sfs_wipe(target, sizeof(target));
}

/* An encrypted volume keeps every user.* attribute of an inode in the one
 * sealed set SFS_XATTR_SET_NAME: it must authenticate, and no other
 * user.* attribute may exist. */
static void check_xattrs(struct fsck *f, int dfd, const char *name,
			 const char *brel, struct damage *d)
{
	char list[XATTR_LIST_MAX], esc[XATTR_NAME_MAX * 4 + 1];
	struct sfs_fdpath p;
	const char *path;
	ssize_t n, vlen;
	int fd;

	fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		io_fail(f, brel, "open", errno);
		return;
	}
	path = sfs_fdpath(&p, fd);
	n = listxattr(path, list, sizeof(list));
	if (n < 0) {
		if (errno != ENOTSUP)
			io_fail(f, brel, "listxattr", errno);
		goto out;
	}
	for (char *x = list; x < list + n; x += strlen(x) + 1) {
		if (strncmp(x, USER_PREFIX, strlen(USER_PREFIX)) != 0)
			continue;
		sfs_ctl_escape(esc, sizeof(esc), x);
		if (strcmp(x, SFS_XATTR_SET_NAME) != 0) {
			problem(d, "stray attribute %s", esc);
			continue;
		}
		vlen = getxattr(path, x, f->xval, XATTR_SIZE_MAX);
		if (vlen < 0) {
			io_fail(f, brel, "getxattr", errno);
			continue;
		}
		if (sfs_xattr_set_open(f->c, f->xval, (size_t)vlen, f->xout) <
		    0)
			problem(d, "user attributes do not authenticate");
		sfs_wipe(f->xout, XATTR_SIZE_MAX);
	}
out:
	close(fd);
}

/*
 * Reports and quarantine.
 */

static void qname(char *out, size_t cap, uint64_t ino, int attempt)
{
	if (attempt == 0)
		snprintf(out, cap, "ino-%llu", (unsigned long long)ino);
	else
		snprintf(out, cap, "ino-%llu.%d", (unsigned long long)ino,
			 attempt);
}

/* Moves entry name (and a long name's sidecar) of dfd into the quarantine
 * directory; its new name (relative to the backing root) goes to dst. */
static int quarantine(struct fsck *f, int dfd, const char *name, uint64_t ino,
		      char *dst, size_t cap)
{
	char q[64], side[NAME_MAX + 1], qside[80];
	int attempt, rc = 0;

	if (f->qfd < 0) {
		int vfd =
		    openat(f->root_fd, SFS_VOLUME_DIR,
			   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (vfd < 0)
			return -errno;
		if (mkdirat(vfd, SFS_QUARANTINE_DIR, 0700) < 0 &&
		    errno != EEXIST)
			rc = -errno;
		if (rc == 0) {
			f->qfd = openat(vfd, SFS_QUARANTINE_DIR,
					O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					    O_CLOEXEC);
			if (f->qfd < 0)
				rc = -errno;
		}
		if (rc == 0 && fsync(vfd) < 0)
			rc = -errno;
		close(vfd);
		if (rc)
			return rc;
	}
	for (attempt = 0;; attempt++) {
		qname(q, sizeof(q), ino, attempt);
		if (renameat2(dfd, name, f->qfd, q, RENAME_NOREPLACE) == 0)
			break;
		if (errno != EEXIST || attempt == 1000)
			return -errno;
	}
	if (sfs_name_is_long(name)) {
		sfs_name_sidecar(name, side);
		snprintf(qside, sizeof(qside), "%s%s", q, SFS_LONGNAME_SUFFIX);
		/* Best effort: an orphaned sidecar is harmless. */
		renameat2(dfd, side, f->qfd, qside, RENAME_NOREPLACE);
	}
	if (fsync(f->qfd) < 0 || fsync(dfd) < 0)
		rc = -errno;
	snprintf(dst, cap, "%s/%s/%s", SFS_VOLUME_DIR, SFS_QUARANTINE_DIR, q);
	return rc;
}

/* Prints "1-3, 7" for the sorted block list. */
static void print_blocks(const struct damage *d)
{
	for (size_t i = 0; i < d->nblocks;) {
		size_t j = i;

		while (j + 1 < d->nblocks &&
		       d->blocks[j + 1] == d->blocks[j] + 1)
			j++;
		printf("%s%llu", i ? ", " : "",
		       (unsigned long long)d->blocks[i]);
		if (j > i)
			printf("-%llu", (unsigned long long)d->blocks[j]);
		i = j + 1;
	}
}

static void report(struct fsck *f, const struct stat *st, const char *brel,
		   const struct damage *d, const char *moved)
{
	char be[PATH_MAX * 4];
	json_t *o, *blocks, *probs;

	f->ndamaged++;
	if (f->json) {
		probs = json_array();
		for (int i = 0; probs && i < d->nproblems; i++)
			json_array_append_new(probs,
					      json_string(d->problems[i]));
		blocks = json_array();
		for (size_t i = 0; blocks && i < d->nblocks; i++)
			json_array_append_new(
			    blocks, json_integer((json_int_t)d->blocks[i]));
		o = json_pack(
		    "{s:I,s:o,s:s,s:o,s:o,s:o}", "ino", (json_int_t)st->st_ino,
		    "backing_path", sfs_ctl_json_string(brel), "type",
		    S_ISDIR(st->st_mode)   ? "directory"
		    : S_ISLNK(st->st_mode) ? "symlink"
		    : S_ISREG(st->st_mode) ? "file"
					   : "other",
		    "problems", probs ? probs : json_null(), "bad_blocks",
		    blocks ? blocks : json_null(), "quarantined",
		    moved ? sfs_ctl_json_string(moved) : json_null());
		if (!o || json_array_append_new(f->damaged, o))
			f->error = true;
		return;
	}
	progress_clear(f);
	sfs_ctl_escape(be, sizeof(be), brel);
	printf("ino %llu: ", (unsigned long long)st->st_ino);
	if (d->nblocks) {
		printf("block%s ", d->nblocks > 1 ? "s" : "");
		print_blocks(d);
		printf(" do%s not authenticate", d->nblocks > 1 ? "" : "es");
	}
	for (int i = 0; i < d->nproblems; i++)
		printf("%s%s", i || d->nblocks ? "; " : "", d->problems[i]);
	printf("\n    backing: %s\n", be);
	if (moved)
		printf("    moved to %s\n", moved);
}

/*
 * The walk.
 */

static int cmp_ino(const void *a, const void *b)
{
	ino_t x = *(const ino_t *)a, y = *(const ino_t *)b;

	return x < y ? -1 : x > y;
}

/* True when a hard-linked inode was already checked under another name. */
static bool seen_before(struct fsck *f, const struct stat *st)
{
	ino_t *key, **found;

	if (S_ISDIR(st->st_mode) || st->st_nlink < 2)
		return false;
	key = malloc(sizeof(*key));
	if (!key)
		return false;
	*key = st->st_ino;
	found = tsearch(key, &f->seen, cmp_ino);
	if (found && *found != key) {
		free(key);
		return true;
	}
	if (!found)
		free(key);
	return false;
}

/* The encoded name of backing entry name, from its sidecar for long names.
 * 0, or a problem recorded in d. */
static int encoded_name(int dfd, const char *name, char *full, size_t cap,
			struct damage *d)
{
	char side[NAME_MAX + 1], b64[64];
	uint8_t hash[32];
	ssize_t n;
	int fd;

	if (!sfs_name_is_long(name)) {
		snprintf(full, cap, "%s", name);
		return 0;
	}
	sfs_name_sidecar(name, side);
	fd = openat(dfd, side, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		problem(d, "long-name sidecar missing");
		return -EIO;
	}
	n = sfs_pread_full(fd, full, cap - 1, 0);
	close(fd);
	if (n <= 0 || (size_t)n >= cap - 1) {
		problem(d, "long-name sidecar unreadable");
		return -EIO;
	}
	full[n] = '\0';
	sfs_hash256(hash, full, (size_t)n);
	sfs_b64_encode(b64, hash, sizeof(hash));
	if (strcmp(name + strlen(SFS_LONGNAME_PREFIX), b64) != 0) {
		problem(d, "long-name sidecar does not match its entry");
		return -EIO;
	}
	return 0;
}

static void walk(struct fsck *f, int dfd, const char *brel, int depth,
		 struct damage *dd);

static void join(char *out, const char *dir, const char *name)
{
	if (strcmp(dir, ".") == 0)
		snprintf(out, PATH_MAX, "%s", name);
	else
		snprintf(out, PATH_MAX, "%s/%s", dir, name);
}

static void check_entry(struct fsck *f, int dfd, const char *name,
			const char *brel, const uint8_t *iv, int depth)
{
	char full[ENCODED_MAX + 2], plain[NAME_MAX + 1];
	char moved_to[PATH_MAX];
	const char *moved = NULL;
	struct damage d = {.blocks = NULL};
	struct stat st;
	int fd, rc;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		io_fail(f, brel, "stat", errno);
		return;
	}
	if (st.st_dev != f->dev)
		return; /* another filesystem: not part of the volume */
	/* The name must authenticate; the plaintext is never shown. */
	rc = encoded_name(dfd, name, full, sizeof(full), &d);
	if (rc == 0 && iv && sfs_name_decrypt(f->c, iv, full, plain) < 0)
		problem(&d, "name does not authenticate");
	sfs_wipe(plain, sizeof(plain));
	if (S_ISDIR(st.st_mode)) {
		fd = openat(dfd, name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			io_fail(f, brel, "open", errno);
			return;
		}
		if (depth >= MAX_DEPTH)
			io_fail(f, brel, "walk", ELOOP);
		else
			walk(f, fd, brel, depth + 1, &d);
		close(fd);
		check_xattrs(f, dfd, name, brel, &d);
	} else if (!seen_before(f, &st)) {
		/* Another hard link's name is still checked above; its
		 * inode only once. */
		if (S_ISREG(st.st_mode)) {
			check_file(f, dfd, name, brel, &st, &d);
			check_xattrs(f, dfd, name, brel, &d);
		} else if (S_ISLNK(st.st_mode)) {
			check_symlink(f, dfd, name, brel, &d);
		}
	}
	if (d.oom)
		io_fail(f, brel, "bad block list", ENOMEM);
	if (damaged(&d)) {
		if (f->quarantine && !S_ISDIR(st.st_mode)) {
			rc = quarantine(f, dfd, name, st.st_ino, moved_to,
					sizeof(moved_to));
			if (rc < 0)
				io_fail(f, brel, "quarantine", -rc);
			else {
				moved = moved_to;
				f->nquarantined++;
			}
		}
		report(f, &st, brel, &d, moved);
	}
	free(d.blocks);
}

/* Walks directory dfd; problems of the directory itself (its IV) go to dd,
 * which the caller reports with the directory's entry. */
static void walk(struct fsck *f, int dfd, const char *brel, int depth,
		 struct damage *dd)
{
	char child[PATH_MAX];
	uint8_t iv[SFS_DIRIV_BYTES];
	bool have_iv = false;
	char **names;
	long n;
	int fd;

	f->dirs++;
	/* Non-blocking: a FIFO planted there must not hang the check. */
	fd = openat(dfd, SFS_DIRIV_NAME,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0) {
		have_iv = sfs_pread_full(fd, iv, sizeof(iv), 0) ==
			  (ssize_t)sizeof(iv);
		close(fd);
	}
	n = sfs_ctl_read_names(dfd, &names);
	if (n < 0) {
		io_fail(f, brel, "read directory", (int)-n);
		return;
	}
	for (long i = 0; i < n; i++) {
		const char *name = names[i];

		if (depth == 0 && strcmp(name, SFS_VOLUME_DIR) == 0)
			continue;
		/* Our own files; long-form entries are decoded through
		 * their sidecar. verify reports strays. */
		if (sfs_name_is_reserved(name, false) &&
		    !sfs_name_is_long(name))
			continue;
		if (!have_iv && !dd->nproblems)
			problem(dd, "directory IV missing: no name inside can "
				    "be decrypted");
		join(child, brel, name);
		check_entry(f, dfd, name, child, have_iv ? iv : NULL, depth);
	}
	sfs_ctl_names_free(names, n);
}

/*
 * Setup: refusals, the key.
 */

static bool is_mounted(const char *real, const struct stat *st, char *mnt,
		       size_t cap)
{
	struct sfs_ctl_mount *m;
	long n = sfs_ctl_mounts(SFS_MOUNTINFO, &m);
	bool found = false;

	for (long i = 0; i < n && !found; i++) {
		struct stat s;

		found = strcmp(m[i].source, real) == 0 ||
			(stat(m[i].source, &s) == 0 && s.st_dev == st->st_dev &&
			 s.st_ino == st->st_ino);
		if (found)
			snprintf(mnt, cap, "%s", m[i].target);
	}
	if (n > 0)
		sfs_ctl_mounts_free(m, n);
	return found;
}

static int load_config(const char *conf, char *const *opts, size_t nopts,
		       struct sfs_config *cfg)
{
	char err[512], *copy, *save, *o;
	int rc;

	sfs_config_defaults(cfg);
	if (!conf && access(SFS_DEFAULT_CONFIG, F_OK) == 0)
		conf = SFS_DEFAULT_CONFIG;
	if (conf && sfs_config_load(cfg, conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "scratchfs-ctl: %s\n", err);
		return -1;
	}
	for (size_t i = 0; i < nopts; i++) {
		copy = strdup(opts[i]);
		if (!copy)
			return -1;
		for (o = strtok_r(copy, ",", &save); o;
		     o = strtok_r(NULL, ",", &save)) {
			rc = sfs_config_apply_option(cfg, o, err, sizeof(err));
			if (rc <= 0) {
				fprintf(stderr, "scratchfs-ctl: %s\n",
					rc < 0 ? err : "unknown -o option");
				free(copy);
				return -1;
			}
		}
		free(copy);
	}
	return 0;
}

/* The volume's crypto state from the configured node key; never creates a
 * key. Prints why not and returns NULL. */
static struct sfs_crypto *open_key(const char *esc,
				   const struct sfs_volume_header *h,
				   struct sfs_key_spec *spec)
{
	char err[512], want[2 * SFS_KEY_ID_BYTES + 1],
	    have[2 * SFS_KEY_ID_BYTES + 1];
	uint8_t id[SFS_KEY_ID_BYTES], *nmk = NULL, *vk = NULL;
	struct sfs_crypto *c = NULL;

	/* The header says which provider; the configuration says where its
	 * key is. The default (ephemeral) defers to the header. */
	if (spec->source == SFS_KEY_EPHEMERAL)
		spec->source = h->key_source;
	if (spec->source != h->key_source) {
		fprintf(stderr,
			"scratchfs-ctl: %s uses key source %s, but the "
			"configuration says %s\n",
			esc, sfs_key_source_name(h->key_source),
			sfs_key_source_name(spec->source));
		return NULL;
	}
	spec->no_create = true;
	if (sfs_keys_load_nmk(spec, &nmk, err, sizeof(err)) < 0) {
		fprintf(stderr, "scratchfs-ctl: %s\n", err);
		return NULL;
	}
	sfs_key_id(nmk, id);
	if (memcmp(id, h->key_id, SFS_KEY_ID_BYTES) != 0) {
		sfs_hex(want, h->key_id, SFS_KEY_ID_BYTES);
		sfs_hex(have, id, SFS_KEY_ID_BYTES);
		fprintf(stderr,
			"scratchfs-ctl: the configured node key (id %s) does "
			"not open %s (volume key id %s)\n",
			have, esc, want);
		goto out;
	}
	vk = sfs_secret_alloc(SFS_KEY_BYTES);
	if (!vk) {
		fprintf(stderr, "scratchfs-ctl: out of secret memory\n");
		goto out;
	}
	if (sfs_volume_unwrap_key(h, nmk, vk, err, sizeof(err)) < 0) {
		fprintf(stderr,
			"scratchfs-ctl: %s: the volume key does not "
			"authenticate (header damaged?)\n",
			esc);
		goto out;
	}
	c = sfs_crypto_new(h->aead, vk);
	if (!c)
		fprintf(stderr, "scratchfs-ctl: cannot set up keys\n");
out:
	sfs_secret_free(vk);
	sfs_secret_free(nmk);
	return c;
}

/* Opens and checks BACKING: a volume, encrypted, persisted key, usable
 * cipher, not mounted. 0 or prints why and returns -1. */
static int open_backing(struct fsck *f, const char *arg, char *real,
			struct sfs_volume_header *h)
{
	char err[512], esc[PATH_MAX * 4], mnt[PATH_MAX], mesc[PATH_MAX * 4];
	struct stat st;
	int rc;

	sfs_ctl_escape(esc, sizeof(esc), arg);
	if (!realpath(arg, real) ||
	    (f->root_fd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fstat(f->root_fd, &st) < 0) {
		fprintf(stderr, "scratchfs-ctl: %s: %s\n", esc,
			strerror(errno));
		return -1;
	}
	f->dev = st.st_dev;
	rc = sfs_volume_read(f->root_fd, h, err, sizeof(err));
	if (rc == -ENOENT) {
		fprintf(stderr, "scratchfs-ctl: %s is not a scratchfs volume\n",
			esc);
		return -1;
	}
	if (rc < 0) {
		fprintf(stderr, "scratchfs-ctl: %s: %s\n", esc, err);
		return -1;
	}
	if (h->mode != SFS_MODE_ENCRYPTED) {
		fprintf(stderr,
			"scratchfs-ctl: %s is a plain (hbi=0) volume: nothing "
			"is encrypted, so there is nothing to authenticate\n",
			esc);
		return -1;
	}
	if (h->key_source == SFS_KEY_EPHEMERAL) {
		fprintf(stderr,
			"scratchfs-ctl: %s is an ephemeral volume: its key "
			"died with its mount, so nothing can authenticate it; "
			"wipe it\n",
			esc);
		return -1;
	}
	if (!sfs_aead_available(h->aead)) {
		fprintf(stderr,
			"scratchfs-ctl: %s uses cipher %s, which this CPU "
			"does not support\n",
			esc, sfs_aead_name(h->aead));
		return -1;
	}
	if (is_mounted(real, &st, mnt, sizeof(mnt))) {
		sfs_ctl_escape(mesc, sizeof(mesc), mnt);
		fprintf(stderr,
			"scratchfs-ctl: %s is mounted at %s; unmount it "
			"first (fsck reads the volume at rest)\n",
			esc, mesc);
		return -1;
	}
	return 0;
}

static void fsck_usage(FILE *f)
{
	fprintf(f, "usage: scratchfs-ctl fsck [-c CONF] [-o key=SPEC] [--json] "
		   "[--quarantine] BACKING\n");
}

static void print_summary(struct fsck *f, const char *esc)
{
	json_t *doc;
	char *text;

	if (!f->json) {
		if (f->ndamaged == 0)
			printf("%s: clean (%lu files, %lu directories, %lu "
			       "symlinks, %llu blocks)\n",
			       esc, f->files, f->dirs, f->symlinks,
			       (unsigned long long)f->blocks);
		else
			printf("%s: %lu damaged (%lu quarantined) of %lu "
			       "files, %lu directories, %lu symlinks\n",
			       esc, f->ndamaged, f->nquarantined, f->files,
			       f->dirs, f->symlinks);
		return;
	}
	doc = json_pack(
	    "{s:o,s:{s:I,s:I,s:I,s:I,s:I},s:b,s:O}", "backing",
	    sfs_ctl_json_string(f->backing), "checked", "files",
	    (json_int_t)f->files, "directories", (json_int_t)f->dirs,
	    "symlinks", (json_int_t)f->symlinks, "blocks",
	    (json_int_t)f->blocks, "bytes", (json_int_t)f->bytes, "clean",
	    f->ndamaged == 0 && !f->error, "damaged", f->damaged);
	text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
	if (text)
		printf("%s\n", text);
	else
		f->error = true;
	free(text);
	json_decref(doc);
}

int sfs_ctl_fsck(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"quarantine", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct fsck f = {.root_fd = -1, .qfd = -1};
	char real[PATH_MAX], esc[PATH_MAX * 4], *conf = NULL;
	char *o_opts[16];
	size_t nopts = 0;
	struct sfs_volume_header h;
	struct sfs_config cfg;
	struct damage rootd = {.blocks = NULL};
	struct stat st;
	int c, ret = 2;

	optind = 0;
	while ((c = getopt_long(argc, argv, "c:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			conf = optarg;
			break;
		case 'o':
			if (nopts == sizeof(o_opts) / sizeof(o_opts[0])) {
				fprintf(stderr,
					"scratchfs-ctl: too many -o options\n");
				return 2;
			}
			o_opts[nopts++] = optarg;
			break;
		case 'j':
			f.json = true;
			break;
		case 'q':
			f.quarantine = true;
			break;
		case 'h':
			fsck_usage(stdout);
			return 0;
		default:
			fsck_usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 1) {
		fsck_usage(stderr);
		return 2;
	}
	sfs_ctl_escape(esc, sizeof(esc), argv[optind]);
	if (load_config(conf, o_opts, nopts, &cfg) < 0 ||
	    open_backing(&f, argv[optind], real, &h) < 0)
		goto out;
	f.backing = real;
	f.c = open_key(esc, &h, &cfg.key);
	if (!f.c)
		goto out;
	sfs_layout_init(&f.l, sfs_crypto_overhead(f.c));
	f.chunk = CHUNK_BLOCKS * SFS_BLOCK_SIZE;
	f.cbuf = malloc(f.chunk);
	f.pbuf = malloc(f.chunk);
	f.sbuf = malloc(CHUNK_BLOCKS * f.l.slot_bytes);
	f.xval = malloc(XATTR_SIZE_MAX);
	f.xout = malloc(XATTR_SIZE_MAX);
	f.damaged = json_array();
	if (!f.cbuf || !f.pbuf || !f.sbuf || !f.xval || !f.xout || !f.damaged) {
		fprintf(stderr, "scratchfs-ctl: out of memory\n");
		goto out;
	}
	f.progress = isatty(2);
	if (fstat(f.root_fd, &st) < 0) {
		fprintf(stderr, "scratchfs-ctl: %s: %s\n", esc,
			strerror(errno));
		goto out;
	}
	walk(&f, f.root_fd, ".", 0, &rootd);
	check_xattrs(&f, f.root_fd, ".", ".", &rootd);
	if (damaged(&rootd))
		report(&f, &st, ".", &rootd, NULL);
	progress_clear(&f);
	print_summary(&f, esc);
	ret = f.error ? 2 : f.ndamaged ? 1 : 0;
out:
	if (f.pbuf)
		sfs_wipe(f.pbuf, f.chunk);
	free(f.pbuf);
	free(f.cbuf);
	free(f.sbuf);
	free(f.xval);
	free(f.xout);
	free(rootd.blocks);
	json_decref(f.damaged);
	tdestroy(f.seen, free);
	sfs_crypto_free(f.c);
	if (f.qfd >= 0)
		close(f.qfd);
	if (f.root_fd >= 0)
		close(f.root_fd);
	return ret;
}
