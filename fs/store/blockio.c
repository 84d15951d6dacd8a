/* blockio.c - stored content blocks of one backing file, group by group:
 * within a group the data of consecutive blocks is contiguous and so are
 * their slots, and a group's data runs on into the next group's metadata
 * page, so a run reads in at most two system calls. Long runs go around
 * the backing page cache (direct I/O) both ways: copying ciphertext into
 * or out of it cost as much CPU as sealing or opening it, and pages that a
 * streaming write dirtied were only flushed at the end, by fsync
 * (doc/PERFORMANCE.md). Slots always go through the page cache: they are
 * small and rewritten by every write to their group. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sfs_blockio.h"
#include "sfs_sys.h"

#define BS ((uint64_t)SFS_BLOCK_SIZE)

static const uint8_t zero_slots[SFS_BLOCK_SIZE];

/* The piece of a run of len data bytes from block first that lies in
 * first's group: its block count and data bytes. */
static size_t group_piece(const struct sfs_layout *l, uint64_t first,
			  size_t len, uint64_t *nblocks)
{
	uint64_t room = sfs_group_left(l, first) * BS;

	if (len > room)
		len = (size_t)room;
	*nblocks = (len + BS - 1) / BS;
	return len;
}

/* Backing offset of the metadata page of block's group. */
static off_t meta_page(const struct sfs_layout *l, uint64_t block)
{
	return (off_t)(sfs_data_off(l, block) -
		       (block % l->group_blocks + 1) * BS);
}

/* Groups one preadv reads: a 1 MiB request spans at most 4. */
#define SPAN_GROUPS 8U

/* A span: the group pieces of a run that lie in one contiguous backing
 * range, read with one preadv. The range starts with the first piece's
 * metadata page only when the run starts its group; otherwise that
 * piece's slots are read on their own. */
struct span {
	unsigned int pieces;
	bool first_meta;
	size_t len[SPAN_GROUPS]; /* data bytes of each piece */
	uint64_t nb[SPAN_GROUPS];
};

static void plan_span(const struct sfs_layout *l, uint64_t first, size_t len,
		      struct span *s)
{
	size_t done = 0;

	s->pieces = 0;
	s->first_meta = first % l->group_blocks == 0;
	while (done < len && s->pieces < SPAN_GROUPS) {
		unsigned int i = s->pieces++;

		s->len[i] = group_piece(l, first, len - done, &s->nb[i]);
		done += s->len[i];
		first += s->nb[i];
	}
}

/* Bytes an iovec of n data bytes asks for: direct I/O moves whole pages
 * (the buffers have room, and a read stops at the end of the file). */
static size_t io_len(size_t n, bool direct)
{
	return direct ? (n + BS - 1) / BS * BS : n;
}

/* Reads span s from block first into data and, for the pieces that start
 * their group, slots (out of their metadata pages). Returns the data bytes
 * read, less than planned where the file ends, or -errno. */
static ssize_t read_span(const struct sfs_layout *l, int fd, bool direct,
			 uint64_t first, const struct span *s, uint8_t *data,
			 uint8_t *slots)
{
	struct iovec iov[2 * SPAN_GROUPS];
	uint8_t *meta = sfs_thread_buf(SFS_BUF_META, SPAN_GROUPS * BS);
	size_t done = 0, left;
	unsigned int n = 0, i;
	ssize_t got;

	if (!meta)
		return -ENOMEM;
	for (i = 0; i < s->pieces; i++) {
		if (i > 0 || s->first_meta)
			iov[n++] = (struct iovec){meta + i * BS, BS};
		iov[n++] =
		    (struct iovec){data + done, io_len(s->len[i], direct)};
		done += s->len[i];
	}
	got = sfs_preadv_full(fd, iov, (int)n,
			      s->first_meta ? meta_page(l, first)
					    : (off_t)sfs_data_off(l, first));
	if (got < 0)
		return got;
	left = (size_t)got;
	done = 0;
	for (i = 0; i < s->pieces; i++) {
		size_t sl = (size_t)s->nb[i] * l->slot_bytes;
		size_t want = io_len(s->len[i], direct);

		if (i > 0 || s->first_meta) {
			if (left < BS)
				break; /* the file ends inside the slots */
			memcpy(slots, meta + i * BS + SFS_META_HEAD_BYTES, sl);
			left -= BS;
		}
		slots += sl;
		if (left < want) {
			done += left < s->len[i] ? left : s->len[i];
			break;
		}
		left -= want;
		done += s->len[i];
	}
	return (ssize_t)done;
}

ssize_t sfs_blocks_read(const struct sfs_layout *l, int fd, int dfd,
			uint64_t first, uint8_t *data, size_t len,
			uint8_t *slots)
{
	/* Direct I/O needs page-aligned buffers (sfs_thread_buf's are). */
	bool direct = dfd >= 0 && (uintptr_t)data % SFS_PAGE_BYTES == 0;
	size_t done = 0;

	while (done < len) {
		size_t planned = 0;
		struct span s;
		ssize_t got;

		plan_span(l, first, len - done, &s);
		if (!s.first_meta) {
			size_t sl = (size_t)s.nb[0] * l->slot_bytes;
			off_t so = (off_t)sfs_slot_off(l, first);

			/* Slots the page cache holds (the usual case) are
			 * read at once, and the data read that follows gets
			 * the kernel's readahead like any other read. Else
			 * two disk reads, not one after the other: the data
			 * pages are on their way while the slots are read
			 * (a cold 4 KiB read otherwise waits twice). */
			got = direct ? -EAGAIN
				     : sfs_pread_cached(fd, slots, sl, so);
			if (got == -EAGAIN) {
				if (!direct)
					(void)posix_fadvise(
					    fd, (off_t)sfs_data_off(l, first),
					    (off_t)s.len[0],
					    POSIX_FADV_WILLNEED);
				got = sfs_pread_full(fd, slots, sl, so);
			}
			if (got < 0)
				return got;
			if ((size_t)got < sl)
				break; /* the file ends inside the slots */
		}
		got = read_span(l, direct ? dfd : fd, direct, first, &s,
				data + done, slots);
		if (got == -EINVAL && direct) {
			/* The backing filesystem refused a direct read: the
			 * page cache serves the rest. */
			direct = false;
			continue;
		}
		if (got < 0)
			return got;
		for (unsigned int i = 0; i < s.pieces; i++) {
			planned += s.len[i];
			first += s.nb[i];
			slots += (size_t)s.nb[i] * l->slot_bytes;
		}
		done += (size_t)got;
		if ((size_t)got < planned)
			break;
	}
	return (ssize_t)done;
}

static int reserve(int fd, off_t off, off_t len)
{
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, off, len) < 0 &&
	    errno != EOPNOTSUPP)
		return -errno;
	return 0;
}

/* Whether [off, end) of fd holds no hole, so writing there needs no new
 * space: one lseek instead of two fallocates per overwrite, which cost 15%
 * of the daemon's time on 4 KiB random writes (doc/PERFORMANCE.md).
 * Unwritten extents and the end of the file count as holes. The file
 * offset it moves is not used: backing files are read and written with
 * pread/pwrite. */
static bool allocated(int fd, off_t off, off_t end)
{
	off_t hole = lseek(fd, off, SEEK_HOLE);

	return hole >= end;
}

int sfs_blocks_reserve(const struct sfs_layout *l, int fd, uint64_t first,
		       size_t len)
{
	size_t done = 0;

	while (done < len) {
		uint64_t nb;
		size_t n = group_piece(l, first, len - done, &nb);
		off_t meta = meta_page(l, first);
		off_t data = (off_t)sfs_data_off(l, first);
		int rc = 0;

		/* The metadata page starts the group, so [meta, data + n)
		 * covers both ranges. */
		if (!allocated(fd, meta, data + (off_t)n)) {
			rc = reserve(fd, meta, (off_t)BS);
			if (rc == 0)
				rc = reserve(fd, data, (off_t)n);
		}
		if (rc < 0)
			return rc;
		done += n;
		first += nb;
	}
	return 0;
}

/* Takes back a failed append to a file of csize bytes: its slots in the
 * old last group (slots past the end must stay zero), then its bytes.
 * Best effort: the write's error is what the caller reports. */
static void undo_append(const struct sfs_layout *l, int fd, uint64_t first,
			size_t len, uint64_t csize)
{
	uint64_t end = first + (len + BS - 1) / BS;
	uint64_t stop = first + sfs_group_left(l, first);

	(void)sfs_slots_clear(l, fd, first, end < stop ? end : stop);
	(void)ftruncate(fd, (off_t)csize);
}

int sfs_blocks_write(const struct sfs_layout *l, int fd, int dfd,
		     uint64_t first, const uint8_t *data, size_t len,
		     const uint8_t *slots)
{
	/* Short runs go through the page cache, and so does a piece that
	 * ends in a short block (direct I/O moves whole pages). */
	int data_fd = len >= SFS_DIRECT_MIN_BYTES ? dfd : -1;
	uint64_t b = first;
	size_t done = 0;
	struct stat st;
	bool append;
	int rc = 0;

	if (fstat(fd, &st) < 0)
		return -errno;
	/* A run that overwrites stored blocks is reserved first, so a full
	 * disk fails it before it tears one. An append is not (that would
	 * cost a fallocate per write, and unwritten extents to convert
	 * later): a failed one is taken back instead. */
	append = sfs_data_off(l, first) >= (uint64_t)st.st_size;
	if (!append)
		rc = sfs_blocks_reserve(l, fd, first, len);
	while (rc == 0 && done < len) {
		uint64_t nb;
		size_t n = group_piece(l, b, len - done, &nb);
		size_t sl = (size_t)nb * l->slot_bytes;
		ssize_t w;

		/* A crash between the two writes (or one that persisted only
		 * one of them) leaves a slot that does not match its data:
		 * that block reads as -EIO, never as other bytes. */
		w = sfs_pwrite_direct(fd, data_fd, data + done, n,
				      (off_t)sfs_data_off(l, b));
		if (w >= 0)
			w = sfs_pwrite_full(fd, slots, sl,
					    (off_t)sfs_slot_off(l, b));
		if (w < 0)
			rc = (int)w;
		done += n;
		b += nb;
		slots += sl;
	}
	if (rc < 0 && append)
		undo_append(l, fd, first, len, (uint64_t)st.st_size);
	return rc;
}

int sfs_slots_clear(const struct sfs_layout *l, int fd, uint64_t from,
		    uint64_t to)
{
	while (from < to) {
		uint64_t nb = sfs_group_left(l, from);
		ssize_t rc;

		if (nb > to - from)
			nb = to - from;
		rc = sfs_pwrite_full(fd, zero_slots, (size_t)nb * l->slot_bytes,
				     (off_t)sfs_slot_off(l, from));
		if (rc < 0)
			return (int)rc;
		from += nb;
	}
	return 0;
}

int sfs_blocks_punch(const struct sfs_layout *l, int fd, uint64_t from,
		     uint64_t to)
{
	uint64_t b = from;

	while (b < to) {
		uint64_t nb = sfs_group_left(l, b);

		if (nb > to - b)
			nb = to - b;
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)sfs_data_off(l, b), (off_t)(nb * BS)) < 0)
			return -errno;
		b += nb;
	}
	return sfs_slots_clear(l, fd, from, to);
}
