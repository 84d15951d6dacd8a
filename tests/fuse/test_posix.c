/* test_posix.c - POSIX behaviour of a mounted scratchfs vs a plain directory.
 */
#include "mount_util.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "sfs_names.h"
#include "sfs_sys.h"
#include "util.h"

/*
 * Method: each scenario is written once against a base directory and run
 * twice, on the mount and on m->ref (a plain directory on the same disk).
 * Every call's result and errno, and every observed value (sizes, modes,
 * content digests), go into a trace; the two traces must be equal step by
 * step. Values that legitimately differ (inode numbers, st_blocks, dir
 * sizes, "now") are never recorded, or only as a comparison with a bound.
 * Traces live in shared memory so that forked children (other uid, lock
 * owners) can record too.
 */

#define KIB 1024L
#define MIB (1024L * 1024L)
#define MAX_STEPS 8192
#define TEST_TIMEOUT 60

struct step {
	char what[100];
	char ctx[60];
	long long v;
	int err;
};

struct trace {
	const char *base;
	char ctx[60];
	int n;
	bool overflow;
	struct step s[MAX_STEPS];
};

static struct trace *trace_new(const char *base)
{
	struct trace *t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	cr_assert(t != MAP_FAILED, "mmap trace: %s", strerror(errno));
	t->base = base;
	return t;
}

static void trace_free(struct trace *t)
{
	munmap(t, sizeof(*t));
}

/* Append one step. errno is read first: it belongs to the recorded call. */
static long long rec(struct trace *t, const char *what, long long v)
{
	int err = errno;
	struct step *s;

	if (t->n >= MAX_STEPS) {
		t->overflow = true;
		return v;
	}
	s = &t->s[t->n++];
	snprintf(s->what, sizeof(s->what), "%s", what);
	snprintf(s->ctx, sizeof(s->ctx), "%s", t->ctx);
	s->v = v;
	s->err = v < 0 ? err : 0;
	errno = err;
	return v;
}

/* Record the value of a call (and errno when it is negative). */
#define R(expr)                                                                \
	({                                                                     \
		errno = 0;                                                     \
		long long r_v_ = (long long)(expr);                            \
		rec(t, #expr, r_v_);                                           \
	})
/* Record only success (0) or failure (-1 + errno); return the real value,
 * for calls whose value differs legitimately (fds, pointers). */
#define OK(expr)                                                               \
	({                                                                     \
		errno = 0;                                                     \
		long long ok_v_ = (long long)(expr);                           \
		rec(t, #expr, ok_v_ < 0 ? -1 : 0);                             \
		ok_v_;                                                         \
	})
/* Record an observed value under a label. */
#define V(label, val)                                                          \
	({                                                                     \
		errno = 0;                                                     \
		rec(t, label, (long long)(val));                               \
	})
/* Record a value with the errno left by the call just before. */
#define VE(label, val) rec(t, label, (long long)(val))
#define CTX(...) snprintf(t->ctx, sizeof(t->ctx), __VA_ARGS__)
#define P(rel) sfs_join(t->base, rel)

static const char *errname(int e)
{
	const char *s = e ? strerrorname_np(e) : "0";

	return s ? s : "E?";
}

/* The traces must be equal; print every difference (up to 25), then fail. */
static void trace_compare(const struct trace *a, const struct trace *b)
{
	int i, n = a->n < b->n ? a->n : b->n, bad = 0;
	char first[512] = "";

	cr_assert(!a->overflow && !b->overflow, "trace overflow");
	for (i = 0; i < n; i++) {
		const struct step *x = &a->s[i], *y = &b->s[i];
		char line[512];

		if (strcmp(x->what, y->what)) {
			snprintf(line, sizeof(line),
				 "step %d: traces diverge: mount did `%s`, "
				 "ref did `%s`",
				 i, x->what, y->what);
			cr_log_error("%s", line);
			if (!bad++)
				snprintf(first, sizeof(first), "%s", line);
			break;
		}
		if (x->v == y->v && x->err == y->err)
			continue;
		snprintf(line, sizeof(line),
			 "step %d [%s] `%s`: mount %lld (%s), ref %lld (%s)", i,
			 x->ctx, x->what, x->v, errname(x->err), y->v,
			 errname(y->err));
		if (bad < 25)
			cr_log_error("%s", line);
		if (!bad++)
			snprintf(first, sizeof(first), "%s", line);
	}
	if (!bad && a->n != b->n)
		snprintf(first, sizeof(first),
			 "trace lengths: mount %d, ref %d", a->n, b->n);
	cr_assert(!bad && a->n == b->n,
		  "%d difference(s) mount vs ref; first: %s", bad, first);
}

/* SFS_TEST_TRACE=1 prints the reference trace (to review the scenarios). */
static void trace_dump(const struct trace *t)
{
	int i;

	if (!getenv("SFS_TEST_TRACE"))
		return;
	for (i = 0; i < t->n; i++)
		fprintf(stderr, "%4d [%s] %s = %lld %s\n", i, t->s[i].ctx,
			t->s[i].what, t->s[i].v,
			t->s[i].err ? errname(t->s[i].err) : "");
}

/* Run @sc on the reference and on the mount, compare the traces. */
static void run_both(struct sfs_mount *m, void (*sc)(struct trace *))
{
	struct trace *tm = trace_new(m->mnt), *tr = trace_new(m->ref);

	umask(022);
	sc(tr);
	umask(022);
	sc(tm);
	umask(022);
	trace_dump(tr);
	trace_compare(tm, tr);
	cr_assert(tr->n > 0, "empty trace");
	trace_free(tm);
	trace_free(tr);
}

/* ---- helpers ------------------------------------------------------------ */

static uint64_t fnv(uint64_t h, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len--) {
		h ^= *p++;
		h *= 1099511628211ULL;
	}
	return h;
}

#define FNV0 14695981039346656037ULL

static void *xmalloc(size_t len)
{
	void *p = calloc(1, len ? len : 1);

	cr_assert(p, "out of memory");
	return p;
}

/* Offset+1 of the first byte where @a and @b differ in @len, 0 if none. */
static long long first_diff(const void *a, const void *b, size_t len)
{
	const unsigned char *x = a, *y = b;
	size_t i;

	for (i = 0; i < len; i++)
		if (x[i] != y[i])
			return (long long)i + 1;
	return 0;
}

static bool all_zero(const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len--)
		if (*p++)
			return false;
	return true;
}

/*
 * Record size and content of @path (read() through a fresh fd): its length,
 * and either the first difference against @model or, without a model, a
 * digest.
 */
static void rec_content(struct trace *t, const char *what, const char *path,
			const void *model, size_t mlen)
{
	size_t len = 0;
	char *buf = sfs_read_file(path, &len);
	char label[100];

	/* Always two steps, so that traces stay aligned after a failure. */
	snprintf(label, sizeof(label), "read %s", what);
	V(label, buf ? (long long)len : -1);
	snprintf(label, sizeof(label), "content %s", what);
	if (!buf)
		V(label, -3);
	else if (model)
		V(label, len == mlen ? first_diff(buf, model, len) : -2);
	else
		V(label, (long long)(fnv(FNV0, buf, len) >> 1));
	free(buf);
}

/* Same through an open fd, with pread from 0. */
static void rec_fd_content(struct trace *t, const char *what, int fd,
			   const void *model, size_t mlen)
{
	char *buf = xmalloc(mlen + 4096);
	char label[100];
	ssize_t n;

	snprintf(label, sizeof(label), "fd read %s", what);
	n = sfs_pread_full(fd, buf, mlen + 4096, 0);
	V(label, n);
	snprintf(label, sizeof(label), "fd content %s", what);
	V(label, n < 0		     ? -3
		 : (size_t)n == mlen ? first_diff(buf, model, mlen)
				     : -2);
	free(buf);
}

/* Record stat fields that must agree between a mount and a plain dir. */
static void rec_stat(struct trace *t, const char *what, const char *path,
		     bool nofollow)
{
	struct stat st;
	char label[100];
	int rc;

	memset(&st, 0, sizeof(st));
	errno = 0;
	rc = nofollow ? lstat(path, &st) : stat(path, &st);
	snprintf(label, sizeof(label), "%sstat %s", nofollow ? "l" : "", what);
	V(label, rc);
	/* A failed stat records zeros: the step count stays the same. */
	snprintf(label, sizeof(label), "mode %s", what);
	V(label, st.st_mode);
	snprintf(label, sizeof(label), "nlink %s", what);
	V(label, st.st_nlink);
	snprintf(label, sizeof(label), "uid %s", what);
	V(label, st.st_uid);
	snprintf(label, sizeof(label), "gid %s", what);
	V(label, st.st_gid);
	/* Directory sizes are the file system's business. */
	snprintf(label, sizeof(label), "size %s", what);
	V(label, S_ISDIR(st.st_mode) ? 0 : st.st_size);
	snprintf(label, sizeof(label), "rdev %s", what);
	V(label, S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)
		     ? (long long)st.st_rdev
		     : 0);
}

/* Names no scratchfs listing may ever show. */
static bool reserved_name(const char *name)
{
	return !strcmp(name, ".scratchfs") || !strncmp(name, ".sfs.", 5) ||
	       !strncmp(name, ".fuse_hidden", 12);
}

/*
 * Record a directory listing: entry count, whether "." and ".." came, a
 * digest of the sorted "name/type" set (d_type, or lstat when the fs says
 * DT_UNKNOWN, as applications do), duplicates and reserved names seen.
 */
static void rec_listing(struct trace *t, const char *what, const char *path)
{
	size_t n = 0, cap = 1024, i, dups = 0, reserved = 0;
	char **names = xmalloc(cap * sizeof(*names));
	int dots = 0;
	char label[100];
	uint64_t h = FNV0;
	struct dirent *de;
	DIR *d;

	snprintf(label, sizeof(label), "opendir %s", what);
	errno = 0;
	d = opendir(path);
	VE(label, d ? 0 : -1);
	while (d && (de = readdir(d))) {
		unsigned type = de->d_type;
		char *e;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
			dots++;
			continue;
		}
		if (type == DT_UNKNOWN) {
			struct stat st;

			if (!fstatat(dirfd(d), de->d_name, &st,
				     AT_SYMLINK_NOFOLLOW))
				type = IFTODT(st.st_mode);
		}
		if (reserved_name(de->d_name))
			reserved++;
		if (n == cap) {
			cap *= 2;
			names = realloc(names, cap * sizeof(*names));
			cr_assert(names, "out of memory");
		}
		cr_assert(asprintf(&e, "%s/%u", de->d_name, type) > 0);
		names[n++] = e;
	}
	if (d)
		closedir(d);
	qsort(names, n, sizeof(*names), sfs_cmp_str);
	for (i = 0; i < n; i++) {
		if (i && !strcmp(names[i], names[i - 1]))
			dups++;
		h = fnv(h, names[i], strlen(names[i]) + 1);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	snprintf(label, sizeof(label), "entries %s", what);
	V(label, (long long)n);
	snprintf(label, sizeof(label), "dot entries %s", what);
	V(label, dots);
	snprintf(label, sizeof(label), "duplicates %s", what);
	V(label, (long long)dups);
	snprintf(label, sizeof(label), "reserved names visible %s", what);
	V(label, (long long)reserved);
	snprintf(label, sizeof(label), "names+types digest %s", what);
	V(label, (long long)(h >> 1));
}

static int create_file(const char *path, const void *buf, size_t len)
{
	return sfs_write_file(path, buf, len);
}

/* ---- test definitions -----------------------------------------------------
 */

/* One scenario, run in both modes, each in its own fresh mount. */
#define POSIX_TEST(name)                                                       \
	static void sc_##name(struct trace *t);                                \
	Test(posix_hbi, name, .init = sfs_fx_init_hbi, .fini = sfs_fx_fini,    \
	     .timeout = TEST_TIMEOUT)                                          \
	{                                                                      \
		run_both(&sfs_fx, sc_##name);                                  \
		sfs_mount_stop(&sfs_fx);                                       \
	}                                                                      \
	Test(posix_plain, name, .init = sfs_fx_init_plain,                     \
	     .fini = sfs_fx_fini, .timeout = TEST_TIMEOUT)                     \
	{                                                                      \
		run_both(&sfs_fx, sc_##name);                                  \
		sfs_mount_stop(&sfs_fx);                                       \
	}                                                                      \
	static void sc_##name(struct trace *t)

/* A test body (no arguments) run in both modes, each in its own fresh
 * mount from the fixture init_hbi or init_plain. */
#define POSIX_BOTH(name, body, init_hbi, init_plain)                           \
	Test(posix_hbi, name, .init = init_hbi, .fini = sfs_fx_fini,           \
	     .timeout = TEST_TIMEOUT)                                          \
	{                                                                      \
		body();                                                        \
	}                                                                      \
	Test(posix_plain, name, .init = init_plain, .fini = sfs_fx_fini,       \
	     .timeout = TEST_TIMEOUT)                                          \
	{                                                                      \
		body();                                                        \
	}

/* ---- read / write -----------------------------------------------------------
 */

static const struct {
	off_t off;
	size_t len;
} rw_cases[] = {
    {0, 0},	  {0, 1},
    {0, 4095},	  {0, 4096},
    {0, 4097},	  {1, 4095},
    {1, 4096},	  {4095, 2},
    {4095, 4097}, {4096, 4096},
    {4097, 1},	  {8191, 8194},
    {12287, 1},	  {0, MIB + 3},
    {5, MIB + 3}, {3 * 4096 + 17, MIB + 3},
    {MIB - 1, 2}, {2 * MIB + 1, 4095},
};

#define NCASES (sizeof(rw_cases) / sizeof(rw_cases[0]))
#define RW_MAX (3 * MIB)

POSIX_TEST(read_write_offsets)
{
	char *model = xmalloc(RW_MAX), *data = xmalloc(MIB + 4);
	char *buf = xmalloc(RW_MAX);
	size_t i, msize = 0;
	struct stat st;
	int fd, acc;

	/* Each case on a fresh file: zeros before the write, then data. */
	for (i = 0; i < NCASES; i++) {
		off_t off = rw_cases[i].off;
		size_t len = rw_cases[i].len, flen;

		CTX("fresh off=%lld len=%zu", (long long)off, len);
		sfs_fill_pattern(data, len, (unsigned)i + 1);
		fd = OK(open(P("fresh"), O_RDWR | O_CREAT | O_TRUNC, 0644));
		if (fd < 0)
			continue;
		R(sfs_pwrite_full(fd, data, len, off));
		R(fstat(fd, &st));
		V("fstat size", st.st_size);
		R(close(fd));
		flen = len ? (size_t)off + len : 0;
		memset(model, 0, flen);
		memcpy(model + off, data, len);
		rec_content(t, "fresh", P("fresh"), model, flen);
		fd = OK(open(P("fresh"), O_RDONLY));
		if (fd < 0)
			continue;
		/* A window one byte wider on each side of the write. */
		R(sfs_pread_full(fd, buf, len + 2, off ? off - 1 : 0));
		R(pread(fd, buf, 4096, (off_t)flen));
		R(pread(fd, buf, 1, (off_t)flen + 4096));
		R(close(fd));
	}

	/* All cases accumulated on one file, checked against a model. */
	memset(model, 0, RW_MAX);
	acc = OK(open(P("acc"), O_RDWR | O_CREAT | O_EXCL, 0600));
	for (i = 0; acc >= 0 && i < NCASES; i++) {
		off_t off = rw_cases[i].off;
		size_t len = rw_cases[i].len;

		CTX("acc off=%lld len=%zu", (long long)off, len);
		sfs_fill_pattern(data, len, (unsigned)i + 100);
		R(sfs_pwrite_full(acc, data, len, off));
		memcpy(model + off, data, len);
		if (len && (size_t)off + len > msize)
			msize = (size_t)off + len;
		R(fstat(acc, &st));
		V("fstat size", st.st_size);
		rec_fd_content(t, "acc", acc, model, msize);
	}
	/* Reads of every shape out of the accumulated file. */
	for (i = 0; acc >= 0 && i < NCASES; i++) {
		off_t off = rw_cases[i].off;
		size_t len = rw_cases[i].len;
		ssize_t n;

		CTX("acc read off=%lld len=%zu", (long long)off, len);
		n = R(pread(acc, buf, len, off));
		if (n > 0)
			V("pread content",
			  first_diff(buf, model + off, (size_t)n));
	}
	if (acc >= 0) {
		CTX("sequential");
		/* Sequential read() in odd chunks across block boundaries. */
		R(lseek(acc, 0, SEEK_SET));
		for (i = 0; i < msize;) {
			ssize_t n = read(acc, buf + i, 4097);

			if (n <= 0)
				break;
			i += (size_t)n;
		}
		V("sequential bytes", (long long)i);
		V("sequential content", first_diff(buf, model, msize));
		R(close(acc));
	}
	rec_content(t, "acc after close", P("acc"), model, msize);
	free(model);
	free(data);
	free(buf);
}

POSIX_TEST(append)
{
	static const size_t sizes[] = {1, 4095, 4097, 5000, 1, MIB + 3};
	size_t msize = 0, i;
	char *model = xmalloc(3 * MIB), *data = xmalloc(MIB + 4);
	struct stat st;
	int fd, fd2;

	fd = OK(open(P("app"), O_WRONLY | O_CREAT | O_APPEND, 0644));
	if (fd < 0)
		goto out;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		CTX("append %zu", sizes[i]);
		sfs_fill_pattern(data, sizes[i], (unsigned)i + 7);
		R(write(fd, data, sizes[i]));
		memcpy(model + msize, data, sizes[i]);
		msize += sizes[i];
		R(lseek(fd, 0, SEEK_CUR));
		R(fstat(fd, &st));
		V("fstat size", st.st_size);
	}
	CTX("pwrite on O_APPEND");
	/* Linux appends even for pwrite() on an O_APPEND descriptor. */
	R(pwrite(fd, "PW", 2, 0));
	memcpy(model + msize, "PW", 2);
	msize += 2;
	R(lseek(fd, 0, SEEK_SET));
	R(write(fd, "SK", 2));
	memcpy(model + msize, "SK", 2);
	msize += 2;
	R(lseek(fd, 0, SEEK_CUR));

	CTX("second fd");
	fd2 = OK(open(P("app"), O_RDWR));
	if (fd2 >= 0) {
		R(pwrite(fd2, "ZZ", 2, 1));
		memcpy(model + 1, "ZZ", 2);
		R(write(fd, "tail", 4));
		memcpy(model + msize, "tail", 4);
		msize += 4;
		R(read(fd2, data, 3));
		V("read via 2nd fd", first_diff(data, model, 3));
		rec_fd_content(t, "second fd", fd2, model, msize);
		R(close(fd2));
	}
	/* Reading through an O_APPEND|O_RDWR fd. */
	CTX("rdwr append");
	fd2 = OK(open(P("app"), O_RDWR | O_APPEND));
	if (fd2 >= 0) {
		R(read(fd2, data, 10));
		V("read at 0", first_diff(data, model, 10));
		R(write(fd2, "!", 1));
		memcpy(model + msize, "!", 1);
		msize += 1;
		R(lseek(fd2, 0, SEEK_CUR));
		R(close(fd2));
	}
	R(close(fd));
	rec_content(t, "app", P("app"), model, msize);
	CTX("append to empty");
	fd = OK(open(P("app2"), O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0600));
	if (fd >= 0) {
		R(write(fd, "a", 1));
		R(write(fd, "b", 1));
		R(close(fd));
	}
	rec_content(t, "app2", P("app2"), "ab", 2);
out:
	free(model);
	free(data);
}

POSIX_TEST(truncate)
{
	static const off_t sizes[] = {10000, 4096,  4095, 4097,
				      1,     0,	    5000, MIB + 3,
				      8193,  12288, 3,	  3 * 4096 + 5};
	size_t msize = 3 * 4096 + 5, i;
	char *model = xmalloc(2 * MIB);
	struct stat st;
	int fd, ro;

	sfs_fill_pattern(model, msize, 3);
	R(create_file(P("t"), model, msize));
	fd = OK(open(P("t"), O_RDWR));
	if (fd < 0)
		goto out;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		off_t sz = sizes[i];

		CTX("%s to %lld", i % 2 ? "ftruncate" : "truncate",
		    (long long)sz);
		if (i % 2)
			R(ftruncate(fd, sz));
		else
			R(truncate(P("t"), sz));
		if ((size_t)sz > msize)
			memset(model + msize, 0, (size_t)sz - msize);
		msize = (size_t)sz;
		R(fstat(fd, &st));
		V("fstat size", st.st_size);
		rec_stat(t, "t", P("t"), false);
		rec_fd_content(t, "t", fd, model, msize);
		/* Write just past the new end: the gap must read as zeros. */
		if (i % 3 == 2) {
			R(pwrite(fd, "xy", 2, sz + 3));
			memset(model + msize, 0, 3);
			memcpy(model + msize + 3, "xy", 2);
			msize += 5;
			rec_fd_content(t, "t after write", fd, model, msize);
		}
	}
	rec_content(t, "t final", P("t"), model, msize);
	CTX("errors");
	R(truncate(P("t"), -1));
	R(ftruncate(fd, -5));
	R(close(fd));
	ro = OK(open(P("t"), O_RDONLY));
	if (ro >= 0) {
		R(ftruncate(ro, 0));
		R(close(ro));
	}
	R(mkdir(P("dir"), 0755));
	R(truncate(P("dir"), 0));
	R(truncate(P("missing"), 0));
	R(truncate(P("t/x"), 0));
	rec_stat(t, "t after errors", P("t"), false);
	/* O_TRUNC on open. */
	fd = OK(open(P("t"), O_WRONLY | O_TRUNC));
	if (fd >= 0)
		R(close(fd));
	rec_stat(t, "t after O_TRUNC", P("t"), false);
out:
	free(model);
}

POSIX_TEST(sparse)
{
	char buf[8192], pat[16];
	struct stat st;
	int fd;

	fd = OK(open(P("sp"), O_RDWR | O_CREAT, 0644));
	if (fd < 0)
		return;
	sfs_fill_pattern(pat, sizeof(pat), 11);
	R(pwrite(fd, pat, 10, 100 * MIB + 5));
	R(fstat(fd, &st));
	V("size", st.st_size);
	/* The hole must not be allocated (hbi: all-zero blocks = holes). */
	V("sparse (blocks < 1 MiB)", st.st_blocks * 512 < MIB);
	memset(buf, 0xaa, sizeof(buf));
	R(pread(fd, buf, 4096, 0));
	V("zeros at 0", all_zero(buf, 4096));
	memset(buf, 0xaa, sizeof(buf));
	R(pread(fd, buf, 8192, 50 * MIB + 4090));
	V("zeros at 50M", all_zero(buf, 8192));
	memset(buf, 0xaa, sizeof(buf));
	R(pread(fd, buf, 8192, 100 * MIB - 4096));
	V("zeros before data", all_zero(buf, 4096 + 5));
	V("data", first_diff(buf + 4096 + 5, pat, 10));
	/* Fill a few bytes inside the hole, across a block boundary. */
	R(pwrite(fd, "abc", 3, 7 * 4096 + 4094));
	memset(buf, 0xaa, sizeof(buf));
	R(pread(fd, buf, 8192, 7 * 4096));
	V("zeros around", all_zero(buf, 4094) && all_zero(buf + 4097, 4095));
	V("abc", first_diff(buf + 4094, "abc", 3));
	/* Extend with ftruncate: more hole. */
	R(ftruncate(fd, 200 * MIB));
	R(fstat(fd, &st));
	V("size after ftruncate", st.st_size);
	memset(buf, 0xaa, sizeof(buf));
	R(pread(fd, buf, 8192, 150 * MIB + 1));
	V("zeros at 150M", all_zero(buf, 8192));
	R(pread(fd, buf, 8192, 200 * MIB - 10));
	R(pread(fd, buf, 10, 200 * MIB));
	/* Write at a non-block-aligned far offset in a new file. */
	R(close(fd));
	fd = OK(open(P("sp2"), O_RDWR | O_CREAT, 0644));
	if (fd < 0)
		return;
	R(pwrite(fd, "z", 1, 4096 * 1000 + 4095));
	R(fstat(fd, &st));
	V("sp2 size", st.st_size);
	memset(buf, 0xaa, sizeof(buf));
	R(pread(fd, buf, 8192, 4096 * 999));
	V("sp2 zeros", all_zero(buf, 8191));
	V("sp2 byte", buf[8191]);
	R(close(fd));
}

/* ---- names: rename, unlink, links
 * -------------------------------------------- */

static char *long_name(char c, size_t len)
{
	static char names[4][NAME_MAX + 2];
	static unsigned next;
	char *s = names[next++ % 4];

	memset(s, c, len);
	s[len] = '\0';
	return s;
}

POSIX_TEST(rename)
{
	R(mkdir(P("d1"), 0755));
	R(mkdir(P("d2"), 0755));
	R(create_file(P("a"), "AAAA", 4));
	R(create_file(P("b"), "BB", 2));
	R(create_file(P("d1/c"), "CCC", 3));

	CTX("over existing");
	R(rename(P("a"), P("b")));
	rec_content(t, "b", P("b"), "AAAA", 4);
	rec_stat(t, "a", P("a"), true);

	CTX("across dirs");
	R(rename(P("b"), P("d1/x")));
	R(rename(P("d1/x"), P("d2/y")));
	rec_content(t, "d2/y", P("d2/y"), "AAAA", 4);
	rec_stat(t, "d1/x", P("d1/x"), true);
	R(rename(P("d1/c"), P("d2/y")));
	rec_content(t, "d2/y", P("d2/y"), "CCC", 3);

	CTX("noreplace");
	R(create_file(P("z"), "ZZ", 2));
	R(renameat2(AT_FDCWD, P("d2/y"), AT_FDCWD, P("z"), RENAME_NOREPLACE));
	rec_content(t, "z", P("z"), "ZZ", 2);
	rec_content(t, "d2/y", P("d2/y"), "CCC", 3);
	R(renameat2(AT_FDCWD, P("d2/y"), AT_FDCWD, P("d1/new"),
		    RENAME_NOREPLACE));
	rec_content(t, "d1/new", P("d1/new"), "CCC", 3);

	CTX("exchange");
	R(mkdir(P("xd"), 0700));
	R(create_file(P("xd/inner"), "I", 1));
	R(renameat2(AT_FDCWD, P("z"), AT_FDCWD, P("xd"), RENAME_EXCHANGE));
	rec_stat(t, "z", P("z"), true);
	rec_stat(t, "xd", P("xd"), true);
	rec_content(t, "xd", P("xd"), "ZZ", 2);
	rec_content(t, "z/inner", P("z/inner"), "I", 1);
	R(renameat2(AT_FDCWD, P("z"), AT_FDCWD, P("nothere"), RENAME_EXCHANGE));
	R(renameat2(AT_FDCWD, P("z"), AT_FDCWD, P("xd"),
		    RENAME_EXCHANGE | RENAME_NOREPLACE));

	CTX("dirs");
	R(mkdir(P("e1"), 0755));
	R(create_file(P("e1/f"), "F", 1));
	R(mkdir(P("e2"), 0755));
	R(create_file(P("e2/g"), "G", 1));
	R(rename(P("e1"), P("e2")));
	rec_content(t, "e2/g", P("e2/g"), "G", 1);
	R(mkdir(P("e3"), 0755));
	R(rename(P("e1"), P("e3")));
	rec_content(t, "e3/f", P("e3/f"), "F", 1);
	rec_stat(t, "e1", P("e1"), true);
	R(rename(P("e3"), P("d1/e3moved")));
	rec_content(t, "moved dir content", P("d1/e3moved/f"), "F", 1);
	rec_stat(t, "d1", P("d1"), true);

	CTX("errors");
	R(rename(P("d1/new"), P("e2")));
	R(rename(P("e2"), P("d1/new")));
	R(rename(P("e2"), P("e2/sub")));
	R(rename(P("missing"), P("x")));
	R(rename(P("d1/new"), P("missingdir/x")));
	R(rename(P("d1/new"), P("d1/new")));
	R(rename(P("d1/new/x"), P("y")));
	rec_content(t, "d1/new", P("d1/new"), "CCC", 3);

	CTX("hard links to the same inode");
	R(link(P("d1/new"), P("d1/alias")));
	R(rename(P("d1/new"), P("d1/alias")));
	rec_stat(t, "d1/new", P("d1/new"), true);
	rec_stat(t, "d1/alias", P("d1/alias"), true);

	CTX("long names");
	R(create_file(P(long_name('L', 255)), "long", 4));
	R(rename(P(long_name('L', 255)), P(long_name('M', 200))));
	R(rename(P(long_name('M', 200)),
		 sfs_join(P("d2"), long_name('N', 255))));
	rec_content(t, "long", sfs_join(P("d2"), long_name('N', 255)), "long",
		    4);
	R(rename(sfs_join(P("d2"), long_name('N', 255)), P("short")));
	rec_content(t, "short", P("short"), "long", 4);

	rec_listing(t, "root", P(""));
	rec_listing(t, "d1", P("d1"));
	rec_listing(t, "d2", P("d2"));
	rec_listing(t, "z", P("z"));
}

POSIX_TEST(open_unlinked)
{
	char data[10000], buf[12000];
	struct stat st;
	int fd, fd2;

	sfs_fill_pattern(data, sizeof(data), 21);
	R(create_file(P("u"), data, sizeof(data)));
	fd = OK(open(P("u"), O_RDWR));
	if (fd < 0)
		return;
	CTX("unlink open file");
	R(unlink(P("u")));
	rec_stat(t, "u", P("u"), true);
	R(fstat(fd, &st));
	V("nlink after unlink", st.st_nlink);
	V("size after unlink", st.st_size);
	rec_fd_content(t, "unlinked", fd, data, sizeof(data));
	R(pwrite(fd, "xyz", 3, 5000));
	memcpy(data + 5000, "xyz", 3);
	rec_fd_content(t, "unlinked after write", fd, data, sizeof(data));
	R(pwrite(fd, "end", 3, 10000));
	R(fstat(fd, &st));
	V("size after write", st.st_size);
	R(ftruncate(fd, 4097));
	R(fstat(fd, &st));
	V("size after ftruncate", st.st_size);
	rec_fd_content(t, "unlinked after ftruncate", fd, data, 4097);
	rec_listing(t, "root with unlinked open file", P(""));
	/* A new file under the old name is independent. */
	R(create_file(P("u"), "new", 3));
	rec_fd_content(t, "old fd after new u", fd, data, 4097);
	rec_content(t, "new u", P("u"), "new", 3);
	R(close(fd));
	rec_listing(t, "root after close", P(""));

	CTX("rename open file");
	R(mkdir(P("d"), 0755));
	R(create_file(P("r"), "rrrr", 4));
	fd = OK(open(P("r"), O_RDWR));
	if (fd < 0)
		return;
	R(rename(P("r"), P("d/r2")));
	R(pwrite(fd, "W", 1, 1));
	rec_content(t, "d/r2", P("d/r2"), "rWrr", 4);
	R(pread(fd, buf, sizeof(buf), 0));
	V("fd content", first_diff(buf, "rWrr", 4));
	R(close(fd));

	CTX("rename over open file");
	R(create_file(P("o1"), "old", 3));
	R(create_file(P("o2"), "new!", 4));
	fd = OK(open(P("o1"), O_RDONLY));
	fd2 = OK(open(P("o2"), O_RDONLY));
	if (fd < 0 || fd2 < 0)
		return;
	R(rename(P("o2"), P("o1")));
	R(fstat(fd, &st));
	V("replaced nlink", st.st_nlink);
	rec_fd_content(t, "replaced", fd, "old", 3);
	rec_fd_content(t, "renamed", fd2, "new!", 4);
	rec_content(t, "o1", P("o1"), "new!", 4);
	R(close(fd));
	R(close(fd2));
	rec_listing(t, "root at end", P(""));
}

POSIX_TEST(hardlinks)
{
	char data[9000];

	sfs_fill_pattern(data, sizeof(data), 31);
	R(create_file(P("h1"), data, sizeof(data)));
	R(link(P("h1"), P("h2")));
	rec_stat(t, "h1", P("h1"), false);
	rec_stat(t, "h2", P("h2"), false);
	{
		struct stat a, b;

		if (!stat(P("h1"), &a) && !stat(P("h2"), &b))
			V("same inode", a.st_ino == b.st_ino);
	}
	R(mkdir(P("sub"), 0755));
	R(link(P("h1"), P("sub/h3")));
	rec_stat(t, "h1 (3 links)", P("h1"), false);
	rec_stat(t, "sub/h3", P("sub/h3"), false);
	{
		int fd = OK(open(P("h2"), O_WRONLY));

		if (fd >= 0) {
			R(pwrite(fd, "LINK", 4, 100));
			memcpy(data + 100, "LINK", 4);
			R(pwrite(fd, "END", 3, 9000));
			R(close(fd));
		}
	}
	rec_content(t, "h1", P("h1"), NULL, 0);
	rec_content(t, "h2", P("h2"), NULL, 0);
	rec_content(t, "sub/h3", P("sub/h3"), NULL, 0);
	R(truncate(P("sub/h3"), 4100));
	rec_content(t, "h1 after truncate via h3", P("h1"), data, 4100);
	R(unlink(P("h1")));
	rec_stat(t, "h2 after unlink h1", P("h2"), false);
	rec_content(t, "h2 after unlink h1", P("h2"), data, 4100);
	R(chmod(P("h2"), 0600));
	rec_stat(t, "h3 after chmod h2", P("sub/h3"), false);

	CTX("errors");
	R(link(P("h2"), P("sub/h3")));
	R(link(P("h2"), P("h2")));
	R(link(P("sub"), P("subl")));
	R(link(P("missing"), P("x")));
	R(link(P("h2"), P("missingdir/x")));
	R(link(P("h2"), P(long_name('k', 256))));
	R(link(P("h2"), P(long_name('k', 255))));
	rec_stat(t, "255-byte link", P(long_name('k', 255)), false);
	R(unlink(P("h2")));
	R(unlink(P(long_name('k', 255))));
	rec_stat(t, "last link", P("sub/h3"), false);
	R(unlink(P("sub/h3")));
	R(unlink(P("sub/h3")));
	rec_listing(t, "root", P(""));
	rec_listing(t, "sub", P("sub"));
}

POSIX_TEST(symlinks)
{
	static char big[4097], huge[4097], comp[300];
	const char *targets[] = {
	    "t",  "../x/y", "/etc/passwd", "zü€ ☃", "dir/with/../many/./comps/",
	    comp, big,	    huge};
	char buf[8192], name[16];
	size_t i;
	int fd;

	memset(big, 'b', 4000);
	big[4000] = '\0';
	/* The longest target (hbi: out of line, see test_symlink.c). */
	memset(huge, 'h', 4095);
	huge[4095] = '\0';
	memset(comp, 'c', 255);
	memcpy(comp + 255, "/tail", 6);
	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		ssize_t n;

		CTX("target len %zu", strlen(targets[i]));
		snprintf(name, sizeof(name), "s%zu", i);
		R(symlink(targets[i], P(name)));
		n = R(readlink(P(name), buf, sizeof(buf)));
		V("readlink equal", n >= 0 && (size_t)n == strlen(targets[i]) &&
					!memcmp(buf, targets[i], (size_t)n));
		rec_stat(t, name, P(name), true);
	}
	CTX("limits");
	{
		char over[4097];

		memset(over, 'o', 4096);
		over[4096] = '\0';
		R(symlink(over, P("over")));
	}
	R(symlink("", P("empty")));
	R(symlink("x", P("s0")));
	R(readlink(P("s0"), buf, 0));
	R(readlink(P("s2"), buf, 3));
	V("truncated readlink", first_diff(buf, "/et", 3));

	CTX("following");
	R(create_file(P("real"), "realdata", 8));
	R(mkdir(P("sub"), 0755));
	R(symlink("real", P("ln")));
	R(symlink("sub", P("lsub")));
	R(symlink("../real", P("sub/up")));
	rec_content(t, "via ln", P("ln"), "realdata", 8);
	rec_content(t, "via sub/up", P("sub/up"), "realdata", 8);
	rec_stat(t, "stat ln", P("ln"), false);
	R(create_file(P("lsub/f"), "F", 1));
	rec_content(t, "sub/f", P("sub/f"), "F", 1);
	fd = OK(open(P("ln"), O_RDONLY | O_NOFOLLOW));
	if (fd >= 0)
		close(fd);
	fd = OK(open(P("ln"), O_RDONLY | O_NOFOLLOW | O_PATH));
	if (fd >= 0)
		R(close(fd));
	R(readlink(P("real"), buf, sizeof(buf)));
	R(symlink("nowhere", P("dangling")));
	rec_stat(t, "dangling", P("dangling"), false);
	rec_stat(t, "dangling", P("dangling"), true);
	R(symlink("loop2", P("loop1")));
	R(symlink("loop1", P("loop2")));
	R(open(P("loop1"), O_RDONLY));
	/* Writing through a dangling link creates the target. */
	R(create_file(P("dangling"), "made", 4));
	rec_content(t, "nowhere", P("nowhere"), "made", 4);

	CTX("rename/link a symlink");
	R(rename(P("s1"), P("sub/s1moved")));
	{
		ssize_t n = R(readlink(P("sub/s1moved"), buf, sizeof(buf)));

		if (n >= 0)
			V("moved target",
			  (size_t)n == 6 && !memcmp(buf, "../x/y", 6));
	}
	R(link(P("s6"), P("s6link")));
	rec_stat(t, "s6link", P("s6link"), true);
	{
		ssize_t n = R(readlink(P("s6link"), buf, sizeof(buf)));

		if (n >= 0)
			V("hard-linked symlink", first_diff(buf, big, 4000));
	}
	R(unlink(P("s6")));
	R(unlink(P("ln")));
	rec_content(t, "real after unlink ln", P("real"), "realdata", 8);
	rec_listing(t, "root", P(""));
}

/* ---- directories, special files, readdir, names
 * ------------------------------- */

POSIX_TEST(dirs)
{
	static const mode_t modes[] = {0700, 0755, 01777, 02755,
				       0,    0777, 0500,  03775};
	char name[32];
	size_t i;
	int fd;

	umask(0);
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		CTX("mode %04o", modes[i]);
		snprintf(name, sizeof(name), "d%04o", modes[i]);
		R(mkdir(P(name), modes[i]));
		rec_stat(t, name, P(name), true);
		rec_listing(t, name, P(name));
	}
	CTX("chmod dir");
	R(chmod(P("d0000"), 01750));
	rec_stat(t, "d0000", P("d0000"), true);
	CTX("umask");
	umask(027);
	R(mkdir(P("dm"), 0777));
	rec_stat(t, "dm", P("dm"), true);
	fd = OK(open(P("dm/f"), O_CREAT | O_WRONLY, 0666));
	if (fd >= 0)
		R(close(fd));
	rec_stat(t, "dm/f", P("dm/f"), true);
	umask(0);

	CTX("nlink");
	R(mkdir(P("p"), 0755));
	R(mkdir(P("p/a"), 0755));
	R(mkdir(P("p/b"), 0755));
	R(create_file(P("p/file"), "x", 1));
	rec_stat(t, "p", P("p"), true);
	R(rmdir(P("p")));
	R(rmdir(P("p/a")));
	rec_stat(t, "p after rmdir", P("p"), true);
	rec_stat(t, "p/a", P("p/a"), true);

	CTX("rmdir errors");
	R(rmdir(P("p/file")));
	R(rmdir(P("missing")));
	R(rmdir(P("p/b/.")));
	R(rmdir(P("p/b/..")));
	R(rmdir(P("p/file/x")));
	R(mkdir(P("p"), 0755));
	R(mkdir(P("missing/x"), 0755));
	R(mkdir(P("p/file/x"), 0755));
	R(mkdir(P(long_name('D', 256)), 0755));
	R(mkdir(P(long_name('D', 255)), 0755));
	rec_stat(t, "255-byte dir", P(long_name('D', 255)), true);
	R(rmdir(P(long_name('D', 255))));
	R(open(P("p/file/"), O_RDONLY));
	R(open(P("p/b"), O_WRONLY));
	R(open(P("p/file"), O_RDONLY | O_DIRECTORY));

	CTX("rmdir after long-named child");
	R(mkdir(P("q"), 0755));
	R(create_file(sfs_join(P("q"), long_name('Q', 220)), "q", 1));
	R(rmdir(P("q")));
	R(unlink(sfs_join(P("q"), long_name('Q', 220))));
	rec_listing(t, "q", P("q"));
	R(rmdir(P("q")));
	R(mkdir(P("deep"), 0755));
	R(mkdir(P("deep/1"), 0755));
	R(mkdir(P("deep/1/2"), 0755));
	R(mkdir(P("deep/1/2/3"), 0755));
	R(create_file(P("deep/1/2/3/leaf"), "leaf", 4));
	rec_content(t, "deep leaf", P("deep/1/2/3/leaf"), "leaf", 4);
	rec_listing(t, "root", P(""));
}

POSIX_TEST(special_files)
{
	char c = 0;
	int rfd, wfd;

	umask(0);
	R(mkfifo(P("fifo"), 0640));
	rec_stat(t, "fifo", P("fifo"), true);
	R(mknod(P("reg"), S_IFREG | 0600, 0));
	rec_stat(t, "reg", P("reg"), true);
	R(mknod(P("chr"), S_IFCHR | 0600, makedev(1, 3)));
	rec_stat(t, "chr", P("chr"), true);
	R(mknod(P("blk"), S_IFBLK | 0600, makedev(7, 200)));
	rec_stat(t, "blk", P("blk"), true);
	R(mknod(P("sock"), S_IFSOCK | 0644, 0));
	rec_stat(t, "sock", P("sock"), true);
	R(mknod(P("fifo"), S_IFIFO | 0600, 0));
	R(mkfifo(P("missing/f"), 0600));
	R(mknod(P(long_name('n', 256)), S_IFIFO | 0600, 0));

	CTX("fifo I/O");
	rfd = OK(open(P("fifo"), O_RDONLY | O_NONBLOCK));
	wfd = OK(open(P("fifo"), O_WRONLY | O_NONBLOCK));
	if (rfd >= 0 && wfd >= 0) {
		R(write(wfd, "q", 1));
		R(read(rfd, &c, 1));
		V("fifo byte", c);
	}
	if (rfd >= 0)
		close(rfd);
	if (wfd >= 0)
		close(wfd);
	CTX("rename/unlink specials");
	R(rename(P("fifo"), P("fifo2")));
	rec_stat(t, "fifo2", P("fifo2"), true);
	R(chmod(P("fifo2"), 0600));
	rec_stat(t, "fifo2 chmod", P("fifo2"), true);
	R(link(P("sock"), P("sock2")));
	rec_stat(t, "sock2", P("sock2"), true);
	R(unlink(P("chr")));
	R(unlink(P("fifo2")));
	rec_listing(t, "root", P(""));
}

#define BIG_N 10000

/* telldir/seekdir: after seeking back to a remembered position the
 * stream returns the same entries again, also across a fresh open of the
 * directory (each listing request may open its own stream). */
POSIX_TEST(readdir_seekdir)
{
	static char first[400][NAME_MAX + 1];
	char name[64];
	long pos = -1;
	int n = 0, same = 0, again = 0;
	struct dirent *de;
	DIR *d;

	R(mkdir(P("sk"), 0755));
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "sk/entry-%03d", i);
		R(create_file(P(name), "", 0));
	}
	d = opendir(P("sk"));
	VE("opendir", d ? 0 : -1);
	if (!d)
		return;
	while ((de = readdir(d)) && n < 400) {
		if (n == 150)
			pos = telldir(d);
		snprintf(first[n++], sizeof(first[0]), "%s", de->d_name);
	}
	V("entries", n);
	seekdir(d, pos);
	for (int i = 151; (de = readdir(d)); i++)
		same += i < n && strcmp(de->d_name, first[i]) == 0;
	V("same entries after seekdir", same);
	closedir(d);
	/* Drop the kernel's cached listing: the next reads reach the daemon
	 * with the remembered offset. */
	sync();
	R(sfs_write_file("/proc/sys/vm/drop_caches", "3\n", 2));
	d = opendir(P("sk"));
	VE("opendir again", d ? 0 : -1);
	if (!d)
		return;
	seekdir(d, pos);
	for (int i = 151; (de = readdir(d)); i++)
		again += i < n && strcmp(de->d_name, first[i]) == 0;
	V("same entries after seekdir in a new stream", again);
	closedir(d);
}

POSIX_TEST(readdir_10000)
{
	char name[300];
	int i, failed = 0;
	long read_after_rewind = 0;
	DIR *d;

	R(mkdir(P("big"), 0755));
	for (i = 0; i < BIG_N; i++) {
		int fd;

		/* Every 500th name is long (hbi stores those differently). */
		if (i % 500 == 0)
			snprintf(name, sizeof(name), "big/L%05d-%s", i,
				 long_name('l', 190));
		else
			snprintf(name, sizeof(name), "big/f%05d", i);
		fd = open(P(name), O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0)
			failed++;
		else
			close(fd);
	}
	V("create failures", failed);
	rec_listing(t, "big", P("big"));

	/* Half a listing, rewind, then a full one. */
	d = opendir(P("big"));
	VE("opendir", d ? 0 : -1);
	if (d) {
		for (i = 0; i < BIG_N / 2 && readdir(d); i++)
			;
		rewinddir(d);
		while (readdir(d))
			read_after_rewind++;
		closedir(d);
		V("entries after rewinddir", read_after_rewind);
	}
	/* Remove every other file and list again. */
	for (i = 0, failed = 0; i < BIG_N; i += 2) {
		if (i % 500 == 0)
			snprintf(name, sizeof(name), "big/L%05d-%s", i,
				 long_name('l', 190));
		else
			snprintf(name, sizeof(name), "big/f%05d", i);
		if (unlink(P(name)))
			failed++;
	}
	V("unlink failures", failed);
	rec_listing(t, "big after unlinks", P("big"));
	rec_listing(t, "root", P(""));
}

/* A name of @len bytes, varied, never "." or "..", never with '/'. */
static void make_name(char *out, size_t len, unsigned salt)
{
	static const char cs[] = "abcdefghijklmnopqrstuvwxyz"
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
				 "-_.,+=~ @#%";
	size_t i;

	for (i = 0; i < len; i++)
		out[i] = cs[(i * 7 + len * 13 + salt) % (sizeof(cs) - 1)];
	out[0] = 'n';
	out[len] = '\0';
}

POSIX_TEST(name_lengths)
{
	char name[320], raw[NAME_MAX + 1];
	size_t len, i;

	R(mkdir(P("n"), 0755));
	for (len = 1; len <= NAME_MAX; len++) {
		char data[NAME_MAX];
		int fd;

		CTX("len %zu", len);
		make_name(name, len, 0);
		fd = OK(open(sfs_join(P("n"), name),
			     O_CREAT | O_EXCL | O_WRONLY, 0644));
		if (fd < 0)
			continue;
		/* Content = the length, to catch two names on one file. */
		memset(data, (int)len, len);
		R(write(fd, data, len));
		R(close(fd));
	}
	for (len = 1; len <= NAME_MAX; len++) {
		struct stat st;

		CTX("len %zu", len);
		make_name(name, len, 0);
		if (R(stat(sfs_join(P("n"), name), &st)) == 0)
			V("size", st.st_size);
	}
	rec_listing(t, "n", P("n"));

	CTX("arbitrary bytes");
	/* 255 bytes: control characters, invalid UTF-8, everything but '/'. */
	for (i = 0; i < NAME_MAX; i++) {
		unsigned char c = (unsigned char)(1 + (i * 37) % 255);

		raw[i] = c == '/' ? 'x' : (char)c;
	}
	raw[NAME_MAX] = '\0';
	R(create_file(sfs_join(P("n"), raw), "raw", 3));
	rec_content(t, "raw", sfs_join(P("n"), raw), "raw", 3);
	raw[10] = '\0';
	R(create_file(sfs_join(P("n"), raw), "raw10", 5));
	rec_content(t, "raw10", sfs_join(P("n"), raw), "raw10", 5);
	R(create_file(P("n/\n\t\x7f"), "ctl", 3));
	rec_listing(t, "n with raw", P("n"));

	CTX("256 bytes");
	make_name(name, NAME_MAX + 1, 1);
	R(open(sfs_join(P("n"), name), O_CREAT | O_WRONLY, 0644));
	R(mkdir(sfs_join(P("n"), name), 0755));
	R(stat(sfs_join(P("n"), name), &(struct stat){0}));
	R(symlink("x", sfs_join(P("n"), name)));
	R(rename(sfs_join(P("n"), raw), sfs_join(P("n"), name)));
	R(mkfifo(sfs_join(P("n"), name), 0600));
	R(unlink(sfs_join(P("n"), name)));
	make_name(name, 300, 1);
	R(open(sfs_join(P("n"), name), O_CREAT | O_WRONLY, 0644));
	make_name(name, NAME_MAX, 2);
	R(stat(sfs_join(P("n"), name), &(struct stat){0}));
	rec_listing(t, "n at end", P("n"));
}

/* ---- attributes ------------------------------------------------------------
 */

static void rec_times(struct trace *t, const char *what, const char *path,
		      bool nofollow)
{
	struct stat st;
	char label[100];

	memset(&st, 0, sizeof(st));
	snprintf(label, sizeof(label), "times %s", what);
	if (V(label, nofollow ? lstat(path, &st) : stat(path, &st)))
		return;
	snprintf(label, sizeof(label), "atime %s", what);
	V(label, st.st_atim.tv_sec * 1000000000LL + st.st_atim.tv_nsec);
	snprintf(label, sizeof(label), "mtime %s", what);
	V(label, st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
}

/* 1 if both atime and mtime of @path lie in [@lo - 1 s, now + 1 s]. */
static int times_recent(const char *path, time_t lo, bool nofollow)
{
	time_t hi = time(NULL) + 1;
	struct stat st;

	if (nofollow ? lstat(path, &st) : stat(path, &st))
		return -1;
	return st.st_atime >= lo - 1 && st.st_atime <= hi &&
	       st.st_mtime >= lo - 1 && st.st_mtime <= hi;
}

POSIX_TEST(chmod_chown_utimens)
{
	static const mode_t modes[] = {0,     07777, 0644, 04755,
				       02710, 01000, 0640};
	struct timespec ts[2];
	time_t before;
	size_t i;
	int fd;

	umask(0);
	R(create_file(P("f"), "data", 4));
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		CTX("chmod %04o", modes[i]);
		R(chmod(P("f"), modes[i]));
		rec_stat(t, "f", P("f"), true);
	}
	CTX("chown");
	R(chown(P("f"), 1000, 1000));
	rec_stat(t, "f", P("f"), true);
	R(chown(P("f"), (uid_t)-1, (gid_t)-1));
	rec_stat(t, "f", P("f"), true);
	R(chown(P("f"), 1234, (gid_t)-1));
	rec_stat(t, "f", P("f"), true);
	R(chown(P("f"), (uid_t)-1, 5678));
	rec_stat(t, "f", P("f"), true);
	/* chown clears set-user-ID and set-group-ID (with group exec). */
	R(chmod(P("f"), 06755));
	R(chown(P("f"), 0, 0));
	rec_stat(t, "f after chown of 06755", P("f"), true);
	R(chmod(P("f"), 02745));
	R(chown(P("f"), 1, 1));
	rec_stat(t, "f after chown of 02745", P("f"), true);
	R(chown(P("missing"), 0, 0));
	R(mkdir(P("dir"), 02755));
	R(chown(P("dir"), 1000, 1000));
	rec_stat(t, "dir", P("dir"), true);
	fd = OK(open(P("f"), O_RDONLY));
	if (fd >= 0) {
		R(fchmod(fd, 0604));
		R(fchown(fd, 7, 8));
		R(close(fd));
	}
	rec_stat(t, "f after fchmod/fchown", P("f"), true);
	/* Writing as root clears set-user-ID too. */
	R(chmod(P("f"), 04755));
	fd = OK(open(P("f"), O_WRONLY));
	if (fd >= 0) {
		R(write(fd, "w", 1));
		R(close(fd));
	}
	rec_stat(t, "f after write", P("f"), true);

	CTX("lchown");
	R(symlink("f", P("sl")));
	R(lchown(P("sl"), 1000, 1001));
	rec_stat(t, "sl", P("sl"), true);
	rec_stat(t, "f via sl", P("sl"), false);

	CTX("utimensat explicit");
	ts[0] = (struct timespec){1000000000, 123456789};
	ts[1] = (struct timespec){1500000000, 987654321};
	R(utimensat(AT_FDCWD, P("f"), ts, 0));
	rec_times(t, "f", P("f"), false);
	CTX("UTIME_OMIT atime");
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1] = (struct timespec){1234567890, 500000000};
	R(utimensat(AT_FDCWD, P("f"), ts, 0));
	rec_times(t, "f", P("f"), false);
	CTX("UTIME_OMIT both");
	ts[1].tv_nsec = UTIME_OMIT;
	R(utimensat(AT_FDCWD, P("f"), ts, 0));
	rec_times(t, "f", P("f"), false);
	CTX("old times");
	ts[0] = (struct timespec){0, 0};
	ts[1] = (struct timespec){1, 1};
	R(utimensat(AT_FDCWD, P("f"), ts, 0));
	rec_times(t, "f", P("f"), false);
	CTX("UTIME_NOW");
	before = time(NULL);
	ts[0].tv_nsec = UTIME_NOW;
	ts[1].tv_nsec = UTIME_NOW;
	R(utimensat(AT_FDCWD, P("f"), ts, 0));
	V("times now", times_recent(P("f"), before, false));
	CTX("NULL times");
	ts[0] = (struct timespec){5, 0};
	ts[1] = (struct timespec){5, 0};
	R(utimensat(AT_FDCWD, P("f"), ts, 0));
	before = time(NULL);
	R(utimensat(AT_FDCWD, P("f"), NULL, 0));
	V("times now (NULL)", times_recent(P("f"), before, false));
	CTX("futimens");
	fd = OK(open(P("f"), O_RDONLY));
	if (fd >= 0) {
		ts[0] = (struct timespec){2000000000, 1};
		ts[1] = (struct timespec){2000000001, 2};
		R(futimens(fd, ts));
		R(close(fd));
	}
	rec_times(t, "f", P("f"), false);
	CTX("lutimes on symlink");
	ts[0] = (struct timespec){1111111111, 111};
	ts[1] = (struct timespec){1222222222, 222};
	R(utimensat(AT_FDCWD, P("sl"), ts, AT_SYMLINK_NOFOLLOW));
	rec_times(t, "sl", P("sl"), true);
	rec_times(t, "f (target untouched)", P("f"), false);
	CTX("utimensat errors");
	ts[0] = (struct timespec){1, 1000000000};
	R(utimensat(AT_FDCWD, P("f"), ts, 0));
	R(utimensat(AT_FDCWD, P("missing"), NULL, 0));
	CTX("mtime follows writes");
	ts[0] = (struct timespec){3, 0};
	ts[1] = (struct timespec){3, 0};
	R(utimensat(AT_FDCWD, P("f"), ts, 0));
	before = time(NULL);
	R(truncate(P("f"), 1));
	{
		struct stat st;

		if (!R(stat(P("f"), &st)))
			V("mtime updated by truncate",
			  st.st_mtime >= before - 1);
	}
}

POSIX_TEST(statfs)
{
	struct statvfs a;
	int fd;

	memset(&a, 0, sizeof(a));
	R(statvfs(P(""), &a));
	V("bsize > 0", a.f_bsize > 0);
	V("frsize > 0", a.f_frsize > 0);
	V("blocks > 0", a.f_blocks > 0);
	V("bfree <= blocks", a.f_bfree <= a.f_blocks);
	V("bavail <= bfree", a.f_bavail <= a.f_bfree);
	V("namemax >= 255", a.f_namemax >= NAME_MAX);
	V("files > 0", a.f_files > 0);
	R(create_file(P("f"), "x", 1));
	fd = OK(open(P("f"), O_RDONLY));
	if (fd >= 0) {
		memset(&a, 0, sizeof(a));
		R(fstatvfs(fd, &a));
		V("fstatvfs blocks > 0", a.f_blocks > 0);
		R(close(fd));
	}
	R(statvfs(P("missing"), &a));
}

POSIX_TEST(fsync)
{
	int fd, dfd, ro;

	fd = OK(open(P("f"), O_RDWR | O_CREAT, 0644));
	if (fd < 0)
		return;
	R(write(fd, "abc", 3));
	R(fsync(fd));
	R(fdatasync(fd));
	R(pwrite(fd, "d", 1, 8192));
	R(sync_file_range(fd, 0, 0,
			  SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
			      SYNC_FILE_RANGE_WAIT_AFTER));
	R(fdatasync(fd));
	R(syncfs(fd));
	R(close(fd));
	ro = OK(open(P("f"), O_RDONLY));
	if (ro >= 0) {
		R(fsync(ro));
		R(fdatasync(ro));
		R(close(ro));
	}
	dfd = OK(open(P(""), O_RDONLY | O_DIRECTORY));
	if (dfd >= 0) {
		R(fsync(dfd));
		R(fdatasync(dfd));
		R(close(dfd));
	}
	R(fsync(-1));
	rec_content(t, "f", P("f"), NULL, 0);
}

/* ---- fallocate, holes, mmap, O_DIRECT ---------------------------------------
 */

POSIX_TEST(fallocate)
{
	char *model = xmalloc(64 * KIB);
	size_t msize = 0;
	struct stat st;
	int fd, ro;

	fd = OK(open(P("fa"), O_RDWR | O_CREAT, 0644));
	if (fd < 0)
		goto out;
	CTX("mode 0 extend");
	R(fallocate(fd, 0, 0, 10000));
	msize = 10000;
	R(fstat(fd, &st));
	V("size", st.st_size);
	rec_fd_content(t, "fa", fd, model, msize);

	CTX("mode 0 over data");
	sfs_fill_pattern(model, 3 * 4096, 41);
	R(sfs_pwrite_full(fd, model, 3 * 4096, 0));
	msize = 3 * 4096;
	R(fallocate(fd, 0, 4096, 8192));
	R(fstat(fd, &st));
	V("size", st.st_size);
	rec_fd_content(t, "fa", fd, model, msize);
	R(fallocate(fd, 0, 12288, 5000));
	msize = 12288 + 5000;
	R(fstat(fd, &st));
	V("size", st.st_size);
	rec_fd_content(t, "fa", fd, model, msize);

	CTX("KEEP_SIZE");
	R(fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)msize, 100000));
	R(fstat(fd, &st));
	V("size", st.st_size);
	rec_fd_content(t, "fa", fd, model, msize);
	R(pwrite(fd, "k", 1, (off_t)msize + 10));
	memcpy(model + msize + 10, "k", 1);
	msize += 11;
	rec_fd_content(t, "fa after write into preallocation", fd, model,
		       msize);

	CTX("PUNCH_HOLE aligned");
	R(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096,
		    4096));
	memset(model + 4096, 0, 4096);
	R(fstat(fd, &st));
	V("size", st.st_size);
	rec_fd_content(t, "fa", fd, model, msize);
	CTX("PUNCH_HOLE unaligned");
	R(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 4900));
	memset(model + 100, 0, 4900);
	R(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 10000, 5));
	memset(model + 10000, 0, 5);
	rec_fd_content(t, "fa", fd, model, msize);
	CTX("PUNCH_HOLE past EOF");
	R(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		    (off_t)msize - 3, 4096 * 4));
	memset(model + msize - 3, 0, 3);
	R(fstat(fd, &st));
	V("size", st.st_size);
	rec_fd_content(t, "fa", fd, model, msize);
	CTX("PUNCH_HOLE without KEEP_SIZE");
	R(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096));
	CTX("ZERO_RANGE");
	R(fallocate(fd, FALLOC_FL_ZERO_RANGE, 12290, 10));
	memset(model + 12290, 0, 10);
	rec_fd_content(t, "fa", fd, model, msize);

	CTX("errors");
	R(fallocate(fd, 0, 0, 0));
	R(fallocate(fd, 0, -1, 10));
	R(close(fd));
	ro = OK(open(P("fa"), O_RDONLY));
	if (ro >= 0) {
		R(fallocate(ro, 0, 0, 100));
		R(close(ro));
	}
	rec_content(t, "fa final", P("fa"), model, msize);
out:
	free(model);
}

POSIX_TEST(seek_data_hole)
{
	static const off_t probes[] = {
	    0,	     1,		  4096,	       MIB - 1, MIB,	MIB + MIB / 2,
	    2 * MIB, 2 * MIB + 1, 3 * MIB - 1, 3 * MIB, 4 * MIB};
	char *data = xmalloc(MIB);
	size_t i;
	int fd;

	fd = OK(open(P("sh"), O_RDWR | O_CREAT, 0644));
	if (fd < 0)
		goto out;
	sfs_fill_pattern(data, MIB, 51);
	R(sfs_pwrite_full(fd, data, MIB, 0));
	R(sfs_pwrite_full(fd, data, MIB, 2 * MIB));
	R(fsync(fd));
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		CTX("probe %lld", (long long)probes[i]);
		R(lseek(fd, probes[i], SEEK_DATA));
		R(lseek(fd, probes[i], SEEK_HOLE));
	}
	CTX("plain whence");
	R(lseek(fd, 0, SEEK_END));
	R(lseek(fd, -10, SEEK_END));
	R(lseek(fd, 5, SEEK_CUR));
	R(lseek(fd, -1, SEEK_SET));
	R(lseek(fd, 10 * MIB, SEEK_SET));
	R(read(fd, data, 10));
	R(close(fd));

	CTX("all hole");
	fd = OK(open(P("hole"), O_RDWR | O_CREAT, 0644));
	if (fd < 0)
		goto out;
	R(ftruncate(fd, MIB));
	R(lseek(fd, 0, SEEK_DATA));
	R(lseek(fd, 0, SEEK_HOLE));
	R(lseek(fd, MIB, SEEK_HOLE));
	CTX("tail data");
	R(pwrite(fd, "x", 1, MIB - 1));
	R(fsync(fd));
	R(lseek(fd, 0, SEEK_DATA));
	R(lseek(fd, MIB - 4096, SEEK_HOLE));
	R(close(fd));
	CTX("empty");
	fd = OK(open(P("empty"), O_RDWR | O_CREAT, 0644));
	if (fd >= 0) {
		R(lseek(fd, 0, SEEK_DATA));
		R(lseek(fd, 0, SEEK_HOLE));
		R(close(fd));
	}
out:
	free(data);
}

POSIX_TEST(mmap_shared)
{
	const size_t len = 3 * 4096 + 10;
	char model[3 * 4096 + 10], buf[3 * 4096 + 10];
	char *map;
	int fd;

	sfs_fill_pattern(model, len, 61);
	R(create_file(P("mm"), model, len));
	fd = OK(open(P("mm"), O_RDWR));
	if (fd < 0)
		return;
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	VE("mmap shared", map == MAP_FAILED ? -1 : 0);
	if (map != MAP_FAILED) {
		V("map reads file", first_diff(map, model, len));
		memcpy(map + 100, "through the mapping", 19);
		memcpy(model + 100, "through the mapping", 19);
		memset(map + 4090, 'X', 20);
		memset(model + 4090, 'X', 20);
		memcpy(map + len - 5, "tail!", 5);
		memcpy(model + len - 5, "tail!", 5);
		R(msync(map, len, MS_SYNC));
		R(pread(fd, buf, len, 0));
		V("read() after msync", first_diff(buf, model, len));
		/* And the other way: write() shows in the mapping. */
		R(pwrite(fd, "QQQ", 3, 8192));
		memcpy(model + 8192, "QQQ", 3);
		V("mapping after write()", first_diff(map, model, len));
		R(munmap(map, len));
	}
	R(close(fd));
	rec_content(t, "mm", P("mm"), model, len);

	CTX("private mapping");
	fd = OK(open(P("mm"), O_RDWR));
	if (fd < 0)
		return;
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	VE("mmap private", map == MAP_FAILED ? -1 : 0);
	if (map != MAP_FAILED) {
		memset(map, 'P', 10);
		R(munmap(map, len));
	}
	R(close(fd));
	rec_content(t, "mm after private", P("mm"), model, len);

	CTX("read-only fd");
	fd = OK(open(P("mm"), O_RDONLY));
	if (fd < 0)
		return;
	errno = 0;
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	VE("mmap shared rw on O_RDONLY", map == MAP_FAILED ? -1 : 0);
	if (map != MAP_FAILED)
		munmap(map, len);
	R(close(fd));

	CTX("extend via ftruncate + mapping");
	fd = OK(open(P("mm2"), O_RDWR | O_CREAT, 0644));
	if (fd < 0)
		return;
	R(ftruncate(fd, 8192));
	map = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	VE("mmap mm2", map == MAP_FAILED ? -1 : 0);
	if (map != MAP_FAILED) {
		memset(map + 4000, 'M', 200);
		R(msync(map, 8192, MS_SYNC));
		R(munmap(map, 8192));
	}
	R(close(fd));
	memset(buf, 0, 8192);
	memset(buf + 4000, 'M', 200);
	rec_content(t, "mm2", P("mm2"), buf, 8192);
}

POSIX_TEST(o_direct)
{
	char *a = NULL, *b = NULL;
	struct stat st;
	int fd, nfd;

	cr_assert(!posix_memalign((void **)&a, 4096, 16384));
	cr_assert(!posix_memalign((void **)&b, 4096, 16384));
	sfs_fill_pattern(a, 16384, 71);
	fd = OK(open(P("od"), O_RDWR | O_CREAT | O_DIRECT, 0644));
	if (fd < 0)
		goto out;
	R(pwrite(fd, a, 8192, 4096));
	memset(b, 0xee, 16384);
	R(pread(fd, b, 8192, 4096));
	V("read back", first_diff(a, b, 8192));
	R(pread(fd, b, 4096, 0));
	V("hole zeros", all_zero(b, 4096));
	R(pread(fd, b, 4096, 12288));
	R(fstat(fd, &st));
	V("size", st.st_size);
	/* Buffered and direct I/O on one file must agree. */
	nfd = OK(open(P("od"), O_RDWR));
	if (nfd >= 0) {
		R(pread(nfd, b, 16384, 0));
		V("buffered sees direct",
		  all_zero(b, 4096) && !first_diff(b + 4096, a, 8192));
		R(pwrite(nfd, a + 8192, 4096, 0));
		R(fsync(nfd));
		R(pread(fd, b, 4096, 0));
		V("direct sees buffered", first_diff(b, a + 8192, 4096));
		R(close(nfd));
	}
	R(pwrite(fd, a, 4096, 1 * MIB));
	R(fstat(fd, &st));
	V("size after far write", st.st_size);
	R(close(fd));
out:
	free(a);
	free(b);
}

/* ---- open flags ------------------------------------------------------------
 * Every flag that reaches the daemon's re-open of a backing file or its
 * openat on the caller's behalf, against the plain disk. */

/* Open @rel with @flags, record success and the flags the fd keeps, read
 * what it holds (when it may read) and close it. */
static void rec_open(struct trace *t, const char *what, const char *rel,
		     int flags, const char *model, size_t mlen)
{
	char label[100];
	int fd = OK(open(P(rel), flags, 0644));

	snprintf(label, sizeof(label), "%s: F_GETFL", what);
	V(label, fd < 0 ? -1 : fcntl(fd, F_GETFL));
	if (fd >= 0 && model && (flags & O_ACCMODE) != O_WRONLY &&
	    !(flags & O_PATH))
		rec_fd_content(t, what, fd, model, mlen);
	if (fd >= 0)
		close(fd);
}

/* O_NOATIME as uid 1000: refused on root's file, allowed on its own. */
static void open_noatime_as_user(struct trace *t)
{
	int status = -1;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		if (setgroups(0, NULL) || setgid(1000) || setuid(1000))
			_exit(2);
		CTX("uid 1000");
		rec_open(t, "noatime root's", "f", O_RDONLY | O_NOATIME, NULL,
			 0);
		rec_open(t, "noatime own", "users", O_RDONLY | O_NOATIME, "u",
			 1);
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	V("child exit status", status);
}

/* Run by open_flags_body, on a mount uid 1000 may use. */
static void sc_open_flags(struct trace *t)
{
	static const char model[] = "existing content";
	const size_t len = sizeof(model) - 1;
	char *a = NULL;
	struct stat st;
	int fd;

	R(chmod(P(""), 0755));
	R(create_file(P("f"), model, len));
	R(chmod(P("f"), 0644));
	R(symlink("f", P("l")));
	R(mkdir(P("d"), 0755));
	R(symlink("d", P("ld")));

	CTX("O_NOFOLLOW");
	rec_open(t, "nofollow rdonly", "f", O_RDONLY | O_NOFOLLOW, model, len);
	rec_open(t, "nofollow rdwr", "f", O_RDWR | O_NOFOLLOW, model, len);
	rec_open(t, "nofollow wronly", "f", O_WRONLY | O_NOFOLLOW, NULL, 0);
	rec_open(t, "nofollow creat existing", "f",
		 O_RDWR | O_CREAT | O_NOFOLLOW, model, len);
	rec_open(t, "nofollow creat new", "g", O_RDWR | O_CREAT | O_NOFOLLOW,
		 "", 0);
	rec_open(t, "nofollow symlink", "l", O_RDONLY | O_NOFOLLOW, NULL, 0);
	rec_open(t, "nofollow creat symlink", "l",
		 O_RDWR | O_CREAT | O_NOFOLLOW, NULL, 0);
	rec_open(t, "nofollow dir", "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW,
		 NULL, 0);
	rec_open(t, "nofollow dir symlink", "ld",
		 O_RDONLY | O_DIRECTORY | O_NOFOLLOW, NULL, 0);
	fd = OK(open(P("f"), O_WRONLY | O_APPEND | O_NOFOLLOW));
	if (fd >= 0) {
		R(write(fd, "+", 1));
		close(fd);
	}
	rec_content(t, "after nofollow append", P("f"), "existing content+",
		    len + 1);
	rec_open(t, "nofollow trunc", "f", O_RDWR | O_TRUNC | O_NOFOLLOW, "",
		 0);
	R(create_file(P("f"), model, len));

	CTX("O_NOATIME");
	rec_open(t, "noatime", "f", O_RDONLY | O_NOATIME, model, len);
	rec_open(t, "noatime rdwr", "f", O_RDWR | O_NOATIME, model, len);
	R(create_file(P("users"), "u", 1));
	R(chown(P("users"), 1000, 1000));
	open_noatime_as_user(t);

	CTX("O_DIRECTORY");
	rec_open(t, "directory on file", "f", O_RDONLY | O_DIRECTORY, NULL, 0);
	rec_open(t, "directory", "d", O_RDONLY | O_DIRECTORY, NULL, 0);
	rec_open(t, "directory via symlink", "ld", O_RDONLY | O_DIRECTORY, NULL,
		 0);

	CTX("O_PATH");
	rec_open(t, "path", "f", O_PATH, NULL, 0);
	rec_open(t, "path nofollow symlink", "l", O_PATH | O_NOFOLLOW, NULL, 0);
	fd = OK(open(P("l"), O_PATH | O_NOFOLLOW));
	if (fd >= 0) {
		char c;

		R(fstat(fd, &st));
		V("O_PATH symlink is a symlink", S_ISLNK(st.st_mode));
		R(read(fd, &c, 1));
		close(fd);
	}

	CTX("O_LARGEFILE");
	fd = OK(open(P("big"), O_RDWR | O_CREAT | O_LARGEFILE, 0644));
	if (fd >= 0) {
		R(pwrite(fd, "past 4 GiB", 10, 5LL << 30));
		R(fstat(fd, &st));
		V("size", st.st_size);
		close(fd);
	}
	rec_open(t, "largefile", "f", O_RDONLY | O_LARGEFILE, model, len);

	CTX("O_SYNC/O_DSYNC");
	rec_open(t, "sync", "f", O_RDWR | O_SYNC, model, len);
	rec_open(t, "dsync", "f", O_RDWR | O_DSYNC, model, len);
	fd = OK(open(P("f"), O_WRONLY | O_SYNC | O_NOFOLLOW));
	if (fd >= 0) {
		R(pwrite(fd, "E", 1, 0));
		close(fd);
	}
	rec_content(t, "after O_SYNC write", P("f"), "Existing content", len);

	CTX("O_DIRECT");
	cr_assert(!posix_memalign((void **)&a, 4096, 4096));
	sfs_fill_pattern(a, 4096, 5);
	fd = OK(open(P("od"), O_RDWR | O_CREAT | O_DIRECT | O_NOFOLLOW, 0644));
	if (fd >= 0) {
		R(pwrite(fd, a, 4096, 0));
		close(fd);
	}
	rec_open(t, "direct", "od", O_RDONLY | O_DIRECT, NULL, 0);
	rec_content(t, "after O_DIRECT write", P("od"), a, 4096);
	free(a);
	rec_listing(t, "top", P(""));
}

/* O_TMPFILE: libfuse 3.14 has no handler for FUSE_TMPFILE, so the kernel
 * answers EOPNOTSUPP, which callers (glibc, Python's tempfile) take as
 * "use a named file". It must not be any other error, nor leave a file. */
static void tmpfile_not_supported(void)
{
	struct sfs_mount *m = &sfs_fx;
	int fd = open(sfs_mpath(m, ""), O_TMPFILE | O_RDWR, 0600);
	DIR *d;
	struct dirent *e;
	int n = 0;

	cr_assert(fd < 0 && errno == EOPNOTSUPP,
		  "O_TMPFILE on the mount: fd %d, %s (want EOPNOTSUPP)", fd,
		  strerror(errno));
	fd = open(sfs_rpath(m, ""), O_TMPFILE | O_RDWR, 0600);
	cr_assert(fd >= 0, "O_TMPFILE on the disk: %s", strerror(errno));
	close(fd);
	d = opendir(sfs_mpath(m, ""));
	cr_assert(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	cr_assert_eq(n, 0, "O_TMPFILE left %d entries", n);
	sfs_mount_stop(m);
}
POSIX_BOTH(tmpfile_not_supported, tmpfile_not_supported, sfs_fx_init_hbi,
	   sfs_fx_init_plain)

/* ---- inode flags (chattr, lsattr) -------------------------------------- */

/* The flag word of rel through a fresh fd. */
static long long rec_flags(struct trace *t, const char *what, const char *rel)
{
	int fd = open(P(rel), O_RDONLY | O_NONBLOCK), flags = 0;
	char label[100];

	snprintf(label, sizeof(label), "flags of %s", what);
	errno = 0;
	if (fd < 0 || ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0)
		flags = -1;
	VE(label, flags);
	if (fd >= 0)
		close(fd);
	return flags;
}

static void set_flags(struct trace *t, const char *rel, int add, int del)
{
	int fd = OK(open(P(rel), O_RDONLY | O_NONBLOCK)), flags = 0;

	if (fd < 0)
		return;
	R(ioctl(fd, FS_IOC_GETFLAGS, &flags));
	flags = (flags | add) & ~del;
	R(ioctl(fd, FS_IOC_SETFLAGS, &flags));
	close(fd);
}

POSIX_TEST(inode_flags)
{
	R(create_file(P("f"), "data", 4));
	R(mkdir(P("d"), 0755));
	rec_flags(t, "new file", "f");
	set_flags(t, "f", FS_IMMUTABLE_FL, 0);
	rec_flags(t, "immutable file", "f");
	R(open(P("f"), O_WRONLY));
	R(truncate(P("f"), 0));
	R(unlink(P("f")));
	R(chmod(P("f"), 0600));
	set_flags(t, "f", 0, FS_IMMUTABLE_FL);
	R(unlink(P("f")));
	set_flags(t, "d", FS_NODUMP_FL | FS_NOATIME_FL, 0);
	rec_flags(t, "directory", "d");
	set_flags(t, "d", FS_IMMUTABLE_FL, 0);
	R(create_file(P("d/x"), "x", 1));
	set_flags(t, "d", 0, FS_IMMUTABLE_FL);
	R(create_file(P("d/x"), "x", 1));
	R(mkfifo(P("fifo"), 0644));
	rec_flags(t, "fifo", "fifo");
}

/* Append-only is the one flag the mount refuses (the content layout and
 * the writeback cache rewrite files in place), with EOPNOTSUPP. */
static void append_only_refused(void)
{
	const char *f = sfs_mpath(&sfs_fx, "f");
	int fd, flags = FS_APPEND_FL;

	cr_assert_eq(sfs_write_file(f, "data", 4), 0);
	fd = open(f, O_RDONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(ioctl(fd, FS_IOC_SETFLAGS, &flags), -1);
	cr_assert_eq(errno, EOPNOTSUPP, "%s", strerror(errno));
	close(fd);
	sfs_mount_stop(&sfs_fx);
}
POSIX_BOTH(append_only_refused, append_only_refused, sfs_fx_init_hbi,
	   sfs_fx_init_plain)

/* ---- locks ----------------------------------------------------------------
 */

static void lock_child(struct trace *t, pid_t parent)
{
	struct flock fl = {.l_type = F_WRLCK,
			   .l_whence = SEEK_SET,
			   .l_start = 10,
			   .l_len = 20};
	int fd = OK(open(P("lk"), O_RDWR));

	if (fd < 0)
		_exit(1);
	R(fcntl(fd, F_SETLK, &fl));
	fl = (struct flock){.l_type = F_WRLCK,
			    .l_whence = SEEK_SET,
			    .l_start = 10,
			    .l_len = 20};
	R(fcntl(fd, F_GETLK, &fl));
	V("getlk type", fl.l_type);
	V("getlk holder is parent", fl.l_pid == parent);
	V("getlk start", fl.l_start);
	fl = (struct flock){.l_type = F_RDLCK,
			    .l_whence = SEEK_SET,
			    .l_start = 200,
			    .l_len = 10};
	R(fcntl(fd, F_SETLK, &fl));
	close(fd);
	_exit(0);
}

static void run_lock_child(struct trace *t)
{
	pid_t parent = getpid(), pid;
	int status = -1;

	fflush(NULL);
	pid = fork();
	if (pid == 0)
		lock_child(t, parent);
	if (pid > 0)
		waitpid(pid, &status, 0);
	V("child exit", status);
}

POSIX_TEST(locks)
{
	struct flock fl;
	int fd1, fd2;

	R(create_file(P("lk"), "0123456789012345678901234567890123456789", 40));
	fd1 = OK(open(P("lk"), O_RDWR));
	fd2 = OK(open(P("lk"), O_RDWR));
	if (fd1 < 0 || fd2 < 0)
		return;
	CTX("flock");
	R(flock(fd1, LOCK_EX));
	R(flock(fd2, LOCK_EX | LOCK_NB));
	R(flock(fd2, LOCK_SH | LOCK_NB));
	R(flock(fd1, LOCK_UN));
	R(flock(fd2, LOCK_SH | LOCK_NB));
	R(flock(fd1, LOCK_SH | LOCK_NB));
	R(flock(fd1, LOCK_EX | LOCK_NB));
	R(flock(fd2, LOCK_UN));
	R(flock(fd1, LOCK_EX | LOCK_NB));
	R(flock(fd1, LOCK_UN));

	CTX("OFD locks");
	fl = (struct flock){.l_type = F_WRLCK,
			    .l_whence = SEEK_SET,
			    .l_start = 0,
			    .l_len = 100};
	R(fcntl(fd1, F_OFD_SETLK, &fl));
	fl = (struct flock){.l_type = F_WRLCK,
			    .l_whence = SEEK_SET,
			    .l_start = 50,
			    .l_len = 10};
	R(fcntl(fd2, F_OFD_SETLK, &fl));
	fl = (struct flock){.l_type = F_RDLCK,
			    .l_whence = SEEK_SET,
			    .l_start = 50,
			    .l_len = 10};
	R(fcntl(fd2, F_OFD_GETLK, &fl));
	V("ofd getlk type", fl.l_type);
	V("ofd getlk pid", fl.l_pid);
	fl = (struct flock){.l_type = F_UNLCK,
			    .l_whence = SEEK_SET,
			    .l_start = 0,
			    .l_len = 100};
	R(fcntl(fd1, F_OFD_SETLK, &fl));
	fl = (struct flock){.l_type = F_WRLCK,
			    .l_whence = SEEK_SET,
			    .l_start = 50,
			    .l_len = 10};
	R(fcntl(fd2, F_OFD_SETLK, &fl));
	fl.l_type = F_UNLCK;
	R(fcntl(fd2, F_OFD_SETLK, &fl));

	CTX("POSIX locks vs another process");
	fl = (struct flock){.l_type = F_WRLCK,
			    .l_whence = SEEK_SET,
			    .l_start = 0,
			    .l_len = 100};
	R(fcntl(fd1, F_SETLK, &fl));
	run_lock_child(t);
	fl.l_type = F_UNLCK;
	R(fcntl(fd1, F_SETLK, &fl));
	CTX("POSIX locks released");
	run_lock_child(t);
	CTX("POSIX lock dropped on close of any fd");
	fl = (struct flock){.l_type = F_WRLCK,
			    .l_whence = SEEK_SET,
			    .l_start = 0,
			    .l_len = 100};
	R(fcntl(fd1, F_SETLK, &fl));
	R(close(fd2));
	run_lock_child(t);
	R(close(fd1));
}

/* ---- xattrs ----------------------------------------------------------------
 */

/* Record the sorted names of @path (not following a symlink) that start
 * with @prefix ("" for all). */
static void rec_xattr_list(struct trace *t, const char *what, const char *path,
			   const char *prefix)
{
	char buf[16384], label[100];
	uint64_t h = FNV0;
	char *names[256];
	ssize_t n;
	size_t cnt = 0, i;
	char *p;

	snprintf(label, sizeof(label), "listxattr %s", what);
	n = llistxattr(path, buf, sizeof(buf));
	VE(label, n < 0 ? -1 : 0);
	if (n < 0)
		n = 0; /* keep the step count */
	for (p = buf; p < buf + n && cnt < 256; p += strlen(p) + 1)
		if (!strncmp(p, prefix, strlen(prefix)))
			names[cnt++] = p;
	qsort(names, cnt, sizeof(*names), sfs_cmp_str);
	for (i = 0; i < cnt; i++)
		h = fnv(h, names[i], strlen(names[i]) + 1);
	snprintf(label, sizeof(label), "%sxattrs %s", prefix, what);
	V(label, (long long)cnt);
	snprintf(label, sizeof(label), "%sxattr names %s", prefix, what);
	V(label, (long long)(h >> 1));
}

POSIX_TEST(xattrs)
{
	char val[4096], buf[4096], name[300];
	static const char bin[16] = {0, 1, 2, 0, 0xff, 'a', 0, 'b'};
	ssize_t n;
	int fd;

	R(create_file(P("x"), "x", 1));
	R(setxattr(P("x"), "user.a", "v1", 2, 0));
	R(getxattr(P("x"), "user.a", NULL, 0));
	n = R(getxattr(P("x"), "user.a", buf, sizeof(buf)));
	if (n >= 0)
		V("user.a", first_diff(buf, "v1", 2));
	R(getxattr(P("x"), "user.a", buf, 1));
	R(setxattr(P("x"), "user.a", "v2", 2, XATTR_CREATE));
	R(setxattr(P("x"), "user.b", "v2", 2, XATTR_REPLACE));
	R(getxattr(P("x"), "user.missing", buf, sizeof(buf)));
	R(setxattr(P("x"), "user.a", "longer value", 12, XATTR_REPLACE));
	n = R(getxattr(P("x"), "user.a", buf, sizeof(buf)));
	if (n >= 0)
		V("user.a replaced", first_diff(buf, "longer value", 12));
	R(setxattr(P("x"), "user.empty", "", 0, 0));
	R(getxattr(P("x"), "user.empty", buf, sizeof(buf)));
	R(setxattr(P("x"), "user.bin", bin, sizeof(bin), 0));
	n = R(getxattr(P("x"), "user.bin", buf, sizeof(buf)));
	if (n >= 0)
		V("user.bin", first_diff(buf, bin, sizeof(bin)));
	sfs_fill_pattern(val, 3000, 81);
	R(setxattr(P("x"), "user.big", val, 3000, 0));
	n = R(getxattr(P("x"), "user.big", buf, sizeof(buf)));
	if (n >= 0)
		V("user.big", first_diff(buf, val, 3000));
	rec_xattr_list(t, "x", P("x"), "user.");
	R(listxattr(P("x"), buf, 3));

	CTX("names");
	/* The longest name (XATTR_NAME_MAX in all), and one longer. */
	snprintf(name, sizeof(name), "user.%s", long_name('x', 250));
	R(setxattr(P("x"), name, "n", 1, 0));
	R(getxattr(P("x"), name, buf, sizeof(buf)));
	rec_xattr_list(t, "x with the longest name", P("x"), "user.");
	R(removexattr(P("x"), name));
	snprintf(name, sizeof(name), "user.%s", long_name('x', 251));
	R(setxattr(P("x"), name, "n", 1, 0));
	R(setxattr(P("x"), "user.", "n", 1, 0));
	R(setxattr(P("x"), "bogus.ns", "n", 1, 0));

	CTX("remove");
	R(removexattr(P("x"), "user.a"));
	R(removexattr(P("x"), "user.a"));
	R(getxattr(P("x"), "user.a", buf, sizeof(buf)));
	rec_xattr_list(t, "x after remove", P("x"), "user.");

	CTX("fd, dir, symlink, missing");
	fd = OK(open(P("x"), O_RDONLY));
	if (fd >= 0) {
		R(fsetxattr(fd, "user.fd", "F", 1, 0));
		R(fgetxattr(fd, "user.fd", buf, sizeof(buf)));
		R(fremovexattr(fd, "user.empty"));
		n = flistxattr(fd, buf, sizeof(buf));
		VE("flistxattr", n < 0 ? -1 : 0);
		R(close(fd));
	}
	rec_xattr_list(t, "x after fd ops", P("x"), "user.");
	R(mkdir(P("d"), 0755));
	R(setxattr(P("d"), "user.dir", "D", 1, 0));
	R(getxattr(P("d"), "user.dir", buf, sizeof(buf)));
	rec_xattr_list(t, "d", P("d"), "user.");
	R(symlink("x", P("sl")));
	R(lsetxattr(P("sl"), "user.sym", "S", 1, 0));
	R(lgetxattr(P("sl"), "user.sym", buf, sizeof(buf)));
	R(getxattr(P("sl"), "user.fd", buf, sizeof(buf)));
	R(setxattr(P("missing"), "user.a", "v", 1, 0));
	R(getxattr(P("missing"), "user.a", buf, sizeof(buf)));
	/* xattrs follow the inode across rename and link. */
	R(rename(P("x"), P("d/x2")));
	R(link(P("d/x2"), P("x3")));
	n = R(getxattr(P("x3"), "user.big", buf, sizeof(buf)));
	if (n >= 0)
		V("user.big after rename+link", first_diff(buf, val, 3000));
	rec_xattr_list(t, "x3", P("x3"), "user.");
}

/* Many small user.* attributes on one file and one directory, as programs
 * that tag files (rsync -X, tar --xattrs, desktop metadata) write them.
 * ext4 keeps 100 of them in its one xattr block; encrypted mode used to
 * give ENOSPC after 44 (one backing attribute per attribute). */
POSIX_TEST(xattr_many)
{
	static const char *const objs[] = {"f", "d"};
	char name[64], buf[64];
	size_t o;
	ssize_t n;
	int i, bad;

	R(create_file(P("f"), "x", 1));
	R(mkdir(P("d"), 0755));
	for (o = 0; o < 2; o++) {
		const char *obj = P(objs[o]);

		CTX("%s: set", objs[o]);
		for (i = 0; i < 100; i++) {
			snprintf(name, sizeof(name), "user.test%d", i);
			R(setxattr(obj, name, &"0123456789"[i % 10], 1, 0));
		}
		CTX("%s: read", objs[o]);
		for (i = 0, bad = 0; i < 100; i++) {
			snprintf(name, sizeof(name), "user.test%d", i);
			n = getxattr(obj, name, buf, sizeof(buf));
			bad += n != 1 || buf[0] != "0123456789"[i % 10];
		}
		V("unreadable or wrong", bad);
		rec_xattr_list(t, objs[o], obj, "user.");
		R(listxattr(obj, NULL, 0));
		CTX("%s: replace, remove", objs[o]);
		R(setxattr(obj, "user.test42", "value of 42", 11,
			   XATTR_REPLACE));
		n = R(getxattr(obj, "user.test42", buf, sizeof(buf)));
		if (n >= 0)
			V("user.test42", first_diff(buf, "value of 42", 11));
		for (i = 0; i < 100; i += 2) {
			snprintf(name, sizeof(name), "user.test%d", i);
			R(removexattr(obj, name));
		}
		rec_xattr_list(t, "after removing half", obj, "user.");
		R(getxattr(obj, "user.test99", buf, sizeof(buf)));
		R(getxattr(obj, "user.test98", buf, sizeof(buf)));
		R(setxattr(obj, "user.test98", "back", 4, XATTR_CREATE));
		R(setxattr(obj, "user.test99", "dup", 3, XATTR_CREATE));
	}
}

/* (name length after "user.", value size) cells: encrypted mode stores at
 * least as many attributes as the disk in every cell up to 512-byte
 * values (README "Extended attributes" has the table). One value of about
 * 4000 bytes fits ext4 but not a sealed set: that cell is not compared. */
static int fill_xattrs(const char *dir, size_t nlen, size_t vlen)
{
	char path[PATH_MAX], name[300], val[512];
	int i;

	snprintf(path, sizeof(path), "%s/cap-%zu-%zu", dir, nlen, vlen);
	cr_assert_eq(sfs_write_file(path, "", 0), 0);
	memset(val, 'v', vlen);
	for (i = 0; i < 100000; i++) {
		snprintf(name, sizeof(name), "user.%0*d", (int)nlen, i);
		if (setxattr(path, name, val, vlen, 0) < 0)
			break;
	}
	cr_assert_eq(errno, ENOSPC, "%s after %d attributes: %s", path, i,
		     strerror(errno));
	return i;
}

static void xattr_capacity_body(void)
{
	static const size_t nlens[] = {8, 32, 128}, vlens[] = {1, 64, 512};
	size_t a, b;

	for (a = 0; a < 3; a++)
		for (b = 0; b < 3; b++) {
			int disk = fill_xattrs(sfs_fx.ref, nlens[a], vlens[b]);
			int mnt = fill_xattrs(sfs_fx.mnt, nlens[a], vlens[b]);

			cr_expect_geq(mnt, disk,
				      "names of %zu, values of %zu bytes: "
				      "%d fit the mount, %d the disk",
				      nlens[a], vlens[b], mnt, disk);
		}
	sfs_mount_stop(&sfs_fx);
}

POSIX_BOTH(xattr_capacity, xattr_capacity_body, sfs_fx_init_hbi,
	   sfs_fx_init_plain)

/* Each namespace on a symlink and a fifo, through the l* calls: the disk
 * refuses user.* on both (EPERM to set, ENODATA to get) and keeps
 * trusted.* and security.* (root only). */
POSIX_TEST(xattr_symlinks)
{
	static const char *const ns[] = {"user.s", "trusted.s", "security.s"};
	static const char *const objs[] = {"sl", "fifo"};
	char buf[256];
	size_t i, o;
	ssize_t n;

	R(create_file(P("x"), "x", 1));
	R(symlink("x", P("sl")));
	R(mkfifo(P("fifo"), 0644));
	for (o = 0; o < 2; o++) {
		const char *obj = P(objs[o]);

		for (i = 0; i < 3; i++) {
			CTX("%s %s", objs[o], ns[i]);
			R(lsetxattr(obj, ns[i], "S1", 2, 0));
			R(lgetxattr(obj, ns[i], NULL, 0));
			n = R(lgetxattr(obj, ns[i], buf, sizeof(buf)));
			if (n >= 0)
				V("value", first_diff(buf, "S1", 2));
			R(lsetxattr(obj, ns[i], "S2", 2, XATTR_CREATE));
			R(lsetxattr(obj, ns[i], "long", 4, XATTR_REPLACE));
			n = R(lgetxattr(obj, ns[i], buf, sizeof(buf)));
			if (n >= 0)
				V("replaced", first_diff(buf, "long", 4));
			R(lgetxattr(obj, ns[i], buf, 1));
		}
		CTX("%s", objs[o]);
		rec_xattr_list(t, objs[o], obj, "");
		R(llistxattr(obj, NULL, 0));
		R(lremovexattr(obj, "trusted.s"));
		R(lremovexattr(obj, "trusted.s"));
		R(lgetxattr(obj, "trusted.s", buf, sizeof(buf)));
		rec_xattr_list(t, "after remove", obj, "");
	}
	CTX("through the symlink");
	R(setxattr(P("sl"), "trusted.t", "T", 1, 0));
	R(lgetxattr(P("x"), "trusted.t", buf, sizeof(buf)));
	R(lgetxattr(P("sl"), "trusted.t", buf, sizeof(buf)));
	R(getxattr(P("sl"), "security.s", buf, sizeof(buf)));
	/* A renamed symlink keeps its attributes. */
	R(rename(P("sl"), P("sl2")));
	R(lgetxattr(P("sl2"), "security.s", buf, sizeof(buf)));
	rec_xattr_list(t, "sl2", P("sl2"), "");
}

/* ---- mode-specific tests ---------------------------------------------------
 */

/* Hash of a file's bytes, 0 when unreadable. */
static uint64_t file_digest(const char *path)
{
	size_t len;
	char *b = sfs_read_file(path, &len);
	uint64_t h;

	if (!b)
		return 0;
	h = fnv(FNV0, b, len);
	free(b);
	return h;
}

/* No listing of the mount root (or a subdir) may show reserved names. */
static void assert_no_reserved(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	cr_assert(d, "opendir %s: %s", dir, strerror(errno));
	while ((de = readdir(d)))
		cr_expect(!reserved_name(de->d_name), "%s lists reserved %s",
			  dir, de->d_name);
	closedir(d);
}

#define LOG_RESERVED(msg)                                                      \
	do {                                                                   \
		if (refuse)                                                    \
			cr_log_error(msg);                                     \
		else                                                           \
			cr_log_info(msg " (allowed in hbi mode)");             \
	} while (0)

/* Try to create or link ".scratchfs" in the root; report each success (an
 * error when @refuse). Returns how many attempts succeeded. */
static int try_reserved_root(struct sfs_mount *m, bool refuse)
{
	const char *rs = sfs_mpath(m, ".scratchfs");
	int fd, ok = 0;

	cr_assert_eq(sfs_write_file(sfs_mpath(m, "victim"), "v", 1), 0);
	cr_assert_eq(mkdir(sfs_mpath(m, "vdir"), 0755), 0);
	fd = open(rs, O_CREAT | O_EXCL | O_WRONLY, 0644);
	if (fd >= 0) {
		LOG_RESERVED("create .scratchfs in the root succeeded");
		close(fd);
		ok++;
		unlink(rs);
	}
	if (mkdir(rs, 0755) == 0) {
		LOG_RESERVED("mkdir .scratchfs in the root succeeded");
		ok++;
		rmdir(rs);
	}
	if (symlink("x", rs) == 0) {
		LOG_RESERVED("symlink .scratchfs in the root succeeded");
		ok++;
		unlink(rs);
	}
	if (mknod(rs, S_IFIFO | 0600, 0) == 0) {
		LOG_RESERVED("mkfifo .scratchfs in the root succeeded");
		ok++;
		unlink(rs);
	}
	if (link(sfs_mpath(m, "victim"), rs) == 0) {
		LOG_RESERVED("link to .scratchfs in the root succeeded");
		ok++;
		unlink(rs);
	}
	if (rename(sfs_mpath(m, "victim"), rs) == 0) {
		LOG_RESERVED("rename onto .scratchfs in the root succeeded");
		ok++;
		rename(rs, sfs_mpath(m, "victim"));
	}
	if (rename(sfs_mpath(m, "vdir"), rs) == 0) {
		LOG_RESERVED(
		    "rename dir onto .scratchfs in the root succeeded");
		ok++;
		rename(rs, sfs_mpath(m, "vdir"));
	}
	return ok;
}

static void reserved_common(struct sfs_mount *m, bool hbi)
{
	const char *vol = sfs_bpath(m, ".scratchfs/volume");
	uint64_t before;
	struct stat st;
	int ok;

	cr_assert_eq(lstat(vol, &st), 0, "no %s: %s", vol, strerror(errno));
	cr_assert(S_ISREG(st.st_mode));
	before = file_digest(vol);
	assert_no_reserved(m->mnt);
	cr_expect_eq(lstat(sfs_mpath(m, ".scratchfs"), &st), -1);
	cr_expect_eq(errno, ENOENT, "lookup .scratchfs: %s", strerror(errno));
	cr_expect_eq(open(sfs_mpath(m, ".scratchfs/volume"), O_RDONLY), -1,
		     "the volume header is reachable through the mount");
	ok = try_reserved_root(m, !hbi);
	if (!hbi)
		cr_expect_eq(ok, 0,
			     "%d way(s) to create .scratchfs in the root of "
			     "a plain mount",
			     ok);
	cr_expect_eq(unlink(sfs_mpath(m, ".scratchfs")), -1);
	cr_expect_eq(rmdir(sfs_mpath(m, ".scratchfs")), -1);
	assert_no_reserved(m->mnt);
	cr_expect_eq(lstat(vol, &st), 0, "volume header gone");
	cr_expect(file_digest(vol) == before, "volume header changed");
	/* Deeper down ".scratchfs" is an ordinary name, in both modes. */
	cr_assert_eq(mkdir(sfs_mpath(m, "sub"), 0755), 0);
	cr_expect_eq(sfs_write_file(sfs_mpath(m, "sub/.scratchfs"), "ok", 2), 0,
		     "sub/.scratchfs: %s", strerror(errno));
	cr_expect_eq(mkdir(sfs_mpath(m, "sub/.sfs.diriv"), 0755), 0,
		     "sub/.sfs.diriv: %s", strerror(errno));
	cr_expect_eq(sfs_write_file(sfs_mpath(m, "sub/.sfs.L.x"), "l", 1), 0,
		     "sub/.sfs.L.x: %s", strerror(errno));
	{
		size_t len;
		char *s = sfs_read_file(sfs_mpath(m, "sub/.scratchfs"), &len);

		cr_expect(s && len == 2 && !memcmp(s, "ok", 2));
		free(s);
	}
}

Test(posix_plain, reserved_names, .init = sfs_fx_init_plain,
     .fini = sfs_fx_fini, .timeout = TEST_TIMEOUT)
{
	struct stat st;

	reserved_common(&sfs_fx, false);
	/* Plain mode mirrors the tree 1:1. */
	cr_expect_eq(sfs_write_file(sfs_mpath(&sfs_fx, "secretname"), "p", 1),
		     0);
	cr_expect_eq(lstat(sfs_bpath(&sfs_fx, "secretname"), &st), 0,
		     "plain mode must store names as they are");
	sfs_mount_stop(&sfs_fx);
}

/* Symlink targets in either mode: up to PATH_MAX - 1 bytes, as the disk
 * (README, doc/FORMAT.md section 7; hbi mode stores those over 4062 bytes
 * out of line), and ENAMETOOLONG beyond. */
static void check_limits(void)
{
	char target[4097], buf[4097];
	const char *link = sfs_mpath(&sfs_fx, "lnk");

	memset(target, 't', 4096);
	for (size_t len = 4062; len <= 4095; len += 33) {
		target[len] = '\0';
		cr_assert_eq(symlink(target, link), 0, "%zu: %s", len,
			     strerror(errno));
		cr_assert_eq(readlink(link, buf, sizeof(buf)), (ssize_t)len);
		cr_assert_eq(unlink(link), 0);
		target[len] = 't';
	}
	target[4096] = '\0';
	errno = 0;
	cr_assert_eq(symlink(target, link), -1);
	cr_assert_eq(errno, ENAMETOOLONG, "%s", strerror(errno));
	sfs_mount_stop(&sfs_fx);
}

Test(posix_hbi, limits, .init = sfs_fx_init_hbi, .fini = sfs_fx_fini,
     .timeout = TEST_TIMEOUT)
{
	check_limits();
}

Test(posix_plain, limits, .init = sfs_fx_init_plain, .fini = sfs_fx_fini,
     .timeout = TEST_TIMEOUT)
{
	check_limits();
}

Test(posix_hbi, reserved_names, .init = sfs_fx_init_hbi, .fini = sfs_fx_fini,
     .timeout = TEST_TIMEOUT)
{
	struct dirent *de;
	DIR *d;

	reserved_common(&sfs_fx, true);
	/* At the top level, ".sfs.diriv" is a user name like any other. */
	cr_expect_eq(sfs_write_file(sfs_mpath(&sfs_fx, ".sfs.diriv"), "u", 1),
		     0, "create .sfs.diriv: %s", strerror(errno));
	cr_expect_eq(sfs_write_file(sfs_mpath(&sfs_fx, "secretname"), "p", 1),
		     0);
	d = opendir(sfs_fx.backing);
	cr_assert(d);
	while ((de = readdir(d)))
		cr_expect(!strstr(de->d_name, "secretname"),
			  "plaintext name in the backing dir: %s", de->d_name);
	closedir(d);
	sfs_mount_stop(&sfs_fx);
}

Test(posix_plain, persists_across_remount, .init = sfs_fx_init_plain,
     .fini = sfs_fx_fini, .timeout = TEST_TIMEOUT)
{
	char data[20000];
	size_t len;
	char *back;
	int fd;

	sfs_fill_pattern(data, sizeof(data), 91);
	fd = open(sfs_mpath(&sfs_fx, "keep"), O_CREAT | O_WRONLY, 0640);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	cr_assert_eq(fsync(fd), 0);
	cr_assert_eq(close(fd), 0);
	sfs_mount_stop(&sfs_fx);
	back = sfs_read_file(sfs_bpath(&sfs_fx, "keep"), &len);
	cr_assert(back && len == sizeof(data) && !memcmp(back, data, len),
		  "plain mode must store the bytes as they are");
	free(back);
	sfs_mount_start(&sfs_fx, "hbi=0");
	back = sfs_read_file(sfs_mpath(&sfs_fx, "keep"), &len);
	cr_assert(back && len == sizeof(data) && !memcmp(back, data, len),
		  "content lost across remount");
	free(back);
	sfs_mount_stop(&sfs_fx);
}

/* ---- permissions as a non-root user
 * ------------------------------------------ */

#define USER_ID 1000
#define OTHER_ID 2000
#define GROUP_ID 3000

/* Root prepares the tree; then a child with uid/gid 1000 and no
 * supplementary groups acts on it. */
static void sc_permissions(struct trace *t)
{
	pid_t pid;
	int status = -1;

	umask(0);
	CTX("setup as root");
	R(chmod(P(""), 0755));
	R(create_file(P("secret"), "s", 1));
	R(chmod(P("secret"), 0600));
	R(mkdir(P("ro"), 0555));
	R(mkdir(P("pub"), 0777));
	R(create_file(P("theirs"), "t", 1));
	R(chown(P("theirs"), OTHER_ID, OTHER_ID));
	R(create_file(P("mine"), "m", 1));
	R(chown(P("mine"), USER_ID, USER_ID));
	R(mkdir(P("sticky"), 01777));
	R(create_file(P("sticky/victim"), "v", 1));
	R(chmod(P("sticky/victim"), 0666));
	R(chown(P("sticky/victim"), OTHER_ID, OTHER_ID));
	R(mkdir(P("sgid"), 0777));
	R(chown(P("sgid"), 0, GROUP_ID));
	R(chmod(P("sgid"), 02777));
	rec_stat(t, "sgid", P("sgid"), true);

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		struct stat st;
		int fd;

		if (setgroups(0, NULL) || setgid(USER_ID) || setuid(USER_ID))
			_exit(2);
		umask(022);
		CTX("uid 1000");
		R(stat(P("secret"), &st));
		R(open(P("secret"), O_RDONLY));
		R(open(P("secret"), O_WRONLY));
		R(truncate(P("secret"), 0));
		R(open(P("ro/new"), O_CREAT | O_WRONLY, 0644));
		R(mkdir(P("ro/d"), 0755));
		R(unlink(P("secret")));

		CTX("create as uid 1000");
		fd = OK(open(P("pub/f"), O_CREAT | O_WRONLY, 0644));
		if (fd >= 0) {
			R(fstat(fd, &st));
			V("new file uid", st.st_uid);
			V("new file gid", st.st_gid);
			V("new file mode", st.st_mode);
			R(write(fd, "u", 1));
			close(fd);
		}
		R(mkdir(P("pub/d"), 0777));
		rec_stat(t, "pub/d", P("pub/d"), true);
		R(symlink("f", P("pub/l")));
		rec_stat(t, "pub/l", P("pub/l"), true);
		R(mkfifo(P("pub/p"), 0666));
		rec_stat(t, "pub/p", P("pub/p"), true);

		CTX("someone else's file");
		R(chmod(P("theirs"), 0777));
		R(chown(P("theirs"), USER_ID, USER_ID));
		R(open(P("theirs"), O_WRONLY));
		R(open(P("theirs"), O_RDONLY) >= 0);
		R(utimensat(AT_FDCWD, P("theirs"), NULL, 0));
		R(utimensat(AT_FDCWD, P("theirs"),
			    ((struct timespec[2]){{1, 0}, {1, 0}}), 0));
		R(setxattr(P("theirs"), "user.x", "x", 1, 0));
		R(link(P("secret"), P("pub/hl")));
		rec_stat(t, "theirs", P("theirs"), true);

		CTX("own file");
		R(chmod(P("mine"), 0600));
		R(chown(P("mine"), (uid_t)-1, GROUP_ID));
		R(chown(P("mine"), USER_ID, USER_ID));
		R(chmod(P("mine"), 02755));
		rec_stat(t, "mine", P("mine"), true);
		R(utimensat(AT_FDCWD, P("mine"),
			    ((struct timespec[2]){{7, 0}, {8, 0}}), 0));
		R(chmod(P("pub/f"), 02755));
		rec_stat(t, "pub/f", P("pub/f"), true);

		CTX("sticky dir");
		R(unlink(P("sticky/victim")));
		R(rename(P("sticky/victim"), P("sticky/x")));
		R(create_file(P("sticky/own"), "o", 1));
		R(rename(P("sticky/own"), P("sticky/own2")));
		R(unlink(P("sticky/own2")));
		rec_stat(t, "sticky/victim", P("sticky/victim"), true);

		CTX("setgid dir");
		fd = OK(open(P("sgid/f"), O_CREAT | O_WRONLY, 0664));
		if (fd >= 0) {
			R(fstat(fd, &st));
			V("sgid child gid", st.st_gid);
			V("sgid child mode", st.st_mode);
			close(fd);
		}
		R(mkdir(P("sgid/d"), 0775));
		rec_stat(t, "sgid/d", P("sgid/d"), true);
		/* Not a member of GROUP_ID: setting S_ISGID is dropped. */
		R(chmod(P("sgid/f"), 02775));
		rec_stat(t, "sgid/f", P("sgid/f"), true);
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	CTX("after child");
	V("child exit status", status);
	rec_stat(t, "pub/f as root", P("pub/f"), true);
	rec_listing(t, "pub", P("pub"));
	rec_listing(t, "sticky", P("sticky"));
}

/* Set-ID bits after a change of content, by root (who keeps them) and by
 * uid 1000 (who has no CAP_FSETID and so clears set-user-ID, and
 * set-group-ID where the group may execute), for every way of changing it.
 * With FUSE_HANDLE_KILLPRIV_V2 the kernel leaves this to the daemon. */
static void sc_setid_changes(struct trace *t)
{
	static const char *const ways[] = {"write", "truncate", "otrunc",
					   "falloc", "falloc_keep"};
	static const mode_t modes[] = {06777, 02767, 04777, 02777};
	char name[64];
	pid_t pid;
	int status = -1;

	umask(0);
	CTX("setup as root");
	R(chmod(P(""), 0777));
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++)
		for (size_t w = 0; w < sizeof(ways) / sizeof(ways[0]); w++)
			for (int who = 0; who < 2; who++) {
				snprintf(name, sizeof(name), "%s_%o_%s",
					 who ? "user" : "root", modes[m],
					 ways[w]);
				R(create_file(P(name), "0123456789", 10));
				R(chmod(P(name), modes[m]));
			}
	fflush(NULL);
	for (int who = 0; who < 2; who++) {
		pid = fork();
		if (pid == 0) {
			if (who && (setgroups(0, NULL) || setgid(USER_ID) ||
				    setuid(USER_ID)))
				_exit(2);
			for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]);
			     m++) {
				const char *pre = who ? "user" : "root";
				int fd;

				CTX("%s, mode %o", pre, modes[m]);
				snprintf(name, sizeof(name), "%s_%o_write", pre,
					 modes[m]);
				fd = OK(open(P(name), O_WRONLY));
				R(write(fd, "w", 1));
				R(close(fd));
				rec_stat(t, name, P(name), true);
				snprintf(name, sizeof(name), "%s_%o_truncate",
					 pre, modes[m]);
				R(truncate(P(name), 3));
				rec_stat(t, name, P(name), true);
				snprintf(name, sizeof(name), "%s_%o_otrunc",
					 pre, modes[m]);
				fd = OK(open(P(name), O_WRONLY | O_TRUNC));
				R(close(fd));
				rec_stat(t, name, P(name), true);
				snprintf(name, sizeof(name), "%s_%o_falloc",
					 pre, modes[m]);
				fd = OK(open(P(name), O_WRONLY));
				R(fallocate(fd, 0, 0, 8192));
				R(close(fd));
				rec_stat(t, name, P(name), true);
				snprintf(name, sizeof(name),
					 "%s_%o_falloc_keep", pre, modes[m]);
				fd = OK(open(P(name), O_WRONLY));
				R(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 8192));
				R(close(fd));
				rec_stat(t, name, P(name), true);
			}
			_exit(0);
		}
		if (pid > 0)
			waitpid(pid, &status, 0);
		V("child exit status", status);
	}
}

static void setid_body(void)
{
	struct stat st;

	cr_assert_eq(geteuid(), 0, "permission tests need root");
	cr_assert_eq(chmod(sfs_fx.root, 0755), 0);
	run_both(&sfs_fx, sc_setid_changes);
	/* Known values, beyond agreeing with the reference. */
	cr_assert_eq(stat(sfs_mpath(&sfs_fx, "user_6777_write"), &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0777, "mode %o after a user write",
		     st.st_mode & 07777);
	cr_assert_eq(stat(sfs_mpath(&sfs_fx, "root_6777_write"), &st), 0);
	cr_expect_eq(st.st_mode & 07777, 06777, "mode %o after a root write",
		     st.st_mode & 07777);
	sfs_mount_stop(&sfs_fx);
}

static void init_hbi_perm(void)
{
	sfs_mount_setup(&sfs_fx);
	sfs_mount_start(&sfs_fx, "hbi=1,allow_other,default_permissions");
}

static void init_plain_perm(void)
{
	sfs_mount_setup(&sfs_fx);
	sfs_mount_start(&sfs_fx, "hbi=0,allow_other,default_permissions");
}

/* ---- POSIX ACLs --------------------------------------------------------
 * Written as the raw xattr setfacl(1) writes (version 2, then tag, perm,
 * id entries, little-endian), checked by the kernel as on the disk. */

#define ACL_USER_OBJ 0x01
#define ACL_USER 0x02
#define ACL_GROUP_OBJ 0x04
#define ACL_MASK 0x10
#define ACL_OTHER 0x20
#define ACL_NOBODY 0xffffffffu

struct acl_entry {
	uint16_t tag, perm;
	uint32_t id;
};

/* Builds the xattr value of the entries into buf; returns its size. */
static size_t acl_value(uint8_t *buf, const struct acl_entry *e, size_t n)
{
	uint32_t version = 2;

	memcpy(buf, &version, 4);
	for (size_t i = 0; i < n; i++)
		memcpy(buf + 4 + 8 * i, &e[i], 8);
	return 4 + 8 * n;
}

static void sc_acls(struct trace *t)
{
	static const struct acl_entry access[] = {
	    {ACL_USER_OBJ, 6, ACL_NOBODY},
	    {ACL_USER, 4, USER_ID},
	    {ACL_GROUP_OBJ, 4, ACL_NOBODY},
	    {ACL_MASK, 4, ACL_NOBODY},
	    {ACL_OTHER, 0, ACL_NOBODY}};
	static const struct acl_entry dflt[] = {{ACL_USER_OBJ, 7, ACL_NOBODY},
						{ACL_USER, 6, USER_ID},
						{ACL_GROUP_OBJ, 5, ACL_NOBODY},
						{ACL_MASK, 7, ACL_NOBODY},
						{ACL_OTHER, 0, ACL_NOBODY}};
	uint8_t a[64], b[64], got[64];
	size_t alen = acl_value(a, access, 5), dlen = acl_value(b, dflt, 5);
	int status = -1;
	pid_t pid;

	R(chmod(P(""), 0755));
	R(create_file(P("f"), "secret", 6));
	R(chmod(P("f"), 0600));
	R(setxattr(P("f"), "system.posix_acl_access", a, alen, 0));
	rec_stat(t, "f with an access ACL", P("f"), true);
	V("access ACL reads back",
	  getxattr(P("f"), "system.posix_acl_access", got, sizeof(got)) ==
		  (ssize_t)alen &&
	      !memcmp(got, a, alen));
	R(mkdir(P("d"), 0700));
	dlen = acl_value(b, dflt, 5);
	R(setxattr(P("d"), "system.posix_acl_default", b, dlen, 0));
	/* Inherited: the default ACL, not the umask, sets the new modes. */
	umask(077);
	R(create_file(P("d/new"), "n", 1));
	R(mkdir(P("d/sub"), 0777));
	umask(022);
	rec_stat(t, "d/new", P("d/new"), true);
	rec_stat(t, "d/sub", P("d/sub"), true);
	V("d/sub inherits the default ACL",
	  getxattr(P("d/sub"), "system.posix_acl_default", NULL, 0));
	/* Without a default ACL the umask applies as usual. */
	umask(027);
	R(create_file(P("plain"), "p", 1));
	umask(022);
	rec_stat(t, "plain", P("plain"), true);
	R(chmod(P("d"), 0711));

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		if (setgroups(0, NULL) || setgid(OTHER_ID) || setuid(USER_ID))
			_exit(2);
		CTX("uid 1000");
		/* Mode 0600 of root's file, but the ACL grants uid 1000 r. */
		R(open(P("f"), O_RDONLY) >= 0);
		R(open(P("f"), O_WRONLY));
		R(open(P("d/new"), O_RDWR) >= 0);
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	CTX("after child");
	V("child exit status", status);
	/* chmod rewrites the mask entry, as on the disk. */
	R(chmod(P("f"), 0640));
	V("ACL after chmod",
	  getxattr(P("f"), "system.posix_acl_access", b, sizeof(b)));
	R(removexattr(P("f"), "system.posix_acl_access"));
	rec_stat(t, "f without its ACL", P("f"), true);
}

static void acls_body(void)
{
	cr_assert_eq(chmod(sfs_fx.root, 0755), 0);
	run_both(&sfs_fx, sc_acls);
	sfs_mount_stop(&sfs_fx);
}
POSIX_BOTH(acls, acls_body, init_hbi_perm, init_plain_perm)

static void open_flags_body(void)
{
	cr_assert_eq(chmod(sfs_fx.root, 0755), 0);
	run_both(&sfs_fx, sc_open_flags);
	sfs_mount_stop(&sfs_fx);
}
POSIX_BOTH(open_flags, open_flags_body, init_hbi_perm, init_plain_perm)

static void perm_body(void)
{
	struct stat st;

	cr_assert_eq(geteuid(), 0, "permission tests need root");
	cr_assert_eq(chmod(sfs_fx.root, 0755), 0);
	run_both(&sfs_fx, sc_permissions);
	/* Known values, beyond agreeing with the reference. */
	cr_assert_eq(lstat(sfs_mpath(&sfs_fx, "pub/f"), &st), 0);
	cr_expect(st.st_uid == USER_ID && st.st_gid == USER_ID,
		  "file created by uid 1000 is owned by %u:%u", st.st_uid,
		  st.st_gid);
	cr_assert_eq(lstat(sfs_mpath(&sfs_fx, "sgid/f"), &st), 0);
	cr_expect_eq(st.st_gid, GROUP_ID, "setgid dir: child gid %u",
		     st.st_gid);
	sfs_mount_stop(&sfs_fx);
}

POSIX_BOTH(permissions_non_root, perm_body, init_hbi_perm, init_plain_perm)

/* The daemon remembers that a file has no security.capability (the kernel
 * asks before every write): setting one through the mount must show at
 * once, and the write that follows must drop it again, as on ext4. */
static void check_capability_cache(void)
{
	/* vfs_cap_data revision 2 (20 bytes): permitted = CAP_NET_RAW. */
	const uint32_t caps[5] = {0x02000000, 1U << 13, 0, 0, 0};
	const char *f = sfs_mpath(&sfs_fx, "capfile");
	uint32_t got[8];
	int fd = open(f, O_CREAT | O_RDWR, 0755);

	cr_assert_geq(fd, 0, "%s", strerror(errno));
	cr_assert_eq(pwrite(fd, "a", 1, 0), 1);
	cr_assert_eq(getxattr(f, "security.capability", got, sizeof(got)), -1);
	cr_assert_eq(errno, ENODATA, "%s", strerror(errno));
	cr_assert_eq(setxattr(f, "security.capability", caps, sizeof(caps), 0),
		     0, "%s", strerror(errno));
	cr_assert_eq(getxattr(f, "security.capability", got, sizeof(got)),
		     (ssize_t)sizeof(caps), "set capability not visible");
	cr_assert_eq(memcmp(got, caps, sizeof(caps)), 0);
	/* A write by an unprivileged-looking path drops it (file_remove_privs
	 * through the mount's removexattr). */
	cr_assert_eq(pwrite(fd, "b", 1, 0), 1);
	cr_assert_eq(getxattr(f, "security.capability", got, sizeof(got)), -1,
		     "capability survived a write");
	cr_assert_eq(errno, ENODATA, "%s", strerror(errno));
	close(fd);
	sfs_mount_stop(&sfs_fx);
}

POSIX_BOTH(capability_cache, check_capability_cache, sfs_fx_init_hbi,
	   sfs_fx_init_plain)

/* The one entry of dir of type (DT_REG, DT_DIR) whose name does not start
 * with '.' (encrypted backing names never do; our own files all do). */
static void only_entry(const char *dir, unsigned char type, char *out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	cr_assert(d, "%s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && e->d_type == type) {
			strcpy(out, sfs_join(dir, e->d_name));
			n++;
		}
	closedir(d);
	cr_assert_eq(n, 1, "%d entries of type %u in %s", n, type, dir);
}

/* Pages of the file at path that are in the page cache. */
static size_t resident_pages(const char *path, size_t *total)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	unsigned char *vec;
	size_t pages, n = 0;
	void *map;

	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(fstat(fd, &st), 0);
	pages = ((size_t)st.st_size + 4095) / 4096;
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq(map, MAP_FAILED, "%s", strerror(errno));
	vec = malloc(pages);
	cr_assert(vec);
	cr_assert_eq(mincore(map, (size_t)st.st_size, vec), 0);
	for (size_t i = 0; i < pages; i++)
		n += vec[i] & 1;
	free(vec);
	munmap(map, (size_t)st.st_size);
	close(fd);
	*total = pages;
	return n;
}

/* Long reads of an encrypted file go around the backing page cache (the
 * daemon opens the file O_DIRECT for them) and still return the right
 * bytes, also right after a write that is still dirty there. */
Test(posix_hbi, long_reads_skip_the_backing_page_cache, .init = sfs_fx_init_hbi,
     .fini = sfs_fx_fini, .timeout = TEST_TIMEOUT)
{
	const size_t len = 8U << 20, chunk = 1U << 20;
	const char *f = sfs_mpath(&sfs_fx, "big");
	uint8_t *want = malloc(len), *got = NULL;
	char backing[PATH_MAX];
	size_t total, resident;
	int fd, bfd, wfd;

	cr_assert(want);
	cr_assert_eq(posix_memalign((void **)&got, 4096, chunk), 0);
	sfs_fill_pattern(want, len, 41);
	cr_assert_eq(sfs_write_file(f, want, len), 0);
	only_entry(sfs_fx.backing, DT_REG, backing);
	/* Written back and evicted: nothing of it is cached any more. */
	bfd = open(backing, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(bfd, 0);
	cr_assert_eq(fdatasync(bfd), 0);
	cr_assert_eq(posix_fadvise(bfd, 0, 0, POSIX_FADV_DONTNEED), 0);
	close(bfd);
	/* O_DIRECT through the mount: every read reaches the daemon. */
	fd = open(f, O_RDONLY | O_DIRECT | O_CLOEXEC);
	cr_assert_geq(fd, 0, "%s", strerror(errno));
	for (size_t off = 0; off < len; off += chunk) {
		cr_assert_eq(pread(fd, got, chunk, (off_t)off), (ssize_t)chunk);
		cr_assert(memcmp(got, want + off, chunk) == 0,
			  "wrong bytes at %zu", off);
	}
	resident = resident_pages(backing, &total);
	/* The metadata pages (1 in 145) may be cached; the data must not. */
	cr_assert_lt(resident, total / 20,
		     "%zu of %zu backing pages cached after long reads",
		     resident, total);
	/* A rewrite sits dirty in the backing page cache; a long read
	 * right after it must see it. */
	sfs_fill_pattern(want + chunk, 3 * chunk, 42);
	wfd = open(f, O_WRONLY | O_CLOEXEC);
	cr_assert_geq(wfd, 0);
	cr_assert_eq(pwrite(wfd, want + chunk, 3 * chunk, (off_t)chunk),
		     (ssize_t)(3 * chunk));
	cr_assert_eq(close(wfd), 0); /* the kernel's cache reaches the daemon */
	for (size_t off = 0; off < len; off += chunk) {
		cr_assert_eq(pread(fd, got, chunk, (off_t)off), (ssize_t)chunk);
		cr_assert(memcmp(got, want + off, chunk) == 0,
			  "wrong bytes at %zu after the rewrite", off);
	}
	close(fd);
	free(got);
	free(want);
	sfs_mount_stop(&sfs_fx);
}

POSIX_BOTH(setid_bits_after_changes, setid_body, init_hbi_perm, init_plain_perm)

/* FUSE requests of opcode name (e.g. "FUSE_GETXATTR") the kernel sends to
 * the mount at mnt while body runs, counted with the fuse_request_send
 * tracepoint in a tracefs instance of our own. -1 without tracefs. */
static long count_requests(const char *mnt, const char *name,
			   void (*body)(void))
{
	char inst[128], path[256], filter[64], line[512];
	long n = 0;
	struct stat st;
	FILE *f;

	snprintf(inst, sizeof(inst), "/sys/kernel/tracing/instances/sfs-%d",
		 (int)getpid());
	/* A fresh machine may not have tracefs mounted yet. */
	if (stat("/sys/kernel/tracing/instances", &st) < 0)
		(void)mount("tracefs", "/sys/kernel/tracing", "tracefs", 0,
			    NULL);
	if (mkdir(inst, 0700) < 0)
		return -1;
	cr_assert_eq(stat(mnt, &st), 0);
	/* The tracepoint prints the kernel's dev_t: major << 20 | minor. */
	snprintf(filter, sizeof(filter), "connection == %u\n",
		 (major(st.st_dev) << 20) | minor(st.st_dev));
	snprintf(path, sizeof(path), "%s/events/fuse/fuse_request_send/filter",
		 inst);
	cr_assert_eq(sfs_write_file(path, filter, strlen(filter)), 0);
	snprintf(path, sizeof(path), "%s/events/fuse/fuse_request_send/enable",
		 inst);
	cr_assert_eq(sfs_write_file(path, "1\n", 2), 0);
	body();
	cr_assert_eq(sfs_write_file(path, "0\n", 2), 0);
	snprintf(path, sizeof(path), "%s/trace", inst);
	f = fopen(path, "r");
	cr_assert(f, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (strstr(line, name))
			n++;
	fclose(f);
	cr_assert_eq(rmdir(inst), 0, "%s: %s", inst, strerror(errno));
	return n;
}

/* Skipping leaves .fini unrun: unmount and clean up first. */
static void __attribute__((noreturn)) skip_without_tracefs(void)
{
	int e = errno;

	sfs_fx_fini();
	cr_skip_test("no tracefs instances: %s", strerror(e));
}

static void many_small_writes(void)
{
	int fd = open(sfs_mpath(&sfs_fx, "w"), O_CREAT | O_WRONLY, 0644);

	cr_assert_geq(fd, 0);
	for (int i = 0; i < 64; i++)
		cr_assert_eq(pwrite(fd, "x", 1, (off_t)i * 8192), 1);
	cr_assert_eq(close(fd), 0);
}

/* The kernel handed set-ID clearing to the daemon (FUSE_HANDLE_KILLPRIV_V2)
 * and so stopped asking for security.capability before every write(2):
 * one question for the new file, not one per write. */
static void check_no_getxattr_per_write(void)
{
	long n = count_requests(sfs_fx.mnt, "FUSE_GETXATTR", many_small_writes);

	if (n < 0)
		skip_without_tracefs();
	cr_assert_leq(n, 2, "%ld GETXATTR requests for 64 writes", n);
	sfs_mount_stop(&sfs_fx);
}

POSIX_BOTH(no_getxattr_per_write, check_no_getxattr_per_write, sfs_fx_init_hbi,
	   sfs_fx_init_plain)

static void list_twenty_dirs(void)
{
	char rel[32];

	for (int i = 0; i < 20; i++) {
		DIR *d;

		snprintf(rel, sizeof(rel), "d%d", i);
		d = opendir(sfs_mpath(&sfs_fx, rel));
		cr_assert(d, "%s", strerror(errno));
		while (readdir(d))
			;
		closedir(d);
	}
}

/* Listings need no directory handle: after the first OPENDIR (answered
 * "not needed") the kernel sends neither OPENDIR nor RELEASEDIR, two round
 * trips less per directory listed. */
static void check_no_opendir(void)
{
	char rel[32];
	long opens, releases;

	for (int i = 0; i < 20; i++) {
		snprintf(rel, sizeof(rel), "d%d", i);
		cr_assert_eq(mkdir(sfs_mpath(&sfs_fx, rel), 0755), 0);
	}
	opens = count_requests(sfs_fx.mnt, "FUSE_OPENDIR", list_twenty_dirs);
	if (opens < 0)
		skip_without_tracefs();
	releases =
	    count_requests(sfs_fx.mnt, "FUSE_RELEASEDIR", list_twenty_dirs);
	cr_assert_leq(opens, 1, "%ld OPENDIR requests for 20 listings", opens);
	cr_assert_eq(releases, 0, "%ld RELEASEDIR requests", releases);
	sfs_mount_stop(&sfs_fx);
}

POSIX_BOTH(no_opendir_requests, check_no_opendir, sfs_fx_init_hbi,
	   sfs_fx_init_plain)

/* Listing a directory reads its subdirectories' IV files ahead (a walk
 * lists them next): after a cold listing of p, the IV files of p's
 * subdirectories come into the page cache without anyone using them. */
Test(posix_hbi, subdirectory_ivs_read_ahead, .init = sfs_fx_init_hbi,
     .fini = sfs_fx_fini, .timeout = TEST_TIMEOUT)
{
	char rel[32], bp[PATH_MAX];
	size_t total, cached = 0;
	DIR *d;

	cr_assert_eq(mkdir(sfs_mpath(&sfs_fx, "p"), 0755), 0);
	for (int i = 0; i < 16; i++) {
		snprintf(rel, sizeof(rel), "p/sub%d", i);
		cr_assert_eq(mkdir(sfs_mpath(&sfs_fx, rel), 0755), 0);
	}
	sync();
	/* The kernel forgets the entries (so the daemon its cached IVs) and
	 * the page cache drops the IV files. */
	cr_assert_eq(sfs_write_file("/proc/sys/vm/drop_caches", "3\n", 2), 0);
	d = opendir(sfs_mpath(&sfs_fx, "p"));
	cr_assert(d, "%s", strerror(errno));
	while (readdir(d))
		;
	closedir(d);
	only_entry(sfs_fx.backing, DT_DIR, bp);
	for (int tries = 0; tries < 100 && cached < 16; tries++) {
		DIR *b = opendir(bp);
		struct dirent *e;

		cr_assert(b, "%s: %s", bp, strerror(errno));
		cached = 0;
		while ((e = readdir(b)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			cached +=
			    resident_pages(sfs_join(sfs_join(bp, e->d_name),
						    SFS_DIRIV_NAME),
					   &total) == total;
		}
		closedir(b);
		if (cached < 16)
			sfs_sleep_ms(20);
	}
	cr_assert_eq(cached, 16, "%zu of 16 subdirectory IVs read ahead",
		     cached);
	sfs_mount_stop(&sfs_fx);
}

/* Long writes are sealed before the file's content lock is taken; one
 * whose last block is partial must still keep the stored bytes after it
 * in that block (O_DIRECT, so the daemon sees exactly these writes). */
Test(posix_hbi, long_write_keeps_the_rest_of_its_last_block,
     .init = sfs_fx_init_hbi, .fini = sfs_fx_fini, .timeout = TEST_TIMEOUT)
{
	const size_t len = 1U << 20, part = (128U << 10) + 100;
	const char *f = sfs_mpath(&sfs_fx, "f");
	uint8_t *want = malloc(len), *buf = NULL, *got;
	size_t n;
	int fd;

	cr_assert(want);
	cr_assert_eq(posix_memalign((void **)&buf, 4096, part + 4096), 0);
	sfs_fill_pattern(want, len, 7);
	cr_assert_eq(sfs_write_file(f, want, len), 0);
	sfs_fill_pattern(buf, part, 8);
	memcpy(want, buf, part);
	fd = open(f, O_WRONLY | O_DIRECT | O_CLOEXEC);
	cr_assert_geq(fd, 0, "%s", strerror(errno));
	cr_assert_eq(pwrite(fd, buf, part, 0), (ssize_t)part, "%s",
		     strerror(errno));
	/* And one that starts a block and ends the file mid-block. */
	cr_assert_eq(pwrite(fd, buf, part, (off_t)(len - 4096)), (ssize_t)part);
	close(fd);
	memcpy(want + len - 4096, buf, 4096);
	got = sfs_read_file(f, &n);
	cr_assert_not_null(got);
	cr_assert_eq(n, len - 4096 + part);
	cr_assert(memcmp(got, want, len - 4096) == 0,
		  "bytes differ before the second write");
	cr_assert(memcmp(got + len - 4096, buf, part) == 0,
		  "the second write differs");
	free(got);
	free(buf);
	free(want);
	sfs_mount_stop(&sfs_fx);
}
