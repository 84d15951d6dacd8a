/* test_keys_providers.c - every key provider end to end (mount, write,
 * unmount, remount, read back) and each provider's failures: ephemeral
 * remount, revoked or malformed keyring keys, and a provider command that
 * fails, hangs, prints the wrong thing or is unsafe to run. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <keyutils.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
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

#define DATA_LEN (200 * 1024 + 123)

/* A keyring description no other test (or a real node) uses. */
static char desc[96];
/* A key this test revoked: a revoked key cannot be found by its
 * description any more, so fini unlinks it by id. */
static key_serial_t revoked_id = -1;

static void make_desc(void)
{
	snprintf(desc, sizeof(desc), "scratchfs:test:%d:%ld", (int)getpid(),
		 (long)time(NULL));
}

static void init(void)
{
	cr_assert(sfs_crypto_init() == 0);
	make_desc();
	sfs_fx_init_setup();
}

static void fini(void)
{
	char staged[sizeof(desc) + 8];

	/* Keys outlive processes: remove ours, revoked or not. */
	if (revoked_id >= 0)
		keyctl_unlink(revoked_id, KEY_SPEC_USER_KEYRING);
	sfs_keyring_remove(desc, NULL, 0);
	snprintf(staged, sizeof(staged), "%s.new", desc);
	sfs_keyring_remove(staged, NULL, 0);
	sfs_fx_fini();
}

TestSuite(providers, .init = init, .fini = fini, .timeout = 60);

/* Writes a small and a multi-block file, unmounts; remounts with the same
 * options and checks both read back. */
static void write_unmount_remount_read(struct sfs_mount *m, const char *opts)
{
	static unsigned char data[DATA_LEN];
	unsigned char *back;
	size_t len;

	sfs_fill_pattern(data, sizeof(data), 7);
	sfs_mount_start(m, opts);
	cr_assert_eq(sfs_write_file(sfs_mpath(m, "big"), data, sizeof(data)),
		     0);
	cr_assert_eq(mkdir(sfs_mpath(m, "dir"), 0755), 0);
	cr_assert_eq(sfs_write_file(sfs_mpath(m, "dir/small"), "hello", 5), 0);
	sfs_mount_stop(m);

	sfs_mount_start(m, opts);
	back = sfs_read_file(sfs_mpath(m, "big"), &len);
	cr_assert_not_null(back, "read back: %s", strerror(errno));
	cr_assert_eq(len, sizeof(data));
	cr_assert_eq(memcmp(back, data, len), 0);
	free(back);
	back = sfs_read_file(sfs_mpath(m, "dir/small"), &len);
	cr_assert_not_null(back);
	cr_assert_eq(len, 5);
	cr_assert_eq(memcmp(back, "hello", 5), 0);
	free(back);
	sfs_mount_stop(m);
}

/* The number of entries in dir besides . and .. */
static int count_entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	cr_assert_not_null(d, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

/* nftw callback state: fail when a backing file holds the key bytes. */
static const uint8_t *needle_key;

static int scan_one(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	unsigned char *buf;
	size_t len;

	(void)ftw;
	if (flag != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	buf = sfs_read_file(path, &len);
	cr_assert_not_null(buf, "%s: %s", path, strerror(errno));
	cr_assert_null(memmem(buf, len, needle_key, SFS_KEY_BYTES),
		       "node key bytes found in %s", path);
	free(buf);
	return 0;
}

/* ---- keyfile and ephemeral ------------------------------------------ */

Test(providers, keyfile_roundtrip)
{
	char conf[PATH_MAX + 64];
	const char *key = sfs_join(sfs_fx.root, "keys/node.key");
	struct stat st;

	snprintf(conf, sizeof(conf),
		 "key_source = \"keyfile\";\nkeyfile = \"%s\";\n", key);
	sfs_mount_write_conf(&sfs_fx, conf);
	write_unmount_remount_read(&sfs_fx, "hbi=1");
	cr_assert_eq(lstat(key, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(st.st_size, SFS_KEY_BYTES);
}

Test(providers, ephemeral_remount_refused)
{
	sfs_mount_start(&sfs_fx, "hbi=1,key=ephemeral");
	cr_assert_eq(sfs_write_file(sfs_mpath(&sfs_fx, "f"), "x", 1), 0);
	sfs_mount_stop(&sfs_fx);
	sfs_mount_expect_refused(&sfs_fx, "hbi=1,key=ephemeral",
				 "ephemeral volume from a previous run");
}

/* ---- keyring ----------------------------------------------------------- */

Test(providers, keyring_roundtrip_never_on_disk)
{
	uint8_t key[SFS_KEY_BYTES + 1];
	key_serial_t id;
	long perm_len;
	char perm[128];

	sfs_mount_write_keyring_conf(&sfs_fx, desc);
	write_unmount_remount_read(&sfs_fx, "hbi=1");

	/* The key sits in root's user keyring, outliving the daemon. */
	id = keyctl_search(KEY_SPEC_USER_KEYRING, "user", desc, 0);
	cr_assert_geq(id, 0, "keyctl_search %s: %s", desc, strerror(errno));
	cr_assert_eq(keyctl_read(id, (char *)key, sizeof(key)), SFS_KEY_BYTES);
	/* Owner-only permissions: possessor and user, no group or other. */
	perm_len = keyctl_describe(id, perm, sizeof(perm));
	cr_assert_gt(perm_len, 0);
	cr_assert(strstr(perm, ";3f3f0000;"), "%s", perm);

	/* Never on disk: no backing file holds the node key. */
	needle_key = key;
	cr_assert_eq(nftw(sfs_fx.backing, scan_one, 16, FTW_PHYS), 0);
	/* -o key=keyring picks the same key. */
	sfs_mount_start(&sfs_fx, "hbi=1,key=keyring");
	sfs_mount_stop(&sfs_fx);
}

Test(providers, keyring_revoked_refuses_remount)
{
	key_serial_t id;

	sfs_mount_write_keyring_conf(&sfs_fx, desc);
	sfs_mount_start(&sfs_fx, "hbi=1");
	cr_assert_eq(sfs_write_file(sfs_mpath(&sfs_fx, "f"), "x", 1), 0);
	sfs_mount_stop(&sfs_fx);
	id = keyctl_search(KEY_SPEC_USER_KEYRING, "user", desc, 0);
	cr_assert_geq(id, 0);
	revoked_id = id;
	cr_assert_eq(keyctl_revoke(id), 0);
	sfs_mount_expect_refused(&sfs_fx, "hbi=1", "was revoked");
	/* Refusing did not quietly replace the revoked key. */
	cr_assert_lt(keyctl_search(KEY_SPEC_USER_KEYRING, "user", desc, 0), 0);
	cr_assert_eq(errno, EKEYREVOKED);
}

/* What a reboot does: the key is gone. A new one is made, and it does not
 * open the old volume. */
Test(providers, keyring_key_gone_refuses_remount)
{
	sfs_mount_write_keyring_conf(&sfs_fx, desc);
	sfs_mount_start(&sfs_fx, "hbi=1");
	sfs_mount_stop(&sfs_fx);
	cr_assert_eq(sfs_keyring_remove(desc, NULL, 0), 0);
	sfs_mount_expect_refused(&sfs_fx, "hbi=1", "does not open");
	cr_assert_geq(keyctl_search(KEY_SPEC_USER_KEYRING, "user", desc, 0), 0);
}

Test(providers, keyring_wrong_payload_refused)
{
	char want[256];

	cr_assert_geq(add_key("user", desc, "0123456789abcdef", 16,
			      KEY_SPEC_USER_KEYRING),
		      0, "add_key: %s", strerror(errno));
	sfs_mount_write_keyring_conf(&sfs_fx, desc);
	snprintf(want, sizeof(want),
		 "keyring key %s holds 16 bytes, expected 32", desc);
	sfs_mount_expect_refused(&sfs_fx, "hbi=1", want);
	/* Refused before anything was written. */
	cr_assert_eq(count_entries(sfs_fx.backing), 0);
}

/* Many mounts racing to create the node key end up sharing one key. */
Test(providers, keyring_creation_race_gives_one_key)
{
	enum { N = 8 };
	struct sfs_key_spec spec;
	int p[2];
	pid_t pids[N];
	char first[2 * SFS_KEY_ID_BYTES + 1] = "";

	sfs_key_spec_defaults(&spec);
	spec.source = SFS_KEY_KEYRING;
	strcpy(spec.keyring_desc, desc);
	cr_assert_eq(pipe(p), 0);
	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		cr_assert_geq(pids[i], 0);
		if (pids[i] == 0) {
			uint8_t *nmk = NULL, id[SFS_KEY_ID_BYTES];
			char hex[2 * SFS_KEY_ID_BYTES + 2];

			if (sfs_keys_load_nmk(&spec, &nmk, NULL, 0) != 0)
				_exit(1);
			sfs_key_id(nmk, id);
			sfs_hex(hex, id, SFS_KEY_ID_BYTES);
			hex[2 * SFS_KEY_ID_BYTES] = '\n';
			_exit(write(p[1], hex, sizeof(hex) - 1) ==
				      (ssize_t)sizeof(hex) - 1
				  ? 0
				  : 2);
		}
	}
	close(p[1]);
	for (int i = 0; i < N; i++) {
		char hex[2 * SFS_KEY_ID_BYTES + 1];
		int st;

		cr_assert_eq(read(p[0], hex, sizeof(hex)),
			     (ssize_t)sizeof(hex));
		hex[2 * SFS_KEY_ID_BYTES] = '\0';
		if (i == 0)
			strcpy(first, hex);
		cr_assert_str_eq(hex, first, "process %d got another key", i);
		cr_assert_eq(waitpid(pids[i], &st, 0), pids[i]);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	close(p[0]);
}

Test(providers, keyring_primitives)
{
	uint8_t a[SFS_KEY_BYTES], b[SFS_KEY_BYTES], *nmk = NULL;
	struct sfs_key_spec spec;
	key_serial_t id1, id2;
	char err[512] = "";

	sfs_key_spec_defaults(&spec);
	spec.source = SFS_KEY_KEYRING;
	spec.no_create = true;
	strcpy(spec.keyring_desc, desc);
	cr_assert_eq(sfs_keys_load_nmk(&spec, &nmk, err, sizeof(err)), -ENOKEY);
	cr_assert_null(nmk);
	cr_assert(strstr(err, "is not in the user keyring"), "%s", err);

	memset(a, 0xa1, sizeof(a));
	memset(b, 0xb2, sizeof(b));
	cr_assert_eq(sfs_keyring_store(desc, a, err, sizeof(err)), 0, "%s",
		     err);
	id1 = keyctl_search(KEY_SPEC_USER_KEYRING, "user", desc, 0);
	cr_assert_eq(sfs_keys_load_nmk(&spec, &nmk, err, sizeof(err)), 0);
	cr_assert_eq(memcmp(nmk, a, SFS_KEY_BYTES), 0);
	sfs_secret_free(nmk);
	/* Store again: same key object, new payload. */
	cr_assert_eq(sfs_keyring_store(desc, b, err, sizeof(err)), 0, "%s",
		     err);
	id2 = keyctl_search(KEY_SPEC_USER_KEYRING, "user", desc, 0);
	cr_assert_eq(id1, id2);
	cr_assert_eq(sfs_keys_load_nmk(&spec, &nmk, err, sizeof(err)), 0);
	cr_assert_eq(memcmp(nmk, b, SFS_KEY_BYTES), 0);
	sfs_secret_free(nmk);
	cr_assert_eq(sfs_keyring_remove(desc, err, sizeof(err)), 0);
	cr_assert_eq(sfs_keyring_remove(desc, err, sizeof(err)), -ENOKEY);
	cr_assert_eq(sfs_keyring_store("bad desc", a, err, sizeof(err)),
		     -EINVAL);
}

/* ---- command ----------------------------------------------------------- */

/* Writes an executable (0700) script at root/name; returns its path. */
static const char *script(const char *name, const char *body)
{
	const char *path = sfs_join(sfs_fx.root, name);
	char text[4096];

	snprintf(text, sizeof(text), "#!/bin/sh\n%s\n", body);
	cr_assert_eq(sfs_write_file(path, text, strlen(text)), 0);
	cr_assert_eq(chmod(path, 0700), 0);
	return path;
}

static void command_conf(struct sfs_mount *m, const char *argv_text,
			 unsigned int timeout)
{
	char conf[2 * PATH_MAX];

	snprintf(conf, sizeof(conf),
		 "key_source = \"command\";\nkey_command = [%s];\n"
		 "key_command_timeout = %u;\n",
		 argv_text, timeout);
	sfs_mount_write_conf(m, conf);
}

#define HEX_KEY                                                                \
	"00112233445566778899aabbccddeeff0123456789ABCDEFfedcba9876543210"

Test(providers, command_hex_roundtrip_with_arguments)
{
	char argv_text[512];
	/* Prints the key only when called with exactly the configured
	 * arguments (one with a space: no shell in between). */
	const char *prog =
	    script("hex.sh", "[ \"$#\" = 2 ] && [ \"$1\" = --node ] && "
			     "[ \"$2\" = \"a b\" ] || exit 9\n"
			     "echo " HEX_KEY);

	snprintf(argv_text, sizeof(argv_text), "\"%s\", \"--node\", \"a b\"",
		 prog);
	command_conf(&sfs_fx, argv_text, 10);
	write_unmount_remount_read(&sfs_fx, "hbi=1");
}

Test(providers, command_raw_roundtrip)
{
	char argv_text[PATH_MAX + 64], body[PATH_MAX + 64];
	const char *raw = sfs_join(sfs_fx.root, "raw.key");
	uint8_t key[SFS_KEY_BYTES];
	const char *prog;

	/* Raw bytes including NUL and newline. */
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 37 % 256);
	key[5] = '\n';
	cr_assert_eq(sfs_write_file(raw, key, sizeof(key)), 0);
	snprintf(body, sizeof(body), "cat '%s'", raw);
	prog = script("raw.sh", body);
	snprintf(argv_text, sizeof(argv_text), "\"%s\"", prog);
	command_conf(&sfs_fx, argv_text, 10);
	write_unmount_remount_read(&sfs_fx, "hbi=1,key=command");
}

/* Mount-level failures: a clear message, nothing written. */
Test(providers, command_failures_refuse_mount)
{
	char argv_text[PATH_MAX + 64];
	const char *prog =
	    script("fail.sh", "echo provider-says-no >&2\nexit 3");

	snprintf(argv_text, sizeof(argv_text), "\"%s\"", prog);
	command_conf(&sfs_fx, argv_text, 10);
	sfs_mount_expect_refused(&sfs_fx, "hbi=1", "failed (exit status 3)");
	/* Its stderr reaches the daemon's. */
	cr_assert(sfs_log_contains(&sfs_fx, "provider-says-no"));
	cr_assert_eq(count_entries(sfs_fx.backing), 0);

	prog = script("slow.sh", "exec sleep 30");
	snprintf(argv_text, sizeof(argv_text), "\"%s\"", prog);
	command_conf(&sfs_fx, argv_text, 1);
	sfs_mount_expect_refused(&sfs_fx, "hbi=1", "did not finish within 1 s");
	cr_assert_eq(count_entries(sfs_fx.backing), 0);

	/* A configured source without a command. */
	sfs_mount_write_conf(&sfs_fx, "");
	sfs_mount_expect_refused(&sfs_fx, "hbi=1,key=command",
				 "needs key_command");
}

/* In-process cases with their exact messages. */
struct cmd_case {
	const char *body;     /* script body; NULL: see prep */
	mode_t mode;	      /* script mode */
	unsigned int timeout; /* seconds */
	int rc;		      /* expected */
	const char *msg;      /* expected message after "key command PATH" */
};

static const struct cmd_case cmd_cases[] = {
    {"exit 3", 0700, 10, -EIO,
     " failed (exit status 3); see its messages above or in the journal"},
    {"echo " HEX_KEY "; exit 1", 0700, 10, -EIO,
     " failed (exit status 1); see its messages above or in the journal"},
    {"kill -9 $$", 0700, 10, -EIO, " was killed by signal 9"},
    {"echo abc", 0700, 10, -EINVAL,
     " printed 4 bytes; expected 32 raw bytes or 64 hex digits (and an "
     "optional newline)"},
    {"true", 0700, 10, -EINVAL,
     " printed 0 bytes; expected 32 raw bytes or 64 hex digits (and an "
     "optional newline)"},
    /* stdin is /dev/null: a provider reading it does not hang. */
    {"cat", 0700, 10, -EINVAL,
     " printed 0 bytes; expected 32 raw bytes or 64 hex digits (and an "
     "optional newline)"},
    {"head -c 33 /dev/zero", 0700, 10, -EINVAL,
     " printed 33 bytes; expected 32 raw bytes or 64 hex digits (and an "
     "optional newline)"},
    {"head -c 100000 /dev/zero", 0700, 10, -EINVAL,
     " printed more than 65 bytes; expected 32 raw bytes or 64 hex digits "
     "(and an optional newline)"},
    {"printf '%s' " HEX_KEY "x", 0700, 10, -EINVAL,
     " printed 65 bytes; expected 32 raw bytes or 64 hex digits (and an "
     "optional newline)"},
    {"echo 0g112233445566778899aabbccddeeff00112233445566778899aabbccddeef"
     "f",
     0700, 10, -EINVAL, " printed 65 bytes that are not 64 hex digits"},
    {"echo " HEX_KEY, 0720, 10, -EPERM,
     " is writable by group or others (mode 0720): chmod go-w PATH"},
    {"echo " HEX_KEY, 0702, 10, -EPERM,
     " is writable by group or others (mode 0702): chmod go-w PATH"},
    {"echo " HEX_KEY, 0600, 10, -EACCES, ": Permission denied"},
};

ParameterizedTestParameters(providers, command_case)
{
	static int idx[sizeof(cmd_cases) / sizeof(cmd_cases[0])];

	for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); i++)
		idx[i] = (int)i;
	return cr_make_param_array(int, idx, sizeof(idx) / sizeof(idx[0]));
}

/* Replaces every "PATH" in msg by path. */
static void expand(char *out, size_t cap, const char *msg, const char *path)
{
	const char *at = strstr(msg, "PATH");

	if (!at)
		snprintf(out, cap, "%s", msg);
	else
		snprintf(out, cap, "%.*s%s%s", (int)(at - msg), msg, path,
			 at + 4);
}

static int load_command(const char *const *argv, unsigned int argc,
			unsigned int timeout, char *err, size_t err_len)
{
	struct sfs_key_spec spec;
	uint8_t *nmk = (uint8_t *)1;
	char why[256];
	int rc;

	sfs_key_spec_defaults(&spec);
	spec.source = SFS_KEY_COMMAND;
	spec.command_timeout = timeout;
	cr_assert_eq(
	    sfs_key_spec_set_command(&spec, argv, argc, why, sizeof(why)), 0,
	    "%s", why);
	rc = sfs_keys_load_nmk(&spec, &nmk, err, err_len);
	if (rc == 0)
		sfs_secret_free(nmk);
	else
		cr_assert_null(nmk);
	return rc;
}

ParameterizedTest(int *ci, providers, command_case)
{
	const struct cmd_case *c = &cmd_cases[*ci];
	const char *prog = script("p.sh", c->body);
	const char *argv[] = {prog};
	char err[PATH_MAX + 512] = "", want[PATH_MAX + 512], tail[512];

	cr_assert_eq(chmod(prog, c->mode), 0);
	cr_log_info("case: %s", c->body);
	cr_assert_eq(load_command(argv, 1, c->timeout, err, sizeof(err)), c->rc,
		     "%s", err);
	expand(tail, sizeof(tail), c->msg, prog);
	snprintf(want, sizeof(want), "key command %s%s", prog, tail);
	cr_assert_str_eq(err, want);
}

Test(providers, command_accepts_hex_forms)
{
	static const char *const bodies[] = {
	    "printf '%s' " HEX_KEY,		       /* no newline */
	    "echo " HEX_KEY,			       /* newline */
	    "printf '%s\\n' " HEX_KEY " | tr A-F a-f", /* lower case */
	};
	uint8_t want[SFS_KEY_BYTES];

	for (size_t i = 0; i < SFS_KEY_BYTES; i++) {
		unsigned int v;

		cr_assert_eq(sscanf(HEX_KEY + 2 * i, "%2x", &v), 1);
		want[i] = (uint8_t)v;
	}
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		const char *prog = script("h.sh", bodies[i]);
		struct sfs_key_spec spec;
		uint8_t *nmk = NULL;
		char err[512] = "";
		const char *argv[] = {prog};

		sfs_key_spec_defaults(&spec);
		spec.source = SFS_KEY_COMMAND;
		cr_assert_eq(
		    sfs_key_spec_set_command(&spec, argv, 1, err, sizeof(err)),
		    0);
		cr_assert_eq(sfs_keys_load_nmk(&spec, &nmk, err, sizeof(err)),
			     0, "%s: %s", bodies[i], err);
		cr_assert_eq(memcmp(nmk, want, SFS_KEY_BYTES), 0, "%s",
			     bodies[i]);
		sfs_secret_free(nmk);
	}
}

/* True when pid is gone (or a zombie nobody reaped yet). */
static bool pid_dead(pid_t pid)
{
	char path[64], stat[256] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	if (!fgets(stat, sizeof(stat), f))
		stat[0] = '\0';
	fclose(f);
	/* "pid (comm) S ...": the state follows the last ')'. */
	return strstr(stat, ") Z ") != NULL;
}

/* A timeout kills the provider and whatever it started. */
Test(providers, command_timeout_kills_process_group)
{
	const char *pids = sfs_join(sfs_fx.root, "pids");
	char body[PATH_MAX + 128], err[PATH_MAX + 512] = "";
	const char *argv[1];
	struct timespec t0, t1;
	size_t len;
	char *text;
	int a = 0, b = 0;
	double secs;

	snprintf(body, sizeof(body), "sleep 60 & echo $$ $! > '%s'\nwait",
		 pids);
	argv[0] = script("hang.sh", body);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(load_command(argv, 1, 1, err, sizeof(err)), -ETIMEDOUT,
		     "%s", err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cr_assert(secs >= 0.9 && secs < 5.0, "took %.2f s", secs);
	cr_assert(strstr(err, "did not finish within 1 s; killed it"), "%s",
		  err);
	text = sfs_read_file(pids, &len);
	cr_assert_not_null(text);
	cr_assert_eq(sscanf(text, "%d %d", &a, &b), 2);
	free(text);
	for (int i = 0; i < 200 && !(pid_dead(a) && pid_dead(b)); i++)
		usleep(10000);
	cr_assert(pid_dead(a), "provider %d survived", a);
	cr_assert(pid_dead(b), "provider's child %d survived", b);
}

Test(providers, command_program_checks)
{
	char err[PATH_MAX + 512] = "", want[PATH_MAX + 512];
	const char *missing = sfs_join(sfs_fx.root, "nope.sh");
	const char *argv[1];

	argv[0] = missing;
	cr_assert_eq(load_command(argv, 1, 10, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want),
		 "key command %s: No such file or directory", missing);
	cr_assert_str_eq(err, want);

	argv[0] = sfs_fx.backing;
	cr_assert_eq(load_command(argv, 1, 10, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "key command %s is a directory",
		 sfs_fx.backing);
	cr_assert_str_eq(err, want);

	if (geteuid() == 0) {
		argv[0] = script("theirs.sh", "echo " HEX_KEY);
		cr_assert_eq(chown(argv[0], 1234, 1234), 0);
		cr_assert_eq(load_command(argv, 1, 10, err, sizeof(err)),
			     -EPERM);
		snprintf(want, sizeof(want),
			 "key command %s is owned by uid 1234, not root: chown "
			 "root %s",
			 argv[0], argv[0]);
		cr_assert_str_eq(err, want);
	}
}

/* Loading with no command configured is a config problem, not a crash. */
Test(providers, command_missing_config)
{
	struct sfs_key_spec spec;
	uint8_t *nmk = NULL;
	char err[512] = "";

	memset(&spec, 0, sizeof(spec));
	spec.source = SFS_KEY_COMMAND;
	cr_assert_eq(sfs_keys_load_nmk(&spec, &nmk, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "key source command needs key_command (the "
			      "provider program and its arguments) in the "
			      "config file");
	/* A hand-made, malformed command line is refused too. */
	spec.command_argc = 2;
	spec.command_len = 3;
	memcpy(spec.command, "/x", 3);
	cr_assert_eq(sfs_keys_load_nmk(&spec, &nmk, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "key command: malformed command line");
}

Test(providers, keyfile_no_create)
{
	struct sfs_key_spec spec;
	uint8_t *nmk = NULL;
	char err[PATH_MAX + 64] = "", want[PATH_MAX + 64];

	sfs_key_spec_defaults(&spec);
	spec.source = SFS_KEY_KEYFILE;
	spec.no_create = true;
	snprintf(spec.keyfile, sizeof(spec.keyfile), "%s",
		 sfs_join(sfs_fx.root, "none.key"));
	cr_assert_eq(sfs_keys_load_nmk(&spec, &nmk, err, sizeof(err)), -ENOKEY);
	snprintf(want, sizeof(want), "key file %s does not exist",
		 spec.keyfile);
	cr_assert_str_eq(err, want);
	cr_assert_eq(access(spec.keyfile, F_OK), -1);
}
