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

static _Thread_local bool kill_suidgid;
static atomic_bool init_pending;     /* INIT read, not yet answered */
static _Atomic uint64_t init_unique; /* its request id */
static atomic_bool killpriv_offered; /* by the kernel, in INIT */
static atomic_bool killpriv_agreed;

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
		atomic_store(
		    &killpriv_offered,
		    arg_u32(req, len, offsetof(struct fuse_init_in, flags)) &
			FUSE_HANDLE_KILLPRIV_V2);
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

static ssize_t hook_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct fuse_init_out init;
	struct iovec patched[2];

	(void)userdata;
	if (!is_init_reply(iov, count))
		return writev(fd, iov, count);
	atomic_store(&init_pending, false);
	if (!atomic_load(&killpriv_offered))
		return writev(fd, iov, count);
	memset(&init, 0, sizeof(init));
	memcpy(&init, iov[1].iov_base,
	       iov[1].iov_len < sizeof(init) ? iov[1].iov_len : sizeof(init));
	init.flags |= FUSE_HANDLE_KILLPRIV_V2;
	patched[0] = iov[0];
	patched[1] = (struct iovec){&init, iov[1].iov_len};
	atomic_store(&killpriv_agreed, true);
	return writev(fd, patched, 2);
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

int sfs_fuseio_install(struct fuse_session *se)
{
	if (fuse_session_custom_io(se, &hooks, fuse_session_fd(se)) != 0) {
		sfs_log(LOG_WARNING, "cannot hook /dev/fuse I/O: writes keep "
				     "a security.capability lookup each");
		return -1;
	}
	return 0;
}
