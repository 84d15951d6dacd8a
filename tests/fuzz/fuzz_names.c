/* fuzz_names.c - encrypted file names as the backing directory holds them.
 * The first input byte picks the entry point, the rest is its input:
 *   0  a short backing name: sfs_name_plausible, sfs_name_decrypt
 *   1  a long-name sidecar file's content, bounded as nameio.c reads it
 *      (1..510 bytes into a 512-byte buffer), then decrypted
 *   2  base64url: sfs_b64_decode
 *   3  backing-name helpers: sfs_name_is_long, sfs_name_sidecar,
 *      sfs_name_is_reserved
 *   4  a padded plaintext name, sealed with the seeds' key first, so the
 *      checks behind authentication see any plaintext
 * The key and directory IV are the seeds' (fuzz_util.c).
 *
 * Properties: what decrypts is a valid name (1..NAME_MAX bytes, no '/',
 * not "." or "..") and encrypts back to the same encoding; what base64
 * decodes encodes back to the same text.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "sfs_names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const char *encoded, const char *plain, bool in_sidecar)
{
	size_t len = strlen(plain);
	struct sfs_ename en;

	FUZZ_CHECK(len >= 1 && len <= NAME_MAX);
	FUZZ_CHECK(!strchr(plain, '/'));
	FUZZ_CHECK(strcmp(plain, ".") && strcmp(plain, ".."));
	FUZZ_CHECK(sfs_name_plausible(encoded, strlen(encoded), in_sidecar));
	FUZZ_CHECK(sfs_name_encrypt(fuzz_crypto(SFS_AEAD_XCHACHA20POLY1305),
				    fuzz_diriv, plain, &en) == 0);
	FUZZ_CHECK(en.is_long == in_sidecar);
	FUZZ_CHECK(strcmp(in_sidecar ? en.full : en.backing, encoded) == 0);
}

static void decrypt(const char *encoded, bool in_sidecar)
{
	const struct sfs_crypto *c = fuzz_crypto(SFS_AEAD_XCHACHA20POLY1305);
	char out[NAME_MAX + 1];

	sfs_name_plausible(encoded, strlen(encoded), in_sidecar);
	if (sfs_name_decrypt(c, fuzz_diriv, encoded, out) == 0)
		check_name(encoded, out, strlen(encoded) > SFS_SHORT_NAME_MAX);
	else
		FUZZ_CHECK(out[0] == '\0');
}

static void b64(const uint8_t *in, size_t n)
{
	uint8_t *dec = malloc(n * 3 / 4 + 1);
	char *enc;
	long d;

	if (!dec)
		abort();
	d = sfs_b64_decode(dec, (const char *)in, n);
	if (d >= 0) {
		enc = malloc(sfs_b64_len((size_t)d) + 1);
		if (!enc)
			abort();
		FUZZ_CHECK(sfs_b64_encode(enc, dec, (size_t)d) == n);
		FUZZ_CHECK(memcmp(enc, in, n) == 0);
		free(enc);
	}
	free(dec);
}

static void helpers(const char *backing)
{
	char sidecar[NAME_MAX + 1];

	if (strlen(backing) > NAME_MAX)
		return;
	if (sfs_name_is_long(backing)) {
		sfs_name_sidecar(backing, sidecar);
		FUZZ_CHECK(!sfs_name_is_long(sidecar));
		FUZZ_CHECK(sfs_name_is_reserved(sidecar, false));
	}
	sfs_name_is_reserved(backing, true);
	sfs_name_is_reserved(backing, false);
}

static void sealed(const uint8_t *in, size_t n)
{
	const struct sfs_crypto *c = fuzz_crypto(SFS_AEAD_XCHACHA20POLY1305);
	uint8_t box[SFS_SIV_TAG_BYTES + SFS_NAME_PADDED_MAX];
	char encoded[SFS_ENCODED_NAME_MAX + 1];

	n -= n % SFS_NAME_PAD;
	if (n == 0 || n > SFS_NAME_PADDED_MAX)
		return;
	if (sfs_siv_seal(c, SFS_SIV_NAME, box, in, n, fuzz_diriv,
			 SFS_DIRIV_BYTES))
		abort();
	sfs_b64_encode(encoded, box, SFS_SIV_TAG_BYTES + n);
	decrypt(encoded, strlen(encoded) > SFS_SHORT_NAME_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char full[sizeof(((struct sfs_ename *)0)->full)];
	char *s;

	if (size < 1)
		return 0;
	s = fuzz_str(data + 1, size - 1);
	switch (data[0] % 5) {
	case 0:
		if (strlen(s) <= NAME_MAX)
			decrypt(s, false);
		break;
	case 1:
		/* nameio.c read_sidecar(): 1 .. sizeof(full) - 2 bytes. */
		if (size - 1 >= 1 && size - 1 < sizeof(full) - 1) {
			memcpy(full, data + 1, size - 1);
			full[size - 1] = '\0';
			decrypt(full, true);
		}
		break;
	case 2:
		b64(data + 1, size - 1);
		break;
	case 3:
		helpers(s);
		break;
	case 4:
		sealed(data + 1, size - 1);
		break;
	}
	free(s);
	return 0;
}
