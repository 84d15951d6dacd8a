/* test_hygiene.c - the daemon's process hygiene: SIGHUP reopens the audit
 * log (and does not unmount), no core dumps, no handle outlives the
 * session. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mount_util.h"

TestSuite(hygiene, .init = sfs_fx_init_setup, .fini = sfs_fx_fini,
	  .timeout = 60);

/* Waits up to 5 s for path to exist. */
static bool appears(const char *path)
{
	for (int i = 0; i < 500; i++) {
		if (access(path, F_OK) == 0)
			return true;
		usleep(10000);
	}
	return false;
}

/* Waits up to 5 s for the daemon log to hold needle. */
static bool log_says(const char *needle)
{
	for (int i = 0; i < 500; i++) {
		if (sfs_log_contains(&sfs_fx, needle))
			return true;
		usleep(10000);
	}
	return false;
}

/* logrotate's way: rename the file, SIGHUP, expect a new file that gets
 * the next records, while the mount keeps working. */
Test(hygiene, sighup_reopens_audit_log)
{
	const char *log = sfs_join(sfs_fx.root, "audit/audit.log");
	const char *rotated = sfs_join(sfs_fx.root, "audit/audit.log.1");
	char conf[PATH_MAX + 64], *text;
	size_t len;

	snprintf(conf, sizeof(conf), "audit = { file = \"%s\"; };\n", log);
	sfs_mount_write_conf(&sfs_fx, conf);
	sfs_mount_start(&sfs_fx, "hbi=1");
	cr_assert(appears(log));
	cr_assert_eq(rename(log, rotated), 0);

	cr_assert_eq(kill(sfs_fx.pid, SIGHUP), 0);
	cr_assert(appears(log), "SIGHUP did not reopen %s", log);
	/* The daemon says so just after the reopen. */
	cr_assert(log_says("SIGHUP: reopened audit log"));
	/* Still mounted and serving. */
	cr_assert_eq(sfs_write_file(sfs_mpath(&sfs_fx, "f"), "x", 1), 0);
	sfs_mount_stop(&sfs_fx);

	/* The mount record went to the old file, the unmount record to the
	 * new one. */
	text = sfs_read_file(rotated, &len);
	cr_assert_not_null(text);
	cr_assert(strstr(text, "\"event\":\"mount\""), "%s", text);
	cr_assert_null(strstr(text, "\"event\":\"unmount\""), "%s", text);
	free(text);
	text = sfs_read_file(log, &len);
	cr_assert_not_null(text);
	cr_assert(strstr(text, "\"event\":\"unmount\""), "%s", text);
	free(text);
}

/* Without an audit file SIGHUP is harmless too. */
Test(hygiene, sighup_without_audit_file_keeps_mount)
{
	sfs_mount_write_conf(&sfs_fx, "audit = { syslog = false; };\n");
	sfs_mount_start(&sfs_fx, "hbi=1");
	cr_assert_eq(kill(sfs_fx.pid, SIGHUP), 0);
	for (int i = 0; i < 500 && !sfs_log_contains(&sfs_fx, "SIGHUP"); i++)
		usleep(10000);
	cr_assert(sfs_log_contains(&sfs_fx, "SIGHUP: no audit log file"));
	cr_assert_eq(sfs_write_file(sfs_mpath(&sfs_fx, "f"), "x", 1), 0);
	sfs_mount_stop(&sfs_fx);
}

/* No core dumps: RLIMIT_CORE is 0 in the running daemon. */
Test(hygiene, no_core_dumps)
{
	char path[64], line[256];
	bool seen = false;
	FILE *f;

	sfs_mount_start(&sfs_fx, "hbi=1");
	snprintf(path, sizeof(path), "/proc/%d/limits", (int)sfs_fx.pid);
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned long soft, hard;

		if (sscanf(line, "Max core file size %lu %lu", &soft, &hard) ==
		    2) {
			cr_assert_eq(soft, 0);
			cr_assert_eq(hard, 0);
			seen = true;
		}
	}
	fclose(f);
	cr_assert(seen, "no core file size line in %s", path);
	sfs_mount_stop(&sfs_fx);
}

/* Stopped while a file is open, the daemon never gets its RELEASE (as when
 * the mount goes away with the RELEASE still queued): it closes and frees
 * the handle itself, and says so. Under ASan a leaked one would be a leak
 * report in the log (its exit status is 1 either way: libfuse reports the
 * signal, and ASan's exitcode is 1 too). */
Test(hygiene, stop_with_file_open_closes_handle)
{
	int fd, i, status = 0;
	pid_t pid;

	sfs_mount_start(&sfs_fx, "hbi=1");
	fd = open(sfs_mpath(&sfs_fx, "f"), O_RDWR | O_CREAT, 0644);
	cr_assert_geq(fd, 0, "open: %s", strerror(errno));
	cr_assert_eq(write(fd, "x", 1), 1);
	cr_assert_eq(kill(sfs_fx.pid, SIGTERM), 0);
	/* Reaped here: sfs_mount_stop would call a status of 1 unclean. */
	for (i = 0; i < 100 * SFS_STOP_WAIT_S; i++) {
		pid = waitpid(sfs_fx.pid, &status, WNOHANG);
		if (pid != 0)
			break;
		usleep(10000);
	}
	cr_assert_eq(pid, sfs_fx.pid, "the daemon did not exit on SIGTERM");
	sfs_fx.pid = -1;
	close(fd);
	if (!sfs_log_contains(&sfs_fx,
			      "closed 1 file and 0 directory handles") ||
	    sfs_log_contains(&sfs_fx, "LeakSanitizer"))
		sfs_log_dump(&sfs_fx);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1,
		  "daemon status 0x%x", status);
	cr_assert(sfs_log_contains(&sfs_fx,
				   "closed 1 file and 0 directory "
				   "handles the kernel never released"));
	/* The daemon detached the mount itself. */
	sfs_mount_stop(&sfs_fx);
}
