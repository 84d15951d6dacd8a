/* sfs_sys.h - small system-call helpers: full reads/writes, a monotonic
 * clock, /proc paths, directory fsyncs, per-thread scratch buffers. Return
 * 0 / a count, or -errno. */
#ifndef SFS_SYS_H
#define SFS_SYS_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads up to len bytes at off, retrying short reads; returns the bytes read
 * (less than len only at end of file) or -errno. */
ssize_t sfs_pread_full(int fd, void *buf, size_t len, off_t off);
/* The same over an iovec array, which it consumes (iov is changed). */
struct iovec;
ssize_t sfs_preadv_full(int fd, struct iovec *iov, int count, off_t off);
/* Reads all len bytes at off only if the page cache holds them
 * (RWF_NOWAIT): len, or -EAGAIN when any of them would wait for the disk
 * (or the file ends first), or -errno. */
ssize_t sfs_pread_cached(int fd, void *buf, size_t len, off_t off);
/* Lets the reads above on this thread, when the page cache does not hold
 * the data yet, poll for it up to ns nanoseconds (yielding the CPU between
 * tries) before they sleep; 0 (the default) never polls. For a thread
 * whose caller waits on the same CPU: the CPU is idle anyway, and a CPU
 * that stays awake needs no wake-up from the disk's interrupt. */
void sfs_read_spin(long ns);
/* Writes all len bytes at off or fails with -errno (-EIO when a write
 * makes no progress). */
ssize_t sfs_pwrite_full(int fd, const void *buf, size_t len, off_t off);
/* sfs_pwrite_full through dfd (the same file opened O_DIRECT) when dfd is
 * not -1 and buf, len and off are page aligned; through fd otherwise, and
 * when the filesystem refuses the direct write (EINVAL). */
ssize_t sfs_pwrite_direct(int fd, int dfd, const void *buf, size_t len,
			  off_t off);
/* Writes all len bytes at the file offset, retrying short writes and
 * EINTR; 0, or -errno (-EIO when write makes no progress). */
int sfs_write_full(int fd, const void *buf, size_t len);
/* CLOCK_MONOTONIC in whole milliseconds, for deadlines and rate limits. */
long long sfs_now_ms(void);
/* "/proc/self/fd/N" for an O_PATH fd, so calls that take no fd can reach it. */
struct sfs_fdpath {
	char path[32];
};
const char *sfs_fdpath(struct sfs_fdpath *p, int fd);
/* A DIR stream on a new descriptor of the directory dirfd (which may be an
 * O_PATH fd), so closedir() leaves dirfd open and the stream starts at the
 * first entry. NULL with errno set on failure. */
DIR *sfs_opendir_at(int dirfd);
/* fsyncs the directory dirfd (which may be an O_PATH fd) through a fresh
 * O_RDONLY descriptor, so a new or renamed entry in it is durable. */
int sfs_fsync_dir(int dirfd);
/* fsyncs the directory path (relative to dirfd, or absolute; AT_FDCWD
 * works) the same way. 0 or -errno. */
int sfs_fsync_dir_at(int dirfd, const char *path);
/* Creates the file name in the directory dirfd (O_EXCL, not following a
 * symlink, mode 0400) holding the len bytes of buf; when durable, fsyncs
 * it and then dirfd. 0, or -errno with nothing left behind. */
int sfs_create_file_at(int dirfd, const char *name, const void *buf, size_t len,
		       bool durable);
/* Whether rc (-errno of opening or reading a file) says this process is
 * out of fds or memory: the request fails, but nothing on disk is wrong. */
bool sfs_out_of_resources(long rc);

/* Runs fn(arg, out, cap) in a child process and copies the bytes it
 * returns (what it wrote to out, at most cap) back into out: for calls on
 * a FUSE mount that may never return (its daemon stopped or stuck; such a
 * wait ends only when the caller is killed, or not even then once the
 * daemon has taken the request). The child is killed after timeout_ms
 * and never waited for (it is reparented). fn must be async-signal-safe.
 * Returns the byte count, -ETIMEDOUT, or -errno. */
ssize_t sfs_call_bounded(ssize_t (*fn)(const void *arg, void *out, size_t cap),
			 const void *arg, void *out, size_t cap,
			 int timeout_ms);

/* Reads /proc/pid/stat into buf (len bytes, NUL-terminated) and returns
 * its fields from the state (field 3) on, past the command name, which may
 * hold any byte. NULL once pid has exited: gone, or a zombie (its memory,
 * keys included, is freed). */
const char *sfs_proc_stat(pid_t pid, char *buf, size_t len);

/* The path of the program name next to this executable (the build or the
 * install directory; /proc/self/exe), or in the sbin beside its bin
 * (PREFIX/bin and PREFIX/sbin once installed), into out (len bytes). 0
 * when it is executable, else -errno of the first place, whose path out
 * then holds. */
int sfs_sibling_program(const char *name, char *out, size_t len);

/* Per-thread scratch buffers: fileio.c uses three for plaintext,
 * ciphertext and block slots (nonces and tags) and two for a write sealed
 * before its lock, blockio.c one for metadata pages, the FUSE layer one
 * for request data. */
#define SFS_THREAD_BUFS 7U
enum {
	SFS_BUF_PLAIN = 0,
	SFS_BUF_CIPHER = 1,
	SFS_BUF_REQUEST = 2,
	SFS_BUF_SLOTS = 3,
	SFS_BUF_META = 4,
	SFS_BUF_SEALED = 5,
	SFS_BUF_SEALED_SLOTS = 6
};
#define SFS_PAGE_BYTES 4096U
/* Per-thread scratch buffer `slot` of at least len bytes, page aligned,
 * reused across requests and freed when the thread exits. NULL when out of
 * memory. Callers wipe plaintext they leave in it. */
uint8_t *sfs_thread_buf(unsigned int slot, size_t len);

#endif
