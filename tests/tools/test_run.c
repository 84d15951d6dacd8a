/* test_run.c - scratchfs-run: a fresh volume per job, the job's status,
 * signals forwarded, always wiped (also after SIGTERM/SIGINT/SIGHUP), and
 * a wrapper killed with SIGKILL cleaned up by the next run. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mount_util.h"
#include "sfs_crypto.h"
#include "sfs_wipe.h"
#include "util.h"

#define RUN_BIN SFS_BUILD_DIR "/scratchfs-run"
#define WIPE_BIN SFS_BUILD_DIR "/scratchfs-wipe"
#define CANARY "run-canary-51d2a0e4"

static char B[PATH_MAX], M[PATH_MAX]; /* --backing, --mount */
static pid_t stray[4];		      /* jobs left running by a test */

static void init(void)
{
	cr_assert_eq(sfs_crypto_init(), 0);
	sfs_mount_setup(&sfs_fx);
	sfs_mount_write_audit_conf(&sfs_fx, NULL);
	snprintf(B, sizeof(B), "%s", sfs_join(sfs_fx.root, "b"));
	snprintf(M, sizeof(M), "%s", sfs_join(sfs_fx.root, "m"));
}

/* Unmounts and wipes whatever a failed test left under the root. */
static void fini(void)
{
	struct sfs_wipe_opts o = {.lazy = true};
	struct sfs_wipe_report r;
	char mnt[PATH_MAX], err[256];
	const char *dirs[] = {B, sfs_join(sfs_fx.root, "base/run-0/backing"),
			      sfs_join(sfs_fx.root, "base/run-1/backing")};

	for (size_t i = 0; i < sizeof(stray) / sizeof(stray[0]); i++)
		if (stray[i] > 0)
			kill(stray[i], SIGKILL);
	for (size_t i = 0; i < 3; i++)
		if (sfs_wipe_find_mount(dirs[i], mnt, sizeof(mnt)) == 1)
			sfs_wipe_volume(dirs[i], &o, &r, err, sizeof(err));
	sfs_fx_fini();
}

TestSuite(run, .init = init, .fini = fini, .timeout = 50);

/* Starts argv with stdout/stderr in root/NAME.out and NAME.err. */
/* In the child: default signal dispositions, SCRATCHFS_RUN_BASE=env_base
 * (unset when NULL). */
static void child_env(const void *env_base)
{
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (env_base)
		setenv("SCRATCHFS_RUN_BASE", env_base, 1);
	else
		unsetenv("SCRATCHFS_RUN_BASE");
}

static pid_t start(const char *name, const char *const argv[],
		   const char *env_base)
{
	char o[PATH_MAX + 8], e[PATH_MAX + 8];

	snprintf(o, sizeof(o), "%s.out", sfs_join(sfs_fx.root, name));
	snprintf(e, sizeof(e), "%s.err", sfs_join(sfs_fx.root, name));
	return sfs_spawn_redirected(argv, o, e, child_env, env_base);
}

/* Shell-style status of pid, waiting at most 30 s. */
static int finish(pid_t pid)
{
	int status;

	for (int i = 0; i < 3000; i++) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status)
						 : 128 + WTERMSIG(status);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	cr_assert_fail("scratchfs-run did not finish");
	return -1;
}

static char *err_of(const char *name)
{
	char e[PATH_MAX + 8];

	snprintf(e, sizeof(e), "%s.err", sfs_join(sfs_fx.root, name));
	return sfs_slurp(e);
}

/* scratchfs-run -c CONF [--backing B --mount M] [extra] -- sh -c SCRIPT */
static pid_t start_run(const char *name, bool explicit_dirs, const char *extra,
		       const char *script, const char *env_base)
{
	const char *argv[16];
	int n = 0;

	argv[n++] = RUN_BIN;
	argv[n++] = "-c";
	argv[n++] = sfs_fx.conf;
	if (explicit_dirs) {
		argv[n++] = "--backing";
		argv[n++] = B;
		argv[n++] = "--mount";
		argv[n++] = M;
	}
	if (extra)
		argv[n++] = extra;
	argv[n++] = "--";
	argv[n++] = "sh";
	argv[n++] = "-c";
	argv[n++] = script;
	argv[n] = NULL;
	return start(name, argv, env_base);
}

/* The job wrote its pid to root/ready (after writing the canary). */
static pid_t wait_ready(void)
{
	const char *ready = sfs_join(sfs_fx.root, "ready");

	for (int i = 0; i < 2000; i++) {
		size_t len;
		char *s = sfs_read_file(ready, &len);

		if (s && len > 0 && s[len - 1] == '\n') {
			pid_t pid = (pid_t)atoi(s);

			free(s);
			unlink(ready);
			return pid;
		}
		free(s);
		usleep(10000);
	}
	cr_assert_fail("the job never became ready");
	return -1;
}

/* A job that writes the canary, reports ready and waits. */
static char *ready_script(void)
{
	static char s[PATH_MAX * 2];
	const char *ready = sfs_join(sfs_fx.root, "ready");

	snprintf(s, sizeof(s),
		 "printf %%s %s > \"$SCRATCH_DIR/canary\" && "
		 "echo $$ > %s.tmp && mv %s.tmp %s && exec sleep 30",
		 CANARY, ready, ready, ready);
	return s;
}

/* Not mounted, backing gone or empty, the canary nowhere. */
static void assert_clean(const char *backing)
{
	char mnt[PATH_MAX];
	struct dirent *de;
	DIR *d;

	cr_assert_eq(sfs_wipe_find_mount(backing, mnt, sizeof(mnt)), 0,
		     "%s still mounted at %s", backing, mnt);
	d = opendir(backing);
	if (d) {
		while ((de = readdir(d)))
			cr_assert(strcmp(de->d_name, ".") == 0 ||
				      strcmp(de->d_name, "..") == 0,
				  "%s still holds %s", backing, de->d_name);
		closedir(d);
	} else {
		cr_assert_eq(errno, ENOENT);
	}
	cr_assert_not(
	    sfs_tree_has_bytes(sfs_fx.root, CANARY, strlen(CANARY), true),
	    "the canary survived");
}

/* The audit records of one event; *last gets the last one. */
static int audit_count(const char *event, json_t **last)
{
	char *log = sfs_slurp(sfs_join(sfs_fx.root, "audit.log"));
	char key[64];
	int n = 0;

	snprintf(key, sizeof(key), "\"event\":\"%s\"", event);
	if (last)
		*last = NULL;
	for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
		json_t *j = json_loads(line, 0, NULL);

		cr_assert_not_null(j, "audit line is not JSON: %s", line);
		if (strstr(line, key)) {
			n++;
			if (last) {
				json_decref(*last);
				*last = j;
				continue;
			}
		}
		json_decref(j);
	}
	free(log);
	return n;
}

static bool jtrue(json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key));
}

/* The issue's own scenario. */
Test(run, canary_64mib_exit7)
{
	int st;
	char script[PATH_MAX + 512], *err;
	json_t *wipe, *run;
	pid_t pid;

	snprintf(script, sizeof(script),
		 "printf %%s %s > \"$SCRATCH_DIR/canary\" || exit 90; "
		 "dd if=/dev/zero of=\"$SCRATCH_DIR/big\" bs=1M count=64 "
		 "2>/dev/null || exit 91; "
		 "[ \"$TMPDIR\" = \"$SCRATCH_DIR/tmp\" ] || exit 92; "
		 "[ -d \"$TMPDIR\" ] || exit 93; "
		 "[ \"$SCRATCH_DIR\" = \"%s\" ] || exit 94; exit 7",
		 CANARY, M);
	pid = start_run("r", true, NULL, script, NULL);
	st = finish(pid);
	err = err_of("r");
	cr_assert_eq(st, 7, "%s", err);
	free(err);
	assert_clean(B);
	cr_assert_neq(access(B, F_OK), 0, "the backing we created is left");
	cr_assert_neq(access(M, F_OK), 0, "the mount point we created is left");
	cr_assert_eq(audit_count("wipe", &wipe), 1);
	cr_assert(jtrue(wipe, "verified"));
	cr_assert_str_eq(json_string_value(json_object_get(wipe, "method")),
			 "crypto-erase");
	cr_assert_geq(json_integer_value(json_object_get(
			  json_object_get(wipe, "destroyed"), "bytes")),
		      64 << 20);
	cr_assert_eq(audit_count("run", &run), 1);
	cr_assert_eq(json_integer_value(json_object_get(run, "status")), 7);
	cr_assert(jtrue(run, "wiped"));
	cr_assert_eq(audit_count("mount", NULL), 1);
	json_decref(wipe);
	json_decref(run);
}

static const struct {
	const char *script; /* NULL: run the "noexec" file itself */
	int status;
} statuses[] = {
    {"exit 0", 0},
    {"exit 3", 3},
    {"false", 1},
    {"kill -KILL $$", 137},
    {"kill -TERM $$", 143},
    {"kill -SEGV $$", 139},
    {NULL, 126},
    {"", 127},
};
SFS_CASE_PARAMS(run, status, statuses)
ParameterizedTest(int *i, run, status)
{
	int st;
	const char *argv[12];
	char *err;
	int n = 0;
	pid_t pid;

	if (statuses[*i].script && statuses[*i].script[0]) {
		pid = start_run("r", true, NULL, statuses[*i].script, NULL);
	} else {
		const char *noexec = sfs_join(sfs_fx.root, "noexec");

		cr_assert_eq(sfs_write_file(noexec, "#!/bin/sh\n", 10), 0);
		argv[n++] = RUN_BIN;
		argv[n++] = "-c";
		argv[n++] = sfs_fx.conf;
		argv[n++] = "--backing";
		argv[n++] = B;
		argv[n++] = "--mount";
		argv[n++] = M;
		argv[n++] = "--";
		argv[n++] =
		    statuses[*i].script ? "/nonexistent/program" : noexec;
		argv[n] = NULL;
		pid = start("r", argv, NULL);
	}
	st = finish(pid);
	err = err_of("r");
	cr_assert_eq(st, statuses[*i].status, "%s", err);
	free(err);
	assert_clean(B);
	cr_assert_eq(audit_count("wipe", NULL), 1);
}

static const int signals[] = {SIGTERM, SIGINT, SIGHUP};
SFS_CASE_PARAMS(run, signal_mid_job, signals)
ParameterizedTest(int *i, run, signal_mid_job)
{
	int st;
	json_t *wipe;
	char *err;
	pid_t pid;

	pid = start_run("r", true, NULL, ready_script(), NULL);
	wait_ready();
	cr_assert_eq(access(sfs_join(M, "canary"), R_OK), 0);
	cr_assert_eq(kill(pid, signals[*i]), 0);
	st = finish(pid);
	err = err_of("r");
	cr_assert_eq(st, 128 + signals[*i], "%s", err);
	free(err);
	assert_clean(B);
	cr_assert_eq(audit_count("wipe", &wipe), 1);
	cr_assert(jtrue(wipe, "verified"));
	json_decref(wipe);
}

/* SIGKILL leaves the volume mounted; the next run on the same backing
 * finds it, wipes it, and goes on. */
Test(run, sigkill_then_next_run_cleans)
{
	int st;
	json_t *wipe;
	char *err;
	pid_t pid;

	pid = start_run("r1", true, NULL, ready_script(), NULL);
	stray[0] = wait_ready();
	cr_assert_eq(kill(pid, SIGKILL), 0);
	cr_assert_eq(finish(pid), 128 + SIGKILL);
	cr_assert_eq(access(sfs_join(M, "canary"), R_OK), 0,
		     "the killed run's volume should still be mounted");
	kill(stray[0], SIGKILL);

	pid = start_run("r2", true, NULL, "exit 0", NULL);
	st = finish(pid);
	err = err_of("r2");
	cr_assert_eq(st, 0, "%s", err);
	cr_assert(strstr(err, "leftover volume"), "%s", err);
	free(err);
	assert_clean(B);
	/* The leftover's wipe (after a live mount), then the run's own. */
	cr_assert_eq(audit_count("wipe", &wipe), 2);
	cr_assert(jtrue(wipe, "verified"));
	json_decref(wipe);
	cr_assert_eq(audit_count("mount", NULL), 2);
}

/* The same with default locations: the next run sweeps the dead slot. */
Test(run, sigkill_default_slot_swept)
{
	int st;
	const char *base = sfs_join(sfs_fx.root, "base");
	char basecopy[PATH_MAX], *err;
	struct dirent *de;
	pid_t pid;
	DIR *d;

	snprintf(basecopy, sizeof(basecopy), "%s", base);
	pid = start_run("r1", false, NULL, ready_script(), basecopy);
	stray[0] = wait_ready();
	cr_assert_eq(kill(pid, SIGKILL), 0);
	finish(pid);
	kill(stray[0], SIGKILL);
	cr_assert_eq(access(sfs_join(basecopy, "run-0/mnt/canary"), R_OK), 0);

	pid = start_run("r2", false, NULL,
			"case \"$SCRATCH_DIR\" in */run-*/mnt) exit 0;; esac; "
			"exit 5",
			basecopy);
	st = finish(pid);
	err = err_of("r2");
	cr_assert_eq(st, 0, "%s", err);
	cr_assert(strstr(err, "killed: wiping it"), "%s", err);
	free(err);
	assert_clean(sfs_join(basecopy, "run-0/backing"));
	/* Both slots are gone. */
	d = opendir(basecopy);
	cr_assert_not_null(d);
	while ((de = readdir(d)))
		cr_assert(de->d_name[0] == '.', "left in base: %s", de->d_name);
	closedir(d);
	cr_assert_eq(audit_count("wipe", NULL), 2);
}

/* --keep leaves the volume mounted, says so, and the next run leaves it
 * alone; scratchfs-wipe removes it later. */
Test(run, keep_skips_wipe)
{
	const char *base = sfs_join(sfs_fx.root, "base");
	const char *wargv[5];
	char basecopy[PATH_MAX], kept_mnt[PATH_MAX], *err;
	pid_t pid;

	snprintf(basecopy, sizeof(basecopy), "%s", base);
	cr_assert(snprintf(kept_mnt, sizeof(kept_mnt), "%s/run-0/mnt",
			   basecopy) < (int)sizeof(kept_mnt));
	pid = start_run("r1", false, "--keep",
			"echo kept > \"$SCRATCH_DIR/data\"", basecopy);
	cr_assert_eq(finish(pid), 0);
	err = err_of("r1");
	cr_assert(strstr(err, "NOT WIPING"), "%s", err);
	free(err);
	cr_assert_eq(access(sfs_join(kept_mnt, "data"), R_OK), 0);
	cr_assert_eq(audit_count("wipe", NULL), 0);

	pid = start_run("r2", false, NULL, "exit 0", basecopy);
	cr_assert_eq(finish(pid), 0);
	cr_assert_eq(access(sfs_join(kept_mnt, "data"), R_OK), 0,
		     "a later run wiped the kept volume");

	wargv[0] = WIPE_BIN;
	wargv[1] = "-c";
	wargv[2] = sfs_fx.conf;
	wargv[3] = kept_mnt;
	wargv[4] = NULL;
	pid = start("w", wargv, NULL);
	cr_assert_eq(finish(pid), 0);
	cr_assert_neq(access(sfs_join(kept_mnt, "data"), F_OK), 0);
	/* The next run removes the wiped slot, silently. */
	pid = start_run("r3", false, NULL, "exit 0", basecopy);
	cr_assert_eq(finish(pid), 0);
	err = err_of("r3");
	cr_assert_not(strstr(err, "killed"), "%s", err);
	free(err);
	cr_assert_neq(access(sfs_join(basecopy, "run-0"), F_OK), 0);
	assert_clean(sfs_join(basecopy, "run-0/backing"));
}

/* A non-empty directory that is no volume is refused, untouched. */
Test(run, refuses_foreign_backing)
{
	char *err;
	size_t len;
	char *data;
	pid_t pid;

	cr_assert_eq(mkdir(B, 0700), 0);
	cr_assert_eq(mkdir(sfs_join(B, "etc"), 0700), 0);
	cr_assert_eq(sfs_write_file(sfs_join(B, "etc/passwd"), "root", 4), 0);
	pid = start_run("r", true, NULL, "exit 0", NULL);
	cr_assert_eq(finish(pid), 125);
	err = err_of("r");
	cr_assert(strstr(err, "holds no scratchfs volume"), "%s", err);
	free(err);
	data = sfs_read_file(sfs_join(B, "etc/passwd"), &len);
	cr_assert_not_null(data);
	cr_assert_str_eq(data, "root");
	free(data);
	cr_assert_eq(audit_count("mount", NULL), 0);
}

/* A job that leaves a process holding the mount is still wiped. */
Test(run, background_holder_is_detached)
{
	int st;
	char script[512], *err;
	json_t *wipe, *h;
	pid_t pid;

	/* The job waits until the detached child has become sleep: a child
	 * still between fork and exec is named sh. */
	snprintf(script, sizeof(script),
		 "cd \"$SCRATCH_DIR\" && printf %%s %s > c && "
		 "(sleep 30 & echo $! > p) && p=$(cat p) && "
		 "while [ \"$(cat /proc/$p/comm)\" != sleep ]; do :; done && "
		 "exit 4",
		 CANARY);
	pid = start_run("r", true, NULL, script, NULL);
	st = finish(pid);
	err = err_of("r");
	cr_assert_eq(st, 4, "%s", err);
	free(err);
	assert_clean(B);
	cr_assert_eq(audit_count("wipe", &wipe), 1);
	cr_assert(jtrue(wipe, "verified"));
	cr_assert(jtrue(wipe, "lazy"));
	h = json_array_get(json_object_get(wipe, "holders"), 0);
	cr_assert_not_null(h, "the holder was not named");
	stray[0] = (pid_t)json_integer_value(json_object_get(h, "pid"));
	cr_assert_str_eq(json_string_value(json_object_get(h, "comm")),
			 "sleep");
	json_decref(wipe);
}

/* One run per backing directory at a time. */
Test(run, concurrent_same_backing_refused)
{
	char *err;
	pid_t first, second;

	first = start_run("r1", true, NULL, ready_script(), NULL);
	wait_ready();
	second = start_run("r2", true, NULL, "exit 0", NULL);
	cr_assert_eq(finish(second), 125);
	err = err_of("r2");
	cr_assert(strstr(err, "in use by another scratchfs-run"), "%s", err);
	free(err);
	/* The first one is unharmed and still wipes. */
	cr_assert_eq(access(sfs_join(M, "canary"), R_OK), 0);
	kill(first, SIGTERM);
	cr_assert_eq(finish(first), 128 + SIGTERM);
	assert_clean(B);
}

static const struct {
	const char *args[4];
	int status;
	const char *msg;
} cli_cases[] = {
    {{NULL}, 125, "usage"},
    {{"--"}, 125, "usage"},
    {{"--bogus", "--", "true"}, 125, "usage"},
    {{"-c", "/nonexistent.conf", "--", "true"}, 125, "nonexistent.conf"},
    {{"--help"}, 0, "Exit status"},
};
SFS_CASE_PARAMS(run, cli, cli_cases)
ParameterizedTest(int *i, run, cli)
{
	const char *argv[8] = {RUN_BIN};
	char o[PATH_MAX + 8], *out, *err;
	int n = 1;
	pid_t pid;

	for (int k = 0; k < 4 && cli_cases[*i].args[k]; k++)
		argv[n++] = cli_cases[*i].args[k];
	argv[n] = NULL;
	pid = start("r", argv, sfs_join(sfs_fx.root, "base"));
	cr_assert_eq(finish(pid), cli_cases[*i].status);
	snprintf(o, sizeof(o), "%s.out", sfs_join(sfs_fx.root, "r"));
	out = sfs_slurp(o);
	err = err_of("r");
	cr_assert(strstr(cli_cases[*i].status ? err : out, cli_cases[*i].msg),
		  "out [%s] err [%s]", out, err);
	/* Nothing was created. */
	cr_assert_neq(access(sfs_join(sfs_fx.root, "base"), F_OK), 0);
	free(out);
	free(err);
}
