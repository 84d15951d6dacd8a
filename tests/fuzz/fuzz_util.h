/* fuzz_util.h - what the libFuzzer harnesses (tests/fuzz/fuzz_*.c) and the
 * seed generator (gen_corpus.c) share: fixed keys, so that the seeds the
 * generator seals authenticate in the harnesses and valid inputs are
 * reachable, not only early rejections.
 *
 * These keys are public test constants: never use them for a volume.
 */
#ifndef SFS_FUZZ_UTIL_H
#define SFS_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "sfs_crypto.h"
#include "sfs_names.h"

/* The node master key of the seed volumes (keyfile provider). */
extern const uint8_t fuzz_nmk[SFS_KEY_BYTES];
/* Their volume key (what the keyslot wraps). */
extern const uint8_t fuzz_vk[SFS_KEY_BYTES];
/* A directory IV, a file id. */
extern const uint8_t fuzz_diriv[SFS_DIRIV_BYTES];
extern const uint8_t fuzz_file_id[SFS_FILE_ID_BYTES];
/* The attribute of the xattr set seeds. */
extern const char fuzz_xattr_plain_name[];

/* The key set of fuzz_vk for aead, made once (NULL when aead is not
 * available on this CPU). Aborts when the crypto libraries fail. */
const struct sfs_crypto *fuzz_crypto(enum sfs_aead aead);

/* The input as a NUL-terminated string (cut at its first NUL, if any);
 * free() it. Aborts when out of memory. */
char *fuzz_str(const uint8_t *data, size_t size);

/* A broken property: prints what and aborts, so libFuzzer saves the
 * input as a crash. */
#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond))                                                   \
			fuzz_fail(__FILE__, __LINE__, #cond);                  \
	} while (0)
void fuzz_fail(const char *file, int line, const char *what)
    __attribute__((noreturn));

#endif
