/* plugin_http.c - HTTP/1.1 for the plugin on its unix socket, served by
 * libmicrohttpd (one thread per connection, so a slow Mount never delays
 * a Get). Bodies over SFS_PLUGIN_MAX_BODY are refused with 413. */
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sfs_log.h"
#include "sfs_plugin.h"

#define CONNECTION_LIMIT 512

struct sfs_plugin_http {
	struct MHD_Daemon *d;
	struct sfs_plugin *p;
};

/* One request being received. */
struct request {
	char *body;
	size_t len;
	size_t cap;
	bool too_big;
};

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned int code,
				 char *text)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(text), text,
					    MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				SFS_PLUGIN_CONTENT_TYPE);
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

/* Sends ans (reference stolen); NULL means out of memory. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned int code,
				 json_t *ans)
{
	char *text = ans ? json_dumps(ans, JSON_COMPACT) : NULL;

	json_decref(ans);
	if (!text)
		return MHD_NO; /* closes the connection: nothing better */
	return send_text(c, code, text);
}

static enum MHD_Result send_err(struct MHD_Connection *c, unsigned int code,
				const char *msg)
{
	return send_json(c, code, json_pack("{s:s}", "Err", msg));
}

static int append(struct request *r, const char *data, size_t n)
{
	if (r->len + n > SFS_PLUGIN_MAX_BODY) {
		r->too_big = true;
		free(r->body);
		r->body = NULL;
		r->len = r->cap = 0;
		return 0;
	}
	if (r->len + n > r->cap) {
		size_t cap = r->cap ? r->cap : 1024;
		char *b;

		while (cap < r->len + n)
			cap *= 2;
		b = realloc(r->body, cap);
		if (!b)
			return -ENOMEM;
		r->body = b;
		r->cap = cap;
	}
	memcpy(r->body + r->len, data, n);
	r->len += n;
	return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *data,
				  size_t *size, void **con_cls)
{
	struct sfs_plugin_http *h = cls;
	struct request *r = *con_cls;
	unsigned long long cl;
	unsigned int status;
	json_t *ans;
	const char *hdr;
	char *end;

	(void)version;
	if (!r) {
		/* Headers are in; the body (if any) comes in later calls. */
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		*con_cls = r;
		if (strcmp(method, MHD_HTTP_METHOD_POST))
			return send_err(c, MHD_HTTP_METHOD_NOT_ALLOWED,
					"only POST is supported");
		hdr = MHD_lookup_connection_value(
		    c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (hdr) {
			errno = 0;
			cl = strtoull(hdr, &end, 10);
			if (errno == 0 && *end == '\0' &&
			    cl > SFS_PLUGIN_MAX_BODY)
				return send_err(c, 413,
						"request body over 1 MiB");
		}
		return MHD_YES;
	}
	if (*size) {
		int rc = r->too_big ? 0 : append(r, data, *size);

		*size = 0;
		return rc ? MHD_NO : MHD_YES;
	}
	if (r->too_big)
		return send_err(c, 413, "request body over 1 MiB");
	ans = sfs_plugin_handle(h->p, url, r->body ? r->body : "", r->len,
				&status);
	return send_json(c, status, ans);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode why)
{
	struct request *r = *con_cls;

	(void)cls;
	(void)c;
	(void)why;
	if (r) {
		free(r->body);
		free(r);
		*con_cls = NULL;
	}
}

static __attribute__((format(printf, 2, 0))) void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	if (n && msg[n - 1] == '\n')
		msg[n - 1] = '\0';
	sfs_log(LOG_WARNING, "http: %s", msg);
}

struct sfs_plugin_http *sfs_plugin_http_start(int fd, struct sfs_plugin *p,
					      char *err, size_t err_len)
{
	struct sfs_plugin_http *h = calloc(1, sizeof(*h));

	if (!h) {
		close(fd);
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	h->p = p;
	/* Port 0 and MHD_OPTION_LISTEN_SOCKET: serve our unix socket. */
	h->d = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
		MHD_USE_POLL | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, on_request, h,
	    /* First, or MHD logs the options before it to stderr itself. */
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
	    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED,
	    on_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned int)SFS_PLUGIN_IDLE_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONNECTION_LIMIT,
	    MHD_OPTION_END);
	if (!h->d) {
		/* Whether MHD closed it on failure depends on where it failed;
		 * still single-threaded here, so the check is not racy. */
		if (fcntl(fd, F_GETFD) != -1)
			close(fd);
		free(h);
		snprintf(err, err_len, "cannot start the HTTP server");
		return NULL;
	}
	return h;
}

void sfs_plugin_http_stop(struct sfs_plugin_http *h)
{
	if (!h)
		return;
	/* Also closes the listening socket, which MHD owns now. */
	MHD_stop_daemon(h->d);
	free(h);
}
