/* plugin_opts.c - volume names, mount IDs and the "-o" options of a volume. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfs_config.h"
#include "sfs_plugin.h"

#define OPTS_SUPPORTED "hbi, key, wipe, uid, gid, mode"

static __attribute__((format(printf, 3, 4))) int
opt_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (err && err_len) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* At most n-1 bytes of in, anything but printable ASCII as '?': option
 * names and values are echoed in answers and logs. */
static const char *clean(const char *in, char *out, size_t n)
{
	size_t i;

	for (i = 0; in[i] && i + 1 < n; i++)
		out[i] = in[i] >= ' ' && in[i] <= '~' ? in[i] : '?';
	out[i] = '\0';
	return out;
}

bool sfs_plugin_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > SFS_PLUGIN_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
			return false;
	}
	return true;
}

bool sfs_plugin_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > SFS_PLUGIN_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (id[i] <= ' ' || id[i] > '~')
			return false;
	return true;
}

const char *sfs_plugin_wipe_name(enum sfs_plugin_wipe w)
{
	return w == SFS_PLUGIN_WIPE_ON_REMOVE ? "on-remove" : "on-unmount";
}

/* Strict unsigned decimal (no sign, no spaces, no leading "0x"). */
static int parse_decimal(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 10)
		return -EINVAL;
	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*c - '0');
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Which options were given; the defaults that depend on others (key,
 * wipe) are settled after all are read. */
struct seen {
	bool key;
	bool wipe;
};

static int apply_one(const char *k, const char *v, struct sfs_plugin_opts *o,
		     struct seen *seen, char *err, size_t err_len)
{
	char cv[33], ck[65];
	unsigned long n;

	clean(v, cv, sizeof(cv));
	clean(k, ck, sizeof(ck));
	if (!strcmp(k, "hbi")) {
		if (sfs_config_parse_bool(v, &o->encrypted))
			return opt_err(err, err_len,
				       "option hbi: \"%s\" is not 1 or 0", cv);
	} else if (!strcmp(k, "key")) {
		/* The value is not echoed: someone may have tried to pass a
		 * key, and the engine already stores options in clear. */
		if (!strcmp(v, "ephemeral"))
			o->key = SFS_KEY_EPHEMERAL;
		else if (!strcmp(v, "keyfile"))
			o->key = SFS_KEY_KEYFILE;
		else
			return opt_err(err, err_len,
				       "option key: must be ephemeral or "
				       "keyfile (keys are never accepted as "
				       "options)");
		seen->key = true;
	} else if (!strcmp(k, "wipe")) {
		if (!strcmp(v, "on-unmount"))
			o->wipe = SFS_PLUGIN_WIPE_ON_UNMOUNT;
		else if (!strcmp(v, "on-remove"))
			o->wipe = SFS_PLUGIN_WIPE_ON_REMOVE;
		else
			return opt_err(err, err_len,
				       "option wipe: \"%s\" is not "
				       "on-unmount or on-remove",
				       cv);
		seen->wipe = true;
	} else if (!strcmp(k, "uid") || !strcmp(k, "gid")) {
		/* (uid_t)-1 means "unchanged" to chown: not a real id. */
		if (parse_decimal(v, 4294967294UL, &n))
			return opt_err(err, err_len,
				       "option %s: \"%s\" is not a number "
				       "0..4294967294",
				       k, cv);
		if (k[0] == 'u')
			o->uid = (uid_t)n;
		else
			o->gid = (gid_t)n;
	} else if (!strcmp(k, "mode")) {
		size_t len = strspn(v, "01234567");

		n = strtoul(v, NULL, 8);
		/* No set-ID or sticky bits on a volume root that every
		 * container of the volume shares. */
		if (len == 0 || v[len] || len > 4 || n > 0777)
			return opt_err(
			    err, err_len,
			    "option mode: \"%s\" is not an octal "
			    "mode 0..777 (set-ID and sticky bits are "
			    "refused)",
			    cv);
		o->mode = (mode_t)n;
	} else {
		return opt_err(err, err_len,
			       "unknown option \"%s\" (supported: %s)", ck,
			       OPTS_SUPPORTED);
	}
	return 0;
}

int sfs_plugin_opts_parse(const json_t *opts, bool encrypted_default,
			  enum sfs_key_source key_default,
			  struct sfs_plugin_opts *o, char *err, size_t err_len)
{
	struct sfs_plugin_opts r = {
	    .encrypted = encrypted_default,
	    .key = key_default,
	    .wipe = SFS_PLUGIN_WIPE_ON_UNMOUNT,
	    .mode = 0755,
	};
	struct seen seen = {0};
	const char *k;
	json_t *v;
	int rc;

	if (opts && !json_is_null(opts)) {
		if (!json_is_object(opts))
			return opt_err(err, err_len,
				       "Opts must be an object of strings");
		/* The macro wants a non-const object; nothing is changed. */
		json_object_foreach((json_t *)opts, k, v)
		{
			char ck[65];

			if (!json_is_string(v))
				return opt_err(err, err_len,
					       "option %s: the value must be "
					       "a string",
					       clean(k, ck, sizeof(ck)));
			rc = apply_one(k, json_string_value(v), &r, &seen, err,
				       err_len);
			if (rc)
				return rc;
		}
	}
	if (!r.encrypted) {
		if (seen.key)
			return opt_err(err, err_len,
				       "option key: only for encrypted volumes "
				       "(hbi=1)");
		r.key = SFS_KEY_NONE;
		/* Plain data has no key to lose: keep it until Remove. */
		if (!seen.wipe)
			r.wipe = SFS_PLUGIN_WIPE_ON_REMOVE;
	} else if (r.key == SFS_KEY_EPHEMERAL &&
		   r.wipe == SFS_PLUGIN_WIPE_ON_REMOVE) {
		/* The key dies with the mount: the ciphertext could never be
		 * mounted again, so keeping it would only block the next
		 * mount. */
		return opt_err(err, err_len,
			       "option wipe: on-remove needs key=keyfile or "
			       "hbi=0 (an ephemeral key dies at unmount)");
	} else if (r.key == SFS_KEY_NONE) {
		return opt_err(err, err_len,
			       "option key: an encrypted volume needs "
			       "ephemeral or keyfile");
	}
	*o = r;
	return 0;
}
