/* engine_util.h - harness of the tests that drive real programs: shell
 * commands with a time limit and their output (any test), and for the
 * end-to-end tests of scratchfs-volumed under a real container engine
 * (dockerd, podman): daemons started and stopped, the plugin, and a
 * busybox image's root filesystem. */
#ifndef SFS_TESTS_ENGINE_UTIL_H
#define SFS_TESTS_ENGINE_UTIL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SFS_PLUGIN_BIN SFS_BUILD_DIR "/scratchfs-volumed"

/* snprintf into an array that fails the test when the text is cut. */
#define SFS_FMT(buf, ...)                                                      \
	cr_assert((size_t)snprintf((buf), sizeof(buf), __VA_ARGS__) <          \
		      sizeof(buf),                                             \
		  "path too long")

/* Runs "sh -c CMD" (at most 90 s) with stdout and stderr in @out (NULL:
 * discarded); returns the exit status (128 when killed). */
__attribute__((format(printf, 3, 4))) int sfs_sh(char *out, size_t len,
						 const char *fmt, ...);

/* sfs_sh() that must exit 0; returns its output (a static buffer, valid
 * until the next call). */
__attribute__((format(printf, 1, 2))) const char *sfs_must(const char *fmt,
							   ...);

/* Waits (at most 30 s) until the output of @cmd contains @want. */
void sfs_wait_output(const char *want, const char *cmd);

/* The last 3000 bytes of @path on stderr, headed by @what. */
void sfs_dump_tail(const char *what, const char *path);

/* True when @pid is gone (reaped here, or a zombie nobody reaps). */
bool sfs_pid_gone(pid_t pid);

/* SIGTERM, wait up to @seconds, then SIGKILL and wait 5 s more. */
void sfs_stop_pid(pid_t pid, double seconds);

/* Starts @argv with stdout and stderr appended to @log, in a session of
 * its own when @new_session. */
pid_t sfs_spawn_logged(const char *log, bool new_session,
		       const char *const argv[]);

/* scratchfs-volumed on one socket, with its own root, config and log. */
struct sfs_plugin {
	char sock[PATH_MAX];
	char root[PATH_MAX];
	char conf[PATH_MAX];
	char log[PATH_MAX];
	pid_t pid;
};

/* Starts the plugin and waits (10 s) for its socket; false, with its log
 * dumped, when it does not come up. No assertions: teardown uses it. */
bool sfs_plugin_try_start(struct sfs_plugin *p);

/* Sends @sig to the plugin and reaps it. */
void sfs_plugin_stop(struct sfs_plugin *p, int sig);

/* "<root>/volumes/<name>[/<what>]" in a static buffer. */
const char *sfs_plugin_volume(const struct sfs_plugin *p, const char *name,
			      const char *what);

/* FUSE mounts of scratchfs under @dir, once the engine's Unmount (which
 * may trail its CLI by a moment) has come: waits up to 10 s for 0. */
int sfs_fuse_mounts_settled(const char *dir);

/* Builds @dir/rootfs.tar: /bin/busybox (busybox-static) and a link per
 * applet. Fails the test when busybox is missing. */
void sfs_busybox_rootfs(const char *dir);

/* Ends what still runs with @dir on its command line (shims, conmon),
 * detaches every mount under @dir, then removes @dir (only under
 * SFS_TEST_ROOT_PREFIX). */
void sfs_engine_dir_remove(const char *dir);

#endif /* SFS_TESTS_ENGINE_UTIL_H */
