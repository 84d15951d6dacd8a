/* config.c - settings: defaults, strict libconfig parsing, -o overrides. */
#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sfs_config.h"
#include "sfs_log.h"

#define MAX_THREADS_MIN 1U
#define MAX_THREADS_MAX 256U
#define MAX_WRITE_MIN 4096U
#define MAX_WRITE_MAX 1048576U
#define CACHE_TIMEOUT_MAX 3600.0
#define WIPE_PASSES_MAX 16U

#define CIPHER_VALUES "auto, xchacha20poly1305 or aes256gcm"
#define KEY_SOURCE_VALUES "ephemeral, keyfile, keyring, command"

void sfs_config_defaults(struct sfs_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->encrypted = true;
	cfg->cipher = SFS_AEAD_NONE;
	sfs_key_spec_defaults(&cfg->key);
	cfg->fuse.max_threads = 8;
	cfg->fuse.max_write = 1048576;
	cfg->fuse.cache_timeout = 10.0;
	cfg->fuse.allow_other = false;
	cfg->fuse.default_permissions = true;
	cfg->fuse.writeback_cache = true;
	cfg->fuse.xattrs = true;
	cfg->fuse.io_uring = true;
	cfg->audit.file[0] = '\0';
	cfg->audit.syslog = true;
	cfg->wipe.passes = 0;
	cfg->wipe.discard = false;
	snprintf(cfg->volume_plugin.socket, sizeof(cfg->volume_plugin.socket),
		 "%s", SFS_DEFAULT_PLUGIN_SOCKET);
	snprintf(cfg->volume_plugin.root, sizeof(cfg->volume_plugin.root), "%s",
		 SFS_DEFAULT_PLUGIN_ROOT);
}

/*
 * Value parsers shared by the file and the -o options. Each returns 0 or
 * -EINVAL with the problem (without any "where" prefix) in why.
 */

static int parse_cipher(const char *s, enum sfs_aead *out, char *why,
			size_t why_len)
{
	enum sfs_aead a;

	if (sfs_aead_from_name(s, &a) != 0) {
		sfs_set_err(why, why_len, "unknown cipher \"%s\" (use %s)", s,
			    CIPHER_VALUES);
		return -EINVAL;
	}
	if (a != SFS_AEAD_NONE && !sfs_aead_available(a)) {
		sfs_set_err(
		    why, why_len,
		    "%s is not available on this CPU (it needs AES-NI); "
		    "use auto or xchacha20poly1305",
		    s);
		return -EINVAL;
	}
	*out = a;
	return 0;
}

static int parse_key_source(const char *s, enum sfs_key_source *out, char *why,
			    size_t why_len)
{
	if (strcmp(s, "ephemeral") == 0) {
		*out = SFS_KEY_EPHEMERAL;
		return 0;
	}
	if (strcmp(s, "keyfile") == 0) {
		*out = SFS_KEY_KEYFILE;
		return 0;
	}
	if (strcmp(s, "keyring") == 0) {
		*out = SFS_KEY_KEYRING;
		return 0;
	}
	if (strcmp(s, "command") == 0) {
		*out = SFS_KEY_COMMAND;
		return 0;
	}
	sfs_set_err(why, why_len, "unknown key source \"%s\" (supported: %s)",
		    s, KEY_SOURCE_VALUES);
	return -EINVAL;
}

static int parse_keyfile(const char *s, char out[PATH_MAX], char *why,
			 size_t why_len)
{
	if (s[0] != '/') {
		sfs_set_err(why, why_len,
			    "must be an absolute path, not \"%s\"", s);
		return -EINVAL;
	}
	if (strlen(s) >= PATH_MAX) {
		sfs_set_err(why, why_len, "path is too long");
		return -EINVAL;
	}
	strcpy(out, s);
	return 0;
}

/*
 * The config file.
 */

struct file_ctx {
	const char *path; /* for messages */
	const char *dir;  /* where @include looks; NULL for the cwd */
	const char *text; /* the main file's text */
	size_t len;
	char *err;
	size_t err_len;
};

/* The name of the file libconfig read a setting or error from: the main
 * file (NULL from libconfig) or an included one (as written there). */
static void source_name(const struct file_ctx *fc, const char *file, char *out,
			size_t out_len)
{
	if (!file)
		snprintf(out, out_len, "%s", fc->path);
	else if (file[0] != '/' && fc->dir)
		snprintf(out, out_len, "%s/%s",
			 strcmp(fc->dir, "/") == 0 ? "" : fc->dir, file);
	else
		snprintf(out, out_len, "%s", file);
}

/* "FILE:LINE: SETTING: why" for setting s; SETTING is the dotted name. */
static int setting_err(const struct file_ctx *fc, const config_setting_t *s,
		       const char *name, const char *why)
{
	char file[PATH_MAX];

	source_name(fc, config_setting_source_file(s), file, sizeof(file));
	sfs_set_err(fc->err, fc->err_len, "%s:%u: %s: %s", file,
		    (unsigned int)config_setting_source_line(s), name, why);
	return -EINVAL;
}

static int get_bool(const struct file_ctx *fc, const config_setting_t *s,
		    const char *name, bool *out)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return setting_err(fc, s, name,
				   "must be a boolean (true or false)");
	*out = config_setting_get_bool(s) != 0;
	return 0;
}

static int get_string(const struct file_ctx *fc, const config_setting_t *s,
		      const char *name, const char **out)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return setting_err(fc, s, name, "must be a string");
	*out = config_setting_get_string(s);
	return 0;
}

/* The whole of file f into a malloc'ed, NUL-terminated buffer (*len bytes
 * before the NUL), or NULL with errno set. */
static char *read_all(FILE *f, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *text = malloc(cap), *bigger;

	while (text) {
		n += fread(text + n, 1, cap - 1 - n, f);
		if (ferror(f)) {
			free(text);
			errno = EIO;
			return NULL;
		}
		if (n < cap - 1)
			break;
		bigger = realloc(text, cap * 2);
		if (!bigger)
			free(text);
		text = bigger;
		cap *= 2;
	}
	if (!text)
		return NULL;
	text[n] = '\0';
	*len = n;
	return text;
}

/* The literal @key is set to on @line of the text (len bytes), as written,
 * into @lit; false when it is not found there (a setting spread over
 * lines). */
static bool literal_on_line(const char *text, size_t len, unsigned int line,
			    const char *key, char *lit, size_t lit_len)
{
	size_t klen = strlen(key), start = 0, n = 0;
	const char *nl;
	char *copy, *p;
	bool found = false;

	for (unsigned int i = 1; i < line && start < len; i++) {
		nl = memchr(text + start, '\n', len - start);
		start = nl ? (size_t)(nl - text) + 1 : len;
	}
	if (line == 0 || start >= len)
		return false;
	nl = memchr(text + start, '\n', len - start);
	copy = strndup(text + start,
		       nl ? (size_t)(nl - text) + 1 - start : len - start);
	if (!copy)
		return false;
	for (p = strstr(copy, key); p && !found; p = strstr(p + 1, key)) {
		const char *q = p + klen;

		if (p > copy &&
		    (isalnum((unsigned char)p[-1]) || strchr("_-*", p[-1])))
			continue;
		q += strspn(q, " \t");
		if (*q != '=' && *q != ':')
			continue;
		q += 1 + strspn(q + 1, " \t");
		n = strspn(q, "+-0123456789abcdefABCDEFxXL");
		if (n > 0 && n < lit_len) {
			memcpy(lit, q, n);
			lit[n] = '\0';
			found = true;
		}
	}
	free(copy);
	return found;
}

/* literal_on_line() in the file libconfig read setting s from: the main
 * text, or an included file read again from disk. */
static bool literal_of(const struct file_ctx *fc, const config_setting_t *s,
		       char *lit, size_t lit_len)
{
	const char *src = config_setting_source_file(s);
	char file[PATH_MAX], *text;
	size_t len;
	bool found;
	FILE *f;

	if (!config_setting_name(s))
		return false;
	if (!src)
		return literal_on_line(fc->text, fc->len,
				       config_setting_source_line(s),
				       config_setting_name(s), lit, lit_len);
	source_name(fc, src, file, sizeof(file));
	f = fopen(file, "re");
	if (!f)
		return false;
	text = read_all(f, &len);
	fclose(f);
	if (!text)
		return false;
	found = literal_on_line(text, len, config_setting_source_line(s),
				config_setting_name(s), lit, lit_len);
	free(text);
	return found;
}

/*
 * An integer setting's value into *v, and the text it was written as into
 * @lit (for messages); false when it is not an integer. libconfig 1.5 reads
 * an integer without an L suffix as 32 bits and keeps what is left of a
 * larger one (4294967304 becomes 8): the literal read back from the file
 * tells, and such a value becomes LLONG_MAX, which no setting accepts.
 */
static bool get_integer(const struct file_ctx *fc, const config_setting_t *s,
			long long *v, char *lit, size_t lit_len)
{
	char *end;
	long long written;
	int base = 10;
	const char *digits = lit;

	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64)
		return false;
	*v = config_setting_get_int64(s);
	if (!literal_of(fc, s, lit, lit_len)) {
		snprintf(lit, lit_len, "%lld", *v);
		return true;
	}
	if (*digits == '-' || *digits == '+')
		digits++;
	if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
		base = 16;
	errno = 0;
	written = strtoll(lit, &end, base);
	if (errno == ERANGE || strspn(end, "L") != strlen(end) || written != *v)
		*v = LLONG_MAX;
	return true;
}

static int get_uint(const struct file_ctx *fc, const config_setting_t *s,
		    const char *name, unsigned int min, unsigned int max,
		    unsigned int *out)
{
	char why[128], lit[64];
	long long v;

	if (!get_integer(fc, s, &v, lit, sizeof(lit)))
		return setting_err(fc, s, name, "must be an integer");
	if (v < (long long)min || v > (long long)max) {
		snprintf(why, sizeof(why), "%s is out of range (%u..%u)", lit,
			 min, max);
		return setting_err(fc, s, name, why);
	}
	*out = (unsigned int)v;
	return 0;
}

/* One member of a group (see load_group); key is its name there, name
 * the dotted one for messages. */
typedef int (*setting_fn)(const struct file_ctx *fc, const config_setting_t *s,
			  const char *key, const char *name,
			  struct sfs_config *cfg);

/* Loads the group setting grp (named key) member by member with one; an
 * unnamed member is an unknown setting. Stops at the first error. */
static int load_group(const struct file_ctx *fc, const config_setting_t *grp,
		      const char *key, setting_fn one, struct sfs_config *cfg)
{
	char name[128], why[128];
	int n;

	if (config_setting_type(grp) != CONFIG_TYPE_GROUP) {
		snprintf(why, sizeof(why), "must be a group: %s = { ... };",
			 key);
		return setting_err(fc, grp, key, why);
	}
	n = config_setting_length(grp);
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(grp, i);
		const char *member = config_setting_name(s);
		int rc;

		snprintf(name, sizeof(name), "%s.%s", key,
			 member ? member : "?");
		rc = member ? one(fc, s, member, name, cfg)
			    : setting_err(fc, s, name, "unknown setting");
		if (rc)
			return rc;
	}
	return 0;
}

static int fuse_setting(const struct file_ctx *fc, const config_setting_t *s,
			const char *key, const char *name,
			struct sfs_config *cfg)
{
	char why[128];
	int rc;

	if (strcmp(key, "max_threads") == 0)
		return get_uint(fc, s, name, MAX_THREADS_MIN, MAX_THREADS_MAX,
				&cfg->fuse.max_threads);
	if (strcmp(key, "max_write") == 0) {
		rc = get_uint(fc, s, name, MAX_WRITE_MIN, MAX_WRITE_MAX,
			      &cfg->fuse.max_write);
		/* Whole pages: the kernel splits writes on pages. */
		if (rc == 0 && cfg->fuse.max_write % 4096 != 0) {
			snprintf(why, sizeof(why),
				 "%u is not a multiple of 4096",
				 cfg->fuse.max_write);
			rc = setting_err(fc, s, name, why);
		}
		return rc;
	}
	if (strcmp(key, "cache_timeout") == 0) {
		char lit[64];
		long long iv;
		double v;

		if (config_setting_type(s) == CONFIG_TYPE_FLOAT) {
			v = config_setting_get_float(s);
			snprintf(lit, sizeof(lit), "%g", v);
		} else if (get_integer(fc, s, &iv, lit, sizeof(lit))) {
			v = (double)iv;
		} else {
			return setting_err(fc, s, name, "must be a number");
		}
		/* Written so that NaN fails too. */
		if (!(v >= 0.0 && v <= CACHE_TIMEOUT_MAX)) {
			snprintf(why, sizeof(why),
				 "%s is out of range (0..%g seconds)", lit,
				 CACHE_TIMEOUT_MAX);
			return setting_err(fc, s, name, why);
		}
		cfg->fuse.cache_timeout = v;
		return 0;
	}
	if (strcmp(key, "allow_other") == 0)
		return get_bool(fc, s, name, &cfg->fuse.allow_other);
	if (strcmp(key, "default_permissions") == 0)
		return get_bool(fc, s, name, &cfg->fuse.default_permissions);
	if (strcmp(key, "writeback_cache") == 0)
		return get_bool(fc, s, name, &cfg->fuse.writeback_cache);
	if (strcmp(key, "xattrs") == 0)
		return get_bool(fc, s, name, &cfg->fuse.xattrs);
	if (strcmp(key, "io_uring") == 0)
		return get_bool(fc, s, name, &cfg->fuse.io_uring);
	return setting_err(fc, s, name, "unknown setting");
}

/* audit.file: "" (none) or an absolute path naming a file. */
static int parse_audit_file(const char *s, char out[PATH_MAX], char *why,
			    size_t why_len)
{
	size_t len = strlen(s);

	if (len == 0) {
		out[0] = '\0';
		return 0;
	}
	if (s[0] != '/' || s[len - 1] == '/') {
		sfs_set_err(why, why_len,
			    "must be \"\" or an absolute path of a file, not "
			    "\"%s\"",
			    s);
		return -EINVAL;
	}
	if (len >= PATH_MAX) {
		sfs_set_err(why, why_len, "path is too long");
		return -EINVAL;
	}
	strcpy(out, s);
	return 0;
}

static int audit_setting(const struct file_ctx *fc, const config_setting_t *s,
			 const char *key, const char *name,
			 struct sfs_config *cfg)
{
	char why[PATH_MAX + 128];
	const char *str;
	int rc;

	if (strcmp(key, "file") == 0) {
		rc = get_string(fc, s, name, &str);
		if (rc == 0 &&
		    parse_audit_file(str, cfg->audit.file, why, sizeof(why)))
			rc = setting_err(fc, s, name, why);
		return rc;
	}
	if (strcmp(key, "syslog") == 0)
		return get_bool(fc, s, name, &cfg->audit.syslog);
	return setting_err(fc, s, name, "unknown setting");
}

static int wipe_setting(const struct file_ctx *fc, const config_setting_t *s,
			const char *key, const char *name,
			struct sfs_config *cfg)
{
	if (strcmp(key, "passes") == 0)
		return get_uint(fc, s, name, 0, WIPE_PASSES_MAX,
				&cfg->wipe.passes);
	if (strcmp(key, "discard") == 0)
		return get_bool(fc, s, name, &cfg->wipe.discard);
	return setting_err(fc, s, name, "unknown setting");
}

/* key_command = ["/abs/program", "arg", ...]; (an array or list of
 * strings; never key material: it is visible in ps). */
static int load_key_command(const struct file_ctx *fc,
			    const config_setting_t *s, struct sfs_config *cfg)
{
	const char *argv[SFS_KEY_COMMAND_MAX_ARGS];
	char why[256];
	int n;

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST)
		return setting_err(fc, s, "key_command",
				   "must be an array of strings: "
				   "[\"/path/to/program\", \"arg\", ...]");
	n = config_setting_length(s);
	if (n > (int)SFS_KEY_COMMAND_MAX_ARGS) {
		snprintf(why, sizeof(why),
			 "has %d elements, at most %u allowed", n,
			 SFS_KEY_COMMAND_MAX_ARGS);
		return setting_err(fc, s, "key_command", why);
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);

		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return setting_err(fc, s, "key_command",
					   "must be an array of strings");
		argv[i] = config_setting_get_string(e);
	}
	if (sfs_key_spec_set_command(&cfg->key, argv, (unsigned int)n, why,
				     sizeof(why)))
		return setting_err(fc, s, "key_command", why);
	return 0;
}

/* volume_plugin.socket / .root: absolute, normalised, shorter than max,
 * not "/" (the root: volumes are created and wiped under it). */
static int parse_plugin_path(const char *s, size_t max, char *out, char *why,
			     size_t why_len)
{
	size_t len = strlen(s);

	if (s[0] != '/') {
		sfs_set_err(why, why_len,
			    "must be an absolute path, not \"%s\"", s);
		return -EINVAL;
	}
	if (len >= max) {
		sfs_set_err(why, why_len,
			    "path is too long (at most %zu bytes)", max - 1);
		return -EINVAL;
	}
	if (len == 1) {
		sfs_set_err(why, why_len, "must not be \"/\"");
		return -EINVAL;
	}
	for (const char *c = s; *c; c++) {
		/* At each "/": what follows must be a real name. */
		if (*c != '/')
			continue;
		if (c[1] == '/' || c[1] == '\0' ||
		    (c[1] == '.' && (c[2] == '/' || c[2] == '\0')) ||
		    (c[1] == '.' && c[2] == '.' &&
		     (c[3] == '/' || c[3] == '\0'))) {
			sfs_set_err(
			    why, why_len,
			    "\"%s\" is not a normalised path (no \"//\", "
			    "\".\", \"..\" or trailing \"/\")",
			    s);
			return -EINVAL;
		}
	}
	memcpy(out, s, len + 1);
	return 0;
}

static int plugin_setting(const struct file_ctx *fc, const config_setting_t *s,
			  const char *key, const char *name,
			  struct sfs_config *cfg)
{
	char why[SFS_PLUGIN_ROOT_MAX + 128];
	const char *str;
	int rc;

	if (strcmp(key, "socket") == 0) {
		rc = get_string(fc, s, name, &str);
		if (rc == 0 && parse_plugin_path(str, SFS_PLUGIN_SOCKET_MAX,
						 cfg->volume_plugin.socket, why,
						 sizeof(why)))
			rc = setting_err(fc, s, name, why);
		return rc;
	}
	if (strcmp(key, "root") == 0) {
		rc = get_string(fc, s, name, &str);
		if (rc == 0 && parse_plugin_path(str, SFS_PLUGIN_ROOT_MAX + 1,
						 cfg->volume_plugin.root, why,
						 sizeof(why)))
			rc = setting_err(fc, s, name, why);
		return rc;
	}
	return setting_err(fc, s, name, "unknown setting");
}

int sfs_config_set_plugin_socket(struct sfs_config *cfg, const char *path,
				 char *err, size_t err_len)
{
	char why[SFS_PLUGIN_ROOT_MAX + 128];

	if (parse_plugin_path(path, SFS_PLUGIN_SOCKET_MAX,
			      cfg->volume_plugin.socket, why, sizeof(why))) {
		sfs_set_err(err, err_len, "socket: %s", why);
		return -EINVAL;
	}
	return 0;
}

int sfs_config_set_plugin_root(struct sfs_config *cfg, const char *path,
			       char *err, size_t err_len)
{
	char why[SFS_PLUGIN_ROOT_MAX + 128];

	if (parse_plugin_path(path, SFS_PLUGIN_ROOT_MAX + 1,
			      cfg->volume_plugin.root, why, sizeof(why))) {
		sfs_set_err(err, err_len, "root: %s", why);
		return -EINVAL;
	}
	return 0;
}

static int load_top(const struct file_ctx *fc, const config_setting_t *s,
		    struct sfs_config *cfg)
{
	const char *key = config_setting_name(s);
	const char *str;
	char why[PATH_MAX + 128];
	int rc;

	if (!key)
		return setting_err(fc, s, "?", "unknown setting");
	if (strcmp(key, "hbi_workspace") == 0)
		return get_bool(fc, s, key, &cfg->encrypted);
	if (strcmp(key, "fuse") == 0)
		return load_group(fc, s, key, fuse_setting, cfg);
	if (strcmp(key, "audit") == 0)
		return load_group(fc, s, key, audit_setting, cfg);
	if (strcmp(key, "wipe") == 0)
		return load_group(fc, s, key, wipe_setting, cfg);
	if (strcmp(key, "volume_plugin") == 0)
		return load_group(fc, s, key, plugin_setting, cfg);
	if (strcmp(key, "cipher") == 0) {
		rc = get_string(fc, s, key, &str);
		if (rc == 0 &&
		    parse_cipher(str, &cfg->cipher, why, sizeof(why)))
			rc = setting_err(fc, s, key, why);
		return rc;
	}
	if (strcmp(key, "key_source") == 0) {
		rc = get_string(fc, s, key, &str);
		if (rc == 0 &&
		    parse_key_source(str, &cfg->key.source, why, sizeof(why)))
			rc = setting_err(fc, s, key, why);
		return rc;
	}
	if (strcmp(key, "keyfile") == 0) {
		rc = get_string(fc, s, key, &str);
		if (rc == 0 &&
		    parse_keyfile(str, cfg->key.keyfile, why, sizeof(why)))
			rc = setting_err(fc, s, key, why);
		return rc;
	}
	if (strcmp(key, "keyring_description") == 0) {
		rc = get_string(fc, s, key, &str);
		if (rc == 0 && sfs_keyring_desc_check(str, why, sizeof(why)))
			rc = setting_err(fc, s, key, why);
		if (rc == 0)
			strcpy(cfg->key.keyring_desc, str);
		return rc;
	}
	if (strcmp(key, "key_command") == 0)
		return load_key_command(fc, s, cfg);
	if (strcmp(key, "key_command_timeout") == 0)
		return get_uint(fc, s, key, 1, SFS_KEY_COMMAND_TIMEOUT_MAX,
				&cfg->key.command_timeout);
	return setting_err(fc, s, key, "unknown setting");
}

int sfs_config_parse(struct sfs_config *cfg, const char *path, const char *text,
		     size_t len, char *err, size_t err_len)
{
	struct file_ctx fc = {.path = path,
			      .text = text,
			      .len = len,
			      .err = err,
			      .err_len = err_len};
	/* Parse into a copy so that a bad file leaves cfg untouched. */
	struct sfs_config next = *cfg;
	char dir[PATH_MAX];
	const char *slash;
	config_setting_t *root;
	config_t lc;
	FILE *f;
	int rc = 0;

	/* A stream over the text: libconfig then reads it exactly as it
	 * reads a file (a NUL byte is not the end of it). */
	f = fmemopen((void *)text, len, "r");
	if (!f) {
		rc = -errno;
		sfs_set_err(err, err_len, "%s: %s", path, strerror(-rc));
		return rc;
	}
	config_init(&lc);
	/* @include "x" is relative to the including file's directory. */
	slash = strrchr(path, '/');
	if (slash && (size_t)(slash - path) < sizeof(dir)) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
		if (!dir[0])
			strcpy(dir, "/");
		config_set_include_dir(&lc, dir);
		fc.dir = dir;
	}
	if (config_read(&lc, f) != CONFIG_TRUE) {
		char efile[PATH_MAX];

		source_name(&fc, config_error_file(&lc), efile, sizeof(efile));
		sfs_set_err(err, err_len, "%s:%d: syntax error: %s", efile,
			    config_error_line(&lc), config_error_text(&lc));
		rc = -EINVAL;
		goto out;
	}
	root = config_root_setting(&lc);
	for (int i = 0; i < config_setting_length(root); i++) {
		rc = load_top(&fc, config_setting_get_elem(root, i), &next);
		if (rc)
			goto out;
	}
	*cfg = next;
out:
	config_destroy(&lc);
	fclose(f);
	return rc;
}

int sfs_config_load(struct sfs_config *cfg, const char *path, char *err,
		    size_t err_len)
{
	struct stat st;
	char *text;
	size_t len;
	FILE *f;
	int rc;

	f = fopen(path, "re");
	if (!f) {
		rc = -errno;
		sfs_set_err(err, err_len, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fileno(f), &st) != 0) {
		rc = -errno;
		sfs_set_err(err, err_len, "%s: %s", path, strerror(-rc));
		fclose(f);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		sfs_set_err(err, err_len, "%s: not a regular file", path);
		fclose(f);
		return -EINVAL;
	}
	text = read_all(f, &len);
	if (!text) {
		rc = -errno;
		sfs_set_err(err, err_len, "%s: %s", path, strerror(-rc));
		fclose(f);
		return rc;
	}
	fclose(f);
	rc = sfs_config_parse(cfg, path, text, len, err, err_len);
	free(text);
	return rc;
}

/*
 * -o options.
 */

int sfs_config_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"1", "true", "yes"};
	static const char *const no[] = {"0", "false", "no"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int apply_key(struct sfs_config *cfg, const char *val, char *why,
		     size_t why_len)
{
	enum sfs_key_source src;
	const char *colon = strchr(val, ':');
	char name[32];
	int rc;

	if (colon) {
		/* Only "keyfile" takes an argument: a keyring description
		 * and a provider command come from the config file only. */
		snprintf(name, sizeof(name), "%.*s", (int)(colon - val), val);
		if (strcmp(name, "keyfile") != 0) {
			sfs_set_err(
			    why, why_len,
			    "only keyfile takes a path (key=keyfile:PATH); "
			    "keyring_description and key_command are set "
			    "in the config file");
			return -EINVAL;
		}
		rc = parse_keyfile(colon + 1, cfg->key.keyfile, why, why_len);
		if (rc)
			return rc;
		cfg->key.source = SFS_KEY_KEYFILE;
		return 0;
	}
	rc = parse_key_source(val, &src, why, why_len);
	if (rc)
		return rc;
	cfg->key.source = src;
	return 0;
}

int sfs_config_apply_option(struct sfs_config *cfg, const char *opt, char *err,
			    size_t err_len)
{
	const char *eq = strchr(opt, '=');
	size_t nlen = eq ? (size_t)(eq - opt) : strlen(opt);
	const char *val = eq ? eq + 1 : NULL;
	char why[PATH_MAX + 128];
	const char *name;
	int rc;

	if (nlen == 3 && strncmp(opt, "hbi", 3) == 0)
		name = "hbi";
	else if (nlen == 3 && strncmp(opt, "key", 3) == 0)
		name = "key";
	else if (nlen == 6 && strncmp(opt, "cipher", 6) == 0)
		name = "cipher";
	else
		return 0;

	if (!val || !*val) {
		sfs_set_err(err, err_len, "option %s: needs a value (%s=...)",
			    name, name);
		return -EINVAL;
	}
	if (strcmp(name, "hbi") == 0) {
		if (sfs_config_parse_bool(val, &cfg->encrypted)) {
			sfs_set_err(
			    why, sizeof(why),
			    "bad value \"%s\" (use 1, 0, true, false, yes "
			    "or no)",
			    val);
			rc = -EINVAL;
		} else {
			rc = 0;
		}
	} else if (strcmp(name, "key") == 0) {
		rc = apply_key(cfg, val, why, sizeof(why));
	} else {
		rc = parse_cipher(val, &cfg->cipher, why, sizeof(why));
	}
	if (rc) {
		sfs_set_err(err, err_len, "option %s: %s", name, why);
		return rc;
	}
	return 1;
}
