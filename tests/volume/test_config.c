/* test_config.c - defaults, the shipped config file, file errors with
 * FILE:LINE, and -o options. */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sfs_config.h"
#include "util.h"

static char tmpdir[256];

static void setup(void)
{
	cr_assert(sfs_crypto_init() == 0);
	sfs_tmpdir_make(tmpdir, sizeof(tmpdir), "config");
}

static void teardown(void)
{
	sfs_tmpdir_remove(tmpdir);
}

TestSuite(config, .init = setup, .fini = teardown, .timeout = 20);

/* Writes text to tmpdir/name and returns the path (static buffer). */
static const char *write_conf(const char *name, const char *text)
{
	return sfs_write_text(tmpdir, name, text);
}

static void assert_cfg_eq(const struct sfs_config *a,
			  const struct sfs_config *b)
{
	cr_assert_eq(a->encrypted, b->encrypted);
	cr_assert_eq(a->cipher, b->cipher);
	cr_assert_eq(a->key.source, b->key.source);
	cr_assert_str_eq(a->key.keyfile, b->key.keyfile);
	cr_assert_eq(a->fuse.max_threads, b->fuse.max_threads);
	cr_assert_eq(a->fuse.max_write, b->fuse.max_write);
	cr_assert(a->fuse.cache_timeout == b->fuse.cache_timeout,
		  "cache_timeout %g != %g", a->fuse.cache_timeout,
		  b->fuse.cache_timeout);
	cr_assert_eq(a->fuse.allow_other, b->fuse.allow_other);
	cr_assert_eq(a->fuse.default_permissions, b->fuse.default_permissions);
	cr_assert_eq(a->fuse.writeback_cache, b->fuse.writeback_cache);
	cr_assert_eq(a->fuse.xattrs, b->fuse.xattrs);
	cr_assert_eq(a->fuse.io_uring, b->fuse.io_uring);
}

/* Every field different from its default. */
static void poison(struct sfs_config *cfg)
{
	sfs_config_defaults(cfg);
	cfg->encrypted = false;
	cfg->cipher = SFS_AEAD_XCHACHA20POLY1305;
	cfg->key.source = SFS_KEY_KEYFILE;
	strcpy(cfg->key.keyfile, "/poison/key");
	cfg->fuse.max_threads = 99;
	cfg->fuse.max_write = 8192;
	cfg->fuse.cache_timeout = 123.0;
	cfg->fuse.allow_other = true;
	cfg->fuse.default_permissions = false;
	cfg->fuse.writeback_cache = false;
	cfg->fuse.xattrs = false;
	cfg->fuse.io_uring = false;
}

Test(config, defaults)
{
	struct sfs_config cfg;

	memset(&cfg, 0xa5, sizeof(cfg));
	sfs_config_defaults(&cfg);
	cr_assert_eq(cfg.encrypted, true);
	cr_assert_eq(cfg.cipher, SFS_AEAD_NONE);
	cr_assert_eq(cfg.key.source, SFS_KEY_EPHEMERAL);
	cr_assert_str_eq(cfg.key.keyfile, "/etc/scratchfs/node.key");
	cr_assert_eq(cfg.fuse.max_threads, 8);
	cr_assert_eq(cfg.fuse.max_write, 1048576);
	cr_assert(cfg.fuse.cache_timeout == 10.0);
	cr_assert_eq(cfg.fuse.allow_other, false);
	cr_assert_eq(cfg.fuse.default_permissions, true);
	cr_assert_eq(cfg.fuse.writeback_cache, true);
	cr_assert_eq(cfg.fuse.xattrs, true);
	cr_assert_eq(cfg.fuse.io_uring, true);
}

Test(config, shipped_file_gives_defaults)
{
	struct sfs_config cfg, def;
	char err[512] = "";

	sfs_config_defaults(&def);
	sfs_config_defaults(&cfg);
	cr_assert_eq(
	    sfs_config_load(&cfg, sfs_shipped_conf(), err, sizeof(err)), 0,
	    "%s", err);
	assert_cfg_eq(&cfg, &def);
}

/* The shipped file must document every setting with its default: with
 * the "#name = value;" lines uncommented it must still give the defaults,
 * even when loaded over a config where every field differs. */
Test(config, shipped_file_documents_every_default)
{
	struct sfs_config cfg, def;
	char err[512] = "", line[512];
	char *text = NULL;
	size_t text_len = 0;
	int uncommented = 0;
	FILE *in, *out;

	in = fopen(sfs_shipped_conf(), "r");
	cr_assert(in != NULL);
	out = open_memstream(&text, &text_len);
	cr_assert(out != NULL);
	while (fgets(line, sizeof(line), in)) {
		char *p = line + strspn(line, " \t");

		if (p[0] == '#' && p[1] >= 'a' && p[1] <= 'z' &&
		    strstr(p, " = ")) {
			memmove(p, p + 1, strlen(p));
			uncommented++;
		}
		fputs(line, out);
	}
	fclose(in);
	fclose(out);
	cr_assert_eq(uncommented, 20, "found %d commented settings, want 20",
		     uncommented);

	poison(&cfg);
	sfs_config_defaults(&def);
	cr_assert_eq(sfs_config_load(&cfg, write_conf("all.conf", text), err,
				     sizeof(err)),
		     0, "%s", err);
	free(text);
	assert_cfg_eq(&cfg, &def);
}

Test(config, every_setting_applies)
{
	struct sfs_config cfg, want;
	char err[512] = "";
	const char *path =
	    write_conf("x.conf", "hbi_workspace = false;\n"
				 "cipher = \"xchacha20poly1305\";\n"
				 "key_source = \"keyfile\";\n"
				 "keyfile = \"/poison/key\";\n"
				 "fuse = {\n"
				 "  max_threads = 99;\n"
				 "  max_write = 8192;\n"
				 "  cache_timeout = 123;\n" /* int ok */
				 "  allow_other = true;\n"
				 "  default_permissions = false;\n"
				 "  writeback_cache = false;\n"
				 "  xattrs = false;\n"
				 "  io_uring = false;\n"
				 "};\n");

	sfs_config_defaults(&cfg);
	poison(&want);
	cr_assert_eq(sfs_config_load(&cfg, path, err, sizeof(err)), 0, "%s",
		     err);
	assert_cfg_eq(&cfg, &want);

	path = write_conf("y.conf", "fuse = { cache_timeout = 0.25; };\n"
				    "key_source = \"ephemeral\";\n");
	cr_assert_eq(sfs_config_load(&cfg, path, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert(cfg.fuse.cache_timeout == 0.25);
	cr_assert_eq(cfg.key.source, SFS_KEY_EPHEMERAL);
	/* Not mentioned: kept from before. */
	cr_assert_str_eq(cfg.key.keyfile, "/poison/key");
	cr_assert_eq(cfg.fuse.max_threads, 99);
}

Test(config, empty_file_keeps_everything)
{
	struct sfs_config cfg, want;
	char err[512] = "";

	poison(&cfg);
	poison(&want);
	cr_assert_eq(
	    sfs_config_load(&cfg, write_conf("e.conf", ""), err, sizeof(err)),
	    0, "%s", err);
	assert_cfg_eq(&cfg, &want);
}

struct bad_conf {
	const char *text;
	const char *msg; /* after "PATH:" */
};

static const struct bad_conf bad_confs[] = {
    /* Unknown settings, top level and in fuse. */
    {"hbi_workspace = true;\nbogus = 1;\n", "2: bogus: unknown setting"},
    {"fuse = {\n  max_threads = 4;\n  max_treads = 4;\n};\n",
     "3: fuse.max_treads: unknown setting"},
    {"hbi = true;\n", "1: hbi: unknown setting"},
    {"encrypt = { a = 1; };\n", "1: encrypt: unknown setting"},
    /* Wrong types. */
    {"hbi_workspace = 1;\n",
     "1: hbi_workspace: must be a boolean (true or false)"},
    {"\nhbi_workspace = \"true\";\n",
     "2: hbi_workspace: must be a boolean (true or false)"},
    {"hbi_workspace = [true];\n",
     "1: hbi_workspace: must be a boolean (true or false)"},
    {"\n\ncipher = 1;\n", "3: cipher: must be a string"},
    {"key_source = true;\n", "1: key_source: must be a string"},
    {"keyfile = 5;\n", "1: keyfile: must be a string"},
    {"fuse = 5;\n", "1: fuse: must be a group: fuse = { ... };"},
    {"fuse = (1, 2);\n", "1: fuse: must be a group: fuse = { ... };"},
    {"fuse = {\n max_threads = 8.0;\n};\n",
     "2: fuse.max_threads: must be an integer"},
    {"fuse = { max_threads = true; };\n",
     "1: fuse.max_threads: must be an integer"},
    {"fuse = { max_write = \"1M\"; };\n",
     "1: fuse.max_write: must be an integer"},
    {"fuse = { cache_timeout = \"10\"; };\n",
     "1: fuse.cache_timeout: must be a number"},
    {"fuse = { cache_timeout = false; };\n",
     "1: fuse.cache_timeout: must be a number"},
    {"fuse = {\n\n allow_other = 1;\n};\n",
     "3: fuse.allow_other: must be a boolean (true or false)"},
    {"fuse = { default_permissions = \"yes\"; };\n",
     "1: fuse.default_permissions: must be a boolean (true or false)"},
    {"fuse = { writeback_cache = 0; };\n",
     "1: fuse.writeback_cache: must be a boolean (true or false)"},
    /* Bad values. */
    {"cipher = \"rot13\";\n",
     "1: cipher: unknown cipher \"rot13\" (use auto, xchacha20poly1305 or "
     "aes256gcm)"},
    {"cipher = \"AUTO\";\n",
     "1: cipher: unknown cipher \"AUTO\" (use auto, xchacha20poly1305 or "
     "aes256gcm)"},
    {"key_source = \"none\";\n",
     "1: key_source: unknown key source \"none\" (supported: ephemeral, "
     "keyfile, keyring, command)"},
    {"keyfile = \"etc/node.key\";\n",
     "1: keyfile: must be an absolute path, not \"etc/node.key\""},
    {"keyfile = \"\";\n", "1: keyfile: must be an absolute path, not \"\""},
    {"fuse = { max_threads = 0; };\n",
     "1: fuse.max_threads: 0 is out of range (1..256)"},
    {"fuse = { max_threads = 257; };\n",
     "1: fuse.max_threads: 257 is out of range (1..256)"},
    {"fuse = { max_threads = -1; };\n",
     "1: fuse.max_threads: -1 is out of range (1..256)"},
    {"fuse = { max_write = 2048; };\n",
     "1: fuse.max_write: 2048 is out of range (4096..1048576)"},
    {"fuse = { max_write = 2097152; };\n",
     "1: fuse.max_write: 2097152 is out of range (4096..1048576)"},
    /* libconfig 1.5 reads a literal without L as 32 bits and keeps what
     * is left (4294967304 becomes 8): the value as written is refused. */
    {"fuse = { max_write = 99999999999L; };\n",
     "1: fuse.max_write: 99999999999L is out of range (4096..1048576)"},
    {"fuse = {\n  max_threads = 4294967304;\n};\n",
     "2: fuse.max_threads: 4294967304 is out of range (1..256)"},
    {"fuse = { max_threads = 100000000000; };\n",
     "1: fuse.max_threads: 100000000000 is out of range (1..256)"},
    {"fuse = { max_threads = 0x100000008; };\n",
     "1: fuse.max_threads: 0x100000008 is out of range (1..256)"},
    {"fuse = { max_threads = -4294967288; };\n",
     "1: fuse.max_threads: -4294967288 is out of range (1..256)"},
    {"fuse = { max_threads : 99999999999999999999; };\n",
     "1: fuse.max_threads: 99999999999999999999 is out of range (1..256)"},
    {"fuse = { max_write = 4294971392; };\n",
     "1: fuse.max_write: 4294971392 is out of range (4096..1048576)"},
    {"fuse = { cache_timeout = 4294967306; };\n",
     "1: fuse.cache_timeout: 4294967306 is out of range (0..3600 seconds)"},
    {"fuse = { max_write = 5000; };\n",
     "1: fuse.max_write: 5000 is not a multiple of 4096"},
    {"fuse = { cache_timeout = -1; };\n",
     "1: fuse.cache_timeout: -1 is out of range (0..3600 seconds)"},
    {"fuse = { cache_timeout = 3600.5; };\n",
     "1: fuse.cache_timeout: 3600.5 is out of range (0..3600 seconds)"},
    /* Syntax errors, with libconfig's own text. */
    {"hbi_workspace = true;\nfuse = {\n max_threads = ;\n};\n",
     "3: syntax error: syntax error"},
    {"cipher = \"auto\";\ncipher = \"auto\";\n",
     "2: syntax error: duplicate setting name"},
    {"hbi_workspace = true\nfuse = ;\n", "2: syntax error: syntax error"},
    {"hbi_workspace = true;\n\n@include \"nope.conf\"\n",
     "3: syntax error: cannot open include file"},
};

Test(config, file_errors_name_file_line_and_setting)
{
	for (size_t i = 0; i < sizeof(bad_confs) / sizeof(bad_confs[0]); i++) {
		struct sfs_config cfg, before;
		char err[512] = "", want[PATH_MAX + 256];
		const char *path = write_conf("bad.conf", bad_confs[i].text);
		int rc;

		sfs_config_defaults(&cfg);
		before = cfg;
		rc = sfs_config_load(&cfg, path, err, sizeof(err));
		snprintf(want, sizeof(want), "%s:%s", path, bad_confs[i].msg);
		cr_expect_eq(rc, -EINVAL, "case %zu: rc %d", i, rc);
		cr_expect_str_eq(err, want, "case %zu", i);
		assert_cfg_eq(&cfg, &before);
	}
}

Test(config, bad_file_leaves_config_untouched)
{
	struct sfs_config cfg, want;
	char err[512] = "";
	const char *path = write_conf("half.conf", "hbi_workspace = false;\n"
						   "fuse = { max_threads = 2; "
						   "max_write = 1; };\n");

	sfs_config_defaults(&cfg);
	sfs_config_defaults(&want);
	cr_assert_eq(sfs_config_load(&cfg, path, err, sizeof(err)), -EINVAL);
	assert_cfg_eq(&cfg, &want);
}

Test(config, aes_gcm_in_file_follows_cpu)
{
	struct sfs_config cfg;
	char err[512] = "";
	const char *path = write_conf("gcm.conf", "cipher = \"aes256gcm\";\n");
	int rc;

	sfs_config_defaults(&cfg);
	rc = sfs_config_load(&cfg, path, err, sizeof(err));
	if (sfs_aead_available(SFS_AEAD_AES256GCM)) {
		cr_assert_eq(rc, 0, "%s", err);
		cr_assert_eq(cfg.cipher, SFS_AEAD_AES256GCM);
	} else {
		cr_assert_eq(rc, -EINVAL);
		cr_assert(strstr(err, "not available on this CPU"), "%s", err);
	}
}

Test(config, missing_file)
{
	struct sfs_config cfg;
	char err[512] = "", path[PATH_MAX + 16], want[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/nope.conf", tmpdir);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	sfs_config_defaults(&cfg);
	cr_assert_eq(sfs_config_load(&cfg, path, err, sizeof(err)), -ENOENT);
	cr_assert_str_eq(err, want);
}

Test(config, directory_is_not_a_config_file)
{
	struct sfs_config cfg;
	char err[512] = "", want[PATH_MAX + 64];

	snprintf(want, sizeof(want), "%s: not a regular file", tmpdir);
	sfs_config_defaults(&cfg);
	cr_assert_eq(sfs_config_load(&cfg, tmpdir, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, want);
}

/*
 * -o options.
 */

struct opt_case {
	const char *opt;
	int rc;
	const char *msg; /* expected message when rc < 0 */
};

static const struct opt_case bad_opts[] = {
    {"hbi=maybe", -EINVAL,
     "option hbi: bad value \"maybe\" (use 1, 0, true, false, yes or "
     "no)"},
    {"hbi=TRUE", -EINVAL,
     "option hbi: bad value \"TRUE\" (use 1, 0, true, false, yes or no)"},
    {"hbi=2", -EINVAL,
     "option hbi: bad value \"2\" (use 1, 0, true, false, yes or no)"},
    {"hbi=", -EINVAL, "option hbi: needs a value (hbi=...)"},
    {"hbi", -EINVAL, "option hbi: needs a value (hbi=...)"},
    {"key=", -EINVAL, "option key: needs a value (key=...)"},
    {"key=file", -EINVAL,
     "option key: unknown key source \"file\" (supported: ephemeral, "
     "keyfile, keyring, command)"},
    {"key=keyfile:", -EINVAL, "option key: must be an absolute path, not \"\""},
    {"key=keyfile:node.key", -EINVAL,
     "option key: must be an absolute path, not \"node.key\""},
    {"key=ephemeral:/x", -EINVAL,
     "option key: only keyfile takes a path (key=keyfile:PATH); "
     "keyring_description and key_command are set in the config file"},
    {"cipher=", -EINVAL, "option cipher: needs a value (cipher=...)"},
    {"cipher=aes", -EINVAL,
     "option cipher: unknown cipher \"aes\" (use auto, xchacha20poly1305 "
     "or aes256gcm)"},
    {"cipher=none", -EINVAL,
     "option cipher: unknown cipher \"none\" (use auto, xchacha20poly1305 "
     "or aes256gcm)"},
};

Test(config, bad_options_refused_and_change_nothing)
{
	for (size_t i = 0; i < sizeof(bad_opts) / sizeof(bad_opts[0]); i++) {
		struct sfs_config cfg, before;
		char err[512] = "";
		int rc;

		poison(&cfg);
		before = cfg;
		rc = sfs_config_apply_option(&cfg, bad_opts[i].opt, err,
					     sizeof(err));
		cr_expect_eq(rc, bad_opts[i].rc, "%s: rc %d", bad_opts[i].opt,
			     rc);
		cr_expect_str_eq(err, bad_opts[i].msg, "%s", bad_opts[i].opt);
		assert_cfg_eq(&cfg, &before);
	}
}

Test(config, other_options_are_not_ours)
{
	static const char *const opts[] = {
	    "hbix=1",
	    "hb=1",
	    "allow_other",
	    "keyfile=/x",
	    "ciphers=auto",
	    "keys=ephemeral",
	    "",
	    "=1",
	    "HBI=1",
	    "max_write=4096",
	};

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		struct sfs_config cfg, before;
		char err[512] = "";

		poison(&cfg);
		before = cfg;
		cr_expect_eq(
		    sfs_config_apply_option(&cfg, opts[i], err, sizeof(err)), 0,
		    "\"%s\"", opts[i]);
		cr_expect_str_eq(err, "", "\"%s\"", opts[i]);
		assert_cfg_eq(&cfg, &before);
	}
}

Test(config, hbi_option_values)
{
	static const struct {
		const char *opt;
		bool value;
	} cases[] = {
	    {"hbi=1", true},  {"hbi=true", true},   {"hbi=yes", true},
	    {"hbi=0", false}, {"hbi=false", false}, {"hbi=no", false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sfs_config cfg;
		char err[512] = "";

		sfs_config_defaults(&cfg);
		cfg.encrypted = !cases[i].value;
		cr_expect_eq(sfs_config_apply_option(&cfg, cases[i].opt, err,
						     sizeof(err)),
			     1, "%s: %s", cases[i].opt, err);
		cr_expect_eq(cfg.encrypted, cases[i].value, "%s", cases[i].opt);
	}
}

Test(config, key_option_values)
{
	struct sfs_config cfg;
	char err[512] = "";

	sfs_config_defaults(&cfg);
	strcpy(cfg.key.keyfile, "/configured/node.key");
	cr_assert_eq(
	    sfs_config_apply_option(&cfg, "key=keyfile", err, sizeof(err)), 1,
	    "%s", err);
	cr_assert_eq(cfg.key.source, SFS_KEY_KEYFILE);
	/* Bare "keyfile" keeps the configured path. */
	cr_assert_str_eq(cfg.key.keyfile, "/configured/node.key");

	cr_assert_eq(
	    sfs_config_apply_option(&cfg, "key=ephemeral", err, sizeof(err)), 1,
	    "%s", err);
	cr_assert_eq(cfg.key.source, SFS_KEY_EPHEMERAL);

	cr_assert_eq(sfs_config_apply_option(&cfg, "key=keyfile:/run/k/a.key",
					     err, sizeof(err)),
		     1, "%s", err);
	cr_assert_eq(cfg.key.source, SFS_KEY_KEYFILE);
	cr_assert_str_eq(cfg.key.keyfile, "/run/k/a.key");
}

Test(config, key_option_path_too_long)
{
	struct sfs_config cfg;
	char err[512] = "";
	char *opt = malloc(PATH_MAX + 32);

	cr_assert(opt != NULL);
	strcpy(opt, "key=keyfile:/");
	memset(opt + strlen(opt), 'a', PATH_MAX);
	opt[13 + PATH_MAX] = '\0';
	sfs_config_defaults(&cfg);
	cr_assert_eq(sfs_config_apply_option(&cfg, opt, err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "option key: path is too long");
	cr_assert_str_eq(cfg.key.keyfile, SFS_DEFAULT_KEYFILE);
	free(opt);
}

Test(config, cipher_option_values)
{
	struct sfs_config cfg;
	char err[512] = "";
	int rc;

	sfs_config_defaults(&cfg);
	cr_assert_eq(sfs_config_apply_option(&cfg, "cipher=xchacha20poly1305",
					     err, sizeof(err)),
		     1, "%s", err);
	cr_assert_eq(cfg.cipher, SFS_AEAD_XCHACHA20POLY1305);
	cr_assert_eq(
	    sfs_config_apply_option(&cfg, "cipher=auto", err, sizeof(err)), 1,
	    "%s", err);
	cr_assert_eq(cfg.cipher, SFS_AEAD_NONE);

	rc =
	    sfs_config_apply_option(&cfg, "cipher=aes256gcm", err, sizeof(err));
	if (sfs_aead_available(SFS_AEAD_AES256GCM)) {
		cr_assert_eq(rc, 1, "%s", err);
		cr_assert_eq(cfg.cipher, SFS_AEAD_AES256GCM);
	} else {
		cr_assert_eq(rc, -EINVAL);
		cr_assert_str_eq(err, "option cipher: aes256gcm is not "
				      "available on this CPU (it needs "
				      "AES-NI); use auto or xchacha20poly1305");
		cr_assert_eq(cfg.cipher, SFS_AEAD_NONE);
	}
}

Test(config, include_is_relative_to_the_file)
{
	struct sfs_config cfg;
	char err[512] = "", main_path[PATH_MAX + 32], want[PATH_MAX + 64];

	write_conf("part.conf", "fuse = { max_threads = 3; };\n");
	snprintf(main_path, sizeof(main_path), "%s",
		 write_conf("main.conf", "@include \"part.conf\"\n"));
	cr_assert(chdir("/") == 0);
	sfs_config_defaults(&cfg);
	cr_assert_eq(sfs_config_load(&cfg, main_path, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(cfg.fuse.max_threads, 3);

	/* An error inside the included file names that file. */
	write_conf("part.conf", "\nbogus = 1;\n");
	snprintf(want, sizeof(want), "%s/part.conf:2: bogus: unknown setting",
		 tmpdir);
	cr_assert_eq(sfs_config_load(&cfg, main_path, err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, want);

	/* An integer libconfig truncates is read as written there too (the
	 * included file is read again from disk; the main one is in memory). */
	write_conf("part.conf", "fuse = { max_threads = 4294967304; };\n");
	snprintf(want, sizeof(want),
		 "%s/part.conf:1: fuse.max_threads: 4294967304 is out of range "
		 "(1..256)",
		 tmpdir);
	cr_assert_eq(sfs_config_load(&cfg, main_path, err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, want);
}
