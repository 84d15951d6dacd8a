/* fuzz_content.c - the content-block open path: what a read finds in the
 * backing file, opened with the seeds' volume key. Input layout:
 *   byte 0      bit 0: AEAD (0 XChaCha20-Poly1305, 1 AES-256-GCM where the
 *               CPU has it); bits 1..7: the first block's number (0..127)
 *   18 bytes    the file header: sfs_header_parse gives the file id
 *   8 bytes     a backing file size (little endian): sfs_plain_size
 *   slots       one slot (nonce || tag) per block of the data that follows
 *   data        1..8192 bytes of ciphertext (one or two blocks)
 * then sfs_content_decrypt, as blockio.c calls it for a read.
 *
 * Properties: a size that sfs_plain_size accepts is the size of its
 * plaintext; decryption either returns every byte or -EIO with the failing
 * block in range, and a decrypted run encrypts back and opens again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "sfs_content.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void sizes(const struct sfs_layout *l, uint64_t cipher)
{
	uint64_t plain, again;

	/* st_size is an off_t: never negative. */
	cipher &= INT64_MAX;
	if (sfs_plain_size(l, cipher, &plain) != 0)
		return;
	FUZZ_CHECK(sfs_cipher_size(l, plain) <= cipher);
	FUZZ_CHECK(sfs_plain_size(l, sfs_cipher_size(l, plain), &again) == 0);
	FUZZ_CHECK(again == plain);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum sfs_aead aead = data && size && (data[0] & 1)
				 ? SFS_AEAD_AES256GCM
				 : SFS_AEAD_XCHACHA20POLY1305;
	const struct sfs_crypto *c = fuzz_crypto(aead);
	uint8_t id[SFS_FILE_ID_BYTES];
	uint64_t block, bad = UINT64_MAX, cipher = 0;
	struct sfs_layout l;
	size_t slots_len, len;
	const uint8_t *slots, *ct;
	uint8_t *out, *slots2, *ct2;
	ssize_t n;

	if (size < 1 + SFS_FILE_HEADER_BYTES + 8 || !c)
		return 0;
	block = data[0] >> 1;
	sfs_layout_init(&l, sfs_crypto_overhead(c));
	if (sfs_header_parse(data + 1, id) != 0)
		return 0;
	FUZZ_CHECK(!sfs_is_zero(id, SFS_FILE_ID_BYTES));
	for (int i = 0; i < 8; i++)
		cipher |= (uint64_t)data[1 + SFS_FILE_HEADER_BYTES + i]
			  << (8 * i);
	sizes(&l, cipher);
	data += 1 + SFS_FILE_HEADER_BYTES + 8;
	size -= 1 + SFS_FILE_HEADER_BYTES + 8;
	/* The most blocks whose slots and data the input holds. */
	len = 0;
	for (size_t blocks = 2; blocks >= 1 && !len; blocks--) {
		size_t s = blocks * l.slot_bytes;

		if (size > s && size - s > (blocks - 1) * SFS_BLOCK_SIZE)
			len = size - s > blocks * SFS_BLOCK_SIZE
				  ? blocks * SFS_BLOCK_SIZE
				  : size - s;
	}
	if (!len)
		return 0;
	/* Two blocks only when both are in one group (one slot run). */
	if (len > SFS_BLOCK_SIZE && sfs_group_left(&l, block) < 2)
		len = SFS_BLOCK_SIZE;
	slots_len = sfs_content_slots_len(&l, len);
	slots = data;
	ct = data + slots_len;
	if (slots_len + len > size)
		return 0;
	out = malloc(len);
	slots2 = malloc(slots_len);
	ct2 = malloc(len);
	if (!out || !slots2 || !ct2)
		abort();
	n = sfs_content_decrypt(c, &l, id, block, ct, len, slots, out, &bad);
	if (n < 0) {
		FUZZ_CHECK(n == -EIO);
		FUZZ_CHECK(bad >= block && bad < block + 2);
		FUZZ_CHECK(sfs_is_zero(out, len));
	} else {
		FUZZ_CHECK((size_t)n == len);
		FUZZ_CHECK(sfs_content_encrypt(c, &l, id, block, out, len, ct2,
					       slots2) == (ssize_t)len);
		FUZZ_CHECK(sfs_content_decrypt(c, &l, id, block, ct2, len,
					       slots2, ct2,
					       NULL) == (ssize_t)len);
		FUZZ_CHECK(memcmp(ct2, out, len) == 0);
	}
	free(out);
	free(slots2);
	free(ct2);
	return 0;
}
