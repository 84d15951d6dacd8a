/* mount_util.h - harness for Criterion tests that really mount scratchfs. */
#ifndef SFS_MOUNT_UTIL_H
#define SFS_MOUNT_UTIL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifndef SFS_BUILD_DIR
#define SFS_BUILD_DIR "build"
#endif

/* Every scratch root is mkdtemp'ed from this template; teardown and
 * tools/run-tests.sh refuse to touch anything outside it. */
#define SFS_TEST_ROOT_PREFIX "/tmp/sfs-test."

/* Seconds to wait for a mount to appear, a daemon to exit after unmount,
 * or a daemon that is expected to fail to exit. Generous: a daemon's last
 * audit records are fdatasynced, which a loaded disk can hold up for
 * seconds; a hang still fails. */
#define SFS_MOUNT_WAIT_S 10
#define SFS_STOP_WAIT_S 15

/*
 * One scratch volume: root/ holds backing/ (the daemon's BACKING), mnt/ (the
 * mount point), ref/ (a plain directory to compare behaviour against),
 * daemon.log (the daemon's stdout+stderr, appended across runs) and
 * scratchfs.conf (empty = built-in defaults; tests may rewrite it).
 * Nothing in here is shared between tests: each test makes its own.
 */
struct sfs_mount {
	char root[PATH_MAX];
	char backing[PATH_MAX];
	char mnt[PATH_MAX];
	char ref[PATH_MAX];
	char log[PATH_MAX];
	char conf[PATH_MAX];
	pid_t pid;	 /* the running daemon, or -1 */
	bool mounted;	 /* mnt is (believed to be) a live scratchfs mount */
	int last_status; /* exit status of the last daemon that ended, or -1 */
	/* When not 0, the daemon runs with RLIMIT_NOFILE soft = hard = nofile
	 * (at most the hard limit it would inherit; set before
	 * sfs_mount_start; sfs_mount_setup clears it). */
	unsigned long nofile;
};

/*
 * Create a fresh root under /tmp/sfs-test.XXXXXX with backing/, mnt/, ref/,
 * an empty conf file and an empty log. Fails the test on error.
 */
void sfs_mount_setup(struct sfs_mount *m);

/* Replace m->conf with @text (a libconfig file). Fails the test on error. */
void sfs_mount_write_conf(struct sfs_mount *m, const char *text);

/*
 * Replace m->conf with an audit log at root/audit.log (syslog off), then
 * @extra (more settings; NULL for none). Fails the test on error.
 */
void sfs_mount_write_audit_conf(struct sfs_mount *m, const char *extra);

/* Replace m->conf with key_source "keyring" and keyring_description @desc.
 * Fails the test on error. */
void sfs_mount_write_keyring_conf(struct sfs_mount *m, const char *desc);

/*
 * Start SFS_BUILD_DIR/scratchfs -f -c m->conf [-o @opts] m->backing m->mnt
 * (no -o when @opts is NULL) and wait until m->mnt is a mount (its st_dev
 * differs from its parent's; polled every 10 ms, at most SFS_MOUNT_WAIT_S).
 * If the daemon exits or never mounts, its log is printed, the daemon is
 * killed, the whole root removed (a failing .init never gets its .fini) and
 * the test fails.
 */
void sfs_mount_start(struct sfs_mount *m, const char *opts);

/*
 * Run the daemon expecting it to refuse to mount: @args are the arguments
 * after the program name, NULL-terminated, e.g.
 *   { "-f", "-c", m->conf, "-o", "hbi=1", m->backing, m->mnt, NULL }.
 * Returns its exit status (0..255; 128+signal if it was killed by a signal).
 * Its output is appended to m->log. If it mounts m->mnt anyway or does not exit
 * within SFS_MOUNT_WAIT_S, it is unmounted/killed and the test fails.
 */
int sfs_mount_run_fail(struct sfs_mount *m, const char *const args[]);

/*
 * sfs_mount_run_fail with "-f -c m->conf -o @opts m->backing m->mnt": fails
 * the test unless the daemon exits with a status from 1 to 127 (not killed
 * by a signal) and its log contains @needle (the log is printed when not).
 */
void sfs_mount_expect_refused(struct sfs_mount *m, const char *opts,
			      const char *needle);

/*
 * Unmount (fusermount3 -u) and reap the daemon (at most SFS_STOP_WAIT_S).
 * A daemon that does not exit is SIGKILLed and the mount lazily detached;
 * then, and when its exit status is not 0 (e.g. an ASan report), the test
 * fails with the log printed. No-op when nothing is running.
 * Call it at the end of a test body: Criterion ignores failed assertions in
 * .fini, so only here does an unclean daemon exit fail the test directly.
 */
void sfs_mount_stop(struct sfs_mount *m);

/*
 * Stop the daemon if any, then remove m->root recursively without following
 * symlinks or crossing mounts; refuses any root not under
 * SFS_TEST_ROOT_PREFIX. Safe to call twice and on a zeroed struct.
 * If the daemon did not stop cleanly (status != 0, hung, mount left behind)
 * or the root could not be removed, the problem is printed and the process
 * abort()s after the cleanup: from .fini that is the only way to make it
 * visible (Criterion warns "crashed during its setup or teardown", exits
 * non-zero, and tools/run-tests.sh counts the test as failed).
 */
void sfs_mount_teardown(struct sfs_mount *m);

/*
 * Path helpers: "<dir>/<rel>" in one of a ring of 64 static buffers, valid
 * until 64 further calls (plenty inside one statement). @rel may be "" for
 * the directory itself. Overlong paths fail the test.
 */
const char *sfs_join(const char *dir, const char *rel);
const char *sfs_mpath(const struct sfs_mount *m, const char *rel); /* mnt */
const char *sfs_rpath(const struct sfs_mount *m, const char *rel); /* ref */
const char *sfs_bpath(const struct sfs_mount *m, const char *rel); /* backing */

/*
 * Create or truncate @path (mode 0644 before umask) and write @len bytes.
 * Returns 0 or -errno.
 */
int sfs_write_file(const char *path, const void *buf, size_t len);

/*
 * Read all of @path into a malloc'ed buffer (NUL-terminated for
 * convenience, the NUL not counted in *@len). Returns NULL with errno set
 * on failure. The caller frees.
 */
void *sfs_read_file(const char *path, size_t *len);

/* Fill @buf with bytes that depend on @seed and each byte's position. */
void sfs_fill_pattern(void *buf, size_t len, unsigned seed);

/* True when the daemon log of @m contains @needle. */
bool sfs_log_contains(const struct sfs_mount *m, const char *needle);

/* Copy the daemon log of @m to stderr (for failure diagnostics). */
void sfs_log_dump(const struct sfs_mount *m);

/*
 * Mount points at or under @dir whose fstype is @fstype (any when NULL),
 * deepest first (/proc/self/mountinfo order reversed): at most @max into
 * @out. Returns the count.
 */
int sfs_mounts_under(const char *dir, const char *fstype, char out[][PATH_MAX],
		     int max);

/*
 * Live (non-zombie) processes other than this one whose command line
 * mentions @dir but not @except (NULL: no exception); the first one's pid
 * in *@first when @first is not NULL. Returns the count.
 */
int sfs_procs_mentioning(const char *dir, const char *except, pid_t *first);

/*
 * Ready-made Criterion fixtures on the per-process sfs_fx (each Criterion
 * test runs in its own process, so one global is still per test):
 *   Test(s, t, .init = sfs_fx_init_hbi, .fini = sfs_fx_fini) ...
 * _init_hbi mounts "hbi=1", _init_plain "hbi=0", _init_setup only creates
 * the directories (the test mounts itself).
 */
extern struct sfs_mount sfs_fx;
void sfs_fx_init_hbi(void);
void sfs_fx_init_plain(void);
void sfs_fx_init_setup(void);
void sfs_fx_fini(void);

#endif /* SFS_MOUNT_UTIL_H */
