/* test_selftest.c - scratchfs-ctl selftest, the real binary: passes on this
 * machine, fails naming the right check when a property is broken on
 * purpose (tests/shim/sfs_shim.c, preloaded: a daemon that plants
 * plaintext in the backing, a libsodium that returns wrong bytes, a daemon
 * that does not check tags), and leaves nothing behind, also when it is
 * interrupted. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mount_util.h"
#include "util.h"

#define CTL SFS_BUILD_DIR "/scratchfs-ctl"
#define SHIM SFS_BUILD_DIR "/tests/sfs_shim.so"
#define NCHECKS 14
#define RUN_WAIT_S 60

/* The shim's settings for the child (NULL: no shim). */
struct shim {
	const char *mode, *comm;
};

static void prep(const void *arg)
{
	const struct shim *s = arg;
	static char asan[1024];

	if (!s)
		return;
	setenv("LD_PRELOAD", SHIM, 1);
	setenv("SFS_SHIM", s->mode, 1);
	if (s->comm)
		setenv("SFS_SHIM_COMM", s->comm, 1);
	/* Under ASan the shim comes before its runtime; that is fine. */
	snprintf(asan, sizeof(asan), "%s%sverify_asan_link_order=0",
		 getenv("ASAN_OPTIONS") ? getenv("ASAN_OPTIONS") : "",
		 getenv("ASAN_OPTIONS") ? ":" : "");
	setenv("ASAN_OPTIONS", asan, 1);
}

/* Waits for pid (at most RUN_WAIT_S); its exit status or 128 + signal. */
static int wait_exit(pid_t pid)
{
	int status = 0;
	double end = sfs_now_s() + RUN_WAIT_S;

	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (sfs_now_s() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			cr_assert_fail("selftest did not finish in %d s",
				       RUN_WAIT_S);
		}
		sfs_sleep_ms(5);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static pid_t spawn(const struct shim *s)
{
	const char *argv[] = {CTL,	   "selftest", "-c",
			      sfs_fx.conf, "--json",   "--backing-root",
			      sfs_fx.ref,  NULL};

	return sfs_spawn_redirected(argv, sfs_join(sfs_fx.root, "out.json"),
				    sfs_join(sfs_fx.root, "err.txt"), prep, s);
}

/* Runs selftest --json in sfs_fx.ref; its exit status, the document in
 * *doc (checked for its shape). */
static int run(const struct shim *s, json_t **doc)
{
	int rc = wait_exit(spawn(s));
	json_error_t e;
	json_t *checks;

	*doc = json_load_file(sfs_join(sfs_fx.root, "out.json"), 0, &e);
	if (!*doc) {
		char *err = sfs_slurp(sfs_join(sfs_fx.root, "err.txt"));

		cr_assert_fail(
		    "selftest printed no JSON (%s); exit %d, stderr: %s",
		    e.text, rc, err);
		free(err);
	}
	checks = json_object_get(*doc, "checks");
	cr_assert(json_is_array(checks) && json_array_size(checks) == NCHECKS,
		  "\"checks\" is not an array of %d", NCHECKS);
	for (size_t i = 0; i < NCHECKS; i++) {
		json_t *c = json_array_get(checks, i);
		const char *res =
		    json_string_value(json_object_get(c, "result"));

		cr_assert(json_is_string(json_object_get(c, "name")));
		cr_assert(json_is_string(json_object_get(c, "detail")));
		cr_assert(json_is_number(json_object_get(c, "ms")));
		cr_assert(res &&
			  (!strcmp(res, "pass") || !strcmp(res, "fail")));
	}
	return rc;
}

/* The result of check name; its detail in *detail. */
static const char *result(json_t *doc, const char *name, const char **detail)
{
	json_t *checks = json_object_get(doc, "checks");

	for (size_t i = 0; i < json_array_size(checks); i++) {
		json_t *c = json_array_get(checks, i);

		if (!strcmp(json_string_value(json_object_get(c, "name")),
			    name)) {
			*detail =
			    json_string_value(json_object_get(c, "detail"));
			return json_string_value(json_object_get(c, "result"));
		}
	}
	cr_assert_fail("no check named %s", name);
	return NULL;
}

static void expect(json_t *doc, const char *name, const char *want)
{
	const char *detail, *got = result(doc, name, &detail);

	cr_expect_str_eq(got, want, "check %s: %s (%s)", name, got, detail);
}

/* Nothing left in the backing root, and nothing mounted under it. */
static void expect_clean(void)
{
	char mounts[4][PATH_MAX];

	cr_expect_eq(sfs_dir_entries(sfs_fx.ref), 0,
		     "selftest left something in its backing root");
	cr_expect_eq(sfs_mounts_under(sfs_fx.ref, NULL, mounts, 4), 0,
		     "selftest left a mount behind");
}

TestSuite(selftest, .init = sfs_fx_init_setup, .fini = sfs_fx_fini,
	  .timeout = 120);

Test(selftest, passes_and_reports_every_check)
{
	json_t *doc;
	int rc = run(NULL, &doc);
	json_t *checks = json_object_get(doc, "checks");

	for (size_t i = 0; i < json_array_size(checks); i++) {
		json_t *c = json_array_get(checks, i);

		cr_log_info("%-22s %s %6.1f ms  %s",
			    json_string_value(json_object_get(c, "name")),
			    json_string_value(json_object_get(c, "result")),
			    json_number_value(json_object_get(c, "ms")),
			    json_string_value(json_object_get(c, "detail")));
	}
	cr_log_info("selftest: %.0f ms",
		    json_number_value(json_object_get(doc, "ms")));
	cr_expect_eq(rc, 0, "selftest failed on this machine");
	cr_expect_str_eq(json_string_value(json_object_get(doc, "result")),
			 "pass");
	expect(doc, "at-rest", "pass");
	expect(doc, "tamper", "pass");
	expect(doc, "crypto-erase", "pass");
	expect_clean();
	json_decref(doc);
}

/* Runs selftest under shim s: it must exit 1 with check failing and its
 * detail naming needle, and leave nothing behind. The document, for more
 * checks. */
static json_t *expect_failure(const struct shim *s, const char *check,
			      const char *needle)
{
	const char *detail;
	json_t *doc;

	cr_expect_eq(run(s, &doc), 1);
	cr_expect_str_eq(result(doc, check, &detail), "fail",
			 "check %s passed: %s", check, detail);
	cr_expect(strstr(detail, needle), "%s: %s", check, detail);
	expect_clean();
	return doc;
}

Test(selftest, plaintext_in_the_backing_fails_at_rest)
{
	const struct shim s = {"plant", "scratchfs"};
	json_t *doc = expect_failure(&s, "at-rest", "planted");

	expect(doc, "control", "pass");
	expect(doc, "kat-siv", "pass");
	json_decref(doc);
}

Test(selftest, library_returning_wrong_bytes_fails_known_answers)
{
	/* Every process: the daemon stays self-consistent, so only the
	 * known answers can see it. */
	const struct shim s = {"wrong-bytes", NULL};
	json_t *doc = expect_failure(&s, "kat-siv", "FORMAT.md section 12");

	expect(doc, "kat-kdf", "pass");
	expect(doc, "at-rest", "pass");
	json_decref(doc);
}

Test(selftest, disabled_tamper_check_fails_tamper)
{
	const struct shim s = {"no-auth", "scratchfs"};
	json_t *doc =
	    expect_failure(&s, "tamper", "instead of failing with EIO");

	expect(doc, "kat-xchacha20poly1305", "pass");
	expect(doc, "at-rest", "pass");
	json_decref(doc);
}

Test(selftest, sigterm_while_mounted_cleans_up)
{
	char mounts[4][PATH_MAX];
	pid_t pid = spawn(NULL);
	double end = sfs_now_s() + RUN_WAIT_S;
	char *err;
	int rc;

	/* Wait for one of its volumes to be mounted, then stop it. */
	while (sfs_mounts_under(sfs_fx.ref, "fuse.scratchfs", mounts, 4) == 0) {
		cr_assert(waitpid(pid, NULL, WNOHANG) == 0,
			  "selftest ended before it mounted anything");
		cr_assert(sfs_now_s() < end, "no mount appeared");
		sfs_sleep_ms(1);
	}
	kill(pid, SIGTERM);
	rc = wait_exit(pid);
	err = sfs_slurp(sfs_join(sfs_fx.root, "err.txt"));
	cr_expect_eq(rc, 128 + SIGTERM, "exit %d, stderr: %s", rc, err);
	cr_expect(strstr(err, "interrupted"), "stderr: %s", err);
	free(err);
	expect_clean();
}

Test(selftest, refuses_a_missing_backing_root)
{
	const char *argv[] = {
	    CTL,	 "selftest",	   "-c",
	    sfs_fx.conf, "--backing-root", sfs_join(sfs_fx.root, "missing"),
	    NULL};
	char *err;
	int rc = wait_exit(
	    sfs_spawn_redirected(argv, sfs_join(sfs_fx.root, "out.json"),
				 sfs_join(sfs_fx.root, "err.txt"), NULL, NULL));

	err = sfs_slurp(sfs_join(sfs_fx.root, "err.txt"));
	cr_expect_eq(rc, 2);
	cr_expect(strstr(err, "missing") && strstr(err, "No such file"),
		  "stderr: %s", err);
	free(err);
}
