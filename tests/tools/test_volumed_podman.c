/* test_volumed_podman.c - scratchfs-volumed end to end with real podman
 * (4.3, Debian 12; the recipe in VOLUME-PLUGIN.md): private containers.conf
 * and storage.conf (the plugin's socket named in [engine.volume_plugins]),
 * a busybox image imported from a local rootfs tarball. Podman has no
 * daemon, sends Plugin.Activate before every call and one constant mount
 * ID for all containers, counting users itself. Everything is torn down:
 * containers, our volumes, the plugin, conmon, overlay and FUSE mounts. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine_util.h"
#include "mount_util.h"
#include "util.h"

#define DRIVER "sfspod"
#define IMAGE "localhost/sfs-e2e-busybox:latest"
#define MARKER "podman-plaintext-marker-7e31"
#define RUN "podman run --network none "

struct pod {
	char w[PATH_MAX]; /* /tmp/sfs-test.XXXXXX */
	struct sfs_plugin plugin;
};

static struct pod e;

static void pod_fini(void)
{
	char out[8192];

	if (!e.w[0])
		return;
	/* Containers first (their Unmounts reach the plugin), then every
	 * volume of our driver (Remove wipes). */
	sfs_sh(out, sizeof(out), "podman rm -af -t 0");
	if (e.plugin.pid <= 0 && e.plugin.sock[0])
		sfs_plugin_try_start(&e.plugin);
	sfs_sh(out, sizeof(out),
	       "for v in $(podman volume ls -q --filter driver=" DRIVER
	       "); do podman volume rm -f $v; done");
	sfs_plugin_stop(&e.plugin, SIGTERM);
	/* conmon, overlays of the image store, FUSE mounts. */
	sfs_engine_dir_remove(e.w);
	e.w[0] = '\0';
}

static void pod_init(void)
{
	char text[4 * PATH_MAX], out[256];
	const char *run_id = getenv("SFS_TEST_RUN_ID");

	memset(&e, 0, sizeof(e));
	SFS_FMT(e.w, "%sXXXXXX", SFS_TEST_ROOT_PREFIX);
	cr_assert(mkdtemp(e.w), "mkdtemp: %s", strerror(errno));
	if (run_id)
		sfs_write_file(sfs_join(e.w, "run-id"), run_id, strlen(run_id));
	SFS_FMT(e.plugin.sock, "%s/plugin.sock", e.w);
	SFS_FMT(e.plugin.root, "%s/plugin", e.w);
	SFS_FMT(e.plugin.conf, "%s/scratchfs.conf", e.w);
	SFS_FMT(e.plugin.log, "%s/plugin.log", e.w);
	SFS_FMT(text,
		"keyfile = \"%s/node.key\";\naudit = { syslog = false; };\n",
		e.w);
	cr_assert_eq(sfs_write_file(e.plugin.conf, text, strlen(text)), 0);
	/* Without the lowered ulimits every run fails here: raising a hard
	 * limit is refused (VOLUME-PLUGIN.md). */
	SFS_FMT(text,
		"[containers]\n"
		"default_ulimits = [\"nofile=1024:1024\", "
		"\"nproc=32768:32768\"]\n"
		"[engine]\ncgroup_manager = \"cgroupfs\"\n"
		"events_logger = \"file\"\nruntime = \"runc\"\n"
		"tmp_dir = \"%s/ptmp\"\n"
		"[engine.volume_plugins]\n" DRIVER " = \"%s\"\n",
		e.w, e.plugin.sock);
	cr_assert_eq(sfs_write_file(sfs_join(e.w, "containers.conf"), text,
				    strlen(text)),
		     0);
	SFS_FMT(text,
		"[storage]\ndriver = \"overlay\"\nrunroot = \"%s/prun\"\n"
		"graphroot = \"%s/proot\"\n",
		e.w, e.w);
	cr_assert_eq(
	    sfs_write_file(sfs_join(e.w, "storage.conf"), text, strlen(text)),
	    0);
	setenv("CONTAINERS_CONF", sfs_join(e.w, "containers.conf"), 1);
	setenv("CONTAINERS_STORAGE_CONF", sfs_join(e.w, "storage.conf"), 1);
	if (sfs_sh(out, sizeof(out), "command -v podman") != 0) {
		/* A failing .init never reaches .fini: clean up first. */
		pod_fini();
		cr_assert_fail("no podman (install podman)");
	}
}

TestSuite(volumed_podman, .init = pod_init, .fini = pod_fini, .timeout = 90);

/* The image and the plugin: done by each test, not .init, so that a
 * failure still gets the full teardown. */
static void begin(void)
{
	sfs_busybox_rootfs(e.w);
	sfs_must("podman import --change 'ENV PATH=/bin' "
		 "--change 'CMD [\"/bin/sh\"]' %s/rootfs.tar " IMAGE,
		 e.w);
	cr_assert(sfs_plugin_try_start(&e.plugin),
		  "the plugin did not start on %s", e.plugin.sock);
}

static int fuse_mounts(void)
{
	static char mps[16][PATH_MAX];

	return sfs_mounts_under(e.w, "fuse.scratchfs", mps, 16);
}

Test(volumed_podman, share_between_containers_ciphertext_wipe_remove)
{
	char out[65536];
	int files = 0;

	begin();
	cr_assert_str_eq(
	    sfs_must("podman volume create --driver " DRIVER " pv1"), "pv1\n");
	snprintf(out, sizeof(out), "%s", sfs_must("podman volume inspect pv1"));
	cr_assert(strstr(out, "\"Driver\": \"" DRIVER "\""), "%s", out);
	cr_assert(strstr(out, "\"hbi\": true"), "%s", out);
	cr_assert(strstr(out, "\"refcount\": 0"), "%s", out);
	cr_assert(!strstr(out, "node.key"), "%s", out);

	/* Container A writes and keeps the volume in use; container B,
	 * while A runs, reads what A wrote. */
	sfs_must(RUN "-d --name sfs-pa -v pv1:/scratch " IMAGE
		     " sh -c 'echo " MARKER " > /scratch/data.txt; "
		     "while true; do sleep 1; done'");
	sfs_wait_output(MARKER, "podman exec sfs-pa cat /scratch/data.txt");
	cr_assert(strstr(sfs_must(RUN "--rm -v pv1:/scratch " IMAGE
				      " cat /scratch/data.txt"),
			 MARKER));
	cr_assert(strstr(sfs_must("podman exec sfs-pa cat /proc/mounts"),
			 "fuse.scratchfs"));
	/* One constant mount ID: B's start and end did not unmount A's. */
	cr_assert_eq(fuse_mounts(), 1);
	cr_assert(strstr(sfs_must("podman exec sfs-pa cat /scratch/data.txt"),
			 MARKER));
	cr_assert(!sfs_tree_contains(
	    sfs_plugin_volume(&e.plugin, "pv1", "backing"), MARKER, &files));
	cr_assert(
	    !sfs_tree_contains(sfs_plugin_volume(&e.plugin, "pv1", "backing"),
			       "data.txt", &files));
	cr_assert(files >= 2, "backing holds only %d files", files);
	snprintf(out, sizeof(out), "%s", sfs_must("podman volume inspect pv1"));
	cr_assert(strstr(out, "\"mounted\": true"), "%s", out);

	/* In use: podman refuses rm without -f. */
	cr_assert_neq(sfs_sh(out, sizeof(out), "podman volume rm pv1"), 0);
	/* Last user gone: unmounted and wiped (wipe=on-unmount). */
	sfs_must("podman rm -f -t 0 sfs-pa");
	cr_assert_eq(sfs_fuse_mounts_settled(e.w), 0);
	cr_assert_eq(
	    access(sfs_plugin_volume(&e.plugin, "pv1", "backing"), F_OK), -1,
	    "backing left after the last container");
	cr_assert(strstr(sfs_must(RUN "--rm -v pv1:/scratch " IMAGE
				      " sh -c 'ls /scratch | wc -l'"),
			 "0"));

	sfs_must("podman volume rm pv1");
	cr_assert_eq(access(sfs_plugin_volume(&e.plugin, "pv1", NULL), F_OK),
		     -1, "volume directory left after podman volume rm");
	cr_assert_neq(sfs_sh(out, sizeof(out), "podman volume inspect pv1"), 0);
	cr_assert_eq(fuse_mounts(), 0);
}

Test(volumed_podman, options_keyfile_and_plugin_restart)
{
	char out[4096];
	int files = 0;
	pid_t old;

	begin();
	/* Bad options: podman shows the plugin's error. */
	cr_assert_neq(sfs_sh(out, sizeof(out),
			     "podman volume create --driver " DRIVER
			     " -o size=1G pbad"),
		      0);
	cr_assert(strstr(out, "unknown option \"size\""), "%s", out);

	/* key=keyfile + wipe=on-remove: data outlives containers. */
	sfs_must("podman volume create --driver " DRIVER
		 " -o key=keyfile -o wipe=on-remove -o uid=1000 -o gid=1000 "
		 "-o mode=0770 pk1");
	snprintf(out, sizeof(out), "%s",
		 sfs_must(RUN "--rm -u 1000:1000 -v pk1:/s " IMAGE
			      " sh -c 'echo " MARKER
			      " > /s/keep && stat -c %%u:%%g:%%a /s /s/keep'"));
	cr_assert(strstr(out, "1000:1000:770"), "%s", out);
	cr_assert_eq(sfs_fuse_mounts_settled(e.w), 0);
	cr_assert(!sfs_tree_contains(
	    sfs_plugin_volume(&e.plugin, "pk1", "backing"), MARKER, &files));
	cr_assert(files >= 2);

	/* The plugin dies under a running container and comes back: the
	 * container keeps its volume, and podman's next calls (each after
	 * an Activate) find it in the restored state. */
	sfs_must(RUN "-d --name sfs-pr -v pk1:/s " IMAGE
		     " sh -c 'while true; do sleep 1; done'");
	sfs_wait_output(MARKER, "podman exec sfs-pr cat /s/keep");
	old = e.plugin.pid;
	sfs_plugin_stop(&e.plugin, SIGKILL);
	cr_assert(sfs_pid_gone(old));
	cr_assert(sfs_plugin_try_start(&e.plugin));
	cr_assert(
	    strstr(sfs_must("podman exec sfs-pr sh -c 'echo two >> /s/keep;"
			    " cat /s/keep'"),
		   MARKER "\ntwo"));
	snprintf(out, sizeof(out), "%s", sfs_must("podman volume inspect pk1"));
	cr_assert(strstr(out, "\"mounted\": true"), "%s", out);
	sfs_must("podman rm -f -t 0 sfs-pr");
	cr_assert_eq(sfs_fuse_mounts_settled(e.w), 0);
	cr_assert(strstr(sfs_must(RUN "--rm -v pk1:/s " IMAGE " cat /s/keep"),
			 MARKER "\ntwo"));
	sfs_must("podman volume rm pk1");
	cr_assert_eq(access(sfs_plugin_volume(&e.plugin, "pk1", NULL), F_OK),
		     -1);
	cr_assert_eq(sfs_dir_entries(sfs_join(e.plugin.root, "volumes")), 0,
		     "volumes left in the plugin root");
}
