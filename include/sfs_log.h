/* sfs_log.h - diagnostics to stderr (foreground) or syslog (daemon). Never
 * pass key material or plaintext names to these. */
#ifndef SFS_LOG_H
#define SFS_LOG_H

#include <stdbool.h>
#include <syslog.h>

void sfs_log_init(const char *ident, bool use_syslog);
void sfs_log(int priority, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
