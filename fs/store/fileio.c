/* fileio.c - read/write/truncate/fallocate/lseek of one backing file.
 *
 * Plain mode passes through. Encrypted mode maps plaintext ranges onto the
 * block layout of content.c (stored through blockio.c): a partial block is
 * read, decrypted, merged and re-encrypted (read-modify-write) under the
 * inode's exclusive content lock; growing a file first re-encrypts a short
 * last block to full length (skipped blocks stay holes).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "sfs_blockio.h"
#include "sfs_crypto.h"
#include "sfs_fileio.h"
#include "sfs_log.h"
#include "sfs_sys.h"

#define BS ((uint64_t)SFS_BLOCK_SIZE)

static const uint8_t zero_block[SFS_BLOCK_SIZE];

int sfs_file_backing_flags(const struct sfs_fs *fs, int flags)
{
	/* O_NOFOLLOW: the kernel refused a symlink before asking us, and the
	 * re-open through /proc/self/fd is a magic link it would refuse. */
	flags &= ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_NOFOLLOW);
	/* Slots are not page-sized I/O; the kernel still serves the
	 * caller's O_DIRECT semantics (no page cache) through FUSE. */
	flags &= ~O_DIRECT;
	if (fs->encrypted || fs->writeback) {
		if ((flags & O_ACCMODE) == O_WRONLY)
			flags = (flags & ~O_ACCMODE) | O_RDWR;
		/* The kernel (writeback) or we (blocks) place the writes. */
		flags &= ~O_APPEND;
	}
	return flags | O_CLOEXEC;
}

void sfs_file_close(struct sfs_fs *fs, struct sfs_file *f)
{
	int dfd = atomic_load(&f->dfd);

	close(f->fd);
	if (dfd >= 0) {
		close(dfd);
		sfs_itable_other_fds(fs->inodes, -1);
	}
}

/* f's O_DIRECT descriptor for a run of len bytes, or -1: short runs use
 * the page cache, so files that never see a long one never open one. */
static int direct_fd(struct sfs_fs *fs, struct sfs_file *f, size_t len)
{
	int dfd = atomic_load(&f->dfd), flags, unopened = SFS_DFD_UNOPENED;
	struct sfs_fdpath p;

	if (dfd != SFS_DFD_UNOPENED || len < SFS_DIRECT_MIN_BYTES)
		return dfd < 0 ? -1 : dfd;
	flags = fcntl(f->fd, F_GETFL);
	if (flags < 0)
		return -1;
	if (flags & O_APPEND) {
		/* Its writes go where the file ends, a twin's to offsets. */
		atomic_store(&f->dfd, -1);
		return -1;
	}
	dfd = open(sfs_fdpath(&p, f->fd),
		   (flags & O_ACCMODE) | O_DIRECT | O_CLOEXEC);
	if (dfd < 0) {
		/* Only a refusal is for good; running out of fds is not. */
		if (errno == EINVAL)
			atomic_store(&f->dfd, -1);
		return -1;
	}
	if (!atomic_compare_exchange_strong(&f->dfd, &unopened, dfd)) {
		close(dfd); /* another thread was first */
		return unopened < 0 ? -1 : unopened;
	}
	sfs_itable_other_fds(fs->inodes, 1);
	return dfd;
}

void sfs_file_fix_attr(const struct sfs_fs *fs, struct stat *st)
{
	uint64_t plain;

	if (!fs->encrypted || !S_ISREG(st->st_mode))
		return;
	/* A bad size is reported when the content is read; here the best
	 * guess keeps stat() usable. */
	(void)sfs_plain_size(&fs->layout, (uint64_t)st->st_size, &plain);
	st->st_size = (off_t)plain;
}

/* The content lock held exclusively: by writers, truncation and
 * fallocate, the only changers of a backing file's size. Releasing it
 * forgets the size readers cached (read_sizes). */
static void content_write_lock(struct sfs_inode *inode)
{
	pthread_rwlock_wrlock(&inode->content);
}

static void content_write_unlock(struct sfs_inode *inode)
{
	atomic_store(&inode->backing_size, SFS_SIZE_UNKNOWN);
	pthread_rwlock_unlock(&inode->content);
}

/* The plaintext size of a backing file of csize bytes; -EIO, reported,
 * when no plaintext has that size. */
static int plain_size_of(struct sfs_fs *fs, struct sfs_inode *inode,
			 uint64_t csize, uint64_t *psize)
{
	if (sfs_plain_size(&fs->layout, csize, psize) < 0) {
		sfs_report_integrity(fs, inode->ino, SFS_NO_BLOCK,
				     "impossible file size");
		return -EIO;
	}
	return 0;
}

/* Current cipher and plaintext sizes of the backing file. */
static int file_sizes(struct sfs_fs *fs, struct sfs_inode *inode, int fd,
		      uint64_t *csize, uint64_t *psize)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	*csize = (uint64_t)st.st_size;
	return plain_size_of(fs, inode, *csize, psize);
}

/* file_sizes for a holder of the content lock in shared mode: no size
 * changes while it is held, so the first reader's fstat serves the ones
 * after it (one system call less per READ) until a writer forgets it. */
static int read_sizes(struct sfs_fs *fs, struct sfs_inode *inode, int fd,
		      uint64_t *csize, uint64_t *psize)
{
	uint64_t known = atomic_load(&inode->backing_size);
	int rc;

	if (known != SFS_SIZE_UNKNOWN) {
		*csize = known;
		return plain_size_of(fs, inode, known, psize);
	}
	rc = file_sizes(fs, inode, fd, csize, psize);
	if (rc == 0)
		atomic_store(&inode->backing_size, *csize);
	return rc;
}

static void id_forget(struct sfs_inode *inode)
{
	pthread_mutex_lock(&inode->meta_lock);
	inode->have_file_id = false;
	sfs_wipe(inode->file_id, sizeof(inode->file_id));
	pthread_mutex_unlock(&inode->meta_lock);
}

static void id_remember(struct sfs_inode *inode, const uint8_t *id)
{
	pthread_mutex_lock(&inode->meta_lock);
	memcpy(inode->file_id, id, SFS_FILE_ID_BYTES);
	inode->have_file_id = true;
	pthread_mutex_unlock(&inode->meta_lock);
}

/* The file id of a non-empty file, from the cache or its header. */
static int file_id(struct sfs_fs *fs, struct sfs_inode *inode, int fd,
		   uint8_t id[SFS_FILE_ID_BYTES])
{
	uint8_t hdr[SFS_FILE_HEADER_BYTES];
	ssize_t n;

	pthread_mutex_lock(&inode->meta_lock);
	if (inode->have_file_id) {
		memcpy(id, inode->file_id, SFS_FILE_ID_BYTES);
		pthread_mutex_unlock(&inode->meta_lock);
		return 0;
	}
	pthread_mutex_unlock(&inode->meta_lock);
	n = sfs_pread_full(fd, hdr, sizeof(hdr), 0);
	if (n < 0)
		return (int)n;
	if ((size_t)n != sizeof(hdr) || sfs_header_parse(hdr, id) < 0) {
		sfs_report_integrity(fs, inode->ino, 0, "bad file header");
		return -EIO;
	}
	id_remember(inode, id);
	return 0;
}

/* Writes a header with a fresh id to an empty file. */
static int file_id_create(struct sfs_inode *inode, int fd,
			  uint8_t id[SFS_FILE_ID_BYTES])
{
	uint8_t hdr[SFS_FILE_HEADER_BYTES];
	ssize_t n;

	sfs_header_new(hdr, id);
	n = sfs_pwrite_full(fd, hdr, sizeof(hdr), 0);
	if (n < 0)
		return (int)n;
	id_remember(inode, id);
	return 0;
}

/* Decrypts plaintext block `block` of a file of psize bytes into dst and
 * zero-fills dst to a full block. Blocks past the end read as zeros. */
static int load_block(struct sfs_fs *fs, struct sfs_inode *inode, int fd,
		      const uint8_t *id, uint64_t psize, uint64_t block,
		      uint8_t *dst)
{
	uint8_t slot[SFS_NONCE_MAX_BYTES + SFS_TAG_BYTES];
	uint64_t start = block * BS, bad;
	size_t plen;
	ssize_t n;

	memset(dst, 0, BS);
	if (start >= psize)
		return 0;
	plen = psize - start < BS ? (size_t)(psize - start) : BS;
	n = sfs_blocks_read(&fs->layout, fd, -1, block, dst, plen, slot);
	if (n < 0)
		return (int)n;
	if ((size_t)n == plen)
		n = sfs_content_decrypt(fs->crypto, &fs->layout, id, block, dst,
					plen, slot, dst, &bad);
	if (n == -ENOMEM)
		return -ENOMEM;
	if (n != (ssize_t)plen) {
		memset(dst, 0, BS);
		sfs_report_integrity(fs, inode->ino, block,
				     "block authentication failed");
		return -EIO;
	}
	return 0;
}

/* Writes [off, off + len) of a file whose plaintext size is psize and whose
 * blocks before off / BS are complete (the caller padded a short last
 * block); dfd as for sfs_blocks_write. Called with the content lock held
 * exclusively. */
static ssize_t write_run(struct sfs_fs *fs, struct sfs_inode *inode, int fd,
			 int dfd, const uint8_t *id, const uint8_t *buf,
			 size_t len, uint64_t off, uint64_t psize)
{
	uint64_t b0 = off / BS, end = off + len, b1 = (end - 1) / BS;
	size_t head = (size_t)(off - b0 * BS);
	uint64_t old_in_last = psize > b1 * BS ? psize - b1 * BS : 0;
	size_t last_len = (size_t)(end - b1 * BS);
	const uint8_t *src = buf;
	uint8_t *pbuf = NULL, *cbuf, *slots;
	size_t run_len;
	ssize_t rc;

	if (old_in_last > last_len)
		last_len = old_in_last > BS ? BS : (size_t)old_in_last;
	run_len = (size_t)((b1 - b0) * BS) + last_len;

	if (head != 0 || run_len != head + len) {
		/* Partial first or last block: merge with what is there. */
		pbuf =
		    sfs_thread_buf(SFS_BUF_PLAIN, (size_t)(b1 - b0 + 1) * BS);
		if (!pbuf)
			return -ENOMEM;
		if (head != 0) {
			rc = load_block(fs, inode, fd, id, psize, b0, pbuf);
			if (rc < 0)
				goto out;
		}
		if (run_len != head + len && (b1 != b0 || head == 0)) {
			rc = load_block(fs, inode, fd, id, psize, b1,
					pbuf + (b1 - b0) * BS);
			if (rc < 0)
				goto out;
		}
		memcpy(pbuf + head, buf, len);
		src = pbuf;
	}
	cbuf = sfs_thread_buf(SFS_BUF_CIPHER, run_len);
	slots = sfs_thread_buf(SFS_BUF_SLOTS,
			       sfs_content_slots_len(&fs->layout, run_len));
	if (!cbuf || !slots) {
		rc = -ENOMEM;
		goto out;
	}
	rc = sfs_content_encrypt(fs->crypto, &fs->layout, id, b0, src, run_len,
				 cbuf, slots);
	if (rc >= 0)
		rc = sfs_blocks_write(&fs->layout, fd, dfd, b0, cbuf, run_len,
				      slots);
	if (rc >= 0)
		rc = (ssize_t)len;
out:
	if (pbuf)
		sfs_wipe(pbuf, (size_t)(b1 - b0 + 1) * BS);
	return rc;
}

/* Writes zeros over [from, to) through the block layer, in block-sized runs
 * so no large buffer is needed. */
static int write_zeros(struct sfs_fs *fs, struct sfs_inode *inode, int fd,
		       const uint8_t *id, uint64_t from, uint64_t to,
		       uint64_t psize)
{
	while (from < to) {
		uint64_t stop = (from / BS + 1) * BS;
		ssize_t rc;

		if (stop > to)
			stop = to;
		rc = write_run(fs, inode, fd, -1, id, zero_block,
			       (size_t)(stop - from), from, psize);
		if (rc < 0)
			return (int)rc;
		if (stop > psize)
			psize = stop;
		from = stop;
	}
	return 0;
}

/* Makes a short last block full length (zero padded) before the file grows
 * past it, so later blocks keep their positions. */
static int pad_last_block(struct sfs_fs *fs, struct sfs_inode *inode, int fd,
			  const uint8_t *id, uint64_t psize, uint64_t new_end)
{
	uint64_t block_end = (psize / BS + 1) * BS;

	if (psize % BS == 0)
		return 0;
	return write_zeros(fs, inode, fd, id, psize,
			   new_end < block_end ? new_end : block_end, psize);
}

/* Ensures the file has a header and returns its id; *created tells whether
 * this call wrote it. */
static int id_for_write(struct sfs_fs *fs, struct sfs_inode *inode, int fd,
			uint64_t csize, uint8_t *id, bool *created)
{
	*created = csize == 0;
	if (csize == 0)
		return file_id_create(inode, fd, id);
	return file_id(fs, inode, fd, id);
}

/* Undoes a header this request wrote, so a failed first write leaves an
 * empty file rather than a header-only one. */
static void undo_create(struct sfs_inode *inode, int fd)
{
	if (ftruncate(fd, 0) == 0)
		id_forget(inode);
}

/* Passthrough: the backing file holds the plaintext as it is. */
static ssize_t plain_read(struct sfs_file *f, size_t len, off_t off,
			  uint8_t *dst, size_t cap, uint8_t **data)
{
	uint8_t *buf = dst ? dst : sfs_thread_buf(SFS_BUF_PLAIN, len);
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	n = sfs_pread_full(f->fd, buf, dst && len > cap ? cap : len, off);
	if (n >= 0)
		*data = buf;
	return n;
}

ssize_t sfs_file_read(struct sfs_fs *fs, struct sfs_file *f, size_t len,
		      off_t off, uint8_t *dst, size_t cap, uint8_t **data)
{
	struct sfs_inode *inode = f->inode;
	uint8_t id[SFS_FILE_ID_BYTES], *pbuf, *slots;
	uint64_t csize, psize, b0, b1, bad, uoff = (uint64_t)off;
	size_t nblocks, dlen;
	ssize_t rc, n;

	*data = NULL;
	if (!fs->encrypted)
		return plain_read(f, len, off, dst, cap, data);
	pthread_rwlock_rdlock(&inode->content);
	rc = read_sizes(fs, inode, f->fd, &csize, &psize);
	if (rc < 0 || uoff >= psize || len == 0) {
		rc = rc < 0 ? rc : 0;
		goto out;
	}
	if (len > psize - uoff)
		len = (size_t)(psize - uoff);
	rc = file_id(fs, inode, f->fd, id);
	if (rc < 0)
		goto out;
	b0 = uoff / BS;
	b1 = (uoff + len - 1) / BS;
	nblocks = (size_t)(b1 - b0 + 1);
	dlen = psize - b0 * BS < nblocks * BS ? (size_t)(psize - b0 * BS)
					      : nblocks * BS;
	pbuf = dst && uoff % BS == 0 && nblocks * BS <= cap
		   ? dst
		   : sfs_thread_buf(SFS_BUF_PLAIN, nblocks * BS);
	slots = sfs_thread_buf(SFS_BUF_SLOTS, nblocks * fs->layout.slot_bytes);
	if (!pbuf || !slots) {
		rc = -ENOMEM;
		goto out;
	}
	n = sfs_blocks_read(&fs->layout, f->fd, direct_fd(fs, f, dlen), b0,
			    pbuf, dlen, slots);
	if (n >= 0 && (size_t)n < dlen) {
		/* The file shrank under us or lost a block. */
		sfs_report_integrity(fs, inode->ino, b1, "short block");
		n = -EIO;
	}
	if (n < 0) {
		rc = n;
		goto out;
	}
	/* In place: the ciphertext is not needed once it is opened. */
	rc = sfs_content_decrypt(fs->crypto, &fs->layout, id, b0, pbuf, dlen,
				 slots, pbuf, &bad);
	if (rc == -EIO)
		sfs_report_integrity(fs, inode->ino, bad,
				     "block authentication failed");
	if (rc < 0)
		goto out;
	*data = pbuf + (uoff - b0 * BS);
	rc = (ssize_t)len;
out:
	pthread_rwlock_unlock(&inode->content);
	sfs_wipe(id, sizeof(id));
	return rc;
}

void sfs_file_read_done(uint8_t *data, size_t len)
{
	if (data)
		sfs_wipe(data, len);
}

/* Writes at least this long are sealed before the content lock is taken
 * when they can be: sealing one then overlaps another's backing write. */
#define SEAL_EARLY_MIN (64U * 1024U)

/* A run sealed outside the content lock, for the file id it was sealed
 * under. */
struct sealed {
	bool ready;
	uint8_t id[SFS_FILE_ID_BYTES];
	uint8_t *data, *slots;
};

/* Seals [off, off + len) now if it starts a block and the file's id is
 * known. Whether the run needs nothing of what is stored (no partial block
 * to merge) and the id is still the file's is decided under the lock. */
static void seal_early(struct sfs_fs *fs, struct sfs_inode *inode,
		       const uint8_t *buf, size_t len, uint64_t off,
		       struct sealed *s)
{
	s->ready = false;
	if (off % BS != 0 || len < SEAL_EARLY_MIN)
		return;
	pthread_mutex_lock(&inode->meta_lock);
	if (inode->have_file_id) {
		memcpy(s->id, inode->file_id, SFS_FILE_ID_BYTES);
		s->ready = true;
	}
	pthread_mutex_unlock(&inode->meta_lock);
	if (!s->ready)
		return;
	s->data = sfs_thread_buf(SFS_BUF_SEALED, len);
	s->slots = sfs_thread_buf(SFS_BUF_SEALED_SLOTS,
				  sfs_content_slots_len(&fs->layout, len));
	s->ready = s->data && s->slots &&
		   sfs_content_encrypt(fs->crypto, &fs->layout, s->id, off / BS,
				       buf, len, s->data, s->slots) >= 0;
}

/* Whether s can be stored as it is in a file with id and plaintext size
 * psize: same id, and its last block is full or the file ends in it (a
 * partial last block would have to keep stored bytes after it). */
static bool sealed_fits(const struct sealed *s, const uint8_t *id, size_t len,
			uint64_t off, uint64_t psize)
{
	return s->ready && memcmp(s->id, id, SFS_FILE_ID_BYTES) == 0 &&
	       (len % BS == 0 || psize <= off + len);
}

ssize_t sfs_file_write(struct sfs_fs *fs, struct sfs_file *f,
		       const uint8_t *buf, size_t len, off_t off)
{
	struct sfs_inode *inode = f->inode;
	uint8_t id[SFS_FILE_ID_BYTES];
	uint64_t csize, psize, uoff = (uint64_t)off;
	bool created = false;
	struct sealed s;
	ssize_t rc;
	int dfd;

	if (!fs->encrypted) {
		/* Long runs from aligned buffers (io_uring's payloads) go
		 * around the page cache, as encrypted blocks do. */
		dfd = (uintptr_t)buf % SFS_PAGE_BYTES == 0
			  ? direct_fd(fs, f, len)
			  : -1;
		return sfs_pwrite_direct(f->fd, dfd, buf, len, off);
	}
	if (len == 0)
		return 0;
	seal_early(fs, inode, buf, len, uoff, &s);
	content_write_lock(inode);
	rc = file_sizes(fs, inode, f->fd, &csize, &psize);
	if (rc < 0)
		goto out;
	rc = id_for_write(fs, inode, f->fd, csize, id, &created);
	if (rc < 0)
		goto out;
	if (uoff / BS > psize / BS) {
		rc = pad_last_block(fs, inode, f->fd, id, psize, uoff);
		if (rc < 0)
			goto out;
		if (psize % BS)
			psize = (psize / BS + 1) * BS;
	}
	dfd = direct_fd(fs, f, len);
	if (sealed_fits(&s, id, len, uoff, psize)) {
		rc = sfs_blocks_write(&fs->layout, f->fd, dfd, uoff / BS,
				      s.data, len, s.slots);
		if (rc == 0)
			rc = (ssize_t)len;
	} else {
		rc =
		    write_run(fs, inode, f->fd, dfd, id, buf, len, uoff, psize);
	}
out:
	if (rc < 0 && created)
		undo_create(inode, f->fd);
	content_write_unlock(inode);
	sfs_wipe(id, sizeof(id));
	sfs_wipe(s.id, sizeof(s.id));
	return rc;
}

/* After a file shrank from psize to size: zeroes the slots the cut blocks
 * leave in the last group, so that when the file grows again its new
 * blocks read as holes. */
static int clear_cut_slots(const struct sfs_layout *l, int fd, uint64_t size,
			   uint64_t psize)
{
	uint64_t keep = (size + BS - 1) / BS, old = (psize + BS - 1) / BS;
	uint64_t group_end = keep - 1 + sfs_group_left(l, keep - 1);

	return sfs_slots_clear(l, fd, keep, old < group_end ? old : group_end);
}

/* Truncation with the content lock held exclusively. */
static int truncate_locked(struct sfs_fs *fs, struct sfs_inode *inode, int fd,
			   uint64_t size)
{
	uint8_t id[SFS_FILE_ID_BYTES], plain[SFS_BLOCK_SIZE];
	uint64_t csize, psize;
	bool created;
	int rc;

	rc = file_sizes(fs, inode, fd, &csize, &psize);
	if (rc < 0)
		return rc;
	if (size == psize)
		return 0;
	if (size == 0) {
		if (ftruncate(fd, 0) < 0)
			return -errno;
		id_forget(inode);
		return 0;
	}
	rc = id_for_write(fs, inode, fd, csize, id, &created);
	if (rc < 0)
		return rc;
	if (size < psize && size % BS != 0) {
		/* Re-encrypt the new short last block. */
		uint64_t block = size / BS;
		rc = load_block(fs, inode, fd, id, psize, block, plain);
		if (rc == 0)
			rc = (int)write_run(fs, inode, fd, -1, id, plain,
					    (size_t)(size % BS), block * BS,
					    block * BS);
		sfs_wipe(plain, sizeof(plain));
	} else if (size > psize) {
		rc = pad_last_block(fs, inode, fd, id, psize, size);
	}
	/* Slots first: a crash in between leaves the blocks being cut
	 * unreadable, never stale slots that a later growth would expose. */
	if (rc >= 0 && size < psize)
		rc = clear_cut_slots(&fs->layout, fd, size, psize);
	if (rc >= 0 &&
	    ftruncate(fd, (off_t)sfs_cipher_size(&fs->layout, size)) < 0)
		rc = -errno;
	if (rc < 0 && created)
		undo_create(inode, fd);
	sfs_wipe(id, sizeof(id));
	return rc < 0 ? rc : 0;
}

int sfs_file_truncate(struct sfs_fs *fs, struct sfs_inode *inode, int fd,
		      off_t size)
{
	int rc;

	if (size < 0)
		return -EINVAL;
	if (!fs->encrypted)
		return ftruncate(fd, size) < 0 ? -errno : 0;
	content_write_lock(inode);
	rc = truncate_locked(fs, inode, fd, (uint64_t)size);
	content_write_unlock(inode);
	return rc;
}

/* Zeroes [off, end) of the plaintext: whole blocks become holes in the
 * backing file (all-zero stored blocks read as zeros), partial ones are
 * rewritten. */
static int punch_locked(struct sfs_fs *fs, struct sfs_inode *inode, int fd,
			uint64_t off, uint64_t end)
{
	uint8_t id[SFS_FILE_ID_BYTES];
	uint64_t csize, psize, first_full, end_full;
	int rc;

	rc = file_sizes(fs, inode, fd, &csize, &psize);
	if (rc < 0)
		return rc;
	if (end > psize)
		end = psize;
	if (off >= end)
		return 0;
	rc = file_id(fs, inode, fd, id);
	if (rc < 0)
		return rc;
	first_full = (off + BS - 1) / BS;
	/* Rounding down keeps a short last block out of the punch: it is
	 * rewritten instead, since its stored length must stay. */
	end_full = end / BS;
	if (first_full < end_full) {
		rc = sfs_blocks_punch(&fs->layout, fd, first_full, end_full);
		if (rc < 0)
			goto out;
		rc =
		    write_zeros(fs, inode, fd, id, off, first_full * BS, psize);
		if (rc == 0)
			rc = write_zeros(fs, inode, fd, id, end_full * BS, end,
					 psize);
	} else {
		rc = write_zeros(fs, inode, fd, id, off, end, psize);
	}
out:
	sfs_wipe(id, sizeof(id));
	return rc;
}

/* Reserves backing space for plaintext [off, end) without changing sizes. */
static int allocate_locked(struct sfs_fs *fs, int fd, uint64_t off,
			   uint64_t end)
{
	uint64_t b0 = off / BS;

	return sfs_blocks_reserve(&fs->layout, fd, b0, (size_t)(end - b0 * BS));
}

int sfs_file_fallocate(struct sfs_fs *fs, struct sfs_file *f, int mode,
		       off_t off, off_t len)
{
	const int zero = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE;
	struct sfs_inode *inode = f->inode;
	uint64_t end, csize, psize;
	int rc;

	if (off < 0 || len <= 0)
		return -EINVAL;
	if (!fs->encrypted)
		return fallocate(f->fd, mode, off, len) < 0 ? -errno : 0;
	if ((mode & ~(FALLOC_FL_KEEP_SIZE | zero)) || (mode & zero) == zero ||
	    ((mode & FALLOC_FL_PUNCH_HOLE) && !(mode & FALLOC_FL_KEEP_SIZE)))
		return -EOPNOTSUPP;
	end = (uint64_t)off + (uint64_t)len;
	content_write_lock(inode);
	rc = 0;
	if (mode & zero)
		rc = punch_locked(fs, inode, f->fd, (uint64_t)off, end);
	/* A punched range stays a hole; zeroed and allocated ones get space. */
	if (rc == 0 && !(mode & FALLOC_FL_PUNCH_HOLE))
		rc = allocate_locked(fs, f->fd, (uint64_t)off, end);
	if (rc == 0 && !(mode & FALLOC_FL_KEEP_SIZE)) {
		rc = file_sizes(fs, inode, f->fd, &csize, &psize);
		if (rc == 0 && end > psize)
			rc = truncate_locked(fs, inode, f->fd, end);
	}
	content_write_unlock(inode);
	return rc;
}

/* A stored block is a hole exactly when its nonce is zero: blocks are
 * always written whole with a random nonce. */
static int block_is_hole(struct sfs_fs *fs, int fd, uint64_t block)
{
	uint8_t nonce[SFS_NONCE_MAX_BYTES];
	size_t nlen = fs->layout.slot_bytes - SFS_TAG_BYTES;
	ssize_t n = sfs_pread_full(fd, nonce, nlen,
				   (off_t)sfs_slot_off(&fs->layout, block));

	if (n < 0)
		return (int)n;
	return (size_t)n < nlen || sfs_is_zero(nonce, nlen);
}

static off_t lseek_locked(struct sfs_fs *fs, struct sfs_file *f, off_t off,
			  int whence)
{
	uint64_t csize, psize, block, uoff = (uint64_t)off;
	int rc = read_sizes(fs, f->inode, f->fd, &csize, &psize);

	if (rc < 0)
		return rc;
	if (off < 0 || uoff >= psize)
		return -ENXIO;
	block = uoff / BS;
	for (;;) {
		off_t c = (off_t)sfs_data_off(&fs->layout, block);
		off_t found;

		if (block * BS >= psize)
			return whence == SEEK_DATA ? -ENXIO : (off_t)psize;
		/* Let the backing filesystem skip long runs, then decide at
		 * block granularity. */
		found = lseek(f->fd, c, whence);
		if (found < 0)
			return errno == ENXIO && whence == SEEK_HOLE
				   ? (off_t)psize
				   : -errno;
		if ((uint64_t)found >= csize)
			return whence == SEEK_DATA ? -ENXIO : (off_t)psize;
		if (sfs_block_at(&fs->layout, (uint64_t)found) > block)
			block = sfs_block_at(&fs->layout, (uint64_t)found);
		if (block * BS >= psize)
			continue;
		rc = block_is_hole(fs, f->fd, block);
		if (rc < 0)
			return rc;
		if ((whence == SEEK_HOLE) == (rc == 1)) {
			uint64_t at = block * BS;
			return (off_t)(at > uoff ? at : uoff);
		}
		block++;
	}
}

off_t sfs_file_lseek(struct sfs_fs *fs, struct sfs_file *f, off_t off,
		     int whence)
{
	off_t rc;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	if (!fs->encrypted) {
		rc = lseek(f->fd, off, whence);
		return rc < 0 ? -errno : rc;
	}
	pthread_rwlock_rdlock(&f->inode->content);
	rc = lseek_locked(fs, f, off, whence);
	pthread_rwlock_unlock(&f->inode->content);
	return rc;
}
