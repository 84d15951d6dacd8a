/* sfs_log.h - diagnostics to stderr (foreground) or syslog (daemon). Never
 * pass key material or plaintext names to these. */
#ifndef SFS_LOG_H
#define SFS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

/* Where logs and audit records go when syslog cannot take them: IDENT.log
 * and audit.log. */
#define SFS_LOG_FALLBACK_DIR "/var/log/scratchfs"

/* Lines go to stderr ("ident: message"), or with use_syslog to the syslog
 * socket (facility daemon); a line syslog does not take goes to
 * SFS_LOG_FALLBACK_DIR/IDENT.log (stderr without it), the first one after
 * a line saying why. */
void sfs_log_init(const char *ident, bool use_syslog);
void sfs_log(int priority, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Sends one message to the syslog socket (RFC 3164 framing; priority is
 * facility | level). 0, or -errno when it was not delivered. */
int sfs_syslog_send(int priority, const char *ident, const char *msg);

/* The syslog socket (default /dev/log), for tests. */
void sfs_syslog_use_socket(const char *path);

/* Opens (creating, 0600; its directory 0750 when missing) a log file for
 * appending: a regular file, never through a symlink, never blocking on a
 * FIFO (-EINVAL for anything but a regular file). The fd or -errno. */
int sfs_log_file_open(const char *file);

/* A broken invariant: logs "BUG: message" (LOG_CRIT, through the log above,
 * so a daemon's lands in syslog) and aborts. */
void sfs_bug(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));

/* Formats a message into the caller's err buffer (err_len bytes, truncated);
 * no-op when err is NULL or err_len is 0. */
void sfs_set_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* sfs_set_err(), then returns rc: "return sfs_err_rc(-EINVAL, ...);". */
int sfs_err_rc(int rc, char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
