/* test_parallel.c - unit tests for fs/parallel.c (split jobs on a pool). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sfs_parallel.h"

TestSuite(parallel, .timeout = 30);

struct counts {
	unsigned n;
	atomic_uint *ran;
};

static void count_part(void *arg, unsigned i)
{
	struct counts *c = arg;

	cr_assert_lt(i, c->n, "part %u of %u", i, c->n);
	atomic_fetch_add(&c->ran[i], 1);
}

static void run_and_check(unsigned n)
{
	struct counts c = {.n = n, .ran = calloc(n + 1, sizeof(atomic_uint))};

	cr_assert_not_null(c.ran);
	sfs_parallel_run(count_part, &c, n);
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(atomic_load(&c.ran[i]), 1, "part %u of %u ran %u",
			     i, n, atomic_load(&c.ran[i]));
	free(c.ran);
}

ParameterizedTestParameters(parallel, every_part_once)
{
	static unsigned sizes[] = {0, 1, 2, 3, 8, 17, 1000};

	return cr_make_param_array(unsigned, sizes,
				   sizeof(sizes) / sizeof(sizes[0]));
}

ParameterizedTest(unsigned *n, parallel, every_part_once)
{
	run_and_check(*n);
}

static void *caller(void *unused)
{
	(void)unused;
	for (unsigned k = 0; k < 300; k++)
		run_and_check(1 + k % 9);
	return NULL;
}

/* Many callers at once share the pool: no part is lost or run twice, and
 * nobody waits forever for a pool thread busy with someone else's job. */
Test(parallel, concurrent_callers)
{
	pthread_t t[6];

	for (unsigned i = 0; i < 6; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, caller, NULL), 0);
	for (unsigned i = 0; i < 6; i++)
		cr_assert_eq(pthread_join(t[i], NULL), 0);
}

struct meet {
	atomic_uint started;
	atomic_bool met[2];
};

/* Each of two parts waits (at most 5 s) until the other has started: that
 * can only happen when they run on two threads at once. */
static void meet_part(void *arg, unsigned i)
{
	struct meet *m = arg;
	struct timespec d = {0, 1000000};

	atomic_fetch_add(&m->started, 1);
	for (int k = 0; k < 5000 && atomic_load(&m->started) < 2; k++)
		nanosleep(&d, NULL);
	atomic_store(&m->met[i], atomic_load(&m->started) == 2);
}

Test(parallel, parts_run_at_the_same_time)
{
	struct meet m = {0};

	if (sfs_parallel_width() < 2)
		cr_skip_test("one CPU: no pool threads");
	cr_assert_leq(sfs_parallel_width(), SFS_PARALLEL_MAX_THREADS + 1);
	sfs_parallel_run(meet_part, &m, 2);
	cr_assert(atomic_load(&m.met[0]) && atomic_load(&m.met[1]),
		  "the two parts never ran together");
}

/* A child forked after the pool started has no pool threads: it must know
 * that and still finish every job on its own. */
Test(parallel, forked_child_runs_alone)
{
	int status;
	pid_t pid;

	if (sfs_parallel_width() < 2)
		cr_skip_test("one CPU: no pool threads");
	run_and_check(8);
	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct counts c = {.n = 8,
				   .ran = calloc(9, sizeof(atomic_uint))};
		int ok = c.ran && sfs_parallel_width() == 1;

		if (ok)
			sfs_parallel_run(count_part, &c, 8);
		for (unsigned i = 0; ok && i < 8; i++)
			ok = atomic_load(&c.ran[i]) == 1;
		_exit(ok ? 0 : 1);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "the forked child thought it had pool threads");
	run_and_check(8);
}
