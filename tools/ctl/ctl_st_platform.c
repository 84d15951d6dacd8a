/* ctl_st_platform.c - selftest's platform checks: /dev/fuse and
 * fusermount3, the CPU's AES support and the cipher "auto" picks, the
 * RNG, FUSE over io_uring, the configured node key. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl_selftest.h"
#include "sfs_crypto.h"
#include "sfs_keys.h"
#include "sfs_volume.h"

#define URING_PARAM "/sys/module/fuse/parameters/enable_uring"

/* The first executable "fusermount3" on PATH into out; -ENOENT if none. */
static int find_fusermount(char *out, size_t len)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL;
	int rc = -ENOENT;

	copy = strdup(path && *path ? path : "/usr/bin:/bin");
	if (!copy)
		return -ENOMEM;
	for (dir = strtok_r(copy, ":", &save); dir && rc;
	     dir = strtok_r(NULL, ":", &save))
		if ((size_t)snprintf(out, len, "%s/fusermount3", dir) < len &&
		    access(out, X_OK) == 0)
			rc = 0;
	free(copy);
	return rc;
}

void st_platform_fuse(struct st_ctx *x, struct st_result *r)
{
	char fm[PATH_MAX];
	struct stat st;
	int fd;

	(void)x;
	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		st_fail(r, "/dev/fuse: %s", strerror(errno));
		return;
	}
	close(fd);
	if (find_fusermount(fm, sizeof(fm)) != 0) {
		st_fail(r, "fusermount3 is not on PATH (Debian: fuse3)");
		return;
	}
	if (geteuid() != 0 &&
	    (stat(fm, &st) != 0 || !(st.st_mode & S_ISUID) || st.st_uid != 0)) {
		st_fail(r, "%s is not setuid root, so a user cannot unmount",
			fm);
		return;
	}
	st_pass(r, "/dev/fuse opens read-write; %s is executable", fm);
}

void st_platform_cpu(struct st_ctx *x, struct st_result *r)
{
	bool aes = sfs_aead_available(SFS_AEAD_AES256GCM);
	enum sfs_aead pick = x->cfg.cipher;

	if (pick == SFS_AEAD_AES256GCM && !aes) {
		st_fail(r, "the configuration asks for aes256gcm, which this "
			   "CPU does not support (no AES-NI or PCLMUL)");
		return;
	}
	if (pick == SFS_AEAD_NONE)
		st_pass(r, "AES-NI+PCLMUL: %s; cipher=auto picks %s here",
			aes ? "yes" : "no",
			sfs_aead_name(sfs_aead_pick_fastest()));
	else
		st_pass(r,
			"AES-NI+PCLMUL: %s; the configuration sets cipher "
			"%s",
			aes ? "yes" : "no", sfs_aead_name(pick));
}

void st_platform_rng(struct st_ctx *x, struct st_result *r)
{
	uint8_t a[32], b[32];

	(void)x;
	/* GRND_NONBLOCK: fails with EAGAIN while the kernel's pool is not
	 * yet initialised, which would make every key guessable. */
	if (getrandom(a, sizeof(a), GRND_NONBLOCK) != (ssize_t)sizeof(a)) {
		st_fail(r, "getrandom: %s (the kernel RNG is not ready)",
			strerror(errno));
		return;
	}
	sfs_random(a, sizeof(a));
	sfs_random(b, sizeof(b));
	if (sfs_is_zero(a, sizeof(a)) || memcmp(a, b, sizeof(a)) == 0) {
		st_fail(r, "the RNG returned zeros or the same bytes twice");
		return;
	}
	st_pass(r, "kernel RNG initialised; two 32-byte draws differ");
}

void st_platform_uring(struct st_ctx *x, struct st_result *r)
{
	char v[8] = "";
	FILE *f = fopen(URING_PARAM, "re");

	if (f) {
		if (!fgets(v, sizeof(v), f))
			v[0] = '\0';
		fclose(f);
	}
	/* Informational: the daemon falls back to /dev/fuse reads. */
	if (!f)
		st_pass(r, "not in this kernel (" URING_PARAM " missing); "
			   "requests go through /dev/fuse");
	else
		st_pass(r,
			"the kernel %s it (enable_uring=%c); fuse.io_uring "
			"is %s in the configuration",
			v[0] == 'Y' ? "offers" : "has it but does not offer",
			v[0] ? v[0] : '?', x->cfg.fuse.io_uring ? "on" : "off");
}

void st_platform_key(struct st_ctx *x, struct st_result *r)
{
	struct sfs_key_spec spec = x->cfg.key;
	char where[PATH_MAX + 64], err[512], id[2 * SFS_KEY_ID_BYTES + 1];
	uint8_t *nmk = NULL, kid[SFS_KEY_ID_BYTES];
	int rc;

	sfs_key_spec_describe(&spec, where, sizeof(where));
	if (spec.source == SFS_KEY_EPHEMERAL || spec.source == SFS_KEY_NONE) {
		st_pass(r, "%s: no node key to reach", where);
		return;
	}
	spec.no_create = true;
	rc = sfs_keys_load_nmk(&spec, &nmk, err, sizeof(err));
	if (rc < 0) {
		st_fail(r, "%s", err);
		return;
	}
	sfs_key_id(nmk, kid);
	sfs_secret_free(nmk);
	sfs_hex(id, kid, sizeof(kid));
	st_pass(r, "%s loads; node key id %s", where, id);
}
