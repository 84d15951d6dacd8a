/* fuzz_volume.c - the volume header (<backing>/.scratchfs/volume) and its
 * keyslot: sfs_volume_decode on the file's bytes, then, for a header that
 * parses, sfs_volume_unwrap_key with the seed volumes' node key.
 *
 * Properties: a header that decodes is canonical (encoding it again gives
 * the same bytes); a failed unwrap says why and leaves no key behind.
 */
#include <string.h>

#include "fuzz_util.h"
#include "sfs_volume.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sfs_volume_header h;
	uint8_t enc[SFS_VOLUME_HEADER_BYTES];
	uint8_t vk[SFS_KEY_BYTES];
	char err[512];

	fuzz_crypto(SFS_AEAD_XCHACHA20POLY1305);
	if (sfs_volume_decode(data, size, &h, err, sizeof(err)) != 0) {
		FUZZ_CHECK(err[0] != '\0');
		return 0;
	}
	FUZZ_CHECK(size == SFS_VOLUME_HEADER_BYTES);
	sfs_volume_encode(&h, enc);
	FUZZ_CHECK(memcmp(enc, data, size) == 0);
	memset(vk, 0xa5, sizeof(vk));
	if (sfs_volume_unwrap_key(&h, fuzz_nmk, vk, err, sizeof(err)) != 0) {
		FUZZ_CHECK(err[0] != '\0');
		FUZZ_CHECK(sfs_is_zero(vk, SFS_KEY_BYTES));
	}
	return 0;
}
