/* sfs_uring.h - FUSE requests over io_uring (Linux 6.14+,
 * "FUSE_OVER_IO_URING").
 *
 * Over /dev/fuse every request wakes whichever daemon thread waits on the
 * one device queue, usually on another CPU than the caller, and the reply
 * wakes the caller back: two cross-CPU wake-ups per round trip. Over
 * io_uring the kernel queues a request on the caller's CPU, to daemon
 * threads pinned to that CPU, so a synchronous request is a switch to the
 * daemon and back on one CPU. libfuse 3.14 does not know the protocol, so
 * this module runs its own threads: each holds one io_uring and one ring
 * entry, turns a request from its entry into the /dev/fuse layout and hands
 * it to fuse_session_process_buf(); the session's writev hook (fuseio.c)
 * passes the reply back here, and the thread commits it with the same
 * system call that fetches its next request. FORGET and INTERRUPT, and
 * everything before every queue has its entries, still come through
 * /dev/fuse and libfuse's own loop.
 */
#ifndef SFS_URING_H
#define SFS_URING_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Daemon threads per kernel queue (one queue per possible CPU): one more
 * than one lets a request that waits for the disk not hold up the next. */
#define SFS_URING_THREADS_PER_QUEUE 4

/* The kernel's FUSE_OVER_IO_URING INIT flag, bit 41 (not in Debian 12's
 * linux/fuse.h); it travels in the high word, fuse_init_{in,out}.flags2. */
#define SFS_FUSE_OVER_IO_URING_FLAGS2 (1U << 9)

/* Starts the queue threads for session se, whose /dev/fuse fd is fd, once
 * the kernel has accepted an INIT reply asking for io_uring. payload is the
 * largest request or reply payload the kernel may send (max_write or
 * max_pages pages); on_request sees every request (len bytes, /dev/fuse
 * layout) before its handler does. 0, or -1 with the reason logged
 * (requests then keep coming through /dev/fuse). */
int sfs_uring_start(struct fuse_session *se, int fd, size_t payload,
		    void (*on_request)(const char *req, size_t len));

/* Stops and joins the threads (after the session loop has ended). */
void sfs_uring_stop(void);

/* Called by the writev hook with a reply libfuse sends from this thread.
 * When it answers the io_uring request this thread is handling, stores it
 * in the ring entry and returns the bytes "written"; otherwise (a
 * notification, or a /dev/fuse request) returns -1 and the caller writes it
 * to /dev/fuse. */
ssize_t sfs_uring_take_reply(const struct iovec *iov, int count);

/* The ring buffer the reply to this thread's io_uring request goes into,
 * page-aligned, *cap bytes; NULL when the thread handles a /dev/fuse
 * request. A handler that builds its reply there saves a copy; the bytes
 * must stay until the handler returns (uring.c wipes them once the kernel
 * has taken them). */
void *sfs_uring_reply_buffer(size_t *cap);

/* Whether every queue has its entries registered (the kernel then sends
 * requests through io_uring), and how many requests came that way. */
bool sfs_uring_active(void);
uint64_t sfs_uring_requests(void);

#endif
