/* fuzz_config.c - the config file through libconfig, every setting's
 * checks included: sfs_config_parse over the input as the text of
 * /nonexistent/scratchfs.conf (a relative @include finds nothing). An input
 * starting with byte 0x01 is instead a list of mount options, one a line,
 * for sfs_config_apply_option.
 *
 * Properties: a failure names the problem and leaves the settings as they
 * were; what is accepted is within the documented ranges.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "sfs_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_ranges(const struct sfs_config *c)
{
	FUZZ_CHECK(c->fuse.max_threads >= 1 && c->fuse.max_threads <= 256);
	FUZZ_CHECK(c->fuse.max_write >= 4096 && c->fuse.max_write <= 1048576 &&
		   c->fuse.max_write % 4096 == 0);
	FUZZ_CHECK(c->fuse.cache_timeout >= 0.0 &&
		   c->fuse.cache_timeout <= 3600.0);
	FUZZ_CHECK(c->wipe.passes <= 16);
	FUZZ_CHECK(c->key.command_timeout >= 1 &&
		   c->key.command_timeout <= SFS_KEY_COMMAND_TIMEOUT_MAX);
	FUZZ_CHECK(c->key.keyfile[0] == '/');
	FUZZ_CHECK(c->audit.file[0] == '\0' || c->audit.file[0] == '/');
	FUZZ_CHECK(c->volume_plugin.socket[0] == '/' &&
		   strcmp(c->volume_plugin.socket, "/") != 0);
	FUZZ_CHECK(c->volume_plugin.root[0] == '/' &&
		   strcmp(c->volume_plugin.root, "/") != 0);
	FUZZ_CHECK(c->key.command_argc <= SFS_KEY_COMMAND_MAX_ARGS);
	FUZZ_CHECK(c->key.command_len <= SFS_KEY_COMMAND_BYTES);
	FUZZ_CHECK(c->key.command_argc == 0 || c->key.command[0] == '/');
	FUZZ_CHECK(c->cipher == SFS_AEAD_NONE || sfs_aead_available(c->cipher));
}

static void options(char *text)
{
	static struct sfs_config cfg, before;
	char err[8192], *save = NULL;
	int rc;

	sfs_config_defaults(&cfg);
	for (char *opt = strtok_r(text, "\n", &save); opt;
	     opt = strtok_r(NULL, "\n", &save)) {
		err[0] = '\0';
		before = cfg;
		rc = sfs_config_apply_option(&cfg, opt, err, sizeof(err));
		FUZZ_CHECK(rc >= -EINVAL && rc <= 1);
		if (rc < 0) {
			FUZZ_CHECK(rc == -EINVAL && err[0] != '\0');
		} else if (rc == 0) {
			FUZZ_CHECK(memcmp(&cfg, &before, sizeof(cfg)) == 0);
		}
		check_ranges(&cfg);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Big: static, and compared whole. */
	static struct sfs_config cfg, before;
	char err[8192] = "";
	char *text;
	int rc;

	fuzz_crypto(SFS_AEAD_XCHACHA20POLY1305);
	if (size >= 1 && data[0] == 0x01) {
		text = fuzz_str(data + 1, size - 1);
		options(text);
		free(text);
		return 0;
	}
	sfs_config_defaults(&cfg);
	before = cfg;
	rc = sfs_config_parse(&cfg, "/nonexistent/scratchfs.conf",
			      (const char *)data, size, err, sizeof(err));
	if (rc != 0) {
		FUZZ_CHECK(rc == -EINVAL || rc == -ENOENT || rc == -ENOMEM);
		FUZZ_CHECK(err[0] != '\0');
		FUZZ_CHECK(memcmp(&cfg, &before, sizeof(cfg)) == 0);
		return 0;
	}
	check_ranges(&cfg);
	return 0;
}
