/* sfs_config.h - settings: built-in defaults, the libconfig file, -o
 * overrides. The only user of libconfig.
 */
#ifndef SFS_CONFIG_H
#define SFS_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "sfs_crypto.h"
#include "sfs_keys.h"

#define SFS_DEFAULT_CONFIG "/etc/scratchfs/scratchfs.conf"

/* scratchfs-volumed, the Docker volume plugin (volume_plugin group). */
#define SFS_DEFAULT_PLUGIN_SOCKET "/run/docker/plugins/scratchfs.sock"
#define SFS_DEFAULT_PLUGIN_ROOT "/var/lib/scratchfs-volumed"
/* Room for a socket path: sizeof(sockaddr_un.sun_path), NUL included. */
#define SFS_PLUGIN_SOCKET_MAX 108U
/* Longest plugin root, so that every volume path under it fits. */
#define SFS_PLUGIN_ROOT_MAX 1024U

struct sfs_config {
	/* hbi_workspace in the file, -o hbi=; default true */
	bool encrypted;
	enum sfs_aead cipher;	 /* NONE = "auto" (default) */
	struct sfs_key_spec key; /* sfs_key_spec_defaults(): ephemeral,
				    keyfile SFS_DEFAULT_KEYFILE, keyring
				    SFS_DEFAULT_KEYRING_DESC, no command,
				    timeout 10 s */
	struct {
		unsigned int max_threads; /* default 8, 1..256 */
		unsigned int max_write;	  /* default 1 MiB, 4 KiB..1 MiB */
		double cache_timeout;	  /* default 10 s, 0..3600 */
		bool allow_other;	  /* default false */
		bool default_permissions; /* default true */
		bool writeback_cache;	  /* default true */
		bool xattrs;		  /* default true */
		bool io_uring;		  /* default true */
	} fuse;
	struct {
		char file[PATH_MAX]; /* default "": no audit file; absolute */
		bool syslog;	     /* default true (LOG_AUTHPRIV) */
	} audit;
	struct {
		unsigned int passes; /* default 0, 0..16; plain volumes only */
		bool discard;	     /* default false: FITRIM is fs-wide */
	} wipe;
	struct {
		/* Both absolute and normalised (no "//", ".", ".." or
		 * trailing "/"); defaults SFS_DEFAULT_PLUGIN_SOCKET and
		 * SFS_DEFAULT_PLUGIN_ROOT; the root is never "/". */
		char socket[SFS_PLUGIN_SOCKET_MAX];
		char root[SFS_PLUGIN_ROOT_MAX + 1];
	} volume_plugin;
};

void sfs_config_defaults(struct sfs_config *cfg);

/* Loads a config file over cfg. Errors (syntax, unknown setting, wrong type,
 * bad value) give -EINVAL and "FILE:LINE: SETTING: problem" in err; a
 * missing file is -ENOENT with a message. */
int sfs_config_load(struct sfs_config *cfg, const char *path, char *err,
		    size_t err_len);

/* The same over the text of a config file (len bytes, which may hold NUL
 * bytes) already in memory: path names it in messages and is where a
 * relative @include looks. */
int sfs_config_parse(struct sfs_config *cfg, const char *path, const char *text,
		     size_t len, char *err, size_t err_len);

/* "1", "true" or "yes" sets *out, "0", "false" or "no" clears it; anything
 * else is -EINVAL (and *out is left alone). */
int sfs_config_parse_bool(const char *s, bool *out);

/* Applies one mount option: hbi=1|0,
 * key=ephemeral|keyfile[:PATH]|keyring|command,
 * cipher=auto|aes256gcm|xchacha20poly1305. Returns 1 when applied, 0 when
 * the option is not one of ours, -EINVAL with a message for a bad value. */
int sfs_config_apply_option(struct sfs_config *cfg, const char *opt, char *err,
			    size_t err_len);

/* Set volume_plugin.socket / volume_plugin.root (scratchfs-volumed's
 * --socket and --root) with the same checks as the config file. Return 0,
 * or -EINVAL with the problem in err (cfg unchanged). */
int sfs_config_set_plugin_socket(struct sfs_config *cfg, const char *path,
				 char *err, size_t err_len);
int sfs_config_set_plugin_root(struct sfs_config *cfg, const char *path,
			       char *err, size_t err_len);

#endif
