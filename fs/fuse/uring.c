/* uring.c - FUSE requests over io_uring (see sfs_uring.h). */
#include <errno.h>
#include <liburing.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "sfs_crypto.h"
#include "sfs_log.h"
#include "sfs_sys.h"
#include "sfs_uring.h"

/* The kernel's ABI (include/uapi/linux/fuse.h, protocol 7.42), which
 * Debian 12's headers predate. */
#define URING_IN_OUT_HEADER_SZ 128
#define URING_OP_IN_OUT_SZ 128

struct uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id; /* the request's unique */
	uint32_t payload_sz;
	uint32_t padding;
	uint64_t reserved;
};

struct uring_req_header {
	char in_out[URING_IN_OUT_HEADER_SZ]; /* fuse_in_header / _out_header */
	char op_in[URING_OP_IN_OUT_SZ];	     /* the opcode's fixed argument */
	struct uring_ent_in_out ent;
};

enum { URING_CMD_REGISTER = 1, URING_CMD_COMMIT_AND_FETCH = 2 };

struct uring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};

/* In front of the payload, room to rebuild the /dev/fuse layout: the
 * request header and the opcode's argument, then the payload in place. */
#define PREFIX 4096
/* A little more than a cold 4 KiB read of the local disk takes. */
#define URING_READ_SPIN_NS 200000L
/* Reads and writes this long are bulk: readahead and writeback. */
#define URING_BULK_BYTES (128U * 1024U)
#define TAG_REQUEST 1
#define TAG_STOP 2

struct entry {
	struct uring_req_header *hdr;
	char *area; /* PREFIX bytes, then the payload */
	struct iovec iov[2];
	uint64_t unique; /* of the request being handled */
	bool replied;
	uint32_t reply_len; /* payload bytes of the last reply */
	unsigned int qid;
	unsigned int cpu; /* the thread's, while it waits */
	bool spills;	  /* may wait on the next CPU after bulk */
	struct io_uring ring;
	bool ring_ready;
	pthread_t thread;
	bool started;
};

static struct {
	struct fuse_session *se;
	void (*on_request)(const char *req, size_t len);
	int fd;
	size_t payload;
	unsigned int nqueues, nentries;
	int stop_fd;
	struct entry *entries;
	atomic_uint registered;
	_Atomic uint64_t requests;
} pool = {.stop_fd = -1};

static _Thread_local struct entry *current;

bool sfs_uring_active(void)
{
	return pool.nentries != 0 &&
	       atomic_load(&pool.registered) == pool.nentries;
}

uint64_t sfs_uring_requests(void)
{
	return atomic_load(&pool.requests);
}

/* Queues the fuse command op for e's entry. 0, or -EBUSY when the ring has
 * no free SQE (cannot happen: each ring holds one entry and one poll). */
static int queue_cmd(struct entry *e, uint32_t op, uint64_t commit_id)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&e->ring);
	struct uring_cmd_req req = {.commit_id = commit_id,
				    .qid = (uint16_t)e->qid};

	if (!sqe)
		return -EBUSY;
	memset(sqe, 0, 2 * sizeof(*sqe)); /* SQE128: the cmd area too */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = pool.fd;
	sqe->cmd_op = op;
	if (op == URING_CMD_REGISTER) {
		sqe->addr = (uint64_t)(uintptr_t)e->iov;
		sqe->len = 2;
	}
	memcpy(sqe->cmd, &req, sizeof(req));
	io_uring_sqe_set_data64(sqe, TAG_REQUEST);
	return 0;
}

void *sfs_uring_reply_buffer(size_t *cap)
{
	if (!current)
		return NULL;
	*cap = pool.payload;
	return current->area + PREFIX;
}

ssize_t sfs_uring_take_reply(const struct iovec *iov, int count)
{
	struct entry *e = current;
	struct fuse_out_header out;
	size_t len = 0, total;
	char *payload;

	if (!e || count < 1 || iov[0].iov_len != sizeof(out))
		return -1;
	memcpy(&out, iov[0].iov_base, sizeof(out));
	if (out.unique != e->unique || e->replied)
		return -1;
	payload = e->area + PREFIX;
	total = sizeof(out);
	for (int i = 1; i < count; i++) {
		total += iov[i].iov_len;
		if (len + iov[i].iov_len > pool.payload) {
			sfs_log(LOG_ERR,
				"io_uring: a %zu-byte reply does not "
				"fit the %zu-byte ring buffer",
				total, pool.payload);
			out.error = -EIO;
			len = 0;
			break;
		}
		if (iov[i].iov_base != payload + len)
			memcpy(payload + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	out.len = (uint32_t)(sizeof(out) + len);
	memcpy(e->hdr->in_out, &out, sizeof(out));
	e->hdr->ent.payload_sz = (uint32_t)len;
	e->reply_len = (uint32_t)len;
	e->replied = true;
	return (ssize_t)total;
}

/* Answers the request with err alone (no handler replied, or the request
 * was malformed). */
static void reply_error(struct entry *e, int err)
{
	struct fuse_out_header out = {.error = -err, .unique = e->unique};
	struct iovec iov = {&out, sizeof(out)};

	(void)sfs_uring_take_reply(&iov, 1);
}

/* Rebuilds the request in the entry as libfuse reads it from /dev/fuse,
 * in front of the payload the kernel wrote, and handles it. */
static void handle_request(struct entry *e)
{
	struct fuse_in_header in;
	uint32_t payload_sz = e->hdr->ent.payload_sz;
	size_t arg_sz;
	char *start;

	memcpy(&in, e->hdr->in_out, sizeof(in));
	/* Replies carry plaintext (file data, names, attribute values): wipe
	 * what of the last one this request did not overwrite. */
	if (e->reply_len > payload_sz && payload_sz <= pool.payload)
		sfs_wipe(e->area + PREFIX + payload_sz,
			 e->reply_len - payload_sz);
	e->reply_len = 0;
	e->unique = e->hdr->ent.commit_id;
	e->replied = false;
	current = e;
	/* The opcode's argument is what the length leaves for it; libfuse
	 * reads the headers in place, so they must stay 8-byte aligned. */
	arg_sz = in.len - sizeof(in) - payload_sz;
	if (in.len < sizeof(in) + payload_sz || payload_sz > pool.payload ||
	    arg_sz > URING_OP_IN_OUT_SZ || arg_sz % 8 != 0) {
		sfs_log(LOG_ERR,
			"io_uring: malformed request (opcode %u, length %u, "
			"payload %u)",
			in.opcode, in.len, payload_sz);
		reply_error(e, EIO);
	} else {
		start = e->area + PREFIX - sizeof(in) - arg_sz;
		memcpy(start, &in, sizeof(in));
		memcpy(start + sizeof(in), e->hdr->op_in, arg_sz);
		pool.on_request(start, in.len);
		fuse_session_process_buf(
		    pool.se, &(struct fuse_buf){.size = in.len, .mem = start});
		if (!e->replied) {
			sfs_log(LOG_ERR, "io_uring: opcode %u got no reply",
				in.opcode);
			reply_error(e, EIO);
		}
	}
	current = NULL;
	atomic_fetch_add(&pool.requests, 1);
}

static void pin_to_cpu(struct entry *e, unsigned int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* A CPU that is offline gets no requests: nothing to pin for. */
	(void)sched_setaffinity(0, sizeof(set), &set);
	e->cpu = cpu;
}

static bool is_bulk(const struct entry *e)
{
	const struct fuse_in_header *in = (const void *)e->hdr->in_out;
	const struct fuse_read_in *read = (const void *)e->hdr->op_in;

	return (in->opcode == FUSE_READ && read->size >= URING_BULK_BYTES) ||
	       (in->opcode == FUSE_WRITE &&
		e->hdr->ent.payload_sz >= URING_BULK_BYTES);
}

/* The CPU e's thread waits on for its next request. The kernel queues a
 * task's requests on the task's CPU, so a streaming reader's readahead
 * (or the flusher's writeback) lands on the one CPU it shares with that
 * task: after bulk, half of a queue's threads wait on the next CPU, which
 * then does its share of the work. Small requests are answered fastest
 * where their caller waits, so after one every thread returns. */
static unsigned int next_cpu(const struct entry *e, bool bulk)
{
	return e->spills && bulk ? (e->qid + 1) % pool.nqueues : e->qid;
}

/* One thread per entry: register it, then handle a request and commit its
 * reply while fetching the next, until the kernel or sfs_uring_stop()
 * ends it. */
static void *entry_thread(void *arg)
{
	struct entry *e = arg;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	char name[16];
	unsigned int cpu;
	bool bulk;
	int rc;

	snprintf(name, sizeof(name), "sfs-uring-q%u", e->qid);
	(void)pthread_setname_np(pthread_self(), name); /* for top -H, perf */
	pin_to_cpu(e, e->qid);
	/* The caller waits on this CPU: better spin than halt it (the disk's
	 * interrupt may arrive on another CPU, which then has to wake it). */
	sfs_read_spin(URING_READ_SPIN_NS);
	rc = queue_cmd(e, URING_CMD_REGISTER, 0);
	sqe = io_uring_get_sqe(&e->ring);
	if (rc == 0 && !sqe)
		rc = -EBUSY;
	if (rc == 0) {
		io_uring_prep_poll_add(sqe, pool.stop_fd, POLLIN);
		io_uring_sqe_set_data64(sqe, TAG_STOP);
		/* The kernel refuses an entry at once; an accepted one
		 * completes only when a request comes. */
		rc = io_uring_submit(&e->ring);
	}
	if (rc >= 0 && io_uring_peek_cqe(&e->ring, &cqe) == 0 &&
	    io_uring_cqe_get_data64(cqe) == TAG_REQUEST && cqe->res < 0)
		rc = cqe->res;
	if (rc < 0) {
		sfs_log(LOG_ERR, "io_uring: queue %u refused an entry: %s",
			e->qid, strerror(-rc));
		return NULL;
	}
	atomic_fetch_add(&pool.registered, 1);
	for (;;) {
		rc = io_uring_submit_and_wait(&e->ring, 1);
		if (rc == -EINTR)
			continue;
		if (rc < 0) {
			sfs_log(LOG_ERR, "io_uring: waiting for requests: %s",
				strerror(-rc));
			break;
		}
		if (io_uring_peek_cqe(&e->ring, &cqe) != 0)
			continue;
		if (io_uring_cqe_get_data64(cqe) == TAG_STOP)
			break;
		rc = cqe->res;
		io_uring_cqe_seen(&e->ring, cqe);
		if (rc < 0) {
			/* ENOTCONN: the file system was unmounted. */
			if (rc != -ENOTCONN)
				sfs_log(LOG_ERR, "io_uring: queue %u: %s",
					e->qid, strerror(-rc));
			break;
		}
		bulk = is_bulk(e);
		handle_request(e);
		rc = queue_cmd(e, URING_CMD_COMMIT_AND_FETCH, e->unique);
		cpu = next_cpu(e, bulk);
		if (rc == 0 && cpu != e->cpu) {
			/* The reply leaves from here, then the thread moves. */
			rc = io_uring_submit(&e->ring);
			if (rc >= 0)
				pin_to_cpu(e, cpu);
		}
		if (rc < 0) {
			sfs_log(LOG_ERR, "io_uring: queue %u: %s", e->qid,
				strerror(-rc));
			break;
		}
	}
	return NULL;
}

static int setup_entry(struct entry *e, unsigned int qid)
{
	struct io_uring_params p = {.flags = IORING_SETUP_SQE128};
	int rc;

	e->qid = qid;
	/* Every other thread of the queue. */
	e->spills = (e - pool.entries) % SFS_URING_THREADS_PER_QUEUE % 2 == 1;
	e->hdr = aligned_alloc(4096, 4096);
	/* Lazily backed: only the pages the largest request touches count. */
	e->area = aligned_alloc(4096, PREFIX + pool.payload);
	if (!e->hdr || !e->area)
		return -ENOMEM;
	memset(e->hdr, 0, sizeof(*e->hdr));
	e->iov[0] = (struct iovec){e->hdr, sizeof(*e->hdr)};
	e->iov[1] = (struct iovec){e->area + PREFIX, pool.payload};
	rc = io_uring_queue_init_params(2, &e->ring, &p);
	if (rc < 0)
		return rc;
	e->ring_ready = true;
	return 0;
}

int sfs_uring_start(struct fuse_session *se, int fd, size_t payload,
		    void (*on_request)(const char *req, size_t len))
{
	int cpus = get_nprocs_conf(), rc = 0;
	unsigned int i;

	if (pool.entries || cpus < 1)
		return -1;
	pool.se = se;
	pool.on_request = on_request;
	pool.fd = fd;
	pool.payload = payload;
	pool.nqueues = (unsigned int)cpus;
	pool.nentries = pool.nqueues * SFS_URING_THREADS_PER_QUEUE;
	pool.entries = calloc(pool.nentries, sizeof(*pool.entries));
	pool.stop_fd = eventfd(0, EFD_CLOEXEC);
	if (!pool.entries || pool.stop_fd < 0)
		rc = -ENOMEM;
	for (i = 0; rc == 0 && i < pool.nentries; i++)
		rc = setup_entry(&pool.entries[i],
				 i / SFS_URING_THREADS_PER_QUEUE);
	for (i = 0; rc == 0 && i < pool.nentries; i++) {
		rc = -pthread_create(&pool.entries[i].thread, NULL,
				     entry_thread, &pool.entries[i]);
		pool.entries[i].started = rc == 0;
	}
	if (rc != 0) {
		sfs_log(LOG_WARNING,
			"io_uring: cannot set up %u queues (%s); requests "
			"stay on /dev/fuse",
			pool.nqueues, strerror(-rc));
		sfs_uring_stop();
		return -1;
	}
	sfs_log(LOG_INFO, "FUSE over io_uring: %u queues, %u threads each",
		pool.nqueues, SFS_URING_THREADS_PER_QUEUE);
	return 0;
}

void sfs_uring_stop(void)
{
	uint64_t one = 1;

	if (!pool.entries)
		return;
	if (pool.stop_fd >= 0 &&
	    write(pool.stop_fd, &one, sizeof(one)) != sizeof(one))
		sfs_log(LOG_ERR, "io_uring: cannot wake the queue threads");
	for (unsigned int i = 0; i < pool.nentries; i++) {
		struct entry *e = &pool.entries[i];

		if (e->started)
			pthread_join(e->thread, NULL);
		if (e->ring_ready)
			io_uring_queue_exit(&e->ring);
		if (e->area)
			sfs_wipe(e->area + PREFIX, e->reply_len);
		free(e->hdr);
		free(e->area);
	}
	free(pool.entries);
	pool.entries = NULL;
	pool.nentries = 0;
	if (pool.stop_fd >= 0)
		close(pool.stop_fd);
	pool.stop_fd = -1;
}
