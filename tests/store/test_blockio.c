/* test_blockio.c - unit tests for fs/store/blockio.c: runs of stored blocks
 * read back exactly as written, through the page cache and with direct I/O,
 * from every kind of start (a group's first block or inside a group), for
 * every kind of end (inside a group, at a group's end, at or past the end
 * of the file, inside a metadata page). The block contents are random
 * bytes: blockio.c moves ciphertext and slots, it never decrypts. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "sfs_blockio.h"
#include "sfs_sys.h"
#include "util.h"

#define BS SFS_BLOCK_SIZE

struct file {
	char dir[256];
	int fd, dfd; /* dfd: -1 where the filesystem refuses O_DIRECT */
	struct sfs_layout l;
	size_t len; /* data bytes stored */
	uint8_t *data, *slots;
};

/* Creates a file of len data bytes, written through dfd (direct I/O)
 * where direct_write and the filesystem allows it. */
static void file_open(struct file *f, size_t slot_bytes, size_t len,
		      bool direct_write)
{
	char path[300];

	sfs_layout_init(&f->l, slot_bytes);
	sfs_tmpdir_make(f->dir, sizeof(f->dir), "blockio");
	snprintf(path, sizeof(path), "%s/f", f->dir);
	f->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	cr_assert_geq(f->fd, 0);
	f->dfd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	cr_assert(f->dfd >= 0 || errno == EINVAL, "O_DIRECT open: %s",
		  strerror(errno));
	f->len = len;
	f->data = aligned_alloc(SFS_PAGE_BYTES, (len + BS - 1) / BS * BS);
	f->slots = malloc((len / BS + 1) * slot_bytes);
	cr_assert(f->data && f->slots);
	randombytes_buf(f->data, len);
	randombytes_buf(f->slots, (len / BS + 1) * slot_bytes);
	/* In uneven runs, as fileio.c writes them. */
	for (size_t off = 0; off < len;) {
		size_t n = 37 * BS < len - off ? 37 * BS : len - off;

		cr_assert_eq(sfs_blocks_write(&f->l, f->fd,
					      direct_write ? f->dfd : -1,
					      off / BS, f->data + off, n,
					      f->slots + off / BS * slot_bytes),
			     0);
		off += n;
	}
}

static void file_close(struct file *f)
{
	close(f->fd);
	if (f->dfd >= 0)
		close(f->dfd);
	free(f->data);
	free(f->slots);
	sfs_tmpdir_remove(f->dir);
}

/* Reads len bytes from block first through dfd (or the page cache) and
 * checks data, slots and the count against what was written. */
static void check_read(struct file *f, int dfd, uint64_t first, size_t len)
{
	size_t room = (len / BS + 1) * BS, nb = len / BS + 1;
	size_t expect = first * BS >= f->len ? 0 : f->len - first * BS;
	uint8_t *data = sfs_thread_buf(SFS_BUF_PLAIN, room);
	uint8_t *slots = malloc(nb * f->l.slot_bytes);
	ssize_t n;

	cr_assert(data && slots);
	if (expect > len)
		expect = len;
	memset(data, 0xA5, room);
	n = sfs_blocks_read(&f->l, f->fd, dfd, first, data, len, slots);
	cr_assert_eq(n, (ssize_t)expect,
		     "first %llu len %zu dfd %d: read %zd, expected %zu",
		     (unsigned long long)first, len, dfd, n, expect);
	cr_assert(memcmp(data, f->data + first * BS, expect) == 0,
		  "first %llu len %zu dfd %d: data differs",
		  (unsigned long long)first, len, dfd);
	cr_assert(memcmp(slots, f->slots + first * f->l.slot_bytes,
			 (expect + BS - 1) / BS * f->l.slot_bytes) == 0,
		  "first %llu len %zu dfd %d: slots differ",
		  (unsigned long long)first, len, dfd);
	free(slots);
}

/* Starts and lengths around every group boundary of a file of 3.5 groups
 * whose last block is short; direct: written and also read with direct
 * I/O. */
static void sweep(size_t slot_bytes, bool direct, bool cold)
{
	struct file f;
	uint64_t k;

	sfs_layout_init(&f.l, slot_bytes);
	k = f.l.group_blocks;
	file_open(&f, slot_bytes, (size_t)(3 * k + k / 2) * BS - 1000, direct);
	if (direct && f.dfd < 0) {
		file_close(&f);
		cr_skip_test("the filesystem of /tmp refuses O_DIRECT");
	}
	const uint64_t starts[] = {0,	  1,	     k - 1, k,
				   k + 1, 2 * k - 3, 3 * k, 3 * k + k / 2 - 1};
	const size_t lens[] = {1,
			       BS,
			       BS + 1,
			       (size_t)(k - 1) * BS,
			       (size_t)k * BS,
			       (size_t)(k + 1) * BS + 7,
			       1 << 20,
			       (size_t)(4 * k) * BS};
	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++)
		for (size_t j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
			if (cold) {
				cr_assert_eq(fsync(f.fd), 0);
				cr_assert_eq(posix_fadvise(f.fd, 0, 0,
							   POSIX_FADV_DONTNEED),
					     0);
			}
			check_read(&f, -1, starts[i], lens[j]);
			if (direct)
				check_read(&f, f.dfd, starts[i], lens[j]);
		}
	file_close(&f);
}

static void setup(void)
{
	cr_assert_eq(sfs_crypto_init(), 0);
}

TestSuite(blockio, .init = setup, .timeout = 60);

Test(blockio, runs_through_the_page_cache_gcm)
{
	sweep(28, false, false);
}
Test(blockio, runs_through_the_page_cache_xchacha)
{
	sweep(40, false, false);
}
Test(blockio, direct_runs_gcm)
{
	sweep(28, true, false);
}
Test(blockio, direct_runs_xchacha)
{
	sweep(40, true, false);
}

/* Reads from a cold page cache on a thread that does not poll (/dev/fuse
 * workers): slots the page cache does not hold are read after the data
 * pages were asked for, the others at once; the same bytes either way. */
Test(blockio, cold_reads_without_polling)
{
	sweep(28, false, true);
	sweep(40, false, true);
}

/* Reads on a thread that polls the page cache before it sleeps (io_uring
 * queue threads do), from a cold page cache: the polled, partly cached and
 * direct reads must give the same bytes. */
Test(blockio, polling_reads_of_a_cold_file)
{
	sfs_read_spin(200000);
	sweep(28, false, true);
	sweep(28, true, true);
	sfs_read_spin(0);
}

/* A file that ends inside a metadata page (a torn append) reads up to the
 * end of the group before it, in both modes. */
Test(blockio, file_ending_in_slots_stops_before_them)
{
	struct file f;
	uint64_t k;

	sfs_layout_init(&f.l, 28);
	k = f.l.group_blocks;
	file_open(&f, 28, (size_t)(2 * k) * BS, false);
	cr_assert_eq(ftruncate(f.fd, (off_t)(sfs_slot_off(&f.l, k) + 10)), 0);
	f.len = (size_t)k * BS;
	check_read(&f, -1, 0, (size_t)(2 * k) * BS);
	check_read(&f, -1, k / 2, (size_t)(2 * k) * BS);
	if (f.dfd >= 0) {
		check_read(&f, f.dfd, 0, (size_t)(2 * k) * BS);
		check_read(&f, f.dfd, k / 2, (size_t)(2 * k) * BS);
	}
	file_close(&f);
}

/* A direct read sees what was just written through the page cache and
 * is still dirty there: the kernel writes it back first. */
Test(blockio, direct_read_sees_dirty_pages)
{
	struct file f;

	file_open(&f, 28, 300 * BS, false);
	if (f.dfd < 0) {
		file_close(&f);
		cr_skip_test("the filesystem of /tmp refuses O_DIRECT");
	}
	check_read(&f, f.dfd, 0, 300 * BS);
	randombytes_buf(f.data + 10 * BS, 200 * BS);
	randombytes_buf(f.slots + 10 * 28, 200 * 28);
	cr_assert_eq(sfs_blocks_write(&f.l, f.fd, -1, 10, f.data + 10 * BS,
				      200 * BS, f.slots + 10 * 28),
		     0);
	check_read(&f, f.dfd, 0, 300 * BS);
	check_read(&f, f.dfd, 150, 150 * BS);
	file_close(&f);
}

/* How many of the pages [from, to) of f's backing file are cached. */
static size_t cached_pages(struct file *f, uint64_t from, uint64_t to)
{
	return sfs_cached_pages(f->fd, (off_t)(from * BS),
				(size_t)(to - from) * BS);
}

/* Long runs go around the page cache: after them, none of their data
 * pages is cached (a buffered write would have left all of them dirty
 * there), only the metadata pages their slots went to. */
Test(blockio, long_direct_writes_leave_data_out_of_the_page_cache)
{
	struct file f;
	uint64_t k, data0, data1;

	file_open(&f, 28, 8 * 37 * BS, true);
	if (f.dfd < 0) {
		file_close(&f);
		cr_skip_test("the filesystem of /tmp refuses O_DIRECT");
	}
	k = f.l.group_blocks;
	data0 = sfs_data_off(&f.l, 0) / BS;
	data1 = sfs_data_off(&f.l, k - 1) / BS + 1;
	cr_assert_eq(cached_pages(&f, data0, data1), 0,
		     "data pages of the first group are cached");
	cr_assert_eq(cached_pages(&f, 0, 1), 1,
		     "the first metadata page is not cached");
	check_read(&f, -1, 0, f.len);
	check_read(&f, f.dfd, 0, f.len);
	file_close(&f);
}

/* A direct descriptor with a buffer that is not page aligned (or a run too
 * short to be worth it) writes through the page cache instead. */
Test(blockio, unaligned_or_short_runs_write_through_the_page_cache)
{
	struct file f;
	uint8_t *odd = malloc(64 * BS + 16);

	file_open(&f, 28, 64 * BS, false);
	if (f.dfd < 0) {
		free(odd);
		file_close(&f);
		cr_skip_test("the filesystem of /tmp refuses O_DIRECT");
	}
	cr_assert(odd);
	randombytes_buf(f.data, 64 * BS);
	memcpy(odd + 16, f.data, 64 * BS);
	cr_assert_eq(
	    sfs_blocks_write(&f.l, f.fd, f.dfd, 0, odd + 16, 64 * BS, f.slots),
	    0);
	cr_assert_eq(cached_pages(&f, 1, 65), 64);
	randombytes_buf(f.data, 8 * BS);
	cr_assert_eq(
	    sfs_blocks_write(&f.l, f.fd, f.dfd, 0, f.data, 8 * BS, f.slots), 0);
	cr_assert_eq(cached_pages(&f, 1, 9), 8);
	check_read(&f, -1, 0, f.len);
	check_read(&f, f.dfd, 0, f.len);
	free(odd);
	file_close(&f);
}

/* Backing 512-byte sectors allocated to f. */
static long allocated_sectors(struct file *f)
{
	struct stat st;

	cr_assert_eq(fstat(f->fd, &st), 0);
	return (long)st.st_blocks;
}

/* Reserving allocates whatever of a run's data pages and metadata page
 * is a hole, and leaves stored blocks as they are (they need no room). */
Test(blockio, reserve_fills_holes_and_keeps_stored_blocks)
{
	struct file f;
	off_t data = 0, meta = 0;
	long before;

	file_open(&f, 28, 600 * BS, false);
	data = (off_t)sfs_data_off(&f.l, 200);
	meta = (off_t)(sfs_slot_off(&f.l, 300) / BS * BS);
	cr_assert_eq(fsync(f.fd), 0);
	cr_assert_eq(fallocate(f.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       data, 10 * BS),
		     0);
	cr_assert_eq(fallocate(f.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       meta, BS),
		     0);

	before = allocated_sectors(&f);
	cr_assert_eq(sfs_blocks_reserve(&f.l, f.fd, 0, 144 * BS), 0);
	cr_assert_eq(allocated_sectors(&f), before, "stored blocks grew");
	cr_assert_eq(sfs_blocks_reserve(&f.l, f.fd, 200, 10 * BS), 0);
	cr_assert_geq(allocated_sectors(&f), before + 10 * BS / 512,
		      "the punched data pages are still holes");
	before = allocated_sectors(&f);
	cr_assert_eq(sfs_blocks_reserve(&f.l, f.fd, 300, BS), 0);
	cr_assert_geq(allocated_sectors(&f), before + BS / 512,
		      "the punched metadata page is still a hole");
	check_read(&f, -1, 0, 144 * BS);
	file_close(&f);
}
