/* events.c - reporting of integrity failures found by the I/O layers. */
#include "sfs_fs.h"
#include "sfs_log.h"

void sfs_report_integrity(struct sfs_fs *fs, uint64_t ino, uint64_t block,
			  const char *what)
{
	atomic_fetch_add(&fs->integrity_failures, 1);
	if (block == SFS_NO_BLOCK)
		sfs_log(LOG_ERR, "integrity failure: inode %llu: %s",
			(unsigned long long)ino, what);
	else
		sfs_log(LOG_ERR, "integrity failure: inode %llu block %llu: %s",
			(unsigned long long)ino, (unsigned long long)block,
			what);
	/* The audit trail too: volume id, inode, block; never a name. */
	if (fs->on_integrity)
		fs->on_integrity(ino, block, what);
}
