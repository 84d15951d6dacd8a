/* test_audit_sinks.c - where audit records and daemon log lines go when
 * syslog is there, when it is absent (minimal VMs, containers), and when
 * the fallback cannot be written either: never dropped without a word.
 * Each test runs in a mount namespace of its own, with a scratch
 * directory bound over /var/log and /dev/log hidden, so that the real
 * ones are never touched. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mount_util.h"
#include "sfs_audit.h"
#include "sfs_crypto.h"
#include "sfs_log.h"
#include "util.h"

static char varlog[PATH_MAX];

/* A private mount namespace in which /var/log is varlog (made read-only
 * when @ro) and /dev/log, if the machine has one, refuses connections. */
static void isolate(bool ro)
{
	char empty[PATH_MAX];

	cr_assert_eq(unshare(CLONE_NEWNS), 0, "unshare: %s", strerror(errno));
	cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	snprintf(varlog, sizeof(varlog), "%s", sfs_join(sfs_fx.root, "varlog"));
	cr_assert_eq(mkdir(varlog, 0755), 0);
	cr_assert_eq(mount(varlog, "/var/log", NULL, MS_BIND, NULL), 0,
		     "bind /var/log: %s", strerror(errno));
	if (ro)
		cr_assert_eq(mount(NULL, "/var/log", NULL,
				   MS_BIND | MS_REMOUNT | MS_RDONLY, NULL),
			     0);
	if (access("/dev/log", F_OK) == 0) {
		snprintf(empty, sizeof(empty), "%s",
			 sfs_join(sfs_fx.root, "not-a-socket"));
		cr_assert_eq(sfs_write_file(empty, "", 0), 0);
		cr_assert_eq(mount(empty, "/dev/log", NULL, MS_BIND, NULL), 0);
	}
}

static void init(void)
{
	cr_assert_eq(sfs_crypto_init(), 0);
	sfs_mount_setup(&sfs_fx);
}

TestSuite(audit_sinks, .init = init, .fini = sfs_fx_fini, .timeout = 40);

static json_t *record(void)
{
	json_t *f = json_object();

	json_object_set_new(f, "what", json_string("a test record"));
	return f;
}

Test(audit_sinks, syslog_gets_records_in_rfc3164_framing)
{
	char sock[PATH_MAX], buf[4096];
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct sfs_audit *sink;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ssize_t n;

	snprintf(sock, sizeof(sock), "%s", sfs_join(sfs_fx.root, "log"));
	strcpy(a.sun_path, sock);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	sfs_syslog_use_socket(sock);
	cr_assert_eq(sfs_audit_open(&sink, NULL, true, "sfs-test", NULL, 0), 0);
	cr_assert_eq(sfs_audit_write(sink, "probe", record()), 0);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	cr_assert_gt(n, 0, "syslog got nothing");
	buf[n] = '\0';
	/* authpriv.notice, the program, the record. */
	cr_assert(strncmp(buf, "<85>", 4) == 0, "%s", buf);
	cr_assert(strstr(buf, " sfs-test["), "%s", buf);
	cr_assert(strstr(buf, "\"event\":\"probe\""), "%s", buf);
	cr_assert_eq(sfs_audit_dropped(), 0);
	sfs_audit_close(sink);
	close(fd);
}

Test(audit_sinks, no_syslog_records_go_to_the_fallback_file)
{
	struct sfs_audit *sink;
	char *text;

	isolate(false);
	cr_assert_eq(sfs_audit_open(&sink, NULL, true, "sfs-test", NULL, 0), 0);
	cr_assert_eq(sfs_audit_write(sink, "one", record()), 0);
	cr_assert_eq(sfs_audit_write(sink, "two", record()), 0);
	sfs_audit_close(sink);
	text = sfs_slurp(sfs_join(varlog, "scratchfs/audit.log"));
	cr_assert(strstr(text, "\"event\":\"one\"") &&
		      strstr(text, "\"event\":\"two\""),
		  "fallback audit log: %s", text);
	free(text);
	cr_assert_eq(sfs_audit_dropped(), 0);
}

/* Counted and logged, but no error of the writer's: a wipe by a user with
 * neither syslog nor a writable /var/log/scratchfs must go through. */
Test(audit_sinks, nowhere_to_write_is_counted)
{
	struct sfs_audit *sink;

	isolate(true);
	cr_assert_eq(sfs_audit_open(&sink, NULL, true, "sfs-test", NULL, 0), 0);
	cr_assert_eq(sfs_audit_write(sink, "lost", record()), 0);
	cr_assert_eq(sfs_audit_write(sink, "lost", record()), 0);
	cr_assert_eq(sfs_audit_dropped(), 2);
	sfs_audit_close(sink);
}

Test(audit_sinks, daemon_log_lines_go_to_the_fallback_file)
{
	char *text;

	isolate(false);
	sfs_log_init("sfs-test", true);
	sfs_log(LOG_WARNING, "first line");
	sfs_log(LOG_ERR, "second line");
	text = sfs_slurp(sfs_join(varlog, "scratchfs/sfs-test.log"));
	/* The reason first, then the lines. */
	cr_assert(strstr(text, "syslog (/dev/log) is unavailable"), "%s", text);
	cr_assert(strstr(text, "sfs-test[") && strstr(text, "first line") &&
		      strstr(text, "second line"),
		  "%s", text);
	free(text);
}

/* The mount's status counts what its daemon could deliver nowhere. */
Test(audit_sinks, ctl_status_counts_dropped_records)
{
	char cmd[2 * PATH_MAX], out[8192];
	FILE *p;
	size_t n;

	isolate(true);
	sfs_mount_start(&sfs_fx, "hbi=1");
	snprintf(cmd, sizeof(cmd), "%s/scratchfs-ctl status --json %s",
		 SFS_BUILD_DIR, sfs_fx.mnt);
	p = popen(cmd, "r");
	cr_assert(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	pclose(p);
	/* The mount record, and the key_create of its ephemeral key. */
	cr_assert(strstr(out, "\"audit_dropped\": 2"), "%s", out);
	sfs_mount_stop(&sfs_fx);
}
