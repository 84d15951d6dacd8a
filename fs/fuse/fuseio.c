/* fuseio.c - /dev/fuse I/O hooks (see sfs_fuseio.h).
 *
 * libfuse reads a request and handles it in the same worker thread, so a
 * thread-local flag set by the read hook belongs to the request the
 * thread's handler is running. Requests are never spliced in (no
 * splice_receive hook), so every header is in the read buffer. */
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sfs_fuseio.h"
#include "sfs_log.h"
#include "sfs_uring.h"

static _Thread_local bool kill_suidgid;
static atomic_bool init_pending;     /* INIT read, not yet answered */
static _Atomic uint64_t init_unique; /* its request id */
static atomic_bool killpriv_offered; /* by the kernel, in INIT */
static atomic_bool killpriv_agreed;
static bool uring_wanted;	  /* by the configuration */
static atomic_bool uring_offered; /* by the kernel, in INIT */
static struct fuse_session *uring_session;

bool sfs_fuseio_killpriv(void)
{
	return atomic_load(&killpriv_agreed);
}

bool sfs_fuseio_kill_suidgid(void)
{
	return kill_suidgid;
}

/* Reads the flags word at offset off of the request's argument. */
static uint32_t arg_u32(const char *req, size_t len, size_t off)
{
	uint32_t v = 0;

	off += sizeof(struct fuse_in_header);
	if (off + sizeof(v) <= len)
		memcpy(&v, req + off, sizeof(v));
	return v;
}

/* Notes the kill flags of the request req (len bytes, /dev/fuse layout)
 * for this thread's handler: for requests read from /dev/fuse here, and
 * for the ones uring.c fetches. */
static void note_request(const char *req, size_t len)
{
	struct fuse_in_header in;
	uint32_t mask;
	size_t off;

	kill_suidgid = false;
	if (len < sizeof(in))
		return;
	memcpy(&in, req, sizeof(in));
	switch (in.opcode) {
	case FUSE_WRITE:
		off = offsetof(struct fuse_write_in, write_flags);
		mask = FUSE_WRITE_KILL_SUIDGID;
		break;
	case FUSE_OPEN:
		off = offsetof(struct fuse_open_in, open_flags);
		mask = FUSE_OPEN_KILL_SUIDGID;
		break;
	case FUSE_CREATE:
		off = offsetof(struct fuse_create_in, open_flags);
		mask = FUSE_OPEN_KILL_SUIDGID;
		break;
	case FUSE_INIT:
		mask = arg_u32(req, len, offsetof(struct fuse_init_in, flags));
		atomic_store(&killpriv_offered, mask & FUSE_HANDLE_KILLPRIV_V2);
		atomic_store(
		    &uring_offered,
		    (mask & FUSE_INIT_EXT) &&
			(arg_u32(req, len,
				 offsetof(struct fuse_init_in, flags2)) &
			 SFS_FUSE_OVER_IO_URING_FLAGS2));
		atomic_store(&init_unique, in.unique);
		atomic_store(&init_pending, true);
		return;
	default:
		return;
	}
	kill_suidgid = arg_u32(req, len, off) & mask;
}

static ssize_t hook_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read(fd, buf, len);

	(void)userdata;
	if (n > 0)
		note_request(buf, (size_t)n);
	return n;
}

/* The INIT reply: header, then struct fuse_init_out (as libfuse sends it,
 * or shorter for an old kernel, which then did not offer the flag). */
static bool is_init_reply(const struct iovec *iov, int count)
{
	struct fuse_out_header out;

	if (!atomic_load(&init_pending) || count != 2 ||
	    iov[0].iov_len != sizeof(out) ||
	    iov[1].iov_len <
		offsetof(struct fuse_init_out, flags) + sizeof(uint32_t))
		return false;
	memcpy(&out, iov[0].iov_base, sizeof(out));
	return out.unique == atomic_load(&init_unique) && out.error == 0;
}

/* The largest payload the kernel sends or accepts once INIT is done (its
 * fuse_uring_create(): FUSE_MIN_READ_BUFFER, max_write, max_pages). */
static size_t max_payload(const struct fuse_init_out *init)
{
	size_t n = 8192, pages = (size_t)init->max_pages * 4096;

	if (init->max_write > n)
		n = init->max_write;
	return pages > n ? pages : n;
}

/* Adds to libfuse's INIT reply what it cannot ask for: the kill-privilege
 * protocol and io_uring, when the kernel offers them; then starts the
 * io_uring queues, which the kernel accepts only after this reply. */
static ssize_t write_init_reply(int fd, struct iovec *iov)
{
	struct fuse_init_out init;
	struct iovec patched[2];
	bool uring = uring_wanted && atomic_load(&uring_offered) &&
		     iov[1].iov_len >= sizeof(init);
	ssize_t n;

	atomic_store(&init_pending, false);
	if (!atomic_load(&killpriv_offered) && !uring)
		return writev(fd, iov, 2);
	memset(&init, 0, sizeof(init));
	memcpy(&init, iov[1].iov_base,
	       iov[1].iov_len < sizeof(init) ? iov[1].iov_len : sizeof(init));
	if (atomic_load(&killpriv_offered))
		init.flags |= FUSE_HANDLE_KILLPRIV_V2;
	if (uring) {
		init.flags |= FUSE_INIT_EXT;
		init.flags2 |= SFS_FUSE_OVER_IO_URING_FLAGS2;
	}
	patched[0] = iov[0];
	patched[1] = (struct iovec){&init, iov[1].iov_len};
	n = writev(fd, patched, 2);
	if (n < 0)
		return n;
	atomic_store(&killpriv_agreed, atomic_load(&killpriv_offered));
	if (uring)
		(void)sfs_uring_start(uring_session, fd, max_payload(&init),
				      note_request);
	return n;
}

static ssize_t hook_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	ssize_t n;

	(void)userdata;
	if (is_init_reply(iov, count))
		return write_init_reply(fd, iov);
	n = sfs_uring_take_reply(iov, count);
	return n >= 0 ? n : writev(fd, iov, count);
}

/* Plain mode answers reads by splicing from the backing file. */
static ssize_t hook_splice_send(int fdin, off_t *offin, int fdout,
				off_t *offout, size_t len, unsigned int flags,
				void *userdata)
{
	(void)userdata;
	return splice(fdin, offin, fdout, offout, len, flags);
}

static const struct fuse_custom_io hooks = {
    .read = hook_read,
    .writev = hook_writev,
    .splice_send = hook_splice_send,
};

int sfs_fuseio_install(struct fuse_session *se, bool io_uring)
{
	uring_wanted = io_uring;
	uring_session = se;
	if (fuse_session_custom_io(se, &hooks, fuse_session_fd(se)) != 0) {
		sfs_log(LOG_WARNING, "cannot hook /dev/fuse I/O: writes keep "
				     "a security.capability lookup each");
		return -1;
	}
	return 0;
}
