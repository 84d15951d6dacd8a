/* scratchfs-ctl.c - the operator's tool: status of the node's mounts,
 * keyless at-rest verification, fsck of persisted-key volumes, key
 * management. Each subcommand lives beside it in tools/ctl/ (sfs_ctl.h). */
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "sfs_crypto.h"
#include "sfs_ctl.h"
#include "sfs_version.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: scratchfs-ctl COMMAND [ARGS...]\n"
	    "\n"
	    "  status [--json] [MOUNTPOINT]\n"
	    "      every scratchfs mount: mode, cipher, key, volume id and\n"
	    "      the daemon's live counters; dead daemons show as stale\n"
	    "  verify [--json] BACKING\n"
	    "      without any key: no plaintext names, every file in the\n"
	    "      ciphertext format (hbi volumes)\n"
	    "  fsck [-c CONF] [-o key=SPEC] [--json] [--quarantine] "
	    "BACKING\n"
	    "      authenticates every block, name, symlink and xattr of an\n"
	    "      unmounted key-file/keyring/command volume; --quarantine\n"
	    "      moves damaged files to BACKING/.scratchfs/quarantine/\n");
	sfs_ctl_key_usage(f);
	fprintf(f, "  selftest [-c CONF] [--backing-root DIR] [--json]\n"
		   "      proves on this node, on fresh volumes, that hbi "
		   "scratch is\n"
		   "      encrypted at rest, tamper-evident and gone after a "
		   "wipe\n");
	fprintf(f, "\nExit status: 0 ok/clean, 1 problems found, 2 usage or "
		   "error (see scratchfs-ctl(8)).\n");
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
	    {"status", sfs_ctl_status},	    {"verify", sfs_ctl_verify},
	    {"fsck", sfs_ctl_fsck},	    {"key", sfs_ctl_key},
	    {"selftest", sfs_ctl_selftest},
	};
	struct rlimit no_core = {0, 0};

	/* fsck and key hold volume and node keys: no core dumps, no
	 * ptrace by other users. */
	setrlimit(RLIMIT_CORE, &no_core);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (sfs_crypto_init() < 0) {
		fprintf(stderr, "scratchfs-ctl: libsodium initialisation "
				"failed\n");
		return 2;
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		printf("scratchfs-ctl %s\n", SFS_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "scratchfs-ctl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
