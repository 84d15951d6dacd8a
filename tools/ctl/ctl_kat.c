/* ctl_kat.c - selftest's known answers: the format's primitives, as this
 * build computes them (libsodium, OpenSSL, this CPU), against the vectors
 * of doc/FORMAT.md section 12. Each AEAD check also flips one bit of a
 * vector and expects the open to fail. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_selftest.h"
#include "sfs_crypto.h"
#include "sfs_meta.h"
#include "sfs_volume.h"

/* Inputs: byte ranges start, start+1, ... (FORMAT.md section 12). */
#define VK_START 0x00
#define NMK_START 0x20
#define KEYSLOT_AD_START 0x60
#define DIRIV_START 0xa0
#define SYMLINK_ID_START 0xc0
#define FILE_ID_START 0x10
#define BLOCK_INDEX 3
#define NAME "hello.txt"
#define SYMLINK "../data/target"
#define XATTR_NAME "comment"
#define XATTR_VALUE "known answer"
#define BLOCK_PLAINTEXT "scratchfs known-answer block"

/* Outputs. */
static const struct {
	uint64_t id;
	const char *ctx;
	const char *hex;
} subkeys[] = {
    {1, "sfs-cont",
     "90904cdc02a8f122f06f62fbe0e2a4a73b3019231459a10ebaa9b393240b78a9"},
    {2, "sfs-nmac",
     "d07de51dd5e25315d8e078b4f8547c91fb4bfaa94ad57407e71c509d31988b40"},
    {3, "sfs-nenc",
     "b0cc8b8242fad7d98180f5cd52a27ce6b6023a39636ec8cf4e7b596e68c286de"},
    {4, "sfs-lmac",
     "e39df9be20ae748f8bada5da476f019210f28253d282f9114a2bee12005ba5a9"},
    {5, "sfs-lenc",
     "3158ff375e6134cf8ce9659f40f75d212d3349e68bc84905c51ff110a07bf48b"},
    {8, "sfs-xval",
     "6a7b754e0b234c1c1e2912ab36c73a68cf21f4939421eeb2095046ae79bf4d3d"},
};
static const char key_id_hex[] = "3f6e10ef8fde6ca2a5ae9e60d8f2c208";
static const char kek_hex[] =
    "977bcc2085c4dca614aa1d7035321b4a4b0ba2d5398a2d5c125806e30b2aaef6";
static const char keyslot_hex[] =
    "404142434445464748494a4b4c4d4e4f5051525354555657151818574e7f2c614aa256"
    "00f9843857b3387811f17511d6ab933a5d9a1cb582b4f5ef16daf0047978cfac7e90b2"
    "74dc";
static const char name_siv_hex[] =
    "a1be6edfc3e385ff026177dbe61ba6d53d380b6c882840fda2cc04c6e71b88bc";
static const char symlink_siv_hex[] =
    "38d42ccd05b51f784eaebb7b5faa4d1c80222d58998d1b23b712aa9b749c";
static const char symlink_ref[] = ".sfs.T.wMHCw8TFxsfIycrLzM3Ozw";
static const char symlink_sidecar_hex[] =
    "d625b3e707eac431db5271260a58969e0c32e87a3d241325833de693cf00";
static const char xattr_set_hex[] =
    "07000c636f6d6d656e746b6e6f776e20616e73776572";
static const char xattr_stored_hex[] =
    "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7e1c7f009251b82e6ee0f41"
    "7ef2f158551309e47bcf74693f61229a4bfd718a43437e559545fc";
static const struct {
	enum sfs_aead aead;
	size_t nonce_len;
	const char *ct_hex, *tag_hex;
} blocks[] = {
    {SFS_AEAD_XCHACHA20POLY1305, 24,
     "1c95d3d1a64c2d4abc1c7e3472f6c4ab4ea1f52720f8bd096be2db6b",
     "07fee499914518dd70d7e90d414538f7"},
    {SFS_AEAD_AES256GCM, 12,
     "08a290ade5e73ebd553067189a9dd69b335cd133f78482796fd22bd1",
     "d7773c6763f7f560220abdfb557828a3"},
};
#define BLOCK_NONCE_START 0xe0

static void seq(uint8_t *out, unsigned start, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)(start + i);
}

/* Decodes hex (lowercase, even length) into out (cap bytes). Returns the
 * length, or 0 when it does not fit (the vectors are never empty). */
static size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
	size_t n = strlen(hex) / 2;

	if (n > cap)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return 0;
		out[i] = (uint8_t)v;
	}
	return n;
}

/* True when len bytes at p are, in hex, want; else says which in r. */
static bool same(struct st_result *r, const char *what, const uint8_t *p,
		 size_t len, const char *want)
{
	char got[2 * 128 + 1];

	if (len > 128)
		return false;
	sfs_hex(got, p, len);
	if (strcmp(got, want) == 0)
		return true;
	st_fail(r, "%s is %s, FORMAT.md section 12 says %s", what, got, want);
	return false;
}

void st_kat_kdf(struct st_ctx *x, struct st_result *r)
{
	uint8_t vk[SFS_KEY_BYTES], nmk[SFS_KEY_BYTES], out[SFS_KEY_BYTES];
	char what[32];
	size_t i;

	(void)x;
	seq(vk, VK_START, sizeof(vk));
	seq(nmk, NMK_START, sizeof(nmk));
	for (i = 0; i < sizeof(subkeys) / sizeof(subkeys[0]); i++) {
		snprintf(what, sizeof(what), "KDF(vk, %u, \"%s\")",
			 (unsigned)subkeys[i].id, subkeys[i].ctx);
		if (sfs_kdf(out, sizeof(out), subkeys[i].id, subkeys[i].ctx,
			    vk) != 0) {
			st_fail(r, "%s failed", what);
			return;
		}
		if (!same(r, what, out, sizeof(out), subkeys[i].hex))
			return;
	}
	if (sfs_kdf(out, sizeof(out), 1, "sfskek01", nmk) != 0 ||
	    !same(r, "KEK", out, sizeof(out), kek_hex))
		return;
	sfs_key_id(nmk, out);
	if (!same(r, "node key id", out, SFS_KEY_ID_BYTES, key_id_hex))
		return;
	st_pass(r,
		"BLAKE2b KDF: %zu subkeys, the KEK and the node key id "
		"match",
		i);
}

void st_kat_siv(struct st_ctx *x, struct st_result *r)
{
	uint8_t vk[SFS_KEY_BYTES], iv[16], pad[16] = {0}, out[64], back[64];
	uint8_t id[SFS_SYMLINK_ID_BYTES];
	char ref[SFS_SYMLINK_REF_LEN + 1];
	struct sfs_crypto *c;

	(void)x;
	seq(vk, VK_START, sizeof(vk));
	seq(iv, DIRIV_START, sizeof(iv));
	memcpy(pad, NAME, strlen(NAME));
	c = sfs_crypto_new(SFS_AEAD_XCHACHA20POLY1305, vk);
	if (!c) {
		st_fail(r, "cannot derive the volume keys");
		return;
	}
	if (sfs_siv_seal(c, SFS_SIV_NAME, out, pad, sizeof(pad), iv,
			 sizeof(iv)) != 0 ||
	    !same(r, "SIV_name(\"" NAME "\")", out, 16 + sizeof(pad),
		  name_siv_hex))
		goto out;
	if (sfs_siv_seal(c, SFS_SIV_SYMLINK, out, (const uint8_t *)SYMLINK,
			 strlen(SYMLINK), NULL, 0) != 0 ||
	    !same(r, "SIV_symlink(\"" SYMLINK "\")", out, 16 + strlen(SYMLINK),
		  symlink_siv_hex))
		goto out;
	out[3] ^= 1;
	if (sfs_siv_open(c, SFS_SIV_SYMLINK, back, out, 16 + strlen(SYMLINK),
			 NULL, 0) == 0) {
		st_fail(r, "an SIV with a flipped tag bit opens");
		goto out;
	}
	seq(id, SYMLINK_ID_START, sizeof(id));
	sfs_symlink_ref(id, ref);
	if (strcmp(ref, symlink_ref) != 0) {
		st_fail(r, "the reference to a symlink target differs");
		goto out;
	}
	if (sfs_symlink_seal(c, id, SYMLINK, out) !=
		(ssize_t)(16 + strlen(SYMLINK)) ||
	    !same(r, "sidecar of \"" SYMLINK "\"", out, 16 + strlen(SYMLINK),
		  symlink_sidecar_hex))
		goto out;
	st_pass(r, "name and symlink SIVs (inline and sidecar) match; a "
		   "flipped bit is refused");
out:
	sfs_crypto_free(c);
}

/* Opens the vector's block with aead; a flipped tag bit must fail. */
static bool block_kat(struct st_result *r, size_t i)
{
	uint8_t vk[SFS_KEY_BYTES], fid[SFS_FILE_ID_BYTES], ad[24], ct[64],
	    slot[SFS_NONCE_MAX_BYTES + SFS_TAG_BYTES], pt[64];
	const char *name = sfs_aead_name(blocks[i].aead);
	size_t len = strlen(BLOCK_PLAINTEXT), n = blocks[i].nonce_len;
	struct sfs_file_key fk;
	struct sfs_crypto *c;
	bool ok = false;

	seq(vk, VK_START, sizeof(vk));
	seq(fid, FILE_ID_START, sizeof(fid));
	memcpy(ad, fid, sizeof(fid));
	for (int b = 0; b < 8; b++)
		ad[16 + b] = (uint8_t)((uint64_t)BLOCK_INDEX >> (56 - 8 * b));
	seq(slot, BLOCK_NONCE_START, n);
	if (unhex(ct, sizeof(ct), blocks[i].ct_hex) != len ||
	    unhex(slot + n, SFS_TAG_BYTES, blocks[i].tag_hex) !=
		SFS_TAG_BYTES) {
		st_fail(r, "%s: bad vector", name);
		return false;
	}
	c = sfs_crypto_new(blocks[i].aead, vk);
	if (!c || sfs_file_key_derive(&fk, c, fid) != 0) {
		st_fail(r, "%s: cannot derive the file key", name);
		sfs_crypto_free(c);
		return false;
	}
	if (sfs_block_open(&fk, pt, ct, len, slot, ad, sizeof(ad)) != 0)
		st_fail(r, "%s: the vector's block does not open", name);
	else if (memcmp(pt, BLOCK_PLAINTEXT, len) != 0)
		st_fail(r, "%s: the vector's block opens to other bytes", name);
	else if (slot[n] ^= 0x80,
		 sfs_block_open(&fk, pt, ct, len, slot, ad, sizeof(ad)) == 0)
		st_fail(r, "%s: a block with a flipped tag bit opens", name);
	else
		ok = true;
	sfs_file_key_wipe(&fk);
	sfs_crypto_free(c);
	return ok;
}

void st_kat_xchacha(struct st_ctx *x, struct st_result *r)
{
	uint8_t vk[SFS_KEY_BYTES], nmk[SFS_KEY_BYTES], kek[SFS_KEY_BYTES],
	    got[SFS_KEY_BYTES], ad[56], slot[SFS_KEYSLOT_BYTES], stored[96],
	    set[64];
	uint8_t *plain = malloc(SFS_XATTR_SET_MAX);
	struct sfs_crypto *c;
	size_t n, setlen;
	ssize_t m;

	(void)x;
	seq(vk, VK_START, sizeof(vk));
	seq(nmk, NMK_START, sizeof(nmk));
	seq(ad, KEYSLOT_AD_START, sizeof(ad));
	if (sfs_kdf(kek, sizeof(kek), 1, "sfskek01", nmk) != 0 ||
	    unhex(slot, sizeof(slot), keyslot_hex) != sizeof(slot)) {
		st_fail(r, "cannot set up the keyslot vector");
		return;
	}
	if (sfs_keywrap_open(got, slot, kek, ad, sizeof(ad)) != 0 ||
	    memcmp(got, vk, sizeof(vk)) != 0) {
		st_fail(r, "the keyslot vector does not unwrap to the volume "
			   "key");
		return;
	}
	slot[30] ^= 1;
	if (sfs_keywrap_open(got, slot, kek, ad, sizeof(ad)) == 0) {
		st_fail(r, "a keyslot with a flipped bit unwraps");
		return;
	}
	n = unhex(stored, sizeof(stored), xattr_stored_hex);
	setlen = unhex(set, sizeof(set), xattr_set_hex);
	c = sfs_crypto_new(SFS_AEAD_XCHACHA20POLY1305, vk);
	if (!c || !plain) {
		st_fail(r, "cannot derive the volume keys");
		sfs_crypto_free(c);
		free(plain);
		return;
	}
	m = sfs_xattr_set_open(c, stored, n, plain);
	sfs_crypto_free(c);
	if (m != (ssize_t)setlen || memcmp(plain, set, setlen) != 0) {
		st_fail(r,
			"the xattr set vector does not open to user.%s = "
			"\"%s\"",
			XATTR_NAME, XATTR_VALUE);
		free(plain);
		return;
	}
	free(plain);
	if (block_kat(r, 0))
		st_pass(r, "keyslot, xattr set and content block open to the "
			   "vectors' plaintexts; flipped bits are refused");
}

void st_kat_gcm(struct st_ctx *x, struct st_result *r)
{
	(void)x;
	if (!sfs_aead_available(SFS_AEAD_AES256GCM))
		st_pass(r, "not checked: this CPU lacks AES-NI or PCLMUL, so "
			   "scratchfs never uses AES-256-GCM here");
	else if (block_kat(r, 1))
		st_pass(r, "content block (OpenSSL AES-256-GCM) opens to the "
			   "vector's plaintext; a flipped tag bit is refused");
}
