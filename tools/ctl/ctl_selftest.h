/* ctl_selftest.h - the checks of `scratchfs-ctl selftest`: platform
 * (ctl_st_platform.c), known answers (ctl_kat.c) and the volume checks
 * (ctl_st_volume.c), run in order by ctl_selftest.c. */
#ifndef SFS_CTL_SELFTEST_H
#define SFS_CTL_SELFTEST_H

#include <limits.h>
#include <stdbool.h>

#include "sfs_config.h"

#define ST_DETAIL_MAX 512U
/* Random canaries: 24 bytes each, written as 32 base64url characters. */
#define ST_CANARIES 9
#define ST_CANARY_LEN 32U

/* What a check found: pass/fail and what it measured (one line). */
struct st_result {
	bool pass;
	char detail[ST_DETAIL_MAX];
};

/* Everything the checks share. Paths are under dir, the selftest's own
 * mkdtemp'ed directory in the backing root; nothing outside it is
 * created, mounted or deleted. */
struct st_ctx {
	const char *conf; /* -c CONF, or NULL (the default file if any) */
	struct sfs_config cfg;
	char daemon[PATH_MAX]; /* the scratchfs binary next to ours */
	char dir[PATH_MAX];
	char hbi_backing[PATH_MAX], hbi_mnt[PATH_MAX];
	char plain_backing[PATH_MAX], plain_mnt[PATH_MAX];
	char control[PATH_MAX]; /* a plain directory: the control write */
	char log[PATH_MAX];	/* the daemons' output */
	char canary[ST_CANARIES][ST_CANARY_LEN + 1];
	bool hbi_written; /* the at-rest recipe is on the hbi mount */
};

/* One check: fills r (r->pass is false and r->detail empty on entry). */
typedef void (*st_check_fn)(struct st_ctx *x, struct st_result *r);

/* Sets r to a failure with a printf-style detail. */
void st_fail(struct st_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Sets r to a pass with a printf-style detail. */
void st_pass(struct st_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void st_platform_fuse(struct st_ctx *x, struct st_result *r);
void st_platform_cpu(struct st_ctx *x, struct st_result *r);
void st_platform_rng(struct st_ctx *x, struct st_result *r);
void st_platform_uring(struct st_ctx *x, struct st_result *r);
void st_platform_key(struct st_ctx *x, struct st_result *r);

void st_kat_kdf(struct st_ctx *x, struct st_result *r);
void st_kat_siv(struct st_ctx *x, struct st_result *r);
void st_kat_xchacha(struct st_ctx *x, struct st_result *r);
void st_kat_gcm(struct st_ctx *x, struct st_result *r);

void st_control(struct st_ctx *x, struct st_result *r);
void st_at_rest(struct st_ctx *x, struct st_result *r);
void st_tamper(struct st_ctx *x, struct st_result *r);
void st_crypto_erase(struct st_ctx *x, struct st_result *r);
void st_passthrough(struct st_ctx *x, struct st_result *r);

/* Wipes whatever is left of the selftest's volumes under x->dir
 * (unmounting them and stopping their daemons) and removes x->dir. Returns
 * 0, or -1 with the problem on stderr. Safe to call at any point. */
int st_cleanup(struct st_ctx *x);

#endif
