/* sfs_sys.h - small system-call helpers: full reads/writes, /proc/self/fd
 * paths, per-thread scratch buffers. Return 0 / a count, or -errno. */
#ifndef SFS_SYS_H
#define SFS_SYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads up to len bytes at off, retrying short reads; returns the bytes read
 * (less than len only at end of file) or -errno. */
ssize_t sfs_pread_full(int fd, void *buf, size_t len, off_t off);
/* Writes all len bytes at off or fails with -errno. */
ssize_t sfs_pwrite_full(int fd, const void *buf, size_t len, off_t off);
/* "/proc/self/fd/N" for an O_PATH fd, so calls that take no fd can reach it. */
struct sfs_fdpath {
	char path[32];
};
const char *sfs_fdpath(struct sfs_fdpath *p, int fd);

/* Per-thread scratch buffer slots: fileio.c uses the first two for
 * plaintext and ciphertext, the FUSE layer the third for request data. */
#define SFS_THREAD_BUFS 3U
enum { SFS_BUF_PLAIN = 0, SFS_BUF_CIPHER = 1, SFS_BUF_REQUEST = 2 };
/* Per-thread scratch buffer `slot` of at least len bytes, reused
 * across requests and freed when the thread exits. NULL when out of memory.
 * Callers wipe plaintext they leave in it. */
uint8_t *sfs_thread_buf(unsigned int slot, size_t len);

#endif
