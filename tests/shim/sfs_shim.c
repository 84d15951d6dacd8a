/* sfs_shim.c - an LD_PRELOAD library that breaks one property of the real
 * binaries on purpose, for tests/tools/test_selftest.c: scratchfs-ctl
 * selftest must then fail and name the right check.
 *
 *   SFS_SHIM=wrong-bytes  crypto_stream_xchacha20_xor returns its output
 *                         with one bit flipped (a broken library build; the
 *                         SIV stays self-consistent, so only known answers
 *                         can tell)
 *   SFS_SHIM=no-auth      content blocks decrypt without their tag being
 *                         checked (XChaCha20-Poly1305 and AES-256-GCM): a
 *                         disabled tamper check
 *   SFS_SHIM=plant        once the volume exists (BACKING/.sfs.diriv),
 *                         every content block's plaintext is also written
 *                         to BACKING/planted (a daemon that leaks)
 *   SFS_SHIM_COMM=NAME    only in processes whose comm is NAME (the daemon
 *                         is "scratchfs"); in every process when unset.
 * Anything else, or no SFS_SHIM: every call goes straight through.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sodium.h>

enum mode { NONE, WRONG_BYTES, NO_AUTH, PLANT };

static enum mode mode_of(void)
{
	static int cached = -1;
	const char *m = getenv("SFS_SHIM"), *comm = getenv("SFS_SHIM_COMM");
	char self[64] = "";

	if (cached >= 0)
		return (enum mode)cached;
	cached = NONE;
	if (comm && *comm) {
		FILE *f = fopen("/proc/self/comm", "re");

		if (f) {
			if (!fgets(self, sizeof(self), f))
				self[0] = '\0';
			fclose(f);
		}
		self[strcspn(self, "\n")] = '\0';
		if (strcmp(self, comm) != 0)
			return NONE;
	}
	if (m && !strcmp(m, "wrong-bytes"))
		cached = WRONG_BYTES;
	else if (m && !strcmp(m, "no-auth"))
		cached = NO_AUTH;
	else if (m && !strcmp(m, "plant"))
		cached = PLANT;
	return (enum mode)cached;
}

static void *real(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (!f)
		abort();
	return f;
}

/* Appends len bytes to BACKING/planted; BACKING is the daemon's
 * second-to-last argument. */
static void plant(const void *buf, size_t len)
{
	char args[8192], path[4200];
	const char *argv[64];
	int n = 0, fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	ssize_t got = fd >= 0 ? read(fd, args, sizeof(args) - 1) : -1;

	if (fd >= 0)
		close(fd);
	for (ssize_t i = 0; i < got && n < 64;
	     i += (ssize_t)strlen(args + i) + 1)
		argv[n++] = args + i;
	if (n < 3)
		return;
	/* Not before the mount: the cipher benchmark seals blocks too. */
	snprintf(path, sizeof(path), "%s/.sfs.diriv", argv[n - 2]);
	if (access(path, F_OK) != 0)
		return;
	snprintf(path, sizeof(path), "%s/planted", argv[n - 2]);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		if (write(fd, buf, len) < 0)
			perror("sfs_shim: planted");
		close(fd);
	}
}

int crypto_stream_xchacha20_xor(unsigned char *c, const unsigned char *m,
				unsigned long long mlen, const unsigned char *n,
				const unsigned char *k)
{
	int (*f)(unsigned char *, const unsigned char *, unsigned long long,
		 const unsigned char *, const unsigned char *) =
	    real("crypto_stream_xchacha20_xor");
	int rc = f(c, m, mlen, n, k);

	if (mode_of() == WRONG_BYTES && mlen > 0)
		c[0] ^= 0x01;
	return rc;
}

int crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
    unsigned char *c, unsigned char *mac, unsigned long long *maclen_p,
    const unsigned char *m, unsigned long long mlen, const unsigned char *ad,
    unsigned long long adlen, const unsigned char *nsec,
    const unsigned char *npub, const unsigned char *k)
{
	int (*f)(unsigned char *, unsigned char *, unsigned long long *,
		 const unsigned char *, unsigned long long,
		 const unsigned char *, unsigned long long,
		 const unsigned char *, const unsigned char *,
		 const unsigned char *) =
	    real("crypto_aead_xchacha20poly1305_ietf_encrypt_detached");

	if (mode_of() == PLANT)
		plant(m, mlen);
	return f(c, mac, maclen_p, m, mlen, ad, adlen, nsec, npub, k);
}

int crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
    unsigned char *m, unsigned char *nsec, const unsigned char *c,
    unsigned long long clen, const unsigned char *mac, const unsigned char *ad,
    unsigned long long adlen, const unsigned char *npub, const unsigned char *k)
{
	int (*f)(unsigned char *, unsigned char *, const unsigned char *,
		 unsigned long long, const unsigned char *,
		 const unsigned char *, unsigned long long,
		 const unsigned char *, const unsigned char *) =
	    real("crypto_aead_xchacha20poly1305_ietf_decrypt_detached");

	/* The IETF construction's keystream starts at block 1: decrypt
	 * and never look at the tag. */
	if (mode_of() == NO_AUTH)
		return crypto_stream_xchacha20_xor_ic(m, c, clen, npub, 1, k);
	return f(m, nsec, c, clen, mac, ad, adlen, npub, k);
}

int EVP_EncryptUpdate(EVP_CIPHER_CTX *ctx, unsigned char *out, int *outl,
		      const unsigned char *in, int inl)
{
	int (*f)(EVP_CIPHER_CTX *, unsigned char *, int *,
		 const unsigned char *, int) = real("EVP_EncryptUpdate");

	if (mode_of() == PLANT && out && inl > 0)
		plant(in, (size_t)inl);
	return f(ctx, out, outl, in, inl);
}

/* AES-256-GCM checks its tag in the final call. */
int EVP_DecryptFinal_ex(EVP_CIPHER_CTX *ctx, unsigned char *outm, int *outl)
{
	int (*f)(EVP_CIPHER_CTX *, unsigned char *, int *) =
	    real("EVP_DecryptFinal_ex");
	int rc = f(ctx, outm, outl);

	if (mode_of() == NO_AUTH) {
		*outl = 0;
		return 1;
	}
	return rc;
}
