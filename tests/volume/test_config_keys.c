/* test_config_keys.c - the key provider settings: key_source values,
 * keyring_description, key_command, key_command_timeout, -o key=. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
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
	sfs_tmpdir_make(tmpdir, sizeof(tmpdir), "cfgkeys");
}

static void teardown(void)
{
	sfs_tmpdir_remove(tmpdir);
}

TestSuite(cfgkeys, .init = setup, .fini = teardown, .timeout = 20);

/* Writes text to tmpdir/name and returns the path (static buffer). */
static const char *write_conf(const char *name, const char *text)
{
	return sfs_write_text(tmpdir, name, text);
}

/* The key-related fields differ from their defaults. */
static void poison(struct sfs_config *cfg)
{
	static const char *const argv[] = {"/poison/cmd", "x"};
	char why[256];

	sfs_config_defaults(cfg);
	cfg->key.source = SFS_KEY_COMMAND;
	strcpy(cfg->key.keyring_desc, "poison:desc");
	cr_assert_eq(
	    sfs_key_spec_set_command(&cfg->key, argv, 2, why, sizeof(why)), 0);
	cfg->key.command_timeout = 77;
}

/* argv[i] of the command stored in spec. */
static const char *cmd_arg(const struct sfs_key_spec *spec, unsigned int i)
{
	const char *p = spec->command;

	cr_assert_lt(i, spec->command_argc);
	while (i--)
		p += strlen(p) + 1;
	return p;
}

Test(cfgkeys, defaults)
{
	struct sfs_config cfg;

	memset(&cfg, 0x5a, sizeof(cfg));
	sfs_config_defaults(&cfg);
	cr_assert_eq(cfg.key.source, SFS_KEY_EPHEMERAL);
	cr_assert_str_eq(cfg.key.keyfile, "/etc/scratchfs/node.key");
	cr_assert_str_eq(cfg.key.keyring_desc, "scratchfs:node");
	cr_assert_eq(cfg.key.command_argc, 0);
	cr_assert_eq(cfg.key.command_len, 0);
	cr_assert_eq(cfg.key.command_timeout, 10);
	cr_assert_eq(cfg.key.no_create, false);
}

Test(cfgkeys, source_names)
{
	cr_assert_str_eq(sfs_key_source_name(SFS_KEY_KEYRING), "keyring");
	cr_assert_str_eq(sfs_key_source_name(SFS_KEY_COMMAND), "command");
	/* On disk: never renumbered. */
	cr_assert_eq(SFS_KEY_KEYRING, 3);
	cr_assert_eq(SFS_KEY_COMMAND, 4);
}

Test(cfgkeys, every_key_setting_applies)
{
	struct sfs_config cfg;
	char err[512] = "";
	const char *path = write_conf(
	    "k.conf", "key_source = \"command\";\n"
		      "keyring_description = \"site:node-7\";\n"
		      "key_command = [\"/usr/lib/kms/unseal\", \"--vault\", "
		      "\"\", \"a b\"];\n"
		      "key_command_timeout = 42;\n");

	sfs_config_defaults(&cfg);
	cr_assert_eq(sfs_config_load(&cfg, path, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(cfg.key.source, SFS_KEY_COMMAND);
	cr_assert_str_eq(cfg.key.keyring_desc, "site:node-7");
	cr_assert_eq(cfg.key.command_timeout, 42);
	cr_assert_eq(cfg.key.command_argc, 4);
	cr_assert_str_eq(cmd_arg(&cfg.key, 0), "/usr/lib/kms/unseal");
	cr_assert_str_eq(cmd_arg(&cfg.key, 1), "--vault");
	cr_assert_str_eq(cmd_arg(&cfg.key, 2), "");
	cr_assert_str_eq(cmd_arg(&cfg.key, 3), "a b");
	cr_assert_eq(cfg.key.command_len, strlen("/usr/lib/kms/unseal") + 1 +
					      strlen("--vault") + 1 + 1 +
					      strlen("a b") + 1);
}

Test(cfgkeys, key_command_as_list_and_keyring_source)
{
	struct sfs_config cfg;
	char err[512] = "";
	const char *path =
	    write_conf("k.conf", "key_source = \"keyring\";\n"
				 "key_command = (\"/bin/true\");\n");

	sfs_config_defaults(&cfg);
	cr_assert_eq(sfs_config_load(&cfg, path, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(cfg.key.source, SFS_KEY_KEYRING);
	cr_assert_eq(cfg.key.command_argc, 1);
	cr_assert_str_eq(cmd_arg(&cfg.key, 0), "/bin/true");
}

/* A later file replaces the whole command, not just its first args. */
Test(cfgkeys, second_file_replaces_command)
{
	struct sfs_config cfg;
	char err[512] = "";

	poison(&cfg);
	cr_assert_eq(sfs_config_load(&cfg,
				     write_conf("a.conf", "key_command = "
							  "[\"/bin/x\"];\n"),
				     err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(cfg.key.command_argc, 1);
	cr_assert_eq(cfg.key.command_len, 7);
	cr_assert_str_eq(cmd_arg(&cfg.key, 0), "/bin/x");
}

struct bad_case {
	const char *text;
	const char *msg; /* after "PATH:" */
};

#define LONG_DESC                                                              \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"     \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"     \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"     \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

static const struct bad_case bad_files[] = {
    {"key_source = \"Keyring\";\n",
     "1: key_source: unknown key source \"Keyring\" (supported: ephemeral, "
     "keyfile, keyring, command)"},
    {"key_source = 3;\n", "1: key_source: must be a string"},
    {"keyring_description = \"\";\n",
     "1: keyring_description: must be 1..255 characters long"},
    {"keyring_description = \"" LONG_DESC "\";\n",
     "1: keyring_description: must be 1..255 characters long"},
    {"keyring_description = \"a b\";\n",
     "1: keyring_description: may hold only printable ASCII characters "
     "without spaces"},
    {"keyring_description = \"a\\tb\";\n",
     "1: keyring_description: may hold only printable ASCII characters "
     "without spaces"},
    {"keyring_description = 7;\n", "1: keyring_description: must be a string"},
    {"key_command = \"/bin/true\";\n",
     "1: key_command: must be an array of strings: [\"/path/to/program\", "
     "\"arg\", ...]"},
    {"key_command = [];\n",
     "1: key_command: needs at least the program (an absolute path)"},
    {"key_command = [\"unseal\", \"-x\"];\n",
     "1: key_command: the program must be an absolute path, not "
     "\"unseal\""},
    {"key_command = [\"\"];\n",
     "1: key_command: the program must be an absolute path, not \"\""},
    {"key_command = [1, 2];\n", "1: key_command: must be an array of strings"},
    {"key_command = (\"/bin/x\", 2);\n",
     "1: key_command: must be an array of strings"},
    {"key_command = [\"/a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\","
     "\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\",\"r\",\"s\",\"t\","
     "\"u\",\"v\",\"w\",\"x\",\"y\",\"z\",\"A\",\"B\",\"C\",\"D\",\"E\","
     "\"F\",\"G\"];\n",
     "1: key_command: has 33 elements, at most 32 allowed"},
    {"key_command_timeout = 0;\n",
     "1: key_command_timeout: 0 is out of range (1..600)"},
    {"key_command_timeout = 601;\n",
     "1: key_command_timeout: 601 is out of range (1..600)"},
    {"key_command_timeout = 4294967306;\n",
     "1: key_command_timeout: 4294967306 is out of range (1..600)"},
    {"key_command_timeout = 1.5;\n",
     "1: key_command_timeout: must be an integer"},
    {"key_command_timeout = \"10\";\n",
     "1: key_command_timeout: must be an integer"},
};

ParameterizedTestParameters(cfgkeys, bad_file)
{
	static int idx[sizeof(bad_files) / sizeof(bad_files[0])];

	for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); i++)
		idx[i] = (int)i;
	return cr_make_param_array(int, idx, sizeof(idx) / sizeof(idx[0]));
}

/* Each bad value is refused with FILE:LINE: SETTING and leaves the config
 * untouched. */
ParameterizedTest(int *ci, cfgkeys, bad_file)
{
	const struct bad_case *c = &bad_files[*ci];
	struct sfs_config cfg, before;
	char err[1024] = "", want[1024];
	const char *path = write_conf("bad.conf", c->text);

	poison(&cfg);
	before = cfg;
	cr_assert_eq(sfs_config_load(&cfg, path, err, sizeof(err)), -EINVAL,
		     "accepted: %s", c->text);
	snprintf(want, sizeof(want), "%s:%s", path, c->msg);
	cr_assert_str_eq(err, want);
	cr_assert_eq(memcmp(&cfg, &before, sizeof(cfg)), 0);
}

/* One argument too many bytes in all: the whole command must fit. */
Test(cfgkeys, key_command_too_long)
{
	struct sfs_config cfg;
	char err[1024] = "", want[1024];
	char *text = malloc(SFS_KEY_COMMAND_BYTES + 64);
	const char *path;

	cr_assert_not_null(text);
	/* "/" + 4094 x "a" + NUL = 4096 bytes, plus "b" + NUL. */
	strcpy(text, "key_command = [\"/");
	memset(text + strlen(text), 'a', SFS_KEY_COMMAND_BYTES - 2);
	strcpy(text + 17 + SFS_KEY_COMMAND_BYTES - 2, "\", \"b\"];\n");
	path = write_conf("long.conf", text);
	free(text);
	poison(&cfg);
	cr_assert_eq(sfs_config_load(&cfg, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s:1: key_command: is too long (4098 bytes, at most 4096)",
		 path);
	cr_assert_str_eq(err, want);
}

/* Exactly full is fine. */
Test(cfgkeys, key_command_fills_buffer)
{
	static char arg0[SFS_KEY_COMMAND_BYTES];
	const char *argv[] = {arg0};
	struct sfs_key_spec spec;
	char why[256] = "";

	sfs_key_spec_defaults(&spec);
	arg0[0] = '/';
	memset(arg0 + 1, 'a', SFS_KEY_COMMAND_BYTES - 2);
	arg0[SFS_KEY_COMMAND_BYTES - 1] = '\0';
	cr_assert_eq(sfs_key_spec_set_command(&spec, argv, 1, why, sizeof(why)),
		     0, "%s", why);
	cr_assert_eq(spec.command_len, SFS_KEY_COMMAND_BYTES);
	cr_assert_eq(spec.command_argc, 1);
}

struct opt_case {
	const char *opt;
	int rc;
	enum sfs_key_source source; /* when rc == 1 */
	const char *msg;	    /* when rc < 0 */
};

static const struct opt_case opt_cases[] = {
    {"key=keyring", 1, SFS_KEY_KEYRING, NULL},
    {"key=command", 1, SFS_KEY_COMMAND, NULL},
    {"key=keyfile", 1, SFS_KEY_KEYFILE, NULL},
    {"key=ephemeral", 1, SFS_KEY_EPHEMERAL, NULL},
    {"key=keyring:scratchfs:x", -EINVAL, 0,
     "option key: only keyfile takes a path (key=keyfile:PATH); "
     "keyring_description and key_command are set in the config file"},
    {"key=command:/bin/sh", -EINVAL, 0,
     "option key: only keyfile takes a path (key=keyfile:PATH); "
     "keyring_description and key_command are set in the config file"},
    {"key=KEYRING", -EINVAL, 0,
     "option key: unknown key source \"KEYRING\" (supported: ephemeral, "
     "keyfile, keyring, command)"},
    {"key_command=/bin/sh", 0, 0, NULL},
    {"keyring_description=x", 0, 0, NULL},
};

ParameterizedTestParameters(cfgkeys, option)
{
	static int idx[sizeof(opt_cases) / sizeof(opt_cases[0])];

	for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); i++)
		idx[i] = (int)i;
	return cr_make_param_array(int, idx, sizeof(idx) / sizeof(idx[0]));
}

/* -o key=keyring|command select the source; the description and the
 * command itself never come from -o (they would be in ps and fstab). */
ParameterizedTest(int *ci, cfgkeys, option)
{
	const struct opt_case *c = &opt_cases[*ci];
	struct sfs_config cfg, before;
	char err[512] = "";
	int rc;

	poison(&cfg);
	before = cfg;
	rc = sfs_config_apply_option(&cfg, c->opt, err, sizeof(err));
	cr_assert_eq(rc, c->rc, "%s: rc %d (%s)", c->opt, rc, err);
	if (rc == 1) {
		cr_assert_eq(cfg.key.source, c->source);
		/* Only the source changed. */
		cfg.key.source = before.key.source;
	}
	if (rc < 0)
		cr_assert_str_eq(err, c->msg);
	cr_assert_eq(memcmp(&cfg, &before, sizeof(cfg)), 0, "%s", c->opt);
}

/* The shipped file documents the three new settings with their defaults:
 * uncommenting its "#name = value;" lines must give the defaults again
 * over a config where they all differ. */
Test(cfgkeys, shipped_file_documents_key_defaults)
{
	static const char *const names[] = {
	    "#keyring_description = ", "#key_command_timeout = ",
	    "#key_source = "};
	unsigned int seen[3] = {0};
	struct sfs_config cfg;
	char err[512] = "", line[512];
	char *text = NULL;
	size_t text_len = 0;
	FILE *in, *out;

	in = fopen(sfs_shipped_conf(), "r");
	cr_assert_not_null(in, "conf/scratchfs.conf: %s", strerror(errno));
	out = open_memstream(&text, &text_len);
	cr_assert_not_null(out);
	while (fgets(line, sizeof(line), in)) {
		char *p = line + strspn(line, " \t");

		for (size_t i = 0; i < 3; i++)
			seen[i] += strncmp(p, names[i], strlen(names[i])) == 0;
		if (p[0] == '#' && p[1] >= 'a' && p[1] <= 'z' &&
		    strstr(p, " = "))
			memmove(p, p + 1, strlen(p));
		fputs(line, out);
	}
	fclose(in);
	fclose(out);
	for (size_t i = 0; i < 3; i++)
		cr_assert_eq(seen[i], 1, "%s appears %u times", names[i],
			     seen[i]);
	/* The example command is in the comments, not a setting. */
	cr_assert_null(strstr(text, "\nkey_command ="));

	poison(&cfg);
	cfg.key.command_argc = 0; /* the file has no key_command */
	cfg.key.command_len = 0;
	cr_assert_eq(sfs_config_load(&cfg, write_conf("all.conf", text), err,
				     sizeof(err)),
		     0, "%s", err);
	free(text);
	cr_assert_eq(cfg.key.source, SFS_KEY_EPHEMERAL);
	cr_assert_str_eq(cfg.key.keyring_desc, "scratchfs:node");
	cr_assert_eq(cfg.key.command_timeout, 10);
}

/* sfs_key_spec_set_command checks what the parser relies on. */
Test(cfgkeys, set_command_checks)
{
	static const char *const rel[] = {"bin/x"};
	static const char *const ok[] = {"/bin/x", "a"};
	struct sfs_key_spec spec, before;
	char why[256] = "";

	sfs_key_spec_defaults(&spec);
	cr_assert_eq(sfs_key_spec_set_command(&spec, ok, 2, why, sizeof(why)),
		     0);
	before = spec;
	cr_assert_eq(sfs_key_spec_set_command(&spec, rel, 1, why, sizeof(why)),
		     -EINVAL);
	cr_assert_str_eq(why,
			 "the program must be an absolute path, not \"bin/x\"");
	cr_assert_eq(sfs_key_spec_set_command(&spec, ok, 0, why, sizeof(why)),
		     -EINVAL);
	cr_assert_eq(sfs_key_spec_set_command(&spec, ok,
					      SFS_KEY_COMMAND_MAX_ARGS + 1, why,
					      sizeof(why)),
		     -EINVAL);
	cr_assert_str_eq(why, "has 33 arguments, at most 32 allowed");
	cr_assert_eq(memcmp(&spec, &before, sizeof(spec)), 0);
}

/* Every description the parser accepts is one the provider accepts. */
Test(cfgkeys, keyring_desc_check)
{
	char why[128], desc[SFS_KEYRING_DESC_MAX + 2];

	cr_assert_eq(sfs_keyring_desc_check("scratchfs:node", why, sizeof(why)),
		     0);
	cr_assert_eq(sfs_keyring_desc_check("~!@#$%^&*()", why, sizeof(why)),
		     0);
	memset(desc, 'd', SFS_KEYRING_DESC_MAX);
	desc[SFS_KEYRING_DESC_MAX] = '\0';
	cr_assert_eq(sfs_keyring_desc_check(desc, why, sizeof(why)), 0);
	desc[SFS_KEYRING_DESC_MAX] = 'd';
	desc[SFS_KEYRING_DESC_MAX + 1] = '\0';
	cr_assert_eq(sfs_keyring_desc_check(desc, why, sizeof(why)), -EINVAL);
	cr_assert_eq(sfs_keyring_desc_check("caf\xc3\xa9", why, sizeof(why)),
		     -EINVAL);
	cr_assert_eq(sfs_keyring_desc_check("a\x7f", why, sizeof(why)),
		     -EINVAL);
}

/* A spec made by hand (memset, no defaults) still describes itself. */
Test(cfgkeys, describe)
{
	static const char *const argv[] = {"/usr/bin/unseal", "--x"};
	struct sfs_key_spec spec;
	char out[PATH_MAX + 64], why[64];

	memset(&spec, 0, sizeof(spec));
	spec.source = SFS_KEY_KEYRING;
	sfs_key_spec_describe(&spec, out, sizeof(out));
	snprintf(why, sizeof(why), " (user keyring of uid %u)",
		 (unsigned int)geteuid());
	cr_assert(strncmp(out, "keyring key scratchfs:node", 26) == 0, "%s",
		  out);
	cr_assert(strstr(out, why), "%s", out);
	spec.source = SFS_KEY_COMMAND;
	sfs_key_spec_describe(&spec, out, sizeof(out));
	cr_assert_str_eq(out, "key command (none)");
	cr_assert_eq(sfs_key_spec_set_command(&spec, argv, 2, why, sizeof(why)),
		     0);
	sfs_key_spec_describe(&spec, out, sizeof(out));
	cr_assert_str_eq(out, "key command /usr/bin/unseal");
	strcpy(spec.keyfile, "/k");
	spec.source = SFS_KEY_KEYFILE;
	sfs_key_spec_describe(&spec, out, sizeof(out));
	cr_assert_str_eq(out, "key file /k");
	spec.source = SFS_KEY_EPHEMERAL;
	sfs_key_spec_describe(&spec, out, sizeof(out));
	cr_assert_str_eq(out, "ephemeral");
}
