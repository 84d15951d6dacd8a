/* scratchfs-run.c - runs a command on a fresh scratchfs volume and always
 * wipes the volume afterwards (normal exit, failure, signal).
 *
 * Where the volume lives: --backing and --mount when given (created with
 * their parents when missing, removed again when this run created them).
 * Otherwise a slot BASE/run-N/{backing,mnt}, BASE being $SCRATCHFS_RUN_BASE or
 * /var/tmp/scratchfs (/var/tmp/scratchfs-UID when not root). A run holds
 * an flock on its slot (and on its backing directory) until it exits; a
 * wrapper that was SIGKILLed releases it, and the next run wipes every
 * unlocked slot that still holds a volume, and any leftover volume in an
 * explicit --backing, before it starts.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "run.h"
#include "sfs_audit.h"
#include "sfs_config.h"
#include "sfs_crypto.h"
#include "sfs_log.h"
#include "sfs_version.h"
#include "sfs_wipe.h"

enum { OPT_BACKING = 256, OPT_MOUNT, OPT_KEEP };

static const struct option long_opts[] = {
    {"backing", required_argument, NULL, OPT_BACKING},
    {"mount", required_argument, NULL, OPT_MOUNT},
    {"keep", no_argument, NULL, OPT_KEEP},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [-c CONF] [--backing DIR] [--mount DIR] "
		"[--keep] -- COMMAND [ARGS...]\n"
		"\n"
		"Creates a fresh scratchfs volume, mounts it, runs COMMAND "
		"with\n"
		"SCRATCH_DIR set to the mount point and TMPDIR to a tmp/\n"
		"directory inside it, forwards SIGINT, SIGTERM and SIGHUP to\n"
		"it, and always wipes the volume afterwards "
		"(scratchfs-wipe).\n"
		"\n"
		"  -c CONF        config file for the mount and the wipe\n"
		"                 (default %s when it exists)\n"
		"  --backing DIR  backing directory (created with its parents\n"
		"                 when missing; an existing one must be empty\n"
		"                 or hold a leftover volume, which is wiped\n"
		"                 first)\n"
		"  --mount DIR    mount point (created with its parents when\n"
		"                 missing)\n"
		"  --keep         do NOT wipe: leave the volume mounted for\n"
		"                 debugging (wipe it later with "
		"scratchfs-wipe)\n"
		"\n"
		"Without --backing/--mount the volume lives in BASE/run-N/\n"
		"(BASE: $SCRATCHFS_RUN_BASE, default /var/tmp/scratchfs, or\n"
		"/var/tmp/scratchfs-UID when not root); leftovers of runs "
		"that\n"
		"were killed are wiped by the next run.\n"
		"\n"
		"Exit status: COMMAND's status, 128+N if it was killed by\n"
		"signal N; 125 if " PROG " itself failed (usage, setup, "
		"mount\n"
		"or wipe: a failed wipe is always 125, whatever COMMAND "
		"did);\n"
		"126 if COMMAND is not executable, 127 if it was not found.\n",
		SFS_DEFAULT_CONFIG);
}

int main(int argc, char *argv[])
{
	struct run run = {.slot_fd = -1, .lock_fd = -1};
	struct sfs_wipe_report *r = NULL;
	char err[1024];
	int opt, status = EXIT_RUN_FAILED, sig;

	sfs_log_init(PROG, false);
	while ((opt = getopt_long(argc, argv, "+c:hV", long_opts, NULL)) !=
	       -1) {
		switch (opt) {
		case 'c':
			run.conf = optarg;
			break;
		case OPT_BACKING:
			run.opt_backing = optarg;
			break;
		case OPT_MOUNT:
			run.opt_mount = optarg;
			break;
		case OPT_KEEP:
			run.keep = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf(PROG " %s\n", SFS_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_RUN_FAILED;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_RUN_FAILED;
	}
	/* Blocked from here on: a signal during setup or the wipe is
	 * handled in order, never by dying with a mounted volume. */
	sigemptyset(&run.sigs);
	sigaddset(&run.sigs, SIGINT);
	sigaddset(&run.sigs, SIGTERM);
	sigaddset(&run.sigs, SIGHUP);
	sigaddset(&run.sigs, SIGCHLD);
	sigprocmask(SIG_BLOCK, &run.sigs, NULL);

	if (sfs_crypto_init() < 0) {
		fprintf(stderr, PROG ": libsodium initialisation failed\n");
		return EXIT_RUN_FAILED;
	}
	sfs_config_defaults(&run.cfg);
	if (!run.conf && access(SFS_DEFAULT_CONFIG, F_OK) == 0)
		run.conf = SFS_DEFAULT_CONFIG;
	if (run.conf &&
	    sfs_config_load(&run.cfg, run.conf, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return EXIT_RUN_FAILED;
	}
	if (sfs_audit_open(&run.audit, run.cfg.audit.file, run.cfg.audit.syslog,
			   PROG, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return EXIT_RUN_FAILED;
	}
	r = malloc(sizeof(*r));
	if (!r) {
		fprintf(stderr, PROG ": out of memory\n");
		goto out;
	}
	if (run_choose_dirs(&run, r) != 0 || run_clear_leftover(&run, r) != 0)
		goto out;
	if (run_mount_volume(&run) == 0) {
		sig = run_pending_signal(&run);
		if (sig) {
			fprintf(stderr,
				PROG ": got signal %d before the job "
				     "started; not running it\n",
				sig);
			status = 128 + sig;
		} else {
			status = run_job(&run, argv + optind);
		}
	}
	if (run_finish(&run, r) != 0) {
		fprintf(stderr,
			PROG ": *** WIPE FAILED *** for %s (the job's status "
			     "was %d)\n",
			run.backing, status);
		run_audit(&run, argv[optind], status, false);
		status = EXIT_RUN_FAILED;
		goto out;
	}
	run_audit(&run, argv[optind], status, !run.keep || !run.mounted);
out:
	if (run.lock_fd >= 0)
		close(run.lock_fd);
	if (run.slot_fd >= 0)
		close(run.slot_fd);
	free(r);
	sfs_audit_close(run.audit);
	return status;
}
