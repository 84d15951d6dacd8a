/* test_cli.c - what every program's command line promises: -V and
 * --version, scratchfs-run's directories created with their parents (and
 * removed again), scratchfs-ctl verify pointing from a mount point to its
 * backing directory. */
#include <criterion/criterion.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine_util.h"
#include "mount_util.h"
#include "sfs_version.h"
#include "util.h"

static char out[8192];

TestSuite(cli, .init = sfs_fx_init_setup, .fini = sfs_fx_fini, .timeout = 60);

Test(cli, every_program_has_version)
{
	static const char *const progs[] = {"scratchfs", "scratchfs-run",
					    "scratchfs-wipe", "scratchfs-ctl",
					    "scratchfs-volumed"};
	static const char *const flags[] = {"-V", "--version"};
	char want[64];

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++)
		for (size_t f = 0; f < 2; f++) {
			snprintf(want, sizeof(want), "%s %s", progs[i],
				 SFS_VERSION);
			cr_expect_eq(sfs_sh(out, sizeof(out), "%s/%s %s",
					    SFS_BUILD_DIR, progs[i], flags[f]),
				     0, "%s %s: %s", progs[i], flags[f], out);
			cr_expect(strncmp(out, want, strlen(want)) == 0,
				  "%s %s printed: %s", progs[i], flags[f], out);
		}
}

/* --help says the directories are created when missing: parents too, and
 * what the run created goes again. */
Test(cli, run_creates_missing_parents_and_removes_them)
{
	const char *top = sfs_join(sfs_fx.root, "new");

	cr_assert_eq(sfs_sh(out, sizeof(out),
			    "%s/scratchfs-run --backing %s/a/b/backing --mount "
			    "%s/a/mnt -- sh -c 'echo x > $SCRATCH_DIR/f && cat "
			    "$SCRATCH_DIR/f'",
			    SFS_BUILD_DIR, top, top),
		     0, "%s", out);
	cr_assert(strstr(out, "x\n"), "%s", out);
	cr_assert_eq(access(top, F_OK), -1, "%s was left behind", top);
}

Test(cli, verify_of_a_mount_point_names_its_backing)
{
	sfs_mount_start(&sfs_fx, "hbi=1");
	cr_assert_eq(sfs_sh(out, sizeof(out), "%s/scratchfs-ctl verify %s",
			    SFS_BUILD_DIR, sfs_fx.mnt),
		     2, "%s", out);
	cr_assert(strstr(out, "mount point") && strstr(out, sfs_fx.backing),
		  "%s", out);
	/* Named relative to the current directory, too. */
	cr_assert_eq(sfs_sh(out, sizeof(out),
			    "cd %s && %s/scratchfs-ctl verify mnt", sfs_fx.root,
			    SFS_BUILD_DIR),
		     2, "%s", out);
	cr_assert(strstr(out, "mount point") && strstr(out, sfs_fx.backing),
		  "%s", out);
	sfs_mount_stop(&sfs_fx);
}
