/* blockio.c - stored content blocks of one backing file, group by group:
 * within a group the data of consecutive blocks is contiguous and so are
 * their slots, so a run costs two system calls per group it touches. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
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

ssize_t sfs_blocks_read(const struct sfs_layout *l, int fd, uint64_t first,
			uint8_t *data, size_t len, uint8_t *slots)
{
	size_t done = 0;

	while (done < len) {
		uint64_t nb;
		size_t n = group_piece(l, first, len - done, &nb);
		size_t sl = (size_t)nb * l->slot_bytes;
		ssize_t got;

		got = sfs_pread_full(fd, slots, sl,
				     (off_t)sfs_slot_off(l, first));
		if (got >= 0 && (size_t)got == sl)
			got = sfs_pread_full(fd, data + done, n,
					     (off_t)sfs_data_off(l, first));
		else if (got >= 0)
			got = 0; /* the file ends inside the slots */
		if (got < 0)
			return got;
		done += (size_t)got;
		if ((size_t)got < n)
			break;
		first += nb;
		slots += sl;
	}
	return (ssize_t)done;
}

/* Backing offset of the metadata page of block's group. */
static off_t meta_page(const struct sfs_layout *l, uint64_t block)
{
	return (off_t)(sfs_data_off(l, block) -
		       (block % l->group_blocks + 1) * BS);
}

static int reserve(int fd, off_t off, off_t len)
{
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, off, len) < 0 &&
	    errno != EOPNOTSUPP)
		return -errno;
	return 0;
}

int sfs_blocks_reserve(const struct sfs_layout *l, int fd, uint64_t first,
		       size_t len)
{
	size_t done = 0;

	while (done < len) {
		uint64_t nb;
		size_t n = group_piece(l, first, len - done, &nb);
		int rc = reserve(fd, meta_page(l, first), (off_t)BS);

		if (rc == 0)
			rc = reserve(fd, (off_t)sfs_data_off(l, first),
				     (off_t)n);
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

int sfs_blocks_write(const struct sfs_layout *l, int fd, uint64_t first,
		     const uint8_t *data, size_t len, const uint8_t *slots)
{
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
		w = sfs_pwrite_full(fd, data + done, n,
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
