/* scratchfs-wipe.c - destroys a scratchfs volume: unmount, crypto-erase,
 * delete, verify, one JSON audit record (engine: tools/libwipe/wipe.c). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sfs_audit.h"
#include "sfs_config.h"
#include "sfs_crypto.h"
#include "sfs_version.h"
#include "sfs_wipe.h"

enum {
	EXIT_WIPED = 0,	  /* wiped and verified, or already wiped */
	EXIT_USAGE = 1,	  /* bad arguments, config or audit log */
	EXIT_REFUSED = 2, /* not a scratchfs volume (or a symlink, a file,
			     /, missing): nothing touched */
	EXIT_BUSY = 3,	  /* mounted and in use (holders named), or
			     another wipe running: nothing deleted */
	EXIT_FAILED = 4,  /* the wipe or its verification failed */
};

enum { OPT_JSON = 256, OPT_PASSES, OPT_LAZY };

static const struct option long_opts[] = {
    {"json", no_argument, NULL, OPT_JSON},
    {"passes", required_argument, NULL, OPT_PASSES},
    {"lazy", no_argument, NULL, OPT_LAZY},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: scratchfs-wipe [-c CONF] [--json] [--passes N] [--lazy] "
	    "BACKING|MOUNTPOINT\n"
	    "\n"
	    "Destroys the scratchfs volume in BACKING (or mounted at\n"
	    "MOUNTPOINT): unmounts it, destroys its key material first\n"
	    "(crypto-erase for encrypted volumes), deletes its files without\n"
	    "following symlinks or entering other mounts, verifies, and\n"
	    "writes one JSON record to the audit log. Anything that is not a\n"
	    "scratchfs volume is refused. The empty BACKING directory is\n"
	    "kept (holding an empty .scratchfs/) so it can be mounted again.\n"
	    "\n"
	    "  -c CONF       config file (default %s when it exists)\n"
	    "  --json        print the audit record on stdout\n"
	    "  --passes N    plain volumes: overwrite file data N times\n"
	    "                (0..%u; default: wipe.passes in the config)\n"
	    "  --lazy        if the mount is busy, detach it and stop its\n"
	    "                daemon anyway (the holders get errors)\n"
	    "\n"
	    "Exit status:\n"
	    "  0  wiped and verified, or already wiped (a no-op)\n"
	    "  1  usage, config or audit log error; nothing touched\n"
	    "  2  refused: not a scratchfs volume, a symlink, not a\n"
	    "     directory, / or missing; nothing touched\n"
	    "  3  busy: the mount is in use (the holding processes are\n"
	    "     named) or another wipe of the volume is running; nothing\n"
	    "     deleted; retry when they are gone or use --lazy\n"
	    "  4  the wipe or its verification failed (see the record)\n",
	    SFS_DEFAULT_CONFIG, SFS_WIPE_MAX_PASSES);
}

static int parse_passes(const char *s, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > SFS_WIPE_MAX_PASSES)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

static void print_summary(const struct sfs_wipe_report *r)
{
	if (r->already_wiped) {
		printf("scratchfs-wipe: %s: %s\n", r->backing, r->note);
		return;
	}
	printf("scratchfs-wipe: %s: volume %s wiped (%s), verified; "
	       "unmount %.1f ms, erase %.1f ms, overwrite %.1f ms, delete "
	       "%.1f ms\n",
	       r->backing, r->volume_id[0] ? r->volume_id : "(unknown id)",
	       sfs_wipe_method_name(r->method), r->unmount_ms, r->erase_ms,
	       r->overwrite_ms, r->delete_ms);
	if (r->note[0])
		printf("scratchfs-wipe: note: %s\n", r->note);
	if (r->discard_note[0])
		printf("scratchfs-wipe: discard: %s\n", r->discard_note);
}

int main(int argc, char *argv[])
{
	struct sfs_wipe_opts o = {0};
	struct sfs_wipe_report *r = NULL;
	struct sfs_audit *audit = NULL;
	struct sfs_config cfg;
	const char *conf = NULL;
	char err[1024];
	bool json = false, have_passes = false;
	unsigned int passes = 0;
	int opt, rc, status = EXIT_USAGE;

	sfs_log_init("scratchfs-wipe", false);

	while ((opt = getopt_long(argc, argv, "c:hV", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			conf = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_PASSES:
			if (parse_passes(optarg, &passes) < 0) {
				fprintf(stderr,
					"scratchfs-wipe: --passes: \"%s\" is "
					"not a number of passes (0..%u)\n",
					optarg, SFS_WIPE_MAX_PASSES);
				return EXIT_USAGE;
			}
			have_passes = true;
			break;
		case OPT_LAZY:
			o.lazy = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_WIPED;
		case 'V':
			printf("scratchfs-wipe %s\n", SFS_VERSION);
			return EXIT_WIPED;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (sfs_crypto_init() < 0) {
		fprintf(stderr, "scratchfs-wipe: libsodium initialisation "
				"failed\n");
		return EXIT_USAGE;
	}
	sfs_config_defaults(&cfg);
	if (!conf && access(SFS_DEFAULT_CONFIG, F_OK) == 0)
		conf = SFS_DEFAULT_CONFIG;
	if (conf && sfs_config_load(&cfg, conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "scratchfs-wipe: %s\n", err);
		return EXIT_USAGE;
	}
	if (sfs_audit_open(&audit, cfg.audit.file, cfg.audit.syslog,
			   "scratchfs-wipe", err, sizeof(err)) < 0) {
		fprintf(stderr, "scratchfs-wipe: %s\n", err);
		return EXIT_USAGE;
	}
	o.passes = have_passes ? passes : cfg.wipe.passes;
	o.discard = cfg.wipe.discard;
	o.progress = isatty(STDERR_FILENO);
	o.audit = audit;

	r = malloc(sizeof(*r));
	if (!r) {
		fprintf(stderr, "scratchfs-wipe: out of memory\n");
		goto out;
	}
	rc = sfs_wipe_volume(argv[optind], &o, r, err, sizeof(err));
	if (rc == 0)
		status = EXIT_WIPED;
	else if (r->refused)
		status = EXIT_REFUSED;
	else if (rc == -EBUSY && !r->lazy_detached)
		status = EXIT_BUSY;
	else
		status = EXIT_FAILED;
	if (json) {
		char *line = sfs_wipe_report_json(r);

		if (line) {
			puts(line);
			free(line);
		} else {
			fprintf(stderr, "scratchfs-wipe: out of memory\n");
			if (status == EXIT_WIPED)
				status = EXIT_FAILED;
		}
	} else if (rc == 0) {
		print_summary(r);
	}
	if (rc)
		fprintf(stderr, "scratchfs-wipe: %s\n", err);
	if (fflush(stdout) != 0 && status == EXIT_WIPED)
		status = EXIT_FAILED;
out:
	free(r);
	sfs_audit_close(audit);
	return status;
}
