/* log.c - diagnostics to stderr ("ident: message") or syslog. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "sfs_log.h"

/* Set once by sfs_log_init() before any thread starts; read-only after. */
static bool log_to_syslog;
/* openlog() keeps the pointer, so the ident must outlive the call. */
static char log_ident[64] = "scratchfs";

void sfs_log_init(const char *ident, bool use_syslog)
{
	if (ident && *ident)
		snprintf(log_ident, sizeof(log_ident), "%s", ident);
	log_to_syslog = use_syslog;
	if (use_syslog)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void sfs_log(int priority, const char *fmt, ...)
{
	int saved_errno = errno; /* callers log and then return -errno */
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	if (log_to_syslog) {
		vsyslog(priority, fmt, ap);
	} else {
		/* Format first so the line goes out in one locked fprintf and
		 * lines from different threads never interleave. */
		vsnprintf(msg, sizeof(msg), fmt, ap);
		fprintf(stderr, "%s: %s\n", log_ident, msg);
	}
	va_end(ap);
	errno = saved_errno;
}

void sfs_bug(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sfs_log(LOG_CRIT, "BUG: %s", msg);
	abort();
}

void sfs_set_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (!err || err_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

int sfs_err_rc(int rc, char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (err && err_len) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return rc;
}
