/* test_random_ops.c - seeded random file operations through a real mount,
 * checked op by op against an in-memory model, in both modes. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mount_util.h"
#include "sfs_sys.h"

/* Default seed; SFS_TEST_SEED=<number> replays another sequence. */
#define DEFAULT_SEED 0x5eed5c4a7c4fULL

#define NFILES 4
#define OPS_MAIN 90000UL
#define OPS_THREAD 10000UL /* per thread, two threads */
#ifndef OPS_SELFTEST
#define OPS_SELFTEST 4000UL
#endif
#define MAX_IO (200U * 1024U)
#define MAX_FILE (1280U * 1024U)
#define MAX_MAP (64U * 1024U)
#define HIST 8
#define CHUNK (256U * 1024U)

struct rng {
	uint64_t s;
};

/* splitmix64: tiny, fast, and the same sequence on every platform. */
static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rng_below(struct rng *r, uint64_t n)
{
	return n ? rng_next(r) % n : 0;
}

static void rng_fill(struct rng *r, uint8_t *buf, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint64_t v = rng_next(r);
		size_t n = len - i < 8 ? len - i : 8;

		memcpy(buf + i, &v, n);
		i += n;
	}
}

/* What the file must contain: a growable byte array. */
struct model {
	uint8_t *data;
	size_t size;
	size_t cap;
};

struct rfile {
	char path[PATH_MAX];
	int fd;	 /* O_RDWR */
	int afd; /* O_WRONLY | O_APPEND */
	struct model m;
};

/* One independent operation stream (the main phase or one thread). */
struct runner {
	struct rng rng;
	uint64_t seed;
	unsigned long idx;
	char op[192];
	char hist[HIST][192];
	char err[1024];
	bool failed;
	struct rfile *files;
	size_t nfiles;
	uint8_t *wbuf;
	uint8_t *rbuf;
};

__attribute__((format(printf, 2, 3))) static bool fail(struct runner *r,
						       const char *fmt, ...)
{
	va_list ap;

	if (r->failed)
		return false;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	r->failed = true;
	return false;
}

__attribute__((format(printf, 2, 3))) static void set_op(struct runner *r,
							 const char *fmt, ...)
{
	va_list ap;

	memcpy(r->hist[r->idx % HIST], r->op, sizeof(r->op));
	va_start(ap, fmt);
	vsnprintf(r->op, sizeof(r->op), fmt, ap);
	va_end(ap);
}

static void model_resize(struct model *m, size_t size)
{
	if (size > m->cap) {
		size_t cap = m->cap ? m->cap : 65536;

		while (cap < size)
			cap *= 2;
		m->data = realloc(m->data, cap);
		cr_assert_not_null(m->data);
		m->cap = cap;
	}
	if (size > m->size)
		memset(m->data + m->size, 0, size - m->size);
	m->size = size;
}

static void model_write(struct model *m, size_t off, const uint8_t *buf,
			size_t len)
{
	if (len == 0)
		return;
	if (off + len > m->size)
		model_resize(m, off + len);
	memcpy(m->data + off, buf, len);
}

/* Compares got[0..len) with the model at off; names the first difference. */
static bool check_bytes(struct runner *r, const struct rfile *f, size_t off,
			const uint8_t *got, size_t len, const char *how)
{
	const uint8_t *want = f->m.data + off;
	size_t i;

	if (len == 0 || memcmp(got, want, len) == 0)
		return true;
	for (i = 0; i < len && got[i] == want[i]; i++)
		;
	return fail(r,
		    "%s: content mismatch at file offset %zu (read at %zu len "
		    "%zu): want 0x%02x got 0x%02x",
		    how, off + i, off, len, want[i], got[i]);
}

static bool check_size(struct runner *r, const struct rfile *f)
{
	struct stat st;

	if (fstat(f->fd, &st) != 0)
		return fail(r, "fstat: %s", strerror(errno));
	if ((uint64_t)st.st_size != f->m.size)
		return fail(r, "fstat: st_size %jd, model %zu",
			    (intmax_t)st.st_size, f->m.size);
	return true;
}

static bool full_pread(struct runner *r, int fd, uint8_t *buf, size_t len,
		       size_t off, size_t *got)
{
	ssize_t n = sfs_pread_full(fd, buf, len, (off_t)off);

	*got = 0;
	if (n < 0)
		return fail(r, "pread(off %zu, len %zu): %s", off, len,
			    strerror((int)-n));
	*got = (size_t)n;
	return true;
}

static bool full_write(struct runner *r, int fd, const uint8_t *buf, size_t len,
		       off_t off, bool append)
{
	ssize_t rc = append ? sfs_write_full(fd, buf, len)
			    : sfs_pwrite_full(fd, buf, len, off);

	if (rc < 0)
		return fail(r, "%s(len %zu): %s", append ? "write" : "pwrite",
			    len, strerror((int)-rc));
	return true;
}

/* Reads the whole file through fd and compares it with the model, including
 * that nothing follows the model's end. */
static bool verify_file(struct runner *r, struct rfile *f, const char *how)
{
	size_t off = 0;
	size_t got;

	while (off < f->m.size) {
		size_t len = f->m.size - off < CHUNK ? f->m.size - off : CHUNK;

		if (!full_pread(r, f->fd, r->rbuf, len, off, &got))
			return false;
		if (got != len)
			return fail(r,
				    "%s: short read at %zu: %zu of %zu (model "
				    "size %zu)",
				    how, off, got, len, f->m.size);
		if (!check_bytes(r, f, off, r->rbuf, len, how))
			return false;
		off += len;
	}
	if (!full_pread(r, f->fd, r->rbuf, 1, f->m.size, &got))
		return false;
	if (got != 0)
		return fail(r, "%s: data past model end %zu", how, f->m.size);
	return check_size(r, f);
}

static const size_t edge_sizes[] = {0,	  1,	4095, 4096,  4097,
				    8191, 8192, 8193, 12288, 65536};

/* Sizes 0..MAX_IO, mostly small, often exactly around a block. */
static size_t pick_size(struct rng *g)
{
	switch (rng_below(g, 10)) {
	case 0:
	case 1:
	case 2:
	case 3:
		return rng_below(g, 65);
	case 4:
	case 5:
		return edge_sizes[rng_below(g, sizeof(edge_sizes) /
						   sizeof(edge_sizes[0]))];
	case 6:
	case 7:
		return rng_below(g, 2 * 4096 + 2);
	case 8:
		return rng_below(g, 32 * 1024 + 1);
	default:
		return rng_below(g, MAX_IO + 1);
	}
}

/* Offsets around block boundaries, EOF, inside and just past the file. */
static size_t pick_off(struct rng *g, size_t size)
{
	size_t k;

	switch (rng_below(g, 8)) {
	case 0:
		return 0;
	case 1:
	case 2:
		k = rng_below(g, size / 4096 + 3) * 4096;
		return k + (size_t)rng_below(g, 3) - (k ? 1 : 0);
	case 3:
		k = size + rng_below(g, 3);
		return k ? k - 1 : 0;
	case 4:
	case 5:
		return rng_below(g, size + 1);
	case 6:
		return rng_below(g, MAX_FILE);
	default:
		return rng_below(g, size + 8193);
	}
}

static size_t clamp_len(size_t off, size_t len)
{
	if (off >= MAX_FILE)
		return 0;
	return off + len > MAX_FILE ? MAX_FILE - off : len;
}

static bool op_pwrite(struct runner *r, struct rfile *f)
{
	size_t off = pick_off(&r->rng, f->m.size);
	size_t len;

	if (off > MAX_FILE)
		off = MAX_FILE;
	len = clamp_len(off, pick_size(&r->rng));
	set_op(r, "pwrite(%s, off %zu, len %zu) size %zu", f->path, off, len,
	       f->m.size);
	rng_fill(&r->rng, r->wbuf, len);
	if (!full_write(r, f->fd, r->wbuf, len, off, false))
		return false;
	model_write(&f->m, off, r->wbuf, len);
	return check_size(r, f);
}

static bool op_pread(struct runner *r, struct rfile *f)
{
	size_t off = pick_off(&r->rng, f->m.size);
	size_t len = pick_size(&r->rng);
	size_t want, got;

	set_op(r, "pread(%s, off %zu, len %zu) size %zu", f->path, off, len,
	       f->m.size);
	want = off >= f->m.size ? 0 : f->m.size - off;
	if (want > len)
		want = len;
	if (!full_pread(r, f->fd, r->rbuf, len, off, &got))
		return false;
	if (got != want)
		return fail(r, "pread returned %zu bytes, model says %zu", got,
			    want);
	return check_bytes(r, f, off, r->rbuf, got, "pread");
}

static bool op_truncate(struct runner *r, struct rfile *f)
{
	size_t size;

	switch (rng_below(&r->rng, 4)) {
	case 0: /* down */
		size = rng_below(&r->rng, f->m.size + 1);
		break;
	case 1: /* up */
		size = f->m.size + rng_below(&r->rng, 3 * 4096);
		break;
	case 2: /* block edges */
		size = rng_below(&r->rng, f->m.size / 4096 + 3) * 4096;
		size += rng_below(&r->rng, 3);
		size = size ? size - 1 : 0;
		break;
	default:
		size = rng_below(&r->rng, MAX_FILE);
		break;
	}
	if (size > MAX_FILE)
		size = MAX_FILE;
	set_op(r, "ftruncate(%s, %zu) size %zu", f->path, size, f->m.size);
	if (ftruncate(f->fd, size) != 0)
		return fail(r, "ftruncate: %s", strerror(errno));
	model_resize(&f->m, size);
	return check_size(r, f);
}

static bool op_append(struct runner *r, struct rfile *f)
{
	size_t len = clamp_len(f->m.size, pick_size(&r->rng));

	set_op(r, "append(%s, len %zu) size %zu", f->path, len, f->m.size);
	rng_fill(&r->rng, r->wbuf, len);
	if (!full_write(r, f->afd, r->wbuf, len, 0, true))
		return false;
	model_write(&f->m, f->m.size, r->wbuf, len);
	return check_size(r, f);
}

static bool open_file(struct runner *r, struct rfile *f, int extra)
{
	f->fd = open(f->path, O_RDWR | O_CREAT | extra, 0644);
	if (f->fd < 0)
		return fail(r, "open(%s): %s", f->path, strerror(errno));
	f->afd = open(f->path, O_WRONLY | O_APPEND);
	if (f->afd < 0)
		return fail(r, "open(%s, O_APPEND): %s", f->path,
			    strerror(errno));
	return true;
}

static void close_file(struct rfile *f)
{
	if (f->fd >= 0)
		close(f->fd);
	if (f->afd >= 0)
		close(f->afd);
	f->fd = f->afd = -1;
}

static bool op_reopen(struct runner *r, struct rfile *f)
{
	bool trunc = rng_below(&r->rng, 16) == 0;
	bool verify = rng_below(&r->rng, 4) == 0;

	set_op(r, "reopen(%s%s%s) size %zu", f->path, trunc ? ", O_TRUNC" : "",
	       verify ? ", verify" : "", f->m.size);
	close_file(f);
	if (!open_file(r, f, trunc ? O_TRUNC : 0))
		return false;
	if (trunc)
		model_resize(&f->m, 0);
	if (verify)
		return verify_file(r, f, "verify after reopen");
	return check_size(r, f);
}

static bool op_fsync(struct runner *r, struct rfile *f)
{
	bool data = rng_below(&r->rng, 2);

	set_op(r, "%s(%s) size %zu", data ? "fdatasync" : "fsync", f->path,
	       f->m.size);
	if ((data ? fdatasync(f->fd) : fsync(f->fd)) != 0)
		return fail(r, "fsync: %s", strerror(errno));
	return check_size(r, f);
}

/* Picks a range inside the file for a mapping: off..off+len <= size. */
static bool pick_map_range(struct runner *r, struct rfile *f, size_t *off,
			   size_t *len)
{
	if (f->m.size == 0)
		return false;
	*off = rng_below(&r->rng, 2) ? pick_off(&r->rng, f->m.size)
				     : rng_below(&r->rng, f->m.size);
	if (*off >= f->m.size)
		*off = f->m.size - 1;
	*len = rng_below(&r->rng, 3) ? rng_below(&r->rng, 200)
				     : rng_below(&r->rng, MAX_MAP);
	if (*len > f->m.size - *off)
		*len = f->m.size - *off;
	return true;
}

static bool op_mmap(struct runner *r, struct rfile *f, bool write)
{
	size_t off, len, start, maplen;
	uint8_t *p;

	if (!pick_map_range(r, f, &off, &len))
		return op_pread(r, f);
	start = off & ~((size_t)sysconf(_SC_PAGESIZE) - 1);
	maplen = off + len - start;
	if (maplen == 0)
		maplen = 1;
	set_op(r, "mmap-%s(%s, off %zu, len %zu) size %zu",
	       write ? "write" : "read", f->path, off, len, f->m.size);
	p = mmap(NULL, maplen, write ? PROT_READ | PROT_WRITE : PROT_READ,
		 MAP_SHARED, f->fd, start);
	if (p == MAP_FAILED)
		return fail(r, "mmap: %s", strerror(errno));
	if (write) {
		rng_fill(&r->rng, r->wbuf, len);
		memcpy(p + (off - start), r->wbuf, len);
		if (msync(p, maplen, MS_SYNC) != 0) {
			munmap(p, maplen);
			return fail(r, "msync: %s", strerror(errno));
		}
		model_write(&f->m, off, r->wbuf, len);
	} else if (!check_bytes(r, f, off, p + (off - start), len,
				"mmap read")) {
		munmap(p, maplen);
		return false;
	}
	if (munmap(p, maplen) != 0)
		return fail(r, "munmap: %s", strerror(errno));
	return check_size(r, f);
}

/* Drops the clean cached pages of the file (after starting writeback), so
 * the next reads go to the daemon instead of the page cache. */
static bool op_drop_cache(struct runner *r, struct rfile *f)
{
	int rc;

	set_op(r, "fadvise-dontneed(%s) size %zu", f->path, f->m.size);
	rc = posix_fadvise(f->fd, 0, 0, POSIX_FADV_DONTNEED);
	if (rc != 0)
		return fail(r, "posix_fadvise: %s", strerror(rc));
	return check_size(r, f);
}

static bool op_stat(struct runner *r, struct rfile *f)
{
	struct stat st;

	set_op(r, "stat(%s) size %zu", f->path, f->m.size);
	if (stat(f->path, &st) != 0)
		return fail(r, "stat: %s", strerror(errno));
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != f->m.size)
		return fail(r, "stat: mode 0%o size %jd, model size %zu",
			    st.st_mode, (intmax_t)st.st_size, f->m.size);
	return true;
}

static bool one_op(struct runner *r)
{
	struct rfile *f = &r->files[rng_below(&r->rng, r->nfiles)];
	unsigned pick = rng_below(&r->rng, 100);

	if (pick < 30)
		return op_pwrite(r, f);
	if (pick < 55)
		return op_pread(r, f);
	if (pick < 61)
		return op_truncate(r, f);
	if (pick < 69)
		return op_append(r, f);
	if (pick < 71)
		return op_reopen(r, f);
	if (pick < 73)
		return op_fsync(r, f);
	if (pick < 81)
		return op_mmap(r, f, true);
	if (pick < 88)
		return op_mmap(r, f, false);
	if (pick < 92)
		return op_drop_cache(r, f);
	return op_stat(r, f);
}

static void runner_init(struct runner *r, uint64_t seed, struct rfile *files,
			size_t nfiles)
{
	memset(r, 0, sizeof(*r));
	r->seed = seed;
	r->rng.s = seed;
	r->files = files;
	r->nfiles = nfiles;
	r->wbuf = malloc(CHUNK > MAX_IO ? CHUNK : MAX_IO);
	r->rbuf = malloc(CHUNK > MAX_IO ? CHUNK : MAX_IO);
	cr_assert(r->wbuf && r->rbuf);
	snprintf(r->op, sizeof(r->op), "(start)");
}

static void runner_free(struct runner *r)
{
	free(r->wbuf);
	free(r->rbuf);
}

/* Opens the files (fresh, empty) and runs nops ops; stops at a failure. */
static void runner_run(struct runner *r, unsigned long nops)
{
	size_t i;

	for (i = 0; i < r->nfiles; i++)
		if (!open_file(r, &r->files[i], O_TRUNC))
			return;
	for (r->idx = 0; r->idx < nops; r->idx++)
		if (!one_op(r))
			return;
	set_op(r, "final verify");
	for (i = 0; i < r->nfiles; i++)
		if (!verify_file(r, &r->files[i], "final verify"))
			return;
}

static void runner_assert(const struct runner *r, const char *phase)
{
	char hist[HIST * 200] = "";
	unsigned long j = r->idx > HIST ? r->idx - HIST : 0;
	size_t len = 0;

	if (!r->failed)
		return;
	/* set_op() moved the op of index j into slot (j + 1) % HIST. */
	for (; j < r->idx && len < sizeof(hist); j++)
		len += snprintf(hist + len, sizeof(hist) - len, "\n  #%lu %s",
				j, r->hist[(j + 1) % HIST]);
	cr_assert_fail("%s: seed 0x%" PRIx64 " op #%lu: %s\n  failed: %s\n"
		       "  previous ops:%s",
		       phase, r->seed, r->idx, r->op, r->err, hist);
}

static void files_init(struct rfile *files, size_t n, const char *dir,
		       const char *prefix)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char rel[64];

		snprintf(rel, sizeof(rel), "%s%zu", prefix, i);
		memset(&files[i], 0, sizeof(files[i]));
		snprintf(files[i].path, sizeof(files[i].path), "%s",
			 sfs_join(dir, rel));
		files[i].fd = files[i].afd = -1;
	}
}

static void files_free(struct rfile *files, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!files[i].path[0])
			continue; /* never opened: fds are not valid */
		close_file(&files[i]);
		free(files[i].m.data);
		files[i].m.data = NULL;
	}
}

static uint64_t test_seed(void)
{
	const char *s = getenv("SFS_TEST_SEED");

	return s && *s ? strtoull(s, NULL, 0) : DEFAULT_SEED;
}

struct thread_arg {
	struct runner r;
	struct rfile files[1];
	unsigned long nops;
};

static void *thread_main(void *p)
{
	struct thread_arg *a = p;

	runner_run(&a->r, a->nops);
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Backing size of a plain_size-byte file, for a cipher whose per-block
 * slot (nonce + tag) is ovh bytes (doc/FORMAT.md section 5.3: groups of a
 * metadata page and (4096 - 64) / ovh data pages). */
static uint64_t cipher_size(uint64_t plain, uint64_t ovh)
{
	uint64_t k = (4096 - 64) / ovh, last = (plain - 1) / 4096;

	if (plain == 0)
		return 0;
	return last / k * (k + 1) * 4096 + (1 + last % k) * 4096 + plain -
	       last * 4096;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* hbi: the backing root holds one regular file per test file, each exactly
 * the size the block format predicts for its plaintext size (for one of the
 * two ciphers, the same for all files). */
static void check_backing_geometry(const struct sfs_mount *m,
				   const uint64_t *plain, size_t n)
{
	uint64_t got[64], want[64];
	size_t ngot = 0, i;
	int ovh, match = 0;
	DIR *d = opendir(m->backing);
	struct dirent *e;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL) {
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		cr_assert(fstatat(dirfd(d), e->d_name, &st,
				  AT_SYMLINK_NOFOLLOW) == 0);
		cr_assert(S_ISREG(st.st_mode), "backing entry %s not a file",
			  e->d_name);
		cr_assert(ngot < 64);
		got[ngot++] = st.st_size;
	}
	closedir(d);
	cr_assert_eq(ngot, n, "backing holds %zu files, expected %zu", ngot, n);
	qsort(got, n, sizeof(got[0]), cmp_u64);
	for (ovh = 28; ovh <= 40; ovh += 12) {
		for (i = 0; i < n; i++)
			want[i] = cipher_size(plain[i], ovh);
		qsort(want, n, sizeof(want[0]), cmp_u64);
		if (memcmp(got, want, n * sizeof(got[0])) == 0)
			match = ovh;
	}
	if (!match) {
		for (i = 0; i < n; i++)
			fprintf(stderr,
				"plain %" PRIu64 " backing %" PRIu64 "\n",
				plain[i], got[i]);
		cr_assert_fail(
		    "backing file sizes do not follow the block format");
	}
}

/* Runs the whole scenario on the mounted m. hbi tells which layout checks
 * apply after remounting with opts. */
/* File scope so the fixture can close whatever a failed test left open
 * (an open file would make the unmount fail with EBUSY). */
static struct rfile files[NFILES], self[2];
static struct runner r;
static struct thread_arg targ[2];

static void fini_random_ops(void)
{
	size_t i;

	files_free(files, NFILES);
	files_free(self, 2);
	for (i = 0; i < 2; i++)
		files_free(targ[i].files, 1);
	sfs_fx_fini();
}

static void random_ops_scenario(struct sfs_mount *m, const char *opts, bool hbi)
{
	uint64_t seed = test_seed();
	uint64_t sizes[NFILES + 2];
	pthread_t th[2];
	double t0 = now_s();
	size_t i;

	fprintf(stderr,
		"random_ops %s: seed 0x%" PRIx64
		" (set SFS_TEST_SEED to replay)\n",
		hbi ? "hbi=1" : "hbi=0", seed);

	/* The model checks itself on a plain directory first: a failure here
	 * is a bug in this test, not in scratchfs. */
	files_init(self, 2, m->ref, "self");
	runner_init(&r, seed ^ 0x11, self, 2);
	runner_run(&r, OPS_SELFTEST);
	runner_assert(&r, "model self-test on ref/ (test bug)");
	runner_free(&r);
	files_free(self, 2);

	sfs_mount_start(m, opts);

	files_init(files, NFILES, m->mnt, "f");
	runner_init(&r, seed, files, NFILES);
	runner_run(&r, OPS_MAIN);
	runner_assert(&r, "single-thread phase");
	fprintf(stderr, "random_ops %s: %lu ops in %.1f s\n",
		hbi ? "hbi=1" : "hbi=0", OPS_MAIN, now_s() - t0);

	/* Two threads, one file each, at the same time. */
	for (i = 0; i < 2; i++) {
		char prefix[8];

		snprintf(prefix, sizeof(prefix), "t%zu_", i);
		files_init(targ[i].files, 1, m->mnt, prefix);
		runner_init(&targ[i].r, seed + 0x1000 * (i + 1), targ[i].files,
			    1);
		targ[i].nops = OPS_THREAD;
		cr_assert(pthread_create(&th[i], NULL, thread_main, &targ[i]) ==
			  0);
	}
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < 2; i++)
		runner_assert(&targ[i].r, i ? "thread 1" : "thread 0");
	fprintf(stderr, "random_ops %s: + %lu threaded ops, %.1f s total\n",
		hbi ? "hbi=1" : "hbi=0", 2 * OPS_THREAD, now_s() - t0);

	/* Everything must survive an unmount and a remount. */
	for (i = 0; i < NFILES; i++)
		close_file(&files[i]);
	for (i = 0; i < 2; i++)
		close_file(&targ[i].files[0]);
	sfs_mount_stop(m);

	for (i = 0; i < NFILES; i++)
		sizes[i] = files[i].m.size;
	for (i = 0; i < 2; i++)
		sizes[NFILES + i] = targ[i].files[0].m.size;
	if (hbi) {
		check_backing_geometry(m, sizes, NFILES + 2);
	} else {
		/* Plain mode mirrors the tree: the backing bytes are the
		 * model's bytes. */
		for (i = 0; i < NFILES; i++) {
			size_t len;
			char rel[16];
			uint8_t *b;

			snprintf(rel, sizeof(rel), "f%zu", i);
			b = sfs_read_file(sfs_bpath(m, rel), &len);
			cr_assert_not_null(b, "backing %s: %s", rel,
					   strerror(errno));
			cr_assert_eq(len, files[i].m.size);
			cr_assert(len == 0 ||
				      memcmp(b, files[i].m.data, len) == 0,
				  "backing %s differs from the model", rel);
			free(b);
		}
	}

	sfs_mount_start(m, opts);
	set_op(&r, "verify after remount");
	for (i = 0; i < NFILES && !r.failed; i++)
		if (open_file(&r, &files[i], 0))
			verify_file(&r, &files[i], "after remount");
	for (i = 0; i < 2 && !r.failed; i++)
		if (open_file(&r, &targ[i].files[0], 0))
			verify_file(&r, &targ[i].files[0], "after remount");
	runner_assert(&r, "remount");

	files_free(files, NFILES);
	for (i = 0; i < 2; i++) {
		files_free(targ[i].files, 1);
		runner_free(&targ[i].r);
	}
	runner_free(&r);
	sfs_mount_stop(m);
	fprintf(stderr, "random_ops %s: done in %.1f s\n",
		hbi ? "hbi=1" : "hbi=0", now_s() - t0);
}

Test(random_ops, hbi, .init = sfs_fx_init_setup, .fini = fini_random_ops,
     .timeout = 600)
{
	char opts[PATH_MAX + 64];

	/* A keyfile volume, so the remount at the end can read it back. */
	snprintf(opts, sizeof(opts), "hbi=1,key=keyfile:%s",
		 sfs_join(sfs_fx.root, "node.key"));
	random_ops_scenario(&sfs_fx, opts, true);
}

Test(random_ops, plain, .init = sfs_fx_init_setup, .fini = fini_random_ops,
     .timeout = 600)
{
	random_ops_scenario(&sfs_fx, "hbi=0", false);
}
