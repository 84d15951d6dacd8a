/* fuzz_keyout.c - what a key command prints: sfs_keys_parse_command_output
 * over the first SFS_KEY_COMMAND_OUT_MAX bytes of the input (the reader
 * never passes more).
 *
 * Properties: accepted are exactly 32 raw bytes (the key itself) and 64 hex
 * digits with an optional newline (their value); anything else is -EINVAL
 * with a message that does not depend on the output's bytes (only on its
 * length and kind): never a way to print the key.
 */
#include <errno.h>
#include <string.h>

#include "fuzz_util.h"
#include "sfs_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int nibble(uint8_t c)
{
	static const char digits[] = "0123456789abcdef";
	const char *p;

	if (c >= 'A' && c <= 'F')
		c = (uint8_t)(c - 'A' + 'a');
	p = c ? strchr(digits, c) : NULL;
	return p ? (int)(p - digits) : -1;
}

/* The message for another output of the same length and kind: every byte
 * 'z' (not hex), except a final newline after 64 bytes. */
static void reference_err(const uint8_t *data, size_t size, char *err,
			  size_t err_len)
{
	uint8_t other[SFS_KEY_COMMAND_OUT_MAX], key[SFS_KEY_BYTES];

	memset(other, 'z', size);
	if (size == 65 && data[64] == '\n')
		other[64] = '\n';
	FUZZ_CHECK(sfs_keys_parse_command_output(other, size, key,
						 "/fuzz/provider", err,
						 err_len) == -EINVAL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t key[SFS_KEY_BYTES];
	char err[512] = "", ref[512] = "";
	bool hex = true;
	int rc;

	if (size > SFS_KEY_COMMAND_OUT_MAX)
		size = SFS_KEY_COMMAND_OUT_MAX;
	fuzz_crypto(SFS_AEAD_XCHACHA20POLY1305);
	rc = sfs_keys_parse_command_output(data, size, key, "/fuzz/provider",
					   err, sizeof(err));
	for (size_t i = 0; i < 64 && i < size; i++)
		hex = hex && nibble(data[i]) >= 0;
	hex = hex && (size == 64 || (size == 65 && data[64] == '\n'));
	if (size == SFS_KEY_BYTES) {
		FUZZ_CHECK(rc == 0 && memcmp(key, data, SFS_KEY_BYTES) == 0);
	} else if (hex) {
		FUZZ_CHECK(rc == 0);
		for (size_t i = 0; i < SFS_KEY_BYTES; i++)
			FUZZ_CHECK(key[i] == (nibble(data[2 * i]) << 4 |
					      nibble(data[2 * i + 1])));
	} else {
		FUZZ_CHECK(rc == -EINVAL && err[0] != '\0');
		FUZZ_CHECK(strstr(err, "/fuzz/provider") != NULL);
		reference_err(data, size, ref, sizeof(ref));
		FUZZ_CHECK(strcmp(err, ref) == 0);
	}
	return 0;
}
