/* scratchfs-volumed.c - the Docker volume plugin: composition root.
 *
 * Usage: scratchfs-volumed [-c CONF] [--socket PATH] [--root DIR]
 *                          [--live-restore]
 *
 * Config → plugin state (root) → unix socket → HTTP server → wait for
 * SIGTERM/SIGINT → stop serving. Volumes stay mounted when the plugin
 * stops: their scratchfs daemons are separate processes, and a restarted
 * plugin continues from state.json.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sfs_audit.h"
#include "sfs_config.h"
#include "sfs_crypto.h"
#include "sfs_log.h"
#include "sfs_plugin.h"
#include "sfs_sys.h"
#include "sfs_version.h"

#define PROG "scratchfs-volumed"

struct cli {
	const char *conf;
	const char *socket;
	const char *root;
	bool live_restore;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [-c CONF] [--socket PATH] [--root DIR] "
		"[--live-restore]\n"
		"\n"
		"Docker volume plugin for scratchfs: docker volume create -d "
		"scratchfs\n"
		"[-o hbi=1|0] [-o key=ephemeral|keyfile] "
		"[-o wipe=on-unmount|on-remove]\n"
		"[-o uid=N] [-o gid=N] [-o mode=OCTAL] NAME\n"
		"\n"
		"  -c CONF          config file (default %s when it exists)\n"
		"  --socket PATH    plugin socket (default %s)\n"
		"  --root DIR       state and volumes (default %s)\n"
		"  --live-restore   dockerd runs with --live-restore: never "
		"reclaim\n"
		"                   mounts of an earlier engine run\n",
		SFS_DEFAULT_CONFIG, SFS_DEFAULT_PLUGIN_SOCKET,
		SFS_DEFAULT_PLUGIN_ROOT);
}

/* 0 to go on, else the exit status. */
static int parse_cli(int argc, char **argv, struct cli *cli)
{
	static const struct option longs[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"root", required_argument, NULL, 'r'},
	    {"live-restore", no_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:hV", longs, NULL)) != -1) {
		switch (c) {
		case 'c':
			cli->conf = optarg;
			break;
		case 's':
			cli->socket = optarg;
			break;
		case 'r':
			cli->root = optarg;
			break;
		case 'l':
			cli->live_restore = true;
			break;
		case 'h':
			usage(stdout);
			return -1;
		case 'V':
			printf(PROG " %s\n", SFS_VERSION);
			return -1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	return 0;
}

/* The config file, then --socket/--root. */
static int load_config(const struct cli *cli, struct sfs_config *cfg,
		       const char **conf_used)
{
	char err[PATH_MAX + 256];
	const char *path = cli->conf;

	sfs_config_defaults(cfg);
	if (!path && access(SFS_DEFAULT_CONFIG, F_OK) == 0)
		path = SFS_DEFAULT_CONFIG;
	*conf_used = path;
	if (path && sfs_config_load(cfg, path, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return -1;
	}
	if ((cli->socket && sfs_config_set_plugin_socket(cfg, cli->socket, err,
							 sizeof(err))) ||
	    (cli->root &&
	     sfs_config_set_plugin_root(cfg, cli->root, err, sizeof(err)))) {
		fprintf(stderr, PROG ": --%s\n", err);
		return -1;
	}
	return 0;
}

/* The scratchfs binary installed next to this one. */
static int find_scratchfs(char *out, size_t len)
{
	int rc = sfs_sibling_program("scratchfs", out, len);

	if (rc < 0)
		fprintf(stderr, PROG ": cannot run %s: %s\n", out,
			strerror(-rc));
	return rc < 0 ? -1 : 0;
}

/* Unlinks the socket only if it is still the one we bound. */
static void remove_socket(const char *path, const struct stat *ours)
{
	struct stat st;

	if (lstat(path, &st) == 0 && st.st_ino == ours->st_ino &&
	    st.st_dev == ours->st_dev)
		unlink(path);
}

int main(int argc, char **argv)
{
	struct sfs_plugin_http *http = NULL;
	struct sfs_audit *audit = NULL;
	struct sfs_plugin_cfg pcfg;
	struct sfs_plugin plugin;
	char err[PATH_MAX + 256], scratchfs[PATH_MAX];
	const char *conf = NULL;
	struct sfs_config cfg;
	struct cli cli = {0};
	struct stat sock_st;
	sigset_t sigs;
	int fd, sig, rc;

	sfs_log_init(PROG, false);
	rc = parse_cli(argc, argv, &cli);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (sfs_crypto_init() < 0) {
		fprintf(stderr, PROG ": libsodium initialisation failed\n");
		return 1;
	}
	if (load_config(&cli, &cfg, &conf) < 0 ||
	    find_scratchfs(scratchfs, sizeof(scratchfs)) < 0)
		return 1;
	if (sfs_audit_open(&audit, cfg.audit.file, cfg.audit.syslog, PROG, err,
			   sizeof(err)) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return 1;
	}
	umask(077);
	/* Signals are taken by sigwait() below; every thread (the HTTP
	 * server's included) inherits this mask. SIGPIPE: a client that
	 * hung up must not kill the plugin. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	pcfg = (struct sfs_plugin_cfg){
	    .root = cfg.volume_plugin.root,
	    .conf = conf,
	    .scratchfs = scratchfs,
	    .encrypted_default = cfg.encrypted,
	    .key_default = cfg.key.source,
	    .live_restore = cli.live_restore,
	    .mount_timeout_s = 60,
	    .wipe = {.passes = cfg.wipe.passes,
		     .discard = cfg.wipe.discard,
		     .audit = audit},
	};
	if (sfs_plugin_open(&plugin, &pcfg, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		sfs_audit_close(audit);
		return 1;
	}
	rc = 1;
	fd = sfs_plugin_listen(cfg.volume_plugin.socket, err, sizeof(err));
	if (fd < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		goto out;
	}
	/* Identify our socket file, to unlink only that one at exit. */
	if (lstat(cfg.volume_plugin.socket, &sock_st) < 0) {
		fprintf(stderr, PROG ": %s: %s\n", cfg.volume_plugin.socket,
			strerror(errno));
		close(fd);
		goto out;
	}
	http = sfs_plugin_http_start(fd, &plugin, err, sizeof(err));
	if (!http) {
		fprintf(stderr, PROG ": %s\n", err);
		remove_socket(cfg.volume_plugin.socket, &sock_st);
		goto out;
	}
	sfs_log(LOG_INFO, "serving %s (root %s%s)", cfg.volume_plugin.socket,
		cfg.volume_plugin.root,
		cli.live_restore ? ", live-restore" : "");
	do {
		if (sigwait(&sigs, &sig) != 0)
			sig = SIGTERM;
	} while (sig == SIGHUP); /* nothing to reload; do not die */
	sfs_log(LOG_INFO, "signal %d: stopping (volumes stay mounted)", sig);
	/* Gone first, so the engine sees a missing plugin, not a hung one. */
	remove_socket(cfg.volume_plugin.socket, &sock_st);
	sfs_plugin_http_stop(http);
	rc = 0;
out:
	sfs_plugin_close(&plugin);
	sfs_audit_close(audit);
	return rc;
}
