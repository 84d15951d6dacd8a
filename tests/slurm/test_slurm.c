/* test_slurm.c - spank_scratchfs.so in a real Slurm: each test starts its
 * own munged, slurmctld and slurmd (private SLURM_CONF, state, spool and
 * ports under a temp dir) with the plugin built by make and the scratchfs
 * daemon of this build, runs batch jobs through them and stops every
 * daemon again, also when it fails. The three run in the foreground as
 * children of the test process and die with it, also when Criterion kills
 * a test that timed out; a guard process then stops the jobs, wipes the
 * volumes and removes the temp dir (no .fini runs).
 *
 * Only in the plain build: the plugin is always built without sanitizers
 * (slurmd cannot dlopen a sanitized object), and these tests take minutes
 * (a time limit is at least one minute); the ASan pass runs the
 * settings tests only. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mount_util.h"
#include "sfs_plugin.h"
#include "sfs_sys.h"
#include "sfs_volume.h"
#include "sfs_wipe.h"
#include "slurm_job.h"
#include "util.h"

/* The built plugin; each cluster loads a copy in its own directory, since
 * a job with a private /tmp (its srun steps load the plugin too) cannot
 * see a build tree under /tmp. */
#define BUILT_PLUGIN SFS_BUILD_DIR "/spank_scratchfs.so"
#define PLUGIN fmt_path("%s/spank_scratchfs.so", cl.dir)
#define DAEMON SFS_BUILD_DIR "/scratchfs"
#define CANARY "canary-5d1c7e"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

static struct {
	char dir[256];	   /* everything of this test's cluster */
	char conf[512];	   /* SLURM_CONF */
	char backing[512]; /* the plugin's backing_root */
	char mnt[512];	   /* the plugin's mount_root */
	char audit[512];
	char flags[512]; /* jobs and the test signal each other here */
	char out[512];	 /* job output */
	/* The daemons, children of the test process (0: none). */
	pid_t munged, slurmctld, slurmd;
	/* The guard (guard_start) and the pipe's end that keeps it waiting. */
	pid_t guard;
	int guard_fd;
	bool up;
} cl;

/*
 * Commands and files
 */

/* Runs a shell command (SLURM_CONF is ours); its stdout+stderr, malloc'ed;
 * *status gets the exit status when status is not NULL. */
static char *sh(int *status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static char *sh(int *status, const char *fmt, ...)
{
	char cmd[4096], *out = NULL;
	size_t len = 0;
	va_list ap;
	FILE *f, *m = open_memstream(&out, &len);
	int c, st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	cr_assert_not_null(m);
	strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	f = popen(cmd, "r");
	cr_assert_not_null(f, "popen %s", cmd);
	while ((c = fgetc(f)) != EOF)
		fputc(c, m);
	st = pclose(f);
	fclose(m);
	if (status)
		*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
	return out;
}

static void put_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	fchmod(fd, mode);
	close(fd);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static bool wait_path(const char *path, double timeout_s)
{
	double end = sfs_now_s() + timeout_s;

	while (!exists(path)) {
		if (sfs_now_s() > end)
			return false;
		sfs_sleep_ms(50);
	}
	return true;
}

static const char *fmt_path(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static const char *fmt_path(const char *fmt, ...)
{
	static char buf[4][PATH_MAX];
	static int i;
	va_list ap;

	i = (i + 1) % 4;
	va_start(ap, fmt);
	vsnprintf(buf[i], sizeof(buf[i]), fmt, ap);
	va_end(ap);
	return buf[i];
}

/*
 * The cluster
 */

static bool port_free(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), rc;

	rc = bind(fd, (struct sockaddr *)&a, sizeof(a));
	close(fd);
	return rc == 0;
}

static int free_port_pair(void)
{
	srand((unsigned int)(getpid() ^ time(NULL)));
	for (int i = 0; i < 200; i++) {
		int p = 20000 + rand() % 20000;

		if (port_free(p) && port_free(p + 1))
			return p;
	}
	cr_assert_fail("no free port pair");
	return 0;
}

/* Gone or a zombie (not reaped yet). */
static bool dead(pid_t pid)
{
	char buf[256];

	return pid <= 0 || !sfs_proc_stat(pid, buf, sizeof(buf));
}

/* Stops our child *pid (SIGTERM, SIGKILL after 10 s) and reaps it. */
static void stop_child(pid_t *pid)
{
	double end = sfs_now_s() + 10;

	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	while (!dead(*pid) && sfs_now_s() < end)
		sfs_sleep_ms(50);
	if (!dead(*pid))
		kill(*pid, SIGKILL);
	waitpid(*pid, NULL, 0);
	*pid = 0;
}

/* Starts the daemon argv in the foreground as a child of the test process,
 * its output in log/NAME.out: the kernel kills it when the test process
 * dies, also when Criterion kills a test that timed out (no .fini runs
 * then). A daemon that forked into the background would outlive it. */
static pid_t start_daemon(const char *const argv[])
{
	const char *log = fmt_path("%s/log/%s.out", cl.dir, argv[0]);
	pid_t parent = getpid(), pid;
	sigset_t none;

	fflush(NULL);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY),
		    out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent ||
		    in < 0 || out < 0)
			_exit(127);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(in, 0);
		dup2(out, 1);
		dup2(out, 2);
		/* Not the test runner's pipes. */
		close_range(3, ~0U, 0);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static void start_slurmd(void)
{
	const char *argv[] = {"slurmd", "-D", NULL};
	double end = sfs_now_s() + 30;
	char *st = NULL;

	cl.slurmd = start_daemon(argv);
	for (;;) {
		free(st);
		st = sh(NULL, "sinfo -h -N -o %%t");
		if (strstr(st, "idle") || strstr(st, "mix") ||
		    strstr(st, "alloc"))
			break;
		cr_assert(!dead(cl.slurmctld), "slurmctld exited (see %s/log)",
			  cl.dir);
		cr_assert(!dead(cl.slurmd), "slurmd exited (see %s/log)",
			  cl.dir);
		cr_assert(sfs_now_s() < end, "the node did not come up: %s",
			  st);
		sfs_sleep_ms(200);
	}
	free(st);
}

static void guard_start(void);

/* extra: more plugin arguments ("" none). */
static void cluster_start(const char *extra)
{
	char host[64], buf[8192], *h;
	const char *munged[8], *sock;
	unsigned char key[1024];
	int port, fd;

	/* Not under /tmp: the jobs get a private one. */
	snprintf(cl.dir, sizeof(cl.dir), "/var/tmp/sfs-test-slurm-XXXXXX");
	cr_assert_not_null(mkdtemp(cl.dir), "mkdtemp: %s", strerror(errno));
	cl.up = true; /* from here on, cluster_stop cleans up */
	cr_assert_eq(chmod(cl.dir, 0755), 0);
	snprintf(cl.conf, sizeof(cl.conf), "%s/slurm.conf", cl.dir);
	snprintf(cl.backing, sizeof(cl.backing), "%s/backing", cl.dir);
	snprintf(cl.mnt, sizeof(cl.mnt), "%s/scratch", cl.dir);
	snprintf(cl.audit, sizeof(cl.audit), "%s/audit/audit.log", cl.dir);
	snprintf(cl.flags, sizeof(cl.flags), "%s/flags", cl.dir);
	snprintf(cl.out, sizeof(cl.out), "%s/out", cl.dir);
	guard_start();
	for (const char *d = "munge\0state\0spool\0log\0flags\0out\0jobs\0"; *d;
	     d += strlen(d) + 1)
		cr_assert_eq(mkdir(fmt_path("%s/%s", cl.dir, d), 0755), 0);
	chmod(cl.flags, 01777);
	chmod(cl.out, 01777);

	/* munged: our own key and socket. */
	fd = open("/dev/urandom", O_RDONLY);
	cr_assert_eq(read(fd, key, sizeof(key)), (ssize_t)sizeof(key));
	close(fd);
	fd = open(fmt_path("%s/munge/key", cl.dir), O_WRONLY | O_CREAT, 0400);
	cr_assert_eq(write(fd, key, sizeof(key)), (ssize_t)sizeof(key));
	close(fd);
	snprintf(buf, sizeof(buf), "%s/munge", cl.dir);
	munged[0] = "munged";
	munged[1] = "--foreground";
	munged[2] = strdup(fmt_path("--key-file=%s/key", buf));
	munged[3] = strdup(fmt_path("--socket=%s/sock", buf));
	munged[4] = strdup(fmt_path("--pid-file=%s/pid", buf));
	munged[5] = strdup(fmt_path("--log-file=%s/log", buf));
	munged[6] = strdup(fmt_path("--seed-file=%s/seed", buf));
	munged[7] = NULL;
	cl.munged = start_daemon(munged);
	for (int i = 2; i < 7; i++)
		free((void *)munged[i]);
	sock = fmt_path("%s/sock", buf);
	cr_assert(wait_path(sock, 10), "munged did not start (see %s/log)",
		  cl.dir);

	{
		size_t len;
		char *so = sfs_read_file(BUILT_PLUGIN, &len);

		cr_assert(so, "%s: %s", BUILT_PLUGIN, strerror(errno));
		cr_assert_eq(sfs_write_file(PLUGIN, so, len), 0, "copy to %s",
			     PLUGIN);
		cr_assert_eq(chmod(PLUGIN, 0755), 0);
		free(so);
	}
	put_file(
	    fmt_path("%s/scratchfs.conf", cl.dir),
	    fmt_path("audit = { file = \"%s\"; syslog = false; };\n", cl.audit),
	    0644);
	put_file(fmt_path("%s/plugstack.conf", cl.dir),
		 fmt_path("required %s backing_root=%s mount_root=%s "
			  "scratchfs=%s conf=%s/scratchfs.conf hbi.plainp=0 "
			  "%s\n",
			  PLUGIN, cl.backing, cl.mnt, DAEMON, cl.dir, extra),
		 0644);
	cr_assert_eq(gethostname(host, sizeof(host)), 0);
	h = strchr(host, '.');
	if (h)
		*h = '\0';
	/* Job ids unique to this cluster too (FirstJobId below): the
	 * plugin tells a live job by its slurmstepd's title, and tests that
	 * run at once share the host. */
	port = free_port_pair();
	snprintf(
	    buf, sizeof(buf),
	    "ClusterName=sfstest\nSlurmctldHost=%s\nSlurmctldPort=%d\n"
	    "SlurmdPort=%d\nAuthInfo=socket=%s/munge/sock\n"
	    "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n"
	    "SlurmUser=root\nStateSaveLocation=%s/state\n"
	    "SlurmdSpoolDir=%s/spool\nSlurmctldPidFile=%s/slurmctld.pid\n"
	    "SlurmdPidFile=%s/slurmd.pid\nSlurmctldLogFile=%s/log/ctld.log\n"
	    "SlurmdLogFile=%s/log/slurmd.log\nPlugStackConfig=%s/"
	    "plugstack.conf\nSchedulerType=sched/backfill\n"
	    "SelectType=select/cons_tres\nSelectTypeParameters=CR_Core\n"
	    "ReturnToService=2\nSlurmdTimeout=10\nJobRequeue=0\nKillWait=5\n"
	    "SlurmdParameters=config_overrides\nFirstJobId=%d\n"
	    "NodeName=%s CPUs=4 RealMemory=1000 State=UNKNOWN\n"
	    "PartitionName=debug Nodes=%s Default=YES MaxTime=INFINITE "
	    "State=UP\n"
	    "PartitionName=plainp Nodes=%s MaxTime=INFINITE State=UP\n",
	    host, port, port + 1, cl.dir, cl.dir, cl.dir, cl.dir, cl.dir,
	    cl.dir, cl.dir, cl.dir, port * 10, host, host, host);
	put_file(cl.conf, buf, 0644);
	setenv("SLURM_CONF", cl.conf, 1);
	{
		const char *ctld[] = {"slurmctld", "-D", "-c", NULL};

		cl.slurmctld = start_daemon(ctld);
	}
	start_slurmd();
}

/* Kills what outlives a job or a daemon: processes whose command line
 * contains cmd (job scripts live in our spool) and, with env, every
 * process whose environment names our SLURM_CONF (slurmstepd). */
static void kill_matching(const char *cmd, bool env)
{
	char want[PATH_MAX + 16];
	DIR *d = opendir("/proc");
	struct dirent *de;

	snprintf(want, sizeof(want), "SLURM_CONF=%s\n", cl.conf);
	while (d && (de = readdir(d))) {
		char path[300], buf[16384];
		ssize_t n;
		int fd;
		pid_t pid = (pid_t)atoi(de->d_name);

		if (pid <= 1 || pid == getpid())
			continue;
		for (int k = 0; k < (env ? 2 : 1); k++) {
			snprintf(path, sizeof(path), "/proc/%d/%s", pid,
				 k ? "environ" : "cmdline");
			fd = open(path, O_RDONLY);
			if (fd < 0)
				break;
			n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			if (n <= 0)
				break;
			for (ssize_t i = 0; i < n; i++)
				if (!buf[i])
					buf[i] = '\n';
			buf[n] = '\0';
			if (strstr(buf, k ? want : cmd)) {
				kill(pid, SIGKILL);
				break;
			}
		}
	}
	if (d)
		closedir(d);
}

/* Mount points under our dir, deepest (last mounted) first. */
static int our_mounts(char mnts[][PATH_MAX], char types[][64], int max)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[8192], mp[PATH_MAX], fs[64];
	int n = 0;

	while (f && fgets(line, sizeof(line), f) && n < max) {
		char *sep = strstr(line, " - ");

		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 || !sep ||
		    sscanf(sep + 3, "%63s", fs) != 1)
			continue;
		if (strncmp(mp, cl.dir, strlen(cl.dir)))
			continue;
		snprintf(mnts[n], PATH_MAX, "%s", mp);
		snprintf(types[n], 64, "%s", fs);
		n++;
	}
	if (f)
		fclose(f);
	return n;
}

/* What outlives the daemons: the jobs' processes and slurmstepd (by our
 * spool and SLURM_CONF), the volumes (wiped) and the seals under our dir,
 * the dir. No Criterion call: the guard runs it too. */
static void remove_leftovers(void)
{
	char mnts[32][PATH_MAX], types[32][64];
	struct sfs_wipe_opts o = {.lazy = true};
	struct sfs_wipe_report *r;
	char err[512];
	int n;

	kill_matching(fmt_path("%s/spool/", cl.dir), true);
	/* A test that failed may leave volumes: wipe them. */
	r = malloc(sizeof(*r));
	n = our_mounts(mnts, types, 32);
	for (int i = n - 1; i >= 0; i--) {
		if (!strcmp(types[i], "fuse.scratchfs") && r &&
		    sfs_wipe_volume(mnts[i], &o, r, err, sizeof(err)) == 0)
			continue;
		umount2(mnts[i], MNT_DETACH);
	}
	free(r);
	sfs_tmpdir_remove(cl.dir);
}

/* A process that cleans up after the test process if that dies with the
 * cluster up: Criterion kills a test that timed out and runs no .fini. It
 * waits for the end of a pipe only the test process holds; a byte first
 * means cluster_stop ran. In a session of its own, a signal to the test's
 * process group spares it. (The daemons die with the test process by
 * themselves: start_daemon.) */
static void guard_start(void)
{
	int p[2];
	ssize_t n;
	char c;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	fflush(NULL);
	cl.guard = fork();
	cr_assert(cl.guard >= 0);
	if (cl.guard == 0) {
		setsid();
		dup2(p[0], 3);
		/* The write end, and not the test runner's pipes. */
		close_range(4, ~0U, 0);
		while ((n = read(3, &c, 1)) < 0 && errno == EINTR)
			;
		if (n != 1) {
			sfs_sleep_ms(1000); /* the daemons' SIGKILL lands */
			remove_leftovers();
		}
		_exit(0);
	}
	close(p[0]);
	cl.guard_fd = p[1];
}

static void guard_release(void)
{
	if (cl.guard <= 0)
		return;
	if (write(cl.guard_fd, "", 1) != 1)
		fprintf(stderr, "guard: %s\n", strerror(errno));
	close(cl.guard_fd);
	waitpid(cl.guard, NULL, 0);
	cl.guard = 0;
}

static void cluster_stop(void)
{
	char *s;
	int n;

	if (!cl.up)
		return;
	/* Never a site's jobs: only once SLURM_CONF names ours. */
	for (int i = 0; getenv("SLURM_CONF") && i < 100; i++) {
		if (i == 0) {
			s = sh(NULL, "scancel --state=PENDING; scancel "
				     "--state=RUNNING");
			free(s);
		}
		s = sh(NULL, "squeue -h");
		n = (int)strlen(s);
		free(s);
		if (n == 0)
			break;
		sfs_sleep_ms(100);
	}
	stop_child(&cl.slurmd);
	stop_child(&cl.slurmctld);
	stop_child(&cl.munged);
	remove_leftovers();
	unsetenv("SLURM_CONF");
	guard_release();
	cl.up = false;
}

/* First thing in a test body, not a .init: Criterion runs no .fini after
 * a .init that failed, and a half-started cluster must be stopped too. */
static void start_cluster(const char *extra)
{
#ifdef SANITIZED
	cr_skip_test("real Slurm: plain build only (see the top comment)");
#endif
	cr_assert_eq(sfs_crypto_init(), 0);
	cluster_start(extra);
}

static void fini_cluster(void)
{
	cluster_stop();
}

TestSuite(slurm, .timeout = 240);

/*
 * Jobs
 */

/* Submits script (a /bin/sh body) with sbatch opts; returns the job id. */
static int sbatch(const char *opts, const char *body)
{
	static int n;
	char script[PATH_MAX], *out;
	int status, id;

	snprintf(script, sizeof(script), "%s/jobs/job%d.sh", cl.dir, ++n);
	put_file(
	    script,
	    fmt_path("#!/bin/sh\nF=%s\nJ=$SLURM_JOB_ID\n%s\n", cl.flags, body),
	    0755);
	out = sh(&status,
		 "sbatch --parsable %s -D %s -o %s/%%j.out -e "
		 "%s/%%j.err %s",
		 opts, cl.out, cl.out, cl.out, script);
	cr_assert_eq(status, 0, "sbatch: %s", out);
	id = atoi(out);
	cr_assert(id > 0, "sbatch: %s", out);
	free(out);
	return id;
}

static const char *job_flag(const char *what, int id)
{
	return fmt_path("%s/%s.%d", cl.flags, what, id);
}

/* "COMPLETED", "CANCELLED", ... (scontrol keeps finished jobs a while). */
static char *job_state(int id)
{
	char *s = sh(NULL, "scontrol show job %d", id), *p, *e;

	p = strstr(s, "JobState=");
	if (!p) {
		free(s);
		return strdup("?");
	}
	p += 9;
	e = p;
	while (*e && !isspace((unsigned char)*e))
		e++;
	*e = '\0';
	memmove(s, p, strlen(p) + 1);
	return s;
}

/* Waits until the job has left the queue (its epilog is done). */
static void wait_gone(int id, double timeout_s)
{
	double end = sfs_now_s() + timeout_s;
	char *s;

	for (;;) {
		s = sh(NULL, "squeue -h -j %d -o %%T", id);
		if (!*s || strstr(s, "Invalid job id")) {
			free(s);
			return;
		}
		cr_assert(sfs_now_s() < end, "job %d still there: %s", id, s);
		free(s);
		sfs_sleep_ms(200);
	}
}

/* Waits for the job's end and checks how it ended. */
static void assert_ended(int id, double timeout_s, const char *state)
{
	char *st;

	wait_gone(id, timeout_s);
	st = job_state(id);
	cr_assert_str_eq(st, state, "job %d", id);
	free(st);
}

static void wait_ready(int id)
{
	cr_assert(wait_path(job_flag("ready", id), 60),
		  "job %d never got ready; its stderr: %s", id,
		  sfs_slurp(fmt_path("%s/%d.err", cl.out, id)));
}

static void go(int id)
{
	put_file(job_flag("go", id), "", 0644);
}

/* The job's audit record of kind event (wipe, slurm_scratch) or NULL. */
static json_t *audit_record(int id, const char *event)
{
	char *log = sfs_slurp(cl.audit), *save = NULL;
	json_t *found = NULL;

	for (char *l = strtok_r(log, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		json_t *j = json_loads(l, 0, NULL);

		cr_assert_not_null(j, "audit line is not JSON: %s", l);
		if (!strcmp(json_string_value(json_object_get(j, "event"))
				?: "",
			    event) &&
		    json_integer_value(json_object_get(j, "job_id")) == id) {
			json_decref(found);
			found = j;
		} else {
			json_decref(j);
		}
	}
	free(log);
	return found;
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k)) ?: "";
}

static double rfc3339(const char *t)
{
	struct tm tm = {0};
	int ms = 0;

	cr_assert(sscanf(t, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon,
			 &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
			 &ms) == 7,
		  "time %s", t);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (double)timegm(&tm) + ms / 1000.0;
}

static double wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* When the daemon of backing logged its mount. */
static double mount_time(const char *backing)
{
	char *log = sfs_slurp(cl.audit), *save = NULL;
	double t = 0;

	for (char *l = strtok_r(log, "\n", &save); l && !t;
	     l = strtok_r(NULL, "\n", &save)) {
		json_t *j = json_loads(l, 0, NULL);

		if (j && !strcmp(jstr(j, "event"), "mount") &&
		    !strcmp(jstr(j, "backing"), backing))
			t = rfc3339(jstr(j, "time"));
		json_decref(j);
	}
	free(log);
	cr_assert(t > 0, "no mount record for %s", backing);
	return t;
}

/* After job id ended: nothing of its volume is left and its one wipe
 * record names it. Returns the record. */
static json_t *assert_wiped(int id, const char *user, const char *method)
{
	json_t *rec;

	cr_assert(!exists(fmt_path("%s/job-%d", cl.backing, id)),
		  "job %d: backing directory left", id);
	cr_assert(!exists(fmt_path("%s/job-%d", cl.mnt, id)),
		  "job %d: mount point left", id);
	cr_assert(!exists(fmt_path("%s/job-%d.error", cl.mnt, id)));
	cr_assert(!exists(fmt_path("%s/job-%d.lock", cl.backing, id)));
	rec = audit_record(id, "wipe");
	cr_assert_not_null(rec, "job %d: no wipe record in %s", id,
			   sfs_slurp(cl.audit));
	cr_assert(json_is_true(json_object_get(rec, "verified")));
	cr_assert_str_eq(jstr(rec, "user"), user);
	cr_assert_str_neq(jstr(rec, "node"), "");
	cr_assert_str_eq(jstr(rec, "method"), method);
	cr_assert_str_eq(jstr(rec, "backing"),
			 fmt_path("%s/job-%d", cl.backing, id));
	return rec;
}

/* Whether the directory under the volume at mnt is sealed: a read-only
 * mount other than scratchfs at mnt (mounted first), and the volume. */
static bool sealed(const char *mnt)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[8192], mp[PATH_MAX], opts[256], fs[64];
	bool ro = false;

	while (f && fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - ");

		if (sscanf(line, "%*s %*s %*s %*s %4095s %255s", mp, opts) ==
			2 &&
		    sep && sscanf(sep + 3, "%63s", fs) == 1 && !strcmp(mp, mnt))
			ro = ro || (strcmp(fs, "fuse.scratchfs") &&
				    !strncmp(opts, "ro,", 3));
	}
	if (f)
		fclose(f);
	return ro && sfs_plugin_mount_state(mnt) == SFS_PLUGIN_MOUNTED;
}

/* pid of slurmstepd [id.batch], 0 when there is none. */
static pid_t stepd_of(int id)
{
	char want[64], buf[64];
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;

	snprintf(want, sizeof(want), "slurmstepd: [%d.batch]", id);
	while (d && !found && (de = readdir(d))) {
		int fd =
		    open(fmt_path("/proc/%s/cmdline", de->d_name), O_RDONLY);
		ssize_t n;

		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			if (!strncmp(buf, want, strlen(want)))
				found = (pid_t)atoi(de->d_name);
		}
	}
	if (d)
		closedir(d);
	return found;
}

/* Whether uid can list dir (in a child that becomes uid). */
static bool can_list(uid_t uid, gid_t gid, const char *dir)
{
	int status;
	pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0) {
		DIR *d;

		if (setgroups(0, NULL) || setresgid(gid, gid, gid) ||
		    setresuid(uid, uid, uid))
			_exit(2);
		d = opendir(dir);
		_exit(d ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 2);
	return WEXITSTATUS(status) == 0;
}

/* Waits for ready, lets the job go: the job body's usual tail. */
#define READY_THEN_WAIT                                                        \
	"touch $F/ready.$J\n"                                                  \
	"while [ ! -e $F/go.$J ]; do sleep 0.1; done\n"

/* A job writing until it is stopped. */
#define WRITE_FOREVER                                                          \
	"echo x > $SCRATCH_DIR/f && touch $F/ready.$J\n"                       \
	"while :; do head -c 65536 /dev/zero >> $SCRATCH_DIR/f; sleep 0.05; "  \
	"done\n"

/*
 * Tests
 */

/* A job of an ordinary user: encrypted scratch (and /tmp) it alone can
 * read, the same in every step, ciphertext only on disk, gone after. */
Test(slurm, batch_job_as_user, .fini = fini_cluster)
{
	start_cluster("private_tmp=1");
	struct passwd *pw = getpwnam("nobody");
	char mnt[PATH_MAX], *out;
	double t0, first, end, mounted;
	struct stat sb;
	json_t *rec;
	int id;

	cr_assert_not_null(pw);
	t0 = wall_s();
	id = sbatch("--uid=nobody --gid=nogroup",
		    "echo " CANARY " > $SCRATCH_DIR/" CANARY "-name\n"
		    "echo first_write=$(date +%s.%N)\n"
		    "echo SCRATCH_DIR=$SCRATCH_DIR TMPDIR=$TMPDIR\n"
		    "echo " CANARY "-tmp > /tmp/" CANARY "-tmp\n"
		    "srun sh -c 'echo step sees $SCRATCH_DIR; "
		    "cat $SCRATCH_DIR/" CANARY "-name'\n" READY_THEN_WAIT
		    "echo end=$(date +%s.%N)\n");
	wait_ready(id);
	snprintf(mnt, sizeof(mnt), "%s/job-%d", cl.mnt, id);
	cr_assert_eq(stat(mnt, &sb), 0);
	cr_assert_eq(sb.st_uid, pw->pw_uid);
	cr_assert_eq(sb.st_mode & 07777, 0700);
	cr_assert(sealed(mnt), "no read-only seal under %s", mnt);
	cr_assert(can_list(pw->pw_uid, pw->pw_gid, mnt));
	cr_assert(!can_list(1, 1, mnt), "another user can list %s", mnt);
	/* The file and /tmp's are on the volume; the disk has ciphertext
	 * and encrypted names only; the node's /tmp got nothing. */
	cr_assert(exists(fmt_path("%s/%s-name", mnt, CANARY)));
	cr_assert(exists(fmt_path("%s/tmp/%s-tmp", mnt, CANARY)));
	cr_assert(!exists("/tmp/" CANARY "-tmp"));
	cr_assert(sfs_dir_entries(fmt_path("%s/job-%d", cl.backing, id)) > 0);
	cr_assert(!sfs_tree_contains(fmt_path("%s/job-%d", cl.backing, id),
				     CANARY, NULL),
		  "plaintext in the backing directory");
	go(id);
	assert_ended(id, 60, "COMPLETED");
	rec = assert_wiped(id, "nobody", "crypto-erase");
	out = sfs_slurp(fmt_path("%s/%d.out", cl.out, id));
	cr_assert(strstr(out, fmt_path("SCRATCH_DIR=%s TMPDIR=/tmp", mnt)),
		  "%s", out);
	cr_assert(strstr(out, fmt_path("step sees %s\n" CANARY, mnt)), "%s",
		  out);
	first = atof(strstr(out, "first_write=") + 12);
	end = atof(strstr(out, "end=") + 4);
	mounted = mount_time(fmt_path("%s/job-%d", cl.backing, id));
	cr_log_info("measured: sbatch to first write %.2f s (to the volume "
		    "mounted %.2f s), job end to wipe verified %.2f s (wipe "
		    "itself %.1f ms)",
		    first - t0, mounted - t0, rfc3339(jstr(rec, "time")) - end,
		    json_real_value(json_object_get(rec, "total_ms")));
	json_decref(rec);
	free(out);
}

/* Two jobs at once: two volumes, two daemons, two keys. */
Test(slurm, two_jobs_two_volumes, .fini = fini_cluster)
{
	start_cluster("private_tmp=1");
	struct sfs_volume_header h[2];
	char err[256], *log;
	pid_t daemon[2];
	int id[2];

	for (int i = 0; i < 2; i++)
		id[i] =
		    sbatch("", "echo hi > $SCRATCH_DIR/f\n" READY_THEN_WAIT);
	for (int i = 0; i < 2; i++) {
		int fd;

		wait_ready(id[i]);
		fd = open(fmt_path("%s/job-%d", cl.backing, id[i]),
			  O_RDONLY | O_DIRECTORY);
		cr_assert(fd >= 0);
		cr_assert_eq(sfs_volume_read(fd, &h[i], err, sizeof(err)), 0,
			     "%s", err);
		close(fd);
		daemon[i] = sfs_plugin_mount_daemon(
		    DAEMON, fmt_path("%s/job-%d", cl.mnt, id[i]));
		cr_assert(daemon[i] > 0);
	}
	cr_assert_neq(memcmp(h[0].uuid, h[1].uuid, sizeof(h[0].uuid)), 0);
	cr_assert_neq(daemon[0], daemon[1]);
	/* Each daemon made its own ephemeral key. */
	log = sfs_slurp(cl.audit);
	for (int i = 0; i < 2; i++) {
		char hex[2 * SFS_VOLUME_UUID_BYTES + 1];

		sfs_hex(hex, h[i].uuid, SFS_VOLUME_UUID_BYTES);
		cr_assert(strstr(log, fmt_path("\"event\":\"key_create\","
					       "\"prog\":\"scratchfs\",\"pid\":"
					       "%d",
					       daemon[i])) &&
			      strstr(log, hex),
			  "no key of its own for volume %s", hex);
	}
	free(log);
	for (int i = 0; i < 2; i++)
		go(id[i]);
	for (int i = 0; i < 2; i++) {
		wait_gone(id[i], 60);
		json_decref(assert_wiped(id[i], "root", "crypto-erase"));
	}
}

/* scancel while the job writes. */
Test(slurm, scancel_mid_write, .fini = fini_cluster)
{
	start_cluster("private_tmp=1");
	int id = sbatch("", WRITE_FOREVER);
	char *s;

	wait_ready(id);
	sfs_sleep_ms(300);
	s = sh(NULL, "scancel %d", id);
	free(s);
	assert_ended(id, 60, "CANCELLED");
	json_decref(assert_wiped(id, "root", "crypto-erase"));
}

/* A job killed by its time limit (a minute: Slurm's smallest). */
Test(slurm, time_limit, .fini = fini_cluster)
{
	start_cluster("private_tmp=1");
	int id = sbatch("--time=1", WRITE_FOREVER);

	wait_ready(id);
	assert_ended(id, 180, "TIMEOUT");
	json_decref(assert_wiped(id, "root", "crypto-erase"));
}

/* The job's slurmstepd is SIGKILLed: its script lives on, writing; Slurm
 * notices at the next node registration (every 20th ping: about a minute
 * with SlurmdTimeout=10) and runs the epilog, which wipes; the writer then
 * finds no place to write (never the disk below). */
Test(slurm, slurmstepd_killed, .fini = fini_cluster)
{
	start_cluster("private_tmp=1");
	int id = sbatch("", WRITE_FOREVER);
	pid_t stepd;

	wait_ready(id);
	stepd = stepd_of(id);
	cr_assert(stepd > 0);
	cr_assert_eq(kill(stepd, SIGKILL), 0);
	wait_gone(id, 200);
	sfs_sleep_ms(500); /* the orphaned writer keeps trying */
	json_decref(assert_wiped(id, "root", "crypto-erase"));
}

/* kill -9 slurmd, reaped, and its pid file gone (a new slurmd would wait
 * for the pid in it). */
static void crash_slurmd(void)
{
	cr_assert(cl.slurmd > 0);
	cr_assert_eq(kill(cl.slurmd, SIGKILL), 0);
	cr_assert_eq(waitpid(cl.slurmd, NULL, 0), cl.slurmd);
	cl.slurmd = 0;
	unlink(fmt_path("%s/slurmd.pid", cl.dir));
}

/* kill -9 slurmd: a job that still runs keeps its volume across the
 * restart; once its slurmstepd and processes are gone too (a crash), the
 * restarted slurmd wipes the orphan before the next job starts. */
Test(slurm, slurmd_crash_orphan, .fini = fini_cluster)
{
	start_cluster("private_tmp=1");
	int a = sbatch("", WRITE_FOREVER), b;
	char *out;
	json_t *rec;

	wait_ready(a);
	crash_slurmd();
	start_slurmd();
	cr_assert_eq(sfs_plugin_mount_state(fmt_path("%s/job-%d", cl.mnt, a)),
		     SFS_PLUGIN_MOUNTED, "a running job lost its scratch");
	cr_assert_null(audit_record(a, "wipe"));

	crash_slurmd();
	cr_assert_eq(kill(stepd_of(a), SIGKILL), 0);
	/* The job's script */
	kill_matching(fmt_path("%s/spool/job%05d/", cl.dir, a), false);
	start_slurmd();
	b = sbatch("", fmt_path("mountpoint -q %s/job-$(( J - 1 )) && echo "
				"A-MOUNTED; ls %s/job-$(( J - 1 )) >/dev/null "
				"2>&1 && echo A-BACKING; echo B-RAN",
				cl.mnt, cl.backing));
	cr_assert_eq(b, a + 1);
	wait_gone(b, 60);
	out = sfs_slurp(fmt_path("%s/%d.out", cl.out, b));
	cr_assert_str_eq(out, "B-RAN\n");
	free(out);
	rec = assert_wiped(a, "root", "crypto-erase");
	cr_assert(json_is_true(json_object_get(rec, "orphan")));
	json_decref(rec);
	json_decref(assert_wiped(b, "root", "crypto-erase"));
}

/* An hbi=0 partition: plain passthrough with the same recipe; there a job
 * may still ask for encryption, and elsewhere it may not opt out. */
Test(slurm, plain_partition, .fini = fini_cluster)
{
	start_cluster("private_tmp=1");
	int plain = sbatch("-p plainp", "echo " CANARY
					" > $SCRATCH_DIR/f\n" READY_THEN_WAIT);
	int enc = sbatch("-p plainp --scratchfs",
			 "echo " CANARY " > $SCRATCH_DIR/f\n" READY_THEN_WAIT);
	int refused = sbatch("--scratchfs=plain", "echo should not run");
	char *err;

	wait_ready(plain);
	wait_ready(enc);
	cr_assert(sfs_tree_contains(fmt_path("%s/job-%d", cl.backing, plain),
				    CANARY, NULL),
		  "hbi=0: the backing should hold the plain file");
	cr_assert(!sfs_tree_contains(fmt_path("%s/job-%d", cl.backing, enc),
				     CANARY, NULL),
		  "--scratchfs: plaintext in the backing directory");
	go(plain);
	go(enc);
	wait_gone(plain, 60);
	wait_gone(enc, 60);
	assert_ended(refused, 60, "FAILED");
	json_decref(assert_wiped(plain, "root", "delete"));
	json_decref(assert_wiped(enc, "root", "crypto-erase"));
	err = sfs_slurp(fmt_path("%s/%d.err", cl.out, refused));
	cr_assert(strstr(err, "--scratchfs=plain is not allowed on partition "
			      "debug"),
		  "%s", err);
	cr_assert_null(strstr(sfs_slurp(fmt_path("%s/%d.out", cl.out, refused)),
			      "should not run"));
	free(err);
}

/* No room for the volume: the job fails with the reason in its error
 * output, and nothing is left behind. */
Test(slurm, disk_full_fails_the_job, .fini = fini_cluster)
{
	char full[PATH_MAX], *err;
	json_t *rec;
	int fd, id;

	start_cluster("");
	snprintf(full, sizeof(full), "%s/full", cl.dir);
	cr_assert_eq(mkdir(full, 0700), 0);
	cr_assert_eq(mount("tmpfs", full, "tmpfs", 0, "size=64k,mode=0700"), 0);
	/* The plugin's roots on that disk, then fill it up. */
	put_file(fmt_path("%s/plugstack.conf", cl.dir),
		 fmt_path("required %s backing_root=%s/backing mount_root=%s "
			  "scratchfs=%s conf=%s/scratchfs.conf\n",
			  PLUGIN, full, cl.mnt, DAEMON, cl.dir),
		 0644);
	cr_assert_eq(mkdir(fmt_path("%s/backing", full), 0700), 0);
	fd = open(fmt_path("%s/filler", full), O_WRONLY | O_CREAT, 0600);
	while (write(fd, CANARY, sizeof(CANARY)) > 0)
		;
	close(fd);
	id = sbatch("", "echo should not run");
	assert_ended(id, 60, "FAILED");
	err = sfs_slurp(fmt_path("%s/%d.err", cl.out, id));
	cr_assert(strstr(err, fmt_path("scratchfs: job %d gets no scratch on "
				       "node",
				       id)) &&
		      strstr(err, "No space left on device"),
		  "%s", err);
	free(err);
	cr_assert_eq(sfs_dir_entries(fmt_path("%s/backing", full)), 0);
	cr_assert(!exists(fmt_path("%s/job-%d", cl.mnt, id)));
	cr_assert(!exists(fmt_path("%s/job-%d.error", cl.mnt, id)));
	rec = audit_record(id, "slurm_scratch");
	cr_assert_not_null(rec);
	json_decref(rec);
}

/*
 * The settings (no cluster)
 */

static const struct {
	const char *arg, *msg;
} bad_args[] = {
    {"backing_root=relative", "needs an absolute path"},
    {"backing_root=/", "needs an absolute path"},
    {"mount_root=/a/../b", "needs an absolute path"},
    {"hbi=maybe", "expected 1 or 0"},
    {"hbi.=0", "bad partition name"},
    {"key=usb", "key=usb: expected key=ephemeral"},
    {"key=keyfile:/x", "expected key=ephemeral"},
    {"private_tmp=2", "expected 1 or 0"},
    {"mount_timeout=0", "expected 1..600"},
    {"colour=blue", "unknown setting"},
    {"hbi", "expected NAME=VALUE"},
    {"mount_root=/var/lib/scratchfs-slurm/backing/x", "contain each other"},
};
SFS_CASE_PARAMS(slurm_cfg, bad, bad_args)
ParameterizedTest(int *i, slurm_cfg, bad)
{
	struct sfs_slurm_cfg c;
	char err[512], arg[128], *argv[] = {arg};

	snprintf(arg, sizeof(arg), "%s", bad_args[*i].arg);

	cr_assert_eq(sfs_slurm_cfg_parse(&c, 1, argv, err, sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, bad_args[*i].msg), "%s: %s", bad_args[*i].arg,
		  err);
}

Test(slurm_cfg, defaults_and_choice)
{
	struct sfs_slurm_cfg c;
	struct sfs_slurm_job job = {.id = 7, .partition = "gpu"};
	char err[512], *none[] = {NULL};
	char a0[] = "hbi.cpu=0", a1[] = "key=keyring", a2[] = "allow_plain=0";
	char *args[] = {a0, a1, a2};
	bool hbi;

	cr_assert_eq(sfs_slurm_cfg_parse(&c, 0, none, err, sizeof(err)), 0);
	cr_assert_str_eq(c.backing_root, SFS_SLURM_BASE "/backing");
	cr_assert_str_eq(c.mount_root, SFS_SLURM_BASE "/mnt");
	cr_assert(c.hbi && !c.private_tmp && !c.allow_plain);
	cr_assert_eq(c.key, SFS_KEY_EPHEMERAL);
	cr_assert(!sfs_slurm_cfg_choice(&c), "no choice: no option");

	cr_assert_eq(sfs_slurm_cfg_parse(&c, 3, args, err, sizeof(err)), 0);
	cr_assert(sfs_slurm_cfg_choice(&c));
	cr_assert_eq(c.key, SFS_KEY_KEYRING);
	cr_assert_eq(sfs_slurm_job_hbi(&c, &job, &hbi, err, sizeof(err)), 0);
	cr_assert(hbi);
	job.request = "plain";
	cr_assert_eq(sfs_slurm_job_hbi(&c, &job, &hbi, err, sizeof(err)),
		     -EPERM);
	snprintf(job.partition, sizeof(job.partition), "cpu");
	job.request = NULL;
	cr_assert_eq(sfs_slurm_job_hbi(&c, &job, &hbi, err, sizeof(err)), 0);
	cr_assert(!hbi);
	job.request = "";
	cr_assert_eq(sfs_slurm_job_hbi(&c, &job, &hbi, err, sizeof(err)), 0);
	cr_assert(hbi);
	job.request = "bogus";
	cr_assert_eq(sfs_slurm_job_hbi(&c, &job, &hbi, err, sizeof(err)),
		     -EINVAL);
}
