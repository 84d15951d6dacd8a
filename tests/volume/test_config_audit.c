/* test_config_audit.c - the audit { } and wipe { } settings, the audit
 * module (file sink, records, concurrency, refusals), and the records the
 * daemon writes: mount, unmount, keys, integrity failures. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mount_util.h"
#include "sfs_audit.h"
#include "sfs_config.h"
#include "sfs_crypto.h"
#include "sfs_fs.h"
#include "sfs_volume.h"
#include "util.h"

static void init(void)
{
	cr_assert_eq(sfs_crypto_init(), 0);
	sfs_mount_setup(&sfs_fx);
}

TestSuite(config_audit, .init = init, .fini = sfs_fx_fini, .timeout = 40);

static const char *write_conf(const char *name, const char *text)
{
	static char path[PATH_MAX];
	int rc;

	snprintf(path, sizeof(path), "%s", sfs_join(sfs_fx.root, name));
	rc = sfs_write_file(path, text, strlen(text));
	cr_assert_eq(rc, 0, "%s", strerror(-rc));
	return path;
}

/*
 * Settings
 */

Test(config_audit, defaults)
{
	struct sfs_config cfg;

	memset(&cfg, 0x5a, sizeof(cfg));
	sfs_config_defaults(&cfg);
	cr_assert_str_eq(cfg.audit.file, "");
	cr_assert_eq(cfg.audit.syslog, true);
	cr_assert_eq(cfg.wipe.passes, 0);
	cr_assert_eq(cfg.wipe.discard, false);
}

/* The shipped file documents the defaults and changes nothing. */
Test(config_audit, shipped_file_gives_defaults)
{
	const char *path = sfs_shipped_conf();
	struct sfs_config cfg, def;
	char err[512];
	char *text;

	sfs_config_defaults(&cfg);
	strcpy(cfg.audit.file, "/poison");
	cfg.audit.file[0] = '\0';
	cr_assert_eq(sfs_config_load(&cfg, path, err, sizeof(err)), 0, "%s",
		     err);
	sfs_config_defaults(&def);
	cr_assert_str_eq(cfg.audit.file, def.audit.file);
	cr_assert_eq(cfg.audit.syslog, def.audit.syslog);
	cr_assert_eq(cfg.wipe.passes, def.wipe.passes);
	cr_assert_eq(cfg.wipe.discard, def.wipe.discard);
	text = sfs_slurp(path);
	cr_assert(strstr(text, "audit = {") && strstr(text, "wipe = {"),
		  "the groups are not documented in %s", path);
	free(text);
}

Test(config_audit, valid_settings)
{
	struct sfs_config cfg;
	char err[512];
	const char *p = write_conf(
	    "ok.conf", "audit = { file = \"/var/log/scratchfs/audit.log\";\n"
		       "  syslog = false; };\n"
		       "wipe = { passes = 3; discard = true; };\n");

	sfs_config_defaults(&cfg);
	cr_assert_eq(sfs_config_load(&cfg, p, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(cfg.audit.file, "/var/log/scratchfs/audit.log");
	cr_assert_eq(cfg.audit.syslog, false);
	cr_assert_eq(cfg.wipe.passes, 3);
	cr_assert_eq(cfg.wipe.discard, true);

	/* Bounds are inclusive; "" turns the file off again. */
	p = write_conf("edge.conf", "audit = { file = \"\"; };\n"
				    "wipe = { passes = 16; };\n");
	cr_assert_eq(sfs_config_load(&cfg, p, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(cfg.audit.file, "");
	cr_assert_eq(cfg.wipe.passes, 16);
	p = write_conf("zero.conf", "wipe = { passes = 0; };\n");
	cr_assert_eq(sfs_config_load(&cfg, p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.wipe.passes, 0);
}

static const struct {
	const char *text;
	const char *want; /* in the message, after "FILE:LINE: " */
	int line;
} bad[] = {
    {"audit = { file = \"relative/log\"; };", "audit.file: must be", 1},
    {"audit = { file = \"/var/log/\"; };", "audit.file: must be", 1},
    {"audit = { file = 3; };", "audit.file: must be a string", 1},
    {"audit = {\n syslog = \"yes\"; };", "audit.syslog: must be a boolean", 2},
    {"audit = { syslog = 1; };", "audit.syslog: must be a boolean", 1},
    {"audit = { rotate = true; };", "audit.rotate: unknown setting", 1},
    {"audit = \"/var/log/x\";", "audit: must be a group", 1},
    {"wipe = { passes = -1; };", "wipe.passes: -1 is out of range", 1},
    {"wipe = { passes = 17; };", "wipe.passes: 17 is out of range", 1},
    {"wipe = { passes = 4294967297; };",
     "wipe.passes: 4294967297 is out of range", 1},
    {"wipe = { passes = \"3\"; };", "wipe.passes: must be an integer", 1},
    {"wipe = { passes = 1.5; };", "wipe.passes: must be an integer", 1},
    {"wipe = {\n\n discard = 1; };", "wipe.discard: must be a boolean", 3},
    {"wipe = { on_unmount = true; };", "wipe.on_unmount: unknown setting", 1},
    {"wipe = 2;", "wipe: must be a group", 1},
};
SFS_CASE_PARAMS(config_audit, invalid, bad)
ParameterizedTest(int *i, config_audit, invalid)
{
	struct sfs_config cfg, before;
	char err[1024], want[PATH_MAX + 128];
	const char *p = write_conf("bad.conf", bad[*i].text);

	sfs_config_defaults(&cfg);
	cfg.wipe.passes = 7;
	strcpy(cfg.audit.file, "/keep/me");
	before = cfg;
	cr_assert_eq(sfs_config_load(&cfg, p, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:%d: %s", p, bad[*i].line,
		 bad[*i].want);
	cr_assert(strncmp(err, want, strlen(want)) == 0, "got [%s] want [%s]",
		  err, want);
	/* A bad file changes nothing. */
	cr_assert_eq(memcmp(&cfg, &before, sizeof(cfg)), 0);
}

/*
 * The audit module
 */

static json_t *parse_line(const char *line)
{
	json_error_t je;
	json_t *j = json_loads(line, 0, &je);

	cr_assert_not_null(j, "not JSON (%s): %s", je.text, line);
	return j;
}

Test(config_audit, file_sink_records)
{
	const char *path = sfs_join(sfs_fx.root, "logs/audit.log");
	char pathcopy[PATH_MAX], err[512], *text, *nl;
	struct sfs_audit *a;
	struct stat st;
	json_t *j, *rec;
	const char *k;
	int n = 0;

	snprintf(pathcopy, sizeof(pathcopy), "%s", path);
	/* The missing directory is created (one level), 0750. */
	cr_assert_eq(
	    sfs_audit_open(&a, pathcopy, false, "tester", err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(stat(sfs_join(sfs_fx.root, "logs"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0750);
	cr_assert_eq(stat(pathcopy, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(sfs_audit_write(a, "first", json_pack("{s:i}", "x", 1)),
		     0);
	cr_assert_eq(sfs_audit_write(a, "second", NULL), 0);
	rec = sfs_audit_record(a, "third", "2000-01-01T00:00:00.000Z");
	json_object_set_new(rec, "y", json_string("z"));
	cr_assert_eq(sfs_audit_write_record(a, rec), 0);
	json_decref(rec);
	sfs_audit_close(a);

	text = sfs_slurp(pathcopy);
	for (char *line = text; *line; line = nl + 1, n++) {
		nl = strchr(line, '\n');
		cr_assert_not_null(nl, "record not newline-terminated");
		*nl = '\0';
		j = parse_line(line);
		/* The common fields come first, in this order. */
		k = json_object_iter_key(json_object_iter(j));
		cr_assert_str_eq(k, "time");
		cr_assert_str_eq(json_string_value(json_object_get(j, "prog")),
				 "tester");
		cr_assert_eq(json_integer_value(json_object_get(j, "pid")),
			     getpid());
		cr_assert(json_is_string(json_object_get(j, "host")));
		if (n == 0) {
			cr_assert_str_eq(
			    json_string_value(json_object_get(j, "event")),
			    "first");
			cr_assert_eq(
			    json_integer_value(json_object_get(j, "x")), 1);
		}
		if (n == 2) {
			cr_assert_str_eq(
			    json_string_value(json_object_get(j, "time")),
			    "2000-01-01T00:00:00.000Z");
			cr_assert_str_eq(
			    json_string_value(json_object_get(j, "y")), "z");
		}
		json_decref(j);
	}
	cr_assert_eq(n, 3);
	free(text);
}

Test(config_audit, timestamp_format)
{
	char t[32];

	sfs_audit_timestamp(t, sizeof(t));
	cr_assert_eq(strlen(t), 24, "%s", t);
	cr_assert(t[4] == '-' && t[10] == 'T' && t[19] == '.' && t[23] == 'Z',
		  "%s", t);
}

/* Many writers, one file: every line whole. */
Test(config_audit, concurrent_writers)
{
	const char *path = sfs_join(sfs_fx.root, "audit.log");
	char pathcopy[PATH_MAX], err[256], *text;
	const int procs = 4, each = 200;
	int n = 0;

	snprintf(pathcopy, sizeof(pathcopy), "%s", path);
	for (int p = 0; p < procs; p++) {
		pid_t pid = fork();

		cr_assert(pid >= 0);
		if (pid == 0) {
			struct sfs_audit *a;
			char pad[600];

			memset(pad, 'p', sizeof(pad) - 1);
			pad[sizeof(pad) - 1] = '\0';
			if (sfs_audit_open(&a, pathcopy, false, NULL, err,
					   sizeof(err)))
				_exit(1);
			for (int i = 0; i < each; i++)
				if (sfs_audit_write(a, "w",
						    json_pack("{s:i,s:s}", "i",
							      i, "pad", pad)))
					_exit(2);
			sfs_audit_close(a);
			_exit(0);
		}
	}
	for (int p = 0; p < procs; p++) {
		int st;

		cr_assert(wait(&st) > 0);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	text = sfs_slurp(pathcopy);
	for (char *line = strtok(text, "\n"); line;
	     line = strtok(NULL, "\n"), n++)
		json_decref(parse_line(line));
	cr_assert_eq(n, procs * each);
	free(text);
}

enum sink_bad { S_RELATIVE, S_SYMLINK, S_FIFO, S_DIR, S_NO_PARENT };
static const struct {
	enum sink_bad kind;
	int rc;
	const char *msg;
} sink_bad[] = {
    {S_RELATIVE, -EINVAL, "absolute"},	     {S_SYMLINK, -ELOOP, "symlink"},
    {S_FIFO, -EINVAL, "not a regular file"}, {S_DIR, -EISDIR, "Is a directory"},
    {S_NO_PARENT, -ENOENT, "No such file"},
};
SFS_CASE_PARAMS(config_audit, refused_sinks, sink_bad)
ParameterizedTest(int *i, config_audit, refused_sinks)
{
	char path[PATH_MAX], target[PATH_MAX], err[PATH_MAX + 128];
	struct sfs_audit *a = (struct sfs_audit *)&a;

	snprintf(path, sizeof(path), "%s", sfs_join(sfs_fx.root, "log"));
	snprintf(target, sizeof(target), "%s", sfs_join(sfs_fx.root, "target"));
	cr_assert_eq(sfs_write_file(target, "keep", 4), 0);
	switch (sink_bad[*i].kind) {
	case S_RELATIVE:
		snprintf(path, sizeof(path), "relative.log");
		break;
	case S_SYMLINK:
		cr_assert_eq(symlink(target, path), 0);
		break;
	case S_FIFO:
		cr_assert_eq(mkfifo(path, 0600), 0);
		break;
	case S_DIR:
		cr_assert_eq(mkdir(path, 0700), 0);
		break;
	case S_NO_PARENT:
		snprintf(path, sizeof(path), "%s",
			 sfs_join(sfs_fx.root, "a/b/log"));
		break;
	}
	cr_assert_eq(sfs_audit_open(&a, path, true, NULL, err, sizeof(err)),
		     sink_bad[*i].rc, "%s", err);
	cr_assert_null(a);
	cr_assert(strstr(err, sink_bad[*i].msg), "%s", err);
	/* The symlink's target was not written to. */
	{
		size_t len;
		char *t = sfs_read_file(target, &len);

		cr_assert_str_eq(t, "keep");
		free(t);
	}
}

/* No file, no syslog: a valid sink that drops records; NULL is a no-op. */
Test(config_audit, empty_and_null_sinks)
{
	struct sfs_audit *a;
	char err[128];

	cr_assert_eq(sfs_audit_open(&a, "", false, NULL, err, sizeof(err)), 0);
	cr_assert_not_null(a);
	cr_assert_eq(sfs_audit_write(a, "x", json_object()), 0);
	sfs_audit_close(a);
	cr_assert_eq(sfs_audit_write(NULL, "x", json_object()), 0);
	sfs_audit_close(NULL);
	/* Syslog only (no /dev/log needed to not fail). */
	cr_assert_eq(sfs_audit_open(&a, NULL, true, NULL, err, sizeof(err)), 0);
	cr_assert_eq(sfs_audit_write(a, "x", NULL), 0);
	sfs_audit_close(a);
}

Test(config_audit, integrity_goes_to_global_sink)
{
	const char *path = sfs_join(sfs_fx.root, "audit.log");
	char pathcopy[PATH_MAX], err[256], *text, *line2;
	struct sfs_audit *a;
	json_t *j;

	snprintf(pathcopy, sizeof(pathcopy), "%s", path);
	/* Without a global sink: nothing, and no crash. */
	sfs_audit_integrity(5, 6, "before");
	cr_assert_eq(
	    sfs_audit_open(&a, pathcopy, false, NULL, err, sizeof(err)), 0);
	sfs_audit_set_global(a, "00112233445566778899aabbccddeeff");
	sfs_audit_integrity(42, 7, "bad tag");
	sfs_audit_integrity(43, SFS_NO_BLOCK, "bad name");
	sfs_audit_close(a); /* also clears the global sink */
	sfs_audit_integrity(44, 1, "after");
	text = sfs_slurp(pathcopy);
	line2 = strchr(text, '\n');
	cr_assert_not_null(line2);
	*line2++ = '\0';
	j = parse_line(text);
	cr_assert_str_eq(json_string_value(json_object_get(j, "event")),
			 "integrity");
	cr_assert_str_eq(json_string_value(json_object_get(j, "volume_id")),
			 "00112233445566778899aabbccddeeff");
	cr_assert_eq(json_integer_value(json_object_get(j, "inode")), 42);
	cr_assert_eq(json_integer_value(json_object_get(j, "block")), 7);
	json_decref(j);
	cr_assert_not_null(strchr(line2, '\n'));
	*strchr(line2, '\n') = '\0';
	j = parse_line(line2);
	cr_assert_eq(json_integer_value(json_object_get(j, "inode")), 43);
	cr_assert_null(json_object_get(j, "block"));
	json_decref(j);
	cr_assert_null(
	    strstr(text + strlen(text) + 1 + strlen(line2) + 1, "after"));
	cr_assert_null(strstr(line2, "before"));
	free(text);
}

/*
 * What the daemon writes
 */

/* The records of event in the audit log, as a JSON array. */
static json_t *records(const struct sfs_mount *m, const char *event)
{
	char *text = sfs_slurp(sfs_join(m->root, "audit.log"));
	json_t *arr = json_array();

	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		json_t *j = parse_line(line);

		if (strcmp(json_string_value(json_object_get(j, "event")),
			   event) == 0)
			json_array_append(arr, j);
		json_decref(j);
	}
	free(text);
	return arr;
}

static const char *jget(json_t *arr, size_t i, const char *key)
{
	json_t *v = json_object_get(json_array_get(arr, i), key);

	cr_assert(json_is_string(v), "%s missing", key);
	return json_string_value(v);
}

Test(config_audit, daemon_mount_unmount_keys)
{
	struct sfs_mount *m = &sfs_fx;
	struct sfs_volume_header h;
	char id[33], err[256], *text;
	json_t *mounts, *keys, *unmounts, *kd;
	int fd;

	sfs_mount_write_audit_conf(m, NULL);
	sfs_mount_start(m, "hbi=1");
	cr_assert_eq(sfs_write_file(sfs_mpath(m, "SECRET_NAME_q1w2"),
				    "SECRET_DATA_e3r4", 16),
		     0);
	fd = open(m->backing, O_RDONLY | O_DIRECTORY);
	cr_assert_eq(sfs_volume_read(fd, &h, err, sizeof(err)), 0);
	close(fd);
	sfs_hex(id, h.uuid, SFS_VOLUME_UUID_BYTES);
	sfs_mount_stop(m);

	mounts = records(m, "mount");
	cr_assert_eq(json_array_size(mounts), 1);
	cr_assert_str_eq(jget(mounts, 0, "volume_id"), id);
	cr_assert_str_eq(jget(mounts, 0, "mode"), "encrypted");
	cr_assert_str_eq(jget(mounts, 0, "key_source"), "ephemeral");
	cr_assert_str_eq(jget(mounts, 0, "backing"), m->backing);
	cr_assert_str_eq(jget(mounts, 0, "mountpoint"), m->mnt);
	cr_assert_str_eq(jget(mounts, 0, "prog"), "scratchfs");
	cr_assert(strcmp(jget(mounts, 0, "cipher"), "aes256gcm") == 0 ||
		  strcmp(jget(mounts, 0, "cipher"), "xchacha20poly1305") == 0);
	cr_assert(json_is_true(
	    json_object_get(json_array_get(mounts, 0), "new_volume")));
	keys = records(m, "key_create");
	cr_assert_eq(json_array_size(keys), 1);
	cr_assert_str_eq(jget(keys, 0, "volume_id"), id);
	unmounts = records(m, "unmount");
	cr_assert_eq(json_array_size(unmounts), 1);
	cr_assert_str_eq(jget(unmounts, 0, "keys_in_memory"), "wiped");
	kd = records(m, "key_destroy");
	cr_assert_eq(json_array_size(kd), 1);
	cr_assert(strstr(jget(kd, 0, "key"), "crypto-erased"));
	/* Never a name or data from inside the volume. */
	text = sfs_slurp(sfs_join(m->root, "audit.log"));
	cr_assert_null(strstr(text, "SECRET_NAME"));
	cr_assert_null(strstr(text, "SECRET_DATA"));
	free(text);
	json_decref(mounts);
	json_decref(keys);
	json_decref(unmounts);
	json_decref(kd);
}

/* Plain volumes: no key records. A remount of a wrapped-key volume makes
 * no new key either. */
Test(config_audit, daemon_plain_and_remount)
{
	struct sfs_mount *m = &sfs_fx;
	char opts[PATH_MAX + 64];
	json_t *r;

	sfs_mount_write_audit_conf(m, NULL);
	sfs_mount_start(m, "hbi=0");
	sfs_mount_stop(m);
	r = records(m, "mount");
	cr_assert_eq(json_array_size(r), 1);
	cr_assert_str_eq(jget(r, 0, "mode"), "plain");
	cr_assert_str_eq(jget(r, 0, "cipher"), "none");
	json_decref(r);
	r = records(m, "key_create");
	cr_assert_eq(json_array_size(r), 0);
	json_decref(r);

	/* A fresh backing for the keyfile volume. */
	cr_assert_eq(mkdir(sfs_join(m->root, "b2"), 0755), 0);
	snprintf(m->backing, sizeof(m->backing), "%s", sfs_join(m->root, "b2"));
	snprintf(opts, sizeof(opts), "hbi=1,key=keyfile:%s",
		 sfs_join(m->root, "node.key"));
	sfs_mount_start(m, opts);
	sfs_mount_stop(m);
	sfs_mount_start(m, opts);
	sfs_mount_stop(m);
	r = records(m, "key_create");
	cr_assert_eq(json_array_size(r), 1, "one key for two mounts");
	cr_assert(strstr(jget(r, 0, "key"), "wrapped"));
	json_decref(r);
	r = records(m, "mount");
	cr_assert_eq(json_array_size(r), 3);
	cr_assert(
	    json_is_false(json_object_get(json_array_get(r, 2), "new_volume")));
	json_decref(r);
	/* Unmounting a wrapped-key volume destroys no key. */
	r = records(m, "key_destroy");
	cr_assert_eq(json_array_size(r), 0);
	json_decref(r);
}

/* Tampered ciphertext: EIO and an audit record with inode and block. */
Test(config_audit, daemon_integrity_record)
{
	struct sfs_mount *m = &sfs_fx;
	char opts[PATH_MAX + 64], file[PATH_MAX], buf[3 * 4096];
	struct dirent *de;
	struct stat st;
	json_t *r;
	DIR *d;
	int fd;

	sfs_mount_write_audit_conf(m, NULL);
	snprintf(opts, sizeof(opts),
		 "hbi=1,key=keyfile:%s,cipher=xchacha20poly1305",
		 sfs_join(m->root, "node.key"));
	sfs_mount_start(m, opts);
	memset(buf, 'a', sizeof(buf));
	cr_assert_eq(sfs_write_file(sfs_mpath(m, "f"), buf, sizeof(buf)), 0);
	sfs_mount_stop(m);
	/* The one data file in the backing root. */
	file[0] = '\0';
	d = opendir(m->backing);
	cr_assert_not_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			snprintf(file, sizeof(file), "%s",
				 sfs_bpath(m, de->d_name));
	closedir(d);
	cr_assert_neq(file[0], '\0');
	cr_assert_eq(stat(file, &st), 0);
	/* Flip a ciphertext byte in block 1 (a metadata page, then one page
	 * per block: see doc/FORMAT.md). */
	fd = open(file, O_RDWR);
	cr_assert(fd >= 0);
	cr_assert_eq(pread(fd, buf, 1, 2 * 4096 + 100), 1);
	buf[0] ^= 1;
	cr_assert_eq(pwrite(fd, buf, 1, 2 * 4096 + 100), 1);
	close(fd);
	sfs_mount_start(m, opts);
	fd = open(sfs_mpath(m, "f"), O_RDONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(pread(fd, buf, 4096, 4096), -1);
	cr_assert_eq(errno, EIO);
	close(fd);
	sfs_mount_stop(m);
	r = records(m, "integrity");
	cr_assert_geq(json_array_size(r), 1);
	cr_assert_eq(
	    json_integer_value(json_object_get(json_array_get(r, 0), "inode")),
	    (json_int_t)st.st_ino);
	cr_assert_eq(
	    json_integer_value(json_object_get(json_array_get(r, 0), "block")),
	    1);
	cr_assert_eq(strlen(jget(r, 0, "volume_id")), 32);
	json_decref(r);
}

/* An audit log that cannot be opened stops the mount with a message. */
Test(config_audit, daemon_refuses_bad_audit_file)
{
	struct sfs_mount *m = &sfs_fx;
	char text[PATH_MAX + 64];
	const char *args[] = {"-f", "-c", m->conf, m->backing, m->mnt, NULL};

	cr_assert_eq(mkdir(sfs_join(m->root, "adir"), 0700), 0);
	snprintf(text, sizeof(text), "audit = { file = \"%s\"; };\n",
		 sfs_join(m->root, "adir"));
	sfs_mount_write_conf(m, text);
	cr_assert_neq(sfs_mount_run_fail(m, args), 0);
	cr_assert(sfs_log_contains(m, "audit log"));
}

/* logrotate: move the file away, reopen, records go to the new file. */
Test(config_audit, reopen_after_rotation)
{
	char path[PATH_MAX], old[PATH_MAX + 8], err[256], *a_text, *b_text;
	struct sfs_audit *a;

	snprintf(path, sizeof(path), "%s", sfs_join(sfs_fx.root, "audit.log"));
	snprintf(old, sizeof(old), "%s.1", path);
	cr_assert_eq(sfs_audit_open(&a, path, false, NULL, err, sizeof(err)),
		     0);
	cr_assert_eq(sfs_audit_write(a, "before", NULL), 0);
	cr_assert_eq(rename(path, old), 0);
	cr_assert_eq(sfs_audit_reopen(a, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sfs_audit_write(a, "after", NULL), 0);
	/* A symlink planted at the name is refused; the file stays. */
	cr_assert_eq(rename(path, sfs_join(sfs_fx.root, "moved")), 0);
	cr_assert_eq(symlink(old, path), 0);
	cr_assert_eq(sfs_audit_reopen(a, err, sizeof(err)), -ELOOP);
	cr_assert(strstr(err, "symlink"), "%s", err);
	cr_assert_eq(sfs_audit_write(a, "still", NULL), 0);
	sfs_audit_close(a);
	cr_assert_eq(sfs_audit_reopen(NULL, err, sizeof(err)), 0);
	a_text = sfs_slurp(old);
	b_text = sfs_slurp(sfs_join(sfs_fx.root, "moved"));
	cr_assert(strstr(a_text, "\"before\"") && !strstr(a_text, "after"));
	cr_assert(strstr(b_text, "\"after\"") && strstr(b_text, "\"still\"") &&
		  !strstr(b_text, "before"));
	free(a_text);
	free(b_text);
}
