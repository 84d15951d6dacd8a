/* test_readahead.c - the daemon finds its own mount in /proc/self/mountinfo
 * and raises the mount's readahead to SFS_READ_AHEAD_KB at the first
 * request (fs/store/mountinfo.c, fs/fuse/ops.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "mount_util.h"
#include "sfs_mountinfo.h"

static void check_raised(void)
{
	char path[96], *text;
	struct stat st;

	/* Any request after INIT raises it. */
	cr_assert_eq(stat(sfs_mpath(&sfs_fx, "."), &st), 0);
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb",
		 major(st.st_dev), minor(st.st_dev));
	text = sfs_read_file(path, NULL);
	cr_assert_not_null(text, "%s", path);
	cr_expect_eq(strtoul(text, NULL, 10), SFS_READ_AHEAD_KB, "%s: %s", path,
		     text);
	free(text);
}

Test(readahead, raised_hbi, .init = sfs_fx_init_hbi, .fini = sfs_fx_fini,
     .timeout = 60)
{
	check_raised();
}

Test(readahead, raised_plain, .init = sfs_fx_init_plain, .fini = sfs_fx_fini,
     .timeout = 60)
{
	check_raised();
}
