/* sfs_crypto.h - the only interface to the crypto libraries (libsodium;
 * OpenSSL's libcrypto for AES-256-GCM content blocks): AEAD, SIV, KDF,
 * secrets.
 *
 * Nothing here knows about FUSE, files or paths. All functions return 0 on
 * success and -1 on failure unless stated otherwise; anything that
 * authenticates is warn_unused_result and wipes its output on failure.
 */
#ifndef SFS_CRYPTO_H
#define SFS_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SFS_KEY_BYTES 32U
#define SFS_TAG_BYTES 16U
#define SFS_NONCE_MAX_BYTES 24U
#define SFS_FILE_ID_BYTES 16U
#define SFS_SIV_TAG_BYTES 16U
#define SFS_KEY_ID_BYTES 16U
/* Wrapped volume key: XChaCha20 nonce || encrypted key || tag. */
#define SFS_KEYSLOT_BYTES (24U + SFS_KEY_BYTES + SFS_TAG_BYTES)

#define SFS_WUR __attribute__((warn_unused_result))

/* AEAD algorithms. The numeric values are on disk (volume header). */
enum sfs_aead {
	SFS_AEAD_NONE = 0,
	SFS_AEAD_XCHACHA20POLY1305 = 1,
	SFS_AEAD_AES256GCM = 2,
};

/* Purposes of SIV (deterministic) encryption; each has its own subkeys. */
enum sfs_siv_purpose {
	SFS_SIV_NAME = 0,
	SFS_SIV_SYMLINK = 1,
};

/* Initialises the libraries. Must be called before anything else here. */
int sfs_crypto_init(void) SFS_WUR;

/* Secret memory: guarded, mlock()ed where possible, not dumped. */
void *sfs_secret_alloc(size_t len);
/* Wipes and frees; NULL is a no-op. */
void sfs_secret_free(void *p);
void sfs_secret_readonly(void *p);
void sfs_wipe(void *p, size_t len);
void sfs_random(void *out, size_t len);
/* Constant-time comparison: 0 when equal. */
int sfs_memcmp_ct(const void *a, const void *b, size_t len);
bool sfs_is_zero(const void *p, size_t len);

/* AEAD algorithm metadata. */
bool sfs_aead_available(enum sfs_aead aead);
size_t sfs_aead_nonce_bytes(enum sfs_aead aead);
const char *sfs_aead_name(enum sfs_aead aead);
/* Parses "xchacha20poly1305" / "aes256gcm" (and "auto" → NONE). */
int sfs_aead_from_name(const char *name, enum sfs_aead *out);
/* Measures the available AEADs on this CPU and returns the fastest. */
enum sfs_aead sfs_aead_pick_fastest(void);

/* Key derivation from a 32-byte key with an 8-character context. */
int sfs_kdf(uint8_t *out, size_t out_len, uint64_t subkey_id, const char ctx[8],
	    const uint8_t key[SFS_KEY_BYTES]);
/* Unkeyed BLAKE2b-256 (for long-name hashes and header checksums). */
void sfs_hash256(uint8_t out[32], const void *in, size_t len);
/* Public fingerprint of a node master key (safe to store and print). */
void sfs_key_id(const uint8_t nmk[SFS_KEY_BYTES], uint8_t id[SFS_KEY_ID_BYTES]);

/* Wraps/unwraps a volume key under a key-encryption key (XChaCha20-Poly1305,
 * random nonce), authenticating ad. */
int sfs_keywrap_seal(uint8_t out[SFS_KEYSLOT_BYTES],
		     const uint8_t vk[SFS_KEY_BYTES],
		     const uint8_t kek[SFS_KEY_BYTES], const uint8_t *ad,
		     size_t ad_len);
int sfs_keywrap_open(uint8_t vk[SFS_KEY_BYTES],
		     const uint8_t in[SFS_KEYSLOT_BYTES],
		     const uint8_t kek[SFS_KEY_BYTES], const uint8_t *ad,
		     size_t ad_len) SFS_WUR;

/* A volume's key set, derived from the volume key. Opaque, lives in secret
 * memory, read-only after creation. */
struct sfs_crypto;

/* Derives all subkeys from vk (the caller wipes vk afterwards). */
struct sfs_crypto *sfs_crypto_new(enum sfs_aead aead,
				  const uint8_t vk[SFS_KEY_BYTES]);
void sfs_crypto_free(struct sfs_crypto *c);
enum sfs_aead sfs_crypto_aead(const struct sfs_crypto *c);
/* Bytes of a sealed block's slot: nonce + tag (stored apart from the
 * ciphertext, which is as long as the plaintext). */
size_t sfs_crypto_overhead(const struct sfs_crypto *c);

/* A per-file content key and its cipher, ready for sfs_block_seal and
 * sfs_block_open: derived on the stack of the thread that uses it, for
 * the blocks of one request (or one part of one), never shared between
 * threads, wiped when done. For AES-256-GCM it holds an OpenSSL cipher
 * context, keyed once, which sfs_file_key_wipe cleanses and frees. */
struct sfs_file_key {
	enum sfs_aead aead;
	uint8_t key[SFS_KEY_BYTES];    /* XChaCha20-Poly1305 only */
	struct evp_cipher_ctx_st *gcm; /* EVP_CIPHER_CTX, AES-256-GCM only */
};

/* 0, or -1 when the cipher context cannot be allocated (out of memory);
 * fk is then wiped already, and wiping it again is harmless. */
int sfs_file_key_derive(struct sfs_file_key *fk, const struct sfs_crypto *c,
			const uint8_t file_id[SFS_FILE_ID_BYTES]) SFS_WUR;
void sfs_file_key_wipe(struct sfs_file_key *fk);

/* Seals len bytes of in into ct (len bytes; ct may be in) and slot =
 * nonce || tag (overhead bytes), with a fresh random nonce, authenticating
 * ad. The nonce is never all zero. */
int sfs_block_seal(struct sfs_file_key *fk, uint8_t *ct, uint8_t *slot,
		   const uint8_t *in, size_t len, const uint8_t *ad,
		   size_t ad_len);
/* Opens ct (len bytes) with slot = nonce || tag into out (len bytes; out
 * may be ct). An all-zero nonce fails. On failure out is zeroed. */
int sfs_block_open(struct sfs_file_key *fk, uint8_t *out, const uint8_t *ct,
		   size_t len, const uint8_t *slot, const uint8_t *ad,
		   size_t ad_len) SFS_WUR;

/* Deterministic authenticated encryption (SIV): out = T || C with
 * T = BLAKE2b-128(mac key, iv || pt) and C = pt XOR XChaCha20(enc key,
 * T || 0^8). out must hold len + SFS_SIV_TAG_BYTES. */
int sfs_siv_seal(const struct sfs_crypto *c, enum sfs_siv_purpose purpose,
		 uint8_t *out, const uint8_t *pt, size_t len, const uint8_t *iv,
		 size_t iv_len);
/* in_len >= SFS_SIV_TAG_BYTES; out holds in_len - SFS_SIV_TAG_BYTES.
 * Tag compared in constant time; out zeroed on failure. */
int sfs_siv_open(const struct sfs_crypto *c, enum sfs_siv_purpose purpose,
		 uint8_t *out, const uint8_t *in, size_t in_len,
		 const uint8_t *iv, size_t iv_len) SFS_WUR;

/* Randomised AEAD for xattr values (XChaCha20-Poly1305 under the xattr key):
 * out = nonce(24) || ct || tag, len + SFS_XATTR_OVERHEAD bytes. */
#define SFS_XATTR_OVERHEAD (24U + SFS_TAG_BYTES)
int sfs_xattr_seal(const struct sfs_crypto *c, uint8_t *out, const uint8_t *in,
		   size_t len, const uint8_t *ad, size_t ad_len);
int sfs_xattr_open(const struct sfs_crypto *c, uint8_t *out, const uint8_t *in,
		   size_t in_len, const uint8_t *ad, size_t ad_len) SFS_WUR;

#endif
