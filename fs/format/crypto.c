/* crypto.c - the only crypto-library user: AEAD, SIV, KDF, key wrap,
 * secrets. libsodium does all of it except AES-256-GCM on content blocks,
 * which is OpenSSL's: the same cipher (the blocks are interchangeable),
 * at twice libsodium 1.0.18's speed where the CPU has VAES (measured in
 * doc/PERFORMANCE.md), and opening and sealing blocks is most of what a
 * streaming read or write costs. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "sfs_crypto.h"
#include "sfs_log.h"

#define XC_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define GCM_NONCE crypto_aead_aes256gcm_NPUBBYTES

_Static_assert(SFS_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES &&
		   SFS_KEY_BYTES == crypto_aead_aes256gcm_KEYBYTES &&
		   SFS_KEY_BYTES == crypto_kdf_KEYBYTES &&
		   SFS_KEY_BYTES == crypto_stream_xchacha20_KEYBYTES,
	       "all keys are 32 bytes");
_Static_assert(SFS_TAG_BYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES &&
		   SFS_TAG_BYTES == crypto_aead_aes256gcm_ABYTES,
	       "both AEADs have 16-byte tags");
_Static_assert(XC_NONCE == 24 && XC_NONCE <= SFS_NONCE_MAX_BYTES &&
		   GCM_NONCE <= SFS_NONCE_MAX_BYTES,
	       "nonce sizes");
_Static_assert(SFS_KEYSLOT_BYTES == XC_NONCE + SFS_KEY_BYTES + SFS_TAG_BYTES,
	       "keyslot layout");
_Static_assert(SFS_XATTR_OVERHEAD == XC_NONCE + SFS_TAG_BYTES, "xattr layout");
_Static_assert(SFS_SIV_TAG_BYTES + 8 == crypto_stream_xchacha20_NONCEBYTES,
	       "SIV nonce = T || 0^8");
#define SIV_PURPOSES 3

struct sfs_crypto {
	enum sfs_aead aead;
	uint8_t content_key[SFS_KEY_BYTES];
	uint8_t siv_mac[SIV_PURPOSES][SFS_KEY_BYTES];
	uint8_t siv_enc[SIV_PURPOSES][SFS_KEY_BYTES];
	uint8_t xattr_key[SFS_KEY_BYTES];
};

/* Subkey ids and contexts are part of the on-disk format: never renumber. */
enum {
	SK_CONTENT = 1,
	SK_NAME_MAC = 2,
	SK_NAME_ENC = 3,
	SK_SYMLINK_MAC = 4,
	SK_SYMLINK_ENC = 5,
	SK_XNAME_MAC = 6,
	SK_XNAME_ENC = 7,
	SK_XATTR_VALUE = 8,
};

static const char key_id_domain[] = "scratchfs node key id v1";

/* Block nonces come from a per-thread pool refilled by one getrandom() per
 * NONCE_POOL_BYTES: one system call per 4 KiB block cost ~7% of a
 * sequential write. Nonces are public (stored next to the ciphertext), so
 * the pool needs no locked memory; a forked child drops its copy so parent
 * and child can never hand out the same bytes. */
#define NONCE_POOL_BYTES 4096
static __thread uint8_t nonce_pool[NONCE_POOL_BYTES];
static __thread size_t nonce_pool_left;
static pthread_once_t nonce_pool_once = PTHREAD_ONCE_INIT;

static void nonce_pool_drop(void)
{
	nonce_pool_left = 0;
}

static int nonce_pool_registered; /* pthread_atfork's result */

static void nonce_pool_register(void)
{
	nonce_pool_registered = pthread_atfork(NULL, NULL, nonce_pool_drop);
}

static void nonce_draw(uint8_t *out, size_t len)
{
	if (nonce_pool_left < len) {
		randombytes_buf(nonce_pool, sizeof(nonce_pool));
		nonce_pool_left = sizeof(nonce_pool);
	}
	nonce_pool_left -= len;
	memcpy(out, nonce_pool + nonce_pool_left, len);
}

/* Fetched once: an implicit fetch in every EVP_EncryptInit_ex2 would look
 * the algorithm up (under a lock) for each request. */
static EVP_CIPHER *gcm_cipher;
static pthread_once_t gcm_once = PTHREAD_ONCE_INIT;

static void gcm_fetch(void)
{
	gcm_cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	if (gcm_cipher &&
	    (EVP_CIPHER_get_key_length(gcm_cipher) != SFS_KEY_BYTES ||
	     EVP_CIPHER_get_iv_length(gcm_cipher) !=
		 crypto_aead_aes256gcm_NPUBBYTES)) {
		EVP_CIPHER_free(gcm_cipher);
		gcm_cipher = NULL;
	}
}

int sfs_crypto_init(void)
{
	pthread_once(&nonce_pool_once, nonce_pool_register);
	if (nonce_pool_registered != 0 || sodium_init() < 0)
		return -1;
	pthread_once(&gcm_once, gcm_fetch);
	return 0;
}

void *sfs_secret_alloc(size_t len)
{
	return sodium_malloc(len);
}

void sfs_secret_free(void *p)
{
	sodium_free(p);
}

void sfs_secret_readonly(void *p)
{
	/* Only hardening: on failure the memory just stays writable. */
	(void)sodium_mprotect_readonly(p);
}

void sfs_wipe(void *p, size_t len)
{
	sodium_memzero(p, len);
}

void sfs_random(void *out, size_t len)
{
	randombytes_buf(out, len);
}

int sfs_memcmp_ct(const void *a, const void *b, size_t len)
{
	return sodium_memcmp(a, b, len) == 0 ? 0 : -1;
}

bool sfs_is_zero(const void *p, size_t len)
{
	return sodium_is_zero(p, len) == 1;
}

bool sfs_aead_available(enum sfs_aead aead)
{
	switch (aead) {
	case SFS_AEAD_XCHACHA20POLY1305:
		return true;
	case SFS_AEAD_AES256GCM:
		/* libsodium's test: AES-NI and PCLMUL, so OpenSSL never falls
		 * back to table-driven (cache-timing) AES. */
		return gcm_cipher && crypto_aead_aes256gcm_is_available() == 1;
	default:
		return false;
	}
}

size_t sfs_aead_nonce_bytes(enum sfs_aead aead)
{
	switch (aead) {
	case SFS_AEAD_XCHACHA20POLY1305:
		return XC_NONCE;
	case SFS_AEAD_AES256GCM:
		return GCM_NONCE;
	default:
		return 0;
	}
}

const char *sfs_aead_name(enum sfs_aead aead)
{
	switch (aead) {
	case SFS_AEAD_NONE:
		return "auto";
	case SFS_AEAD_XCHACHA20POLY1305:
		return "xchacha20poly1305";
	case SFS_AEAD_AES256GCM:
		return "aes256gcm";
	default:
		return "unknown";
	}
}

int sfs_aead_from_name(const char *name, enum sfs_aead *out)
{
	if (!name)
		return -1;
	if (strcmp(name, "xchacha20poly1305") == 0)
		*out = SFS_AEAD_XCHACHA20POLY1305;
	else if (strcmp(name, "aes256gcm") == 0)
		*out = SFS_AEAD_AES256GCM;
	else if (strcmp(name, "auto") == 0)
		*out = SFS_AEAD_NONE;
	else
		return -1;
	return 0;
}

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sets fk up for aead with key (copied). 0, or -1 when OpenSSL cannot
 * allocate the context (fk is then wiped). */
static int file_key_init(struct sfs_file_key *fk, enum sfs_aead aead,
			 const uint8_t key[SFS_KEY_BYTES])
{
	memset(fk, 0, sizeof(*fk));
	fk->aead = aead;
	if (aead != SFS_AEAD_AES256GCM) {
		memcpy(fk->key, key, SFS_KEY_BYTES);
		return 0;
	}
	/* The context's key schedule is the only copy of the key. */
	fk->gcm = EVP_CIPHER_CTX_new();
	if (!fk->gcm ||
	    EVP_EncryptInit_ex2(fk->gcm, gcm_cipher, key, NULL, NULL) != 1) {
		sfs_file_key_wipe(fk);
		return -1;
	}
	return 0;
}

/* Seconds to seal `blocks` 4 KiB blocks with a throwaway key, or -1. */
static double time_aead(enum sfs_aead aead, uint8_t *buf, uint8_t *out,
			int blocks)
{
	struct sfs_file_key fk;
	uint8_t key[SFS_KEY_BYTES], ad[24] = {0};
	double t0, t;
	int i, rc;

	randombytes_buf(key, sizeof(key));
	rc = file_key_init(&fk, aead, key);
	sodium_memzero(key, sizeof(key));
	t0 = now_sec();
	for (i = 0; rc == 0 && i < blocks; i++)
		rc = sfs_block_seal(&fk, out, out + 4096, buf, 4096, ad,
				    sizeof(ad));
	t = now_sec() - t0;
	sfs_file_key_wipe(&fk);
	return rc == 0 ? t : -1;
}

enum sfs_aead sfs_aead_pick_fastest(void)
{
	/* 2 rounds x 1 MiB per cipher: a few ms, enough to rank them. */
	enum { BLOCKS = 256, ROUNDS = 2 };
	double best_xc = -1, best_gcm = -1;
	uint8_t *buf, *out;
	int r;

	if (!sfs_aead_available(SFS_AEAD_AES256GCM))
		return SFS_AEAD_XCHACHA20POLY1305;
	buf = calloc(1, 4096);
	out = malloc(4096 + SFS_NONCE_MAX_BYTES + SFS_TAG_BYTES);
	if (!buf || !out) {
		free(buf);
		free(out);
		return SFS_AEAD_XCHACHA20POLY1305;
	}
	/* Interleaved, best of each, so a scheduler hiccup hurts neither. */
	for (r = 0; r < ROUNDS; r++) {
		double t;

		t = time_aead(SFS_AEAD_XCHACHA20POLY1305, buf, out, BLOCKS);
		if (t >= 0 && (best_xc < 0 || t < best_xc))
			best_xc = t;
		t = time_aead(SFS_AEAD_AES256GCM, buf, out, BLOCKS);
		if (t >= 0 && (best_gcm < 0 || t < best_gcm))
			best_gcm = t;
	}
	free(buf);
	free(out);
	if (best_gcm >= 0 && (best_xc < 0 || best_gcm < best_xc))
		return SFS_AEAD_AES256GCM;
	return SFS_AEAD_XCHACHA20POLY1305;
}

int sfs_kdf(uint8_t *out, size_t out_len, uint64_t subkey_id, const char ctx[8],
	    const uint8_t key[SFS_KEY_BYTES])
{
	if (out_len < crypto_kdf_BYTES_MIN || out_len > crypto_kdf_BYTES_MAX)
		return -1;
	if (crypto_kdf_derive_from_key(out, out_len, subkey_id, ctx, key) != 0)
		return -1;
	return 0;
}

void sfs_hash256(uint8_t out[32], const void *in, size_t len)
{
	crypto_generichash(out, 32, in, len, NULL, 0);
}

void sfs_key_id(const uint8_t nmk[SFS_KEY_BYTES], uint8_t id[SFS_KEY_ID_BYTES])
{
	/* Keyed hash of a constant: reveals nothing about nmk, yet two
	 * different keys get different ids. */
	crypto_generichash(id, SFS_KEY_ID_BYTES,
			   (const unsigned char *)key_id_domain,
			   sizeof(key_id_domain) - 1, nmk, SFS_KEY_BYTES);
}

int sfs_keywrap_seal(uint8_t out[SFS_KEYSLOT_BYTES],
		     const uint8_t vk[SFS_KEY_BYTES],
		     const uint8_t kek[SFS_KEY_BYTES], const uint8_t *ad,
		     size_t ad_len)
{
	randombytes_buf(out, XC_NONCE);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(
		out + XC_NONCE, NULL, vk, SFS_KEY_BYTES, ad, ad_len, NULL, out,
		kek) != 0) {
		sodium_memzero(out, SFS_KEYSLOT_BYTES);
		return -1;
	}
	return 0;
}

int sfs_keywrap_open(uint8_t vk[SFS_KEY_BYTES],
		     const uint8_t in[SFS_KEYSLOT_BYTES],
		     const uint8_t kek[SFS_KEY_BYTES], const uint8_t *ad,
		     size_t ad_len)
{
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		vk, NULL, NULL, in + XC_NONCE, SFS_KEYSLOT_BYTES - XC_NONCE, ad,
		ad_len, in, kek) != 0) {
		sodium_memzero(vk, SFS_KEY_BYTES);
		return -1;
	}
	return 0;
}

struct sfs_crypto *sfs_crypto_new(enum sfs_aead aead,
				  const uint8_t vk[SFS_KEY_BYTES])
{
	struct sfs_crypto *c;
	int rc = 0;
	int p;

	if (!sfs_aead_available(aead)) {
		errno = aead == SFS_AEAD_AES256GCM ? ENOTSUP : EINVAL;
		return NULL;
	}
	c = sodium_malloc(sizeof(*c));
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	c->aead = aead;
	rc |= crypto_kdf_derive_from_key(c->content_key, SFS_KEY_BYTES,
					 SK_CONTENT, "sfs-cont", vk);
	for (p = 0; p < SIV_PURPOSES; p++) {
		static const char *const mac_ctx[SIV_PURPOSES] = {
		    [SFS_SIV_NAME] = "sfs-nmac",
		    [SFS_SIV_SYMLINK] = "sfs-lmac",
		    [SFS_SIV_XATTR_NAME] = "sfs-xmac",
		};
		static const char *const enc_ctx[SIV_PURPOSES] = {
		    [SFS_SIV_NAME] = "sfs-nenc",
		    [SFS_SIV_SYMLINK] = "sfs-lenc",
		    [SFS_SIV_XATTR_NAME] = "sfs-xenc",
		};
		static const uint64_t mac_id[SIV_PURPOSES] = {
		    [SFS_SIV_NAME] = SK_NAME_MAC,
		    [SFS_SIV_SYMLINK] = SK_SYMLINK_MAC,
		    [SFS_SIV_XATTR_NAME] = SK_XNAME_MAC,
		};
		static const uint64_t enc_id[SIV_PURPOSES] = {
		    [SFS_SIV_NAME] = SK_NAME_ENC,
		    [SFS_SIV_SYMLINK] = SK_SYMLINK_ENC,
		    [SFS_SIV_XATTR_NAME] = SK_XNAME_ENC,
		};

		rc |= crypto_kdf_derive_from_key(c->siv_mac[p], SFS_KEY_BYTES,
						 mac_id[p], mac_ctx[p], vk);
		rc |= crypto_kdf_derive_from_key(c->siv_enc[p], SFS_KEY_BYTES,
						 enc_id[p], enc_ctx[p], vk);
	}
	rc |= crypto_kdf_derive_from_key(c->xattr_key, SFS_KEY_BYTES,
					 SK_XATTR_VALUE, "sfs-xval", vk);
	if (rc != 0) {
		sodium_free(c);
		errno = EINVAL;
		return NULL;
	}
	(void)sodium_mprotect_readonly(c);
	return c;
}

void sfs_crypto_free(struct sfs_crypto *c)
{
	/* sodium_free makes the pages writable again and zeroes them. */
	sodium_free(c);
}

enum sfs_aead sfs_crypto_aead(const struct sfs_crypto *c)
{
	return c->aead;
}

size_t sfs_crypto_overhead(const struct sfs_crypto *c)
{
	return sfs_aead_nonce_bytes(c->aead) + SFS_TAG_BYTES;
}

int sfs_file_key_derive(struct sfs_file_key *fk, const struct sfs_crypto *c,
			const uint8_t file_id[SFS_FILE_ID_BYTES])
{
	uint8_t key[SFS_KEY_BYTES];
	int rc;

	if (c->aead != SFS_AEAD_XCHACHA20POLY1305 &&
	    c->aead != SFS_AEAD_AES256GCM)
		sfs_bug("sfs_file_key_derive: volume has no AEAD");
	crypto_generichash(key, sizeof(key), file_id, SFS_FILE_ID_BYTES,
			   c->content_key, SFS_KEY_BYTES);
	rc = file_key_init(fk, c->aead, key);
	sodium_memzero(key, sizeof(key));
	return rc;
}

void sfs_file_key_wipe(struct sfs_file_key *fk)
{
	/* Frees the provider's context with OPENSSL_clear_free: the key
	 * schedule is wiped, as libsodium would. */
	EVP_CIPHER_CTX_free(fk->gcm);
	sodium_memzero(fk, sizeof(*fk));
}

/* AES-256-GCM with the context's key: the nonce is all it needs anew. */
static int gcm_seal(EVP_CIPHER_CTX *ctx, uint8_t *ct, uint8_t *tag,
		    const uint8_t *in, size_t len, const uint8_t *ad,
		    size_t ad_len, const uint8_t *nonce)
{
	int n;

	if (len > INT_MAX || ad_len > INT_MAX ||
	    EVP_EncryptInit_ex2(ctx, NULL, NULL, nonce, NULL) != 1 ||
	    (ad_len > 0 &&
	     EVP_EncryptUpdate(ctx, NULL, &n, ad, (int)ad_len) != 1) ||
	    (len > 0 && EVP_EncryptUpdate(ctx, ct, &n, in, (int)len) != 1) ||
	    EVP_EncryptFinal_ex(ctx, ct + len, &n) != 1)
		return -1;
	return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, SFS_TAG_BYTES,
				   tag) == 1
		   ? 0
		   : -1;
}

static int gcm_open(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *ct,
		    size_t len, const uint8_t *tag, const uint8_t *ad,
		    size_t ad_len, const uint8_t *nonce)
{
	uint8_t t[SFS_TAG_BYTES];
	int n;

	/* The tag argument is not const in OpenSSL's prototype. */
	memcpy(t, tag, sizeof(t));
	if (len > INT_MAX || ad_len > INT_MAX ||
	    EVP_DecryptInit_ex2(ctx, NULL, NULL, nonce, NULL) != 1 ||
	    (ad_len > 0 &&
	     EVP_DecryptUpdate(ctx, NULL, &n, ad, (int)ad_len) != 1) ||
	    (len > 0 && EVP_DecryptUpdate(ctx, out, &n, ct, (int)len) != 1) ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, SFS_TAG_BYTES, t) !=
		1)
		return -1;
	/* Final checks the tag; on a mismatch out already holds plaintext,
	 * which the caller zeroes. */
	return EVP_DecryptFinal_ex(ctx, out + len, &n) == 1 ? 0 : -1;
}

int sfs_block_seal(struct sfs_file_key *fk, uint8_t *ct, uint8_t *slot,
		   const uint8_t *in, size_t len, const uint8_t *ad,
		   size_t ad_len)
{
	size_t nlen = sfs_aead_nonce_bytes(fk->aead);
	int rc;

	if (nlen == 0)
		return -1;
	/* An all-zero nonce marks a hole; never emit one (p = 2^-96). */
	do
		nonce_draw(slot, nlen);
	while (sodium_is_zero(slot, nlen));
	if (fk->aead == SFS_AEAD_AES256GCM)
		rc = gcm_seal(fk->gcm, ct, slot + nlen, in, len, ad, ad_len,
			      slot);
	else
		rc = crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
		    ct, slot + nlen, NULL, in, len, ad, ad_len, NULL, slot,
		    fk->key);
	return rc == 0 ? 0 : -1;
}

int sfs_block_open(struct sfs_file_key *fk, uint8_t *out, const uint8_t *ct,
		   size_t len, const uint8_t *slot, const uint8_t *ad,
		   size_t ad_len)
{
	size_t nlen = sfs_aead_nonce_bytes(fk->aead);
	int rc = -1;

	if (nlen != 0 && !sodium_is_zero(slot, nlen)) {
		if (fk->aead == SFS_AEAD_AES256GCM)
			rc = gcm_open(fk->gcm, out, ct, len, slot + nlen, ad,
				      ad_len, slot);
		else
			rc =
			    crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
				out, NULL, ct, len, slot + nlen, ad, ad_len,
				slot, fk->key);
	}
	if (rc != 0) {
		memset(out, 0, len);
		return -1;
	}
	return 0;
}

static void check_purpose(enum sfs_siv_purpose purpose)
{
	if ((unsigned)purpose >= SIV_PURPOSES)
		sfs_bug("unknown SIV purpose");
}

/* T = BLAKE2b-128(mac key, le64(iv_len) || iv || pt): the length prefix
 * keeps (iv, pt) pairs that concatenate to the same bytes apart. */
static void siv_tag(const struct sfs_crypto *c, enum sfs_siv_purpose purpose,
		    uint8_t tag[SFS_SIV_TAG_BYTES], const uint8_t *pt,
		    size_t len, const uint8_t *iv, size_t iv_len)
{
	crypto_generichash_state st;
	uint8_t ivlen[8];
	uint64_t n = iv_len;
	int i;

	for (i = 0; i < 8; i++)
		ivlen[i] = (uint8_t)(n >> (8 * i));
	crypto_generichash_init(&st, c->siv_mac[purpose], SFS_KEY_BYTES,
				SFS_SIV_TAG_BYTES);
	crypto_generichash_update(&st, ivlen, sizeof(ivlen));
	if (iv_len)
		crypto_generichash_update(&st, iv, iv_len);
	if (len)
		crypto_generichash_update(&st, pt, len);
	crypto_generichash_final(&st, tag, SFS_SIV_TAG_BYTES);
	sodium_memzero(&st, sizeof(st));
}

static void siv_xor(const struct sfs_crypto *c, enum sfs_siv_purpose purpose,
		    uint8_t *out, const uint8_t *in, size_t len,
		    const uint8_t tag[SFS_SIV_TAG_BYTES])
{
	uint8_t nonce[crypto_stream_xchacha20_NONCEBYTES] = {0};

	memcpy(nonce, tag, SFS_SIV_TAG_BYTES);
	crypto_stream_xchacha20_xor(out, in, len, nonce, c->siv_enc[purpose]);
}

int sfs_siv_seal(const struct sfs_crypto *c, enum sfs_siv_purpose purpose,
		 uint8_t *out, const uint8_t *pt, size_t len, const uint8_t *iv,
		 size_t iv_len)
{
	check_purpose(purpose);
	siv_tag(c, purpose, out, pt, len, iv, iv_len);
	if (len)
		siv_xor(c, purpose, out + SFS_SIV_TAG_BYTES, pt, len, out);
	return 0;
}

int sfs_siv_open(const struct sfs_crypto *c, enum sfs_siv_purpose purpose,
		 uint8_t *out, const uint8_t *in, size_t in_len,
		 const uint8_t *iv, size_t iv_len)
{
	uint8_t tag[SFS_SIV_TAG_BYTES];
	size_t len;

	check_purpose(purpose);
	if (in_len < SFS_SIV_TAG_BYTES)
		return -1;
	len = in_len - SFS_SIV_TAG_BYTES;
	if (len)
		siv_xor(c, purpose, out, in + SFS_SIV_TAG_BYTES, len, in);
	siv_tag(c, purpose, tag, out, len, iv, iv_len);
	if (sodium_memcmp(tag, in, SFS_SIV_TAG_BYTES) != 0) {
		sodium_memzero(out, len);
		return -1;
	}
	return 0;
}

int sfs_xattr_seal(const struct sfs_crypto *c, uint8_t *out, const uint8_t *in,
		   size_t len, const uint8_t *ad, size_t ad_len)
{
	randombytes_buf(out, XC_NONCE);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(out + XC_NONCE, NULL, in,
						       len, ad, ad_len, NULL,
						       out, c->xattr_key) != 0)
		return -1;
	return 0;
}

int sfs_xattr_open(const struct sfs_crypto *c, uint8_t *out, const uint8_t *in,
		   size_t in_len, const uint8_t *ad, size_t ad_len)
{
	if (in_len < SFS_XATTR_OVERHEAD)
		return -1;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		out, NULL, NULL, in + XC_NONCE, in_len - XC_NONCE, ad, ad_len,
		in, c->xattr_key) != 0) {
		memset(out, 0, in_len - SFS_XATTR_OVERHEAD);
		return -1;
	}
	return 0;
}
