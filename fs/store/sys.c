/* sys.c - system-call helpers shared by the I/O layers. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sfs_log.h"
#include "sfs_sys.h"

static _Thread_local long read_spin_ns;

void sfs_read_spin(long ns)
{
	read_spin_ns = ns;
}

static long ns_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000000000L +
	       (t.tv_nsec - t0->tv_nsec);
}

/* preadv, polling the page cache first on a thread that may spin. */
static ssize_t preadv_wait(int fd, const struct iovec *iov, int count,
			   off_t off)
{
	struct timespec t0;
	bool started = false;
	ssize_t n;

	if (read_spin_ns <= 0)
		return preadv(fd, iov, count, off);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		n = preadv2(fd, iov, count, off, RWF_NOWAIT);
		if (n >= 0 || errno != EAGAIN)
			break;
		if (!started) {
			/* Make sure the disk read is under way. A direct read
			 * never comes from the page cache: wait for it. */
			size_t len = 0;

			if (fcntl(fd, F_GETFL) & O_DIRECT)
				return preadv(fd, iov, count, off);

			for (int i = 0; i < count; i++)
				len += iov[i].iov_len;
			(void)posix_fadvise(fd, off, (off_t)len,
					    POSIX_FADV_WILLNEED);
			started = true;
		}
		if (ns_since(&t0) > read_spin_ns)
			return preadv(fd, iov, count, off);
		sched_yield();
	}
	if (n < 0 && errno == EOPNOTSUPP)
		return preadv(fd, iov, count, off);
	return n;
}

ssize_t sfs_preadv_full(int fd, struct iovec *iov, int count, off_t off)
{
	size_t done = 0;

	while (count > 0) {
		ssize_t n = preadv_wait(fd, iov, count, off + (off_t)done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
		/* Step past what arrived; a short read resumes mid-iovec. */
		while (count > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			count--;
		}
		if (count > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return (ssize_t)done;
}

ssize_t sfs_pread_cached(int fd, void *buf, size_t len, off_t off)
{
	struct iovec iov = {buf, len};
	ssize_t n;

	do {
		n = preadv2(fd, &iov, 1, off, RWF_NOWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EOPNOTSUPP ? -EAGAIN : -errno;
	return (size_t)n == len ? n : -EAGAIN;
}

ssize_t sfs_pread_full(int fd, void *buf, size_t len, off_t off)
{
	struct iovec iov = {buf, len};

	return sfs_preadv_full(fd, &iov, 1, off);
}

ssize_t sfs_pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done,
				   off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

ssize_t sfs_pwrite_direct(int fd, int dfd, const void *buf, size_t len,
			  off_t off)
{
	if (dfd >= 0 && (uintptr_t)buf % SFS_PAGE_BYTES == 0 &&
	    len % SFS_PAGE_BYTES == 0 && off % SFS_PAGE_BYTES == 0) {
		ssize_t n = sfs_pwrite_full(dfd, buf, len, off);

		if (n != -EINVAL)
			return n;
	}
	return sfs_pwrite_full(fd, buf, len, off);
}

int sfs_write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

long long sfs_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *sfs_fdpath(struct sfs_fdpath *p, int fd)
{
	snprintf(p->path, sizeof(p->path), "/proc/self/fd/%d", fd);
	return p->path;
}

struct thread_bufs {
	uint8_t *buf[SFS_THREAD_BUFS];
	size_t len[SFS_THREAD_BUFS];
};

static pthread_key_t bufs_key;
static pthread_once_t bufs_once = PTHREAD_ONCE_INIT;

DIR *sfs_opendir_at(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d) {
		int saved = errno;

		close(fd);
		errno = saved;
	}
	return d;
}

int sfs_fsync_dir(int dirfd)
{
	return sfs_fsync_dir_at(dirfd, ".");
}

int sfs_create_file_at(int dirfd, const char *name, const void *buf, size_t len,
		       bool durable)
{
	int fd = openat(dirfd, name,
			O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			0400),
	    rc = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = sfs_pwrite_full(fd, buf, len, 0);
	if (n < 0)
		rc = (int)n;
	else if (durable && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && durable)
		rc = sfs_fsync_dir(dirfd);
	if (rc < 0)
		unlinkat(dirfd, name, 0);
	return rc;
}

bool sfs_out_of_resources(long rc)
{
	return rc == -EMFILE || rc == -ENFILE || rc == -ENOMEM;
}

int sfs_fsync_dir_at(int dirfd, const char *path)
{
	int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

const char *sfs_proc_stat(pid_t pid, char *buf, size_t len)
{
	char path[64], *paren;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	/* comm may contain anything, so look after its last ')'. */
	paren = strrchr(buf, ')');
	if (!paren || paren[1] != ' ' || paren[2] == 'Z' || paren[2] == 'X')
		return NULL;
	return paren + 2;
}

static void bufs_free(void *p)
{
	struct thread_bufs *tb = p;

	for (unsigned int i = 0; i < SFS_THREAD_BUFS; i++)
		free(tb->buf[i]);
	free(tb);
}

static void bufs_key_init(void)
{
	if (pthread_key_create(&bufs_key, bufs_free) != 0)
		abort();
}

uint8_t *sfs_thread_buf(unsigned int slot, size_t len)
{
	struct thread_bufs *tb;

	if (slot >= SFS_THREAD_BUFS)
		sfs_bug("sfs_thread_buf: no slot %u", slot);
	pthread_once(&bufs_once, bufs_key_init);
	tb = pthread_getspecific(bufs_key);
	if (!tb) {
		tb = calloc(1, sizeof(*tb));
		if (!tb || pthread_setspecific(bufs_key, tb) != 0) {
			free(tb);
			return NULL;
		}
	}
	if (tb->len[slot] < len) {
		void *nb;

		/* Page aligned, so the buffers can take direct I/O. */
		if (posix_memalign(&nb, SFS_PAGE_BYTES, len) != 0)
			return NULL;
		free(tb->buf[slot]);
		tb->buf[slot] = nb;
		tb->len[slot] = len;
	}
	return tb->buf[slot];
}

int sfs_sibling_program(const char *name, char *out, size_t len)
{
	static const char *const where[] = {"%s/%s", "%s/../sbin/%s"};
	char self[PATH_MAX];
	const char *dir;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int rc = -ENOENT;

	if (n <= 0)
		return -errno;
	self[n] = '\0';
	dir = dirname(self);
	for (size_t i = 0; i < 2; i++) {
		if ((size_t)snprintf(out, len, where[i], dir, name) >= len)
			return -ENAMETOOLONG;
		if (access(out, X_OK) == 0)
			return 0;
		/* Named as the first place it was looked for. */
		rc = i == 0 ? -errno : rc;
	}
	snprintf(out, len, where[0], dir, name);
	return rc;
}

ssize_t sfs_call_bounded(ssize_t (*fn)(const void *arg, void *out, size_t cap),
			 const void *arg, void *out, size_t cap, int timeout_ms)
{
	long long deadline = sfs_now_ms() + timeout_ms;
	pid_t pid, worker = 0;
	size_t len = 0, got = 0;
	ssize_t rc = 0;
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(p[0]);
		close(p[1]);
		return rc;
	}
	if (pid == 0) {
		/* A worker whose parent exits at once: a request that the
		 * daemon has taken but never answers holds its caller even
		 * against SIGKILL, so nobody may wait for the worker. */
		ssize_t n;

		close(p[0]);
		if (fork() != 0)
			_exit(0);
		/* Nothing of the caller's (a lock, a directory) may live on
		 * in a worker that never returns: only the pipe, as fd 3. */
		if (dup2(p[1], 3) < 0)
			_exit(1);
		close_range(4, ~0U, 0);
		p[1] = 3;
		/* The one writer: its pid, then what fn returned. */
		worker = getpid();
		if (sfs_write_full(p[1], &worker, sizeof(worker)) != 0)
			_exit(1);
		n = fn(arg, out, cap);
		_exit(n >= 0 && sfs_write_full(p[1], out, (size_t)n) == 0 ? 0
									  : 1);
	}
	close(p[1]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	/* The worker's pid, then what fn returned. */
	while (got < sizeof(worker) + cap) {
		struct pollfd pfd = {.fd = p[0], .events = POLLIN};
		long long left = deadline - sfs_now_ms();
		ssize_t n;

		if (left <= 0) {
			rc = -ETIMEDOUT;
			break;
		}
		n = poll(&pfd, 1, (int)left);
		if (n <= 0)
			continue; /* EINTR, or time is up */
		if (got < sizeof(worker))
			n = read(p[0], (char *)&worker + got,
				 sizeof(worker) - got);
		else
			n = read(p[0], (char *)out + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got > sizeof(worker))
			len = got - sizeof(worker);
	}
	close(p[0]);
	if (got < sizeof(worker))
		return rc ? rc : -ECHILD;
	if (rc == -ETIMEDOUT)
		kill(worker, SIGKILL);
	return rc ? rc : (ssize_t)len;
}
