/* test_crypto.c - unit tests for fs/format/crypto.c (AEAD, SIV, KDF, key wrap).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "sfs_crypto.h"

static void setup(void)
{
	cr_assert_eq(sfs_crypto_init(), 0);
}

TestSuite(crypto, .init = setup, .timeout = 10);

static void skip_unavailable(enum sfs_aead aead)
{
	if (!sfs_aead_available(aead))
		cr_skip_test("%s not available on this CPU",
			     sfs_aead_name(aead));
}

/* A key set under a fixed volume key, so failures reproduce. */
static struct sfs_crypto *crypto_fixed(enum sfs_aead aead, uint8_t seed)
{
	uint8_t vk[SFS_KEY_BYTES];
	struct sfs_crypto *c;

	memset(vk, seed, sizeof(vk));
	c = sfs_crypto_new(aead, vk);
	cr_assert_not_null(c, "sfs_crypto_new(%s)", sfs_aead_name(aead));
	return c;
}

static void fill(uint8_t *p, size_t len, uint8_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static void hex(char *out, const uint8_t *in, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", in[i]);
}

/* ---- basics ---- */

Test(crypto, helpers)
{
	uint8_t a[32], b[32];

	fill(a, sizeof(a), 1);
	memcpy(b, a, sizeof(b));
	cr_assert_eq(sfs_memcmp_ct(a, b, sizeof(a)), 0);
	b[31] ^= 1;
	cr_assert_neq(sfs_memcmp_ct(a, b, sizeof(a)), 0);
	cr_assert(!sfs_is_zero(a, sizeof(a)));
	sfs_wipe(a, sizeof(a));
	cr_assert(sfs_is_zero(a, sizeof(a)));
	cr_assert(sfs_is_zero(a, 0));
	sfs_random(a, sizeof(a));
	sfs_random(b, sizeof(b));
	cr_assert_neq(memcmp(a, b, sizeof(a)), 0);
}

Test(crypto, secret_memory)
{
	uint8_t *p = sfs_secret_alloc(64);

	cr_assert_not_null(p);
	memset(p, 0x5a, 64);
	sfs_secret_readonly(p);
	cr_assert_eq(p[63], 0x5a);
	sfs_secret_free(p);
	sfs_secret_free(NULL);
}

#ifndef __SANITIZE_ADDRESS__
/* ASan turns the SIGSEGV into its own report, so only in plain builds. */
Test(crypto, secret_readonly_traps, .signal = SIGSEGV)
{
	volatile uint8_t *p = sfs_secret_alloc(64);

	sfs_secret_readonly((void *)p);
	p[0] = 1;
}
#endif

Test(crypto, hash256_known_answer)
{
	/* BLAKE2b-256 of the empty string. */
	static const char want[] = "0e5751c026e543b2e8ab2eb06099daa1"
				   "d1e5df47778f7787faab45cdf12fe3a8";
	uint8_t h[32];
	char got[65];

	sfs_hash256(h, "", 0);
	hex(got, h, sizeof(h));
	cr_assert_str_eq(got, want);
	sfs_hash256(h, "a", 1);
	hex(got, h, sizeof(h));
	cr_assert_str_neq(got, want);
}

/* ---- AEAD metadata ---- */

/* Inline strings: Criterion may run each case in a fresh process, where
 * pointers into the parent's data would not be valid. */
struct name_case {
	char name[24];
	bool null;
	int rc;
	enum sfs_aead aead;
};

ParameterizedTestParameters(crypto, aead_from_name)
{
	static struct name_case cases[] = {
	    {"xchacha20poly1305", false, 0, SFS_AEAD_XCHACHA20POLY1305},
	    {"aes256gcm", false, 0, SFS_AEAD_AES256GCM},
	    {"auto", false, 0, SFS_AEAD_NONE},
	    {"AES256GCM", false, -1, SFS_AEAD_NONE},
	    {"aes256gcm ", false, -1, SFS_AEAD_NONE},
	    {"chacha20poly1305", false, -1, SFS_AEAD_NONE},
	    {"", false, -1, SFS_AEAD_NONE},
	    {"", true, -1, SFS_AEAD_NONE},
	};

	return cr_make_param_array(struct name_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct name_case *tc, crypto, aead_from_name)
{
	const char *name = tc->null ? NULL : tc->name;
	enum sfs_aead got = (enum sfs_aead)77;

	cr_assert_eq(sfs_aead_from_name(name, &got), tc->rc, "'%s'",
		     name ? name : "(null)");
	if (tc->rc == 0) {
		cr_assert_eq(got, tc->aead);
		cr_assert_str_eq(sfs_aead_name(got), tc->name);
	} else {
		cr_assert_eq(got, (enum sfs_aead)77, "output set on failure");
	}
}

Test(crypto, aead_metadata)
{
	cr_assert(sfs_aead_available(SFS_AEAD_XCHACHA20POLY1305));
	cr_assert(!sfs_aead_available(SFS_AEAD_NONE));
	cr_assert(!sfs_aead_available((enum sfs_aead)3));
	cr_assert_eq(sfs_aead_nonce_bytes(SFS_AEAD_XCHACHA20POLY1305), 24);
	cr_assert_eq(sfs_aead_nonce_bytes(SFS_AEAD_AES256GCM), 12);
	cr_assert_eq(sfs_aead_nonce_bytes(SFS_AEAD_NONE), 0);
	cr_assert_str_eq(sfs_aead_name((enum sfs_aead)9), "unknown");
}

Test(crypto, pick_fastest)
{
	struct timespec t0, t1;
	enum sfs_aead a;
	double ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	a = sfs_aead_pick_fastest();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	cr_assert(a == SFS_AEAD_XCHACHA20POLY1305 || a == SFS_AEAD_AES256GCM);
	cr_assert(sfs_aead_available(a));
	cr_assert_lt(ms, 500.0, "benchmark took %.1f ms", ms);
}

Test(crypto, new_rejects_bad_aead)
{
	uint8_t vk[SFS_KEY_BYTES] = {1};

	cr_assert_null(sfs_crypto_new(SFS_AEAD_NONE, vk));
	cr_assert_null(sfs_crypto_new((enum sfs_aead)42, vk));
	if (!sfs_aead_available(SFS_AEAD_AES256GCM))
		cr_assert_null(sfs_crypto_new(SFS_AEAD_AES256GCM, vk));
}

/* ---- block AEAD ---- */

struct aead_case {
	enum sfs_aead aead;
	size_t overhead;
};

static struct aead_case aead_cases[] = {
    {SFS_AEAD_XCHACHA20POLY1305, 40},
    {SFS_AEAD_AES256GCM, 28},
};

#define AEAD_PARAMS(test)                                                      \
	ParameterizedTestParameters(crypto, test)                              \
	{                                                                      \
		return cr_make_param_array(struct aead_case, aead_cases, 2);   \
	}

static const uint8_t ad0[24] = "file-id-0000000\0\0\0\0\0\0\0\0";

/* The per-file key computed with libsodium directly, as doc/FORMAT.md
 * defines it: BLAKE2b-256(key = KDF(vk, 1, "sfs-cont"), msg = file id),
 * for the volume key crypto_fixed(aead, seed) uses. */
static void file_key_by_hand(uint8_t key[SFS_KEY_BYTES], uint8_t seed,
			     const uint8_t id[SFS_FILE_ID_BYTES])
{
	uint8_t vk[SFS_KEY_BYTES], kc[SFS_KEY_BYTES];

	memset(vk, seed, sizeof(vk));
	cr_assert_eq(
	    crypto_kdf_derive_from_key(kc, sizeof(kc), 1, "sfs-cont", vk), 0);
	cr_assert_eq(crypto_generichash(key, SFS_KEY_BYTES, id,
					SFS_FILE_ID_BYTES, kc, sizeof(kc)),
		     0);
}

/* libsodium's detached AEAD, called directly: ct (len bytes) and a 16-byte
 * tag under the given nonce. */
static void seal_by_hand(enum sfs_aead aead, const uint8_t *key,
			 const uint8_t *nonce, uint8_t *ct, uint8_t *tag,
			 const uint8_t *in, size_t len, const uint8_t *ad,
			 size_t ad_len)
{
	int rc;

	if (aead == SFS_AEAD_AES256GCM)
		rc = crypto_aead_aes256gcm_encrypt_detached(
		    ct, tag, NULL, in, len, ad, ad_len, NULL, nonce, key);
	else
		rc = crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
		    ct, tag, NULL, in, len, ad, ad_len, NULL, nonce, key);
	cr_assert_eq(rc, 0);
}

static int open_by_hand(enum sfs_aead aead, const uint8_t *key,
			const uint8_t *nonce, uint8_t *out, const uint8_t *ct,
			size_t len, const uint8_t *tag, const uint8_t *ad,
			size_t ad_len)
{
	if (aead == SFS_AEAD_AES256GCM)
		return crypto_aead_aes256gcm_decrypt_detached(
		    out, NULL, ct, len, tag, ad, ad_len, nonce, key);
	return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
	    out, NULL, ct, len, tag, ad, ad_len, nonce, key);
}

AEAD_PARAMS(block_round_trip)
ParameterizedTest(struct aead_case *tc, crypto, block_round_trip)
{
	static const size_t lens[] = {0, 1, 15, 16, 17, 100, 4095, 4096};
	uint8_t in[4096], ct[4096 + 1], ct2[4096], out[4096 + 1];
	uint8_t slot[40 + 8], slot2[40];
	uint8_t id[SFS_FILE_ID_BYTES] = {9};
	size_t nlen = tc->overhead - SFS_TAG_BYTES;
	struct sfs_file_key fk;
	struct sfs_crypto *c;
	size_t i, j;

	skip_unavailable(tc->aead);
	c = crypto_fixed(tc->aead, 1);
	cr_assert_eq(sfs_crypto_aead(c), tc->aead);
	cr_assert_eq(sfs_crypto_overhead(c), tc->overhead);
	cr_assert_eq(sfs_file_key_derive(&fk, c, id), 0);
	fill(in, sizeof(in), 3);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = lens[i];

		memset(ct, 0xcc, sizeof(ct));
		memset(slot, 0xcc, sizeof(slot));
		memset(out, 0xee, sizeof(out));
		cr_assert_eq(sfs_block_seal(&fk, ct, slot, in, n, ad0, 24), 0);
		/* Exactly len ciphertext bytes and overhead slot bytes. */
		cr_assert_eq(ct[n], 0xcc, "len %zu: ciphertext overruns", n);
		for (j = tc->overhead; j < sizeof(slot); j++)
			cr_assert_eq(slot[j], 0xcc, "len %zu: slot overruns",
				     n);
		cr_assert(!sfs_is_zero(slot, nlen), "len %zu: zero nonce", n);
		cr_assert_eq(sfs_block_open(&fk, out, ct, n, slot, ad0, 24), 0,
			     "len %zu", n);
		cr_assert_eq(memcmp(out, in, n), 0, "len %zu", n);
		cr_assert_eq(out[n], 0xee, "len %zu: plaintext overruns", n);
		/* Fresh nonce every time, so ciphertexts never repeat. */
		cr_assert_eq(sfs_block_seal(&fk, ct2, slot2, in, n, ad0, 24),
			     0);
		cr_assert_neq(memcmp(slot, slot2, nlen), 0, "nonce repeats");
		cr_assert_neq(memcmp(slot + nlen, slot2 + nlen, SFS_TAG_BYTES),
			      0);
		if (n >= 16) {
			cr_assert_neq(memcmp(ct, ct2, n), 0);
			cr_assert_neq(memcmp(ct, in, n), 0,
				      "plaintext visible");
		}
	}
	/* NULL AD with zero length is fine too. */
	cr_assert_eq(sfs_block_seal(&fk, ct, slot, in, 10, NULL, 0), 0);
	cr_assert_eq(sfs_block_open(&fk, out, ct, 10, slot, NULL, 0), 0);
	cr_assert_eq(memcmp(out, in, 10), 0);
	sfs_file_key_wipe(&fk);
	cr_assert(sfs_is_zero(&fk, sizeof(fk)));
	sfs_crypto_free(c);
}

/* ct may be in and out may be ct: both ciphers seal and open in place. */
AEAD_PARAMS(block_in_place)
ParameterizedTest(struct aead_case *tc, crypto, block_in_place)
{
	static const size_t lens[] = {1, 17, 100, 4095, 4096};
	uint8_t in[4096], buf[4096], out[4096], slot[40];
	uint8_t id[SFS_FILE_ID_BYTES] = {8};
	struct sfs_file_key fk;
	struct sfs_crypto *c;
	size_t i;

	skip_unavailable(tc->aead);
	c = crypto_fixed(tc->aead, 15);
	cr_assert_eq(sfs_file_key_derive(&fk, c, id), 0);
	fill(in, sizeof(in), 4);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = lens[i];

		memcpy(buf, in, n);
		cr_assert_eq(sfs_block_seal(&fk, buf, slot, buf, n, ad0, 24), 0,
			     "len %zu", n);
		if (n >= 16)
			cr_assert_neq(
			    memcmp(buf, in, n), 0,
			    "len %zu: sealed in place, plaintext left", n);
		/* An ordinary ciphertext: it opens into another buffer. */
		memset(out, 0xaa, n);
		cr_assert_eq(sfs_block_open(&fk, out, buf, n, slot, ad0, 24), 0,
			     "len %zu", n);
		cr_assert_eq(memcmp(out, in, n), 0, "len %zu", n);
		/* And in place. */
		cr_assert_eq(sfs_block_open(&fk, buf, buf, n, slot, ad0, 24), 0,
			     "len %zu: open in place", n);
		cr_assert_eq(memcmp(buf, in, n), 0, "len %zu", n);
		/* A failed open in place leaves zeros, not the ciphertext. */
		cr_assert_eq(sfs_block_seal(&fk, buf, slot, buf, n, ad0, 24),
			     0);
		buf[n / 2] ^= 0x10;
		cr_assert_neq(sfs_block_open(&fk, buf, buf, n, slot, ad0, 24),
			      0, "len %zu", n);
		cr_assert(sfs_is_zero(buf, n), "len %zu: not wiped", n);
	}
	sfs_file_key_wipe(&fk);
	sfs_crypto_free(c);
}

/* Pins the block format: the slot is nonce || tag, the ciphertext is
 * libsodium's detached ciphertext under the per-file key. A block sealed
 * here (by OpenSSL, for AES-GCM) opens with libsodium directly, and the
 * other way round: volumes written when libsodium sealed AES-GCM blocks
 * too still open. */
AEAD_PARAMS(block_matches_libsodium)
ParameterizedTest(struct aead_case *tc, crypto, block_matches_libsodium)
{
	enum { N = 300 };
	uint8_t id[SFS_FILE_ID_BYTES], key[SFS_KEY_BYTES];
	uint8_t in[N], ct[N], out[N], slot[40];
	size_t nlen = tc->overhead - SFS_TAG_BYTES, i;
	struct sfs_file_key fk;
	struct sfs_crypto *c;

	skip_unavailable(tc->aead);
	cr_assert_eq(nlen, sfs_aead_nonce_bytes(tc->aead));
	for (i = 0; i < sizeof(id); i++)
		id[i] = (uint8_t)(i + 1);
	c = crypto_fixed(tc->aead, 0x42);
	cr_assert_eq(sfs_file_key_derive(&fk, c, id), 0);
	file_key_by_hand(key, 0x42, id);
	fill(in, N, 1);

	cr_assert_eq(sfs_block_seal(&fk, ct, slot, in, N, ad0, 24), 0);
	memset(out, 0, N);
	cr_assert_eq(
	    open_by_hand(tc->aead, key, slot, out, ct, N, slot + nlen, ad0, 24),
	    0, "libsodium cannot open a sealed block");
	cr_assert_eq(memcmp(out, in, N), 0);

	memset(slot, 0x5c, nlen);
	seal_by_hand(tc->aead, key, slot, ct, slot + nlen, in, N, ad0, 24);
	memset(out, 0xaa, N);
	cr_assert_eq(sfs_block_open(&fk, out, ct, N, slot, ad0, 24), 0,
		     "a block sealed with libsodium does not open");
	cr_assert_eq(memcmp(out, in, N), 0);
	sodium_memzero(key, sizeof(key));
	sfs_file_key_wipe(&fk);
	sfs_crypto_free(c);
}

/* An all-zero nonce marks a hole: a block sealed (by hand) under the zero
 * nonce is refused although its tag is valid. */
AEAD_PARAMS(block_zero_nonce_refused)
ParameterizedTest(struct aead_case *tc, crypto, block_zero_nonce_refused)
{
	enum { N = 64 };
	uint8_t id[SFS_FILE_ID_BYTES] = {3}, key[SFS_KEY_BYTES];
	uint8_t in[N], ct[N], out[N], slot[40];
	size_t nlen = tc->overhead - SFS_TAG_BYTES;
	struct sfs_file_key fk;
	struct sfs_crypto *c;

	skip_unavailable(tc->aead);
	c = crypto_fixed(tc->aead, 16);
	cr_assert_eq(sfs_file_key_derive(&fk, c, id), 0);
	file_key_by_hand(key, 16, id);
	fill(in, N, 2);

	memset(slot, 0, nlen);
	seal_by_hand(tc->aead, key, slot, ct, slot + nlen, in, N, ad0, 24);
	cr_assert_eq(
	    open_by_hand(tc->aead, key, slot, out, ct, N, slot + nlen, ad0, 24),
	    0, "the tag is valid");
	memset(out, 0xaa, N);
	cr_assert_neq(sfs_block_open(&fk, out, ct, N, slot, ad0, 24), 0,
		      "zero nonce accepted");
	cr_assert(sfs_is_zero(out, N));
	/* An empty block under the zero nonce too. */
	seal_by_hand(tc->aead, key, slot, ct, slot + nlen, in, 0, ad0, 24);
	cr_assert_neq(sfs_block_open(&fk, out, ct, 0, slot, ad0, 24), 0);

	/* Only the all-zero nonce: one set bit makes an ordinary nonce. */
	slot[nlen - 1] = 1;
	seal_by_hand(tc->aead, key, slot, ct, slot + nlen, in, N, ad0, 24);
	cr_assert_eq(sfs_block_open(&fk, out, ct, N, slot, ad0, 24), 0);
	cr_assert_eq(memcmp(out, in, N), 0);
	sodium_memzero(key, sizeof(key));
	sfs_file_key_wipe(&fk);
	sfs_crypto_free(c);
}

/* Nonces come from a per-thread pool: many seals in a row never repeat a
 * nonce, and a forked child must not draw the bytes its parent draws next. */
Test(crypto, block_nonces_never_repeat_also_across_fork)
{
	enum { SEALS = 2000, N = 16 };
	static uint8_t nonces[SEALS][24];
	uint8_t id[SFS_FILE_ID_BYTES] = {1}, in[N] = {0}, ad[24] = {0};
	uint8_t ct[N], slot[40], child_nonce[24];
	struct sfs_crypto *c = crypto_fixed(SFS_AEAD_XCHACHA20POLY1305, 5);
	struct sfs_file_key fk;
	int pfd[2], status;
	pid_t pid;

	cr_assert_eq(sfs_file_key_derive(&fk, c, id), 0);
	for (int i = 0; i < SEALS; i++) {
		cr_assert_eq(sfs_block_seal(&fk, ct, slot, in, N, ad, 24), 0);
		memcpy(nonces[i], slot, 24);
		for (int j = 0; j < i; j++)
			cr_assert_neq(memcmp(nonces[i], nonces[j], 24), 0,
				      "nonce %d repeats nonce %d", i, j);
	}
	cr_assert_eq(pipe(pfd), 0);
	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int ok = sfs_block_seal(&fk, ct, slot, in, N, ad, 24) == 0 &&
			 write(pfd[1], slot, 24) == 24;
		_exit(ok ? 0 : 1);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_eq(read(pfd[0], child_nonce, 24), 24);
	cr_assert_eq(sfs_block_seal(&fk, ct, slot, in, N, ad, 24), 0);
	cr_assert_neq(memcmp(slot, child_nonce, 24), 0,
		      "parent and forked child drew the same nonce");
	close(pfd[0]);
	close(pfd[1]);
	sfs_file_key_wipe(&fk);
	sfs_crypto_free(c);
}

/* Every single-bit flip anywhere in the ciphertext or in the slot (nonce,
 * tag) must fail and leave the output zeroed. */
AEAD_PARAMS(block_tamper_every_bit)
ParameterizedTest(struct aead_case *tc, crypto, block_tamper_every_bit)
{
	enum { N = 48 };
	uint8_t in[N], ct[N], bad[N], slot[40], bad_slot[40], out[N];
	uint8_t id[SFS_FILE_ID_BYTES] = {9};
	struct sfs_file_key fk;
	struct sfs_crypto *c;
	size_t byte;
	int bit;

	skip_unavailable(tc->aead);
	c = crypto_fixed(tc->aead, 2);
	cr_assert_eq(sfs_file_key_derive(&fk, c, id), 0);
	fill(in, N, 5);
	cr_assert_eq(sfs_block_seal(&fk, ct, slot, in, N, ad0, 24), 0);
	cr_assert_eq(sfs_block_open(&fk, out, ct, N, slot, ad0, 24), 0);
	for (byte = 0; byte < N; byte++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(bad, ct, N);
			bad[byte] ^= (uint8_t)(1u << bit);
			memset(out, 0xaa, N);
			cr_assert_neq(
			    sfs_block_open(&fk, out, bad, N, slot, ad0, 24), 0,
			    "ciphertext byte %zu bit %d accepted", byte, bit);
			cr_assert(sfs_is_zero(out, N), "output not zeroed");
		}
	}
	for (byte = 0; byte < tc->overhead; byte++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(bad_slot, slot, tc->overhead);
			bad_slot[byte] ^= (uint8_t)(1u << bit);
			memset(out, 0xaa, N);
			cr_assert_neq(
			    sfs_block_open(&fk, out, ct, N, bad_slot, ad0, 24),
			    0, "slot byte %zu bit %d accepted", byte, bit);
			cr_assert(sfs_is_zero(out, N), "output not zeroed");
		}
	}
	/* An empty block is all slot: its tag still covers the AD. */
	cr_assert_eq(sfs_block_seal(&fk, ct, slot, in, 0, ad0, 24), 0);
	cr_assert_eq(sfs_block_open(&fk, out, ct, 0, slot, ad0, 24), 0);
	for (byte = 0; byte < tc->overhead; byte++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(bad_slot, slot, tc->overhead);
			bad_slot[byte] ^= (uint8_t)(1u << bit);
			cr_assert_neq(
			    sfs_block_open(&fk, out, ct, 0, bad_slot, ad0, 24),
			    0, "empty block: slot byte %zu bit %d accepted",
			    byte, bit);
		}
	}
	sfs_file_key_wipe(&fk);
	sfs_crypto_free(c);
}

AEAD_PARAMS(block_wrong_context)
ParameterizedTest(struct aead_case *tc, crypto, block_wrong_context)
{
	enum { N = 100 };
	uint8_t in[N], ct[N + 1], ct2[N], out[N + 1];
	uint8_t slot[40], slot2[40], bad_slot[40];
	uint8_t id[SFS_FILE_ID_BYTES] = {9}, id2[SFS_FILE_ID_BYTES] = {10};
	uint8_t ad1[24];
	size_t nlen = tc->overhead - SFS_TAG_BYTES;
	struct sfs_file_key fk, fk2;
	struct sfs_crypto *c, *other;

	skip_unavailable(tc->aead);
	c = crypto_fixed(tc->aead, 3);
	other = crypto_fixed(tc->aead, 4);
	cr_assert_eq(sfs_file_key_derive(&fk, c, id), 0);
	fill(in, N, 7);
	cr_assert_eq(sfs_block_seal(&fk, ct, slot, in, N, ad0, 24), 0);

	/* Other block number in the AD. */
	memcpy(ad1, ad0, 24);
	ad1[23] ^= 1;
	memset(out, 0xaa, N);
	cr_assert_neq(sfs_block_open(&fk, out, ct, N, slot, ad1, 24), 0);
	cr_assert(sfs_is_zero(out, N));
	/* AD shorter / absent. */
	cr_assert_neq(sfs_block_open(&fk, out, ct, N, slot, ad0, 23), 0);
	cr_assert_neq(sfs_block_open(&fk, out, ct, N, slot, NULL, 0), 0);

	/* Other file id: other per-file key. */
	cr_assert_eq(sfs_file_key_derive(&fk2, c, id2), 0);
	memset(out, 0xaa, N);
	cr_assert_neq(sfs_block_open(&fk2, out, ct, N, slot, ad0, 24), 0);
	cr_assert(sfs_is_zero(out, N));
	sfs_file_key_wipe(&fk2);

	/* Same file id, other volume key. */
	cr_assert_eq(sfs_file_key_derive(&fk2, other, id), 0);
	cr_assert_neq(sfs_block_open(&fk2, out, ct, N, slot, ad0, 24), 0);
	sfs_file_key_wipe(&fk2);

	/* Re-derived key for the same file works: derivation is stable. */
	cr_assert_eq(sfs_file_key_derive(&fk2, c, id), 0);
	cr_assert_eq(sfs_block_open(&fk2, out, ct, N, slot, ad0, 24), 0);
	cr_assert_eq(memcmp(out, in, N), 0);
	sfs_file_key_wipe(&fk2);

	/* Truncated by one byte (out is wiped, nothing past it touched), and
	 * extended by one byte. */
	memset(out, 0xaa, N + 1);
	cr_assert_neq(sfs_block_open(&fk, out, ct, N - 1, slot, ad0, 24), 0);
	cr_assert(sfs_is_zero(out, N - 1));
	cr_assert_eq(out[N - 1], 0xaa, "wrote past len");
	ct[N] = 0;
	memset(out, 0xaa, N + 1);
	cr_assert_neq(sfs_block_open(&fk, out, ct, N + 1, slot, ad0, 24), 0);
	cr_assert(sfs_is_zero(out, N + 1));
	/* The slot of a non-empty block does not open zero bytes. */
	cr_assert_neq(sfs_block_open(&fk, out, ct, 0, slot, ad0, 24), 0);

	/* Slots and ciphertexts of two blocks do not mix, even under the same
	 * key, AD and plaintext. */
	cr_assert_eq(sfs_block_seal(&fk, ct2, slot2, in, N, ad0, 24), 0);
	cr_assert_eq(sfs_block_open(&fk, out, ct2, N, slot2, ad0, 24), 0);
	memset(out, 0xaa, N);
	cr_assert_neq(sfs_block_open(&fk, out, ct, N, slot2, ad0, 24), 0);
	cr_assert(sfs_is_zero(out, N));
	cr_assert_neq(sfs_block_open(&fk, out, ct2, N, slot, ad0, 24), 0);

	/* All-zero nonce is the hole marker, never a sealed block. */
	memcpy(bad_slot, slot, tc->overhead);
	memset(bad_slot, 0, nlen);
	memset(out, 0xaa, N);
	cr_assert_neq(sfs_block_open(&fk, out, ct, N, bad_slot, ad0, 24), 0);
	cr_assert(sfs_is_zero(out, N));
	/* A hole (zero slot, zero data) is no block either: holes are the
	 * content layer's business. */
	memset(bad_slot, 0, tc->overhead);
	memset(ct, 0, N);
	cr_assert_neq(sfs_block_open(&fk, out, ct, N, bad_slot, ad0, 24), 0);

	sfs_file_key_wipe(&fk);
	sfs_crypto_free(c);
	sfs_crypto_free(other);
}

/* A key without an AEAD neither seals nor opens. */
Test(crypto, block_without_aead_fails)
{
	struct sfs_file_key fk = {.aead = SFS_AEAD_NONE};
	uint8_t in[32] = {1}, ct[32], slot[40] = {1}, out[32];

	cr_assert_neq(sfs_block_seal(&fk, ct, slot, in, 32, ad0, 24), 0);
	memset(out, 0xaa, sizeof(out));
	cr_assert_neq(sfs_block_open(&fk, out, in, 32, slot, ad0, 24), 0);
	cr_assert(sfs_is_zero(out, sizeof(out)));
}

Test(crypto, ciphers_do_not_cross)
{
	uint8_t in[64], ct[64], slot[40], out[64];
	uint8_t id[SFS_FILE_ID_BYTES] = {1};
	struct sfs_file_key fx, fa;
	struct sfs_crypto *cx, *ca;

	skip_unavailable(SFS_AEAD_AES256GCM);
	cx = crypto_fixed(SFS_AEAD_XCHACHA20POLY1305, 6);
	ca = crypto_fixed(SFS_AEAD_AES256GCM, 6);
	cr_assert_eq(sfs_file_key_derive(&fx, cx, id), 0);
	cr_assert_eq(sfs_file_key_derive(&fa, ca, id), 0);
	fill(in, sizeof(in), 1);
	cr_assert_eq(sfs_block_seal(&fx, ct, slot, in, 64, ad0, 24), 0);
	memset(out, 0xaa, sizeof(out));
	cr_assert_neq(sfs_block_open(&fa, out, ct, 64, slot, ad0, 24), 0);
	cr_assert(sfs_is_zero(out, sizeof(out)));
	memset(slot, 0x77, sizeof(slot));
	cr_assert_eq(sfs_block_seal(&fa, ct, slot, in, 64, ad0, 24), 0);
	memset(out, 0xaa, sizeof(out));
	cr_assert_neq(sfs_block_open(&fx, out, ct, 64, slot, ad0, 24), 0);
	cr_assert(sfs_is_zero(out, sizeof(out)));
	sfs_file_key_wipe(&fx);
	sfs_file_key_wipe(&fa);
	sfs_crypto_free(cx);
	sfs_crypto_free(ca);
}

/* ---- SIV ---- */

Test(crypto, siv_round_trip)
{
	static const size_t lens[] = {0, 1, 15, 16, 17, 64, 255, 1000};
	uint8_t pt[1000], ct[1000 + 16], out[1000];
	uint8_t iv[16];
	struct sfs_crypto *c = crypto_fixed(SFS_AEAD_XCHACHA20POLY1305, 7);
	size_t i;
	int p;

	fill(pt, sizeof(pt), 11);
	fill(iv, sizeof(iv), 13);
	for (p = SFS_SIV_NAME; p <= SFS_SIV_SYMLINK; p++) {
		for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			size_t n = lens[i];

			cr_assert_eq(sfs_siv_seal(c, p, ct, pt, n, iv, 16), 0);
			memset(out, 0xee, sizeof(out));
			cr_assert_eq(
			    sfs_siv_open(c, p, out, ct, n + 16, iv, 16), 0,
			    "purpose %d len %zu", p, n);
			cr_assert_eq(memcmp(out, pt, n), 0);
			if (n >= 16)
				cr_assert_neq(memcmp(ct + 16, pt, n), 0);
		}
	}
	/* Empty IV is a valid IV. */
	cr_assert_eq(sfs_siv_seal(c, SFS_SIV_SYMLINK, ct, pt, 20, NULL, 0), 0);
	cr_assert_eq(sfs_siv_open(c, SFS_SIV_SYMLINK, out, ct, 36, NULL, 0), 0);
	cr_assert_eq(memcmp(out, pt, 20), 0);
	sfs_crypto_free(c);
}

Test(crypto, siv_deterministic_and_iv_sensitive)
{
	uint8_t pt[40], a[56], b[56], out[40], iv[16], iv2[16];
	struct sfs_crypto *c = crypto_fixed(SFS_AEAD_XCHACHA20POLY1305, 8);
	struct sfs_crypto *c2 = crypto_fixed(SFS_AEAD_XCHACHA20POLY1305, 9);

	fill(pt, sizeof(pt), 1);
	fill(iv, sizeof(iv), 2);
	memcpy(iv2, iv, sizeof(iv));
	iv2[15] ^= 0x80;
	cr_assert_eq(sfs_siv_seal(c, SFS_SIV_NAME, a, pt, 40, iv, 16), 0);
	cr_assert_eq(sfs_siv_seal(c, SFS_SIV_NAME, b, pt, 40, iv, 16), 0);
	cr_assert_eq(memcmp(a, b, sizeof(a)), 0, "SIV is not deterministic");

	/* Other IV: other tag and other ciphertext; opening fails. */
	cr_assert_eq(sfs_siv_seal(c, SFS_SIV_NAME, b, pt, 40, iv2, 16), 0);
	cr_assert_neq(memcmp(a, b, 16), 0);
	cr_assert_neq(memcmp(a + 16, b + 16, 40), 0);
	memset(out, 0xaa, sizeof(out));
	cr_assert_neq(sfs_siv_open(c, SFS_SIV_NAME, out, a, 56, iv2, 16), 0);
	cr_assert(sfs_is_zero(out, sizeof(out)));
	cr_assert_neq(sfs_siv_open(c, SFS_SIV_NAME, out, a, 56, iv, 15), 0);
	cr_assert_neq(sfs_siv_open(c, SFS_SIV_NAME, out, a, 56, NULL, 0), 0);

	/* Other purpose: other subkeys. */
	cr_assert_eq(sfs_siv_seal(c, SFS_SIV_SYMLINK, b, pt, 40, iv, 16), 0);
	cr_assert_neq(memcmp(a, b, 16), 0);
	cr_assert_neq(sfs_siv_open(c, SFS_SIV_SYMLINK, out, a, 56, iv, 16), 0);

	/* Other volume key. */
	cr_assert_eq(sfs_siv_seal(c2, SFS_SIV_NAME, b, pt, 40, iv, 16), 0);
	cr_assert_neq(memcmp(a, b, 16), 0);
	cr_assert_neq(sfs_siv_open(c2, SFS_SIV_NAME, out, a, 56, iv, 16), 0);

	/* One plaintext bit changes the whole tag and keystream. */
	pt[39] ^= 1;
	cr_assert_eq(sfs_siv_seal(c, SFS_SIV_NAME, b, pt, 40, iv, 16), 0);
	cr_assert_neq(memcmp(a, b, 16), 0);
	cr_assert_neq(memcmp(a + 16, b + 16, 8), 0);
	sfs_crypto_free(c);
	sfs_crypto_free(c2);
}

Test(crypto, siv_iv_boundary_is_unambiguous)
{
	/* (iv "ab", pt "c") and (iv "a", pt "bc") hash the same bytes unless
	 * the IV length is encoded. */
	struct sfs_crypto *c = crypto_fixed(SFS_AEAD_XCHACHA20POLY1305, 10);
	uint8_t x[18], y[18];

	cr_assert_eq(sfs_siv_seal(c, SFS_SIV_NAME, x, (const uint8_t *)"c", 1,
				  (const uint8_t *)"ab", 2),
		     0);
	cr_assert_eq(sfs_siv_seal(c, SFS_SIV_NAME, y, (const uint8_t *)"bc", 2,
				  (const uint8_t *)"a", 1),
		     0);
	cr_assert_neq(memcmp(x, y, 16), 0);
	sfs_crypto_free(c);
}

Test(crypto, siv_tamper_every_bit)
{
	enum { N = 33 };
	uint8_t pt[N], ct[N + 16], bad[N + 16], out[N], iv[16];
	struct sfs_crypto *c = crypto_fixed(SFS_AEAD_XCHACHA20POLY1305, 11);
	size_t byte;
	int bit;

	fill(pt, N, 3);
	fill(iv, 16, 4);
	cr_assert_eq(sfs_siv_seal(c, SFS_SIV_NAME, ct, pt, N, iv, 16), 0);
	for (byte = 0; byte < sizeof(ct); byte++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(bad, ct, sizeof(ct));
			bad[byte] ^= (uint8_t)(1u << bit);
			memset(out, 0xaa, N);
			cr_assert_neq(sfs_siv_open(c, SFS_SIV_NAME, out, bad,
						   sizeof(bad), iv, 16),
				      0, "flip %zu.%d accepted", byte, bit);
			cr_assert(sfs_is_zero(out, N));
		}
	}
	/* Truncated: shorter plaintext no longer matches the tag. */
	memset(out, 0xaa, N);
	cr_assert_neq(
	    sfs_siv_open(c, SFS_SIV_NAME, out, ct, sizeof(ct) - 1, iv, 16), 0);
	cr_assert(sfs_is_zero(out, N - 1));
	/* Shorter than a tag. */
	cr_assert_neq(sfs_siv_open(c, SFS_SIV_NAME, out, ct, 15, iv, 16), 0);
	cr_assert_neq(sfs_siv_open(c, SFS_SIV_NAME, out, ct, 0, iv, 16), 0);
	sfs_crypto_free(c);
}

Test(crypto, siv_bad_purpose_is_a_bug, .signal = SIGABRT)
{
	struct sfs_crypto *c = crypto_fixed(SFS_AEAD_XCHACHA20POLY1305, 12);
	uint8_t out[17];

	(void)sfs_siv_seal(c, (enum sfs_siv_purpose)3, out,
			   (const uint8_t *)"x", 1, NULL, 0);
}

/* Pins the subkey contexts and the SIV construction: changing either makes
 * every existing volume unreadable, so it must fail a test. */
Test(crypto, siv_known_answer)
{
	/* Tags cross-checked with Python's hashlib.blake2b. */
	static const char *const want[] = {
	    [SFS_SIV_NAME] = "a0cf8dd0887bd6722de78527bb7bd46d6ca7fcff3f",
	    [SFS_SIV_SYMLINK] = "f04c6682a20bf73c4696eda34ff10e35580c92db89",
	};
	struct sfs_crypto *c = crypto_fixed(SFS_AEAD_XCHACHA20POLY1305, 0x42);
	uint8_t iv[16], ct[16 + 5];
	char got[2 * sizeof(ct) + 1];
	int p;

	memset(iv, 0x24, sizeof(iv));
	for (p = SFS_SIV_NAME; p <= SFS_SIV_SYMLINK; p++) {
		cr_assert_eq(
		    sfs_siv_seal(c, p, ct, (const uint8_t *)"hello", 5, iv, 16),
		    0);
		hex(got, ct, sizeof(ct));
		cr_assert_str_eq(got, want[p], "purpose %d", p);
	}
	sfs_crypto_free(c);
}

/* ---- xattr values ---- */

Test(crypto, xattr_values)
{
	uint8_t in[50], sealed[50 + SFS_XATTR_OVERHEAD],
	    sealed2[sizeof(sealed)];
	uint8_t bad[sizeof(sealed)], out[50];
	struct sfs_crypto *c = crypto_fixed(SFS_AEAD_XCHACHA20POLY1305, 13);
	struct sfs_crypto *c2 = crypto_fixed(SFS_AEAD_XCHACHA20POLY1305, 14);
	static const uint8_t ad[] = "file-id||user.name";
	size_t i;

	fill(in, sizeof(in), 9);
	cr_assert_eq(sfs_xattr_seal(c, sealed, in, 50, ad, sizeof(ad)), 0);
	cr_assert_eq(
	    sfs_xattr_open(c, out, sealed, sizeof(sealed), ad, sizeof(ad)), 0);
	cr_assert_eq(memcmp(out, in, 50), 0);
	cr_assert_eq(sfs_xattr_seal(c, sealed2, in, 50, ad, sizeof(ad)), 0);
	cr_assert_neq(memcmp(sealed, sealed2, sizeof(sealed)), 0);
	/* Bound to its AD (file and name). */
	memset(out, 0xaa, sizeof(out));
	cr_assert_neq(
	    sfs_xattr_open(c, out, sealed, sizeof(sealed), ad, sizeof(ad) - 1),
	    0);
	cr_assert(sfs_is_zero(out, sizeof(out)));
	cr_assert_neq(
	    sfs_xattr_open(c2, out, sealed, sizeof(sealed), ad, sizeof(ad)), 0);
	for (i = 0; i < sizeof(sealed); i++) {
		memcpy(bad, sealed, sizeof(sealed));
		bad[i] ^= 0x10;
		memset(out, 0xaa, sizeof(out));
		cr_assert_neq(
		    sfs_xattr_open(c, out, bad, sizeof(bad), ad, sizeof(ad)), 0,
		    "flip %zu accepted", i);
		cr_assert(sfs_is_zero(out, sizeof(out)));
	}
	cr_assert_neq(sfs_xattr_open(c, out, sealed, SFS_XATTR_OVERHEAD - 1, ad,
				     sizeof(ad)),
		      0);
	/* Empty value round trip. */
	cr_assert_eq(sfs_xattr_seal(c, sealed, in, 0, NULL, 0), 0);
	cr_assert_eq(
	    sfs_xattr_open(c, out, sealed, SFS_XATTR_OVERHEAD, NULL, 0), 0);
	sfs_crypto_free(c);
	sfs_crypto_free(c2);
}

/* ---- key wrap ---- */

Test(crypto, keywrap)
{
	uint8_t vk[SFS_KEY_BYTES], kek[SFS_KEY_BYTES], kek2[SFS_KEY_BYTES];
	uint8_t slot[SFS_KEYSLOT_BYTES], slot2[SFS_KEYSLOT_BYTES];
	uint8_t bad[SFS_KEYSLOT_BYTES], got[SFS_KEY_BYTES];
	static const uint8_t ad[] = "volume header fields";
	size_t i;

	sfs_random(vk, sizeof(vk));
	sfs_random(kek, sizeof(kek));
	memcpy(kek2, kek, sizeof(kek));
	kek2[0] ^= 1;
	cr_assert_eq(sfs_keywrap_seal(slot, vk, kek, ad, sizeof(ad)), 0);
	cr_assert_eq(sfs_keywrap_open(got, slot, kek, ad, sizeof(ad)), 0);
	cr_assert_eq(memcmp(got, vk, sizeof(vk)), 0);
	/* The slot does not contain the key in the clear. */
	for (i = 0; i + SFS_KEY_BYTES <= SFS_KEYSLOT_BYTES; i++)
		cr_assert_neq(memcmp(slot + i, vk, SFS_KEY_BYTES), 0);
	/* Random nonce: a second wrap differs. */
	cr_assert_eq(sfs_keywrap_seal(slot2, vk, kek, ad, sizeof(ad)), 0);
	cr_assert_neq(memcmp(slot, slot2, sizeof(slot)), 0);

	memset(got, 0xaa, sizeof(got));
	cr_assert_neq(sfs_keywrap_open(got, slot, kek2, ad, sizeof(ad)), 0);
	cr_assert(sfs_is_zero(got, sizeof(got)), "vk not wiped");
	memset(got, 0xaa, sizeof(got));
	cr_assert_neq(sfs_keywrap_open(got, slot, kek, ad, sizeof(ad) - 1), 0);
	cr_assert(sfs_is_zero(got, sizeof(got)));
	cr_assert_neq(sfs_keywrap_open(got, slot, kek, NULL, 0), 0);
	for (i = 0; i < SFS_KEYSLOT_BYTES; i++) {
		memcpy(bad, slot, sizeof(slot));
		bad[i] ^= 0x01;
		memset(got, 0xaa, sizeof(got));
		cr_assert_neq(sfs_keywrap_open(got, bad, kek, ad, sizeof(ad)),
			      0, "flip %zu accepted", i);
		cr_assert(sfs_is_zero(got, sizeof(got)));
	}
	/* No AD on both sides is consistent. */
	cr_assert_eq(sfs_keywrap_seal(slot, vk, kek, NULL, 0), 0);
	cr_assert_eq(sfs_keywrap_open(got, slot, kek, NULL, 0), 0);
	cr_assert_eq(memcmp(got, vk, sizeof(vk)), 0);
}

/* ---- KDF and key ids ---- */

Test(crypto, kdf)
{
	uint8_t key[SFS_KEY_BYTES], key2[SFS_KEY_BYTES];
	uint8_t a[32], b[32], big[64], small[16];

	fill(key, sizeof(key), 1);
	memcpy(key2, key, sizeof(key));
	key2[31] ^= 1;
	cr_assert_eq(sfs_kdf(a, 32, 1, "sfs-test", key), 0);
	cr_assert_eq(sfs_kdf(b, 32, 1, "sfs-test", key), 0);
	cr_assert_eq(memcmp(a, b, 32), 0, "not deterministic");
	cr_assert_eq(sfs_kdf(b, 32, 2, "sfs-test", key), 0);
	cr_assert_neq(memcmp(a, b, 32), 0, "subkey id ignored");
	cr_assert_eq(sfs_kdf(b, 32, 1, "sfs-tesu", key), 0);
	cr_assert_neq(memcmp(a, b, 32), 0, "context ignored");
	cr_assert_eq(sfs_kdf(b, 32, 1, "sfs-test", key2), 0);
	cr_assert_neq(memcmp(a, b, 32), 0, "key ignored");
	cr_assert_neq(memcmp(a, key, 32), 0);
	cr_assert_eq(sfs_kdf(small, 16, 1, "sfs-test", key), 0);
	cr_assert_eq(sfs_kdf(big, 64, 1, "sfs-test", key), 0);
	cr_assert_eq(sfs_kdf(big, 15, 1, "sfs-test", key), -1);
	cr_assert_eq(sfs_kdf(big, 65, 1, "sfs-test", key), -1);
	cr_assert_eq(sfs_kdf(big, 0, 1, "sfs-test", key), -1);
}

Test(crypto, key_id)
{
	uint8_t nmk[SFS_KEY_BYTES], nmk2[SFS_KEY_BYTES];
	uint8_t a[SFS_KEY_ID_BYTES], b[SFS_KEY_ID_BYTES], h[32];

	fill(nmk, sizeof(nmk), 1);
	memcpy(nmk2, nmk, sizeof(nmk));
	nmk2[17] ^= 4;
	sfs_key_id(nmk, a);
	sfs_key_id(nmk, b);
	cr_assert_eq(memcmp(a, b, sizeof(a)), 0, "key id not stable");
	cr_assert(!sfs_is_zero(a, sizeof(a)));
	sfs_key_id(nmk2, b);
	cr_assert_neq(memcmp(a, b, sizeof(a)), 0, "key ids collide");
	/* Not the key itself, nor a plain hash of it. */
	cr_assert_neq(memcmp(a, nmk, sizeof(a)), 0);
	sfs_hash256(h, nmk, sizeof(nmk));
	cr_assert_neq(memcmp(a, h, sizeof(a)), 0);
}

Test(crypto, key_id_known_answer)
{
	static const char want[] = "98d6e35b855181c8353182ac9de94429";
	uint8_t nmk[SFS_KEY_BYTES], id[SFS_KEY_ID_BYTES];
	char got[2 * SFS_KEY_ID_BYTES + 1];

	memset(nmk, 0x11, sizeof(nmk));
	sfs_key_id(nmk, id);
	hex(got, id, sizeof(id));
	cr_assert_str_eq(got, want);
}

/* Per-file keys: distinct per file, and distinct from the volume key. */
Test(crypto, file_keys_distinct)
{
	uint8_t vk[SFS_KEY_BYTES], id1[SFS_FILE_ID_BYTES] = {1};
	uint8_t id2[SFS_FILE_ID_BYTES] = {2};
	struct sfs_file_key k1, k1b, k2;
	struct sfs_crypto *c;

	memset(vk, 0x33, sizeof(vk));
	c = sfs_crypto_new(SFS_AEAD_XCHACHA20POLY1305, vk);
	cr_assert_not_null(c);
	cr_assert_eq(sfs_file_key_derive(&k1, c, id1), 0);
	cr_assert_eq(sfs_file_key_derive(&k1b, c, id1), 0);
	cr_assert_eq(sfs_file_key_derive(&k2, c, id2), 0);
	cr_assert_eq(k1.aead, SFS_AEAD_XCHACHA20POLY1305);
	cr_assert_eq(memcmp(k1.key, k1b.key, SFS_KEY_BYTES), 0);
	cr_assert_neq(memcmp(k1.key, k2.key, SFS_KEY_BYTES), 0);
	cr_assert_neq(memcmp(k1.key, vk, SFS_KEY_BYTES), 0);
	sfs_file_key_wipe(&k1);
	sfs_file_key_wipe(&k1b);
	sfs_file_key_wipe(&k2);
	sfs_crypto_free(c);
}
