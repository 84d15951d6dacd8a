/* sfs_keys.h - node master key providers ("system-managed" keys).
 *
 * ephemeral: no node key at all; the volume key is random and never stored.
 * keyfile:   32 raw random bytes in a root-owned 0600 file, created with
 *            O_CREAT|O_EXCL|O_NOFOLLOW from the system RNG when missing.
 * keyring:   32 random bytes as a "user" key in the kernel keyring of the
 *            daemon's user (KEY_SPEC_USER_KEYRING, "@u"), described by
 *            keyring_desc. Never on disk; gone at reboot. Created when
 *            missing, atomically (two racing mounts end up with one key).
 *            The user keyring (not the session keyring) because it is
 *            shared by every process of that uid: the daemon, a later
 *            remount, scratchfs-ctl and systemd services (which each get a
 *            private session keyring) all see the same key, and it outlives
 *            the short-lived `scratchfs` parent and the daemon.
 * command:   the output of a provider program (cloud KMS, TPM unseal...):
 *            run with the argv from the config (argv[0] an absolute path,
 *            no shell, no PATH search), stdin /dev/null, stdout a pipe,
 *            stderr inherited, the caller's environment; never any key
 *            material in its argv or environment. It must print the key as
 *            exactly 32 raw bytes, or as 64 hex digits optionally followed
 *            by one newline, and exit 0 within the timeout.
 */
#ifndef SFS_KEYS_H
#define SFS_KEYS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sfs_crypto.h"

/* Numeric values are on disk (volume header). */
enum sfs_key_source {
	SFS_KEY_NONE = 0,
	SFS_KEY_EPHEMERAL = 1,
	SFS_KEY_KEYFILE = 2,
	SFS_KEY_KEYRING = 3,
	SFS_KEY_COMMAND = 4,
};

#define SFS_DEFAULT_KEYFILE "/etc/scratchfs/node.key"
#define SFS_DEFAULT_KEYRING_DESC "scratchfs:node"
/* Longest keyring description (the kernel allows 4095; ours stay short). */
#define SFS_KEYRING_DESC_MAX 255U
/* The provider command: at most this many arguments (argv[0] included),
 * stored NUL-separated in at most SFS_KEY_COMMAND_BYTES bytes. */
#define SFS_KEY_COMMAND_MAX_ARGS 32U
#define SFS_KEY_COMMAND_BYTES 4096U
#define SFS_DEFAULT_KEY_COMMAND_TIMEOUT 10U /* seconds */
#define SFS_KEY_COMMAND_TIMEOUT_MAX 600U
/* Longest provider output looked at: 64 hex digits, a newline, and one
 * byte more to tell "too long" from "just right". */
#define SFS_KEY_COMMAND_OUT_MAX 66U

/* Plain data, copied by value (no pointers inside). */
struct sfs_key_spec {
	enum sfs_key_source source;
	char keyfile[PATH_MAX];
	char keyring_desc[SFS_KEYRING_DESC_MAX + 1];
	/* argv of the provider command: command_argc strings, each NUL
	 * terminated, back to back in command (command_len bytes used). */
	char command[SFS_KEY_COMMAND_BYTES];
	size_t command_len;
	unsigned int command_argc;
	unsigned int command_timeout; /* seconds, 1..600 */
	/* Do not create a missing key file or keyring key: -ENOKEY instead
	 * (for tools that only look). Zero-initialised specs create. */
	bool no_create;
};

const char *sfs_key_source_name(enum sfs_key_source s);

/* Sets spec to the built-in defaults: ephemeral, SFS_DEFAULT_KEYFILE,
 * SFS_DEFAULT_KEYRING_DESC, no command, SFS_DEFAULT_KEY_COMMAND_TIMEOUT. */
void sfs_key_spec_defaults(struct sfs_key_spec *spec);

/* Sets the provider command of spec from argc strings in argv. Checks: 1..
 * SFS_KEY_COMMAND_MAX_ARGS arguments, argv[0] an absolute path, no empty
 * argv[0], everything fits. Returns 0 or -EINVAL with the problem in why
 * (no "where" prefix); spec is unchanged on error. */
int sfs_key_spec_set_command(struct sfs_key_spec *spec, const char *const *argv,
			     unsigned int argc, char *why, size_t why_len);

/* Checks a keyring description: 1..SFS_KEYRING_DESC_MAX printable ASCII
 * characters without spaces. 0 or -EINVAL with the problem in why. */
int sfs_keyring_desc_check(const char *desc, char *why, size_t why_len);

/* Loads the node master key into secret memory (*nmk, free with
 * sfs_secret_free; NULL on error), from the provider spec->source names:
 *  keyfile: creates a missing file (unless no_create); refuses a file that
 *           is not a regular file, a symlink, not owned by root (when we
 *           are root), group/world accessible, or not exactly
 *           SFS_KEY_BYTES long.
 *  keyring: creates a missing key (unless no_create); refuses a revoked
 *           (-EKEYREVOKED) or expired (-EKEYEXPIRED) key and one whose
 *           payload is not SFS_KEY_BYTES long.
 *  command: runs the provider; refuses a missing/unsafe program, exit
 *           status != 0, death by a signal, a timeout (-ETIMEDOUT, the
 *           program's process group is killed) and output that is neither
 *           32 raw bytes nor 64 hex digits (+ "\n").
 * Never for ephemeral or none (-EINVAL). Returns 0 or -errno with a
 * one-line message in err naming the provider and what to do. */
int sfs_keys_load_nmk(const struct sfs_key_spec *spec, uint8_t **nmk, char *err,
		      size_t err_len);

/* Decodes what the key command prog printed (n bytes; the reader stops at
 * SFS_KEY_COMMAND_OUT_MAX) into key: exactly 32 raw bytes, or 64 hex
 * digits with an optional final newline. 0, or -EINVAL with a message
 * naming prog and the byte count (never the bytes) and key wiped. */
int sfs_keys_parse_command_output(const uint8_t *out, size_t n,
				  uint8_t key[SFS_KEY_BYTES], const char *prog,
				  char *err, size_t err_len);

/* A short description of where spec's node key lives, for messages and
 * `scratchfs-ctl key show`: "key file PATH", "keyring key DESC (user
 * keyring)", "key command PATH", "ephemeral". */
void sfs_key_spec_describe(const struct sfs_key_spec *spec, char *out,
			   size_t out_len);

/*
 * Primitives for rotation (scratchfs-ctl key rotate).
 */

/* Creates a new key file at path (absolute) holding key: O_EXCL|O_NOFOLLOW,
 * 0600, fsynced, parent directory fsynced (created 0700 when missing, one
 * level). -EEXIST, without a message, when path exists. */
int sfs_keyfile_create(const char *path, const uint8_t key[SFS_KEY_BYTES],
		       char *err, size_t err_len);

/* Stores key under desc in the user keyring: creates the key, or replaces
 * the payload of an existing one in place (keyctl update: its serial and
 * permissions stay, the old payload is gone). 0 or -errno with a message. */
int sfs_keyring_store(const char *desc, const uint8_t key[SFS_KEY_BYTES],
		      char *err, size_t err_len);

/* Removes the key desc from the user keyring (invalidates it, so every
 * link to it is gone at once). 0, -ENOKEY when there is none, or -errno
 * with a message. */
int sfs_keyring_remove(const char *desc, char *err, size_t err_len);

#endif
