/* test_config_plugin.c - the volume_plugin { socket; root; } group of the
 * config file and scratchfs-volumed's --socket/--root setters: defaults,
 * the shipped file's documented values, strict validation with FILE:LINE. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sfs_config.h"
#include "util.h"

static char tmpdir[64];

static void setup(void)
{
	cr_assert(sfs_crypto_init() == 0);
	sfs_tmpdir_make(tmpdir, sizeof(tmpdir), "cfgplug");
}

static void teardown(void)
{
	char path[PATH_MAX];

	if (!tmpdir[0])
		return;
	snprintf(path, sizeof(path), "%s/c.conf", tmpdir);
	unlink(path);
	rmdir(tmpdir);
}

TestSuite(config_plugin, .init = setup, .fini = teardown, .timeout = 20);

/* Writes text as tmpdir/c.conf; returns its path (static buffer). */
static const char *write_conf(const char *text)
{
	return sfs_write_text(tmpdir, "c.conf", text);
}

Test(config_plugin, defaults)
{
	struct sfs_config cfg;

	memset(&cfg, 0xa5, sizeof(cfg));
	sfs_config_defaults(&cfg);
	cr_assert_str_eq(cfg.volume_plugin.socket,
			 "/run/docker/plugins/scratchfs.sock");
	cr_assert_str_eq(cfg.volume_plugin.socket, SFS_DEFAULT_PLUGIN_SOCKET);
	cr_assert_str_eq(cfg.volume_plugin.root, "/var/lib/scratchfs-volumed");
	cr_assert_str_eq(cfg.volume_plugin.root, SFS_DEFAULT_PLUGIN_ROOT);
}

Test(config_plugin, file_sets_both)
{
	struct sfs_config cfg;
	char err[512] = "";
	const char *path =
	    write_conf("hbi_workspace = true;\n"
		       "volume_plugin = {\n"
		       "\tsocket = \"/run/docker/plugins/scratch2.sock\";\n"
		       "\troot = \"/mnt/resource/scratchfs-volumed\";\n"
		       "};\n");

	sfs_config_defaults(&cfg);
	cr_assert_eq(sfs_config_load(&cfg, path, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_str_eq(cfg.volume_plugin.socket,
			 "/run/docker/plugins/scratch2.sock");
	cr_assert_str_eq(cfg.volume_plugin.root,
			 "/mnt/resource/scratchfs-volumed");
}

Test(config_plugin, empty_group_and_one_setting_keep_defaults)
{
	struct sfs_config cfg;
	char err[512] = "";

	sfs_config_defaults(&cfg);
	cr_assert_eq(sfs_config_load(&cfg, write_conf("volume_plugin = {};\n"),
				     err, sizeof(err)),
		     0, "%s", err);
	cr_assert_str_eq(cfg.volume_plugin.socket, SFS_DEFAULT_PLUGIN_SOCKET);
	cr_assert_str_eq(cfg.volume_plugin.root, SFS_DEFAULT_PLUGIN_ROOT);
	cr_assert_eq(sfs_config_load(&cfg,
				     write_conf("volume_plugin = { root = "
						"\"/srv/v\"; };\n"),
				     err, sizeof(err)),
		     0, "%s", err);
	cr_assert_str_eq(cfg.volume_plugin.socket, SFS_DEFAULT_PLUGIN_SOCKET);
	cr_assert_str_eq(cfg.volume_plugin.root, "/srv/v");
}

/* Arrays, not pointers: each test runs in a fresh process. */
struct bad_case {
	char text[1400];
	char want[96]; /* after "FILE:" */
};

ParameterizedTestParameters(config_plugin, rejects)
{
	static struct bad_case c[] = {
	    {"volume_plugin = { socket = \"relative.sock\"; };",
	     "1: volume_plugin.socket: must be an absolute path"},
	    {"volume_plugin = { socket = \"\"; };",
	     "1: volume_plugin.socket: must be an absolute path"},
	    {"volume_plugin = { socket = \"/\"; };",
	     "1: volume_plugin.socket: must not be \"/\""},
	    {"volume_plugin = { socket = \"/run//x.sock\"; };",
	     "1: volume_plugin.socket: \"/run//x.sock\" is not a normalised"},
	    {"volume_plugin = { socket = \"/run/./x.sock\"; };",
	     "1: volume_plugin.socket: \"/run/./x.sock\" is not a normalised"},
	    {"volume_plugin = { socket = \"/run/../x.sock\"; };",
	     "1: volume_plugin.socket: \"/run/../x.sock\" is not a normalised"},
	    {"volume_plugin = { socket = \"/run/x/\"; };",
	     "1: volume_plugin.socket: \"/run/x/\" is not a normalised"},
	    {"volume_plugin = { socket = \"/run/x/..\"; };",
	     "1: volume_plugin.socket: \"/run/x/..\" is not a normalised"},
	    {"volume_plugin = { socket = \"/0123456789012345678901234567890123"
	     "456789012345678901234567890123456789012345678901234567890123456"
	     "789/0123456789.sock\"; };",
	     "1: volume_plugin.socket: path is too long (at most 107 bytes)"},
	    {"volume_plugin = { socket = 5; };",
	     "1: volume_plugin.socket: must be a string"},
	    {"volume_plugin = { socket = [\"/a\"]; };",
	     "1: volume_plugin.socket: must be a string"},
	    {"volume_plugin = { root = \"/\"; };",
	     "1: volume_plugin.root: must not be \"/\""},
	    {"volume_plugin = { root = \"var/lib/x\"; };",
	     "1: volume_plugin.root: must be an absolute path"},
	    {"volume_plugin = { root = \"/var/lib/x/..\"; };",
	     "1: volume_plugin.root: \"/var/lib/x/..\" is not a normalised"},
	    {"volume_plugin = { root = \"//var\"; };",
	     "1: volume_plugin.root: \"//var\" is not a normalised"},
	    {"volume_plugin = { root = true; };",
	     "1: volume_plugin.root: must be a string"},
	    {"volume_plugin = { sockets = \"/a.sock\"; };",
	     "1: volume_plugin.sockets: unknown setting"},
	    {"volume_plugin = { fuse = { }; };",
	     "1: volume_plugin.fuse: unknown setting"},
	    {"volume_plugin = 5;", "1: volume_plugin: must be a group"},
	    {"volume_plugin = \"/run/x.sock\";",
	     "1: volume_plugin: must be a group"},
	    {"# comment\n\nvolume_plugin = {\n\tsocket = \"/a.sock\";\n"
	     "\troot = \"x\";\n};\n",
	     "5: volume_plugin.root: must be an absolute path"},
	    {"volume_plugin = { root = \"/ok\"; };\n"
	     "volume_plugin = { root = \"/ok\"; };\n",
	     "syntax error"},
	};

	return cr_make_param_array(struct bad_case, c,
				   sizeof(c) / sizeof(c[0]));
}

ParameterizedTest(struct bad_case *c, config_plugin, rejects)
{
	struct sfs_config cfg, before;
	char err[1024] = "", want[PATH_MAX + 128];
	const char *path = write_conf(c->text);
	int rc;

	sfs_config_defaults(&cfg);
	cr_assert_eq(sfs_config_set_plugin_root(&cfg, "/keep/me", NULL, 0), 0);
	before = cfg;
	rc = sfs_config_load(&cfg, path, err, sizeof(err));
	cr_assert_eq(rc, -EINVAL, "accepted: %s", c->text);
	if (strcmp(c->want, "syntax error"))
		snprintf(want, sizeof(want), "%s:%s", path, c->want);
	else
		snprintf(want, sizeof(want), "%s", c->want);
	cr_assert(strstr(err, want), "got \"%s\"\nwant \"%s\"", err, want);
	/* A bad file changes nothing. */
	cr_assert_str_eq(cfg.volume_plugin.socket, before.volume_plugin.socket);
	cr_assert_str_eq(cfg.volume_plugin.root, "/keep/me");
}

Test(config_plugin, root_length_limit)
{
	char text[SFS_PLUGIN_ROOT_MAX + 128], root[SFS_PLUGIN_ROOT_MAX + 2];
	struct sfs_config cfg;
	char err[1024] = "";

	/* Exactly SFS_PLUGIN_ROOT_MAX bytes: accepted; one more: refused. */
	memset(root, 'r', sizeof(root));
	root[0] = '/';
	root[SFS_PLUGIN_ROOT_MAX] = '\0';
	snprintf(text, sizeof(text), "volume_plugin = { root = \"%s\"; };\n",
		 root);
	sfs_config_defaults(&cfg);
	cr_assert_eq(sfs_config_load(&cfg, write_conf(text), err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(strlen(cfg.volume_plugin.root), SFS_PLUGIN_ROOT_MAX);
	root[SFS_PLUGIN_ROOT_MAX] = 'r';
	root[SFS_PLUGIN_ROOT_MAX + 1] = '\0';
	snprintf(text, sizeof(text), "volume_plugin = { root = \"%s\"; };\n",
		 root);
	cr_assert_eq(sfs_config_load(&cfg, write_conf(text), err, sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, "volume_plugin.root: path is too long"), "%s",
		  err);
}

Test(config_plugin, setters_validate_like_the_file)
{
	struct sfs_config cfg;
	char err[256] = "";

	sfs_config_defaults(&cfg);
	cr_assert_eq(
	    sfs_config_set_plugin_socket(&cfg, "/tmp/p.sock", err, sizeof(err)),
	    0, "%s", err);
	cr_assert_str_eq(cfg.volume_plugin.socket, "/tmp/p.sock");
	cr_assert_eq(
	    sfs_config_set_plugin_root(&cfg, "/tmp/r", err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_str_eq(cfg.volume_plugin.root, "/tmp/r");

	cr_assert_eq(
	    sfs_config_set_plugin_socket(&cfg, "p.sock", err, sizeof(err)),
	    -EINVAL);
	cr_assert(strstr(err, "socket: must be an absolute path"), "%s", err);
	cr_assert_eq(
	    sfs_config_set_plugin_root(&cfg, "/tmp/r/../..", err, sizeof(err)),
	    -EINVAL);
	cr_assert(strstr(err, "root: \"/tmp/r/../..\" is not a normalised"),
		  "%s", err);
	cr_assert_eq(sfs_config_set_plugin_root(&cfg, "/", err, sizeof(err)),
		     -EINVAL);
	/* Unchanged after the failures. */
	cr_assert_str_eq(cfg.volume_plugin.socket, "/tmp/p.sock");
	cr_assert_str_eq(cfg.volume_plugin.root, "/tmp/r");
}

/* The shipped file documents the defaults: uncommenting its
 * volume_plugin lines changes nothing. */
Test(config_plugin, shipped_file_documents_the_defaults)
{
	struct sfs_config cfg, def;
	char err[512] = "", line[1024];
	const char *src = sfs_shipped_conf();
	char *text = NULL;
	size_t len = 0;
	int found = 0;
	FILE *in = fopen(src, "r"), *out = open_memstream(&text, &len);

	cr_assert(in && out);
	while (fgets(line, sizeof(line), in)) {
		const char *s = line + strspn(line, " \t");

		if (!strncmp(s, "#socket = ", 10) ||
		    !strncmp(s, "#root = ", 8)) {
			s++;
			found++;
		} else {
			s = line;
		}
		fputs(s, out);
	}
	fclose(in);
	fclose(out);
	cr_assert_eq(found, 2, "volume_plugin settings not in %s", src);
	sfs_config_defaults(&def);
	sfs_config_defaults(&cfg);
	cr_assert_eq(sfs_config_load(&cfg, write_conf(text), err, sizeof(err)),
		     0, "%s", err);
	free(text);
	cr_assert_str_eq(cfg.volume_plugin.socket, def.volume_plugin.socket);
	cr_assert_str_eq(cfg.volume_plugin.root, def.volume_plugin.root);
}
