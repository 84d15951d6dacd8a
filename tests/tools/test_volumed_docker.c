/* test_volumed_docker.c - scratchfs-volumed end to end with a real dockerd
 * (the recipe in VOLUME-PLUGIN.md): a private dockerd (own data-root,
 * exec-root and API socket, no network), a busybox image imported from a
 * local rootfs tarball, and the plugin under a unique name in
 * /run/docker/plugins. Skipped, with the reason, only when dockerd cannot
 * start here. Everything is torn down: containers, volumes, the plugin,
 * dockerd and its containerd, the data-root self-bind and FUSE mounts. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mount_util.h"
#include "sfs_sys.h"
#include "util.h"

#define PLUGIN_BIN SFS_BUILD_DIR "/scratchfs-volumed"
#define PLUGIN_DIR "/run/docker/plugins"
#define IMAGE "sfs-e2e-busybox:latest"
#define MARKER "e2e-plaintext-marker-51c2"
#define DOCKERD_START_S 30

#define FMT(buf, ...)                                                          \
	cr_assert((size_t)snprintf((buf), sizeof(buf), __VA_ARGS__) <          \
		      sizeof(buf),                                             \
		  "path too long")

struct e2e {
	char w[PATH_MAX];     /* /tmp/sfs-test.XXXXXX */
	char name[64];	      /* plugin (driver) name */
	char sock[PATH_MAX];  /* /run/docker/plugins/<name>.sock */
	char proot[PATH_MAX]; /* the plugin's --root */
	char conf[PATH_MAX];  /* scratchfs.conf for plugin and daemons */
	char plog[PATH_MAX];  /* plugin log */
	char dlog[PATH_MAX];  /* dockerd log */
	pid_t dockerd;	      /* dockerd (its own session) */
	pid_t containerd;     /* the containerd dockerd started */
	pid_t plugin;
};

static struct e2e e;

/* Runs "sh -c CMD" (at most 90 s) with stdout and stderr in out; returns
 * the exit status. */
static __attribute__((format(printf, 3, 4))) int sh(char *out, size_t len,
						    const char *fmt, ...)
{
	char cmd[8192], scratch[256];
	size_t used = 0;
	int p[2], status;
	va_list ap;
	pid_t pid;
	ssize_t n;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (!out) {
		out = scratch;
		len = sizeof(scratch);
	}
	out[0] = '\0';
	cr_assert(pipe2(p, O_CLOEXEC) == 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		execl("/usr/bin/timeout", "timeout", "-k", "5", "90", "/bin/sh",
		      "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while ((n = read(p[0], out + used, len - 1 - used)) > 0) {
		used += (size_t)n;
		if (used == len - 1) {
			char sink[4096];

			while (read(p[0], sink, sizeof(sink)) > 0)
				;
			break;
		}
	}
	out[used] = '\0';
	close(p[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* sh() that must succeed; returns the output (static buffer). */
static __attribute__((format(printf, 1, 2))) const char *must(const char *fmt,
							      ...)
{
	static char out[65536];
	char cmd[8192];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = sh(out, sizeof(out), "%s", cmd);
	cr_assert_eq(rc, 0, "`%s` failed (%d): %s", cmd, rc, out);
	return out;
}

static void dump(const char *what, const char *path)
{
	size_t len;
	char *text = sfs_read_file(path, &len);

	if (text) {
		fprintf(stderr, "---- %s (last 3000 bytes) ----\n%s\n----\n",
			what, len > 3000 ? text + len - 3000 : text);
		free(text);
	}
}

static int count_fuse_mounts(void)
{
	static char mps[64][PATH_MAX];

	return sfs_mounts_under(e.w, "fuse.scratchfs", mps, 64);
}

/* The engine's Unmount may trail the CLI's return by a moment. */
static int fuse_mounts_settled(void)
{
	double deadline = sfs_now_s() + 10;
	int n;

	while ((n = count_fuse_mounts()) > 0 && sfs_now_s() < deadline)
		sfs_sleep_ms(50);
	return n;
}

/* True when pid is gone (or a zombie nobody reaps). */
static bool gone(pid_t pid)
{
	char st[512];

	if (pid <= 0)
		return true;
	if (waitpid(pid, NULL, WNOHANG) == pid)
		return true;
	return !sfs_proc_stat(pid, st, sizeof(st));
}

/* SIGTERM, wait up to seconds, then SIGKILL and wait again. */
static void stop_pid(pid_t pid, double seconds)
{
	double deadline = sfs_now_s() + seconds;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	while (!gone(pid) && sfs_now_s() < deadline)
		sfs_sleep_ms(50);
	if (!gone(pid)) {
		kill(pid, SIGKILL);
		deadline = sfs_now_s() + 5;
		while (!gone(pid) && sfs_now_s() < deadline)
			sfs_sleep_ms(20);
	}
}

static pid_t spawn_logged(const char *log, bool new_session,
			  const char *const argv[])
{
	pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (new_session)
			setsid();
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* Starts the plugin and waits for its socket; false (the log dumped) when
 * it does not come up. No assertions: .fini uses it too. */
static bool try_start_plugin(void)
{
	const char *argv[] = {PLUGIN_BIN, "-c",	    e.conf,  "--socket",
			      e.sock,	  "--root", e.proot, NULL};
	double deadline = sfs_now_s() + 10;
	char out[256];

	e.plugin = spawn_logged(e.plog, false, argv);
	while (sfs_now_s() < deadline) {
		if (gone(e.plugin))
			break;
		if (sh(out, sizeof(out), "test -S %s", e.sock) == 0)
			return true;
		sfs_sleep_ms(20);
	}
	dump("plugin log", e.plog);
	return false;
}

static void start_plugin(void)
{
	cr_assert(try_start_plugin(), "the plugin did not start on %s", e.sock);
}

static void stop_plugin(int sig)
{
	if (e.plugin <= 0)
		return;
	kill(e.plugin, sig);
	waitpid(e.plugin, NULL, 0);
	e.plugin = 0;
}

/* The last non-empty line of the dockerd log, for the skip message. */
static void last_log_line(char *out, size_t len)
{
	size_t n;
	char *text = sfs_read_file(e.dlog, &n), *end, *start;

	snprintf(out, len, "(no log)");
	if (!text)
		return;
	end = text + n;
	while (end > text && (end[-1] == '\n' || end[-1] == ' '))
		end--;
	start = end;
	while (start > text && start[-1] != '\n')
		start--;
	snprintf(out, len, "%.*s", (int)(end - start), start);
	free(text);
}

/* Starts a private dockerd; false (and the reason in why) when it cannot
 * start here. */
static bool start_dockerd(char *why, size_t why_len)
{
	char data[PATH_MAX], exec_root[PATH_MAX], pidfile[PATH_MAX],
	    host[PATH_MAX], cpid[PATH_MAX], out[512];
	const char *argv[] = {"/usr/sbin/dockerd",
			      "--iptables=false",
			      "--ip6tables=false",
			      "--bridge=none",
			      "--storage-driver=overlay2",
			      data,
			      exec_root,
			      pidfile,
			      "-H",
			      host,
			      NULL};
	double deadline = sfs_now_s() + DOCKERD_START_S;

	if (access(argv[0], X_OK) < 0)
		argv[0] = "/usr/bin/dockerd";
	if (access(argv[0], X_OK) < 0) {
		snprintf(why, why_len,
			 "no dockerd in /usr/sbin or /usr/bin (docker.io)");
		return false;
	}
	FMT(data, "--data-root=%s/data", e.w);
	FMT(exec_root, "--exec-root=%s/exec", e.w);
	FMT(pidfile, "--pidfile=%s/dockerd.pid", e.w);
	FMT(host, "unix://%s/docker.sock", e.w);
	setenv("DOCKER_HOST", host, 1);
	e.dockerd = spawn_logged(e.dlog, true, argv);
	while (sfs_now_s() < deadline) {
		if (gone(e.dockerd)) {
			e.dockerd = 0;
			last_log_line(out, sizeof(out));
			snprintf(why, why_len, "dockerd exited: %s", out);
			return false;
		}
		if (sh(out, sizeof(out), "docker version") == 0) {
			size_t len;
			char *text;

			FMT(cpid, "%s/exec/containerd/containerd.pid", e.w);
			text = sfs_read_file(cpid, &len);
			e.containerd = text ? (pid_t)atoi(text) : 0;
			free(text);
			return true;
		}
		sfs_sleep_ms(250);
	}
	last_log_line(out, sizeof(out));
	snprintf(why, why_len, "dockerd not ready after %d s: %s",
		 DOCKERD_START_S, out);
	return false;
}

static void import_image(void)
{
	char rootfs[PATH_MAX];

	FMT(rootfs, "%s/rootfs", e.w);
	cr_assert_eq(access("/bin/busybox", X_OK), 0,
		     "/bin/busybox missing (install busybox-static)");
	/* Skip the busybox applet itself: a busybox -> busybox link would
	 * replace the binary (VOLUME-PLUGIN.md). */
	must("set -e; mkdir -p %s/bin; cp /bin/busybox %s/bin/busybox; "
	     "for a in $(%s/bin/busybox --list); do "
	     "[ \"$a\" = busybox ] || ln -sf busybox %s/bin/$a; done; "
	     "tar -C %s -cf %s/rootfs.tar .",
	     rootfs, rootfs, rootfs, rootfs, rootfs, e.w);
	must("docker import --change 'ENV PATH=/bin' "
	     "--change 'CMD [\"/bin/sh\"]' %s/rootfs.tar " IMAGE,
	     e.w);
}

static void e2e_fini(void);

static void e2e_init(void)
{
	char why[1024], text[2 * PATH_MAX];
	char *run_id = getenv("SFS_TEST_RUN_ID");

	memset(&e, 0, sizeof(e));
	FMT(e.w, "%sXXXXXX", SFS_TEST_ROOT_PREFIX);
	cr_assert(mkdtemp(e.w), "mkdtemp: %s", strerror(errno));
	if (run_id)
		sfs_write_file(sfs_join(e.w, "run-id"), run_id, strlen(run_id));
	/* Unique: other runs may share /run/docker/plugins. */
	FMT(e.name, "sfs-e2e-%d-%s", (int)getpid(),
	    e.w + strlen(SFS_TEST_ROOT_PREFIX));
	FMT(e.sock, PLUGIN_DIR "/%s.sock", e.name);
	FMT(e.proot, "%s/plugin", e.w);
	FMT(e.conf, "%s/scratchfs.conf", e.w);
	FMT(e.plog, "%s/plugin.log", e.w);
	FMT(e.dlog, "%s/dockerd.log", e.w);
	FMT(text, "keyfile = \"%s/node.key\";\naudit = { syslog = false; };\n",
	    e.w);
	cr_assert_eq(sfs_write_file(e.conf, text, strlen(text)), 0);
	if (sh(why, sizeof(why), "command -v docker") != 0) {
		/* A failing .init never reaches .fini: clean up first. */
		e2e_fini();
		cr_assert_fail("no docker CLI (install docker.io)");
	}
	if (!start_dockerd(why, sizeof(why))) {
		e2e_fini();
		cr_skip_test("dockerd cannot start here, skipping the Docker "
			     "end-to-end tests: %s",
			     why);
	}
}

/* The image and the plugin: done by each test, not .init, so that a
 * failure still gets the full teardown. */
static void begin(void)
{
	import_image();
	start_plugin();
}

static void e2e_fini(void)
{
	static char mps[128][PATH_MAX];
	char out[8192];
	pid_t pid;
	int n;

	if (!e.w[0])
		return;
	if (e.dockerd > 0) {
		/* Containers first (their Unmounts reach the plugin), then
		 * every volume of our driver (Remove wipes). */
		sh(out, sizeof(out),
		   "ids=$(docker ps -aq); [ -z \"$ids\" ] || docker rm -f "
		   "$ids");
		if (e.plugin <= 0 && e.name[0])
			try_start_plugin();
		sh(out, sizeof(out),
		   "for v in $(docker volume ls -q --filter driver=%s); do "
		   "docker volume rm -f $v; done",
		   e.name);
	}
	stop_plugin(SIGTERM);
	if (e.dockerd > 0) {
		stop_pid(e.dockerd, 20);
		waitpid(e.dockerd, NULL, WNOHANG);
		/* Its containerd must be gone too. */
		stop_pid(e.containerd, 10);
	}
	/* Shims or anything else still pointing into our directory. */
	for (int i = 0; i < 50 && sfs_procs_mentioning(e.w, NULL, &pid) > 0;
	     i++) {
		kill(pid, i < 25 ? SIGTERM : SIGKILL);
		sfs_sleep_ms(100);
	}
	/* dockerd's data-root self-bind, overlays, FUSE mounts. */
	n = sfs_mounts_under(e.w, NULL, mps, 128);
	for (int i = 0; i < n; i++)
		if (umount2(mps[i], 0) < 0)
			umount2(mps[i], MNT_DETACH);
	if (!strncmp(e.w, SFS_TEST_ROOT_PREFIX, strlen(SFS_TEST_ROOT_PREFIX)))
		nftw(e.w, sfs_rm_one, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	if (e.sock[0])
		unlink(e.sock);
	e.w[0] = '\0';
}

TestSuite(volumed_docker, .init = e2e_init, .fini = e2e_fini, .timeout = 90);

static const char *vol_path(const char *name, const char *what)
{
	static char p[PATH_MAX];

	FMT(p, "%s/volumes/%s%s%s", e.proot, name, what ? "/" : "",
	    what ? what : "");
	return p;
}

/* Waits until `cmd` prints want (a container got going). */
static void wait_output(const char *want, const char *cmd)
{
	double deadline = sfs_now_s() + 30;
	char out[4096];

	while (sfs_now_s() < deadline) {
		if (sh(out, sizeof(out), "%s", cmd) == 0 && strstr(out, want))
			return;
		sfs_sleep_ms(100);
	}
	cr_assert_fail("`%s` never printed %s (last: %s)", cmd, want, out);
}

Test(volumed_docker, create_inspect_share_ciphertext_remove)
{
	char out[65536];
	int files = 0;

	begin();

	cr_assert_str_eq(must("docker volume create -d %s sv1", e.name),
			 "sv1\n");
	must("docker volume ls --filter driver=%s | grep -w sv1", e.name);
	/* inspect: driver, RFC 3339 time, our Status; no secrets. */
	snprintf(out, sizeof(out), "%s", must("docker volume inspect sv1"));
	cr_assert(strstr(out, e.name), "%s", out);
	cr_assert(strstr(out, "\"hbi\": true"), "%s", out);
	cr_assert(strstr(out, "\"key\": \"ephemeral\""), "%s", out);
	cr_assert(strstr(out, "\"refcount\": 0"), "%s", out);
	cr_assert(strstr(out, "\"CreatedAt\": \"20"), "%s", out);
	cr_assert(!strstr(out, "node.key"), "%s", out);

	/* Container A writes and keeps the volume in use; container B,
	 * while A runs, reads what A wrote. */
	must("docker run -d --name sfs-a --network none -v sv1:/scratch " IMAGE
	     " sh -c 'echo " MARKER " > /scratch/data.txt; "
	     "while true; do sleep 1; done'");
	wait_output(MARKER, "docker exec sfs-a cat /scratch/data.txt");
	cr_assert(strstr(must("docker run --rm --network none -v "
			      "sv1:/scratch " IMAGE " cat /scratch/data.txt"),
			 MARKER));
	/* The volume is a scratchfs mount, and its backing directory holds
	 * ciphertext only: neither the data nor the name. */
	cr_assert(strstr(must("docker exec sfs-a cat /proc/mounts"),
			 "fuse.scratchfs"));
	cr_assert_eq(count_fuse_mounts(), 1);
	cr_assert(
	    !sfs_tree_contains(vol_path("sv1", "backing"), MARKER, &files));
	cr_assert(
	    !sfs_tree_contains(vol_path("sv1", "backing"), "data.txt", &files));
	cr_assert(files >= 2, "backing holds only %d files", files);
	snprintf(out, sizeof(out), "%s", must("docker volume inspect sv1"));
	cr_assert(strstr(out, "\"mounted\": true"), "%s", out);
	cr_assert(strstr(out, "\"refcount\": 1"), "%s", out);

	/* In use: the engine refuses rm without asking the plugin. */
	cr_assert_neq(sh(out, sizeof(out), "docker volume rm sv1"), 0);
	must("docker rm -f sfs-a");
	/* Last user gone: unmounted and wiped (wipe=on-unmount). */
	cr_assert_eq(fuse_mounts_settled(), 0);
	cr_assert_eq(access(vol_path("sv1", "backing"), F_OK), -1);
	snprintf(out, sizeof(out), "%s", must("docker volume inspect sv1"));
	cr_assert(strstr(out, "\"mounted\": false"), "%s", out);

	must("docker volume rm sv1");
	cr_assert_eq(access(vol_path("sv1", NULL), F_OK), -1,
		     "volume directory left after docker volume rm");
	cr_assert_eq(sh(out, sizeof(out), "docker volume inspect sv1"), 1);
}

Test(volumed_docker, non_root_container_writes_with_uid_option)
{
	char out[4096];

	begin();

	must("docker volume create -d %s -o uid=1000 -o gid=1000 "
	     "-o mode=0770 su1",
	     e.name);
	must("docker volume create -d %s su2", e.name);
	snprintf(out, sizeof(out), "%s",
		 must("docker run --rm --network none -u 1000:1000 "
		      "-v su1:/scratch " IMAGE " sh -c 'echo ok > /scratch/f "
		      "&& stat -c %%u:%%g:%%a /scratch /scratch/f'"));
	cr_assert(strstr(out, "1000:1000:770"), "%s", out);
	cr_assert(strstr(out, "1000:1000:644"), "%s", out);
	/* Without uid=: the root stays root's 0755 and the user cannot. */
	cr_assert_neq(sh(out, sizeof(out),
			 "docker run --rm --network none -u 1000 "
			 "-v su2:/scratch " IMAGE " touch /scratch/f"),
		      0);
	cr_assert(strstr(out, "Permission denied"), "%s", out);
	must("docker volume rm su1 su2");
	cr_assert_eq(count_fuse_mounts(), 0);
}

Test(volumed_docker, keyfile_volume_outlives_containers_and_bad_options)
{
	char out[4096];
	int files = 0;

	begin();

	/* Unknown options and keys in options: the engine shows our Err. */
	cr_assert_neq(sh(out, sizeof(out),
			 "docker volume create -d %s -o size=1G sbad", e.name),
		      0);
	cr_assert(strstr(out, "unknown option \"size\""), "%s", out);
	cr_assert_neq(sh(out, sizeof(out),
			 "docker volume create -d %s -o key=00ff00ff sbad",
			 e.name),
		      0);
	cr_assert(strstr(out, "option key") && !strstr(out, "00ff00ff"), "%s",
		  out);

	/* key=keyfile + wipe=on-remove: data survives between containers. */
	must("docker volume create -d %s -o key=keyfile -o wipe=on-remove sk1",
	     e.name);
	must("docker run --rm --network none -v sk1:/s " IMAGE
	     " sh -c 'echo " MARKER " > /s/keep'");
	cr_assert_eq(count_fuse_mounts(), 0);
	cr_assert(
	    !sfs_tree_contains(vol_path("sk1", "backing"), MARKER, &files));
	cr_assert(files >= 2);
	cr_assert(strstr(must("docker run --rm --network none -v sk1:/s " IMAGE
			      " cat /s/keep"),
			 MARKER));
	/* An anonymous volume of this driver, removed with the container. */
	must("docker run --rm --network none --volume-driver %s -v /anon " IMAGE
	     " sh -c 'echo x > /anon/x'",
	     e.name);
	must("docker volume rm sk1");
	cr_assert_eq(access(vol_path("sk1", NULL), F_OK), -1);
	cr_assert_eq(sfs_dir_entries(sfs_join(e.proot, "volumes")), 0,
		     "volumes left in the plugin root");
}

Test(volumed_docker, plugin_kill_9_under_a_running_container)
{
	char out[4096];
	pid_t old;

	begin();

	must("docker volume create -d %s sr1", e.name);
	must("docker run -d --name sfs-r --network none -v sr1:/s " IMAGE
	     " sh -c 'echo one > /s/f; while true; do sleep 1; done'");
	wait_output("one", "docker exec sfs-r cat /s/f");
	old = e.plugin;
	stop_plugin(SIGKILL);
	cr_assert(gone(old));
	start_plugin(); /* no Activate comes: dockerd does not know */
	/* The container still reads and writes its volume. */
	cr_assert(strstr(must("docker exec sfs-r sh -c 'echo two >> /s/f; "
			      "cat /s/f'"),
			 "one\ntwo"));
	/* Get and List work from the restored state. */
	snprintf(out, sizeof(out), "%s", must("docker volume inspect sr1"));
	cr_assert(strstr(out, "\"refcount\": 1"), "%s", out);
	cr_assert(strstr(out, "\"mounted\": true"), "%s", out);
	must("docker volume ls --filter driver=%s | grep -w sr1", e.name);
	/* Unmount and Remove work too; nothing is left. */
	must("docker rm -f sfs-r");
	cr_assert_eq(fuse_mounts_settled(), 0);
	must("docker volume rm sr1");
	cr_assert_eq(access(vol_path("sr1", NULL), F_OK), -1);
	cr_assert_eq(count_fuse_mounts(), 0);
}
