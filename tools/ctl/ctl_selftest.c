/* ctl_selftest.c - `scratchfs-ctl selftest`: proves on this node that hbi
 * scratch is encrypted at rest and gone after a wipe. Runs the checks of
 * ctl_selftest.h in a worker process; this process only collects their
 * results, and cleans up whatever happens to the worker: a failed check, a
 * crash, SIGINT, SIGTERM or a hang. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl_selftest.h"
#include "sfs_crypto.h"
#include "sfs_ctl.h"
#include "sfs_sys.h"
#include "sfs_volume.h"

#define PROG "scratchfs-ctl selftest"
#define DEFAULT_BACKING_ROOT "/var/tmp"
/* A worker that takes longer than this is killed (a hung mount). */
#define WORKER_TIMEOUT_MS 120000

static const struct {
	const char *name;
	st_check_fn fn;
} checks[] = {
    {"platform-fuse", st_platform_fuse},
    {"platform-cpu", st_platform_cpu},
    {"platform-rng", st_platform_rng},
    {"platform-io-uring", st_platform_uring},
    {"platform-key", st_platform_key},
    {"kat-kdf", st_kat_kdf},
    {"kat-siv", st_kat_siv},
    {"kat-xchacha20poly1305", st_kat_xchacha},
    {"kat-aes256gcm", st_kat_gcm},
    {"control", st_control},
    {"at-rest", st_at_rest},
    {"tamper", st_tamper},
    {"crypto-erase", st_crypto_erase},
    {"hbi0-passthrough", st_passthrough},
};
#define NCHECKS (sizeof(checks) / sizeof(checks[0]))

/* What the worker sends for each check, in order. */
struct msg {
	struct st_result r;
	double ms;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void vset(struct st_result *r, bool pass, const char *fmt, va_list ap)
{
	r->pass = pass;
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
}

void st_fail(struct st_result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(r, false, fmt, ap);
	va_end(ap);
}

void st_pass(struct st_result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(r, true, fmt, ap);
	va_end(ap);
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: scratchfs-ctl selftest [-c CONF] [--backing-root "
		   "DIR] [--json]\n");
}

static int sub(char *out, const char *dir, const char *name, bool make)
{
	if ((size_t)snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
		return -ENAMETOOLONG;
	return make && mkdir(out, 0700) != 0 ? -errno : 0;
}

/* The selftest's own directory in root and the canaries. */
static int setup(struct st_ctx *x, const char *root)
{
	uint8_t raw[ST_CANARY_LEN / 2];
	int rc;

	if ((size_t)snprintf(x->dir, sizeof(x->dir),
			     "%s/scratchfs-selftest.XXXXXX",
			     root) >= sizeof(x->dir))
		return -ENAMETOOLONG;
	if (!mkdtemp(x->dir)) {
		rc = -errno;
		x->dir[0] = '\0';
		return rc;
	}
	if ((rc = sub(x->hbi_backing, x->dir, "hbi-backing", true)) ||
	    (rc = sub(x->hbi_mnt, x->dir, "hbi-mnt", true)) ||
	    (rc = sub(x->plain_backing, x->dir, "plain-backing", true)) ||
	    (rc = sub(x->plain_mnt, x->dir, "plain-mnt", true)) ||
	    (rc = sub(x->control, x->dir, "control", true)) ||
	    (rc = sub(x->log, x->dir, "daemon.log", false)))
		return rc;
	for (int i = 0; i < ST_CANARIES; i++) {
		sfs_random(raw, sizeof(raw));
		sfs_hex(x->canary[i], raw, sizeof(raw));
	}
	return 0;
}

static void worker(struct st_ctx *x, int fd)
{
	for (size_t i = 0; i < NCHECKS; i++) {
		struct msg m;
		double t0 = now_ms();

		memset(&m, 0, sizeof(m));
		checks[i].fn(x, &m.r);
		m.ms = now_ms() - t0;
		if (write(fd, &m, sizeof(m)) != sizeof(m))
			_exit(2);
	}
	_exit(0);
}

/* Collects the worker's results into res; the number received. */
static size_t collect(pid_t pid, int fd, struct msg *res)
{
	size_t got = 0, part = 0;
	double deadline = now_ms() + WORKER_TIMEOUT_MS;
	int status;

	while (got < NCHECKS && !stop_signal) {
		struct pollfd p = {fd, POLLIN, 0};
		double left = deadline - now_ms();
		ssize_t n;

		if (left <= 0)
			break;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = read(fd, (char *)&res[got] + part, sizeof(*res) - part);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			break;
		}
		part += (size_t)n;
		if (part == sizeof(*res)) {
			got++;
			part = 0;
		}
	}
	if (got < NCHECKS) {
		kill(pid, SIGKILL);
		memset(&res[got], 0, sizeof(*res));
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got < NCHECKS && !stop_signal) {
		if (WIFSIGNALED(status))
			st_fail(&res[got].r, "the check crashed (signal %d)",
				WTERMSIG(status));
		else
			st_fail(&res[got].r,
				"the check did not finish "
				"within %d s",
				WORKER_TIMEOUT_MS / 1000);
		got++;
	}
	return got;
}

static int report(const struct msg *res, size_t got, bool json,
		  const char *root, double total)
{
	size_t passed = 0;
	json_t *arr = json_array(), *doc;

	for (size_t i = 0; i < NCHECKS; i++) {
		bool ran = i < got;
		bool pass = ran && res[i].r.pass;
		const char *detail = ran	   ? res[i].r.detail
				     : stop_signal ? "not run: interrupted"
						   : "not run";

		passed += pass;
		if (json)
			json_array_append_new(
			    arr, json_pack("{s:s, s:s, s:f, s:o}", "name",
					   checks[i].name, "result",
					   pass ? "pass" : "fail", "ms",
					   ran ? res[i].ms : 0.0, "detail",
					   sfs_ctl_json_string(detail)));
		else
			printf("%-4s %-22s %7.1f ms  %s\n",
			       pass ? "pass" : "FAIL", checks[i].name,
			       ran ? res[i].ms : 0.0, detail);
	}
	if (json) {
		doc = json_pack("{s:s, s:o, s:f, s:o}", "result",
				passed == NCHECKS ? "pass" : "fail",
				"backing_root", sfs_ctl_json_string(root), "ms",
				total, "checks", arr);
		json_dumpf(doc, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(doc);
	} else {
		json_decref(arr);
		printf("selftest: %zu of %zu checks passed in %.0f ms\n",
		       passed, NCHECKS, total);
	}
	return passed == NCHECKS ? 0 : 1;
}

static int load_config(struct st_ctx *x)
{
	char err[PATH_MAX + 256];
	const char *path = x->conf;

	sfs_config_defaults(&x->cfg);
	if (!path && access(SFS_DEFAULT_CONFIG, F_OK) == 0)
		path = SFS_DEFAULT_CONFIG;
	if (path && sfs_config_load(&x->cfg, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "scratchfs-ctl: %s\n", err);
		return -1;
	}
	return 0;
}

int sfs_ctl_selftest(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"backing-root", required_argument, NULL, 'b'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static struct st_ctx x;
	static struct msg res[NCHECKS];
	const char *root = DEFAULT_BACKING_ROOT;
	struct sigaction sa = {0};
	bool json = false, clean;
	int c, rc, fds[2];
	double t0 = now_ms();
	size_t got;
	pid_t pid;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			x.conf = optarg;
			break;
		case 'b':
			root = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (load_config(&x) < 0)
		return 2;
	rc = sfs_sibling_program("scratchfs", x.daemon, sizeof(x.daemon));
	if (rc) {
		fprintf(stderr,
			"scratchfs-ctl: no scratchfs daemon next to this "
			"program (%s): %s\n",
			x.daemon, strerror(-rc));
		return 2;
	}
	sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	rc = setup(&x, root);
	if (rc || pipe(fds) != 0) {
		fprintf(stderr,
			"scratchfs-ctl: selftest: cannot set up %s: %s\n",
			x.dir[0] ? x.dir : root, strerror(rc ? -rc : errno));
		st_cleanup(&x);
		return 2;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		sa.sa_handler = SIG_DFL;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		close(fds[0]);
		worker(&x, fds[1]);
	}
	close(fds[1]);
	got = pid < 0 ? 0 : collect(pid, fds[0], res);
	close(fds[0]);
	clean = st_cleanup(&x) == 0;
	rc = report(res, got, json, root, now_ms() - t0);
	if (!clean && rc == 0)
		rc = 1;
	if (stop_signal) {
		fprintf(stderr,
			"scratchfs-ctl: selftest interrupted by "
			"signal %d; cleaned up\n",
			(int)stop_signal);
		return 128 + stop_signal;
	}
	return rc;
}
