/* sfs_version.h - the version of scratchfs, as its programs and records
 * report it. */
#ifndef SFS_VERSION_H
#define SFS_VERSION_H

#define SFS_VERSION "0.2"

#endif
