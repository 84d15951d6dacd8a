/* sfs_config.h - settings: built-in defaults, the libconfig file, -o
 * overrides. The only user of libconfig.
 */
#ifndef SFS_CONFIG_H
#define SFS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "sfs_crypto.h"
#include "sfs_keys.h"

#define SFS_DEFAULT_CONFIG "/etc/scratchfs/scratchfs.conf"

struct sfs_config {
	bool hbi_workspace;	 /* default true */
	enum sfs_aead cipher;	 /* NONE = "auto" (default) */
	struct sfs_key_spec key; /* default ephemeral, keyfile
				    SFS_DEFAULT_KEYFILE */
	struct {
		unsigned int max_threads; /* default 8, 1..256 */
		unsigned int max_write;	  /* default 1 MiB, 4 KiB..1 MiB */
		double cache_timeout;	  /* default 10 s, 0..3600 */
		bool allow_other;	  /* default false */
		bool default_permissions; /* default true */
		bool writeback_cache;	  /* default true */
	} fuse;
};

void sfs_config_defaults(struct sfs_config *cfg);

/* Loads a config file over cfg. Errors (syntax, unknown setting, wrong type,
 * bad value) give -EINVAL and "FILE:LINE: SETTING: problem" in err; a
 * missing file is -ENOENT with a message. */
int sfs_config_load(struct sfs_config *cfg, const char *path, char *err,
		    size_t err_len);

/* Applies one mount option: hbi=1|0, key=ephemeral|keyfile[:PATH],
 * cipher=auto|aes256gcm|xchacha20poly1305. Returns 1 when applied, 0 when
 * the option is not one of ours, -EINVAL with a message for a bad value. */
int sfs_config_apply_option(struct sfs_config *cfg, const char *opt, char *err,
			    size_t err_len);

#endif
