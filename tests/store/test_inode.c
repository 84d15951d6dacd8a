/* test_inode.c - the inode table alone (fs/store/inode.c) on a scratch
 * directory: the fd budget, the clock's choice of what to park, reopening
 * by handle and by path, never closing a held fd, objects without a name,
 * forget while held, *at() calls in a held directory; by path: renames and
 * removals recorded, objects swapped behind the table's back refused,
 * renames racing reopens. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sfs_inode.h"
#include "util.h"

#define NFILES 200
#define BUDGET 16

static char dir[PATH_MAX];
static struct sfs_inode_table *table;
static struct sfs_inode *inodes[NFILES];

static int open_fds(void)
{
	return sfs_dir_entries("/proc/self/fd") - 1; /* the listing's own */
}

static void name_of(char *buf, size_t cap, int i)
{
	snprintf(buf, cap, "f%03d", i);
}

/* Creates file i and enters it in the table (one lookup reference). */
static struct sfs_inode *add(int i)
{
	char name[16], path[PATH_MAX + 16];
	struct sfs_inode *n;
	struct stat st;
	int fd;

	name_of(name, sizeof(name), i);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	close(fd);
	fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fstat(fd, &st), 0);
	n = sfs_itable_get(table, fd, &st, sfs_itable_root(table), name);
	cr_assert_not_null(n);
	return n;
}

static struct sfs_inode_table *new_table(void)
{
	struct sfs_inode_table *t;
	struct stat st;
	int fd;

	fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fstat(fd, &st), 0);
	t = sfs_itable_new(fd, &st);
	cr_assert_not_null(t);
	return t;
}

static void setup(void)
{
	int mfd;

	sfs_tmpdir_make(dir, sizeof(dir), "inode");
	table = new_table();
	mfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(mfd, 0);
	cr_assert_eq(sfs_itable_enable_parking(table, mfd, BUDGET), 0,
		     "open_by_handle_at does not work here");
}

/* As a daemon without CAP_DAC_READ_SEARCH: no mount fd, parks by path. */
static void setup_path(void)
{
	sfs_tmpdir_make(dir, sizeof(dir), "inode");
	table = new_table();
	cr_assert_eq(sfs_itable_enable_parking(table, -1, BUDGET), -EBADF);
}

static void fill(void)
{
	for (int i = 0; i < NFILES; i++)
		inodes[i] = add(i);
}

static void setup_filled(void)
{
	setup();
	fill();
}

static void setup_path_filled(void)
{
	setup_path();
	fill();
}

/* Test(inode, name_handle) and Test(inode, name_path), each running
 * body() on its table filled (filled = true) or empty. */
#define BOTH_WAYS(name, filled, ...)                                           \
	static void name(void);                                                \
	Test(inode, name##_handle, .init = filled ? setup_filled : setup,      \
	     .fini = teardown, ##__VA_ARGS__)                                  \
	{                                                                      \
		cr_assert_not(stats().by_path);                                \
		name();                                                        \
	}                                                                      \
	Test(inode, name##_path,                                               \
	     .init = filled ? setup_path_filled : setup_path,                  \
	     .fini = teardown, ##__VA_ARGS__)                                  \
	{                                                                      \
		cr_assert(stats().by_path);                                    \
		name();                                                        \
	}                                                                      \
	static void name(void)

static void teardown(void)
{
	sfs_itable_free(table);
	table = NULL;
	sfs_tmpdir_remove(dir);
}

static struct sfs_itable_stats stats(void)
{
	struct sfs_itable_stats s;

	sfs_itable_stats(table, &s);
	return s;
}

/* Gets inode i's fd, checks it is inode i's object, puts it back. */
static void use(int i)
{
	int fd = sfs_inode_fd_get(table, inodes[i]);
	struct stat st;

	cr_assert_geq(fd, 0, "get %d: %s", i, strerror(-fd));
	cr_assert_eq(fstat(fd, &st), 0, "fstat of %d's fd: %s", i,
		     strerror(errno));
	cr_assert_eq(st.st_ino, inodes[i]->ino, "%d's fd is another object", i);
	sfs_inode_fd_put(table, inodes[i]);
}

BOTH_WAYS(budget_holds, false)
{
	int before = open_fds();

	for (int i = 0; i < NFILES; i++) {
		struct sfs_itable_stats s;

		inodes[i] = add(i);
		s = stats();
		cr_assert_leq(s.open, BUDGET, "%zu open after %d adds", s.open,
			      i + 1);
		cr_assert_eq(s.open + s.parked, (size_t)i + 1);
	}
	cr_assert_leq(open_fds(), before + BUDGET);
	for (int i = 0; i < NFILES; i++)
		use(i);
	cr_assert_leq(stats().open, BUDGET);
	cr_assert_leq(open_fds(), before + BUDGET);
}

BOTH_WAYS(held_fd_never_closed, true)
{
	int fd0 = sfs_inode_fd_get(table, inodes[0]);
	int fd1 = sfs_inode_fd_get(table, inodes[1]);
	struct stat st;

	cr_assert_geq(fd0, 0);
	cr_assert_geq(fd1, 0);
	for (int round = 0; round < 3; round++)
		for (int i = 2; i < NFILES; i++)
			use(i);
	cr_assert_eq(inodes[0]->path_fd, fd0);
	cr_assert_eq(fstat(fd0, &st), 0);
	cr_assert_eq(st.st_ino, inodes[0]->ino);
	cr_assert_eq(fstat(fd1, &st), 0);
	cr_assert_eq(st.st_ino, inodes[1]->ino);
	sfs_inode_fd_put(table, inodes[0]);
	sfs_inode_fd_put(table, inodes[1]);
}

BOTH_WAYS(least_recently_used_parked, true)
{
	/* 7 is used between every two others: it is never the one to go. */
	for (int i = 0; i < NFILES; i++) {
		use(i);
		use(7);
	}
	cr_assert_geq(inodes[7]->path_fd, 0, "the busiest inode was parked");
	/* The last ones used are open, the first ones parked. */
	cr_assert_geq(inodes[NFILES - 1]->path_fd, 0);
	for (int i = 0; i < BUDGET; i++)
		if (i != 7)
			cr_assert_lt(inodes[i]->path_fd, 0, "%d still open", i);
}

BOTH_WAYS(other_fds_share_the_budget, true)
{
	sfs_itable_other_fds(table, 10);
	cr_assert_leq(stats().open, BUDGET - 10);
	cr_assert_eq(stats().other, 10);
	for (int i = 0; i < NFILES; i++)
		use(i);
	cr_assert_leq(stats().open, BUDGET - 10);
	sfs_itable_other_fds(table, -10);
	cr_assert_eq(stats().other, 0);
}

/* Parks inode i by using everything else. */
static void park_one(int i)
{
	for (int k = 0; k < NFILES; k++)
		if (k != i)
			use(k);
	cr_assert_lt(inodes[i]->path_fd, 0, "%d not parked", i);
}

/* Removes the entry `name` of d as sfs_unlink does; unlinkat's result. */
static int remove_in(struct sfs_inode *d, const char *name)
{
	int dfd = sfs_inode_fd_get(table, d), rc;
	struct sfs_iname at = {d, dfd, name};
	struct sfs_inode *left;

	cr_assert_geq(dfd, 0);
	left = sfs_itable_unlink_begin(table, &at);
	rc = unlinkat(dfd, name, 0) < 0 ? -errno : 0;
	sfs_itable_unlink_end(table, &at, left, rc == 0);
	sfs_inode_fd_put(table, d);
	return rc;
}

/* With a file handle open on it, a parked file is reopened for its
 * removal and keeps its fd while the kernel knows it. */
BOTH_WAYS(unlinked_while_parked_and_open_stays_open, true)
{
	struct sfs_inode *root = sfs_itable_root(table);
	char name[16];
	struct stat st;
	int fd;

	park_one(3);
	name_of(name, sizeof(name), 3);
	atomic_store(&inodes[3]->open_files, 1);
	cr_assert_eq(remove_in(root, name), 0);
	cr_assert_geq(inodes[3]->path_fd, 0, "not reopened for its unlink");
	/* An entry unlinked while its fd is open (never parked) is kept too. */
	name_of(name, sizeof(name), NFILES - 1);
	cr_assert_eq(remove_in(root, name), 0);
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < NFILES - 1; i++)
			if (i != 3)
				use(i);
	cr_assert_eq(stats().pinned, 2);
	cr_assert_geq(inodes[3]->path_fd, 0);
	cr_assert_geq(inodes[NFILES - 1]->path_fd, 0);
	fd = sfs_inode_fd_get(table, inodes[3]);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_nlink, 0);
	sfs_inode_fd_put(table, inodes[3]);
}

/* With none open, it stays parked: no fd waits for the kernel's FORGET
 * (a removal storm would run out of them), and it answers ESTALE. */
BOTH_WAYS(unlinked_while_parked_and_closed_stays_parked, true)
{
	struct sfs_inode *root = sfs_itable_root(table);
	size_t open_before;
	char name[16];

	park_one(4);
	name_of(name, sizeof(name), 4);
	open_before = stats().open;
	cr_assert_eq(remove_in(root, name), 0);
	cr_assert_lt(inodes[4]->path_fd, 0, "reopened for its unlink");
	cr_assert_leq(stats().open, open_before);
	cr_assert_eq(sfs_inode_fd_get(table, inodes[4]), -ESTALE);
}

/* A removal that fails leaves the parked file reachable by its name. */
BOTH_WAYS(failed_unlink_keeps_the_way_back, true)
{
	struct sfs_inode *root = sfs_itable_root(table);
	int rfd = sfs_inode_fd_get(table, root), fd;
	char name[16];
	struct sfs_iname at = {root, rfd, name};
	struct sfs_inode *left;

	cr_assert_geq(rfd, 0);
	park_one(6);
	name_of(name, sizeof(name), 6);
	left = sfs_itable_unlink_begin(table, &at);
	cr_assert_eq(left, inodes[6], "a closed parked file is left parked");
	sfs_itable_unlink_end(table, &at, left, false);
	sfs_inode_fd_put(table, root);
	fd = sfs_inode_fd_get(table, inodes[6]);
	cr_assert_geq(fd, 0, "unreachable after a failed unlink: %s",
		      strerror(-fd));
	sfs_inode_fd_put(table, inodes[6]);
	park_one(6);
	fd = sfs_inode_fd_get(table, inodes[6]);
	cr_assert_geq(fd, 0, "cannot be reopened by its name: %s",
		      strerror(-fd));
	sfs_inode_fd_put(table, inodes[6]);
}

/* Removals reopen the parked, open entries they remove, which then keep
 * their fds until forgotten: others are parked to make room, also when
 * nothing else opens an fd. */
BOTH_WAYS(removals_park_others, true)
{
	struct sfs_inode *root = sfs_itable_root(table);
	char name[16];

	for (int i = 20; i < 30; i++) {
		cr_assert_lt(inodes[i]->path_fd, 0, "%d not parked", i);
		name_of(name, sizeof(name), i);
		atomic_store(&inodes[i]->open_files, 1);
		cr_assert_eq(remove_in(root, name), 0);
	}
	cr_assert_leq(stats().open, BUDGET, "%zu fds open", stats().open);
	for (int i = 20; i < 30; i++)
		cr_assert_geq(inodes[i]->path_fd, 0, "%d lost its fd", i);
}

BOTH_WAYS(removed_behind_back_is_stale, true)
{
	char name[16], path[PATH_MAX + 16];

	park_one(5);
	name_of(name, sizeof(name), 5);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(sfs_inode_fd_get(table, inodes[5]), -ESTALE);
	cr_assert_lt(inodes[5]->path_fd, 0);
	use(6);
}

BOTH_WAYS(forget_while_held_frees_on_put, true)
{
	size_t open;
	int fd = sfs_inode_fd_get(table, inodes[9]);
	struct stat st;

	cr_assert_geq(fd, 0);
	open = stats().open;
	sfs_itable_forget(table, inodes[9], 1);
	/* Still usable until put (ASan would see a use after free). */
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_ino, inodes[9]->ino);
	cr_assert_eq(stats().open, open);
	sfs_inode_fd_put(table, inodes[9]);
	cr_assert_eq(stats().open, open - 1);
	inodes[9] = NULL;
}

Test(inode, no_handles_parks_by_path, .fini = teardown)
{
	int mfd;

	sfs_tmpdir_make(dir, sizeof(dir), "inode");
	table = new_table();
	/* An O_PATH mount fd cannot reopen handles: parking goes by path. */
	mfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	cr_assert_lt(sfs_itable_enable_parking(table, mfd, BUDGET), 0);
	cr_assert(stats().by_path);
	for (int i = 0; i < 3 * BUDGET; i++)
		inodes[i] = add(i);
	cr_assert_leq(stats().open, BUDGET);
	cr_assert_eq(stats().open + stats().parked, 3 * BUDGET);
	for (int i = 0; i < 3 * BUDGET; i++)
		use(i);
	cr_assert_leq(stats().open, BUDGET);
}

static int mkdir_at(int dfd, const char *name, void *mode)
{
	return mkdirat(dfd, name, *(const mode_t *)mode);
}

/* sfs_inode_at(): the call runs in the directory, a failure comes back as
 * -errno, and the directory's fd is put back (forgotten, the inode goes
 * with its fd). */
Test(inode, at_calls_in_directory, .init = setup, .fini = teardown)
{
	char path[PATH_MAX + 16];
	struct sfs_inode *d;
	mode_t mode = 0700;
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/d", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fstat(fd, &st), 0);
	d = sfs_itable_get(table, fd, &st, sfs_itable_root(table), "d");
	cr_assert_not_null(d);
	cr_assert_eq(stats().open, 1);
	cr_assert_eq(sfs_inode_at(table, d, "x", mkdir_at, &mode), 0);
	snprintf(path, sizeof(path), "%s/d/x", dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(sfs_inode_at(table, d, "x", mkdir_at, &mode), -EEXIST);
	sfs_itable_forget(table, d, 1);
	cr_assert_eq(stats().open, 0, "the directory's fd is still held");
}

#define NTHREADS 4
#define THREAD_OPS 20000

static void *hammer(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;

	for (int k = 0; k < THREAD_OPS; k++) {
		int a = (int)(rand_r(&seed) % NFILES);
		int b = (int)(rand_r(&seed) % NFILES);
		int fa = sfs_inode_fd_get(table, inodes[a]);
		int fb = sfs_inode_fd_get(table, inodes[b]);
		struct stat sa, sb;

		if (fa < 0 || fb < 0 || fstat(fa, &sa) || fstat(fb, &sb) ||
		    sa.st_ino != inodes[a]->ino || sb.st_ino != inodes[b]->ino)
			return (void *)1;
		if (k % 3 == 0)
			sfs_itable_other_fds(table, 1);
		sfs_inode_fd_put(table, inodes[b]);
		sfs_inode_fd_put(table, inodes[a]);
		if (k % 3 == 0)
			sfs_itable_other_fds(table, -1);
	}
	return NULL;
}

BOTH_WAYS(threads_never_lose_a_held_fd, true, .timeout = 120)
{
	pthread_t th[NTHREADS];

	for (uintptr_t i = 0; i < NTHREADS; i++)
		cr_assert_eq(
		    pthread_create(&th[i], NULL, hammer, (void *)(i + 1)), 0);
	for (int i = 0; i < NTHREADS; i++) {
		void *ret;

		cr_assert_eq(pthread_join(th[i], &ret), 0);
		cr_assert_null(ret, "a held fd showed another object");
	}
	cr_assert_leq(stats().open, BUDGET);
	cr_assert_eq(stats().open + stats().parked, NFILES);
}

/* By path ------------------------------------------------------------- */

/* Enters the entry `name` of the directory inode d in the table, as a
 * lookup through the mount does. */
static struct sfs_inode *enter(struct sfs_inode *d, const char *name)
{
	int dfd = sfs_inode_fd_get(table, d), fd;
	struct sfs_inode *n;
	struct stat st;

	cr_assert_geq(dfd, 0);
	fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	cr_assert_geq(fd, 0, "%s: %s", name, strerror(errno));
	cr_assert_eq(fstat(fd, &st), 0);
	n = sfs_itable_get(table, fd, &st, d, name);
	cr_assert_not_null(n);
	sfs_inode_fd_put(table, d);
	return n;
}

/* Parks every inode not in use by using the filled ones, three rounds. */
static void park_others(void)
{
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < NFILES; i++)
			use(i);
}

/* What n's object holds (up to 63 bytes) into buf: 0, or -errno of
 * getting its fd. */
static int content_of(struct sfs_inode *n, char *buf, size_t cap)
{
	int pfd = sfs_inode_fd_get(table, n), fd;
	char path[64];
	ssize_t len;

	if (pfd < 0)
		return pfd;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", pfd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	len = read(fd, buf, cap - 1);
	cr_assert_geq(len, 0);
	buf[len] = '\0';
	close(fd);
	sfs_inode_fd_put(table, n);
	return 0;
}

/* "<dir>/<rel>", in one of four static buffers. */
static const char *in_dir(const char *rel)
{
	static char path[4][PATH_MAX + 64];
	static int k;

	k = (k + 1) % 4;
	snprintf(path[k], sizeof(path[k]), "%s/%s", dir, rel);
	return path[k];
}

/* Asserts that n's fd is on the object at path. */
static void is_at(struct sfs_inode *n, const char *path)
{
	int fd = sfs_inode_fd_get(table, n);
	struct stat st, want;

	cr_assert_geq(fd, 0, "get: %s", strerror(-fd));
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(stat(path, &want), 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(st.st_ino, want.st_ino, "not the object at %s", path);
	sfs_inode_fd_put(table, n);
}

/* Renames through the table, as sfs_rename does. */
static void rename_in(struct sfs_inode *d1, const char *n1,
		      struct sfs_inode *d2, const char *n2)
{
	int f1 = sfs_inode_fd_get(table, d1), f2 = sfs_inode_fd_get(table, d2);
	struct sfs_iname from = {d1, f1, n1}, to = {d2, f2, n2};
	struct sfs_inode *left;
	int rc;

	cr_assert_geq(f1, 0);
	cr_assert_geq(f2, 0);
	left = sfs_itable_unlink_begin(table, &to);
	sfs_itable_rename_begin(table);
	rc = renameat(f1, n1, f2, n2);
	sfs_itable_rename_end(table, rc == 0, 0, &from, &to);
	sfs_itable_unlink_end(table, &to, left, rc == 0);
	cr_assert_eq(rc, 0, "rename %s: %s", n1, strerror(errno));
	sfs_inode_fd_put(table, d2);
	sfs_inode_fd_put(table, d1);
}

/* a/b/f with `text`, entered as *a, *b, *f. */
static void make_abf(const char *text, struct sfs_inode **a,
		     struct sfs_inode **b, struct sfs_inode **f)
{
	cr_assert_eq(mkdir(in_dir("a"), 0755), 0);
	cr_assert_eq(mkdir(in_dir("a/b"), 0755), 0);
	sfs_write_text(dir, "a/b/f", text);
	*a = enter(sfs_itable_root(table), "a");
	*b = enter(*a, "b");
	*f = enter(*b, "f");
}

Test(inode, path_renames_are_followed, .init = setup_path_filled,
     .fini = teardown)
{
	struct sfs_inode *root = sfs_itable_root(table), *a, *b, *f;
	char buf[64];

	make_abf("one", &a, &b, &f);
	park_others();
	cr_assert(a->path_fd < 0 && b->path_fd < 0 && f->path_fd < 0);
	/* A parked directory moves, then the parked file out of it. */
	rename_in(root, "a", root, "z");
	park_others();
	cr_assert_eq(content_of(f, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "one");
	rename_in(b, "f", root, "g");
	park_others();
	cr_assert(a->path_fd < 0 && b->path_fd < 0 && f->path_fd < 0);
	cr_assert_eq(content_of(f, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "one");
	cr_assert_eq(access(in_dir("z/b"), F_OK), 0);
	is_at(b, in_dir("z/b"));
	is_at(a, in_dir("z"));
}

/* a/ replaced behind the table's back by a new a/b/f: the parked f is
 * refused (ESTALE), never taken for the new one. */
Test(inode, path_swapped_directory_is_stale, .init = setup_path_filled,
     .fini = teardown)
{
	struct sfs_inode *a, *b, *f;
	char buf[64];

	make_abf("old", &a, &b, &f);
	park_others();
	cr_assert(a->path_fd < 0 && b->path_fd < 0 && f->path_fd < 0);
	cr_assert_eq(rename(in_dir("a"), in_dir("a.old")), 0);
	cr_assert_eq(mkdir(in_dir("a"), 0755), 0);
	cr_assert_eq(mkdir(in_dir("a/b"), 0755), 0);
	sfs_write_text(dir, "a/b/f", "new");
	cr_assert_eq(content_of(f, buf, sizeof(buf)), -ESTALE,
		     "the parked file reopened as one holding \"%s\"", buf);
	cr_assert_eq(sfs_inode_fd_get(table, b), -ESTALE);
	cr_assert_eq(sfs_inode_fd_get(table, a), -ESTALE);
	/* A fresh lookup finds the new objects. */
	cr_assert_neq(enter(sfs_itable_root(table), "a"), a);
}

/* The same with a/ open all along: f is found where it went. */
Test(inode, path_swapped_below_open_dir_follows, .init = setup_path_filled,
     .fini = teardown)
{
	struct sfs_inode *a, *b, *f;
	char buf[64];
	int afd;

	make_abf("old", &a, &b, &f);
	afd = sfs_inode_fd_get(table, a);
	cr_assert_geq(afd, 0);
	park_others();
	cr_assert(b->path_fd < 0 && f->path_fd < 0);
	cr_assert_eq(rename(in_dir("a"), in_dir("a.old")), 0);
	cr_assert_eq(mkdir(in_dir("a"), 0755), 0);
	cr_assert_eq(mkdir(in_dir("a/b"), 0755), 0);
	sfs_write_text(dir, "a/b/f", "new");
	cr_assert_eq(content_of(f, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "old");
	sfs_inode_fd_put(table, a);
}

/* A parked file removed behind the table's back and a new one made under
 * its name (ext4 hands it the same inode number): refused. */
Test(inode, path_reused_inode_number_is_stale, .init = setup_path_filled,
     .fini = teardown)
{
	struct sfs_inode *root = sfs_itable_root(table), *f;
	struct stat before, after;
	char buf[64];

	sfs_write_text(dir, "f", "old");
	cr_assert_eq(stat(in_dir("f"), &before), 0);
	f = enter(root, "f");
	park_others();
	cr_assert_lt(f->path_fd, 0);
	cr_assert_eq(unlink(in_dir("f")), 0);
	/* Other tests may take the number first: new files until one gets
	 * it (ext4 hands out the lowest free one), renamed to f. */
	for (int i = 0; i < 64; i++) {
		char name[16];

		snprintf(name, sizeof(name), "n%d", i);
		sfs_write_text(dir, name, "new");
		cr_assert_eq(stat(in_dir(name), &after), 0);
		if (after.st_ino == before.st_ino || i == 63) {
			cr_assert_eq(rename(in_dir(name), in_dir("f")), 0);
			break;
		}
	}
	cr_assert_eq(content_of(f, buf, sizeof(buf)), -ESTALE,
		     "the parked file reopened as one holding \"%s\"", buf);
	/* A lookup of the name makes a new entry, not the stale one. */
	cr_assert_neq(enter(root, "f"), f);
}

/* A hard-linked file whose recorded name is removed through the table is
 * not parked until a lookup shows its other name; then it parks and
 * reopens by that. */
Test(inode, path_hard_link_keeps_a_name, .init = setup_path_filled,
     .fini = teardown)
{
	struct sfs_inode *root = sfs_itable_root(table), *d, *f;

	cr_assert_eq(mkdir(in_dir("d"), 0755), 0);
	sfs_write_text(dir, "f", "x");
	cr_assert_eq(link(in_dir("f"), in_dir("d/g")), 0);
	d = enter(root, "d");
	f = enter(root, "f");
	cr_assert_eq(remove_in(root, "f"), 0);
	park_others();
	cr_assert_geq(f->path_fd, 0, "parked without a name to reopen by");
	is_at(f, in_dir("d/g"));
	cr_assert_eq(enter(d, "g"), f);
	park_others();
	cr_assert_lt(f->path_fd, 0, "never parked again");
	is_at(f, in_dir("d/g"));
}

#define RACE_FILES 40
#define RACE_RENAMES 3000

static struct sfs_inode *race_f[RACE_FILES];
static atomic_bool race_done;

/* Renames x/ back and forth through the table. */
static void *renamer(void *arg)
{
	struct sfs_inode *root = sfs_itable_root(table);
	int rfd = sfs_inode_fd_get(table, root);

	(void)arg;
	for (int k = 0; k < RACE_RENAMES && rfd >= 0; k++) {
		const char *n1 = k % 2 ? "x2" : "x", *n2 = k % 2 ? "x" : "x2";
		struct sfs_iname from = {root, rfd, n1}, to = {root, rfd, n2};
		int rc;

		sfs_itable_rename_begin(table);
		rc = renameat(rfd, n1, rfd, n2);
		sfs_itable_rename_end(table, rc == 0, 0, &from, &to);
		if (rc)
			break;
	}
	atomic_store(&race_done, true);
	if (rfd >= 0)
		sfs_inode_fd_put(table, root);
	return NULL;
}

/* Reopens files below x/ (and parks others) until the renamer is done;
 * returns the first failure as -errno, cast. */
static void *reopener(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;

	while (!atomic_load(&race_done)) {
		int i = (int)(rand_r(&seed) % RACE_FILES);
		int fd = sfs_inode_fd_get(table, race_f[i]);
		struct stat st;

		if (fd < 0)
			return (void *)(intptr_t)fd;
		if (fstat(fd, &st) || st.st_ino != race_f[i]->ino)
			return (void *)(intptr_t)-EXDEV;
		sfs_inode_fd_put(table, race_f[i]);
		for (int k = 0; k < 8; k++)
			use((int)(rand_r(&seed) % NFILES));
	}
	return NULL;
}

/* Renames of a parent through the table racing reopens of the parked
 * entries below it: every reopen finds its object. */
Test(inode, path_renames_race_reopens, .init = setup_path_filled,
     .fini = teardown, .timeout = 120)
{
	struct sfs_inode *x, *y;
	pthread_t th[3];
	char name[32];

	cr_assert_eq(mkdir(in_dir("x"), 0755), 0);
	cr_assert_eq(mkdir(in_dir("x/y"), 0755), 0);
	x = enter(sfs_itable_root(table), "x");
	y = enter(x, "y");
	for (int i = 0; i < RACE_FILES; i++) {
		snprintf(name, sizeof(name), "x/y/r%d", i);
		sfs_write_text(dir, name, "r");
		race_f[i] = enter(y, name + 4);
	}
	park_others();
	cr_assert_eq(pthread_create(&th[0], NULL, renamer, NULL), 0);
	for (uintptr_t i = 1; i < 3; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, reopener, (void *)i),
			     0);
	for (int i = 0; i < 3; i++) {
		void *ret;

		cr_assert_eq(pthread_join(th[i], &ret), 0);
		cr_assert_null(ret, "a reopen failed: %s",
			       strerror(-(int)(intptr_t)ret));
	}
	cr_assert_leq(stats().open, BUDGET);
}
