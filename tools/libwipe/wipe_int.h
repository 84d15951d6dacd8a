/* wipe_int.h - what the wipe engine's files (wipe.c, unmount.c, tree.c)
 * share: the state of one wipe and the steps they call of each other. Not
 * for the engine's users: they have sfs_wipe.h. */
#ifndef SFS_WIPE_INT_H
#define SFS_WIPE_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "sfs_wipe.h"

#define META_DIR ".scratchfs"
#define TMP_FILE "volume.tmp"
/* Written (fsynced) before any key material or file is destroyed and
 * removed last, so an interrupted wipe is recognised and finished. */
#define MARKER_FILE "wiping"
/* Several stacked or bind-mounted copies of one volume, at most. */
#define MAX_MOUNTS 16
#define MAX_DAEMONS 8
/* Key files are tiny; anything bigger under these names is only
 * unlinked after its first MiB is overwritten. */
#define KEY_FILE_MAX (1U << 20)
#define IO_CHUNK (1U << 20)
/* How long a mount's daemon has to answer a statfs before it counts as
 * stopped or stuck (the mount is then detached, the daemon stopped). */
#define PROBE_MS 3000
/* Waits for a daemon after unmount: own exit, then SIGTERM, SIGKILL. */
#define DAEMON_EXIT_MS 3000
#define DAEMON_TERM_MS 3000
#define DAEMON_KILL_MS 2000

#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000
#endif

/* What the backing directory turned out to be before anything changed. */
enum kind {
	K_VOLUME,     /* valid header */
	K_BAD_HEADER, /* .scratchfs/volume is a regular file that fails to
			 parse: still ours to wipe, mode unknown */
	K_HALF,	      /* interrupted wipe or creation */
	K_WIPED,      /* only an empty .scratchfs/ */
	K_EMPTY,      /* nothing at all */
	K_FOREIGN,    /* not a volume: refuse */
};

struct daemon {
	int pid;
	unsigned long long start; /* against pid reuse */
};

struct dev_ino {
	dev_t dev;
	ino_t ino;
};

struct ctx {
	const struct sfs_wipe_opts *o;
	struct sfs_wipe_report *r;
	char *err;
	size_t err_len;
	int bfd;    /* backing directory */
	int metafd; /* backing/.scratchfs, or -1 */
	dev_t dev;  /* backing filesystem */
	uint64_t mnt_id;
	bool have_mnt_id;
	unsigned int passes; /* effective: 0 for encrypted volumes */
	struct daemon daemons[MAX_DAEMONS];
	int ndaemons;
	/* Entries that could not be removed: skipped on later scans. */
	struct dev_ino *left;
	size_t nleft, capleft;
	int first_err;	 /* first deletion error (-errno), 0 if none */
	const char *why; /* why it is not a volume */
	/* progress */
	uint64_t total_bytes; /* to overwrite, all passes; 0 unknown */
	double last_progress;
};

/* A scratchfs mount, copied out of its mountinfo line. */
struct mi_entry {
	unsigned int major, minor;
	char mnt[PATH_MAX];
	char source[PATH_MAX];
	long user_id; /* fuse "user_id=" super option, -1 if absent */
};

/* wipe.c */
/* Milliseconds on the monotonic clock. */
double wipe_now_ms(void);
/* Lists dfd's entries (without . and ..) into a NULL-terminated array of
 * at most max names; returns the total count or -errno. */
int wipe_list_dir(int dfd, char names[][NAME_MAX + 1], int max);
/* 0 for a count, or the -errno. */
int wipe_status_of(ssize_t n);

/* unmount.c */
/* Calls match for every scratchfs mount; the last one it accepts is copied
 * to out. Returns 1 when one matched, 0 when none, -errno. */
int wipe_mi_find(bool (*match)(const struct mi_entry *, const void *),
		 const void *arg, struct mi_entry *out);
/* A match for wipe_mi_find: the mount at mnt (a string). */
bool wipe_match_mnt(const struct mi_entry *e, const void *mnt);
/* Whether pid still is the process recorded in d. */
bool wipe_daemon_alive(const struct daemon *d);
/* Records in c the daemons serving the backing directory bst. */
void wipe_find_daemons(struct ctx *c, const struct stat *bst);
/* Unmounts every scratchfs mount of the backing directory. */
int wipe_unmount_all(struct ctx *c);
/* Makes sure the daemons that served the volume have exited. */
int wipe_stop_daemons(struct ctx *c);

/* tree.c */
/* Empties the backing directory (except .scratchfs), then .scratchfs/
 * (except the marker: what fsck --quarantine put there), overwriting
 * files first when c->passes asks for it. */
int wipe_delete_tree(struct ctx *c);
/* Opens dfd/name for writing, never following a symlink, when it still
 * is the regular file (dev, ino) that a walk found and has no other link
 * (st: its fstat). The fd, -EMLINK when it is another file or hard-linked
 * (overwriting it would reach data outside the volume), or -errno. */
int wipe_open_sole(int dfd, const char *name, dev_t dev, ino_t ino,
		   struct stat *st);
/* Checks what the wipe left and records it in c->r. */
void wipe_verify(struct ctx *c);

#endif
