/* test_reader.c - tools/reader/scratchfs-reader.py, the second reader of
 * the format written from doc/FORMAT.md alone, against volumes that the
 * real daemon writes: with each cipher, it must recover exactly the tree
 * that a plain directory holds after the same operations (long names,
 * sidecars, holes, punched blocks, short last blocks, several groups,
 * symlinks, user.* xattrs), refuse a tampered block and a wrong key, and
 * agree with the known-answer vectors of FORMAT.md section 12. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "mount_util.h"
#include "sfs_crypto.h"
#include "sfs_names.h"
#include "util.h"

#define BS 4096
#define BIG (1024 * 1024 + 123)
#define LONG_TARGET 3000
/* FORMAT.md sections 7 and 8: the longest symlink target (out of line),
 * the longest one stored inline, the longest user.* name after "user.". */
#define SYMLINK_MAX 4095
#define SYMLINK_INLINE_MAX 4062
#define XATTR_X_MAX 171

/* The repository (the reader and FORMAT.md live there). */
static const char *repo(void)
{
	static char dir[PATH_MAX];
	char conf[PATH_MAX];

	snprintf(conf, sizeof(conf), "%s", sfs_shipped_conf());
	snprintf(dir, sizeof(dir), "%s", dirname(dirname(conf)));
	return dir;
}

static void put(const char *path, const void *buf, size_t len)
{
	cr_assert_eq(sfs_write_file(path, buf, len), 0, "%s", path);
}

static void pwrite_at(const char *path, const char *s, off_t off)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);

	cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(pwrite(fd, s, strlen(s), off), (ssize_t)strlen(s));
	close(fd);
}

/* The format's boundaries: the longest short name (160 bytes) and the
 * shortest long one (161), the longest inline symlink target and the
 * longest one (out of line, with a hard link), the longest user.* name,
 * a truncate that cuts a block short, a truncate that grows a file over
 * group boundaries, an append after a short last block. */
static void edges(const char *dir, const char *buf)
{
	char name[256], target[SYMLINK_MAX + 1];

	memset(name, 's', 160);
	name[160] = '\0';
	put(sfs_join(dir, name), "160", 3);
	memset(name, 't', 161);
	name[161] = '\0';
	put(sfs_join(dir, name), "161", 3);
	memset(target, 'y', SYMLINK_MAX);
	target[SYMLINK_INLINE_MAX] = '\0';
	cr_assert_eq(symlink(target, sfs_join(dir, "inlinelink")), 0);
	target[SYMLINK_INLINE_MAX] = 'z';
	target[SYMLINK_MAX] = '\0';
	cr_assert_eq(symlink(target, sfs_join(dir, "maxlink")), 0, "%s",
		     strerror(errno));
	cr_assert_eq(
	    link(sfs_join(dir, "maxlink"), sfs_join(dir, "maxlink-hard")), 0);
	memset(name, 'n', 5 + XATTR_X_MAX);
	memcpy(name, "user.", 5);
	name[5 + XATTR_X_MAX] = '\0';
	cr_assert_eq(setxattr(sfs_join(dir, "multi"), name, "max", 3, 0), 0);
	put(sfs_join(dir, "cut"), buf, 10000);
	cr_assert_eq(truncate(sfs_join(dir, "cut"), 5000), 0);
	pwrite_at(sfs_join(dir, "wide"), "Z", 0);
	cr_assert_eq(truncate(sfs_join(dir, "wide"), 3 * 1024 * 1024 + 7), 0);
	pwrite_at(sfs_join(dir, "wide"), "Y", 2 * 1024 * 1024);
	put(sfs_join(dir, "append"), buf, 4097);
	pwrite_at(sfs_join(dir, "append"), "more", 4097);
}

/* The same operations in dir, a scratchfs mount or a plain directory. */
static void build(const char *dir)
{
	static char buf[BIG];
	char name[256], target[LONG_TARGET + 1], sub[PATH_MAX];
	unsigned char bin[300];
	int fd;

	sfs_fill_pattern(buf, sizeof(buf), 7);
	put(sfs_join(dir, "empty"), "", 0);
	put(sfs_join(dir, "small"), "hello\n", 6);
	put(sfs_join(dir, "multi"), buf, 10000);
	put(sfs_join(dir, "big"), buf, BIG);
	put(sfs_join(dir, "caf\xc3\xa9 menu.txt"), "utf-8 name", 10);
	/* Holes: a block written far out, then a longer size. */
	pwrite_at(sfs_join(dir, "sparse"), "A", 0);
	pwrite_at(sfs_join(dir, "sparse"), "B", 700000);
	cr_assert_eq(truncate(sfs_join(dir, "sparse"), 900001), 0);
	/* Whole blocks punched, and part of one (rewritten as zeros). */
	put(sfs_join(dir, "punched"), buf, 5 * BS);
	fd = open(sfs_join(dir, "punched"), O_RDWR);
	cr_assert(fd >= 0);
	cr_assert_eq(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       BS, 2 * BS),
		     0, "punch: %s", strerror(errno));
	cr_assert_eq(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       20000, 100),
		     0);
	close(fd);
	/* A short last block grown past. */
	put(sfs_join(dir, "grown"), buf, 100);
	pwrite_at(sfs_join(dir, "grown"), "end", 5000);
	/* Long names (sidecars): a file, and a directory holding one. */
	memset(name, 'L', 200);
	name[200] = '\0';
	put(sfs_join(dir, name), "long", 4);
	cr_assert_eq(mkdir(sfs_join(dir, "d"), 0755), 0);
	cr_assert_eq(setxattr(sfs_join(dir, "d"), "user.dirattr", "dv", 2, 0),
		     0);
	memset(name, 'D', 180);
	name[180] = '\0';
	snprintf(sub, sizeof(sub), "%s", sfs_join(sfs_join(dir, "d"), name));
	cr_assert_eq(mkdir(sub, 0755), 0);
	put(sfs_join(sub, "f"), "nested", 6);
	/* Symlinks, one with a long target. */
	cr_assert_eq(symlink("small", sfs_join(dir, "link")), 0);
	memset(target, 'x', LONG_TARGET);
	target[LONG_TARGET] = '\0';
	cr_assert_eq(symlink(target, sfs_join(dir, "longlink")), 0);
	/* xattrs: short, and a long name with binary value. */
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)i;
	memset(name, 'k', 150);
	memcpy(name, "user.", 5);
	name[150] = '\0';
	cr_assert_eq(setxattr(sfs_join(dir, "small"), "user.a", "1", 1, 0), 0);
	cr_assert_eq(
	    setxattr(sfs_join(dir, "small"), name, bin, sizeof(bin), 0), 0);
	cr_assert_eq(mkfifo(sfs_join(dir, "pipe"), 0644), 0);
	edges(dir, buf);
}

static json_t *b64(const void *buf, size_t len)
{
	char *s = malloc(sfs_b64_len(len) + 1);
	json_t *j;

	cr_assert(s);
	sfs_b64_encode(s, buf, len);
	j = json_string(s);
	free(s);
	return j;
}

static json_t *user_xattrs(const char *path)
{
	char names[4096], value[4096];
	ssize_t n = llistxattr(path, names, sizeof(names));
	json_t *o = json_object();

	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(names + i) + 1) {
		ssize_t v;

		if (strncmp(names + i, "user.", 5))
			continue;
		v = lgetxattr(path, names + i, value, sizeof(value));
		cr_assert(v >= 0);
		json_object_set_new(o, names + i, b64(value, (size_t)v));
	}
	return o;
}

/* The plain tree under dir as the reader describes a volume: path ->
 * {type, content | target, xattrs}. */
static void walk(const char *dir, const char *rel, json_t *out)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	cr_assert(d, "%s", dir);
	while ((e = readdir(d))) {
		char p[PATH_MAX], r[PATH_MAX];
		json_t *o = json_object();
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		snprintf(r, sizeof(r), "%s/%s", rel, e->d_name);
		cr_assert_eq(lstat(p, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			json_object_set_new(o, "type", json_string("dir"));
			walk(p, r, out);
		} else if (S_ISREG(st.st_mode)) {
			size_t len;
			void *buf = sfs_read_file(p, &len);

			cr_assert(buf);
			json_object_set_new(o, "type", json_string("file"));
			json_object_set_new(o, "content", b64(buf, len));
			free(buf);
		} else if (S_ISLNK(st.st_mode)) {
			char t[PATH_MAX];
			ssize_t n = readlink(p, t, sizeof(t));

			cr_assert(n > 0);
			json_object_set_new(o, "type", json_string("symlink"));
			json_object_set_new(o, "target", b64(t, (size_t)n));
		} else {
			json_object_set_new(o, "type", json_string("other"));
		}
		json_object_set_new(o, "xattrs",
				    S_ISLNK(st.st_mode) ? json_object()
							: user_xattrs(p));
		json_object_set_new(out, r, o);
	}
	closedir(d);
}

/* Runs the reader with args; exit status, stdout in *out, stderr in
 * *err (both malloc'ed). */
static int reader(const char *const args[], char **out, char **err)
{
	const char *argv[8];
	char script[PATH_MAX];
	int n = 0, status;
	pid_t pid;

	snprintf(script, sizeof(script), "%s/tools/reader/scratchfs-reader.py",
		 repo());
	argv[n++] = script;
	for (; *args && n < 7; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	pid = sfs_spawn_redirected(argv, sfs_join(sfs_fx.root, "reader.out"),
				   sfs_join(sfs_fx.root, "reader.err"), NULL,
				   NULL);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	*out = sfs_slurp(sfs_join(sfs_fx.root, "reader.out"));
	*err = sfs_slurp(sfs_join(sfs_fx.root, "reader.err"));
	cr_assert(WIFEXITED(status), "the reader was killed");
	return WEXITSTATUS(status);
}

/* In a buffer of its own: sfs_join's are reused. */
static const char *keyfile(void)
{
	static char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/node.key", sfs_fx.root);
	return path;
}

/* Writes the tree through a key-file volume with cipher and unmounts. */
static void write_volume(const char *cipher)
{
	char opts[PATH_MAX + 64];

	snprintf(opts, sizeof(opts), "hbi=1,key=keyfile:%s,cipher=%s",
		 keyfile(), cipher);
	sfs_mount_start(&sfs_fx, opts);
	build(sfs_fx.mnt);
	sfs_mount_stop(&sfs_fx);
	build(sfs_fx.ref);
}

static void recovers_the_tree(const char *cipher)
{
	const char *args[] = {"--json", "--key", keyfile(), sfs_fx.backing,
			      NULL};
	json_t *want = json_object(), *got = json_object(), *doc;
	char *out, *err;
	const char *path;
	json_t *v;
	size_t i;

	write_volume(cipher);
	walk(sfs_fx.ref, "", want);
	cr_assert_eq(reader(args, &out, &err), 0, "reader: %s", err);
	doc = json_loads(out, 0, NULL);
	cr_assert(doc, "reader output is not JSON: %.200s", out);
	cr_expect_str_eq(json_string_value(json_object_get(doc, "cipher")),
			 cipher);
	json_array_foreach(json_object_get(doc, "entries"), i, v)
	{
		json_t *e = json_deep_copy(v);

		json_object_del(e, "path");
		json_object_set_new(
		    got, json_string_value(json_object_get(v, "path")), e);
	}
	json_object_foreach(want, path, v)
	{
		json_t *g = json_object_get(got, path);
		char *ws = json_dumps(v, JSON_SORT_KEYS);
		char *gs = g ? json_dumps(g, JSON_SORT_KEYS) : NULL;

		cr_expect(g && json_equal(v, g),
			  "%s: wrote %.300s, read %.300s", path, ws,
			  gs ? gs : "nothing");
		free(ws);
		free(gs);
	}
	cr_expect_eq(json_object_size(got), json_object_size(want),
		     "the reader lists %zu entries, %zu were written",
		     json_object_size(got), json_object_size(want));
	json_decref(doc);
	json_decref(want);
	json_decref(got);
	free(out);
	free(err);
}

TestSuite(reader, .init = sfs_fx_init_setup, .fini = sfs_fx_fini,
	  .timeout = 120);

Test(reader, recovers_xchacha20poly1305_volume)
{
	recovers_the_tree("xchacha20poly1305");
}

Test(reader, recovers_aes256gcm_volume)
{
	cr_assert_eq(sfs_crypto_init(), 0);
	if (!sfs_aead_available(SFS_AEAD_AES256GCM))
		cr_skip_test("no AES-NI/PCLMUL: scratchfs never writes "
			     "aes256gcm here");
	recovers_the_tree("aes256gcm");
}

/* The backing size of a P-byte file with XChaCha20-Poly1305 (FORMAT.md
 * section 5.3: K = 100 slots a metadata page). */
static off_t xchacha_size(off_t p)
{
	const off_t k_slots = 100, group = (k_slots + 1) * BS;
	off_t n = (p + BS - 1) / BS, k = n - 1;

	return (k / k_slots) * group + (1 + k % k_slots) * BS + (p - BS * k);
}

/* The backing file of "big", found by its size. */
static void backing_of_big(char *out)
{
	DIR *d = opendir(sfs_fx.backing);
	struct dirent *e;
	bool found = false;

	cr_assert(d);
	while ((e = readdir(d))) {
		struct stat st;
		const char *p = sfs_bpath(&sfs_fx, e->d_name);

		if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) &&
		    st.st_size == xchacha_size(BIG)) {
			found = true;
			snprintf(out, PATH_MAX, "%s", p);
		}
	}
	closedir(d);
	cr_assert(found, "no backing file of %lld bytes",
		  (long long)xchacha_size(BIG));
}

Test(reader, refuses_a_tampered_block)
{
	const char *args[] = {"--key", keyfile(), sfs_fx.backing, NULL};
	char big[PATH_MAX], *out, *err;
	unsigned char byte;
	int fd;

	write_volume("xchacha20poly1305");
	backing_of_big(big);
	fd = open(big, O_RDWR);
	cr_assert(fd >= 0);
	/* Block 1's ciphertext: data page 1 of group 0. */
	cr_assert_eq(pread(fd, &byte, 1, 2 * BS + 5), 1);
	byte ^= 0x20;
	cr_assert_eq(pwrite(fd, &byte, 1, 2 * BS + 5), 1);
	close(fd);
	cr_expect_eq(reader(args, &out, &err), 1, "stdout: %.300s", out);
	cr_expect(strstr(err, "block 1 authentication failed"), "stderr: %s",
		  err);
	free(out);
	free(err);
}

Test(reader, refuses_another_node_key)
{
	char other[PATH_MAX + 32];
	const char *args[] = {"--key", other, sfs_fx.backing, NULL};
	unsigned char key[32];
	char *out, *err;

	snprintf(other, sizeof(other), "%s/other.key", sfs_fx.root);
	write_volume("xchacha20poly1305");
	memset(key, 0x5a, sizeof(key));
	put(other, key, sizeof(key));
	cr_expect_eq(reader(args, &out, &err), 1);
	cr_expect(strstr(err, "does not open"), "stderr: %s", err);
	free(out);
	free(err);
}

Test(reader, agrees_with_the_vectors_of_format_md)
{
	char doc[PATH_MAX + 32], *text, *out, *err, *p;
	const char *args[] = {"--vectors", doc, NULL};
	char changed[PATH_MAX + 32];

	snprintf(doc, sizeof(doc), "%s/doc/FORMAT.md", repo());
	snprintf(changed, sizeof(changed), "%s/FORMAT.md", sfs_fx.root);
	cr_expect_eq(reader(args, &out, &err), 0, "%s%s", out, err);
	cr_expect(strstr(out, "0 differ"), "%s", out);
	free(out);
	free(err);
	/* A vector changed by one digit is found. */
	text = sfs_slurp(doc);
	p = strstr(text, "\nfk = ");
	cr_assert(p);
	p[6] = p[6] == '0' ? '1' : '0';
	put(changed, text, strlen(text));
	snprintf(doc, sizeof(doc), "%s", changed);
	cr_expect_eq(reader(args, &out, &err), 1, "%s%s", out, err);
	cr_expect(strstr(out, "vector fk"), "%s", out);
	free(text);
	free(out);
	free(err);
}
