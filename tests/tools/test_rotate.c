/* test_rotate.c - scratchfs-ctl key rotate and key show: re-wrapping the
 * volume key under a new node key while unmounted, for key files and the
 * kernel keyring; data reads back, the old key is refused, nothing but the
 * header changes, an interrupted rotation finishes on the next run, and
 * what cannot be rotated is refused. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <keyutils.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mount_util.h"
#include "sfs_keys.h"
#include "sfs_volume.h"

#define CTL SFS_BUILD_DIR "/scratchfs-ctl"
#define OUT_MAX 8192
#define DATA_LEN (64 * 1024 + 5)

static char desc[96];

static void init(void)
{
	cr_assert(sfs_crypto_init() == 0);
	snprintf(desc, sizeof(desc), "scratchfs:test-rot:%d:%ld", (int)getpid(),
		 (long)time(NULL));
	sfs_fx_init_setup();
}

static void fini(void)
{
	char staged[sizeof(desc) + 8];

	sfs_keyring_remove(desc, NULL, 0);
	snprintf(staged, sizeof(staged), "%s.new", desc);
	sfs_keyring_remove(staged, NULL, 0);
	snprintf(staged, sizeof(staged), "%s.old", desc);
	sfs_keyring_remove(staged, NULL, 0);
	sfs_fx_fini();
}

TestSuite(rotate, .init = init, .fini = fini, .timeout = 60);

/* Runs scratchfs-ctl with args (NULL-terminated, after the program name);
 * its stdout and stderr go to out. Returns its exit status. */
static int ctl(char out[OUT_MAX], const char *const args[])
{
	const char *log = sfs_join(sfs_fx.root, "ctl.out");
	const char *argv[24] = {CTL};
	size_t n, len = 0;
	char *text;
	pid_t pid;
	int st;

	for (n = 0; args[n]; n++) {
		cr_assert_lt(n + 2, sizeof(argv) / sizeof(argv[0]));
		argv[n + 1] = args[n];
	}
	argv[n + 1] = NULL;
	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd < 0)
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(CTL, (char *const *)argv);
		_exit(127);
	}
	for (int i = 0;; i++) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			break;
		cr_assert_geq(r, 0);
		if (i == 3000) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			cr_assert_fail("scratchfs-ctl hangs");
		}
		usleep(10000);
	}
	text = sfs_read_file(log, &len);
	cr_assert_not_null(text);
	snprintf(out, OUT_MAX, "%s", text);
	free(text);
	cr_assert(WIFEXITED(st), "scratchfs-ctl died: %s", out);
	cr_assert_neq(WEXITSTATUS(st), 127, "cannot run %s: %s", CTL, out);
	return WEXITSTATUS(st);
}

#define CTL_OK(out, ...)                                                       \
	do {                                                                   \
		const char *const a_[] = {__VA_ARGS__, NULL};                  \
		int st_ = ctl(out, a_);                                        \
		cr_assert_eq(st_, 0, "exit %d: %s", st_, out);                 \
	} while (0)

#define CTL_FAILS(out, want_st, needle, ...)                                   \
	do {                                                                   \
		const char *const a_[] = {__VA_ARGS__, NULL};                  \
		int st_ = ctl(out, a_);                                        \
		cr_assert_eq(st_, want_st, "exit %d: %s", st_, out);           \
		cr_assert(strstr(out, needle), "no \"%s\" in: %s", needle,     \
			  out);                                                \
	} while (0)

static void keyfile_conf(struct sfs_mount *m, const char *key)
{
	char conf[PATH_MAX + 64];

	snprintf(conf, sizeof(conf),
		 "key_source = \"keyfile\";\nkeyfile = \"%s\";\n", key);
	sfs_mount_write_conf(m, conf);
}

static unsigned char data[DATA_LEN];

static void make_volume(struct sfs_mount *m, const char *opts)
{
	sfs_fill_pattern(data, sizeof(data), 3);
	sfs_mount_start(m, opts);
	cr_assert_eq(sfs_write_file(sfs_mpath(m, "data"), data, sizeof(data)),
		     0);
	cr_assert_eq(symlink("target", sfs_mpath(m, "link")), 0);
	sfs_mount_stop(m);
}

static void check_data(struct sfs_mount *m, const char *opts)
{
	unsigned char *back;
	char target[16] = "";
	size_t len;

	sfs_mount_start(m, opts);
	back = sfs_read_file(sfs_mpath(m, "data"), &len);
	cr_assert_not_null(back, "read: %s", strerror(errno));
	cr_assert_eq(len, sizeof(data));
	cr_assert_eq(memcmp(back, data, len), 0);
	free(back);
	cr_assert_eq(readlink(sfs_mpath(m, "link"), target, sizeof(target)), 6);
	cr_assert_eq(memcmp(target, "target", 6), 0);
	sfs_mount_stop(m);
}

static void read_header(const struct sfs_mount *m, struct sfs_volume_header *h)
{
	char err[512];
	int fd = open(m->backing, O_RDONLY | O_DIRECTORY);

	cr_assert_geq(fd, 0);
	cr_assert_eq(sfs_volume_read(fd, h, err, sizeof(err)), 0, "%s", err);
	close(fd);
}

static void key_id_hex(const struct sfs_volume_header *h, char *out)
{
	sfs_hex(out, h->key_id, SFS_KEY_ID_BYTES);
}

/* A digest of every backing file except the volume header, so a test can
 * check that rotation rewrote nothing else (O(1), no re-encryption). */
static uint8_t tree_digest[32];

static int digest_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	uint8_t h[32], both[64];
	unsigned char *buf;
	size_t len;

	(void)ftw;
	if (flag != FTW_F || !S_ISREG(st->st_mode) ||
	    strstr(path, "/.scratchfs/"))
		return 0;
	buf = sfs_read_file(path, &len);
	cr_assert_not_null(buf);
	sfs_hash256(h, buf, len);
	free(buf);
	/* Order-independent: XOR of per-file hashes of (name, content). */
	memcpy(both, h, 32);
	sfs_hash256(both + 32, path, strlen(path));
	sfs_hash256(h, both, sizeof(both));
	for (int i = 0; i < 32; i++)
		tree_digest[i] ^= h[i];
	return 0;
}

static void digest_backing(const struct sfs_mount *m, uint8_t out[32])
{
	memset(tree_digest, 0, sizeof(tree_digest));
	cr_assert_eq(nftw(m->backing, digest_one, 16, FTW_PHYS), 0);
	memcpy(out, tree_digest, 32);
}

static void read_key_file(const char *path, uint8_t key[SFS_KEY_BYTES])
{
	size_t len;
	unsigned char *b = sfs_read_file(path, &len);

	cr_assert_not_null(b, "%s: %s", path, strerror(errno));
	cr_assert_eq(len, SFS_KEY_BYTES);
	memcpy(key, b, SFS_KEY_BYTES);
	free(b);
}

static void write_key_file(const char *path, const uint8_t *key)
{
	cr_assert_eq(sfs_write_file(path, key, SFS_KEY_BYTES), 0);
	cr_assert_eq(chmod(path, 0600), 0);
}

Test(rotate, keyfile_in_place)
{
	const char *key = sfs_join(sfs_fx.root, "keys/node.key");
	const char *old = sfs_join(sfs_fx.root, "old.key");
	uint8_t old_key[SFS_KEY_BYTES], new_key[SFS_KEY_BYTES];
	uint8_t before[32], after[32];
	struct sfs_volume_header h0, h1;
	char out[OUT_MAX], id0[40], id1[40], opt[PATH_MAX + 32];
	struct stat st;

	keyfile_conf(&sfs_fx, key);
	make_volume(&sfs_fx, "hbi=1");
	read_key_file(key, old_key);
	read_header(&sfs_fx, &h0);
	digest_backing(&sfs_fx, before);

	CTL_OK(out, "key", "rotate", "-c", sfs_fx.conf, sfs_fx.backing);
	read_header(&sfs_fx, &h1);
	key_id_hex(&h0, id0);
	key_id_hex(&h1, id1);
	cr_assert_str_neq(id0, id1);
	cr_assert(strstr(out, id1), "new key id not reported: %s", out);
	cr_assert(strstr(out, "re-wrapped under key file"), "%s", out);
	/* Same volume, same cipher; only the keyslot changed. */
	cr_assert_eq(memcmp(h0.uuid, h1.uuid, sizeof(h0.uuid)), 0);
	cr_assert_eq(h0.aead, h1.aead);
	cr_assert_eq(h1.key_source, SFS_KEY_KEYFILE);
	digest_backing(&sfs_fx, after);
	cr_assert_eq(memcmp(before, after, 32), 0, "data was rewritten");

	/* The key file has new bytes, stays private, no staging left. */
	read_key_file(key, new_key);
	cr_assert_neq(memcmp(old_key, new_key, SFS_KEY_BYTES), 0);
	cr_assert_eq(stat(key, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(access(sfs_join(sfs_fx.root, "keys/node.key.new"), F_OK),
		     -1);

	check_data(&sfs_fx, "hbi=1");
	write_key_file(old, old_key);
	snprintf(opt, sizeof(opt), "hbi=1,key=keyfile:%s", old);
	sfs_mount_expect_refused(&sfs_fx, opt, "does not open");
	/* And again: a second rotation works from the new key. */
	CTL_OK(out, "key", "rotate", "-c", sfs_fx.conf, sfs_fx.backing);
	check_data(&sfs_fx, "hbi=1");
}

Test(rotate, keyring_in_place)
{
	char out[OUT_MAX], old_desc[sizeof(desc) + 8], staged[sizeof(desc) + 8];
	uint8_t old_key[SFS_KEY_BYTES], new_key[SFS_KEY_BYTES];
	uint8_t before[32], after[32];
	key_serial_t id;

	sfs_mount_write_keyring_conf(&sfs_fx, desc);
	make_volume(&sfs_fx, "hbi=1");
	id = keyctl_search(KEY_SPEC_USER_KEYRING, "user", desc, 0);
	cr_assert_geq(id, 0);
	cr_assert_eq(keyctl_read(id, (char *)old_key, SFS_KEY_BYTES),
		     SFS_KEY_BYTES);
	digest_backing(&sfs_fx, before);

	CTL_OK(out, "key", "rotate", "-c", sfs_fx.conf, sfs_fx.backing);
	cr_assert(strstr(out, "re-wrapped under keyring key"), "%s", out);
	digest_backing(&sfs_fx, after);
	cr_assert_eq(memcmp(before, after, 32), 0, "data was rewritten");
	/* Same key object, new payload; no staging key left. */
	cr_assert_eq(keyctl_search(KEY_SPEC_USER_KEYRING, "user", desc, 0), id);
	cr_assert_eq(keyctl_read(id, (char *)new_key, SFS_KEY_BYTES),
		     SFS_KEY_BYTES);
	cr_assert_neq(memcmp(old_key, new_key, SFS_KEY_BYTES), 0);
	snprintf(staged, sizeof(staged), "%s.new", desc);
	cr_assert_lt(keyctl_search(KEY_SPEC_USER_KEYRING, "user", staged, 0),
		     0);

	check_data(&sfs_fx, "hbi=1");
	/* The old key, put back under another name, is refused. */
	snprintf(old_desc, sizeof(old_desc), "%s.old", desc);
	cr_assert_eq(sfs_keyring_store(old_desc, old_key, NULL, 0), 0);
	sfs_mount_write_keyring_conf(&sfs_fx, old_desc);
	sfs_mount_expect_refused(&sfs_fx, "hbi=1", "does not open");
}

/* --new-keyfile moves a volume to another node key (here from the keyring
 * to a key file); the config is left alone. */
Test(rotate, new_keyfile_moves_source)
{
	const char *moved = sfs_join(sfs_fx.root, "moved.key");
	char out[OUT_MAX], opt[PATH_MAX + 32];
	struct sfs_volume_header h;
	struct stat st;

	sfs_mount_write_keyring_conf(&sfs_fx, desc);
	make_volume(&sfs_fx, "hbi=1");
	CTL_OK(out, "key", "rotate", "-c", sfs_fx.conf, "--new-keyfile", moved,
	       sfs_fx.backing);
	cr_assert(strstr(out, "key=keyfile:"), "no hint: %s", out);
	cr_assert_eq(stat(moved, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600);
	read_header(&sfs_fx, &h);
	cr_assert_eq(h.key_source, SFS_KEY_KEYFILE);
	snprintf(opt, sizeof(opt), "hbi=1,key=keyfile:%s", moved);
	check_data(&sfs_fx, opt);
	sfs_mount_expect_refused(&sfs_fx, "hbi=1",
				 "was created with key=keyfile");
	/* Moving it to the key it already has changes nothing: refused. */
	CTL_OK(out, "key", "rotate", "-c", sfs_fx.conf, "-o", opt + 6,
	       "--new-keyfile", moved, sfs_fx.backing);
	cr_assert(strstr(out, "already under this key"), "%s", out);
}

/* Every volume sharing the node key is re-wrapped before the key changes. */
Test(rotate, two_volumes_one_key)
{
	const char *key = sfs_join(sfs_fx.root, "node.key");
	struct sfs_mount m2;
	char out[OUT_MAX], conf[PATH_MAX + 64];

	keyfile_conf(&sfs_fx, key);
	make_volume(&sfs_fx, "hbi=1");
	sfs_mount_setup(&m2);
	snprintf(conf, sizeof(conf),
		 "key_source = \"keyfile\";\nkeyfile = \"%s\";\n", key);
	sfs_mount_write_conf(&m2, conf);
	make_volume(&m2, "hbi=1");
	CTL_OK(out, "key", "rotate", "-c", sfs_fx.conf, sfs_fx.backing,
	       m2.backing);
	check_data(&sfs_fx, "hbi=1");
	check_data(&m2, "hbi=1");
	/* Naming one twice is refused. */
	CTL_FAILS(out, 2, "named twice", "key", "rotate", "-c", sfs_fx.conf,
		  sfs_fx.backing, m2.backing, sfs_fx.backing);
	sfs_mount_teardown(&m2);
}

/* A crash after the headers were re-wrapped but before the key file was
 * replaced: the next run finishes the job. */
Test(rotate, interrupted_rotation_resumes)
{
	const char *key = sfs_join(sfs_fx.root, "node.key");
	const char *staged = sfs_join(sfs_fx.root, "node.key.new");
	struct sfs_volume_header h;
	struct sfs_key_spec spec;
	uint8_t *old_nmk = NULL, new_key[SFS_KEY_BYTES], vk[SFS_KEY_BYTES];
	uint8_t after[SFS_KEY_BYTES];
	char out[OUT_MAX], err[512];
	int fd;

	keyfile_conf(&sfs_fx, key);
	make_volume(&sfs_fx, "hbi=1");
	/* Do steps 1 and 2 of a rotation by hand. */
	sfs_key_spec_defaults(&spec);
	spec.source = SFS_KEY_KEYFILE;
	strcpy(spec.keyfile, key);
	cr_assert_eq(sfs_keys_load_nmk(&spec, &old_nmk, err, sizeof(err)), 0);
	sfs_random(new_key, sizeof(new_key));
	cr_assert_eq(sfs_keyfile_create(staged, new_key, err, sizeof(err)), 0);
	read_header(&sfs_fx, &h);
	cr_assert_eq(sfs_volume_unwrap_key(&h, old_nmk, vk, err, sizeof(err)),
		     0);
	cr_assert_eq(sfs_volume_wrap_key(&h, new_key, vk), 0);
	fd = open(sfs_fx.backing, O_RDONLY | O_DIRECTORY);
	cr_assert_eq(sfs_volume_write(fd, &h, err, sizeof(err)), 0);
	close(fd);
	sfs_secret_free(old_nmk);
	/* The old key no longer opens it; the rotation must be finished. */
	sfs_mount_expect_refused(&sfs_fx, "hbi=1", "does not open");

	CTL_OK(out, "key", "rotate", "-c", sfs_fx.conf, sfs_fx.backing);
	cr_assert(strstr(out, "finished an interrupted rotation"), "%s", out);
	cr_assert(strstr(out, "already done by an interrupted run"), "%s", out);
	read_key_file(key, after);
	cr_assert_eq(memcmp(after, new_key, SFS_KEY_BYTES), 0);
	cr_assert_eq(access(staged, F_OK), -1);
	check_data(&sfs_fx, "hbi=1");
}

/* A wrong configured key: refused before anything changes. */
Test(rotate, wrong_key_changes_nothing)
{
	const char *key = sfs_join(sfs_fx.root, "node.key");
	const char *other = sfs_join(sfs_fx.root, "other.key");
	uint8_t k[SFS_KEY_BYTES], hdr0[32], hdr1[32];
	char out[OUT_MAX], opt[PATH_MAX + 32];
	unsigned char *b;
	size_t len;

	keyfile_conf(&sfs_fx, key);
	make_volume(&sfs_fx, "hbi=1");
	sfs_random(k, sizeof(k));
	write_key_file(other, k);
	b = sfs_read_file(sfs_bpath(&sfs_fx, ".scratchfs/volume"), &len);
	cr_assert_not_null(b);
	sfs_hash256(hdr0, b, len);
	free(b);
	snprintf(opt, sizeof(opt), "key=keyfile:%s", other);
	CTL_FAILS(out, 2, "nothing was changed", "key", "rotate", "-c",
		  sfs_fx.conf, "-o", opt, sfs_fx.backing);
	cr_assert(strstr(out, "does not open"), "%s", out);
	b = sfs_read_file(sfs_bpath(&sfs_fx, ".scratchfs/volume"), &len);
	cr_assert_not_null(b);
	sfs_hash256(hdr1, b, len);
	free(b);
	cr_assert_eq(memcmp(hdr0, hdr1, 32), 0);
	cr_assert_eq(access(sfs_join(sfs_fx.root, "other.key.new"), F_OK), -1);
	check_data(&sfs_fx, "hbi=1");
}

Test(rotate, refusals)
{
	const char *key = sfs_join(sfs_fx.root, "node.key");
	char out[OUT_MAX], conf[PATH_MAX + 64];
	struct sfs_mount m2;

	keyfile_conf(&sfs_fx, key);
	make_volume(&sfs_fx, "hbi=1");

	/* Mounted: refused, by backing directory or by mount point. */
	sfs_mount_start(&sfs_fx, "hbi=1");
	CTL_FAILS(out, 2, "is mounted at", "key", "rotate", "-c", sfs_fx.conf,
		  sfs_fx.backing);
	CTL_FAILS(out, 2, "is a scratchfs mount point", "key", "rotate", "-c",
		  sfs_fx.conf, sfs_fx.mnt);
	sfs_mount_stop(&sfs_fx);

	/* Not a volume. */
	CTL_FAILS(out, 2, "no volume header", "key", "rotate", "-c",
		  sfs_fx.conf, sfs_fx.ref);

	/* Ephemeral, plain and command volumes. */
	sfs_mount_setup(&m2);
	make_volume(&m2, "hbi=1,key=ephemeral");
	CTL_FAILS(out, 2, "is an ephemeral volume", "key", "rotate", "-c",
		  m2.conf, m2.backing);
	sfs_mount_teardown(&m2);

	sfs_mount_setup(&m2);
	make_volume(&m2, "hbi=0");
	CTL_FAILS(out, 2, "plain (hbi=0) volume", "key", "rotate", "-c",
		  m2.conf, m2.backing);
	/* Volumes of different sources are not mixed in one rotation. */
	sfs_mount_teardown(&m2);

	sfs_mount_setup(&m2);
	snprintf(conf, sizeof(conf),
		 "key_source = \"command\";\nkey_command = [\"/bin/sh\", "
		 "\"-c\", \"cat '%s'\"];\n",
		 key);
	sfs_mount_write_conf(&m2, conf);
	make_volume(&m2, "hbi=1");
	CTL_FAILS(out, 2, "belongs to the provider program", "key", "rotate",
		  "-c", m2.conf, m2.backing);
	CTL_FAILS(out, 2, "uses key source command, the first volume keyfile",
		  "key", "rotate", "-c", sfs_fx.conf, sfs_fx.backing,
		  m2.backing);
	/* ... but --new-keyfile moves it to a key file. */
	CTL_OK(out, "key", "rotate", "-c", m2.conf, "--new-keyfile",
	       sfs_join(m2.root, "k"), m2.backing);
	sfs_mount_teardown(&m2);

	/* -o key= naming another source than the volume's. */
	CTL_FAILS(out, 2, "uses key source keyfile, not keyring", "key",
		  "rotate", "-c", sfs_fx.conf, "-o", "key=keyring",
		  sfs_fx.backing);
	CTL_FAILS(out, 2, "must be an absolute path", "key", "rotate", "-c",
		  sfs_fx.conf, "--new-keyfile", "rel.key", sfs_fx.backing);
	check_data(&sfs_fx, "hbi=1");
}

Test(rotate, usage_errors)
{
	char out[OUT_MAX];

	CTL_FAILS(out, 2, "missing subcommand", "key");
	CTL_FAILS(out, 2, "unknown subcommand 'spin'", "key", "spin");
	CTL_FAILS(out, 2, "missing BACKING", "key", "rotate");
	CTL_FAILS(out, 2, "one BACKING only", "key", "show", "a", "b");
	CTL_FAILS(out, 2, "--new-keyfile is for rotate", "key", "show",
		  "--new-keyfile", "/x", "a");
	CTL_FAILS(out, 2, "not a scratchfs option", "key", "show", "-o", "ro",
		  "a");
	CTL_OK(out, "key", "help");
	cr_assert(strstr(out, "key rotate"), "%s", out);
}

Test(rotate, key_show)
{
	const char *key = sfs_join(sfs_fx.root, "node.key");
	const char *other = sfs_join(sfs_fx.root, "other.key");
	char out[OUT_MAX], id[40], hex[2 * SFS_KEY_BYTES + 1], opt[PATH_MAX];
	uint8_t k[SFS_KEY_BYTES];
	struct sfs_volume_header h;
	struct sfs_mount m2;

	keyfile_conf(&sfs_fx, key);
	make_volume(&sfs_fx, "hbi=1");
	read_header(&sfs_fx, &h);
	key_id_hex(&h, id);
	CTL_OK(out, "key", "show", "-c", sfs_fx.conf, sfs_fx.backing);
	cr_assert(strstr(out, "key source:  keyfile\n"), "%s", out);
	cr_assert(strstr(out, id), "%s", out);
	cr_assert(strstr(out, "opens this volume"), "%s", out);
	cr_assert(strstr(out, "mounted:     no\n"), "%s", out);
	/* Never the key bytes. */
	read_key_file(key, k);
	sfs_hex(hex, k, SFS_KEY_BYTES);
	cr_assert_null(strstr(out, hex));
	cr_assert_null(memmem(out, strlen(out), k, 8));

	/* The wrong key: exit 1. A missing one: exit 1, and not created. */
	sfs_random(k, sizeof(k));
	write_key_file(other, k);
	snprintf(opt, sizeof(opt), "key=keyfile:%s", other);
	CTL_FAILS(out, 1, "does NOT open", "key", "show", "-c", sfs_fx.conf,
		  "-o", opt, sfs_fx.backing);
	snprintf(opt, sizeof(opt), "key=keyfile:%s",
		 sfs_join(sfs_fx.root, "missing.key"));
	CTL_FAILS(out, 1, "does not exist", "key", "show", "-c", sfs_fx.conf,
		  "-o", opt, sfs_fx.backing);
	cr_assert_eq(access(sfs_join(sfs_fx.root, "missing.key"), F_OK), -1);

	/* Mounted is shown. */
	sfs_mount_start(&sfs_fx, "hbi=1");
	CTL_OK(out, "key", "show", "-c", sfs_fx.conf, sfs_fx.backing);
	cr_assert(strstr(out, sfs_fx.mnt), "%s", out);
	sfs_mount_stop(&sfs_fx);

	sfs_mount_setup(&m2);
	make_volume(&m2, "hbi=1,key=ephemeral");
	CTL_OK(out, "key", "show", "-c", m2.conf, m2.backing);
	cr_assert(strstr(out, "key source:  ephemeral"), "%s", out);
	cr_assert(strstr(out, "key id:      none"), "%s", out);
	sfs_mount_teardown(&m2);
}
