/* sfs_version.h - the version every program of scratchfs prints for -V and
 * --version. */
#ifndef SFS_VERSION_H
#define SFS_VERSION_H

#define SFS_VERSION "0.4"

#endif
