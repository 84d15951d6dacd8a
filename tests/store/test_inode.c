/* test_inode.c - the inode table alone (fs/store/inode.c) on a scratch
 * directory: the fd budget, the clock's choice of what to park, reopening,
 * never closing a held fd, objects without a name, forget while held. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
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
	n = sfs_itable_get(table, fd, &st);
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

static void setup_filled(void)
{
	setup();
	for (int i = 0; i < NFILES; i++)
		inodes[i] = add(i);
}

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

Test(inode, budget_holds, .init = setup, .fini = teardown)
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

Test(inode, held_fd_never_closed, .init = setup_filled, .fini = teardown)
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

Test(inode, least_recently_used_parked, .init = setup_filled, .fini = teardown)
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

Test(inode, other_fds_share_the_budget, .init = setup_filled, .fini = teardown)
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

Test(inode, unlinked_while_parked_stays_open, .init = setup_filled,
     .fini = teardown)
{
	struct sfs_inode *root = sfs_itable_root(table);
	int rfd = sfs_inode_fd_get(table, root), fd;
	char name[16];
	struct stat st;

	cr_assert_geq(rfd, 0);
	park_one(3);
	name_of(name, sizeof(name), 3);
	sfs_itable_unlink_begin(table, rfd, name);
	cr_assert_geq(inodes[3]->path_fd, 0, "not reopened for its unlink");
	cr_assert_eq(unlinkat(rfd, name, 0), 0);
	sfs_itable_unlink_end(table);
	/* An entry unlinked while open (never parked) is kept too. */
	name_of(name, sizeof(name), NFILES - 1);
	sfs_itable_unlink_begin(table, rfd, name);
	cr_assert_eq(unlinkat(rfd, name, 0), 0);
	sfs_itable_unlink_end(table);
	sfs_inode_fd_put(table, root);
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

Test(inode, removed_behind_back_is_stale, .init = setup_filled,
     .fini = teardown)
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

Test(inode, forget_while_held_frees_on_put, .init = setup_filled,
     .fini = teardown)
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

Test(inode, parking_off, .fini = teardown)
{
	int mfd;

	sfs_tmpdir_make(dir, sizeof(dir), "inode");
	table = new_table();
	/* An O_PATH mount fd cannot work: parking stays off. */
	mfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	cr_assert_lt(sfs_itable_enable_parking(table, mfd, BUDGET), 0);
	for (int i = 0; i < 3 * BUDGET; i++)
		inodes[i] = add(i);
	cr_assert_eq(stats().open, 3 * BUDGET);
	cr_assert_eq(stats().parked, 0);
	for (int i = 0; i < 3 * BUDGET; i++)
		use(i);
	sfs_itable_forget(table, inodes[0], 1);
	cr_assert_eq(stats().open, 3 * BUDGET - 1);
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

Test(inode, threads_never_lose_a_held_fd, .init = setup_filled,
     .fini = teardown, .timeout = 120)
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
