/* test_uring.c - the FUSE transport: io_uring when the kernel offers it
 * (fuse.enable_uring) and the configuration allows it, /dev/fuse otherwise.
 * tools/run-tests.sh runs the whole suite once per transport
 * (SFS_TEST_URING); these tests check that the daemon really uses the one
 * it should, and the paths that differ between the two. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "mount_util.h"
#include "util.h"

#define TEST_TIMEOUT 60

static struct sfs_mount mnt;

static void fini(void)
{
	sfs_mount_teardown(&mnt);
}

/* Whether the kernel offers FUSE over io_uring to new mounts. */
static bool kernel_offers_uring(void)
{
	char c = 'N';
	FILE *f = fopen("/sys/module/fuse/parameters/enable_uring", "r");

	if (f) {
		if (fread(&c, 1, 1, f) != 1)
			c = 'N';
		fclose(f);
	}
	return c == 'Y';
}

/* The daemon's status document (SFS_STATUS_XATTR of the mount root). */
static json_t *status_of(const struct sfs_mount *m)
{
	char buf[1024];
	ssize_t n = getxattr(m->mnt, "scratchfs.status", buf, sizeof(buf) - 1);
	json_error_t e;
	json_t *doc;

	cr_assert_gt(n, 0, "status: %s", strerror(errno));
	buf[n] = '\0';
	doc = json_loads(buf, 0, &e);
	cr_assert_not_null(doc, "status is not JSON: %s", buf);
	return doc;
}

static void expect_transport(const struct sfs_mount *m, bool uring)
{
	json_t *doc = status_of(m);
	json_t *t = json_object_get(doc, "transport");
	json_t *n = json_object_get(doc, "uring_requests");

	cr_assert(json_is_string(t) && json_is_integer(n), "status fields");
	cr_assert_str_eq(json_string_value(t), uring ? "io_uring" : "dev_fuse");
	if (uring)
		/* The workload below alone sends more than 100 requests. */
		cr_assert_gt(json_integer_value(n), 100,
			     "%lld requests over io_uring",
			     (long long)json_integer_value(n));
	else
		cr_assert_eq(json_integer_value(n), 0);
	json_decref(doc);
}

/* Creates, writes, reads back, lists and removes 40 files of assorted
 * sizes (up to 3 MiB: several full-sized READ and WRITE requests). */
static void workload(const struct sfs_mount *m)
{
	char rel[32];

	for (int i = 0; i < 40; i++) {
		size_t len = (size_t)i * 77777 + (size_t)i;
		uint8_t *want = malloc(len + 1), *got;
		size_t n;

		cr_assert_not_null(want);
		sfs_fill_pattern(want, len, (unsigned)i);
		snprintf(rel, sizeof(rel), "f%d", i);
		cr_assert_eq(sfs_write_file(sfs_mpath(m, rel), want, len), 0);
		/* Cold: the reads must come from the daemon. */
		cr_assert_eq(
		    sfs_write_file("/proc/sys/vm/drop_caches", "3\n", 2), 0);
		got = sfs_read_file(sfs_mpath(m, rel), &n);
		cr_assert_not_null(got, "%s: %s", rel, strerror(errno));
		cr_assert_eq(n, len);
		cr_assert(memcmp(got, want, len) == 0, "%s differs", rel);
		free(got);
		free(want);
	}
	cr_assert_eq(sfs_dir_entries(m->mnt), 40);
	for (int i = 0; i < 40; i++) {
		snprintf(rel, sizeof(rel), "f%d", i);
		cr_assert_eq(unlink(sfs_mpath(m, rel)), 0);
	}
}

static void transport_test(const char *conf, const char *opts, bool uring)
{
	sfs_mount_setup(&mnt);
	sfs_mount_write_conf(&mnt, conf);
	sfs_mount_start(&mnt, opts);
	workload(&mnt);
	expect_transport(&mnt, uring);
	sfs_mount_stop(&mnt);
}

Test(uring, hbi_uses_the_ring_when_the_kernel_offers_it, .fini = fini,
     .timeout = TEST_TIMEOUT)
{
	transport_test("", "hbi=1", kernel_offers_uring());
}

/* Plain mode answers /dev/fuse reads by splicing; a ring reply is read
 * into the ring buffer instead. */
Test(uring, plain_uses_the_ring_when_the_kernel_offers_it, .fini = fini,
     .timeout = TEST_TIMEOUT)
{
	transport_test("", "hbi=0", kernel_offers_uring());
}

Test(uring, io_uring_false_keeps_dev_fuse, .fini = fini,
     .timeout = TEST_TIMEOUT)
{
	transport_test("fuse = { io_uring = false; };\n", "hbi=1", false);
}

/* How many of the daemon's threads called name wait pinned to CPU cpu
 * alone. */
static int threads_on(pid_t pid, const char *name, int cpu)
{
	char path[320], want[16], line[256];
	int n = 0;
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	snprintf(want, sizeof(want), "%d", cpu);
	d = opendir(path);
	cr_assert_not_null(d);
	while ((de = readdir(d))) {
		char comm[32] = "", cpus[64] = "";
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/status",
			 (int)pid, de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			sscanf(line, "Name: %31s", comm);
			sscanf(line, "Cpus_allowed_list: %63s", cpus);
		}
		fclose(f);
		n += strcmp(comm, name) == 0 && strcmp(cpus, want) == 0;
	}
	closedir(d);
	return n;
}

static void pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	cr_assert_eq(sched_setaffinity(0, sizeof(set), &set), 0);
}

/* Skips the test where the kernel does not offer io_uring (or, with
 * two_cpus, on one CPU); else mounts with opts and returns len bytes of
 * pattern seed for the test to write. */
static uint8_t *start_bulk_test(const char *opts, size_t len, unsigned seed,
				bool two_cpus)
{
	uint8_t *data;

	if (!kernel_offers_uring() || (two_cpus && get_nprocs() < 2))
		cr_skip_test("needs FUSE over io_uring%s",
			     two_cpus ? " and two CPUs" : "");
	data = malloc(len);
	cr_assert_not_null(data);
	sfs_fill_pattern(data, len, seed);
	sfs_mount_setup(&mnt);
	sfs_mount_start(&mnt, opts);
	return data;
}

/* A streaming read on CPU 0 queues all its readahead on CPU 0's queue:
 * some of that queue's threads must move to CPU 1 to take a share. */
Test(uring, bulk_reads_spread_to_the_next_cpu, .fini = fini,
     .timeout = TEST_TIMEOUT)
{
	const size_t len = 32 << 20;
	uint8_t *data = start_bulk_test("hbi=1", len, 5, true), *got;
	size_t n;

	cr_assert_eq(sfs_write_file(sfs_mpath(&mnt, "big"), data, len), 0);
	cr_assert_eq(sfs_write_file("/proc/sys/vm/drop_caches", "3\n", 2), 0);
	pin_self(0);
	got = sfs_read_file(sfs_mpath(&mnt, "big"), &n);
	cr_assert_not_null(got);
	cr_assert(n == len && memcmp(got, data, len) == 0, "big differs");
	cr_assert_gt(threads_on(mnt.pid, "sfs-uring-q0", 1), 0,
		     "no queue-0 thread waits on CPU 1 after a streaming read");
	free(got);
	free(data);
	sfs_mount_stop(&mnt);
}

/* Plain mode: the kernel's 1 MiB writeback WRITEs arrive page aligned in
 * the ring buffer and go around the backing page cache, as encrypted
 * blocks do; the bytes land exactly as written. */
Test(uring, plain_bulk_writes_go_around_the_backing_page_cache, .fini = fini,
     .timeout = TEST_TIMEOUT)
{
	const size_t len = 8 << 20;
	uint8_t *data = start_bulk_test("hbi=0", len, 9, false), *got;
	size_t n;
	int fd;

	fd = open(sfs_mpath(&mnt, "big"), O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	for (size_t off = 0; off < len; off += 1 << 20)
		cr_assert_eq(write(fd, data + off, 1 << 20), 1 << 20);
	cr_assert_eq(fsync(fd), 0);
	cr_assert_eq(close(fd), 0);
	fd = open(sfs_bpath(&mnt, "big"), O_RDONLY);
	cr_assert_geq(fd, 0);
	/* A page or two may be touched by reads of the kernel or ours. */
	cr_assert_lt(sfs_cached_pages(fd, 0, len), 16,
		     "%zu of %zu backing pages cached",
		     sfs_cached_pages(fd, 0, len), len / 4096);
	close(fd);
	got = sfs_read_file(sfs_bpath(&mnt, "big"), &n);
	cr_assert(got && n == len && memcmp(got, data, len) == 0,
		  "the backing file differs from what was written");
	free(got);
	free(data);
	sfs_mount_stop(&mnt);
}
