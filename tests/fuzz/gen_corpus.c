/* gen_corpus.c - writes the seed inputs of the fuzz harnesses that need
 * the project's own encoders: volume headers made by sfs_volume_open (the
 * mount's code) in fresh directories, and names, symlink targets, xattrs
 * and content blocks sealed by the format layer under the fixed keys of
 * fuzz_util.c, so the harnesses reach what lies behind authentication.
 * Run by tests/fuzz/make-corpus.sh, which adds the seeds of the text
 * formats.
 *
 * usage: gen_corpus OUTDIR     (writes OUTDIR/fuzz_NAME/SEED files)
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "sfs_content.h"
#include "sfs_meta.h"
#include "sfs_names.h"
#include "sfs_plugin.h"
#include "sfs_sys.h"
#include "sfs_volume.h"

static const char *outdir;

static void die(const char *what)
{
	fprintf(stderr, "gen_corpus: %s\n", what);
	exit(1);
}

/* OUTDIR/harness/name := mode byte (when >= 0) + data. */
static void seed(const char *harness, const char *name, int mode,
		 const void *data, size_t len)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, harness);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, harness, name);
	f = fopen(path, "we");
	if (!f || (mode >= 0 && fputc(mode, f) == EOF) ||
	    fwrite(data, 1, len, f) != len || fclose(f) != 0)
		die(path);
}

/* A volume made by sfs_volume_open in a fresh directory: its header. */
static void real_volume(const char *name, bool encrypted, enum sfs_aead aead,
			enum sfs_key_source src)
{
	struct sfs_volume_params p = {.encrypted = encrypted, .aead = aead};
	char dir[] = "/tmp/sfs-gen-corpus.XXXXXX", key[PATH_MAX], hdr[PATH_MAX],
	     err[512];
	struct sfs_volume_header h;
	uint8_t buf[SFS_VOLUME_HEADER_BYTES + 1];
	uint8_t *vk = NULL;
	ssize_t n;
	int fd;

	if (!mkdtemp(dir))
		die("mkdtemp");
	sfs_key_spec_defaults(&p.key);
	p.key.source = src;
	snprintf(key, sizeof(key), "%s/node.key", dir);
	snprintf(p.key.keyfile, sizeof(p.key.keyfile), "%s", key);
	if (src == SFS_KEY_KEYFILE &&
	    sfs_keyfile_create(key, fuzz_nmk, err, sizeof(err)))
		die(err);
	snprintf(hdr, sizeof(hdr), "%s/backing", dir);
	if (mkdir(hdr, 0700) != 0)
		die(hdr);
	fd = open(hdr, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || sfs_volume_open(fd, hdr, &p, &h, &vk, err, sizeof(err)))
		die(err);
	close(fd);
	sfs_secret_free(vk);
	snprintf(hdr, sizeof(hdr), "%s/backing/%s/%s", dir, SFS_VOLUME_DIR,
		 SFS_VOLUME_FILE);
	fd = open(hdr, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : sfs_pread_full(fd, buf, sizeof(buf), 0);
	if (n != SFS_VOLUME_HEADER_BYTES)
		die(hdr);
	close(fd);
	seed("fuzz_volume", name, -1, buf, (size_t)n);
	unlink(hdr);
	*strrchr(hdr, '/') = '\0';
	rmdir(hdr);
	*strrchr(hdr, '/') = '\0';
	rmdir(hdr);
	unlink(key);
	rmdir(dir);
}

static void volumes(void)
{
	struct sfs_volume_header h = {
	    .version = SFS_VOLUME_VERSION,
	    .mode = SFS_MODE_ENCRYPTED,
	    .aead = SFS_AEAD_XCHACHA20POLY1305,
	    .block_size = SFS_BLOCK_SIZE,
	    .key_source = SFS_KEY_KEYRING,
	};
	uint8_t enc[SFS_VOLUME_HEADER_BYTES];

	real_volume("plain", false, SFS_AEAD_NONE, SFS_KEY_NONE);
	real_volume("ephemeral-xchacha", true, SFS_AEAD_XCHACHA20POLY1305,
		    SFS_KEY_EPHEMERAL);
	real_volume("keyfile-xchacha", true, SFS_AEAD_XCHACHA20POLY1305,
		    SFS_KEY_KEYFILE);
	if (sfs_aead_available(SFS_AEAD_AES256GCM))
		real_volume("keyfile-aes", true, SFS_AEAD_AES256GCM,
			    SFS_KEY_KEYFILE);
	/* A keyslot wrapping fuzz_vk, for a fixed seed. */
	memset(h.uuid, 0x55, sizeof(h.uuid));
	if (sfs_volume_wrap_key(&h, fuzz_nmk, fuzz_vk))
		die("wrap");
	sfs_volume_encode(&h, enc);
	seed("fuzz_volume", "keyring-fixed", -1, enc, sizeof(enc));
}

static void names(void)
{
	const struct sfs_crypto *c = fuzz_crypto(SFS_AEAD_XCHACHA20POLY1305);
	static const char *const plain[] = {"a", "hello.txt",
					    "\xc3\xa9t\xc3\xa9", ".hidden",
					    "x-0123456789abcdef"};
	char longname[NAME_MAX + 1], name[32], sidecar[NAME_MAX + 1];
	struct sfs_ename en;
	uint8_t padded[32] = "pad";

	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		if (sfs_name_encrypt(c, fuzz_diriv, plain[i], &en))
			die("name");
		snprintf(name, sizeof(name), "short-%zu", i);
		seed("fuzz_names", name, 0, en.backing, strlen(en.backing));
		snprintf(name, sizeof(name), "b64-%zu", i);
		seed("fuzz_names", name, 2, en.backing, strlen(en.backing));
	}
	memset(longname, 'L', NAME_MAX);
	longname[NAME_MAX] = '\0';
	for (size_t len = 200; len <= NAME_MAX; len += 55) {
		longname[len] = '\0';
		if (sfs_name_encrypt(c, fuzz_diriv, longname, &en) ||
		    !en.is_long)
			die("long name");
		snprintf(name, sizeof(name), "sidecar-%zu", len);
		seed("fuzz_names", name, 1, en.full, strlen(en.full));
		snprintf(name, sizeof(name), "long-%zu", len);
		seed("fuzz_names", name, 3, en.backing, strlen(en.backing));
		sfs_name_sidecar(en.backing, sidecar);
		snprintf(name, sizeof(name), "sidecar-name-%zu", len);
		seed("fuzz_names", name, 3, sidecar, strlen(sidecar));
		longname[len] = 'L';
	}
	seed("fuzz_names", "reserved-diriv", 3, SFS_DIRIV_NAME,
	     strlen(SFS_DIRIV_NAME));
	seed("fuzz_names", "reserved-volume", 3, SFS_VOLUME_DIR,
	     strlen(SFS_VOLUME_DIR));
	seed("fuzz_names", "sealed-pad", 4, padded, 16);
}

static void meta(void)
{
	const struct sfs_crypto *c = fuzz_crypto(SFS_AEAD_XCHACHA20POLY1305);
	static const char *const targets[] = {"../a/b", "/etc/passwd", "x"};
	static const char *const xnames[] = {"user.fuzz", "user.mime_type",
					     "trusted.x", "security.selinux"};
	char out[SFS_BACKING_SYMLINK_MAX + 1], name[32];
	char big[SFS_SYMLINK_MAX + 1];
	uint8_t id[SFS_SYMLINK_ID_BYTES];
	uint8_t sidecar[SFS_SYMLINK_ID_BYTES + SFS_SYMLINK_SEALED_MAX];
	uint8_t box[256 + SFS_XATTR_OVERHEAD], set[256];
	ssize_t setlen = 0;
	static const char value[] = "text/plain; charset=utf-8";
	ssize_t n;

	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		if (sfs_symlink_encrypt(c, targets[i], out))
			die("symlink");
		snprintf(name, sizeof(name), "symlink-%zu", i);
		seed("fuzz_meta", name, 0, out, strlen(out));
		snprintf(name, sizeof(name), "target-%zu", i);
		seed("fuzz_meta", name, 3, targets[i], strlen(targets[i]));
	}
	memset(big, 'T', SFS_SYMLINK_INLINE_MAX);
	big[SFS_SYMLINK_INLINE_MAX] = '\0';
	if (sfs_symlink_encrypt(c, big, out))
		die("longest symlink");
	seed("fuzz_meta", "symlink-longest", 0, out, strlen(out));
	/* Out of line: a reference (entry 0), the longest target's sidecar
	 * as id || contents (entry 4) and a target to seal (entry 5). */
	memset(id, 0x5c, sizeof(id));
	sfs_symlink_ref(id, out);
	seed("fuzz_meta", "symlink-reference", 0, out, strlen(out));
	memset(big, 'T', SFS_SYMLINK_MAX);
	big[SFS_SYMLINK_MAX] = '\0';
	memcpy(sidecar, id, sizeof(id));
	n = sfs_symlink_seal(c, id, big, sidecar + sizeof(id));
	if (n < 0)
		die("sidecar");
	seed("fuzz_meta", "symlink-sidecar", 4, sidecar,
	     sizeof(id) + (size_t)n);
	seed("fuzz_meta", "sidecar-target", 5, targets[0], strlen(targets[0]));
	/* Sets: one attribute, several, an empty value; sealed (entry 1)
	 * and as plaintext (entry 3). */
	for (size_t i = 0; i <= sizeof(xnames) / sizeof(xnames[0]); i++) {
		n = i ? sfs_xattr_set_add(set, (size_t)setlen,
					  i == 1 ? fuzz_xattr_plain_name
						 : xnames[i - 1],
					  value, i == 2 ? 0 : strlen(value))
		      : 0;
		if (n < 0 && i >= 3)
			continue; /* not user.*: not in a set */
		if (n < 0)
			die("xattr set");
		setlen = n;
		snprintf(name, sizeof(name), "xattr-set-%zu", i);
		seed("fuzz_meta", name, 3, set, (size_t)setlen);
		n = sfs_xattr_set_seal(c, set, (size_t)setlen, box);
		if (n < 0)
			die("xattr set seal");
		snprintf(name, sizeof(name), "xattr-stored-%zu", i);
		seed("fuzz_meta", name, 1, box, (size_t)n);
	}
}

/* mode byte || header || size || slots || data, as fuzz_content reads. */
static void content_seed(enum sfs_aead aead, uint64_t block, size_t len,
			 const char *name)
{
	const struct sfs_crypto *c = fuzz_crypto(aead);
	uint8_t *buf, *in, hdr[SFS_FILE_HEADER_BYTES], id[SFS_FILE_ID_BYTES];
	struct sfs_layout l;
	uint64_t size;
	size_t slots, at = 0;

	if (!c)
		return;
	sfs_layout_init(&l, sfs_crypto_overhead(c));
	slots = sfs_content_slots_len(&l, len);
	buf = calloc(1, 1 + sizeof(hdr) + 8 + slots + len);
	in = malloc(len);
	if (!buf || !in)
		die("out of memory");
	for (size_t i = 0; i < len; i++)
		in[i] = (uint8_t)(i * 7 + 1);
	sfs_header_new(hdr, id);
	buf[at++] = (uint8_t)(block << 1 | (aead == SFS_AEAD_AES256GCM));
	memcpy(buf + at, hdr, sizeof(hdr));
	at += sizeof(hdr);
	size = sfs_cipher_size(&l, block * SFS_BLOCK_SIZE + len);
	for (int i = 0; i < 8; i++)
		buf[at++] = (uint8_t)(size >> (8 * i));
	if (sfs_content_encrypt(c, &l, id, block, in, len, buf + at + slots,
				buf + at) != (ssize_t)len)
		die("content");
	seed("fuzz_content", name, -1, buf, at + slots + len);
	/* A hole: zero slots and data. */
	memset(buf + at, 0, slots + len);
	if (block == 0)
		seed("fuzz_content", "hole", -1, buf, at + slots + len);
	free(buf);
	free(in);
}

static void content(void)
{
	content_seed(SFS_AEAD_XCHACHA20POLY1305, 0, 100, "xchacha-short");
	content_seed(SFS_AEAD_XCHACHA20POLY1305, 5, 2 * SFS_BLOCK_SIZE,
		     "xchacha-two-blocks");
	content_seed(SFS_AEAD_AES256GCM, 0, SFS_BLOCK_SIZE, "aes-block");
	content_seed(SFS_AEAD_AES256GCM, 127, 4000, "aes-last-block");
}

/* A state.json that the plugin itself wrote: two volumes, references. */
static void plugin_state(void)
{
	static const char *const reqs[][2] = {
	    {"/Plugin.Activate", ""},
	    {"/VolumeDriver.Create", "{\"Name\": \"scratch1\"}"},
	    {"/VolumeDriver.Create",
	     "{\"Name\": \"data-2\", \"Opts\": {\"hbi\": \"0\", \"wipe\": "
	     "\"on-remove\", \"uid\": \"1000\", \"gid\": \"1000\", "
	     "\"mode\": \"0750\"}}"},
	};
	struct sfs_plugin_cfg cfg = {.scratchfs = "/nonexistent/scratchfs",
				     .encrypted_default = true,
				     .key_default = SFS_KEY_EPHEMERAL};
	char dir[] = "/tmp/sfs-gen-corpus.XXXXXX", path[PATH_MAX], err[512];
	char cmd[PATH_MAX + 16];
	struct sfs_plugin p;
	struct sfs_plugin_vol *v;
	uint8_t buf[8192];
	ssize_t n;
	int fd;

	if (!mkdtemp(dir))
		die("mkdtemp");
	cfg.root = dir;
	if (sfs_plugin_open(&p, &cfg, err, sizeof(err)))
		die(err);
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		unsigned int status;

		json_decref(sfs_plugin_handle(&p, reqs[i][0], reqs[i][1],
					      strlen(reqs[i][1]), &status));
		if (status != 200)
			die(reqs[i][0]);
	}
	v = sfs_plugin_state_find(&p.state, "scratch1");
	if (!v ||
	    sfs_plugin_refs_mount(&v->refs, "0123abcd", p.state.epoch, false) !=
		1 ||
	    sfs_plugin_refs_mount(&v->refs, "0123abcd", p.state.epoch, false) !=
		2 ||
	    sfs_plugin_refs_mount(&v->refs, "podman", p.state.epoch, false) !=
		1)
		die("refs");
	v->mounted = true;
	snprintf(v->cipher, sizeof(v->cipher), "xchacha20poly1305");
	if (sfs_plugin_state_save(&p.state, err, sizeof(err)))
		die(err);
	sfs_plugin_close(&p);
	snprintf(path, sizeof(path), "%s/%s", dir, SFS_PLUGIN_STATE_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : sfs_pread_full(fd, buf, sizeof(buf), 0);
	if (n <= 0)
		die(path);
	close(fd);
	seed("fuzz_plugin_state", "two-volumes", -1, buf, (size_t)n);
	/* Only what sfs_plugin_open made under our mkdtemp(). */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (strncmp(dir, "/tmp/sfs-gen-corpus.", 20) != 0 || system(cmd) != 0)
		die(cmd);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		die("usage: gen_corpus OUTDIR");
	outdir = argv[1];
	fuzz_crypto(SFS_AEAD_XCHACHA20POLY1305);
	volumes();
	names();
	meta();
	content();
	plugin_state();
	return 0;
}
