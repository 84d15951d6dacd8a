/* sfs_fuseio.h - the session's /dev/fuse reads and writes, hooked for what
 * libfuse 3.14 does not know of the protocol.
 *
 * With FUSE_HANDLE_KILLPRIV_V2 the kernel leaves clearing set-user-ID and
 * set-group-ID bits on write, truncate and chown to the filesystem and in
 * return stops asking for security.capability before every write(2) (a
 * synchronous round trip each). libfuse 3.14 can neither ask for the flag
 * nor pass on the requests' "kill" flags, so these hooks add the flag to
 * the INIT reply when the kernel offers it and remember, per worker
 * thread, whether the request being handled carries a kill flag. They
 * also hand INIT's io_uring flag and every reply to uring.c. */
#ifndef SFS_FUSEIO_H
#define SFS_FUSEIO_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stddef.h>

/* Puts the hooks on the mounted session se (before its loop starts); with
 * io_uring, asks the kernel for FUSE over io_uring (sfs_uring.h) when it
 * offers it. 0, or -1 when libfuse refuses them (the mount then works
 * without). */
int sfs_fuseio_install(struct fuse_session *se, bool io_uring);

/* Whether the kernel agreed to FUSE_HANDLE_KILLPRIV_V2 (known once INIT
 * was answered). */
bool sfs_fuseio_killpriv(void);

/* Whether the request this thread is handling, a WRITE, OPEN or CREATE,
 * asks the filesystem to clear set-user-ID and set-group-ID bits: its
 * caller lacks CAP_FSETID. SETATTR carries its flag in the valid mask
 * (SFS_SET_ATTR_KILL_SUIDGID). */
bool sfs_fuseio_kill_suidgid(void);

/* FATTR_KILL_SUIDGID: libfuse 3.14 passes this SETATTR bit through. */
#define SFS_SET_ATTR_KILL_SUIDGID (1 << 11)

#endif
