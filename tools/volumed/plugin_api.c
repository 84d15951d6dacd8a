/* plugin_api.c - the Docker volume plugin protocol: one request body in,
 * one JSON answer out. Knows nothing of HTTP connections. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sfs_log.h"
#include "sfs_plugin.h"

#define ERR_MAX 1024

/* {"Err": msg} with an HTTP status. msg can hold what the client sent (an
 * unknown path, cut at any byte): every byte outside printable ASCII
 * becomes '?' in place, so that it is a JSON string (valid UTF-8) and a
 * single log line. */
static json_t *err_answer(unsigned int *status, unsigned int code, char *msg)
{
	for (char *c = msg; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
	*status = code;
	return json_pack("{s:s}", "Err", msg);
}

static __attribute__((format(printf, 3, 4))) json_t *
bad_request(unsigned int *status, char *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, ERR_MAX, fmt, ap);
	va_end(ap);
	return err_answer(status, 400, buf);
}

/* A required string member, or NULL. */
static const char *get_str(const json_t *req, const char *key)
{
	return json_string_value(json_object_get(req, key));
}

typedef json_t *(*handler_fn)(struct sfs_plugin *p, const json_t *req,
			      unsigned int *status, char *err);

static json_t *h_create(struct sfs_plugin *p, const json_t *req,
			unsigned int *status, char *err)
{
	const char *name = get_str(req, "Name");

	if (!name)
		return bad_request(status, err, "missing Name");
	if (sfs_plugin_create(p, name, json_object_get(req, "Opts"), err,
			      ERR_MAX))
		return err_answer(status, 500, err);
	return json_pack("{s:s}", "Err", "");
}

static json_t *h_remove(struct sfs_plugin *p, const json_t *req,
			unsigned int *status, char *err)
{
	const char *name = get_str(req, "Name");

	if (!name)
		return bad_request(status, err, "missing Name");
	if (sfs_plugin_remove(p, name, err, ERR_MAX))
		return err_answer(status, 500, err);
	return json_pack("{s:s}", "Err", "");
}

static json_t *h_mount(struct sfs_plugin *p, const json_t *req,
		       unsigned int *status, char *err)
{
	const char *name = get_str(req, "Name"), *id = get_str(req, "ID");
	char mnt[PATH_MAX];

	if (!name)
		return bad_request(status, err, "missing Name");
	if (!id)
		return bad_request(status, err, "missing ID");
	if (sfs_plugin_mount(p, name, id, mnt, sizeof(mnt), err, ERR_MAX))
		return err_answer(status, 500, err);
	return json_pack("{s:s, s:s}", "Mountpoint", mnt, "Err", "");
}

static json_t *h_unmount(struct sfs_plugin *p, const json_t *req,
			 unsigned int *status, char *err)
{
	const char *name = get_str(req, "Name"), *id = get_str(req, "ID");

	if (!name)
		return bad_request(status, err, "missing Name");
	if (!id)
		return bad_request(status, err, "missing ID");
	if (sfs_plugin_unmount(p, name, id, err, ERR_MAX))
		return err_answer(status, 500, err);
	return json_pack("{s:s}", "Err", "");
}

static json_t *h_path(struct sfs_plugin *p, const json_t *req,
		      unsigned int *status, char *err)
{
	const char *name = get_str(req, "Name");
	char mnt[PATH_MAX];

	if (!name)
		return bad_request(status, err, "missing Name");
	if (sfs_plugin_path(p, name, mnt, sizeof(mnt), err, ERR_MAX))
		return err_answer(status, 500, err);
	return json_pack("{s:s, s:s}", "Mountpoint", mnt, "Err", "");
}

static json_t *h_get(struct sfs_plugin *p, const json_t *req,
		     unsigned int *status, char *err)
{
	const char *name = get_str(req, "Name");
	json_t *vol;
	int rc;

	if (!name)
		return bad_request(status, err, "missing Name");
	vol = sfs_plugin_get(p, name, &rc, err, ERR_MAX);
	if (!vol)
		return err_answer(status, 500, err);
	return json_pack("{s:o, s:s}", "Volume", vol, "Err", "");
}

static json_t *h_list(struct sfs_plugin *p, const json_t *req,
		      unsigned int *status, char *err)
{
	json_t *vols = sfs_plugin_list(p);

	(void)req;
	if (!vols)
		return err_answer(status, 500, strcpy(err, "out of memory"));
	return json_pack("{s:o, s:s}", "Volumes", vols, "Err", "");
}

static json_t *h_capabilities(struct sfs_plugin *p, const json_t *req,
			      unsigned int *status, char *err)
{
	(void)p;
	(void)req;
	(void)status;
	(void)err;
	return json_pack("{s:{s:s}}", "Capabilities", "Scope", "local");
}

static const struct {
	const char *path;
	handler_fn fn;
} endpoints[] = {
    {"/VolumeDriver.Create", h_create},
    {"/VolumeDriver.Remove", h_remove},
    {"/VolumeDriver.Mount", h_mount},
    {"/VolumeDriver.Unmount", h_unmount},
    {"/VolumeDriver.Path", h_path},
    {"/VolumeDriver.Get", h_get},
    {"/VolumeDriver.List", h_list},
    {"/VolumeDriver.Capabilities", h_capabilities},
};

/* True when the body holds nothing but whitespace. */
static bool blank(const char *body, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!strchr(" \t\r\n", body[i]) || body[i] == '\0')
			return false;
	return true;
}

json_t *sfs_plugin_handle(struct sfs_plugin *p, const char *path,
			  const char *body, size_t len, unsigned int *status)
{
	char err[ERR_MAX] = "";
	handler_fn fn = NULL;
	json_error_t je;
	json_t *req, *ans;

	*status = 200;
	if (!strcmp(path, "/Plugin.Activate")) {
		/* The body is empty; nothing in it matters. */
		sfs_plugin_activate(p, err, sizeof(err));
		return json_pack("{s:[s]}", "Implements", "VolumeDriver");
	}
	for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++)
		if (!strcmp(path, endpoints[i].path))
			fn = endpoints[i].fn;
	if (!fn) {
		snprintf(err, sizeof(err), "unknown endpoint %.200s", path);
		return err_answer(status, 404, err);
	}
	/* List and Capabilities send "{}"; accept an empty body as well. */
	if (blank(body, len)) {
		req = json_object();
	} else {
		req = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
		if (!req)
			return bad_request(status, err,
					   "malformed JSON at line %d, column "
					   "%d: %s",
					   je.line, je.column, je.text);
	}
	if (!json_is_object(req)) {
		json_decref(req);
		return bad_request(status, err,
				   "the request body must be a JSON object");
	}
	ans = fn(p, req, status, err);
	json_decref(req);
	/* Get of an unknown name is routine (the engine asks every plugin). */
	if (*status != 200 && strcmp(path, "/VolumeDriver.Get"))
		sfs_log(LOG_NOTICE, "%s: %s", path, err);
	return ans;
}
