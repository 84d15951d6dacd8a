/* fuzz_mountinfo.c - /proc/self/mountinfo as the kernel could write it
 * for mounts an unprivileged user made (mount points and sources are
 * theirs to name). The input is used twice: its first line through
 * sfs_mountinfo_parse, and the whole input as the mountinfo file for
 * sfs_mountinfo_scratchfs (through a memfd).
 *
 * Properties: a parsed line has every field up to the source; the
 * scratchfs walk reports only mounts of type fuse.scratchfs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "sfs_mountinfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int seen(const struct sfs_mountinfo *mi, void *arg)
{
	FUZZ_CHECK(strcmp(mi->fstype, "fuse." SFS_FUSE_SUBTYPE) == 0);
	FUZZ_CHECK(mi->devno && mi->target && mi->source);
	++*(unsigned int *)arg;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct sfs_mountinfo mi;
	unsigned int n = 0;
	char path[64], *line;

	line = fuzz_str(data, size);
	if (sfs_mountinfo_parse(line, &mi) == 0) {
		FUZZ_CHECK(mi.devno && mi.target && mi.fstype && mi.source);
		FUZZ_CHECK(strlen(mi.target) <= size &&
			   strlen(mi.source) <= size);
	}
	free(line);

	if (fd < 0)
		fd = memfd_create("mountinfo", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 0) != 0 ||
	    pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	FUZZ_CHECK(sfs_mountinfo_scratchfs(path, seen, &n) == 0);
	return 0;
}
