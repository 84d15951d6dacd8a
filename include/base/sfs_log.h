/* sfs_log.h - diagnostics to stderr (foreground) or syslog (daemon). Never
 * pass key material or plaintext names to these. */
#ifndef SFS_LOG_H
#define SFS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdnoreturn.h>
#include <syslog.h>

void sfs_log_init(const char *ident, bool use_syslog);
void sfs_log(int priority, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A broken invariant: logs "BUG: message" (LOG_CRIT, through the log above,
 * so a daemon's lands in syslog) and aborts. */
noreturn void sfs_bug(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Formats a message into the caller's err buffer (err_len bytes, truncated);
 * no-op when err is NULL or err_len is 0. */
void sfs_set_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* sfs_set_err(), then returns rc: "return sfs_err_rc(-EINVAL, ...);". */
int sfs_err_rc(int rc, char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
