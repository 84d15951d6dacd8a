/* sfs_keys.h - node master key providers ("system-managed" keys).
 *
 * ephemeral: no node key at all; the volume key is random and never stored.
 * keyfile:   32 raw random bytes in a root-owned 0600 file, created with
 *            O_CREAT|O_EXCL|O_NOFOLLOW from the system RNG when missing.
 */
#ifndef SFS_KEYS_H
#define SFS_KEYS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "sfs_crypto.h"

/* Numeric values are on disk (volume header). */
enum sfs_key_source {
	SFS_KEY_NONE = 0,
	SFS_KEY_EPHEMERAL = 1,
	SFS_KEY_KEYFILE = 2,
};

#define SFS_DEFAULT_KEYFILE "/etc/scratchfs/node.key"

struct sfs_key_spec {
	enum sfs_key_source source;
	char keyfile[PATH_MAX];
};

const char *sfs_key_source_name(enum sfs_key_source s);

/* Loads the node master key into secret memory (*nmk, free with
 * sfs_secret_free). keyfile: creates a missing file; refuses a file that is
 * not a regular file, not owned by root (when we are root), group/world
 * accessible, or not exactly SFS_KEY_BYTES long. Never for ephemeral
 * (-EINVAL). Returns 0 or -errno with a message in err. */
int sfs_keys_load_nmk(const struct sfs_key_spec *spec, uint8_t **nmk, char *err,
		      size_t err_len);

#endif
