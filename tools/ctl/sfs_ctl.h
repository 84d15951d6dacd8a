/* sfs_ctl.h - subcommands of scratchfs-ctl that live in tools/ctl/, called
 * from the scratchfs-ctl main (tools/ctl/scratchfs-ctl.c). */
#ifndef SFS_CTL_H
#define SFS_CTL_H

#include <stdio.h>

/*
 * scratchfs-ctl key SUBCOMMAND ...: argv[0] is "key" (or whatever the caller
 * dispatched on), argv[1] the subcommand:
 *
 *   key show   [-c CONF] [-o OPTS] BACKING
 *   key rotate [-c CONF] [-o OPTS] [--new-keyfile PATH] BACKING...
 *   key help | -h | --help
 *
 * -o OPTS takes scratchfs mount options (key=keyfile:PATH ...) over the
 * config file. Prints results on stdout and one-line errors
 * ("scratchfs-ctl: ...") on stderr, never key bytes. Returns the process
 * exit status: rotate: 0 rotated, 2 usage or refused/error; show: 0 the
 * configured node key opens the volume (or it needs none), 1 it is missing
 * or does not open it, 2 usage or error. Uses getopt internally and resets
 * optind; call it once per process (it is meant to be the process's job).
 */
int sfs_ctl_key(int argc, char **argv);

/* Prints the usage lines of "key" (indented, one per subcommand) to f, for
 * the main usage text of scratchfs-ctl. */
void sfs_ctl_key_usage(FILE *f);

/*
 * status, verify and fsck (tools/ctl/ctl_status.c, ctl_verify.c,
 * ctl_fsck.c). Same calling convention as sfs_ctl_key(): argv[0] is the
 * subcommand's name, results on stdout, one-line errors on stderr, the
 * return value is the process exit status, call once per process.
 *
 *   status [--json] [MOUNTPOINT]
 *	0 listed (stale mounts included), 1 a daemon could not be asked
 *	(unresponsive, permission), 2 usage, MOUNTPOINT not a scratchfs
 *	mount, or /proc/self/mountinfo unreadable.
 *   verify [--json] BACKING
 *	0 clean, 1 offenders listed, 2 usage, not a volume, a plain volume
 *	(nothing to verify: it stores plaintext by design), or an I/O error.
 *   fsck [-c CONF] [-o key=SPEC] [--json] [--quarantine] BACKING
 *	0 clean, 1 damage found (also when quarantined), 2 usage, refused
 *	(mounted, ephemeral, plain, not a volume, wrong key) or an error.
 */
int sfs_ctl_status(int argc, char **argv);
int sfs_ctl_verify(int argc, char **argv);
int sfs_ctl_fsck(int argc, char **argv);

/*
 * selftest [-c CONF] [--backing-root DIR] [--json] (ctl_selftest.c): the
 * node's checks (platform, known answers, at rest, tamper, crypto-erase,
 * hbi=0) on fresh volumes in a new directory under DIR (default /var/tmp),
 * removed afterwards. 0 every check passed, 1 one failed (or the cleanup
 * did), 2 usage or setup error, 128+N interrupted by signal N.
 */
int sfs_ctl_selftest(int argc, char **argv);

/* One scratchfs mount (fstype fuse.scratchfs) of /proc/self/mountinfo,
 * with the escapes decoded. */
struct sfs_ctl_mount {
	char *source; /* the backing directory */
	char *target; /* the mount point */
};

/* Reads every scratchfs mount listed in the mountinfo file at path, in
 * order. *mounts is malloc'ed (free with sfs_ctl_mounts_free). Returns the
 * number of mounts or -errno. */
long sfs_ctl_mounts(const char *path, struct sfs_ctl_mount **mounts);
void sfs_ctl_mounts_free(struct sfs_ctl_mount *mounts, long n);

/* Decodes the octal escapes of a mountinfo field (\040 ...) in place
 * (sfs_mountinfo_unescape). */
void sfs_ctl_unescape(char *s);

/* Copies s into out (cap bytes, always NUL-terminated, truncated) with
 * control characters and backslashes escaped as \xNN, so a hostile name
 * cannot move the terminal's cursor or fake an output line. */
void sfs_ctl_escape(char *out, size_t cap, const char *s);

/* The entries of directory dir_fd except "." and "..", sorted by name so
 * reports are stable. Returns the count or -errno; free the result with
 * sfs_ctl_names_free. */
long sfs_ctl_read_names(int dir_fd, char ***names);
void sfs_ctl_names_free(char **names, long n);

/* A JSON string for arbitrary bytes (paths): bytes that are not valid UTF-8
 * become '?'. NULL when out of memory. */
struct json_t;
struct json_t *sfs_ctl_json_string(const char *s);

#endif
