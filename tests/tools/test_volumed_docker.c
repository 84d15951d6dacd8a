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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine_util.h"
#include "mount_util.h"
#include "sfs_sys.h"
#include "util.h"

#define PLUGIN_DIR "/run/docker/plugins"
#define IMAGE "sfs-e2e-busybox:latest"
#define MARKER "e2e-plaintext-marker-51c2"
#define DOCKERD_START_S 30

struct e2e {
	char w[PATH_MAX];	  /* /tmp/sfs-test.XXXXXX */
	char name[64];		  /* plugin (driver) name */
	char dlog[PATH_MAX];	  /* dockerd log */
	pid_t dockerd;		  /* dockerd (its own session) */
	pid_t containerd;	  /* the containerd dockerd started */
	struct sfs_plugin plugin; /* its socket in /run/docker/plugins */
};

static struct e2e e;

static int count_fuse_mounts(void)
{
	static char mps[64][PATH_MAX];

	return sfs_mounts_under(e.w, "fuse.scratchfs", mps, 64);
}

static void start_plugin(void)
{
	cr_assert(sfs_plugin_try_start(&e.plugin),
		  "the plugin did not start on %s", e.plugin.sock);
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
	SFS_FMT(data, "--data-root=%s/data", e.w);
	SFS_FMT(exec_root, "--exec-root=%s/exec", e.w);
	SFS_FMT(pidfile, "--pidfile=%s/dockerd.pid", e.w);
	SFS_FMT(host, "unix://%s/docker.sock", e.w);
	setenv("DOCKER_HOST", host, 1);
	e.dockerd = sfs_spawn_logged(e.dlog, true, argv);
	while (sfs_now_s() < deadline) {
		if (sfs_pid_gone(e.dockerd)) {
			e.dockerd = 0;
			last_log_line(out, sizeof(out));
			snprintf(why, why_len, "dockerd exited: %s", out);
			return false;
		}
		if (sfs_sh(out, sizeof(out), "docker version") == 0) {
			size_t len;
			char *text;

			SFS_FMT(cpid, "%s/exec/containerd/containerd.pid", e.w);
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
	sfs_busybox_rootfs(e.w);
	sfs_must("docker import --change 'ENV PATH=/bin' "
		 "--change 'CMD [\"/bin/sh\"]' %s/rootfs.tar " IMAGE,
		 e.w);
}

static void e2e_fini(void);

static void e2e_init(void)
{
	char why[1024], text[2 * PATH_MAX];
	char *run_id = getenv("SFS_TEST_RUN_ID");

	memset(&e, 0, sizeof(e));
	SFS_FMT(e.w, "%sXXXXXX", SFS_TEST_ROOT_PREFIX);
	cr_assert(mkdtemp(e.w), "mkdtemp: %s", strerror(errno));
	if (run_id)
		sfs_write_file(sfs_join(e.w, "run-id"), run_id, strlen(run_id));
	/* Unique: other runs may share /run/docker/plugins. */
	SFS_FMT(e.name, "sfs-e2e-%d-%s", (int)getpid(),
		e.w + strlen(SFS_TEST_ROOT_PREFIX));
	SFS_FMT(e.plugin.sock, PLUGIN_DIR "/%s.sock", e.name);
	SFS_FMT(e.plugin.root, "%s/plugin", e.w);
	SFS_FMT(e.plugin.conf, "%s/scratchfs.conf", e.w);
	SFS_FMT(e.plugin.log, "%s/plugin.log", e.w);
	SFS_FMT(e.dlog, "%s/dockerd.log", e.w);
	SFS_FMT(text,
		"keyfile = \"%s/node.key\";\naudit = { syslog = false; };\n",
		e.w);
	cr_assert_eq(sfs_write_file(e.plugin.conf, text, strlen(text)), 0);
	if (sfs_sh(why, sizeof(why), "command -v docker") != 0) {
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
	char out[8192];

	if (!e.w[0])
		return;
	if (e.dockerd > 0) {
		/* Containers first (their Unmounts reach the plugin), then
		 * every volume of our driver (Remove wipes). */
		sfs_sh(out, sizeof(out),
		       "ids=$(docker ps -aq); [ -z \"$ids\" ] || docker rm -f "
		       "$ids");
		if (e.plugin.pid <= 0 && e.name[0])
			sfs_plugin_try_start(&e.plugin);
		sfs_sh(out, sizeof(out),
		       "for v in $(docker volume ls -q --filter driver=%s); do "
		       "docker volume rm -f $v; done",
		       e.name);
	}
	sfs_plugin_stop(&e.plugin, SIGTERM);
	if (e.dockerd > 0) {
		sfs_stop_pid(e.dockerd, 20);
		waitpid(e.dockerd, NULL, WNOHANG);
		/* Its containerd must be gone too. */
		sfs_stop_pid(e.containerd, 10);
	}
	/* Shims, dockerd's data-root self-bind, overlays, FUSE mounts. */
	sfs_engine_dir_remove(e.w);
	if (e.plugin.sock[0])
		unlink(e.plugin.sock);
	e.w[0] = '\0';
}

TestSuite(volumed_docker, .init = e2e_init, .fini = e2e_fini, .timeout = 90);

Test(volumed_docker, create_inspect_share_ciphertext_remove)
{
	char out[65536];
	int files = 0;

	begin();

	cr_assert_str_eq(sfs_must("docker volume create -d %s sv1", e.name),
			 "sv1\n");
	sfs_must("docker volume ls --filter driver=%s | grep -w sv1", e.name);
	/* inspect: driver, RFC 3339 time, our Status; no secrets. */
	snprintf(out, sizeof(out), "%s", sfs_must("docker volume inspect sv1"));
	cr_assert(strstr(out, e.name), "%s", out);
	cr_assert(strstr(out, "\"hbi\": true"), "%s", out);
	cr_assert(strstr(out, "\"key\": \"ephemeral\""), "%s", out);
	cr_assert(strstr(out, "\"refcount\": 0"), "%s", out);
	cr_assert(strstr(out, "\"CreatedAt\": \"20"), "%s", out);
	cr_assert(!strstr(out, "node.key"), "%s", out);

	/* Container A writes and keeps the volume in use; container B,
	 * while A runs, reads what A wrote. */
	sfs_must(
	    "docker run -d --name sfs-a --network none -v sv1:/scratch " IMAGE
	    " sh -c 'echo " MARKER " > /scratch/data.txt; "
	    "while true; do sleep 1; done'");
	sfs_wait_output(MARKER, "docker exec sfs-a cat /scratch/data.txt");
	cr_assert(
	    strstr(sfs_must("docker run --rm --network none -v "
			    "sv1:/scratch " IMAGE " cat /scratch/data.txt"),
		   MARKER));
	/* The volume is a scratchfs mount, and its backing directory holds
	 * ciphertext only: neither the data nor the name. */
	cr_assert(strstr(sfs_must("docker exec sfs-a cat /proc/mounts"),
			 "fuse.scratchfs"));
	cr_assert_eq(count_fuse_mounts(), 1);
	cr_assert(!sfs_tree_contains(
	    sfs_plugin_volume(&e.plugin, "sv1", "backing"), MARKER, &files));
	cr_assert(
	    !sfs_tree_contains(sfs_plugin_volume(&e.plugin, "sv1", "backing"),
			       "data.txt", &files));
	cr_assert(files >= 2, "backing holds only %d files", files);
	snprintf(out, sizeof(out), "%s", sfs_must("docker volume inspect sv1"));
	cr_assert(strstr(out, "\"mounted\": true"), "%s", out);
	cr_assert(strstr(out, "\"refcount\": 1"), "%s", out);

	/* In use: the engine refuses rm without asking the plugin. */
	cr_assert_neq(sfs_sh(out, sizeof(out), "docker volume rm sv1"), 0);
	sfs_must("docker rm -f sfs-a");
	/* Last user gone: unmounted and wiped (wipe=on-unmount). */
	cr_assert_eq(sfs_fuse_mounts_settled(e.w), 0);
	cr_assert_eq(
	    access(sfs_plugin_volume(&e.plugin, "sv1", "backing"), F_OK), -1);
	snprintf(out, sizeof(out), "%s", sfs_must("docker volume inspect sv1"));
	cr_assert(strstr(out, "\"mounted\": false"), "%s", out);

	sfs_must("docker volume rm sv1");
	cr_assert_eq(access(sfs_plugin_volume(&e.plugin, "sv1", NULL), F_OK),
		     -1, "volume directory left after docker volume rm");
	cr_assert_eq(sfs_sh(out, sizeof(out), "docker volume inspect sv1"), 1);
}

Test(volumed_docker, non_root_container_writes_with_uid_option)
{
	char out[4096];

	begin();

	sfs_must("docker volume create -d %s -o uid=1000 -o gid=1000 "
		 "-o mode=0770 su1",
		 e.name);
	sfs_must("docker volume create -d %s su2", e.name);
	snprintf(out, sizeof(out), "%s",
		 sfs_must("docker run --rm --network none -u 1000:1000 "
			  "-v su1:/scratch " IMAGE
			  " sh -c 'echo ok > /scratch/f "
			  "&& stat -c %%u:%%g:%%a /scratch /scratch/f'"));
	cr_assert(strstr(out, "1000:1000:770"), "%s", out);
	cr_assert(strstr(out, "1000:1000:644"), "%s", out);
	/* Without uid=: the root stays root's 0755 and the user cannot. */
	cr_assert_neq(sfs_sh(out, sizeof(out),
			     "docker run --rm --network none -u 1000 "
			     "-v su2:/scratch " IMAGE " touch /scratch/f"),
		      0);
	cr_assert(strstr(out, "Permission denied"), "%s", out);
	sfs_must("docker volume rm su1 su2");
	cr_assert_eq(count_fuse_mounts(), 0);
}

Test(volumed_docker, keyfile_volume_outlives_containers_and_bad_options)
{
	char out[4096];
	int files = 0;

	begin();

	/* Unknown options and keys in options: the engine shows our Err. */
	cr_assert_neq(sfs_sh(out, sizeof(out),
			     "docker volume create -d %s -o size=1G sbad",
			     e.name),
		      0);
	cr_assert(strstr(out, "unknown option \"size\""), "%s", out);
	cr_assert_neq(sfs_sh(out, sizeof(out),
			     "docker volume create -d %s -o key=00ff00ff sbad",
			     e.name),
		      0);
	cr_assert(strstr(out, "option key") && !strstr(out, "00ff00ff"), "%s",
		  out);

	/* key=keyfile + wipe=on-remove: data survives between containers. */
	sfs_must(
	    "docker volume create -d %s -o key=keyfile -o wipe=on-remove sk1",
	    e.name);
	sfs_must("docker run --rm --network none -v sk1:/s " IMAGE
		 " sh -c 'echo " MARKER " > /s/keep'");
	cr_assert_eq(count_fuse_mounts(), 0);
	cr_assert(!sfs_tree_contains(
	    sfs_plugin_volume(&e.plugin, "sk1", "backing"), MARKER, &files));
	cr_assert(files >= 2);
	cr_assert(
	    strstr(sfs_must("docker run --rm --network none -v sk1:/s " IMAGE
			    " cat /s/keep"),
		   MARKER));
	/* An anonymous volume of this driver, removed with the container. */
	sfs_must(
	    "docker run --rm --network none --volume-driver %s -v /anon " IMAGE
	    " sh -c 'echo x > /anon/x'",
	    e.name);
	sfs_must("docker volume rm sk1");
	cr_assert_eq(access(sfs_plugin_volume(&e.plugin, "sk1", NULL), F_OK),
		     -1);
	cr_assert_eq(sfs_dir_entries(sfs_join(e.plugin.root, "volumes")), 0,
		     "volumes left in the plugin root");
}

Test(volumed_docker, plugin_kill_9_under_a_running_container)
{
	char out[4096];
	pid_t old;

	begin();

	sfs_must("docker volume create -d %s sr1", e.name);
	sfs_must("docker run -d --name sfs-r --network none -v sr1:/s " IMAGE
		 " sh -c 'echo one > /s/f; while true; do sleep 1; done'");
	sfs_wait_output("one", "docker exec sfs-r cat /s/f");
	old = e.plugin.pid;
	sfs_plugin_stop(&e.plugin, SIGKILL);
	cr_assert(sfs_pid_gone(old));
	start_plugin(); /* no Activate comes: dockerd does not know */
	/* The container still reads and writes its volume. */
	cr_assert(strstr(sfs_must("docker exec sfs-r sh -c 'echo two >> /s/f; "
				  "cat /s/f'"),
			 "one\ntwo"));
	/* Get and List work from the restored state. */
	snprintf(out, sizeof(out), "%s", sfs_must("docker volume inspect sr1"));
	cr_assert(strstr(out, "\"refcount\": 1"), "%s", out);
	cr_assert(strstr(out, "\"mounted\": true"), "%s", out);
	sfs_must("docker volume ls --filter driver=%s | grep -w sr1", e.name);
	/* Unmount and Remove work too; nothing is left. */
	sfs_must("docker rm -f sfs-r");
	cr_assert_eq(sfs_fuse_mounts_settled(e.w), 0);
	sfs_must("docker volume rm sr1");
	cr_assert_eq(access(sfs_plugin_volume(&e.plugin, "sr1", NULL), F_OK),
		     -1);
	cr_assert_eq(count_fuse_mounts(), 0);
}
